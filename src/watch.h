/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	watch 3h
/* SUMMARY
/*	the parts of mailcure watch and what they share
/* DESCRIPTION
/*	cmd_watch.c: the command line, the control of a running watch
/*	(--reload, --approve) and the event loop. watch_pass.c: the
/*	passes over the stores (sweep, re-check, old mail) and the
/*	actions, as the policy (lib/watch_policy.c) says. watch_engine.c:
/*	detection sets, loaded beside each other. watch_hooks.c: the
/*	notifications.
/*--*/

#ifndef MAILCURE_WATCH_H
#define MAILCURE_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>
#include <time.h>

#include "commands.h"
#include "mailcure/notify.h"
#include "mailcure/watch_policy.h"
#include "mailcure/watch_state.h"


/* A detection set: an engine, its identity, the verdicts it gave. */
struct watch_engine {
	const struct mc_engine_ops *ops;
	struct mc_engine *engine;
	struct mc_cache *cache;
	struct mc_yara *yara;		/* --yara rules, or NULL */
	struct mc_ioc_set *ioc;		/* --ioc indicators, or NULL */
	char rules_stamp[65];		/* of the --yara and --ioc files */
	char identity[65];		/* of the engine's and the rules' */
};

/* Counts of one pass. */
struct watch_counts {
	uint64_t messages, indexed, rechecked, parts_scanned, hits;
	uint64_t quarantined, junked, reported, held, old_reported, errors;
};

struct watch {
	struct mc_global *g;
	const char **uris;
	size_t uri_count;
	time_t window;			/* seconds */
	const char *policy_path;
	struct mc_watch_policy *policy;
	struct mc_watch_state *state;
	char *dir;			/* STATE/watch */
	struct mc_quarantine *q;
	struct watch_engine *det;	/* the current detection set */
	struct mc_output *out;
	char *run_id;			/* the run of the actions of a pass */
	FILE *run_events;		/* its watch.jsonl */
	struct watch_counts counts;
	bool hold_logged;
	/* What the run did, for its digests (watch_hooks.c). */
	struct mc_notify_item *items;
	size_t item_count, item_cap;
};

/* watch_engine.c */
int watch_engine_open(struct watch *w, struct watch_engine **det_r);
void watch_engine_close(struct watch *w, struct watch_engine **det);
/* Save the verdicts of the current set beside the state. */
void watch_engine_save(struct watch *w);
/* Whether the --yara files changed since DET was loaded (a cheap
   look at their names, sizes and times). */
bool watch_engine_rules_changed(struct watch *w, const struct watch_engine *det);

/* watch_pass.c */
enum watch_pass_mode {
	PASS_SWEEP,	/* index what is new, check it, act */
	PASS_RECHECK,	/* and re-check the window with the current set */
	PASS_OLD,	/* report old mail holding a part found infected */
};
/* One pass over the stores: 0, or -1 after a message. */
int watch_pass(struct watch *w, enum watch_pass_mode mode, size_t only_store);
#define WATCH_ALL_STORES ((size_t)-1)
/* End the run of the actions (journal, notifications). */
void watch_run_end(struct watch *w);
/* A line in the log (syslog) and, with --json, an event. */
void watch_log(struct watch *w, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* watch_hooks.c: the seam of the notifications. */
/* An item of the run's digests: MSG, with what was done and why. */
void watch_notify_add(struct watch *w, const struct mc_msg *msg, const char *reason,
		      const char *action, const char *qid);
/* After a run that acted or reported: the digests, as the policy
   says; the items are then forgotten. */
void watch_notify_run(struct watch *w, const char *run_id);

/* calloc() that aborts when out of memory. */
void *watch_xcalloc(size_t n, size_t size);

#endif
