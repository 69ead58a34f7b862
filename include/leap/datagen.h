/* leap/datagen.h — synthetic Criteo-format click logs from a hidden truth.
 *
 * Each row is drawn from a ground-truth model with realistic structure:
 * Zipf-like category frequencies with Criteo-like cardinalities and missing
 * rates, nonlinear numeric effects, and field-pair interactions (latent dot
 * products) that FM/deep models can learn and plain LR cannot. The true click
 * probability of every row is written beside the rows, so the Bayes-optimal
 * logloss and AUC — the best any model can score — are known.
 *
 * Generation is a pure function of (seed, row index): rows are produced in
 * parallel blocks and the output is the same for any thread count.
 */
#ifndef LEAP_DATAGEN_H
#define LEAP_DATAGEN_H

#include "leap/core.h"

typedef struct leap_datagen_opts {
    uint64_t rows;
    uint64_t seed;
    const char *output;    /* Criteo TSV; also writes OUTPUT.truth (one p per line) */
    int threads;           /* 0 = all cores */
    double base_ctr;       /* target mean click rate; 0 = default 0.25 (Criteo-like) */
    int progress;
} leap_datagen_opts;

typedef struct leap_datagen_report {
    uint64_t rows;
    double ctr;           /* observed click rate */
    double bayes_logloss; /* logloss of the true p on the drawn labels */
    double bayes_auc;     /* AUC of the true p on the drawn labels */
    double bayes_ne;
    double seconds;
    uint64_t bytes;
} leap_datagen_report;

/* Writes opts->output and opts->output + ".truth" atomically. */
int leap_datagen(const leap_datagen_opts *o, leap_datagen_report *rep, leap_err *err);

#endif
