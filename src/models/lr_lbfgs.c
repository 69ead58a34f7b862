/* lr_lbfgs.c — logistic regression by batch L-BFGS (`--set optimizer=lbfgs`).
 *
 * Minimises  Σ_i w_i · logloss(σ(θ·x_i)) + (l2 / 2) · ||θ without the bias||²
 * (the objective of scikit-learn's LogisticRegression with C = 1 / l2) over
 * full passes of the data. Each pass runs on all threads through the
 * trainer's map (every thread sums into its own gradient buffer, so there are
 * no shared writes) and, under MPI, the loss and gradient are allreduced: the
 * 2-rank model is the 1-rank model up to float summation order.
 *
 * Only coordinates that occur in the data can move from 0 (the gradient of
 * the others is l2·0 = 0), so a first pass marks them and every vector is
 * kept over that active set: with 2^22 hashed buckets and a small file the
 * vectors are a few thousand entries, not four million.
 *
 * Search direction: the two-loop recursion over the last LB_M (s, y) pairs
 * (Nocedal & Wright, Numerical Optimization, Alg. 7.4) with the initial
 * scaling s·y / y·y; step: backtracking until the Armijo condition holds
 * (c1 = 1e-4). Stops after max_iter iterations, or when an iteration lowers
 * the objective by less than tol relative, or when no step lowers it.
 */
#include "lr_internal.h"

#include <stdlib.h>
#include <string.h>

#define LB_M 8 /* (s, y) pairs kept */

typedef struct lb {
    lr_model *l;
    int T, mode;     /* mode 0: mark active coordinates and sum weights; 1: loss + gradient */
    uint32_t D, A;   /* all coordinates; active ones (the bias is active[A - 1]) */
    float *marker;   /* [D] 1 where a coordinate occurs (mode 0) */
    int32_t *pos;    /* [D] compact index or -1 */
    uint32_t *act;   /* [A] coordinate of each compact index */
    const double *w; /* [A] point being evaluated */
    double *gt;      /* [T][A] per-thread gradients */
    double *acc;     /* [T][8] per-thread loss and weight sums (padded: no false sharing) */
} lb;

static inline double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

static void lb_batch(void *user, const leap_fbatch *b, int thread) {
    lb *L = user;
    double *acc = &L->acc[8 * (size_t)thread];
    if (L->mode == 0) {
        for (uint32_t k = 0; k < b->row_ptr[b->n_rows]; k++)
            L->marker[b->idx[k]] = 1.0f;
        for (size_t r = 0; r < b->n_rows; r++)
            acc[1] += b->weight[r];
        return;
    }
    const int32_t *pos = L->pos;
    const double *w = L->w;
    double *g = L->gt + (size_t)thread * L->A;
    const uint32_t bias = L->A - 1;
    double loss = 0;
    for (size_t r = 0; r < b->n_rows; r++) {
        uint32_t a = b->row_ptr[r], e = b->row_ptr[r + 1];
        double s = w[bias];
        for (uint32_t k = a; k < e; k++)
            s += w[pos[b->idx[k]]] * b->val[k];
        double wt = b->weight[r], y = b->label[r] > 0.5f ? 1.0 : 0.0;
        loss += wt * (y > 0 ? softplus(-s) : softplus(s));
        double coef = wt * (1.0 / (1.0 + exp(-s)) - y);
        g[bias] += coef;
        for (uint32_t k = a; k < e; k++)
            g[pos[b->idx[k]]] += coef * b->val[k];
    }
    acc[0] += loss;
}

/* f(w) and its gradient over all ranks' data. */
static int lb_eval(lb *L, leap_fit_io *io, const double *w, double *f, double *g, leap_err *err) {
    size_t A = L->A;
    L->w = w;
    L->mode = 1;
    memset(L->gt, 0, (size_t)L->T * A * sizeof(double));
    memset(L->acc, 0, (size_t)L->T * 8 * sizeof(double));
    int rc = io->map(io, lb_batch, L, err);
    if (rc) return rc;
    memcpy(g, L->gt, A * sizeof(double));
    for (int t = 1; t < L->T; t++) {
        const double *gt = L->gt + (size_t)t * A;
        for (size_t j = 0; j < A; j++)
            g[j] += gt[j];
    }
    double loss = 0;
    for (int t = 0; t < L->T; t++)
        loss += L->acc[8 * (size_t)t];
    if ((rc = leap_comm_allreduce_sum_f64(io->comm, g, A, err)) ||
        (rc = leap_comm_allreduce_sum_f64(io->comm, &loss, 1, err)))
        return rc;
    const double l2 = L->l->o.l2;
    for (size_t j = 0; j + 1 < A; j++) { /* the bias (last) is not regularised */
        loss += 0.5 * l2 * w[j] * w[j];
        g[j] += l2 * w[j];
    }
    *f = loss;
    return LEAP_OK;
}

static double dot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double dotf(const float *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

int leap__lr_fit(leap_model *m, leap_fit_io *io, leap_err *err) {
    lr_model *l = (lr_model *)m;
    if (l->o.optimizer != LR_LBFGS) return LEAP_EUNSUPPORTED;
    lb L = {.l = l, .T = io->threads, .D = l->D};
    double *w = NULL, *g = NULL, *wn = NULL, *gn = NULL, *d = NULL;
    float *S = NULL, *Y = NULL;
    double rho[LB_M], alpha_k[LB_M];
    int rc = LEAP_OK;
    double t0 = leap_now();
    L.marker = calloc(L.D, sizeof *L.marker);
    L.acc = calloc((size_t)L.T * 8, sizeof *L.acc);
    L.pos = malloc(L.D * sizeof *L.pos);
    if (!L.marker || !L.acc || !L.pos) goto oom;
    /* pass 0: the active coordinates of every rank */
    if ((rc = io->map(io, lb_batch, &L, err))) goto out;
    if ((rc = leap_comm_allreduce_sum_f32(io->comm, L.marker, L.D, err))) goto out;
    double wsum = 0;
    for (int t = 0; t < L.T; t++)
        wsum += L.acc[8 * (size_t)t + 1];
    if ((rc = leap_comm_allreduce_sum_f64(io->comm, &wsum, 1, err))) goto out;
    if (!(wsum > 0)) {
        rc = leap_err_set(err, LEAP_EINVAL, "lbfgs: the training data has no weight");
        goto out;
    }
    L.marker[L.D - 1] = 0; /* the bias goes last */
    uint32_t A = 0;
    for (uint32_t i = 0; i < L.D; i++)
        L.pos[i] = L.marker[i] > 0 ? (int32_t)A++ : -1;
    L.pos[L.D - 1] = (int32_t)A++;
    L.A = A;
    free(L.marker);
    L.marker = NULL;
    L.act = malloc(A * sizeof *L.act);
    L.gt = malloc((size_t)L.T * A * sizeof *L.gt);
    w = calloc(A, sizeof *w);
    g = malloc(A * sizeof *g);
    wn = malloc(A * sizeof *wn);
    gn = malloc(A * sizeof *gn);
    d = malloc(A * sizeof *d);
    S = malloc((size_t)LB_M * A * sizeof *S);
    Y = malloc((size_t)LB_M * A * sizeof *Y);
    if (!L.act || !L.gt || !w || !g || !wn || !gn || !d || !S || !Y) goto oom;
    for (uint32_t i = 0; i < L.D; i++)
        if (L.pos[i] >= 0) L.act[L.pos[i]] = i;

    double f, fn;
    if ((rc = lb_eval(&L, io, w, &f, g, err))) goto out;
    int hist = 0, head = 0; /* pairs kept; next slot */
    for (int it = 1; it <= l->o.max_iter; it++) {
        /* d = -H g by the two-loop recursion */
        for (size_t j = 0; j < A; j++)
            d[j] = -g[j];
        for (int k = 0; k < hist; k++) {
            int s = (head - 1 - k + LB_M) % LB_M;
            alpha_k[s] = rho[s] * dotf(S + (size_t)s * A, d, A);
            const float *ys = Y + (size_t)s * A;
            for (size_t j = 0; j < A; j++)
                d[j] -= alpha_k[s] * ys[j];
        }
        if (hist > 0) {
            int s = (head - 1 + LB_M) % LB_M;
            const float *ys = Y + (size_t)s * A;
            double yy = 0;
            for (size_t j = 0; j < A; j++)
                yy += (double)ys[j] * ys[j];
            double gamma = 1.0 / (rho[s] * yy);
            for (size_t j = 0; j < A; j++)
                d[j] *= gamma;
        }
        for (int k = hist - 1; k >= 0; k--) {
            int s = (head - 1 - k + LB_M) % LB_M;
            double beta = rho[s] * dotf(Y + (size_t)s * A, d, A);
            const float *ss = S + (size_t)s * A;
            for (size_t j = 0; j < A; j++)
                d[j] += (alpha_k[s] - beta) * ss[j];
        }
        double gd = dot(g, d, A);
        if (!(gd < 0)) { /* not a descent direction: restart from steepest descent */
            for (size_t j = 0; j < A; j++)
                d[j] = -g[j];
            gd = -dot(g, g, A);
            hist = 0;
        }
        if (gd == 0) break; /* at a stationary point */
        double step = hist == 0 ? fmin(1.0, 1.0 / sqrt(-gd)) : 1.0;
        int found = 0;
        for (int tries = 0; tries < 40; tries++) {
            for (size_t j = 0; j < A; j++)
                wn[j] = w[j] + step * d[j];
            if ((rc = lb_eval(&L, io, wn, &fn, gn, err))) goto out;
            if (fn <= f + 1e-4 * step * gd) {
                found = 1;
                break;
            }
            step *= 0.5;
        }
        if (!found) break;
        /* keep the pair when the curvature is positive */
        float *ss = S + (size_t)head * A, *ys = Y + (size_t)head * A;
        double sy = 0;
        for (size_t j = 0; j < A; j++) {
            ss[j] = (float)(wn[j] - w[j]);
            ys[j] = (float)(gn[j] - g[j]);
            sy += (double)ss[j] * ys[j];
        }
        if (sy > 1e-12) {
            rho[head] = 1.0 / sy;
            head = (head + 1) % LB_M;
            if (hist < LB_M) hist++;
        }
        double rel = (f - fn) / fmax(fmax(fabs(f), fabs(fn)), 1.0);
        double *tmp = w;
        w = wn;
        wn = tmp;
        tmp = g;
        g = gn;
        gn = tmp;
        f = fn;
        if (io->on_iter) io->on_iter(io, it, f / wsum, leap_now() - t0);
        if (rel < l->o.tol) break;
    }
    memset(l->w, 0, (size_t)l->D * sizeof *l->w);
    for (uint32_t j = 0; j < A; j++)
        l->w[L.act[j]] = (float)w[j];
    goto out;
oom:
    rc = leap_err_set(err, LEAP_ENOMEM, "lbfgs: out of memory");
out:
    free(L.marker);
    free(L.acc);
    free(L.pos);
    free(L.act);
    free(L.gt);
    free(w);
    free(g);
    free(wn);
    free(gn);
    free(d);
    free(S);
    free(Y);
    return rc;
}
