/* reader_libsvm.c — the libsvm line parser: "label idx:val idx:val ...",
 * separated by spaces or tabs. Label 0/1 or -1/+1 (-1 maps to 0); "qid:N" is
 * ignored; "#" starts a comment. Stored as column 0 label and column 1
 * "features", a weighted multi_categorical: value = leap_cat_hash(idx text),
 * weight = val. Does not read files (reader.c does). */
#include "data/reader_impl.h"

#include <stdlib.h>
#include <string.h>

int leap__libsvm_setup(leap__parser *p, leap_err *err) {
    p->schema.cols = calloc(2, sizeof *p->schema.cols);
    if (!p->schema.cols) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    p->schema.n_cols = 2;
    snprintf(p->schema.cols[0].name, LEAP_NAME_MAX, "label");
    p->schema.cols[0].type = LEAP_COL_LABEL;
    snprintf(p->schema.cols[1].name, LEAP_NAME_MAX, "features");
    p->schema.cols[1].type = LEAP_COL_MULTI_CATEGORICAL;
    p->schema.cols[1].weighted = 1;
    return LEAP_OK;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

int leap__libsvm_line(const leap__parser *p, const char *s, const char *e, leap_rowgroup *rg,
                      size_t row, leap__scratch *sc, leap__dict *d, char *why, size_t why_n) {
    const char *q = s;
    while (q < e && is_space(*q))
        q++;
    const char *t = q;
    while (q < e && !is_space(*q))
        q++;
    size_t tn = (size_t)(q - t);
    double lv;
    if (tn == 0 || *t == '#') {
        snprintf(why, why_n, "missing label");
        return -1;
    }
    if (leap__parse_number(t, tn, &lv) || !(lv == 0 || lv == 1 || lv == -1)) {
        snprintf(why, why_n, "label '%.*s' is not 0/1 or -1/+1", (int)(tn > 64 ? 64 : tn), t);
        return -1;
    }
    rg->cols[0].f32[row] = lv == 1 ? 1.0f : 0.0f;
    leap_column *c = &rg->cols[1];
    if (row == 0) c->offsets[0] = 0;
    size_t k = c->offsets[row];
    for (;;) {
        while (q < e && is_space(*q))
            q++;
        if (q == e || *q == '#') break;
        t = q;
        while (q < e && !is_space(*q))
            q++;
        tn = (size_t)(q - t);
        const char *colon = memchr(t, ':', tn);
        if (!colon || colon == t) {
            snprintf(why, why_n, "'%.*s' is not idx:val", (int)(tn > 64 ? 64 : tn), t);
            return -1;
        }
        size_t in = (size_t)(colon - t);
        if (in == 3 && memcmp(t, "qid", 3) == 0) continue;
        double w;
        if (leap__parse_number(colon + 1, tn - in - 1, &w)) {
            snprintf(why, why_n, "'%.*s': value is not a number", (int)(tn > 64 ? 64 : tn), t);
            return -1;
        }
        if (k + 1 > UINT32_MAX) {
            snprintf(why, why_n, "too many features in one row group");
            return -1;
        }
        if (leap__rg_values(rg, 1, k + 1)) {
            snprintf(why, why_n, "!out of memory");
            return -1;
        }
        c = &rg->cols[1];
        uint64_t h = leap_cat_hash(t, in);
        c->u64[k] = h;
        c->vw[k] = (float)w;
        k++;
        if (d) leap__dict_add(d, 1, h, t, in);
    }
    rg->cols[1].offsets[row + 1] = (uint32_t)k;
    (void)p;
    (void)sc;
    return 0;
}
