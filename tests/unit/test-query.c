/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-query 1
/* SUMMARY
/*	unit tests of the query language (lib/query*.c)
/* DESCRIPTION
/*	Pins the parser (every term, precedence: NOT binds tightest,
/*	then AND, also implicit, then OR, so "a or b c" is "a or (b and
/*	c)"), the canonical query text, error messages with positions,
/*	indicator files, three-valued evaluation with engine laziness
/*	(a fake engine counts its scans), problems (engine and MIME
/*	limits), reasons, and attachment: terms decided without the MIME
/*	walk only when no encoded name can hide.
/*--*/

#include <fnmatch.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "mailcure/mailcure.h"

/* ------------------------------------------------------------------ */
/* A fake detection engine                                            */
/* ------------------------------------------------------------------ */

struct mc_engine {
	unsigned calls;
	enum mc_verdict_kind kind;
	const char *name;
};

static void fake_scan(struct mc_engine *e, const void *data, size_t size,
		      struct mc_verdict *v)
{
	(void)data;
	(void)size;
	e->calls++;
	v->kind = e->kind;
	snprintf(v->name, sizeof(v->name), "%s", e->name != NULL ? e->name : "");
}

static const struct mc_engine_ops fake_ops = {
	.name = "fake",
	.scan_buffer = fake_scan,
};

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

static const char sample[] =
	"From: \"Accounts Dept\" <billing@evil.example>\n"
	"To: alice@example.com, Bob <bob@example.org>\n"
	"Cc: carol@example.net\n"
	"Subject: =?UTF-8?Q?Urgent_invoice_=C3=BCberf=C3=A4llig?=\n"
	"Message-ID: <1234.ABCD@mx.evil.example>\n"
	"Date: Tue, 14 May 2024 10:20:30 +0000\n"
	"X-Mailer: EvilMailer 2.0\n"
	"Content-Type: multipart/mixed; boundary=\"b\"\n"
	"\n"
	"--b\n"
	"Content-Type: text/html; charset=utf-8\n"
	"\n"
	"<p>Please <b>pay</b>&nbsp;now</p><a href=\"http://evil.example/pay\">x</a>\n"
	"--b\n"
	"Content-Type: application/octet-stream\n"
	"Content-Disposition: attachment; filename=\"invoice.pdf.exe.\"\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"aGVsbG8gd29ybGQK\n"
	"--b--\n";

#define HELLO_SHA256 "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447"
#define HELLO_MD5 "6f5902ac237024bdd0c176cb93063dc4"

struct run {
	struct mc_msg msg;
	struct mc_limits limits;
	struct mc_facts *facts;
	struct mc_engine engine;
	struct mc_match match;
};

static void run_init(struct run *r, const char *text, enum mc_verdict_kind kind,
		     const char *name)
{
	memset(r, 0, sizeof(*r));
	r->msg.data = r->msg.raw = (const unsigned char *)text;
	r->msg.size = r->msg.raw_size = strlen(text);
	r->msg.loc.offset = -1;
	mc_limits_default(&r->limits);
	r->engine.kind = kind;
	r->engine.name = name;
}

/* Evaluate QUERY on R's message with a fresh facts object. */
static void run_eval(struct run *r, const char *query)
{
	char *error = NULL;
	struct mc_query *q = mc_query_parse(query, &error);

	if (q == NULL)
		fail_msg("parse '%s': %s", query, error);
	mc_match_clear(&r->match);
	mc_facts_free(&r->facts);
	r->facts = mc_facts_init(&r->msg, &r->limits);
	r->engine.calls = 0;
	mc_query_eval(q, &r->msg, r->facts, &fake_ops, &r->engine, &r->match);
	mc_query_free(&q);
	assert_null(q);
}

static void run_free(struct run *r)
{
	mc_match_clear(&r->match);
	mc_facts_free(&r->facts);
}

static bool matches(const char *query)
{
	struct run r;
	bool m;

	run_init(&r, sample, MC_VERDICT_CLEAN, "");
	run_eval(&r, query);
	m = r.match.matched;
	assert_int_equal(r.match.problem, MC_VERDICT_CLEAN);
	run_free(&r);
	return m;
}

static char *parse_error(const char *query)
{
	char *error = NULL;
	struct mc_query *q = mc_query_parse(query, &error);

	if (q != NULL)
		fail_msg("'%s' parsed as '%s'", query, mc_query_text(q));
	assert_non_null(error);
	return error;
}

static void assert_text(const char *query, const char *canonical)
{
	char *error = NULL;
	struct mc_query *q = mc_query_parse(query, &error);

	if (q == NULL)
		fail_msg("parse '%s': %s", query, error);
	assert_string_equal(mc_query_text(q), canonical);
	/* The canonical text parses to itself. */
	struct mc_query *q2 = mc_query_parse(mc_query_text(q), &error);
	assert_non_null(q2);
	assert_string_equal(mc_query_text(q2), canonical);
	mc_query_free(&q2);
	mc_query_free(&q);
}

static void assert_error(const char *query, const char *expected)
{
	char *error = parse_error(query);

	assert_string_equal(error, expected);
	free(error);
}

/* ------------------------------------------------------------------ */
/* Parser                                                             */
/* ------------------------------------------------------------------ */

static void test_default_query(void **state)
{
	struct mc_query *q;
	char *error = NULL;

	(void)state;
	q = mc_query_parse(NULL, &error);
	assert_string_equal(mc_query_text(q), "virus");
	assert_true(mc_query_needs_engine(q));
	mc_query_free(&q);
	q = mc_query_parse("", &error);
	assert_string_equal(mc_query_text(q), "virus");
	mc_query_free(&q);
	q = mc_query_parse("  \t ", &error);
	assert_string_equal(mc_query_text(q), "virus");
	mc_query_free(&q);
	assert_null(error);
	mc_query_free(&q);	/* NULL is fine */
}

static void test_terms(void **state)
{
	(void)state;
	assert_text("VIRUS", "virus");
	assert_text("Virus:Eicar*", "virus:Eicar*");
	assert_text("FROM:*@Evil.Example", "from:*@Evil.Example");
	assert_text("to:alice", "to:alice");
	assert_text("cc:carol", "cc:carol");
	assert_text("subject:\"urgent   invoice\"", "subject:\"urgent   invoice\"");
	assert_text("Subject:invoice", "subject:invoice");
	assert_text("header:X-Mailer:EvilMailer", "header:X-Mailer:EvilMailer");
	assert_text("header:X-Mailer:\"Evil Mailer\"", "header:\"X-Mailer:Evil Mailer\"");
	assert_text("header:X-Spam-Flag", "header:X-Spam-Flag");
	assert_text("message-id:1234.abcd", "message-id:1234.abcd");
	assert_text("body:\"pay now\"", "body:\"pay now\"");
	assert_text("attachment:*.exe", "attachment:*.exe");
	assert_text("sha256:" HELLO_SHA256, "sha256:" HELLO_SHA256);
	assert_text("MD5:6F5902AC237024BDD0C176CB93063DC4", "md5:" HELLO_MD5);
	assert_text("size>10M", "size>10M");
	assert_text("size<1024", "size<1k");
	assert_text("size>=1536", "size>=1536");
	assert_text("size<=2g", "size<=2G");
	assert_text("size=0", "size=0");
	assert_text("size:>5kB", "size>5k");
	assert_text("since:2024-05-01", "since:2024-05-01");
	assert_text("before:2024-05-01T10:00:00Z", "before:2024-05-01T10:00:00");
	assert_text("since:1965-08-01", "since:1965-08-01");
	assert_text("before:0999-12-31T23:59:59", "before:0999-12-31T23:59:59");
	assert_text("DATE:None", "date:none");
	assert_text("all", "all");
	assert_text("subject:a\\b", "subject:\"a\\\\b\"");
	assert_text("subject:\"say \\\"hi\\\"\"", "subject:\"say \\\"hi\\\"\"");
	/* Quoted operator words are terms' values, not operators. */
	assert_text("subject:\"or\"", "subject:or");
	/* url: values are refanged, and a URL without glob characters
	   put in its normal form; domain: values are domains in ASCII. */
	assert_text("url:*evil.example/*", "url:*evil.example/*");
	assert_text("url:hxxp://Evil[.]Example:80", "url:http://evil.example/");
	assert_text("domain:Evil[.]Example.", "domain:evil.example");
	assert_text("domain:*.b\xc3\xbc" "cher.example", "domain:xn--bcher-kva.example");
}

static void test_precedence(void **state)
{
	(void)state;
	/* AND binds tighter than OR; NOT tightest; "and" is optional. */
	assert_text("from:a or from:b from:c", "from:a or from:b from:c");
	assert_text("from:a or (from:b from:c)", "from:a or from:b from:c");
	assert_text("(from:a or from:b) from:c", "(from:a or from:b) from:c");
	assert_text("from:a AND from:b", "from:a from:b");
	assert_text("not from:a from:b", "not from:a from:b");
	assert_text("not (from:a from:b)", "not (from:a from:b)");
	assert_text("NOT not from:a", "not not from:a");
	assert_text("((from:a))", "from:a");
	assert_text("from:a or (from:b or from:c)", "from:a or from:b or from:c");
	assert_text("virus or(all)", "virus or all");
	assert_text("(from:a)(from:b)", "from:a from:b");

	/* The same, by evaluation on the sample (from: billing@evil). */
	assert_true(matches("from:evil or from:nobody from:nothing"));
	assert_false(matches("(from:evil or from:nobody) from:nothing"));
	assert_false(matches("not from:evil from:evil"));
	assert_true(matches("not (from:nobody from:evil)"));
	assert_true(matches("from:nobody or not from:nothing"));
}

static void test_errors(void **state)
{
	char *e;

	(void)state;
	assert_error("frm:x", "query: unknown key 'frm' at position 1 (frm:x)");
	assert_error("from:a frm:x", "query: unknown key 'frm' at position 8 (frm:x)");
	assert_error("all foo", "query: unknown term 'foo' at position 5 (foo)");
	assert_error("domain:http://x.example/",
		     "query: a domain: value is a domain name, as in domain:evil.example "
		     "at position 1 (domain:http://x.example/)");
	assert_error("url:http://", "query: a url: value is a URL or a glob, as in "
		     "url:*evil.example/* at position 1 (url:http://)");
	assert_error("from:a foo", "query: unknown term 'foo' at position 8 (foo); "
		     "a value with spaces needs quotes, as in 'subject:\"two words\"'");
	assert_error("(from:a all", "query: missing ')' at position 12 (for '(' at position 1)");
	assert_error("from:a)", "query: unexpected ')' at position 7 ())");
	assert_error(")", "query: unexpected ')' at position 1 ())");
	assert_error("()", "query: empty parentheses at position 1 (()");
	assert_error("from:a or", "query: missing term after 'or' at position 8");
	assert_error("or from:a", "query: 'or' without a term before it at position 1 (or)");
	assert_error("from:a or or from:b", "query: missing term after 'or' at position 8");
	assert_error("from:a and", "query: missing term after 'and' at position 8");
	assert_error("not", "query: missing term after 'not' at position 1");
	assert_error("from:a (not)", "query: missing term after 'not' at position 9");
	assert_error("subject:\"open", "query: unterminated quote at position 9 (subject:\"open)");
	assert_error("from:", "query: empty value for 'from' at position 1 (from:)");
	assert_error("from", "query: 'from' needs a value, as in from:VALUE at position 1 (from)");
	assert_error("all:x", "query: 'all' takes no value at position 1 (all:x)");
	assert_error("size>ten", "query: bad size 'ten' (a number with an optional k, M or G suffix) at position 1 (size>ten)");
	assert_error("size>99999999999999999999", "query: bad size '99999999999999999999' (a number with an optional k, M or G suffix) at position 1 (size>99999999999999999999)");
	assert_error("size:5", "query: size needs a comparison, as in size>10M at position 1 (size:5)");
	assert_error("since:2024-13-01", "query: bad date '2024-13-01' (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, UTC) at position 1 (since:2024-13-01)");
	assert_error("before:2023-02-29", "query: bad date '2023-02-29' (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, UTC) at position 1 (before:2023-02-29)");
	assert_error("since:2026-02-30", "query: bad date '2026-02-30' (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, UTC) at position 1 (since:2026-02-30)");
	assert_error("date:2024-05-01", "query: date: takes 'none' (a message without a usable Date); "
		     "since: and before: compare dates at position 1 (date:2024-05-01)");
	assert_error("date", "query: 'date' needs a value, as in date:VALUE at position 1 (date)");
	assert_error("sha256:abc", "query: a sha256 is 64 hexadecimal digits at position 1 (sha256:abc)");
	assert_error("md5:" HELLO_SHA256, "query: a md5 is 32 hexadecimal digits at position 1 (md5:" HELLO_SHA256 ")");
	assert_error("header::x", "query: header needs a field name, as in header:NAME:TEXT at position 1 (header::x)");
	assert_error("@", "query: '@' needs a file name, as in @FILE at position 1 (@)");
	assert_error("@/nonexistent/x.txt",
		     "query: cannot read indicator file '/nonexistent/x.txt': No such file or directory");
	/* Positions count characters, not bytes. */
	assert_error("subject:\xc3\xbc\xc3\xbc frm:x", "query: unknown key 'frm' at position 12 (frm:x)");

	/* Nesting is bounded; deep input is an error, not a crash. */
	GString *deep = g_string_new("");
	for (int i = 0; i < 100000; i++)
		g_string_append_c(deep, '(');
	e = parse_error(deep->str);
	assert_non_null(strstr(e, "nested too deeply"));
	free(e);
	g_string_truncate(deep, 0);
	for (int i = 0; i < 100000; i++)
		g_string_append(deep, "not ");
	g_string_append(deep, "all");
	e = parse_error(deep->str);
	assert_non_null(strstr(e, "nested too deeply"));
	free(e);
	g_string_free(deep, TRUE);

	/* error_r may be NULL */
	assert_null(mc_query_parse("frm:x", NULL));
}

static char *write_file(const char *text)
{
	char *path = g_strdup_printf("%s/mc-test-query-XXXXXX", g_get_tmp_dir());
	int fd = g_mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_indicator_file(void **state)
{
	char *path = write_file(
		"# indicators from the incident report\n"
		"\n"
		"from:*@nowhere.example\r\n"
		"  subject:Urgent refund  \n"
		"sha256:0000000000000000000000000000000000000000000000000000000000000000\n"
		HELLO_SHA256 "\n"
		"md5:ffffffffffffffffffffffffffffffff\n"
		"attachment:\"*.scr\"\n");
	char *q = g_strdup_printf("@%s", path);
	char *q2 = g_strdup_printf("from:nobody @\"%s\"", path);
	char *error = NULL;
	struct mc_query *query;
	struct run r;

	(void)state;
	query = mc_query_parse(q, &error);
	assert_non_null(query);
	/* The list is named in the query text, not expanded. */
	assert_string_equal(mc_query_text(query), q);
	assert_false(mc_query_needs_engine(query));
	mc_query_free(&query);

	/* A line's value runs to its end: "Urgent refund" is one term. */
	run_init(&r, "Subject: Re: urgent   REFUND\n\nhi\n", MC_VERDICT_CLEAN, "");
	run_eval(&r, q);
	assert_true(r.match.matched);
	assert_int_equal(r.match.reason_count, 1);
	assert_int_equal(r.match.reasons[0].kind, MC_REASON_SUBJECT);
	run_free(&r);

	/* The hash set finds the attachment of the sample. */
	run_init(&r, sample, MC_VERDICT_CLEAN, "");
	run_eval(&r, q);
	assert_true(r.match.matched);
	assert_int_equal(r.match.reason_count, 1);
	assert_int_equal(r.match.reasons[0].kind, MC_REASON_SHA256);
	assert_string_equal(r.match.reasons[0].value, HELLO_SHA256);
	run_eval(&r, q2);
	assert_false(r.match.matched);
	run_free(&r);

	free(q);
	g_free(q2);
	unlink(path);
	g_free(path);

	/* Errors name the file and line. */
	path = write_file("from:a\n\nfrm:x\n");
	q = g_strdup_printf("@%s", path);
	error = parse_error(q);
	char *expected = g_strdup_printf("query: %s:3: unknown key 'frm' (frm:x)", path);
	assert_string_equal(error, expected);
	free(error);
	g_free(expected);
	free(q);
	unlink(path);
	g_free(path);

	path = write_file("@other.txt\n");
	q = g_strdup_printf("@%s", path);
	error = parse_error(q);
	assert_non_null(strstr(error, ":1: an indicator file cannot include another"));
	free(error);
	free(q);
	unlink(path);
	g_free(path);

	path = write_file("# only comments\n\n");
	q = g_strdup_printf("@%s", path);
	error = parse_error(q);
	assert_non_null(strstr(error, "has no terms"));
	free(error);
	free(q);
	unlink(path);
	g_free(path);

	error = parse_error("@/");
	assert_string_equal(error, "query: cannot read indicator file '/': Is a directory");
	free(error);
	error = parse_error("@/dev/zero");
	assert_string_equal(error, "query: cannot read indicator file '/dev/zero': not a regular file or pipe");
	free(error);
}

/* A host file meets the hashes of --ioc only: a plain list's sha256
   and md5 terms and a feed's hashes, with the rest counted as not
   for files. */
static void test_file_indicators(void **state)
{
	static const char file[] = "hello world\n";
	char *list = write_file(
		"sha256:" HELLO_SHA256 "\n"
		"md5:ffffffffffffffffffffffffffffffff\n"
		"from:*@nowhere.example\n"
		"domain:evil.example\n");
	char *csv = write_file("type,value,id,title\n"
			       "md5," HELLO_MD5 ",m1,Hello wave\n"
			       "url,http://evil.example/x,u1,Hello wave\n");
	const char *paths[] = { list, csv };
	struct mc_query *q = mc_query_parse(NULL, NULL);
	struct mc_file_view view;
	struct mc_match m;
	char *error = NULL;

	(void)state;
	assert_int_equal(mc_query_file_hashes(q), 0);
	assert_int_equal(mc_query_add_ioc(q, paths, 2, &error), 0);
	assert_int_equal(mc_query_file_hashes(q), MC_FILE_SHA256 | MC_FILE_MD5);
	assert_int_equal(mc_query_file_ignored(q), 3);

	memset(&view, 0, sizeof(view));
	view.have = MC_FILE_SHA256 | MC_FILE_MD5;
	mc_sha256(file, strlen(file), view.sha256);
	mc_md5(file, strlen(file), view.md5);
	memset(&m, 0, sizeof(m));
	mc_query_eval_file(q, &view, &m);
	assert_true(m.matched);
	assert_int_equal(m.reason_count, 2);
	assert_int_equal(m.reasons[0].kind, MC_REASON_SHA256);
	assert_string_equal(m.reasons[0].value, HELLO_SHA256);
	assert_int_equal(m.reasons[1].kind, MC_REASON_IOC);
	assert_string_equal(m.reasons[1].value, HELLO_MD5);
	assert_non_null(strstr(m.reasons[1].detail, "\"event\":\"Hello wave\""));
	mc_match_clear(&m);

	/* Hashes not computed are not compared. */
	view.have = MC_FILE_MD5;
	memset(&m, 0, sizeof(m));
	mc_query_eval_file(q, &view, &m);
	assert_int_equal(m.reason_count, 1);
	mc_match_clear(&m);
	view.have = 0;
	memset(&m, 0, sizeof(m));
	mc_query_eval_file(q, &view, &m);
	assert_false(m.matched);

	mc_query_free(&q);
	unlink(list);
	unlink(csv);
	g_free(list);
	g_free(csv);
}

static void test_many_indicators(void **state)
{
	/* 100,000 hashes: a set lookup per part, not 100,000 compares. */
	GString *s = g_string_new("");
	char *path, *q;
	struct run r;

	(void)state;
	for (unsigned i = 0; i < 100000; i++) {
		unsigned char h[32];
		char hx[65];
		mc_sha256(&i, sizeof(i), h);
		mc_hex(h, 32, hx);
		g_string_append_printf(s, "%s\n", hx);
	}
	g_string_append(s, "md5:" HELLO_MD5 "\n");
	path = write_file(s->str);
	q = g_strdup_printf("@%s", path);
	run_init(&r, sample, MC_VERDICT_CLEAN, "");
	double t0 = mc_now();
	for (int i = 0; i < 100; i++)
		run_eval(&r, "all");	/* warm */
	char *error = NULL;
	struct mc_query *query = mc_query_parse(q, &error);
	assert_non_null(query);
	for (int i = 0; i < 1000; i++) {
		mc_match_clear(&r.match);
		mc_facts_free(&r.facts);
		r.facts = mc_facts_init(&r.msg, &r.limits);
		mc_query_eval(query, &r.msg, r.facts, &fake_ops, &r.engine, &r.match);
		assert_true(r.match.matched);
	}
	assert_true(mc_now() - t0 < 20.0);
	assert_int_equal(r.match.reasons[0].kind, MC_REASON_MD5);
	assert_string_equal(r.match.reasons[0].value, HELLO_MD5);
	mc_query_free(&query);
	run_free(&r);
	unlink(path);
	g_free(path);
	g_free(q);
	g_string_free(s, TRUE);
}

/* ------------------------------------------------------------------ */
/* Evaluation                                                         */
/* ------------------------------------------------------------------ */

static void test_header_terms(void **state)
{
	(void)state;
	assert_true(matches("from:evil.example"));
	assert_true(matches("from:BILLING@EVIL.EXAMPLE"));
	assert_true(matches("from:*@evil.example"));
	assert_false(matches("from:*@evil"));
	assert_true(matches("from:Accounts"));	/* the display name too */
	assert_true(matches("from:\"accounts dept\""));
	assert_false(matches("from:\"accounts billing\""));
	assert_false(matches("to:carol"));	/* carol is in Cc */
	assert_true(matches("to:bob@example.org"));
	assert_true(matches("to:*@example.com"));
	assert_false(matches("to:carol"));
	assert_true(matches("cc:carol"));
	assert_true(matches("subject:urgent"));
	assert_true(matches("subject:\"URGENT   invoice\""));	/* white space runs */
	assert_true(matches("subject:\xc3\x9c" "berf\xc3\x84llig"));	/* Unicode case */
	assert_false(matches("subject:refund"));
	assert_true(matches("header:x-mailer:evilmailer"));
	assert_true(matches("header:X-Mailer"));
	assert_false(matches("header:X-Spam-Flag"));
	assert_false(matches("header:X-Mailer:outlook"));
	assert_true(matches("message-id:1234.abcd@MX"));
	assert_true(matches("size>100"));
	assert_false(matches("size>1k"));
	assert_true(matches("size<1k size>=10"));
	assert_true(matches("since:2024-05-14"));
	assert_true(matches("since:2024-05-14T10:20:30"));
	assert_false(matches("since:2024-05-14T10:20:31"));
	assert_true(matches("before:2024-05-15"));
	assert_false(matches("before:2024-05-14T10:20:30"));
	assert_true(matches("all"));
	assert_false(matches("not all"));
}

static void test_mime_terms(void **state)
{
	(void)state;
	assert_true(matches("body:\"pay now\""));	/* <b> and &nbsp; */
	assert_true(matches("body:PLEASE"));
	assert_true(matches("body:evil.example/pay"));	/* in the markup */
	assert_false(matches("body:refund"));
	assert_true(matches("attachment:*.exe"));	/* trailing dot */
	assert_true(matches("attachment:invoice"));
	assert_true(matches("attachment:*.pdf.exe."));
	assert_false(matches("attachment:*.zip"));
	assert_true(matches("sha256:" HELLO_SHA256));
	assert_true(matches("md5:" HELLO_MD5));
	assert_false(matches("md5:ffffffffffffffffffffffffffffffff"));
	assert_true(matches("url:http://EVIL.example/pay"));
	assert_true(matches("url:*/pay"));
	assert_false(matches("url:*/pay/*"));
	assert_true(matches("domain:evil.example"));
	assert_true(matches("domain:example"));
	assert_false(matches("domain:l.example"));	/* not a label boundary */
	assert_false(matches("domain:mx.evil.example"));	/* in a header only */

	/* A single-part message: its body; and any message as a whole. */
	struct run r;
	unsigned char h[32];
	char hx[65];
	static const char single[] = "Subject: x\n\nhello world\n";
	run_init(&r, single, MC_VERDICT_CLEAN, "");
	run_eval(&r, "sha256:" HELLO_SHA256);
	assert_true(r.match.matched);
	mc_sha256(single, strlen(single), h);
	mc_hex(h, 32, hx);
	char *q = g_strdup_printf("sha256:%s", hx);
	run_eval(&r, q);
	assert_true(r.match.matched);
	g_free(q);
	run_free(&r);
}

/* from:, to: and cc: match display names and the address as written,
   as IMAP SEARCH FROM does; the reason names the mailbox. */
static void test_address_forms(void **state)
{
	static const char msg[] =
		"From: \"george kelvin\" <k_v_g20022002@example.fr>\n"
		"To: a@b@c.example, <Undisclosed Recipients@example.com>\n"
		"Cc: =?utf-8?B?SGVsbG8=?= =?utf-8?B?IHdvcmxk?= <hw@example.com>\n"
		"Subject: x\n\nhi\n";
	struct run r;

	(void)state;
	run_init(&r, msg, MC_VERDICT_CLEAN, "");
	run_eval(&r, "from:kelvin");
	assert_true(r.match.matched);
	assert_int_equal(r.match.reason_count, 1);
	assert_int_equal(r.match.reasons[0].kind, MC_REASON_FROM);
	assert_string_equal(r.match.reasons[0].value,
			    "george kelvin <k_v_g20022002@example.fr>");
	run_eval(&r, "from:\"George Kelvin\"");
	assert_true(r.match.matched);
	run_eval(&r, "from:*@example.fr");
	assert_true(r.match.matched);
	assert_string_equal(r.match.reasons[0].value, "k_v_g20022002@example.fr");
	run_eval(&r, "to:*@c.example");
	assert_true(r.match.matched);
	assert_string_equal(r.match.reasons[0].value, "a@b@c.example");
	run_eval(&r, "to:\"undisclosed recipients@*\"");
	assert_true(r.match.matched);
	run_eval(&r, "cc:\"hello world\"");
	assert_true(r.match.matched);
	run_eval(&r, "from:hello or to:kelvin or cc:kelvin");
	assert_false(r.match.matched);
	run_free(&r);
}

/* Dates: obsolete years, before 1970, and none. */
static void test_dates(void **state)
{
	struct run r;
	static const struct {
		const char *date;	/* NULL: no Date field */
		const char *yes, *no;
	} cases[] = {
		{ "Sun, 01 Aug 1965 12:00:00 +0000", "since:1965-08-01 before:1965-08-02",
		  "since:1965-08-02 or before:1965-08-01T12:00:00 or date:none" },
		{ "31 Dec 1969 23:59:59 GMT", "before:1970-01-01 since:1969-12-31T23:59:59",
		  "date:none or since:1970-01-01" },
		{ "Wed, 18 Sep 0102 10:20:30 +0000", "since:2002-09-18 before:2002-09-19",
		  "before:2002-09-18 or date:none" },
		{ "Sat, 14 Sep 02 10:20:30 +0000", "since:2002-09-14 before:2002-09-15",
		  "before:2002-09-14 or date:none" },
		{ "Thu, 14 Sep 50 00:00:00 GMT", "before:1951-01-01 since:1950-09-14", "date:none" },
		{ NULL, "date:none not since:0001-01-01 not before:9999-01-01",
		  "since:0001-01-01 or before:9999-01-01" },
		{ "someday", "date:none", "since:0001-01-01 or before:9999-01-01" },
		{ "Thu, 30 Feb 2024 10:00:00 +0000", "date:none", "since:2024-01-01" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = cases[i].date != NULL ?
			g_strdup_printf("Date: %s\nSubject: x\n\nhi\n", cases[i].date) :
			g_strdup("Subject: x\n\nhi\n");

		run_init(&r, text, MC_VERDICT_CLEAN, "");
		run_eval(&r, cases[i].yes);
		if (!r.match.matched)
			fail_msg("Date: %s: '%s' does not match", cases[i].date, cases[i].yes);
		run_eval(&r, cases[i].no);
		if (r.match.matched)
			fail_msg("Date: %s: '%s' matches", cases[i].date, cases[i].no);
		run_free(&r);
		g_free(text);
	}

	/* The reason of date:none. */
	run_init(&r, "Subject: x\n\nhi\n", MC_VERDICT_CLEAN, "");
	run_eval(&r, "date:none");
	assert_int_equal(r.match.reason_count, 1);
	assert_int_equal(r.match.reasons[0].kind, MC_REASON_DATE);
	assert_string_equal(r.match.reasons[0].value, "none");
	run_free(&r);
	run_init(&r, "Date: Sun, 01 Aug 1965 12:00:00 +0000\n\nhi\n", MC_VERDICT_CLEAN, "");
	run_eval(&r, "before:1970-01-01");
	assert_string_equal(r.match.reasons[0].value, "1965-08-01T12:00:00Z");
	run_free(&r);
}

/* Encoded words split after base64 padding or mid-character, as real
   mailers split them, read whole. */
static void test_split_words(void **state)
{
	static const char split[] =
		"From: a@example.com\n"
		"Subject: =?utf-8?B?VXJnZW50OiB5b3Vy?=\n"
		" =?utf-8?B?IGludm9pY2U=?= =?utf-8?B?IGlzIG92ZXJkdWU=?=\n"
		"Content-Type: multipart/mixed; boundary=b\n"
		"\n"
		"--b\n"
		"Content-Type: application/octet-stream\n"
		"Content-Disposition: attachment;\n"
		" filename=\"=?utf-8?B?SGVsbG8=?= =?utf-8?B?IHdvcmxkLmV4ZQ==?=\"\n"
		"\n"
		"MZ\n"
		"--b--\n";
	struct run r;

	(void)state;
	run_init(&r, split, MC_VERDICT_CLEAN, "");
	run_eval(&r, "subject:\"invoice is overdue\"");
	assert_true(r.match.matched);
	run_eval(&r, "attachment:*.exe");
	assert_true(r.match.matched);
	assert_int_equal(r.match.reason_count, 1);
	assert_string_equal(r.match.reasons[0].value, "Hello world.exe");
	run_eval(&r, "attachment:\"hello world.exe\"");
	assert_true(r.match.matched);
	run_free(&r);
}

/* attachment: terms are decided without the MIME walk when the
   glob's literal run is nowhere in the message; a name that is spelt
   in another form (RFC 2047, RFC 2231, quoted-pairs, inside a base64
   or quoted-printable text or attached message) must still be
   found. */
static char *b64_lines(const char *s)
{
	char *b = g_base64_encode((const guchar *)s, strlen(s));
	GString *out = g_string_new(NULL);

	for (size_t i = 0, n = strlen(b); i < n; i += 76)
		g_string_append_printf(out, "%.76s\n", b + i);
	g_free(b);
	return g_string_free(out, FALSE);
}

static void test_attachment_literal(void **state)
{
	static const char inner[] =
		"From: x@example.com\nSubject: inner\nMIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"i\"\n\n--i\n"
		"Content-Type: application/zip; name=\"Invoice_2024.zip\"\n\nPK\n--i--\n";
	static const char uu[] = "see below\nbegin 644 Invoice_2024.zip\n#4$L#\n`\nend\n";
	char *inner64 = b64_lines(inner), *uu64 = b64_lines(uu);
	const char *head = "From: a@example.com\nSubject: s\nMIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\n"
		"Content-Type: text/plain\n\nhello\n--b\n";
	char *cases[] = {
		g_strdup_printf("%sContent-Type: application/zip\nContent-Disposition: "
				"attachment; filename=\"Invoice_2024.zip\"\n\nPK\n--b--\n", head),
		g_strdup_printf("%sContent-Type: application/zip; name=\"=?UTF-8?B?%s?=\"\n"
				"\nPK\n--b--\n", head, "SW52b2ljZV8yMDI0LnppcA=="),
		g_strdup_printf("%sContent-Type: application/zip; name=\"=?UTF-8?Q?Invoice=5F2024.zip?=\"\n"
				"\nPK\n--b--\n", head),
		g_strdup_printf("%sContent-Type: application/zip\nContent-Disposition: attachment;\n"
				" filename*=UTF-8''Invoice%%5F2024.zip\n\nPK\n--b--\n", head),
		g_strdup_printf("%sContent-Type: application/zip\nContent-Disposition: attachment;\n"
				" filename*0=\"Invo\"; filename*1=\"ice_2024.zip\"\n\nPK\n--b--\n", head),
		g_strdup_printf("%sContent-Type: application/zip\nContent-Disposition: attachment;"
				" filename=\"Invoice\\_2024.zip\"\n\nPK\n--b--\n", head),
		g_strdup_printf("%sContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
				"%s--b--\n", head, inner64),
		g_strdup_printf("%sContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
				"%s--b--\n", head, uu64),
		g_strdup_printf("%sContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n"
				"begin 644 Invoice=5F2024.zip\n#4$L#\n`\nend\n--b--\n", head),
		g_strdup_printf("From: a@example.com\nSubject: s\nMIME-Version: 1.0\n"
				"Content-Type: multipart/digest; boundary=\"d\"\n\n--d\n"
				"Content-Transfer-Encoding: base64\n\n%s--d--\n", inner64),
		g_strdup_printf("%sContent-Type: application/zip; name=\"x.zip\"\n\nPK\n--b\n"
				"Content-Type: text/plain\n\n%s--b--\n", head, uu),
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r;

		run_init(&r, cases[i], MC_VERDICT_CLEAN, "");
		run_eval(&r, "attachment:invoice_*.zip");
		if (!r.match.matched)
			fail_msg("case %zu: the name is not found:\n%s", i, cases[i]);
		assert_string_equal(r.match.reasons[0].value, "Invoice_2024.zip");
		run_eval(&r, "not attachment:invoice_*.zip");
		assert_false(r.match.matched);
		run_eval(&r, "attachment:\"voice_2024\"");
		assert_true(r.match.matched);
		run_free(&r);
		g_free(cases[i]);
	}
	/* Not in the message: not matched, and that is certain. */
	struct run r;
	run_init(&r, sample, MC_VERDICT_CLEAN, "");
	run_eval(&r, "attachment:invoice_*.zip");
	assert_false(r.match.matched);
	assert_int_equal(r.match.problem, MC_VERDICT_CLEAN);
	run_eval(&r, "not attachment:invoice_*.zip");
	assert_true(r.match.matched);
	/* Globs whose literal run is short, or in a set, are walked. */
	run_eval(&r, "attachment:*.e[x]e");
	assert_true(r.match.matched);
	run_eval(&r, "attachment:\\i\\n\\v*");
	assert_true(r.match.matched);
	run_free(&r);
	g_free(inner64);
	g_free(uu64);
}

/* from:/to:/cc: decide most messages from the header value, without
   parsing addresses (mc_facts_addresses_may_hold); that must never
   change an answer against the addresses, display names and raw
   addresses mc_facts_addresses() finds. */
static bool text_match(const char *pattern, const char *s, bool glob)
{
	return s != NULL && (glob ? fnmatch(pattern, s, FNM_CASEFOLD) == 0 :
			     strcasestr(s, pattern) != NULL);
}

static bool addresses_match(struct mc_facts *facts, const char *header,
			    const char *pattern, bool glob)
{
	const struct mc_address *addrs;
	size_t n = mc_facts_addresses(facts, header, &addrs);

	for (size_t i = 0; i < n; i++) {
		if (text_match(pattern, addrs[i].addr, glob) ||
		    text_match(pattern, addrs[i].name, glob) ||
		    text_match(pattern, addrs[i].raw, glob))
			return true;
	}
	return false;
}

static void check_address_value(const char *value, const char *pattern)
{
	char *text = g_strdup_printf("From: %s\nTo: t@example.org\n\nbody\n", value);
	char *query = g_strdup_printf("from:\"%s\"", pattern);
	bool glob = strpbrk(pattern, "*?[") != NULL;
	struct run r;
	struct mc_facts *ref;

	run_init(&r, text, MC_VERDICT_CLEAN, "");
	ref = mc_facts_init(&r.msg, &r.limits);
	bool want = addresses_match(ref, "From", pattern, glob);
	run_eval(&r, query);
	if (r.match.matched != want)
		fail_msg("from:%s on From: %s: %d, the addresses say %d", pattern, value,
			 r.match.matched, want);
	mc_facts_free(&ref);
	run_free(&r);
	g_free(query);
	g_free(text);
}

static void test_address_literal(void **state)
{
	static const char *const values[] = {
		"x@evil.example", "X <X@EVIL.EXAMPLE>", "x@evil . example",
		"x @ evil.example", "x@evil..example", "x@evil\n .example",
		"\"x y\"@evil.example", "x@evil(comment).example", "x\\@evil.example",
		"=?utf-8?q?x=40evil=2Eexample?= <y@good.example>",
		"=?utf-8?b?eEBldmlsLmV4YW1wbGU=?=", "x@xn--evil.example",
		"x@evil.exampl\xc3\xa9", "group: a@good.example, x@evil.example;",
		"<@route.example:x@evil.example>", "x@evil.example.good", "<x@evil.example",
		"x@[evil.example]", "Bob <bob@good.example>", "evil.example <b@good.example>",
		"x@evilexample", "x@e.vil.example", "", "garbage without at",
	};
	static const char *const patterns[] = {
		"*@evil.example", "evil.example", "x@evil*", "*@EVIL.EXAMPLE*", "vil.exa",
		"good", "*evil example*", "y z*",
	};
	/* Atoms that build broken, quoted, encoded and folded values. */
	static const char *const atoms[] = {
		"x", "evil", "EVIL", "example", "good", "@", ".", "..", " ", "\t",
		"\n ", "<", ">", ",", ";", ":", "\"", "\\", "(", ")", "=?utf-8?q?",
		"?=", "=40", "xn--", "\xc3\xa9", "[", "]", "=", "?", "y z",
	};
	struct run r;
	struct mc_facts *f;

	(void)state;
	for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++)
		for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++)
			check_address_value(values[v], patterns[p]);
	srand(7);
	for (int i = 0; i < 20000; i++) {
		char value[256] = "";
		int n = 1 + rand() % 12;

		for (int k = 0; k < n; k++)
			strcat(value, atoms[rand() % (sizeof(atoms) / sizeof(atoms[0]))]);
		check_address_value(value, patterns[rand() % (sizeof(patterns) / sizeof(patterns[0]))]);
	}

	/* And it does decide: a plain value that does not hold the run. */
	run_init(&r, "From: Bob <bob@good.example>\nTo: x@evil.example\n\nhi\n",
		 MC_VERDICT_CLEAN, "");
	f = mc_facts_init(&r.msg, &r.limits);
	assert_false(mc_facts_addresses_may_hold(f, "From", "@evil.example"));
	assert_true(mc_facts_addresses_may_hold(f, "To", "@evil.example"));
	assert_false(mc_facts_addresses_may_hold(f, "Cc", "@evil.example"));
	mc_facts_free(&f);
	run_free(&r);
}

static void test_engine_laziness(void **state)
{
	struct run r;

	(void)state;
	run_init(&r, sample, MC_VERDICT_INFECTED, "Eicar-Test-Signature");

	/* Decided by a header: no engine, no MIME walk. */
	run_eval(&r, "from:nobody virus");
	assert_false(r.match.matched);
	assert_int_equal(r.engine.calls, 0);
	assert_false(r.match.engine_ran);
	assert_int_equal(r.match.problem, MC_VERDICT_CLEAN);

	run_eval(&r, "virus or all");
	assert_true(r.match.matched);
	assert_int_equal(r.engine.calls, 0);
	assert_int_equal(r.match.reason_count, 1);
	assert_int_equal(r.match.reasons[0].kind, MC_REASON_ALL);
	assert_null(r.match.reasons[0].value);

	/* Decided by the MIME walk: still no engine. */
	run_eval(&r, "attachment:*.zip virus");
	assert_false(r.match.matched);
	assert_int_equal(r.engine.calls, 0);

	/* Needed: exactly one scan, however many virus terms. */
	run_eval(&r, "virus");
	assert_true(r.match.matched);
	assert_int_equal(r.engine.calls, 1);
	assert_true(r.match.engine_ran);
	assert_int_equal(r.match.verdict.kind, MC_VERDICT_INFECTED);
	assert_string_equal(r.match.verdict.name, "Eicar-Test-Signature");
	assert_int_equal(r.match.reason_count, 1);
	assert_int_equal(r.match.reasons[0].kind, MC_REASON_VIRUS);
	assert_string_equal(r.match.reasons[0].value, "Eicar-Test-Signature");

	run_eval(&r, "virus:Trojan* or virus:eicar* or virus:nothing");
	assert_true(r.match.matched);
	assert_int_equal(r.engine.calls, 1);
	assert_string_equal(r.match.reasons[0].value, "Eicar-Test-Signature");

	run_eval(&r, "virus:Eicar");	/* no glob: substring */
	assert_true(r.match.matched);
	run_eval(&r, "virus:Trojan.*");
	assert_false(r.match.matched);
	assert_int_equal(r.match.problem, MC_VERDICT_CLEAN);

	run_eval(&r, "not virus");
	assert_false(r.match.matched);
	assert_int_equal(r.engine.calls, 1);

	/* A query without virus terms never needs an engine. */
	char *error = NULL;
	struct mc_query *q = mc_query_parse("from:evil attachment:*.exe", &error);
	assert_false(mc_query_needs_engine(q));
	mc_match_clear(&r.match);
	mc_facts_free(&r.facts);
	r.facts = mc_facts_init(&r.msg, &r.limits);
	mc_query_eval(q, &r.msg, r.facts, NULL, NULL, &r.match);
	assert_true(r.match.matched);
	/* Without a facts object, the evaluation makes its own. */
	mc_match_clear(&r.match);
	mc_query_eval(q, &r.msg, NULL, NULL, NULL, &r.match);
	assert_true(r.match.matched);
	assert_int_equal(r.match.reason_count, 2);
	mc_query_free(&q);
	run_free(&r);
}

static void test_three_valued(void **state)
{
	struct run r;

	(void)state;
	/* The engine could not scan: the answer depends on it. */
	run_init(&r, sample, MC_VERDICT_UNSCANNED, "Heuristics.Limits.Exceeded");
	run_eval(&r, "virus");
	assert_false(r.match.matched);
	assert_int_equal(r.match.problem, MC_VERDICT_UNSCANNED);
	assert_string_equal(r.match.why, "Heuristics.Limits.Exceeded");
	assert_true(r.match.engine_ran);

	run_eval(&r, "not virus");
	assert_false(r.match.matched);
	assert_int_equal(r.match.problem, MC_VERDICT_UNSCANNED);

	/* Decided despite the unknown: no problem. */
	run_eval(&r, "virus or from:evil");
	assert_true(r.match.matched);
	assert_int_equal(r.match.problem, MC_VERDICT_CLEAN);
	run_eval(&r, "virus from:nobody");
	assert_false(r.match.matched);
	assert_int_equal(r.match.problem, MC_VERDICT_CLEAN);
	assert_int_equal(r.engine.calls, 0);
	run_free(&r);

	run_init(&r, sample, MC_VERDICT_ERROR, "engine exploded");
	run_eval(&r, "virus or attachment:*.zip");
	assert_false(r.match.matched);
	assert_int_equal(r.match.problem, MC_VERDICT_ERROR);
	assert_string_equal(r.match.why, "engine exploded");
	run_free(&r);

	/* Clean: false, no problem, verdict recorded. */
	run_init(&r, sample, MC_VERDICT_CLEAN, "");
	run_eval(&r, "virus");
	assert_false(r.match.matched);
	assert_int_equal(r.match.problem, MC_VERDICT_CLEAN);
	assert_true(r.match.engine_ran);
	assert_int_equal(r.match.verdict.kind, MC_VERDICT_CLEAN);
	run_eval(&r, "not virus");
	assert_true(r.match.matched);
	assert_int_equal(r.match.reason_count, 0);

	/* No engine given although the query needs one. */
	char *error = NULL;
	struct mc_query *q = mc_query_parse("virus", &error);
	mc_match_clear(&r.match);
	mc_query_eval(q, &r.msg, r.facts, NULL, NULL, &r.match);
	assert_false(r.match.matched);
	assert_int_equal(r.match.problem, MC_VERDICT_ERROR);
	assert_false(r.match.engine_ran);
	mc_query_free(&q);
	run_free(&r);
}

static void test_mime_limit_problem(void **state)
{
	GString *s = g_string_new("From: x@example.com\nContent-Type: multipart/mixed; boundary=B\n\n");
	struct run r;

	(void)state;
	g_string_append(s, "--B\nContent-Type: text/plain; name=first.exe\n\nfirst, not first.zip\n");
	for (int i = 0; i < 1500; i++)
		g_string_append(s, "--B\n\npart\n");
	g_string_append(s, "--B--\n");
	run_init(&r, s->str, MC_VERDICT_CLEAN, "");

	run_eval(&r, "attachment:*.zip");
	assert_false(r.match.matched);
	assert_int_equal(r.match.problem, MC_VERDICT_UNSCANNED);
	assert_string_equal(r.match.why, "MIME part limit (1000) reached");

	/* ".rar" is nowhere in the message: no part beyond the limit can
	   be named so either. */
	run_eval(&r, "attachment:*.rar");
	assert_false(r.match.matched);
	assert_int_equal(r.match.problem, MC_VERDICT_CLEAN);

	/* A part found before the limit decides. */
	run_eval(&r, "attachment:*.exe");
	assert_true(r.match.matched);
	assert_int_equal(r.match.problem, MC_VERDICT_CLEAN);

	/* Decided by a header: the walk is not even needed. */
	run_eval(&r, "from:nobody attachment:*.zip");
	assert_false(r.match.matched);
	assert_int_equal(r.match.problem, MC_VERDICT_CLEAN);

	/* Unknown MIME term, then the engine decides. */
	run_eval(&r, "attachment:*.zip or virus");
	assert_false(r.match.matched);
	assert_int_equal(r.match.problem, MC_VERDICT_UNSCANNED);
	assert_int_equal(r.engine.calls, 1);
	r.engine.kind = MC_VERDICT_INFECTED;
	r.engine.name = "Worm.X";
	run_eval(&r, "attachment:*.zip or virus");
	assert_true(r.match.matched);
	assert_int_equal(r.match.problem, MC_VERDICT_CLEAN);
	run_free(&r);
	g_string_free(s, TRUE);
}

static void test_reasons(void **state)
{
	struct run r;

	(void)state;
	run_init(&r, sample, MC_VERDICT_INFECTED, "Win.Trojan.Agent");
	run_eval(&r, "from:*@evil.example attachment:*.exe size>100 "
		 "(subject:nothing or subject:urgent or to:bob) not cc:nobody virus "
		 "since:2024-01-01 header:X-Mailer sha256:" HELLO_SHA256 " body:pay");
	assert_true(r.match.matched);
	assert_int_equal(r.match.problem, MC_VERDICT_CLEAN);

	static const struct {
		enum mc_reason_kind kind;
		const char *value;
	} want[] = {
		{ MC_REASON_FROM, "billing@evil.example" },
		{ MC_REASON_ATTACHMENT, "invoice.pdf.exe." },
		{ MC_REASON_SIZE, NULL },
		{ MC_REASON_SUBJECT, "Urgent invoice \xc3\xbc" "berf\xc3\xa4llig" },
		{ MC_REASON_TO, "bob@example.org" },
		{ MC_REASON_VIRUS, "Win.Trojan.Agent" },
		{ MC_REASON_DATE, "2024-05-14T10:20:30Z" },
		{ MC_REASON_HEADER, "X-Mailer: EvilMailer 2.0" },
		{ MC_REASON_SHA256, HELLO_SHA256 },
		{ MC_REASON_BODY, "pay" },
	};
	assert_int_equal(r.match.reason_count, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < r.match.reason_count; i++) {
		assert_int_equal(r.match.reasons[i].kind, want[i].kind);
		if (want[i].value != NULL)
			assert_string_equal(r.match.reasons[i].value, want[i].value);
	}
	char *size = g_strdup_printf("size=%zu", strlen(sample));
	assert_string_equal(r.match.reasons[2].value, size);
	g_free(size);

	/* Duplicates are listed once. */
	run_eval(&r, "from:evil or from:billing");
	assert_int_equal(r.match.reason_count, 1);
	run_eval(&r, "from:evil from:billing");
	assert_int_equal(r.match.reason_count, 1);

	mc_match_clear(&r.match);
	assert_int_equal(r.match.reason_count, 0);
	assert_null(r.match.reasons);
	run_free(&r);

	assert_string_equal(mc_reason_kind_name(MC_REASON_VIRUS), "virus");
	assert_string_equal(mc_reason_kind_name(MC_REASON_FROM), "from");
	assert_string_equal(mc_reason_kind_name(MC_REASON_TO), "to");
	assert_string_equal(mc_reason_kind_name(MC_REASON_CC), "cc");
	assert_string_equal(mc_reason_kind_name(MC_REASON_SUBJECT), "subject");
	assert_string_equal(mc_reason_kind_name(MC_REASON_HEADER), "header");
	assert_string_equal(mc_reason_kind_name(MC_REASON_MESSAGE_ID), "message-id");
	assert_string_equal(mc_reason_kind_name(MC_REASON_BODY), "body");
	assert_string_equal(mc_reason_kind_name(MC_REASON_ATTACHMENT), "attachment");
	assert_string_equal(mc_reason_kind_name(MC_REASON_SHA256), "sha256");
	assert_string_equal(mc_reason_kind_name(MC_REASON_MD5), "md5");
	assert_string_equal(mc_reason_kind_name(MC_REASON_SIZE), "size");
	assert_string_equal(mc_reason_kind_name(MC_REASON_DATE), "date");
	assert_string_equal(mc_reason_kind_name(MC_REASON_ALL), "all");
}

static void test_bad_messages(void **state)
{
	static const char *const msgs[] = {
		"",
		"\n",
		"garbage without structure \x01\x02\xff",
		"From: \nTo: ,,,;;;<<>>\nSubject: =?x?q?=ZZ?=\nDate: 99 Foo 99999\n\n",
		"Content-Type: multipart/mixed; boundary=\"\"\n\n--\n--\n",
	};
	static const char *const queries[] = {
		"from:* to:x cc:y subject:z header:Date:9 message-id:q",
		"body:x or attachment:x or sha256:" HELLO_SHA256 " or md5:" HELLO_MD5,
		"since:2000-01-01 or before:2000-01-01 or size>0",
		"virus",
	};
	struct run r;

	(void)state;
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		for (size_t j = 0; j < sizeof(queries) / sizeof(queries[0]); j++) {
			run_init(&r, msgs[i], MC_VERDICT_CLEAN, "");
			run_eval(&r, queries[j]);
			run_free(&r);
		}
	}
	/* Invalid UTF-8 in a query value (it comes from argv). */
	run_init(&r, sample, MC_VERDICT_CLEAN, "");
	run_eval(&r, "body:\xff\xfe\xc3 or subject:\xe9t\xe9");
	assert_false(r.match.matched);
	run_free(&r);

	/* HTML of many '<' without '>': linear, not quadratic. */
	GString *html = g_string_new("Content-Type: text/html\n\n");
	for (int i = 0; i < 2000000; i++)
		g_string_append_c(html, '<');
	g_string_append(html, "needle");
	run_init(&r, html->str, MC_VERDICT_CLEAN, "");
	double t0 = mc_now();
	run_eval(&r, "body:needle");
	assert_true(r.match.matched);
	assert_true(mc_now() - t0 < 5.0);
	run_free(&r);
	g_string_free(html, TRUE);

	/* Valid UTF-8 in reasons even from raw 8-bit headers. */
	run_init(&r, "Subject: caf\xe9 \xff\xfe\n\n", MC_VERDICT_CLEAN, "");
	run_eval(&r, "subject:caf");
	assert_true(r.match.matched);
	assert_true(g_utf8_validate(r.match.reasons[0].value, -1, NULL));
	run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_query),
		cmocka_unit_test(test_terms),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_indicator_file),
		cmocka_unit_test(test_many_indicators),
		cmocka_unit_test(test_header_terms),
		cmocka_unit_test(test_mime_terms),
		cmocka_unit_test(test_attachment_literal),
		cmocka_unit_test(test_split_words),
		cmocka_unit_test(test_address_forms),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_address_literal),
		cmocka_unit_test(test_engine_laziness),
		cmocka_unit_test(test_three_valued),
		cmocka_unit_test(test_mime_limit_problem),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_file_indicators),
		cmocka_unit_test(test_bad_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
