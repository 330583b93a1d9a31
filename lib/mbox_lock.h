/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	mbox_lock 3h
/* SUMMARY
/*	lock an mbox the way Postfix local and Dovecot do
/* SYNOPSIS
/*	#include "mbox_lock.h"
/* DESCRIPTION
/*	mc_dotlock_acquire() creates NAME.lock in the mailbox's
/*	directory, mc_fcntl_lock() takes a write lock on the whole
/*	mailbox file: the two locks that Postfix local
/*	(mailbox_delivery_lock = fcntl, dotlock) and Dovecot
/*	(mbox_write_locks = dotlock fcntl) take before they change an
/*	mbox. Take them in that order and release them in reverse.
/*
/*	Both wait for a lock held by someone else, up to the timeout
/*	(mc_mbox_lock_timeout(), 300 seconds by default like Dovecot's
/*	mbox_lock_timeout).
/*--*/

#ifndef MAILCURE_MBOX_LOCK_H
#define MAILCURE_MBOX_LOCK_H

struct mc_dotlock;

/* Create NAME.lock in DIRFD: a file with a unique name is created and
   link()ed to NAME.lock, which is atomic even over NFS. A lock file
   that has not changed for 300 seconds (Postfix's stale_lock_time is
   500, Dovecot's mbox_dotlock_change_timeout 120) is stale and is
   removed, as is one of ours whose process is gone. */
int mc_dotlock_acquire(int dirfd, const char *name, struct mc_dotlock **lock_r,
		       char **error_r);
/* Remove the lock file, if it is still ours. */
void mc_dotlock_release(struct mc_dotlock **lock);

/* Write-lock all of FD with fcntl (an open file description lock,
   which conflicts with the POSIX record locks of Postfix and Dovecot
   and is not dropped when another descriptor of the file is closed
   in this process). */
int mc_fcntl_lock(int fd, char **error_r);
void mc_fcntl_unlock(int fd);

/* Seconds to wait for each lock. */
unsigned mc_mbox_lock_timeout(void);
void mc_mbox_lock_set_timeout(unsigned seconds);

#endif
