/* cmd_stats.c — `leap stats`: parses the flags, opens the dataset, calls
 * leap_stats_compute and prints the table or JSON; --html also writes a
 * self-contained page atomically. The figures themselves come from
 * src/eval/stats.c; nothing is computed here. */
#include "cli/cli.h"
#include "leap/stats.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: leap stats DATASET.lds [--json] [--html OUT.html] [--label-by COL[,COL...]]\n"
            "                  [--top K] [--threads N]\n"
            "  --json        one JSON object on stdout instead of the table\n"
            "  --html OUT    also write a self-contained HTML report to OUT\n"
            "  --label-by C  label rate per top value of column C (comma-separated list)\n"
            "  --top K       top values reported per column (default 10)\n"
            "  --threads N   threads (default: all CPUs)\n");
}

static int usage_fail(const char *msg, const char *arg) {
    if (arg)
        leap_cli_failf("stats", "%s '%s'", msg, arg);
    else
        leap_cli_failf("stats", "%s", msg);
    usage(stderr);
    return 2;
}

int leap_cmd_stats(int argc, char **argv) {
    const char *html = NULL, *label_by = NULL;
    int json = 0;
    leap_stats_opts o;
    leap_stats_opts_init(&o);
    static const struct option lo[] = {{"json", no_argument, 0, 'J'},
                                       {"html", required_argument, 0, 'H'},
                                       {"label-by", required_argument, 0, 'b'},
                                       {"top", required_argument, 0, 'k'},
                                       {"threads", required_argument, 0, 'j'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "JH:b:k:j:h", lo, NULL)) != -1) {
        int64_t v;
        switch (c) {
        case 'J': json = 1; break;
        case 'H': html = optarg; break;
        case 'b': label_by = optarg; break;
        case 'k':
            if (leap_parse_i64(optarg, &v) || v < 1 || v > 100000)
                return usage_fail("--top: not an integer in [1, 100000]:", optarg);
            o.top_k = (size_t)v;
            break;
        case 'j':
            if (leap_parse_i64(optarg, &v) || v < 1 || v > 1024)
                return usage_fail("--threads: not an integer in [1, 1024]:", optarg);
            o.threads = (int)v;
            break;
        case 'h': usage(stdout); return 0;
        default: return usage_fail("unknown or incomplete option", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return usage_fail(optind < argc ? "expected one dataset, got more" : "no dataset given",
                          NULL);
    const char *path = argv[optind];

    /* --label-by a,b,c: split a private copy in place */
    char *lb_copy = NULL;
    const char **names = NULL;
    if (label_by) {
        size_t n = 1;
        for (const char *p = label_by; *p; p++)
            n += *p == ',';
        lb_copy = strdup(label_by);
        names = calloc(n, sizeof *names);
        if (!lb_copy || !names) {
            free(lb_copy);
            free(names);
            return leap_cli_failf("stats", "out of memory");
        }
        size_t k = 0;
        for (char *tok = lb_copy, *next; tok; tok = next) {
            next = strchr(tok, ',');
            if (next) *next++ = 0;
            if (!*tok) {
                free(lb_copy);
                free(names);
                return usage_fail("--label-by: empty column name in", label_by);
            }
            names[k++] = tok;
        }
        o.label_by = names;
        o.n_label_by = k;
    }

    leap_err err = {0};
    leap_dataset *ds = NULL;
    leap_stats st;
    memset(&st, 0, sizeof st);
    int rc = 1;
    if (leap_dataset_open(path, &ds, &err)) goto fail;
    if (leap_stats_compute(ds, &o, &st, &err)) goto fail;
    if (html) {
        leap_afile af;
        if (leap_afile_open(&af, html, &err)) goto fail;
        if (leap_stats_write_html(af.fp, &st)) {
            leap_afile_abort(&af);
            leap_err_set(&err, LEAP_EIO, "%s: write error", html);
            goto fail;
        }
        if (leap_afile_commit(&af, &err)) goto fail;
    }
    if ((json ? leap_stats_write_json(stdout, &st) : leap_stats_write_table(stdout, &st)) ||
        fflush(stdout)) {
        leap_err_set(&err, LEAP_EIO, "write error on standard output");
        goto fail;
    }
    rc = 0;
    goto done;
fail:
    leap_cli_fail("stats", &err);
    rc = 1;
done:
    leap_stats_free(&st);
    if (ds) leap_dataset_close(ds);
    free(lb_copy);
    free(names);
    return rc;
}
