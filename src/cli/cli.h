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
int leap_cmd_serve(int argc, char **argv);
int leap_cmd_loadtest(int argc, char **argv);

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
