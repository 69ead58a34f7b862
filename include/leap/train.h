/* leap/train.h — the training loop, identical for every model family.
 *
 * Per epoch: row groups are shuffled by (seed, epoch) and dealt to ranks
 * (round-robin) and, within a rank, to threads; each task decodes a row
 * group, featurizes it and calls the model's train_batch. Every `sync_every`
 * row groups per thread the ranks combine their model state through
 * leap_comm (see leap_sync_mode). After each epoch the validation logloss
 * decides early stopping; the best state is kept.
 *
 * The library prints nothing: progress goes to an optional callback.
 */
#ifndef LEAP_TRAIN_H
#define LEAP_TRAIN_H

#include "leap/comm.h"
#include "leap/dataset.h"
#include "leap/model.h"

typedef struct leap_train_opts {
    int epochs;
    int patience;     /* epochs without validation improvement before stopping; 0 = never stop */
    double min_delta; /* improvement smaller than this does not count */
    int sync_every;   /* row groups per thread between cross-rank syncs */
    int recalibrate;  /* downsampled training data + validation data: refit the intercept */
} leap_train_opts;
extern const leap_opt_table leap_train_opt_table;

typedef struct leap_progress_info {
    int epoch, epochs;
    double rows_done, rows_total; /* this rank, this epoch */
    double logloss;               /* running progressive logloss */
    double examples_per_s;
} leap_progress_info;

typedef struct leap_epoch_info {
    int epoch;
    double train_logloss; /* progressive (before-update) logloss over the epoch, all ranks */
    double valid_logloss; /* NaN without validation data */
    double examples;      /* all ranks */
    double seconds;       /* training time of the epoch, without validation */
    double examples_per_s;
    int best; /* 1 when this epoch is the best so far */
} leap_epoch_info;

typedef struct leap_train_ctx {
    leap_train_opts o;
    int threads; /* >= 1 */
    uint64_t seed;
    leap_comm *comm;     /* NULL = local */
    leap_dataset *train; /* required */
    leap_dataset *valid; /* optional */
    const leap_featurizer *fz;
    void (*on_progress)(void *ud, const leap_progress_info *pi); /* optional, rank 0 only */
    void (*on_epoch)(void *ud, const leap_epoch_info *ei);       /* optional, every rank */
    void *ud;
} leap_train_ctx;

typedef struct leap_train_report {
    int epochs_run;
    int best_epoch;
    double best_valid_logloss; /* NaN without validation data */
    double
        train_logloss; /* progressive logloss of the last epoch (fit: final objective / weight) */
    double train_seconds;  /* all epochs, training loops only */
    double examples;       /* all epochs, all ranks */
    double examples_per_s; /* examples / train_seconds */
    double neg_rate;       /* downsampling rate read from the training data (1 = none) */
} leap_train_report;

int leap_train_check(const leap_train_ctx *ctx, leap_err *err);
/* Trains m in place. On return m holds the best (or last) state, refreshed. */
int leap_train_run(leap_train_ctx *ctx, leap_model *m, leap_train_report *rep, leap_err *err);

/* Negative downsampling rate recorded in a dataset's metadata (1 when none). */
double leap_dataset_neg_rate(const leap_dataset *ds);

#endif
