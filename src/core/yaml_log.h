/* yaml_log.h — capture of libcyaml's log: its first error message and the
 * innermost "(line: L, column: C)" mark, so YAML errors can be reported as
 * FILE:LINE:COL. Shared by every YAML reader (CSV schemas, validation
 * schemas, later transform specs and pipelines). Private to libleap. */
#ifndef LEAP_CORE_YAML_LOG_H
#define LEAP_CORE_YAML_LOG_H

#include <cyaml/cyaml.h>
#include <stdarg.h>

#include "leap/core.h"

typedef struct ylog {
    char msg[512];
    long line, col; /* 0-based, -1 = none */
} ylog;

/* libcyaml log callback; ctx is a ylog initialised with line = col = -1. */
void leap__ylog_fn(cyaml_log_t level, void *ctx, const char *fmt, va_list args);

/* Line and column (1-based) of the first "key:" (followed by value when
 * value is non-NULL) at or after line `from` of a YAML text; 0 or -1. A
 * text search, for errors libcyaml reports without a position. */
int leap__yfind(const char *text, long from, const char *key, const char *value, long *line,
                long *col);

/* Turns a failed cyaml load into "NAME:LINE:COL: message" (an unknown key is
 * located by leap__yfind); fallback is cyaml's own message. Returns
 * LEAP_EPARSE. */
/* "NAME:LINE:COL: message" at a libyaml document node (1-based; without the
 * position when node is NULL), set in err as LEAP_EPARSE and returned. The
 * one formatter of every libyaml tree reader (transform specs, architecture
 * files, pipelines). node is a const yaml_node_t * (kept void to spare
 * callers of the cyaml helpers libyaml's header). */
int leap__ynode_err(leap_err *err, const char *name, const void *node, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int leap__ynode_verr(leap_err *err, const char *name, const void *node, const char *fmt,
                     va_list ap);

int leap__ylog_error(const ylog *lg, const char *fallback, const char *text, const char *name,
                     leap_err *err);

#endif
