/* leap/ingest.h — raw log readers (Criteo TSV, CSV/TSV + YAML schema, libsvm;
 * plain, .gz or .zst) and the ingest pipeline that turns them into a dataset.
 *
 * Readers stream rows into a leap_rowgroup; `leap predict` uses the same
 * reader, so a raw row is parsed identically at ingest and at scoring time.
 * Errors name FILE:LINE and the reason ("FILE:12: column I3: 'abc' is not a number").
 */
#ifndef LEAP_INGEST_H
#define LEAP_INGEST_H

#include "leap/dataset.h"

typedef enum leap_format {
    LEAP_FMT_CRITEO, /* label \t I1..I13 \t C1..C26, no header; empty = missing */
    LEAP_FMT_CSV,    /* delimited text + YAML schema (see docs/FORMATS.md) */
    LEAP_FMT_LIBSVM, /* label idx:val ... ; label 0/1 or -1/+1 */
    LEAP_FMT_COUNT
} leap_format;

/* "criteo" | "csv" | "libsvm" -> format, or -1. */
int leap_format_from_name(const char *name);

typedef enum leap_bad_rows { LEAP_BAD_ROWS_FAIL, LEAP_BAD_ROWS_SKIP } leap_bad_rows;

typedef struct leap_reader_opts {
    leap_format format;
    const char *schema_path; /* YAML schema, LEAP_FMT_CSV only */
    leap_bad_rows bad_rows;
    int keep_dict; /* remember raw category strings (see leap_reader_dict_*) */
} leap_reader_opts;

#define LEAP_MAX_BAD_LINES 10

/* Counters a reader keeps; bad rows are only counted under LEAP_BAD_ROWS_SKIP. */
typedef struct leap_read_stats {
    uint64_t rows, bad_rows, bytes;
    uint64_t first_bad_lines[LEAP_MAX_BAD_LINES];
    size_t n_first_bad;
} leap_read_stats;

typedef struct leap_reader leap_reader;

/* Opens one input file (compression detected from the name and magic bytes).
 * The schema (fixed for criteo/libsvm, from the YAML file for csv) is
 * available right after open. */
int leap_reader_open(const leap_reader_opts *o, const char *path, leap_reader **out, leap_err *err);
const leap_schema *leap_reader_schema(const leap_reader *r);
/* Reads up to max_rows rows into rg (rg initialised for the reader's schema).
 * rg->n_rows == 0 means end of input. */
int leap_reader_next(leap_reader *r, leap_rowgroup *rg, size_t max_rows, leap_err *err);
const leap_read_stats *leap_reader_stats(const leap_reader *r);
void leap_reader_close(leap_reader *r);

/* Same as leap_reader_open over data[0..len) (plain, gzip or zstd bytes),
 * which is borrowed and must outlive the reader; name is only used in
 * messages (NULL = "<memory>"). For fuzzing and tests. */
int leap_reader_open_mem(const leap_reader_opts *o, const void *data, size_t len, const char *name,
                         leap_reader **out, leap_err *err);

/* With keep_dict: raw text of the categorical values read so far, one entry
 * per distinct (column, hash), in first-seen order. Pointers are valid until
 * the next leap_reader_next or close. */
size_t leap_reader_dict_count(const leap_reader *r);
void leap_reader_dict_at(const leap_reader *r, size_t i, size_t *col, uint64_t *hash,
                         const char **s, size_t *len);

typedef struct leap_ingest_opts {
    leap_reader_opts reader;
    const char *const *inputs; /* [n_inputs] paths; globs already expanded */
    size_t n_inputs;
    const char *output;    /* dataset path */
    int threads;           /* 0 = all cores */
    size_t row_group_rows; /* 0 = LEAP_DEFAULT_ROW_GROUP_ROWS */
    int zstd_level;        /* 0 = default */
    int progress;          /* show a progress bar when stderr is a terminal */
} leap_ingest_opts;

typedef struct leap_ingest_report {
    leap_read_stats stats;
    double seconds;
    size_t row_groups;
} leap_ingest_report;

/* Reads all inputs and writes one dataset atomically. */
int leap_ingest(const leap_ingest_opts *o, leap_ingest_report *rep, leap_err *err);
/* Same pipeline, no file: the decoded row groups stay in memory as a dataset
 * (leap_dataset_open_memory) that the caller closes. o->output is unused.
 * For training straight from raw logs that fit in memory. */
int leap_ingest_memory(const leap_ingest_opts *o, leap_dataset **out, leap_ingest_report *rep,
                       leap_err *err);

/* Stream mode: the ingest pipeline hands every parsed row group to a sink
 * instead of writing it. start runs once with the schema and the number of
 * slots K (row groups parsed at once); work runs in parallel on each parsed
 * group (slot in [0, K), distinct within a batch; may modify the group);
 * emit then runs for the batch's groups one at a time in input order. Used by
 * `leap predict` to parse, score and write raw logs on all cores. */
typedef struct leap_ingest_sink {
    void *user;
    int (*start)(void *user, const leap_schema *s, size_t slots, leap_err *err);
    int (*work)(void *user, leap_rowgroup *rg, size_t slot, int thread, leap_err *err);
    int (*emit)(void *user, const leap_rowgroup *rg, size_t slot, leap_err *err);
} leap_ingest_sink;
int leap_ingest_stream(const leap_ingest_opts *o, const leap_ingest_sink *sink,
                       leap_ingest_report *rep, leap_err *err);

/* Parse-only throughput probe for benchmarks: parses every row of path into
 * row groups and discards them. */
int leap_ingest_parse_only(const leap_reader_opts *o, const char *path, leap_read_stats *st,
                           leap_err *err);

#endif
