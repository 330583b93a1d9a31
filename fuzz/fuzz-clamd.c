/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-clamd 1
/* SUMMARY
/*	libFuzzer target for clamd's reply parser
/* DESCRIPTION
/*	Parses the input as clamd's reply to INSTREAM and to FILDES.
/*	Every reply must give a verdict whose name is a NUL-terminated
/*	string within its buffer; a reply that is understood is never
/*	an error quoting it, one that is not is always an error, and
/*	only "LABEL: OK" is clean.
/*
/*	Build: CC=clang meson setup build-fuzz -Dfuzz=true; then
/*	build-fuzz/fuzz/fuzz-clamd [corpus-dir].
/*--*/

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailcure/mailcure.h"
#include "internal.h"
#include "fuzz-util.h"

static void check(const char *reply, size_t size, const char *label)
{
	struct mc_verdict v;
	int ret;

	memset(&v, 0xa5, sizeof(v));
	ret = mc_clamd_reply_parse(reply, size, label, &v);
	FUZZ_ASSERT(ret == 0 || ret == -1);
	FUZZ_ASSERT(memchr(v.name, '\0', sizeof(v.name)) != NULL);
	FUZZ_ASSERT(v.kind == MC_VERDICT_CLEAN || v.kind == MC_VERDICT_INFECTED ||
		    v.kind == MC_VERDICT_UNSCANNED || v.kind == MC_VERDICT_ERROR);
	FUZZ_ASSERT(ret == 0 || v.kind == MC_VERDICT_ERROR);
	FUZZ_ASSERT(v.kind != MC_VERDICT_CLEAN ||
		    (size >= 4 && memcmp(reply + size - 4, ": OK", 4) == 0));
	FUZZ_ASSERT(v.kind != MC_VERDICT_INFECTED || v.name[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy without slack, so any read past the end is caught. */
	char *buf = malloc(size ? size : 1);

	memcpy(buf, data, size);
	check(buf, size, "stream");
	check(buf, size, "fd[");
	free(buf);
	return 0;
}
