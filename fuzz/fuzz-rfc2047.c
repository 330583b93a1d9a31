/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-rfc2047 1
/* SUMMARY
/*	libFuzzer target for the header decoder
/* DESCRIPTION
/*	Decodes the input as a header value (RFC 2047 encoded words,
/*	folding, 8-bit text) and reads a "filename" parameter from it
/*	(quoted, unquoted, RFC 2231 values and continuations, encoded
/*	words inside). Every text returned must be valid UTF-8, and a
/*	parameter, when present, not empty.
/*
/*	Build: CC=clang meson setup build-fuzz -Dfuzz=true; then
/*	build-fuzz/fuzz/fuzz-rfc2047 [corpus-dir].
/*--*/

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "mailcure/mailcure.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy without slack, so any read past the end is caught. */
	char *buf = malloc(size ? size : 1);
	char *text, *param;

	memcpy(buf, data, size);
	text = mc_rfc2047_decode(buf, size);
	if (!g_utf8_validate(text, -1, NULL))
		abort();
	free(text);
	free(buf);

	/* The parameter reader takes a NUL-terminated value. */
	buf = malloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	param = mc_mime_param(buf, "filename");
	if (param != NULL && (*param == '\0' || !g_utf8_validate(param, -1, NULL)))
		abort();
	free(param);
	free(buf);
	return 0;
}
