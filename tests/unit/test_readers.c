/* Unit tests for the raw log readers (src/data/reader*.c, infile.c) and
 * leap_ingest: exact parsed values per format, FILE:LINE messages for each
 * kind of bad row, skip-mode counters, gzip/zstd input identical to plain,
 * and ingest output identical for any thread count. Floats are compared
 * exactly (tolerance 0): every value used is exactly representable. */
#define _GNU_SOURCE
#include "harness.h"
#include "leap/ingest.h"

#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

static const char *tmpdir(void) {
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/leap_readers_XXXXXX");
        if (!mkdtemp(dir)) abort();
    }
    return dir;
}

static void write_file(const char *path, const char *text, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fwrite(text, 1, n, f);
    fclose(f);
}

/* Reads everything of r into rg (initialised here); returns the status. */
static int read_all(leap_reader *r, leap_rowgroup *rg, leap_err *err) {
    leap_rowgroup_init(rg, leap_reader_schema(r));
    return leap_reader_next(r, rg, 1000000, err);
}

static uint64_t h(const char *s) { return leap_cat_hash(s, strlen(s)); }

/* One Criteo row from its 40 fields joined by tabs. */
static const char *CRITEO =
    "1\t5\t-"
    "3\t\t7\t0\t1\t2\t3\t4\t5\t6\t7\t8\ta1\tb2\t\tc3\td4\te5\tf6\t07\t08\t09\t10\t11\t12\t13\t"
    "14\t15\t16\t17\t18\t19\t20\t21\t22\t23\t24\t\n"
    "0\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\r\n"
    "\n"
    "1\t123456789012\t+4\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t-"
    "1\t12345678901234567890\tx\tx\tx\tx\tx\tx\tx"
    "\tx\tx\tx\tx\tx\tx\tx\tx\tx\tx\tx\tx\tx\tx\tx\tx\tx\tzz";

static void check_criteo_rows(const leap_rowgroup *rg) {
    ASSERT_EQ_INT(rg->n_rows, 3);
    ASSERT_EQ_INT(rg->n_cols, 40);
    ASSERT_TRUE(rg->cols[0].f32[0] == 1.0f && rg->cols[0].f32[1] == 0.0f);
    ASSERT_TRUE(rg->cols[1].f32[0] == 5.0f);
    ASSERT_TRUE(rg->cols[2].f32[0] == -3.0f);
    ASSERT_TRUE(isnan(rg->cols[3].f32[0]));
    ASSERT_TRUE(rg->cols[13].f32[0] == 8.0f);
    ASSERT_EQ_U64(rg->cols[14].u64[0], h("a1"));
    ASSERT_EQ_U64(rg->cols[16].u64[0], 0);
    ASSERT_EQ_U64(rg->cols[39].u64[0], 0); /* trailing empty field */
    for (int c = 1; c < 14; c++)
        ASSERT_TRUE(isnan(rg->cols[c].f32[1]));
    for (int c = 14; c < 40; c++)
        ASSERT_EQ_U64(rg->cols[c].u64[1], 0);
    ASSERT_TRUE(rg->cols[1].f32[2] == (float)123456789012.0);
    ASSERT_TRUE(rg->cols[2].f32[2] == 4.0f);
    ASSERT_TRUE(rg->cols[13].f32[2] == -1.0f);
    /* a value that does not fit 64 bits is still a category: its text is hashed */
    ASSERT_EQ_U64(rg->cols[14].u64[2], h("12345678901234567890"));
    ASSERT_EQ_U64(rg->cols[39].u64[2], h("zz"));
}

TEST(criteo_values) {
    leap_reader_opts o = {.format = LEAP_FMT_CRITEO};
    leap_reader *r;
    leap_err err = {0};
    leap_rowgroup rg;
    ASSERT_OK(leap_reader_open_mem(&o, CRITEO, strlen(CRITEO), "mem.tsv", &r, &err));
    ASSERT_OK(read_all(r, &rg, &err));
    check_criteo_rows(&rg);
    ASSERT_EQ_U64(leap_reader_stats(r)->rows, 3);
    rg.n_rows = 0;
    ASSERT_OK(leap_reader_next(r, &rg, 10, &err));
    ASSERT_EQ_INT(rg.n_rows, 0); /* end of input */
    leap_rowgroup_free(&rg);
    leap_reader_close(r);
}

TEST(criteo_small_batches_keep_order) {
    leap_reader_opts o = {.format = LEAP_FMT_CRITEO};
    leap_reader *r;
    leap_err err = {0};
    leap_rowgroup rg;
    ASSERT_OK(leap_reader_open_mem(&o, CRITEO, strlen(CRITEO), "mem.tsv", &r, &err));
    leap_rowgroup_init(&rg, leap_reader_schema(r));
    float labels[3];
    size_t n = 0;
    for (;;) {
        ASSERT_OK(leap_reader_next(r, &rg, 1, &err));
        if (rg.n_rows == 0) break;
        ASSERT_EQ_INT(rg.n_rows, 1);
        labels[n++] = rg.cols[0].f32[0];
    }
    ASSERT_EQ_INT(n, 3);
    ASSERT_TRUE(labels[0] == 1 && labels[1] == 0 && labels[2] == 1);
    leap_rowgroup_free(&rg);
    leap_reader_close(r);
}

/* Opens text as criteo and returns the error message of the first read. */
static int criteo_error(const char *text, leap_bad_rows mode, char *msg, leap_read_stats *st) {
    leap_reader_opts o = {.format = LEAP_FMT_CRITEO, .bad_rows = mode};
    leap_reader *r;
    leap_err err = {0};
    leap_rowgroup rg;
    if (leap_reader_open_mem(&o, text, strlen(text), "bad.tsv", &r, &err)) abort();
    int rc = read_all(r, &rg, &err);
    snprintf(msg, 512, "%s", err.msg);
    if (st) *st = *leap_reader_stats(r);
    leap_rowgroup_free(&rg);
    leap_reader_close(r);
    return rc;
}

static char *criteo_row(char *buf, const char *label, const char *i3, int n_fields) {
    buf[0] = 0;
    strcat(buf, label);
    for (int f = 1; f < n_fields; f++) {
        strcat(buf, "\t");
        strcat(buf, f == 3 ? i3 : (f < 14 ? "1" : "ab"));
    }
    strcat(buf, "\n");
    return buf;
}

TEST(criteo_bad_rows_name_file_and_line) {
    char good[512], row[512], text[4096], msg[512];
    criteo_row(good, "0", "1", 40);
    snprintf(text, sizeof text, "%s%s", good, criteo_row(row, "1", "1", 12));
    ASSERT_EQ_INT(criteo_error(text, LEAP_BAD_ROWS_FAIL, msg, NULL), LEAP_EPARSE);
    ASSERT_TRUE(strcmp(msg, "bad.tsv:2: expected 40 tab-separated fields, found 12") == 0);
    snprintf(text, sizeof text, "%s\n%s%s", good, good, criteo_row(row, "1", "abc", 40));
    criteo_error(text, LEAP_BAD_ROWS_FAIL, msg, NULL);
    ASSERT_TRUE(strcmp(msg, "bad.tsv:4: column I3: 'abc' is not an integer") == 0);
    criteo_error(criteo_row(row, "1", "1.5", 40), LEAP_BAD_ROWS_FAIL, msg, NULL);
    ASSERT_TRUE(strcmp(msg, "bad.tsv:1: column I3: '1.5' is not an integer") == 0);
    criteo_error(criteo_row(row, "1", "-", 40), LEAP_BAD_ROWS_FAIL, msg, NULL);
    ASSERT_STR_CONTAINS(msg, "column I3: '-' is not an integer");
    criteo_error(criteo_row(row, "2", "1", 40), LEAP_BAD_ROWS_FAIL, msg, NULL);
    ASSERT_TRUE(strcmp(msg, "bad.tsv:1: column label: '2' is not 0 or 1") == 0);
    criteo_error(criteo_row(row, "1", "1", 41), LEAP_BAD_ROWS_FAIL, msg, NULL);
    ASSERT_TRUE(strcmp(msg, "bad.tsv:1: expected 40 tab-separated fields, found 41") == 0);
}

TEST(criteo_skip_counts_bad_rows) {
    char good[512], bad[512], text[32768], msg[512];
    criteo_row(good, "0", "7", 40);
    criteo_row(bad, "0", "x", 40);
    text[0] = 0;
    for (int i = 1; i <= 30; i++)
        strcat(text, i % 2 ? bad : good); /* bad: odd lines */
    leap_read_stats st;
    ASSERT_OK(criteo_error(text, LEAP_BAD_ROWS_SKIP, msg, &st));
    ASSERT_EQ_U64(st.rows, 15);
    ASSERT_EQ_U64(st.bad_rows, 15);
    ASSERT_EQ_INT(st.n_first_bad, LEAP_MAX_BAD_LINES);
    for (int i = 0; i < LEAP_MAX_BAD_LINES; i++)
        ASSERT_EQ_U64(st.first_bad_lines[i], 2 * i + 1);
}

/* ---- csv ---------------------------------------------------------------------- */
static const char *SCHEMA = "delimiter: \",\"\n"
                            "header: true\n"
                            "columns:\n"
                            "  - {name: click, type: label}\n"
                            "  - {name: price, type: numeric}\n"
                            "  - {name: site, type: categorical}\n"
                            "  - name: tags\n"
                            "    type: multi_categorical\n"
                            "    separator: \"|\"\n"
                            "    weighted: true\n"
                            "  - {name: ts, type: timestamp, format: \"%Y-%m-%d %H:%M:%S\"}\n"
                            "  - {name: junk, type: ignore}\n"
                            "  - {name: w, type: weight}\n";

static int open_csv(const char *schema, const char *text, leap_bad_rows mode, leap_reader **r,
                    leap_err *err) {
    char path[256];
    snprintf(path, sizeof path, "%s/schema.yaml", tmpdir());
    write_file(path, schema, strlen(schema));
    leap_reader_opts o = {.format = LEAP_FMT_CSV, .schema_path = path, .bad_rows = mode};
    return leap_reader_open_mem(&o, text, strlen(text), "log.csv", r, err);
}

TEST(csv_values_quotes_weights_timestamps) {
    /* header order differs from the schema: columns are matched by name */
    const char *text = "site,junk,click,price,tags,ts,w\n"
                       "\"a,b\",zzz,1,2.5,x:0.5|y:2|z,2024-01-02 03:04:05,1\n"
                       "\"say \"\"hi\"\"\",,0,,,,\n"
                       "9223372036854775808,q,true,-1e3,\"p:1.5\", 1970-01-01 00:00:00 ,0.25\r\n";
    leap_reader *r;
    leap_err err = {0};
    leap_rowgroup rg;
    ASSERT_OK(open_csv(SCHEMA, text, LEAP_BAD_ROWS_FAIL, &r, &err));
    const leap_schema *s = leap_reader_schema(r);
    ASSERT_EQ_INT(s->n_cols, 6); /* junk is not stored */
    ASSERT_TRUE(strcmp(s->cols[0].name, "site") == 0 && s->cols[0].type == LEAP_COL_CATEGORICAL);
    int click = leap_schema_find(s, "click"), price = leap_schema_find(s, "price");
    int site = leap_schema_find(s, "site"), tags = leap_schema_find(s, "tags");
    int ts = leap_schema_find(s, "ts"), w = leap_schema_find(s, "w");
    ASSERT_TRUE(click >= 0 && price >= 0 && tags >= 0 && ts >= 0 && w >= 0);
    ASSERT_TRUE(s->cols[tags].weighted == 1);
    ASSERT_OK(read_all(r, &rg, &err));
    ASSERT_EQ_INT(rg.n_rows, 3);
    ASSERT_TRUE(rg.cols[click].f32[0] == 1 && rg.cols[click].f32[1] == 0 &&
                rg.cols[click].f32[2] == 1);
    ASSERT_TRUE(rg.cols[price].f32[0] == 2.5f);
    ASSERT_TRUE(isnan(rg.cols[price].f32[1]));
    ASSERT_TRUE(rg.cols[price].f32[2] == -1000.0f);
    ASSERT_EQ_U64(rg.cols[site].u64[0], h("a,b"));
    ASSERT_EQ_U64(rg.cols[site].u64[1], h("say \"hi\""));
    ASSERT_EQ_U64(rg.cols[site].u64[2], h("9223372036854775808"));
    const leap_column *t = &rg.cols[tags];
    ASSERT_EQ_INT(t->offsets[0], 0);
    ASSERT_EQ_INT(t->offsets[1], 3);
    ASSERT_EQ_INT(t->offsets[2], 3);
    ASSERT_EQ_INT(t->offsets[3], 4);
    ASSERT_EQ_U64(t->u64[0], h("x"));
    ASSERT_EQ_U64(t->u64[1], h("y"));
    ASSERT_EQ_U64(t->u64[2], h("z"));
    ASSERT_EQ_U64(t->u64[3], h("p"));
    ASSERT_TRUE(t->vw[0] == 0.5f && t->vw[1] == 2.0f && t->vw[2] == 1.0f && t->vw[3] == 1.5f);
    ASSERT_EQ_INT(rg.cols[ts].i64[0], 1704164645); /* 2024-01-02 03:04:05 UTC */
    ASSERT_TRUE(rg.cols[ts].i64[1] == INT64_MIN);
    ASSERT_EQ_INT(rg.cols[ts].i64[2], 0);
    ASSERT_TRUE(rg.cols[w].f32[2] == 0.25f);
    leap_rowgroup_free(&rg);
    leap_reader_close(r);
}

TEST(csv_positional_tab_unix) {
    const char *schema =
        "delimiter: \"\\t\"\nheader: false\ncolumns:\n"
        "  - {name: y, type: label}\n  - {name: t, type: timestamp, format: unix}\n"
        "  - {name: c, type: categorical}\n";
    leap_reader *r;
    leap_err err = {0};
    leap_rowgroup rg;
    ASSERT_OK(
        open_csv(schema, "0\t-5\thello world\n1\t1700000000\t\n", LEAP_BAD_ROWS_FAIL, &r, &err));
    ASSERT_OK(read_all(r, &rg, &err));
    ASSERT_EQ_INT(rg.n_rows, 2);
    ASSERT_EQ_INT(rg.cols[1].i64[0], -5);
    ASSERT_EQ_INT(rg.cols[1].i64[1], 1700000000);
    ASSERT_EQ_U64(rg.cols[2].u64[0], h("hello world"));
    ASSERT_EQ_U64(rg.cols[2].u64[1], 0);
    leap_rowgroup_free(&rg);
    leap_reader_close(r);
}

TEST(csv_row_errors) {
    const char *schema = "columns:\n  - {name: y, type: label}\n  - {name: price, type: numeric}\n"
                         "  - {name: ts, type: timestamp, format: \"%Y-%m-%d\"}\n";
    struct {
        const char *text, *msg;
    } cases[] = {
        {"y,price,ts\n1,2,2020-01-01\n0,x1,2020-01-01\n",
         "log.csv:3: column price: 'x1' is not a number"},
        {"y,price,ts\n1,2\n", "log.csv:2: expected 3 fields, found 2"},
        {"y,price,ts\n5,2,2020-01-01\n", "log.csv:2: column y: '5' is not 0 or 1 (or true/false)"},
        {"y,price,ts\n1,2,01/02/2020\n",
         "log.csv:2: column ts: '01/02/2020' does not match format '%Y-%m-%d'"},
        {"y,price,ts\n1,\"2,2020-01-01\n", "log.csv:2: field 2: unterminated quoted field"},
        {"y,price,ts\n1,\"2\"x,2020-01-01\n",
         "log.csv:2: field 2: unexpected character after closing quote"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        leap_reader *r;
        leap_err err = {0};
        leap_rowgroup rg;
        ASSERT_OK(open_csv(schema, cases[i].text, LEAP_BAD_ROWS_FAIL, &r, &err));
        ASSERT_EQ_INT(read_all(r, &rg, &err), LEAP_EPARSE);
        if (strcmp(err.msg, cases[i].msg) != 0) TH_FAIL("case %zu: got '%s'", i, err.msg);
        leap_rowgroup_free(&rg);
        leap_reader_close(r);
    }
}

TEST(csv_schema_errors) {
    struct {
        const char *schema, *text, *msg;
    } cases[] = {
        {"header: true\ncolumns:\n  - name: a\n    type: label\n  - name: b\n    typ: numeric\n",
         "a,b\n", "schema.yaml:6:5: unknown key 'typ'"},
        {"columns:\n  - name: a\n    type: nume\n", "a\n",
         "schema.yaml:3:5: column 'a': unknown type 'nume'"},
        {"columns:\n  - {name: a, type: label}\n", "a,b\n",
         "log.csv:1: header column 'b' is not in the schema"},
        {"columns:\n  - {name: a, type: label}\n  - {name: c, type: numeric}\n", "a\n",
         "log.csv:1: schema column 'c' is not in the header"},
        {"delimiter: ab\ncolumns:\n  - {name: a, type: label}\n", "a\n",
         "schema.yaml:1:1: delimiter must be one character"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        leap_reader *r = NULL;
        leap_err err = {0};
        ASSERT_TRUE(open_csv(cases[i].schema, cases[i].text, LEAP_BAD_ROWS_FAIL, &r, &err) != 0);
        if (!strstr(err.msg, cases[i].msg)) TH_FAIL("case %zu: got '%s'", i, err.msg);
    }
}

TEST(csv_default_type) {
    const char *schema = "default_type: categorical\ncolumns:\n  - {name: y, type: label}\n";
    leap_reader *r;
    leap_err err = {0};
    leap_rowgroup rg;
    ASSERT_OK(open_csv(schema, "a,y,b\nu,1,v\n", LEAP_BAD_ROWS_FAIL, &r, &err));
    const leap_schema *s = leap_reader_schema(r);
    ASSERT_EQ_INT(s->n_cols, 3);
    ASSERT_TRUE(s->cols[2].type == LEAP_COL_CATEGORICAL && strcmp(s->cols[2].name, "b") == 0);
    ASSERT_OK(read_all(r, &rg, &err));
    ASSERT_EQ_U64(rg.cols[2].u64[0], h("v"));
    leap_rowgroup_free(&rg);
    leap_reader_close(r);
}

/* ---- libsvm ------------------------------------------------------------------- */
TEST(libsvm_values) {
    const char *text = "+1 qid:3 1:0.5 7:2 # comment\n-1\n0 3:-1.25\t10:1e2\n1 5:1\n";
    leap_reader_opts o = {.format = LEAP_FMT_LIBSVM};
    leap_reader *r;
    leap_err err = {0};
    leap_rowgroup rg;
    ASSERT_OK(leap_reader_open_mem(&o, text, strlen(text), "d.svm", &r, &err));
    ASSERT_OK(read_all(r, &rg, &err));
    ASSERT_EQ_INT(rg.n_rows, 4);
    ASSERT_TRUE(rg.cols[0].f32[0] == 1 && rg.cols[0].f32[1] == 0 && rg.cols[0].f32[2] == 0 &&
                rg.cols[0].f32[3] == 1);
    const leap_column *f = &rg.cols[1];
    ASSERT_EQ_INT(f->offsets[1], 2);
    ASSERT_EQ_INT(f->offsets[2], 2);
    ASSERT_EQ_INT(f->offsets[3], 4);
    ASSERT_EQ_INT(f->offsets[4], 5);
    ASSERT_EQ_U64(f->u64[0], h("1"));
    ASSERT_EQ_U64(f->u64[1], h("7"));
    ASSERT_EQ_U64(f->u64[3], h("10"));
    ASSERT_TRUE(f->vw[0] == 0.5f && f->vw[1] == 2.0f && f->vw[2] == -1.25f && f->vw[3] == 100.0f);
    leap_rowgroup_free(&rg);
    leap_reader_close(r);
    const char *bad[][2] = {{"2 1:1\n", "x.svm:1: label '2' is not 0/1 or -1/+1"},
                            {"1 1:1\n1 abc\n", "x.svm:2: 'abc' is not idx:val"},
                            {"1 4:zz\n", "x.svm:1: '4:zz': value is not a number"}};
    for (size_t i = 0; i < 3; i++) {
        ASSERT_OK(leap_reader_open_mem(&o, bad[i][0], strlen(bad[i][0]), "x.svm", &r, &err));
        ASSERT_EQ_INT(read_all(r, &rg, &err), LEAP_EPARSE);
        if (strcmp(err.msg, bad[i][1]) != 0) TH_FAIL("case %zu: got '%s'", i, err.msg);
        leap_rowgroup_free(&rg);
        leap_reader_close(r);
    }
}

/* ---- compression -------------------------------------------------------------- */
TEST(gzip_and_zstd_read_like_plain) {
    char plain[256], gz[256], zst[256], lied[256];
    snprintf(plain, sizeof plain, "%s/c.tsv", tmpdir());
    snprintf(gz, sizeof gz, "%s/c.tsv.gz", tmpdir());
    snprintf(zst, sizeof zst, "%s/c.tsv.zst", tmpdir());
    snprintf(lied, sizeof lied, "%s/plain_named.gz", tmpdir());
    size_t n = strlen(CRITEO);
    write_file(plain, CRITEO, n);
    write_file(lied, CRITEO, n);
    gzFile g = gzopen(gz, "wb");
    ASSERT_TRUE(g != NULL);
    /* two members back to back, as `cat a.gz b.gz` makes */
    gzwrite(g, CRITEO, 100);
    gzclose(g);
    g = gzopen(gz, "ab");
    gzwrite(g, CRITEO + 100, (unsigned)(n - 100));
    gzclose(g);
    size_t cap = ZSTD_compressBound(n);
    char *z = malloc(cap);
    size_t zn = ZSTD_compress(z, cap, CRITEO, n, 3);
    ASSERT_TRUE(!ZSTD_isError(zn));
    write_file(zst, z, zn);
    free(z);
    const char *paths[] = {plain, gz, zst};
    leap_reader_opts o = {.format = LEAP_FMT_CRITEO};
    for (int i = 0; i < 3; i++) {
        leap_reader *r;
        leap_err err = {0};
        leap_rowgroup rg;
        ASSERT_OK(leap_reader_open(&o, paths[i], &r, &err));
        ASSERT_OK(read_all(r, &rg, &err));
        check_criteo_rows(&rg);
        leap_rowgroup_free(&rg);
        leap_reader_close(r);
    }
    /* a name that promises gzip over plain content is refused */
    leap_reader *r;
    leap_err err = {0};
    ASSERT_TRUE(leap_reader_open(&o, lied, &r, &err) != 0);
    ASSERT_STR_CONTAINS(err.msg, "not gzip");
    /* truncated gzip is an error, not a short read */
    FILE *f = fopen(gz, "rb");
    char buf[4096];
    size_t gn = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_file(gz, buf, gn - 12);
    leap_rowgroup rg;
    ASSERT_OK(leap_reader_open(&o, gz, &r, &err));
    ASSERT_TRUE(read_all(r, &rg, &err) != 0);
    ASSERT_STR_CONTAINS(err.msg, "gzip");
    leap_rowgroup_free(&rg);
    leap_reader_close(r);
}

/* ---- ingest -------------------------------------------------------------------- */
static void make_criteo_file(const char *path, int rows, int bad_line) {
    FILE *f = fopen(path, "w");
    leap_rng rng = {7};
    for (int i = 1; i <= rows; i++) {
        fprintf(f, "%d", (int)(leap_rng_next(&rng) % 2));
        for (int c = 0; c < 13; c++) {
            uint64_t v = leap_rng_next(&rng) % 50;
            if (v < 10)
                fprintf(f, "\t");
            else if (i == bad_line && c == 4)
                fprintf(f, "\tq%d", (int)v);
            else
                fprintf(f, "\t%d", (int)v - 20);
        }
        for (int c = 0; c < 26; c++) {
            uint64_t v = leap_rng_next(&rng) % 300;
            if (v < 20)
                fprintf(f, "\t");
            else
                fprintf(f, "\t%08x", (unsigned)(v * 2654435761u));
        }
        fprintf(f, "\n");
    }
    fclose(f);
}

static int ingest(const char *in, const char *out, int threads, leap_bad_rows mode,
                  leap_ingest_report *rep, leap_err *err) {
    const char *inputs[2] = {in, in};
    leap_ingest_opts o = {.reader = {.format = LEAP_FMT_CRITEO, .bad_rows = mode, .keep_dict = 1},
                          .inputs = inputs,
                          .n_inputs = 2,
                          .output = out,
                          .threads = threads,
                          .row_group_rows = 300};
    return leap_ingest(&o, rep, err);
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*n + 1);
    if (fread(b, 1, *n, f) != *n) abort();
    fclose(f);
    return b;
}

TEST(ingest_same_output_for_any_thread_count) {
    char in[256], out1[256], out3[256];
    snprintf(in, sizeof in, "%s/g.tsv", tmpdir());
    snprintf(out1, sizeof out1, "%s/g1.lds", tmpdir());
    snprintf(out3, sizeof out3, "%s/g3.lds", tmpdir());
    make_criteo_file(in, 2000, 0);
    leap_ingest_report rep1, rep3;
    leap_err err = {0};
    ASSERT_OK(ingest(in, out1, 1, LEAP_BAD_ROWS_FAIL, &rep1, &err));
    ASSERT_OK(ingest(in, out3, 3, LEAP_BAD_ROWS_FAIL, &rep3, &err));
    ASSERT_EQ_U64(rep1.stats.rows, 4000);
    ASSERT_EQ_INT(rep1.row_groups, 14); /* 2000 = 6 x 300 + 200, per file */
    size_t n1, n3;
    char *b1 = slurp(out1, &n1), *b3 = slurp(out3, &n3);
    ASSERT_TRUE(b1 && b3 && n1 == n3 && memcmp(b1, b3, n1) == 0);
    free(b1);
    free(b3);
    /* the dataset holds what the reader reads */
    leap_dataset *ds;
    ASSERT_OK(leap_dataset_open(out3, &ds, &err));
    ASSERT_EQ_U64(leap_dataset_num_rows(ds), 4000);
    leap_reader_opts o = {.format = LEAP_FMT_CRITEO};
    leap_reader *r;
    leap_rowgroup ref, rg;
    ASSERT_OK(leap_reader_open(&o, in, &r, &err));
    ASSERT_OK(read_all(r, &ref, &err));
    leap_rowgroup_init(&rg, leap_dataset_schema(ds));
    size_t g = 8; /* groups 0..6 are the first file; 8 = its copy's rows 300..599 */
    ASSERT_OK(leap_dataset_read_row_group(ds, g, &rg, &err));
    ASSERT_EQ_INT(rg.n_rows, 300);
    for (size_t i = 0; i < 300; i++) {
        for (int c = 0; c < 14; c++) {
            float a = rg.cols[c].f32[i], b = ref.cols[c].f32[300 + i];
            if (!(a == b || (isnan(a) && isnan(b))))
                TH_FAIL("row %zu col %d: %g vs %g", i, c, a, b);
        }
        for (int c = 14; c < 40; c++)
            ASSERT_EQ_U64(rg.cols[c].u64[i], ref.cols[c].u64[300 + i]);
    }
    /* --dict: raw text of a category is kept */
    uint64_t hv = rg.cols[20].u64[0];
    const char *s;
    size_t sl;
    if (hv) {
        ASSERT_OK(leap_dataset_dict_lookup(ds, 20, hv, &s, &sl));
        ASSERT_EQ_U64(leap_cat_hash(s, sl), hv);
    }
    leap_rowgroup_free(&rg);
    leap_rowgroup_free(&ref);
    leap_reader_close(r);
    leap_dataset_close(ds);
}

TEST(ingest_bad_row_fail_and_skip) {
    char in[256], out[256];
    snprintf(in, sizeof in, "%s/b.tsv", tmpdir());
    snprintf(out, sizeof out, "%s/b.lds", tmpdir());
    make_criteo_file(in, 1000, 777);
    unlink(out);
    leap_ingest_report rep;
    leap_err err = {0};
    for (int th = 1; th <= 3; th += 2) {
        ASSERT_EQ_INT(ingest(in, out, th, LEAP_BAD_ROWS_FAIL, &rep, &err), LEAP_EPARSE);
        char want[600];
        snprintf(want, sizeof want, "%s:777: column I5: 'q", in);
        ASSERT_STR_CONTAINS(err.msg, want);
        ASSERT_TRUE(access(out, F_OK) != 0);
    }
    ASSERT_OK(ingest(in, out, 2, LEAP_BAD_ROWS_SKIP, &rep, &err));
    ASSERT_EQ_U64(rep.stats.rows, 1998);
    ASSERT_EQ_U64(rep.stats.bad_rows, 2);
    ASSERT_EQ_INT(rep.stats.n_first_bad, 2);
    ASSERT_EQ_U64(rep.stats.first_bad_lines[0], 777);
    ASSERT_EQ_U64(rep.stats.first_bad_lines[1], 777); /* same line of the second input */
    unlink(out);
}
