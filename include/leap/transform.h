/* leap/transform.h — declarative feature transforms: a YAML spec, an analyze
 * pass that fits its statistics, and the fitted state the featurizer applies.
 *
 * A spec lists output features; each reads one source column (or, for a
 * cross, several) and runs a chain of ops:
 *
 *   numeric pre-ops      fill_missing, clip, log1p, standardize
 *   categorical pre-op   fill_missing
 *   terminal ops         hash, vocabulary, bucketize, log_bucket (at most one, last)
 *
 * A numeric chain without a terminal op yields a DENSE feature (its value);
 * a terminal op yields a CATEGORICAL or ORDINAL index (features.h). Ops that
 * need statistics (fill_missing: mode, standardize, bucketize: quantiles,
 * vocabulary) are fitted by leap_transform_fit: one pass over the data per
 * level of stateful ops in the longest chain (one pass for usual specs),
 * multi-threaded, with per-thread state merged (exact vocabulary counts, KLL
 * quantile sketches, Welford/Chan moments, Space-Saving modes) and, under
 * MPI, exchanged and merged in rank order so every rank holds the same state.
 *
 * The fitted transform becomes a leap_featurizer (fz->tf set); that
 * featurizer is stored in the model bundle, so training, `leap predict` and
 * the server run the same leap_featurize() on it. The syntax and the binary
 * state layout are in docs/FORMATS.md.
 *
 *     leap_tf_spec *spec;
 *     leap_tf_spec_parse(text, len, "spec.yaml", &spec, &err);
 *     leap_featurizer fz;
 *     leap_transform_fit(spec, ds, threads, comm, &fz, &err);   // fz is ready to apply
 *     leap_tf_spec_free(spec);
 */
#ifndef LEAP_TRANSFORM_H
#define LEAP_TRANSFORM_H

#include "leap/comm.h"
#include "leap/dataset.h"
#include "leap/features.h"

#define LEAP_TF_OP_MAP(XX)                                                                         \
    XX(FILL_MISSING, "fill_missing")                                                               \
    XX(CLIP, "clip")                                                                               \
    XX(LOG1P, "log1p")                                                                             \
    XX(STANDARDIZE, "standardize")                                                                 \
    XX(HASH, "hash")                                                                               \
    XX(VOCABULARY, "vocabulary")                                                                   \
    XX(BUCKETIZE, "bucketize")                                                                     \
    XX(LOG_BUCKET, "log_bucket")

typedef enum leap_tf_op_kind {
#define LEAP_XX_TF(name, str) LEAP_TF_##name,
    LEAP_TF_OP_MAP(LEAP_XX_TF)
#undef LEAP_XX_TF
        LEAP_TF_OP_COUNT
} leap_tf_op_kind;

const char *leap_tf_op_name(leap_tf_op_kind k);

/* Vocabulary lookup: open addressing over value hashes (0 = empty slot). */
typedef struct leap_tf_vocab {
    uint32_t n;      /* entries, most frequent first */
    uint64_t *keys;  /* [n] value hashes */
    uint64_t *count; /* [n] occurrences in the fitted data */
    uint32_t mask;   /* table size - 1 */
    uint64_t *tkey;  /* [mask + 1] */
    uint32_t *tval;  /* [mask + 1] entry index */
} leap_tf_vocab;

typedef struct leap_tf_op {
    leap_tf_op_kind kind;
    int line, col; /* position in the spec (0 when loaded from a fitted state) */
    uint8_t fitted;
    /* fill_missing */
    uint8_t fill_mode; /* 1: the most frequent value, fitted */
    double fill_num;   /* numeric value */
    uint64_t fill_cat; /* categorical value hash */
    /* clip */
    double lo, hi;
    /* standardize (fitted) */
    double mean, std;
    /* hash */
    uint32_t buckets;
    /* vocabulary */
    uint32_t top_k;     /* 0 = no limit */
    uint64_t min_count; /* 1 = keep all */
    uint32_t oov_buckets;
    uint8_t approx;      /* Space-Saving heavy hitters instead of exact counts */
    uint32_t capacity;   /* approx: counters */
    leap_tf_vocab vocab; /* fitted */
    /* bucketize */
    uint32_t quantiles; /* 0 when boundaries were given */
    uint32_t sketch_k;  /* KLL k for quantiles */
    uint32_t n_bounds;
    double *bounds;    /* [n_bounds] ascending, distinct */
    double rank_error; /* fitted: the sketch's normalised rank error bound */
} leap_tf_op;

#define LEAP_TF_MAX_SOURCES 8

struct leap_tf_field {
    int n_src;                                    /* 1, or 2..8 for a cross */
    char src[LEAP_TF_MAX_SOURCES][LEAP_NAME_MAX]; /* column or (cross) feature names */
    int ref[LEAP_TF_MAX_SOURCES];                /* cross: index of the referenced feature, or -1 */
    leap_col_type src_type[LEAP_TF_MAX_SOURCES]; /* column types (resolved at fit) */
    uint8_t src_weighted;                        /* multi_categorical source with value weights */
    uint8_t use_weights;                         /* multi: feature values = value weights */
    uint8_t cross;
    int n_ops;
    leap_tf_op *ops; /* [n_ops] */
    int line, col;   /* position of the feature in the spec */
};
typedef struct leap_tf_field leap_tf_field;

/* A parsed (and, once fitted, fitted) transform. */
typedef struct leap_tf_spec {
    char name[256];                                   /* spec file name, for messages */
    char label[LEAP_NAME_MAX], weight[LEAP_NAME_MAX]; /* "" = the schema's first */
    size_t n_fields;
    char (*names)[LEAP_NAME_MAX]; /* [n_fields] output feature names */
    uint16_t *embedding_dim;      /* [n_fields] hints (0 = none) */
    leap_tf_field *fields;        /* [n_fields] */
} leap_tf_spec;

/* Parses a YAML spec. Unknown keys, bad values and impossible combinations
 * that need no schema are refused as "NAME:LINE:COL: message". */
int leap_tf_spec_parse(const char *text, size_t len, const char *name, leap_tf_spec **out,
                       leap_err *err);
int leap_tf_spec_load(const char *path, leap_tf_spec **out, leap_err *err);
void leap_tf_spec_free(leap_tf_spec *s);

/* Checks the spec against a dataset schema (columns exist; ops fit the
 * column types), again with NAME:LINE:COL. Done by leap_transform_fit too. */
int leap_tf_spec_resolve(leap_tf_spec *s, const leap_schema *schema, const char *input_name,
                         leap_err *err);

/* Fit report. */
typedef struct leap_tf_fit_report {
    int passes;
    double rows;    /* rows read per pass, all ranks */
    double seconds; /* all passes */
} leap_tf_fit_report;

/* Fits the spec on ds (this rank's row groups; merged over comm, which may be
 * NULL) and builds the featurizer into fz; the spec is consumed (its fitted
 * state moves into fz) and freed, also on error. */
int leap_transform_fit(leap_tf_spec *spec, leap_dataset *ds, int threads, leap_comm *comm,
                       leap_featurizer *fz, leap_tf_fit_report *rep, leap_err *err);

/* A spec for models that need binned inputs (trees): every numeric column
 * bucketized into max_bin quantile bins, every categorical one indexed by a
 * vocabulary of its top_k values. */
int leap_tf_spec_default_binned(const leap_schema *schema, int max_bin, uint32_t top_k,
                                leap_tf_spec **out, leap_err *err);

/* ---- fitted transform files (.ltf) -------------------------------------- */
/* Writes fz (fitted, fz->tf set) atomically: the state of leap_fz_serialize
 * followed by an XXH3 checksum. */
int leap_transform_save(const char *path, const leap_featurizer *fz, leap_err *err);
int leap_transform_load(const char *path, leap_featurizer *fz, leap_err *err);
/* 1 when path starts with the fitted-state magic. */
int leap_transform_probe(const char *path);

/* Human-readable (or JSON) summary of a fitted transform: per feature its
 * kind, index range, op chain and fitted statistics (vocabulary size and top
 * entries, boundaries, mean/std). */
void leap_transform_describe(const leap_featurizer *fz, FILE *f, int json);

#endif
