/* leap/sketch.h — mergeable summaries of large columns, used by the analyze
 * pass of transforms (vocabularies, quantile buckets, moments) and by
 * `leap stats`. Every summary merges across threads and MPI ranks and has a
 * documented error bound; none of them allocates per added value.
 *
 *     leap_kll *q;  leap_kll_create(200, seed, &q);
 *     for (...) leap_kll_add(q, x);          // NaN is ignored
 *     leap_kll_merge(q, other_threads_q);
 *     double median = leap_kll_quantile(q, 0.5);
 */
#ifndef LEAP_SKETCH_H
#define LEAP_SKETCH_H

#include "leap/core.h"

/* ---- KLL quantile sketch (Karnin, Lang & Liberty, FOCS 2016) --------------
 * Space O(k log(n/k)). With k = 200 the normalised rank error of any quantile
 * is at most leap_kll_error_bound() (≈ 1.65% at k = 200) with probability
 * ≥ 99%. Compaction coin flips come from a seeded generator: the same inputs,
 * order and seed give the same sketch. */
typedef struct leap_kll leap_kll;

int leap_kll_create(uint32_t k, uint64_t seed, leap_kll **out);
void leap_kll_destroy(leap_kll *s);
void leap_kll_add(leap_kll *s, double x);
/* Folds `from` into `into` (from is unchanged). */
int leap_kll_merge(leap_kll *into, const leap_kll *from);
uint64_t leap_kll_count(const leap_kll *s);
double leap_kll_min(const leap_kll *s);
double leap_kll_max(const leap_kll *s);
/* The value at normalised rank q in [0, 1] (q = 0: min, q = 1: max); NaN when empty. */
double leap_kll_quantile(const leap_kll *s, double q);
/* leap_kll_quantile at each of q[0..n) into out (one sort for all); LEAP_OK or LEAP_ENOMEM. */
int leap_kll_quantiles(const leap_kll *s, const double *q, size_t n, double *out);
/* Estimated fraction of added values <= x. */
double leap_kll_rank(const leap_kll *s, double x);
/* Normalised rank error bound of this sketch's answers (99% confidence). */
double leap_kll_error_bound(const leap_kll *s);
/* Serialised form (little-endian, versioned) for bundles and MPI exchange. */
int leap_kll_write(const leap_kll *s, leap_buf *out);
int leap_kll_read(const uint8_t *buf, size_t len, leap_kll **out, leap_err *err);

/* ---- HyperLogLog distinct counts (Flajolet et al. 2007, with the small- and
 * large-range corrections of Heule et al. 2013) over 64-bit hashes. 2^p
 * one-byte registers; standard error ≈ 1.04 / sqrt(2^p) (p = 14: 0.81%). */
typedef struct leap_hll {
    uint8_t p;
    uint8_t *reg; /* [1 << p], owned */
} leap_hll;

int leap_hll_init(leap_hll *h, int p); /* p in [4, 18] */
void leap_hll_free(leap_hll *h);
void leap_hll_add(leap_hll *h, uint64_t hash);
int leap_hll_merge(leap_hll *into, const leap_hll *from); /* same p required */
double leap_hll_estimate(const leap_hll *h);

/* ---- Space-Saving heavy hitters (Metwally, Agrawal & El Abbadi 2005) over
 * 64-bit keys with weights; `capacity` counters. Every key whose true weight
 * exceeds total / capacity is reported; a reported count overestimates the
 * true one by at most its `error`. Mergeable (Agarwal et al. 2012). */
typedef struct leap_topk leap_topk;
typedef struct leap_topk_item {
    uint64_t key;
    double count; /* estimated weight (upper bound) */
    double error; /* count - error <= true weight <= count */
} leap_topk_item;

int leap_topk_create(size_t capacity, leap_topk **out);
void leap_topk_destroy(leap_topk *t);
void leap_topk_add(leap_topk *t, uint64_t key, double weight);
int leap_topk_merge(leap_topk *into, const leap_topk *from);
double leap_topk_total(const leap_topk *t);
/* Copies up to max items, largest count first (ties by key), into items;
 * returns the number copied. */
size_t leap_topk_items(const leap_topk *t, leap_topk_item *items, size_t max);

/* ---- Moments: Welford updates, Chan et al. merge ------------------------ */
typedef struct leap_moments {
    double n, mean, m2, min, max;
} leap_moments;

void leap_moments_init(leap_moments *m);
void leap_moments_add(leap_moments *m, double x); /* NaN ignored */
void leap_moments_merge(leap_moments *into, const leap_moments *from);
double leap_moments_var(const leap_moments *m); /* population variance; NaN when n = 0 */

#endif
