/* fuzz_deep_payload.c — libFuzzer target: arbitrary bytes through the payload
 * loader of the embedding models (the first byte picks the family), on a
 * fixed featurizer of four hashed fields in 256 buckets. A payload must load
 * and score a small batch, or be refused with a message; never crash, and
 * never allocate more than the payload's own size implies. Seeds in
 * fuzz/corpus/fuzz_deep_payload/ are real payloads of every family. */
#include "models/deep.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static leap_featurizer fz;
    static int have_fz;
    static const char *const models[] = {"fm",     "ffm",  "wide_deep", "deepfm",
                                         "dcn_v2", "dlrm", "deep"};
    leap_err err = {0};
    if (!have_fz) {
        leap_column_def cols[5] = {{"label", LEAP_COL_LABEL, 0},
                                   {"C1", LEAP_COL_CATEGORICAL, 0},
                                   {"C2", LEAP_COL_CATEGORICAL, 0},
                                   {"C3", LEAP_COL_CATEGORICAL, 0},
                                   {"C4", LEAP_COL_CATEGORICAL, 0}};
        leap_schema s = {5, cols};
        leap_fz_opts o = {8, 0};
        if (leap_featurizer_init(&fz, &o, &s, &err)) abort();
        have_fz = 1;
    }
    if (size < 1) return 0;
    const leap_model_ops *ops = leap_model_find(models[data[0] % 7]);
    deep_opts o;
    leap_opts_defaults(ops->opts, &o);
    leap_model *m = NULL;
    if (ops->load(&o, &fz, data + 1, size - 1, &m, &err) != LEAP_OK) {
        if (!err.msg[0]) abort(); /* a refusal says why */
        return 0;
    }
    uint32_t rp[3] = {0, 4, 7}, idx[7] = {1, 2, 3, 255, 0, 17, 200};
    uint16_t fld[7] = {0, 1, 2, 3, 0, 1, 3};
    float val[7] = {1, 1, 1, 1, 0.5f, 2, 1}, lab[2] = {0, 1}, w[2] = {1, 1}, p[2];
    leap_fbatch fb = {.n_rows = 2,
                      .row_ptr = rp,
                      .idx = idx,
                      .val = val,
                      .field = fld,
                      .label = lab,
                      .weight = w};
    m->ops->predict_batch(m, &fb, p);
    m->ops->destroy(m);
    return 0;
}
