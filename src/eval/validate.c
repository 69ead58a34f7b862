/* validate.c — validation schemas (infer, YAML write/parse) and the checks of
 * `leap validate` (see include/leap/validate.h for the list). Column figures
 * come from leap_stats_compute; the only pass made here counts exactly what
 * stats cannot: rows outside [min, max], values outside the domain, values
 * new against the baseline, the union of top values and the histogram on the
 * baseline's bin edges. Never prints except into a caller's FILE*. */
#define _GNU_SOURCE
#include "leap/validate.h"
#include "leap/stats.h"

#include "core/yaml_log.h"
#include <cyaml/cyaml.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NBINS (LEAP_STATS_HIST_BINS + 2) /* under, 20 bins, over */

static const char *const anomaly_names[] = {
#define LEAP_XX_ANOM(name, str) str,
    LEAP_ANOMALY_MAP(LEAP_XX_ANOM)
#undef LEAP_XX_ANOM
};
_Static_assert(sizeof anomaly_names / sizeof anomaly_names[0] == LEAP_ANOMALY_KIND_COUNT,
               "anomaly name table");

const char *leap_anomaly_kind_name(leap_anomaly_kind k) {
    return (unsigned)k < LEAP_ANOMALY_KIND_COUNT ? anomaly_names[k] : "unknown";
}

static int is_numeric_type(leap_col_type t) {
    return t == LEAP_COL_LABEL || t == LEAP_COL_WEIGHT || t == LEAP_COL_NUMERIC ||
           t == LEAP_COL_TIMESTAMP;
}
static int is_cat_type(leap_col_type t) {
    return t == LEAP_COL_CATEGORICAL || t == LEAP_COL_MULTI_CATEGORICAL;
}

void leap_vschema_free(leap_vschema *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n_cols; i++) {
        for (size_t j = 0; j < s->cols[i].n_domain; j++)
            free(s->cols[i].domain[j]);
        free(s->cols[i].domain);
    }
    free(s->cols);
    memset(s, 0, sizeof *s);
}

static void col_defaults(leap_vschema_col *c) {
    memset(c, 0, sizeof *c);
    c->max_missing_rate = c->min = c->max = c->max_out_of_range_rate = NAN;
    c->max_new_rate = c->drift_linf = c->drift_js = NAN;
}

/* ---- distances ---------------------------------------------------------------- */
static double vsum(const double *p, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i];
    return s;
}

double leap_js_divergence(const double *p, const double *q, size_t n) {
    double sp = vsum(p, n), sq = vsum(q, n), js = 0;
    for (size_t i = 0; i < n; i++) {
        double a = sp > 0 ? p[i] / sp : 0, b = sq > 0 ? q[i] / sq : 0, m = 0.5 * (a + b);
        if (a > 0) js += 0.5 * a * log2(a / m);
        if (b > 0) js += 0.5 * b * log2(b / m);
    }
    return js < 0 ? 0 : js > 1 ? 1 : js;
}

double leap_linf_distance(const double *p, const double *q, size_t n) {
    double sp = vsum(p, n), sq = vsum(q, n), d = 0;
    for (size_t i = 0; i < n; i++) {
        double a = sp > 0 ? p[i] / sp : 0, b = sq > 0 ? q[i] / sq : 0;
        if (fabs(a - b) > d) d = fabs(a - b);
    }
    return d;
}

/* ---- domain values: text <-> stored hash --------------------------------------- */
/* "#" followed by 16 hex digits names a stored hash; any other text is hashed. */
static uint64_t domain_key(const char *s) {
    if (s[0] == '#' && strlen(s) == 17 && strspn(s + 1, "0123456789abcdefABCDEF") == 16)
        return strtoull(s + 1, NULL, 16);
    return leap_cat_hash(s, strlen(s));
}

/* Text safe to write inside YAML double quotes and to read back as itself:
 * printable ASCII not starting with '#'. */
static int plain_text(const char *s) {
    if (s[0] == '#') return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p >= 0x7f) return 0;
    return 1;
}

/* ---- infer --------------------------------------------------------------------- */
static double round_up(double x) { return ceil(x * 1e4) / 1e4; }

int leap_vschema_infer(leap_dataset *ds, int threads, leap_vschema *out, leap_err *err) {
    memset(out, 0, sizeof *out);
    leap_stats st;
    leap_stats_opts o;
    leap_stats_opts_init(&o);
    o.threads = threads;
    o.top_k = LEAP_VALIDATE_TOP;
    int rc = leap_stats_compute(ds, &o, &st, err);
    if (rc) {
        leap_stats_free(&st);
        return rc;
    }
    out->version = LEAP_VSCHEMA_VERSION;
    out->cols = calloc(st.n_cols ? st.n_cols : 1, sizeof *out->cols);
    if (!out->cols) goto oom;
    for (size_t c = 0; c < st.n_cols; c++) {
        const leap_stats_column *sc = &st.cols[c];
        leap_vschema_col *vc = &out->cols[c];
        col_defaults(vc);
        out->n_cols = c + 1;
        snprintf(vc->name, sizeof vc->name, "%s", sc->name);
        vc->type = sc->type;
        vc->required = sc->missing == 0;
        double m = 1.5 * sc->missing_rate;
        vc->max_missing_rate = round_up(m < 0.01 ? 0.01 : m > 1 ? 1 : m);
        if (sc->numeric) {
            if (sc->present > 0) {
                double w = 0.1 * (sc->max - sc->min);
                vc->min = sc->min - w;
                vc->max = sc->max + w;
                vc->max_out_of_range_rate = 0.001; /* heavy tails: a few outliers are normal */
            }
            vc->drift_js = 0.1;
        } else if (is_cat_type(sc->type)) {
            if (sc->distinct <= LEAP_VSCHEMA_DOMAIN_MAX && sc->n_top <= LEAP_VSCHEMA_DOMAIN_MAX) {
                vc->has_domain = 1;
                vc->domain = calloc(sc->n_top ? sc->n_top : 1, sizeof *vc->domain);
                if (!vc->domain) goto oom;
                for (size_t i = 0; i < sc->n_top; i++) {
                    const leap_stats_value *v = &sc->top[i];
                    char hex[24];
                    snprintf(hex, sizeof hex, "#%016" PRIx64, v->key);
                    /* keep the text only when it reads back to the same hash */
                    int keep = plain_text(v->text) && domain_key(v->text) == v->key;
                    vc->domain[i] = strdup(keep ? v->text : hex);
                    if (!vc->domain[i]) goto oom;
                    vc->n_domain = i + 1;
                }
            } else {
                /* distinct/present bounds the Good-Turing new-value mass N1/N */
                double d = sc->present ? sc->distinct / (double)sc->present : 0;
                vc->max_new_rate = round_up(d < 0.05 ? 0.05 : d > 1 ? 1 : d);
            }
            vc->drift_linf = 0.1;
        }
    }
    leap_stats_free(&st);
    return LEAP_OK;
oom:
    leap_stats_free(&st);
    return leap_err_set(err, LEAP_ENOMEM, "out of memory");
}

/* ---- write --------------------------------------------------------------------- */
static void ynum(FILE *f, const char *key, double v) {
    /* shortest text that reads back as the same double: people edit this file */
    if (isnan(v)) return;
    char buf[40];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    fprintf(f, "    %s: %s\n", key, buf);
}

int leap_vschema_write(FILE *f, const leap_vschema *s, const char *source) {
    fprintf(f,
            "# leap validation schema%s%s. Edit freely; `leap validate --help` lists the "
            "checks.\n",
            source ? " inferred from " : "", source ? source : "");
    fprintf(f, "version: %d\ncolumns:\n", s->version ? s->version : LEAP_VSCHEMA_VERSION);
    for (size_t i = 0; i < s->n_cols; i++) {
        const leap_vschema_col *c = &s->cols[i];
        fprintf(f, "  - name: \"%s\"\n    type: %s\n    required: %s\n", c->name,
                leap_col_type_name(c->type), c->required ? "true" : "false");
        ynum(f, "max_missing_rate", c->max_missing_rate);
        ynum(f, "min", c->min);
        ynum(f, "max", c->max);
        ynum(f, "max_out_of_range_rate", c->max_out_of_range_rate);
        if (c->has_domain) {
            fprintf(f, "    domain: [");
            for (size_t j = 0; j < c->n_domain; j++) {
                fputs(j ? ", \"" : "\"", f);
                for (const char *p = c->domain[j]; *p; p++) {
                    if (*p == '"' || *p == '\\') fputc('\\', f);
                    fputc(*p, f);
                }
                fputc('"', f);
            }
            fprintf(f, "]\n");
        }
        ynum(f, "max_new_rate", c->max_new_rate);
        ynum(f, "drift_linf", c->drift_linf);
        ynum(f, "drift_js", c->drift_js);
    }
    return ferror(f) ? LEAP_EIO : LEAP_OK;
}

/* ---- parse (libcyaml) ------------------------------------------------------------ */
typedef struct ycol {
    char *name, *type, *required, *max_missing_rate, *min, *max, *max_oor, *max_new_rate,
        *drift_linf, *drift_js;
    char **domain;
    unsigned domain_count;
} ycol;
typedef struct ytop {
    char *version;
    ycol *columns;
    unsigned columns_count;
} ytop;

#define YSTR(key, st, field)                                                                       \
    CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, st, field, 0,            \
                           CYAML_UNLIMITED)
static const cyaml_schema_value_t ystr_value = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED)};
static const cyaml_schema_field_t ycol_fields[] = {
    YSTR("name", ycol, name),
    YSTR("type", ycol, type),
    YSTR("required", ycol, required),
    YSTR("max_missing_rate", ycol, max_missing_rate),
    YSTR("min", ycol, min),
    YSTR("max", ycol, max),
    YSTR("max_out_of_range_rate", ycol, max_oor),
    CYAML_FIELD_SEQUENCE("domain", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, ycol, domain,
                         &ystr_value, 0, CYAML_UNLIMITED),
    YSTR("max_new_rate", ycol, max_new_rate),
    YSTR("drift_linf", ycol, drift_linf),
    YSTR("drift_js", ycol, drift_js),
    CYAML_FIELD_END};
static const cyaml_schema_value_t ycol_value = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, ycol, ycol_fields)};
static const cyaml_schema_field_t ytop_fields[] = {
    YSTR("version", ytop, version),
    CYAML_FIELD_SEQUENCE("columns", CYAML_FLAG_POINTER, ytop, columns, &ycol_value, 0,
                         CYAML_UNLIMITED),
    CYAML_FIELD_END};
static const cyaml_schema_value_t ytop_value = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, ytop, ytop_fields)};

/* First line >= from (1-based) holding `key:`; sets *line, *col (1-based). */
typedef struct pctx {
    const char *name, *text;
    long col_line; /* line of the current column's entry (search start) */
} pctx;

__attribute__((format(printf, 4, 5))) static int perr(const pctx *y, leap_err *err, const char *key,
                                                      const char *fmt, ...) {
    char m[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    long line, col;
    if (key && (leap__yfind(y->text, y->col_line, key, NULL, &line, &col) == 0 ||
                leap__yfind(y->text, 1, key, NULL, &line, &col) == 0))
        return leap_err_set(err, LEAP_EPARSE, "%s:%ld:%ld: %s", y->name, line, col, m);
    return leap_err_set(err, LEAP_EPARSE, "%s: %s", y->name, m);
}

/* A number in [lo, hi] (NaN bounds: unbounded) or NULL (stays NaN). */
static int pnum(const pctx *y, const char *key, const char *s, const char *col, double lo,
                double hi, double *out, leap_err *err) {
    if (!s) return 0;
    double v;
    if (leap_parse_double(s, &v) || isnan(v))
        return perr(y, err, key, "column '%s': %s must be a number, got '%s'", col, key, s);
    if ((!isnan(lo) && v < lo) || (!isnan(hi) && v > hi))
        return perr(y, err, key, "column '%s': %s must be in [%g, %g], got '%s'", col, key, lo, hi,
                    s);
    *out = v;
    return 0;
}

/* Line of the n-th (0-based) sequence entry under `columns:` (best effort). */
static long entry_line(const char *text, unsigned n) {
    long cl, cc;
    if (leap__yfind(text, 1, "columns", NULL, &cl, &cc)) return 1;
    long ln = 1;
    unsigned seen = 0;
    for (const char *s = text; *s; ln++) {
        const char *e = strchr(s, '\n');
        if (!e) e = s + strlen(s);
        const char *q = s;
        while (q < e && *q == ' ')
            q++;
        if (ln > cl && q < e && *q == '-' && seen++ == n) return ln;
        s = *e ? e + 1 : e;
    }
    return cl;
}

static int parse_col(pctx *y, const ycol *yc, unsigned i, leap_vschema_col *c, leap_err *err) {
    col_defaults(c);
    y->col_line = entry_line(y->text, i);
    if (!yc->name || !*yc->name) return perr(y, err, NULL, "column %u has no name", i + 1);
    if (strlen(yc->name) >= LEAP_NAME_MAX)
        return perr(y, err, "name", "column name '%s' is longer than %d bytes", yc->name,
                    LEAP_NAME_MAX - 1);
    snprintf(c->name, sizeof c->name, "%s", yc->name);
    if (!yc->type) return perr(y, err, "name", "column '%s' has no type", yc->name);
    int t = leap_col_type_from_name(yc->type);
    if (t < 0)
        return perr(y, err, "type",
                    "column '%s': unknown type '%s' (label, numeric, categorical, "
                    "multi_categorical, weight, timestamp)",
                    yc->name, yc->type);
    c->type = (leap_col_type)t;
    if (yc->required) {
        if (!strcasecmp(yc->required, "true"))
            c->required = 1;
        else if (strcasecmp(yc->required, "false") != 0)
            return perr(y, err, "required", "column '%s': required must be true or false, got '%s'",
                        yc->name, yc->required);
    }
    int rc;
    if ((rc = pnum(y, "max_missing_rate", yc->max_missing_rate, yc->name, 0, 1,
                   &c->max_missing_rate, err)) ||
        (rc = pnum(y, "min", yc->min, yc->name, NAN, NAN, &c->min, err)) ||
        (rc = pnum(y, "max", yc->max, yc->name, NAN, NAN, &c->max, err)) ||
        (rc = pnum(y, "max_out_of_range_rate", yc->max_oor, yc->name, 0, 1,
                   &c->max_out_of_range_rate, err)) ||
        (rc = pnum(y, "max_new_rate", yc->max_new_rate, yc->name, 0, 1, &c->max_new_rate, err)) ||
        (rc = pnum(y, "drift_linf", yc->drift_linf, yc->name, 0, 1, &c->drift_linf, err)) ||
        (rc = pnum(y, "drift_js", yc->drift_js, yc->name, 0, 1, &c->drift_js, err)))
        return rc;
    int num = is_numeric_type(c->type), cat = is_cat_type(c->type);
    if (!num && (yc->min || yc->max || yc->max_oor || yc->drift_js))
        return perr(y, err,
                    yc->min   ? "min"
                    : yc->max ? "max"
                              : "drift_js",
                    "column '%s': min, max and drift_js are for numeric columns", yc->name);
    if (!cat && (yc->domain || yc->max_new_rate || yc->drift_linf))
        return perr(y, err,
                    yc->domain         ? "domain"
                    : yc->max_new_rate ? "max_new_rate"
                                       : "drift_linf",
                    "column '%s': domain, max_new_rate and drift_linf are for categorical columns",
                    yc->name);
    if (!isnan(c->min) && !isnan(c->max) && c->min > c->max)
        return perr(y, err, "min", "column '%s': min %g is above max %g", yc->name, c->min, c->max);
    if (yc->domain) {
        c->has_domain = 1;
        c->domain = calloc(yc->domain_count ? yc->domain_count : 1, sizeof *c->domain);
        if (!c->domain) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
        for (unsigned j = 0; j < yc->domain_count; j++) {
            if (!(c->domain[j] = strdup(yc->domain[j] ? yc->domain[j] : "")))
                return leap_err_set(err, LEAP_ENOMEM, "out of memory");
            c->n_domain = j + 1;
        }
    }
    return 0;
}

int leap_vschema_parse(const char *text, size_t len, const char *name, leap_vschema *out,
                       leap_err *err) {
    memset(out, 0, sizeof *out);
    /* libcyaml and the position search want a NUL-terminated copy without NULs */
    if (memchr(text, 0, len)) return leap_err_set(err, LEAP_EPARSE, "%s: holds a NUL byte", name);
    char *t = malloc(len + 1);
    if (!t) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    memcpy(t, text, len);
    t[len] = 0;
    pctx y = {name, t, 1};
    ylog lg = {.line = -1, .col = -1};
    cyaml_config_t cfg = {.log_fn = leap__ylog_fn,
                          .log_ctx = &lg,
                          .mem_fn = cyaml_mem,
                          .log_level = CYAML_LOG_ERROR,
                          .flags = CYAML_CFG_DEFAULT};
    ytop *ys = NULL;
    int rc = LEAP_OK;
    cyaml_err_t ce =
        cyaml_load_data((const uint8_t *)t, len, &cfg, &ytop_value, (cyaml_data_t **)&ys, NULL);
    if (ce != CYAML_OK) {
        rc = leap__ylog_error(&lg, cyaml_strerror(ce), t, name, err);
        ys = NULL;
        goto done;
    }
    if (!ys) {
        rc = leap_err_set(err, LEAP_EPARSE, "%s: empty schema", name);
        goto done;
    }
    out->version = LEAP_VSCHEMA_VERSION;
    if (ys->version && strcmp(ys->version, "1") != 0) {
        rc = perr(&y, err, "version", "unsupported schema version '%s' (this leap reads 1)",
                  ys->version);
        goto done;
    }
    out->cols = calloc(ys->columns_count ? ys->columns_count : 1, sizeof *out->cols);
    if (!out->cols) {
        rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
        goto done;
    }
    for (unsigned i = 0; i < ys->columns_count; i++) {
        out->n_cols = i + 1;
        rc = parse_col(&y, &ys->columns[i], i, &out->cols[i], err);
        if (rc) goto done;
        for (unsigned j = 0; j < i; j++)
            if (!strcmp(out->cols[j].name, out->cols[i].name)) {
                rc = perr(&y, err, "name", "column '%s' listed twice", out->cols[i].name);
                goto done;
            }
    }
done:
    if (ys) cyaml_free(&cfg, &ytop_value, ys, 0);
    free(t);
    return rc;
}

int leap_vschema_load(const char *path, leap_vschema *out, leap_err *err) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return leap_err_set(err, errno == ENOENT ? LEAP_ENOTFOUND : LEAP_EIO,
                            "%s: cannot read schema: %s", path, strerror(errno));
    leap_buf b = {0};
    char chunk[65536];
    size_t k;
    int rc = LEAP_OK;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (leap_buf_append(&b, chunk, k)) {
            rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
            break;
        }
    if (!rc && ferror(f)) rc = leap_err_set(err, LEAP_EIO, "%s: read error", path);
    fclose(f);
    if (!rc) rc = leap_vschema_parse(b.p ? (const char *)b.p : "", b.len, path, out, err);
    leap_buf_free(&b);
    return rc;
}

/* ---- the counting pass --------------------------------------------------------- */
/* A set of uint64 keys (never 0), open addressing. */
typedef struct u64set {
    uint64_t *k;
    size_t cap, n; /* cap: power of two */
} u64set;

static int set_put(u64set *s, uint64_t key) {
    if (2 * (s->n + 1) > s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 1024;
        uint64_t *nk = calloc(nc, sizeof *nk);
        if (!nk) return LEAP_ENOMEM;
        for (size_t i = 0; i < s->cap; i++)
            if (s->k[i])
                for (size_t j = leap_mix64(s->k[i], 0) & (nc - 1);; j = (j + 1) & (nc - 1))
                    if (!nk[j]) {
                        nk[j] = s->k[i];
                        break;
                    }
        free(s->k);
        s->k = nk;
        s->cap = nc;
    }
    for (size_t j = leap_mix64(key, 0) & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
        if (s->k[j] == key) return 0;
        if (!s->k[j]) {
            s->k[j] = key;
            s->n++;
            return 0;
        }
    }
}
static int set_has(const u64set *s, uint64_t key) {
    if (!s->cap) return 0;
    for (size_t j = leap_mix64(key, 0) & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
        if (s->k[j] == key) return 1;
        if (!s->k[j]) return 0;
    }
}

/* What to count for one dataset column (indexed by the dataset's column). */
typedef struct plan {
    int active;
    double min, max; /* NaN = not checked */
    uint64_t *dom;   /* sorted domain keys, or NULL */
    size_t n_dom;
    uint64_t *keys; /* sorted union of top keys, counted exactly */
    size_t n_keys;
    const double *edges; /* [LEAP_STATS_HIST_BINS + 1] or NULL */
    const u64set *seen;  /* values of the baseline (new_values), or NULL */
    int collect;         /* 1: add every value to acc.set */
} plan;

typedef struct acc {
    uint64_t below, above, out_dom, n_new, n_values;
    uint64_t ex_key;  /* one out-of-domain value */
    uint64_t *kcount; /* [n_keys] */
    uint64_t hist[NBINS];
    u64set set;
} acc;

typedef struct scan_ctx {
    leap_dataset *ds;
    size_t n_cols;
    plan *pl;
    acc *acc; /* [threads][n_cols] */
    leap_rowgroup *rg;
    leap_err *errs;
} scan_ctx;

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}
static long find_key(const uint64_t *k, size_t n, uint64_t key) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (k[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && k[lo] == key ? (long)lo : -1;
}

static int bin_of(const double *e, double v) {
    if (v < e[0]) return 0;
    if (v > e[LEAP_STATS_HIST_BINS]) return NBINS - 1;
    size_t lo = 0, hi = LEAP_STATS_HIST_BINS; /* largest i with e[i] <= v */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (e[mid] <= v)
            lo = mid;
        else
            hi = mid;
    }
    return (int)lo + 1;
}

static int count_cat(const plan *p, acc *a, uint64_t v) {
    a->n_values++;
    if (p->dom && find_key(p->dom, p->n_dom, v) < 0) {
        if (!a->out_dom++) a->ex_key = v;
    }
    if (p->n_keys) {
        long i = find_key(p->keys, p->n_keys, v);
        if (i >= 0) a->kcount[i]++;
    }
    if (p->seen && !set_has(p->seen, v)) a->n_new++;
    if (p->collect) return set_put(&a->set, v);
    return 0;
}

static void count_num(const plan *p, acc *a, double v) {
    a->n_values++;
    if (!isnan(p->min) && v < p->min) a->below++;
    if (!isnan(p->max) && v > p->max) a->above++;
    if (p->edges) a->hist[bin_of(p->edges, v)]++;
}

static int scan_task(void *vctx, size_t g, int th) {
    scan_ctx *x = vctx;
    leap_rowgroup *rg = &x->rg[th];
    int rc = leap_dataset_read_row_group(x->ds, g, rg, &x->errs[th]);
    if (rc) return rc;
    for (size_t c = 0; c < x->n_cols; c++) {
        const plan *p = &x->pl[c];
        if (!p->active) continue;
        acc *a = &x->acc[(size_t)th * x->n_cols + c];
        const leap_column *col = &rg->cols[c];
        for (size_t i = 0; i < rg->n_rows; i++) {
            switch (rg->types[c]) {
            case LEAP_COL_CATEGORICAL:
                if (col->u64[i] && count_cat(p, a, col->u64[i])) return LEAP_ENOMEM;
                break;
            case LEAP_COL_MULTI_CATEGORICAL:
                for (uint32_t j = col->offsets[i]; j < col->offsets[i + 1]; j++)
                    if (col->u64[j] && count_cat(p, a, col->u64[j])) return LEAP_ENOMEM;
                break;
            case LEAP_COL_TIMESTAMP:
                if (col->i64[i] != INT64_MIN) count_num(p, a, (double)col->i64[i]);
                break;
            default:
                if (!isnan(col->f32[i])) count_num(p, a, (double)col->f32[i]);
                break;
            }
        }
    }
    return 0;
}

/* Runs the pass; on success tot[c] holds the merged counts (kcount of
 * n_keys entries, set when collecting). */
static int scan(leap_dataset *ds, plan *pl, int threads, acc *tot, leap_err *err) {
    const leap_schema *s = leap_dataset_schema(ds);
    size_t nc = s->n_cols, ng = leap_dataset_num_row_groups(ds);
    if (threads > (int)ng) threads = ng ? (int)ng : 1;
    scan_ctx x = {.ds = ds, .n_cols = nc, .pl = pl};
    x.acc = calloc((size_t)threads * nc + 1, sizeof *x.acc);
    x.rg = calloc((size_t)threads, sizeof *x.rg);
    x.errs = calloc((size_t)threads, sizeof *x.errs);
    int rc = LEAP_OK, n_rg = 0;
    if (!x.acc || !x.rg || !x.errs) {
        rc = LEAP_ENOMEM;
        goto done;
    }
    for (int t = 0; t < threads; t++) {
        for (size_t c = 0; c < nc; c++)
            if (pl[c].n_keys) {
                x.acc[(size_t)t * nc + c].kcount = calloc(pl[c].n_keys, sizeof(uint64_t));
                if (!x.acc[(size_t)t * nc + c].kcount) rc = LEAP_ENOMEM;
            }
        if (!rc && leap_rowgroup_init(&x.rg[t], s)) rc = LEAP_ENOMEM;
        if (rc) goto done;
        n_rg = t + 1;
    }
    rc = leap_parallel_for(threads, ng, scan_task, &x);
    if (rc) {
        for (int t = 0; t < threads; t++)
            if (x.errs[t].status) {
                *err = x.errs[t];
                goto done;
            }
        goto done;
    }
    for (size_t c = 0; c < nc; c++) {
        acc *o = &tot[c];
        for (int t = 0; t < threads; t++) {
            acc *a = &x.acc[(size_t)t * nc + c];
            o->below += a->below;
            o->above += a->above;
            if (!o->out_dom && a->out_dom) o->ex_key = a->ex_key;
            o->out_dom += a->out_dom;
            o->n_new += a->n_new;
            o->n_values += a->n_values;
            for (size_t k = 0; k < pl[c].n_keys; k++)
                o->kcount[k] += a->kcount[k];
            for (int b = 0; b < NBINS; b++)
                o->hist[b] += a->hist[b];
            for (size_t k = 0; k < a->set.cap && !rc; k++)
                if (a->set.k[k]) rc = set_put(&o->set, a->set.k[k]);
        }
    }
done:
    if (rc && !err->status) leap_err_set(err, rc, "validate: %s", leap_strerror(rc));
    if (x.acc)
        for (size_t i = 0; i < (size_t)threads * nc; i++) {
            free(x.acc[i].kcount);
            free(x.acc[i].set.k);
        }
    for (int t = 0; t < n_rg; t++)
        leap_rowgroup_free(&x.rg[t]);
    free(x.acc);
    free(x.rg);
    free(x.errs);
    return rc;
}

/* ---- the checks ------------------------------------------------------------------ */
static int add(leap_validate_report *r, const char *col, leap_anomaly_kind k, double value,
               double bound, uint64_t count, const char *measured, const char *limit) {
    leap_anomaly *n = realloc(r->items, (r->n + 1) * sizeof *n);
    if (!n) return LEAP_ENOMEM;
    r->items = n;
    leap_anomaly *a = &n[r->n++];
    memset(a, 0, sizeof *a);
    snprintf(a->column, sizeof a->column, "%s", col);
    a->kind = k;
    a->value = value;
    a->bound = bound;
    a->count = count;
    snprintf(a->measured, sizeof a->measured, "%s", measured);
    snprintf(a->limit, sizeof a->limit, "%s", limit);
    return 0;
}

void leap_validate_report_free(leap_validate_report *r) {
    if (!r) return;
    free(r->items);
    memset(r, 0, sizeof *r);
}

typedef struct vstate {
    leap_stats st, bst;
    plan *pl, *bpl;
    acc *tot, *btot;
    int *bcol; /* dataset column -> baseline column, -1 */
    size_t nc, bnc;
} vstate;

static void vstate_free(vstate *v) {
    leap_stats_free(&v->st);
    leap_stats_free(&v->bst);
    for (size_t c = 0; c < v->nc; c++) {
        if (v->pl) free(v->pl[c].dom), free(v->pl[c].keys);
        if (v->tot) free(v->tot[c].kcount), free(v->tot[c].set.k);
    }
    for (size_t c = 0; c < v->bnc; c++)
        if (v->btot) free(v->btot[c].kcount), free(v->btot[c].set.k);
    free(v->pl);
    free(v->bpl);
    free(v->tot);
    free(v->btot);
    free(v->bcol);
}

/* Sorted, deduplicated union of the top keys of a and b. */
static int union_keys(const leap_stats_column *a, const leap_stats_column *b, plan *p) {
    p->keys = malloc((a->n_top + b->n_top + 1) * sizeof *p->keys);
    if (!p->keys) return LEAP_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < a->n_top; i++)
        p->keys[n++] = a->top[i].key;
    for (size_t i = 0; i < b->n_top; i++)
        p->keys[n++] = b->top[i].key;
    qsort(p->keys, n, sizeof *p->keys, cmp_u64);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!m || p->keys[m - 1] != p->keys[i]) p->keys[m++] = p->keys[i];
    p->n_keys = m;
    return 0;
}

static int alloc_tot(acc *tot, const plan *pl, size_t nc) {
    for (size_t c = 0; c < nc; c++)
        if (pl[c].n_keys && !(tot[c].kcount = calloc(pl[c].n_keys, sizeof(uint64_t))))
            return LEAP_ENOMEM;
    return 0;
}

static const leap_vschema_col *schema_col(const leap_vschema *s, const char *name) {
    for (size_t i = 0; i < s->n_cols; i++)
        if (!strcmp(s->cols[i].name, name)) return &s->cols[i];
    return NULL;
}

/* Appends the anomalies of data column c (schema column vc). */
static int check_col(vstate *v, leap_dataset *ds, size_t c, const leap_vschema_col *vc,
                     leap_validate_report *r) {
    const leap_stats_column *sc = &v->st.cols[c];
    const plan *p = &v->pl[c];
    const acc *a = &v->tot[c];
    char m[128], l[96];
    int rc = 0;
    if (vc->required && sc->missing > 0) {
        snprintf(m, sizeof m, "%.6g (%" PRIu64 " rows)", sc->missing_rate, sc->missing);
        rc |= add(r, vc->name, LEAP_ANOMALY_MISSING_VALUES, sc->missing_rate, 0, sc->missing, m,
                  "required");
    }
    if (!isnan(vc->max_missing_rate) && sc->missing_rate > vc->max_missing_rate) {
        snprintf(m, sizeof m, "%.6g (%" PRIu64 " rows)", sc->missing_rate, sc->missing);
        snprintf(l, sizeof l, "<= %.6g", vc->max_missing_rate);
        rc |= add(r, vc->name, LEAP_ANOMALY_MISSING_RATE, sc->missing_rate, vc->max_missing_rate,
                  sc->missing, m, l);
    }
    double tol = isnan(vc->max_out_of_range_rate) ? 0 : vc->max_out_of_range_rate;
    double nv = a->n_values ? (double)a->n_values : 1;
    if (a->below && (double)a->below / nv > tol) {
        snprintf(m, sizeof m, "min %.9g (%" PRIu64 " values below)", sc->min, a->below);
        snprintf(l, sizeof l, ">= %.9g (tolerated share %.6g)", vc->min, tol);
        rc |= add(r, vc->name, LEAP_ANOMALY_BELOW_MIN, sc->min, vc->min, a->below, m, l);
    }
    if (a->above && (double)a->above / nv > tol) {
        snprintf(m, sizeof m, "max %.9g (%" PRIu64 " values above)", sc->max, a->above);
        snprintf(l, sizeof l, "<= %.9g (tolerated share %.6g)", vc->max, tol);
        rc |= add(r, vc->name, LEAP_ANOMALY_ABOVE_MAX, sc->max, vc->max, a->above, m, l);
    }
    if (p->dom && a->out_dom) {
        double share = a->n_values ? (double)a->out_dom / (double)a->n_values : 0;
        const char *s;
        size_t len;
        char ex[48];
        if (leap_dataset_dict_lookup(ds, c, a->ex_key, &s, &len) == 0)
            snprintf(ex, sizeof ex, "%.*s", (int)(len > 24 ? 24 : len), s);
        else
            snprintf(ex, sizeof ex, "#%016" PRIx64, a->ex_key);
        snprintf(m, sizeof m, "%.6g (%" PRIu64 " values, e.g. \"%s\")", share, a->out_dom, ex);
        snprintf(l, sizeof l, "domain of %zu values", vc->n_domain);
        rc |= add(r, vc->name, LEAP_ANOMALY_OUT_OF_DOMAIN, share, 0, a->out_dom, m, l);
    }
    if (p->seen && !isnan(vc->max_new_rate)) {
        double share = a->n_values ? (double)a->n_new / (double)a->n_values : 0;
        if (share > vc->max_new_rate) {
            snprintf(m, sizeof m, "%.6g (%" PRIu64 " values)", share, a->n_new);
            snprintf(l, sizeof l, "<= %.6g", vc->max_new_rate);
            rc |=
                add(r, vc->name, LEAP_ANOMALY_NEW_VALUES, share, vc->max_new_rate, a->n_new, m, l);
        }
    }
    if (v->bcol && v->bcol[c] >= 0) {
        const acc *b = &v->btot[v->bcol[c]];
        if (p->n_keys && !isnan(vc->drift_linf)) {
            /* shares of all values; keys outside the union count for neither */
            double d = 0;
            for (size_t k = 0; k < p->n_keys; k++) {
                double x = a->n_values ? (double)a->kcount[k] / (double)a->n_values : 0;
                double y = b->n_values ? (double)b->kcount[k] / (double)b->n_values : 0;
                if (fabs(x - y) > d) d = fabs(x - y);
            }
            if (d > vc->drift_linf) {
                snprintf(m, sizeof m, "%.6g", d);
                snprintf(l, sizeof l, "<= %.6g", vc->drift_linf);
                rc |= add(r, vc->name, LEAP_ANOMALY_DRIFT_LINF, d, vc->drift_linf, 0, m, l);
            }
        }
        if (p->edges && !isnan(vc->drift_js)) {
            double hp[NBINS], hq[NBINS];
            for (int k = 0; k < NBINS; k++)
                hp[k] = (double)a->hist[k], hq[k] = (double)b->hist[k];
            double js = leap_js_divergence(hp, hq, NBINS);
            if (js > vc->drift_js) {
                snprintf(m, sizeof m, "%.6g", js);
                snprintf(l, sizeof l, "<= %.6g", vc->drift_js);
                rc |= add(r, vc->name, LEAP_ANOMALY_DRIFT_JS, js, vc->drift_js, 0, m, l);
            }
        }
    }
    return rc ? LEAP_ENOMEM : 0;
}

int leap_validate_run(leap_dataset *ds, leap_dataset *baseline, const leap_vschema *s, int threads,
                      leap_validate_report *out, leap_err *err) {
    memset(out, 0, sizeof *out);
    if (threads <= 0) threads = leap_num_cpus();
    vstate v;
    memset(&v, 0, sizeof v);
    const leap_schema *ls = leap_dataset_schema(ds);
    v.nc = ls->n_cols;
    out->rows = leap_dataset_num_rows(ds);
    leap_stats_opts o;
    leap_stats_opts_init(&o);
    o.threads = threads;
    o.top_k = LEAP_VALIDATE_TOP;
    int rc = leap_stats_compute(ds, &o, &v.st, err);
    if (rc) goto done;
    const leap_schema *bs = NULL;
    if (baseline) {
        bs = leap_dataset_schema(baseline);
        v.bnc = bs->n_cols;
        out->baseline_rows = leap_dataset_num_rows(baseline);
        if ((rc = leap_stats_compute(baseline, &o, &v.bst, err))) goto done;
    }
    rc = LEAP_ENOMEM;
    v.pl = calloc(v.nc + 1, sizeof *v.pl);
    v.tot = calloc(v.nc + 1, sizeof *v.tot);
    v.bcol = calloc(v.nc + 1, sizeof *v.bcol);
    v.bpl = calloc(v.bnc + 1, sizeof *v.bpl);
    v.btot = calloc(v.bnc + 1, sizeof *v.btot);
    if (!v.pl || !v.tot || !v.bcol || !v.bpl || !v.btot) goto oom;

    /* plans: what to count in each dataset */
    for (size_t c = 0; c < v.nc; c++) {
        plan *p = &v.pl[c];
        p->min = p->max = NAN;
        v.bcol[c] = -1;
        const leap_vschema_col *vc = schema_col(s, ls->cols[c].name);
        if (!vc || vc->type != ls->cols[c].type) continue;
        p->active = 1;
        if (is_numeric_type(vc->type)) p->min = vc->min, p->max = vc->max;
        if (vc->has_domain) {
            p->dom = malloc((vc->n_domain + 1) * sizeof *p->dom);
            if (!p->dom) goto oom;
            for (size_t i = 0; i < vc->n_domain; i++)
                p->dom[i] = domain_key(vc->domain[i]);
            p->n_dom = vc->n_domain;
            qsort(p->dom, p->n_dom, sizeof *p->dom, cmp_u64);
        }
        int bc = bs ? leap_schema_find(bs, vc->name) : -1;
        if (bc < 0 || bs->cols[bc].type != vc->type) continue;
        v.bcol[c] = bc;
        plan *bp = &v.bpl[bc];
        bp->active = 1;
        bp->min = bp->max = NAN;
        if (is_cat_type(vc->type)) {
            if (!isnan(vc->drift_linf)) {
                if (union_keys(&v.st.cols[c], &v.bst.cols[bc], p)) goto oom;
                bp->keys = p->keys; /* shared; freed through pl */
                bp->n_keys = p->n_keys;
            }
            if (!vc->has_domain && !isnan(vc->max_new_rate)) bp->collect = 1;
        } else if (!isnan(vc->drift_js) && v.bst.cols[bc].present > 0) {
            p->edges = bp->edges = v.bst.cols[bc].hist_edges;
        }
    }
    if (baseline) {
        if (alloc_tot(v.btot, v.bpl, v.bnc)) goto oom;
        if ((rc = scan(baseline, v.bpl, threads, v.btot, err))) goto done;
        for (size_t c = 0; c < v.nc; c++)
            if (v.bcol[c] >= 0 && v.bpl[v.bcol[c]].collect) v.pl[c].seen = &v.btot[v.bcol[c]].set;
    }
    if (alloc_tot(v.tot, v.pl, v.nc)) goto oom;
    if ((rc = scan(ds, v.pl, threads, v.tot, err))) goto done;

    /* schema order: missing columns, type mismatches, per-column checks */
    rc = LEAP_ENOMEM;
    for (size_t i = 0; i < s->n_cols; i++) {
        const leap_vschema_col *vc = &s->cols[i];
        int c = leap_schema_find(ls, vc->name);
        if (c < 0) {
            if (add(out, vc->name, LEAP_ANOMALY_MISSING_COLUMN, NAN, NAN, 0, "absent", "in schema"))
                goto oom;
            continue;
        }
        if (ls->cols[c].type != vc->type) {
            if (add(out, vc->name, LEAP_ANOMALY_TYPE_MISMATCH, NAN, NAN, 0,
                    leap_col_type_name(ls->cols[c].type), leap_col_type_name(vc->type)))
                goto oom;
            continue;
        }
        if (check_col(&v, ds, (size_t)c, vc, out)) goto oom;
    }
    for (size_t c = 0; c < v.nc; c++)
        if (!schema_col(s, ls->cols[c].name) &&
            add(out, ls->cols[c].name, LEAP_ANOMALY_EXTRA_COLUMN, NAN, NAN, 0,
                leap_col_type_name(ls->cols[c].type), "not in schema"))
            goto oom;
    rc = LEAP_OK;
    goto done;
oom:
    rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
done:
    if (v.bpl)
        for (size_t c = 0; c < v.bnc; c++)
            v.bpl[c].keys = NULL; /* shared with pl */
    vstate_free(&v);
    return rc;
}

/* ---- rendering ------------------------------------------------------------------- */
int leap_validate_write_table(FILE *f, const leap_validate_report *r) {
    int w0 = 6, w1 = 7, w2 = 8;
    for (size_t i = 0; i < r->n; i++) {
        int a = (int)strlen(r->items[i].column),
            b = (int)strlen(leap_anomaly_kind_name(r->items[i].kind)),
            c = (int)strlen(r->items[i].measured);
        w0 = a > w0 ? a : w0;
        w1 = b > w1 ? b : w1;
        w2 = c > w2 ? c : w2;
    }
    if (r->n) {
        fprintf(f, "%-*s  %-*s  %-*s  %s\n", w0, "column", w1, "anomaly", w2, "measured", "bound");
        for (size_t i = 0; i < r->n; i++) {
            const leap_anomaly *a = &r->items[i];
            fprintf(f, "%-*s  %-*s  %-*s  %s\n", w0, a->column, w1, leap_anomaly_kind_name(a->kind),
                    w2, a->measured, a->limit);
        }
    }
    fprintf(f, "%zu anomal%s in %" PRIu64 " rows\n", r->n, r->n == 1 ? "y" : "ies", r->rows);
    return ferror(f) ? LEAP_EIO : LEAP_OK;
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}
static void json_num(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fputs("null", f);
}

int leap_validate_write_json(FILE *f, const leap_validate_report *r) {
    fprintf(f, "{\"rows\": %" PRIu64 ", \"baseline_rows\": %" PRIu64 ", \"anomalies\": [", r->rows,
            r->baseline_rows);
    for (size_t i = 0; i < r->n; i++) {
        const leap_anomaly *a = &r->items[i];
        fputs(i ? ",\n  {\"column\": " : "\n  {\"column\": ", f);
        json_str(f, a->column);
        fputs(", \"kind\": ", f);
        json_str(f, leap_anomaly_kind_name(a->kind));
        fputs(", \"value\": ", f);
        json_num(f, a->value);
        fputs(", \"bound\": ", f);
        json_num(f, a->bound);
        fprintf(f, ", \"count\": %" PRIu64 ", \"measured\": ", a->count);
        json_str(f, a->measured);
        fputs(", \"limit\": ", f);
        json_str(f, a->limit);
        fputc('}', f);
    }
    fprintf(f, "%s]}\n", r->n ? "\n" : "");
    return ferror(f) ? LEAP_EIO : LEAP_OK;
}
