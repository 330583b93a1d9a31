/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-text 1
/* SUMMARY
/*	unit tests of the display neutraliser (lib/util.c)
/* DESCRIPTION
/*	mc_text_visible() escapes every byte a terminal acts on (C0, DEL,
/*	C1 as a byte and as UTF-8, bidirectional overrides and isolates)
/*	and every byte that is not well-formed UTF-8, and keeps all other
/*	text, multi-byte characters included. mc_utf8_len() accepts
/*	exactly the well-formed sequences. mc_html_entity() reads
/*	character references as browsers do, and text search of HTML
/*	(query_text.c) reads them through it as the URL finder does.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "mailcure/mailcure.h"
#include "internal.h"
#include "query-private.h"

static void check(const char *in, const char *want)
{
	char *got = mc_text_visible(in);

	assert_string_equal(got, want);
	free(got);
}

static void test_kept(void **state)
{
	(void)state;
	check("", "");
	check("/home/alice/Maildir/cur/1.M2P3:2,S", "/home/alice/Maildir/cur/1.M2P3:2,S");
	check("Rechnung f\xc3\xbcr M\xc3\xa4rz", "Rechnung f\xc3\xbcr M\xc3\xa4rz");
	check("\xe8\xab\x8b\xe6\xb1\x82\xe6\x9b\xb8.exe", "\xe8\xab\x8b\xe6\xb1\x82\xe6\x9b\xb8.exe");
	check("\xf0\x9f\x93\x8e x", "\xf0\x9f\x93\x8e x");
	/* U+00A0 is the first character after C1, U+2029 and U+206A
	   are next to the bidirectional controls: all kept. */
	check("a\xc2\xa0" "b\xe2\x80\xa9" "c\xe2\x81\xaa", "a\xc2\xa0" "b\xe2\x80\xa9" "c\xe2\x81\xaa");
	/* A backslash stays: the escaped form is for reading. */
	check("C:\\temp\\x41", "C:\\temp\\x41");
}

static void test_controls(void **state)
{
	(void)state;
	check("a\nb", "a\\x0ab");
	check("x\r\x1b[31mred\x1b[0m\x07", "x\\x0d\\x1b[31mred\\x1b[0m\\x07");
	check("\x01\x08\t\x0b\x0c\x1f\x7f", "\\x01\\x08\\x09\\x0b\\x0c\\x1f\\x7f");
	/* CSI as a raw byte (not UTF-8) and as U+009B. */
	check("a\x9b" "31m", "a\\x9b31m");
	check("a\xc2\x9b" "31m", "a\\xc2\\x9b31m");
	check("\xc2\x80\xc2\x9f", "\\xc2\\x80\\xc2\\x9f");
	/* Right-to-left override, left-to-right embedding, isolates. */
	check("exe.\xe2\x80\xaepdf", "exe.\\xe2\\x80\\xaepdf");
	check("\xe2\x80\xaa\xe2\x81\xa6\xe2\x81\xa9", "\\xe2\\x80\\xaa\\xe2\\x81\\xa6\\xe2\\x81\\xa9");
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	check("\xff\xfe", "\\xff\\xfe");
	check("a\x80z", "a\\x80z");		/* lone continuation byte */
	check("a\xe2\x82", "a\\xe2\\x82");	/* cut short at the end */
	check("a\xe2\x82z", "a\\xe2\\x82z");	/* cut short before ASCII */
	check("\xc0\xaf", "\\xc0\\xaf");	/* overlong '/' */
	check("\xe0\x80\xaf", "\\xe0\\x80\\xaf");
	check("\xed\xa0\x80", "\\xed\\xa0\\x80");	/* UTF-16 surrogate */
	check("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");	/* beyond U+10FFFF */
	/* The worst case: four bytes out for every byte in. */
	check("\xff\xff\xff", "\\xff\\xff\\xff");
}

static void test_utf8_len(void **state)
{
	(void)state;
	assert_int_equal(mc_utf8_len((const unsigned char *)"a", 1), 1);
	assert_int_equal(mc_utf8_len((const unsigned char *)"\xc3\xa9", 2), 2);
	assert_int_equal(mc_utf8_len((const unsigned char *)"\xc3\xa9", 1), 0);
	assert_int_equal(mc_utf8_len((const unsigned char *)"\xe2\x82\xac", 3), 3);
	assert_int_equal(mc_utf8_len((const unsigned char *)"\xf0\x9f\x93\x8e", 4), 4);
	assert_int_equal(mc_utf8_len((const unsigned char *)"\xc1\xbf", 2), 0);
	assert_int_equal(mc_utf8_len((const unsigned char *)"\xf5\x80\x80\x80", 4), 0);
}

/* The reference at IN decodes to WANT, taking TAKES bytes (0: none). */
static void check_entity(const char *in, size_t takes, const char *want)
{
	char out[4];
	size_t out_len = 0;

	assert_int_equal(mc_html_entity(in, strlen(in), out, &out_len), takes);
	if (takes > 0) {
		assert_int_equal(out_len, strlen(want));
		assert_memory_equal(out, want, out_len);
	}
}

static void test_html_entity(void **state)
{
	char *norm;
	size_t len;

	(void)state;
	check_entity("&amp;x", 5, "&");
	check_entity("&AMP;", 5, "&");
	check_entity("&colon;//", 7, ":");
	check_entity("&#58;", 5, ":");
	check_entity("&#x2F;", 6, "/");
	check_entity("&#x2Fp", 5, "/");		/* without ';', as browsers */
	check_entity("&#233;", 6, "\xc3\xa9");
	check_entity("&#x1F4CE;", 9, "\xf0\x9f\x93\x8e");
	check_entity("&#0;", 0, "");
	check_entity("&#x110000;", 0, "");
	check_entity("&bogus;", 0, "");
	check_entity("&amp", 0, "");
	check_entity("&#", 0, "");

	/* Text search reads them the same way, then normalises. */
	norm = mc_query_normalize("<p>Pay&nbsp;NOW&colon; &#104;ttp&#58;//x</p>", 44,
				  true, &len);
	assert_string_equal(norm, " pay now: http://x ");	/* <p> is a break */
	free(norm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kept),
		cmocka_unit_test(test_controls),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_utf8_len),
		cmocka_unit_test(test_html_entity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
