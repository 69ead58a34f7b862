/* leap/bundle.h — the model bundle (.leap): one self-contained file with
 * everything needed to score raw rows: metadata, the featurizer (transform)
 * state, the model family, its options and parameters, and a checksum.
 *
 * Written atomically (temp file, fsync, rename). A corrupt, truncated or
 * future-version bundle is refused with a message saying which. Layout in
 * docs/FORMATS.md.
 *
 *     leap_bundle b;
 *     leap_bundle_load("lr.leap", &b, &err);
 *     leap_bundle_predict(&b, &fbatch, probs);   // calibrated probabilities
 *     leap_bundle_free(&b);
 */
#ifndef LEAP_BUNDLE_H
#define LEAP_BUNDLE_H

#include "leap/model.h"

#define LEAP_BUNDLE_MAGIC   "LEAPMDL" /* 8 bytes with the NUL */
#define LEAP_BUNDLE_VERSION 1
#define LEAP_BUNDLE_HEADER  48

typedef struct leap_bundle {
    size_t n_meta;
    char **keys, **vals; /* metadata [n_meta], owned */
    leap_featurizer fz;  /* owned */
    const leap_model_ops *ops;
    void *opts;         /* model options struct, owned */
    leap_model *model;  /* owned */
    double neg_rate;    /* negative downsampling rate of the training data; 1 = none */
    double logit_shift; /* intercept recalibration added to the model's logit; 0 = none */
} leap_bundle;

/* Sets or replaces a metadata entry (copied). Keys: [A-Za-z0-9_.]; values one line. */
int leap_bundle_meta_set(leap_bundle *b, const char *key, const char *val);
const char *leap_bundle_meta_get(const leap_bundle *b, const char *key);

/* Writes b to path atomically. Records model, options, neg_sample_rate and
 * leap_version itself. */
int leap_bundle_save(const char *path, const leap_bundle *b, leap_err *err);
/* Reads and verifies path; on error b is left empty. */
int leap_bundle_load(const char *path, leap_bundle *b, leap_err *err);
/* Same from memory (size bytes at buf, not kept); name is used in messages. */
int leap_bundle_parse(const uint8_t *buf, size_t size, const char *name, leap_bundle *b,
                      leap_err *err);
void leap_bundle_free(leap_bundle *b);
/* Testing/fuzzing aid: rewrites the trailing checksum of a bundle image so
 * that mutated contents reach the parsers behind it. -1 when the section
 * lengths do not fit size. */
int leap__bundle_fix_checksum(uint8_t *buf, size_t size);

/* Probabilities on the true base rate: the model's score q, shifted on the
 * logit scale by logit_shift (q' = σ(logit q + shift)), then corrected for
 * negative downsampling (leap_calibrate_neg_rate). Thread-safe. */
void leap_bundle_predict(const leap_bundle *b, const leap_fbatch *fb, float *p);
/* σ(logit(q) + shift), q clamped away from 0 and 1. */
float leap_shift_logit(float q, double shift);
/* The logit shift that makes Σ w·p = Σ w·y on (q, y, w), p being the shifted
 * and neg-rate-corrected q (bisection; the sum is monotone in the shift).
 * q are raw model scores. */
double leap_fit_logit_shift(const float *q, const float *y, const float *w, size_t n,
                            double neg_rate);

#endif
