/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	quarantine 3
/* SUMMARY
/*	keep every removed message so that it can be restored
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/* DESCRIPTION
/*	The quarantine is a directory that holds, for every message
/*	mailcure removed, the raw bytes exactly as they were stored and
/*	a metadata record saying where they came from, why, when and by
/*	which run. Layout:
/*
/*	DIR/entries/ID/message	the raw message, mode 0600
/*	DIR/entries/ID/meta.json	the metadata record (json-c)
/*	DIR/runs/RUN		ids quarantined by run RUN, one a line,
/*				in the order they were quarantined
/*	DIR/tmp/			entries being built or purged
/*	DIR/pending/GROUP/ID/	entries staged by a removal that is
/*				not done yet (an mbox rewrite)
/*
/*	An ID looks like 20261128T010830Z-123456-9f3a1b2c: the UTC time
/*	of quarantine with its microseconds, then random bits. IDs sort
/*	by time, so "oldest first" is a sort of the names, and within one
/*	process they are strictly increasing.
/*
/*	mc_quarantine_put() builds a complete entry in tmp/ (message
/*	written, fsync'd, re-read and its SHA-256 compared; meta.json
/*	written and fsync'd; the entry directory fsync'd), renames it
/*	into entries/ in one step, fsyncs entries/, and appends the id
/*	to the run's index (fsync'd). A crash at any point leaves either
/*	no entry or a complete one; leftovers in tmp/ are removed by
/*	purge. Only after put returns 0 may a store remove the original.
/*
/*	mc_quarantine_stage() builds the entry in the same way but moves
/*	it into pending/GROUP/, where nothing lists, counts or restores
/*	it: for a store that takes several messages out in one step
/*	that can be interrupted (an mbox is rewritten without them), so
/*	that an entry never exists for a message that did not leave.
/*	Once that step is durable, mc_quarantine_commit() appends the
/*	ids to their run's index and renames them into entries/; before
/*	it is, mc_quarantine_unstage() deletes them. Which of the two an
/*	interrupted removal needs only its store can tell (the mbox
/*	store: whether its rewrite journal exists), so the restore
/*	module (restore.c) hands each group to its store's settle op,
/*	listed by mc_quarantine_staged_list(); "quarantine restore" does
/*	that first. A staged id given to mc_quarantine_restore_begin()
/*	is named as such in the error.
/*
/*	A restore has two halves here, with the store's restore op
/*	between them (restore.c): mc_quarantine_restore_begin() locks
/*	the entry directory (flock), so two restores of one entry cannot
/*	race, refuses an entry that has restored_at set, and reads the
/*	message, verifying its checksum; mc_quarantine_restore_finish()
/*	records restored_at (meta.json rewritten through a temporary
/*	name, fsync'd, renamed) when the store put the message back, and
/*	unlocks. The quarantined copy stays until purge. The quarantine
/*	itself knows no store: stores call it, never the other way.
/*
/*	The run index exists so that "restore --run" reads one small
/*	file instead of every entry; when it is missing the entries are
/*	scanned for the run instead. Lines naming entries that do not
/*	exist (purged, or a put that failed after writing its line) are
/*	ignored. Appends and purge rewrites take flock on the index file
/*	and re-check after locking that the name still refers to the
/*	file locked, since purge replaces or removes index files.
/*
/*	The metadata record holds every field of struct mc_qentry; a
/*	record that is corrupt or has fields of the wrong type makes
/*	that entry an error, never a crash, and iteration goes on.
/*
/*	This file opens the quarantine, builds, reads and iterates
/*	entries and holds them for restore; the metadata record is read
/*	and written by quarantine_meta.c, run indexes are kept by
/*	quarantine_runs.c, staged entries by quarantine_stage.c, and
/*	entries are taken out by quarantine_purge.c
/*	(quarantine-private.h is what they share).
/* SECURITY
/*	The quarantine holds live malware and users' private mail, and
/*	restore writes into users' mailboxes as root from what it reads
/*	here. The root must be a real directory (not a symlink) owned by
/*	the effective uid and writable by nobody else; anything else is
/*	refused. Ids and run names from the command line become path
/*	components only after a strict character check (no '/', no
/*	leading '.'). Files are created with O_EXCL|O_NOFOLLOW, mode 0600,
/*	and opened with the safe helpers of safe.c.
/*--*/

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib.h>
#include <json-c/json.h>

#include "mailcure/mailcure.h"
#include "internal.h"
#include "quarantine-private.h"

struct mc_quarantine_iter {
	struct mc_quarantine *q;
	char **ids;
	size_t count, pos;
	char *run_filter;	/* scanning all entries for one run */
	char *init_error;	/* reported by the first next_r */
};

/* ------------------------------------------------------------------ */
/* Names and times                                                    */
/* ------------------------------------------------------------------ */

/* An id or run name that is safe as one path component. */
bool mc_qname_valid(const char *s)
{
	size_t n = 0;

	if (s == NULL || !g_ascii_isalnum(s[0]))
		return false;
	for (; s[n] != '\0'; n++) {
		char c = s[n];
		if (!g_ascii_isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return n <= QNAME_MAX;
}

/* Time encoded at the start of an id or run name ("20261128T010830Z"),
   or -1. */
time_t mc_qname_time(const char *s)
{
	int y, mo, d, h, mi, se, n = 0;
	time_t t;

	if (sscanf(s, "%4d%2d%2dT%2d%2d%2dZ%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 ||
	    n != 16 || !mc_date_from_civil(y, mo, d, h, mi, se, &t))
		return (time_t)-1;
	return t;
}

static char *entry_id_new(struct mc_quarantine *q, time_t *when_r)
{
	struct timespec ts;
	struct tm tm;
	uint32_t rnd;
	int64_t us;
	time_t sec;

	clock_gettime(CLOCK_REALTIME, &ts);
	us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	pthread_mutex_lock(&q->lock);
	if (us <= q->last_us)
		us = q->last_us + 1;
	q->last_us = us;
	pthread_mutex_unlock(&q->lock);
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint32_t)g_random_int();
	sec = (time_t)(us / 1000000);
	gmtime_r(&sec, &tm);
	*when_r = sec;
	return mc_xasprintf("%04d%02d%02dT%02d%02d%02dZ-%06d-%08x",
			    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			    tm.tm_hour, tm.tm_min, tm.tm_sec,
			    (int)(us % 1000000), rnd);
}

void mc_qsha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char bin[32];

	mc_sha256(data, len, bin);
	mc_hex(bin, 32, hex);
}

const char *mc_qentry_where(const struct mc_qentry *e)
{
	if (e->loc.path != NULL)
		return e->loc.path;
	if (e->loc.queue_id != NULL)
		return e->loc.queue_id;
	return e->loc.store != NULL ? e->loc.store : "(unknown)";
}

/* ------------------------------------------------------------------ */
/* Files                                                              */
/* ------------------------------------------------------------------ */

/* Remove directory NAME under PARENTFD and the files in it (an entry
   holds only plain files). */
int mc_qentry_dir_remove(int parentfd, const char *name, char **error_r)
{
	struct dirent *de;
	DIR *dir;
	int fd;

	fd = mc_safe_open_dir(parentfd, name, NULL, error_r);
	if (fd < 0)
		return -1;
	if ((dir = mc_dir_list(fd)) == NULL) {
		mc_error_errno(error_r, "%s", name);
		close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, de->d_name, 0) < 0) {
			mc_error_errno(error_r, "remove %s/%s", name, de->d_name);
			closedir(dir);
			close(fd);
			return -1;
		}
	}
	closedir(dir);
	close(fd);
	if (unlinkat(parentfd, name, AT_REMOVEDIR) < 0)
		return mc_error_errno(error_r, "remove %s", name);
	return 0;
}

/* Replace NAME under DIRFD with DATA durably: temporary file (0600,
   O_EXCL), fsync, rename, fsync the directory. */
int mc_qfile_replace(int dirfd, const char *name, const char *tmpname,
		     const void *data, size_t len, char **error_r)
{
	int fd;

	/* A temporary left by a crash is stale: the caller holds the
	   lock that makes it the only writer. */
	if (unlinkat(dirfd, tmpname, 0) < 0 && errno != ENOENT)
		return mc_error_errno(error_r, "remove %s", tmpname);
	fd = openat(dirfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return mc_error_errno(error_r, "create %s", tmpname);
	if (mc_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		mc_error_errno(error_r, "write %s", tmpname);
		close(fd);
		unlinkat(dirfd, tmpname, 0);
		return -1;
	}
	if (close(fd) < 0) {
		mc_error_errno(error_r, "write %s", tmpname);
		unlinkat(dirfd, tmpname, 0);
		return -1;
	}
	if (renameat(dirfd, tmpname, dirfd, name) < 0) {
		mc_error_errno(error_r, "rename %s", tmpname);
		unlinkat(dirfd, tmpname, 0);
		return -1;
	}
	if (mc_fsync_dir(dirfd) < 0)
		return mc_error_errno(error_r, "fsync directory of %s", name);
	return 0;
}

/* renameat that never replaces an existing entry (renameat would
   replace an empty directory). */
int mc_qrename_noreplace(int olddirfd, const char *oldname, int newdirfd,
			 const char *newname)
{
	struct stat st;

	if (renameat2(olddirfd, oldname, newdirfd, newname, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* A file system without RENAME_NOREPLACE: check, then rename
	   (ids are unique, so the window is only theoretical). */
	if (fstatat(newdirfd, newname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	return renameat(olddirfd, oldname, newdirfd, newname);
}

/* SHA-256 of FD's content from the start, streamed (a message is not
   held twice in memory). */
static int hash_fd(int fd, char hex[65], uint64_t *size_r, char **error_r)
{
	GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
	unsigned char buf[65536];
	unsigned char bin[32];
	gsize binlen = sizeof(bin);
	uint64_t total = 0;
	off_t off = 0;

	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			g_checksum_free(ck);
			return mc_error_errno(error_r, "read");
		}
		if (n == 0)
			break;
		g_checksum_update(ck, buf, n);
		off += n;
		total += (uint64_t)n;
	}
	g_checksum_get_digest(ck, bin, &binlen);
	g_checksum_free(ck);
	mc_hex(bin, 32, hex);
	*size_r = total;
	return 0;
}

/* A subdirectory of the quarantine root, created when CREATE. */
int mc_qsubdir_open(int rootfd, const char *name, bool create,
		    char **error_r)
{
	struct stat st;
	int fd;

	if (create && mkdirat(rootfd, name, 0700) < 0 && errno != EEXIST)
		return mc_error_errno(error_r, "mkdir %s", name);
	fd = mc_safe_open_dir(rootfd, name, &st, error_r);
	if (fd < 0)
		return -1;
	if (st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
		close(fd);
		return mc_error_set(error_r, "%s: not owned by uid %lu or writable by others, refused",
				    name, (unsigned long)geteuid());
	}
	return fd;
}

/* ------------------------------------------------------------------ */
/* Open and close                                                     */
/* ------------------------------------------------------------------ */

struct mc_quarantine *mc_quarantine_open(const char *dir, bool create,
					 char **error_r)
{
	struct mc_quarantine *q;
	struct stat lst, st;
	char *path;
	char *err = NULL;
	bool existed;
	size_t len;
	int fd;

	if (dir == NULL || dir[0] == '\0') {
		mc_error_set(error_r, "quarantine: no directory given");
		return NULL;
	}
	/* "q/" would make lstat and O_NOFOLLOW follow a symlink "q". */
	path = mc_xstrdup(dir);
	len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';

	existed = lstat(path, &lst) == 0;
	if (create && !existed && mc_mkdir_p(path, 0700, &err) < 0) {
		mc_error_set(error_r, "quarantine %s: %s", path, err);
		free(err);
		free(path);
		return NULL;
	}
	if (lstat(path, &lst) < 0) {
		mc_error_errno(error_r, "quarantine %s", path);
		free(path);
		return NULL;
	}
	if (S_ISLNK(lst.st_mode)) {
		mc_error_set(error_r, "quarantine %s: is a symbolic link, refused "
			     "(give the real directory)", path);
		free(path);
		return NULL;
	}
	if (!S_ISDIR(lst.st_mode)) {
		mc_error_set(error_r, "quarantine %s: not a directory", path);
		free(path);
		return NULL;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		mc_error_errno(error_r, "quarantine %s", path);
		free(path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !mc_same_file(&lst, &st)) {
		mc_error_set(error_r, "quarantine %s: replaced while being opened", path);
		goto fail_fd;
	}
	/* It holds malware and users' mail, and restore writes into
	   mailboxes from it: nobody but us may be able to change it. */
	if (st.st_uid != geteuid()) {
		mc_error_set(error_r, "quarantine %s: owned by uid %lu, not by uid %lu; refused "
			     "(it must be private to the user running mailcure)",
			     path, (unsigned long)st.st_uid, (unsigned long)geteuid());
		goto fail_fd;
	}
	if ((st.st_mode & 022) != 0) {
		mc_error_set(error_r, "quarantine %s: mode %04o is group or world writable; refused "
			     "(chmod 700 it after checking its content)",
			     path, (unsigned)(st.st_mode & 07777));
		goto fail_fd;
	}
	/* Only a directory we made is set to 0700: an existing one that
	   passed the checks above keeps its mode (its entries are 0700
	   and 0600 anyway), so "--quarantine /srv" never changes /srv. */
	if (create && !existed && (st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0) {
		mc_error_errno(error_r, "quarantine %s: chmod 700", path);
		goto fail_fd;
	}

	q = mc_xcalloc(1, sizeof(*q));
	q->dir = path;
	q->root_fd = fd;
	q->entries_fd = q->runs_fd = q->tmp_fd = q->pending_fd = -1;
	pthread_mutex_init(&q->lock, NULL);
	if ((q->entries_fd = mc_qsubdir_open(fd, "entries", create, &err)) < 0 ||
	    (q->runs_fd = mc_qsubdir_open(fd, "runs", create, &err)) < 0 ||
	    (q->tmp_fd = mc_qsubdir_open(fd, "tmp", create, &err)) < 0) {
		mc_error_set(error_r, "quarantine %s: %s%s", path, err,
			     create ? "" : " (not a mailcure quarantine?)");
		free(err);
		mc_quarantine_close(&q);
		return NULL;
	}
	if (create && mc_fsync_dir(fd) < 0) {
		mc_error_errno(error_r, "quarantine %s: fsync", path);
		mc_quarantine_close(&q);
		return NULL;
	}
	return q;

fail_fd:
	close(fd);
	free(path);
	return NULL;
}

void mc_quarantine_close(struct mc_quarantine **qp)
{
	struct mc_quarantine *q = *qp;

	if (q == NULL)
		return;
	*qp = NULL;
	if (q->tmp_fd >= 0)
		close(q->tmp_fd);
	if (q->pending_fd >= 0)
		close(q->pending_fd);
	if (q->runs_fd >= 0)
		close(q->runs_fd);
	if (q->entries_fd >= 0)
		close(q->entries_fd);
	close(q->root_fd);
	pthread_mutex_destroy(&q->lock);
	if (q->known != NULL)
		g_hash_table_destroy(q->known);
	free(q->known_run);
	free(q->dir);
	free(q);
}

const char *mc_quarantine_dir(const struct mc_quarantine *q)
{
	return q->dir;
}


/* The staging group that holds entry ID, or NULL. */
static char *staged_group_of(struct mc_quarantine *q, const char *id)
{
	struct mc_quarantine_staged *list;
	size_t count;
	char *group = NULL, *err = NULL;
	int saved = errno;

	if (mc_quarantine_staged_list(q, &list, &count, &err) < 0) {
		free(err);
		errno = saved;
		return NULL;
	}
	for (size_t i = 0; i < count && group == NULL; i++) {
		int gfd = mc_qstage_group_open(q, list[i].group, false, &err);

		if (gfd >= 0) {
			if (faccessat(gfd, id, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
				group = mc_xstrdup(list[i].group);
			close(gfd);
		}
		free(err);
		err = NULL;
	}
	mc_quarantine_staged_free(&list, count);
	errno = saved;
	return group;
}

int mc_qentry_open(struct mc_quarantine *q, const char *id, char **error_r)
{
	char *err = NULL;
	int fd;

	if (!mc_qname_valid(id))
		return mc_error_set(error_r, "'%s' is not a quarantine entry id", id);
	fd = mc_safe_open_dir(q->entries_fd, id, NULL, &err);
	if (fd < 0) {
		char *group = errno == ENOENT ? staged_group_of(q, id) : NULL;

		if (group != NULL) {
			mc_error_set(error_r, "entry %s is staged in %s/%s/%s: the removal "
				     "that took it was interrupted and is not settled yet",
				     id, q->dir, PENDING_DIR, group);
			free(group);
		} else if (errno == ENOENT)
			mc_error_set(error_r, "no quarantine entry %s in %s", id, q->dir);
		else
			mc_error_set(error_r, "entry %s: %s", id, err);
		free(err);
		return -1;
	}
	return fd;
}


/* ------------------------------------------------------------------ */
/* Put                                                                */
/* ------------------------------------------------------------------ */

/* What makes two quarantine requests the same message: the place it
   was taken from, to the byte offset, and its checksum. */
static char *entry_key(const struct mc_location *loc, const char *sha256_hex)
{
	return mc_xasprintf("%s\n%s\n%s\n%s\n%s\n%lld\n%s",
			    loc->kind ? loc->kind : "", loc->user ? loc->user : "",
			    loc->folder ? loc->folder : "", loc->path ? loc->path : "",
			    loc->queue_id ? loc->queue_id : "", (long long)loc->offset,
			    sha256_hex);
}

/* Load the keys of RUN's entries that are not restored, once per run
   (caller holds q->lock). A run without an index has no entries yet. */
static void known_load(struct mc_quarantine *q, const char *run)
{
	struct mc_quarantine_iter *it;
	struct mc_qentry *e;

	if (q->known_run != NULL && strcmp(q->known_run, run) == 0)
		return;
	if (q->known != NULL)
		g_hash_table_destroy(q->known);
	free(q->known_run);
	q->known_run = mc_xstrdup(run);
	q->known = g_hash_table_new_full(g_str_hash, g_str_equal, free, free);
	if (faccessat(q->runs_fd, run, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	it = mc_quarantine_iter_init_run(q, run);
	while ((e = mc_quarantine_iter_next(it)) != NULL) {
		if (e->restored_at == 0 && e->sha256_hex != NULL)
			g_hash_table_insert(q->known, entry_key(&e->loc, e->sha256_hex),
					    mc_xstrdup(e->id));
		mc_qentry_free(&e);
	}
	mc_quarantine_iter_deinit(&it);
}

void mc_qknown_forget(struct mc_quarantine *q, const char *id)
{
	GHashTableIter hi;
	gpointer k, v;

	pthread_mutex_lock(&q->lock);
	if (q->known != NULL) {
		g_hash_table_iter_init(&hi, q->known);
		while (g_hash_table_iter_next(&hi, &k, &v)) {
			if (strcmp(v, id) == 0)
				g_hash_table_iter_remove(&hi);
		}
	}
	pthread_mutex_unlock(&q->lock);
}

/* Check META for a put or a stage. */
int mc_qentry_check(const struct mc_qentry *meta, const void *raw, size_t raw_size,
		    char **error_r)
{
	if (meta == NULL || meta->loc.kind == NULL)
		return mc_error_set(error_r, "quarantine: the message has no store kind");
	if (meta->run_id != NULL && !mc_qname_valid(meta->run_id))
		return mc_error_set(error_r, "quarantine: invalid run id '%s'", meta->run_id);
	if (raw == NULL && raw_size > 0)
		return mc_error_set(error_r, "quarantine: no message data");
	return 0;
}

/* Build a complete entry for RAW (SHA-256 WANT) and META in tmp/,
   where nobody else looks: message written, fsync'd, read back and
   compared; meta.json written and fsync'd; the directory fsync'd.
   Returns its id (malloc()ed), or NULL with *err_r. */
char *mc_qentry_build(struct mc_quarantine *q, const struct mc_qentry *meta,
		      const void *raw, size_t raw_size, char want[65], char **err_r)
{
	struct mc_qentry rec;
	json_object *jo;
	const char *text;
	char got[65];
	char *id, *err = NULL;
	uint64_t got_size;
	time_t when;
	int edfd = -1, fd;

	/* Another process drawing the same microsecond and random bits
	   is next to impossible, but costs only a retry. */
	for (int tries = 0;; tries++) {
		id = entry_id_new(q, &when);
		if (mkdirat(q->tmp_fd, id, 0700) == 0)
			break;
		if (errno != EEXIST || tries == 10) {
			mc_error_errno(err_r, "mkdir tmp/%s", id);
			free(id);
			return NULL;
		}
		free(id);
	}
	edfd = mc_safe_open_dir(q->tmp_fd, id, NULL, &err);
	if (edfd < 0)
		goto fail;

	fd = openat(edfd, ENTRY_MESSAGE, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		mc_error_errno(&err, "create %s", ENTRY_MESSAGE);
		goto fail;
	}
	if (mc_write_all(fd, raw, raw_size) < 0 || fsync(fd) < 0) {
		mc_error_errno(&err, "write %s", ENTRY_MESSAGE);
		close(fd);
		goto fail;
	}
	if (close(fd) < 0) {
		mc_error_errno(&err, "write %s", ENTRY_MESSAGE);
		goto fail;
	}
	/* Read back what the disk holds: only a verified copy allows the
	   caller to remove the original. */
	fd = mc_safe_open_file(edfd, ENTRY_MESSAGE, true, NULL, &err);
	if (fd < 0)
		goto fail;
	if (hash_fd(fd, got, &got_size, &err) < 0) {
		close(fd);
		goto fail;
	}
	close(fd);
	if (got_size != raw_size || strcmp(got, want) != 0) {
		mc_error_set(&err, "the copy read back differs from the message "
			     "(%llu bytes, sha256 %s; expected %zu bytes, %s)",
			     (unsigned long long)got_size, got, raw_size, want);
		goto fail;
	}

	rec = *meta;
	rec.id = id;
	rec.sha256_hex = want;
	rec.size = raw_size;
	rec.quarantined_at = when;
	rec.restored_at = 0;
	jo = mc_qentry_to_json(&rec);
	text = json_object_to_json_string_ext(jo, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	/* Written in place: the entry directory is still private to us
	   in tmp/, so it plays the part of the temporary name. */
	fd = openat(edfd, ENTRY_META, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		mc_error_errno(&err, "create %s", ENTRY_META);
		json_object_put(jo);
		goto fail;
	}
	if (mc_write_all(fd, text, strlen(text)) < 0 || mc_write_all(fd, "\n", 1) < 0 ||
	    fsync(fd) < 0) {
		mc_error_errno(&err, "write %s", ENTRY_META);
		close(fd);
		json_object_put(jo);
		goto fail;
	}
	json_object_put(jo);
	if (close(fd) < 0) {
		mc_error_errno(&err, "write %s", ENTRY_META);
		goto fail;
	}
	if (mc_fsync_dir(edfd) < 0) {
		mc_error_errno(&err, "fsync entry directory");
		goto fail;
	}
	close(edfd);
	return id;

fail:
	if (edfd >= 0)
		close(edfd);
	*err_r = err != NULL ? err : mc_xstrdup("failed");
	err = NULL;
	if (mc_qentry_dir_remove(q->tmp_fd, id, &err) < 0)
		free(err);	/* purge removes leftovers in tmp/ */
	free(id);
	return NULL;
}

int mc_quarantine_put(struct mc_quarantine *q, const struct mc_qentry *meta,
		      const void *raw, size_t raw_size, char **id_r,
		      char **error_r)
{
	char want[65];
	char *id, *key = NULL, *err = NULL;

	*id_r = NULL;
	if (mc_qentry_check(meta, raw, raw_size, error_r) < 0)
		return -1;
	mc_qsha256_hex(raw_size > 0 ? raw : "", raw_size, want);
	if (meta->run_id != NULL) {
		const char *have;

		key = entry_key(&meta->loc, want);
		pthread_mutex_lock(&q->lock);
		known_load(q, meta->run_id);
		have = g_hash_table_lookup(q->known, key);
		if (have != NULL) {
			*id_r = mc_xstrdup(have);
			pthread_mutex_unlock(&q->lock);
			free(key);
			return 0;
		}
		pthread_mutex_unlock(&q->lock);
	}
	/* The whole entry is built in tmp/ and appears in entries/ in one
	   rename, so readers never see half an entry. */
	id = mc_qentry_build(q, meta, raw, raw_size, want, &err);
	if (id == NULL)
		goto fail;

	/* The run index names the entry before it exists: a crash in
	   between leaves an index line without an entry (readers skip
	   it), never an entry its run does not know of, which a resumed
	   run would quarantine a second time. */
	if (meta->run_id != NULL &&
	    mc_qrun_append(q, meta->run_id, &id, 1, &err) < 0)
		goto fail_built;
	if (mc_qrename_noreplace(q->tmp_fd, id, q->entries_fd, id) < 0) {
		mc_error_errno(&err, "rename into entries/");
		goto fail_built;
	}
	if (mc_fsync_dir(q->entries_fd) < 0) {
		mc_error_errno(&err, "fsync entries/");
		/* Back out of entries/ so that no entry exists that the
		   caller believes was not made. */
		if (renameat(q->entries_fd, id, q->tmp_fd, id) < 0) {
			mc_error_set(error_r, "quarantine %s: entry %s: %s (and it could not "
				     "be withdrawn; the original is kept)", q->dir, id, err);
			free(err);
			free(id);
			free(key);
			return -1;
		}
		mc_fsync_dir(q->entries_fd);
		goto fail_built;
	}
	if (key != NULL) {
		pthread_mutex_lock(&q->lock);
		if (q->known_run != NULL && strcmp(q->known_run, meta->run_id) == 0)
			g_hash_table_insert(q->known, key, mc_xstrdup(id));
		else
			free(key);
		pthread_mutex_unlock(&q->lock);
	}
	*id_r = id;
	return 0;

fail_built:
	{
		char *rm_err = NULL;

		if (mc_qentry_dir_remove(q->tmp_fd, id, &rm_err) < 0)
			free(rm_err);	/* purge removes leftovers in tmp/ */
	}
	free(id);
fail:
	mc_error_set(error_r, "quarantine %s: %s", q->dir, err != NULL ? err : "failed");
	free(err);
	free(key);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Get, read                                                          */
/* ------------------------------------------------------------------ */

struct mc_qentry *mc_quarantine_get(struct mc_quarantine *q, const char *id,
				    char **error_r)
{
	struct mc_qentry *e;
	int fd = mc_qentry_open(q, id, error_r);

	if (fd < 0)
		return NULL;
	e = mc_qentry_load(fd, id, error_r);
	close(fd);
	return e;
}

static int entry_read(int edfd, const struct mc_qentry *entry,
		      void **raw_r, size_t *size_r, char **error_r)
{
	unsigned char *buf;
	char hex[65], *err = NULL;
	size_t len;
	int fd;

	*raw_r = NULL;
	*size_r = 0;
	fd = mc_safe_open_file(edfd, ENTRY_MESSAGE, true, NULL, &err);
	if (fd < 0) {
		mc_error_set(error_r, "entry %s: %s", entry->id, err);
		free(err);
		return -1;
	}
	if (entry->size > SIZE_MAX - 1 ||
	    mc_read_fd(fd, (size_t)entry->size, &buf, &len, &err) < 0) {
		mc_error_set(error_r, "entry %s: %s: %s (expected %llu bytes): the quarantined "
			     "copy is damaged", entry->id, ENTRY_MESSAGE,
			     err != NULL ? err : "too large",
			     (unsigned long long)entry->size);
		free(err);
		close(fd);
		return -1;
	}
	close(fd);
	mc_qsha256_hex(buf, len, hex);
	if (len != entry->size || strcmp(hex, entry->sha256_hex) != 0) {
		mc_error_set(error_r, "entry %s: checksum mismatch: the quarantined copy is "
			     "damaged (%zu bytes, sha256 %s; recorded %llu bytes, %s)",
			     entry->id, len, hex, (unsigned long long)entry->size,
			     entry->sha256_hex);
		free(buf);
		return -1;
	}
	*raw_r = buf;
	*size_r = len;
	return 0;
}

int mc_quarantine_read(struct mc_quarantine *q, const struct mc_qentry *entry,
		       void **raw_r, size_t *size_r, char **error_r)
{
	int fd, ret;

	*raw_r = NULL;
	*size_r = 0;
	fd = mc_qentry_open(q, entry->id, error_r);
	if (fd < 0)
		return -1;
	ret = entry_read(fd, entry, raw_r, size_r, error_r);
	close(fd);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Iteration                                                          */
/* ------------------------------------------------------------------ */

/* Names of DIRFD's entries that are valid names, sorted. */
int mc_qdir_list(int dirfd, char ***names_r, size_t *count_r, char **error_r)
{
	char **names = NULL;
	size_t count = 0, cap = 0;
	struct dirent *de;
	DIR *dir = mc_dir_list(dirfd);

	if (dir == NULL)
		return mc_error_errno(error_r, "read directory");
	errno = 0;
	while ((de = readdir(dir)) != NULL) {
		if (mc_qname_valid(de->d_name))
			MC_ARRAY_PUSH(names, count, cap, mc_xstrdup(de->d_name));
		errno = 0;
	}
	if (errno != 0) {
		mc_error_errno(error_r, "read directory");
		closedir(dir);
		mc_qids_free(names, count);
		return -1;
	}
	closedir(dir);
	mc_qids_sort_unique(names, &count);
	*names_r = names;
	*count_r = count;
	return 0;
}

struct mc_quarantine_iter *mc_quarantine_iter_init(struct mc_quarantine *q)
{
	struct mc_quarantine_iter *it = mc_xcalloc(1, sizeof(*it));
	char *err = NULL;

	it->q = q;
	if (mc_qdir_list(q->entries_fd, &it->ids, &it->count, &err) < 0) {
		it->init_error = mc_xasprintf("quarantine %s: entries/: %s", q->dir, err);
		free(err);
	}
	return it;
}

struct mc_quarantine_iter *mc_quarantine_iter_init_run(struct mc_quarantine *q,
						       const char *run_id)
{
	struct mc_quarantine_iter *it;
	unsigned char *buf;
	char *err = NULL;
	size_t len;
	int fd;

	if (!mc_qname_valid(run_id)) {
		it = mc_xcalloc(1, sizeof(*it));
		it->q = q;
		it->init_error = mc_xasprintf("'%s' is not a run id", run_id);
		return it;
	}
	fd = mc_safe_open_file(q->runs_fd, run_id, true, NULL, &err);
	if (fd < 0 && errno == ENOENT) {
		/* No index (an older quarantine, or it was lost): find
		   the run's entries the slow way. */
		free(err);
		it = mc_quarantine_iter_init(q);
		it->run_filter = mc_xstrdup(run_id);
		return it;
	}
	it = mc_xcalloc(1, sizeof(*it));
	it->q = q;
	if (fd < 0) {
		it->init_error = mc_xasprintf("quarantine %s: run index: %s", q->dir, err);
		free(err);
		return it;
	}
	if (mc_read_fd(fd, QRUN_MAX_BYTES, &buf, &len, &err) < 0) {
		it->init_error = mc_xasprintf("quarantine %s: run index %s: %s",
					      q->dir, run_id, err);
		free(err);
		close(fd);
		return it;
	}
	close(fd);
	mc_qrun_parse((char *)buf, len, &it->ids, &it->count);
	free(buf);
	/* Ids sort by time: this is the order of quarantine. */
	mc_qids_sort_unique(it->ids, &it->count);
	/* Entries are still checked against the run: the index is a
	   shortcut, not the authority. */
	it->run_filter = mc_xstrdup(run_id);
	return it;
}

int mc_quarantine_iter_next_r(struct mc_quarantine_iter *it,
			      struct mc_qentry **entry_r, char **error_r)
{
	*entry_r = NULL;
	if (it->init_error != NULL) {
		mc_error_set(error_r, "%s", it->init_error);
		free(it->init_error);
		it->init_error = NULL;
		return -1;
	}
	while (it->pos < it->count) {
		const char *id = it->ids[it->pos++];
		struct mc_qentry *e;
		char *err = NULL;
		int fd;

		fd = mc_safe_open_dir(it->q->entries_fd, id, NULL, &err);
		if (fd < 0) {
			int saved = errno;
			free(err);
			/* Purged since listed, or an index line whose
			   put was withdrawn. */
			if (saved == ENOENT)
				continue;
			errno = saved;
			mc_error_errno(error_r, "entry %s", id);
			return -1;
		}
		e = mc_qentry_load(fd, id, error_r);
		close(fd);
		if (e == NULL)
			return -1;
		if (it->run_filter != NULL &&
		    (e->run_id == NULL || strcmp(e->run_id, it->run_filter) != 0)) {
			mc_qentry_free(&e);
			continue;
		}
		*entry_r = e;
		return 1;
	}
	return 0;
}

struct mc_qentry *mc_quarantine_iter_next(struct mc_quarantine_iter *it)
{
	struct mc_qentry *e;
	char *err = NULL;
	int ret;

	/* Entries that cannot be loaded are skipped here; callers that
	   report them use mc_quarantine_iter_next_r. */
	while ((ret = mc_quarantine_iter_next_r(it, &e, &err)) < 0) {
		free(err);
		err = NULL;
	}
	return ret > 0 ? e : NULL;
}

void mc_quarantine_iter_deinit(struct mc_quarantine_iter **itp)
{
	struct mc_quarantine_iter *it = *itp;

	if (it == NULL)
		return;
	*itp = NULL;
	mc_qids_free(it->ids, it->count);
	free(it->run_filter);
	free(it->init_error);
	free(it);
}

/* ------------------------------------------------------------------ */
/* Restore                                                            */
/* ------------------------------------------------------------------ */

struct mc_qrestore {
	struct mc_qentry *entry;
	void *raw;
	size_t raw_size;
	int fd;			/* the entry directory, flock'd */
};

int mc_quarantine_restore_begin(struct mc_quarantine *q, const char *id,
				struct mc_qrestore **r_r, char **error_r)
{
	struct mc_qrestore *r;
	char when[64];
	int fd;

	*r_r = NULL;
	fd = mc_qentry_open(q, id, error_r);
	if (fd < 0)
		return -1;
	/* One restore at a time per entry; the lock goes with the fd
	   and is held until finish. The record is read only once we
	   hold it, so a restore that waited sees what the other one
	   did. */
	if (flock(fd, LOCK_EX) < 0) {
		mc_error_errno(error_r, "entry %s: lock", id);
		close(fd);
		return -1;
	}
	r = mc_xcalloc(1, sizeof(*r));
	r->fd = fd;
	r->entry = mc_qentry_load(fd, id, error_r);
	if (r->entry == NULL)
		goto fail;
	if (r->entry->restored_at != 0) {
		mc_date_format(r->entry->restored_at, when, sizeof(when));
		mc_error_set(error_r, "entry %s was already restored at %s (to %s)",
			     id, when, mc_qentry_where(r->entry));
		goto fail;
	}
	if (entry_read(fd, r->entry, &r->raw, &r->raw_size, error_r) < 0)
		goto fail;
	*r_r = r;
	return 0;
fail:
	(void)mc_quarantine_restore_finish(&r, false, NULL);
	return -1;
}

const struct mc_qentry *mc_qrestore_entry(const struct mc_qrestore *r)
{
	return r->entry;
}

const void *mc_qrestore_message(const struct mc_qrestore *r, size_t *size_r)
{
	*size_r = r->raw_size;
	return r->raw;
}

int mc_quarantine_restore_finish(struct mc_qrestore **rp, bool restored,
				 char **error_r)
{
	struct mc_qrestore *r = *rp;
	char *err = NULL, *text;
	json_object *jo;
	int ret = 0;

	if (r == NULL)
		return 0;
	*rp = NULL;
	if (restored) {
		r->entry->restored_at = time(NULL);
		jo = mc_qentry_to_json(r->entry);
		text = mc_xasprintf("%s\n", json_object_to_json_string_ext(jo,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(jo);
		if (mc_qfile_replace(r->fd, ENTRY_META, ENTRY_META_TMP, text, strlen(text),
				 &err) < 0) {
			ret = mc_error_set(error_r, "entry %s: restored to %s, but recording "
					   "that failed (%s); do not restore it again",
					   r->entry->id, mc_qentry_where(r->entry), err);
			free(err);
		}
		free(text);
	}
	free(r->raw);
	mc_qentry_free(&r->entry);
	close(r->fd);
	free(r);
	return ret;
}
