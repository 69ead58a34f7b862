/* reader_csv.c — delimited text (CSV/TSV) with a YAML schema.
 *
 * The schema file (libcyaml):
 *     delimiter: ","          # one character; "\t" for TSV. Default ","
 *     header: true            # default true: columns are matched by header name
 *     default_type: categorical   # optional: type of header columns not listed
 *     columns:
 *       - {name: click, type: label}          # 0/1, also true/false, 0.0/1.0
 *       - {name: price, type: numeric}        # empty = missing
 *       - {name: site, type: categorical}     # XXH3 of the raw text; empty = missing
 *       - {name: tags, type: multi_categorical, separator: "|", weighted: true}  # a:0.5|b:2
 *       - {name: ts, type: timestamp, format: "%Y-%m-%d %H:%M:%S"}  # UTC; or format: unix
 *       - {name: w, type: weight}
 *       - {name: junk, type: ignore}          # not stored
 * Fields may be quoted ("a,b", "" for a quote); a quoted field cannot span
 * lines. Numbers, labels and timestamps may carry surrounding blanks;
 * categorical text is hashed exactly as written. Weighted multi-categorical
 * items split at the last ':'; an item without ':' has weight 1. A timestamp
 * without format is unix seconds. Does not read files (reader.c does). */
#define _GNU_SOURCE
#include "data/reader_impl.h"

#include "core/yaml_log.h"
#include <cyaml/cyaml.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- YAML schema ------------------------------------------------------------ */
typedef struct ycol {
    char *name, *type, *separator, *weighted, *format;
} ycol;
typedef struct yschema {
    char *delimiter, *header, *default_type;
    ycol *columns;
    unsigned columns_count;
} yschema;

#define YSTR(key, st, field)                                                                       \
    CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, st, field, 0,            \
                           CYAML_UNLIMITED)
static const cyaml_schema_field_t ycol_fields[] = {
    YSTR("name", ycol, name),           YSTR("type", ycol, type),
    YSTR("separator", ycol, separator), YSTR("weighted", ycol, weighted),
    YSTR("format", ycol, format),       CYAML_FIELD_END};
static const cyaml_schema_value_t ycol_value = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, ycol, ycol_fields)};
static const cyaml_schema_field_t ytop_fields[] = {
    YSTR("delimiter", yschema, delimiter), YSTR("header", yschema, header),
    YSTR("default_type", yschema, default_type),
    CYAML_FIELD_SEQUENCE("columns", CYAML_FLAG_POINTER, yschema, columns, &ycol_value, 1,
                         CYAML_UNLIMITED),
    CYAML_FIELD_END};
static const cyaml_schema_value_t ytop_value = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, yschema, ytop_fields)};

/* Finds the first line (from line `from`, 1-based) holding `key:` and, when
 * value is non-NULL, that value after it. Sets *line and *col (1-based, at the
 * key). Returns 0 when found. */

typedef struct yctx {
    const char *path;
    const char *text;
} yctx;

/* "PATH:LINE:COL: message" locating key (and value) in the YAML text. */
__attribute__((format(printf, 5, 6))) static int yerr(const yctx *y, leap_err *err, const char *key,
                                                      const char *value, const char *fmt, ...) {
    char m[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    long line, col;
    if (key && leap__yfind(y->text, 1, key, value, &line, &col) == 0)
        return leap_err_set(err, LEAP_EPARSE, "%s:%ld:%ld: %s", y->path, line, col, m);
    return leap_err_set(err, LEAP_EPARSE, "%s: %s", y->path, m);
}

static int parse_bool(const char *s, int *out) {
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1")) return *out = 1, 0;
    if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0")) return *out = 0, 0;
    return -1;
}

static int one_char(const char *s, char *out) {
    if (!strcmp(s, "\\t") || !strcasecmp(s, "tab")) return *out = '\t', 0;
    if (strlen(s) != 1 || s[0] == '\n' || s[0] == '\r' || s[0] == '"') return -1;
    *out = s[0];
    return 0;
}

/* Fills spec from one YAML column (or from default_type when yc->name is NULL). */
static int spec_from_yaml(const yctx *y, const ycol *yc, const char *name, leap__csv_spec *sp,
                          leap_err *err) {
    memset(sp, 0, sizeof *sp);
    snprintf(sp->name, sizeof sp->name, "%s", name);
    const char *tname = yc->type;
    if (!strcmp(tname, "ignore")) {
        sp->ignore = 1;
    } else {
        int t = leap_col_type_from_name(tname);
        if (t < 0)
            return yerr(y, err, "type", tname,
                        "column '%s': unknown type '%s' (label, numeric, categorical, "
                        "multi_categorical, weight, timestamp, ignore)",
                        name, tname);
        sp->type = (leap_col_type)t;
    }
    sp->sep = '|';
    if (yc->separator) {
        if (sp->type != LEAP_COL_MULTI_CATEGORICAL || sp->ignore)
            return yerr(y, err, "separator", NULL,
                        "column '%s': separator is only for multi_categorical", name);
        if (one_char(yc->separator, &sp->sep))
            return yerr(y, err, "separator", NULL,
                        "column '%s': separator must be one character, got '%s'", name,
                        yc->separator);
    }
    if (yc->weighted) {
        int b;
        if (sp->type != LEAP_COL_MULTI_CATEGORICAL || sp->ignore)
            return yerr(y, err, "weighted", NULL,
                        "column '%s': weighted is only for multi_categorical", name);
        if (parse_bool(yc->weighted, &b))
            return yerr(y, err, "weighted", yc->weighted,
                        "column '%s': weighted must be true or false, got '%s'", name,
                        yc->weighted);
        sp->weighted = (uint8_t)b;
    }
    sp->ts_unix = 1;
    if (yc->format) {
        if (sp->type != LEAP_COL_TIMESTAMP || sp->ignore)
            return yerr(y, err, "format", NULL, "column '%s': format is only for timestamp", name);
        if (strcmp(yc->format, "unix") != 0) {
            sp->ts_unix = 0;
            sp->ts_format = strdup(yc->format);
            if (!sp->ts_format) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
        }
    }
    return LEAP_OK;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t k = fread(buf + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0) break;
    }
    fclose(f);
    if (buf) buf[n] = 0;
    *len = n;
    return buf;
}

int leap__csv_load_schema(leap__parser *p, const char *path, leap_err *err) {
    if (!path || !*path)
        return leap_err_set(err, LEAP_EINVAL,
                            "format csv needs a schema file (--schema FILE.yaml)");
    size_t len;
    char *text = slurp(path, &len);
    if (!text)
        return leap_err_set(err, errno == ENOENT ? LEAP_ENOTFOUND : LEAP_EIO,
                            "%s: cannot read schema: %s", path, strerror(errno));
    if (strlen(text) != len) {
        free(text);
        return leap_err_set(err, LEAP_EPARSE, "%s: schema holds a NUL byte", path);
    }
    yctx y = {path, text};
    ylog lg = {.line = -1, .col = -1};
    cyaml_config_t cfg = {.log_fn = leap__ylog_fn,
                          .log_ctx = &lg,
                          .mem_fn = cyaml_mem,
                          .log_level = CYAML_LOG_ERROR,
                          .flags = CYAML_CFG_DEFAULT};
    yschema *ys = NULL;
    cyaml_err_t ce =
        cyaml_load_data((const uint8_t *)text, len, &cfg, &ytop_value, (cyaml_data_t **)&ys, NULL);
    int rc = LEAP_OK;
    if (ce != CYAML_OK) {
        rc = leap__ylog_error(&lg, cyaml_strerror(ce), text, path, err);
        goto done;
    }
    p->delim = ',';
    if (ys->delimiter && one_char(ys->delimiter, &p->delim)) {
        rc = yerr(&y, err, "delimiter", NULL, "delimiter must be one character, got '%s'",
                  ys->delimiter);
        goto done;
    }
    p->header = 1;
    if (ys->header && parse_bool(ys->header, &p->header)) {
        rc = yerr(&y, err, "header", NULL, "header must be true or false, got '%s'", ys->header);
        goto done;
    }
    if (ys->default_type) {
        if (!p->header) {
            rc = yerr(&y, err, "default_type", NULL, "default_type needs header: true");
            goto done;
        }
        ycol dc = {.type = ys->default_type};
        rc = spec_from_yaml(&y, &dc, "", &p->dflt, err);
        if (rc) goto done;
        if (!p->dflt.ignore && p->dflt.type != LEAP_COL_NUMERIC &&
            p->dflt.type != LEAP_COL_CATEGORICAL && p->dflt.type != LEAP_COL_MULTI_CATEGORICAL) {
            rc = yerr(&y, err, "default_type", NULL,
                      "default_type must be numeric, categorical, multi_categorical or ignore");
            goto done;
        }
        p->has_default = 1;
    }
    p->specs = calloc(ys->columns_count, sizeof *p->specs);
    if (!p->specs) {
        rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
        goto done;
    }
    int n_label = 0, n_weight = 0;
    for (unsigned i = 0; i < ys->columns_count; i++) {
        const ycol *yc = &ys->columns[i];
        if (!yc->name || !*yc->name) {
            rc = yerr(&y, err, "type", yc->type, "column %u has no name", i + 1);
            goto done;
        }
        if (strlen(yc->name) >= LEAP_NAME_MAX) {
            rc = yerr(&y, err, "name", yc->name, "column name '%s' is longer than %d bytes",
                      yc->name, LEAP_NAME_MAX - 1);
            goto done;
        }
        if (!yc->type) {
            rc = yerr(&y, err, "name", yc->name, "column '%s' has no type", yc->name);
            goto done;
        }
        for (unsigned j = 0; j < i; j++)
            if (!strcmp(ys->columns[j].name, yc->name)) {
                rc = yerr(&y, err, "name", yc->name, "column '%s' listed twice", yc->name);
                goto done;
            }
        rc = spec_from_yaml(&y, yc, yc->name, &p->specs[i], err);
        p->n_specs = i + 1;
        if (rc) goto done;
        n_label += !p->specs[i].ignore && p->specs[i].type == LEAP_COL_LABEL;
        n_weight += !p->specs[i].ignore && p->specs[i].type == LEAP_COL_WEIGHT;
    }
    if (n_label > 1 || n_weight > 1) {
        rc = yerr(&y, err, "type", n_label > 1 ? "label" : "weight", "more than one %s column",
                  n_label > 1 ? "label" : "weight");
        goto done;
    }
done:
    if (ys) cyaml_free(&cfg, &ytop_value, ys, 0);
    free(text);
    return rc;
}

/* ---- splitting -------------------------------------------------------------- */
static int grow_scratch(leap__scratch *sc, size_t spans, size_t bytes) {
    if (sc->span_cap < spans) {
        size_t n = spans < 64 ? 64 : spans * 2;
        leap__span *ns = realloc(sc->spans, n * sizeof *ns);
        if (!ns) return -1;
        sc->spans = ns;
        sc->span_cap = n;
    }
    if (sc->buf_cap < bytes) {
        size_t n = bytes < 4096 ? 4096 : bytes * 2;
        char *nb = realloc(sc->buf, n);
        if (!nb) return -1;
        sc->buf = nb;
        sc->buf_cap = n;
    }
    return 0;
}

/* Splits [s, e) at delim, honouring quotes, into sc->spans[0..min(n, cap)).
 * Returns the number of fields, or -1 with why set. */
static long split_line(char delim, const char *s, const char *e, leap__scratch *sc, size_t cap,
                       char *why, size_t why_n) {
    long n = 0;
    size_t bpos = 0;
    const char *q = s;
    for (;;) {
        const char *f, *fe;
        if (q < e && *q == '"') {
            const char *start = ++q;
            int esc = 0;
            for (;;) {
                const char *z = memchr(q, '"', (size_t)(e - q));
                if (!z) {
                    snprintf(why, why_n, "field %ld: unterminated quoted field", n + 1);
                    return -1;
                }
                if (z + 1 < e && z[1] == '"') {
                    esc = 1;
                    q = z + 2;
                    continue;
                }
                fe = z;
                q = z + 1;
                break;
            }
            if (q < e && *q != delim) {
                snprintf(why, why_n, "field %ld: unexpected character after closing quote", n + 1);
                return -1;
            }
            f = start;
            if (esc) { /* unescape "" into the scratch buffer (never longer than the line) */
                char *o = sc->buf + bpos;
                for (const char *k = start; k < fe; k++) {
                    *o++ = *k;
                    if (*k == '"') k++;
                }
                f = sc->buf + bpos;
                size_t fl = (size_t)(o - f);
                bpos += fl;
                fe = f + fl;
            }
        } else {
            f = q;
            const char *z = memchr(q, delim, (size_t)(e - q));
            fe = q = z ? z : e;
        }
        if ((size_t)n < cap) sc->spans[n] = (leap__span){f, (size_t)(fe - f)};
        n++;
        if (q == e) break;
        q++; /* delimiter; a trailing one means one more, empty, field */
    }
    return n;
}

int leap__csv_bind(leap__parser *p, const char *header, size_t len, leap_err *err) {
    size_t nf = p->n_specs;
    leap__scratch sc = {0};
    int rc = LEAP_OK;
    if (header) {
        char why[200];
        if (grow_scratch(&sc, 16, len + 16)) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
        long n = split_line(p->delim, header, header + len, &sc, 0, why, sizeof why);
        if (n < 0) {
            leap__scratch_free(&sc);
            return leap_err_set(err, LEAP_EPARSE, "%s:1: header: %s", p->fname, why);
        }
        if (grow_scratch(&sc, (size_t)n, len + 16)) {
            leap__scratch_free(&sc);
            return leap_err_set(err, LEAP_ENOMEM, "out of memory");
        }
        split_line(p->delim, header, header + len, &sc, (size_t)n, why, sizeof why);
        nf = (size_t)n;
    }
    p->fields = calloc(nf ? nf : 1, sizeof *p->fields);
    p->schema.cols = calloc(nf ? nf : 1, sizeof *p->schema.cols);
    uint8_t *used = calloc(p->n_specs + 1, 1);
    if (!p->fields || !p->schema.cols || !used) {
        rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
        goto done;
    }
    p->n_fields = nf;
    for (size_t j = 0; j < nf; j++) {
        const leap__csv_spec *sp;
        char name[LEAP_NAME_MAX];
        if (header) {
            const char *h = sc.spans[j].p;
            size_t hn = sc.spans[j].n;
            while (hn && (*h == ' ' || *h == '\t'))
                h++, hn--;
            while (hn && (h[hn - 1] == ' ' || h[hn - 1] == '\t'))
                hn--;
            if (hn >= LEAP_NAME_MAX) {
                rc = leap_err_set(err, LEAP_EPARSE,
                                  "%s:1: header column %zu: name longer than %d bytes", p->fname,
                                  j + 1, LEAP_NAME_MAX - 1);
                goto done;
            }
            memcpy(name, h, hn);
            name[hn] = 0;
            for (size_t k = 0; k < j; k++)
                if (!strcmp(p->fields[k].name, name)) {
                    rc = leap_err_set(err, LEAP_EPARSE, "%s:1: header column '%s' appears twice",
                                      p->fname, name);
                    goto done;
                }
            sp = NULL;
            for (size_t k = 0; k < p->n_specs; k++)
                if (!strcmp(p->specs[k].name, name)) {
                    sp = &p->specs[k];
                    used[k] = 1;
                }
            if (!sp) {
                if (!p->has_default) {
                    rc = leap_err_set(err, LEAP_EPARSE,
                                      "%s:1: header column '%s' is not in the schema (list it, "
                                      "or set default_type)",
                                      p->fname, name);
                    goto done;
                }
                sp = &p->dflt;
            }
        } else {
            sp = &p->specs[j];
            snprintf(name, sizeof name, "%s", sp->name);
        }
        leap__csv_field *f = &p->fields[j];
        snprintf(f->name, sizeof f->name, "%s", name);
        f->col = -1;
        f->type = sp->type;
        f->sep = sp->sep;
        f->weighted = sp->weighted;
        f->ts_unix = sp->ts_unix;
        if (sp->ts_format && !(f->ts_format = strdup(sp->ts_format))) {
            rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
            goto done;
        }
        if (sp->ignore) continue;
        f->col = (int)p->schema.n_cols;
        leap_column_def *cd = &p->schema.cols[p->schema.n_cols++];
        snprintf(cd->name, sizeof cd->name, "%s", name);
        cd->type = sp->type;
        cd->weighted = sp->type == LEAP_COL_MULTI_CATEGORICAL && sp->weighted;
    }
    if (header)
        for (size_t k = 0; k < p->n_specs; k++)
            if (!used[k] && !p->specs[k].ignore) {
                rc = leap_err_set(err, LEAP_EPARSE, "%s:1: schema column '%s' is not in the header",
                                  p->fname, p->specs[k].name);
                goto done;
            }
    if (p->schema.n_cols == 0)
        rc = leap_err_set(err, LEAP_EINVAL, "%s: the schema stores no column (all ignored)",
                          p->fname);
done:
    free(used);
    leap__scratch_free(&sc);
    return rc;
}

/* ---- one line --------------------------------------------------------------- */
static void trim(const char **s, size_t *n) {
    while (*n && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static int show(size_t n) { return (int)(n > 64 ? 64 : n); }

int leap__csv_line(const leap__parser *p, const char *s, const char *e, leap_rowgroup *rg,
                   size_t row, leap__scratch *sc, leap__dict *d, char *why, size_t why_n) {
    if (grow_scratch(sc, p->n_fields + 1, (size_t)(e - s) + 16)) {
        snprintf(why, why_n, "!out of memory");
        return -1;
    }
    long n = split_line(p->delim, s, e, sc, p->n_fields, why, why_n);
    if (n < 0) return -1;
    if ((size_t)n != p->n_fields) {
        snprintf(why, why_n, "expected %zu fields, found %ld", p->n_fields, n);
        return -1;
    }
    for (size_t j = 0; j < p->n_fields; j++) {
        const leap__csv_field *f = &p->fields[j];
        if (f->col < 0) continue;
        const char *v = sc->spans[j].p;
        size_t vn = sc->spans[j].n;
        leap_column *c = &rg->cols[f->col];
        switch (f->type) {
        case LEAP_COL_LABEL: {
            trim(&v, &vn);
            double x;
            if (vn == 1 && (*v == '0' || *v == '1'))
                x = *v - '0';
            else if (vn == 4 && !strncasecmp(v, "true", 4))
                x = 1;
            else if (vn == 5 && !strncasecmp(v, "false", 5))
                x = 0;
            else if (vn == 0) {
                snprintf(why, why_n, "column %s: empty label", f->name);
                return -1;
            } else if (leap__parse_number(v, vn, &x) || !(x == 0 || x == 1)) {
                snprintf(why, why_n, "column %s: '%.*s' is not 0 or 1 (or true/false)", f->name,
                         show(vn), v);
                return -1;
            }
            c->f32[row] = (float)x;
            break;
        }
        case LEAP_COL_NUMERIC:
        case LEAP_COL_WEIGHT: {
            trim(&v, &vn);
            double x = NAN;
            if (vn && leap__parse_number(v, vn, &x)) {
                snprintf(why, why_n, "column %s: '%.*s' is not a number", f->name, show(vn), v);
                return -1;
            }
            if (f->type == LEAP_COL_WEIGHT && x < 0) {
                snprintf(why, why_n, "column %s: weight '%.*s' is negative", f->name, show(vn), v);
                return -1;
            }
            c->f32[row] = (float)x;
            break;
        }
        case LEAP_COL_CATEGORICAL: {
            uint64_t h = vn ? leap_cat_hash(v, vn) : 0;
            c->u64[row] = h;
            if (d && vn) leap__dict_add(d, (uint32_t)f->col, h, v, vn);
            break;
        }
        case LEAP_COL_MULTI_CATEGORICAL: {
            if (row == 0) c->offsets[0] = 0;
            size_t k = c->offsets[row];
            const char *q = v, *ve = v + vn;
            while (q < ve) {
                const char *z = memchr(q, f->sep, (size_t)(ve - q));
                const char *ie = z ? z : ve, *item = q;
                q = z ? z + 1 : ve;
                size_t in = (size_t)(ie - item);
                if (in == 0) continue;
                float w = 1.0f;
                if (f->weighted) {
                    const char *colon = memrchr(item, ':', in);
                    if (colon) {
                        double x;
                        if (leap__parse_number(colon + 1, (size_t)(ie - colon - 1), &x)) {
                            snprintf(why, why_n, "column %s: weight in '%.*s' is not a number",
                                     f->name, show(in), item);
                            return -1;
                        }
                        w = (float)x;
                        in = (size_t)(colon - item);
                    }
                }
                if (k + 1 > UINT32_MAX) {
                    snprintf(why, why_n, "column %s: too many values in one row group", f->name);
                    return -1;
                }
                if (leap__rg_values(rg, (size_t)f->col, k + 1)) {
                    snprintf(why, why_n, "!out of memory");
                    return -1;
                }
                c = &rg->cols[f->col];
                uint64_t h = leap_cat_hash(item, in);
                c->u64[k] = h;
                if (f->weighted) c->vw[k] = w;
                k++;
                if (d) leap__dict_add(d, (uint32_t)f->col, h, item, in);
            }
            c->offsets[row + 1] = (uint32_t)k;
            break;
        }
        case LEAP_COL_TIMESTAMP: {
            trim(&v, &vn);
            int64_t t = INT64_MIN;
            if (vn && f->ts_unix) {
                if (leap__parse_int(v, vn, &t) || t == INT64_MIN) {
                    snprintf(why, why_n, "column %s: '%.*s' is not unix seconds", f->name, show(vn),
                             v);
                    return -1;
                }
            } else if (vn) {
                char buf[128];
                struct tm tm;
                memset(&tm, 0, sizeof tm);
                const char *end = NULL;
                if (vn < sizeof buf) {
                    memcpy(buf, v, vn);
                    buf[vn] = 0;
                    end = strptime(buf, f->ts_format, &tm);
                }
                if (!end || *end) {
                    snprintf(why, why_n, "column %s: '%.*s' does not match format '%s'", f->name,
                             show(vn), v, f->ts_format);
                    return -1;
                }
                t = (int64_t)timegm(&tm);
            }
            c->i64[row] = t;
            break;
        }
        default: break;
        }
    }
    return 0;
}
