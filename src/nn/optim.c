/* optim.c — optimizers of the layer library (see nn/nn.h): Adam (dense as
 * torch.optim.Adam, lazy per touched row as torch.optim.SparseAdam), AdaGrad
 * (per element for dense parameters, one accumulator per row for
 * embeddings), SGD with momentum, and the learning-rate schedule. */
#include "nn/nn.h"

#include <math.h>

static const char *const opt_names[] = {
#define NN_XX_NAME(name, str) str,
    NN_OPT_MAP(NN_XX_NAME)
#undef NN_XX_NAME
};
_Static_assert(sizeof opt_names / sizeof opt_names[0] == NN_OPT_COUNT, "optimizer table");

const char *nn_opt_name(nn_opt_kind k) { return (unsigned)k < NN_OPT_COUNT ? opt_names[k] : "?"; }

int nn_opt_dense_states(nn_opt_kind k) { return k == NN_OPT_ADAM ? 2 : 1; }
int nn_opt_row_states(nn_opt_kind k) { return k == NN_OPT_ADAM ? 2 : k == NN_OPT_SGD ? 1 : 0; }

void nn_opt_prepare(nn_opt *o) {
    o->c1 = (float)(1.0 - pow((double)o->b1, (double)o->t));
    o->c2 = (float)(1.0 - pow((double)o->b2, (double)o->t));
}

void nn_opt_dense(const nn_opt *o, float *p, const float *g, float *s1, float *s2, size_t n) {
    const float gs = o->gscale, wd = o->wd, lr = o->lr, eps = o->eps;
    switch (o->kind) {
    case NN_OPT_ADAM: {
        const float b1 = o->b1, b2 = o->b2, step = lr / o->c1, isc2 = 1.f / sqrtf(o->c2);
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] * gs + wd * p[i];
            float m = b1 * s1[i] + (1.f - b1) * gi, v = b2 * s2[i] + (1.f - b2) * gi * gi;
            s1[i] = m;
            s2[i] = v;
            p[i] -= step * m / (sqrtf(v) * isc2 + eps);
        }
        break;
    }
    case NN_OPT_ADAGRAD:
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] * gs + wd * p[i], a = s1[i] + gi * gi;
            s1[i] = a;
            p[i] -= lr * gi / (sqrtf(a) + eps);
        }
        break;
    case NN_OPT_SGD: {
        const float mu = o->momentum;
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] * gs + wd * p[i], v = mu * s1[i] + gi;
            s1[i] = v;
            p[i] -= lr * v;
        }
        break;
    }
    default: break;
    }
}

void nn_opt_row(const nn_opt *o, float *p, const float *g, float *s1, float *s2, int n) {
    const float gs = o->gscale, wd = o->wd, lr = o->lr, eps = o->eps;
    switch (o->kind) {
    case NN_OPT_ADAM: {
        /* SparseAdam: step = lr·sqrt(1 − b2^t)/(1 − b1^t), p −= step·m/(sqrt(v) + eps) */
        const float b1 = o->b1, b2 = o->b2, step = lr * sqrtf(o->c2) / o->c1;
        for (int i = 0; i < n; i++) {
            float gi = g[i] * gs + wd * p[i];
            float m = b1 * s1[i] + (1.f - b1) * gi, v = b2 * s2[i] + (1.f - b2) * gi * gi;
            s1[i] = m;
            s2[i] = v;
            p[i] -= step * m / (sqrtf(v) + eps);
        }
        break;
    }
    case NN_OPT_ADAGRAD: {
        float q = 0.f;
        for (int i = 0; i < n; i++) {
            float gi = g[i] * gs + wd * p[i];
            q += gi * gi;
        }
        float a = *s2 + q / (float)(n > 0 ? n : 1), sc = lr / (sqrtf(a) + eps);
        *s2 = a;
        for (int i = 0; i < n; i++)
            p[i] -= sc * (g[i] * gs + wd * p[i]);
        break;
    }
    case NN_OPT_SGD: {
        const float mu = o->momentum;
        for (int i = 0; i < n; i++) {
            float gi = g[i] * gs + wd * p[i], v = mu * s1[i] + gi;
            s1[i] = v;
            p[i] -= lr * v;
        }
        break;
    }
    default: break;
    }
}

float nn_ftrl_step(float w, float g, float *z, float *n, float alpha, float beta, float l1,
                   float l2) {
    float n0 = *n, n1 = n0 + g * g;
    float sigma = (sqrtf(n1) - sqrtf(n0)) / alpha;
    float zz = *z + g - sigma * w;
    *z = zz;
    *n = n1;
    if (fabsf(zz) <= l1) return 0.f;
    float s = zz > 0 ? l1 : -l1;
    return -(zz - s) / ((beta + sqrtf(n1)) / alpha + l2);
}

float nn_lr_at(float lr, int64_t step, int64_t warmup, nn_decay decay, int64_t total) {
    if (warmup > 0 && step < warmup) return lr * (float)(step + 1) / (float)warmup;
    if (decay == NN_DECAY_NONE || total <= warmup) return lr;
    double q = (double)(step - warmup) / (double)(total - warmup);
    if (q > 1) q = 1;
    if (q < 0) q = 0;
    if (decay == NN_DECAY_LINEAR) return (float)(lr * (1.0 - q));
    return (float)(lr * 0.5 * (1.0 + cos(3.14159265358979323846 * q)));
}
