/* yaml_log.c — see yaml_log.h. */
#include "core/yaml_log.h"

#include <yaml.h>

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

int leap__yfind(const char *text, long from, const char *key, const char *value, long *line,
                long *col) {
    long ln = 1;
    size_t kn = strlen(key);
    for (const char *s = text; *s; ln++) {
        const char *e = strchr(s, '\n');
        if (!e) e = s + strlen(s);
        if (ln >= from) {
            for (const char *q = s; q + kn <= e; q++) {
                if (memcmp(q, key, kn) != 0) continue;
                if (q > s && (q[-1] != ' ' && q[-1] != '{' && q[-1] != ',' && q[-1] != '-'))
                    continue;
                const char *r = q + kn;
                while (r < e && *r == ' ')
                    r++;
                if (r == e || *r != ':') continue;
                if (value) {
                    r++;
                    while (r < e && (*r == ' ' || *r == '"' || *r == '\''))
                        r++;
                    size_t vn = strlen(value);
                    if ((size_t)(e - r) < vn || memcmp(r, value, vn) != 0) continue;
                }
                *line = ln;
                *col = (long)(q - s) + 1;
                return 0;
            }
        }
        s = *e ? e + 1 : e;
    }
    return -1;
}

int leap__ylog_error(const ylog *lg, const char *fallback, const char *text, const char *name,
                     leap_err *err) {
    const char *m = lg->msg[0] ? lg->msg : fallback;
    long line, col;
    if (!strncmp(m, "Unexpected key: ", 16)) {
        const char *key = m + 16;
        if (leap__yfind(text, lg->line >= 0 ? lg->line + 1 : 1, key, NULL, &line, &col) == 0 ||
            leap__yfind(text, 1, key, NULL, &line, &col) == 0)
            return leap_err_set(err, LEAP_EPARSE, "%s:%ld:%ld: unknown key '%s'", name, line, col,
                                key);
        return leap_err_set(err, LEAP_EPARSE, "%s: unknown key '%s'", name, key);
    }
    if (lg->line >= 0)
        return leap_err_set(err, LEAP_EPARSE, "%s:%ld:%ld: %s", name, lg->line + 1, lg->col + 1, m);
    return leap_err_set(err, LEAP_EPARSE, "%s: %s", name, m);
}

int leap__ynode_verr(leap_err *err, const char *name, const void *node, const char *fmt,
                     va_list ap) {
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    const yaml_node_t *n = node;
    if (!n) return leap_err_set(err, LEAP_EPARSE, "%s: %s", name, msg);
    return leap_err_set(err, LEAP_EPARSE, "%s:%zu:%zu: %s", name, n->start_mark.line + 1,
                        n->start_mark.column + 1, msg);
}

int leap__ynode_err(leap_err *err, const char *name, const void *node, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = leap__ynode_verr(err, name, node, fmt, ap);
    va_end(ap);
    return rc;
}
