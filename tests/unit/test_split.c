/* Unit tests for src/data/split.c: fractions, determinism across thread
 * counts, key grouping, time ordering, negative downsampling (weights,
 * metadata, weighted positive rate), metadata/dictionary copies, and bad
 * input leaving no files. The fixture is 100k rows in 8192-row groups with a
 * row-id column, so every output row can be traced back to its input row.
 *
 * `criteo_fixture` also serves the e2e test: with LEAP_SPLIT_FIXTURE=PATH it
 * writes a small Criteo-shaped dataset there. */
#include "harness.h"
#include "leap/split.h"

#include <sys/stat.h>
#include <unistd.h>

enum { C_LABEL, C_RID, C_USER, C_TS, C_X, C_TAGS, N_COLS };
static leap_column_def fx_cols[N_COLS] = {
    {"label", LEAP_COL_LABEL, 0},      {"rid", LEAP_COL_NUMERIC, 0},
    {"user", LEAP_COL_CATEGORICAL, 0}, {"ts", LEAP_COL_TIMESTAMP, 0},
    {"x", LEAP_COL_NUMERIC, 0},        {"tags", LEAP_COL_MULTI_CATEGORICAL, 1},
};
static const leap_schema fx_schema = {N_COLS, fx_cols};
#define FX_ROWS     100000
#define FX_GROUP    8192
#define FX_USERS    1000
#define FX_POS_RATE 0.1

static char tmpdir[64];

static const char *tmp_path(const char *name) {
    static char buf[8][256];
    static int k;
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/leap_split_XXXXXX");
        if (!mkdtemp(tmpdir)) abort();
    }
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static uint64_t user_hash(unsigned u) {
    char s[32];
    int n = snprintf(s, sizeof s, "user%u", u);
    return leap_cat_hash(s, (size_t)n);
}

/* The fixture: label ~ Bernoulli(0.1), rid = row index, user in 1000 users,
 * ts with many ties (1000 distinct seconds) and a few missing, x with NaNs,
 * tags weighted multi-categorical with 0..2 values. Written once per process. */
static const char *fixture(void) {
    static char path[256];
    if (path[0]) return path;
    snprintf(path, sizeof path, "%s", tmp_path("in.lds"));
    leap_err err = {0};
    leap_dataset_writer *w;
    if (leap_dataset_writer_create(path, &fx_schema, NULL, &w, &err)) abort();
    leap_rowgroup rg;
    leap_rowgroup_init(&rg, &fx_schema);
    leap_rowgroup_reserve(&rg, FX_GROUP, 2 * FX_GROUP);
    leap_rng rng = {2024};
    for (size_t done = 0; done < FX_ROWS; done += FX_GROUP) {
        size_t n = FX_ROWS - done < FX_GROUP ? FX_ROWS - done : FX_GROUP;
        uint32_t o = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t r = done + i;
            rg.cols[C_LABEL].f32[i] = leap_rng_uniform(&rng) < FX_POS_RATE ? 1.0f : 0.0f;
            rg.cols[C_RID].f32[i] = (float)r;
            rg.cols[C_USER].u64[i] = user_hash((unsigned)(leap_rng_next(&rng) % FX_USERS));
            uint64_t t = leap_rng_next(&rng) % 1001;
            rg.cols[C_TS].i64[i] = t == 1000 ? INT64_MIN : (int64_t)(1700000000 + t);
            rg.cols[C_X].f32[i] = r % 9 == 0 ? NAN : (float)(r % 100);
            for (uint64_t k = 0; k < r % 3; k++) {
                rg.cols[C_TAGS].u64[o] = leap_mix64(r, k) | 1;
                rg.cols[C_TAGS].vw[o++] = 0.5f * (float)k;
            }
            rg.cols[C_TAGS].offsets[i + 1] = o;
        }
        rg.n_rows = n;
        if (leap_dataset_writer_add_row_group(w, &rg, &err)) abort();
    }
    leap_rowgroup_free(&rg);
    for (unsigned u = 0; u < FX_USERS; u++) {
        char s[32];
        int n = snprintf(s, sizeof s, "user%u", u);
        leap_dataset_writer_add_dict(w, C_USER, user_hash(u), s, (size_t)n);
    }
    leap_dataset_writer_set_meta(w, "source", "unit fixture");
    if (leap_dataset_writer_commit(w, &err)) abort();
    return path;
}

/* One output read back whole: per row label, rid, user, ts, weight (1 if none). */
typedef struct table {
    size_t n;
    float *label, *rid, *weight;
    uint64_t *user;
    int64_t *ts;
    int has_weight;
    char split_meta[256], rate_meta[64];
    int dict_ok;
} table;

static int load(const char *path, table *t) {
    memset(t, 0, sizeof *t);
    leap_err err = {0};
    leap_dataset *ds;
    if (leap_dataset_open(path, &ds, &err)) {
        fprintf(stderr, "  %s\n", err.msg);
        return 1;
    }
    const leap_schema *s = leap_dataset_schema(ds);
    int wc = leap_schema_find_type(s, LEAP_COL_WEIGHT);
    t->has_weight = wc >= 0;
    size_t n = (size_t)leap_dataset_num_rows(ds);
    t->n = n;
    t->label = malloc((n + 1) * 4);
    t->rid = malloc((n + 1) * 4);
    t->weight = malloc((n + 1) * 4);
    t->user = malloc((n + 1) * 8);
    t->ts = malloc((n + 1) * 8);
    leap_rowgroup rg;
    leap_rowgroup_init(&rg, s);
    size_t at = 0;
    for (size_t g = 0; g < leap_dataset_num_row_groups(ds); g++) {
        if (leap_dataset_read_row_group(ds, g, &rg, &err)) return 1;
        for (size_t i = 0; i < rg.n_rows; i++, at++) {
            t->label[at] = rg.cols[C_LABEL].f32[i];
            t->rid[at] = rg.cols[C_RID].f32[i];
            t->user[at] = rg.cols[C_USER].u64[i];
            t->ts[at] = rg.cols[C_TS].i64[i];
            t->weight[at] = wc >= 0 ? rg.cols[wc].f32[i] : 1.0f;
        }
    }
    leap_rowgroup_free(&rg);
    const char *m = leap_dataset_meta_get(ds, "split");
    snprintf(t->split_meta, sizeof t->split_meta, "%s", m ? m : "");
    m = leap_dataset_meta_get(ds, "neg_sample_rate");
    snprintf(t->rate_meta, sizeof t->rate_meta, "%s", m ? m : "");
    const char *src = leap_dataset_meta_get(ds, "source"), *str;
    size_t len;
    t->dict_ok = src && !strcmp(src, "unit fixture") &&
                 leap_dataset_dict_lookup(ds, C_USER, user_hash(7), &str, &len) == 0 && len == 5 &&
                 !memcmp(str, "user7", 5);
    leap_dataset_close(ds);
    return 0;
}

static void table_free(table *t) {
    free(t->label);
    free(t->rid);
    free(t->weight);
    free(t->user);
    free(t->ts);
}

static void opts(leap_split_opts *o, const char *prefix) {
    leap_split_opts_init(o);
    o->input = fixture();
    o->prefix = tmp_path(prefix);
    o->threads = 2;
}

static const char *out_path(const char *prefix, const char *name) {
    static char buf[4][300];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s.%s.lds", tmp_path(prefix), name);
    return buf[k];
}

static void remove_outputs(const char *prefix) {
    unlink(out_path(prefix, "train"));
    unlink(out_path(prefix, "valid"));
    unlink(out_path(prefix, "test"));
}

static int same_bytes(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int x = fgetc(fa), y = fgetc(fb);
        if (x != y) same = 0;
        if (x == EOF || y == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

/* ---- tests ----------------------------------------------------------------- */
TEST(parse_and_check_options) {
    leap_split_opts o;
    leap_err err = {0};
    leap_split_opts_init(&o);
    o.input = "in.lds";
    o.prefix = "out";
    ASSERT_OK(leap_split_opts_check(&o, &err));
    ASSERT_OK(leap_split_parse_by("hash:user", &o, &err));
    ASSERT_EQ_INT(o.by, LEAP_SPLIT_BY_COLUMN_HASH);
    ASSERT_TRUE(strcmp(o.column, "user") == 0);
    ASSERT_OK(leap_split_parse_by("time:ts", &o, &err));
    ASSERT_EQ_INT(o.by, LEAP_SPLIT_BY_TIME);
    ASSERT_EQ_INT(leap_split_parse_by("random", &o, &err), LEAP_EINVAL);
    ASSERT_EQ_INT(leap_split_parse_by("time:", &o, &err), LEAP_EINVAL);
    ASSERT_OK(leap_split_parse_fractions("0.7,0.3", &o, &err));
    ASSERT_EQ_INT(o.n_fractions, 2);
    ASSERT_OK(leap_split_opts_check(&o, &err));
    ASSERT_EQ_INT(leap_split_parse_fractions("0.5,,0.5", &o, &err), LEAP_EINVAL);
    ASSERT_EQ_INT(leap_split_parse_fractions("0.5,0.2,0.2,0.1", &o, &err), LEAP_EINVAL);
    ASSERT_OK(leap_split_parse_fractions("0.8,0.1,0.2", &o, &err));
    ASSERT_EQ_INT(leap_split_opts_check(&o, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "sum to 1.1");
    ASSERT_OK(leap_split_parse_fractions("1.1,-0.1", &o, &err));
    ASSERT_EQ_INT(leap_split_opts_check(&o, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "not positive");
    ASSERT_OK(leap_split_parse_fractions("1", &o, &err));
    ASSERT_EQ_INT(leap_split_opts_check(&o, &err), LEAP_EINVAL);
    ASSERT_OK(leap_split_parse_fractions("0.5,0.5", &o, &err));
    o.neg_rate = 1.5;
    ASSERT_EQ_INT(leap_split_opts_check(&o, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "neg-rate");
    ASSERT_TRUE(strcmp(leap_split_output_name(1, 2), "test") == 0);
    ASSERT_TRUE(strcmp(leap_split_output_name(1, 3), "valid") == 0);
}

/* Binomial std of a 0.1 share of 100k rows is ~95 rows; tolerance 1000 rows
 * (10 sigma) so only a wrong rule fails. Also: outputs partition the input
 * and keep its row order; metadata and dictionaries are copied. */
TEST(row_hash_fractions_partition_and_order) {
    leap_split_opts o;
    leap_split_report rep;
    leap_err err = {0};
    opts(&o, "frac");
    ASSERT_OK(leap_split(&o, &rep, &err));
    ASSERT_EQ_U64(rep.rows_in, FX_ROWS);
    ASSERT_EQ_U64(rep.rows[0] + rep.rows[1] + rep.rows[2], FX_ROWS);
    uint8_t *seen = calloc(FX_ROWS, 1);
    const char *names[3] = {"train", "valid", "test"};
    for (int s = 0; s < 3; s++) {
        table t;
        ASSERT_OK(load(out_path("frac", names[s]), &t));
        ASSERT_EQ_U64(t.n, rep.rows[s]);
        ASSERT_NEAR((double)t.n, o.fractions[s] * FX_ROWS, 1000);
        ASSERT_TRUE(t.dict_ok);
        ASSERT_TRUE(!t.has_weight);
        char want[128];
        snprintf(want, sizeof want, "%s of hash seed=1 fractions=0.8,0.1,0.1", names[s]);
        ASSERT_TRUE(strcmp(t.split_meta, want) == 0);
        ASSERT_TRUE(t.rate_meta[0] == 0);
        for (size_t i = 0; i < t.n; i++) {
            size_t r = (size_t)t.rid[i];
            ASSERT_TRUE(r < FX_ROWS && !seen[r]);
            seen[r] = 1;
            if (i) ASSERT_TRUE(t.rid[i] > t.rid[i - 1]);
        }
        table_free(&t);
    }
    for (size_t r = 0; r < FX_ROWS; r++)
        ASSERT_TRUE(seen[r]);
    free(seen);
    remove_outputs("frac");
}

TEST(same_seed_same_bytes_any_thread_count) {
    leap_split_opts o;
    leap_err err = {0};
    opts(&o, "detA");
    o.threads = 1;
    ASSERT_OK(leap_split(&o, NULL, &err));
    opts(&o, "detB");
    o.threads = 3;
    ASSERT_OK(leap_split(&o, NULL, &err));
    opts(&o, "detC");
    o.seed = 2;
    ASSERT_OK(leap_split(&o, NULL, &err));
    const char *names[3] = {"train", "valid", "test"};
    for (int s = 0; s < 3; s++) {
        ASSERT_TRUE(same_bytes(out_path("detA", names[s]), out_path("detB", names[s])));
        ASSERT_TRUE(!same_bytes(out_path("detA", names[s]), out_path("detC", names[s])));
    }
    remove_outputs("detA");
    remove_outputs("detB");
    remove_outputs("detC");
}

static int split_of_user(const table *t, uint64_t u) {
    for (size_t i = 0; i < t->n; i++)
        if (t->user[i] == u) return 1;
    return 0;
}

/* Every user lands in exactly one output. With 1000 users the share of
 * rows is that of ~1000 clusters: tolerance 0.05 (5 std of a 0.1 share). */
TEST(column_hash_keeps_keys_together) {
    leap_split_opts o;
    leap_split_report rep;
    leap_err err = {0};
    opts(&o, "key");
    ASSERT_OK(leap_split_parse_by("hash:user", &o, &err));
    ASSERT_OK(leap_split(&o, &rep, &err));
    table t[3];
    const char *names[3] = {"train", "valid", "test"};
    for (int s = 0; s < 3; s++) {
        ASSERT_OK(load(out_path("key", names[s]), &t[s]));
        ASSERT_NEAR((double)t[s].n / FX_ROWS, o.fractions[s], 0.05);
        ASSERT_STR_CONTAINS(t[s].split_meta, "of hash:user seed=1");
    }
    for (unsigned u = 0; u < FX_USERS; u++) {
        uint64_t h = user_hash(u);
        int in = split_of_user(&t[0], h) + split_of_user(&t[1], h) + split_of_user(&t[2], h);
        ASSERT_EQ_INT(in, 1);
    }
    for (int s = 0; s < 3; s++)
        table_free(&t[s]);
    /* a numeric key works too; a multi-categorical one is refused */
    ASSERT_OK(leap_split_parse_by("hash:x", &o, &err));
    ASSERT_OK(leap_split(&o, &rep, &err));
    ASSERT_OK(leap_split_parse_by("hash:tags", &o, &err));
    ASSERT_EQ_INT(leap_split(&o, &rep, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "multi_categorical");
    remove_outputs("key");
}

/* Exact counts round(f * N) even with heavy ties, and every train time <=
 * every valid time <= every test time (missing INT64_MIN counts as earliest). */
TEST(time_split_orders_and_counts) {
    leap_split_opts o;
    leap_split_report rep;
    leap_err err = {0};
    opts(&o, "time");
    ASSERT_OK(leap_split_parse_by("time:ts", &o, &err));
    ASSERT_OK(leap_split(&o, &rep, &err));
    ASSERT_EQ_U64(rep.rows[0], 80000);
    ASSERT_EQ_U64(rep.rows[1], 10000);
    ASSERT_EQ_U64(rep.rows[2], 10000);
    table t[3];
    const char *names[3] = {"train", "valid", "test"};
    int64_t lo[3], hi[3];
    for (int s = 0; s < 3; s++) {
        ASSERT_OK(load(out_path("time", names[s]), &t[s]));
        lo[s] = INT64_MAX;
        hi[s] = INT64_MIN;
        for (size_t i = 0; i < t[s].n; i++) {
            if (t[s].ts[i] < lo[s]) lo[s] = t[s].ts[i];
            if (t[s].ts[i] > hi[s]) hi[s] = t[s].ts[i];
        }
    }
    ASSERT_TRUE(hi[0] <= lo[1] && hi[1] <= lo[2]);
    ASSERT_EQ_INT(lo[0], INT64_MIN);
    /* ties at a cut are broken by row order: equal times in train come before
     * those in valid */
    int64_t tie = hi[0];
    float last_train = -1, first_valid = 1e30f;
    for (size_t i = 0; i < t[0].n; i++)
        if (t[0].ts[i] == tie) last_train = t[0].rid[i];
    for (size_t i = 0; i < t[1].n; i++)
        if (t[1].ts[i] == tie && t[1].rid[i] < first_valid) first_valid = t[1].rid[i];
    if (lo[1] == tie) ASSERT_TRUE(last_train < first_valid);
    for (int s = 0; s < 3; s++)
        table_free(&t[s]);
    /* a categorical column cannot order time */
    ASSERT_OK(leap_split_parse_by("time:user", &o, &err));
    ASSERT_EQ_INT(leap_split(&o, &rep, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "'user' is categorical");
    remove_outputs("time");
}

/* R = 0.25: train keeps all positives at weight 1 and ~25% of its negatives at
 * weight 4; valid/test are untouched. The weighted positive rate of train
 * estimates the input rate: input rate 0.1 on ~80k rows, ~6k kept negatives
 * each weighing 4 -> std of the estimate ~0.003; tolerance 0.015. */
TEST(neg_rate_weights_and_metadata) {
    leap_split_opts o;
    leap_split_report rep;
    leap_err err = {0};
    opts(&o, "neg");
    o.neg_rate = 0.25;
    ASSERT_OK(leap_split(&o, &rep, &err));
    table t, v;
    ASSERT_OK(load(out_path("neg", "train"), &t));
    ASSERT_OK(load(out_path("neg", "valid"), &v));
    ASSERT_TRUE(t.has_weight && !v.has_weight);
    ASSERT_TRUE(strcmp(t.rate_meta, "0.25") == 0);
    ASSERT_TRUE(v.rate_meta[0] == 0);
    ASSERT_TRUE(t.dict_ok && v.dict_ok);
    double pos = 0, neg = 0, wpos = 0, wsum = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (t.label[i] > 0.5f) {
            ASSERT_TRUE(t.weight[i] == 1.0f);
            pos++;
        } else {
            ASSERT_TRUE(t.weight[i] == 4.0f);
            neg++;
        }
        wsum += t.weight[i];
        wpos += t.label[i] > 0.5f ? t.weight[i] : 0;
    }
    double in_rate = (double)rep.positives_in / (double)rep.rows_in;
    ASSERT_NEAR(in_rate, FX_POS_RATE, 0.005);
    /* ~0.8 * 0.9 * N negatives reach train, a quarter kept: 18000 (std ~120) */
    ASSERT_NEAR(neg, 0.8 * (1 - in_rate) * FX_ROWS * 0.25, 800);
    ASSERT_NEAR(pos, 0.8 * in_rate * FX_ROWS, 500);
    ASSERT_NEAR(wpos / wsum, in_rate, 0.015);
    ASSERT_NEAR(rep.weighted_positives[0] / rep.weight_sum[0], wpos / wsum, 1e-9);
    /* the same split without downsampling puts the same rows in valid */
    ASSERT_NEAR((double)v.n, 0.1 * FX_ROWS, 1000);
    table_free(&t);
    table_free(&v);

    /* a rate already recorded compounds: 0.25 * 0.5 */
    opts(&o, "neg2");
    o.input = out_path("neg", "train");
    o.neg_rate = 0.5;
    ASSERT_OK(leap_split_parse_fractions("0.5,0.5", &o, &err));
    ASSERT_OK(leap_split(&o, &rep, &err));
    ASSERT_OK(load(out_path("neg2", "train"), &t));
    ASSERT_TRUE(strcmp(t.rate_meta, "0.125") == 0);
    for (size_t i = 0; i < t.n; i++)
        ASSERT_TRUE(t.weight[i] == (t.label[i] > 0.5f ? 1.0f : 8.0f));
    table_free(&t);
    ASSERT_TRUE(access(out_path("neg2", "valid"), F_OK) != 0); /* two fractions: no valid */
    remove_outputs("neg");
    remove_outputs("neg2");
}

TEST(bad_input_leaves_no_files) {
    leap_split_opts o;
    leap_err err = {0};
    opts(&o, "bad");
    ASSERT_OK(leap_split_parse_by("hash:nosuch", &o, &err));
    ASSERT_EQ_INT(leap_split(&o, NULL, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "no column named 'nosuch'");
    opts(&o, "bad");
    o.input = tmp_path("missing.lds");
    ASSERT_EQ_INT(leap_split(&o, NULL, &err), LEAP_ENOTFOUND);
    ASSERT_STR_CONTAINS(err.msg, "missing.lds");
    opts(&o, "bad");
    o.fractions[2] = 0.2;
    ASSERT_EQ_INT(leap_split(&o, NULL, &err), LEAP_EINVAL);
    /* a dataset corrupt in its last row group fails mid-run: nothing left */
    long n;
    FILE *f = fopen(fixture(), "rb");
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    unsigned char *b = malloc((size_t)n);
    fseek(f, 0, SEEK_SET);
    ASSERT_TRUE(fread(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    uint64_t foff;
    memcpy(&foff, b + n - 24, 8);
    b[foff - 1] ^= 1;
    const char *corrupt = tmp_path("corrupt.lds");
    f = fopen(corrupt, "wb");
    fwrite(b, 1, (size_t)n, f);
    fclose(f);
    free(b);
    opts(&o, "bad");
    o.input = corrupt;
    ASSERT_EQ_INT(leap_split(&o, NULL, &err), LEAP_ECORRUPT);
    ASSERT_STR_CONTAINS(err.msg, "column 'tags'");
    unlink(corrupt);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q bad", tmpdir);
    ASSERT_TRUE(system(cmd) != 0);
}

TEST(empty_input_gives_empty_outputs) {
    const char *in = tmp_path("empty.lds");
    leap_err err = {0};
    leap_dataset_writer *w;
    ASSERT_OK(leap_dataset_writer_create(in, &fx_schema, NULL, &w, &err));
    ASSERT_OK(leap_dataset_writer_commit(w, &err));
    leap_split_opts o;
    leap_split_report rep;
    opts(&o, "empty");
    o.input = in;
    o.neg_rate = 0.5;
    ASSERT_OK(leap_split_parse_by("time:ts", &o, &err));
    ASSERT_OK(leap_split(&o, &rep, &err));
    ASSERT_EQ_U64(rep.rows_in, 0);
    table t;
    ASSERT_OK(load(out_path("empty", "train"), &t));
    ASSERT_EQ_INT(t.n, 0);
    ASSERT_TRUE(t.has_weight);
    table_free(&t);
    remove_outputs("empty");
    unlink(in);
}

/* Writes a small Criteo-shaped dataset (label, I1..I13, C1..C26) with a
 * dictionary; to LEAP_SPLIT_FIXTURE when set (used by tests/e2e/test_split.sh). */
TEST(criteo_fixture) {
    const char *env = getenv("LEAP_SPLIT_FIXTURE");
    const char *path = env && *env ? env : tmp_path("criteo.lds");
    leap_schema s;
    leap_column_def cols[40];
    leap_schema_criteo(&s, cols);
    leap_err err = {0};
    leap_dataset_writer *w;
    ASSERT_OK(leap_dataset_writer_create(path, &s, NULL, &w, &err));
    leap_rowgroup rg;
    ASSERT_OK(leap_rowgroup_init(&rg, &s));
    ASSERT_OK(leap_rowgroup_reserve(&rg, 1000, 0));
    leap_rng rng = {99};
    for (int g = 0; g < 5; g++) {
        for (size_t i = 0; i < 1000; i++) {
            rg.cols[0].f32[i] = leap_rng_uniform(&rng) < 0.25 ? 1.0f : 0.0f;
            for (int c = 1; c < 14; c++)
                rg.cols[c].f32[i] = (float)(leap_rng_next(&rng) % 50);
            for (int c = 14; c < 40; c++) {
                char v[16];
                int n = snprintf(v, sizeof v, "%08x", (unsigned)(leap_rng_next(&rng) % 20));
                rg.cols[c].u64[i] = leap_cat_hash(v, (size_t)n);
                ASSERT_OK(
                    leap_dataset_writer_add_dict(w, (size_t)c, rg.cols[c].u64[i], v, (size_t)n));
            }
        }
        rg.n_rows = 1000;
        ASSERT_OK(leap_dataset_writer_add_row_group(w, &rg, &err));
    }
    leap_rowgroup_free(&rg);
    ASSERT_OK(leap_dataset_writer_commit(w, &err));
    leap_dataset *ds;
    ASSERT_OK(leap_dataset_open(path, &ds, &err));
    ASSERT_EQ_U64(leap_dataset_num_rows(ds), 5000);
    leap_dataset_close(ds);
    if (!env || !*env) unlink(path);
}

__attribute__((destructor)) static void remove_tmpdir(void) {
    if (!tmpdir[0]) return;
    char p[300];
    snprintf(p, sizeof p, "%s/in.lds", tmpdir);
    unlink(p);
    rmdir(tmpdir);
}
