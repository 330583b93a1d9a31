/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-postfix 1
/* SUMMARY
/*	unit tests of the Postfix queue file parser (lib/store/postfix.c)
/* DESCRIPTION
/*	A queue file gives its envelope sender, the recipients still to
/*	be delivered and the message from its content records (N lines,
/*	L lines continued); a file that cleanup edited (a pointer to
/*	records appended after the end record, pointing back) is read in
/*	pointer order. Pointer records that loop are an error, found
/*	before the parser has read more bytes than the file holds, also
/*	when the loop runs through large content records.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "store/store-private.h"

struct qf {
	unsigned char *buf;
	size_t len, cap;
};

/* Append a record: type, length in base 128 (low bits first), data. */
static void rec(struct qf *f, char type, const void *data, size_t len)
{
	if (f->cap - f->len < len + 16) {
		f->cap = (f->len + len + 16) * 2;
		f->buf = realloc(f->buf, f->cap);
		assert_non_null(f->buf);
	}
	f->buf[f->len++] = (unsigned char)type;
	size_t n = len;
	do {
		unsigned char c = n & 0x7f;
		n >>= 7;
		f->buf[f->len++] = n != 0 ? (c | 0x80) : c;
	} while (n != 0);
	memcpy(f->buf + f->len, data, len);
	f->len += len;
}

static void rec_s(struct qf *f, char type, const char *s)
{
	rec(f, type, s, strlen(s));
}

static void rec_pointer(struct qf *f, size_t to)
{
	char p[16];

	snprintf(p, sizeof(p), "%15zu", to);
	rec(f, 'p', p, 15);
}

static void envelope(struct qf *f)
{
	rec_s(f, 'C', "            300             120               1               0"
	      "             220               0");
	rec_s(f, 'T', "1772445600 123456");
	rec_s(f, 'S', "alice@example.com");
	rec_s(f, 'R', "bob@example.org");
}

static void test_parse(void **state)
{
	struct qf f = { 0 };
	unsigned char *content;
	size_t rcpts, len;
	char *sender, *error = NULL;

	(void)state;
	envelope(&f);
	rec_s(&f, 'M', "");
	rec_s(&f, 'N', "Subject: queued");
	rec_s(&f, 'N', "");
	rec_s(&f, 'L', "a long ");
	rec_s(&f, 'N', "line");
	rec_s(&f, 'X', "");
	rec_s(&f, 'R', "carol@example.net");
	rec_s(&f, 'D', "dave@example.net");
	rec_s(&f, 'E', "");
	assert_int_equal(mc_store_postfix_parse(f.buf, f.len, false, &sender, &rcpts,
						&content, &len, &error), 0);
	assert_string_equal(sender, "alice@example.com");
	assert_int_equal(rcpts, 2);
	assert_int_equal(len, strlen("Subject: queued\n\na long line\n"));
	assert_string_equal((char *)content, "Subject: queued\n\na long line\n");
	free(sender);
	free(content);

	/* The envelope alone, from a head of the file. */
	assert_int_equal(mc_store_postfix_parse(f.buf, f.len / 2 + 40, true, &sender, &rcpts,
						&content, &len, &error), 0);
	assert_string_equal(sender, "alice@example.com");
	assert_int_equal(rcpts, 1);
	assert_null(content);
	free(sender);
	free(f.buf);
}

/* cleanup edited the file: a placeholder pointer now points at
   records appended after E, whose last pointer leads back. */
static void test_edited(void **state)
{
	struct qf f = { 0 };
	unsigned char *content;
	size_t rcpts, len, ptr, back;
	char *sender, *error = NULL;

	(void)state;
	envelope(&f);
	ptr = f.len;
	rec_pointer(&f, 0);
	back = f.len;
	rec_s(&f, 'M', "");
	rec_s(&f, 'N', "Subject: edited");
	rec_s(&f, 'X', "");
	rec_s(&f, 'E', "");
	size_t appended = f.len;
	rec_s(&f, 'R', "added@example.org");
	rec_pointer(&f, back);
	/* Point the placeholder at the appended records. */
	char p[16];
	snprintf(p, sizeof(p), "%15zu", appended);
	memcpy(f.buf + ptr + 2, p, 15);
	assert_int_equal(mc_store_postfix_parse(f.buf, f.len, false, &sender, &rcpts,
						&content, &len, &error), 0);
	assert_int_equal(rcpts, 2);
	assert_string_equal((char *)content, "Subject: edited\n");
	free(sender);
	free(content);
	free(f.buf);
}

static long max_rss_kb(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

/* A pointer that leads back over a large content record: the loop is
   an error once the parser has read as many bytes as the file holds,
   not after it has read the record again for as many records as the
   file could hold (which took memory and time growing with the square
   of the file size). */
static void test_pointer_loop(void **state)
{
	struct qf f = { 0 };
	unsigned char *content = NULL, *line;
	size_t rcpts, len, start;
	char *sender = NULL, *error = NULL;
	long before;

	(void)state;
	envelope(&f);
	rec_s(&f, 'M', "");
	start = f.len;
	line = malloc(32768);
	memset(line, 'x', 32768);
	rec(&f, 'N', line, 32768);
	rec_pointer(&f, start);
	free(line);

	before = max_rss_kb();
	assert_int_equal(mc_store_postfix_parse(f.buf, f.len, false, &sender, &rcpts,
						&content, &len, &error), -1);
	assert_non_null(strstr(error, "pointer records loop"));
	/* The content read before the loop was found: at most the file. */
	assert_true(max_rss_kb() - before < 16 * 1024);
	free(error);

	/* Two pointers that point at each other. */
	f.len = 0;
	envelope(&f);
	rec_s(&f, 'M', "");
	size_t p1 = f.len;
	rec_pointer(&f, p1 + 17);
	rec_pointer(&f, p1);
	error = NULL;
	assert_int_equal(mc_store_postfix_parse(f.buf, f.len, false, &sender, &rcpts,
						&content, &len, &error), -1);
	assert_non_null(strstr(error, "pointer records loop"));
	free(error);
	free(f.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pointer_loop),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_edited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
