/* deep_net.c — the embedding network (see models/deep.h): lays out the tables
 * and the dense parameter buffer for an architecture and a featurizer, owns
 * the per-block workspaces, and runs forward and backward over a block of
 * rows as a composition of src/nn/ layers. Nothing here allocates after
 * deep_net_init / deep_ws_init, locks or knows about threads. */
#include "models/deep.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- layout ---------------------------------------------------------------- */

static int add_param(deep_net *N, const char *name, int i, int rows, int cols, int init, int fan,
                     size_t *off, leap_err *err) {
    if (N->n_params == N->cap_params) {
        size_t cap = N->cap_params ? 2 * N->cap_params : 16;
        deep_param *p = realloc(N->params, cap * sizeof *p);
        if (!p) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
        N->params = p;
        N->cap_params = cap;
    }
    deep_param *p = &N->params[N->n_params++];
    if (i >= 0)
        snprintf(p->name, sizeof p->name, "%s.%d", name, i);
    else
        snprintf(p->name, sizeof p->name, "%s", name);
    p->off = N->n_dense;
    p->rows = rows;
    p->cols = cols;
    p->init = init;
    p->fan = fan;
    *off = N->n_dense;
    N->n_dense += (size_t)rows * (size_t)cols;
    return LEAP_OK;
}

static int add_mlp(deep_net *N, deep_mlp *M, const char *name, int in, const int *w, int n,
                   leap_err *err) {
    M->n = n;
    M->in = in;
    char nm[16];
    int rc = LEAP_OK;
    for (int i = 0; i < n && !rc; i++) {
        M->w[i] = w[i];
        int fan = i ? w[i - 1] : in;
        snprintf(nm, sizeof nm, "%s.W", name);
        rc = add_param(N, nm, i, fan, w[i], DEEP_INIT_UNIFORM, fan, &M->W[i], err);
        snprintf(nm, sizeof nm, "%s.b", name);
        if (!rc) rc = add_param(N, nm, i, 1, w[i], DEEP_INIT_UNIFORM, fan, &M->b[i], err);
        if (!rc && N->a.layer_norm) {
            snprintf(nm, sizeof nm, "%s.ln_g", name);
            rc = add_param(N, nm, i, 1, w[i], DEEP_INIT_ONE, 0, &M->g[i], err);
            snprintf(nm, sizeof nm, "%s.ln_b", name);
            if (!rc) rc = add_param(N, nm, i, 1, w[i], DEEP_INIT_ZERO, 0, &M->be[i], err);
        }
    }
    return rc;
}

static int field_dim(const deep_arch *a, const leap_fz_field *f) {
    for (int i = 0; i < a->n_field_dims; i++)
        if (!strcmp(a->field_dims[i].name, f->name)) return a->field_dims[i].dim;
    return f->embedding_dim ? f->embedding_dim : a->embedding_dim;
}

int deep_net_layout(deep_net *N, const deep_arch *a, const leap_featurizer *fz, leap_err *err) {
    memset(N, 0, sizeof *N);
    N->a = *a;
    int rc = LEAP_OK;
    if (fz->n_fields == 0) return leap_err_set(err, LEAP_EINVAL, "the featurizer has no fields");
    if (fz->n_fields > 65535)
        return leap_err_set(err, LEAP_EINVAL, "%zu fields: at most 65535", fz->n_fields);
    if (a->embedding_dim < 1 || a->embedding_dim > DEEP_MAX_DIM)
        return leap_err_set(err, LEAP_EINVAL, "embedding_dim %d is not in [1, %d]",
                            a->embedding_dim, DEEP_MAX_DIM);
    if (a->ffm && (a->fm || a->n_mlp || a->cross_layers || a->interaction))
        return leap_err_set(err, LEAP_EINVAL,
                            "architecture: ffm combines only with wide (its field-aware vectors "
                            "are n_fields times wider than an embedding)");
    if (a->interaction == DEEP_INTER_DOT && a->cross_layers)
        return leap_err_set(err, LEAP_EINVAL,
                            "architecture: a dot interaction and cross layers both feed the top "
                            "MLP; choose one");
    N->hashed = fz->fields[0].kind == LEAP_FZ_KIND_HASHED;
    if (N->hashed && a->n_field_dims)
        return leap_err_set(err, LEAP_EINVAL,
                            "architecture: per-field embedding dims need a transform spec "
                            "(hashed fields share one table of one width)");
    for (int i = 0; i < a->n_field_dims; i++) {
        size_t f = 0;
        while (f < fz->n_fields && strcmp(fz->fields[f].name, a->field_dims[i].name))
            f++;
        if (f == fz->n_fields)
            return leap_err_set(err, LEAP_EINVAL, "architecture: fields: no feature named '%s'",
                                a->field_dims[i].name);
    }
    N->n_fields = fz->n_fields;
    N->ef = calloc(fz->n_fields, sizeof *N->ef);
    N->row_field_lo = calloc(fz->n_fields, sizeof *N->row_field_lo);
    if (!N->ef || !N->row_field_lo) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    /* vectors: which fields have one, and how wide (none when no layer reads them) */
    int uses_vec = a->fm || a->ffm || a->n_mlp || a->cross_layers || a->interaction;
    int n_vec = 0, vdim = -1;
    for (size_t f = 0; f < fz->n_fields; f++) {
        const leap_fz_field *F = &fz->fields[f];
        if (!uses_vec || (F->kind == LEAP_FZ_KIND_DENSE && !a->dense_embed)) continue;
        int d = field_dim(a, F);
        n_vec++;
        vdim = vdim < 0 ? d : vdim == d ? d : 0;
    }
    N->n_vec = n_vec;
    N->vec_dim = vdim > 0 ? vdim : 0;
    if (a->ffm && !N->vec_dim)
        return leap_err_set(err, LEAP_EINVAL,
                            "architecture: ffm needs one embedding dim for "
                            "every field");
    if (a->ffm && (size_t)n_vec * N->vec_dim > 65535)
        return leap_err_set(err, LEAP_EINVAL, "ffm: %d fields x %d is too wide", n_vec, N->vec_dim);
    for (size_t f = 0; f < fz->n_fields; f++) {
        const leap_fz_field *F = &fz->fields[f];
        nn_emb_field *e = &N->ef[f];
        e->dcol = -1;
        e->col = -1;
        int d;
        if (F->kind == LEAP_FZ_KIND_DENSE && !a->dense_embed) {
            d = 0;
            e->dcol = N->n_dense_in; /* placed after the vectors below */
            N->n_dense_in += 2;
        } else if (!uses_vec) {
            d = 0;
        } else {
            d = a->ffm ? n_vec * N->vec_dim : field_dim(a, F);
            e->col = N->emb_width;
            N->emb_width += d;
        }
        e->dim = (uint16_t)d;
        e->stride = (uint16_t)(d + (a->wide ? 1 : 0));
        if (e->stride > N->max_stride) N->max_stride = e->stride;
        N->row_field_lo[f] = F->offset;
        if (N->hashed) {
            e->base = 0;
            e->rbase = 0;
            e->offset = 0;
            e->rows = fz->n_buckets;
        } else {
            e->base = N->n_emb;
            e->rbase = N->n_emb_rows;
            e->offset = F->offset;
            e->rows = F->card;
            N->n_emb += (size_t)F->card * e->stride;
            N->n_emb_rows += F->card;
        }
    }
    for (size_t f = 0; f < fz->n_fields; f++)
        if (N->ef[f].dcol >= 0) N->ef[f].dcol += N->emb_width;
    if (N->hashed) {
        /* one table; every field has the same stride (no DENSE fields here) */
        N->n_emb = (size_t)fz->n_buckets * N->max_stride;
        N->n_emb_rows = fz->n_buckets;
    }
    N->lay.n_fields = N->n_fields;
    N->lay.f = N->ef;
    N->lay.wide = a->wide;
    N->D0 = N->emb_width + N->n_dense_in;
    int d = N->vec_dim;
    if ((a->fm || a->interaction == DEEP_INTER_DOT) && !d)
        return leap_err_set(err, LEAP_EINVAL,
                            "architecture: %s needs one embedding dim for every field (a field "
                            "hint or 'fields:' entry differs)",
                            a->fm ? "fm" : "the dot interaction");
    if (a->fm && n_vec < 2)
        return leap_err_set(err, LEAP_EINVAL,
                            "architecture: fm needs at least two embedded "
                            "fields");
    if (a->cross_layers && (a->cross_rank < 0 || a->cross_rank >= N->D0))
        return leap_err_set(err, LEAP_EINVAL,
                            "architecture: cross rank %d is not below the input width %d",
                            a->cross_rank, N->D0);
    /* dense parameters */
    if ((rc = add_param(N, "bias", -1, 1, 1, DEEP_INIT_ZERO, 0, &N->off_bias, err))) return rc;
    if (a->pair_gate) {
        size_t off_loss;
        if (!a->wide)
            return leap_err_set(err, LEAP_EINVAL,
                                "architecture: pair_gate needs the first-order part (wide)");
        if ((rc = add_param(N, "gate", -1, 1, 1, DEEP_INIT_ONE, 0, &N->off_gate, err)) ||
            (rc = add_param(N, "gate_stats", -1, 1, 2 * DEEP_GATES, DEEP_INIT_ZERO, 0, &off_loss,
                            err)))
            return rc;
    }
    int hw = 0; /* width of what the output layer reads */
    if (a->interaction == DEEP_INTER_DOT) {
        int hb = N->n_dense_in > 0;
        if (hb) {
            int w[DEEP_MAX_LAYERS + 1];
            if (a->n_bottom >= DEEP_MAX_LAYERS)
                return leap_err_set(err, LEAP_EINVAL, "bottom_mlp: at most %d layers",
                                    DEEP_MAX_LAYERS - 1);
            memcpy(w, a->bottom, (size_t)a->n_bottom * sizeof *w);
            w[a->n_bottom] = d;
            if ((rc = add_mlp(N, &N->bot, "bottom", N->n_dense_in, w, a->n_bottom + 1, err)))
                return rc;
        }
        N->n_dotvec = n_vec + hb;
        if (N->n_dotvec < 2)
            return leap_err_set(err, LEAP_EINVAL,
                                "architecture: the dot interaction needs at "
                                "least two vectors");
        N->n_pairs = N->n_dotvec * (N->n_dotvec - 1) / 2;
        N->top_in = (hb ? d : 0) + N->n_pairs;
        if ((rc = add_mlp(N, &N->top, "mlp", N->top_in, a->mlp, a->n_mlp, err))) return rc;
        hw = a->n_mlp ? a->mlp[a->n_mlp - 1] : N->top_in;
        N->tower = 1;
    } else {
        if (a->cross_layers > DEEP_MAX_LAYERS)
            return leap_err_set(err, LEAP_EINVAL, "at most %d cross layers", DEEP_MAX_LAYERS);
        for (int l = 0; l < a->cross_layers; l++) {
            int D = N->D0, r = a->cross_rank;
            size_t uoff;
            if (r) { /* V[D][r] then U[r][D], one block */
                if ((rc = add_param(N, "cross.V", l, D, r, DEEP_INIT_UNIFORM, D, &N->cW[l], err)) ||
                    (rc = add_param(N, "cross.U", l, r, D, DEEP_INIT_UNIFORM, r, &uoff, err)))
                    return rc;
            } else if ((rc = add_param(N, "cross.W", l, D, D, DEEP_INIT_UNIFORM, D, &N->cW[l],
                                       err))) {
                return rc;
            }
            if ((rc = add_param(N, "cross.b", l, 1, D, DEEP_INIT_ZERO, 0, &N->cb[l], err)))
                return rc;
        }
        if ((rc = add_mlp(N, &N->top, "mlp", N->D0, a->mlp, a->n_mlp, err))) return rc;
        int last = a->n_mlp ? a->mlp[a->n_mlp - 1] : 0;
        if (a->cross_layers && a->cross_parallel && a->n_mlp)
            hw = N->D0 + last, N->top_in = hw;
        else if (a->n_mlp)
            hw = last;
        else
            hw = N->D0;
        N->tower = a->cross_layers > 0 || a->n_mlp > 0;
    }
    if (N->tower) {
        N->out_in = hw;
        if ((rc = add_param(N, "out.W", -1, hw, 1, DEEP_INIT_UNIFORM, hw, &N->out_W, err)))
            return rc;
    }
    if (!a->wide && !a->fm && !a->ffm && !N->tower)
        return leap_err_set(err, LEAP_EINVAL,
                            "architecture: nothing computes a score (no wide, fm, ffm, cross, "
                            "mlp or interaction)");
    return LEAP_OK;
}

int deep_net_alloc(deep_net *N, leap_err *err) {
    N->dense = leap_table_alloc(N->n_dense, sizeof *N->dense);
    N->emb = leap_table_alloc(N->n_emb, sizeof *N->emb);
    if (!N->dense || !N->emb)
        return leap_err_set(err, LEAP_ENOMEM,
                            "out of memory for %zu embedding values (%.1f MB; lower hash_bits "
                            "or embedding_dim)",
                            N->n_emb, (double)N->n_emb * 4 / 1e6);
    return LEAP_OK;
}

int deep_net_init(deep_net *N, const deep_arch *a, const leap_featurizer *fz, leap_err *err) {
    int rc = deep_net_layout(N, a, fz, err);
    return rc ? rc : deep_net_alloc(N, err);
}

void deep_net_free(deep_net *N) {
    free(N->ef);
    free(N->row_field_lo);
    free(N->params);
    leap_table_free(N->dense, N->n_dense, sizeof *N->dense);
    leap_table_free(N->emb, N->n_emb, sizeof *N->emb);
    free(N->infer);
    free(N->infer_h);
    free(N->infer_q);
    free(N->infer_s);
    memset(N, 0, sizeof *N);
}

int deep_key_field(const deep_net *N, uint32_t key) {
    if (N->hashed) {
        for (size_t f = 0; f < N->n_fields; f++)
            if (N->ef[f].stride) return (int)f;
        return -1;
    }
    size_t lo = 0, hi = N->n_fields; /* last field with row_field_lo <= key */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (N->row_field_lo[mid] <= key)
            lo = mid;
        else
            hi = mid;
    }
    const nn_emb_field *e = &N->ef[lo];
    if (key < e->offset || key - e->offset >= e->rows || !e->stride) return -1;
    return (int)lo;
}

void deep_net_init_params(deep_net *N, uint64_t seed, float init_scale) {
    uint64_t sd = leap_mix64(seed, 1), se = leap_mix64(seed, 2);
    for (size_t i = 0; i < N->n_params; i++) {
        const deep_param *p = &N->params[i];
        size_t n = (size_t)p->rows * p->cols;
        float *x = N->dense + p->off;
        /* torch.nn.Linear's default: U(±1/sqrt(fan in)) for W and b */
        float a = p->fan > 0 ? 1.f / sqrtf((float)p->fan) : 0.f;
        for (size_t k = 0; k < n; k++)
            x[k] = p->init == DEEP_INIT_ONE       ? 1.f
                   : p->init == DEEP_INIT_UNIFORM ? nn_uniform(sd, p->off + k, a)
                                                  : 0.f;
    }
    /* embeddings U(±a), first-order weights 0; a pure function of (seed, float index) */
    float *T = N->emb;
    if (N->hashed) {
        int st = N->max_stride, dim = st - (N->a.wide ? 1 : 0);
        for (size_t r = 0; r < N->n_emb_rows; r++) {
            float *row = T + r * (size_t)st;
            for (int j = 0; j < dim; j++)
                row[j] = nn_uniform(se, r * (size_t)st + j, init_scale);
            if (N->a.wide) row[dim] = 0.f;
        }
        return;
    }
    for (size_t f = 0; f < N->n_fields; f++) {
        const nn_emb_field *e = &N->ef[f];
        for (uint32_t r = 0; r < e->rows; r++) {
            float *row = T + e->base + (size_t)r * e->stride;
            for (int j = 0; j < e->dim; j++)
                row[j] = nn_uniform(se, e->base + (size_t)r * e->stride + j, init_scale);
            if (N->a.wide) row[e->dim] = 0.f;
        }
    }
}

/* ---- workspaces ---------------------------------------------------------------- */

static int max_width(const deep_net *N) {
    int m = N->D0 > N->top_in ? N->D0 : N->top_in;
    if (N->out_in > m) m = N->out_in;
    for (int i = 0; i < N->top.n; i++)
        if (N->top.w[i] > m) m = N->top.w[i];
    for (int i = 0; i < N->bot.n; i++)
        if (N->bot.w[i] > m) m = N->bot.w[i];
    return m > 1 ? m : 1;
}

/* Assigns W's pointers from base (NULL: only counts); returns floats used. */
static size_t ws_layout(deep_ws *W, const deep_net *N, int cap, int train, float *base) {
    size_t off = 0;
#define TAKE(ptr, count)                                                                           \
    do {                                                                                           \
        (ptr) = base ? base + off : NULL;                                                          \
        off += ((size_t)(count) + 15) & ~(size_t)15;                                               \
    } while (0)
    size_t c = (size_t)cap;
    const deep_arch *a = &N->a;
    TAKE(W->x0, c * N->D0);
    TAKE(W->wide, c);
    TAKE(W->logit, c);
    TAKE(W->p, c);
    TAKE(W->dz, c);
    if (a->pair_gate) {
        TAKE(W->lin, c);
        TAKE(W->inter, c);
        TAKE(W->dzw, c);
    } else {
        W->dzw = W->dz;
    }
    if (a->fm) {
        TAKE(W->fm_s, c * N->vec_dim);
        TAKE(W->fm_v, c);
    }
    if (a->ffm) TAKE(W->ffm_v, c);
    for (int i = 0; i < N->bot.n; i++) {
        TAKE(W->bot_z[i], c * N->bot.w[i]);
        if (a->layer_norm) {
            TAKE(W->bot_a[i], c * N->bot.w[i]);
            TAKE(W->bot_mu[i], c);
            TAKE(W->bot_rs[i], c);
        } else {
            W->bot_a[i] = W->bot_z[i];
        }
    }
    for (int i = 0; i < N->top.n; i++) {
        TAKE(W->top_z[i], c * N->top.w[i]);
        if (a->layer_norm) {
            TAKE(W->top_a[i], c * N->top.w[i]);
            TAKE(W->top_mu[i], c);
            TAKE(W->top_rs[i], c);
        } else {
            W->top_a[i] = W->top_z[i];
        }
    }
    if (N->n_dotvec) TAKE(W->dotT, c * N->n_dotvec * N->vec_dim);
    if (N->top_in) TAKE(W->top, c * N->top_in);
    W->cx[0] = W->x0;
    for (int l = 0; l < a->cross_layers; l++) {
        TAKE(W->cx[l + 1], c * N->D0);
        TAKE(W->cu[l], c * N->D0);
        if (a->cross_rank) TAKE(W->ct[l], c * a->cross_rank);
    }
    if (train) {
        int mw = max_width(N);
        TAKE(W->dx0, c * N->D0);
        TAKE(W->g1, c * mw);
        TAKE(W->g2, c * mw);
        if (a->cross_layers) {
            TAKE(W->gc, c * N->D0);
            TAKE(W->gct, c * (a->cross_rank ? a->cross_rank : 1));
            TAKE(W->dc1, c * N->D0);
            TAKE(W->dc2, c * N->D0);
        }
        if (N->n_dotvec) {
            TAKE(W->dtop, c * N->top_in);
            TAKE(W->dT, c * N->n_dotvec * N->vec_dim);
        }
        TAKE(W->gd, N->n_dense);
    }
#undef TAKE
    return off;
}

int deep_ws_init(deep_ws *W, const deep_net *N, int cap, int train) {
    memset(W, 0, sizeof *W);
    size_t n = ws_layout(W, N, cap, train, NULL);
    W->buf = calloc(n ? n : 1, sizeof(float));
    if (!W->buf) return LEAP_ENOMEM;
    ws_layout(W, N, cap, train, W->buf);
    W->cap = cap;
    return LEAP_OK;
}

void deep_ws_free(deep_ws *W) {
    free(W->buf);
    memset(W, 0, sizeof *W);
}

/* ---- forward ------------------------------------------------------------------------ */

static uint64_t drop_seed(uint64_t seed, int bottom, int layer) {
    return leap_mix64(seed, (uint64_t)(bottom * 64 + layer + 1));
}

/* Linear → [layer norm] → ReLU → [dropout] per layer; returns the last output. */
/* The parameters a forward reads: training's, or the prepared scoring ones
 * (Ph: their fp16 matrices, or Pq and Ps: their int8 matrices and column
 * scales, read by one-row products). */
typedef struct fwd_params {
    const float *P;
    const uint16_t *Ph;
    const int8_t *Pq;
    const float *Ps;
} fwd_params;

/* Y = X·W + b over n rows; one row with fp16 or int8 weights: nn_gemv_f16, nn_gemv_q8. */
static void lin_fwd(const fwd_params *Q, int n, int in, int out, const float *x, int ldx,
                    size_t offW, const float *b, float *y, int ldy) {
    if (n == 1 && Q->Ph)
        nn_gemv_f16(in, out, x, Q->Ph + offW, b, y);
    else if (n == 1 && Q->Pq)
        nn_gemv_q8(in, out, x, Q->Pq + offW, Q->Ps + offW, b, y);
    else
        nn_linear_fwd(n, in, out, x, ldx, Q->P + offW, b, y, ldy);
}

/* One row through cross layer l with the prepared weights: nn_cross_fwd's
 * products (u = x·W + b, or t = x·V and u = t·U + b) through lin_fwd, then
 * x_{l+1} = x0 ⊙ u + x. */
static void cross_fwd_row(const deep_net *N, const fwd_params *Q, deep_ws *W, int l) {
    int D = N->D0, r = N->a.cross_rank;
    const float *b = Q->P + N->cb[l], *x = W->cx[l];
    if (r == 0) {
        lin_fwd(Q, 1, D, D, x, D, N->cW[l], b, W->cu[l], D);
    } else {
        lin_fwd(Q, 1, D, r, x, D, N->cW[l], NULL, W->ct[l], r);
        lin_fwd(Q, 1, r, D, W->ct[l], r, N->cW[l] + (size_t)D * r, b, W->cu[l], D);
    }
    for (int j = 0; j < D; j++)
        W->cx[l + 1][j] = W->x0[j] * W->cu[l][j] + x[j];
}

static const float *mlp_fwd(const deep_net *N, const fwd_params *Q, const deep_mlp *M, int bottom,
                            int n, const float *x, int ldx, float **z, float **act, float **mu,
                            float **rs, int train, uint64_t seed, uint64_t row0) {
    const float *P = Q->P;
    for (int i = 0; i < M->n; i++) {
        int in = i ? M->w[i - 1] : M->in, w = M->w[i];
        lin_fwd(Q, n, in, w, x, ldx, M->W[i], P + M->b[i], z[i], w);
        if (N->a.layer_norm)
            nn_layernorm_fwd(n, w, z[i], w, P + M->g[i], P + M->be[i], act[i], w, mu[i], rs[i]);
        nn_relu_fwd(n, w, act[i], w);
        if (train && N->a.dropout > 0)
            nn_dropout_fwd(n, w, (float)N->a.dropout, drop_seed(seed, bottom, i), row0, act[i], w);
        x = act[i];
        ldx = w;
    }
    return x;
}

/* What the output layer reads (set by the forward for the backward). */
static const float *tower_fwd(const deep_net *N, const fwd_params *Q, deep_ws *W, int n, int train,
                              uint64_t seed, uint64_t row0, int *ldh) {
    const deep_arch *a = &N->a;
    const float *P = Q->P;
    int D0 = N->D0;
    if (a->interaction == DEEP_INTER_DOT) {
        int d = N->vec_dim, hb = N->bot.n > 0, nv = N->n_dotvec;
        const float *bo = NULL;
        if (hb)
            bo = mlp_fwd(N, Q, &N->bot, 1, n, W->x0 + N->emb_width, D0, W->bot_z, W->bot_a,
                         W->bot_mu, W->bot_rs, train, seed, row0);
        for (int r = 0; r < n; r++) {
            float *t = W->dotT + (size_t)r * nv * d;
            if (hb) {
                memcpy(t, bo + (size_t)r * d, (size_t)d * sizeof *t);
                memcpy(W->top + (size_t)r * N->top_in, t, (size_t)d * sizeof *t);
            }
            memcpy(t + (hb ? d : 0), W->x0 + (size_t)r * D0, (size_t)N->n_vec * d * sizeof *t);
        }
        nn_dot_fwd(n, nv, d, W->dotT, nv * d, W->top + (hb ? d : 0), N->top_in);
        *ldh = a->n_mlp ? N->top.w[N->top.n - 1] : N->top_in;
        if (!a->n_mlp) return W->top;
        return mlp_fwd(N, Q, &N->top, 0, n, W->top, N->top_in, W->top_z, W->top_a, W->top_mu,
                       W->top_rs, train, seed, row0);
    }
    const float *xc = W->x0;
    for (int l = 0; l < a->cross_layers; l++) {
        if (n == 1 && (Q->Ph || Q->Pq))
            cross_fwd_row(N, Q, W, l);
        else
            nn_cross_fwd(n, D0, a->cross_rank, W->x0, W->cx[l], D0, P + N->cW[l], P + N->cb[l],
                         W->cu[l], W->ct[l], W->cx[l + 1]);
        xc = W->cx[l + 1];
    }
    if (!a->n_mlp) {
        *ldh = D0;
        return xc;
    }
    int last = N->top.w[N->top.n - 1];
    if (a->cross_layers && a->cross_parallel) {
        const float *h = mlp_fwd(N, Q, &N->top, 0, n, W->x0, D0, W->top_z, W->top_a, W->top_mu,
                                 W->top_rs, train, seed, row0);
        int w[2] = {D0, last};
        const float *src[2] = {xc, h};
        nn_concat_fwd(n, 2, w, src, W->top, N->top_in);
        *ldh = N->top_in;
        return W->top;
    }
    *ldh = last;
    return mlp_fwd(N, Q, &N->top, 0, n, xc, D0, W->top_z, W->top_a, W->top_mu, W->top_rs, train,
                   seed, row0);
}

static void forward(const deep_net *N, const fwd_params *Q, deep_ws *W, const deep_rows *R,
                    int train, uint64_t seed, uint64_t row0) {
    const deep_arch *a = &N->a;
    int n = R->n, D0 = N->D0;
    nn_embed_fwd(&N->lay, N->emb, n, NULL, R->row_ptr, R->idx, R->val, R->field, W->x0, D0,
                 W->wide);
    float bias = Q->P[N->off_bias];
    for (int r = 0; r < n; r++)
        W->logit[r] = bias + (a->wide ? W->wide[r] : 0.f);
    if (a->pair_gate) { /* the rest sums into logit from 0, then logit = lin + gate·rest */
        memcpy(W->lin, W->logit, (size_t)n * sizeof *W->lin);
        memset(W->logit, 0, (size_t)n * sizeof *W->logit);
    }
    if (a->fm) {
        nn_fm_fwd(n, N->n_vec, N->vec_dim, W->x0, D0, W->fm_s, W->fm_v);
        for (int r = 0; r < n; r++)
            W->logit[r] += W->fm_v[r];
    }
    if (a->ffm) {
        nn_ffm_fwd(n, N->n_vec, N->vec_dim, W->x0, D0, W->ffm_v);
        for (int r = 0; r < n; r++)
            W->logit[r] += W->ffm_v[r];
    }
    if (N->tower) {
        int ldh;
        const float *h = tower_fwd(N, Q, W, n, train, seed, row0, &ldh);
        lin_fwd(Q, n, N->out_in, 1, h, ldh, N->out_W, NULL, W->p, 1);
        for (int r = 0; r < n; r++)
            W->logit[r] += W->p[r];
    }
    if (a->pair_gate) {
        float g = Q->P[N->off_gate];
        memcpy(W->inter, W->logit, (size_t)n * sizeof *W->inter);
        for (int r = 0; r < n; r++)
            W->logit[r] = W->lin[r] + g * W->inter[r];
    }
}

static double ll_logit(double z, double y) { /* log(1 + e^z) − y·z, stable */
    return (z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - y * z;
}

void deep_gate_add(float *stats, double lin, double rest, float y, float w) {
    double l0 = w * ll_logit(lin, y);
    for (int k = 0; k < DEEP_GATES; k++) {
        double l = k ? w * ll_logit(lin + (double)k / (DEEP_GATES - 1) * rest, y) : l0;
        stats[k] += (float)l;
        stats[DEEP_GATES + k] += (float)((l - l0) * (l - l0));
    }
}

void deep_gate_losses(const deep_ws *W, int n, const float *y, const float *w, float *stats) {
    for (int r = 0; r < n; r++)
        deep_gate_add(stats, W->lin[r], W->inter[r], y[r], w ? w[r] : 1.f);
}

float deep_gate_choose(const float *stats) {
    if (stats[0] == 0.f) return 1.f;
    int best = 0;
    for (int k = 1; k < DEEP_GATES; k++) {
        double d = (double)stats[k] - stats[0], v = stats[DEEP_GATES + k];
        if (v > 0 && d / sqrt(v) <= -2.0 && stats[k] < stats[best]) best = k;
    }
    return (float)best / (DEEP_GATES - 1);
}

void deep_forward(const deep_net *N, deep_ws *W, const deep_rows *R, int train, uint64_t seed,
                  uint64_t row0) {
    fwd_params Q = {N->dense, NULL, NULL, NULL};
    forward(N, &Q, W, R, train, seed, row0);
}

/* ---- backward ----------------------------------------------------------------------- */

/* Backward of mlp_fwd from d (row stride ldd; d lives in buffer A when in_a,
 * else elsewhere; A and B are [rows][max width] scratch that alternate as
 * the layers' input gradients) into the input gradient dX (row stride lddx;
 * NULL = not needed; added when accum). */
static void mlp_bwd(const deep_net *N, const deep_mlp *M, int bottom, int n, const float *x,
                    int ldx, float *const *z, float *const *act, float *const *mu, float *const *rs,
                    float *d, int ldd, int in_a, float *A, float *B, float *dX, int lddx, int accum,
                    float *gd, uint64_t seed, uint64_t row0) {
    const float *P = N->dense;
    int cur = in_a; /* 1: d is in A, 0: elsewhere or in B */
    for (int i = M->n - 1; i >= 0; i--) {
        int in = i ? M->w[i - 1] : M->in, w = M->w[i];
        if (N->a.dropout > 0)
            nn_dropout_bwd(n, w, (float)N->a.dropout, drop_seed(seed, bottom, i), row0, d, ldd);
        nn_relu_bwd(n, w, act[i], w, d, ldd);
        if (N->a.layer_norm)
            nn_layernorm_bwd(n, w, z[i], w, P + M->g[i], mu[i], rs[i], d, ldd, d, ldd, gd + M->g[i],
                             gd + M->be[i]);
        const float *xin = i ? act[i - 1] : x;
        int ldin = i ? M->w[i - 1] : ldx;
        float *dn = i ? (cur ? B : A) : dX;
        nn_linear_bwd(n, in, w, xin, ldin, P + M->W[i], d, ldd, gd + M->W[i], gd + M->b[i], dn,
                      i ? in : lddx, i ? 0 : accum);
        cur = dn == A;
        d = dn;
        ldd = in;
    }
}

double deep_backward(const deep_net *N, deep_ws *W, const deep_rows *R, const float *y,
                     const float *w, uint64_t seed, uint64_t row0) {
    const deep_arch *a = &N->a;
    int n = R->n, D0 = N->D0;
    float *gd = W->gd;
    const float *P = N->dense;
    double loss = nn_logloss(n, W->logit, y, w, 1.f, W->p, W->dz);
    if (a->pair_gate) { /* first order by its own loss; the rest through the gate */
        nn_logloss(n, W->lin, y, w, 1.f, NULL, W->dzw);
        float g = P[N->off_gate];
        for (int r = 0; r < n; r++)
            W->dz[r] *= g;
    }
    float sb = 0.f;
    for (int r = 0; r < n; r++)
        sb += W->dzw[r];
    gd[N->off_bias] += sb;
    memset(W->dx0, 0, (size_t)n * D0 * sizeof *W->dx0);
    if (a->fm) nn_fm_bwd(n, N->n_vec, N->vec_dim, W->x0, D0, W->fm_s, W->dz, W->dx0, D0);
    if (a->ffm) nn_ffm_bwd(n, N->n_vec, N->vec_dim, W->x0, D0, W->dz, W->dx0, D0);
    if (!N->tower) return loss;
    /* the output layer: recompute what it read (cheap pointers, no math) */
    const float *h;
    int ldh;
    if (a->interaction == DEEP_INTER_DOT) {
        h = a->n_mlp ? W->top_a[N->top.n - 1] : W->top;
        ldh = a->n_mlp ? N->top.w[N->top.n - 1] : N->top_in;
    } else if (!a->n_mlp) {
        h = W->cx[a->cross_layers];
        ldh = D0;
    } else if (a->cross_layers && a->cross_parallel) {
        h = W->top;
        ldh = N->top_in;
    } else {
        h = W->top_a[N->top.n - 1];
        ldh = N->top.w[N->top.n - 1];
    }
    float *g1 = W->g1, *g2 = W->g2;
    nn_linear_bwd(n, N->out_in, 1, h, ldh, P + N->out_W, W->dz, 1, gd + N->out_W, NULL, g1,
                  N->out_in, 0);
    if (a->interaction == DEEP_INTER_DOT) {
        int d = N->vec_dim, hb = N->bot.n > 0, nv = N->n_dotvec;
        float *dtop = W->dtop;
        if (a->n_mlp)
            mlp_bwd(N, &N->top, 0, n, W->top, N->top_in, W->top_z, W->top_a, W->top_mu, W->top_rs,
                    g1, ldh, 1, g1, g2, dtop, N->top_in, 0, gd, seed, row0);
        else
            memcpy(dtop, g1, (size_t)n * N->top_in * sizeof *dtop);
        memset(W->dT, 0, (size_t)n * nv * d * sizeof *W->dT);
        nn_dot_bwd(n, nv, d, W->dotT, nv * d, dtop + (hb ? d : 0), N->top_in, W->dT, nv * d);
        for (int r = 0; r < n; r++) {
            const float *dt = W->dT + (size_t)r * nv * d;
            float *dx = W->dx0 + (size_t)r * D0;
            const float *dv = dt + (hb ? d : 0);
            for (int j = 0; j < N->n_vec * d; j++)
                dx[j] += dv[j];
            if (hb) { /* the bottom output went to the top input and to the dots */
                float *db = dtop + (size_t)r * N->top_in;
                for (int j = 0; j < d; j++)
                    db[j] += dt[j];
            }
        }
        if (hb)
            mlp_bwd(N, &N->bot, 1, n, W->x0 + N->emb_width, D0, W->bot_z, W->bot_a, W->bot_mu,
                    W->bot_rs, dtop, N->top_in, 0, g1, g2, NULL, 0, 0, gd, seed, row0);
        return loss;
    }
    if (!a->cross_layers) {
        mlp_bwd(N, &N->top, 0, n, W->x0, D0, W->top_z, W->top_a, W->top_mu, W->top_rs, g1, ldh, 1,
                g1, g2, W->dx0, D0, 1, gd, seed, row0);
        return loss;
    }
    /* cross layers: gradient of the cross output into dc */
    float *dc = W->dc1, *dco = W->dc2;
    if (!a->n_mlp) {
        memcpy(dc, g1, (size_t)n * D0 * sizeof *dc);
    } else if (a->cross_parallel) {
        for (int r = 0; r < n; r++)
            memcpy(dc + (size_t)r * D0, g1 + (size_t)r * ldh, (size_t)D0 * sizeof *dc);
        mlp_bwd(N, &N->top, 0, n, W->x0, D0, W->top_z, W->top_a, W->top_mu, W->top_rs, g1 + D0, ldh,
                1, g1, g2, W->dx0, D0, 1, gd, seed, row0);
    } else {
        mlp_bwd(N, &N->top, 0, n, W->cx[a->cross_layers], D0, W->top_z, W->top_a, W->top_mu,
                W->top_rs, g1, ldh, 1, g1, g2, dc, D0, 0, gd, seed, row0);
    }
    for (int l = a->cross_layers - 1; l >= 0; l--) {
        nn_cross_bwd(n, D0, a->cross_rank, W->x0, W->cx[l], D0, P + N->cW[l], W->cu[l], W->ct[l],
                     dc, dco, W->dx0, gd + N->cW[l], gd + N->cb[l], W->gc, W->gct);
        float *t = dc;
        dc = dco;
        dco = t;
    }
    for (size_t i = 0; i < (size_t)n * D0; i++) /* x0 was also layer 0's input */
        W->dx0[i] += dc[i];
    return loss;
}

/* The parameters products read as a right-hand matrix ("mlp.W.0", "cross.V.1", "out.W"):
 * the ones lin_fwd takes from the fp16 or int8 copy. */
static int is_product_matrix(const deep_param *q) {
    const char *d = strchr(q->name, '.');
    return d && (d[1] == 'W' || d[1] == 'V' || d[1] == 'U') && (d[2] == '.' || d[2] == 0);
}

static void drop_reduced(deep_net *N) {
    free(N->infer_h);
    free(N->infer_q);
    free(N->infer_s);
    N->infer_h = NULL;
    N->infer_q = NULL;
    N->infer_s = NULL;
}

int deep_net_prepare_scoring(deep_net *N, int precision) {
    size_t n = N->n_dense ? N->n_dense : 1;
    if (!N->infer) N->infer = malloc(n * sizeof *N->infer);
    if (!N->infer) return LEAP_ENOMEM;
    memcpy(N->infer, N->dense, N->n_dense * sizeof *N->infer);
    drop_reduced(N);
    if (precision == DEEP_PREC_F32) return LEAP_OK;
    if (precision == DEEP_PREC_I8) {
        /* infer_s is indexed like dense but holds cols floats per matrix:
         * calloc maps the rest as zero pages that are never touched */
        N->infer_q = calloc(n, sizeof *N->infer_q);
        N->infer_s = calloc(n, sizeof *N->infer_s);
        if (!N->infer_q || !N->infer_s) {
            drop_reduced(N);
            return LEAP_ENOMEM;
        }
    } else if (!(N->infer_h = calloc(n, sizeof *N->infer_h))) {
        return LEAP_ENOMEM;
    }
    size_t bad = 0;
    for (size_t i = 0; i < N->n_params; i++) { /* the matrices: what products read */
        const deep_param *q = &N->params[i];
        if (!is_product_matrix(q)) continue;
        if (N->infer_h)
            bad += nn_f16_round((size_t)q->rows * q->cols, N->dense + q->off, N->infer_h + q->off,
                                N->infer + q->off);
        else
            bad += nn_q8_quantise(q->rows, q->cols, N->dense + q->off, N->infer_q + q->off,
                                  N->infer_s + q->off, N->infer + q->off);
    }
    if (bad) { /* out of fp16's range, or a column int8 cannot hold: score in f32 */
        memcpy(N->infer, N->dense, N->n_dense * sizeof *N->infer);
        drop_reduced(N);
    }
    return LEAP_OK;
}

void deep_predict_rows(const deep_net *N, deep_ws *W, const deep_rows *R, float *p) {
    fwd_params Q = {N->infer ? N->infer : N->dense, N->infer_h, N->infer_q, N->infer_s};
    for (int a = 0; a < R->n; a += W->cap) {
        deep_rows blk = *R;
        blk.row_ptr = R->row_ptr + a;
        blk.n = R->n - a < W->cap ? R->n - a : W->cap;
        forward(N, &Q, W, &blk, 0, 0, 0);
        nn_sigmoid_fwd((size_t)blk.n, W->logit, p + a);
    }
}
