/* Unit tests for src/data/datagen.c: determinism across thread counts and
 * seeds, the Criteo row format, configured missing rates, the target CTR, the
 * truth file, and the Bayes metrics against an independent recomputation from
 * the files written. Row counts are small (<= 50k) so the suite stays fast
 * under the sanitizers; each tolerance says why it is that wide. */
#include "harness.h"
#include "leap/datagen.h"

#include <ctype.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static const char *tmp_path(const char *name) {
    static char buf[4][256];
    static int i;
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/leap_datagen_XXXXXX");
        if (!mkdtemp(tmpdir)) return NULL;
    }
    char *b = buf[i++ & 3];
    snprintf(b, sizeof buf[0], "%s/%s", tmpdir, name);
    return b;
}

/* Reads a whole file; caller frees. NULL when missing. */
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = 0;
        *len = (size_t)n;
    }
    return b;
}

static int gen(const char *name, uint64_t rows, uint64_t seed, int threads, double ctr,
               leap_datagen_report *rep) {
    leap_datagen_opts o = {
        .rows = rows, .seed = seed, .output = tmp_path(name), .threads = threads, .base_ctr = ctr};
    leap_err err = {0};
    int rc = leap_datagen(&o, rep, &err);
    if (rc != LEAP_OK) fprintf(stderr, "  leap_datagen: %s\n", err.msg);
    return rc;
}

static int same_files(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static const char *truth_of(const char *name) {
    static char b[300];
    snprintf(b, sizeof b, "%s.truth", tmp_path(name));
    return b;
}

/* 20k rows span 5 blocks of 4096 and several waves for every thread count. */
TEST(same_bytes_for_any_thread_count_and_seed_matters) {
    leap_datagen_report r1, r2, r3, r4;
    ASSERT_OK(gen("t1.tsv", 20000, 7, 1, 0, &r1));
    ASSERT_OK(gen("t2.tsv", 20000, 7, 2, 0, &r2));
    ASSERT_OK(gen("t3.tsv", 20000, 7, 3, 0, &r3));
    ASSERT_TRUE(same_files(tmp_path("t1.tsv"), tmp_path("t2.tsv")));
    ASSERT_TRUE(same_files(tmp_path("t1.tsv"), tmp_path("t3.tsv")));
    char t1[300];
    snprintf(t1, sizeof t1, "%s", truth_of("t1.tsv"));
    ASSERT_TRUE(same_files(t1, truth_of("t2.tsv")));
    ASSERT_TRUE(same_files(t1, truth_of("t3.tsv")));
    ASSERT_NEAR(r1.bayes_logloss, r2.bayes_logloss, 0);
    ASSERT_NEAR(r1.bayes_auc, r3.bayes_auc, 0);
    /* a rerun rewrites the same bytes; another seed gives other bytes */
    ASSERT_OK(gen("t2.tsv", 20000, 7, 2, 0, &r2));
    ASSERT_TRUE(same_files(tmp_path("t1.tsv"), tmp_path("t2.tsv")));
    ASSERT_OK(gen("t4.tsv", 20000, 8, 2, 0, &r4));
    ASSERT_TRUE(!same_files(tmp_path("t1.tsv"), tmp_path("t4.tsv")));
    ASSERT_TRUE(!same_files(t1, truth_of("t4.tsv")));
    /* the first rows do not depend on how many rows follow */
    ASSERT_OK(gen("t5.tsv", 100, 7, 2, 0, &r4));
    size_t n5 = 0, n1 = 0;
    char *a = slurp(tmp_path("t5.tsv"), &n5), *b = slurp(tmp_path("t1.tsv"), &n1);
    ASSERT_TRUE(a && b && n5 < n1 && memcmp(a, b, n5) == 0);
    free(a);
    free(b);
}

/* One 50k-row file shared by the checks below. */
#define N50 50000
static leap_datagen_report rep50;
static int have50;

static int need50(void) {
    if (!have50) have50 = gen("f50.tsv", N50, 42, 2, 0, &rep50) == LEAP_OK;
    return have50;
}

static int is_int(const char *s, size_t n, int allow_neg) {
    size_t i = 0;
    if (allow_neg && n > 1 && s[0] == '-') i = 1;
    if (i == n || n > 11) return 0;
    for (; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

static int is_hex8(const char *s, size_t n) {
    if (n != 8) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f')) return 0;
    return 1;
}

TEST(row_format_and_missing_rates) {
    ASSERT_TRUE(need50());
    size_t len = 0;
    char *buf = slurp(tmp_path("f50.tsv"), &len);
    ASSERT_TRUE(buf != NULL && len > 0 && buf[len - 1] == '\n');
    long missing[40] = {0}, rows = 0, negatives = 0, clicks = 0;
    char *line = buf;
    int bad = 0;
    while (line < buf + len && !bad) {
        char *end = strchr(line, '\n');
        char *f = line;
        int col = 0;
        for (;;) {
            char *tab = memchr(f, '\t', (size_t)(end - f));
            char *fe = tab ? tab : end;
            size_t n = (size_t)(fe - f);
            if (col == 0) {
                if (n != 1 || (f[0] != '0' && f[0] != '1')) bad = 1;
                clicks += f[0] == '1';
            } else if (n == 0) {
                missing[col]++;
            } else if (col <= 13) {
                if (!is_int(f, n, col == 2)) bad = 2; /* only I2 may be negative */
                negatives += f[0] == '-';
            } else if (!is_hex8(f, n)) {
                bad = 3;
            }
            col++;
            if (!tab) break;
            f = tab + 1;
        }
        if (col != 40) bad = 4;
        rows++;
        line = end + 1;
    }
    free(buf);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_EQ_INT(rows, N50);
    ASSERT_TRUE(negatives > 0); /* I2 is negative ~10% of the time, as in Criteo */
    ASSERT_NEAR((double)clicks / rows, rep50.ctr, 1e-12);
    /* binomial std of a rate at 50k rows is <= 0.0023; 0.012 is > 5 sigma */
    int some_missing = 0;
    for (int c = 1; c <= 39; c++) {
        double want = leap_datagen_missing_rate(c), got = (double)missing[c] / rows;
        if (fabs(got - want) > 0.012)
            TH_FAIL("column %d: missing rate %.4f, configured %.4f", c, got, want);
        some_missing += want > 0.3;
    }
    ASSERT_TRUE(some_missing >= 6);
    ASSERT_NEAR(leap_datagen_missing_rate(0), -1, 0);
    ASSERT_NEAR(leap_datagen_missing_rate(40), -1, 0);
}

/* AUC with ties averaged, by sorting (pairs counted through ranks). */
typedef struct py {
    float p, y;
} py;
static int py_cmp(const void *a, const void *b) {
    float x = ((const py *)a)->p, z = ((const py *)b)->p;
    return x < z ? -1 : x > z;
}
static double ref_auc(py *v, size_t n) {
    qsort(v, n, sizeof *v, py_cmp);
    double pos = 0, rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].p == v[i].p)
            j++;
        double mid = 0.5 * (double)(i + 1 + j); /* average rank of the tie group */
        for (size_t k = i; k < j; k++)
            if (v[k].y > 0.5) {
                pos++;
                rank_sum += mid;
            }
        i = j;
    }
    double neg = (double)n - pos;
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

TEST(truth_file_and_bayes_metrics_recomputed) {
    ASSERT_TRUE(need50());
    size_t tlen = 0, dlen = 0;
    char *truth = slurp(truth_of("f50.tsv"), &tlen);
    char *data = slurp(tmp_path("f50.tsv"), &dlen);
    ASSERT_TRUE(truth && data);
    py *v = malloc(N50 * sizeof *v);
    ASSERT_TRUE(v != NULL);
    size_t n = 0;
    double sum_p = 0, sum_y = 0, ll = 0;
    int bad_fmt = 0, bad_range = 0;
    char *t = truth, *d = data;
    while (t < truth + tlen && n < N50) {
        char *end = strchr(t, '\n');
        *end = 0;
        char *e;
        float p = strtof(t, &e);
        char again[32];
        /* the file holds exactly what printf("%.9g") writes for the float */
        snprintf(again, sizeof again, "%.9g", (double)p);
        if (*e || strcmp(again, t) != 0) bad_fmt++;
        if (!(p > 0 && p < 1)) bad_range++;
        float y = d[0] == '1';
        v[n].p = p;
        v[n].y = y;
        sum_p += p;
        sum_y += y;
        ll -= y ? log((double)p) : log(1.0 - (double)p);
        n++;
        t = end + 1;
        d = strchr(d, '\n') + 1;
    }
    ASSERT_EQ_INT(bad_fmt, 0);
    ASSERT_EQ_INT(bad_range, 0);
    ASSERT_EQ_U64(n, N50);
    ASSERT_TRUE(t == truth + tlen); /* nothing after the last row */
    ASSERT_TRUE(d == data + dlen);
    ASSERT_EQ_U64(rep50.rows, N50);
    ASSERT_EQ_U64(rep50.bytes, tlen + dlen);
    /* mean p vs observed rate: std of the difference is sqrt(E[p(1-p)]/n) < 0.0023 */
    ASSERT_NEAR(sum_p / n, sum_y / n, 0.01);
    ASSERT_NEAR(rep50.ctr, sum_y / n, 1e-12);
    /* same float inputs, sums in double: only summation order differs */
    ASSERT_NEAR(rep50.bayes_logloss, ll / n, 1e-9);
    ASSERT_NEAR(rep50.bayes_auc, ref_auc(v, n), 1e-9);
    double h = -(sum_y / n) * log(sum_y / n) - (1 - sum_y / n) * log(1 - sum_y / n);
    ASSERT_NEAR(rep50.bayes_ne, (ll / n) / h, 1e-9);
    /* realistic difficulty: Criteo-like, well above chance, below perfect */
    ASSERT_TRUE(rep50.bayes_auc > 0.76 && rep50.bayes_auc < 0.87);
    free(v);
    free(truth);
    free(data);
}

/* Bias is solved on 32k pilot rows; the observed rate on 50k rows has std
 * < 0.002, so ±0.02 leaves room for both. */
TEST(mean_ctr_hits_the_target) {
    ASSERT_TRUE(need50());
    ASSERT_NEAR(rep50.ctr, 0.25, 0.02);
    leap_datagen_report r;
    ASSERT_OK(gen("c10.tsv", 30000, 3, 2, 0.10, &r));
    ASSERT_NEAR(r.ctr, 0.10, 0.02);
    ASSERT_OK(gen("c03.tsv", 30000, 3, 2, 0.03, &r));
    ASSERT_NEAR(r.ctr, 0.03, 0.01);
}

TEST(bad_options_write_nothing) {
    leap_err err = {0};
    leap_datagen_report r;
    leap_datagen_opts o = {.rows = 0, .seed = 1, .output = tmp_path("bad.tsv")};
    ASSERT_EQ_INT(leap_datagen(&o, &r, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "rows");
    o.rows = 10;
    o.base_ctr = 1.5;
    ASSERT_EQ_INT(leap_datagen_check(&o, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "ctr");
    o.base_ctr = 0;
    o.threads = -1;
    ASSERT_EQ_INT(leap_datagen_check(&o, &err), LEAP_EINVAL);
    o.threads = 0;
    o.output = NULL;
    ASSERT_EQ_INT(leap_datagen_check(&o, &err), LEAP_EINVAL);
    ASSERT_TRUE(access(tmp_path("bad.tsv"), F_OK) != 0);
    /* an unwritable folder is an I/O error naming the path, and leaves nothing */
    o.output = tmp_path("no/such/dir.tsv");
    ASSERT_EQ_INT(leap_datagen(&o, &r, &err), LEAP_EIO);
    ASSERT_STR_CONTAINS(err.msg, "no/such");
    o.output = tmp_path("ok.tsv");
    ASSERT_OK(leap_datagen(&o, NULL, &err)); /* report is optional */
    ASSERT_TRUE(access(truth_of("ok.tsv"), F_OK) == 0);
}

/* Runs last (registration order): removes the scratch folder. */
TEST(zz_cleanup) {
    const char *names[] = {"t1.tsv",  "t2.tsv",  "t3.tsv",  "t4.tsv", "t5.tsv",
                           "f50.tsv", "c10.tsv", "c03.tsv", "ok.tsv"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        unlink(tmp_path(names[i]));
        unlink(truth_of(names[i]));
    }
    if (tmpdir[0]) ASSERT_OK(rmdir(tmpdir));
}
