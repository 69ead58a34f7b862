/* kll.c — the KLL quantile sketch (Karnin, Lang & Liberty, "Optimal Quantile
 * Approximation in Streams", FOCS 2016) behind leap_kll_* in leap/sketch.h.
 *
 * A hierarchy of compactors: level h holds items of weight 2^h. Level h's
 * capacity is k·(2/3)^(H-1-h) (at least 2), H the number of levels, so the
 * top level holds k items and lower ones geometrically fewer. Compaction is
 * lazy (as in Liberty's reference code and Apache DataSketches): nothing
 * happens until the whole sketch holds sum(capacities) items; then the lowest
 * level at or over its capacity is sorted and every other item (even or odd
 * positions, a coin flip from the sketch's own splitmix stream) moves up one
 * level with twice the weight. The total weight stays exactly n.
 *
 * Does: add, merge (concatenate levels, then compact), quantile and rank (by
 * sorting the (value, weight) pairs on each query: queries are rare), exact
 * min/max/count, a versioned little-endian serialised form with a checksum.
 * Does not: keep a sorted view between queries, support items other than
 * doubles, or merge sketches of different k (LEAP_EINVAL). NaN is ignored.
 *
 * Memory: each level is a growable buffer (doubling), so an add allocates only
 * when a level outgrows its buffer, O(log n) times over a stream. An
 * allocation failure inside add (which returns void) drops that value and
 * makes the next merge or write return LEAP_ENOMEM. */
#include "leap/sketch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KLL_MIN_K      8
#define KLL_MAX_K      65535
#define KLL_MAX_LEVELS 64
#define KLL_MAGIC      "LKLL"
#define KLL_VERSION    1u
#define KLL_HEADER     48 /* bytes before the level-size table, see leap_kll_write */

typedef struct kll_level {
    double *v;  /* [cap], the first n used; unsorted except right after a compaction */
    size_t n;   /* items held */
    size_t cap; /* allocated items */
} kll_level;

struct leap_kll {
    uint32_t k;
    uint32_t n_levels;   /* levels in use, >= 1 */
    uint32_t levels_cap; /* allocated entries of lv */
    int oom;             /* 1 after an allocation failure inside add */
    kll_level *lv;       /* [levels_cap]; level h holds weight-2^h items */
    size_t size;         /* items held, all levels */
    size_t max_size;     /* sum of level capacities: compact when size reaches it */
    uint64_t n;          /* values added (= total weight) */
    double min, max;     /* exact; +inf / -inf while empty */
    leap_rng rng;        /* compaction coin flips */
};

/* k·(2/3)^depth rounded to nearest, at least 2, in integer arithmetic so every
 * platform computes the same capacities (and hence the same sketch). */
static size_t level_capacity(uint32_t k, uint32_t depth) {
    if (depth >= 30) return 2; /* 65535·(2/3)^30 < 1 */
    uint64_t num = (uint64_t)k << depth, den = 1;
    for (uint32_t i = 0; i < depth; i++)
        den *= 3;
    uint64_t c = (num + den / 2) / den;
    return c < 2 ? 2 : (size_t)c;
}

static void update_max_size(leap_kll *s) {
    size_t t = 0;
    for (uint32_t h = 0; h < s->n_levels; h++)
        t += level_capacity(s->k, s->n_levels - 1 - h);
    s->max_size = t;
}

static int level_reserve(kll_level *l, size_t need) {
    if (need <= l->cap) return LEAP_OK;
    size_t cap = l->cap ? l->cap : 16;
    while (cap < need)
        cap *= 2;
    double *v = realloc(l->v, cap * sizeof *v);
    if (!v) return LEAP_ENOMEM;
    l->v = v;
    l->cap = cap;
    return LEAP_OK;
}

static int add_level(leap_kll *s) {
    if (s->n_levels >= KLL_MAX_LEVELS) return LEAP_ENOMEM; /* 2^64 values: unreachable */
    if (s->n_levels == s->levels_cap) {
        uint32_t cap = s->levels_cap ? s->levels_cap * 2 : 8;
        kll_level *lv = realloc(s->lv, cap * sizeof *lv);
        if (!lv) return LEAP_ENOMEM;
        memset(lv + s->levels_cap, 0, (cap - s->levels_cap) * sizeof *lv);
        s->lv = lv;
        s->levels_cap = cap;
    }
    s->n_levels++;
    update_max_size(s);
    return LEAP_OK;
}

/* Ascending sort of NaN-free doubles: quicksort (median of three) with an
 * insertion sort below 16 items. Inlined comparisons make compaction about
 * three times faster than qsort with a comparator function. */
static void sort_doubles(double *a, size_t n) {
    while (n > 16) {
        size_t m = n / 2;
        if (a[m] < a[0]) {
            double t = a[m];
            a[m] = a[0];
            a[0] = t;
        }
        if (a[n - 1] < a[0]) {
            double t = a[n - 1];
            a[n - 1] = a[0];
            a[0] = t;
        }
        if (a[n - 1] < a[m]) {
            double t = a[n - 1];
            a[n - 1] = a[m];
            a[m] = t;
        }
        double pivot = a[m];
        size_t i = 0, j = n - 1;
        for (;;) {
            while (a[i] < pivot)
                i++;
            while (pivot < a[j])
                j--;
            if (i >= j) break;
            double t = a[i];
            a[i] = a[j];
            a[j] = t;
            i++;
            j--;
        }
        /* recurse into the smaller side, loop on the larger */
        size_t left = j + 1;
        if (left < n - left) {
            sort_doubles(a, left);
            a += left;
            n -= left;
        } else {
            sort_doubles(a + left, n - left);
            n = left;
        }
    }
    for (size_t i = 1; i < n; i++) {
        double v = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

/* Sorts level h and moves half of it (rounded down) to level h+1. With an odd
 * count the smallest item stays behind, so the weight moved is even and the
 * total weight is preserved. */
static int compact_level(leap_kll *s, uint32_t h) {
    if (h + 1 == s->n_levels && add_level(s) != LEAP_OK) return LEAP_ENOMEM;
    kll_level *lo = &s->lv[h], *hi = &s->lv[h + 1];
    if (level_reserve(hi, hi->n + lo->n / 2) != LEAP_OK) return LEAP_ENOMEM;
    sort_doubles(lo->v, lo->n);
    size_t start = lo->n & 1;
    size_t off = (size_t)(leap_rng_next(&s->rng) >> 63);
    size_t moved = 0;
    for (size_t i = start + off; i < lo->n; i += 2)
        hi->v[hi->n + moved++] = lo->v[i];
    hi->n += moved;
    s->size -= lo->n - start - moved;
    lo->n = start;
    return LEAP_OK;
}

/* Compacts until the sketch is below its total capacity. Each round compacts
 * the lowest level at or over its capacity (one exists by pigeonhole while
 * size >= max_size) and removes at least one item, so this terminates. */
static int compress(leap_kll *s) {
    while (s->size >= s->max_size) {
        uint32_t h = 0;
        while (h < s->n_levels && s->lv[h].n < level_capacity(s->k, s->n_levels - 1 - h))
            h++;
        if (h == s->n_levels) break; /* unreachable, see above */
        if (compact_level(s, h) != LEAP_OK) return LEAP_ENOMEM;
    }
    return LEAP_OK;
}

int leap_kll_create(uint32_t k, uint64_t seed, leap_kll **out) {
    *out = NULL;
    if (k < KLL_MIN_K || k > KLL_MAX_K) return LEAP_EINVAL;
    leap_kll *s = calloc(1, sizeof *s);
    if (!s) return LEAP_ENOMEM;
    s->k = k;
    s->min = INFINITY;
    s->max = -INFINITY;
    s->rng.s = seed;
    if (add_level(s) != LEAP_OK || level_reserve(&s->lv[0], s->max_size) != LEAP_OK) {
        leap_kll_destroy(s);
        return LEAP_ENOMEM;
    }
    *out = s;
    return LEAP_OK;
}

void leap_kll_destroy(leap_kll *s) {
    if (!s) return;
    for (uint32_t h = 0; h < s->levels_cap; h++)
        free(s->lv[h].v);
    free(s->lv);
    free(s);
}

void leap_kll_add(leap_kll *s, double x) {
    if (isnan(x)) return;
    kll_level *l0 = &s->lv[0];
    if (l0->n == l0->cap && level_reserve(l0, l0->n + 1) != LEAP_OK) {
        s->oom = 1;
        return;
    }
    l0->v[l0->n++] = x;
    s->size++;
    s->n++;
    if (x < s->min) s->min = x;
    if (x > s->max) s->max = x;
    if (s->size >= s->max_size && compress(s) != LEAP_OK) s->oom = 1;
}

int leap_kll_merge(leap_kll *into, const leap_kll *from) {
    if (into->k != from->k) return LEAP_EINVAL;
    if (into->oom || from->oom) return LEAP_ENOMEM;
    if (from->n == 0) return LEAP_OK;
    /* Read from's shape first: into == from (a self-merge) is allowed. */
    uint32_t from_levels = from->n_levels;
    uint64_t from_n = from->n;
    double from_min = from->min, from_max = from->max;
    while (into->n_levels < from_levels)
        if (add_level(into) != LEAP_OK) return LEAP_ENOMEM;
    for (uint32_t h = 0; h < from_levels; h++) {
        size_t m = from->lv[h].n;
        if (level_reserve(&into->lv[h], into->lv[h].n + m) != LEAP_OK) return LEAP_ENOMEM;
        if (m) memcpy(into->lv[h].v + into->lv[h].n, from->lv[h].v, m * sizeof(double));
        into->lv[h].n += m;
        into->size += m;
    }
    into->n += from_n;
    if (from_min < into->min) into->min = from_min;
    if (from_max > into->max) into->max = from_max;
    return compress(into);
}

uint64_t leap_kll_count(const leap_kll *s) { return s->n; }
double leap_kll_min(const leap_kll *s) { return s->n ? s->min : NAN; }
double leap_kll_max(const leap_kll *s) { return s->n ? s->max : NAN; }

typedef struct kll_pair {
    double v;
    uint64_t w;
} kll_pair;

static int cmp_pair(const void *a, const void *b) {
    double x = ((const kll_pair *)a)->v, y = ((const kll_pair *)b)->v;
    return (x > y) - (x < y);
}

/* All held items with their weights, sorted by value; NULL on ENOMEM. */
static kll_pair *sorted_pairs(const leap_kll *s) {
    kll_pair *p = malloc((s->size ? s->size : 1) * sizeof *p);
    if (!p) return NULL;
    size_t j = 0;
    for (uint32_t h = 0; h < s->n_levels; h++)
        for (size_t i = 0; i < s->lv[h].n; i++)
            p[j++] = (kll_pair){s->lv[h].v[i], (uint64_t)1 << h};
    qsort(p, j, sizeof *p, cmp_pair);
    return p;
}

/* The first held item whose cumulative weight reaches q·n ("inclusive" search,
 * as DataSketches does by default). One sort of the m held items answers
 * every rank: O(m log m + n log m). */
int leap_kll_quantiles(const leap_kll *s, const double *q, size_t n, double *out) {
    kll_pair *p = NULL;
    for (size_t k = 0; k < n; k++) {
        if (s->n == 0 || isnan(q[k])) {
            out[k] = NAN;
        } else if (q[k] <= 0) {
            out[k] = s->min;
        } else if (q[k] >= 1) {
            out[k] = s->max;
        } else {
            if (!p) {
                p = sorted_pairs(s);
                if (!p) return LEAP_ENOMEM;
                for (size_t i = 1; i < s->size; i++) /* weights -> cumulative weights */
                    p[i].w += p[i - 1].w;
            }
            double target = q[k] * (double)s->n;
            size_t lo = 0, hi = s->size; /* first i with cum[i] >= target, or size */
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if ((double)p[mid].w >= target)
                    hi = mid;
                else
                    lo = mid + 1;
            }
            out[k] = lo < s->size ? p[lo].v : s->max;
        }
    }
    free(p);
    return LEAP_OK;
}

double leap_kll_quantile(const leap_kll *s, double q) {
    double v;
    return leap_kll_quantiles(s, &q, 1, &v) == LEAP_OK ? v : NAN;
}

/* Weight of held items <= x over n. O(m), no allocation. */
double leap_kll_rank(const leap_kll *s, double x) {
    if (s->n == 0 || isnan(x)) return NAN;
    uint64_t w = 0;
    for (uint32_t h = 0; h < s->n_levels; h++)
        for (size_t i = 0; i < s->lv[h].n; i++)
            if (s->lv[h].v[i] <= x) w += (uint64_t)1 << h;
    return (double)w / (double)s->n;
}

/* The empirical fit Apache DataSketches uses for the KLL sketch's normalised
 * rank error at 99% confidence, in its double-sided ("PMF") form, which also
 * covers single ranks: eps(k) = 2.446 / k^0.9433 (KllSketch /
 * KllHelper.getNormalizedRankError(k, true); the single-sided form is
 * 2.296 / k^0.9723). k = 200 gives 1.65%. Their compactors have the same
 * k·(2/3)^depth capacities as ours (they floor at 8 items rather than 2,
 * which only affects the lowest-weight levels). */
double leap_kll_error_bound(const leap_kll *s) { return 2.446 / pow((double)s->k, 0.9433); }

/* ---- serialised form ------------------------------------------------------
 *   0  "LKLL"
 *   4  u32 format version (1)
 *   8  u32 k
 *  12  u32 L, levels (1..64)
 *  16  u64 rng state (continuing to add after a read gives the same sketch)
 *  24  u64 n
 *  32  f64 min   (+inf when empty)
 *  40  f64 max   (-inf when empty)
 *  48  u32 size[L]
 *   .  f64 items, level 0 first
 *   .  u64 XXH3 (leap_hash64, seed 0) of every byte before it
 * All little-endian. */
static void put_f64(uint8_t *p, double d) {
    uint64_t v;
    memcpy(&v, &d, 8);
    leap_put_u64(p, v);
}
static double get_f64(const uint8_t *p) {
    uint64_t v = leap_get_u64(p);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

int leap_kll_write(const leap_kll *s, leap_buf *out) {
    if (s->oom) return LEAP_ENOMEM;
    for (uint32_t h = 0; h < s->n_levels; h++)
        if (s->lv[h].n > UINT32_MAX) return LEAP_EINVAL; /* unreachable: levels stay O(k) */
    size_t len = KLL_HEADER + 4 * (size_t)s->n_levels + 8 * s->size + 8;
    uint8_t *b = malloc(len);
    if (!b) return LEAP_ENOMEM;
    memcpy(b, KLL_MAGIC, 4);
    leap_put_u32(b + 4, KLL_VERSION);
    leap_put_u32(b + 8, s->k);
    leap_put_u32(b + 12, s->n_levels);
    leap_put_u64(b + 16, s->rng.s);
    leap_put_u64(b + 24, s->n);
    put_f64(b + 32, s->min);
    put_f64(b + 40, s->max);
    uint8_t *p = b + KLL_HEADER;
    for (uint32_t h = 0; h < s->n_levels; h++, p += 4)
        leap_put_u32(p, (uint32_t)s->lv[h].n);
    for (uint32_t h = 0; h < s->n_levels; h++)
        for (size_t i = 0; i < s->lv[h].n; i++, p += 8)
            put_f64(p, s->lv[h].v[i]);
    leap_put_u64(p, leap_hash64(b, len - 8, 0));
    int rc = leap_buf_append(out, b, len);
    free(b);
    return rc;
}

#define CORRUPT(...) leap_err_set(err, LEAP_ECORRUPT, "kll sketch: " __VA_ARGS__)

int leap_kll_read(const uint8_t *buf, size_t len, leap_kll **out, leap_err *err) {
    *out = NULL;
    if (!buf || len < KLL_HEADER + 4 + 8)
        return CORRUPT("truncated: %zu bytes, a header needs %d", len, KLL_HEADER + 4 + 8);
    if (memcmp(buf, KLL_MAGIC, 4) != 0) return CORRUPT("bad magic (not a KLL sketch)");
    uint32_t version = leap_get_u32(buf + 4);
    if (version != KLL_VERSION)
        return leap_err_set(err, LEAP_EVERSION,
                            "kll sketch: format version %u, this build reads %u", version,
                            KLL_VERSION);
    uint32_t k = leap_get_u32(buf + 8), n_levels = leap_get_u32(buf + 12);
    if (k < KLL_MIN_K || k > KLL_MAX_K)
        return CORRUPT("k = %u outside [%d, %d]", k, KLL_MIN_K, KLL_MAX_K);
    if (n_levels < 1 || n_levels > KLL_MAX_LEVELS)
        return CORRUPT("%u levels outside [1, %d]", n_levels, KLL_MAX_LEVELS);
    size_t table_end = KLL_HEADER + 4 * (size_t)n_levels;
    if (len < table_end + 8) return CORRUPT("truncated level table (%zu bytes)", len);
    size_t items = 0, room = (len - table_end - 8) / 8;
    for (uint32_t h = 0; h < n_levels; h++) {
        uint32_t m = leap_get_u32(buf + KLL_HEADER + 4 * h);
        if (m > room - items) return CORRUPT("level %u claims %u items past the end", h, m);
        items += m;
    }
    size_t want = table_end + 8 * items + 8;
    if (len != want) return CORRUPT("%zu bytes, the level table implies %zu", len, want);
    if (leap_get_u64(buf + len - 8) != leap_hash64(buf, len - 8, 0))
        return CORRUPT("checksum mismatch");

    uint64_t n = leap_get_u64(buf + 24), wsum = 0;
    for (uint32_t h = 0; h < n_levels; h++) {
        uint64_t m = leap_get_u32(buf + KLL_HEADER + 4 * h);
        if (m && (h >= 63 || m > (UINT64_MAX - wsum) >> h))
            return CORRUPT("level %u weight overflows", h);
        wsum += m << h;
    }
    if (wsum != n)
        return CORRUPT("count %llu but items weigh %llu", (unsigned long long)n,
                       (unsigned long long)wsum);
    double mn = get_f64(buf + 32), mx = get_f64(buf + 40);
    if (n && !(mn <= mx)) return CORRUPT("min %.17g > max %.17g", mn, mx);
    const uint8_t *p = buf + table_end;
    for (size_t i = 0; i < items; i++) {
        double v = get_f64(p + 8 * i);
        if (!(v >= mn && v <= mx)) return CORRUPT("item %zu (%.17g) outside [min, max]", i, v);
    }

    leap_kll *s;
    if (leap_kll_create(k, 0, &s) != LEAP_OK)
        return leap_err_set(err, LEAP_ENOMEM, "kll sketch: out of memory");
    while (s->n_levels < n_levels)
        if (add_level(s) != LEAP_OK) goto oom;
    for (uint32_t h = 0; h < n_levels; h++) {
        kll_level *l = &s->lv[h];
        size_t m = leap_get_u32(buf + KLL_HEADER + 4 * h);
        if (level_reserve(l, m) != LEAP_OK) goto oom;
        for (size_t i = 0; i < m; i++, p += 8)
            l->v[i] = get_f64(p);
        l->n = m;
        s->size += m;
    }
    s->rng.s = leap_get_u64(buf + 16);
    s->n = n;
    if (n) {
        s->min = mn;
        s->max = mx;
    }
    if (compress(s) != LEAP_OK) goto oom; /* a foreign writer may have left it over capacity */
    *out = s;
    return LEAP_OK;
oom:
    leap_kll_destroy(s);
    return leap_err_set(err, LEAP_ENOMEM, "kll sketch: out of memory");
}
