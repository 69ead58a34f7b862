/* infile.h — private: streaming byte input from a plain, gzip or zstd file, or
 * from a memory buffer. Compression is detected from the first bytes (gzip
 * 1f 8b, zstd 28 b5 2f fd); a name ending in .gz/.zst whose content does not
 * match is refused. Concatenated gzip members and zstd frames are read through.
 * Not thread-safe; one reader per handle. */
#ifndef LEAP_DATA_INFILE_H
#define LEAP_DATA_INFILE_H

#include "leap/core.h"

typedef struct leap__infile leap__infile;

/* Opens path for reading. *out is owned by the caller (leap__infile_close). */
int leap__infile_open(const char *path, leap__infile **out, leap_err *err);
/* Reads from data[0..len), which is borrowed and must outlive the handle;
 * name is copied and only used in messages. */
int leap__infile_open_mem(const void *data, size_t len, const char *name, leap__infile **out,
                          leap_err *err);
/* Reads up to cap decompressed bytes into buf; *got == 0 means end of input.
 * Errors name the file (truncated or corrupt compressed data, read failure). */
int leap__infile_read(leap__infile *f, void *buf, size_t cap, size_t *got, leap_err *err);
/* Bytes of the underlying file or buffer consumed so far (compressed bytes),
 * and its total size (0 when unknown): for progress display. */
uint64_t leap__infile_raw_pos(const leap__infile *f);
uint64_t leap__infile_raw_size(const leap__infile *f);
const char *leap__infile_name(const leap__infile *f);
void leap__infile_close(leap__infile *f);

#endif
