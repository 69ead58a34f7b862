/* infile.c — streaming byte input: plain files with large read(2) calls,
 * gzip through zlib's inflate (concatenated members allowed), zstd through
 * ZSTD_decompressStream (concatenated frames allowed), or a memory buffer.
 * Detects the compression from magic bytes. Does not split lines or parse:
 * callers (reader.c) cut the byte stream into lines. */
#define _GNU_SOURCE
#include "data/infile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define RAW_CAP (1u << 20) /* compressed bytes read per read(2) */

enum { IN_PLAIN, IN_GZIP, IN_ZSTD };

struct leap__infile {
    int kind;
    int fd;             /* -1 for a memory buffer */
    const uint8_t *raw; /* compressed / raw bytes window: rawbuf or the caller's memory */
    uint8_t *rawbuf;    /* [RAW_CAP], owned; NULL for a memory buffer */
    size_t raw_pos, raw_len;
    int raw_eof;       /* no more bytes after raw[raw_len) */
    uint64_t consumed; /* raw bytes handed out of the window */
    uint64_t size;     /* file size, 0 when unknown */
    z_stream zs;
    int zs_init;
    int member_done; /* gzip: the current member ended (Z_STREAM_END) */
    ZSTD_DStream *zd;
    size_t zret; /* last ZSTD_decompressStream return: 0 = at a frame boundary */
    int done;
    char name[4096];
};

static int raw_fill(leap__infile *f, leap_err *err) {
    if (f->raw_pos < f->raw_len || f->raw_eof) return LEAP_OK;
    if (f->fd < 0) {
        f->raw_eof = 1;
        return LEAP_OK;
    }
    f->raw_pos = f->raw_len = 0;
    for (;;) {
        ssize_t n = read(f->fd, f->rawbuf, RAW_CAP);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            return leap_err_set(err, LEAP_EIO, "%s: read failed: %s", f->name, strerror(errno));
        if (n == 0) f->raw_eof = 1;
        f->raw_len = (size_t)n;
        return LEAP_OK;
    }
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int setup(leap__infile *f, leap_err *err) {
    int rc = raw_fill(f, err);
    if (rc) return rc;
    /* Make sure at least 4 bytes are visible to sniff the magic (a short
     * first read from a pipe is possible; files give a full buffer). */
    while (f->fd >= 0 && !f->raw_eof && f->raw_len < 4) {
        ssize_t n = read(f->fd, f->rawbuf + f->raw_len, RAW_CAP - f->raw_len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            return leap_err_set(err, LEAP_EIO, "%s: read failed: %s", f->name, strerror(errno));
        if (n == 0) f->raw_eof = 1;
        f->raw_len += (size_t)n;
    }
    const uint8_t *p = f->raw;
    size_t n = f->raw_len;
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
        f->kind = IN_GZIP;
        if (inflateInit2(&f->zs, 15 + 32) != Z_OK)
            return leap_err_set(err, LEAP_ENOMEM, "%s: cannot start gzip decoder", f->name);
        f->zs_init = 1;
    } else if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd) {
        f->kind = IN_ZSTD;
        f->zd = ZSTD_createDStream();
        if (!f->zd || ZSTD_isError(ZSTD_initDStream(f->zd)))
            return leap_err_set(err, LEAP_ENOMEM, "%s: cannot start zstd decoder", f->name);
    } else {
        f->kind = IN_PLAIN;
        if (n > 0 && ends_with(f->name, ".gz"))
            return leap_err_set(err, LEAP_EPARSE,
                                "%s: name ends in .gz but the content is not gzip", f->name);
        if (n > 0 && ends_with(f->name, ".zst"))
            return leap_err_set(err, LEAP_EPARSE,
                                "%s: name ends in .zst but the content is not zstd", f->name);
    }
    return LEAP_OK;
}

static leap__infile *alloc_infile(const char *name) {
    leap__infile *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->fd = -1;
    snprintf(f->name, sizeof f->name, "%s", name ? name : "<memory>");
    return f;
}

int leap__infile_open(const char *path, leap__infile **out, leap_err *err) {
    *out = NULL;
    leap__infile *f = alloc_infile(path);
    if (!f) return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) {
        int rc = leap_err_set(err, errno == ENOENT ? LEAP_ENOTFOUND : LEAP_EIO,
                              "%s: cannot open: %s", path, strerror(errno));
        free(f);
        return rc;
    }
    struct stat st;
    if (fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode)) f->size = (uint64_t)st.st_size;
    if (fstat(f->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        leap__infile_close(f);
        return leap_err_set(err, LEAP_EINVAL, "%s: is a directory", path);
    }
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    f->rawbuf = malloc(RAW_CAP);
    if (!f->rawbuf) {
        leap__infile_close(f);
        return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
    }
    f->raw = f->rawbuf;
    int rc = setup(f, err);
    if (rc) {
        leap__infile_close(f);
        return rc;
    }
    *out = f;
    return LEAP_OK;
}

int leap__infile_open_mem(const void *data, size_t len, const char *name, leap__infile **out,
                          leap_err *err) {
    *out = NULL;
    leap__infile *f = alloc_infile(name);
    if (!f) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    f->raw = data;
    f->raw_len = len;
    f->raw_eof = 1;
    f->size = len;
    int rc = setup(f, err);
    if (rc) {
        leap__infile_close(f);
        return rc;
    }
    *out = f;
    return LEAP_OK;
}

static int read_plain(leap__infile *f, uint8_t *buf, size_t cap, size_t *got, leap_err *err) {
    size_t n = 0;
    if (f->raw_pos < f->raw_len) { /* bytes already sniffed into the window */
        size_t k = f->raw_len - f->raw_pos;
        if (k > cap) k = cap;
        memcpy(buf, f->raw + f->raw_pos, k);
        f->raw_pos += k;
        n = k;
    }
    while (n < cap && f->fd >= 0 && !f->raw_eof) { /* then straight into the caller's buffer */
        ssize_t r = read(f->fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0)
            return leap_err_set(err, LEAP_EIO, "%s: read failed: %s", f->name, strerror(errno));
        if (r == 0) f->raw_eof = 1;
        n += (size_t)r;
        if (n > 0) break; /* one big read is enough; the caller asks again */
    }
    f->consumed += n;
    *got = n;
    return LEAP_OK;
}

static int read_gzip(leap__infile *f, uint8_t *buf, size_t cap, size_t *got, leap_err *err) {
    size_t n = 0;
    while (n < cap && !f->done) {
        if (f->raw_pos == f->raw_len) {
            int rc = raw_fill(f, err);
            if (rc) return rc;
            if (f->raw_pos == f->raw_len) { /* end of the compressed bytes */
                if (!f->member_done)
                    return leap_err_set(err, LEAP_ECORRUPT, "%s: truncated gzip data", f->name);
                f->done = 1;
                break;
            }
        }
        if (f->member_done) { /* another member follows: it must start with the magic */
            if (f->raw[f->raw_pos] != 0x1f)
                return leap_err_set(err, LEAP_ECORRUPT, "%s: trailing garbage after gzip data",
                                    f->name);
            inflateReset(&f->zs);
            f->member_done = 0;
        }
        f->zs.next_in = (Bytef *)(f->raw + f->raw_pos);
        f->zs.avail_in = (uInt)(f->raw_len - f->raw_pos);
        size_t want = cap - n;
        if (want > (1u << 30)) want = 1u << 30;
        f->zs.next_out = buf + n;
        f->zs.avail_out = (uInt)want;
        int zr = inflate(&f->zs, Z_NO_FLUSH);
        size_t used = (size_t)(f->raw_len - f->raw_pos) - f->zs.avail_in;
        f->raw_pos += used;
        f->consumed += used;
        n += want - f->zs.avail_out;
        if (zr == Z_STREAM_END)
            f->member_done = 1;
        else if (zr == Z_BUF_ERROR)
            continue; /* needs more input; loop refills */
        else if (zr != Z_OK)
            return leap_err_set(err, LEAP_ECORRUPT, "%s: corrupt gzip data: %s", f->name,
                                f->zs.msg ? f->zs.msg : "inflate failed");
    }
    *got = n;
    return LEAP_OK;
}

static int read_zstd(leap__infile *f, uint8_t *buf, size_t cap, size_t *got, leap_err *err) {
    ZSTD_outBuffer ob = {buf, cap, 0};
    while (ob.pos < ob.size && !f->done) {
        if (f->raw_pos == f->raw_len) {
            int rc = raw_fill(f, err);
            if (rc) return rc;
            if (f->raw_pos == f->raw_len) {
                if (f->zret != 0) {
                    /* the decoder may still hold decoded bytes: flush them first */
                    ZSTD_inBuffer empty = {NULL, 0, 0};
                    size_t before = ob.pos;
                    size_t r = ZSTD_decompressStream(f->zd, &ob, &empty);
                    if (ZSTD_isError(r))
                        return leap_err_set(err, LEAP_ECORRUPT, "%s: corrupt zstd data: %s",
                                            f->name, ZSTD_getErrorName(r));
                    f->zret = r;
                    if (ob.pos > before) continue;
                    if (r != 0)
                        return leap_err_set(err, LEAP_ECORRUPT, "%s: truncated zstd data", f->name);
                }
                f->done = 1;
                break;
            }
        }
        ZSTD_inBuffer ib = {f->raw + f->raw_pos, f->raw_len - f->raw_pos, 0};
        size_t r = ZSTD_decompressStream(f->zd, &ob, &ib);
        f->raw_pos += ib.pos;
        f->consumed += ib.pos;
        if (ZSTD_isError(r))
            return leap_err_set(err, LEAP_ECORRUPT, "%s: corrupt zstd data: %s", f->name,
                                ZSTD_getErrorName(r));
        f->zret = r;
    }
    *got = ob.pos;
    return LEAP_OK;
}

int leap__infile_read(leap__infile *f, void *buf, size_t cap, size_t *got, leap_err *err) {
    *got = 0;
    if (cap == 0) return LEAP_OK;
    switch (f->kind) {
    case IN_GZIP: return read_gzip(f, buf, cap, got, err);
    case IN_ZSTD: return read_zstd(f, buf, cap, got, err);
    default: return read_plain(f, buf, cap, got, err);
    }
}

uint64_t leap__infile_raw_pos(const leap__infile *f) { return f->consumed; }
uint64_t leap__infile_raw_size(const leap__infile *f) { return f->size; }
const char *leap__infile_name(const leap__infile *f) { return f->name; }

void leap__infile_close(leap__infile *f) {
    if (!f) return;
    if (f->zs_init) inflateEnd(&f->zs);
    if (f->zd) ZSTD_freeDStream(f->zd);
    if (f->fd >= 0) close(f->fd);
    free(f->rawbuf);
    free(f);
}
