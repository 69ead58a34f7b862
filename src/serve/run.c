/* run.c — scoring one request: decode (request.c) -> leap_featurize ->
 * leap_bundle_predict -> auction (for :rank) -> JSON response, on per-thread
 * scratch that is reused across requests. The server and warm-up both call
 * leap_serve_run, so a version that passes warm-up has run the exact code
 * path of a live request. No I/O, no locks. */
#include "serve/serve_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Row groups for up to RG_CACHE input schemas: a thread serving several
 * models keeps one per model instead of reallocating on every switch. */
#define RG_CACHE 4

struct leap_serve_scratch {
    leap_rowgroup rg[RG_CACHE];
    uint64_t sig[RG_CACHE]; /* schema signature; 0 = unused */
    uint64_t last_use[RG_CACHE], tick;
    leap_fbatch fb;
    float *p; /* [p_cap] scores */
    size_t p_cap;
    size_t *order; /* [order_cap] auction scratch */
    leap_auction_slot *slots;
    size_t order_cap;
    leap_rank_request rq;
    leap_buf out; /* the response */
};

leap_serve_scratch *leap_serve_scratch_create(void) {
    leap_serve_scratch *s = calloc(1, sizeof *s);
    if (s) s->slots = malloc(LEAP_SERVE_MAX_SLOTS * sizeof *s->slots);
    if (s && !s->slots) {
        free(s);
        return NULL;
    }
    return s;
}

void leap_serve_scratch_destroy(leap_serve_scratch *s) {
    if (!s) return;
    for (int i = 0; i < RG_CACHE; i++)
        leap_rowgroup_free(&s->rg[i]);
    leap_fbatch_free(&s->fb);
    free(s->p);
    free(s->order);
    free(s->slots);
    leap_rank_request_free(&s->rq);
    leap_buf_free(&s->out);
    free(s);
}

static uint64_t schema_sig(const leap_schema *sc) {
    uint64_t h = leap_mix64(0x736368656d61ULL, sc->n_cols);
    for (size_t c = 0; c < sc->n_cols; c++)
        h = leap_mix64(h, (uint64_t)sc->cols[c].type * 2 + sc->cols[c].weighted);
    return h ? h : 1;
}

static int same_types(const leap_rowgroup *rg, const leap_schema *sc) {
    if (rg->n_cols != sc->n_cols) return 0;
    for (size_t c = 0; c < sc->n_cols; c++)
        if (rg->types[c] != sc->cols[c].type || rg->weighted[c] != sc->cols[c].weighted) return 0;
    return 1;
}

static leap_rowgroup *rg_for(leap_serve_scratch *s, const leap_schema *sc) {
    uint64_t sig = schema_sig(sc);
    int victim = 0;
    s->tick++;
    for (int i = 0; i < RG_CACHE; i++) {
        if (s->sig[i] == sig && same_types(&s->rg[i], sc)) {
            s->last_use[i] = s->tick;
            return &s->rg[i];
        }
        if (s->last_use[i] < s->last_use[victim]) victim = i;
    }
    leap_rowgroup_free(&s->rg[victim]);
    s->sig[victim] = 0;
    if (leap_rowgroup_init(&s->rg[victim], sc)) return NULL;
    s->sig[victim] = sig;
    s->last_use[victim] = s->tick;
    return &s->rg[victim];
}

static int grow_scores(leap_serve_scratch *s, size_t n) {
    if (n <= s->p_cap) return LEAP_OK;
    float *p = realloc(s->p, n * sizeof *p);
    if (!p) return LEAP_ENOMEM;
    s->p = p;
    size_t *o = realloc(s->order, n * sizeof *o);
    if (!o) return LEAP_ENOMEM;
    s->order = o;
    s->p_cap = s->order_cap = n;
    return LEAP_OK;
}

/* ---- JSON writing -------------------------------------------------------------------- */
int leap__bprintf(leap_buf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return LEAP_EINVAL;
    if ((size_t)n < sizeof tmp) return leap_buf_append(b, tmp, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big) return LEAP_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = leap_buf_append(b, big, (size_t)n);
    free(big);
    return rc;
}

int leap__json_str(leap_buf *b, const char *s, size_t n) {
    if (leap_buf_append(b, "\"", 1)) return LEAP_ENOMEM;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (leap_buf_append(b, s + run, i - run)) return LEAP_ENOMEM;
        char esc[8];
        int k = c == '"' || c == '\\' ? snprintf(esc, sizeof esc, "\\%c", c)
                                      : snprintf(esc, sizeof esc, "\\u%04x", c);
        if (leap_buf_append(b, esc, (size_t)k)) return LEAP_ENOMEM;
        run = i + 1;
    }
    if (leap_buf_append(b, s + run, n - run) || leap_buf_append(b, "\"", 1)) return LEAP_ENOMEM;
    return LEAP_OK;
}

/* ---- the request ------------------------------------------------------------------------- */
static int format_predictions(leap_buf *o, const float *p, size_t n, int64_t version) {
    int rc = leap_buf_append(o, "{\"predictions\":[", 16);
    for (size_t i = 0; !rc && i < n; i++) {
        char num[32];
        int k = snprintf(num, sizeof num, i ? ",%.9g" : "%.9g", (double)p[i]);
        rc = leap_buf_append(o, num, (size_t)k);
    }
    if (!rc) rc = leap__bprintf(o, "],\"model_version\":%lld}", (long long)version);
    return rc;
}

static int format_rank(leap_buf *o, const leap_rank_request *rq, const leap_auction_slot *sl,
                       size_t won, size_t eligible, int64_t version) {
    int rc =
        leap__bprintf(o,
                      "{\"model_version\":%lld,\"auction\":\"%s\",\"candidates\":%zu,"
                      "\"eligible\":%zu,\"slots\":[",
                      (long long)version, leap_auction_name(rq->auction.kind), rq->n_ads, eligible);
    for (size_t i = 0; !rc && i < won; i++) {
        const leap_ad *a = &rq->ads[sl[i].ad];
        rc = leap__bprintf(o, "%s{\"position\":%zu,\"id\":", i ? "," : "", sl[i].position);
        if (!rc)
            rc = leap__json_str(o, (const char *)rq->ids.p + rq->id_off[sl[i].ad],
                                rq->id_off[sl[i].ad + 1] - rq->id_off[sl[i].ad]);
        if (!rc)
            rc = leap__bprintf(o,
                               ",\"candidate\":%zu,\"pctr\":%.9g,\"ecpm\":%.12g,\"bid\":%.12g,"
                               "\"bid_type\":\"%s\",\"price\":%.12g}",
                               sl[i].ad, (double)a->pctr, a->ecpm, a->bid,
                               a->type == LEAP_BID_CPM ? "CPM" : "CPC", sl[i].price);
    }
    if (!rc) rc = leap_buf_append(o, "]}", 2);
    return rc;
}

int leap_serve_run(leap_serve_scratch *s, const leap_repo_version *v, leap_serve_method m,
                   const char *body, size_t len, const leap_buf **out, leap_err *err) {
    const leap_serve_inputs *in = leap_repo_version_inputs(v);
    const leap_bundle *b = leap_repo_version_bundle(v);
    leap_rowgroup *rg = rg_for(s, &in->schema);
    if (!rg) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    int rc = m == LEAP_SERVE_RANK ? leap_serve_decode_rank(in, body, len, &s->rq, rg, err)
                                  : leap_serve_decode_predict(in, body, len, rg, err);
    if (rc) return rc;
    rc = leap_featurize(&b->fz, leap__repo_version_binding(v), rg, &s->fb, err);
    if (rc) return rc;
    if (grow_scores(s, rg->n_rows)) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    leap_bundle_predict(b, &s->fb, s->p);
    s->out.len = 0;
    int64_t ver = leap_repo_version_number(v);
    if (m == LEAP_SERVE_PREDICT) {
        rc = format_predictions(&s->out, s->p, rg->n_rows, ver);
    } else {
        leap_rank_request *rq = &s->rq;
        for (size_t i = 0; i < rq->n_ads; i++)
            rq->ads[i].pctr = s->p[i];
        size_t won = leap_auction_run(&rq->auction, rq->ads, rq->n_ads, s->order, s->slots);
        size_t eligible = 0;
        for (size_t i = 0; i < rq->n_ads; i++)
            eligible += rq->ads[i].ecpm > 0 && rq->ads[i].ecpm >= rq->auction.reserve;
        rc = format_rank(&s->out, rq, s->slots, won, eligible, ver);
    }
    if (rc) return leap_err_set(err, LEAP_ENOMEM, "out of memory formatting the response");
    *out = &s->out;
    return LEAP_OK;
}
