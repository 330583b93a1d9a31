/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-notify 1
/* SUMMARY
/*	fuzz target for notification templates and digests
/* DESCRIPTION
/*	Parses the input as a digest template (lib/notify.c): an error
/*	names the file and a line of it. Then renders a digest whose
/*	items' subject, sender, date, detection and mailbox are pieces
/*	of the input (split at NUL bytes), with the template when it was
/*	accepted and with the built-in one: the headers are only
/*	mailcure's, ASCII, at most 78 characters a line; the body is
/*	quoted-printable, ASCII, at most 76 characters a line, and no
/*	line starts with "." or "From ". Whatever the mail holds, it
/*	adds no header and breaks no line.
/*
/*	Seed inputs: fuzz/corpus/notify/.
/*--*/

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailcure/mailcure.h"
#include "mailcure/notify.h"
#include "fuzz-util.h"

static void check_message(const char *msg, size_t len)
{
	static const char *const names[] = {
		"From: ", "To: ", "Subject: ", " =?UTF-8?B?", "Date: ", "Message-ID: <",
		"Auto-Submitted: auto-generated\n", "MIME-Version: 1.0\n",
		"Content-Type: text/plain; charset=UTF-8\n",
		"Content-Transfer-Encoding: quoted-printable\n",
	};
	const char *body = strstr(msg, "\n\n"), *p;
	bool in_body = false;

	FUZZ_ASSERT(strlen(msg) == len && body != NULL);
	for (p = msg; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		bool known = false;

		FUZZ_ASSERT(nl != NULL);
		for (const char *c = p; c < nl; c++)
			FUZZ_ASSERT((*c >= 0x20 && *c < 0x7f) || *c == '\t');
		if (!in_body) {
			FUZZ_ASSERT(nl - p <= 78);
			for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
				known |= strncmp(p, names[i], strlen(names[i])) == 0;
			FUZZ_ASSERT(known);
		} else {
			FUZZ_ASSERT(nl - p <= 76 && *p != '.' && *p != 'F');
		}
		if (nl == body)
			in_body = true, nl++;
		p = nl + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mc_notify n = { .from = "postmaster", .host = "mx.example.org",
			       .now = 1796000000 };
	struct mc_notify_template *t = NULL, *builtin = NULL;
	struct mc_notify_item it = { .owner = "alice@example.org" };
	const struct mc_notify_item *items[] = { &it, &it };
	const char **fields[] = { &it.subject, &it.from, &it.date, &it.reason,
				  &it.mailbox, &it.restore };
	char *text = malloc(size + 1), *error = NULL, *msg;
	size_t pos = 0, len;

	memcpy(text, data, size);
	text[size] = '\0';
	if (mc_notify_template_parse("f.tmpl", text, size, &t, &error) < 0) {
		FUZZ_ASSERT(t == NULL && error != NULL);
		FUZZ_ASSERT(strncmp(error, "f.tmpl:", 7) == 0);
		free(error);
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]) && pos <= size; i++) {
		*fields[i] = text + pos;
		pos += strlen(text + pos) + 1;
	}
	FUZZ_ASSERT(mc_notify_template_load(NULL, false, &builtin, &error) == 0);
	FUZZ_ASSERT(mc_notify_render(&n, builtin, "alice", items, 2, &msg, &len,
				     &error) == 0);
	check_message(msg, len);
	free(msg);
	if (t != NULL) {
		FUZZ_ASSERT(mc_notify_render(&n, t, "alice", items, 2, &msg, &len,
					     &error) == 0);
		check_message(msg, len);
		free(msg);
	}
	mc_notify_template_free(&builtin);
	mc_notify_template_free(&t);
	free(text);
	return 0;
}
