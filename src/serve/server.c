/* server.c — the HTTP layer of `leap serve` on civetweb: routing of TF
 * Serving's REST paths, body limits, error codes, per-worker scratch, the
 * reload thread, metrics, health, access log and graceful stop.
 *
 * Threads: civetweb's workers (one per open connection, `threads`) each own
 * a scratch (init_thread) and run requests start to end; the reload thread
 * polls the repository or answers /admin/reload, loads and warms new
 * versions at low priority, swaps them in and frees retired ones once no
 * request holds them. Scoring itself is in run.c, decoding in request.c. */
#define _GNU_SOURCE
#include "serve/serve_internal.h"

#include <civetweb.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef struct worker {
    leap_serve_scratch *sc;
    leap_buf body; /* request body */
    leap_buf resp; /* response (header + body) */
    leap_buf tmp;  /* status, metrics, errors */
} worker;

struct leap_server {
    struct mg_context *ctx;
    leap_repo *repo;
    leap_server_opts o;
    char *token;
    int port;
    leap__req_stats stats; /* requests naming no (known) model */
    atomic_long inflight;
    atomic_int draining; /* stopping: new requests get 503 while those in flight finish */
    double started;
    /* reload thread */
    pthread_t reloader;
    int reloader_started;
    pthread_mutex_t mu;
    pthread_cond_t cv, done_cv;
    int stop;
    uint64_t want_gen, done_gen;
    int last_rc;
    char last_msg[512];
};

static void slog(leap_server *s, leap_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void slog(leap_server *s, leap_log_level lvl, const char *fmt, ...) {
    if (!s->o.log) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->o.log(s->o.log_user, lvl, msg);
}

/* ---- responses -------------------------------------------------------------------- */
static const char *reason(int code) {
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

/* One write: header and body together (tcp_nodelay is on). */
static int respond(struct mg_connection *c, worker *w, int code, const char *type, const void *body,
                   size_t len, const char *extra) {
    w->resp.len = 0;
    if (leap__bprintf(&w->resp,
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n", code,
                      reason(code), type, len, extra ? extra : "") ||
        leap_buf_append(&w->resp, body, len)) {
        static const char oom[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
        mg_write(c, oom, sizeof oom - 1);
        return 500;
    }
    mg_write(c, w->resp.p, w->resp.len);
    return code;
}

static int respond_json(struct mg_connection *c, worker *w, int code, const leap_buf *b,
                        const char *extra) {
    return respond(c, w, code, "application/json", b->p, b->len, extra);
}

static int respond_error(struct mg_connection *c, worker *w, int code, const char *extra,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int respond_error(struct mg_connection *c, worker *w, int code, const char *extra,
                         const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    w->tmp.len = 0;
    if (leap__bprintf(&w->tmp, "{\"error\":") || leap__json_str(&w->tmp, msg, strlen(msg)) ||
        leap_buf_append(&w->tmp, "}", 1))
        return respond(c, w, 500, "application/json", "{}", 2, NULL);
    return respond_json(c, w, code, &w->tmp, extra);
}

/* Reads the whole body into w->body; -1 when it exceeds max (413), -2 on a
 * read error. */
static int read_body(struct mg_connection *c, worker *w, const struct mg_request_info *ri,
                     size_t max) {
    w->body.len = 0;
    if (ri->content_length > 0 && (unsigned long long)ri->content_length > max) return -1;
    size_t want = ri->content_length >= 0 ? (size_t)ri->content_length : max + 1;
    while (w->body.len < want) {
        if (w->body.cap - w->body.len < 4096 || w->body.len == w->body.cap) {
            size_t need = w->body.len + (want - w->body.len < 65536 ? want - w->body.len : 65536);
            if (need > w->body.cap) {
                size_t cap = w->body.cap ? w->body.cap : 4096;
                while (cap < need)
                    cap *= 2;
                uint8_t *p = realloc(w->body.p, cap);
                if (!p) return -2;
                w->body.p = p;
                w->body.cap = cap;
            }
        }
        size_t room = w->body.cap - w->body.len;
        if (room > want - w->body.len) room = want - w->body.len;
        int n = mg_read(c, w->body.p + w->body.len, room);
        if (n < 0) return -2;
        if (n == 0) break;
        w->body.len += (size_t)n;
        if (w->body.len > max) return -1;
    }
    if (ri->content_length >= 0 && w->body.len != (size_t)ri->content_length) return -2;
    return 0;
}

/* ---- routes ----------------------------------------------------------------------- */
typedef struct route {
    leap__handler h;
    const char *name; /* model name in the path */
    size_t name_len;
    int64_t version; /* 0 = latest */
    int verb;        /* 0 none, 1 predict, 2 rank, 3 other */
    int metadata;
} route;

/* Parses the part after /v1/models/: NAME[/versions/V][/metadata][:verb].
 * Returns 0, or -1 for a path that names no resource. */
static int parse_model_path(const char *p, route *rt) {
    memset(rt, 0, sizeof *rt);
    const char *colon = strrchr(p, ':');
    const char *end = colon ? colon : p + strlen(p);
    const char *slash = memchr(p, '/', (size_t)(end - p));
    rt->name = p;
    rt->name_len = (size_t)((slash ? slash : end) - p);
    if (!rt->name_len) return -1;
    const char *q = slash;
    if (q && !strncmp(q, "/versions/", 10)) {
        q += 10;
        int64_t v = 0;
        const char *d = q;
        while (q < end && *q >= '0' && *q <= '9' && v < ((int64_t)1 << 60))
            v = v * 10 + (*q++ - '0');
        if (q == d || v <= 0) return -1;
        rt->version = v;
    }
    if (q && q < end && !strncmp(q, "/metadata", 9) && q + 9 == end) {
        rt->metadata = 1;
        q = end;
    }
    if (q && q != end) return -1;
    if (colon) {
        if (rt->metadata) return -1;
        rt->verb = !strcmp(colon + 1, "predict") ? 1 : !strcmp(colon + 1, "rank") ? 2 : 3;
    }
    rt->h = rt->verb == 1   ? LEAP__H_PREDICT
            : rt->verb == 2 ? LEAP__H_RANK
            : rt->verb      ? LEAP__H_OTHER
            : rt->metadata  ? LEAP__H_METADATA
                            : LEAP__H_STATUS;
    return 0;
}

static int metadata_json(leap_repo_version *v, leap_buf *o) {
    const leap_bundle *b = leap_repo_version_bundle(v);
    const leap_serve_inputs *in = leap_repo_version_inputs(v);
    int rc = leap__bprintf(o, "{\"model_spec\":{\"name\":");
    const char *nm = leap_repo_version_model(v);
    if (!rc) rc = leap__json_str(o, nm, strlen(nm));
    if (!rc)
        rc = leap__bprintf(o, ",\"version\":\"%lld\"},\"metadata\":{\"model\":\"%s\",\"inputs\":[",
                           (long long)leap_repo_version_number(v), b->ops->name);
    for (size_t c = 0; !rc && c < in->schema.n_cols; c++) {
        const leap_column_def *d = &in->schema.cols[c];
        rc = leap__bprintf(o, "%s{\"name\":", c ? "," : "");
        if (!rc) rc = leap__json_str(o, d->name, strlen(d->name));
        if (!rc)
            rc = leap__bprintf(o, ",\"type\":\"%s\"%s}", leap_col_type_name(d->type),
                               d->weighted ? ",\"weighted\":true" : "");
    }
    if (!rc)
        rc = leap__bprintf(o, "],\"outputs\":[{\"name\":\"predictions\",\"type\":\"float\"}],"
                              "\"bundle\":{");
    for (size_t i = 0; !rc && i < b->n_meta; i++) {
        rc = leap__bprintf(o, "%s", i ? "," : "");
        if (!rc) rc = leap__json_str(o, b->keys[i], strlen(b->keys[i]));
        if (!rc) rc = leap_buf_append(o, ":", 1);
        if (!rc) rc = leap__json_str(o, b->vals[i], strlen(b->vals[i]));
    }
    if (!rc) rc = leap__bprintf(o, "}}}");
    return rc;
}

static int handle_model(leap_server *s, struct mg_connection *c, worker *w,
                        const struct mg_request_info *ri, const route *rt,
                        leap__req_stats **stats) {
    int is_post = !strcmp(ri->request_method, "POST");
    int is_get = !strcmp(ri->request_method, "GET");
    if (rt->verb == 3)
        return respond_error(c, w, 404, NULL, "unknown method ':%s' (use :predict or :rank)",
                             strrchr(ri->local_uri, ':') + 1);
    if (rt->verb && !is_post)
        return respond_error(c, w, 405, "Allow: POST\r\n", "%s needs POST, not %s",
                             rt->verb == 1 ? ":predict" : ":rank", ri->request_method);
    if (!rt->verb && !is_get)
        return respond_error(c, w, 405, "Allow: GET\r\n", "use GET, not %s", ri->request_method);
    if (!rt->verb && !rt->metadata) {
        w->tmp.len = 0;
        int rc = leap__repo_status_json(s->repo, rt->name, rt->name_len, rt->version, &w->tmp);
        if (rc == LEAP_ENOTFOUND) goto not_found;
        if (rc) return respond_error(c, w, 500, NULL, "out of memory");
        leap_repo_version *v = leap_repo_acquire(s->repo, rt->name, rt->name_len, 0);
        if (v) {
            *stats = leap__repo_version_stats(v);
            leap_repo_release(v);
        }
        return respond_json(c, w, 200, &w->tmp, NULL);
    }
    leap_repo_version *v = leap_repo_acquire(s->repo, rt->name, rt->name_len, rt->version);
    if (!v) goto not_found;
    *stats = leap__repo_version_stats(v);
    int code;
    if (rt->metadata) {
        w->tmp.len = 0;
        code = metadata_json(v, &w->tmp) ? respond_error(c, w, 500, NULL, "out of memory")
                                         : respond_json(c, w, 200, &w->tmp, NULL);
    } else {
        int rb = read_body(c, w, ri, s->o.max_body);
        if (rb == -1) {
            /* civetweb reads and drops the rest of the body, and the connection stays usable */
            code = respond_error(c, w, 413, NULL, "body larger than the limit of %zu bytes",
                                 s->o.max_body);
        } else if (rb < 0) {
            code = respond_error(c, w, 400, "Connection: close\r\n", "body could not be read");
        } else {
            const leap_buf *out;
            leap_err err = {0};
            int rc = leap_serve_run(w->sc, v, rt->verb == 2 ? LEAP_SERVE_RANK : LEAP_SERVE_PREDICT,
                                    (const char *)w->body.p, w->body.len, &out, &err);
            if (rc == LEAP_OK)
                code = respond_json(c, w, 200, out, NULL);
            else if (rc == LEAP_ENOMEM)
                code = respond_error(c, w, 500, NULL, "%s", err.msg);
            else
                code = respond_error(c, w, 400, NULL, "%s", err.msg);
        }
    }
    leap_repo_release(v);
    return code;
not_found:
    if (rt->version)
        return respond_error(c, w, 404, NULL, "model '%.*s' has no version %lld being served",
                             (int)(rt->name_len > 64 ? 64 : rt->name_len), rt->name,
                             (long long)rt->version);
    return respond_error(c, w, 404, NULL, "no model named '%.*s'",
                         (int)(rt->name_len > 64 ? 64 : rt->name_len), rt->name);
}

static int authorized(leap_server *s, struct mg_connection *c) {
    const char *h = mg_get_header(c, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7)) return 0;
    h += 7;
    size_t a = strlen(h), b = strlen(s->token);
    unsigned diff = (unsigned)(a ^ b);
    for (size_t i = 0; i < b; i++) /* time independent of where they differ */
        diff |= (unsigned char)s->token[i] ^ (unsigned char)(i < a ? h[i] : 0);
    return diff == 0;
}

static int handle_admin(leap_server *s, struct mg_connection *c, worker *w,
                        const struct mg_request_info *ri) {
    if (!s->token)
        return respond_error(c, w, 404, NULL, "admin endpoints are off (no token file given)");
    if (strcmp(ri->local_uri, "/admin/reload"))
        return respond_error(c, w, 404, NULL, "unknown admin endpoint '%.64s'", ri->local_uri);
    if (strcmp(ri->request_method, "POST"))
        return respond_error(c, w, 405, "Allow: POST\r\n", "/admin/reload needs POST");
    if (!authorized(s, c))
        return respond_error(c, w, 401, "WWW-Authenticate: Bearer\r\n",
                             "missing or wrong bearer token");
    leap_err err = {0};
    if (leap_server_reload(s, &err)) return respond_error(c, w, 500, NULL, "%s", err.msg);
    leap_repo_stats st;
    leap_repo_get_stats(s->repo, &st);
    w->tmp.len = 0;
    leap__bprintf(
        &w->tmp,
        "{\"reloaded\":true,\"models\":%zu,\"versions_loaded\":%zu,\"load_failures\":%llu,"
        "\"retired_waiting\":%zu}",
        st.models, st.versions_loaded, (unsigned long long)st.load_failures, st.retired_waiting);
    return respond_json(c, w, 200, &w->tmp, NULL);
}

static void access_log(leap_server *s, const struct mg_request_info *ri, int code, double secs) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    leap_buf line = {0};
    if (!leap__bprintf(&line, "{\"ts\":\"%s\",\"remote\":\"%s\",\"method\":", ts,
                       ri->remote_addr) &&
        !leap__json_str(&line, ri->request_method, strlen(ri->request_method)) &&
        !leap__bprintf(&line, ",\"path\":") &&
        !leap__json_str(&line, ri->local_uri, strlen(ri->local_uri)) &&
        !leap__bprintf(&line, ",\"status\":%d,\"bytes_in\":%lld,\"duration_us\":%.0f}", code,
                       ri->content_length, secs * 1e6) &&
        !leap_buf_append(&line, "", 1))
        s->o.access_log(s->o.access_user, LEAP_LOG_INFO, (const char *)line.p);
    leap_buf_free(&line);
}

static int ready(leap_server *s) {
    leap_repo_stats st;
    leap_repo_get_stats(s->repo, &st);
    return st.versions_loaded > 0;
}

static int handler(struct mg_connection *c, void *cbdata) {
    leap_server *s = cbdata;
    double t0 = leap_now();
    const struct mg_request_info *ri = mg_get_request_info(c);
    worker *w = mg_get_thread_pointer(c);
    atomic_fetch_add(&s->inflight, 1);
    const char *p = ri->local_uri ? ri->local_uri : "";
    int get = !strcmp(ri->request_method, "GET");
    leap__req_stats *stats = &s->stats;
    leap__handler h = LEAP__H_OTHER;
    int code;
    if (!w) {
        static const char oom[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
        mg_write(c, oom, sizeof oom - 1);
        code = 503;
    } else if (atomic_load(&s->draining)) {
        code = respond_error(c, w, 503, "Connection: close\r\n", "server shutting down");
    } else if (!strncmp(p, "/v1/models/", 11)) {
        route rt;
        if (parse_model_path(p + 11, &rt))
            code = respond_error(c, w, 404, NULL, "no such resource '%.100s'", p);
        else {
            h = rt.h;
            code = handle_model(s, c, w, ri, &rt, &stats);
        }
    } else if (!strcmp(p, "/healthz") || !strcmp(p, "/readyz")) {
        int ok = p[1] == 'h' || ready(s);
        code = !get ? respond_error(c, w, 405, "Allow: GET\r\n", "use GET")
               : ok ? respond(c, w, 200, "application/json", "{\"status\":\"ok\"}", 15, NULL)
                    : respond_error(c, w, 503, NULL, "no model version loaded yet");
    } else if (!strcmp(p, "/metrics")) {
        w->tmp.len = 0;
        code = !get ? respond_error(c, w, 405, "Allow: GET\r\n", "use GET")
               : leap_server_metrics(s, &w->tmp)
                   ? respond_error(c, w, 500, NULL, "out of memory")
                   : respond(c, w, 200, "text/plain; version=0.0.4", w->tmp.p, w->tmp.len, NULL);
    } else if (!strncmp(p, "/admin/", 7)) {
        code = handle_admin(s, c, w, ri);
    } else {
        code = respond_error(c, w, 404, NULL, "no such resource '%.100s'", p);
    }
    double dt = leap_now() - t0;
    leap__req_stats_add(stats, h, code, dt);
    if (s->o.access_log) access_log(s, ri, code, dt);
    atomic_fetch_sub(&s->inflight, 1);
    return code;
}

/* ---- civetweb callbacks -------------------------------------------------------- */
/* civetweb fixes its worker threads' stack size when it is built (Debian's
 * package: ~100 KB) and asks for it with pthread_attr_setstacksize. Every
 * model's scoring runs on those threads, and 100 KB is tight: a GBDT block
 * decoder once overflowed it in a Release build, and AVX-512 kernels under
 * ASan still do. This definition in the executable takes precedence over
 * libc's for civetweb's call (ELF symbol interposition) and raises any
 * request below LEAP_MIN_THREAD_STACK to it; the real function is found with
 * dlsym(RTLD_NEXT). Stacks are reserved address space: pages are touched
 * only as deep as a thread goes. */
#define LEAP_MIN_THREAD_STACK ((size_t)2 << 20)

int pthread_attr_setstacksize(pthread_attr_t *attr, size_t size) {
    typedef int (*setstack_fn)(pthread_attr_t *, size_t);
    static setstack_fn real;
    setstack_fn f = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
    if (!f) {
        f = (setstack_fn)dlsym(RTLD_NEXT, "pthread_attr_setstacksize");
        if (!f) return EINVAL;
        __atomic_store_n(&real, f, __ATOMIC_RELEASE);
    }
    return f(attr, size < LEAP_MIN_THREAD_STACK ? LEAP_MIN_THREAD_STACK : size);
}

static void *init_thread(const struct mg_context *ctx, int type) {
    (void)ctx;
    if (type != 1) return NULL; /* workers only */
    worker *w = calloc(1, sizeof *w);
    if (w && !(w->sc = leap_serve_scratch_create())) {
        free(w);
        w = NULL;
    }
    return w;
}

static void exit_thread(const struct mg_context *ctx, int type, void *p) {
    (void)ctx;
    (void)type;
    worker *w = p;
    if (!w) return;
    leap_serve_scratch_destroy(w->sc);
    leap_buf_free(&w->body);
    leap_buf_free(&w->resp);
    leap_buf_free(&w->tmp);
    free(w);
}

static int log_message(const struct mg_connection *c, const char *msg) {
    const struct mg_context *ctx = mg_get_context(c);
    leap_server *s = ctx ? mg_get_user_data(ctx) : NULL;
    if (s) slog(s, LEAP_LOG_WARN, "http: %s", msg);
    return 1;
}

/* ---- reload thread --------------------------------------------------------------- */
static void *reloader(void *arg) {
    leap_server *s = arg;
    /* loading competes with requests for the cores: give way to them */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
    double next_poll = s->o.poll_seconds > 0 ? leap_now() + s->o.poll_seconds : 0;
    size_t waiting = 0;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        double now = leap_now();
        int due = s->want_gen > s->done_gen || (next_poll > 0 && now >= next_poll);
        if (!due) {
            double until = next_poll > 0 ? next_poll : now + 3600;
            if (waiting && until > now + 0.01) until = now + 0.01;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            double d = until - now;
            ts.tv_sec += (time_t)d;
            ts.tv_nsec += (long)((d - (double)(time_t)d) * 1e9);
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            if (waiting) {
                pthread_mutex_unlock(&s->mu);
                waiting = leap_repo_collect(s->repo);
                pthread_mutex_lock(&s->mu);
            }
            continue;
        }
        uint64_t gen = s->want_gen;
        pthread_mutex_unlock(&s->mu);
        leap_err err = {0};
        int rc = leap_repo_reload(s->repo, &err);
        if (rc) slog(s, LEAP_LOG_ERROR, "reload: %s", err.msg);
        waiting = leap_repo_collect(s->repo);
        pthread_mutex_lock(&s->mu);
        s->last_rc = rc;
        snprintf(s->last_msg, sizeof s->last_msg, "%s", err.msg);
        if (gen > s->done_gen) s->done_gen = gen;
        if (s->o.poll_seconds > 0) next_poll = leap_now() + s->o.poll_seconds;
        pthread_cond_broadcast(&s->done_cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int leap_server_reload(leap_server *s, leap_err *err) {
    pthread_mutex_lock(&s->mu);
    uint64_t gen = ++s->want_gen;
    pthread_cond_signal(&s->cv);
    while (s->done_gen < gen && !s->stop)
        pthread_cond_wait(&s->done_cv, &s->mu);
    int rc = s->stop ? LEAP_EINVAL : s->last_rc;
    if (rc) leap_err_set(err, rc, "%s", s->stop ? "server stopping" : s->last_msg);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- metrics ------------------------------------------------------------------------ */
#define MAX_MODELS_LISTED 256 /* civetweb's worker stacks are small */

int leap_server_metrics(leap_server *s, leap_buf *out) {
    const char *names[MAX_MODELS_LISTED + 1];
    leap__req_stats *stats[MAX_MODELS_LISTED + 1];
    size_t n = leap__repo_stats_list(s->repo, names, stats, MAX_MODELS_LISTED);
    names[n] = "";
    stats[n] = &s->stats;
    int rc = leap__req_stats_render(stats, names, n + 1, out);
    if (!rc) rc = leap__repo_metrics(s->repo, out);
    leap_repo_stats st;
    leap_repo_get_stats(s->repo, &st);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    long rss_pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        long size;
        if (fscanf(f, "%ld %ld", &size, &rss_pages) != 2) rss_pages = 0;
        fclose(f);
    }
    if (!rc)
        rc = leap__bprintf(
            out,
            "# HELP leap_model_reloads_total Reload cycles of the model repository.\n"
            "# TYPE leap_model_reloads_total counter\nleap_model_reloads_total %llu\n"
            "# HELP leap_model_versions_freed_total Retired versions freed after their last "
            "request.\n# TYPE leap_model_versions_freed_total counter\n"
            "leap_model_versions_freed_total %llu\n"
            "# HELP leap_model_versions_retired_waiting Retired versions still held by requests.\n"
            "# TYPE leap_model_versions_retired_waiting gauge\n"
            "leap_model_versions_retired_waiting %zu\n"
            "# HELP leap_requests_in_flight Requests being served now.\n"
            "# TYPE leap_requests_in_flight gauge\nleap_requests_in_flight %ld\n",
            (unsigned long long)st.reloads, (unsigned long long)st.versions_freed,
            st.retired_waiting, atomic_load(&s->inflight));
    if (!rc)
        rc = leap__bprintf(
            out,
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
            "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.6f\n"
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
            "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %lld\n"
            "# HELP process_start_time_seconds Start time of the process since unix epoch in "
            "seconds.\n# TYPE process_start_time_seconds gauge\n"
            "process_start_time_seconds %.3f\n",
            cpu, (long long)rss_pages * sysconf(_SC_PAGESIZE), s->started);
    return rc;
}

/* ---- start / stop --------------------------------------------------------------------- */
int leap_server_start(const leap_server_opts *o, leap_repo *repo, leap_server **out,
                      leap_err *err) {
    *out = NULL;
    leap_server *s = calloc(1, sizeof *s);
    if (!s) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    s->o = *o;
    s->repo = repo;
    if (!s->o.host) s->o.host = "127.0.0.1";
    if (s->o.port < 0 || s->o.port > 65535) {
        free(s);
        return leap_err_set(err, LEAP_EINVAL, "port %d not in [0, 65535]", o->port);
    }
    if (s->o.threads <= 0) s->o.threads = 64;
    if (!s->o.max_body) s->o.max_body = 4u << 20;
    if (s->o.request_timeout_ms <= 0) s->o.request_timeout_ms = 10000;
    if (s->o.idle_timeout_ms <= 0) s->o.idle_timeout_ms = 30000;
    if (o->admin_token) s->token = strdup(o->admin_token);
    s->o.admin_token = NULL;
    s->started = (double)time(NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->done_cv, NULL);

    char ports[300], threads[16], rto[16], kto[16], queue[16];
    snprintf(ports, sizeof ports, "%s:%d", s->o.host, s->o.port);
    snprintf(threads, sizeof threads, "%d", s->o.threads);
    snprintf(rto, sizeof rto, "%d", s->o.request_timeout_ms);
    snprintf(kto, sizeof kto, "%d", s->o.idle_timeout_ms);
    snprintf(queue, sizeof queue, "%d", s->o.threads > 64 ? s->o.threads : 64);
    const char *opts[] = {"listening_ports",
                          ports,
                          "num_threads",
                          threads,
                          "tcp_nodelay",
                          "1",
                          "enable_keep_alive",
                          "yes",
                          "request_timeout_ms",
                          rto,
                          "keep_alive_timeout_ms",
                          kto,
                          "connection_queue",
                          queue,
                          "listen_backlog",
                          "256",
                          "decode_url",
                          "yes",
                          NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.init_thread = init_thread;
    cb.exit_thread = exit_thread;
    cb.log_message = log_message;
    mg_init_library(0);
    s->ctx = mg_start(&cb, s, opts);
    if (!s->ctx) {
        leap_server_stop(s);
        return leap_err_set(err, LEAP_EIO, "cannot listen on %s (in use, or a bad address)", ports);
    }
    struct mg_server_port sp[4];
    int np = mg_get_server_ports(s->ctx, 4, sp);
    s->port = np > 0 ? sp[0].port : s->o.port;
    mg_set_request_handler(s->ctx, "/", handler, s);
    if (pthread_create(&s->reloader, NULL, reloader, s)) {
        leap_server_stop(s);
        return leap_err_set(err, LEAP_ENOMEM, "cannot start the reload thread");
    }
    s->reloader_started = 1;
    slog(s, LEAP_LOG_INFO, "listening on http://%s:%d (%d threads, poll %s)", s->o.host, s->port,
         s->o.threads, s->o.poll_seconds > 0 ? "on" : "off");
    *out = s;
    return LEAP_OK;
}

int leap_server_port(const leap_server *s) { return s->port; }

void leap_server_stop(leap_server *s) {
    if (!s) return;
    /* mg_stop makes civetweb's reads and writes fail at once, so requests in
     * flight are let finish first (at most the request timeout); new requests
     * meanwhile get 503, which also turns /readyz away */
    atomic_store(&s->draining, 1);
    double deadline = leap_now() + s->o.request_timeout_ms * 1e-3;
    while (s->ctx && atomic_load(&s->inflight) > 0 && leap_now() < deadline)
        usleep(1000);
    if (s->ctx) mg_stop(s->ctx); /* closes the listener and the connections, joins the workers */
    s->ctx = NULL;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_cond_broadcast(&s->done_cv);
    pthread_mutex_unlock(&s->mu);
    if (s->reloader_started) pthread_join(s->reloader, NULL);
    leap_repo_collect(s->repo);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->done_cv);
    free(s->token);
    free(s);
}
