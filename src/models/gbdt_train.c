/* gbdt_train.c — fitting histogram GBDT (the `fit` op of gbdt).
 *
 * One pass over the trainer's batches copies every row into a compact uint8
 * bin matrix (row-major X for histograms, and its column-major transpose Xc
 * for partitions); nothing reads the dataset again. Then, per tree:
 *   1. gradients and hessians of the loss at the current scores, turned into
 *      fixed-point int32 with one scale per tree (2^k such that a row's value
 *      stays under 2^30 and the sum of all rows of all ranks fits 61 bits);
 *   2. row sampling (subsample, from seed and tree) and column sampling;
 *   3. growth: the root histogram, then repeatedly the best open leaf (by
 *      depth for depthwise, by gain for leafwise) is split: its rows are
 *      partitioned stably, the smaller child's histogram is built and the
 *      larger one's is the parent's minus it (the subtraction trick), and
 *      both children's best splits are searched;
 *   4. leaf weights -T(G)/(H + lambda_l2) times the learning rate, score
 *      updates (leaf ranges for the sampled rows, descent for the others and
 *      for validation rows), early stopping on the validation loss.
 *
 * Histograms are integer sums, so they do not depend on thread count, row
 * order or the number of MPI ranks: under MPI each rank builds its rows'
 * histogram and an allreduce sums them exactly (each int64 sent as two
 * doubles holding its high and low 32 bits), and every rank takes the same
 * split. The 2-rank model is the 1-rank model bit for bit when subsample = 1.
 *
 * Threads: a small persistent pool (created per fit) runs the parallel
 * phases: gradients, histograms (rows mode: each thread a slice of the
 * node's rows into its own histogram, then a parallel sum; features mode:
 * each thread a slice of the features over all rows), partitions, score
 * updates. Everything is allocated before the first tree.
 */
#include "gbdt_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef int64_t v2i64 __attribute__((vector_size(16), may_alias));

#define GB_MAX_TASKS    64 /* tasks of a parallel phase, at most */
#define GB_SEARCH_TASKS 4  /* split search: feature ranges per node */
/* Split search goes parallel only for models of this many features or more.
 * A phase on the pool costs a wake-up of the other thread (tens of µs on a
 * VM whose idle vCPU halts), and the vector scan (gbdt_scan.c) searches a
 * feature in about 0.2 µs whatever the node's rows: 39 features take ~8 µs.
 * Measured on the 45k Criteo sample, 300 trees, 2 threads: 1.09 s with the
 * search parallel for nodes of >= 4,096 rows, 0.85 s never parallel. */
#define GB_SEARCH_MIN_FEATURES 512
#define GB_GROUP               8 /* features whose histograms are built in one pass over the rows, at most */

uint32_t leap__gbdt_search_min_features = GB_SEARCH_MIN_FEATURES;

/* ---- thread pool ------------------------------------------------------------ */

typedef void (*gb_job)(void *ctx, int tid);

typedef struct gb_pool {
    int T;
    pthread_t *tids;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t gen;
    int pending, quit, started;
    gb_job fn;
    void *ctx;
} gb_pool;

typedef struct gb_worker {
    gb_pool *p;
    int tid;
} gb_worker;

static void *pool_main(void *arg) {
    gb_worker *w = arg;
    gb_pool *p = w->p;
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->gen == seen && !p->quit)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->quit) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = p->gen;
        gb_job fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, w->tid);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
}

static void pool_run(gb_pool *p, gb_job fn, void *ctx) {
    if (p->started == 0) {
        fn(ctx, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->pending = p->started;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* Starts T-1 workers (thread 0 is the caller). With fewer started, p->T is
 * lowered to what runs. */
static void pool_start(gb_pool *p, int T, gb_worker *ws) {
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    p->T = 1;
    p->tids = calloc((size_t)T, sizeof *p->tids);
    if (!p->tids) return;
    for (int i = 1; i < T; i++) {
        ws[i] = (gb_worker){p, i};
        if (pthread_create(&p->tids[i], NULL, pool_main, &ws[i])) break;
        p->started = i;
    }
    p->T = p->started + 1;
}

static void pool_stop(gb_pool *p) {
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i <= p->started; i++)
        pthread_join(p->tids[i], NULL);
    free(p->tids);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
}

/* ---- split search ------------------------------------------------------------ */

static void set_bit(uint32_t *w, uint32_t b) { w[b >> 5] |= 1u << (b & 31); }

static void ordinal_split(const gb_split_ctx *c, uint32_t f, const gb_bin *hb, int64_t G, int64_t H,
                          double parent, double *best, gb_split *out) {
    const gbdt_opts *o = c->o;
    gb_scan s = {f,
                 c->feat[f].nbins,
                 G,
                 H,
                 c->inv_sg,
                 c->inv_sh,
                 o->lambda_l1,
                 o->lambda_l2,
                 o->min_child_weight,
                 parent};
    leap__gbdt_scan(&s, hb, best, out);
}

typedef struct cat_key {
    double ctr;
    uint32_t bin;
} cat_key;

/* Stable bottom-up merge sort by ctr (keys arrive in bin order, so ties
 * stay in bin order: deterministic). n <= 256; tmp holds n keys. */
static void cat_sort(cat_key *k, cat_key *tmp, uint32_t n) {
    for (uint32_t w = 1; w < n; w *= 2) {
        for (uint32_t a = 0; a < n; a += 2 * w) {
            uint32_t m = a + w < n ? a + w : n, e = a + 2 * w < n ? a + 2 * w : n;
            uint32_t i = a, j = m, o = a;
            while (i < m && j < e)
                tmp[o++] = k[j].ctr < k[i].ctr ? k[j++] : k[i++];
            while (i < m)
                tmp[o++] = k[i++];
            while (j < e)
                tmp[o++] = k[j++];
        }
        memcpy(k, tmp, n * sizeof *k);
    }
}

/* LightGBM's categorical split (FeatureHistogram::FindBestThresholdCategorical):
 * few categories: one category against the rest; otherwise categories with
 * at least cat_smooth rows sorted by g / (h + cat_smooth), and prefixes of
 * that order from either end (at most max_cat_threshold categories) are the
 * candidate left sides, with cat_l2 added to the L2 of the children's scores.
 * Row counts per bin are estimated as h * n / H (the histograms hold no
 * counts). Bin 0 (missing) is a category like the others. */
static void categorical_split(const gb_split_ctx *c, uint32_t f, const gb_bin *hb, int64_t G,
                              int64_t H, double n, double parent, double *best, gb_split *out) {
    const gbdt_opts *o = c->o;
    if (o->cat_rank_splits && (int)c->feat[f].nbins > o->max_cat_to_onehot) {
        /* codes 1..t (and missing when default_left) against the rest, as an
         * ordinal split would take them, written as the category bitset */
        gb_split r;
        double rb = *best;
        r.feat = -1;
        ordinal_split(c, f, hb, G, H, parent, &rb, &r);
        if (r.feat >= 0) {
            *best = rb;
            *out = r;
            out->cat = 1;
            memset(out->bits, 0, sizeof out->bits);
            if (r.default_left) set_bit(out->bits, 0);
            for (uint32_t b = 1; b <= r.thr; b++)
                set_bit(out->bits, b);
            out->thr = 0;
            out->default_left = 0;
        }
    }
    const double l1 = o->lambda_l1, l2 = o->lambda_l2, mcw = o->min_child_weight;
    const uint32_t nb = c->feat[f].nbins;
    const double Hr = (double)H * c->inv_sh;
    const double cnt_factor = Hr > 0 ? n / Hr : 0;
    if ((int)nb <= o->max_cat_to_onehot) {
        for (uint32_t b = 0; b < nb; b++) {
            int64_t lg = hb[b].g, lh = hb[b].h, rg = G - lg, rh = H - lh;
            double hl = (double)lh * c->inv_sh, hr = (double)rh * c->inv_sh;
            if (!(hl >= mcw && hl > 0 && hr >= mcw && hr > 0)) continue;
            if (hl * cnt_factor < o->min_data_per_group || hr * cnt_factor < o->min_data_per_group)
                continue;
            double gain = gb_score((double)lg * c->inv_sg, hl, l1, l2) +
                          gb_score((double)rg * c->inv_sg, hr, l1, l2) - parent;
            if (gain > *best) {
                *best = gain;
                out->gain = gain;
                out->feat = (int32_t)f;
                out->cat = 1;
                out->default_left = 0;
                memset(out->bits, 0, sizeof out->bits);
                set_bit(out->bits, b);
                out->lg = lg;
                out->lh = lh;
            }
        }
        return;
    }
    cat_key key[GB_MAX_BIN + 1];
    uint16_t idx[GB_MAX_BIN + 1];
    uint32_t used = 0;
    for (uint32_t b = 0; b < nb; b++) {
        double h = (double)hb[b].h * c->inv_sh;
        if (h * cnt_factor < o->cat_smooth || !(h > 0)) continue;
        key[used].ctr = (double)hb[b].g * c->inv_sg / (h + o->cat_smooth);
        key[used++].bin = b;
    }
    cat_key tmp[GB_MAX_BIN + 1];
    cat_sort(key, tmp, used);
    for (uint32_t k = 0; k < used; k++)
        idx[k] = (uint16_t)key[k].bin;
    if (used < 2) return;
    uint32_t max_cat = (uint32_t)o->max_cat_threshold;
    if (max_cat > (used + 1) / 2) max_cat = (used + 1) / 2;
    const double l2c = l2 + o->cat_l2;
    for (int dir = 0; dir < 2; dir++) {
        int64_t lg = 0, lh = 0;
        double cnt_left = 0, cnt_group = 0;
        for (uint32_t i = 0; i < used && i < max_cat; i++) {
            uint32_t b = idx[dir ? used - 1 - i : i];
            lg += hb[b].g;
            lh += hb[b].h;
            double cb = (double)hb[b].h * c->inv_sh * cnt_factor;
            cnt_left += cb;
            cnt_group += cb;
            double hl = (double)lh * c->inv_sh;
            if (!(hl >= mcw)) continue;
            int64_t rg = G - lg, rh = H - lh;
            double hr = (double)rh * c->inv_sh;
            if (n - cnt_left < o->min_data_per_group || !(hr >= mcw && hr > 0)) break;
            if (cnt_group < o->min_data_per_group) continue;
            cnt_group = 0;
            double gain = gb_score((double)lg * c->inv_sg, hl, l1, l2c) +
                          gb_score((double)rg * c->inv_sg, hr, l1, l2c) - parent;
            if (gain > *best) {
                *best = gain;
                out->gain = gain;
                out->feat = (int32_t)f;
                out->cat = 1;
                out->default_left = 0;
                memset(out->bits, 0, sizeof out->bits);
                for (uint32_t k = 0; k <= i; k++)
                    set_bit(out->bits, idx[dir ? used - 1 - k : k]);
                out->lg = lg;
                out->lh = lh;
            }
        }
    }
}

/* The best split over features [f0, f1); the first of equal gains. */
static void best_split_range(const gb_split_ctx *c, const gb_bin *hist, int64_t G, int64_t H,
                             double n, uint32_t f0, uint32_t f1, gb_split *out) {
    const gbdt_opts *o = c->o;
    memset(out, 0, sizeof *out);
    out->feat = -1;
    double g = (double)G * c->inv_sg, h = (double)H * c->inv_sh;
    double parent = gb_score(g, h, o->lambda_l1, o->lambda_l2);
    double best = o->min_split_gain > 1e-12 ? o->min_split_gain : 1e-12;
    for (uint32_t f = f0; f < f1; f++) {
        if (c->fmask && !c->fmask[f]) continue;
        if (c->feat[f].nbins < 2) continue;
        const gb_bin *hb = hist + c->hoff[f];
        if (c->feat[f].cat)
            categorical_split(c, f, hb, G, H, n, parent, &best, out);
        else
            ordinal_split(c, f, hb, G, H, parent, &best, out);
    }
}

void leap__gbdt_best_split(const gb_split_ctx *c, const gb_bin *hist, int64_t G, int64_t H,
                           double n, gb_split *out) {
    best_split_range(c, hist, G, H, n, 0, c->F, out);
}

/* ---- histograms ------------------------------------------------------------------ */

/* Adds rows[0..n) to hist (not cleared). */
static void hist_rows_add(const uint8_t *X, uint32_t F, const uint32_t *hoff, const gb_grad *gh,
                          const uint32_t *rows, size_t n, gb_bin *hist) {
    v2i64 *hv = (v2i64 *)hist;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rows[i];
        if (i + 16 < n) {
            __builtin_prefetch(X + (size_t)rows[i + 16] * F);
            __builtin_prefetch(&gh[rows[i + 16]]);
        }
        const uint8_t *x = X + (size_t)r * F;
        v2i64 v = {gh[r].g, gh[r].h};
        for (uint32_t f = 0; f < F; f++)
            hv[hoff[f] + x[f]] += v;
    }
}

void leap__gbdt_hist_rows(const uint8_t *X, uint32_t F, const uint32_t *hoff, const gb_grad *gh,
                          const uint32_t *rows, size_t n, gb_bin *hist) {
    memset(hist, 0, (size_t)hoff[F] * sizeof *hist);
    hist_rows_add(X, F, hoff, gh, rows, n, hist);
}

/* ---- the trainer's state ------------------------------------------------------------- */

typedef struct gb_leaf {
    uint32_t begin, end; /* rows[begin, end) of this rank */
    double n;            /* rows of all ranks */
    int64_t G, H;        /* sums of all ranks */
    int depth, slot;     /* histogram slot, -1 = none */
    uint32_t node;       /* index in the tree's node scratch */
    int open;            /* best holds a split to take */
    gb_split best;
} gb_leaf;

typedef struct gb_train {
    gbdt_model *g;
    const gbdt_opts *o;
    leap_fit_io *io;
    leap_comm *comm;
    int mpi; /* more than one rank */
    gb_pool pool;
    int T;
    uint32_t F, NB; /* features; bins of a histogram (hoff[F]) */
    uint32_t *hoff; /* [F + 1] */
    uint8_t *lut;   /* [lut_n] bin of each global feature index */
    uint32_t lut_n;
    /* training rows of this rank */
    size_t N;
    uint8_t *X;    /* [N][F] bins, row-major */
    uint8_t *Xc;   /* [F][N] the same, column-major */
    float *y, *w;  /* [N] label, weight */
    double *score; /* [N] raw scores */
    float *gf;     /* [N][2] gradient, hessian (real) */
    gb_grad *gh;   /* [N] fixed point */
    uint8_t *inbag;
    uint8_t *out; /* [N] 1 = kept out of every tree (holdout or left-out fold); NULL: none */
    uint32_t *rows, *tmpL, *tmpR; /* [N] */
    gb_grad *ogh;                 /* [N] ordered gradients (features mode) */
    /* validation rows of this rank */
    size_t Nv;
    uint8_t *Xv;
    float *yv, *wv;
    double *sv;
    double *vblock; /* [valid blocks] loss per block of rows (fixed order) */
    /* histograms */
    gb_bin *hpool; /* [n_slots][NB] */
    int n_slots, n_free;
    int *free_slots;
    gb_bin *scratch; /* [T][NB] per-thread histograms (rows mode) */
    double *mbuf;    /* [4 NB] MPI transfer */
    /* the tree being grown */
    gb_leaf *leaves;
    int n_leaves, max_leaves;
    gb_node *tn; /* [2 max_leaves] bin-space nodes */
    double *tgain;
    uint32_t tn_n;
    uint32_t *twords; /* [max_leaves][GB_CAT_WORDS] */
    uint32_t tw_n;
    uint8_t *fmask;
    double sg, sh; /* fixed-point scales of this tree */
    /* per tree of the model: first word; gains of its nodes */
    uint32_t *tree_words; /* [trees + 1] */
    double *node_gain;    /* [cap_nodes] */
    /* job arguments */
    const uint32_t *jrows;
    size_t jn;
    gb_bin *jdst;
    uint32_t jfeat;
    int jident; /* the histogram's rows are 0..N-1 in order */
    gb_split *jsplit;
    uint8_t jleft[GB_MAX_BIN + 1];   /* partition: 1 = the bin goes left under jsplit */
    const gb_leaf *jleaf;            /* split search: the node */
    gb_split jbest[GB_SEARCH_TASKS]; /* split search: best per task */
    uint32_t jbegin, jend;
    size_t jcount[GB_MAX_TASKS][2]; /* partition: left and right rows per task */
    double jd[GB_MAX_TASKS][4];     /* gradients: loss, weight, max |g|, max h per task */
    atomic_size_t next;             /* next task of the running phase */
    size_t group;                   /* features per histogram task (<= GB_GROUP) */
    size_t n_tasks;
    int64_t ji[64][2]; /* per-thread integer sums */
    int valid_pass;
    int want_loss;           /* gradients() also sums the training loss (a log per row) */
    double holdout;          /* share of rows kept out of every tree (gbdt_lr's LR rows) */
    int folds, fold;         /* rows of fold `fold` of `folds` kept out too (folds >= 2) */
    atomic_int cb_bad;       /* a batch fell outside the announced rows */
    atomic_size_t rows_seen; /* rows binned by the pass */
} gb_train;

static void chunk(size_t n, size_t T, size_t t, size_t *a, size_t *e) {
    *a = n * t / T;
    *e = n * (t + 1) / T;
}

/* Parallel phases hand their tasks out dynamically: a thread the machine
 * delays (other processes on a shared VM) takes fewer tasks instead of
 * holding the others at the end of the phase. No result depends on which
 * thread ran a task: per-task outputs are combined in task order, and
 * histograms are integer sums. */
/* Every task on the calling thread (too little work to wake the pool). */
static void run_inline(gb_train *S, gb_job fn, size_t n_tasks) {
    S->n_tasks = n_tasks;
    atomic_store(&S->next, 0);
    fn(S, 0);
}
static void run_tasks(gb_train *S, gb_job fn, size_t n_tasks) {
    if (n_tasks <= 1) { /* one task: waking the pool would only cost the wake */
        run_inline(S, fn, n_tasks);
        return;
    }
    S->n_tasks = n_tasks;
    atomic_store(&S->next, 0);
    pool_run(&S->pool, fn, S);
}
static int take_task(gb_train *S, size_t *k) {
    *k = atomic_fetch_add(&S->next, 1);
    return *k < S->n_tasks;
}
/* Tasks for n rows: about 16k rows each, at most GB_MAX_TASKS. */
static size_t row_tasks(size_t n) {
    size_t t = n / 16384;
    return t < 1 ? 1 : (t > GB_MAX_TASKS ? GB_MAX_TASKS : t);
}

/* ---- the first pass: bins ------------------------------------------------------------------ */

static void bin_batch(void *user, const leap_fbatch *b, int thread) {
    gb_train *S = user;
    const gbdt_model *g = S->g;
    size_t N = S->valid_pass ? S->Nv : S->N;
    uint8_t *X = S->valid_pass ? S->Xv : S->X;
    float *y = S->valid_pass ? S->yv : S->y, *w = S->valid_pass ? S->wv : S->w;
    if (b->row0 > N || b->n_rows > N - b->row0) {
        atomic_store(&S->cb_bad, 1);
        return;
    }
    atomic_fetch_add(&S->rows_seen, b->n_rows);
    const uint32_t F = S->F;
    for (size_t r = 0; r < b->n_rows; r++) {
        size_t row = b->row0 + r;
        uint8_t *x = X + row * F;
        memset(x, 0, F);
        for (uint32_t k = b->row_ptr[r]; k < b->row_ptr[r + 1]; k++) {
            uint32_t idx = b->idx[k];
            int32_t j = -1;
            if (b->field) {
                if (b->field[k] < g->n_fields) j = g->feat_of[b->field[k]];
            } else {
                for (uint32_t f = 0; f < F; f++)
                    if (idx - g->feat[f].offset < g->feat[f].card) {
                        j = (int32_t)f;
                        break;
                    }
            }
            if (j < 0 || idx - g->feat[j].offset >= g->feat[j].card) continue;
            x[j] = S->lut[idx];
        }
        y[row] = b->label[r];
        w[row] = b->weight[r];
    }
}

static void transpose_job(void *ctx, int tid) {
    gb_train *S = ctx;
    size_t f;
    while (take_task(S, &f)) {
        uint8_t *col = S->Xc + f * S->N;
        for (size_t r = 0; r < S->N; r++)
            col[r] = S->X[r * S->F + f];
    }
}

/* ---- exact sums across ranks ----------------------------------------------------------------- */

static int allreduce_i64(gb_train *S, int64_t *v, size_t n, leap_err *err) {
    if (!S->mpi) return LEAP_OK;
    double *d = S->mbuf;
    for (size_t i = 0; i < n; i++) {
        d[2 * i] = (double)(v[i] >> 32);
        d[2 * i + 1] = (double)(v[i] & 0xffffffff);
    }
    int rc = leap_comm_allreduce_sum_f64(S->comm, d, 2 * n, err);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)(((uint64_t)(int64_t)d[2 * i] << 32) + (uint64_t)(int64_t)d[2 * i + 1]);
    return LEAP_OK;
}

/* ---- gradients ------------------------------------------------------------------------------ */

static void grad_job(void *ctx, int tid) {
    gb_train *S = ctx;
    size_t k, a, e;
    while (take_task(S, &k)) {
        chunk(S->N, S->n_tasks, k, &a, &e);
        double loss = 0, wsum = 0, gmax = 0, hmax = 0;
        const int logistic = S->o->objective == GB_LOGISTIC, want_loss = S->want_loss;
        for (size_t r = a; r < e; r++) {
            if (S->out && S->out[r]) { /* not a row of these trees: no gradient, no loss */
                S->gf[2 * r] = S->gf[2 * r + 1] = 0;
                continue;
            }
            double s = S->score[r], wt = S->w[r], g, h;
            if (logistic) {
                double y = S->y[r] > 0.5f ? 1.0 : 0.0;
                double ex = exp(-fabs(s)); /* one exp for p and the loss */
                double p = s > 0 ? 1.0 / (1.0 + ex) : ex / (1.0 + ex);
                g = (p - y) * wt;
                h = p * (1.0 - p);
                if (h < 1e-16) h = 1e-16;
                h *= wt;
                if (want_loss) loss += wt * (log1p(ex) + (s > 0 ? (1 - y) * s : -y * s));
            } else {
                double d = s - S->y[r];
                g = d * wt;
                h = wt;
                loss += wt * d * d;
            }
            wsum += wt;
            S->gf[2 * r] = (float)g;
            S->gf[2 * r + 1] = (float)h;
            if (fabs((double)(float)g) > gmax) gmax = fabs((double)(float)g);
            if ((double)(float)h > hmax) hmax = (double)(float)h;
        }
        S->jd[k][0] = loss;
        S->jd[k][1] = wsum;
        S->jd[k][2] = gmax;
        S->jd[k][3] = hmax;
    }
}

static void quant_job(void *ctx, int tid) {
    gb_train *S = ctx;
    size_t k, a, e;
    while (take_task(S, &k)) {
        chunk(S->N, S->n_tasks, k, &a, &e);
        for (size_t r = a; r < e; r++) {
            S->gh[r].g = (int32_t)llrint((double)S->gf[2 * r] * S->sg);
            S->gh[r].h = (int32_t)llrint((double)S->gf[2 * r + 1] * S->sh);
        }
    }
}

/* 2^k with k the largest such that one row's value fits int32 (max * 2^k <
 * 2^30) and the sum of all rows fits 61 bits (max * rows * 2^k < 2^61). */
static double fixed_scale(double max, double rows) {
    double t = max * (rows > 2147483648.0 ? rows / 2147483648.0 : 1);
    if (!(t > 0) || !isfinite(t)) return 1.0;
    int ex;
    frexp(t, &ex); /* t < 2^ex */
    int k = 30 - ex;
    if (k > 200) k = 200;
    return ldexp(1.0, k);
}

/* Gradients at the current scores, the fixed-point scales of this tree and
 * the quantised gradients; *loss = mean training loss over all ranks. */
static int gradients(gb_train *S, double n_all, double *loss, leap_err *err) {
    run_tasks(S, grad_job, row_tasks(S->N));
    double m[2] = {0, 0}, l[2] = {0, 0};
    for (size_t t = 0; t < S->n_tasks; t++) {
        l[0] += S->jd[t][0];
        l[1] += S->jd[t][1];
        if (S->jd[t][2] > m[0]) m[0] = S->jd[t][2];
        if (S->jd[t][3] > m[1]) m[1] = S->jd[t][3];
    }
    int rc;
    if ((rc = leap_comm_allreduce_max_f64(S->comm, m, 2, err)) ||
        (rc = leap_comm_allreduce_sum_f64(S->comm, l, 2, err)))
        return rc;
    *loss = l[1] > 0 ? l[0] / l[1] : NAN;
    S->sg = fixed_scale(m[0], n_all);
    S->sh = fixed_scale(m[1], n_all);
    run_tasks(S, quant_job, row_tasks(S->N));
    return LEAP_OK;
}

/* ---- histogram jobs -------------------------------------------------------------------------- */

/* Each thread sums its tasks' rows into its own histogram (thread 0: the
 * destination), cleared first; hist_reduce_job then adds them up. */
static void hist_rows_job(void *ctx, int tid) {
    gb_train *S = ctx;
    gb_bin *dst = tid == 0 ? S->jdst : S->scratch + (size_t)tid * S->NB;
    memset(dst, 0, (size_t)S->NB * sizeof *dst);
    size_t k, a, e;
    while (take_task(S, &k)) {
        chunk(S->jn, S->n_tasks, k, &a, &e);
        hist_rows_add(S->X, S->F, S->hoff, S->gh, S->jrows + a, e - a, dst);
    }
}

static void hist_reduce_job(void *ctx, int tid) {
    gb_train *S = ctx;
    size_t k, a, e;
    v2i64 *d = (v2i64 *)S->jdst;
    while (take_task(S, &k)) {
        chunk(S->NB, S->n_tasks, k, &a, &e);
        for (int t = 1; t < S->T; t++) {
            const v2i64 *s = (const v2i64 *)(S->scratch + (size_t)t * S->NB);
            for (size_t b = a; b < e; b++)
                d[b] += s[b];
        }
    }
}

static void gather_job(void *ctx, int tid) {
    gb_train *S = ctx;
    size_t k, a, e;
    while (take_task(S, &k)) {
        chunk(S->jn, S->n_tasks, k, &a, &e);
        for (size_t i = a; i < e; i++)
            S->ogh[i] = S->gh[S->jrows[i]];
    }
}

/* Histograms of features [f0, f1) (at most GB_GROUP) from the column-major
 * matrix: each row's index and gradient are read once for the whole group
 * while the group's histograms (up to 8 x 256 bins x 16 bytes = 32 KB) stay
 * in L1. rows = NULL: rows 0..n-1 in order (the root without sampling), g
 * indexed by row; otherwise g is in rows' order (ordered gradients). One
 * kernel per group size, so the inner loop over the group is unrolled. */
#define GB_HIST_KERNEL(K)                                                                          \
    static void hist_cols_##K(const uint8_t *const *c, v2i64 *const *h, const uint32_t *rows,      \
                              const gb_grad *g, size_t n) {                                        \
        if (rows)                                                                                  \
            for (size_t i = 0; i < n; i++) {                                                       \
                uint32_t r = rows[i];                                                              \
                v2i64 v = {g[i].g, g[i].h};                                                        \
                for (size_t j = 0; j < K; j++)                                                     \
                    h[j][c[j][r]] += v;                                                            \
            }                                                                                      \
        else                                                                                       \
            for (size_t i = 0; i < n; i++) {                                                       \
                v2i64 v = {g[i].g, g[i].h};                                                        \
                for (size_t j = 0; j < K; j++)                                                     \
                    h[j][c[j][i]] += v;                                                            \
            }                                                                                      \
    }
GB_HIST_KERNEL(1)
GB_HIST_KERNEL(2)
GB_HIST_KERNEL(3)
GB_HIST_KERNEL(4)
GB_HIST_KERNEL(5)
GB_HIST_KERNEL(6)
GB_HIST_KERNEL(7)
GB_HIST_KERNEL(8)

static void hist_cols(const uint8_t *Xc, size_t N, const uint32_t *hoff, size_t f0, size_t f1,
                      const uint32_t *rows, const gb_grad *g, size_t n, gb_bin *dst) {
    const uint8_t *c[GB_GROUP];
    v2i64 *h[GB_GROUP];
    size_t k = f1 - f0;
    memset(dst + hoff[f0], 0, (size_t)(hoff[f1] - hoff[f0]) * sizeof(gb_bin));
    for (size_t j = 0; j < k; j++) {
        c[j] = Xc + (f0 + j) * N;
        h[j] = (v2i64 *)(dst + hoff[f0 + j]);
    }
    switch (k) {
    case 1: hist_cols_1(c, h, rows, g, n); break;
    case 2: hist_cols_2(c, h, rows, g, n); break;
    case 3: hist_cols_3(c, h, rows, g, n); break;
    case 4: hist_cols_4(c, h, rows, g, n); break;
    case 5: hist_cols_5(c, h, rows, g, n); break;
    case 6: hist_cols_6(c, h, rows, g, n); break;
    case 7: hist_cols_7(c, h, rows, g, n); break;
    default: hist_cols_8(c, h, rows, g, n); break;
    }
}

static void hist_features_job(void *ctx, int tid) {
    gb_train *S = ctx;
    size_t k;
    while (take_task(S, &k)) { /* a task: a group of S->group features */
        size_t a = S->group * k, e = a + S->group < S->F ? a + S->group : S->F;
        if (S->jident)
            hist_cols(S->Xc, S->N, S->hoff, a, e, NULL, S->gh, S->jn, S->jdst);
        else
            hist_cols(S->Xc, S->N, S->hoff, a, e, S->jrows, S->ogh, S->jn, S->jdst);
    }
}

/* Histogram of rows[0..n) of this rank into dst, summed over ranks. */
static int build_hist(gb_train *S, const uint32_t *rows, size_t n, gb_bin *dst, leap_err *err) {
    S->jrows = rows;
    S->jn = n;
    S->jdst = dst;
    if (n < 4096 || (S->o->hist_parallel == GB_HIST_ROWS && (S->T == 1 || row_tasks(n) == 1))) {
        leap__gbdt_hist_rows(S->X, S->F, S->hoff, S->gh, rows, n, dst);
    } else if (S->o->hist_parallel == GB_HIST_FEATURES) {
        S->jident = rows == S->rows && n == S->N; /* all rows in order: no gather */
        if (!S->jident) run_tasks(S, gather_job, row_tasks(n));
        run_tasks(S, hist_features_job, (S->F + S->group - 1) / S->group);
    } else {
        run_tasks(S, hist_rows_job, row_tasks(n));
        run_tasks(S, hist_reduce_job, 16);
    }
    return allreduce_i64(S, (int64_t *)dst, 2 * (size_t)S->NB, err);
}

/* ---- partition --------------------------------------------------------------------------------
 */

static inline int goes_left(const gb_split *s, uint32_t b) {
    if (s->cat) return (s->bits[b >> 5] >> (b & 31)) & 1;
    return b == 0 ? s->default_left : b <= s->thr;
}

static void part_job(void *ctx, int tid) {
    gb_train *S = ctx;
    size_t n = S->jend - S->jbegin, k, a, e;
    const uint8_t *col = S->Xc + (size_t)S->jfeat * S->N;
    const uint8_t *left = S->jleft;
    const uint32_t *rows = S->rows;
    while (take_task(S, &k)) {
        chunk(n, S->n_tasks, k, &a, &e);
        a += S->jbegin;
        e += S->jbegin;
        uint32_t *L = S->tmpL + a, *R = S->tmpR + a;
        size_t nl = 0, nr = 0;
        for (size_t i = a; i < e; i++) { /* branch-free: write both, advance one */
            uint32_t r = rows[i], l = left[col[r]];
            L[nl] = r;
            R[nr] = r;
            nl += l;
            nr += l ^ 1;
        }
        S->jcount[k][0] = nl;
        S->jcount[k][1] = nr;
    }
}

/* Stable partition of rows[begin, end) by split sp; returns the left count.
 * Each task splits a slice into tmpL/tmpR; the slices are joined in order. */
static uint32_t partition(gb_train *S, uint32_t begin, uint32_t end, const gb_split *sp) {
    S->jbegin = begin;
    S->jend = end;
    S->jfeat = (uint32_t)sp->feat;
    S->jsplit = (gb_split *)sp;
    for (uint32_t b = 0; b <= GB_MAX_BIN; b++)
        S->jleft[b] = (uint8_t)goes_left(sp, b);
    size_t n = end - begin, P = row_tasks(n);
    if (n < 8192) {
        S->n_tasks = 1;
        atomic_store(&S->next, 0);
        part_job(S, 0);
    } else {
        run_tasks(S, part_job, P);
    }
    P = S->n_tasks;
    size_t pos = begin;
    for (size_t t = 0; t < P; t++) {
        size_t a, e;
        chunk(n, P, t, &a, &e);
        memcpy(S->rows + pos, S->tmpL + begin + a, S->jcount[t][0] * sizeof(uint32_t));
        pos += S->jcount[t][0];
    }
    uint32_t nl = (uint32_t)(pos - begin);
    for (size_t t = 0; t < P; t++) {
        size_t a, e;
        chunk(n, P, t, &a, &e);
        memcpy(S->rows + pos, S->tmpR + begin + a, S->jcount[t][1] * sizeof(uint32_t));
        pos += S->jcount[t][1];
    }
    return nl;
}

/* ---- growing one tree -------------------------------------------------------------------------
 */

static int take_slot(gb_train *S) { return S->n_free > 0 ? S->free_slots[--S->n_free] : -1; }
static void give_slot(gb_train *S, int s) {
    if (s >= 0) S->free_slots[S->n_free++] = s;
}
static gb_bin *slot_hist(gb_train *S, int s) { return S->hpool + (size_t)s * S->NB; }

static int can_split(const gb_train *S, const gb_leaf *L) {
    const gbdt_opts *o = S->o;
    if (o->max_depth > 0 && L->depth >= o->max_depth) return 0;
    if (L->n < 2) return 0;
    return (double)L->H / S->sh >= 2 * o->min_child_weight;
}

/* Split search over a range of features per task; the tasks' bests are
 * merged in feature order keeping the first of equal gains, which is the
 * choice of one pass over all features. */
static void search_job(void *ctx, int tid) {
    gb_train *S = ctx;
    const gb_leaf *L = S->jleaf;
    gb_split_ctx c = {S->o, S->g->feat, S->F, S->hoff, S->fmask, 1.0 / S->sg, 1.0 / S->sh};
    size_t k, a, e;
    while (take_task(S, &k)) {
        chunk(S->F, S->n_tasks, k, &a, &e);
        best_split_range(&c, slot_hist(S, L->slot), L->G, L->H, L->n, (uint32_t)a, (uint32_t)e,
                         &S->jbest[k]);
    }
}

static void search(gb_train *S, gb_leaf *L) {
    if (S->T > 1 && S->F >= leap__gbdt_search_min_features) {
        S->jleaf = L;
        run_tasks(S, search_job, GB_SEARCH_TASKS);
        L->best = S->jbest[0];
        for (size_t k = 1; k < GB_SEARCH_TASKS; k++)
            if (S->jbest[k].feat >= 0 && (L->best.feat < 0 || S->jbest[k].gain > L->best.gain))
                L->best = S->jbest[k];
    } else {
        gb_split_ctx c = {S->o, S->g->feat, S->F, S->hoff, S->fmask, 1.0 / S->sg, 1.0 / S->sh};
        leap__gbdt_best_split(&c, slot_hist(S, L->slot), L->G, L->H, L->n, &L->best);
    }
    L->open = L->best.feat >= 0;
}

static void make_leaf(gb_train *S, uint32_t node) {
    gb_node *nd = &S->tn[node];
    memset(nd, 0, sizeof *nd);
    nd->left = nd->right = node;
    nd->leaf = 1;
    S->tgain[node] = 0;
}

/* Grows the tree over rows[0, n_in) (this rank). */
static int grow(gb_train *S, uint32_t n_in, leap_err *err) {
    const gbdt_opts *o = S->o;
    int rc;
    S->tn_n = 1;
    S->tw_n = 0;
    make_leaf(S, 0);
    S->n_free = 0;
    for (int s = S->n_slots - 1; s >= 0; s--)
        S->free_slots[S->n_free++] = s;
    gb_leaf *root = &S->leaves[0];
    memset(root, 0, sizeof *root);
    root->begin = 0;
    root->end = n_in;
    root->slot = take_slot(S);
    root->node = 0;
    double cnt = n_in;
    if ((rc = leap_comm_allreduce_sum_f64(S->comm, &cnt, 1, err))) return rc;
    root->n = cnt;
    gb_bin *rh = slot_hist(S, root->slot);
    if ((rc = build_hist(S, S->rows, n_in, rh, err))) return rc;
    for (uint32_t b = S->hoff[0]; b < S->hoff[1]; b++) {
        root->G += rh[b].g;
        root->H += rh[b].h;
    }
    S->n_leaves = 1;
    if (can_split(S, root)) search(S, root);
    for (;;) {
        if (o->growth == GB_LEAFWISE && S->n_leaves >= o->num_leaves) break;
        int pick = -1;
        for (int i = 0; i < S->n_leaves; i++) {
            gb_leaf *L = &S->leaves[i];
            if (!L->open) continue;
            if (pick < 0) {
                pick = i;
                continue;
            }
            gb_leaf *P = &S->leaves[pick];
            int better = o->growth == GB_DEPTHWISE
                             ? (L->depth < P->depth || (L->depth == P->depth && L->node < P->node))
                             : (L->best.gain > P->best.gain ||
                                (L->best.gain == P->best.gain && L->node < P->node));
            if (better) pick = i;
        }
        if (pick < 0) break;
        gb_leaf *P = &S->leaves[pick];
        const gb_split sp = P->best;
        /* the node becomes a split */
        uint32_t node = P->node, ln = S->tn_n++, rn = S->tn_n++;
        gb_node *nd = &S->tn[node];
        nd->leaf = 0;
        nd->feat = (uint16_t)sp.feat;
        nd->cat = sp.cat;
        nd->left = ln;
        nd->right = rn;
        if (sp.cat) {
            nd->thr = S->tw_n;
            nd->miss = UINT32_MAX;
            memcpy(S->twords + S->tw_n, sp.bits, sizeof sp.bits);
            S->tw_n += GB_CAT_WORDS;
        } else {
            nd->thr = sp.thr;
            nd->miss = sp.default_left ? 0 : UINT32_MAX;
        }
        S->tgain[node] = sp.gain;
        make_leaf(S, ln);
        make_leaf(S, rn);
        uint32_t nl = partition(S, P->begin, P->end, &sp);
        double cn[2] = {nl, (double)(P->end - P->begin - nl)};
        if ((rc = leap_comm_allreduce_sum_f64(S->comm, cn, 2, err))) return rc;
        gb_leaf Lc = {.begin = P->begin,
                      .end = P->begin + nl,
                      .n = cn[0],
                      .G = sp.lg,
                      .H = sp.lh,
                      .depth = P->depth + 1,
                      .slot = -1,
                      .node = ln};
        gb_leaf Rc = {.begin = P->begin + nl,
                      .end = P->end,
                      .n = cn[1],
                      .G = P->G - sp.lg,
                      .H = P->H - sp.lh,
                      .depth = P->depth + 1,
                      .slot = -1,
                      .node = rn};
        int parent_slot = P->slot;
        int room = o->growth == GB_DEPTHWISE || S->n_leaves + 1 < o->num_leaves;
        int sl = room && can_split(S, &Lc), sr = room && can_split(S, &Rc);
        if (sl || sr) {
            int left_small = Lc.n <= Rc.n;
            gb_leaf *small = left_small ? &Lc : &Rc, *large = left_small ? &Rc : &Lc;
            small->slot = take_slot(S);
            if (small->slot < 0) return leap_err_set(err, LEAP_ENOMEM, "gbdt: histogram pool");
            gb_bin *hs = slot_hist(S, small->slot), *hp = slot_hist(S, parent_slot);
            if ((rc = build_hist(S, S->rows + small->begin, small->end - small->begin, hs, err)))
                return rc;
            v2i64 *pv = (v2i64 *)hp;
            const v2i64 *sv = (const v2i64 *)hs;
            for (uint32_t b = 0; b < S->NB; b++)
                pv[b] -= sv[b];
            large->slot = parent_slot;
            if (left_small ? sl : sr)
                search(S, small);
            else {
                give_slot(S, small->slot);
                small->slot = -1;
            }
            if (left_small ? sr : sl)
                search(S, large);
            else {
                give_slot(S, large->slot);
                large->slot = -1;
            }
        } else {
            give_slot(S, parent_slot);
        }
        S->leaves[pick] = Lc;
        S->leaves[S->n_leaves++] = Rc;
        if (S->n_leaves >= S->max_leaves) break;
    }
    return LEAP_OK;
}

/* ---- after a tree: scores
 * ------------------------------------------------------------------------ */

static inline uint32_t descend_bins(const gb_node *tn, const uint32_t *words, const uint8_t *x) {
    uint32_t n = 0;
    while (!tn[n].leaf) {
        const gb_node *nd = &tn[n];
        uint32_t b = x[nd->feat];
        int left =
            nd->cat ? (words[nd->thr + (b >> 5)] >> (b & 31)) & 1 : (b ? b : nd->miss) <= nd->thr;
        n = left ? nd->left : nd->right;
    }
    return n;
}

static void leaf_update_job(void *ctx, int tid) {
    gb_train *S = ctx;
    size_t i;
    while (take_task(S, &i)) {
        const gb_leaf *L = &S->leaves[i];
        double v = S->tn[L->node].value;
        for (uint32_t k = L->begin; k < L->end; k++)
            S->score[S->rows[k]] += v;
    }
}

static void oob_update_job(void *ctx, int tid) {
    gb_train *S = ctx;
    size_t k, a, e;
    while (take_task(S, &k)) {
        chunk(S->N, S->n_tasks, k, &a, &e);
        for (size_t r = a; r < e; r++)
            if (!S->inbag[r])
                S->score[r] += S->tn[descend_bins(S->tn, S->twords, S->X + r * S->F)].value;
    }
}

#define GB_VBLOCK 4096
#define GB_REPORT 10 /* trees between progress reports */

static void valid_job(void *ctx, int tid) {
    gb_train *S = ctx;
    const int logistic = S->o->objective == GB_LOGISTIC;
    size_t k;
    while (take_task(S, &k)) {
        size_t a = k * GB_VBLOCK, e = a + GB_VBLOCK < S->Nv ? a + GB_VBLOCK : S->Nv;
        double loss = 0;
        for (size_t r = a; r < e; r++) {
            double s = S->sv[r] + S->tn[descend_bins(S->tn, S->twords, S->Xv + r * S->F)].value;
            S->sv[r] = s;
            double wt = S->wv[r];
            if (logistic) {
                double y = S->yv[r] > 0.5f ? 1.0 : 0.0;
                loss += wt * (s > 0 ? (1 - y) * s + log1p(exp(-s)) : log1p(exp(s)) - y * s);
            } else {
                double d = s - S->yv[r];
                loss += wt * d * d;
            }
        }
        S->vblock[2 * k] = loss;
    }
}

static void valid_weight(gb_train *S, double *wsum) {
    *wsum = 0;
    for (size_t r = 0; r < S->Nv; r++)
        *wsum += S->wv[r];
}

/* Converts a bin threshold of ordinal feature f into local indices: the
 * largest local index whose bin is <= t. */
static uint32_t local_threshold(const gb_train *S, uint32_t f, uint32_t t) {
    const gb_feature *ft = &S->g->feat[f];
    if (ft->card <= ft->nbins) return t;
    const uint8_t *lut = S->lut + ft->offset;
    uint32_t lo = 1, hi = ft->card - 1; /* bins are monotone in the local index */
    if (lut[1] > t) return 0;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        if (lut[mid] <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* Appends the grown tree (bin space) to the model (local-index space). */
static void commit_tree(gb_train *S) {
    gbdt_model *g = S->g;
    uint32_t base = g->n_nodes, wbase = g->n_words;
    gb_tree *T = &g->trees[g->n_trees];
    T->root = base;
    T->n_nodes = S->tn_n;
    uint32_t *dep = (uint32_t *)S->tmpL; /* scratch: tn_n <= N is not guaranteed; see fit */
    uint32_t maxd = 0;
    dep[0] = 0;
    for (uint32_t i = 0; i < S->tn_n; i++) {
        gb_node nd = S->tn[i];
        if (nd.leaf) {
            if (dep[i] > maxd) maxd = dep[i];
            nd.left = nd.right = base + i;
        } else {
            dep[nd.left] = dep[nd.right] = dep[i] + 1;
            nd.left += base;
            nd.right += base;
            if (nd.cat) {
                const gb_feature *ft = &g->feat[nd.feat];
                nd.miss = ft->card > ft->nbins ? ft->nbins - 1 : GB_MAX_BIN;
                memcpy(g->cat_words + wbase + (nd.thr - 0), S->twords + nd.thr,
                       GB_CAT_WORDS * sizeof(uint32_t));
                nd.thr += wbase;
            } else {
                nd.thr = local_threshold(S, nd.feat, nd.thr);
            }
        }
        g->nodes[base + i] = nd;
        S->node_gain[base + i] = S->tgain[i];
    }
    T->depth = maxd;
    g->n_nodes += S->tn_n;
    g->n_words += S->tw_n;
    g->n_trees++;
    S->tree_words[g->n_trees] = g->n_words;
}

/* ---- fit
 * --------------------------------------------------------------------------------------------- */

static void sample_rows(gb_train *S, int tree, uint32_t *n_in) {
    uint32_t n = 0;
    if (S->o->subsample >= 1.0 && !S->out) {
        for (size_t r = 0; r < S->N; r++)
            S->rows[r] = (uint32_t)r;
        memset(S->inbag, 1, S->N);
        *n_in = (uint32_t)S->N;
        return;
    }
    uint64_t seed = leap_mix64((uint64_t)S->o->seed, (uint64_t)tree + 1);
    uint64_t cut =
        S->o->subsample >= 1.0 ? UINT64_MAX : (uint64_t)(S->o->subsample * 18446744073709551616.0);
    for (size_t r = 0; r < S->N; r++) {
        int in = leap_mix64(seed, r) <= cut && !(S->out && S->out[r]);
        S->inbag[r] = (uint8_t)in;
        if (in) S->rows[n++] = (uint32_t)r;
    }
    *n_in = n;
}

static void sample_features(gb_train *S, int tree) {
    uint32_t F = S->F;
    if (S->o->colsample >= 1.0) {
        memset(S->fmask, 1, F);
        return;
    }
    uint32_t k = (uint32_t)lround(S->o->colsample * F);
    if (k < 1) k = 1;
    memset(S->fmask, 0, F);
    /* Floyd's sampling of k of F without an index array */
    leap_rng r = {leap_mix64((uint64_t)S->o->seed ^ 0x636f6c73ULL, (uint64_t)tree + 1)};
    for (uint32_t j = F - k; j < F; j++) {
        uint32_t t = (uint32_t)(leap_rng_next(&r) % ((uint64_t)j + 1));
        if (S->fmask[t])
            S->fmask[j] = 1;
        else
            S->fmask[t] = 1;
    }
}

static void train_free(gb_train *S) {
    free(S->out);
    free(S->hoff);
    free(S->lut);
    free(S->X);
    free(S->Xc);
    free(S->y);
    free(S->w);
    free(S->score);
    free(S->gf);
    free(S->gh);
    free(S->inbag);
    free(S->rows);
    free(S->tmpL);
    free(S->tmpR);
    free(S->ogh);
    free(S->Xv);
    free(S->yv);
    free(S->wv);
    free(S->sv);
    free(S->vblock);
    free(S->hpool);
    free(S->free_slots);
    free(S->scratch);
    free(S->mbuf);
    free(S->leaves);
    free(S->tn);
    free(S->tgain);
    free(S->twords);
    free(S->fmask);
    free(S->tree_words);
    free(S->node_gain);
}

int leap__gbdt_train(gbdt_model *g, leap_fit_io *io, int keep_batches, double holdout,
                     leap_err *err) {
    return leap__gbdt_train_folds(g, io, keep_batches, holdout, 0, 0, err);
}

int leap__gbdt_train_folds(gbdt_model *g, leap_fit_io *io, int keep_batches, double holdout,
                           int folds, int fold, leap_err *err) {
    const gbdt_opts *o = &g->o;
    if (o->growth == GB_DEPTHWISE && o->max_depth < 1)
        return leap_err_set(err, LEAP_EINVAL, "gbdt: depthwise growth needs max_depth >= 1");
    if (o->early_stopping_rounds > 0 && !io->map_valid)
        return leap_err_set(err, LEAP_EINVAL,
                            "gbdt: early_stopping_rounds needs validation data (--valid)");
    if (io->n_rows > UINT32_MAX || io->n_valid_rows > ((uint64_t)1 << 40))
        return leap_err_set(err, LEAP_EINVAL, "gbdt: %llu rows on one rank; at most 2^32",
                            (unsigned long long)io->n_rows);
    gb_train S_, *S = &S_;
    memset(S, 0, sizeof *S);
    S->g = g;
    S->o = o;
    S->io = io;
    S->comm = io->comm;
    S->mpi = leap_comm_size(io->comm) > 1;
    S->T = io->threads < 1 ? 1 : (io->threads > 64 ? 64 : io->threads);
    S->F = g->F;
    S->N = (size_t)io->n_rows;
    S->holdout = holdout;
    S->folds = folds;
    S->fold = fold;
    if (holdout > 0 || folds >= 2) {
        S->out = malloc(S->N ? S->N : 1);
        if (!S->out) return leap_err_set(err, LEAP_ENOMEM, "gbdt: out of memory");
        for (size_t r = 0; r < S->N; r++)
            S->out[r] = (uint8_t)(gb_held_out(o, r, holdout) ||
                                  (folds >= 2 && gb_fold(o, r, folds) == fold));
    }
    S->Nv = io->map_valid ? (size_t)io->n_valid_rows : 0;
    const uint32_t F = S->F;
    int rc = LEAP_OK;
    gb_worker ws[64];
    int pool_on = 0;

    /* leaves, slots, nodes */
    int depth_cap = o->max_depth > 0 ? o->max_depth : GB_MAX_DEPTH + 16;
    int64_t ml = o->growth == GB_LEAFWISE ? o->num_leaves : ((int64_t)1 << o->max_depth);
    if (o->max_depth > 0 && o->max_depth < 31 && ml > ((int64_t)1 << o->max_depth))
        ml = (int64_t)1 << o->max_depth;
    S->max_leaves = (int)ml;
    int64_t open_max = depth_cap < 31 && ((int64_t)1 << (depth_cap - 1)) < ml
                           ? ((int64_t)1 << (depth_cap - 1))
                           : ml;
    S->n_slots = (int)open_max + 2;
    uint32_t nodes_per_tree = (uint32_t)(2 * ml - 1);

    /* bins */
    S->hoff = malloc((F + 1) * sizeof *S->hoff);
    if (!S->hoff) goto oom;
    S->hoff[0] = 0;
    uint32_t lut_n = 0;
    for (uint32_t j = 0; j < F; j++) {
        S->hoff[j + 1] = S->hoff[j] + g->feat[j].nbins;
        if (g->feat[j].offset + g->feat[j].card > lut_n)
            lut_n = g->feat[j].offset + g->feat[j].card;
    }
    S->NB = S->hoff[F];
    S->lut = calloc(lut_n ? lut_n : 1, 1);
    if (!S->lut) goto oom;
    S->lut_n = lut_n;
    for (uint32_t j = 0; j < F; j++) {
        const gb_feature *ft = &g->feat[j];
        uint8_t *l = S->lut + ft->offset;
        uint32_t mb = ft->nbins - 1; /* value bins */
        for (uint32_t c = 1; c < ft->card; c++) {
            if (ft->card <= ft->nbins)
                l[c] = (uint8_t)c;
            else if (ft->cat)
                l[c] = (uint8_t)(c < mb ? c : mb);
            else
                l[c] = (uint8_t)(1 + (uint64_t)(c - 1) * mb / (ft->card - 1));
        }
    }
    double hist_bytes = (double)S->n_slots * S->NB * sizeof(gb_bin);
    if (hist_bytes > 4e9)
        return train_free(S),
               leap_err_set(err, LEAP_EINVAL,
                            "gbdt: %d histograms of %u bins need %.1f GB; lower max_depth, "
                            "num_leaves or max_bin",
                            S->n_slots, S->NB, hist_bytes / 1e9);

    size_t N = S->N ? S->N : 1, Nv = S->Nv ? S->Nv : 1;
    S->X = malloc(N * F);
    S->Xc = malloc(N * F);
    S->y = malloc(N * sizeof *S->y);
    S->w = malloc(N * sizeof *S->w);
    S->score = malloc(N * sizeof *S->score);
    S->gf = malloc(2 * N * sizeof *S->gf);
    S->gh = malloc(N * sizeof *S->gh);
    S->inbag = malloc(N);
    S->rows = malloc((N > nodes_per_tree ? N : nodes_per_tree) * sizeof *S->rows);
    S->tmpL = malloc((N > nodes_per_tree ? N : nodes_per_tree) * sizeof *S->tmpL);
    S->tmpR = malloc(N * sizeof *S->tmpR);
    S->ogh = o->hist_parallel == GB_HIST_FEATURES ? malloc(N * sizeof *S->ogh) : malloc(1);
    S->Xv = malloc(Nv * F);
    S->yv = malloc(Nv * sizeof *S->yv);
    S->wv = malloc(Nv * sizeof *S->wv);
    S->sv = malloc(Nv * sizeof *S->sv);
    S->vblock = calloc(2 * ((Nv + GB_VBLOCK - 1) / GB_VBLOCK + 1), sizeof *S->vblock);
    S->hpool = malloc((size_t)S->n_slots * S->NB * sizeof *S->hpool);
    S->free_slots = malloc((size_t)S->n_slots * sizeof *S->free_slots);
    S->scratch = malloc((size_t)S->T * S->NB * sizeof *S->scratch);
    S->mbuf = malloc(4 * (size_t)S->NB * sizeof *S->mbuf);
    S->leaves = malloc((size_t)S->max_leaves * sizeof *S->leaves);
    S->tn = malloc(nodes_per_tree * sizeof *S->tn);
    S->tgain = malloc(nodes_per_tree * sizeof *S->tgain);
    S->twords = malloc((size_t)(nodes_per_tree / 2 + 1) * GB_CAT_WORDS * sizeof *S->twords);
    S->fmask = malloc(F);
    S->tree_words = calloc((size_t)o->trees + 1, sizeof *S->tree_words);
    if (!S->X || !S->Xc || !S->y || !S->w || !S->score || !S->gf || !S->gh || !S->inbag ||
        !S->rows || !S->tmpL || !S->tmpR || !S->ogh || !S->Xv || !S->yv || !S->wv || !S->sv ||
        !S->vblock || !S->hpool || !S->free_slots || !S->scratch || !S->mbuf || !S->leaves ||
        !S->tn || !S->tgain || !S->twords || !S->fmask || !S->tree_words)
        goto oom;
    if ((rc = leap__gbdt_reserve(g, (uint32_t)o->trees, nodes_per_tree, err))) goto out;
    S->node_gain = malloc((g->cap_nodes ? g->cap_nodes : 1) * sizeof *S->node_gain);
    if (!S->node_gain) goto oom;

    /* the one pass over the data */
    io->single_pass = !keep_batches;
    if ((rc = io->map(io, bin_batch, S, err))) goto out;
    int bad = atomic_load(&S->rows_seen) != S->N;
    if (S->Nv) {
        S->valid_pass = 1;
        atomic_store(&S->rows_seen, 0);
        if ((rc = io->map_valid(io, bin_batch, S, err))) goto out;
        S->valid_pass = 0;
        bad |= atomic_load(&S->rows_seen) != S->Nv;
    }
    if (bad || atomic_load(&S->cb_bad)) {
        rc = leap_err_set(err, LEAP_EINVAL, "gbdt: a batch lies outside the rows announced");
        goto out;
    }
    pool_start(&S->pool, S->T, ws);
    pool_on = 1;
    S->T = S->pool.T;
    /* feature groups: as few as GB_GROUP allows, a multiple of the threads */
    size_t n_groups =
        (size_t)S->T * ((F + GB_GROUP * (size_t)S->T - 1) / (GB_GROUP * (size_t)S->T));
    S->group = (F + n_groups - 1) / n_groups;
    if (S->N) run_tasks(S, transpose_job, F);

    /* base score: from the gradients at 0 (exact sums over all ranks) */
    double n_all = (double)S->N;
    if ((rc = leap_comm_allreduce_sum_f64(S->comm, &n_all, 1, err))) goto out;
    if (!(n_all > 0)) {
        rc = leap_err_set(err, LEAP_EINVAL, "gbdt: no training rows");
        goto out;
    }
    memset(S->score, 0, N * sizeof *S->score);
    double loss;
    if ((rc = gradients(S, n_all, &loss, err))) goto out;
    int64_t gs[2] = {0, 0}; /* the base score from the rows the trees may see */
    for (size_t r = 0; r < S->N; r++) {
        gs[0] += S->gh[r].g; /* 0 for rows kept out */
        gs[1] += S->gh[r].h;
    }
    if ((rc = allreduce_i64(S, gs, 2, err))) goto out;
    double G0 = (double)gs[0] / S->sg, H0 = (double)gs[1] / S->sh;
    if (!(H0 > 0)) {
        rc = leap_err_set(err, LEAP_EINVAL, "gbdt: the training rows have no weight");
        goto out;
    }
    if (o->objective == GB_LOGISTIC) {
        /* at score 0: g = (0.5 - y) w, h = w / 4, so mean y = 0.5 - G / (4 H) */
        double ybar = 0.5 - G0 / (4 * H0);
        if (ybar < 1e-7) ybar = 1e-7;
        if (ybar > 1 - 1e-7) ybar = 1 - 1e-7;
        g->base_score = log(ybar / (1 - ybar));
    } else {
        g->base_score = -G0 / H0; /* g = -y w, h = w */
    }
    for (size_t r = 0; r < S->N; r++)
        S->score[r] = g->base_score;
    for (size_t r = 0; r < S->Nv; r++)
        S->sv[r] = g->base_score;
    double vw = 0;
    valid_weight(S, &vw);
    if (S->Nv || S->mpi) {
        if ((rc = leap_comm_allreduce_sum_f64(S->comm, &vw, 1, err))) goto out;
    }

    /* boosting */
    double t0 = leap_now(), best = INFINITY, last = NAN;
    int best_iter = 0;
    int have_valid = io->map_valid != NULL && vw > 0;
    for (int t = 0; t < o->trees; t++) {
        /* the training loss is reported every GB_REPORT trees (it costs a log per row) */
        S->want_loss = t > 0 && t % GB_REPORT == 0 && io->on_iter;
        if ((rc = gradients(S, n_all, &loss, err))) goto out;
        if (S->want_loss) io->on_iter(io, t, loss, leap_now() - t0);
        uint32_t n_in;
        sample_rows(S, t, &n_in);
        sample_features(S, t);
        if ((rc = grow(S, n_in, err))) goto out;
        for (int i = 0; i < S->n_leaves; i++) {
            gb_leaf *L = &S->leaves[i];
            double w = gb_leaf_weight((double)L->G / S->sg, (double)L->H / S->sh, o->lambda_l1,
                                      o->lambda_l2);
            S->tn[L->node].value = (float)(w * o->learning_rate);
        }
        if (n_in >= 32768) { /* a task per leaf */
            run_tasks(S, leaf_update_job, (size_t)S->n_leaves);
        } else { /* too little work to wake the pool */
            run_inline(S, leaf_update_job, (size_t)S->n_leaves);
        }
        if (n_in < S->N) run_tasks(S, oob_update_job, row_tasks(S->N));
        commit_tree(S);
        if (have_valid) {
            run_tasks(S, valid_job, (S->Nv + GB_VBLOCK - 1) / GB_VBLOCK);
            double vl = 0;
            size_t nb = (S->Nv + GB_VBLOCK - 1) / GB_VBLOCK;
            for (size_t k = 0; k < nb; k++)
                vl += S->vblock[2 * k];
            if ((rc = leap_comm_allreduce_sum_f64(S->comm, &vl, 1, err))) goto out;
            vl /= vw;
            last = vl;
            if (vl < best) {
                best = vl;
                best_iter = t + 1;
            } else if (o->early_stopping_rounds > 0 &&
                       t + 1 - best_iter >= o->early_stopping_rounds) {
                break;
            }
        }
    }
    S->want_loss = 1;
    if ((rc = gradients(S, n_all, &loss, err))) goto out;
    if (io->on_iter) io->on_iter(io, (int)g->n_trees, loss, leap_now() - t0);
    if (have_valid && o->early_stopping_rounds > 0 && best_iter > 0 &&
        (uint32_t)best_iter < g->n_trees) {
        g->n_trees = (uint32_t)best_iter;
        g->n_nodes = g->trees[best_iter].root;
        g->n_words = S->tree_words[best_iter];
    }
    g->best_iter = (int)g->n_trees;
    g->best_valid = !have_valid ? NAN : (o->early_stopping_rounds > 0 ? best : last);
    for (uint32_t j = 0; j < F; j++) {
        g->imp_gain[j] = 0;
        g->imp_split[j] = 0;
    }
    for (uint32_t i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].leaf) {
            g->imp_gain[g->nodes[i].feat] += S->node_gain[i];
            g->imp_split[g->nodes[i].feat]++;
        }
    leap__gbdt_fast_build(g);
    goto out;
oom:
    rc = leap_err_set(err, LEAP_ENOMEM, "gbdt: out of memory for %zu rows x %u features", S->N, F);
out:
    if (pool_on) pool_stop(&S->pool);
    train_free(S);
    return rc;
}

int leap__gbdt_fit(leap_model *m, leap_fit_io *io, leap_err *err) {
    return leap__gbdt_train((gbdt_model *)m, io, 0, 0.0, err);
}
