/* placeholder: lib/store/eml.c */
#include "mailcure/mailcure.h"
