/* fuzz_libsvm.c — libFuzzer target: arbitrary bytes (plain, or gzip/zstd when
 * they start with those magics) through the libsvm reader, read to the end in
 * small batches, under both bad-row policies. Checks only that nothing
 * crashes or leaks; values are checked by tests/unit/test_readers.c. */
#include "leap/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int mode = 0; mode < 2; mode++) {
        leap_reader_opts o = {.format = LEAP_FMT_LIBSVM,
                              .schema_path = NULL,
                              .bad_rows = mode ? LEAP_BAD_ROWS_SKIP : LEAP_BAD_ROWS_FAIL,
                              .keep_dict = mode};
        leap_reader *r;
        leap_err err = {0};
        if (leap_reader_open_mem(&o, data, size, "fuzz", &r, &err) != LEAP_OK) return 0;
        leap_rowgroup rg;
        if (leap_rowgroup_init(&rg, leap_reader_schema(r)) == LEAP_OK) {
            while (leap_reader_next(r, &rg, 7, &err) == LEAP_OK && rg.n_rows > 0) {
            }
            leap_rowgroup_free(&rg);
        }
        leap_reader_close(r);
    }
    return 0;
}
