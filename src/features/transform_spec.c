/* transform_spec.c — the YAML transform spec: parsing (libyaml's document
 * tree, so every error carries file:line:column), checks against a dataset
 * schema, and the default binned spec for tree models. */
#include "features/transform_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/yaml_log.h"

static const char *const tf_op_names[] = {
#define LEAP_XX_TF(name, str) str,
    LEAP_TF_OP_MAP(LEAP_XX_TF)
#undef LEAP_XX_TF
};
_Static_assert(sizeof tf_op_names / sizeof tf_op_names[0] == LEAP_TF_OP_COUNT, "op table");

const char *leap_tf_op_name(leap_tf_op_kind k) {
    return (unsigned)k < LEAP_TF_OP_COUNT ? tf_op_names[k] : "?";
}

int leap__tf_is_terminal(leap_tf_op_kind k) {
    return k == LEAP_TF_HASH || k == LEAP_TF_VOCABULARY || k == LEAP_TF_BUCKETIZE ||
           k == LEAP_TF_LOG_BUCKET;
}

int leap__tf_is_stateful(const leap_tf_op *op) {
    switch (op->kind) {
    case LEAP_TF_FILL_MISSING: return op->fill_mode;
    case LEAP_TF_STANDARDIZE:
    case LEAP_TF_VOCABULARY: return 1;
    case LEAP_TF_BUCKETIZE: return op->quantiles > 0;
    default: return 0;
    }
}

void leap__tf_op_free(leap_tf_op *op) {
    free(op->bounds);
    free(op->vocab.keys);
    free(op->vocab.count);
    free(op->vocab.tkey);
    free(op->vocab.tval);
    op->bounds = NULL;
    memset(&op->vocab, 0, sizeof op->vocab);
}

void leap_tf_spec_free(leap_tf_spec *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n_fields; i++) {
        for (int j = 0; j < s->fields[i].n_ops; j++)
            leap__tf_op_free(&s->fields[i].ops[j]);
        free(s->fields[i].ops);
    }
    free(s->fields);
    free(s->names);
    free(s->embedding_dim);
    free(s);
}

/* ---- parser ---------------------------------------------------------------- */

typedef struct yp {
    yaml_document_t doc;
    const char *name;
    leap_err *err;
    leap_tf_spec *s;
    size_t cap;
} yp;

static int yerr(yp *P, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int yerr(yp *P, const yaml_node_t *n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = leap__ynode_verr(P->err, P->name, n, fmt, ap);
    va_end(ap);
    return rc;
}

static yaml_node_t *ynode(yp *P, int id) { return yaml_document_get_node(&P->doc, id); }

static const char *yscalar(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int ynum(yp *P, const yaml_node_t *n, const char *what, double *out) {
    const char *v = yscalar(n);
    if (!v || leap_parse_double(v, out) || !isfinite(*out))
        return yerr(P, n, "%s must be a finite number", what);
    return LEAP_OK;
}

static int yuint(yp *P, const yaml_node_t *n, const char *what, int64_t lo, int64_t hi,
                 int64_t *out) {
    const char *v = yscalar(n);
    if (!v || leap_parse_i64(v, out) || *out < lo || *out > hi)
        return yerr(P, n, "%s must be an integer in [%lld, %lld]", what, (long long)lo,
                    (long long)hi);
    return LEAP_OK;
}

static int ybool(yp *P, const yaml_node_t *n, const char *what, uint8_t *out) {
    const char *v = yscalar(n);
    if (v && (!strcmp(v, "true") || !strcmp(v, "yes"))) {
        *out = 1;
        return LEAP_OK;
    }
    if (v && (!strcmp(v, "false") || !strcmp(v, "no"))) {
        *out = 0;
        return LEAP_OK;
    }
    return yerr(P, n, "%s must be true or false", what);
}

static int yname(yp *P, const yaml_node_t *n, const char *what, char out[LEAP_NAME_MAX]) {
    const char *v = yscalar(n);
    if (!v || !v[0]) return yerr(P, n, "%s must be a non-empty name", what);
    if (strlen(v) >= LEAP_NAME_MAX)
        return yerr(P, n, "%s '%s' is longer than %d bytes", what, v, LEAP_NAME_MAX - 1);
    snprintf(out, LEAP_NAME_MAX, "%s", v);
    return LEAP_OK;
}

/* Iterates the pairs of a mapping node checking every key against allowed
 * (a NULL-terminated list); returns the value of key k via found[]. */
static int ymap(yp *P, const yaml_node_t *m, const char *ctx, const char *const *allowed,
                yaml_node_t **found) {
    size_t na = 0;
    while (allowed[na])
        found[na++] = NULL;
    if (!m || m->type != YAML_MAPPING_NODE) return yerr(P, m, "%s must be a mapping", ctx);
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = ynode(P, pr->key), *v = ynode(P, pr->value);
        const char *ks = yscalar(k);
        size_t i = 0;
        while (ks && i < na && strcmp(ks, allowed[i]))
            i++;
        if (!ks || i == na) {
            char list[256] = "";
            for (size_t j = 0; j < na; j++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", j ? ", " : "",
                         allowed[j]);
            return yerr(P, k, "%s: unknown key '%s' (expected one of: %s)", ctx, ks ? ks : "?",
                        list);
        }
        if (found[i]) return yerr(P, k, "%s: key '%s' given twice", ctx, ks);
        found[i] = v;
    }
    return LEAP_OK;
}

/* Op parameters: a scalar shorthand or a mapping. */
static int parse_op(yp *P, const yaml_node_t *item, leap_tf_op *op) {
    memset(op, 0, sizeof *op);
    op->line = (int)item->start_mark.line + 1;
    op->col = (int)item->start_mark.column + 1;
    const char *opname = NULL;
    yaml_node_t *arg = NULL;
    if (item->type == YAML_SCALAR_NODE) {
        opname = yscalar(item);
    } else if (item->type == YAML_MAPPING_NODE &&
               item->data.mapping.pairs.top - item->data.mapping.pairs.start == 1) {
        yaml_node_pair_t *pr = item->data.mapping.pairs.start;
        opname = yscalar(ynode(P, pr->key));
        arg = ynode(P, pr->value);
    } else {
        return yerr(P, item, "an op is a name (log1p) or a one-key mapping (clip: {lo: 0, hi: 9})");
    }
    int k = -1;
    for (int i = 0; opname && i < LEAP_TF_OP_COUNT; i++)
        if (!strcmp(opname, tf_op_names[i])) k = i;
    if (k < 0) {
        return yerr(P, item,
                    "unknown op '%s' (ops: fill_missing, clip, log1p, standardize, hash, "
                    "vocabulary, bucketize, log_bucket)",
                    opname ? opname : "?");
    }
    op->kind = (leap_tf_op_kind)k;
    const char *as = yscalar(arg);
    int empty_arg = !arg || (as && (!as[0] || !strcmp(as, "~") || !strcmp(as, "null")));
    yaml_node_t *f[8];
    switch (op->kind) {
    case LEAP_TF_LOG1P:
    case LEAP_TF_STANDARDIZE:
    case LEAP_TF_LOG_BUCKET:
        if (!empty_arg) return yerr(P, arg, "%s takes no parameters", opname);
        return LEAP_OK;
    case LEAP_TF_FILL_MISSING: {
        if (as && !strcmp(as, "mode")) {
            op->fill_mode = 1;
            return LEAP_OK;
        }
        static const char *const keys[] = {"value", "strategy", NULL};
        if (empty_arg || ymap(P, arg, "fill_missing", keys, f))
            return P->err->status ? P->err->status
                                  : yerr(P, item, "fill_missing needs {value: X} or mode");
        if (!!f[0] == !!f[1])
            return yerr(P, arg, "fill_missing: give exactly one of value or strategy");
        if (f[1]) {
            const char *st = yscalar(f[1]);
            if (!st || strcmp(st, "mode"))
                return yerr(P, f[1], "fill_missing: strategy must be mode");
            op->fill_mode = 1;
            return LEAP_OK;
        }
        const char *v = yscalar(f[0]);
        if (!v || !v[0]) return yerr(P, f[0], "fill_missing: value must be a scalar");
        /* Kept both ways; the column type decides at resolve time. */
        if (leap_parse_double(v, &op->fill_num) || !isfinite(op->fill_num)) op->fill_num = NAN;
        op->fill_cat = leap_cat_hash(v, strlen(v));
        return LEAP_OK;
    }
    case LEAP_TF_CLIP: {
        static const char *const keys[] = {"lo", "hi", NULL};
        if (empty_arg) return yerr(P, item, "clip needs {lo: X, hi: Y}");
        if (ymap(P, arg, "clip", keys, f)) return P->err->status;
        op->lo = -INFINITY;
        op->hi = INFINITY;
        if (!f[0] && !f[1]) return yerr(P, arg, "clip needs lo, hi or both");
        if (f[0] && ynum(P, f[0], "clip: lo", &op->lo)) return P->err->status;
        if (f[1] && ynum(P, f[1], "clip: hi", &op->hi)) return P->err->status;
        if (op->lo > op->hi) return yerr(P, arg, "clip: lo %g is above hi %g", op->lo, op->hi);
        return LEAP_OK;
    }
    case LEAP_TF_HASH: {
        int64_t b;
        if (as && !empty_arg) {
            if (yuint(P, arg, "hash: buckets", 1, 1 << 28, &b)) return P->err->status;
        } else {
            static const char *const keys[] = {"buckets", NULL};
            if (empty_arg) return yerr(P, item, "hash needs buckets (hash: {buckets: N})");
            if (ymap(P, arg, "hash", keys, f)) return P->err->status;
            if (!f[0]) return yerr(P, arg, "hash needs buckets");
            if (yuint(P, f[0], "hash: buckets", 1, 1 << 28, &b)) return P->err->status;
        }
        op->buckets = (uint32_t)b;
        return LEAP_OK;
    }
    case LEAP_TF_VOCABULARY: {
        static const char *const keys[] = {"top_k", "min_count", "oov_buckets",
                                           "mode",  "capacity",  NULL};
        op->min_count = 1;
        op->oov_buckets = 1;
        op->capacity = 1u << 16;
        if (empty_arg) return LEAP_OK;
        if (ymap(P, arg, "vocabulary", keys, f)) return P->err->status;
        int64_t v;
        if (f[0]) {
            if (yuint(P, f[0], "vocabulary: top_k", 1, 1 << 26, &v)) return P->err->status;
            op->top_k = (uint32_t)v;
        }
        if (f[1]) {
            if (yuint(P, f[1], "vocabulary: min_count", 1, INT64_MAX, &v)) return P->err->status;
            op->min_count = (uint64_t)v;
        }
        if (f[2]) {
            if (yuint(P, f[2], "vocabulary: oov_buckets", 1, 1 << 24, &v)) return P->err->status;
            op->oov_buckets = (uint32_t)v;
        }
        if (f[3]) {
            const char *m = yscalar(f[3]);
            if (m && !strcmp(m, "exact"))
                op->approx = 0;
            else if (m && !strcmp(m, "approx"))
                op->approx = 1;
            else
                return yerr(P, f[3], "vocabulary: mode must be exact or approx");
        }
        if (f[4]) {
            if (!op->approx)
                return yerr(P, f[4], "vocabulary: capacity applies to mode: approx only");
            if (yuint(P, f[4], "vocabulary: capacity", 16, 1 << 26, &v)) return P->err->status;
            op->capacity = (uint32_t)v;
        }
        if (op->approx && op->top_k && op->top_k > op->capacity)
            return yerr(P, arg, "vocabulary: top_k %u exceeds the approx capacity %u", op->top_k,
                        op->capacity);
        return LEAP_OK;
    }
    case LEAP_TF_BUCKETIZE: {
        static const char *const keys[] = {"quantiles", "boundaries", "sketch_k", NULL};
        if (empty_arg) return yerr(P, item, "bucketize needs quantiles: K or boundaries: [...]");
        if (ymap(P, arg, "bucketize", keys, f)) return P->err->status;
        if (!!f[0] == !!f[1])
            return yerr(P, arg, "bucketize: give exactly one of quantiles or boundaries");
        int64_t v;
        op->sketch_k = 400;
        if (f[2]) {
            if (!f[0]) return yerr(P, f[2], "bucketize: sketch_k applies to quantiles only");
            if (yuint(P, f[2], "bucketize: sketch_k", 8, 65535, &v)) return P->err->status;
            op->sketch_k = (uint32_t)v;
        }
        if (f[0]) {
            if (yuint(P, f[0], "bucketize: quantiles", 2, 65535, &v)) return P->err->status;
            op->quantiles = (uint32_t)v;
            return LEAP_OK;
        }
        yaml_node_t *b = f[1];
        if (b->type != YAML_SEQUENCE_NODE)
            return yerr(P, b, "bucketize: boundaries must be a list of numbers");
        size_t n = (size_t)(b->data.sequence.items.top - b->data.sequence.items.start);
        if (n == 0 || n > 65535)
            return yerr(P, b, "bucketize: boundaries must hold 1 to 65535 numbers");
        op->bounds = malloc(n * sizeof *op->bounds);
        if (!op->bounds) return leap_err_set(P->err, LEAP_ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            yaml_node_t *e = ynode(P, b->data.sequence.items.start[i]);
            if (ynum(P, e, "bucketize: a boundary", &op->bounds[i])) return P->err->status;
            if (i && !(op->bounds[i] > op->bounds[i - 1]))
                return yerr(P, e, "bucketize: boundaries must be strictly increasing");
        }
        op->n_bounds = (uint32_t)n;
        op->fitted = 1;
        return LEAP_OK;
    }
    default: return yerr(P, item, "op '%s' is not supported here", opname);
    }
}

static int add_field(yp *P, const char *name, const yaml_node_t *at, leap_tf_field **out) {
    leap_tf_spec *s = P->s;
    for (size_t i = 0; i < s->n_fields; i++)
        if (!strcmp(s->names[i], name)) return yerr(P, at, "feature '%s' is defined twice", name);
    if (s->n_fields == 65535) return yerr(P, at, "more than 65535 features");
    if (s->n_fields == P->cap) {
        size_t nc = P->cap ? 2 * P->cap : 16;
        leap_tf_field *nf = realloc(s->fields, nc * sizeof *nf);
        if (nf) s->fields = nf;
        char(*nn)[LEAP_NAME_MAX] = realloc(s->names, nc * sizeof *nn);
        if (nn) s->names = nn;
        uint16_t *ne = realloc(s->embedding_dim, nc * sizeof *ne);
        if (ne) s->embedding_dim = ne;
        if (!nf || !nn || !ne) return leap_err_set(P->err, LEAP_ENOMEM, "out of memory");
        P->cap = nc;
    }
    leap_tf_field *f = &s->fields[s->n_fields];
    memset(f, 0, sizeof *f);
    snprintf(s->names[s->n_fields], LEAP_NAME_MAX, "%s", name);
    s->embedding_dim[s->n_fields] = 0;
    f->line = (int)at->start_mark.line + 1;
    f->col = (int)at->start_mark.column + 1;
    s->n_fields++;
    *out = f;
    return LEAP_OK;
}

/* Copies the op chain src into f (deep: boundaries). */
static int copy_ops(yp *P, leap_tf_field *f, const leap_tf_op *ops, int n) {
    f->n_ops = n;
    f->ops = n ? calloc((size_t)n, sizeof *f->ops) : NULL;
    if (n && !f->ops) return leap_err_set(P->err, LEAP_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        f->ops[i] = ops[i];
        if (ops[i].bounds) {
            f->ops[i].bounds = malloc(ops[i].n_bounds * sizeof(double));
            if (!f->ops[i].bounds) return leap_err_set(P->err, LEAP_ENOMEM, "out of memory");
            memcpy(f->ops[i].bounds, ops[i].bounds, ops[i].n_bounds * sizeof(double));
        }
    }
    return LEAP_OK;
}

static int parse_feature(yp *P, const yaml_node_t *item) {
    static const char *const keys[] = {"name", "source",        "cross",   "buckets",
                                       "ops",  "embedding_dim", "weights", NULL};
    enum { K_NAME, K_SOURCE, K_CROSS, K_BUCKETS, K_OPS, K_EMB, K_WEIGHTS };
    yaml_node_t *f[8];
    if (ymap(P, item, "feature", keys, f)) return P->err->status;
    int rc;
    leap_tf_op ops[32];
    int n_ops = 0;
    uint8_t weights = 2; /* 2 = default: the column's own */
    int64_t emb = 0;
    if (f[K_EMB] && yuint(P, f[K_EMB], "embedding_dim", 1, 4096, &emb)) return P->err->status;
    if (f[K_WEIGHTS] && ybool(P, f[K_WEIGHTS], "weights", &weights)) return P->err->status;

    if (f[K_CROSS]) {
        if (f[K_SOURCE]) return yerr(P, f[K_SOURCE], "a feature has either source or cross");
        if (f[K_OPS])
            return yerr(P, f[K_OPS], "a cross takes no ops: it hashes its inputs into buckets");
        if (f[K_WEIGHTS]) return yerr(P, f[K_WEIGHTS], "weights do not apply to a cross");
        if (!f[K_NAME]) return yerr(P, item, "a cross needs a name");
        if (!f[K_BUCKETS]) return yerr(P, item, "a cross needs buckets");
        char name[LEAP_NAME_MAX];
        if (yname(P, f[K_NAME], "name", name)) return P->err->status;
        int64_t b;
        if (yuint(P, f[K_BUCKETS], "buckets", 1, 1 << 28, &b)) return P->err->status;
        yaml_node_t *c = f[K_CROSS];
        if (c->type != YAML_SEQUENCE_NODE) return yerr(P, c, "cross must be a list of names");
        size_t n = (size_t)(c->data.sequence.items.top - c->data.sequence.items.start);
        if (n < 2 || n > LEAP_TF_MAX_SOURCES)
            return yerr(P, c, "a cross joins 2 to %d inputs", LEAP_TF_MAX_SOURCES);
        leap_tf_field *fd;
        if ((rc = add_field(P, name, f[K_NAME], &fd))) return rc;
        fd->cross = 1;
        fd->n_src = (int)n;
        for (size_t i = 0; i < n; i++) {
            yaml_node_t *e = ynode(P, c->data.sequence.items.start[i]);
            if (yname(P, e, "a cross input", fd->src[i])) return P->err->status;
            fd->ref[i] = -1;
        }
        leap_tf_op h = {.kind = LEAP_TF_HASH,
                        .buckets = (uint32_t)b,
                        .line = (int)f[K_BUCKETS]->start_mark.line + 1,
                        .col = (int)f[K_BUCKETS]->start_mark.column + 1};
        if ((rc = copy_ops(P, fd, &h, 1))) return rc;
        P->s->embedding_dim[P->s->n_fields - 1] = (uint16_t)emb;
        return LEAP_OK;
    }
    if (f[K_BUCKETS]) return yerr(P, f[K_BUCKETS], "buckets belongs to a cross (or hash: N)");
    if (!f[K_SOURCE]) return yerr(P, item, "a feature needs source (a column) or cross");
    if (f[K_OPS]) {
        yaml_node_t *o = f[K_OPS];
        if (o->type != YAML_SEQUENCE_NODE) return yerr(P, o, "ops must be a list");
        size_t n = (size_t)(o->data.sequence.items.top - o->data.sequence.items.start);
        if (n > 32) return yerr(P, o, "at most 32 ops per feature");
        for (size_t i = 0; i < n; i++) {
            yaml_node_t *e = ynode(P, o->data.sequence.items.start[i]);
            rc = parse_op(P, e, &ops[n_ops]);
            n_ops++;
            if (rc) goto fail;
            if (i + 1 < n && leap__tf_is_terminal(ops[n_ops - 1].kind)) {
                rc = yerr(P, ynode(P, o->data.sequence.items.start[i + 1]),
                          "no op may follow %s: it turns the value into an index",
                          tf_op_names[ops[n_ops - 1].kind]);
                goto fail;
            }
        }
    }
    /* One feature per source column when source is a list. */
    yaml_node_t *src = f[K_SOURCE];
    size_t n_src = 1;
    if (src->type == YAML_SEQUENCE_NODE) {
        n_src = (size_t)(src->data.sequence.items.top - src->data.sequence.items.start);
        if (n_src == 0) {
            rc = yerr(P, src, "source list is empty");
            goto fail;
        }
        if (f[K_NAME]) {
            rc = yerr(P, f[K_NAME],
                      "a source list makes one feature per column, named after it; "
                      "drop name");
            goto fail;
        }
    }
    for (size_t i = 0; i < n_src; i++) {
        yaml_node_t *sn =
            src->type == YAML_SEQUENCE_NODE ? ynode(P, src->data.sequence.items.start[i]) : src;
        char col[LEAP_NAME_MAX], name[LEAP_NAME_MAX];
        if ((rc = yname(P, sn, "source", col))) goto fail;
        if (f[K_NAME]) {
            if ((rc = yname(P, f[K_NAME], "name", name))) goto fail;
        } else {
            memcpy(name, col, sizeof name);
        }
        leap_tf_field *fd;
        if ((rc = add_field(P, name, sn, &fd))) goto fail;
        fd->n_src = 1;
        memcpy(fd->src[0], col, sizeof col);
        fd->ref[0] = -1;
        fd->use_weights = weights;
        if ((rc = copy_ops(P, fd, ops, n_ops))) goto fail;
        P->s->embedding_dim[P->s->n_fields - 1] = (uint16_t)emb;
    }
    rc = LEAP_OK;
fail:
    for (int i = 0; i < n_ops; i++)
        leap__tf_op_free(&ops[i]);
    return rc;
}

int leap_tf_spec_parse(const char *text, size_t len, const char *name, leap_tf_spec **out,
                       leap_err *err) {
    *out = NULL;
    yp P;
    memset(&P, 0, sizeof P);
    P.name = name;
    P.err = err;
    leap_err dummy = {0};
    if (!P.err) P.err = &dummy;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &P.doc)) {
        int rc = leap_err_set(err, LEAP_EPARSE, "%s:%zu:%zu: %s%s%s", name,
                              parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                              parser.problem ? parser.problem : "YAML error",
                              parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return rc;
    }
    yaml_parser_delete(&parser);
    int rc = LEAP_OK;
    P.s = calloc(1, sizeof *P.s);
    if (!P.s) {
        rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
        goto done;
    }
    snprintf(P.s->name, sizeof P.s->name, "%s", name);
    yaml_node_t *root = yaml_document_get_root_node(&P.doc);
    if (!root) {
        rc = yerr(&P, NULL, "empty transform spec (expected a mapping with features:)");
        goto done;
    }
    static const char *const keys[] = {"features", "label", "weight", NULL};
    yaml_node_t *f[4];
    if ((rc = ymap(&P, root, "transform spec", keys, f))) goto done;
    if (f[1] && (rc = yname(&P, f[1], "label", P.s->label))) goto done;
    if (f[2] && (rc = yname(&P, f[2], "weight", P.s->weight))) goto done;
    if (!f[0]) {
        rc = yerr(&P, root, "the spec has no features: list");
        goto done;
    }
    if (f[0]->type != YAML_SEQUENCE_NODE ||
        f[0]->data.sequence.items.top == f[0]->data.sequence.items.start) {
        rc = yerr(&P, f[0], "features must be a non-empty list");
        goto done;
    }
    for (yaml_node_item_t *it = f[0]->data.sequence.items.start; it < f[0]->data.sequence.items.top;
         it++)
        if ((rc = parse_feature(&P, ynode(&P, *it)))) goto done;
    /* Cross inputs that name a feature refer to it (it must come first);
     * other names are columns, checked at resolve. */
    for (size_t i = 0; i < P.s->n_fields; i++) {
        leap_tf_field *fd = &P.s->fields[i];
        if (!fd->cross) continue;
        for (int j = 0; j < fd->n_src; j++)
            for (size_t k = 0; k < P.s->n_fields; k++)
                if (!strcmp(P.s->names[k], fd->src[j])) {
                    if (k >= i) {
                        rc = leap_err_set(err, LEAP_EPARSE,
                                          "%s:%d:%d: cross '%s' uses feature '%s', which must "
                                          "be defined before it",
                                          name, fd->line, fd->col, P.s->names[i], fd->src[j]);
                        goto done;
                    }
                    fd->ref[j] = (int)k;
                }
    }
done:
    yaml_document_delete(&P.doc);
    if (rc) {
        leap_tf_spec_free(P.s);
        return rc;
    }
    *out = P.s;
    return LEAP_OK;
}

int leap_tf_spec_load(const char *path, leap_tf_spec **out, leap_err *err) {
    *out = NULL;
    leap_buf b = {0};
    int rc = leap_read_file(path, 64u << 20, &b, err);
    if (!rc) rc = leap_tf_spec_parse((const char *)b.p, b.len, path, out, err);
    leap_buf_free(&b);
    return rc;
}

/* ---- resolution against a schema ------------------------------------------ */

static int rerr(const leap_tf_spec *s, int line, int col, leap_err *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int rerr(const leap_tf_spec *s, int line, int col, leap_err *err, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0) return leap_err_set(err, LEAP_EINVAL, "%s:%d:%d: %s", s->name, line, col, msg);
    return leap_err_set(err, LEAP_EINVAL, "%s: %s", s->name, msg);
}

leap_fz_kind leap__tf_field_kind(const leap_tf_field *f) {
    if (f->cross) return LEAP_FZ_KIND_CATEGORICAL;
    const leap_tf_op *t = f->n_ops ? &f->ops[f->n_ops - 1] : NULL;
    if (!t || !leap__tf_is_terminal(t->kind)) return LEAP_FZ_KIND_DENSE;
    if (t->kind == LEAP_TF_BUCKETIZE || t->kind == LEAP_TF_LOG_BUCKET) return LEAP_FZ_KIND_ORDINAL;
    return LEAP_FZ_KIND_CATEGORICAL;
}

int leap_tf_spec_resolve(leap_tf_spec *s, const leap_schema *schema, const char *input_name,
                         leap_err *err) {
    for (size_t i = 0; i < s->n_fields; i++) {
        leap_tf_field *f = &s->fields[i];
        for (int j = 0; j < f->n_src; j++) {
            if (f->ref[j] >= 0) {
                const leap_tf_field *r = &s->fields[f->ref[j]];
                leap_fz_kind k = leap__tf_field_kind(r);
                if (k == LEAP_FZ_KIND_DENSE || r->src_type[0] == LEAP_COL_MULTI_CATEGORICAL)
                    return rerr(s, f->line, f->col, err,
                                "cross '%s': feature '%s' is %s; a cross needs single-valued "
                                "categorical or bucketized features",
                                s->names[i], s->names[f->ref[j]],
                                k == LEAP_FZ_KIND_DENSE ? "dense (no terminal op)"
                                                        : "multi-valued");
                f->src_type[j] = r->src_type[0];
                continue;
            }
            int c = leap_schema_find(schema, f->src[j]);
            if (c < 0)
                return rerr(s, f->line, f->col, err, "feature '%s': column '%s' is not in %s",
                            s->names[i], f->src[j], input_name);
            leap_col_type t = schema->cols[c].type;
            f->src_type[j] = t;
            if (t != LEAP_COL_NUMERIC && t != LEAP_COL_CATEGORICAL &&
                t != LEAP_COL_MULTI_CATEGORICAL)
                return rerr(s, f->line, f->col, err,
                            "feature '%s': column '%s' is a %s column, not a feature source",
                            s->names[i], f->src[j], leap_col_type_name(t));
            if (f->cross && t == LEAP_COL_MULTI_CATEGORICAL)
                return rerr(s, f->line, f->col, err,
                            "cross '%s': column '%s' is multi-valued; a cross needs "
                            "single-valued inputs",
                            s->names[i], f->src[j]);
            if (f->cross && t == LEAP_COL_NUMERIC)
                return rerr(s, f->line, f->col, err,
                            "cross '%s': column '%s' is numeric; bucketize it in a feature "
                            "of its own and cross that feature",
                            s->names[i], f->src[j]);
            if (j == 0) f->src_weighted = schema->cols[c].weighted;
        }
        if (f->cross) continue;
        leap_col_type t = f->src_type[0];
        if (f->use_weights == 1 && !(t == LEAP_COL_MULTI_CATEGORICAL && f->src_weighted))
            return rerr(s, f->line, f->col, err,
                        "feature '%s': weights: true needs a weighted multi_categorical column",
                        s->names[i]);
        if (f->use_weights == 2)
            f->use_weights = t == LEAP_COL_MULTI_CATEGORICAL && f->src_weighted;
        int has_terminal = 0;
        for (int j = 0; j < f->n_ops; j++) {
            leap_tf_op *op = &f->ops[j];
            const char *on = tf_op_names[op->kind];
            has_terminal |= leap__tf_is_terminal(op->kind);
            switch (op->kind) {
            case LEAP_TF_CLIP:
            case LEAP_TF_LOG1P:
            case LEAP_TF_STANDARDIZE:
            case LEAP_TF_BUCKETIZE:
            case LEAP_TF_LOG_BUCKET:
                if (t != LEAP_COL_NUMERIC)
                    return rerr(s, op->line, op->col, err,
                                "feature '%s': %s needs a numeric column; '%s' is %s", s->names[i],
                                on, f->src[0], leap_col_type_name(t));
                break;
            case LEAP_TF_FILL_MISSING:
                if (t == LEAP_COL_NUMERIC && !op->fill_mode && isnan(op->fill_num))
                    return rerr(s, op->line, op->col, err,
                                "feature '%s': fill_missing value must be a number for "
                                "numeric column '%s'",
                                s->names[i], f->src[0]);
                if (t == LEAP_COL_MULTI_CATEGORICAL && op->fill_mode)
                    return rerr(s, op->line, op->col, err,
                                "feature '%s': fill_missing: mode is not defined for "
                                "multi-valued column '%s'; give a value",
                                s->names[i], f->src[0]);
                break;
            default: break;
            }
        }
        if (t != LEAP_COL_NUMERIC && !has_terminal)
            return rerr(s, f->line, f->col, err,
                        "feature '%s': %s column '%s' needs a terminal op (hash or vocabulary)",
                        s->names[i], leap_col_type_name(t), f->src[0]);
    }
    return LEAP_OK;
}

int leap_tf_spec_default_binned(const leap_schema *schema, int max_bin, uint32_t top_k,
                                leap_tf_spec **out, leap_err *err) {
    leap_buf b = {0};
    char line[256];
    int rc = LEAP_OK;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        int n_ = snprintf(line, sizeof line, __VA_ARGS__);                                         \
        if (leap_buf_append(&b, line, (size_t)n_)) rc = LEAP_ENOMEM;                               \
    } while (0)
    ADD("features:\n");
    size_t n = 0;
    for (size_t c = 0; c < schema->n_cols; c++) {
        const leap_column_def *d = &schema->cols[c];
        if (d->type == LEAP_COL_NUMERIC) {
            ADD("  - source: \"%s\"\n    ops: [bucketize: {quantiles: %d}]\n", d->name, max_bin);
            n++;
        } else if (d->type == LEAP_COL_CATEGORICAL || d->type == LEAP_COL_MULTI_CATEGORICAL) {
            ADD("  - source: \"%s\"\n    ops: [vocabulary: {top_k: %u}]\n", d->name, top_k);
            n++;
        }
    }
#undef ADD
    if (rc) {
        leap_buf_free(&b);
        return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    }
    if (!n) {
        leap_buf_free(&b);
        return leap_err_set(err, LEAP_EINVAL, "the schema has no feature columns");
    }
    rc = leap_tf_spec_parse((const char *)b.p, b.len, "(default binned spec)", out, err);
    leap_buf_free(&b);
    return rc;
}
