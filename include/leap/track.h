/* leap/track.h — the tracking store: experiments, runs, params, metrics,
 * artifacts, lineage and tags, with the cost of each run.
 *
 * One store is one database (SQLite by default: `leap.db` in the working
 * folder, WAL journal, busy timeout, versioned schema migrations) behind a
 * small table of backend functions, so a PostgreSQL backend can follow.
 * Several processes may write to one store at once (parallel sweep trials):
 * every write is one short IMMEDIATE transaction and waits for the lock.
 *
 *     leap_track *t;
 *     if (leap_track_open("leap.db", LEAP_TRACK_CREATE, &t, &err)) ...
 *     leap_run_start rs = {.experiment = "ctr", .name = "train", .kind = "train"};
 *     int64_t run;
 *     leap_track_run_begin(t, &rs, &run, &err);
 *     leap_metric_point pts[] = {{"auc", 0.78, 0, 0}};
 *     leap_track_log_metrics(t, run, pts, 1, &err);   // one transaction per call
 *     leap_track_run_end(t, run, LEAP_RUN_FINISHED, &cost, &err);
 *     leap_track_close(t);
 *
 * The library prints nothing. Strings passed in are copied; strings handed
 * out belong to the result object they came in (freed with it).
 */
#ifndef LEAP_TRACK_H
#define LEAP_TRACK_H

#include "leap/core.h"

#include <stdint.h>

#define LEAP_TRACK_SCHEMA_VERSION 2
#define LEAP_TRACK_DEFAULT_PATH   "leap.db"

typedef struct leap_track leap_track;

/* Run status, one table (name, meaning). */
#define LEAP_RUN_STATUS_MAP(XX)                                                                    \
    XX(RUNNING, "running")                                                                         \
    XX(FINISHED, "finished")                                                                       \
    XX(FAILED, "failed")                                                                           \
    XX(KILLED, "killed")                                                                           \
    XX(CACHED, "cached")

typedef enum leap_run_status {
#define LEAP_XX_RS(name, text) LEAP_RUN_##name,
    LEAP_RUN_STATUS_MAP(LEAP_XX_RS)
#undef LEAP_XX_RS
        LEAP_RUN_STATUS_COUNT
} leap_run_status;
const char *leap_run_status_name(leap_run_status s);
/* -1 when unknown. */
int leap_run_status_from_name(const char *name);

/* ---- opening ------------------------------------------------------------ */
enum { LEAP_TRACK_CREATE = 1 }; /* create the store when missing */

/* Opens the store at uri: a file path ("leap.db", "sqlite:PATH") for the
 * SQLite backend; "postgresql://..." is refused with LEAP_EUNSUPPORTED.
 * Without LEAP_TRACK_CREATE a missing file is LEAP_ENOTFOUND. Migrates the
 * schema up to LEAP_TRACK_SCHEMA_VERSION (a newer store is LEAP_EVERSION). */
int leap_track_open(const char *uri, int flags, leap_track **out, leap_err *err);
void leap_track_close(leap_track *t);
/* The store path leap uses: explicit (when non-NULL), else $LEAP_STORE, else
 * "leap.db". Static or explicit storage; never NULL. */
const char *leap_track_default_uri(const char *explicit_uri);
/* Schema version of the open store. */
int leap_track_schema_version(leap_track *t);

/* ---- writing -------------------------------------------------------------- */
typedef struct leap_run_start {
    const char *experiment; /* created when new; NULL = "default" */
    const char *name;       /* "train", "ctr.yaml", "sweep" */
    const char *kind;       /* "pipeline", "sweep", "trial", a step kind, a command */
    int64_t parent;         /* parent run id, 0 = none */
    const char *step_key;   /* pipeline cache key (hex), NULL = none */
    const char *git_commit; /* NULL: read from the working folder's .git when any */
} leap_run_start;

/* What a run cost; each figure is summed over its processes. */
typedef struct leap_run_cost {
    double wall_s, cpu_s;
    uint64_t peak_rss;                /* bytes, the largest process */
    uint64_t read_bytes, write_bytes; /* rchar/wchar: bytes through read/write calls */
    double cost;                      /* price units (see leap_cost_price) */
} leap_run_cost;

/* Records a new run (status running, start now, host, pid, leap version, git
 * commit). *run gets its id. */
int leap_track_run_begin(leap_track *t, const leap_run_start *s, int64_t *run, leap_err *err);
/* Sets status, end time and cost (cost may be NULL). */
int leap_track_run_end(leap_track *t, int64_t run, leap_run_status st, const leap_run_cost *cost,
                       leap_err *err);

typedef struct leap_kv {
    const char *key, *value;
} leap_kv;
typedef struct leap_metric_point {
    const char *key;
    double value;
    int64_t step;
    double time; /* unix seconds; 0 = now */
} leap_metric_point;

/* Each call is one transaction with prepared statements (batched): 100,000
 * points in one call take well under a second. Params and tags replace an
 * earlier value of the same key. */
int leap_track_log_params(leap_track *t, int64_t run, const leap_kv *kv, size_t n, leap_err *err);
int leap_track_set_tags(leap_track *t, int64_t run, const leap_kv *kv, size_t n, leap_err *err);
int leap_track_log_metrics(leap_track *t, int64_t run, const leap_metric_point *pts, size_t n,
                           leap_err *err);

typedef enum leap_artifact_dir { LEAP_ART_IN, LEAP_ART_OUT } leap_artifact_dir;
typedef struct leap_artifact {
    const char *path;
    const char *role; /* the input/output name: "train", "model", "log" */
    uint64_t size;
    uint64_t hash; /* XXH3-64 of the content */
    leap_artifact_dir dir;
} leap_artifact;
/* Records artifacts and the lineage edges run -> artifact (one transaction). */
int leap_track_log_artifacts(leap_track *t, int64_t run, const leap_artifact *a, size_t n,
                             leap_err *err);

/* Group several calls into one transaction (nesting counted). While a batch
 * is open the individual calls do not commit. */
int leap_track_batch_begin(leap_track *t, leap_err *err);
int leap_track_batch_commit(leap_track *t, leap_err *err);

/* Marks runs of this host still "running" whose process is gone as killed
 * (a killed pipeline never leaves a run that looks alive or successful).
 * *n_reaped (may be NULL) gets their count. */
int leap_track_reap(leap_track *t, size_t *n_reaped, leap_err *err);

/* ---- pipeline cache ------------------------------------------------------- */
/* Finished runs with this step key, newest first (at most max); their output
 * artifacts are read with leap_track_run_get. */
int leap_track_find_by_key(leap_track *t, const char *step_key, int64_t *runs, size_t max,
                           size_t *n, leap_err *err);

/* ---- reading ------------------------------------------------------------------ */
/* A run with everything recorded about it. Strings owned by the struct. */
typedef struct leap_run_rec {
    int64_t id, parent;
    char *experiment, *name, *kind, *host, *leap_version, *git_commit, *step_key;
    leap_run_status status;
    double start_time, end_time; /* unix seconds; end 0 while running */
    int64_t pid;
    leap_run_cost cost;
} leap_run_rec;

typedef struct leap_run_detail {
    leap_run_rec run;
    size_t n_params, n_tags, n_metrics, n_artifacts, n_children;
    leap_kv *params, *tags; /* sorted by key */
    struct leap_metric_rec {
        char *key;
        double value; /* latest step's value */
        int64_t step;
        size_t n_points; /* history length */
    } * metrics;         /* sorted by key */
    struct leap_artifact_rec {
        int64_t id;
        char *path, *role;
        uint64_t size, hash;
        leap_artifact_dir dir;
    } * artifacts;
    leap_run_rec *children; /* by id */
    void *priv_;
} leap_run_detail;
/* Loads run id; LEAP_ENOTFOUND when absent. Free with leap_run_detail_free. */
int leap_track_run_get(leap_track *t, int64_t id, leap_run_detail *d, leap_err *err);
void leap_run_detail_free(leap_run_detail *d);
/* Id of the newest run (0 when none). */
int leap_track_last_run(leap_track *t, int64_t *id, leap_err *err);
/* The full history of one metric of a run, by step then time. Caller frees
 * *pts (key pointers are NULL). */
int leap_track_metric_history(leap_track *t, int64_t run, const char *key, leap_metric_point **pts,
                              size_t *n, leap_err *err);

/* ---- queries: filter expressions ------------------------------------------ */
/* A filter is parsed into a tree and turned into parameterised SQL by the
 * backend: user text never reaches the SQL string.
 *
 *   expr  := or ; or := and ('or' and)* ; and := not ('and' not)*
 *   not   := 'not' not | '(' expr ')' | field op value
 *   field := metrics.KEY | params.KEY | tags.KEY | ATTRIBUTE
 *            (id, parent, experiment, name, kind, status, host, start, end,
 *             wall, cpu, rss, cost, git, version)
 *   op    := = == != < <= > >= ~ (substring)
 *   value := number | 'text' | "text" | bare word
 *
 * Errors say the column: "--filter:1:13: expected a value after '>'". */
typedef struct leap_filter leap_filter;
int leap_filter_parse(const char *text, leap_filter **out, leap_err *err);
void leap_filter_free(leap_filter *f);

typedef struct leap_run_query {
    const char *experiment; /* NULL = all */
    const leap_filter *filter;
    const char *sort; /* "-metrics.auc", "start", NULL = by id */
    int64_t parent;   /* > 0: children of this run only */
    int top_level;    /* 1: runs without a parent only */
    size_t limit;     /* 0 = all */
    /* Metric columns to fetch for each row (latest value; NaN = absent). */
    const char *const *metric_cols;
    size_t n_metric_cols;
} leap_run_query;

typedef struct leap_run_list {
    size_t n;
    leap_run_rec *runs;
    double *metrics; /* [n][n_metric_cols] */
    void *priv_;
} leap_run_list;
int leap_track_query(leap_track *t, const leap_run_query *q, leap_run_list *out, leap_err *err);
void leap_run_list_free(leap_run_list *l);
/* Checks a sort key ("-metrics.auc", "cost"); the message names it. */
int leap_track_sort_check(const char *sort, leap_err *err);

/* ---- lineage -------------------------------------------------------------- */
/* Artifacts recorded at path (exact, then by real path), newest first; or
 * with a hash whose hex starts with the given text. */
typedef struct leap_artifact_rec leap_artifact_rec;
int leap_track_artifact_find(leap_track *t, const char *path_or_hash, leap_artifact_rec **out,
                             size_t *n, leap_err *err);
/* The run that produced content hash (finished before cached; 0 if none). */
int leap_track_producer(leap_track *t, uint64_t hash, int64_t *run, leap_err *err);
void leap_artifact_recs_free(leap_artifact_rec *a, size_t n);

/* ---- files ------------------------------------------------------------------ */
/* XXH3-64 of a file's content (streamed) and its size. */
int leap_file_hash(const char *path, uint64_t *hash, uint64_t *size, leap_err *err);

/* ---- cost ------------------------------------------------------------------ */
/* Prices in currency units per hour: one CPU core busy, one GB of peak memory
 * held. Defaults LEAP_COST_CPU_HOUR and LEAP_COST_GB_HOUR are on-demand
 * cloud list prices of 2024 (about 0.048 per vCPU-hour and 0.0065 per
 * GB-hour of general-purpose instances). */
#define LEAP_COST_CPU_HOUR 0.048
#define LEAP_COST_GB_HOUR  0.0065
typedef struct leap_price {
    double cpu_hour, gb_hour;
} leap_price;
/* cpu_s * cpu_hour / 3600 + peak_rss(GB) * wall_s * gb_hour / 3600. */
double leap_cost_price(const leap_price *p, const leap_run_cost *c);
/* Stage of a run kind for cost reports: "features" (datagen, ingest,
 * split, stats, schema, validate, transform_fit), "training", "evaluation",
 * "other". */
const char *leap_cost_stage(const char *kind);

/* ---- backends -------------------------------------------------------------- */
/* The table a backend fills (SQLite: src/track/store_sqlite.c). Every
 * function returns a status and fills err. The front end (store.c) checks
 * arguments and owns nothing backend-specific. */
typedef struct leap_track_backend {
    const char *name;
    int (*open)(const char *path, int flags, void **db, leap_err *err);
    void (*close)(void *db);
    int (*schema_version)(void *db);
    int (*begin)(void *db, leap_err *err);
    int (*commit)(void *db, leap_err *err);
    void (*rollback)(void *db);
    int (*run_begin)(void *db, const leap_run_start *s, const char *host, int64_t pid,
                     const char *git, int64_t *run, leap_err *err);
    int (*run_end)(void *db, int64_t run, leap_run_status st, const leap_run_cost *c,
                   leap_err *err);
    int (*put_kv)(void *db, int table, int64_t run, const leap_kv *kv, size_t n, leap_err *err);
    int (*put_metrics)(void *db, int64_t run, const leap_metric_point *p, size_t n, double now,
                       leap_err *err);
    int (*put_artifacts)(void *db, int64_t run, const leap_artifact *a, size_t n, double now,
                         leap_err *err);
    int (*reap)(void *db, const char *host, size_t *n, leap_err *err);
    int (*find_by_key)(void *db, const char *key, int64_t *runs, size_t max, size_t *n,
                       leap_err *err);
    int (*run_get)(void *db, int64_t id, leap_run_detail *d, leap_err *err);
    int (*last_run)(void *db, int64_t *id, leap_err *err);
    int (*history)(void *db, int64_t run, const char *key, leap_metric_point **pts, size_t *n,
                   leap_err *err);
    int (*query)(void *db, const leap_run_query *q, leap_run_list *out, leap_err *err);
    int (*artifact_find)(void *db, const char *path, const char *hash_prefix,
                         leap_artifact_rec **out, size_t *n, leap_err *err);
    int (*producer)(void *db, uint64_t hash, int64_t *run, leap_err *err);
} leap_track_backend;
extern const leap_track_backend leap_track_sqlite;

#endif
