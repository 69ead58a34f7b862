/* fuzz_serve_request.c — libFuzzer target: arbitrary bytes as a :predict and
 * as a :rank body (leap_serve_decode_predict / leap_serve_decode_rank) for a
 * Criteo model and for a model with multi-valued columns; every body that
 * decodes is featurized and, for :rank, run through the auction. Checks that
 * nothing crashes, reads out of bounds or leaks; error messages and values are
 * checked by tests/unit/test_serve.c. */
#include "leap/serve.h"

#include <stdlib.h>
#include <string.h>

typedef struct model {
    leap_featurizer fz;
    leap_serve_inputs in;
    leap_fz_binding bind;
    leap_rowgroup rg;
} model;

static model models[2];
static leap_rank_request rq;
static leap_fbatch fb;
static int ready;

static void setup(void) {
    leap_column_def criteo[40], multi[4] = {{"label", LEAP_COL_LABEL, 0},
                                            {"tags", LEAP_COL_MULTI_CATEGORICAL, 0},
                                            {"features", LEAP_COL_MULTI_CATEGORICAL, 1},
                                            {"price", LEAP_COL_NUMERIC, 0}};
    leap_schema s[2];
    leap_schema_criteo(&s[0], criteo);
    s[1] = (leap_schema){4, multi};
    leap_err err = {0};
    for (int i = 0; i < 2; i++) {
        leap_fz_opts o = {12, i};
        model *m = &models[i];
        if (leap_featurizer_init(&m->fz, &o, &s[i], &err) ||
            leap_serve_inputs_init(&m->in, &m->fz, &err) ||
            leap_fz_bind(&m->fz, &m->in.schema, "fuzz", &m->bind, &err) ||
            leap_rowgroup_init(&m->rg, &m->in.schema))
            abort();
    }
    ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ready) setup();
    const char *body = (const char *)data;
    for (int i = 0; i < 2; i++) {
        model *m = &models[i];
        leap_err err = {0};
        if (leap_serve_decode_predict(&m->in, body, size, &m->rg, &err) == LEAP_OK)
            leap_featurize(&m->fz, &m->bind, &m->rg, &fb, &err);
        memset(&err, 0, sizeof err);
        if (leap_serve_decode_rank(&m->in, body, size, &rq, &m->rg, &err) == LEAP_OK &&
            leap_featurize(&m->fz, &m->bind, &m->rg, &fb, &err) == LEAP_OK) {
            size_t *order = malloc(rq.n_ads * sizeof *order);
            leap_auction_slot out[LEAP_SERVE_MAX_SLOTS];
            for (size_t k = 0; k < rq.n_ads; k++)
                rq.ads[k].pctr = (float)(k % 7) / 7.0f;
            if (order) leap_auction_run(&rq.auction, rq.ads, rq.n_ads, order, out);
            free(order);
        }
    }
    return 0;
}
