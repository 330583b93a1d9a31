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
/*
/*	Debian's generated configuration: update-exim4.conf's header
/*	(split, unsplit, or none; only at the top, exactly as written,
/*	bounded by the length given), and the file recognised only with
/*	its name, ROOT/etc/exim4 and ROOT/usr/sbin/update-exim4.conf
/*	(the local macros file of the split scheme named). The first
/*	definition of queue_only or hold_domains in a source, in the
/*	main section or the whole file.
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
#include <sys/stat.h>

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

#define HEADER_TOP \
	"#########\n" \
	"# WARNING WARNING WARNING\n" \
	"# This file was generated dynamically from\n"

static void test_debian_kind(void **state)
{
	static const char unsplit[] = HEADER_TOP
		"# non-split config (/etc/exim4/exim4.conf.localmacros\n"
		"# and /etc/exim4/exim4.conf.template).\n";
	static const char split[] = HEADER_TOP
		"# split config files in the /etc/exim4/conf.d/ directory.\n";
	static const char other[] = HEADER_TOP "# something else\n";
	static const char cut[] = HEADER_TOP;
	static const char late[] = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn\no\np\nq\n"
		"# This file was generated dynamically from\n"
		"# split config files in the /etc/exim4/conf.d/ directory.\n";
	static const char indented[] = " # This file was generated dynamically from\n"
		"# split config files in the /etc/exim4/conf.d/ directory.\n";

	(void)state;
	assert_int_equal(mc_exim_debian_kind(unsplit, strlen(unsplit)), 1);
	assert_int_equal(mc_exim_debian_kind(split, strlen(split)), 2);
	assert_int_equal(mc_exim_debian_kind(other, strlen(other)), 0);
	assert_int_equal(mc_exim_debian_kind(cut, strlen(cut)), 0);
	/* Only the header at the top counts, exactly as written. */
	assert_int_equal(mc_exim_debian_kind(late, strlen(late)), 0);
	assert_int_equal(mc_exim_debian_kind(indented, strlen(indented)), 0);
	assert_int_equal(mc_exim_debian_kind("", 0), 0);
	/* Not NUL-terminated: the length bounds the scan. */
	assert_int_equal(mc_exim_debian_kind(split, strlen(HEADER_TOP) + 10), 0);
}

static void test_debian_detect(void **state)
{
	static const char text[] = HEADER_TOP
		"# split config files in the /x/conf.d/ directory.\n";
	char root[] = "/tmp/test-exim-debian.XXXXXX", path[256], conf[256];
	struct mc_exim_debian deb;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(conf, sizeof(conf), "%s/var/lib/exim4/config.autogenerated", root);
	/* No etc/exim4, no update-exim4.conf: not Debian's. */
	assert_int_equal(mc_exim_debian_detect(conf, text, strlen(text), &deb), 0);
	assert_null(deb.macros);
	snprintf(path, sizeof(path), "%s/etc", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/etc/exim4", root);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(mc_exim_debian_detect(conf, text, strlen(text), &deb), 0);
	snprintf(path, sizeof(path), "%s/usr", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/usr/sbin", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/usr/sbin/update-exim4.conf", root);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);

	assert_int_equal(mc_exim_debian_detect(conf, text, strlen(text), &deb), 1);
	assert_true(deb.split);
	snprintf(path, sizeof(path), "%s/etc/exim4/conf.d/main/000_localmacros", root);
	assert_string_equal(deb.macros, path);
	snprintf(path, sizeof(path), "%s/usr/sbin/update-exim4.conf", root);
	assert_string_equal(deb.update, path);
	mc_exim_debian_clear(&deb);
	/* Another name, or no header: not the generated file. */
	snprintf(conf, sizeof(conf), "%s/etc/exim4/exim4.conf", root);
	assert_int_equal(mc_exim_debian_detect(conf, text, strlen(text), &deb), 0);
	snprintf(conf, sizeof(conf), "%s/var/lib/exim4/config.autogenerated", root);
	assert_int_equal(mc_exim_debian_detect(conf, "a = 1\n", 6, &deb), 0);

	unlink(path);
	snprintf(path, sizeof(path), "%s/usr/sbin", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/usr", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/etc/exim4", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/etc", root);
	rmdir(path);
	rmdir(root);
}

static void test_option_in(void **state)
{
	static const char main_only[] = "a = 1\n# queue_only = true\nqueue_only_load = 2\n"
		"x = \\\nqueue_only\nbegin acl\nhold_domains = *\n";
	static const char after_begin[] = "begin routers\nhold_domains = a\n";

	(void)state;
	assert_null(mc_exim_freeze_option_in(main_only, strlen(main_only), true));
	assert_string_equal(mc_exim_freeze_option_in(main_only, strlen(main_only), false),
			    "hold_domains");
	assert_null(mc_exim_freeze_option_in(after_begin, strlen(after_begin), true));
	assert_string_equal(mc_exim_freeze_option_in("  hide no_queue_only\n", 21, true),
			    "queue_only");
	assert_string_equal(mc_exim_freeze_option_in("hold_domains", 12, true),
			    "hold_domains");
	assert_null(mc_exim_freeze_option_in("", 0, true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_main_section),
		cmocka_unit_test(test_no_begin),
		cmocka_unit_test(test_includes),
		cmocka_unit_test(test_debian_kind),
		cmocka_unit_test(test_debian_detect),
		cmocka_unit_test(test_option_in),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
