/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-watch-policy 1
/* SUMMARY
/*	fuzz target for the watch policy file
/* DESCRIPTION
/*	Parses the input as a watch policy (lib/watch_policy.c). An
/*	error names the file and a line of it; a policy accepted has an
/*	action of the three for every kind and read state, caps from 1
/*	to 10000000, plain addresses and absolute paths.
/*
/*	Seed inputs: fuzz/corpus/watch-policy/.
/*--*/

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailcure/mailcure.h"
#include "mailcure/notify.h"
#include "mailcure/watch_policy.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mc_watch_policy *pol = NULL;
	char *error = NULL;
	const char *s;

	if (mc_watch_policy_parse("f.conf", (const char *)data, size, &pol, &error) < 0) {
		FUZZ_ASSERT(pol == NULL && error != NULL);
		FUZZ_ASSERT(strncmp(error, "f.conf:", 7) == 0);
		free(error);
		return 0;
	}
	for (unsigned k = 0; k < MC_WATCH_KINDS; k++)
		for (unsigned seen = 0; seen < 2; seen++)
			FUZZ_ASSERT(mc_watch_policy_action(pol, k, seen) <= MC_WATCH_REPORT);
	FUZZ_ASSERT(mc_watch_policy_cap_mailbox(pol) >= 1 &&
		    mc_watch_policy_cap_mailbox(pol) <= 10000000);
	FUZZ_ASSERT(mc_watch_policy_cap_total(pol) >= 1 &&
		    mc_watch_policy_cap_total(pol) <= 10000000);
	s = mc_watch_policy_notify_admin(pol);
	FUZZ_ASSERT(s == NULL || mc_notify_address_valid(s));
	FUZZ_ASSERT(mc_notify_address_valid(mc_watch_policy_notify_from(pol)));
	FUZZ_ASSERT(mc_watch_policy_sendmail(pol)[0] == '/');
	s = mc_watch_policy_notify_template(pol);
	FUZZ_ASSERT(s == NULL || s[0] == '/');
	s = mc_watch_policy_notify_admin_template(pol);
	FUZZ_ASSERT(s == NULL || s[0] == '/');
	mc_watch_policy_free(&pol);
	FUZZ_ASSERT(pol == NULL);
	return 0;
}
