/* core.c — status strings, error context, hashing, atomic files, threads,
 * progress, strict number parsing. Does not allocate except the thread array
 * of leap_parallel_for. */
#define _GNU_SOURCE
#include "leap/core.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

static const char *const status_msgs[] = {
#define LEAP_XX_MSG(name, msg) msg,
    LEAP_STATUS_MAP(LEAP_XX_MSG)
#undef LEAP_XX_MSG
};
_Static_assert(sizeof(status_msgs) / sizeof(status_msgs[0]) == LEAP_STATUS_COUNT,
               "status table out of step");

const char *leap_strerror(int status) {
    if (status < 0 || status >= LEAP_STATUS_COUNT) return "unknown status";
    return status_msgs[status];
}

int leap_err_set(leap_err *err, int status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

uint64_t leap_hash64(const void *data, size_t len, uint64_t seed) {
    return seed ? XXH3_64bits_withSeed(data, len, seed) : XXH3_64bits(data, len);
}

/* ---- atomic files -------------------------------------------------------- */
static atomic_uint afile_counter;

int leap_afile_open(leap_afile *af, const char *path, leap_err *err) {
    memset(af, 0, sizeof *af);
    if (strlen(path) + 40 >= sizeof af->tmp)
        return leap_err_set(err, LEAP_EINVAL, "%s: path too long", path);
    snprintf(af->path, sizeof af->path, "%s", path);
    /* "-", a terminal, a pipe or a device (/dev/stdout) cannot be replaced by
     * rename: write to it directly. */
    struct stat st;
    if (!strcmp(path, "-") || (stat(path, &st) == 0 && !S_ISREG(st.st_mode))) {
        af->direct = 1;
        af->fp = !strcmp(path, "-") ? fdopen(dup(1), "wb") : fopen(path, "wb");
        if (!af->fp)
            return leap_err_set(err, LEAP_EIO, "%s: cannot open: %s", path, strerror(errno));
        return LEAP_OK;
    }
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld.%u", path, (long)getpid(),
             atomic_fetch_add(&afile_counter, 1));
    af->fp = fopen(af->tmp, "wb");
    if (!af->fp)
        return leap_err_set(err, LEAP_EIO, "%s: cannot create: %s", af->tmp, strerror(errno));
    return LEAP_OK;
}

int leap_afile_commit(leap_afile *af, leap_err *err) {
    int bad = 0;
    if (!af->fp) return leap_err_set(err, LEAP_EINVAL, "%s: file not open", af->path);
    if (af->direct) {
        bad = fflush(af->fp) != 0 || ferror(af->fp);
        bad |= fclose(af->fp) != 0;
        af->fp = NULL;
        return bad ? leap_err_set(err, LEAP_EIO, "%s: write failed", af->path) : LEAP_OK;
    }
    if (fflush(af->fp) != 0 || ferror(af->fp)) bad = 1;
    if (!bad && fsync(fileno(af->fp)) != 0) bad = 1;
    int e = errno;
    if (fclose(af->fp) != 0) bad = 1;
    af->fp = NULL;
    if (bad) {
        unlink(af->tmp);
        return leap_err_set(err, LEAP_EIO, "%s: write failed: %s", af->path, strerror(e));
    }
    if (rename(af->tmp, af->path) != 0) {
        e = errno;
        unlink(af->tmp);
        return leap_err_set(err, LEAP_EIO, "%s: rename failed: %s", af->path, strerror(e));
    }
    return LEAP_OK;
}

void leap_afile_abort(leap_afile *af) {
    if (af->fp && af->direct) {
        fclose(af->fp);
        af->fp = NULL;
    } else if (af->fp) {
        fclose(af->fp);
        af->fp = NULL;
        unlink(af->tmp);
    }
}

/* ---- threads ------------------------------------------------------------- */
int leap_num_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

typedef struct pf_shared {
    leap_task_fn fn;
    void *ctx;
    size_t n_tasks;
    atomic_size_t next;
    atomic_int rc;
} pf_shared;

typedef struct pf_thread {
    pf_shared *sh;
    int id;
} pf_thread;

static void *pf_worker(void *arg) {
    pf_thread *t = arg;
    pf_shared *sh = t->sh;
    for (;;) {
        if (atomic_load(&sh->rc) != 0) break;
        size_t i = atomic_fetch_add(&sh->next, 1);
        if (i >= sh->n_tasks) break;
        int rc = sh->fn(sh->ctx, i, t->id);
        if (rc != 0) {
            int zero = 0;
            atomic_compare_exchange_strong(&sh->rc, &zero, rc);
        }
    }
    return NULL;
}

int leap_parallel_for(int n_threads, size_t n_tasks, leap_task_fn fn, void *ctx) {
    if (n_threads > (int)n_tasks) n_threads = (int)n_tasks;
    if (n_threads <= 1) {
        for (size_t i = 0; i < n_tasks; i++) {
            int rc = fn(ctx, i, 0);
            if (rc != 0) return rc;
        }
        return 0;
    }
    pf_shared sh = {.fn = fn, .ctx = ctx, .n_tasks = n_tasks};
    atomic_init(&sh.next, 0);
    atomic_init(&sh.rc, 0);
    pthread_t *tids = calloc((size_t)n_threads, sizeof *tids);
    pf_thread *ts = calloc((size_t)n_threads, sizeof *ts);
    if (!tids || !ts) {
        free(tids);
        free(ts);
        return LEAP_ENOMEM;
    }
    int started = 0;
    for (int i = 1; i < n_threads; i++) {
        ts[i] = (pf_thread){&sh, i};
        if (pthread_create(&tids[i], NULL, pf_worker, &ts[i]) == 0)
            started = i;
        else
            break;
    }
    ts[0] = (pf_thread){&sh, 0};
    pf_worker(&ts[0]);
    for (int i = 1; i <= started; i++)
        pthread_join(tids[i], NULL);
    free(tids);
    free(ts);
    return atomic_load(&sh.rc);
}

/* ---- time and progress --------------------------------------------------- */
double leap_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void leap_progress_init(leap_progress *p, const char *what) {
    p->what = what;
    p->start = p->last = leap_now();
    p->tty = isatty(2);
    p->shown = 0;
}

void leap_progress_update(leap_progress *p, double done, double total, const char *extra) {
    if (!p->tty) return;
    double now = leap_now();
    if (now - p->last < 0.1) return;
    p->last = now;
    p->shown = 1;
    if (total > 0) {
        int width = 30, fill = (int)(width * (done / total));
        if (fill > width) fill = width;
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r%s [%s] %5.1f%% %s   ", p->what, bar, 100.0 * done / total,
                extra ? extra : "");
    } else {
        fprintf(stderr, "\r%s %.0f %s   ", p->what, done, extra ? extra : "");
    }
    fflush(stderr);
}

void leap_progress_end(leap_progress *p) {
    if (p->tty && p->shown) fprintf(stderr, "\r\033[K");
}

/* ---- strict parsing ------------------------------------------------------ */
int leap_parse_double(const char *s, double *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != 0 || errno == ERANGE || isnan(v)) return -1;
    *out = v;
    return 0;
}

int leap_parse_i64(const char *s, int64_t *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end != 0 || errno == ERANGE) return -1;
    *out = (int64_t)v;
    return 0;
}

size_t leap_peak_rss(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024;
}

int leap_buf_append(leap_buf *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) return LEAP_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
    return LEAP_OK;
}

void leap_buf_free(leap_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

#define TABLE_MMAP_MIN ((size_t)2 << 20)

void *leap_table_alloc(size_t n, size_t size) {
    if (n == 0) n = 1;
    if (size && n > SIZE_MAX / size) return NULL;
    size_t bytes = n * size;
    if (bytes < TABLE_MMAP_MIN) return calloc(n, size);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
    return p;
}

void leap_table_free(void *p, size_t n, size_t size) {
    if (!p) return;
    if (n == 0) n = 1;
    if (n * size < TABLE_MMAP_MIN)
        free(p);
    else
        munmap(p, n * size);
}

int leap_read_file(const char *path, size_t max, leap_buf *out, leap_err *err) {
    out->len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return leap_err_set(err, LEAP_EIO, "%s: cannot open: %s", path, strerror(errno));
    char chunk[65536];
    size_t n;
    int rc = LEAP_OK;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (max && out->len + n > max)
            rc = leap_err_set(err, LEAP_EINVAL, "%s: larger than %zu bytes", path, max);
        else if (leap_buf_append(out, chunk, n))
            rc = leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
    }
    if (!rc && ferror(f)) rc = leap_err_set(err, LEAP_EIO, "%s: read error", path);
    fclose(f);
    return rc;
}
