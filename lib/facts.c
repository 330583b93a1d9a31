/* placeholder: lib/facts.c */
#include "mailcure/mailcure.h"
