/* fuzz_schema.c — libFuzzer target: arbitrary bytes through the validation
 * schema YAML parser (leap_vschema_parse), and every schema that parses is
 * written back and parsed again. Checks only that nothing crashes or leaks;
 * values are checked by tests/unit/test_validate.c. */
#define _GNU_SOURCE
#include "leap/validate.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    leap_vschema vs;
    leap_err err = {0};
    if (leap_vschema_parse((const char *)data, size, "fuzz", &vs, &err) == LEAP_OK) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (f) {
            leap_vschema_write(f, &vs, NULL);
            fclose(f);
            leap_vschema v2;
            leap_vschema_parse(buf, len, "fuzz2", &v2, &err);
            leap_vschema_free(&v2);
            free(buf);
        }
    }
    leap_vschema_free(&vs);
    return 0;
}
