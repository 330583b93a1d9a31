/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	tree 3
/* SUMMARY
/*	the tree store: every mailbox below a directory
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	extern const struct mc_store_ops mc_store_tree;
/* DESCRIPTION
/*	A bare directory that is not a Maildir is a tree of many users'
/*	mailboxes: /var/mail (one mbox per user), /home (~/Maildir,
/*	~/mail/FOLDER mboxes, ~/mbox), /var/vmail/DOMAIN/USER[/Maildir].
/*	The tree store walks it (at most 8 levels) and yields, one
/*	mailbox after the other, the messages of every Maildir (a
/*	directory with cur/ and new/, taken whole with its folders) and
/*	every mbox (a regular file whose first line is a dated From_
/*	line; the date is required here so that a user's text file that
/*	happens to start with "From " is not taken for a mailbox) in it.
/*	loc.user and loc.folder come from the path (store.c). Each
/*	mailbox is a store of its own (maildir.c, mbox.c) that the tree
/*	dispatches remove(), container_last() and msg_free() to.
/*
/*	With heads_first, two reader threads of the tree's own read the
/*	next mailboxes of the walk ahead, each into a bounded queue, and
/*	next() hands their messages over in walk order: one thread alone
/*	could not split mboxes as fast as the workers take them when the
/*	query is about headers.
/*
/*	Left out: dot directories (other than Maildirs), lock files,
/*	Dovecot's files, empty files, anything that is not a directory
/*	or a regular file, and a mailcure quarantine (a directory with
/*	entries/ and runs/), which holds mail that must not be taken for
/*	a mailbox. A symlink where a mailbox is expected (right below the
/*	root; named Maildir, mail, Mail or mbox; in a directory named
/*	so, or home, spool, vmail, or a domain) is reported, never
/*	followed; other symlinks (a user's dotfiles) are passed over. A
/*	directory or mailbox that cannot be opened is one item with
/*	read_error, and the walk goes on.
/* SECURITY
/*	The root is walked to from "/" by mc_open_dir_path (a symlink a
/*	user could have made on the way is refused) and everything,
/*	a root that is itself a Maildir included, is then opened
/*	relative to the descriptor that walk opened.
/*--*/

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store-private.h"

#define TREE_DEPTH_MAX 8
/* Read-ahead (heads first only): reader threads, mailboxes open at
   once, what each mailbox's queue may hold, and what the queues of
   the mailboxes after the first may hold together. A reader ahead
   must be able to read whole mailboxes of heads, or it stops until
   next() gets there and the readers take turns instead of reading
   side by side. The first mailbox's reader never waits for the
   others, so next() always gets on. When bodies are read, the
   engine sets the pace, and a quarter of that is ahead enough. */
#define AHEAD_READERS 2
#define AHEAD_JOBS 16
#define JOB_MSGS 1024
#define JOB_BYTES (1U << 20)
#define AHEAD_BYTES (4U << 20)
#define BODIES_SHARE 4
/* Messages handed over under one lock, and how many make it worth
   waking next() for (or how long they may wait for it). */
#define TAKE_BATCH 128
#define TAKE_WAKE 64
#define TAKE_DELAY 0.001

struct tree_dir {
	int fd;
	DIR *dir;
	char *abs;
};

/* One mailbox of the walk (or an item of the walk itself) and what
   a reader read of it so far. */
struct job {
	struct job *next;
	struct mc_store *store;
	char *path;
	struct mc_msg *item;
	struct mc_msg **queue;		/* ring of JOB_MSGS */
	size_t first, count, bytes;
	bool claimed;			/* a reader is on it */
	bool done;
	int ret;			/* < 0: reading failed, with err */
	char *err;
};

struct ahead {
	pthread_t threads[AHEAD_READERS];
	unsigned running;
	pthread_mutex_t lock;		/* everything below, and the walk */
	pthread_cond_t cond_reader;	/* a job or room in a queue */
	pthread_cond_t cond_taker;	/* messages for next() */
	struct job *head, *tail;
	unsigned jobs;
	size_t bytes;			/* queued in all jobs */
	size_t job_bytes, ahead_bytes;	/* JOB_BYTES, AHEAD_BYTES or less */
	bool walk_done;
	bool taker_waiting;
	double last_wake;		/* when next() began to wait */
	bool quit;
};

struct tree_store {
	struct mc_store base;
	char *root;			/* absolute */
	int rootfd;
	bool root_maildir;		/* the root itself is a Maildir */
	struct tree_dir stack[TREE_DEPTH_MAX];
	unsigned depth;
	struct mc_store *cur;		/* the mailbox being read */
	char *cur_path;
	struct ahead ahead;
	struct mc_msg *taken[TAKE_BATCH];	/* from the readers, in order */
	size_t taken_first, taken_count;
	struct mc_limits limits;
	struct mc_store_settings set;
};

static void ahead_stop(struct tree_store *t);

static void tree_destroy(struct mc_store *store)
{
	struct tree_store *t = (struct tree_store *)store;

	ahead_stop(t);
	pthread_mutex_destroy(&t->ahead.lock);
	pthread_cond_destroy(&t->ahead.cond_reader);
	pthread_cond_destroy(&t->ahead.cond_taker);
	while (t->depth > 0) {
		struct tree_dir *d = &t->stack[--t->depth];
		closedir(d->dir);
		close(d->fd);
		free(d->abs);
	}
	if (t->rootfd >= 0)
		close(t->rootfd);
	free(t->cur_path);
	free(t->root);
}

static bool push_dir(struct tree_store *t, int fd, const char *abs, char **error_r)
{
	DIR *dir = mc_dir_list(fd);

	if (dir == NULL) {
		mc_error_errno(error_r, "%s", abs);
		close(fd);
		return false;
	}
	t->stack[t->depth].fd = fd;
	t->stack[t->depth].dir = dir;
	t->stack[t->depth].abs = mc_xstrdup(abs);
	t->depth++;
	return true;
}

static int tree_open(const char *uri, const char *path,
		     const struct mc_store_settings *set,
		     struct mc_store **store_r, char **error_r)
{
	struct tree_store *t;
	char *abs;
	int fd;

	*store_r = NULL;
	fd = mc_open_dir_path(path, &abs, error_r);
	if (fd < 0)
		return -1;
	t = mc_xcalloc(1, sizeof(*t));
	pthread_mutex_init(&t->ahead.lock, NULL);
	pthread_cond_init(&t->ahead.cond_reader, NULL);
	pthread_cond_init(&t->ahead.cond_taker, NULL);
	mc_store_base_init(&t->base, &mc_store_tree, uri, set, tree_destroy);
	t->limits = t->base.limits;
	t->set.limits = &t->limits;
	t->set.dry_run = t->base.dry_run;
	t->set.heads_first = t->base.heads_first;
	t->set.loads_without_raw = t->base.loads_without_raw;
	t->set.bodies_read = set->bodies_read;
	t->set.quarantine = set->quarantine;
	t->ahead.job_bytes = set->bodies_read ? JOB_BYTES / BODIES_SHARE : JOB_BYTES;
	t->ahead.ahead_bytes = set->bodies_read ? AHEAD_BYTES / BODIES_SHARE : AHEAD_BYTES;
	t->root = abs;
	t->rootfd = fd;
	if (mc_store_is_maildir_at(fd, "."))
		t->root_maildir = true;
	else {
		int listfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);

		if (listfd < 0 || !push_dir(t, listfd, abs, error_r)) {
			mc_store_unref(&t->base);
			return -1;
		}
	}
	*store_r = &t->base;
	return 0;
}

/* An item of the tree itself: a place that cannot be read. */
static struct mc_msg *tree_error(struct tree_store *t, const char *kind,
				 const char *path, const char *err)
{
	struct mc_store_msg *m = mc_store_msg_new(&t->base, kind);

	m->path = mc_xstrdup(path);
	m->msg.loc.path = m->path;
	mc_store_msg_error(m, "%s: %s", path, err);
	return &m->msg;
}

static bool is_quarantine(int dirfd, const char *name)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/entries", name);
	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return false;
	snprintf(path, sizeof(path), "%s/runs", name);
	return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static bool skipped_file(const char *name)
{
	size_t n = strlen(name);

	return name[0] == '.' || (n > 5 && strcmp(name + n - 5, ".lock") == 0) ||
		strncmp(name, "dovecot", 7) == 0 || strcmp(name, "subscriptions") == 0;
}

static bool mailbox_name(const char *name)
{
	return strcmp(name, "Maildir") == 0 || strcmp(name, "mail") == 0 ||
		strcmp(name, "Mail") == 0 || strcmp(name, "mbox") == 0;
}

/* A directory whose entries are mailboxes or users' directories:
   /var/mail, ~/mail, /home, /var/vmail and its DOMAIN directories. */
static bool mailbox_parent(const char *dirname)
{
	return mailbox_name(dirname) || strcmp(dirname, "spool") == 0 ||
		strcmp(dirname, "home") == 0 || strcmp(dirname, "vmail") == 0 ||
		(dirname[0] != '.' && strchr(dirname, '.') != NULL);
}

/* The file NAME starts with a dated From_ line. */
static bool looks_mbox_file(int dirfd, const char *name)
{
	unsigned char buf[1024];
	ssize_t n = mc_store_peek(dirfd, name, buf, sizeof(buf));
	const unsigned char *nl;

	if (n < 5)
		return false;
	nl = memchr(buf, '\n', (size_t)n);
	return mc_store_mbox_from_line(buf, nl != NULL ? (size_t)(nl - buf) : (size_t)n);
}

/* The absolute path of NAME in directory DIRABS. */
static char *child_abs(const char *dirabs, const char *name)
{
	return strcmp(dirabs, "/") == 0 ? mc_xasprintf("/%s", name) :
		mc_xasprintf("%s/%s", dirabs, name);
}

/* Open the mailbox NAME in DIRFD, whose absolute path is ABS (taken
   over). Returns NULL with *store_r and *path_r set, or an error
   item. */
static struct mc_msg *open_mailbox(struct tree_store *t, int dirfd, const char *name,
				   char *abs, bool maildir, const struct stat *st,
				   struct mc_store **store_r, char **path_r)
{
	struct mc_substore_spec spec;
	char *folder = NULL, *err = NULL, *user;
	struct mc_msg *item = NULL;
	int ret;

	user = mc_store_user_from_path(abs, maildir, t->root, maildir ? NULL : &folder);
	if (user == NULL)
		user = mc_user_name(st->st_uid);
	if (user == NULL)
		user = mc_xstrdup(mc_path_base(abs));
	memset(&spec, 0, sizeof(spec));
	spec.uri = t->base.uri;
	spec.dirfd = dirfd;
	spec.name = name;
	spec.abs_path = abs;
	spec.user = user;
	spec.folder = folder;
	ret = maildir ? mc_store_maildir_open_sub(&spec, &t->set, store_r, &err) :
		mc_store_mbox_open_sub(&spec, &t->set, store_r, &err);
	if (ret < 0)
		item = tree_error(t, maildir ? "maildir" : "mbox", abs, err);
	else {
		*path_r = abs;
		abs = NULL;
	}
	free(err);
	free(abs);
	free(user);
	free(folder);
	return item;
}

/* The next thing of the walk below the root: 1 with a mailbox in
   *store_r and *path_r, or with an item of its own in *msg_r; 0 at
   the end. */
static int walk_next(struct tree_store *t, struct mc_msg **msg_r,
		     struct mc_store **store_r, char **path_r)
{
	*msg_r = NULL;
	*store_r = NULL;
	for (;;) {
		struct tree_dir *d;
		struct dirent *de;
		struct stat st;
		char *err = NULL;

		if (t->depth == 0)
			return 0;
		d = &t->stack[t->depth - 1];
		de = readdir(d->dir);
		if (de == NULL) {
			closedir(d->dir);
			close(d->fd);
			free(d->abs);
			t->depth--;
			continue;
		}
		const char *name = de->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (fstatat(d->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			if (name[0] != '.' && (t->depth == 1 || mailbox_name(name) ||
					       mailbox_parent(mc_path_base(d->abs)))) {
				char *abs = child_abs(d->abs, name);
				*msg_r = tree_error(t, "tree", abs, "is a symbolic link, not followed");
				free(abs);
				return 1;
			}
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (mc_store_is_maildir_at(d->fd, name)) {
				*msg_r = open_mailbox(t, d->fd, name, child_abs(d->abs, name),
						      true, &st, store_r, path_r);
				return 1;
			}
			if (name[0] == '.' || t->depth >= TREE_DEPTH_MAX ||
			    is_quarantine(d->fd, name))
				continue;
			char *abs = child_abs(d->abs, name);
			int fd = mc_safe_open_dir(d->fd, name, NULL, &err);
			if (fd < 0 || !push_dir(t, fd, abs, &err)) {
				*msg_r = tree_error(t, "tree", abs, err);
				free(err);
				free(abs);
				return 1;
			}
			free(abs);
			continue;
		}
		if (!S_ISREG(st.st_mode) || st.st_size == 0 || skipped_file(name) ||
		    !looks_mbox_file(d->fd, name))
			continue;
		*msg_r = open_mailbox(t, d->fd, name, child_abs(d->abs, name), false, &st,
				      store_r, path_r);
		return 1;
	}
}

/* ------------------------------------------------------------------ */
/* Read-ahead                                                         */
/* ------------------------------------------------------------------ */

/* Reading one mailbox is one thread's work: splitting an mbox or
   opening a Maildir's files goes as fast as one CPU can look at the
   bytes, and with a query about headers the workers wait for it.
   When messages are read heads first (so that what waits is small),
   reader threads of the tree's own take the mailboxes in the order
   of the walk, a few at a time, each into a bounded queue of its
   own, and next() hands their messages over in that order. */

static size_t msg_bytes(const struct mc_msg *msg)
{
	return msg->raw != NULL ? msg->raw_size : msg->head_size;
}

static void job_free(struct job *job)
{
	for (; job->count > 0; job->count--) {
		struct mc_msg *msg = job->queue[job->first];

		job->first = (job->first + 1) % JOB_MSGS;
		mc_store_msg_free_op(mc_store_of(msg), &msg);
	}
	if (job->item != NULL)
		mc_store_msg_free_op(mc_store_of(job->item), &job->item);
	if (job->store != NULL)
		mc_store_close(&job->store);
	free(job->queue);
	free(job->path);
	free(job->err);
	free(job);
}

/* With the lock held: the walk's next mailbox (or item of its own)
   as a new job at the end; false at the end of the walk. */
static bool ahead_walk(struct tree_store *t)
{
	struct ahead *a = &t->ahead;
	struct job *job = mc_xcalloc(1, sizeof(*job));

	if (walk_next(t, &job->item, &job->store, &job->path) == 0) {
		free(job);
		a->walk_done = true;
		if (a->taker_waiting)
			pthread_cond_signal(&a->cond_taker);
		return false;
	}
	if (job->store != NULL)
		job->queue = mc_xcalloc(JOB_MSGS, sizeof(*job->queue));
	else
		job->done = true;
	if (a->tail != NULL)
		a->tail->next = job;
	else
		a->head = job;
	a->tail = job;
	a->jobs++;
	return true;
}

/* With the lock held: whether JOB's reader must wait for next(). */
static bool job_full(const struct ahead *a, const struct job *job)
{
	return job->count == JOB_MSGS || job->bytes >= a->job_bytes ||
		(job != a->head && a->bytes >= a->ahead_bytes);
}

/* With the lock held: wake next() if it waits for JOB. */
static void ahead_wake_taker(struct ahead *a, const struct job *job)
{
	double now;

	if (!a->taker_waiting || job != a->head)
		return;
	if (job->count < TAKE_WAKE && !job->done && job->bytes < a->job_bytes) {
		/* A slow disk: do not keep the workers waiting for more. */
		if (job->count == 0 || (now = mc_now()) - a->last_wake < TAKE_DELAY)
			return;
		a->last_wake = now;
	}
	pthread_cond_signal(&a->cond_taker);
}

static void *ahead_main(void *context)
{
	struct tree_store *t = context;
	struct ahead *a = &t->ahead;

	pthread_mutex_lock(&a->lock);
	while (!a->quit) {
		struct job *job = a->head;

		while (job != NULL && (job->claimed || job->store == NULL))
			job = job->next;
		if (job == NULL) {
			if (a->jobs < AHEAD_JOBS && !a->walk_done) {
				ahead_walk(t);
				if (a->tail != NULL)
					ahead_wake_taker(a, a->tail);
				continue;
			}
			pthread_cond_wait(&a->cond_reader, &a->lock);
			continue;
		}
		job->claimed = true;
		while (!a->quit && !job->done) {
			struct mc_msg *msg = NULL;
			char *err = NULL;
			int ret;

			if (job_full(a, job)) {
				pthread_cond_wait(&a->cond_reader, &a->lock);
				continue;
			}
			pthread_mutex_unlock(&a->lock);
			ret = mc_store_next(job->store, &msg, &err);
			pthread_mutex_lock(&a->lock);
			if (ret > 0) {
				job->queue[(job->first + job->count) % JOB_MSGS] = msg;
				job->count++;
				job->bytes += msg_bytes(msg);
				a->bytes += msg_bytes(msg);
			} else {
				job->done = true;
				job->ret = ret;
				job->err = err;
			}
			ahead_wake_taker(a, job);
		}
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* Start the readers; false when not even one could be started. */
static bool ahead_start(struct tree_store *t)
{
	struct ahead *a = &t->ahead;

	for (; a->running < AHEAD_READERS; a->running++) {
		if (pthread_create(&a->threads[a->running], NULL, ahead_main, t) != 0)
			break;
	}
	return a->running > 0;
}

/* The next message in walk order from the readers' queues: 1 with
   *msg_r, 0 at the end of the walk. */
static int ahead_next(struct tree_store *t, struct mc_msg **msg_r)
{
	struct ahead *a = &t->ahead;

	if (t->taken_first < t->taken_count) {
		*msg_r = t->taken[t->taken_first++];
		return 1;
	}
	pthread_mutex_lock(&a->lock);
	for (;;) {
		struct job *job = a->head;

		if (job == NULL && a->walk_done) {
			pthread_mutex_unlock(&a->lock);
			return 0;
		}
		if (job != NULL && job->count > 0) {
			/* Take what is there at once: one lock for many. A
			   reader of a later mailbox may wait on the bytes of
			   all queues, not on this one. */
			bool was_full = job_full(a, job) || a->bytes >= a->ahead_bytes;

			t->taken_first = t->taken_count = 0;
			while (job->count > 0 && t->taken_count < TAKE_BATCH) {
				struct mc_msg *msg = job->queue[job->first];

				job->first = (job->first + 1) % JOB_MSGS;
				job->count--;
				job->bytes -= msg_bytes(msg);
				a->bytes -= msg_bytes(msg);
				t->taken[t->taken_count++] = msg;
			}
			if (was_full)
				pthread_cond_broadcast(&a->cond_reader);
			pthread_mutex_unlock(&a->lock);
			*msg_r = t->taken[t->taken_first++];
			return 1;
		}
		if (job != NULL && job->done) {
			struct mc_msg *item = job->item;

			a->head = job->next;
			if (a->head == NULL)
				a->tail = NULL;
			a->jobs--;
			/* Room for another mailbox. */
			pthread_cond_broadcast(&a->cond_reader);
			pthread_mutex_unlock(&a->lock);
			job->item = NULL;
			if (item == NULL && job->ret < 0)
				item = tree_error(t, "tree", job->path, job->err != NULL ?
						  job->err : "cannot be read any further");
			job_free(job);
			if (item != NULL) {
				*msg_r = item;
				return 1;
			}
			pthread_mutex_lock(&a->lock);
			continue;
		}
		a->taker_waiting = true;
		a->last_wake = mc_now();
		pthread_cond_broadcast(&a->cond_reader);
		pthread_cond_wait(&a->cond_taker, &a->lock);
		a->taker_waiting = false;
	}
}

static void ahead_stop(struct tree_store *t)
{
	struct ahead *a = &t->ahead;

	if (a->running > 0) {
		pthread_mutex_lock(&a->lock);
		a->quit = true;
		pthread_cond_broadcast(&a->cond_reader);
		pthread_mutex_unlock(&a->lock);
		for (unsigned i = 0; i < a->running; i++)
			pthread_join(a->threads[i], NULL);
		a->running = 0;
	}
	while (a->head != NULL) {
		struct job *job = a->head;

		a->head = job->next;
		job_free(job);
	}
	a->tail = NULL;
	a->jobs = 0;
	a->bytes = 0;
	for (; t->taken_first < t->taken_count; t->taken_first++)
		mc_store_msg_free_op(mc_store_of(t->taken[t->taken_first]),
				     &t->taken[t->taken_first]);
}

static int tree_next(struct mc_store *store, struct mc_msg **msg_r, char **error_r)
{
	struct tree_store *t = (struct tree_store *)store;

	if (t->root_maildir) {
		struct stat st;

		t->root_maildir = false;
		/* The root as opened, not its path again. */
		if (fstat(t->rootfd, &st) == 0 &&
		    (*msg_r = open_mailbox(t, t->rootfd, ".", mc_xstrdup(t->root), true, &st,
					   &t->cur, &t->cur_path)) != NULL)
			return 1;
	}
	for (;;) {
		char *err = NULL;

		if (t->cur != NULL) {
			int ret = mc_store_next(t->cur, msg_r, &err);

			if (ret > 0)
				return 1;
			mc_store_close(&t->cur);
			if (ret < 0) {
				*msg_r = tree_error(t, "tree", t->cur_path, err != NULL ? err :
						    "cannot be read any further");
				free(err);
				return 1;
			}
			continue;
		}
		if (t->base.heads_first && (t->ahead.running > 0 || ahead_start(t)))
			return ahead_next(t, msg_r);
		free(t->cur_path);
		t->cur_path = NULL;
		if (walk_next(t, msg_r, &t->cur, &t->cur_path) == 0)
			return 0;
		if (*msg_r != NULL)
			return 1;
	}
	(void)error_r;
}

static bool tree_container_last(struct mc_store *store, const struct mc_msg *msg)
{
	struct mc_store *owner = mc_store_of(msg);

	if (owner == NULL || owner == store)
		return true;
	return mc_store_container_last(owner, msg);
}

static void tree_remove(struct mc_store *store, struct mc_quarantine *q,
			const char *run_id, struct mc_removal *removals, size_t count)
{
	struct mc_store *owner;

	if (count == 0)
		return;
	owner = mc_store_of(removals[0].msg);
	if (owner == NULL || owner == store) {
		for (size_t i = 0; i < count; i++)
			mc_error_set(&removals[i].error, "not a message: not removed");
		return;
	}
	mc_store_remove(owner, q, run_id, removals, count);
}

static void tree_close(struct mc_store **storep)
{
	struct tree_store *t = (struct tree_store *)*storep;

	if (t == NULL)
		return;
	ahead_stop(t);
	if (t->cur != NULL)
		mc_store_close(&t->cur);
	mc_store_close_op(storep);
}

static bool tree_detect(int dirfd, const char *path)
{
	struct stat st;

	return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

const struct mc_store_ops mc_store_tree = {
	.name = "tree",
	.detect = tree_detect,
	.open = tree_open,
	.next = tree_next,
	.container_last = tree_container_last,
	.remove = tree_remove,
	.msg_free = mc_store_msg_free_op,
	.load = mc_store_load_op,
	.drop = mc_store_drop_op,
	.close = tree_close,
};
