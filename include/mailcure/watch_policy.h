/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	watch_policy 3h
/* SUMMARY
/*	what watch does with a message that a changed detection hits
/* SYNOPSIS
/*	#include "mailcure/watch_policy.h"
/* DESCRIPTION
/*	See lib/watch_policy.c.
/*--*/

#ifndef MAILCURE_WATCH_POLICY_H
#define MAILCURE_WATCH_POLICY_H

#include <stdbool.h>
#include <stddef.h>

/* Which kind of detection hit the message. */
enum mc_watch_kind {
	MC_WATCH_VIRUS,		/* a ClamAV signature (or clamd) */
	MC_WATCH_YARA,		/* a YARA rule */
	MC_WATCH_IOC,		/* an indicator of an --ioc feed */
	MC_WATCH_QUERY,		/* any other term of the watch query */
};
#define MC_WATCH_KINDS 4

/* What watch does with it. */
enum mc_watch_action {
	MC_WATCH_QUARANTINE,	/* into the quarantine, out of the mailbox */
	MC_WATCH_JUNK,		/* into the owner's Junk folder */
	MC_WATCH_REPORT,	/* only reported */
};

/* The defaults when no policy file is given. */
#define MC_WATCH_CAP_MAILBOX_DEFAULT 50u
#define MC_WATCH_CAP_TOTAL_DEFAULT 1000u
#define MC_WATCH_SENDMAIL_DEFAULT "/usr/sbin/sendmail"
#define MC_WATCH_NOTIFY_FROM_DEFAULT "postmaster"

struct mc_watch_policy;

/* The policy of the file PATH, or the built-in one when PATH is NULL.
   -1 with "PATH:LINE: why" (or "PATH: why") in *err_r. */
int mc_watch_policy_load(const char *path, struct mc_watch_policy **pol_r,
			 char **err_r);
/* The same from SIZE bytes of TEXT read from PATH (tests, fuzzing). */
int mc_watch_policy_parse(const char *path, const char *text, size_t size,
			  struct mc_watch_policy **pol_r, char **err_r);

/* What to do with a message a detection of KIND hits; SEEN: its
   owner has read it (Maildir S flag, Dovecot \Seen). */
enum mc_watch_action mc_watch_policy_action(const struct mc_watch_policy *pol,
					    enum mc_watch_kind kind, bool seen);
/* At most this many messages acted on per mailbox, and in all, for one
   change of detections; beyond: report only, ask for approval. */
unsigned mc_watch_policy_cap_mailbox(const struct mc_watch_policy *pol);
unsigned mc_watch_policy_cap_total(const struct mc_watch_policy *pol);

/* Notification: a digest to each affected mailbox owner; */
bool mc_watch_policy_notify_users(const struct mc_watch_policy *pol);
/* to this administrator address, or NULL: none; */
const char *mc_watch_policy_notify_admin(const struct mc_watch_policy *pol);
/* from this template file, or NULL: the built-in one; */
const char *mc_watch_policy_notify_template(const struct mc_watch_policy *pol);
const char *mc_watch_policy_notify_admin_template(const struct mc_watch_policy *pol);
/* with this sender (envelope and From:); */
const char *mc_watch_policy_notify_from(const struct mc_watch_policy *pol);
/* through this sendmail program. */
const char *mc_watch_policy_sendmail(const struct mc_watch_policy *pol);

/* "virus", "yara", "ioc", "query" and "quarantine", "junk", "report". */
const char *mc_watch_kind_name(enum mc_watch_kind kind);
const char *mc_watch_action_name(enum mc_watch_action action);

void mc_watch_policy_free(struct mc_watch_policy **pol);

#endif
