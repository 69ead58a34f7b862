/* cmd_ingest.c — `leap ingest`: parses arguments, expands globs (in case the
 * shell did not), calls leap_ingest (src/data/ingest.c) and prints the bad-row
 * report and a one-line summary. `--parse-only` runs the parser alone on each
 * input and prints its speed (for benchmarks). No parsing logic lives here. */
#include "cli/cli.h"
#include "leap/ingest.h"

#include <getopt.h>
#include <glob.h>
#include "leap/comm.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ingest_usage(FILE *f) {
    fprintf(f,
            "usage: leap ingest --format FMT [--schema SCHEMA.yaml] INPUT... -o OUT.lds [options]\n"
            "\n"
            "Reads raw logs (plain, .gz or .zst; detected from the content) into one dataset.\n"
            "Formats:\n"
            "  criteo   label TAB I1..I13 TAB C1..C26 (40 fields, empty = missing)\n"
            "  csv      delimited text described by --schema (YAML; see docs/FORMATS.md)\n"
            "  libsvm   label idx:val ... (label 0/1 or -1/+1)\n"
            "\n"
            "options:\n"
            "  --format FMT            criteo | csv | libsvm (required)\n"
            "  --schema FILE           YAML schema, csv only\n"
            "  -o, --output FILE       dataset to write (atomically; untouched on failure)\n"
            "  --threads N             worker threads (default: all cores)\n"
            "  --bad-rows=fail|skip    fail (default): stop at the first bad row with FILE:LINE;\n"
            "                          skip: drop bad rows, report their count and first lines\n"
            "  --dict                  keep raw category strings in the dataset dictionary\n"
            "  --row-group-rows N      rows per row group (default %d)\n"
            "  --zstd-level L          compression level (default 1)\n"
            "  --parse-only            parse each input, write nothing, print MB/s\n"
            "  -h, --help              this help\n",
            LEAP_DEFAULT_ROW_GROUP_ROWS);
}

typedef struct path_list {
    char **v;
    size_t n, cap;
} path_list;

static int path_push(path_list *l, const char *s) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        char **nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) return -1;
        l->v = nv;
        l->cap = nc;
    }
    if (!(l->v[l->n] = strdup(s))) return -1;
    l->n++;
    return 0;
}

static void path_free(path_list *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* Adds arg, or the files it matches when it holds a wildcard. */
static int expand(path_list *l, const char *arg) {
    if (!strpbrk(arg, "*?[")) return path_push(l, arg) ? -1 : 0;
    glob_t g;
    int rc = glob(arg, 0, NULL, &g);
    if (rc == GLOB_NOMATCH) {
        globfree(&g);
        return 1;
    }
    if (rc != 0) {
        globfree(&g);
        return -1;
    }
    for (size_t i = 0; i < g.gl_pathc; i++)
        if (path_push(l, g.gl_pathv[i])) {
            globfree(&g);
            return -1;
        }
    globfree(&g);
    return 0;
}

static void print_bad(const leap_read_stats *st) {
    if (st->bad_rows == 0) return;
    fprintf(stderr, "leap ingest: skipped %" PRIu64 " bad rows; first at lines", st->bad_rows);
    for (size_t i = 0; i < st->n_first_bad; i++)
        fprintf(stderr, "%s %" PRIu64, i ? "," : "", st->first_bad_lines[i]);
    fprintf(stderr, "\n");
}

/* Under mpirun: rank r ingests inputs r, r + size, ... into OUT.partR; rank 0
 * then joins the parts in rank order (chunks copied, not re-encoded) and
 * removes them. Every rank learns whether any rank failed. */
static int ingest_mpi(leap_ingest_opts *o, leap_comm *comm, leap_err *err) {
    int rank = leap_comm_rank(comm), size = leap_comm_size(comm);
    const char *const *all = o->inputs;
    size_t n_all = o->n_inputs, n_mine = 0;
    const char **mine = calloc(n_all + 1, sizeof *mine);
    char **parts = calloc((size_t)size, sizeof *parts);
    int rc = 0;
    if (!mine || !parts) {
        free(mine);
        free(parts);
        return leap_cli_failf("ingest", "out of memory");
    }
    for (size_t i = (size_t)rank; i < n_all; i += (size_t)size)
        mine[n_mine++] = all[i];
    for (int r = 0; r < size; r++) {
        size_t len = strlen(o->output) + 32;
        parts[r] = malloc(len);
        if (parts[r]) snprintf(parts[r], len, "%s.part%d", o->output, r);
    }
    if (o->threads == 0) o->threads = leap_num_cpus() / size > 0 ? leap_num_cpus() / size : 1;
    leap_ingest_report rep = {0};
    double failed = 0;
    if (n_mine > 0) {
        leap_ingest_opts mo = *o;
        mo.inputs = mine;
        mo.n_inputs = n_mine;
        mo.output = parts[rank];
        if (leap_ingest(&mo, &rep, err)) {
            leap_cli_fail("ingest", err);
            failed = 1;
        }
    }
    double counts[3] = {failed, (double)rep.stats.rows, (double)rep.stats.bad_rows};
    if (leap_comm_allreduce_sum_f64(comm, counts, 3, err)) {
        rc = leap_cli_fail("ingest", err);
        goto done;
    }
    if (counts[0] > 0) {
        rc = 1;
        goto done;
    }
    if (rank == 0) {
        int n_parts = size < (int)n_all ? size : (int)n_all;
        double t0 = leap_now();
        if (leap_dataset_concat((const char *const *)parts, (size_t)n_parts, o->output, err)) {
            rc = leap_cli_fail("ingest", err);
        } else {
            printf("ingested %.0f rows (%.0f bad rows skipped) from %zu files on %d ranks into %s "
                   "(parts joined in %.3f s)\n",
                   counts[1], counts[2], n_all, size, o->output, leap_now() - t0);
        }
    }
done:
    leap_comm_barrier(comm, NULL);
    if (n_mine > 0 && parts[rank]) remove(parts[rank]);
    for (int r = 0; r < size; r++)
        free(parts[r]);
    free(parts);
    free(mine);
    return rc;
}

int leap_cmd_ingest(int argc, char **argv) {
    enum {
        OPT_FORMAT = 256,
        OPT_SCHEMA,
        OPT_THREADS,
        OPT_BAD,
        OPT_DICT,
        OPT_RG,
        OPT_ZSTD,
        OPT_PARSE_ONLY
    };
    static const struct option longopts[] = {
        {"format", required_argument, NULL, OPT_FORMAT},
        {"schema", required_argument, NULL, OPT_SCHEMA},
        {"output", required_argument, NULL, 'o'},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"bad-rows", required_argument, NULL, OPT_BAD},
        {"dict", no_argument, NULL, OPT_DICT},
        {"row-group-rows", required_argument, NULL, OPT_RG},
        {"zstd-level", required_argument, NULL, OPT_ZSTD},
        {"parse-only", no_argument, NULL, OPT_PARSE_ONLY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    leap_ingest_opts o = {0};
    o.reader.format = LEAP_FMT_COUNT;
    o.progress = 1;
    int parse_only = 0;
    int64_t v;
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, "o:h", longopts, NULL);
        if (c == -1) break;
        switch (c) {
        case OPT_FORMAT: {
            int f = leap_format_from_name(optarg);
            if (f < 0)
                return leap_cli_failf("ingest", "--format '%s': expected criteo, csv or libsvm",
                                      optarg),
                       2;
            o.reader.format = (leap_format)f;
            break;
        }
        case OPT_SCHEMA: o.reader.schema_path = optarg; break;
        case 'o': o.output = optarg; break;
        case OPT_THREADS:
            if (leap_parse_i64(optarg, &v) || v < 0 || v > 4096)
                return leap_cli_failf("ingest", "--threads '%s': expected 0..4096", optarg), 2;
            o.threads = (int)v;
            break;
        case OPT_BAD:
            if (!strcmp(optarg, "fail"))
                o.reader.bad_rows = LEAP_BAD_ROWS_FAIL;
            else if (!strcmp(optarg, "skip"))
                o.reader.bad_rows = LEAP_BAD_ROWS_SKIP;
            else
                return leap_cli_failf("ingest", "--bad-rows '%s': expected fail or skip", optarg),
                       2;
            break;
        case OPT_DICT: o.reader.keep_dict = 1; break;
        case OPT_RG:
            if (leap_parse_i64(optarg, &v) || v < 1 || v > (1 << 30))
                return leap_cli_failf("ingest", "--row-group-rows '%s': expected 1..%d", optarg,
                                      1 << 30),
                       2;
            o.row_group_rows = (size_t)v;
            break;
        case OPT_ZSTD:
            if (leap_parse_i64(optarg, &v) || v < -7 || v > 22 || v == 0)
                return leap_cli_failf("ingest",
                                      "--zstd-level '%s': expected -7..-1 (fast) or 1..22", optarg),
                       2;
            o.zstd_level = (int)v;
            break;
        case OPT_PARSE_ONLY: parse_only = 1; break;
        case 'h': ingest_usage(stdout); return 0;
        default:
            leap_cli_failf("ingest", "unknown or incomplete option '%s'", argv[optind - 1]);
            ingest_usage(stderr);
            return 2;
        }
    }
    if (o.reader.format == LEAP_FMT_COUNT)
        return leap_cli_failf("ingest", "--format is required (criteo, csv or libsvm)"), 2;
    if (o.reader.format == LEAP_FMT_CSV && !o.reader.schema_path)
        return leap_cli_failf("ingest", "--format csv needs --schema FILE.yaml"), 2;
    if (o.reader.format != LEAP_FMT_CSV && o.reader.schema_path)
        return leap_cli_failf("ingest", "--schema is only for --format csv"), 2;
    if (optind >= argc) return leap_cli_failf("ingest", "no input files"), 2;
    if (!parse_only && !o.output) return leap_cli_failf("ingest", "-o OUT.lds is required"), 2;

    path_list in = {0};
    for (int i = optind; i < argc; i++) {
        int rc = expand(&in, argv[i]);
        if (rc) {
            path_free(&in);
            return rc > 0 ? leap_cli_failf("ingest", "%s: no file matches", argv[i])
                          : leap_cli_failf("ingest", "out of memory");
        }
    }
    leap_err err = {0};
    int status = 0;
    if (parse_only) {
        for (size_t i = 0; i < in.n && !status; i++) {
            leap_read_stats st;
            double t0 = leap_now();
            if (leap_ingest_parse_only(&o.reader, in.v[i], &st, &err)) {
                status = leap_cli_fail("ingest", &err);
                break;
            }
            double s = leap_now() - t0;
            print_bad(&st);
            printf("parse-only %s: %" PRIu64 " rows, %" PRIu64 " bad rows, %.1f MB in %.3f s, "
                   "%.1f MB/s\n",
                   in.v[i], st.rows, st.bad_rows, (double)st.bytes / 1e6, s,
                   s > 0 ? (double)st.bytes / 1e6 / s : 0.0);
        }
        path_free(&in);
        return status;
    }
    o.inputs = (const char *const *)in.v;
    o.n_inputs = in.n;
    leap_comm *comm = NULL;
    if (leap_comm_init(&comm, &err)) {
        path_free(&in);
        return leap_cli_fail("ingest", &err);
    }
    if (leap_comm_size(comm) > 1) {
        status = ingest_mpi(&o, comm, &err);
        leap_comm_finalize(comm);
        path_free(&in);
        return status;
    }
    leap_comm_finalize(comm);
    leap_ingest_report rep;
    if (leap_ingest(&o, &rep, &err)) {
        path_free(&in);
        return leap_cli_fail("ingest", &err);
    }
    print_bad(&rep.stats);
    printf("ingested %" PRIu64 " rows (%" PRIu64 " bad rows skipped) from %zu file%s into %s: "
           "%zu row groups, %.1f MB in %.3f s, %.1f MB/s\n",
           rep.stats.rows, rep.stats.bad_rows, in.n, in.n == 1 ? "" : "s", o.output, rep.row_groups,
           (double)rep.stats.bytes / 1e6, rep.seconds,
           rep.seconds > 0 ? (double)rep.stats.bytes / 1e6 / rep.seconds : 0.0);
    path_free(&in);
    return 0;
}
