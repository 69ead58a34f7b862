/* cmd_runs.c — `leap runs list|show|compare|export` over the tracking store,
 * and `leap lineage`. Queries go through leap/track.h; this file formats. */
#include "cli/cli.h"
#include "leap/track.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: leap runs list [--experiment E] [--filter EXPR] [--sort [-]FIELD] [--limit N]\n"
            "                      [--top] [--parent RUN] [--metrics a,b,...]\n"
            "       leap runs show RUN|last\n"
            "       leap runs compare RUN RUN...\n"
            "       leap runs export --csv|--json [--experiment E] [--filter EXPR] [--sort F]\n"
            "all take --store PATH (default $LEAP_STORE or ./leap.db).\n\n"
            "EXPR: comparisons joined by and, or, not, parentheses:\n"
            "  metrics.auc > 0.78 and params.alpha <= 0.1 and status = finished\n"
            "  fields: metrics.KEY, params.KEY, tags.KEY, id, parent, experiment, name, kind,\n"
            "  status, host, start, end, wall, cpu, rss, read, written, cost, git, version, key\n"
            "  operators: = != < <= > >= ~ (contains); values: numbers, 'text', words\n"
            "FIELD for --sort: the same fields; a leading - sorts descending.\n");
}

typedef struct ropts {
    const char *store, *experiment, *filter, *sort, *metrics;
    int64_t parent;
    size_t limit;
    int top, csv, json;
} ropts;

static void fmt_num(double v, char *buf, size_t len) {
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.6g", v);
}

/* Metric columns: --metrics, else the metrics the filter and sort name,
 * else auc. */
static size_t metric_cols(const ropts *o, char names[8][64]) {
    size_t n = 0;
    if (o->metrics) {
        const char *p = o->metrics;
        while (*p && n < 8) {
            size_t l = strcspn(p, ",");
            if (l) snprintf(names[n++], 64, "%.*s", (int)l, p);
            p += l + (p[l] == ',');
        }
        return n;
    }
    const char *texts[2] = {o->sort, o->filter};
    for (int t = 0; t < 2; t++) {
        const char *p = texts[t];
        while (p && (p = strstr(p, "metrics.")) && n < 8) {
            p += 8;
            size_t l = strcspn(p, " \t=!<>~()");
            int dup = 0;
            for (size_t i = 0; i < n; i++)
                dup |= strlen(names[i]) == l && !strncmp(names[i], p, l);
            if (l && !dup) snprintf(names[n++], 64, "%.*s", (int)l, p);
        }
    }
    if (!n) snprintf(names[n++], 64, "auc");
    return n;
}

static int do_query(leap_track *t, const ropts *o, const char *const *cols, size_t n_cols,
                    leap_run_list *l) {
    leap_err err = {0};
    leap_filter *f = NULL;
    if (o->filter && leap_filter_parse(o->filter, &f, &err)) return leap_cli_fail("runs", &err);
    leap_run_query q = {.experiment = o->experiment,
                        .filter = f,
                        .sort = o->sort,
                        .parent = o->parent,
                        .top_level = o->top,
                        .limit = o->limit,
                        .metric_cols = cols,
                        .n_metric_cols = n_cols};
    int rc = leap_track_query(t, &q, l, &err);
    leap_filter_free(f);
    return rc ? leap_cli_fail("runs", &err) : 0;
}

static int cmd_list(leap_track *t, const ropts *o) {
    char names[8][64];
    size_t nm = metric_cols(o, names);
    const char *cols[8];
    for (size_t i = 0; i < nm; i++)
        cols[i] = names[i];
    leap_run_list l;
    int rc = do_query(t, o, cols, nm, &l);
    if (rc) return rc;
    printf("%6s %6s  %-12s %-16s %-10s %-8s  %-19s %9s %10s", "id", "parent", "experiment", "name",
           "kind", "status", "started", "wall", "cost");
    for (size_t j = 0; j < nm; j++)
        printf(" %12.12s", names[j]);
    printf("\n");
    for (size_t i = 0; i < l.n; i++) {
        const leap_run_rec *r = &l.runs[i];
        char when[32], wall[32], par[24];
        leap_cli_fmt_time(r->start_time, when, sizeof when);
        leap_cli_fmt_secs(r->cost.wall_s, wall, sizeof wall);
        if (r->parent)
            snprintf(par, sizeof par, "%lld", (long long)r->parent);
        else
            snprintf(par, sizeof par, "-");
        printf("%6lld %6s  %-12.12s %-16.16s %-10.10s %-8s  %-19s %9s %10.6f", (long long)r->id,
               par, r->experiment, r->name, r->kind, leap_run_status_name(r->status), when,
               r->status == LEAP_RUN_RUNNING ? "-" : wall, r->cost.cost);
        for (size_t j = 0; j < nm; j++) {
            char v[32];
            fmt_num(l.metrics[i * nm + j], v, sizeof v);
            printf(" %12s", v);
        }
        printf("\n");
    }
    printf("%zu run(s)\n", l.n);
    leap_run_list_free(&l);
    return 0;
}

static int parse_run(leap_track *t, const char *s, int64_t *id) {
    leap_err err = {0};
    if (!strcmp(s, "last")) {
        if (leap_track_last_run(t, id, &err)) return leap_cli_fail("runs", &err);
        if (!*id) return leap_cli_failf("runs", "the store has no runs");
        return 0;
    }
    if (leap_parse_i64(s, id) || *id <= 0)
        return leap_cli_failf("runs", "'%s' is not a run id (a positive number, or last)", s);
    return 0;
}

static void print_cost_line(const char *label, const leap_run_cost *c) {
    char w[32], cpu[32], rss[32], rd[32], wr[32];
    leap_cli_fmt_secs(c->wall_s, w, sizeof w);
    leap_cli_fmt_secs(c->cpu_s, cpu, sizeof cpu);
    leap_cli_fmt_bytes((double)c->peak_rss, rss, sizeof rss);
    leap_cli_fmt_bytes((double)c->read_bytes, rd, sizeof rd);
    leap_cli_fmt_bytes((double)c->write_bytes, wr, sizeof wr);
    printf("  %-22s wall %9s  cpu %9s  peak %9s  read %9s  written %9s  cost %.6f\n", label, w, cpu,
           rss, rd, wr, c->cost);
}

static void add_cost(leap_run_cost *a, const leap_run_cost *b) {
    a->wall_s += b->wall_s;
    a->cpu_s += b->cpu_s;
    if (b->peak_rss > a->peak_rss) a->peak_rss = b->peak_rss;
    a->read_bytes += b->read_bytes;
    a->write_bytes += b->write_bytes;
    a->cost += b->cost;
}

/* Cost per stage over the steps below run (children, and their children
 * for sweeps). */
static void stage_costs(leap_track *t, const leap_run_detail *d, leap_run_cost st[4], int depth) {
    static const char *const stages[4] = {"features", "training", "evaluation", "other"};
    for (size_t i = 0; i < d->n_children; i++) {
        const leap_run_rec *c = &d->children[i];
        if (!strcmp(c->kind, "pipeline") || !strcmp(c->kind, "trial") ||
            !strcmp(c->kind, "sweep")) {
            leap_run_detail cd;
            leap_err e;
            if (depth < 3 && leap_track_run_get(t, c->id, &cd, &e) == 0) {
                stage_costs(t, &cd, st, depth + 1);
                leap_run_detail_free(&cd);
            }
            continue;
        }
        const char *s = leap_cost_stage(c->kind);
        for (int k = 0; k < 4; k++)
            if (!strcmp(s, stages[k])) add_cost(&st[k], &c->cost);
    }
}

static int cmd_show(leap_track *t, const char *which) {
    int64_t id;
    int rc = parse_run(t, which, &id);
    if (rc) return rc;
    leap_run_detail d;
    leap_err err = {0};
    if (leap_track_run_get(t, id, &d, &err)) return leap_cli_fail("runs", &err);
    const leap_run_rec *r = &d.run;
    char a[32], b[32];
    leap_cli_fmt_time(r->start_time, a, sizeof a);
    printf("run %lld: %s (%s), experiment %s, %s\n", (long long)r->id, r->name, r->kind,
           r->experiment, leap_run_status_name(r->status));
    if (r->parent) printf("  parent      %lld\n", (long long)r->parent);
    printf("  started     %s", a);
    if (r->end_time > 0) {
        leap_cli_fmt_time(r->end_time, b, sizeof b);
        printf(", ended %s", b);
    }
    printf("\n  host        %s (pid %lld)\n  leap        %s\n", r->host, (long long)r->pid,
           r->leap_version);
    if (r->git_commit) printf("  git commit  %s\n", r->git_commit);
    if (r->step_key) printf("  step key    %s\n", r->step_key);
    printf("cost\n");
    print_cost_line("this run", &r->cost);
    if (d.n_children) {
        leap_run_cost st[4] = {{0}};
        stage_costs(t, &d, st, 0);
        static const char *const labels[4] = {"feature generation", "training", "evaluation",
                                              "other"};
        leap_run_cost total = {0};
        for (int k = 0; k < 4; k++) {
            if (st[k].cpu_s > 0 || st[k].wall_s > 0) print_cost_line(labels[k], &st[k]);
            add_cost(&total, &st[k]);
        }
        print_cost_line("total of the steps", &total);
    }
    if (d.n_params) printf("params\n");
    for (size_t i = 0; i < d.n_params; i++)
        printf("  %-28s %s\n", d.params[i].key, d.params[i].value);
    if (d.n_metrics) printf("metrics\n");
    for (size_t i = 0; i < d.n_metrics; i++) {
        char v[32];
        fmt_num(d.metrics[i].value, v, sizeof v);
        printf("  %-28s %-14s", d.metrics[i].key, v);
        if (d.metrics[i].n_points > 1)
            printf(" (step %lld, %zu points)", (long long)d.metrics[i].step, d.metrics[i].n_points);
        printf("\n");
    }
    if (d.n_tags) printf("tags\n");
    for (size_t i = 0; i < d.n_tags; i++)
        printf("  %-28s %s\n", d.tags[i].key, d.tags[i].value);
    if (d.n_artifacts) printf("artifacts\n");
    for (size_t i = 0; i < d.n_artifacts; i++) {
        char sz[32];
        leap_cli_fmt_bytes((double)d.artifacts[i].size, sz, sizeof sz);
        printf("  %-4s %-10s %s  (%s, xxh3 %016llx)\n",
               d.artifacts[i].dir == LEAP_ART_IN ? "in" : "out", d.artifacts[i].role,
               d.artifacts[i].path, sz, (unsigned long long)d.artifacts[i].hash);
    }
    if (d.n_children) {
        printf("children\n");
        for (size_t i = 0; i < d.n_children; i++) {
            const leap_run_rec *c = &d.children[i];
            char w[32], cpu[32], rss[32];
            leap_cli_fmt_secs(c->cost.wall_s, w, sizeof w);
            leap_cli_fmt_secs(c->cost.cpu_s, cpu, sizeof cpu);
            leap_cli_fmt_bytes((double)c->cost.peak_rss, rss, sizeof rss);
            printf("  %6lld %-16.16s %-10.10s %-8s wall %9s cpu %9s peak %9s cost %.6f\n",
                   (long long)c->id, c->name, c->kind, leap_run_status_name(c->status), w, cpu, rss,
                   c->cost.cost);
        }
    }
    leap_run_detail_free(&d);
    return 0;
}

/* ---- compare ---------------------------------------------------------------- */
static const char *kv_get(const leap_kv *kv, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(kv[i].key, key)) return kv[i].value;
    return NULL;
}

static int cmd_compare(leap_track *t, int n, char **ids) {
    if (n < 2) return leap_cli_failf("runs", "compare needs two or more runs"), 2;
    if (n > 16) return leap_cli_failf("runs", "compare: at most 16 runs"), 2;
    leap_run_detail d[16];
    leap_err err = {0};
    int got = 0, rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        int64_t id;
        if ((rc = parse_run(t, ids[i], &id))) break;
        if (leap_track_run_get(t, id, &d[i], &err)) {
            rc = leap_cli_fail("runs", &err);
            break;
        }
        got++;
    }
    if (rc) {
        for (int i = 0; i < got; i++)
            leap_run_detail_free(&d[i]);
        return rc;
    }
    int tty = isatty(1);
    const char *hi = tty ? "\033[1;33m" : "", *off = tty ? "\033[0m" : "";
    printf("  %-28s", "run");
    for (int i = 0; i < n; i++)
        printf(" %16lld", (long long)d[i].run.id);
    printf("\n  %-28s", "name");
    for (int i = 0; i < n; i++)
        printf(" %16.16s", d[i].run.name);
    printf("\n  %-28s", "status");
    for (int i = 0; i < n; i++)
        printf(" %16s", leap_run_status_name(d[i].run.status));
    printf("\n");
    /* one row per key of any run: params, then metrics, then cost */
    for (int section = 0; section < 3; section++) {
        printf("%s\n", section == 0 ? "params" : section == 1 ? "metrics" : "cost");
        size_t rows = section == 2 ? 4 : 0;
        const char *keys[512];
        if (section < 2)
            for (int i = 0; i < n; i++) {
                size_t m = section == 0 ? d[i].n_params : d[i].n_metrics;
                for (size_t k = 0; k < m && rows < 512; k++) {
                    const char *key = section == 0 ? d[i].params[k].key : d[i].metrics[k].key;
                    int dup = 0;
                    for (size_t q = 0; q < rows; q++)
                        dup |= !strcmp(keys[q], key);
                    if (!dup) keys[rows++] = key;
                }
            }
        static const char *const cost_rows[4] = {"wall_s", "cpu_s", "peak_rss_mb", "cost"};
        for (size_t k = 0; k < rows; k++) {
            char vals[16][40];
            for (int i = 0; i < n; i++) {
                if (section == 0) {
                    const char *v = kv_get(d[i].params, d[i].n_params, keys[k]);
                    snprintf(vals[i], sizeof vals[i], "%s", v ? v : "-");
                } else if (section == 1) {
                    double v = NAN;
                    for (size_t q = 0; q < d[i].n_metrics; q++)
                        if (!strcmp(d[i].metrics[q].key, keys[k])) v = d[i].metrics[q].value;
                    fmt_num(v, vals[i], sizeof vals[i]);
                } else {
                    const leap_run_cost *c = &d[i].run.cost;
                    double v = k == 0   ? c->wall_s
                               : k == 1 ? c->cpu_s
                               : k == 2 ? (double)c->peak_rss / 1e6
                                        : c->cost;
                    snprintf(vals[i], sizeof vals[i], k == 3 ? "%.6f" : "%.3f", v);
                }
            }
            int differs = 0;
            for (int i = 1; i < n; i++)
                differs |= strcmp(vals[i], vals[0]) != 0;
            printf("%s%c %-28.28s", differs ? hi : "", differs ? '*' : ' ',
                   section == 2 ? cost_rows[k] : keys[k]);
            for (int i = 0; i < n; i++)
                printf(" %16.16s", vals[i]);
            printf("%s\n", differs ? off : "");
        }
    }
    printf("(* = differs)\n");
    for (int i = 0; i < n; i++)
        leap_run_detail_free(&d[i]);
    return 0;
}

/* ---- export ------------------------------------------------------------------ */
static void csv_field(const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static int cmd_export(leap_track *t, const ropts *o) {
    if (o->csv == o->json) return leap_cli_failf("runs", "export: give --csv or --json"), 2;
    leap_run_list l;
    int rc = do_query(t, o, NULL, 0, &l);
    if (rc) return rc;
    leap_run_detail *d = calloc(l.n ? l.n : 1, sizeof *d);
    if (!d) {
        leap_run_list_free(&l);
        return leap_cli_failf("runs", "out of memory");
    }
    leap_err err = {0};
    for (size_t i = 0; i < l.n && !rc; i++)
        if (leap_track_run_get(t, l.runs[i].id, &d[i], &err)) rc = leap_cli_fail("runs", &err);
    static const char *const base[] = {
        "id",    "parent",   "experiment", "name",          "kind", "status",
        "start", "end",      "host",       "version",       "git",  "wall_s",
        "cpu_s", "peak_rss", "read_bytes", "written_bytes", "cost"};
    const size_t nb = sizeof base / sizeof base[0];
    /* union of param and metric keys, in first-seen order */
    const char **pk = NULL, **mk = NULL;
    size_t npk = 0, nmk = 0;
    if (!rc && o->csv) {
        pk = calloc(4096, sizeof *pk);
        mk = calloc(4096, sizeof *mk);
        for (size_t i = 0; pk && mk && i < l.n; i++) {
            for (size_t k = 0; k < d[i].n_params && npk < 4096; k++) {
                int dup = 0;
                for (size_t q = 0; q < npk && !dup; q++)
                    dup = !strcmp(pk[q], d[i].params[k].key);
                if (!dup) pk[npk++] = d[i].params[k].key;
            }
            for (size_t k = 0; k < d[i].n_metrics && nmk < 4096; k++) {
                int dup = 0;
                for (size_t q = 0; q < nmk && !dup; q++)
                    dup = !strcmp(mk[q], d[i].metrics[k].key);
                if (!dup) mk[nmk++] = d[i].metrics[k].key;
            }
        }
        for (size_t b = 0; b < nb; b++)
            printf("%s%s", b ? "," : "", base[b]);
        for (size_t k = 0; k < npk; k++) {
            printf(",params.");
            csv_field(pk[k]);
        }
        for (size_t k = 0; k < nmk; k++) {
            printf(",metrics.");
            csv_field(mk[k]);
        }
        printf("\n");
    }
    if (!rc && o->json) printf("[");
    for (size_t i = 0; i < l.n && !rc; i++) {
        const leap_run_rec *r = &d[i].run;
        char num[17][64];
        snprintf(num[0], 64, "%lld", (long long)r->id);
        snprintf(num[1], 64, "%lld", (long long)r->parent);
        snprintf(num[6], 64, "%.3f", r->start_time);
        snprintf(num[7], 64, "%.3f", r->end_time);
        snprintf(num[11], 64, "%.6g", r->cost.wall_s);
        snprintf(num[12], 64, "%.6g", r->cost.cpu_s);
        snprintf(num[13], 64, "%llu", (unsigned long long)r->cost.peak_rss);
        snprintf(num[14], 64, "%llu", (unsigned long long)r->cost.read_bytes);
        snprintf(num[15], 64, "%llu", (unsigned long long)r->cost.write_bytes);
        snprintf(num[16], 64, "%.9g", r->cost.cost);
        const char *vals[17] = {num[0],
                                num[1],
                                r->experiment,
                                r->name,
                                r->kind,
                                leap_run_status_name(r->status),
                                num[6],
                                num[7],
                                r->host,
                                r->leap_version,
                                r->git_commit ? r->git_commit : "",
                                num[11],
                                num[12],
                                num[13],
                                num[14],
                                num[15],
                                num[16]};
        if (o->csv) {
            for (size_t b = 0; b < nb; b++) {
                if (b) putchar(',');
                csv_field(vals[b]);
            }
            for (size_t k = 0; k < npk; k++) {
                putchar(',');
                const char *v = kv_get(d[i].params, d[i].n_params, pk[k]);
                if (v) csv_field(v);
            }
            for (size_t k = 0; k < nmk; k++) {
                putchar(',');
                for (size_t q = 0; q < d[i].n_metrics; q++)
                    if (!strcmp(d[i].metrics[q].key, mk[k]) && !isnan(d[i].metrics[q].value))
                        printf("%.9g", d[i].metrics[q].value);
            }
            putchar('\n');
        } else {
            printf("%s\n {", i ? "," : "");
            for (size_t b = 0; b < nb; b++) {
                printf("%s\"%s\": ", b ? ", " : "", base[b]);
                int numeric = b == 0 || b == 1 || b == 6 || b == 7 || b >= 11;
                if (numeric)
                    fputs(vals[b], stdout);
                else
                    json_str(vals[b]);
            }
            for (int s = 0; s < 2; s++) {
                const leap_kv *kv = s ? d[i].tags : d[i].params;
                size_t m = s ? d[i].n_tags : d[i].n_params;
                printf(", \"%s\": {", s ? "tags" : "params");
                for (size_t k = 0; k < m; k++) {
                    if (k) printf(", ");
                    json_str(kv[k].key);
                    printf(": ");
                    json_str(kv[k].value);
                }
                printf("}");
            }
            printf(", \"metrics\": {");
            for (size_t k = 0; k < d[i].n_metrics; k++) {
                if (k) printf(", ");
                json_str(d[i].metrics[k].key);
                if (isfinite(d[i].metrics[k].value))
                    printf(": %.9g", d[i].metrics[k].value);
                else
                    printf(": null");
            }
            printf("}}");
        }
    }
    if (!rc && o->json) printf("\n]\n");
    for (size_t i = 0; i < l.n; i++)
        leap_run_detail_free(&d[i]);
    free(d);
    free(pk);
    free(mk);
    leap_run_list_free(&l);
    return rc;
}

int leap_cmd_runs(int argc, char **argv) {
    enum {
        O_STORE = 256,
        O_EXP,
        O_FILTER,
        O_SORT,
        O_LIMIT,
        O_TOP,
        O_PARENT,
        O_METRICS,
        O_CSV,
        O_JSON
    };
    static const struct option lo[] = {{"store", required_argument, 0, O_STORE},
                                       {"experiment", required_argument, 0, O_EXP},
                                       {"filter", required_argument, 0, O_FILTER},
                                       {"sort", required_argument, 0, O_SORT},
                                       {"limit", required_argument, 0, O_LIMIT},
                                       {"top", no_argument, 0, O_TOP},
                                       {"parent", required_argument, 0, O_PARENT},
                                       {"metrics", required_argument, 0, O_METRICS},
                                       {"csv", no_argument, 0, O_CSV},
                                       {"json", no_argument, 0, O_JSON},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        usage(stdout);
        return 0;
    }
    ropts o = {0};
    int c;
    optind = 2;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        int64_t v;
        switch (c) {
        case O_STORE: o.store = optarg; break;
        case O_EXP: o.experiment = optarg; break;
        case O_FILTER: o.filter = optarg; break;
        case O_SORT: o.sort = optarg; break;
        case O_METRICS: o.metrics = optarg; break;
        case O_TOP: o.top = 1; break;
        case O_CSV: o.csv = 1; break;
        case O_JSON: o.json = 1; break;
        case O_LIMIT:
        case O_PARENT:
            if (leap_parse_i64(optarg, &v) || v < 0)
                return leap_cli_failf("runs", "--%s: '%s' is not a non-negative integer",
                                      c == O_LIMIT ? "limit" : "parent", optarg),
                       2;
            if (c == O_LIMIT)
                o.limit = (size_t)v;
            else
                o.parent = v;
            break;
        case 'h': usage(stdout); return 0;
        default:
            leap_cli_failf("runs", "unknown or incomplete option '%s' (see --help)",
                           argv[optind - 1]);
            return 2;
        }
    }
    int is_list = !strcmp(sub, "list"), is_show = !strcmp(sub, "show"),
        is_cmp = !strcmp(sub, "compare"), is_exp = !strcmp(sub, "export");
    if (!is_list && !is_show && !is_cmp && !is_exp) {
        leap_cli_failf("runs", "unknown sub-command '%s' (list, show, compare, export)", sub);
        return 2;
    }
    int npos = argc - optind;
    if ((is_list || is_exp) && npos)
        return leap_cli_failf("runs", "unexpected argument '%s'", argv[optind]), 2;
    if (is_show && npos != 1) return leap_cli_failf("runs", "show takes one run id"), 2;
    if (o.sort) {
        leap_err err = {0};
        if (leap_track_sort_check(o.sort, &err)) return leap_cli_fail("runs", &err), 2;
    }
    leap_track *t;
    if (leap_cli_store_open("runs", o.store, 0, &t)) return 1;
    leap_err rerr = {0};
    leap_track_reap(t, NULL, &rerr); /* runs of dead processes show as killed, not running */
    int rc;
    if (is_list)
        rc = cmd_list(t, &o);
    else if (is_show)
        rc = cmd_show(t, argv[optind]);
    else if (is_cmp)
        rc = cmd_compare(t, npos, argv + optind);
    else
        rc = cmd_export(t, &o);
    leap_track_close(t);
    return rc;
}
