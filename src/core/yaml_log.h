/* yaml_log.h — capture of libcyaml's log: its first error message and the
 * innermost "(line: L, column: C)" mark, so YAML errors can be reported as
 * FILE:LINE:COL. Shared by every YAML reader (CSV schemas, validation
 * schemas, later transform specs and pipelines). Private to libleap. */
#ifndef LEAP_CORE_YAML_LOG_H
#define LEAP_CORE_YAML_LOG_H

#include <cyaml/cyaml.h>
#include <stdarg.h>

typedef struct ylog {
    char msg[512];
    long line, col; /* 0-based, -1 = none */
} ylog;

/* libcyaml log callback; ctx is a ylog initialised with line = col = -1. */
void leap__ylog_fn(cyaml_log_t level, void *ctx, const char *fmt, va_list args);

#endif
