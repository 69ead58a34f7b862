/* fuzz_bundle.c — libFuzzer target: arbitrary bytes through the model bundle
 * parser, twice: as given (exercising the header, length and checksum gates)
 * and with the checksum rewritten to match (so mutations reach the metadata,
 * option, featurizer and payload parsers). A bundle must load cleanly or be
 * refused; never crash. Inputs announcing a payload over 64 MB are skipped:
 * the loader would legitimately allocate it, past the fuzzer's memory limit. */
#include "leap/bundle.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void try_load(const uint8_t *buf, size_t size) {
    leap_bundle b;
    leap_err err = {0};
    if (leap_bundle_parse(buf, size, "fuzz", &b, &err) == LEAP_OK) {
        uint32_t rp[2] = {0, 1}, idx[1] = {0};
        uint16_t fld[1] = {0};
        float val[1] = {1}, lab[1] = {0}, w[1] = {1}, p[1];
        leap_fbatch fb = {.n_rows = 1,
                          .row_ptr = rp,
                          .idx = idx,
                          .val = val,
                          .field = fld,
                          .label = lab,
                          .weight = w};
        leap_bundle_predict(&b, &fb, p);
        leap_bundle_free(&b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size >= LEAP_BUNDLE_HEADER) {
        uint64_t raw = 0;
        for (int i = 0; i < 8; i++)
            raw |= (uint64_t)data[32 + i] << (8 * i);
        if (raw > (64u << 20)) return 0;
    }
    try_load(data, size);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    if (leap__bundle_fix_checksum(copy, size) == 0) try_load(copy, size);
    free(copy);
    return 0;
}
