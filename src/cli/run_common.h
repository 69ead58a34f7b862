/* run_common.h — what `leap run` and `leap sweep` share (cmd_run.c). */
#ifndef LEAP_CLI_RUN_COMMON_H
#define LEAP_CLI_RUN_COMMON_H

#include "leap/pipeline.h"

typedef struct leap_cli_printer {
    int quiet;
    const char *const *labels; /* per job, or NULL */
} leap_cli_printer;

/* on_event callback: one line per step event on stderr; ud is a printer. */
void leap_cli_print_event(void *ud, const leap_pipe_event *ev);
/* Prices: defaults, then the pipeline's cost:, then the flags (< 0 = unset). */
void leap_cli_price(const leap_pipeline *pl, double cpu_hour, double gb_hour, leap_price *out);
/* --cpu-hour / --gb-hour (name) of command cmd: a non-negative number into
 * *out, or -1 after printing the error. */
int leap_cli_price_flag(const char *cmd, const char *name, const char *arg, double *out);

#endif
