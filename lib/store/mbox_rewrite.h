/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	mbox_rewrite 3h
/* SUMMARY
/*	cut messages out of a locked mbox, durably, and settle an
/*	interrupted cut
/* SYNOPSIS
/*	#include "mbox_rewrite.h"
/* DESCRIPTION
/*	What mbox.c does with a mailbox it holds locked: see
/*	mbox_rewrite.c.
/*--*/

#ifndef MAILCURE_MBOX_REWRITE_H
#define MAILCURE_MBOX_REWRITE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "mailcure/mailcure.h"

struct mc_dotlock;

/* An mbox open read-write under its dotlock and fcntl lock. */
struct mc_mbox_held {
	struct mc_dotlock *dotlock;
	int fd;
	struct stat st;		/* as it is now */
};

/* Lock and open mailbox NAME in DIRFD (a regular file with one link,
   no symlink), making sure the name still refers to the file locked.
   With CREATE_MODE != 0 a missing mailbox is created with that mode
   and owner UID/GID. */
int mc_mbox_hold(int dirfd, const char *name, mode_t create_mode, uid_t uid,
		 gid_t gid, struct mc_mbox_held *held_r, char **error_r);
void mc_mbox_release(struct mc_mbox_held *held);

/* The rewrite journal of one mailbox, and the staging group in the
   quarantine that holds the entries of the messages it cuts. */
struct mc_mbox_journal {
	struct mc_quarantine *q;
	const char *path;	/* the mailbox, absolute */
	int dirfd;		/* QUARANTINE/journal */
	char group[72];		/* "mbox-" and the SHA-256 of the path */
	char name[80];		/* GROUP ".tail" */
};

int mc_mbox_journal_open(struct mc_quarantine *q, const char *path,
			 struct mc_mbox_journal *j_r, char **error_r);
void mc_mbox_journal_close(struct mc_mbox_journal *j);
/* Whether an interrupted removal left something to settle: a journal
   or staged entries (looked at without the lock). */
bool mc_mbox_journal_left(const struct mc_mbox_journal *j);

/* With HELD the mailbox of J: complete the rewrite that J records and
   commit the entries it names; discard every other staged entry, whose
   message was never cut. Returns -1 (nothing acted on) when the
   mailbox is not what the journal expects. */
int mc_mbox_settle(struct mc_mbox_journal *j, struct mc_mbox_held *held,
		   char **error_r);

struct mc_mbox_cut {
	uint64_t off, len;
};

enum mc_mbox_cut_result {
	MC_MBOX_CUT_DONE,	/* cut out, the entries committed */
	MC_MBOX_CUT_UNCHANGED,	/* the mailbox is as it was, the entries discarded */
	MC_MBOX_CUT_PENDING,	/* finished by the next settle of the mailbox */
};

/* Cut CUTS (by offset, not overlapping) out of the held mailbox, whose
   messages are the entries IDS staged in J's group: journal, rewrite
   in place, commit the entries, remove the journal. */
enum mc_mbox_cut_result mc_mbox_cut_out(struct mc_mbox_journal *j,
					struct mc_mbox_held *held,
					const struct mc_mbox_cut *cuts, size_t cut_count,
					char *const *ids, size_t id_count,
					char **error_r);

#endif
