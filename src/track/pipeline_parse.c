/* pipeline_parse.c — pipeline files: the table of step kinds, the YAML
 * reader (libyaml's document API, for line/column marks), the checks that
 * run before anything executes (keys, kinds, options, model options and
 * their ranges, references, cycles), option overrides, copying and writing
 * a pipeline back as YAML. Running lives in pipeline_run.c. */
#include "leap/model.h"
#include "leap/pipeline.h"
#include "leap/train.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/yaml_log.h"

/* One row per kind: how a step becomes `leap ARGV...` and what it writes. A
 * kind for a new command is one row here. */
static const leap_step_kind kinds[] = {
    {"datagen",
     "generate Criteo-format click logs",
     {"datagen"},
     {{0}},
     {{"data", "data.tsv", 0}, {"truth", "data.tsv.truth", 0}},
     "-o",
     "data.tsv",
     {{"rows", "--rows", LEAP_PO_VALUE},
      {"seed", "--seed", LEAP_PO_VALUE},
      {"ctr", "--ctr", LEAP_PO_VALUE},
      {"threads", "--threads", LEAP_PO_VALUE}},
     {0}},
    {"ingest",
     "read raw logs into a dataset",
     {"ingest"},
     {{"data", NULL, LEAP_SLOT_REQUIRED | LEAP_SLOT_MULTI}, {"schema", "--schema", 0}},
     {{"dataset", "data.lds", 0}},
     "-o",
     "data.lds",
     {{"format", "--format", LEAP_PO_VALUE},
      {"bad_rows", "--bad-rows", LEAP_PO_VALUE},
      {"dict", "--dict", LEAP_PO_BOOL},
      {"row_group_rows", "--row-group-rows", LEAP_PO_VALUE},
      {"zstd_level", "--zstd-level", LEAP_PO_VALUE},
      {"threads", "--threads", LEAP_PO_VALUE}},
     {0}},
    {"split",
     "split a dataset into train/valid/test; negative downsampling",
     {"split"},
     {{"data", NULL, LEAP_SLOT_REQUIRED}},
     {{"train", "split.train.lds", 0},
      {"valid", "split.valid.lds", LEAP_OUT_OPTIONAL},
      {"test", "split.test.lds", LEAP_OUT_OPTIONAL}},
     "-o",
     "split",
     {{"by", "--by", LEAP_PO_VALUE},
      {"fractions", "--fractions", LEAP_PO_JOIN},
      {"seed", "--seed", LEAP_PO_VALUE},
      {"neg_rate", "--neg-rate", LEAP_PO_VALUE},
      {"threads", "--threads", LEAP_PO_VALUE},
      {"zstd_level", "--zstd-level", LEAP_PO_VALUE}},
     {0}},
    {"stats",
     "per-column statistics (JSON)",
     {"stats"},
     {{"data", NULL, LEAP_SLOT_REQUIRED}},
     {{"report", "stats.json", LEAP_OUT_STDOUT}},
     NULL,
     NULL,
     {{"label_by", "--label-by", LEAP_PO_JOIN},
      {"top", "--top", LEAP_PO_VALUE},
      {"threads", "--threads", LEAP_PO_VALUE}},
     {"--json"}},
    {"schema",
     "infer a validation schema",
     {"schema", "infer"},
     {{"data", NULL, LEAP_SLOT_REQUIRED}},
     {{"schema", "schema.yaml", 0}},
     "-o",
     "schema.yaml",
     {{"threads", "--threads", LEAP_PO_VALUE}},
     {0}},
    {"validate",
     "check a dataset against a schema (fails on anomalies)",
     {"validate"},
     {{"data", NULL, LEAP_SLOT_REQUIRED},
      {"schema", "--schema", LEAP_SLOT_REQUIRED},
      {"baseline", "--baseline", 0}},
     {{"report", "validate.json", LEAP_OUT_STDOUT}},
     NULL,
     NULL,
     {{"threads", "--threads", LEAP_PO_VALUE}},
     {"--json"}},
    {"transform_fit",
     "fit a transform spec on a dataset (leap transform fit)",
     {"transform", "fit"},
     {{"spec", "--spec", LEAP_SLOT_REQUIRED}, {"data", "--data", LEAP_SLOT_REQUIRED}},
     {{"transform", "transform.ltf", 0}},
     "-o",
     "transform.ltf",
     {{"threads", "--threads", LEAP_PO_VALUE}},
     {0}},
    {"train",
     "train a model bundle",
     {"train"},
     {{"train", "--train", LEAP_SLOT_REQUIRED},
      {"valid", "--valid", 0},
      {"transform", "--transform", 0},
      {"schema", "--schema", 0}},
     {{"model", "model.leap", 0}},
     "-o",
     "model.leap",
     {{"model", "--model", LEAP_PO_VALUE},
      {"epochs", "--epochs", LEAP_PO_VALUE},
      {"seed", "--seed", LEAP_PO_VALUE},
      {"threads", "--threads", LEAP_PO_VALUE},
      {"format", "--format", LEAP_PO_VALUE},
      {"set", "--set", LEAP_PO_SET}},
     {0}},
    {"eval",
     "metrics of a model on a dataset (JSON)",
     {"eval"},
     {{"model", "--model", LEAP_SLOT_REQUIRED},
      {"data", "--data", LEAP_SLOT_REQUIRED},
      {"schema", "--schema", 0}},
     {{"metrics", "metrics.json", LEAP_OUT_STDOUT}},
     NULL,
     NULL,
     {{"slice_by", "--slice-by", LEAP_PO_VALUE},
      {"slices", "--slices", LEAP_PO_VALUE},
      {"threads", "--threads", LEAP_PO_VALUE},
      {"format", "--format", LEAP_PO_VALUE}},
     {"--json"}},
    {"predict",
     "score a file or dataset",
     {"predict"},
     {{"model", "--model", LEAP_SLOT_REQUIRED},
      {"input", "--input", LEAP_SLOT_REQUIRED},
      {"schema", "--schema", 0}},
     {{"scores", "scores.tsv", 0}},
     "-o",
     "scores.tsv",
     {{"format", "--format", LEAP_PO_VALUE},
      {"key", "--key", LEAP_PO_VALUE},
      {"threads", "--threads", LEAP_PO_VALUE}},
     {0}},
    {"push",
     "copy a model into the model repository if it passes the blessing thresholds",
     {"push"},
     {{"model", "--model", LEAP_SLOT_REQUIRED}, {"metrics", "--metrics", 0}, {"data", "--data", 0}},
     {{"decision", "push.json", LEAP_OUT_STDOUT}},
     NULL,
     NULL,
     {{"name", "--name", LEAP_PO_VALUE},
      {"repository", "--repo", LEAP_PO_VALUE},
      {"require", "--require", LEAP_PO_LIST},
      {"threads", "--threads", LEAP_PO_VALUE}},
     {"--json", "--refused-ok"}},
};

size_t leap_step_kind_count(void) { return sizeof kinds / sizeof kinds[0]; }
const leap_step_kind *leap_step_kind_at(size_t i) {
    return i < leap_step_kind_count() ? &kinds[i] : NULL;
}
const leap_step_kind *leap_step_kind_find(const char *name) {
    for (size_t i = 0; i < leap_step_kind_count(); i++)
        if (!strcmp(kinds[i].name, name)) return &kinds[i];
    return NULL;
}

static const struct leap_step_opt *kind_opt(const leap_step_kind *k, const char *key) {
    for (size_t i = 0; i < sizeof k->opts / sizeof k->opts[0] && k->opts[i].key; i++)
        if (!strcmp(k->opts[i].key, key)) return &k->opts[i];
    return NULL;
}
static const struct leap_step_slot *kind_slot(const leap_step_kind *k, const char *name) {
    for (size_t i = 0; i < sizeof k->in / sizeof k->in[0] && k->in[i].name; i++)
        if (!strcmp(k->in[i].name, name)) return &k->in[i];
    return NULL;
}
static const struct leap_step_out *kind_out(const leap_step_kind *k, const char *name) {
    for (size_t i = 0; i < sizeof k->out / sizeof k->out[0] && k->out[i].name; i++)
        if (!strcmp(k->out[i].name, name)) return &k->out[i];
    return NULL;
}

/* "a, b, c" of a kind's names (opts, inputs or outputs). */
static void names_of(const leap_step_kind *k, int what, char *buf, size_t len) {
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0;; i++) {
        const char *n = NULL;
        if (what == 0 && i < sizeof k->opts / sizeof k->opts[0]) n = k->opts[i].key;
        if (what == 1 && i < sizeof k->in / sizeof k->in[0]) n = k->in[i].name;
        if (what == 2 && i < sizeof k->out / sizeof k->out[0]) n = k->out[i].name;
        if (!n) break;
        int w = snprintf(buf + o, len - o, "%s%s", i ? ", " : "", n);
        if (w < 0 || (size_t)w >= len - o) break;
        o += (size_t)w;
    }
    if (!buf[0]) snprintf(buf, len, "none");
}

/* ---- the reader --------------------------------------------------------------- */
typedef struct rd {
    yaml_document_t doc;
    const char *name;
    leap_err *err;
    unsigned char *seen; /* per node: reached once (aliases are refused) */
    size_t n_nodes;
} rd;

static yaml_node_t *node_at(rd *r, int id) { return yaml_document_get_node(&r->doc, id); }

static int at(rd *r, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int at(rd *r, const yaml_node_t *n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = leap__ynode_verr(r->err, r->name, n, fmt, ap);
    va_end(ap);
    return rc;
}

/* Visits node id once; a node reached twice came through an alias. */
static yaml_node_t *visit(rd *r, int id) {
    yaml_node_t *n = node_at(r, id);
    if (!n) return NULL;
    size_t i = (size_t)(n - r->doc.nodes.start);
    if (i < r->n_nodes) {
        if (r->seen[i]) {
            at(r, n, "aliases (*name) are not supported in pipeline files");
            return NULL;
        }
        r->seen[i] = 1;
    }
    return n;
}

static const char *scalar(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static char *xstrdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Checks that mapping node m has only keys in `known` and no duplicates. */
static int check_keys(rd *r, yaml_node_t *m, const char *const *known, const char *where) {
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(r, p->key);
        const char *ks = scalar(k);
        if (!ks) return at(r, k, "%s: keys must be plain words", where);
        int ok = 0;
        for (size_t i = 0; known[i]; i++)
            ok |= !strcmp(ks, known[i]);
        if (!ok) {
            char list[200] = "";
            size_t o = 0;
            for (size_t i = 0; known[i] && o < sizeof list - 30; i++)
                o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", known[i]);
            return at(r, k, "%s: unknown key '%s' (known: %s)", where, ks, list);
        }
        for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++)
            if (!strcmp(scalar(node_at(r, q->key)) ? scalar(node_at(r, q->key)) : "", ks))
                return at(r, k, "%s: duplicate key '%s'", where, ks);
    }
    return LEAP_OK;
}

static yaml_node_t *map_get(rd *r, yaml_node_t *m, const char *key) {
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        const char *ks = scalar(node_at(r, p->key));
        if (ks && !strcmp(ks, key)) return node_at(r, p->value);
    }
    return NULL;
}
static int map_get_id(rd *r, yaml_node_t *m, const char *key) {
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        const char *ks = scalar(node_at(r, p->key));
        if (ks && !strcmp(ks, key)) return p->value;
    }
    return 0;
}

static int valid_name(const char *s) {
    if (!s[0] || strlen(s) > 64) return 0;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-'))
            return 0;
    return 1;
}

/* Parses "${step.output}" into ref; 1 when s is a reference, 0 a plain path,
 * -1 a malformed reference. */
static int parse_ref(const char *s, leap_pl_ref *ref) {
    const char *d = strstr(s, "${");
    if (!d) return 0;
    size_t n = strlen(s);
    if (d != s || s[n - 1] != '}') return -1;
    const char *dot = memchr(s + 2, '.', n - 3);
    if (!dot || dot == s + 2 || dot + 1 >= s + n - 1) return -1;
    ref->step = strndup(s + 2, (size_t)(dot - s - 2));
    ref->output = strndup(dot + 1, (size_t)(s + n - 1 - dot - 1));
    if (!ref->step || !ref->output) return -1;
    if (!valid_name(ref->step) || !valid_name(ref->output)) return -1;
    return 1;
}

static int add_ref(rd *r, leap_pl_input *in, yaml_node_t *n, const char *what) {
    const char *s = scalar(n);
    if (!s || !s[0]) return at(r, n, "%s: expected a file path or ${STEP.OUTPUT}", what);
    leap_pl_ref *nr = realloc(in->refs, (in->n_refs + 1) * sizeof *nr);
    if (!nr) return leap_err_set(r->err, LEAP_ENOMEM, "out of memory");
    in->refs = nr;
    leap_pl_ref *ref = &nr[in->n_refs++];
    memset(ref, 0, sizeof *ref);
    ref->line = (long)n->start_mark.line + 1;
    ref->col = (long)n->start_mark.column + 1;
    int k = parse_ref(s, ref);
    if (k < 0) return at(r, n, "%s: malformed reference '%s' (expected ${STEP.OUTPUT})", what, s);
    if (k == 0 && !(ref->path = xstrdup(s)))
        return leap_err_set(r->err, LEAP_ENOMEM, "out of memory");
    return LEAP_OK;
}

static int read_inputs(rd *r, leap_pl_step *st, yaml_node_t *m) {
    if (m->type != YAML_MAPPING_NODE)
        return at(r, m, "step '%s': inputs must be a mapping of NAME: PATH or ${STEP.OUTPUT}",
                  st->name);
    size_t n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
    st->inputs = calloc(n ? n : 1, sizeof *st->inputs);
    if (!st->inputs) return leap_err_set(r->err, LEAP_ENOMEM, "out of memory");
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = visit(r, p->key), *v = visit(r, p->value);
        if (!k || !v) return LEAP_EPARSE;
        const char *ks = scalar(k);
        char what[200];
        if (!ks) return at(r, k, "step '%s': input names must be words", st->name);
        const struct leap_step_slot *slot = kind_slot(st->kind, ks);
        if (!slot) {
            char list[200];
            names_of(st->kind, 1, list, sizeof list);
            return at(r, k, "step '%s': kind %s has no input '%s' (inputs: %s)", st->name,
                      st->kind->name, ks, list);
        }
        for (size_t i = 0; i < st->n_inputs; i++)
            if (!strcmp(st->inputs[i].name, ks))
                return at(r, k, "step '%s': duplicate input '%s'", st->name, ks);
        leap_pl_input *in = &st->inputs[st->n_inputs++];
        in->name = xstrdup(ks);
        in->line = (long)k->start_mark.line + 1;
        in->col = (long)k->start_mark.column + 1;
        if (!in->name) return leap_err_set(r->err, LEAP_ENOMEM, "out of memory");
        snprintf(what, sizeof what, "step '%s': input '%s'", st->name, ks);
        if (v->type == YAML_SEQUENCE_NODE) {
            if (!(slot->flags & LEAP_SLOT_MULTI))
                return at(r, v, "%s takes one file, not a list", what);
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 it < v->data.sequence.items.top; it++) {
                yaml_node_t *e = visit(r, *it);
                if (!e) return LEAP_EPARSE;
                int rc = add_ref(r, in, e, what);
                if (rc) return rc;
            }
            if (!in->n_refs) return at(r, v, "%s: empty list", what);
        } else {
            int rc = add_ref(r, in, v, what);
            if (rc) return rc;
        }
    }
    return LEAP_OK;
}

static int set_opt_scalar(leap_pl_opt *o, const char *v) {
    free(o->value);
    o->value = xstrdup(v);
    o->type = LEAP_PL_SCALAR;
    return o->value ? 0 : -1;
}

static int push_item(leap_pl_opt *o, const char *s) {
    char **ni = realloc(o->items, (o->n_items + 1) * sizeof *ni);
    if (!ni) return -1;
    o->items = ni;
    if (!(ni[o->n_items] = xstrdup(s))) return -1;
    o->n_items++;
    return 0;
}

/* Checks a train step's model/featurizer/trainer option KEY=VALUE by
 * applying it to scratch option structs: unknown keys and out-of-range
 * values are refused with the option table's own message. */
static int check_model_opt(const char *model, const char *key, const char *value, leap_err *err) {
    const leap_model_ops *ops = leap_model_find(model ? model : "lr");
    if (!ops) {
        char list[200] = "";
        size_t o = 0;
        for (size_t i = 0; i < leap_model_count() && o < sizeof list - 20; i++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "",
                                  leap_model_at(i)->name);
        return leap_err_set(err, LEAP_EINVAL, "unknown model '%s' (models: %s)", model, list);
    }
    if (!key) return LEAP_OK;
    void *mo = calloc(1, ops->opts_size);
    if (!mo) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    leap_fz_opts fzo;
    leap_train_opts to;
    leap_opts_defaults(ops->opts, mo);
    leap_opts_defaults(&leap_fz_opt_table, &fzo);
    leap_opts_defaults(&leap_train_opt_table, &to);
    const leap_opt_table *tables[3] = {ops->opts, &leap_fz_opt_table, &leap_train_opt_table};
    void *objs[3] = {mo, &fzo, &to};
    char item[512];
    snprintf(item, sizeof item, "%s=%s", key, value);
    const char *items[1] = {item};
    int rc = leap_opts_apply(tables, objs, 3, items, 1, err);
    free(mo);
    return rc;
}

static int read_opts(rd *r, leap_pl_step *st, yaml_node_t *m) {
    if (m->type != YAML_MAPPING_NODE)
        return at(r, m, "step '%s': options must be a mapping", st->name);
    size_t n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
    st->opts = calloc(n ? n : 1, sizeof *st->opts);
    if (!st->opts) return leap_err_set(r->err, LEAP_ENOMEM, "out of memory");
    const char *model = NULL;
    yaml_node_t *mn = map_get(r, m, "model");
    if (mn) model = scalar(mn);
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = visit(r, p->key), *v = visit(r, p->value);
        if (!k || !v) return LEAP_EPARSE;
        const char *ks = scalar(k);
        if (!ks) return at(r, k, "step '%s': option names must be words", st->name);
        const struct leap_step_opt *od = kind_opt(st->kind, ks);
        if (!od) {
            char list[300];
            names_of(st->kind, 0, list, sizeof list);
            return at(r, k, "step '%s': kind %s has no option '%s' (options: %s)", st->name,
                      st->kind->name, ks, list);
        }
        for (size_t i = 0; i < st->n_opts; i++)
            if (!strcmp(st->opts[i].key, ks))
                return at(r, k, "step '%s': duplicate option '%s'", st->name, ks);
        leap_pl_opt *o = &st->opts[st->n_opts++];
        memset(o, 0, sizeof *o);
        o->key = xstrdup(ks);
        o->line = (long)k->start_mark.line + 1;
        o->col = (long)k->start_mark.column + 1;
        if (!o->key) return leap_err_set(r->err, LEAP_ENOMEM, "out of memory");
        if (od->kind == LEAP_PO_SET) {
            if (v->type != YAML_MAPPING_NODE)
                return at(r, v, "step '%s': option '%s' must be a mapping KEY: VALUE", st->name,
                          ks);
            o->type = LEAP_PL_MAP;
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
                 q++) {
                yaml_node_t *k2 = visit(r, q->key), *v2 = visit(r, q->value);
                if (!k2 || !v2) return LEAP_EPARSE;
                const char *a = scalar(k2), *b = scalar(v2);
                if (!a || !b) return at(r, k2, "step '%s': %s: expected KEY: VALUE", st->name, ks);
                for (yaml_node_pair_t *q2 = v->data.mapping.pairs.start; q2 < q; q2++) {
                    const char *prev = scalar(node_at(r, q2->key));
                    if (prev && !strcmp(prev, a))
                        return at(r, k2, "step '%s': duplicate key '%s.%s'", st->name, ks, a);
                }
                leap_err e2 = {0};
                if (check_model_opt(model, a, b, &e2))
                    return at(r, k2, "step '%s': %s.%s: %s", st->name, ks, a, e2.msg);
                char item[600];
                snprintf(item, sizeof item, "%s=%s", a, b);
                if (push_item(o, item)) return leap_err_set(r->err, LEAP_ENOMEM, "out of memory");
            }
            continue;
        }
        if (v->type == YAML_SEQUENCE_NODE) {
            if (od->kind != LEAP_PO_LIST && od->kind != LEAP_PO_JOIN)
                return at(r, v, "step '%s': option '%s' takes one value, not a list", st->name, ks);
            o->type = LEAP_PL_LIST;
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 it < v->data.sequence.items.top; it++) {
                yaml_node_t *e = visit(r, *it);
                if (!e) return LEAP_EPARSE;
                if (!scalar(e))
                    return at(r, e, "step '%s': option '%s': expected plain values", st->name, ks);
                if (push_item(o, scalar(e)))
                    return leap_err_set(r->err, LEAP_ENOMEM, "out of memory");
            }
            continue;
        }
        const char *s = scalar(v);
        if (!s) return at(r, v, "step '%s': option '%s': expected a value", st->name, ks);
        if (strstr(s, "${"))
            return at(r, v, "step '%s': option '%s': references belong under inputs:", st->name,
                      ks);
        if (od->kind == LEAP_PO_BOOL && strcmp(s, "true") && strcmp(s, "false"))
            return at(r, v, "step '%s': option '%s': expected true or false, got '%s'", st->name,
                      ks, s);
        if (od->kind == LEAP_PO_LIST) {
            o->type = LEAP_PL_LIST;
            if (push_item(o, s)) return leap_err_set(r->err, LEAP_ENOMEM, "out of memory");
        } else if (set_opt_scalar(o, s)) {
            return leap_err_set(r->err, LEAP_ENOMEM, "out of memory");
        }
        if (!strcmp(st->kind->name, "train") && !strcmp(ks, "model")) {
            leap_err e2 = {0};
            if (check_model_opt(s, NULL, NULL, &e2))
                return at(r, v, "step '%s': %s", st->name, e2.msg);
        }
    }
    return LEAP_OK;
}

static int add_dep(leap_pl_step *st, size_t d) {
    for (size_t i = 0; i < st->n_deps; i++)
        if (st->deps[i] == d) return 0;
    size_t *nd = realloc(st->deps, (st->n_deps + 1) * sizeof *nd);
    if (!nd) return -1;
    st->deps = nd;
    st->deps[st->n_deps++] = d;
    return 0;
}

/* Resolves references, checks required inputs, finds a topological order
 * (a cycle is reported with its path). */
static int link(leap_pipeline *pl, char **after, size_t *n_after, long (*after_pos)[2],
                const char *name, leap_err *err) {
    (void)after_pos;
    for (size_t s = 0; s < pl->n_steps; s++) {
        leap_pl_step *st = &pl->steps[s];
        for (size_t i = 0; i < sizeof st->kind->in / sizeof st->kind->in[0]; i++) {
            const struct leap_step_slot *slot = &st->kind->in[i];
            if (!slot->name || !(slot->flags & LEAP_SLOT_REQUIRED)) continue;
            int have = 0;
            for (size_t j = 0; j < st->n_inputs; j++)
                have |= !strcmp(st->inputs[j].name, slot->name);
            if (!have)
                return leap_err_set(err, LEAP_EPARSE, "%s:%ld:%ld: step '%s' (%s) needs input '%s'",
                                    name, st->line, st->col, st->name, st->kind->name, slot->name);
        }
        for (size_t j = 0; j < st->n_inputs; j++) {
            for (size_t k = 0; k < st->inputs[j].n_refs; k++) {
                leap_pl_ref *ref = &st->inputs[j].refs[k];
                if (ref->path) continue;
                int d = leap_pipeline_find(pl, ref->step);
                if (d < 0)
                    return leap_err_set(err, LEAP_EPARSE,
                                        "%s:%ld:%ld: step '%s': input '%s' refers to unknown "
                                        "step '%s'",
                                        name, ref->line, ref->col, st->name, st->inputs[j].name,
                                        ref->step);
                if ((size_t)d == s)
                    return leap_err_set(err, LEAP_EPARSE,
                                        "%s:%ld:%ld: step '%s': input '%s' refers to itself", name,
                                        ref->line, ref->col, st->name, st->inputs[j].name);
                if (!kind_out(pl->steps[d].kind, ref->output)) {
                    char list[200];
                    names_of(pl->steps[d].kind, 2, list, sizeof list);
                    return leap_err_set(err, LEAP_EPARSE,
                                        "%s:%ld:%ld: step '%s': step '%s' (%s) has no output "
                                        "'%s' (outputs: %s)",
                                        name, ref->line, ref->col, st->name, ref->step,
                                        pl->steps[d].kind->name, ref->output, list);
                }
                ref->step_index = (size_t)d;
                if (add_dep(st, (size_t)d)) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
            }
        }
        for (size_t j = 0; j < n_after[s]; j++) {
            int d = leap_pipeline_find(pl, after[s * 64 + j]);
            if (d < 0 || (size_t)d == s)
                return leap_err_set(
                    err, LEAP_EPARSE, "%s:%ld:%ld: step '%s': after: %s '%s'", name, st->line,
                    st->col, st->name,
                    d < 0 ? "unknown step" : "a step cannot wait for itself:", after[s * 64 + j]);
            if (add_dep(st, (size_t)d)) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
        }
    }
    /* Depth-first search; state 1 = on the stack. */
    size_t n = pl->n_steps;
    int *state = calloc(n, sizeof *state);
    size_t *stack = calloc(n, sizeof *stack), *edge = calloc(n, sizeof *edge);
    pl->order = calloc(n, sizeof *pl->order);
    if (!state || !stack || !edge || !pl->order) {
        free(state);
        free(stack);
        free(edge);
        return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    }
    size_t n_order = 0;
    int rc = LEAP_OK;
    for (size_t root = 0; root < n && !rc; root++) {
        if (state[root]) continue;
        size_t sp = 0;
        stack[sp] = root;
        edge[sp] = 0;
        state[root] = 1;
        while (sp != (size_t)-1 && !rc) {
            size_t v = stack[sp];
            if (edge[sp] < pl->steps[v].n_deps) {
                size_t w = pl->steps[v].deps[edge[sp]++];
                if (state[w] == 1) {
                    char path[400];
                    size_t o = (size_t)snprintf(path, sizeof path, "%s", pl->steps[w].name);
                    size_t from = 0;
                    while (stack[from] != w)
                        from++;
                    for (size_t i = sp + 1; i-- > from && o < sizeof path - 80;)
                        o += (size_t)snprintf(path + o, sizeof path - o, " <- %s",
                                              pl->steps[stack[i]].name);
                    rc = leap_err_set(err, LEAP_EPARSE,
                                      "%s:%ld:%ld: cycle: step '%s' needs itself (%s)", name,
                                      pl->steps[w].line, pl->steps[w].col, pl->steps[w].name, path);
                } else if (state[w] == 0) {
                    state[w] = 1;
                    stack[++sp] = w;
                    edge[sp] = 0;
                }
            } else {
                state[v] = 2;
                pl->order[n_order++] = v;
                sp--;
            }
        }
    }
    free(state);
    free(stack);
    free(edge);
    return rc;
}

static int read_step(rd *r, leap_pl_step *st, yaml_node_t *k, yaml_node_t *v, char **after,
                     size_t *n_after) {
    static const char *const step_keys[] = {"kind", "inputs", "options", "after", NULL};
    const char *name = scalar(k);
    if (!name || !valid_name(name))
        return at(r, k, "step names are words of letters, digits, '_' and '-' (got '%s')",
                  name ? name : "?");
    st->name = xstrdup(name);
    st->line = (long)k->start_mark.line + 1;
    st->col = (long)k->start_mark.column + 1;
    if (!st->name) return leap_err_set(r->err, LEAP_ENOMEM, "out of memory");
    if (v->type != YAML_MAPPING_NODE)
        return at(r, v, "step '%s': expected a mapping with kind, inputs, options", name);
    char where[100];
    snprintf(where, sizeof where, "step '%s'", name);
    int rc = check_keys(r, v, step_keys, where);
    if (rc) return rc;
    int kid = map_get_id(r, v, "kind");
    yaml_node_t *kn = kid ? visit(r, kid) : NULL;
    if (kid && !kn) return LEAP_EPARSE;
    if (!kn) return at(r, v, "step '%s': missing 'kind'", name);
    const char *ks = scalar(kn);
    st->kind = ks ? leap_step_kind_find(ks) : NULL;
    if (!st->kind) {
        char list[300] = "";
        size_t o = 0;
        for (size_t i = 0; i < leap_step_kind_count() && o < sizeof list - 20; i++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", kinds[i].name);
        return at(r, kn, "step '%s': unknown kind '%s' (kinds: %s)", name, ks ? ks : "?", list);
    }
    int id = map_get_id(r, v, "inputs");
    if (id) {
        yaml_node_t *in = visit(r, id);
        if (!in || (rc = read_inputs(r, st, in))) return in ? rc : LEAP_EPARSE;
    }
    id = map_get_id(r, v, "options");
    if (id) {
        yaml_node_t *on = visit(r, id);
        if (!on || (rc = read_opts(r, st, on))) return on ? rc : LEAP_EPARSE;
    }
    id = map_get_id(r, v, "after");
    if (id) {
        yaml_node_t *an = visit(r, id);
        if (!an) return LEAP_EPARSE;
        if (an->type == YAML_SCALAR_NODE) {
            after[(*n_after)++] = (char *)scalar(an);
        } else if (an->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *it = an->data.sequence.items.start;
                 it < an->data.sequence.items.top; it++) {
                yaml_node_t *e = visit(r, *it);
                if (!e) return LEAP_EPARSE;
                if (!scalar(e)) return at(r, e, "step '%s': after: expected step names", name);
                if (*n_after >= 64) return at(r, e, "step '%s': after: too many steps", name);
                after[(*n_after)++] = (char *)scalar(e);
            }
        } else {
            return at(r, an, "step '%s': after: expected a step name or a list", name);
        }
    }
    return LEAP_OK;
}

static int read_cost(rd *r, leap_pipeline *pl, yaml_node_t *c) {
    static const char *const keys[] = {"cpu_hour", "gb_hour", NULL};
    if (c->type != YAML_MAPPING_NODE)
        return at(r, c, "cost: expected a mapping with cpu_hour, gb_hour");
    int rc = check_keys(r, c, keys, "cost");
    if (rc) return rc;
    pl->has_price = 1;
    pl->price = (leap_price){LEAP_COST_CPU_HOUR, LEAP_COST_GB_HOUR};
    for (int i = 0; i < 2; i++) {
        int id = map_get_id(r, c, keys[i]);
        if (!id) continue;
        yaml_node_t *v = visit(r, id);
        if (!v) return LEAP_EPARSE;
        double d;
        if (!scalar(v) || leap_parse_double(scalar(v), &d) || d < 0)
            return at(r, v, "cost.%s: expected a non-negative number", keys[i]);
        if (i == 0)
            pl->price.cpu_hour = d;
        else
            pl->price.gb_hour = d;
    }
    return LEAP_OK;
}

int leap_pipeline_parse(const char *text, size_t len, const char *name, leap_pipeline **out,
                        leap_err *err) {
    *out = NULL;
    leap_pipeline *pl = calloc(1, sizeof *pl);
    if (!pl) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    rd r = {.name = name, .err = err};
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        free(pl);
        return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &r.doc)) {
        int rc = leap_err_set(err, LEAP_EPARSE, "%s:%lu:%lu: %s%s%s", name,
                              (unsigned long)parser.problem_mark.line + 1,
                              (unsigned long)parser.problem_mark.column + 1,
                              parser.problem ? parser.problem : "YAML error",
                              parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        free(pl);
        return rc;
    }
    yaml_parser_delete(&parser);
    char **after = NULL;
    size_t *n_after = NULL;
    int rc = LEAP_OK;
    r.n_nodes = (size_t)(r.doc.nodes.top - r.doc.nodes.start);
    r.seen = calloc(r.n_nodes ? r.n_nodes : 1, 1);
    if (!r.seen) {
        rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
        goto done;
    }
    yaml_node_t *root = yaml_document_get_root_node(&r.doc);
    if (!root) {
        rc = leap_err_set(err, LEAP_EPARSE, "%s: empty pipeline file", name);
        goto done;
    }
    r.seen[0] = 1;
    if (root->type != YAML_MAPPING_NODE) {
        rc = at(&r, root, "expected a mapping with name, experiment, cost, steps");
        goto done;
    }
    static const char *const top_keys[] = {"name", "experiment", "cost", "steps", NULL};
    if ((rc = check_keys(&r, root, top_keys, "pipeline"))) goto done;
    pl->file = xstrdup(name);
    const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    for (int i = 0; i < 2; i++) {
        const char *key = i ? "experiment" : "name";
        int id = map_get_id(&r, root, key);
        yaml_node_t *v = id ? visit(&r, id) : NULL;
        if (id && !v) {
            rc = LEAP_EPARSE;
            goto done;
        }
        if (v && !scalar(v)) {
            rc = at(&r, v, "%s: expected a word", key);
            goto done;
        }
        char **dst = i ? &pl->experiment : &pl->name;
        if (v) {
            *dst = xstrdup(scalar(v));
        } else if (!i) {
            size_t bl = strcspn(base, ".");
            *dst = strndup(base, bl ? bl : strlen(base));
        }
    }
    int cid = map_get_id(&r, root, "cost");
    if (cid) {
        yaml_node_t *c = visit(&r, cid);
        if (!c || (rc = read_cost(&r, pl, c))) {
            rc = c ? rc : LEAP_EPARSE;
            goto done;
        }
    }
    int sid = map_get_id(&r, root, "steps");
    yaml_node_t *steps = sid ? visit(&r, sid) : NULL;
    if (sid && !steps) {
        rc = LEAP_EPARSE;
        goto done;
    }
    if (!steps) {
        rc = at(&r, root, "missing 'steps'");
        goto done;
    }
    if (steps->type != YAML_MAPPING_NODE ||
        steps->data.mapping.pairs.top == steps->data.mapping.pairs.start) {
        rc = at(&r, steps, "steps: expected a mapping of STEP_NAME: {kind, inputs, options}");
        goto done;
    }
    size_t n = (size_t)(steps->data.mapping.pairs.top - steps->data.mapping.pairs.start);
    if (n > 256) {
        rc = at(&r, steps, "steps: at most 256 steps");
        goto done;
    }
    pl->steps = calloc(n, sizeof *pl->steps);
    after = calloc(n * 64, sizeof *after);
    n_after = calloc(n, sizeof *n_after);
    if (!pl->steps || !after || !n_after || !pl->file || !pl->name) {
        rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
        goto done;
    }
    for (yaml_node_pair_t *p = steps->data.mapping.pairs.start; p < steps->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = visit(&r, p->key), *v = visit(&r, p->value);
        if (!k || !v) {
            rc = LEAP_EPARSE;
            goto done;
        }
        size_t i = pl->n_steps++;
        if ((rc = read_step(&r, &pl->steps[i], k, v, after + i * 64, &n_after[i]))) goto done;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(pl->steps[j].name, pl->steps[i].name)) {
                rc = at(&r, k, "duplicate step '%s'", pl->steps[i].name);
                goto done;
            }
    }
    rc = link(pl, after, n_after, NULL, name, err);
done:
    free(after);
    free(n_after);
    free(r.seen);
    yaml_document_delete(&r.doc);
    if (rc) {
        leap_pipeline_free(pl);
        return rc;
    }
    *out = pl;
    return LEAP_OK;
}

int leap_pipeline_load(const char *path, leap_pipeline **out, leap_err *err) {
    *out = NULL;
    leap_buf b = {0};
    int rc = leap_read_file(path, 16u << 20, &b, err);
    if (!rc) rc = leap_pipeline_parse(b.p ? (const char *)b.p : "", b.len, path, out, err);
    leap_buf_free(&b);
    return rc;
}

static void free_opt(leap_pl_opt *o) {
    free(o->key);
    free(o->value);
    for (size_t i = 0; i < o->n_items; i++)
        free(o->items[i]);
    free(o->items);
}

void leap_pipeline_free(leap_pipeline *p) {
    if (!p) return;
    for (size_t s = 0; s < p->n_steps; s++) {
        leap_pl_step *st = &p->steps[s];
        free(st->name);
        for (size_t i = 0; i < st->n_inputs; i++) {
            for (size_t k = 0; k < st->inputs[i].n_refs; k++) {
                free(st->inputs[i].refs[k].path);
                free(st->inputs[i].refs[k].step);
                free(st->inputs[i].refs[k].output);
            }
            free(st->inputs[i].refs);
            free(st->inputs[i].name);
        }
        free(st->inputs);
        for (size_t i = 0; i < st->n_opts; i++)
            free_opt(&st->opts[i]);
        free(st->opts);
        free(st->deps);
    }
    free(p->steps);
    free(p->order);
    free(p->file);
    free(p->name);
    free(p->experiment);
    free(p);
}

int leap_pipeline_find(const leap_pipeline *p, const char *step) {
    for (size_t i = 0; i < p->n_steps; i++)
        if (!strcmp(p->steps[i].name, step)) return (int)i;
    return -1;
}

int leap_pipeline_clone(const leap_pipeline *p, leap_pipeline **out, leap_err *err) {
    *out = NULL;
    leap_pipeline *c = calloc(1, sizeof *c);
    if (!c) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    int oom = 0;
    c->file = xstrdup(p->file);
    c->name = xstrdup(p->name);
    c->experiment = xstrdup(p->experiment);
    oom |= (p->file && !c->file) || (p->name && !c->name) || (p->experiment && !c->experiment);
    c->has_price = p->has_price;
    c->price = p->price;
    c->steps = calloc(p->n_steps ? p->n_steps : 1, sizeof *c->steps);
    c->order = calloc(p->n_steps ? p->n_steps : 1, sizeof *c->order);
    if (!c->steps || !c->order) oom = 1;
    for (size_t s = 0; !oom && s < p->n_steps; s++) {
        const leap_pl_step *a = &p->steps[s];
        leap_pl_step *b = &c->steps[s];
        c->n_steps++;
        c->order[s] = p->order[s];
        *b = (leap_pl_step){
            .name = xstrdup(a->name), .kind = a->kind, .line = a->line, .col = a->col};
        b->inputs = calloc(a->n_inputs ? a->n_inputs : 1, sizeof *b->inputs);
        b->opts = calloc(a->n_opts ? a->n_opts : 1, sizeof *b->opts);
        b->deps = calloc(a->n_deps ? a->n_deps : 1, sizeof *b->deps);
        if (!b->name || !b->inputs || !b->opts || !b->deps) {
            oom = 1;
            break;
        }
        if (a->n_deps) memcpy(b->deps, a->deps, a->n_deps * sizeof *b->deps);
        b->n_deps = a->n_deps;
        for (size_t i = 0; !oom && i < a->n_inputs; i++) {
            const leap_pl_input *x = &a->inputs[i];
            leap_pl_input *y = &b->inputs[b->n_inputs++];
            *y = (leap_pl_input){.name = xstrdup(x->name), .line = x->line, .col = x->col};
            y->refs = calloc(x->n_refs ? x->n_refs : 1, sizeof *y->refs);
            if (!y->name || !y->refs) {
                oom = 1;
                break;
            }
            for (size_t k = 0; k < x->n_refs; k++) {
                const leap_pl_ref *rx = &x->refs[k];
                leap_pl_ref *ry = &y->refs[y->n_refs++];
                *ry = *rx;
                ry->path = xstrdup(rx->path);
                ry->step = xstrdup(rx->step);
                ry->output = xstrdup(rx->output);
                oom |= (rx->path && !ry->path) || (rx->step && !ry->step) ||
                       (rx->output && !ry->output);
            }
        }
        for (size_t i = 0; !oom && i < a->n_opts; i++) {
            const leap_pl_opt *x = &a->opts[i];
            leap_pl_opt *y = &b->opts[b->n_opts++];
            *y = (leap_pl_opt){.key = xstrdup(x->key),
                               .type = x->type,
                               .value = xstrdup(x->value),
                               .line = x->line,
                               .col = x->col};
            oom |= !y->key || (x->value && !y->value);
            for (size_t k = 0; !oom && k < x->n_items; k++)
                oom |= push_item(y, x->items[k]) != 0;
        }
    }
    if (oom) {
        leap_pipeline_free(c);
        return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    }
    *out = c;
    return LEAP_OK;
}

static leap_pl_opt *find_opt(leap_pl_step *st, const char *key) {
    for (size_t i = 0; i < st->n_opts; i++)
        if (!strcmp(st->opts[i].key, key)) return &st->opts[i];
    return NULL;
}

static leap_pl_opt *add_opt(leap_pl_step *st, const char *key) {
    leap_pl_opt *no = realloc(st->opts, (st->n_opts + 1) * sizeof *no);
    if (!no) return NULL;
    st->opts = no;
    leap_pl_opt *o = &no[st->n_opts];
    memset(o, 0, sizeof *o);
    if (!(o->key = xstrdup(key))) return NULL;
    st->n_opts++;
    return o;
}

int leap_pipeline_set(leap_pipeline *p, const char *assignment, leap_err *err) {
    const char *dot = strchr(assignment, '.'), *eq = strchr(assignment, '=');
    if (!dot || !eq || dot > eq || dot == assignment || eq == dot + 1)
        return leap_err_set(err, LEAP_EINVAL, "'%s': expected STEP.KEY=VALUE", assignment);
    char step[128], key[128];
    if ((size_t)(dot - assignment) >= sizeof step || (size_t)(eq - dot - 1) >= sizeof key)
        return leap_err_set(err, LEAP_EINVAL, "'%s': name too long", assignment);
    snprintf(step, sizeof step, "%.*s", (int)(dot - assignment), assignment);
    snprintf(key, sizeof key, "%.*s", (int)(eq - dot - 1), dot + 1);
    const char *value = eq + 1;
    int si = leap_pipeline_find(p, step);
    if (si < 0) return leap_err_set(err, LEAP_EINVAL, "'%s': no step '%s'", assignment, step);
    leap_pl_step *st = &p->steps[si];
    const char *k = key;
    if (!strncmp(k, "set.", 4)) k += 4;
    const struct leap_step_opt *od = k == key ? kind_opt(st->kind, key) : NULL;
    if (od && od->kind != LEAP_PO_SET) {
        if (od->kind == LEAP_PO_BOOL && strcmp(value, "true") && strcmp(value, "false"))
            return leap_err_set(err, LEAP_EINVAL, "'%s': expected true or false", assignment);
        if (!strcmp(st->kind->name, "train") && !strcmp(key, "model") &&
            check_model_opt(value, NULL, NULL, err))
            return err->status;
        leap_pl_opt *o = find_opt(st, key);
        if (!o && !(o = add_opt(st, key))) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
        for (size_t i = 0; i < o->n_items; i++)
            free(o->items[i]);
        free(o->items);
        o->items = NULL;
        o->n_items = 0;
        if (od->kind == LEAP_PO_LIST) {
            o->type = LEAP_PL_LIST;
            free(o->value);
            o->value = NULL;
            if (push_item(o, value)) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
        } else if (set_opt_scalar(o, value)) {
            return leap_err_set(err, LEAP_ENOMEM, "out of memory");
        }
        o->line = o->col = 0;
        return LEAP_OK;
    }
    if (!kind_opt(st->kind, "set")) {
        char list[300];
        names_of(st->kind, 0, list, sizeof list);
        return leap_err_set(err, LEAP_EINVAL, "'%s': kind %s has no option '%s' (options: %s)",
                            assignment, st->kind->name, key, list);
    }
    const char *model = leap_pipeline_get(p, step, "model");
    leap_err e2 = {0};
    if (check_model_opt(model, k, value, &e2))
        return leap_err_set(err, LEAP_EINVAL, "'%s': %s", assignment, e2.msg);
    leap_pl_opt *o = find_opt(st, "set");
    if (!o) {
        if (!(o = add_opt(st, "set"))) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
        o->type = LEAP_PL_MAP;
    }
    char item[400];
    snprintf(item, sizeof item, "%s=%s", k, value);
    size_t kl = strlen(k);
    for (size_t i = 0; i < o->n_items; i++)
        if (!strncmp(o->items[i], k, kl) && o->items[i][kl] == '=') {
            char *d = xstrdup(item);
            if (!d) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
            free(o->items[i]);
            o->items[i] = d;
            return LEAP_OK;
        }
    if (push_item(o, item)) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    return LEAP_OK;
}

const char *leap_pipeline_get(const leap_pipeline *p, const char *step, const char *key) {
    int si = leap_pipeline_find(p, step);
    if (si < 0) return NULL;
    leap_pl_step *st = &p->steps[si];
    const char *k = !strncmp(key, "set.", 4) ? key + 4 : key;
    if (k == key) {
        leap_pl_opt *o = find_opt(st, key);
        if (o && o->type == LEAP_PL_SCALAR) return o->value;
        if (o && o->type == LEAP_PL_LIST && o->n_items) return o->items[0];
    }
    leap_pl_opt *o = find_opt(st, "set");
    size_t kl = strlen(k);
    for (size_t i = 0; o && i < o->n_items; i++)
        if (!strncmp(o->items[i], k, kl) && o->items[i][kl] == '=') return o->items[i] + kl + 1;
    return NULL;
}

/* A YAML scalar that reads back as the same string. */
static void yq(FILE *f, const char *s) {
    int plain = s[0] && !strpbrk(s, ":#{}[],&*!|>'\"%@`\n\t") && s[0] != ' ' && s[0] != '-' &&
                s[strlen(s) - 1] != ' ' && strcmp(s, "true") && strcmp(s, "false") &&
                strcmp(s, "null") && strcmp(s, "~");
    if (plain) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *c = s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c == '\n')
            fputs("\\n", f);
        else if (*c == '\t')
            fputs("\\t", f);
        else
            fputc(*c, f);
    }
    fputc('"', f);
}

int leap_pipeline_write(const leap_pipeline *p, FILE *f) {
    fputs("name: ", f);
    yq(f, p->name);
    fputc('\n', f);
    if (p->experiment) {
        fputs("experiment: ", f);
        yq(f, p->experiment);
        fputc('\n', f);
    }
    if (p->has_price)
        fprintf(f, "cost: {cpu_hour: %.17g, gb_hour: %.17g}\n", p->price.cpu_hour,
                p->price.gb_hour);
    fputs("steps:\n", f);
    for (size_t s = 0; s < p->n_steps; s++) {
        const leap_pl_step *st = &p->steps[s];
        fprintf(f, "  %s:\n    kind: %s\n", st->name, st->kind->name);
        if (st->n_inputs) fputs("    inputs:\n", f);
        for (size_t i = 0; i < st->n_inputs; i++) {
            fprintf(f, "      %s: ", st->inputs[i].name);
            if (st->inputs[i].n_refs > 1) fputc('[', f);
            for (size_t k = 0; k < st->inputs[i].n_refs; k++) {
                const leap_pl_ref *r = &st->inputs[i].refs[k];
                if (k) fputs(", ", f);
                if (r->path) {
                    yq(f, r->path);
                } else {
                    fprintf(f, "\"${%s.%s}\"", r->step, r->output);
                }
            }
            if (st->inputs[i].n_refs > 1) fputc(']', f);
            fputc('\n', f);
        }
        if (st->n_opts) fputs("    options:\n", f);
        for (size_t i = 0; i < st->n_opts; i++) {
            const leap_pl_opt *o = &st->opts[i];
            fprintf(f, "      %s: ", o->key);
            if (o->type == LEAP_PL_SCALAR) {
                yq(f, o->value);
            } else {
                fputc(o->type == LEAP_PL_MAP ? '{' : '[', f);
                for (size_t k = 0; k < o->n_items; k++) {
                    if (k) fputs(", ", f);
                    const char *eq = o->type == LEAP_PL_MAP ? strchr(o->items[k], '=') : NULL;
                    if (eq) {
                        char key[256];
                        snprintf(key, sizeof key, "%.*s", (int)(eq - o->items[k]), o->items[k]);
                        yq(f, key);
                        fputs(": ", f);
                        yq(f, eq + 1);
                    } else {
                        yq(f, o->items[k]);
                    }
                }
                fputc(o->type == LEAP_PL_MAP ? '}' : ']', f);
            }
            fputc('\n', f);
        }
        int first = 1;
        for (size_t d = 0; d < st->n_deps; d++) {
            int by_input = 0;
            for (size_t i = 0; i < st->n_inputs; i++)
                for (size_t k = 0; k < st->inputs[i].n_refs; k++)
                    by_input |= !st->inputs[i].refs[k].path &&
                                st->inputs[i].refs[k].step_index == st->deps[d];
            if (by_input) continue;
            fprintf(f, "%s%s", first ? "    after: [" : ", ", p->steps[st->deps[d]].name);
            first = 0;
        }
        if (!first) fputs("]\n", f);
    }
    return ferror(f) ? LEAP_EIO : LEAP_OK;
}
