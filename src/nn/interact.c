/* interact.c — the feature-interaction layers of the layer library (see
 * nn/nn.h): FM second-order pooling, field-aware FM, the DCN-v2 cross layer
 * (full and low rank) and DLRM's pairwise dot interaction. */
#include "nn/nn.h"

#include "nn/blas.h"
#include <string.h>

void nn_fm_fwd(int B, int F, int d, const float *E, int ld, float *S, float *out) {
    for (int r = 0; r < B; r++) {
        const float *e = E + (size_t)r * ld;
        float *s = S + (size_t)r * d;
        memset(s, 0, (size_t)d * sizeof *s);
        float sq = 0.f;
        for (int f = 0; f < F; f++) {
            const float *v = e + (size_t)f * d;
            for (int j = 0; j < d; j++) {
                s[j] += v[j];
                sq += v[j] * v[j];
            }
        }
        float ss = 0.f;
        for (int j = 0; j < d; j++)
            ss += s[j] * s[j];
        out[r] = 0.5f * (ss - sq);
    }
}

void nn_fm_bwd(int B, int F, int d, const float *E, int ld, const float *S, const float *dout,
               float *dE, int lddE) {
    for (int r = 0; r < B; r++) {
        const float *e = E + (size_t)r * ld, *s = S + (size_t)r * d;
        float *de = dE + (size_t)r * lddE, g = dout[r];
        for (int f = 0; f < F; f++)
            for (int j = 0; j < d; j++)
                de[(size_t)f * d + j] += g * (s[j] - e[(size_t)f * d + j]);
    }
}

void nn_ffm_fwd(int B, int F, int k, const float *E, int ld, float *out) {
    for (int r = 0; r < B; r++) {
        const float *e = E + (size_t)r * ld;
        float z = 0.f;
        for (int f = 0; f < F; f++)
            for (int g = f + 1; g < F; g++) {
                const float *a = e + ((size_t)f * F + g) * k, *b = e + ((size_t)g * F + f) * k;
                for (int j = 0; j < k; j++)
                    z += a[j] * b[j];
            }
        out[r] = z;
    }
}

void nn_ffm_bwd(int B, int F, int k, const float *E, int ld, const float *dout, float *dE,
                int lddE) {
    for (int r = 0; r < B; r++) {
        const float *e = E + (size_t)r * ld;
        float *de = dE + (size_t)r * lddE, g = dout[r];
        for (int f = 0; f < F; f++)
            for (int h = f + 1; h < F; h++) {
                size_t a = ((size_t)f * F + h) * k, b = ((size_t)h * F + f) * k;
                for (int j = 0; j < k; j++) {
                    de[a + j] += g * e[b + j];
                    de[b + j] += g * e[a + j];
                }
            }
    }
}

void nn_cross_fwd(int B, int D, int rank, const float *x0, const float *x, int ld, const float *W,
                  const float *b, float *u, float *t, float *xn) {
    if (B <= 0) return;
    if (rank == 0) {
        nn_linear_fwd(B, D, D, x, ld, W, b, u, D);
    } else {
        const float *V = W, *U = W + (size_t)D * rank;
        nn_linear_fwd(B, D, rank, x, ld, V, NULL, t, rank);
        nn_linear_fwd(B, rank, D, t, rank, U, b, u, D);
    }
    for (int r = 0; r < B; r++) {
        const float *a = x0 + (size_t)r * ld, *c = x + (size_t)r * ld, *uu = u + (size_t)r * D;
        float *o = xn + (size_t)r * ld;
        for (int j = 0; j < D; j++)
            o[j] = a[j] * uu[j] + c[j];
    }
}

void nn_cross_bwd(int B, int D, int rank, const float *x0, const float *x, int ld, const float *W,
                  const float *u, const float *t, const float *dxn, float *dx, float *dx0,
                  float *dW, float *db, float *g, float *gt) {
    if (B <= 0) return;
    for (int r = 0; r < B; r++) {
        const float *a = x0 + (size_t)r * ld, *uu = u + (size_t)r * D, *d = dxn + (size_t)r * D;
        float *gg = g + (size_t)r * D, *d0 = dx0 + (size_t)r * D, *o = dx + (size_t)r * D;
        for (int j = 0; j < D; j++) {
            gg[j] = d[j] * a[j];
            d0[j] += d[j] * uu[j];
            o[j] = d[j]; /* the residual */
        }
    }
    if (rank == 0) {
        nn_linear_bwd(B, D, D, x, ld, W, g, D, dW, db, dx, D, 1);
    } else {
        const float *V = W, *U = W + (size_t)D * rank;
        float *dV = dW, *dU = dW + (size_t)D * rank;
        nn_linear_bwd(B, rank, D, t, rank, U, g, D, dU, db, gt, rank, 0);
        nn_linear_bwd(B, D, rank, x, ld, V, gt, rank, dV, NULL, dx, D, 1);
    }
}

void nn_dot_fwd(int B, int n, int d, const float *T, int ldt, float *Z, int ldz) {
    for (int r = 0; r < B; r++) {
        const float *t = T + (size_t)r * ldt;
        float *z = Z + (size_t)r * ldz;
        int p = 0;
        for (int i = 1; i < n; i++) {
            const float *a = t + (size_t)i * d;
            for (int j = 0; j < i; j++) {
                const float *c = t + (size_t)j * d;
                float s = 0.f;
                for (int k = 0; k < d; k++)
                    s += a[k] * c[k];
                z[p++] = s;
            }
        }
    }
}

void nn_dot_bwd(int B, int n, int d, const float *T, int ldt, const float *dZ, int lddz, float *dT,
                int lddt) {
    for (int r = 0; r < B; r++) {
        const float *t = T + (size_t)r * ldt, *dz = dZ + (size_t)r * lddz;
        float *dt = dT + (size_t)r * lddt;
        int p = 0;
        for (int i = 1; i < n; i++)
            for (int j = 0; j < i; j++) {
                float g = dz[p++];
                const float *a = t + (size_t)i * d, *c = t + (size_t)j * d;
                float *da = dt + (size_t)i * d, *dc = dt + (size_t)j * d;
                for (int k = 0; k < d; k++) {
                    da[k] += g * c[k];
                    dc[k] += g * a[k];
                }
            }
    }
}
