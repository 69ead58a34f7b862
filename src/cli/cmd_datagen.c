/* cmd_datagen.c — placeholder until the command lands; replaced by its owner. */
#include "cli/cli.h"
int leap_cmd_datagen(int argc, char **argv) { return leap_cli_failf("datagen", "not built yet"); }
