/* serve_internal.h — what the serving files share and no other module sees:
 * the request counters kept per model, the repository's internals the HTTP
 * layer reads (status, metrics), and the small JSON writers. */
#ifndef LEAP_SERVE_INTERNAL_H
#define LEAP_SERVE_INTERNAL_H

#include "leap/serve.h"

#include <stdatomic.h>

/* Request handlers counted per model. */
#define LEAP__HANDLER_MAP(XX)                                                                      \
    XX(PREDICT, "predict")                                                                         \
    XX(RANK, "rank")                                                                               \
    XX(STATUS, "status")                                                                           \
    XX(METADATA, "metadata")                                                                       \
    XX(OTHER, "other")

typedef enum leap__handler {
#define LEAP_XX_H(name, str) LEAP__H_##name,
    LEAP__HANDLER_MAP(LEAP_XX_H)
#undef LEAP_XX_H
        LEAP__H_COUNT
} leap__handler;
extern const char *const leap__handler_names[LEAP__H_COUNT];

/* HTTP codes counted (anything else falls in the last). */
#define LEAP__CODES                                                                                \
    { 200, 400, 401, 403, 404, 405, 413, 500, 503, 0 }
#define LEAP__N_CODES 10
int leap__code_index(int code);
extern const int leap__codes[LEAP__N_CODES];

/* Latency histogram upper bounds in seconds (+Inf implied). */
#define LEAP__N_BUCKETS 18
extern const double leap__buckets[LEAP__N_BUCKETS];

typedef struct leap__req_stats {
    atomic_uint_fast64_t count[LEAP__H_COUNT][LEAP__N_CODES];
    atomic_uint_fast64_t hist[LEAP__H_COUNT][LEAP__N_BUCKETS + 1];
    atomic_uint_fast64_t sum_ns[LEAP__H_COUNT];
} leap__req_stats;

void leap__req_stats_add(leap__req_stats *st, leap__handler h, int code, double seconds);
/* Appends the request counters and latency histograms of n label sets
 * (model="names[i]"), one metric family after the other. */
int leap__req_stats_render(leap__req_stats *const *stats, const char *const *names, size_t n,
                           leap_buf *out);

/* ---- repository internals ------------------------------------------------- */
/* The featurizer bound to the version's input schema. */
const leap_fz_binding *leap__repo_version_binding(const leap_repo_version *v);
/* Per-model request statistics (stable for the repository's life). */
leap__req_stats *leap__repo_version_stats(const leap_repo_version *v);
/* TF Serving's version status JSON for model name: {"model_version_status":
 * [...]}; version 0 = all. Returns LEAP_ENOTFOUND when the model (or that
 * version) is unknown. */
int leap__repo_status_json(leap_repo *r, const char *name, size_t len, int64_t version,
                           leap_buf *out);
/* Model-level gauges and counters (versions loaded, loads, load failures). */
int leap__repo_metrics(leap_repo *r, leap_buf *out);
/* Every model's name and request statistics (both live as long as r);
 * returns the count (at most cap). */
size_t leap__repo_stats_list(leap_repo *r, const char **names, leap__req_stats **stats, size_t cap);
/* The scratch the reload thread uses for warm-up. */
leap_serve_scratch *leap__repo_scratch(leap_repo *r);

/* ---- JSON writing ---------------------------------------------------------- */
/* Appends s[0..n) as a JSON string literal (quotes included). */
int leap__json_str(leap_buf *b, const char *s, size_t n);
/* printf-style append. */
int leap__bprintf(leap_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
