/* fuzz_transform_state.c — libFuzzer target: a fitted transform's binary
 * state (the featurizer section of a bundle, the body of a .ltf file) from
 * arbitrary bytes behind the magic. A state that loads is applied to a small
 * Criteo row group, so a corrupt state that passes the checks cannot make
 * leap_featurize read or write out of bounds. */
#include "leap/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 8);
    if (!buf) return 0;
    memcpy(buf, "LEAPTF\x00\x01", 8);
    memcpy(buf + 8, data, size);
    leap_featurizer fz;
    leap_err err = {0};
    if (leap_featurizer_parse(&fz, buf, size + 8, &err) == LEAP_OK) {
        leap_column_def cols[40];
        leap_schema s;
        leap_schema_criteo(&s, cols);
        leap_fz_binding b;
        if (leap_fz_bind(&fz, &s, "fuzz", &b, &err) == LEAP_OK) {
            leap_rowgroup rg;
            if (leap_rowgroup_init(&rg, &s) == LEAP_OK && leap_rowgroup_reserve(&rg, 4, 0) == 0) {
                rg.n_rows = 4;
                for (size_t c = 0; c < 40; c++)
                    for (size_t r = 0; r < 4; r++) {
                        if (rg.cols[c].f32) rg.cols[c].f32[r] = r == 3 ? NAN : (float)r * 7 - 3;
                        if (rg.cols[c].u64) rg.cols[c].u64[r] = r == 3 ? 0 : 0x1234567ULL * (r + c);
                    }
                leap_fbatch fb = {0};
                leap_featurize(&fz, &b, &rg, &fb, &err);
                for (size_t k = 0; fb.row_ptr && k < fb.row_ptr[fb.n_rows]; k++)
                    if (fb.idx[k] >= fz.n_buckets) abort(); /* out of the feature space */
                leap_fbatch_free(&fb);
            }
            leap_rowgroup_free(&rg);
            leap_fz_binding_free(&b);
        }
        leap_featurizer_free(&fz);
    }
    free(buf);
    return 0;
}
