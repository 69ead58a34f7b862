/* lr.c — logistic regression on hashed sparse features.
 *
 * Two optimizers:
 *  - FTRL-Proximal (McMahan et al., "Ad Click Prediction: a View from the
 *    Trenches", KDD 2013, Algorithm 1): per-coordinate learning rates
 *    alpha / (beta + sqrt(n_i)), L1 and L2. State z[D], n[D]; the weights
 *    w[D] are derived from them (lazily per row in training, all at once by
 *    refresh() for prediction and saving).
 *  - AdaGrad-SGD: w_i -= lr * (g_i + weight_decay * w_i) / sqrt(G_i), G_i = Σ g_i².
 *    l1 and l2 (defined on the summed loss, as FTRL uses them) are FTRL's;
 *    AdaGrad regularises by per-update weight_decay.
 * D = 2^hash_bits + 1: the last coordinate is the bias, never regularised.
 *
 * Threads update the shared arrays without locks (Hogwild, Recht et al. 2011):
 * with hashed sparse rows two threads rarely touch the same coordinate at the
 * same time, and a lost update on a hot coordinate is one of millions; locking
 * or sharding by coordinate would cost more than it saves. --threads 1 is
 * exactly sequential FTRL and therefore deterministic.
 *
 * The bundle stores only w (the prediction weights); resuming FTRL from a
 * bundle is not supported.
 */
#include "lr_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const leap_opt_def lr_defs[] = {
    {"optimizer", LEAP_OPT_ENUM, offsetof(lr_opts, optimizer), 0, 0, 2, "ftrl|adagrad|lbfgs",
     "FTRL-Proximal, AdaGrad-SGD (online) or L-BFGS (batch)"},
    {"alpha", LEAP_OPT_FLOAT, offsetof(lr_opts, alpha), 0.05, 1e-6, 100, NULL,
     "FTRL learning-rate scale"},
    {"beta", LEAP_OPT_FLOAT, offsetof(lr_opts, beta), 1.0, 0, 1e6, NULL,
     "FTRL learning-rate smoothing"},
    {"l1", LEAP_OPT_FLOAT, offsetof(lr_opts, l1), 0.5, 0, 1e6, NULL,
     "L1 strength (FTRL; on summed gradients)"},
    {"l2", LEAP_OPT_FLOAT, offsetof(lr_opts, l2), 1.0, 0, 1e6, NULL,
     "L2 strength on the summed loss (FTRL, L-BFGS; sklearn C = 1/l2)"},
    {"lr", LEAP_OPT_FLOAT, offsetof(lr_opts, lr), 0.05, 1e-6, 100, NULL, "AdaGrad learning rate"},
    {"weight_decay", LEAP_OPT_FLOAT, offsetof(lr_opts, weight_decay), 0, 0, 1, NULL,
     "AdaGrad per-update L2 decay of touched weights"},
    {"max_iter", LEAP_OPT_INT, offsetof(lr_opts, max_iter), 100, 1, 100000, NULL,
     "L-BFGS iterations at most"},
    {"tol", LEAP_OPT_FLOAT, offsetof(lr_opts, tol), 1e-8, 0, 1, NULL,
     "L-BFGS stops when the objective improves by less than tol (relative)"},
};
static const leap_opt_table lr_table = {"model lr", lr_defs, sizeof lr_defs / sizeof lr_defs[0]};

static void lr_destroy(leap_model *m) {
    lr_model *l = (lr_model *)m;
    if (!l) return;
    leap_table_free(l->zn, 2 * (size_t)l->D, sizeof *l->zn);
    leap_table_free(l->g2, l->D, sizeof *l->g2);
    leap_table_free(l->w, l->D, sizeof *l->w);
    free(l);
}

static int lr_alloc(const void *opts, const leap_featurizer *fz, int train, lr_model **out,
                    leap_err *err) {
    lr_model *l = calloc(1, sizeof *l);
    if (!l) return leap_err_set(err, LEAP_ENOMEM, "lr: out of memory");
    extern const leap_model_ops leap_model_lr;
    l->base.ops = &leap_model_lr;
    l->o = *(const lr_opts *)opts;
    l->D = fz->n_buckets + 1;
    l->w = leap_table_alloc(l->D, sizeof *l->w);
    int ok = l->w != NULL;
    if (train && l->o.optimizer == LR_FTRL) {
        l->zn = leap_table_alloc(2 * (size_t)l->D, sizeof *l->zn);
        ok = ok && l->zn;
    } else if (train && l->o.optimizer == LR_ADAGRAD) {
        l->g2 = leap_table_alloc(l->D, sizeof *l->g2);
        ok = ok && l->g2;
    }
    if (!ok) {
        lr_destroy(&l->base);
        return leap_err_set(err, LEAP_ENOMEM, "lr: out of memory for %u weights", l->D);
    }
    *out = l;
    return LEAP_OK;
}

static int lr_create(const void *opts, const leap_featurizer *fz, leap_model **out, leap_err *err) {
    lr_model *l = NULL;
    int rc = lr_alloc(opts, fz, 1, &l, err);
    if (rc) return rc;
    *out = &l->base;
    return LEAP_OK;
}

/* FTRL weight of coordinate i from (z, n). reg = 0 for the bias. */
static inline float ftrl_w(float z, float n, float alpha, float beta, float l1, float l2) {
    if (fabsf(z) <= l1) return 0.f;
    float s = z > 0 ? l1 : -l1;
    return -(z - s) / ((beta + sqrtf(n)) / alpha + l2);
}

#define LR_PREFETCH 48  /* lookups ahead */
#define LR_LOCAL    256 /* features of a row handled in one block on the stack */

/* One FTRL step for features [a, e) of a row whose coordinates are all in one
 * block: gather (z, n), compute weights, and return the partial dot product.
 * Split in phases so the arithmetic loops vectorise (no gathers inside). */
typedef struct ftrl_block {
    float z[LR_LOCAL], n[LR_LOCAL], sq[LR_LOCAL], w[LR_LOCAL];
} ftrl_block;

static void lr_train_ftrl(lr_model *l, const leap_fbatch *b, double sums[2]) {
    const float alpha = (float)l->o.alpha, beta = (float)l->o.beta;
    const float l1 = (float)l->o.l1, l2 = (float)l->o.l2;
    const float inv_alpha = 1.0f / alpha;
    const uint32_t bias = l->D - 1;
    float *zn = l->zn;
    ftrl_block B;
    double loss = 0, wsum = 0;
    for (size_t r = 0; r < b->n_rows; r++) {
        uint32_t a = b->row_ptr[r], e = b->row_ptr[r + 1];
        /* The state of the next row's coordinates is fetched while this row
         * computes: rows touch random cache lines of a large table. */
        if (r + 1 < b->n_rows)
            for (uint32_t k = e; k < b->row_ptr[r + 2]; k++)
                __builtin_prefetch(&zn[2 * (size_t)b->idx[k]], 1, 1);
        float wb = ftrl_w(zn[2 * bias], zn[2 * bias + 1], alpha, beta, 0.f, 0.f);
        float s = wb;
        /* Rows longer than a block (many multi-valued features) fall back to
         * the coordinate-at-a-time path below. */
        int blocked = e - a <= LR_LOCAL;
        if (blocked) {
            uint32_t m = e - a;
            const uint32_t *ix = b->idx + a;
            const float *xv = b->val + a;
            for (uint32_t j = 0; j < m; j++) {
                B.z[j] = zn[2 * (size_t)ix[j]];
                B.n[j] = zn[2 * (size_t)ix[j] + 1];
            }
            for (uint32_t j = 0; j < m; j++) {
                float z = B.z[j], sq = sqrtf(B.n[j]);
                float sz = z > 0 ? l1 : -l1;
                float w = -(z - sz) / ((beta + sq) * inv_alpha + l2);
                B.sq[j] = sq;
                B.w[j] = fabsf(z) <= l1 ? 0.f : w;
            }
            for (uint32_t j = 0; j < m; j++)
                s += B.w[j] * xv[j];
        } else {
            for (uint32_t k = a; k < e; k++) {
                const float *zi = &zn[2 * (size_t)b->idx[k]];
                s += ftrl_w(zi[0], zi[1], alpha, beta, l1, l2) * b->val[k];
            }
        }
        float p = sigmoidf_clamped(s), y = b->label[r], wt = b->weight[r];
        loss += wt * logloss1(p, y);
        wsum += wt;
        float g = (p - y) * wt;
        {
            float *zi = &zn[2 * bias];
            float ni = zi[1];
            float sigma = (sqrtf(ni + g * g) - sqrtf(ni)) * inv_alpha;
            zi[0] += g - sigma * wb;
            zi[1] = ni + g * g;
        }
        if (blocked) {
            uint32_t m = e - a;
            const uint32_t *ix = b->idx + a;
            const float *xv = b->val + a;
            for (uint32_t j = 0; j < m; j++) {
                float gi = g * xv[j], nn = B.n[j] + gi * gi;
                float sigma = (sqrtf(nn) - B.sq[j]) * inv_alpha;
                B.z[j] += gi - sigma * B.w[j];
                B.n[j] = nn;
            }
            /* Scatter in order: a coordinate hashed twice in one row keeps the
             * later update (rare; the gradient of a row is applied once). */
            for (uint32_t j = 0; j < m; j++) {
                zn[2 * (size_t)ix[j]] = B.z[j];
                zn[2 * (size_t)ix[j] + 1] = B.n[j];
            }
        } else {
            for (uint32_t k = a; k < e; k++) {
                float *zi = &zn[2 * (size_t)b->idx[k]];
                float wi = ftrl_w(zi[0], zi[1], alpha, beta, l1, l2);
                float gi = g * b->val[k], ni = zi[1];
                float sigma = (sqrtf(ni + gi * gi) - sqrtf(ni)) * inv_alpha;
                zi[0] += gi - sigma * wi;
                zi[1] = ni + gi * gi;
            }
        }
    }
    sums[0] += loss;
    sums[1] += wsum;
}

static void lr_train_adagrad(lr_model *l, const leap_fbatch *b, double sums[2]) {
    const float lr = (float)l->o.lr, wd = (float)l->o.weight_decay;
    const uint32_t bias = l->D - 1;
    float *w = l->w, *g2 = l->g2;
    double loss = 0, wsum = 0;
    for (size_t r = 0; r < b->n_rows; r++) {
        uint32_t a = b->row_ptr[r], e = b->row_ptr[r + 1];
        float s = w[bias];
        for (uint32_t k = a; k < e; k++)
            s += w[b->idx[k]] * b->val[k];
        float p = sigmoidf_clamped(s), y = b->label[r], wt = b->weight[r];
        loss += wt * logloss1(p, y);
        wsum += wt;
        float g = (p - y) * wt;
        g2[bias] += g * g;
        w[bias] -= lr * g / sqrtf(g2[bias] + 1e-8f);
        for (uint32_t k = a; k < e; k++) {
            uint32_t i = b->idx[k];
            float gi = g * b->val[k] + wd * w[i];
            g2[i] += gi * gi;
            w[i] -= lr * gi / sqrtf(g2[i] + 1e-8f);
        }
    }
    sums[0] += loss;
    sums[1] += wsum;
}

static void lr_train_batch(leap_model *m, const leap_fbatch *b, int thread, double sums[2]) {
    lr_model *l = (lr_model *)m;
    if (l->o.optimizer == LR_FTRL)
        lr_train_ftrl(l, b, sums);
    else if (l->o.optimizer == LR_ADAGRAD)
        lr_train_adagrad(l, b, sums);
    /* L-BFGS trains in fit(); batches never reach here */
}

static void lr_predict_batch(const leap_model *m, const leap_fbatch *b, float *p) {
    const lr_model *l = (const lr_model *)m;
    const float *w = l->w;
    const float wb = w[l->D - 1];
    const uint32_t *idx = b->idx;
    const uint32_t end = b->n_rows ? b->row_ptr[b->n_rows] : 0;
    /* The weights of a row are random lines of a table far larger than the
     * caches: prefetching LR_PREFETCH entries ahead keeps that many misses
     * in flight instead of a few (a 100-candidate :rank: 3,900 lookups). */
    for (size_t r = 0; r < b->n_rows; r++) {
        float s = wb;
        for (uint32_t k = b->row_ptr[r]; k < b->row_ptr[r + 1]; k++) {
            if (k + LR_PREFETCH < end) __builtin_prefetch(&w[idx[k + LR_PREFETCH]]);
            s += w[idx[k]] * b->val[k];
        }
        p[r] = sigmoidf_clamped(s);
    }
}

static void lr_refresh(leap_model *m) {
    lr_model *l = (lr_model *)m;
    if (!l->zn) return; /* AdaGrad trains w directly */
    const float alpha = (float)l->o.alpha, beta = (float)l->o.beta;
    const float l1 = (float)l->o.l1, l2 = (float)l->o.l2;
    const float *zn = l->zn;
    for (uint32_t i = 0; i + 1 < l->D; i++)
        l->w[i] = ftrl_w(zn[2 * i], zn[2 * i + 1], alpha, beta, l1, l2);
    uint32_t bias = l->D - 1;
    l->w[bias] = ftrl_w(zn[2 * bias], zn[2 * bias + 1], alpha, beta, 0.f, 0.f);
}

static size_t lr_state(leap_model *m, leap_state_seg *segs) {
    lr_model *l = (lr_model *)m;
    if (l->zn) {
        segs[0] = (leap_state_seg){"zn", l->zn, 2 * (size_t)l->D, LEAP_SYNC_SUM_DELTA};
        return 1;
    }
    if (l->g2) {
        segs[0] = (leap_state_seg){"w", l->w, l->D, LEAP_SYNC_SUM_DELTA};
        segs[1] = (leap_state_seg){"g2", l->g2, l->D, LEAP_SYNC_SUM_DELTA};
        return 2;
    }
    return 0;
}

/* Payload: u32 D, then w[D] as little-endian float32. */
static int lr_save(const leap_model *m, leap_buf *out, leap_err *err) {
    const lr_model *l = (const lr_model *)m;
    uint32_t D = l->D;
    if (leap_buf_append(out, &D, sizeof D) || leap_buf_append(out, l->w, (size_t)D * sizeof(float)))
        return leap_err_set(err, LEAP_ENOMEM, "lr: out of memory while saving");
    return LEAP_OK;
}

static int lr_load(const void *opts, const leap_featurizer *fz, const uint8_t *buf, size_t len,
                   leap_model **out, leap_err *err) {
    uint32_t D;
    if (len < sizeof D) return leap_err_set(err, LEAP_ECORRUPT, "lr payload: too short");
    memcpy(&D, buf, sizeof D);
    if (D != fz->n_buckets + 1 || len != sizeof D + (size_t)D * sizeof(float))
        return leap_err_set(
            err, LEAP_ECORRUPT,
            "lr payload: %zu bytes for %u weights does not match 2^hash_bits + 1 = %u", len, D,
            fz->n_buckets + 1);
    lr_model *l = NULL;
    int rc = lr_alloc(opts, fz, 0, &l, err);
    if (rc) return rc;
    memcpy(l->w, buf + sizeof D, (size_t)D * sizeof(float));
    for (uint32_t i = 0; i < D; i++)
        if (!isfinite(l->w[i])) {
            lr_destroy(&l->base);
            return leap_err_set(err, LEAP_ECORRUPT, "lr payload: weight %u is not finite", i);
        }
    *out = &l->base;
    return LEAP_OK;
}

const leap_model_ops leap_model_lr = {
    .name = "lr",
    .help = "logistic regression, FTRL-Proximal or AdaGrad, on hashed features",
    .opts = &lr_table,
    .opts_size = sizeof(lr_opts),
    .create = lr_create,
    .destroy = lr_destroy,
    .train_batch = lr_train_batch,
    .predict_batch = lr_predict_batch,
    .state = lr_state,
    .refresh = lr_refresh,
    .fit = leap__lr_fit,
    .save = lr_save,
    .load = lr_load,
};
