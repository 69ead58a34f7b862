/* request.c — decoding of :predict and :rank bodies (JSON, TF Serving's REST
 * format) into a leap_rowgroup of raw input columns, value by value the way
 * the raw log readers would have stored the same row: numbers as float,
 * categorical text through leap_cat_hash, missing as NaN / 0.
 *
 * Does not featurize or score (run.c does), and knows nothing of HTTP: it is
 * called by the server, by warm-up, by the unit tests and by the fuzz target.
 * Errors name the place in the body ("instances[3].I5: expected a number,
 * got string"); any body, however malformed, yields an error, never a crash. */
#include "leap/serve.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the input index ------------------------------------------------------- */
static uint64_t name_hash(const char *s, size_t len) { return leap_hash64(s, len, 0x6b6579); }

int leap_serve_inputs_init(leap_serve_inputs *in, const leap_featurizer *fz, leap_err *err) {
    memset(in, 0, sizeof *in);
    size_t n = leap_fz_n_inputs(fz);
    in->schema.cols = calloc(n ? n : 1, sizeof *in->schema.cols);
    if (!in->schema.cols) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    in->schema.n_cols = leap_fz_inputs(fz, in->schema.cols);
    /* The featurizer does not record whether a multi_categorical column was
     * weighted in training; featurizing reads a value's weight when the row
     * group has one. Requests carry weights for every such column (1 unless
     * given), which scores an unweighted column exactly as without weights. */
    for (size_t c = 0; c < in->schema.n_cols; c++)
        if (in->schema.cols[c].type == LEAP_COL_MULTI_CATEGORICAL) in->schema.cols[c].weighted = 1;
    uint64_t cap = 16;
    while (cap < 2 * in->schema.n_cols)
        cap *= 2;
    in->slot = malloc(cap * sizeof *in->slot);
    if (!in->slot) {
        leap_serve_inputs_free(in);
        return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    }
    in->mask = cap - 1;
    for (uint64_t i = 0; i < cap; i++)
        in->slot[i] = -1;
    for (size_t c = 0; c < in->schema.n_cols; c++) {
        const char *nm = in->schema.cols[c].name;
        uint64_t h = name_hash(nm, strlen(nm)) & in->mask;
        while (in->slot[h] >= 0)
            h = (h + 1) & in->mask;
        in->slot[h] = (int32_t)c;
    }
    return LEAP_OK;
}

void leap_serve_inputs_free(leap_serve_inputs *in) {
    free(in->schema.cols);
    free(in->slot);
    memset(in, 0, sizeof *in);
}

int leap_serve_inputs_find(const leap_serve_inputs *in, const char *name, size_t len) {
    if (len >= LEAP_NAME_MAX) return -1;
    uint64_t h = name_hash(name, len) & in->mask;
    for (int32_t c; (c = in->slot[h]) >= 0; h = (h + 1) & in->mask) {
        const char *nm = in->schema.cols[c].name;
        if (!memcmp(nm, name, len) && nm[len] == 0) return c;
    }
    return -1;
}

/* ---- cJSON nodes from a per-thread arena ------------------------------------
 * cJSON allocates every node, key and string with malloc: ~2,000 calls for a
 * :rank body of 100 candidates, a third of its decoding time. While a body is
 * decoded, this thread's cJSON allocations come from one reused block that is
 * dropped as a whole afterwards (no frees). cJSON's hooks are process-wide:
 * outside a decode, and on every other thread, they are plain malloc/free, so
 * other users of cJSON are unaffected — as long as nobody else installs hooks. */
#define ARENA_KEEP (1u << 20) /* blocks up to 1 MiB stay with the thread */
#define ARENA_OLD  16

typedef struct json_arena {
    uint8_t *p; /* current block */
    size_t used, cap;
    uint8_t *old[ARENA_OLD]; /* blocks outgrown during this decode */
    size_t old_cap[ARENA_OLD], n_old;
    int active, registered;
} json_arena;

static __thread json_arena tl_arena;
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;
static pthread_key_t arena_key; /* frees a thread's block when the thread exits */

static void arena_release(void *p) {
    json_arena *a = p;
    free(a->p);
    a->p = NULL;
    a->cap = 0;
}

static int arena_owns(const json_arena *a, const void *q) {
    const uint8_t *p = q;
    if (a->p && p >= a->p && p < a->p + a->cap) return 1;
    for (size_t i = 0; i < a->n_old; i++)
        if (p >= a->old[i] && p < a->old[i] + a->old_cap[i]) return 1;
    return 0;
}

static void *json_malloc(size_t n) {
    json_arena *a = &tl_arena;
    if (!a->active) return malloc(n);
    n = (n + 15) & ~(size_t)15;
    if (a->used + n > a->cap) {
        if (a->p && a->n_old == ARENA_OLD) return NULL; /* cJSON reports it as a parse failure */
        size_t cap = a->cap ? 2 * a->cap : 65536;
        while (cap < n)
            cap *= 2;
        uint8_t *b = malloc(cap);
        if (!b) return NULL;
        if (a->p) {
            a->old[a->n_old] = a->p;
            a->old_cap[a->n_old++] = a->cap;
        }
        a->p = b;
        a->cap = cap;
        a->used = 0;
    }
    void *r = a->p + a->used;
    a->used += n;
    return r;
}

static void json_free(void *p) {
    if (p && !(tl_arena.active && arena_owns(&tl_arena, p))) free(p);
}

static void install_hooks(void) {
    pthread_key_create(&arena_key, arena_release);
    cJSON_Hooks h = {json_malloc, json_free};
    cJSON_InitHooks(&h);
}

static void arena_begin(void) {
    pthread_once(&hooks_once, install_hooks);
    if (!tl_arena.registered) {
        pthread_setspecific(arena_key, &tl_arena);
        tl_arena.registered = 1;
    }
    tl_arena.active = 1;
    tl_arena.used = 0;
}

/* Ends a decode: the tree is gone with the blocks (no cJSON_Delete needed). */
static void arena_end(void) {
    json_arena *a = &tl_arena;
    for (size_t i = 0; i < a->n_old; i++)
        free(a->old[i]);
    a->n_old = 0;
    a->used = 0;
    a->active = 0;
    if (a->cap > ARENA_KEEP) {
        free(a->p);
        a->p = NULL;
        a->cap = 0;
    }
}

/* ---- error places ----------------------------------------------------------- */
/* Where a value sits, formatted only when an error is reported:
 * A[i]B.KEY[j]  e.g. instances[3].I5, candidates[2].features.C1[0], inputs.I5[7]. */
typedef struct place {
    const char *a; /* "instances", "inputs", "context", "candidates" */
    long i;        /* index after a, or -1 */
    const char *b; /* ".features" or "" */
    const char *key;
    long j; /* index after key (columnar rows, multi values), or -1 */
} place;

static int place_err(leap_err *err, const place *p, const char *what) {
    char where[200];
    int n = snprintf(where, sizeof where, "%s", p->a);
    if (p->i >= 0 && n < (int)sizeof where)
        n += snprintf(where + n, sizeof where - (size_t)n, "[%ld]", p->i);
    if (p->b && n < (int)sizeof where)
        n += snprintf(where + n, sizeof where - (size_t)n, "%s", p->b);
    if (p->key && n < (int)sizeof where)
        n += snprintf(where + n, sizeof where - (size_t)n, ".%.64s", p->key);
    if (p->j >= 0 && n < (int)sizeof where)
        snprintf(where + n, sizeof where - (size_t)n, "[%ld]", p->j);
    return leap_err_set(err, LEAP_EINVAL, "%s: %s", where, what);
}

static const char *type_name(const cJSON *v) {
    if (!v) return "nothing";
    if (cJSON_IsString(v)) return "string";
    if (cJSON_IsNumber(v)) return "number";
    if (cJSON_IsBool(v)) return "boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "array";
    if (cJSON_IsObject(v)) return "object";
    return "invalid value";
}

static int type_err(leap_err *err, const place *p, const char *expected, const cJSON *v) {
    char what[96];
    snprintf(what, sizeof what, "expected %s, got %s", expected, type_name(v));
    return place_err(err, p, what);
}

/* ---- values ------------------------------------------------------------------ */
/* The text a raw log would hold for a JSON number given for a categorical
 * column: integers as plain digits, others as the shortest round-trip form. */
static size_t number_text(double x, char *buf, size_t cap) {
    int n;
    if (x == floor(x) && fabs(x) < 9007199254740992.0) {
        n = snprintf(buf, cap, "%lld", (long long)x);
    } else {
        n = 0;
        for (int prec = 15; prec <= 17; prec++) {
            n = snprintf(buf, cap, "%.*g", prec, x);
            if (strtod(buf, NULL) == x) break;
        }
    }
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Hash of a categorical value; 0 = missing; -1 = not a scalar. */
static int cat_value(const cJSON *v, uint64_t *h) {
    if (cJSON_IsString(v)) {
        size_t n = strlen(v->valuestring);
        *h = n ? leap_cat_hash(v->valuestring, n) : 0;
    } else if (cJSON_IsNumber(v)) {
        char buf[40];
        size_t n = number_text(v->valuedouble, buf, sizeof buf);
        *h = leap_cat_hash(buf, n);
    } else if (cJSON_IsBool(v)) {
        *h = cJSON_IsTrue(v) ? leap_cat_hash("true", 4) : leap_cat_hash("false", 5);
    } else if (cJSON_IsNull(v)) {
        *h = 0;
    } else {
        return -1;
    }
    return 0;
}

/* Rows allocated in rg (all columns share it after leap_rowgroup_reserve). */
typedef struct fill_ctx {
    leap_rowgroup *rg;
    size_t rows_cap;
    leap_err *err;
} fill_ctx;

static int ensure_values(fill_ctx *F, size_t col, size_t need) {
    if (F->rg->cols[col].vcap >= need) return LEAP_OK;
    size_t v = F->rg->cols[col].vcap * 2;
    if (v < need) v = need;
    if (v < 64) v = 64;
    if (leap_rowgroup_reserve(F->rg, F->rows_cap, v))
        return leap_err_set(F->err, LEAP_ENOMEM, "out of memory");
    return LEAP_OK;
}

static int reserve_rows(fill_ctx *F, size_t rows) {
    size_t vcap = 0;
    for (size_t c = 0; c < F->rg->n_cols; c++)
        if (F->rg->cols[c].vcap > vcap) vcap = F->rg->cols[c].vcap;
    if (leap_rowgroup_reserve(F->rg, rows, vcap))
        return leap_err_set(F->err, LEAP_ENOMEM, "out of memory");
    F->rows_cap = rows;
    F->rg->n_rows = rows;
    return LEAP_OK;
}

/* Row r gets every column's missing value (multi: an empty list after row r-1). */
static void row_defaults(leap_rowgroup *rg, size_t r) {
    for (size_t c = 0; c < rg->n_cols; c++) {
        leap_column *col = &rg->cols[c];
        switch (rg->types[c]) {
        case LEAP_COL_LABEL: col->f32[r] = 0.0f; break;
        case LEAP_COL_WEIGHT: col->f32[r] = 1.0f; break;
        case LEAP_COL_NUMERIC: col->f32[r] = NAN; break;
        case LEAP_COL_CATEGORICAL: col->u64[r] = 0; break;
        case LEAP_COL_TIMESTAMP: col->i64[r] = INT64_MIN; break;
        case LEAP_COL_MULTI_CATEGORICAL:
            if (r == 0) col->offsets[0] = 0;
            col->offsets[r + 1] = col->offsets[r];
            break;
        default: break;
        }
    }
}

/* Stores JSON value v as row r of column c. */
static int fill_value(fill_ctx *F, size_t c, size_t r, const cJSON *v, place *p) {
    leap_rowgroup *rg = F->rg;
    leap_column *col = &rg->cols[c];
    switch (rg->types[c]) {
    case LEAP_COL_LABEL:
    case LEAP_COL_WEIGHT:
    case LEAP_COL_NUMERIC:
        if (cJSON_IsNumber(v))
            col->f32[r] = (float)v->valuedouble;
        else if (cJSON_IsNull(v))
            col->f32[r] = rg->types[c] == LEAP_COL_NUMERIC  ? NAN
                          : rg->types[c] == LEAP_COL_WEIGHT ? 1.0f
                                                            : 0.0f;
        else
            return type_err(F->err, p, "a number", v);
        return LEAP_OK;
    case LEAP_COL_CATEGORICAL:
        if (cat_value(v, &col->u64[r])) return type_err(F->err, p, "a string", v);
        return LEAP_OK;
    case LEAP_COL_TIMESTAMP:
        if (cJSON_IsNull(v)) {
            col->i64[r] = INT64_MIN;
        } else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
                   fabs(v->valuedouble) < 9.2e18) {
            col->i64[r] = (int64_t)v->valuedouble;
        } else {
            return type_err(F->err, p, "an integer (seconds since the epoch)", v);
        }
        return LEAP_OK;
    case LEAP_COL_MULTI_CATEGORICAL: {
        size_t k = col->offsets[r];
        if (cJSON_IsArray(v)) {
            long j = 0;
            for (const cJSON *e = v->child; e; e = e->next, j++) {
                uint64_t h;
                float w = 1.0f;
                if (rg->weighted[c] && cJSON_IsArray(e)) {
                    const cJSON *val = e->child, *wt = val ? val->next : NULL;
                    place q = *p;
                    q.j = j;
                    if (!val || !wt || wt->next || !cJSON_IsNumber(wt) || cat_value(val, &h))
                        return place_err(F->err, &q, "expected [value, weight]");
                    w = (float)wt->valuedouble;
                } else if (cat_value(e, &h)) {
                    place q = *p;
                    q.j = j;
                    return type_err(F->err, &q, "a string or [value, weight]", e);
                }
                if (h == 0) continue; /* empty items are skipped, as the readers do */
                if (k + 1 > UINT32_MAX)
                    return place_err(F->err, p, "too many values in one request");
                if (ensure_values(F, c, k + 1)) return F->err->status;
                col = &rg->cols[c];
                col->u64[k] = h;
                if (rg->weighted[c]) col->vw[k] = w;
                k++;
            }
        } else if (!cJSON_IsNull(v)) {
            return type_err(F->err, p, "an array", v);
        }
        col->offsets[r + 1] = (uint32_t)k;
        return LEAP_OK;
    }
    default: return LEAP_OK;
    }
}

/* Every input key of object obj into row r (other keys are ignored). */
static int fill_object(fill_ctx *F, const leap_serve_inputs *in, size_t r, const cJSON *obj,
                       place *p) {
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (!it->string) continue;
        int c = leap_serve_inputs_find(in, it->string, strlen(it->string));
        if (c < 0) continue;
        p->key = it->string;
        if (fill_value(F, (size_t)c, r, it, p)) return F->err->status;
    }
    p->key = NULL;
    return LEAP_OK;
}

/* Request bodies nest 5 deep at most ({"instances": [{"tags": [[v, w]]}]}).
 * cJSON recurses once per level, and civetweb's worker threads have small
 * stacks (about 100 KB), so deeper bodies are refused before parsing. */
#define MAX_DEPTH 32

static const uint8_t json_special[256] = {
    ['"'] = 1, ['\\'] = 1, ['['] = 1, [']'] = 1, ['{'] = 1, ['}'] = 1};

static int too_deep(const char *s, size_t n) {
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!json_special[(uint8_t)c]) continue;
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > MAX_DEPTH) return 1;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 0;
}

static cJSON *parse_body(const char *body, size_t len, leap_err *err) {
    if (too_deep(body, len)) {
        leap_err_set(err, LEAP_EINVAL, "body: nested more than %d levels deep", MAX_DEPTH);
        return NULL;
    }
    const char *end = NULL;
    arena_begin();
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root) {
        arena_end();
        size_t at = end && end >= body && end <= body + len ? (size_t)(end - body) : 0;
        leap_err_set(err, LEAP_EPARSE, "body is not valid JSON (error near byte %zu)", at);
        return NULL;
    }
    /* anything but white space after the value is an error too */
    for (const char *q = end; q && q < body + len; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            arena_end();
            leap_err_set(err, LEAP_EPARSE, "body: unexpected data after the JSON value at byte %zu",
                         (size_t)(q - body));
            return NULL;
        }
    if (!cJSON_IsObject(root)) {
        leap_err_set(err, LEAP_EINVAL, "body: expected a JSON object, got %s", type_name(root));
        arena_end();
        return NULL;
    }
    return root;
}

static size_t array_len(const cJSON *a) {
    size_t n = 0;
    for (const cJSON *e = a->child; e; e = e->next)
        n++;
    return n;
}

static int decode_rows(const leap_serve_inputs *in, const cJSON *arr, const char *name,
                       fill_ctx *F) {
    size_t n = array_len(arr);
    if (n == 0) return leap_err_set(F->err, LEAP_EINVAL, "%s: no rows", name);
    if (n > LEAP_SERVE_MAX_ROWS)
        return leap_err_set(F->err, LEAP_EINVAL, "%s: %zu rows, more than the limit of %d", name, n,
                            LEAP_SERVE_MAX_ROWS);
    if (reserve_rows(F, n)) return F->err->status;
    size_t r = 0;
    for (const cJSON *row = arr->child; row; row = row->next, r++) {
        place p = {name, (long)r, NULL, NULL, -1};
        if (!cJSON_IsObject(row)) return type_err(F->err, &p, "an object", row);
        row_defaults(F->rg, r);
        if (fill_object(F, in, r, row, &p)) return F->err->status;
    }
    return LEAP_OK;
}

static int decode_columns(const leap_serve_inputs *in, const cJSON *obj, fill_ctx *F) {
    long n = -1;
    const char *first = NULL;
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (!it->string || leap_serve_inputs_find(in, it->string, strlen(it->string)) < 0) continue;
        place p = {"inputs", -1, NULL, it->string, -1};
        if (!cJSON_IsArray(it)) return type_err(F->err, &p, "an array of values", it);
        long m = (long)array_len(it);
        if (n < 0) {
            n = m;
            first = it->string;
        } else if (m != n) {
            char what[160];
            snprintf(what, sizeof what, "%ld values, but inputs.%.64s has %ld", m, first, n);
            return place_err(F->err, &p, what);
        }
    }
    if (n <= 0)
        return leap_err_set(F->err, LEAP_EINVAL,
                            n < 0 ? "inputs: none of the model's input columns"
                                  : "inputs: no rows");
    if (n > LEAP_SERVE_MAX_ROWS)
        return leap_err_set(F->err, LEAP_EINVAL, "inputs: %ld rows, more than the limit of %d", n,
                            LEAP_SERVE_MAX_ROWS);
    if (reserve_rows(F, (size_t)n)) return F->err->status;
    for (size_t r = 0; r < (size_t)n; r++)
        row_defaults(F->rg, r);
    for (const cJSON *it = obj->child; it; it = it->next) {
        int c = it->string ? leap_serve_inputs_find(in, it->string, strlen(it->string)) : -1;
        if (c < 0) continue;
        long r = 0;
        for (const cJSON *v = it->child; v; v = v->next, r++) {
            place p = {"inputs", -1, NULL, it->string, r};
            if (fill_value(F, (size_t)c, (size_t)r, v, &p)) return F->err->status;
        }
    }
    return LEAP_OK;
}

int leap_serve_decode_predict(const leap_serve_inputs *in, const char *body, size_t len,
                              leap_rowgroup *rg, leap_err *err) {
    cJSON *root = parse_body(body, len, err);
    if (!root) return err->status;
    fill_ctx F = {rg, 0, err};
    int rc;
    const cJSON *inst = cJSON_GetObjectItemCaseSensitive(root, "instances");
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (inst && inputs) {
        rc = leap_err_set(err, LEAP_EINVAL,
                          "body: give either \"instances\" or \"inputs\", not both");
    } else if (inst) {
        rc = cJSON_IsArray(inst)
                 ? decode_rows(in, inst, "instances", &F)
                 : leap_err_set(err, LEAP_EINVAL, "instances: expected an array of objects, got %s",
                                type_name(inst));
    } else if (inputs) {
        if (cJSON_IsArray(inputs))
            rc = decode_rows(in, inputs, "inputs", &F);
        else if (cJSON_IsObject(inputs))
            rc = decode_columns(in, inputs, &F);
        else
            rc = leap_err_set(err, LEAP_EINVAL,
                              "inputs: expected an object of columns or an array of rows, got %s",
                              type_name(inputs));
    } else {
        rc = leap_err_set(err, LEAP_EINVAL, "body: no \"instances\" or \"inputs\"");
    }
    if (rc) rg->n_rows = 0;
    arena_end();
    return rc;
}

/* ---- :rank ------------------------------------------------------------------ */
void leap_rank_request_free(leap_rank_request *rq) {
    free(rq->ads);
    free(rq->id_off);
    leap_buf_free(&rq->ids);
    leap_rowgroup_free(&rq->ctx);
    memset(rq, 0, sizeof *rq);
}

/* rq->ctx initialised for schema s (kept while the schema stays the same). */
static int ctx_for(leap_rank_request *rq, const leap_schema *s, leap_err *err) {
    int same = rq->ctx_ready && rq->ctx.n_cols == s->n_cols;
    for (size_t c = 0; same && c < s->n_cols; c++)
        same = rq->ctx.types[c] == s->cols[c].type && rq->ctx.weighted[c] == s->cols[c].weighted;
    if (same) return LEAP_OK;
    leap_rowgroup_free(&rq->ctx);
    rq->ctx_ready = 0;
    if (leap_rowgroup_init(&rq->ctx, s)) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    rq->ctx_ready = 1;
    return LEAP_OK;
}

/* Row 0 of ctx into row r of F->rg. */
static int copy_ctx_row(fill_ctx *F, const leap_rowgroup *ctx, size_t r) {
    leap_rowgroup *rg = F->rg;
    for (size_t c = 0; c < rg->n_cols; c++) {
        const leap_column *s = &ctx->cols[c];
        leap_column *d = &rg->cols[c];
        switch (rg->types[c]) {
        case LEAP_COL_LABEL:
        case LEAP_COL_WEIGHT:
        case LEAP_COL_NUMERIC: d->f32[r] = s->f32[0]; break;
        case LEAP_COL_CATEGORICAL: d->u64[r] = s->u64[0]; break;
        case LEAP_COL_TIMESTAMP: d->i64[r] = s->i64[0]; break;
        case LEAP_COL_MULTI_CATEGORICAL: {
            if (r == 0) d->offsets[0] = 0;
            size_t k = d->offsets[r], m = s->offsets[1];
            if (m) {
                if (ensure_values(F, c, k + m)) return F->err->status;
                d = &rg->cols[c];
                memcpy(d->u64 + k, s->u64, m * sizeof *s->u64);
                if (rg->weighted[c]) memcpy(d->vw + k, s->vw, m * sizeof *s->vw);
            }
            d->offsets[r + 1] = (uint32_t)(k + m);
            break;
        }
        default: break;
        }
    }
    return LEAP_OK;
}

static int grow_ads(leap_rank_request *rq, size_t n, leap_err *err) {
    if (n <= rq->ads_cap) return LEAP_OK;
    leap_ad *a = realloc(rq->ads, n * sizeof *a);
    if (!a) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    rq->ads = a;
    size_t *o = realloc(rq->id_off, (n + 1) * sizeof *o);
    if (!o) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    rq->id_off = o;
    rq->ads_cap = n;
    return LEAP_OK;
}

static int number_field(const cJSON *root, const char *key, double lo, double def, double *out,
                        leap_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return LEAP_OK;
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo) || !isfinite(v->valuedouble))
        return leap_err_set(err, LEAP_EINVAL, "%s: expected a number >= %g, got %s", key, lo,
                            cJSON_IsNumber(v) ? "a smaller one" : type_name(v));
    *out = v->valuedouble;
    return LEAP_OK;
}

static int decode_auction(const cJSON *root, leap_auction_opts *a, leap_err *err) {
    memset(a, 0, sizeof *a);
    double slots;
    if (number_field(root, "slots", 1, 1, &slots, err)) return err->status;
    if (slots != floor(slots) || slots > LEAP_SERVE_MAX_SLOTS)
        return leap_err_set(err, LEAP_EINVAL, "slots: expected an integer in [1, %d]",
                            LEAP_SERVE_MAX_SLOTS);
    a->slots = (size_t)slots;
    if (number_field(root, "reserve", 0, 0, &a->reserve, err)) return err->status;
    const cJSON *au = cJSON_GetObjectItemCaseSensitive(root, "auction");
    a->kind = LEAP_AUCTION_GSP;
    if (au && !cJSON_IsNull(au)) {
        int k = cJSON_IsString(au)
                    ? leap_auction_from_name(au->valuestring, strlen(au->valuestring))
                    : -1;
        if (k < 0)
            return leap_err_set(err, LEAP_EINVAL,
                                "auction: expected \"gsp\", \"first_price\" or \"vcg\"");
        a->kind = (leap_auction_kind)k;
    }
    for (size_t j = 0; j < LEAP_SERVE_MAX_SLOTS; j++)
        a->position_ctr[j] = 1.0;
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(root, "position_ctr");
    if (pc && !cJSON_IsNull(pc)) {
        if (!cJSON_IsArray(pc))
            return leap_err_set(err, LEAP_EINVAL, "position_ctr: expected an array, got %s",
                                type_name(pc));
        size_t j = 0;
        for (const cJSON *e = pc->child; e && j < a->slots; e = e->next, j++) {
            if (!cJSON_IsNumber(e) || !(e->valuedouble > 0) || !isfinite(e->valuedouble))
                return leap_err_set(err, LEAP_EINVAL,
                                    "position_ctr[%zu]: expected a positive number", j);
            if (j && e->valuedouble > a->position_ctr[j - 1])
                return leap_err_set(err, LEAP_EINVAL,
                                    "position_ctr[%zu]: larger than position_ctr[%zu] (factors "
                                    "must not increase with the position)",
                                    j, j - 1);
            a->position_ctr[j] = e->valuedouble;
        }
        if (j < a->slots)
            return leap_err_set(err, LEAP_EINVAL, "position_ctr: %zu values for %zu slots", j,
                                a->slots);
    }
    return LEAP_OK;
}

static int decode_candidate(const cJSON *cand, size_t r, leap_rank_request *rq, leap_err *err) {
    place p = {"candidates", (long)r, NULL, NULL, -1};
    if (!cJSON_IsObject(cand)) return type_err(err, &p, "an object", cand);
    leap_ad *ad = &rq->ads[r];
    memset(ad, 0, sizeof *ad);
    const cJSON *bid = cJSON_GetObjectItemCaseSensitive(cand, "bid");
    p.key = "bid";
    if (!cJSON_IsNumber(bid) || !(bid->valuedouble > 0) || !isfinite(bid->valuedouble))
        return bid && cJSON_IsNumber(bid) ? place_err(err, &p, "expected a positive number")
                                          : type_err(err, &p, "a positive number", bid);
    ad->bid = bid->valuedouble;
    const cJSON *bt = cJSON_GetObjectItemCaseSensitive(cand, "bid_type");
    ad->type = LEAP_BID_CPC;
    if (bt && !cJSON_IsNull(bt)) {
        p.key = "bid_type";
        if (cJSON_IsString(bt) && !strcasecmp(bt->valuestring, "cpm"))
            ad->type = LEAP_BID_CPM;
        else if (!cJSON_IsString(bt) || strcasecmp(bt->valuestring, "cpc"))
            return place_err(err, &p, "expected \"CPC\" or \"CPM\"");
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(cand, "id");
    char buf[40];
    const char *s = buf;
    size_t n;
    if (cJSON_IsString(id)) {
        s = id->valuestring;
        n = strlen(s);
    } else if (cJSON_IsNumber(id)) {
        n = number_text(id->valuedouble, buf, sizeof buf);
    } else if (!id || cJSON_IsNull(id)) {
        n = (size_t)snprintf(buf, sizeof buf, "%zu", r);
    } else {
        p.key = "id";
        return type_err(err, &p, "a string or number", id);
    }
    if (leap_buf_append(&rq->ids, s, n)) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    rq->id_off[r + 1] = rq->ids.len;
    return LEAP_OK;
}

int leap_serve_decode_rank(const leap_serve_inputs *in, const char *body, size_t len,
                           leap_rank_request *rq, leap_rowgroup *rg, leap_err *err) {
    rq->n_ads = 0;
    rq->ids.len = 0;
    rg->n_rows = 0;
    cJSON *root = parse_body(body, len, err);
    if (!root) return err->status;
    int rc = decode_auction(root, &rq->auction, err);
    const cJSON *cands = cJSON_GetObjectItemCaseSensitive(root, "candidates");
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(root, "context");
    size_t n = 0;
    if (!rc) {
        if (!cJSON_IsArray(cands))
            rc = leap_err_set(err, LEAP_EINVAL, "candidates: expected an array of objects, got %s",
                              type_name(cands));
        else if ((n = array_len(cands)) == 0)
            rc = leap_err_set(err, LEAP_EINVAL, "candidates: empty");
        else if (n > LEAP_SERVE_MAX_ROWS)
            rc = leap_err_set(err, LEAP_EINVAL, "candidates: %zu, more than the limit of %d", n,
                              LEAP_SERVE_MAX_ROWS);
        else if (ctx && !cJSON_IsNull(ctx) && !cJSON_IsObject(ctx))
            rc = leap_err_set(err, LEAP_EINVAL, "context: expected an object, got %s",
                              type_name(ctx));
    }
    if (!rc) rc = grow_ads(rq, n, err);
    if (!rc) rc = ctx_for(rq, &in->schema, err);
    fill_ctx C = {&rq->ctx, 0, err};
    if (!rc) rc = reserve_rows(&C, 1);
    if (!rc) {
        row_defaults(&rq->ctx, 0);
        place p = {"context", -1, NULL, NULL, -1};
        if (cJSON_IsObject(ctx)) rc = fill_object(&C, in, 0, ctx, &p);
    }
    fill_ctx F = {rg, 0, err};
    if (!rc) rc = reserve_rows(&F, n);
    size_t r = 0;
    if (!rc) rq->id_off[0] = 0;
    for (const cJSON *cand = rc ? NULL : cands->child; cand && !rc; cand = cand->next, r++) {
        rc = decode_candidate(cand, r, rq, err);
        if (!rc) rc = copy_ctx_row(&F, &rq->ctx, r);
        const cJSON *f = rc ? NULL : cJSON_GetObjectItemCaseSensitive(cand, "features");
        if (f && !cJSON_IsNull(f)) {
            place p = {"candidates", (long)r, ".features", NULL, -1};
            rc = cJSON_IsObject(f) ? fill_object(&F, in, r, f, &p)
                                   : type_err(err, &p, "an object", f);
        }
    }
    if (!rc)
        rq->n_ads = n;
    else
        rg->n_rows = 0;
    arena_end();
    return rc;
}
