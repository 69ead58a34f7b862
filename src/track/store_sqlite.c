/* store_sqlite.c — the SQLite backend of the tracking store.
 *
 * One database file in WAL mode (readers never block the writer), a busy
 * timeout so that concurrent writer processes wait for each other instead of
 * failing, IMMEDIATE write transactions (no lock upgrades, hence no
 * deadlocks), STRICT tables, and versioned migrations: the table
 * schema_version holds the version, and migrations[v] takes a store from
 * version v to v + 1 inside the same transaction that records it. Every
 * statement is prepared once per connection and reused. User text only ever
 * reaches SQLite as bound values. */
#define _GNU_SOURCE
#include "track/track_internal.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- migrations --------------------------------------------------------------- */
/* Version 1: the tables. */
static const char mig_1[] =
    "CREATE TABLE experiments(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " created REAL NOT NULL) STRICT;"
    "CREATE TABLE runs(id INTEGER PRIMARY KEY,"
    " experiment_id INTEGER NOT NULL REFERENCES experiments(id),"
    " parent_id INTEGER REFERENCES runs(id), name TEXT NOT NULL, kind TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK(status IN ('running','finished','failed','killed','cached')),"
    " start_time REAL NOT NULL, end_time REAL, host TEXT NOT NULL, pid INTEGER NOT NULL,"
    " leap_version TEXT NOT NULL, git_commit TEXT, step_key TEXT) STRICT;"
    "CREATE INDEX runs_parent ON runs(parent_id);"
    "CREATE INDEX runs_key ON runs(step_key, status);"
    "CREATE INDEX runs_status ON runs(status, host);"
    "CREATE TABLE params(run_id INTEGER NOT NULL REFERENCES runs(id), key TEXT NOT NULL,"
    " value TEXT NOT NULL, PRIMARY KEY(run_id, key)) STRICT, WITHOUT ROWID;"
    "CREATE TABLE tags(run_id INTEGER NOT NULL REFERENCES runs(id), key TEXT NOT NULL,"
    " value TEXT NOT NULL, PRIMARY KEY(run_id, key)) STRICT, WITHOUT ROWID;"
    "CREATE TABLE metrics(run_id INTEGER NOT NULL REFERENCES runs(id), key TEXT NOT NULL,"
    " value REAL, step INTEGER NOT NULL, time REAL NOT NULL) STRICT;"
    "CREATE INDEX metrics_run_key ON metrics(run_id, key, step);"
    "CREATE TABLE artifacts(id INTEGER PRIMARY KEY, path TEXT NOT NULL, hash INTEGER NOT NULL,"
    " size INTEGER NOT NULL, created REAL NOT NULL, UNIQUE(path, hash)) STRICT;"
    "CREATE INDEX artifacts_hash ON artifacts(hash);"
    "CREATE TABLE lineage(run_id INTEGER NOT NULL REFERENCES runs(id),"
    " artifact_id INTEGER NOT NULL REFERENCES artifacts(id),"
    " direction TEXT NOT NULL CHECK(direction IN ('in','out')), role TEXT NOT NULL,"
    " PRIMARY KEY(run_id, artifact_id, direction, role)) STRICT;"
    "CREATE INDEX lineage_artifact ON lineage(artifact_id, direction);";

/* Version 2: what each run cost. */
static const char mig_2[] = "ALTER TABLE runs ADD COLUMN wall_s REAL;"
                            "ALTER TABLE runs ADD COLUMN cpu_s REAL;"
                            "ALTER TABLE runs ADD COLUMN peak_rss INTEGER;"
                            "ALTER TABLE runs ADD COLUMN read_bytes INTEGER;"
                            "ALTER TABLE runs ADD COLUMN write_bytes INTEGER;"
                            "ALTER TABLE runs ADD COLUMN cost REAL;";

/* migrations[v] takes a store from version v to v + 1. */
static const char *const migrations[] = {mig_1, mig_2};
_Static_assert(sizeof migrations / sizeof migrations[0] == LEAP_TRACK_SCHEMA_VERSION,
               "one migration per schema version");

/* ---- connection ------------------------------------------------------------------ */
enum {
    ST_EXP_INS,
    ST_EXP_GET,
    ST_RUN_INS,
    ST_RUN_END,
    ST_PARAM,
    ST_TAG,
    ST_METRIC,
    ST_ART,
    ST_EDGE,
    ST_COUNT
};
static const char *const stmt_sql[ST_COUNT] = {
    "INSERT INTO experiments(name, created) VALUES(?1, ?2) ON CONFLICT(name) DO NOTHING",
    "SELECT id FROM experiments WHERE name = ?1",
    "INSERT INTO runs(experiment_id, parent_id, name, kind, status, start_time, host, pid,"
    " leap_version, git_commit, step_key) VALUES(?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7, ?8, ?9,"
    " ?10)",
    "UPDATE runs SET status = ?2, end_time = ?3, wall_s = ?4, cpu_s = ?5, peak_rss = ?6,"
    " read_bytes = ?7, write_bytes = ?8, cost = ?9 WHERE id = ?1",
    "INSERT INTO params(run_id, key, value) VALUES(?1, ?2, ?3)"
    " ON CONFLICT(run_id, key) DO UPDATE SET value = excluded.value",
    "INSERT INTO tags(run_id, key, value) VALUES(?1, ?2, ?3)"
    " ON CONFLICT(run_id, key) DO UPDATE SET value = excluded.value",
    "INSERT INTO metrics(run_id, key, value, step, time) VALUES(?1, ?2, ?3, ?4, ?5)",
    "INSERT INTO artifacts(path, hash, size, created) VALUES(?1, ?2, ?3, ?4)"
    " ON CONFLICT(path, hash) DO UPDATE SET size = excluded.size RETURNING id",
    "INSERT OR IGNORE INTO lineage(run_id, artifact_id, direction, role) VALUES(?1, ?2, ?3, ?4)",
};

typedef struct sq {
    sqlite3 *db;
    char path[1024];
    int version;
    sqlite3_stmt *st[ST_COUNT];
} sq;

static int sq_fail(sq *s, leap_err *err, const char *what) {
    return leap_err_set(err, LEAP_EIO, "store %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int exec(sq *s, const char *sql, leap_err *err) {
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        leap_err_set(err, LEAP_EIO, "store %s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return LEAP_EIO;
    }
    return LEAP_OK;
}

static int stmt(sq *s, int which, sqlite3_stmt **out, leap_err *err) {
    if (!s->st[which] && sqlite3_prepare_v3(s->db, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                                            &s->st[which], NULL) != SQLITE_OK)
        return sq_fail(s, err, "prepare");
    sqlite3_reset(s->st[which]);
    sqlite3_clear_bindings(s->st[which]);
    *out = s->st[which];
    return LEAP_OK;
}

static int read_version(sq *s, int *v, leap_err *err) {
    sqlite3_stmt *q = NULL;
    *v = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
                           "'schema_version'",
                           -1, &q, NULL) != SQLITE_OK)
        return sq_fail(s, err, "read schema");
    int have = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) > 0;
    sqlite3_finalize(q);
    if (!have) return LEAP_OK;
    if (sqlite3_prepare_v2(s->db, "SELECT version FROM schema_version", -1, &q, NULL) != SQLITE_OK)
        return sq_fail(s, err, "read schema version");
    if (sqlite3_step(q) == SQLITE_ROW) *v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return LEAP_OK;
}

/* Brings the schema to LEAP_TRACK_SCHEMA_VERSION, each step in the one
 * IMMEDIATE transaction that also records the new version: concurrent
 * openers wait for each other and migrate once. */
static int migrate(sq *s, leap_err *err) {
    int v, rc = read_version(s, &v, err);
    if (rc) return rc;
    if (v > LEAP_TRACK_SCHEMA_VERSION)
        return leap_err_set(err, LEAP_EVERSION,
                            "store %s: schema version %d is newer than this leap understands (%d); "
                            "upgrade leap",
                            s->path, v, LEAP_TRACK_SCHEMA_VERSION);
    if (v == LEAP_TRACK_SCHEMA_VERSION) {
        s->version = v;
        return LEAP_OK;
    }
    if ((rc = exec(s, "BEGIN IMMEDIATE", err))) return rc;
    if ((rc = read_version(s, &v, err))) goto fail;
    if (v == 0 && (rc = exec(s,
                             "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT "
                             "NULL) STRICT; DELETE FROM schema_version;"
                             "INSERT INTO schema_version VALUES(0);",
                             err)))
        goto fail;
    for (; v < LEAP_TRACK_SCHEMA_VERSION; v++) {
        if ((rc = exec(s, migrations[v], err))) goto fail;
        char up[80];
        snprintf(up, sizeof up, "UPDATE schema_version SET version = %d", v + 1);
        if ((rc = exec(s, up, err))) goto fail;
    }
    if ((rc = exec(s, "COMMIT", err))) goto fail;
    s->version = v;
    return LEAP_OK;
fail:
    exec(s, "ROLLBACK", NULL);
    return rc;
}

/* Test aid: opens the store at path and migrates it only up to version
 * `upto` (leap__track_sqlite_open_at). */
int leap__track_sqlite_migrate_to(const char *path, int upto, leap_err *err);

static void sq_close(void *db) {
    sq *s = db;
    if (!s) return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s);
}

static int sq_open_raw(const char *path, int flags, sq **out, leap_err *err) {
    *out = NULL;
    struct stat st;
    if (!(flags & LEAP_TRACK_CREATE) && stat(path, &st) != 0)
        return leap_err_set(err, LEAP_ENOTFOUND,
                            "no tracking store at %s (run a pipeline, or pass --store PATH)", path);
    sq *s = calloc(1, sizeof *s);
    if (!s) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    snprintf(s->path, sizeof s->path, "%s", path);
    int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                 ((flags & LEAP_TRACK_CREATE) ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &s->db, oflags, NULL) != SQLITE_OK) {
        int rc = leap_err_set(err, LEAP_EIO, "store %s: cannot open: %s", path,
                              s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sq_close(s);
        return rc;
    }
    sqlite3_busy_timeout(s->db, 60000);
    sqlite3_extended_result_codes(s->db, 1);
    /* Switching a new file to WAL takes an exclusive lock that the busy
     * handler does not always wait for: retry while other openers hold it. */
    int rc = LEAP_OK;
    for (int tries = 0;; tries++) {
        rc = exec(s,
                  "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                  "PRAGMA foreign_keys = ON;",
                  err);
        int code = sqlite3_errcode(s->db) & 0xff;
        if (!rc || tries >= 200 || (code != SQLITE_BUSY && code != SQLITE_LOCKED)) break;
        usleep(10000);
    }
    if (rc) {
        sq_close(s);
        return rc;
    }
    *out = s;
    return LEAP_OK;
}

static int sq_open(const char *path, int flags, void **db, leap_err *err) {
    sq *s;
    int rc = sq_open_raw(path, flags, &s, err);
    if (rc) return rc;
    if ((rc = migrate(s, err))) {
        sq_close(s);
        return rc;
    }
    *db = s;
    return LEAP_OK;
}

int leap__track_sqlite_migrate_to(const char *path, int upto, leap_err *err) {
    sq *s;
    int rc = sq_open_raw(path, LEAP_TRACK_CREATE, &s, err);
    if (rc) return rc;
    int v;
    if (!(rc = read_version(s, &v, err)) && !(rc = exec(s, "BEGIN IMMEDIATE", err))) {
        if (v == 0)
            rc = exec(s,
                      "CREATE TABLE schema_version(version INTEGER NOT NULL) STRICT;"
                      "INSERT INTO schema_version VALUES(0);",
                      err);
        for (; !rc && v < upto && v < LEAP_TRACK_SCHEMA_VERSION; v++) {
            char up[80];
            snprintf(up, sizeof up, "UPDATE schema_version SET version = %d", v + 1);
            if (!(rc = exec(s, migrations[v], err))) rc = exec(s, up, err);
        }
        rc = rc ? (exec(s, "ROLLBACK", NULL), rc) : exec(s, "COMMIT", err);
    }
    sq_close(s);
    return rc;
}

static int sq_schema_version(void *db) { return ((sq *)db)->version; }

static int sq_begin(void *db, leap_err *err) { return exec(db, "BEGIN IMMEDIATE", err); }
static int sq_commit(void *db, leap_err *err) {
    int rc = exec(db, "COMMIT", err);
    if (rc) exec(db, "ROLLBACK", NULL);
    return rc;
}
static void sq_rollback(void *db) { exec(db, "ROLLBACK", NULL); }

static double unix_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void bind_text(sqlite3_stmt *q, int i, const char *s) {
    if (s)
        sqlite3_bind_text(q, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, i);
}

static int step_done(sq *s, sqlite3_stmt *q, leap_err *err, const char *what) {
    int rc = sqlite3_step(q);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        int r = sq_fail(s, err, what);
        sqlite3_reset(q);
        return r;
    }
    sqlite3_reset(q);
    return LEAP_OK;
}

static int sq_run_begin(void *db, const leap_run_start *rs, const char *host, int64_t pid,
                        const char *git, int64_t *run, leap_err *err) {
    sq *s = db;
    sqlite3_stmt *q = NULL;
    const char *exp = rs->experiment && rs->experiment[0] ? rs->experiment : "default";
    double now = unix_now();
    int rc;
    if ((rc = stmt(s, ST_EXP_INS, &q, err))) return rc;
    bind_text(q, 1, exp);
    sqlite3_bind_double(q, 2, now);
    if ((rc = step_done(s, q, err, "add experiment"))) return rc;
    if ((rc = stmt(s, ST_EXP_GET, &q, err))) return rc;
    bind_text(q, 1, exp);
    if (sqlite3_step(q) != SQLITE_ROW) return sq_fail(s, err, "find experiment");
    int64_t exp_id = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    if ((rc = stmt(s, ST_RUN_INS, &q, err))) return rc;
    sqlite3_bind_int64(q, 1, exp_id);
    if (rs->parent > 0)
        sqlite3_bind_int64(q, 2, rs->parent);
    else
        sqlite3_bind_null(q, 2);
    bind_text(q, 3, rs->name);
    bind_text(q, 4, rs->kind);
    sqlite3_bind_double(q, 5, now);
    bind_text(q, 6, host);
    sqlite3_bind_int64(q, 7, pid);
    bind_text(q, 8, LEAP_VERSION);
    bind_text(q, 9, git && git[0] ? git : NULL);
    bind_text(q, 10, rs->step_key);
    if ((rc = step_done(s, q, err, "add run"))) return rc;
    *run = sqlite3_last_insert_rowid(s->db);
    return LEAP_OK;
}

static int sq_run_end(void *db, int64_t run, leap_run_status st, const leap_run_cost *c,
                      leap_err *err) {
    sq *s = db;
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_RUN_END, &q, err);
    if (rc) return rc;
    sqlite3_bind_int64(q, 1, run);
    bind_text(q, 2, leap_run_status_name(st));
    if (st == LEAP_RUN_RUNNING)
        sqlite3_bind_null(q, 3);
    else
        sqlite3_bind_double(q, 3, unix_now());
    if (c) {
        sqlite3_bind_double(q, 4, c->wall_s);
        sqlite3_bind_double(q, 5, c->cpu_s);
        sqlite3_bind_int64(q, 6, (int64_t)c->peak_rss);
        sqlite3_bind_int64(q, 7, (int64_t)c->read_bytes);
        sqlite3_bind_int64(q, 8, (int64_t)c->write_bytes);
        sqlite3_bind_double(q, 9, c->cost);
    }
    if ((rc = step_done(s, q, err, "end run"))) return rc;
    if (sqlite3_changes(s->db) != 1)
        return leap_err_set(err, LEAP_ENOTFOUND, "store %s: no run %lld", s->path, (long long)run);
    return LEAP_OK;
}

static int sq_put_kv(void *db, int table, int64_t run, const leap_kv *kv, size_t n, leap_err *err) {
    sq *s = db;
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, table == LEAP_KV_TAGS ? ST_TAG : ST_PARAM, &q, err);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(q, 1, run);
        bind_text(q, 2, kv[i].key);
        bind_text(q, 3, kv[i].value);
        if ((rc = step_done(s, q, err, table == LEAP_KV_TAGS ? "set tag" : "log param"))) return rc;
    }
    return LEAP_OK;
}

static int sq_put_metrics(void *db, int64_t run, const leap_metric_point *p, size_t n, double now,
                          leap_err *err) {
    sq *s = db;
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_METRIC, &q, err);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(q, 1, run);
        sqlite3_bind_text(q, 2, p[i].key, -1, SQLITE_STATIC);
        if (isfinite(p[i].value))
            sqlite3_bind_double(q, 3, p[i].value);
        else
            sqlite3_bind_null(q, 3); /* NaN: "not defined" (AUC of one class) */
        sqlite3_bind_int64(q, 4, p[i].step);
        sqlite3_bind_double(q, 5, p[i].time > 0 ? p[i].time : now);
        if (sqlite3_step(q) != SQLITE_DONE) {
            rc = sq_fail(s, err, "log metric");
            sqlite3_reset(q);
            return rc;
        }
        sqlite3_reset(q);
    }
    return LEAP_OK;
}

static int sq_put_artifacts(void *db, int64_t run, const leap_artifact *a, size_t n, double now,
                            leap_err *err) {
    sq *s = db;
    sqlite3_stmt *qa = NULL, *qe = NULL;
    int rc;
    for (size_t i = 0; i < n; i++) {
        if ((rc = stmt(s, ST_ART, &qa, err))) return rc;
        bind_text(qa, 1, a[i].path);
        sqlite3_bind_int64(qa, 2, (int64_t)a[i].hash);
        sqlite3_bind_int64(qa, 3, (int64_t)a[i].size);
        sqlite3_bind_double(qa, 4, now);
        if (sqlite3_step(qa) != SQLITE_ROW) {
            rc = sq_fail(s, err, "add artifact");
            sqlite3_reset(qa);
            return rc;
        }
        int64_t id = sqlite3_column_int64(qa, 0);
        sqlite3_reset(qa);
        if ((rc = stmt(s, ST_EDGE, &qe, err))) return rc;
        sqlite3_bind_int64(qe, 1, run);
        sqlite3_bind_int64(qe, 2, id);
        bind_text(qe, 3, a[i].dir == LEAP_ART_IN ? "in" : "out");
        bind_text(qe, 4, a[i].role ? a[i].role : "");
        if ((rc = step_done(s, qe, err, "add lineage"))) return rc;
    }
    return LEAP_OK;
}

static int sq_reap(void *db, const char *host, size_t *n, leap_err *err) {
    sq *s = db;
    sqlite3_stmt *q, *u;
    *n = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT id, pid FROM runs WHERE status = 'running' AND host = ?1",
                           -1, &q, NULL) != SQLITE_OK)
        return sq_fail(s, err, "reap");
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE runs SET status = 'killed', end_time = ?2 WHERE id = ?1 AND "
                           "status = 'running'",
                           -1, &u, NULL) != SQLITE_OK) {
        sqlite3_finalize(q);
        return sq_fail(s, err, "reap");
    }
    bind_text(q, 1, host);
    int rc = LEAP_OK, r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t pid = sqlite3_column_int64(q, 1);
        if (pid <= 0 || pid == (int64_t)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive (or not ours) */
        sqlite3_bind_int64(u, 1, sqlite3_column_int64(q, 0));
        sqlite3_bind_double(u, 2, unix_now());
        if ((rc = step_done(s, u, err, "reap"))) break;
        (*n)++;
    }
    if (!rc && r != SQLITE_DONE && r != SQLITE_ROW) rc = sq_fail(s, err, "reap");
    sqlite3_finalize(q);
    sqlite3_finalize(u);
    return rc;
}

static int sq_find_by_key(void *db, const char *key, int64_t *runs, size_t max, size_t *n,
                          leap_err *err) {
    sq *s = db;
    sqlite3_stmt *q = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id FROM runs WHERE step_key = ?1 AND status = 'finished' "
                           "ORDER BY id DESC LIMIT ?2",
                           -1, &q, NULL) != SQLITE_OK)
        return sq_fail(s, err, "find step");
    bind_text(q, 1, key);
    sqlite3_bind_int64(q, 2, (int64_t)max);
    while (sqlite3_step(q) == SQLITE_ROW && *n < max)
        runs[(*n)++] = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return LEAP_OK;
}

/* ---- reading --------------------------------------------------------------------- */
#define RUN_COLS                                                                                   \
    "r.id, r.parent_id, e.name, r.name, r.kind, r.status, r.start_time, r.end_time, r.host,"       \
    " r.pid, r.leap_version, r.git_commit, r.step_key, r.wall_s, r.cpu_s, r.peak_rss,"             \
    " r.read_bytes, r.write_bytes, r.cost"
enum { N_RUN_COLS = 19 };

static char *col_dup(spool *p, sqlite3_stmt *q, int i) {
    const unsigned char *t = sqlite3_column_text(q, i);
    return t ? leap__spool_dup(p, (const char *)t) : NULL;
}

static void read_run(sqlite3_stmt *q, spool *p, leap_run_rec *r) {
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(q, 0);
    r->parent = sqlite3_column_int64(q, 1);
    r->experiment = col_dup(p, q, 2);
    r->name = col_dup(p, q, 3);
    r->kind = col_dup(p, q, 4);
    const char *st = (const char *)sqlite3_column_text(q, 5);
    int si = st ? leap_run_status_from_name(st) : -1;
    r->status = si < 0 ? LEAP_RUN_FAILED : (leap_run_status)si;
    r->start_time = sqlite3_column_double(q, 6);
    r->end_time = sqlite3_column_double(q, 7);
    r->host = col_dup(p, q, 8);
    r->pid = sqlite3_column_int64(q, 9);
    r->leap_version = col_dup(p, q, 10);
    r->git_commit = col_dup(p, q, 11);
    r->step_key = col_dup(p, q, 12);
    r->cost.wall_s = sqlite3_column_double(q, 13);
    r->cost.cpu_s = sqlite3_column_double(q, 14);
    r->cost.peak_rss = (uint64_t)sqlite3_column_int64(q, 15);
    r->cost.read_bytes = (uint64_t)sqlite3_column_int64(q, 16);
    r->cost.write_bytes = (uint64_t)sqlite3_column_int64(q, 17);
    r->cost.cost = sqlite3_column_double(q, 18);
}

/* Grows *arr (elements of size sz) to hold n + 1. */
static int grow(void **arr, size_t *cap, size_t n, size_t sz) {
    if (n < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, nc * sz);
    if (!p) return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

static int sq_run_get(void *db, int64_t id, leap_run_detail *d, leap_err *err) {
    sq *s = db;
    spool *pool = calloc(1, sizeof *pool);
    if (!pool) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    d->priv_ = pool;
    sqlite3_stmt *q = NULL;
    int rc = LEAP_OK;
    size_t cap;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT " RUN_COLS " FROM runs r JOIN experiments e ON e.id = "
                           "r.experiment_id WHERE r.id = ?1",
                           -1, &q, NULL) != SQLITE_OK)
        goto sqlfail;
    sqlite3_bind_int64(q, 1, id);
    if (sqlite3_step(q) != SQLITE_ROW) {
        sqlite3_finalize(q);
        leap_run_detail_free(d);
        return leap_err_set(err, LEAP_ENOTFOUND, "store %s: no run %lld", s->path, (long long)id);
    }
    read_run(q, pool, &d->run);
    sqlite3_finalize(q);

    for (int table = 0; table < 2; table++) {
        if (sqlite3_prepare_v2(s->db,
                               table ? "SELECT key, value FROM tags WHERE run_id = ?1 ORDER BY key"
                                     : "SELECT key, value FROM params WHERE run_id = ?1 ORDER BY "
                                       "key",
                               -1, &q, NULL) != SQLITE_OK)
            goto sqlfail;
        sqlite3_bind_int64(q, 1, id);
        leap_kv **arr = table ? &d->tags : &d->params;
        size_t *n = table ? &d->n_tags : &d->n_params;
        cap = 0;
        while (sqlite3_step(q) == SQLITE_ROW) {
            if (grow((void **)arr, &cap, *n, sizeof **arr)) goto oom;
            (*arr)[*n].key = col_dup(pool, q, 0);
            (*arr)[(*n)++].value = col_dup(pool, q, 1);
        }
        sqlite3_finalize(q);
    }

    if (sqlite3_prepare_v2(
            s->db,
            "SELECT m.key, (SELECT value FROM metrics x WHERE x.run_id = m.run_id AND x.key = m.key"
            " ORDER BY x.step DESC, x.time DESC, x.rowid DESC LIMIT 1), max(m.step), count(*)"
            " FROM metrics m WHERE m.run_id = ?1 GROUP BY m.key ORDER BY m.key",
            -1, &q, NULL) != SQLITE_OK)
        goto sqlfail;
    sqlite3_bind_int64(q, 1, id);
    cap = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (grow((void **)&d->metrics, &cap, d->n_metrics, sizeof *d->metrics)) goto oom;
        struct leap_metric_rec *m = &d->metrics[d->n_metrics++];
        m->key = col_dup(pool, q, 0);
        m->value = sqlite3_column_type(q, 1) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 1);
        m->step = sqlite3_column_int64(q, 2);
        m->n_points = (size_t)sqlite3_column_int64(q, 3);
    }
    sqlite3_finalize(q);

    if (sqlite3_prepare_v2(s->db,
                           "SELECT a.id, a.path, l.role, a.size, a.hash, l.direction FROM lineage "
                           "l JOIN artifacts a ON a.id = l.artifact_id WHERE l.run_id = ?1 "
                           "ORDER BY l.direction DESC, l.role, a.path",
                           -1, &q, NULL) != SQLITE_OK)
        goto sqlfail;
    sqlite3_bind_int64(q, 1, id);
    cap = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (grow((void **)&d->artifacts, &cap, d->n_artifacts, sizeof *d->artifacts)) goto oom;
        struct leap_artifact_rec *a = &d->artifacts[d->n_artifacts++];
        a->id = sqlite3_column_int64(q, 0);
        a->path = col_dup(pool, q, 1);
        a->role = col_dup(pool, q, 2);
        a->size = (uint64_t)sqlite3_column_int64(q, 3);
        a->hash = (uint64_t)sqlite3_column_int64(q, 4);
        const char *dir = (const char *)sqlite3_column_text(q, 5);
        a->dir = dir && !strcmp(dir, "in") ? LEAP_ART_IN : LEAP_ART_OUT;
    }
    sqlite3_finalize(q);

    if (sqlite3_prepare_v2(s->db,
                           "SELECT " RUN_COLS " FROM runs r JOIN experiments e ON e.id = "
                           "r.experiment_id WHERE r.parent_id = ?1 ORDER BY r.id",
                           -1, &q, NULL) != SQLITE_OK)
        goto sqlfail;
    sqlite3_bind_int64(q, 1, id);
    cap = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (grow((void **)&d->children, &cap, d->n_children, sizeof *d->children)) goto oom;
        read_run(q, pool, &d->children[d->n_children++]);
    }
    sqlite3_finalize(q);
    return LEAP_OK;
oom:
    sqlite3_finalize(q);
    leap_run_detail_free(d);
    return leap_err_set(err, LEAP_ENOMEM, "out of memory");
sqlfail:
    rc = sq_fail(s, err, "read run");
    sqlite3_finalize(q);
    leap_run_detail_free(d);
    return rc;
}

static int sq_last_run(void *db, int64_t *id, leap_err *err) {
    sq *s = db;
    sqlite3_stmt *q = NULL;
    *id = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT max(id) FROM runs", -1, &q, NULL) != SQLITE_OK)
        return sq_fail(s, err, "last run");
    if (sqlite3_step(q) == SQLITE_ROW) *id = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return LEAP_OK;
}

static int sq_history(void *db, int64_t run, const char *key, leap_metric_point **pts, size_t *n,
                      leap_err *err) {
    sq *s = db;
    sqlite3_stmt *q = NULL;
    *pts = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT value, step, time FROM metrics WHERE run_id = ?1 AND key = ?2 "
                           "ORDER BY step, time, rowid",
                           -1, &q, NULL) != SQLITE_OK)
        return sq_fail(s, err, "metric history");
    sqlite3_bind_int64(q, 1, run);
    bind_text(q, 2, key);
    size_t cap = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (grow((void **)pts, &cap, *n, sizeof **pts)) {
            sqlite3_finalize(q);
            free(*pts);
            *pts = NULL;
            *n = 0;
            return leap_err_set(err, LEAP_ENOMEM, "out of memory");
        }
        leap_metric_point *p = &(*pts)[(*n)++];
        p->key = NULL;
        p->value = sqlite3_column_type(q, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 0);
        p->step = sqlite3_column_int64(q, 1);
        p->time = sqlite3_column_double(q, 2);
    }
    sqlite3_finalize(q);
    return LEAP_OK;
}

/* ---- queries: SQL text from a parsed filter ------------------------------------ */
typedef struct qb {
    leap_buf sql;
    struct bindv {
        int is_num;
        double num;
        const char *str;
    } binds[512];
    int n_binds;
    int oom;
} qb;

static void qs(qb *b, const char *s) {
    if (leap_buf_append(&b->sql, s, strlen(s))) b->oom = 1;
}
static void qbind_str(qb *b, const char *s) {
    if (b->n_binds >= (int)(sizeof b->binds / sizeof b->binds[0])) {
        b->oom = 1;
        return;
    }
    b->binds[b->n_binds++] = (struct bindv){0, 0, s};
    qs(b, "?");
}
static void qbind_num(qb *b, double v) {
    if (b->n_binds >= (int)(sizeof b->binds / sizeof b->binds[0])) {
        b->oom = 1;
        return;
    }
    b->binds[b->n_binds++] = (struct bindv){1, v, NULL};
    qs(b, "?");
}

static const char *const latest_metric =
    "(SELECT value FROM metrics m WHERE m.run_id = r.id AND m.key = ";
static const char *const latest_metric_end = " ORDER BY m.step DESC, m.time DESC, m.rowid DESC "
                                             "LIMIT 1)";

/* Writes the SQL value of a field (metric, param, tag or attribute). */
static void field_sql(qb *b, ffield f, const char *key, int attr, int numeric) {
    switch (f) {
    case FF_METRIC:
        qs(b, latest_metric);
        qbind_str(b, key);
        qs(b, latest_metric_end);
        break;
    case FF_PARAM:
    case FF_TAG:
        if (numeric) qs(b, "CAST(");
        qs(b, f == FF_PARAM ? "(SELECT value FROM params p WHERE p.run_id = r.id AND p.key = "
                            : "(SELECT value FROM tags p WHERE p.run_id = r.id AND p.key = ");
        qbind_str(b, key);
        qs(b, ")");
        if (numeric) qs(b, " AS REAL)");
        break;
    case FF_ATTR: qs(b, leap__track_attrs[attr].sql); break;
    }
}

static void filter_sql(qb *b, const fnode *n, int depth) {
    if (depth > 200) {
        b->oom = 1;
        return;
    }
    switch (n->kind) {
    case FN_AND:
    case FN_OR:
        qs(b, "(");
        filter_sql(b, n->a, depth + 1);
        qs(b, n->kind == FN_AND ? " AND " : " OR ");
        filter_sql(b, n->b, depth + 1);
        qs(b, ")");
        break;
    case FN_NOT:
        qs(b, "(NOT ");
        filter_sql(b, n->a, depth + 1);
        qs(b, ")");
        break;
    case FN_CMP:
        /* An absent metric or param compares false (and NOT of it true). */
        qs(b, "coalesce(");
        if (n->op == FOP_LIKE) {
            qs(b, "instr(");
            field_sql(b, n->field, n->key, n->attr, 0);
            qs(b, ", ");
            qbind_str(b, n->str);
            qs(b, ") > 0");
        } else {
            int numeric = n->is_num;
            field_sql(b, n->field, n->key, n->attr, numeric && n->field != FF_ATTR);
            qs(b, " ");
            qs(b, leap__fop_sql(n->op));
            qs(b, " ");
            if (numeric)
                qbind_num(b, n->num);
            else
                qbind_str(b, n->str);
        }
        qs(b, ", 0)");
        break;
    }
}

static int sq_query(void *db, const leap_run_query *rq, leap_run_list *out, leap_err *err) {
    sq *s = db;
    qb *b = calloc(1, sizeof *b);
    spool *pool = calloc(1, sizeof *pool);
    if (!b || !pool) {
        free(b);
        free(pool);
        return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    }
    out->priv_ = pool;
    qs(b, "SELECT " RUN_COLS);
    for (size_t i = 0; i < rq->n_metric_cols; i++) {
        qs(b, ", ");
        field_sql(b, FF_METRIC, rq->metric_cols[i], 0, 1);
    }
    qs(b, " FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE 1");
    if (rq->experiment) {
        qs(b, " AND e.name = ");
        qbind_str(b, rq->experiment);
    }
    if (rq->parent > 0) {
        qs(b, " AND r.parent_id = ");
        qbind_num(b, (double)rq->parent);
    }
    if (rq->top_level) qs(b, " AND r.parent_id IS NULL");
    if (rq->filter && rq->filter->root) {
        qs(b, " AND ");
        filter_sql(b, rq->filter->root, 0);
    }
    qs(b, " ORDER BY ");
    int desc_id = 0;
    if (rq->sort) {
        track_sort so;
        if (leap__sort_parse(rq->sort, &so, err)) {
            leap_buf_free(&b->sql);
            free(b);
            return err->status;
        }
        field_sql(b, so.field, so.key, so.attr, so.field == FF_PARAM || so.field == FF_TAG);
        qs(b, so.desc ? " DESC NULLS LAST, " : " ASC NULLS LAST, ");
        desc_id = so.desc;
    }
    qs(b, desc_id ? "r.id DESC" : "r.id");
    if (rq->limit) {
        qs(b, " LIMIT ");
        qbind_num(b, (double)rq->limit);
    }
    qs(b, "");
    if (leap_buf_append(&b->sql, "", 1)) b->oom = 1;
    int rc = LEAP_OK;
    sqlite3_stmt *q = NULL;
    if (b->oom) {
        rc = leap_err_set(err, LEAP_ENOMEM, "query too large");
        goto done;
    }
    if (sqlite3_prepare_v2(s->db, (const char *)b->sql.p, -1, &q, NULL) != SQLITE_OK) {
        rc = sq_fail(s, err, "query");
        goto done;
    }
    for (int i = 0; i < b->n_binds; i++) {
        if (b->binds[i].is_num) {
            double v = b->binds[i].num;
            if (v == (double)(int64_t)v && fabs(v) < 9e15)
                sqlite3_bind_int64(q, i + 1, (int64_t)v);
            else
                sqlite3_bind_double(q, i + 1, v);
        } else {
            sqlite3_bind_text(q, i + 1, b->binds[i].str, -1, SQLITE_STATIC);
        }
    }
    size_t cap = 0, nm = rq->n_metric_cols;
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        if (out->n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            leap_run_rec *nr = realloc(out->runs, nc * sizeof *nr);
            if (nr) out->runs = nr;
            double *nmv = nm ? realloc(out->metrics, nc * nm * sizeof *nmv) : NULL;
            if (nm && nmv) out->metrics = nmv;
            if (!nr || (nm && !nmv)) {
                rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
                goto done;
            }
            cap = nc;
        }
        read_run(q, pool, &out->runs[out->n]);
        for (size_t j = 0; j < nm; j++)
            out->metrics[out->n * nm + j] =
                sqlite3_column_type(q, N_RUN_COLS + (int)j) == SQLITE_NULL
                    ? NAN
                    : sqlite3_column_double(q, N_RUN_COLS + (int)j);
        out->n++;
    }
    if (r != SQLITE_DONE) rc = sq_fail(s, err, "query");
done:
    sqlite3_finalize(q);
    leap_buf_free(&b->sql);
    free(b);
    if (rc) leap_run_list_free(out);
    return rc;
}

static int sq_artifact_find(void *db, const char *path, const char *hash_prefix,
                            leap_artifact_rec **out, size_t *n, leap_err *err) {
    sq *s = db;
    sqlite3_stmt *q = NULL;
    *out = NULL;
    *n = 0;
    const char *sql = path ? "SELECT id, path, size, hash FROM artifacts WHERE path = ?1 ORDER "
                             "BY id DESC LIMIT 100"
                           : "SELECT id, path, size, hash FROM artifacts WHERE printf('%016x', "
                             "hash) LIKE ?1 || '%' ORDER BY id DESC LIMIT 100";
    if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
        return sq_fail(s, err, "find artifact");
    bind_text(q, 1, path ? path : hash_prefix);
    size_t cap = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (grow((void **)out, &cap, *n, sizeof **out)) break;
        leap_artifact_rec *a = &(*out)[*n];
        memset(a, 0, sizeof *a);
        a->id = sqlite3_column_int64(q, 0);
        a->path = strdup((const char *)sqlite3_column_text(q, 1));
        a->role = strdup("");
        a->size = (uint64_t)sqlite3_column_int64(q, 2);
        a->hash = (uint64_t)sqlite3_column_int64(q, 3);
        a->dir = LEAP_ART_OUT;
        (*n)++;
    }
    sqlite3_finalize(q);
    return LEAP_OK;
}

static int sq_producer(void *db, uint64_t hash, int64_t *run, leap_err *err) {
    sq *s = db;
    sqlite3_stmt *q = NULL;
    *run = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT l.run_id FROM lineage l JOIN artifacts a ON a.id = "
                           "l.artifact_id JOIN runs r ON r.id = l.run_id WHERE a.hash = ?1 AND "
                           "l.direction = 'out' ORDER BY (r.status = 'finished') DESC, r.id "
                           "LIMIT 1",
                           -1, &q, NULL) != SQLITE_OK)
        return sq_fail(s, err, "find producer");
    sqlite3_bind_int64(q, 1, (int64_t)hash);
    if (sqlite3_step(q) == SQLITE_ROW) *run = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return LEAP_OK;
}

const leap_track_backend leap_track_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .run_begin = sq_run_begin,
    .run_end = sq_run_end,
    .put_kv = sq_put_kv,
    .put_metrics = sq_put_metrics,
    .put_artifacts = sq_put_artifacts,
    .reap = sq_reap,
    .find_by_key = sq_find_by_key,
    .run_get = sq_run_get,
    .last_run = sq_last_run,
    .history = sq_history,
    .query = sq_query,
    .artifact_find = sq_artifact_find,
    .producer = sq_producer,
};
