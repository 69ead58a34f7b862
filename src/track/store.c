/* store.c — the tracking store's front end: chooses the backend from the
 * URI, checks arguments, fills what every backend needs (host, pid, git
 * commit, time), and the helpers around runs (file hashes, cost). It holds
 * no SQL: that lives in the backend (store_sqlite.c). */
#define _GNU_SOURCE
#include "track/track_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

struct leap_track {
    const leap_track_backend *be;
    void *db;
    int batch_depth;
};

static const char *const run_status_names[] = {
#define LEAP_XX_RSN(name, text) text,
    LEAP_RUN_STATUS_MAP(LEAP_XX_RSN)
#undef LEAP_XX_RSN
};
_Static_assert(sizeof run_status_names / sizeof run_status_names[0] == LEAP_RUN_STATUS_COUNT,
               "run status table out of step");

const char *leap_run_status_name(leap_run_status s) {
    return (unsigned)s < LEAP_RUN_STATUS_COUNT ? run_status_names[s] : "unknown";
}

int leap_run_status_from_name(const char *name) {
    for (int i = 0; i < LEAP_RUN_STATUS_COUNT; i++)
        if (!strcmp(name, run_status_names[i])) return i;
    return -1;
}

const char *leap_track_default_uri(const char *explicit_uri) {
    if (explicit_uri && explicit_uri[0]) return explicit_uri;
    const char *e = getenv("LEAP_STORE");
    if (e && e[0]) return e;
    return LEAP_TRACK_DEFAULT_PATH;
}

int leap_track_open(const char *uri, int flags, leap_track **out, leap_err *err) {
    *out = NULL;
    if (!uri || !uri[0]) return leap_err_set(err, LEAP_EINVAL, "store: empty path");
    if (!strncmp(uri, "postgresql:", 11) || !strncmp(uri, "postgres:", 9))
        return leap_err_set(err, LEAP_EUNSUPPORTED,
                            "store '%s': the PostgreSQL backend is not built yet (SQLite only)",
                            uri);
    const char *path = !strncmp(uri, "sqlite:", 7) ? uri + 7 : uri;
    leap_track *t = calloc(1, sizeof *t);
    if (!t) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    t->be = &leap_track_sqlite;
    int rc = t->be->open(path, flags, &t->db, err);
    if (rc) {
        free(t);
        return rc;
    }
    *out = t;
    return LEAP_OK;
}

void leap_track_close(leap_track *t) {
    if (!t) return;
    if (t->batch_depth) t->be->rollback(t->db);
    t->be->close(t->db);
    free(t);
}

int leap_track_schema_version(leap_track *t) { return t->be->schema_version(t->db); }

/* Every write runs inside a transaction: the caller's batch, or its own. */
static int wbegin(leap_track *t, leap_err *err) {
    return t->batch_depth ? LEAP_OK : t->be->begin(t->db, err);
}
static int wend(leap_track *t, int rc, leap_err *err) {
    if (t->batch_depth) return rc;
    if (rc) {
        t->be->rollback(t->db);
        return rc;
    }
    return t->be->commit(t->db, err);
}

int leap_track_batch_begin(leap_track *t, leap_err *err) {
    if (t->batch_depth == 0) {
        int rc = t->be->begin(t->db, err);
        if (rc) return rc;
    }
    t->batch_depth++;
    return LEAP_OK;
}

int leap_track_batch_commit(leap_track *t, leap_err *err) {
    if (t->batch_depth == 0) return leap_err_set(err, LEAP_EINVAL, "store: no batch open");
    if (--t->batch_depth) return LEAP_OK;
    return t->be->commit(t->db, err);
}

static double unix_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *leap__host_name(void) {
    static char host[256];
    if (!host[0] && gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "?");
    return host;
}

int leap_track_run_begin(leap_track *t, const leap_run_start *s, int64_t *run, leap_err *err) {
    if (!s->name || !s->kind) return leap_err_set(err, LEAP_EINVAL, "run: name and kind required");
    char git[64] = "";
    if (!s->git_commit) leap__git_commit(git, sizeof git);
    int rc = wbegin(t, err);
    if (!rc)
        rc = t->be->run_begin(t->db, s, leap__host_name(), (int64_t)getpid(),
                              s->git_commit ? s->git_commit : git, run, err);
    return wend(t, rc, err);
}

int leap_track_run_end(leap_track *t, int64_t run, leap_run_status st, const leap_run_cost *cost,
                       leap_err *err) {
    if ((unsigned)st >= LEAP_RUN_STATUS_COUNT)
        return leap_err_set(err, LEAP_EINVAL, "run %lld: bad status", (long long)run);
    int rc = wbegin(t, err);
    if (!rc) rc = t->be->run_end(t->db, run, st, cost, err);
    return wend(t, rc, err);
}

static int put_kv(leap_track *t, int table, int64_t run, const leap_kv *kv, size_t n,
                  leap_err *err) {
    for (size_t i = 0; i < n; i++)
        if (!kv[i].key || !kv[i].key[0] || !kv[i].value)
            return leap_err_set(err, LEAP_EINVAL, "run %lld: empty key or value at %zu",
                                (long long)run, i);
    if (n == 0) return LEAP_OK;
    int rc = wbegin(t, err);
    if (!rc) rc = t->be->put_kv(t->db, table, run, kv, n, err);
    return wend(t, rc, err);
}

int leap_track_log_params(leap_track *t, int64_t run, const leap_kv *kv, size_t n, leap_err *err) {
    return put_kv(t, LEAP_KV_PARAMS, run, kv, n, err);
}

int leap_track_set_tags(leap_track *t, int64_t run, const leap_kv *kv, size_t n, leap_err *err) {
    return put_kv(t, LEAP_KV_TAGS, run, kv, n, err);
}

int leap_track_log_metrics(leap_track *t, int64_t run, const leap_metric_point *pts, size_t n,
                           leap_err *err) {
    for (size_t i = 0; i < n; i++)
        if (!pts[i].key || !pts[i].key[0])
            return leap_err_set(err, LEAP_EINVAL, "run %lld: metric %zu has no key", (long long)run,
                                i);
    if (n == 0) return LEAP_OK;
    int rc = wbegin(t, err);
    if (!rc) rc = t->be->put_metrics(t->db, run, pts, n, unix_now(), err);
    return wend(t, rc, err);
}

int leap_track_log_artifacts(leap_track *t, int64_t run, const leap_artifact *a, size_t n,
                             leap_err *err) {
    for (size_t i = 0; i < n; i++)
        if (!a[i].path || !a[i].path[0])
            return leap_err_set(err, LEAP_EINVAL, "run %lld: artifact %zu has no path",
                                (long long)run, i);
    if (n == 0) return LEAP_OK;
    int rc = wbegin(t, err);
    if (!rc) rc = t->be->put_artifacts(t->db, run, a, n, unix_now(), err);
    return wend(t, rc, err);
}

int leap_track_reap(leap_track *t, size_t *n_reaped, leap_err *err) {
    size_t n = 0;
    int rc = wbegin(t, err);
    if (!rc) rc = t->be->reap(t->db, leap__host_name(), &n, err);
    rc = wend(t, rc, err);
    if (n_reaped) *n_reaped = rc ? 0 : n;
    return rc;
}

int leap_track_find_by_key(leap_track *t, const char *step_key, int64_t *runs, size_t max,
                           size_t *n, leap_err *err) {
    return t->be->find_by_key(t->db, step_key, runs, max, n, err);
}

int leap_track_run_get(leap_track *t, int64_t id, leap_run_detail *d, leap_err *err) {
    memset(d, 0, sizeof *d);
    return t->be->run_get(t->db, id, d, err);
}

int leap_track_last_run(leap_track *t, int64_t *id, leap_err *err) {
    return t->be->last_run(t->db, id, err);
}

int leap_track_metric_history(leap_track *t, int64_t run, const char *key, leap_metric_point **pts,
                              size_t *n, leap_err *err) {
    return t->be->history(t->db, run, key, pts, n, err);
}

int leap_track_query(leap_track *t, const leap_run_query *q, leap_run_list *out, leap_err *err) {
    memset(out, 0, sizeof *out);
    if (q->sort) {
        int rc = leap_track_sort_check(q->sort, err);
        if (rc) return rc;
    }
    return t->be->query(t->db, q, out, err);
}

int leap_track_artifact_find(leap_track *t, const char *path_or_hash, leap_artifact_rec **out,
                             size_t *n, leap_err *err) {
    *out = NULL;
    *n = 0;
    int rc = t->be->artifact_find(t->db, path_or_hash, NULL, out, n, err);
    if (rc || *n) return rc;
    char real[PATH_MAX];
    if (realpath(path_or_hash, real)) {
        char cwd[PATH_MAX];
        const char *rel = real;
        size_t cl;
        if (getcwd(cwd, sizeof cwd) && (cl = strlen(cwd)) && !strncmp(real, cwd, cl) &&
            real[cl] == '/')
            rel = real + cl + 1;
        rc = t->be->artifact_find(t->db, rel, NULL, out, n, err);
        if (rc || *n) return rc;
        if (rel != real) rc = t->be->artifact_find(t->db, real, NULL, out, n, err);
        if (rc || *n) return rc;
    }
    size_t hl = strlen(path_or_hash);
    if (hl >= 4 && hl <= 16 && strspn(path_or_hash, "0123456789abcdef") == hl)
        return t->be->artifact_find(t->db, NULL, path_or_hash, out, n, err);
    return LEAP_OK;
}

int leap_track_producer(leap_track *t, uint64_t hash, int64_t *run, leap_err *err) {
    return t->be->producer(t->db, hash, run, err);
}

/* ---- string pool ------------------------------------------------------------ */
struct spool_chunk {
    struct spool_chunk *next;
    size_t used, cap;
    char data[];
};

char *leap__spool_dup(spool *p, const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    struct spool_chunk *c = p->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = p->head;
        c->used = 0;
        c->cap = cap;
        p->head = c;
    }
    char *d = c->data + c->used;
    memcpy(d, s, n);
    c->used += n;
    return d;
}

void leap__spool_free(spool *p) {
    while (p->head) {
        struct spool_chunk *n = p->head->next;
        free(p->head);
        p->head = n;
    }
}

void leap_run_detail_free(leap_run_detail *d) {
    free(d->params);
    free(d->tags);
    free(d->metrics);
    free(d->artifacts);
    free(d->children);
    if (d->priv_) {
        leap__spool_free(d->priv_);
        free(d->priv_);
    }
    memset(d, 0, sizeof *d);
}

void leap_run_list_free(leap_run_list *l) {
    free(l->runs);
    free(l->metrics);
    if (l->priv_) {
        leap__spool_free(l->priv_);
        free(l->priv_);
    }
    memset(l, 0, sizeof *l);
}

void leap_artifact_recs_free(leap_artifact_rec *a, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(a[i].path);
        free(a[i].role);
    }
    free(a);
}

/* ---- files ------------------------------------------------------------------------ */
int leap_file_hash(const char *path, uint64_t *hash, uint64_t *size, leap_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return leap_err_set(err, LEAP_EIO, "%s: cannot open: %s", path, strerror(errno));
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    static _Thread_local unsigned char buf[1 << 16];
    uint64_t total = 0;
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        XXH3_64bits_update(&st, buf, got);
        total += got;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) return leap_err_set(err, LEAP_EIO, "%s: read error", path);
    *hash = XXH3_64bits_digest(&st);
    if (size) *size = total;
    return LEAP_OK;
}

/* ---- cost ---------------------------------------------------------------------------- */
double leap_cost_price(const leap_price *p, const leap_run_cost *c) {
    double gb = (double)c->peak_rss / 1e9;
    return c->cpu_s * p->cpu_hour / 3600.0 + gb * c->wall_s * p->gb_hour / 3600.0;
}

const char *leap_cost_stage(const char *kind) {
    static const char *const features[] = {"datagen",  "ingest",    "split",
                                           "sample",   "stats",     "schema",
                                           "validate", "transform", "transform_fit"};
    for (size_t i = 0; i < sizeof features / sizeof features[0]; i++)
        if (!strcmp(kind, features[i])) return "features";
    if (!strcmp(kind, "train")) return "training";
    if (!strcmp(kind, "eval")) return "evaluation";
    return "other";
}

/* ---- git commit of the working folder ------------------------------------------------ */
/* Reads the first line of path into buf without the newline; 0 on success. */
static int read_line(const char *path, char *buf, size_t len) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    if (!ok) return -1;
    buf[strcspn(buf, "\r\n")] = 0;
    return 0;
}

static int is_hex40(const char *s) {
    return strlen(s) >= 40 && strspn(s, "0123456789abcdef") >= 40;
}

/* Resolves ref (e.g. "refs/heads/main") in the git folders: loose ref in
 * gitdir or the common dir, then packed-refs. */
static int resolve_ref(const char *gitdir, const char *common, const char *ref, char *out,
                       size_t len) {
    char p[17100], line[4200];
    const char *dirs[2] = {gitdir, common};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", dirs[i], ref);
        if (read_line(p, line, sizeof line) == 0 && is_hex40(line)) {
            snprintf(out, len, "%.40s", line);
            return 0;
        }
    }
    snprintf(p, sizeof p, "%s/packed-refs", common);
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    size_t rl = strlen(ref);
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (is_hex40(line) && line[40] == ' ' && strlen(line + 41) == rl &&
            !strcmp(line + 41, ref)) {
            snprintf(out, len, "%.40s", line);
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

void leap__git_commit(char *buf, size_t len) {
    buf[0] = 0;
    char dir[4096], gitdir[8400], common[16900], line[4096];
    if (!getcwd(dir, sizeof dir)) return;
    for (;;) {
        struct stat st;
        snprintf(gitdir, sizeof gitdir, "%s/.git", dir);
        if (stat(gitdir, &st) == 0) {
            if (S_ISREG(st.st_mode)) { /* worktree: "gitdir: PATH" */
                if (read_line(gitdir, line, sizeof line) || strncmp(line, "gitdir: ", 8)) return;
                if (line[8] == '/')
                    snprintf(gitdir, sizeof gitdir, "%s", line + 8);
                else
                    snprintf(gitdir, sizeof gitdir, "%s/%s", dir, line + 8);
            }
            break;
        }
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir) return;
        *slash = 0;
    }
    snprintf(common, sizeof common, "%s/commondir", gitdir);
    if (read_line(common, line, sizeof line) == 0) {
        if (line[0] == '/')
            snprintf(common, sizeof common, "%s", line);
        else
            snprintf(common, sizeof common, "%s/%s", gitdir, line);
    } else {
        snprintf(common, sizeof common, "%s", gitdir);
    }
    char head[8500];
    snprintf(head, sizeof head, "%s/HEAD", gitdir);
    if (read_line(head, line, sizeof line)) return;
    if (is_hex40(line)) {
        snprintf(buf, len, "%.40s", line);
        return;
    }
    if (strncmp(line, "ref: ", 5)) return;
    char ref[4096];
    snprintf(ref, sizeof ref, "%s", line + 5);
    resolve_ref(gitdir, common, ref, buf, len);
}
