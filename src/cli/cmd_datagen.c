/* cmd_datagen.c — `leap datagen`: parses flags, runs leap_datagen, prints the
 * summary (rows, observed CTR, Bayes logloss/AUC/NE, MB written, seconds).
 *
 *     leap datagen --rows 1000000 --seed 42 -o synth.tsv [--threads N] [--ctr 0.25]
 *
 * Does not generate anything itself (src/data/datagen.c does). Bad flags are a
 * one-line error and exit 2, before any file is touched.
 */
#include "cli/cli.h"
#include "leap/ingest.h"
#include "leap/datagen.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A usage error: the one-line message, exit code 2. */
#define USAGE_FAIL(...) (leap_cli_failf("datagen", __VA_ARGS__), 2)

typedef enum { FLAG_ROWS, FLAG_U64, FLAG_INT, FLAG_DOUBLE, FLAG_STR } flag_kind;

/* One table drives parsing and --help. */
typedef struct flag_def {
    const char *name, *alias, *meta;
    flag_kind kind;
    size_t offset; /* in leap_datagen_opts */
    const char *help;
} flag_def;

static const flag_def flags[] = {
    {"--rows", NULL, "N", FLAG_ROWS, offsetof(leap_datagen_opts, rows),
     "rows to generate (required, >= 1)"},
    {"--seed", NULL, "S", FLAG_U64, offsetof(leap_datagen_opts, seed),
     "seed of the hidden truth and of the draws (default 42)"},
    {"--output", "-o", "PATH", FLAG_STR, offsetof(leap_datagen_opts, output),
     "Criteo TSV to write, or a dataset when PATH ends in .lds; the true p go to\n"
     "                         PATH.truth (required)"},
    {"--threads", NULL, "N", FLAG_INT, offsetof(leap_datagen_opts, threads),
     "worker threads, 0 = all cores (default 0); output is the same for any N"},
    {"--ctr", NULL, "X", FLAG_DOUBLE, offsetof(leap_datagen_opts, base_ctr),
     "target mean click rate in [0.001, 0.999] (default 0.25)"},
};
enum { N_FLAGS = sizeof flags / sizeof flags[0] };

static void usage(FILE *f) {
    fprintf(f, "usage: leap datagen --rows N -o PATH [--seed S] [--threads N] [--ctr X]\n\n"
               "Writes Criteo-format click logs (label, I1..I13, C1..C26) drawn from a hidden\n"
               "truth, the true click probability of each row to PATH.truth, and prints the\n"
               "Bayes-optimal logloss, AUC and NE.\n\noptions:\n");
    for (int i = 0; i < N_FLAGS; i++) {
        char left[48];
        snprintf(left, sizeof left, "%s%s%s %s", flags[i].alias ? flags[i].alias : "",
                 flags[i].alias ? ", " : "", flags[i].name, flags[i].meta);
        fprintf(f, "  %-22s %s\n", left, flags[i].help);
    }
}

static int set_flag(const flag_def *d, const char *v, leap_datagen_opts *o) {
    char *base = (char *)o + d->offset;
    int64_t i;
    double x;
    switch (d->kind) {
    case FLAG_ROWS:
        if (leap_parse_i64(v, &i) != 0 || i < 1)
            return USAGE_FAIL("%s: expected a positive integer, got '%s'", d->name, v);
        *(uint64_t *)(void *)base = (uint64_t)i;
        return 0;
    case FLAG_U64:
        if (leap_parse_i64(v, &i) != 0 || i < 0)
            return USAGE_FAIL("%s: expected a non-negative integer, got '%s'", d->name, v);
        *(uint64_t *)(void *)base = (uint64_t)i;
        return 0;
    case FLAG_INT:
        if (leap_parse_i64(v, &i) != 0 || i < 0 || i > 4096)
            return USAGE_FAIL("%s: expected an integer in [0, 4096], got '%s'", d->name, v);
        *(int *)(void *)base = (int)i;
        return 0;
    case FLAG_DOUBLE:
        if (leap_parse_double(v, &x) != 0 || !(x >= 0.001 && x <= 0.999))
            return USAGE_FAIL("%s: expected a number in [0.001, 0.999], got '%s'", d->name, v);
        *(double *)(void *)base = x;
        return 0;
    case FLAG_STR:
        if (!v[0]) return USAGE_FAIL("%s: empty value", d->name);
        *(const char **)(void *)base = v;
        return 0;
    }
    return 2;
}

int leap_cmd_datagen(int argc, char **argv) {
    leap_datagen_opts o = {.seed = 42, .progress = 1};
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return 0;
        }
        const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const flag_def *d = NULL;
        for (int i = 0; i < N_FLAGS && !d; i++) {
            if ((strlen(flags[i].name) == name_len && !strncmp(arg, flags[i].name, name_len)) ||
                (flags[i].alias && !eq && !strcmp(arg, flags[i].alias)))
                d = &flags[i];
        }
        if (!d) return USAGE_FAIL("unknown option '%s' (see leap datagen --help)", arg);
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (a + 1 >= argc) return USAGE_FAIL("%s: missing value", d->name);
            v = argv[++a];
        }
        int rc = set_flag(d, v, &o);
        if (rc) return rc;
    }
    if (o.rows == 0) return USAGE_FAIL("--rows is required");
    if (!o.output) return USAGE_FAIL("-o PATH is required");

    leap_err err = {0};
    if (leap_datagen_check(&o, &err) != LEAP_OK) return (leap_cli_fail("datagen", &err), 2);
    /* -o X.lds: generate the TSV next to it, ingest it, keep X.lds and
     * X.lds.truth, remove the TSV. */
    const char *final = o.output;
    size_t fl = strlen(final);
    int to_dataset = fl > 4 && !strcmp(final + fl - 4, ".lds");
    char tsv[4200], truth_tmp[4300], truth[4300];
    if (to_dataset) {
        if (fl + 40 > sizeof tsv) return leap_cli_failf("datagen", "%s: path too long", final);
        snprintf(tsv, sizeof tsv, "%s.gen.%ld.tsv", final, (long)getpid());
        snprintf(truth_tmp, sizeof truth_tmp, "%s.truth", tsv);
        snprintf(truth, sizeof truth, "%s.truth", final);
        o.output = tsv;
    }
    leap_datagen_report rep;
    if (leap_datagen(&o, &rep, &err) != LEAP_OK) return leap_cli_fail("datagen", &err);
    if (to_dataset) {
        const char *in[1] = {tsv};
        leap_ingest_opts io = {
            .reader = {.format = LEAP_FMT_CRITEO, .bad_rows = LEAP_BAD_ROWS_FAIL},
            .inputs = in,
            .n_inputs = 1,
            .output = final,
            .threads = o.threads};
        leap_ingest_report irep;
        int rc = leap_ingest(&io, &irep, &err);
        if (rc == LEAP_OK && rename(truth_tmp, truth) != 0)
            rc = leap_err_set(&err, LEAP_EIO, "%s: cannot rename to %s", truth_tmp, truth);
        remove(tsv);
        if (rc) {
            remove(truth_tmp);
            return leap_cli_fail("datagen", &err);
        }
        o.output = final;
    }

    printf("datagen: wrote %s and %s.truth\n", o.output, o.output);
    printf("  rows            %" PRIu64 "\n", rep.rows);
    printf("  ctr             %.4f\n", rep.ctr);
    printf("  bayes_logloss   %.4f\n", rep.bayes_logloss);
    printf("  bayes_auc       %.4f\n", rep.bayes_auc);
    printf("  bayes_ne        %.4f\n", rep.bayes_ne);
    printf("  mb_written      %.1f\n", (double)rep.bytes / 1e6);
    printf("  seconds         %.2f\n", rep.seconds);
    return 0;
}
