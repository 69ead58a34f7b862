/* Unit tests for src/eval/stats.c (`leap stats`): on a hand-built dataset with
 * known values, every exact figure is checked against a direct computation
 * over the same rows (counts, missing, min/max/mean/std, top values and their
 * counts, label rates per value, histogram totals), the HyperLogLog estimate
 * against the true distinct count, invariance of the exact figures across
 * thread counts, option errors, and the three renderers (JSON shape, HTML
 * escaping and SVG). Does not test the sketches themselves (test_sketch.c). */
#include "harness.h"
#include "leap/dataset.h"
#include "leap/stats.h"

#include <unistd.h>

#define N_ROWS    30000
#define RG_ROWS   4096 /* 8 row groups, the last one partial */
#define N_UNIQUE  10000
#define N_SMALL   50
#define HOT_TEXT  "hot"
#define EVIL_TEXT "<x&y>\"'"

enum { C_LABEL, C_W, C_X, C_C, C_U, C_M, C_TS, N_COLS };

/* The fixture, kept in memory too so tests compute the truth directly. */
static struct {
    char dir[64], path[128];
    float y[N_ROWS], w[N_ROWS], x[N_ROWS];
    uint64_t c[N_ROWS], u[N_ROWS];
    uint32_t m_off[N_ROWS + 1];
    uint64_t m_val[N_ROWS * 3];
    int64_t ts[N_ROWS];
    uint64_t hot, evil, small[N_SMALL];
    int built;
} fx;

static uint64_t text_hash(const char *s) { return leap_cat_hash(s, strlen(s)); }

/* Builds the rows and writes them as a dataset once per process. */
static int fixture(void) {
    if (fx.built) return 0;
    leap_rng r = {12345};
    fx.hot = text_hash(HOT_TEXT);
    fx.evil = text_hash(EVIL_TEXT);
    char buf[32];
    for (int i = 0; i < N_SMALL; i++) {
        snprintf(buf, sizeof buf, "v%d", i);
        fx.small[i] = text_hash(buf);
    }
    uint32_t nv = 0;
    for (int i = 0; i < N_ROWS; i++) {
        double u = leap_rng_uniform(&r);
        /* c: "hot" in ~50% of rows (a clear heavy hitter), EVIL_TEXT in ~5%,
         * one of 50 others otherwise; missing in every 20th row */
        fx.c[i] = i % 20 == 3 ? 0 : u < 0.5 ? fx.hot : u < 0.55 ? fx.evil : fx.small[i % N_SMALL];
        double p = fx.c[i] == fx.hot ? 0.4 : fx.c[i] == fx.evil ? 0.05 : 0.15;
        fx.y[i] = leap_rng_uniform(&r) < p ? 1.0f : 0.0f;
        if (i % 1000 == 7) fx.y[i] = NAN; /* unlabelled rows count nowhere in rates */
        fx.w[i] = i % 97 == 0 ? NAN : (float)(1 + i % 3);
        fx.x[i] = i % 10 == 0 ? NAN : (float)(leap_rng_uniform(&r) * 200.0 - 50.0);
        snprintf(buf, sizeof buf, "u%d", i % N_UNIQUE);
        fx.u[i] = text_hash(buf);
        fx.m_off[i] = nv;
        int k = i % 4; /* 0..3 values; 0 = missing row */
        for (int j = 0; j < k; j++)
            fx.m_val[nv++] = fx.small[(i + 7 * j) % 5];
        fx.ts[i] = i % 50 == 1 ? INT64_MIN : 1700000000 + i;
    }
    fx.m_off[N_ROWS] = nv;

    snprintf(fx.dir, sizeof fx.dir, "/tmp/leap_stats_XXXXXX");
    if (!mkdtemp(fx.dir)) return -1;
    snprintf(fx.path, sizeof fx.path, "%s/fx.lds", fx.dir);
    leap_column_def defs[N_COLS] = {
        {"label", LEAP_COL_LABEL, 0},   {"w", LEAP_COL_WEIGHT, 0},
        {"x", LEAP_COL_NUMERIC, 0},     {"c", LEAP_COL_CATEGORICAL, 0},
        {"u", LEAP_COL_CATEGORICAL, 0}, {"m", LEAP_COL_MULTI_CATEGORICAL, 0},
        {"ts", LEAP_COL_TIMESTAMP, 0}};
    leap_schema s = {N_COLS, defs};
    leap_err err = {0};
    leap_dataset_writer *w;
    if (leap_dataset_writer_create(fx.path, &s, NULL, &w, &err)) return -1;
    leap_dataset_writer_add_dict(w, C_C, fx.hot, HOT_TEXT, strlen(HOT_TEXT));
    leap_dataset_writer_add_dict(w, C_C, fx.evil, EVIL_TEXT, strlen(EVIL_TEXT));
    leap_rowgroup rg;
    leap_rowgroup_init(&rg, &s);
    for (size_t b = 0; b < N_ROWS; b += RG_ROWS) {
        size_t n = N_ROWS - b < RG_ROWS ? N_ROWS - b : RG_ROWS;
        size_t nvals = fx.m_off[b + n] - fx.m_off[b];
        if (leap_rowgroup_reserve(&rg, n, nvals)) return -1;
        rg.n_rows = n;
        memcpy(rg.cols[C_LABEL].f32, fx.y + b, n * sizeof(float));
        memcpy(rg.cols[C_W].f32, fx.w + b, n * sizeof(float));
        memcpy(rg.cols[C_X].f32, fx.x + b, n * sizeof(float));
        memcpy(rg.cols[C_C].u64, fx.c + b, n * sizeof(uint64_t));
        memcpy(rg.cols[C_U].u64, fx.u + b, n * sizeof(uint64_t));
        memcpy(rg.cols[C_TS].i64, fx.ts + b, n * sizeof(int64_t));
        for (size_t i = 0; i <= n; i++)
            rg.cols[C_M].offsets[i] = fx.m_off[b + i] - fx.m_off[b];
        memcpy(rg.cols[C_M].u64, fx.m_val + fx.m_off[b], nvals * sizeof(uint64_t));
        if (leap_dataset_writer_add_row_group(w, &rg, &err)) return -1;
    }
    leap_rowgroup_free(&rg);
    if (leap_dataset_writer_commit(w, &err)) return -1;
    fx.built = 1;
    return 0;
}

static void fixture_cleanup(void) __attribute__((destructor));
static void fixture_cleanup(void) {
    if (!fx.built) return;
    unlink(fx.path);
    rmdir(fx.dir);
}

/* Opens the fixture and computes stats with `threads` threads. */
static int compute(int threads, const char *const *label_by, size_t n_lb, leap_stats *st) {
    leap_dataset *ds;
    leap_err err = {0};
    if (fixture() || leap_dataset_open(fx.path, &ds, &err)) return -1;
    leap_stats_opts o;
    leap_stats_opts_init(&o);
    o.threads = threads;
    o.label_by = label_by;
    o.n_label_by = n_lb;
    int rc = leap_stats_compute(ds, &o, st, &err);
    if (rc) fprintf(stderr, "  stats: %s\n", err.msg);
    leap_dataset_close(ds);
    return rc;
}

TEST(counts_and_missing) {
    leap_stats st;
    ASSERT_OK(compute(2, NULL, 0, &st));
    ASSERT_EQ_U64(st.rows, N_ROWS);
    ASSERT_EQ_INT(st.n_cols, N_COLS);
    uint64_t miss[N_COLS] = {0};
    for (int i = 0; i < N_ROWS; i++) {
        miss[C_LABEL] += isnan(fx.y[i]);
        miss[C_W] += isnan(fx.w[i]);
        miss[C_X] += isnan(fx.x[i]);
        miss[C_C] += fx.c[i] == 0;
        miss[C_M] += fx.m_off[i] == fx.m_off[i + 1];
        miss[C_TS] += fx.ts[i] == INT64_MIN;
    }
    for (int c = 0; c < N_COLS; c++) {
        ASSERT_EQ_U64(st.cols[c].missing, miss[c]);
        ASSERT_EQ_U64(st.cols[c].present, N_ROWS - miss[c]);
        ASSERT_NEAR(st.cols[c].missing_rate, (double)miss[c] / N_ROWS, 1e-15);
    }
    /* multi-categorical values per row: exact */
    ASSERT_EQ_U64(st.cols[C_M].n_values, fx.m_off[N_ROWS]);
    ASSERT_NEAR(st.cols[C_M].values_per_row_mean, (double)fx.m_off[N_ROWS] / N_ROWS, 1e-15);
    ASSERT_EQ_U64(st.cols[C_M].values_per_row_max, 3);
    ASSERT_TRUE(st.cols[C_M].multi && !st.cols[C_M].numeric && !st.cols[C_C].numeric);
    leap_stats_free(&st);
}

TEST(moments_match_direct_computation) {
    leap_stats st;
    ASSERT_OK(compute(3, NULL, 0, &st));
    double n = 0, sum = 0, mn = INFINITY, mx = -INFINITY;
    for (int i = 0; i < N_ROWS; i++)
        if (!isnan(fx.x[i])) {
            n++;
            sum += fx.x[i];
            mn = fmin(mn, fx.x[i]);
            mx = fmax(mx, fx.x[i]);
        }
    double mean = sum / n, ss = 0;
    for (int i = 0; i < N_ROWS; i++)
        if (!isnan(fx.x[i])) ss += (fx.x[i] - mean) * (fx.x[i] - mean);
    const leap_stats_column *x = &st.cols[C_X];
    ASSERT_TRUE(x->numeric);
    ASSERT_TRUE(x->min == mn && x->max == mx); /* exact: min/max are input floats */
    /* Welford vs two-pass sums in double over 27k values of size ~100: both
     * within ~1e-12 relative of the truth */
    ASSERT_NEAR(x->mean, mean, 1e-9);
    ASSERT_NEAR(x->std, sqrt(ss / n), 1e-9);
    /* quantiles: KLL rank error is <= bound; on a uniform [-50, 150) that is
     * <= 200 * bound in value, checked with 2x slack */
    ASSERT_TRUE(st.kll_rank_error > 0 && st.kll_rank_error < 0.05);
    for (int q = 0; q < LEAP_STATS_N_QUANTILES; q++) {
        double want = -50 + 200 * leap_stats_quantile_ranks[q];
        ASSERT_NEAR(x->quantiles[q], want, 2 * 200 * st.kll_rank_error + 1);
    }
    /* histogram: every present value lands in exactly one bin; brute-force
     * recount of every bin against the reported edges */
    uint64_t tot = x->hist_under + x->hist_over, want[LEAP_STATS_HIST_BINS] = {0}, under = 0;
    for (int b = 0; b < LEAP_STATS_HIST_BINS; b++)
        tot += x->hist[b];
    ASSERT_EQ_U64(tot, x->present);
    for (int i = 0; i < N_ROWS; i++) {
        double v = fx.x[i];
        if (isnan(v)) continue;
        if (v < x->hist_edges[0]) under++;
        for (int b = 0; b < LEAP_STATS_HIST_BINS; b++)
            if (v >= x->hist_edges[b] &&
                (v < x->hist_edges[b + 1] ||
                 (b == LEAP_STATS_HIST_BINS - 1 && v == x->hist_edges[b + 1])))
                want[b]++;
    }
    ASSERT_EQ_U64(x->hist_under, under);
    for (int b = 0; b < LEAP_STATS_HIST_BINS; b++)
        ASSERT_EQ_U64(x->hist[b], want[b]);
    ASSERT_TRUE(!x->hist_log); /* [-50, 150) spans no decades */
    /* timestamps: exact min/max */
    ASSERT_NEAR(st.cols[C_TS].min, 1700000000.0, 0);
    ASSERT_NEAR(st.cols[C_TS].max, 1700000000.0 + N_ROWS - 1, 0);
    leap_stats_free(&st);
}

TEST(top_values_exact_counts) {
    leap_stats st;
    ASSERT_OK(compute(4, NULL, 0, &st));
    uint64_t hot = 0, evil = 0;
    for (int i = 0; i < N_ROWS; i++) {
        hot += fx.c[i] == fx.hot;
        evil += fx.c[i] == fx.evil;
    }
    const leap_stats_column *c = &st.cols[C_C];
    ASSERT_EQ_INT(c->n_top, 10);
    ASSERT_EQ_U64(c->top[0].key, fx.hot);
    ASSERT_EQ_U64(c->top[0].count, hot);
    ASSERT_TRUE(strcmp(c->top[0].text, HOT_TEXT) == 0); /* from the dictionary */
    ASSERT_EQ_U64(c->top[1].key, fx.evil);
    ASSERT_EQ_U64(c->top[1].count, evil);
    /* values without dictionary text show as #hexhash */
    ASSERT_TRUE(c->top[2].text[0] == '#' && strlen(c->top[2].text) == 17);
    for (size_t i = 1; i < c->n_top; i++)
        ASSERT_TRUE(c->top[i - 1].count >= c->top[i].count);
    /* numeric top value text is the number */
    const leap_stats_column *w = &st.cols[C_W];
    ASSERT_EQ_INT(w->n_top, 3);
    char *end;
    double v = strtod(w->top[0].text, &end);
    ASSERT_TRUE(*end == 0 && (v == 1 || v == 2 || v == 3));
    leap_stats_free(&st);
}

TEST(distinct_estimate_within_3_percent) {
    leap_stats st;
    ASSERT_OK(compute(2, NULL, 0, &st));
    /* HLL p=14: standard error 0.81%, so 3% is > 3.5 sigma */
    ASSERT_NEAR(st.cols[C_U].distinct, N_UNIQUE, 0.03 * N_UNIQUE);
    ASSERT_NEAR(st.cols[C_C].distinct, N_SMALL + 2, 1); /* small range: near exact */
    leap_stats_free(&st);
}

TEST(label_rate_per_value) {
    const char *lb[] = {"c", "m"};
    leap_stats st;
    ASSERT_OK(compute(3, lb, 2, &st));
    double sw = 0, swy = 0, hw = 0, hwy = 0;
    for (int i = 0; i < N_ROWS; i++) {
        if (isnan(fx.y[i])) continue;
        double w = isnan(fx.w[i]) ? 1.0 : fx.w[i];
        sw += w;
        swy += w * fx.y[i];
        if (fx.c[i] == fx.hot) {
            hw += w;
            hwy += w * fx.y[i];
        }
    }
    /* sums of small integers in double: exact */
    ASSERT_NEAR(st.label_w, sw, 0);
    ASSERT_NEAR(st.label_rate, swy / sw, 1e-15);
    const leap_stats_column *c = &st.cols[C_C];
    ASSERT_TRUE(c->label_by && !st.cols[C_U].label_by);
    ASSERT_EQ_U64(c->top[0].key, fx.hot);
    ASSERT_NEAR(c->top[0].label_w, hw, 0);
    ASSERT_NEAR(c->top[0].label_rate, hwy / hw, 1e-15);
    /* every reported value of every label-by column, brute force */
    for (size_t t = 0; t < c->n_top; t++) {
        double a = 0, b = 0;
        for (int i = 0; i < N_ROWS; i++)
            if (!isnan(fx.y[i]) && fx.c[i] == c->top[t].key) {
                double w = isnan(fx.w[i]) ? 1.0 : fx.w[i];
                a += w;
                b += w * fx.y[i];
            }
        ASSERT_NEAR(c->top[t].label_rate, b / a, 1e-12);
    }
    const leap_stats_column *m = &st.cols[C_M];
    ASSERT_TRUE(m->label_by && m->n_top == 5);
    for (size_t t = 0; t < m->n_top; t++) {
        double a = 0, b = 0;
        uint64_t cnt = 0;
        for (int i = 0; i < N_ROWS; i++)
            for (uint32_t j = fx.m_off[i]; j < fx.m_off[i + 1]; j++) {
                if (fx.m_val[j] != m->top[t].key) continue;
                cnt++;
                if (isnan(fx.y[i])) continue;
                double w = isnan(fx.w[i]) ? 1.0 : fx.w[i];
                a += w;
                b += w * fx.y[i];
            }
        ASSERT_EQ_U64(m->top[t].count, cnt);
        ASSERT_NEAR(m->top[t].label_rate, b / a, 1e-12);
    }
    leap_stats_free(&st);
}

TEST(thread_count_invariance) {
    const char *lb[] = {"c"};
    leap_stats a, b;
    ASSERT_OK(compute(1, lb, 1, &a));
    int counts[] = {2, 3, 8};
    for (int t = 0; t < 3; t++) {
        ASSERT_OK(compute(counts[t], lb, 1, &b));
        for (size_t c = 0; c < N_COLS; c++) {
            const leap_stats_column *x = &a.cols[c], *y = &b.cols[c];
            ASSERT_EQ_U64(x->present, y->present);
            ASSERT_EQ_U64(x->missing, y->missing);
            if (x->numeric) {
                /* merged per row group in row-group order: bit-identical */
                ASSERT_TRUE(x->min == y->min && x->max == y->max);
                ASSERT_TRUE(x->mean == y->mean && x->std == y->std);
            }
            /* HLL merge is a register max: identical */
            ASSERT_TRUE(x->distinct == y->distinct);
        }
        /* top values of c (clear heavy hitters, few distinct): identical */
        const leap_stats_column *x = &a.cols[C_C], *y = &b.cols[C_C];
        ASSERT_EQ_INT(x->n_top, y->n_top);
        for (size_t i = 0; i < x->n_top; i++) {
            ASSERT_EQ_U64(x->top[i].key, y->top[i].key);
            ASSERT_EQ_U64(x->top[i].count, y->top[i].count);
            ASSERT_TRUE(x->top[i].label_rate == y->top[i].label_rate);
        }
        ASSERT_TRUE(a.label_rate == b.label_rate);
        leap_stats_free(&b);
    }
    leap_stats_free(&a);
}

TEST(bad_options) {
    const char *lb[] = {"c", "nosuch"};
    leap_dataset *ds;
    leap_err err = {0};
    ASSERT_OK(fixture());
    ASSERT_OK(leap_dataset_open(fx.path, &ds, &err));
    leap_stats_opts o;
    leap_stats_opts_init(&o);
    o.label_by = lb;
    o.n_label_by = 2;
    leap_stats st;
    ASSERT_EQ_INT(leap_stats_compute(ds, &o, &st, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "'nosuch'");
    leap_stats_free(&st);
    o.n_label_by = 0;
    o.top_k = 1000000;
    ASSERT_EQ_INT(leap_stats_compute(ds, &o, &st, &err), LEAP_EINVAL);
    leap_stats_free(&st);
    leap_dataset_close(ds);
}

/* Renders into a memory buffer; caller frees. */
static char *render(int (*fn)(FILE *, const leap_stats *), const leap_stats *st) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    int rc = fn(f, st);
    fclose(f);
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

TEST(renderers) {
    const char *lb[] = {"c"};
    leap_stats st;
    ASSERT_OK(compute(2, lb, 1, &st));
    char *t = render(leap_stats_write_table, &st);
    char *j = render(leap_stats_write_json, &st);
    char *h = render(leap_stats_write_html, &st);
    ASSERT_TRUE(t && j && h);
    /* table: one block per column, the rank-error bound said once */
    ASSERT_STR_CONTAINS(t, "== label (label)");
    ASSERT_STR_CONTAINS(t, "== m (multi_categorical)");
    ASSERT_STR_CONTAINS(t, "== ts (timestamp)");
    ASSERT_STR_CONTAINS(t, "rank error <=");
    ASSERT_STR_CONTAINS(t, "label rate");
    /* JSON: no NaN/inf tokens, text escaped */
    ASSERT_TRUE(j[0] == '{' && !strstr(j, "nan") && !strstr(j, "inf"));
    ASSERT_STR_CONTAINS(j, "\"value\": \"<x&y>\\\"'\"");
    ASSERT_STR_CONTAINS(j, "\"label_rate\": ");
    /* HTML: self-contained, SVG histograms, dictionary text escaped */
    ASSERT_STR_CONTAINS(h, "<svg");
    ASSERT_STR_CONTAINS(h, "&lt;x&amp;y&gt;&quot;&#39;");
    ASSERT_TRUE(!strstr(h, EVIL_TEXT));
    ASSERT_TRUE(!strstr(h, "src=") && !strstr(h, "href="));
    free(t);
    free(j);
    free(h);
    leap_stats_free(&st);
}
