/* cli.h — the `leap` sub-commands. Each takes argc/argv after the command
 * name has been consumed (argv[0] is the command name) and returns the
 * process exit code: 0 success, 1 failure (message already printed on stderr
 * as "leap CMD: error: ..."), 2 usage error. Only this layer prints or exits. */
#ifndef LEAP_CLI_H
#define LEAP_CLI_H

#include "leap/core.h"

int leap_cmd_datagen(int argc, char **argv);
int leap_cmd_ingest(int argc, char **argv);
int leap_cmd_split(int argc, char **argv);
int leap_cmd_train(int argc, char **argv);
int leap_cmd_eval(int argc, char **argv);
int leap_cmd_predict(int argc, char **argv);
int leap_cmd_inspect(int argc, char **argv);
int leap_cmd_stats(int argc, char **argv);
int leap_cmd_schema(int argc, char **argv);
int leap_cmd_validate(int argc, char **argv);
int leap_cmd_transform(int argc, char **argv);
int leap_cmd_run(int argc, char **argv);
int leap_cmd_runs(int argc, char **argv);
int leap_cmd_sweep(int argc, char **argv);
int leap_cmd_lineage(int argc, char **argv);
int leap_cmd_push(int argc, char **argv);
int leap_cmd_serve(int argc, char **argv);
int leap_cmd_loadtest(int argc, char **argv);

/* Tracking of the plain commands (track_cli.c): runs cmd and, when tracking
 * is on (LEAP_TRACK=1, or unset and the store file exists; pipelines set it
 * to 0 for their steps), records it as a run with its options, the files it
 * read and wrote, metrics and cost. Returns cmd's exit code. */
int leap_cli_dispatch(const char *name, int (*cmd)(int, char **), int argc, char **argv);
/* What a command measured, recorded with its run when tracked. */
struct leap_metrics;
void leap_cli_track_eval(const struct leap_metrics *m);
void leap_cli_track_metric(const char *key, double value);
void leap_cli_track_tag(const char *key, const char *value);
/* Opens the store (--store, $LEAP_STORE, ./leap.db); prints the error. */
struct leap_track;
int leap_cli_store_open(const char *cmd, const char *uri, int create, struct leap_track **t);
/* The running leap binary's path (for pipeline steps). */
int leap_cli_self_exe(char *buf, size_t len);
/* "1.5 GB", "2.31 s", "2026-01-02 10:11:12" */
void leap_cli_fmt_bytes(double bytes, char *buf, size_t len);
void leap_cli_fmt_secs(double s, char *buf, size_t len);
void leap_cli_fmt_time(double unix_s, char *buf, size_t len);

/* Opens a dataset file, or parses a raw log file (format fmt, default
 * criteo; schema for csv) on `threads` threads into an in-memory dataset. */
struct leap_dataset;
int leap_cli_open_data(const char *path, const char *fmt, const char *schema, int threads,
                       struct leap_dataset **out, leap_err *err);

/* Prints "leap CMD: error: MSG\n" on stderr and returns 1. */
int leap_cli_fail(const char *cmd, const leap_err *err);
/* Same with a formatted message. */
int leap_cli_failf(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
