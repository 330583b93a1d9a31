/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-rfc2047 1
/* SUMMARY
/*	unit tests of the header decoder (lib/rfc2047.c)
/* DESCRIPTION
/*	Pins RFC 2047 decoding as mail readers do it: Q and B words in
/*	several charsets (UTF-8, ISO-8859-1, ISO-2022-JP, windows-1252),
/*	base64 words that end in padding followed by more words, a
/*	character split across two words, white space and folding
/*	between words, the RFC 2231 language suffix, unencoded and
/*	8-bit text, and words that stay as written (bad base64, an
/*	unknown charset, no closing "?="). Then MIME parameters: quoted
/*	and unquoted values, RFC 2231 values and continuations with
/*	encoded words inside, and random bytes, which must always give
/*	valid UTF-8 without NUL.
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

#include "mailcure/mailcure.h"
#include "internal.h"

static void check(const char *in, const char *want)
{
	char *got = mc_rfc2047_decode(in, strlen(in));

	if (strcmp(got, want) != 0)
		fail_msg("decoding \"%s\": \"%s\", not \"%s\"", in, got, want);
	free(got);
}

static void check_param(const char *params, const char *name, const char *want)
{
	char *got = mc_mime_param(params, name);

	if (want == NULL && got != NULL)
		fail_msg("%s of \"%s\": \"%s\", not absent", name, params, got);
	if (want != NULL && (got == NULL || strcmp(got, want) != 0))
		fail_msg("%s of \"%s\": \"%s\", not \"%s\"", name, params,
			 got != NULL ? got : "(absent)", want);
	free(got);
}

static void test_words(void **state)
{
	(void)state;
	check("=?utf-8?Q?caf=C3=A9_cr=C3=A8me?=", "caf\xc3\xa9 cr\xc3\xa8me");
	check("=?UTF-8?q?a=5Fb?=", "a_b");
	check("=?utf-8?B?w5xiZXJ3ZWlzdW5n?=", "\xc3\x9c" "berweisung");
	check("=?utf-8?b?SGk?=", "Hi");		/* no padding */
	check("=?utf-8?Q?" "?=", "");
	check("=?iso-8859-1?Q?Gr=F6=DFe?=", "Gr\xc3\xb6\xc3\x9f" "e");
	check("=?windows-1252?Q?=80_5_=93quoted=94?=",
	      "\xe2\x82\xac 5 \xe2\x80\x9cquoted\xe2\x80\x9d");
	check("=?iso-2022-jp?B?GyRCRnxLXDhsJE4lRiU5JUgbKEI=?=",
	      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88");
	/* RFC 2231 language suffix. */
	check("=?utf-8*en?Q?hi_there?=", "hi there");
	check("=?ISO-8859-1*de-DE?Q?f=E4llig?=", "f\xc3\xa4llig");
}

static void test_adjacent_words(void **state)
{
	(void)state;
	/* The first word ends in padding: the second is not lost. */
	check("=?utf-8?B?SGVsbG8=?= =?utf-8?B?IHdvcmxkLmV4ZQ==?=", "Hello world.exe");
	check("=?utf-8?B?SGVsbG8=?==?utf-8?B?IHdvcmxkLmV4ZQ==?=", "Hello world.exe");
	check("=?utf-8?B?UmVjaG51bmc=?= =?UTF-8?B?IE3DpHJ6LmV4ZQ==?=",
	      "Rechnung M\xc3\xa4rz.exe");
	/* A character split across two words of one charset. */
	check("=?utf-8?B?R3LD?= =?utf-8?B?vMOfZQ==?=", "Gr\xc3\xbc\xc3\x9f" "e");
	check("=?utf-8?Q?Gr=C3?= =?utf-8?Q?=BC=C3=9Fe?=", "Gr\xc3\xbc\xc3\x9f" "e");
	check("=?iso-2022-jp?B?GyRCRnxLXA==?= =?iso-2022-jp?B?OGwkTiVGJTklSBsoQg==?=",
	      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88");
	check("=?iso-2022-jp?B?GyRCRnxLXDhsGyhC?= =?iso-2022-jp?B?GyRCJE4lRiU5JUgbKEI=?=",
	      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88");
	/* Mixed charsets: each run converted on its own; the white
	   space between words goes, the one around text stays. */
	check("=?UTF-8?B?w5xiZXJ3ZWlzdW5n?= =?ISO-8859-1?Q?f=E4llig?=",
	      "\xc3\x9c" "berweisungf\xc3\xa4llig");
	check("=?iso-8859-1?Q?caf=E9?= au =?utf-8?Q?lait?=", "caf\xc3\xa9 au lait");
	check("Re:  =?utf-8?Q?a?=  b", "Re:  a  b");
	/* Folding between words and inside text. */
	check("=?UTF-8?Q?Rechnung_?=\r\n =?UTF-8?Q?Nr=2E_1?=", "Rechnung Nr. 1");
	check("=?utf-8?B?SGVsbG8=?=\r\n\t=?utf-8?B?IHdvcmxk?=\n =?utf-8?Q?!?=", "Hello world!");
	check("plain\r\n text", "plain text");
	check("=?utf-8?Q?a?=\r\n b", "a b");
}

static void test_text(void **state)
{
	(void)state;
	check("", "");
	check("no words at all", "no words at all");
	check("caf\xc3\xa9", "caf\xc3\xa9");
	/* Unlabelled 8-bit text that is not UTF-8: windows-1252. */
	check("caf\xe9 \x80", "caf\xc3\xa9 \xe2\x82\xac");
	check("x =?utf-8?Q?caf=C3=A9?= \xe9", "x caf\xc3\xa9 \xc3\xa9");
	check("1+1=2? yes", "1+1=2? yes");
	check("a=?b", "a=?b");
	check("word=?utf-8?Q?glued?=text", "wordgluedtext");
	/* A NUL in the text does not end it. */
	char *out = mc_rfc2047_decode("a\0b", 3);
	assert_string_equal(out, "a b");
	free(out);
}

static void test_invalid_words(void **state)
{
	(void)state;
	/* Bad base64: as written. */
	check("=?utf-8?B?SGV$$?= x", "=?utf-8?B?SGV$$?= x");
	check("=?utf-8?B?S?=", "=?utf-8?B?S?=");
	check("=?utf-8?B?SG=VsbG8?=", "=?utf-8?B?SG=VsbG8?=");
	check("=?utf-8?B?SGVsbG8=?= =?utf-8?B?%%?=", "Hello =?utf-8?B?%%?=");
	/* Unknown charset: as written, white space kept. */
	check("=?x-no-such-charset?Q?a?= =?utf-8?Q?b?=", "=?x-no-such-charset?Q?a?= b");
	check("=?x-no-such-charset?Q?a?= =?x-no-such-charset?Q?b?=",
	      "=?x-no-such-charset?Q?a?= =?x-no-such-charset?Q?b?=");
	/* Not a word: no closing "?=", no encoding, white space inside,
	   empty or overlong charset. */
	check("=?utf-8?Q?abc", "=?utf-8?Q?abc");
	check("=?utf-8?X?abc?=", "=?utf-8?X?abc?=");
	check("=?utf-8?Q?a b?=", "=?utf-8?Q?a b?=");
	check("=??Q?a?=", "=??Q?a?=");
	check("=?u0*=\xc7?Q?a?=", "=?u0*=\xc3\x87?Q?a?=");	/* 8-bit language */
	char long_cs[200];
	snprintf(long_cs, sizeof(long_cs), "=?%0100d?Q?a?=", 0);
	check(long_cs, long_cs);
	/* A bad word between good ones keeps the space around it. */
	check("=?utf-8?Q?a?= =?utf-8?B?!?= =?utf-8?Q?b?=", "a =?utf-8?B?!?= b");
	/* Invalid UTF-8 in a UTF-8 word, and a NUL. */
	check("=?utf-8?Q?a=FFb?=", "a\xef\xbf\xbd" "b");
	check("=?utf-8?Q?a=00b?=", "a b");
	check("=?utf-16le?B?YQAAAGIA?=", "a b");
	check("=?us-ascii?Q?caf=E9?=", "caf\xef\xbf\xbd");
}

static void test_params(void **state)
{
	(void)state;
	check_param(" filename=\"=?utf-8?B?SGVsbG8=?= =?utf-8?B?IHdvcmxkLmV4ZQ==?=\"",
		    "filename", "Hello world.exe");
	check_param("filename==?utf-8?B?SGVsbG8=?=", "filename", "Hello");
	check_param(" name=\"a b.exe\"; filename=x", "filename", "x");
	check_param(" name=\"a b.exe\"; filename=x", "name", "a b.exe");
	check_param(" FILENAME = \"x.exe\" ", "filename", "x.exe");
	check_param(" filename=Hello world.exe ; size=3", "filename", "Hello world.exe");
	check_param(" filename=\"a\\\"b.exe\"", "filename", "a\"b.exe");
	check_param(" filename=\"unclosed.exe", "filename", "unclosed.exe");
	check_param(" filename=\"x;y.exe\"; a=b", "filename", "x;y.exe");
	check_param(" filename=\"caf\xe9.exe\"", "filename", "caf\xc3\xa9.exe");
	check_param(" filenames=x.exe", "filename", NULL);
	check_param(" filename=\"\"", "filename", NULL);
	check_param("", "filename", NULL);
	check_param(" garbage; ;; =x; filename=y.exe", "filename", "y.exe");
	/* RFC 2231. */
	check_param(" filename*=iso-8859-1'en'caf%E9.exe", "filename", "caf\xc3\xa9.exe");
	check_param(" filename*=utf-8''%E2%82%AC%20rates.exe", "filename", "\xe2\x82\xac rates.exe");
	check_param(" filename*0*=utf-8''a%C3; filename*1*=%A9.exe", "filename", "a\xc3\xa9.exe");
	check_param(" filename*1=\"def.exe\"; filename*0=\"abc\"", "filename", "abcdef.exe");
	check_param(" filename*0*=UTF-8''%E2%82%AC%20rates; filename*1=\".exe\"",
		    "filename", "\xe2\x82\xac rates.exe");
	check_param(" filename*=x-no-such-charset''caf%E9.exe", "filename", "caf\xc3\xa9.exe");
	check_param(" filename*=noquotes%41.exe", "filename", "noquotesA.exe");
	/* Encoded words inside RFC 2231 values. */
	check_param(" filename*=utf-8''%3D%3Futf-8%3FB%3FSGVsbG8%3D%3F%3D.exe",
		    "filename", "Hello.exe");
	check_param(" filename*0=\"=?utf-8?B?SGVsbG8=?= \"; filename*1=\"=?utf-8?B?IHdvcmxkLmV4ZQ==?=\"",
		    "filename", "Hello world.exe");
	/* Whichever form comes first. */
	check_param(" filename=\"x.txt\"; filename*=utf-8''y.exe", "filename", "x.txt");
	check_param(" filename*=utf-8''y.exe; filename=\"x.txt\"", "filename", "y.exe");
}

static void test_random(void **state)
{
	static const char *const atoms[] = {
		"=?", "?=", "?", "=", "utf-8", "iso-2022-jp", "x-bogus", "*en", "?B?",
		"?Q?", "SGVsbG8=", "4oI", "=C3", "=A9", "_", " ", "\t", "\r\n ", "\n",
		"\xff", "\xc3", "\x00", "%", "''", ";", "filename", "*0*", "*1", "\"",
		"\\", "\x1b$B", "abc",
	};

	(void)state;
	srand(16);
	for (int i = 0; i < 20000; i++) {
		char in[512];
		size_t len = 0;
		int n = 1 + rand() % 24;

		for (int k = 0; k < n; k++) {
			const char *a = atoms[rand() % (sizeof(atoms) / sizeof(atoms[0]))];
			size_t al = *a == '\0' ? 1 : strlen(a);
			memcpy(in + len, a, al);
			len += al;
		}
		char *out = mc_rfc2047_decode(in, len);
		assert_true(g_utf8_validate(out, -1, NULL));
		free(out);
		in[len] = '\0';
		out = mc_mime_param(in, "filename");
		if (out != NULL) {
			assert_true(g_utf8_validate(out, -1, NULL));
			assert_true(*out != '\0');
		}
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_adjacent_words),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_invalid_words),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
