/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-facts 1
/* SUMMARY
/*	unit tests of the message facts (lib/facts.c)
/* DESCRIPTION
/*	Pins header unfolding and RFC 2047 decoding, address lists
/*	(groups, comments, encoded names, display names, mangled
/*	headers and addresses as written), Date fields in their
/*	obsolete and broken forms (lib/date.c) and DATE arguments, and
/*	the MIME walk: RFC 2231 file names, transfer encodings with
/*	known hashes, charsets, nested message/rfc822, uuencode, and the
/*	behaviour on hostile input: 5,000 parts and 1,000-deep nesting
/*	stop at the limits with a reason and without a crash (raised
/*	limits walk them completely, iteratively), truncated, empty and
/*	garbage messages never crash. A multipart without its close
/*	delimiter ends at the end of the data and is no reason to be
/*	unscanned.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "mailcure/mailcure.h"

/* A message over a copy of TEXT (no NUL after it, so reads past the
   end are caught by sanitizers). */
struct tmsg {
	struct mc_msg msg;
	unsigned char *buf;
	struct mc_limits limits;
	struct mc_facts *facts;
};

static void tmsg_init_len(struct tmsg *t, const void *text, size_t len)
{
	memset(t, 0, sizeof(*t));
	t->buf = malloc(len > 0 ? len : 1);
	memcpy(t->buf, text, len);
	t->msg.data = t->msg.raw = t->buf;
	t->msg.size = t->msg.raw_size = len;
	t->msg.loc.offset = -1;
	mc_limits_default(&t->limits);
}

static struct mc_facts *tmsg_facts(struct tmsg *t)
{
	if (t->facts == NULL)
		t->facts = mc_facts_init(&t->msg, &t->limits);
	return t->facts;
}

static struct mc_facts *tmsg_init(struct tmsg *t, const char *text)
{
	tmsg_init_len(t, text, strlen(text));
	return tmsg_facts(t);
}

static void tmsg_free(struct tmsg *t)
{
	mc_facts_free(&t->facts);
	assert_null(t->facts);
	free(t->buf);
}

static char *hex(const unsigned char *h, size_t n)
{
	static char out[65];
	mc_hex(h, n, out);
	return out;
}

/* ------------------------------------------------------------------ */

static void test_headers(void **state)
{
	struct tmsg t;
	struct mc_facts *f = tmsg_init(&t,
		"Received: from a\r\n\tby b\r\n"
		"Subject: a folded\r\n   subject line\r\n"
		"X-Two: first\r\n"
		"x-two: second\r\n"
		"X-Empty:\r\n"
		"X-Spaced  : yes\r\n"
		"\r\n"
		"Subject: not a header, the body\r\n");
	const char *const *vals;

	(void)state;
	assert_string_equal(mc_facts_header(f, "subject"), "a folded   subject line");
	assert_string_equal(mc_facts_header(f, "SUBJECT"), "a folded   subject line");
	assert_string_equal(mc_facts_header(f, "Received"), "from a\tby b");
	assert_string_equal(mc_facts_header(f, "X-Two"), "first");
	assert_int_equal(mc_facts_headers(f, "x-two", &vals), 2);
	assert_string_equal(vals[0], "first");
	assert_string_equal(vals[1], "second");
	assert_string_equal(mc_facts_header(f, "X-Empty"), "");
	assert_string_equal(mc_facts_header(f, "X-Spaced"), "yes");
	assert_null(mc_facts_header(f, "X-Missing"));
	assert_int_equal(mc_facts_headers(f, "X-Missing", &vals), 0);
	/* Cached: the same pointer again. */
	assert_ptr_equal(mc_facts_header(f, "Subject"), mc_facts_header(f, "subject"));
	tmsg_free(&t);
}

static void test_rfc2047(void **state)
{
	struct tmsg t;
	struct mc_facts *f = tmsg_init(&t,
		"Subject: =?UTF-8?B?w5xiZXJ3ZWlzdW5n?= =?ISO-8859-1?Q?f=E4llig?=\n"
		"X-Latin: =?iso-8859-1?q?caf=E9?= au lait\n"
		"X-Raw8bit: caf\xc3\xa9\n"
		"X-Folded: =?UTF-8?Q?Rechnung_?=\n =?UTF-8?Q?Nr=2E_1?=\n"
		"X-Padded: =?utf-8?B?SGVsbG8=?=\n =?utf-8?B?IHdvcmxkLmV4ZQ==?=\n"
		"X-Split: =?utf-8?B?R3LD?= =?utf-8?B?vMOfZQ==?=\n"
		"\n");

	(void)state;
	assert_string_equal(mc_facts_header(f, "Subject"), "\xc3\x9c" "berweisungf\xc3\xa4llig");
	assert_string_equal(mc_facts_header(f, "X-Latin"), "caf\xc3\xa9 au lait");
	assert_string_equal(mc_facts_header(f, "X-Raw8bit"), "caf\xc3\xa9");
	assert_string_equal(mc_facts_header(f, "X-Folded"), "Rechnung Nr. 1");
	/* A word after one that ends in base64 padding, a character
	   split across two words. */
	assert_string_equal(mc_facts_header(f, "X-Padded"), "Hello world.exe");
	assert_string_equal(mc_facts_header(f, "X-Split"), "Gr\xc3\xbc\xc3\x9f" "e");
	tmsg_free(&t);
}

static void test_from_line_and_no_headers(void **state)
{
	struct tmsg t;
	struct mc_facts *f = tmsg_init(&t,
		"From sender@example.com Mon Jan  1 00:00:00 2024\n"
		"Subject: after the From_ line\n\nbody\n");
	const struct mc_part *parts;
	size_t n;

	(void)state;
	assert_string_equal(mc_facts_header(f, "Subject"), "after the From_ line");
	assert_int_equal(mc_facts_parts(f, &parts, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(parts[0].content_size, 5);
	assert_memory_equal(parts[0].content, "body\n", 5);
	tmsg_free(&t);

	/* A body without headers: one text/plain part, all of it. */
	f = tmsg_init(&t, "just some text\nand: more\n");
	assert_null(mc_facts_header(f, "and"));
	assert_int_equal(mc_facts_parts(f, &parts, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(parts[0].content_type, "text/plain");
	assert_string_equal(parts[0].text_utf8, "just some text\nand: more\n");
	tmsg_free(&t);
}

static void test_header_limit(void **state)
{
	struct tmsg t;
	GString *s = g_string_new("Subject: first\n");
	struct mc_facts *f;

	(void)state;
	for (int i = 0; i < 200; i++)
		g_string_append_printf(s, "X-Filler-%d: %s\n", i, "0123456789012345678901234567890123456789");
	g_string_append(s, "X-Late: hidden\n\nbody\n");
	tmsg_init_len(&t, s->str, s->len);
	t.limits.max_header_bytes = 1024;
	f = tmsg_facts(&t);
	assert_string_equal(mc_facts_header(f, "Subject"), "first");
	assert_null(mc_facts_header(f, "X-Late"));
	/* The body is still found after the (long) header block. */
	const struct mc_part *parts;
	size_t n;
	assert_int_equal(mc_facts_parts(f, &parts, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(parts[0].text_utf8, "body\n");
	tmsg_free(&t);
	g_string_free(s, TRUE);
}

/* What one mailbox must be: addr, name, raw, display. */
struct want_mailbox {
	const char *addr, *name, *raw, *display;
};

static void assert_str_or_null(const char *got, const char *want)
{
	if (want == NULL)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

/* The mailboxes of HEADER are exactly WANT (N of them). */
static void assert_mailboxes(struct mc_facts *f, const char *header,
			     const struct want_mailbox *want, size_t n)
{
	const struct mc_address *a;

	assert_int_equal(mc_facts_addresses(f, header, &a), n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(a[i].addr, want[i].addr);
		assert_str_or_null(a[i].name, want[i].name);
		assert_str_or_null(a[i].raw, want[i].raw);
		assert_str_or_null(a[i].display, want[i].display);
	}
}

static void test_addresses(void **state)
{
	struct tmsg t;
	struct mc_facts *f = tmsg_init(&t,
		"From: \"Evil, Inc.\" <Boss@Evil.Example>\n"
		"To: Alice <alice@example.com>, bob@example.org (Bob Smith),\n"
		"  team: carol@example.net, Dave <dave@example.net>;\n"
		"To: second@example.com\n"
		"Cc: =?UTF-8?Q?J=C3=BCrgen?= <juergen@example.de>\n"
		"Reply-To: undisclosed-recipients:;\n"
		"Sender: <<<broken@@ mangled@example.com >>\n"
		"\n");
	static const struct want_mailbox from[] = {
		{ "Boss@Evil.Example", "Evil, Inc.", NULL, "Evil, Inc. <Boss@Evil.Example>" },
	};
	static const struct want_mailbox to[] = {
		{ "alice@example.com", "Alice", NULL, "Alice <alice@example.com>" },
		{ "bob@example.org", "Bob Smith", NULL, "Bob Smith <bob@example.org>" },
		{ "carol@example.net", NULL, NULL, NULL },
		{ "dave@example.net", "Dave", NULL, "Dave <dave@example.net>" },
		{ "second@example.com", NULL, NULL, NULL },
	};
	static const struct want_mailbox cc[] = {
		{ "juergen@example.de", "J\xc3\xbcrgen", NULL, "J\xc3\xbcrgen <juergen@example.de>" },
	};
	const struct mc_address *a;

	(void)state;
	assert_mailboxes(f, "From", from, 1);
	assert_mailboxes(f, "to", to, 5);
	assert_mailboxes(f, "Cc", cc, 1);
	assert_mailboxes(f, "Reply-To", NULL, 0);
	assert_mailboxes(f, "Bcc", NULL, 0);

	/* Whatever GMime makes of a mangled header, an address in it is
	   found. */
	size_t n = mc_facts_addresses(f, "Sender", &a);
	bool found = false;
	for (size_t i = 0; i < n; i++)
		if (strstr(a[i].addr, "mangled@example.com") != NULL)
			found = true;
	assert_true(found);
	tmsg_free(&t);

	/* Display names in their real-world forms, and addresses as
	   written where a parser takes less of them. */
	f = tmsg_init(&t,
		"From: \"george kelvin\" <k_v_g20022002@example.fr>\n"
		"To: a@b@c.example, <Undisclosed Recipients@example.com>,\n"
		" Mailer  Daemon, \"Last, First\" (work) <lf@example.com> (ignored),\n"
		" =?utf-8?B?SGVsbG8=?= =?utf-8?B?IHdvcmxk?= <hw@example.com>,\n"
		" <x@example.com> (Old Style), \"q\\\"uoted\" <q@example.com>,\n"
		" Unclosed <u@example.com\n"
		"Cc: \"g. kelvin\" <@route.example:k@example.fr>, group: ;, ,\n"
		"\n");
	static const struct want_mailbox from2[] = {
		{ "k_v_g20022002@example.fr", "george kelvin", NULL,
		  "george kelvin <k_v_g20022002@example.fr>" },
	};
	static const struct want_mailbox to2[] = {
		{ "a@b", NULL, "a@b@c.example", NULL },
		{ "Recipients@example.com", NULL, "Undisclosed Recipients@example.com", NULL },
		{ "", NULL, "Mailer Daemon", NULL },
		{ "lf@example.com", "Last, First (work)", NULL, "Last, First (work) <lf@example.com>" },
		{ "hw@example.com", "Hello world", NULL, "Hello world <hw@example.com>" },
		{ "x@example.com", "Old Style", NULL, "Old Style <x@example.com>" },
		{ "q@example.com", "q\"uoted", NULL, "q\"uoted <q@example.com>" },
		{ "u@example.com", "Unclosed", NULL, "Unclosed <u@example.com>" },
	};
	static const struct want_mailbox cc2[] = {
		{ "k@example.fr", "g. kelvin", "@route.example:k@example.fr", "g. kelvin <k@example.fr>" },
	};
	assert_mailboxes(f, "From", from2, 1);
	assert_mailboxes(f, "To", to2, 8);
	assert_mailboxes(f, "Cc", cc2, 1);
	tmsg_free(&t);
}

/* The Date of a message whose header block is TEXT: *T_R, or false. */
static bool date_of(const char *date, time_t *t_r)
{
	struct tmsg t;
	char *text = g_strdup_printf("Date: %s\n\n", date);
	struct mc_facts *f = tmsg_init(&t, text);
	bool ok = mc_facts_date(f, t_r);

	tmsg_free(&t);
	g_free(text);
	return ok;
}

static void test_date(void **state)
{
	struct tmsg t;
	struct mc_facts *f;
	time_t d;

	(void)state;
	f = tmsg_init(&t, "Date: Tue, 14 May 2024 10:20:30 +0200\n\n");
	/* 2024-05-14T08:20:30Z */
	assert_true(mc_facts_date(f, &d));
	assert_int_equal(d, 1715674830);
	tmsg_free(&t);

	/* Obsolete and odd forms, checked against GMime's parser where
	   that one follows RFC 5322 (it misreads CFWS inside the time
	   and gives military zones RFC 822's wrong offsets). */
	static const struct { const char *date; time_t want; bool as_gmime; } dates[] = {
		{ "Tue, 14 May 2024 10:20:30 +0200 (CEST)", 1715674830, true },
		{ "14 May 2024 08:20:30 GMT", 1715674830, true },
		{ "14 may 24 04:20:30 EDT", 1715674830, true },
		{ "Tue,14 May 2024 08:20 +0000", 1715674800, true },
		{ " (comment) Tue , 14 May 2024 08 : 20 : 30 -0000", 1715674830, false },
		{ "Wed, 1 Jan 1997 00:00:00 +0000", 852076800, true },
		{ "Thu, 29 Feb 2024 23:59:59 -1200", 1709294399, true },
		{ "14 May 2024 08:20:30 A", 1715674830, false },
		/* Two- and three-digit years (RFC 5322 4.3), and a year
		   printed as years since 1900 with four digits. */
		{ "Wed, 18 Sep 0102 10:20:30 +0000", 1032344430, false },
		{ "Wed, 18 Sep 102 10:20:30 +0000", 1032344430, false },
		{ "Sat, 14 Sep 02 10:20:30 +0000", 1031998830, true },
		{ "Sat, 14 Sep 02", 1031961600, true },
		{ "Tue, 14 Sep 99 10:20 -0500", 937322400, true },
		{ "Thu, 14 Sep 50 00:00:00 GMT", -609033600, false },
		{ "Fri, 14 Sep 49 00:00:00 GMT", 2515190400, false },
		/* Before 1970 (GMime's parser reads no year before it). */
		{ "Sun, 01 Aug 1965 12:00:00 +0000", -139406400, false },
		{ "31 Dec 1969 23:59:59 GMT", -1, true },
		{ "1 Jan 1970 00:00:00 +0100", -3600, true },
		/* Zones: a comment after it, names, military, unknown,
		   none. */
		{ "Mon, 14 May 2024 10:20:30 +0000 (GMT)", 1715682030, true },
		{ "Mon, 14 May 2024 10:20:30 EST", 1715700030, true },
		{ "Mon, 14 May 2024 10:20:30 Z", 1715682030, true },
		{ "Mon, 14 May 2024 10:20:30 CEST", 1715682030, false },
		{ "Mon, 14 May 2024 10:20:30", 1715682030, false },
		/* What broken mailers write. */
		{ "14-May-2024 10:20:30 +0200", 1715674830, false },
		{ "Tue May 14 08:20:30 2024", 1715674830, true },
		{ "Tue May 14 08:20:30 EDT 2024", 1715689230, false },
		{ "Tue, May 14 2024 08:20:30 -0400", 1715689230, false },
		{ "May 14 2024 08:20:30", 1715674830, false },
		{ "Tuesday, 14 September 2024 08:20:30 +0000", 1726302030, false },
		{ "2024-05-14 08:20:30", 1715674830, true },
		{ "2024-05-14T08:20:30+02:00", 1715667630, false },
		{ "2024-05-14T08:20:30.123Z", 1715674830, false },
		{ "2024-05-14", 1715644800, false },
	};
	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		if (!date_of(dates[i].date, &d) || d != dates[i].want)
			fail_msg("Date: %s: %lld, not %lld", dates[i].date,
				 (long long)d, (long long)dates[i].want);
		if (dates[i].as_gmime) {
			GDateTime *dt = g_mime_utils_header_decode_date(dates[i].date);
			assert_non_null(dt);
			assert_int_equal(d, (time_t)g_date_time_to_unix(dt));
			g_date_time_unref(dt);
		}
	}

	/* No usable date. */
	static const char *const bad[] = {
		"not a date at all", "", "Thu, 30 Feb 2024 10:00:00 +0000",
		"Wed, 29 Feb 2023 10:00:00 +0000", "Mon, 14 May 2024 24:00:00 +0000",
		"Mon, 14 Foo 2024 10:00:00", "Mon, 14 May 2024 10:00:00 +02x0",
		"Mon, 14 May 10:00:00", "2024-13-01", "1715674830",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (date_of(bad[i], &d))
			fail_msg("Date: %s: read as %lld", bad[i], (long long)d);
	}
	f = tmsg_init(&t, "Subject: no date\n\n");
	assert_false(mc_facts_date(f, &d));
	tmsg_free(&t);
	/* The first Date that reads as one. */
	f = tmsg_init(&t, "Date: garbage\nDate: 1 Jan 1970 00:00:00 +0100\n\n");
	assert_true(mc_facts_date(f, &d));
	assert_int_equal(d, -3600);
	tmsg_free(&t);
}

/* DATE arguments: one parser for since:, before: and quarantine
   purge --before. */
static void test_date_argument(void **state)
{
	time_t t;
	bool has_time;

	(void)state;
	assert_true(mc_date_parse("2024-05-14", &t, &has_time));
	assert_int_equal(t, 1715644800);
	assert_false(has_time);
	assert_true(mc_date_parse("2024-05-14T08:20:30", &t, &has_time));
	assert_int_equal(t, 1715674830);
	assert_true(has_time);
	assert_true(mc_date_parse("2024-05-14 08:20:30Z", &t, &has_time));
	assert_int_equal(t, 1715674830);
	assert_true(mc_date_parse("1965-08-01", &t, &has_time));
	assert_int_equal(t, -139449600);
	assert_true(mc_date_parse("1969-12-31T23:59:59", &t, &has_time));
	assert_int_equal(t, -1);
	assert_true(mc_date_parse("2024-02-29", &t, &has_time));
	static const char *const bad[] = {
		"2026-02-30", "2023-02-29", "2024-04-31", "2024-13-01", "2024-00-10",
		"2024-05-14T24:00:00", "2024-05-14T08:20", "2024-5-14", " 2024-05-14",
		"+024-05-14", "2024-05-14x", "2024-05-14T08:20:30ZZ", "20240514", "",
		"2024-05-14T08:20:30+02:00",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mc_date_parse(bad[i], &t, &has_time))
			fail_msg("DATE %s: read as %lld", bad[i], (long long)t);
	}
}

/* sha256("hello world\n") and md5 */
#define HELLO_SHA256 "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447"
#define HELLO_MD5 "6f5902ac237024bdd0c176cb93063dc4"

static const char multipart_msg[] =
	"From: a@example.com\r\n"
	"Subject: parts\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	"\r\n"
	"preamble, not a part\r\n"
	"--outer\r\n"
	"Content-Type: text/plain; charset=iso-8859-1\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Caf=E9 au lait, soft=\r\n"
	" break\r\n"
	"--outer\r\n"
	"Content-Type: multipart/alternative; boundary=inner\r\n"
	"\r\n"
	"--inner\r\n"
	"Content-Type: TEXT/HTML; charset=utf-8\r\n"
	"\r\n"
	"<p>Hello <b>world</b></p>\r\n"
	"--inner--\r\n"
	"--outer\r\n"
	"Content-Type: application/octet-stream\r\n"
	"Content-Disposition: attachment;\r\n"
	" filename*0*=UTF-8''%E2%82%AC%20rates;\r\n"
	" filename*1=\".exe\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"aGVsbG8g\r\n"
	"d29ybGQK\r\n"
	"--outer\r\n"
	"Content-Type: application/pdf; name=\"=?UTF-8?B?UmVjaG51bmcucGRm?=\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"aGVsbG8gd29ybGQK\r\n"
	"--outer--\r\n"
	"epilogue\r\n";

static void test_multipart(void **state)
{
	struct tmsg t;
	struct mc_facts *f = tmsg_init(&t, multipart_msg);
	const struct mc_part *p;
	size_t n;
	const char *why = "unset";

	(void)state;
	assert_int_equal(mc_facts_parts(f, &p, &n, &why), 0);
	assert_null(why);
	assert_int_equal(n, 4);

	assert_string_equal(p[0].content_type, "text/plain");
	assert_null(p[0].filename);
	assert_int_equal(p[0].depth, 1);
	assert_string_equal(p[0].text_utf8, "Caf\xc3\xa9 au lait, soft break");

	assert_string_equal(p[1].content_type, "text/html");
	assert_int_equal(p[1].depth, 2);
	assert_string_equal(p[1].text_utf8, "<p>Hello <b>world</b></p>");

	assert_string_equal(p[2].content_type, "application/octet-stream");
	assert_string_equal(p[2].filename, "\xe2\x82\xac rates.exe");
	assert_int_equal(p[2].content_size, 12);
	assert_memory_equal(p[2].content, "hello world\n", 12);
	assert_null(p[2].text_utf8);
	assert_string_equal(hex(p[2].sha256, 32), HELLO_SHA256);
	assert_string_equal(hex(mc_facts_part_md5(f, 2), 16), HELLO_MD5);

	assert_string_equal(p[3].filename, "Rechnung.pdf");
	assert_string_equal(hex(p[3].sha256, 32), HELLO_SHA256);

	/* Asking again gives the cached walk. */
	const struct mc_part *p2;
	size_t n2;
	assert_int_equal(mc_facts_parts(f, &p2, &n2, NULL), 0);
	assert_ptr_equal(p, p2);
	assert_int_equal(n, n2);
	tmsg_free(&t);
}

static void test_rfc2231_charset(void **state)
{
	struct tmsg t;
	struct mc_facts *f = tmsg_init(&t,
		"Content-Type: multipart/mixed; boundary=b\n\n"
		"--b\n"
		"Content-Type: application/x-msdownload;\n"
		"\tname*=iso-8859-1'de'R%E4chnung.exe\n"
		"\n"
		"MZ\n"
		"--b\n"
		"Content-Disposition: attachment; filename=\"plain name.zip\"\n"
		"Content-Type: application/zip; name=other.zip\n"
		"\n"
		"PK\n"
		"--b--\n");
	const struct mc_part *p;
	size_t n;

	(void)state;
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(p[0].filename, "R\xc3\xa4" "chnung.exe");
	assert_string_equal(p[0].content_type, "application/x-msdownload");
	/* The disposition's filename wins over the type's name. */
	assert_string_equal(p[1].filename, "plain name.zip");
	tmsg_free(&t);

	/* Encoded words split after base64 padding, in a quoted value,
	   an unquoted one and an RFC 2231 one. */
	f = tmsg_init(&t,
		"Content-Type: multipart/mixed; boundary=b\n\n"
		"--b\n"
		"Content-Type: application/octet-stream\n"
		"Content-Disposition: attachment;\n"
		" filename=\"=?utf-8?B?SGVsbG8=?= =?utf-8?B?IHdvcmxkLmV4ZQ==?=\"\n"
		"\n"
		"MZ\n"
		"--b\n"
		"Content-Type: application/octet-stream;\n"
		" name==?utf-8?B?UmVjaG51bmc=?=\n"
		"\t=?utf-8?B?IE3DpHJ6LmV4ZQ==?=\n"
		"\n"
		"MZ\n"
		"--b\n"
		"Content-Type: application/octet-stream\n"
		"Content-Disposition: attachment;\n"
		" filename*0=\"=?utf-8?B?SGVsbG8=?= \";\n"
		" filename*1=\"=?utf-8?B?IHdvcmxkLmV4ZQ==?=\"\n"
		"\n"
		"MZ\n"
		"--b--\n");
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	assert_int_equal(n, 3);
	assert_string_equal(p[0].filename, "Hello world.exe");
	assert_string_equal(p[1].filename, "Rechnung M\xc3\xa4rz.exe");
	assert_string_equal(p[2].filename, "Hello world.exe");
	tmsg_free(&t);
}

static void test_charsets(void **state)
{
	struct tmsg t;
	struct mc_facts *f;
	static const char latin[] =
		"Content-Type: text/plain; charset=windows-1252\n\n"
		"\x80 5 caf\xe9\n";
	static const char bogus[] =
		"Content-Type: text/plain; charset=x-no-such-charset\n\n"
		"caf\xe9\n";
	static const char nul[] =
		"Content-Type: text/plain\n\nbefore\0after\n";
	const struct mc_part *p;
	size_t n;

	(void)state;
	f = tmsg_init(&t, latin);
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	assert_string_equal(p[0].text_utf8, "\xe2\x82\xac 5 caf\xc3\xa9\n");
	tmsg_free(&t);

	f = tmsg_init(&t, bogus);
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	assert_true(g_utf8_validate(p[0].text_utf8, -1, NULL));
	assert_string_equal(p[0].text_utf8, "caf\xc3\xa9\n");
	tmsg_free(&t);

	/* Many unconvertible bytes: each becomes U+FFFD, three bytes for
	   one, past the first guess of the output size. */
	GString *bad = g_string_new("Content-Type: text/plain; charset=euc-jp\n\n");
	for (int i = 0; i < 300; i++)
		g_string_append_c(bad, (char)0xff);
	tmsg_init_len(&t, bad->str, bad->len);
	f = tmsg_facts(&t);
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	assert_true(g_utf8_validate(p[0].text_utf8, -1, NULL));
	assert_int_equal(strlen(p[0].text_utf8), 900);
	tmsg_free(&t);
	g_string_free(bad, TRUE);

	/* A NUL cannot cut the text short for a search. */
	tmsg_init_len(&t, nul, sizeof(nul) - 1);
	f = tmsg_facts(&t);
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	assert_string_equal(p[0].text_utf8, "before after\n");
	assert_int_equal(p[0].content_size, 13);
	tmsg_free(&t);
}

static void test_nested_message(void **state)
{
	struct tmsg t;
	struct mc_facts *f = tmsg_init(&t,
		"Subject: fwd\n"
		"Content-Type: multipart/mixed; boundary=\"x\"\n\n"
		"--x\n"
		"Content-Type: text/plain\n\nsee attached\n"
		"--x\n"
		"Content-Type: message/rfc822\n"
		"Content-Disposition: attachment; filename=fwd.eml\n\n"
		"Subject: inner\n"
		"Content-Type: multipart/mixed; boundary=\"y\"\n\n"
		"--y\n"
		"Content-Type: text/plain\n\ninner text\n"
		"--y\n"
		"Content-Type: application/octet-stream; name=inner.exe\n"
		"Content-Transfer-Encoding: base64\n\n"
		"aGVsbG8gd29ybGQK\n"
		"--y--\n"
		"--x--\n");
	const struct mc_part *p;
	size_t n;

	(void)state;
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	assert_int_equal(n, 4);
	assert_string_equal(p[0].text_utf8, "see attached");
	assert_int_equal(p[0].depth, 1);
	/* The attached message is a leaf with its own name... */
	assert_string_equal(p[1].content_type, "message/rfc822");
	assert_string_equal(p[1].filename, "fwd.eml");
	assert_int_equal(p[1].depth, 1);
	assert_true(p[1].content_size > 0);
	assert_memory_equal(p[1].content, "Subject: inner\n", 15);
	/* ...and its parts are leaves, deeper. */
	assert_string_equal(p[2].text_utf8, "inner text");
	assert_int_equal(p[2].depth, 3);
	assert_string_equal(p[3].filename, "inner.exe");
	assert_int_equal(p[3].depth, 3);
	assert_string_equal(hex(p[3].sha256, 32), HELLO_SHA256);
	tmsg_free(&t);
}

/* Strict base64 decodes to the bytes GLib decodes, whatever the
   length of the tail and wherever white space falls (inside a quad,
   CRLF, long and short lines). */
static void test_base64_decode(void **state)
{
	(void)state;
	for (size_t len = 0; len < 70; len++) {
		for (int layout = 0; layout < 3; layout++) {
			unsigned char data[70];
			GString *body = g_string_new(NULL);
			char *b64, *text;
			const struct mc_part *p;
			const char *why = NULL;
			struct mc_facts *f;
			struct tmsg t;
			size_t n;

			for (size_t i = 0; i < len; i++)
				data[i] = (unsigned char)(i * 37 + len);
			b64 = g_base64_encode(data, len);
			for (size_t i = 0; b64[i] != '\0'; i++) {
				g_string_append_c(body, b64[i]);
				if (layout == 1 && i % 7 == 6)
					g_string_append(body, " ");
				if (layout == 2 && i % 16 == 15)
					g_string_append(body, "\r\n");
			}
			text = g_strdup_printf("From: a@b\nContent-Type: application/octet-stream\n"
					       "Content-Transfer-Encoding: base64\n\n%s\n", body->str);
			f = tmsg_init(&t, text);
			if (!mc_facts_regular(f, &why))
				fail_msg("%zu bytes, layout %d: irregular (%s)", len, layout, why);
			assert_int_equal(mc_facts_parts(f, &p, &n, &why), 0);
			if (len == 0) {
				assert_true(n == 0 || p[0].content_size == 0);
			} else {
				assert_int_equal(n, 1);
				assert_int_equal(p[0].content_size, len);
				assert_memory_equal(p[0].content, data, len);
			}
			tmsg_free(&t);
			g_free(text);
			g_free(b64);
			g_string_free(body, TRUE);
		}
	}
}

static void test_base64_message_rfc822(void **state)
{
	/* Not allowed by RFC 2046, used by malware: still walked. */
	static const char inner[] =
		"Subject: hidden\nContent-Type: text/plain; name=x.txt\n\nhello world\n";
	char *inner64 = g_base64_encode((const guchar *)inner, strlen(inner));
	char *text = g_strdup_printf(
		"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n%s\n",
		inner64);
	struct tmsg t;
	struct mc_facts *f = tmsg_init(&t, text);
	const struct mc_part *p;
	size_t n;

	(void)state;
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(p[0].content_type, "message/rfc822");
	assert_string_equal(p[1].filename, "x.txt");
	assert_string_equal(hex(p[1].sha256, 32), HELLO_SHA256);
	tmsg_free(&t);
	g_free(inner64);
	g_free(text);
}

static void test_digest(void **state)
{
	struct tmsg t;
	struct mc_facts *f = tmsg_init(&t,
		"Content-Type: multipart/digest; boundary=d\n\n"
		"--d\n\n"
		"Subject: one\n\nfirst\n"
		"--d\n\n"
		"Subject: two\n\nsecond\n"
		"--d--\n");
	const struct mc_part *p;
	size_t n;

	(void)state;
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	assert_int_equal(n, 4);
	assert_string_equal(p[0].content_type, "message/rfc822");
	assert_string_equal(p[1].text_utf8, "first");
	assert_string_equal(p[3].text_utf8, "second");
	tmsg_free(&t);
}

static void test_uuencode(void **state)
{
	struct tmsg t;
	/* "hello world\n" uuencoded */
	struct mc_facts *f = tmsg_init(&t,
		"Subject: old school\n\n"
		"Here is the file:\n\n"
		"begin 644 invoice.exe\n"
		",:&5L;&\\@=V]R;&0*\n"
		"`\n"
		"end\n"
		"bye\n");
	const struct mc_part *p;
	size_t n;

	(void)state;
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(p[0].content_type, "text/plain");
	assert_string_equal(p[1].filename, "invoice.exe");
	assert_int_equal(p[1].content_size, 12);
	assert_string_equal(hex(p[1].sha256, 32), HELLO_SHA256);
	tmsg_free(&t);

	/* Content-Transfer-Encoding: x-uuencode, CRLF lines */
	f = tmsg_init(&t,
		"Content-Type: application/octet-stream\r\n"
		"Content-Transfer-Encoding: x-uuencode\r\n\r\n"
		"begin 600 a.bin\r\n"
		",:&5L;&\\@=V]R;&0*\r\n"
		"`\r\n"
		"end\r\n");
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(p[0].filename, "a.bin");
	assert_string_equal(hex(p[0].sha256, 32), HELLO_SHA256);
	tmsg_free(&t);
}

static void test_uuencode_short_lines(void **state)
{
	/* Length characters that promise more than the line holds, and
	   one-character groups: never more output than input. */
	static const char *const bodies[] = {
		"begin 644 a\nM\n`\nend\n",
		"begin 644 a\nMa\nMab\nMabc\nMabcd\nMabcde\n",
		"begin 644 a\nM&5L;&\223@=V]R;&0*\0\0\0\0r\n",
		"begin 644 a\n",
		"begin 644 a",
		"begin 644 a\nMa",	/* ends the data: no slack after it */
		"begin 644 a\n\0\0",
	};
	struct tmsg t;

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		char *text = g_strdup_printf("Subject: uu\n\ntext\n%s", bodies[i]);
		struct mc_facts *f = tmsg_init(&t, text);	/* copied without NUL */
		const struct mc_part *p;
		size_t n;
		assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
		for (size_t k = 0; k < n; k++)
			assert_true(p[k].content_size <= strlen(text));
		tmsg_free(&t);
		g_free(text);
	}
}

static GString *many_parts(unsigned count)
{
	GString *s = g_string_new("Content-Type: multipart/mixed; boundary=\"B\"\n\n");

	for (unsigned i = 0; i < count; i++)
		g_string_append_printf(s, "--B\nContent-Type: text/plain; name=p%u.txt\n\npart %u\n", i, i);
	g_string_append(s, "--B--\n");
	return s;
}

static void test_part_limit(void **state)
{
	GString *s = many_parts(5000);
	struct tmsg t;
	struct mc_facts *f;
	const struct mc_part *p;
	size_t n;
	const char *why = NULL;

	(void)state;
	tmsg_init_len(&t, s->str, s->len);
	f = tmsg_facts(&t);
	assert_int_equal(mc_facts_parts(f, &p, &n, &why), -1);
	assert_non_null(why);
	assert_string_equal(why, "MIME part limit (1000) reached");
	tmsg_free(&t);

	/* Raised: all 5,000 in one linear pass. */
	tmsg_init_len(&t, s->str, s->len);
	t.limits.max_mime_parts = 10000;
	f = tmsg_facts(&t);
	double t0 = mc_now();
	assert_int_equal(mc_facts_parts(f, &p, &n, &why), 0);
	assert_int_equal(n, 5000);
	assert_string_equal(p[4999].filename, "p4999.txt");
	assert_string_equal(p[4999].text_utf8, "part 4999");
	assert_true(mc_now() - t0 < 5.0);
	tmsg_free(&t);
	g_string_free(s, TRUE);
}

static GString *deep_messages(unsigned depth)
{
	GString *s = g_string_new("");

	for (unsigned i = 0; i < depth; i++)
		g_string_append(s, "Subject: level\nContent-Type: message/rfc822\n\n");
	g_string_append(s, "Subject: bottom\nContent-Type: text/plain; name=deep.txt\n\nhello world\n");
	return s;
}

static GString *deep_multiparts(unsigned depth)
{
	GString *s = g_string_new("");

	for (unsigned i = 0; i < depth; i++)
		g_string_append_printf(s, "Content-Type: multipart/mixed; boundary=\"b%u\"\n\n--b%u\n", i, i);
	g_string_append(s, "Content-Type: text/plain; name=deep.txt\n\nhello world\n");
	for (unsigned i = depth; i-- > 0;)
		g_string_append_printf(s, "--b%u--\n", i);
	return s;
}

static void test_depth_limit(void **state)
{
	GString *s = deep_messages(1000);
	struct tmsg t;
	struct mc_facts *f;
	const struct mc_part *p;
	size_t n;
	const char *why = NULL;

	(void)state;
	tmsg_init_len(&t, s->str, s->len);
	f = tmsg_facts(&t);
	assert_int_equal(mc_facts_parts(f, &p, &n, &why), -1);
	assert_string_equal(why, "MIME nesting depth limit (64) reached");
	/* The parts above the limit are there. */
	assert_true(n > 0);
	tmsg_free(&t);

	/* Raised limits: walked to the bottom without recursion. */
	tmsg_init_len(&t, s->str, s->len);
	t.limits.max_mime_depth = 5000;
	t.limits.max_mime_parts = 5000;
	f = tmsg_facts(&t);
	assert_int_equal(mc_facts_parts(f, &p, &n, &why), 0);
	assert_int_equal(n, 1001);
	assert_string_equal(p[n - 1].filename, "deep.txt");
	assert_int_equal(p[n - 1].depth, 1000);
	assert_string_equal(hex(p[n - 1].sha256, 32), HELLO_SHA256);
	tmsg_free(&t);
	g_string_free(s, TRUE);

	s = deep_multiparts(1000);
	tmsg_init_len(&t, s->str, s->len);
	f = tmsg_facts(&t);
	assert_int_equal(mc_facts_parts(f, &p, &n, &why), -1);
	assert_string_equal(why, "MIME nesting depth limit (64) reached");
	tmsg_free(&t);

	tmsg_init_len(&t, s->str, s->len);
	t.limits.max_mime_depth = 5000;
	f = tmsg_facts(&t);
	assert_int_equal(mc_facts_parts(f, &p, &n, &why), 0);
	assert_int_equal(n, 1);
	assert_string_equal(p[0].filename, "deep.txt");
	assert_int_equal(p[0].depth, 1000);
	tmsg_free(&t);
	g_string_free(s, TRUE);
}

static void test_truncated(void **state)
{
	struct tmsg t;
	struct mc_facts *f;
	const struct mc_part *p;
	size_t n;

	(void)state;
	/* No close delimiter, base64 cut in the middle. */
	f = tmsg_init(&t,
		"Content-Type: multipart/mixed; boundary=z\n\n"
		"--z\nContent-Type: text/plain\n\nfirst\n"
		"--z\nContent-Type: application/octet-stream; name=cut.bin\n"
		"Content-Transfer-Encoding: base64\n\naGVsbG8gd29y");
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(p[0].text_utf8, "first");
	assert_string_equal(p[1].filename, "cut.bin");
	assert_memory_equal(p[1].content, "hello wor", 9);
	tmsg_free(&t);

	/* Cut inside the header block. */
	f = tmsg_init(&t, "Subject: cut\nContent-Type: multipart/mixed; bound");
	assert_string_equal(mc_facts_header(f, "Subject"), "cut");
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	tmsg_free(&t);

	/* Multipart without a boundary parameter, or without delimiters:
	   one text leaf, searchable. */
	f = tmsg_init(&t, "Content-Type: multipart/mixed\n\nno boundary here\n");
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(p[0].text_utf8, "no boundary here\n");
	tmsg_free(&t);

	f = tmsg_init(&t, "Content-Type: multipart/mixed; boundary=q\n\n--qx\nnot a delimiter\n");
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(p[0].content_type, "text/plain");
	tmsg_free(&t);

	/* A bad Content-Type is text/plain. */
	f = tmsg_init(&t, "Content-Type: ;;;\n\ntext\n");
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	assert_string_equal(p[0].content_type, "text/plain");
	tmsg_free(&t);
}

static void test_empty_and_garbage(void **state)
{
	struct tmsg t;
	struct mc_facts *f;
	const struct mc_part *p;
	size_t n;
	const struct mc_address *v;

	(void)state;
	tmsg_init_len(&t, "", 0);
	f = tmsg_facts(&t);
	assert_null(mc_facts_header(f, "Subject"));
	assert_int_equal(mc_facts_addresses(f, "From", &v), 0);
	time_t d;
	assert_false(mc_facts_date(f, &d));
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	assert_int_equal(n, 0);
	tmsg_free(&t);

	/* NULL data (a message the store could not read) */
	memset(&t, 0, sizeof(t));
	mc_limits_default(&t.limits);
	f = tmsg_facts(&t);
	assert_null(mc_facts_header(f, "Subject"));
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	mc_facts_free(&t.facts);

	/* Pseudo-random binary garbage, with and without a MIME header. */
	GRand *r = g_rand_new_with_seed(42);
	for (int round = 0; round < 200; round++) {
		size_t len = (size_t)g_rand_int_range(r, 0, 4096);
		unsigned char *buf = malloc(len + 200);
		size_t off = 0;
		if (round % 2 == 0) {
			const char *h = "Content-Type: multipart/mixed; boundary=a\n\n--a\n";
			off = strlen(h);
			memcpy(buf, h, off);
		}
		for (size_t i = 0; i < len; i++) {
			guint32 x = g_rand_int(r);
			/* Bias towards the bytes that matter to the parser. */
			static const char interesting[] = "\n\r-:; =\"\t?";
			buf[off + i] = (x & 3) == 0 ? (unsigned char)interesting[(x >> 8) % 10]
				: (unsigned char)(x >> 16);
		}
		tmsg_init_len(&t, buf, off + len);
		f = tmsg_facts(&t);
		(void)mc_facts_header(f, "Subject");
		(void)mc_facts_addresses(f, "From", &v);
		(void)mc_facts_date(f, &d);
		if (mc_facts_parts(f, &p, &n, NULL) == 0) {
			for (size_t i = 0; i < n; i++) {
				if (p[i].text_utf8 != NULL)
					assert_true(g_utf8_validate(p[i].text_utf8, -1, NULL));
			}
		}
		tmsg_free(&t);
		free(buf);
	}
	g_rand_free(r);
}

static void test_check(void **state)
{
	struct tmsg t;
	struct mc_facts *f;
	const char *why;
	const struct mc_part *p;
	size_t n;

	(void)state;
	tmsg_init_len(&t, "", 0);
	f = tmsg_facts(&t);
	assert_int_equal(mc_facts_check(f, &why), MC_VERDICT_ERROR);
	assert_string_equal(why, "empty message");
	tmsg_free(&t);

	f = tmsg_init(&t, "\x7f" "ELF binary, not mail\n");
	assert_int_equal(mc_facts_check(f, &why), MC_VERDICT_ERROR);
	assert_non_null(strstr(why, "not a mail message"));
	tmsg_free(&t);

	/* Whole and small: clean; the parts are still all there after. */
	f = tmsg_init(&t, multipart_msg);
	assert_int_equal(mc_facts_check(f, &why), MC_VERDICT_CLEAN);
	assert_null(why);
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	assert_int_equal(n, 4);
	assert_string_equal(hex(p[2].sha256, 32), HELLO_SHA256);
	tmsg_free(&t);

	/* After a full walk too. */
	f = tmsg_init(&t, multipart_msg);
	assert_int_equal(mc_facts_parts(f, &p, &n, NULL), 0);
	assert_int_equal(mc_facts_check(f, &why), MC_VERDICT_CLEAN);
	tmsg_free(&t);

	/* A multipart without its close delimiter: nothing is left
	   unread, so it is no reason to be unscanned. */
	f = tmsg_init(&t, "Content-Type: multipart/mixed; boundary=z\n\n"
		      "--z\nContent-Type: text/plain\n\ncut here");
	assert_int_equal(mc_facts_check(f, &why), MC_VERDICT_CLEAN);
	assert_null(why);
	tmsg_free(&t);

	/* Over a MIME limit: unscanned, with the limit named. */
	GString *s = many_parts(1500);
	tmsg_init_len(&t, s->str, s->len);
	f = tmsg_facts(&t);
	assert_int_equal(mc_facts_check(f, &why), MC_VERDICT_UNSCANNED);
	assert_string_equal(why, "MIME part limit (1000) reached");
	assert_int_equal(mc_facts_parts(f, &p, &n, &why), -1);
	assert_int_equal(n, 1000);
	tmsg_free(&t);
	g_string_free(s, TRUE);

	s = deep_messages(100);
	tmsg_init_len(&t, s->str, s->len);
	f = tmsg_facts(&t);
	assert_int_equal(mc_facts_check(f, &why), MC_VERDICT_UNSCANNED);
	assert_string_equal(why, "MIME nesting depth limit (64) reached");
	tmsg_free(&t);
	g_string_free(s, TRUE);
}

/* A multipart whose close delimiter is missing ends at the end of
   the data: its last part is there, decoded and searchable, with or
   without a final line break, and the message is whole
   (mc_facts_check), before and after the full walk, but irregular:
   the engine scans it whole. */
static void test_unclosed(void **state)
{
	static const char *const texts[] = {
		/* The last part is text. */
		"From: a@b\nContent-Type: multipart/alternative; boundary=\"B\"\n\n"
		"--B\nContent-Type: text/plain\n\nfirst part\n"
		"--B\nContent-Type: text/html\n\n<p>last <b>words</b></p>\n",
		/* No line break at the end. */
		"From: a@b\nContent-Type: multipart/alternative; boundary=\"B\"\n\n"
		"--B\nContent-Type: text/plain\n\nfirst part\n"
		"--B\nContent-Type: text/html\n\n<p>last <b>words</b></p>",
		/* The inner multipart unclosed, the outer closed. */
		"From: a@b\nContent-Type: multipart/mixed; boundary=\"O\"\n\n"
		"--O\nContent-Type: multipart/alternative; boundary=\"B\"\n\n"
		"--B\nContent-Type: text/plain\n\nfirst part\n"
		"--B\nContent-Type: text/html\n\n<p>last <b>words</b></p>\n"
		"--O--\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		for (int walked = 0; walked < 2; walked++) {
			struct tmsg t;
			struct mc_facts *f = tmsg_init(&t, texts[i]);
			const struct mc_part *p;
			const char *why = NULL;
			size_t n;

			if (walked)
				assert_int_equal(mc_facts_parts(f, &p, &n, &why), 0);
			assert_int_equal(mc_facts_check(f, &why), MC_VERDICT_CLEAN);
			assert_null(why);
			assert_int_equal(mc_facts_parts(f, &p, &n, &why), 0);
			assert_null(why);
			assert_int_equal(n, 2);
			assert_string_equal(p[0].text_utf8, "first part");
			assert_string_equal(p[1].content_type, "text/html");
			/* With the last line break, when there is one. */
			assert_true(g_str_has_prefix(p[1].text_utf8, "<p>last <b>words</b></p>"));
			assert_false(mc_facts_regular(f, &why));
			assert_non_null(strstr(why, "closing"));
			tmsg_free(&t);
		}
	}
}

/* Which messages the part scanner may scan part by part. */
static void test_regular(void **state)
{
	static const struct {
		const char *text;
		const char *why;	/* NULL: regular; else a word of the reason */
	} cases[] = {
		{ "From: a@b\nSubject: plain\n\nhello\n", NULL },
		{ "From: a@b\nContent-Type: multipart/mixed; boundary=x\n\npre\n--x\n"
		  "Content-Type: text/plain\n\nhi\n--x\nContent-Transfer-Encoding: base64\n\n"
		  "aGVsbG8gd29ybGQK\n--x--\n", NULL },
		{ "From: a@b\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n", NULL },
		{ "From: a@b\nContent-Transfer-Encoding: base64\n\naGVs!bG8=\n", "base64" },
		{ "From: a@b\nContent-Transfer-Encoding: base64\n\naGVsbG8=aGVs\n", "base64" },
		{ "From: a@b\nContent-Transfer-Encoding: base64\n\naGVsbG8\n", "base64" },
		{ "From: a@b\nContent-Transfer-Encoding: base64\n\naGVsbA==\n", NULL },
		{ "From: a@b\nContent-Transfer-Encoding: base64\n\naGVsbA=\n", "base64" },
		{ "From: a@b\nContent-Transfer-Encoding: base64\n\naGVsbA===\n", "base64" },
		{ "From: a@b\nContent-Transfer-Encoding: base64\n\naA==aGVs\n", "base64" },
		{ "From: a@b\nContent-Transfer-Encoding: quoted-printable\n\na=3Db=\nc\n", NULL },
		{ "From: a@b\nContent-Transfer-Encoding: quoted-printable\n\na=ZZb\n", "quoted-printable" },
		{ "From: a@b\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 a\n`\nend\n", "encoding" },
		{ "From: a@b\nContent-Transfer-Encoding: 7bit\n\nbegin 644 a.exe\n#86)C\n`\nend\n", "uuencoded" },
		{ "From: a@b\n\n(This file must be converted with BinHex 4.0)\n:abc\n", "BinHex" },
		{ "From: a@b\n\n=ybegin line=128 size=3 name=a\nabc\n=yend\n", "yEnc" },
		{ "From: a@b\n\nbounced:\n\nContent-Type: application/zip\n\nUEsDBA==\n", "MIME header" },
		{ "From: a@b\nContent-Type: multipart/mixed; boundary=x\n\n"
		  "Content-Transfer-Encoding: base64\n--x\n\nhi\n--x--\n", "MIME header" },
		{ "From: a@b\nContent-Type: multipart/mixed; boundary=x\n\n--x\n"
		  "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
		  "RnJvbTogYUBiCgpoaQo=\n--x--\n", "attached message" },
		{ "From: a@b\nContent-Type: multipart/mixed; boundary=x\n\n--x\n"
		  "Content-Type: message/rfc822\n\nFrom: c@d\n\ninner\n--x--\n", NULL },
		{ "From: a@b\nContent-Type: message/partial; id=1\n\nx\n", "message/" },
		{ "From: a@b\nContent-Type: multipart/mixed; boundary=x\n\n--x\n\nno end\n", "closing" },
		{ "From: a@b\nContent-Type: multipart/mixed; boundary=x\n\nno delimiter\n", "delimiters" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tmsg t;
		struct mc_facts *f = tmsg_init(&t, cases[i].text);
		const char *why = NULL;
		bool regular = mc_facts_regular(f, &why);

		if (cases[i].why == NULL) {
			if (!regular)
				fail_msg("case %zu: irregular (%s)", i, why);
		} else {
			if (regular)
				fail_msg("case %zu: regular, expected %s", i, cases[i].why);
			if (strstr(why, cases[i].why) == NULL)
				fail_msg("case %zu: reason '%s', expected '%s'", i, why, cases[i].why);
		}
		tmsg_free(&t);
	}
}

/* More parts than libclamav's mail parser keeps: irregular, though
   within mailcure's own part limit. */
static void test_regular_many_parts(void **state)
{
	GString *s = g_string_new("From: a@b\nContent-Type: multipart/mixed; boundary=x\n\n");
	struct tmsg t;
	const char *why;

	for (int i = 0; i < 600; i++)
		g_string_append_printf(s, "--x\n\npart %d\n", i);
	g_string_append(s, "--x--\n");
	tmsg_init_len(&t, s->str, s->len);
	assert_false(mc_facts_regular(tmsg_facts(&t), &why));
	assert_non_null(strstr(why, "parts"));
	tmsg_free(&t);
	g_string_free(s, TRUE);
}

/* Strict base64 decodes to the original bytes, whatever its length
   (each padding case) and line breaks. */
static void test_base64_strict(void **state)
{
	unsigned char data[300];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 37 + 11);
	for (size_t len = 0; len < sizeof(data); len += 7) {
		gchar *b64 = g_base64_encode(data, len);
		GString *m = g_string_new("From: a@b\nContent-Type: application/octet-stream\n"
					  "Content-Transfer-Encoding: base64\n\n");
		for (size_t k = 0; b64[k] != '\0'; k++) {
			g_string_append_c(m, b64[k]);
			if (k % 76 == 75)
				g_string_append(m, len % 2 ? "\r\n" : "\n");
		}
		g_string_append(m, "\n");
		struct tmsg t;
		const struct mc_part *parts;
		size_t n;
		const char *why;

		tmsg_init_len(&t, m->str, m->len);
		assert_int_equal(mc_facts_parts(tmsg_facts(&t), &parts, &n, &why), 0);
		assert_int_equal(n, 1);
		assert_int_equal(parts[0].content_size, len);
		if (len > 0)
			assert_memory_equal(parts[0].content, data, len);
		assert_true(mc_facts_regular(t.facts, &why));
		tmsg_free(&t);
		g_string_free(m, TRUE);
		g_free(b64);
	}
}

/* URLs come from every text part after its transfer decoding (a
   quoted-printable soft break inside a URL, base64 HTML with an
   entity and an IDN host), from an HTML attachment sent as
   application/octet-stream, and from an attached message; a PDF is
   not looked into. */
static const char urls_msg[] =
	"From: a@example.com\n"
	"Subject: links\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\n"
	"\n"
	"--b1\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"Content-Transfer-Encoding: quoted-printable\n"
	"\n"
	"Go to http://track.example/c?u=3Dhttps%3A%2F%2Fland.evil.=\n"
	"example%2F now\n"
	"--b1\n"
	"Content-Type: text/html; charset=utf-8\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"PHA+UGF5IDxhIGhyZWY9Imh0dHBzJiM1ODsvL0LDvGNoZXIuZXhhbXBsZS9wYXk/aWQ9MSZhbXA7eD0yIj5oZXJlPC9hPjwvcD4=\n"
	"--b1\n"
	"Content-Type: application/octet-stream; name=\"invoice.html\"\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"PGZvcm0gYWN0aW9uPSJodHRwOi8vbG9naW4uZXZpbC5leGFtcGxlL3Bvc3QiPg==\n"
	"--b1\n"
	"Content-Type: application/pdf; name=\"x.pdf\"\n"
	"\n"
	"http://pdf.example/\n"
	"--b1\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"Subject: inner\n"
	"\n"
	"inner www.inner.example/x\n"
	"--b1--\n";

static void test_urls(void **state)
{
	struct tmsg t;
	struct mc_facts *f;
	const char *const *urls;
	const char *why;
	size_t n;
	static const char *const want[] = {
		"http://track.example/c?u=https%3A%2F%2Fland.evil.example%2F",
		"https://land.evil.example/",
		"https://xn--bcher-kva.example/pay?id=1&x=2",
		"http://login.evil.example/post",
		"http://www.inner.example/x",
	};

	(void)state;
	f = tmsg_init(&t, urls_msg);
	assert_int_equal(mc_facts_urls(f, &urls, &n, &why), 0);
	assert_null(why);
	for (size_t i = 0; i < n && i < 5; i++)
		assert_string_equal(urls[i], want[i]);
	assert_int_equal(n, 5);
	tmsg_free(&t);

	/* Past the limit: what was found, and why not all. */
	tmsg_init_len(&t, urls_msg, strlen(urls_msg));
	t.limits.max_urls = 2;
	f = tmsg_facts(&t);
	assert_int_equal(mc_facts_urls(f, &urls, &n, &why), -1);
	assert_string_equal(why, "URL limit (2) reached");
	assert_int_equal(n, 2);
	tmsg_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_base64_decode),
		cmocka_unit_test(test_rfc2047),
		cmocka_unit_test(test_from_line_and_no_headers),
		cmocka_unit_test(test_header_limit),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_date_argument),
		cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_rfc2231_charset),
		cmocka_unit_test(test_charsets),
		cmocka_unit_test(test_nested_message),
		cmocka_unit_test(test_base64_message_rfc822),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_uuencode),
		cmocka_unit_test(test_uuencode_short_lines),
		cmocka_unit_test(test_part_limit),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_unclosed),
		cmocka_unit_test(test_empty_and_garbage),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_regular),
		cmocka_unit_test(test_regular_many_parts),
		cmocka_unit_test(test_base64_strict),
	};

	g_mime_init();	/* the date test calls GMime directly */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
