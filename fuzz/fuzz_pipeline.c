/* fuzz_pipeline.c — libFuzzer target for the pipeline file reader and its
 * checks (YAML, keys, options, references, cycles), then option overrides,
 * a copy and the YAML writer on what was accepted. */
#include "leap/pipeline.h"

#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    leap_err err = {0};
    leap_pipeline *p = NULL;
    if (leap_pipeline_parse((const char *)data, size, "fuzz.yaml", &p, &err) != LEAP_OK) return 0;
    leap_pipeline *c = NULL;
    if (leap_pipeline_clone(p, &c, &err) == LEAP_OK) {
        for (size_t i = 0; i < c->n_steps; i++) {
            char as[160];
            snprintf(as, sizeof as, "%s.threads=2", c->steps[i].name);
            leap_pipeline_set(c, as, &err);
            snprintf(as, sizeof as, "%s.alpha=0.1", c->steps[i].name);
            leap_pipeline_set(c, as, &err);
        }
        FILE *f = fopen("/dev/null", "w");
        if (f) {
            leap_pipeline_write(c, f);
            fclose(f);
        }
        leap_pipeline_free(c);
    }
    leap_pipeline_free(p);
    return 0;
}
