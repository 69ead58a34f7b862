/* fuzz_csv.c — libFuzzer target: arbitrary bytes (plain, or gzip/zstd when
 * they start with those magics) through the csv reader, read to the end in
 * small batches, under both bad-row policies. Checks only that nothing
 * crashes or leaks; values are checked by tests/unit/test_readers.c. */
#include "leap/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A small fixed schema, written once to a temporary file. */
static const char *schema_path(void) {
    static char path[64];
    if (path[0]) return path;
    snprintf(path, sizeof path, "/tmp/leap_fuzz_csv_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) abort();
    static const char schema[] =
        "delimiter: \",\"\nheader: true\ndefault_type: categorical\ncolumns:\n"
        "  - {name: y, type: label}\n  - {name: x, type: numeric}\n"
        "  - {name: c, type: categorical}\n"
        "  - {name: m, type: multi_categorical, separator: \"|\", weighted: true}\n"
        "  - {name: t, type: timestamp, format: \"%Y-%m-%d %H:%M:%S\"}\n"
        "  - {name: u, type: timestamp, format: unix}\n"
        "  - {name: w, type: weight}\n  - {name: z, type: ignore}\n";
    if (write(fd, schema, sizeof schema - 1) != (ssize_t)(sizeof schema - 1)) abort();
    close(fd);
    return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int mode = 0; mode < 2; mode++) {
        leap_reader_opts o = {.format = LEAP_FMT_CSV,
                              .schema_path = schema_path(),
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
