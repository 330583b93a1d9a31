/* placeholder: lib/store/maildir.c */
#include "mailcure/mailcure.h"
