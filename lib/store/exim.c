/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	exim 3
/* SUMMARY
/*	the Exim 4 queue as a mail store
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	extern const struct mc_store_ops mc_store_exim;
/* DESCRIPTION
/*	The store "exim:[CONFIG]" yields every message queued by the
/*	Exim instance of configuration file CONFIG (default: the
/*	binary's own), in message id order: the input directory of its
/*	spool and, whether or not split_spool_directory is set now
/*	(messages stay where they were written when it changes), its
/*	one-character subdirectories.
/*
/*	Spool files are read directly and read-only (exim_spool.c).
/*	msg->raw is the -H file followed by the -D file, exactly as
/*	found (what the quarantine keeps); msg->data is the message as
/*	Exim would send it. The envelope (sender, recipients still to
/*	be delivered, taking the -J journal into account, arrival time)
/*	is in msg->loc, with loc.queue_id the message id and loc.folder
/*	"input". A message is complete once its -H file exists (Exim
/*	writes the -D file first and renames the -H file into place); a
/*	-H file without its -D file is re-checked (Exim removes the -D
/*	file first when a message is done) and reported as damaged only
/*	when it is still there. A damaged pair is reported by id and the
/*	walk goes on.
/*
/*	Removal (mailcure queue delete) takes Exim's own lock: an fcntl
/*	write lock on the start of the -D file, which every Exim process
/*	holds while it delivers a message, and which -Mrm takes too. A
/*	message whose lock is held for more than a second (longer than
/*	a queue runner's look at a held message) is in delivery and is
/*	left alone.
/*	Under the lock the pair is re-read (the same -D inode) and must
/*	be the message that was scanned: the same content (SHA-256 of
/*	the headers and body as Exim sends them), the same envelope
/*	sender, and no recipient undelivered now that was not undelivered
/*	then. Not the same bytes: Exim rewrites -H after every delivery
/*	attempt (a deferral in a queue run), which changes nothing of the
/*	message. Its undelivered recipients are read with the journal; the
/*	pair as it is now is written to the quarantine with that
/*	envelope, and only then are its files
/*	removed, -H first (from then on Exim does not see the message),
/*	then -J, -D and the message log, as exim -Mrm does; nothing is
/*	bounced. Holding the lock from the check to the removal means no
/*	delivery can start in between, which a separate "exim -Mrm"
/*	could not promise.
/*
/*	Restore re-injects the message with its original envelope
/*	sender and its recipients that were still undelivered:
/*	exim -bm -i -f SENDER -- RCPT... It first looks for the message
/*	id in the spool: spool files of that id holding the same message
/*	mean the removal was killed between the quarantine and the
/*	unlink of -H, the message is still queued, and the restore is
/*	refused rather than deliver it twice.
/* SECURITY
/*	Runs as root. Spool directories are opened with
/*	mc_safe_open_dir below the spool directory, files without
/*	following links, with one link only, never blocking. Message ids
/*	are checked before they name a file.
/*--*/

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store-private.h"
#include "exim_spool.h"
#include "exim_ctl.h"

/* How long a removal waits for Exim's lock on a message. */
#define LOCK_WAIT_S 1.0
#define LOCK_POLL_MS 10
/* Messages removed together. */
#define REMOVE_BATCH 64
/* -H file size allowed over the message size limit. */
#define HEADER_SLACK (4U << 20)

struct spool_entry {
	char *dir_rel;		/* "input" or "input/X" */
	char *id;
	char *error;		/* a directory that could not be read */
};

struct exim_store {
	struct mc_store base;
	struct mc_exim *ex;
	int spoolfd;
	struct spool_entry *entries;
	size_t entry_count, entry_pos;
	bool listed;
	uint64_t yielded;
};

struct exim_msg {
	struct mc_store_msg m;	/* first: freed by the base */
	unsigned char content_sha[32];	/* of sp.content, as scanned */
	struct mc_exim_spool sp;	/* envelope and content, owned */
	unsigned char *raw_now;	/* the spool files at removal */
};

static void exim_destroy(struct mc_store *store)
{
	struct exim_store *es = (struct exim_store *)store;

	for (size_t i = 0; i < es->entry_count; i++) {
		free(es->entries[i].dir_rel);
		free(es->entries[i].id);
		free(es->entries[i].error);
	}
	free(es->entries);
	if (es->spoolfd >= 0)
		close(es->spoolfd);
	mc_exim_free(&es->ex);
}

static bool exim_detect(int dirfd, const char *path)
{
	return false;
}

static int exim_open(const char *uri, const char *path,
		     const struct mc_store_settings *set,
		     struct mc_store **store_r, char **error_r)
{
	struct exim_store *es = mc_xcalloc(1, sizeof(*es));
	char *err = NULL;

	es->spoolfd = -1;
	mc_store_base_init(&es->base, &mc_store_exim, uri, set, exim_destroy);
	if (mc_exim_open(path != NULL && path[0] != '\0' ? path : NULL, &es->ex,
			 error_r) < 0) {
		mc_store_unref(&es->base);
		return -1;
	}
	es->spoolfd = mc_open_dir_path(es->ex->spool_dir, NULL, &err);
	if (es->spoolfd < 0) {
		mc_error_set(error_r, "Exim spool directory: %s", err);
		free(err);
		mc_store_unref(&es->base);
		return -1;
	}
	*store_r = &es->base;
	return 0;
}

static void list_push(struct exim_store *es, const char *dir_rel, const char *id,
		      char *error, size_t *cap)
{
	struct spool_entry e = {
		.dir_rel = mc_xstrdup(dir_rel),
		.id = mc_xstrdup(id),
		.error = error,
	};
	MC_ARRAY_PUSH(es->entries, es->entry_count, *cap, e);
}

static void list_dir(struct exim_store *es, int dirfd, const char *dir_rel,
		     bool top, size_t *cap)
{
	DIR *dir = mc_dir_list(dirfd);
	struct dirent *de;

	if (dir == NULL) {
		list_push(es, dir_rel, "", mc_xasprintf("cannot read the Exim spool "
			  "directory %s/%s: %s", es->ex->spool_dir, dir_rel,
			  strerror(errno)), cap);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		size_t len = strlen(de->d_name);
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (top && len == 1 && fstatat(dirfd, de->d_name, &st,
					       AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode)) {
			char *rel = mc_xasprintf("%s/%s", dir_rel, de->d_name);
			char *err = NULL;
			int sub = mc_safe_open_dir(dirfd, de->d_name, NULL, &err);

			if (sub >= 0) {
				list_dir(es, sub, rel, false, cap);
				close(sub);
			} else {
				list_push(es, rel, "", mc_xasprintf("cannot read the Exim "
					  "spool directory %s/%s: %s", es->ex->spool_dir,
					  rel, err), cap);
			}
			free(err);
			free(rel);
			continue;
		}
		if (len < 3 || strcmp(de->d_name + len - 2, "-H") != 0)
			continue;
		de->d_name[len - 2] = '\0';
		if (mc_exim_id_ok(de->d_name))
			list_push(es, dir_rel, de->d_name, NULL, cap);
	}
	closedir(dir);
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct spool_entry *)a)->id,
		      ((const struct spool_entry *)b)->id);
}

static void list_spool(struct exim_store *es)
{
	size_t cap = 0;
	char *err = NULL;
	int fd = mc_safe_open_dir(es->spoolfd, "input", NULL, &err);

	es->listed = true;
	if (fd < 0) {
		/* No input directory: Exim has never queued anything. */
		if (errno != ENOENT)
			list_push(es, "input", "", mc_xasprintf("cannot read the Exim "
				  "spool directory %s/input: %s", es->ex->spool_dir,
				  err), &cap);
		free(err);
		return;
	}
	list_dir(es, fd, "input", true, &cap);
	close(fd);
	qsort(es->entries, es->entry_count, sizeof(*es->entries), entry_cmp);
}

/* Read file NAME of DFD whole (up to MAX bytes more than its size at
   open); *st_r its stat. -1 with errno ENOENT when it is not there. */
static int read_spool_file(int dfd, const char *name, size_t max,
			   unsigned char **buf_r, size_t *len_r, struct stat *st_r,
			   char **error_r)
{
	int fd = mc_safe_open_file(dfd, name, true, st_r, error_r);
	int ret;

	if (fd < 0)
		return -1;
	if ((uint64_t)st_r->st_size > max) {
		close(fd);
		mc_error_set(error_r, "%s: %lld bytes, over the limit", name,
			     (long long)st_r->st_size);
		errno = EFBIG;
		return -1;
	}
	ret = mc_read_fd(fd, (size_t)st_r->st_size, buf_r, len_r, error_r);
	close(fd);
	return ret;
}

/* The -H and -D files of ID in DFD, one after the other, and the -J
   file. Returns 0, 1 when the message is gone, -1 with *error_r. */
static int read_pair(int dfd, const char *id, size_t max, unsigned char **raw_r,
		     size_t *raw_len_r, size_t *h_len_r, unsigned char **j_r,
		     size_t *j_len_r, struct stat *d_st_r, char **error_r)
{
	char name[64];
	unsigned char *h = NULL, *d = NULL;
	size_t hl = 0, dl = 0;
	struct stat st;

	*raw_r = *j_r = NULL;
	*j_len_r = 0;
	snprintf(name, sizeof(name), "%s-H", id);
	if (read_spool_file(dfd, name, max, &h, &hl, &st, error_r) < 0)
		return errno == ENOENT ? 1 : -1;
	snprintf(name, sizeof(name), "%s-D", id);
	if (read_spool_file(dfd, name, max - hl, &d, &dl, d_st_r, error_r) < 0) {
		free(h);
		if (errno != ENOENT)
			return -1;
		/* Exim removes the -D file first when it is done. */
		snprintf(name, sizeof(name), "%s-H", id);
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
			return 1;
		mc_error_set(error_r, "damaged or half-written: %s-H has no -D file", id);
		return -1;
	}
	snprintf(name, sizeof(name), "%s-J", id);
	if (read_spool_file(dfd, name, max, j_r, j_len_r, &st, NULL) < 0)
		*j_r = NULL;
	*raw_r = mc_xrealloc(h, hl + dl + 1);
	memcpy(*raw_r + hl, d, dl);
	(*raw_r)[hl + dl] = '\0';
	free(d);
	*raw_len_r = hl + dl;
	*h_len_r = hl;
	return 0;
}

static void msg_set_envelope(struct exim_msg *em)
{
	struct mc_location *loc = &em->m.msg.loc;

	loc->envelope_sender = em->sp.sender;
	loc->recipients = (const char *const *)em->sp.rcpts;
	loc->recipient_count = em->sp.rcpt_count;
	loc->arrival_time = em->sp.arrival;
}

/* A message larger than the size limit is not read: its size is set
   (the pipeline reports it unscanned) and its envelope, from the -H
   file, is still worth showing. */
static bool too_large(struct exim_store *es, int dfd, struct exim_msg *em)
{
	char name[64];
	struct stat hst, dst;
	unsigned char *h;
	size_t hl;

	snprintf(name, sizeof(name), "%s-H", em->m.name);
	if (fstatat(dfd, name, &hst, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	snprintf(name, sizeof(name), "%s-D", em->m.name);
	if (fstatat(dfd, name, &dst, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (uint64_t)hst.st_size + (uint64_t)dst.st_size <=
	    es->base.limits.max_message_size)
		return false;
	snprintf(name, sizeof(name), "%s-H", em->m.name);
	if (read_spool_file(dfd, name, HEADER_SLACK, &h, &hl, &hst, NULL) == 0) {
		if (mc_exim_spool_parse(h, hl, NULL, 0, true, &em->sp, NULL) == 0)
			msg_set_envelope(em);
		free(h);
	}
	mc_store_msg_stat(&em->m, &dst);
	em->m.msg.size = em->m.msg.raw_size = (size_t)(hst.st_size + dst.st_size);
	return true;
}

/* Read one message. NULL when it is gone (delivered since listed). */
static struct exim_msg *read_entry(struct exim_store *es, const struct spool_entry *e)
{
	struct exim_msg *em = mc_xcalloc(1, sizeof(*em));
	struct mc_store_msg *m = &em->m;
	size_t max = es->base.limits.max_message_size + HEADER_SLACK;
	unsigned char *raw, *j;
	size_t raw_len, h_len, j_len;
	struct stat st;
	char *err = NULL;
	int dfd, ret;

	mc_store_msg_init(&es->base, m, "exim");
	m->dir_rel = mc_xstrdup(e->dir_rel);
	m->name = mc_xstrdup(e->id);
	m->msg.loc.queue_id = m->name;
	m->msg.loc.folder = "input";
	m->container_last = ++es->yielded % REMOVE_BATCH == 0;

	dfd = mc_store_open_rel_dir(es->spoolfd, e->dir_rel, &err);
	if (dfd < 0) {
		mc_store_msg_error(m, "%s", err);
		free(err);
		return em;
	}
	if (too_large(es, dfd, em)) {
		close(dfd);
		return em;
	}
	ret = read_pair(dfd, e->id, max, &raw, &raw_len, &h_len, &j, &j_len, &st, &err);
	close(dfd);
	if (ret == 1) {
		free(err);
		mc_store_msg_free_op(&es->base, (struct mc_msg **)&em);
		return NULL;
	}
	if (ret < 0) {
		mc_store_msg_error(m, "%s", err);
		free(err);
		return em;
	}
	mc_store_msg_stat(m, &st);
	m->buf = raw;
	m->msg.raw = raw;
	m->msg.raw_size = raw_len;
	if (mc_exim_spool_parse(raw, raw_len, j, j_len, false, &em->sp, &err) < 0) {
		mc_store_msg_error(m, "%s", err);
		free(err);
		free(j);
		/* Nothing of a damaged pair is scanned or acted on. */
		m->msg.raw = NULL;
		m->msg.raw_size = 0;
		m->msg.size = raw_len;
		return em;
	}
	free(j);
	if (em->sp.h_len != h_len) {
		mc_store_msg_error(m, "spool file %s-H: data after the headers", e->id);
		m->msg.raw = NULL;
		m->msg.raw_size = 0;
		m->msg.size = raw_len;
		return em;
	}
	m->msg.data = em->sp.content;
	m->msg.size = em->sp.content_len;
	mc_sha256(em->sp.content, em->sp.content_len, em->content_sha);
	msg_set_envelope(em);
	return em;
}

static int exim_next(struct mc_store *store, struct mc_msg **msg_r, char **error_r)
{
	struct exim_store *es = (struct exim_store *)store;

	if (!es->listed)
		list_spool(es);
	while (es->entry_pos < es->entry_count) {
		const struct spool_entry *e = &es->entries[es->entry_pos++];

		if (e->error != NULL) {
			struct exim_msg *em = mc_xcalloc(1, sizeof(*em));

			mc_store_msg_init(&es->base, &em->m, "exim");
			em->m.msg.loc.folder = "input";
			em->m.path = mc_xasprintf("%s/%s", es->ex->spool_dir, e->dir_rel);
			em->m.msg.loc.path = em->m.path;
			em->m.container_last = true;
			mc_store_msg_error(&em->m, "%s", e->error);
			*msg_r = &em->m.msg;
			return 1;
		}
		struct exim_msg *em = read_entry(es, e);
		if (em != NULL) {
			*msg_r = &em->m.msg;
			return 1;
		}
	}
	return 0;
}

static void exim_msg_free(struct mc_store *store, struct mc_msg **msgp)
{
	struct exim_msg *em = (struct exim_msg *)*msgp;

	if (em == NULL)
		return;
	/* raw is m.buf, freed by the base; data is sp.content. */
	mc_exim_spool_clear(&em->sp);
	free(em->raw_now);
	mc_store_msg_free_op(store, msgp);
}

/* ------------------------------------------------------------------ */
/* Removal                                                             */
/* ------------------------------------------------------------------ */

/* Take Exim's lock on the -D file of EM (as deliver.c and -Mrm do):
   the open descriptor, or -1 with *why_r. */
static int lock_data(int dfd, const struct exim_msg *em, char **why_r)
{
	char name[64];
	struct stat st;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd;

	snprintf(name, sizeof(name), "%s-D", em->m.name);
	fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		*why_r = errno == ENOENT ?
			mc_xstrdup("gone from the queue (delivered?): not removed") :
			mc_xasprintf("%s: %s: not removed", name, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || st.st_dev != em->m.dev || st.st_ino != em->m.ino) {
		close(fd);
		*why_r = mc_xasprintf("%s is another file than the one scanned: not removed",
				      name);
		return -1;
	}
	/* Exim locks the id line; any overlapping lock conflicts. */
	fl.l_start = 0;
	fl.l_len = (off_t)strlen(em->m.name) + 3;
	/* A queue runner holds the lock for the instant it takes to
	   look at a message, frozen queue or not: wait that long. A
	   delivery holds it for as long as it runs: left alone. */
	double deadline = mc_now() + LOCK_WAIT_S;
	int ret;
	while ((ret = fcntl(fd, F_SETLK, &fl)) < 0 &&
	       (errno == EAGAIN || errno == EACCES) && mc_now() < deadline)
		mc_sleep_ms(LOCK_POLL_MS);
	if (ret < 0) {
		int e = errno;
		close(fd);
		*why_r = e == EAGAIN || e == EACCES ?
			mc_xstrdup("being delivered (Exim holds its lock): not removed") :
			mc_xasprintf("cannot lock %s: %s: not removed", name, strerror(e));
		return -1;
	}
	return fd;
}

static void unlink_spool(int dfd, const char *id, const char *suffix)
{
	char name[64];

	snprintf(name, sizeof(name), "%s%s", id, suffix);
	(void)unlinkat(dfd, name, 0);
}

/* The message log, spool/msglog[/X]/ID, as exim -Mrm removes it. */
static void unlink_msglog(struct exim_store *es, const char *dir_rel, const char *id)
{
	char *rel = mc_xasprintf("msglog%s", dir_rel + strlen("input"));
	int fd = mc_store_open_rel_dir(es->spoolfd, rel, NULL);

	if (fd >= 0) {
		(void)unlinkat(fd, id, 0);
		close(fd);
	}
	free(rel);
}

/* Whether the message NOW (read under Exim's lock) is another than EM
   as scanned: NULL when it is the same, else what changed. Exim
   rewrites the -H file whenever a delivery attempt ends (a deferral
   drops -deliver_firsttime, counts, frozen state), so its bytes do not
   decide; the message does: its content (headers and body, as Exim
   sends them), its envelope sender, and its recipients, of which
   those undelivered now must all have been undelivered at the scan
   (fewer is a delivery that ended since; another one is a change). */
static const char *changed_since_scan(const struct exim_msg *em,
				      const struct mc_exim_spool *now)
{
	unsigned char sha[32];

	mc_sha256(now->content, now->content_len, sha);
	if (memcmp(sha, em->content_sha, 32) != 0)
		return "its content changed";
	if (strcmp(now->sender, em->sp.sender) != 0)
		return "its envelope sender changed";
	for (size_t i = 0; i < now->rcpt_count; i++) {
		bool was = false;
		for (size_t k = 0; k < em->sp.rcpt_count && !was; k++)
			was = strcmp(now->rcpts[i], em->sp.rcpts[k]) == 0;
		if (!was)
			return "its recipients changed";
	}
	return NULL;
}

/* The envelope of NOW replaces the one of EM (NOW's is taken). */
static void take_envelope(struct exim_msg *em, struct mc_exim_spool *now)
{
	free(em->sp.sender);
	for (size_t i = 0; i < em->sp.rcpt_count; i++)
		free(em->sp.rcpts[i]);
	free(em->sp.rcpts);
	em->sp.sender = now->sender;
	em->sp.rcpts = now->rcpts;
	em->sp.rcpt_count = now->rcpt_count;
	now->sender = NULL;
	now->rcpts = NULL;
	now->rcpt_count = 0;
	msg_set_envelope(em);
}

static void remove_one(struct exim_store *es, struct mc_quarantine *q,
		       const char *run_id, struct mc_removal *r)
{
	struct exim_msg *em = (struct exim_msg *)r->msg;
	size_t max = es->base.limits.max_message_size + HEADER_SLACK;
	unsigned char *raw = NULL, *j = NULL;
	size_t raw_len, h_len, j_len;
	struct mc_exim_spool now;
	struct stat st;
	char *err = NULL;
	const char *why;
	int dfd, lockfd;

	if (q == NULL || r->msg->read_error != NULL || r->msg->raw == NULL) {
		r->error = mc_xstrdup(q == NULL ? "no quarantine: not removed" :
				      "message was not read: not removed");
		return;
	}
	dfd = mc_store_open_rel_dir(es->spoolfd, em->m.dir_rel, &err);
	if (dfd < 0) {
		r->error = mc_xasprintf("%s: not removed", err);
		free(err);
		return;
	}
	lockfd = lock_data(dfd, em, &r->error);
	if (lockfd < 0) {
		close(dfd);
		return;
	}
	/* Under the lock: the same message as scanned. */
	if (read_pair(dfd, em->m.name, max, &raw, &raw_len, &h_len, &j, &j_len, &st,
		      &err) != 0) {
		r->error = mc_xasprintf("%s: not removed", err != NULL ? err : "gone");
		goto out;
	}
	if (mc_exim_spool_parse(raw, raw_len, j, j_len, false, &now, &err) < 0) {
		r->error = mc_xasprintf("%s: not removed", err);
		goto out;
	}
	if (now.h_len != h_len)
		why = "its -H file has data after the headers";
	else
		why = changed_since_scan(em, &now);
	if (why != NULL) {
		r->error = mc_xasprintf("%s since it was scanned: not removed", why);
		mc_exim_spool_clear(&now);
		goto out;
	}
	/* What goes to the quarantine is the message as it is now, with
	   the recipients still undelivered now (a delivery may have ended
	   since the scan). */
	take_envelope(em, &now);
	mc_exim_spool_clear(&now);
	em->raw_now = raw;
	raw = NULL;
	r->msg->raw = em->raw_now;
	r->msg->raw_size = raw_len;
	if (mc_store_quarantine(&es->base, q, NULL, run_id, r) < 0)
		goto out;
	/* -H first: without it Exim no longer sees the message. */
	unlink_spool(dfd, em->m.name, "-H");
	unlink_spool(dfd, em->m.name, "-J");
	unlink_spool(dfd, em->m.name, "-D");
	unlink_msglog(es, em->m.dir_rel, em->m.name);
	if (fsync(dfd) < 0 || fstatat(dfd, em->m.name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		r->error = mc_xasprintf("removal of %s not confirmed; the message is "
					"also in the quarantine as %s", em->m.name,
					r->quarantine_id);
		goto out;
	}
	r->removed = true;
out:
	free(err);
	free(raw);
	free(j);
	close(lockfd);
	close(dfd);
}

static void exim_remove(struct mc_store *store, struct mc_quarantine *q,
			const char *run_id, struct mc_removal *removals, size_t count)
{
	for (size_t i = 0; i < count; i++)
		remove_one((struct exim_store *)store, q, run_id, &removals[i]);
}

/* ------------------------------------------------------------------ */
/* Restore                                                             */
/* ------------------------------------------------------------------ */

/* Whether message ID is still in the spool of EX holding CONTENT: 1
   yes, 0 no, -1 cannot be told. A removal killed between the
   quarantine and the unlink of -H leaves the message queued; restoring
   it too would deliver it twice. The content decides: the -H file
   changes as recipients are delivered. It is in input/, or in the
   subdirectory of the id's sixth character whether or not the spool
   is split now. */
static int still_queued(const struct mc_exim *ex, const char *id,
			const unsigned char *content, size_t content_len,
			size_t max, char **error_r)
{
	char sub[] = { 'i', 'n', 'p', 'u', 't', '/', id[5], '\0' };
	const char *dirs[] = { "input", sub };
	int spoolfd = mc_open_dir_path(ex->spool_dir, NULL, error_r);
	int found = 0;

	if (spoolfd < 0)
		return -1;
	for (size_t i = 0; i < 2 && found == 0; i++) {
		unsigned char *raw, *j;
		size_t raw_len, h_len, j_len;
		struct mc_exim_spool now;
		struct stat st;
		char *err = NULL;
		int dfd = mc_store_open_rel_dir(spoolfd, dirs[i], &err);
		int ret;

		if (dfd < 0) {
			if (errno != ENOENT)
				found = mc_error_set(error_r, "%s", err);
			free(err);
			continue;
		}
		ret = read_pair(dfd, id, max, &raw, &raw_len, &h_len, &j, &j_len, &st, &err);
		close(dfd);
		if (ret < 0) {
			/* There, but unreadable or damaged: whether it is
			   the same message cannot be told. */
			found = mc_error_set(error_r, "spool files of %s: %s", id, err);
		} else if (ret == 0) {
			if (mc_exim_spool_parse(raw, raw_len, j, j_len, false, &now, NULL) == 0) {
				found = now.content_len == content_len &&
					memcmp(now.content, content, content_len) == 0;
				mc_exim_spool_clear(&now);
			}
			free(raw);
			free(j);
		}
		free(err);
	}
	close(spoolfd);
	return found;
}

static int exim_restore(struct mc_quarantine *q, const struct mc_qentry *entry,
			const void *raw, size_t raw_size, char **error_r)
{
	const char *store = entry->loc.store != NULL ? entry->loc.store : "exim:";
	const char *config = strncmp(store, "exim:", 5) == 0 ? store + 5 : "";
	struct mc_exim_spool sp;
	struct mc_store_envelope env;
	struct mc_exim *ex = NULL;
	char *err = NULL;
	int ret;

	if (mc_exim_spool_parse(raw, raw_size, NULL, 0, false, &sp, &err) < 0) {
		mc_error_set(error_r, "%s", err);
		free(err);
		return -1;
	}
	ret = -1;
	if (mc_exim_open(config[0] != '\0' ? config : NULL, &ex, error_r) < 0)
		goto out;
	if (entry->loc.queue_id != NULL && mc_exim_id_ok(entry->loc.queue_id)) {
		int queued = still_queued(ex, entry->loc.queue_id, sp.content,
					  sp.content_len, raw_size + HEADER_SLACK, error_r);
		if (queued > 0)
			mc_error_set(error_r, "message %s is still queued "
				     "(its removal was interrupted): restoring it "
				     "would deliver it twice", entry->loc.queue_id);
		if (queued != 0)
			goto out;
	}
	mc_store_restore_envelope(entry, sp.sender, sp.rcpts, sp.rcpt_count, &env);
	ret = mc_exim_sendmail(ex, env.sender, env.rcpts, env.rcpt_count,
			       sp.content, sp.content_len, error_r);
out:
	mc_exim_free(&ex);
	mc_exim_spool_clear(&sp);
	return ret;
}

const struct mc_store_ops mc_store_exim = {
	.name = "exim",
	.detect = exim_detect,
	.open = exim_open,
	.next = exim_next,
	.container_last = mc_store_container_last_op,
	.remove = exim_remove,
	.msg_free = exim_msg_free,
	.close = mc_store_close_op,
	.restore = exim_restore,
};

bool mc_exim_queue_id_ok(const char *id)
{
	return mc_exim_id_ok(id);
}
