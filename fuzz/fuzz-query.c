/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-query 1
/* SUMMARY
/*	libFuzzer target for the query parser and evaluator
/* DESCRIPTION
/*	Feeds arbitrary text to mc_query_parse(). A query that parses
/*	must print as a canonical text that parses to the same text
/*	again, and must evaluate on a fixed message (with a fake engine
/*	whose verdict the input chooses) without crashing.
/*
/*	Inputs holding '@' are skipped: an indicator file name would
/*	make the fuzzer read files of the machine it runs on.
/*
/*	Build: CC=clang meson setup build-fuzz -Dfuzz=true; then
/*	build-fuzz/fuzz/fuzz-query [corpus-dir].
/*--*/

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailcure/mailcure.h"

struct mc_engine {
	enum mc_verdict_kind kind;
};

static void fake_scan(struct mc_engine *e, const void *data, size_t size,
		      struct mc_verdict *v)
{
	(void)data;
	(void)size;
	v->kind = e->kind;
	snprintf(v->name, sizeof(v->name), "Eicar-Test-Signature");
}

static const struct mc_engine_ops fake_ops = {
	.name = "fake",
	.scan_buffer = fake_scan,
};

static const char sample[] =
	"From: \"Billing\" <billing@evil.example>\n"
	"To: alice@example.com, team: bob@example.org;\n"
	"Subject: =?UTF-8?Q?Urgent_invoice?=\n"
	"Date: Tue, 14 May 2024 10:20:30 +0000\n"
	"Message-ID: <1@evil.example>\n"
	"Content-Type: multipart/mixed; boundary=b\n\n"
	"--b\nContent-Type: text/html\n\n<p>pay&nbsp;now</p>\n"
	"--b\nContent-Type: application/octet-stream; name=x.exe\n"
	"Content-Transfer-Encoding: base64\n\naGVsbG8gd29ybGQK\n--b--\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *error = NULL;
	struct mc_query *q;

	if (memchr(data, '@', size) != NULL || size > 65536)
		return 0;
	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	q = mc_query_parse(text, &error);
	if (q == NULL) {
		if (error == NULL)
			abort();	/* a failed parse always says why */
		free(error);
		free(text);
		return 0;
	}

	struct mc_query *again = mc_query_parse(mc_query_text(q), &error);
	if (again == NULL || strcmp(mc_query_text(again), mc_query_text(q)) != 0)
		abort();	/* the canonical text must round-trip */
	mc_query_free(&again);

	struct mc_msg msg;
	struct mc_limits limits;
	struct mc_engine engine = { (enum mc_verdict_kind)(size % 4) };
	struct mc_match match;
	memset(&msg, 0, sizeof(msg));
	msg.data = msg.raw = (const unsigned char *)sample;
	msg.size = msg.raw_size = sizeof(sample) - 1;
	mc_limits_default(&limits);
	struct mc_facts *facts = mc_facts_init(&msg, &limits);
	mc_query_eval(q, &msg, facts, &fake_ops, &engine, &match);
	if (match.matched && match.problem != MC_VERDICT_CLEAN)
		abort();
	for (size_t i = 0; i < match.reason_count; i++) {
		if (mc_reason_kind_name(match.reasons[i].kind) == NULL)
			abort();
	}
	mc_match_clear(&match);
	mc_facts_free(&facts);
	mc_query_free(&q);
	free(text);
	return 0;
}
