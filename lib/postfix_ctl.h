/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	postfix_ctl 3h
/* SUMMARY
/*	drive a Postfix instance: commands, queue walk, freeze and thaw
/* SYNOPSIS
/*	#include "postfix_ctl.h"
/* DESCRIPTION
/*	One Postfix instance is named by its configuration directory
/*	(NULL: the default one, as postconf reports it). Everything
/*	Postfix itself offers is done with Postfix's own commands
/*	(postconf, postsuper, postqueue, postfix, sendmail), run with
/*	fork and execve from argument vectors, never through a shell,
/*	with a fixed environment. Queue files are only ever read.
/*
/*	Freeze stops the queue manager of the instance (every master.cf
/*	service whose command is qmgr, nqmgr or oqmgr is commented out
/*	with "postconf -M#", then Postfix reloads). Without a queue
/*	manager nothing queued is delivered and nothing newly received
/*	leaves the incoming queue, while smtpd, pickup and cleanup keep
/*	accepting mail. No message is held, expired or bounced by the
/*	freeze itself. Before the change, exact copies of main.cf and
/*	master.cf (with owner and mode) are saved below the state
/*	directory (STATE_DIR/postfix-freeze/); thaw writes them back
/*	byte for byte, reloads, and flushes the deferred queue.
/* SECURITY
/*	Runs as root. Commands run under the policy of lib/exec.c: a
/*	fixed environment, no inherited descriptor but the standard
/*	three, killed (their whole process group) at a time limit.
/*	Files are written by temporary name and rename(2), fsync'd.
/*--*/

#ifndef MAILCURE_POSTFIX_CTL_H
#define MAILCURE_POSTFIX_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* The queues that hold messages, in the order they are walked. */
#define MC_POSTFIX_QUEUE_COUNT 5
extern const char *const mc_postfix_queues[MC_POSTFIX_QUEUE_COUNT];

struct mc_postfix {
	char *config_dir;	/* as given, or postconf's config_directory */
	bool config_given;	/* -c / MAIL_CONFIG is passed to commands */
	char *queue_dir;
	char *command_dir;	/* postsuper, postqueue, postfix */
	char *sendmail_path;
	char *mail_version;
	char *postconf;		/* absolute path of postconf */
};

/* Whether the instance is in use: Postfix is installed and its
   configuration directory (CONFIG_DIR, NULL: the default one) holds a
   main.cf. Without main.cf (the package installed and never set up)
   Postfix cannot run and has no queue. When false, *why_r says why
   (malloc()ed): the queue steps of respond do not apply. */
bool mc_postfix_configured(const char *config_dir, char **why_r);

/* Find Postfix (postconf) and read the instance's directories.
   Fails with a clear reason when Postfix is not installed or
   CONFIG_DIR holds no main.cf. */
int mc_postfix_open(const char *config_dir, struct mc_postfix **pf_r,
		    char **error_r);
void mc_postfix_free(struct mc_postfix **pf);

/* The pid of the instance's master process, or 0 when it is not
   running. */
pid_t mc_postfix_master_pid(const struct mc_postfix *pf);

/* Whether the queue manager is stopped: no qmgr-like service is
   enabled in master.cf, and (when Postfix runs) no queue manager
   process is left. */
int mc_postfix_is_frozen(const struct mc_postfix *pf, bool *frozen_r,
			 char **error_r);

/* Devices and inodes of the files that Postfix processes have open
   (a delivery agent reading a queue file). */
struct mc_postfix_open_file {
	dev_t dev;
	ino_t ino;
};
struct mc_postfix_open_files {
	struct mc_postfix_open_file *files;
	size_t count, cap;
};
void mc_postfix_open_files(const struct mc_postfix *pf,
			   struct mc_postfix_open_files *files_r);
bool mc_postfix_file_open(const struct mc_postfix_open_files *files,
			  dev_t dev, ino_t ino);
void mc_postfix_open_files_clear(struct mc_postfix_open_files *files);

/* Counts per queue, and the freeze state. */
struct mc_postfix_status {
	uint64_t messages[MC_POSTFIX_QUEUE_COUNT];
	uint64_t bytes[MC_POSTFIX_QUEUE_COUNT];
	uint64_t total_messages, total_bytes;
	uint64_t incomplete;	/* files still being written */
	pid_t master_pid;	/* 0: not running */
	bool frozen;		/* queue manager stopped */
	bool freeze_recorded;	/* mailcure's freeze state exists */
	time_t frozen_at;
};

int mc_postfix_status(const struct mc_postfix *pf, const char *state_dir,
		      struct mc_postfix_status *status_r, char **error_r);

/* Freeze. Returns 1 when it froze the queue now, 0 when it was
   frozen already (nothing changed), -1 on error. *note_r (may be
   NULL) gets a malloc()ed remark for the administrator. */
int mc_postfix_freeze(const struct mc_postfix *pf, const char *state_dir,
		      bool dry_run, char **note_r, char **error_r);

/* Thaw. Returns 1 when it thawed, 0 when the queue was not frozen by
   mailcure, -1 on error. Unless FORCE, refuses when main.cf or
   master.cf was changed while frozen (restoring would undo that
   change). */
int mc_postfix_thaw(const struct mc_postfix *pf, const char *state_dir,
		    bool force, bool dry_run, char **note_r, char **error_r);

/* postsuper -h|-H|-d with the ids on stdin, limited to QUEUE (NULL:
   postsuper's default queues). *done_r (may be NULL) gets, per id,
   whether postsuper reported acting on it. */
enum mc_postsuper_op { MC_POSTSUPER_HOLD, MC_POSTSUPER_RELEASE, MC_POSTSUPER_DELETE };
int mc_postfix_postsuper(const struct mc_postfix *pf, enum mc_postsuper_op op,
			 const char *queue, const char *const *ids,
			 size_t count, bool *done_r, char **error_r);

/* Re-inject a message with its envelope: sendmail -G -i -f SENDER
   -- RCPT... with DATA on stdin. An empty SENDER is the null sender. */
int mc_postfix_sendmail(const struct mc_postfix *pf, const char *sender,
			const char *const *rcpts, size_t rcpt_count,
			const void *data, size_t size, char **error_r);

/* postqueue -f. */
int mc_postfix_flush(const struct mc_postfix *pf, char **error_r);

/* The postfix store (lib/store/postfix.c): restrict the walk to the
   queues whose bits (1 << index in mc_postfix_queues) are in MASK. */
struct mc_store;
void mc_store_postfix_set_queues(struct mc_store *store, unsigned mask);

/* Queue id syntax (short and long ids): letters and digits only. */
bool mc_postfix_queue_id_ok(const char *id);

#endif
