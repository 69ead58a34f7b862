/* leap/eval.h — ads metrics: AUC (exact, ties averaged), logloss, normalized
 * entropy, calibration, reliability table, PR-AUC; example weights honoured;
 * slices by a categorical key.
 *
 * Pure functions over arrays; no I/O. Formatting helpers write the aligned
 * table people read and the JSON machines read.
 */
#ifndef LEAP_EVAL_H
#define LEAP_EVAL_H

#include "leap/core.h"

#define LEAP_RELIABILITY_BINS 10

typedef struct leap_metrics {
    double n;           /* rows */
    double sum_w;       /* total example weight */
    double base_rate;   /* Σ w·y / Σ w */
    double auc;         /* weighted ROC AUC; ties count 1/2; NaN when one class is absent */
    double logloss;     /* Σ w·ll / Σ w, p clipped to [1e-15, 1-1e-15] */
    double ne;          /* logloss / entropy(base_rate); NaN when base rate is 0 or 1 */
    double calibration; /* Σ w·p / Σ w·y */
    double pr_auc;      /* weighted average precision (step-wise, ties grouped) */
    /* Reliability table: 10 equal-width bins of p over [0, 1]. */
    double rel_w[LEAP_RELIABILITY_BINS];    /* weight in bin */
    double rel_pred[LEAP_RELIABILITY_BINS]; /* mean predicted p */
    double rel_obs[LEAP_RELIABILITY_BINS];  /* observed click rate */
} leap_metrics;

/* Computes all metrics. p: predicted probabilities [n]; y: labels in {0,1}
 * [n]; w: weights [n] or NULL (all 1). O(n log n); allocates O(n) scratch.
 * Returns LEAP_EINVAL for n == 0, a label outside {0,1}, a negative weight
 * or a p outside [0, 1] (naming the row). */
int leap_metrics_compute(const float *p, const float *y, const float *w, size_t n,
                         leap_metrics *out, leap_err *err);

/* Individual metrics (same conventions), for tests and callers that need one. */
double leap_metric_auc(const float *p, const float *y, const float *w, size_t n);
double leap_metric_logloss(const float *p, const float *y, const float *w, size_t n);

/* Per-slice metrics: rows grouped by key[i]; the top max_slices keys by row
 * count are returned, largest first. Caller frees *slices with free(). */
typedef struct leap_slice {
    uint64_t key;
    leap_metrics m;
} leap_slice;
int leap_metrics_sliced(const float *p, const float *y, const float *w, const uint64_t *key,
                        size_t n, size_t max_slices, leap_slice **slices, size_t *n_slices,
                        leap_err *err);

/* Writes m as a JSON object (no trailing newline); C locale, %.9g. */
void leap_metrics_write_json(FILE *f, const leap_metrics *m);
/* Writes an aligned human table of the headline metrics and the reliability table. */
void leap_metrics_write_table(FILE *f, const leap_metrics *m);

#endif
