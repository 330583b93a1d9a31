/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-ioc 1
/* SUMMARY
/*	unit tests of the indicator feeds (ioc*.c, query_ioc.c)
/* DESCRIPTION
/*	Each reader (MISP event, MISP feed directory, STIX 2.1 bundle,
/*	CSV) on small feeds written here: what is loaded and skipped,
/*	which messages match and what the reason names; STIX patterns
/*	with OR, AND and parts that cannot be evaluated; domains that
/*	only end in an indicator's letters; and bad input (broken and
/*	deeply nested JSON, bad UTF-8, an unsafe manifest) refused
/*	with the file and position named.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <glib.h>

#include "mailcure/mailcure.h"
#include "ioc-private.h"
#include "fixture.h"

static char *dir;

static char *put(const char *name, const char *text)
{
	char *path = mc_xasprintf("%s/%s", dir, name);
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

/* The reason (kind and value) QUERY gives MSG, "" for no match. */
static char *eval(const char *query, const char *msg, char **detail_r)
{
	char *error = NULL, *out;
	struct mc_query *q = mc_query_parse(query, &error);
	struct mc_msg m;
	struct mc_match match;

	if (q == NULL)
		fail_msg("parse '%s': %s", query, error);
	memset(&m, 0, sizeof(m));
	m.data = m.raw = (const unsigned char *)msg;
	m.size = m.raw_size = strlen(msg);
	m.loc.offset = -1;
	mc_query_eval(q, &m, NULL, NULL, NULL, &match);
	if (!match.matched)
		out = mc_xstrdup("");
	else
		out = mc_xasprintf("%s %s", mc_reason_kind_name(match.reasons[0].kind),
				   match.reasons[0].value);
	if (detail_r != NULL)
		*detail_r = match.matched && match.reasons[0].detail != NULL ?
			mc_xstrdup(match.reasons[0].detail) : NULL;
	mc_match_clear(&match);
	mc_query_free(&q);
	return out;
}

static void check(const char *query, const char *msg, const char *want)
{
	char *got = eval(query, msg, NULL);

	if (strcmp(got, want) != 0)
		fail_msg("%s on <<%.60s>>: got '%s', want '%s'", query, msg, got, want);
	free(got);
}

static void feed_count(const struct mc_ioc_feed *f, void *context)
{
	unsigned long *c = context;

	c[0] += f->loaded;
	c[1] += f->skipped;
}

/* Loaded and skipped of the query's files. */
static void counts(const char *query, unsigned long want_loaded,
		   unsigned long want_skipped)
{
	char *error = NULL;
	struct mc_query *q = mc_query_parse(query, &error);
	unsigned long c[2] = { 0, 0 };

	if (q == NULL)
		fail_msg("parse '%s': %s", query, error);
	mc_query_ioc_feeds(q, feed_count, c);
	assert_int_equal(c[0], want_loaded);
	assert_int_equal(c[1], want_skipped);
	mc_query_free(&q);
}

static void parse_fails(const char *query, const char *want)
{
	char *error = NULL;
	struct mc_query *q = mc_query_parse(query, &error);

	if (q != NULL)
		fail_msg("'%s' parsed", query);
	if (strstr(error, want) == NULL)
		fail_msg("'%s': error '%s' lacks '%s'", query, error, want);
	free(error);
}

#define MSG(subject, from, body) \
	"From: " from "\nTo: u@example.com\nSubject: " subject "\n\n" body "\n"

static const char misp[] =
	"{\"Event\":{\"id\":\"42\",\"info\":\"Invoice wave\",\"Attribute\":["
	"{\"uuid\":\"a1\",\"type\":\"domain\",\"value\":\"evil[.]example\",\"to_ids\":true},"
	"{\"uuid\":\"a2\",\"type\":\"url\",\"value\":\"hxxp://phish.test/login\",\"to_ids\":true},"
	"{\"uuid\":\"a3\",\"type\":\"domain\",\"value\":\"context.example\",\"to_ids\":false},"
	"{\"uuid\":\"a4\",\"type\":\"ip-src\",\"value\":\"192.0.2.1\",\"to_ids\":true},"
	"{\"uuid\":\"a5\",\"type\":\"email-subject\",\"value\":\"Your  INVOICE\"},"
	"{\"uuid\":\"a6\",\"type\":\"email-src\",\"value\":\"Boss@CEO-fraud.example\"}],"
	"\"Object\":[{\"Attribute\":[{\"uuid\":\"a7\",\"type\":\"filename|md5\","
	"\"value\":\"x.exe|B1946AC92492D2347C6235B4D2611184\",\"to_ids\":\"1\"}]}]}}";

static void test_misp_event(void **state)
{
	char *f = put("misp.json", misp), *q = mc_xasprintf("@%s", f), *detail;

	counts(q, 5, 2);
	check(q, MSG("hi", "a@b.example", "see http://www.EVIL.example/x"),
	      "ioc evil[.]example");
	check(q, MSG("hi", "a@b.example", "see http://badevil.example/x"), "");
	check(q, MSG("hi", "a@b.example", "see http://evil.example.org/x"), "");
	check(q, MSG("hi", "a@b.example", "http://context.example/"), "");
	check(q, MSG("hi", "a@b.example", "go to http://phish.test:80/login now"),
	      "ioc hxxp://phish.test/login");
	check(q, MSG("your invoice", "a@b.example", "x"), "ioc Your  INVOICE");
	check(q, MSG("your invoice 2", "a@b.example", "x"), "");
	check(q, MSG("hi", "Boss <boss@ceo-fraud.example>", "x"),
	      "ioc Boss@CEO-fraud.example");
	/* The body "hello\n" of a single-part message is the part. */
	check(q, "From: a@b\nSubject: s\n\nhello\n",
	      "ioc x.exe|B1946AC92492D2347C6235B4D2611184");
	free(eval(q, MSG("hi", "a@b.example", "http://a.evil.example/"), &detail));
	assert_non_null(strstr(detail, "\"event_id\":\"42\""));
	assert_non_null(strstr(detail, "\"event\":\"Invoice wave\""));
	assert_non_null(strstr(detail, "\"indicator_id\":\"a1\""));
	assert_non_null(strstr(detail, "\"matched\":\"http://a.evil.example/\""));
	assert_non_null(strstr(detail, "misp.json"));
	free(detail);
	/* An API answer and a list of events read the same. */
	char *r = mc_xasprintf("{\"response\":[%s]}", misp);
	char *f2 = put("response.json", r), *q2 = mc_xasprintf("@%s", f2);
	counts(q2, 5, 2);
	free(r); free(f2); free(q2);
	free(f); free(q);
	(void)state;
}

static void test_misp_feed(void **state)
{
	char *feed = mc_xasprintf("%s/feed", dir), *q = mc_xasprintf("@%s", feed);

	assert_int_equal(mkdir(feed, 0700), 0);
	free(put("feed/manifest.json",
		 "{\"11111111-2222-4333-8444-555555555555\":{\"info\":\"one\"},"
		 "\"11111111-2222-4333-8444-666666666666\":{\"info\":\"two\"}}"));
	free(put("feed/11111111-2222-4333-8444-555555555555.json",
		 "{\"Event\":{\"uuid\":\"11111111-2222-4333-8444-555555555555\",\"info\":\"one\","
		 "\"Attribute\":[{\"type\":\"domain\",\"value\":\"one.example\"}]}}"));
	free(put("feed/11111111-2222-4333-8444-666666666666.json",
		 "{\"Event\":{\"uuid\":\"11111111-2222-4333-8444-666666666666\",\"info\":\"two\","
		 "\"Attribute\":[{\"type\":\"hostname\",\"value\":\"two.example\"}]}}"));
	counts(q, 2, 0);
	check(q, MSG("s", "a@b", "http://x.two.example/"), "ioc two.example");
	/* A manifest may not name a file outside the directory. */
	free(put("feed/manifest.json", "{\"../../etc/passwd\":{}}"));
	parse_fails(q, "is not an event UUID");
	free(put("feed/manifest.json", "{\"11111111-2222-4333-8444-777777777777\":{}}"));
	parse_fails(q, "11111111-2222-4333-8444-777777777777.json");
	free(feed); free(q);
	(void)state;
}

static const char stix_head[] =
	"{\"type\":\"bundle\",\"id\":\"bundle--1\",\"objects\":[";

static char *stix(const char *name, const char *indicators)
{
	char *text = mc_xasprintf("%s%s]}", stix_head, indicators);
	char *path = put(name, text), *q = mc_xasprintf("@%s", path);

	free(text);
	free(path);
	return q;
}

#define IND(id, pattern, extra) \
	"{\"type\":\"indicator\",\"id\":\"indicator--" id "\",\"name\":\"n" id "\"," \
	"\"pattern_type\":\"stix\",\"pattern\":\"" pattern "\"" extra "}"

static void test_stix(void **state)
{
	char *q = stix("s.json",
		IND("1", "[domain-name:value = 'evil.example']", "") ","
		IND("2", "[url:value = 'http://a.test/x'] OR [file:hashes.'SHA-256' = "
		    "'5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03']", "") ","
		IND("3", "[email-message:subject = 'both' AND email-addr:value = 'x@y.example']", "") ","
		IND("4", "[domain-name:value = 'revoked.example']", ",\"revoked\":true") ","
		IND("5", "[domain-name:value = 'old.example']",
		    ",\"valid_until\":\"2001-01-01T00:00:00Z\"") ","
		IND("6", "[file:name = 'x.exe' AND file:hashes.MD5 = "
		    "'00000000000000000000000000000001']", "") ","
		IND("7", "[file:name = 'x.exe']", "") ","
		IND("8", "[domain-name:value = 'bad.example'", "") ","
		IND("9", "[domain-name:value IN ('in1.example', 'in2.example')] WITHIN 60 SECONDS", "") ","
		"{\"type\":\"report\",\"id\":\"report--9\",\"name\":\"Campaign X\","
		"\"object_refs\":[\"indicator--1\"]}");
	char *detail;

	/* 1, 2 (two), 3, 6 (the hash), 9 (two); 4, 5, 7, 8 skipped. */
	counts(q, 7, 4);
	check(q, MSG("s", "a@b", "http://www.evil.example/"), "ioc evil.example");
	free(eval(q, MSG("s", "a@b", "http://www.evil.example/"), &detail));
	assert_non_null(strstr(detail, "\"event\":\"Campaign X\""));
	assert_non_null(strstr(detail, "\"indicator_id\":\"indicator--1\""));
	assert_non_null(strstr(detail, "\"indicator_name\":\"n1\""));
	free(detail);
	check(q, MSG("s", "a@b", "http://a.test/x"), "ioc http://a.test/x");
	check(q, "From: a@b\nSubject: s\n\nhello\n",
	      "ioc 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
	check(q, MSG("both", "x@y.example", "x"),
	      "ioc [email-message:subject = 'both' AND email-addr:value = 'x@y.example']");
	check(q, MSG("both", "z@y.example", "x"), "");
	check(q, MSG("neither", "x@y.example", "x"), "");
	check(q, MSG("s", "a@b", "http://revoked.example/"), "");
	check(q, MSG("s", "a@b", "http://old.example/"), "");
	check(q, MSG("s", "a@b", "http://bad.example/"), "");
	check(q, MSG("s", "a@b", "http://in2.example/"), "ioc in2.example");
	free(q);
	q = stix("nothing.json", IND("1", "[ipv4-addr:value = '192.0.2.1']", ""));
	counts(q, 0, 1);
	free(q);
	/* A pattern that ends inside an object path. */
	q = stix("cut.json", IND("1", "[url:value", "") "," IND("2", "[url:value = 'http://b.test/'] OR [url", ""));
	counts(q, 0, 2);
	free(q);
	(void)state;
}

static void test_csv(void **state)
{
	char *f = put("f.csv",
		"uuid,event_id,category,type,value,comment,to_ids\n"
		"u1,7,Network activity,domain,evil.example,\"a, comment\",1\n"
		"u2,7,Network activity,domain,context.example,,0\n"
		"u3,7,Payload delivery,filename|sha256,\"x.exe|"
		"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\",,1\n"
		"u4,7,Network activity,ip-dst,192.0.2.1,,1\n");
	char *q = mc_xasprintf("@%s", f);

	counts(q, 2, 2);
	check(q, MSG("s", "a@b", "http://evil.example/"), "ioc evil.example");
	check(q, "From: a@b\nSubject: s\n\nhello\n",
	      "ioc x.exe|5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
	free(f); free(q);
	f = put("g.csv", "domain,url,title\nevil.example,,Wave\n,http://x.test/,Wave\n");
	q = mc_xasprintf("@%s", f);
	counts(q, 2, 0);
	check(q, MSG("s", "a@b", "http://x.test/"), "ioc http://x.test/");
	free(f); free(q);
	f = put("h.csv", "value,comment\nevil.example,x\n");
	q = mc_xasprintf("@%s", f);
	parse_fails(q, "names no indicator column");
	free(f); free(q);
	(void)state;
}

static void test_bad_json(void **state)
{
	char *f = put("bad.json", "{\"Event\":{\"info\":\"x\",\n \"Attribute\":[}}"), *q;
	GString *deep = g_string_new(NULL);

	q = mc_xasprintf("@%s", f);
	parse_fails(q, "bad.json': line 2, column");
	free(f); free(q);
	f = put("utf8.json", "{\"Event\":{\"info\":\"\xff\xfe\",\"Attribute\":[]}}");
	q = mc_xasprintf("@%s", f);
	parse_fails(q, "utf8.json': line 1");
	free(f); free(q);
	for (int i = 0; i < 10000; i++)
		g_string_append_c(deep, '[');
	f = put("deep.json", deep->str);
	q = mc_xasprintf("@%s", f);
	parse_fails(q, "deep.json': line 1");
	free(f); free(q);
	g_string_free(deep, TRUE);
	f = put("other.json", "{\"hello\":1}");
	q = mc_xasprintf("@%s", f);
	parse_fails(q, "neither a MISP event");
	free(f); free(q);
	(void)state;
}

/* Many domain: terms in a plain list are one hash set, and still
   match at label boundaries only. */
static void test_plain_domains(void **state)
{
	GString *s = g_string_new(NULL);
	char *f, *q;

	for (int i = 0; i < 1000; i++)
		g_string_append_printf(s, "domain:d%d.example\n", i);
	g_string_append(s, "domain:example.com\n");
	f = put("plain.txt", s->str);
	q = mc_xasprintf("@%s", f);
	check(q, MSG("s", "a@b", "http://www.example.com/"), "domain http://www.example.com/");
	check(q, MSG("s", "a@b", "http://badexample.com/"), "");
	check(q, MSG("s", "a@b", "http://x.d999.example/"), "domain http://x.d999.example/");
	counts(q, 1001, 0);
	free(f); free(q);
	g_string_free(s, TRUE);
	(void)state;
}

/* --ioc: ORed with the query, in place of the default one. */
static void test_add_ioc(void **state)
{
	char *f = put("add.json", misp), *error = NULL;
	const char *paths[] = { f };
	struct mc_query *q = mc_query_parse(NULL, &error);

	assert_int_equal(mc_query_add_ioc(q, paths, 1, &error), 0);
	assert_string_equal(mc_query_text(q), "ioc");
	assert_true(mc_query_needs_body(q));
	assert_false(mc_query_needs_engine(q));
	mc_query_free(&q);
	q = mc_query_parse("from:x@y", &error);
	assert_int_equal(mc_query_add_ioc(q, paths, 1, &error), 0);
	assert_string_equal(mc_query_text(q), "from:x@y or ioc");
	assert_true(mc_query_needs_body(q));
	mc_query_free(&q);
	q = mc_query_parse("ioc subject:x", &error);
	assert_int_equal(mc_query_add_ioc(q, paths, 1, &error), 0);
	assert_string_equal(mc_query_text(q), "ioc subject:x");
	mc_query_free(&q);
	free(f);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_misp_event),
		cmocka_unit_test(test_misp_feed),
		cmocka_unit_test(test_stix),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_plain_domains),
		cmocka_unit_test(test_add_ioc),
	};
	int ret;

	dir = mc_fixture_tmpdir("ioc");
	if (dir == NULL)
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_fixture_rm_rf(dir);
	free(dir);
	return ret;
}
