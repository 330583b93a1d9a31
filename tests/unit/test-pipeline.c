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
/*	side; results come in store order, each message once.
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

/* A fake engine that counts what it scans at once. */
struct mc_engine {
	pthread_mutex_t lock;
	size_t now, max_bytes, calls;
	unsigned at_once, max_at_once;
};

static void fake_scan(struct mc_engine *e, const void *data, size_t size,
		      struct mc_verdict *v)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

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
	e->now -= size;
	e->at_once--;
	pthread_mutex_unlock(&e->lock);
	v->kind = MC_VERDICT_CLEAN;
	v->name[0] = '\0';
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
	size_t events;
	bool ordered;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *base = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";

	if (asprintf(&f->tmp, "%s/test-pipeline.XXXXXX", base) < 0 || mkdtemp(f->tmp) == NULL)
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
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd;

	if (asprintf(&cmd, "rm -rf '%s'", f->tmp) > 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->tmp);
	free(cmd);
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

	if (f->events > 0 && ev->msg->seq <= f->seqs[f->events - 1])
		f->ordered = false;
	if (f->events < 64)
		f->seqs[f->events++] = ev->msg->seq;
}

static void run(struct fixture *f, const char *text, unsigned jobs,
		struct mc_summary *sum)
{
	struct mc_store_settings set = { .limits = &f->limits, .heads_first = true };
	const struct mc_store_ops *ops;
	struct mc_store *store;
	char *error = NULL;
	struct mc_query *q = mc_query_parse(text, &error);
	struct mc_run r;

	assert_non_null(q);
	assert_int_equal(mc_store_open(f->maildir, &set, &ops, &store, &error), 0);
	memset(&r, 0, sizeof(r));
	r.store_ops = &ops;
	r.stores = &store;
	r.store_count = 1;
	r.query = q;
	r.engine_ops = &fake_ops;
	r.engine = &f->engine;
	r.limits = &f->limits;
	r.jobs = jobs;
	r.on_event = on_event;
	r.context = f;
	f->events = 0;
	f->ordered = true;
	assert_int_equal(mc_run_pipeline(&r, sum, &error), 0);
	ops->close(&store);
	mc_query_free(&q);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
