/* cmd_ingest.c — placeholder until the command lands; replaced by its owner. */
#include "cli/cli.h"
int leap_cmd_ingest(int argc, char **argv) { return leap_cli_failf("ingest", "not built yet"); }
