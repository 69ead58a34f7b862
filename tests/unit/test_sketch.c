/* Unit tests for leap/sketch.h: KLL quantiles, HyperLogLog, Space-Saving and
 * moments, each checked against an exact reference computed here (a sorted
 * copy, a true count table, a two-pass mean/variance). Does not time anything.
 *
 * Sizes: 10^6 values (about 1 s in Release, 2 s under ASan+UBSan);
 * LEAP_TEST_SKETCH_N (>= 1000) overrides it. */
#include "harness.h"
#include "leap/sketch.h"

static size_t big_n(void) {
    const char *e = getenv("LEAP_TEST_SKETCH_N");
    if (e && atol(e) >= 1000) return (size_t)atol(e);
    return 1000000;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Fraction of sorted[0..n) that is <= v: the true normalised rank. */
static double true_rank(const double *sorted, size_t n, double v) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (double)lo / (double)n;
}

enum { DIST_UNIFORM, DIST_NORMAL, DIST_PARETO, DIST_COUNT };
static const char *dist_names[DIST_COUNT] = {"uniform", "normal", "pareto"};

static void gen(int dist, double *x, size_t n, uint64_t seed) {
    leap_rng r = {seed};
    for (size_t i = 0; i < n; i++) {
        double u = leap_rng_uniform(&r);
        switch (dist) {
        case DIST_UNIFORM: x[i] = u * 100.0 - 50.0; break;
        case DIST_NORMAL: { /* Box–Muller, one of the pair */
            double u2 = leap_rng_uniform(&r);
            x[i] = 3.0 + 2.0 * sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * u2);
            break;
        }
        default: x[i] = pow(1.0 - u, -1.0 / 1.2); /* Pareto, alpha 1.2: infinite variance */
        }
    }
}

static const double qs[] = {0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999};
#define NQ (sizeof qs / sizeof qs[0])

/* Largest |true rank of quantile(q) - q| over qs. */
static double worst_rank_error(const leap_kll *s, const double *sorted, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < NQ; i++) {
        double e = fabs(true_rank(sorted, n, leap_kll_quantile(s, qs[i])) - qs[i]);
        if (!(e <= worst)) worst = e; /* NaN propagates as a failure */
    }
    return worst;
}

/* Below k items the sketch holds every value with weight 1, so the
 * inclusive rank rule has an exact answer: the ceil(q·n)-th smallest value.
 * One batch call answers unsorted ranks, ties and the edge ranks. */
TEST(kll_quantiles_batch_exact_when_small) {
    enum { N = 150, Q = 400 };
    double x[N], sorted[N], q[Q], out[Q];
    leap_rng r = {5};
    for (int i = 0; i < N; i++)
        x[i] = sorted[i] = (double)(leap_rng_next(&r) % 60); /* many ties */
    leap_kll *s;
    ASSERT_TRUE(leap_kll_create(200, 1, &s) == LEAP_OK);
    for (int i = 0; i < N; i++)
        leap_kll_add(s, x[i]);
    qsort(sorted, N, sizeof *sorted, cmp_dbl);
    for (int i = 0; i < Q; i++)
        q[i] = leap_rng_uniform(&r);
    q[0] = 0;
    q[1] = 1;
    q[2] = NAN;
    q[3] = 1.0 / N; /* exactly the first item's cumulative weight */
    q[4] = -0.5;
    ASSERT_TRUE(leap_kll_quantiles(s, q, Q, out) == LEAP_OK);
    ASSERT_TRUE(out[0] == sorted[0] && out[1] == sorted[N - 1] && isnan(out[2]));
    ASSERT_TRUE(out[4] == sorted[0]);
    for (int i = 3; i < Q; i++) {
        if (i == 4) continue;
        size_t k = (size_t)ceil(q[i] * N); /* 1-based rank reached first */
        if (k < 1) k = 1;
        ASSERT_TRUE(out[i] == sorted[k - 1]);
        ASSERT_TRUE(out[i] == leap_kll_quantile(s, q[i]));
    }
    leap_kll_destroy(s);
}

/* Tolerance: leap_kll_error_bound() (DataSketches' 99%-confidence fit, 1.65%
 * at k = 200). Seeds are fixed, so the run is deterministic; at k = 200 the
 * measured worst errors are a fraction of the bound. */
TEST(kll_quantiles_three_distributions_single_and_merged) {
    size_t n = big_n();
    double *x = malloc(n * sizeof *x), *sorted = malloc(n * sizeof *sorted);
    ASSERT_TRUE(x && sorted);
    for (int d = 0; d < DIST_COUNT; d++) {
        gen(d, x, n, 1000 + (uint64_t)d);
        leap_kll *s, *part[4];
        ASSERT_OK(leap_kll_create(200, 42, &s));
        for (int p = 0; p < 4; p++)
            ASSERT_OK(leap_kll_create(200, 7 + (uint64_t)p, &part[p]));
        for (size_t i = 0; i < n; i++) {
            leap_kll_add(s, x[i]);
            leap_kll_add(part[i * 4 / n], x[i]); /* four disjoint quarters */
        }
        for (int p = 1; p < 4; p++)
            ASSERT_OK(leap_kll_merge(part[0], part[p]));
        memcpy(sorted, x, n * sizeof *x);
        qsort(sorted, n, sizeof *sorted, cmp_dbl);

        double bound = leap_kll_error_bound(s);
        ASSERT_NEAR(bound, 0.0165, 0.0005);
        double e1 = worst_rank_error(s, sorted, n), e4 = worst_rank_error(part[0], sorted, n);
        if (!(e1 <= bound))
            TH_FAIL("%s: single sketch rank error %g > %g", dist_names[d], e1, bound);
        if (!(e4 <= bound))
            TH_FAIL("%s: merged sketch rank error %g > %g", dist_names[d], e4, bound);
        /* rank() is the inverse view: tolerance is the same bound */
        for (size_t i = 0; i < NQ; i++) {
            double v = sorted[(size_t)(qs[i] * (double)n)];
            ASSERT_NEAR(leap_kll_rank(s, v), true_rank(sorted, n, v), bound);
        }
        /* exact bookkeeping */
        ASSERT_EQ_U64(leap_kll_count(s), n);
        ASSERT_EQ_U64(leap_kll_count(part[0]), n);
        ASSERT_TRUE(leap_kll_min(s) == sorted[0] && leap_kll_max(s) == sorted[n - 1]);
        ASSERT_TRUE(leap_kll_min(part[0]) == sorted[0] && leap_kll_max(part[0]) == sorted[n - 1]);
        ASSERT_TRUE(leap_kll_quantile(s, 0) == sorted[0]);
        ASSERT_TRUE(leap_kll_quantile(s, 1) == sorted[n - 1]);
        ASSERT_TRUE(leap_kll_rank(s, sorted[n - 1]) == 1.0);
        leap_kll_destroy(s);
        for (int p = 0; p < 4; p++)
            leap_kll_destroy(part[p]);
    }
    free(x);
    free(sorted);
}

static leap_kll *kll_of(uint32_t k, uint64_t seed, const double *x, size_t n) {
    leap_kll *s;
    if (leap_kll_create(k, seed, &s) != LEAP_OK) return NULL;
    for (size_t i = 0; i < n; i++)
        leap_kll_add(s, x[i]);
    return s;
}

TEST(kll_deterministic_for_a_seed) {
    size_t n = 100000;
    double *x = malloc(n * sizeof *x);
    ASSERT_TRUE(x);
    gen(DIST_NORMAL, x, n, 5);
    leap_kll *a = kll_of(200, 99, x, n), *b = kll_of(200, 99, x, n), *c = kll_of(200, 100, x, n);
    ASSERT_TRUE(a && b && c);
    int differs = 0;
    for (int i = 0; i <= 100; i++) {
        double q = i / 100.0;
        ASSERT_TRUE(leap_kll_quantile(a, q) == leap_kll_quantile(b, q)); /* bitwise equal */
        differs |= leap_kll_quantile(a, q) != leap_kll_quantile(c, q);
    }
    ASSERT_TRUE(differs); /* the seed does steer the coin flips */
    leap_buf ba = {0}, bb = {0};
    ASSERT_OK(leap_kll_write(a, &ba));
    ASSERT_OK(leap_kll_write(b, &bb));
    ASSERT_TRUE(ba.len == bb.len && memcmp(ba.p, bb.p, ba.len) == 0);
    leap_buf_free(&ba);
    leap_buf_free(&bb);
    leap_kll_destroy(a);
    leap_kll_destroy(b);
    leap_kll_destroy(c);
    free(x);
}

TEST(kll_small_exact_empty_and_nan) {
    leap_kll *s;
    ASSERT_EQ_INT(leap_kll_create(4, 1, &s), LEAP_EINVAL);
    ASSERT_OK(leap_kll_create(200, 1, &s));
    ASSERT_TRUE(isnan(leap_kll_quantile(s, 0.5)) && isnan(leap_kll_min(s)));
    ASSERT_TRUE(isnan(leap_kll_rank(s, 0)));
    leap_kll_add(s, NAN);
    ASSERT_EQ_U64(leap_kll_count(s), 0);
    for (int i = 100; i >= 1; i--) /* below k: the sketch is exact */
        leap_kll_add(s, i);
    ASSERT_EQ_U64(leap_kll_count(s), 100);
    ASSERT_NEAR(leap_kll_quantile(s, 0.5), 50, 0);
    ASSERT_NEAR(leap_kll_quantile(s, 0.505), 51, 0);
    ASSERT_NEAR(leap_kll_rank(s, 25), 0.25, 0);
    ASSERT_NEAR(leap_kll_min(s), 1, 0);
    ASSERT_NEAR(leap_kll_max(s), 100, 0);
    ASSERT_OK(leap_kll_merge(s, s)); /* self-merge doubles every weight */
    ASSERT_EQ_U64(leap_kll_count(s), 200);
    ASSERT_NEAR(leap_kll_rank(s, 25), 0.25, 0);
    leap_kll *other;
    ASSERT_OK(leap_kll_create(100, 1, &other));
    ASSERT_EQ_INT(leap_kll_merge(s, other), LEAP_EINVAL);
    leap_kll_destroy(other);
    leap_kll_destroy(s);
}

TEST(kll_serialise_round_trip) {
    size_t n = 200000;
    double *x = malloc(n * sizeof *x);
    ASSERT_TRUE(x);
    gen(DIST_PARETO, x, n, 11);
    leap_kll *a = kll_of(200, 3, x, n / 2), *b;
    ASSERT_TRUE(a);
    leap_buf buf = {0}, buf2 = {0};
    ASSERT_OK(leap_kll_write(a, &buf));
    leap_err err = {0};
    ASSERT_OK(leap_kll_read(buf.p, buf.len, &b, &err));
    ASSERT_OK(leap_kll_write(b, &buf2));
    ASSERT_TRUE(buf.len == buf2.len && memcmp(buf.p, buf2.p, buf.len) == 0);
    ASSERT_EQ_U64(leap_kll_count(b), leap_kll_count(a));
    ASSERT_TRUE(leap_kll_min(a) == leap_kll_min(b) && leap_kll_max(a) == leap_kll_max(b));
    ASSERT_TRUE(leap_kll_error_bound(a) == leap_kll_error_bound(b));
    /* the generator state travels too: adding more after the round trip
     * gives the same sketch as never having written it */
    for (size_t i = n / 2; i < n; i++) {
        leap_kll_add(a, x[i]);
        leap_kll_add(b, x[i]);
    }
    for (int i = 0; i <= 200; i++)
        ASSERT_TRUE(leap_kll_quantile(a, i / 200.0) == leap_kll_quantile(b, i / 200.0));
    ASSERT_TRUE(leap_kll_rank(a, 2.0) == leap_kll_rank(b, 2.0));
    /* an empty sketch round-trips too */
    leap_kll *e, *e2;
    ASSERT_OK(leap_kll_create(8, 0, &e));
    buf.len = 0;
    ASSERT_OK(leap_kll_write(e, &buf));
    ASSERT_OK(leap_kll_read(buf.p, buf.len, &e2, &err));
    ASSERT_EQ_U64(leap_kll_count(e2), 0);
    ASSERT_TRUE(isnan(leap_kll_quantile(e2, 0.5)));
    leap_kll_destroy(e);
    leap_kll_destroy(e2);
    leap_buf_free(&buf);
    leap_buf_free(&buf2);
    leap_kll_destroy(a);
    leap_kll_destroy(b);
    free(x);
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void reseal(uint8_t *p, size_t len) { /* recompute the trailing checksum */
    uint64_t h = leap_hash64(p, len - 8, 0);
    for (int i = 0; i < 8; i++)
        p[len - 8 + i] = (uint8_t)(h >> (8 * i));
}

TEST(kll_read_refuses_malformed_input) {
    leap_kll *s, *r = NULL;
    ASSERT_OK(leap_kll_create(8, 5, &s));
    for (int i = 0; i < 300; i++)
        leap_kll_add(s, (double)((i * 37) % 101));
    leap_buf buf = {0};
    ASSERT_OK(leap_kll_write(s, &buf));
    leap_kll_destroy(s);
    size_t len = buf.len;
    uint8_t *b = malloc(len); /* exact-size copies: ASan sees any over-read */
    ASSERT_TRUE(b);
    leap_err err = {0};
    ASSERT_EQ_INT(leap_kll_read(NULL, 0, &r, &err), LEAP_ECORRUPT);
    for (size_t cut = 0; cut < len; cut++) { /* every truncation */
        uint8_t *t = malloc(cut ? cut : 1);
        memcpy(t, buf.p, cut);
        int rc = leap_kll_read(t, cut, &r, &err);
        free(t);
        if (rc != LEAP_ECORRUPT) TH_FAIL("truncated to %zu bytes: status %d", cut, rc);
        ASSERT_TRUE(r == NULL && err.msg[0]);
    }
    for (size_t i = 0; i < len; i++) { /* every single-byte garble */
        memcpy(b, buf.p, len);
        b[i] ^= 0x5a;
        err.msg[0] = 0;
        int rc = leap_kll_read(b, len, &r, &err);
        int want = i >= 4 && i < 8 ? LEAP_EVERSION : LEAP_ECORRUPT;
        if (rc != want) TH_FAIL("byte %zu garbled: status %d, want %d", i, rc, want);
        ASSERT_TRUE(r == NULL && err.msg[0]);
    }
    /* structural lies with a valid checksum are caught by the field checks */
    memcpy(b, buf.p, len);
    put32(b + 8, 3); /* k below 8 */
    reseal(b, len);
    ASSERT_EQ_INT(leap_kll_read(b, len, &r, &err), LEAP_ECORRUPT);
    ASSERT_STR_CONTAINS(err.msg, "k = 3");
    memcpy(b, buf.p, len);
    b[24] ^= 1; /* n no longer matches the level weights */
    reseal(b, len);
    ASSERT_EQ_INT(leap_kll_read(b, len, &r, &err), LEAP_ECORRUPT);
    ASSERT_STR_CONTAINS(err.msg, "count");
    memcpy(b, buf.p, len);
    put32(b + 12, 1000); /* absurd level count */
    reseal(b, len);
    ASSERT_EQ_INT(leap_kll_read(b, len, &r, &err), LEAP_ECORRUPT);
    memcpy(b, buf.p, len);
    put32(b + 48, 0xffffffffu); /* level 0 size past the end */
    reseal(b, len);
    ASSERT_EQ_INT(leap_kll_read(b, len, &r, &err), LEAP_ECORRUPT);
    ASSERT_STR_CONTAINS(err.msg, "past the end");
    /* random garbage with the right magic */
    leap_rng g = {77};
    for (int t = 0; t < 200; t++) {
        for (size_t i = 0; i < len; i++)
            b[i] = (uint8_t)leap_rng_next(&g);
        memcpy(b, "LKLL\1\0\0\0", 8);
        ASSERT_EQ_INT(leap_kll_read(b, len, &r, &err), LEAP_ECORRUPT);
    }
    free(b);
    leap_buf_free(&buf);
}

/* ---- HyperLogLog ---------------------------------------------------------- */
/* Tolerance: 3 standard errors, 3 · 1.04 / sqrt(2^14) = 2.44%. */
TEST(hll_relative_error_and_merge) {
    leap_hll h, a, b;
    ASSERT_OK(leap_hll_init(&h, 14));
    ASSERT_OK(leap_hll_init(&a, 14));
    ASSERT_OK(leap_hll_init(&b, 14));
    double tol = 3 * 1.04 / sqrt(16384.0);
    /* 45000 and 60000 sit in the linear-counting / raw-estimate hand-over */
    const uint64_t checkpoints[] = {1000, 45000, 60000, 100000, 1000000};
    uint64_t i = 0;
    for (size_t c = 0; c < sizeof checkpoints / sizeof checkpoints[0]; c++) {
        for (; i < checkpoints[c]; i++) {
            uint64_t hv = leap_hash64(&i, sizeof i, 0);
            leap_hll_add(&h, hv);
            leap_hll_add(&h, hv); /* duplicates change nothing */
            leap_hll_add(i % 2 ? &a : &b, hv);
        }
        double est = leap_hll_estimate(&h), want = (double)checkpoints[c];
        if (!(fabs(est / want - 1) <= tol))
            TH_FAIL("n = %.0f: estimate %.1f, relative error %.4f > %.4f", want, est,
                    est / want - 1, tol);
    }
    ASSERT_OK(leap_hll_merge(&a, &b));
    ASSERT_TRUE(memcmp(a.reg, h.reg, 16384) == 0);
    ASSERT_TRUE(leap_hll_estimate(&a) == leap_hll_estimate(&h));
    leap_hll other;
    ASSERT_OK(leap_hll_init(&other, 12));
    ASSERT_EQ_INT(leap_hll_merge(&a, &other), LEAP_EINVAL);
    leap_hll_free(&other);
    ASSERT_EQ_INT(leap_hll_init(&other, 3), LEAP_EINVAL);
    ASSERT_EQ_INT(leap_hll_init(&other, 19), LEAP_EINVAL);
    leap_hll_free(&other);
    leap_hll_free(&h);
    leap_hll_free(&a);
    leap_hll_free(&b);
}

TEST(hll_empty_and_extreme_hashes) {
    leap_hll h;
    ASSERT_OK(leap_hll_init(&h, 4));
    ASSERT_NEAR(leap_hll_estimate(&h), 0, 0);
    leap_hll_add(&h, 0); /* all-zero suffix: the largest rank, 64 - p + 1 */
    leap_hll_add(&h, UINT64_MAX);
    ASSERT_EQ_INT(h.reg[0], 61);
    ASSERT_EQ_INT(h.reg[15], 1);
    ASSERT_NEAR(leap_hll_estimate(&h), 16 * log(16.0 / 14.0), 1e-12); /* linear counting */
    leap_hll_free(&h);
}

/* ---- Space-Saving ---------------------------------------------------------- */
#define ZIPF_KEYS 100000
#define TOPK_CAP  1000

/* Zipf(s = 1.1) over [0, ZIPF_KEYS) by inverse CDF. */
static void zipf_stream(uint64_t *out, size_t n, uint64_t seed) {
    double *cdf = malloc(ZIPF_KEYS * sizeof *cdf), acc = 0;
    for (size_t r = 0; r < ZIPF_KEYS; r++)
        cdf[r] = acc += pow((double)(r + 1), -1.1);
    leap_rng g = {seed};
    for (size_t i = 0; i < n; i++) {
        double u = leap_rng_uniform(&g) * acc;
        size_t lo = 0, hi = ZIPF_KEYS - 1;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (cdf[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        /* spread the ranks over the key space so keys are not small integers */
        out[i] = (uint64_t)lo * 0x9e3779b97f4a7c15ULL;
    }
    free(cdf);
}

static size_t key_rank(uint64_t key) { /* inverse of the spreading above */
    return (size_t)(key * 0xf1de83e19937733dULL);
}

/* Checks the Space-Saving contract of t against the true counts. */
static int topk_guarantee_holds(const leap_topk *t, const double *truth, char *why, size_t wn) {
    leap_topk_item *it = malloc(TOPK_CAP * sizeof *it);
    size_t m = leap_topk_items(t, it, TOPK_CAP);
    double total = leap_topk_total(t), thr = total / TOPK_CAP;
    char *seen = calloc(ZIPF_KEYS, 1);
    int ok = m == TOPK_CAP;
    if (!ok) snprintf(why, wn, "%zu items, want %d", m, TOPK_CAP);
    for (size_t i = 0; ok && i < m; i++) {
        size_t r = key_rank(it[i].key);
        if (r >= ZIPF_KEYS) {
            snprintf(why, wn, "unknown key %" PRIu64, it[i].key);
            ok = 0;
            break;
        }
        seen[r] = 1;
        if (!(it[i].count - it[i].error <= truth[r] && truth[r] <= it[i].count &&
              it[i].error <= thr)) {
            snprintf(why, wn, "key rank %zu: true %.0f, count %.0f, error %.0f", r, truth[r],
                     it[i].count, it[i].error);
            ok = 0;
        }
        if (i && (it[i].count > it[i - 1].count)) {
            snprintf(why, wn, "items not sorted at %zu", i);
            ok = 0;
        }
    }
    for (size_t r = 0; ok && r < ZIPF_KEYS; r++)
        if (truth[r] > thr && !seen[r]) {
            snprintf(why, wn, "heavy key rank %zu (true %.0f > %.0f) not reported", r, truth[r],
                     thr);
            ok = 0;
        }
    free(seen);
    free(it);
    return ok;
}

/* Exact contract, no tolerance: it is a deterministic guarantee. */
TEST(topk_zipf_guarantee_single_and_merged) {
    size_t n = big_n();
    uint64_t *s = malloc(n * sizeof *s);
    double *truth = calloc(ZIPF_KEYS, sizeof *truth);
    ASSERT_TRUE(s && truth);
    zipf_stream(s, n, 2024);
    leap_topk *all, *h1, *h2;
    ASSERT_OK(leap_topk_create(TOPK_CAP, &all));
    ASSERT_OK(leap_topk_create(TOPK_CAP, &h1));
    ASSERT_OK(leap_topk_create(TOPK_CAP, &h2));
    for (size_t i = 0; i < n; i++) {
        truth[key_rank(s[i])] += 1;
        leap_topk_add(all, s[i], 1.0);
        leap_topk_add(i < n / 2 ? h1 : h2, s[i], 1.0);
    }
    char why[256] = "";
    ASSERT_NEAR(leap_topk_total(all), (double)n, 0);
    if (!topk_guarantee_holds(all, truth, why, sizeof why)) TH_FAIL("single: %s", why);
    ASSERT_OK(leap_topk_merge(h1, h2));
    ASSERT_NEAR(leap_topk_total(h1), (double)n, 0);
    if (!topk_guarantee_holds(h1, truth, why, sizeof why)) TH_FAIL("merged: %s", why);
    /* the merged sketch keeps its guarantee under further adds */
    for (size_t i = 0; i < n / 4; i++) {
        truth[key_rank(s[i])] += 1;
        leap_topk_add(h1, s[i], 1.0);
    }
    if (!topk_guarantee_holds(h1, truth, why, sizeof why)) TH_FAIL("merged + adds: %s", why);
    leap_topk_destroy(all);
    leap_topk_destroy(h1);
    leap_topk_destroy(h2);
    free(s);
    free(truth);
}

TEST(topk_exact_below_capacity_weights_and_ties) {
    leap_topk *t, *u, *w;
    ASSERT_EQ_INT(leap_topk_create(0, &t), LEAP_EINVAL);
    ASSERT_OK(leap_topk_create(8, &t));
    ASSERT_OK(leap_topk_create(8, &u));
    leap_topk_add(t, 5, 2.5);
    leap_topk_add(t, 3, 1.0);
    leap_topk_add(t, 5, 0.5);
    leap_topk_add(t, 9, 1.0);
    leap_topk_add(t, 9, -1.0); /* ignored */
    leap_topk_add(t, 9, NAN);  /* ignored */
    leap_topk_add(u, 3, 4.0);
    leap_topk_item it[8];
    ASSERT_EQ_INT(leap_topk_items(t, it, 8), 3);
    ASSERT_EQ_U64(it[0].key, 5);
    ASSERT_NEAR(it[0].count, 3.0, 0);
    ASSERT_EQ_U64(it[1].key, 3); /* tie at 1.0: smaller key first */
    ASSERT_EQ_U64(it[2].key, 9);
    ASSERT_NEAR(it[2].error, 0, 0);
    ASSERT_OK(leap_topk_merge(t, u)); /* neither full: exact */
    ASSERT_EQ_INT(leap_topk_items(t, it, 2), 2);
    ASSERT_EQ_U64(it[0].key, 3);
    ASSERT_NEAR(it[0].count, 5.0, 0);
    ASSERT_NEAR(it[0].error, 0, 0);
    ASSERT_NEAR(leap_topk_total(t), 9.0, 0);
    ASSERT_OK(leap_topk_create(4, &w));
    ASSERT_EQ_INT(leap_topk_merge(t, w), LEAP_EINVAL);
    /* churn through many evictions (the map must stay consistent); key 1 holds
     * half the weight, above total / capacity, so it must be reported */
    for (uint64_t k = 0; k < 20000; k++)
        leap_topk_add(w, k % 2 == 0 ? 1 : k, 1.0);
    ASSERT_EQ_INT(leap_topk_items(w, it, 8), 4);
    ASSERT_EQ_U64(it[0].key, 1);
    ASSERT_TRUE(it[0].count - it[0].error <= 10001 && 10001 <= it[0].count);
    leap_topk_destroy(t);
    leap_topk_destroy(u);
    leap_topk_destroy(w);
}

/* ---- moments --------------------------------------------------------------- */
/* Tolerance 1e-9 relative: both sides are O(n·eps) accurate in double. */
TEST(moments_merge_matches_two_pass) {
    size_t n = 100000;
    double *x = malloc(n * sizeof *x);
    ASSERT_TRUE(x);
    gen(DIST_NORMAL, x, n, 3);
    for (size_t i = 0; i < n; i++)
        x[i] = 1e4 + x[i]; /* a large offset, where naive sum-of-squares fails */
    double mean = 0, var = 0, mn = x[0], mx = x[0];
    for (size_t i = 0; i < n; i++) {
        mean += x[i];
        mn = fmin(mn, x[i]);
        mx = fmax(mx, x[i]);
    }
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        var += (x[i] - mean) * (x[i] - mean);
    var /= (double)n;
    leap_moments total, chunk;
    leap_moments_init(&total);
    ASSERT_TRUE(isnan(leap_moments_var(&total)));
    size_t i = 0, len = 1;
    while (i < n) { /* chunks of growing, uneven sizes */
        leap_moments_init(&chunk);
        for (size_t j = 0; j < len && i < n; j++)
            leap_moments_add(&chunk, x[i++]);
        leap_moments_add(&chunk, NAN);
        leap_moments_merge(&total, &chunk);
        len = len * 3 + 1;
    }
    leap_moments empty;
    leap_moments_init(&empty);
    leap_moments_merge(&total, &empty);
    ASSERT_NEAR(total.n, (double)n, 0);
    ASSERT_NEAR(total.mean, mean, 1e-9 * fabs(mean));
    ASSERT_NEAR(leap_moments_var(&total), var, 1e-9 * var);
    ASSERT_TRUE(total.min == mn && total.max == mx);
    free(x);
}
