/* featurizer.c — field-aware feature hashing (the first transform).
 *
 * Turns decoded row groups into CSR feature batches; the same function runs
 * at training, evaluation and prediction time. Does not fit any statistics
 * (vocabularies and quantiles come with the transform system). */
#include "leap/features.h"

#include "features/transform_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* log_bucket of small non-negative integers (most count features) from a
 * table filled with leap_log_bucket itself, so both paths agree exactly. */
#define LOGB_TABLE 4096
static uint16_t logb_table[LOGB_TABLE];
static pthread_once_t logb_once = PTHREAD_ONCE_INIT;
static void logb_init(void) {
    for (int i = 0; i < LOGB_TABLE; i++)
        logb_table[i] = (uint16_t)leap_log_bucket((double)i);
}
static inline int64_t log_bucket_fast(float x) {
    if (x >= 0.f && x < (float)LOGB_TABLE) {
        int i = (int)x;
        if ((float)i == x) return logb_table[i];
    }
    return leap_log_bucket(x);
}

/* Token of a numeric value under log_bucket: small values (x <= 2) keep their
 * integer value, larger ones their bucket in a separate token space, so that
 * x = 1 and x = 3 (both "1" in the classic formula) stay apart. */
#define LOGB_BIG_TAG (1ULL << 62)
static inline uint64_t log_token(float x) {
    uint64_t k = (uint64_t)log_bucket_fast(x);
    return x > 2.f ? (k | LOGB_BIG_TAG) : k;
}

static const char *const fz_op_names[] = {
#define LEAP_XX_FZ(name, str) str,
    LEAP_FZ_OP_MAP(LEAP_XX_FZ)
#undef LEAP_XX_FZ
};
_Static_assert(sizeof fz_op_names / sizeof fz_op_names[0] == LEAP_FZ_OP_COUNT, "op table");

const char *leap_fz_op_name(leap_fz_op op) {
    return (unsigned)op < LEAP_FZ_OP_COUNT ? fz_op_names[op] : "?";
}

static const leap_opt_def fz_defs[] = {
    {"hash_bits", LEAP_OPT_INT, offsetof(leap_fz_opts, hash_bits), 22, 8, 30, NULL,
     "feature hashing buckets = 2^hash_bits"},
    {"numeric", LEAP_OPT_ENUM, offsetof(leap_fz_opts, numeric), 0, 0, 1, "log_bucket|raw",
     "numeric columns: Criteo log-bucket token or raw value"},
};
const leap_opt_table leap_fz_opt_table = {"featurizer", fz_defs,
                                          sizeof fz_defs / sizeof fz_defs[0]};

/* Token for a missing value; distinct from every value hash because value
 * hashes are mixed with the field seed through a different path. */
#define FZ_MISSING 0x6d697373696e6721ULL

static uint64_t field_seed(size_t i) { return leap_mix64(0x6c656170ULL, (uint64_t)i + 1); }

/* A field of the shared hashed space (no spec); column already set. */
static void fz_field_hashed(leap_fz_field *f, leap_fz_op op, size_t i, uint32_t n_buckets) {
    snprintf(f->name, sizeof f->name, "%s", f->column);
    f->op = op;
    f->seed = field_seed(i);
    f->kind = LEAP_FZ_KIND_HASHED;
    f->offset = 0;
    f->card = n_buckets;
    f->multi = op == LEAP_FZ_MULTI_HASH;
}

int leap_featurizer_init(leap_featurizer *fz, const leap_fz_opts *o, const leap_schema *s,
                         leap_err *err) {
    memset(fz, 0, sizeof *fz);
    fz->opts = *o;
    fz->n_buckets = 1u << o->hash_bits;
    fz->fields = calloc(s->n_cols ? s->n_cols : 1, sizeof *fz->fields);
    if (!fz->fields) return leap_err_set(err, LEAP_ENOMEM, "featurizer: out of memory");
    for (size_t c = 0; c < s->n_cols; c++) {
        const leap_column_def *d = &s->cols[c];
        leap_fz_op op;
        switch (d->type) {
        case LEAP_COL_LABEL:
            if (!fz->label[0]) snprintf(fz->label, sizeof fz->label, "%s", d->name);
            continue;
        case LEAP_COL_WEIGHT:
            if (!fz->weight[0]) snprintf(fz->weight, sizeof fz->weight, "%s", d->name);
            continue;
        case LEAP_COL_NUMERIC: op = o->numeric ? LEAP_FZ_RAW : LEAP_FZ_LOG_BUCKET; break;
        case LEAP_COL_CATEGORICAL: op = LEAP_FZ_HASH; break;
        case LEAP_COL_MULTI_CATEGORICAL: op = LEAP_FZ_MULTI_HASH; break;
        default: continue; /* timestamps are not features (yet) */
        }
        leap_fz_field *f = &fz->fields[fz->n_fields];
        snprintf(f->column, sizeof f->column, "%s", d->name);
        fz_field_hashed(f, op, fz->n_fields, fz->n_buckets);
        fz->n_fields++;
    }
    if (fz->n_fields == 0) {
        leap_featurizer_free(fz);
        return leap_err_set(err, LEAP_EINVAL, "featurizer: the schema has no feature columns");
    }
    if (fz->n_fields > 65535) {
        leap_featurizer_free(fz);
        return leap_err_set(err, LEAP_EINVAL, "featurizer: more than 65535 feature columns");
    }
    return LEAP_OK;
}

void leap_featurizer_free(leap_featurizer *fz) {
    free(fz->fields);
    leap_tf_spec_free(fz->tf);
    fz->tf = NULL;
    fz->fields = NULL;
    fz->n_fields = 0;
}

int leap_featurizer_write(const leap_featurizer *fz, FILE *f) {
    if (fz->tf) { /* a fitted spec: its binary state */
        leap_buf b = {0};
        int rc = leap__tf_serialize(fz, &b);
        if (!rc && fwrite(b.p, 1, b.len, f) != b.len) rc = LEAP_EIO;
        leap_buf_free(&b);
        return rc;
    }
    fprintf(f, "hash_bits=%d\nnumeric=%s\nlabel=%s\nweight=%s\n", fz->opts.hash_bits,
            fz->opts.numeric ? "raw" : "log_bucket", fz->label, fz->weight);
    for (size_t i = 0; i < fz->n_fields; i++)
        fprintf(f, "field=%s %s\n", fz->fields[i].column, leap_fz_op_name(fz->fields[i].op));
    return ferror(f) ? LEAP_EIO : LEAP_OK;
}

int leap_featurizer_parse(leap_featurizer *fz, const char *text, size_t len, leap_err *err) {
    memset(fz, 0, sizeof *fz);
    if (len >= 8 && !memcmp(text, LEAP_TF_MAGIC, 8))
        return leap__tf_deserialize((const uint8_t *)text, len, "featurizer state", fz, err);
    size_t cap = 16;
    fz->fields = calloc(cap, sizeof *fz->fields);
    if (!fz->fields) return leap_err_set(err, LEAP_ENOMEM, "featurizer: out of memory");
    int have_bits = 0, line_no = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        char line[256];
        size_t ll = (size_t)(le - p);
        line_no++;
        if (ll >= sizeof line) goto bad;
        memcpy(line, p, ll);
        line[ll] = 0;
        p = nl ? nl + 1 : end;
        if (!ll) continue;
        char *eq = strchr(line, '=');
        if (!eq) goto bad;
        *eq = 0;
        const char *k = line, *v = eq + 1;
        if (!strcmp(k, "hash_bits")) {
            int64_t b;
            if (leap_parse_i64(v, &b) || b < 8 || b > 30) goto bad;
            fz->opts.hash_bits = (int)b;
            fz->n_buckets = 1u << b;
            have_bits = 1;
        } else if (!strcmp(k, "numeric")) {
            if (!strcmp(v, "log_bucket"))
                fz->opts.numeric = 0;
            else if (!strcmp(v, "raw"))
                fz->opts.numeric = 1;
            else
                goto bad;
        } else if (!strcmp(k, "label")) {
            snprintf(fz->label, sizeof fz->label, "%s", v);
        } else if (!strcmp(k, "weight")) {
            snprintf(fz->weight, sizeof fz->weight, "%s", v);
        } else if (!strcmp(k, "field")) {
            const char *sp = strrchr(v, ' ');
            if (!sp || sp == v || (size_t)(sp - v) >= LEAP_NAME_MAX) goto bad;
            int op = -1;
            for (int o = 0; o < LEAP_FZ_OP_COUNT; o++)
                if (!strcmp(sp + 1, fz_op_names[o])) op = o;
            if (op < 0) goto bad;
            if (fz->n_fields == cap) {
                leap_fz_field *nf = realloc(fz->fields, 2 * cap * sizeof *nf);
                if (!nf) goto bad;
                fz->fields = nf;
                cap *= 2;
            }
            leap_fz_field *f = &fz->fields[fz->n_fields];
            memset(f, 0, sizeof *f);
            memcpy(f->column, v, (size_t)(sp - v));
            fz_field_hashed(f, (leap_fz_op)op, fz->n_fields, 0);
            fz->n_fields++;
        } else {
            goto bad;
        }
    }
    if (!have_bits || fz->n_fields == 0 || fz->n_fields > 65535) {
        leap_featurizer_free(fz);
        return leap_err_set(err, LEAP_ECORRUPT,
                            "featurizer state: incomplete (no hash_bits or fields)");
    }
    for (size_t i = 0; i < fz->n_fields; i++)
        fz->fields[i].card = fz->n_buckets;
    return LEAP_OK;
bad:
    leap_featurizer_free(fz);
    return leap_err_set(err, LEAP_ECORRUPT, "featurizer state: line %d is not understood", line_no);
}

static const leap_col_type op_source[LEAP_FZ_OP_COUNT] = {
    [LEAP_FZ_HASH] = LEAP_COL_CATEGORICAL,
    [LEAP_FZ_MULTI_HASH] = LEAP_COL_MULTI_CATEGORICAL,
    [LEAP_FZ_LOG_BUCKET] = LEAP_COL_NUMERIC,
    [LEAP_FZ_RAW] = LEAP_COL_NUMERIC,
};

size_t leap_fz_n_inputs(const leap_featurizer *fz) {
    size_t n = (fz->label[0] != 0) + (fz->weight[0] != 0);
    for (size_t i = 0; i < fz->n_fields; i++)
        n += fz->fields[i].tf ? (size_t)fz->fields[i].tf->n_src : 1;
    return n;
}

static size_t add_input(leap_column_def *cols, size_t n, const char *name, leap_col_type t) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(cols[i].name, name)) return n;
    memset(&cols[n], 0, sizeof cols[n]);
    snprintf(cols[n].name, sizeof cols[n].name, "%s", name);
    cols[n].type = t;
    return n + 1;
}

size_t leap_fz_inputs(const leap_featurizer *fz, leap_column_def *cols) {
    size_t n = 0;
    if (fz->label[0]) n = add_input(cols, n, fz->label, LEAP_COL_LABEL);
    if (fz->weight[0]) n = add_input(cols, n, fz->weight, LEAP_COL_WEIGHT);
    for (size_t i = 0; i < fz->n_fields; i++) {
        const leap_tf_field *t = fz->fields[i].tf;
        if (!t) {
            n = add_input(cols, n, fz->fields[i].column, op_source[fz->fields[i].op]);
            continue;
        }
        for (int j = 0; j < t->n_src; j++)
            if (t->ref[j] < 0) {
                size_t before = n;
                n = add_input(cols, n, t->src[j], t->src_type[j]);
                if (n > before) cols[n - 1].weighted = j == 0 && t->src_weighted;
            }
    }
    return n;
}

/* Column of `name` in s with type t, or an error naming both. */
static int bind_col(const leap_schema *s, const char *input_name, const char *name, leap_col_type t,
                    int *out, leap_err *err) {
    int c = leap_schema_find(s, name);
    if (c < 0)
        return leap_err_set(err, LEAP_EINVAL, "%s: column '%s' required by the model is missing",
                            input_name, name);
    if (s->cols[c].type != t)
        return leap_err_set(err, LEAP_EINVAL, "%s: column '%s' is %s, the model expects %s",
                            input_name, name, leap_col_type_name(s->cols[c].type),
                            leap_col_type_name(t));
    *out = c;
    return LEAP_OK;
}

int leap_fz_bind(const leap_featurizer *fz, const leap_schema *s, const char *input_name,
                 leap_fz_binding *b, leap_err *err) {
    memset(b, 0, sizeof *b);
    b->col = calloc(fz->n_fields, sizeof *b->col);
    if (fz->tf) b->xcol = calloc(fz->n_fields * LEAP_FZ_MAX_SOURCES, sizeof *b->xcol);
    if (!b->col || (fz->tf && !b->xcol)) {
        leap_fz_binding_free(b);
        return leap_err_set(err, LEAP_ENOMEM, "featurizer: out of memory");
    }
    for (size_t i = 0; i < fz->n_fields; i++) {
        const leap_tf_field *t = fz->fields[i].tf;
        int rc = LEAP_OK;
        if (!t) {
            rc = bind_col(s, input_name, fz->fields[i].column, op_source[fz->fields[i].op],
                          &b->col[i], err);
        } else if (!t->cross) {
            rc = bind_col(s, input_name, t->src[0], t->src_type[0], &b->col[i], err);
            if (!rc && t->src_type[0] == LEAP_COL_MULTI_CATEGORICAL && t->use_weights &&
                !s->cols[b->col[i]].weighted)
                rc = leap_err_set(err, LEAP_EINVAL,
                                  "%s: column '%s' has no value weights; the model uses them",
                                  input_name, t->src[0]);
        } else {
            b->col[i] = -1;
            for (int j = 0; j < LEAP_FZ_MAX_SOURCES; j++)
                b->xcol[i * LEAP_FZ_MAX_SOURCES + j] = -1;
            for (int j = 0; j < t->n_src && !rc; j++)
                if (t->ref[j] < 0)
                    rc = bind_col(s, input_name, t->src[j], t->src_type[j],
                                  &b->xcol[i * LEAP_FZ_MAX_SOURCES + j], err);
        }
        if (rc) {
            leap_fz_binding_free(b);
            return rc;
        }
    }
    b->label_col = fz->label[0] ? leap_schema_find(s, fz->label) : -1;
    if (!fz->label[0] && fz->tf) b->label_col = leap_schema_find_type(s, LEAP_COL_LABEL);
    if (b->label_col >= 0 && s->cols[b->label_col].type != LEAP_COL_LABEL) b->label_col = -1;
    b->weight_col = fz->weight[0] ? leap_schema_find(s, fz->weight) : -1;
    if (b->weight_col < 0) b->weight_col = leap_schema_find_type(s, LEAP_COL_WEIGHT);
    return LEAP_OK;
}

void leap_fz_binding_free(leap_fz_binding *b) {
    free(b->col);
    free(b->xcol);
    b->col = NULL;
    b->xcol = NULL;
}

void leap_fbatch_free(leap_fbatch *b) {
    free(b->row_ptr);
    free(b->idx);
    free(b->val);
    free(b->field);
    free(b->label);
    free(b->weight);
    memset(b, 0, sizeof *b);
}

static int fbatch_reserve(leap_fbatch *b, size_t rows, size_t nnz) {
    if (rows > b->row_cap) {
        uint32_t *rp = realloc(b->row_ptr, (rows + 1) * sizeof *rp);
        float *l = realloc(b->label, rows * sizeof *l);
        float *w = realloc(b->weight, rows * sizeof *w);
        if (rp) b->row_ptr = rp;
        if (l) b->label = l;
        if (w) b->weight = w;
        if (!rp || !l || !w) return LEAP_ENOMEM;
        b->row_cap = rows;
    }
    if (nnz > b->nnz_cap) {
        uint32_t *ix = realloc(b->idx, nnz * sizeof *ix);
        float *v = realloc(b->val, nnz * sizeof *v);
        uint16_t *f = realloc(b->field, nnz * sizeof *f);
        if (ix) b->idx = ix;
        if (v) b->val = v;
        if (f) b->field = f;
        if (!ix || !v || !f) return LEAP_ENOMEM;
        b->nnz_cap = nnz;
    }
    return LEAP_OK;
}

static inline uint32_t bucket(uint64_t seed, uint64_t token, uint32_t mask) {
    return (uint32_t)(leap_mix64(seed, token) & mask);
}

/* ---- spec fields (the fitted transform) ------------------------------------ */

/* Local index (and value) of single-valued spec field i at row r. */
static uint32_t tf_local(const leap_featurizer *fz, const leap_fz_binding *b,
                         const leap_rowgroup *rg, size_t i, size_t r, float *val) {
    const leap_fz_field *f = &fz->fields[i];
    const leap_tf_field *t = f->tf;
    *val = 1.0f;
    if (t->cross) {
        uint64_t tok[LEAP_FZ_MAX_SOURCES];
        for (int j = 0; j < t->n_src; j++) {
            if (t->ref[j] >= 0) {
                float v;
                tok[j] = tf_local(fz, b, rg, (size_t)t->ref[j], r, &v);
            } else {
                tok[j] = rg->cols[b->xcol[i * LEAP_FZ_MAX_SOURCES + j]].u64[r];
            }
        }
        return leap__tf_apply_cross(t, f->seed, tok);
    }
    const leap_column *c = &rg->cols[b->col[i]];
    if (t->src_type[0] == LEAP_COL_NUMERIC) return leap__tf_apply_num(t, f->seed, c->f32[r], val);
    return leap__tf_apply_cat(t, f->seed, c->u64[r]);
}

/* Single-valued spec field i for rows [t0, t1) of the tiled layout. */
static void tf_tile(const leap_featurizer *fz, const leap_fz_binding *b, const leap_rowgroup *rg,
                    size_t i, size_t t0, size_t t1, leap_fbatch *out) {
    const size_t F = fz->n_fields;
    const leap_fz_field *f = &fz->fields[i];
    const leap_tf_field *t = f->tf;
    const uint32_t off = f->offset;
    uint32_t *ix = out->idx + i;
    float *vv = out->val + i;
    uint16_t *ff = out->field + i;
    if (t->cross) {
        uint64_t tok[LEAP_FZ_MAX_SOURCES];
        for (size_t r = t0; r < t1; r++) {
            for (int j = 0; j < t->n_src; j++) {
                int ref = t->ref[j];
                tok[j] = ref >= 0 ? out->idx[r * F + (size_t)ref] - fz->fields[ref].offset
                                  : rg->cols[b->xcol[i * LEAP_FZ_MAX_SOURCES + j]].u64[r];
            }
            ix[r * F] = off + leap__tf_apply_cross(t, f->seed, tok);
            vv[r * F] = 1.0f;
            ff[r * F] = (uint16_t)i;
        }
        return;
    }
    const leap_column *c = &rg->cols[b->col[i]];
    if (t->src_type[0] == LEAP_COL_NUMERIC) {
        for (size_t r = t0; r < t1; r++) {
            float v;
            ix[r * F] = off + leap__tf_apply_num(t, f->seed, c->f32[r], &v);
            vv[r * F] = v;
            ff[r * F] = (uint16_t)i;
        }
        return;
    }
    for (size_t r = t0; r < t1; r++) {
        ix[r * F] = off + leap__tf_apply_cat(t, f->seed, c->u64[r]);
        vv[r * F] = 1.0f;
        ff[r * F] = (uint16_t)i;
    }
}

/* Spec field i at row r in the row-major layout, appended at k; returns the
 * new k. */
static uint32_t tf_row(const leap_featurizer *fz, const leap_fz_binding *b, const leap_rowgroup *rg,
                       size_t i, size_t r, leap_fbatch *out, uint32_t k) {
    const leap_fz_field *f = &fz->fields[i];
    const leap_tf_field *t = f->tf;
    if (!f->multi) {
        float v;
        out->idx[k] = f->offset + tf_local(fz, b, rg, i, r, &v);
        out->val[k] = v;
        out->field[k] = (uint16_t)i;
        return k + 1;
    }
    const leap_column *c = &rg->cols[b->col[i]];
    const leap_tf_op *term = &t->ops[t->n_ops - 1];
    uint32_t a = c->offsets[r], e = c->offsets[r + 1];
    if (a == e) { /* no values: the filled value, or the missing index */
        uint64_t h = leap__tf_cat(t, t->n_ops - 1, 0);
        out->idx[k] = f->offset + (h ? leap__tf_index(term, f->seed, h) : 0);
        out->val[k] = 1.0f;
        out->field[k] = (uint16_t)i;
        return k + 1;
    }
    const float *vw = t->use_weights && rg->weighted[b->col[i]] ? c->vw : NULL;
    for (uint32_t j = a; j < e; j++) {
        out->idx[k] = f->offset + leap__tf_index(term, f->seed, c->u64[j]);
        out->val[k] = vw ? vw[j] : 1.0f;
        out->field[k] = (uint16_t)i;
        k++;
    }
    return k;
}

int leap_featurize(const leap_featurizer *fz, const leap_fz_binding *b, const leap_rowgroup *rg,
                   leap_fbatch *out, leap_err *err) {
    size_t n = rg->n_rows;
    /* Worst case: one entry per single-valued field plus every multi value. */
    size_t nnz = 0;
    for (size_t i = 0; i < fz->n_fields; i++) {
        if (!fz->fields[i].multi) {
            nnz += n;
            continue;
        }
        const leap_column *c = &rg->cols[b->col[i]];
        nnz += fz->fields[i].multi ? (size_t)c->offsets[n] + n : n;
    }
    if (nnz > UINT32_MAX) return leap_err_set(err, LEAP_EINVAL, "featurizer: row group too large");
    if (fbatch_reserve(out, n, nnz))
        return leap_err_set(err, LEAP_ENOMEM, "featurizer: out of memory");
    out->n_rows = n;
    const uint32_t mask = fz->n_buckets - 1;
    pthread_once(&logb_once, logb_init);
    const float *lab = b->label_col >= 0 ? rg->cols[b->label_col].f32 : NULL;
    const float *wt = b->weight_col >= 0 ? rg->cols[b->weight_col].f32 : NULL;
    for (size_t r = 0; r < n; r++) {
        out->label[r] = lab ? lab[r] : 0.0f;
        out->weight[r] = wt ? wt[r] : 1.0f;
    }
    /* Every field single-valued (the common case): row r's features sit at
     * [r*F, r*F + F). Rows go in tiles of FZ_TILE: within a tile each field
     * is filled for all its rows, so the input is read one column at a time
     * (a single sequential stream instead of F at once) while the output tile
     * (FZ_TILE * F entries) stays in cache. */
    int single = 1;
    for (size_t i = 0; i < fz->n_fields; i++)
        single &= !fz->fields[i].multi;
    if (single) {
        enum { FZ_TILE = 128 };
        const size_t F = fz->n_fields;
        for (size_t r = 0; r <= n; r++)
            out->row_ptr[r] = (uint32_t)(r * F);
        for (size_t t0 = 0; t0 < n; t0 += FZ_TILE) {
            size_t t1 = t0 + FZ_TILE < n ? t0 + FZ_TILE : n;
            for (size_t i = 0; i < F; i++) {
                const leap_fz_field *f = &fz->fields[i];
                uint32_t *ix = out->idx + i;
                float *vv = out->val + i;
                uint16_t *ff = out->field + i;
                if (f->tf) {
                    tf_tile(fz, b, rg, i, t0, t1, out);
                    continue;
                }
                const leap_column *c = &rg->cols[b->col[i]];
                const uint32_t miss = bucket(f->seed ^ FZ_MISSING, 0, mask);
                switch (f->op) {
                case LEAP_FZ_HASH:
                    for (size_t r = t0; r < t1; r++) {
                        uint64_t h = c->u64[r];
                        ix[r * F] = h ? bucket(f->seed, h, mask) : miss;
                        vv[r * F] = 1.0f;
                        ff[r * F] = (uint16_t)i;
                    }
                    break;
                case LEAP_FZ_LOG_BUCKET:
                    for (size_t r = t0; r < t1; r++) {
                        float x = c->f32[r];
                        ix[r * F] = isnan(x) ? miss : bucket(f->seed, log_token(x), mask);
                        vv[r * F] = 1.0f;
                        ff[r * F] = (uint16_t)i;
                    }
                    break;
                case LEAP_FZ_RAW: {
                    const uint32_t rawb = bucket(f->seed, 0x726177ULL, mask);
                    for (size_t r = t0; r < t1; r++) {
                        float x = c->f32[r];
                        ix[r * F] = isnan(x) ? miss : rawb;
                        vv[r * F] = isnan(x) ? 1.0f : x;
                        ff[r * F] = (uint16_t)i;
                    }
                    break;
                }
                default: break;
                }
            }
        }
        return LEAP_OK;
    }
    /* Row-major output: fields are visited per row so each row's features
     * are contiguous. */
    uint32_t k = 0;
    for (size_t r = 0; r < n; r++) {
        out->row_ptr[r] = k;
        for (size_t i = 0; i < fz->n_fields; i++) {
            const leap_fz_field *f = &fz->fields[i];
            if (f->tf) {
                k = tf_row(fz, b, rg, i, r, out, k);
                continue;
            }
            const leap_column *c = &rg->cols[b->col[i]];
            uint32_t ix;
            float v = 1.0f;
            switch (f->op) {
            case LEAP_FZ_HASH: {
                uint64_t h = c->u64[r];
                ix = h ? bucket(f->seed, h, mask) : bucket(f->seed ^ FZ_MISSING, 0, mask);
                break;
            }
            case LEAP_FZ_LOG_BUCKET: {
                float x = c->f32[r];
                ix = isnan(x) ? bucket(f->seed ^ FZ_MISSING, 0, mask)
                              : bucket(f->seed, log_token(x), mask);
                break;
            }
            case LEAP_FZ_RAW: {
                float x = c->f32[r];
                if (isnan(x)) {
                    ix = bucket(f->seed ^ FZ_MISSING, 0, mask);
                } else {
                    ix = bucket(f->seed, 0x726177ULL, mask);
                    v = x;
                }
                break;
            }
            case LEAP_FZ_MULTI_HASH: {
                uint32_t a = c->offsets[r], e = c->offsets[r + 1];
                if (a == e) {
                    ix = bucket(f->seed ^ FZ_MISSING, 0, mask);
                    break;
                }
                for (uint32_t j = a; j < e; j++) {
                    out->idx[k] = bucket(f->seed, c->u64[j], mask);
                    out->val[k] = rg->weighted[b->col[i]] && c->vw ? c->vw[j] : 1.0f;
                    out->field[k] = (uint16_t)i;
                    k++;
                }
                continue;
            }
            default: continue;
            }
            out->idx[k] = ix;
            out->val[k] = v;
            out->field[k] = (uint16_t)i;
            k++;
        }
    }
    out->row_ptr[n] = k;
    return LEAP_OK;
}
