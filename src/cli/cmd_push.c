/* cmd_push.c — `leap push`: the blessing gate and the copy into the model
 * repository (src/track/push.c); prints the decision with its numbers. When
 * tracked, the decision and the numbers go to the store with the run. */
#include "cli/cli.h"
#include "leap/push.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: leap push --model M.leap --name NAME (--metrics EVAL.json | --data D.lds)\n"
            "                 [--repo DIR] [--require CHECK]... [--json] [--refused-ok]\n\n"
            "Copies M into DIR/NAME/VERSION/model.leap (VERSION = the last one + 1; written\n"
            "to a temporary folder and renamed) only if every CHECK passes:\n"
            "  'auc >= 0.78'                   absolute\n"
            "  'auc >= baseline - 0.001'       relative to the currently pushed version\n"
            "  'logloss <= baseline'           (relative checks pass when nothing is pushed)\n"
            "  'calibration within [0.95, 1.05]'\n"
            "metrics: auc, logloss, ne, calibration, pr_auc, base_rate. Candidate metrics come\n"
            "from `leap eval --json` output (--metrics) or from scoring --data; with --data the\n"
            "baseline is scored on the same data, else its recorded metrics.json is used.\n\n"
            "  --repo DIR      model repository (default models)\n"
            "  --json          print the decision as JSON\n"
            "  --refused-ok    exit 0 when refused (default: exit 3)\n"
            "  --threads N     threads for scoring --data\n");
}

int leap_cmd_push(int argc, char **argv) {
    enum { O_REFUSED_OK = 256 };
    static const struct option lo[] = {{"model", required_argument, 0, 'm'},
                                       {"name", required_argument, 0, 'n'},
                                       {"metrics", required_argument, 0, 'M'},
                                       {"data", required_argument, 0, 'd'},
                                       {"repo", required_argument, 0, 'r'},
                                       {"require", required_argument, 0, 'R'},
                                       {"json", no_argument, 0, 'J'},
                                       {"refused-ok", no_argument, 0, O_REFUSED_OK},
                                       {"threads", required_argument, 0, 'j'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    leap_push_opts o = {.repo = "models"};
    leap_bless_check checks[LEAP_PUSH_MAX_CHECKS];
    int json = 0, refused_ok = 0, c;
    leap_err err = {0};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:n:M:d:r:R:Jj:h", lo, NULL)) != -1) {
        int64_t v;
        switch (c) {
        case 'm': o.model = optarg; break;
        case 'n': o.name = optarg; break;
        case 'M': o.metrics = optarg; break;
        case 'd': o.data = optarg; break;
        case 'r': o.repo = optarg; break;
        case 'R':
            if (o.n_checks >= LEAP_PUSH_MAX_CHECKS)
                return leap_cli_failf("push", "at most %d --require", LEAP_PUSH_MAX_CHECKS), 2;
            if (leap_bless_parse(optarg, &checks[o.n_checks], &err))
                return leap_cli_fail("push", &err), 2;
            o.n_checks++;
            break;
        case 'J': json = 1; break;
        case O_REFUSED_OK: refused_ok = 1; break;
        case 'j':
            if (leap_parse_i64(optarg, &v) || v < 1 || v > 1024)
                return leap_cli_failf("push", "--threads: '%s' is not in [1, 1024]", optarg), 2;
            o.threads = (int)v;
            break;
        case 'h': usage(stdout); return 0;
        default:
            leap_cli_failf("push", "unknown or incomplete option '%s' (see --help)",
                           argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) return leap_cli_failf("push", "unexpected argument '%s'", argv[optind]), 2;
    if (!o.model || !o.name || (!o.metrics && !o.data)) {
        leap_cli_failf("push", "--model, --name and --metrics or --data are required");
        usage(stderr);
        return 2;
    }
    o.checks = checks;
    leap_push_result r;
    if (leap_push(&o, &r, &err)) return leap_cli_fail("push", &err);
    const char *d = leap_push_decision_name(r.decision);
    leap_cli_track_tag("decision", d);
    if (r.reason[0]) leap_cli_track_tag("reason", r.reason);
    if (r.path[0]) leap_cli_track_tag("pushed", r.path);
    leap_cli_track_metric("blessed", r.decision != LEAP_PUSH_REFUSED);
    leap_cli_track_metric("version", (double)r.version);
    leap_cli_track_metric("candidate.auc", r.cand.auc);
    leap_cli_track_metric("candidate.logloss", r.cand.logloss);
    leap_cli_track_metric("candidate.calibration", r.cand.calibration);
    if (r.have_base) {
        leap_cli_track_metric("baseline.auc", r.base.auc);
        leap_cli_track_metric("baseline.logloss", r.base.logloss);
        leap_cli_track_metric("baseline.calibration", r.base.calibration);
    }
    if (json) {
        leap_push_write_json(stdout, &o, &r);
    } else {
        if (r.decision == LEAP_PUSH_PUSHED)
            printf("pushed %s version %lld -> %s\n", o.name, (long long)r.version, r.path);
        else if (r.decision == LEAP_PUSH_CURRENT)
            printf("%s version %lld is already this model; nothing pushed\n", o.name,
                   (long long)r.version);
        else
            printf("refused: %s\n", r.reason);
        printf("  candidate: auc %.6f  logloss %.6f  calibration %.4f\n", r.cand.auc,
               r.cand.logloss, r.cand.calibration);
        if (r.have_base)
            printf("  baseline (version %lld): auc %.6f  logloss %.6f  calibration %.4f\n",
                   (long long)r.baseline_version, r.base.auc, r.base.logloss, r.base.calibration);
        for (size_t i = 0; i < o.n_checks; i++) {
            char bound[64] = "";
            if (r.res[i].no_baseline)
                snprintf(bound, sizeof bound, "(no baseline)");
            else if (isfinite(r.res[i].lo) && isfinite(r.res[i].hi))
                snprintf(bound, sizeof bound, "[%.6g, %.6g]", r.res[i].lo, r.res[i].hi);
            else if (isfinite(r.res[i].lo))
                snprintf(bound, sizeof bound, ">= %.6g", r.res[i].lo);
            else
                snprintf(bound, sizeof bound, "<= %.6g", r.res[i].hi);
            printf("  %-4s %-36s %.6g %s\n", r.res[i].pass ? "ok" : "FAIL", checks[i].text,
                   r.res[i].value, bound);
        }
    }
    return r.decision == LEAP_PUSH_REFUSED && !refused_ok ? 3 : 0;
}
