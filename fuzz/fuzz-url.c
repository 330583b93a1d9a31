/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-url 1
/* SUMMARY
/*	libFuzzer target for URL extraction and normalisation
/* DESCRIPTION
/*	Extracts the URLs of the input as text and as HTML, with a
/*	small limit so that the limit is reached too. Every URL found
/*	must be valid UTF-8, at most MC_URL_MAX bytes, have a host, be
/*	its own normal form, and be found only once. The input is also
/*	read as a domain and as an indicator to refang.
/*
/*	Build: CC=clang meson setup build-fuzz -Dfuzz=true; then
/*	build-fuzz/fuzz/fuzz-url [corpus-dir].
/*--*/

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "mailcure/mailcure.h"
#include "internal.h"
#include "fuzz-util.h"

static void check_list(const struct mc_url_list *l)
{
	for (size_t i = 0; i < l->count; i++) {
		const char *u = l->urls[i], *host;
		size_t hlen;

		FUZZ_ASSERT(strlen(u) <= MC_URL_MAX);
		FUZZ_ASSERT(g_utf8_validate(u, -1, NULL));
		FUZZ_ASSERT(mc_url_host(u, &host, &hlen));
		char *again = mc_url_normalize(u, strlen(u));
		/* A URL cut at MC_URL_MAX may end in half an escape. */
		FUZZ_ASSERT(again != NULL);
		FUZZ_ASSERT(strlen(u) == MC_URL_MAX || strcmp(again, u) == 0);
		free(again);
		free(mc_url_unicode(u));
		for (size_t k = 0; k < i; k++)
			FUZZ_ASSERT(strcmp(l->urls[k], u) != 0);
	}
	FUZZ_ASSERT(l->count <= l->max_urls);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy without slack, so any read past the end is caught. */
	char *buf = malloc(size ? size : 1);
	struct mc_url_list l;

	memcpy(buf, data, size);
	for (int html = 0; html < 2; html++) {
		mc_url_list_init(&l, 50);
		mc_url_extract(&l, buf, size, html);
		check_list(&l);
		mc_url_list_deinit(&l);
	}
	free(mc_url_normalize(buf, size));
	free(buf);

	buf = malloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	char *d = mc_domain_normalize(buf);
	if (d != NULL) {
		FUZZ_ASSERT(*d != '\0');
		FUZZ_ASSERT(mc_domain_match(d, strlen(d), d));
	}
	free(d);
	free(mc_ioc_refang(buf));
	free(buf);
	return 0;
}
