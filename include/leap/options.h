/* leap/options.h — one declarative option table per component.
 *
 * A table of {name, type, offset, default, min, max, choices, help} drives
 * the `--set key=value` flags, pipeline keys, validation with readable
 * messages, `--help` listings and the options recorded in a model bundle.
 * Components (featurizer, trainer, each model) own a plain struct and a table
 * describing its fields; nothing else lists their options by hand.
 */
#ifndef LEAP_OPTIONS_H
#define LEAP_OPTIONS_H

#include "leap/core.h"

typedef enum leap_opt_type {
    LEAP_OPT_INT,    /* int field */
    LEAP_OPT_FLOAT,  /* double field */
    LEAP_OPT_BOOL,   /* int field, 0/1; accepts true/false/1/0 */
    LEAP_OPT_ENUM,   /* int field: index into choices "a|b|c" */
    LEAP_OPT_STRING, /* char[LEAP_OPT_STR_MAX] field; `choices` holds its default text */
    LEAP_OPT_COUNT
} leap_opt_type;

#define LEAP_OPT_STR_MAX 256 /* bytes of a LEAP_OPT_STRING field, with the NUL */

typedef struct leap_opt_def {
    const char *name;
    leap_opt_type type;
    size_t offset; /* offsetof the field in the component's struct */
    double def, min, max;
    const char
        *choices; /* LEAP_OPT_ENUM: "ftrl|adagrad"; LEAP_OPT_STRING: the default ("" = none) */
    const char *help;
} leap_opt_def;

typedef struct leap_opt_table {
    const char *component; /* "model lr", "trainer", "featurizer" */
    const leap_opt_def *defs;
    size_t n;
} leap_opt_table;

/* Fills every field of obj with its default. */
void leap_opts_defaults(const leap_opt_table *t, void *obj);
/* The definition named key, or NULL. */
const leap_opt_def *leap_opts_find(const leap_opt_table *t, const char *key);
/* Parses value and stores it; range and choice checked. Errors name the key,
 * the value seen and the allowed range ("option 'alpha': 0 is below the minimum 1e-06"). */
int leap_opts_set(const leap_opt_table *t, void *obj, const char *key, const char *value,
                  leap_err *err);
/* Applies "key=value" items to the first table that knows each key. An
 * unknown key is an error listing the known keys. */
int leap_opts_apply(const leap_opt_table *const *tables, void *const *objs, size_t n_tables,
                    const char *const *items, size_t n_items, leap_err *err);
/* Formats the value of d in obj into buf ("0.05", "ftrl", "true", a string as is). */
void leap_opts_format(const leap_opt_def *d, const void *obj, char *buf, size_t len);
/* "--help" listing: name, type/choices, default, range, help. */
void leap_opts_print_help(FILE *f, const leap_opt_table *t);
/* Writes "prefix.key=value\n" for every option (bundle metadata, tracking). */
void leap_opts_write(FILE *f, const leap_opt_table *t, const void *obj, const char *prefix);

#endif
