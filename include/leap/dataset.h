/* leap/dataset.h — the columnar dataset (.lds): schema, row groups, reader, writer.
 *
 * A dataset is one file: a header, row groups of up to `row_group_rows` rows,
 * each column of each row group stored as one zstd-compressed chunk with its
 * own XXH3 checksum, and a footer holding the schema, key/value metadata, the
 * row-group index and optional categorical dictionaries. The file is mapped
 * read-only; a row group is decoded on demand into a caller-owned
 * leap_rowgroup, so many threads read different row groups at once.
 * The byte layout is in docs/FORMATS.md.
 *
 *     leap_dataset *ds;  leap_rowgroup rg;
 *     leap_dataset_open("train.lds", &ds, &err);
 *     leap_rowgroup_init(&rg, leap_dataset_schema(ds));
 *     for (size_t g = 0; g < leap_dataset_num_row_groups(ds); g++) {
 *         leap_dataset_read_row_group(ds, g, &rg, &err);
 *         ... rg.cols[c].f32[i] ...
 *     }
 *     leap_rowgroup_free(&rg);  leap_dataset_close(ds);
 *
 * Physical storage per logical type:
 *   LABEL, WEIGHT, NUMERIC  float32 [n]; NaN = missing
 *   CATEGORICAL             uint64  [n]; XXH3-64 of the value's text, 0 = missing
 *   MULTI_CATEGORICAL       uint32 offsets [n+1] + uint64 values [offsets[n]]
 *                           (+ float32 weights [offsets[n]] when the column is weighted;
 *                           libsvm's idx:val pairs are a weighted column "features")
 *   TIMESTAMP               int64   [n]; seconds since the epoch, INT64_MIN = missing
 */
#ifndef LEAP_DATASET_H
#define LEAP_DATASET_H

#include "leap/core.h"

#define LEAP_DS_MAGIC               "LEAPDS\x00\x01" /* 8 bytes at both ends of the file */
#define LEAP_DS_VERSION             1
#define LEAP_NAME_MAX               64
#define LEAP_DEFAULT_ROW_GROUP_ROWS 65536

#define LEAP_COL_TYPE_MAP(XX)                                                                      \
    XX(LABEL, "label")                                                                             \
    XX(NUMERIC, "numeric")                                                                         \
    XX(CATEGORICAL, "categorical")                                                                 \
    XX(MULTI_CATEGORICAL, "multi_categorical")                                                     \
    XX(WEIGHT, "weight")                                                                           \
    XX(TIMESTAMP, "timestamp")

typedef enum leap_col_type {
#define LEAP_XX_COL(name, str) LEAP_COL_##name,
    LEAP_COL_TYPE_MAP(LEAP_XX_COL)
#undef LEAP_XX_COL
        LEAP_COL_TYPE_COUNT
} leap_col_type;

const char *leap_col_type_name(leap_col_type t);
/* Returns the type for a name, or -1. */
int leap_col_type_from_name(const char *name);

/* Hash stored for a categorical value's text; never 0 (0 means missing). */
static inline uint64_t leap_cat_hash(const char *s, size_t len) {
    uint64_t h = leap_hash64(s, len, 0);
    return h ? h : 1;
}

typedef struct leap_column_def {
    char name[LEAP_NAME_MAX];
    leap_col_type type;
    uint8_t weighted; /* MULTI_CATEGORICAL only: each value carries a float weight */
} leap_column_def;

typedef struct leap_schema {
    size_t n_cols;
    leap_column_def *cols; /* [n_cols], owned by whoever built the schema */
} leap_schema;

/* Index of the column named name, or -1. */
int leap_schema_find(const leap_schema *s, const char *name);
/* Index of the first column of type t, or -1. */
int leap_schema_find_type(const leap_schema *s, leap_col_type t);
/* The Criteo layout: label, I1..I13 numeric, C1..C26 categorical.
 * cols must hold 40 entries. */
void leap_schema_criteo(leap_schema *s, leap_column_def cols[40]);

/* Decoded values of one column of one row group. Only the pointers of the
 * column's physical type are used; the others stay NULL. */
typedef struct leap_column {
    float *f32;        /* LABEL, WEIGHT, NUMERIC: [n] */
    uint64_t *u64;     /* CATEGORICAL: [n]; MULTI_CATEGORICAL: [offsets[n]] */
    int64_t *i64;      /* TIMESTAMP: [n] */
    uint32_t *offsets; /* MULTI_CATEGORICAL: [n + 1], offsets[0] = 0 */
    float *vw;         /* weighted MULTI_CATEGORICAL: [offsets[n]] value weights */
    size_t cap;        /* rows allocated */
    size_t vcap;       /* MULTI_CATEGORICAL values allocated */
} leap_column;

typedef struct leap_rowgroup {
    size_t n_rows;
    size_t n_cols;
    leap_col_type *types; /* [n_cols] */
    uint8_t *weighted;    /* [n_cols] */
    leap_column *cols;    /* [n_cols] */
    void *scratch;        /* decompression buffer, owned */
    size_t scratch_cap;
} leap_rowgroup;

/* Prepares an empty row group for schema s (copies the types). */
int leap_rowgroup_init(leap_rowgroup *rg, const leap_schema *s);
/* Makes room for `rows` rows (and `values` multi-categorical values per
 * multi column); keeps existing contents. */
int leap_rowgroup_reserve(leap_rowgroup *rg, size_t rows, size_t values);
void leap_rowgroup_free(leap_rowgroup *rg);

/* ---- reading --------------------------------------------------------------- */
typedef struct leap_dataset leap_dataset;

/* 1 when path is a readable file that starts with the dataset magic (a quick
 * probe to tell datasets from raw logs), else 0. */
int leap_dataset_probe(const char *path);

/* Maps and validates the header, footer and index (chunk checksums are
 * verified when a chunk is read). Errors name the file and what is wrong. */
int leap_dataset_open(const char *path, leap_dataset **out, leap_err *err);
void leap_dataset_close(leap_dataset *ds);

const leap_schema *leap_dataset_schema(const leap_dataset *ds);
const char *leap_dataset_path(const leap_dataset *ds);
uint64_t leap_dataset_num_rows(const leap_dataset *ds);
size_t leap_dataset_num_row_groups(const leap_dataset *ds);
size_t leap_dataset_row_group_rows(const leap_dataset *ds, size_t g);
/* Content fingerprint: XXH3 over all chunk checksums and the schema. */
uint64_t leap_dataset_fingerprint(const leap_dataset *ds);
/* Metadata value for key, or NULL. Pointer valid until close. */
const char *leap_dataset_meta_get(const leap_dataset *ds, const char *key);
size_t leap_dataset_meta_count(const leap_dataset *ds);
void leap_dataset_meta_at(const leap_dataset *ds, size_t i, const char **key, const char **val);

/* A dataset held in memory as decoded row groups (no file): takes ownership
 * of rgs[0..n) (moved, not copied; the array itself too, which must come from
 * malloc) and copies the schema and metadata. Reads copy a group into the
 * caller's rg. name is what leap_dataset_path returns. On error everything
 * passed in is freed. */
int leap_dataset_open_memory(const char *name, const leap_schema *s, leap_rowgroup *rgs, size_t n,
                             const char *const *keys, const char *const *vals, size_t n_meta,
                             leap_dataset **out, leap_err *err);

/* Decodes row group g into rg (grown as needed). Thread-safe for distinct rg.
 * A checksum mismatch returns LEAP_ECORRUPT naming file, row group, column. */
int leap_dataset_read_row_group(leap_dataset *ds, size_t g, leap_rowgroup *rg, leap_err *err);

/* Raw text of a categorical value, when the dataset holds a dictionary for
 * column col. Returns 0 and sets *s,*len (not NUL-terminated, valid until
 * close), or -1 when unknown. */
int leap_dataset_dict_lookup(const leap_dataset *ds, size_t col, uint64_t hash, const char **s,
                             size_t *len);

/* ---- writing --------------------------------------------------------------- */
typedef struct leap_dataset_writer leap_dataset_writer;

typedef struct leap_dataset_write_opts {
    int zstd_level; /* 0 = default (1) */
} leap_dataset_write_opts;

/* Starts writing path atomically (temp file + rename at commit). The schema
 * is copied. opts may be NULL. */
int leap_dataset_writer_create(const char *path, const leap_schema *s,
                               const leap_dataset_write_opts *opts, leap_dataset_writer **out,
                               leap_err *err);
/* Adds or replaces a metadata entry (copied). */
int leap_dataset_writer_set_meta(leap_dataset_writer *w, const char *key, const char *val);

/* Encoded (compressed) row group, produced in parallel, written in order. */
typedef struct leap_encoded_rg {
    size_t n_rows;
    size_t n_chunks;
    uint8_t *buf; /* all chunks back to back */
    size_t len, cap;
    size_t *chunk_off;   /* [n_cols] offset in buf */
    size_t *chunk_len;   /* [n_cols] compressed length */
    size_t *chunk_raw;   /* [n_cols] uncompressed length */
    uint64_t *chunk_sum; /* [n_cols] XXH3 of the compressed bytes */
} leap_encoded_rg;
void leap_encoded_rg_free(leap_encoded_rg *e);

/* Compresses rg (thread-safe, no writer state touched). */
int leap_dataset_encode_row_group(const leap_dataset_writer *w, const leap_rowgroup *rg,
                                  leap_encoded_rg *out, leap_err *err);
/* Appends an encoded row group (call in row order; not thread-safe). */
int leap_dataset_writer_add_encoded(leap_dataset_writer *w, const leap_encoded_rg *e,
                                    leap_err *err);
/* encode + add in one call. */
int leap_dataset_writer_add_row_group(leap_dataset_writer *w, const leap_rowgroup *rg,
                                      leap_err *err);
/* Records the text of a categorical value of column col (deduplicated). */
int leap_dataset_writer_add_dict(leap_dataset_writer *w, size_t col, uint64_t hash, const char *s,
                                 size_t len);
/* Writes footer, fsyncs, renames into place, frees w. On error the temp file
 * is removed and w is freed. */
int leap_dataset_writer_commit(leap_dataset_writer *w, leap_err *err);
/* Discards everything written; frees w. */
void leap_dataset_writer_abort(leap_dataset_writer *w);

/* Joins datasets with identical schemas into out (atomically), in the given
 * order, copying compressed chunks as stored; metadata comes from parts[0]. */
int leap_dataset_concat(const char *const *parts, size_t n, const char *out, leap_err *err);

#endif
