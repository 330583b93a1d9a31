/* placeholder: lib/quarantine.c */
#include "mailcure/mailcure.h"
