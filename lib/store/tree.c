/* placeholder: lib/store/tree.c */
#include "mailcure/mailcure.h"
