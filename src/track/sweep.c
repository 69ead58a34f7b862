/* sweep.c — sweep parameter specs ("train.alpha=loguniform(1e-3,1e-1)",
 * "train.l2=[0,1e-6,1e-4]") and their values for grid and random search.
 * The sweep itself (trials, halving, leaderboard) is in src/cli/cmd_sweep.c
 * over leap_pipe_run. */
#include "leap/pipeline.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *dup_trim(const char *s, size_t n) {
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

void leap_sweep_param_free(leap_sweep_param *p) {
    for (size_t i = 0; i < p->n_choices; i++)
        free(p->choices[i]);
    free(p->choices);
    p->choices = NULL;
    p->n_choices = 0;
}

int leap_sweep_param_parse(const char *text, leap_sweep_param *p, leap_err *err) {
    memset(p, 0, sizeof *p);
    const char *eq = strchr(text, '=');
    if (!eq || eq == text || !memchr(text, '.', (size_t)(eq - text)) ||
        (size_t)(eq - text) >= sizeof p->target)
        return leap_err_set(err, LEAP_EINVAL, "--param '%s': expected STEP.KEY=SPEC", text);
    snprintf(p->target, sizeof p->target, "%.*s", (int)(eq - text), text);
    const char *s = eq + 1;
    size_t n = strlen(s);
    static const struct {
        const char *name;
        leap_dist d;
    } fns[] = {{"loguniform(", LEAP_DIST_LOGUNIFORM},
               {"uniform(", LEAP_DIST_UNIFORM},
               {"int(", LEAP_DIST_INT},
               {"randint(", LEAP_DIST_INT}};
    for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
        size_t fl = strlen(fns[f].name);
        if (strncmp(s, fns[f].name, fl)) continue;
        char *end;
        p->dist = fns[f].d;
        p->lo = strtod(s + fl, &end);
        if (end == s + fl || *end != ',')
            return leap_err_set(err, LEAP_EINVAL, "--param '%s': expected %sLOW,HIGH)", text,
                                fns[f].name);
        const char *q = end + 1;
        p->hi = strtod(q, &end);
        if (end == q || strcmp(end, ")"))
            return leap_err_set(err, LEAP_EINVAL, "--param '%s': expected %sLOW,HIGH)", text,
                                fns[f].name);
        if (!(p->lo < p->hi) || !isfinite(p->lo) || !isfinite(p->hi))
            return leap_err_set(err, LEAP_EINVAL, "--param '%s': LOW must be below HIGH", text);
        if (p->dist == LEAP_DIST_LOGUNIFORM && p->lo <= 0)
            return leap_err_set(err, LEAP_EINVAL, "--param '%s': loguniform needs LOW > 0", text);
        return LEAP_OK;
    }
    p->dist = LEAP_DIST_CHOICE;
    const char *a = s, *b = s + n;
    if (n && s[0] == '[') {
        if (s[n - 1] != ']')
            return leap_err_set(err, LEAP_EINVAL, "--param '%s': a list ends with ']'", text);
        a++, b--;
    }
    while (a <= b) {
        const char *c = memchr(a, ',', (size_t)(b - a));
        if (!c) c = b;
        char *item = dup_trim(a, (size_t)(c - a));
        char **nc = item ? realloc(p->choices, (p->n_choices + 1) * sizeof *nc) : NULL;
        if (!nc) {
            free(item);
            leap_sweep_param_free(p);
            return leap_err_set(err, LEAP_ENOMEM, "out of memory");
        }
        p->choices = nc;
        p->choices[p->n_choices++] = item;
        if (!item[0]) {
            leap_sweep_param_free(p);
            return leap_err_set(err, LEAP_EINVAL, "--param '%s': empty value in the list", text);
        }
        a = c + 1;
    }
    if (!p->n_choices) return leap_err_set(err, LEAP_EINVAL, "--param '%s': no values", text);
    return LEAP_OK;
}

void leap_sweep_param_value(const leap_sweep_param *p, size_t i, size_t n, leap_rng *rng, char *buf,
                            size_t len) {
    if (p->dist == LEAP_DIST_CHOICE) {
        size_t k = rng ? (size_t)(leap_rng_next(rng) % p->n_choices) : i % p->n_choices;
        snprintf(buf, len, "%s", p->choices[k]);
        return;
    }
    double u = rng ? leap_rng_uniform(rng) : (n > 1 ? (double)i / (double)(n - 1) : 0.5);
    double v;
    if (p->dist == LEAP_DIST_LOGUNIFORM)
        v = exp(log(p->lo) + u * (log(p->hi) - log(p->lo)));
    else
        v = p->lo + u * (p->hi - p->lo);
    if (p->dist == LEAP_DIST_INT) {
        long long k = (long long)floor(v + (rng ? 0 : 0.5));
        if (k > (long long)p->hi) k = (long long)p->hi;
        snprintf(buf, len, "%lld", k);
    } else {
        snprintf(buf, len, "%.6g", v);
    }
}
