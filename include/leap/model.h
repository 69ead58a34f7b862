/* leap/model.h — the one interface every model family sits behind.
 *
 * A model is a table of function pointers (ggml backend style). The trainer,
 * evaluator, predictor and (later) the server only call through this table and
 * never switch on the model type. Adding a model = one file in src/models/
 * with an ops table, plus one line in the registry (src/models/registry.c).
 *
 * Threading contract: train_batch is called concurrently from several threads
 * on distinct batches (a model chooses its own policy: LR updates shared
 * parameters Hogwild-style); predict_batch is read-only and thread-safe.
 * Nothing is allocated inside train_batch or predict_batch.
 */
#ifndef LEAP_MODEL_H
#define LEAP_MODEL_H

#include "leap/features.h"
#include "leap/comm.h"
#include "leap/options.h"

typedef struct leap_model leap_model;

/* What the trainer offers a model that trains by full passes over the data
 * (L-BFGS, tree boosting): a parallel map over this rank's training batches
 * and the communicator to combine the results across ranks. */
typedef struct leap_fit_io leap_fit_io;
typedef void (*leap_batch_fn)(void *user, const leap_fbatch *b, int thread);
struct leap_fit_io {
    int threads;      /* fn is called with thread in [0, threads) */
    leap_comm *comm;  /* for allreduce of the per-rank results (NULL = local) */
    size_t n_batches; /* training batches of this rank per pass */
    uint64_t n_rows;  /* training rows of this rank */
    /* Calls fn on every training batch of this rank, on all threads; returns
     * a status (errors of reading or featurizing the data). Every pass sees
     * the same batches; b->seq and b->row0 place a batch in the rank's order
     * (so a model may copy rows into a matrix independently of thread timing). */
    int (*map)(leap_fit_io *io, leap_batch_fn fn, void *user, leap_err *err);
    /* Same over this rank's validation batches (labels included, no neg-rate
     * reweighting); NULL when there is no validation data. For early stopping. */
    int (*map_valid)(leap_fit_io *io, leap_batch_fn fn, void *user, leap_err *err);
    size_t n_valid_batches;
    uint64_t n_valid_rows;
    /* Optional progress report after an iteration: mean training loss. A model
     * that evaluates its validation data sets valid_loss before the call (the
     * trainer sets it to NaN before fit). */
    void (*on_iter)(leap_fit_io *io, int iter, double mean_loss, double seconds);
    /* Set by the model before its first map when it reads the training data
     * once and keeps its own copy (trees bin it): the trainer then caches no
     * featurized batches for later passes (saves their memory). */
    int single_pass;
    double valid_loss;
    /* The trainer's options, for models that run their own passes (epochs of
     * mini-batch SGD): passes, early stopping on map_valid, the run's seed. */
    int epochs;
    int patience;     /* 0 = never stop early */
    double min_delta; /* validation improvement smaller than this does not count */
    uint64_t seed;
    int best_iter; /* set by the model: the iteration whose state it kept (0 = the last) */
    void *priv;    /* the trainer's */
};

/* How a state segment is combined across ranks after each sync interval,
 * starting from the state s0 all ranks shared at the previous sync:
 * SUM_DELTA: s = s0 + Σ_r (s_r − s0)   (accumulators: FTRL z and n, AdaGrad g²)
 * MEAN_DELTA: s = s0 + mean_r (s_r − s0) (model averaging of plain weights) */
typedef enum leap_sync_mode { LEAP_SYNC_SUM_DELTA, LEAP_SYNC_MEAN_DELTA } leap_sync_mode;

typedef struct leap_state_seg {
    const char *name; /* "z", "n", "w", ... */
    float *p;         /* [n], owned by the model */
    size_t n;
    leap_sync_mode mode;
} leap_state_seg;

#define LEAP_MAX_STATE_SEGS 8

typedef struct leap_model_ops {
    const char *name; /* "lr" */
    const char *help;
    /* 1 = the model needs ORDINAL/CATEGORICAL fields (a transform that bins
     * numerics and indexes categoricals), not the hashed default (trees). */
    int needs_bins;
    const leap_opt_table *opts; /* the model's option table */
    size_t opts_size;           /* sizeof its options struct */
    /* Creates an untrained model. opts is copied. */
    int (*create)(const void *opts, const leap_featurizer *fz, leap_model **out, leap_err *err);
    void (*destroy)(leap_model *m);
    /* One pass of updates over batch b (rows in order). Adds to sums[0] the
     * weighted logloss of each row predicted BEFORE its update (progressive
     * validation) and to sums[1] its weight. Thread-safe per the contract above.
     * NULL for models whose fit never returns LEAP_EUNSUPPORTED (they train
     * only by their own passes: the embedding models). */
    void (*train_batch)(leap_model *m, const leap_fbatch *b, int thread, double sums[2]);
    /* Click probabilities for every row of b (the model's own scale). */
    void (*predict_batch)(const leap_model *m, const leap_fbatch *b, float *p);
    /* Fills segs with the model's trainable state; returns the count. */
    size_t (*state)(leap_model *m, leap_state_seg *segs);
    /* Derives prediction parameters from optimizer state (after training, after
     * a sync, before evaluation). Optional (NULL). */
    void (*refresh)(leap_model *m);
    /* Optional: trains by full passes through io instead of train_batch
     * epochs. Returns LEAP_EUNSUPPORTED when the model's options select an
     * online optimizer (the trainer then runs epochs of train_batch). */
    int (*fit)(leap_model *m, leap_fit_io *io, leap_err *err);
    /* Appends the parameter payload to out. */
    int (*save)(const leap_model *m, leap_buf *out, leap_err *err);
    /* Rebuilds a model from its payload (opts parsed from the bundle). */
    int (*load)(const void *opts, const leap_featurizer *fz, const uint8_t *buf, size_t len,
                leap_model **out, leap_err *err);
    /* Optional: a human-readable summary of the trained parameters for
     * `leap inspect` (trees: sizes and feature importance). fz names fields. */
    void (*describe)(const leap_model *m, const leap_featurizer *fz, FILE *f);
} leap_model_ops;

/* Every concrete model struct starts with this. */
struct leap_model {
    const leap_model_ops *ops;
};

/* Registry. */
const leap_model_ops *leap_model_find(const char *name);
size_t leap_model_count(void);
const leap_model_ops *leap_model_at(size_t i);

/* Downsampling correction: p = q / (q + (1 − q) / r) for negative sampling rate r. */
static inline float leap_calibrate_neg_rate(float q, double r) {
    if (r >= 1.0) return q;
    double p = (double)q / ((double)q + (1.0 - (double)q) / r);
    return (float)p;
}

#endif
