/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-postfix 1
/* SUMMARY
/*	fuzz target for the Postfix queue file parser
/* DESCRIPTION
/*	Treats the input as a queue file (lib/store/postfix.c) and
/*	parses it whole and for its envelope only, as the store does for
/*	a file too large to read. A failed parse must say why; a parse
/*	that succeeds gives a sender and a NUL-terminated message no
/*	longer than the file (each record is read once). A whole file that parses also parses for
/*	its envelope, with the same sender and recipients (both stop at
/*	the same records). The head of a file (the first half) must
/*	parse or fail cleanly too.
/*
/*	Seed inputs: fuzz/corpus/postfix/, queue files laid out as
/*	Postfix writes them, one edited by cleanup (a pointer to records
/*	appended after the end record, which point back).
/*--*/

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store-private.h"
#include "fuzz-util.h"

static int parse(const uint8_t *data, size_t size, bool envelope_only,
		 char **sender_r, size_t *rcpts_r)
{
	unsigned char *content = NULL;
	size_t content_len = 0;
	char *error = NULL;

	*sender_r = NULL;
	if (mc_store_postfix_parse(data, size, envelope_only, sender_r, rcpts_r,
				   &content, &content_len, &error) < 0) {
		/* A failure says why and gives nothing. */
		FUZZ_ASSERT(error != NULL && *sender_r == NULL && content == NULL);
		free(error);
		return -1;
	}
	FUZZ_ASSERT(*sender_r != NULL && strlen(*sender_r) <= size && *rcpts_r <= size);
	if (envelope_only) {
		FUZZ_ASSERT(content == NULL);
	} else {
		/* A content record adds its data and at most a newline,
		   and takes at least two bytes more of the file. */
		FUZZ_ASSERT(content != NULL && content_len <= size);
		FUZZ_ASSERT(content[content_len] == '\0');
	}
	free(content);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *sender, *env_sender;
	size_t rcpts, env_rcpts;

	if (parse(data, size, false, &sender, &rcpts) == 0) {
		/* The envelope alone parses, and is the same. */
		FUZZ_ASSERT(parse(data, size, true, &env_sender, &env_rcpts) == 0);
		FUZZ_ASSERT(strcmp(sender, env_sender) == 0 && env_rcpts <= rcpts);
		free(env_sender);
		free(sender);
	}
	if (parse(data, size / 2, true, &env_sender, &env_rcpts) == 0)
		free(env_sender);
	return 0;
}
