/* fuzz_transform_spec.c — libFuzzer target: arbitrary bytes through the
 * transform spec parser (leap_tf_spec_parse) and, for specs that parse, the
 * schema checks against the Criteo layout. Checks only that nothing crashes
 * or leaks; messages and positions are checked by tests/unit/test_transform.c. */
#include "leap/transform.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    leap_tf_spec *s = NULL;
    leap_err err = {0};
    if (leap_tf_spec_parse((const char *)data, size, "fuzz", &s, &err) == LEAP_OK) {
        leap_column_def cols[40];
        leap_schema schema;
        leap_schema_criteo(&schema, cols);
        leap_tf_spec_resolve(s, &schema, "criteo", &err);
        leap_tf_spec_free(s);
    }
    return 0;
}
