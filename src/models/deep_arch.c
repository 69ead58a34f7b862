/* deep_arch.c — architectures of the embedding models: the preset of each
 * model family, the YAML architecture file that edits it (libyaml document
 * tree, so every error names FILE:LINE:COL), and the canonical YAML stored in
 * the bundle payload (read back by the same parser). Syntax in
 * docs/FORMATS.md, "Architecture file". */
#include "models/deep.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/yaml_log.h"

int deep_parse_widths(const char *s, const char *what, int *w, int *n, leap_err *err) {
    *n = 0;
    const char *p = s;
    while (*p == ' ')
        p++;
    if (!*p) return LEAP_OK;
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || v > 65536)
            return leap_err_set(err, LEAP_EINVAL,
                                "option '%s': '%s' is not a list of widths in [1, 65536] "
                                "(e.g. 400,400,400)",
                                what, s);
        if (*n >= DEEP_MAX_LAYERS)
            return leap_err_set(err, LEAP_EINVAL, "option '%s': more than %d layers", what,
                                DEEP_MAX_LAYERS);
        w[(*n)++] = (int)v;
        p = end;
        while (*p == ' ')
            p++;
        if (!*p) return LEAP_OK;
        if (*p != ',')
            return leap_err_set(err, LEAP_EINVAL, "option '%s': unexpected '%c' in '%s'", what, *p,
                                s);
        p++;
    }
}

int deep_arch_preset(const char *name, const deep_opts *o, deep_arch *a, leap_err *err) {
    memset(a, 0, sizeof *a);
    a->embedding_dim = o->embedding_dim;
    a->dropout = o->dropout;
    a->layer_norm = o->layer_norm;
    int hidden[DEEP_MAX_LAYERS], nh = 0, bottom[DEEP_MAX_LAYERS], nb = 0, rc;
    if ((rc = deep_parse_widths(o->hidden, "hidden", hidden, &nh, err))) return rc;
    if ((rc = deep_parse_widths(o->bottom, "bottom", bottom, &nb, err))) return rc;
    int mlp = 0;
    if (!strcmp(name, "fm")) {
        a->wide = a->fm = a->dense_embed = a->pair_gate = 1;
    } else if (!strcmp(name, "ffm")) {
        a->wide = a->ffm = a->dense_embed = a->pair_gate = 1;
    } else if (!strcmp(name, "wide_deep")) {
        a->wide = mlp = 1;
    } else if (!strcmp(name, "deepfm")) {
        a->wide = a->fm = a->dense_embed = mlp = 1;
    } else if (!strcmp(name, "dcn_v2")) {
        a->cross_layers = o->cross_layers;
        a->cross_rank = o->cross_rank;
        mlp = 1;
    } else if (!strcmp(name, "dlrm")) {
        a->interaction = DEEP_INTER_DOT;
        memcpy(a->bottom, bottom, sizeof bottom);
        a->n_bottom = nb;
        mlp = 1;
    } else if (!strcmp(name, "deep")) {
        /* nothing but what the architecture file says */
    } else {
        return leap_err_set(err, LEAP_EINVAL, "unknown embedding model '%s'", name);
    }
    if (mlp) {
        memcpy(a->mlp, hidden, sizeof hidden);
        a->n_mlp = nh;
    }
    return LEAP_OK;
}

/* ---- YAML ------------------------------------------------------------------ */

typedef struct ap {
    yaml_document_t doc;
    const char *name;
    leap_err *err;
} ap;

static int aerr(ap *P, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int aerr(ap *P, const yaml_node_t *n, const char *fmt, ...) {
    va_list va;
    va_start(va, fmt);
    int rc = leap__ynode_verr(P->err, P->name, n, fmt, va);
    va_end(va);
    return rc;
}

static const char *ascalar(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int aint(ap *P, const yaml_node_t *n, const char *what, int lo, int hi, int *out) {
    const char *v = ascalar(n);
    int64_t x;
    if (!v || leap_parse_i64(v, &x) || x < lo || x > hi)
        return aerr(P, n, "%s must be an integer in [%d, %d]", what, lo, hi);
    *out = (int)x;
    return LEAP_OK;
}

static int abool(ap *P, const yaml_node_t *n, const char *what, int *out) {
    const char *v = ascalar(n);
    if (v && (!strcmp(v, "true") || !strcmp(v, "yes"))) return *out = 1, LEAP_OK;
    if (v && (!strcmp(v, "false") || !strcmp(v, "no"))) return *out = 0, LEAP_OK;
    return aerr(P, n, "%s must be true or false", what);
}

static int aenum(ap *P, const yaml_node_t *n, const char *what, const char *const *names,
                 int *out) {
    const char *v = ascalar(n);
    for (int i = 0; v && names[i]; i++)
        if (!strcmp(v, names[i])) return *out = i, LEAP_OK;
    char list[128] = "";
    for (int i = 0; names[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    return aerr(P, n, "%s must be one of: %s", what, list);
}

/* A list of widths: [400, 400] (or [] for none). */
static int awidths(ap *P, const yaml_node_t *n, const char *what, int *w, int *nw) {
    if (!n || n->type != YAML_SEQUENCE_NODE)
        return aerr(P, n, "%s must be a list of layer widths, e.g. [400, 400]", what);
    *nw = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *e = yaml_document_get_node(&P->doc, *it);
        if (*nw >= DEEP_MAX_LAYERS)
            return aerr(P, e, "%s: more than %d layers", what, DEEP_MAX_LAYERS);
        int rc = aint(P, e, what, 1, 65536, &w[*nw]);
        if (rc) return rc;
        (*nw)++;
    }
    return LEAP_OK;
}

static int amap(ap *P, const yaml_node_t *m, const char *ctx, const char *const *allowed,
                yaml_node_t **found) {
    size_t na = 0;
    while (allowed[na])
        found[na++] = NULL;
    if (!m || m->type != YAML_MAPPING_NODE) return aerr(P, m, "%s must be a mapping", ctx);
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(&P->doc, pr->key);
        const char *ks = ascalar(k);
        size_t i = 0;
        while (ks && i < na && strcmp(ks, allowed[i]))
            i++;
        if (!ks || i == na) {
            char list[300] = "";
            for (size_t j = 0; j < na; j++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", j ? ", " : "",
                         allowed[j]);
            return aerr(P, k, "%s: unknown key '%s' (expected one of: %s)", ctx, ks ? ks : "?",
                        list);
        }
        if (found[i]) return aerr(P, k, "%s: key '%s' given twice", ctx, ks);
        found[i] = yaml_document_get_node(&P->doc, pr->value);
    }
    return LEAP_OK;
}

static const char *const inter_names[] = {"none", "dot", NULL};
static const char *const struct_names[] = {"stacked", "parallel", NULL};
static const char *const dense_names[] = {"mlp", "embed", NULL};

static int parse_doc(ap *P, deep_arch *a) {
    yaml_node_t *root = yaml_document_get_root_node(&P->doc);
    if (!root) return aerr(P, NULL, "empty architecture file");
    enum {
        K_DIM,
        K_WIDE,
        K_FM,
        K_FFM,
        K_INTER,
        K_CROSS,
        K_MLP,
        K_BOTTOM,
        K_DENSE,
        K_DROPOUT,
        K_LN,
        K_FIELDS,
        K_GATE,
        K_N
    };
    static const char *const keys[] = {
        "embedding_dim", "wide",  "fm",      "ffm",        "interaction", "cross",     "mlp",
        "bottom_mlp",    "dense", "dropout", "layer_norm", "fields",      "pair_gate", NULL};
    yaml_node_t *f[K_N + 1];
    int rc = amap(P, root, "architecture", keys, f);
    if (rc) return rc;
    if (f[K_DIM] && (rc = aint(P, f[K_DIM], "embedding_dim", 1, DEEP_MAX_DIM, &a->embedding_dim)))
        return rc;
    if (f[K_WIDE] && (rc = abool(P, f[K_WIDE], "wide", &a->wide))) return rc;
    if (f[K_FM] && (rc = abool(P, f[K_FM], "fm", &a->fm))) return rc;
    if (f[K_FFM] && (rc = abool(P, f[K_FFM], "ffm", &a->ffm))) return rc;
    if (f[K_INTER] && (rc = aenum(P, f[K_INTER], "interaction", inter_names, &a->interaction)))
        return rc;
    if (f[K_CROSS]) {
        yaml_node_t *c = f[K_CROSS];
        if (c->type == YAML_SCALAR_NODE) {
            if ((rc = aint(P, c, "cross", 0, DEEP_MAX_LAYERS, &a->cross_layers))) return rc;
        } else {
            static const char *const ck[] = {"layers", "rank", "structure", NULL};
            yaml_node_t *g[4];
            if ((rc = amap(P, c, "cross", ck, g))) return rc;
            if (!g[0]) return aerr(P, c, "cross: 'layers' is required");
            if ((rc = aint(P, g[0], "cross.layers", 0, DEEP_MAX_LAYERS, &a->cross_layers)))
                return rc;
            if (g[1] && (rc = aint(P, g[1], "cross.rank", 0, 65536, &a->cross_rank))) return rc;
            if (g[2] && (rc = aenum(P, g[2], "cross.structure", struct_names, &a->cross_parallel)))
                return rc;
        }
    }
    if (f[K_MLP] && (rc = awidths(P, f[K_MLP], "mlp", a->mlp, &a->n_mlp))) return rc;
    if (f[K_BOTTOM] && (rc = awidths(P, f[K_BOTTOM], "bottom_mlp", a->bottom, &a->n_bottom)))
        return rc;
    if (f[K_DENSE] && (rc = aenum(P, f[K_DENSE], "dense", dense_names, &a->dense_embed))) return rc;
    if (f[K_DROPOUT]) {
        const char *v = ascalar(f[K_DROPOUT]);
        if (!v || leap_parse_double(v, &a->dropout) || !(a->dropout >= 0 && a->dropout <= 0.95))
            return aerr(P, f[K_DROPOUT], "dropout must be a number in [0, 0.95]");
    }
    if (f[K_LN] && (rc = abool(P, f[K_LN], "layer_norm", &a->layer_norm))) return rc;
    if (f[K_GATE] && (rc = abool(P, f[K_GATE], "pair_gate", &a->pair_gate))) return rc;
    if (f[K_FIELDS]) {
        yaml_node_t *m = f[K_FIELDS];
        if (m->type != YAML_MAPPING_NODE)
            return aerr(P, m, "fields must be a mapping of field names to embedding dims");
        a->n_field_dims = 0;
        for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
             pr++) {
            yaml_node_t *k = yaml_document_get_node(&P->doc, pr->key);
            yaml_node_t *v = yaml_document_get_node(&P->doc, pr->value);
            const char *ks = ascalar(k);
            int ctl = 0;
            for (const char *c = ks; c && *c; c++)
                ctl |= (unsigned char)*c < 0x20;
            if (!ks || !ks[0] || strlen(ks) >= LEAP_NAME_MAX || ctl)
                return aerr(P, k,
                            "fields: a key must be a field name shorter than %d bytes, without "
                            "control characters",
                            LEAP_NAME_MAX);
            if (a->n_field_dims >= DEEP_MAX_FIELD_DIMS)
                return aerr(P, k, "fields: more than %d entries", DEEP_MAX_FIELD_DIMS);
            for (int i = 0; i < a->n_field_dims; i++)
                if (!strcmp(a->field_dims[i].name, ks))
                    return aerr(P, k, "fields: '%s' given twice", ks);
            int d = 0;
            if ((rc = aint(P, v, "a field's embedding dim", 1, DEEP_MAX_DIM, &d))) return rc;
            snprintf(a->field_dims[a->n_field_dims].name, LEAP_NAME_MAX, "%s", ks);
            a->field_dims[a->n_field_dims++].dim = d;
        }
    }
    return LEAP_OK;
}

int deep_arch_parse(const char *text, size_t len, const char *name, deep_arch *a, leap_err *err) {
    ap P;
    memset(&P, 0, sizeof P);
    P.name = name;
    P.err = err;
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
    deep_arch tmp = *a; /* a is changed only when the whole file is valid */
    int rc = parse_doc(&P, &tmp);
    yaml_document_delete(&P.doc);
    if (!rc) *a = tmp;
    return rc;
}

int deep_arch_load(const char *path, deep_arch *a, leap_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return leap_err_set(err, LEAP_EIO, "%s: cannot open: %s", path, strerror(errno));
    leap_buf b = {0};
    char chunk[4096];
    size_t n;
    int rc = LEAP_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (leap_buf_append(&b, chunk, n)) {
            rc = leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
            break;
        }
    if (!rc && ferror(f)) rc = leap_err_set(err, LEAP_EIO, "%s: read error", path);
    fclose(f);
    if (!rc) rc = deep_arch_parse(b.p ? (const char *)b.p : "", b.len, path, a, err);
    leap_buf_free(&b);
    return rc;
}

static int bprintf(leap_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bprintf(leap_buf *out, const char *fmt, ...) {
    char line[512];
    va_list va;
    va_start(va, fmt);
    int n = vsnprintf(line, sizeof line, fmt, va);
    va_end(va);
    if (n < 0 || (size_t)n >= sizeof line) return LEAP_EINVAL;
    return leap_buf_append(out, line, (size_t)n);
}

static int write_widths(leap_buf *out, const char *key, const int *w, int n) {
    char s[256] = "";
    for (int i = 0; i < n; i++)
        snprintf(s + strlen(s), sizeof s - strlen(s), "%s%d", i ? ", " : "", w[i]);
    return bprintf(out, "%s: [%s]\n", key, s);
}

int deep_arch_write(const deep_arch *a, leap_buf *out) {
    int rc = bprintf(out, "embedding_dim: %d\nwide: %s\nfm: %s\nffm: %s\ninteraction: %s\n",
                     a->embedding_dim, a->wide ? "true" : "false", a->fm ? "true" : "false",
                     a->ffm ? "true" : "false", inter_names[a->interaction]);
    rc = rc ? rc
            : bprintf(out, "cross: {layers: %d, rank: %d, structure: %s}\n", a->cross_layers,
                      a->cross_rank, struct_names[a->cross_parallel]);
    rc = rc ? rc : write_widths(out, "mlp", a->mlp, a->n_mlp);
    rc = rc ? rc : write_widths(out, "bottom_mlp", a->bottom, a->n_bottom);
    rc = rc ? rc
            : bprintf(out, "dense: %s\ndropout: %.17g\nlayer_norm: %s\n",
                      dense_names[a->dense_embed], a->dropout, a->layer_norm ? "true" : "false");
    if (!rc && a->pair_gate) rc = bprintf(out, "pair_gate: true\n"); /* absent in older bundles */
    if (!rc && a->n_field_dims) {
        rc = bprintf(out, "fields:\n");
        for (int i = 0; !rc && i < a->n_field_dims; i++) {
            /* single-quoted YAML: a quote is doubled, nothing else is special */
            char q[2 * LEAP_NAME_MAX + 1], *o = q;
            for (const char *c = a->field_dims[i].name; *c; c++) {
                if (*c == '\'') *o++ = '\'';
                *o++ = *c;
            }
            *o = 0;
            rc = bprintf(out, "  '%s': %d\n", q, a->field_dims[i].dim);
        }
    }
    return rc;
}
