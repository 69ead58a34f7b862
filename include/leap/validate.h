/* leap/validate.h — data validation against an editable schema (`leap schema
 * infer`, `leap validate`), in the manner of TensorFlow Data Validation.
 *
 *     leap_vschema vs;  leap_validate_report rep;
 *     leap_vschema_infer(train_ds, threads, &vs, &err);     // from a clean dataset
 *     leap_vschema_write(f, &vs, "train.lds");              // editable YAML
 *     leap_vschema_load("schema.yaml", &vs, &err);          // FILE:LINE:COL errors
 *     leap_validate_run(ds, baseline_or_NULL, &vs, threads, &rep, &err);
 *     for (size_t i = 0; i < rep.n; i++) ... rep.items[i] ...
 *     leap_validate_report_free(&rep);  leap_vschema_free(&vs);
 *
 * What is checked, per schema column (figures from leap_stats_compute plus one
 * exact counting pass over each dataset):
 *   missing_column   in the schema, not in the data
 *   extra_column     in the data, not in the schema
 *   type_mismatch    the data's type differs from the schema's (other checks skipped)
 *   missing_values   `required: true` but some rows lack a value (measured: the rate)
 *   missing_rate     missing rate above `max_missing_rate`
 *   below_min        numeric values below `min` (measured: observed min; count: exact
 *                    values) when their share exceeds `max_out_of_range_rate` (default 0)
 *   above_max        the same above `max`
 *   out_of_domain    categorical values outside `domain` (measured: their share of values)
 *   new_values       with a baseline: share of values never seen in the baseline,
 *                    above `max_new_rate` (columns without a domain)
 *   drift_linf       with a baseline: L-infinity distance between the value shares of
 *                    the two datasets over the union of both top-128 lists (exact counts)
 *   drift_js         with a baseline: Jensen–Shannon divergence (base 2, in [0, 1]) of
 *                    the two value histograms on the baseline's 22 bin edges (exact counts)
 * Training/serving skew is the same comparison with a log of served requests
 * as the data and the training set as the baseline.
 *
 * Library code only: nothing here prints unless given a FILE*.
 */
#ifndef LEAP_VALIDATE_H
#define LEAP_VALIDATE_H

#include "leap/core.h"
#include "leap/dataset.h"

#define LEAP_VSCHEMA_VERSION    1
#define LEAP_VSCHEMA_DOMAIN_MAX 100 /* infer writes a domain up to this many distinct values */
#define LEAP_VALIDATE_TOP       128 /* top values per column compared for drift */

/* One column of a validation schema. NaN in a double = no such bound. */
typedef struct leap_vschema_col {
    char name[LEAP_NAME_MAX];
    leap_col_type type;
    int required;                 /* 1: no missing value allowed */
    double max_missing_rate;      /* in [0, 1] */
    double min, max;              /* numeric-like columns: expected range */
    double max_out_of_range_rate; /* share of values allowed outside [min, max]; NaN = 0 */
    int has_domain;               /* 1: domain[] is given (may be empty) */
    char **domain;                /* [n_domain] value texts; "#<16 hex>" = a stored hash; owned */
    size_t n_domain;
    double max_new_rate; /* categorical: share of values new vs the baseline */
    double drift_linf;   /* categorical drift bound */
    double drift_js;     /* numeric drift bound */
} leap_vschema_col;

typedef struct leap_vschema {
    int version;
    size_t n_cols;
    leap_vschema_col *cols; /* [n_cols]; owned */
} leap_vschema;

void leap_vschema_free(leap_vschema *s);

/* Profiles ds (leap_stats_compute on `threads` threads, 0 = all CPUs) and
 * fills out with the bounds described in docs/FORMATS.md. out is
 * overwritten; free it with leap_vschema_free, also after an error. */
int leap_vschema_infer(leap_dataset *ds, int threads, leap_vschema *out, leap_err *err);

/* Writes s as YAML (C locale, %.17g). source (may be NULL) is named in a
 * comment. Returns 0 or LEAP_EIO. Does not close f. */
int leap_vschema_write(FILE *f, const leap_vschema *s, const char *source);

/* Parses YAML text (len bytes; name is used in messages). Errors are
 * LEAP_EPARSE with "NAME:LINE:COL: reason" where a position is known:
 * unknown keys, values of the wrong type, unknown column types, duplicate
 * columns, bounds out of range. out is overwritten; free it also on error. */
int leap_vschema_parse(const char *text, size_t len, const char *name, leap_vschema *out,
                       leap_err *err);
/* Reads and parses the file at path. */
int leap_vschema_load(const char *path, leap_vschema *out, leap_err *err);

#define LEAP_ANOMALY_MAP(XX)                                                                       \
    XX(MISSING_COLUMN, "missing_column")                                                           \
    XX(EXTRA_COLUMN, "extra_column")                                                               \
    XX(TYPE_MISMATCH, "type_mismatch")                                                             \
    XX(MISSING_VALUES, "missing_values")                                                           \
    XX(MISSING_RATE, "missing_rate")                                                               \
    XX(BELOW_MIN, "below_min")                                                                     \
    XX(ABOVE_MAX, "above_max")                                                                     \
    XX(OUT_OF_DOMAIN, "out_of_domain")                                                             \
    XX(NEW_VALUES, "new_values")                                                                   \
    XX(DRIFT_LINF, "drift_linf")                                                                   \
    XX(DRIFT_JS, "drift_js")

typedef enum leap_anomaly_kind {
#define LEAP_XX_ANOM(name, str) LEAP_ANOMALY_##name,
    LEAP_ANOMALY_MAP(LEAP_XX_ANOM)
#undef LEAP_XX_ANOM
        LEAP_ANOMALY_KIND_COUNT
} leap_anomaly_kind;

const char *leap_anomaly_kind_name(leap_anomaly_kind k);

typedef struct leap_anomaly {
    char column[LEAP_NAME_MAX];
    leap_anomaly_kind kind;
    double value;       /* the measured figure (NaN for missing/extra column) */
    double bound;       /* the schema's bound (NaN when none) */
    uint64_t count;     /* rows (or values) concerned, where counted */
    char measured[128]; /* the measured figure as text, with details */
    char limit[96];     /* the bound as text */
} leap_anomaly;

typedef struct leap_validate_report {
    uint64_t rows, baseline_rows;
    size_t n;
    leap_anomaly *items; /* [n], schema order then data order; owned */
} leap_validate_report;

/* Checks ds (and, when baseline is non-NULL, its drift from baseline)
 * against s. out is overwritten; free it with leap_validate_report_free,
 * also after an error. Errors: read errors of either dataset, LEAP_ENOMEM. */
int leap_validate_run(leap_dataset *ds, leap_dataset *baseline, const leap_vschema *s, int threads,
                      leap_validate_report *out, leap_err *err);
void leap_validate_report_free(leap_validate_report *r);

/* Distances between two count (or weight) vectors of n entries, each
 * normalised to sum 1 first (an all-zero vector counts as all-zero shares).
 * JS divergence uses log base 2 (result in [0, 1]); L-infinity is the
 * largest absolute difference of shares. */
double leap_js_divergence(const double *p, const double *q, size_t n);
double leap_linf_distance(const double *p, const double *q, size_t n);

/* Renderers: an aligned table (column, anomaly, measured, bound) or one
 * JSON object. Return 0 or LEAP_EIO. */
int leap_validate_write_table(FILE *f, const leap_validate_report *r);
int leap_validate_write_json(FILE *f, const leap_validate_report *r);

#endif
