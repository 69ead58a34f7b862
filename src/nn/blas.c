/* blas.c — run-time binding of the layer library's BLAS calls (see blas.h). */
#include "nn/blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

typedef void (*sgemm_fn)(OPENBLAS_CONST enum CBLAS_ORDER, OPENBLAS_CONST enum CBLAS_TRANSPOSE,
                         OPENBLAS_CONST enum CBLAS_TRANSPOSE, OPENBLAS_CONST blasint,
                         OPENBLAS_CONST blasint, OPENBLAS_CONST blasint, OPENBLAS_CONST float,
                         OPENBLAS_CONST float *, OPENBLAS_CONST blasint, OPENBLAS_CONST float *,
                         OPENBLAS_CONST blasint, OPENBLAS_CONST float, float *,
                         OPENBLAS_CONST blasint);
typedef void (*sgemv_fn)(OPENBLAS_CONST enum CBLAS_ORDER, OPENBLAS_CONST enum CBLAS_TRANSPOSE,
                         OPENBLAS_CONST blasint, OPENBLAS_CONST blasint, OPENBLAS_CONST float,
                         OPENBLAS_CONST float *, OPENBLAS_CONST blasint, OPENBLAS_CONST float *,
                         OPENBLAS_CONST blasint, OPENBLAS_CONST float, float *,
                         OPENBLAS_CONST blasint);
typedef void (*threads_fn)(int);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static sgemm_fn p_sgemm;
static sgemv_fn p_sgemv;
static threads_fn p_threads;

static void load(void) {
    if (getenv("LEAP_NO_BLAS")) return; /* tests: the fallback loops */
    static const char *const names[] = {"libopenblas.so.0", "libopenblas.so", "libblas.so.3"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!h) continue;
        sgemm_fn g = (sgemm_fn)dlsym(h, "cblas_sgemm");
        sgemv_fn v = (sgemv_fn)dlsym(h, "cblas_sgemv");
        if (!g || !v) {
            dlclose(h);
            continue;
        }
        p_sgemm = g;
        p_sgemv = v;
        p_threads = (threads_fn)dlsym(h, "openblas_set_num_threads");
        return;
    }
}

int leap_blas_loaded(void) {
    pthread_once(&once, load);
    return p_sgemm != NULL;
}

/* Element (i, j) of op(X) for a row-major X with leading dimension ld. */
static inline float at(const float *X, blasint ld, int trans, blasint i, blasint j) {
    return trans ? X[(size_t)j * ld + i] : X[(size_t)i * ld + j];
}

void leap_cblas_sgemm(OPENBLAS_CONST enum CBLAS_ORDER order, OPENBLAS_CONST enum CBLAS_TRANSPOSE ta,
                      OPENBLAS_CONST enum CBLAS_TRANSPOSE tb, OPENBLAS_CONST blasint M,
                      OPENBLAS_CONST blasint N, OPENBLAS_CONST blasint K,
                      OPENBLAS_CONST float alpha, OPENBLAS_CONST float *A,
                      OPENBLAS_CONST blasint lda, OPENBLAS_CONST float *B,
                      OPENBLAS_CONST blasint ldb, OPENBLAS_CONST float beta, float *C,
                      OPENBLAS_CONST blasint ldc) {
    pthread_once(&once, load);
    if (p_sgemm) {
        p_sgemm(order, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (order == CblasColMajor) { /* C^T = op(B)^T op(A)^T, row-major */
        leap_cblas_sgemm(CblasRowMajor, tb, ta, N, M, K, alpha, B, ldb, A, lda, beta, C, ldc);
        return;
    }
    int tA = ta != CblasNoTrans, tB = tb != CblasNoTrans;
    for (blasint i = 0; i < M; i++)
        for (blasint j = 0; j < N; j++) {
            float s = 0.f;
            for (blasint k = 0; k < K; k++)
                s += at(A, lda, tA, i, k) * at(B, ldb, tB, k, j);
            float *c = &C[(size_t)i * ldc + j];
            *c = alpha * s + (beta == 0.f ? 0.f : beta * *c);
        }
}

void leap_cblas_sgemv(OPENBLAS_CONST enum CBLAS_ORDER order,
                      OPENBLAS_CONST enum CBLAS_TRANSPOSE trans, OPENBLAS_CONST blasint m,
                      OPENBLAS_CONST blasint n, OPENBLAS_CONST float alpha, OPENBLAS_CONST float *a,
                      OPENBLAS_CONST blasint lda, OPENBLAS_CONST float *x,
                      OPENBLAS_CONST blasint incx, OPENBLAS_CONST float beta, float *y,
                      OPENBLAS_CONST blasint incy) {
    pthread_once(&once, load);
    if (p_sgemv) {
        p_sgemv(order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy);
        return;
    }
    /* Row-major A (m x n); column-major is the transpose of the other case. */
    int t = (trans != CblasNoTrans) != (order == CblasColMajor);
    blasint rows = order == CblasColMajor ? n : m, cols = order == CblasColMajor ? m : n;
    blasint ny = t ? cols : rows, nx = t ? rows : cols;
    for (blasint i = 0; i < ny; i++) {
        float s = 0.f;
        for (blasint k = 0; k < nx; k++)
            s += (t ? a[(size_t)k * lda + i] : a[(size_t)i * lda + k]) * x[(size_t)k * incx];
        float *yi = &y[(size_t)i * incy];
        *yi = alpha * s + (beta == 0.f ? 0.f : beta * *yi);
    }
}

void leap_openblas_set_num_threads(int n) {
    pthread_once(&once, load);
    if (p_threads) p_threads(n);
}
