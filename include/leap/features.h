/* leap/features.h — featurization: dataset columns -> sparse model features.
 *
 * The first transform of leap: field-aware feature hashing into 2^hash_bits
 * buckets. Each input field is a source column plus an op; ops form an enum
 * table so later transforms (vocabularies, quantile buckets, crosses, ...)
 * are new rows of that table, not a new code path. The fitted featurizer is
 * stored in the model bundle and the same leap_featurize() turns a dataset
 * row (training, eval) and a raw input row (predict, serving) into the same
 * feature vector: no train/serve skew by construction.
 *
 *   op           source type          feature(s)
 *   hash         categorical          bucket(field, value hash), value 1
 *   multi_hash   multi_categorical    one bucket per value, value 1 or its weight
 *   log_bucket   numeric              bucket(field, b(x)), value 1, where
 *                                     b(x) = floor(ln(x)^2) for x > 2, else (int)x,
 *                                     the two ranges kept apart (1 is not 3)
 *   raw          numeric              bucket(field), value x
 *   Missing values get their own bucket (field, "missing"), value 1.
 */
#ifndef LEAP_FEATURES_H
#define LEAP_FEATURES_H

#include "leap/dataset.h"
#include "leap/options.h"

#define LEAP_FZ_OP_MAP(XX)                                                                         \
    XX(HASH, "hash")                                                                               \
    XX(MULTI_HASH, "multi_hash")                                                                   \
    XX(LOG_BUCKET, "log_bucket")                                                                   \
    XX(RAW, "raw")

typedef enum leap_fz_op {
#define LEAP_XX_FZ(name, str) LEAP_FZ_##name,
    LEAP_FZ_OP_MAP(LEAP_XX_FZ)
#undef LEAP_XX_FZ
        LEAP_FZ_OP_COUNT
} leap_fz_op;

const char *leap_fz_op_name(leap_fz_op op);

/* How a field's feature indices are laid out (what a model may assume).
 * Every field owns the index range [offset, offset + card) of the feature
 * space, except HASHED fields, which share the whole space. Local index
 * = idx - offset. A single-valued field emits exactly one entry per row; a
 * multi-valued one (multi = 1) one entry per value, or its missing entry. */
typedef enum leap_fz_kind {
    LEAP_FZ_KIND_HASHED,      /* hashed into the one shared space [0, n_buckets) (no spec) */
    LEAP_FZ_KIND_CATEGORICAL, /* local 0 = missing; 1..card-1 unordered categories */
    LEAP_FZ_KIND_ORDINAL,     /* local 0 = missing; 1..card-1 ordered buckets (bucketize) */
    LEAP_FZ_KIND_DENSE,       /* card 2: local 0 = missing (value 1), 1 = the value */
} leap_fz_kind;

struct leap_tf_field; /* fitted transform details of a spec field (transform.h) */

typedef struct leap_fz_field {
    char column[LEAP_NAME_MAX]; /* source column name (the first, for crosses) */
    char name[LEAP_NAME_MAX];   /* output feature name (= column without a spec) */
    leap_fz_op op;
    uint64_t seed;            /* per-field hash seed (from the field index) */
    leap_fz_kind kind;        /* index layout, above */
    uint32_t offset;          /* first index of the field's range (0 for HASHED) */
    uint32_t card;            /* size of the range (n_buckets for HASHED) */
    uint16_t embedding_dim;   /* spec hint for embedding models; 0 = the model's default */
    uint8_t multi;            /* several entries per row possible */
    struct leap_tf_field *tf; /* spec fields: op chain and fitted state; NULL otherwise */
} leap_fz_field;

/* User options of the featurizer (its option table below). */
typedef struct leap_fz_opts {
    int hash_bits; /* buckets = 2^hash_bits */
    int numeric;   /* 0 = log_bucket, 1 = raw */
} leap_fz_opts;
extern const leap_opt_table leap_fz_opt_table;

typedef struct leap_featurizer {
    leap_fz_opts opts;
    uint32_t n_buckets; /* feature space size: 2^hash_bits, or the sum of field cards with a spec */
    size_t n_fields;
    leap_fz_field *fields;      /* [n_fields], owned */
    struct leap_tf_spec *tf;    /* fitted transform spec (transform.h); NULL = plain hashing */
    char label[LEAP_NAME_MAX];  /* label column name ("" when none) */
    char weight[LEAP_NAME_MAX]; /* weight column name ("" when none) */
} leap_featurizer;

/* Builds the featurizer for a dataset schema: every numeric, categorical and
 * multi_categorical column becomes one field. */
int leap_featurizer_init(leap_featurizer *fz, const leap_fz_opts *o, const leap_schema *s,
                         leap_err *err);
void leap_featurizer_free(leap_featurizer *fz);

/* The input columns a featurizer reads (names and types, each once, label
 * and weight columns first when the featurizer has them), e.g. to build row
 * groups from JSON instances at the server. cols must hold
 * leap_fz_n_inputs(fz) entries (an upper bound); returns the count written. */
size_t leap_fz_n_inputs(const leap_featurizer *fz);
size_t leap_fz_inputs(const leap_featurizer *fz, leap_column_def *cols);
/* Text form stored in the bundle: "hash_bits=22\nnumeric=log_bucket\nlabel=label\n
 * weight=\nfield=C1 hash\n..." — and back. parse reports the offending line. */
int leap_featurizer_write(const leap_featurizer *fz, FILE *f);
int leap_featurizer_parse(leap_featurizer *fz, const char *text, size_t len, leap_err *err);

#define LEAP_FZ_MAX_SOURCES 8 /* = LEAP_TF_MAX_SOURCES */

/* Columns of one input schema resolved for a featurizer. */
typedef struct leap_fz_binding {
    int *col;  /* [n_fields] column index per field (-1 for a cross) */
    int *xcol; /* with a spec: [n_fields * LEAP_FZ_MAX_SOURCES] cross input columns (-1: a feature)
                */
    int label_col;  /* -1 when the input has no label */
    int weight_col; /* -1 when absent */
} leap_fz_binding;

/* Resolves fields by name in schema s. A missing or mistyped column is an
 * error naming it ("column 'C7' required by the model is missing from INPUT"). */
int leap_fz_bind(const leap_featurizer *fz, const leap_schema *s, const char *input_name,
                 leap_fz_binding *b, leap_err *err);
void leap_fz_binding_free(leap_fz_binding *b);

/* A batch of sparse feature rows (CSR). Buffers grow and are reused. */
typedef struct leap_fbatch {
    size_t n_rows;
    uint32_t *row_ptr; /* [n_rows + 1] */
    uint32_t *idx;     /* [nnz] bucket in [0, n_buckets) */
    float *val;        /* [nnz] */
    uint16_t *field;   /* [nnz] field index */
    float *label;      /* [n_rows]; 0 when the input has no label */
    float *weight;     /* [n_rows]; 1 when the input has no weight column */
    size_t seq;        /* fit passes: index of this batch in the pass, [0, n_batches) */
    uint64_t row0;     /* fit passes: rows of this rank before this batch (stable order) */
    size_t row_cap, nnz_cap;
} leap_fbatch;

void leap_fbatch_free(leap_fbatch *b);

/* Featurizes every row of rg. Allocates only when rg is bigger than any row
 * group seen before by this batch. Returns LEAP_ENOMEM or LEAP_OK. */
int leap_featurize(const leap_featurizer *fz, const leap_fz_binding *b, const leap_rowgroup *rg,
                   leap_fbatch *out, leap_err *err);

/* The Criteo log-bucket b(x) (exposed for tests). */
static inline int64_t leap_log_bucket(double x) {
    if (x > 2.0) {
        double l = __builtin_log(x);
        return (int64_t)(l * l);
    }
    return (int64_t)x;
}

#endif
