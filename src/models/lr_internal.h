/* lr_internal.h — the logistic-regression model's private state, shared by
 * lr.c (online optimizers, save/load) and lr_lbfgs.c (batch L-BFGS). */
#ifndef LEAP_LR_INTERNAL_H
#define LEAP_LR_INTERNAL_H

#include "leap/model.h"

#include <math.h>

enum { LR_FTRL, LR_ADAGRAD, LR_LBFGS };

typedef struct lr_opts {
    int optimizer; /* LR_FTRL, LR_ADAGRAD, LR_LBFGS */
    double alpha, beta, l1, l2, lr, weight_decay, tol;
    int max_iter;
} lr_opts;

typedef struct lr_model {
    leap_model base;
    lr_opts o;
    uint32_t D; /* n_buckets + 1; bias at D - 1 */
    float *zn;  /* FTRL state [D][2]: z_i, n_i side by side so one cache line
                   miss fetches both (NULL when loaded from a bundle) */
    float *g2;  /* AdaGrad Σg² [D] */
    float *w;   /* prediction weights [D] */
} lr_model;

static inline float sigmoidf_clamped(float x) {
    if (x > 35.f) x = 35.f;
    if (x < -35.f) x = -35.f;
    return 1.f / (1.f + expf(-x));
}

static inline double logloss1(float p, float y) {
    double q = p < 1e-15f ? 1e-15 : (p > 1 - 1e-7f ? 1 - 1e-7 : p);
    return y > 0.5f ? -log(q) : -log(1.0 - q);
}

/* Batch L-BFGS fit (lr_lbfgs.c); LEAP_EUNSUPPORTED for the online optimizers. */
int leap__lr_fit(leap_model *m, leap_fit_io *io, leap_err *err);

#endif
