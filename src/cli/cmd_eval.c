/* cmd_eval.c — placeholder until the command lands; replaced by its owner. */
#include "cli/cli.h"
int leap_cmd_eval(int argc, char **argv) { return leap_cli_failf("eval", "not built yet"); }
