/* transform_io.c — the fitted transform's binary state (in bundles and .ltf
 * files), with a checked reader, and its human/JSON description. */
#include "features/transform_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TF_VERSION 1

/* ---- writer ---------------------------------------------------------------- */
typedef struct wr {
    leap_buf *b;
    int rc;
} wr;

static void w_bytes(wr *w, const void *p, size_t n) { w->rc |= leap_buf_append(w->b, p, n); }
static void w_u8(wr *w, uint8_t v) { w_bytes(w, &v, 1); }
static void w_u16(wr *w, uint16_t v) {
    uint8_t t[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    w_bytes(w, t, 2);
}
static void w_u32(wr *w, uint32_t v) {
    uint8_t t[4];
    leap_put_u32(t, v);
    w_bytes(w, t, 4);
}
static void w_u64(wr *w, uint64_t v) {
    uint8_t t[8];
    leap_put_u64(t, v);
    w_bytes(w, t, 8);
}
static void w_f64(wr *w, double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    w_u64(w, u);
}
static void w_str(wr *w, const char *s) {
    size_t n = strlen(s);
    w_u16(w, (uint16_t)n);
    w_bytes(w, s, n);
}

int leap__tf_serialize(const leap_featurizer *fz, leap_buf *out) {
    const leap_tf_spec *s = fz->tf;
    wr w = {out, 0};
    w_bytes(&w, LEAP_TF_MAGIC, 8);
    w_u32(&w, TF_VERSION);
    w_u32(&w, (uint32_t)s->n_fields);
    w_str(&w, s->label);
    w_str(&w, s->weight);
    w_str(&w, s->name);
    for (size_t i = 0; i < s->n_fields; i++) {
        const leap_tf_field *f = &s->fields[i];
        w_str(&w, s->names[i]);
        w_u8(&w, f->cross);
        w_u8(&w, (uint8_t)f->n_src);
        w_u8(&w, f->use_weights);
        w_u8(&w, f->src_weighted);
        w_u16(&w, s->embedding_dim[i]);
        for (int j = 0; j < f->n_src; j++) {
            w_str(&w, f->src[j]);
            w_u32(&w, (uint32_t)(int32_t)f->ref[j]);
            w_u8(&w, (uint8_t)f->src_type[j]);
        }
        w_u8(&w, (uint8_t)f->n_ops);
        for (int j = 0; j < f->n_ops; j++) {
            const leap_tf_op *op = &f->ops[j];
            w_u8(&w, (uint8_t)op->kind);
            w_u8(&w, (uint8_t)(op->fill_mode | op->approx << 1));
            w_f64(&w, op->fill_num);
            w_u64(&w, op->fill_cat);
            w_f64(&w, op->lo);
            w_f64(&w, op->hi);
            w_f64(&w, op->mean);
            w_f64(&w, op->std);
            w_u32(&w, op->buckets);
            w_u32(&w, op->top_k);
            w_u64(&w, op->min_count);
            w_u32(&w, op->oov_buckets);
            w_u32(&w, op->capacity);
            w_u32(&w, op->quantiles);
            w_u32(&w, op->sketch_k);
            w_f64(&w, op->rank_error);
            w_u32(&w, op->n_bounds);
            for (uint32_t k = 0; k < op->n_bounds; k++)
                w_f64(&w, op->bounds[k]);
            w_u32(&w, op->vocab.n);
            for (uint32_t k = 0; k < op->vocab.n; k++) {
                w_u64(&w, op->vocab.keys[k]);
                w_u64(&w, op->vocab.count[k]);
            }
        }
    }
    return w.rc ? LEAP_ENOMEM : LEAP_OK;
}

/* ---- reader ---------------------------------------------------------------- */
typedef struct rd {
    const uint8_t *p;
    size_t len, o;
    int bad;
} rd;

static const uint8_t *r_take(rd *r, size_t n) {
    if (r->bad || n > r->len - r->o) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *q = r->p + r->o;
    r->o += n;
    return q;
}
static uint8_t r_u8(rd *r) {
    const uint8_t *q = r_take(r, 1);
    return q ? q[0] : 0;
}
static uint16_t r_u16(rd *r) {
    const uint8_t *q = r_take(r, 2);
    return q ? (uint16_t)(q[0] | q[1] << 8) : 0;
}
static uint32_t r_u32(rd *r) {
    const uint8_t *q = r_take(r, 4);
    return q ? leap_get_u32(q) : 0;
}
static uint64_t r_u64(rd *r) {
    const uint8_t *q = r_take(r, 8);
    return q ? leap_get_u64(q) : 0;
}
static double r_f64(rd *r) {
    uint64_t u = r_u64(r);
    double d;
    memcpy(&d, &u, 8);
    return d;
}
static void r_str(rd *r, char *out, size_t cap) {
    uint16_t n = r_u16(r);
    const uint8_t *q = r_take(r, n);
    if (!q || n >= cap) {
        r->bad = 1;
        out[0] = 0;
        return;
    }
    memcpy(out, q, n);
    out[n] = 0;
}

/* Checks that a loaded field can be applied without surprises. */
static const char *check_field(const leap_tf_spec *s, size_t i) {
    const leap_tf_field *f = &s->fields[i];
    if (f->n_src < 1 || f->n_src > LEAP_TF_MAX_SOURCES) return "bad source count";
    if (f->cross) {
        if (f->n_src < 2 || f->n_ops != 1 || f->ops[0].kind != LEAP_TF_HASH ||
            f->ops[0].buckets < 1)
            return "bad cross";
        for (int j = 0; j < f->n_src; j++) {
            if (f->ref[j] >= (int)i || f->ref[j] < -1) return "bad cross reference";
            if (f->ref[j] >= 0) {
                const leap_tf_field *r = &s->fields[f->ref[j]];
                if (leap__tf_field_kind(r) == LEAP_FZ_KIND_DENSE ||
                    r->src_type[0] == LEAP_COL_MULTI_CATEGORICAL)
                    return "cross of a dense or multi-valued feature";
            } else if (f->src_type[j] != LEAP_COL_CATEGORICAL) {
                return "cross of a non-categorical column";
            }
        }
        return NULL;
    }
    if (f->ref[0] != -1) return "bad reference";
    leap_col_type t = f->src_type[0];
    if (t != LEAP_COL_NUMERIC && t != LEAP_COL_CATEGORICAL && t != LEAP_COL_MULTI_CATEGORICAL)
        return "bad source type";
    for (int j = 0; j < f->n_ops; j++) {
        const leap_tf_op *op = &f->ops[j];
        if ((unsigned)op->kind >= LEAP_TF_OP_COUNT) return "bad op";
        if (leap__tf_is_terminal(op->kind) && j != f->n_ops - 1) return "op after a terminal op";
        int numeric_only = op->kind == LEAP_TF_CLIP || op->kind == LEAP_TF_LOG1P ||
                           op->kind == LEAP_TF_STANDARDIZE || op->kind == LEAP_TF_BUCKETIZE ||
                           op->kind == LEAP_TF_LOG_BUCKET;
        if (numeric_only && t != LEAP_COL_NUMERIC) return "numeric op on a categorical column";
        if (op->kind == LEAP_TF_HASH && op->buckets < 1) return "hash without buckets";
        if (op->kind == LEAP_TF_VOCABULARY && op->oov_buckets < 1) return "vocabulary without oov";
        if (op->kind == LEAP_TF_STANDARDIZE && !(op->std > 0)) return "bad standard deviation";
        if (op->kind == LEAP_TF_BUCKETIZE)
            for (uint32_t k = 0; k < op->n_bounds; k++)
                if (isnan(op->bounds[k]) || (k && !(op->bounds[k] > op->bounds[k - 1])))
                    return "boundaries not increasing";
    }
    if (t != LEAP_COL_NUMERIC &&
        (f->n_ops == 0 || !leap__tf_is_terminal(f->ops[f->n_ops - 1].kind)))
        return "categorical feature without a terminal op";
    return NULL;
}

int leap__tf_deserialize(const uint8_t *p, size_t len, const char *name, leap_featurizer *fz,
                         leap_err *err) {
    memset(fz, 0, sizeof *fz);
    rd r = {p, len, 0, 0};
    const uint8_t *m = r_take(&r, 8);
    if (!m || memcmp(m, LEAP_TF_MAGIC, 8))
        return leap_err_set(err, LEAP_ECORRUPT, "%s: not a fitted transform (bad magic)", name);
    uint32_t ver = r_u32(&r);
    if (ver > TF_VERSION)
        return leap_err_set(err, LEAP_EVERSION,
                            "%s: transform state version %u is newer than this leap supports (%d)",
                            name, ver, TF_VERSION);
    uint32_t nf = r_u32(&r);
    if (r.bad || nf == 0 || nf > 65535 || nf > (len - r.o) / 8)
        return leap_err_set(err, LEAP_ECORRUPT, "%s: transform state: bad feature count", name);
    leap_tf_spec *s = calloc(1, sizeof *s);
    if (!s) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    s->fields = calloc(nf, sizeof *s->fields);
    s->names = calloc(nf, sizeof *s->names);
    s->embedding_dim = calloc(nf, sizeof *s->embedding_dim);
    const char *why = NULL;
    if (!s->fields || !s->names || !s->embedding_dim) {
        leap_tf_spec_free(s);
        return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    }
    r_str(&r, s->label, sizeof s->label);
    r_str(&r, s->weight, sizeof s->weight);
    r_str(&r, s->name, sizeof s->name);
    for (size_t i = 0; i < nf && !r.bad && !why; i++) {
        leap_tf_field *f = &s->fields[i];
        s->n_fields = i + 1;
        r_str(&r, s->names[i], LEAP_NAME_MAX);
        f->cross = r_u8(&r);
        f->n_src = r_u8(&r);
        f->use_weights = r_u8(&r);
        f->src_weighted = r_u8(&r);
        s->embedding_dim[i] = r_u16(&r);
        if (f->n_src < 1 || f->n_src > LEAP_TF_MAX_SOURCES) {
            why = "bad source count";
            break;
        }
        for (int j = 0; j < f->n_src; j++) {
            r_str(&r, f->src[j], LEAP_NAME_MAX);
            f->ref[j] = (int)(int32_t)r_u32(&r);
            uint8_t t = r_u8(&r);
            if (t >= LEAP_COL_TYPE_COUNT) why = "bad column type";
            f->src_type[j] = (leap_col_type)t;
        }
        uint8_t no = r_u8(&r);
        if (no > 32) why = "too many ops";
        if (why || r.bad) break;
        f->ops = no ? calloc(no, sizeof *f->ops) : NULL;
        if (no && !f->ops) {
            leap_tf_spec_free(s);
            return leap_err_set(err, LEAP_ENOMEM, "out of memory");
        }
        for (int j = 0; j < no && !r.bad; j++) {
            leap_tf_op *op = &f->ops[j];
            f->n_ops = j + 1;
            uint8_t k = r_u8(&r);
            if (k >= LEAP_TF_OP_COUNT) {
                why = "bad op";
                break;
            }
            op->kind = (leap_tf_op_kind)k;
            uint8_t fl = r_u8(&r);
            op->fill_mode = fl & 1;
            op->approx = (fl >> 1) & 1;
            op->fill_num = r_f64(&r);
            op->fill_cat = r_u64(&r);
            op->lo = r_f64(&r);
            op->hi = r_f64(&r);
            op->mean = r_f64(&r);
            op->std = r_f64(&r);
            op->buckets = r_u32(&r);
            op->top_k = r_u32(&r);
            op->min_count = r_u64(&r);
            op->oov_buckets = r_u32(&r);
            op->capacity = r_u32(&r);
            op->quantiles = r_u32(&r);
            op->sketch_k = r_u32(&r);
            op->rank_error = r_f64(&r);
            op->fitted = 1;
            uint32_t nb = r_u32(&r);
            if (r.bad || nb > (len - r.o) / 8) {
                r.bad = 1;
                break;
            }
            if (nb) {
                op->bounds = malloc(nb * sizeof *op->bounds);
                if (!op->bounds) {
                    leap_tf_spec_free(s);
                    return leap_err_set(err, LEAP_ENOMEM, "out of memory");
                }
                op->n_bounds = nb;
                for (uint32_t q = 0; q < nb; q++)
                    op->bounds[q] = r_f64(&r);
            }
            uint32_t nv = r_u32(&r);
            if (r.bad || nv > (len - r.o) / 16 || (nv && op->kind != LEAP_TF_VOCABULARY)) {
                r.bad = 1;
                break;
            }
            if (op->kind == LEAP_TF_VOCABULARY) {
                leap_tf_vocab *v = &op->vocab;
                v->keys = malloc((nv ? nv : 1) * sizeof *v->keys);
                v->count = malloc((nv ? nv : 1) * sizeof *v->count);
                if (!v->keys || !v->count) {
                    leap_tf_spec_free(s);
                    return leap_err_set(err, LEAP_ENOMEM, "out of memory");
                }
                v->n = nv;
                for (uint32_t q = 0; q < nv; q++) {
                    v->keys[q] = r_u64(&r);
                    v->count[q] = r_u64(&r);
                }
                int vrc = leap__tf_vocab_index(v);
                if (vrc == LEAP_ENOMEM) {
                    leap_tf_spec_free(s);
                    return leap_err_set(err, LEAP_ENOMEM, "out of memory");
                }
                if (vrc) why = "bad vocabulary (zero or duplicate key)";
            }
        }
        if (!r.bad && !why) why = check_field(s, i);
    }
    if (!r.bad && !why && r.o != len) why = "trailing bytes";
    if (r.bad || why) {
        int rc = leap_err_set(err, LEAP_ECORRUPT, "%s: transform state is %s (feature %zu)", name,
                              why ? why : "truncated", s->n_fields);
        leap_tf_spec_free(s);
        return rc;
    }
    return leap__fz_from_spec(fz, s, err);
}

/* ---- .ltf files ------------------------------------------------------------ */
int leap_transform_save(const char *path, const leap_featurizer *fz, leap_err *err) {
    if (!fz->tf) return leap_err_set(err, LEAP_EINVAL, "%s: no fitted transform to save", path);
    leap_buf b = {0};
    if (leap__tf_serialize(fz, &b)) {
        leap_buf_free(&b);
        return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
    }
    uint8_t sum[8];
    leap_put_u64(sum, leap_hash64(b.p, b.len, 0));
    leap_afile af;
    int rc = leap_afile_open(&af, path, err);
    if (!rc) {
        fwrite(b.p, 1, b.len, af.fp);
        fwrite(sum, 1, 8, af.fp);
        rc = leap_afile_commit(&af, err);
    }
    leap_buf_free(&b);
    return rc;
}

int leap_transform_load(const char *path, leap_featurizer *fz, leap_err *err) {
    memset(fz, 0, sizeof *fz);
    leap_buf b = {0};
    int rc = leap_read_file(path, 0, &b, err);
    if (!rc && b.len < 16)
        rc = leap_err_set(err, LEAP_ECORRUPT, "%s: truncated transform file (%zu bytes)", path,
                          b.len);
    if (!rc && leap_get_u64(b.p + b.len - 8) != leap_hash64(b.p, b.len - 8, 0))
        rc = leap_err_set(err, LEAP_ECORRUPT,
                          "%s: checksum mismatch (the transform file is truncated or corrupt)",
                          path);
    if (!rc) rc = leap__tf_deserialize(b.p, b.len - 8, path, fz, err);
    leap_buf_free(&b);
    return rc;
}

int leap_transform_probe(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char m[8];
    int ok = fread(m, 1, 8, f) == 8 && !memcmp(m, LEAP_TF_MAGIC, 8);
    fclose(f);
    return ok;
}

/* ---- description ----------------------------------------------------------- */
static const char *kind_name(leap_fz_kind k) {
    switch (k) {
    case LEAP_FZ_KIND_CATEGORICAL: return "categorical";
    case LEAP_FZ_KIND_ORDINAL: return "ordinal";
    case LEAP_FZ_KIND_DENSE: return "dense";
    default: return "hashed";
    }
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void describe_op_json(FILE *f, const leap_tf_op *op, int numeric) {
    fprintf(f, "{\"op\": \"%s\"", leap_tf_op_name(op->kind));
    switch (op->kind) {
    case LEAP_TF_FILL_MISSING:
        fprintf(f, ", \"mode\": %s", op->fill_mode ? "true" : "false");
        if (numeric)
            fprintf(f, ", \"value\": %.17g", isnan(op->fill_num) ? 0.0 : op->fill_num);
        else
            fprintf(f, ", \"value_hash\": \"%016llx\"", (unsigned long long)op->fill_cat);
        break;
    case LEAP_TF_CLIP: fprintf(f, ", \"lo\": %.17g, \"hi\": %.17g", op->lo, op->hi); break;
    case LEAP_TF_STANDARDIZE:
        fprintf(f, ", \"mean\": %.17g, \"std\": %.17g", op->mean, op->std);
        break;
    case LEAP_TF_HASH: fprintf(f, ", \"buckets\": %u", op->buckets); break;
    case LEAP_TF_BUCKETIZE:
        fprintf(f, ", \"quantiles\": %u, \"rank_error\": %.6g, \"boundaries\": [", op->quantiles,
                op->rank_error);
        for (uint32_t k = 0; k < op->n_bounds; k++)
            fprintf(f, "%s%.17g", k ? ", " : "", op->bounds[k]);
        fprintf(f, "]");
        break;
    case LEAP_TF_VOCABULARY:
        fprintf(f,
                ", \"mode\": \"%s\", \"top_k\": %u, \"min_count\": %llu, \"oov_buckets\": %u, "
                "\"size\": %u, \"entries\": [",
                op->approx ? "approx" : "exact", op->top_k, (unsigned long long)op->min_count,
                op->oov_buckets, op->vocab.n);
        for (uint32_t k = 0; k < op->vocab.n; k++)
            fprintf(f, "%s[\"%016llx\", %llu]", k ? ", " : "",
                    (unsigned long long)op->vocab.keys[k], (unsigned long long)op->vocab.count[k]);
        fprintf(f, "]");
        break;
    default: break;
    }
    fputc('}', f);
}

void leap_transform_describe(const leap_featurizer *fz, FILE *f, int json) {
    const leap_tf_spec *s = fz->tf;
    if (!s) {
        if (json)
            fprintf(f, "{\"transform\": null, \"hash_bits\": %d, \"dimension\": %u}\n",
                    fz->opts.hash_bits, fz->n_buckets);
        else
            fprintf(f, "no transform spec: %zu fields hashed into 2^%d buckets\n", fz->n_fields,
                    fz->opts.hash_bits);
        return;
    }
    if (json) {
        fprintf(f, "{\"spec\": ");
        json_str(f, s->name);
        fprintf(f, ", \"dimension\": %u, \"label\": ", fz->n_buckets);
        json_str(f, fz->label);
        fprintf(f, ", \"features\": [");
    } else {
        fprintf(f, "transform %s: %zu features, dimension %u\n", s->name, s->n_fields,
                fz->n_buckets);
        fprintf(f, "%-24s %-12s %10s %10s  ops\n", "feature", "kind", "offset", "card");
    }
    for (size_t i = 0; i < s->n_fields; i++) {
        const leap_tf_field *t = &s->fields[i];
        const leap_fz_field *z = &fz->fields[i];
        int numeric = t->src_type[0] == LEAP_COL_NUMERIC;
        if (json) {
            fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
            json_str(f, s->names[i]);
            fprintf(f,
                    ", \"kind\": \"%s\", \"offset\": %u, \"card\": %u, \"embedding_dim\": %u, "
                    "\"sources\": [",
                    kind_name(z->kind), z->offset, z->card, z->embedding_dim);
            for (int j = 0; j < t->n_src; j++) {
                fprintf(f, "%s", j ? ", " : "");
                json_str(f, t->src[j]);
            }
            fprintf(f, "], \"cross\": %s, \"ops\": [", t->cross ? "true" : "false");
            for (int j = 0; j < t->n_ops; j++) {
                if (j) fprintf(f, ", ");
                describe_op_json(f, &t->ops[j], numeric);
            }
            fprintf(f, "]}");
            continue;
        }
        fprintf(f, "%-24s %-12s %10u %10u  ", s->names[i], kind_name(z->kind), z->offset, z->card);
        if (t->cross) {
            fprintf(f, "cross(");
            for (int j = 0; j < t->n_src; j++)
                fprintf(f, "%s%s", j ? ", " : "", t->src[j]);
            fprintf(f, ") buckets=%u", t->ops[0].buckets);
            if (z->embedding_dim) fprintf(f, " [embedding_dim %u]", z->embedding_dim);
            fputc('\n', f);
            continue;
        }
        fprintf(f, "%s:", t->src[0]);
        for (int j = 0; j < t->n_ops; j++) {
            const leap_tf_op *op = &t->ops[j];
            fprintf(f, " %s", leap_tf_op_name(op->kind));
            switch (op->kind) {
            case LEAP_TF_FILL_MISSING:
                if (numeric)
                    fprintf(f, "(%s%g)", op->fill_mode ? "mode=" : "", op->fill_num);
                else
                    fprintf(f, "(%s)", op->fill_mode ? "mode" : "value");
                break;
            case LEAP_TF_CLIP: fprintf(f, "(%g, %g)", op->lo, op->hi); break;
            case LEAP_TF_STANDARDIZE: fprintf(f, "(mean=%.6g, std=%.6g)", op->mean, op->std); break;
            case LEAP_TF_HASH: fprintf(f, "(%u)", op->buckets); break;
            case LEAP_TF_BUCKETIZE:
                fprintf(f, "(%u boundaries", op->n_bounds);
                if (op->quantiles) fprintf(f, ", rank error <= %.3g", op->rank_error);
                fprintf(f, ")");
                break;
            case LEAP_TF_VOCABULARY:
                fprintf(f, "(%u entries%s, oov=%u)", op->vocab.n, op->approx ? ", approx" : "",
                        op->oov_buckets);
                break;
            default: break;
            }
        }
        if (z->embedding_dim) fprintf(f, " [embedding_dim %u]", z->embedding_dim);
        fputc('\n', f);
    }
    if (json) fprintf(f, "\n]}\n");
}
