/* cmd_predict.c — placeholder until the command lands; replaced by its owner. */
#include "cli/cli.h"
int leap_cmd_predict(int argc, char **argv) { return leap_cli_failf("predict", "not built yet"); }
