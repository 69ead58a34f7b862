/* gbdt_kernels.c — each GBDT scoring kernel on the same model and rows:
 * the reference descent of the trained nodes, the portable scalar kernel
 * and (where the CPU has them) the AVX2 and AVX-512 kernels. Prints batch rows/s (one
 * thread, best of 3) and one-row latency p50/p99 of the model alone, and
 * checks that every kernel gives the reference's bits.
 *
 *   gbdt_kernels MODEL.leap DATA.lds [KERNEL]   (a gbdt model; KERNEL: only that one,
 *                                                reference|scalar|avx2|avx512, e.g. under perf)
 */
#include "leap/bundle.h"
#include "leap/dataset.h"
#include "models/gbdt_internal.h"

#include <stdlib.h>
#include <string.h>

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void raw(const gbdt_model *g, const leap_fbatch *b, double *s, int k) {
    if (k == GB_KERNEL_REF)
        leap__gbdt_raw_batch_ref(g, b, s);
    else
        leap__gbdt_fast_raw(g, b, s, k);
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: gbdt_kernels MODEL.leap DATA.lds [KERNEL]\n");
        return 2;
    }
    leap_err err = {0};
    leap_bundle b;
    leap_dataset *ds;
    if (leap_bundle_load(argv[1], &b, &err) || leap_dataset_open(argv[2], &ds, &err)) {
        fprintf(stderr, "gbdt_kernels: %s\n", err.msg);
        return 1;
    }
    if (strcmp(b.ops->name, "gbdt") != 0) {
        fprintf(stderr, "gbdt_kernels: %s is a %s model\n", argv[1], b.ops->name);
        return 1;
    }
    const gbdt_model *g = (const gbdt_model *)b.model;
    const leap_schema *sc = leap_dataset_schema(ds);
    leap_fz_binding bind;
    if (leap_fz_bind(&b.fz, sc, argv[2], &bind, &err)) {
        fprintf(stderr, "gbdt_kernels: %s\n", err.msg);
        return 1;
    }
    size_t G = leap_dataset_num_row_groups(ds), rows = 0;
    leap_fbatch *fb = calloc(G, sizeof *fb);
    leap_rowgroup rg;
    leap_rowgroup_init(&rg, sc);
    for (size_t k = 0; k < G; k++) {
        if (leap_dataset_read_row_group(ds, k, &rg, &err) ||
            leap_featurize(&b.fz, &bind, &rg, &fb[k], &err)) {
            fprintf(stderr, "gbdt_kernels: %s\n", err.msg);
            return 1;
        }
        rows += fb[k].n_rows;
    }
    printf("%zu rows, %u trees, layout depth %u (%s)\n", rows, g->n_trees,
           g->fast ? g->fast->depth : 0, g->fast ? "complete trees" : "no layout");
    double *ref = malloc(rows * sizeof *ref), *s = malloc(rows * sizeof *s);
    for (int k = 0; k < GB_KERNEL_COUNT; k++) {
        if (!leap__gbdt_kernel_available(k) || (k != GB_KERNEL_REF && !g->fast)) continue;
        if (argc == 4 && strcmp(argv[3], leap__gbdt_kernel_name(k)) != 0) continue;
        double best = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = leap_now();
            size_t at = 0;
            for (size_t q = 0; q < G; q++) {
                raw(g, &fb[q], (k == GB_KERNEL_REF ? ref : s) + at, k);
                at += fb[q].n_rows;
            }
            double t = leap_now() - t0;
            if (t < best) best = t;
        }
        size_t diff = 0;
        if (k != GB_KERNEL_REF && argc == 3)
            for (size_t r = 0; r < rows; r++)
                diff += memcmp(&s[r], &ref[r], sizeof(double)) != 0;
        enum { L = 20000 };
        static double lat[L];
        for (int i = 0; i < L; i++) {
            const leap_fbatch *src = &fb[(size_t)i % G];
            size_t r = ((size_t)i * 7919) % src->n_rows;
            leap_fbatch one = *src;
            one.n_rows = 1;
            one.row_ptr = src->row_ptr + r;
            double v, t0 = leap_now();
            raw(g, &one, &v, k);
            lat[i] = leap_now() - t0;
        }
        qsort(lat, L, sizeof *lat, cmpd);
        printf("%-10s batch %9.0f rows/s   1-row p50 %6.2f us  p99 %6.2f us   rows differing "
               "from the reference: %zu\n",
               leap__gbdt_kernel_name(k), rows / best, lat[L / 2] * 1e6, lat[L * 99 / 100] * 1e6,
               diff);
    }
    return 0;
}
