/* cmd_train.c — `leap train`: options, datasets, training loop, bundle.
 * Under mpirun every rank trains on its share; rank 0 writes the bundle. */
#include "cli/cli.h"
#include "leap/bundle.h"
#include "leap/ingest.h"
#include "leap/score.h"
#include "leap/train.h"
#include "leap/transform.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f, const leap_model_ops *ops) {
    fprintf(
        f,
        "usage: leap train --model MODEL --train TRAIN.lds [--valid VALID.lds] -o OUT.leap\n"
        "                  [--threads N] [--seed S] [--epochs E] [--set KEY=VALUE]... [--quiet]\n"
        "                  [--format criteo|csv|libsvm] [--schema S.yaml] [--transform T]\n\n"
        "TRAIN and VALID are datasets (leap ingest) or raw log files; raw files are\n"
        "parsed on all cores into memory (--format, default criteo) and not written.\n"
        "--transform takes a fitted transform (leap transform fit) or a transform spec\n"
        "(YAML), fitted on TRAIN first; without it every column is hashed.\n\n");
    if (!ops) {
        fprintf(f, "models:\n");
        for (size_t i = 0; i < leap_model_count(); i++)
            fprintf(f, "  %-8s %s\n", leap_model_at(i)->name, leap_model_at(i)->help);
        fprintf(f, "\n`leap train --model MODEL --help` lists the model's options.\n");
        return;
    }
    leap_opts_print_help(f, ops->opts);
    fputc('\n', f);
    leap_opts_print_help(f, &leap_fz_opt_table);
    fputc('\n', f);
    leap_opts_print_help(f, &leap_train_opt_table);
}

typedef struct train_ui {
    int quiet, tty, rank;
} train_ui;

static void on_progress(void *ud, const leap_progress_info *pi) {
    train_ui *ui = ud;
    static double last;
    if (ui->quiet || !ui->tty) return;
    double now = leap_now();
    if (now - last < 0.2) return;
    last = now;
    fprintf(stderr, "\repoch %d/%d %5.1f%%  %.2fM ex/s  logloss %.5f   ", pi->epoch, pi->epochs,
            pi->rows_total > 0 ? 100.0 * pi->rows_done / pi->rows_total : 0,
            pi->examples_per_s / 1e6, pi->logloss);
}

static void on_epoch(void *ud, const leap_epoch_info *ei) {
    train_ui *ui = ud;
    if (ui->quiet || ui->rank != 0) return;
    if (ui->tty) fprintf(stderr, "\r\033[K");
    fprintf(stderr, "epoch %d: train logloss %.6f", ei->epoch, ei->train_logloss);
    if (!isnan(ei->valid_logloss))
        fprintf(stderr, "  valid logloss %.6f%s", ei->valid_logloss, ei->best ? " (best)" : "");
    fprintf(stderr, "  %.0f examples  %.2fM ex/s  %.2f s\n", ei->examples, ei->examples_per_s / 1e6,
            ei->seconds);
}

int leap_cmd_train(int argc, char **argv) {
    const char *model = NULL, *train = NULL, *valid = NULL, *out = NULL, *fmt = NULL,
               *schema = NULL, *transform = NULL;
    int threads = 0, help = 0, quiet = 0;
    const char *epochs = NULL;
    uint64_t seed = 1;
    const char **sets = calloc((size_t)argc + 1, sizeof *sets);
    size_t n_sets = 0;
    static const struct option lo[] = {
        {"model", required_argument, 0, 'm'},     {"train", required_argument, 0, 't'},
        {"valid", required_argument, 0, 'v'},     {"output", required_argument, 0, 'o'},
        {"threads", required_argument, 0, 'j'},   {"seed", required_argument, 0, 's'},
        {"epochs", required_argument, 0, 'e'},    {"set", required_argument, 0, 'S'},
        {"quiet", no_argument, 0, 'q'},           {"help", no_argument, 0, 'h'},
        {"format", required_argument, 0, 'f'},    {"schema", required_argument, 0, 'c'},
        {"transform", required_argument, 0, 'T'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:t:v:o:j:s:e:S:qhf:c:T:", lo, NULL)) != -1) {
        int64_t v;
        switch (c) {
        case 'm': model = optarg; break;
        case 't': train = optarg; break;
        case 'v': valid = optarg; break;
        case 'o': out = optarg; break;
        case 'j':
            if (leap_parse_i64(optarg, &v) || v < 1 || v > 1024) {
                free(sets);
                return leap_cli_failf("train", "--threads: '%s' is not an integer in [1, 1024]",
                                      optarg);
            }
            threads = (int)v;
            break;
        case 's':
            if (leap_parse_i64(optarg, &v) || v < 0) {
                free(sets);
                return leap_cli_failf("train", "--seed: '%s' is not a non-negative integer",
                                      optarg);
            }
            seed = (uint64_t)v;
            break;
        case 'e': epochs = optarg; break;
        case 'S': sets[n_sets++] = optarg; break;
        case 'q': quiet = 1; break;
        case 'f': fmt = optarg; break;
        case 'c': schema = optarg; break;
        case 'T': transform = optarg; break;
        case 'h': help = 1; break;
        default:
            free(sets);
            leap_cli_failf("train", "unknown or incomplete option '%s'", argv[optind - 1]);
            usage(stderr, NULL);
            return 2;
        }
    }
    const leap_model_ops *ops = model ? leap_model_find(model) : NULL;
    if (model && !ops) {
        free(sets);
        leap_cli_failf("train", "unknown model '%s'", model);
        usage(stderr, NULL);
        return 2;
    }
    if (help) {
        usage(stdout, ops);
        free(sets);
        return 0;
    }
    if (optind < argc) {
        free(sets);
        return leap_cli_failf("train", "unexpected argument '%s'", argv[optind]);
    }
    if (!ops || !train || !out) {
        free(sets);
        leap_cli_failf("train", "--model, --train and -o are required");
        usage(stderr, NULL);
        return 2;
    }

    leap_err err = {0};
    int rc = 1;
    leap_comm *comm = NULL;
    leap_dataset *dtrain = NULL, *dvalid = NULL;
    leap_bundle b;
    memset(&b, 0, sizeof b);
    b.neg_rate = 1.0;
    leap_fz_opts fzo;
    leap_train_opts to;
    void *mo = calloc(1, ops->opts_size);
    if (!mo) goto fail_oom;
    leap_opts_defaults(ops->opts, mo);
    leap_opts_defaults(&leap_fz_opt_table, &fzo);
    leap_opts_defaults(&leap_train_opt_table, &to);
    if (epochs) sets[n_sets++] = NULL; /* placeholder replaced below */
    if (epochs) {
        static char buf[64];
        snprintf(buf, sizeof buf, "epochs=%s", epochs);
        sets[n_sets - 1] = buf;
    }
    const leap_opt_table *tables[3] = {ops->opts, &leap_fz_opt_table, &leap_train_opt_table};
    void *objs[3] = {mo, &fzo, &to};
    if (leap_opts_apply(tables, objs, 3, sets, n_sets, &err)) goto fail;

    if (leap_comm_init(&comm, &err)) goto fail;
    int rank = leap_comm_rank(comm);
    if (threads == 0) threads = leap_num_cpus() / leap_comm_size(comm);
    if (threads < 1) threads = 1;
    if (leap_cli_open_data(train, fmt, schema, threads, &dtrain, &err)) goto fail;
    if (valid && leap_cli_open_data(valid, fmt, schema, threads, &dvalid, &err)) goto fail;
    if (transform && leap_transform_probe(transform)) {
        if (leap_transform_load(transform, &b.fz, &err)) goto fail;
    } else if (transform) {
        leap_tf_spec *spec;
        leap_tf_fit_report frep;
        if (leap_tf_spec_load(transform, &spec, &err)) goto fail;
        if (leap_transform_fit(spec, dtrain, threads, comm, &b.fz, &frep, &err)) goto fail;
        if (!quiet && rank == 0)
            fprintf(stderr,
                    "fitted transform %s: %zu features, dimension %u, %d pass(es), %.2f s\n",
                    transform, b.fz.n_fields, b.fz.n_buckets, frep.passes, frep.seconds);
    } else if (ops->needs_bins) {
        /* Trees read bins and category codes: numerics into max_bin - 1
         * quantile buckets, categoricals into their max_bin - 2 most frequent
         * values + one out-of-vocabulary index (+ missing = max_bin). */
        int64_t max_bin = 255;
        const leap_opt_def *d = leap_opts_find(ops->opts, "max_bin");
        if (d) {
            char v[64];
            leap_opts_format(d, mo, v, sizeof v);
            if (leap_parse_i64(v, &max_bin) || max_bin < 4) max_bin = 255;
        }
        leap_tf_spec *spec;
        leap_tf_fit_report frep;
        if (leap_tf_spec_default_binned(leap_dataset_schema(dtrain), (int)max_bin - 1,
                                        (uint32_t)max_bin - 2, &spec, &err))
            goto fail;
        if (leap_transform_fit(spec, dtrain, threads, comm, &b.fz, &frep, &err)) goto fail;
        if (!quiet && rank == 0)
            fprintf(stderr,
                    "%s bins its inputs: numerics in %d quantile buckets, categoricals by "
                    "their %d most frequent values (%.2f s; --transform SPEC to choose)\n",
                    ops->name, (int)max_bin - 1, (int)max_bin - 2, frep.seconds);
    } else if (leap_featurizer_init(&b.fz, &fzo, leap_dataset_schema(dtrain), &err)) {
        goto fail;
    }
    b.ops = ops;
    b.opts = mo;
    mo = NULL;
    if (ops->create(b.opts, &b.fz, &b.model, &err)) goto fail;

    train_ui ui = {quiet, isatty(2), rank};
    leap_train_ctx ctx = {.o = to,
                          .threads = threads,
                          .seed = seed,
                          .comm = comm,
                          .train = dtrain,
                          .valid = dvalid,
                          .fz = &b.fz,
                          .on_progress = on_progress,
                          .on_epoch = on_epoch,
                          .ud = &ui};
    leap_train_report rep;
    if (leap_train_run(&ctx, b.model, &rep, &err)) goto fail;
    b.neg_rate = rep.neg_rate;

    if (rank == 0 && dvalid && b.neg_rate < 1.0 && to.recalibrate) {
        /* The correction q/(q + (1-q)/r) is exact for calibrated q; a
         * regularised model's q are shrunk toward the sample mean and the
         * corrected p come out low. Refit the intercept on the (un-sampled)
         * validation data so that Σp = Σy there. */
        size_t n = (size_t)leap_dataset_num_rows(dvalid);
        float *q = malloc((n ? n : 1) * sizeof *q), *y = malloc((n ? n : 1) * sizeof *y),
              *w = malloc((n ? n : 1) * sizeof *w);
        double r = b.neg_rate;
        b.neg_rate = 1.0; /* raw scores */
        int bad =
            !q || !y || !w || leap_score_dataset(&b, dvalid, threads, q, y, w, -1, NULL, &err);
        b.neg_rate = r;
        if (!bad) {
            b.logit_shift = leap_fit_logit_shift(q, y, w, n, r);
            if (!quiet)
                fprintf(stderr, "recalibrated on %s: logit shift %+.4f\n", valid, b.logit_shift);
        }
        free(q);
        free(y);
        free(w);
        if (bad) {
            if (!err.status) leap_err_set(&err, LEAP_ENOMEM, "out of memory");
            goto fail;
        }
    }
    if (rank == 0) {
        char v[256];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(v, sizeof v, "%Y-%m-%dT%H:%M:%SZ", &tm);
        leap_bundle_meta_set(&b, "created", v);
        leap_bundle_meta_set(&b, "train.path", train);
        if (transform) leap_bundle_meta_set(&b, "transform.path", transform);
        snprintf(v, sizeof v, "%" PRIu64, leap_dataset_num_rows(dtrain));
        leap_bundle_meta_set(&b, "train.rows", v);
        snprintf(v, sizeof v, "%016" PRIx64, leap_dataset_fingerprint(dtrain));
        leap_bundle_meta_set(&b, "train.fingerprint", v);
        if (dvalid) {
            leap_bundle_meta_set(&b, "valid.path", valid);
            snprintf(v, sizeof v, "%016" PRIx64, leap_dataset_fingerprint(dvalid));
            leap_bundle_meta_set(&b, "valid.fingerprint", v);
            snprintf(v, sizeof v, "%.9g", rep.best_valid_logloss);
            leap_bundle_meta_set(&b, "metrics.valid_logloss", v);
        }
        snprintf(v, sizeof v, "%.9g", rep.train_logloss);
        leap_bundle_meta_set(&b, "metrics.train_logloss", v);
        const char *sfmt = leap_dataset_meta_get(dtrain, "source.format");
        if (sfmt) leap_bundle_meta_set(&b, "source.format", sfmt);
        for (size_t i = 0; i < leap_train_opt_table.n; i++) {
            char k[96];
            leap_opts_format(&leap_train_opt_table.defs[i], &to, v, sizeof v);
            snprintf(k, sizeof k, "trainer.%s", leap_train_opt_table.defs[i].name);
            leap_bundle_meta_set(&b, k, v);
        }
        snprintf(v, sizeof v, "%d", rep.epochs_run);
        leap_bundle_meta_set(&b, "trainer.epochs_run", v);
        snprintf(v, sizeof v, "%d", rep.best_epoch);
        leap_bundle_meta_set(&b, "trainer.best_epoch", v);
        snprintf(v, sizeof v, "%d", threads);
        leap_bundle_meta_set(&b, "trainer.threads", v);
        snprintf(v, sizeof v, "%d", leap_comm_size(comm));
        leap_bundle_meta_set(&b, "trainer.ranks", v);
        snprintf(v, sizeof v, "%" PRIu64, seed);
        leap_bundle_meta_set(&b, "trainer.seed", v);
        snprintf(v, sizeof v, "%.0f", rep.examples_per_s);
        leap_bundle_meta_set(&b, "trainer.examples_per_s", v);
        if (leap_bundle_save(out, &b, &err)) goto fail;
        if (!quiet)
            fprintf(stderr,
                    "trained %s: %d epoch(s), best %d, %.2fM examples/s (%d thread(s) x %d "
                    "rank(s)), %.2f s -> %s\n",
                    ops->name, rep.epochs_run, rep.best_epoch, rep.examples_per_s / 1e6, threads,
                    leap_comm_size(comm), rep.train_seconds, out);
    }
    rc = 0;
    goto done;
fail_oom:
    leap_err_set(&err, LEAP_ENOMEM, "out of memory");
fail:
    leap_cli_fail("train", &err);
    leap_comm_abort(comm, 1); /* the other ranks would wait for this one forever */
    rc = 1;
done:
    leap_bundle_free(&b);
    free(mo);
    if (dtrain) leap_dataset_close(dtrain);
    if (dvalid) leap_dataset_close(dvalid);
    leap_comm_finalize(comm);
    free(sets);
    return rc;
}
