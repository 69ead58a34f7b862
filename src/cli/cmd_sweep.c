/* cmd_sweep.c — `leap sweep`: runs a pipeline once per trial with swept
 * options (grid, random, or successive halving over training epochs), all
 * trials sharing the job slots and the step cache (the unswept upstream
 * steps run once), each trial a child run of the sweep run; prints the
 * ranked table and the total cost, and writes the best trial's options as a
 * pipeline file. */
#include "cli/cli.h"
#include "cli/run_common.h"
#include "leap/pipeline.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS 8
#define MAX_TRIALS 1000

static void usage(FILE *f) {
    fprintf(f, "usage: leap sweep PIPELINE.yaml --param STEP.KEY=SPEC... [--trials N] [--jobs N]\n"
               "                  [--strategy grid|random|halving] [--metric M] [--goal max|min]\n"
               "                  [--seed S] [--grid-points K] [--eta E] [--min-epochs R]\n"
               "                  [--max-epochs R] [--with-default] [-o BEST.yaml]\n"
               "                  [--store PATH] [--experiment E] [--workdir DIR]\n"
               "                  [--cpu-hour P] [--gb-hour P] [--quiet]\n\n"
               "SPEC: [a,b,c] | loguniform(LO,HI) | uniform(LO,HI) | int(LO,HI) | VALUE\n"
               "  grid     every combination (ranges: --grid-points values each, default 3)\n"
               "  random   --trials draws (default 10)\n"
               "  halving  successive halving over the train step's epochs: --trials draws run\n"
               "           --min-epochs (1); the best 1/--eta (3) go on with eta x the epochs, up\n"
               "           to --max-epochs (default: the pipeline's epochs, else 9)\n"
               "M: a metric of the pipeline's last eval step (auc, logloss, ...) or STEP.METRIC\n"
               "(default auc; --goal default max, min for logloss and ne).\n"
               "--with-default adds the pipeline as written as one more trial, for comparison.\n");
}

typedef struct trial {
    leap_pipeline *pl;
    char label[32];
    char values[MAX_PARAMS][64];
    int64_t run;
    double metric;
    int alive, failed, epochs;
    leap_run_cost cost;
    size_t ran, cached;
} trial;

static int read_metric(leap_track *t, int64_t run, const char *key, double *v) {
    leap_run_detail d;
    leap_err e;
    *v = NAN;
    if (leap_track_run_get(t, run, &d, &e)) return -1;
    for (size_t i = 0; i < d.n_metrics; i++)
        if (!strcmp(d.metrics[i].key, key)) *v = d.metrics[i].value;
    leap_run_detail_free(&d);
    return 0;
}

static int better(double a, double b, int maximize) {
    if (isnan(b)) return !isnan(a);
    if (isnan(a)) return 0;
    return maximize ? a > b : a < b;
}

static trial *g_trials;
static int g_max;
static int cmp_trial(const void *x, const void *y) {
    const trial *a = &g_trials[*(const size_t *)x], *b = &g_trials[*(const size_t *)y];
    if (a->failed != b->failed) return a->failed - b->failed;
    if (a->epochs != b->epochs) return b->epochs - a->epochs; /* further rungs first */
    if (better(a->metric, b->metric, g_max)) return -1;
    if (better(b->metric, a->metric, g_max)) return 1;
    return 0;
}

static int run_trials(trial *tr, size_t *idx, size_t n, const leap_pipe_opts *base,
                      int64_t metric_step, const char *metric_key, leap_err *err) {
    leap_pipe_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    const char **labels = calloc(n ? n : 1, sizeof *labels);
    if (!jobs || !labels) {
        free(jobs);
        free(labels);
        return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        jobs[i] =
            (leap_pipe_job){.pl = tr[idx[i]].pl, .run = tr[idx[i]].run, .metric_step = metric_step};
        labels[i] = tr[idx[i]].label;
    }
    leap_pipe_opts o = *base;
    leap_cli_printer pr = *(const leap_cli_printer *)base->ud;
    pr.labels = labels;
    o.ud = &pr;
    int rc = leap_pipe_run(jobs, n, &o, err);
    for (size_t i = 0; i < n && !rc; i++) {
        trial *t = &tr[idx[i]];
        t->failed = jobs[i].status != LEAP_RUN_FINISHED;
        t->ran += jobs[i].n_ran;
        t->cached += jobs[i].n_cached;
        t->cost.wall_s += jobs[i].cost.wall_s;
        t->cost.cpu_s += jobs[i].cost.cpu_s;
        t->cost.cost += jobs[i].cost.cost;
        t->cost.read_bytes += jobs[i].cost.read_bytes;
        t->cost.write_bytes += jobs[i].cost.write_bytes;
        if (jobs[i].cost.peak_rss > t->cost.peak_rss) t->cost.peak_rss = jobs[i].cost.peak_rss;
        t->epochs = (int)metric_step;
        if (read_metric(base->store, t->run, metric_key, &t->metric)) t->metric = NAN;
        if (t->failed) t->metric = NAN;
    }
    free(jobs);
    free(labels);
    return rc;
}

int leap_cmd_sweep(int argc, char **argv) {
    enum {
        O_STORE = 256,
        O_EXP,
        O_WORKDIR,
        O_CPU,
        O_GB,
        O_PARAM,
        O_TRIALS,
        O_STRATEGY,
        O_METRIC,
        O_GOAL,
        O_SEED,
        O_GRID,
        O_ETA,
        O_MINE,
        O_MAXE,
        O_DEFAULT
    };
    static const struct option lo[] = {{"param", required_argument, 0, O_PARAM},
                                       {"trials", required_argument, 0, O_TRIALS},
                                       {"jobs", required_argument, 0, 'j'},
                                       {"strategy", required_argument, 0, O_STRATEGY},
                                       {"metric", required_argument, 0, O_METRIC},
                                       {"goal", required_argument, 0, O_GOAL},
                                       {"seed", required_argument, 0, O_SEED},
                                       {"grid-points", required_argument, 0, O_GRID},
                                       {"eta", required_argument, 0, O_ETA},
                                       {"min-epochs", required_argument, 0, O_MINE},
                                       {"max-epochs", required_argument, 0, O_MAXE},
                                       {"with-default", no_argument, 0, O_DEFAULT},
                                       {"output", required_argument, 0, 'o'},
                                       {"store", required_argument, 0, O_STORE},
                                       {"experiment", required_argument, 0, O_EXP},
                                       {"workdir", required_argument, 0, O_WORKDIR},
                                       {"cpu-hour", required_argument, 0, O_CPU},
                                       {"gb-hour", required_argument, 0, O_GB},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    leap_sweep_param params[MAX_PARAMS];
    size_t n_params = 0;
    int64_t n_trials = 0, jobs = 1, seed = 1, grid_points = 3, eta = 3, min_e = 1, max_e = 0;
    const char *strategy = "grid", *metric = "auc", *goal = NULL, *out = NULL, *store = NULL,
               *exp = NULL, *workdir = ".leap";
    double cpu_hour = -1, gb_hour = -1;
    int quiet = 0, with_default = 0, c, rc = 2;
    leap_err err = {0};
    leap_pipeline *pl = NULL;
    leap_track *t = NULL;
    trial *tr = NULL;
    size_t n_tr = 0, *idx = NULL;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "j:o:qh", lo, NULL)) != -1) {
        int64_t *iv = NULL, lo_v = 1, hi_v = MAX_TRIALS;
        switch (c) {
        case O_PARAM:
            if (n_params >= MAX_PARAMS) {
                leap_cli_failf("sweep", "at most %d --param", MAX_PARAMS);
                goto done;
            }
            if (leap_sweep_param_parse(optarg, &params[n_params], &err)) {
                leap_cli_fail("sweep", &err);
                goto done;
            }
            n_params++;
            break;
        case O_TRIALS: iv = &n_trials; break;
        case 'j': iv = &jobs, hi_v = 256; break;
        case O_SEED: iv = &seed, lo_v = 0, hi_v = INT64_MAX; break;
        case O_GRID: iv = &grid_points, hi_v = 100; break;
        case O_ETA: iv = &eta, lo_v = 2, hi_v = 100; break;
        case O_MINE: iv = &min_e, hi_v = 1000; break;
        case O_MAXE: iv = &max_e, hi_v = 1000; break;
        case O_STRATEGY: strategy = optarg; break;
        case O_METRIC: metric = optarg; break;
        case O_GOAL: goal = optarg; break;
        case O_DEFAULT: with_default = 1; break;
        case 'o': out = optarg; break;
        case O_STORE: store = optarg; break;
        case O_EXP: exp = optarg; break;
        case O_WORKDIR: workdir = optarg; break;
        case O_CPU:
            if (leap_cli_price_flag("sweep", "cpu-hour", optarg, &cpu_hour)) goto done;
            break;
        case O_GB:
            if (leap_cli_price_flag("sweep", "gb-hour", optarg, &gb_hour)) goto done;
            break;
        case 'q': quiet = 1; break;
        case 'h':
            usage(stdout);
            rc = 0;
            goto done;
        default:
            leap_cli_failf("sweep", "unknown or incomplete option '%s' (see --help)",
                           argv[optind - 1]);
            goto done;
        }
        if (iv && (leap_parse_i64(optarg, iv) || *iv < lo_v || *iv > hi_v)) {
            leap_cli_failf("sweep", "--%s: '%s' is not an integer in [%lld, %lld]",
                           argv[optind - 1] + 2, optarg, (long long)lo_v, (long long)hi_v);
            goto done;
        }
    }
    int grid = !strcmp(strategy, "grid"), halving = !strcmp(strategy, "halving");
    if (!grid && !halving && strcmp(strategy, "random")) {
        leap_cli_failf("sweep", "--strategy: '%s' is not grid, random or halving", strategy);
        goto done;
    }
    if (goal && strcmp(goal, "max") && strcmp(goal, "min")) {
        leap_cli_failf("sweep", "--goal: '%s' is not max or min", goal);
        goto done;
    }
    if (optind != argc - 1 || !n_params) {
        leap_cli_failf("sweep", "expected one pipeline file and at least one --param");
        goto done;
    }
    const char *file = argv[optind];
    if (leap_pipeline_load(file, &pl, &err)) {
        leap_cli_fail("sweep", &err);
        goto done;
    }
    /* the metric key on a trial's pipeline run: EVALSTEP.METRIC */
    char mkey[200];
    if (strchr(metric, '.')) {
        snprintf(mkey, sizeof mkey, "%s", metric);
    } else {
        const char *ev = NULL;
        for (size_t i = 0; i < pl->n_steps; i++)
            if (!strcmp(pl->steps[pl->order[i]].kind->name, "eval"))
                ev = pl->steps[pl->order[i]].name;
        if (!ev) {
            leap_cli_failf("sweep", "%s has no eval step; give --metric STEP.METRIC", file);
            goto done;
        }
        snprintf(mkey, sizeof mkey, "%s.%s", ev, metric);
    }
    const char *mname = strrchr(mkey, '.') + 1;
    g_max = goal ? !strcmp(goal, "max") : !(strcmp(mname, "logloss") == 0 || !strcmp(mname, "ne"));
    const char *train_step = NULL;
    if (halving) {
        for (size_t i = 0; i < pl->n_steps; i++)
            if (!strcmp(pl->steps[i].kind->name, "train")) train_step = pl->steps[i].name;
        if (!train_step) {
            leap_cli_failf("sweep", "--strategy halving needs a train step in %s", file);
            goto done;
        }
        if (!max_e) {
            const char *e = leap_pipeline_get(pl, train_step, "epochs");
            int64_t v;
            max_e = e && !leap_parse_i64(e, &v) && v > 0 ? v : 9;
        }
        if (min_e > max_e) {
            leap_cli_failf("sweep", "--min-epochs %lld is above the max %lld", (long long)min_e,
                           (long long)max_e);
            goto done;
        }
    }
    /* the trials */
    size_t grid_n = 1;
    for (size_t p = 0; p < n_params; p++) {
        size_t k = params[p].dist == LEAP_DIST_CHOICE ? params[p].n_choices : (size_t)grid_points;
        grid_n = grid_n * k > MAX_TRIALS ? MAX_TRIALS + 1 : grid_n * k;
    }
    if (grid && grid_n > MAX_TRIALS) {
        leap_cli_failf("sweep", "the grid has more than %d points", MAX_TRIALS);
        goto done;
    }
    n_tr = grid ? (n_trials && (size_t)n_trials < grid_n ? (size_t)n_trials : grid_n)
                : (size_t)(n_trials ? n_trials : 10);
    tr = calloc(n_tr + 2, sizeof *tr);
    idx = calloc(n_tr + 2, sizeof *idx);
    if (!tr || !idx) {
        leap_cli_failf("sweep", "out of memory");
        goto done;
    }
    leap_rng rng = {(uint64_t)seed * 0x9e3779b97f4a7c15ULL + 1};
    for (size_t i = 0; i < n_tr; i++) {
        size_t rest = i;
        snprintf(tr[i].label, sizeof tr[i].label, "trial %zu", i + 1);
        if (leap_pipeline_clone(pl, &tr[i].pl, &err)) {
            leap_cli_fail("sweep", &err);
            goto done;
        }
        for (size_t p = 0; p < n_params; p++) {
            size_t k =
                params[p].dist == LEAP_DIST_CHOICE ? params[p].n_choices : (size_t)grid_points;
            if (grid)
                leap_sweep_param_value(&params[p], rest % k, k, NULL, tr[i].values[p], 64);
            else
                leap_sweep_param_value(&params[p], 0, 0, &rng, tr[i].values[p], 64);
            rest /= k;
            char as[256];
            snprintf(as, sizeof as, "%.127s=%.63s", params[p].target, tr[i].values[p]);
            if (leap_pipeline_set(tr[i].pl, as, &err)) {
                leap_cli_fail("sweep", &err);
                goto done;
            }
        }
        tr[i].alive = 1;
    }
    if (with_default) {
        if (leap_pipeline_clone(pl, &tr[n_tr].pl, &err)) {
            leap_cli_fail("sweep", &err);
            goto done;
        }
        snprintf(tr[n_tr].label, sizeof tr[n_tr].label, "default");
        for (size_t p = 0; p < n_params; p++) {
            const char *dot = strchr(params[p].target, '.');
            char step[128];
            snprintf(step, sizeof step, "%.*s", (int)(dot - params[p].target), params[p].target);
            const char *v = leap_pipeline_get(pl, step, dot + 1);
            snprintf(tr[n_tr].values[p], 64, "%s", v ? v : "(default)");
        }
        tr[n_tr++].alive = 1;
    }
    rc = 1;
    char exe[4096];
    if (leap_cli_self_exe(exe, sizeof exe)) {
        leap_cli_failf("sweep", "cannot find the leap binary (/proc/self/exe)");
        goto done;
    }
    if (leap_cli_store_open("sweep", store, 1, &t)) goto done;
    double t0 = leap_now();
    int64_t sweep_run;
    char sname[200];
    snprintf(sname, sizeof sname, "%s sweep", pl->name);
    leap_run_start rs = {.experiment = exp ? exp : pl->experiment, .name = sname, .kind = "sweep"};
    if (leap_track_run_begin(t, &rs, &sweep_run, &err)) {
        leap_cli_fail("sweep", &err);
        goto done;
    }
    {
        char tv[64], mv[256];
        snprintf(tv, sizeof tv, "%zu", n_tr);
        snprintf(mv, sizeof mv, "%s (%s)", mkey, g_max ? "max" : "min");
        leap_kv kv[MAX_PARAMS + 4] = {{"strategy", strategy}, {"trials", tv}, {"metric", mv}};
        size_t nkv = 3;
        char pk[MAX_PARAMS][160];
        for (size_t p = 0; p < n_params; p++) {
            snprintf(pk[p], sizeof pk[p], "param.%.127s", params[p].target);
            const char *eq = NULL;
            for (int a = 1; a < argc; a++)
                if (!strncmp(argv[a], params[p].target, strlen(params[p].target)) &&
                    argv[a][strlen(params[p].target)] == '=')
                    eq = argv[a] + strlen(params[p].target) + 1;
            kv[nkv++] = (leap_kv){pk[p], eq ? eq : "?"};
        }
        leap_kv tag = {"file", file};
        if (leap_track_log_params(t, sweep_run, kv, nkv, &err) ||
            leap_track_set_tags(t, sweep_run, &tag, 1, &err)) {
            leap_cli_fail("sweep", &err);
            goto done;
        }
    }
    for (size_t i = 0; i < n_tr; i++) {
        leap_run_start ts = {.experiment = exp ? exp : pl->experiment,
                             .name = tr[i].label,
                             .kind = "trial",
                             .parent = sweep_run};
        leap_kv kv[MAX_PARAMS];
        for (size_t p = 0; p < n_params; p++)
            kv[p] = (leap_kv){params[p].target, tr[i].values[p]};
        if (leap_track_run_begin(t, &ts, &tr[i].run, &err) ||
            leap_track_log_params(t, tr[i].run, kv, n_params, &err)) {
            leap_cli_fail("sweep", &err);
            goto done;
        }
        idx[i] = i;
    }
    leap_cli_printer pr = {.quiet = quiet};
    leap_pipe_opts o = {.store = t,
                        .exe = exe,
                        .workdir = workdir,
                        .jobs = (int)jobs,
                        .experiment = exp,
                        .on_event = leap_cli_print_event,
                        .ud = &pr};
    leap_cli_price(pl, cpu_hour, gb_hour, &o.price);
    g_trials = tr;
    if (!halving) {
        if (run_trials(tr, idx, n_tr, &o, 0, mkey, &err)) {
            leap_cli_fail("sweep", &err);
            goto done;
        }
    } else {
        /* Successive halving: every trial at min_e epochs, the best 1/eta
         * go on at eta times the epochs, until max_e. */
        size_t alive = n_tr;
        for (int64_t r = min_e;; r = r * eta > max_e ? max_e : r * eta) {
            char as[200];
            snprintf(as, sizeof as, "%s.epochs=%lld", train_step, (long long)r);
            for (size_t i = 0; i < alive; i++)
                if (leap_pipeline_set(tr[idx[i]].pl, as, &err)) {
                    leap_cli_fail("sweep", &err);
                    goto done;
                }
            if (!quiet)
                fprintf(stderr, "halving: %zu trial(s) at %lld epoch(s)\n", alive, (long long)r);
            if (run_trials(tr, idx, alive, &o, r, mkey, &err)) {
                leap_cli_fail("sweep", &err);
                goto done;
            }
            qsort(idx, alive, sizeof *idx, cmp_trial);
            if (r >= max_e || alive <= 1) break;
            size_t keep = (alive + (size_t)eta - 1) / (size_t)eta;
            for (size_t i = keep; i < alive; i++) {
                char sv[32];
                snprintf(sv, sizeof sv, "%lld", (long long)r);
                leap_kv tag = {"stopped_at_epochs", sv};
                leap_track_set_tags(t, tr[idx[i]].run, &tag, 1, &err);
            }
            alive = keep;
        }
    }
    /* end the trials, rank, report */
    leap_run_cost total = {0};
    size_t ran = 0, cached = 0;
    for (size_t i = 0; i < n_tr; i++) {
        idx[i] = i;
        leap_err e2;
        leap_track_run_end(t, tr[i].run, tr[i].failed ? LEAP_RUN_FAILED : LEAP_RUN_FINISHED,
                           &tr[i].cost, &e2);
        total.cpu_s += tr[i].cost.cpu_s;
        total.cost += tr[i].cost.cost;
        total.read_bytes += tr[i].cost.read_bytes;
        total.write_bytes += tr[i].cost.write_bytes;
        if (tr[i].cost.peak_rss > total.peak_rss) total.peak_rss = tr[i].cost.peak_rss;
        ran += tr[i].ran;
        cached += tr[i].cached;
    }
    qsort(idx, n_tr, sizeof *idx, cmp_trial);
    total.wall_s = leap_now() - t0;
    printf("\nsweep %s: run %lld, %zu trial(s), strategy %s, %s %s\n", pl->name,
           (long long)sweep_run, n_tr, strategy, g_max ? "max" : "min", mkey);
    printf("%4s  %-9s %6s  %-8s", "rank", "trial", "run", "status");
    if (halving) printf(" %6s", "epochs");
    for (size_t p = 0; p < n_params; p++)
        printf(" %14.14s", params[p].target);
    printf(" %12s %9s %10s\n", mname, "cpu", "cost");
    for (size_t k = 0; k < n_tr; k++) {
        const trial *x = &tr[idx[k]];
        char cpu[32];
        leap_cli_fmt_secs(x->cost.cpu_s, cpu, sizeof cpu);
        printf("%4zu  %-9s %6lld  %-8s", k + 1, x->label, (long long)x->run,
               x->failed ? "failed" : "finished");
        if (halving) printf(" %6d", x->epochs);
        for (size_t p = 0; p < n_params; p++)
            printf(" %14.14s", x->values[p]);
        if (isnan(x->metric))
            printf(" %12s", "-");
        else
            printf(" %12.6f", x->metric);
        printf(" %9s %10.6f\n", cpu, x->cost.cost);
    }
    char w[32], cpu[32];
    leap_cli_fmt_secs(total.wall_s, w, sizeof w);
    leap_cli_fmt_secs(total.cpu_s, cpu, sizeof cpu);
    printf("total: %zu step(s) ran, %zu cached; wall %s, cpu %s, cost %.6f (cpu_hour %g, "
           "gb_hour %g)\n",
           ran, cached, w, cpu, total.cost, o.price.cpu_hour, o.price.gb_hour);
    const trial *best =
        n_tr && !tr[idx[0]].failed && !isnan(tr[idx[0]].metric) ? &tr[idx[0]] : NULL;
    int status_ok = best != NULL;
    if (best) {
        char bpath[4200];
        if (!out) {
            size_t fl = strlen(file);
            const char *dot = fl > 5 && !strcmp(file + fl - 5, ".yaml")  ? file + fl - 5
                              : fl > 4 && !strcmp(file + fl - 4, ".yml") ? file + fl - 4
                                                                         : file + fl;
            snprintf(bpath, sizeof bpath, "%.*s.best.yaml", (int)(dot - file), file);
            out = bpath;
        }
        leap_afile af;
        if (leap_afile_open(&af, out, &err) == 0) {
            fprintf(af.fp, "# best trial of sweep run %lld: %s %s = %.9g\n", (long long)sweep_run,
                    best->label, mkey, best->metric);
            leap_pipeline_write(best->pl, af.fp);
            if (leap_afile_commit(&af, &err)) leap_cli_fail("sweep", &err);
        } else {
            leap_cli_fail("sweep", &err);
        }
        printf("best: %s (run %lld) %s %.6f; options written to %s\n", best->label,
               (long long)best->run, mkey, best->metric, out);
        leap_metric_point mp = {"best", best->metric, 0, 0};
        char br[32];
        snprintf(br, sizeof br, "%lld", (long long)best->run);
        leap_kv tag = {"best_run", br};
        leap_track_log_metrics(t, sweep_run, &mp, 1, &err);
        leap_track_set_tags(t, sweep_run, &tag, 1, &err);
    } else {
        fprintf(stderr, "leap sweep: no trial finished with a value of %s\n", mkey);
    }
    leap_track_run_end(t, sweep_run, status_ok ? LEAP_RUN_FINISHED : LEAP_RUN_FAILED, &total, &err);
    rc = status_ok ? 0 : 1;
done:
    for (size_t i = 0; tr && i < n_tr + 2; i++)
        leap_pipeline_free(tr[i].pl);
    free(tr);
    free(idx);
    for (size_t p = 0; p < n_params; p++)
        leap_sweep_param_free(&params[p]);
    leap_pipeline_free(pl);
    leap_track_close(t);
    return rc;
}
