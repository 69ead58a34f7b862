/* options.c — the declarative option tables: defaults, parsing with range
 * checks, help text and serialisation. Knows nothing about any component. */
#include "leap/options.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double *fptr(const leap_opt_def *d, void *obj) {
    return (double *)((char *)obj + d->offset);
}
static int *iptr(const leap_opt_def *d, void *obj) { return (int *)((char *)obj + d->offset); }
static char *sptr(const leap_opt_def *d, void *obj) { return (char *)obj + d->offset; }

void leap_opts_defaults(const leap_opt_table *t, void *obj) {
    for (size_t i = 0; i < t->n; i++) {
        const leap_opt_def *d = &t->defs[i];
        if (d->type == LEAP_OPT_FLOAT)
            *fptr(d, obj) = d->def;
        else if (d->type == LEAP_OPT_STRING)
            snprintf(sptr(d, obj), LEAP_OPT_STR_MAX, "%s", d->choices ? d->choices : "");
        else
            *iptr(d, obj) = (int)d->def;
    }
}

const leap_opt_def *leap_opts_find(const leap_opt_table *t, const char *key) {
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->defs[i].name, key)) return &t->defs[i];
    return NULL;
}

/* Index of value in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *value) {
    size_t vl = strlen(value);
    int idx = 0;
    for (const char *p = choices; *p; idx++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == vl && !strncmp(p, value, len)) return idx;
        if (!bar) break;
        p = bar + 1;
    }
    return -1;
}

static void choice_name(const char *choices, int idx, char *buf, size_t len) {
    const char *p = choices;
    for (int i = 0; i < idx && p; i++) {
        p = strchr(p, '|');
        if (p) p++;
    }
    if (!p) {
        snprintf(buf, len, "?");
        return;
    }
    const char *bar = strchr(p, '|');
    size_t n = bar ? (size_t)(bar - p) : strlen(p);
    snprintf(buf, len, "%.*s", (int)n, p);
}

int leap_opts_set(const leap_opt_table *t, void *obj, const char *key, const char *value,
                  leap_err *err) {
    const leap_opt_def *d = leap_opts_find(t, key);
    if (!d) return leap_err_set(err, LEAP_EINVAL, "unknown option '%s' for %s", key, t->component);
    switch (d->type) {
    case LEAP_OPT_FLOAT: {
        double v;
        if (leap_parse_double(value, &v) != 0 || !isfinite(v))
            return leap_err_set(err, LEAP_EINVAL, "option '%s': '%s' is not a number", key, value);
        if (v < d->min)
            return leap_err_set(err, LEAP_EINVAL, "option '%s': %s is below the minimum %g", key,
                                value, d->min);
        if (v > d->max)
            return leap_err_set(err, LEAP_EINVAL, "option '%s': %s is above the maximum %g", key,
                                value, d->max);
        *fptr(d, obj) = v;
        return LEAP_OK;
    }
    case LEAP_OPT_INT: {
        int64_t v;
        if (leap_parse_i64(value, &v) != 0)
            return leap_err_set(err, LEAP_EINVAL, "option '%s': '%s' is not an integer", key,
                                value);
        if ((double)v < d->min)
            return leap_err_set(err, LEAP_EINVAL, "option '%s': %s is below the minimum %g", key,
                                value, d->min);
        if ((double)v > d->max)
            return leap_err_set(err, LEAP_EINVAL, "option '%s': %s is above the maximum %g", key,
                                value, d->max);
        *iptr(d, obj) = (int)v;
        return LEAP_OK;
    }
    case LEAP_OPT_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "1"))
            *iptr(d, obj) = 1;
        else if (!strcmp(value, "false") || !strcmp(value, "0"))
            *iptr(d, obj) = 0;
        else
            return leap_err_set(err, LEAP_EINVAL, "option '%s': '%s' is not true or false", key,
                                value);
        return LEAP_OK;
    case LEAP_OPT_ENUM: {
        int idx = choice_index(d->choices, value);
        if (idx < 0)
            return leap_err_set(err, LEAP_EINVAL, "option '%s': '%s' is not one of %s", key, value,
                                d->choices);
        *iptr(d, obj) = idx;
        return LEAP_OK;
    }
    case LEAP_OPT_STRING:
        if (strlen(value) >= LEAP_OPT_STR_MAX)
            return leap_err_set(err, LEAP_EINVAL, "option '%s': value longer than %d bytes", key,
                                LEAP_OPT_STR_MAX - 1);
        if (strpbrk(value, "\n\r"))
            return leap_err_set(err, LEAP_EINVAL, "option '%s': value spans several lines", key);
        snprintf(sptr(d, obj), LEAP_OPT_STR_MAX, "%s", value);
        return LEAP_OK;
    default: return leap_err_set(err, LEAP_EINVAL, "option '%s': bad type", key);
    }
}

int leap_opts_apply(const leap_opt_table *const *tables, void *const *objs, size_t n_tables,
                    const char *const *items, size_t n_items, leap_err *err) {
    for (size_t i = 0; i < n_items; i++) {
        const char *eq = strchr(items[i], '=');
        if (!eq || eq == items[i])
            return leap_err_set(err, LEAP_EINVAL, "--set '%s': expected key=value", items[i]);
        char key[128];
        size_t kl = (size_t)(eq - items[i]);
        if (kl >= sizeof key)
            return leap_err_set(err, LEAP_EINVAL, "--set '%s': key too long", items[i]);
        memcpy(key, items[i], kl);
        key[kl] = 0;
        size_t t = 0;
        for (; t < n_tables; t++)
            if (leap_opts_find(tables[t], key)) break;
        if (t == n_tables) {
            char known[1024];
            size_t off = 0;
            known[0] = 0;
            for (size_t a = 0; a < n_tables; a++)
                for (size_t b = 0; b < tables[a]->n && off + 40 < sizeof known; b++)
                    off += (size_t)snprintf(known + off, sizeof known - off, "%s%s",
                                            off ? ", " : "", tables[a]->defs[b].name);
            return leap_err_set(err, LEAP_EINVAL, "unknown option '%s' (known: %s)", key, known);
        }
        int rc = leap_opts_set(tables[t], objs[t], key, eq + 1, err);
        if (rc) return rc;
    }
    return LEAP_OK;
}

void leap_opts_format(const leap_opt_def *d, const void *obj, char *buf, size_t len) {
    void *o = (void *)obj;
    switch (d->type) {
    case LEAP_OPT_FLOAT: snprintf(buf, len, "%.17g", *fptr(d, o)); break;
    case LEAP_OPT_INT: snprintf(buf, len, "%d", *iptr(d, o)); break;
    case LEAP_OPT_BOOL: snprintf(buf, len, "%s", *iptr(d, o) ? "true" : "false"); break;
    case LEAP_OPT_ENUM: choice_name(d->choices, *iptr(d, o), buf, len); break;
    case LEAP_OPT_STRING: snprintf(buf, len, "%s", sptr(d, o)); break;
    default: snprintf(buf, len, "?");
    }
}

static const char *type_name(const leap_opt_def *d) {
    switch (d->type) {
    case LEAP_OPT_FLOAT: return "float";
    case LEAP_OPT_INT: return "int";
    case LEAP_OPT_BOOL: return "bool";
    case LEAP_OPT_ENUM: return d->choices;
    case LEAP_OPT_STRING: return "string";
    default: return "?";
    }
}

void leap_opts_print_help(FILE *f, const leap_opt_table *t) {
    fprintf(f, "%s options (--set KEY=VALUE):\n", t->component);
    for (size_t i = 0; i < t->n; i++) {
        const leap_opt_def *d = &t->defs[i];
        char def[64], range[96] = "";
        if (d->type == LEAP_OPT_ENUM || d->type == LEAP_OPT_BOOL) {
            choice_name(d->type == LEAP_OPT_ENUM ? d->choices : "false|true", (int)d->def, def,
                        sizeof def);
        } else if (d->type == LEAP_OPT_STRING) {
            snprintf(def, sizeof def, "%s", d->choices && d->choices[0] ? d->choices : "\"\"");
        } else {
            snprintf(def, sizeof def, "%g", d->def);
            snprintf(range, sizeof range, "[%g, %g]", d->min, d->max);
        }
        fprintf(f, "  %-16s %-14s default %-10s %-18s %s\n", d->name, type_name(d), def, range,
                d->help);
    }
}

void leap_opts_write(FILE *f, const leap_opt_table *t, const void *obj, const char *prefix) {
    char buf[LEAP_OPT_STR_MAX + 64];
    for (size_t i = 0; i < t->n; i++) {
        leap_opts_format(&t->defs[i], obj, buf, sizeof buf);
        fprintf(f, "%s%s=%s\n", prefix ? prefix : "", t->defs[i].name, buf);
    }
}
