/* filter.c — the run filter language (`leap runs list --filter`) and sort
 * keys: a recursive-descent parser into a small tree (track_internal.h) that
 * backends turn into parameterised SQL. No SQL is written here; user text
 * only ever becomes bound values or a lookup in the attribute table. */
#include "track/track_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

const track_attr leap__track_attrs[] = {
    {"id", "r.id", 1},
    {"parent", "r.parent_id", 1},
    {"experiment", "e.name", 0},
    {"name", "r.name", 0},
    {"kind", "r.kind", 0},
    {"status", "r.status", 0},
    {"host", "r.host", 0},
    {"start", "r.start_time", 1},
    {"end", "r.end_time", 1},
    {"wall", "r.wall_s", 1},
    {"cpu", "r.cpu_s", 1},
    {"rss", "r.peak_rss", 1},
    {"read", "r.read_bytes", 1},
    {"written", "r.write_bytes", 1},
    {"cost", "r.cost", 1},
    {"git", "r.git_commit", 0},
    {"version", "r.leap_version", 0},
    {"key", "r.step_key", 0},
};
const size_t leap__track_n_attrs = sizeof leap__track_attrs / sizeof leap__track_attrs[0];

const char *leap__fop_sql(fop op) {
    static const char *const s[] = {"=", "<>", "<", "<=", ">", ">=", "LIKE"};
    _Static_assert(sizeof s / sizeof s[0] == FOP_COUNT, "operator table out of step");
    return (unsigned)op < FOP_COUNT ? s[op] : "=";
}

static int find_attr(const char *name, size_t len) {
    for (size_t i = 0; i < leap__track_n_attrs; i++)
        if (strlen(leap__track_attrs[i].name) == len &&
            !strncmp(leap__track_attrs[i].name, name, len))
            return (int)i;
    return -1;
}

/* ---- tokens ---------------------------------------------------------------- */
typedef enum tok_kind { T_END, T_WORD, T_STR, T_NUM, T_OP, T_LP, T_RP, T_BAD } tok_kind;
typedef struct tok {
    tok_kind kind;
    const char *s; /* start in the text */
    size_t len;
    fop op;
    double num;
} tok;

typedef struct parser {
    const char *text, *p;
    tok t;
    leap_filter *f;
    leap_err *err;
    int depth;
} parser;

static int is_word_start(int c) { return isalpha(c) || c == '_'; }
static int is_word(int c) {
    return isalnum(c) || c == '_' || c == '.' || c == '-' || c == ':' || c == '/';
}

static void next(parser *ps) {
    const char *p = ps->p;
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    tok t = {.kind = T_END, .s = p};
    if (!*p) {
        ps->t = t;
        ps->p = p;
        return;
    }
    if (*p == '(' || *p == ')') {
        t.kind = *p == '(' ? T_LP : T_RP;
        t.len = 1;
    } else if (*p == '\'' || *p == '"') {
        char q = *p;
        const char *e = p + 1;
        while (*e && *e != q)
            e++;
        if (!*e) {
            t.kind = T_BAD;
            t.len = 1;
        } else {
            t.kind = T_STR;
            t.len = (size_t)(e - p) + 1;
        }
    } else if (strchr("=!<>~", *p)) {
        t.kind = T_OP;
        t.len = 1;
        if (p[0] == '=' && p[1] == '=')
            t.op = FOP_EQ, t.len = 2;
        else if (p[0] == '=')
            t.op = FOP_EQ;
        else if (p[0] == '!' && p[1] == '=')
            t.op = FOP_NE, t.len = 2;
        else if (p[0] == '<' && p[1] == '>')
            t.op = FOP_NE, t.len = 2;
        else if (p[0] == '<' && p[1] == '=')
            t.op = FOP_LE, t.len = 2;
        else if (p[0] == '>' && p[1] == '=')
            t.op = FOP_GE, t.len = 2;
        else if (p[0] == '<')
            t.op = FOP_LT;
        else if (p[0] == '>')
            t.op = FOP_GT;
        else if (p[0] == '~')
            t.op = FOP_LIKE;
        else
            t.kind = T_BAD;
    } else if (isdigit((unsigned char)*p) || ((*p == '-' || *p == '+' || *p == '.') &&
                                              (isdigit((unsigned char)p[1]) || p[1] == '.'))) {
        char *end;
        t.num = strtod(p, &end);
        t.kind = end > p ? T_NUM : T_BAD;
        t.len = end > p ? (size_t)(end - p) : 1;
        /* "1e-3abc" or "12h": a word, not a number */
        if (t.kind == T_NUM && is_word((unsigned char)*end) && *end != '.' && *end != '-' &&
            *end != ':' && *end != '/') {
            const char *e = end;
            while (is_word((unsigned char)*e))
                e++;
            t.kind = T_WORD;
            t.len = (size_t)(e - p);
        }
    } else if (is_word_start((unsigned char)*p)) {
        const char *e = p;
        while (is_word((unsigned char)*e))
            e++;
        t.kind = T_WORD;
        t.len = (size_t)(e - p);
    } else {
        t.kind = T_BAD;
        t.len = 1;
    }
    ps->t = t;
    ps->p = p + t.len;
}

static int col(const parser *ps, const char *at) { return (int)(at - ps->text) + 1; }

static int fail(parser *ps, const char *at, const char *what) {
    const tok *t = &ps->t;
    if (at == t->s && t->kind != T_END)
        return leap_err_set(ps->err, LEAP_EPARSE, "--filter, column %d: %s, found '%.*s'",
                            col(ps, at), what, (int)(t->len > 40 ? 40 : t->len), t->s);
    return leap_err_set(ps->err, LEAP_EPARSE, "--filter, column %d: %s%s", col(ps, at), what,
                        t->kind == T_END ? " at the end" : "");
}

static int word_is(const tok *t, const char *w) {
    size_t n = strlen(w);
    if (t->kind != T_WORD || t->len != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)t->s[i]) != w[i]) return 0;
    return 1;
}

static fnode *node(parser *ps) {
    leap_filter *f = ps->f;
    if (f->n_nodes == f->cap) return NULL; /* cap covers every token */
    fnode *n = &f->nodes[f->n_nodes++];
    memset(n, 0, sizeof *n);
    return n;
}

static const char *pool_add(parser *ps, const char *s, size_t len) {
    leap_filter *f = ps->f;
    if (f->pool_len + len + 1 > f->pool_cap) return NULL; /* cap covers the text */
    char *d = f->pool + f->pool_len;
    memcpy(d, s, len);
    d[len] = 0;
    f->pool_len += len + 1;
    return d;
}

static int parse_or(parser *ps, fnode **out);

static int parse_cmp(parser *ps, fnode **out) {
    tok t = ps->t;
    if (t.kind == T_LP) {
        next(ps);
        int rc = parse_or(ps, out);
        if (rc) return rc;
        if (ps->t.kind != T_RP) return fail(ps, ps->t.s, "expected ')'");
        next(ps);
        return LEAP_OK;
    }
    if (t.kind != T_WORD)
        return fail(ps, t.s,
                    "expected a field (metrics.KEY, params.KEY, tags.KEY or an attribute)");
    fnode *n = node(ps);
    if (!n) return leap_err_set(ps->err, LEAP_ENOMEM, "--filter: too complex");
    n->kind = FN_CMP;
    static const struct {
        const char *prefix;
        ffield f;
    } pre[] = {{"metrics.", FF_METRIC}, {"metric.", FF_METRIC}, {"params.", FF_PARAM},
               {"param.", FF_PARAM},    {"tags.", FF_TAG},      {"tag.", FF_TAG}};
    int matched = 0;
    for (size_t i = 0; i < sizeof pre / sizeof pre[0] && !matched; i++) {
        size_t pl = strlen(pre[i].prefix);
        if (t.len > pl && !strncmp(t.s, pre[i].prefix, pl)) {
            n->field = pre[i].f;
            n->key = pool_add(ps, t.s + pl, t.len - pl);
            matched = 1;
        } else if (t.len == pl && !strncmp(t.s, pre[i].prefix, pl)) {
            return fail(ps, t.s + t.len, "expected a key after the dot");
        }
    }
    if (!matched) {
        n->field = FF_ATTR;
        n->attr = find_attr(t.s, t.len);
        if (n->attr < 0) {
            char names[400] = "";
            size_t o = 0;
            for (size_t i = 0; i < leap__track_n_attrs && o + 20 < sizeof names; i++)
                o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "",
                                      leap__track_attrs[i].name);
            return leap_err_set(ps->err, LEAP_EPARSE,
                                "--filter, column %d: unknown field '%.*s' (use metrics.KEY, "
                                "params.KEY, tags.KEY or one of: %s)",
                                col(ps, t.s), (int)(t.len > 60 ? 60 : t.len), t.s, names);
        }
    }
    next(ps);
    if (ps->t.kind != T_OP) return fail(ps, ps->t.s, "expected an operator (= != < <= > >= ~)");
    n->op = ps->t.op;
    next(ps);
    tok v = ps->t;
    if (v.kind == T_NUM) {
        n->is_num = 1;
        n->num = v.num;
        n->str = pool_add(ps, v.s, v.len);
    } else if (v.kind == T_STR) {
        n->str = pool_add(ps, v.s + 1, v.len - 2);
    } else if (v.kind == T_WORD && !word_is(&v, "and") && !word_is(&v, "or") &&
               !word_is(&v, "not")) {
        n->str = pool_add(ps, v.s, v.len);
    } else {
        return fail(ps, v.s, "expected a value (a number, 'text' or a word)");
    }
    if (n->op == FOP_LIKE && n->is_num) n->is_num = 0;
    if (n->field == FF_METRIC && !n->is_num)
        return leap_err_set(ps->err, LEAP_EPARSE,
                            "--filter, column %d: metrics are numbers, got '%s'", col(ps, v.s),
                            n->str);
    if (n->field == FF_ATTR && leap__track_attrs[n->attr].numeric && !n->is_num &&
        n->op != FOP_LIKE)
        return leap_err_set(ps->err, LEAP_EPARSE, "--filter, column %d: '%s' is a number, got '%s'",
                            col(ps, v.s), leap__track_attrs[n->attr].name, n->str);
    if (n->field == FF_ATTR && !strcmp(leap__track_attrs[n->attr].name, "status") &&
        leap_run_status_from_name(n->str) < 0 && n->op != FOP_LIKE)
        return leap_err_set(ps->err, LEAP_EPARSE,
                            "--filter, column %d: unknown status '%s' (running, finished, "
                            "failed, killed, cached)",
                            col(ps, v.s), n->str);
    next(ps);
    *out = n;
    return LEAP_OK;
}

static int parse_not(parser *ps, fnode **out) {
    if (++ps->depth > 64) return fail(ps, ps->t.s, "nested too deeply");
    int rc;
    if (word_is(&ps->t, "not")) {
        next(ps);
        fnode *n = node(ps);
        if (!n) return leap_err_set(ps->err, LEAP_ENOMEM, "--filter: too complex");
        n->kind = FN_NOT;
        rc = parse_not(ps, &n->a);
        *out = n;
    } else {
        rc = parse_cmp(ps, out);
    }
    ps->depth--;
    return rc;
}

static int parse_and(parser *ps, fnode **out) {
    int rc = parse_not(ps, out);
    while (!rc && word_is(&ps->t, "and")) {
        next(ps);
        fnode *n = node(ps);
        if (!n) return leap_err_set(ps->err, LEAP_ENOMEM, "--filter: too complex");
        n->kind = FN_AND;
        n->a = *out;
        rc = parse_not(ps, &n->b);
        *out = n;
    }
    return rc;
}

static int parse_or(parser *ps, fnode **out) {
    if (++ps->depth > 64) return fail(ps, ps->t.s, "nested too deeply");
    int rc = parse_and(ps, out);
    while (!rc && word_is(&ps->t, "or")) {
        next(ps);
        fnode *n = node(ps);
        if (!n) return leap_err_set(ps->err, LEAP_ENOMEM, "--filter: too complex");
        n->kind = FN_OR;
        n->a = *out;
        rc = parse_and(ps, &n->b);
        *out = n;
    }
    ps->depth--;
    return rc;
}

int leap_filter_parse(const char *text, leap_filter **out, leap_err *err) {
    *out = NULL;
    size_t len = strlen(text);
    leap_filter *f = calloc(1, sizeof *f);
    if (!f) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    /* Every node consumes at least one token of at least one character. */
    f->cap = len + 1;
    f->pool_cap = 2 * len + 2;
    f->nodes = calloc(f->cap, sizeof *f->nodes);
    f->pool = malloc(f->pool_cap);
    if (!f->nodes || !f->pool) {
        leap_filter_free(f);
        return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    }
    parser ps = {.text = text, .p = text, .f = f, .err = err};
    next(&ps);
    int rc;
    if (ps.t.kind == T_END)
        rc = leap_err_set(err, LEAP_EPARSE, "--filter: empty expression");
    else
        rc = parse_or(&ps, &f->root);
    if (!rc && ps.t.kind != T_END) rc = fail(&ps, ps.t.s, "expected 'and', 'or' or the end");
    if (rc) {
        leap_filter_free(f);
        return rc;
    }
    *out = f;
    return LEAP_OK;
}

void leap_filter_free(leap_filter *f) {
    if (!f) return;
    free(f->nodes);
    free(f->pool);
    free(f);
}

int leap__sort_parse(const char *sort, track_sort *s, leap_err *err) {
    memset(s, 0, sizeof *s);
    const char *p = sort;
    if (*p == '-' || *p == '+') s->desc = *p++ == '-';
    static const struct {
        const char *prefix;
        ffield f;
    } pre[] = {{"metrics.", FF_METRIC}, {"params.", FF_PARAM}, {"tags.", FF_TAG}};
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
        size_t pl = strlen(pre[i].prefix);
        if (!strncmp(p, pre[i].prefix, pl)) {
            if (!p[pl]) break;
            s->field = pre[i].f;
            s->key = p + pl;
            return LEAP_OK;
        }
    }
    s->field = FF_ATTR;
    s->attr = find_attr(p, strlen(p));
    if (s->attr < 0)
        return leap_err_set(err, LEAP_EINVAL,
                            "--sort '%s': expected [-]metrics.KEY, [-]params.KEY, [-]tags.KEY or "
                            "an attribute (id, start, wall, cost, name, status, ...)",
                            sort);
    return LEAP_OK;
}

int leap_track_sort_check(const char *sort, leap_err *err) {
    track_sort s;
    return leap__sort_parse(sort, &s, err);
}
