/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-ioc-stix 1
/* SUMMARY
/*	libFuzzer target for STIX 2.1 bundles and patterns
/* DESCRIPTION
/*	Puts the input, as a JSON string, as the pattern of an
/*	indicator in a bundle, and reads that; then reads the input
/*	itself as an indicator file. Both are matched against a
/*	message (fuzz-ioc.h).
/*
/*	Build: CC=clang meson setup build-fuzz -Dfuzz=true; then
/*	build-fuzz/fuzz/fuzz-ioc-stix [corpus-dir].
/*--*/

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "fuzz-util.h"
#include "fuzz-ioc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	json_object *bundle = json_object_new_object(), *objs = json_object_new_array();
	json_object *ind = json_object_new_object();

	memcpy(buf, data, size);
	buf[size] = '\0';
	json_object_object_add(bundle, "type", json_object_new_string("bundle"));
	json_object_object_add(ind, "type", json_object_new_string("indicator"));
	json_object_object_add(ind, "id", json_object_new_string("indicator--1"));
	json_object_object_add(ind, "pattern", json_object_new_string_len(buf, (int)size));
	json_object_array_add(objs, ind);
	json_object_object_add(bundle, "objects", objs);
	const char *text = json_object_to_json_string_ext(bundle, JSON_C_TO_STRING_PLAIN);
	fuzz_ioc_load(text, strlen(text));
	json_object_put(bundle);
	fuzz_ioc_load(buf, size);
	free(buf);
	return 0;
}
