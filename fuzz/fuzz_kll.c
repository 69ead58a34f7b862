/* fuzz_kll.c — libFuzzer target: arbitrary bytes through the serialised KLL
 * sketch reader (sketches travel in bundles and between MPI ranks). A buffer
 * must either load and answer queries, or be refused; never crash. */
#include "leap/sketch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    leap_kll *s = NULL;
    leap_err err = {0};
    if (leap_kll_read(data, size, &s, &err) == LEAP_OK) {
        (void)leap_kll_quantile(s, 0.5);
        (void)leap_kll_rank(s, 1.0);
        leap_kll_add(s, 2.0);
        leap_buf b = {0};
        if (leap_kll_write(s, &b) == LEAP_OK) {
            leap_kll *t = NULL;
            if (leap_kll_read(b.p, b.len, &t, &err) == LEAP_OK) leap_kll_destroy(t);
        }
        leap_buf_free(&b);
        leap_kll_destroy(s);
    }
    return 0;
}
