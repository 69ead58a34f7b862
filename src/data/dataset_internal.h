/* dataset_internal.h — library-private helpers of the dataset module, used by
 * other src/data/ code (split, sampling). Not installed, not part of the API. */
#ifndef LEAP_DATASET_INTERNAL_H
#define LEAP_DATASET_INTERNAL_H

#include "leap/dataset.h"

/* Like leap_dataset_read_row_group, but decodes only the columns whose
 * want[c] is non-zero (want may be NULL = all). The other columns of rg keep
 * whatever they held before; rg->n_rows is set to the row group's rows. */
int leap__dataset_read_columns(leap_dataset *ds, size_t g, leap_rowgroup *rg, const uint8_t *want,
                               leap_err *err);

/* Copies every dictionary entry of ds into w, for the same column indices
 * (w's schema must start with ds's columns). Returns LEAP_OK or LEAP_ENOMEM. */
int leap__dataset_copy_dicts(const leap_dataset *ds, leap_dataset_writer *w, leap_err *err);

/* Appends row group g of ds to w as stored (compressed chunks and checksums
 * copied, nothing re-encoded). w's schema must equal ds's. */
int leap__dataset_copy_row_group_raw(const leap_dataset *ds, size_t g, leap_dataset_writer *w,
                                     leap_err *err);

#endif
