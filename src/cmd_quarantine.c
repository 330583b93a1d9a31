/* placeholder */
#include "commands.h"
int cmd_quarantine(int argc, char **argv, struct mc_global *g)
{
	mc_warn("quarantine: not built yet");
	return MC_EXIT_ERROR;
}
