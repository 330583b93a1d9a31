/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-mbox 1
/* SUMMARY
/*	unit tests of the mbox store (lib/store/mbox*.c, lib/mbox_lock.c)
/* DESCRIPTION
/*	Pins the From_ line parser over the forms real writers made.
/*	Pins the splitter: From_ lines after an empty line and with a
/*	date, or without the empty line when complete and followed by a
/*	header (and a message holding a line that only looks like one is
/*	not cut), >From quoting kept in raw and undone in data, a last
/*	message without its newline, the raws of a file adding up to the
/*	file exactly (also with messages spanning the read window and a
/*	message too large to keep), offsets, and non-mbox bytes before
/*	the first From_ line reported, never yielded as a message. Pins
/*	reading heads first: the head is the start of the data, loading
/*	gives the data a whole read gives, and a message that changed
/*	since it was split is not loaded.
/*
/*	Pins removal: the other messages stay byte-identical and in
/*	order on the same inode with the same mode; a message that
/*	changed since it was read is neither removed nor quarantined; a
/*	message a delivery agent appends while mailcure waits for the
/*	fcntl lock or the dotlock is kept; a lock that is never released
/*	times out without touching anything; an interrupted rewrite is
/*	completed from its journal, the staged entries it names committed
/*	and the others discarded, before a clean reads the mailbox or a
/*	restore appends to it. Pins restore: appended under lock after
/*	an empty line, and a missing mbox recreated with its mode.
/*
/*	Each test works in its own temporary directory with a real
/*	quarantine.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "fixture.h"
#include "mbox_lock.h"
#include "store/store-private.h"

struct fixture {
	char *tmp;
	char *mbox;		/* TMP/mbox */
	struct mc_quarantine *q;
	struct mc_limits limits;
	struct mc_store_settings set;
};

static struct mc_reason reason_all = { MC_REASON_ALL, (char *)"", NULL };
static struct mc_match match_all = { .matched = true, .reasons = &reason_all,
				     .reason_count = 1 };

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if ((f->tmp = mc_fixture_tmpdir("mbox")) == NULL ||
	    asprintf(&f->mbox, "%s/mbox", f->tmp) < 0 ||
	    (f->q = mc_fixture_quarantine(f->tmp, NULL)) == NULL)
		return -1;
	mc_limits_default(&f->limits);
	f->set.limits = &f->limits;
	mc_mbox_lock_set_timeout(300);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	mc_quarantine_close(&f->q);
	mc_fixture_rm_rf(f->tmp);
	free(f->tmp);
	free(f->mbox);
	free(f);
	return 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void append_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static char *read_file(const char *path, size_t *len_r)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long len;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)len + 1);
	assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
	buf[len] = '\0';
	fclose(fp);
	*len_r = (size_t)len;
	return buf;
}

/* All items of STORE_URI. */
struct items {
	struct mc_store *store;
	struct mc_msg **msgs;
	size_t count;
};

static void items_read(struct fixture *f, const char *uri, struct items *it)
{
	char *err = NULL;
	struct mc_msg *msg;
	int ret;

	memset(it, 0, sizeof(*it));
	if (mc_store_open(uri, &f->set, &it->store, &err) < 0)
		fail_msg("open %s: %s", uri, err);
	while ((ret = mc_store_next(it->store, &msg, &err)) > 0) {
		it->msgs = realloc(it->msgs, (it->count + 1) * sizeof(*it->msgs));
		it->msgs[it->count++] = msg;
	}
	assert_int_equal(ret, 0);
}

static void items_free(struct items *it)
{
	for (size_t i = 0; i < it->count; i++)
		mc_store_msg_free(it->store, &it->msgs[i]);
	mc_store_close(&it->store);
	free(it->msgs);
}

/* Remove the messages with the given indexes (one container). */
static void remove_some(struct fixture *f, struct items *it, const size_t *idx,
			size_t n, struct mc_removal *rm)
{
	memset(rm, 0, n * sizeof(*rm));
	for (size_t i = 0; i < n; i++) {
		rm[i].msg = it->msgs[idx[i]];
		rm[i].match = &match_all;
	}
	mc_store_remove(it->store, f->q, "run-test", rm, n);
}

static size_t quarantine_count(struct fixture *f)
{
	struct mc_quarantine_iter *iter = mc_quarantine_iter_init(f->q);
	struct mc_qentry *e;
	size_t n = 0;

	while ((e = mc_quarantine_iter_next(iter)) != NULL) {
		n++;
		mc_qentry_free(&e);
	}
	mc_quarantine_iter_deinit(&iter);
	return n;
}

static const char M1[] =
	"From alice@example.com Mon Mar  2 10:00:00 2026\n"
	"From: alice@example.com\nSubject: one\n\nhello\n"
	">From the start\n>>From deeper\nFrom: not at line start? no, it is\n\n";
static const char M2[] =
	"From bob@example.com Tue Mar  3 11:00:00 2026\n"
	"From: bob@example.com\nSubject: two\n\nFrom what I understand, this is no From_ line.\n"
	"\nFrom here on, neither.\n\n";
static const char M3[] =
	"From MAILER-DAEMON Wed Mar  4 12:00:00 2026\n"
	"From: carol@example.com\nSubject: three\n\nno newline at the end";

static void test_split(void **state)
{
	struct fixture *f = *state;
	struct items it;
	char *uri, *all;
	size_t len, at = 0;

	all = malloc(strlen(M1) + strlen(M2) + strlen(M3) + 1);
	strcpy(all, M1);
	strcat(all, M2);
	strcat(all, M3);
	write_file(f->mbox, all, strlen(all));
	assert_true(asprintf(&uri, "mbox:%s", f->mbox) > 0);
	items_read(f, uri, &it);
	assert_int_equal(it.count, 3);
	len = strlen(all);
	for (size_t i = 0; i < it.count; i++) {
		struct mc_msg *m = it.msgs[i];

		assert_null(m->read_error);
		assert_int_equal(m->loc.offset, (int64_t)at);
		assert_memory_equal(m->raw, all + at, m->raw_size);
		assert_string_equal(m->loc.kind, "mbox");
		assert_string_equal(m->loc.store, uri);
		assert_string_equal(m->loc.folder, "INBOX");
		assert_non_null(m->loc.user);
		assert_int_equal(mc_store_container_last(it.store, m), i == 2);
		at += m->raw_size;
	}
	assert_int_equal(at, len);
	/* data: no From_ line, no separator, >From unquoted once. */
	const char *d1 = "From: alice@example.com\nSubject: one\n\nhello\n"
		"From the start\n>From deeper\nFrom: not at line start? no, it is\n";
	assert_int_equal(it.msgs[0]->size, strlen(d1));
	assert_memory_equal(it.msgs[0]->data, d1, strlen(d1));
	assert_true(memmem(it.msgs[0]->raw, it.msgs[0]->raw_size, "\n>From the start", 16) != NULL);
	const char *d2 = "From: bob@example.com\nSubject: two\n\nFrom what I understand, "
		"this is no From_ line.\n\nFrom here on, neither.\n";
	assert_int_equal(it.msgs[1]->size, strlen(d2));
	assert_memory_equal(it.msgs[1]->data, d2, strlen(d2));
	const char *d3 = "From: carol@example.com\nSubject: three\n\nno newline at the end";
	assert_int_equal(it.msgs[2]->size, strlen(d3));
	assert_memory_equal(it.msgs[2]->data, d3, strlen(d3));
	items_free(&it);
	free(uri);
	free(all);
}

static void test_split_garbage_and_empty(void **state)
{
	struct fixture *f = *state;
	const char garbage[] = "This is not\nan mbox\n\n";
	struct items it;
	char *uri, *all;

	assert_true(asprintf(&all, "%s%s", garbage, M1) > 0);
	write_file(f->mbox, all, strlen(all));
	assert_true(asprintf(&uri, "mbox:%s", f->mbox) > 0);
	items_read(f, uri, &it);
	assert_int_equal(it.count, 2);
	assert_non_null(it.msgs[0]->read_error);
	assert_non_null(strstr(it.msgs[0]->read_error, f->mbox));
	assert_non_null(strstr(it.msgs[0]->read_error, "offset 0"));
	assert_null(it.msgs[0]->raw);
	assert_null(it.msgs[1]->read_error);
	assert_int_equal(it.msgs[1]->loc.offset, (int64_t)strlen(garbage));
	assert_int_equal(it.msgs[1]->raw_size, strlen(M1));
	items_free(&it);

	/* Nothing but garbage: one error item; an empty file: nothing. */
	write_file(f->mbox, garbage, strlen(garbage));
	items_read(f, uri, &it);
	assert_int_equal(it.count, 1);
	assert_non_null(it.msgs[0]->read_error);
	assert_true(mc_store_container_last(it.store, it.msgs[0]));
	items_free(&it);
	write_file(f->mbox, "", 0);
	items_read(f, uri, &it);
	assert_int_equal(it.count, 0);
	items_free(&it);
	/* A bare path starting with "From " is detected as an mbox. */
	write_file(f->mbox, M3, strlen(M3));
	items_read(f, f->mbox, &it);
	assert_int_equal(it.count, 1);
	assert_string_equal(it.msgs[0]->loc.kind, "mbox");
	items_free(&it);
	free(uri);
	free(all);
}

/* From_ lines as real mbox writers made them, and lines that only
   look like one. */
static void test_from_line_parse(void **state)
{
	static const char *const good[] = {
		"From sender@x Thu Nov  5 12:00:00 2002",		/* classic */
		"From sender@x Thu Nov 5 12:00:00 2002",
		"From sender@x Thu Nov 05 12:00:00 2002",
		"From MAILER-DAEMON Fri Jul  8 12:08:34 2011",		/* Postfix, Dovecot */
		"From - Thu Nov  5 12:00:00 2002",			/* Thunderbird */
		"From sender Thu Nov  5 12:00:00 PST 2002",		/* SunOS mail */
		"From 1582352617338224183@xxx Wed Nov 13 01:26:08 +0000 2019",	/* Takeout */
		"From sender Thu Nov  5 12:00:00 2002 +0100",
		"From sender Thu Nov  5 12:00:00 2002 (CET)",
		"From sender Thu Nov  5 12:00 2002",			/* no seconds */
		"From sender Thu Nov  5 9:05:00 2002",
		"From sender Thu Nov  5 12:00:00 02",			/* two-digit year */
		"From user Mon Jan  1 12:00:00 1990 remote from host",	/* UUCP */
		"From \"quoted sender\"@x Thu Nov  5 12:00:00 2002",
		"From Mail System Internal Data Thu Nov  5 12:00:00 2002",
		"From sender@x  Thu Nov  5 12:00:00 2002",
		"From sender@x Thu, Nov  5 12:00:00 2002",
		"From sender@x Thu Nov  5 12:00:00 2002\r",		/* CRLF */
		"From sender@x Thu Nov  5 12:00:00 2002  ",
	};
	static const char *const bad[] = {
		"From here on, all is well.",
		"From the desk of the director: Thu Nov  5 12:00:00 2002 meeting",
		"From sender Thu Nov  5 12:00:00 2002 and then some",
		"From sender Thu Nov  5 2002",				/* no time */
		"From sender Thu Nov  5 12:00:00",			/* no year */
		"From sender Thu Nov 32 12:00:00 2002",
		"From sender Thu Nov  5 25:00:00 2002",
		"From sender Thu Nov  5 12:61:00 2002",
		"From sender Xyz Nov  5 12:00:00 2002",
		"From sender Thu Foo  5 12:00:00 2002",
		"From  Thu Nov  5 12:00:00 2002",			/* no sender */
		"From Thu Nov  5 12:00:00 2002",			/* no sender */
		"From sender Thu Nov  5 12:00:00 20021",
		"From sender Thu Nov  5 12:00:00 2002 remote from",
		">From sender Thu Nov  5 12:00:00 2002",
		"From: sender@x",
		"From",
		"",
	};
	struct mc_mbox_from from;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!mc_store_mbox_from_parse((const unsigned char *)good[i], strlen(good[i]),
					      &from))
			fail_msg("not taken for a From_ line: \"%s\"", good[i]);
		/* What is enough after an empty line is enough here too. */
		assert_true(mc_store_mbox_from_line((const unsigned char *)good[i],
						    strlen(good[i])));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mc_store_mbox_from_parse((const unsigned char *)bad[i], strlen(bad[i]), NULL))
			fail_msg("taken for a From_ line: \"%s\"", bad[i]);
	}
	const char *l = "From \"quoted sender\"@x Thu Nov  5 12:00:09 PST 2002";
	assert_true(mc_store_mbox_from_parse((const unsigned char *)l, strlen(l), &from));
	assert_int_equal(from.sender_off, 5);
	assert_int_equal(from.sender_len, strlen("\"quoted sender\"@x"));
	assert_int_equal(from.year, 2002);
	assert_int_equal(from.month, 11);
	assert_int_equal(from.day, 5);
	assert_int_equal(from.hour, 12);
	assert_int_equal(from.minute, 0);
	assert_int_equal(from.second, 9);
	l = "From u Mon Jan  1 12:00:00 99 remote from host";
	assert_true(mc_store_mbox_from_parse((const unsigned char *)l, strlen(l), &from));
	assert_int_equal(from.year, 1999);
}

/* A complete From_ line followed by a header starts a message even
   without an empty line before it; the first message ends before it,
   and cutting either takes only that one. A line that only starts
   with "From " and a date stays in its message, which is then not
   cut at all (it may be two). */
static void test_split_adjacent(void **state)
{
	struct fixture *f = *state;
	static const char A[] =
		"From a@example.com Thu Nov  5 12:00:00 2002\n"
		"From: a@example.com\nSubject: infected\n\nbody a, no empty line after\n";
	static const char B[] =
		"From b@example.com Thu Nov  5 12:00:01 2002\n"
		"Subject: clean\n\nbody b\n\n";
	static const char C[] =
		"From c@example.com Thu Nov  5 12:00:02 2002\n"
		"Subject: quoting\n\nsomeone wrote:\n"
		"From d@example.com Thu Nov  5 12:00:03 2002\n"
		"that line is no separator: no header follows\n\n";
	const size_t idx[] = { 0 };
	struct mc_removal rm[1];
	struct items it;
	char *uri, *all, *now;
	size_t len;

	assert_true(asprintf(&all, "%s%s%s", A, B, C) > 0);
	write_file(f->mbox, all, strlen(all));
	assert_true(asprintf(&uri, "mbox:%s", f->mbox) > 0);
	items_read(f, uri, &it);
	assert_int_equal(it.count, 3);
	assert_int_equal(it.msgs[0]->raw_size, strlen(A));
	assert_int_equal(it.msgs[1]->loc.offset, (int64_t)strlen(A));
	assert_int_equal(it.msgs[1]->raw_size, strlen(B));
	assert_int_equal(it.msgs[2]->raw_size, strlen(C));
	/* Cut A: B and C stay, byte for byte. */
	remove_some(f, &it, idx, 1, rm);
	if (rm[0].error != NULL)
		fail_msg("remove: %s", rm[0].error);
	assert_true(rm[0].removed);
	free(rm[0].quarantine_id);
	items_free(&it);
	now = read_file(f->mbox, &len);
	assert_int_equal(len, strlen(B) + strlen(C));
	assert_memory_equal(now, B, strlen(B));
	assert_memory_equal(now + strlen(B), C, strlen(C));
	free(now);
	assert_int_equal(quarantine_count(f), 1);

	/* C may be two messages: refused, the reason named. */
	items_read(f, uri, &it);
	assert_int_equal(it.count, 2);
	const size_t second[] = { 1 };
	remove_some(f, &it, second, 1, rm);
	assert_false(rm[0].removed);
	assert_non_null(rm[0].error);
	assert_non_null(strstr(rm[0].error, "may be two messages"));
	assert_null(rm[0].quarantine_id);
	free(rm[0].error);
	items_free(&it);
	now = read_file(f->mbox, &len);
	assert_int_equal(len, strlen(B) + strlen(C));
	free(now);
	assert_int_equal(quarantine_count(f), 1);
	free(uri);
	free(all);
}

/* Many messages of random sizes (some larger than the read window),
   one larger than max_message_size: the raws add up to the file, the
   large one is stepped over without its bytes. */
static void test_split_large(void **state)
{
	struct fixture *f = *state;
	size_t cap = 64 << 20, len = 0, count = 0, big = 0;
	char *all = malloc(cap), *uri;
	uint64_t *offs = calloc(600, sizeof(*offs));
	struct items it;
	unsigned seed = 42;

	for (count = 0; count < 500; count++) {
		size_t body = count == 250 ? (3u << 20) : (size_t)(rand_r(&seed) % 40000);

		if (count % 97 == 0)
			body = 600000 + (size_t)(rand_r(&seed) % 10000);
		offs[count] = len;
		len += (size_t)sprintf(all + len, "From u%zu@example.com Thu Mar  5 0%zu:00:00 2026\n"
				       "Subject: m%zu\n\n", count, count % 10, count);
		for (size_t i = 0; i < body; i++) {
			int c = rand_r(&seed) % 64;
			all[len++] = c == 0 ? '\n' : (char)('a' + c % 26);
		}
		len += (size_t)sprintf(all + len, "\n\n");
		if (count == 250)
			big = len - offs[count];
	}
	write_file(f->mbox, all, len);
	f->limits.max_message_size = 2u << 20;
	assert_true(asprintf(&uri, "mbox:%s", f->mbox) > 0);
	items_read(f, uri, &it);
	assert_int_equal(it.count, count);
	size_t at = 0;
	for (size_t i = 0; i < it.count; i++) {
		struct mc_msg *m = it.msgs[i];

		assert_null(m->read_error);
		assert_int_equal(m->loc.offset, (int64_t)offs[i]);
		if (i == 250) {
			assert_null(m->raw);
			assert_null(m->data);
			assert_int_equal(m->raw_size, big);
			assert_true(m->size > f->limits.max_message_size);
		} else {
			assert_non_null(m->raw);
			assert_memory_equal(m->raw, all + at, m->raw_size);
		}
		at += m->raw_size;
	}
	assert_int_equal(at, len);
	items_free(&it);
	free(uri);
	free(offs);
	free(all);
}

/* Heads first: a message of more than 16 kB is yielded with its
   header block only, which is the start of the data a whole read
   gives; loading it gives exactly that data (>From lines unquoted,
   CRLF lines, a last message without its newline); dropped, it holds
   nothing but its place. A header block too long to keep apart, or one that never
   ends, gives no head. A message that changed in the file since it
   was split is not loaded. */
static void test_split_heads_first(void **state)
{
	struct fixture *f = *state;
	size_t cap = 8 << 20, len = 0, count = 0;
	char *all = malloc(cap), *uri;
	struct items whole, heads;
	unsigned seed = 7;

	for (count = 0; count < 60; count++) {
		bool crlf = count % 7 == 3;
		const char *nl = crlf ? "\r\n" : "\n";
		size_t body = count % 3 == 0 ? (size_t)(rand_r(&seed) % 4000) :
			20000 + (size_t)(rand_r(&seed) % 200000);

		len += (size_t)sprintf(all + len, "From u%zu@example.com Thu Mar  5 0%zu:00:00 2026%s"
				       "From: u%zu@example.com%sSubject: m%zu%s", count, count % 10,
				       nl, count, nl, count, nl);
		if (count == 20) {
			/* A header block longer than is kept apart. */
			for (int i = 0; i < 2000; i++)
				len += (size_t)sprintf(all + len, "X-Long-%04d: %s%s", i,
						       "0123456789012345678901234567890123456789", nl);
		}
		if (count != 40)	/* 40: no end of the header block at all */
			len += (size_t)sprintf(all + len, "%s", nl);
		for (size_t i = 0; i < body; i++) {
			int c = rand_r(&seed) % 80;

			if (c == 0 && all[len - 1] != '\n') {
				len += (size_t)sprintf(all + len, "%s", nl);
				if (rand_r(&seed) % 4 == 0)
					len += (size_t)sprintf(all + len, "%sFrom here%s",
							       rand_r(&seed) % 2 ? ">" : ">>>", nl);
			} else {
				all[len++] = (char)('a' + c % 26);
			}
		}
		if (count < 59)
			len += (size_t)sprintf(all + len, "%s%s", nl, nl);
	}
	write_file(f->mbox, all, len);
	assert_true(asprintf(&uri, "mbox:%s", f->mbox) > 0);
	items_read(f, uri, &whole);
	f->set.heads_first = true;
	items_read(f, uri, &heads);
	assert_int_equal(whole.count, count);
	assert_int_equal(heads.count, count);
	size_t lazy = 0, with_head = 0;
	for (size_t i = 0; i < count; i++) {
		struct mc_msg *w = whole.msgs[i], *h = heads.msgs[i];

		assert_null(h->read_error);
		assert_int_equal(h->loc.offset, w->loc.offset);
		assert_int_equal(h->raw_size, w->raw_size);
		assert_int_equal(h->size, w->size);
		if (h->data != NULL) {
			assert_true(w->size <= 16384 + 4096);
			assert_memory_equal(h->data, w->data, w->size);
			continue;
		}
		lazy++;
		if (i == 20 || i == 40)
			assert_null(h->head);
		else {
			assert_non_null(h->head);
			with_head++;
			assert_true(h->head_size < h->size);
			assert_memory_equal(h->head, w->data, h->head_size);
			assert_true(h->head[h->head_size - 1] == '\n');
			assert_true(h->head[h->head_size - 2] == '\n' ||
				    h->head[h->head_size - 3] == '\n');
		}
		assert_int_equal(mc_store_load(heads.store, h), 0);
		assert_int_equal(h->size, w->size);
		assert_memory_equal(h->data, w->data, w->size);
		assert_memory_equal(h->raw, w->raw, w->raw_size);
		mc_store_drop(heads.store, h);
		assert_null(h->data);
		assert_null(h->raw);
		assert_null(h->head);
		assert_int_equal(h->size, w->size);
		assert_int_equal(h->loc.offset, w->loc.offset);
	}
	assert_true(lazy >= 30);
	assert_true(with_head >= 28);
	items_free(&heads);

	/* Loaded without raw: the same data, unquoted in place. */
	f->set.loads_without_raw = true;
	items_read(f, uri, &heads);
	for (size_t i = 0; i < count; i++) {
		struct mc_msg *w = whole.msgs[i], *h = heads.msgs[i];

		if (h->data != NULL)
			continue;
		assert_int_equal(mc_store_load(heads.store, h), 0);
		assert_int_equal(h->size, w->size);
		assert_memory_equal(h->data, w->data, w->size);
		if (w->data != w->raw + (w->raw_size > 0 ? (size_t)(strchr((const char *)w->raw, '\n') -
				(const char *)w->raw) + 1 : 0))
			assert_null(h->raw);	/* had >From lines */
	}
	items_free(&heads);
	f->set.loads_without_raw = false;

	/* Split, then changed in the file: not loaded. */
	items_read(f, uri, &heads);
	size_t victim = 1;
	assert_null(heads.msgs[victim]->data);
	all[heads.msgs[victim]->loc.offset + heads.msgs[victim]->raw_size / 2] = 'Z';
	all[heads.msgs[victim]->loc.offset + heads.msgs[victim]->raw_size / 2 + 1] = '\n';
	all[heads.msgs[victim]->loc.offset + heads.msgs[victim]->raw_size / 2 + 2] = '>';
	all[heads.msgs[victim]->loc.offset + heads.msgs[victim]->raw_size / 2 + 3] = 'F';
	memcpy(all + heads.msgs[victim]->loc.offset + heads.msgs[victim]->raw_size / 2 + 3,
	       "From ", 5);
	write_file(f->mbox, all, len);
	assert_int_equal(mc_store_load(heads.store, heads.msgs[victim]), -1);
	assert_non_null(heads.msgs[victim]->read_error);
	assert_non_null(strstr(heads.msgs[victim]->read_error, "changed"));
	assert_null(heads.msgs[victim]->data);
	items_free(&heads);
	items_free(&whole);
	free(uri);
	free(all);
}

static void test_remove_rewrite(void **state)
{
	struct fixture *f = *state;
	struct mc_removal rm[2];
	struct stat before, after;
	const size_t idx[] = { 1, 3 };
	struct items it;
	char *uri, *all, *now;
	size_t len;
	const char *msgs[5] = { M1, M2,
		"From x@example.com Mon Mar  2 10:00:00 2026\nSubject: x\n\nx\n\n",
		"From y@example.com Mon Mar  2 10:00:00 2026\nSubject: y\n\ny\n\n", M3 };

	assert_true(asprintf(&all, "%s%s%s%s%s", msgs[0], msgs[1], msgs[2], msgs[3],
			     msgs[4]) > 0);
	write_file(f->mbox, all, strlen(all));
	chmod(f->mbox, 0640);
	stat(f->mbox, &before);
	assert_true(asprintf(&uri, "mbox:%s", f->mbox) > 0);
	items_read(f, uri, &it);
	assert_int_equal(it.count, 5);
	remove_some(f, &it, idx, 2, rm);
	for (size_t i = 0; i < 2; i++) {
		if (rm[i].error != NULL)
			fail_msg("remove: %s", rm[i].error);
		assert_true(rm[i].removed);
		assert_non_null(rm[i].quarantine_id);
	}
	now = read_file(f->mbox, &len);
	char *want;
	assert_true(asprintf(&want, "%s%s%s", msgs[0], msgs[2], msgs[4]) > 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(now, want, len);
	stat(f->mbox, &after);
	assert_int_equal(after.st_ino, before.st_ino);
	assert_int_equal(after.st_mode, before.st_mode);
	assert_int_equal(after.st_uid, before.st_uid);
	assert_int_equal(quarantine_count(f), 2);

	/* The quarantined raw is the message exactly; restoring appends
	   it after an empty line (M3 had no newline). */
	struct mc_qentry *e = mc_quarantine_get(f->q, rm[0].quarantine_id, NULL);
	void *raw;
	size_t raw_size;
	assert_non_null(e);
	assert_int_equal(mc_quarantine_read(f->q, e, &raw, &raw_size, NULL), 0);
	assert_int_equal(raw_size, strlen(M2));
	assert_memory_equal(raw, M2, raw_size);
	assert_int_equal(e->loc.offset, (int64_t)strlen(M1));
	free(raw);
	mc_qentry_free(&e);
	char *err = NULL;
	if (mc_restore_entry(f->q, rm[0].quarantine_id, &err) < 0)
		fail_msg("restore: %s", err);
	free(now);
	now = read_file(f->mbox, &len);
	free(want);
	assert_true(asprintf(&want, "%s%s%s\n\n%s", msgs[0], msgs[2], msgs[4], M2) > 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(now, want, len);
	/* Twice is refused. */
	assert_int_equal(mc_restore_entry(f->q, rm[0].quarantine_id, &err), -1);
	free(err);
	for (size_t i = 0; i < 2; i++) {
		free(rm[i].quarantine_id);
		free(rm[i].error);
	}
	items_free(&it);
	free(uri);
	free(all);
	free(want);
	free(now);
}

/* A message changed after it was read: not removed, not quarantined. */
static void test_remove_changed(void **state)
{
	struct fixture *f = *state;
	struct mc_removal rm[1];
	const size_t idx[] = { 0 };
	struct items it;
	char *uri, *all, *now;
	size_t len;

	assert_true(asprintf(&all, "%s%s", M1, M3) > 0);
	write_file(f->mbox, all, strlen(all));
	assert_true(asprintf(&uri, "mbox:%s", f->mbox) > 0);
	items_read(f, uri, &it);
	/* A mail client rewrote the message (flags in Status:). */
	char *changed;
	assert_true(asprintf(&changed, "%.*sStatus: RO\n%s", 48, M1, M1 + 48) > 0);
	free(all);
	assert_true(asprintf(&all, "%s%s", changed, M3) > 0);
	write_file(f->mbox, all, strlen(all));
	remove_some(f, &it, idx, 1, rm);
	assert_false(rm[0].removed);
	assert_null(rm[0].quarantine_id);
	assert_non_null(rm[0].error);
	assert_non_null(strstr(rm[0].error, "no longer"));
	now = read_file(f->mbox, &len);
	assert_int_equal(len, strlen(all));
	assert_memory_equal(now, all, len);
	assert_int_equal(quarantine_count(f), 0);
	free(rm[0].error);
	items_free(&it);
	free(uri);
	free(all);
	free(changed);
	free(now);
}

static const char APPENDED[] =
	"From late@example.com Fri Mar  6 09:00:00 2026\nSubject: late\n\narrived while waiting\n\n";

/* A child holds a POSIX fcntl lock (as Postfix local does), appends a
   message after a while, and unlocks. */
static pid_t hold_fcntl_and_append(const char *path, int ready_fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int fd = open(path, O_RDWR | O_APPEND);

		if (fd < 0 || fcntl(fd, F_SETLKW, &fl) < 0)
			_exit(1);
		if (write(ready_fd, "x", 1) != 1)
			_exit(1);
		usleep(400000);
		if (write(fd, APPENDED, strlen(APPENDED)) != (ssize_t)strlen(APPENDED))
			_exit(1);
		fsync(fd);
		fl.l_type = F_UNLCK;
		fcntl(fd, F_SETLK, &fl);
		_exit(0);
	}
	return pid;
}

static void test_remove_keeps_appended_fcntl(void **state)
{
	struct fixture *f = *state;
	struct mc_removal rm[1];
	const size_t idx[] = { 0 };
	struct items it;
	char *uri, *all, *now, *want, c;
	int pipefd[2], status;
	size_t len;
	pid_t pid;

	assert_true(asprintf(&all, "%s%s", M2, M1) > 0);
	write_file(f->mbox, all, strlen(all));
	assert_true(asprintf(&uri, "mbox:%s", f->mbox) > 0);
	items_read(f, uri, &it);
	assert_int_equal(pipe(pipefd), 0);
	pid = hold_fcntl_and_append(f->mbox, pipefd[1]);
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	double t0 = mc_now();
	remove_some(f, &it, idx, 1, rm);
	assert_true(mc_now() - t0 >= 0.2);	/* it waited for the lock */
	waitpid(pid, &status, 0);
	assert_int_equal(WEXITSTATUS(status), 0);
	if (rm[0].error != NULL)
		fail_msg("remove: %s", rm[0].error);
	assert_true(rm[0].removed);
	now = read_file(f->mbox, &len);
	assert_true(asprintf(&want, "%s%s", M1, APPENDED) > 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(now, want, len);
	free(rm[0].quarantine_id);
	close(pipefd[0]);
	close(pipefd[1]);
	items_free(&it);
	free(uri);
	free(all);
	free(now);
	free(want);
}

static void test_remove_keeps_appended_dotlock(void **state)
{
	struct fixture *f = *state;
	struct mc_removal rm[1];
	const size_t idx[] = { 1 };
	struct items it;
	char *uri, *all, *now, *want, *lock;
	int status;
	size_t len;
	pid_t pid;

	assert_true(asprintf(&all, "%s%s%s", M1, M2, M3) > 0);
	write_file(f->mbox, all, strlen(all));
	assert_true(asprintf(&uri, "mbox:%s", f->mbox) > 0);
	assert_true(asprintf(&lock, "%s.lock", f->mbox) > 0);
	items_read(f, uri, &it);
	/* A delivery agent holds the dotlock, appends, and releases it.
	   M3 has no final newline: the agent adds the separator itself. */
	write_file(lock, "", 0);
	pid = fork();
	if (pid == 0) {
		usleep(400000);
		append_file(f->mbox, "\n\n");
		append_file(f->mbox, APPENDED);
		unlink(lock);
		_exit(0);
	}
	remove_some(f, &it, idx, 1, rm);
	waitpid(pid, &status, 0);
	if (rm[0].error != NULL)
		fail_msg("remove: %s", rm[0].error);
	assert_true(rm[0].removed);
	now = read_file(f->mbox, &len);
	assert_true(asprintf(&want, "%s%s\n\n%s", M1, M3, APPENDED) > 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(now, want, len);
	assert_int_equal(access(lock, F_OK), -1);	/* our lock is gone too */
	free(rm[0].quarantine_id);
	items_free(&it);
	free(uri);
	free(all);
	free(now);
	free(want);
	free(lock);
}

/* A lock that is never released: the removal gives up, nothing is
   quarantined or changed. */
static void test_remove_lock_timeout(void **state)
{
	struct fixture *f = *state;
	struct mc_removal rm[1];
	const size_t idx[] = { 0 };
	struct items it;
	char *uri, *all, *now, *lock;
	size_t len;

	assert_true(asprintf(&all, "%s%s", M1, M2) > 0);
	write_file(f->mbox, all, strlen(all));
	assert_true(asprintf(&uri, "mbox:%s", f->mbox) > 0);
	assert_true(asprintf(&lock, "%s.lock", f->mbox) > 0);
	items_read(f, uri, &it);
	write_file(lock, "", 0);
	mc_mbox_lock_set_timeout(1);
	remove_some(f, &it, idx, 1, rm);
	assert_false(rm[0].removed);
	assert_null(rm[0].quarantine_id);
	assert_non_null(rm[0].error);
	assert_non_null(strstr(rm[0].error, "held by another process"));
	now = read_file(f->mbox, &len);
	assert_int_equal(len, strlen(all));
	assert_memory_equal(now, all, len);
	assert_int_equal(access(lock, F_OK), 0);	/* not ours: left alone */
	assert_int_equal(quarantine_count(f), 0);
	free(rm[0].error);
	items_free(&it);
	free(uri);
	free(all);
	free(now);
	free(lock);
}

/* mailcure died in the middle of a rewrite that cut M2 out of
   M1 M2 M3: the journal holds the old tail, the file is half moved.
   The next removal completes that rewrite first. */
static void test_journal_recovery(void **state)
{
	struct fixture *f = *state;
	struct mc_removal rm[1];
	struct items it;
	struct stat st;
	char *uri, *all, *now, *want, *jpath, *hdr;
	unsigned char sha[32];
	char hex[65];
	size_t len;
	FILE *fp;

	assert_true(asprintf(&all, "%s%s%s", M1, M2, M3) > 0);
	write_file(f->mbox, all, strlen(all));
	stat(f->mbox, &st);
	assert_true(asprintf(&uri, "mbox:%s", f->mbox) > 0);
	items_read(f, uri, &it);

	char *abs = realpath(f->mbox, NULL);
	mc_sha256(abs, strlen(abs), sha);
	mc_hex(sha, 32, hex);
	assert_true(asprintf(&jpath, "%s/journal", mc_quarantine_dir(f->q)) > 0);
	mkdir(jpath, 0700);
	free(jpath);
	assert_true(asprintf(&jpath, "%s/journal/mbox-%s.tail", mc_quarantine_dir(f->q), hex) > 0);
	size_t first = strlen(M1), final = strlen(M1) + strlen(M3);
	assert_true(asprintf(&hdr, "mailcure mbox rewrite journal 1\npath %s\ndev %llu\nino %llu\n"
			     "size %zu\nfinal %zu\ncuts 1\ncut %zu %zu\ndata\n", abs,
			     (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
			     strlen(all), final, first, strlen(M2)) > 0);
	fp = fopen(jpath, "w");
	fputs(hdr, fp);
	fputs(all + first, fp);
	fclose(fp);
	/* Half moved: the start of M3 is written over M2, not truncated. */
	int fd = open(f->mbox, O_WRONLY);
	assert_int_equal(pwrite(fd, M3, 10, (off_t)first), 10);
	close(fd);

	/* Now remove M1 (read before the crash). */
	memset(rm, 0, sizeof(rm));
	rm[0].msg = it.msgs[0];
	rm[0].match = &match_all;
	mc_store_remove(it.store, f->q, "run-test", rm, 1);
	if (rm[0].error != NULL)
		fail_msg("remove: %s", rm[0].error);
	assert_true(rm[0].removed);
	now = read_file(f->mbox, &len);
	want = strdup(M3);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(now, want, len);
	assert_int_equal(access(jpath, F_OK), -1);
	free(rm[0].quarantine_id);
	items_free(&it);
	free(abs);
	free(uri);
	free(all);
	free(now);
	free(want);
	free(jpath);
	free(hdr);
}

/* Stage the message RAW as taken from the mbox at ABS, offset OFF,
   in GROUP: what a removal does before its journal is written. */
static char *stage(struct fixture *f, const char *group, const char *abs, int64_t off,
		   const char *raw)
{
	struct mc_qentry meta;
	char *id = NULL, *err = NULL;

	memset(&meta, 0, sizeof(meta));
	meta.run_id = (char *)"run-killed";
	meta.loc.kind = "mbox";
	meta.loc.path = abs;
	meta.loc.offset = off;
	meta.loc.mode = 0600;
	if (mc_quarantine_stage(f->q, group, &meta, raw, strlen(raw), &id, &err) < 0)
		fail_msg("stage: %s", err);
	return id;
}

/* A removal killed after its journal: the next clean completes the
   rewrite before it reads the mailbox and commits the entry the
   journal names, and discards an entry staged but not named. One
   killed before its journal: its staged entry is discarded, the
   mailbox is untouched, and it is never restorable. */
static void test_settle_interrupted(void **state)
{
	struct fixture *f = *state;
	struct items it;
	struct stat st;
	char *uri, *all, *now, *jpath, *group, *hdr, *err = NULL;
	char *cut_id, *stray_id, *early_id;
	unsigned char sha[32];
	char hex[65];
	size_t len;
	FILE *fp;

	assert_true(asprintf(&all, "%s%s%s", M1, M2, M3) > 0);
	write_file(f->mbox, all, strlen(all));
	stat(f->mbox, &st);
	char *abs = realpath(f->mbox, NULL);
	mc_sha256(abs, strlen(abs), sha);
	mc_hex(sha, 32, hex);
	assert_true(asprintf(&group, "mbox-%s", hex) > 0);
	cut_id = stage(f, group, abs, (int64_t)strlen(M1), M2);
	stray_id = stage(f, group, abs, 0, M1);
	assert_true(asprintf(&jpath, "%s/journal", mc_quarantine_dir(f->q)) > 0);
	mkdir(jpath, 0700);
	free(jpath);
	assert_true(asprintf(&jpath, "%s/journal/%s.tail", mc_quarantine_dir(f->q), group) > 0);
	size_t first = strlen(M1), final = strlen(M1) + strlen(M3);
	assert_true(asprintf(&hdr, "mailcure mbox rewrite journal 2\npath %s\ndev %llu\n"
			     "ino %llu\nsize %zu\nfinal %zu\ncuts 1\ncut %zu %zu\nentries 1\n"
			     "entry %s\ndata\n", abs, (unsigned long long)st.st_dev,
			     (unsigned long long)st.st_ino, strlen(all), final, first,
			     strlen(M2), cut_id) > 0);
	fp = fopen(jpath, "w");
	fputs(hdr, fp);
	fputs(all + first, fp);
	fclose(fp);
	/* Killed half way through moving M3 down over M2. */
	int fd = open(f->mbox, O_WRONLY);
	assert_int_equal(pwrite(fd, M3, 10, (off_t)first), 10);
	close(fd);
	assert_int_equal(quarantine_count(f), 0);

	f->set.quarantine = f->q;
	assert_true(asprintf(&uri, "mbox:%s", f->mbox) > 0);
	items_read(f, uri, &it);
	assert_int_equal(it.count, 2);
	assert_null(it.msgs[0]->read_error);
	assert_null(it.msgs[1]->read_error);
	items_free(&it);
	now = read_file(f->mbox, &len);
	assert_int_equal(len, final);
	assert_memory_equal(now, M1, strlen(M1));
	assert_memory_equal(now + first, M3, strlen(M3));
	free(now);
	assert_int_equal(access(jpath, F_OK), -1);
	assert_int_equal(quarantine_count(f), 1);
	struct mc_qentry *e = mc_quarantine_get(f->q, cut_id, &err);
	if (e == NULL)
		fail_msg("the cut message's entry: %s", err);
	assert_string_equal(e->run_id, "run-killed");
	mc_qentry_free(&e);
	assert_null(mc_quarantine_get(f->q, stray_id, &err));
	free(err);
	err = NULL;
	assert_false(mc_quarantine_staged(f->q, group));

	/* Killed before its journal: nothing was cut. */
	early_id = stage(f, group, abs, 0, M1);
	assert_int_equal(mc_restore_entry(f->q, early_id, &err), -1);
	assert_non_null(strstr(err, "staged"));
	free(err);
	err = NULL;
	if (mc_restore_settle(f->q, &err) < 0)
		fail_msg("settle: %s", err);
	assert_false(mc_quarantine_staged(f->q, group));
	assert_int_equal(mc_restore_entry(f->q, early_id, &err), -1);
	free(err);
	err = NULL;
	now = read_file(f->mbox, &len);
	assert_int_equal(len, final);
	free(now);
	assert_int_equal(quarantine_count(f), 1);

	/* Restoring the cut one appends it once (after an empty line:
	   M3 has no newline at its end). */
	if (mc_restore_entry(f->q, cut_id, &err) < 0)
		fail_msg("restore: %s", err);
	now = read_file(f->mbox, &len);
	assert_int_equal(len, final + 2 + strlen(M2));
	assert_memory_equal(now + final + 2, M2, strlen(M2));
	free(now);

	free(cut_id);
	free(stray_id);
	free(early_id);
	free(abs);
	free(uri);
	free(all);
	free(jpath);
	free(group);
	free(hdr);
}

/* Restore into an mbox that is gone: created with the recorded mode. */
static void test_restore_creates(void **state)
{
	struct fixture *f = *state;
	struct mc_removal rm[1];
	const size_t idx[] = { 0 };
	struct items it;
	struct stat st;
	char *uri, *now, *err = NULL;
	size_t len;

	write_file(f->mbox, M1, strlen(M1));
	chmod(f->mbox, 0620);
	assert_true(asprintf(&uri, "mbox:%s", f->mbox) > 0);
	items_read(f, uri, &it);
	remove_some(f, &it, idx, 1, rm);
	assert_true(rm[0].removed);
	stat(f->mbox, &st);
	assert_int_equal(st.st_size, 0);
	unlink(f->mbox);
	if (mc_restore_entry(f->q, rm[0].quarantine_id, &err) < 0)
		fail_msg("restore: %s", err);
	now = read_file(f->mbox, &len);
	assert_int_equal(len, strlen(M1));
	assert_memory_equal(now, M1, len);
	stat(f->mbox, &st);
	assert_int_equal(st.st_mode & 0777, 0620);
	free(rm[0].quarantine_id);
	items_free(&it);
	free(uri);
	free(now);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_garbage_and_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_from_line_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_adjacent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_heads_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_rewrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_keeps_appended_fcntl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_keeps_appended_dotlock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_lock_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_settle_interrupted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_creates, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
