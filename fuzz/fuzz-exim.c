/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-exim 1
/* SUMMARY
/*	fuzz target for the Exim spool file parser
/* DESCRIPTION
/*	Treats the input as an Exim -H file followed by its -D file
/*	(lib/store/exim_spool.c), with the input's last line (when it
/*	has several) also given as the -J journal, and parses it whole
/*	and for its envelope only. A failed parse says why and gives
/*	nothing; a parse that succeeds gives an id that is a valid
/*	Exim id, a sender, no more undelivered recipients than
/*	recipients, and a NUL-terminated message no longer than the
/*	input. A whole pair that parses also parses for its envelope,
/*	with the same sender and recipients.
/*
/*	Seed inputs: fuzz/corpus/exim/, spool file pairs as Exim 4.96
/*	writes them (one message partly delivered), and one with ACL
/*	variables, DSN fields and a frozen flag.
/*--*/

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/exim_spool.h"
#include "fuzz-util.h"

static int parse(const uint8_t *data, size_t size, const uint8_t *j, size_t jlen,
		 bool envelope_only, struct mc_exim_spool *sp)
{
	char *error = NULL;

	if (mc_exim_spool_parse(data, size, j, jlen, envelope_only, sp, &error) < 0) {
		FUZZ_ASSERT(error != NULL && sp->id == NULL && sp->content == NULL);
		free(error);
		return -1;
	}
	FUZZ_ASSERT(error == NULL && sp->id != NULL && mc_exim_id_ok(sp->id));
	FUZZ_ASSERT(sp->sender != NULL && strlen(sp->sender) <= size);
	FUZZ_ASSERT(sp->rcpt_count <= sp->rcpt_total && sp->h_len <= size);
	if (envelope_only) {
		FUZZ_ASSERT(sp->content == NULL);
	} else {
		FUZZ_ASSERT(sp->content != NULL && sp->content_len <= size);
		FUZZ_ASSERT(sp->content[sp->content_len] == '\0');
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mc_exim_spool whole, env;
	const uint8_t *j = NULL;
	size_t jlen = 0;

	/* The last line as a journal, when the input has two lines. */
	if (size > 1) {
		const uint8_t *nl = memchr(data, '\n', size - 1);
		if (nl != NULL) {
			const uint8_t *last = data + size - 1;
			while (last > nl + 1 && last[-1] != '\n')
				last--;
			j = last;
			jlen = (size_t)(data + size - last);
		}
	}
	if (parse(data, size, j, jlen, false, &whole) == 0) {
		FUZZ_ASSERT(parse(data, size, j, jlen, true, &env) == 0);
		FUZZ_ASSERT(strcmp(whole.sender, env.sender) == 0);
		FUZZ_ASSERT(whole.rcpt_count == env.rcpt_count);
		mc_exim_spool_clear(&env);
		mc_exim_spool_clear(&whole);
	}
	if (parse(data, size / 2, NULL, 0, true, &env) == 0)
		mc_exim_spool_clear(&env);
	return 0;
}
