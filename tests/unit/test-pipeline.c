/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-pipeline 1
/* SUMMARY
/*	unit tests of the pipeline (lib/pipeline.c) with stores read heads first
/* DESCRIPTION
/*	Pins what the pipeline holds: with a query about headers, the
/*	body of a large message is never read; with a query that needs
/*	the engine, the messages being scanned at once stay within
/*	limits->max_bytes_in_flight (one always runs, so a larger one
/*	is still scanned), while small ones are still scanned side by
/*	side; while one worker spends long on a large message, the
/*	others evaluate many times the read-ahead behind it; results come
/*	in store order, each message once.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "fixture.h"

/* A fake engine that counts what it scans at once. A scan takes
   20 ms, or with ns_per_byte set that long per byte; it finds
   everything infected when told to. */
struct mc_engine {
	pthread_mutex_t lock;
	size_t now, max_bytes, calls;
	unsigned at_once, max_at_once;
	unsigned ns_per_byte;
	bool infect;
	/* Scans of parts under 1 MB that ended, and how many had when
	   the scan of a part of 1 MB or more ended. With wait_small set,
	   a scan of such a part lasts until that many small ones ended,
	   or 30 seconds. */
	size_t small_done, small_at_large_end, wait_small;
	pthread_cond_t small;
};

static void fake_scan(struct mc_engine *e, const void *data, size_t size,
		      struct mc_verdict *v)
{
	uint64_t ns = e->ns_per_byte > 0 ? (uint64_t)size * e->ns_per_byte :
		20 * 1000 * 1000;
	struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
	bool large = size >= 1000000;

	(void)data;
	pthread_mutex_lock(&e->lock);
	e->calls++;
	e->now += size;
	e->at_once++;
	if (e->now > e->max_bytes)
		e->max_bytes = e->now;
	if (e->at_once > e->max_at_once)
		e->max_at_once = e->at_once;
	pthread_mutex_unlock(&e->lock);
	nanosleep(&ts, NULL);
	pthread_mutex_lock(&e->lock);
	if (large && e->wait_small > 0) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 30;
		while (e->small_done < e->wait_small &&
		       pthread_cond_timedwait(&e->small, &e->lock, &until) == 0)
			;
	}
	e->now -= size;
	e->at_once--;
	if (large) {
		e->small_at_large_end = e->small_done;
	} else {
		e->small_done++;
		pthread_cond_broadcast(&e->small);
	}
	pthread_mutex_unlock(&e->lock);
	v->kind = e->infect ? MC_VERDICT_INFECTED : MC_VERDICT_CLEAN;
	snprintf(v->name, sizeof(v->name), "%s", e->infect ? "Test.Fake" : "");
}

static const struct mc_engine_ops fake_ops = {
	.name = "fake",
	.scan_buffer = fake_scan,
};

struct fixture {
	char *tmp, *maildir;
	struct mc_limits limits;
	struct mc_engine engine;
	/* Events, in order. */
	uint64_t seqs[64];
	size_t events, seen;
	uint64_t last;
	bool ordered;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if ((f->tmp = mc_fixture_tmpdir("pipeline")) == NULL)
		return -1;
	if (asprintf(&f->maildir, "%s/Maildir", f->tmp) < 0)
		return -1;
	for (int i = 0; i < 3; i++) {
		static const char *const sub[] = { "cur", "new", "tmp" };
		char *p;
		if (asprintf(&p, "%s/%s", f->maildir, sub[i]) < 0 ||
		    ((i == 0 && mkdir(f->maildir, 0700) < 0) || mkdir(p, 0700) < 0))
			return -1;
		free(p);
	}
	mc_limits_default(&f->limits);
	pthread_mutex_init(&f->engine.lock, NULL);
	pthread_cond_init(&f->engine.small, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	mc_fixture_rm_rf(f->tmp);
	free(f->maildir);
	free(f->tmp);
	free(f);
	return 0;
}

/* Message NUMBER of SIZE bytes, from "big@example.com" when BIG. */
static void put(struct fixture *f, unsigned number, size_t size, bool big)
{
	char *path, *head;
	FILE *fp;

	if (asprintf(&path, "%s/cur/%u.M%u.host:2,S", f->maildir, 1700000000 + number,
		     number) < 0 ||
	    asprintf(&head, "From: %s@example.com\nSubject: m%u\n\n",
		     big ? "big" : "small", number) < 0)
		abort();
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(head, fp);
	for (size_t i = strlen(head); i < size; i++)
		fputc(i % 70 == 69 ? '\n' : 'a' + (int)(i % 26), fp);
	fclose(fp);
	free(path);
	free(head);
}

static void on_event(const struct mc_event *ev, void *context)
{
	struct fixture *f = context;

	if (f->seen > 0 && ev->msg->seq <= f->last)
		f->ordered = false;
	f->last = ev->msg->seq;
	f->seen++;
	if (f->events < 64)
		f->seqs[f->events++] = ev->msg->seq;
}

/* Run TEXT over the store at PATH; with QUARANTINE, matched messages
   are quarantined and removed. */
static void run_acting(struct fixture *f, const char *path, const char *text,
		       unsigned jobs, struct mc_quarantine *quarantine,
		       struct mc_summary *sum)
{
	struct mc_store_settings set = { .limits = &f->limits, .heads_first = true };
	struct mc_store *store;
	char *error = NULL;
	struct mc_query *q = mc_query_parse(text, &error);
	struct mc_run r;

	assert_non_null(q);
	assert_int_equal(mc_store_open(path, &set, &store, &error), 0);
	memset(&r, 0, sizeof(r));
	r.stores = &store;
	r.store_count = 1;
	r.query = q;
	r.engine_ops = &fake_ops;
	r.engine = &f->engine;
	r.limits = &f->limits;
	r.jobs = jobs;
	r.on_event = on_event;
	r.context = f;
	if (quarantine != NULL) {
		r.action = MC_ACTION_QUARANTINE;
		r.quarantine = quarantine;
		r.run_id = "test";
	}
	f->events = f->seen = 0;
	f->ordered = true;
	assert_int_equal(mc_run_pipeline(&r, sum, &error), 0);
	mc_store_close(&store);
	mc_query_free(&q);
}

static void run_on(struct fixture *f, const char *path, const char *text,
		   unsigned jobs, struct mc_summary *sum)
{
	run_acting(f, path, text, jobs, NULL, sum);
}

static void run(struct fixture *f, const char *text, unsigned jobs,
		struct mc_summary *sum)
{
	run_on(f, f->maildir, text, jobs, sum);
}

/* Scanned at once: never more than the budget for the large ones,
   except one message alone that is larger; small ones side by side,
   also beside a large one. */
static void test_bytes_in_flight(void **state)
{
	struct fixture *f = *state;
	struct mc_summary sum;

	for (unsigned i = 0; i < 12; i++)
		put(f, i, i % 3 == 0 ? 600000 : 20000, i % 3 == 0);
	put(f, 12, 1500000, true);
	f->limits.max_bytes_in_flight = 1000000;
	run(f, "virus", 4, &sum);
	assert_int_equal(sum.scanned, 13);
	assert_int_equal(f->engine.calls, 13);
	assert_true(f->engine.max_bytes <= 1500000 + 3 * 20000);
	assert_true(f->engine.max_at_once >= 2);
	/* Never two of the 600 kB ones at once. */
	f->engine.max_bytes = f->engine.max_at_once = 0;
	f->engine.calls = 0;
	f->limits.max_bytes_in_flight = 1000000;
	run(f, "virus and not size>1M", 4, &sum);
	assert_true(f->engine.max_bytes < 1200000);
	assert_true(f->engine.max_at_once >= 2);
	/* No limit: the large ones go side by side too. */
	f->engine.max_bytes = f->engine.max_at_once = 0;
	f->limits.max_bytes_in_flight = 0;
	run(f, "virus", 4, &sum);
	assert_true(f->engine.max_at_once >= 2);
	assert_true(f->engine.max_bytes > 1200000);
}

/* A large message that takes a worker long does not hold up the
   others: the other worker evaluates the messages after it (ten
   times the read-ahead) while it is scanned, and the results still
   come in order, each once. */
static void test_large_not_blocking(void **state)
{
	struct fixture *f = *state;
	struct mc_summary sum;
	unsigned count = 640;
	char *mbox;
	FILE *fp;

	/* An mbox, so that the large message comes first. */
	if (asprintf(&mbox, "%s/mbox", f->tmp) < 0)
		abort();
	fp = fopen(mbox, "w");
	assert_non_null(fp);
	for (unsigned i = 0; i <= count; i++) {
		size_t size = i == 0 ? 2000000 : 1000;

		fprintf(fp, "From m%u@example.com Thu Mar  5 01:00:00 2026\n"
			"From: m%u@example.com\nSubject: m%u\n\n", i, i, i);
		for (size_t n = 0; n < size; n++)
			fputc(n % 70 == 69 ? '\n' : 'a' + (int)(n % 26), fp);
		fputs("\n\n", fp);
	}
	fclose(fp);
	/* The large one is scanned until all but those that its worker
	   took with it were scanned (or 30 s, and fails). */
	f->engine.ns_per_byte = 1;
	f->engine.wait_small = count - 8;
	f->engine.infect = true;
	run_on(f, mbox, "virus", 2, &sum);
	free(mbox);
	assert_int_equal(sum.scanned, count + 1);
	assert_int_equal(sum.matched, count + 1);
	assert_int_equal(f->engine.calls, count + 1);
	assert_true(f->ordered);
	assert_int_equal(f->seen, count + 1);
	/* All but those that the large one's worker took with it. */
	assert_true(f->engine.small_at_large_end >= count - 8);
}

/* Large messages that do not fit the budget together are put aside
   while their workers go on; each is still scanned exactly once, never
   two at once, and the results come in order, every message once. */
static void test_put_aside(void **state)
{
	struct fixture *f = *state;
	struct mc_summary sum;
	unsigned count = 0;

	for (unsigned i = 0; i < 120; i++, count++)
		put(f, i, i % 4 == 0 ? 600000 : 1000, i % 4 == 0);
	f->limits.max_bytes_in_flight = 1000000;
	f->engine.ns_per_byte = 2;
	f->engine.infect = true;
	for (int round = 0; round < 10; round++) {
		f->engine.calls = f->engine.max_bytes = 0;
		run(f, "virus", 4, &sum);
		assert_int_equal(sum.scanned, count);
		assert_int_equal(sum.matched, count);
		assert_int_equal(f->seen, count);
		assert_true(f->ordered);
		assert_int_equal(f->engine.calls, count);
		assert_true(f->engine.max_bytes < 1200000);
	}
}

/* Matched messages to be quarantined wait for the sink with their
   bytes; many times the bound on such bytes are all quarantined and
   removed, the others left alone. */
static void test_acting_held(void **state)
{
	struct fixture *f = *state;
	struct mc_summary sum;
	struct mc_quarantine *q;
	char *qdir, *error = NULL;

	for (unsigned i = 0; i < 60; i++)
		put(f, i, i % 3 == 0 ? 2000 : 1100000, i % 3 != 0);
	if (asprintf(&qdir, "%s/quarantine", f->tmp) < 0)
		abort();
	q = mc_quarantine_open(qdir, true, &error);
	assert_non_null(q);
	run_acting(f, f->maildir, "from:big@example.com", 2, q, &sum);
	assert_int_equal(sum.scanned, 60);
	assert_int_equal(sum.matched, 40);
	assert_int_equal(sum.acted, 40);
	assert_int_equal(sum.errors, 0);
	assert_true(f->ordered);
	/* What is left is the small ones. */
	run(f, "all", 2, &sum);
	assert_int_equal(sum.scanned, 20);
	assert_int_equal(sum.bytes, 20 * 2000);
	mc_quarantine_close(&q);
	free(qdir);
}

/* A query about headers: bodies are not read, results in order. */
static void test_headers_only(void **state)
{
	struct fixture *f = *state;
	struct mc_summary sum;

	for (unsigned i = 0; i < 40; i++)
		put(f, i, i % 2 ? 300000 : 2000, i % 5 == 0);
	run(f, "from:big@example.com", 3, &sum);
	assert_int_equal(sum.scanned, 40);
	assert_int_equal(sum.matched, 8);
	assert_int_equal(f->events, 8);
	assert_true(f->ordered);
	assert_int_equal(sum.bytes, 20 * 300000 + 20 * 2000);
	assert_int_equal(f->engine.calls, 0);
	/* all: every message, in order. */
	run(f, "all", 3, &sum);
	assert_int_equal(f->events, 40);
	assert_true(f->ordered);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bytes_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_headers_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_not_blocking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acting_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_aside, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
