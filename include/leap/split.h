/* leap/split.h — deterministic train/valid/test splits of a dataset, with
 * optional negative downsampling of the train output.
 *
 *     leap_split_opts o;  leap_split_opts_init(&o);
 *     o.input = "all.lds";  o.prefix = "day1";
 *     leap_split_parse_by("hash:user_id", &o, &err);
 *     leap_split_parse_fractions("0.8,0.1,0.1", &o, &err);
 *     if (leap_split_opts_check(&o, &err) || leap_split(&o, &rep, &err)) ...
 *     // wrote day1.train.lds day1.valid.lds day1.test.lds
 *
 * Rules (the same inputs always give byte-identical outputs):
 *   ROW_HASH     row r goes to the first split s with u(seed, r) < cum_frac[s],
 *                u uniform in [0,1) from a hash of the seed and the global row index.
 *   COLUMN_HASH  the same with u(seed, value of the column): equal values stay together.
 *   TIME         rows ordered by (column value, row index); the first
 *                round(f0 * N) go to train, the next round((f0+f1) * N) - ... to valid,
 *                the rest to test. Missing values (NaN, INT64_MIN) count as earliest.
 *   neg_rate R   train only: a negative row (label <= 0.5) is kept when
 *                u'(seed, r) < R and its weight is multiplied by 1/R; positives are
 *                kept unchanged. A `weight` column is appended when the dataset has
 *                none. Metadata neg_sample_rate = R (times any rate already recorded).
 * Every output keeps the input's columns, dictionaries and metadata, plus
 * metadata `split` ("train of hash seed=1 fractions=0.8,0.1,0.1"). Row order
 * within each output is the input order. */
#ifndef LEAP_SPLIT_H
#define LEAP_SPLIT_H

#include "leap/dataset.h"

#define LEAP_SPLIT_MAX_OUTPUTS 3

typedef enum leap_split_by {
    LEAP_SPLIT_BY_ROW_HASH,
    LEAP_SPLIT_BY_COLUMN_HASH,
    LEAP_SPLIT_BY_TIME,
    LEAP_SPLIT_BY_COUNT
} leap_split_by;

typedef struct leap_split_opts {
    const char *input;  /* dataset path; borrowed */
    const char *prefix; /* outputs PREFIX.train.lds ...; borrowed */
    leap_split_by by;
    const char *column; /* COLUMN_HASH, TIME: column name; borrowed */
    double fractions[LEAP_SPLIT_MAX_OUTPUTS];
    size_t n_fractions; /* 2 (train, test) or 3 (train, valid, test) */
    uint64_t seed;
    double neg_rate; /* 0 = no downsampling; else in (0, 1] */
    int threads;     /* 0 = all cores */
    int zstd_level;  /* 0 = default */
} leap_split_opts;

typedef struct leap_split_report {
    size_t n_outputs;
    char paths[LEAP_SPLIT_MAX_OUTPUTS][4096];
    uint64_t rows_in, positives_in;
    uint64_t rows[LEAP_SPLIT_MAX_OUTPUTS];
    uint64_t positives[LEAP_SPLIT_MAX_OUTPUTS]; /* label > 0.5; 0 when no label column */
    double weight_sum[LEAP_SPLIT_MAX_OUTPUTS];  /* sum of output weights (1 per row if none) */
    double weighted_positives[LEAP_SPLIT_MAX_OUTPUTS];
    int has_label;
    double seconds;
} leap_split_report;

/* Defaults: ROW_HASH, fractions 0.8,0.1,0.1, seed 1, no downsampling. */
void leap_split_opts_init(leap_split_opts *o);
/* "hash" | "hash:COLUMN" | "time:COLUMN". o->column points into s afterwards
 * (s must outlive o). EINVAL with a message on anything else. */
int leap_split_parse_by(const char *s, leap_split_opts *o, leap_err *err);
/* "A,B" or "A,B,C". Values are checked by leap_split_opts_check. */
int leap_split_parse_fractions(const char *s, leap_split_opts *o, leap_err *err);
/* Validates o without touching any file: fractions positive and summing to 1
 * (within 1e-6), 2 or 3 of them, a column for COLUMN_HASH/TIME, neg_rate in
 * (0, 1] or 0, paths present. Returns LEAP_OK or EINVAL with a readable message. */
int leap_split_opts_check(const leap_split_opts *o, leap_err *err);
/* "train", "valid", "test" (with 2 outputs: "train", "test"). Static string. */
const char *leap_split_output_name(size_t i, size_t n_outputs);

/* Runs the split on o->threads threads and writes every output atomically;
 * on any error no output file is left behind (outputs committed before the
 * failure are removed). rep may be NULL. Errors name the file and column. */
int leap_split(const leap_split_opts *o, leap_split_report *rep, leap_err *err);

#endif
