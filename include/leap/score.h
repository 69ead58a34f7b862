/* leap/score.h — scoring a dataset with a bundle on all cores (shared by
 * `leap eval` and `leap predict`). */
#ifndef LEAP_SCORE_H
#define LEAP_SCORE_H

#include "leap/bundle.h"

/* Scores every row of ds in row order. p, y, w: caller-owned arrays of
 * leap_dataset_num_rows(ds) floats (y, w may be NULL); y gets the label (0
 * when absent) and w the example weight (1 when absent). When key_col >= 0,
 * key[i] gets that column's categorical hash (or the bits of a numeric value)
 * for slicing. p holds calibrated probabilities (leap_bundle_predict). */
int leap_score_dataset(const leap_bundle *b, leap_dataset *ds, int threads, float *p, float *y,
                       float *w, int key_col, uint64_t *key, leap_err *err);

#endif
