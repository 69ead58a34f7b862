/* Unit tests for the layer library (src/nn/): every backward against central
 * finite differences of the forward, plus the optimizers against the update
 * formulas of torch.optim written out in double, the dropout mask's
 * independence of the thread split, the row set and the LR schedule.
 *
 * Finite differences: the loss is L = Σ c ⊙ output with fixed random c (so
 * dL/doutput = c), evaluated in double from the float outputs. Most layers are
 * polynomials of degree ≤ 2 in any one input (linear, FM, FFM, cross, dot,
 * embedding bags), where a central difference is exact up to rounding: with
 * h = 1e-2 and |L| ~ 10, float rounding bounds the error near 1e-4, so the
 * tolerance is |num − ana| ≤ 2e-3 + 2e-3·|ana|. Smooth non-polynomial layers
 * (layer norm, sigmoid, logistic loss) use h = 1e-3, whose truncation error
 * O(h²) is below that bound. ReLU inputs are kept 0.05 away from the kink. */
#include "harness.h"
#include "nn/nn.h"

#include "nn/blas.h"

#include <sys/mman.h>
#include <unistd.h>

static uint64_t g_seed = 12345;
static float frand(void) { return nn_uniform(0x5eed, g_seed++, 1.0f); }
static void fill(float *x, size_t n, float a) {
    for (size_t i = 0; i < n; i++)
        x[i] = a * frand();
}

typedef double (*loss_fn)(void *ctx);

/* Checks g (analytic) against central differences of f over every element of
 * x (at most `limit` evenly spaced ones). Returns the number of mismatches and
 * prints the first. */
static int fd_check(const char *what, float *x, const float *g, size_t n, loss_fn f, void *ctx,
                    float h) {
    size_t step = n > 150 ? n / 150 : 1;
    int bad = 0;
    for (size_t i = 0; i < n; i += step) {
        float x0 = x[i];
        x[i] = x0 + h;
        double lp = f(ctx);
        x[i] = x0 - h;
        double lm = f(ctx);
        x[i] = x0;
        double num = (lp - lm) / (2.0 * (double)h), ana = g[i];
        if (!(fabs(num - ana) <= 2e-3 + 2e-3 * fabs(ana))) {
            if (!bad) fprintf(stderr, "  %s[%zu]: numeric %.7g analytic %.7g\n", what, i, num, ana);
            bad++;
        }
    }
    return bad;
}

static double dotc(const float *c, const float *y, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)c[i] * y[i];
    return s;
}

/* ---- linear + ReLU --------------------------------------------------------- */

typedef struct {
    int B, in, out, ldx, ldy, relu;
    float *X, *W, *b, *Y, *c;
} lin_ctx;

static double lin_loss(void *v) {
    lin_ctx *L = v;
    nn_linear_fwd(L->B, L->in, L->out, L->X, L->ldx, L->W, L->b, L->Y, L->ldy);
    if (L->relu) nn_relu_fwd(L->B, L->out, L->Y, L->ldy);
    double s = 0;
    for (int r = 0; r < L->B; r++)
        s += dotc(L->c + (size_t)r * L->out, L->Y + (size_t)r * L->ldy, (size_t)L->out);
    return s;
}

static int check_linear(int B, int in, int out, int pad, int relu) {
    lin_ctx L = {B, in, out, in + pad, out + pad, relu, NULL, NULL, NULL, NULL, NULL};
    L.X = calloc((size_t)B * L.ldx, sizeof(float));
    L.W = calloc((size_t)in * out, sizeof(float));
    L.b = calloc((size_t)out, sizeof(float));
    L.Y = calloc((size_t)B * L.ldy, sizeof(float));
    L.c = calloc((size_t)B * out, sizeof(float));
    float *dW = calloc((size_t)in * out, sizeof(float)), *db = calloc((size_t)out, sizeof(float));
    float *dX = calloc((size_t)B * L.ldx, sizeof(float)), *dY = calloc((size_t)B * out, 4);
    fill(L.X, (size_t)B * L.ldx, 1.f);
    fill(L.W, (size_t)in * out, 0.5f);
    fill(L.b, (size_t)out, 0.5f);
    fill(L.c, (size_t)B * out, 1.f);
    lin_loss(&L);
    if (relu) /* keep pre-activations away from the kink */
        for (int r = 0; r < B; r++)
            for (int j = 0; j < out; j++) {
                float y = L.Y[(size_t)r * L.ldy + j];
                if (y < 0.05f && y > 0.f) L.b[j] += 0.1f;
            }
    lin_loss(&L);
    for (int r = 0; r < B; r++)
        memcpy(dY + (size_t)r * out, L.c + (size_t)r * out, (size_t)out * sizeof(float));
    if (relu) nn_relu_bwd(B, out, L.Y, L.ldy, dY, out);
    for (int i = 0; i < B * L.ldx; i++)
        dX[i] = 7.f; /* overwritten where it matters (accum_dx = 0) */
    nn_linear_bwd(B, in, out, L.X, L.ldx, L.W, dY, out, dW, db, dX, L.ldx, 0);
    int bad = fd_check("linear.W", L.W, dW, (size_t)in * out, lin_loss, &L, 1e-2f) +
              fd_check("linear.b", L.b, db, (size_t)out, lin_loss, &L, 1e-2f);
    for (int r = 0; r < B; r++)
        bad += fd_check("linear.X", L.X + (size_t)r * L.ldx, dX + (size_t)r * L.ldx, (size_t)in,
                        lin_loss, &L, 1e-2f);
    free(L.X);
    free(L.W);
    free(L.b);
    free(L.Y);
    free(L.c);
    free(dW);
    free(db);
    free(dX);
    free(dY);
    return bad;
}

TEST(linear_backward_matches_finite_differences) {
    ASSERT_EQ_INT(check_linear(7, 5, 4, 0, 0), 0);
    ASSERT_EQ_INT(check_linear(6, 9, 3, 3, 0), 0); /* column blocks of wider buffers */
    ASSERT_EQ_INT(check_linear(1, 8, 5, 0, 0), 0); /* one row: the gemv path */
}

TEST(relu_backward_matches_finite_differences) { ASSERT_EQ_INT(check_linear(6, 5, 7, 2, 1), 0); }

/* ---- sigmoid --------------------------------------------------------------- */

typedef struct {
    size_t n;
    float *x, *y, *c;
} sig_ctx;
static double sig_loss(void *v) {
    sig_ctx *S = v;
    nn_sigmoid_fwd(S->n, S->x, S->y);
    return dotc(S->c, S->y, S->n);
}

TEST(sigmoid_backward_matches_finite_differences) {
    float x[20], y[20], c[20], dx[20] = {0};
    fill(x, 20, 4.f);
    fill(c, 20, 1.f);
    sig_ctx S = {20, x, y, c};
    sig_loss(&S);
    nn_sigmoid_bwd(20, y, c, dx);
    ASSERT_EQ_INT(fd_check("sigmoid.x", x, dx, 20, sig_loss, &S, 1e-3f), 0);
}

/* ---- dropout --------------------------------------------------------------- */

TEST(dropout_mask_is_fixed_scaled_and_split_independent) {
    enum { B = 64, N = 50 };
    static float a[B * N], b[B * N], d[B * N];
    for (int i = 0; i < B * N; i++)
        a[i] = b[i] = d[i] = 1.f;
    nn_dropout_fwd(B, N, 0.3f, 99, 1000, a, N);
    /* the same rows in two halves (two threads) with their row offsets */
    nn_dropout_fwd(20, N, 0.3f, 99, 1000, b, N);
    nn_dropout_fwd(B - 20, N, 0.3f, 99, 1020, b + 20 * N, N);
    ASSERT_TRUE(memcmp(a, b, sizeof a) == 0);
    int kept = 0;
    for (int i = 0; i < B * N; i++) {
        ASSERT_TRUE(a[i] == 0.f || fabsf(a[i] - 1.f / 0.7f) < 1e-6f);
        kept += a[i] != 0.f;
    }
    /* 3200 Bernoulli(0.7) draws: mean 2240, sd 26 */
    ASSERT_TRUE(kept > 2240 - 130 && kept < 2240 + 130);
    /* backward applies the same mask: the layer is linear, d(out)/d(in) = mask */
    nn_dropout_bwd(B, N, 0.3f, 99, 1000, d, N);
    ASSERT_TRUE(memcmp(a, d, sizeof a) == 0);
    /* another step (seed) draws another mask; p = 0 is the identity */
    for (int i = 0; i < B * N; i++)
        b[i] = 1.f;
    nn_dropout_fwd(B, N, 0.3f, 100, 1000, b, N);
    ASSERT_TRUE(memcmp(a, b, sizeof a) != 0);
    for (int i = 0; i < B * N; i++)
        b[i] = 1.f;
    nn_dropout_fwd(B, N, 0.f, 100, 1000, b, N);
    for (int i = 0; i < B * N; i++)
        ASSERT_TRUE(b[i] == 1.f);
}

/* ---- layer norm ------------------------------------------------------------- */

typedef struct {
    int B, n;
    float *x, *g, *b, *y, *mu, *rs, *c;
} ln_ctx;
static double ln_loss(void *v) {
    ln_ctx *L = v;
    nn_layernorm_fwd(L->B, L->n, L->x, L->n, L->g, L->b, L->y, L->n, L->mu, L->rs);
    return dotc(L->c, L->y, (size_t)L->B * L->n);
}

TEST(layernorm_backward_matches_finite_differences) {
    enum { B = 5, N = 12 };
    float x[B * N], g[N], b[N], y[B * N], mu[B], rs[B], c[B * N];
    float dx[B * N], dg[N] = {0}, db[N] = {0};
    fill(x, B * N, 2.f);
    fill(g, N, 1.f);
    fill(b, N, 1.f);
    fill(c, B * N, 1.f);
    ln_ctx L = {B, N, x, g, b, y, mu, rs, c};
    ln_loss(&L);
    float dy[B * N];
    memcpy(dy, c, sizeof dy);
    nn_layernorm_bwd(B, N, x, N, g, mu, rs, dy, N, dx, N, dg, db);
    ASSERT_EQ_INT(fd_check("ln.x", x, dx, B * N, ln_loss, &L, 1e-3f), 0);
    ASSERT_EQ_INT(fd_check("ln.g", g, dg, N, ln_loss, &L, 1e-3f), 0);
    ASSERT_EQ_INT(fd_check("ln.b", b, db, N, ln_loss, &L, 1e-3f), 0);
    /* in place (dx aliasing dy) gives the same */
    nn_layernorm_bwd(B, N, x, N, g, mu, rs, dy, N, dy, N, dg, db);
    for (int i = 0; i < B * N; i++)
        ASSERT_NEAR(dy[i], dx[i], 1e-6);
}

/* ---- concat ------------------------------------------------------------------- */

TEST(concat_forward_and_backward) {
    enum { B = 3 };
    float a[B * 2], b[B * 3], o[B * 5], da[B * 2] = {0}, db[B * 3] = {0}, d[B * 5];
    fill(a, B * 2, 1.f);
    fill(b, B * 3, 1.f);
    fill(d, B * 5, 1.f);
    int w[2] = {2, 3};
    const float *src[2] = {a, b};
    nn_concat_fwd(B, 2, w, src, o, 5);
    for (int r = 0; r < B; r++) {
        ASSERT_TRUE(o[r * 5 + 1] == a[r * 2 + 1]);
        ASSERT_TRUE(o[r * 5 + 4] == b[r * 3 + 2]);
    }
    float *dsrc[2] = {da, db};
    nn_concat_bwd(B, 2, w, d, 5, dsrc);
    /* the concatenation is a permutation: its gradient is the inverse permutation */
    for (int r = 0; r < B; r++) {
        ASSERT_TRUE(da[r * 2] == d[r * 5]);
        ASSERT_TRUE(db[r * 3 + 1] == d[r * 5 + 3]);
    }
}

/* ---- FM and FFM ------------------------------------------------------------------ */

typedef struct {
    int B, F, d, ld;
    float *E, *S, *out, *c;
} fm_ctx;
static double fm_loss(void *v) {
    fm_ctx *M = v;
    nn_fm_fwd(M->B, M->F, M->d, M->E, M->ld, M->S, M->out);
    return dotc(M->c, M->out, (size_t)M->B);
}
static double ffm_loss(void *v) {
    fm_ctx *M = v;
    nn_ffm_fwd(M->B, M->F, M->d, M->E, M->ld, M->out);
    return dotc(M->c, M->out, (size_t)M->B);
}

TEST(fm_pooling_backward_matches_finite_differences_and_pairs) {
    enum { B = 4, F = 5, D = 3, LD = F * D + 2 };
    float E[B * LD], S[B * D], out[B], c[B], dE[B * LD];
    fill(E, B * LD, 1.f);
    fill(c, B, 1.f);
    memset(dE, 0, sizeof dE);
    fm_ctx M = {B, F, D, LD, E, S, out, c};
    fm_loss(&M);
    /* the pooled form equals the sum over field pairs */
    for (int r = 0; r < B; r++) {
        double s = 0;
        for (int f = 0; f < F; f++)
            for (int g = f + 1; g < F; g++)
                for (int j = 0; j < D; j++)
                    s += (double)E[r * LD + f * D + j] * E[r * LD + g * D + j];
        ASSERT_NEAR(out[r], s, 1e-5);
    }
    nn_fm_bwd(B, F, D, E, LD, S, c, dE, LD);
    for (int r = 0; r < B; r++)
        ASSERT_EQ_INT(fd_check("fm.E", E + r * LD, dE + r * LD, F * D, fm_loss, &M, 1e-2f), 0);
}

TEST(ffm_backward_matches_finite_differences) {
    enum { B = 3, F = 4, K = 2, LD = F * F * K };
    float E[B * LD], out[B], c[B], dE[B * LD];
    fill(E, B * LD, 1.f);
    fill(c, B, 1.f);
    memset(dE, 0, sizeof dE);
    fm_ctx M = {B, F, K, LD, E, NULL, out, c};
    ffm_loss(&M);
    /* <e_{0,1}, e_{1,0}> + ... by hand for row 0 */
    double s = 0;
    for (int f = 0; f < F; f++)
        for (int g = f + 1; g < F; g++)
            for (int j = 0; j < K; j++)
                s += (double)E[(f * F + g) * K + j] * E[(g * F + f) * K + j];
    ASSERT_NEAR(out[0], s, 1e-5);
    nn_ffm_bwd(B, F, K, E, LD, c, dE, LD);
    ASSERT_EQ_INT(fd_check("ffm.E", E, dE, B * LD, ffm_loss, &M, 1e-2f), 0);
}

/* ---- DCN-v2 cross: two stacked layers, full and low rank ------------------------- */

typedef struct {
    int B, D, rank;
    float *x0, *W1, *b1, *W2, *b2, *u1, *u2, *t1, *t2, *x1, *x2, *c;
} cr_ctx;
static double cr_loss(void *v) {
    cr_ctx *C = v;
    nn_cross_fwd(C->B, C->D, C->rank, C->x0, C->x0, C->D, C->W1, C->b1, C->u1, C->t1, C->x1);
    nn_cross_fwd(C->B, C->D, C->rank, C->x0, C->x1, C->D, C->W2, C->b2, C->u2, C->t2, C->x2);
    return dotc(C->c, C->x2, (size_t)C->B * C->D);
}

static int check_cross(int rank) {
    enum { B = 4, D = 6 };
    size_t nw = rank ? 2 * (size_t)D * rank : (size_t)D * D;
    int R = rank ? rank : 1;
    float x0[B * D], W1[D * D], b1[D], W2[D * D], b2[D], u1[B * D], u2[B * D], t1[B * D], t2[B * D],
        x1[B * D], x2[B * D], c[B * D];
    float dW1[D * D] = {0}, db1[D] = {0}, dW2[D * D] = {0}, db2[D] = {0}, dx0[B * D] = {0};
    float dx1[B * D], dxa[B * D], g[B * D], gt[B * D];
    fill(x0, B * D, 1.f);
    fill(W1, nw, 0.5f);
    fill(W2, nw, 0.5f);
    fill(b1, D, 0.5f);
    fill(b2, D, 0.5f);
    fill(c, B * D, 1.f);
    cr_ctx C = {B, D, rank, x0, W1, b1, W2, b2, u1, u2, t1, t2, x1, x2, c};
    cr_loss(&C);
    (void)R;
    /* layer 2: dxn = c; layer 1 gets dx1; x0 collects from both and as layer 1's input */
    nn_cross_bwd(B, D, rank, x0, x1, D, W2, u2, t2, c, dx1, dx0, dW2, db2, g, gt);
    nn_cross_bwd(B, D, rank, x0, x0, D, W1, u1, t1, dx1, dxa, dx0, dW1, db1, g, gt);
    for (int i = 0; i < B * D; i++)
        dx0[i] += dxa[i];
    return fd_check("cross.x0", x0, dx0, B * D, cr_loss, &C, 1e-2f) +
           fd_check("cross.W1", W1, dW1, nw, cr_loss, &C, 1e-2f) +
           fd_check("cross.b1", b1, db1, D, cr_loss, &C, 1e-2f) +
           fd_check("cross.W2", W2, dW2, nw, cr_loss, &C, 1e-2f) +
           fd_check("cross.b2", b2, db2, D, cr_loss, &C, 1e-2f);
}

TEST(cross_layer_backward_matches_finite_differences) {
    ASSERT_EQ_INT(check_cross(0), 0);
    ASSERT_EQ_INT(check_cross(2), 0);
}

TEST(cross_layer_forward_by_hand) {
    /* D = 2, full rank: x' = x0 ⊙ (x W + b) + x */
    float x0[2] = {1, 2}, W[4] = {1, 2, 3, 4}, b[2] = {0.5f, -1}, u[2], xn[2];
    nn_cross_fwd(1, 2, 0, x0, x0, 2, W, b, u, NULL, xn);
    /* x W = (1·1 + 2·3, 1·2 + 2·4) = (7, 10); u = (7.5, 9); x' = (7.5 + 1, 18 + 2) */
    ASSERT_NEAR(xn[0], 8.5, 1e-6);
    ASSERT_NEAR(xn[1], 20, 1e-6);
}

/* ---- dot interaction -------------------------------------------------------------- */

typedef struct {
    int B, n, d, ldt;
    float *T, *Z, *c;
} dot_ctx;
static double dot_loss(void *v) {
    dot_ctx *D = v;
    int np = D->n * (D->n - 1) / 2;
    nn_dot_fwd(D->B, D->n, D->d, D->T, D->ldt, D->Z, np);
    return dotc(D->c, D->Z, (size_t)D->B * np);
}

TEST(dot_interaction_backward_matches_finite_differences) {
    enum { B = 3, N = 5, Dm = 4, NP = N * (N - 1) / 2, LDT = N * Dm + 1 };
    float T[B * LDT], Z[B * NP], c[B * NP], dT[B * LDT];
    fill(T, B * LDT, 1.f);
    fill(c, B * NP, 1.f);
    memset(dT, 0, sizeof dT);
    dot_ctx D = {B, N, Dm, LDT, T, Z, c};
    dot_loss(&D);
    /* pair order (1,0), (2,0), (2,1), ...: Z[2] = <t_2, t_1> */
    double s = 0;
    for (int k = 0; k < Dm; k++)
        s += (double)T[2 * Dm + k] * T[1 * Dm + k];
    ASSERT_NEAR(Z[2], s, 1e-5);
    nn_dot_bwd(B, N, Dm, T, LDT, c, NP, dT, LDT);
    for (int r = 0; r < B; r++)
        ASSERT_EQ_INT(fd_check("dot.T", T + r * LDT, dT + r * LDT, N * Dm, dot_loss, &D, 1e-2f), 0);
}

/* ---- logistic loss ------------------------------------------------------------------ */

typedef struct {
    int B;
    float *z, *y, *w;
} ll_ctx;
static double ll_loss(void *v) {
    ll_ctx *L = v;
    return nn_logloss(L->B, L->z, L->y, L->w, 1.f, NULL, NULL);
}

TEST(logloss_backward_matches_finite_differences_and_formula) {
    enum { B = 8 };
    float z[B], y[B], w[B], p[B], dz[B];
    fill(z, B, 3.f);
    for (int r = 0; r < B; r++) {
        y[r] = (float)(r % 3 == 0);
        w[r] = 0.5f + 0.25f * (float)r;
    }
    ll_ctx L = {B, z, y, w};
    double loss = nn_logloss(B, z, y, w, 1.f, p, dz);
    double ref = 0;
    for (int r = 0; r < B; r++) {
        double q = 1 / (1 + exp(-(double)z[r]));
        ref += w[r] * (y[r] > 0.5f ? -log(q) : -log(1 - q));
        ASSERT_NEAR(p[r], q, 1e-6);
    }
    ASSERT_NEAR(loss, ref, 1e-9 * B);
    ASSERT_EQ_INT(fd_check("logloss.z", z, dz, B, ll_loss, &L, 1e-3f), 0);
    /* huge logits stay finite */
    float zz[2] = {200.f, -200.f}, yy[2] = {0.f, 1.f};
    double big = nn_logloss(2, zz, yy, NULL, 1.f, NULL, NULL);
    ASSERT_NEAR(big, 400.0, 1e-9);
}

/* ---- embedding bags -------------------------------------------------------------------- */

/* Three fields: a shared hashed-style table for fields 0 and 1 (dim 3 + wide),
 * field 2 a DENSE field fed as values with a first-order weight. Row 1 has a
 * multi-valued field 0 (two entries, weighted). */
static const nn_emb_field emb_fields[3] = {
    {0, 0, 0, 10, 3, 4, 0, -1},   /* table A rows 0..9, vector at columns 0..2 */
    {0, 0, 0, 10, 3, 4, 3, -1},   /* same table, columns 3..5 */
    {40, 10, 10, 2, 0, 1, -1, 6}, /* rows 10..11 (local 0/1), dense inputs 6, 7 */
};
static const uint32_t e_ptr[4] = {0, 3, 7, 9};
static const uint32_t e_idx[9] = {2, 5, 11, 7, 1, 5, 10, 5, 5};
static const float e_val[9] = {1.f, 1.f, 0.7f, 0.5f, 2.f, 1.f, 1.f, 1.f, 1.f};
static const uint16_t e_fld[9] = {0, 1, 2, 0, 0, 1, 2, 0, 1};

typedef struct {
    nn_emb L;
    float *T, *out, *wide, *c, *cw;
} emb_ctx;
static double emb_loss(void *v) {
    emb_ctx *E = v;
    nn_embed_fwd(&E->L, E->T, 3, NULL, e_ptr, e_idx, e_val, e_fld, E->out, 8, E->wide);
    return dotc(E->c, E->out, 24) + dotc(E->cw, E->wide, 3);
}

TEST(embedding_bag_forward_and_backward) {
    float T[42], out[24], wide[3], c[24], cw[3], dT[42] = {0};
    fill(T, 42, 1.f);
    fill(c, 24, 1.f);
    fill(cw, 3, 1.f);
    emb_ctx E = {{3, emb_fields, 1}, T, out, wide, c, cw};
    emb_loss(&E);
    /* row 1, field 0: 0.5·T[7] + 2·T[1] */
    ASSERT_NEAR(out[8 + 1], 0.5 * T[7 * 4 + 1] + 2.0 * T[1 * 4 + 1], 1e-6);
    /* row 0: dense value 0.7 at column 6 + 1 (local 1) */
    ASSERT_NEAR(out[7], 0.7, 1e-7);
    ASSERT_NEAR(out[6], 0.0, 0);
    ASSERT_NEAR(out[8 + 6], 1.0, 0); /* row 1: missing indicator */
    ASSERT_NEAR(wide[0], T[2 * 4 + 3] + T[5 * 4 + 3] + 0.7 * T[41], 1e-6);
    /* the dense value columns are inputs, not parameters: their gradient is not asked */
    nn_embed_bwd_dense(&E.L, 3, NULL, e_ptr, e_idx, e_val, e_fld, c, 8, cw, dT);
    ASSERT_EQ_INT(fd_check("embed.T", T, dT, 42, emb_loss, &E, 1e-2f), 0);
    /* a row list picks batch rows: rows {2, 0} pool like rows 2 and 0 */
    uint32_t rows[2] = {2, 0};
    float o2[16], w2[2];
    nn_embed_fwd(&E.L, T, 2, rows, e_ptr, e_idx, e_val, e_fld, o2, 8, w2);
    emb_loss(&E);
    ASSERT_TRUE(memcmp(o2, out + 16, 8 * sizeof(float)) == 0);
    ASSERT_TRUE(memcmp(o2 + 8, out, 8 * sizeof(float)) == 0);
    ASSERT_TRUE(w2[0] == wide[2] && w2[1] == wide[0]);
}

TEST(rowset_assigns_slots_in_first_insertion_order) {
    nn_rowset s;
    ASSERT_OK(nn_rowset_init(&s, 100));
    uint32_t keys[6] = {7, 1u << 20, 7, 3, 1u << 20, 0};
    int32_t want[6] = {0, 1, 0, 2, 1, 3};
    for (int i = 0; i < 6; i++)
        ASSERT_EQ_INT(nn_rowset_insert(&s, keys[i]), want[i]);
    ASSERT_EQ_INT(s.n, 4);
    ASSERT_EQ_INT(nn_rowset_find(&s, 3), 2);
    ASSERT_EQ_INT(nn_rowset_find(&s, 4), -1);
    nn_rowset_clear(&s);
    ASSERT_EQ_INT(s.n, 0);
    ASSERT_EQ_INT(nn_rowset_find(&s, 7), -1);
    for (uint32_t k = 0; k < 100; k++)
        ASSERT_EQ_INT(nn_rowset_insert(&s, k * 977u), (int)k);
    ASSERT_EQ_INT(nn_rowset_insert(&s, 5), -1); /* full */
    ASSERT_EQ_INT(nn_rowset_insert(&s, 977u), 1);
    nn_rowset_free(&s);
}

/* ---- optimizers: one and two steps against torch.optim's formulas in double ---- */

TEST(optimizers_follow_torch_formulas) {
    const float p0[3] = {0.5f, -1.f, 2.f}, g1[3] = {0.2f, -0.4f, 1.0f}, g2[3] = {-0.1f, 0.3f, 0.f};
    const double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01, gs = 0.5;
    /* dense Adam (torch.optim.Adam with weight_decay), two steps */
    {
        float p[3], m[3] = {0}, v[3] = {0};
        memcpy(p, p0, sizeof p);
        double P[3], M[3] = {0}, V[3] = {0};
        for (int i = 0; i < 3; i++)
            P[i] = p0[i];
        for (int t = 1; t <= 2; t++) {
            const float *g = t == 1 ? g1 : g2;
            nn_opt o = {NN_OPT_ADAM, (float)lr, (float)b1, (float)b2, (float)eps, 0,
                        (float)wd,   (float)gs, t,         0,         0};
            nn_opt_prepare(&o);
            nn_opt_dense(&o, p, g, m, v, 3);
            for (int i = 0; i < 3; i++) {
                double gi = g[i] * gs + wd * P[i];
                M[i] = b1 * M[i] + (1 - b1) * gi;
                V[i] = b2 * V[i] + (1 - b2) * gi * gi;
                double den = sqrt(V[i]) / sqrt(1 - pow(b2, t)) + eps;
                P[i] -= lr / (1 - pow(b1, t)) * M[i] / den;
            }
        }
        for (int i = 0; i < 3; i++)
            ASSERT_NEAR(p[i], P[i], 1e-6);
    }
    /* SparseAdam on a row (no weight decay, as torch's) */
    {
        float p[3], m[3] = {0}, v[3] = {0};
        memcpy(p, p0, sizeof p);
        double P[3], M[3] = {0}, V[3] = {0};
        for (int i = 0; i < 3; i++)
            P[i] = p0[i];
        for (int t = 1; t <= 2; t++) {
            const float *g = t == 1 ? g1 : g2;
            nn_opt o = {NN_OPT_ADAM, (float)lr, (float)b1, (float)b2, (float)eps, 0,
                        0,           1.f,       t,         0,         0};
            nn_opt_prepare(&o);
            nn_opt_row(&o, p, g, m, v, 3);
            double step = lr * sqrt(1 - pow(b2, t)) / (1 - pow(b1, t));
            for (int i = 0; i < 3; i++) {
                M[i] = b1 * M[i] + (1 - b1) * g[i];
                V[i] = b2 * V[i] + (1 - b2) * (double)g[i] * g[i];
                P[i] -= step * M[i] / (sqrt(V[i]) + eps);
            }
        }
        for (int i = 0; i < 3; i++)
            ASSERT_NEAR(p[i], P[i], 1e-6);
    }
    /* AdaGrad: per element (dense) and one accumulator per row */
    {
        float p[3], s[3] = {0}, pr[3], acc = 0;
        memcpy(p, p0, sizeof p);
        memcpy(pr, p0, sizeof pr);
        nn_opt o = {NN_OPT_ADAGRAD, (float)lr, 0, 0, 1e-10f, 0, 0, 1.f, 1, 0, 0};
        nn_opt_dense(&o, p, g1, s, NULL, 3);
        nn_opt_row(&o, pr, g1, NULL, &acc, 3);
        double A = (0.04 + 0.16 + 1.0) / 3;
        for (int i = 0; i < 3; i++) {
            ASSERT_NEAR(p[i], p0[i] - lr * g1[i] / fabs(g1[i]), 1e-6); /* first step: lr·sign */
            ASSERT_NEAR(pr[i], p0[i] - lr * g1[i] / sqrt(A), 1e-6);
        }
        ASSERT_NEAR(acc, A, 1e-7);
    }
    /* SGD with momentum, two steps: v = μv + g, p −= lr·v */
    {
        float p[3], vel[3] = {0};
        memcpy(p, p0, sizeof p);
        for (int t = 1; t <= 2; t++) {
            nn_opt o = {NN_OPT_SGD, (float)lr, 0, 0, 0, 0.9f, 0, 1.f, t, 0, 0};
            nn_opt_dense(&o, p, t == 1 ? g1 : g2, vel, NULL, 3);
        }
        for (int i = 0; i < 3; i++)
            ASSERT_NEAR(p[i], p0[i] - lr * g1[i] - lr * (0.9 * g1[i] + g2[i]), 1e-6);
    }
}

TEST(ftrl_step_follows_mcmahan_algorithm_1) {
    /* Three steps of per-coordinate FTRL-Proximal in double (Algorithm 1 of
     * McMahan et al. 2013, written out here), against nn_ftrl_step. */
    const double a = 0.05, b = 1.0, l1 = 0.5, l2 = 1.0, gs[4] = {0.8, -0.3, 2.5, -1.7};
    double Z = 0, Nn = 0, W = 0;
    float z = 0, n = 0, w = 0;
    for (int t = 0; t < 4; t++) {
        double g = gs[t], sig = (sqrt(Nn + g * g) - sqrt(Nn)) / a;
        Z += g - sig * W;
        Nn += g * g;
        W = fabs(Z) <= l1 ? 0 : -(Z - (Z > 0 ? l1 : -l1)) / ((b + sqrt(Nn)) / a + l2);
        w = nn_ftrl_step(w, (float)g, &z, &n, (float)a, (float)b, (float)l1, (float)l2);
        ASSERT_NEAR(w, W, 1e-6);
        ASSERT_NEAR(z, Z, 1e-5);
        ASSERT_NEAR(n, Nn, 1e-5);
    }
    ASSERT_TRUE(w != 0.f); /* past the L1 threshold by the end */
    float zz = 0, nn = 0;  /* a small gradient stays inside the L1 ball: w = 0 */
    ASSERT_TRUE(nn_ftrl_step(0.f, 0.1f, &zz, &nn, 0.05f, 1.f, 0.5f, 1.f) == 0.f);
}

TEST(lr_schedule_warmup_and_decay) {
    ASSERT_NEAR(nn_lr_at(1.f, 0, 4, NN_DECAY_NONE, 100), 0.25, 1e-7);
    ASSERT_NEAR(nn_lr_at(1.f, 3, 4, NN_DECAY_NONE, 100), 1.0, 1e-7);
    ASSERT_NEAR(nn_lr_at(1.f, 50, 0, NN_DECAY_NONE, 100), 1.0, 1e-7);
    ASSERT_NEAR(nn_lr_at(1.f, 52, 4, NN_DECAY_LINEAR, 100), 0.5, 1e-6);
    ASSERT_NEAR(nn_lr_at(1.f, 52, 4, NN_DECAY_COSINE, 100), 0.5, 1e-6);
    ASSERT_NEAR(nn_lr_at(1.f, 100, 4, NN_DECAY_COSINE, 100), 0.0, 1e-7);
    ASSERT_NEAR(nn_lr_at(1.f, 500, 4, NN_DECAY_LINEAR, 100), 0.0, 1e-7);
    ASSERT_TRUE(!strcmp(nn_opt_name(NN_OPT_ADAGRAD), "adagrad"));
}

/* ---- fp16 weights for one-row scoring ------------------------------------------ */

TEST(f16_conversion_round_trips_and_rounds_to_nearest_even) {
    /* every half → float → half is the identity (NaNs stay NaN) */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = nn_f16_to_f32((uint16_t)h);
        uint16_t back = nn_f16_from_f32(f);
        if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu))
            ASSERT_TRUE(isnan(f) && (back & 0x7c00u) == 0x7c00u && (back & 0x3ffu));
        else
            ASSERT_EQ_INT(back, h);
    }
    /* by hand: 1, the largest half, overflow, the smallest subnormal, ties */
    ASSERT_EQ_INT(nn_f16_from_f32(1.f), 0x3c00);
    ASSERT_EQ_INT(nn_f16_from_f32(65504.f), 0x7bff);
    ASSERT_EQ_INT(nn_f16_from_f32(65520.f), 0x7c00); /* the tie above 65504 rounds to inf */
    ASSERT_EQ_INT(nn_f16_from_f32(-1e6f), 0xfc00);
    ASSERT_EQ_INT(nn_f16_from_f32(0x1p-24f), 0x0001);
    ASSERT_EQ_INT(nn_f16_from_f32(0x1p-25f), 0x0000);         /* tie to even: 0 */
    ASSERT_EQ_INT(nn_f16_from_f32(0x1.8p-24f), 0x0002);       /* tie to even: 2 */
    ASSERT_EQ_INT(nn_f16_from_f32(1.f + 0x1p-11f), 0x3c00);   /* tie to even: 1 */
    ASSERT_EQ_INT(nn_f16_from_f32(1.f + 0x1.8p-10f), 0x3c02); /* tie to even: up */
    ASSERT_EQ_INT(nn_f16_from_f32(0x1.ffcp-15f), 0x0400);     /* carries to the smallest normal */
    /* random floats over the whole range: the nearest half, ties to even (a
     * brute-force check against both neighbours, in double) */
    for (int i = 0; i < 200000; i++) {
        float f = ldexpf(frand(), (int)(frand() * 20.f) - 8);
        uint16_t h = nn_f16_from_f32(f);
        double e = fabs((double)f - nn_f16_to_f32(h));
        for (int s = -1; s <= 1; s += 2) {
            uint16_t o = (uint16_t)(h + s);
            if ((o & 0x7c00u) == 0x7c00u || ((o ^ h) & 0x8000u)) continue;
            double eo = fabs((double)f - nn_f16_to_f32(o));
            ASSERT_TRUE(e < eo || (e == eo && !(h & 1)));
        }
    }
    float src[3] = {0.5f, 1e5f, -0.1f}, r[3];
    uint16_t hb[3];
    ASSERT_EQ_INT(nn_f16_round(3, src, hb, r), 1); /* 1e5 overflows */
    ASSERT_NEAR(r[2], -0.1, 1e-4);
}

/* Every kernel this CPU has against the product in double over the same
 * fp16 weights: each term is exact in double, so the only error is the
 * kernel's f32 accumulation, |err| ≤ in·2^-24·Σ|x·w| (with margin 4). */
TEST(f16_gemv_kernels_match_a_double_reference) {
    static const int sizes[][2] = {{1, 1},    {7, 3},   {16, 16},   {17, 33},   {64, 128},
                                   {33, 130}, {300, 1}, {624, 400}, {400, 400}, {5, 250}};
    int ran[NN_HALF_KERNEL_COUNT] = {0};
    ASSERT_TRUE(nn_half_kernel() >= 0 && nn_half_kernel() < NN_HALF_KERNEL_COUNT);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int in = sizes[s][0], out = sizes[s][1];
        float *W = malloc((size_t)in * out * sizeof *W), *x = malloc((size_t)in * sizeof *x);
        float *b = malloc((size_t)out * sizeof *b), *y = malloc((size_t)out * sizeof *y);
        uint16_t *Wh = malloc((size_t)in * out * sizeof *Wh);
        fill(W, (size_t)in * out, 0.1f);
        fill(b, (size_t)out, 0.5f);
        for (int i = 0; i < in; i++) /* half the inputs zero, as after a ReLU */
            x[i] = frand() > 0 ? frand() : 0.f;
        ASSERT_EQ_INT(nn_f16_round((size_t)in * out, W, Wh, W), 0);
        for (int k = 0; k < NN_HALF_KERNEL_COUNT; k++)
            for (int withb = 0; withb < 2; withb++) {
                if (nn_gemv_f16_with(k, in, out, x, Wh, withb ? b : NULL, y)) continue;
                ran[k]++;
                for (int j = 0; j < out; j++) {
                    double ref = withb ? b[j] : 0, mag = fabs(ref);
                    for (int i = 0; i < in; i++) {
                        ref += (double)x[i] * W[(size_t)i * out + j];
                        mag += fabs((double)x[i] * W[(size_t)i * out + j]);
                    }
                    ASSERT_NEAR(y[j], ref, 4.0 * (in + 1) * 0x1p-24 * mag + 1e-30);
                }
            }
        /* the dispatched kernel is one of them */
        nn_gemv_f16(in, out, x, Wh, b, y);
        float *y2 = malloc((size_t)out * sizeof *y2);
        ASSERT_EQ_INT(nn_gemv_f16_with(nn_half_kernel(), in, out, x, Wh, b, y2), 0);
        ASSERT_TRUE(!memcmp(y, y2, (size_t)out * sizeof *y));
        free(y2);
        free(W), free(x), free(b), free(y), free(Wh);
    }
    ASSERT_TRUE(ran[NN_HALF_PLAIN] > 0);
    fprintf(stderr, "  kernels run here: plain %d, avx2 %d, avx512 %d (dispatched: %s)\n",
            ran[NN_HALF_PLAIN], ran[NN_HALF_AVX2], ran[NN_HALF_AVX512],
            nn_half_kernel_name(nn_half_kernel()));
}

/* Per-column int8: s[j] = max|w| / 127 exactly as computed, the largest
 * weight lands on ±127, and w/s rounded to the nearest step, so with the
 * division's and r = q·s's float roundings (each ≤ 2^-24 relative, on values
 * ≤ 127·s) |w - r| ≤ s/2 + 254·2^-24·s. A zero column is exact at s = 0;
 * columns with a non-finite value or a subnormal scale are counted. */
TEST(q8_quantise_round_trips_within_half_a_step) {
    enum { R = 37, C = 21 };
    float W[R * C], r[R * C], s[C];
    int8_t q[R * C];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) /* magnitudes from 1e-3 to 1e3 by column */
            W[i * C + j] = frand() * powf(10.f, (float)(j % 7) - 3.f);
    for (int i = 0; i < R; i++)
        W[i * C + 5] = 0.f; /* an all-zero column */
    ASSERT_EQ_INT(nn_q8_quantise(R, C, W, q, s, r), 0);
    for (int j = 0; j < C; j++) {
        float m = 0.f;
        int top = 0;
        for (int i = 0; i < R; i++)
            m = fmaxf(m, fabsf(W[i * C + j]));
        ASSERT_TRUE(s[j] == m / 127.f);
        for (int i = 0; i < R; i++) {
            int k = i * C + j;
            ASSERT_TRUE(q[k] >= -127 && q[k] <= 127);
            ASSERT_TRUE(r[k] == (float)q[k] * s[j]);
            ASSERT_NEAR(r[k], W[k], s[j] / 2 + 254 * 0x1p-24 * s[j]);
            top |= fabsf(W[k]) == m && abs(q[k]) == 127;
        }
        ASSERT_TRUE(j == 5 ? s[j] == 0.f : top);
    }
    /* in place (r = src) gives the same values */
    float W2[R * C];
    int8_t q2[R * C];
    memcpy(W2, W, sizeof W);
    ASSERT_EQ_INT(nn_q8_quantise(R, C, W2, q2, s, W2), 0);
    ASSERT_TRUE(!memcmp(W2, r, sizeof r) && !memcmp(q2, q, sizeof q));
    /* columns int8 cannot hold: NaN, inf, a scale below FLT_MIN (1e-37 / 127) */
    float B[2 * 4] = {1.f, NAN, INFINITY, 1e-37f, -2.f, 0.f, 0.f, 0.f}, Br[8], Bs[4];
    int8_t Bq[8];
    ASSERT_EQ_INT(nn_q8_quantise(2, 4, B, Bq, Bs, Br), 3);
    ASSERT_TRUE(Bs[0] == 2.f / 127.f && Bq[0] == 64 && Bq[4] == -127);
}

/* Every int8 kernel this CPU has against the product in double over the
 * dequantised weights, s[j]·Σ x[i]·q[i][j] + b[j]: the kernel's error is its
 * f32 accumulation (≤ in·2^-24·Σ|x·q|), the product x·q's rounding where it
 * does not fuse, the multiply by s and the add of b, so
 * |err| ≤ (in + 3)·2^-24·(s·Σ|x·q| + |b|), with margin 4. Sizes off the
 * vector widths (16, 8) exercise the masked and scalar tails. */
TEST(q8_gemv_kernels_match_a_double_reference) {
    static const int sizes[][2] = {{1, 1},    {7, 3},   {16, 16},   {17, 33},   {64, 128},
                                   {33, 130}, {300, 1}, {624, 624}, {400, 400}, {5, 250}};
    int ran[NN_HALF_KERNEL_COUNT] = {0};
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        int in = sizes[z][0], out = sizes[z][1];
        float *W = malloc((size_t)in * out * sizeof *W), *x = malloc((size_t)in * sizeof *x);
        float *b = malloc((size_t)out * sizeof *b), *y = malloc((size_t)out * sizeof *y);
        float *s = malloc((size_t)out * sizeof *s);
        int8_t *q = malloc((size_t)in * out);
        fill(W, (size_t)in * out, 0.1f);
        fill(b, (size_t)out, 0.5f);
        for (int i = 0; i < in; i++) /* half the inputs zero, as after a ReLU */
            x[i] = frand() > 0 ? frand() : 0.f;
        ASSERT_EQ_INT(nn_q8_quantise(in, out, W, q, s, W), 0);
        for (int k = 0; k < NN_HALF_KERNEL_COUNT; k++)
            for (int withb = 0; withb < 2; withb++) {
                if (nn_gemv_q8_with(k, in, out, x, q, s, withb ? b : NULL, y)) continue;
                ran[k]++;
                for (int j = 0; j < out; j++) {
                    double sum = 0, mag = 0, bj = withb ? b[j] : 0;
                    for (int i = 0; i < in; i++) {
                        sum += (double)x[i] * q[(size_t)i * out + j];
                        mag += fabs((double)x[i] * q[(size_t)i * out + j]);
                    }
                    double ref = sum * s[j] + bj,
                           tol = (in + 3) * 0x1p-24 * (mag * s[j] + fabs(bj));
                    ASSERT_NEAR(y[j], ref, 4.0 * tol + 1e-30);
                }
            }
        float *y2 = malloc((size_t)out * sizeof *y2); /* the dispatched kernel is one of them */
        nn_gemv_q8(in, out, x, q, s, b, y);
        ASSERT_EQ_INT(nn_gemv_q8_with(nn_half_kernel(), in, out, x, q, s, b, y2), 0);
        ASSERT_TRUE(!memcmp(y, y2, (size_t)out * sizeof *y));
        free(y2);
        free(W), free(x), free(b), free(y), free(s), free(q);
    }
    ASSERT_TRUE(ran[NN_HALF_PLAIN] > 0);
    fprintf(stderr, "  int8 kernels run here: plain %d, avx2 %d, avx512 %d\n", ran[NN_HALF_PLAIN],
            ran[NN_HALF_AVX2], ran[NN_HALF_AVX512]);
}

/* Rows whose input is zero are not read: with one weight row per page, those
 * rows' pages are made unreadable, and every kernel, fp16 and int8, must run
 * (a read would fault) and match the product over the other rows. */
TEST(gemv_kernels_skip_the_rows_of_zero_inputs) {
    enum { IN = 9 };
    long pg = sysconf(_SC_PAGESIZE);
    int out8 = (int)pg, out16 = (int)pg / 2; /* one row per page */
    float x[IN], s[8192];
    static const int zero[IN] = {1, 0, 0, 1, 0, 0, 0, 0, 1}; /* first, middle and last */
    int8_t *q =
        mmap(NULL, (size_t)pg * IN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_TRUE(q != MAP_FAILED && out8 <= 8192);
    uint16_t *h = (uint16_t *)(void *)q;
    for (int i = 0; i < IN; i++)
        x[i] = zero[i] ? 0.f : 0.5f + (float)i;
    float *y = malloc((size_t)out8 * sizeof *y);
    for (int wb = 1; wb <= 2; wb++) {
        int out = wb == 1 ? out8 : out16;
        for (int i = 0; i < IN; i++)
            for (int j = 0; j < out; j++)
                if (wb == 1) {
                    q[(size_t)i * out + j] = (int8_t)((i * 7 + j) % 255 - 127);
                } else {
                    h[(size_t)i * out + j] = nn_f16_from_f32((float)((i * 7 + j) % 255 - 127));
                }
        for (int j = 0; j < out; j++)
            s[j] = 1.f;
        for (int i = 0; i < IN; i++)
            if (zero[i])
                ASSERT_EQ_INT(mprotect((char *)q + (size_t)i * pg, (size_t)pg, PROT_NONE), 0);
        for (int k = 0; k < NN_HALF_KERNEL_COUNT; k++) {
            int rc = wb == 1 ? nn_gemv_q8_with(k, IN, out, x, q, s, NULL, y)
                             : nn_gemv_f16_with(k, IN, out, x, h, NULL, y);
            if (rc) continue;
            for (int j = 0; j < out; j++) {
                double ref = 0; /* integer terms: exact in float too */
                for (int i = 0; i < IN; i++)
                    if (!zero[i]) ref += (double)x[i] * ((i * 7 + j) % 255 - 127);
                ASSERT_NEAR(y[j], ref, 0);
            }
        }
        ASSERT_EQ_INT(mprotect(q, (size_t)pg * IN, PROT_READ | PROT_WRITE), 0);
    }
    free(y);
    munmap(q, (size_t)pg * IN);
}
