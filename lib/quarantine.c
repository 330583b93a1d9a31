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

/* A metadata record is a few kilobytes; anything much larger is not
   one of ours. This bounds memory on a damaged or planted file; it is
   a property of the file format, not a message limit. */
#define QMETA_MAX_BYTES (16U << 20)
/* Same for a run index: 64 MiB is two million entries. */
#define QRUN_MAX_BYTES (64U << 20)
#define QNAME_MAX 128

#define ENTRY_MESSAGE "message"
#define ENTRY_META "meta.json"
#define ENTRY_META_TMP "meta.json.tmp"
#define PENDING_DIR "pending"

struct mc_quarantine {
	char *dir;
	int root_fd;
	int entries_fd;
	int runs_fd;
	int tmp_fd;
	int pending_fd;		/* pending/, opened when first needed */
	pthread_mutex_t lock;	/* id clock, run index appends, pending_fd */
	int64_t last_us;	/* last id time, for strictly increasing ids */
	/* Entries of one run by where the message was and its checksum
	   (entry_key -> id), so that a run resumed after a crash between
	   "quarantined" and "removed" does not quarantine the same
	   message twice: the verified copy of the first attempt stands. */
	char *known_run;
	GHashTable *known;
};

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
static bool valid_name(const char *s)
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
static time_t name_time(const char *s)
{
	int y, mo, d, h, mi, se, n = 0;
	time_t t;

	if (sscanf(s, "%4d%2d%2dT%2d%2d%2dZ%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 ||
	    n != 16 || !mc_date_from_civil(y, mo, d, h, mi, se, &t))
		return (time_t)-1;
	return t;
}

static void format_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
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

static void sha256_hex(const void *data, size_t len, char hex[65])
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
static int remove_entry_dir(int parentfd, const char *name, char **error_r)
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
static int replace_file(int dirfd, const char *name, const char *tmpname,
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
static int rename_noreplace(int olddirfd, const char *oldname, int newdirfd,
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
static int open_subdir(int rootfd, const char *name, bool create,
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
	if ((q->entries_fd = open_subdir(fd, "entries", create, &err)) < 0 ||
	    (q->runs_fd = open_subdir(fd, "runs", create, &err)) < 0 ||
	    (q->tmp_fd = open_subdir(fd, "tmp", create, &err)) < 0) {
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

/* ------------------------------------------------------------------ */
/* Metadata record                                                    */
/* ------------------------------------------------------------------ */

static json_object *jstr(const char *s)
{
	return s == NULL ? NULL : json_object_new_string(s);
}

static json_object *qentry_to_json(const struct mc_qentry *e)
{
	json_object *o = json_object_new_object();
	json_object *loc = json_object_new_object();
	json_object *reasons = json_object_new_array();
	json_object *rcpts = json_object_new_array();

	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "id", jstr(e->id));
	json_object_object_add(o, "run", jstr(e->run_id));

	json_object_object_add(loc, "store", jstr(e->loc.store));
	json_object_object_add(loc, "kind", jstr(e->loc.kind));
	json_object_object_add(loc, "user", jstr(e->loc.user));
	json_object_object_add(loc, "folder", jstr(e->loc.folder));
	json_object_object_add(loc, "path", jstr(e->loc.path));
	json_object_object_add(loc, "queue_id", jstr(e->loc.queue_id));
	json_object_object_add(loc, "offset", json_object_new_int64(e->loc.offset));
	json_object_object_add(loc, "maildir_subdir", jstr(e->loc.maildir_subdir));
	json_object_object_add(loc, "maildir_flags", jstr(e->loc.maildir_flags));
	json_object_object_add(loc, "uid", json_object_new_int64((int64_t)e->loc.uid));
	json_object_object_add(loc, "gid", json_object_new_int64((int64_t)e->loc.gid));
	json_object_object_add(loc, "mode", json_object_new_int64((int64_t)e->loc.mode));
	json_object_object_add(loc, "mtime", json_object_new_int64((int64_t)e->loc.mtime));
	json_object_object_add(o, "loc", loc);

	json_object_object_add(o, "sha256", jstr(e->sha256_hex));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)e->size));
	json_object_object_add(o, "quarantined_at", json_object_new_int64((int64_t)e->quarantined_at));
	json_object_object_add(o, "restored_at", e->restored_at == 0 ? NULL :
			       json_object_new_int64((int64_t)e->restored_at));

	for (size_t i = 0; i < e->reason_count; i++) {
		const struct mc_reason *r = &e->reasons[i];
		json_object *jr = json_object_new_object();

		const char *kname = mc_reason_kind_name(r->kind);

		json_object_object_add(jr, "kind", json_object_new_string(kname != NULL ? kname : "unknown"));
		json_object_object_add(jr, r->kind == MC_REASON_VIRUS ? "name" : "value",
				       jstr(r->value != NULL ? r->value : ""));
		json_object_array_add(reasons, jr);
	}
	json_object_object_add(o, "reasons", reasons);

	/* The envelope of queue mail may come in the entry's own fields
	   or in its location (as a store yields it); the record holds it
	   once. An empty sender is the null sender and stays "". */
	{
		const char *sender = e->envelope_sender != NULL ? e->envelope_sender :
			e->loc.envelope_sender;
		const char *const *rv = e->recipient_count > 0 ?
			(const char *const *)e->recipients : e->loc.recipients;
		size_t rc = e->recipient_count > 0 ? e->recipient_count :
			rv != NULL ? e->loc.recipient_count : 0;
		time_t arrival = e->arrival_time != 0 ? e->arrival_time : e->loc.arrival_time;

		json_object_object_add(o, "envelope_sender", jstr(sender));
		for (size_t i = 0; i < rc; i++)
			json_object_array_add(rcpts, jstr(rv[i] != NULL ? rv[i] : ""));
		json_object_object_add(o, "recipients", rcpts);
		json_object_object_add(o, "arrival_time", json_object_new_int64((int64_t)arrival));
	}
	json_object_object_add(o, "from", jstr(e->from));
	json_object_object_add(o, "subject", jstr(e->subject));
	json_object_object_add(o, "message_id", jstr(e->message_id));

	if (e->extra_json != NULL) {
		/* Kept as an object so that readers of the record see
		   structure; text that is not an object is kept as a
		   string rather than refused (it is informational, and
		   refusing would block the removal). */
		json_object *x = json_tokener_parse(e->extra_json);
		if (x == NULL || !json_object_is_type(x, json_type_object)) {
			json_object_put(x);
			x = json_object_new_string(e->extra_json);
		}
		json_object_object_add(o, "extra", x);
	} else {
		json_object_object_add(o, "extra", NULL);
	}
	return o;
}

char *mc_qentry_json(const struct mc_qentry *entry)
{
	json_object *o = qentry_to_json(entry);
	char *s = mc_xstrdup(json_object_to_json_string_ext(o,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));

	json_object_put(o);
	return s;
}

/* Field readers: absent or null is fine unless REQUIRED; a value of
   the wrong type is an error naming the field. */
static int get_str(json_object *o, const char *key, bool required,
		   char **out_r, char **error_r)
{
	json_object *v;

	*out_r = NULL;
	if (!json_object_object_get_ex(o, key, &v) || v == NULL) {
		if (required)
			return mc_error_set(error_r, "field \"%s\" missing", key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return mc_error_set(error_r, "field \"%s\": not a string", key);
	*out_r = mc_xstrndup(json_object_get_string(v),
			     (size_t)json_object_get_string_len(v));
	return 0;
}

static int get_int(json_object *o, const char *key, bool required,
		   int64_t min, int64_t max, int64_t *out_r, char **error_r)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL) {
		if (required)
			return mc_error_set(error_r, "field \"%s\" missing", key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return mc_error_set(error_r, "field \"%s\": not an integer", key);
	errno = 0;
	n = json_object_get_int64(v);
	if (errno != 0 || n < min || n > max)
		return mc_error_set(error_r, "field \"%s\": out of range", key);
	*out_r = n;
	return 0;
}

static bool reason_kind_parse(const char *name, enum mc_reason_kind *kind_r)
{
	for (int k = MC_REASON_VIRUS; k <= MC_REASON_ALL; k++) {
		const char *n = mc_reason_kind_name((enum mc_reason_kind)k);
		if (n != NULL && strcmp(n, name) == 0) {
			*kind_r = (enum mc_reason_kind)k;
			return true;
		}
	}
	return false;
}

static int qentry_from_json(json_object *o, struct mc_qentry *e, char **error_r)
{
	json_object *loc, *arr, *x;
	int64_t n;
	char *s;

#define STR(obj, key, req, dst) do { \
	if (get_str(obj, key, req, &s, error_r) < 0) return -1; \
	dst = s; \
} while (0)
#define INT(obj, key, req, min, max, dst) do { \
	n = 0; \
	if (get_int(obj, key, req, min, max, &n, error_r) < 0) return -1; \
	dst = n; \
} while (0)

	STR(o, "id", true, e->id);
	STR(o, "run", false, e->run_id);
	if (!json_object_object_get_ex(o, "loc", &loc) ||
	    !json_object_is_type(loc, json_type_object))
		return mc_error_set(error_r, "field \"loc\" missing or not an object");
	STR(loc, "store", false, e->loc.store);
	STR(loc, "kind", true, e->loc.kind);
	STR(loc, "user", false, e->loc.user);
	STR(loc, "folder", false, e->loc.folder);
	STR(loc, "path", false, e->loc.path);
	STR(loc, "queue_id", false, e->loc.queue_id);
	e->loc.offset = -1;
	INT(loc, "offset", false, -1, INT64_MAX, e->loc.offset);
	STR(loc, "maildir_subdir", false, e->loc.maildir_subdir);
	STR(loc, "maildir_flags", false, e->loc.maildir_flags);
	INT(loc, "uid", false, 0, UINT32_MAX, e->loc.uid);
	INT(loc, "gid", false, 0, UINT32_MAX, e->loc.gid);
	INT(loc, "mode", false, 0, 07777777, e->loc.mode);
	INT(loc, "mtime", false, INT64_MIN, INT64_MAX, e->loc.mtime);

	STR(o, "sha256", true, e->sha256_hex);
	if (strlen(e->sha256_hex) != 64 ||
	    strspn(e->sha256_hex, "0123456789abcdef") != 64)
		return mc_error_set(error_r, "field \"sha256\": not a SHA-256 hex digest");
	INT(o, "size", true, 0, INT64_MAX, e->size);
	INT(o, "quarantined_at", false, INT64_MIN, INT64_MAX, e->quarantined_at);
	INT(o, "restored_at", false, INT64_MIN, INT64_MAX, e->restored_at);

	if (json_object_object_get_ex(o, "reasons", &arr) && arr != NULL) {
		size_t count;

		if (!json_object_is_type(arr, json_type_array))
			return mc_error_set(error_r, "field \"reasons\": not a list");
		count = json_object_array_length(arr);
		e->reasons = mc_xcalloc(count, sizeof(*e->reasons));
		for (size_t i = 0; i < count; i++) {
			json_object *jr = json_object_array_get_idx(arr, i);
			enum mc_reason_kind kind;
			char *kname = NULL, *value = NULL;

			if (!json_object_is_type(jr, json_type_object))
				return mc_error_set(error_r, "field \"reasons\": item %zu is not an object", i);
			if (get_str(jr, "kind", true, &kname, error_r) < 0)
				return -1;
			if (get_str(jr, "name", false, &value, error_r) < 0) {
				free(kname);
				return -1;
			}
			if (value == NULL && get_str(jr, "value", false, &value, error_r) < 0) {
				free(kname);
				return -1;
			}
			/* A kind this version does not know (a newer
			   writer) is dropped: reasons only inform, and
			   the entry must stay restorable. */
			if (!reason_kind_parse(kname, &kind)) {
				free(kname);
				free(value);
				continue;
			}
			free(kname);
			e->reasons[e->reason_count].kind = kind;
			e->reasons[e->reason_count].value = value != NULL ? value : mc_xstrdup("");
			e->reason_count++;
		}
	}

	STR(o, "envelope_sender", false, e->envelope_sender);
	if (json_object_object_get_ex(o, "recipients", &arr) && arr != NULL) {
		size_t count;

		if (!json_object_is_type(arr, json_type_array))
			return mc_error_set(error_r, "field \"recipients\": not a list");
		count = json_object_array_length(arr);
		e->recipients = mc_xcalloc(count, sizeof(char *));
		for (size_t i = 0; i < count; i++) {
			json_object *v = json_object_array_get_idx(arr, i);
			if (!json_object_is_type(v, json_type_string))
				return mc_error_set(error_r, "field \"recipients\": item %zu is not a string", i);
			e->recipients[e->recipient_count++] =
				mc_xstrndup(json_object_get_string(v),
					    (size_t)json_object_get_string_len(v));
		}
	}
	INT(o, "arrival_time", false, INT64_MIN, INT64_MAX, e->arrival_time);
	/* The same envelope, seen through the location as stores see
	   it; these point to the strings above (freed once, there). */
	e->loc.envelope_sender = e->envelope_sender;
	e->loc.recipients = (const char *const *)e->recipients;
	e->loc.recipient_count = e->recipient_count;
	e->loc.arrival_time = e->arrival_time;
	STR(o, "from", false, e->from);
	STR(o, "subject", false, e->subject);
	STR(o, "message_id", false, e->message_id);
	if (json_object_object_get_ex(o, "extra", &x) && x != NULL) {
		if (json_object_is_type(x, json_type_string))
			e->extra_json = mc_xstrdup(json_object_get_string(x));
		else
			e->extra_json = mc_xstrdup(json_object_to_json_string_ext(x,
				JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	}
#undef STR
#undef INT
	return 0;
}

void mc_qentry_free(struct mc_qentry **entryp)
{
	struct mc_qentry *e = *entryp;

	if (e == NULL)
		return;
	*entryp = NULL;
	free(e->id);
	free(e->run_id);
	free((char *)e->loc.store);
	free((char *)e->loc.kind);
	free((char *)e->loc.user);
	free((char *)e->loc.folder);
	free((char *)e->loc.path);
	free((char *)e->loc.queue_id);
	free((char *)e->loc.maildir_subdir);
	free((char *)e->loc.maildir_flags);
	free(e->sha256_hex);
	for (size_t i = 0; i < e->reason_count; i++)
		free(e->reasons[i].value);
	free(e->reasons);
	/* loc.envelope_sender and loc.recipients alias these. */
	free(e->envelope_sender);
	for (size_t i = 0; i < e->recipient_count; i++)
		free(e->recipients[i]);
	free(e->recipients);
	free(e->from);
	free(e->subject);
	free(e->message_id);
	free(e->extra_json);
	free(e);
}

/* Parse a record from BUF; errors name the file, not the entry (the
   caller adds that). */
static struct mc_qentry *qentry_parse(const char *buf, size_t len,
				      char **error_r)
{
	struct json_tokener *tok = json_tokener_new();
	struct mc_qentry *e;
	json_object *o;
	size_t end;

	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (o == NULL) {
		enum json_tokener_error jerr = json_tokener_get_error(tok);
		mc_error_set(error_r, "%s: not valid JSON (%s)", ENTRY_META,
			     jerr == json_tokener_continue ? "truncated" :
			     json_tokener_error_desc(jerr));
		json_tokener_free(tok);
		return NULL;
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (end < len && g_ascii_isspace(buf[end]))
		end++;
	if (end != len) {
		json_object_put(o);
		mc_error_set(error_r, "%s: trailing data after the record", ENTRY_META);
		return NULL;
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		mc_error_set(error_r, "%s: not a JSON object", ENTRY_META);
		return NULL;
	}
	e = mc_xcalloc(1, sizeof(*e));
	if (qentry_from_json(o, e, error_r) < 0) {
		char *why = *error_r != NULL ? mc_xstrdup(*error_r) : NULL;
		mc_error_set(error_r, "%s: %s", ENTRY_META, why != NULL ? why : "invalid");
		free(why);
		mc_qentry_free(&e);
	}
	json_object_put(o);
	return e;
}

/* Load the metadata of entry ID from its open directory EDFD. */
static struct mc_qentry *entry_load(int edfd, const char *id, char **error_r)
{
	unsigned char *buf;
	struct mc_qentry *e;
	char *err = NULL;
	size_t len;
	int fd;

	fd = mc_safe_open_file(edfd, ENTRY_META, true, NULL, &err);
	if (fd < 0) {
		mc_error_set(error_r, "entry %s: %s", id, err);
		free(err);
		return NULL;
	}
	if (mc_read_fd(fd, QMETA_MAX_BYTES, &buf, &len, &err) < 0) {
		mc_error_set(error_r, "entry %s: %s: %s", id, ENTRY_META, err);
		free(err);
		close(fd);
		return NULL;
	}
	close(fd);
	e = qentry_parse((const char *)buf, len, &err);
	free(buf);
	if (e == NULL) {
		mc_error_set(error_r, "entry %s: %s", id, err);
		free(err);
		return NULL;
	}
	if (strcmp(e->id, id) != 0) {
		mc_error_set(error_r, "entry %s: %s names another entry (%s)",
			     id, ENTRY_META, e->id);
		mc_qentry_free(&e);
		return NULL;
	}
	return e;
}

static int group_open(struct mc_quarantine *q, const char *group, bool create,
		      char **error_r);

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
		int gfd = group_open(q, list[i].group, false, &err);

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

static int entry_open(struct mc_quarantine *q, const char *id, char **error_r)
{
	char *err = NULL;
	int fd;

	if (!valid_name(id))
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
/* Run index                                                          */
/* ------------------------------------------------------------------ */

/* Open and flock the index of RUN, retrying when purge replaced or
   removed the file between our open and our lock. */
static int run_index_lock(struct mc_quarantine *q, const char *run, bool create,
			  struct stat *st_r, char **error_r)
{
	for (int tries = 0; tries < 100; tries++) {
		struct stat st, lst;
		int fd;

		fd = openat(q->runs_fd, run, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC |
			    (create ? O_CREAT : 0), 0600);
		if (fd < 0)
			return mc_error_errno(error_r, "run index %s", run);
		if (flock(fd, LOCK_EX) < 0) {
			mc_error_errno(error_r, "lock run index %s", run);
			close(fd);
			return -1;
		}
		if (fstat(fd, &st) < 0) {
			mc_error_errno(error_r, "run index %s", run);
			close(fd);
			return -1;
		}
		if (fstatat(q->runs_fd, run, &lst, AT_SYMLINK_NOFOLLOW) < 0) {
			int gone = errno;

			close(fd);
			if (gone != ENOENT || !create) {
				errno = gone;
				return mc_error_errno(error_r, "run index %s", run);
			}
			continue;
		}
		if (mc_same_file(&st, &lst)) {
			if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
				close(fd);
				return mc_error_set(error_r, "run index %s: not a plain file", run);
			}
			*st_r = st;
			return fd;
		}
		close(fd);
	}
	return mc_error_set(error_r, "run index %s: keeps being replaced", run);
}

/* Append IDS to RUN's index in one write. */
static int run_index_append(struct mc_quarantine *q, const char *run,
			    char *const *ids, size_t count, char **error_r)
{
	GString *lines = g_string_new(NULL);
	char *line;
	struct stat st;
	int fd, ret = 0;

	for (size_t i = 0; i < count; i++)
		g_string_append_printf(lines, "%s\n", ids[i]);
	line = g_string_free(lines, FALSE);
	pthread_mutex_lock(&q->lock);
	fd = run_index_lock(q, run, true, &st, error_r);
	if (fd < 0) {
		pthread_mutex_unlock(&q->lock);
		g_free(line);
		return -1;
	}
	if (mc_write_all(fd, line, strlen(line)) < 0) {
		mc_error_errno(error_r, "append to run index %s", run);
		/* No half line for the next append to run into. */
		if (ftruncate(fd, st.st_size) < 0) {
			/* Readers skip lines that are not entry ids. */
		}
		ret = -1;
	} else if (fsync(fd) < 0) {
		mc_error_errno(error_r, "fsync run index %s", run);
		ret = -1;
	} else if (st.st_size == 0 && mc_fsync_dir(q->runs_fd) < 0) {
		mc_error_errno(error_r, "fsync run index directory");
		ret = -1;
	}
	close(fd);
	pthread_mutex_unlock(&q->lock);
	g_free(line);
	return ret;
}

/* Split index text into valid ids, sorted and without duplicates. */
static void run_index_parse(char *buf, size_t len, char ***ids_r, size_t *count_r)
{
	char **ids = NULL;
	size_t count = 0, cap = 0;
	char *p = buf, *end = buf + len;

	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *e = nl != NULL ? nl : end;

		*e = '\0';
		if (valid_name(p))
			MC_ARRAY_PUSH(ids, count, cap, mc_xstrdup(p));
		p = e + 1;
	}
	*ids_r = ids;
	*count_r = count;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void ids_sort_unique(char **ids, size_t *count)
{
	size_t out = 0;

	if (*count == 0)
		return;
	qsort(ids, *count, sizeof(char *), cmp_str);
	for (size_t i = 0; i < *count; i++) {
		if (out > 0 && strcmp(ids[out - 1], ids[i]) == 0) {
			free(ids[i]);
			continue;
		}
		ids[out++] = ids[i];
	}
	*count = out;
}

static void ids_free(char **ids, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(ids[i]);
	free(ids);
}

/* Drop the lines of RUN's index whose entry no longer exists (or is
   DROP_ID); remove the index when nothing is left. */
static int run_index_prune(struct mc_quarantine *q, const char *run,
			   const char *drop_id, char **error_r)
{
	unsigned char *buf = NULL;
	char **ids = NULL;
	size_t len, count = 0, kept = 0;
	struct stat st;
	GString *out;
	char *tmpname;
	int fd, ret = 0;

	pthread_mutex_lock(&q->lock);
	fd = run_index_lock(q, run, false, &st, error_r);
	if (fd < 0) {
		pthread_mutex_unlock(&q->lock);
		return errno == ENOENT ? 0 : -1;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		mc_error_errno(error_r, "run index %s", run);
		close(fd);
		pthread_mutex_unlock(&q->lock);
		return -1;
	}
	if (mc_read_fd(fd, QRUN_MAX_BYTES, &buf, &len, error_r) < 0) {
		close(fd);
		pthread_mutex_unlock(&q->lock);
		return -1;
	}
	run_index_parse((char *)buf, len, &ids, &count);
	free(buf);
	out = g_string_new(NULL);
	for (size_t i = 0; i < count; i++) {
		struct stat est;

		if (drop_id != NULL && strcmp(ids[i], drop_id) == 0)
			continue;
		if (fstatat(q->entries_fd, ids[i], &est, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		g_string_append(out, ids[i]);
		g_string_append_c(out, '\n');
		kept++;
	}
	if (kept == count && (off_t)out->len == st.st_size) {
		/* Nothing to change. */
	} else if (kept == 0) {
		if (unlinkat(q->runs_fd, run, 0) < 0 || mc_fsync_dir(q->runs_fd) < 0)
			ret = mc_error_errno(error_r, "remove run index %s", run);
	} else {
		/* Temporary names start with '.', which no run name does. */
		tmpname = mc_xasprintf(".%s.tmp", run);
		ret = replace_file(q->runs_fd, run, tmpname, out->str, out->len, error_r);
		free(tmpname);
	}
	g_string_free(out, TRUE);
	ids_free(ids, count);
	close(fd);
	pthread_mutex_unlock(&q->lock);
	return ret;
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

static void known_forget(struct mc_quarantine *q, const char *id)
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
static int meta_check(const struct mc_qentry *meta, const void *raw, size_t raw_size,
		      char **error_r)
{
	if (meta == NULL || meta->loc.kind == NULL)
		return mc_error_set(error_r, "quarantine: the message has no store kind");
	if (meta->run_id != NULL && !valid_name(meta->run_id))
		return mc_error_set(error_r, "quarantine: invalid run id '%s'", meta->run_id);
	if (raw == NULL && raw_size > 0)
		return mc_error_set(error_r, "quarantine: no message data");
	return 0;
}

/* Build a complete entry for RAW (SHA-256 WANT) and META in tmp/,
   where nobody else looks: message written, fsync'd, read back and
   compared; meta.json written and fsync'd; the directory fsync'd.
   Returns its id (malloc()ed), or NULL with *err_r. */
static char *entry_build(struct mc_quarantine *q, const struct mc_qentry *meta,
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
	jo = qentry_to_json(&rec);
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
	if (remove_entry_dir(q->tmp_fd, id, &err) < 0)
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
	if (meta_check(meta, raw, raw_size, error_r) < 0)
		return -1;
	sha256_hex(raw_size > 0 ? raw : "", raw_size, want);
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
	id = entry_build(q, meta, raw, raw_size, want, &err);
	if (id == NULL)
		goto fail;

	/* The run index names the entry before it exists: a crash in
	   between leaves an index line without an entry (readers skip
	   it), never an entry its run does not know of, which a resumed
	   run would quarantine a second time. */
	if (meta->run_id != NULL &&
	    run_index_append(q, meta->run_id, &id, 1, &err) < 0)
		goto fail_built;
	if (rename_noreplace(q->tmp_fd, id, q->entries_fd, id) < 0) {
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

		if (remove_entry_dir(q->tmp_fd, id, &rm_err) < 0)
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
	int fd = entry_open(q, id, error_r);

	if (fd < 0)
		return NULL;
	e = entry_load(fd, id, error_r);
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
	sha256_hex(buf, len, hex);
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
	fd = entry_open(q, entry->id, error_r);
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
static int list_dir(int dirfd, char ***names_r, size_t *count_r, char **error_r)
{
	char **names = NULL;
	size_t count = 0, cap = 0;
	struct dirent *de;
	DIR *dir = mc_dir_list(dirfd);

	if (dir == NULL)
		return mc_error_errno(error_r, "read directory");
	errno = 0;
	while ((de = readdir(dir)) != NULL) {
		if (valid_name(de->d_name))
			MC_ARRAY_PUSH(names, count, cap, mc_xstrdup(de->d_name));
		errno = 0;
	}
	if (errno != 0) {
		mc_error_errno(error_r, "read directory");
		closedir(dir);
		ids_free(names, count);
		return -1;
	}
	closedir(dir);
	ids_sort_unique(names, &count);
	*names_r = names;
	*count_r = count;
	return 0;
}

struct mc_quarantine_iter *mc_quarantine_iter_init(struct mc_quarantine *q)
{
	struct mc_quarantine_iter *it = mc_xcalloc(1, sizeof(*it));
	char *err = NULL;

	it->q = q;
	if (list_dir(q->entries_fd, &it->ids, &it->count, &err) < 0) {
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

	if (!valid_name(run_id)) {
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
	run_index_parse((char *)buf, len, &it->ids, &it->count);
	free(buf);
	/* Ids sort by time: this is the order of quarantine. */
	ids_sort_unique(it->ids, &it->count);
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
		e = entry_load(fd, id, error_r);
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
	ids_free(it->ids, it->count);
	free(it->run_filter);
	free(it->init_error);
	free(it);
}

/* ------------------------------------------------------------------ */
/* Staged entries                                                     */
/* ------------------------------------------------------------------ */

/* pending/GROUP, made when CREATE. Without CREATE, a group that does
   not exist is -1 with errno ENOENT. */
static int group_open(struct mc_quarantine *q, const char *group, bool create,
		      char **error_r)
{
	char *err = NULL;
	int fd;

	if (!valid_name(group))
		return mc_error_set(error_r, "'%s' is not a staging group", group);
	pthread_mutex_lock(&q->lock);
	if (q->pending_fd < 0) {
		if (!create && faccessat(q->root_fd, PENDING_DIR, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
			pthread_mutex_unlock(&q->lock);
			return mc_error_errno(error_r, "%s", PENDING_DIR);
		}
		q->pending_fd = open_subdir(q->root_fd, PENDING_DIR, create, &err);
		if (q->pending_fd < 0) {
			pthread_mutex_unlock(&q->lock);
			mc_error_set(error_r, "quarantine %s: %s", q->dir, err);
			free(err);
			return -1;
		}
	}
	pthread_mutex_unlock(&q->lock);
	if (create && mkdirat(q->pending_fd, group, 0700) == 0 &&
	    mc_fsync_dir(q->pending_fd) < 0)
		return mc_error_errno(error_r, "quarantine %s: fsync %s", q->dir, PENDING_DIR);
	if (!create && faccessat(q->pending_fd, group, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return mc_error_errno(error_r, "%s/%s", PENDING_DIR, group);
	fd = mc_safe_open_dir(q->pending_fd, group, NULL, &err);
	if (fd < 0) {
		mc_error_set(error_r, "quarantine %s: %s/%s", q->dir, PENDING_DIR, err);
		free(err);
	}
	return fd;
}

/* An existing group: -2 when there is none. */
static int staged_open(struct mc_quarantine *q, const char *group, char **error_r)
{
	char *err = NULL;
	int fd = group_open(q, group, false, &err);

	if (fd < 0 && errno == ENOENT) {
		free(err);
		return -2;
	}
	if (fd < 0) {
		mc_error_set(error_r, "%s", err);
		free(err);
	}
	return fd;
}

int mc_quarantine_stage(struct mc_quarantine *q, const char *group,
			const struct mc_qentry *meta, const void *raw, size_t raw_size,
			char **id_r, char **error_r)
{
	char want[65];
	char *id, *err = NULL;
	int gfd;

	*id_r = NULL;
	if (meta_check(meta, raw, raw_size, error_r) < 0)
		return -1;
	gfd = group_open(q, group, true, error_r);
	if (gfd < 0)
		return -1;
	sha256_hex(raw_size > 0 ? raw : "", raw_size, want);
	id = entry_build(q, meta, raw, raw_size, want, &err);
	if (id == NULL)
		goto fail;
	if (rename_noreplace(q->tmp_fd, id, gfd, id) < 0 || mc_fsync_dir(gfd) < 0) {
		mc_error_errno(&err, "rename into %s/%s", PENDING_DIR, group);
		/* Not staged: whatever is left in tmp/ or in the group is
		   discarded, by purge or by the next unstage. */
		free(id);
		goto fail;
	}
	close(gfd);
	*id_r = id;
	return 0;
fail:
	close(gfd);
	mc_error_set(error_r, "quarantine %s: %s", q->dir, err);
	free(err);
	return -1;
}

int mc_quarantine_commit(struct mc_quarantine *q, const char *group,
			 char *const *ids, size_t count, char **error_r)
{
	char **runs = NULL, **staged = NULL;
	size_t staged_count = 0, cap = 0;
	char *err = NULL;
	int gfd, ret = -1;

	gfd = staged_open(q, group, error_r);
	if (gfd < 0)
		return gfd == -2 ? 0 : -1;
	/* What is still staged (a commit interrupted before may have
	   moved some), with the run each belongs to. */
	runs = mc_xcalloc(count + 1, sizeof(*runs));
	for (size_t i = 0; i < count; i++) {
		struct mc_qentry *e;
		int edfd;

		if (!valid_name(ids[i]) ||
		    faccessat(gfd, ids[i], F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		edfd = mc_safe_open_dir(gfd, ids[i], NULL, &err);
		e = edfd >= 0 ? entry_load(edfd, ids[i], &err) : NULL;
		if (edfd >= 0)
			close(edfd);
		if (e == NULL) {
			mc_error_set(error_r, "quarantine %s: staged entry %s: %s", q->dir,
				     ids[i], err);
			goto out;
		}
		runs[staged_count] = e->run_id;
		e->run_id = NULL;
		mc_qentry_free(&e);
		MC_ARRAY_PUSH(staged, staged_count, cap, ids[i]);
	}
	/* As in put, the run index names the entries first: one append
	   per run. */
	for (size_t i = 0; i < staged_count; i++) {
		char **same = NULL;
		size_t n = 0, same_cap = 0;

		if (runs[i] == NULL)
			continue;
		for (size_t k = i; k < staged_count; k++) {
			if (runs[k] != NULL && strcmp(runs[k], runs[i]) == 0) {
				MC_ARRAY_PUSH(same, n, same_cap, staged[k]);
				if (k > i) {
					free(runs[k]);
					runs[k] = NULL;
				}
			}
		}
		if (run_index_append(q, runs[i], same, n, &err) < 0) {
			free(same);
			mc_error_set(error_r, "quarantine %s: %s", q->dir, err);
			goto out;
		}
		free(same);
	}
	for (size_t i = 0; i < staged_count; i++) {
		if (rename_noreplace(gfd, staged[i], q->entries_fd, staged[i]) < 0) {
			mc_error_errno(error_r, "quarantine %s: entry %s: rename into entries/",
				       q->dir, staged[i]);
			goto out;
		}
	}
	if (staged_count > 0 && (mc_fsync_dir(q->entries_fd) < 0 || mc_fsync_dir(gfd) < 0)) {
		mc_error_errno(error_r, "quarantine %s: fsync entries/", q->dir);
		goto out;
	}
	ret = 0;
out:
	for (size_t i = 0; i < staged_count; i++)
		free(runs[i]);
	free(runs);
	free(staged);
	free(err);
	close(gfd);
	return ret;
}

int mc_quarantine_unstage(struct mc_quarantine *q, const char *group, char **error_r)
{
	char **names = NULL;
	size_t count = 0;
	char *err = NULL;
	int gfd, ret = 0;

	gfd = staged_open(q, group, error_r);
	if (gfd < 0)
		return gfd == -2 ? 0 : -1;
	if (list_dir(gfd, &names, &count, &err) < 0) {
		mc_error_set(error_r, "quarantine %s: %s/%s: %s", q->dir, PENDING_DIR, group, err);
		free(err);
		close(gfd);
		return -1;
	}
	for (size_t i = 0; i < count && ret == 0; i++) {
		if (remove_entry_dir(gfd, names[i], &err) < 0) {
			mc_error_set(error_r, "quarantine %s: %s/%s: %s", q->dir, PENDING_DIR,
				     group, err);
			free(err);
			ret = -1;
		}
	}
	ids_free(names, count);
	close(gfd);
	/* The group goes with its last entry (a group that gained an
	   entry meanwhile is not empty and stays). */
	if (ret == 0 && unlinkat(q->pending_fd, group, AT_REMOVEDIR) == 0)
		mc_fsync_dir(q->pending_fd);
	return ret;
}

bool mc_quarantine_staged(struct mc_quarantine *q, const char *group)
{
	char *err = NULL;
	int gfd = group_open(q, group, false, &err);

	free(err);
	if (gfd < 0)
		return errno != ENOENT;
	close(gfd);
	return true;
}

int mc_quarantine_staged_list(struct mc_quarantine *q,
			      struct mc_quarantine_staged **list_r, size_t *count_r,
			      char **error_r)
{
	struct mc_quarantine_staged *list = NULL;
	char **groups = NULL;
	size_t count = 0, cap = 0, group_count = 0;
	char *err = NULL;
	int pfd;

	*list_r = NULL;
	*count_r = 0;
	if (faccessat(q->root_fd, PENDING_DIR, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	pfd = open_subdir(q->root_fd, PENDING_DIR, false, &err);
	if (pfd < 0 || list_dir(pfd, &groups, &group_count, &err) < 0) {
		mc_error_set(error_r, "quarantine %s: %s", q->dir, err);
		free(err);
		if (pfd >= 0)
			close(pfd);
		return -1;
	}
	for (size_t i = 0; i < group_count; i++) {
		struct mc_quarantine_staged st = { .group = groups[i] };
		char **ids = NULL;
		size_t n = 0;
		int gfd = mc_safe_open_dir(pfd, groups[i], NULL, &err);

		if (gfd >= 0 && list_dir(gfd, &ids, &n, &err) == 0 && n > 0) {
			int edfd = mc_safe_open_dir(gfd, ids[0], NULL, &err);
			struct mc_qentry *e = edfd >= 0 ? entry_load(edfd, ids[0], &err) : NULL;

			if (e != NULL) {
				st.kind = (char *)e->loc.kind;
				st.path = (char *)e->loc.path;
				st.run_id = e->run_id;
				e->loc.kind = e->loc.path = NULL;
				e->run_id = NULL;
				mc_qentry_free(&e);
			}
			if (edfd >= 0)
				close(edfd);
		}
		free(err);
		err = NULL;
		if (gfd >= 0)
			close(gfd);
		st.count = n;
		ids_free(ids, n);
		MC_ARRAY_PUSH(list, count, cap, st);
	}
	free(groups);
	close(pfd);
	*list_r = list;
	*count_r = count;
	return 0;
}

void mc_quarantine_staged_free(struct mc_quarantine_staged **listp, size_t count)
{
	struct mc_quarantine_staged *list = *listp;

	if (list == NULL)
		return;
	*listp = NULL;
	for (size_t i = 0; i < count; i++) {
		free(list[i].group);
		free(list[i].kind);
		free(list[i].path);
		free(list[i].run_id);
	}
	free(list);
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
	fd = entry_open(q, id, error_r);
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
	r->entry = entry_load(fd, id, error_r);
	if (r->entry == NULL)
		goto fail;
	if (r->entry->restored_at != 0) {
		format_time(r->entry->restored_at, when, sizeof(when));
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
		jo = qentry_to_json(r->entry);
		text = mc_xasprintf("%s\n", json_object_to_json_string_ext(jo,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(jo);
		if (replace_file(r->fd, ENTRY_META, ENTRY_META_TMP, text, strlen(text),
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

/* ------------------------------------------------------------------ */
/* Removal: discard and purge                                         */
/* ------------------------------------------------------------------ */

/* Take entry ID (locked by the caller through EDFD) out of entries/
   and delete it. The rename comes first so that the entry disappears
   in one step; a crash leaves only a leftover in tmp/. */
static int entry_delete(struct mc_quarantine *q, const char *id, char **error_r)
{
	char *gone = mc_xasprintf("%s.purge", id);
	char *err = NULL;

	if (renameat(q->entries_fd, id, q->tmp_fd, gone) < 0) {
		mc_error_errno(error_r, "entry %s: move out of entries/", id);
		free(gone);
		return -1;
	}
	if (mc_fsync_dir(q->entries_fd) < 0) {
		/* The rename is done; durability of the removal
		   is not worth failing over. */
	}
	if (remove_entry_dir(q->tmp_fd, gone, &err) < 0) {
		/* Out of entries/ already: purge finishes the job. */
		free(err);
	}
	free(gone);
	return 0;
}

int mc_quarantine_discard(struct mc_quarantine *q, const char *id,
			  char **error_r)
{
	struct mc_qentry *e;
	int fd;

	fd = entry_open(q, id, error_r);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX) < 0) {
		mc_error_errno(error_r, "entry %s: lock", id);
		close(fd);
		return -1;
	}
	e = entry_load(fd, id, NULL);
	if (entry_delete(q, id, error_r) < 0) {
		mc_qentry_free(&e);
		close(fd);
		return -1;
	}
	close(fd);
	known_forget(q, id);
	if (e != NULL && e->run_id != NULL && valid_name(e->run_id) &&
	    run_index_prune(q, e->run_id, id, error_r) < 0) {
		mc_qentry_free(&e);
		return -1;
	}
	mc_qentry_free(&e);
	return 0;
}

int mc_quarantine_purge(struct mc_quarantine *q, time_t before,
			bool dry_run, char **error_r)
{
	char **names = NULL;
	size_t count = 0;
	char *first_error = NULL, *err = NULL;
	unsigned failures = 0;
	int purged = 0;

	if (list_dir(q->entries_fd, &names, &count, &err) < 0) {
		mc_error_set(error_r, "quarantine %s: entries/: %s", q->dir, err);
		free(err);
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		const char *id = names[i];
		struct mc_qentry *e;
		time_t when;
		int fd;

		fd = mc_safe_open_dir(q->entries_fd, id, NULL, &err);
		if (fd < 0) {
			free(err);
			err = NULL;
			continue;
		}
		/* An entry being restored right now is left alone. */
		if (!dry_run && flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);
			continue;
		}
		e = entry_load(fd, id, NULL);
		/* An entry whose record is damaged is judged by the time
		   in its id, which is the same clock reading. */
		when = e != NULL && e->quarantined_at != 0 ? e->quarantined_at : name_time(id);
		mc_qentry_free(&e);
		if (when == (time_t)-1 || when >= before) {
			close(fd);
			continue;
		}
		if (dry_run) {
			purged++;
		} else if (entry_delete(q, id, &err) < 0) {
			failures++;
			if (first_error == NULL)
				first_error = err;
			else
				free(err);
			err = NULL;
		} else {
			purged++;
		}
		close(fd);
	}
	ids_free(names, count);
	if (dry_run)
		goto done;

	/* Run indexes: drop the lines of purged entries. */
	if (purged > 0 && list_dir(q->runs_fd, &names, &count, &err) == 0) {
		for (size_t i = 0; i < count; i++) {
			if (run_index_prune(q, names[i], NULL, &err) < 0) {
				failures++;
				if (first_error == NULL)
					first_error = err;
				else
					free(err);
				err = NULL;
			}
		}
		ids_free(names, count);
	}
	free(err);
	err = NULL;

	/* tmp/: entries whose put crashed, and deletions left half-done.
	   A staging directory younger than an hour may belong to a put
	   running right now, whatever BEFORE says. */
	if (before > time(NULL) - 3600)
		before = time(NULL) - 3600;
	if (list_dir(q->tmp_fd, &names, &count, &err) == 0) {
		for (size_t i = 0; i < count; i++) {
			size_t n = strlen(names[i]);
			bool half_deleted = n > 6 && strcmp(names[i] + n - 6, ".purge") == 0;
			time_t when = name_time(names[i]);

			if (!half_deleted && (when == (time_t)-1 || when >= before))
				continue;
			if (remove_entry_dir(q->tmp_fd, names[i], &err) < 0) {
				free(err);
				err = NULL;
			}
		}
		ids_free(names, count);
	}
	free(err);
done:
	if (failures > 0) {
		mc_error_set(error_r, "quarantine %s: %d entries purged, %u could not be: %s",
			     q->dir, purged, failures, first_error);
		free(first_error);
		return -1;
	}
	return purged;
}
