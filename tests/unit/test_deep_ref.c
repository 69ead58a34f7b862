/* leap's DeepFM against PyTorch: tests/ref/deepfm_ref.h holds a DeepFM's
 * weights (exported from leap), a fixed batch (a multi-valued weighted field,
 * example weights) and what PyTorch computed from them in float64
 * (tests/ref/make_deepfm_ref.py): per-row logits, the summed weighted
 * logloss, and the gradient of that loss with respect to every dense
 * parameter and every embedding-table value. leap's forward and backward
 * (float32) must match within |leap − torch| ≤ 2e-5 + 1e-4·|torch|: float32
 * rounding over sums of ≤ 64 terms of magnitude ≤ 1 stays below 1e-5.
 *
 * Regenerating the reference (needs python3-torch):
 *   build/test_deep_ref --export /tmp/deepfm_export.txt
 *   python3 tests/ref/make_deepfm_ref.py /tmp/deepfm_export.txt > tests/ref/deepfm_ref.h
 */
#include "harness.h"
#include "models/deep.h"

#include "../ref/deepfm_ref.h"

#define NB  5 /* rows */
#define DIM 4 /* embedding dim */
#define NF  4 /* fields (hashed into 256 buckets) */

static void ref_fz(leap_featurizer *fz) {
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

/* The batch: one entry per field, except row 2 whose field 1 has two weighted
 * values and row 4 whose field 3 has none. */
static const uint32_t b_ptr[NB + 1] = {0, 4, 8, 13, 17, 20};
static const uint32_t b_idx[20] = {3,  17, 200, 45, 3,  99,  7,  45, 250, 17,
                                   18, 8,  45,  11, 17, 201, 46, 12, 17,  203};
static const float b_val[20] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0.5f, 1.5f, 1, 1, 1, 1, 1, 1, 1, 1, 1};
static const uint16_t b_fld[20] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2};
static const float b_y[NB] = {1, 0, 0, 1, 0};
static const float b_w[NB] = {1, 0.5f, 2, 1, 1.5f};

static int make_net(deep_net *N, leap_featurizer *fz) {
    ref_fz(fz);
    const leap_model_ops *ops = leap_model_find("deepfm");
    deep_opts o;
    leap_opts_defaults(ops->opts, &o);
    o.embedding_dim = DIM;
    snprintf(o.hidden, sizeof o.hidden, "8,6");
    deep_arch a;
    leap_err err = {0};
    if (deep_arch_preset("deepfm", &o, &a, &err) || deep_net_init(N, &a, fz, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return 0;
}

static void export_model(const char *path) {
    deep_net N;
    leap_featurizer fz;
    if (make_net(&N, &fz)) exit(1);
    deep_net_init_params(&N, 2024, 0.3f);
    for (size_t i = 0; i < N.n_emb; i++) /* first-order weights away from 0 */
        if (N.emb[i] == 0.f) N.emb[i] = nn_uniform(7, i, 0.2f);
    N.dense[N.off_bias] = -0.3f;
    FILE *f = fopen(path, "w");
    fprintf(f, "rows %d\nfields %d\ndim %d\nbuckets %u\nstride %d\n", NB, NF, DIM, fz.n_buckets,
            N.max_stride);
    fprintf(f, "hidden 8 6\n");
#define ARR(name, fmt, a, n)                                                                       \
    do {                                                                                           \
        fprintf(f, "%s %d", name, (int)(n));                                                       \
        for (size_t i = 0; i < (size_t)(n); i++)                                                   \
            fprintf(f, " " fmt, a[i]);                                                             \
        fputc('\n', f);                                                                            \
    } while (0)
    ARR("row_ptr", "%u", b_ptr, NB + 1);
    ARR("idx", "%u", b_idx, 20);
    ARR("val", "%.9g", b_val, 20);
    ARR("field", "%u", b_fld, 20);
    ARR("label", "%.9g", b_y, NB);
    ARR("weight", "%.9g", b_w, NB);
    for (size_t p = 0; p < N.n_params; p++) {
        const deep_param *P = &N.params[p];
        fprintf(f, "param %s %d %d", P->name, P->rows, P->cols);
        for (size_t i = 0; i < (size_t)P->rows * P->cols; i++)
            fprintf(f, " %.9g", N.dense[P->off + i]);
        fputc('\n', f);
    }
    ARR("emb", "%.9g", N.emb, N.n_emb);
    fclose(f);
    deep_net_free(&N);
    leap_featurizer_free(&fz);
}

TEST(deepfm_forward_and_backward_match_pytorch) {
    deep_net N;
    leap_featurizer fz;
    ASSERT_OK(make_net(&N, &fz));
    ASSERT_EQ_INT(N.n_dense, sizeof ref_dense / sizeof ref_dense[0]);
    ASSERT_EQ_INT(N.n_emb, sizeof ref_emb / sizeof ref_emb[0]);
    memcpy(N.dense, ref_dense, sizeof ref_dense);
    memcpy(N.emb, ref_emb, sizeof ref_emb);
    deep_ws W;
    ASSERT_OK(deep_ws_init(&W, &N, 8, 1));
    deep_rows R = {b_ptr, b_idx, b_val, b_fld, NB};
    deep_forward(&N, &W, &R, 1, 0, 0);
    for (int r = 0; r < NB; r++)
        ASSERT_NEAR(W.logit[r], ref_logit[r], 2e-5 + 1e-4 * fabs(ref_logit[r]));
    double loss = deep_backward(&N, &W, &R, b_y, b_w, 0, 0);
    ASSERT_NEAR(loss, ref_loss, 2e-5 + 1e-4 * fabs(ref_loss));
    for (size_t i = 0; i < N.n_dense; i++)
        ASSERT_NEAR(W.gd[i], ref_grad_dense[i], 2e-5 + 1e-4 * fabs(ref_grad_dense[i]));
    float *dT = calloc(N.n_emb, sizeof *dT);
    nn_embed_bwd_dense(&N.lay, NB, NULL, b_ptr, b_idx, b_val, b_fld, W.dx0, N.D0, W.dz, dT);
    int touched = 0;
    for (size_t i = 0; i < N.n_emb; i++) {
        ASSERT_NEAR(dT[i], ref_grad_emb[i], 2e-5 + 1e-4 * fabs(ref_grad_emb[i]));
        touched += ref_grad_emb[i] != 0;
    }
    ASSERT_TRUE(touched > 50); /* the reference is not trivially zero */
    free(dT);
    deep_ws_free(&W);
    deep_net_free(&N);
    leap_featurizer_free(&fz);
}

/* `--export PATH` writes the model and batch for make_deepfm_ref.py instead. */
__attribute__((constructor)) static void maybe_export(void) {
    FILE *f = fopen("/proc/self/cmdline", "rb");
    if (!f) return;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *arg = buf + strlen(buf) + 1;
    if (arg < buf + n && !strcmp(arg, "--export")) {
        const char *path = arg + strlen(arg) + 1;
        if (path >= buf + n) {
            fprintf(stderr, "usage: test_deep_ref --export PATH\n");
            exit(2);
        }
        export_model(path);
        exit(0);
    }
}
