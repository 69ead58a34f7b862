/* cmd_lineage.c — `leap lineage FILE|HASH`: what produced a file and from
 * what, as a tree up to the raw inputs, from the store's lineage edges. */
#include "cli/cli.h"
#include "leap/track.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: leap lineage FILE|HASH [--store PATH] [--depth N]\n"
               "Prints the run that wrote FILE (or content hash HASH, 4-16 hex digits), the\n"
               "files that run read, the runs that wrote those, and so on.\n");
}

typedef struct walk {
    leap_track *t;
    int max_depth;
    uint64_t seen[512];
    size_t n_seen;
} walk;

static void indent(int depth) {
    for (int i = 0; i < depth; i++)
        fputs("    ", stdout);
}

static int seen(walk *w, uint64_t h) {
    for (size_t i = 0; i < w->n_seen; i++)
        if (w->seen[i] == h) return 1;
    if (w->n_seen < 512) w->seen[w->n_seen++] = h;
    return 0;
}

static int show(walk *w, const char *path, const char *role, uint64_t hash, uint64_t size,
                int depth) {
    char sz[32];
    leap_cli_fmt_bytes((double)size, sz, sizeof sz);
    indent(depth);
    printf("%s%s%s%s (%s, xxh3 %016llx)\n", depth ? "<- " : "", role && role[0] ? role : "",
           role && role[0] ? ": " : "", path, sz, (unsigned long long)hash);
    leap_err err = {0};
    int64_t run;
    if (leap_track_producer(w->t, hash, &run, &err)) return leap_cli_fail("lineage", &err);
    if (!run) {
        indent(depth + 1);
        printf("(no recorded producer: an input from outside)\n");
        return 0;
    }
    if (seen(w, hash)) {
        indent(depth + 1);
        printf("(written by run %lld, shown above)\n", (long long)run);
        return 0;
    }
    leap_run_detail d;
    if (leap_track_run_get(w->t, run, &d, &err)) return leap_cli_fail("lineage", &err);
    char when[32];
    leap_cli_fmt_time(d.run.start_time, when, sizeof when);
    indent(depth + 1);
    printf("written by run %lld: %s (%s) %s, %s", (long long)d.run.id, d.run.name, d.run.kind,
           leap_run_status_name(d.run.status), when);
    if (d.run.parent) printf(", pipeline run %lld", (long long)d.run.parent);
    printf("\n");
    for (size_t i = 0; i < d.n_params && i < 12; i++) {
        indent(depth + 2);
        printf("%s = %s\n", d.params[i].key, d.params[i].value);
    }
    int rc = 0;
    if (depth / 2 >= w->max_depth) {
        indent(depth + 2);
        printf("...\n");
    } else {
        for (size_t i = 0; i < d.n_artifacts && !rc; i++)
            if (d.artifacts[i].dir == LEAP_ART_IN)
                rc = show(w, d.artifacts[i].path, d.artifacts[i].role, d.artifacts[i].hash,
                          d.artifacts[i].size, depth + 2);
    }
    leap_run_detail_free(&d);
    return rc;
}

int leap_cmd_lineage(int argc, char **argv) {
    static const struct option lo[] = {{"store", required_argument, 0, 's'},
                                       {"depth", required_argument, 0, 'd'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    const char *store = NULL;
    int c;
    walk w = {.max_depth = 32};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        int64_t v;
        switch (c) {
        case 's': store = optarg; break;
        case 'd':
            if (leap_parse_i64(optarg, &v) || v < 1 || v > 1000)
                return leap_cli_failf("lineage", "--depth: '%s' is not in [1, 1000]", optarg), 2;
            w.max_depth = (int)v;
            break;
        case 'h': usage(stdout); return 0;
        default:
            leap_cli_failf("lineage", "unknown or incomplete option '%s'", argv[optind - 1]);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    if (leap_cli_store_open("lineage", store, 0, &w.t)) return 1;
    leap_err err = {0};
    leap_artifact_rec *a;
    size_t n;
    int rc = 0;
    if (leap_track_artifact_find(w.t, argv[optind], &a, &n, &err)) {
        rc = leap_cli_fail("lineage", &err);
    } else if (!n) {
        rc = leap_cli_failf("lineage", "%s: no such artifact in the store", argv[optind]);
    } else {
        rc = show(&w, a[0].path, NULL, a[0].hash, a[0].size, 0);
        leap_artifact_recs_free(a, n);
    }
    leap_track_close(w.t);
    return rc;
}
