/* metrics.c — the ads metrics of leap/eval.h: exact weighted ROC AUC (ties
 * count 1/2), logloss, normalized entropy, calibration, a 10-bin reliability
 * table, PR-AUC (weighted average precision, sklearn's definition), metrics
 * per slice of a 64-bit key, and the JSON and human-table writers.
 *
 * How: one pass over the rows for the sums (logloss, calibration, bins), then
 * one sort by score for AUC and PR-AUC. The sort packs each row into a 64-bit
 * word — score bits high, label and weight bits low — and LSD-radix-sorts the
 * high 32 bits (3 passes of 11 bits), so no index gather follows the sort:
 * 10 M rows take a fraction of a second on one core.
 *
 * Does not: print, exit, read files, choose thresholds or bless models (that
 * is the caller's job), or use threads. Rows are counted from 0 in messages.
 */
#define _POSIX_C_SOURCE 200809L

#include "leap/eval.h"

#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LEAP_P_CLIP 1e-15

/* ---- validation --------------------------------------------------------- */

/* Checks every row; returns LEAP_OK or LEAP_EINVAL naming the first bad row.
 * Also rejects a total weight of zero: no metric is defined then. */
static int check_inputs(const float *p, const float *y, const float *w, size_t n, leap_err *err) {
    if (n == 0) return leap_err_set(err, LEAP_EINVAL, "metrics: no rows (n == 0)");
    if (!p || !y) return leap_err_set(err, LEAP_EINVAL, "metrics: p and y must not be NULL");
    double sum_w = 0.0;
    for (size_t i = 0; i < n; i++) {
        float pi = p[i], yi = y[i];
        if (!(yi == 0.0f || yi == 1.0f))
            return leap_err_set(err, LEAP_EINVAL, "metrics: row %zu: label %g is not 0 or 1", i,
                                (double)yi);
        if (!(pi >= 0.0f && pi <= 1.0f)) /* also catches NaN */
            return leap_err_set(err, LEAP_EINVAL,
                                "metrics: row %zu: prediction %g is outside [0, 1]", i, (double)pi);
        if (w) {
            float wi = w[i];
            if (!(wi >= 0.0f) || isinf(wi))
                return leap_err_set(err, LEAP_EINVAL,
                                    "metrics: row %zu: weight %g is not a finite number >= 0", i,
                                    (double)wi);
            sum_w += wi;
        }
    }
    if (w && !(sum_w > 0.0))
        return leap_err_set(err, LEAP_EINVAL, "metrics: total weight is 0 over %zu rows", n);
    return LEAP_OK;
}

/* ---- sorting by score ---------------------------------------------------- */

/* Bit pattern of a float in [0, 1] (or a weight >= 0): monotone in the value
 * for non-negative floats. Adding +0.0f turns -0.0f into +0.0f, whose pattern
 * would otherwise sort above every positive number. */
static inline uint32_t nonneg_float_bits(float f) {
    f += 0.0f;
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static inline float float_from_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* Packs row i: [score bits:32][label:1][weight bits:31]. The weight's sign bit
 * is free because weights are >= 0 (and -0.0 was normalised above). */
static inline uint64_t pack_row(float p, float y, float w) {
    return ((uint64_t)nonneg_float_bits(p) << 32) | ((uint64_t)(y != 0.0f) << 31) |
           (uint64_t)(nonneg_float_bits(w) & 0x7fffffffu);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

#define RADIX_BITS    11
#define RADIX_SIZE    (1u << RADIX_BITS)
#define RADIX_PASSES  3   /* 11 + 11 + 10 bits cover the 32 score bits */
#define RADIX_SMALL_N 512 /* below this, qsort beats clearing 3 x 2048 counters */

/* Sorts a[0..n) ascending by the high 32 bits (stable LSD radix sort; tmp has
 * room for n words). Returns the buffer holding the result (a or tmp). */
static uint64_t *sort_by_score(uint64_t *a, uint64_t *tmp, size_t n) {
    if (n < RADIX_SMALL_N) {
        /* Whole-word order also orders by score; ties inside a score group
         * do not matter to the metrics. */
        qsort(a, n, sizeof *a, cmp_u64);
        return a;
    }
    size_t count[RADIX_PASSES][RADIX_SIZE];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++) {
        uint32_t k = (uint32_t)(a[i] >> 32);
        for (int pass = 0; pass < RADIX_PASSES; pass++)
            count[pass][(k >> (pass * RADIX_BITS)) & (RADIX_SIZE - 1)]++;
    }
    uint64_t *src = a, *dst = tmp;
    for (int pass = 0; pass < RADIX_PASSES; pass++) {
        size_t *c = count[pass];
        int shift = 32 + pass * RADIX_BITS;
        /* One bucket holding every row: this digit is constant, skip the pass. */
        if (c[(src[0] >> shift) & (RADIX_SIZE - 1)] == n) continue;
        size_t sum = 0;
        for (size_t d = 0; d < RADIX_SIZE; d++) {
            size_t t = c[d];
            c[d] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t v = src[i];
            dst[c[(v >> shift) & (RADIX_SIZE - 1)]++] = v;
        }
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    return src;
}

/* Log loss of one row, p clipped to [1e-15, 1 - 1e-15]; log1p keeps the
 * y = 0 branch accurate for small p. */
static inline double row_logloss(double p, double y) {
    double pc = p < LEAP_P_CLIP ? LEAP_P_CLIP : p > 1.0 - LEAP_P_CLIP ? 1.0 - LEAP_P_CLIP : p;
    return y != 0.0 ? -log(pc) : -log1p(-pc);
}

/* ---- the core computation ------------------------------------------------ */

/* Computes every metric over rows already validated (w may be NULL).
 * scratch holds 2n words. A total weight of 0 (possible inside a slice)
 * yields NaN metrics rather than an error. */
static void compute_core(const float *p, const float *y, const float *w, size_t n,
                         uint64_t *scratch, leap_metrics *m) {
    memset(m, 0, sizeof *m);
    m->n = (double)n;

    /* Pass 1: weighted sums, in double (float inputs, ~1e-16 relative per add). */
    double sw = 0, swy = 0, swp = 0, swll = 0;
    double bw[LEAP_RELIABILITY_BINS] = {0}, bwp[LEAP_RELIABILITY_BINS] = {0},
           bwy[LEAP_RELIABILITY_BINS] = {0};
    uint64_t *keys = scratch;
    for (size_t i = 0; i < n; i++) {
        double pi = p[i], yi = y[i], wi = w ? (double)w[i] : 1.0;
        double ll = row_logloss(pi, yi);
        sw += wi;
        swy += wi * yi;
        swp += wi * pi;
        swll += wi * ll;
        /* float * 10 is exact in double, so bin edges k/10 fall where expected. */
        int b = (int)(pi * 10.0);
        if (b >= LEAP_RELIABILITY_BINS) b = LEAP_RELIABILITY_BINS - 1;
        bw[b] += wi;
        bwp[b] += wi * pi;
        bwy[b] += wi * yi;
        keys[i] = pack_row(p[i], y[i], w ? w[i] : 1.0f);
    }
    m->sum_w = sw;
    m->base_rate = sw > 0 ? swy / sw : NAN;
    m->logloss = sw > 0 ? swll / sw : NAN;
    double b = m->base_rate;
    if (b > 0.0 && b < 1.0) {
        double h = -b * log(b) - (1.0 - b) * log1p(-b);
        m->ne = m->logloss / h;
    } else {
        m->ne = NAN;
    }
    m->calibration = swy > 0 ? swp / swy : NAN;
    for (int k = 0; k < LEAP_RELIABILITY_BINS; k++) {
        m->rel_w[k] = bw[k];
        m->rel_pred[k] = bw[k] > 0 ? bwp[k] / bw[k] : NAN;
        m->rel_obs[k] = bw[k] > 0 ? bwy[k] / bw[k] : NAN;
    }

    /* Pass 2: walk score groups from the highest score down. */
    uint64_t *s = sort_by_score(keys, scratch + n, n);
    double pos_total = swy, neg_total = sw - swy;
    double tp = 0, fp = 0;      /* weight above the current group */
    double auc_sum = 0, ap = 0; /* Σ neg_g·(tp + pos_g/2); Σ ΔR·precision */
    size_t i = n;
    while (i > 0) {
        uint32_t score = (uint32_t)(s[i - 1] >> 32);
        double gp = 0, gn = 0;
        while (i > 0 && (uint32_t)(s[i - 1] >> 32) == score) {
            uint64_t v = s[--i];
            double wi = float_from_bits((uint32_t)v & 0x7fffffffu);
            if (v & 0x80000000u)
                gp += wi;
            else
                gn += wi;
        }
        auc_sum += gn * (tp + 0.5 * gp);
        tp += gp;
        fp += gn;
        /* sklearn: AP = Σ (R_k − R_{k−1})·P_k over distinct thresholds. */
        if (gp > 0) ap += gp * (tp / (tp + fp));
    }
    m->auc = (pos_total > 0 && neg_total > 0) ? auc_sum / (pos_total * neg_total) : NAN;
    m->pr_auc = pos_total > 0 ? ap / pos_total : NAN;
}

int leap_metrics_compute(const float *p, const float *y, const float *w, size_t n,
                         leap_metrics *out, leap_err *err) {
    int rc = check_inputs(p, y, w, n, err);
    if (rc != LEAP_OK) return rc;
    if (n > SIZE_MAX / (2 * sizeof(uint64_t)))
        return leap_err_set(err, LEAP_ENOMEM, "metrics: %zu rows overflow the scratch size", n);
    uint64_t *scratch = malloc(2 * n * sizeof *scratch);
    if (!scratch)
        return leap_err_set(err, LEAP_ENOMEM, "metrics: cannot allocate scratch for %zu rows", n);
    compute_core(p, y, w, n, scratch, out);
    free(scratch);
    return LEAP_OK;
}

/* Invalid input or no memory gives NaN (these helpers have no error channel). */
double leap_metric_auc(const float *p, const float *y, const float *w, size_t n) {
    leap_metrics m;
    if (leap_metrics_compute(p, y, w, n, &m, NULL) != LEAP_OK) return NAN;
    return m.auc;
}

double leap_metric_logloss(const float *p, const float *y, const float *w, size_t n) {
    if (check_inputs(p, y, w, n, NULL) != LEAP_OK) return NAN;
    double sw = 0, swll = 0;
    for (size_t i = 0; i < n; i++) {
        double pi = p[i], wi = w ? (double)w[i] : 1.0;
        swll += wi * row_logloss(pi, y[i]);
        sw += wi;
    }
    return swll / sw;
}

/* ---- slices -------------------------------------------------------------- */

/* Open-addressing map (linear probing) key -> value, 16 bytes an entry. An
 * entry with value 0 is empty, so every 64-bit key (0 included) can be
 * stored. Used twice: key -> row count over all keys (grows at load 3/4),
 * then key -> rank + 1 over the selected keys only, so the bucketing pass
 * probes a small, cache-resident table. */
typedef struct slice_entry {
    uint64_t key;
    size_t value;
} slice_entry;

typedef struct slice_map {
    slice_entry *e; /* [cap] */
    size_t cap;     /* power of two */
    size_t used;
} slice_map;

static int slice_map_init(slice_map *sm, size_t min_cap) {
    size_t cap = 64;
    while (cap < min_cap)
        cap *= 2;
    sm->e = calloc(cap, sizeof(slice_entry));
    sm->cap = cap;
    sm->used = 0;
    return sm->e ? LEAP_OK : LEAP_ENOMEM;
}

static size_t slice_map_find(const slice_map *sm, uint64_t key) {
    size_t mask = sm->cap - 1;
    size_t h = (size_t)leap_mix64(key, 0) & mask;
    while (sm->e[h].value != 0 && sm->e[h].key != key)
        h = (h + 1) & mask;
    return h;
}

static int slice_map_grow(slice_map *sm) {
    slice_map bigger;
    if (slice_map_init(&bigger, sm->cap * 2) != LEAP_OK) return LEAP_ENOMEM;
    for (size_t i = 0; i < sm->cap; i++)
        if (sm->e[i].value) bigger.e[slice_map_find(&bigger, sm->e[i].key)] = sm->e[i];
    bigger.used = sm->used;
    free(sm->e);
    *sm = bigger;
    return LEAP_OK;
}

/* Order of slices (value = row count): more rows first, then the smaller key. */
static int slice_before(const slice_entry *a, const slice_entry *b) {
    if (a->value != b->value) return a->value > b->value;
    return a->key < b->key;
}

static int cmp_slice(const void *pa, const void *pb) {
    const slice_entry *a = pa, *b = pb;
    return slice_before(a, b) ? -1 : slice_before(b, a) ? 1 : 0;
}

/* Keeps heap[0..k) a heap whose root is the entry ranked last. */
static void heap_sift_down(slice_entry *heap, size_t k, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, worst = i;
        if (l < k && slice_before(&heap[worst], &heap[l])) worst = l;
        if (r < k && slice_before(&heap[worst], &heap[r])) worst = r;
        if (worst == i) return;
        slice_entry t = heap[i];
        heap[i] = heap[worst];
        heap[worst] = t;
        i = worst;
    }
}

/* max_slices == 0 returns every slice. Cost: O(n) expected for counting and
 * bucketing, O(d log k) for choosing k of d distinct keys, plus the metrics
 * of the selected rows. Peak scratch: the count map (16 bytes per distinct
 * key, at most 2.7x padding), then the selected rows' indices and copies. */
int leap_metrics_sliced(const float *p, const float *y, const float *w, const uint64_t *key,
                        size_t n, size_t max_slices, leap_slice **slices, size_t *n_slices,
                        leap_err *err) {
    if (!slices || !n_slices)
        return leap_err_set(err, LEAP_EINVAL, "metrics: slices and n_slices must not be NULL");
    *slices = NULL;
    *n_slices = 0;
    int rc = check_inputs(p, y, w, n, err);
    if (rc != LEAP_OK) return rc;
    if (!key) return leap_err_set(err, LEAP_EINVAL, "metrics: slice keys must not be NULL");

    slice_map counts = {0}, ranks = {0};
    slice_entry *top = NULL;
    size_t *offset = NULL, *rows = NULL;
    float *gp = NULL, *gy = NULL, *gw = NULL;
    uint64_t *scratch = NULL;
    leap_slice *out = NULL;
    rc = LEAP_ENOMEM;
    if (slice_map_init(&counts, 1024) != LEAP_OK) goto done;

    /* 1. Count rows per key. */
    for (size_t i = 0; i < n; i++) {
        size_t h = slice_map_find(&counts, key[i]);
        if (counts.e[h].value == 0) {
            if (4 * (counts.used + 1) > 3 * counts.cap) {
                if (slice_map_grow(&counts) != LEAP_OK) goto done;
                h = slice_map_find(&counts, key[i]);
            }
            counts.e[h].key = key[i];
            counts.used++;
        }
        counts.e[h].value++;
    }

    /* 2. Select the top k with a k-heap (O(d log k)), then sort those k. */
    size_t k = max_slices == 0 || max_slices > counts.used ? counts.used : max_slices;
    top = malloc(k * sizeof *top);
    if (!top) goto done;
    size_t filled = 0;
    for (size_t i = 0; i < counts.cap; i++) {
        const slice_entry *e = &counts.e[i];
        if (!e->value) continue;
        if (filled < k) {
            top[filled++] = *e;
            if (filled == k)
                for (size_t j = k / 2; j-- > 0;)
                    heap_sift_down(top, k, j);
        } else if (slice_before(e, &top[0])) {
            top[0] = *e;
            heap_sift_down(top, k, 0);
        }
    }
    free(counts.e);
    counts.e = NULL;
    qsort(top, k, sizeof *top, cmp_slice);
    if (slice_map_init(&ranks, 2 * k) != LEAP_OK) goto done;
    size_t max_count = 0, n_sel = 0;
    for (size_t r = 0; r < k; r++) {
        slice_entry *e = &ranks.e[slice_map_find(&ranks, top[r].key)];
        e->key = top[r].key;
        e->value = r + 1;
        if (top[r].value > max_count) max_count = top[r].value;
        n_sel += top[r].value;
    }

    /* 3. Bucket the selected rows by rank (stable: rows keep their order).
     * The offsets serve as write cursors; afterwards offset[r] has moved to
     * the old offset[r + 1], so they are shifted back by one slot. */
    offset = malloc((k + 1) * sizeof *offset);
    rows = malloc(n_sel * sizeof *rows);
    if (!offset || !rows) goto done;
    for (size_t r = 0, sum = 0; r <= k; r++) {
        offset[r] = sum;
        if (r < k) sum += top[r].value;
    }
    for (size_t i = 0; i < n; i++) {
        size_t r1 = ranks.e[slice_map_find(&ranks, key[i])].value;
        if (r1) rows[offset[r1 - 1]++] = i;
    }
    for (size_t r = k; r-- > 0;)
        offset[r + 1] = offset[r];
    offset[0] = 0;

    /* 4. Gather each slice and compute its metrics with shared scratch. */
    gp = malloc(max_count * sizeof *gp);
    gy = malloc(max_count * sizeof *gy);
    gw = w ? malloc(max_count * sizeof *gw) : NULL;
    scratch = malloc(2 * max_count * sizeof *scratch);
    out = calloc(k, sizeof *out);
    if (!gp || !gy || (w && !gw) || !scratch || !out) goto done;
    for (size_t r = 0; r < k; r++) {
        size_t m = 0;
        for (size_t j = offset[r]; j < offset[r + 1]; j++, m++) {
            size_t i = rows[j];
            gp[m] = p[i];
            gy[m] = y[i];
            if (w) gw[m] = w[i];
        }
        out[r].key = top[r].key;
        compute_core(gp, gy, w ? gw : NULL, m, scratch, &out[r].m);
    }
    *slices = out;
    *n_slices = k;
    out = NULL;
    rc = LEAP_OK;

done:
    if (rc != LEAP_OK) leap_err_set(err, rc, "metrics: out of memory slicing %zu rows", n);
    free(counts.e);
    free(ranks.e);
    free(top);
    free(offset);
    free(rows);
    free(gp);
    free(gy);
    free(gw);
    free(scratch);
    free(out);
    return rc;
}

/* ---- writers --------------------------------------------------------------- */

/* Numbers are printed in the C locale whatever the process's locale is:
 * uselocale() switches this thread only, so the library leaves global state
 * alone. Returns the previous locale (or 0 when "C" could not be made). */
typedef struct c_locale_scope {
    locale_t c, old;
} c_locale_scope;

static void c_locale_enter(c_locale_scope *s) {
    s->c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    s->old = s->c ? uselocale(s->c) : (locale_t)0;
}

static void c_locale_leave(c_locale_scope *s) {
    if (!s->c) return;
    uselocale(s->old);
    freelocale(s->c);
}

static void json_num(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fputs("null", f);
}

void leap_metrics_write_json(FILE *f, const leap_metrics *m) {
    c_locale_scope ls;
    c_locale_enter(&ls);
    /* Counts are integers: %.0f keeps every digit (%.9g would round 10^9+1). */
    fprintf(f, "{\"n\":%.0f,\"sum_w\":", m->n);
    json_num(f, m->sum_w);
    static const char *names[] = {"base_rate", "auc", "logloss", "ne", "calibration", "pr_auc"};
    const double vals[] = {m->base_rate, m->auc, m->logloss, m->ne, m->calibration, m->pr_auc};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        fprintf(f, ",\"%s\":", names[i]);
        json_num(f, vals[i]);
    }
    fputs(",\"reliability\":[", f);
    for (int k = 0; k < LEAP_RELIABILITY_BINS; k++) {
        fprintf(f, "%s{\"lo\":%.9g,\"hi\":%.9g,\"weight\":", k ? "," : "",
                (double)k / LEAP_RELIABILITY_BINS, (double)(k + 1) / LEAP_RELIABILITY_BINS);
        json_num(f, m->rel_w[k]);
        fputs(",\"mean_p\":", f);
        json_num(f, m->rel_pred[k]);
        fputs(",\"observed\":", f);
        json_num(f, m->rel_obs[k]);
        fputc('}', f);
    }
    fputs("]}", f);
    c_locale_leave(&ls);
}

/* One right-aligned value column; NaN shows as "n/a". */
static void table_num(FILE *f, const char *fmt, double v) {
    if (isnan(v))
        fprintf(f, "%12s", "n/a");
    else
        fprintf(f, fmt, v);
}

void leap_metrics_write_table(FILE *f, const leap_metrics *m) {
    c_locale_scope ls;
    c_locale_enter(&ls);
    static const char *names[] = {"auc", "logloss", "ne", "calibration", "pr_auc", "base_rate"};
    const double vals[] = {m->auc, m->logloss, m->ne, m->calibration, m->pr_auc, m->base_rate};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        fprintf(f, "%-12s", names[i]);
        table_num(f, "%12.6f", vals[i]);
        fputc('\n', f);
    }
    fprintf(f, "%-12s%12.0f\n", "rows", m->n);
    fprintf(f, "%-12s", "weight");
    table_num(f, "%12.6g", m->sum_w);
    fputs("\n\nreliability\n", f);
    fprintf(f, "%-12s%12s%12s%12s\n", "p range", "weight", "mean p", "observed");
    for (int k = 0; k < LEAP_RELIABILITY_BINS; k++) {
        char range[32];
        char close = k + 1 == LEAP_RELIABILITY_BINS ? ']' : ')'; /* p = 1 is in the last bin */
        snprintf(range, sizeof range, "[%.1f, %.1f%c", (double)k / LEAP_RELIABILITY_BINS,
                 (double)(k + 1) / LEAP_RELIABILITY_BINS, close);
        fprintf(f, "%-12s", range);
        table_num(f, "%12.6g", m->rel_w[k]);
        table_num(f, "%12.6f", m->rel_pred[k]);
        table_num(f, "%12.6f", m->rel_obs[k]);
        fputc('\n', f);
    }
    c_locale_leave(&ls);
}
