/* Unit tests for the embedding models (src/models/deep*.c): the gradient of
 * the whole network of every family (and of YAML-composed ones) against
 * central finite differences, on hashed and on spec featurizers (DENSE
 * fields, multi-valued fields, example weights); training determinism and
 * resume from a checkpoint reaching the very model of an uninterrupted run;
 * payload round trip and refusal of damaged payloads; architecture files
 * with FILE:LINE:COL errors.
 *
 * Finite differences: L = Σ w·logloss over a batch of 6 rows, forward in
 * float, parameters of scale 0.1–0.5; central differences with h = 1e-2,
 * 3e-3 or 1e-3 (the first that matches: a ReLU kink within h of the point
 * spoils the larger steps only); tolerance |num − ana| ≤ 2e-3 + 2e-2·|ana|
 * (float rounding of a loss ~5 over 2h is ≤ 1e-3, plus O(h²) curvature). */
#include "harness.h"
#include "leap/bundle.h"
#include "models/deep.h"

#include <unistd.h>

/* ---- featurizers ---------------------------------------------------------- */

/* Four categorical columns hashed into 256 shared buckets. */
static void hashed_fz(leap_featurizer *fz) {
    leap_column_def cols[5] = {{"label", LEAP_COL_LABEL, 0},
                               {"C1", LEAP_COL_CATEGORICAL, 0},
                               {"C2", LEAP_COL_CATEGORICAL, 0},
                               {"C3", LEAP_COL_CATEGORICAL, 0},
                               {"C4", LEAP_COL_CATEGORICAL, 0}};
    leap_schema s = {5, cols};
    leap_fz_opts o = {8, 0};
    leap_err err = {0};
    leap_featurizer_init(fz, &o, &s, &err);
}

/* A spec-style layout: two vocabularies (one multi-valued), two DENSE fields. */
static void spec_fz(leap_featurizer *fz) {
    memset(fz, 0, sizeof *fz);
    static const struct {
        const char *name;
        leap_fz_kind kind;
        uint32_t card;
        uint8_t multi;
    } F[4] = {{"C1", LEAP_FZ_KIND_CATEGORICAL, 10, 0},
              {"tags", LEAP_FZ_KIND_CATEGORICAL, 7, 1},
              {"I1", LEAP_FZ_KIND_DENSE, 2, 0},
              {"I2", LEAP_FZ_KIND_DENSE, 2, 0}};
    fz->n_fields = 4;
    fz->fields = calloc(4, sizeof *fz->fields);
    uint32_t off = 0;
    for (int i = 0; i < 4; i++) {
        snprintf(fz->fields[i].name, LEAP_NAME_MAX, "%s", F[i].name);
        snprintf(fz->fields[i].column, LEAP_NAME_MAX, "%s", F[i].name);
        fz->fields[i].kind = F[i].kind;
        fz->fields[i].offset = off;
        fz->fields[i].card = F[i].card;
        fz->fields[i].multi = F[i].multi;
        off += F[i].card;
    }
    fz->n_buckets = off;
}

/* A batch of n rows: hashed (4 fields, one entry each, values 1) or spec
 * (C1 one entry, tags 0-2 weighted entries, I1/I2 a value or missing). */
static void make_batch(leap_fbatch *b, int n, int spec, uint64_t seed) {
    memset(b, 0, sizeof *b);
    size_t cap = (size_t)n * 8;
    b->row_ptr = calloc((size_t)n + 1, sizeof *b->row_ptr);
    b->idx = calloc(cap, sizeof *b->idx);
    b->val = calloc(cap, sizeof *b->val);
    b->field = calloc(cap, sizeof *b->field);
    b->label = calloc((size_t)n, sizeof *b->label);
    b->weight = calloc((size_t)n, sizeof *b->weight);
    leap_rng r = {seed};
    uint32_t k = 0;
    for (int i = 0; i < n; i++) {
        uint64_t a = leap_rng_next(&r);
        if (!spec) {
            for (int f = 0; f < 4; f++) {
                /* a skewed mix so some buckets repeat across rows */
                uint32_t v = (uint32_t)(leap_rng_next(&r) % (f == 0 ? 3 : 40));
                b->idx[k] = (uint32_t)(leap_mix64(v, (uint64_t)f) % 256);
                b->val[k] = 1.f;
                b->field[k++] = (uint16_t)f;
            }
        } else {
            b->idx[k] = (uint32_t)(a % 10);
            b->val[k] = 1.f;
            b->field[k++] = 0;
            int nt = (int)((a >> 8) % 3);
            if (nt == 0) {
                b->idx[k] = 10; /* tags missing: local 0 */
                b->val[k] = 1.f;
                b->field[k++] = 1;
            }
            for (int j = 0; j < nt; j++) {
                b->idx[k] = 10 + 1 + (uint32_t)((a >> (16 + 4 * j)) % 6);
                b->val[k] = 0.5f + 0.25f * (float)j;
                b->field[k++] = 1;
            }
            for (int f = 2; f < 4; f++) {
                uint32_t off = f == 2 ? 17 : 19;
                if ((a >> (40 + f)) & 1) {
                    b->idx[k] = off;
                    b->val[k] = 1.f;
                } else {
                    b->idx[k] = off + 1;
                    b->val[k] = (float)((double)((a >> (44 + 4 * f)) & 15) / 8.0 - 0.9);
                }
                b->field[k++] = (uint16_t)f;
            }
        }
        b->row_ptr[i + 1] = k;
        b->label[i] = (float)((a >> 60) & 1);
        b->weight[i] = 0.5f + (float)((a >> 56) & 3) * 0.5f;
    }
    b->n_rows = (size_t)n;
    b->row_cap = (size_t)n;
    b->nnz_cap = cap;
}

/* ---- whole-network gradient check -------------------------------------------- */

typedef struct gctx {
    deep_net *N;
    deep_ws *W;
    deep_rows R;
    const leap_fbatch *b;
    float lin0[8]; /* pair_gate: the first-order logits at the unperturbed point */
} gctx;

/* With pair_gate the backward's objective is Σ w·[ll(lin) + ll(sg(lin) + g·inter)]:
 * the stop-gradient sg(lin) is the unperturbed lin0. */
static double net_loss(void *v) {
    gctx *G = v;
    deep_forward(G->N, G->W, &G->R, 1, 77, 0);
    if (G->N->a.pair_gate) {
        float z[8], g = G->N->dense[G->N->off_gate];
        for (int r = 0; r < G->R.n; r++)
            z[r] = G->lin0[r] + g * G->W->inter[r];
        return nn_logloss(G->R.n, G->W->lin, G->b->label, G->b->weight, 1.f, NULL, NULL) +
               nn_logloss(G->R.n, z, G->b->label, G->b->weight, 1.f, NULL, NULL);
    }
    return nn_logloss(G->R.n, G->W->logit, G->b->label, G->b->weight, 1.f, NULL, NULL);
}

/* A coordinate passes when the central difference matches at one of four
 * steps: near a ReLU kink the larger steps straddle it, the smaller converge
 * to the derivative; a wrong gradient fails at all of them. A coordinate
 * where even the smallest step straddles a kink (its forward and backward
 * one-sided differences disagree) is skipped and counted in g_skipped. */
static int g_skipped, g_checked;
static int fd_net(const char *what, float *x, const float *g, size_t n, gctx *G, size_t limit) {
    static const float hs[4] = {1e-2f, 3e-3f, 1e-3f, 3e-4f};
    size_t step = n > limit ? n / limit : 1;
    int bad = 0;
    double l0 = net_loss(G);
    for (size_t i = 0; i < n; i += step) {
        float x0 = x[i];
        double ana = g[i], num = 0, tol = 2e-3 + 2e-2 * fabs(ana);
        int ok = 0, kink = 0;
        for (int k = 0; k < 4 && !ok; k++) {
            x[i] = x0 + hs[k];
            double lp = net_loss(G);
            x[i] = x0 - hs[k];
            double lm = net_loss(G);
            x[i] = x0;
            num = (lp - lm) / (2.0 * hs[k]);
            ok = fabs(num - ana) <= tol;
            kink = fabs((lp - l0) - (l0 - lm)) / hs[k] > tol;
        }
        g_checked++;
        if (!ok && kink) {
            g_skipped++;
        } else if (!ok) {
            if (bad < 3)
                fprintf(stderr, "  %s[%zu]: numeric %.6g analytic %.6g\n", what, i, num, ana);
            bad++;
        }
    }
    net_loss(G);
    return bad;
}

static int check_arch(const char *model, const char *yaml, int spec, const char *opts_kv) {
    leap_featurizer fz;
    if (spec)
        spec_fz(&fz);
    else
        hashed_fz(&fz);
    const leap_model_ops *ops = leap_model_find(model);
    deep_opts o;
    leap_opts_defaults(ops->opts, &o);
    leap_err err = {0};
    /* small nets: widths 5,4; cross 2 layers; dim 3 */
    const char *items[8] = {"embedding_dim=3", "hidden=5,4", "cross_layers=2", "bottom=4"};
    size_t ni = 4;
    if (opts_kv) items[ni++] = opts_kv;
    const leap_opt_table *t[1] = {ops->opts};
    void *objs[1] = {&o};
    if (leap_opts_apply(t, objs, 1, items, ni, &err)) {
        fprintf(stderr, "  %s\n", err.msg);
        return -1;
    }
    deep_arch a;
    if (deep_arch_preset(model, &o, &a, &err) ||
        (yaml && deep_arch_parse(yaml, strlen(yaml), "test.yaml", &a, &err))) {
        fprintf(stderr, "  %s\n", err.msg);
        return -1;
    }
    deep_net N;
    if (deep_net_init(&N, &a, &fz, &err)) {
        fprintf(stderr, "  %s: %s\n", model, err.msg);
        deep_net_free(&N);
        leap_featurizer_free(&fz);
        return -1;
    }
    deep_net_init_params(&N, 5, 0.3f);
    /* first-order weights and biases away from 0 too, so their paths are exercised */
    for (size_t i = 0; i < N.n_emb; i++)
        if (N.emb[i] == 0.f) N.emb[i] = nn_uniform(9, i, 0.3f);
    for (size_t i = 0; i < N.n_dense; i++)
        if (N.dense[i] == 0.f) N.dense[i] = nn_uniform(11, i, 0.2f);
    leap_fbatch b;
    make_batch(&b, 6, spec, 1234);
    deep_ws W;
    deep_ws_init(&W, &N, 8, 1);
    gctx G = {&N, &W, {b.row_ptr, b.idx, b.val, b.field, 6}, &b, {0}};
    net_loss(&G);
    if (N.a.pair_gate) {
        N.dense[N.off_gate] = 0.7f; /* a gate other than 1, so its scaling is checked */
        net_loss(&G);
        memcpy(G.lin0, W.lin, 6 * sizeof *W.lin);
    }
    deep_backward(&N, &W, &G.R, b.label, b.weight, 77, 0);
    float *gd = malloc(N.n_dense * sizeof *gd), *dT = calloc(N.n_emb, sizeof *dT);
    memcpy(gd, W.gd, N.n_dense * sizeof *gd);
    nn_embed_bwd_dense(&N.lay, 6, NULL, b.row_ptr, b.idx, b.val, b.field, W.dx0, N.D0, W.dzw, dT);
    int bad = 0;
    for (size_t p = 0; p < N.n_params; p++) {
        const deep_param *P = &N.params[p];
        if (!strncmp(P->name, "gate", 4)) continue; /* set by validation, not trained */
        char nm[64];
        snprintf(nm, sizeof nm, "%s:%s", model, P->name);
        bad += fd_net(nm, N.dense + P->off, gd + P->off, (size_t)P->rows * P->cols, &G, 40);
    }
    /* embedding values of the rows the batch touches */
    for (size_t k = 0; k < b.row_ptr[6]; k++) {
        const nn_emb_field *e = &N.ef[b.field[k]];
        size_t off = e->base + (size_t)(b.idx[k] - e->offset) * e->stride;
        char nm[64];
        snprintf(nm, sizeof nm, "%s:emb(%u)", model, b.idx[k]);
        bad += fd_net(nm, N.emb + off, dT + off, e->stride, &G, 100);
    }
    free(gd);
    free(dT);
    deep_ws_free(&W);
    deep_net_free(&N);
    leap_fbatch_free(&b);
    leap_featurizer_free(&fz);
    return bad;
}

TEST(gradients_of_every_model_family_match_finite_differences) {
    g_skipped = g_checked = 0;
    const char *models[] = {"fm", "ffm", "wide_deep", "deepfm", "dcn_v2", "dlrm"};
    for (int i = 0; i < 6; i++) {
        ASSERT_EQ_INT(check_arch(models[i], NULL, 0, NULL), 0);
        ASSERT_EQ_INT(check_arch(models[i], NULL, 1, NULL), 0);
    }
    ASSERT_TRUE(g_checked > 1000);
    ASSERT_TRUE(g_skipped * 100 <= g_checked);
    printf("  checked %d coordinates, %d skipped at kinks\n", g_checked, g_skipped);
}

TEST(gradients_of_variants_match_finite_differences) {
    g_skipped = g_checked = 0;
    /* low-rank cross, parallel structure, layer norm, dropout (fixed mask), dense as
     * embeddings in a DLRM, a cross without MLP, FM next to a dot interaction */
    ASSERT_EQ_INT(check_arch("dcn_v2", NULL, 1, "cross_rank=2"), 0);
    ASSERT_EQ_INT(check_arch("dcn_v2", "cross: {layers: 2, structure: parallel}\n", 1, NULL), 0);
    ASSERT_EQ_INT(check_arch("deepfm", NULL, 1, "layer_norm=true"), 0);
    ASSERT_EQ_INT(check_arch("wide_deep", NULL, 0, "dropout=0.3"), 0);
    ASSERT_EQ_INT(check_arch("dlrm", "dense: embed\n", 1, NULL), 0);
    ASSERT_EQ_INT(check_arch("deep", "cross: 3\nwide: true\n", 0, NULL), 0);
    ASSERT_EQ_INT(check_arch("deep", "interaction: dot\nfm: true\nmlp: [6]\nbottom_mlp: []\n", 1,
                             "layer_norm=true"),
                  0);
    ASSERT_EQ_INT(check_arch("deep",
                             "embedding_dim: 2\nfields: {C1: 4, tags: 3}\nmlp: [5]\n"
                             "cross: {layers: 1, rank: 1}\n",
                             1, NULL),
                  0);
    /* kinks are rare: a few coordinates of thousands */
    ASSERT_TRUE(g_checked > 1000);
    ASSERT_TRUE(g_skipped * 100 <= g_checked);
    printf("  checked %d coordinates, %d skipped at kinks\n", g_checked, g_skipped);
}

/* ---- architecture files -------------------------------------------------------- */

TEST(architecture_yaml_errors_name_file_line_col) {
    deep_arch a;
    memset(&a, 0, sizeof a);
    leap_err err = {0};
    const char *bad1 = "mlp: [400, 400]\ncross: {layers: 2, rnak: 4}\n";
    ASSERT_EQ_INT(deep_arch_parse(bad1, strlen(bad1), "a.yaml", &a, &err), LEAP_EPARSE);
    ASSERT_STR_CONTAINS(err.msg, "a.yaml:2:20: cross: unknown key 'rnak'");
    const char *bad2 = "embedding_dim: 16\nmlp: [400, -3]\n";
    ASSERT_EQ_INT(deep_arch_parse(bad2, strlen(bad2), "a.yaml", &a, &err), LEAP_EPARSE);
    ASSERT_STR_CONTAINS(err.msg, "a.yaml:2:12: mlp must be an integer in [1, 65536]");
    const char *bad3 = "interaction: cross\n";
    ASSERT_EQ_INT(deep_arch_parse(bad3, strlen(bad3), "a.yaml", &a, &err), LEAP_EPARSE);
    ASSERT_STR_CONTAINS(err.msg, "a.yaml:1:14: interaction must be one of: none, dot");
    const char *bad4 = "mlp: [1, 2\n";
    ASSERT_EQ_INT(deep_arch_parse(bad4, strlen(bad4), "a.yaml", &a, &err), LEAP_EPARSE);
    ASSERT_STR_CONTAINS(err.msg, "a.yaml:2:");
    const char *bad5 = "wide: true\nwide: false\n";
    ASSERT_EQ_INT(deep_arch_parse(bad5, strlen(bad5), "a.yaml", &a, &err), LEAP_EPARSE);
    ASSERT_STR_CONTAINS(err.msg, "a.yaml:2:1: architecture: key 'wide' given twice");
    /* a failed parse leaves the architecture as it was */
    ASSERT_EQ_INT(a.n_mlp, 0);
    /* the canonical form reads back to the same architecture */
    const char *good = "embedding_dim: 8\nwide: false\ncross: {layers: 2, rank: 3, structure: "
                       "parallel}\nmlp: [64, 32]\ndropout: 0.25\nlayer_norm: true\n"
                       "fields: {\"C'1\": 4}\n";
    ASSERT_OK(deep_arch_parse(good, strlen(good), "g.yaml", &a, &err));
    leap_buf out = {0};
    ASSERT_OK(deep_arch_write(&a, &out));
    deep_arch b;
    memset(&b, 0, sizeof b);
    ASSERT_OK(deep_arch_parse((const char *)out.p, out.len, "canon", &b, &err));
    ASSERT_TRUE(memcmp(&a, &b, sizeof a) == 0);
    leap_buf_free(&out);
    /* semantic checks at layout time */
    leap_featurizer fz;
    hashed_fz(&fz);
    deep_net N;
    memset(&a, 0, sizeof a);
    a.embedding_dim = 4;
    ASSERT_EQ_INT(deep_net_init(&N, &a, &fz, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "nothing computes a score");
    deep_net_free(&N);
    a.ffm = 1;
    a.n_mlp = 1;
    a.mlp[0] = 4;
    ASSERT_EQ_INT(deep_net_init(&N, &a, &fz, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "ffm combines only with wide");
    deep_net_free(&N);
    leap_featurizer_free(&fz);
    int w[8], n;
    ASSERT_OK(deep_parse_widths(" 400, 200 ,100", "hidden", w, &n, &err));
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(w[2], 100);
    ASSERT_EQ_INT(deep_parse_widths("400;200", "hidden", w, &n, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "option 'hidden': unexpected ';'");
}

/* ---- training through a fit io over in-memory batches --------------------------- */

typedef struct fake {
    leap_fit_io io;
    leap_fbatch *b, *vb;
    size_t nb, nvb;
} fake;

static int fake_map(leap_fit_io *io, leap_batch_fn fn, void *user, leap_err *err) {
    fake *F = (fake *)io;
    for (size_t i = 0; i < F->nb; i++) {
        F->b[i].seq = i;
        fn(user, &F->b[i], 0);
    }
    return LEAP_OK;
}
static int fake_map_valid(leap_fit_io *io, leap_batch_fn fn, void *user, leap_err *err) {
    fake *F = (fake *)io;
    for (size_t i = 0; i < F->nvb; i++)
        fn(user, &F->vb[i], 0);
    return LEAP_OK;
}

/* Batches whose labels follow a hidden pairwise rule (learnable by FM-type nets). */
static void hidden_labels(leap_fbatch *b, uint64_t salt) {
    for (size_t r = 0; r < b->n_rows; r++) {
        const uint32_t *x = b->idx + 4 * r;
        double s = ((x[0] ^ x[1]) & 1 ? 1.2 : -1.2) + ((x[2] & 3) == 1 ? 1.0 : -0.5);
        leap_rng g = {leap_mix64(salt, r)};
        b->label[r] = leap_rng_uniform(&g) < 1 / (1 + exp(-s)) ? 1.f : 0.f;
    }
}

static void make_data(fake *F, int nb, int rows, int threads, int epochs) {
    memset(F, 0, sizeof *F);
    F->nb = (size_t)nb;
    F->b = calloc((size_t)nb, sizeof *F->b);
    for (int i = 0; i < nb; i++) {
        make_batch(&F->b[i], rows, 0, 100 + (uint64_t)i);
        hidden_labels(&F->b[i], (uint64_t)i);
    }
    F->nvb = 1;
    F->vb = calloc(1, sizeof *F->vb);
    make_batch(&F->vb[0], rows, 0, 999);
    hidden_labels(&F->vb[0], 999);
    F->io.threads = threads;
    F->io.map = fake_map;
    F->io.map_valid = fake_map_valid;
    F->io.n_batches = (size_t)nb;
    F->io.n_rows = (uint64_t)nb * rows;
    F->io.epochs = epochs;
    F->io.patience = 0;
    F->io.seed = 42;
}

static void free_data(fake *F) {
    for (size_t i = 0; i < F->nb; i++)
        leap_fbatch_free(&F->b[i]);
    leap_fbatch_free(&F->vb[0]);
    free(F->b);
    free(F->vb);
}

static deep_model *train_model(const char *name, fake *F, const char **items, size_t ni,
                               leap_err *err, int *rc) {
    const leap_model_ops *ops = leap_model_find(name);
    deep_opts o;
    leap_opts_defaults(ops->opts, &o);
    const leap_opt_table *t[1] = {ops->opts};
    void *objs[1] = {&o};
    *rc = leap_opts_apply(t, objs, 1, items, ni, err);
    if (*rc) return NULL;
    leap_featurizer fz;
    hashed_fz(&fz);
    leap_model *m = NULL;
    *rc = ops->create(&o, &fz, &m, err);
    leap_featurizer_free(&fz);
    if (*rc) return NULL;
    *rc = ops->fit(m, &F->io, err);
    return (deep_model *)m;
}

static int same_params(const deep_model *a, const deep_model *b) {
    return a->net.n_dense == b->net.n_dense && a->net.n_emb == b->net.n_emb &&
           !memcmp(a->net.dense, b->net.dense, a->net.n_dense * sizeof(float)) &&
           !memcmp(a->net.emb, b->net.emb, a->net.n_emb * sizeof(float));
}

TEST(training_is_deterministic_and_learns) {
    fake F;
    make_data(&F, 6, 300, 1, 3);
    const char *items[] = {"hidden=16,8", "batch_size=64", "lr=0.01", "embedding_dim=4"};
    leap_err err = {0};
    int rc;
    deep_model *a = train_model("deepfm", &F, items, 4, &err, &rc);
    ASSERT_OK(rc);
    deep_model *b = train_model("deepfm", &F, items, 4, &err, &rc);
    ASSERT_OK(rc);
    ASSERT_TRUE(same_params(a, b));
    ASSERT_EQ_INT(a->step, 3 * 6 * 5); /* 300 rows a batch: 5 steps of ≤ 64 */
    /* two threads: deterministic too (fixed summation order per thread count) */
    F.io.threads = 2;
    deep_model *c = train_model("deepfm", &F, items, 4, &err, &rc);
    ASSERT_OK(rc);
    deep_model *e = train_model("deepfm", &F, items, 4, &err, &rc);
    ASSERT_OK(rc);
    ASSERT_TRUE(same_params(c, e));
    /* and it learned: held-out logloss below the constant model's */
    float p[300];
    a->base.ops->predict_batch(&a->base, &F.vb[0], p);
    double ll = 0, ybar = 0;
    for (int r = 0; r < 300; r++)
        ybar += F.vb[0].label[r] / 300.0;
    for (int r = 0; r < 300; r++) {
        double q = p[r], y = F.vb[0].label[r];
        ll -= y * log(q) + (1 - y) * log(1 - q);
    }
    double base = -(ybar * log(ybar) + (1 - ybar) * log(1 - ybar)) * 300;
    ASSERT_TRUE(ll < base * 0.9);
    /* 2 threads learn about as well as 1 */
    float pc[300];
    c->base.ops->predict_batch(&c->base, &F.vb[0], pc);
    double llc = 0;
    for (int r = 0; r < 300; r++) {
        double q = pc[r], y = F.vb[0].label[r];
        llc -= y * log(q) + (1 - y) * log(1 - q);
    }
    ASSERT_NEAR(llc / 300, ll / 300, 0.01);
    a->base.ops->destroy(&a->base);
    b->base.ops->destroy(&b->base);
    c->base.ops->destroy(&c->base);
    e->base.ops->destroy(&e->base);
    free_data(&F);
}

TEST(resume_from_checkpoint_reaches_the_uninterrupted_model) {
    const char *models[] = {"dcn_v2", "fm", "dlrm"};
    const char *opt[] = {"optimizer=adam", "optimizer=adagrad", "optimizer=sgd"};
    for (int mi = 0; mi < 3; mi++) {
        fake F;
        make_data(&F, 4, 200, 1, 2);
        F.io.patience = 1; /* keeps a best snapshot in the checkpoint */
        char ck[64], c1[96], opt_ck[96];
        snprintf(ck, sizeof ck, "/tmp/leap_test_deep_%d_%d.ckpt", (int)getpid(), mi);
        snprintf(opt_ck, sizeof opt_ck, "checkpoint=%s", ck);
        unlink(ck);
        const char *full[] = {"hidden=8", "batch_size=32",  "embedding_dim=4",
                              opt[mi],    "cross_layers=1", "dropout=0.2"};
        leap_err err = {0};
        int rc;
        deep_model *ref = train_model(models[mi], &F, full, 6, &err, &rc);
        ASSERT_OK(rc);
        /* killed after 23 steps; checkpoints every 5 (the last at 20: 3 steps redone) */
        snprintf(c1, sizeof c1, "%s", opt_ck);
        const char *killed[] = {"hidden=8", "batch_size=32",      "embedding_dim=4",
                                opt[mi],    "cross_layers=1",     "dropout=0.2",
                                c1,         "checkpoint_every=5", "halt_after=23"};
        deep_model *k = train_model(models[mi], &F, killed, 9, &err, &rc);
        ASSERT_EQ_INT(rc, LEAP_EINVAL);
        ASSERT_STR_CONTAINS(err.msg, "halted after 23 steps");
        ASSERT_TRUE(access(ck, F_OK) == 0);
        const char *resumed[] = {"hidden=8", "batch_size=32",      "embedding_dim=4",
                                 opt[mi],    "cross_layers=1",     "dropout=0.2",
                                 c1,         "checkpoint_every=5", "resume=true"};
        deep_model *r = train_model(models[mi], &F, resumed, 9, &err, &rc);
        ASSERT_OK(rc);
        ASSERT_EQ_INT(r->step, ref->step);
        ASSERT_TRUE(same_params(ref, r));
        /* a run with other options refuses the checkpoint */
        const char *other[] = {"hidden=8", "batch_size=16",      "embedding_dim=4",
                               opt[mi],    "cross_layers=1",     "dropout=0.2",
                               c1,         "checkpoint_every=5", "resume=true"};
        deep_model *o = train_model(models[mi], &F, other, 9, &err, &rc);
        ASSERT_EQ_INT(rc, LEAP_EINVAL);
        ASSERT_STR_CONTAINS(err.msg, "other options");
        /* a damaged checkpoint is refused, not loaded */
        FILE *f = fopen(ck, "r+b");
        fseek(f, 300, SEEK_SET);
        fputc(0x5a, f);
        fclose(f);
        deep_model *d = train_model(models[mi], &F, resumed, 9, &err, &rc);
        ASSERT_EQ_INT(rc, LEAP_ECORRUPT);
        ASSERT_STR_CONTAINS(err.msg, "corrupt");
        unlink(ck);
        deep_model *all[] = {ref, k, r, o, d};
        for (int i = 0; i < 5; i++)
            if (all[i]) all[i]->base.ops->destroy(&all[i]->base);
        free_data(&F);
    }
}

/* ---- payload ------------------------------------------------------------------- */

TEST(payload_round_trip_and_damage) {
    fake F;
    make_data(&F, 2, 100, 1, 1);
    const char *items[] = {"hidden=8", "batch_size=50", "embedding_dim=4", "cross_layers=2"};
    leap_err err = {0};
    int rc;
    deep_model *m = train_model("dcn_v2", &F, items, 4, &err, &rc);
    ASSERT_OK(rc);
    leap_buf buf = {0};
    ASSERT_OK(m->base.ops->save(&m->base, &buf, &err));
    leap_featurizer fz;
    hashed_fz(&fz);
    leap_model *back = NULL;
    ASSERT_OK(m->base.ops->load(&m->o, &fz, buf.p, buf.len, &back, &err));
    float p1[100], p2[100];
    m->base.ops->predict_batch(&m->base, &F.vb[0], p1);
    back->ops->predict_batch(back, &F.vb[0], p2);
    ASSERT_TRUE(memcmp(p1, p2, sizeof p1) == 0);
    back->ops->destroy(back);
    /* every truncation is refused with a message */
    for (size_t cut = 0; cut < buf.len; cut += cut < 400 ? 1 : 997) {
        leap_model *x = NULL;
        rc = m->base.ops->load(&m->o, &fz, buf.p, cut, &x, &err);
        ASSERT_TRUE(rc != LEAP_OK && x == NULL);
        ASSERT_TRUE(err.msg[0] != 0);
    }
    /* a NaN parameter, a future version, a foreign architecture */
    uint8_t *c = malloc(buf.len);
    memcpy(c, buf.p, buf.len);
    float nan = NAN;
    memcpy(c + buf.len - 4, &nan, 4);
    leap_model *x = NULL;
    ASSERT_EQ_INT(m->base.ops->load(&m->o, &fz, c, buf.len, &x, &err), LEAP_ECORRUPT);
    ASSERT_STR_CONTAINS(err.msg, "not finite");
    memcpy(c, buf.p, buf.len);
    leap_put_u32(c + 8, 9);
    ASSERT_EQ_INT(m->base.ops->load(&m->o, &fz, c, buf.len, &x, &err), LEAP_EVERSION);
    memcpy(c, buf.p, buf.len);
    char *arch = (char *)c + 16, *l = strstr(arch, "layers: 2");
    ASSERT_TRUE(l != NULL);
    l[8] = '3'; /* three cross layers: the sizes no longer match */
    ASSERT_EQ_INT(m->base.ops->load(&m->o, &fz, c, buf.len, &x, &err), LEAP_ECORRUPT);
    ASSERT_STR_CONTAINS(err.msg, "the architecture and featurizer need");
    free(c);
    leap_buf_free(&buf);
    leap_featurizer_free(&fz);
    m->base.ops->destroy(&m->base);
    free_data(&F);
}

/* Scores the rows of b one at a time (the server's one-row request) into p1;
 * returns the largest |p1 - pb| (pb: the batch's scores), NaN if any is NaN. */
static double score_one_by_one(const leap_model *m, const leap_fbatch *b, const float *pb,
                               float *p1) {
    double worst = 0;
    for (size_t r = 0; r < b->n_rows; r++) {
        leap_fbatch one = *b;
        one.n_rows = 1;
        one.row_ptr = b->row_ptr + r;
        m->ops->predict_batch(m, &one, &p1[r]);
        double d = fabs((double)p1[r] - pb[r]);
        if (!(d <= worst)) worst = d;
    }
    return worst;
}

/* Scoring (predict_precision): with fp16 matrices, one row at a time
 * (nn_gemv_f16) and a batch (sgemm over the same rounded values) read the
 * same weights, so they differ only by f32 summation order: 1e-5 on p. The
 * fp16 rounding itself moves a score by far less than 1e-3 on these small
 * nets (relative 2^-11 per weight); f32 scoring equals the training forward
 * bit for bit. int8 the same way (one row: s·Σx·q; a batch: Σx·(q·s), the
 * product q·s rounded once more): 1e-5 between them; its rounding (up to half
 * a step of max|w|/127 per weight, errors of both signs) moved p by < 1e-4
 * here, asserted < 1e-3. */
TEST(one_row_and_batch_scores_agree_fp16_f32_and_int8) {
    const char *models[] = {"deepfm", "dcn_v2", "dcn_v2", "dlrm"};
    const char *extra[] = {"cross_rank=0", "cross_rank=0", "cross_rank=3", "cross_rank=0"};
    for (int mi = 0; mi < 4; mi++) {
        fake F;
        make_data(&F, 2, 100, 1, 1);
        const char *items[] = {"hidden=24,16",   "batch_size=50", "embedding_dim=4",
                               "cross_layers=2", "lr=0.01",       extra[mi]};
        leap_err err = {0};
        int rc;
        deep_model *m = train_model(models[mi], &F, items, 6, &err, &rc);
        ASSERT_OK(rc);
        ASSERT_TRUE(m->net.infer_h != NULL); /* fp16 is the default */
        const leap_fbatch *b = &F.vb[0];
        size_t n = b->n_rows;
        float *pb = malloc(n * sizeof *pb), *p1 = malloc(n * sizeof *p1);
        float *p32 = malloc(n * sizeof *p32), *pf = malloc(n * sizeof *pf);
        m->base.ops->predict_batch(&m->base, b, pb);
        ASSERT_NEAR(score_one_by_one(&m->base, b, pb, p1), 0, 1e-5);
        ASSERT_OK(deep_net_prepare_scoring(&m->net, DEEP_PREC_F32));
        ASSERT_TRUE(m->net.infer_h == NULL);
        m->base.ops->predict_batch(&m->base, b, p32);
        deep_ws W;
        ASSERT_OK(deep_ws_init(&W, &m->net, (int)n, 0));
        deep_rows R = {b->row_ptr, b->idx, b->val, b->field, (int)n};
        deep_forward(&m->net, &W, &R, 0, 0, 0);
        nn_sigmoid_fwd(n, W.logit, pf);
        ASSERT_TRUE(!memcmp(pf, p32, n * sizeof *pf));
        double dmax = 0;
        for (size_t r = 0; r < n; r++)
            dmax = fmax(dmax, fabs((double)pb[r] - p32[r]));
        ASSERT_TRUE(dmax < 1e-3);
        /* int8: one row (nn_gemv_q8, s·Σx·q) and a batch (sgemm over q·s)
         * differ by float rounding and order only */
        ASSERT_OK(deep_net_prepare_scoring(&m->net, DEEP_PREC_I8));
        ASSERT_TRUE(m->net.infer_q != NULL && m->net.infer_h == NULL);
        m->base.ops->predict_batch(&m->base, b, pb);
        ASSERT_NEAR(score_one_by_one(&m->base, b, pb, p1), 0, 1e-5);
        dmax = 0;
        for (size_t r = 0; r < n; r++)
            dmax = fmax(dmax, fabs((double)pb[r] - p32[r]));
        fprintf(stderr, "  %s %s: max |p_i8 - p_f32| %.2g\n", models[mi], extra[mi], dmax);
        ASSERT_TRUE(dmax < 1e-3);
        /* a weight int8 cannot hold (inf): the net scores in f32 */
        float *w0 = &m->net.dense[m->net.out_W];
        float keep = *w0;
        *w0 = INFINITY;
        ASSERT_OK(deep_net_prepare_scoring(&m->net, DEEP_PREC_I8));
        ASSERT_TRUE(m->net.infer_q == NULL && m->net.infer_s == NULL && m->net.infer_h == NULL);
        *w0 = keep;
        deep_ws_free(&W);
        free(pb), free(p1), free(p32), free(pf);
        m->base.ops->destroy(&m->base);
        free_data(&F);
    }
}

TEST(model_options_and_errors) {
    const leap_model_ops *ops = leap_model_find("deep");
    ASSERT_TRUE(ops != NULL);
    deep_opts o;
    leap_opts_defaults(ops->opts, &o);
    leap_featurizer fz;
    hashed_fz(&fz);
    leap_model *m = NULL;
    leap_err err = {0};
    ASSERT_EQ_INT(ops->create(&o, &fz, &m, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "architecture=FILE.yaml");
    snprintf(o.architecture, sizeof o.architecture, "/nonexistent/arch.yaml");
    ASSERT_EQ_INT(ops->create(&o, &fz, &m, &err), LEAP_EIO);
    ASSERT_STR_CONTAINS(err.msg, "/nonexistent/arch.yaml: cannot open");
    const leap_model_ops *d = leap_model_find("deepfm");
    leap_opts_defaults(d->opts, &o);
    ASSERT_TRUE(!strcmp(o.hidden, "400,400,400"));
    ASSERT_EQ_INT(o.batch_size, 1024);
    ASSERT_EQ_INT(leap_opts_set(d->opts, &o, "hidden", "400,x", &err), LEAP_OK);
    ASSERT_EQ_INT(d->create(&o, &fz, &m, &err), LEAP_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "option 'hidden'");
    char buf[300];
    leap_opts_format(leap_opts_find(d->opts, "hidden"), &o, buf, sizeof buf);
    ASSERT_TRUE(!strcmp(buf, "400,x"));
    leap_featurizer_free(&fz);
}

/* m scores F's validation rows as lr.c's FTRL at its defaults, trained on
 * F's batches in order, does (1e-5: float sums in another order). */
static void assert_scores_as_lr(const leap_model *m, fake *F) {
    const leap_model_ops *lops = leap_model_find("lr");
    char lo[256];
    leap_opts_defaults(lops->opts, lo);
    leap_featurizer fz;
    hashed_fz(&fz);
    leap_model *lr = NULL;
    leap_err err = {0};
    int rc = lops->create(lo, &fz, &lr, &err);
    if (rc) leap_featurizer_free(&fz);
    ASSERT_OK(rc);
    double sums[2] = {0, 0};
    for (size_t i = 0; i < F->nb; i++)
        lops->train_batch(lr, &F->b[i], 0, sums);
    lops->refresh(lr);
    float p1[200], p2[200];
    lops->predict_batch(lr, &F->vb[0], p1);
    m->ops->predict_batch(m, &F->vb[0], p2);
    lops->destroy(lr);
    leap_featurizer_free(&fz);
    for (int r = 0; r < 200; r++)
        ASSERT_NEAR(p1[r], p2[r], 1e-5);
}

TEST(wide_only_ftrl_at_batch_one_is_lr_ftrl) {
    /* An independent reference for the FTRL path: LR's FTRL (src/models/lr.c,
     * per-example updates) and a wide-only network with FTRL first-order
     * weights and bias, one row per step, rows in order, agree. (Indices of a
     * row are kept distinct: lr.c applies one update to a coordinate repeated
     * within a row, the network the sum of both.) */
    fake F;
    make_data(&F, 3, 200, 1, 1);
    for (size_t i = 0; i <= F.nb; i++) {
        leap_fbatch *b = i < F.nb ? &F.b[i] : &F.vb[0];
        for (uint32_t k = 0; k < b->row_ptr[b->n_rows]; k++)
            b->idx[k] = b->field[k] * 64u + b->idx[k] % 64u;
    }
    char arch[64];
    snprintf(arch, sizeof arch, "/tmp/leap_test_wide_%d.yaml", (int)getpid());
    FILE *f = fopen(arch, "w");
    fputs("wide: true\n", f);
    fclose(f);
    char a_kv[96];
    snprintf(a_kv, sizeof a_kv, "architecture=%s", arch);
    const char *items[] = {a_kv, "wide_optimizer=ftrl", "batch_size=1", "shuffle=false"};
    leap_err err = {0};
    int rc;
    deep_model *w = train_model("deep", &F, items, 4, &err, &rc);
    ASSERT_OK(rc);
    unlink(arch);
    assert_scores_as_lr(&w->base, &F);
    w->base.ops->destroy(&w->base);
    free_data(&F);
}

TEST(pair_gate_first_order_part_is_lr_ftrl_at_any_batch_size) {
    /* fm and ffm (pair_gate): the first-order part learns row by row in
     * batch order as lr.c does, whatever the batch size and thread count, so
     * with the gate at 0 the model scores as LR's FTRL (1e-5: float sums in
     * another order). The gate is one of the candidates and the progressive
     * losses were summed (second half of the first epoch). */
    const char *models[] = {"fm", "ffm"};
    for (int mi = 0; mi < 2; mi++)
        for (int threads = 1; threads <= 2; threads++) {
            fake F;
            make_data(&F, 3, 200, threads, 1);
            for (size_t i = 0; i <= F.nb; i++) { /* distinct indices in a row (as above) */
                leap_fbatch *b = i < F.nb ? &F.b[i] : &F.vb[0];
                for (uint32_t k = 0; k < b->row_ptr[b->n_rows]; k++)
                    b->idx[k] = b->field[k] * 64u + b->idx[k] % 64u;
            }
            const char *items[] = {"batch_size=32", "embedding_dim=4"};
            leap_err err = {0};
            int rc;
            deep_model *m = train_model(models[mi], &F, items, 2, &err, &rc);
            ASSERT_OK(rc);
            deep_net *N = &m->net;
            ASSERT_TRUE(N->a.pair_gate);
            float g = N->dense[N->off_gate];
            ASSERT_TRUE(g == 0.f || g == 0.25f || g == 0.5f || g == 0.75f || g == 1.f);
            for (int k = 0; k < DEEP_GATES; k++)
                ASSERT_TRUE(N->dense[N->off_gate + 1 + k] > 0.f);
            /* `leap inspect` shows the gate chosen and its evidence */
            char *text = NULL, want[64];
            size_t tlen = 0;
            FILE *f = open_memstream(&text, &tlen);
            m->base.ops->describe(&m->base, NULL, f);
            fclose(f);
            snprintf(want, sizeof want, "deep.pair_gate               %g", (double)g);
            ASSERT_STR_CONTAINS(text, want);
            ASSERT_STR_CONTAINS(text, "deep.pair_gate.evidence");
            free(text);
            N->dense[N->off_gate] = 0.f;
            ASSERT_OK(deep_net_prepare_scoring(N, DEEP_PREC_F32));
            assert_scores_as_lr(&m->base, &F);
            m->base.ops->destroy(&m->base);
            free_data(&F);
        }
}

TEST(pair_gate_choice_needs_two_standard_errors) {
    float st[2 * DEEP_GATES] = {0};
    ASSERT_NEAR(deep_gate_choose(st), 1.0, 0); /* no rows seen: the full model */
    /* losses 100, 99, 98, 99.5, 101; Σd² small: 0.5 beats 0 by 2 / sqrt(0.25) = 4 s.e. */
    float l[DEEP_GATES] = {100, 99, 98, 99.5f, 101};
    for (int k = 0; k < DEEP_GATES; k++) {
        st[k] = l[k];
        st[DEEP_GATES + k] = k ? 0.25f : 0.f;
    }
    ASSERT_NEAR(deep_gate_choose(st), 0.5, 0);
    st[DEEP_GATES + 2] = 4.f; /* 2 / sqrt(4) = 1 s.e.: not enough; 0.25 still beats 0 by 2 */
    ASSERT_NEAR(deep_gate_choose(st), 0.25, 0);
    st[DEEP_GATES + 1] = 1.f; /* 1 / 1 = 1 s.e.: nothing is clear, the model is LR */
    ASSERT_NEAR(deep_gate_choose(st), 0.0, 0);
    /* one row's statistics by hand: lin = 0, rest = 2, y = 1, w = 1 */
    float one[2 * DEEP_GATES] = {0};
    deep_gate_add(one, 0.0, 2.0, 1.f, 1.f);
    for (int k = 0; k < DEEP_GATES; k++) {
        double s = k / 4.0, lk = log1p(exp(-2.0 * s)), d = lk - log(2.0);
        ASSERT_NEAR(one[k], lk, 1e-6);
        ASSERT_NEAR(one[DEEP_GATES + k], d * d, 1e-6);
    }
}
