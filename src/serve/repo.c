/* repo.c — the model repository: DIR/NAME/VERSION/model.leap, a version
 * policy (latest N or pinned), loading and warm-up of new versions, an atomic
 * swap of the set served, and reference counting so a request finishes on the
 * version it started with.
 *
 * Concurrency: one short mutex guards the table of served versions. A request
 * takes it only to find a version and increment its count (no I/O, no
 * allocation inside). Loading, warming up and freeing happen on the reload
 * thread outside the lock: a swap holds the lock for a pointer exchange, and
 * a retired version is freed by leap_repo_collect once no request holds it,
 * never by a request thread (freeing a large model must not land on a
 * request's latency). Does not speak HTTP (server.c does). */
#define _GNU_SOURCE
#include "serve/serve_internal.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct leap_repo_version {
    atomic_long refs; /* requests holding it */
    struct repo_model *model;
    int64_t version;
    leap_bundle b;
    leap_serve_inputs in;
    leap_fz_binding bind;
    int64_t mtime_ns;
    int64_t size;
    double loaded_at;
};

typedef struct failed_version {
    int64_t version, mtime_ns, size;
    char why[256];
} failed_version;

typedef struct repo_model {
    char name[LEAP_NAME_MAX];
    leap_repo_version **live; /* [n_live] served versions, highest first; under r->lock */
    size_t n_live;
    failed_version *failed; /* reload thread only */
    size_t n_failed;
    int present; /* folder seen in the last scan */
    atomic_uint_fast64_t loads, load_failures;
    leap__req_stats stats;
} repo_model;

struct leap_repo {
    char *dir;
    int keep_latest;
    leap_repo_pin *pins;
    size_t n_pins;
    leap_log_fn log;
    void *log_user;
    pthread_mutex_t lock;   /* models[], every live[] */
    pthread_mutex_t reload; /* one reload cycle at a time */
    repo_model **models;
    size_t n_models, cap_models;
    leap_repo_version **retired; /* reload thread only (under reload) */
    size_t n_retired, cap_retired;
    leap_serve_scratch *scratch; /* warm-up */
    uint64_t loads, load_failures, freed, reloads;
};

static void logf_(leap_repo *r, leap_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void logf_(leap_repo *r, leap_log_level lvl, const char *fmt, ...) {
    if (!r->log) return;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->log(r->log_user, lvl, msg);
}

int leap_repo_create(const leap_repo_opts *o, leap_repo **out, leap_err *err) {
    *out = NULL;
    if (!o->dir || !o->dir[0]) return leap_err_set(err, LEAP_EINVAL, "model repository: no folder");
    if (o->keep_latest < 0 || o->keep_latest > 1000)
        return leap_err_set(err, LEAP_EINVAL, "model repository: keep_latest %d not in [1, 1000]",
                            o->keep_latest);
    struct stat st;
    if (stat(o->dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return leap_err_set(err, LEAP_ENOTFOUND, "model repository %s: %s", o->dir,
                            errno ? strerror(errno) : "not a folder");
    leap_repo *r = calloc(1, sizeof *r);
    if (!r) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    r->dir = strdup(o->dir);
    r->keep_latest = o->keep_latest ? o->keep_latest : 1;
    r->log = o->log;
    r->log_user = o->log_user;
    r->scratch = leap_serve_scratch_create();
    if (o->n_pins) {
        r->pins = malloc(o->n_pins * sizeof *r->pins);
        if (r->pins) memcpy(r->pins, o->pins, o->n_pins * sizeof *r->pins);
        r->n_pins = o->n_pins;
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->reload, NULL);
    if (!r->dir || !r->scratch || (o->n_pins && !r->pins)) {
        leap_repo_destroy(r);
        return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    }
    *out = r;
    return LEAP_OK;
}

static void version_free(leap_repo_version *v) {
    if (!v) return;
    leap_fz_binding_free(&v->bind);
    leap_serve_inputs_free(&v->in);
    leap_bundle_free(&v->b);
    free(v);
}

void leap_repo_destroy(leap_repo *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n_models; i++) {
        repo_model *m = r->models[i];
        for (size_t j = 0; j < m->n_live; j++)
            version_free(m->live[j]);
        free(m->live);
        free(m->failed);
        free(m);
    }
    for (size_t i = 0; i < r->n_retired; i++)
        version_free(r->retired[i]);
    free(r->retired);
    free(r->models);
    free(r->pins);
    free(r->dir);
    leap_serve_scratch_destroy(r->scratch);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->reload);
    free(r);
}

/* ---- acquire / release ---------------------------------------------------------- */
static repo_model *find_model(leap_repo *r, const char *name, size_t len) {
    if (len >= LEAP_NAME_MAX) return NULL;
    for (size_t i = 0; i < r->n_models; i++)
        if (!memcmp(r->models[i]->name, name, len) && r->models[i]->name[len] == 0)
            return r->models[i];
    return NULL;
}

leap_repo_version *leap_repo_acquire(leap_repo *r, const char *name, size_t len, int64_t version) {
    leap_repo_version *v = NULL;
    pthread_mutex_lock(&r->lock);
    repo_model *m = find_model(r, name, len);
    if (m && m->n_live) {
        if (version <= 0) {
            v = m->live[0];
        } else {
            for (size_t i = 0; i < m->n_live; i++)
                if (m->live[i]->version == version) v = m->live[i];
        }
        if (v) atomic_fetch_add(&v->refs, 1);
    }
    pthread_mutex_unlock(&r->lock);
    return v;
}

void leap_repo_release(leap_repo_version *v) {
    if (v) atomic_fetch_sub(&v->refs, 1);
}

int64_t leap_repo_version_number(const leap_repo_version *v) { return v->version; }
const char *leap_repo_version_model(const leap_repo_version *v) { return v->model->name; }
const leap_bundle *leap_repo_version_bundle(const leap_repo_version *v) { return &v->b; }
const leap_serve_inputs *leap_repo_version_inputs(const leap_repo_version *v) { return &v->in; }
const leap_fz_binding *leap__repo_version_binding(const leap_repo_version *v) { return &v->bind; }
leap__req_stats *leap__repo_version_stats(const leap_repo_version *v) { return &v->model->stats; }
leap_serve_scratch *leap__repo_scratch(leap_repo *r) { return r->scratch; }

/* ---- loading ----------------------------------------------------------------------- */
/* Runs every line of path (one request body each) through the serving code. */
static int warm_up(leap_repo *r, leap_repo_version *v, const char *path, size_t *n_req,
                   leap_err *err) {
    *n_req = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return LEAP_OK;
        return leap_err_set(err, LEAP_EIO, "%s: %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = LEAP_OK, line_no = 0;
    while (!rc && (n = getline(&line, &cap, f)) >= 0) {
        line_no++;
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
            len--;
        if (!len || line[0] == '#') continue;
        leap_serve_method m =
            memmem(line, len, "\"candidates\"", 12) ? LEAP_SERVE_RANK : LEAP_SERVE_PREDICT;
        const leap_buf *resp;
        leap_err e = {0};
        if (leap_serve_run(r->scratch, v, m, line, len, &resp, &e)) {
            rc = leap_err_set(err, LEAP_EINVAL, "warm-up %s:%d: %s", path, line_no, e.msg);
            break;
        }
        (*n_req)++;
    }
    if (!rc && ferror(f)) rc = leap_err_set(err, LEAP_EIO, "%s: read error", path);
    free(line);
    fclose(f);
    return rc;
}

static int load_version(leap_repo *r, repo_model *m, int64_t version, const char *vdir,
                        const struct stat *st, leap_repo_version **out, leap_err *err) {
    double t0 = leap_now();
    leap_repo_version *v = calloc(1, sizeof *v);
    if (!v) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    v->model = m;
    v->version = version;
    v->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    v->size = (int64_t)st->st_size;
    char path[4600];
    snprintf(path, sizeof path, "%s/model.leap", vdir);
    int rc = leap_bundle_load(path, &v->b, err);
    if (!rc) rc = leap_serve_inputs_init(&v->in, &v->b.fz, err);
    if (!rc) rc = leap_fz_bind(&v->b.fz, &v->in.schema, path, &v->bind, err);
    size_t n_warm = 0;
    if (!rc) {
        snprintf(path, sizeof path, "%s/warmup.jsonl", vdir);
        rc = warm_up(r, v, path, &n_warm, err);
    }
    if (rc) {
        version_free(v);
        return rc;
    }
    v->loaded_at = leap_now();
    logf_(r, LEAP_LOG_INFO, "model %s version %lld: loaded in %.3f s (%s, %zu warm-up requests)",
          m->name, (long long)version, v->loaded_at - t0, v->b.ops->name, n_warm);
    *out = v;
    return LEAP_OK;
}

/* ---- scanning -------------------------------------------------------------------- */
typedef struct found_version {
    int64_t version;
    struct stat st;
} found_version;

static int cmp_desc(const void *a, const void *b) {
    int64_t x = ((const found_version *)a)->version, y = ((const found_version *)b)->version;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int valid_name(const char *s) {
    size_t n = strlen(s);
    if (!n || n >= LEAP_NAME_MAX || s[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* Versions present under mdir (with a model.leap), highest first. */
static int scan_versions(const char *mdir, found_version **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(mdir);
    if (!d) return -1;
    size_t n = 0, cap = 0;
    found_version *fv = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t ver;
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || leap_parse_i64(e->d_name, &ver) || ver <= 0)
            continue;
        char path[4800];
        snprintf(path, sizeof path, "%s/%s/model.leap", mdir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            found_version *g = realloc(fv, cap * sizeof *g);
            if (!g) break;
            fv = g;
        }
        fv[n].version = ver;
        fv[n].st = st;
        n++;
    }
    closedir(d);
    if (n > 1) qsort(fv, n, sizeof *fv, cmp_desc); /* fv is NULL when n == 0: qsort's UB */
    *out = fv;
    *n_out = n;
    return 0;
}

static repo_model *get_model(leap_repo *r, const char *name) {
    repo_model *m = find_model(r, name, strlen(name));
    if (m) return m;
    m = calloc(1, sizeof *m);
    if (!m) return NULL;
    snprintf(m->name, sizeof m->name, "%s", name);
    pthread_mutex_lock(&r->lock);
    if (r->n_models == r->cap_models) {
        size_t cap = r->cap_models ? 2 * r->cap_models : 8;
        repo_model **g = realloc(r->models, cap * sizeof *g);
        if (!g) {
            pthread_mutex_unlock(&r->lock);
            free(m);
            return NULL;
        }
        r->models = g;
        r->cap_models = cap;
    }
    r->models[r->n_models++] = m;
    pthread_mutex_unlock(&r->lock);
    return m;
}

static const leap_repo_pin *pin_of(const leap_repo *r, const char *name) {
    for (size_t i = 0; i < r->n_pins; i++)
        if (!strcmp(r->pins[i].model, name)) return &r->pins[i];
    return NULL;
}

static failed_version *failure_of(repo_model *m, int64_t version) {
    for (size_t i = 0; i < m->n_failed; i++)
        if (m->failed[i].version == version) return &m->failed[i];
    return NULL;
}

static void note_failure(leap_repo *r, repo_model *m, const found_version *f, const char *why) {
    failed_version *fv = failure_of(m, f->version);
    if (!fv) {
        failed_version *g = realloc(m->failed, (m->n_failed + 1) * sizeof *g);
        if (!g) return;
        m->failed = g;
        fv = &m->failed[m->n_failed++];
    }
    fv->version = f->version;
    fv->mtime_ns = (int64_t)f->st.st_mtim.tv_sec * 1000000000 + f->st.st_mtim.tv_nsec;
    fv->size = (int64_t)f->st.st_size;
    snprintf(fv->why, sizeof fv->why, "%.255s", why);
    atomic_fetch_add(&m->load_failures, 1);
    r->load_failures++;
    logf_(r, LEAP_LOG_ERROR, "model %s version %lld refused: %s", m->name, (long long)f->version,
          why);
}

static int same_file(int64_t mtime_ns, int64_t size, const struct stat *st) {
    return mtime_ns == (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec &&
           size == (int64_t)st->st_size;
}

static leap_repo_version *live_version(repo_model *m, int64_t version) {
    for (size_t i = 0; i < m->n_live; i++)
        if (m->live[i]->version == version) return m->live[i];
    return NULL;
}

/* Decides, loads and swaps the versions of one model. */
static void reload_model(leap_repo *r, repo_model *m, const found_version *fv, size_t n) {
    const leap_repo_pin *pin = pin_of(r, m->name);
    size_t want = pin ? pin->n : (size_t)r->keep_latest;
    leap_repo_version **next = calloc(want ? want : 1, sizeof *next);
    if (!next) return;
    size_t k = 0;
    for (size_t i = 0; i < n && k < want; i++) {
        const found_version *f = &fv[i];
        if (pin) {
            int pinned = 0;
            for (size_t j = 0; j < pin->n; j++)
                pinned |= pin->versions[j] == f->version;
            if (!pinned) continue;
        }
        leap_repo_version *v = live_version(m, f->version);
        if (v) { /* versions are immutable once served */
            next[k++] = v;
            continue;
        }
        failed_version *bad = failure_of(m, f->version);
        if (bad && same_file(bad->mtime_ns, bad->size, &f->st)) continue;
        char vdir[4400];
        snprintf(vdir, sizeof vdir, "%s/%s/%lld", r->dir, m->name, (long long)f->version);
        leap_err err = {0};
        if (load_version(r, m, f->version, vdir, &f->st, &v, &err) == LEAP_OK) {
            next[k++] = v;
            atomic_fetch_add(&m->loads, 1);
            r->loads++;
        } else {
            note_failure(r, m, f, err.msg);
        }
    }
    /* keep the order highest first (pins may list versions in any order) */
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && next[j]->version > next[j - 1]->version; j--) {
            leap_repo_version *t = next[j];
            next[j] = next[j - 1];
            next[j - 1] = t;
        }
    int same = k == m->n_live;
    for (size_t i = 0; same && i < k; i++)
        same = next[i] == m->live[i];
    if (same) {
        free(next);
        return;
    }
    pthread_mutex_lock(&r->lock);
    leap_repo_version **old = m->live;
    size_t n_old = m->n_live;
    m->live = next;
    m->n_live = k;
    pthread_mutex_unlock(&r->lock);
    for (size_t i = 0; i < n_old; i++) {
        int kept = 0;
        for (size_t j = 0; j < k; j++)
            kept |= next[j] == old[i];
        if (kept) continue;
        if (r->n_retired == r->cap_retired) {
            size_t cap = r->cap_retired ? 2 * r->cap_retired : 8;
            leap_repo_version **g = realloc(r->retired, cap * sizeof *g);
            if (!g) continue; /* leaks one version rather than freeing it under a request */
            r->retired = g;
            r->cap_retired = cap;
        }
        r->retired[r->n_retired++] = old[i];
        logf_(r, LEAP_LOG_INFO, "model %s version %lld: retired", m->name,
              (long long)old[i]->version);
    }
    free(old);
    if (k)
        logf_(r, LEAP_LOG_INFO, "model %s: serving version %lld%s", m->name,
              (long long)next[0]->version, k > 1 ? " (latest of several)" : "");
    else
        logf_(r, LEAP_LOG_WARN, "model %s: no servable version", m->name);
}

int leap_repo_reload(leap_repo *r, leap_err *err) {
    pthread_mutex_lock(&r->reload);
    int rc = LEAP_OK;
    DIR *d = opendir(r->dir);
    if (!d) {
        rc = leap_err_set(err, LEAP_EIO, "model repository %s: %s", r->dir, strerror(errno));
        pthread_mutex_unlock(&r->reload);
        return rc;
    }
    for (size_t i = 0; i < r->n_models; i++)
        r->models[i]->present = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!valid_name(e->d_name)) continue;
        char mdir[4400];
        snprintf(mdir, sizeof mdir, "%s/%s", r->dir, e->d_name);
        struct stat st;
        if (stat(mdir, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        found_version *fv;
        size_t n;
        if (scan_versions(mdir, &fv, &n)) continue;
        repo_model *m =
            n || find_model(r, e->d_name, strlen(e->d_name)) ? get_model(r, e->d_name) : NULL;
        if (m) {
            m->present = 1;
            reload_model(r, m, fv, n);
        }
        free(fv);
    }
    closedir(d);
    for (size_t i = 0; i < r->n_models; i++)
        if (!r->models[i]->present && r->models[i]->n_live)
            reload_model(r, r->models[i], NULL, 0); /* folder gone: retire everything */
    r->reloads++;
    pthread_mutex_unlock(&r->reload);
    leap_repo_collect(r);
    return rc;
}

size_t leap_repo_collect(leap_repo *r) {
    pthread_mutex_lock(&r->reload);
    size_t k = 0, freed = 0;
    for (size_t i = 0; i < r->n_retired; i++) {
        leap_repo_version *v = r->retired[i];
        if (atomic_load(&v->refs) == 0) {
            logf_(r, LEAP_LOG_INFO, "model %s version %lld: freed", v->model->name,
                  (long long)v->version);
            version_free(v);
            freed++;
        } else {
            r->retired[k++] = v;
        }
    }
    r->n_retired = k;
    r->freed += freed;
    pthread_mutex_unlock(&r->reload);
    if (freed) malloc_trim(0); /* give the old version's pages back to the system */
    return k;
}

void leap_repo_get_stats(leap_repo *r, leap_repo_stats *st) {
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&r->reload);
    st->retired_waiting = r->n_retired;
    st->loads = r->loads;
    st->load_failures = r->load_failures;
    st->versions_freed = r->freed;
    st->reloads = r->reloads;
    pthread_mutex_lock(&r->lock);
    st->models = r->n_models;
    for (size_t i = 0; i < r->n_models; i++)
        st->versions_loaded += r->models[i]->n_live;
    pthread_mutex_unlock(&r->lock);
    pthread_mutex_unlock(&r->reload);
}

/* ---- status and metrics ------------------------------------------------------------ */
static int status_entry(leap_buf *out, int *first, int64_t version, const char *state,
                        const char *code, const char *msg) {
    int rc = leap__bprintf(out,
                           "%s{\"version\":\"%lld\",\"state\":\"%s\",\"status\":{\"error_code\":"
                           "\"%s\",\"error_message\":",
                           *first ? "" : ",", (long long)version, state, code);
    *first = 0;
    if (!rc) rc = leap__json_str(out, msg, strlen(msg));
    if (!rc) rc = leap__bprintf(out, "}}");
    return rc;
}

int leap__repo_status_json(leap_repo *r, const char *name, size_t len, int64_t version,
                           leap_buf *out) {
    /* the reload lock keeps failed[] still; the table lock keeps live[] */
    pthread_mutex_lock(&r->reload);
    pthread_mutex_lock(&r->lock);
    repo_model *m = find_model(r, name, len);
    int rc = m ? LEAP_OK : LEAP_ENOTFOUND, first = 1, any = 0;
    if (!rc) rc = leap__bprintf(out, "{\"model_version_status\":[");
    for (size_t i = 0; !rc && i < m->n_live; i++) {
        if (version > 0 && m->live[i]->version != version) continue;
        rc = status_entry(out, &first, m->live[i]->version, "AVAILABLE", "OK", "");
        any = 1;
    }
    for (size_t i = 0; !rc && i < m->n_failed; i++) {
        if (version > 0 && m->failed[i].version != version) continue;
        if (live_version(m, m->failed[i].version)) continue;
        rc = status_entry(out, &first, m->failed[i].version, "END", "UNKNOWN", m->failed[i].why);
        any = 1;
    }
    if (!rc) rc = leap__bprintf(out, "]}");
    if (!rc && !any && version > 0) rc = LEAP_ENOTFOUND;
    pthread_mutex_unlock(&r->lock);
    pthread_mutex_unlock(&r->reload);
    return rc;
}

int leap__repo_metrics(leap_repo *r, leap_buf *out) {
    pthread_mutex_lock(&r->lock);
    int rc =
        leap__bprintf(out, "# HELP leap_model_versions_loaded Versions of the model being served.\n"
                           "# TYPE leap_model_versions_loaded gauge\n");
    for (size_t i = 0; !rc && i < r->n_models; i++)
        rc = leap__bprintf(out, "leap_model_versions_loaded{model=\"%s\"} %zu\n",
                           r->models[i]->name, r->models[i]->n_live);
    if (!rc)
        rc = leap__bprintf(out,
                           "# HELP leap_model_latest_version Highest version served (0: none).\n"
                           "# TYPE leap_model_latest_version gauge\n");
    for (size_t i = 0; !rc && i < r->n_models; i++)
        rc =
            leap__bprintf(out, "leap_model_latest_version{model=\"%s\"} %lld\n", r->models[i]->name,
                          r->models[i]->n_live ? (long long)r->models[i]->live[0]->version : 0LL);
    if (!rc)
        rc = leap__bprintf(out, "# HELP leap_model_loads_total Versions loaded and warmed up.\n"
                                "# TYPE leap_model_loads_total counter\n");
    for (size_t i = 0; !rc && i < r->n_models; i++)
        rc = leap__bprintf(out, "leap_model_loads_total{model=\"%s\"} %llu\n", r->models[i]->name,
                           (unsigned long long)atomic_load(&r->models[i]->loads));
    if (!rc)
        rc = leap__bprintf(out, "# HELP leap_model_load_failures_total Versions refused: load or "
                                "warm-up failed.\n# TYPE leap_model_load_failures_total counter\n");
    for (size_t i = 0; !rc && i < r->n_models; i++)
        rc = leap__bprintf(out, "leap_model_load_failures_total{model=\"%s\"} %llu\n",
                           r->models[i]->name,
                           (unsigned long long)atomic_load(&r->models[i]->load_failures));
    pthread_mutex_unlock(&r->lock);
    return rc;
}

size_t leap__repo_stats_list(leap_repo *r, const char **names, leap__req_stats **stats,
                             size_t cap) {
    pthread_mutex_lock(&r->lock);
    size_t n = r->n_models < cap ? r->n_models : cap;
    for (size_t i = 0; i < n; i++) {
        names[i] = r->models[i]->name; /* entries live as long as the repository */
        stats[i] = &r->models[i]->stats;
    }
    pthread_mutex_unlock(&r->lock);
    return n;
}
