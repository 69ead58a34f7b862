/* cmd_predict.c — `leap predict`: score a dataset or a raw log file with a
 * bundle on all cores. Output: TSV with a header, one line per input row:
 * [KEY] [label] score — written atomically (or straight to "-"/a pipe).
 *
 * Raw logs stream through the ingest pipeline (leap_ingest_stream): blocks
 * are parsed, featurized and scored in parallel and written in input order,
 * with the same reader as `leap ingest` and the bundle's featurizer, so a raw
 * row scores exactly as its ingested twin. Datasets are scored a batch of
 * row groups at a time the same way. */
#include "cli/cli.h"
#include "leap/ingest.h"
#include "leap/score.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: leap predict --model M.leap --input FILE|DATASET.lds -o SCORES.tsv\n"
               "                    [--format criteo|csv|libsvm] [--schema S.yaml] [--key COLUMN]\n"
               "                    [--threads N]\n"
               "-o - writes to standard output.\n");
}

/* Appends printf-formatted text to buf (grown as needed); 0 or -1. */
__attribute__((format(printf, 2, 3))) static int bput(leap_buf *buf, const char *fmt, ...) {
    char tmp[320];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if ((size_t)n < sizeof tmp) return leap_buf_append(buf, tmp, (size_t)n) ? -1 : 0;
    char *big = malloc((size_t)n + 1);
    if (!big) return -1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = leap_buf_append(buf, big, (size_t)n) ? -1 : 0;
    free(big);
    return rc;
}

static int write_key(leap_buf *out, leap_dataset *ds, const leap_rowgroup *rg, int col, size_t i) {
    const leap_column *c = &rg->cols[col];
    int rc = 0;
    switch (rg->types[col]) {
    case LEAP_COL_CATEGORICAL: {
        const char *s;
        size_t len;
        uint64_t h = c->u64[i];
        if (h == 0)
            break;
        else if (ds && leap_dataset_dict_lookup(ds, (size_t)col, h, &s, &len) == 0)
            rc = leap_buf_append(out, s, len) ? -1 : 0;
        else
            rc = bput(out, "#%016" PRIx64, h);
        break;
    }
    case LEAP_COL_TIMESTAMP:
        if (c->i64[i] != INT64_MIN) rc = bput(out, "%" PRId64, c->i64[i]);
        break;
    default:
        if (c->f32 && !isnan(c->f32[i])) rc = bput(out, "%.9g", c->f32[i]);
    }
    return rc ? rc : bput(out, "\t");
}

/* Scoring state shared by both input kinds: one feature batch and one score
 * buffer per slot (a row group in flight). */
typedef struct scorer {
    const leap_bundle *b;
    const char *input;
    const char *keyname;
    leap_dataset *ds; /* dictionary for keys; NULL for raw input */
    FILE *out;
    leap_fz_binding bind;
    int bound, key_col;
    size_t n_slots;
    leap_fbatch *fbs; /* [n_slots] */
    float **p;        /* [n_slots] */
    size_t *cap;      /* [n_slots] */
    leap_buf *text;   /* [n_slots] formatted output lines */
    uint64_t rows;
} scorer;

static void scorer_free(scorer *S) {
    for (size_t i = 0; i < S->n_slots; i++) {
        if (S->fbs) leap_fbatch_free(&S->fbs[i]);
        if (S->p) free(S->p[i]);
        if (S->text) leap_buf_free(&S->text[i]);
    }
    free(S->text);
    free(S->fbs);
    free(S->p);
    free(S->cap);
    if (S->bound) leap_fz_binding_free(&S->bind);
}

/* Binds the featurizer to the input schema, writes the header, sizes slots. */
static int scorer_start(void *user, const leap_schema *s, size_t slots, leap_err *err) {
    scorer *S = user;
    int rc = leap_fz_bind(&S->b->fz, s, S->input, &S->bind, err);
    if (rc) return rc;
    S->bound = 1;
    S->key_col = -1;
    if (S->keyname && (S->key_col = leap_schema_find(s, S->keyname)) < 0)
        return leap_err_set(err, LEAP_EINVAL, "--key: %s has no column '%s'", S->input, S->keyname);
    S->n_slots = slots;
    S->fbs = calloc(slots, sizeof *S->fbs);
    S->p = calloc(slots, sizeof *S->p);
    S->cap = calloc(slots, sizeof *S->cap);
    S->text = calloc(slots, sizeof *S->text);
    if (!S->fbs || !S->p || !S->cap || !S->text)
        return leap_err_set(err, LEAP_ENOMEM, "out of memory");
    if (S->keyname) fprintf(S->out, "%s\t", S->keyname);
    if (S->bind.label_col >= 0) fputs("label\t", S->out);
    fputs("score\n", S->out);
    return LEAP_OK;
}

/* Featurizes and scores one row group into its slot (runs in parallel). */
static int scorer_work(void *user, leap_rowgroup *rg, size_t slot, int thread, leap_err *err) {
    scorer *S = user;
    int rc = leap_featurize(&S->b->fz, &S->bind, rg, &S->fbs[slot], err);
    if (rc) return rc;
    size_t n = rg->n_rows;
    if (n > S->cap[slot]) {
        float *q = realloc(S->p[slot], n * sizeof *q);
        if (!q) return leap_err_set(err, LEAP_ENOMEM, "out of memory");
        S->p[slot] = q;
        S->cap[slot] = n;
    }
    leap_bundle_predict(S->b, &S->fbs[slot], S->p[slot]);
    /* format the lines here, in parallel; emit only writes them */
    leap_buf *t = &S->text[slot];
    const leap_fbatch *fb = &S->fbs[slot];
    t->len = 0;
    for (size_t i = 0; i < n; i++) {
        int bad = S->key_col >= 0 && write_key(t, S->ds, rg, S->key_col, i);
        if (!bad && S->bind.label_col >= 0) bad = bput(t, "%d\t", fb->label[i] > 0.5f ? 1 : 0);
        if (bad || bput(t, "%.9g\n", S->p[slot][i]))
            return leap_err_set(err, LEAP_ENOMEM, "out of memory formatting scores");
    }
    return LEAP_OK;
}

/* Writes one scored row group (in input order). */
static int scorer_emit(void *user, const leap_rowgroup *rg, size_t slot, leap_err *err) {
    scorer *S = user;
    fwrite(S->text[slot].p, 1, S->text[slot].len, S->out);
    S->rows += rg->n_rows;
    return ferror(S->out) ? leap_err_set(err, LEAP_EIO, "write failed") : LEAP_OK;
}

typedef struct ds_batch {
    scorer *S;
    leap_rowgroup *rgs;
    leap_err *errs;
} ds_batch;

static int ds_task(void *vctx, size_t t, int thread) {
    ds_batch *B = vctx;
    return scorer_work(B->S, &B->rgs[t], t, thread, &B->errs[t]);
}

/* Datasets: read `threads` row groups, score them in parallel, write in order. */
static int score_dataset(scorer *S, int threads, leap_err *err) {
    const leap_schema *s = leap_dataset_schema(S->ds);
    int rc = scorer_start(S, s, (size_t)threads, err);
    if (rc) return rc;
    ds_batch B = {S, calloc((size_t)threads, sizeof(leap_rowgroup)),
                  calloc((size_t)threads, sizeof(leap_err))};
    if (!B.rgs || !B.errs) {
        rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
        goto done;
    }
    for (int t = 0; t < threads; t++)
        if (leap_rowgroup_init(&B.rgs[t], s)) {
            rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
            goto done;
        }
    size_t G = leap_dataset_num_row_groups(S->ds);
    for (size_t g = 0; g < G && !rc;) {
        size_t n = 0;
        for (; n < (size_t)threads && g < G; n++, g++)
            if ((rc = leap_dataset_read_row_group(S->ds, g, &B.rgs[n], err))) goto done;
        if (leap_parallel_for(threads, n, ds_task, &B)) {
            for (size_t t = 0; t < n; t++)
                if (B.errs[t].status) {
                    *err = B.errs[t];
                    rc = B.errs[t].status;
                    break;
                }
            goto done;
        }
        for (size_t t = 0; t < n && !rc; t++)
            rc = scorer_emit(S, &B.rgs[t], t, err);
    }
done:
    for (int t = 0; B.rgs && t < threads; t++)
        leap_rowgroup_free(&B.rgs[t]);
    free(B.rgs);
    free(B.errs);
    return rc;
}

int leap_cmd_predict(int argc, char **argv) {
    const char *model = NULL, *input = NULL, *out = NULL, *fmt = NULL, *schema = NULL,
               *keyname = NULL;
    int threads = 0;
    static const struct option lo[] = {{"model", required_argument, 0, 'm'},
                                       {"input", required_argument, 0, 'i'},
                                       {"output", required_argument, 0, 'o'},
                                       {"format", required_argument, 0, 'f'},
                                       {"schema", required_argument, 0, 's'},
                                       {"key", required_argument, 0, 'k'},
                                       {"threads", required_argument, 0, 'j'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:i:o:f:s:k:j:h", lo, NULL)) != -1) {
        int64_t v;
        switch (c) {
        case 'm': model = optarg; break;
        case 'i': input = optarg; break;
        case 'o': out = optarg; break;
        case 'f': fmt = optarg; break;
        case 's': schema = optarg; break;
        case 'k': keyname = optarg; break;
        case 'j':
            if (leap_parse_i64(optarg, &v) || v < 1 || v > 1024)
                return leap_cli_failf("predict", "--threads: '%s' is not an integer in [1, 1024]",
                                      optarg);
            threads = (int)v;
            break;
        case 'h': usage(stdout); return 0;
        default:
            leap_cli_failf("predict", "unknown or incomplete option '%s'", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (!model || !input || !out || optind < argc) {
        leap_cli_failf("predict", optind < argc ? "unexpected argument"
                                                : "--model, --input and -o are required");
        usage(stderr);
        return 2;
    }
    if (threads == 0) threads = leap_num_cpus();
    leap_err err = {0};
    leap_bundle b;
    memset(&b, 0, sizeof b);
    leap_afile af = {0};
    scorer S;
    memset(&S, 0, sizeof S);
    int rc = 1, opened = 0;
    double t0 = leap_now();

    if (leap_bundle_load(model, &b, &err)) goto fail;
    S.b = &b;
    S.input = input;
    S.keyname = keyname;
    int is_ds = leap_dataset_probe(input);
    if (is_ds && leap_dataset_open(input, &S.ds, &err)) goto fail;
    leap_ingest_opts io = {.inputs = &input, .n_inputs = 1, .threads = threads};
    if (!is_ds) {
        if (!fmt) fmt = leap_bundle_meta_get(&b, "source.format");
        if (!fmt) fmt = "criteo";
        int f = leap_format_from_name(fmt);
        if (f < 0) {
            leap_err_set(&err, LEAP_EINVAL, "--format: unknown format '%s' (criteo, csv, libsvm)",
                         fmt);
            goto fail;
        }
        io.reader = (leap_reader_opts){
            .format = (leap_format)f, .schema_path = schema, .bad_rows = LEAP_BAD_ROWS_FAIL};
    }
    if (leap_afile_open(&af, out, &err)) goto fail;
    opened = 1;
    S.out = af.fp;
    if (is_ds) {
        if (score_dataset(&S, threads, &err)) goto fail;
    } else {
        leap_ingest_sink sink = {&S, scorer_start, scorer_work, scorer_emit};
        leap_ingest_report rep;
        if (leap_ingest_stream(&io, &sink, &rep, &err)) goto fail;
    }
    opened = 0;
    if (leap_afile_commit(&af, &err)) goto fail;
    fprintf(stderr, "scored %" PRIu64 " rows in %.2f s -> %s\n", S.rows, leap_now() - t0, out);
    rc = 0;
    goto done;
fail:
    if (opened) leap_afile_abort(&af);
    leap_cli_fail("predict", &err);
    rc = 1;
done:
    scorer_free(&S);
    if (S.ds) leap_dataset_close(S.ds);
    leap_bundle_free(&b);
    return rc;
}
