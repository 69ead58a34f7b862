/* topk.c — Space-Saving heavy hitters (Metwally, Agrawal & El Abbadi 2005)
 * behind leap_topk_* in leap/sketch.h, with the merge of Agarwal, Cormode,
 * Huang, Phillips, Wei & Yi, "Mergeable Summaries" (PODS 2012).
 *
 * `capacity` counters live in flat slot arrays; an open-addressing hash map
 * (linear probing, load <= 1/2, backward-shift deletion) finds a key's slot,
 * and a binary min-heap over the slots finds the smallest counter. An add is
 * O(1) expected for a monitored key and O(log c) when it evicts; nothing is
 * allocated after create except by merge and items.
 *
 * Guarantee (weighted Space-Saving): with T the total weight added, every
 * counter satisfies count - error <= true weight <= count and error <= min
 * counter <= T / capacity; a key not monitored has true weight <= min counter
 * (0 while fewer than `capacity` keys were seen). Hence every key with true
 * weight > T / capacity is reported.
 *
 * Merge: Space-Saving with c counters is Misra–Gries with c - 1 counters
 * shifted by the minimum (Agarwal et al. §2), so we merge in that form. A key
 * monitored by both sides gets the sum of counts and of errors; a key
 * monitored by one side only gets the other side's minimum counter (its upper
 * bound there: 0 when that side is not full) added to both count and error.
 * The c largest combined counts are kept (ties by smaller key). The MG merge
 * analysis shows the c-th largest combined count — the new minimum — is at
 * most T / c and the kept counts sum to at most T, so the guarantee above
 * holds for the merged stream and keeps holding for adds after the merge.
 * Sketches of different capacities do not merge (LEAP_EINVAL). Weights that
 * are not finite and positive are ignored. */
#include "leap/sketch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct leap_topk {
    size_t cap;      /* counters */
    size_t n;        /* counters in use */
    double total;    /* weight added */
    uint64_t *key;   /* [cap] key of slot s */
    double *count;   /* [cap] estimated weight of slot s */
    double *err;     /* [cap] overestimation bound of slot s */
    uint32_t *heap;  /* [cap] slots, min-heap by count; heap[0] = smallest */
    uint32_t *hpos;  /* [cap] position of slot s in heap */
    uint32_t *table; /* [mask + 1] slot + 1, 0 = empty */
    size_t mask;
};

static inline size_t key_home(const leap_topk *t, uint64_t key) {
    return (size_t)leap_mix64(key, 0x5bd1e995u) & t->mask;
}

/* Slot of key, or -1. */
static inline long map_find(const leap_topk *t, uint64_t key) {
    for (size_t i = key_home(t, key);; i = (i + 1) & t->mask) {
        uint32_t e = t->table[i];
        if (!e) return -1;
        if (t->key[e - 1] == key) return (long)(e - 1);
    }
}

static inline void map_insert(leap_topk *t, uint32_t slot) {
    size_t i = key_home(t, t->key[slot]);
    while (t->table[i])
        i = (i + 1) & t->mask;
    t->table[i] = slot + 1;
}

/* Removes key (present) by backward shifting the entries after it. */
static void map_remove(leap_topk *t, uint64_t key) {
    size_t i = key_home(t, key);
    while (t->key[t->table[i] - 1] != key)
        i = (i + 1) & t->mask;
    for (size_t j = (i + 1) & t->mask; t->table[j]; j = (j + 1) & t->mask) {
        size_t home = key_home(t, t->key[t->table[j] - 1]);
        /* the entry at j may move to the hole at i unless its home lies in (i, j] */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            t->table[i] = t->table[j];
            i = j;
        }
    }
    t->table[i] = 0;
}

static inline void heap_swap(leap_topk *t, size_t a, size_t b) {
    uint32_t x = t->heap[a], y = t->heap[b];
    t->heap[a] = y;
    t->heap[b] = x;
    t->hpos[y] = (uint32_t)a;
    t->hpos[x] = (uint32_t)b;
}

static void sift_down(leap_topk *t, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < t->n && t->count[t->heap[l]] < t->count[t->heap[m]]) m = l;
        if (l + 1 < t->n && t->count[t->heap[l + 1]] < t->count[t->heap[m]]) m = l + 1;
        if (m == i) return;
        heap_swap(t, i, m);
        i = m;
    }
}

static void sift_up(leap_topk *t, size_t i) {
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!(t->count[t->heap[i]] < t->count[t->heap[p]])) return;
        heap_swap(t, i, p);
        i = p;
    }
}

int leap_topk_create(size_t capacity, leap_topk **out) {
    *out = NULL;
    if (capacity < 1 || capacity > ((size_t)1 << 30)) return LEAP_EINVAL;
    leap_topk *t = calloc(1, sizeof *t);
    if (!t) return LEAP_ENOMEM;
    size_t tsize = 4;
    while (tsize < 2 * capacity)
        tsize *= 2;
    t->cap = capacity;
    t->mask = tsize - 1;
    t->key = malloc(capacity * sizeof *t->key);
    t->count = malloc(capacity * sizeof *t->count);
    t->err = malloc(capacity * sizeof *t->err);
    t->heap = malloc(capacity * sizeof *t->heap);
    t->hpos = malloc(capacity * sizeof *t->hpos);
    t->table = calloc(tsize, sizeof *t->table);
    if (!t->key || !t->count || !t->err || !t->heap || !t->hpos || !t->table) {
        leap_topk_destroy(t);
        return LEAP_ENOMEM;
    }
    *out = t;
    return LEAP_OK;
}

void leap_topk_destroy(leap_topk *t) {
    if (!t) return;
    free(t->key);
    free(t->count);
    free(t->err);
    free(t->heap);
    free(t->hpos);
    free(t->table);
    free(t);
}

/* Starts monitoring key in a fresh slot (n < cap). */
static void push_new(leap_topk *t, uint64_t key, double count, double err) {
    uint32_t s = (uint32_t)t->n++;
    t->key[s] = key;
    t->count[s] = count;
    t->err[s] = err;
    t->heap[s] = s;
    t->hpos[s] = s;
    sift_up(t, s);
    map_insert(t, s);
}

void leap_topk_add(leap_topk *t, uint64_t key, double weight) {
    if (!(weight > 0) || !isfinite(weight)) return;
    t->total += weight;
    long s = map_find(t, key);
    if (s >= 0) {
        t->count[s] += weight;
        sift_down(t, t->hpos[s]);
    } else if (t->n < t->cap) {
        push_new(t, key, weight, 0);
    } else {
        /* evict the smallest counter: the newcomer inherits it as its error */
        uint32_t m = t->heap[0];
        map_remove(t, t->key[m]);
        double floor = t->count[m];
        t->key[m] = key;
        t->err[m] = floor;
        t->count[m] = floor + weight;
        sift_down(t, 0);
        map_insert(t, m);
    }
}

static int cmp_item(const void *a, const void *b) {
    const leap_topk_item *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return (x->key > y->key) - (x->key < y->key);
}

static double min_counter(const leap_topk *t) {
    return t->n == t->cap ? t->count[t->heap[0]] : 0.0;
}

int leap_topk_merge(leap_topk *into, const leap_topk *from) {
    if (into->cap != from->cap) return LEAP_EINVAL;
    leap_topk_item *c = malloc((into->n + from->n + 1) * sizeof *c);
    if (!c) return LEAP_ENOMEM;
    /* Everything is read from both sides before into changes: into == from works. */
    double min_into = min_counter(into), min_from = min_counter(from);
    size_t nc = 0;
    for (size_t s = 0; s < into->n; s++) {
        long o = map_find(from, into->key[s]);
        double oc = o >= 0 ? from->count[o] : min_from, oe = o >= 0 ? from->err[o] : min_from;
        c[nc++] = (leap_topk_item){into->key[s], into->count[s] + oc, into->err[s] + oe};
    }
    for (size_t s = 0; s < from->n; s++)
        if (map_find(into, from->key[s]) < 0)
            c[nc++] =
                (leap_topk_item){from->key[s], from->count[s] + min_into, from->err[s] + min_into};
    qsort(c, nc, sizeof *c, cmp_item);
    if (nc > into->cap) nc = into->cap;
    into->total += from->total;
    into->n = 0;
    memset(into->table, 0, (into->mask + 1) * sizeof *into->table);
    for (size_t i = 0; i < nc; i++)
        push_new(into, c[i].key, c[i].count, c[i].error);
    free(c);
    return LEAP_OK;
}

double leap_topk_total(const leap_topk *t) { return t->total; }

/* O(c log c); allocates a scratch copy (returns 0 if that fails). */
size_t leap_topk_items(const leap_topk *t, leap_topk_item *items, size_t max) {
    if (!max || !t->n) return 0;
    leap_topk_item *c = malloc(t->n * sizeof *c);
    if (!c) return 0;
    for (size_t s = 0; s < t->n; s++)
        c[s] = (leap_topk_item){t->key[s], t->count[s], t->err[s]};
    qsort(c, t->n, sizeof *c, cmp_item);
    size_t m = t->n < max ? t->n : max;
    memcpy(items, c, m * sizeof *c);
    free(c);
    return m;
}
