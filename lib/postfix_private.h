/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	postfix_private 3h
/* SUMMARY
/*	what postfix_ctl.c, postfix_state.c and postfix_freeze.c share
/* SYNOPSIS
/*	#include "postfix_private.h"
/* DESCRIPTION
/*	Running Postfix's commands and reading master.cf (postfix_ctl.c),
/*	and the freeze record (postfix_state.c). Not for other modules:
/*	they use postfix_ctl.h.
/*--*/

#ifndef MAILCURE_POSTFIX_PRIVATE_H
#define MAILCURE_POSTFIX_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

struct mc_postfix;
struct mc_exec_result;

/* --- postfix_ctl.c --- */

/* Start the argument vector of a Postfix command: PROGRAM, then
   "-c DIR" for an instance given by --postfix-config. Returns the
   number of arguments set. */
size_t mc_postfix_argv_start(const struct mc_postfix *pf, const char *program,
			     const char **argv);
/* COMMAND_DIR/NAME (malloc()ed). */
char *mc_postfix_command_path(const struct mc_postfix *pf, const char *name);
/* Run a command that must succeed (exit 0); *r_r (may be NULL) gets
   what it wrote. */
int mc_postfix_run_ok(const struct mc_postfix *pf, const char *const *argv,
		      const void *input, size_t input_len,
		      struct mc_exec_result *r_r, char **error_r);
/* COMMAND_DIR/NAME [-c DIR] ARG, which must succeed. */
int mc_postfix_command_ok(const struct mc_postfix *pf, const char *name,
			  const char *arg, char **error_r);
/* "name/type" of every enabled master.cf service that runs a queue
   manager. */
int mc_postfix_qmgr_services(const struct mc_postfix *pf, char ***services_r,
			     size_t *count_r, char **error_r);
/* Pid of a running queue manager under MASTER, or 0. */
pid_t mc_postfix_qmgr_pid(pid_t master);
void mc_postfix_strings_free(char **v, size_t n);

/* --- postfix_state.c --- */

struct mc_postfix_freeze_state {
	char *phase;		/* "saved" or "frozen" */
	time_t frozen_at;
	char *main_sha, *master_sha, *master_frozen_sha;
	mode_t main_mode, master_mode;
	uid_t main_uid, master_uid;
	gid_t main_gid, master_gid;
	char *services;		/* space separated name/type */
	char *config_dir;
};

void mc_postfix_freeze_state_clear(struct mc_postfix_freeze_state *fs);
/* STATE_DIR/postfix-freeze/KEY for this instance (malloc()ed). */
char *mc_postfix_state_path(const struct mc_postfix *pf, const char *state_dir);
/* Open (creating with CREATE) the state directory of this instance,
   and lock it: its fd, with *spath_r and *lockfd_r; -2 when it does
   not exist and CREATE is false (*spath_r set); -1 with *error_r. */
int mc_postfix_state_open(const struct mc_postfix *pf, const char *state_dir,
			  bool create, char **spath_r, int *lockfd_r,
			  char **error_r);
/* 1 with *fs_r filled, 0 when there is no record, -1 on error. */
int mc_postfix_state_read(int sfd, const char *spath,
			  struct mc_postfix_freeze_state *fs_r, char **error_r);
int mc_postfix_state_write(int sfd, const char *spath,
			   const struct mc_postfix_freeze_state *fs,
			   char **error_r);
#endif
