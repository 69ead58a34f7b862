/* score.c — parallel scoring of a dataset with a bundle. Each row group is a
 * task; results land at the row group's offset, so output order is input order. */
#include "leap/score.h"

#include <stdlib.h>
#include <string.h>

typedef struct score_worker {
    leap_rowgroup rg;
    leap_fbatch fb;
    leap_err err;
} score_worker;

typedef struct score_run {
    const leap_bundle *b;
    leap_dataset *ds;
    leap_fz_binding bind;
    uint64_t *offs;
    float *p, *y, *w;
    int key_col;
    uint64_t *key;
    score_worker *wk;
} score_run;

static int score_task(void *vctx, size_t g, int thread) {
    score_run *S = vctx;
    score_worker *W = &S->wk[thread];
    int rc = leap_dataset_read_row_group(S->ds, g, &W->rg, &W->err);
    if (rc) return rc;
    if ((rc = leap_featurize(&S->b->fz, &S->bind, &W->rg, &W->fb, &W->err))) return rc;
    uint64_t o = S->offs[g];
    size_t n = W->fb.n_rows;
    leap_bundle_predict(S->b, &W->fb, S->p + o);
    if (S->y) memcpy(S->y + o, W->fb.label, n * sizeof(float));
    if (S->w) memcpy(S->w + o, W->fb.weight, n * sizeof(float));
    if (S->key_col >= 0) {
        const leap_column *c = &W->rg.cols[S->key_col];
        leap_col_type t = W->rg.types[S->key_col];
        for (size_t i = 0; i < n; i++) {
            uint64_t k = 0;
            if (t == LEAP_COL_CATEGORICAL)
                k = c->u64[i];
            else if (t == LEAP_COL_TIMESTAMP)
                k = (uint64_t)c->i64[i];
            else if (c->f32)
                memcpy(&k, &c->f32[i], sizeof(float));
            S->key[o + i] = k;
        }
    }
    return 0;
}

int leap_score_dataset(const leap_bundle *b, leap_dataset *ds, int threads, float *p, float *y,
                       float *w, int key_col, uint64_t *key, leap_err *err) {
    score_run S = {.b = b, .ds = ds, .p = p, .y = y, .w = w, .key_col = key_col, .key = key};
    size_t G = leap_dataset_num_row_groups(ds);
    const leap_schema *s = leap_dataset_schema(ds);
    int rc = leap_fz_bind(&b->fz, s, leap_dataset_path(ds), &S.bind, err);
    if (rc) return rc;
    if (threads < 1) threads = 1;
    S.offs = malloc((G + 1) * sizeof *S.offs);
    S.wk = calloc((size_t)threads, sizeof *S.wk);
    if (!S.offs || !S.wk) {
        rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
        goto done;
    }
    S.offs[0] = 0;
    for (size_t g = 0; g < G; g++)
        S.offs[g + 1] = S.offs[g] + leap_dataset_row_group_rows(ds, g);
    for (int t = 0; t < threads; t++)
        if (leap_rowgroup_init(&S.wk[t].rg, s)) {
            rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
            goto done;
        }
    rc = leap_parallel_for(threads, G, score_task, &S);
    if (rc) {
        for (int t = 0; t < threads; t++)
            if (S.wk[t].err.status) {
                if (err) *err = S.wk[t].err;
                break;
            }
    }
done:
    if (S.wk)
        for (int t = 0; t < threads; t++) {
            leap_rowgroup_free(&S.wk[t].rg);
            leap_fbatch_free(&S.wk[t].fb);
        }
    free(S.wk);
    free(S.offs);
    leap_fz_binding_free(&S.bind);
    return rc;
}
