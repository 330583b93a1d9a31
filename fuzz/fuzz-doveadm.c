/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-doveadm 1
/* SUMMARY
/*	fuzz target for the parser of doveadm's fetch output
/* DESCRIPTION
/*	The first input byte chooses how the rest is read: bit 7 with
/*	or without the message text (the batch stream or the listing of
/*	lib/store/dovecot_parse.c), the low bits the size of the chunks the
/*	output arrives in (1 to 128 bytes, as a pipe may hand it over).
/*	The rest is doveadm's pager output. A failure must say why, and
/*	the verdict and the number of records must not depend on the
/*	chunk size: it is read again in one piece and must agree.
/*
/*	Seed inputs: fuzz/corpus/doveadm/, output of "doveadm -f pager
/*	fetch 'mailbox-guid uid guid flags size.physical mailbox text'"
/*	with the selector byte in front.
/*--*/

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store-private.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t chunk, records, records_whole;
	char *error = NULL, *error_whole = NULL;
	bool text;
	int ret, ret_whole;

	if (size == 0)
		return 0;
	text = (data[0] & 0x80) != 0;
	chunk = 1 + (data[0] & 0x7f);
	data++;
	size--;

	ret = mc_store_dovecot_parse(data, size, chunk, text, &records, &error);
	FUZZ_ASSERT(ret == 0 || error != NULL);
	ret_whole = mc_store_dovecot_parse(data, size, size + 1, text, &records_whole,
					   &error_whole);
	FUZZ_ASSERT(ret == ret_whole && records == records_whole);
	FUZZ_ASSERT(ret == 0 || strcmp(error, error_whole) == 0);
	free(error);
	free(error_whole);
	return 0;
}
