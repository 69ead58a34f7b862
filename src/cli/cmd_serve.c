/* cmd_serve.c — `leap serve`: parse options, load the model repository, run
 * the HTTP server until SIGTERM or SIGINT, then stop gracefully (stop
 * accepting, finish requests in flight, exit 0). Logs go to stderr, the
 * access log (--access-log) to stdout as JSON lines. All serving logic is in
 * src/serve/. */
#include "cli/cli.h"
#include "leap/serve.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(
        f, "usage: leap serve --models DIR [--port 8501] [--host 127.0.0.1] [--threads 64]\n"
           "                  [--poll SECONDS] [--admin-token-file FILE] [--keep-latest N]\n"
           "                  [--pin NAME:V[,V...]]... [--max-body BYTES]\n"
           "                  [--request-timeout-ms MS] [--idle-timeout-ms MS]\n"
           "                  [--access-log] [--cpu-latency-us US] [--quiet]\n"
           "Serves DIR/NAME/VERSION/model.leap over TF Serving's REST API:\n"
           "  POST /v1/models/NAME[/versions/V]:predict   {\"instances\": [{raw features}]}\n"
           "  POST /v1/models/NAME[/versions/V]:rank      context + candidate ads -> priced slots\n"
           "  GET  /v1/models/NAME[/versions/V][/metadata], /metrics, /healthz, /readyz\n"
           "  POST /admin/reload   (Authorization: Bearer TOKEN; only with --admin-token-file)\n"
           "--poll 0 (the default) reloads only on /admin/reload. --threads is the number of\n"
           "connections served at once (a kept-alive connection holds a thread).\n"
           "--cpu-latency-us US holds a PM QoS request (/dev/cpu_dma_latency, root) while\n"
           "serving: idle CPUs stay in states they leave within US µs (0: polling), so a\n"
           "request arriving at an idle machine does not wait for a CPU to wake from halt\n"
           "(on VMs tens to hundreds of µs); idle CPUs then spin instead of sleeping.\n");
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void log_stderr(void *user, leap_log_level lvl, const char *msg) {
    int quiet = *(const int *)user;
    if (quiet && lvl < LEAP_LOG_WARN) return;
    static const char *const names[] = {"debug", "info", "warning", "error"};
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    pthread_mutex_lock(&log_mu);
    fprintf(stderr, "%s leap serve: %s: %s\n", ts, names[lvl], msg);
    pthread_mutex_unlock(&log_mu);
}

static void log_access(void *user, leap_log_level lvl, const char *msg) {
    (void)user;
    (void)lvl;
    pthread_mutex_lock(&log_mu);
    fputs(msg, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&log_mu);
}

/* PM QoS CPU latency request: the kernel keeps every CPU out of idle states
 * whose exit latency exceeds us while the returned descriptor stays open
 * (what tuned's latency-performance profile does). -1 with err set when the
 * request cannot be made. */
static int hold_cpu_latency(int us, leap_err *err) {
    int fd = open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return leap_err_set(err, LEAP_EIO, "--cpu-latency-us: cannot open /dev/cpu_dma_latency: %s",
                            strerror(errno)),
               -1;
    int32_t v = us;
    if (write(fd, &v, sizeof v) != (ssize_t)sizeof v) {
        leap_err_set(err, LEAP_EIO, "--cpu-latency-us: the kernel refused %d µs: %s", us,
                     strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int parse_int(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out) {
    if (leap_parse_i64(s, out) || *out < lo || *out > hi) {
        leap_cli_failf("serve", "--%s: '%s' is not an integer in [%lld, %lld]", opt, s,
                       (long long)lo, (long long)hi);
        return -1;
    }
    return 0;
}

/* NAME:V[,V...] */
static int parse_pin(const char *s, leap_repo_pin *p) {
    memset(p, 0, sizeof *p);
    const char *colon = strchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof p->model) return -1;
    memcpy(p->model, s, (size_t)(colon - s));
    char buf[512];
    snprintf(buf, sizeof buf, "%s", colon + 1);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int64_t v;
        if (p->n == LEAP_REPO_MAX_PINS || leap_parse_i64(t, &v) || v <= 0) return -1;
        p->versions[p->n++] = v;
    }
    return p->n ? 0 : -1;
}

static char *read_token(const char *path, leap_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        leap_err_set(err, LEAP_EIO, "--admin-token-file %s: cannot read it", path);
        return NULL;
    }
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = 0;
    if (n < 16) {
        leap_err_set(err, LEAP_EINVAL,
                     "--admin-token-file %s: the token needs 16 characters or more", path);
        return NULL;
    }
    return strdup(buf);
}

int leap_cmd_serve(int argc, char **argv) {
    const char *dir = NULL, *token_file = NULL;
    leap_server_opts so = {.host = "127.0.0.1", .port = 8501};
    leap_repo_pin pins[32];
    size_t n_pins = 0;
    int keep = 1, quiet = 0, access = 0, cpu_latency = -1, qos_fd = -1;
    static const struct option lo[] = {{"models", required_argument, 0, 'm'},
                                       {"port", required_argument, 0, 'p'},
                                       {"host", required_argument, 0, 'H'},
                                       {"threads", required_argument, 0, 'j'},
                                       {"poll", required_argument, 0, 'P'},
                                       {"admin-token-file", required_argument, 0, 'T'},
                                       {"keep-latest", required_argument, 0, 'k'},
                                       {"pin", required_argument, 0, 'n'},
                                       {"max-body", required_argument, 0, 'b'},
                                       {"request-timeout-ms", required_argument, 0, 'r'},
                                       {"idle-timeout-ms", required_argument, 0, 'i'},
                                       {"access-log", no_argument, 0, 'a'},
                                       {"cpu-latency-us", required_argument, 0, 'L'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:p:H:j:P:T:k:n:b:r:i:L:aqh", lo, NULL)) != -1) {
        int64_t v;
        double d;
        switch (c) {
        case 'm': dir = optarg; break;
        case 'p':
            if (parse_int("port", optarg, 0, 65535, &v)) return 2;
            so.port = (int)v;
            break;
        case 'H': so.host = optarg; break;
        case 'j':
            if (parse_int("threads", optarg, 1, 4096, &v)) return 2;
            so.threads = (int)v;
            break;
        case 'P':
            if (leap_parse_double(optarg, &d) || d < 0 || d > 86400)
                return leap_cli_failf("serve",
                                      "--poll: '%s' is not a number of seconds in "
                                      "[0, 86400]",
                                      optarg),
                       2;
            so.poll_seconds = d;
            break;
        case 'T': token_file = optarg; break;
        case 'k':
            if (parse_int("keep-latest", optarg, 1, 1000, &v)) return 2;
            keep = (int)v;
            break;
        case 'n':
            if (n_pins == sizeof pins / sizeof pins[0] || parse_pin(optarg, &pins[n_pins]))
                return leap_cli_failf("serve", "--pin: '%s' is not NAME:VERSION[,VERSION...]",
                                      optarg),
                       2;
            n_pins++;
            break;
        case 'b':
            if (parse_int("max-body", optarg, 1024, (int64_t)1 << 30, &v)) return 2;
            so.max_body = (size_t)v;
            break;
        case 'r':
            if (parse_int("request-timeout-ms", optarg, 1, 3600000, &v)) return 2;
            so.request_timeout_ms = (int)v;
            break;
        case 'i':
            if (parse_int("idle-timeout-ms", optarg, 1, 3600000, &v)) return 2;
            so.idle_timeout_ms = (int)v;
            break;
        case 'a': access = 1; break;
        case 'L':
            if (parse_int("cpu-latency-us", optarg, 0, 1000000, &v)) return 2;
            cpu_latency = (int)v;
            break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default:
            leap_cli_failf("serve", "unknown or incomplete option '%s'", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (!dir || optind < argc) {
        leap_cli_failf("serve", optind < argc ? "unexpected argument" : "--models is required");
        usage(stderr);
        return 2;
    }
    /* big buffers (model tables) come from mmap and go back to the system when a
     * retired version is freed, instead of staying in the heap */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);

    leap_err err = {0};
    char *token = NULL;
    if (token_file && !(token = read_token(token_file, &err))) return leap_cli_fail("serve", &err);
    if (cpu_latency >= 0 && (qos_fd = hold_cpu_latency(cpu_latency, &err)) < 0) {
        free(token);
        return leap_cli_fail("serve", &err);
    }
    so.admin_token = token;
    so.log = log_stderr;
    so.log_user = &quiet;
    if (access) so.access_log = log_access;

    /* every thread started from here on inherits the blocked signals; the main
     * thread waits for them */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    leap_repo *repo = NULL;
    leap_server *srv = NULL;
    leap_repo_opts ro = {.dir = dir,
                         .keep_latest = keep,
                         .pins = pins,
                         .n_pins = n_pins,
                         .log = log_stderr,
                         .log_user = &quiet};
    int rc = 1;
    if (leap_repo_create(&ro, &repo, &err) || leap_repo_reload(repo, &err) ||
        leap_server_start(&so, repo, &srv, &err)) {
        leap_cli_fail("serve", &err);
        goto done;
    }
    int sig = 0;
    sigwait(&set, &sig);
    log_stderr(&quiet, LEAP_LOG_INFO, sig == SIGTERM ? "SIGTERM: stopping" : "SIGINT: stopping");
    leap_server_stop(srv);
    srv = NULL;
    rc = 0;
done:
    leap_server_stop(srv);
    leap_repo_destroy(repo);
    free(token);
    if (qos_fd >= 0) close(qos_fd);
    return rc;
}
