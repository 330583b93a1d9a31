/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-notify 1
/* SUMMARY
/*	unit tests of the notification digests (lib/notify.c)
/* DESCRIPTION
/*	Plain addresses are told from everything sendmail or a header
/*	could read otherwise. Templates: placeholders, the item section,
/*	and every malformed template an error naming the file and line.
/*	Rendering: the headers are mailcure's own, ASCII, lines of at
/*	most 78 characters, the Subject RFC 2047 encoded when not ASCII;
/*	the body quoted-printable UTF-8; subjects, senders and detection
/*	names that try to add headers (CR, LF), send terminal escapes or
/*	bidirectional overrides, carry invalid UTF-8 or are very long
/*	come out escaped and cut, in the body only. Sending: through a
/*	fake sendmail that keeps its arguments and standard input, one
/*	digest per owner and one to the administrator; an owner that is
/*	no plain address and a sendmail that fails are errors while the
/*	other digests still go.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mailcure/mailcure.h"
#include "mailcure/notify.h"
#include "fixture.h"

static void test_addresses(void **state)
{
	static const char *const good[] = {
		"alice", "alice@example.org", "a.b+tag=x-y_z@mail.example-1.org",
		"postmaster@localhost", "A1@B2",
	};
	static const char *const bad[] = {
		"", "-oQ/tmp", "-f@x", ".a@x", "a.@x", "a..b@x", "a@", "a@.x", "a@x.",
		"a@-x", "a@x-", "a@x..y", "a b@x", "a@x y", "\"a\"@x", "a|b", "|cmd",
		"/etc/passwd", "a/b@x", "a@b@c", "<a@b>", "a@b\n", "a\r\nBcc: b@c",
		"ä@x", "a@ä", "a,b@x", "a;b", "a@[127.0.0.1]",
	};
	char long_local[80], long_all[300];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(mc_notify_address_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (mc_notify_address_valid(bad[i]))
			fail_msg("accepted: %s", bad[i]);
	memset(long_local, 'a', 65);
	strcpy(long_local + 65, "@x");
	assert_false(mc_notify_address_valid(long_local));
	memset(long_all, 'b', sizeof(long_all));
	memcpy(long_all, "a@", 2);
	for (size_t i = 10; i < sizeof(long_all) - 1; i += 10)
		long_all[i] = '.';
	long_all[sizeof(long_all) - 1] = '\0';
	assert_false(mc_notify_address_valid(long_all));
}

static void template_fails(const char *text, const char *want)
{
	struct mc_notify_template *t = NULL;
	char *error = NULL;

	assert_int_equal(mc_notify_template_parse("t.tmpl", text, strlen(text), &t,
						  &error), -1);
	assert_null(t);
	assert_non_null(error);
	assert_string_equal(error, want);
	free(error);
}

static void test_template_errors(void **state)
{
	struct mc_notify_template *t = NULL;
	char *error = NULL;

	template_fails("Hello\n\nbody\n", "t.tmpl:1: the template must start with a "
		       "Subject: line");
	template_fails("Subject: x\nFrom: evil@x\n\nbody\n", "t.tmpl:2: only Subject: "
		       "may be set; an empty line must follow it");
	template_fails("Subject: x", "t.tmpl:2: only Subject: may be set; an empty "
		       "line must follow it");
	template_fails("Subject: ${subject}\n\n", "t.tmpl:1: ${subject} is only known "
		       "between ${items} and ${end}");
	template_fails("Subject: x\n\n${count} ${nope}\n", "t.tmpl:3: unknown "
		       "placeholder ${nope}");
	template_fails("Subject: x\n\n\n${items}\n${from\n${end}\n", "t.tmpl:5: '${' "
		       "without '}'");
	template_fails("Subject: x\n\n${items}\n${items}\n", "t.tmpl:4: a second "
		       "${items}");
	template_fails("Subject: x\n\n${items}\nx\n${end}\n${items}\n${end}\n",
		       "t.tmpl:6: a second ${items}");
	template_fails("Subject: x\n\n${end}\n", "t.tmpl:3: ${end} without ${items}");
	template_fails("Subject: x\n\nA\n${items}\nB\n", "t.tmpl:4: ${items} without "
		       "${end}");
	template_fails("Subject: x\n\nline\r\n", "t.tmpl:3: control character");
	template_fails("Subject: x\033[2J\n\n", "t.tmpl:1: control character");
	template_fails("Subject: x\n\n\xff\n", "t.tmpl:3: not UTF-8");
	template_fails("Subject: x\n\n${from}\n", "t.tmpl:3: ${from} is only known "
		       "between ${items} and ${end}");
	template_fails("Subject: x\n\n${\033}\n", "t.tmpl:3: control character");

	/* '$' alone, tabs and an empty body are fine. */
	assert_int_equal(mc_notify_template_parse("t.tmpl", "subject: $5\n\n\tcost $3 {x}\n",
						  25, &t, &error), 0);
	mc_notify_template_free(&t);
	assert_null(t);
	assert_int_equal(mc_notify_template_parse("t.tmpl", "Subject: x\n\n", 12, &t,
						  &error), 0);
	mc_notify_template_free(&t);
	/* The built-in ones are valid. */
	assert_int_equal(mc_notify_template_load(NULL, false, &t, &error), 0);
	mc_notify_template_free(&t);
	assert_int_equal(mc_notify_template_load(NULL, true, &t, &error), 0);
	mc_notify_template_free(&t);
}

/* The quoted-printable body TEXT decoded (soft breaks joined). */
static char *qp_decode(const char *text)
{
	char *out = malloc(strlen(text) + 1), *o = out;

	for (const char *p = text; *p != '\0'; p++) {
		unsigned v;

		if (*p != '=') {
			*o++ = *p;
		} else if (p[1] == '\n') {
			p++;
		} else {
			assert_int_equal(sscanf(p + 1, "%2X", &v), 1);
			*o++ = (char)v;
			p += 2;
		}
	}
	*o = '\0';
	return out;
}

/* MSG's headers are mailcure's, ASCII, short lines; returns the body
   decoded. */
static char *check_message(const char *msg, size_t len)
{
	static const char *const names[] = {
		"From: ", "To: ", "Subject: ", " =?UTF-8?B?", "Date: ", "Message-ID: <",
		"Auto-Submitted: auto-generated", "MIME-Version: 1.0",
		"Content-Type: text/plain; charset=UTF-8",
		"Content-Transfer-Encoding: quoted-printable",
	};
	const char *p = msg, *body;

	assert_int_equal(strlen(msg), len);
	body = strstr(msg, "\n\n");
	assert_non_null(body);
	while (p < body + 1) {
		const char *nl = strchr(p, '\n');
		bool known = false;

		assert_true(nl - p <= 78);
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			known |= strncmp(p, names[i], strlen(names[i])) == 0;
		if (!known)
			fail_msg("header line: %.*s", (int)(nl - p), p);
		p = nl + 1;
	}
	for (p = msg; *p != '\0'; p++)
		assert_true((unsigned char)*p < 0x7f &&
			    ((unsigned char)*p >= 0x20 || *p == '\n' || *p == '\t'));
	for (p = body + 2; *p != '\0';) {
		const char *nl = strchr(p, '\n');

		assert_non_null(nl);
		assert_true(nl - p <= 76);
		assert_true(*p != '.' && *p != 'F');
		p = nl + 1;
	}
	return qp_decode(body + 2);
}

static const struct mc_notify base = {
	.sendmail = "/bin/false", .from = "postmaster@example.org", .users = true,
	.host = "mx.example.org", .now = 1796000000,
};

static void test_render(void **state)
{
	struct mc_notify_item it[2] = {
		{ .owner = "alice@example.org", .mailbox = "maildir:/home/alice/Maildir INBOX",
		  .subject = "Invoice\r\nBcc: victim@example.net\r\n\r\n<html>",
		  .from = "\"Bank\" <x@evil.example>\033]0;pwned\007",
		  .date = "Mon, 30 Nov 2026 10:00:00 +0000",
		  .reason = "Win.Trojan.Agent-1\xe2\x80\xae" "exe.pdf",
		  .action = "quarantined", .quarantine_id = "20261130T100000Z-abc-1",
		  .run = "20261130T100000Z-abc",
		  .restore = "mailcure quarantine restore 20261130T100000Z-abc-1" },
		{ .owner = "alice@example.org", .subject = "Gr\xc3\xbc\xc3\x9f" "e \xff\xfe",
		  .action = "reported" },
	};
	const struct mc_notify_item *items[2] = { &it[0], &it[1] };
	struct mc_notify_template *t = NULL;
	static const char german[] =
		"Subject: Nachricht f\xc3\xbcr ${recipient}: ${count} entfernt, "
		"\xe2\x80\x94 bitte lesen Sie diese Nachricht sorgf\xc3\xa4ltig\n\n"
		"${items}\n[${subject}] $x ${count}\n${end}\nEnde\n";
	static const char long_ascii[] = "Subject: ${recipient} "
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n\n";
	char *msg = NULL, *body, *error = NULL, long_subject[2000];
	size_t len;

	assert_int_equal(mc_notify_template_load(NULL, false, &t, &error), 0);
	assert_int_equal(mc_notify_render(&base, t, "alice@example.org", items, 2, &msg,
					  &len, &error), 0);
	body = check_message(msg, len);
	assert_non_null(strstr(msg, "From: postmaster@example.org\nTo: alice@example.org\n"
			       "Subject: 2 dangerous message(s) taken out of your mailbox\n"
			       "Date: Mon, 30 Nov 2026 00:53:20 +0000\nMessage-ID: <"));
	assert_non_null(strstr(body, "* Subject: Invoice\\x0d\\x0aBcc: victim@example.net"
			       "\\x0d\\x0a\\x0d\\x0a<html>\n"));
	assert_non_null(strstr(body, "  From:    \"Bank\" <x@evil.example>\\x1b]0;pwned"
			       "\\x07\n"));
	assert_non_null(strstr(body, "Win.Trojan.Agent-1\\xe2\\x80\\xaeexe.pdf\n"));
	assert_non_null(strstr(body, "(reference 20261130T100000Z-abc-1)"));
	assert_non_null(strstr(body, "* Subject: Gr\xc3\xbc\xc3\x9f" "e \\xff\\xfe\n"
			       "  From:    -\n"));
	assert_non_null(strstr(body, "checked the mail already delivered to\n"
			       "alice@example.org again"));
	assert_non_null(strstr(body, "mx.example.org"));
	free(body);
	free(msg);
	mc_notify_template_free(&t);

	/* A long value is cut; the subject of the digest is encoded. */
	memset(long_subject, 'x', sizeof(long_subject) - 1);
	long_subject[sizeof(long_subject) - 1] = '\0';
	it[0].subject = long_subject;
	assert_int_equal(mc_notify_template_parse("t.tmpl", german, strlen(german), &t,
						  &error), 0);
	assert_int_equal(mc_notify_render(&base, t, "bob", items, 1, &msg, &len, &error), 0);
	body = check_message(msg, len);
	assert_non_null(strstr(msg, "\nSubject: =?UTF-8?B?"));
	assert_non_null(strstr(msg, "?=\n =?UTF-8?B?"));
	memset(long_subject + 300, '\0', 1);
	assert_true(strstr(body, long_subject) != NULL);
	assert_non_null(strstr(body, "xxx...] $x 1\nEnde\n"));
	free(body);
	free(msg);

	/* A long ASCII subject is folded as encoded words too. */
	mc_notify_template_free(&t);
	assert_int_equal(mc_notify_template_parse("t.tmpl", long_ascii, strlen(long_ascii),
						  &t, &error), 0);
	assert_int_equal(mc_notify_render(&base, t, "bob", items, 1, &msg, &len, &error), 0);
	body = check_message(msg, len);
	assert_non_null(strstr(msg, "\nSubject: =?UTF-8?B?Ym9iIHh4eH"));
	free(body);
	free(msg);

	/* Recipients and senders are plain addresses only. */
	assert_int_equal(mc_notify_render(&base, t, "a@b\nBcc: c@d", items, 1, &msg, &len,
					  &error), -1);
	assert_string_equal(error, "a@b\\x0aBcc: c@d: no plain mail address to notify");
	free(error);
	error = NULL;
	struct mc_notify bad_from = base;
	bad_from.from = "-t";
	assert_int_equal(mc_notify_render(&bad_from, t, "bob", items, 1, &msg, &len,
					  &error), -1);
	assert_non_null(strstr(error, "sender"));
	free(error);
	mc_notify_template_free(&t);
}

static char *tmp;

static void write_file(const char *name, const char *text, mode_t mode)
{
	char *path;

	assert_true(asprintf(&path, "%s/%s", tmp, name) > 0);
	assert_int_equal(mc_fixture_write_file(path, text, mode), 0);
	free(path);
}

static char *read_file(const char *name)
{
	char *path, *text = NULL;
	size_t len = 0;
	FILE *fp;

	assert_true(asprintf(&path, "%s/%s", tmp, name) > 0);
	fp = fopen(path, "r");
	free(path);
	if (fp == NULL)
		return NULL;
	assert_true(getdelim(&text, &len, '\0', fp) >= 0);
	fclose(fp);
	return text;
}

/* What sendmail run N got: its argument vector, one a line. */
static void assert_argv(unsigned n, const char *want)
{
	char name[32], *got;

	snprintf(name, sizeof(name), "argv.%u", n);
	got = read_file(name);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static char *message(unsigned n)
{
	char name[32], *msg, *body;

	snprintf(name, sizeof(name), "msg.%u", n);
	msg = read_file(name);
	assert_non_null(msg);
	body = check_message(msg, strlen(msg));
	free(msg);
	return body;
}

static void test_send(void **state)
{
	static const char fake[] =
		"#!/bin/sh\n"
		"# A sendmail that keeps what it gets: argv.N and msg.N.\n"
		"dir=${0%/*}\n"
		"n=$(ls \"$dir\" | grep -c '^msg\\.')\n"
		"n=$((n + 1))\n"
		"for a in \"$0\" \"$@\"; do printf '%s\\n' \"$a\"; done >\"$dir/argv.$n\"\n"
		"cat >\"$dir/msg.$n\"\n"
		"case \"$*\" in *fail@*) echo 'fail@x: unknown user' >&2; exit 67;; esac\n"
		"exit 0\n";
	struct mc_notify_item it[] = {
		{ .owner = "alice@example.org", .subject = "one", .action = "quarantined" },
		{ .owner = "bob", .subject = "two", .action = "moved to Junk" },
		{ .owner = "-oQ/tmp/x", .subject = "three", .action = "quarantined" },
		{ .owner = NULL, .subject = "four", .action = "reported" },
		{ .owner = "alice@example.org", .subject = "five", .action = "reported" },
		{ .owner = "fail@example.org", .subject = "six", .action = "quarantined" },
	};
	struct mc_notify n = base;
	char *sendmail, *error = NULL, *body, *want;
	unsigned sent = 99;

	tmp = mc_fixture_tmpdir("notify");
	assert_non_null(tmp);
	write_file("sendmail", fake, 0755);
	assert_true(asprintf(&sendmail, "%s/sendmail", tmp) > 0);
	n.sendmail = sendmail;
	n.admin = "hostmaster@example.org";

	/* Off: nothing is sent. */
	n.users = false;
	n.admin = NULL;
	assert_int_equal(mc_notify_send(&n, it, 6, &sent, &error), 0);
	assert_int_equal(sent, 0);
	assert_null(read_file("msg.1"));

	n.users = true;
	n.admin = "hostmaster@example.org";
	assert_int_equal(mc_notify_send(&n, it, 6, &sent, &error), -1);
	assert_string_equal(error, "2 of 5 notification(s) not sent; first: -oQ/tmp/x: "
			    "no plain mail address to notify");
	free(error);
	error = NULL;
	assert_int_equal(sent, 3);

	/* By owner (sorted), each digest with all of its owner's items. */
	assert_true(asprintf(&want, "%s\n-i\n-f\npostmaster@example.org\n--\n"
			     "alice@example.org\n", sendmail) > 0);
	assert_argv(1, want);
	free(want);
	body = message(1);
	assert_non_null(strstr(body, "2 message(s)"));
	assert_non_null(strstr(body, "Subject: one\n"));
	assert_non_null(strstr(body, "Subject: five\n"));
	assert_null(strstr(body, "two"));
	free(body);
	assert_true(asprintf(&want, "%s\n-i\n-f\npostmaster@example.org\n--\nbob\n",
			     sendmail) > 0);
	assert_argv(2, want);
	free(want);
	body = message(2);
	assert_non_null(strstr(body, "Subject: two\n"));
	assert_non_null(strstr(body, "moved to Junk"));
	free(body);
	body = message(3);	/* fail@: taken, then refused */
	free(body);
	/* The administrator's: everything, owners named. */
	body = message(4);
	for (unsigned i = 0; i < 6; i++) {
		char line[64];

		snprintf(line, sizeof(line), "  Subject: %s\n", it[i].subject);
		assert_non_null(strstr(body, line));
	}
	assert_non_null(strstr(body, "* -oQ/tmp/x: -\n"));
	assert_non_null(strstr(body, "6 message(s)"));
	free(body);
	assert_null(read_file("msg.5"));

	/* A failing sendmail is quoted. */
	n.users = false;
	n.admin = "fail@example.org";
	assert_int_equal(mc_notify_send(&n, it, 1, &sent, &error), -1);
	assert_string_equal(error, "1 of 1 notification(s) not sent; first: notifying "
			    "fail@example.org: sendmail exited with status 67: fail@x: "
			    "unknown user");
	free(error);
	error = NULL;
	n.sendmail = "/nonexistent/sendmail";
	n.admin = "root";
	assert_int_equal(mc_notify_send(&n, it, 1, &sent, &error), -1);
	assert_non_null(strstr(error, "notifying root: "));
	assert_int_equal(sent, 0);
	free(error);

	mc_fixture_rm_rf(tmp);
	free(tmp);
	free(sendmail);
}

/* A template file is trusted as the settings file is. */
static void test_template_file(void **state)
{
	struct mc_notify_template *t = NULL;
	char *path, *error = NULL, *big;

	tmp = mc_fixture_tmpdir("notify-file");
	assert_non_null(tmp);
	assert_true(asprintf(&path, "%s/user.tmpl", tmp) > 0);
	write_file("user.tmpl", "Subject: ${count}\n\n${items}\n${subject}\n${end}\n", 0644);
	assert_int_equal(mc_notify_template_load(path, false, &t, &error), 0);
	mc_notify_template_free(&t);
	write_file("user.tmpl", "Subject: ${count}\n\n${items}\n${subject}\n", 0644);
	assert_int_equal(mc_notify_template_load(path, false, &t, &error), -1);
	assert_non_null(strstr(error, "/user.tmpl:3: ${items} without ${end}"));
	free(error);
	error = NULL;
	write_file("user.tmpl", "Subject: x\n\n", 0664);
	assert_int_equal(mc_notify_template_load(path, false, &t, &error), -1);
	assert_non_null(strstr(error, "refused"));
	free(error);
	error = NULL;
	big = malloc(70000);
	memset(big, 'x', 69999);
	big[69999] = '\0';
	memcpy(big, "Subject: x\n\n", 12);
	write_file("user.tmpl", big, 0600);
	assert_int_equal(mc_notify_template_load(path, false, &t, &error), -1);
	assert_null(t);
	free(error);
	free(big);
	free(path);
	mc_fixture_rm_rf(tmp);
	free(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_template_errors),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_send),
		cmocka_unit_test(test_template_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
