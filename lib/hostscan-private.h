/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	hostscan-private 3h
/* SUMMARY
/*	what the host scan's walker and its scanning threads share
/* SYNOPSIS
/*	#include "hostscan-private.h"
/* DESCRIPTION
/*	A host scan (hostscan.c) is one walker thread (hostscan_walk.c)
/*	that lists the directories below each PATH and queues the files
/*	it finds, scanning threads that take them from the queue, and
/*	the calling thread, which reports what both record. This is the
/*	state of one run, the queue between the walker and the scanners,
/*	and the records and directory references both sides use.
/*	hostscan_file.c compares a file with the indicators and rules.
/*--*/

#ifndef MAILCURE_HOSTSCAN_PRIVATE_H
#define MAILCURE_HOSTSCAN_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "mailcure/mailcure.h"
#include "internal.h"

struct root {
	char *path;		/* canonical, absolute */
	char *store;		/* "host:PATH" */
	dev_t dev;
	struct mc_safe_path where;	/* the walk to it: what is scanned */
};

/* An open, verified directory. Queued files hold a reference, so the
   descriptor stays open until the last of its files is scanned. */
struct dir {
	int fd;
	unsigned refs;
	unsigned depth;
	char *path;
	struct stat st;
	const struct root *root;
};

struct item {
	struct dir *dir;
	char *name;
};

enum record_type { REC_EVENT, REC_SKIP };

/* An event built by a scanning thread, reported by the caller's thread. */
struct record {
	struct record *next;
	enum record_type type;
	enum mc_event_type event_type;
	struct mc_msg msg;
	struct mc_match match;
	char *path, *user, *why, *quarantine_id;
	const char *action;
};

struct host_scan {
	const struct mc_host_scan *set;
	/* What set->query compares of a file (mc_query_file_hashes,
	   mc_query_file_needs_data), worked out once per run. */
	unsigned file_hashes;
	bool file_data;
	uint64_t max_filesize;
	unsigned max_depth;
	unsigned max_open_dirs;
	bool depth_from_fd_limit;

	/* Queue between the walker and the scanning threads. */
	pthread_mutex_t lock;
	pthread_cond_t cond_item;	/* an item was queued, or the end */
	/* The walker waits on cond_space for room in the queue or for
	   directories to close; it is woken only when there is room for
	   many items (half the queue), not once per file. */
	pthread_cond_t cond_space;
	bool walker_waits_space;
	bool walker_waits_dirs;
	struct item *queue;
	size_t queue_cap, queue_head, queue_len;
	unsigned busy;			/* scanning threads with an item */
	unsigned open_dirs;
	bool walk_done;

	/* Records for the reporting thread. */
	pthread_mutex_t rec_lock;
	pthread_cond_t rec_cond;
	struct record *rec_head, **rec_tail;
	unsigned workers_alive;
	bool workers_done;

	/* Quarantine puts and removals, one at a time. */
	pthread_mutex_t act_lock;

	bool have_quarantine;
	struct stat quarantine_st;
	char *quarantine_path;		/* canonical, or NULL */

	struct root *roots;
	size_t root_count;

	_Atomic uint64_t seq, scanned, matched, acted, unscanned, errors, bytes;
};

/* --- hostscan.c --- */

/* An UNSCANNED or ERROR event about PATH, for the reporting thread. */
void	mc_hostscan_report(struct host_scan *hs, enum mc_event_type type,
			   const char *store, const char *path,
			   const struct stat *st, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* A path left out, for set->on_skip (nothing without one). */
void	mc_hostscan_skip(struct host_scan *hs, const char *path, const char *why);
/* DIR/NAME, malloc()ed. */
char   *mc_hostscan_join_path(const char *dir, const char *name);
/* ERROR of a safe open helper without the NAME it starts with. */
const char *mc_hostscan_strip_name(const char *error, const char *name);
/* Queue file NAME of DIR for the scanning threads (waits for room);
   the item holds a reference to DIR. */
void	mc_hostscan_enqueue(struct host_scan *hs, struct dir *dir, const char *name);
/* Drop a reference to DIR; the last one closes it. */
void	mc_hostscan_dir_unref_locked(struct host_scan *hs, struct dir *dir);

/* Whether A and B are the same inode with the same content state
   (size, mtime, ctime). */
bool	mc_hostscan_same_state(const struct stat *a, const struct stat *b);
/* Read all of a regular file from FD, which must still be SIZE bytes:
   0 with *buf_r (malloc()ed), or -1 with *error_r. */
int	mc_hostscan_read_whole(int fd, size_t size, unsigned char **buf_r,
			       char **error_r);

/* --- hostscan_file.c --- */

/* The --ioc hashes and --yara rules of set->query over the file open
   on FD (as ST): reasons into MATCH, or match->problem. */
void	mc_hostscan_file_match(struct host_scan *hs, int fd, const struct stat *st,
			       struct mc_match *match);
/* Whether BUF (a copy of a file made after it changed) still
   matches: the engine, the indicators or the rules. */
bool	mc_hostscan_buffer_matches(struct host_scan *hs, const unsigned char *buf,
				   size_t size);

/* --- hostscan_walk.c --- */

/* The walker thread: lists every root and queues its files, then
   sets hs->walk_done. */
void   *mc_hostscan_walker_main(void *context);

#endif
