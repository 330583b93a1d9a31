/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	pipeline 3
/* SUMMARY
/*	stores -> worker threads -> one ordered sink
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	int mc_run_pipeline(const struct mc_run *run,
/*		struct mc_summary *summary_r, char **error_r);
/* DESCRIPTION
/*	A producer thread reads messages from the stores, in order.
/*	run->jobs worker threads evaluate the query on them (sharing
/*	one compiled engine). The calling thread is the sink: it takes
/*	results strictly in store order, reports them through
/*	run->on_event, and when acting hands the matched messages of one
/*	container (a Maildir file, an mbox file) to the store's remove
/*	operation, which quarantines each before removing it.
/*
/*	What is in flight is bounded, so memory does not grow with the
/*	size of a store. Stores read heads first: a message's body is
/*	read by the worker that evaluates it, only when the query looks
/*	past the header block (or the message is to be quarantined). A
/*	fixed number of messages is read ahead of the workers. Once
/*	evaluated, a message that is not to be acted on is dropped to its
/*	place and size, so that many can wait for the sink behind one
/*	large message that a worker spends seconds on, while the other
/*	workers go on; what waits with its bytes (matched messages to be
/*	quarantined, stores that cannot read a message again) is bounded
/*	in bytes. The bytes of the messages being evaluated at once are
/*	bounded by limits->max_bytes_in_flight: a large message that does
/*	not fit is put aside until the others finish (one always runs),
/*	and its worker goes on with the messages after it; small ones do
/*	not count.
/*
/*	Threads hand messages over in batches: the reader wakes a worker
/*	for several ready messages (or after a millisecond), a worker
/*	takes a share of what is ready at once, and the sink takes every
/*	result that is ready in order at once. With a query about
/*	headers a message costs microseconds, less than waking a thread.
/* DIAGNOSTICS
/*	Unreadable messages, messages too large to scan and messages the
/*	engine could not finish are events of their own (ERROR or
/*	UNSCANNED) and are never acted on. A store that cannot be read
/*	any further is one ERROR event; the other stores go on.
/*--*/

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailcure/mailcure.h"
#include "internal.h"

/* Messages read ahead of the workers, per worker. They are mostly
   heads (see struct mc_msg): a few kB, and messages yielded whole
   instead mostly 16 kB or less. With a query about headers alone a
   message takes microseconds and its body is never read, so more of
   them wait, in larger batches: a wake-up costs more than a message,
   and a small window makes the reader, the workers and the sink take
   turns instead of running side by side. */
#define AHEAD_PER_JOB 32
#define HEADS_AHEAD 512
/* Messages between the sink and the reader. Evaluated ones wait in
   store order with their place alone, a few hundred bytes: a worker
   may spend seconds on one large message at the head while the
   others evaluate thousands behind it. */
#define RING 4096
/* Evaluated messages that wait with their bytes, in bytes. */
#define HELD_MAX (8U << 20)
/* The sink takes at most this many results at once. */
#define SINK_BATCH 512
/* Threads are woken for this many messages at once, not for each
   (at most 64). */
#define BATCH 8
#define HEADS_BATCH 32
/* ... or after this long, when messages come slowly. */
#define BATCH_DELAY 0.001
/* Stack of a worker: MIME walks of deeply nested mail recurse. */
#define WORKER_STACK (16U << 20)

enum slot_state { SLOT_FREE, SLOT_READY, SLOT_WORKING, SLOT_DONE };

/* Thousands wait in the ring, most of them clean: a slot is small,
   and only a result worth reporting has a struct mc_match. */
struct slot {
	enum slot_state state;
	uint64_t seq;
	size_t store_index;
	struct mc_msg *msg;		/* from the store, or fake */
	struct mc_msg *fake;		/* a store-level error, or NULL */
	char *store_error;
	struct mc_match *match;		/* NULL: clean, no problem */
	char *from, *subject, *message_id;
	uint64_t held;			/* bytes it waits with, once done */
};

static const struct mc_match clean_match;

static const struct mc_match *match_of(const struct slot *s)
{
	return s->match != NULL ? s->match : &clean_match;
}

struct pipeline {
	const struct mc_run *run;
	pthread_mutex_t lock;
	pthread_cond_t cond_producer;	/* a slot became free */
	pthread_cond_t cond_worker;	/* a slot became ready, or bytes
					   in flight went down */
	pthread_cond_t cond_sink;	/* a slot became done */
	struct slot *slots;
	size_t ring;			/* slots */
	size_t ahead;			/* read, not yet taken by a worker */
	uint64_t held;			/* sum of the done slots' held */
	uint64_t produced;		/* next seq to produce */
	uint64_t claimed;		/* next seq for a worker */
	uint64_t sunk;			/* next seq for the sink */
	bool producer_done;
	bool stop;			/* sink failed: stop early */
	bool cut_short;			/* the reader stopped on an interrupt */
	/* Who sleeps, so that nobody is woken for nothing. */
	unsigned workers_waiting;
	bool producer_waiting;
	bool sink_waiting;
	double last_wake;		/* producer: workers last woken */
	uint64_t in_flight;		/* bytes of messages being evaluated */
	uint64_t *aside;		/* seqs put aside, oldest first */
	size_t aside_count;
	uint64_t batch;			/* BATCH or HEADS_BATCH */
	bool needs_body;		/* the query looks past headers */
	bool acting;			/* matched messages are removed */
};

/* A pending removal: matched messages of the current container. */
struct pending {
	struct slot *items;
	size_t count, cap;
	size_t store_index;
};

static struct slot *slot_of(struct pipeline *p, uint64_t seq)
{
	return &p->slots[seq % p->ring];
}

/* With the lock held: how many results the sink could take now, up
   to MAX. */
static uint64_t sinkable(struct pipeline *p, uint64_t max)
{
	uint64_t n = 0;

	while (n < max && p->sunk + n < p->produced &&
	       slot_of(p, p->sunk + n)->state == SLOT_DONE)
		n++;
	return n;
}

/* With the lock held: the reader must wait. */
static bool producer_full(const struct pipeline *p)
{
	return p->produced - p->sunk >= p->ring ||
		p->produced - p->claimed >= p->ahead || p->held >= HELD_MAX;
}

/* With the lock held: wake workers when a batch is ready, or when
   ready messages have waited long enough. */
static void wake_workers(struct pipeline *p)
{
	uint64_t ready = p->produced - p->claimed;
	double now;

	if (p->workers_waiting == 0 || ready == 0)
		return;
	now = mc_now();
	if (ready < p->batch && now - p->last_wake < BATCH_DELAY)
		return;
	p->last_wake = now;
	if (ready >= 2 * p->batch)
		pthread_cond_broadcast(&p->cond_worker);
	else
		pthread_cond_signal(&p->cond_worker);
}

/* Whether the run was told to stop reading. */
static bool interrupted(const struct pipeline *p)
{
	return p->run->interrupt != NULL && *p->run->interrupt != 0;
}

static void *producer_main(void *context)
{
	struct pipeline *p = context;
	const struct mc_run *run = p->run;

	for (size_t si = 0; si < run->store_count; si++) {
		for (;;) {
			struct mc_msg *msg = NULL;
			char *error = NULL;
			int ret;

			if (interrupted(p)) {
				pthread_mutex_lock(&p->lock);
				p->cut_short = true;
				pthread_mutex_unlock(&p->lock);
				goto out;
			}
			ret = mc_store_next(run->stores[si], &msg, &error);
			if (ret == 0)
				break;
			pthread_mutex_lock(&p->lock);
			while (producer_full(p) && !p->stop && !interrupted(p)) {
				/* Hand over what is waiting before sleeping. */
				if (p->workers_waiting > 0 && p->claimed < p->produced)
					pthread_cond_broadcast(&p->cond_worker);
				if (p->sink_waiting && sinkable(p, 1) > 0)
					pthread_cond_signal(&p->cond_sink);
				p->producer_waiting = true;
				pthread_cond_wait(&p->cond_producer, &p->lock);
				p->producer_waiting = false;
			}
			if (p->stop || interrupted(p)) {
				p->cut_short = !p->stop;
				pthread_mutex_unlock(&p->lock);
				if (msg != NULL)
					mc_store_msg_free(run->stores[si], &msg);
				free(error);
				goto out;
			}
			struct slot *s = slot_of(p, p->produced);
			memset(s, 0, sizeof(*s));
			s->seq = p->produced;
			s->store_index = si;
			if (ret > 0) {
				msg->seq = s->seq;
				s->msg = msg;
			} else {
				/* The store cannot go on: one error event. */
				s->store_error = error != NULL ? error :
					mc_xstrdup("cannot read the store");
				s->fake = mc_xcalloc(1, sizeof(*s->fake));
				s->fake->loc.store = s->store_error;
				s->fake->loc.path = s->store_error;
				s->fake->loc.offset = -1;
				s->fake->read_error = s->store_error;
				s->fake->seq = s->seq;
				s->msg = s->fake;
				error = NULL;
			}
			s->state = SLOT_READY;
			p->produced++;
			wake_workers(p);
			pthread_mutex_unlock(&p->lock);
			if (ret < 0)
				break;
		}
	}
out:
	pthread_mutex_lock(&p->lock);
	p->producer_done = true;
	pthread_cond_broadcast(&p->cond_worker);
	pthread_cond_broadcast(&p->cond_sink);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void evaluate_one(struct pipeline *p, struct slot *s, struct mc_match *match);
static void settle(struct pipeline *p, struct slot *s);

/* The bytes limits->max_bytes_in_flight counts for S, or 0. Messages
   under an eighth of the bound neither count nor wait: they cost the
   engine little, and while a worker scans one large message the
   others go on with the small ones. */
static uint64_t budget_size(const struct pipeline *p, const struct slot *s)
{
	const struct mc_limits *limits = p->run->limits;
	const struct mc_msg *msg = s->msg;

	if (limits->max_bytes_in_flight == 0 || !p->needs_body ||
	    msg->read_error != NULL || msg->size > limits->max_message_size ||
	    msg->size < limits->max_bytes_in_flight / 8)
		return 0;
	return msg->size;
}

/* With the lock held: SIZE more bytes may be evaluated now. One
   message always may, however large. */
static bool budget_fits(const struct pipeline *p, uint64_t size)
{
	return size == 0 || p->in_flight == 0 ||
		p->in_flight + size <= p->run->limits->max_bytes_in_flight;
}

/* Evaluate S, whose SIZE bytes were counted in flight. */
static void evaluate(struct pipeline *p, struct slot *s, uint64_t size)
{
	struct mc_match match;

	memset(&match, 0, sizeof(match));
	evaluate_one(p, s, &match);
	if (match.matched || match.problem != MC_VERDICT_CLEAN) {
		s->match = mc_xmalloc(sizeof(*s->match));
		*s->match = match;
	} else {
		mc_match_clear(&match);
	}
	settle(p, s);
	if (size > 0) {
		pthread_mutex_lock(&p->lock);
		p->in_flight -= size;
		/* What was put aside may fit now. */
		if (p->aside_count > 0 && p->workers_waiting > 0)
			pthread_cond_broadcast(&p->cond_worker);
		pthread_mutex_unlock(&p->lock);
	}
}

static void evaluate_one(struct pipeline *p, struct slot *s, struct mc_match *match)
{
	const struct mc_run *run = p->run;
	struct mc_store *store = run->stores[s->store_index];
	struct mc_msg *msg = s->msg;
	struct mc_facts *facts;

	if (msg->read_error != NULL)
		return;
	if (msg->size > run->limits->max_message_size) {
		match->problem = MC_VERDICT_UNSCANNED;
		snprintf(match->why, sizeof(match->why),
			 "message of %zu bytes is larger than the limit of %llu bytes",
			 msg->size, (unsigned long long)run->limits->max_message_size);
		return;
	}
	/* A message yielded with its head only is read here, by the
	   worker, and only when the query looks past the header block. */
	if (msg->data == NULL && (p->needs_body || msg->head == NULL) &&
	    mc_store_load(store, msg) < 0)
		return;
	facts = mc_facts_init(msg, run->limits);
	mc_query_eval(run->query, msg, facts, run->engine_ops, run->engine,
		      match);
	if (!match->matched && match->problem == MC_VERDICT_CLEAN) {
		/* Not matched, but maybe only because part of the message
		   was never looked at: a message over a MIME limit is
		   unscanned, a file that is no mail message an error, never
		   silently clean. */
		const char *why;
		enum mc_verdict_kind kind = p->needs_body ? mc_facts_check(facts, &why) :
			mc_facts_check_headers(facts, &why);

		if (kind != MC_VERDICT_CLEAN) {
			match->problem = kind;
			snprintf(match->why, sizeof(match->why), "%s", why);
		}
	}
	if (match->matched) {
		/* Only reported messages need these; take them while the
		   parsed headers are at hand. */
		s->from = mc_xstrdup(mc_facts_header(facts, "From"));
		s->subject = mc_xstrdup(mc_facts_header(facts, "Subject"));
		s->message_id = mc_xstrdup(mc_facts_header(facts, "Message-ID"));
	}
	mc_facts_free(&facts);
}

/* An evaluated message (or one that could not be): keep what the
   sink will need, and count what it waits with. */
static void settle(struct pipeline *p, struct slot *s)
{
	struct mc_store *store = p->run->stores[s->store_index];
	struct mc_msg *msg = s->msg;

	if (msg == s->fake)
		return;
	if (match_of(s)->matched && p->acting) {
		/* The quarantine takes the message as it is stored. */
		if (msg->data == NULL)
			(void)mc_store_load(store, msg);
	} else {
		/* Only its place and size are reported: hold nothing else
		   while it waits for the messages before it. */
		mc_store_drop(store, msg);
	}
	/* What it waits for the sink with. */
	if (msg->raw != NULL)
		s->held += msg->raw_size;
	if (msg->data != NULL && msg->data != msg->raw)
		s->held += msg->size;
	if (msg->head != NULL)
		s->held += msg->head_size;
}

/* With the lock held: S is evaluated. */
static void slot_done(struct pipeline *p, struct slot *s)
{
	s->state = SLOT_DONE;
	p->held += s->held;
}

/* With the lock held: the oldest message put aside that fits the
   budget now, taken off the list with its bytes counted, or NULL. */
static struct slot *aside_take(struct pipeline *p, uint64_t *size_r)
{
	for (size_t i = 0; i < p->aside_count; i++) {
		struct slot *s = slot_of(p, p->aside[i]);
		uint64_t size = budget_size(p, s);

		if (!budget_fits(p, size))
			continue;
		memmove(&p->aside[i], &p->aside[i + 1],
			(p->aside_count - i - 1) * sizeof(*p->aside));
		p->aside_count--;
		p->in_flight += size;
		*size_r = size;
		return s;
	}
	return NULL;
}

/* Evaluate the claimed messages FIRST .. FIRST + N - 1 (N <= 64), in
   order. One that does not fit the budget is put aside, not waited
   for; returns those as bits (1 << i for FIRST + i). Another worker
   may take one off the list and evaluate it at once, so only this
   tells the caller which ones it must not mark done. */
static uint64_t evaluate_claimed(struct pipeline *p, uint64_t first, uint64_t n)
{
	uint64_t put_aside = 0;

	for (uint64_t seq = first; seq < first + n; seq++) {
		struct slot *s = slot_of(p, seq);
		uint64_t size = budget_size(p, s);

		if (size > 0) {
			pthread_mutex_lock(&p->lock);
			if (!budget_fits(p, size)) {
				p->aside[p->aside_count++] = seq;
				put_aside |= 1ULL << (seq - first);
				pthread_mutex_unlock(&p->lock);
				continue;
			}
			p->in_flight += size;
			pthread_mutex_unlock(&p->lock);
		}
		evaluate(p, s, size);
	}
	return put_aside;
}

static void *worker_main(void *context)
{
	struct pipeline *p = context;
	unsigned jobs = p->run->jobs > 0 ? p->run->jobs : 1;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct slot *s;
		uint64_t size;

		/* What was put aside first: the sink waits for it. */
		if ((s = aside_take(p, &size)) != NULL) {
			pthread_mutex_unlock(&p->lock);
			evaluate(p, s, size);
			pthread_mutex_lock(&p->lock);
			slot_done(p, s);
		} else if (p->claimed < p->produced) {
			/* A share of what is ready, taken at once. */
			uint64_t first = p->claimed, n = (p->produced - p->claimed) / jobs;
			if (n == 0)
				n = 1;
			if (n > p->batch)
				n = p->batch;
			p->claimed += n;
			for (uint64_t seq = first; seq < first + n; seq++)
				slot_of(p, seq)->state = SLOT_WORKING;
			/* The reader waits for room ahead of the workers: wake
			   it when half of that is free, not for every batch. */
			if (p->producer_waiting && p->produced - p->claimed <= p->ahead / 2 &&
			    !producer_full(p))
				pthread_cond_signal(&p->cond_producer);
			pthread_mutex_unlock(&p->lock);
			uint64_t put_aside = evaluate_claimed(p, first, n);
			pthread_mutex_lock(&p->lock);
			for (uint64_t seq = first; seq < first + n; seq++) {
				if (!(put_aside & (1ULL << (seq - first))))
					slot_done(p, slot_of(p, seq));
			}
		} else if (p->producer_done && p->aside_count == 0) {
			break;
		} else {
			/* Nothing ready, or only what does not fit yet: the
			   reader or a worker that gives back bytes wakes us. */
			p->workers_waiting++;
			pthread_cond_wait(&p->cond_worker, &p->lock);
			p->workers_waiting--;
			continue;
		}
		/* The sink is woken for a batch, or when it holds up the
		   reader or the end. */
		if (p->sink_waiting) {
			uint64_t ready = sinkable(p, p->batch);
			if (ready > 0 && (ready >= p->batch || p->producer_waiting ||
					  p->producer_done))
				pthread_cond_signal(&p->cond_sink);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void emit(const struct mc_run *run, struct slot *s,
		 enum mc_event_type type, const char *action,
		 const char *qid, const char *why)
{
	struct mc_event ev;

	if (run->on_event == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.msg = s->msg;
	ev.match = match_of(s);
	ev.from = s->from;
	ev.subject = s->subject;
	ev.message_id = s->message_id;
	ev.action = action;
	ev.quarantine_id = qid;
	ev.why = why;
	run->on_event(&ev, run->context);
}

static void slot_release(const struct mc_run *run, struct slot *s)
{
	if (s->msg != NULL && s->msg != s->fake)
		mc_store_msg_free(run->stores[s->store_index], &s->msg);
	s->msg = NULL;
	free(s->fake);
	s->fake = NULL;
	if (s->match != NULL) {
		mc_match_clear(s->match);
		free(s->match);
		s->match = NULL;
	}
	free(s->from);
	free(s->subject);
	free(s->message_id);
	free(s->store_error);
	s->from = s->subject = s->message_id = s->store_error = NULL;
}

/* Quarantine and remove the matched messages of one container, then
   report each with what happened to it. */
static void flush_pending(const struct mc_run *run, struct pending *pend,
			  struct mc_summary *sum)
{
	struct mc_removal *removals;

	if (pend->count == 0)
		return;
	removals = mc_xcalloc(pend->count, sizeof(*removals));
	for (size_t i = 0; i < pend->count; i++) {
		removals[i].msg = pend->items[i].msg;
		removals[i].match = pend->items[i].match;
	}
	mc_store_remove(run->stores[pend->store_index], run->quarantine, run->run_id,
			removals, pend->count);
	for (size_t i = 0; i < pend->count; i++) {
		struct mc_removal *r = &removals[i];
		const char *action = r->removed ? "quarantined" : "failed";

		if (!r->removed && r->error == NULL)
			r->error = mc_xstrdup("not removed");
		if (r->removed)
			sum->acted++;
		else
			sum->errors++;
		emit(run, &pend->items[i], MC_EVENT_MATCH, action,
		     r->quarantine_id, r->error);
		free(r->quarantine_id);
		free(r->error);
		slot_release(run, &pend->items[i]);
	}
	free(removals);
	pend->count = 0;
}

/* Handle one result in store order. Returns true when the slot was
   moved into PEND (and must not be released yet). */
static bool sink_one(struct pipeline *p, struct slot *s, struct pending *pend,
		     struct mc_summary *sum)
{
	const struct mc_run *run = p->run;
	struct mc_msg *msg = s->msg;
	const struct mc_match *match = match_of(s);
	bool acting = run->action == MC_ACTION_QUARANTINE;

	sum->bytes += msg->size;
	if (msg->read_error != NULL) {
		sum->errors++;
		emit(run, s, MC_EVENT_ERROR, NULL, NULL, msg->read_error);
		return false;
	}
	/* Every message counts once: scanned (matched, clean or
	   unscanned) or an error. */
	if (match->matched || match->problem != MC_VERDICT_ERROR)
		sum->scanned++;
	if (match->matched) {
		sum->matched++;
		if (acting && !run->dry_run) {
			MC_ARRAY_PUSH(pend->items, pend->count, pend->cap, *s);
			pend->store_index = s->store_index;
			return true;
		}
		emit(run, s, MC_EVENT_MATCH,
		     acting ? "would quarantine" : NULL, NULL, NULL);
		return false;
	}
	if (match->problem == MC_VERDICT_UNSCANNED) {
		sum->unscanned++;
		emit(run, s, MC_EVENT_UNSCANNED, NULL, NULL, match->why);
	} else if (match->problem == MC_VERDICT_ERROR) {
		sum->errors++;
		emit(run, s, MC_EVENT_ERROR, NULL, NULL, match->why);
	}
	return false;
}

static void progress(const struct mc_run *run, const struct mc_summary *sum,
		     double start, double *last)
{
	struct mc_progress pr;
	double now = mc_now();

	if (run->on_progress == NULL || now - *last < 0.1)
		return;
	*last = now;
	memset(&pr, 0, sizeof(pr));
	pr.messages = sum->scanned + sum->errors;
	pr.bytes = sum->bytes;
	pr.matched = sum->matched;
	pr.seconds = now - start;
	run->on_progress(&pr, run->context);
}

static void pipeline_init(struct pipeline *p, const struct mc_run *run,
			  unsigned jobs)
{
	memset(p, 0, sizeof(*p));
	p->run = run;
	p->needs_body = mc_query_needs_body(run->query);
	p->acting = run->action == MC_ACTION_QUARANTINE && !run->dry_run;
	p->ahead = (size_t)jobs * AHEAD_PER_JOB;
	if (!p->needs_body && p->ahead < HEADS_AHEAD)
		p->ahead = HEADS_AHEAD;
	p->ring = RING > 2 * p->ahead ? RING : 2 * p->ahead;
	p->batch = p->needs_body ? BATCH : HEADS_BATCH;
	p->slots = mc_xcalloc(p->ring, sizeof(*p->slots));
	p->aside = mc_xcalloc(p->ring, sizeof(*p->aside));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond_producer, NULL);
	pthread_cond_init(&p->cond_worker, NULL);
	pthread_cond_init(&p->cond_sink, NULL);
}

static void pipeline_deinit(struct pipeline *p)
{
	pthread_cond_destroy(&p->cond_producer);
	pthread_cond_destroy(&p->cond_worker);
	pthread_cond_destroy(&p->cond_sink);
	pthread_mutex_destroy(&p->lock);
	free(p->slots);
	free(p->aside);
}

/* Start the reader and JOBS workers; *WORKERS_R and *STARTED_R are
   the workers started. -1 when the reader, or not one worker, could
   be started (then nothing runs). */
static int pipeline_start(struct pipeline *p, unsigned jobs, pthread_attr_t *attr,
			  pthread_t *producer, pthread_t **workers_r,
			  unsigned *started_r, char **error_r)
{
	pthread_t *workers;
	unsigned started = 0;

	if (pthread_create(producer, NULL, producer_main, p) != 0)
		return mc_error_errno(error_r, "cannot start the reader thread");
	workers = mc_xcalloc(jobs, sizeof(*workers));
	for (; started < jobs; started++) {
		if (pthread_create(&workers[started], attr, worker_main, p) != 0)
			break;
	}
	if (started == 0) {
		/* Without a worker nothing would ever be evaluated. */
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		pthread_cond_broadcast(&p->cond_producer);
		pthread_mutex_unlock(&p->lock);
		pthread_join(*producer, NULL);
		free(workers);
		return mc_error_errno(error_r, "cannot start worker threads");
	}
	*workers_r = workers;
	*started_r = started;
	return 0;
}

/* Nothing to sink yet: wait up to 0.1 s for a result, with the lock
   held. */
static void sink_wait(struct pipeline *p)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 100 * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	p->sink_waiting = true;
	pthread_cond_timedwait(&p->cond_sink, &p->lock, &ts);
	p->sink_waiting = false;
	/* A reader waiting for room learns of an interrupt here: signal
	   handlers cannot wake it. */
	if (interrupted(p) && p->producer_waiting)
		pthread_cond_signal(&p->cond_producer);
}

/* Report the N results taken into BATCH, in store order, without the
   lock; removals go by container. */
static void sink_batch(struct pipeline *p, struct slot *batch, uint64_t n,
		       struct pending *pend, struct mc_summary *sum)
{
	const struct mc_run *run = p->run;

	for (uint64_t i = 0; i < n; i++) {
		struct slot *copy = &batch[i];
		bool kept = sink_one(p, copy, pend, sum);

		if (kept && copy->msg == copy->fake)
			abort();	/* fake messages never match */
		bool last_in_container = copy->msg == copy->fake ||
			mc_store_container_last(run->stores[copy->store_index], copy->msg);
		if (!kept)
			slot_release(run, copy);
		if (last_in_container)
			flush_pending(run, pend, sum);
	}
}

/* The calling thread's part: sink every result in store order until
   the reader is done and all it read is sunk. */
static void sink_all(struct pipeline *p, struct pending *pend,
		     struct mc_summary *sum, double start)
{
	struct slot *batch = mc_xcalloc(SINK_BATCH, sizeof(*batch));
	double last = 0;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		uint64_t n = sinkable(p, SINK_BATCH);

		if (n == 0) {
			if (p->producer_done && p->sunk == p->produced)
				break;
			sink_wait(p);
		} else {
			/* Take the results that are ready, in order, up to
			   SINK_BATCH at once. */
			for (uint64_t i = 0; i < n; i++) {
				struct slot *s = slot_of(p, p->sunk + i);

				batch[i] = *s;
				p->held -= s->held;
			}
			pthread_mutex_unlock(&p->lock);
			sink_batch(p, batch, n, pend, sum);
			pthread_mutex_lock(&p->lock);
			for (uint64_t i = 0; i < n; i++)
				memset(slot_of(p, p->sunk + i), 0, sizeof(struct slot));
			p->sunk += n;
			if (p->producer_waiting)
				pthread_cond_signal(&p->cond_producer);
		}
		pthread_mutex_unlock(&p->lock);
		sum->seconds = mc_now() - start;
		progress(p->run, sum, start, &last);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	free(batch);
	flush_pending(p->run, pend, sum);
}

int mc_run_pipeline(const struct mc_run *run, struct mc_summary *summary_r,
		    char **error_r)
{
	struct pipeline p;
	struct pending pend;
	pthread_t producer, *workers = NULL;
	pthread_attr_t attr;
	unsigned jobs = run->jobs > 0 ? run->jobs : 1;
	unsigned started = 0;
	double start = mc_now();

	memset(summary_r, 0, sizeof(*summary_r));
	if (run->run_id != NULL)
		snprintf(summary_r->run_id, sizeof(summary_r->run_id), "%s", run->run_id);
	if (run->action == MC_ACTION_QUARANTINE && !run->dry_run &&
	    run->quarantine == NULL)
		return mc_error_set(error_r, "no quarantine to act with");
	if (mc_query_needs_engine(run->query) && run->engine == NULL)
		return mc_error_set(error_r, "the query needs a detection engine");

	pipeline_init(&p, run, jobs);
	memset(&pend, 0, sizeof(pend));
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	if (pipeline_start(&p, jobs, &attr, &producer, &workers, &started,
			   error_r) < 0) {
		pthread_attr_destroy(&attr);
		pipeline_deinit(&p);
		return -1;
	}
	sink_all(&p, &pend, summary_r, start);
	for (unsigned i = 0; i < started; i++)
		pthread_join(workers[i], NULL);
	pthread_join(producer, NULL);
	free(workers);
	free(pend.items);
	summary_r->seconds = mc_now() - start;
	summary_r->interrupted = p.cut_short;
	if (run->engine != NULL && run->engine_ops->stats != NULL) {
		summary_r->engine_used = true;
		run->engine_ops->stats(run->engine, &summary_r->engine);
		summary_r->engine.engine = run->engine_ops->name;
		summary_r->engine.version = run->engine_ops->version != NULL ?
			run->engine_ops->version(run->engine, NULL) : NULL;
	}
	pthread_attr_destroy(&attr);
	pipeline_deinit(&p);
	return 0;
}
