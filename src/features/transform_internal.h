/* transform_internal.h — what the spec parser, the analyze pass, the state
 * (de)serialiser and the featurizer share about transform fields. The value
 * functions here are the ONE definition of what an op does: fitting reads
 * values through them and applying maps values through them, so training,
 * batch scoring and serving agree bit for bit. Private to libleap. */
#ifndef LEAP_FEATURES_TRANSFORM_INTERNAL_H
#define LEAP_FEATURES_TRANSFORM_INTERNAL_H

#include <math.h>
#include <string.h>

#include "leap/transform.h"

int leap__tf_is_terminal(leap_tf_op_kind k);
int leap__tf_is_stateful(const leap_tf_op *op);
void leap__tf_op_free(leap_tf_op *op);
leap_fz_kind leap__tf_field_kind(const leap_tf_field *f);

/* Builds a featurizer over a fitted spec (takes ownership of spec): one
 * field per feature, index ranges laid out in spec order. */
int leap__fz_from_spec(leap_featurizer *fz, leap_tf_spec *spec, leap_err *err);
/* Range size of a fitted field. */
uint64_t leap__tf_card(const leap_tf_field *f);
/* Builds v's lookup table from v->keys[0..n). */
int leap__tf_vocab_index(leap_tf_vocab *v);

/* Binary fitted state (docs/FORMATS.md) of a spec featurizer. */
#define LEAP_TF_MAGIC "LEAPTF\x00\x01"
int leap__tf_serialize(const leap_featurizer *fz, leap_buf *out);
int leap__tf_deserialize(const uint8_t *p, size_t len, const char *name, leap_featurizer *fz,
                         leap_err *err);

/* Per-field hash seed of a spec featurizer. */
static inline uint64_t leap__tf_seed(size_t i) {
    return leap_mix64(0x74726e73ULL, (uint64_t)i + 1);
}

/* The numeric pre-op chain ops[0..upto) on x (NaN = missing), in double. */
static inline double leap__tf_num(const leap_tf_field *f, int upto, double x) {
    for (int j = 0; j < upto; j++) {
        const leap_tf_op *op = &f->ops[j];
        switch (op->kind) {
        case LEAP_TF_FILL_MISSING:
            if (isnan(x)) x = op->fill_num;
            break;
        case LEAP_TF_CLIP:
            if (x < op->lo)
                x = op->lo;
            else if (x > op->hi)
                x = op->hi;
            break;
        case LEAP_TF_LOG1P: x = x >= 0 ? log1p(x) : -log1p(-x); break;
        case LEAP_TF_STANDARDIZE: x = (x - op->mean) / op->std; break;
        default: break;
        }
    }
    return x;
}

/* Categorical pre-ops (fill_missing) on a value hash (0 = missing). */
static inline uint64_t leap__tf_cat(const leap_tf_field *f, int upto, uint64_t h) {
    for (int j = 0; j < upto; j++)
        if (f->ops[j].kind == LEAP_TF_FILL_MISSING && h == 0) h = f->ops[j].fill_cat;
    return h;
}

/* Token of a (non-missing) numeric value for hash and vocabulary: its float
 * bits plus one (never 0), -0 folded onto 0. */
static inline uint64_t leap__tf_num_token(double x) {
    float v = (float)x;
    if (v == 0.0f) v = 0.0f;
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    return (uint64_t)b + 1;
}

/* Vocabulary entry of token h, or -1. */
static inline int64_t leap__tf_vocab_find(const leap_tf_vocab *v, uint64_t h) {
    if (!v->tkey) return -1;
    uint32_t i = (uint32_t)leap_mix64(h, 0x766f63ULL) & v->mask;
    for (;;) {
        uint64_t k = v->tkey[i];
        if (k == h) return v->tval[i];
        if (k == 0) return -1;
        i = (i + 1) & v->mask;
    }
}

/* log_bucket as an ordinal: x <= 2 -> (int)x clamped to [-16, 2] (19 slots),
 * x > 2 -> min(floor(ln(x)^2), 1023) (1024 slots); local index from 1. */
#define LEAP_TF_LOGB_SMALL 19
#define LEAP_TF_LOGB_BIG   1024
static inline uint32_t leap__tf_log_bucket(double x) {
    if (x > 2.0) {
        double l = log(x);
        double k = floor(l * l);
        if (k > LEAP_TF_LOGB_BIG - 1) k = LEAP_TF_LOGB_BIG - 1;
        return 1 + LEAP_TF_LOGB_SMALL + (uint32_t)k;
    }
    double t = x < -16.0 ? -16.0 : x;
    return 1 + (uint32_t)((int)t + 16);
}

/* Count of boundaries <= x (binary search). */
static inline uint32_t leap__tf_bucket(const double *b, uint32_t n, double x) {
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (b[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Local index of a categorical token under a terminal hash/vocabulary op. */
static inline uint32_t leap__tf_index(const leap_tf_op *t, uint64_t seed, uint64_t tok) {
    if (t->kind == LEAP_TF_HASH) return 1 + (uint32_t)(leap_mix64(seed, tok) % t->buckets);
    int64_t e = leap__tf_vocab_find(&t->vocab, tok);
    if (e >= 0) return 1 + (uint32_t)e;
    return 1 + t->vocab.n + (uint32_t)(leap_mix64(seed ^ 0x6f6f76ULL, tok) % t->oov_buckets);
}

/* Local index (and value) of a single-valued numeric field at value x (raw). */
static inline uint32_t leap__tf_apply_num(const leap_tf_field *f, uint64_t seed, float raw,
                                          float *val) {
    const leap_tf_op *t = f->n_ops > 0 ? &f->ops[f->n_ops - 1] : NULL;
    int term = t && leap__tf_is_terminal(t->kind);
    double x = leap__tf_num(f, term ? f->n_ops - 1 : f->n_ops, (double)raw);
    *val = 1.0f;
    if (isnan(x)) return 0;
    if (!term) {
        *val = (float)x;
        return 1;
    }
    switch (t->kind) {
    case LEAP_TF_BUCKETIZE: return 1 + leap__tf_bucket(t->bounds, t->n_bounds, x);
    case LEAP_TF_LOG_BUCKET: return leap__tf_log_bucket(x);
    default: return leap__tf_index(t, seed, leap__tf_num_token(x));
    }
}

/* Local index of a single categorical value hash h (0 = missing). */
static inline uint32_t leap__tf_apply_cat(const leap_tf_field *f, uint64_t seed, uint64_t h) {
    h = leap__tf_cat(f, f->n_ops - 1, h);
    if (h == 0) return 0;
    return leap__tf_index(&f->ops[f->n_ops - 1], seed, h);
}

/* Local index of a cross from its inputs' tokens. */
static inline uint32_t leap__tf_apply_cross(const leap_tf_field *f, uint64_t seed,
                                            const uint64_t *tok) {
    uint64_t h = seed;
    for (int j = 0; j < f->n_src; j++)
        h = leap_mix64(h, tok[j] + 0x9e3779b97f4a7c15ULL);
    return 1 + (uint32_t)(h % f->ops[0].buckets);
}

#endif
