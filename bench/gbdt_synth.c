/* gbdt_synth.c — leap GBDT on generated pre-binned rows, in process, for
 * bench/gbdt_synth.sh (which runs XGBoost on the very same rows).
 *
 * Rows: 13 ordinal fields of 256 buckets (10% missing) and 26 categorical
 * fields of 1001 codes (10% missing, Zipf-like: code 1 most frequent); the
 * click probability depends on 8 ordinal and 13 categorical fields. The
 * first TRAIN rows train, the rest test. Prints one JSON line: train
 * seconds, peak RSS, batch rows/s (all threads), 1-row latency p50/p99,
 * test AUC and logloss. With DUMP=path, also writes the rows (uint16 local
 * indices, then the label) for the XGBoost side.
 *
 *   gbdt_synth ROWS TRAIN THREADS TREES [key=value ...]
 */
#include "leap/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { F = 39, BS = 65536 };
static leap_fbatch *B;
static size_t NB, NB_TRAIN;

static int map(leap_fit_io *io, leap_batch_fn fn, void *user, leap_err *err) {
    for (size_t k = 0; k < NB_TRAIN; k++)
        fn(user, &B[k], (int)(k % (size_t)io->threads));
    return 0;
}

typedef struct sc {
    float p, y;
} sc;
static int by_p(const void *a, const void *b) {
    float x = ((const sc *)a)->p, y = ((const sc *)b)->p;
    return x < y ? -1 : x > y;
}
/* AUC with ties averaged (rank-sum). */
static double auc(sc *s, size_t n) {
    qsort(s, n, sizeof *s, by_p);
    double pos = 0, neg = 0, rs = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j].p == s[i].p)
            j++;
        double r = (i + 1 + j) / 2.0, np = 0;
        for (size_t k = i; k < j; k++)
            np += s[k].y > 0.5f;
        rs += r * np;
        pos += np;
        neg += (double)(j - i) - np;
        i = j;
    }
    return (rs - pos * (pos + 1) / 2) / (pos * neg);
}
static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: gbdt_synth ROWS TRAIN THREADS TREES [key=value ...]\n");
        return 2;
    }
    size_t N = strtoul(argv[1], 0, 10), NT = strtoul(argv[2], 0, 10);
    int threads = atoi(argv[3]);
    static leap_fz_field fields[F];
    leap_featurizer fz = {.n_fields = F, .fields = fields};
    uint32_t off = 0;
    for (int i = 0; i < F; i++) {
        fields[i].kind = i < 13 ? LEAP_FZ_KIND_ORDINAL : LEAP_FZ_KIND_CATEGORICAL;
        fields[i].card = i < 13 ? 256 : 1001;
        fields[i].offset = off;
        off += fields[i].card;
        snprintf(fields[i].name, sizeof fields[i].name, "%c%d", i < 13 ? 'I' : 'C',
                 i < 13 ? i + 1 : i - 12);
    }
    fz.n_buckets = off;
    if (NT % BS) {
        fprintf(stderr, "TRAIN must be a multiple of %d\n", BS);
        return 2;
    }
    NB = (N + BS - 1) / BS;
    NB_TRAIN = NT / BS;
    B = calloc(NB, sizeof *B);
    leap_rng r = {42};
    FILE *dump = getenv("DUMP") ? fopen(getenv("DUMP"), "wb") : NULL;
    for (size_t k = 0; k < NB; k++) {
        size_t a = k * BS, m = N - a < BS ? N - a : BS;
        leap_fbatch *b = &B[k];
        b->n_rows = m;
        b->seq = k;
        b->row0 = a;
        b->row_ptr = malloc((m + 1) * 4);
        b->idx = malloc(m * F * 4);
        b->val = malloc(m * F * 4);
        b->field = malloc(m * F * 2);
        b->label = malloc(m * 4);
        b->weight = malloc(m * 4);
        for (size_t i = 0; i < m; i++) {
            b->row_ptr[i] = (uint32_t)(i * F);
            double s = -1.2;
            uint16_t v16[F + 1];
            for (int j = 0; j < F; j++) {
                uint32_t v;
                if (leap_rng_uniform(&r) < 0.1)
                    v = 0;
                else if (j < 13)
                    v = 1 + (uint32_t)(leap_rng_next(&r) % 255);
                else {
                    double z = leap_rng_uniform(&r);
                    v = 1 + (uint32_t)(1000 * z * z * z);
                }
                if (j < 13)
                    s += (v == 0 ? 0.1 : (v > 128 ? 0.15 : -0.1)) * (j % 3);
                else
                    s += ((v * 2654435761u >> 7) % 7 == 0 ? 0.3 : -0.02) * (j % 2);
                b->idx[i * F + j] = fields[j].offset + v;
                b->val[i * F + j] = 1;
                b->field[i * F + j] = (uint16_t)j;
                v16[j] = (uint16_t)v;
            }
            b->label[i] = leap_rng_uniform(&r) < 1 / (1 + exp(-s)) ? 1.0f : 0.0f;
            b->weight[i] = 1;
            v16[F] = (uint16_t)b->label[i];
            if (dump) fwrite(v16, 2, F + 1, dump);
        }
        b->row_ptr[m] = (uint32_t)(m * F);
    }
    if (dump) fclose(dump);
    const leap_model_ops *ops = leap_model_find("gbdt");
    void *o = calloc(1, ops->opts_size);
    leap_opts_defaults(ops->opts, o);
    leap_err err = {0};
    if (leap_opts_set(ops->opts, o, "trees", argv[4], &err)) goto fail;
    for (int i = 5; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) continue;
        *eq = 0;
        if (leap_opts_set(ops->opts, o, argv[i], eq + 1, &err)) goto fail;
    }
    leap_model *m;
    if (ops->create(o, &fz, &m, &err)) goto fail;
    leap_fit_io io = {.threads = threads, .map = map, .n_rows = NT, .n_batches = NB_TRAIN};
    double t0 = leap_now();
    if (ops->fit(m, &io, &err)) goto fail;
    double train_s = leap_now() - t0;
    size_t NE = N - NT;
    float *p = malloc(NE * sizeof *p);
    t0 = leap_now();
    for (size_t k = NB_TRAIN; k < NB; k++) /* batch scoring: one thread */
        ops->predict_batch(m, &B[k], p + (k - NB_TRAIN) * BS);
    double batch_s = leap_now() - t0;
    sc *s = malloc(NE * sizeof *s);
    double ll = 0;
    for (size_t i = 0; i < NE; i++) {
        float y = B[NB_TRAIN + i / BS].label[i % BS];
        s[i] = (sc){p[i], y};
        double q = p[i] < 1e-15 ? 1e-15 : (p[i] > 1 - 1e-7 ? 1 - 1e-7 : p[i]);
        ll += y > 0.5f ? -log(q) : -log(1 - q);
    }
    enum { L = 20000 };
    static double lat[L];
    for (int i = 0; i < L; i++) { /* one row at a time, as a server would */
        const leap_fbatch *b = &B[NB_TRAIN + (size_t)i % (NB - NB_TRAIN)];
        size_t row = ((size_t)i * 7919) % b->n_rows;
        leap_fbatch one = *b;
        one.n_rows = 1;
        one.row_ptr = b->row_ptr + row;
        float q;
        double a = leap_now();
        ops->predict_batch(m, &one, &q);
        lat[i] = leap_now() - a;
    }
    qsort(lat, L, sizeof *lat, cmpd);
    printf("{\"train_s\": %.3f, \"peak_rss_mb\": %.1f, \"batch_rows_per_s\": %.0f, "
           "\"p50_us\": %.2f, \"p99_us\": %.2f, \"auc\": %.5f, \"logloss\": %.5f}\n",
           train_s, leap_peak_rss() / 1e6, NE / batch_s, lat[L / 2] * 1e6, lat[L * 99 / 100] * 1e6,
           auc(s, NE), ll / NE);
    return 0;
fail:
    fprintf(stderr, "gbdt_synth: %s\n", err.msg);
    return 1;
}
