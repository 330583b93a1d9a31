/* placeholder: lib/store/mbox.c */
#include "mailcure/mailcure.h"
