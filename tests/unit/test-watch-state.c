/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-watch-state 1
/* SUMMARY
/*	unit tests of the kept state of watch (lib/watch_state.c)
/* DESCRIPTION
/*	Messages, intents, outcomes, changes and approvals recorded are
/*	read back after a reopen, keys with spaces, '%', newlines and
/*	bytes above 127 included. A log a crash tore (a last line
/*	without its newline) loses only that line. An intent without an
/*	outcome is read back as pending; the actions of the current
/*	change count against the caps across reopens, those of an older
/*	change do not. Messages delivered before the window are
/*	forgotten at open unless an action on them is pending; a
/*	forgotten message can come back. Maildir keys survive the IMAP
/*	server's renames; mbox keys survive a move of the message in
/*	its file.
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
#include "mailcure/watch_state.h"

static const char weird[] = "maildir:/home/a b/Maildir/.%41 x\n/17000.M1P2.host";

static int setup(void **state)
{
	const char *base = getenv("TMPDIR");
	char *dir;

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	if (asprintf(&dir, "%s/test-watch-state.XXXXXX", base) < 0 || mkdtemp(dir) == NULL)
		return -1;
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	char *dir = *state, *path;

	for (int i = 0; i < 2; i++) {
		if (asprintf(&path, "%s/%s", dir, i == 0 ? "state" : "state.new") >= 0) {
			unlink(path);
			free(path);
		}
	}
	rmdir(dir);
	free(dir);
	return 0;
}

static struct mc_watch_state *reopen(const char *dir, struct mc_watch_state **st,
				     time_t forget_before)
{
	char *error = NULL;

	mc_watch_state_close(st);
	assert_int_equal(mc_watch_state_open(dir, forget_before, st, &error), 0);
	return *st;
}

static void test_roundtrip(void **state)
{
	const char *dir = *state;
	struct mc_watch_state *st = NULL;
	unsigned char parts[2][32];
	struct mc_watch_msg *m;
	char *error = NULL;

	memset(parts[0], 0xab, 32);
	memset(parts[1], 0x01, 32);
	reopen(dir, &st, 0);
	assert_null(mc_watch_state_change(st));
	mc_watch_state_add(st, weird, 1000, false, (const unsigned char (*)[32])parts, 2);
	mc_watch_state_add(st, "mbox:/var/mail/b#00", 1001, true, NULL, 0);
	assert_int_equal(mc_watch_state_flush(st, &error), 0);
	assert_int_equal(mc_watch_state_change_begin(st, "C1", "ident1", &error), 0);
	assert_int_equal(mc_watch_state_intent(st, weird, "RUN1", &error), 0);
	assert_int_equal(mc_watch_state_outcome(st, weird, "C1", "a b", "quarantined",
						"Q1", &error), 0);
	assert_int_equal(mc_watch_state_intent(st, "mbox:/var/mail/b#00", "RUN2", &error), 0);

	reopen(dir, &st, 0);
	assert_string_equal(mc_watch_state_change(st), "C1");
	assert_string_equal(mc_watch_state_identity(st), "ident1");
	assert_int_equal(mc_watch_state_count(st), 2);
	m = mc_watch_state_get(st, weird);
	assert_non_null(m);
	assert_int_equal(m->delivered, 1000);
	assert_true(m->acted);
	assert_null(m->pending_run);
	assert_int_equal(m->part_count, 2);
	assert_memory_equal(m->parts, parts, 64);
	m = mc_watch_state_get(st, "mbox:/var/mail/b#00");
	assert_non_null(m);
	assert_true(m->whole);
	assert_false(m->acted);
	assert_string_equal(m->pending_run, "RUN2");
	assert_int_equal(mc_watch_state_acted(st, "a b"), 1);
	assert_int_equal(mc_watch_state_acted(st, NULL), 1);
	assert_false(mc_watch_state_approved(st));

	/* A new change starts its counts afresh; approval is of one change. */
	assert_int_equal(mc_watch_state_approve(st, "C0", &error), -1);
	free(error);
	error = NULL;
	assert_int_equal(mc_watch_state_change_begin(st, "C2", "ident2", &error), 0);
	assert_int_equal(mc_watch_state_approve(st, "C2", &error), 0);
	reopen(dir, &st, 0);
	assert_int_equal(mc_watch_state_acted(st, NULL), 0);
	assert_true(mc_watch_state_approved(st));
	mc_watch_state_close(&st);
}

static void test_torn_and_forgotten(void **state)
{
	const char *dir = *state;
	struct mc_watch_state *st = NULL;
	char *path, *error = NULL;
	int fd;

	reopen(dir, &st, 0);
	mc_watch_state_add(st, "maildir:/m/old", 10, false, NULL, 0);
	mc_watch_state_add(st, "maildir:/m/old-pending", 10, false, NULL, 0);
	mc_watch_state_add(st, "maildir:/m/new", 5000, false, NULL, 0);
	mc_watch_state_add(st, "maildir:/m/gone", 5000, false, NULL, 0);
	assert_int_equal(mc_watch_state_intent(st, "maildir:/m/old-pending", "R", &error), 0);
	mc_watch_state_forget(st, "maildir:/m/gone");
	mc_watch_state_close(&st);
	/* A crash in the middle of a record. */
	assert_true(asprintf(&path, "%s/state", dir) > 0);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "M 6000 0 maildir:/m/torn", 24), 24);
	close(fd);
	free(path);

	reopen(dir, &st, 1000);
	assert_null(mc_watch_state_get(st, "maildir:/m/old"));
	assert_non_null(mc_watch_state_get(st, "maildir:/m/old-pending"));
	assert_non_null(mc_watch_state_get(st, "maildir:/m/new"));
	assert_null(mc_watch_state_get(st, "maildir:/m/gone"));
	assert_null(mc_watch_state_get(st, "maildir:/m/torn"));
	/* What comes after the torn line is read. */
	mc_watch_state_add(st, "maildir:/m/gone", 7000, false, NULL, 0);
	reopen(dir, &st, 1000);
	assert_int_equal(mc_watch_state_get(st, "maildir:/m/gone")->delivered, 7000);
	assert_int_equal(mc_watch_state_compact(st, 6000, &error), 0);
	assert_null(mc_watch_state_get(st, "maildir:/m/new"));
	reopen(dir, &st, 0);
	assert_non_null(mc_watch_state_get(st, "maildir:/m/gone"));
	assert_null(mc_watch_state_get(st, "maildir:/m/new"));
	mc_watch_state_close(&st);
}

static void test_keys(void **state)
{
	static const char head[] = "Received: x\nSubject: s\n\nbody\n";
	struct mc_msg a = { .loc = { .kind = "maildir", .folder = "Sent",
				     .path = "/h/u/Maildir/.Sent/new/1700.M1P2.host" } };
	struct mc_msg b = { .loc = { .kind = "maildir", .folder = "Sent",
				     .path = "/h/u/Maildir/.Sent/cur/1700.M1P2.host:2,RS" } };
	struct mc_msg c = { .loc = { .kind = "mbox", .path = "/var/mail/u", .offset = 0 },
			    .head = (const unsigned char *)head, .head_size = 24 };
	struct mc_msg d = { .loc = { .kind = "mbox", .path = "/var/mail/u", .offset = 4096 },
			    .data = (const unsigned char *)head, .size = sizeof(head) - 1 };
	char *ka = mc_watch_key(&a), *kb = mc_watch_key(&b), *kc = mc_watch_key(&c),
		*kd = mc_watch_key(&d);

	(void)state;
	assert_string_equal(ka, "maildir:/h/u/Maildir/.Sent/1700.M1P2.host");
	assert_string_equal(ka, kb);
	assert_string_equal(kc, kd);
	assert_non_null(strstr(kc, "mbox:/var/mail/u#"));
	free(ka);
	free(kb);
	free(kc);
	free(kd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_and_forgotten, setup, teardown),
		cmocka_unit_test(test_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
