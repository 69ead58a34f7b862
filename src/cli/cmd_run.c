/* cmd_run.c — `leap run PIPELINE.yaml`: checks the whole file, then runs
 * its steps (src/track/pipeline_run.c) and prints one line per step event
 * and a summary. Also the helpers `leap sweep` shares: the price table and
 * the event printer. */
#include "cli/cli.h"
#include "cli/run_common.h"
#include "leap/pipeline.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: leap run PIPELINE.yaml [--jobs N] [--force STEP]... [--set STEP.KEY=VALUE]...\n"
            "                [--store PATH] [--experiment E] [--workdir DIR]\n"
            "                [--cpu-hour PRICE] [--gb-hour PRICE] [--check] [--quiet]\n\n"
            "Checks the whole pipeline file (unknown keys, options, references, cycles), then\n"
            "runs its steps as `leap` child processes, independent steps in parallel. A step\n"
            "whose key (kind, options, inputs' content hashes, leap version) already finished\n"
            "is skipped and its outputs reused. Every step is recorded in the store with its\n"
            "cost; outputs go to WORKDIR/steps/STEP/KEY.RUN/ (default .leap).\n\n"
            "  --jobs N           steps run at once (default 1)\n"
            "  --force STEP       rerun STEP and everything downstream of it\n"
            "  --set S.K=V        override option K of step S (train: model options too)\n"
            "  --store PATH       tracking store (default $LEAP_STORE or ./leap.db)\n"
            "  --experiment E     experiment name (default: the file's, else \"default\")\n"
            "  --cpu-hour P       price of one CPU-hour (default: the file's cost.cpu_hour,\n"
            "                     else %g)\n"
            "  --gb-hour P        price of one GB of memory for an hour (default %g)\n"
            "  --check            check the file and print the steps in order; run nothing\n"
            "  --quiet            print only the summary\n"
            "step kinds:\n",
            LEAP_COST_CPU_HOUR, LEAP_COST_GB_HOUR);
    for (size_t i = 0; i < leap_step_kind_count(); i++)
        fprintf(f, "  %-14s %s\n", leap_step_kind_at(i)->name, leap_step_kind_at(i)->help);
}

int leap_cli_price_flag(const char *cmd, const char *name, const char *arg, double *out) {
    double d;
    if (leap_parse_double(arg, &d) || d < 0) {
        leap_cli_failf(cmd, "--%s: '%s' is not a non-negative number", name, arg);
        return -1;
    }
    *out = d;
    return 0;
}

void leap_cli_price(const leap_pipeline *pl, double cpu_hour, double gb_hour, leap_price *out) {
    *out = (leap_price){LEAP_COST_CPU_HOUR, LEAP_COST_GB_HOUR};
    if (pl && pl->has_price) *out = pl->price;
    if (cpu_hour >= 0) out->cpu_hour = cpu_hour;
    if (gb_hour >= 0) out->gb_hour = gb_hour;
}

void leap_cli_print_event(void *ud, const leap_pipe_event *ev) {
    const leap_cli_printer *p = ud;
    if (p->quiet && ev->type != LEAP_EV_FAILED) return;
    char label[160];
    if (p->labels && p->labels[ev->job])
        snprintf(label, sizeof label, "%s/%s", p->labels[ev->job], ev->step);
    else
        snprintf(label, sizeof label, "%s", ev->step);
    switch (ev->type) {
    case LEAP_EV_START:
        fprintf(stderr, "[%s] started (run %lld, key %s)\n", label, (long long)ev->run, ev->key);
        break;
    case LEAP_EV_CACHED:
        fprintf(stderr, "[%s] cached (run %lld reuses run %lld)%s%s\n", label, (long long)ev->run,
                (long long)ev->cached_from, ev->summary && ev->summary[0] ? "  " : "",
                ev->summary ? ev->summary : "");
        break;
    case LEAP_EV_DONE: {
        char w[32], c[32], r[32];
        leap_cli_fmt_secs(ev->cost->wall_s, w, sizeof w);
        leap_cli_fmt_secs(ev->cost->cpu_s, c, sizeof c);
        leap_cli_fmt_bytes((double)ev->cost->peak_rss, r, sizeof r);
        fprintf(stderr, "[%s] done in %s (cpu %s, peak %s, cost %.6f)%s%s\n", label, w, c, r,
                ev->cost->cost, ev->summary && ev->summary[0] ? "  " : "",
                ev->summary ? ev->summary : "");
        break;
    }
    case LEAP_EV_FAILED:
        fprintf(stderr, "[%s] FAILED%s%s (log: %s)\n", label, ev->message ? ": " : "",
                ev->message ? ev->message : "", ev->log ? ev->log : "none");
        break;
    case LEAP_EV_SKIPPED: fprintf(stderr, "[%s] skipped: an input step failed\n", label); break;
    }
}

int leap_cmd_run(int argc, char **argv) {
    enum { O_STORE = 256, O_EXP, O_WORKDIR, O_CPU, O_GB, O_CHECK, O_SET };
    static const struct option lo[] = {{"jobs", required_argument, 0, 'j'},
                                       {"force", required_argument, 0, 'f'},
                                       {"set", required_argument, 0, O_SET},
                                       {"store", required_argument, 0, O_STORE},
                                       {"experiment", required_argument, 0, O_EXP},
                                       {"workdir", required_argument, 0, O_WORKDIR},
                                       {"cpu-hour", required_argument, 0, O_CPU},
                                       {"gb-hour", required_argument, 0, O_GB},
                                       {"check", no_argument, 0, O_CHECK},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int jobs = 1, check = 0, quiet = 0;
    const char *store = NULL, *exp = NULL, *workdir = ".leap";
    double cpu_hour = -1, gb_hour = -1;
    const char **force = calloc((size_t)argc + 1, sizeof *force);
    const char **sets = calloc((size_t)argc + 1, sizeof *sets);
    size_t n_force = 0, n_sets = 0;
    int c, rc = 2;
    leap_pipeline *pl = NULL;
    leap_track *t = NULL;
    if (!force || !sets) {
        free(force);
        free(sets);
        return leap_cli_failf("run", "out of memory");
    }
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "j:f:qh", lo, NULL)) != -1) {
        int64_t v;
        switch (c) {
        case 'j':
            if (leap_parse_i64(optarg, &v) || v < 1 || v > 256) {
                leap_cli_failf("run", "--jobs: '%s' is not an integer in [1, 256]", optarg);
                goto done;
            }
            jobs = (int)v;
            break;
        case 'f': force[n_force++] = optarg; break;
        case O_SET: sets[n_sets++] = optarg; break;
        case O_STORE: store = optarg; break;
        case O_EXP: exp = optarg; break;
        case O_WORKDIR: workdir = optarg; break;
        case O_CPU:
            if (leap_cli_price_flag("run", "cpu-hour", optarg, &cpu_hour)) goto done;
            break;
        case O_GB:
            if (leap_cli_price_flag("run", "gb-hour", optarg, &gb_hour)) goto done;
            break;
        case O_CHECK: check = 1; break;
        case 'q': quiet = 1; break;
        case 'h':
            usage(stdout);
            rc = 0;
            goto done;
        default:
            leap_cli_failf("run", "unknown or incomplete option '%s' (see --help)",
                           argv[optind - 1]);
            goto done;
        }
    }
    if (optind != argc - 1) {
        leap_cli_failf("run", "expected one pipeline file (see --help)");
        goto done;
    }
    leap_err err = {0};
    if (leap_pipeline_load(argv[optind], &pl, &err)) {
        leap_cli_fail("run", &err);
        goto done;
    }
    for (size_t i = 0; i < n_sets; i++)
        if (leap_pipeline_set(pl, sets[i], &err)) {
            leap_cli_fail("run", &err);
            goto done;
        }
    for (size_t i = 0; i < n_force; i++)
        if (leap_pipeline_find(pl, force[i]) < 0) {
            leap_cli_failf("run", "--force: %s has no step '%s'", argv[optind], force[i]);
            goto done;
        }
    if (check) {
        printf("%s: ok, %zu steps:", argv[optind], pl->n_steps);
        for (size_t i = 0; i < pl->n_steps; i++)
            printf(" %s", pl->steps[pl->order[i]].name);
        printf("\n");
        rc = 0;
        goto done;
    }
    rc = 1;
    char exe[4096];
    if (leap_cli_self_exe(exe, sizeof exe)) {
        leap_cli_failf("run", "cannot find the leap binary (/proc/self/exe)");
        goto done;
    }
    if (leap_cli_store_open("run", store, 1, &t)) goto done;
    leap_cli_printer pr = {.quiet = quiet};
    leap_pipe_opts o = {.store = t,
                        .exe = exe,
                        .workdir = workdir,
                        .jobs = jobs,
                        .force = force,
                        .n_force = n_force,
                        .experiment = exp,
                        .on_event = leap_cli_print_event,
                        .ud = &pr};
    leap_cli_price(pl, cpu_hour, gb_hour, &o.price);
    leap_pipe_job job = {.pl = pl};
    if (leap_pipe_run(&job, 1, &o, &err)) {
        leap_cli_fail("run", &err);
        goto done;
    }
    char w[32];
    leap_cli_fmt_secs(job.cost.wall_s, w, sizeof w);
    printf("pipeline %s: run %lld %s in %s: %zu ran, %zu cached, %zu failed, %zu skipped; "
           "cpu %.2f s, cost %.6f\n",
           pl->name, (long long)job.run, leap_run_status_name(job.status), w, job.n_ran,
           job.n_cached, job.n_failed, job.n_skipped, job.cost.cpu_s, job.cost.cost);
    rc = job.status == LEAP_RUN_FINISHED ? 0 : 1;
done:
    leap_track_close(t);
    leap_pipeline_free(pl);
    free(force);
    free(sets);
    return rc;
}
