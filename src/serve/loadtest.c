/* loadtest.c — an open-loop HTTP load generator and the request bodies it
 * sends.
 *
 * Open loop: request k is due at t0 + k/rate whatever happened before, and
 * its latency is measured from that due time, not from when it was actually
 * sent; a stalled server therefore shows up in every request queued behind
 * the stall (no coordinated omission, as in wrk2). Each connection is one
 * thread with one kept-alive socket sending the requests k ≡ c (mod C).
 * A minimal HTTP/1.1 client (Content-Length or read-to-close bodies,
 * reconnect when the server closes) — enough for leap serve and the Python
 * baselines. Bodies are built from rows of a raw log or dataset with the
 * categorical values' original text, so they are what a client would send. */
#define _GNU_SOURCE
#include "leap/ingest.h"
#include "serve/serve_internal.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* ---- one connection ------------------------------------------------------------- */
typedef struct client {
    const leap_loadtest_opts *o;
    struct addrinfo *addr;
    int fd;
    char *buf;
    size_t cap;
    char head[512];
} client;

static void client_close(client *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

static int client_connect(client *c) {
    client_close(c);
    int fd = socket(c->addr->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {(time_t)c->o->timeout, (suseconds_t)(fmod(c->o->timeout, 1.0) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, c->addr->ai_addr, c->addr->ai_addrlen) != 0) {
        close(fd);
        return -1;
    }
    c->fd = fd;
    return 0;
}

static const char *find_crlf2(const char *s, size_t n) {
    for (size_t i = 3; i < n; i++)
        if (s[i] == '\n' && s[i - 1] == '\r' && s[i - 2] == '\n' && s[i - 3] == '\r')
            return s + i + 1;
    return NULL;
}

/* Sends one request and reads its response; returns the HTTP status, or -1
 * on a network error (the connection is then closed). */
static int client_request(client *c, const char *body, size_t len) {
    if (c->fd < 0 && client_connect(c)) return -1;
    int hl = snprintf(c->head, sizeof c->head,
                      "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      c->o->path, c->o->host, c->o->port, len);
    struct iovec iov[2] = {{c->head, (size_t)hl}, {(void *)body, len}};
    size_t total = (size_t)hl + len, sent = 0;
    while (sent < total) {
        struct msghdr mh = {0};
        struct iovec v[2];
        int nv = 0;
        size_t skip = sent;
        for (int i = 0; i < 2; i++) {
            if (skip >= iov[i].iov_len) {
                skip -= iov[i].iov_len;
                continue;
            }
            v[nv].iov_base = (char *)iov[i].iov_base + skip;
            v[nv].iov_len = iov[i].iov_len - skip;
            skip = 0;
            nv++;
        }
        mh.msg_iov = v;
        mh.msg_iovlen = (size_t)nv;
        ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        if (n <= 0) {
            client_close(c);
            return -1;
        }
        sent += (size_t)n;
    }
    size_t got = 0;
    const char *hend = NULL;
    long long clen = -1;
    int status = 0, close_after = 0;
    for (;;) {
        if (got == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 65536;
            char *p = realloc(c->buf, cap);
            if (!p) {
                client_close(c);
                return -1;
            }
            c->buf = p;
            c->cap = cap;
        }
        ssize_t n = recv(c->fd, c->buf + got, c->cap - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0 && hend && clen < 0) break; /* body ends at close */
            client_close(c);
            return -1;
        }
        got += (size_t)n;
        if (!hend && (hend = find_crlf2(c->buf, got)) != NULL) {
            if (got < 12 || strncmp(c->buf, "HTTP/1.", 7)) {
                client_close(c);
                return -1;
            }
            status = atoi(c->buf + 9);
            for (const char *l = strstr(c->buf, "\r\n"); l && l + 2 < hend;
                 l = strstr(l + 2, "\r\n")) {
                const char *h = l + 2;
                if (!strncasecmp(h, "Content-Length:", 15)) clen = atoll(h + 15);
                if (!strncasecmp(h, "Connection:", 11)) {
                    const char *v = h + 11;
                    while (*v == ' ')
                        v++;
                    if (!strncasecmp(v, "close", 5)) close_after = 1;
                }
            }
            if (!strncmp(c->buf, "HTTP/1.0", 8)) close_after = 1;
        }
        if (hend && clen >= 0 && got >= (size_t)(hend - c->buf) + (size_t)clen) break;
    }
    if (close_after || clen < 0) client_close(c);
    return status;
}

/* ---- the load loop ------------------------------------------------------------------ */
typedef struct sample {
    float sched; /* due time, seconds after t0 */
    float lat;   /* seconds */
    int16_t status;
} sample;

typedef struct lt_thread {
    const leap_loadtest_opts *o;
    struct addrinfo *addr;
    int idx;
    double t0;
    sample *s;
    size_t n, cap;
    uint64_t scheduled, net_errors;
    double last_done;
} lt_thread;

static void sleep_until(double t) {
    double now = leap_now();
    if (t <= now) return;
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static void *lt_run(void *arg) {
    lt_thread *T = arg;
    const leap_loadtest_opts *o = T->o;
    /* the default 50 µs timer slack would show up as latency of every request */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    client c = {o, T->addr, -1, NULL, 0, {0}};
    for (uint64_t k = (uint64_t)T->idx;; k += (uint64_t)o->connections) {
        double due = T->t0 + (double)k / o->rate;
        if (due >= T->t0 + o->duration) break;
        sleep_until(due);
        size_t b = (size_t)(k % o->n_bodies);
        const char *body = (const char *)o->bodies->p + o->body_off[b];
        size_t len = o->body_off[b + 1] - o->body_off[b];
        T->scheduled++;
        int st = client_request(&c, body, len);
        double done = leap_now();
        if (st < 0) {
            T->net_errors++;
            st = 0;
        }
        T->last_done = done;
        if (T->n < T->cap)
            T->s[T->n++] = (sample){(float)(due - T->t0), (float)(done - due), (int16_t)st};
    }
    client_close(&c);
    free(c.buf);
    return NULL;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static double pct(const float *v, size_t n, double q) {
    if (!n) return 0;
    size_t i = (size_t)ceil(q * (double)n);
    if (i > 0) i--;
    if (i >= n) i = n - 1;
    return v[i];
}

int leap_loadtest_run(const leap_loadtest_opts *o, leap_loadtest_report *rep, leap_err *err) {
    memset(rep, 0, sizeof *rep);
    if (!(o->rate > 0) || !(o->duration > 0) || o->connections < 1 || o->connections > 4096 ||
        !o->n_bodies)
        return leap_err_set(err, LEAP_EINVAL,
                            "loadtest: rate, duration, connections and bodies must be positive");
    leap_loadtest_opts oo = *o;
    if (!(oo.timeout > 0)) oo.timeout = 5;
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    char port[16];
    snprintf(port, sizeof port, "%d", o->port);
    int gai = getaddrinfo(o->host, port, &hints, &ai);
    if (gai) return leap_err_set(err, LEAP_EINVAL, "loadtest: %s: %s", o->host, gai_strerror(gai));
    int C = o->connections;
    lt_thread *T = calloc((size_t)C, sizeof *T);
    pthread_t *tid = calloc((size_t)C, sizeof *tid);
    size_t per = (size_t)(o->rate * o->duration / C) + 2;
    int rc = LEAP_OK;
    if (!T || !tid) rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
    double t0 = leap_now() + 0.05;
    int started = 0;
    for (int i = 0; !rc && i < C; i++) {
        T[i] = (lt_thread){&oo, ai, i, t0, malloc(per * sizeof(sample)), 0, per, 0, 0, t0};
        if (!T[i].s)
            rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
        else if (pthread_create(&tid[i], NULL, lt_run, &T[i]))
            rc = leap_err_set(err, LEAP_ENOMEM, "loadtest: cannot start thread %d", i);
        else
            started++;
    }
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    freeaddrinfo(ai);
    size_t n = 0;
    double last = t0;
    for (int i = 0; T && i < C; i++) {
        n += T[i].n;
        rep->scheduled += T[i].scheduled;
        rep->net_errors += T[i].net_errors;
        if (T[i].last_done > last) last = T[i].last_done;
    }
    float *lat = rc ? NULL : malloc((n ? n : 1) * sizeof *lat);
    if (!rc && !lat) rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
    FILE *lf = NULL;
    if (!rc && o->latency_log && !(lf = fopen(o->latency_log, "w")))
        rc = leap_err_set(err, LEAP_EIO, "loadtest: cannot write %s", o->latency_log);
    if (!rc) {
        size_t k = 0;
        double sum = 0;
        for (int i = 0; i < C; i++)
            for (size_t j = 0; j < T[i].n; j++) {
                const sample *s = &T[i].s[j];
                int cls = s->status / 100;
                rep->status[cls >= 1 && cls <= 5 ? cls : 0]++;
                if (lf) fprintf(lf, "%.6f %.6f %d\n", s->sched, s->lat, s->status);
                if (!s->status) continue;
                rep->completed++;
                if (s->status >= 200 && s->status < 300)
                    rep->ok++;
                else
                    rep->http_errors++;
                lat[k++] = s->lat;
                sum += s->lat;
            }
        qsort(lat, k, sizeof *lat, cmp_float);
        rep->seconds = last - t0;
        rep->achieved_rate = rep->seconds > 0 ? (double)rep->completed / rep->seconds : 0;
        rep->p50 = pct(lat, k, 0.5);
        rep->p90 = pct(lat, k, 0.9);
        rep->p99 = pct(lat, k, 0.99);
        rep->p999 = pct(lat, k, 0.999);
        rep->max = k ? lat[k - 1] : 0;
        rep->mean = k ? sum / (double)k : 0;
    }
    if (lf) fclose(lf);
    free(lat);
    for (int i = 0; T && i < C; i++)
        free(T[i].s);
    free(T);
    free(tid);
    return rc;
}

/* ---- request bodies from rows ------------------------------------------------------------ */
/* (column, hash) -> text, open addressing. */
typedef struct dict_map {
    uint64_t *key; /* mixed (col, hash); 0 = empty */
    size_t *off, *len;
    size_t mask;
    leap_buf text;
} dict_map;

static int dict_put(dict_map *d, size_t col, uint64_t h, const char *s, size_t n) {
    uint64_t k = leap_mix64(h, col) | 1;
    size_t i = k & d->mask;
    while (d->key[i] && d->key[i] != k)
        i = (i + 1) & d->mask;
    if (d->key[i]) return 0;
    d->key[i] = k;
    d->off[i] = d->text.len;
    d->len[i] = n;
    return leap_buf_append(&d->text, s, n);
}

static int dict_get(const dict_map *d, size_t col, uint64_t h, const char **s, size_t *n) {
    uint64_t k = leap_mix64(h, col) | 1;
    for (size_t i = k & d->mask; d->key[i]; i = (i + 1) & d->mask)
        if (d->key[i] == k) {
            *s = (const char *)d->text.p + d->off[i];
            *n = d->len[i];
            return 0;
        }
    return -1;
}

typedef struct row_src {
    const leap_schema *s;
    const leap_rowgroup *rg;
    leap_dataset *ds; /* dictionary of a dataset, or */
    dict_map *dm;     /* of a raw log */
} row_src;

static int cat_text(const row_src *R, size_t col, uint64_t h, const char **s, size_t *n) {
    if (R->ds) return leap_dataset_dict_lookup(R->ds, col, h, s, n);
    return dict_get(R->dm, col, h, s, n);
}

/* Row r as a JSON object of raw features; label, weight and missing values left out. */
static int row_json(const row_src *R, size_t r, leap_buf *o, leap_err *err) {
    int rc = leap_buf_append(o, "{", 1), first = 1;
    for (size_t c = 0; !rc && c < R->s->n_cols; c++) {
        const leap_column_def *d = &R->s->cols[c];
        const leap_column *col = &R->rg->cols[c];
        char num[48];
        const char *txt;
        size_t n;
        switch (d->type) {
        case LEAP_COL_NUMERIC:
            if (isnan(col->f32[r])) continue;
            n = (size_t)snprintf(num, sizeof num, "%.9g", (double)col->f32[r]);
            txt = num;
            break;
        case LEAP_COL_TIMESTAMP:
            if (col->i64[r] == INT64_MIN) continue;
            n = (size_t)snprintf(num, sizeof num, "%lld", (long long)col->i64[r]);
            txt = num;
            break;
        case LEAP_COL_CATEGORICAL:
            if (!col->u64[r]) continue;
            if (cat_text(R, c, col->u64[r], &txt, &n))
                return leap_err_set(err, LEAP_EINVAL,
                                    "column %s: no raw text for a categorical value (ingest the "
                                    "dataset with --dict, or give the raw log)",
                                    d->name);
            break;
        case LEAP_COL_MULTI_CATEGORICAL: txt = NULL, n = 0; break;
        default: continue;
        }
        rc = leap__bprintf(o, "%s", first ? "" : ",");
        first = 0;
        if (!rc) rc = leap__json_str(o, d->name, strlen(d->name));
        if (!rc) rc = leap_buf_append(o, ":", 1);
        if (rc) break;
        if (d->type == LEAP_COL_CATEGORICAL)
            rc = leap__json_str(o, txt, n);
        else if (d->type != LEAP_COL_MULTI_CATEGORICAL)
            rc = leap_buf_append(o, txt, n);
        else {
            rc = leap_buf_append(o, "[", 1);
            for (uint32_t j = col->offsets[r]; !rc && j < col->offsets[r + 1]; j++) {
                if (cat_text(R, c, col->u64[j], &txt, &n))
                    return leap_err_set(err, LEAP_EINVAL, "column %s: no raw text for a value",
                                        d->name);
                if (j > col->offsets[r]) rc = leap_buf_append(o, ",", 1);
                if (!rc && d->weighted) rc = leap_buf_append(o, "[", 1);
                if (!rc) rc = leap__json_str(o, txt, n);
                if (!rc && d->weighted) rc = leap__bprintf(o, ",%.9g]", (double)col->vw[j]);
            }
            if (!rc) rc = leap_buf_append(o, "]", 1);
        }
    }
    if (!rc) rc = leap_buf_append(o, "}", 1);
    return rc ? leap_err_set(err, LEAP_ENOMEM, "out of memory") : LEAP_OK;
}

static int make_bodies(const leap_body_opts *o, const row_src *R, leap_buf *b, size_t **off,
                       size_t *n_bodies, leap_err *err) {
    size_t per = o->candidates ? o->candidates : o->rows_per_request;
    size_t n_rows = R->rg->n_rows, nb = n_rows / per;
    if (nb > o->max_bodies) nb = o->max_bodies;
    if (!nb)
        return leap_err_set(err, LEAP_EINVAL, "%s: %zu rows, fewer than one request needs (%zu)",
                            o->path, n_rows, per);
    size_t *of = malloc((nb + 1) * sizeof *of);
    if (!of) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    leap_rng rng = {o->seed};
    int rc = LEAP_OK;
    of[0] = 0;
    for (size_t i = 0; !rc && i < nb; i++) {
        if (o->candidates)
            rc = leap__bprintf(b,
                               "{\"slots\":%zu,\"auction\":\"%s\",\"context\":{},"
                               "\"candidates\":[",
                               o->slots, o->auction);
        else
            rc = leap__bprintf(b, "{\"instances\":[");
        for (size_t j = 0; !rc && j < per; j++) {
            if (j) rc = leap_buf_append(b, ",", 1);
            if (!rc && o->candidates)
                rc = leap__bprintf(b,
                                   "{\"id\":\"ad%zu\",\"bid\":%.3f,\"bid_type\":\"CPC\","
                                   "\"features\":",
                                   j, 0.1 + 1.9 * leap_rng_uniform(&rng));
            if (!rc) rc = row_json(R, i * per + j, b, err);
            if (!rc && o->candidates) rc = leap_buf_append(b, "}", 1);
        }
        if (!rc) rc = leap_buf_append(b, "]}", 2);
        of[i + 1] = b->len;
    }
    if (rc) {
        free(of);
        return err->status ? err->status : leap_err_set(err, LEAP_ENOMEM, "out of memory");
    }
    *off = of;
    *n_bodies = nb;
    return LEAP_OK;
}

int leap_loadtest_make_bodies(const leap_body_opts *oi, leap_buf *bodies, size_t **body_off,
                              size_t *n_bodies, leap_err *err) {
    leap_body_opts o = *oi;
    if (!o.rows_per_request) o.rows_per_request = 1;
    if (!o.slots) o.slots = 3;
    if (!o.auction) o.auction = "gsp";
    if (!o.max_bodies) o.max_bodies = 1000;
    size_t per = o.candidates ? o.candidates : o.rows_per_request;
    size_t want = per * o.max_bodies;
    if (want > 2000000) want = 2000000;
    *body_off = NULL;
    *n_bodies = 0;
    row_src R = {0};
    leap_rowgroup rg = {0};
    int rc;
    if (leap_dataset_probe(o.path)) {
        leap_dataset *ds;
        if ((rc = leap_dataset_open(o.path, &ds, err))) return rc;
        R.ds = ds;
        R.s = leap_dataset_schema(ds);
        rc = leap_rowgroup_init(&rg, R.s) ? leap_err_set(err, LEAP_ENOMEM, "out of memory") : 0;
        if (!rc && leap_dataset_num_row_groups(ds))
            rc = leap_dataset_read_row_group(ds, 0, &rg, err);
        R.rg = &rg;
        if (!rc) rc = make_bodies(&o, &R, bodies, body_off, n_bodies, err);
        leap_rowgroup_free(&rg);
        leap_dataset_close(ds);
        return rc;
    }
    int f = leap_format_from_name(o.format ? o.format : "criteo");
    if (f < 0) return leap_err_set(err, LEAP_EINVAL, "unknown format '%s'", o.format);
    leap_reader_opts ro = {.format = (leap_format)f,
                           .schema_path = o.schema_path,
                           .bad_rows = LEAP_BAD_ROWS_FAIL,
                           .keep_dict = 1};
    leap_reader *rd;
    if ((rc = leap_reader_open(&ro, o.path, &rd, err))) return rc;
    R.s = leap_reader_schema(rd);
    dict_map dm = {0};
    rc = leap_rowgroup_init(&rg, R.s) ? leap_err_set(err, LEAP_ENOMEM, "out of memory") : 0;
    if (!rc) rc = leap_reader_next(rd, &rg, want, err);
    if (!rc) {
        size_t nd = leap_reader_dict_count(rd), cap = 64;
        while (cap < 2 * nd)
            cap *= 2;
        dm.mask = cap - 1;
        dm.key = calloc(cap, sizeof *dm.key);
        dm.off = malloc(cap * sizeof *dm.off);
        dm.len = malloc(cap * sizeof *dm.len);
        if (!dm.key || !dm.off || !dm.len) rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
        for (size_t i = 0; !rc && i < nd; i++) {
            size_t col, n;
            uint64_t h;
            const char *s;
            leap_reader_dict_at(rd, i, &col, &h, &s, &n);
            if (dict_put(&dm, col, h, s, n)) rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
        }
    }
    R.dm = &dm;
    R.rg = &rg;
    if (!rc) rc = make_bodies(&o, &R, bodies, body_off, n_bodies, err);
    free(dm.key);
    free(dm.off);
    free(dm.len);
    leap_buf_free(&dm.text);
    leap_rowgroup_free(&rg);
    leap_reader_close(rd);
    return rc;
}
