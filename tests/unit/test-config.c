/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-config 1
/* SUMMARY
/*	unit tests of the settings file parser (lib/config.c)
/* DESCRIPTION
/*	Settings, comments, blank lines, continuation lines and values
/*	holding '#' are read as the manual says; every malformed line,
/*	unknown setting, setting given twice or without a value, and
/*	control character is an error naming the file and the line. A
/*	missing file is empty only when that is allowed; a file others
/*	may write, a directory and a FIFO are refused.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mailcure/mailcure.h"
#include "mailcure/config.h"
#include "fixture.h"

static const char *const names[] = {
	"jobs", "quarantine", "isolate_allow", "max_message_size", NULL,
};

static struct mc_config *parse_ok(const char *text)
{
	struct mc_config *c = NULL;
	char *error = NULL;

	if (mc_config_parse("t.conf", text, strlen(text), names, &c, &error) < 0)
		fail_msg("unexpected error: %s", error);
	assert_non_null(c);
	return c;
}

/* TEXT fails with exactly WANT. */
static void parse_fails(const char *text, size_t len, const char *want)
{
	struct mc_config *c = NULL;
	char *error = NULL;

	assert_int_equal(mc_config_parse("t.conf", text, len, names, &c, &error), -1);
	assert_null(c);
	assert_non_null(error);
	assert_string_equal(error, want);
	free(error);
}

static void test_settings(void **state)
{
	struct mc_config *c = parse_ok(
		"# mailcure settings\n"
		"\n"
		"jobs = 4\n"
		"quarantine=/srv/q #1   \t\n"
		"   # a comment between\n"
		"isolate_allow = 192.0.2.0/24,\n"
		"\t2001:db8::/32\n"
		"    # and between continuation lines\n"
		"  198.51.100.7\n"
		"max_message_size =\n"
		"   64M");

	assert_int_equal(c->count, 4);
	assert_string_equal(c->entries[0].name, "jobs");
	assert_string_equal(c->entries[0].value, "4");
	assert_int_equal(c->entries[0].line, 3);
	assert_string_equal(c->entries[1].value, "/srv/q #1");
	assert_string_equal(mc_config_get(c, "isolate_allow")->value,
			    "192.0.2.0/24, 2001:db8::/32 198.51.100.7");
	assert_int_equal(mc_config_get(c, "isolate_allow")->line, 6);
	assert_string_equal(mc_config_get(c, "max_message_size")->value, "64M");
	assert_null(mc_config_get(c, "nothing"));
	mc_config_free(&c);
	assert_null(c);

	c = parse_ok("");
	assert_int_equal(c->count, 0);
	mc_config_free(&c);
	c = parse_ok("\n# only a comment\n\t\n");
	assert_int_equal(c->count, 0);
	mc_config_free(&c);
}

#define FAILS(text, want) parse_fails(text, sizeof(text) - 1, want)

static void test_errors(void **state)
{
	static const char nul[] = "jobs = 4\nquarantine = /q\0x\n";

	FAILS("jobs = 1\nthreads = 4\n", "t.conf:2: unknown setting threads");
	FAILS("jobs = 1\n\njobs = 2\n", "t.conf:3: jobs is set twice (first at line 1)");
	FAILS("jobs 4\n", "t.conf:1: not a 'name = value' line");
	FAILS("= 4\n", "t.conf:1: not a 'name = value' line");
	FAILS("Jobs = 4\n", "t.conf:1: not a 'name = value' line");
	FAILS("jobs-x = 4\n", "t.conf:1: not a 'name = value' line");
	FAILS("  jobs = 4\n", "t.conf:1: a continuation line (it starts with a "
		    "space) without a setting above it");
	FAILS("jobs =\nquarantine = /q\n", "t.conf:1: jobs has no value");
	FAILS("# x\njobs =   \n", "t.conf:2: jobs has no value");
	FAILS(nul, "t.conf:2: control character 0x00");
	FAILS("jobs = 4\r\n", "t.conf:1: control character 0x0d");
	FAILS("jobs = \0334\n", "t.conf:1: control character 0x1b");
	FAILS("jobs = 4\x7f\n", "t.conf:1: control character 0x7f");
}

static char *tmp_path(const char *name)
{
	char *dir = mc_fixture_tmpdir("config"), *path;

	if (dir == NULL || asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	free(dir);
	return path;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	assert_int_equal(mc_fixture_write_file(path, text, mode), 0);
}

static void test_read(void **state)
{
	char *path = tmp_path("mailcure.conf"), *dir = strdup(path), *error = NULL;
	struct mc_config *c = NULL;

	*strrchr(dir, '/') = '\0';
	assert_int_equal(mc_config_read(path, true, names, &c, &error), 0);
	assert_true(c->missing);
	assert_int_equal(c->count, 0);
	mc_config_free(&c);
	assert_int_equal(mc_config_read(path, false, names, &c, &error), -1);
	assert_non_null(strstr(error, "No such file"));
	free(error);
	error = NULL;

	write_file(path, "jobs = 2\n", 0644);
	assert_int_equal(mc_config_read(path, false, names, &c, &error), 0);
	assert_false(c->missing);
	assert_string_equal(c->entries[0].value, "2");
	mc_config_free(&c);

	write_file(path, "jobs = 2\nbad\n", 0600);
	assert_int_equal(mc_config_read(path, false, names, &c, &error), -1);
	assert_non_null(strstr(error, ".conf:2: not a 'name = value' line"));
	free(error);
	error = NULL;

	/* Anybody who may write it could redirect the quarantine. */
	write_file(path, "jobs = 2\n", 0664);
	assert_int_equal(mc_config_read(path, true, names, &c, &error), -1);
	assert_non_null(strstr(error, "refused"));
	free(error);
	error = NULL;
	unlink(path);

	assert_int_equal(mc_config_read(dir, true, names, &c, &error), -1);
	assert_non_null(strstr(error, "not a regular file"));
	free(error);
	error = NULL;

	/* A FIFO is refused without waiting for a writer. */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(mc_config_read(path, true, names, &c, &error), -1);
	assert_non_null(strstr(error, "not a regular file"));
	free(error);
	unlink(path);
	rmdir(dir);
	free(dir);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
