/* cmd_split.c — `leap split`: parses arguments, calls leap_split (src/data/split.c)
 * and prints a short summary. No splitting logic lives here. */
#include "cli/cli.h"
#include "leap/split.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void split_usage(FILE *f) {
    fprintf(f,
            "usage: leap split IN.lds -o PREFIX [options]\n"
            "\n"
            "Writes PREFIX.train.lds PREFIX.valid.lds PREFIX.test.lds (two fractions:\n"
            "PREFIX.train.lds PREFIX.test.lds). The same inputs always give the same outputs.\n"
            "\n"
            "options:\n"
            "  --by METHOD          hash (default): by a hash of the row index\n"
            "                       hash:COLUMN: rows with equal COLUMN values stay together\n"
            "                       time:COLUMN: earliest rows to train, then valid, then test\n"
            "  --fractions A,B[,C]  positive, summing to 1 (default 0.8,0.1,0.1)\n"
            "  -o, --output PREFIX  output prefix (required)\n"
            "  --seed S             hash seed (default 1)\n"
            "  --neg-rate R         keep negatives of train with probability R in (0,1];\n"
            "                       kept negatives get weight x 1/R, metadata neg_sample_rate=R\n"
            "  --threads N          worker threads (default: all cores)\n"
            "  --zstd-level L       compression level of the outputs (default 1)\n"
            "  -h, --help           this help\n");
}

int leap_cmd_split(int argc, char **argv) {
    enum { OPT_BY = 256, OPT_FRACTIONS, OPT_SEED, OPT_NEG_RATE, OPT_THREADS, OPT_ZSTD };
    static const struct option longopts[] = {
        {"by", required_argument, NULL, OPT_BY},
        {"fractions", required_argument, NULL, OPT_FRACTIONS},
        {"output", required_argument, NULL, 'o'},
        {"seed", required_argument, NULL, OPT_SEED},
        {"neg-rate", required_argument, NULL, OPT_NEG_RATE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"zstd-level", required_argument, NULL, OPT_ZSTD},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    leap_split_opts o;
    leap_split_opts_init(&o);
    leap_err err = {0};
    int64_t v;
    double d;
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, "o:h", longopts, NULL);
        if (c == -1) break;
        switch (c) {
        case OPT_BY:
            if (leap_split_parse_by(optarg, &o, &err)) return leap_cli_fail("split", &err), 2;
            break;
        case OPT_FRACTIONS:
            if (leap_split_parse_fractions(optarg, &o, &err))
                return leap_cli_fail("split", &err), 2;
            break;
        case 'o': o.prefix = optarg; break;
        case OPT_SEED:
            if (leap_parse_i64(optarg, &v) || v < 0)
                return leap_cli_failf("split", "--seed '%s': expected a non-negative integer",
                                      optarg),
                       2;
            o.seed = (uint64_t)v;
            break;
        case OPT_NEG_RATE:
            if (leap_parse_double(optarg, &d) || !(d > 0 && d <= 1))
                return leap_cli_failf("split", "--neg-rate '%s': expected a number in (0, 1]",
                                      optarg),
                       2;
            o.neg_rate = d;
            break;
        case OPT_THREADS:
            if (leap_parse_i64(optarg, &v) || v < 0 || v > 4096)
                return leap_cli_failf("split", "--threads '%s': expected 0..4096", optarg), 2;
            o.threads = (int)v;
            break;
        case OPT_ZSTD:
            if (leap_parse_i64(optarg, &v) || v < -100 || v > 22)
                return leap_cli_failf("split", "--zstd-level '%s': expected a level up to 22",
                                      optarg),
                       2;
            o.zstd_level = (int)v;
            break;
        case 'h': split_usage(stdout); return 0;
        default:
            if (optopt && optopt < 256)
                leap_cli_failf("split", "unknown or incomplete option '-%c' (see --help)", optopt);
            else
                leap_cli_failf("split", "unknown or incomplete option '%s' (see --help)",
                               argv[optind - 1]);
            return 2;
        }
    }
    if (optind >= argc) return leap_cli_failf("split", "no input dataset given (see --help)"), 2;
    if (optind != argc - 1)
        return leap_cli_failf("split", "expected one input dataset, got %d (see --help)",
                              argc - optind),
               2;
    o.input = argv[optind];
    if (leap_split_opts_check(&o, &err)) return leap_cli_fail("split", &err), 2;

    leap_split_report rep;
    if (leap_split(&o, &rep, &err)) return leap_cli_fail("split", &err);
    printf("split %s: %" PRIu64 " rows in %.2f s\n", o.input, rep.rows_in, rep.seconds);
    for (size_t s = 0; s < rep.n_outputs; s++) {
        printf("  %-6s %-40s %10" PRIu64 " rows", leap_split_output_name(s, rep.n_outputs),
               rep.paths[s], rep.rows[s]);
        if (rep.has_label && rep.rows[s]) {
            printf("  positives %.4f%%", 100.0 * (double)rep.positives[s] / (double)rep.rows[s]);
            if (s == 0 && o.neg_rate > 0 && rep.weight_sum[s] > 0)
                printf(" (weighted %.4f%%)", 100.0 * rep.weighted_positives[s] / rep.weight_sum[s]);
        }
        printf("\n");
    }
    return 0;
}
