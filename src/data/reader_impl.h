/* reader_impl.h — private: the line parsers behind leap_reader and leap_ingest.
 *
 * A parser (leap__parser) is built once per input file and is read-only
 * afterwards, so many threads parse different blocks of the same file at once,
 * each with its own leap__scratch, leap__dict and leap_read_stats. A block is a
 * run of whole lines with the line number of its first line, cut by
 * leap__reader_read_block; leap__parse_lines appends its rows to a row group.
 * Nothing here prints; bad rows become "FILE:LINE: reason" in a leap_err. */
#ifndef LEAP_DATA_READER_IMPL_H
#define LEAP_DATA_READER_IMPL_H

#include "leap/ingest.h"

/* A run of whole lines (the last one may lack its '\n' at end of input). */
typedef struct leap__block {
    char *data; /* [cap], owned */
    size_t len, cap;
    uint64_t first_line; /* 1-based line number of data[0] in its file */
    size_t n_lines;
} leap__block;
void leap__block_free(leap__block *b);

/* Raw text of categorical values seen, deduplicated by (column, hash). */
typedef struct leap__dict_entry {
    uint64_t hash;
    size_t off; /* into text */
    uint32_t len;
    uint32_t col;
} leap__dict_entry;
typedef struct leap__dict {
    leap__dict_entry *e; /* [n] in first-seen order */
    size_t n, cap;
    char *text; /* [tlen] all values back to back */
    size_t tlen, tcap;
    uint32_t *slots; /* [nslots] open addressing: index + 1, 0 = empty */
    size_t nslots;
    int oom; /* an allocation failed; entries may be missing */
} leap__dict;
void leap__dict_add(leap__dict *d, uint32_t col, uint64_t hash, const char *s, size_t len);
void leap__dict_clear(leap__dict *d);
void leap__dict_free(leap__dict *d);

/* Per-thread scratch: field spans and an unescape buffer, grown on demand
 * (amortised: no allocation per row once warm). */
typedef struct leap__span {
    const char *p;
    size_t n;
} leap__span;
typedef struct leap__scratch {
    leap__span *spans; /* [span_cap] */
    size_t span_cap;
    char *buf; /* [buf_cap] unescaped quoted fields, timestamp copies */
    size_t buf_cap;
} leap__scratch;
void leap__scratch_free(leap__scratch *s);

/* What the CSV reader does with one field position of a line. */
typedef struct leap__csv_field {
    int col; /* stored column index, or -1 (ignore) */
    leap_col_type type;
    char sep;         /* MULTI_CATEGORICAL separator */
    uint8_t weighted; /* MULTI_CATEGORICAL values are value:weight */
    uint8_t ts_unix;  /* TIMESTAMP as integer seconds */
    char *ts_format;  /* TIMESTAMP strptime format, owned */
    char name[LEAP_NAME_MAX];
} leap__csv_field;

/* One column as written in the YAML schema. */
typedef struct leap__csv_spec {
    char name[LEAP_NAME_MAX];
    leap_col_type type;
    int ignore;
    char sep;
    uint8_t weighted;
    uint8_t ts_unix;
    char *ts_format; /* owned */
} leap__csv_spec;

typedef struct leap__parser {
    leap_format format;
    leap_bad_rows bad_rows;
    int keep_dict;
    char fname[4096];   /* file name used in messages */
    leap_schema schema; /* stored columns; cols owned */
    /* csv */
    char delim;
    int header;
    int has_default;
    leap__csv_spec dflt;   /* type for header columns missing from the schema */
    leap__csv_spec *specs; /* [n_specs] from the YAML file, owned */
    size_t n_specs;
    leap__csv_field *fields; /* [n_fields] per field position of a line, owned */
    size_t n_fields;
} leap__parser;

void leap__parser_free(leap__parser *p);

/* Format setup (reader_criteo.c, reader_csv.c, reader_libsvm.c). */
int leap__criteo_setup(leap__parser *p, leap_err *err);
int leap__libsvm_setup(leap__parser *p, leap_err *err);
/* Loads the YAML schema; when the schema has header: true the caller then
 * passes the file's first line to leap__csv_bind (NULL otherwise). */
int leap__csv_load_schema(leap__parser *p, const char *schema_path, leap_err *err);
int leap__csv_bind(leap__parser *p, const char *header, size_t len, leap_err *err);

/* Parses one line [s, e) (no '\n', no trailing '\r') into row `row` of rg,
 * whose columns have room for it. Returns 0, or -1 with the reason in
 * why[0..why_n) ("column I3: 'abc' is not an integer"). The row is only
 * counted by the caller on success; a failed row leaves garbage in slot
 * `row` that the next row overwrites. */
typedef int (*leap__line_fn)(const leap__parser *p, const char *s, const char *e, leap_rowgroup *rg,
                             size_t row, leap__scratch *sc, leap__dict *d, char *why, size_t why_n);
int leap__criteo_line(const leap__parser *p, const char *s, const char *e, leap_rowgroup *rg,
                      size_t row, leap__scratch *sc, leap__dict *d, char *why, size_t why_n);
int leap__csv_line(const leap__parser *p, const char *s, const char *e, leap_rowgroup *rg,
                   size_t row, leap__scratch *sc, leap__dict *d, char *why, size_t why_n);
int leap__libsvm_line(const leap__parser *p, const char *s, const char *e, leap_rowgroup *rg,
                      size_t row, leap__scratch *sc, leap__dict *d, char *why, size_t why_n);

/* Makes room for value index `need` (exclusive) in multi-categorical column
 * col of rg. Returns 0 or -1 (out of memory). */
int leap__rg_values(leap_rowgroup *rg, size_t col, size_t need);

/* Parses lines of data[0..len) whose first line is *line, appending at most
 * max_rows rows to rg. *consumed gets the bytes used (whole lines), *line
 * advances. Bad rows: under LEAP_BAD_ROWS_FAIL returns LEAP_EPARSE with
 * "FILE:LINE: reason"; under SKIP counts them in st. st->rows and st->bytes
 * are incremented too. */
int leap__parse_lines(const leap__parser *p, const char *data, size_t len, uint64_t *line,
                      size_t max_rows, size_t *consumed, leap_rowgroup *rg, leap__scratch *sc,
                      leap__dict *d, leap_read_stats *st, leap_err *err);

/* Fills b with the next whole lines of r's input: at most max_lines lines and
 * (unless a single line is longer) max_bytes bytes. b->len == 0 at end. */
int leap__reader_read_block(leap_reader *r, leap__block *b, size_t max_lines, size_t max_bytes,
                            leap_err *err);
const leap__parser *leap__reader_parser(const leap_reader *r);
/* Compressed bytes consumed and total size of r's file, for progress. */
uint64_t leap__reader_raw_pos(const leap_reader *r);
uint64_t leap__reader_raw_size(const leap_reader *r);

/* Small shared number parsers (reader.c). Strict: the whole [s, s+n) must be
 * the number. Return 0 or -1. */
int leap__parse_number(const char *s, size_t n, double *out);
int leap__parse_int(const char *s, size_t n, int64_t *out);

#endif
