/* main.c — `leap` entry point: dispatches to the sub-command table. */
#include "cli/cli.h"
#include "leap/ingest.h"

#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

typedef struct leap_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} leap_command;

static const leap_command commands[] = {
    {"datagen", leap_cmd_datagen, "generate Criteo-format click logs from a hidden truth"},
    {"ingest", leap_cmd_ingest, "read raw logs (criteo, csv, libsvm) into a columnar dataset"},
    {"split", leap_cmd_split, "split a dataset into train/valid/test; negative downsampling"},
    {"train", leap_cmd_train, "train a model into a .leap bundle"},
    {"eval", leap_cmd_eval, "AUC, logloss, NE, calibration, PR-AUC of a model on a dataset"},
    {"predict", leap_cmd_predict, "score a raw file or a dataset with a model"},
    {"inspect", leap_cmd_inspect, "print a model bundle's metadata"},
    {"stats", leap_cmd_stats, "profile each column: missing, distinct, top values, quantiles"},
    {"schema", leap_cmd_schema, "infer a validation schema (YAML) from a dataset"},
    {"validate", leap_cmd_validate, "check a dataset against a schema; drift vs a baseline"},
    {"transform", leap_cmd_transform,
     "fit a transform spec (vocabularies, quantiles); show, apply"},
    {"run", leap_cmd_run,
     "run a pipeline file: cached steps skipped, independent ones in parallel"},
    {"sweep", leap_cmd_sweep, "hyperparameter sweep of a pipeline (grid, random, halving)"},
    {"runs", leap_cmd_runs, "list, show, compare and export tracked runs"},
    {"lineage", leap_cmd_lineage, "what produced a file, and from what"},
    {"push", leap_cmd_push, "push a model to the model repository if it passes thresholds"},
    {"serve", leap_cmd_serve, "serve models over HTTP: predict, rank ads, hot reload, metrics"},
    {"loadtest", leap_cmd_loadtest, "open-loop HTTP load test: latency percentiles, cost"},
};

int leap_cli_open_data(const char *path, const char *fmt, const char *schema, int threads,
                       leap_dataset **out, leap_err *err) {
    if (leap_dataset_probe(path)) return leap_dataset_open(path, out, err);
    int f = leap_format_from_name(fmt ? fmt : "criteo");
    if (f < 0) return leap_err_set(err, LEAP_EINVAL, "--format: unknown format '%s'", fmt);
    leap_ingest_opts o = {
        .reader = {.format = (leap_format)f, .schema_path = schema, .bad_rows = LEAP_BAD_ROWS_FAIL},
        .inputs = &path,
        .n_inputs = 1,
        .threads = threads};
    leap_ingest_report rep;
    return leap_ingest_memory(&o, out, &rep, err);
}

int leap_cli_fail(const char *cmd, const leap_err *err) {
    fprintf(stderr, "leap %s: error: %s\n", cmd,
            err->msg[0] ? err->msg : leap_strerror(err->status));
    return 1;
}

int leap_cli_failf(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "leap %s: error: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static void usage(FILE *f) {
    fprintf(f, "leap %s — click-prediction toolkit\n\nusage: leap COMMAND [options]\n\ncommands:\n",
            LEAP_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n`leap COMMAND --help` shows a command's options.\n");
}

int main(int argc, char **argv) {
    setlocale(LC_ALL, "C");
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("leap %s\n", LEAP_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "--track") && argc > 2) { /* leap --track CMD ...: record this run */
        setenv("LEAP_TRACK", "1", 1);
        argc--, argv++;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return leap_cli_dispatch(commands[i].name, commands[i].run, argc - 1, argv + 1);
    fprintf(stderr, "leap: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
