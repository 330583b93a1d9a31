/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	mta 3h
/* SUMMARY
/*	the mail transfer agent whose queue mailcure works on
/* SYNOPSIS
/*	#include <mailcure/mta.h>
/* DESCRIPTION
/*	One interface to the queue of the MTA of this server, Postfix or
/*	Exim, for the queue command and the queue steps of respond: which
/*	MTA is in use, its state (running, frozen, queued messages),
/*	freeze and thaw of its queue, and release of held messages. An
/*	instance is named by CONFIG: for Postfix its configuration
/*	directory (as postconf -c), for Exim its configuration file (as
/*	exim -C); NULL is the default instance. The messages themselves
/*	are read and removed through the stores mc_store_postfix and
/*	mc_store_exim (mailcure.h).
/*
/*	lib/mta.c dispatches to lib/postfix_ctl.c (postfix_freeze.c)
/*	and lib/exim_ctl.c (exim_freeze.c); those headers are private
/*	to the library.
/* DIAGNOSTICS
/*	Functions return -1 with a malloc()ed reason in *error_r.
/* SECURITY
/*	Changing anything needs root; see the MTA modules.
/*--*/

#ifndef MAILCURE_MTA_H
#define MAILCURE_MTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

enum mc_mta_kind { MC_MTA_AUTO, MC_MTA_POSTFIX, MC_MTA_EXIM };

/* "postfix" or "exim" (NULL for MC_MTA_AUTO). */
const char *mc_mta_kind_name(enum mc_mta_kind kind);

/* Whether an instance of KIND is in use here: installed, and
   configured (Postfix: CONFIG holds a main.cf; Exim: its
   configuration file exists). For MC_MTA_AUTO, whether exactly one of
   the two is (*kind_r gets it; may be NULL). When false, *why_r says
   why (malloc()ed). */
bool mc_mta_in_use(enum mc_mta_kind kind, const char *config,
		   enum mc_mta_kind *kind_r, char **why_r);

struct mc_mta;

/* Open the instance CONFIG of KIND (not MC_MTA_AUTO). Fails with a
   clear reason when the MTA is not installed or not configured. */
int mc_mta_open(enum mc_mta_kind kind, const char *config,
		struct mc_mta **mta_r, char **error_r);
void mc_mta_close(struct mc_mta **mta);
enum mc_mta_kind mc_mta_kind(const struct mc_mta *mta);
/* The instance as the user knows it: Postfix's configuration
   directory, Exim's configuration file. */
const char *mc_mta_config(const struct mc_mta *mta);

/* The queues of KIND (Postfix: incoming, active, deferred, hold,
   maildrop; Exim: input). */
size_t mc_mta_queue_count(enum mc_mta_kind kind);
const char *mc_mta_queue_name(enum mc_mta_kind kind, size_t index);

#define MC_MTA_QUEUES_MAX 5

struct mc_mta_status {
	const char *version;	/* owned by the mta */
	const char *queue_dir;	/* Postfix queue, Exim spool directory */
	bool split;		/* Exim: split_spool_directory */
	pid_t pid;		/* master / daemon; 0: not running */
	bool frozen;		/* nothing is delivered */
	bool freeze_recorded;	/* mailcure's freeze state exists */
	/* Recorded, but the configuration no longer holds the freeze
	   (regenerated, edited, replaced by a package upgrade, or a
	   freeze that was interrupted): mail is delivered while
	   mailcure's record says frozen. */
	bool freeze_undone;
	time_t frozen_at;
	size_t queue_count;
	uint64_t messages[MC_MTA_QUEUES_MAX], bytes[MC_MTA_QUEUES_MAX];
	uint64_t total_messages, total_bytes;
	uint64_t incomplete;	/* files still being written */
};

int mc_mta_status(const struct mc_mta *mta, const char *state_dir,
		  struct mc_mta_status *status_r, char **error_r);

/* -1 with *error_r when mailcure's freeze is recorded but no longer in
   force (freeze_undone): what needs the freeze must not go on; or
   when the status cannot be read. *DELIVERING_R: whether the MTA
   runs and its queue is not frozen (deleting works then, but a
   freeze is the safe way). One status read answers both. */
int mc_mta_check_freeze(const struct mc_mta *mta, const char *state_dir,
			bool *delivering_r, char **error_r);
/* What undid a freeze mailcure recorded, for people: "FILE no longer
   holds the freeze (the likely causes)". */
const char *mc_mta_freeze_undone_why(const struct mc_mta *mta);

/* Freeze: nothing queued and nothing newly received is delivered
   until thaw, while mail is still accepted. Returns 1 when it froze
   the queue now, 0 when it was frozen already (nothing changed), -1
   on error. *note_r (may be NULL) gets a malloc()ed remark. */
int mc_mta_freeze(const struct mc_mta *mta, const char *state_dir,
		  bool dry_run, char **note_r, char **error_r);
/* Thaw: every file the freeze changed is restored byte for byte and
   delivery starts again. 1 when it thawed, 0 when the queue was not
   frozen by mailcure, -1 on error. Unless FORCE, refuses when a file
   was changed while frozen (restoring would undo that change). */
int mc_mta_thaw(const struct mc_mta *mta, const char *state_dir,
		bool force, bool dry_run, char **note_r, char **error_r);

/* Whether ID is a queue id of this MTA (its syntax). */
bool mc_mta_queue_id_ok(const struct mc_mta *mta, const char *id);

/* Release the held messages IDS (Postfix: off the hold queue; Exim:
   thawed when Exim froze them and delivered now, with their original
   envelope sender to the recipients not yet delivered). Per id,
   *done_r tells whether it was released, and why_r[i] (malloc()ed,
   NULL when done) why not; *note_r (may be NULL) a remark (the
   released mail could not be sent on yet). -1 with *error_r when
   nothing could be tried. */
int mc_mta_release(const struct mc_mta *mta, const char *const *ids,
		   size_t count, bool *done_r, char **why_r, char **note_r,
		   char **error_r);

/* Restrict a queue store opened for this MTA to the queues whose bits
   (1 << index, see mc_mta_queue_name) are in MASK. */
struct mc_store;
void mc_mta_store_set_queues(struct mc_store *store, unsigned mask);

#endif
