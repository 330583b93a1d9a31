/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-watch-policy 1
/* SUMMARY
/*	unit tests of the watch policy file (lib/watch_policy.c)
/* DESCRIPTION
/*	The built-in policy quarantines malware read or not and reports
/*	the rest, with caps of 50 per mailbox and 1000 in all and no
/*	notification; every setting of a file changes what it names and
/*	nothing else; a bad value, an address that is not a plain one, a
/*	relative path, an unknown setting are errors naming the file and
/*	the line; a file others may write is refused; the shipped
/*	example etc/mailcure/watch-policy.conf is the built-in policy.
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
#include "mailcure/watch_policy.h"
#include "fixture.h"

static struct mc_watch_policy *parse_ok(const char *text)
{
	struct mc_watch_policy *pol = NULL;
	char *error = NULL;

	if (mc_watch_policy_parse("p.conf", text, strlen(text), &pol, &error) < 0)
		fail_msg("unexpected error: %s", error);
	assert_non_null(pol);
	return pol;
}

static void parse_fails(const char *text, const char *want)
{
	struct mc_watch_policy *pol = NULL;
	char *error = NULL;

	assert_int_equal(mc_watch_policy_parse("p.conf", text, strlen(text), &pol,
					       &error), -1);
	assert_null(pol);
	assert_non_null(error);
	assert_string_equal(error, want);
	free(error);
}

/* POL is the built-in policy. */
static void assert_default(const struct mc_watch_policy *pol)
{
	for (unsigned seen = 0; seen < 2; seen++) {
		assert_int_equal(mc_watch_policy_action(pol, MC_WATCH_VIRUS, seen),
				 MC_WATCH_QUARANTINE);
		assert_int_equal(mc_watch_policy_action(pol, MC_WATCH_YARA, seen),
				 MC_WATCH_REPORT);
		assert_int_equal(mc_watch_policy_action(pol, MC_WATCH_IOC, seen),
				 MC_WATCH_REPORT);
		assert_int_equal(mc_watch_policy_action(pol, MC_WATCH_QUERY, seen),
				 MC_WATCH_REPORT);
	}
	assert_int_equal(mc_watch_policy_cap_mailbox(pol), 50);
	assert_int_equal(mc_watch_policy_cap_total(pol), 1000);
	assert_false(mc_watch_policy_notify_users(pol));
	assert_null(mc_watch_policy_notify_admin(pol));
	assert_null(mc_watch_policy_notify_template(pol));
	assert_null(mc_watch_policy_notify_admin_template(pol));
	assert_string_equal(mc_watch_policy_notify_from(pol), "postmaster");
	assert_string_equal(mc_watch_policy_sendmail(pol), "/usr/sbin/sendmail");
}

static void test_defaults(void **state)
{
	struct mc_watch_policy *pol = NULL;
	char *error = NULL;

	assert_int_equal(mc_watch_policy_load(NULL, &pol, &error), 0);
	assert_default(pol);
	/* A kind it does not know is only reported. */
	assert_int_equal(mc_watch_policy_action(pol, (enum mc_watch_kind)7, false),
			 MC_WATCH_REPORT);
	mc_watch_policy_free(&pol);
	assert_null(pol);
	mc_watch_policy_free(&pol);

	pol = parse_ok("# nothing set\n");
	assert_default(pol);
	mc_watch_policy_free(&pol);

	assert_string_equal(mc_watch_kind_name(MC_WATCH_IOC), "ioc");
	assert_string_equal(mc_watch_action_name(MC_WATCH_JUNK), "junk");
}

static void test_settings(void **state)
{
	struct mc_watch_policy *pol = parse_ok(
		"virus_read = report\n"
		"yara_unread = junk\n"
		"yara_read = quarantine\n"
		"ioc_unread = quarantine\n"
		"query_read = junk\n"
		"max_per_mailbox = 7\n"
		"max_total = 10000000\n"
		"notify_users = yes\n"
		"notify_admin = abuse@mail.example.org\n"
		"notify_template = /etc/mailcure/user.tmpl\n"
		"notify_admin_template = /etc/mailcure/admin.tmpl\n"
		"notify_from = mailer-daemon@example.org\n"
		"sendmail = /usr/lib/sendmail\n");

	assert_int_equal(mc_watch_policy_action(pol, MC_WATCH_VIRUS, false),
			 MC_WATCH_QUARANTINE);
	assert_int_equal(mc_watch_policy_action(pol, MC_WATCH_VIRUS, true), MC_WATCH_REPORT);
	assert_int_equal(mc_watch_policy_action(pol, MC_WATCH_YARA, false), MC_WATCH_JUNK);
	assert_int_equal(mc_watch_policy_action(pol, MC_WATCH_YARA, true),
			 MC_WATCH_QUARANTINE);
	assert_int_equal(mc_watch_policy_action(pol, MC_WATCH_IOC, false),
			 MC_WATCH_QUARANTINE);
	assert_int_equal(mc_watch_policy_action(pol, MC_WATCH_IOC, true), MC_WATCH_REPORT);
	assert_int_equal(mc_watch_policy_action(pol, MC_WATCH_QUERY, false),
			 MC_WATCH_REPORT);
	assert_int_equal(mc_watch_policy_action(pol, MC_WATCH_QUERY, true), MC_WATCH_JUNK);
	assert_int_equal(mc_watch_policy_cap_mailbox(pol), 7);
	assert_int_equal(mc_watch_policy_cap_total(pol), 10000000);
	assert_true(mc_watch_policy_notify_users(pol));
	assert_string_equal(mc_watch_policy_notify_admin(pol), "abuse@mail.example.org");
	assert_string_equal(mc_watch_policy_notify_template(pol), "/etc/mailcure/user.tmpl");
	assert_string_equal(mc_watch_policy_notify_admin_template(pol),
			    "/etc/mailcure/admin.tmpl");
	assert_string_equal(mc_watch_policy_notify_from(pol), "mailer-daemon@example.org");
	assert_string_equal(mc_watch_policy_sendmail(pol), "/usr/lib/sendmail");
	mc_watch_policy_free(&pol);

	pol = parse_ok("notify_admin = none\nnotify_users = no\nnotify_from = root\n");
	assert_null(mc_watch_policy_notify_admin(pol));
	assert_false(mc_watch_policy_notify_users(pol));
	assert_string_equal(mc_watch_policy_notify_from(pol), "root");
	mc_watch_policy_free(&pol);
}

static void test_errors(void **state)
{
	parse_fails("virus_unread = delete\n", "p.conf:1: virus_unread = delete: "
		    "not quarantine, junk or report");
	parse_fails("\nyara_read = Quarantine\n", "p.conf:2: yara_read = Quarantine: "
		    "not quarantine, junk or report");
	parse_fails("virus = quarantine\n", "p.conf:1: unknown setting virus");
	parse_fails("virus_seen = report\n", "p.conf:1: unknown setting virus_seen");
	parse_fails("max_total = 0\n", "p.conf:1: max_total = 0: not a number from 1 "
		    "to 10000000");
	parse_fails("max_total = 10000001\n", "p.conf:1: max_total = 10000001: not a "
		    "number from 1 to 10000000");
	parse_fails("max_per_mailbox = 99999999999999999999999\n", "p.conf:1: "
		    "max_per_mailbox = 99999999999999999999999: not a number from 1 to "
		    "10000000");
	parse_fails("max_per_mailbox = -5\n", "p.conf:1: max_per_mailbox = -5: not a "
		    "number from 1 to 10000000");
	parse_fails("max_per_mailbox = 5k\n", "p.conf:1: max_per_mailbox = 5k: not a "
		    "number from 1 to 10000000");
	parse_fails("notify_users = true\n", "p.conf:1: notify_users = true: not yes "
		    "or no");
	parse_fails("notify_admin = -oQ/tmp@x\n", "p.conf:1: notify_admin = -oQ/tmp@x: "
		    "not a plain mail address (user@domain, or a local user) nor none");
	parse_fails("notify_admin = Admin <a@b>\n", "p.conf:1: notify_admin = Admin "
		    "<a@b>: not a plain mail address (user@domain, or a local user) nor none");
	parse_fails("notify_from = a b@c\n", "p.conf:1: notify_from = a b@c: not a "
		    "plain mail address (user@domain, or a local user)");
	parse_fails("notify_template = tmpl\n", "p.conf:1: notify_template = tmpl: "
		    "not an absolute path");
	parse_fails("sendmail = sendmail\n", "p.conf:1: sendmail = sendmail: not an "
		    "absolute path");
	parse_fails("max_total = 5\nmax_total = 6\n", "p.conf:2: max_total is set "
		    "twice (first at line 1)");
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	assert_int_equal(mc_fixture_write_file(path, text, mode), 0);
}

static void test_load(void **state)
{
	char *dir = mc_fixture_tmpdir("watch-policy"), *path, *error = NULL;
	struct mc_watch_policy *pol = NULL;

	assert_non_null(dir);
	assert_true(asprintf(&path, "%s/watch-policy.conf", dir) > 0);
	assert_int_equal(mc_watch_policy_load(path, &pol, &error), -1);
	assert_non_null(strstr(error, "No such file"));
	free(error);
	error = NULL;

	write_file(path, "max_total = 3\n\nvirus_read = junk\n", 0644);
	assert_int_equal(mc_watch_policy_load(path, &pol, &error), 0);
	assert_int_equal(mc_watch_policy_cap_total(pol), 3);
	assert_int_equal(mc_watch_policy_action(pol, MC_WATCH_VIRUS, true), MC_WATCH_JUNK);
	mc_watch_policy_free(&pol);

	write_file(path, "max_total = 3\n\nvirus_read = no\n", 0600);
	assert_int_equal(mc_watch_policy_load(path, &pol, &error), -1);
	assert_non_null(strstr(error, "watch-policy.conf:3: virus_read = no: "));
	free(error);
	error = NULL;

	/* Who may write the policy decides what root removes. */
	write_file(path, "max_total = 3\n", 0666);
	assert_int_equal(mc_watch_policy_load(path, &pol, &error), -1);
	assert_non_null(strstr(error, "refused"));
	assert_null(pol);
	free(error);
	unlink(path);
	free(path);
	mc_fixture_rm_rf(dir);
	free(dir);
}

/* The example shipped is the built-in policy, every line commented. */
static void test_example(void **state)
{
	struct mc_watch_policy *pol = NULL;
	char *error = NULL, *text = NULL;
	size_t len = 0;
	FILE *in = fopen(MC_SOURCE_DIR "/etc/mailcure/watch-policy.conf", "r");
	FILE *out = open_memstream(&text, &len);
	char line[1024];

	assert_non_null(in);
	assert_non_null(out);
	/* Uncommented, its "#name = value" lines give the defaults. */
	while (fgets(line, sizeof(line), in) != NULL) {
		if (line[0] == '#' && line[1] >= 'a' && line[1] <= 'z')
			fputs(line + 1, out);
		else
			assert_true(line[0] == '#' || line[0] == '\n');
	}
	fclose(in);
	assert_int_equal(fclose(out), 0);
	assert_true(len > 100);
	if (mc_watch_policy_parse("watch-policy.conf", text, len, &pol, &error) < 0)
		fail_msg("%s", error);
	assert_default(pol);
	mc_watch_policy_free(&pol);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_example),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
