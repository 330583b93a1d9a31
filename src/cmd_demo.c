/* placeholder */
#include "commands.h"
int cmd_demo(int argc, char **argv, struct mc_global *g)
{
	mc_warn("demo: not built yet");
	return MC_EXIT_ERROR;
}
