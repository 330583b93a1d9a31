/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-journal 1
/* SUMMARY
/*	unit tests of the step journal of a run (lib/journal.c)
/* DESCRIPTION
/*	Records appended are read back; the state of a step is that of
/*	its last record. A journal that a crash left with a torn last
/*	line (read when it is a whole record), or with a tail of NUL bytes (what a file system may show
/*	after a power loss), still takes new records that are read back,
/*	and lines after a damaged one are still read.
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

#include "mailcure/mailcure.h"

static int setup(void **state)
{
	const char *base = getenv("TMPDIR");
	char *dir;

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	if (asprintf(&dir, "%s/test-journal.XXXXXX", base) < 0 || mkdtemp(dir) == NULL)
		return -1;
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	char *dir = *state, *path;

	if (asprintf(&path, "%s/journal.jsonl", dir) >= 0) {
		unlink(path);
		free(path);
	}
	rmdir(dir);
	free(dir);
	return 0;
}

static void write_journal(const char *dir, const void *data, size_t len)
{
	char *path;
	int fd;

	assert_true(asprintf(&path, "%s/journal.jsonl", dir) > 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	free(path);
}

static struct mc_journal *open_journal(const char *dir)
{
	char *error = NULL;
	struct mc_journal *j = mc_journal_open(dir, false, &error);

	if (j == NULL)
		fail_msg("mc_journal_open: %s", error);
	return j;
}

/* Append a record to the journal in DIR, then read the journal again:
   it must hold WANT records, the new one last. */
static void append_then_read(const char *dir, size_t want)
{
	struct mc_journal *j = open_journal(dir);
	const struct mc_journal_record *rec;
	char *error = NULL;
	size_t count;

	assert_int_equal(mc_journal_append(j, "mailbox-clean", "done", 1, "3 quarantined",
					   &error), 0);
	mc_journal_close(&j);
	j = open_journal(dir);
	rec = mc_journal_records(j, &count);
	assert_int_equal(count, want);
	assert_string_equal(rec[count - 1].step, "mailbox-clean");
	assert_string_equal(rec[count - 1].state, "done");
	assert_int_equal(rec[count - 1].exit_code, 1);
	assert_string_equal(rec[count - 1].detail, "3 quarantined");
	assert_string_equal(mc_journal_step_state(j, "mailbox-clean"), "done");
	mc_journal_close(&j);
}

static const char two_records[] =
	"{\"time\":1772445600,\"step\":\"isolate\",\"state\":\"start\",\"exit\":0}\n"
	"{\"time\":1772445601,\"step\":\"isolate\",\"state\":\"done\",\"exit\":0}\n";

static void test_append_read(void **state)
{
	const char *dir = *state;
	struct mc_journal *j;
	char *error = NULL;

	j = mc_journal_open(dir, true, &error);
	assert_non_null(j);
	assert_null(mc_journal_step_state(j, "isolate"));
	assert_int_equal(mc_journal_append(j, "isolate", "start", 0, NULL, &error), 0);
	assert_int_equal(mc_journal_append(j, "isolate", "done", 0, "cut off", &error), 0);
	assert_string_equal(mc_journal_step_state(j, "isolate"), "done");
	mc_journal_close(&j);
	append_then_read(dir, 3);
}

/* A record torn by a crash: the next append starts a line of its own. */
static void test_torn_last_line(void **state)
{
	const char *dir = *state;
	char text[sizeof(two_records) + 64];

	snprintf(text, sizeof(text), "%s{\"time\":1772445602,\"step\":\"queue-fr", two_records);
	write_journal(dir, text, strlen(text));
	append_then_read(dir, 3);
	/* And once more, now that the file ends with a newline. */
	append_then_read(dir, 4);

	/* Torn just before its newline: a whole record, read before
	   and after the next append alike. */
	snprintf(text, sizeof(text), "%s{\"time\":1772445602,\"step\":\"queue-freeze\","
		 "\"state\":\"done\"}", two_records);
	write_journal(dir, text, strlen(text));
	struct mc_journal *j = open_journal(dir);
	assert_string_equal(mc_journal_step_state(j, "queue-freeze"), "done");
	mc_journal_close(&j);
	append_then_read(dir, 4);
}

/* A tail of NUL bytes, with and without a newline after it. */
static void test_nul_tail(void **state)
{
	const char *dir = *state;
	char text[sizeof(two_records) + 64];
	size_t len = strlen(two_records);

	memcpy(text, two_records, len);
	memset(text + len, 0, 40);
	write_journal(dir, text, len + 40);
	append_then_read(dir, 3);

	text[len + 40] = '\n';
	write_journal(dir, text, len + 41);
	append_then_read(dir, 3);
}

/* Lines after a damaged line (NUL bytes, not JSON) are read. */
static void test_lines_after_damage(void **state)
{
	const char *dir = *state;
	static const char text[] =
		"{\"time\":1,\"step\":\"isolate\",\"state\":\"start\",\"exit\":0}\n"
		"{\"time\":2,\"st\0\0\0\0\n"
		"not json\n"
		"{\"time\":3,\"step\":\"isolate\",\"state\":\"done\",\"exit\":0}\n";
	struct mc_journal *j;
	const struct mc_journal_record *rec;
	size_t count;

	write_journal(dir, text, sizeof(text) - 1);
	j = open_journal(dir);
	rec = mc_journal_records(j, &count);
	assert_int_equal(count, 2);
	assert_int_equal(rec[1].time, 3);
	assert_string_equal(mc_journal_step_state(j, "isolate"), "done");
	mc_journal_close(&j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_last_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nul_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines_after_damage, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
