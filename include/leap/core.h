/* leap/core.h — errors, hashing, atomic files, threads, progress.
 *
 * The base layer every other module builds on. No module state lives here:
 * callers pass contexts. Library code never prints or exits; it fills a
 * leap_err and returns a status, and the CLI decides what to show.
 *
 *     leap_err err = {0};
 *     if (leap_afile_open(&af, "model.leap", &err) != LEAP_OK)
 *         fprintf(stderr, "leap: %s\n", err.msg);
 */
#ifndef LEAP_CORE_H
#define LEAP_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LEAP_VERSION "0.1.0"

/* One table generates the status enum and its messages (libuv style). */
#define LEAP_STATUS_MAP(XX)                                                                        \
    XX(OK, "ok")                                                                                   \
    XX(EINVAL, "invalid argument")                                                                 \
    XX(EIO, "input/output error")                                                                  \
    XX(ENOMEM, "out of memory")                                                                    \
    XX(EPARSE, "parse error")                                                                      \
    XX(ECORRUPT, "corrupt file")                                                                   \
    XX(EVERSION, "unsupported format version")                                                     \
    XX(ENOTFOUND, "not found")                                                                     \
    XX(EUNSUPPORTED, "unsupported")                                                                \
    XX(ECOMM, "communication error")

typedef enum leap_status {
#define LEAP_XX_ENUM(name, msg) LEAP_##name,
    LEAP_STATUS_MAP(LEAP_XX_ENUM)
#undef LEAP_XX_ENUM
        LEAP_STATUS_COUNT
} leap_status;

/* Static string for a status; "unknown status" when out of range. */
const char *leap_strerror(int status);

/* Error context filled by fallible calls. msg carries the details a user needs:
 * "FILE:LINE: reason", "option 'alpha': value -1 below minimum 0", ... */
typedef struct leap_err {
    int status;
    char msg[512];
} leap_err;

/* Sets err (when non-NULL) and returns status, so callers can write
 * `return leap_err_set(err, LEAP_EINVAL, "...", ...)`. */
int leap_err_set(leap_err *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- hashing (XXH3, stable across versions) --------------------------- */
uint64_t leap_hash64(const void *data, size_t len, uint64_t seed);
/* Cheap, well-mixed combination of two 64-bit values (splitmix finalizer). */
static inline uint64_t leap_mix64(uint64_t a, uint64_t b) {
    uint64_t x = a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* ---- deterministic random numbers (splitmix64 stream) ----------------- */
typedef struct leap_rng {
    uint64_t s;
} leap_rng;
static inline uint64_t leap_rng_next(leap_rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
/* Uniform in [0, 1). */
static inline double leap_rng_uniform(leap_rng *r) {
    return (double)(leap_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- atomic file replace ---------------------------------------------- */
/* Writes go to "PATH.tmp.PID.N" in the same folder; commit fsyncs and renames
 * it over PATH; abort removes it. A crash never leaves a half-written PATH.
 * PATH "-" (standard output) or an existing non-regular file (a pipe, a
 * device such as /dev/stdout) is written directly instead. */
typedef struct leap_afile {
    FILE *fp;   /* open for writing between open and commit/abort */
    int direct; /* 1: writing PATH itself (not a regular file) */
    char path[4096];
    char tmp[4096];
} leap_afile;
int leap_afile_open(leap_afile *af, const char *path, leap_err *err);
int leap_afile_commit(leap_afile *af, leap_err *err);
void leap_afile_abort(leap_afile *af);

/* ---- threads ----------------------------------------------------------- */
/* Number of online CPUs (>= 1). */
int leap_num_cpus(void);
/* Runs fn(ctx, task, thread) for task in [0, n_tasks) on n_threads threads
 * (thread in [0, n_threads)); tasks are handed out dynamically in order.
 * Blocks until all tasks ran. n_threads <= 1 runs inline, in task order.
 * The first non-zero return stops the hand-out of further tasks and is
 * returned. */
typedef int (*leap_task_fn)(void *ctx, size_t task, int thread);
int leap_parallel_for(int n_threads, size_t n_tasks, leap_task_fn fn, void *ctx);

/* ---- time and progress -------------------------------------------------- */
double leap_now(void); /* monotonic seconds */

/* A one-line progress display on stderr, only when stderr is a terminal. */
typedef struct leap_progress {
    const char *what;
    double start, last;
    int tty;
    int shown;
} leap_progress;
void leap_progress_init(leap_progress *p, const char *what);
/* done/total in any unit; total 0 = unknown. extra may be NULL. Throttled to ~10 Hz. */
void leap_progress_update(leap_progress *p, double done, double total, const char *extra);
void leap_progress_end(leap_progress *p);

/* ---- small string helpers ---------------------------------------------- */
/* Strict numeric parsing: whole string must be consumed. Return 0 on success. */
int leap_parse_double(const char *s, double *out);
int leap_parse_i64(const char *s, int64_t *out);

/* ---- little-endian fixed-width fields of the file formats --------------- */
static inline void leap_put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void leap_put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t leap_get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static inline uint64_t leap_get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* ---- growable byte buffer ------------------------------------------------ */
typedef struct leap_buf {
    uint8_t *p;
    size_t len, cap;
} leap_buf;
/* Appends n bytes; returns LEAP_ENOMEM on failure (buffer unchanged). */
int leap_buf_append(leap_buf *b, const void *data, size_t n);
void leap_buf_free(leap_buf *b);
/* Reads a whole file into out (emptied first), refusing files over max
 * bytes (0 = no limit); errors name the path. */
int leap_read_file(const char *path, size_t max, leap_buf *out, leap_err *err);

/* Zeroed memory for a large table (n x size bytes): from 2 MB up it is its own
 * mapping advised to use transparent huge pages, so random lookups into it
 * (hashed weights, embedding rows) miss the TLB less; smaller tables come
 * from calloc. Free with leap_table_free and the same n and size. NULL when
 * out of memory or n x size overflows. */
void *leap_table_alloc(size_t n, size_t size);
void leap_table_free(void *p, size_t n, size_t size);

/* Peak resident set size of this process in bytes (0 when unknown). */
size_t leap_peak_rss(void);

#endif
