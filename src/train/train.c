/* train.c — the training loop (see leap/train.h). Model-agnostic: it only
 * calls through leap_model_ops. All buffers are allocated before the first
 * epoch; the step loop allocates nothing beyond row-group growth. */
#include "leap/train.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const leap_opt_def train_defs[] = {
    {"epochs", LEAP_OPT_INT, offsetof(leap_train_opts, epochs), 3, 1, 1000, NULL,
     "passes over the training data"},
    {"patience", LEAP_OPT_INT, offsetof(leap_train_opts, patience), 1, 0, 1000, NULL,
     "early stopping: epochs without validation improvement (0 = off)"},
    {"min_delta", LEAP_OPT_FLOAT, offsetof(leap_train_opts, min_delta), 1e-5, 0, 1, NULL,
     "early stopping: smallest logloss improvement that counts"},
    {"recalibrate", LEAP_OPT_BOOL, offsetof(leap_train_opts, recalibrate), 1, 0, 1, NULL,
     "downsampled training data: refit the intercept on the validation data"},
    {"sync_every", LEAP_OPT_INT, offsetof(leap_train_opts, sync_every), 1, 1, 1000000, NULL,
     "MPI: row groups per thread between model syncs"},
};
const leap_opt_table leap_train_opt_table = {"trainer", train_defs,
                                             sizeof train_defs / sizeof train_defs[0]};

double leap_dataset_neg_rate(const leap_dataset *ds) {
    const char *v = leap_dataset_meta_get(ds, "neg_sample_rate");
    double r;
    if (!v || leap_parse_double(v, &r) || !(r > 0 && r <= 1)) return 1.0;
    return r;
}

int leap_train_check(const leap_train_ctx *ctx, leap_err *err) {
    if (!ctx->train) return leap_err_set(err, LEAP_EINVAL, "no training data");
    if (ctx->threads < 1) return leap_err_set(err, LEAP_EINVAL, "threads must be >= 1");
    if (leap_dataset_num_rows(ctx->train) == 0)
        return leap_err_set(err, LEAP_EINVAL, "%s: the training dataset has no rows",
                            leap_dataset_path(ctx->train));
    return LEAP_OK;
}

typedef struct worker {
    leap_rowgroup rg;  /* training schema */
    leap_rowgroup vrg; /* validation schema */
    leap_fbatch fb;
    leap_fz_binding bind;
    float *pred; /* [row group rows] validation predictions */
    size_t pred_cap;
    double sums[2];
} worker;

typedef struct run {
    leap_train_ctx *ctx;
    leap_model *m;
    leap_dataset *ds;     /* dataset being read by the current parallel_for */
    worker *w;            /* [threads] */
    const size_t *groups; /* row groups of this parallel_for */
    double neg_rate;
    int valid_pass;
    leap_fz_binding vbind_proto;
    atomic_size_t rows_done;
    double epoch_start, rows_total;
    int epoch;
    leap_batch_fn map_fn; /* fit passes: called instead of train_batch */
    void *map_user;
    /* Fit passes keep each row group's featurized batch after the first pass
     * (while within LEAP_FIT_CACHE_BYTES), so later passes skip decoding and
     * featurizing. Indexed like the pass's task list. */
    leap_fbatch *cache;
    size_t n_cache;
    uint64_t *row0;         /* fit passes: [tasks] rows of the pass before each task */
    atomic_int cache_state; /* 0: filling, 1: complete, -1: off (over budget or no memory) */
    atomic_size_t cache_bytes;
    int fit_iters;     /* iterations a fit reported */
    double fit_loss;   /* its last mean loss */
    leap_err errs[64]; /* per thread */
} run;

#define LEAP_FIT_CACHE_BYTES ((size_t)4 << 30)

/* Deep copy of a batch into exactly sized buffers; 0 on success. */
static int fbatch_copy(leap_fbatch *to, const leap_fbatch *from) {
    size_t n = from->n_rows, nnz = from->row_ptr[n];
    memset(to, 0, sizeof *to);
    to->row_ptr = malloc((n + 1) * sizeof *to->row_ptr);
    to->label = malloc((n ? n : 1) * sizeof *to->label);
    to->weight = malloc((n ? n : 1) * sizeof *to->weight);
    to->idx = malloc((nnz ? nnz : 1) * sizeof *to->idx);
    to->val = malloc((nnz ? nnz : 1) * sizeof *to->val);
    to->field = malloc((nnz ? nnz : 1) * sizeof *to->field);
    if (!to->row_ptr || !to->label || !to->weight || !to->idx || !to->val || !to->field) {
        leap_fbatch_free(to);
        return -1;
    }
    to->n_rows = n;
    to->row_cap = n;
    to->nnz_cap = nnz;
    memcpy(to->row_ptr, from->row_ptr, (n + 1) * sizeof *to->row_ptr);
    memcpy(to->label, from->label, n * sizeof *to->label);
    memcpy(to->weight, from->weight, n * sizeof *to->weight);
    memcpy(to->idx, from->idx, nnz * sizeof *to->idx);
    memcpy(to->val, from->val, nnz * sizeof *to->val);
    memcpy(to->field, from->field, nnz * sizeof *to->field);
    return 0;
}

static int train_task(void *vctx, size_t task, int thread) {
    run *R = vctx;
    worker *W = &R->w[thread];
    leap_err *err = &R->errs[thread % 64];
    if (R->map_fn && !R->valid_pass && R->cache_state == 1) {
        R->cache[task].seq = task;
        R->cache[task].row0 = R->row0[task];
        R->map_fn(R->map_user, &R->cache[task], thread);
        atomic_fetch_add(&R->rows_done, R->cache[task].n_rows);
        return 0;
    }
    size_t g = R->groups[task];
    int rc = leap_dataset_read_row_group(R->ds, g, R->valid_pass ? &W->vrg : &W->rg, err);
    if (rc) return rc;
    if (R->valid_pass) {
        if ((rc = leap_featurize(R->ctx->fz, &R->vbind_proto, &W->vrg, &W->fb, err))) return rc;
        size_t n = W->fb.n_rows;
        if (R->map_fn) {
            W->fb.seq = task;
            W->fb.row0 = R->row0[task];
            R->map_fn(R->map_user, &W->fb, thread);
            return 0;
        }
        if (n > W->pred_cap) {
            float *p = realloc(W->pred, n * sizeof *p);
            if (!p) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
            W->pred = p;
            W->pred_cap = n;
        }
        R->m->ops->predict_batch(R->m, &W->fb, W->pred);
        double vr = leap_dataset_neg_rate(R->ds);
        for (size_t i = 0; i < n; i++) {
            float p = leap_calibrate_neg_rate(W->pred[i], vr);
            double q = p < 1e-15f ? 1e-15 : (p > 1 - 1e-7f ? 1 - 1e-7 : p);
            double wt = W->fb.weight[i];
            W->sums[0] += wt * (W->fb.label[i] > 0.5f ? -log(q) : -log(1 - q));
            W->sums[1] += wt;
        }
        return 0;
    }
    if ((rc = leap_featurize(R->ctx->fz, &W->bind, &W->rg, &W->fb, err))) return rc;
    if (R->neg_rate < 1.0) /* train on the sampled distribution: undo the 1/r weights */
        for (size_t i = 0; i < W->fb.n_rows; i++)
            if (W->fb.label[i] < 0.5f) W->fb.weight[i] *= (float)R->neg_rate;
    if (R->map_fn) {
        W->fb.seq = task;
        W->fb.row0 = R->row0[task];
        R->map_fn(R->map_user, &W->fb, thread);
        atomic_fetch_add(&R->rows_done, W->fb.n_rows);
        if (R->cache_state == 0) {
            size_t n = W->fb.n_rows, bytes = (n + 1) * 12 + (size_t)W->fb.row_ptr[n] * 10;
            if (atomic_fetch_add(&R->cache_bytes, bytes) + bytes > LEAP_FIT_CACHE_BYTES ||
                fbatch_copy(&R->cache[task], &W->fb) != 0)
                atomic_store(&R->cache_state, -1);
        }
        return 0;
    }
    R->m->ops->train_batch(R->m, &W->fb, thread, W->sums);
    size_t done = atomic_fetch_add(&R->rows_done, W->fb.n_rows) + W->fb.n_rows;
    if (thread == 0 && R->ctx->on_progress && leap_comm_rank(R->ctx->comm) == 0) {
        double ls = 0, ws = 0;
        for (int t = 0; t < R->ctx->threads; t++) {
            ls += R->w[t].sums[0];
            ws += R->w[t].sums[1];
        }
        double el = leap_now() - R->epoch_start;
        leap_progress_info pi = {R->epoch + 1,  R->ctx->o.epochs,       (double)done,
                                 R->rows_total, ws > 0 ? ls / ws : NAN, el > 0 ? done / el : 0};
        R->ctx->on_progress(R->ctx->ud, &pi);
    }
    return 0;
}

/* First error message among threads. */
static int thread_error(run *R, int rc, leap_err *err) {
    for (int t = 0; t < R->ctx->threads && t < 64; t++)
        if (R->errs[t].status) {
            if (err) *err = R->errs[t];
            return R->errs[t].status;
        }
    return leap_err_set(err, rc, "training failed: %s", leap_strerror(rc));
}

typedef struct state_sync {
    leap_state_seg segs[LEAP_MAX_STATE_SEGS];
    size_t n_segs;
    float **base; /* [n_segs][segs[i].n] state at the last sync */
    float *delta; /* [max seg n] */
    float **best; /* [n_segs][...] best state (early stopping) */
} state_sync;

static void sync_free(state_sync *s) {
    for (size_t i = 0; i < s->n_segs; i++) {
        if (s->base) free(s->base[i]);
        if (s->best) free(s->best[i]);
    }
    free(s->base);
    free(s->best);
    free(s->delta);
}

static int sync_init(state_sync *s, leap_model *m, int need_base, int need_best) {
    memset(s, 0, sizeof *s);
    s->n_segs = m->ops->state ? m->ops->state(m, s->segs) : 0;
    size_t maxn = 0;
    s->base = calloc(s->n_segs + 1, sizeof *s->base);
    s->best = calloc(s->n_segs + 1, sizeof *s->best);
    if (!s->base || !s->best) return LEAP_ENOMEM;
    for (size_t i = 0; i < s->n_segs; i++) {
        if (s->segs[i].n > maxn) maxn = s->segs[i].n;
        if (need_base) {
            s->base[i] = malloc(s->segs[i].n * sizeof(float));
            if (!s->base[i]) return LEAP_ENOMEM;
            memcpy(s->base[i], s->segs[i].p, s->segs[i].n * sizeof(float));
        }
        if (need_best) {
            s->best[i] = malloc(s->segs[i].n * sizeof(float));
            if (!s->best[i]) return LEAP_ENOMEM;
        }
    }
    if (need_base) {
        s->delta = malloc((maxn ? maxn : 1) * sizeof(float));
        if (!s->delta) return LEAP_ENOMEM;
    }
    return LEAP_OK;
}

/* Combines state across ranks: s = s0 + Σ(or mean) (s_r − s0); s0 = s. */
static int sync_state(state_sync *s, leap_comm *c, leap_err *err) {
    int size = leap_comm_size(c);
    for (size_t i = 0; i < s->n_segs; i++) {
        leap_state_seg *g = &s->segs[i];
        float *b = s->base[i], *d = s->delta;
        for (size_t k = 0; k < g->n; k++)
            d[k] = g->p[k] - b[k];
        int rc = leap_comm_allreduce_sum_f32(c, d, g->n, err);
        if (rc) return rc;
        float scale = g->mode == LEAP_SYNC_MEAN_DELTA ? 1.0f / (float)size : 1.0f;
        for (size_t k = 0; k < g->n; k++) {
            float v = b[k] + scale * d[k];
            g->p[k] = v;
            b[k] = v;
        }
    }
    return LEAP_OK;
}

static void state_copy(state_sync *s, int to_best) {
    for (size_t i = 0; i < s->n_segs; i++) {
        if (to_best)
            memcpy(s->best[i], s->segs[i].p, s->segs[i].n * sizeof(float));
        else
            memcpy(s->segs[i].p, s->best[i], s->segs[i].n * sizeof(float));
    }
}

/* Fisher–Yates shuffle of 0..n-1 driven by (seed, epoch). */
static void shuffle(size_t *a, size_t n, uint64_t seed, int epoch) {
    leap_rng r = {leap_mix64(seed, (uint64_t)epoch + 1)};
    for (size_t i = 0; i < n; i++)
        a[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(leap_rng_next(&r) % i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static double run_valid(run *R, leap_err *err) {
    leap_train_ctx *ctx = R->ctx;
    int rank = leap_comm_rank(ctx->comm), size = leap_comm_size(ctx->comm);
    size_t G = leap_dataset_num_row_groups(ctx->valid), mine = 0;
    size_t *groups = malloc((G ? G : 1) * sizeof *groups);
    if (!groups) {
        leap_err_set(err, LEAP_ENOMEM, "out of memory");
        return NAN;
    }
    for (size_t g = (size_t)rank; g < G; g += (size_t)size)
        groups[mine++] = g;
    for (int t = 0; t < ctx->threads; t++)
        R->w[t].sums[0] = R->w[t].sums[1] = 0;
    R->ds = ctx->valid;
    R->groups = groups;
    R->valid_pass = 1;
    int rc = leap_parallel_for(ctx->threads, mine, train_task, R);
    R->valid_pass = 0;
    free(groups);
    if (rc) {
        thread_error(R, rc, err);
        return NAN;
    }
    double s[2] = {0, 0};
    for (int t = 0; t < ctx->threads; t++) {
        s[0] += R->w[t].sums[0];
        s[1] += R->w[t].sums[1];
    }
    if (leap_comm_allreduce_sum_f64(ctx->comm, s, 2, err)) return NAN;
    return s[1] > 0 ? s[0] / s[1] : NAN;
}

/* The row groups of ds this rank reads (round-robin), with the rows before
 * each in R->row0 (freed by the caller). Returns the count, or (size_t)-1. */
static size_t rank_groups(run *R, leap_dataset *ds, size_t **groups) {
    int rank = leap_comm_rank(R->ctx->comm), size = leap_comm_size(R->ctx->comm);
    size_t G = leap_dataset_num_row_groups(ds), n = 0;
    *groups = malloc((G ? G : 1) * sizeof **groups);
    uint64_t *r0 = malloc((G ? G : 1) * sizeof *r0);
    if (!*groups || !r0) {
        free(*groups);
        free(r0);
        return (size_t)-1;
    }
    uint64_t rows = 0;
    for (size_t g = (size_t)rank; g < G; g += (size_t)size) {
        r0[n] = rows;
        rows += leap_dataset_row_group_rows(ds, g);
        (*groups)[n++] = g;
    }
    free(R->row0);
    R->row0 = r0;
    return n;
}

/* leap_fit_io.map: one pass over this rank's row groups. */
static int fit_map(leap_fit_io *io, leap_batch_fn fn, void *user, leap_err *err) {
    run *R = io->priv;
    leap_train_ctx *ctx = R->ctx;
    if (io->single_pass && R->cache_state == 0) R->cache_state = -1; /* the model keeps a copy */
    size_t *groups;
    size_t n = rank_groups(R, ctx->train, &groups);
    if (n == (size_t)-1) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    if (!R->cache && R->cache_state == 0) {
        R->cache = calloc(n ? n : 1, sizeof *R->cache);
        R->n_cache = n;
        if (!R->cache) R->cache_state = -1;
    }
    R->ds = ctx->train;
    R->groups = groups;
    R->map_fn = fn;
    R->map_user = user;
    int rc = leap_parallel_for(ctx->threads, n, train_task, R);
    R->map_fn = NULL;
    free(groups);
    if (rc) return thread_error(R, rc, err);
    if (R->cache_state == 0) R->cache_state = 1; /* every batch is cached now */
    if (R->cache_state == -1 && R->cache) {      /* over budget: drop what was kept */
        for (size_t i = 0; i < R->n_cache; i++)
            leap_fbatch_free(&R->cache[i]);
        free(R->cache);
        R->cache = NULL;
    }
    return LEAP_OK;
}

/* leap_fit_io.map_valid: one pass over this rank's validation row groups. */
static int fit_map_valid(leap_fit_io *io, leap_batch_fn fn, void *user, leap_err *err) {
    run *R = io->priv;
    size_t *groups;
    size_t n = rank_groups(R, R->ctx->valid, &groups);
    if (n == (size_t)-1) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    R->ds = R->ctx->valid;
    R->groups = groups;
    R->map_fn = fn;
    R->map_user = user;
    R->valid_pass = 1;
    int rc = leap_parallel_for(R->ctx->threads, n, train_task, R);
    R->valid_pass = 0;
    R->map_fn = NULL;
    free(groups);
    return rc ? thread_error(R, rc, err) : LEAP_OK;
}

/* Batches and rows of this rank in ds. */
static void rank_rows(const run *R, leap_dataset *ds, size_t *batches, uint64_t *rows) {
    int rank = leap_comm_rank(R->ctx->comm), size = leap_comm_size(R->ctx->comm);
    size_t G = leap_dataset_num_row_groups(ds);
    *batches = 0;
    *rows = 0;
    for (size_t g = (size_t)rank; g < G; g += (size_t)size) {
        ++*batches;
        *rows += leap_dataset_row_group_rows(ds, g);
    }
}

static void fit_on_iter(leap_fit_io *io, int iter, double mean_loss, double seconds) {
    run *R = io->priv;
    R->fit_iters = iter;
    R->fit_loss = mean_loss;
    if (!R->ctx->on_epoch) return;
    double rows = (double)atomic_load(&R->rows_done);
    leap_epoch_info ei = {
        iter, mean_loss, io->valid_loss, rows, seconds, seconds > 0 ? rows / seconds : 0, 0};
    R->ctx->on_epoch(R->ctx->ud, &ei);
}

int leap_train_run(leap_train_ctx *ctx, leap_model *m, leap_train_report *rep, leap_err *err) {
    int rc = leap_train_check(ctx, err);
    if (rc) return rc;
    memset(rep, 0, sizeof *rep);
    rep->best_valid_logloss = NAN;
    rep->train_logloss = NAN;
    run *R = calloc(1, sizeof *R);
    state_sync S;
    memset(&S, 0, sizeof S);
    size_t *order = NULL, *mine = NULL;
    if (!R) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    R->ctx = ctx;
    R->m = m;
    R->neg_rate = leap_dataset_neg_rate(ctx->train);
    rep->neg_rate = R->neg_rate;
    int size = leap_comm_size(ctx->comm), rank = leap_comm_rank(ctx->comm);
    int T = ctx->threads;
    R->w = calloc((size_t)T, sizeof *R->w);
    if (!R->w) {
        rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
        goto done;
    }
    const leap_schema *ts = leap_dataset_schema(ctx->train);
    for (int t = 0; t < T; t++) {
        if ((rc = leap_rowgroup_init(&R->w[t].rg, ts)) ||
            (ctx->valid &&
             (rc = leap_rowgroup_init(&R->w[t].vrg, leap_dataset_schema(ctx->valid)))) ||
            (rc = leap_fz_bind(ctx->fz, ts, leap_dataset_path(ctx->train), &R->w[t].bind, err))) {
            if (rc == LEAP_ENOMEM) leap_err_set(err, rc, "out of memory");
            goto done;
        }
    }
    if (ctx->valid && (rc = leap_fz_bind(ctx->fz, leap_dataset_schema(ctx->valid),
                                         leap_dataset_path(ctx->valid), &R->vbind_proto, err)))
        goto done;
    if ((rc = sync_init(&S, m, size > 1, ctx->valid && ctx->o.patience > 0))) {
        rc = leap_err_set(err, LEAP_ENOMEM, "out of memory for model state copies");
        goto done;
    }
    if (m->ops->fit) { /* models that train by full passes */
        leap_fit_io io = {.threads = T,
                          .comm = ctx->comm,
                          .map = fit_map,
                          .map_valid = ctx->valid ? fit_map_valid : NULL,
                          .on_iter = fit_on_iter,
                          .valid_loss = NAN,
                          .epochs = ctx->o.epochs,
                          .patience = ctx->o.patience,
                          .min_delta = ctx->o.min_delta,
                          .seed = ctx->seed,
                          .priv = R};
        rank_rows(R, ctx->train, &io.n_batches, &io.n_rows);
        if (ctx->valid) rank_rows(R, ctx->valid, &io.n_valid_batches, &io.n_valid_rows);
        double t0 = leap_now();
        atomic_store(&R->rows_done, 0);
        rc = m->ops->fit(m, &io, err);
        if (rc == LEAP_OK) {
            double secs = leap_now() - t0, rows = (double)atomic_load(&R->rows_done);
            if ((rc = leap_comm_allreduce_sum_f64(ctx->comm, &rows, 1, err))) goto done;
            if (m->ops->refresh) m->ops->refresh(m);
            rep->epochs_run = rep->best_epoch = R->fit_iters > 0 ? R->fit_iters : 1;
            if (io.best_iter > 0) rep->best_epoch = io.best_iter;
            rep->train_logloss = R->fit_iters > 0 ? R->fit_loss : NAN;
            rep->train_seconds = secs;
            rep->examples = rows;
            rep->examples_per_s = secs > 0 ? rows / secs : 0;
            if (ctx->valid) {
                leap_err verr = {0};
                rep->best_valid_logloss = run_valid(R, &verr);
                if (verr.status) {
                    rc = verr.status;
                    if (err) *err = verr;
                }
            }
            goto done;
        }
        if (rc != LEAP_EUNSUPPORTED) goto done;
        if (err) memset(err, 0, sizeof *err);
        rc = LEAP_OK;
    }
    size_t G = leap_dataset_num_row_groups(ctx->train);
    order = malloc((G ? G : 1) * sizeof *order);
    mine = malloc((G ? G : 1) * sizeof *mine);
    if (!order || !mine) {
        rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
        goto done;
    }
    /* Every rank runs the same number of sync rounds per epoch. */
    size_t per_rank_max = (G + (size_t)size - 1) / (size_t)size;
    size_t per_round = (size_t)T * (size_t)ctx->o.sync_every;
    size_t rounds = size > 1 ? (per_rank_max + per_round - 1) / per_round : 1;
    double best = INFINITY;
    int bad = 0;
    for (int ep = 0; ep < ctx->o.epochs; ep++) {
        shuffle(order, G, ctx->seed, ep);
        size_t n_mine = 0;
        double rows_mine = 0;
        for (size_t i = (size_t)rank; i < G; i += (size_t)size) {
            mine[n_mine++] = order[i];
            rows_mine += (double)leap_dataset_row_group_rows(ctx->train, order[i]);
        }
        for (int t = 0; t < T; t++)
            R->w[t].sums[0] = R->w[t].sums[1] = 0;
        atomic_store(&R->rows_done, 0);
        R->epoch = ep;
        R->rows_total = rows_mine;
        R->ds = ctx->train;
        R->epoch_start = leap_now();
        for (size_t rd = 0; rd < rounds; rd++) {
            size_t a = size > 1 ? rd * per_round : 0;
            size_t e = size > 1 ? a + per_round : n_mine;
            if (a > n_mine) a = n_mine;
            if (e > n_mine) e = n_mine;
            R->groups = mine + a;
            rc = leap_parallel_for(T, e - a, train_task, R);
            if (rc) {
                rc = thread_error(R, rc, err);
                goto done;
            }
            if (size > 1 && (rc = sync_state(&S, ctx->comm, err))) goto done;
        }
        double secs = leap_now() - R->epoch_start;
        double s[3] = {0, 0, (double)atomic_load(&R->rows_done)};
        for (int t = 0; t < T; t++) {
            s[0] += R->w[t].sums[0];
            s[1] += R->w[t].sums[1];
        }
        if ((rc = leap_comm_allreduce_sum_f64(ctx->comm, s, 3, err))) goto done;
        double smax = secs;
        if ((rc = leap_comm_allreduce_max_f64(ctx->comm, &smax, 1, err))) goto done;
        if (m->ops->refresh) m->ops->refresh(m);
        leap_epoch_info ei = {ep + 1, s[1] > 0 ? s[0] / s[1] : NAN, NAN, s[2],
                              smax,   smax > 0 ? s[2] / smax : 0,   0};
        rep->epochs_run = ep + 1;
        rep->train_logloss = ei.train_logloss;
        rep->train_seconds += smax;
        rep->examples += s[2];
        int stop = 0;
        if (ctx->valid) {
            leap_err verr = {0};
            ei.valid_logloss = run_valid(R, &verr);
            if (verr.status) {
                rc = verr.status;
                if (err) *err = verr;
                goto done;
            }
            if (ei.valid_logloss < best - ctx->o.min_delta) {
                best = ei.valid_logloss;
                rep->best_epoch = ep + 1;
                rep->best_valid_logloss = best;
                ei.best = 1;
                bad = 0;
                if (ctx->o.patience > 0) state_copy(&S, 1);
            } else if (ctx->o.patience > 0 && ++bad >= ctx->o.patience) {
                stop = 1;
            }
        } else {
            rep->best_epoch = ep + 1;
        }
        if (ctx->on_epoch) ctx->on_epoch(ctx->ud, &ei);
        if (stop) break;
    }
    if (ctx->valid && ctx->o.patience > 0 && rep->best_epoch > 0 &&
        rep->best_epoch != rep->epochs_run) {
        state_copy(&S, 0);
        if (m->ops->refresh) m->ops->refresh(m);
    }
    rep->examples_per_s = rep->train_seconds > 0 ? rep->examples / rep->train_seconds : 0;
    rc = LEAP_OK;
done:
    if (R->w)
        for (int t = 0; t < T; t++) {
            leap_rowgroup_free(&R->w[t].rg);
            leap_rowgroup_free(&R->w[t].vrg);
            leap_fbatch_free(&R->w[t].fb);
            leap_fz_binding_free(&R->w[t].bind);
            free(R->w[t].pred);
        }
    leap_fz_binding_free(&R->vbind_proto);
    if (R->cache) {
        for (size_t i = 0; i < R->n_cache; i++)
            leap_fbatch_free(&R->cache[i]);
        free(R->cache);
    }
    free(R->w);
    free(R->row0);
    free(R);
    free(order);
    free(mine);
    sync_free(&S);
    return rc;
}
