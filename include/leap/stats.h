/* leap/stats.h — column profiles of a dataset (`leap stats`): counts, missing
 * rates, distinct estimates, heavy hitters, moments, quantiles, histograms and
 * label rates, computed on all cores in two passes over the row groups.
 *
 *     leap_stats_opts o;  leap_stats st;
 *     leap_stats_opts_init(&o);  o.threads = 8;
 *     leap_stats_compute(ds, &o, &st, &err);
 *     leap_stats_write_table(stdout, &st);     // or _write_json / _write_html
 *     leap_stats_free(&st);
 *
 * How each figure is made, and how exact it is:
 *   count, missing          exact.
 *   distinct                HyperLogLog, p = 14 (standard error 0.81%) over the
 *                           value hashes (categoricals: the stored XXH3 hash;
 *                           numerics: the float bits, -0 folded into +0).
 *   top values              Space-Saving (capacity 20·K per thread, merged)
 *                           finds candidates in pass 1; pass 2 counts the
 *                           candidates exactly, so every reported count is exact
 *                           and every value whose frequency exceeds
 *                           rows / (20·K) is among the candidates.
 *   min, max, mean, std     exact (Welford per row group, merged in row-group
 *                           order: identical for any thread count).
 *   quantiles               KLL, k = 200; normalised rank error at most
 *                           kll_rank_error (99% confidence). May differ slightly
 *                           between thread counts; identical for one count.
 *   histogram               exact counts (pass 2) in 20 bins between p01 and p99
 *                           plus underflow (< p01) and overflow (> p99) bins.
 *                           The bins are equal-width, or equal in log scale when
 *                           p01 > 0 and p99 / p01 > 1000 (more than 3 decades).
 *   label rate              exact: sum(w·y) / sum(w) over rows whose label is
 *                           present; w is the weight column (missing weight = 1)
 *                           or 1 without one. Per value for --label-by columns.
 *
 * Library code only: nothing here prints unless given a FILE*.
 */
#ifndef LEAP_STATS_H
#define LEAP_STATS_H

#include "leap/core.h"
#include "leap/dataset.h"

#define LEAP_STATS_N_QUANTILES 7
#define LEAP_STATS_HIST_BINS   20
#define LEAP_STATS_HLL_P       14
#define LEAP_STATS_KLL_K       200

/* The quantile ranks reported, in order: 0.01 0.05 0.25 0.5 0.75 0.95 0.99. */
extern const double leap_stats_quantile_ranks[LEAP_STATS_N_QUANTILES];

typedef struct leap_stats_opts {
    int threads;                 /* >= 1; 0 = all CPUs */
    size_t top_k;                /* values reported per column; 0 = default 10 */
    const char *const *label_by; /* [n_label_by] column names; not owned */
    size_t n_label_by;
} leap_stats_opts;

void leap_stats_opts_init(leap_stats_opts *o);
/* Checks o against the dataset's schema: NULL when fine, else a message
 * naming the bad option or column (static or written into buf). */
const char *leap_stats_opts_check(const leap_stats_opts *o, const leap_schema *s, char *buf,
                                  size_t len);

/* One reported value of a column. */
typedef struct leap_stats_value {
    char *text;        /* dictionary text, "#hexhash", or the number; owned, NUL-terminated */
    uint64_t key;      /* the stored hash (categorical) or an encoding of the number */
    uint64_t count;    /* exact occurrences (rows, or values for multi-categorical) */
    double label_w;    /* --label-by columns only: sum(w) of rows holding the value */
    double label_wy;   /* --label-by columns only: sum(w·y) of those rows */
    double label_rate; /* label_wy / label_w; NaN when label_w = 0 or not a label-by column */
} leap_stats_value;

typedef struct leap_stats_column {
    char name[LEAP_NAME_MAX];
    leap_col_type type;
    uint64_t present; /* rows with a value */
    uint64_t missing; /* rows without one */
    double missing_rate;
    double distinct; /* HLL estimate over the values */

    leap_stats_value *top; /* [n_top], most frequent first (ties: smaller key first); owned */
    size_t n_top;
    int label_by; /* 1: top[].label_* are filled */

    /* numeric-like columns (label, weight, numeric, timestamp) */
    int numeric;
    double min, max, mean, std; /* NaN when no value */
    double quantiles[LEAP_STATS_N_QUANTILES];
    int hist_log;                                /* 1: log-scale bin edges */
    double hist_edges[LEAP_STATS_HIST_BINS + 1]; /* edges[0] = p01, edges[20] = p99 */
    uint64_t hist_under;                         /* values < edges[0] */
    uint64_t hist[LEAP_STATS_HIST_BINS]; /* [edges[i], edges[i+1]); the last bin is closed */
    uint64_t hist_over;                  /* values > edges[20] */

    /* multi-categorical columns */
    int multi;
    uint64_t n_values;          /* values over all rows */
    double values_per_row_mean; /* n_values / rows */
    uint64_t values_per_row_max;
} leap_stats_column;

typedef struct leap_stats {
    char *path; /* owned */
    uint64_t rows;
    size_t row_groups;
    int threads;
    size_t top_k;
    double kll_rank_error; /* rank-error bound of the quantiles (0 when no numeric column) */
    int label_col;         /* -1 when none */
    int weight_col;        /* -1 when none */
    double label_w, label_wy, label_rate; /* overall; rate NaN without a label */
    size_t n_cols;
    leap_stats_column *cols; /* [n_cols], schema order; owned */
} leap_stats;

/* Profiles every column of ds. out is overwritten (free it with
 * leap_stats_free, also after an error). Reads every row group twice;
 * memory is O(threads · columns · (2^14 + K + KLL)) plus one decoded row group
 * per thread. Errors: bad options (LEAP_EINVAL naming the column), read and
 * checksum errors from the dataset, LEAP_ENOMEM. */
int leap_stats_compute(leap_dataset *ds, const leap_stats_opts *o, leap_stats *out, leap_err *err);
void leap_stats_free(leap_stats *s);

/* Renderers. None allocates on the caller's behalf or closes f. The table is
 * for people (one block per column); JSON is one object (C locale, %.9g, NaN
 * and infinities as null); HTML is a self-contained page (no external assets,
 * inline SVG histograms, all text escaped). Return 0, or LEAP_EIO when f
 * reports a write error. */
int leap_stats_write_table(FILE *f, const leap_stats *s);
int leap_stats_write_json(FILE *f, const leap_stats *s);
int leap_stats_write_html(FILE *f, const leap_stats *s);

#endif
