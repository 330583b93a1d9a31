/* placeholder */
#include "commands.h"
int cmd_mailbox(int argc, char **argv, struct mc_global *g)
{
	return MC_EXIT_ERROR;
}
