/* reader_criteo.c — the Criteo TSV line parser: label, I1..I13, C1..C26,
 * 40 TAB-separated fields, empty = missing. Hand-written splitting and an
 * inline integer parser; categoricals are XXH3 of the raw bytes. No
 * allocation per row. Does not read files (reader.c does). */
#include "data/reader_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CRITEO_INTS   13
#define CRITEO_CATS   26
#define CRITEO_FIELDS (1 + CRITEO_INTS + CRITEO_CATS)

int leap__criteo_setup(leap__parser *p, leap_err *err) {
    p->schema.cols = calloc(CRITEO_FIELDS, sizeof *p->schema.cols);
    if (!p->schema.cols) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    leap_schema_criteo(&p->schema, p->schema.cols);
    return LEAP_OK;
}

static size_t count_fields(const char *s, const char *e) {
    size_t n = 1;
    for (const char *q = s; (q = memchr(q, '\t', (size_t)(e - q))) != NULL; q++)
        n++;
    return n;
}

static int bad_fields(const char *s, const char *e, char *why, size_t why_n) {
    snprintf(why, why_n, "expected %d tab-separated fields, found %zu", CRITEO_FIELDS,
             count_fields(s, e));
    return -1;
}

static int bad_value(const char *s, const char *e, const char *f, const char *what, int col,
                     char *why, size_t why_n) {
    if (count_fields(s, e) != CRITEO_FIELDS) return bad_fields(s, e, why, why_n);
    const char *t = memchr(f, '\t', (size_t)(e - f));
    int n = (int)((t ? t : e) - f);
    if (n > 64) n = 64;
    if (col < 0)
        snprintf(why, why_n, "column label: '%.*s' is not 0 or 1", n, f);
    else
        snprintf(why, why_n, "column I%d: '%.*s' is %s", col + 1, n, f, what);
    return -1;
}

int leap__criteo_line(const leap__parser *p, const char *s, const char *e, leap_rowgroup *rg,
                      size_t row, leap__scratch *sc, leap__dict *d, char *why, size_t why_n) {
    leap_column *cols = rg->cols;
    const char *q = s;
    /* label: exactly "0" or "1" */
    if (q < e && (*q == '0' || *q == '1') && (q + 1 == e || q[1] == '\t')) {
        cols[0].f32[row] = (float)(*q - '0');
        q++;
    } else {
        if (q == e || *q == '\t') {
            if (count_fields(s, e) != CRITEO_FIELDS) return bad_fields(s, e, why, why_n);
            snprintf(why, why_n, "column label: empty label");
            return -1;
        }
        return bad_value(s, e, s, NULL, -1, why, why_n);
    }
    for (int i = 0; i < CRITEO_INTS; i++) {
        if (q == e) return bad_fields(s, e, why, why_n);
        q++; /* the tab */
        const char *f = q;
        if (q == e || *q == '\t') {
            cols[1 + i].f32[row] = NAN;
            continue;
        }
        int neg = 0;
        if (*q == '-' || *q == '+') neg = *q++ == '-';
        const char *d0 = q;
        uint64_t v = 0;
        while (q < e && (unsigned)(*q - '0') < 10)
            v = v * 10 + (uint64_t)(*q++ - '0');
        if (q == d0 || (q < e && *q != '\t'))
            return bad_value(s, e, f, "not an integer", i, why, why_n);
        float x;
        if (q - d0 <= 18) {
            x = (float)v;
        } else { /* too long for uint64: accumulate in double, float precision anyway */
            double dv = 0;
            for (const char *k = d0; k < q; k++)
                dv = dv * 10 + (*k - '0');
            x = (float)dv;
        }
        cols[1 + i].f32[row] = neg ? -x : x;
    }
    for (int i = 0; i < CRITEO_CATS; i++) {
        if (q == e) return bad_fields(s, e, why, why_n);
        q++;
        const char *f = q;
        /* categorical values are short (8 hex digits): a byte loop beats memchr */
        while (q < e && *q != '\t')
            q++;
        size_t n = (size_t)(q - f);
        uint64_t h = n ? leap_cat_hash(f, n) : 0;
        cols[1 + CRITEO_INTS + i].u64[row] = h;
        if (d && n) leap__dict_add(d, (uint32_t)(1 + CRITEO_INTS + i), h, f, n);
    }
    if (q != e) return bad_fields(s, e, why, why_n);
    (void)p;
    (void)sc;
    return 0;
}
