/* concat.c — joins datasets with the same schema into one, copying the
 * compressed chunks as stored (nothing is decoded or re-encoded). Used by
 * `leap ingest` under mpirun, where each rank ingests its share of the input
 * files into a part and rank 0 joins the parts. */
#include "dataset_internal.h"

#include <string.h>

static int same_schema(const leap_schema *a, const leap_schema *b) {
    if (a->n_cols != b->n_cols) return 0;
    for (size_t c = 0; c < a->n_cols; c++)
        if (strcmp(a->cols[c].name, b->cols[c].name) || a->cols[c].type != b->cols[c].type ||
            a->cols[c].weighted != b->cols[c].weighted)
            return 0;
    return 1;
}

int leap_dataset_concat(const char *const *parts, size_t n, const char *out, leap_err *err) {
    if (n == 0) return leap_err_set(err, LEAP_EINVAL, "%s: nothing to join", out);
    leap_dataset *first = NULL;
    leap_dataset_writer *w = NULL;
    int rc = leap_dataset_open(parts[0], &first, err);
    if (rc) return rc;
    const leap_schema *s = leap_dataset_schema(first);
    if ((rc = leap_dataset_writer_create(out, s, NULL, &w, err))) goto done;
    for (size_t i = 0; i < leap_dataset_meta_count(first); i++) {
        const char *k, *v;
        leap_dataset_meta_at(first, i, &k, &v);
        if (leap_dataset_writer_set_meta(w, k, v)) {
            rc = leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", out);
            goto done;
        }
    }
    for (size_t p = 0; p < n; p++) {
        leap_dataset *ds = first;
        if (p > 0 && (rc = leap_dataset_open(parts[p], &ds, err))) goto done;
        if (!same_schema(s, leap_dataset_schema(ds))) {
            rc = leap_err_set(err, LEAP_EINVAL, "%s: schema differs from %s", parts[p], parts[0]);
        } else {
            rc = leap__dataset_copy_dicts(ds, w, err);
            for (size_t g = 0; !rc && g < leap_dataset_num_row_groups(ds); g++)
                rc = leap__dataset_copy_row_group_raw(ds, g, w, err);
        }
        if (p > 0) leap_dataset_close(ds);
        if (rc) goto done;
    }
    rc = leap_dataset_writer_commit(w, err);
    w = NULL;
done:
    if (w) leap_dataset_writer_abort(w);
    leap_dataset_close(first);
    return rc;
}
