/* nn/nn.h — the layer library of leap's embedding models (FM, FFM, Wide&Deep,
 * DeepFM, DCN-v2, DLRM-style nets).
 *
 * Every layer is a pair of plain functions over caller-owned buffers: a
 * forward that reads its inputs and parameters and writes its outputs (and
 * whatever the backward needs), and a backward that takes the gradient of the
 * loss with respect to the outputs and ADDS the gradients of its parameters
 * (and, unless stated otherwise, of its inputs) into caller-owned buffers.
 * The rows of a mini-batch are the rows of row-major matrices; `ld` arguments
 * are row strides in floats, so a layer can read or write a column block of a
 * wider buffer (a concatenation) without copies. Nothing here allocates,
 * locks or prints: a model lays out its parameters, gradients and optimizer
 * state in contiguous buffers and calls these on per-thread scratch.
 *
 *     Y = X·W + b                          nn_linear_fwd / _bwd   (cblas_sgemm)
 *     relu, sigmoid, dropout, layer norm   nn_relu_* ... nn_layernorm_*
 *     concat                               nn_concat_fwd / _bwd
 *     embedding bags                       nn_embed_fwd / nn_embed_bwd_dense
 *     FM second-order pooling              nn_fm_fwd / _bwd       (Rendle 2010)
 *     field-aware FM                       nn_ffm_fwd / _bwd      (Juan et al. 2016)
 *     DCN-v2 cross layer                   nn_cross_fwd / _bwd    (Wang et al. 2021)
 *     one-row y = xᵀ·W + b, W in fp16      nn_gemv_f16            (scoring; half.c)
 *     one-row y = xᵀ·W + b, W in int8      nn_gemv_q8             (scoring; half.c)
 *     pairwise dot interaction             nn_dot_fwd / _bwd      (DLRM, Naumov et al. 2019)
 *     weighted logistic loss               nn_logloss
 *     optimizers                           nn_opt_dense, nn_opt_row, nn_lr_at
 *
 * Every backward is checked against finite differences in tests/unit/test_nn.c.
 */
#ifndef LEAP_NN_H
#define LEAP_NN_H

#include <stddef.h>
#include <stdint.h>

/* ---- dense layers ------------------------------------------------------- */

/* Y[B][out] = X[B][in] · W[in][out] (+ b[out] when b is non-NULL). */
void nn_linear_fwd(int B, int in, int out, const float *X, int ldx, const float *W, const float *b,
                   float *Y, int ldy);
/* dW[in][out] += Xᵀ·dY; db[out] += Σ_rows dY (db may be NULL); dX = dY·Wᵀ, or
 * dX += dY·Wᵀ when accum_dx (dX may be NULL). */
void nn_linear_bwd(int B, int in, int out, const float *X, int ldx, const float *W, const float *dY,
                   int lddy, float *dW, float *db, float *dX, int lddx, int accum_dx);

/* In place: x = max(x, 0) over B rows of n columns (row stride ld). */
void nn_relu_fwd(int B, int n, float *x, int ld);
/* dy *= (y > 0), y being the ReLU's output. */
void nn_relu_bwd(int B, int n, const float *y, int ldy, float *dy, int lddy);
/* y = σ(x), elementwise over n values (clamped to ±35 before exp). */
void nn_sigmoid_fwd(size_t n, const float *x, float *y);
/* dx += dy · y (1 − y). */
void nn_sigmoid_bwd(size_t n, const float *y, const float *dy, float *dx);

/* Inverted dropout, in place: x *= m / (1 − p), m ~ Bernoulli(1 − p). The
 * mask is a pure function of (seed, row0 + r, column), so it does not depend
 * on how the rows of a mini-batch are split among threads and the backward
 * recomputes it instead of storing it. p = 0 is the identity. */
void nn_dropout_fwd(int B, int n, float p, uint64_t seed, uint64_t row0, float *x, int ld);
/* dx *= m / (1 − p), with the forward's mask. */
void nn_dropout_bwd(int B, int n, float p, uint64_t seed, uint64_t row0, float *dx, int ld);

/* Layer normalisation over the n columns of each row:
 * y = (x − μ) / sqrt(σ² + 1e-5) · g + b. Stores μ and 1/sqrt(σ² + 1e-5) per row
 * (mu, rstd: [B]) for the backward. y may alias x. */
void nn_layernorm_fwd(int B, int n, const float *x, int ldx, const float *g, const float *b,
                      float *y, int ldy, float *mu, float *rstd);
/* dx (+)= ∂L/∂x from dy; dg += Σ dy·x̂, db += Σ dy. x is the forward's input. */
void nn_layernorm_bwd(int B, int n, const float *x, int ldx, const float *g, const float *mu,
                      const float *rstd, const float *dy, int lddy, float *dx, int lddx, float *dg,
                      float *db);

/* dst[r] = src_0[r] | src_1[r] | ... (k parts of widths w[i]; dst row stride
 * ld = Σ w). The backward splits: dsrc_i[r] += ddst[r][part i]. */
void nn_concat_fwd(int B, int k, const int *w, const float *const *src, float *dst, int ld);
void nn_concat_bwd(int B, int k, const int *w, const float *ddst, int ld, float *const *dsrc);

/* ---- embedding bags ------------------------------------------------------ */

/* Where a feature field's vectors live and where its pooled vector goes.
 * A table row holds `dim` embedding values, then (when wide) one first-order
 * weight: stride = dim + wide floats. Row of feature index i: base + (i −
 * offset) · stride. Hashed fields share one table (offset 0, same base). */
typedef struct nn_emb_field {
    size_t base;     /* first float of the field's table in the parameter buffer */
    size_t rbase;    /* first row of the field's table among all tables' rows */
    uint32_t offset; /* feature index of the table's row 0 */
    uint32_t rows;   /* rows of the table */
    uint16_t dim;    /* pooled vector width (FFM: n_fields · k; 0 = none) */
    uint16_t stride; /* floats per row: dim + wide */
    int32_t col;     /* first output column of the pooled vector (dim > 0) */
    int32_t dcol;    /* DENSE fields fed as values: first of 2 input columns, else -1 */
} nn_emb_field;

typedef struct nn_emb {
    size_t n_fields;
    const nn_emb_field *f; /* [n_fields], indexed by the featurizer's field index */
    int wide;              /* rows carry a first-order weight in their last column */
} nn_emb;

/* Pools the entries of rows [0, B) of a CSR batch (entry k of row r: feature
 * idx[k], value val[k], field field[k]; rows[r] names the batch row, or r
 * itself when rows is NULL) into out[r] (row stride ld, zeroed first):
 * out[r][col_f .. col_f + dim_f) = Σ_k val[k] · T[idx[k]][0 .. dim_f); a DENSE
 * field's value goes to out[r][dcol_f + local] (local 0 = missing, 1 = the value);
 * wide[r] = Σ_k val[k] · T[idx[k]][dim_f] when L->wide (wide may be NULL otherwise). */
void nn_embed_fwd(const nn_emb *L, const float *T, int B, const uint32_t *rows,
                  const uint32_t *row_ptr, const uint32_t *idx, const float *val,
                  const uint16_t *field, float *out, int ld, float *wide);
/* Reference backward into a dense table gradient dT (same layout as T):
 * dT[idx[k]][j] += val[k] · dout[r][col_f + j]; the wide column gets val[k] ·
 * dwide[r]. Models accumulate per touched row instead (nn_rowset). */
void nn_embed_bwd_dense(const nn_emb *L, int B, const uint32_t *rows, const uint32_t *row_ptr,
                        const uint32_t *idx, const float *val, const uint16_t *field,
                        const float *dout, int ld, const float *dwide, float *dT);

/* The set of table rows a mini-batch touches: open addressing over feature
 * indices, slots numbered in first-insertion order. Sized once for the most
 * keys a mini-batch can hold; clear is O(slots used). */
typedef struct nn_rowset {
    uint32_t *keys;   /* [cap] feature index, or UINT32_MAX = empty */
    int32_t *slot;    /* [cap] slot of the key at the same position */
    uint32_t *key_of; /* [max_keys] key of each slot */
    uint32_t *pos_of; /* [max_keys] position of each slot's key in keys */
    size_t cap, n, max_keys;
    int shift; /* 32 − log2(cap) */
} nn_rowset;
int nn_rowset_init(nn_rowset *s, size_t max_keys); /* 0, or -1 out of memory */
void nn_rowset_free(nn_rowset *s);
void nn_rowset_clear(nn_rowset *s);
/* Slot of key (inserted when new); -1 when the set already holds max_keys. */
int32_t nn_rowset_insert(nn_rowset *s, uint32_t key);
/* Slot of key, or -1. */
int32_t nn_rowset_find(const nn_rowset *s, uint32_t key);

/* ---- interactions ---------------------------------------------------------- */

/* FM second-order pooling (Rendle 2010) of F vectors of dimension d per row
 * (E[r] = e_0 | e_1 | ... , row stride ld): S[r] = Σ_f e_f (kept for the
 * backward, [B][d]) and out[r] = ½ Σ_j (S_j² − Σ_f e_fj²) = Σ_{f<g} <e_f, e_g>. */
void nn_fm_fwd(int B, int F, int d, const float *E, int ld, float *S, float *out);
/* dE[r][f] += dout[r] · (S[r] − e_f). */
void nn_fm_bwd(int B, int F, int d, const float *E, int ld, const float *S, const float *dout,
               float *dE, int lddE);

/* Field-aware FM (Juan et al. 2016): E[r] holds F·F vectors of dimension k,
 * e_{f,g} = E[r][(f·F + g)·k ...] (field f's vector for interacting with
 * field g); out[r] = Σ_{f<g} <e_{f,g}, e_{g,f}>. */
void nn_ffm_fwd(int B, int F, int k, const float *E, int ld, float *out);
/* dE[r][f,g] += dout[r] · e_{g,f} for f ≠ g. */
void nn_ffm_bwd(int B, int F, int k, const float *E, int ld, const float *dout, float *dE,
                int lddE);

/* DCN-v2 cross layer (Wang et al. 2021): x' = x0 ⊙ (x·W + b) + x over D
 * columns. Full rank (rank = 0): W is [D][D] and u = x·W + b ([B][D]) is kept
 * for the backward. Low rank r: W = V[D][r] followed by U[r][D] (both in W,
 * V first), t = x·V ([B][r]) and u = t·U + b are kept. x0, x, xn are [B][D]
 * with row stride ld; u is [B][D] contiguous, t is [B][rank]. */
void nn_cross_fwd(int B, int D, int rank, const float *x0, const float *x, int ld, const float *W,
                  const float *b, float *u, float *t, float *xn);
/* From dxn: dx = dxn + (dxn ⊙ x0)·Wᵀ (written), dx0 += dxn ⊙ u, dW, db +=.
 * g ([B][D]) and gt ([B][rank]) are scratch. dx may not alias dxn. */
void nn_cross_bwd(int B, int D, int rank, const float *x0, const float *x, int ld, const float *W,
                  const float *u, const float *t, const float *dxn, float *dx, float *dx0,
                  float *dW, float *db, float *g, float *gt);

/* Pairwise dot interaction (DLRM): T[r] holds n vectors of dimension d
 * (row stride ldt); Z[r] = <t_i, t_j> for i > j in the order (1,0), (2,0),
 * (2,1), (3,0), ...: n(n−1)/2 values (row stride ldz). */
void nn_dot_fwd(int B, int n, int d, const float *T, int ldt, float *Z, int ldz);
/* dT[r][i] += Σ_j dZ_ij · t_j (both of each pair). */
void nn_dot_bwd(int B, int n, int d, const float *T, int ldt, const float *dZ, int lddz, float *dT,
                int lddt);

/* ---- loss ------------------------------------------------------------------ */

/* Weighted logistic loss of logits z against labels y (> 0.5 = click) with
 * example weights w (NULL = 1): returns Σ w·logloss(σ(z), y) (in double, from
 * the logit: no clamping error); p[r] = σ(z[r]) (may be NULL);
 * dz[r] = scale · w·(σ(z) − y) (may be NULL). */
double nn_logloss(int B, const float *z, const float *y, const float *w, float scale, float *p,
                  float *dz);

/* ---- optimizers ------------------------------------------------------------- */

#define NN_OPT_MAP(XX)                                                                             \
    XX(ADAM, "adam")                                                                               \
    XX(ADAGRAD, "adagrad")                                                                         \
    XX(SGD, "sgd")

typedef enum nn_opt_kind {
#define NN_XX_OPT(name, str) NN_OPT_##name,
    NN_OPT_MAP(NN_XX_OPT)
#undef NN_XX_OPT
        NN_OPT_COUNT
} nn_opt_kind;
const char *nn_opt_name(nn_opt_kind k);

/* One step's optimizer settings. The gradient passed in is multiplied by
 * gscale first (1 / Σ weights of the global mini-batch: the mean loss), then
 * wd · p is added (coupled L2, as torch.optim's weight_decay). */
typedef struct nn_opt {
    nn_opt_kind kind;
    float lr;       /* this step's learning rate (after warmup and decay) */
    float b1, b2;   /* Adam */
    float eps;      /* Adam, AdaGrad */
    float momentum; /* SGD */
    float wd;       /* weight decay */
    float gscale;
    int64_t t;    /* step number, from 1 (Adam bias correction) */
    float c1, c2; /* Adam bias corrections 1 − b1^t, 1 − b2^t: set by nn_opt_prepare */
} nn_opt;
/* Computes the per-step constants (c1, c2) from t; call once per step. */
void nn_opt_prepare(nn_opt *o);

/* Dense parameters p[n] (MLP, cross, biases): Adam as torch.optim.Adam (s1 = m,
 * s2 = v); AdaGrad per element (s1 = Σg², s2 unused); SGD with momentum
 * (s1 = velocity, s2 unused). */
void nn_opt_dense(const nn_opt *o, float *p, const float *g, float *s1, float *s2, size_t n);
/* One touched embedding row p[n] (lazy/sparse: untouched rows do not move):
 * Adam as torch.optim.SparseAdam (s1, s2: the row's m and v); row-wise AdaGrad
 * (s2: ONE accumulator for the row, += mean of g²; s1 unused); SGD with
 * momentum (s1: the row's velocity). */
void nn_opt_row(const nn_opt *o, float *p, const float *g, float *s1, float *s2, int n);
/* FTRL-Proximal (McMahan et al. 2013) for one coordinate: from its summed
 * (not averaged) gradient g, updates the state (z, n) and returns the new
 * weight w' = 0 when |z| ≤ l1, else −(z − sign(z)·l1) / ((beta + sqrt(n))/alpha + l2);
 * w is the current weight. For first-order weights, whose rows a step touches
 * sparsely: an untouched coordinate keeps its weight, as under FTRL itself. */
float nn_ftrl_step(float w, float g, float *z, float *n, float alpha, float beta, float l1,
                   float l2);

/* Floats of state per parameter (s1, s2) for dense parameters and per row
 * element for embeddings; AdaGrad keeps its row state apart (one per row). */
int nn_opt_dense_states(nn_opt_kind k);
int nn_opt_row_states(nn_opt_kind k); /* per element: Adam 2, SGD 1, AdaGrad 0 (+1 per row) */

/* Learning-rate schedule: linear warmup over `warmup` steps, then none,
 * linear or cosine decay to 0 at `total` steps. */
typedef enum nn_decay { NN_DECAY_NONE, NN_DECAY_LINEAR, NN_DECAY_COSINE } nn_decay;
float nn_lr_at(float lr, int64_t step, int64_t warmup, nn_decay decay, int64_t total);

/* ---- 16- and 8-bit weights for one-row scoring (half.c) ------------------------ */

/* IEEE binary16 from a float, rounded to nearest even (beyond ±65504: ±inf;
 * NaN stays NaN), and back (exact). */
uint16_t nn_f16_from_f32(float x);
float nn_f16_to_f32(uint16_t h);
/* h[i] = fp16(src[i]) and r[i] = the value h[i] holds, as a float (r may be
 * src). Returns how many values overflowed to ±inf or were not finite. */
size_t nn_f16_round(size_t n, const float *src, uint16_t *h, float *r);

/* y[out] = x[in]ᵀ · W[in][out] (+ b[out] when b is non-NULL) for ONE row, W in
 * fp16, products and sums in f32. Rows of W whose x[i] is 0 are not read (a
 * ReLU output is half zeros). Each y[j] sums its terms in input order, b
 * last, so the kernels below differ only by fused multiply-adds. No
 * allocation; O(nnz(x)·out). */
void nn_gemv_f16(int in, int out, const float *x, const uint16_t *W, const float *b, float *y);
enum { NN_HALF_PLAIN, NN_HALF_AVX2, NN_HALF_AVX512, NN_HALF_KERNEL_COUNT };
/* The kernel nn_gemv_f16 runs on this CPU (picked once, by CPUID), its name. */
int nn_half_kernel(void);
const char *nn_half_kernel_name(int kernel);
/* nn_gemv_f16 with a given kernel (tests, benchmarks); -1 when this CPU lacks it. */
int nn_gemv_f16_with(int kernel, int in, int out, const float *x, const uint16_t *W, const float *b,
                     float *y);

/* Quantises src[rows][cols] to int8 with one scale per column: s[j] = max_i
 * |src[i][j]| / 127, q[i][j] = round(src[i][j] / s[j]) in [-127, 127], and
 * r[i][j] = q[i][j]·s[j] as a float (r may be src), so |src - r| ≤ s[j]/2. A
 * column of zeros is exact (s = 0). Returns how many columns int8 cannot hold:
 * a value not finite, or a scale below FLT_MIN (too few bits left); O(rows·cols). */
size_t nn_q8_quantise(int rows, int cols, const float *src, int8_t *q, float *s, float *r);
/* y[out] = x[in]ᵀ · (W[in][out]·s[out]) (+ b[out] when b is non-NULL) for ONE
 * row, W in int8 with the column scales s of nn_q8_quantise: each y[j] sums
 * x[i]·W[i][j] in f32 in input order (rows whose x[i] is 0 are not read), then
 * y[j] = y[j]·s[j] + b[j]. Same kernels (and CPUID choice) as nn_gemv_f16. No
 * allocation; O(nnz(x)·out). */
void nn_gemv_q8(int in, int out, const float *x, const int8_t *W, const float *s, const float *b,
                float *y);
/* nn_gemv_q8 with a given kernel; -1 when this CPU lacks it. */
int nn_gemv_q8_with(int kernel, int in, int out, const float *x, const int8_t *W, const float *s,
                    const float *b, float *y);

/* ---- initialisation ---------------------------------------------------------- */

/* Uniform in [−a, a), a pure function of (seed, i): parameters come out the
 * same for any thread count and can be regenerated. */
static inline float nn_uniform(uint64_t seed, uint64_t i, float a) {
    uint64_t x = seed + (i + 1) * 0x9e3779b97f4a7c15ULL;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return a * (2.0f * (float)(x >> 40) * (1.0f / 16777216.0f) - 1.0f);
}

#endif
