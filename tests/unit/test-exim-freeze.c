/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-exim-freeze 1
/* SUMMARY
/*	unit tests of the Exim freeze's configuration rewrite (lib/exim_freeze.c)
/* DESCRIPTION
/*	The frozen text: every definition of queue_only and hold_domains
/*	in the main section commented out (every line of one continued
/*	with a backslash, a comment inside it kept; "hide", "no_" and
/*	"not_" forms), options that only start with those names and
/*	everything after the first "begin" left alone, the freeze block
/*	put before "begin", or at the end of a file without one. The
/*	check of .include files: one included into the main section
/*	that sets queue_only is refused and named; a missing
/*	.include_if_exists and an include after "begin" are not.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exim_ctl.h"

#define BLOCK \
	"# mailcure queue freeze: no delivery until 'mailcure queue thaw',\n" \
	"# which restores this file as it was.\n" \
	"queue_only = true\n" \
	"hold_domains = *\n"

static void assert_frozen(const char *in, const char *want)
{
	size_t len;
	char *out = mc_exim_freeze_text(in, strlen(in), &len);

	assert_non_null(out);
	assert_int_equal(len, strlen(want));
	assert_string_equal(out, want);
	free(out);
}

static void test_main_section(void **state)
{
	(void)state;
	assert_frozen(
		"primary_hostname = mx.test\n"
		"queue_only = false\n"
		"queue_only_load = 8\n"
		"hold_domains = a.test : \\\n"
		"# a comment inside the list\n"
		"   b.test\n"
		"  hide no_queue_only\n"
		"not_queue_only\n"
		"hold_domains_x = 1\n"
		"\n"
		"begin routers\n"
		"queue_only = false\n"
		"r:\n"
		"  driver = accept\n",
		"primary_hostname = mx.test\n"
		"#queue_only = false\n"
		"queue_only_load = 8\n"
		"#hold_domains = a.test : \\\n"
		"# a comment inside the list\n"
		"#   b.test\n"
		"#  hide no_queue_only\n"
		"#not_queue_only\n"
		"hold_domains_x = 1\n"
		"\n"
		BLOCK
		"begin routers\n"
		"queue_only = false\n"
		"r:\n"
		"  driver = accept\n");
}

static void test_no_begin(void **state)
{
	(void)state;
	assert_frozen("spool_directory = /s\nqueue_only", "spool_directory = /s\n#queue_only\n" BLOCK);
	assert_frozen("", BLOCK);
	/* "begin" continuing a value does not end the main section. */
	assert_frozen("acl_x = \\\nbegin\nbegin acl\n", "acl_x = \\\nbegin\n" BLOCK "begin acl\n");
}

static void test_includes(void **state)
{
	char dir[] = "/tmp/test-exim-freeze.XXXXXX", path[128], text[512];
	char *error = NULL;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/inc.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("# local settings\nqueue_only = false\n", f);
	fclose(f);

	snprintf(text, sizeof(text), "a = 1\n.include %s\nbegin acl\n", path);
	assert_int_equal(mc_exim_freeze_check(text, strlen(text), "/etc/exim.conf", &error), -1);
	assert_non_null(strstr(error, path));
	assert_non_null(strstr(error, "sets queue_only"));
	free(error);
	error = NULL;
	/* Relative to the directory of the including file. */
	snprintf(text, sizeof(text), ".include inc.conf\n");
	snprintf(path, sizeof(path), "%s/exim.conf", dir);
	assert_int_equal(mc_exim_freeze_check(text, strlen(text), path, &error), -1);
	free(error);
	error = NULL;

	snprintf(text, sizeof(text), ".include_if_exists %s/none.conf\nbegin acl\n"
		 ".include %s/inc.conf\n", dir, dir);
	assert_int_equal(mc_exim_freeze_check(text, strlen(text), "/etc/exim.conf", &error), 0);
	assert_null(error);
	snprintf(text, sizeof(text), ".include %s/none.conf\n", dir);
	assert_int_equal(mc_exim_freeze_check(text, strlen(text), "/etc/exim.conf", &error), -1);
	free(error);

	snprintf(path, sizeof(path), "%s/inc.conf", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_main_section),
		cmocka_unit_test(test_no_begin),
		cmocka_unit_test(test_includes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
