/* test_track.c — the tracking store: migrations (from empty and from an older
 * version), runs with params/metrics/tags/artifacts, batched writes (timed),
 * concurrent writer processes (fork) without lost rows, reaping of runs whose
 * process died, queries with filters and sorts, the filter parser's errors,
 * and that filter text never becomes SQL. */
#define _GNU_SOURCE
#include "harness.h"
#include "leap/track.h"

#include <math.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int leap__track_sqlite_migrate_to(const char *path, int upto, leap_err *err);

static char tmpdir[256];

static const char *db_path(const char *name) {
    static char p[512];
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/leap_test_track.XXXXXX");
        if (!mkdtemp(tmpdir)) abort();
    }
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    unlink(p);
    return p;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int64_t count(const char *path, const char *sql) {
    sqlite3 *db;
    sqlite3_stmt *q;
    int64_t n = -1;
    if (sqlite3_open(path, &db) != SQLITE_OK) return -1;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

TEST(open_missing_without_create) {
    leap_err err = {0};
    leap_track *t;
    ASSERT_EQ_INT(leap_track_open(db_path("none.db"), 0, &t, &err), LEAP_ENOTFOUND);
    ASSERT_STR_CONTAINS(err.msg, "no tracking store");
    ASSERT_EQ_INT(leap_track_open("postgresql://x/y", 0, &t, &err), LEAP_EUNSUPPORTED);
}

TEST(migrations_from_empty_and_from_v1) {
    leap_err err = {0};
    leap_track *t;
    const char *p = db_path("mig.db");
    ASSERT_OK(leap_track_open(p, LEAP_TRACK_CREATE, &t, &err));
    ASSERT_EQ_INT(leap_track_schema_version(t), LEAP_TRACK_SCHEMA_VERSION);
    leap_track_close(t);
    ASSERT_EQ_INT(count(p, "SELECT version FROM schema_version"), LEAP_TRACK_SCHEMA_VERSION);
    ASSERT_EQ_INT(count(p, "SELECT count(*) FROM schema_version"), 1);

    /* A store left at version 1 (no cost columns) with a run in it. */
    const char *p1 = db_path("mig1.db");
    ASSERT_OK(leap__track_sqlite_migrate_to(p1, 1, &err));
    ASSERT_EQ_INT(count(p1, "SELECT version FROM schema_version"), 1);
    ASSERT_EQ_INT(count(p1, "SELECT count(*) FROM pragma_table_info('runs') WHERE name='cost'"), 0);
    ASSERT_OK(leap_track_open(p1, 0, &t, &err));
    ASSERT_EQ_INT(leap_track_schema_version(t), 2);
    int64_t run;
    leap_run_start rs = {.name = "r", .kind = "train"};
    ASSERT_OK(leap_track_run_begin(t, &rs, &run, &err));
    leap_run_cost c = {.wall_s = 1, .cpu_s = 2, .peak_rss = 3, .cost = 0.5};
    ASSERT_OK(leap_track_run_end(t, run, LEAP_RUN_FINISHED, &c, &err));
    leap_track_close(t);
    ASSERT_EQ_INT(count(p1, "SELECT count(*) FROM pragma_table_info('runs') WHERE name='cost'"), 1);

    /* A store from a future leap is refused. */
    sqlite3 *db;
    ASSERT_EQ_INT(sqlite3_open(p1, &db), SQLITE_OK);
    sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL);
    sqlite3_close(db);
    ASSERT_EQ_INT(leap_track_open(p1, 0, &t, &err), LEAP_EVERSION);
    ASSERT_STR_CONTAINS(err.msg, "newer");
}

TEST(run_roundtrip) {
    leap_err err = {0};
    leap_track *t;
    const char *p = db_path("rt.db");
    ASSERT_OK(leap_track_open(p, LEAP_TRACK_CREATE, &t, &err));
    int64_t parent, run;
    leap_run_start ps = {.experiment = "ctr", .name = "pipe", .kind = "pipeline"};
    ASSERT_OK(leap_track_run_begin(t, &ps, &parent, &err));
    leap_run_start rs = {
        .experiment = "ctr", .name = "train", .kind = "train", .parent = parent, .step_key = "k1"};
    ASSERT_OK(leap_track_run_begin(t, &rs, &run, &err));
    leap_kv params[] = {{"alpha", "0.05"}, {"epochs", "3"}};
    ASSERT_OK(leap_track_log_params(t, run, params, 2, &err));
    leap_kv p2[] = {{"alpha", "0.1"}};
    ASSERT_OK(leap_track_log_params(t, run, p2, 1, &err)); /* replaces */
    leap_kv tags[] = {{"note", "first"}};
    ASSERT_OK(leap_track_set_tags(t, run, tags, 1, &err));
    leap_metric_point m[] = {{"logloss", 0.5, 1, 0}, {"logloss", 0.45, 2, 0}, {"auc", NAN, 0, 0}};
    ASSERT_OK(leap_track_log_metrics(t, run, m, 3, &err));
    leap_artifact a[] = {{"in.lds", "train", 10, 0x1234, LEAP_ART_IN},
                         {"m.leap", "model", 20, 0xfedcba9876543210ULL, LEAP_ART_OUT}};
    ASSERT_OK(leap_track_log_artifacts(t, run, a, 2, &err));
    leap_run_cost c = {.wall_s = 2, .cpu_s = 3, .peak_rss = 1000, .cost = 0.25};
    ASSERT_OK(leap_track_run_end(t, run, LEAP_RUN_FINISHED, &c, &err));

    leap_run_detail d;
    ASSERT_OK(leap_track_run_get(t, run, &d, &err));
    ASSERT_EQ_INT(d.run.parent, parent);
    ASSERT_TRUE(!strcmp(d.run.experiment, "ctr"));
    ASSERT_TRUE(!strcmp(d.run.leap_version, LEAP_VERSION));
    ASSERT_EQ_INT(d.run.status, LEAP_RUN_FINISHED);
    ASSERT_NEAR(d.run.cost.cpu_s, 3, 0);
    ASSERT_EQ_INT(d.n_params, 2);
    ASSERT_TRUE(!strcmp(d.params[0].key, "alpha") && !strcmp(d.params[0].value, "0.1"));
    ASSERT_EQ_INT(d.n_metrics, 2);
    ASSERT_TRUE(!strcmp(d.metrics[1].key, "logloss"));
    ASSERT_NEAR(d.metrics[1].value, 0.45, 0); /* latest step */
    ASSERT_EQ_INT(d.metrics[1].n_points, 2);
    ASSERT_TRUE(isnan(d.metrics[0].value)); /* NaN stored as "undefined" */
    ASSERT_EQ_INT(d.n_artifacts, 2);
    ASSERT_EQ_INT(d.artifacts[0].dir, LEAP_ART_OUT);
    ASSERT_EQ_U64(d.artifacts[0].hash, 0xfedcba9876543210ULL);
    leap_run_detail_free(&d);

    ASSERT_OK(leap_track_run_get(t, parent, &d, &err));
    ASSERT_EQ_INT(d.n_children, 1);
    ASSERT_EQ_INT(d.children[0].id, run);
    leap_run_detail_free(&d);

    int64_t found[4];
    size_t nf;
    ASSERT_OK(leap_track_find_by_key(t, "k1", found, 4, &nf, &err));
    ASSERT_EQ_INT(nf, 1);
    int64_t prod;
    ASSERT_OK(leap_track_producer(t, 0xfedcba9876543210ULL, &prod, &err));
    ASSERT_EQ_INT(prod, run);
    leap_artifact_rec *ar;
    size_t na;
    ASSERT_OK(leap_track_artifact_find(t, "m.leap", &ar, &na, &err));
    ASSERT_EQ_INT(na, 1);
    leap_artifact_recs_free(ar, na);
    ASSERT_OK(leap_track_artifact_find(t, "fedcba98", &ar, &na, &err));
    ASSERT_EQ_INT(na, 1);
    leap_artifact_recs_free(ar, na);
    ASSERT_EQ_INT(leap_track_run_get(t, 999, &d, &err), LEAP_ENOTFOUND);
    leap_track_close(t);
}

TEST(batched_metrics_are_fast) {
    leap_err err = {0};
    leap_track *t;
    ASSERT_OK(leap_track_open(db_path("fast.db"), LEAP_TRACK_CREATE, &t, &err));
    int64_t run;
    leap_run_start rs = {.name = "bench", .kind = "test"};
    ASSERT_OK(leap_track_run_begin(t, &rs, &run, &err));
    enum { N = 10000 };
    leap_metric_point *pts = calloc(N, sizeof *pts);
    for (int i = 0; i < N; i++)
        pts[i] = (leap_metric_point){i % 2 ? "loss" : "auc", 1.0 / (i + 1), i / 2, 0};
    double t0 = now_s();
    ASSERT_OK(leap_track_log_metrics(t, run, pts, N, &err));
    double dt = now_s() - t0;
    free(pts);
    /* The issue asks "well under a second"; 10k points take ~20 ms in a
     * Release build (bench/track.sh measures it): 1 s leaves room for a busy
     * machine, 5 s for the sanitizers on a busy machine. */
#ifdef __SANITIZE_ADDRESS__
    ASSERT_TRUE(dt < 5.0);
#else
    ASSERT_TRUE(dt < 1.0);
#endif
    leap_run_detail d;
    ASSERT_OK(leap_track_run_get(t, run, &d, &err));
    ASSERT_EQ_INT(d.metrics[0].n_points + d.metrics[1].n_points, N);
    leap_run_detail_free(&d);
    leap_metric_point *h;
    size_t nh;
    ASSERT_OK(leap_track_metric_history(t, run, "loss", &h, &nh, &err));
    ASSERT_EQ_INT(nh, N / 2);
    ASSERT_EQ_INT(h[nh - 1].step, N / 2 - 1);
    free(h);
    leap_track_close(t);
}

/* N processes each write R runs with params, metrics and artifacts at once. */
TEST(concurrent_writer_processes) {
    const char *p = db_path("conc.db");
    enum { NPROC = 6, RUNS = 30, POINTS = 50 };
    pid_t pids[NPROC];
    for (int k = 0; k < NPROC; k++) {
        pids[k] = fork();
        if (pids[k] == 0) {
            leap_err err = {0};
            leap_track *t;
            if (leap_track_open(p, LEAP_TRACK_CREATE, &t, &err)) {
                fprintf(stderr, "child open: %s\n", err.msg);
                _exit(1);
            }
            for (int r = 0; r < RUNS; r++) {
                int64_t run;
                char name[32];
                snprintf(name, sizeof name, "w%d", k);
                leap_run_start rs = {.experiment = "conc", .name = name, .kind = "trial"};
                leap_metric_point pts[POINTS];
                for (int i = 0; i < POINTS; i++)
                    pts[i] = (leap_metric_point){"m", i, i, 0};
                leap_kv kv[] = {{"k", name}};
                char path[64];
                snprintf(path, sizeof path, "out-%d-%d", k, r);
                leap_artifact a = {path, "out", 1, (uint64_t)(k * 1000 + r), LEAP_ART_OUT};
                if (leap_track_run_begin(t, &rs, &run, &err) ||
                    leap_track_log_params(t, run, kv, 1, &err) ||
                    leap_track_log_metrics(t, run, pts, POINTS, &err) ||
                    leap_track_log_artifacts(t, run, &a, 1, &err) ||
                    leap_track_run_end(t, run, LEAP_RUN_FINISHED, NULL, &err)) {
                    fprintf(stderr, "child %d: %s\n", k, err.msg);
                    _exit(1);
                }
            }
            leap_track_close(t);
            _exit(0);
        }
    }
    int ok = 1;
    for (int k = 0; k < NPROC; k++) {
        int st;
        waitpid(pids[k], &st, 0);
        ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    ASSERT_TRUE(ok);
    ASSERT_EQ_INT(count(p, "SELECT count(*) FROM runs WHERE status = 'finished'"), NPROC * RUNS);
    ASSERT_EQ_INT(count(p, "SELECT count(*) FROM metrics"), NPROC * RUNS * POINTS);
    ASSERT_EQ_INT(count(p, "SELECT count(*) FROM params"), NPROC * RUNS);
    ASSERT_EQ_INT(count(p, "SELECT count(*) FROM lineage"), NPROC * RUNS);
    ASSERT_EQ_INT(count(p, "SELECT count(*) FROM experiments"), 1);
    ASSERT_EQ_INT(count(p, "SELECT version FROM schema_version"), LEAP_TRACK_SCHEMA_VERSION);
}

TEST(reap_marks_dead_runs_killed) {
    const char *p = db_path("reap.db");
    pid_t pid = fork();
    if (pid == 0) {
        leap_err err = {0};
        leap_track *t;
        int64_t run;
        leap_run_start rs = {.name = "doomed", .kind = "train"};
        if (leap_track_open(p, LEAP_TRACK_CREATE, &t, &err) ||
            leap_track_run_begin(t, &rs, &run, &err))
            _exit(1);
        _exit(0); /* dies with the run still "running" */
    }
    int st;
    waitpid(pid, &st, 0);
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    leap_err err = {0};
    leap_track *t;
    ASSERT_OK(leap_track_open(p, 0, &t, &err));
    int64_t mine;
    leap_run_start rs = {.name = "alive", .kind = "train"};
    ASSERT_OK(leap_track_run_begin(t, &rs, &mine, &err));
    size_t n;
    ASSERT_OK(leap_track_reap(t, &n, &err));
    ASSERT_EQ_INT(n, 1);
    leap_track_close(t);
    ASSERT_EQ_INT(count(p, "SELECT count(*) FROM runs WHERE status = 'killed'"), 1);
    ASSERT_EQ_INT(count(p, "SELECT count(*) FROM runs WHERE status = 'running'"), 1);
}

static size_t query_n(leap_track *t, const char *filter, const char *sort, int64_t *first) {
    leap_err err = {0};
    leap_filter *f = NULL;
    if (filter && leap_filter_parse(filter, &f, &err)) {
        fprintf(stderr, "  parse: %s\n", err.msg);
        return (size_t)-1;
    }
    leap_run_query q = {.filter = f, .sort = sort};
    leap_run_list l;
    size_t n = (size_t)-1;
    if (leap_track_query(t, &q, &l, &err) == 0) {
        n = l.n;
        if (first) *first = l.n ? l.runs[0].id : 0;
        leap_run_list_free(&l);
    } else {
        fprintf(stderr, "  query: %s\n", err.msg);
    }
    leap_filter_free(f);
    return n;
}

TEST(query_filters_and_sorts) {
    leap_err err = {0};
    leap_track *t;
    ASSERT_OK(leap_track_open(db_path("q.db"), LEAP_TRACK_CREATE, &t, &err));
    int64_t ids[10];
    for (int i = 0; i < 10; i++) {
        leap_run_start rs = {.experiment = i < 5 ? "a" : "b", .name = "r", .kind = "train"};
        ASSERT_OK(leap_track_run_begin(t, &rs, &ids[i], &err));
        char v[16];
        snprintf(v, sizeof v, "%g", 0.01 * (i + 1));
        leap_kv kv[] = {{"alpha", v}, {"opt", i % 2 ? "ftrl" : "adagrad"}};
        ASSERT_OK(leap_track_log_params(t, ids[i], kv, 2, &err));
        leap_metric_point m[] = {{"auc", 0.70 + 0.01 * i, 0, 0}};
        if (i != 9) ASSERT_OK(leap_track_log_metrics(t, ids[i], m, 1, &err));
        leap_run_cost c = {.cost = i};
        ASSERT_OK(
            leap_track_run_end(t, ids[i], i == 3 ? LEAP_RUN_FAILED : LEAP_RUN_FINISHED, &c, &err));
    }
    int64_t first;
    ASSERT_EQ_INT(query_n(t, NULL, NULL, &first), 10);
    ASSERT_EQ_INT(first, ids[0]);
    ASSERT_EQ_INT(query_n(t, "metrics.auc > 0.745", NULL, NULL), 4); /* 0.75..0.78 */
    ASSERT_EQ_INT(query_n(t, "metrics.auc >= 0.75 and status = finished", NULL, NULL), 4);
    ASSERT_EQ_INT(query_n(t, "status = 'failed' or cost >= 8", NULL, NULL), 3);
    ASSERT_EQ_INT(query_n(t, "not metrics.auc > 0.745", NULL, NULL), 6); /* absent counts */
    ASSERT_EQ_INT(query_n(t, "params.alpha = 0.05", NULL, &first), 1);
    ASSERT_EQ_INT(first, ids[4]);
    ASSERT_EQ_INT(query_n(t, "params.opt = ftrl and experiment = \"b\"", NULL, NULL), 3);
    ASSERT_EQ_INT(query_n(t, "params.opt ~ 'grad'", NULL, NULL), 5);
    ASSERT_EQ_INT(query_n(t, "(metrics.auc < 0.71 or metrics.auc > 0.775) and id > 0", NULL, NULL),
                  2);
    ASSERT_EQ_INT(query_n(t, NULL, "-metrics.auc", &first), 10);
    ASSERT_EQ_INT(first, ids[8]); /* run 9 has no auc: last */
    ASSERT_EQ_INT(query_n(t, NULL, "-cost", &first), 10);
    ASSERT_EQ_INT(first, ids[9]);
    /* Hostile text is only ever a bound value. */
    ASSERT_EQ_INT(query_n(t, "name = \"x'; DROP TABLE runs; --\"", NULL, NULL), 0);
    ASSERT_EQ_INT(query_n(t, "params.\"alpha\" = 1", NULL, NULL), (size_t)-1);
    ASSERT_EQ_INT(query_n(t, NULL, NULL, NULL), 10);
    leap_run_query q = {.experiment = "a", .limit = 2};
    leap_run_list l;
    ASSERT_OK(leap_track_query(t, &q, &l, &err));
    ASSERT_EQ_INT(l.n, 2);
    leap_run_list_free(&l);
    const char *cols[] = {"auc", "nope"};
    leap_run_query q2 = {.metric_cols = cols, .n_metric_cols = 2, .sort = "metrics.auc"};
    ASSERT_OK(leap_track_query(t, &q2, &l, &err));
    ASSERT_NEAR(l.metrics[0], 0.70, 1e-12);
    ASSERT_TRUE(isnan(l.metrics[1]));
    leap_run_list_free(&l);
    ASSERT_EQ_INT(leap_track_sort_check("-bogus", &err), LEAP_EINVAL);
    leap_track_close(t);
}

TEST(filter_parse_errors_name_the_column) {
    leap_err err = {0};
    leap_filter *f;
    ASSERT_EQ_INT(leap_filter_parse("metrics.auc >", &f, &err), LEAP_EPARSE);
    ASSERT_STR_CONTAINS(err.msg, "column 14");
    ASSERT_STR_CONTAINS(err.msg, "expected a value");
    ASSERT_EQ_INT(leap_filter_parse("metrics.auc 0.7", &f, &err), LEAP_EPARSE);
    ASSERT_STR_CONTAINS(err.msg, "column 13: expected an operator");
    ASSERT_EQ_INT(leap_filter_parse("colour = red", &f, &err), LEAP_EPARSE);
    ASSERT_STR_CONTAINS(err.msg, "column 1: unknown field 'colour'");
    ASSERT_EQ_INT(leap_filter_parse("(id > 1", &f, &err), LEAP_EPARSE);
    ASSERT_STR_CONTAINS(err.msg, "expected ')'");
    ASSERT_EQ_INT(leap_filter_parse("id > 1 id", &f, &err), LEAP_EPARSE);
    ASSERT_STR_CONTAINS(err.msg, "column 8");
    ASSERT_EQ_INT(leap_filter_parse("metrics.auc > high", &f, &err), LEAP_EPARSE);
    ASSERT_EQ_INT(leap_filter_parse("status = done", &f, &err), LEAP_EPARSE);
    ASSERT_EQ_INT(leap_filter_parse("name = 'open", &f, &err), LEAP_EPARSE);
    ASSERT_EQ_INT(leap_filter_parse("", &f, &err), LEAP_EPARSE);
    char deep[400];
    memset(deep, '(', 300);
    strcpy(deep + 300, "id > 1");
    ASSERT_EQ_INT(leap_filter_parse(deep, &f, &err), LEAP_EPARSE);
    ASSERT_OK(leap_filter_parse("not not (metrics.a.b >= -1e-3 OR tags.x != y)", &f, &err));
    leap_filter_free(f);
}

TEST(file_hash_and_cost) {
    const char *p = db_path("h.bin");
    FILE *f = fopen(p, "wb");
    for (int i = 0; i < 100000; i++)
        fputc(i & 255, f);
    fclose(f);
    uint64_t h, n, h2;
    leap_err err = {0};
    ASSERT_OK(leap_file_hash(p, &h, &n, &err));
    ASSERT_EQ_U64(n, 100000);
    unsigned char *buf = malloc(100000);
    for (int i = 0; i < 100000; i++)
        buf[i] = (unsigned char)(i & 255);
    h2 = leap_hash64(buf, 100000, 0);
    free(buf);
    ASSERT_EQ_U64(h, h2); /* streamed = one-shot XXH3 */
    ASSERT_EQ_INT(leap_file_hash("/nonexistent/x", &h, &n, &err), LEAP_EIO);
    leap_price pr = {.cpu_hour = 3.6, .gb_hour = 36};
    leap_run_cost c = {.wall_s = 100, .cpu_s = 1000, .peak_rss = 2000000000};
    ASSERT_NEAR(leap_cost_price(&pr, &c), 1.0 + 2.0, 1e-12);
    ASSERT_TRUE(!strcmp(leap_cost_stage("ingest"), "features"));
    ASSERT_TRUE(!strcmp(leap_cost_stage("train"), "training"));
    ASSERT_TRUE(!strcmp(leap_cost_stage("eval"), "evaluation"));
}

__attribute__((destructor)) static void cleanup(void) {
    if (!tmpdir[0]) return;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}
