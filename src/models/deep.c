/* deep.c — the embedding models behind leap_model_ops: fm, ffm, wide_deep,
 * deepfm, dcn_v2, dlrm (presets of one network, models/deep.h) and deep (an
 * architecture composed in YAML only). Option tables, create, prediction,
 * and the bundle payload. Training is deep_fit.c.
 *
 * Payload (little-endian; docs/FORMATS.md "Embedding models"):
 *   "LEAPDNN\0" u32 version=1  u32 arch_len  arch (canonical YAML, arch_len bytes)
 *   u64 n_dense  u64 n_emb  u64 steps  f32 dense[n_dense]  f32 emb[n_emb]
 * The architecture is stored, never re-read from the file the option names:
 * a bundle scores the same wherever it goes. The loader rebuilds the layout
 * from the stored architecture and the bundle's featurizer and refuses any
 * size that does not match, and any value that is not finite.
 */
#include "models/deep.h"

#include "nn/blas.h"
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* The option table of every embedding model; the defaults that differ per
 * family are macro arguments (one table per family, generated below). */
// clang-format off
#define DEEP_OPT_COMMON(DIM, HIDDEN, OPTI, LR, WOPT, BATCH, EPS, WD, SHUF)                                               \
    {"embedding_dim", LEAP_OPT_INT, offsetof(deep_opts, embedding_dim), DIM, 1, DEEP_MAX_DIM, NULL, \
     "embedding width per field (FFM: per field pair); a spec's hints override it"},               \
    {"hidden", LEAP_OPT_STRING, offsetof(deep_opts, hidden), 0, 0, 0, HIDDEN,                       \
     "MLP widths, e.g. 400,400,400 (wide_deep, deepfm, dcn_v2; dlrm's top MLP)"},                 \
    {"bottom", LEAP_OPT_STRING, offsetof(deep_opts, bottom), 0, 0, 0, "64",                         \
     "dlrm: bottom MLP widths over DENSE features (then embedding_dim)"},                          \
    {"cross_layers", LEAP_OPT_INT, offsetof(deep_opts, cross_layers), 3, 0, DEEP_MAX_LAYERS, NULL,  \
     "dcn_v2: cross layers"},                                                                      \
    {"cross_rank", LEAP_OPT_INT, offsetof(deep_opts, cross_rank), 0, 0, 65536, NULL,                \
     "dcn_v2: 0 = full-rank cross weights, r = low rank r"},                                       \
    {"dropout", LEAP_OPT_FLOAT, offsetof(deep_opts, dropout), 0, 0, 0.95, NULL,                     \
     "dropout after every MLP ReLU (training only)"},                                              \
    {"layer_norm", LEAP_OPT_BOOL, offsetof(deep_opts, layer_norm), 0, 0, 1, NULL,                   \
     "layer norm between every MLP linear and its ReLU"},                                          \
    {"batch_size", LEAP_OPT_INT, offsetof(deep_opts, batch_size), BATCH, 1, 1 << 20, NULL,          \
     "rows per optimizer step (all ranks together)"},                                              \
    {"lr", LEAP_OPT_FLOAT, offsetof(deep_opts, lr), LR, 1e-7, 100, NULL, "learning rate"},          \
    {"embedding_lr", LEAP_OPT_FLOAT, offsetof(deep_opts, embedding_lr), 0, 0, 100, NULL,            \
     "learning rate of the embedding tables and first-order weights (0 = lr)"},                   \
    {"optimizer", LEAP_OPT_ENUM, offsetof(deep_opts, optimizer), OPTI, 0, 2, "adam|adagrad|sgd",    \
     "Adam (sparse for embeddings), AdaGrad (row-wise for embeddings), SGD+momentum"},            \
    {"momentum", LEAP_OPT_FLOAT, offsetof(deep_opts, momentum), 0.9, 0, 0.999, NULL,                \
     "sgd: momentum"},                                                                             \
    {"weight_decay", LEAP_OPT_FLOAT, offsetof(deep_opts, weight_decay), WD, 0, 10, NULL,            \
     "L2 added to every gradient (embeddings: rows a step touches)"},                              \
    {"eps", LEAP_OPT_FLOAT, offsetof(deep_opts, eps), EPS, 1e-12, 1, NULL,                          \
     "adam, adagrad: denominator epsilon (adagrad: plays FTRL's beta)"},                           \
    {"wide_optimizer", LEAP_OPT_ENUM, offsetof(deep_opts, wide_optimizer), WOPT, 0, 1, "same|ftrl", \
     "first-order weights: the tables' optimizer, or FTRL-Proximal"},                             \
    {"ftrl_alpha", LEAP_OPT_FLOAT, offsetof(deep_opts, ftrl_alpha), 0.05, 1e-6, 100, NULL,          \
     "wide_optimizer=ftrl: learning-rate scale"},                                                  \
    {"ftrl_beta", LEAP_OPT_FLOAT, offsetof(deep_opts, ftrl_beta), 1, 0, 1e6, NULL,                  \
     "wide_optimizer=ftrl: learning-rate smoothing"},                                              \
    {"ftrl_l1", LEAP_OPT_FLOAT, offsetof(deep_opts, ftrl_l1), 0.5, 0, 1e6, NULL,                    \
     "wide_optimizer=ftrl: L1 on summed gradients"},                                               \
    {"ftrl_l2", LEAP_OPT_FLOAT, offsetof(deep_opts, ftrl_l2), 1, 0, 1e6, NULL,                      \
     "wide_optimizer=ftrl: L2 on summed gradients"},                                               \
    {"warmup", LEAP_OPT_INT, offsetof(deep_opts, warmup), 0, 0, 1e9, NULL,                          \
     "steps of linear learning-rate warmup"},                                                      \
    {"lr_decay", LEAP_OPT_ENUM, offsetof(deep_opts, lr_decay), 0, 0, 2, "none|linear|cosine",       \
     "learning-rate decay to 0 at the last step"},                                                 \
    {"init_scale", LEAP_OPT_FLOAT, offsetof(deep_opts, init_scale), 0.05, 0, 10, NULL,              \
     "embeddings start U(-a, a)"},                                                                 \
    {"shuffle", LEAP_OPT_BOOL, offsetof(deep_opts, shuffle), SHUF, 0, 1, NULL,                      \
     "shuffle the rows of each row group every epoch (fm, ffm: off, as lr reads them)"},                                            \
    {"architecture", LEAP_OPT_STRING, offsetof(deep_opts, architecture), 0, 0, 0, "",               \
     "YAML file that edits the model's architecture (docs/FORMATS.md)"},                          \
    {"checkpoint", LEAP_OPT_STRING, offsetof(deep_opts, checkpoint), 0, 0, 0, "",                   \
     "training state file, written every checkpoint_every steps and each epoch"},                  \
    {"checkpoint_every", LEAP_OPT_INT, offsetof(deep_opts, checkpoint_every), 0, 0, 1e9, NULL,      \
     "steps between checkpoints (0: epoch ends only)"},                                            \
    {"resume", LEAP_OPT_BOOL, offsetof(deep_opts, resume), 0, 0, 1, NULL,                           \
     "continue from the checkpoint file when it exists"},                                          \
    {"halt_after", LEAP_OPT_INT, offsetof(deep_opts, halt_after), 0, 0, 1e9, NULL,                  \
     "testing: fail after this many steps, as if killed (0 = never)"},                             \
    {"predict_precision", LEAP_OPT_ENUM, offsetof(deep_opts, predict_precision), DEEP_PREC_F16, 0, \
     2, "f16|f32|i8", "weight matrices when scoring: rounded to fp16 (one row reads half the " \
     "bytes), exact, or int8 with a scale per column (a quarter of the bytes)"},

#define DEEP_TABLE(var, comp, DIM, HIDDEN, OPTI, LR, WOPT, BATCH, EPS, WD, SHUF)                 \
    static const leap_opt_def var##_defs[] = {                                                     \
        DEEP_OPT_COMMON(DIM, HIDDEN, OPTI, LR, WOPT, BATCH, EPS, WD, SHUF)};                             \
    static const leap_opt_table var##_table = {comp, var##_defs,                                   \
                                               sizeof var##_defs / sizeof var##_defs[0]};

/* FM and FFM: the first-order part is LR's FTRL-Proximal, row by row in data order (pair_gate,
 * docs/ARCHITECTURE.md), AdaGrad vectors whose eps plays FTRL's beta, small batches; the deep
 * models: Adam, batch 1024. FM's weight decay and FFM's none were chosen on validation splits
 * of the training rows (docs/PERFORMANCE.md). */
/*         table name  component          dim hidden         optimizer       lr     wide  batch eps   wd    shuffle */
DEEP_TABLE(fm,   "model fm",        8,  "",            NN_OPT_ADAGRAD, 0.05,  1,    32,   0.03, 0.01, 0)
DEEP_TABLE(ffm,  "model ffm",       4,  "",            NN_OPT_ADAGRAD, 0.05,  1,    32,   0.03, 0,    0)
DEEP_TABLE(wd,   "model wide_deep", 16, "400,400,400", NN_OPT_ADAM,    0.001, 0,    1024, 1e-8, 0,    1)
DEEP_TABLE(dfm,  "model deepfm",    16, "400,400,400", NN_OPT_ADAM,    0.001, 0,    1024, 1e-8, 0,    1)
DEEP_TABLE(dcn,  "model dcn_v2",    16, "400,400,400", NN_OPT_ADAM,    0.001, 0,    1024, 1e-8, 0,    1)
DEEP_TABLE(dlrm, "model dlrm",      16, "400,400,400", NN_OPT_ADAM,    0.001, 0,    1024, 1e-8, 0,    1)
DEEP_TABLE(deep, "model deep",      16, "",            NN_OPT_ADAM,    0.001, 0,    1024, 1e-8, 0,    1)
// clang-format on

static void deep_destroy(leap_model *m) {
    deep_model *d = (deep_model *)m;
    if (!d) return;
    for (int i = 0; d->slots && i < d->n_slots; i++)
        deep_ws_free(&d->slots[i]);
    free(d->slots);
    free(d->slot_busy);
    free(d->ds1);
    free(d->ds2);
    leap_table_free(d->es1, d->net.n_emb, sizeof(float));
    leap_table_free(d->es2, d->net.n_emb, sizeof(float));
    leap_table_free(d->er, 2 * d->net.n_emb_rows, sizeof(float));
    leap_table_free(d->ez, 2 * (d->net.n_emb_rows + 1), sizeof(float));
    deep_net_free(&d->net);
    free(d);
}

/* A model with its layout and prediction workspaces; parameters zero. A
 * loader passes the sizes its payload declares (want_dense, want_emb; else
 * SIZE_MAX): a mismatch is refused before anything large is allocated. */
static int deep_make(const leap_model_ops *ops, const void *opts, const deep_arch *a,
                     const leap_featurizer *fz, size_t want_dense, size_t want_emb,
                     deep_model **out, leap_err *err) {
    deep_model *d = calloc(1, sizeof *d);
    if (!d) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    d->base.ops = ops;
    d->o = *(const deep_opts *)opts;
    int rc = deep_net_layout(&d->net, a, fz, err);
    if (!rc && want_dense != SIZE_MAX && (want_dense != d->net.n_dense || want_emb != d->net.n_emb))
        rc = leap_err_set(err, LEAP_ECORRUPT,
                          "%zu dense and %zu embedding values stored; the architecture and "
                          "featurizer need %zu and %zu",
                          want_dense, want_emb, d->net.n_dense, d->net.n_emb);
    if (!rc) rc = deep_net_alloc(&d->net, err);
    if (rc) {
        char m[512];
        snprintf(m, sizeof m, "%s", err ? err->msg : "");
        leap_err_set(err, rc, "%s: %s", ops->name, m);
        deep_destroy(&d->base);
        return rc;
    }
    /* Parallelism is ours (threads split a mini-batch; scoring threads call
     * predict_batch concurrently): OpenBLAS's own pool would oversubscribe
     * the cores and spin in sched_yield around every small product. */
    openblas_set_num_threads(1);
    int n = leap_num_cpus(); /* one per core; more callers at once wait their turn */
    d->n_slots = n < 4 ? 4 : n > 64 ? 64 : n;
    d->slots = calloc((size_t)d->n_slots, sizeof *d->slots);
    d->slot_busy = calloc((size_t)d->n_slots, sizeof *d->slot_busy);
    if (!d->slots || !d->slot_busy) goto oom;
    for (int i = 0; i < d->n_slots; i++)
        if (deep_ws_init(&d->slots[i], &d->net, DEEP_PRED_ROWS, 0)) goto oom;
    *out = d;
    return LEAP_OK;
oom:
    deep_destroy(&d->base);
    return leap_err_set(err, LEAP_ENOMEM, "out of memory");
}

static int deep_create(const leap_model_ops *ops, const void *opts, const leap_featurizer *fz,
                       leap_model **out, leap_err *err) {
    const deep_opts *o = opts;
    deep_arch a;
    int rc = deep_arch_preset(ops->name, o, &a, err);
    if (rc) return rc;
    if (o->architecture[0]) {
        if ((rc = deep_arch_load(o->architecture, &a, err))) return rc;
    } else if (!strcmp(ops->name, "deep")) {
        return leap_err_set(err, LEAP_EINVAL,
                            "model deep is composed in YAML: --set architecture=FILE.yaml");
    }
    deep_model *d;
    if ((rc = deep_make(ops, opts, &a, fz, SIZE_MAX, SIZE_MAX, &d, err))) return rc;
    if (deep_net_prepare_scoring(&d->net, o->predict_precision)) {
        deep_destroy(&d->base);
        return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    }
    *out = &d->base;
    return LEAP_OK;
}

static void deep_predict_batch(const leap_model *m, const leap_fbatch *b, float *p) {
    deep_model *d = (deep_model *)m;
    int s = 0;
    for (;; s = (s + 1) % d->n_slots) { /* a free workspace; callers > slots wait their turn */
        int zero = 0;
        if (atomic_compare_exchange_strong(&d->slot_busy[s], &zero, 1)) break;
        if (s == d->n_slots - 1) sched_yield();
    }
    deep_rows R = {b->row_ptr, b->idx, b->val, b->field, (int)b->n_rows};
    deep_predict_rows(&d->net, &d->slots[s], &R, p);
    atomic_store(&d->slot_busy[s], 0);
}

#define PAYLOAD_MAGIC   "LEAPDNN"
#define PAYLOAD_VERSION 1

/* `leap inspect`: for pair_gate models the gate chosen and the evidence it was chosen on
 * (each candidate's progressive log loss minus the first order's alone, summed over the
 * rows scored, and that difference over its standard error); the one-row kernel. */
static void deep_describe(const leap_model *m, const leap_featurizer *fz, FILE *f) {
    const deep_model *d = (const deep_model *)m;
    const deep_net *N = &d->net;
    if (N->a.pair_gate) {
        const float *g = N->dense + N->off_gate, *st = g + 1;
        fprintf(f, "deep.pair_gate               %g%s\n", (double)g[0],
                g[0] == 0.f ? " (pairs unused: scores are the first order's)" : "");
        if (st[0] != 0.f) {
            fprintf(f, "deep.pair_gate.evidence      summed log loss minus the first order's:");
            for (int k = 1; k < DEEP_GATES; k++) {
                double dl = (double)st[k] - st[0], v = st[DEEP_GATES + k];
                fprintf(f, " %g: %+.4g (z %+.1f)", (double)k / (DEEP_GATES - 1), dl,
                        v > 0 ? dl / sqrt(v) : 0.0);
            }
            fprintf(f, "\n");
        }
    }
    fprintf(f, "deep.one_row_kernel          %s\n", nn_half_kernel_name(nn_half_kernel()));
}

static int deep_save(const leap_model *m, leap_buf *out, leap_err *err) {
    const deep_model *d = (const deep_model *)m;
    const deep_net *N = &d->net;
    leap_buf arch = {0};
    uint8_t h[16];
    memcpy(h, PAYLOAD_MAGIC, 8);
    leap_put_u32(h + 8, PAYLOAD_VERSION);
    int rc = deep_arch_write(&N->a, &arch);
    leap_put_u32(h + 12, (uint32_t)arch.len);
    uint8_t n[24];
    leap_put_u64(n, N->n_dense);
    leap_put_u64(n + 8, N->n_emb);
    leap_put_u64(n + 16, (uint64_t)d->step);
    if (rc || leap_buf_append(out, h, sizeof h) || leap_buf_append(out, arch.p, arch.len) ||
        leap_buf_append(out, n, sizeof n) ||
        leap_buf_append(out, N->dense, N->n_dense * sizeof(float)) ||
        leap_buf_append(out, N->emb, N->n_emb * sizeof(float)))
        rc = leap_err_set(err, LEAP_ENOMEM, "%s: out of memory while saving", m->ops->name);
    leap_buf_free(&arch);
    return rc;
}

static int deep_load(const leap_model_ops *ops, const void *opts, const leap_featurizer *fz,
                     const uint8_t *buf, size_t len, leap_model **out, leap_err *err) {
    const char *nm = ops->name;
    if (len < 16 || memcmp(buf, PAYLOAD_MAGIC, 8))
        return leap_err_set(err, LEAP_ECORRUPT, "%s payload: bad magic", nm);
    uint32_t ver = leap_get_u32(buf + 8), alen = leap_get_u32(buf + 12);
    if (ver != PAYLOAD_VERSION)
        return leap_err_set(err, ver > PAYLOAD_VERSION ? LEAP_EVERSION : LEAP_ECORRUPT,
                            "%s payload: version %u (this leap reads %d)", nm, ver,
                            PAYLOAD_VERSION);
    if (alen > len - 16 || len - 16 - alen < 24)
        return leap_err_set(err, LEAP_ECORRUPT, "%s payload: truncated (%zu bytes)", nm, len);
    deep_arch a;
    memset(&a, 0, sizeof a);
    a.embedding_dim = 16;
    char an[64];
    snprintf(an, sizeof an, "%s payload architecture", nm);
    int rc = deep_arch_parse((const char *)buf + 16, alen, an, &a, err);
    if (rc) {
        char m[512];
        snprintf(m, sizeof m, "%s", err ? err->msg : "");
        return leap_err_set(err, LEAP_ECORRUPT, "%s", m);
    }
    const uint8_t *p = buf + 16 + alen;
    uint64_t nd = leap_get_u64(p), ne = leap_get_u64(p + 8), steps = leap_get_u64(p + 16);
    p += 24;
    size_t rest = len - 16 - alen - 24;
    if (nd > rest / sizeof(float) || ne > rest / sizeof(float) - nd ||
        rest != (nd + ne) * sizeof(float))
        return leap_err_set(err, LEAP_ECORRUPT,
                            "%s payload: %llu dense and %llu embedding values do not fill %zu "
                            "bytes",
                            nm, (unsigned long long)nd, (unsigned long long)ne, rest);
    deep_model *d;
    if ((rc = deep_make(ops, opts, &a, fz, (size_t)nd, (size_t)ne, &d, err))) {
        char m[512];
        snprintf(m, sizeof m, "%s", err ? err->msg : "");
        return leap_err_set(err, LEAP_ECORRUPT, "%s payload does not fit the bundle: %s", nm, m);
    }
    const deep_net *N = &d->net;
    memcpy(d->net.dense, p, N->n_dense * sizeof(float));
    memcpy(d->net.emb, p + N->n_dense * sizeof(float), N->n_emb * sizeof(float));
    for (size_t i = 0; i < N->n_dense; i++)
        if (!isfinite(N->dense[i])) {
            deep_destroy(&d->base);
            return leap_err_set(err, LEAP_ECORRUPT, "%s payload: parameter %zu is not finite", nm,
                                i);
        }
    for (size_t i = 0; i < N->n_emb; i++)
        if (!isfinite(N->emb[i])) {
            deep_destroy(&d->base);
            return leap_err_set(err, LEAP_ECORRUPT, "%s payload: embedding value %zu is not finite",
                                nm, i);
        }
    d->step = (int64_t)steps;
    if (deep_net_prepare_scoring(&d->net, d->o.predict_precision)) {
        deep_destroy(&d->base);
        return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    }
    *out = &d->base;
    return LEAP_OK;
}

/* One ops table per family: the same functions, another preset. */
#define DEEP_MODEL(var, NAME, HELP, TABLE)                                                         \
    extern const leap_model_ops leap_model_##var;                                                  \
    static int mk_##var##_create(const void *o, const leap_featurizer *fz, leap_model **out,       \
                                 leap_err *err) {                                                  \
        return deep_create(&leap_model_##var, o, fz, out, err);                                    \
    }                                                                                              \
    static int mk_##var##_load(const void *o, const leap_featurizer *fz, const uint8_t *buf,       \
                               size_t len, leap_model **out, leap_err *err) {                      \
        return deep_load(&leap_model_##var, o, fz, buf, len, out, err);                            \
    }                                                                                              \
    const leap_model_ops leap_model_##var = {.name = NAME,                                         \
                                             .help = HELP,                                         \
                                             .opts = &TABLE,                                       \
                                             .opts_size = sizeof(deep_opts),                       \
                                             .create = mk_##var##_create,                          \
                                             .destroy = deep_destroy,                              \
                                             .train_batch = NULL,                                  \
                                             .predict_batch = deep_predict_batch,                  \
                                             .state = NULL,                                        \
                                             .refresh = NULL,                                      \
                                             .fit = deep_fit,                                      \
                                             .save = deep_save,                                    \
                                             .load = mk_##var##_load,                              \
                                             .describe = deep_describe};

DEEP_MODEL(fm, "fm", "factorization machine (Rendle 2010): first order + FM pairs", fm_table)
DEEP_MODEL(ffm, "ffm", "field-aware factorization machine (Juan et al. 2016)", ffm_table)
DEEP_MODEL(wide_deep, "wide_deep", "Wide & Deep: first order + MLP over embeddings", wd_table)
DEEP_MODEL(deepfm, "deepfm", "DeepFM: first order + FM + MLP over shared embeddings", dfm_table)
DEEP_MODEL(dcn_v2, "dcn_v2", "DCN-v2: cross layers, then an MLP, over embeddings", dcn_table)
DEEP_MODEL(dlrm, "dlrm", "DLRM-style: bottom MLP, pairwise dots, top MLP", dlrm_table)
DEEP_MODEL(deep, "deep", "a network composed in YAML (--set architecture=FILE.yaml)", deep_table)
