/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-exim 1
/* SUMMARY
/*	unit tests of the Exim spool file parser (lib/store/exim_spool.c)
/* DESCRIPTION
/*	A -H file followed by its -D file gives the envelope sender,
/*	arrival time, the recipients still to be delivered (those not
/*	in the non-recipients tree nor in the -J journal), and the
/*	message: the live headers (not those flagged '*'), an empty
/*	line and the body. ACL variables with multi-line values, DSN
/*	fields after an address, wire-format bodies. Every truncation
/*	of a good pair, and a set of broken -H files, are errors that
/*	say what is wrong; none crashes.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/exim_spool.h"

#define ID "1xaIPX-00076t-1r"

static const char good_h[] =
	ID "-H\n"
	"root 0 0\n"
	"<y@sender.test>\n"
	"1796500839 0\n"
	"-received_time_usec .123456\n"
	"-ident root\n"
	"-received_protocol local\n"
	"-aclm 0 12\n"
	"two\nlines ok\n"
	"--aclc tainted 0\n"
	"\n"
	"-body_linecount 1\n"
	"-frozen 1796500900\n"
	"YY bob@mailcure.test\n"
	"NN alice@mailcure.test\n"
	"NN x y@mailcure.test\n"
	"5\n"
	"alice@mailcure.test\n"
	"bob@mailcure.test\n"
	"carol@mailcure.test orcpt 5,0  0,-1#3\n"
	"dave@mailcure.test\n"
	"remote@remote.test\n"
	"\n"
	"037P Received: from root by mx with local\n"
	"017* Subject: old one\n"
	"015  Subject: local\n"
	"035I Message-Id: <E1xaIPX-00076t-1r@mx>\n";
static const char good_d[] = ID "-D\n" "body line\n";

static unsigned char *pair(const char *h, const char *d, size_t *len_r)
{
	size_t hl = strlen(h), dl = strlen(d);
	unsigned char *b = malloc(hl + dl + 1);

	memcpy(b, h, hl);
	memcpy(b + hl, d, dl);
	*len_r = hl + dl;
	return b;
}

static void test_good(void **state)
{
	struct mc_exim_spool sp;
	size_t len;
	unsigned char *b = pair(good_h, good_d, &len);
	const char journal[] = "dave@mailcure.test\nremote@rem";
	char *err = NULL;

	(void)state;
	assert_int_equal(mc_exim_spool_parse(b, len, (const unsigned char *)journal,
					     strlen(journal), false, &sp, &err), 0);
	assert_null(err);
	assert_string_equal(sp.id, ID);
	assert_string_equal(sp.sender, "y@sender.test");
	assert_int_equal(sp.arrival, 1796500839);
	assert_true(sp.frozen);
	assert_int_equal(sp.rcpt_total, 5);
	/* bob and alice delivered (tree), dave (journal); the journal's
	   unfinished last line is not a delivery. */
	assert_int_equal(sp.rcpt_count, 2);
	assert_string_equal(sp.rcpts[0], "carol@mailcure.test");
	assert_string_equal(sp.rcpts[1], "remote@remote.test");
	assert_int_equal(sp.h_len, strlen(good_h));
	assert_string_equal((const char *)sp.content,
			    "Received: from root by mx with local\n"
			    "Subject: local\n"
			    "Message-Id: <E1xaIPX-00076t-1r@mx>\n"
			    "\nbody line\n");
	assert_int_equal(sp.content_len, strlen((const char *)sp.content));
	mc_exim_spool_clear(&sp);

	/* The envelope alone, from the -H file alone. */
	assert_int_equal(mc_exim_spool_parse((const unsigned char *)good_h, strlen(good_h),
					     NULL, 0, true, &sp, &err), 0);
	assert_null(sp.content);
	assert_int_equal(sp.rcpt_count, 3);
	mc_exim_spool_clear(&sp);
	free(b);
}

static void test_wireformat_and_ids(void **state)
{
	static const char h[] =
		"1xaIPX-00076t-1r-H\nDebian-exim 101 102\n<>\n1 0\n"
		"-spool_file_wireformat\nXX\n1\na@b\n\n008  To: a@b\n";
	static const char d[] = ID "-D\r\nx\r\ny\r\n";
	struct mc_exim_spool sp;
	size_t len;
	unsigned char *b;
	char *err = NULL;

	(void)state;
	/* The -D file's first line ends in LF even in wire format. */
	b = pair(h, ID "-D\nx\r\ny\r\n", &len);
	assert_int_equal(mc_exim_spool_parse(b, len, NULL, 0, false, &sp, &err), 0);
	assert_string_equal(sp.sender, "");
	assert_string_equal((const char *)sp.content, "To: a@b\n\nx\ny\n");
	mc_exim_spool_clear(&sp);
	free(b);
	b = pair(h, d, &len);
	assert_int_equal(mc_exim_spool_parse(b, len, NULL, 0, false, &sp, &err), -1);
	assert_non_null(strstr(err, "-D"));
	free(err);
	free(b);

	assert_true(mc_exim_id_ok("1xaIPX-00076t-1r"));
	assert_true(mc_exim_id_ok("1xaIPX-0000000076t-1r0q"));
	assert_false(mc_exim_id_ok("1xaIPX-00076t-1"));
	assert_false(mc_exim_id_ok("1xaIPX_00076t-1r"));
	assert_false(mc_exim_id_ok("../../etc/passw"));
	assert_false(mc_exim_id_ok(""));
}

/* Every prefix of a good pair that cuts the -H file is an error. */
static void test_truncated(void **state)
{
	size_t len, hl = strlen(good_h);
	unsigned char *b = pair(good_h, good_d, &len);

	(void)state;
	for (size_t n = 0; n < hl; n++) {
		struct mc_exim_spool sp;
		char *err = NULL;
		unsigned char *cut = malloc(n + 1);

		memcpy(cut, b, n);
		/* Cut right after a complete header the -H file still
		   parses; everything before the headers must fail. */
		int r = mc_exim_spool_parse(cut, n, NULL, 0, true, &sp, &err);
		if (r == 0) {
			assert_true(n > (size_t)(strstr(good_h, "\n\n0") - good_h));
			mc_exim_spool_clear(&sp);
		} else {
			assert_non_null(err);
			free(err);
		}
		/* Without its -D file the pair is always an error. */
		err = NULL;
		assert_int_equal(mc_exim_spool_parse(cut, n, NULL, 0, false, &sp, &err), -1);
		assert_non_null(err);
		free(err);
		free(cut);
	}
	free(b);
}

static void test_broken(void **state)
{
	static const struct {
		const char *h, *why;
	} cases[] = {
		{ "garbage\n", "first line" },
		{ ID "-H\nroot 0 0\ny@x\n1 0\nXX\n0\n\n", "sender" },
		{ ID "-H\nroot 0 0\n<y@x>\nnow 0\nXX\n0\n\n", "arrival" },
		{ ID "-H\nroot 0 0\n<y@x>\n1 0\n-aclc v 99\nab\nXX\n0\n\n", "ACL" },
		{ ID "-H\nroot 0 0\n<y@x>\n1 0\nYN a@b\n0\n\n", "tree" },
		{ ID "-H\nroot 0 0\n<y@x>\n1 0\nXX\n99999999\n\n", "recipient count" },
		{ ID "-H\nroot 0 0\n<y@x>\n1 0\nXX\n2\na@b\n", "empty line" },
		{ ID "-H\nroot 0 0\n<y@x>\n1 0\nXX\n1\na@b 9,0  0,-1#3\n\n", "malformed recipient" },
		{ ID "-H\nroot 0 0\n<y@x>\n1 0\nXX\n1\na@b\nX\n", "empty line" },
		{ ID "-H\nroot 0 0\n<y@x>\n1 0\nXX\n1\na@b\n\n099  To: a@b\n", "cut off" },
		{ ID "-H\nroot 0 0\n<y@x>\n1 0\nXX\n1\na@b\n\n008x To: a\n", "flag" },
		{ ID "-H\nroot 0 0\n<y@x>\n1 0\nXX\n1\na@b\n\nTo: a@b\n", "header line" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mc_exim_spool sp;
		char *err = NULL;
		size_t len;
		unsigned char *b = pair(cases[i].h, good_d, &len);

		if (mc_exim_spool_parse(b, len, NULL, 0, false, &sp, &err) == 0)
			fail_msg("case %zu parsed", i);
		if (err == NULL || strstr(err, cases[i].why) == NULL)
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i,
				 err != NULL ? err : "(null)", cases[i].why);
		free(err);
		free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_wireformat_and_ids),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_broken),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
