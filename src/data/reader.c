/* reader.c — leap_reader: opens an input (file or memory, any compression),
 * cuts it into blocks of whole lines, and dispatches each line to the parser
 * of its format (reader_criteo.c, reader_csv.c, reader_libsvm.c). Also the
 * shared pieces: line loop with bad-row policy, dictionary, scratch, strict
 * number parsers. Does not write datasets (ingest.c does). */
#define _GNU_SOURCE
#include "data/infile.h"
#include "data/reader_impl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define INBUF_CAP        (4u << 20) /* bytes read from the decoder at a time */
#define NEXT_BLOCK_LINES 8192       /* block size for leap_reader_next */
#define NEXT_BLOCK_BYTES (4u << 20)

static const char *const format_names[LEAP_FMT_COUNT] = {"criteo", "csv", "libsvm"};
static const leap__line_fn line_fns[LEAP_FMT_COUNT] = {leap__criteo_line, leap__csv_line,
                                                       leap__libsvm_line};
_Static_assert(sizeof format_names / sizeof format_names[0] == LEAP_FMT_COUNT, "format table");

int leap_format_from_name(const char *name) {
    for (int i = 0; i < LEAP_FMT_COUNT; i++)
        if (name && strcmp(name, format_names[i]) == 0) return i;
    return -1;
}

struct leap_reader {
    leap__parser p;
    leap__infile *in;
    char *buf; /* [cap] decoded bytes; [pos, len) not yet handed out */
    size_t cap, pos, len;
    int eof;
    uint64_t next_line; /* line number of buf[pos] */
    leap__block cur;    /* block being consumed by leap_reader_next */
    size_t cur_pos;
    uint64_t cur_line;
    leap__scratch scratch;
    leap__dict dict;
    leap_read_stats stats;
};

/* ---- numbers ---------------------------------------------------------------- */
static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static void trim(const char **s, size_t *n) {
    while (*n && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

int leap__parse_number(const char *s, size_t n, double *out) {
    trim(&s, &n);
    if (!n) return -1;
    const char *q = s, *e = s + n;
    int neg = 0;
    if (*q == '-' || *q == '+') neg = *q++ == '-';
    uint64_t m = 0;
    int nd = 0, frac = 0, any = 0;
    while (q < e && (unsigned)(*q - '0') < 10) {
        if (nd < 19) m = m * 10 + (uint64_t)(*q - '0');
        nd++, q++, any = 1;
    }
    if (q < e && *q == '.') {
        q++;
        while (q < e && (unsigned)(*q - '0') < 10) {
            if (nd < 19) m = m * 10 + (uint64_t)(*q - '0');
            nd++, frac++, q++, any = 1;
        }
    }
    if (!any) return -1;
    if (q == e && nd <= 15) { /* exact: m < 2^53 and 10^frac exact, one rounding */
        double v = (double)m;
        if (frac) v /= pow10_tab[frac];
        *out = neg ? -v : v;
        return 0;
    }
    /* exponent or many digits: strtod on a checked copy */
    char buf[128];
    if (n >= sizeof buf) return -1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E'))
            return -1;
        buf[i] = c;
    }
    buf[n] = 0;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + n || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int leap__parse_int(const char *s, size_t n, int64_t *out) {
    trim(&s, &n);
    if (!n) return -1;
    const char *q = s, *e = s + n;
    int neg = 0;
    if (*q == '-' || *q == '+') neg = *q++ == '-';
    if (q == e || e - q > 18) {
        if (q == e) return -1;
        char buf[64]; /* long: let strtoll check the range */
        if (n >= sizeof buf) return -1;
        memcpy(buf, s, n);
        buf[n] = 0;
        return leap_parse_i64(buf, out);
    }
    int64_t v = 0;
    for (; q < e; q++) {
        if ((unsigned)(*q - '0') >= 10) return -1;
        v = v * 10 + (*q - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* ---- small containers ------------------------------------------------------- */
void leap__block_free(leap__block *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

void leap__scratch_free(leap__scratch *s) {
    free(s->spans);
    free(s->buf);
    memset(s, 0, sizeof *s);
}

static size_t dict_slot(uint32_t col, uint64_t hash, size_t mask) {
    return (size_t)leap_mix64(hash, col) & mask;
}

static int dict_grow(leap__dict *d) {
    size_t ns = d->nslots ? d->nslots * 2 : 1024;
    uint32_t *sl = calloc(ns, sizeof *sl);
    if (!sl) return -1;
    for (size_t i = 0; i < d->n; i++) {
        size_t k = dict_slot(d->e[i].col, d->e[i].hash, ns - 1);
        while (sl[k])
            k = (k + 1) & (ns - 1);
        sl[k] = (uint32_t)(i + 1);
    }
    free(d->slots);
    d->slots = sl;
    d->nslots = ns;
    return 0;
}

void leap__dict_add(leap__dict *d, uint32_t col, uint64_t hash, const char *s, size_t len) {
    if (d->oom) return;
    if ((d->n + 1) * 2 > d->nslots && dict_grow(d)) goto oom;
    size_t mask = d->nslots - 1, k = dict_slot(col, hash, mask);
    while (d->slots[k]) {
        const leap__dict_entry *x = &d->e[d->slots[k] - 1];
        if (x->hash == hash && x->col == col) return;
        k = (k + 1) & mask;
    }
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 1024;
        leap__dict_entry *ne = realloc(d->e, nc * sizeof *ne);
        if (!ne) goto oom;
        d->e = ne;
        d->cap = nc;
    }
    if (d->tlen + len > d->tcap) {
        size_t nc = d->tcap ? d->tcap * 2 : 65536;
        while (nc < d->tlen + len)
            nc *= 2;
        char *nt = realloc(d->text, nc);
        if (!nt) goto oom;
        d->text = nt;
        d->tcap = nc;
    }
    memcpy(d->text + d->tlen, s, len);
    d->e[d->n] = (leap__dict_entry){hash, d->tlen, (uint32_t)len, col};
    d->tlen += len;
    d->slots[k] = (uint32_t)(++d->n);
    return;
oom:
    d->oom = 1;
}

void leap__dict_clear(leap__dict *d) {
    d->n = d->tlen = 0;
    d->oom = 0;
    if (d->slots) memset(d->slots, 0, d->nslots * sizeof *d->slots);
}

void leap__dict_free(leap__dict *d) {
    free(d->e);
    free(d->text);
    free(d->slots);
    memset(d, 0, sizeof *d);
}

/* ---- row group growth ------------------------------------------------------ */
static size_t rg_rows_cap(const leap_rowgroup *rg) {
    size_t cap = SIZE_MAX;
    for (size_t c = 0; c < rg->n_cols; c++)
        if (rg->cols[c].cap < cap) cap = rg->cols[c].cap;
    return rg->n_cols ? cap : 0;
}

static size_t rg_values_cap(const leap_rowgroup *rg) {
    size_t v = 0;
    for (size_t c = 0; c < rg->n_cols; c++)
        if (rg->types[c] == LEAP_COL_MULTI_CATEGORICAL && rg->cols[c].vcap > v)
            v = rg->cols[c].vcap;
    return v;
}

int leap__rg_values(leap_rowgroup *rg, size_t col, size_t need) {
    if (rg->cols[col].vcap >= need) return 0;
    size_t v = rg_values_cap(rg) * 2;
    if (v < need) v = need;
    if (v < 1024) v = 1024;
    return leap_rowgroup_reserve(rg, rg_rows_cap(rg), v) == LEAP_OK ? 0 : -1;
}

/* ---- the line loop ---------------------------------------------------------- */
int leap__parse_lines(const leap__parser *p, const char *data, size_t len, uint64_t *line,
                      size_t max_rows, size_t *consumed, leap_rowgroup *rg, leap__scratch *sc,
                      leap__dict *d, leap_read_stats *st, leap_err *err) {
    const leap__line_fn fn = line_fns[p->format];
    const char *q = data, *end = data + len;
    size_t added = 0, cap = rg_rows_cap(rg);
    char why[400];
    int rc = LEAP_OK;
    while (q < end && added < max_rows) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        const char *e = nl ? nl : end, *next = nl ? nl + 1 : end;
        uint64_t ln = (*line)++;
        if (e > q && e[-1] == '\r') e--;
        if (e == q) { /* blank lines carry no row */
            q = next;
            continue;
        }
        size_t row = rg->n_rows;
        if (row >= cap) {
            size_t want = cap < 1024 ? 1024 : cap * 2;
            if (leap_rowgroup_reserve(rg, want, rg_values_cap(rg)) != LEAP_OK) {
                rc = leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", p->fname);
                break;
            }
            cap = rg_rows_cap(rg);
        }
        if (fn(p, q, e, rg, row, sc, d, why, sizeof why) == 0) {
            rg->n_rows++;
            added++;
        } else if (p->bad_rows == LEAP_BAD_ROWS_FAIL) {
            rc = leap_err_set(err, why[0] == '!' ? LEAP_ENOMEM : LEAP_EPARSE, "%s:%llu: %s",
                              p->fname, (unsigned long long)ln, why[0] == '!' ? why + 1 : why);
            break;
        } else if (why[0] == '!') { /* out of memory is never a bad row */
            rc = leap_err_set(err, LEAP_ENOMEM, "%s:%llu: %s", p->fname, (unsigned long long)ln,
                              why + 1);
            break;
        } else {
            st->bad_rows++;
            if (st->n_first_bad < LEAP_MAX_BAD_LINES) st->first_bad_lines[st->n_first_bad++] = ln;
        }
        q = next;
    }
    *consumed = (size_t)(q - data);
    st->bytes += *consumed;
    st->rows += added;
    return rc;
}

/* ---- blocks ----------------------------------------------------------------- */
static int block_append(leap__block *b, const char *s, size_t n) {
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 65536;
        while (nc < b->len + n)
            nc *= 2;
        char *nd = realloc(b->data, nc);
        if (!nd) return -1;
        b->data = nd;
        b->cap = nc;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

int leap__reader_read_block(leap_reader *r, leap__block *b, size_t max_lines, size_t max_bytes,
                            leap_err *err) {
    b->len = 0;
    b->n_lines = 0;
    b->first_line = r->next_line;
    for (;;) {
        const char *s = r->buf + r->pos, *end = r->buf + r->len, *q = s;
        size_t n = 0;
        int full = 0;
        while (b->n_lines + n < max_lines) {
            const char *nl = memchr(q, '\n', (size_t)(end - q));
            if (!nl) break;
            if (b->len + (size_t)(nl + 1 - s) > max_bytes && b->n_lines + n > 0) {
                full = 1;
                break;
            }
            q = nl + 1;
            n++;
        }
        if (b->n_lines + n >= max_lines) full = 1;
        if (q > s && block_append(b, s, (size_t)(q - s)))
            return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", r->p.fname);
        r->pos += (size_t)(q - s);
        b->n_lines += n;
        r->next_line += n;
        if (full) return LEAP_OK;
        if (r->eof) {
            if (r->pos < r->len) { /* last line without '\n' */
                if (block_append(b, r->buf + r->pos, r->len - r->pos))
                    return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", r->p.fname);
                r->pos = r->len;
                b->n_lines++;
                r->next_line++;
            }
            return LEAP_OK;
        }
        /* keep the partial line, refill behind it */
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
        if (r->len == r->cap) { /* a line longer than the buffer */
            char *nb = realloc(r->buf, r->cap * 2);
            if (!nb) return leap_err_set(err, LEAP_ENOMEM, "%s: out of memory", r->p.fname);
            r->buf = nb;
            r->cap *= 2;
        }
        size_t got;
        int rc = leap__infile_read(r->in, r->buf + r->len, r->cap - r->len, &got, err);
        if (rc) return rc;
        if (got == 0) r->eof = 1;
        r->len += got;
    }
}

const leap__parser *leap__reader_parser(const leap_reader *r) { return &r->p; }
uint64_t leap__reader_raw_pos(const leap_reader *r) { return leap__infile_raw_pos(r->in); }
uint64_t leap__reader_raw_size(const leap_reader *r) { return leap__infile_raw_size(r->in); }

/* ---- public reader ------------------------------------------------------------ */
void leap__parser_free(leap__parser *p) {
    free(p->schema.cols);
    for (size_t i = 0; i < p->n_specs; i++)
        free(p->specs[i].ts_format);
    free(p->specs);
    for (size_t i = 0; i < p->n_fields; i++)
        free(p->fields[i].ts_format);
    free(p->fields);
    free(p->dflt.ts_format);
    memset(p, 0, sizeof *p);
}

static int reader_start(const leap_reader_opts *o, leap__infile *in, leap_reader **out,
                        leap_err *err) {
    leap_reader *r = calloc(1, sizeof *r);
    if (!r) {
        leap__infile_close(in);
        return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    }
    r->in = in;
    r->next_line = 1;
    r->p.format = o->format;
    r->p.bad_rows = o->bad_rows;
    r->p.keep_dict = o->keep_dict;
    snprintf(r->p.fname, sizeof r->p.fname, "%s", leap__infile_name(in));
    /* small inputs (tests, fuzzing) get a small buffer; it is a streaming
     * window, so a compressed file that expands just refills it */
    uint64_t size = leap__infile_raw_size(in);
    r->cap = size > 0 && size * 2 < INBUF_CAP ? (size_t)size * 2 : INBUF_CAP;
    if (r->cap < 65536) r->cap = 65536;
    r->buf = malloc(r->cap);
    int rc = r->buf ? LEAP_OK : leap_err_set(err, LEAP_ENOMEM, "out of memory");
    if (!rc) {
        switch (o->format) {
        case LEAP_FMT_CRITEO: rc = leap__criteo_setup(&r->p, err); break;
        case LEAP_FMT_LIBSVM: rc = leap__libsvm_setup(&r->p, err); break;
        case LEAP_FMT_CSV:
            rc = leap__csv_load_schema(&r->p, o->schema_path, err);
            if (rc) break;
            if (r->p.header) {
                rc = leap__reader_read_block(r, &r->cur, 1, SIZE_MAX, err);
                if (rc) break;
                if (r->cur.n_lines == 0) {
                    rc = leap_err_set(
                        err, LEAP_EPARSE,
                        "%s: empty file, expected a header line (schema has header: true)",
                        r->p.fname);
                    break;
                }
                size_t n = r->cur.len;
                while (n && (r->cur.data[n - 1] == '\n' || r->cur.data[n - 1] == '\r'))
                    n--;
                rc = leap__csv_bind(&r->p, r->cur.data, n, err);
                r->cur.len = 0;
            } else {
                rc = leap__csv_bind(&r->p, NULL, 0, err);
            }
            break;
        default: rc = leap_err_set(err, LEAP_EINVAL, "unknown input format %d", (int)o->format);
        }
    }
    if (rc) {
        leap_reader_close(r);
        return rc;
    }
    *out = r;
    return LEAP_OK;
}

int leap_reader_open(const leap_reader_opts *o, const char *path, leap_reader **out,
                     leap_err *err) {
    *out = NULL;
    leap__infile *in;
    int rc = leap__infile_open(path, &in, err);
    if (rc) return rc;
    return reader_start(o, in, out, err);
}

int leap_reader_open_mem(const leap_reader_opts *o, const void *data, size_t len, const char *name,
                         leap_reader **out, leap_err *err) {
    *out = NULL;
    leap__infile *in;
    int rc = leap__infile_open_mem(data, len, name, &in, err);
    if (rc) return rc;
    return reader_start(o, in, out, err);
}

const leap_schema *leap_reader_schema(const leap_reader *r) { return &r->p.schema; }
const leap_read_stats *leap_reader_stats(const leap_reader *r) { return &r->stats; }

int leap_reader_next(leap_reader *r, leap_rowgroup *rg, size_t max_rows, leap_err *err) {
    rg->n_rows = 0;
    if (rg->n_cols != r->p.schema.n_cols)
        return leap_err_set(err, LEAP_EINVAL, "%s: row group has %zu columns, schema has %zu",
                            r->p.fname, rg->n_cols, r->p.schema.n_cols);
    while (rg->n_rows < max_rows) {
        if (r->cur_pos >= r->cur.len) {
            int rc = leap__reader_read_block(r, &r->cur, NEXT_BLOCK_LINES, NEXT_BLOCK_BYTES, err);
            if (rc) return rc;
            r->cur_pos = 0;
            r->cur_line = r->cur.first_line;
            if (r->cur.len == 0) break;
        }
        size_t used;
        int rc = leap__parse_lines(&r->p, r->cur.data + r->cur_pos, r->cur.len - r->cur_pos,
                                   &r->cur_line, max_rows - rg->n_rows, &used, rg, &r->scratch,
                                   r->p.keep_dict ? &r->dict : NULL, &r->stats, err);
        r->cur_pos += used;
        if (rc) return rc;
    }
    return LEAP_OK;
}

size_t leap_reader_dict_count(const leap_reader *r) { return r->dict.n; }

void leap_reader_dict_at(const leap_reader *r, size_t i, size_t *col, uint64_t *hash,
                         const char **s, size_t *len) {
    const leap__dict_entry *x = &r->dict.e[i];
    *col = x->col;
    *hash = x->hash;
    *s = r->dict.text + x->off;
    *len = x->len;
}

void leap_reader_close(leap_reader *r) {
    if (!r) return;
    leap__infile_close(r->in);
    free(r->buf);
    leap__block_free(&r->cur);
    leap__scratch_free(&r->scratch);
    leap__dict_free(&r->dict);
    leap__parser_free(&r->p);
    free(r);
}
