/* track_cli.c — tracking of the plain commands and the CLI's store helpers.
 *
 * leap_cli_dispatch runs a command; when tracking is on it records the
 * command as a run: its options as params (--set KEY=VALUE as KEY), the
 * files it read and wrote (with content hashes) as lineage, what it measured
 * (train: the bundle's metrics; eval and push: through leap_cli_track_*),
 * exit status and cost (this process's CPU, peak RSS, bytes read and
 * written). The commands themselves know nothing of the store. */
#define _GNU_SOURCE
#include "cli/cli.h"
#include "leap/bundle.h"
#include "leap/eval.h"
#include "leap/track.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_NOTES 32

static struct {
    int n_metrics, n_tags;
    char mkeys[MAX_NOTES][64];
    double mvals[MAX_NOTES];
    char tkeys[MAX_NOTES][64], tvals[MAX_NOTES][256];
} notes;

void leap_cli_track_metric(const char *key, double value) {
    if (notes.n_metrics >= MAX_NOTES) return;
    snprintf(notes.mkeys[notes.n_metrics], 64, "%s", key);
    notes.mvals[notes.n_metrics++] = value;
}

void leap_cli_track_tag(const char *key, const char *value) {
    if (notes.n_tags >= MAX_NOTES) return;
    snprintf(notes.tkeys[notes.n_tags], 64, "%s", key);
    snprintf(notes.tvals[notes.n_tags++], 256, "%s", value);
}

void leap_cli_track_eval(const leap_metrics *m) {
    leap_cli_track_metric("n", m->n);
    leap_cli_track_metric("auc", m->auc);
    leap_cli_track_metric("logloss", m->logloss);
    leap_cli_track_metric("ne", m->ne);
    leap_cli_track_metric("calibration", m->calibration);
    leap_cli_track_metric("pr_auc", m->pr_auc);
    leap_cli_track_metric("base_rate", m->base_rate);
}

int leap_cli_store_open(const char *cmd, const char *uri, int create, leap_track **t) {
    leap_err err = {0};
    if (leap_track_open(leap_track_default_uri(uri), create ? LEAP_TRACK_CREATE : 0, t, &err))
        return leap_cli_fail(cmd, &err);
    return 0;
}

int leap_cli_self_exe(char *buf, size_t len) {
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n <= 0) return -1;
    buf[n] = 0;
    return 0;
}

void leap_cli_fmt_bytes(double b, char *buf, size_t len) {
    static const char *const u[] = {"B", "KB", "MB", "GB", "TB"};
    int i = 0;
    while (b >= 1000 && i < 4)
        b /= 1000, i++;
    snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

void leap_cli_fmt_secs(double s, char *buf, size_t len) {
    if (s < 60)
        snprintf(buf, len, "%.2f s", s);
    else if (s < 3600)
        snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, len, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

void leap_cli_fmt_time(double unix_s, char *buf, size_t len) {
    time_t t = (time_t)unix_s;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

/* ---- tracking plain commands ----------------------------------------------------- */
static int tracking_on(void) {
    const char *e = getenv("LEAP_TRACK");
    if (e && e[0]) return strcmp(e, "0") != 0;
    struct stat st;
    return stat(leap_track_default_uri(NULL), &st) == 0;
}

static int trackable(const char *name) {
    static const char *const names[] = {"datagen", "ingest", "split",  "train", "eval",
                                        "predict", "stats",  "schema", "push",  "validate"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i])) return 1;
    return 0;
}

static int is_file(const char *p) {
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Flags that take no value. */
static int bool_flag(const char *f) {
    static const char *const b[] = {"json", "quiet", "dict", "help", "parse-only", "refused-ok"};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
        if (!strcmp(f, b[i])) return 1;
    return 0;
}

typedef struct rec {
    leap_kv kv[128];
    char *own[128];
    size_t n;
    leap_artifact art[64];
    char *apath[64];
    size_t na;
} rec;

static void add_param(rec *r, const char *k, const char *v) {
    if (r->n >= 128) return;
    size_t kl = strlen(k) + 1, vl = strlen(v) + 1;
    char *b = malloc(kl + vl);
    if (!b) return;
    memcpy(b, k, kl);
    memcpy(b + kl, v, vl);
    r->own[r->n] = b;
    r->kv[r->n++] = (leap_kv){b, b + kl};
}

static void add_file(rec *r, const char *path, const char *role, leap_artifact_dir dir) {
    if (r->na >= 64 || !is_file(path)) return;
    uint64_t h, sz;
    leap_err e;
    if (leap_file_hash(path, &h, &sz, &e)) return;
    char *p = strdup(path), *ro = strdup(role);
    if (!p || !ro) {
        free(p);
        free(ro);
        return;
    }
    r->apath[r->na] = p;
    r->art[r->na++] = (leap_artifact){p, ro, sz, h, dir};
}

static void read_io(uint64_t *rd, uint64_t *wr) {
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    *rd = *wr = 0;
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "rchar: %llu", &v) == 1) *rd = v;
        if (sscanf(line, "wchar: %llu", &v) == 1) *wr = v;
    }
    fclose(f);
}

static void record(const char *name, int argc, char **argv, int rc, double t0) {
    rec *r = calloc(1, sizeof *r);
    if (!r) return;
    const char *out = NULL;
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            char k[32];
            if (!strcmp(name, "schema") && i == 1) continue; /* "infer" */
            snprintf(k, sizeof k, "arg%d", ++pos);
            add_param(r, k, a);
            add_file(r, a, k, LEAP_ART_IN);
            continue;
        }
        const char *f = a + (a[1] == '-' ? 2 : 1), *eq = strchr(f, '=');
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(eq ? (size_t)(eq - f) : strlen(f)), f);
        const char *v = eq ? eq + 1 : NULL;
        if (!v && !bool_flag(key) && i + 1 < argc) v = argv[++i];
        if (!v) v = "true";
        if (!strcmp(key, "set") || !strcmp(key, "S")) {
            const char *e2 = strchr(v, '=');
            if (e2) {
                char k2[64];
                snprintf(k2, sizeof k2, "%.*s", (int)(e2 - v), v);
                add_param(r, k2, e2 + 1);
                continue;
            }
        }
        if (!strcmp(key, "o") || !strcmp(key, "output")) {
            out = v;
            add_param(r, "output", v);
            continue;
        }
        add_param(r, key, v);
        add_file(r, v, key, LEAP_ART_IN);
    }
    if (rc == 0 && out) {
        if (!strcmp(name, "split")) {
            static const char *const parts[] = {"train", "valid", "test"};
            for (int i = 0; i < 3; i++) {
                char p[4200];
                snprintf(p, sizeof p, "%s.%s.lds", out, parts[i]);
                add_file(r, p, parts[i], LEAP_ART_OUT);
            }
        } else {
            add_file(r, out, "output", LEAP_ART_OUT);
            if (!strcmp(name, "datagen")) {
                char p[4200];
                snprintf(p, sizeof p, "%s.truth", out);
                add_file(r, p, "truth", LEAP_ART_OUT);
            }
        }
        if (!strcmp(name, "train") && is_file(out)) {
            leap_bundle b;
            leap_err e;
            memset(&b, 0, sizeof b);
            if (leap_bundle_load(out, &b, &e) == 0) {
                for (size_t i = 0; i < b.n_meta; i++) {
                    double v;
                    if (!strncmp(b.keys[i], "metrics.", 8) && !leap_parse_double(b.vals[i], &v))
                        leap_cli_track_metric(b.keys[i] + 8, v);
                }
                leap_bundle_free(&b);
            }
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    leap_run_cost c = {.wall_s = leap_now() - t0,
                       .cpu_s = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                                (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec,
                       .peak_rss = (uint64_t)ru.ru_maxrss * 1024};
    read_io(&c.read_bytes, &c.write_bytes);
    leap_price price = {LEAP_COST_CPU_HOUR, LEAP_COST_GB_HOUR};
    c.cost = leap_cost_price(&price, &c);

    leap_err err = {0};
    leap_track *t = NULL;
    int64_t run = 0;
    const char *exp = getenv("LEAP_EXPERIMENT");
    leap_run_start rs = {.experiment = exp, .name = name, .kind = name};
    leap_metric_point m[MAX_NOTES];
    for (int i = 0; i < notes.n_metrics; i++)
        m[i] = (leap_metric_point){notes.mkeys[i], notes.mvals[i], 0, 0};
    leap_kv tags[MAX_NOTES];
    for (int i = 0; i < notes.n_tags; i++)
        tags[i] = (leap_kv){notes.tkeys[i], notes.tvals[i]};
    int bad = leap_track_open(leap_track_default_uri(NULL), LEAP_TRACK_CREATE, &t, &err) ||
              leap_track_batch_begin(t, &err) || leap_track_run_begin(t, &rs, &run, &err) ||
              leap_track_log_params(t, run, r->kv, r->n, &err) ||
              leap_track_log_artifacts(t, run, r->art, r->na, &err) ||
              leap_track_log_metrics(t, run, m, (size_t)notes.n_metrics, &err) ||
              leap_track_set_tags(t, run, tags, (size_t)notes.n_tags, &err) ||
              leap_track_run_end(t, run, rc == 0 ? LEAP_RUN_FINISHED : LEAP_RUN_FAILED, &c, &err) ||
              leap_track_batch_commit(t, &err);
    if (bad) fprintf(stderr, "leap %s: warning: not tracked: %s\n", name, err.msg);
    leap_track_close(t);
    for (size_t i = 0; i < r->n; i++)
        free(r->own[i]);
    for (size_t i = 0; i < r->na; i++) {
        free(r->apath[i]);
        free((char *)r->art[i].role);
    }
    free(r);
}

int leap_cli_dispatch(const char *name, int (*cmd)(int, char **), int argc, char **argv) {
    if (!trackable(name) || !tracking_on()) return cmd(argc, argv);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return cmd(argc, argv);
    /* getopt permutes argv: record from a copy. */
    char **copy = calloc((size_t)argc + 1, sizeof *copy);
    if (!copy) return cmd(argc, argv);
    memcpy(copy, argv, (size_t)argc * sizeof *copy);
    double t0 = leap_now();
    int rc = cmd(argc, argv);
    if (rc != 2) record(name, argc, copy, rc, t0); /* 2: a usage error, nothing ran */
    free(copy);
    return rc;
}
