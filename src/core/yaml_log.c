/* yaml_log.c — see yaml_log.h. */
#include "core/yaml_log.h"

#include <stdio.h>
#include <string.h>

void leap__ylog_fn(cyaml_log_t level, void *ctx, const char *fmt, va_list args) {
    ylog *l = ctx;
    if (level < CYAML_LOG_ERROR) return;
    char buf[480];
    vsnprintf(buf, sizeof buf, fmt, args);
    buf[strcspn(buf, "\n")] = 0;
    const char *mark = strstr(buf, "(line: ");
    if (mark && l->line < 0) {
        long a, b;
        if (sscanf(mark, "(line: %ld, column: %ld)", &a, &b) == 2) l->line = a, l->col = b;
        return;
    }
    if (strstr(buf, "Backtrace") || l->msg[0]) return;
    const char *m = buf;
    if (!strncmp(m, "Load: ", 6)) m += 6;
    snprintf(l->msg, sizeof l->msg, "%s", m);
}
