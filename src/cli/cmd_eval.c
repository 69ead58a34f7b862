/* cmd_eval.c — `leap eval`: score a dataset with a bundle and print ads
 * metrics (table or JSON), optionally per slice of a column. */
#include "cli/cli.h"
#include "leap/eval.h"
#include "leap/score.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(
        f, "usage: leap eval --model M.leap --data D.lds|RAW [--json] [--slice-by COLUMN]\n"
           "                 [--slices N] [--threads N] [--format criteo|csv|libsvm] [--schema S]\n"
           "A raw log file is parsed into memory (--format: default the model's source format).\n");
}

/* Human name of a slice key: dictionary text, number, or hex hash. */
static void slice_name(leap_dataset *ds, int col, uint64_t key, char *buf, size_t len) {
    const leap_schema *s = leap_dataset_schema(ds);
    leap_col_type t = s->cols[col].type;
    const char *txt;
    size_t tl;
    if (t == LEAP_COL_CATEGORICAL) {
        if (key == 0)
            snprintf(buf, len, "(missing)");
        else if (leap_dataset_dict_lookup(ds, (size_t)col, key, &txt, &tl) == 0)
            snprintf(buf, len, "%.*s", (int)tl, txt);
        else
            snprintf(buf, len, "#%016" PRIx64, key);
    } else if (t == LEAP_COL_TIMESTAMP) {
        snprintf(buf, len, "%" PRId64, (int64_t)key);
    } else {
        float f;
        uint32_t u = (uint32_t)key;
        memcpy(&f, &u, sizeof f);
        if (isnan(f))
            snprintf(buf, len, "(missing)");
        else
            snprintf(buf, len, "%.9g", f);
    }
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

int leap_cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *slice_by = NULL, *fmt = NULL, *schema = NULL;
    int json = 0, threads = 0;
    int64_t max_slices = 10;
    static const struct option lo[] = {
        {"model", required_argument, 0, 'm'},  {"data", required_argument, 0, 'd'},
        {"json", no_argument, 0, 'J'},         {"slice-by", required_argument, 0, 'b'},
        {"slices", required_argument, 0, 'n'}, {"threads", required_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},         {"format", required_argument, 0, 'f'},
        {"schema", required_argument, 0, 's'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:d:Jb:n:j:hf:s:", lo, NULL)) != -1) {
        int64_t v;
        switch (c) {
        case 'm': model = optarg; break;
        case 'f': fmt = optarg; break;
        case 's': schema = optarg; break;
        case 'd': data = optarg; break;
        case 'J': json = 1; break;
        case 'b': slice_by = optarg; break;
        case 'n':
            if (leap_parse_i64(optarg, &max_slices) || max_slices < 1)
                return leap_cli_failf("eval", "--slices: '%s' is not a positive integer", optarg);
            break;
        case 'j':
            if (leap_parse_i64(optarg, &v) || v < 1 || v > 1024)
                return leap_cli_failf("eval", "--threads: '%s' is not an integer in [1, 1024]",
                                      optarg);
            threads = (int)v;
            break;
        case 'h': usage(stdout); return 0;
        default:
            leap_cli_failf("eval", "unknown or incomplete option '%s'", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (!model || !data || optind < argc) {
        leap_cli_failf("eval",
                       optind < argc ? "unexpected argument" : "--model and --data are required");
        usage(stderr);
        return 2;
    }
    if (threads == 0) threads = leap_num_cpus();
    leap_err err = {0};
    leap_bundle b;
    leap_dataset *ds = NULL;
    float *p = NULL, *y = NULL, *w = NULL;
    uint64_t *key = NULL;
    leap_slice *slices = NULL;
    size_t n_slices = 0;
    int rc = 1, key_col = -1;
    memset(&b, 0, sizeof b);
    if (leap_bundle_load(model, &b, &err)) goto fail;
    if (!fmt) fmt = leap_bundle_meta_get(&b, "source.format");
    if (leap_cli_open_data(data, fmt, schema, threads, &ds, &err)) goto fail;
    const leap_schema *s = leap_dataset_schema(ds);
    if (leap_schema_find_type(s, LEAP_COL_LABEL) < 0) {
        leap_err_set(&err, LEAP_EINVAL, "%s: the dataset has no label column", data);
        goto fail;
    }
    if (slice_by) {
        key_col = leap_schema_find(s, slice_by);
        if (key_col < 0) {
            leap_err_set(&err, LEAP_EINVAL, "--slice-by: %s has no column '%s'", data, slice_by);
            goto fail;
        }
        leap_col_type t = s->cols[key_col].type;
        if (t != LEAP_COL_CATEGORICAL && t != LEAP_COL_NUMERIC && t != LEAP_COL_TIMESTAMP) {
            leap_err_set(&err, LEAP_EINVAL,
                         "--slice-by: column '%s' is %s; slicing needs a "
                         "categorical, numeric or timestamp column",
                         slice_by, leap_col_type_name(t));
            goto fail;
        }
    }
    size_t n = (size_t)leap_dataset_num_rows(ds);
    p = malloc((n ? n : 1) * sizeof *p);
    y = malloc((n ? n : 1) * sizeof *y);
    w = malloc((n ? n : 1) * sizeof *w);
    if (key_col >= 0) key = malloc((n ? n : 1) * sizeof *key);
    if (!p || !y || !w || (key_col >= 0 && !key)) {
        leap_err_set(&err, LEAP_ENOMEM, "out of memory for %zu rows", n);
        goto fail;
    }
    if (leap_score_dataset(&b, ds, threads, p, y, w, key_col, key, &err)) goto fail;
    leap_metrics m;
    if (leap_metrics_compute(p, y, w, n, &m, &err)) goto fail;
    leap_cli_track_eval(&m);
    if (key_col >= 0 &&
        leap_metrics_sliced(p, y, w, key, n, (size_t)max_slices, &slices, &n_slices, &err))
        goto fail;
    if (json) {
        printf("{\"model\": ");
        json_str(stdout, model);
        printf(", \"data\": ");
        json_str(stdout, data);
        printf(", \"metrics\": ");
        leap_metrics_write_json(stdout, &m);
        if (key_col >= 0) {
            printf(", \"slice_by\": ");
            json_str(stdout, slice_by);
            printf(", \"slices\": [");
            for (size_t i = 0; i < n_slices; i++) {
                char name[256];
                slice_name(ds, key_col, slices[i].key, name, sizeof name);
                printf("%s{\"value\": ", i ? ", " : "");
                json_str(stdout, name);
                printf(", \"metrics\": ");
                leap_metrics_write_json(stdout, &slices[i].m);
                printf("}");
            }
            printf("]");
        }
        printf("}\n");
    } else {
        printf("model %s on %s (%zu rows)\n", model, data, n);
        leap_metrics_write_table(stdout, &m);
        if (key_col >= 0) {
            printf("\nslices by %s (top %zu by rows)\n", slice_by, n_slices);
            printf("%-24s %10s %8s %9s %8s %8s %9s\n", "value", "rows", "auc", "logloss", "ne",
                   "calib", "ctr");
            for (size_t i = 0; i < n_slices; i++) {
                char name[256];
                slice_name(ds, key_col, slices[i].key, name, sizeof name);
                const leap_metrics *q = &slices[i].m;
                printf("%-24.24s %10.0f %8.4f %9.5f %8.4f %8.4f %9.5f\n", name, q->n, q->auc,
                       q->logloss, q->ne, q->calibration, q->base_rate);
            }
        }
    }
    rc = 0;
    goto done;
fail:
    leap_cli_fail("eval", &err);
    rc = 1;
done:
    free(p);
    free(y);
    free(w);
    free(key);
    free(slices);
    if (ds) leap_dataset_close(ds);
    leap_bundle_free(&b);
    return rc;
}
