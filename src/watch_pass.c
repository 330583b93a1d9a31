/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	watch_pass 3
/* SUMMARY
/*	mailcure watch: passes over the stores, and the actions
/* SYNOPSIS
/*	#include "watch.h"
/*
/*	int watch_pass(struct watch *w, enum watch_pass_mode mode,
/*		size_t only_store);
/* DESCRIPTION
/*	A pass reads the stores with heads first. A message watch does
/*	not know yet is read, checked with the current detection set
/*	and recorded with its part hashes when it was delivered inside
/*	the window (Maildir: the file's mtime, which the delivery agent
/*	sets; mbox, whose messages carry no delivery time of their own:
/*	when watch first saw it). A message it knows is not read again,
/*	except by a re-check: its verdict then comes from the part
/*	verdicts of the current set, and only a message holding a part
/*	that set has not judged yet is read and scanned (the engine
/*	caches each part's verdict by its SHA-256, so that part is not
/*	scanned again for the next copy). Cost grows with unique parts.
/*
/*	A re-check does not repeat the engine's pass over each whole raw
/*	message: a signature that matches only a whole message, not
/*	any decoded part, is found on arrival, not by a re-check.
/*	Messages whose MIME the engine must scan whole are read and
/*	scanned again at each re-check, and so is every message when
/*	YARA rules or indicators are in the set (their hits are not
/*	kept by part).
/*
/*	PASS_OLD reads messages delivered before the window and reports
/*	(never acts on) those holding a part now known infected.
/*
/*	Acting: the policy says quarantine, Junk or report; a detection
/*	change acts on at most the policy's caps per mailbox and in
/*	total, then holds (reports) until approved. Every action belongs
/*	to a run of its own (STATE/runs/RUN: journal and events, and the
/*	quarantine's run index), so that report RUN and quarantine
/*	restore --run work. An action is recorded as begun before the
/*	store is touched and as done after; what a crash leaves between
/*	is settled when the message is met again (its quarantine copy of
/*	that run discarded, then acted on anew) or found gone (the copy
/*	stands): a message is never quarantined twice.
/* SECURITY
/*	Stores are read by the store modules (no link followed). Names
/*	from messages reach the terminal and the log only through the
/*	CLI's neutralising output.
/*--*/

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <json-c/json.h>

#include "watch.h"

/* A removal waiting for the last message of its container. */
struct pending {
	struct mc_msg *msg;
	char *key;
	char *mailbox;
	struct mc_match match;
};

struct pass {
	struct watch *w;
	enum watch_pass_mode mode;
	time_t window_start;
	struct mc_store *store;
	struct pending *batch;
	size_t batch_count, batch_cap;
};

/* ---- events ---- */

void watch_log(struct watch *w, int priority, const char *fmt, ...)
{
	char *text, *visible;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		abort();
	va_end(ap);
	visible = mc_text_visible(text);
	syslog(priority, "%s", visible);
	if (w->g->json) {
		json_object *obj = json_object_new_object();

		mc_output_json_str(obj, "event", "log");
		mc_output_json_str(obj, "message", text);
		mc_output_json(stdout, obj);
	} else if (w->g->verbose >= 0 || priority <= LOG_WARNING) {
		mc_output_fprintf(stderr, "mailcure watch: %s\n", text);
	}
	free(visible);
	free(text);
}

static void run_begin(struct watch *w)
{
	char *dir, *path, *error = NULL;
	struct mc_journal *j;

	if (w->run_id != NULL)
		return;
	w->run_id = mc_run_id_new();
	dir = mc_xasprintf("%s/runs/%s", w->g->state_dir, w->run_id);
	j = mc_journal_open(dir, true, &error);
	if (j == NULL || mc_journal_append(j, "run", "start", -1, "watch", &error) < 0) {
		watch_log(w, LOG_ERR, "run %s: %s", w->run_id, error);
		free(error);
	}
	mc_journal_close(&j);
	path = mc_xasprintf("%s/watch.jsonl", dir);
	w->run_events = fopen(path, "ae");
	free(path);
	free(dir);
}

void watch_run_end(struct watch *w)
{
	char *dir, *detail, *error = NULL;
	struct mc_journal *j;

	if (w->run_id == NULL)
		return;
	dir = mc_xasprintf("%s/runs/%s", w->g->state_dir, w->run_id);
	detail = mc_xasprintf("quarantined %llu, junk %llu, reported %llu, held %llu",
			      (unsigned long long)w->counts.quarantined,
			      (unsigned long long)w->counts.junked,
			      (unsigned long long)w->counts.reported,
			      (unsigned long long)w->counts.held);
	j = mc_journal_open(dir, false, &error);
	if (j == NULL || mc_journal_append(j, "run", "done", 0, detail, &error) < 0) {
		watch_log(w, LOG_ERR, "run %s: %s", w->run_id, error);
		free(error);
	}
	mc_journal_close(&j);
	if (w->run_events != NULL)
		fclose(w->run_events);
	w->run_events = NULL;
	watch_notify_run(w, w->run_id);
	watch_log(w, LOG_NOTICE, "run %s: %s", w->run_id, detail);
	free(detail);
	free(dir);
	free(w->run_id);
	w->run_id = NULL;
}

/* To stdout (as every command's match lines) and to the run's events
   (for report RUN); to syslog in short. */
static void event(struct watch *w, const struct mc_msg *msg, const struct mc_match *match,
		  const char *action, const char *qid, const char *why)
{
	struct mc_event ev = { .type = MC_EVENT_MATCH, .msg = msg, .match = match,
			       .action = action, .quarantine_id = qid, .why = why };
	char loc[4096], *text, *visible;

	run_begin(w);	/* what is reported belongs to the run as well */
	mc_output_event(&ev, w->out);
	watch_notify_add(w, msg, match->reasons[0].value, action, qid);
	mc_output_location(&msg->loc, loc, sizeof(loc));
	text = mc_xasprintf("%s: %s %s [%s%s%s]", loc,
			    mc_reason_kind_name(match->reasons[0].kind),
			    match->reasons[0].value, action, why != NULL ? ": " : "",
			    why != NULL ? why : "");
	visible = mc_text_visible(text);
	syslog(LOG_WARNING, "%s", visible);
	free(visible);
	free(text);
	if (w->run_events != NULL) {
		json_object *obj = json_object_new_object();

		mc_output_json_str(obj, "event", "match");
		mc_output_location_json(obj, &msg->loc);
		json_object_object_add(obj, "reasons",
				       mc_output_reasons_json(match->reasons,
							      match->reason_count));
		mc_output_json_str(obj, "action", action);
		mc_output_json_str(obj, "quarantine_id", qid);
		mc_output_json_str(obj, "why", why);
		mc_output_json(w->run_events, obj);
	}
}

static void problem(struct watch *w, const struct mc_msg *msg, bool unscanned,
		    const char *why)
{
	struct mc_event ev = { .type = unscanned ? MC_EVENT_UNSCANNED : MC_EVENT_ERROR,
			       .msg = msg, .why = why };

	w->counts.errors++;
	mc_output_event(&ev, w->out);
}

/* ---- verdicts ---- */

static void match_set(struct mc_match *match, const char *name)
{
	memset(match, 0, sizeof(*match));
	match->matched = true;
	match->reasons = watch_xcalloc(1, sizeof(*match->reasons));
	match->reasons[0].kind = MC_REASON_VIRUS;
	match->reasons[0].value = mc_xasprintf("%s", name);
	match->reason_count = 1;
}

/* The verdict of M from the verdicts of its parts: 1 infected (NAME_R
   set), 0 clean, -1 not known (a part the set has not judged). */
static int verdict_cached(struct watch *w, const struct mc_watch_msg *m,
			  const char **name_r)
{
	struct mc_cache_entry e;
	int ret = 0;

	if (m->whole)
		return -1;
	for (size_t i = 0; i < m->part_count; i++) {
		if (!mc_cache_get(w->det->cache, m->parts[i], &e))
			return -1;
		if (e.kind == MC_VERDICT_INFECTED && ret == 0) {
			*name_r = e.name;
			ret = 1;
		}
	}
	return ret;
}

/* The parts the engine judges one by one (as lib/engine/clamav.c
   plans them: an attached message is not a unit, an empty part is
   not scanned). */
static size_t part_hashes(struct mc_facts *facts, unsigned char (**hashes_r)[32])
{
	const struct mc_part *parts;
	const char *why;
	size_t count, n = 0;

	*hashes_r = NULL;
	if (mc_facts_parts(facts, &parts, &count, &why) < 0 || count == 0)
		return 0;
	*hashes_r = watch_xcalloc(count, 32);
	for (size_t i = 0; i < count; i++) {
		if (parts[i].content_size == 0 ||
		    strncmp(parts[i].content_type, "message/", 8) == 0)
			continue;
		memcpy((*hashes_r)[n++], parts[i].sha256, 32);
	}
	return n;
}

/* A hit of a YARA rule, in a verdict: its name after this. */
#define YARA_PREFIX "\001yara:"

static void yara_verdict(struct watch *w, const struct mc_msg *msg, struct mc_facts *facts,
			 struct mc_verdict *v)
{
	struct mc_yara_result res;

	mc_yara_scan(w->det->yara, msg, facts, &res);
	if (res.count > 0) {
		v->kind = MC_VERDICT_INFECTED;
		snprintf(v->name, sizeof(v->name), "%s%.100s:%.120s", YARA_PREFIX, res.hits[0].ns,
			 res.hits[0].rule);
	} else if (res.error[0] != '\0') {
		v->kind = MC_VERDICT_UNSCANNED;
		snprintf(v->name, sizeof(v->name), "yara: %s", res.error);
	}
}

/* An indicator of --ioc, in a verdict: its value after this; the
   reason's detail in *DETAIL_R. */
#define IOC_PREFIX "\001ioc:"

static void ioc_verdict(struct watch *w, const struct mc_msg *msg, struct mc_facts *facts,
			struct mc_verdict *v, char **detail_r)
{
	char value[200];
	const char *why = NULL;
	int r = mc_ioc_set_match(w->det->ioc, msg, facts, value, sizeof(value), detail_r, &why);

	if (r > 0) {
		v->kind = MC_VERDICT_INFECTED;
		snprintf(v->name, sizeof(v->name), "%s%s", IOC_PREFIX, value);
	} else if (r < 0) {
		v->kind = MC_VERDICT_UNSCANNED;
		snprintf(v->name, sizeof(v->name), "ioc: %s", why);
	}
}

/* Read and scan MSG; record it as KEY delivered at DELIVERED. 1
   infected (MATCH set), 0 clean, -1 not judged (reported). */
static int scan(struct pass *p, struct mc_msg *msg, const char *key, time_t delivered,
		struct mc_match *match)
{
	struct watch *w = p->w;
	struct mc_verdict v;
	struct mc_facts *facts;
	unsigned char (*hashes)[32];
	char *ioc_detail = NULL;
	const char *why;
	size_t n;
	bool whole;

	if (mc_store_load(p->store, msg) < 0) {
		problem(w, msg, false, msg->read_error);
		return -1;
	}
	facts = mc_facts_init(msg, &w->g->limits);
	whole = facts == NULL || !mc_facts_regular(facts, &why);
	n = whole ? 0 : part_hashes(facts, &hashes);
	if (whole)
		hashes = NULL;
	w->det->ops->scan_message(w->det->engine, msg, facts, &v);
	if (v.kind == MC_VERDICT_CLEAN && w->det->yara != NULL)
		yara_verdict(w, msg, facts, &v);
	if (v.kind == MC_VERDICT_CLEAN && w->det->ioc != NULL && facts != NULL)
		ioc_verdict(w, msg, facts, &v, &ioc_detail);
	mc_facts_free(&facts);
	/* Not judged: kept as whole, so that every re-check scans it. */
	mc_watch_state_add(w->state, key, delivered, whole || v.kind >= MC_VERDICT_UNSCANNED,
			   (const unsigned char (*)[32])hashes, n)->seen = true;
	free(hashes);
	if (v.kind >= MC_VERDICT_UNSCANNED) {
		problem(w, msg, v.kind == MC_VERDICT_UNSCANNED, v.name);
		return -1;
	}
	if (strncmp(v.name, IOC_PREFIX, strlen(IOC_PREFIX)) == 0) {
		match_set(match, v.name + strlen(IOC_PREFIX));
		match->reasons[0].kind = MC_REASON_IOC;
		match->reasons[0].detail = ioc_detail;
		return 1;
	}
	free(ioc_detail);
	if (v.kind != MC_VERDICT_INFECTED)
		return 0;
	if (strncmp(v.name, YARA_PREFIX, strlen(YARA_PREFIX)) == 0) {
		match_set(match, v.name + strlen(YARA_PREFIX));
		match->reasons[0].kind = MC_REASON_YARA;
		return 1;
	}
	match_set(match, v.name);
	return 1;
}

/* ---- actions ---- */

static bool msg_seen(struct pass *p, struct mc_msg *msg)
{
	struct mc_facts *facts;
	const char *status;
	bool seen;

	if (msg->loc.maildir_flags != NULL)
		return strchr(msg->loc.maildir_flags, 'S') != NULL;
	/* mbox: the Status field mail readers write, R for read. */
	facts = mc_facts_init(msg, &p->w->g->limits);
	status = facts != NULL ? mc_facts_header(facts, "Status") : NULL;
	seen = status != NULL && strchr(status, 'R') != NULL;
	mc_facts_free(&facts);
	return seen;
}

static const char *mailbox_of(const struct mc_msg *msg)
{
	return msg->loc.user != NULL ? msg->loc.user : msg->loc.store;
}

/* Actions of the batch in MAILBOX, not yet counted by the state. */
static unsigned batch_in(const struct pass *p, const char *mailbox)
{
	unsigned n = 0;

	for (size_t i = 0; i < p->batch_count; i++)
		n += strcmp(p->batch[i].mailbox, mailbox) == 0;
	return n;
}

static bool capped(struct pass *p, const char *mailbox)
{
	struct watch *w = p->w;

	if (mc_watch_state_approved(w->state))
		return false;
	return mc_watch_state_acted(w->state, mailbox) + batch_in(p, mailbox) >=
		mc_watch_policy_cap_mailbox(w->policy) ||
		mc_watch_state_acted(w->state, NULL) + p->batch_count >=
		mc_watch_policy_cap_total(w->policy);
}

static void hold(struct pass *p, struct mc_msg *msg, struct mc_match *match)
{
	struct watch *w = p->w;
	char *why = mc_xasprintf("cap reached; act with mailcure watch --approve %s",
				 mc_watch_state_change(w->state));

	w->counts.held++;
	event(w, msg, match, "held", NULL, why);
	if (!w->hold_logged)
		watch_log(w, LOG_ALERT, "detection change %s reached its caps: "
			  "holding; approve with mailcure watch --approve %s",
			  mc_watch_state_change(w->state), mc_watch_state_change(w->state));
	w->hold_logged = true;
	free(why);
}

/* Move MSG to the Junk folder: as a quarantine, recorded before and
   after, so that a crash between is settled by the next sweep (the
   message is then either where it was, and moved again, or in Junk,
   where the sweep reports it). */
static void junk(struct pass *p, struct mc_msg *msg, const char *key,
		 struct mc_match *match)
{
	struct watch *w = p->w;
	char *dest = NULL, *why = NULL, *error = NULL;

	run_begin(w);
	if (mc_watch_state_intent(w->state, key, w->run_id, &error) < 0 ||
	    mc_watch_junk(msg, &dest, &why) < 0 ||
	    mc_watch_state_outcome(w->state, key, mc_watch_state_change(w->state),
				   mailbox_of(msg), "junk", dest, &error) < 0) {
		if (error == NULL)
			(void)mc_watch_state_outcome(w->state, key, NULL, NULL, NULL, why, &error);
		w->counts.reported++;
		event(w, msg, match, "reported", NULL, why != NULL ? why : error);
	} else {
		w->counts.junked++;
		event(w, msg, match, "moved to Junk", NULL, dest);
	}
	free(dest);
	free(why);
	free(error);
}

/* Decide for an infected message in the window; the message is kept
   for a removal or freed. */
static void act(struct pass *p, struct mc_msg *msg, const char *key,
		struct mc_match *match)
{
	struct watch *w = p->w;
	enum mc_reason_kind r = match->reasons[0].kind;
	enum mc_watch_kind kind = r == MC_REASON_YARA ? MC_WATCH_YARA :
		r == MC_REASON_IOC ? MC_WATCH_IOC : MC_WATCH_VIRUS;
	enum mc_watch_action a = mc_watch_policy_action(w->policy, kind, msg_seen(p, msg));
	const char *mailbox = mailbox_of(msg);

	w->counts.hits++;
	if (a == MC_WATCH_REPORT || w->g->dry_run) {
		w->counts.reported++;
		event(w, msg, match, w->g->dry_run ? "would quarantine" : "reported", NULL, NULL);
	} else if (capped(p, mailbox)) {
		hold(p, msg, match);
	} else if (a == MC_WATCH_JUNK) {
		junk(p, msg, key, match);
	} else {
		struct pending pe = { msg, mc_xasprintf("%s", key), mc_xasprintf("%s", mailbox), *match };

		if (p->batch_count == p->batch_cap) {
			p->batch_cap = p->batch_cap * 2 + 8;
			p->batch = realloc(p->batch, p->batch_cap * sizeof(*p->batch));
			if (p->batch == NULL)
				abort();
		}
		p->batch[p->batch_count++] = pe;
		return;
	}
	mc_match_clear(match);
	mc_store_msg_free(p->store, &msg);
}

/* Quarantine the batch (the messages of one container). */
static void batch_flush(struct pass *p)
{
	struct watch *w = p->w;
	struct mc_removal *rm;
	char *error = NULL;

	if (p->batch_count == 0)
		return;
	run_begin(w);
	rm = watch_xcalloc(p->batch_count, sizeof(*rm));
	for (size_t i = 0; i < p->batch_count; i++) {
		rm[i].msg = p->batch[i].msg;
		rm[i].match = &p->batch[i].match;
		if (mc_watch_state_intent(w->state, p->batch[i].key, w->run_id, &error) < 0)
			break;
	}
	if (error == NULL)
		mc_store_remove(p->store, w->q, w->run_id, rm, p->batch_count);
	for (size_t i = 0; i < p->batch_count; i++) {
		struct pending *pe = &p->batch[i];
		bool done = error == NULL && rm[i].removed && rm[i].quarantine_id != NULL;

		if (error == NULL &&
		    mc_watch_state_outcome(w->state, pe->key, mc_watch_state_change(w->state),
					   pe->mailbox, done ? "quarantined" : NULL,
					   done ? rm[i].quarantine_id : rm[i].error, &error) < 0)
			watch_log(w, LOG_ERR, "%s", error);
		if (done)
			w->counts.quarantined++;
		else
			w->counts.errors++;
		event(w, pe->msg, &pe->match, done ? "quarantined" : "failed",
		      rm[i].quarantine_id, done ? NULL : rm[i].error != NULL ? rm[i].error : error);
		free(rm[i].quarantine_id);
		free(rm[i].error);
		mc_match_clear(&pe->match);
		mc_store_msg_free(p->store, &pe->msg);
		free(pe->key);
		free(pe->mailbox);
	}
	if (error != NULL)
		watch_log(w, LOG_ERR, "state: %s; the actions of this container wait", error);
	free(error);
	free(rm);
	p->batch_count = 0;
}

/* ---- what a crash left ---- */

/* The quarantine entry of run M->pending_run holding M, or NULL. */
static char *pending_entry(struct watch *w, const struct mc_watch_msg *m)
{
	struct mc_quarantine_iter *it = mc_quarantine_iter_init_run(w->q, m->pending_run);
	struct mc_qentry *e;
	char *found = NULL, *error = NULL;

	while (it != NULL && found == NULL && mc_quarantine_iter_next_r(it, &e, &error) != 0) {
		struct mc_msg fake = { .loc = e != NULL ? e->loc : (struct mc_location){ 0 } };
		void *raw = NULL;
		size_t size = 0;
		char *key;

		free(error);
		error = NULL;
		if (e == NULL)
			continue;
		/* An mbox message's key is of its header block. */
		if (strcmp(e->loc.kind, "mbox") == 0 &&
		    mc_quarantine_read(w->q, e, &raw, &size, NULL) == 0) {
			const unsigned char *nl = memchr(raw, '\n', size);

			fake.data = nl != NULL ? nl + 1 : raw;
			fake.size = size - (size_t)(fake.data - (unsigned char *)raw);
		}
		key = mc_watch_key(&fake);
		if (key != NULL && strcmp(key, m->key) == 0)
			found = mc_xasprintf("%s", e->id);
		free(key);
		free(raw);
		mc_qentry_free(&e);
	}
	mc_quarantine_iter_deinit(&it);
	return found;
}

/* M, still in its store, was being acted on when watch was killed:
   its copy of that run (if the quarantine has it) goes, so that the
   action is done once, anew. */
static void pending_settle(struct watch *w, struct mc_watch_msg *m)
{
	char *id = pending_entry(w, m), *error = NULL;

	if (id != NULL && mc_quarantine_discard(w->q, id, &error) < 0) {
		watch_log(w, LOG_ERR, "%s: %s", id, error);
		free(error);
		free(id);
		return;
	}
	if (mc_watch_state_outcome(w->state, m->key, NULL, NULL, NULL, "interrupted",
				   &error) < 0) {
		watch_log(w, LOG_ERR, "%s", error);
		free(error);
	}
	free(id);
}

/* After a whole pass: messages gone from their stores. One whose
   action was interrupted is gone because that action was done. */
static void pass_gone(struct watch *w)
{
	char *error = NULL;

	for (size_t i = 0; i < mc_watch_state_count(w->state); i++) {
		struct mc_watch_msg *m = mc_watch_state_at(w->state, i);
		char *id;

		if (m->seen || m->delivered < 0)
			continue;
		if (m->pending_run != NULL) {
			id = pending_entry(w, m);
			if (mc_watch_state_outcome(w->state, m->key, mc_watch_state_change(w->state),
						   "-", id != NULL ? "quarantined" : NULL,
						   id, &error) < 0) {
				watch_log(w, LOG_ERR, "%s", error);
				free(error);
				error = NULL;
			}
			free(id);
		}
		if (!m->acted)
			mc_watch_state_forget(w->state, m->key);
	}
}

/* ---- the pass ---- */

static time_t delivered_of(const struct mc_msg *msg)
{
	if (msg->loc.kind != NULL && strcmp(msg->loc.kind, "maildir") == 0)
		return msg->loc.mtime;
	return time(NULL);
}

/* PASS_OLD: whether MSG, before the window, holds a part known
   infected (no part is scanned). */
static int old_verdict(struct pass *p, struct mc_msg *msg, struct mc_match *match)
{
	struct mc_facts *facts;
	unsigned char (*hashes)[32];
	struct mc_cache_entry e;
	size_t n;
	int ret = 0;

	if (mc_store_load(p->store, msg) < 0)
		return 0;
	facts = mc_facts_init(msg, &p->w->g->limits);
	n = facts != NULL ? part_hashes(facts, &hashes) : 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (mc_cache_get(p->w->det->cache, hashes[i], &e) &&
		    e.kind == MC_VERDICT_INFECTED) {
			match_set(match, e.name);
			ret = 1;
		}
	}
	if (n > 0)
		free(hashes);
	mc_facts_free(&facts);
	return ret;
}

/* A message the state knows, in the window: its verdict now. */
static int known_verdict(struct pass *p, struct mc_msg *msg, struct mc_watch_msg *m,
			 struct mc_match *match)
{
	const char *name = NULL;
	/* Rules and indicators take whole messages: their hits are not
	   kept by part. */
	int v = p->w->det->yara != NULL || p->w->det->ioc != NULL ? -1 :
		verdict_cached(p->w, m, &name);

	p->w->counts.rechecked++;
	if (v == 1)
		match_set(match, name);
	if (v >= 0)
		return v;
	return scan(p, msg, m->key, m->delivered, match);
}

static void pass_msg(struct pass *p, struct mc_msg *msg)
{
	struct watch *w = p->w;
	struct mc_match match;
	char *key = msg->read_error == NULL ? mc_watch_key(msg) : NULL;
	struct mc_watch_msg *m = key != NULL ? mc_watch_state_get(w->state, key) : NULL;
	bool settled = false, old;
	int v = 0;

	w->counts.messages++;
	if (m != NULL && m->delivered < 0)
		m = NULL;	/* forgotten, and back */
	if (m != NULL) {
		m->seen = true;
		if (m->pending_run != NULL && p->mode != PASS_OLD) {
			pending_settle(w, m);
			settled = true;
		}
	}
	old = (m != NULL ? m->delivered : delivered_of(msg)) < p->window_start;
	if (key == NULL || (m != NULL && m->acted) || (p->mode == PASS_OLD) != old) {
		v = 0;
	} else if (p->mode == PASS_OLD) {
		v = old_verdict(p, msg, &match);
	} else if (m == NULL) {
		w->counts.indexed++;
		v = scan(p, msg, key, delivered_of(msg), &match);
	} else if (p->mode == PASS_RECHECK || settled) {
		v = known_verdict(p, msg, m, &match);
	}
	if (v == 1 && p->mode == PASS_OLD) {
		w->counts.old_reported++;
		event(w, msg, &match, "reported", NULL, "delivered before the window");
		mc_match_clear(&match);
	} else if (v == 1) {
		act(p, msg, key, &match);
		msg = NULL;
	}
	if (msg != NULL)
		mc_store_msg_free(p->store, &msg);
	free(key);
}

static int pass_store(struct pass *p, const char *uri)
{
	struct watch *w = p->w;
	struct mc_store_settings set = { .limits = &w->g->limits, .heads_first = true,
					 .bodies_read = true, .quarantine = w->q,
					 .dry_run = w->g->dry_run };
	struct mc_msg *msg;
	char *error = NULL;
	int ret;

	if (mc_store_open(uri, &set, &p->store, &error) < 0) {
		watch_log(w, LOG_ERR, "%s", error);
		free(error);
		return -1;
	}
	while ((ret = mc_store_next(p->store, &msg, &error)) > 0) {
		bool last = mc_store_container_last(p->store, msg);

		pass_msg(p, msg);
		if (last)
			batch_flush(p);
	}
	batch_flush(p);
	if (ret < 0) {
		watch_log(w, LOG_ERR, "%s: %s", uri, error);
		free(error);
	}
	mc_store_close(&p->store);
	return ret;
}

int watch_pass(struct watch *w, enum watch_pass_mode mode, size_t only_store)
{
	struct pass p = { .w = w, .mode = mode, .window_start = time(NULL) - w->window };
	char *error = NULL;
	int ret = 0;

	for (size_t i = 0; i < mc_watch_state_count(w->state); i++)
		mc_watch_state_at(w->state, i)->seen = false;
	for (size_t i = 0; i < w->uri_count; i++) {
		if (only_store == WATCH_ALL_STORES || only_store == i)
			ret |= pass_store(&p, w->uris[i]);
	}
	free(p.batch);
	if (ret == 0 && only_store == WATCH_ALL_STORES && mode != PASS_OLD)
		pass_gone(w);
	if (mc_watch_state_flush(w->state, &error) < 0) {
		watch_log(w, LOG_ERR, "%s", error);
		free(error);
		ret = -1;
	}
	return ret;
}
