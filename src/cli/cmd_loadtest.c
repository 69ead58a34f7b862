/* cmd_loadtest.c — `leap loadtest`: drive an HTTP model server open-loop at a
 * fixed request rate and report latency percentiles (from each request's
 * scheduled send time), the achieved rate, errors and — with the server's
 * CPU time and memory — the cost per million requests and predictions at the
 * pipeline's price table (leap_cost_price). Bodies come from
 * a file (one JSON body a line) or are built from rows of a raw log or
 * dataset. The engine is in src/serve/loadtest.c. */
#include "cli/cli.h"
#include "leap/serve.h"
#include "leap/track.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: leap loadtest --url http://HOST:PORT/v1/models/NAME:predict\n"
            "                     (--bodies FILE.jsonl | --data FILE [--format F] [--schema S])\n"
            "                     [--rate 1000] [--duration 10] [--connections 8]\n"
            "                     [--rows-per-request 1] [--candidates K --slots 3 --auction gsp]\n"
            "                     [--max-bodies 1000] [--write-bodies OUT.jsonl]\n"
            "                     [--server-pid PID] [--cpu-hour PRICE] [--gb-hour PRICE]\n"
            "                     [--timeout 5] [--latency-log FILE] [--json OUT.json]\n"
            "Open loop: request k is due at k/rate s; latency counts from the due time.\n"
            "--data builds :predict bodies (rows-per-request instances each) or, with\n"
            "--candidates, :rank bodies. --write-bodies writes the bodies and exits.\n"
            "--server-pid reads the server's CPU seconds and memory from /proc; the cost is\n"
            "priced like pipeline runs: CPU-hours x --cpu-hour (default %g) + GB-hours of\n"
            "resident memory x --gb-hour (default %g).\n",
            LEAP_COST_CPU_HOUR, LEAP_COST_GB_HOUR);
}

static int parse_url(const char *url, char *host, size_t hn, int *port, const char **path) {
    if (strncmp(url, "http://", 7)) return -1;
    const char *h = url + 7, *slash = strchr(h, '/');
    if (!slash) return -1;
    const char *colon = memchr(h, ':', (size_t)(slash - h));
    const char *he = colon ? colon : slash;
    if (he == h || (size_t)(he - h) >= hn) return -1;
    memcpy(host, h, (size_t)(he - h));
    host[he - h] = 0;
    *port = 80;
    if (colon) {
        char buf[16];
        size_t n = (size_t)(slash - colon - 1);
        int64_t v;
        if (!n || n >= sizeof buf) return -1;
        memcpy(buf, colon + 1, n);
        buf[n] = 0;
        if (leap_parse_i64(buf, &v) || v < 1 || v > 65535) return -1;
        *port = (int)v;
    }
    *path = slash;
    return 0;
}

static int read_bodies(const char *path, leap_buf *b, size_t **off, size_t *n, leap_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return leap_err_set(err, LEAP_EIO, "--bodies %s: cannot open it", path);
    char *line = NULL;
    size_t cap = 0, k = 0, ocap = 0;
    ssize_t len;
    *off = NULL;
    int rc = LEAP_OK;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (!len) continue;
        if (k + 2 > ocap) {
            ocap = ocap ? 2 * ocap : 64;
            size_t *o = realloc(*off, ocap * sizeof *o);
            if (!o) {
                rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
                break;
            }
            *off = o;
        }
        if (!k) (*off)[0] = 0;
        if (leap_buf_append(b, line, (size_t)len)) {
            rc = leap_err_set(err, LEAP_ENOMEM, "out of memory");
            break;
        }
        (*off)[++k] = b->len;
    }
    free(line);
    fclose(f);
    if (!rc && !k) rc = leap_err_set(err, LEAP_EINVAL, "--bodies %s: no bodies in it", path);
    *n = k;
    return rc;
}

/* utime + stime of a process, in seconds; -1 when unknown. */
static double proc_cpu(long pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char buf[2048];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p) return -1;
    unsigned long ut = 0, st = 0;
    /* fields after ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
     * stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Resident memory of a process in bytes (0 when unknown). */
static long proc_rss(long pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb * 1024;
}

static void human_time(double s, char *buf, size_t n) {
    if (s < 1e-3)
        snprintf(buf, n, "%.0f µs", s * 1e6);
    else if (s < 1)
        snprintf(buf, n, "%.2f ms", s * 1e3);
    else
        snprintf(buf, n, "%.2f s", s);
}

static const char *opt_name(const struct option *lo, int c) {
    for (; lo->name; lo++)
        if (lo->val == c) return lo->name;
    return "?";
}

int leap_cmd_loadtest(int argc, char **argv) {
    const char *url = NULL, *bodies_path = NULL, *write_path = NULL, *json_path = NULL;
    leap_body_opts bo = {0};
    leap_loadtest_opts o = {.rate = 1000, .duration = 10, .connections = 8, .timeout = 5};
    long pid = 0;
    leap_price price = {LEAP_COST_CPU_HOUR, LEAP_COST_GB_HOUR};
    double cpus = (double)leap_num_cpus();
    static const struct option lo[] = {{"url", required_argument, 0, 'u'},
                                       {"bodies", required_argument, 0, 'B'},
                                       {"data", required_argument, 0, 'd'},
                                       {"format", required_argument, 0, 'f'},
                                       {"schema", required_argument, 0, 's'},
                                       {"rate", required_argument, 0, 'r'},
                                       {"duration", required_argument, 0, 't'},
                                       {"connections", required_argument, 0, 'c'},
                                       {"rows-per-request", required_argument, 0, 'n'},
                                       {"candidates", required_argument, 0, 'K'},
                                       {"slots", required_argument, 0, 'S'},
                                       {"auction", required_argument, 0, 'A'},
                                       {"max-bodies", required_argument, 0, 'M'},
                                       {"write-bodies", required_argument, 0, 'W'},
                                       {"server-pid", required_argument, 0, 'p'},
                                       {"cpu-hour", required_argument, 0, '$'},
                                       {"gb-hour", required_argument, 0, 'G'},
                                       {"timeout", required_argument, 0, 'T'},
                                       {"latency-log", required_argument, 0, 'L'},
                                       {"json", required_argument, 0, 'J'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "u:B:d:f:s:r:t:c:n:K:S:A:M:W:p:$:G:T:L:J:h", lo, NULL)) !=
           -1) {
        double d;
        int64_t v;
        const char *name = NULL;
        switch (c) {
        case 'u': url = optarg; continue;
        case 'B': bodies_path = optarg; continue;
        case 'd': bo.path = optarg; continue;
        case 'f': bo.format = optarg; continue;
        case 's': bo.schema_path = optarg; continue;
        case 'A': bo.auction = optarg; continue;
        case 'W': write_path = optarg; continue;
        case 'L': o.latency_log = optarg; continue;
        case 'J': json_path = optarg; continue;
        case 'h': usage(stdout); return 0;
        case 'r': name = "rate"; break;
        case 't': name = "duration"; break;
        case '$': name = "cpu-hour"; break;
        case 'G': name = "gb-hour"; break;
        case 'T': name = "timeout"; break;
        case 'c':
        case 'n':
        case 'K':
        case 'S':
        case 'M':
        case 'p':
            if (leap_parse_i64(optarg, &v) || v < (c == 'K' ? 0 : 1) || v > 100000000)
                return leap_cli_failf("loadtest", "--%s: '%s' is not a positive integer",
                                      opt_name(lo, c), optarg),
                       2;
            if (c == 'c') o.connections = (int)v;
            if (c == 'n') bo.rows_per_request = (size_t)v;
            if (c == 'K') bo.candidates = (size_t)v;
            if (c == 'S') bo.slots = (size_t)v;
            if (c == 'M') bo.max_bodies = (size_t)v;
            if (c == 'p') pid = (long)v;
            continue;
        default:
            leap_cli_failf("loadtest", "unknown or incomplete option '%s'", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
        if (leap_parse_double(optarg, &d) || !(d >= 0) || d > 1e9)
            return leap_cli_failf("loadtest", "--%s: '%s' is not a non-negative number", name,
                                  optarg),
                   2;
        if (c == 'r') o.rate = d;
        if (c == 't') o.duration = d;
        if (c == '$') price.cpu_hour = d;
        if (c == 'G') price.gb_hour = d;
        if (c == 'T') o.timeout = d;
    }
    if (optind < argc || (!bodies_path == !bo.path) || (!url && !write_path)) {
        leap_cli_failf("loadtest", optind < argc ? "unexpected argument"
                                                 : "give --url and one of --bodies or --data");
        usage(stderr);
        return 2;
    }
    leap_err err = {0};
    leap_buf bodies = {0};
    size_t *off = NULL, n = 0;
    int rc = 1;
    char host[256];
    if (url && parse_url(url, host, sizeof host, &o.port, &o.path)) {
        leap_cli_failf("loadtest", "--url: '%s' is not http://HOST[:PORT]/PATH", url);
        return 2;
    }
    o.host = host;
    if (bodies_path ? read_bodies(bodies_path, &bodies, &off, &n, &err)
                    : leap_loadtest_make_bodies(&bo, &bodies, &off, &n, &err)) {
        leap_cli_fail("loadtest", &err);
        goto done;
    }
    if (write_path) {
        FILE *f = !strcmp(write_path, "-") ? stdout : fopen(write_path, "w");
        if (!f) {
            leap_cli_failf("loadtest", "cannot write %s", write_path);
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            fwrite(bodies.p + off[i], 1, off[i + 1] - off[i], f);
            fputc('\n', f);
        }
        if (f != stdout) fclose(f);
        fprintf(stderr, "wrote %zu bodies to %s\n", n, write_path);
        rc = 0;
        goto done;
    }
    o.bodies = &bodies;
    o.body_off = off;
    o.n_bodies = n;
    double cpu0 = pid ? proc_cpu(pid) : -1;
    leap_loadtest_report r;
    if (leap_loadtest_run(&o, &r, &err)) {
        leap_cli_fail("loadtest", &err);
        goto done;
    }
    double cpu1 = pid ? proc_cpu(pid) : -1, cpu = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
    size_t rows = bo.candidates ? bo.candidates : bo.rows_per_request ? bo.rows_per_request : 1;
    char p50[32], p90[32], p99[32], p999[32], mx[32], mean[32];
    human_time(r.p50, p50, sizeof p50);
    human_time(r.p90, p90, sizeof p90);
    human_time(r.p99, p99, sizeof p99);
    human_time(r.p999, p999, sizeof p999);
    human_time(r.max, mx, sizeof mx);
    human_time(r.mean, mean, sizeof mean);
    printf("target %.0f req/s for %.1f s on %d connections: %s (%zu bodies, %zu rows each)\n",
           o.rate, o.duration, o.connections, url, n, rows);
    printf("sent %llu, answered %llu (2xx %llu, other HTTP %llu, network errors %llu) in %.2f s: "
           "%.1f req/s\n",
           (unsigned long long)r.scheduled, (unsigned long long)r.completed,
           (unsigned long long)r.ok, (unsigned long long)r.http_errors,
           (unsigned long long)r.net_errors, r.seconds, r.achieved_rate);
    printf("latency from scheduled send: p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  mean %s\n", p50,
           p90, p99, p999, mx, mean);
    double cost_req = -1, cost_pred = -1, util = -1;
    if (cpu >= 0 && r.seconds > 0) {
        util = cpu / r.seconds / cpus;
        long rss = proc_rss(pid);
        printf("server CPU %.2f s = %.1f%% of %.0f CPUs, resident memory %.0f MB", cpu, 100 * util,
               cpus, (double)rss / 1e6);
        if (r.ok) {
            /* priced like a pipeline run: the CPU it used and the memory it held */
            leap_run_cost rc0 = {.wall_s = r.seconds, .cpu_s = cpu, .peak_rss = (uint64_t)rss};
            cost_req = leap_cost_price(&price, &rc0) / (double)r.ok * 1e6;
            cost_pred = cost_req / (double)rows;
            printf("; at %g per CPU-hour and %g per GB-hour: %.4g per million requests, %.4g per "
                   "million predictions",
                   price.cpu_hour, price.gb_hour, cost_req, cost_pred);
        }
        printf("\n");
    }
    if (json_path) {
        FILE *f = fopen(json_path, "w");
        if (!f) {
            leap_cli_failf("loadtest", "cannot write %s", json_path);
            goto done;
        }
        fprintf(
            f,
            "{\"url\": \"%s\", \"rate\": %.17g, \"duration\": %.17g, \"connections\": %d, "
            "\"rows_per_request\": %zu, \"scheduled\": %llu, \"completed\": %llu, \"ok\": %llu, "
            "\"http_errors\": %llu, \"net_errors\": %llu, \"seconds\": %.6f, "
            "\"achieved_rate\": %.3f, \"p50\": %.9g, \"p90\": %.9g, \"p99\": %.9g, "
            "\"p999\": %.9g, \"max\": %.9g, \"mean\": %.9g, \"server_cpu_seconds\": %.4f, "
            "\"cpu_utilisation\": %.6f, \"cost_per_million_requests\": %.6g, "
            "\"cost_per_million_predictions\": %.6g}\n",
            url, o.rate, o.duration, o.connections, rows, (unsigned long long)r.scheduled,
            (unsigned long long)r.completed, (unsigned long long)r.ok,
            (unsigned long long)r.http_errors, (unsigned long long)r.net_errors, r.seconds,
            r.achieved_rate, r.p50, r.p90, r.p99, r.p999, r.max, r.mean, cpu, util, cost_req,
            cost_pred);
        fclose(f);
    }
    rc = r.completed ? 0 : 1;
    if (!r.completed) leap_cli_failf("loadtest", "no request was answered");
done:
    leap_buf_free(&bodies);
    free(off);
    return rc;
}
