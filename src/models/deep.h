/* deep.h — the embedding models (fm, ffm, wide_deep, deepfm, dcn_v2, dlrm and
 * the YAML-composed `deep`), private to src/models/ and the tests.
 *
 * One network template, composed from the layer library (src/nn/):
 *
 *     x0 = [pooled field embeddings | dense inputs]          nn_embed_fwd
 *     logit = bias
 *           + wide:  Σ first-order weights                     (rows' last column)
 *           + fm:    Σ_{f<g} <e_f, e_g>                        nn_fm_fwd
 *           + ffm:   Σ_{f<g} <e_{f,g}, e_{g,f}>                nn_ffm_fwd
 *           + tower: one of
 *               dot:   bottom MLP(dense) → [bottom | pairwise dots] → MLP → 1
 *               cross: x0 → cross^L → MLP → 1 (stacked) or [cross^L(x0) | MLP(x0)] → 1
 *               mlp:   x0 → MLP → 1
 *
 * Each model family is a preset of `deep_arch` (deep_arch.c); an
 * `architecture=FILE.yaml` option edits the preset. deep_net.c lays out the
 * parameters and runs forward/backward on a block of rows; deep_fit.c trains
 * (mini-batches split over threads, MPI); deep.c is the leap_model_ops glue.
 */
#ifndef LEAP_MODELS_DEEP_H
#define LEAP_MODELS_DEEP_H

#include "leap/model.h"
#include "nn/nn.h"

#include <pthread.h>
#include <stdatomic.h>

#define DEEP_MAX_LAYERS     8   /* per MLP (bottom, top) and cross layers */
#define DEEP_MAX_FIELD_DIMS 64  /* per-field embedding dims in an architecture file */
#define DEEP_PRED_ROWS      256 /* rows per forward block when predicting */
#define DEEP_MAX_DIM        1024
#define DEEP_GATES          5 /* pair_gate candidates: 0, 1/4, 1/2, 3/4, 1 */

enum { DEEP_INTER_NONE, DEEP_INTER_DOT };

/* What the network is made of. Presets per model family; YAML edits it. */
typedef struct deep_arch {
    int embedding_dim;               /* default vector width of a field (FFM: per target field) */
    int wide, fm, ffm;               /* first-order term, FM pooling, field-aware FM */
    int interaction;                 /* DEEP_INTER_NONE or DEEP_INTER_DOT (DLRM) */
    int cross_layers;                /* DCN-v2 cross layers on x0 (0 = none) */
    int cross_rank;                  /* 0 = full rank W[D][D]; r = low rank V[D][r]·U[r][D] */
    int cross_parallel;              /* 0: MLP on the cross output; 1: [cross | MLP(x0)] */
    int n_mlp, mlp[DEEP_MAX_LAYERS]; /* (top) MLP widths */
    int n_bottom, bottom[DEEP_MAX_LAYERS]; /* DLRM bottom MLP widths (then → embedding_dim) */
    int dense_embed;                       /* DENSE fields: 1 = embedded, 0 = MLP inputs */
    double dropout;                        /* after every MLP ReLU */
    int layer_norm;                        /* between every MLP linear and its ReLU */
    int pair_gate; /* 1: the first-order part (bias + wide) learns alone, as LR's FTRL; the
                      rest (FM, FFM, tower) learns its residual and is scaled by a gate
                      chosen by progressive validation (deep_fit.c) */
    int n_field_dims;
    struct {
        char name[LEAP_NAME_MAX];
        int dim;
    } field_dims[DEEP_MAX_FIELD_DIMS];
} deep_arch;

/* Options (the option table of every embedding model; defaults differ). */
typedef struct deep_opts {
    int embedding_dim;
    char hidden[LEAP_OPT_STR_MAX]; /* "400,400,400"; "" = no MLP */
    char bottom[LEAP_OPT_STR_MAX]; /* dlrm: "64" */
    int cross_layers, cross_rank;
    double dropout;
    int layer_norm;
    int batch_size;
    double lr;
    double embedding_lr; /* tables' learning rate; 0 = lr */
    int optimizer;       /* nn_opt_kind */
    double momentum, weight_decay, eps;
    int wide_optimizer; /* first-order weights: 0 = as the tables, 1 = FTRL-Proximal */
    double ftrl_alpha, ftrl_beta, ftrl_l1, ftrl_l2;
    int warmup, lr_decay; /* steps; nn_decay */
    double init_scale;    /* embeddings ~ U(−a, a) */
    int shuffle;          /* shuffle rows within each row group per epoch */
    char architecture[LEAP_OPT_STR_MAX];
    char checkpoint[LEAP_OPT_STR_MAX];
    int checkpoint_every; /* steps; 0 = at epoch ends only (when checkpoint is set) */
    int resume;
    int halt_after;        /* tests: stop as if killed after this many steps (0 = never) */
    int predict_precision; /* DEEP_PREC_*: weight matrices when scoring */
} deep_opts;

enum { DEEP_PREC_F16, DEEP_PREC_F32, DEEP_PREC_I8 }; /* the option's order: f16|f32|i8 */

/* One block of the dense parameter buffer. */
enum { DEEP_INIT_ZERO, DEEP_INIT_ONE, DEEP_INIT_UNIFORM };

typedef struct deep_param {
    char name[24];
    size_t off;     /* first float in net.dense */
    int rows, cols; /* shape (a vector: rows 1) */
    int init, fan;  /* DEEP_INIT_*; UNIFORM: U(±1/sqrt(fan)) */
} deep_param;

typedef struct deep_mlp {
    int n, in;
    int w[DEEP_MAX_LAYERS];
    size_t W[DEEP_MAX_LAYERS], b[DEEP_MAX_LAYERS];  /* offsets in net.dense */
    size_t g[DEEP_MAX_LAYERS], be[DEEP_MAX_LAYERS]; /* layer norm gain/bias (when on) */
} deep_mlp;

/* The network's layout and parameters. */
typedef struct deep_net {
    deep_arch a;
    int hashed; /* fields share one hashed table */
    /* embeddings */
    size_t n_fields;
    nn_emb_field *ef;  /* [n_fields] */
    nn_emb lay;        /* the embedding layer over ef */
    size_t n_emb;      /* floats of all tables */
    size_t n_emb_rows; /* rows of all tables */
    int max_stride;
    int n_vec;              /* fields with a vector (FM, FFM and dot operands) */
    int vec_dim;            /* their common width, or 0 when they differ */
    int emb_width;          /* Σ vector widths: x0's first columns */
    int n_dense_in;         /* 2 per DENSE field fed as values */
    int D0;                 /* emb_width + n_dense_in */
    uint32_t *row_field_lo; /* spec layout: [n_fields] offsets, for key → field */
    /* dense parameters */
    size_t n_dense;
    deep_param *params;
    size_t n_params, cap_params;
    size_t off_bias;
    size_t off_gate; /* pair_gate: [1 + 2·DEEP_GATES]: the gate, then the progressive
                        statistics of the candidates (deep_gate_add; not trained) */
    deep_mlp bot, top;
    size_t cW[DEEP_MAX_LAYERS], cb[DEEP_MAX_LAYERS];
    int tower;    /* a tower computes a logit term */
    int top_in;   /* width of the top MLP's input */
    int n_dotvec; /* dot: vectors (bottom output + fields) */
    int n_pairs;
    size_t out_W; /* [last width][1] */
    int out_in;
    float *dense; /* [n_dense] */
    float *emb;   /* [n_emb] */
    /* what predictions read (deep_net_prepare_scoring): dense with its weight
     * matrices rounded to fp16 (infer_h holds them as fp16; vectors stay f32
     * and unused there), or quantised to int8 (infer holds q·s; infer_q the
     * int8 values; the column scales of the matrix at offset o lie at
     * infer_s[o, o + cols), the rest of infer_s unused and never touched), or,
     * with f32 scoring, a plain copy (infer_h, infer_q, infer_s NULL) */
    float *infer;      /* [n_dense] */
    uint16_t *infer_h; /* [n_dense] */
    int8_t *infer_q;   /* [n_dense] */
    float *infer_s;    /* [n_dense] */
} deep_net;

/* Activations and gradients of a block of up to cap rows (per thread, or per
 * prediction slot). One allocation. */
typedef struct deep_ws {
    int cap;
    float *x0, *wide, *fm_s, *fm_v, *ffm_v, *logit, *p, *dz;
    float *lin, *inter, *dzw; /* pair_gate: bias + first order, the rest, ∂/∂(first order);
                                 without it dzw is dz */
    float *bot_z[DEEP_MAX_LAYERS], *bot_a[DEEP_MAX_LAYERS], *bot_mu[DEEP_MAX_LAYERS],
        *bot_rs[DEEP_MAX_LAYERS];
    float *top_z[DEEP_MAX_LAYERS], *top_a[DEEP_MAX_LAYERS], *top_mu[DEEP_MAX_LAYERS],
        *top_rs[DEEP_MAX_LAYERS];
    float *dotT, *top, *cx[DEEP_MAX_LAYERS + 1], *cu[DEEP_MAX_LAYERS], *ct[DEEP_MAX_LAYERS];
    /* backward */
    float *dx0, *g1, *g2, *gc, *gct, *dtop, *dT, *dc1, *dc2;
    float *gd; /* [n_dense] dense gradient (training workspaces only) */
    float *buf;
} deep_ws;

/* Rows of a CSR block (the model reads rows [0, n) at row_ptr). */
typedef struct deep_rows {
    const uint32_t *row_ptr, *idx;
    const float *val;
    const uint16_t *field;
    int n;
} deep_rows;

/* The leap_model. */
typedef struct deep_model {
    leap_model base;
    deep_opts o;
    deep_net net;
    /* optimizer state (training only): dense s1, s2 [n_dense]; embeddings
     * es1, es2 [n_emb] (Adam m, v; SGD velocity in es1) or er [n_emb_rows][2]
     * (row-wise AdaGrad: the vector's accumulator, the first-order weight's) */
    float *ds1, *ds2, *es1, *es2, *er;
    float *ez; /* [n_emb_rows + 1][2] FTRL (z, n) of first-order weights and (last) of the
                  bias (wide_optimizer=ftrl) */
    int64_t step;
    /* prediction workspaces, taken with an atomic flag each */
    int n_slots;
    deep_ws *slots;
    atomic_int *slot_busy;
} deep_model;

/* ---- deep_arch.c ---- */
/* The preset of model family `name` with options o applied. */
int deep_arch_preset(const char *name, const deep_opts *o, deep_arch *a, leap_err *err);
/* Edits a with the YAML text (file:line:col errors, name = file name). */
int deep_arch_parse(const char *text, size_t len, const char *name, deep_arch *a, leap_err *err);
int deep_arch_load(const char *path, deep_arch *a, leap_err *err);
/* Canonical YAML of a (every key), appended to out. */
int deep_arch_write(const deep_arch *a, leap_buf *out);
/* "400,400,400" → widths. */
int deep_parse_widths(const char *s, const char *what, int *w, int *n, leap_err *err);

/* ---- deep_net.c ---- */
/* Lays out the network for featurizer fz (checks the architecture against the
 * fields) and allocates its parameters (zero): deep_net_layout, then
 * deep_net_alloc (a loader checks the sizes in between). */
int deep_net_init(deep_net *N, const deep_arch *a, const leap_featurizer *fz, leap_err *err);
int deep_net_layout(deep_net *N, const deep_arch *a, const leap_featurizer *fz, leap_err *err);
int deep_net_alloc(deep_net *N, leap_err *err);
void deep_net_free(deep_net *N);
/* Parameters from seed: dense U(±1/sqrt(fan in)), embeddings U(±init_scale), first-order 0. */
void deep_net_init_params(deep_net *N, uint64_t seed, float init_scale);
int deep_ws_init(deep_ws *W, const deep_net *N, int cap, int train);
void deep_ws_free(deep_ws *W);
/* Forward of rows R into W->logit[0, n). train: dropout with (seed, row0). */
void deep_forward(const deep_net *N, deep_ws *W, const deep_rows *R, int train, uint64_t seed,
                  uint64_t row0);
/* Backward after deep_forward(train = 1): dz = w·(σ(logit) − y) (scale 1), then
 * W->gd += dense gradients, W->dx0 = ∂/∂x0 and W->dzw = ∂/∂(first-order sum).
 * With pair_gate the gradients are those of Σ w·[ll(lin) + ll(sg(lin) + g·inter)]
 * (sg: no gradient flows into lin through the second term): the first-order
 * part learns as LR alone. Returns Σ w·logloss of the logit. */
double deep_backward(const deep_net *N, deep_ws *W, const deep_rows *R, const float *y,
                     const float *w, uint64_t seed, uint64_t row0);
/* Field whose table holds feature index key (-1: none). */
int deep_key_field(const deep_net *N, uint32_t key);
/* Makes the parameters predictions read from the current ones (after
 * training or loading; not thread-safe against predictions in flight).
 * DEEP_PREC_F16: every weight matrix is rounded to fp16 for batch and
 * one-row scoring alike, so both read the same values: one row runs
 * nn_gemv_f16 over half the bytes, a batch sgemm over their f32 copy. A
 * matrix that does not fit fp16's range (|w| > 65504) makes the whole net
 * score in f32. DEEP_PREC_I8 likewise with int8 and a scale per column
 * (nn_q8_quantise): one row runs nn_gemv_q8 over a quarter of the bytes, a
 * batch sgemm over q·s; a column int8 cannot hold makes the net score in
 * f32. Returns LEAP_ENOMEM or LEAP_OK. */
int deep_net_prepare_scoring(deep_net *N, int precision);
/* Scores rows of a batch with a prediction workspace (the prepared
 * parameters; the training ones when none were prepared). */
void deep_predict_rows(const deep_net *N, deep_ws *W, const deep_rows *R, float *p);

/* The large tables (parameters, optimizer state) come from leap_table_alloc
 * (core.h): mapped on demand, so state rows a run never touches cost nothing,
 * and advised as huge pages, since rows are read and updated at random. */

/* pair_gate's progressive statistics, stats[2·DEEP_GATES]: for the candidates
 * s_k = k / (DEEP_GATES − 1), stats[k] += w·ll(lin + s_k·rest) and
 * stats[DEEP_GATES + k] += (w·ll(lin + s_k·rest) − w·ll(lin))², for one row
 * scored before it was learned from. deep_gate_losses adds rows [0, n) of a
 * forward (lin, inter). */
void deep_gate_add(float *stats, double lin, double rest, float y, float w);
void deep_gate_losses(const deep_ws *W, int n, const float *y, const float *w, float *stats);
/* The gate the statistics choose: the candidate with the least summed loss among
 * those that beat s = 0 by two standard errors of the summed row differences
 * (Σd / sqrt(Σd²) ≤ −2); 0 when none does (the model is then LR), 1 when no
 * row was seen. */
float deep_gate_choose(const float *stats);

/* ---- deep_fit.c ---- */
int deep_fit(leap_model *m, leap_fit_io *io, leap_err *err);
/* Allocates the optimizer state (zero). */
int deep_alloc_state(deep_model *d, leap_err *err);

#endif
