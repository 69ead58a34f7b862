/* dataset.c — the columnar dataset file (.lds): schema helpers, row-group
 * buffers, the mmap reader (validation of header, footer, index; chunk
 * checksums on read) and the atomic writer (parallel encode, ordered append,
 * deduplicated categorical dictionary). The byte layout is documented in
 * docs/FORMATS.md, section "Dataset (.lds)"; keep the two in step.
 *
 * Does not: parse raw logs (src/data/ingest*), split or sample (split.c),
 * print anything, or change a file once committed.
 *
 * The on-disk integers are little-endian; the chunk payloads are the column
 * arrays as they sit in memory, so this file only builds on little-endian
 * hosts (checked below) and decodes straight into the caller's buffers. */
#define _GNU_SOURCE
#include "leap/dataset.h"

#include "data/dataset_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the .lds chunk payloads are little-endian memory images");
_Static_assert(sizeof(float) == 4, "float32 columns");

#define DS_HEADER_LEN         16                  /* magic[8] u32 version u32 flags */
#define DS_TRAILER_LEN        24                  /* u64 footer_offset u64 footer_length magic[8] */
#define DS_DICT_ENTRY_LEN     20                  /* u64 hash u64 offset u32 length */
#define DS_MAX_ROWS_PER_GROUP (UINT64_C(1) << 31) /* offsets are uint32 */

/* ---- column types ------------------------------------------------------- */
static const char *const col_type_names[] = {
#define LEAP_XX_NAME(name, str) str,
    LEAP_COL_TYPE_MAP(LEAP_XX_NAME)
#undef LEAP_XX_NAME
};
_Static_assert(sizeof col_type_names / sizeof col_type_names[0] == LEAP_COL_TYPE_COUNT,
               "column type table out of step");

const char *leap_col_type_name(leap_col_type t) {
    if ((int)t < 0 || t >= LEAP_COL_TYPE_COUNT) return "unknown";
    return col_type_names[t];
}

int leap_col_type_from_name(const char *name) {
    for (int t = 0; t < LEAP_COL_TYPE_COUNT; t++)
        if (name && !strcmp(name, col_type_names[t])) return t;
    return -1;
}

static int is_f32_type(leap_col_type t) {
    return t == LEAP_COL_LABEL || t == LEAP_COL_WEIGHT || t == LEAP_COL_NUMERIC;
}

/* ---- schema ------------------------------------------------------------- */
int leap_schema_find(const leap_schema *s, const char *name) {
    for (size_t c = 0; c < s->n_cols; c++)
        if (!strcmp(s->cols[c].name, name)) return (int)c;
    return -1;
}

int leap_schema_find_type(const leap_schema *s, leap_col_type t) {
    for (size_t c = 0; c < s->n_cols; c++)
        if (s->cols[c].type == t) return (int)c;
    return -1;
}

void leap_schema_criteo(leap_schema *s, leap_column_def cols[40]) {
    memset(cols, 0, 40 * sizeof cols[0]);
    snprintf(cols[0].name, LEAP_NAME_MAX, "label");
    cols[0].type = LEAP_COL_LABEL;
    for (int i = 0; i < 13; i++) {
        snprintf(cols[1 + i].name, LEAP_NAME_MAX, "I%d", i + 1);
        cols[1 + i].type = LEAP_COL_NUMERIC;
    }
    for (int i = 0; i < 26; i++) {
        snprintf(cols[14 + i].name, LEAP_NAME_MAX, "C%d", i + 1);
        cols[14 + i].type = LEAP_COL_CATEGORICAL;
    }
    s->n_cols = 40;
    s->cols = cols;
}

/* Validates a schema given to the writer; message names the column. */
static int schema_check(const leap_schema *s, const char *path, leap_err *err) {
    if (!s || s->n_cols == 0 || !s->cols)
        return leap_err_set(err, LEAP_EINVAL, "%s: schema has no columns", path);
    if (s->n_cols > UINT32_MAX) return leap_err_set(err, LEAP_EINVAL, "%s: too many columns", path);
    for (size_t c = 0; c < s->n_cols; c++) {
        const leap_column_def *d = &s->cols[c];
        size_t len = strnlen(d->name, LEAP_NAME_MAX);
        if (len == 0 || len >= LEAP_NAME_MAX)
            return leap_err_set(err, LEAP_EINVAL, "%s: column %zu: name empty or longer than %d",
                                path, c, LEAP_NAME_MAX - 1);
        if ((int)d->type < 0 || d->type >= LEAP_COL_TYPE_COUNT)
            return leap_err_set(err, LEAP_EINVAL, "%s: column '%s': unknown type %d", path, d->name,
                                (int)d->type);
        if (d->weighted && d->type != LEAP_COL_MULTI_CATEGORICAL)
            return leap_err_set(err, LEAP_EINVAL,
                                "%s: column '%s': only multi_categorical columns can be weighted",
                                path, d->name);
        for (size_t k = 0; k < c; k++)
            if (!strcmp(s->cols[k].name, d->name))
                return leap_err_set(err, LEAP_EINVAL, "%s: column name '%s' appears twice", path,
                                    d->name);
    }
    return LEAP_OK;
}

/* ---- row groups ------------------------------------------------------------ */
/* Private decompression state kept in rg->scratch: one zstd context per row
 * group buffer (so per reading thread), and a byte buffer for the
 * multi-categorical chunks, which are split into three arrays after decoding. */
typedef struct rg_scratch {
    ZSTD_DCtx *dctx;
    uint8_t *buf; /* [cap] */
    size_t cap;
} rg_scratch;

int leap_rowgroup_init(leap_rowgroup *rg, const leap_schema *s) {
    memset(rg, 0, sizeof *rg);
    rg->n_cols = s->n_cols;
    if (s->n_cols == 0) return LEAP_OK;
    rg->types = calloc(s->n_cols, sizeof *rg->types);
    rg->weighted = calloc(s->n_cols, sizeof *rg->weighted);
    rg->cols = calloc(s->n_cols, sizeof *rg->cols);
    if (!rg->types || !rg->weighted || !rg->cols) {
        leap_rowgroup_free(rg);
        return LEAP_ENOMEM;
    }
    for (size_t c = 0; c < s->n_cols; c++) {
        rg->types[c] = s->cols[c].type;
        rg->weighted[c] = s->cols[c].weighted;
    }
    return LEAP_OK;
}

/* realloc that leaves *p untouched on failure. */
static int grow(void *pp, size_t n, size_t elem) {
    void **p = pp;
    if (n == 0) n = 1;
    if (n > SIZE_MAX / elem) return LEAP_ENOMEM;
    void *q = realloc(*p, n * elem);
    if (!q) return LEAP_ENOMEM;
    *p = q;
    return LEAP_OK;
}

static size_t grown(size_t want, size_t have) {
    size_t g = have + have / 2;
    return want > g ? want : g;
}

/* Room for `rows` rows in column c. */
static int column_reserve_rows(leap_rowgroup *rg, size_t c, size_t rows) {
    leap_column *col = &rg->cols[c];
    if (rows <= col->cap && (col->f32 || col->u64 || col->i64 || col->offsets)) return LEAP_OK;
    size_t n = grown(rows, col->cap);
    switch (rg->types[c]) {
    case LEAP_COL_LABEL:
    case LEAP_COL_WEIGHT:
    case LEAP_COL_NUMERIC:
        if (grow(&col->f32, n, sizeof(float))) return LEAP_ENOMEM;
        break;
    case LEAP_COL_CATEGORICAL:
        if (grow(&col->u64, n, sizeof(uint64_t))) return LEAP_ENOMEM;
        break;
    case LEAP_COL_TIMESTAMP:
        if (grow(&col->i64, n, sizeof(int64_t))) return LEAP_ENOMEM;
        break;
    case LEAP_COL_MULTI_CATEGORICAL: {
        int fresh = col->offsets == NULL;
        if (grow(&col->offsets, n + 1, sizeof(uint32_t))) return LEAP_ENOMEM;
        if (fresh) col->offsets[0] = 0;
        break;
    }
    default: return LEAP_EINVAL;
    }
    col->cap = n;
    return LEAP_OK;
}

/* Room for `values` values in multi-categorical column c. */
static int column_reserve_values(leap_rowgroup *rg, size_t c, size_t values) {
    leap_column *col = &rg->cols[c];
    if (rg->types[c] != LEAP_COL_MULTI_CATEGORICAL) return LEAP_OK;
    if (values <= col->vcap && col->u64 && (!rg->weighted[c] || col->vw)) return LEAP_OK;
    size_t n = grown(values, col->vcap);
    if (grow(&col->u64, n, sizeof(uint64_t))) return LEAP_ENOMEM;
    if (rg->weighted[c] && grow(&col->vw, n, sizeof(float))) return LEAP_ENOMEM;
    col->vcap = n;
    return LEAP_OK;
}

int leap_rowgroup_reserve(leap_rowgroup *rg, size_t rows, size_t values) {
    for (size_t c = 0; c < rg->n_cols; c++) {
        if (column_reserve_rows(rg, c, rows)) return LEAP_ENOMEM;
        if (column_reserve_values(rg, c, values)) return LEAP_ENOMEM;
    }
    return LEAP_OK;
}

void leap_rowgroup_free(leap_rowgroup *rg) {
    if (rg->cols) {
        for (size_t c = 0; c < rg->n_cols; c++) {
            leap_column *col = &rg->cols[c];
            free(col->f32);
            free(col->u64);
            free(col->i64);
            free(col->offsets);
            free(col->vw);
        }
    }
    rg_scratch *sc = rg->scratch;
    if (sc) {
        ZSTD_freeDCtx(sc->dctx);
        free(sc->buf);
        free(sc);
    }
    free(rg->cols);
    free(rg->types);
    free(rg->weighted);
    memset(rg, 0, sizeof *rg);
}

/* Bytes of the uncompressed chunk of column c of rg (n rows). */
static size_t chunk_raw_len(const leap_rowgroup *rg, size_t c, size_t n) {
    switch (rg->types[c]) {
    case LEAP_COL_LABEL:
    case LEAP_COL_WEIGHT:
    case LEAP_COL_NUMERIC: return n * 4;
    case LEAP_COL_CATEGORICAL:
    case LEAP_COL_TIMESTAMP: return n * 8;
    case LEAP_COL_MULTI_CATEGORICAL: {
        size_t nv = rg->cols[c].offsets[n];
        return (n + 1) * 4 + nv * (rg->weighted[c] ? 12 : 8);
    }
    default: return 0;
    }
}

/* ---- little-endian field access with bounds ------------------------------- */
static uint32_t rd32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t rd64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* A read cursor over the footer; any read past the end sets bad and returns
 * zeros, so the parser checks once per section instead of once per field. */
typedef struct cursor {
    const uint8_t *p;
    size_t left;
    int bad;
} cursor;

static const uint8_t *cur_take(cursor *cu, size_t n) {
    if (cu->bad || n > cu->left) {
        cu->bad = 1;
        return NULL;
    }
    const uint8_t *p = cu->p;
    cu->p += n;
    cu->left -= n;
    return p;
}
static uint8_t cur_u8(cursor *cu) {
    const uint8_t *p = cur_take(cu, 1);
    return p ? p[0] : 0;
}
static uint16_t cur_u16(cursor *cu) {
    const uint8_t *p = cur_take(cu, 2);
    return p ? (uint16_t)(p[0] | (p[1] << 8)) : 0;
}
static uint32_t cur_u32(cursor *cu) {
    const uint8_t *p = cur_take(cu, 4);
    return p ? rd32(p) : 0;
}
static uint64_t cur_u64(cursor *cu) {
    const uint8_t *p = cur_take(cu, 8);
    return p ? rd64(p) : 0;
}

/* Growable byte buffer for building the footer. */
typedef struct bytebuf {
    uint8_t *p;
    size_t len, cap;
    int oom;
} bytebuf;

static void bb_put(bytebuf *b, const void *src, size_t n) {
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t nc = grown(b->len + n, b->cap);
        if (nc < 4096) nc = 4096;
        uint8_t *q = realloc(b->p, nc);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = nc;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}
static void bb_u8(bytebuf *b, uint8_t v) { bb_put(b, &v, 1); }
static void bb_u16(bytebuf *b, uint16_t v) { bb_put(b, &v, 2); }
static void bb_u32(bytebuf *b, uint32_t v) { bb_put(b, &v, 4); }
static void bb_u64(bytebuf *b, uint64_t v) { bb_put(b, &v, 8); }

/* ---- reader ------------------------------------------------------------ */
typedef struct ds_chunk {
    uint64_t off, len, raw, sum;
} ds_chunk;

typedef struct ds_dict {
    const uint8_t *entries; /* [n] x 20 bytes in the mapping, sorted by hash */
    uint64_t n;
    const uint8_t *blob; /* [blob_len] string bytes in the mapping */
    uint64_t blob_len;
} ds_dict;

struct leap_dataset {
    char *path;
    const uint8_t *map;
    size_t size;
    leap_schema schema;
    leap_column_def *cols; /* [n_cols] */
    size_t n_meta;
    char **meta_key, **meta_val; /* [n_meta] NUL-terminated copies */
    size_t n_rg;
    uint64_t n_rows;
    uint64_t *rg_rows; /* [n_rg] */
    ds_chunk *chunks;  /* [n_rg * n_cols], row group major */
    ds_dict *dicts;    /* [n_cols]; n = 0 where the column has none */
    uint64_t fingerprint;
    leap_rowgroup *mem; /* [n_rg] decoded groups of an in-memory dataset (no map) */
};

static void ds_free(leap_dataset *ds) {
    if (!ds) return;
    if (ds->map) munmap((void *)ds->map, ds->size);
    for (size_t g = 0; ds->mem && g < ds->n_rg; g++)
        leap_rowgroup_free(&ds->mem[g]);
    free(ds->mem);
    for (size_t i = 0; i < ds->n_meta; i++) {
        free(ds->meta_key[i]);
        free(ds->meta_val[i]);
    }
    free(ds->meta_key);
    free(ds->meta_val);
    free(ds->cols);
    free(ds->rg_rows);
    free(ds->chunks);
    free(ds->dicts);
    free(ds->path);
    free(ds);
}

static char *dup_bytes(const uint8_t *p, size_t n) {
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

static int corrupt(leap_err *err, const char *path, const char *what) {
    return leap_err_set(err, LEAP_ECORRUPT, "%s: corrupt dataset: %s", path, what);
}

/* Expected uncompressed chunk length check at open: fixed-width columns must
 * hold exactly n values; multi-categorical ones an offsets array plus whole values. */
static int raw_len_ok(const leap_column_def *d, uint64_t n, uint64_t raw) {
    switch (d->type) {
    case LEAP_COL_LABEL:
    case LEAP_COL_WEIGHT:
    case LEAP_COL_NUMERIC: return raw == n * 4;
    case LEAP_COL_CATEGORICAL:
    case LEAP_COL_TIMESTAMP: return raw == n * 8;
    case LEAP_COL_MULTI_CATEGORICAL: {
        uint64_t per = d->weighted ? 12 : 8, head = (n + 1) * 4;
        return raw >= head && (raw - head) % per == 0 && (raw - head) / per <= UINT32_MAX;
    }
    default: return 0;
    }
}

static int parse_footer(leap_dataset *ds, const uint8_t *f, size_t flen, uint64_t data_end,
                        leap_err *err) {
    const char *path = ds->path;
    cursor cu = {f, flen, 0};
    char what[256];

    /* schema */
    uint32_t n_cols = cur_u32(&cu);
    if (cu.bad || n_cols == 0 || n_cols > cu.left / 4)
        return corrupt(err, path, "bad column count in footer");
    ds->cols = calloc(n_cols, sizeof *ds->cols);
    if (!ds->cols) return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
    ds->schema.n_cols = n_cols;
    ds->schema.cols = ds->cols;
    for (uint32_t c = 0; c < n_cols; c++) {
        uint8_t type = cur_u8(&cu), weighted = cur_u8(&cu);
        uint16_t nl = cur_u16(&cu);
        const uint8_t *name = cur_take(&cu, nl);
        if (cu.bad) return corrupt(err, path, "schema runs past the footer");
        if (nl == 0 || nl >= LEAP_NAME_MAX || memchr(name, 0, nl)) {
            snprintf(what, sizeof what, "column %u has a bad name", c);
            return corrupt(err, path, what);
        }
        memcpy(ds->cols[c].name, name, nl);
        if (type >= LEAP_COL_TYPE_COUNT || weighted > 1 ||
            (weighted && type != LEAP_COL_MULTI_CATEGORICAL)) {
            snprintf(what, sizeof what, "column '%s' has unknown type %u or flags %u",
                     ds->cols[c].name, type, weighted);
            return corrupt(err, path, what);
        }
        ds->cols[c].type = (leap_col_type)type;
        ds->cols[c].weighted = weighted;
    }

    /* metadata */
    uint32_t n_meta = cur_u32(&cu);
    if (cu.bad || n_meta > cu.left / 8) return corrupt(err, path, "bad metadata count");
    if (n_meta) {
        ds->meta_key = calloc(n_meta, sizeof(char *));
        ds->meta_val = calloc(n_meta, sizeof(char *));
        if (!ds->meta_key || !ds->meta_val)
            return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
    }
    for (uint32_t i = 0; i < n_meta; i++) {
        uint32_t kl = cur_u32(&cu);
        const uint8_t *k = cur_take(&cu, kl);
        uint32_t vl = cur_u32(&cu);
        const uint8_t *v = cur_take(&cu, vl);
        if (cu.bad) return corrupt(err, path, "metadata runs past the footer");
        if (memchr(k, 0, kl) || memchr(v, 0, vl))
            return corrupt(err, path, "metadata holds a NUL byte");
        ds->meta_key[i] = dup_bytes(k, kl);
        ds->meta_val[i] = dup_bytes(v, vl);
        ds->n_meta = i + 1;
        if (!ds->meta_key[i] || !ds->meta_val[i])
            return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
    }

    /* row-group index */
    uint64_t n_rg = cur_u64(&cu);
    uint64_t per_rg = 8 + (uint64_t)n_cols * 32;
    if (cu.bad || n_rg > cu.left / per_rg) return corrupt(err, path, "bad row-group count");
    ds->n_rg = (size_t)n_rg;
    if (n_rg) {
        ds->rg_rows = calloc((size_t)n_rg, sizeof *ds->rg_rows);
        ds->chunks = calloc((size_t)n_rg * n_cols, sizeof *ds->chunks);
        if (!ds->rg_rows || !ds->chunks)
            return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
    }
    for (uint64_t g = 0; g < n_rg; g++) {
        uint64_t n = cur_u64(&cu);
        if (n == 0 || n > DS_MAX_ROWS_PER_GROUP) {
            snprintf(what, sizeof what, "row group %llu has a bad row count %llu",
                     (unsigned long long)g, (unsigned long long)n);
            return corrupt(err, path, what);
        }
        ds->rg_rows[g] = n;
        ds->n_rows += n;
        for (uint32_t c = 0; c < n_cols; c++) {
            ds_chunk *ch = &ds->chunks[g * n_cols + c];
            ch->off = cur_u64(&cu);
            ch->len = cur_u64(&cu);
            ch->raw = cur_u64(&cu);
            ch->sum = cur_u64(&cu);
            if (cu.bad) return corrupt(err, path, "row-group index runs past the footer");
            if (ch->off < DS_HEADER_LEN || ch->off > data_end || ch->len > data_end - ch->off) {
                snprintf(what, sizeof what,
                         "row group %llu, column '%s': chunk [%llu, +%llu) outside the data area",
                         (unsigned long long)g, ds->cols[c].name, (unsigned long long)ch->off,
                         (unsigned long long)ch->len);
                return corrupt(err, path, what);
            }
            if (!raw_len_ok(&ds->cols[c], n, ch->raw) || ch->raw > SIZE_MAX / 2) {
                snprintf(what, sizeof what,
                         "row group %llu, column '%s': decoded length %llu does not fit %llu rows",
                         (unsigned long long)g, ds->cols[c].name, (unsigned long long)ch->raw,
                         (unsigned long long)n);
                return corrupt(err, path, what);
            }
        }
    }

    /* dictionaries */
    ds->dicts = calloc(n_cols, sizeof *ds->dicts);
    if (!ds->dicts) return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
    uint32_t n_dicts = cur_u32(&cu);
    if (cu.bad || n_dicts > n_cols) return corrupt(err, path, "bad dictionary count");
    for (uint32_t i = 0; i < n_dicts; i++) {
        uint32_t col = cur_u32(&cu);
        (void)cur_u32(&cu); /* reserved */
        uint64_t n = cur_u64(&cu), blob_len = cur_u64(&cu);
        if (cu.bad || col >= n_cols || ds->dicts[col].entries ||
            (ds->cols[col].type != LEAP_COL_CATEGORICAL &&
             ds->cols[col].type != LEAP_COL_MULTI_CATEGORICAL) ||
            n == 0 || n > cu.left / DS_DICT_ENTRY_LEN)
            return corrupt(err, path, "bad dictionary header");
        ds->dicts[col].entries = cur_take(&cu, (size_t)n * DS_DICT_ENTRY_LEN);
        ds->dicts[col].n = n;
        ds->dicts[col].blob = cur_take(&cu, blob_len > cu.left ? cu.left + 1 : (size_t)blob_len);
        ds->dicts[col].blob_len = blob_len;
        if (cu.bad) {
            snprintf(what, sizeof what, "dictionary of column '%s' runs past the footer",
                     ds->cols[col].name);
            return corrupt(err, path, what);
        }
    }
    if (cu.left != 0) return corrupt(err, path, "unexpected bytes at the end of the footer");

    /* fingerprint: schema + every chunk checksum */
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    for (size_t c = 0; c < n_cols; c++) {
        uint8_t tw[2] = {(uint8_t)ds->cols[c].type, ds->cols[c].weighted};
        XXH3_64bits_update(&st, ds->cols[c].name, strlen(ds->cols[c].name) + 1);
        XXH3_64bits_update(&st, tw, 2);
    }
    for (size_t i = 0; i < ds->n_rg * n_cols; i++)
        XXH3_64bits_update(&st, &ds->chunks[i].sum, 8);
    ds->fingerprint = XXH3_64bits_digest(&st);
    return LEAP_OK;
}

int leap_dataset_open(const char *path, leap_dataset **out, leap_err *err) {
    *out = NULL;
    leap_dataset *ds = calloc(1, sizeof *ds);
    if (!ds || !(ds->path = strdup(path))) {
        free(ds);
        return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        ds_free(ds);
        return leap_err_set(err, e == ENOENT ? LEAP_ENOTFOUND : LEAP_EIO, "%s: cannot open: %s",
                            path, strerror(e));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        ds_free(ds);
        return leap_err_set(err, LEAP_EIO, "%s: not a regular file", path);
    }
    int rc;
    if ((uint64_t)sb.st_size < DS_HEADER_LEN + DS_TRAILER_LEN + 8) {
        close(fd);
        rc = leap_err_set(err, LEAP_ECORRUPT,
                          "%s: not a leap dataset: %lld bytes is too short (truncated?)", path,
                          (long long)sb.st_size);
        ds_free(ds);
        return rc;
    }
    ds->size = (size_t)sb.st_size;
    void *m = mmap(NULL, ds->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        rc = leap_err_set(err, LEAP_EIO, "%s: cannot map: %s", path, strerror(errno));
        ds_free(ds);
        return rc;
    }
    ds->map = m;
    const uint8_t *p = ds->map;
    if (memcmp(p, LEAP_DS_MAGIC, 8) != 0) {
        rc = leap_err_set(err, LEAP_ECORRUPT, "%s: not a leap dataset (bad magic)", path);
        goto fail;
    }
    uint32_t version = rd32(p + 8), flags = rd32(p + 12);
    if (version > LEAP_DS_VERSION) {
        rc = leap_err_set(err, LEAP_EVERSION,
                          "%s: dataset format version %u is newer than this leap supports (%d)",
                          path, version, LEAP_DS_VERSION);
        goto fail;
    }
    if (version == 0 || flags != 0) {
        rc = leap_err_set(err, LEAP_ECORRUPT, "%s: corrupt dataset: bad version %u or flags %u",
                          path, version, flags);
        goto fail;
    }
    const uint8_t *tr = p + ds->size - DS_TRAILER_LEN;
    if (memcmp(tr + 16, LEAP_DS_MAGIC, 8) != 0) {
        rc = corrupt(err, path, "trailer magic missing (truncated or unfinished file)");
        goto fail;
    }
    uint64_t foff = rd64(tr), flen = rd64(tr + 8);
    uint64_t fend = ds->size - DS_TRAILER_LEN;
    if (foff < DS_HEADER_LEN || foff > fend || flen != fend - foff || flen < 8) {
        rc = corrupt(err, path, "footer offset/length outside the file");
        goto fail;
    }
    const uint8_t *f = p + foff;
    if (XXH3_64bits(f, (size_t)flen - 8) != rd64(f + flen - 8)) {
        rc = corrupt(err, path, "footer checksum mismatch");
        goto fail;
    }
    rc = parse_footer(ds, f, (size_t)flen - 8, foff, err);
    if (rc != LEAP_OK) goto fail;
    *out = ds;
    return LEAP_OK;
fail:
    ds_free(ds);
    return rc;
}

void leap_dataset_close(leap_dataset *ds) { ds_free(ds); }

const leap_schema *leap_dataset_schema(const leap_dataset *ds) { return &ds->schema; }
const char *leap_dataset_path(const leap_dataset *ds) { return ds->path; }
uint64_t leap_dataset_num_rows(const leap_dataset *ds) { return ds->n_rows; }
size_t leap_dataset_num_row_groups(const leap_dataset *ds) { return ds->n_rg; }
size_t leap_dataset_row_group_rows(const leap_dataset *ds, size_t g) {
    return g < ds->n_rg ? (size_t)ds->rg_rows[g] : 0;
}
uint64_t leap_dataset_fingerprint(const leap_dataset *ds) { return ds->fingerprint; }

const char *leap_dataset_meta_get(const leap_dataset *ds, const char *key) {
    for (size_t i = 0; i < ds->n_meta; i++)
        if (!strcmp(ds->meta_key[i], key)) return ds->meta_val[i];
    return NULL;
}
size_t leap_dataset_meta_count(const leap_dataset *ds) { return ds->n_meta; }
void leap_dataset_meta_at(const leap_dataset *ds, size_t i, const char **key, const char **val) {
    *key = i < ds->n_meta ? ds->meta_key[i] : NULL;
    *val = i < ds->n_meta ? ds->meta_val[i] : NULL;
}

static int chunk_err(leap_err *err, int st, const leap_dataset *ds, size_t g, size_t c,
                     const char *what) {
    return leap_err_set(err, st, "%s: row group %zu, column '%s': %s", ds->path, g,
                        ds->cols[c].name, what);
}

/* Decompresses exactly `raw` bytes of chunk ch into dst. */
static int decode_into(leap_dataset *ds, rg_scratch *sc, size_t g, size_t c, const ds_chunk *ch,
                       void *dst, leap_err *err) {
    size_t r =
        ZSTD_decompressDCtx(sc->dctx, dst, (size_t)ch->raw, ds->map + ch->off, (size_t)ch->len);
    if (ZSTD_isError(r)) {
        char what[160];
        snprintf(what, sizeof what, "corrupt chunk: zstd: %s", ZSTD_getErrorName(r));
        return chunk_err(err, LEAP_ECORRUPT, ds, g, c, what);
    }
    if (r != ch->raw) return chunk_err(err, LEAP_ECORRUPT, ds, g, c, "corrupt chunk: short data");
    return LEAP_OK;
}

/* Copies row group g of an in-memory dataset into rg. */
static int mem_read(leap_dataset *ds, size_t g, leap_rowgroup *rg, const uint8_t *want,
                    leap_err *err) {
    const leap_rowgroup *src = &ds->mem[g];
    size_t n = src->n_rows;
    for (size_t c = 0; c < ds->schema.n_cols; c++) {
        if (want && !want[c]) continue;
        const leap_column *a = &src->cols[c];
        leap_column *b = &rg->cols[c];
        if (column_reserve_rows(rg, c, n))
            return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", ds->path);
        switch (ds->cols[c].type) {
        case LEAP_COL_LABEL:
        case LEAP_COL_WEIGHT:
        case LEAP_COL_NUMERIC: memcpy(b->f32, a->f32, n * sizeof(float)); break;
        case LEAP_COL_CATEGORICAL: memcpy(b->u64, a->u64, n * sizeof(uint64_t)); break;
        case LEAP_COL_TIMESTAMP: memcpy(b->i64, a->i64, n * sizeof(int64_t)); break;
        case LEAP_COL_MULTI_CATEGORICAL: {
            size_t nv = a->offsets[n];
            if (column_reserve_values(rg, c, nv))
                return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", ds->path);
            memcpy(b->offsets, a->offsets, (n + 1) * sizeof(uint32_t));
            memcpy(b->u64, a->u64, nv * sizeof(uint64_t));
            if (ds->cols[c].weighted) memcpy(b->vw, a->vw, nv * sizeof(float));
            break;
        }
        default: return leap_err_set(err, LEAP_EINVAL, "%s: unknown column type", ds->path);
        }
    }
    rg->n_rows = n;
    return LEAP_OK;
}

int leap_dataset_open_memory(const char *name, const leap_schema *s, leap_rowgroup *rgs, size_t n,
                             const char *const *keys, const char *const *vals, size_t n_meta,
                             leap_dataset **out, leap_err *err) {
    leap_dataset *ds = calloc(1, sizeof *ds);
    size_t nc = s->n_cols;
    if (!ds) goto oom;
    ds->mem = rgs;
    ds->n_rg = n;
    rgs = NULL;
    ds->path = strdup(name);
    ds->cols = calloc(nc ? nc : 1, sizeof *ds->cols);
    ds->rg_rows = calloc(n ? n : 1, sizeof *ds->rg_rows);
    ds->dicts = calloc(nc ? nc : 1, sizeof *ds->dicts);
    ds->meta_key = calloc(n_meta ? n_meta : 1, sizeof *ds->meta_key);
    ds->meta_val = calloc(n_meta ? n_meta : 1, sizeof *ds->meta_val);
    if (!ds->path || !ds->cols || !ds->rg_rows || !ds->dicts || !ds->meta_key || !ds->meta_val)
        goto oom;
    memcpy(ds->cols, s->cols, nc * sizeof *ds->cols);
    ds->schema.n_cols = nc;
    ds->schema.cols = ds->cols;
    for (size_t i = 0; i < n_meta; i++) {
        ds->meta_key[i] = strdup(keys[i]);
        ds->meta_val[i] = strdup(vals[i]);
        ds->n_meta = i + 1;
        if (!ds->meta_key[i] || !ds->meta_val[i]) goto oom;
    }
    /* Fingerprint: schema, then every column's bytes, group by group. */
    XXH3_state_t *st = XXH3_createState();
    if (!st) goto oom;
    XXH3_64bits_reset(st);
    for (size_t c = 0; c < nc; c++) {
        XXH3_64bits_update(st, ds->cols[c].name, strlen(ds->cols[c].name) + 1);
        uint8_t tw[2] = {(uint8_t)ds->cols[c].type, ds->cols[c].weighted};
        XXH3_64bits_update(st, tw, 2);
    }
    for (size_t g = 0; g < n; g++) {
        const leap_rowgroup *r = &ds->mem[g];
        size_t rows = r->n_rows;
        ds->rg_rows[g] = rows;
        ds->n_rows += rows;
        for (size_t c = 0; c < nc; c++) {
            const leap_column *col = &r->cols[c];
            switch (ds->cols[c].type) {
            case LEAP_COL_CATEGORICAL: XXH3_64bits_update(st, col->u64, rows * 8); break;
            case LEAP_COL_TIMESTAMP: XXH3_64bits_update(st, col->i64, rows * 8); break;
            case LEAP_COL_MULTI_CATEGORICAL:
                XXH3_64bits_update(st, col->offsets, (rows + 1) * 4);
                XXH3_64bits_update(st, col->u64, (size_t)col->offsets[rows] * 8);
                if (ds->cols[c].weighted)
                    XXH3_64bits_update(st, col->vw, (size_t)col->offsets[rows] * 4);
                break;
            default: XXH3_64bits_update(st, col->f32, rows * 4);
            }
        }
    }
    ds->fingerprint = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    *out = ds;
    return LEAP_OK;
oom:
    if (rgs) {
        for (size_t g = 0; g < n; g++)
            leap_rowgroup_free(&rgs[g]);
        free(rgs);
    }
    ds_free(ds);
    return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", name);
}

int leap__dataset_read_columns(leap_dataset *ds, size_t g, leap_rowgroup *rg, const uint8_t *want,
                               leap_err *err) {
    if (g >= ds->n_rg)
        return leap_err_set(err, LEAP_EINVAL, "%s: row group %zu out of range (%zu groups)",
                            ds->path, g, ds->n_rg);
    size_t nc = ds->schema.n_cols;
    if (rg->n_cols != nc)
        return leap_err_set(err, LEAP_EINVAL, "%s: row group buffer has %zu columns, file has %zu",
                            ds->path, rg->n_cols, nc);
    for (size_t c = 0; c < nc; c++)
        if (rg->types[c] != ds->cols[c].type || rg->weighted[c] != ds->cols[c].weighted)
            return chunk_err(err, LEAP_EINVAL, ds, g, c, "row group buffer has another type");
    if (ds->mem) return mem_read(ds, g, rg, want, err);
    rg_scratch *sc = rg->scratch;
    if (!sc) {
        sc = calloc(1, sizeof *sc);
        if (!sc || !(sc->dctx = ZSTD_createDCtx())) {
            free(sc);
            return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", ds->path);
        }
        rg->scratch = sc;
    }
    size_t n = (size_t)ds->rg_rows[g];
    for (size_t c = 0; c < nc; c++) {
        if (want && !want[c]) continue;
        const ds_chunk *ch = &ds->chunks[g * nc + c];
        if (XXH3_64bits(ds->map + ch->off, (size_t)ch->len) != ch->sum)
            return chunk_err(err, LEAP_ECORRUPT, ds, g, c, "chunk checksum mismatch");
        if (column_reserve_rows(rg, c, n))
            return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", ds->path);
        leap_column *col = &rg->cols[c];
        int rc;
        switch (ds->cols[c].type) {
        case LEAP_COL_LABEL:
        case LEAP_COL_WEIGHT:
        case LEAP_COL_NUMERIC: rc = decode_into(ds, sc, g, c, ch, col->f32, err); break;
        case LEAP_COL_CATEGORICAL: rc = decode_into(ds, sc, g, c, ch, col->u64, err); break;
        case LEAP_COL_TIMESTAMP: rc = decode_into(ds, sc, g, c, ch, col->i64, err); break;
        case LEAP_COL_MULTI_CATEGORICAL: {
            if (ch->raw > sc->cap) {
                size_t ncap = grown((size_t)ch->raw, sc->cap);
                if (grow(&sc->buf, ncap, 1))
                    return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", ds->path);
                sc->cap = ncap;
            }
            rc = decode_into(ds, sc, g, c, ch, sc->buf, err);
            if (rc) break;
            size_t head = (n + 1) * 4, per = ds->cols[c].weighted ? 12 : 8;
            size_t nv = ((size_t)ch->raw - head) / per;
            memcpy(col->offsets, sc->buf, head);
            /* offsets must start at 0, never decrease and end at the value count,
             * or a consumer would index outside the values */
            uint32_t prev = 0;
            int ok = col->offsets[0] == 0;
            for (size_t i = 1; i <= n && ok; i++) {
                ok = col->offsets[i] >= prev;
                prev = col->offsets[i];
            }
            if (!ok || prev != nv)
                return chunk_err(err, LEAP_ECORRUPT, ds, g, c, "corrupt chunk: bad offsets");
            if (column_reserve_values(rg, c, nv))
                return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", ds->path);
            memcpy(col->u64, sc->buf + head, nv * 8);
            if (ds->cols[c].weighted) memcpy(col->vw, sc->buf + head + nv * 8, nv * 4);
            break;
        }
        default: rc = chunk_err(err, LEAP_ECORRUPT, ds, g, c, "unknown type");
        }
        if (rc) return rc;
    }
    rg->n_rows = n;
    return LEAP_OK;
}

int leap_dataset_read_row_group(leap_dataset *ds, size_t g, leap_rowgroup *rg, leap_err *err) {
    return leap__dataset_read_columns(ds, g, rg, NULL, err);
}

/* Binary search of a dictionary sorted by hash. O(log n), no allocation. */
int leap_dataset_dict_lookup(const leap_dataset *ds, size_t col, uint64_t hash, const char **s,
                             size_t *len) {
    if (col >= ds->schema.n_cols || !ds->dicts) return -1;
    const ds_dict *d = &ds->dicts[col];
    uint64_t lo = 0, hi = d->n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        const uint8_t *e = d->entries + mid * DS_DICT_ENTRY_LEN;
        uint64_t h = rd64(e);
        if (h < hash)
            lo = mid + 1;
        else if (h > hash)
            hi = mid;
        else {
            uint64_t off = rd64(e + 8), l = rd32(e + 16);
            if (off > d->blob_len || l > d->blob_len - off) return -1; /* corrupt entry */
            *s = (const char *)d->blob + off;
            *len = (size_t)l;
            return 0;
        }
    }
    return -1;
}

/* ---- writer ------------------------------------------------------------ */
typedef struct dict_entry {
    uint64_t hash;
    uint64_t off; /* in blob */
    uint32_t len;
    uint32_t col;
} dict_entry;

struct leap_dataset_writer {
    leap_afile af;
    leap_schema schema;
    leap_column_def *cols; /* [n_cols] copy */
    int level;
    uint64_t pos; /* bytes written so far */
    int io_failed;
    /* metadata: [n_meta] owned strings */
    char **mkey, **mval;
    size_t n_meta, cap_meta;
    /* index */
    uint64_t *rg_rows; /* [n_rg] */
    ds_chunk *chunks;  /* [n_rg * n_cols] */
    size_t n_rg, cap_rg;
    /* dictionary: entries + string blob + open-addressing map of entry index + 1 */
    dict_entry *dent;
    size_t n_dent, cap_dent;
    char *blob;
    size_t blob_len, blob_cap;
    uint32_t *slots; /* [n_slots], 0 = empty, power of two */
    size_t n_slots;
};

static void writer_free(leap_dataset_writer *w) {
    for (size_t i = 0; i < w->n_meta; i++) {
        free(w->mkey[i]);
        free(w->mval[i]);
    }
    free(w->mkey);
    free(w->mval);
    free(w->cols);
    free(w->rg_rows);
    free(w->chunks);
    free(w->dent);
    free(w->blob);
    free(w->slots);
    free(w);
}

static int wr(leap_dataset_writer *w, const void *p, size_t n, leap_err *err) {
    if (n && fwrite(p, 1, n, w->af.fp) != n) {
        w->io_failed = 1;
        return leap_err_set(err, LEAP_EIO, "%s: write failed: %s", w->af.path, strerror(errno));
    }
    w->pos += n;
    return LEAP_OK;
}

int leap_dataset_writer_create(const char *path, const leap_schema *s,
                               const leap_dataset_write_opts *opts, leap_dataset_writer **out,
                               leap_err *err) {
    *out = NULL;
    int rc = schema_check(s, path, err);
    if (rc) return rc;
    int level = opts && opts->zstd_level ? opts->zstd_level : 1;
    if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
        return leap_err_set(err, LEAP_EINVAL, "%s: zstd level %d outside [%d, %d]", path, level,
                            ZSTD_minCLevel(), ZSTD_maxCLevel());
    leap_dataset_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->cols = calloc(s->n_cols, sizeof *w->cols))) {
        free(w);
        return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
    }
    memcpy(w->cols, s->cols, s->n_cols * sizeof *w->cols);
    w->schema.n_cols = s->n_cols;
    w->schema.cols = w->cols;
    w->level = level;
    rc = leap_afile_open(&w->af, path, err);
    if (rc) {
        writer_free(w);
        return rc;
    }
    uint8_t hdr[DS_HEADER_LEN] = {0};
    memcpy(hdr, LEAP_DS_MAGIC, 8);
    uint32_t v = LEAP_DS_VERSION;
    memcpy(hdr + 8, &v, 4);
    if ((rc = wr(w, hdr, sizeof hdr, err))) {
        leap_dataset_writer_abort(w);
        return rc;
    }
    *out = w;
    return LEAP_OK;
}

int leap_dataset_writer_set_meta(leap_dataset_writer *w, const char *key, const char *val) {
    char *v = strdup(val);
    if (!v) return LEAP_ENOMEM;
    for (size_t i = 0; i < w->n_meta; i++)
        if (!strcmp(w->mkey[i], key)) {
            free(w->mval[i]);
            w->mval[i] = v;
            return LEAP_OK;
        }
    char *k = strdup(key);
    if (!k) {
        free(v);
        return LEAP_ENOMEM;
    }
    if (w->n_meta == w->cap_meta) {
        size_t nc = grown(w->n_meta + 1, w->cap_meta);
        if (grow(&w->mkey, nc, sizeof(char *)) || grow(&w->mval, nc, sizeof(char *))) {
            free(k);
            free(v);
            return LEAP_ENOMEM;
        }
        w->cap_meta = nc;
    }
    w->mkey[w->n_meta] = k;
    w->mval[w->n_meta++] = v;
    return LEAP_OK;
}

void leap_encoded_rg_free(leap_encoded_rg *e) {
    free(e->buf);
    free(e->chunk_off);
    free(e->chunk_len);
    free(e->chunk_raw);
    free(e->chunk_sum);
    memset(e, 0, sizeof *e);
}

int leap_dataset_encode_row_group(const leap_dataset_writer *w, const leap_rowgroup *rg,
                                  leap_encoded_rg *out, leap_err *err) {
    const char *path = w->af.path;
    size_t nc = w->schema.n_cols, n = rg->n_rows;
    if (rg->n_cols != nc)
        return leap_err_set(err, LEAP_EINVAL, "%s: row group has %zu columns, schema has %zu", path,
                            rg->n_cols, nc);
    if (n > DS_MAX_ROWS_PER_GROUP)
        return leap_err_set(err, LEAP_EINVAL, "%s: row group of %zu rows is too large", path, n);
    for (size_t c = 0; c < nc; c++) {
        if (rg->types[c] != w->cols[c].type || rg->weighted[c] != w->cols[c].weighted)
            return leap_err_set(err, LEAP_EINVAL, "%s: column '%s': row group has type %s", path,
                                w->cols[c].name, leap_col_type_name(rg->types[c]));
        const leap_column *col = &rg->cols[c];
        int have = is_f32_type(rg->types[c])              ? col->f32 != NULL
                   : rg->types[c] == LEAP_COL_CATEGORICAL ? col->u64 != NULL
                   : rg->types[c] == LEAP_COL_TIMESTAMP   ? col->i64 != NULL
                                                          : col->offsets != NULL;
        if (n && !have)
            return leap_err_set(err, LEAP_EINVAL, "%s: column '%s': no values in row group", path,
                                w->cols[c].name);
        if (rg->types[c] == LEAP_COL_MULTI_CATEGORICAL && n) {
            size_t nv = col->offsets[n];
            if (col->offsets[0] != 0 || (nv && !col->u64) || (nv && rg->weighted[c] && !col->vw))
                return leap_err_set(err, LEAP_EINVAL, "%s: column '%s': bad offsets or values",
                                    path, w->cols[c].name);
        }
    }
    if (grow(&out->chunk_off, nc, sizeof(size_t)) || grow(&out->chunk_len, nc, sizeof(size_t)) ||
        grow(&out->chunk_raw, nc, sizeof(size_t)) || grow(&out->chunk_sum, nc, sizeof(uint64_t)))
        return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
    out->n_rows = n;
    out->n_chunks = nc;
    out->len = 0;
    if (n == 0) {
        memset(out->chunk_off, 0, nc * sizeof(size_t));
        memset(out->chunk_len, 0, nc * sizeof(size_t));
        memset(out->chunk_raw, 0, nc * sizeof(size_t));
        memset(out->chunk_sum, 0, nc * sizeof(uint64_t));
        return LEAP_OK;
    }
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    if (!cctx) return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
    uint8_t *tmp = NULL; /* multi-categorical chunks are assembled here first */
    size_t tmp_cap = 0;
    int rc = LEAP_OK;
    for (size_t c = 0; c < nc && rc == LEAP_OK; c++) {
        const leap_column *col = &rg->cols[c];
        size_t raw = chunk_raw_len(rg, c, n);
        const void *src;
        switch (rg->types[c]) {
        case LEAP_COL_LABEL:
        case LEAP_COL_WEIGHT:
        case LEAP_COL_NUMERIC: src = col->f32; break;
        case LEAP_COL_CATEGORICAL: src = col->u64; break;
        case LEAP_COL_TIMESTAMP: src = col->i64; break;
        default: {
            size_t nv = col->offsets[n];
            if (raw > tmp_cap) {
                if (grow(&tmp, raw, 1)) {
                    rc = leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
                    continue;
                }
                tmp_cap = raw;
            }
            memcpy(tmp, col->offsets, (n + 1) * 4);
            if (nv) memcpy(tmp + (n + 1) * 4, col->u64, nv * 8);
            if (nv && rg->weighted[c]) memcpy(tmp + (n + 1) * 4 + nv * 8, col->vw, nv * 4);
            src = tmp;
        }
        }
        size_t bound = ZSTD_compressBound(raw);
        if (out->len + bound > out->cap) {
            size_t ncap = grown(out->len + bound, out->cap);
            if (grow(&out->buf, ncap, 1)) {
                rc = leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", path);
                continue;
            }
            out->cap = ncap;
        }
        size_t z = ZSTD_compressCCtx(cctx, out->buf + out->len, bound, src, raw, w->level);
        if (ZSTD_isError(z)) {
            rc = leap_err_set(err, LEAP_EIO, "%s: column '%s': zstd: %s", path, w->cols[c].name,
                              ZSTD_getErrorName(z));
            continue;
        }
        out->chunk_off[c] = out->len;
        out->chunk_len[c] = z;
        out->chunk_raw[c] = raw;
        out->chunk_sum[c] = XXH3_64bits(out->buf + out->len, z);
        out->len += z;
    }
    free(tmp);
    ZSTD_freeCCtx(cctx);
    return rc;
}

int leap_dataset_writer_add_encoded(leap_dataset_writer *w, const leap_encoded_rg *e,
                                    leap_err *err) {
    size_t nc = w->schema.n_cols;
    if (w->io_failed) return leap_err_set(err, LEAP_EIO, "%s: an earlier write failed", w->af.path);
    if (e->n_rows == 0) return LEAP_OK; /* empty groups are not stored */
    if (e->n_chunks != nc)
        return leap_err_set(err, LEAP_EINVAL, "%s: encoded row group has %zu chunks, schema %zu",
                            w->af.path, e->n_chunks, nc);
    if (w->n_rg == w->cap_rg) {
        size_t ncap = grown(w->n_rg + 1, w->cap_rg);
        if (grow(&w->rg_rows, ncap, sizeof(uint64_t)) ||
            grow(&w->chunks, ncap * nc, sizeof(ds_chunk)))
            return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", w->af.path);
        w->cap_rg = ncap;
    }
    uint64_t base = w->pos;
    int rc = wr(w, e->buf, e->len, err);
    if (rc) return rc;
    w->rg_rows[w->n_rg] = e->n_rows;
    for (size_t c = 0; c < nc; c++)
        w->chunks[w->n_rg * nc + c] =
            (ds_chunk){base + e->chunk_off[c], e->chunk_len[c], e->chunk_raw[c], e->chunk_sum[c]};
    w->n_rg++;
    return LEAP_OK;
}

int leap_dataset_writer_add_row_group(leap_dataset_writer *w, const leap_rowgroup *rg,
                                      leap_err *err) {
    leap_encoded_rg e = {0};
    int rc = leap_dataset_encode_row_group(w, rg, &e, err);
    if (rc == LEAP_OK) rc = leap_dataset_writer_add_encoded(w, &e, err);
    leap_encoded_rg_free(&e);
    return rc;
}

static size_t dict_slot(uint64_t col, uint64_t hash, size_t mask) {
    return (size_t)leap_mix64(hash, col) & mask;
}

static int dict_rehash(leap_dataset_writer *w, size_t n_slots) {
    uint32_t *s = calloc(n_slots, sizeof *s);
    if (!s) return LEAP_ENOMEM;
    for (size_t i = 0; i < w->n_dent; i++) {
        size_t j = dict_slot(w->dent[i].col, w->dent[i].hash, n_slots - 1);
        while (s[j])
            j = (j + 1) & (n_slots - 1);
        s[j] = (uint32_t)(i + 1);
    }
    free(w->slots);
    w->slots = s;
    w->n_slots = n_slots;
    return LEAP_OK;
}

/* Open addressing with linear probing, load factor <= 1/2: O(1) expected. */
int leap_dataset_writer_add_dict(leap_dataset_writer *w, size_t col, uint64_t hash, const char *s,
                                 size_t len) {
    if (col >= w->schema.n_cols || hash == 0 || len > UINT32_MAX ||
        (w->cols[col].type != LEAP_COL_CATEGORICAL &&
         w->cols[col].type != LEAP_COL_MULTI_CATEGORICAL))
        return LEAP_EINVAL;
    if (w->n_dent >= UINT32_MAX - 1) return LEAP_ENOMEM;
    if ((w->n_dent + 1) * 2 > w->n_slots && dict_rehash(w, w->n_slots ? w->n_slots * 2 : 1024))
        return LEAP_ENOMEM;
    size_t mask = w->n_slots - 1, j = dict_slot(col, hash, mask);
    for (; w->slots[j]; j = (j + 1) & mask) {
        const dict_entry *e = &w->dent[w->slots[j] - 1];
        if (e->hash == hash && e->col == col) return LEAP_OK;
    }
    if (w->n_dent == w->cap_dent) {
        size_t nc = grown(w->n_dent + 1, w->cap_dent);
        if (grow(&w->dent, nc, sizeof(dict_entry))) return LEAP_ENOMEM;
        w->cap_dent = nc;
    }
    if (w->blob_len + len > w->blob_cap) {
        size_t nc = grown(w->blob_len + len, w->blob_cap);
        if (grow(&w->blob, nc, 1)) return LEAP_ENOMEM;
        w->blob_cap = nc;
    }
    if (len) memcpy(w->blob + w->blob_len, s, len);
    w->dent[w->n_dent] = (dict_entry){hash, w->blob_len, (uint32_t)len, (uint32_t)col};
    w->blob_len += len;
    w->slots[j] = (uint32_t)++w->n_dent;
    return LEAP_OK;
}

int leap__dataset_copy_dicts(const leap_dataset *ds, leap_dataset_writer *w, leap_err *err) {
    for (size_t c = 0; c < ds->schema.n_cols && ds->dicts; c++) {
        const ds_dict *d = &ds->dicts[c];
        for (uint64_t i = 0; i < d->n; i++) {
            const uint8_t *e = d->entries + i * DS_DICT_ENTRY_LEN;
            uint64_t off = rd64(e + 8), l = rd32(e + 16);
            if (off > d->blob_len || l > d->blob_len - off) continue;
            int rc =
                leap_dataset_writer_add_dict(w, c, rd64(e), (const char *)d->blob + off, (size_t)l);
            if (rc)
                return leap_err_set(err, rc, "%s: copying dictionary of column '%s': %s",
                                    w->af.path, ds->cols[c].name, leap_strerror(rc));
        }
    }
    return LEAP_OK;
}

typedef struct hash_idx {
    uint64_t hash;
    size_t idx;
} hash_idx;

static int cmp_hash_idx(const void *a, const void *b) {
    uint64_t x = ((const hash_idx *)a)->hash, y = ((const hash_idx *)b)->hash;
    return x < y ? -1 : x > y;
}

/* Footer dictionary section: per column with entries, sorted by hash so the
 * reader can binary-search the mapping without building anything. */
static int put_dicts(leap_dataset_writer *w, bytebuf *b) {
    size_t nc = w->schema.n_cols;
    size_t *count = calloc(nc, sizeof *count);
    hash_idx *hi = w->n_dent ? malloc(w->n_dent * sizeof *hi) : NULL;
    if (!count || (w->n_dent && !hi)) {
        free(count);
        free(hi);
        return LEAP_ENOMEM;
    }
    for (size_t i = 0; i < w->n_dent; i++)
        count[w->dent[i].col]++;
    uint32_t n_dicts = 0;
    for (size_t c = 0; c < nc; c++)
        n_dicts += count[c] > 0;
    bb_u32(b, n_dicts);
    for (size_t c = 0; c < nc; c++) {
        if (!count[c]) continue;
        size_t k = 0;
        uint64_t blob_len = 0;
        for (size_t i = 0; i < w->n_dent; i++)
            if (w->dent[i].col == c) {
                hi[k++] = (hash_idx){w->dent[i].hash, i};
                blob_len += w->dent[i].len;
            }
        qsort(hi, k, sizeof *hi, cmp_hash_idx);
        bb_u32(b, (uint32_t)c);
        bb_u32(b, 0);
        bb_u64(b, k);
        bb_u64(b, blob_len);
        uint64_t off = 0;
        for (size_t i = 0; i < k; i++) {
            const dict_entry *e = &w->dent[hi[i].idx];
            bb_u64(b, e->hash);
            bb_u64(b, off);
            bb_u32(b, e->len);
            off += e->len;
        }
        for (size_t i = 0; i < k; i++) {
            const dict_entry *e = &w->dent[hi[i].idx];
            bb_put(b, w->blob + e->off, e->len);
        }
    }
    free(count);
    free(hi);
    return b->oom ? LEAP_ENOMEM : LEAP_OK;
}

int leap_dataset_writer_commit(leap_dataset_writer *w, leap_err *err) {
    if (w->io_failed) {
        int rc = leap_err_set(err, LEAP_EIO, "%s: an earlier write failed", w->af.path);
        leap_dataset_writer_abort(w);
        return rc;
    }
    size_t nc = w->schema.n_cols;
    bytebuf b = {0};
    bb_u32(&b, (uint32_t)nc);
    for (size_t c = 0; c < nc; c++) {
        size_t nl = strlen(w->cols[c].name);
        bb_u8(&b, (uint8_t)w->cols[c].type);
        bb_u8(&b, w->cols[c].weighted ? 1 : 0);
        bb_u16(&b, (uint16_t)nl);
        bb_put(&b, w->cols[c].name, nl);
    }
    bb_u32(&b, (uint32_t)w->n_meta);
    for (size_t i = 0; i < w->n_meta; i++) {
        size_t kl = strlen(w->mkey[i]), vl = strlen(w->mval[i]);
        bb_u32(&b, (uint32_t)kl);
        bb_put(&b, w->mkey[i], kl);
        bb_u32(&b, (uint32_t)vl);
        bb_put(&b, w->mval[i], vl);
    }
    bb_u64(&b, w->n_rg);
    for (size_t g = 0; g < w->n_rg; g++) {
        bb_u64(&b, w->rg_rows[g]);
        for (size_t c = 0; c < nc; c++) {
            const ds_chunk *ch = &w->chunks[g * nc + c];
            bb_u64(&b, ch->off);
            bb_u64(&b, ch->len);
            bb_u64(&b, ch->raw);
            bb_u64(&b, ch->sum);
        }
    }
    int rc = put_dicts(w, &b);
    if (rc == LEAP_OK && !b.oom) bb_u64(&b, XXH3_64bits(b.p, b.len));
    if (rc || b.oom) {
        free(b.p);
        rc = leap_err_set(err, LEAP_ENOMEM, "%s: out of memory building the footer", w->af.path);
        leap_dataset_writer_abort(w);
        return rc;
    }
    uint8_t tr[DS_TRAILER_LEN];
    uint64_t foff = w->pos, flen = b.len;
    memcpy(tr, &foff, 8);
    memcpy(tr + 8, &flen, 8);
    memcpy(tr + 16, LEAP_DS_MAGIC, 8);
    rc = wr(w, b.p, b.len, err);
    free(b.p);
    if (rc == LEAP_OK) rc = wr(w, tr, sizeof tr, err);
    if (rc) {
        leap_dataset_writer_abort(w);
        return rc;
    }
    rc = leap_afile_commit(&w->af, err);
    writer_free(w);
    return rc;
}

void leap_dataset_writer_abort(leap_dataset_writer *w) {
    if (!w) return;
    leap_afile_abort(&w->af);
    writer_free(w);
}

int leap__dataset_copy_row_group_raw(const leap_dataset *ds, size_t g, leap_dataset_writer *w,
                                     leap_err *err) {
    size_t nc = ds->schema.n_cols;
    if (g >= ds->n_rg) return leap_err_set(err, LEAP_EINVAL, "%s: no row group %zu", ds->path, g);
    leap_encoded_rg e = {0};
    size_t total = 0;
    for (size_t c = 0; c < nc; c++)
        total += (size_t)ds->chunks[g * nc + c].len;
    e.n_rows = (size_t)ds->rg_rows[g];
    e.n_chunks = nc;
    e.buf = malloc(total ? total : 1);
    e.chunk_off = calloc(nc, sizeof *e.chunk_off);
    e.chunk_len = calloc(nc, sizeof *e.chunk_len);
    e.chunk_raw = calloc(nc, sizeof *e.chunk_raw);
    e.chunk_sum = calloc(nc, sizeof *e.chunk_sum);
    int rc = LEAP_OK;
    if (!e.buf || !e.chunk_off || !e.chunk_len || !e.chunk_raw || !e.chunk_sum) {
        rc = leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", ds->path);
        goto done;
    }
    for (size_t c = 0; c < nc; c++) {
        const ds_chunk *k = &ds->chunks[g * nc + c];
        e.chunk_off[c] = e.len;
        e.chunk_len[c] = (size_t)k->len;
        e.chunk_raw[c] = (size_t)k->raw;
        e.chunk_sum[c] = k->sum;
        memcpy(e.buf + e.len, ds->map + k->off, (size_t)k->len);
        e.len += (size_t)k->len;
    }
    e.cap = total;
    rc = leap_dataset_writer_add_encoded(w, &e, err);
done:
    leap_encoded_rg_free(&e);
    return rc;
}

int leap_dataset_probe(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char m[8];
    int yes = fread(m, 1, 8, f) == 8 && memcmp(m, LEAP_DS_MAGIC, 8) == 0;
    fclose(f);
    return yes;
}
