/* Unit tests for src/data/dataset.c: round trips of every column type, the
 * parallel encode path, metadata and dictionaries; refusal of corrupt,
 * truncated and future-version files; a bounded in-process fuzz of the footer
 * parser (mutations with a recomputed footer checksum, so the index checks are
 * what stands between a bad file and an over-read). Files go to a temp dir. */
#include "harness.h"
#include "leap/dataset.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- fixture --------------------------------------------------------------- */
enum { C_LABEL, C_NUM, C_CAT, C_MULTI, C_WMULTI, C_TS, C_W, N_COLS };

static leap_column_def all_cols[N_COLS] = {
    {"label", LEAP_COL_LABEL, 0},
    {"num", LEAP_COL_NUMERIC, 0},
    {"cat", LEAP_COL_CATEGORICAL, 0},
    {"tags", LEAP_COL_MULTI_CATEGORICAL, 0},
    {"feats", LEAP_COL_MULTI_CATEGORICAL, 1},
    {"ts", LEAP_COL_TIMESTAMP, 0},
    {"w", LEAP_COL_WEIGHT, 0},
};
static const leap_schema all_schema = {N_COLS, all_cols};

static char tmpdir[64];

static const char *tmp_path(const char *name) {
    static char buf[4][256];
    static int k;
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/leap_ds_XXXXXX");
        if (!mkdtemp(tmpdir)) abort();
    }
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static uint64_t cat_of(uint64_t row) {
    if (row % 7 == 3) return 0; /* missing */
    char s[32];
    int n = snprintf(s, sizeof s, "v%llu", (unsigned long long)(row % 50));
    return leap_cat_hash(s, (size_t)n);
}

/* Fills rg with n rows starting at global row `first`: every type, with
 * missing values (NaN, 0, INT64_MIN) and empty multi lists sprinkled in. */
static void fill(leap_rowgroup *rg, size_t first, size_t n) {
    size_t nv = 0;
    for (size_t i = 0; i < n; i++)
        nv += (first + i) % 4;
    if (leap_rowgroup_reserve(rg, n, nv)) abort();
    uint32_t o1 = 0, o2 = 0;
    rg->cols[C_MULTI].offsets[0] = rg->cols[C_WMULTI].offsets[0] = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = first + i;
        rg->cols[C_LABEL].f32[i] = (float)(r % 3 == 0);
        rg->cols[C_NUM].f32[i] = r % 5 == 1 ? NAN : (float)r * 0.5f - 100.0f;
        rg->cols[C_CAT].u64[i] = cat_of(r);
        rg->cols[C_TS].i64[i] = r % 11 == 2 ? INT64_MIN : (int64_t)(1600000000 + r * 37);
        rg->cols[C_W].f32[i] = 1.0f + (float)(r % 4);
        for (uint64_t k = 0; k < r % 4; k++) {
            rg->cols[C_MULTI].u64[o1++] = leap_mix64(r, k) | 1;
            rg->cols[C_WMULTI].u64[o2] = leap_mix64(k, r) | 1;
            rg->cols[C_WMULTI].vw[o2++] = (float)k + 0.25f;
        }
        rg->cols[C_MULTI].offsets[i + 1] = o1;
        rg->cols[C_WMULTI].offsets[i + 1] = o2;
    }
    rg->n_rows = n;
}

static const size_t group_rows[] = {1000, 1, 777};
#define N_GROUPS 3

static int write_fixture(const char *path, int level) {
    leap_err err = {0};
    leap_dataset_writer *w;
    leap_dataset_write_opts wo = {.zstd_level = level};
    if (leap_dataset_writer_create(path, &all_schema, &wo, &w, &err)) return 1;
    leap_rowgroup rg;
    leap_rowgroup_init(&rg, &all_schema);
    size_t first = 0;
    int rc = 0;
    for (int g = 0; g < N_GROUPS && !rc; g++) {
        fill(&rg, first, group_rows[g]);
        rc = leap_dataset_writer_add_row_group(w, &rg, &err);
        first += group_rows[g];
    }
    leap_rowgroup_free(&rg);
    if (rc) {
        leap_dataset_writer_abort(w);
        return rc;
    }
    leap_dataset_writer_set_meta(w, "source", "unit test");
    leap_dataset_writer_set_meta(w, "rows_hint", "old");
    leap_dataset_writer_set_meta(w, "rows_hint", "1778"); /* replaces */
    for (int v = 0; v < 50; v++) {
        char s[32];
        int n = snprintf(s, sizeof s, "v%d", v);
        leap_dataset_writer_add_dict(w, C_CAT, leap_cat_hash(s, (size_t)n), s, (size_t)n);
        leap_dataset_writer_add_dict(w, C_CAT, leap_cat_hash(s, (size_t)n), s, (size_t)n);
    }
    leap_dataset_writer_add_dict(w, C_MULTI, 42, "", 0);
    return leap_dataset_writer_commit(w, &err);
}

static long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static unsigned char *slurp(const char *path, long *n) {
    *n = file_size(path);
    FILE *f = fopen(path, "rb");
    if (!f || *n < 0) abort();
    unsigned char *b = malloc((size_t)*n + 1);
    if (fread(b, 1, (size_t)*n, f) != (size_t)*n) abort();
    fclose(f);
    return b;
}

static void spit(const char *path, const unsigned char *b, long n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, (size_t)n, f) != (size_t)n) abort();
    fclose(f);
}

static uint64_t get64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Compares every value of row group rg (holding rows [first, first + n)) with fill(). */
static int check_group(const leap_rowgroup *rg, size_t first, size_t n) {
    leap_rowgroup want;
    leap_rowgroup_init(&want, &all_schema);
    fill(&want, first, n);
    int bad = rg->n_rows != n;
    for (size_t i = 0; i < n && !bad; i++) {
        float a = rg->cols[C_NUM].f32[i], b = want.cols[C_NUM].f32[i];
        bad |= isnan(b) ? !isnan(a) : a != b;
        bad |= rg->cols[C_LABEL].f32[i] != want.cols[C_LABEL].f32[i];
        bad |= rg->cols[C_CAT].u64[i] != want.cols[C_CAT].u64[i];
        bad |= rg->cols[C_TS].i64[i] != want.cols[C_TS].i64[i];
        bad |= rg->cols[C_W].f32[i] != want.cols[C_W].f32[i];
    }
    for (int c = C_MULTI; c <= C_WMULTI && !bad; c++) {
        const leap_column *x = &rg->cols[c], *y = &want.cols[c];
        bad |= memcmp(x->offsets, y->offsets, (n + 1) * 4) != 0;
        if (!bad) bad |= memcmp(x->u64, y->u64, y->offsets[n] * 8) != 0;
        if (!bad && c == C_WMULTI) bad |= memcmp(x->vw, y->vw, y->offsets[n] * 4) != 0;
    }
    leap_rowgroup_free(&want);
    return bad;
}

/* ---- tests ----------------------------------------------------------------- */
TEST(col_type_names_round_trip) {
    for (int t = 0; t < LEAP_COL_TYPE_COUNT; t++)
        ASSERT_EQ_INT(leap_col_type_from_name(leap_col_type_name((leap_col_type)t)), t);
    ASSERT_TRUE(strcmp(leap_col_type_name(LEAP_COL_MULTI_CATEGORICAL), "multi_categorical") == 0);
    ASSERT_EQ_INT(leap_col_type_from_name("float"), -1);
    ASSERT_TRUE(strcmp(leap_col_type_name((leap_col_type)99), "unknown") == 0);
}

TEST(schema_criteo_layout) {
    leap_schema s;
    leap_column_def cols[40];
    leap_schema_criteo(&s, cols);
    ASSERT_EQ_INT(s.n_cols, 40);
    ASSERT_EQ_INT(leap_schema_find(&s, "label"), 0);
    ASSERT_EQ_INT(leap_schema_find(&s, "I1"), 1);
    ASSERT_EQ_INT(leap_schema_find(&s, "I13"), 13);
    ASSERT_EQ_INT(leap_schema_find(&s, "C1"), 14);
    ASSERT_EQ_INT(leap_schema_find(&s, "C26"), 39);
    ASSERT_EQ_INT(leap_schema_find(&s, "C27"), -1);
    ASSERT_EQ_INT(s.cols[13].type, LEAP_COL_NUMERIC);
    ASSERT_EQ_INT(s.cols[39].type, LEAP_COL_CATEGORICAL);
    ASSERT_EQ_INT(leap_schema_find_type(&s, LEAP_COL_CATEGORICAL), 14);
    ASSERT_EQ_INT(leap_schema_find_type(&s, LEAP_COL_WEIGHT), -1);
}

TEST(rowgroup_reserve_keeps_contents) {
    leap_rowgroup rg;
    ASSERT_OK(leap_rowgroup_init(&rg, &all_schema));
    ASSERT_OK(leap_rowgroup_reserve(&rg, 4, 2));
    rg.cols[C_NUM].f32[3] = 7.5f;
    rg.cols[C_WMULTI].vw[1] = 2.5f;
    ASSERT_OK(leap_rowgroup_reserve(&rg, 100000, 300000));
    ASSERT_TRUE(rg.cols[C_NUM].f32[3] == 7.5f);
    ASSERT_TRUE(rg.cols[C_WMULTI].vw[1] == 2.5f);
    ASSERT_TRUE(rg.cols[C_NUM].cap >= 100000 && rg.cols[C_MULTI].vcap >= 300000);
    ASSERT_TRUE(rg.cols[C_NUM].u64 == NULL && rg.cols[C_CAT].f32 == NULL);
    leap_rowgroup_free(&rg);
}

TEST(round_trip_every_type) {
    const char *path = tmp_path("rt.lds");
    ASSERT_OK(write_fixture(path, 0));
    leap_err err = {0};
    leap_dataset *ds;
    ASSERT_OK(leap_dataset_open(path, &ds, &err));
    const leap_schema *s = leap_dataset_schema(ds);
    ASSERT_EQ_INT(s->n_cols, N_COLS);
    for (int c = 0; c < N_COLS; c++) {
        ASSERT_TRUE(strcmp(s->cols[c].name, all_cols[c].name) == 0);
        ASSERT_EQ_INT(s->cols[c].type, all_cols[c].type);
        ASSERT_EQ_INT(s->cols[c].weighted, all_cols[c].weighted);
    }
    ASSERT_EQ_U64(leap_dataset_num_rows(ds), 1778);
    ASSERT_EQ_INT(leap_dataset_num_row_groups(ds), N_GROUPS);
    ASSERT_EQ_INT(leap_dataset_row_group_rows(ds, 1), 1);
    ASSERT_EQ_INT(leap_dataset_row_group_rows(ds, 3), 0);
    ASSERT_TRUE(strcmp(leap_dataset_path(ds), path) == 0);
    /* metadata: replaced value, order of first insertion */
    ASSERT_EQ_INT(leap_dataset_meta_count(ds), 2);
    ASSERT_TRUE(strcmp(leap_dataset_meta_get(ds, "source"), "unit test") == 0);
    ASSERT_TRUE(strcmp(leap_dataset_meta_get(ds, "rows_hint"), "1778") == 0);
    ASSERT_TRUE(leap_dataset_meta_get(ds, "nope") == NULL);
    const char *k, *v;
    leap_dataset_meta_at(ds, 1, &k, &v);
    ASSERT_TRUE(strcmp(k, "rows_hint") == 0 && strcmp(v, "1778") == 0);
    /* values, reading groups out of order into one reused buffer */
    leap_rowgroup rg;
    ASSERT_OK(leap_rowgroup_init(&rg, s));
    size_t starts[N_GROUPS] = {0, 1000, 1001};
    for (int pass = 0; pass < 2; pass++)
        for (int gi = N_GROUPS - 1; gi >= 0; gi--) {
            ASSERT_OK(leap_dataset_read_row_group(ds, (size_t)gi, &rg, &err));
            ASSERT_EQ_INT(check_group(&rg, starts[gi], group_rows[gi]), 0);
        }
    ASSERT_EQ_INT(leap_dataset_read_row_group(ds, 3, &rg, &err), LEAP_EINVAL);
    leap_rowgroup_free(&rg);
    /* dictionaries: deduplicated, found by hash; unknown hash and column say so */
    const char *str;
    size_t len;
    for (int i = 0; i < 50; i++) {
        char want[32];
        int n = snprintf(want, sizeof want, "v%d", i);
        ASSERT_OK(leap_dataset_dict_lookup(ds, C_CAT, leap_cat_hash(want, (size_t)n), &str, &len));
        ASSERT_EQ_INT(len, n);
        ASSERT_TRUE(memcmp(str, want, len) == 0);
    }
    ASSERT_OK(leap_dataset_dict_lookup(ds, C_MULTI, 42, &str, &len));
    ASSERT_EQ_INT(len, 0);
    ASSERT_EQ_INT(leap_dataset_dict_lookup(ds, C_CAT, 12345, &str, &len), -1);
    ASSERT_EQ_INT(leap_dataset_dict_lookup(ds, C_NUM, 42, &str, &len), -1);
    ASSERT_EQ_INT(leap_dataset_dict_lookup(ds, 99, 42, &str, &len), -1);
    uint64_t fp = leap_dataset_fingerprint(ds);
    leap_dataset_close(ds);
    /* same content -> same fingerprint; another level -> other chunks -> other fingerprint */
    const char *p2 = tmp_path("rt2.lds"), *p3 = tmp_path("rt3.lds");
    ASSERT_OK(write_fixture(p2, 0));
    ASSERT_OK(write_fixture(p3, 9));
    ASSERT_OK(leap_dataset_open(p2, &ds, &err));
    ASSERT_EQ_U64(leap_dataset_fingerprint(ds), fp);
    leap_dataset_close(ds);
    ASSERT_OK(leap_dataset_open(p3, &ds, &err));
    ASSERT_OK(leap_rowgroup_init(&rg, leap_dataset_schema(ds)));
    ASSERT_OK(leap_dataset_read_row_group(ds, 0, &rg, &err));
    ASSERT_EQ_INT(check_group(&rg, 0, 1000), 0);
    leap_rowgroup_free(&rg);
    ASSERT_TRUE(leap_dataset_fingerprint(ds) != fp);
    leap_dataset_close(ds);
    unlink(path);
    unlink(p2);
    unlink(p3);
}

TEST(zero_row_dataset) {
    const char *path = tmp_path("empty.lds");
    leap_err err = {0};
    leap_dataset_writer *w;
    ASSERT_OK(leap_dataset_writer_create(path, &all_schema, NULL, &w, &err));
    leap_rowgroup rg;
    ASSERT_OK(leap_rowgroup_init(&rg, &all_schema));
    ASSERT_OK(leap_dataset_writer_add_row_group(w, &rg, &err)); /* 0 rows: not stored */
    leap_rowgroup_free(&rg);
    ASSERT_OK(leap_dataset_writer_commit(w, &err));
    leap_dataset *ds;
    ASSERT_OK(leap_dataset_open(path, &ds, &err));
    ASSERT_EQ_U64(leap_dataset_num_rows(ds), 0);
    ASSERT_EQ_INT(leap_dataset_num_row_groups(ds), 0);
    ASSERT_EQ_INT(leap_dataset_schema(ds)->n_cols, N_COLS);
    ASSERT_EQ_INT(leap_dataset_meta_count(ds), 0);
    leap_dataset_close(ds);
    unlink(path);
}

typedef struct enc_ctx {
    const leap_dataset_writer *w;
    leap_encoded_rg *enc;
    int failed;
} enc_ctx;

static int enc_task(void *vctx, size_t task, int thread) {
    enc_ctx *x = vctx;
    leap_rowgroup rg;
    leap_err err = {0};
    leap_rowgroup_init(&rg, &all_schema);
    fill(&rg, task * 500, 500);
    int rc = leap_dataset_encode_row_group(x->w, &rg, &x->enc[task], &err);
    leap_rowgroup_free(&rg);
    return rc;
}

TEST(parallel_encode_matches_serial_bytes) {
    const char *pa = tmp_path("par.lds"), *pb = tmp_path("ser.lds");
    leap_err err = {0};
    leap_dataset_writer *w;
    leap_encoded_rg enc[8];
    memset(enc, 0, sizeof enc);
    ASSERT_OK(leap_dataset_writer_create(pa, &all_schema, NULL, &w, &err));
    enc_ctx x = {w, enc, 0};
    ASSERT_OK(leap_parallel_for(4, 8, enc_task, &x));
    for (int g = 0; g < 8; g++)
        ASSERT_OK(leap_dataset_writer_add_encoded(w, &enc[g], &err));
    for (int g = 0; g < 8; g++)
        leap_encoded_rg_free(&enc[g]);
    ASSERT_OK(leap_dataset_writer_commit(w, &err));

    ASSERT_OK(leap_dataset_writer_create(pb, &all_schema, NULL, &w, &err));
    leap_rowgroup rg;
    leap_rowgroup_init(&rg, &all_schema);
    for (int g = 0; g < 8; g++) {
        fill(&rg, (size_t)g * 500, 500);
        ASSERT_OK(leap_dataset_writer_add_row_group(w, &rg, &err));
    }
    leap_rowgroup_free(&rg);
    ASSERT_OK(leap_dataset_writer_commit(w, &err));
    long na, nb;
    unsigned char *a = slurp(pa, &na), *b = slurp(pb, &nb);
    ASSERT_EQ_INT(na, nb);
    ASSERT_TRUE(memcmp(a, b, (size_t)na) == 0);
    free(a);
    free(b);
    unlink(pa);
    unlink(pb);
}

TEST(writer_abort_and_bad_schema_leave_nothing) {
    const char *path = tmp_path("abort.lds");
    leap_err err = {0};
    leap_dataset_writer *w;
    ASSERT_OK(leap_dataset_writer_create(path, &all_schema, NULL, &w, &err));
    leap_dataset_writer_abort(w);
    ASSERT_TRUE(access(path, F_OK) != 0);
    /* no temp files left behind either */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", tmpdir);
    ASSERT_TRUE(system(cmd) != 0);

    leap_column_def dup[2] = {{"a", LEAP_COL_NUMERIC, 0}, {"a", LEAP_COL_LABEL, 0}};
    leap_schema ds = {2, dup};
    ASSERT_EQ_INT(leap_dataset_writer_create(path, &ds, NULL, &w, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "'a' appears twice");
    leap_column_def wn[1] = {{"x", LEAP_COL_NUMERIC, 1}};
    leap_schema ws = {1, wn};
    ASSERT_EQ_INT(leap_dataset_writer_create(path, &ws, NULL, &w, &err), LEAP_EINVAL);
    leap_dataset_write_opts lv = {.zstd_level = 99};
    ASSERT_EQ_INT(leap_dataset_writer_create(path, &all_schema, &lv, &w, &err), LEAP_EINVAL);
    ASSERT_TRUE(access(path, F_OK) != 0);
    /* a row group of another schema is refused, naming the column */
    ASSERT_OK(leap_dataset_writer_create(path, &all_schema, NULL, &w, &err));
    leap_column_def other[N_COLS];
    memcpy(other, all_cols, sizeof other);
    other[C_TS].type = LEAP_COL_NUMERIC;
    leap_schema os = {N_COLS, other};
    leap_rowgroup rg;
    leap_rowgroup_init(&rg, &os);
    ASSERT_EQ_INT(leap_dataset_writer_add_row_group(w, &rg, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "'ts'");
    leap_rowgroup_free(&rg);
    ASSERT_EQ_INT(leap_dataset_writer_add_dict(w, C_NUM, 5, "x", 1), LEAP_EINVAL);
    leap_dataset_writer_abort(w);
    ASSERT_TRUE(access(path, F_OK) != 0);
}

/* Flip one byte at off, read every row group, return the first error. */
static int flip_and_read(const char *src, const char *dst, long off, leap_err *err) {
    long n;
    unsigned char *b = slurp(src, &n);
    b[off] ^= 0x5a;
    spit(dst, b, n);
    free(b);
    leap_dataset *ds;
    int rc = leap_dataset_open(dst, &ds, err);
    if (rc) return rc;
    leap_rowgroup rg;
    leap_rowgroup_init(&rg, leap_dataset_schema(ds));
    for (size_t g = 0; g < leap_dataset_num_row_groups(ds) && !rc; g++)
        rc = leap_dataset_read_row_group(ds, g, &rg, err);
    leap_rowgroup_free(&rg);
    leap_dataset_close(ds);
    return rc;
}

TEST(flipped_chunk_byte_names_group_and_column) {
    const char *path = tmp_path("good.lds"), *bad = tmp_path("bad.lds");
    ASSERT_OK(write_fixture(path, 0));
    long n;
    unsigned char *b = slurp(path, &n);
    long foff = (long)get64(b + n - 24);
    free(b);
    leap_err err = {0};
    /* first data byte: row group 0, first column */
    ASSERT_EQ_INT(flip_and_read(path, bad, 16, &err), LEAP_ECORRUPT);
    ASSERT_STR_CONTAINS(err.msg, "bad.lds");
    ASSERT_STR_CONTAINS(err.msg, "row group 0");
    ASSERT_STR_CONTAINS(err.msg, "column 'label'");
    ASSERT_STR_CONTAINS(err.msg, "checksum");
    /* last data byte: last row group, last column */
    ASSERT_EQ_INT(flip_and_read(path, bad, foff - 1, &err), LEAP_ECORRUPT);
    ASSERT_STR_CONTAINS(err.msg, "row group 2");
    ASSERT_STR_CONTAINS(err.msg, "column 'w'");
    unlink(path);
    unlink(bad);
}

TEST(flipped_footer_byte_refused_at_open) {
    const char *path = tmp_path("good.lds"), *bad = tmp_path("bad.lds");
    ASSERT_OK(write_fixture(path, 0));
    long n;
    unsigned char *b = slurp(path, &n);
    long foff = (long)get64(b + n - 24), flen = (long)get64(b + n - 16);
    free(b);
    leap_err err = {0};
    for (long off = foff; off < foff + flen; off += flen / 7 + 1) {
        ASSERT_EQ_INT(flip_and_read(path, bad, off, &err), LEAP_ECORRUPT);
        ASSERT_STR_CONTAINS(err.msg, "bad.lds");
        ASSERT_STR_CONTAINS(err.msg, "footer checksum");
    }
    /* the trailer and the header are checked too */
    ASSERT_EQ_INT(flip_and_read(path, bad, n - 20, &err), LEAP_ECORRUPT);
    ASSERT_EQ_INT(flip_and_read(path, bad, n - 3, &err), LEAP_ECORRUPT);
    ASSERT_EQ_INT(flip_and_read(path, bad, 2, &err), LEAP_ECORRUPT);
    ASSERT_STR_CONTAINS(err.msg, "bad magic");
    unlink(path);
    unlink(bad);
}

TEST(truncated_file_refused) {
    const char *path = tmp_path("good.lds"), *bad = tmp_path("trunc.lds");
    ASSERT_OK(write_fixture(path, 0));
    long n;
    unsigned char *b = slurp(path, &n);
    leap_err err = {0};
    leap_dataset *ds;
    long cuts[] = {0, 7, 16, 47, n / 2, n - 25, n - 24, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        spit(bad, b, cuts[i]);
        ASSERT_EQ_INT(leap_dataset_open(bad, &ds, &err), LEAP_ECORRUPT);
        ASSERT_STR_CONTAINS(err.msg, "trunc.lds");
    }
    free(b);
    ASSERT_EQ_INT(leap_dataset_open(tmp_path("missing.lds"), &ds, &err), LEAP_ENOTFOUND);
    ASSERT_STR_CONTAINS(err.msg, "missing.lds");
    unlink(path);
    unlink(bad);
}

TEST(future_version_refused) {
    const char *path = tmp_path("good.lds"), *bad = tmp_path("v2.lds");
    ASSERT_OK(write_fixture(path, 0));
    long n;
    unsigned char *b = slurp(path, &n);
    ASSERT_EQ_INT(b[8], LEAP_DS_VERSION);
    b[8] = 2;
    spit(bad, b, n);
    free(b);
    leap_err err = {0};
    leap_dataset *ds;
    ASSERT_EQ_INT(leap_dataset_open(bad, &ds, &err), LEAP_EVERSION);
    ASSERT_STR_CONTAINS(err.msg, "v2.lds: dataset format version 2 is newer than this leap "
                                 "supports (1)");
    unlink(path);
    unlink(bad);
}

/* Footer mutations with a recomputed checksum: open must fail cleanly or give
 * a dataset whose every row group reads or fails cleanly (ASan/UBSan watch).
 * 400 mutations of 1-3 bytes, deterministic seed. */
TEST(fuzzed_footer_never_over_reads) {
    const char *path = tmp_path("good.lds"), *bad = tmp_path("fuzz.lds");
    ASSERT_OK(write_fixture(path, 0));
    long n;
    unsigned char *orig = slurp(path, &n);
    long foff = (long)get64(orig + n - 24), flen = (long)get64(orig + n - 16);
    unsigned char *b = malloc((size_t)n);
    leap_rng rng = {12345};
    int opened = 0, refused = 0;
    for (int it = 0; it < 400; it++) {
        memcpy(b, orig, (size_t)n);
        int k = 1 + (int)(leap_rng_next(&rng) % 3);
        for (int j = 0; j < k; j++) {
            long off = foff + (long)(leap_rng_next(&rng) % (uint64_t)(flen - 8));
            b[off] = (unsigned char)leap_rng_next(&rng);
        }
        uint64_t sum = leap_hash64(b + foff, (size_t)(flen - 8), 0);
        memcpy(b + foff + flen - 8, &sum, 8);
        spit(bad, b, n);
        leap_err err = {0};
        leap_dataset *ds;
        if (leap_dataset_open(bad, &ds, &err) != LEAP_OK) {
            ASSERT_TRUE(err.msg[0] != 0);
            refused++;
            continue;
        }
        opened++;
        leap_rowgroup rg;
        leap_rowgroup_init(&rg, leap_dataset_schema(ds));
        for (size_t g = 0; g < leap_dataset_num_row_groups(ds); g++)
            leap_dataset_read_row_group(ds, g, &rg, &err);
        const char *s;
        size_t len;
        for (size_t c = 0; c < leap_dataset_schema(ds)->n_cols; c++)
            leap_dataset_dict_lookup(ds, c, leap_cat_hash("v1", 2), &s, &len);
        leap_rowgroup_free(&rg);
        leap_dataset_close(ds);
    }
    free(b);
    free(orig);
    ASSERT_TRUE(refused > 0); /* the checks do fire */
    printf("  fuzz: %d opened, %d refused\n", opened, refused);
    unlink(path);
    unlink(bad);
}

/* Throughput probe on a Criteo-shaped row group set; prints, never fails on
 * speed (timings on a shared CI machine are not a correctness signal). Set
 * LEAP_DS_BENCH_ROWS to change the size (default 200000). */
TEST(criteo_encode_decode_speed) {
    const char *env = getenv("LEAP_DS_BENCH_ROWS");
    size_t total = env ? (size_t)atol(env) : 200000, per = 65536;
    leap_schema s;
    leap_column_def cols[40];
    leap_schema_criteo(&s, cols);
    leap_rowgroup rg;
    ASSERT_OK(leap_rowgroup_init(&rg, &s));
    ASSERT_OK(leap_rowgroup_reserve(&rg, per, 0));
    leap_rng rng = {7};
    const char *path = tmp_path("criteo.lds");
    leap_err err = {0};
    leap_dataset_writer *w;
    ASSERT_OK(leap_dataset_writer_create(path, &s, NULL, &w, &err));
    double t_enc = 0;
    for (size_t done = 0; done < total; done += per) {
        size_t n = total - done < per ? total - done : per;
        for (size_t i = 0; i < n; i++) {
            rg.cols[0].f32[i] = (float)(leap_rng_next(&rng) % 4 == 0);
            for (int c = 1; c < 14; c++) {
                uint64_t r = leap_rng_next(&rng);
                rg.cols[c].f32[i] = r % 5 == 0 ? NAN : (float)(r % 1000);
            }
            for (int c = 14; c < 40; c++) {
                uint64_t r = leap_rng_next(&rng) % (uint64_t)(10 << (c % 12));
                rg.cols[c].u64[i] = r == 0 ? 0 : leap_mix64((uint64_t)c, r);
            }
        }
        rg.n_rows = n;
        double t = leap_now();
        ASSERT_OK(leap_dataset_writer_add_row_group(w, &rg, &err));
        t_enc += leap_now() - t;
    }
    ASSERT_OK(leap_dataset_writer_commit(w, &err));
    leap_dataset *ds;
    ASSERT_OK(leap_dataset_open(path, &ds, &err));
    ASSERT_EQ_U64(leap_dataset_num_rows(ds), total);
    double t = leap_now();
    for (size_t g = 0; g < leap_dataset_num_row_groups(ds); g++)
        ASSERT_OK(leap_dataset_read_row_group(ds, g, &rg, &err));
    double t_dec = leap_now() - t;
    double raw_mb = (double)total * (14 * 4 + 26 * 8) / 1e6;
    printf("  criteo-shaped %zu rows, %.1f MB raw -> %.1f MB file: encode %.2f Mrows/s "
           "(%.0f MB/s), decode %.2f Mrows/s (%.0f MB/s), 1 thread\n",
           total, raw_mb, (double)file_size(path) / 1e6, (double)total / t_enc / 1e6,
           raw_mb / t_enc, (double)total / t_dec / 1e6, raw_mb / t_dec);
    leap_dataset_close(ds);
    leap_rowgroup_free(&rg);
    unlink(path);
}

__attribute__((destructor)) static void remove_tmpdir(void) {
    if (tmpdir[0]) rmdir(tmpdir);
}
