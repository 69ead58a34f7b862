/* cmd_train.c — placeholder until the command lands; replaced by its owner. */
#include "cli/cli.h"
int leap_cmd_train(int argc, char **argv) { return leap_cli_failf("train", "not built yet"); }
