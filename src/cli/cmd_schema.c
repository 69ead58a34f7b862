/* cmd_schema.c — `leap schema infer DATASET.lds -o schema.yaml`: profiles a
 * dataset and writes an editable validation schema atomically. The bounds
 * are chosen in src/eval/validate.c (leap_vschema_infer); nothing is
 * computed here. Exit: 0 written, 1 error, 2 usage. */
#include "cli/cli.h"
#include "leap/validate.h"

#include <getopt.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: leap schema infer DATASET.lds -o SCHEMA.yaml [--threads N]\n"
               "  Writes a validation schema for `leap validate`: per column its type,\n"
               "  required, max_missing_rate, min/max (numeric), domain or max_new_rate\n"
               "  (categorical) and drift bounds (drift_js / drift_linf). Edit it freely.\n"
               "  -o, --output F  schema to write (atomically; untouched on failure)\n"
               "  --threads N     threads (default: all CPUs)\n");
}

static int usage_fail(const char *msg, const char *arg) {
    leap_cli_failf("schema", "%s%s%s", msg, arg ? " " : "", arg ? arg : "");
    usage(stderr);
    return 2;
}

int leap_cmd_schema(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "infer") != 0)
        return usage_fail("expected the sub-command 'infer', got", argc >= 2 ? argv[1] : "nothing");
    argc--, argv++;
    const char *outp = NULL;
    int threads = 0;
    static const struct option lo[] = {{"output", required_argument, 0, 'o'},
                                       {"threads", required_argument, 0, 'j'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:j:h", lo, NULL)) != -1) {
        int64_t v;
        switch (c) {
        case 'o': outp = optarg; break;
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
    if (!outp) return usage_fail("no output given (-o SCHEMA.yaml)", NULL);
    leap_err err = {0};
    leap_dataset *ds = NULL;
    leap_vschema vs = {0};
    int rc = 1;
    leap_afile af;
    if (leap_dataset_open(argv[optind], &ds, &err)) goto fail;
    if (leap_vschema_infer(ds, threads, &vs, &err)) goto fail;
    if (leap_afile_open(&af, outp, &err)) goto fail;
    if (leap_vschema_write(af.fp, &vs, argv[optind])) {
        leap_afile_abort(&af);
        leap_err_set(&err, LEAP_EIO, "%s: write error", outp);
        goto fail;
    }
    if (leap_afile_commit(&af, &err)) goto fail;
    rc = 0;
    goto done;
fail:
    rc = leap_cli_fail("schema", &err);
done:
    leap_vschema_free(&vs);
    if (ds) leap_dataset_close(ds);
    return rc;
}
