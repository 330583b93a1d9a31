/* placeholder: lib/query.c */
#include "mailcure/mailcure.h"
