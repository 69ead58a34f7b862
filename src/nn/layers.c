/* layers.c — the dense layers of the layer library (see nn/nn.h): linear
 * (cblas_sgemm over the whole sub-batch), ReLU, sigmoid, dropout, layer norm,
 * concatenation and the weighted logistic loss. No allocation, no state. */
#include "nn/nn.h"

#include "nn/blas.h"
#include <math.h>
#include <string.h>

void nn_linear_fwd(int B, int in, int out, const float *X, int ldx, const float *W, const float *b,
                   float *Y, int ldy) {
    if (B <= 0 || out <= 0) return;
    if (in <= 0) {
        for (int r = 0; r < B; r++)
            for (int j = 0; j < out; j++)
                Y[(size_t)r * ldy + j] = b ? b[j] : 0.f;
        return;
    }
    if (B == 1) /* one row (serving): a matrix-vector product, y = Wᵀ x */
        cblas_sgemv(CblasRowMajor, CblasTrans, in, out, 1.f, W, out, X, 1, 0.f, Y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, out, in, 1.f, X, ldx, W, out, 0.f,
                    Y, ldy);
    if (b)
        for (int r = 0; r < B; r++) {
            float *y = Y + (size_t)r * ldy;
            for (int j = 0; j < out; j++)
                y[j] += b[j];
        }
}

void nn_linear_bwd(int B, int in, int out, const float *X, int ldx, const float *W, const float *dY,
                   int lddy, float *dW, float *db, float *dX, int lddx, int accum_dx) {
    if (B <= 0 || out <= 0) return;
    if (in > 0 && dW)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, B, 1.f, X, ldx, dY, lddy, 1.f,
                    dW, out);
    if (db)
        for (int r = 0; r < B; r++) {
            const float *dy = dY + (size_t)r * lddy;
            for (int j = 0; j < out; j++)
                db[j] += dy[j];
        }
    if (in > 0 && dX)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, in, out, 1.f, dY, lddy, W, out,
                    accum_dx ? 1.f : 0.f, dX, lddx);
}

void nn_relu_fwd(int B, int n, float *x, int ld) {
    for (int r = 0; r < B; r++) {
        float *v = x + (size_t)r * ld;
        for (int j = 0; j < n; j++)
            v[j] = v[j] > 0.f ? v[j] : 0.f;
    }
}

void nn_relu_bwd(int B, int n, const float *y, int ldy, float *dy, int lddy) {
    for (int r = 0; r < B; r++) {
        const float *v = y + (size_t)r * ldy;
        float *d = dy + (size_t)r * lddy;
        for (int j = 0; j < n; j++)
            d[j] = v[j] > 0.f ? d[j] : 0.f;
    }
}

static inline float sigm(float x) {
    if (x > 35.f) x = 35.f;
    if (x < -35.f) x = -35.f;
    return 1.f / (1.f + expf(-x));
}

void nn_sigmoid_fwd(size_t n, const float *x, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = sigm(x[i]);
}

void nn_sigmoid_bwd(size_t n, const float *y, const float *dy, float *dx) {
    for (size_t i = 0; i < n; i++)
        dx[i] += dy[i] * y[i] * (1.f - y[i]);
}

/* Keep-multiplier of element (row, j): 1/(1 − p) or 0. 24 bits of a hash. */
static inline float drop_mult(uint64_t seed, uint64_t row, int n, int j, uint32_t thresh,
                              float keep) {
    uint64_t x = seed ^ ((row * (uint64_t)n + (uint64_t)j + 1) * 0x9e3779b97f4a7c15ULL);
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 29;
    return (uint32_t)(x >> 40) >= thresh ? keep : 0.f;
}

static void dropout_apply(int B, int n, float p, uint64_t seed, uint64_t row0, float *x, int ld) {
    if (!(p > 0.f)) return;
    uint32_t thresh = (uint32_t)(p * 16777216.0f);
    float keep = 1.f / (1.f - p);
    for (int r = 0; r < B; r++) {
        float *v = x + (size_t)r * ld;
        uint64_t row = row0 + (uint64_t)r;
        for (int j = 0; j < n; j++)
            v[j] *= drop_mult(seed, row, n, j, thresh, keep);
    }
}

void nn_dropout_fwd(int B, int n, float p, uint64_t seed, uint64_t row0, float *x, int ld) {
    dropout_apply(B, n, p, seed, row0, x, ld);
}

void nn_dropout_bwd(int B, int n, float p, uint64_t seed, uint64_t row0, float *dx, int ld) {
    dropout_apply(B, n, p, seed, row0, dx, ld); /* the same mask and scale */
}

#define LN_EPS 1e-5f

void nn_layernorm_fwd(int B, int n, const float *x, int ldx, const float *g, const float *b,
                      float *y, int ldy, float *mu, float *rstd) {
    for (int r = 0; r < B; r++) {
        const float *v = x + (size_t)r * ldx;
        float *o = y + (size_t)r * ldy;
        float s = 0.f;
        for (int j = 0; j < n; j++)
            s += v[j];
        float m = s / (float)n, q = 0.f;
        for (int j = 0; j < n; j++)
            q += (v[j] - m) * (v[j] - m);
        float rs = 1.f / sqrtf(q / (float)n + LN_EPS);
        mu[r] = m;
        rstd[r] = rs;
        for (int j = 0; j < n; j++)
            o[j] = (v[j] - m) * rs * g[j] + b[j];
    }
}

void nn_layernorm_bwd(int B, int n, const float *x, int ldx, const float *g, const float *mu,
                      const float *rstd, const float *dy, int lddy, float *dx, int lddx, float *dg,
                      float *db) {
    for (int r = 0; r < B; r++) {
        const float *v = x + (size_t)r * ldx, *d = dy + (size_t)r * lddy;
        float *o = dx + (size_t)r * lddx;
        float m = mu[r], rs = rstd[r], a = 0.f, c = 0.f;
        for (int j = 0; j < n; j++) {
            float xh = (v[j] - m) * rs, dxh = d[j] * g[j];
            dg[j] += d[j] * xh;
            db[j] += d[j];
            a += dxh;
            c += dxh * xh;
        }
        a /= (float)n;
        c /= (float)n;
        for (int j = 0; j < n; j++) {
            float xh = (v[j] - m) * rs;
            o[j] = rs * (d[j] * g[j] - a - xh * c); /* d[j] read before o[j] is written */
        }
    }
}

void nn_concat_fwd(int B, int k, const int *w, const float *const *src, float *dst, int ld) {
    for (int r = 0; r < B; r++) {
        float *o = dst + (size_t)r * ld;
        for (int i = 0; i < k; i++) {
            memcpy(o, src[i] + (size_t)r * w[i], (size_t)w[i] * sizeof(float));
            o += w[i];
        }
    }
}

void nn_concat_bwd(int B, int k, const int *w, const float *ddst, int ld, float *const *dsrc) {
    for (int r = 0; r < B; r++) {
        const float *d = ddst + (size_t)r * ld;
        for (int i = 0; i < k; i++) {
            float *o = dsrc[i] + (size_t)r * w[i];
            for (int j = 0; j < w[i]; j++)
                o[j] += d[j];
            d += w[i];
        }
    }
}

/* log(1 + e^x) without overflow. */
static inline double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

double nn_logloss(int B, const float *z, const float *y, const float *w, float scale, float *p,
                  float *dz) {
    double loss = 0;
    for (int r = 0; r < B; r++) {
        float wt = w ? w[r] : 1.f, q = sigm(z[r]);
        int pos = y[r] > 0.5f;
        loss += wt * softplus(pos ? -(double)z[r] : (double)z[r]);
        if (p) p[r] = q;
        if (dz) dz[r] = scale * wt * (q - (pos ? 1.f : 0.f));
    }
    return loss;
}
