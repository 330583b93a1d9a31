/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	exec 3h
/* SUMMARY
/*	run a command as a child process, under one policy
/* SYNOPSIS
/*	#include <mailcure/exec.h>
/* DESCRIPTION
/*	Every program mailcure runs (postconf, postsuper, postqueue,
/*	postfix, sendmail, doveadm, and mailcure itself for the steps of
/*	respond) is run here, so that one policy holds for all of them;
/*	lib/exec.c says which.
/*
/*	mc_exec_run() runs a command to its end. mc_exec_start(),
/*	mc_exec_read() and mc_exec_finish() run one whose standard
/*	output is read as a stream (doveadm fetch of a whole mailbox).
/*--*/

#ifndef MAILCURE_EXEC_H
#define MAILCURE_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Where the child's standard output or error goes. */
enum mc_exec_stream {
	MC_EXEC_CAPTURE,	/* a pipe, kept in the result (bounded) */
	MC_EXEC_FD,		/* the descriptor given (a file) */
	MC_EXEC_INHERIT,	/* this process's own */
};

/* What to run. Start from { 0 } and set argv; every other field has
   a default. */
struct mc_exec {
	/* The arguments, NULL-terminated, argv[0] the program, run as
	   it is named (no search in PATH) unless PATH names it. */
	const char *const *argv;
	const char *path;
	/* In messages; NULL: the program. */
	const char *name;
	/* "NAME=VALUE" entries added to the fixed environment,
	   NULL-terminated; may be NULL. */
	const char *const *env;
	/* Pass this process's whole environment instead: only for
	   mailcure running itself, which reads its settings from there. */
	bool keep_env;
	/* Standard input; NULL: /dev/null. */
	const void *input;
	size_t input_size;
	enum mc_exec_stream out, err;
	int out_fd, err_fd;	/* for MC_EXEC_FD */
	/* Bytes of captured output kept; 0: 16 MiB (out), 64 KiB (err). */
	size_t out_max, err_max;
	/* More standard output than out_max: kill the command and fail
	   (EFBIG) instead of dropping the rest. */
	bool out_max_fatal;
	/* Time limits in seconds, 0: none. TIMEOUT_S bounds the whole
	   run; IDLE_TIMEOUT_S the time without any output or input
	   taken. With either, the command runs in a process group of its
	   own, killed whole when the limit passes. */
	unsigned timeout_s, idle_timeout_s;
};

/* How it ended. */
struct mc_exec_result {
	int status;		/* exit status, -1 when it did not exit */
	int signal;		/* the signal that ended it, or 0 */
	bool timed_out;		/* killed at a time limit */
	char *out, *err;	/* captured, NUL-terminated, never NULL
				   after a run */
	size_t out_len, err_len;
	bool out_cut, err_cut;	/* more was written than was kept */
};

void mc_exec_result_clear(struct mc_exec_result *r);

/* Run SPEC to its end. Returns its exit status (0-255), or -1 with
   *error_r when it could not be started (execve's reason), ran out
   of time, was killed by a signal (named) or wrote more than
   out_max with out_max_fatal. *r is filled in either way (R may be
   NULL); release it with mc_exec_result_clear(). */
int mc_exec_run(const struct mc_exec *spec, struct mc_exec_result *r,
		char **error_r);

/* A command whose standard output (MC_EXEC_CAPTURE) is read with
   mc_exec_read(). SPEC's argv and env are used only during the call;
   its input must stay valid until mc_exec_finish(). */
struct mc_exec_proc;
int mc_exec_start(const struct mc_exec *spec, struct mc_exec_proc **proc_r,
		  char **error_r);
/* Up to SIZE bytes of its standard output: 0 at the end, -1 with
   *error_r at a time limit (the command is killed) or a failure. */
ssize_t mc_exec_read(struct mc_exec_proc *proc, void *buf, size_t size,
		     char **error_r);
/* Wait for it, after killing it with KILL (else what it still writes
   is read and dropped). Returns as mc_exec_run(); R (may be NULL)
   gets standard error and how it ended. */
int mc_exec_finish(struct mc_exec_proc **proc, bool kill, struct mc_exec_result *r,
		   char **error_r);

/* Captured TEXT (LEN bytes: standard error) on one line for a
   message: lines joined by "; ", every control character and byte a
   terminal would act on neutralised (mc_text_visible), at most about
   1000 bytes. NULL when it holds nothing visible. */
char *mc_exec_text(const char *text, size_t len);

#endif
