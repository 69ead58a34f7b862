/* cmd_split.c — placeholder until the command lands; replaced by its owner. */
#include "cli/cli.h"
int leap_cmd_split(int argc, char **argv) { return leap_cli_failf("split", "not built yet"); }
