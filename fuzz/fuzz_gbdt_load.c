/* fuzz_gbdt_load.c — libFuzzer target: arbitrary bytes through the gbdt and
 * gbdt_lr payload parsers against a fixed three-field featurizer (two
 * ordinal, one categorical). A payload must load or be refused cleanly;
 * one that loads is used to score a few rows (out-of-range child indices,
 * cycles, bad features or bitsets must have been refused, never followed). */
#include "leap/model.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static leap_fz_field fields[3];
    leap_featurizer fz = {.n_buckets = 26, .n_fields = 3, .fields = fields};
    const leap_fz_kind kinds[3] = {LEAP_FZ_KIND_ORDINAL, LEAP_FZ_KIND_ORDINAL,
                                   LEAP_FZ_KIND_CATEGORICAL};
    const uint32_t cards[3] = {11, 6, 9}, offs[3] = {0, 11, 17};
    for (int i = 0; i < 3; i++) {
        memset(&fields[i], 0, sizeof fields[i]);
        fields[i].kind = kinds[i];
        fields[i].card = cards[i];
        fields[i].offset = offs[i];
        fields[i].name[0] = (char)('a' + i);
    }
    const char *names[2] = {"gbdt", "gbdt_lr"};
    for (int k = 0; k < 2; k++) {
        const leap_model_ops *ops = leap_model_find(names[k]);
        void *opts = calloc(1, ops->opts_size);
        if (!opts) return 0;
        leap_opts_defaults(ops->opts, opts);
        leap_model *m = NULL;
        leap_err err = {0};
        if (ops->load(opts, &fz, data, size, &m, &err) == LEAP_OK) {
            uint32_t rp[4] = {0, 3, 4, 6}, idx[6] = {3, 12, 20, 25, 0, 16};
            uint16_t fld[6] = {0, 1, 2, 2, 0, 1};
            float val[6] = {1, 1, 1, 1, 1, 1}, lab[3] = {0}, w[3] = {1, 1, 1}, p[3];
            leap_fbatch fb = {.n_rows = 3,
                              .row_ptr = rp,
                              .idx = idx,
                              .val = val,
                              .field = fld,
                              .label = lab,
                              .weight = w};
            ops->predict_batch(m, &fb, p);
            fb.field = NULL;
            ops->predict_batch(m, &fb, p);
            ops->destroy(m);
        }
        free(opts);
    }
    return 0;
}
