/* cmd_predict.c — `leap predict`: score a dataset or a raw log file with a
 * bundle on all cores. Output: TSV with a header, one line per input row:
 * [KEY] [label] score — written atomically. Raw rows go through the same
 * reader as `leap ingest` and the bundle's featurizer, so a raw row scores
 * exactly as its ingested twin. */
#include "cli/cli.h"
#include "leap/ingest.h"
#include "leap/score.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: leap predict --model M.leap --input FILE|DATASET.lds -o SCORES.tsv\n"
               "                    [--format criteo|csv|libsvm] [--schema S.yaml] [--key COLUMN]\n"
               "                    [--threads N]\n");
}

static void write_key(FILE *f, leap_dataset *ds, const leap_rowgroup *rg, int col, size_t i) {
    const leap_column *c = &rg->cols[col];
    switch (rg->types[col]) {
    case LEAP_COL_CATEGORICAL: {
        const char *s;
        size_t len;
        uint64_t h = c->u64[i];
        if (h == 0)
            fputs("", f);
        else if (ds && leap_dataset_dict_lookup(ds, (size_t)col, h, &s, &len) == 0)
            fprintf(f, "%.*s", (int)len, s);
        else
            fprintf(f, "#%016" PRIx64, h);
        break;
    }
    case LEAP_COL_TIMESTAMP:
        if (c->i64[i] != INT64_MIN) fprintf(f, "%" PRId64, c->i64[i]);
        break;
    default:
        if (c->f32 && !isnan(c->f32[i])) fprintf(f, "%.9g", c->f32[i]);
    }
    fputc('\t', f);
}

typedef struct pred_task {
    const leap_bundle *b;
    leap_fz_binding *bind;
    leap_rowgroup *rgs;
    leap_fbatch *fbs;
    float **p;
    size_t *cap;
    leap_err *errs;
} pred_task;

static int pred_one(void *vctx, size_t t, int thread) {
    pred_task *P = vctx;
    int rc = leap_featurize(&P->b->fz, P->bind, &P->rgs[t], &P->fbs[t], &P->errs[t]);
    if (rc) return rc;
    size_t n = P->rgs[t].n_rows;
    if (n > P->cap[t]) {
        float *q = realloc(P->p[t], n * sizeof *q);
        if (!q) return leap_err_set(&P->errs[t], LEAP_ENOMEM, "out of memory");
        P->p[t] = q;
        P->cap[t] = n;
    }
    leap_bundle_predict(P->b, &P->fbs[t], P->p[t]);
    return 0;
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
    leap_dataset *ds = NULL;
    leap_reader *rd = NULL;
    leap_fz_binding bind = {0};
    int rc = 1, opened = 0;
    uint64_t rows = 0;
    leap_rowgroup *rgs = NULL;
    leap_fbatch *fbs = NULL;
    float **ps = NULL;
    size_t *caps = NULL;
    leap_err *errs = NULL;
    double t0 = leap_now();

    if (leap_bundle_load(model, &b, &err)) goto fail;
    const leap_schema *s;
    if (leap_dataset_probe(input)) {
        if (leap_dataset_open(input, &ds, &err)) goto fail;
        s = leap_dataset_schema(ds);
    } else {
        if (!fmt) fmt = leap_bundle_meta_get(&b, "source.format");
        if (!fmt) fmt = "criteo";
        int f = leap_format_from_name(fmt);
        if (f < 0) {
            leap_err_set(&err, LEAP_EINVAL, "--format: unknown format '%s' (criteo, csv, libsvm)",
                         fmt);
            goto fail;
        }
        leap_reader_opts ro = {
            .format = (leap_format)f, .schema_path = schema, .bad_rows = LEAP_BAD_ROWS_FAIL};
        if (leap_reader_open(&ro, input, &rd, &err)) goto fail;
        s = leap_reader_schema(rd);
    }
    if (leap_fz_bind(&b.fz, s, input, &bind, &err)) goto fail;
    int key_col = -1;
    if (keyname && (key_col = leap_schema_find(s, keyname)) < 0) {
        leap_err_set(&err, LEAP_EINVAL, "--key: %s has no column '%s'", input, keyname);
        goto fail;
    }
    if (leap_afile_open(&af, out, &err)) goto fail;
    opened = 1;
    FILE *o = af.fp;
    if (keyname) fprintf(o, "%s\t", keyname);
    if (bind.label_col >= 0) fputs("label\t", o);
    fputs("score\n", o);

    rgs = calloc((size_t)threads, sizeof *rgs);
    fbs = calloc((size_t)threads, sizeof *fbs);
    ps = calloc((size_t)threads, sizeof *ps);
    caps = calloc((size_t)threads, sizeof *caps);
    errs = calloc((size_t)threads, sizeof *errs);
    if (!rgs || !fbs || !ps || !caps || !errs) {
        leap_err_set(&err, LEAP_ENOMEM, "out of memory");
        goto fail;
    }
    for (int t = 0; t < threads; t++)
        if (leap_rowgroup_init(&rgs[t], s)) {
            leap_err_set(&err, LEAP_ENOMEM, "out of memory");
            goto fail;
        }
    pred_task P = {&b, &bind, rgs, fbs, ps, caps, errs};
    size_t G = ds ? leap_dataset_num_row_groups(ds) : 0, g = 0;
    for (;;) {
        /* Fill up to `threads` row groups, score them in parallel, write in order. */
        int filled = 0;
        for (; filled < threads; filled++) {
            if (ds) {
                if (g >= G) break;
                if (leap_dataset_read_row_group(ds, g++, &rgs[filled], &err)) goto fail;
            } else {
                if (leap_reader_next(rd, &rgs[filled], LEAP_DEFAULT_ROW_GROUP_ROWS, &err))
                    goto fail;
                if (rgs[filled].n_rows == 0) break;
            }
        }
        if (filled == 0) break;
        if (leap_parallel_for(threads, (size_t)filled, pred_one, &P)) {
            for (int t = 0; t < filled; t++)
                if (errs[t].status) err = errs[t];
            goto fail;
        }
        for (int t = 0; t < filled; t++) {
            for (size_t i = 0; i < rgs[t].n_rows; i++) {
                if (key_col >= 0) write_key(o, ds, &rgs[t], key_col, i);
                if (bind.label_col >= 0) fprintf(o, "%d\t", fbs[t].label[i] > 0.5f ? 1 : 0);
                fprintf(o, "%.9g\n", ps[t][i]);
            }
            rows += rgs[t].n_rows;
        }
        if (filled < threads) break;
    }
    opened = 0;
    if (leap_afile_commit(&af, &err)) goto fail;
    fprintf(stderr, "scored %" PRIu64 " rows in %.2f s -> %s\n", rows, leap_now() - t0, out);
    rc = 0;
    goto done;
fail:
    if (opened) leap_afile_abort(&af);
    leap_cli_fail("predict", &err);
    rc = 1;
done:
    if (rgs)
        for (int t = 0; t < threads; t++) {
            leap_rowgroup_free(&rgs[t]);
            leap_fbatch_free(&fbs[t]);
            free(ps[t]);
        }
    free(rgs);
    free(fbs);
    free(ps);
    free(caps);
    free(errs);
    leap_fz_binding_free(&bind);
    if (rd) leap_reader_close(rd);
    if (ds) leap_dataset_close(ds);
    leap_bundle_free(&b);
    return rc;
}
