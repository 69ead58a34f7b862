/* fuzz_deep_arch.c — libFuzzer target: arbitrary bytes through the
 * architecture-file parser of the embedding models (deep_arch_parse, over
 * the deepfm preset); an architecture that parses must write its canonical
 * YAML, which reads back to the same canonical YAML, and lay out (or be refused) on a
 * hashed Criteo featurizer without crashing. Messages and positions are
 * checked by tests/unit/test_deep.c. */
#include "models/deep.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static leap_featurizer fz;
    static int have_fz;
    leap_err err = {0};
    if (!have_fz) {
        leap_column_def cols[40];
        leap_schema s;
        leap_schema_criteo(&s, cols);
        leap_fz_opts o = {8, 0};
        if (leap_featurizer_init(&fz, &o, &s, &err)) abort();
        have_fz = 1;
    }
    deep_opts o;
    leap_opts_defaults(leap_model_find("deepfm")->opts, &o);
    deep_arch a;
    if (deep_arch_preset("deepfm", &o, &a, &err)) abort();
    if (deep_arch_parse((const char *)data, size, "fuzz", &a, &err) != LEAP_OK) return 0;
    leap_buf b = {0}, b2 = {0};
    if (deep_arch_write(&a, &b) == LEAP_OK) {
        /* the canonical form reads back to the same architecture: same canonical form */
        deep_arch back;
        memset(&back, 0, sizeof back);
        if (deep_arch_parse((const char *)b.p, b.len, "canon", &back, &err) != LEAP_OK ||
            deep_arch_write(&back, &b2) != LEAP_OK || b.len != b2.len ||
            memcmp(b.p, b2.p, b.len) != 0)
            abort();
    }
    leap_buf_free(&b);
    leap_buf_free(&b2);
    deep_net N;
    deep_net_layout(&N, &a, &fz, &err); /* layout only: no tables of fuzzed size */
    deep_net_free(&N);
    return 0;
}
