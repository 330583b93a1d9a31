/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-config 1
/* SUMMARY
/*	fuzz target for the settings file parser
/* DESCRIPTION
/*	Parses the input as a settings file (lib/config.c) with the
/*	names of mailcure.conf. An error names the file and a line of
/*	it. What is accepted holds only known names, each once, with a
/*	value that is not empty, starts and ends with no blank and holds
/*	no control character but the tab, in increasing line order; and
/*	written back one "name = value" line each it parses to the same
/*	settings.
/*
/*	Seed inputs: fuzz/corpus/config/.
/*--*/

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailcure/mailcure.h"
#include "mailcure/config.h"
#include "fuzz-util.h"

static const char *const names[] = {
	"database", "jobs", "quarantine", "state_dir", "tempdir", "scan", "cache",
	"cache_size", "max_message_size", "max_mime_parts", "max_mime_depth",
	"max_scan_time", "progress", "dovecot_config", "isolate_allow",
	"isolate_ports", "postfix_config", NULL,
};

static void check_entry(const struct mc_config *c, size_t i)
{
	const struct mc_config_entry *e = &c->entries[i];
	size_t len = strlen(e->value);
	bool known = false;

	for (size_t k = 0; names[k] != NULL; k++)
		known |= strcmp(names[k], e->name) == 0;
	FUZZ_ASSERT(known);
	FUZZ_ASSERT(mc_config_get(c, e->name) == e);
	FUZZ_ASSERT(len > 0);
	FUZZ_ASSERT(e->value[0] != ' ' && e->value[0] != '\t');
	FUZZ_ASSERT(e->value[len - 1] != ' ' && e->value[len - 1] != '\t');
	for (size_t k = 0; k < len; k++)
		FUZZ_ASSERT((unsigned char)e->value[k] >= 0x20 || e->value[k] == '\t');
	FUZZ_ASSERT(i == 0 || e->line > c->entries[i - 1].line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mc_config *c = NULL, *again = NULL;
	char *error = NULL, *text = NULL;
	size_t text_len = 0;
	FILE *fp;

	if (mc_config_parse("f.conf", (const char *)data, size, names, &c, &error) < 0) {
		FUZZ_ASSERT(c == NULL && error != NULL);
		FUZZ_ASSERT(strncmp(error, "f.conf:", 7) == 0);
		free(error);
		return 0;
	}
	fp = open_memstream(&text, &text_len);
	FUZZ_ASSERT(fp != NULL);
	for (size_t i = 0; i < c->count; i++) {
		check_entry(c, i);
		fprintf(fp, "%s = %s\n", c->entries[i].name, c->entries[i].value);
	}
	FUZZ_ASSERT(fclose(fp) == 0);
	FUZZ_ASSERT(mc_config_parse("f.conf", text, text_len, names, &again, &error) == 0);
	FUZZ_ASSERT(again->count == c->count);
	for (size_t i = 0; i < c->count; i++) {
		FUZZ_ASSERT(strcmp(again->entries[i].name, c->entries[i].name) == 0);
		FUZZ_ASSERT(strcmp(again->entries[i].value, c->entries[i].value) == 0);
	}
	mc_config_free(&again);
	mc_config_free(&c);
	free(text);
	return 0;
}
