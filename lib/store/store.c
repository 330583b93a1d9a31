/* placeholder: lib/store/store.c */
#include "mailcure/mailcure.h"
