/* track_bench.c — tracking store timings for bench/track.sh: N metric points
 * logged in one batched call, M points logged one call (one transaction)
 * each, and R runs with params and metrics written to a store for listing.
 *   track_bench STORE POINTS ONE_BY_ONE RUNS */
#include "leap/track.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: track_bench STORE POINTS ONE_BY_ONE RUNS\n");
        return 2;
    }
    const char *path = argv[1];
    long points = atol(argv[2]), single = atol(argv[3]), runs = atol(argv[4]);
    leap_err err = {0};
    leap_track *t;
    unlink(path);
    if (leap_track_open(path, LEAP_TRACK_CREATE, &t, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int64_t run;
    leap_run_start rs = {.experiment = "bench", .name = "metrics", .kind = "bench"};
    if (leap_track_run_begin(t, &rs, &run, &err)) return 1;
    leap_metric_point *p = malloc((size_t)points * sizeof *p);
    for (long i = 0; i < points; i++)
        p[i] = (leap_metric_point){i % 4 == 0   ? "loss"
                                   : i % 4 == 1 ? "auc"
                                   : i % 4 == 2 ? "lr"
                                                : "ne",
                                   1.0 / (double)(i + 1), i / 4, 0};
    double t0 = leap_now();
    if (leap_track_log_metrics(t, run, p, (size_t)points, &err)) return 1;
    double batched = leap_now() - t0;
    t0 = leap_now();
    for (long i = 0; i < single; i++)
        if (leap_track_log_metrics(t, run, &p[i], 1, &err)) return 1;
    double one = leap_now() - t0;
    free(p);
    t0 = leap_now();
    leap_track_batch_begin(t, &err);
    for (long r = 0; r < runs; r++) {
        int64_t id;
        char a[32], b[32];
        snprintf(a, sizeof a, "%.4g", 0.001 * (double)(r % 100 + 1));
        snprintf(b, sizeof b, "%ld", r % 7);
        leap_run_start s = {.experiment = r % 2 ? "a" : "b", .name = "trial", .kind = "trial"};
        leap_kv kv[] = {{"alpha", a}, {"l2", b}, {"model", "lr"}};
        leap_metric_point m[] = {{"auc", 0.7 + 0.1 * (double)(r % 997) / 997.0, 0, 0},
                                 {"logloss", 0.5 - 0.1 * (double)(r % 991) / 991.0, 0, 0}};
        leap_run_cost c = {.wall_s = 1, .cpu_s = 1, .cost = 0.001};
        if (leap_track_run_begin(t, &s, &id, &err) || leap_track_log_params(t, id, kv, 3, &err) ||
            leap_track_log_metrics(t, id, m, 2, &err) ||
            leap_track_run_end(t, id, LEAP_RUN_FINISHED, &c, &err))
            return fprintf(stderr, "%s\n", err.msg), 1;
    }
    leap_track_batch_commit(t, &err);
    double write_runs = leap_now() - t0;
    leap_track_close(t);
    printf("batched %ld %.4f\none_by_one %ld %.4f\nwrite_runs %ld %.4f\n", points, batched, single,
           one, runs, write_runs);
    return 0;
}
