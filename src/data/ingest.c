/* ingest.c — leap_ingest: raw logs to one dataset, in parallel.
 *
 * Each input is cut into blocks of at most row_group_rows lines (and at most
 * BLOCK_MAX_BYTES bytes); one block becomes one row group. Blocks go in
 * batches of K = threads: one leap_parallel_for per batch parses and
 * compresses the K blocks (leap__parse_lines + leap_dataset_encode_row_group)
 * while its task 0 reads the next batch, and the encoded row groups are then
 * appended in order. Block boundaries depend only on the input and
 * row_group_rows, so the dataset is byte-identical for any thread count, and
 * line numbers in errors are exact (each block knows its first line). Under
 * --bad-rows=fail the earliest bad row in file order is reported and the
 * output is never created. Does not print (the CLI does). */
#include "data/reader_impl.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define BLOCK_MAX_BYTES (32u << 20)

typedef struct ing_work {
    leap_rowgroup rg;
    int rg_ready;
    leap_encoded_rg enc;
    leap__dict dict;
    leap_read_stats st;
    leap_err err;
    int rc;
} ing_work;

typedef struct ing_ctx {
    const leap_ingest_opts *o;
    leap_reader *r;
    const leap__parser *p;
    leap_dataset_writer *w;
    size_t K, rows_per_group;
    leap__block *blocks[2]; /* [2][K]: the batch being parsed, the batch being read */
    size_t n_blocks[2];
    int cur;
    ing_work *work;         /* [K] */
    leap__scratch *scratch; /* [threads] */
    int read_rc;
    leap_err read_err;
    /* memory mode (w == NULL): decoded row groups are kept here instead */
    const leap_schema *schema;
    leap_rowgroup *mem;
    size_t n_mem, cap_mem;
    const leap_ingest_sink *sink; /* stream mode: row groups go to the sink */
} ing_ctx;

static int read_batch(ing_ctx *c, int set, leap_err *err) {
    c->n_blocks[set] = 0;
    for (size_t i = 0; i < c->K; i++) {
        leap__block *b = &c->blocks[set][i];
        int rc = leap__reader_read_block(c->r, b, c->rows_per_group, BLOCK_MAX_BYTES, err);
        if (rc) return rc;
        if (b->len == 0) break;
        c->n_blocks[set]++;
    }
    return LEAP_OK;
}

static int ing_task(void *ctxp, size_t task, int thread) {
    ing_ctx *c = ctxp;
    if (task == 0) { /* read ahead while the others parse */
        c->read_rc = read_batch(c, 1 - c->cur, &c->read_err);
        return 0;
    }
    size_t i = task - 1;
    ing_work *wk = &c->work[i];
    const leap__block *b = &c->blocks[c->cur][i];
    wk->rg.n_rows = 0;
    memset(&wk->st, 0, sizeof wk->st);
    leap__dict_clear(&wk->dict);
    wk->err.msg[0] = 0;
    uint64_t line = b->first_line;
    size_t used;
    wk->rc = leap__parse_lines(c->p, b->data, b->len, &line, SIZE_MAX, &used, &wk->rg,
                               &c->scratch[thread], c->o->reader.keep_dict ? &wk->dict : NULL,
                               &wk->st, &wk->err);
    if (wk->rc == LEAP_OK && wk->rg.n_rows > 0 && c->w)
        wk->rc = leap_dataset_encode_row_group(c->w, &wk->rg, &wk->enc, &wk->err);
    if (wk->rc == LEAP_OK && wk->rg.n_rows > 0 && c->sink)
        wk->rc = c->sink->work(c->sink->user, &wk->rg, i, thread, &wk->err);
    return 0;
}

static void merge_stats(leap_read_stats *to, const leap_read_stats *from) {
    to->rows += from->rows;
    to->bytes += from->bytes;
    to->bad_rows += from->bad_rows;
    for (size_t i = 0; i < from->n_first_bad && to->n_first_bad < LEAP_MAX_BAD_LINES; i++)
        to->first_bad_lines[to->n_first_bad++] = from->first_bad_lines[i];
}

static int same_schema(const leap_schema *a, const leap_schema *b) {
    if (a->n_cols != b->n_cols) return 0;
    for (size_t i = 0; i < a->n_cols; i++)
        if (strcmp(a->cols[i].name, b->cols[i].name) || a->cols[i].type != b->cols[i].type ||
            a->cols[i].weighted != b->cols[i].weighted)
            return 0;
    return 1;
}

static uint64_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Runs the batch pipeline over c->r (already open) into c->w. */
static int ingest_one(ing_ctx *c, int threads, leap_ingest_report *rep, leap_progress *pg,
                      uint64_t done_before, uint64_t total, double t0, leap_err *err) {
    c->p = leap__reader_parser(c->r);
    c->cur = 0;
    int rc = read_batch(c, 0, err);
    if (rc) return rc;
    while (c->n_blocks[c->cur] > 0) {
        size_t n = c->n_blocks[c->cur];
        for (size_t i = 0; i < n; i++)
            c->work[i].rc = LEAP_OK;
        c->read_rc = LEAP_OK;
        rc = leap_parallel_for(threads, n + 1, ing_task, c);
        if (rc) return leap_err_set(err, rc, "ingest: worker failed: %s", leap_strerror(rc));
        for (size_t i = 0; i < n; i++) {
            ing_work *wk = &c->work[i];
            if (wk->rc) {
                *err = wk->err;
                return wk->rc;
            }
            merge_stats(&rep->stats, &wk->st);
            for (size_t k = 0; c->w && k < wk->dict.n; k++) {
                const leap__dict_entry *x = &wk->dict.e[k];
                if (leap_dataset_writer_add_dict(c->w, x->col, x->hash, wk->dict.text + x->off,
                                                 x->len) != LEAP_OK)
                    return leap_err_set(err, LEAP_ENOMEM, "%s: cannot record dictionary",
                                        c->o->output);
            }
            if (wk->dict.oom)
                return leap_err_set(err, LEAP_ENOMEM, "out of memory recording the dictionary");
            if (wk->rg.n_rows == 0) continue;
            if (c->sink) { /* stream mode: hand the group over in input order */
                rc = c->sink->emit(c->sink->user, &wk->rg, i, err);
                if (rc) return rc;
                rep->row_groups++;
                continue;
            }
            if (!c->w) { /* memory mode: keep the decoded group, give the worker a new one */
                if (c->n_mem == c->cap_mem) {
                    size_t ncap = c->cap_mem ? 2 * c->cap_mem : 16;
                    leap_rowgroup *m = realloc(c->mem, ncap * sizeof *m);
                    if (!m) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
                    c->mem = m;
                    c->cap_mem = ncap;
                }
                c->mem[c->n_mem++] = wk->rg;
                wk->rg_ready = 0;
                if (leap_rowgroup_init(&wk->rg, c->schema))
                    return leap_err_set(err, LEAP_ENOMEM, "out of memory");
                wk->rg_ready = 1;
                rep->row_groups++;
                continue;
            }
            rc = leap_dataset_writer_add_encoded(c->w, &wk->enc, err);
            if (rc) return rc;
            rep->row_groups++;
        }
        if (c->read_rc) {
            *err = c->read_err;
            return c->read_rc;
        }
        c->cur = 1 - c->cur;
        if (pg) {
            double el = leap_now() - t0;
            char extra[96];
            snprintf(extra, sizeof extra, "%llu rows, %.0f MB/s",
                     (unsigned long long)rep->stats.rows,
                     el > 0 ? (double)rep->stats.bytes / 1e6 / el : 0.0);
            leap_progress_update(pg, (double)(done_before + leap__reader_raw_pos(c->r)),
                                 (double)total, extra);
        }
    }
    return LEAP_OK;
}

/* The ingest pipeline; writes o->output, or (mem_out != NULL) builds an
 * in-memory dataset named after the first input. */
static int ingest_impl(const leap_ingest_opts *o, leap_dataset **mem_out,
                       const leap_ingest_sink *sink, leap_ingest_report *rep, leap_err *err) {
    memset(rep, 0, sizeof *rep);
    double t0 = leap_now();
    if (!o->inputs || o->n_inputs == 0)
        return leap_err_set(err, LEAP_EINVAL, "ingest: no input files");
    if (!mem_out && !sink && (!o->output || !*o->output))
        return leap_err_set(err, LEAP_EINVAL, "ingest: no output path");
    if (o->row_group_rows > (1u << 30))
        return leap_err_set(err, LEAP_EINVAL, "ingest: row_group_rows %zu is too large",
                            o->row_group_rows);
    int threads = o->threads > 0 ? o->threads : leap_num_cpus();
    ing_ctx c = {.o = o,
                 .K = (size_t)threads,
                 .rows_per_group =
                     o->row_group_rows ? o->row_group_rows : LEAP_DEFAULT_ROW_GROUP_ROWS};
    uint64_t total = 0, done = 0;
    for (size_t i = 0; i < o->n_inputs; i++)
        total += file_size(o->inputs[i]);
    leap_progress pg;
    if (o->progress) leap_progress_init(&pg, "ingest");

    int rc = leap_reader_open(&o->reader, o->inputs[0], &c.r, err);
    if (rc) return rc;
    leap_schema schema = *leap_reader_schema(c.r);
    leap_column_def *cols = malloc(schema.n_cols * sizeof *cols);
    c.blocks[0] = calloc(c.K, sizeof(leap__block));
    c.blocks[1] = calloc(c.K, sizeof(leap__block));
    c.work = calloc(c.K, sizeof *c.work);
    c.scratch = calloc((size_t)threads, sizeof *c.scratch);
    if (!cols || !c.blocks[0] || !c.blocks[1] || !c.work || !c.scratch) {
        rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(cols, schema.cols, schema.n_cols * sizeof *cols);
    schema.cols = cols;
    for (size_t i = 0; i < c.K; i++) {
        if (leap_rowgroup_init(&c.work[i].rg, &schema) != LEAP_OK) {
            rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
            goto out;
        }
        c.work[i].rg_ready = 1;
    }
    c.schema = &schema;
    c.sink = sink;
    if (sink && sink->start && (rc = sink->start(sink->user, &schema, c.K, err))) goto out;
    if (!mem_out && !sink) {
        leap_dataset_write_opts wo = {.zstd_level = o->zstd_level};
        rc = leap_dataset_writer_create(o->output, &schema, &wo, &c.w, err);
        if (rc) goto out;
    }

    for (size_t f = 0; f < o->n_inputs; f++) {
        if (f > 0) {
            rc = leap_reader_open(&o->reader, o->inputs[f], &c.r, err);
            if (rc) goto out;
            if (!same_schema(&schema, leap_reader_schema(c.r))) {
                rc = leap_err_set(err, LEAP_EINVAL,
                                  "%s: columns differ from those of %s (same names, types and "
                                  "order needed)",
                                  o->inputs[f], o->inputs[0]);
                goto out;
            }
        }
        rc = ingest_one(&c, threads, rep, o->progress ? &pg : NULL, done, total, t0, err);
        if (rc) goto out;
        done += file_size(o->inputs[f]);
        leap_reader_close(c.r);
        c.r = NULL;
    }
    if (o->progress) leap_progress_end(&pg);
    static const char *const fmt_names[LEAP_FMT_COUNT] = {"criteo", "csv", "libsvm"};
    if (sink) goto out;
    if (mem_out) {
        const char *keys[2] = {"source.format", "source.in_memory"};
        const char *vals[2] = {fmt_names[o->reader.format], "true"};
        rc = leap_dataset_open_memory(o->inputs[0], &schema, c.mem, c.n_mem, keys, vals, 2, mem_out,
                                      err);
        c.mem = NULL; /* owned by the dataset now, even on failure */
        c.n_mem = 0;
        goto out;
    }
    {
        char buf[256];
        leap_dataset_writer_set_meta(c.w, "source.format", fmt_names[o->reader.format]);
        const char *base = strrchr(o->inputs[0], '/'); /* no folders of this machine */
        snprintf(buf, sizeof buf, "%s%s", base ? base + 1 : o->inputs[0],
                 o->n_inputs > 1 ? " (and more)" : "");
        leap_dataset_writer_set_meta(c.w, "source.files", buf);
        snprintf(buf, sizeof buf, "%zu", o->n_inputs);
        leap_dataset_writer_set_meta(c.w, "source.n_files", buf);
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)rep->stats.bad_rows);
        leap_dataset_writer_set_meta(c.w, "source.bad_rows", buf);
    }
    rc = leap_dataset_writer_commit(c.w, err);
    c.w = NULL;
out:
    if (rc && o->progress) leap_progress_end(&pg);
    if (c.w) leap_dataset_writer_abort(c.w);
    leap_reader_close(c.r);
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; c.blocks[s] && i < c.K; i++)
            leap__block_free(&c.blocks[s][i]);
    for (size_t i = 0; c.work && i < c.K; i++) {
        if (c.work[i].rg_ready) leap_rowgroup_free(&c.work[i].rg);
        leap_encoded_rg_free(&c.work[i].enc);
        leap__dict_free(&c.work[i].dict);
    }
    for (int t = 0; c.scratch && t < threads; t++)
        leap__scratch_free(&c.scratch[t]);
    free(c.blocks[0]);
    free(c.blocks[1]);
    free(c.work);
    free(c.scratch);
    free(cols);
    for (size_t i = 0; i < c.n_mem; i++)
        leap_rowgroup_free(&c.mem[i]);
    free(c.mem);
    rep->seconds = leap_now() - t0;
    return rc;
}

int leap_ingest(const leap_ingest_opts *o, leap_ingest_report *rep, leap_err *err) {
    return ingest_impl(o, NULL, NULL, rep, err);
}

int leap_ingest_stream(const leap_ingest_opts *o, const leap_ingest_sink *sink,
                       leap_ingest_report *rep, leap_err *err) {
    return ingest_impl(o, NULL, sink, rep, err);
}

int leap_ingest_memory(const leap_ingest_opts *o, leap_dataset **out, leap_ingest_report *rep,
                       leap_err *err) {
    return ingest_impl(o, out, NULL, rep, err);
}

int leap_ingest_parse_only(const leap_reader_opts *o, const char *path, leap_read_stats *st,
                           leap_err *err) {
    memset(st, 0, sizeof *st);
    leap_reader *r;
    int rc = leap_reader_open(o, path, &r, err);
    if (rc) return rc;
    leap_rowgroup rg;
    leap__block b = {0};
    leap__scratch sc = {0};
    rc = leap_rowgroup_init(&rg, leap_reader_schema(r));
    if (rc) {
        leap_reader_close(r);
        return leap_err_set(err, rc, "out of memory");
    }
    const leap__parser *p = leap__reader_parser(r);
    for (;;) {
        rc = leap__reader_read_block(r, &b, LEAP_DEFAULT_ROW_GROUP_ROWS, BLOCK_MAX_BYTES, err);
        if (rc || b.len == 0) break;
        uint64_t line = b.first_line;
        size_t used;
        rg.n_rows = 0;
        rc = leap__parse_lines(p, b.data, b.len, &line, SIZE_MAX, &used, &rg, &sc, NULL, st, err);
        if (rc) break;
    }
    leap__block_free(&b);
    leap__scratch_free(&sc);
    leap_rowgroup_free(&rg);
    leap_reader_close(r);
    return rc;
}
