/* cmd_inspect.c — `leap inspect`: a bundle's metadata, featurizer and, when the
 * model describes itself, its parameters (trees: sizes, feature importance). */
#include "cli/cli.h"
#include "leap/bundle.h"
#include "leap/transform.h"

#include <string.h>

int leap_cmd_inspect(int argc, char **argv) {
    if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc == 2 ? stdout : stderr, "usage: leap inspect MODEL.leap\n");
        return argc == 2 ? 0 : 2;
    }
    leap_err err = {0};
    leap_bundle b;
    if (leap_bundle_load(argv[1], &b, &err)) return leap_cli_fail("inspect", &err);
    printf("bundle      %s\n", argv[1]);
    printf("format      %d\n", LEAP_BUNDLE_VERSION);
    for (size_t i = 0; i < b.n_meta; i++)
        printf("%-28s %s\n", b.keys[i], b.vals[i]);
    if (b.fz.tf) { /* a fitted transform spec */
        leap_transform_describe(&b.fz, stdout, 0);
    } else {
        printf("featurizer.buckets           %u (hash_bits %d)\n", b.fz.n_buckets,
               b.fz.opts.hash_bits);
        printf("featurizer.fields            %zu:", b.fz.n_fields);
        for (size_t i = 0; i < b.fz.n_fields; i++)
            printf(" %s:%s", b.fz.fields[i].column, leap_fz_op_name(b.fz.fields[i].op));
        printf("\n");
    }
    if (b.ops->describe) b.ops->describe(b.model, &b.fz, stdout);
    leap_bundle_free(&b);
    return 0;
}
