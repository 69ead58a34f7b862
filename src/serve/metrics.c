/* metrics.c — request counters and latency histograms (lock-free atomics,
 * one set per model) and their Prometheus text exposition. The families are
 * written one after the other with HELP and TYPE once each, as the text
 * format requires (`promtool check metrics` runs on it in the tests). */
#include "serve/serve_internal.h"

#include <string.h>

const char *const leap__handler_names[LEAP__H_COUNT] = {
#define LEAP_XX_H(name, str) str,
    LEAP__HANDLER_MAP(LEAP_XX_H)
#undef LEAP_XX_H
};

const int leap__codes[LEAP__N_CODES] = LEAP__CODES;

/* 50 µs .. 10 s, with bounds at the targets: 250 µs (1-row predict), 2 ms (:rank). */
const double leap__buckets[LEAP__N_BUCKETS] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0015,
                                               0.002,   0.0025, 0.005,   0.01,   0.025, 0.05,
                                               0.1,     0.25,   0.5,     1,      2.5,   10};

int leap__code_index(int code) {
    for (int i = 0; i < LEAP__N_CODES - 1; i++)
        if (leap__codes[i] == code) return i;
    return LEAP__N_CODES - 1;
}

void leap__req_stats_add(leap__req_stats *st, leap__handler h, int code, double seconds) {
    atomic_fetch_add_explicit(&st->count[h][leap__code_index(code)], 1, memory_order_relaxed);
    int b = 0;
    while (b < LEAP__N_BUCKETS && seconds > leap__buckets[b])
        b++;
    atomic_fetch_add_explicit(&st->hist[h][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->sum_ns[h], (uint_fast64_t)(seconds * 1e9), memory_order_relaxed);
}

static uint64_t ld(const atomic_uint_fast64_t *a) {
    return (uint64_t)atomic_load_explicit(a, memory_order_relaxed);
}

int leap__req_stats_render(leap__req_stats *const *stats, const char *const *names, size_t n,
                           leap_buf *out) {
    int rc = leap__bprintf(out, "# HELP leap_requests_total HTTP requests by model, handler and "
                                "status code (model \"\": none or unknown).\n"
                                "# TYPE leap_requests_total counter\n");
    for (size_t i = 0; !rc && i < n; i++)
        for (int h = 0; !rc && h < LEAP__H_COUNT; h++)
            for (int c = 0; !rc && c < LEAP__N_CODES; c++) {
                uint64_t v = ld(&stats[i]->count[h][c]);
                if (!v) continue;
                char code[8];
                if (leap__codes[c])
                    snprintf(code, sizeof code, "%d", leap__codes[c]);
                else
                    snprintf(code, sizeof code, "other");
                rc = leap__bprintf(out,
                                   "leap_requests_total{model=\"%s\",handler=\"%s\",code=\"%s\"} "
                                   "%llu\n",
                                   names[i], leap__handler_names[h], code, (unsigned long long)v);
            }
    if (!rc)
        rc = leap__bprintf(out, "# HELP leap_request_duration_seconds Time from the request "
                                "line read to the response written.\n"
                                "# TYPE leap_request_duration_seconds histogram\n");
    for (size_t i = 0; !rc && i < n; i++)
        for (int h = 0; !rc && h < LEAP__H_COUNT; h++) {
            uint64_t total = 0;
            for (int b = 0; b <= LEAP__N_BUCKETS; b++)
                total += ld(&stats[i]->hist[h][b]);
            if (!total) continue;
            uint64_t cum = 0;
            for (int b = 0; !rc && b <= LEAP__N_BUCKETS; b++) {
                cum += ld(&stats[i]->hist[h][b]);
                char le[32];
                if (b < LEAP__N_BUCKETS)
                    snprintf(le, sizeof le, "%g", leap__buckets[b]);
                else
                    snprintf(le, sizeof le, "+Inf");
                rc = leap__bprintf(out,
                                   "leap_request_duration_seconds_bucket{model=\"%s\",handler="
                                   "\"%s\",le=\"%s\"} %llu\n",
                                   names[i], leap__handler_names[h], le, (unsigned long long)cum);
            }
            if (!rc)
                rc = leap__bprintf(out,
                                   "leap_request_duration_seconds_sum{model=\"%s\",handler=\"%s\"} "
                                   "%.9f\n"
                                   "leap_request_duration_seconds_count{model=\"%s\",handler="
                                   "\"%s\"} %llu\n",
                                   names[i], leap__handler_names[h],
                                   (double)ld(&stats[i]->sum_ns[h]) * 1e-9, names[i],
                                   leap__handler_names[h], (unsigned long long)total);
        }
    return rc;
}
