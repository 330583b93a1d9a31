/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-ioc-misp 1
/* SUMMARY
/*	libFuzzer target for the MISP event reader
/* DESCRIPTION
/*	Reads the input as an indicator file (a MISP event export;
/*	any other JSON or text takes the other readers' paths), then
/*	matches the set against a message with a URL, a sender, a
/*	subject and a part. Every indicator must be counted as loaded
/*	or skipped, and loading must not fail without an error.
/*
/*	Build: CC=clang meson setup build-fuzz -Dfuzz=true; then
/*	build-fuzz/fuzz/fuzz-ioc-misp [corpus-dir].
/*--*/

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "fuzz-ioc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);

	memcpy(buf, data, size);
	buf[size] = '\0';
	fuzz_ioc_load(buf, size);
	free(buf);
	return 0;
}
