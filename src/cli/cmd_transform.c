/* cmd_transform.c — `leap transform fit|show|apply`.
 *   fit    runs the analyze pass of a spec over a dataset (all cores; all
 *          ranks under mpirun, rank 0 writes) into a fitted .ltf file;
 *   show   describes a fitted transform (.ltf or a model bundle);
 *   apply  writes the feature vectors a fitted transform makes of a dataset
 *          or raw file, one "label idx:val ..." line per row (debugging and
 *          the skew tests: the same code as training and predict). */
#include "cli/cli.h"
#include "leap/bundle.h"
#include "leap/transform.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: leap transform fit --spec SPEC.yaml --data DATA -o OUT.ltf [--threads N]\n"
               "                          [--format criteo|csv|libsvm] [--schema S.yaml]\n"
               "       leap transform show (OUT.ltf | MODEL.leap) [--json]\n"
               "       leap transform apply --transform (OUT.ltf | MODEL.leap) --data DATA\n"
               "                          (-o OUT | --discard) [--format ...] [--schema ...]\n"
               "                          [--threads N]\n\n"
               "apply -o writes one \"label idx:val ...\" line per row; --discard featurizes\n"
               "every row on all threads and reports the throughput only.\n\n"
               "DATA is a dataset (leap ingest) or a raw log file. The spec syntax is in\n"
               "docs/FORMATS.md; fitting runs on all cores and, under mpirun, on all ranks.\n");
}

static int usage_fail(const char *msg, const char *arg) {
    if (arg)
        leap_cli_failf("transform", "%s '%s'", msg, arg);
    else
        leap_cli_failf("transform", "%s", msg);
    usage(stderr);
    return 2;
}

/* A fitted transform from a .ltf file or a model bundle. */
static int load_fitted(const char *path, leap_featurizer *fz, leap_err *err) {
    if (leap_transform_probe(path)) return leap_transform_load(path, fz, err);
    leap_bundle b;
    int rc = leap_bundle_load(path, &b, err);
    if (rc) return rc;
    *fz = b.fz;
    memset(&b.fz, 0, sizeof b.fz);
    leap_bundle_free(&b);
    return LEAP_OK;
}

typedef struct targs {
    const char *spec, *data, *out, *transform, *fmt, *schema;
    int threads, json, discard;
} targs;

static int parse_args(int argc, char **argv, targs *a) {
    static const struct option lo[] = {{"spec", required_argument, 0, 'p'},
                                       {"data", required_argument, 0, 'd'},
                                       {"output", required_argument, 0, 'o'},
                                       {"transform", required_argument, 0, 'T'},
                                       {"format", required_argument, 0, 'f'},
                                       {"schema", required_argument, 0, 'c'},
                                       {"threads", required_argument, 0, 'j'},
                                       {"json", no_argument, 0, 'J'},
                                       {"discard", no_argument, 0, 'D'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "p:d:o:T:f:c:j:JDh", lo, NULL)) != -1) {
        int64_t v;
        switch (c) {
        case 'p': a->spec = optarg; break;
        case 'd': a->data = optarg; break;
        case 'o': a->out = optarg; break;
        case 'T': a->transform = optarg; break;
        case 'f': a->fmt = optarg; break;
        case 'c': a->schema = optarg; break;
        case 'J': a->json = 1; break;
        case 'D': a->discard = 1; break;
        case 'j':
            if (leap_parse_i64(optarg, &v) || v < 1 || v > 1024)
                return usage_fail("--threads: not an integer in [1, 1024]:", optarg);
            a->threads = (int)v;
            break;
        case 'h': usage(stdout); return 0;
        default: return usage_fail("unknown or incomplete option", argv[optind - 1]);
        }
    }
    return -1;
}

static int cmd_fit(int argc, char **argv) {
    targs a = {0};
    int prc = parse_args(argc, argv, &a);
    if (prc >= 0) return prc;
    if (optind < argc) return usage_fail("unexpected argument", argv[optind]);
    if (!a.spec || !a.data || !a.out) return usage_fail("--spec, --data and -o are required", NULL);
    leap_err err = {0};
    leap_comm *comm = NULL;
    leap_dataset *ds = NULL;
    leap_tf_spec *spec = NULL;
    leap_featurizer fz;
    memset(&fz, 0, sizeof fz);
    int rc = 1;
    /* Check the spec before touching data: errors come fast and with positions. */
    if (leap_tf_spec_load(a.spec, &spec, &err)) goto fail;
    if (leap_comm_init(&comm, &err)) goto fail;
    int threads = a.threads ? a.threads : leap_num_cpus() / leap_comm_size(comm);
    if (threads < 1) threads = 1;
    if (leap_cli_open_data(a.data, a.fmt, a.schema, threads, &ds, &err)) goto fail;
    leap_tf_fit_report rep;
    rc = leap_transform_fit(spec, ds, threads, comm, &fz, &rep, &err);
    spec = NULL;
    if (rc) goto fail;
    if (leap_comm_rank(comm) == 0) {
        if (leap_transform_save(a.out, &fz, &err)) goto fail;
        fprintf(stderr,
                "fitted %s on %.0f rows: %zu features, dimension %u, %d pass(es), %.2f s "
                "(%.2fM rows/s), %d thread(s) x %d rank(s) -> %s\n",
                a.spec, rep.rows, fz.n_fields, fz.n_buckets, rep.passes, rep.seconds,
                rep.seconds > 0 ? rep.rows * rep.passes / rep.seconds / 1e6 : 0, threads,
                leap_comm_size(comm), a.out);
    }
    rc = 0;
    goto done;
fail:
    leap_cli_fail("transform", &err);
    leap_comm_abort(comm, 1);
    rc = 1;
done:
    leap_tf_spec_free(spec);
    leap_featurizer_free(&fz);
    if (ds) leap_dataset_close(ds);
    leap_comm_finalize(comm);
    return rc;
}

static int cmd_show(int argc, char **argv) {
    targs a = {0};
    int prc = parse_args(argc, argv, &a);
    if (prc >= 0) return prc;
    if (optind != argc - 1) return usage_fail("expected one fitted transform or model", NULL);
    leap_err err = {0};
    leap_featurizer fz;
    if (load_fitted(argv[optind], &fz, &err)) return leap_cli_fail("transform", &err);
    leap_transform_describe(&fz, stdout, a.json);
    leap_featurizer_free(&fz);
    return 0;
}

/* --discard: featurize every row group on all threads, keep nothing. */
typedef struct discard_run {
    leap_dataset *ds;
    const leap_featurizer *fz;
    leap_rowgroup *rg;
    leap_fbatch *fb;
    leap_fz_binding *bind;
    size_t *nnz;
    leap_err errs[64];
} discard_run;

static int discard_task(void *ctx, size_t g, int t) {
    discard_run *D = ctx;
    int rc = leap_dataset_read_row_group(D->ds, g, &D->rg[t], &D->errs[t % 64]);
    if (!rc) rc = leap_featurize(D->fz, D->bind, &D->rg[t], &D->fb[t], &D->errs[t % 64]);
    if (!rc) D->nnz[t] += D->fb[t].row_ptr[D->fb[t].n_rows];
    return rc;
}

static int apply_discard(const leap_featurizer *fz, leap_dataset *ds, const char *name, int threads,
                         leap_err *err) {
    discard_run D = {.ds = ds, .fz = fz};
    D.rg = calloc((size_t)threads, sizeof *D.rg);
    D.fb = calloc((size_t)threads, sizeof *D.fb);
    D.nnz = calloc((size_t)threads, sizeof *D.nnz);
    leap_fz_binding bind;
    memset(&bind, 0, sizeof bind);
    D.bind = &bind;
    int rc = !D.rg || !D.fb || !D.nnz ? leap_err_set(err, LEAP_ENOMEM, "out of memory") : 0;
    for (int t = 0; t < threads && !rc; t++)
        if (leap_rowgroup_init(&D.rg[t], leap_dataset_schema(ds)))
            rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
    if (!rc) rc = leap_fz_bind(fz, leap_dataset_schema(ds), name, &bind, err);
    double t0 = leap_now();
    if (!rc) {
        rc = leap_parallel_for(threads, leap_dataset_num_row_groups(ds), discard_task, &D);
        for (int t = 0; rc && t < threads && t < 64; t++)
            if (D.errs[t].status) {
                *err = D.errs[t];
                break;
            }
    }
    double secs = leap_now() - t0;
    if (!rc) {
        size_t nnz = 0;
        for (int t = 0; t < threads; t++)
            nnz += D.nnz[t];
        double rows = (double)leap_dataset_num_rows(ds);
        printf("featurized %.0f rows (%zu features) in %.3f s on %d thread(s): %.0f rows/s\n", rows,
               nnz, secs, threads, secs > 0 ? rows / secs : 0);
    }
    for (int t = 0; D.rg && t < threads; t++)
        leap_rowgroup_free(&D.rg[t]);
    for (int t = 0; D.fb && t < threads; t++)
        leap_fbatch_free(&D.fb[t]);
    leap_fz_binding_free(&bind);
    free(D.rg);
    free(D.fb);
    free(D.nnz);
    return rc;
}

static int cmd_apply(int argc, char **argv) {
    targs a = {0};
    int prc = parse_args(argc, argv, &a);
    if (prc >= 0) return prc;
    if (optind < argc) return usage_fail("unexpected argument", argv[optind]);
    if (!a.transform || !a.data || (!a.out == !a.discard))
        return usage_fail("--transform, --data and one of -o or --discard are required", NULL);
    leap_err err = {0};
    leap_featurizer fz;
    memset(&fz, 0, sizeof fz);
    leap_dataset *ds = NULL;
    leap_rowgroup rg;
    memset(&rg, 0, sizeof rg);
    leap_fz_binding bind;
    memset(&bind, 0, sizeof bind);
    leap_fbatch fb;
    memset(&fb, 0, sizeof fb);
    leap_afile af;
    int have_af = 0, rc = 1;
    int threads = a.threads ? a.threads : leap_num_cpus();
    if (load_fitted(a.transform, &fz, &err)) goto fail;
    if (leap_cli_open_data(a.data, a.fmt, a.schema, threads, &ds, &err)) goto fail;
    if (a.discard) {
        if (apply_discard(&fz, ds, a.data, threads, &err)) goto fail;
        rc = 0;
        goto done;
    }
    const leap_schema *s = leap_dataset_schema(ds);
    if (leap_rowgroup_init(&rg, s)) {
        leap_err_set(&err, LEAP_ENOMEM, "out of memory");
        goto fail;
    }
    if (leap_fz_bind(&fz, s, a.data, &bind, &err)) goto fail;
    if (leap_afile_open(&af, a.out, &err)) goto fail;
    have_af = 1;
    for (size_t g = 0; g < leap_dataset_num_row_groups(ds); g++) {
        if (leap_dataset_read_row_group(ds, g, &rg, &err)) goto fail;
        if (leap_featurize(&fz, &bind, &rg, &fb, &err)) goto fail;
        for (size_t r = 0; r < fb.n_rows; r++) {
            fprintf(af.fp, "%.9g", fb.label[r]);
            for (uint32_t k = fb.row_ptr[r]; k < fb.row_ptr[r + 1]; k++)
                fprintf(af.fp, " %u:%.9g", fb.idx[k], fb.val[k]);
            fputc('\n', af.fp);
        }
    }
    have_af = 0;
    if (leap_afile_commit(&af, &err)) goto fail;
    rc = 0;
    goto done;
fail:
    if (have_af) leap_afile_abort(&af);
    leap_cli_fail("transform", &err);
    rc = 1;
done:
    leap_fbatch_free(&fb);
    leap_fz_binding_free(&bind);
    leap_rowgroup_free(&rg);
    if (ds) leap_dataset_close(ds);
    leap_featurizer_free(&fz);
    return rc;
}

int leap_cmd_transform(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "fit")) return cmd_fit(argc - 1, argv + 1);
    if (!strcmp(argv[1], "show")) return cmd_show(argc - 1, argv + 1);
    if (!strcmp(argv[1], "apply")) return cmd_apply(argc - 1, argv + 1);
    return usage_fail("unknown subcommand", argv[1]);
}
