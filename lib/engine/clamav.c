/* placeholder: lib/engine/clamav.c */
#include "mailcure/mailcure.h"
