/* leap/datagen.h — synthetic Criteo-format click logs from a hidden truth.
 *
 * Each row is drawn from a ground-truth model with realistic structure:
 * Zipf-like category frequencies with Criteo-like cardinalities and missing
 * rates, nonlinear numeric effects, and field-pair interactions (latent dot
 * products) that FM/deep models can learn and plain LR cannot. The true click
 * probability of every row is written beside the rows, so the Bayes-optimal
 * logloss and AUC — the best any model can score — are known.
 *
 * Generation is a pure function of (seed, target CTR, row index): rows are
 * produced in parallel blocks and the output is the same for any thread count.
 *
 *     leap_datagen_opts o = {.rows = 1000000, .seed = 42, .output = "synth.tsv"};
 *     leap_datagen_report rep;
 *     leap_err err = {0};
 *     if (leap_datagen(&o, &rep, &err) != LEAP_OK) fprintf(stderr, "%s\n", err.msg);
 *
 * The hidden truth itself is described at the top of src/data/datagen.c.
 */
#ifndef LEAP_DATAGEN_H
#define LEAP_DATAGEN_H

#include "leap/core.h"

#define LEAP_DATAGEN_DEFAULT_CTR 0.25
#define LEAP_DATAGEN_MAX_ROWS    (1ULL << 36) /* 8 bytes of memory per row are kept */
#define LEAP_DATAGEN_NUM_FIELDS  13           /* I1..I13 */
#define LEAP_DATAGEN_CAT_FIELDS  26           /* C1..C26 */

typedef struct leap_datagen_opts {
    uint64_t rows;
    uint64_t seed;
    const char *output; /* Criteo TSV; also writes OUTPUT.truth (one p per line) */
    int threads;        /* 0 = all cores */
    double base_ctr;    /* target mean click rate; 0 = default 0.25 (Criteo-like) */
    int progress;       /* non-zero: progress line on stderr when it is a terminal */
} leap_datagen_opts;

typedef struct leap_datagen_report {
    uint64_t rows;
    double ctr;           /* observed click rate */
    double bayes_logloss; /* logloss of the true p on the drawn labels */
    double bayes_auc;     /* AUC of the true p on the drawn labels */
    double bayes_ne;      /* bayes_logloss / entropy(observed ctr) */
    double seconds;       /* wall time of the whole call */
    uint64_t bytes;       /* bytes written, rows file + truth file */
} leap_datagen_report;

/* Validates o before any work: rows in [1, LEAP_DATAGEN_MAX_ROWS], output set,
 * threads >= 0, base_ctr 0 (default) or in [0.001, 0.999]. LEAP_EINVAL with a
 * message naming the option and the value seen. */
int leap_datagen_check(const leap_datagen_opts *o, leap_err *err);

/* Writes o->output and o->output + ".truth" atomically (both or, on error,
 * neither is replaced) and fills rep (may be NULL). Keeps the true p and the
 * label of every row in memory (8 bytes/row) for the Bayes metrics.
 * Errors: LEAP_EINVAL (bad options), LEAP_ENOMEM, LEAP_EIO (with the path).
 * Assumes the C locale (the truth file is written with "%.9g"). */
int leap_datagen(const leap_datagen_opts *o, leap_datagen_report *rep, leap_err *err);

/* The configured missing rate of a column, numbered as in the file after the
 * label: 1..13 = I1..I13, 14..39 = C1..C26. -1 outside that range. */
double leap_datagen_missing_rate(int column);

#endif
