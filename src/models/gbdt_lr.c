/* gbdt_lr.c — trees + LR (He et al., "Practical Lessons from Predicting
 * Clicks on Ads at Facebook", ADKDD 2014): a GBDT is fitted first, then the
 * leaf each row reaches in each tree becomes a categorical feature (one per
 * tree, one-hot over that tree's leaves) of the spine's FTRL logistic
 * regression, optionally next to the original features (lr_raw).
 *
 * Both learn on all training rows by default. The leaves of rows the trees
 * were fitted on are optimistic (the trees memorised them), and an LR that
 * trusts them loses to plain LR (criteo_kaggle_head10k, 50 trees: test AUC
 * 0.70 against 0.77). Keeping the trees' rows away from the LR (lr_holdout,
 * as scikit-learn's tree-embedding example does) halves what each part
 * learns and still lost to plain LR on the shared Criteo samples. Instead, a
 * leaf enters the LR with the value lr_leaf_value (0.03): FTRL's steps on a
 * leaf's contribution shrink by that factor and its L1/L2 penalties weigh
 * correspondingly more, so the LR leans on the original features and takes
 * from the leaves what they add. The defaults (no holdout, lr_leaf_value
 * 0.03, lr_alpha 0.05, 3 epochs) were chosen on validation splits of the
 * training rows (bench/gbdt_lr_valid.py), never on a test set.
 *
 * The LR is lr.c's model used through its ops (create, train_batch, state,
 * refresh, save, load) over a feature space of (all tree nodes) + (the
 * featurizer's space when lr_raw) + (the trees' score when stacked): a
 * leaf's feature index is its node index. Under MPI the FTRL accumulators
 * are summed as deltas after each epoch, as the trainer does for lr. One
 * bundle payload holds both.
 *
 * lr_stack_folds = K >= 2 adds the trees' score as one more LR feature,
 * taken out of fold during training (K extra ensembles, each fitted without
 * one fold of the rows). It is off by default: on validation splits it
 * helped two Criteo samples and hurt the others (docs/PERFORMANCE.md).
 *
 * Scoring sums a row's leaf terms with the GBDT's scoring layout, through a
 * shadow of the trees whose leaves hold the LR's weights (see shadow_build).
 */
#include "gbdt_internal.h"
#include "lr_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct gblr_opts {
    gbdt_opts gb; /* first: gbdt's option definitions apply as they are */
    double lr_alpha, lr_beta, lr_l1, lr_l2, lr_holdout, lr_leaf_value;
    int lr_epochs, lr_raw, lr_stack_folds;
} gblr_opts;

static const leap_opt_def gblr_defs[] = {
    GBDT_OPT_DEFS(offsetof(gblr_opts, gb), 300, 1),
    {"lr_alpha", LEAP_OPT_FLOAT, offsetof(gblr_opts, lr_alpha), 0.05, 1e-6, 100, NULL,
     "FTRL learning-rate scale of the LR"},
    {"lr_beta", LEAP_OPT_FLOAT, offsetof(gblr_opts, lr_beta), 1.0, 0, 1e6, NULL,
     "FTRL learning-rate smoothing"},
    {"lr_l1", LEAP_OPT_FLOAT, offsetof(gblr_opts, lr_l1), 0.5, 0, 1e6, NULL, "FTRL L1"},
    {"lr_l2", LEAP_OPT_FLOAT, offsetof(gblr_opts, lr_l2), 1.0, 0, 1e6, NULL, "FTRL L2"},
    {"lr_epochs", LEAP_OPT_INT, offsetof(gblr_opts, lr_epochs), 3, 1, 1000, NULL,
     "passes of FTRL over the training data"},
    {"lr_raw", LEAP_OPT_BOOL, offsetof(gblr_opts, lr_raw), 1, 0, 1, NULL,
     "the LR sees the original features next to the leaves"},
    {"lr_leaf_value", LEAP_OPT_FLOAT, offsetof(gblr_opts, lr_leaf_value), 0.03, 1e-3, 1, NULL,
     "value of a leaf feature in the LR: its contribution learns this much slower"},
    {"lr_holdout", LEAP_OPT_FLOAT, offsetof(gblr_opts, lr_holdout), 0, 0, 0.9, NULL,
     "share of the training rows kept out of the trees for the LR (0 = all rows for both)"},
    {"lr_stack_folds", LEAP_OPT_INT, offsetof(gblr_opts, lr_stack_folds), 0, 0, 10, NULL,
     "K >= 2: the trees' out-of-fold score (K cross-fitted ensembles) is an LR feature; 0: off"},
};
static const leap_opt_table gblr_table = {"model gbdt_lr", gblr_defs,
                                          sizeof gblr_defs / sizeof gblr_defs[0]};

typedef struct gblr_model {
    leap_model base;
    gblr_opts o;
    gbdt_model *gb;
    leap_model *lr;
    leap_featurizer lrfz;      /* only n_buckets: the LR's feature space */
    uint32_t raw_off;          /* first index of the original features (= tree nodes) */
    const leap_featurizer *fz; /* create's, used by fit (the trainer keeps it alive) */
    int stacked;               /* the trees' score is a feature, at margin_idx */
    uint32_t margin_idx;
    gbdt_model *shadow; /* the trees with each leaf's value = its LR weight × leaf value, so
                           the GBDT scoring layout sums a row's leaf terms (see shadow_build) */
} gblr_model;

extern const leap_model_ops leap_model_lr;
extern const leap_model_ops leap_model_gbdt_lr;

/* ---- scoring through the trees' layout ----------------------------------------------------
 * A row's leaf terms, Σ_trees w[leaf] · lr_leaf_value, are what a GBDT would score if each leaf
 * held the value w[leaf] · lr_leaf_value. The shadow is the trained trees (their arrays shared,
 * not copied) with a node array holding those values, so leap__gbdt_raw_batch sums the terms
 * with the GBDT's scoring layout and kernels (gbdt_fast.c) in tree order, in double. Rebuilt
 * whenever the LR's weights change. */

static void shadow_free(gblr_model *l) {
    if (!l->shadow) return;
    leap__gbdt_fast_free(l->shadow);
    free(l->shadow->nodes);
    free(l->shadow);
    l->shadow = NULL;
}

static void shadow_build(gblr_model *l) {
    shadow_free(l);
    const gbdt_model *g = l->gb;
    const lr_model *lr = (const lr_model *)l->lr;
    if (!lr) return;
    gbdt_model *sh = malloc(sizeof *sh);
    gb_node *nodes = malloc((g->n_nodes ? g->n_nodes : 1) * sizeof *nodes);
    if (!sh || !nodes) { /* out of memory: predict descends the nodes itself */
        free(sh);
        free(nodes);
        return;
    }
    *sh = *g;
    memcpy(nodes, g->nodes, g->n_nodes * sizeof *nodes);
    const float lv = (float)l->o.lr_leaf_value;
    for (uint32_t i = 0; i < g->n_nodes; i++)
        nodes[i].value = nodes[i].leaf ? lr->w[i] * lv : 0.0f;
    sh->nodes = nodes;
    sh->base_score = 0;
    sh->fast = NULL;
    leap__gbdt_fast_build(sh);
    l->shadow = sh;
}

static void gblr_destroy(leap_model *m) {
    gblr_model *l = (gblr_model *)m;
    if (!l) return;
    shadow_free(l);
    leap__gbdt_free(l->gb);
    if (l->lr) leap_model_lr.destroy(l->lr);
    free(l);
}

static int gblr_create(const void *opts, const leap_featurizer *fz, leap_model **out,
                       leap_err *err) {
    gblr_model *l = calloc(1, sizeof *l);
    if (!l) return leap_err_set(err, LEAP_ENOMEM, "gbdt_lr: out of memory");
    l->base.ops = &leap_model_gbdt_lr;
    l->o = *(const gblr_opts *)opts;
    l->fz = fz;
    int rc = leap__gbdt_alloc(&l->o.gb, fz, &l->gb, err);
    if (rc) {
        free(l);
        return rc;
    }
    *out = &l->base;
    return LEAP_OK;
}

/* The LR's options and feature space for the trees in l->gb: their nodes,
 * then (lr_raw) the original space the trees read. train = 0: loads it from
 * buf. */
static int lr_make(gblr_model *l, int train, const uint8_t *buf, size_t len, leap_err *err) {
    uint32_t orig = 0;
    for (uint32_t j = 0; j < l->gb->F; j++)
        if (l->gb->feat[j].offset + l->gb->feat[j].card > orig)
            orig = l->gb->feat[j].offset + l->gb->feat[j].card;
    lr_opts lo;
    leap_opts_defaults(leap_model_lr.opts, &lo);
    lo.optimizer = LR_FTRL;
    lo.alpha = l->o.lr_alpha;
    lo.beta = l->o.lr_beta;
    lo.l1 = l->o.lr_l1;
    lo.l2 = l->o.lr_l2;
    uint64_t space = (uint64_t)l->gb->n_nodes + (l->o.lr_raw ? orig : 0) + (l->stacked ? 1 : 0);
    if (space + 1 > UINT32_MAX)
        return leap_err_set(err, LEAP_EINVAL, "gbdt_lr: feature space too large");
    l->raw_off = l->gb->n_nodes;
    l->margin_idx = l->raw_off + (l->o.lr_raw ? orig : 0);
    l->lrfz.n_buckets = (uint32_t)(space > 0 ? space : 1);
    if (train) return leap_model_lr.create(&lo, &l->lrfz, &l->lr, err);
    return leap_model_lr.load(&lo, &l->lrfz, buf, len, &l->lr, err);
}

/* ---- fitting the LR on leaves ------------------------------------------------------------ */

typedef struct lr_thread {
    leap_fbatch fb; /* the LR's batch (label, weight borrowed) */
    size_t cap_rows, cap_nnz;
    double sums[2];
    double pad[4];
} lr_thread;

typedef struct lr_pass {
    gblr_model *l;
    const double *margin; /* [rows] the trees' out-of-fold score of each row (stacked) */
    lr_thread *th;        /* [threads] */
    atomic_int oom;
} lr_pass;

static int lr_reserve(lr_thread *t, size_t rows, size_t nnz) {
    if (rows > t->cap_rows) {
        uint32_t *rp = realloc(t->fb.row_ptr, (rows + 1) * sizeof *rp);
        if (rp) t->fb.row_ptr = rp;
        float *lb = realloc(t->fb.label, rows * sizeof *lb);
        if (lb) t->fb.label = lb;
        float *wt = realloc(t->fb.weight, rows * sizeof *wt);
        if (wt) t->fb.weight = wt;
        if (!rp || !lb || !wt) return -1;
        t->cap_rows = rows;
    }
    if (nnz > t->cap_nnz) {
        uint32_t *ix = realloc(t->fb.idx, nnz * sizeof *ix);
        if (ix) t->fb.idx = ix;
        float *v = realloc(t->fb.val, nnz * sizeof *v);
        if (v) t->fb.val = v;
        uint16_t *f = realloc(t->fb.field, nnz * sizeof *f);
        if (f) t->fb.field = f;
        if (!ix || !v || !f) return -1;
        t->cap_nnz = nnz;
    }
    return 0;
}

/* Leaves (and the original features) of b's rows held out of the trees (all
 * rows without a holdout) as an LR batch. Buffers grow to the largest batch
 * once, then are reused. */
static int lr_features(const gblr_model *l, const double *margin, const leap_fbatch *b,
                       lr_thread *t) {
    const gbdt_model *g = l->gb;
    size_t n = b->n_rows, raw = l->o.lr_raw ? b->row_ptr[n] : 0;
    size_t nnz = n * (g->n_trees + 1) + raw;
    if (nnz > UINT32_MAX || lr_reserve(t, n, nnz)) return -1;
    uint32_t x[GB_MAX_FEATURES];
    uint32_t k = 0;
    size_t m = 0;
    for (size_t r = 0; r < n; r++) {
        if (l->o.lr_holdout > 0 && !gb_held_out(&l->o.gb, b->row0 + r, l->o.lr_holdout)) continue;
        t->fb.row_ptr[m] = k;
        t->fb.label[m] = b->label[r];
        t->fb.weight[m] = b->weight[r];
        m++;
        leap__gbdt_decode_row(g, b, r, x);
        for (uint32_t i = 0; i < g->n_trees; i++) {
            const gb_tree *T = &g->trees[i];
            t->fb.idx[k] = gb_descend(g->nodes, g->cat_words, T->root, T->depth, x);
            t->fb.val[k] = (float)l->o.lr_leaf_value;
            t->fb.field[k] = (uint16_t)i;
            k++;
        }
        if (l->o.lr_raw)
            for (uint32_t j = b->row_ptr[r]; j < b->row_ptr[r + 1]; j++) {
                if (b->idx[j] >= l->lrfz.n_buckets - l->raw_off) continue;
                t->fb.idx[k] = l->raw_off + b->idx[j];
                t->fb.val[k] = b->val[j];
                t->fb.field[k] = b->field ? b->field[j] : 0;
                k++;
            }
        if (l->stacked) {
            t->fb.idx[k] = l->margin_idx;
            t->fb.val[k] = (float)margin[b->row0 + r];
            t->fb.field[k] = 0;
            k++;
        }
    }
    t->fb.row_ptr[m] = k;
    t->fb.n_rows = m;
    return 0;
}

static void lr_batch(void *user, const leap_fbatch *b, int thread) {
    lr_pass *P = user;
    lr_thread *t = &P->th[thread];
    if (lr_features(P->l, P->margin, b, t)) {
        atomic_store(&P->oom, 1);
        return;
    }
    leap_model_lr.train_batch(P->l->lr, &t->fb, thread, t->sums);
}

/* Out-of-fold scores: row r's score from the ensemble fitted without r's
 * fold. */
typedef struct margin_pass {
    gbdt_model **fold; /* [K] */
    int K;
    double *margin; /* [rows] */
    atomic_int bad;
} margin_pass;

static void margin_batch(void *user, const leap_fbatch *b, int thread) {
    margin_pass *M = user;
    double *s = malloc(b->n_rows * sizeof *s);
    if (!s) {
        atomic_store(&M->bad, 1);
        return;
    }
    for (int k = 0; k < M->K; k++) {
        leap__gbdt_raw_batch(M->fold[k], b, s);
        for (size_t r = 0; r < b->n_rows; r++)
            if (gb_fold(&M->fold[k]->o, b->row0 + r, M->K) == k) M->margin[b->row0 + r] = s[r];
    }
    free(s);
}

/* Stacking (lr_stack_folds = K >= 2): K ensembles, each fitted with one fold
 * of the rows left out, score the rows of the fold they did not see; the LR
 * learns how much to trust that score next to the leaves and the original
 * features. In-sample scores would be optimistic (the trees fitted those
 * rows), so the LR would trust them too much; at prediction time the
 * ensemble fitted on every row gives the score. */
static int oof_margins(gblr_model *l, const leap_featurizer *fz, leap_fit_io *io, double **out,
                       leap_err *err) {
    int K = l->o.lr_stack_folds, rc = LEAP_OK;
    margin_pass M = {.K = K};
    M.fold = calloc((size_t)K, sizeof *M.fold);
    M.margin = calloc(io->n_rows ? io->n_rows : 1, sizeof *M.margin);
    if (!M.fold || !M.margin) {
        rc = leap_err_set(err, LEAP_ENOMEM, "gbdt_lr: out of memory");
        goto out;
    }
    for (int k = 0; k < K && !rc; k++) {
        if ((rc = leap__gbdt_alloc(&l->o.gb, fz, &M.fold[k], err))) break;
        rc = leap__gbdt_train_folds(M.fold[k], io, 1, l->o.lr_holdout, K, k, err);
    }
    if (!rc) rc = io->map(io, margin_batch, &M, err);
    if (!rc && atomic_load(&M.bad)) rc = leap_err_set(err, LEAP_ENOMEM, "gbdt_lr: out of memory");
out:
    if (M.fold)
        for (int k = 0; k < K; k++)
            leap__gbdt_free(M.fold[k]);
    free(M.fold);
    if (rc)
        free(M.margin);
    else
        *out = M.margin;
    return rc;
}

static int gblr_fit(leap_model *m, leap_fit_io *io, leap_err *err) {
    gblr_model *l = (gblr_model *)m;
    /* the trees; the trainer keeps its batches for the LR's passes */
    int rc = leap__gbdt_train(l->gb, io, 1, l->o.lr_holdout, err);
    if (rc) return rc;
    if (l->lr) leap_model_lr.destroy(l->lr);
    l->lr = NULL;
    double *margin = NULL;
    l->stacked = l->o.lr_stack_folds >= 2;
    if (l->stacked && (rc = oof_margins(l, l->fz, io, &margin, err))) return rc;
    if ((rc = lr_make(l, 1, NULL, 0, err))) {
        free(margin);
        return rc;
    }
    lr_pass P = {.l = l, .margin = margin};
    P.th = calloc((size_t)io->threads, sizeof *P.th);
    leap_state_seg segs[LEAP_MAX_STATE_SEGS];
    size_t n_segs = leap_model_lr.state(l->lr, segs);
    int mpi = leap_comm_size(io->comm) > 1;
    float *base = NULL, *delta = NULL;
    if (mpi && n_segs == 1) {
        base = malloc(segs[0].n * sizeof *base);
        delta = malloc(segs[0].n * sizeof *delta);
        if (base) memcpy(base, segs[0].p, segs[0].n * sizeof *base);
    }
    if (!P.th || (mpi && (!base || !delta))) {
        rc = leap_err_set(err, LEAP_ENOMEM, "gbdt_lr: out of memory");
        goto out;
    }
    double t0 = leap_now();
    for (int ep = 0; ep < l->o.lr_epochs; ep++) {
        for (int t = 0; t < io->threads; t++)
            P.th[t].sums[0] = P.th[t].sums[1] = 0;
        if ((rc = io->map(io, lr_batch, &P, err))) goto out;
        if (atomic_load(&P.oom)) {
            rc = leap_err_set(err, LEAP_ENOMEM, "gbdt_lr: out of memory for LR batches");
            goto out;
        }
        if (mpi) { /* s = s0 + Σ_r (s_r - s0), as the trainer syncs FTRL */
            float *p = segs[0].p;
            for (size_t i = 0; i < segs[0].n; i++)
                delta[i] = p[i] - base[i];
            if ((rc = leap_comm_allreduce_sum_f32(io->comm, delta, segs[0].n, err))) goto out;
            for (size_t i = 0; i < segs[0].n; i++)
                base[i] = p[i] = base[i] + delta[i];
        }
        double s[2] = {0, 0};
        for (int t = 0; t < io->threads; t++) {
            s[0] += P.th[t].sums[0];
            s[1] += P.th[t].sums[1];
        }
        if ((rc = leap_comm_allreduce_sum_f64(io->comm, s, 2, err))) goto out;
        if (io->on_iter)
            io->on_iter(io, (int)l->gb->n_trees + ep + 1, s[1] > 0 ? s[0] / s[1] : NAN,
                        leap_now() - t0);
    }
    leap_model_lr.refresh(l->lr);
    shadow_build(l);
out:
    if (P.th)
        for (int t = 0; t < io->threads; t++) {
            free(P.th[t].fb.row_ptr);
            free(P.th[t].fb.label);
            free(P.th[t].fb.weight);
            free(P.th[t].fb.idx);
            free(P.th[t].fb.val);
            free(P.th[t].fb.field);
        }
    free(P.th);
    free(base);
    free(delta);
    free(margin);
    return rc;
}

/* ---- prediction: σ(bias + Σ_trees w[leaf] + Σ_raw w[raw_off + idx] x) ---------------------- */

#define GBLR_BLOCK 64

/* Σ_trees w[leaf] · lr_leaf_value of rows [0, n) of b in double, in tree order: the shadow's
 * raw scores, or the same sum by descending the nodes when it could not be built. */
static void leaf_terms(const gblr_model *l, const leap_fbatch *b, uint32_t *x, int fast,
                       double *out) {
    if (fast && l->shadow) {
        leap__gbdt_raw_batch(l->shadow, b, out);
        return;
    }
    const gbdt_model *g = l->gb;
    const float *w = ((const lr_model *)l->lr)->w;
    const float lv = (float)l->o.lr_leaf_value;
    for (size_t r = 0; r < b->n_rows; r++) {
        leap__gbdt_decode_row(g, b, r, x);
        double s = 0;
        for (uint32_t i = 0; i < g->n_trees; i++) {
            const gb_tree *T = &g->trees[i];
            s += (double)(w[gb_descend(g->nodes, g->cat_words, T->root, T->depth, x)] * lv);
        }
        out[r] = s;
    }
}

static void predict(const leap_model *m, const leap_fbatch *b, int fast, float *p) {
    const gblr_model *l = (const gblr_model *)m;
    const gbdt_model *g = l->gb;
    const lr_model *lr = (const lr_model *)l->lr;
    /* not GB_MAX_FEATURES on the stack: server threads' stacks are small */
    uint32_t xs[256], *x = g->F <= 256 ? xs : malloc((size_t)g->F * sizeof *x);
    if (!lr || !x) { /* not trained, or out of memory */
        for (size_t r = 0; r < b->n_rows; r++)
            p[r] = 0.5f;
        if (x != xs) free(x);
        return;
    }
    const float *w = lr->w;
    const uint32_t space = l->lrfz.n_buckets;
    double lt[GBLR_BLOCK], mg[GBLR_BLOCK];
    for (size_t r0 = 0; r0 < b->n_rows; r0 += GBLR_BLOCK) {
        size_t nr = b->n_rows - r0 < GBLR_BLOCK ? b->n_rows - r0 : GBLR_BLOCK;
        leap_fbatch sub = *b;
        sub.n_rows = nr;
        sub.row_ptr = b->row_ptr + r0;
        leaf_terms(l, &sub, x, fast, lt);
        if (l->stacked) leap__gbdt_raw_batch(g, &sub, mg); /* the trees' own score */
        for (size_t i = 0; i < nr; i++) {
            size_t r = r0 + i;
            float s = w[lr->D - 1] + (float)lt[i];
            if (l->o.lr_raw)
                for (uint32_t j = b->row_ptr[r]; j < b->row_ptr[r + 1]; j++)
                    if (b->idx[j] < space - l->raw_off) s += w[l->raw_off + b->idx[j]] * b->val[j];
            if (l->stacked) s += w[l->margin_idx] * (float)mg[i];
            p[r] = sigmoidf_clamped(s);
        }
    }
    if (x != xs) free(x);
}

static void gblr_predict_batch(const leap_model *m, const leap_fbatch *b, float *p) {
    predict(m, b, 1, p);
}

void leap__gblr_predict_ref(const leap_model *m, const leap_fbatch *b, float *p) {
    predict(m, b, 0, p);
}

static void gblr_refresh(leap_model *m) {
    gblr_model *l = (gblr_model *)m;
    if (l->lr) leap_model_lr.refresh(l->lr);
    shadow_build(l);
}

/* ---- payload ----------------------------------------------------------------------------
 * "GBLR" u32 version (3) u64 gbdt_len f64 leaf_value u32 flags (bit 0: stacked, the trees'
 * score is the LR's last feature), gbdt payload, lr payload. Version 2 (no flags) and version 1
 * (no leaf_value either; leaves entered the LR at 1) are still read. */

#define GBLR_VERSION 3

static int gblr_save(const leap_model *m, leap_buf *out, leap_err *err) {
    const gblr_model *l = (const gblr_model *)m;
    if (!l->lr) return leap_err_set(err, LEAP_EINVAL, "gbdt_lr: the model is not trained");
    leap_buf gb = {0};
    int rc = leap__gbdt_save(l->gb, &gb, err);
    if (rc) return rc;
    uint8_t head[28];
    uint64_t lv;
    memcpy(&lv, &l->o.lr_leaf_value, 8);
    memcpy(head, "GBLR", 4);
    leap_put_u32(head + 4, GBLR_VERSION);
    leap_put_u64(head + 8, gb.len);
    leap_put_u64(head + 16, lv);
    leap_put_u32(head + 24, l->stacked ? 1u : 0u);
    if (leap_buf_append(out, head, sizeof head) || leap_buf_append(out, gb.p, gb.len))
        rc = leap_err_set(err, LEAP_ENOMEM, "gbdt_lr: out of memory while saving");
    leap_buf_free(&gb);
    if (rc) return rc;
    return leap_model_lr.save(l->lr, out, err);
}

static int gblr_load(const void *opts, const leap_featurizer *fz, const uint8_t *buf, size_t len,
                     leap_model **out, leap_err *err) {
    if (len < 16 || memcmp(buf, "GBLR", 4))
        return leap_err_set(err, LEAP_ECORRUPT, "gbdt_lr payload: bad header");
    uint32_t ver = leap_get_u32(buf + 4);
    if (ver < 1 || ver > GBLR_VERSION)
        return leap_err_set(err, LEAP_EVERSION,
                            "gbdt_lr payload: version %u; this leap reads 1 to %d", ver,
                            GBLR_VERSION);
    size_t hl = ver == 1 ? 16 : (ver == 2 ? 24 : 28);
    if (len < hl) return leap_err_set(err, LEAP_ECORRUPT, "gbdt_lr payload: bad header");
    double lv = 1.0; /* version 1: leaves entered the LR at 1 */
    if (ver >= 2) {
        uint64_t u = leap_get_u64(buf + 16);
        memcpy(&lv, &u, 8);
        if (!(lv > 0 && lv <= 1))
            return leap_err_set(err, LEAP_ECORRUPT, "gbdt_lr payload: leaf value %g", lv);
    }
    uint32_t flags = ver >= 3 ? leap_get_u32(buf + 24) : 0;
    if (flags & ~1u)
        return leap_err_set(err, LEAP_ECORRUPT, "gbdt_lr payload: unknown flags 0x%x", flags);
    uint64_t gl = leap_get_u64(buf + 8);
    if (gl > len - hl) return leap_err_set(err, LEAP_ECORRUPT, "gbdt_lr payload: truncated");
    gblr_model *l = calloc(1, sizeof *l);
    if (!l) return leap_err_set(err, LEAP_ENOMEM, "gbdt_lr: out of memory");
    l->base.ops = &leap_model_gbdt_lr;
    l->o = *(const gblr_opts *)opts;
    l->o.lr_leaf_value = lv; /* the payload's, not the options' default */
    l->stacked = (int)(flags & 1u);
    size_t used = 0;
    int rc = leap__gbdt_parse(&l->o.gb, fz, buf + hl, (size_t)gl, &used, &l->gb, err);
    if (!rc && used != gl) rc = leap_err_set(err, LEAP_ECORRUPT, "gbdt_lr payload: tree size");
    if (!rc) rc = lr_make(l, 0, buf + hl + gl, len - hl - (size_t)gl, err);
    if (rc) {
        gblr_destroy(&l->base);
        return rc;
    }
    shadow_build(l);
    *out = &l->base;
    return LEAP_OK;
}

static void gblr_describe(const leap_model *m, const leap_featurizer *fz, FILE *f) {
    const gblr_model *l = (const gblr_model *)m;
    leap__gbdt_describe(l->gb, fz, f);
    if (!l->lr) return;
    const lr_model *lr = (const lr_model *)l->lr;
    size_t nz = 0;
    for (uint32_t i = 0; i < lr->D; i++)
        nz += lr->w[i] != 0;
    fprintf(f, "gbdt_lr.lr                   %u coordinates (%zu non-zero), leaves%s%s\n", lr->D,
            nz, l->o.lr_raw ? " + original features" : "", l->stacked ? " + the trees' score" : "");
    if (l->stacked) fprintf(f, "gbdt_lr.score_weight         %.6g\n", (double)lr->w[l->margin_idx]);
}

static void gblr_train_batch(leap_model *m, const leap_fbatch *b, int thread, double sums[2]) {}

const leap_model_ops leap_model_gbdt_lr = {
    .name = "gbdt_lr",
    .help = "trees + LR (He et al. 2014): GBDT leaves as features of an FTRL LR",
    .needs_bins = 1,
    .opts = &gblr_table,
    .opts_size = sizeof(gblr_opts),
    .create = gblr_create,
    .destroy = gblr_destroy,
    .train_batch = gblr_train_batch,
    .predict_batch = gblr_predict_batch,
    .refresh = gblr_refresh,
    .fit = gblr_fit,
    .save = gblr_save,
    .load = gblr_load,
    .describe = gblr_describe,
};
