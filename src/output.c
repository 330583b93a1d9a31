/* placeholder */
#include "commands.h"
