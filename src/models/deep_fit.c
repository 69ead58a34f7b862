/* deep_fit.c — training of the embedding models: epochs of mini-batch
 * gradient steps, all threads on every mini-batch, data-parallel over MPI
 * ranks, checkpoints and resume, early stopping.
 *
 * Data. The trainer's fit map featurizes this rank's row groups on its own
 * threads; here a producer thread runs that map and hands each batch over in
 * order of b->seq (a callback blocks until its batch is consumed), so batches
 * are read and featurized while the previous one trains, and the order of
 * rows never depends on thread timing. Rows of a batch are shuffled per epoch
 * by (seed, epoch, seq); a mini-batch never spans two row groups.
 *
 * One step (the team: the calling thread and T − 1 workers, a barrier between
 * phases; nothing is allocated):
 *   A  thread t assigns the table rows whose hash falls in its partition to
 *      slots of its row set, then runs forward and backward on its block of
 *      rows (rows [t·bt, (t+1)·bt)) into its own dense-gradient buffer.
 *   B  thread t sums chunk t of the dense gradients of all threads and
 *      accumulates the gradient rows of its slots (entries in batch order).
 *      Single process: it applies the optimizer to that chunk and those rows.
 *      MPI: thread 0 exchanges (below), then every thread applies its share.
 * Every sum runs in an order fixed by the data, so a run is deterministic for
 * a given thread count, and --threads 1 --seed S reproduces bit for bit —
 * which is what lets a resumed run finish with the very model of an
 * uninterrupted one.
 *
 * MPI: each rank steps on ceil(batch_size / ranks) of its own rows; per step
 * a small allreduce sums the ranks' key counts and weights, the ranks
 * exchange the touched table rows' keys (one bcast per rank), form their
 * union in rank order, and ONE allreduce sums the gradients [dense | union
 * rows]; every rank then applies the same update, so the
 * replicas stay identical. Ranks that run out of rows keep stepping with
 * empty blocks until all have. (docs/ARCHITECTURE.md: why and measurements.)
 */
#include "models/deep.h"

#include "nn/blas.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the team: T threads that run one function together ------------------- */

typedef struct team {
    int T;
    pthread_t *th;
    pthread_barrier_t bar;
    void (*fn)(void *ctx, int t);
    void *ctx;
    int quit, started;
} team;

typedef struct team_arg {
    team *tm;
    int t;
} team_arg;

static void *team_worker(void *p) {
    team_arg *a = p;
    team *tm = a->tm;
    int t = a->t;
    free(a);
    for (;;) {
        pthread_barrier_wait(&tm->bar);
        if (tm->quit) break;
        tm->fn(tm->ctx, t);
        pthread_barrier_wait(&tm->bar);
    }
    return NULL;
}

static int team_start(team *tm, int T) {
    memset(tm, 0, sizeof *tm);
    tm->T = T;
    if (pthread_barrier_init(&tm->bar, NULL, (unsigned)T)) return LEAP_ENOMEM;
    tm->th = calloc((size_t)T, sizeof *tm->th);
    if (!tm->th) return LEAP_ENOMEM;
    for (int t = 1; t < T; t++) {
        team_arg *a = malloc(sizeof *a);
        if (!a) return LEAP_ENOMEM;
        a->tm = tm;
        a->t = t;
        if (pthread_create(&tm->th[t], NULL, team_worker, a)) {
            free(a);
            tm->T = t; /* the ones started */
            return LEAP_ENOMEM;
        }
    }
    tm->started = 1;
    return LEAP_OK;
}

/* Runs fn(ctx, t) on every thread of the team (t = 0 here); returns when all did. */
static void team_run(team *tm, void (*fn)(void *, int), void *ctx) {
    tm->fn = fn;
    tm->ctx = ctx;
    if (tm->T > 1) pthread_barrier_wait(&tm->bar);
    fn(ctx, 0);
    if (tm->T > 1) pthread_barrier_wait(&tm->bar);
}

static void team_sync(team *tm) {
    if (tm->T > 1) pthread_barrier_wait(&tm->bar);
}

static void team_stop(team *tm) {
    if (tm->started && tm->T > 1) {
        tm->quit = 1;
        pthread_barrier_wait(&tm->bar);
        for (int t = 1; t < tm->T; t++)
            pthread_join(tm->th[t], NULL);
    }
    if (tm->th) pthread_barrier_destroy(&tm->bar);
    free(tm->th);
    memset(tm, 0, sizeof *tm);
}

/* ---- the feed: batches of the trainer's map, in seq order ----------------- */

typedef struct feed {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const leap_fbatch **slot; /* [ns] */
    size_t ns, next;
    int done, abort, rc, running;
    leap_err err;
    leap_fit_io *io;
    pthread_t th;
} feed;

static void feed_put(void *user, const leap_fbatch *b, int thread) {
    (void)thread;
    feed *F = user;
    pthread_mutex_lock(&F->mu);
    while (!F->abort && b->seq >= F->next + F->ns)
        pthread_cond_wait(&F->cv, &F->mu);
    if (!F->abort) {
        F->slot[b->seq % F->ns] = b;
        pthread_cond_broadcast(&F->cv);
        while (!F->abort && F->next <= b->seq)
            pthread_cond_wait(&F->cv, &F->mu);
    }
    pthread_mutex_unlock(&F->mu);
}

static void *feed_main(void *p) {
    feed *F = p;
    int rc = F->io->map(F->io, feed_put, F, &F->err);
    pthread_mutex_lock(&F->mu);
    F->rc = rc;
    F->done = 1;
    pthread_cond_broadcast(&F->cv);
    pthread_mutex_unlock(&F->mu);
    return NULL;
}

static int feed_start(feed *F) {
    F->next = 0;
    F->done = F->abort = F->rc = 0;
    memset(F->slot, 0, F->ns * sizeof *F->slot);
    memset(&F->err, 0, sizeof F->err);
    if (pthread_create(&F->th, NULL, feed_main, F)) return LEAP_ENOMEM;
    F->running = 1;
    return LEAP_OK;
}

/* The batch with seq == next, or NULL when the pass is over (or failed). */
static const leap_fbatch *feed_get(feed *F) {
    pthread_mutex_lock(&F->mu);
    const leap_fbatch *b = NULL;
    for (;;) {
        b = F->slot[F->next % F->ns];
        if (b && b->seq == F->next) break;
        b = NULL;
        if (F->done) break;
        pthread_cond_wait(&F->cv, &F->mu);
    }
    pthread_mutex_unlock(&F->mu);
    return b;
}

static void feed_release(feed *F) {
    pthread_mutex_lock(&F->mu);
    F->slot[F->next % F->ns] = NULL;
    F->next++;
    pthread_cond_broadcast(&F->cv);
    pthread_mutex_unlock(&F->mu);
}

/* Ends the pass (early, when abort) and waits for the producer. */
static void feed_join(feed *F, int abort) {
    if (!F->running) return;
    pthread_mutex_lock(&F->mu);
    if (abort) F->abort = 1;
    pthread_cond_broadcast(&F->cv);
    pthread_mutex_unlock(&F->mu);
    pthread_join(F->th, NULL);
    F->running = 0;
}

/* ---- the fit ---------------------------------------------------------------- */

typedef struct mbatch {
    int n;
    size_t nnz, cap_rows, cap_nnz;
    uint32_t *row_ptr, *idx, *erow;
    float *val, *label, *weight;
    uint16_t *field;
} mbatch;

typedef struct fit {
    deep_model *d;
    deep_net *N;
    leap_fit_io *io;
    int T, size, rank, local_b, bt;
    deep_ws *ws;
    mbatch mb;
    nn_rowset *rs;     /* [T] */
    uint32_t **plist;  /* [T][cap_nnz] entries of each thread's slots */
    size_t *np;        /* [T] */
    int32_t *eslot;    /* [cap_nnz] */
    float **ug;        /* [T][cap_nnz][max_stride] slot gradients */
    uint16_t **sfield; /* [T][cap_nnz] field of each slot */
    double *acc;       /* [T][8]: 0 epoch loss, 1 epoch weight, 2 step weight, 3 valid loss,
                          4 valid weight */
    nn_opt opt;
    uint64_t step_seed, row_base;
    team tm;
    feed F;
    uint32_t *perm;
    size_t perm_cap;
    /* MPI */
    double *cnt;     /* [size + 3] */
    uint32_t *akeys; /* [akeys_cap] */
    size_t akeys_cap, U;
    nn_rowset rsu;
    float *xb; /* [n_dense + rsu.max_keys · max_stride] */
    int all_done;
    double gscale;
    leap_err xerr;         /* the exchange's error (thread 0) */
    float emb_lr;          /* this step's learning rate of the tables */
    int progressive;       /* pair_gate: the first epoch, whose rows are scored before use */
    int64_t prog_from;     /* ... from this step on (its second half: the model at the end is
                              closer to late predictions than to early ones) */
    int seq_wide;          /* pair_gate, FTRL, one process: first order row by row (ftrl_rows) */
    double g_rows, g_bats; /* training rows and batches of all ranks */
} fit;

/* Partition of table rows among threads (not the row set's own hash bits). */
static inline int key_part(uint32_t key, int T) {
    return T == 1 ? 0 : (int)(((key * 0x85EBCA6Bu) >> 16) % (uint32_t)T);
}

static void fit_free_buffers(fit *X) {
    for (int t = 0; X->rs && t < X->T; t++) {
        nn_rowset_free(&X->rs[t]);
        free(X->plist[t]);
        free(X->ug[t]);
        free(X->sfield[t]);
    }
    free(X->rs);
    free(X->plist);
    free(X->ug);
    free(X->sfield);
    free(X->eslot);
    X->rs = NULL;
    X->plist = NULL;
    X->ug = NULL;
    X->sfield = NULL;
    X->eslot = NULL;
}

/* (Re)sizes everything that depends on the most entries a mini-batch holds. */
static int fit_size_entries(fit *X, size_t nnz) {
    if (nnz <= X->mb.cap_nnz && X->rs) return LEAP_OK;
    size_t cap = X->mb.cap_nnz > nnz ? X->mb.cap_nnz : nnz;
    if (cap < 1024) cap = 1024;
    mbatch *B = &X->mb;
    uint32_t *i1 = realloc(B->idx, cap * sizeof *i1);
    if (i1) B->idx = i1;
    uint32_t *i2 = realloc(B->erow, cap * sizeof *i2);
    if (i2) B->erow = i2;
    float *v = realloc(B->val, cap * sizeof *v);
    if (v) B->val = v;
    uint16_t *f = realloc(B->field, cap * sizeof *f);
    if (f) B->field = f;
    if (!i1 || !i2 || !v || !f) return LEAP_ENOMEM;
    B->cap_nnz = cap;
    fit_free_buffers(X);
    int T = X->T, ms = X->N->max_stride > 0 ? X->N->max_stride : 1;
    X->rs = calloc((size_t)T, sizeof *X->rs);
    X->plist = calloc((size_t)T, sizeof *X->plist);
    X->ug = calloc((size_t)T, sizeof *X->ug);
    X->sfield = calloc((size_t)T, sizeof *X->sfield);
    X->eslot = malloc(cap * sizeof *X->eslot);
    if (!X->rs || !X->plist || !X->ug || !X->sfield || !X->eslot) return LEAP_ENOMEM;
    for (int t = 0; t < T; t++) {
        if (nn_rowset_init(&X->rs[t], cap)) return LEAP_ENOMEM;
        X->plist[t] = malloc(cap * sizeof **X->plist);
        X->ug[t] = malloc(cap * (size_t)ms * sizeof **X->ug);
        X->sfield[t] = malloc(cap * sizeof **X->sfield);
        if (!X->plist[t] || !X->ug[t] || !X->sfield[t]) return LEAP_ENOMEM;
    }
    if (X->size > 1) {
        size_t ucap = cap * (size_t)X->size;
        nn_rowset_free(&X->rsu);
        free(X->xb);
        X->xb = malloc((X->N->n_dense + ucap * (size_t)ms) * sizeof *X->xb);
        if (nn_rowset_init(&X->rsu, ucap) || !X->xb) return LEAP_ENOMEM;
    }
    return LEAP_OK;
}

static int fit_size_rows(fit *X, size_t rows) {
    mbatch *B = &X->mb;
    if (rows <= B->cap_rows) return LEAP_OK;
    uint32_t *rp = realloc(B->row_ptr, (rows + 1) * sizeof *rp);
    if (rp) B->row_ptr = rp;
    float *l = realloc(B->label, rows * sizeof *l);
    if (l) B->label = l;
    float *w = realloc(B->weight, rows * sizeof *w);
    if (w) B->weight = w;
    if (!rp || !l || !w) return LEAP_ENOMEM;
    B->cap_rows = rows;
    return LEAP_OK;
}

/* Copies rows perm[0, n) of b into the mini-batch. */
static int assemble(fit *X, const leap_fbatch *b, const uint32_t *perm, int n) {
    size_t nnz = 0;
    for (int i = 0; i < n; i++)
        nnz += b->row_ptr[perm[i] + 1] - b->row_ptr[perm[i]];
    int rc = fit_size_entries(X, nnz);
    if (rc) return rc;
    mbatch *B = &X->mb;
    size_t k = 0;
    B->row_ptr[0] = 0;
    for (int i = 0; i < n; i++) {
        uint32_t r = perm[i], a = b->row_ptr[r], e = b->row_ptr[r + 1];
        memcpy(B->idx + k, b->idx + a, (e - a) * sizeof *B->idx);
        memcpy(B->val + k, b->val + a, (e - a) * sizeof *B->val);
        memcpy(B->field + k, b->field + a, (e - a) * sizeof *B->field);
        for (uint32_t j = 0; j < e - a; j++)
            B->erow[k + j] = (uint32_t)i;
        k += e - a;
        B->row_ptr[i + 1] = (uint32_t)k;
        B->label[i] = b->label[r];
        B->weight[i] = b->weight[r];
    }
    B->n = n;
    B->nnz = k;
    return LEAP_OK;
}

/* Applies the optimizer to table row `key` with gradient g. */
static void update_row(fit *X, const nn_opt *o, uint32_t key, int f, const float *g) {
    deep_model *d = X->d;
    const nn_emb_field *e = &X->N->ef[f];
    size_t local = key - e->offset, off = e->base + local * e->stride;
    float *p = X->N->emb + off;
    int n = e->stride;
    if (d->ez && e->stride > e->dim && X->seq_wide) {
        n = e->dim; /* first-order weight: ftrl_rows did it */
    } else if (d->ez &&
               e->stride > e->dim) { /* first-order weight by FTRL, on the summed gradient */
        const deep_opts *op = &d->o;
        float *zn = d->ez + 2 * (e->rbase + local);
        p[e->dim] = nn_ftrl_step(p[e->dim], g[e->dim], zn, zn + 1, (float)op->ftrl_alpha,
                                 (float)op->ftrl_beta, (float)op->ftrl_l1, (float)op->ftrl_l2);
        n = e->dim;
    }
    if (o->kind == NN_OPT_ADAGRAD) {
        /* row-wise: one accumulator for the vector, one for the first-order
         * weight (their gradients differ in scale by orders of magnitude) */
        float *acc = d->er + 2 * (e->rbase + local);
        if (e->dim) nn_opt_row(o, p, g, NULL, acc, e->dim);
        if (n > e->dim) nn_opt_row(o, p + e->dim, g + e->dim, NULL, acc + 1, 1);
        return;
    }
    if (n) nn_opt_row(o, p, g, d->es1 ? d->es1 + off : NULL, d->es2 ? d->es2 + off : NULL, n);
}

/* Starts fetching the lines of table row `key` (parameters and optimizer
 * state): the rows a step updates are random lines of tables far larger than
 * the caches, so updates are bound by memory latency unless the next rows
 * are on their way. */
static inline void prefetch_row(const fit *X, uint32_t key, int f) {
    const deep_model *d = X->d;
    const nn_emb_field *e = &X->N->ef[f];
    size_t local = key - e->offset, off = e->base + local * e->stride;
    const float *p = X->N->emb + off;
    __builtin_prefetch(p, 1, 0);
    __builtin_prefetch(p + e->stride - 1, 1, 0);
    if (d->es1) {
        __builtin_prefetch(d->es1 + off, 1, 0);
        __builtin_prefetch(d->es1 + off + e->stride - 1, 1, 0);
    }
    if (d->es2) {
        __builtin_prefetch(d->es2 + off, 1, 0);
        __builtin_prefetch(d->es2 + off + e->stride - 1, 1, 0);
    }
    if (d->er) __builtin_prefetch(d->er + 2 * (e->rbase + local), 1, 0);
    if (d->ez) __builtin_prefetch(d->ez + 2 * (e->rbase + local), 1, 0);
}

#define PREFETCH_AHEAD 8

static void dense_chunk(const fit *X, int t, size_t *a, size_t *e) {
    size_t n = X->N->n_dense, per = (n / (size_t)X->T + 15) & ~(size_t)15;
    *a = per * (size_t)t;
    *e = *a + per;
    if (*a > n) *a = n;
    if (*e > n || t == X->T - 1) *e = n;
}

static void exchange(fit *X); /* MPI, thread 0 */

/* The optimizer over dense parameters [c0, c1) with gradient g. Set apart:
 * with FTRL first-order weights the bias is FTRL's too (unregularized, as in
 * LR); pair_gate's gate is not trained and its progressive losses are sums
 * (their "gradient" is this step's losses). */
static void apply_dense(fit *X, const nn_opt *o, size_t c0, size_t c1, const float *g) {
    deep_model *d = X->d;
    const deep_net *N = X->N;
    float *P = N->dense;
    size_t b = N->off_bias, s0 = b, s1 = b + 1; /* the special block [s0, s1) */
    if (N->a.pair_gate) s1 = N->off_gate + 1 + 2 * DEEP_GATES;
    if (!d->ez && !N->a.pair_gate) s1 = s0; /* nothing special */
    size_t lo = s0 > c0 ? s0 : c0, hi = s1 < c1 ? s1 : c1;
    if (lo >= hi) {
        nn_opt_dense(o, P + c0, g + c0, d->ds1 + c0, d->ds2 ? d->ds2 + c0 : NULL, c1 - c0);
        return;
    }
    /* (the layout puts the gate right after the bias: deep_net.c) */
    nn_opt_dense(o, P + c0, g + c0, d->ds1 + c0, d->ds2 ? d->ds2 + c0 : NULL, lo - c0);
    for (size_t i = lo; i < hi; i++) {
        if (i == b && X->seq_wide) {
            /* ftrl_rows did it */
        } else if (i == b && d->ez) {
            float *zn = d->ez + 2 * N->n_emb_rows;
            P[b] = nn_ftrl_step(P[b], g[b], zn, zn + 1, (float)d->o.ftrl_alpha,
                                (float)d->o.ftrl_beta, 0.f, 0.f);
        } else if (i == b) {
            nn_opt_dense(o, P + b, g + b, d->ds1 + b, d->ds2 ? d->ds2 + b : NULL, 1);
        } else if (i > N->off_gate) {
            P[i] += g[i];
        }
    }
    nn_opt_dense(o, P + hi, g + hi, d->ds1 + hi, d->ds2 ? d->ds2 + hi : NULL, c1 - hi);
}

/* g0[c0, c1) += the other threads' dense gradients, which are zeroed. */
static void reduce_dense(fit *X, size_t c0, size_t c1) {
    float *g0 = X->ws[0].gd;
    for (int u = 1; u < X->T; u++) {
        float *gu = X->ws[u].gd;
        for (size_t c = c0; c < c1; c++) {
            g0[c] += gu[c];
            gu[c] = 0.f;
        }
    }
}

/* The gradient rows of thread t's slots: Σ over their entries, in batch order,
 * of value · (∂L/∂ pooled vector, ∂L/∂ first-order sum) of the entry's row. */
static void accum_rows(fit *X, int t, size_t np) {
    const deep_net *N = X->N;
    const mbatch *B = &X->mb;
    const int D0 = N->D0, wide = N->a.wide, ms = N->max_stride;
    const uint32_t *pl = X->plist[t];
    float *ug = X->ug[t];
    memset(ug, 0, X->rs[t].n * (size_t)ms * sizeof *ug);
    for (size_t i = 0; i < np; i++) {
        uint32_t k = pl[i], r = B->erow[k];
        int u = (int)(r / (uint32_t)X->bt), lr = (int)(r - (uint32_t)u * (uint32_t)X->bt);
        const nn_emb_field *f = &N->ef[B->field[k]];
        const float *dx = X->ws[u].dx0 + (size_t)lr * D0 + f->col;
        float *g = ug + (size_t)X->eslot[k] * ms, v = B->val[k];
        for (int j = 0; j < f->dim; j++)
            g[j] += v * dx[j];
        if (wide) g[f->dim] += v * X->ws[u].dzw[lr];
    }
}

/* pair_gate's first-order part exactly as `lr` trains it (lr.c): FTRL-Proximal
 * row by row in batch order, each row's gradient σ(lin) − y at the weights its
 * predecessors left, the bias unregularized. The mini-batch's rows are one
 * sequence, so this runs on one thread, after the forward of the step (whose
 * vectors' gradients used the weights before the step). On the first epoch it
 * also adds the gate candidates' progressive losses, from these exact
 * first-order logits and the forward's rest. */
static void ftrl_rows(fit *X) {
    deep_model *d = X->d;
    const deep_net *N = X->N;
    const deep_opts *o = &d->o;
    const mbatch *B = &X->mb;
    const float al = (float)o->ftrl_alpha, be = (float)o->ftrl_beta, l1 = (float)o->ftrl_l1,
                l2 = (float)o->ftrl_l2;
    float *P = N->dense, *zb = d->ez + 2 * N->n_emb_rows;
    float *gl = X->ws[0].gd + N->off_gate + 1; /* summed over threads and added as a step's */
    for (int r = 0; r < B->n; r++) {
        float s = P[N->off_bias];
        for (uint32_t k = B->row_ptr[r]; k < B->row_ptr[r + 1]; k++) {
            const nn_emb_field *e = &N->ef[B->field[k]];
            if (e->stride > e->dim)
                s += B->val[k] *
                     N->emb[e->base + (size_t)(B->idx[k] - e->offset) * e->stride + (size_t)e->dim];
        }
        float y = B->label[r], wt = B->weight[r];
        float p = 1.f / (1.f + expf(-(s > 35.f ? 35.f : s < -35.f ? -35.f : s)));
        float g = (p - y) * wt;
        if (X->progressive && X->d->step >= X->prog_from) {
            int u = r / X->bt, lr = r - u * X->bt;
            deep_gate_add(gl, s, X->ws[u].inter[lr], y, wt);
        }
        P[N->off_bias] = nn_ftrl_step(P[N->off_bias], g, zb, zb + 1, al, be, 0.f, 0.f);
        for (uint32_t k = B->row_ptr[r]; k < B->row_ptr[r + 1]; k++) {
            const nn_emb_field *e = &N->ef[B->field[k]];
            if (e->stride <= e->dim) continue;
            size_t local = B->idx[k] - e->offset;
            float *w = N->emb + e->base + local * e->stride + e->dim,
                  *zn = d->ez + 2 * (e->rbase + local);
            *w = nn_ftrl_step(*w, g * B->val[k], zn, zn + 1, al, be, l1, l2);
        }
    }
}

static void step_fn(void *ctx, int t) {
    fit *X = ctx;
    deep_net *N = X->N;
    mbatch *B = &X->mb;
    int T = X->T, ms = N->max_stride;
    /* A: my table rows, then forward/backward of my block of rows */
    nn_rowset *rs = &X->rs[t];
    nn_rowset_clear(rs);
    size_t np = 0;
    uint32_t *pl = X->plist[t];
    uint16_t *sf = X->sfield[t];
    for (size_t k = 0; k < B->nnz; k++) {
        uint32_t key = B->idx[k];
        if (key_part(key, T) != t || !N->ef[B->field[k]].stride) continue;
        size_t before = rs->n;
        int32_t s = nn_rowset_insert(rs, key);
        if (rs->n != before) sf[s] = B->field[k];
        X->eslot[k] = s;
        pl[np++] = (uint32_t)k;
    }
    X->np[t] = np;
    int a = t * X->bt, e = a + X->bt < B->n ? a + X->bt : B->n;
    double *acc = X->acc + 8 * (size_t)t;
    acc[2] = 0;
    if (e > a) {
        deep_rows R = {B->row_ptr + a, B->idx, B->val, B->field, e - a};
        deep_ws *W = &X->ws[t];
        deep_forward(N, W, &R, 1, X->step_seed, X->row_base + (uint64_t)a);
        if (N->a.pair_gate && X->progressive && !X->seq_wide && X->d->step >= X->prog_from)
            deep_gate_losses(W, e - a, B->label + a, B->weight + a, W->gd + N->off_gate + 1);
        acc[0] += deep_backward(N, W, &R, B->label + a, B->weight + a, X->step_seed,
                                X->row_base + (uint64_t)a);
        double ws = 0;
        for (int r = a; r < e; r++)
            ws += B->weight[r];
        acc[1] += ws;
        acc[2] = ws;
    }
    team_sync(&X->tm);
    if (X->seq_wide) { /* one sequence: thread 0, before anyone sums gradients */
        if (t == 0) ftrl_rows(X);
        team_sync(&X->tm);
    }
    /* B: dense gradient chunk t summed over threads; my rows' gradients */
    size_t c0, c1;
    dense_chunk(X, t, &c0, &c1);
    float *g0 = X->ws[0].gd;
    reduce_dense(X, c0, c1);
    float *ug = X->ug[t];
    accum_rows(X, t, np);
    nn_opt o = X->opt, oe = X->opt;
    oe.lr = X->emb_lr;
    if (X->size == 1) {
        double wsum = 0;
        for (int u = 0; u < T; u++)
            wsum += X->acc[8 * (size_t)u + 2];
        if (!(wsum > 0)) { /* nothing to learn from (all weights 0) */
            memset(g0 + c0, 0, (c1 - c0) * sizeof *g0);
            return;
        }
        o.gscale = oe.gscale = (float)(1.0 / wsum);
        apply_dense(X, &o, c0, c1, g0);
        memset(g0 + c0, 0, (c1 - c0) * sizeof *g0);
        for (size_t s = 0; s < rs->n && s < PREFETCH_AHEAD; s++)
            prefetch_row(X, rs->key_of[s], sf[s]);
        for (size_t s = 0; s < rs->n; s++) {
            if (s + PREFETCH_AHEAD < rs->n)
                prefetch_row(X, rs->key_of[s + PREFETCH_AHEAD], sf[s + PREFETCH_AHEAD]);
            update_row(X, &oe, rs->key_of[s], sf[s], ug + s * (size_t)ms);
        }
        return;
    }
    team_sync(&X->tm);
    if (t == 0) exchange(X);
    team_sync(&X->tm);
    if (X->all_done || !(X->gscale > 0)) {
        memset(g0 + c0, 0, (c1 - c0) * sizeof *g0);
        return;
    }
    o.gscale = oe.gscale = (float)X->gscale;
    apply_dense(X, &o, c0, c1, X->xb);
    memset(g0 + c0, 0, (c1 - c0) * sizeof *g0);
    size_t U = X->U, per = (U + (size_t)T - 1) / (size_t)T, u0 = per * (size_t)t,
           u1 = u0 + per < U ? u0 + per : U;
    const float *xg = X->xb + N->n_dense;
    for (size_t u = u0; u < u1; u++) {
        uint32_t key = X->rsu.key_of[u];
        int f = deep_key_field(N, key);
        if (f >= 0) update_row(X, &oe, key, f, xg + u * (size_t)ms);
    }
}

/* MPI: union of the ranks' touched rows, then one allreduce of [dense | rows]. */
static void exchange(fit *X) {
    leap_fit_io *io = X->io;
    deep_net *N = X->N;
    int size = X->size, ms = N->max_stride;
    size_t K = 0;
    for (int t = 0; t < X->T; t++)
        K += X->rs[t].n;
    double *cnt = X->cnt;
    memset(cnt, 0, (size_t)(size + 3) * sizeof *cnt);
    cnt[X->rank] = (double)K;
    for (int t = 0; t < X->T; t++)
        cnt[size] += X->acc[8 * (size_t)t + 2];
    cnt[size + 1] = X->mb.n > 0 ? 1 : 0;
    X->all_done = 1;
    X->gscale = 0;
    if (leap_comm_allreduce_sum_f64(io->comm, cnt, (size_t)size + 3, &X->xerr)) return;
    if (cnt[size + 1] < 0.5) return; /* every rank is out of rows */
    X->all_done = 0;
    size_t total = 0, mine = 0;
    for (int r = 0; r < size; r++) {
        if (r == X->rank) mine = total;
        total += (size_t)cnt[r];
    }
    if (total > X->akeys_cap) { /* more than any step before: grow (rare) */
        uint32_t *k = realloc(X->akeys, total * sizeof *k);
        if (!k) {
            leap_err_set(&X->xerr, LEAP_ENOMEM, "out of memory");
            return;
        }
        X->akeys = k;
        X->akeys_cap = total;
    }
    if (total > X->rsu.max_keys) {
        nn_rowset_free(&X->rsu);
        free(X->xb);
        X->xb = malloc((N->n_dense + total * (size_t)ms) * sizeof *X->xb);
        if (nn_rowset_init(&X->rsu, total) || !X->xb) {
            leap_err_set(&X->xerr, LEAP_ENOMEM, "out of memory");
            return;
        }
    }
    size_t o = mine;
    for (int t = 0; t < X->T; t++) {
        memcpy(X->akeys + o, X->rs[t].key_of, X->rs[t].n * sizeof *X->akeys);
        o += X->rs[t].n;
    }
    size_t off = 0;
    for (int r = 0; r < size; r++) {
        size_t n = (size_t)cnt[r];
        if (n && leap_comm_bcast(io->comm, X->akeys + off, n * sizeof *X->akeys, r, &X->xerr))
            return;
        off += n;
    }
    nn_rowset_clear(&X->rsu);
    for (size_t i = 0; i < total; i++)
        nn_rowset_insert(&X->rsu, X->akeys[i]);
    size_t U = X->rsu.n, nd = N->n_dense;
    memcpy(X->xb, X->ws[0].gd, nd * sizeof *X->xb);
    memset(X->xb + nd, 0, U * (size_t)ms * sizeof *X->xb);
    for (int t = 0; t < X->T; t++)
        for (size_t s = 0; s < X->rs[t].n; s++) {
            int32_t u = nn_rowset_find(&X->rsu, X->rs[t].key_of[s]);
            memcpy(X->xb + nd + (size_t)u * ms, X->ug[t] + s * (size_t)ms,
                   (size_t)ms * sizeof *X->xb);
        }
    if (leap_comm_allreduce_sum_f32(io->comm, X->xb, nd + U * (size_t)ms, &X->xerr)) {
        X->all_done = 1;
        return;
    }
    X->U = U;
    X->gscale = cnt[size] > 0 ? 1.0 / cnt[size] : 0;
}

/* ---- validation ---------------------------------------------------------------- */

static void valid_cb(void *user, const leap_fbatch *b, int thread) {
    fit *X = user;
    deep_ws *W = &X->ws[thread];
    double *acc = X->acc + 8 * (size_t)thread;
    for (size_t a = 0; a < b->n_rows; a += (size_t)W->cap) {
        int n = (int)(b->n_rows - a < (size_t)W->cap ? b->n_rows - a : (size_t)W->cap);
        deep_rows R = {b->row_ptr + a, b->idx, b->val, b->field, n};
        deep_forward(X->N, W, &R, 0, 0, 0);
        acc[3] += nn_logloss(n, W->logit, b->label + a, b->weight + a, 1.f, NULL, NULL);
        for (int r = 0; r < n; r++)
            acc[4] += b->weight[a + (size_t)r];
    }
}

static int valid_loss(fit *X, double *out, leap_err *err) {
    for (int t = 0; t < X->T; t++)
        X->acc[8 * (size_t)t + 3] = X->acc[8 * (size_t)t + 4] = 0;
    int rc = X->io->map_valid(X->io, valid_cb, X, err);
    if (rc) return rc;
    double s[2] = {0, 0};
    for (int t = 0; t < X->T; t++) {
        s[0] += X->acc[8 * (size_t)t + 3];
        s[1] += X->acc[8 * (size_t)t + 4];
    }
    if ((rc = leap_comm_allreduce_sum_f64(X->io->comm, s, 2, err))) return rc;
    *out = s[1] > 0 ? s[0] / s[1] : NAN;
    return LEAP_OK;
}

/* ---- checkpoints ------------------------------------------------------------------- */

#define CKPT_MAGIC   "LEAPCKPT"
#define CKPT_VERSION 1

typedef struct ckpt_pos {
    int epoch, has_best, best_epoch, bad;
    int64_t step;
    double best, ep_loss, ep_w, seconds;
    uint64_t *seq_row; /* [size][2] this pass's position of every rank */
} ckpt_pos;

/* A hash of what a resumed run must share with the one that wrote the checkpoint. */
static uint64_t run_hash(const fit *X) {
    const deep_model *d = X->d;
    const deep_opts *o = &d->o;
    leap_buf b = {0};
    deep_arch_write(&X->N->a, &b);
    uint64_t h = leap_hash64(b.p, b.len, 0);
    leap_buf_free(&b);
    double nums[] = {o->batch_size,
                     o->lr,
                     o->embedding_lr,
                     o->optimizer,
                     o->momentum,
                     o->weight_decay,
                     o->eps,
                     o->warmup,
                     o->lr_decay,
                     o->init_scale,
                     o->shuffle,
                     X->g_rows,
                     X->g_bats,
                     X->size,
                     (double)X->io->seed,
                     X->io->epochs,
                     o->wide_optimizer,
                     o->ftrl_alpha,
                     o->ftrl_beta,
                     o->ftrl_l1,
                     o->ftrl_l2};
    h = leap_mix64(h, leap_hash64(nums, sizeof nums, 0));
    return leap_mix64(h, (uint64_t)X->N->n_emb);
}

typedef struct ck_arr {
    float *p;
    size_t n;
} ck_arr;

/* The arrays of a checkpoint, in file order (NULL entries skipped). */
static size_t ckpt_arrays(fit *X, float *best_dense, float *best_emb, int has_best, ck_arr *a) {
    deep_model *d = X->d;
    deep_net *N = X->N;
    size_t k = 0;
    ck_arr all[] = {{N->dense, N->n_dense},
                    {d->ds1, N->n_dense},
                    {d->ds2, N->n_dense},
                    {N->emb, N->n_emb},
                    {d->es1, N->n_emb},
                    {d->es2, N->n_emb},
                    {d->er, 2 * N->n_emb_rows},
                    {d->ez, 2 * (N->n_emb_rows + 1)},
                    {has_best ? best_dense : NULL, N->n_dense},
                    {has_best ? best_emb : NULL, N->n_emb}};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i].p) a[k++] = all[i];
    return k;
}

static int ckpt_write(fit *X, const char *path, const ckpt_pos *P, float *best_dense,
                      float *best_emb, leap_err *err) {
    leap_afile af;
    int rc = leap_afile_open(&af, path, err);
    if (rc) return rc;
    uint8_t h[128];
    memset(h, 0, sizeof h);
    memcpy(h, CKPT_MAGIC, 8);
    leap_put_u32(h + 8, CKPT_VERSION);
    leap_put_u32(h + 12, (uint32_t)X->size);
    leap_put_u64(h + 16, run_hash(X));
    leap_put_u64(h + 24, (uint64_t)P->step);
    leap_put_u32(h + 32, (uint32_t)P->epoch);
    leap_put_u32(h + 36, (uint32_t)P->has_best);
    leap_put_u32(h + 40, (uint32_t)P->best_epoch);
    leap_put_u32(h + 44, (uint32_t)P->bad);
    double dv[4] = {P->best, P->ep_loss, P->ep_w, P->seconds};
    memcpy(h + 48, dv, sizeof dv);
    leap_put_u64(h + 80, X->N->n_dense);
    leap_put_u64(h + 88, X->N->n_emb);
    uint64_t sum = leap_hash64(h, sizeof h, 0);
    fwrite(h, 1, sizeof h, af.fp);
    size_t pn = 2 * (size_t)X->size * sizeof *P->seq_row;
    sum = leap_mix64(sum, leap_hash64(P->seq_row, pn, 0));
    fwrite(P->seq_row, 1, pn, af.fp);
    ck_arr a[10];
    size_t na = ckpt_arrays(X, best_dense, best_emb, P->has_best, a);
    for (size_t i = 0; i < na; i++) {
        sum = leap_mix64(sum, leap_hash64(a[i].p, a[i].n * sizeof(float), 0));
        if (fwrite(a[i].p, sizeof(float), a[i].n, af.fp) != a[i].n) {
            leap_afile_abort(&af);
            return leap_err_set(err, LEAP_EIO, "%s: write failed: %s", path, strerror(errno));
        }
    }
    uint8_t tail[8];
    leap_put_u64(tail, sum);
    fwrite(tail, 1, sizeof tail, af.fp);
    return leap_afile_commit(&af, err);
}

/* Reads a checkpoint into the model and P; LEAP_ENOTFOUND when path does not exist. */
static int ckpt_read(fit *X, const char *path, ckpt_pos *P, float *best_dense, float *best_emb,
                     leap_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return LEAP_ENOTFOUND;
        return leap_err_set(err, LEAP_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    uint8_t h[128];
    int rc = LEAP_OK;
    if (fread(h, 1, sizeof h, f) != sizeof h || memcmp(h, CKPT_MAGIC, 8)) {
        rc = leap_err_set(err, LEAP_ECORRUPT, "%s: not a leap checkpoint", path);
        goto out;
    }
    if (leap_get_u32(h + 8) != CKPT_VERSION) {
        rc = leap_err_set(err, LEAP_EVERSION, "%s: checkpoint version %u is not %d", path,
                          leap_get_u32(h + 8), CKPT_VERSION);
        goto out;
    }
    if ((int)leap_get_u32(h + 12) != X->size || leap_get_u64(h + 16) != run_hash(X) ||
        leap_get_u64(h + 80) != X->N->n_dense || leap_get_u64(h + 88) != X->N->n_emb) {
        rc = leap_err_set(err, LEAP_EINVAL,
                          "%s: the checkpoint was written by a run with other options, "
                          "architecture, data, seed or rank count; remove it or drop resume",
                          path);
        goto out;
    }
    uint64_t sum = leap_hash64(h, sizeof h, 0);
    P->step = (int64_t)leap_get_u64(h + 24);
    P->epoch = (int)leap_get_u32(h + 32);
    P->has_best = (int)leap_get_u32(h + 36) && best_dense;
    P->best_epoch = (int)leap_get_u32(h + 40);
    P->bad = (int)leap_get_u32(h + 44);
    double dv[4];
    memcpy(dv, h + 48, sizeof dv);
    P->best = dv[0];
    P->ep_loss = dv[1];
    P->ep_w = dv[2];
    P->seconds = dv[3];
    size_t pn = 2 * (size_t)X->size * sizeof *P->seq_row;
    if (fread(P->seq_row, 1, pn, f) != pn) goto trunc;
    sum = leap_mix64(sum, leap_hash64(P->seq_row, pn, 0));
    ck_arr a[10];
    size_t na = ckpt_arrays(X, best_dense, best_emb, (int)leap_get_u32(h + 36), a);
    for (size_t i = 0; i < na; i++) {
        if (fread(a[i].p, sizeof(float), a[i].n, f) != a[i].n) goto trunc;
        sum = leap_mix64(sum, leap_hash64(a[i].p, a[i].n * sizeof(float), 0));
    }
    uint8_t tail[8];
    if (fread(tail, 1, sizeof tail, f) != sizeof tail) goto trunc;
    if (leap_get_u64(tail) != sum) {
        rc = leap_err_set(err, LEAP_ECORRUPT, "%s: checksum mismatch: the checkpoint is corrupt",
                          path);
        goto out;
    }
    goto out;
trunc:
    rc = leap_err_set(err, LEAP_ECORRUPT, "%s: truncated checkpoint", path);
out:
    fclose(f);
    return rc;
}

/* ---- the loop ---------------------------------------------------------------------- */

int deep_alloc_state(deep_model *d, leap_err *err) {
    deep_net *N = &d->net;
    nn_opt_kind k = (nn_opt_kind)d->o.optimizer;
    int ok = 1;
    if (!d->ds1) {
        d->ds1 = calloc(N->n_dense, sizeof *d->ds1);
        ok = ok && d->ds1;
        if (k == NN_OPT_ADAM) ok = ok && (d->ds2 = calloc(N->n_dense, sizeof *d->ds2));
        size_t ne = N->n_emb;
        if (k == NN_OPT_ADAM || k == NN_OPT_SGD)
            ok = ok && (d->es1 = leap_table_alloc(ne, sizeof(float)));
        if (k == NN_OPT_ADAM) ok = ok && (d->es2 = leap_table_alloc(ne, sizeof(float)));
        if (k == NN_OPT_ADAGRAD)
            ok = ok && (d->er = leap_table_alloc(2 * N->n_emb_rows, sizeof(float)));
        if (d->o.wide_optimizer == 1 && N->a.wide)
            ok = ok && (d->ez = leap_table_alloc(2 * (N->n_emb_rows + 1), sizeof(float)));
    }
    if (!ok)
        return leap_err_set(err, LEAP_ENOMEM,
                            "out of memory for the optimizer state of %zu embedding values",
                            N->n_emb);
    return LEAP_OK;
}

static void fit_free(fit *X) {
    feed_join(&X->F, 1);
    team_stop(&X->tm);
    for (int t = 0; X->ws && t < X->T; t++)
        deep_ws_free(&X->ws[t]);
    free(X->ws);
    fit_free_buffers(X);
    mbatch *B = &X->mb;
    free(B->row_ptr);
    free(B->idx);
    free(B->erow);
    free(B->val);
    free(B->label);
    free(B->weight);
    free(B->field);
    free(X->np);
    free(X->acc);
    free(X->perm);
    free(X->cnt);
    free(X->akeys);
    free(X->xb);
    nn_rowset_free(&X->rsu);
    free(X->F.slot);
    pthread_mutex_destroy(&X->F.mu);
    pthread_cond_destroy(&X->F.cv);
}

static void shuffle_rows(uint32_t *p, size_t n, uint64_t seed, int epoch, size_t seq, int on) {
    for (size_t i = 0; i < n; i++)
        p[i] = (uint32_t)i;
    if (!on) return;
    leap_rng r = {leap_mix64(leap_mix64(seed, (uint64_t)epoch + 7), (uint64_t)seq + 1)};
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(leap_rng_next(&r) % i);
        uint32_t t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
    }
}

int deep_fit(leap_model *m, leap_fit_io *io, leap_err *err) {
    deep_model *d = (deep_model *)m;
    deep_net *N = &d->net;
    const deep_opts *o = &d->o;
    fit X;
    memset(&X, 0, sizeof X);
    pthread_mutex_init(&X.F.mu, NULL);
    pthread_cond_init(&X.F.cv, NULL);
    X.d = d;
    X.N = N;
    X.io = io;
    X.T = io->threads > 0 ? io->threads : 1;
    X.size = leap_comm_size(io->comm);
    X.rank = leap_comm_rank(io->comm);
    X.local_b = (o->batch_size + X.size - 1) / X.size;
    X.bt = (X.local_b + X.T - 1) / X.T;
    X.row_base = (uint64_t)X.rank * (uint64_t)X.local_b;
    float *best_dense = NULL, *best_emb = NULL;
    ckpt_pos P;
    memset(&P, 0, sizeof P);
    P.best = INFINITY;
    int rc = LEAP_OK;
    openblas_set_num_threads(1); /* parallelism is ours: threads split the mini-batch */
    if ((rc = deep_alloc_state(d, err))) goto out;
    X.ws = calloc((size_t)X.T, sizeof *X.ws);
    X.np = calloc((size_t)X.T, sizeof *X.np);
    X.acc = calloc(8 * (size_t)X.T, sizeof *X.acc);
    X.F.ns = (size_t)X.T + 2;
    X.F.slot = calloc(X.F.ns, sizeof *X.F.slot);
    X.F.io = io;
    X.cnt = calloc((size_t)X.size + 3, sizeof *X.cnt);
    P.seq_row = calloc(2 * (size_t)X.size, sizeof *P.seq_row);
    if (!X.ws || !X.np || !X.acc || !X.F.slot || !X.cnt || !P.seq_row) goto oom;
    for (int t = 0; t < X.T; t++)
        if (deep_ws_init(&X.ws[t], N, X.bt, 1)) goto oom;
    if (fit_size_rows(&X, (size_t)X.local_b) ||
        fit_size_entries(&X, (size_t)X.local_b * N->n_fields))
        goto oom;
    int want_best = io->map_valid && io->patience > 0 && io->epochs > 1;
    if (want_best) {
        best_dense = malloc(N->n_dense * sizeof *best_dense);
        best_emb = malloc((N->n_emb ? N->n_emb : 1) * sizeof *best_emb);
        if (!best_dense || !best_emb) goto oom;
    }
    double g[2] = {(double)io->n_rows, (double)io->n_batches};
    if ((rc = leap_comm_allreduce_sum_f64(io->comm, g, 2, err))) goto out;
    X.g_rows = g[0];
    X.g_bats = g[1];
    /* fresh parameters, or the checkpoint's */
    deep_net_init_params(N, io->seed, (float)o->init_scale);
    d->step = 0;
    int ep0 = 0;
    if (o->resume && o->checkpoint[0]) {
        rc = ckpt_read(&X, o->checkpoint, &P, best_dense, best_emb, err);
        if (rc == LEAP_ENOTFOUND) { /* killed before its first checkpoint: start over */
            rc = LEAP_OK;
            memset(P.seq_row, 0, 2 * (size_t)X.size * sizeof *P.seq_row);
            P.best = INFINITY;
        } else if (rc) {
            goto out;
        } else {
            d->step = P.step;
            ep0 = P.epoch;
        }
    }
    if ((rc = team_start(&X.tm, X.T))) goto oom;
    int64_t per_epoch = (int64_t)ceil(X.g_rows / o->batch_size);
    int64_t total_steps = per_epoch * io->epochs;
    X.opt = (nn_opt){.kind = (nn_opt_kind)o->optimizer,
                     .b1 = 0.9f,
                     .b2 = 0.999f,
                     .eps = (float)o->eps,
                     .momentum = (float)o->momentum,
                     .wd = (float)o->weight_decay};
    X.seq_wide = X.size == 1 && d->ez && N->a.pair_gate;
    X.prog_from = per_epoch / 2;
    double secs = P.seconds;
    for (int ep = ep0; ep < io->epochs; ep++) {
        double t0 = leap_now();
        X.progressive = ep == 0;
        size_t skip_seq = ep == ep0 ? (size_t)P.seq_row[2 * X.rank] : 0;
        size_t skip_row = ep == ep0 ? (size_t)P.seq_row[2 * X.rank + 1] : 0;
        if (ep != ep0) P.ep_loss = P.ep_w = 0;
        for (int t = 0; t < X.T; t++)
            X.acc[8 * (size_t)t] = X.acc[8 * (size_t)t + 1] = 0;
        X.acc[0] = P.ep_loss;
        X.acc[1] = P.ep_w;
        if ((rc = feed_start(&X.F))) goto oom;
        const leap_fbatch *b = NULL;
        size_t pos = 0, seq = 0;
        for (;;) {
            while (!b || pos >= b->n_rows) {
                if (b) feed_release(&X.F);
                b = feed_get(&X.F);
                if (!b) break;
                seq = b->seq;
                if (seq < skip_seq) { /* done before the checkpoint */
                    pos = b->n_rows;
                    continue;
                }
                if (b->n_rows > X.perm_cap) {
                    uint32_t *p = realloc(X.perm, b->n_rows * sizeof *p);
                    if (!p) goto oom;
                    X.perm = p;
                    X.perm_cap = b->n_rows;
                }
                shuffle_rows(X.perm, b->n_rows, io->seed, ep, seq, o->shuffle);
                pos = seq == skip_seq ? skip_row : 0;
            }
            int n = 0;
            if (b) {
                n = (int)(b->n_rows - pos < (size_t)X.local_b ? b->n_rows - pos
                                                              : (size_t)X.local_b);
                if ((rc = assemble(&X, b, X.perm + pos, n))) goto oom;
                pos += (size_t)n;
            } else {
                X.mb.n = 0;
                X.mb.nnz = 0;
            }
            if (X.size == 1 && n == 0) break;
            int64_t t = d->step + 1;
            X.opt.t = t;
            X.opt.lr = nn_lr_at((float)o->lr, t - 1, o->warmup, (nn_decay)o->lr_decay, total_steps);
            nn_opt_prepare(&X.opt);
            X.emb_lr = o->embedding_lr > 0
                           ? X.opt.lr * (float)(o->embedding_lr / o->lr) /* same schedule */
                           : X.opt.lr;
            X.step_seed = leap_mix64(io->seed ^ 0xd20b0u, (uint64_t)t);
            memset(&X.xerr, 0, sizeof X.xerr);
            team_run(&X.tm, step_fn, &X);
            if (X.xerr.status) {
                rc = X.xerr.status;
                if (err) *err = X.xerr;
                goto out;
            }
            if (X.size > 1 && X.all_done) break;
            d->step = t;
            if (o->halt_after && t >= o->halt_after) {
                rc = leap_err_set(err, LEAP_EINVAL, "halted after %lld steps (halt_after)",
                                  (long long)t);
                goto out;
            }
            if (o->checkpoint[0] && o->checkpoint_every && t % o->checkpoint_every == 0) {
                /* positions of every rank: the next row of the current batch */
                memset(P.seq_row, 0, 2 * (size_t)X.size * sizeof *P.seq_row);
                double pr[2] = {b ? (double)seq : (double)io->n_batches, b ? (double)pos : 0};
                double *all = calloc(2 * (size_t)X.size, sizeof *all);
                if (!all) goto oom;
                all[2 * X.rank] = pr[0];
                all[2 * X.rank + 1] = pr[1];
                rc = leap_comm_allreduce_sum_f64(io->comm, all, 2 * (size_t)X.size, err);
                for (int r = 0; r < X.size; r++) {
                    P.seq_row[2 * r] = (uint64_t)all[2 * r];
                    P.seq_row[2 * r + 1] = (uint64_t)all[2 * r + 1];
                }
                free(all);
                if (rc) goto out;
                P.epoch = ep;
                P.step = t;
                P.ep_loss = P.ep_w = 0;
                for (int u = 0; u < X.T; u++) {
                    P.ep_loss += X.acc[8 * (size_t)u];
                    P.ep_w += X.acc[8 * (size_t)u + 1];
                }
                P.seconds = secs + (leap_now() - t0);
                if (X.rank == 0 &&
                    (rc = ckpt_write(&X, o->checkpoint, &P, best_dense, best_emb, err)))
                    goto out;
            }
        }
        if (b) feed_release(&X.F);
        feed_join(&X.F, 0);
        if (X.F.rc) {
            rc = X.F.rc;
            if (err) *err = X.F.err;
            goto out;
        }
        secs += leap_now() - t0;
        double s[2] = {0, 0};
        for (int u = 0; u < X.T; u++) {
            s[0] += X.acc[8 * (size_t)u];
            s[1] += X.acc[8 * (size_t)u + 1];
        }
        if ((rc = leap_comm_allreduce_sum_f64(io->comm, s, 2, err))) goto out;
        io->valid_loss = NAN;
        int stop = 0;
        if (io->map_valid) {
            double vl;
            if ((rc = valid_loss(&X, &vl, err))) goto out;
            io->valid_loss = vl;
            if (vl < P.best - io->min_delta) {
                P.best = vl;
                P.best_epoch = ep + 1;
                P.bad = 0;
                if (want_best) {
                    memcpy(best_dense, N->dense, N->n_dense * sizeof *best_dense);
                    memcpy(best_emb, N->emb, N->n_emb * sizeof *best_emb);
                    P.has_best = 1;
                }
            } else if (io->patience > 0 && ++P.bad >= io->patience) {
                stop = 1;
            }
        }
        if (io->on_iter) io->on_iter(io, ep + 1, s[1] > 0 ? s[0] / s[1] : NAN, secs);
        int last = stop || ep + 1 == io->epochs;
        if (last && P.has_best && P.best_epoch != ep + 1) { /* back to the best epoch's model */
            memcpy(N->dense, best_dense, N->n_dense * sizeof *best_dense);
            memcpy(N->emb, best_emb, N->n_emb * sizeof *best_emb);
            io->best_iter = P.best_epoch;
        }
        if (o->checkpoint[0]) { /* the next epoch starts from its beginning; none after the last */
            memset(P.seq_row, 0, 2 * (size_t)X.size * sizeof *P.seq_row);
            P.epoch = last ? io->epochs : ep + 1;
            P.step = d->step;
            P.ep_loss = P.ep_w = 0;
            P.seconds = secs;
            if (X.rank == 0 && (rc = ckpt_write(&X, o->checkpoint, &P, best_dense, best_emb, err)))
                goto out;
        }
        if (stop) break;
    }
    goto out;
oom:
    rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
out:
    if (!rc && N->a.pair_gate) /* the candidate the progressive statistics choose */
        N->dense[N->off_gate] = deep_gate_choose(N->dense + N->off_gate + 1);
    if (!rc && deep_net_prepare_scoring(N, o->predict_precision))
        rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
    fit_free(&X);
    free(best_dense);
    free(best_emb);
    free(P.seq_row);
    return rc;
}
