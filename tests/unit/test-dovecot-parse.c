/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-dovecot-parse 1
/* SUMMARY
/*	unit tests of the reader of doveadm's pager output
/* DESCRIPTION
/*	Pins mc_store_dovecot_parse(), the walk the dovecot: store makes
/*	over "doveadm -f pager fetch" output: records with their text cut
/*	by size.physical, however the output is chunked; the listing
/*	without text; and the refusals: a text shorter or longer than its
/*	size, a field out of order, a malformed GUID or UID, a control
/*	character in a mailbox name, output that ends after a separator.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store-private.h"

#define GUID "0123456789abcdef0123456789abcdef"

/* One record: FIELDS ... with TEXT (NULL: the listing) of SIZE. */
static char *record(const char *mailbox, const char *uid, const char *size,
		    const char *text)
{
	char *s;

	if (asprintf(&s, "mailbox-guid: " GUID "\nuid: %s\nguid: g-%s\n"
		     "flags: \\Seen\nsize.physical: %s\nmailbox: %s\n%s%s",
		     uid, uid, size, mailbox, text != NULL ? "text:\n" : "",
		     text != NULL ? text : "") < 0)
		abort();
	return s;
}

/* Records joined by form feed lines. */
static char *join(char *a, char *b)
{
	char *s;

	if (asprintf(&s, "%s\f\n%s", a, b) < 0)
		abort();
	free(a);
	free(b);
	return s;
}

static int parse(const char *out, bool text, size_t chunk, size_t *records_r,
		 char **error_r)
{
	return mc_store_dovecot_parse(out, strlen(out), chunk, text, records_r,
				      error_r);
}

static void test_batch(void **state)
{
	/* The text holds what looks like a record: only the size tells. */
	char *out = join(record("INBOX", "1", "12", "Subject: x\n\n"),
			 record("Sent", "7", "21", "\f\nmailbox-guid: x\n\nyz"));
	size_t chunks[] = { 1, 2, 7, 4096, 1 << 20 };
	size_t n;
	char *error = NULL;

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		assert_int_equal(parse(out, true, chunks[i], &n, &error), 0);
		assert_int_equal(n, 2);
	}
	free(out);
}

static void test_listing(void **state)
{
	char *out = join(record("INBOX", "1", "12", NULL),
			 record("a b", "2", "0", NULL));
	size_t n;

	assert_int_equal(parse(out, false, 3, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_int_equal(parse("", false, 3, &n, NULL), 0);
	assert_int_equal(n, 0);
	free(out);
}

static void expect_error(char *out, bool text, const char *why)
{
	size_t n;
	char *error = NULL;

	assert_int_equal(parse(out, text, 5, &n, &error), -1);
	assert_non_null(error);
	assert_string_equal(error, why);
	free(error);
	free(out);
}

static void test_refused(void **state)
{
	expect_error(record("INBOX", "1", "13", "Subject: x\n\n"), true,
		     "the message text is shorter than its size.physical");
	expect_error(join(record("INBOX", "1", "5", "Subject: x\n\n"),
			  record("INBOX", "2", "1", "x")), true,
		     "unexpected output between records");
	expect_error(record("IN\033BOX", "1", "1", "x"), true,
		     "malformed field value");
	expect_error(record("INBOX", "0", "1", "x"), true, "malformed field value");
	expect_error(record("INBOX", "4294967296", "1", "x"), true,
		     "malformed field value");
	expect_error(strdup("mailbox-guid: 0123\nuid: 1\n"), true,
		     "malformed field value");
	expect_error(strdup("uid: 1\n"), true,
		     "unexpected line where a field was expected");
	expect_error(record("INBOX", "1", "1", NULL), true,
		     "no message text where it was expected");

	char *out, *one = record("INBOX", "1", "1", "x");
	if (asprintf(&out, "%s\f\n", one) < 0)
		abort();
	free(one);
	expect_error(out, true, "the output ends after a record separator");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_listing),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
