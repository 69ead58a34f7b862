/* deep_infer.c — inference speed of a model bundle, for bench/deep.sh:
 * batch scoring (whole row groups through leap_bundle_predict on one
 * thread) and one-row latency (a single featurized row per call, as a
 * server scores one request), p50 and p99 over N calls after a warm-up.
 * Rows are featurized before timing: the figures are the model's.
 * Batch scoring also on THREADS threads (blocks of 8192 rows).
 * For the embedding models it also scores every row with the weight matrices
 * in fp16 (predict_precision=f16, the default), in f32 and in int8, in
 * batches and one row at a time, and prints the largest score differences and
 * the AUCs (it reaches into the model through the private models/deep.h to
 * switch).
 * Usage: deep_infer MODEL.leap DATA.lds [N [THREADS [f16|f32|i8]]] (the precision the latency
 * is timed with; the bundle's own by default)   prints "key value" lines. */
#include "leap/bundle.h"
#include "leap/eval.h"
#include "models/deep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bctx {
    const leap_bundle *b;
    const leap_fbatch *fb;
    size_t G, maxr;
    float *out;
} bctx;

/* Task k: block k of 8192 rows, counting through the row groups in order. */
static int score_block(void *vc, size_t k, int thread) {
    (void)thread;
    const bctx *c = vc;
    for (size_t g = 0; g < c->G; g++) {
        size_t nb = (c->fb[g].n_rows + 8191) / 8192;
        if (k >= nb) {
            k -= nb;
            continue;
        }
        leap_fbatch v = c->fb[g];
        size_t a = k * 8192;
        v.n_rows = v.n_rows - a < 8192 ? v.n_rows - a : 8192;
        v.row_ptr = c->fb[g].row_ptr + a;
        v.label = c->fb[g].label + a;
        v.weight = c->fb[g].weight + a;
        leap_bundle_predict(c->b, &v, c->out + g * c->maxr + a);
        return 0;
    }
    return 0;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: deep_infer MODEL.leap DATA.lds [N [THREADS]]\n");
        return 2;
    }
    int n1 = argc > 3 ? atoi(argv[3]) : 5000;
    int threads = argc > 4 ? atoi(argv[4]) : 1;
    leap_err err = {0};
    leap_bundle b;
    leap_dataset *ds;
    if (leap_bundle_load(argv[1], &b, &err) || leap_dataset_open(argv[2], &ds, &err)) {
        fprintf(stderr, "deep_infer: %s\n", err.msg);
        return 1;
    }
    leap_fz_binding bind;
    leap_rowgroup rg;
    if (leap_fz_bind(&b.fz, leap_dataset_schema(ds), argv[2], &bind, &err) ||
        leap_rowgroup_init(&rg, leap_dataset_schema(ds))) {
        fprintf(stderr, "deep_infer: %s\n", err.msg);
        return 1;
    }
    size_t G = leap_dataset_num_row_groups(ds);
    leap_fbatch *fb = calloc(G, sizeof *fb);
    size_t rows = 0, maxr = 0;
    for (size_t g = 0; g < G; g++) {
        if (leap_dataset_read_row_group(ds, g, &rg, &err) ||
            leap_featurize(&b.fz, &bind, &rg, &fb[g], &err)) {
            fprintf(stderr, "deep_infer: %s\n", err.msg);
            return 1;
        }
        rows += fb[g].n_rows;
        if (fb[g].n_rows > maxr) maxr = fb[g].n_rows;
    }
    float *p = malloc((maxr ? maxr : 1) * sizeof *p);
    /* batch: every row group, twice (the first pass warms caches) */
    double t = 0;
    for (int pass = 0; pass < 2; pass++) {
        double t0 = leap_now();
        for (size_t g = 0; g < G; g++)
            leap_bundle_predict(&b, &fb[g], p);
        t = leap_now() - t0;
    }
    printf("batch_rows_per_s %.0f\n", rows / t);
    /* the same on T threads, blocks of 8192 rows dealt dynamically */
    if (threads > 1) {
        bctx c = {&b, fb, G, maxr, NULL};
        size_t tasks = 0;
        for (size_t g = 0; g < G; g++)
            tasks += (fb[g].n_rows + 8191) / 8192;
        c.out = malloc(G * maxr * sizeof *c.out);
        for (int pass = 0; pass < 2; pass++) {
            double t0 = leap_now();
            leap_parallel_for(threads, tasks, score_block, &c);
            t = leap_now() - t0;
        }
        printf("batch_rows_per_s_threads %.0f\n", rows / t);
        free(c.out);
    }
    /* fp16 against f32 weights, batch against one row (embedding models only) */
    const char *mn = b.model->ops->name;
    const char *deep_names[] = {"fm", "ffm", "wide_deep", "deepfm", "dcn_v2", "dlrm", "deep"};
    int is_deep = 0;
    for (size_t i = 0; i < sizeof deep_names / sizeof deep_names[0]; i++)
        is_deep |= !strcmp(mn, deep_names[i]);
    if (is_deep) {
        deep_net *N = &((deep_model *)b.model)->net;
        static const char *const prec_name[] = {"f16", "f32", "i8"}; /* DEEP_PREC_* */
        float *pb[3], *lab = malloc(rows * sizeof *lab), *one_p = malloc(sizeof *one_p);
        double d_prec[3] = {0}, d_one = 0, auc[3];
        for (int prec = 0; prec < 3; prec++) {
            if (deep_net_prepare_scoring(N, prec)) return 1;
            pb[prec] = malloc(rows * sizeof *pb[prec]);
            size_t o = 0;
            for (size_t g = 0; g < G; g++) {
                leap_bundle_predict(&b, &fb[g], pb[prec] + o);
                memcpy(lab + o, fb[g].label, fb[g].n_rows * sizeof *lab);
                for (size_t r = 0; r < fb[g].n_rows && o + r < 20000; r++) {
                    leap_fbatch v = fb[g];
                    v.n_rows = 1;
                    v.row_ptr = fb[g].row_ptr + r;
                    leap_bundle_predict(&b, &v, one_p);
                    double dd = fabs((double)*one_p - pb[prec][o + r]);
                    if (dd > d_one) d_one = dd;
                }
                o += fb[g].n_rows;
            }
            auc[prec] = leap_metric_auc(pb[prec], lab, NULL, rows);
        }
        for (int prec = 0; prec < 3; prec++)
            for (size_t i = 0; i < rows; i++) {
                double dd = fabs((double)pb[prec][i] - pb[DEEP_PREC_F32][i]);
                if (dd > d_prec[prec]) d_prec[prec] = dd;
            }
        printf("max_dp_f16_vs_f32 %.3g\nmax_dp_i8_vs_f32 %.3g\nmax_dp_one_row_vs_batch %.3g\n",
               d_prec[DEEP_PREC_F16], d_prec[DEEP_PREC_I8], d_one);
        for (int prec = 0; prec < 3; prec++)
            printf("auc_%s %.6f\n", prec_name[prec], auc[prec]);
        int prec = ((deep_model *)b.model)->o.predict_precision;
        for (int k = 0; k < 3; k++)
            if (argc > 5 && !strcmp(argv[5], prec_name[k])) prec = k;
        if (deep_net_prepare_scoring(N, prec)) return 1;
        printf("precision %s\nhalf_kernel %s\n", prec_name[prec],
               N->infer_h || N->infer_q ? nn_half_kernel_name(nn_half_kernel()) : "none");
        for (int k = 0; k < 3; k++)
            free(pb[k]);
        free(lab);
        free(one_p);
    }
    /* one row per call: a view of row i of the first row group */
    leap_fbatch one;
    double *lat = malloc((size_t)n1 * sizeof *lat);
    size_t nr = fb[0].n_rows;
    for (int i = -500; i < n1; i++) {
        size_t r = (size_t)(i < 0 ? -i : i) % nr;
        one = fb[0];
        one.n_rows = 1;
        one.row_ptr = fb[0].row_ptr + r;
        one.label = fb[0].label + r;
        one.weight = fb[0].weight + r;
        double t0 = leap_now();
        leap_bundle_predict(&b, &one, p);
        double dt = leap_now() - t0;
        if (i >= 0) lat[i] = dt * 1e6;
    }
    qsort(lat, (size_t)n1, sizeof *lat, cmp_d);
    double mean = 0;
    for (int i = 0; i < n1; i++)
        mean += lat[i] / n1;
    printf("one_row_p50_us %.1f\none_row_p99_us %.1f\none_row_mean_us %.1f\n", lat[n1 / 2],
           lat[(size_t)(n1 * 0.99)], mean);
    if (getenv("DEEP_INFER_TAIL"))
        printf("one_row_p90_us %.1f\none_row_p95_us %.1f\none_row_p999_us %.1f\n",
               lat[(size_t)(n1 * 0.9)], lat[(size_t)(n1 * 0.95)], lat[(size_t)(n1 * 0.999)]);
    printf("peak_rss_mb %.0f\n", leap_peak_rss() / 1e6);
    free(lat);
    free(p);
    for (size_t g = 0; g < G; g++)
        leap_fbatch_free(&fb[g]);
    free(fb);
    leap_rowgroup_free(&rg);
    leap_fz_binding_free(&bind);
    leap_dataset_close(ds);
    leap_bundle_free(&b);
    return 0;
}
