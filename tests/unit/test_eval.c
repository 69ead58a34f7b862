/* Unit tests for src/eval/metrics.c: AUC against an O(n^2) pairwise count,
 * PR-AUC against a by-definition O(n * thresholds) average precision, AUC /
 * PR-AUC / logloss against scikit-learn (tests/ref/eval_ref.h, made by
 * tests/ref/make_eval_ref.py), logloss/NE/calibration/reliability against
 * hand-worked rows, sliced metrics against per-slice computation, input
 * validation and the two writers. No files, no network; runs in well under a
 * second even under sanitizers. */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"
#include "leap/eval.h"

#include <locale.h>

#include "../ref/eval_ref.h"

/* ---- independent references ----------------------------------------------- */

/* Weighted AUC by definition: over every (positive, negative) pair, 1 when the
 * positive scores higher, 1/2 on a tie, weighted by w_pos * w_neg. */
static double brute_auc(const float *p, const float *y, const float *w, size_t n) {
    double num = 0, wp = 0, wn = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        if (y[i] == 1.0f)
            wp += wi;
        else
            wn += wi;
        if (y[i] != 1.0f) continue;
        for (size_t j = 0; j < n; j++) {
            if (y[j] != 0.0f) continue;
            double wj = w ? w[j] : 1.0;
            if (p[i] > p[j])
                num += wi * wj;
            else if (p[i] == p[j])
                num += 0.5 * wi * wj;
        }
    }
    return (wp > 0 && wn > 0) ? num / (wp * wn) : NAN;
}

/* Average precision by definition: for each distinct score t, high to low,
 * P(t) and R(t) over rows with score >= t; AP = Σ (R_k - R_{k-1}) P_k. */
static double brute_ap(const float *p, const float *y, const float *w, size_t n) {
    double total_pos = 0;
    for (size_t i = 0; i < n; i++)
        total_pos += (w ? w[i] : 1.0) * y[i];
    if (!(total_pos > 0)) return NAN;
    double ap = 0, prev_r = 0, t = INFINITY;
    for (;;) {
        double next = -INFINITY; /* the largest score below t */
        for (size_t i = 0; i < n; i++)
            if (p[i] < t && p[i] > next) next = p[i];
        if (next == -INFINITY) break;
        t = next;
        double tp = 0, all = 0;
        for (size_t i = 0; i < n; i++) {
            if (p[i] < t) continue;
            double wi = w ? w[i] : 1.0;
            tp += wi * y[i];
            all += wi;
        }
        double r = tp / total_pos;
        if (r > prev_r) ap += (r - prev_r) * (tp / all);
        prev_r = r;
    }
    return ap;
}

/* NaN-aware closeness: both NaN passes, one NaN fails. */
#define ASSERT_NEAR_NAN(a, b, tol)                                                                 \
    do {                                                                                           \
        double tn_a = (a), tn_b = (b);                                                             \
        if (isnan(tn_a) || isnan(tn_b)) {                                                          \
            if (!(isnan(tn_a) && isnan(tn_b)))                                                     \
                TH_FAIL("%s vs %s: %.17g vs %.17g (NaN mismatch)", #a, #b, tn_a, tn_b);            \
        } else {                                                                                   \
            ASSERT_NEAR(tn_a, tn_b, tol);                                                          \
        }                                                                                          \
    } while (0)

/* Random rows with many ties: scores on a grid of 9 values (k/8), weights from
 * {0, 0.5, 1, 2.5} so zero weights and non-unit weights both occur. */
static void random_rows(leap_rng *r, float *p, float *y, float *w, size_t n) {
    static const float wv[4] = {0.0f, 0.5f, 1.0f, 2.5f};
    for (size_t i = 0; i < n; i++) {
        p[i] = (float)(leap_rng_next(r) % 9) / 8.0f;
        y[i] = (float)(leap_rng_next(r) & 1);
        w[i] = wv[leap_rng_next(r) % 4];
    }
}

/* ---- AUC and PR-AUC ----------------------------------------------------------- */

/* Sizes 1..5 cover the edge cases (one row, one class, all tied); 600 and
 * 1500 cross the switch from qsort to the radix sort (512 rows).
 * Tolerance 1e-12: both sides sum at most ~2e6 products of small exact
 * floats in double, in a different order; rounding stays below 1e-13. */
TEST(auc_matches_pairwise_count) {
    static const size_t sizes[] = {1, 2, 3, 4, 5, 10, 100, 600, 1500};
    static float p[1500], y[1500], w[1500];
    leap_rng r = {42};
    int nan_seen = 0, value_seen = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        int trials = n <= 10 ? 200 : 3;
        for (int t = 0; t < trials; t++) {
            random_rows(&r, p, y, w, n);
            if (t % 2) w[0] = 1.0f; /* keep total weight > 0 on most tiny cases */
            int ok_weight = 0;
            for (size_t i = 0; i < n; i++)
                ok_weight |= w[i] > 0;
            if (!ok_weight) continue; /* total weight 0 is an error, tested below */
            double want_w = brute_auc(p, y, w, n), want_u = brute_auc(p, y, NULL, n);
            ASSERT_NEAR_NAN(leap_metric_auc(p, y, w, n), want_w, 1e-12);
            ASSERT_NEAR_NAN(leap_metric_auc(p, y, NULL, n), want_u, 1e-12);
            if (isnan(want_w))
                nan_seen = 1;
            else
                value_seen = 1;
        }
    }
    ASSERT_TRUE(nan_seen && value_seen); /* both branches were exercised */
}

/* Tolerance 1e-12: same reasoning as above (sums of exact small products). */
TEST(pr_auc_matches_definition) {
    static const size_t sizes[] = {1, 2, 3, 5, 10, 100, 700};
    static float p[700], y[700], w[700];
    leap_rng r = {7};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        for (int t = 0; t < (n <= 10 ? 100 : 3); t++) {
            random_rows(&r, p, y, w, n);
            w[0] = 1.0f;
            leap_metrics m;
            ASSERT_OK(leap_metrics_compute(p, y, w, n, &m, NULL));
            ASSERT_NEAR_NAN(m.pr_auc, brute_ap(p, y, w, n), 1e-12);
            ASSERT_OK(leap_metrics_compute(p, y, NULL, n, &m, NULL));
            ASSERT_NEAR_NAN(m.pr_auc, brute_ap(p, y, NULL, n), 1e-12);
        }
    }
}

TEST(auc_simple_cases) {
    const float p[] = {0.9f, 0.8f, 0.3f, 0.1f};
    const float y_good[] = {1, 1, 0, 0}, y_bad[] = {0, 0, 1, 1}, y_one[] = {1, 1, 1, 1};
    ASSERT_NEAR(leap_metric_auc(p, y_good, NULL, 4), 1.0, 0);
    ASSERT_NEAR(leap_metric_auc(p, y_bad, NULL, 4), 0.0, 0);
    ASSERT_TRUE(isnan(leap_metric_auc(p, y_one, NULL, 4)));
    /* all tied: every pair counts 1/2 */
    const float tied[] = {0.5f, 0.5f, 0.5f, 0.5f};
    ASSERT_NEAR(leap_metric_auc(tied, y_good, NULL, 4), 0.5, 0);
    /* a positive class of zero total weight is as absent as no positive */
    const float w0[] = {0, 0, 1, 1};
    ASSERT_TRUE(isnan(leap_metric_auc(p, y_good, w0, 4)));
    /* -0.0 ties with +0.0 (its bit pattern must not sort it above 1.0) */
    const float pz[] = {-0.0f, 0.0f}, yz[] = {0, 1};
    ASSERT_NEAR(leap_metric_auc(pz, yz, NULL, 2), 0.5, 0);
    /* no negatives: precision is 1 at every threshold, AP = 1 */
    leap_metrics m;
    ASSERT_OK(leap_metrics_compute(p, y_one, NULL, 4, &m, NULL));
    ASSERT_NEAR(m.pr_auc, 1.0, 0);
}

/* Tolerance 1e-9 on AUC and PR-AUC: sklearn works in float64 on the same
 * float32 inputs, so only summation order differs (~1e-15); the expected
 * values were written with %.17g. Logloss: 1e-12 (300 terms of log, each
 * within a few ulps in either libm). */
TEST(matches_sklearn_reference) {
    for (size_t s = 0; s < sizeof eval_ref_sets / sizeof eval_ref_sets[0]; s++) {
        const eval_ref_set *rs = &eval_ref_sets[s];
        leap_metrics m;
        leap_err err = {0};
        ASSERT_OK(leap_metrics_compute(rs->p, rs->y, rs->w, rs->n, &m, &err));
        ASSERT_NEAR(m.auc, rs->auc, 1e-9);
        ASSERT_NEAR(m.pr_auc, rs->pr_auc, 1e-9);
        ASSERT_NEAR(m.logloss, rs->logloss, 1e-12);
        ASSERT_NEAR(leap_metric_auc(rs->p, rs->y, rs->w, rs->n), rs->auc, 1e-9);
        ASSERT_NEAR(leap_metric_logloss(rs->p, rs->y, rs->w, rs->n), rs->logloss, 1e-12);
    }
}

/* ---- logloss, NE, calibration, reliability ------------------------------------ */

/* Hand-worked: rows (p, y, w) = (0.5,1,1) (0.25,0,2) (0.75,1,1).
 * logloss = [1·(−ln 0.5) + 2·(−ln 0.75) + 1·(−ln 0.75)] / 4; base rate
 * b = 2/4, so entropy = ln 2 and NE = logloss / ln 2.
 * Tolerance 1e-15: a handful of libm logs of exact inputs, summed in double. */
TEST(logloss_and_ne_by_hand) {
    const float p[] = {0.5f, 0.25f, 0.75f}, y[] = {1, 0, 1}, w[] = {1, 2, 1};
    double want = (-log(0.5) + 2 * -log(0.75) + -log(0.75)) / 4.0;
    leap_metrics m;
    ASSERT_OK(leap_metrics_compute(p, y, w, 3, &m, NULL));
    ASSERT_NEAR(m.logloss, want, 1e-15);
    ASSERT_NEAR(leap_metric_logloss(p, y, w, 3), want, 1e-15);
    ASSERT_NEAR(m.base_rate, 0.5, 0);
    ASSERT_NEAR(m.ne, want / log(2.0), 1e-15);
    ASSERT_NEAR(m.sum_w, 4.0, 0);
    ASSERT_NEAR(m.n, 3.0, 0);

    /* unweighted, base rate 2/3: entropy = −(2/3)ln(2/3) − (1/3)ln(1/3) */
    double ll_u = (-log(0.5) + -log(0.75) + -log(0.75)) / 3.0;
    double h = -(2.0 / 3) * log(2.0 / 3) - (1.0 / 3) * log(1.0 / 3);
    ASSERT_OK(leap_metrics_compute(p, y, NULL, 3, &m, NULL));
    ASSERT_NEAR(m.logloss, ll_u, 1e-15);
    ASSERT_NEAR(m.ne, ll_u / h, 1e-14); /* one more division: a few ulps */
}

/* p = 0 with y = 1 costs −ln(1e-15), not infinity; p = 1 with y = 1 costs
 * −ln(1 − 1e-15) ≈ 1e-15. Tolerance 1e-12 relative to ~17.3. */
TEST(logloss_clips_probabilities) {
    const float p[] = {0.0f, 1.0f}, y[] = {1, 1};
    double want = (-log(1e-15) + -log1p(-1e-15)) / 2.0;
    ASSERT_NEAR(leap_metric_logloss(p, y, NULL, 2), want, 1e-12);
    leap_metrics m;
    ASSERT_OK(leap_metrics_compute(p, y, NULL, 2, &m, NULL));
    ASSERT_NEAR(m.logloss, want, 1e-12);
    ASSERT_TRUE(isnan(m.ne)); /* base rate 1: entropy 0 */
    ASSERT_NEAR(m.calibration, 0.5, 0);
}

/* Hand example with exact binary fractions, so every sum is exact and the
 * tolerance is 0:
 *   p       y  w    bin
 *   0.0625  0  1    0
 *   0.0625  1  1    0
 *   0.25    0  2    2
 *   1.0     1  1    9  (p = 1 goes to the last bin)
 *   0.9375  0  1    9
 *   0.0     0  3    0
 *   0.5     1  0.5  5  (a left edge belongs to the bin above)
 * Σw = 9.5, Σwy = 2.5, Σwp = 2.8125 -> calibration 1.125. */
TEST(calibration_and_reliability_by_hand) {
    const float p[] = {0.0625f, 0.0625f, 0.25f, 1.0f, 0.9375f, 0.0f, 0.5f};
    const float y[] = {0, 1, 0, 1, 0, 0, 1};
    const float w[] = {1, 1, 2, 1, 1, 3, 0.5f};
    leap_metrics m;
    ASSERT_OK(leap_metrics_compute(p, y, w, 7, &m, NULL));
    ASSERT_NEAR(m.sum_w, 9.5, 0);
    ASSERT_NEAR(m.base_rate, 2.5 / 9.5, 1e-16);
    ASSERT_NEAR(m.calibration, 1.125, 0);
    const double bw[10] = {5, 0, 2, 0, 0, 0.5, 0, 0, 0, 2};
    const double bp[10] = {0.025, NAN, 0.25, NAN, NAN, 0.5, NAN, NAN, NAN, 0.96875};
    const double bo[10] = {0.2, NAN, 0, NAN, NAN, 1, NAN, NAN, NAN, 0.5};
    for (int k = 0; k < 10; k++) {
        ASSERT_NEAR(m.rel_w[k], bw[k], 0);
        ASSERT_NEAR_NAN(m.rel_pred[k], bp[k], 1e-17); /* 0.125/5: one rounding */
        ASSERT_NEAR_NAN(m.rel_obs[k], bo[k], 1e-17);
    }
}

/* Bin edges: 0.1f is slightly above 0.1 (bin 1); the float just below it is
 * in bin 0; 0.3f is slightly above 0.3 (bin 3). */
TEST(reliability_bin_edges) {
    const float p[] = {0.1f, nextafterf(0.1f, 0.0f), 0.3f, nextafterf(0.3f, 0.0f)};
    const float y[] = {0, 0, 0, 1};
    leap_metrics m;
    ASSERT_OK(leap_metrics_compute(p, y, NULL, 4, &m, NULL));
    ASSERT_NEAR(m.rel_w[0], 1, 0);
    ASSERT_NEAR(m.rel_w[1], 1, 0);
    ASSERT_NEAR(m.rel_w[2], 1, 0);
    ASSERT_NEAR(m.rel_w[3], 1, 0);
}

/* ---- slices ---------------------------------------------------------------------- */

/* Builds rows for 6 keys with counts 900, 900 (a tie: the smaller key goes
 * first), 700, 50 (one class only: NaN AUC), 10, 1, shuffled; keys include 0
 * and UINT64_MAX. Checks the order and that each slice equals
 * leap_metrics_compute on that slice's rows. Tolerance 1e-12: the same rows in
 * the same order give identical sums today; the slack allows a future
 * implementation to sum in another order. */
TEST(sliced_matches_per_slice_compute) {
    static const uint64_t keys[6] = {UINT64_MAX, 17, 0, 99, 5, 123456789};
    static const size_t counts[6] = {900, 900, 700, 50, 10, 1};
    enum { N = 900 + 900 + 700 + 50 + 10 + 1 };
    static float p[N], y[N], w[N], sp[N], sy[N], sw[N];
    static uint64_t key[N];
    leap_rng r = {2024};
    size_t n = 0;
    for (int k = 0; k < 6; k++)
        for (size_t i = 0; i < counts[k]; i++, n++) {
            key[n] = keys[k];
            p[n] = (float)(leap_rng_next(&r) % 50) / 49.0f;
            y[n] = k == 3 ? 0.0f : (float)(leap_rng_uniform(&r) < 0.3 + 0.4 * p[n]);
            w[n] = 0.25f + (float)(leap_rng_next(&r) % 8);
        }
    for (size_t i = n; i > 1; i--) { /* Fisher-Yates: slices interleave */
        size_t j = leap_rng_next(&r) % i;
        float t;
        t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
        t = y[i - 1];
        y[i - 1] = y[j];
        y[j] = t;
        t = w[i - 1];
        w[i - 1] = w[j];
        w[j] = t;
        uint64_t tk = key[i - 1];
        key[i - 1] = key[j];
        key[j] = tk;
    }
    /* expected order: count desc, then key asc */
    static const uint64_t order[6] = {17, UINT64_MAX, 0, 99, 5, 123456789};

    static const size_t limits[] = {4, 0, 100, 1};
    for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++) {
        for (int weighted = 0; weighted < 2; weighted++) {
            leap_slice *sl = NULL;
            size_t ns = 0;
            leap_err err = {0};
            ASSERT_OK(
                leap_metrics_sliced(p, y, weighted ? w : NULL, key, N, limits[li], &sl, &ns, &err));
            size_t want_ns = limits[li] == 0 || limits[li] > 6 ? 6 : limits[li];
            ASSERT_EQ_INT(ns, want_ns);
            for (size_t s = 0; s < ns; s++) {
                ASSERT_EQ_U64(sl[s].key, order[s]);
                size_t m = 0;
                for (size_t i = 0; i < N; i++)
                    if (key[i] == order[s]) {
                        sp[m] = p[i];
                        sy[m] = y[i];
                        sw[m++] = w[i];
                    }
                leap_metrics want;
                ASSERT_OK(leap_metrics_compute(sp, sy, weighted ? sw : NULL, m, &want, NULL));
                const leap_metrics *got = &sl[s].m;
                ASSERT_NEAR(got->n, (double)m, 0);
                ASSERT_NEAR_NAN(got->auc, want.auc, 1e-12);
                ASSERT_NEAR_NAN(got->auc, brute_auc(sp, sy, weighted ? sw : NULL, m), 1e-12);
                ASSERT_NEAR_NAN(got->pr_auc, want.pr_auc, 1e-12);
                ASSERT_NEAR_NAN(got->logloss, want.logloss, 1e-12);
                ASSERT_NEAR_NAN(got->ne, want.ne, 1e-12);
                ASSERT_NEAR_NAN(got->calibration, want.calibration, 1e-12);
                ASSERT_NEAR_NAN(got->base_rate, want.base_rate, 1e-12);
                ASSERT_NEAR_NAN(got->sum_w, want.sum_w, 1e-9);
                for (int k = 0; k < LEAP_RELIABILITY_BINS; k++) {
                    ASSERT_NEAR_NAN(got->rel_w[k], want.rel_w[k], 1e-9);
                    ASSERT_NEAR_NAN(got->rel_pred[k], want.rel_pred[k], 1e-12);
                    ASSERT_NEAR_NAN(got->rel_obs[k], want.rel_obs[k], 1e-12);
                }
                if (order[s] == 99) ASSERT_TRUE(isnan(got->auc)); /* one class */
            }
            free(sl);
        }
    }
}

TEST(sliced_validates_like_compute) {
    const float p[] = {0.5f, 0.5f, 2.0f}, y[] = {0, 1, 1};
    const uint64_t key[] = {1, 1, 2};
    leap_slice *sl = (leap_slice *)1;
    size_t ns = 99;
    leap_err err = {0};
    ASSERT_EQ_INT(leap_metrics_sliced(p, y, NULL, key, 3, 2, &sl, &ns, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "row 2");
    ASSERT_TRUE(sl == NULL && ns == 0);
}

/* ---- validation -------------------------------------------------------------------- */

TEST(validation_names_the_row) {
    struct {
        float p, y, w;
        const char *what;
    } bad[] = {
        {0.5f, 2.0f, 1.0f, "label"},      {0.5f, 0.5f, 1.0f, "label"},
        {0.5f, NAN, 1.0f, "label"},       {0.5f, -1.0f, 1.0f, "label"},
        {1.5f, 1.0f, 1.0f, "prediction"}, {-0.1f, 1.0f, 1.0f, "prediction"},
        {NAN, 1.0f, 1.0f, "prediction"},  {0.5f, 1.0f, -1.0f, "weight"},
        {0.5f, 1.0f, NAN, "weight"},      {0.5f, 1.0f, INFINITY, "weight"},
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        float p[5] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f}, y[5] = {0, 1, 0, 1, 0}, w[5] = {1, 1, 1, 1, 1};
        p[3] = bad[c].p;
        y[3] = bad[c].y;
        w[3] = bad[c].w;
        leap_metrics m;
        leap_err err = {0};
        ASSERT_EQ_INT(leap_metrics_compute(p, y, w, 5, &m, &err), LEAP_EINVAL);
        ASSERT_EQ_INT(err.status, LEAP_EINVAL);
        ASSERT_STR_CONTAINS(err.msg, "row 3");
        ASSERT_STR_CONTAINS(err.msg, bad[c].what);
        ASSERT_TRUE(isnan(leap_metric_auc(p, y, w, 5)));
        ASSERT_TRUE(isnan(leap_metric_logloss(p, y, w, 5)));
    }
    leap_metrics m;
    leap_err err = {0};
    const float p[1] = {0.5f}, y[1] = {1}, w0[1] = {0};
    ASSERT_EQ_INT(leap_metrics_compute(p, y, NULL, 0, &m, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "n == 0");
    ASSERT_EQ_INT(leap_metrics_compute(p, y, w0, 1, &m, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "total weight");
    /* a NULL err is allowed */
    ASSERT_EQ_INT(leap_metrics_compute(p, y, NULL, 0, &m, NULL), LEAP_EINVAL);
}

/* ---- writers ---------------------------------------------------------------------- */

static char *write_to_string(void (*fn)(FILE *, const leap_metrics *), const leap_metrics *m) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fn(f, m);
    fclose(f);
    return buf;
}

TEST(json_writer) {
    const float p[] = {0.25f, 0.75f, 0.5f}, y[] = {1, 1, 1};
    leap_metrics m;
    ASSERT_OK(leap_metrics_compute(p, y, NULL, 3, &m, NULL));
    char *s = write_to_string(leap_metrics_write_json, &m);
    ASSERT_TRUE(s != NULL);
    ASSERT_TRUE(s[0] == '{' && s[strlen(s) - 1] == '}'); /* no trailing newline */
    ASSERT_STR_CONTAINS(s, "\"n\":3,");
    ASSERT_STR_CONTAINS(s, "\"auc\":null"); /* one class */
    ASSERT_STR_CONTAINS(s, "\"ne\":null");
    ASSERT_STR_CONTAINS(s, "\"base_rate\":1,");
    ASSERT_STR_CONTAINS(s, "\"calibration\":0.5,");
    ASSERT_STR_CONTAINS(s, "{\"lo\":0.2,\"hi\":0.3,\"weight\":1,\"mean_p\":0.25,");
    ASSERT_STR_CONTAINS(s, "\"mean_p\":null");
    ASSERT_TRUE(strstr(s, "nan") == NULL && strstr(s, "inf") == NULL);
    free(s);

    /* A decimal-comma locale must not leak into the output (skipped when no
     * such locale is installed). */
    const char *locs[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE.utf8", "fr_FR.utf8"};
    const char *old = setlocale(LC_NUMERIC, NULL);
    char saved[64];
    snprintf(saved, sizeof saved, "%s", old ? old : "C");
    for (size_t i = 0; i < sizeof locs / sizeof locs[0]; i++) {
        if (!setlocale(LC_NUMERIC, locs[i])) continue;
        s = write_to_string(leap_metrics_write_json, &m);
        setlocale(LC_NUMERIC, saved);
        ASSERT_TRUE(s != NULL);
        ASSERT_STR_CONTAINS(s, "\"calibration\":0.5,");
        free(s);
        break;
    }
}

TEST(table_writer) {
    const float p[] = {0.25f, 0.75f, 0.5f, 0.05f}, y[] = {0, 1, 1, 0};
    leap_metrics m;
    ASSERT_OK(leap_metrics_compute(p, y, NULL, 4, &m, NULL));
    char *s = write_to_string(leap_metrics_write_table, &m);
    ASSERT_TRUE(s != NULL);
    ASSERT_STR_CONTAINS(s, "auc             1.000000\n");
    ASSERT_STR_CONTAINS(s, "rows                   4\n");
    ASSERT_STR_CONTAINS(s, "calibration ");
    ASSERT_STR_CONTAINS(s, "pr_auc ");
    ASSERT_STR_CONTAINS(s, "base_rate ");
    ASSERT_STR_CONTAINS(s, "[0.9, 1.0]");
    ASSERT_STR_CONTAINS(s, "n/a");
    free(s);
}
