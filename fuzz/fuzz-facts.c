/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-facts 1
/* SUMMARY
/*	libFuzzer target for the header parser and the MIME walk
/* DESCRIPTION
/*	Treats the input as a message and asks every question the
/*	query language can ask: headers, addresses (with their names
/*	and raw texts), the date, and the
/*	MIME parts, reading every byte of every part, and the URLs of
/*	the parts. Given-out text must be valid UTF-8; a failed walk,
/*	check or URL collection must say why.
/*
/*	The limits are lowered (100 parts, depth 16) so that inputs
/*	stay fast; the limits themselves are exercised by the unit
/*	tests.
/*
/*	Build: CC=clang meson setup build-fuzz -Dfuzz=true; then
/*	build-fuzz/fuzz/fuzz-facts [corpus-dir].
/*--*/

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "mailcure/mailcure.h"

static void check_text(const char *s)
{
	if (s != NULL && !g_utf8_validate(s, -1, NULL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy without slack, so any read past the end is caught. */
	unsigned char *buf = malloc(size ? size : 1);
	struct mc_msg msg;
	struct mc_limits limits;
	struct mc_facts *facts;
	const char *const *list;
	const struct mc_address *addrs;
	const struct mc_part *parts;
	size_t n;
	const char *why;
	static const char *const headers[] = {
		"From", "To", "Cc", "Subject", "Message-ID", "Content-Type",
	};

	memcpy(buf, data, size);
	memset(&msg, 0, sizeof(msg));
	msg.data = msg.raw = buf;
	msg.size = msg.raw_size = size;
	mc_limits_default(&limits);
	limits.max_mime_parts = 100;
	limits.max_mime_depth = 16;
	limits.max_header_bytes = 16384;
	facts = mc_facts_init(&msg, &limits);

	for (size_t h = 0; h < sizeof(headers) / sizeof(headers[0]); h++) {
		check_text(mc_facts_header(facts, headers[h]));
		n = mc_facts_headers(facts, headers[h], &list);
		for (size_t i = 0; i < n; i++)
			check_text(list[i]);
		n = mc_facts_addresses(facts, headers[h], &addrs);
		for (size_t i = 0; i < n; i++) {
			if (addrs[i].addr == NULL)
				abort();
			check_text(addrs[i].addr);
			check_text(addrs[i].name);
			check_text(addrs[i].raw);
			check_text(addrs[i].display);
		}
	}
	time_t date;
	(void)mc_facts_date(facts, &date);

	/* The structure check first on half the inputs, so both orders
	   (check then walk, walk then check) are exercised. */
	if (size % 2 == 0 && mc_facts_check(facts, &why) != MC_VERDICT_CLEAN &&
	    why == NULL)
		abort();
	why = NULL;
	if (mc_facts_parts(facts, &parts, &n, &why) < 0 && why == NULL)
		abort();
	if (mc_facts_check(facts, &why) != MC_VERDICT_CLEAN && why == NULL)
		abort();
	if (!mc_facts_regular(facts, &why) && why == NULL)
		abort();
	if (n > 0)
		(void)mc_facts_part_md5(facts, n - 1);
	const char *const *urls;
	size_t nurls;
	if (mc_facts_urls(facts, &urls, &nurls, &why) < 0 && why == NULL)
		abort();
	for (size_t i = 0; i < nurls; i++) {
		if (strlen(urls[i]) > 2048)
			abort();
	}
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < parts[i].content_size; k++)
			sum += parts[i].content[k];
		check_text(parts[i].filename);
		check_text(parts[i].text_utf8);
		if (parts[i].content_type == NULL || parts[i].depth > 16)
			abort();
	}
	if (sum == 0xdeadbeef)
		abort();	/* keeps the loop from being optimized away */

	mc_facts_free(&facts);
	free(buf);
	return 0;
}
