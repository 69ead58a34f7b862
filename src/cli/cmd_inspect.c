/* cmd_inspect.c — placeholder until the command lands; replaced by its owner. */
#include "cli/cli.h"
int leap_cmd_inspect(int argc, char **argv) { return leap_cli_failf("inspect", "not built yet"); }
