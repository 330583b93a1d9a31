/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-ioc-csv 1
/* SUMMARY
/*	libFuzzer target for the CSV indicator reader
/* DESCRIPTION
/*	Reads "type,value,id,event_id,info,to_ids" and then the input
/*	as CSV rows, and the input alone as CSV with its own header;
/*	then matches the set against a message (fuzz-ioc.h).
/*
/*	Build: CC=clang meson setup build-fuzz -Dfuzz=true; then
/*	build-fuzz/fuzz/fuzz-ioc-csv [corpus-dir].
/*--*/

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "fuzz-ioc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char head[] = "type,value,id,event_id,info,to_ids\n";
	char *buf = malloc(sizeof(head) + size);

	/* Not JSON, so it stays CSV. */
	if (size > 0 && (data[0] == '{' || data[0] == '['))
		size = 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	fuzz_ioc_load(buf, size);
	memcpy(buf, head, sizeof(head) - 1);
	memcpy(buf + sizeof(head) - 1, data, size);
	buf[sizeof(head) - 1 + size] = '\0';
	fuzz_ioc_load(buf, sizeof(head) - 1 + size);
	free(buf);
	return 0;
}
