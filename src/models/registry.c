/* registry.c — the list of model families. One line per model. */
#include "leap/model.h"

#include <string.h>

extern const leap_model_ops leap_model_lr;
extern const leap_model_ops leap_model_gbdt;
extern const leap_model_ops leap_model_gbdt_lr;
extern const leap_model_ops leap_model_fm, leap_model_ffm, leap_model_wide_deep, leap_model_deepfm,
    leap_model_dcn_v2, leap_model_dlrm, leap_model_deep;

static const leap_model_ops *const models[] = {
    &leap_model_lr,   &leap_model_gbdt,      &leap_model_gbdt_lr, &leap_model_fm,
    &leap_model_ffm,  &leap_model_wide_deep, &leap_model_deepfm,  &leap_model_dcn_v2,
    &leap_model_dlrm, &leap_model_deep,
};

size_t leap_model_count(void) { return sizeof models / sizeof models[0]; }
const leap_model_ops *leap_model_at(size_t i) { return i < leap_model_count() ? models[i] : NULL; }

const leap_model_ops *leap_model_find(const char *name) {
    for (size_t i = 0; i < leap_model_count(); i++)
        if (!strcmp(models[i]->name, name)) return models[i];
    return NULL;
}
