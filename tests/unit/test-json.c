/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-json 1
/* SUMMARY
/*	unit tests of the JSON writer (lib/json.c)
/* DESCRIPTION
/*	mc_json_text() escapes what JSON requires, every character a
/*	terminal acts on (C0, DEL, C1, bidirectional overrides) and
/*	U+2028/U+2029 as \uXXXX, turns each byte that is not
/*	well-formed UTF-8 into U+FFFD, keeps all other text, and
/*	writes objects, arrays and numbers byte for byte as json-c's
/*	plain form does.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "mailcure/mailcure.h"

#define FFFD "\xef\xbf\xbd"

/* IN (LEN bytes) as a JSON string must be WANT (without quotes). */
static void check_len(const char *in, size_t len, const char *want)
{
	json_object *s = json_object_new_string_len(in, (int)len);
	char *got = mc_json_text(s);
	char *quoted = mc_xasprintf("\"%s\"", want);

	assert_string_equal(got, quoted);
	free(quoted);
	free(got);
	json_object_put(s);
}

static void check(const char *in, const char *want)
{
	check_len(in, strlen(in), want);
}

static void test_kept(void **state)
{
	(void)state;
	check("", "");
	check("/home/alice/Maildir/cur/1.M2P3:2,S", "/home/alice/Maildir/cur/1.M2P3:2,S");
	check("Rechnung f\xc3\xbcr M\xc3\xa4rz", "Rechnung f\xc3\xbcr M\xc3\xa4rz");
	check("\xf0\x9f\x93\x8e x", "\xf0\x9f\x93\x8e x");
	/* The neighbours of what is escaped. */
	check("~\xc2\xa0", "~\xc2\xa0");
	check("\xe2\x80\xa7\xe2\x80\xaf", "\xe2\x80\xa7\xe2\x80\xaf");
	check("\xe2\x81\xa5\xe2\x81\xaa", "\xe2\x81\xa5\xe2\x81\xaa");
}

static void test_json_escapes(void **state)
{
	(void)state;
	check("a\"b\\c", "a\\\"b\\\\c");
	check("\b\f\n\r\t", "\\b\\f\\n\\r\\t");
	check("\x01\x1b[31m\x1f", "\\u0001\\u001b[31m\\u001f");
	check_len("a\0b", 3, "a\\u0000b");
}

static void test_controls_escaped(void **state)
{
	(void)state;
	check("\x7f", "\\u007f");
	/* C1 controls as UTF-8: NEL, CSI, APC. */
	check("\xc2\x80\xc2\x85\xc2\x9b\xc2\x9f", "\\u0080\\u0085\\u009b\\u009f");
	/* Line and paragraph separators end a line in JavaScript. */
	check("a\xe2\x80\xa8" "b\xe2\x80\xa9", "a\\u2028b\\u2029");
	/* Bidirectional overrides and isolates reorder a line. */
	check("\xe2\x80\xaa\xe2\x80\xae\xe2\x81\xa6\xe2\x81\xa9",
	      "\\u202a\\u202e\\u2066\\u2069");
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	check("\xff", FFFD);
	check("x\x9by", "x" FFFD "y");		/* a lone C1 byte */
	check("\xc3", FFFD);			/* cut short */
	check("\xc3(", FFFD "(");
	check("\xc0\xaf", FFFD FFFD);		/* overlong '/' */
	check("\xed\xa0\x80", FFFD FFFD FFFD);	/* a UTF-16 surrogate */
	check("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);	/* beyond U+10FFFF */
}

/* Without text to escape, the output is json-c's own, byte for byte. */
static void check_same(json_object *o)
{
	char *got = mc_json_text(o);

	assert_string_equal(got, json_object_to_json_string_ext(o,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	free(got);
	json_object_put(o);
}

static void test_values(void **state)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();

	(void)state;
	json_object_object_add(o, "event", json_object_new_string("summary"));
	json_object_object_add(o, "path", json_object_new_string("/var/mail/alice"));
	json_object_object_add(o, "size", json_object_new_int64(-12345678901LL));
	json_object_object_add(o, "seconds", json_object_new_double(0.000123456));
	json_object_object_add(o, "whole", json_object_new_double(2.0));
	json_object_object_add(o, "dry_run", json_object_new_boolean(1));
	json_object_object_add(o, "none", NULL);
	json_object_object_add(o, "empty", json_object_new_object());
	json_object_array_add(a, json_object_new_int(1));
	json_object_array_add(a, json_object_new_string("x"));
	json_object_array_add(a, json_object_new_array());
	json_object_object_add(o, "list", a);
	check_same(o);
	/* Numbers read from a file keep their spelling. */
	check_same(json_tokener_parse("{\"a\":1.50,\"b\":1e3,\"c\":[],\"d\":-0}"));
	check_same(json_object_new_array());
}

static void test_keys_escaped(void **state)
{
	json_object *o = json_object_new_object();
	char *got;

	(void)state;
	json_object_object_add(o, "a\nb\xc2\x9b", json_object_new_string("\xff"));
	got = mc_json_text(o);
	assert_string_equal(got, "{\"a\\nb\\u009b\":\"" FFFD "\"}");
	free(got);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kept),
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_controls_escaped),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_keys_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
