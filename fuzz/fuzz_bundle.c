/* fuzz_bundle.c — libFuzzer target: arbitrary bytes through the model bundle
 * parser. A bundle must either load cleanly or be refused; never crash. */
#include "leap/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    leap_bundle b;
    leap_err err = {0};
    if (leap_bundle_parse(data, size, "fuzz", &b, &err) == LEAP_OK) {
        /* exercise the loaded model once */
        uint32_t rp[2] = {0, 1}, idx[1] = {0};
        float val[1] = {1}, lab[1] = {0}, w[1] = {1}, p[1];
        leap_fbatch fb = {.n_rows = 1, .row_ptr = rp, .idx = idx, .val = val, .label = lab, .weight = w};
        leap_bundle_predict(&b, &fb, p);
        leap_bundle_free(&b);
    }
    return 0;
}
