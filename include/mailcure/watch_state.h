/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	watch_state 3h
/* SUMMARY
/*	what mailcure watch keeps about recent mail (lib/watch_state.c)
/* SYNOPSIS
/*	#include <mailcure/watch_state.h>
/* DESCRIPTION
/*	The kept state of watch: for each message delivered inside the
/*	window, where it is and the SHA-256 of its decoded parts; what
/*	was done to which message, under which detection change; which
/*	changes were approved past their caps. See lib/watch_state.c.
/*--*/

#ifndef MAILCURE_WATCH_STATE_H
#define MAILCURE_WATCH_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct mc_msg;

/* One message watch knows. */
struct mc_watch_msg {
	char *key;		/* mc_watch_key() */
	time_t delivered;
	/* Its MIME could not be taken apart as the engine would: its
	   verdict is of the whole message, parts is empty. */
	bool whole;
	/* Acted on (quarantined, moved to Junk): never again. */
	bool acted;
	char *pending_run;	/* action begun under this run, outcome unknown */
	size_t part_count;
	unsigned char (*parts)[32];
	bool seen;		/* met by the current sweep (not kept) */
};

struct mc_watch_state;

/* Open (create, mode 0700) the state in DIR, replay its log and
   rewrite it compactly, forgetting messages delivered before
   FORGET_BEFORE that were not acted on. */
int mc_watch_state_open(const char *dir, time_t forget_before,
			struct mc_watch_state **st_r, char **error_r);
void mc_watch_state_close(struct mc_watch_state **st);
/* Forget, and rewrite the log without, what open would forget. */
int mc_watch_state_compact(struct mc_watch_state *st, time_t forget_before,
			   char **error_r);

/* A stable name of a message across renames by the IMAP server
   (Maildir flags, new/ to cur/) and rewrites of its mbox (offsets
   shift): for a Maildir file the folder and the unique name, for
   an mbox message its file and the SHA-256 of its header block.
   malloc()ed; NULL when MSG has no such name (its header is not
   read). */
char *mc_watch_key(const struct mc_msg *msg);

struct mc_watch_msg *mc_watch_state_get(struct mc_watch_state *st, const char *key);
size_t mc_watch_state_count(const struct mc_watch_state *st);
struct mc_watch_msg *mc_watch_state_at(struct mc_watch_state *st, size_t i);

/* Record a message (appended, made durable by the next flush: one
   lost in a crash is read again by the next sweep). */
struct mc_watch_msg *mc_watch_state_add(struct mc_watch_state *st, const char *key,
					time_t delivered, bool whole,
					const unsigned char (*parts)[32], size_t count);
/* Forget a message that is gone from its store. */
void mc_watch_state_forget(struct mc_watch_state *st, const char *key);
int mc_watch_state_flush(struct mc_watch_state *st, char **error_r);

/* Before acting on KEY under RUN (durable when it returns), and
   after: ACTION "quarantined" or "junk" with the quarantine id (or
   "-"), counted against CHANGE and MAILBOX; ACTION NULL: nothing was
   done, the intent is cleared. */
int mc_watch_state_intent(struct mc_watch_state *st, const char *key,
			  const char *run_id, char **error_r);
int mc_watch_state_outcome(struct mc_watch_state *st, const char *key,
			   const char *change, const char *mailbox,
			   const char *action, const char *detail, char **error_r);

/* The current detection change: its id and the identity of the
   detection set it brought (hex). NULL before the first. */
const char *mc_watch_state_change(const struct mc_watch_state *st);
const char *mc_watch_state_identity(const struct mc_watch_state *st);
int mc_watch_state_change_begin(struct mc_watch_state *st, const char *change,
				const char *identity, char **error_r);
/* Actions taken under the current change (MAILBOX NULL: in all). */
unsigned mc_watch_state_acted(const struct mc_watch_state *st, const char *mailbox);
/* Approve CHANGE past its caps. */
int mc_watch_state_approve(struct mc_watch_state *st, const char *change,
			   char **error_r);
bool mc_watch_state_approved(const struct mc_watch_state *st);
/* Move MSG, a Maildir message as its store yielded it, into the
   Junk folder of its Maildir (lib/store/maildir_junk.c): *dest_r is where it
   went. */
int mc_watch_junk(const struct mc_msg *msg, char **dest_r, char **error_r);

/* Bytes of memory the kept state holds (for the benchmark). */
size_t mc_watch_state_memory(const struct mc_watch_state *st);

#endif
