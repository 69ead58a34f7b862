/* cmd_validate.c — `leap validate DATASET.lds --schema S.yaml [--baseline B]`:
 * loads the schema, runs leap_validate_run and prints the anomalies as a
 * table or JSON. The checks live in src/eval/validate.c. Exit: 0 clean,
 * 1 anomalies found, 2 error (bad arguments, unreadable file, bad schema). */
#include "cli/cli.h"
#include "leap/validate.h"

#include <getopt.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: leap validate DATASET.lds --schema SCHEMA.yaml [--baseline OTHER.lds]\n"
               "                     [--json] [--threads N]\n"
               "  Checks DATASET against a schema (see `leap schema infer`): missing and extra\n"
               "  columns, types, missing rates, numeric ranges (rows outside counted exactly),\n"
               "  categorical domains. With --baseline it also reports drift: L-infinity distance\n"
               "  of categorical value shares (drift_linf), Jensen-Shannon divergence of numeric\n"
               "  histograms on common bin edges (drift_js), and for columns without a domain\n"
               "  the share of values never seen in the baseline (max_new_rate).\n"
               "  Training/serving skew is the same comparison: pass a dataset of served\n"
               "  requests as DATASET and the training set as --baseline.\n"
               "  --schema F     validation schema (YAML; required)\n"
               "  --baseline B   dataset to compare distributions with\n"
               "  --json         one JSON object on stdout instead of the table\n"
               "  --threads N    threads (default: all CPUs)\n"
               "  exit status: 0 no anomaly, 1 anomalies found, 2 error\n");
}

static int usage_fail(const char *msg, const char *arg) {
    leap_cli_failf("validate", "%s%s%s", msg, arg ? " " : "", arg ? arg : "");
    usage(stderr);
    return 2;
}

int leap_cmd_validate(int argc, char **argv) {
    const char *schema = NULL, *base = NULL;
    int json = 0, threads = 0;
    static const struct option lo[] = {
        {"schema", required_argument, 0, 's'}, {"baseline", required_argument, 0, 'b'},
        {"json", no_argument, 0, 'J'},         {"threads", required_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "s:b:Jj:h", lo, NULL)) != -1) {
        int64_t v;
        switch (c) {
        case 's': schema = optarg; break;
        case 'b': base = optarg; break;
        case 'J': json = 1; break;
        case 'j':
            if (leap_parse_i64(optarg, &v) || v < 1 || v > 1024)
                return usage_fail("--threads: not an integer in [1, 1024]:", optarg);
            threads = (int)v;
            break;
        case 'h': usage(stdout); return 0;
        default: return usage_fail("unknown or incomplete option", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return usage_fail(optind < argc ? "expected one dataset, got more" : "no dataset given",
                          NULL);
    if (!schema) return usage_fail("no schema given (--schema SCHEMA.yaml)", NULL);
    leap_err err = {0};
    leap_vschema vs = {0};
    leap_dataset *ds = NULL, *bds = NULL;
    leap_validate_report rep = {0};
    int rc;
    if (leap_vschema_load(schema, &vs, &err)) goto fail;
    if (leap_dataset_open(argv[optind], &ds, &err)) goto fail;
    if (base && leap_dataset_open(base, &bds, &err)) goto fail;
    if (leap_validate_run(ds, bds, &vs, threads, &rep, &err)) goto fail;
    if ((json ? leap_validate_write_json(stdout, &rep) : leap_validate_write_table(stdout, &rep)) ||
        fflush(stdout)) {
        leap_err_set(&err, LEAP_EIO, "write error on standard output");
        goto fail;
    }
    rc = rep.n ? 1 : 0;
    goto done;
fail:
    leap_cli_fail("validate", &err);
    rc = 2;
done:
    leap_validate_report_free(&rep);
    leap_vschema_free(&vs);
    if (bds) leap_dataset_close(bds);
    if (ds) leap_dataset_close(ds);
    return rc;
}
