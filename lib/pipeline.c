/* placeholder: lib/pipeline.c */
#include "mailcure/mailcure.h"
