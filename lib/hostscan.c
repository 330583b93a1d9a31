/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	hostscan 3
/* SUMMARY
/*	file-level scan and disinfection of the server, in parallel
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	int mc_host_scan_run(const struct mc_host_scan *set,
/*		struct mc_summary *summary_r, char **error_r);
/* DESCRIPTION
/*	One walker thread lists the directories below each PATH and
/*	feeds a bounded queue of (verified parent directory, file name)
/*	pairs to set->jobs scanning threads, which share one compiled
/*	engine. Each scanning thread opens the file relative to its
/*	parent directory descriptor and scans the descriptor (large
/*	files are never read into memory for scanning; with scan
/*	processes the descriptor is what goes to one). The calling
/*	thread reports: it alone calls on_event, on_progress and
/*	on_skip. The walker is in hostscan_walk.c; what the two files
/*	share is in hostscan-private.h.
/*
/*	With set->query, each file the engine scanned is also compared
/*	with the file hashes of the query's --ioc indicators and with
/*	its --yara rules (hostscan_file.c); a file they name is
/*	reported and cleaned as an infected one, with the indicator or
/*	the rules among its reasons.
/*
/*	When cleaning, an infected file is copied from the very
/*	descriptor that was scanned into the quarantine together with
/*	its path, owner, group, mode, timestamps and extended attributes
/*	(see host.c for the record and the restore), and only then is
/*	its name removed, with unlinkat() relative to the verified
/*	parent directory, after checking that the name still refers to
/*	the inode that was scanned and copied.
/*
/*	Left out by default (set->default_excludes): /proc /sys /dev /run,
/*	and the mail stores that `mailbox clean` cleans per message:
/*	/var/mail, /var/spool/mail, /var/spool/postfix, /var/spool/exim*,
/*	/var/vmail, /home/<user>/Maildir, /home/<user>/mail, and any
/*	directory that is a Maildir (has cur/ and new/) or a
/*	Dovecot mailbox (has dovecot.index or dovecot.map.index). The
/*	quarantine directory is always left out, and so are pseudo file
/*	systems (proc, sysfs, cgroup, debugfs...) found anywhere,
/*	because reading some of their files blocks forever (/proc/kmsg).
/*	A PATH named by the administrator is scanned even when a default
/*	exclude would cover it.
/*
/*	An mbox file found elsewhere is scanned and reported like any
/*	file, but never quarantined whole: `host clean` refuses it and
/*	names the `mailbox clean` command that removes only the infected
/*	messages (an mbox holds a user's other mail too).
/* HARD LINKS
/*	A file with several hard links is scanned and, when infected,
/*	quarantined and unlinked by the name that was walked, like any
/*	file. Other names of the same inode inside the scanned trees are
/*	found and cleaned on their own; when names remain after the
/*	unlink (outside the scanned trees), the event says so, since the
/*	content is then still on disk. Restoring gives each name back as
/*	a file of its own (the link between them is not recreated).
/* SECURITY
/*	mailcure runs as root over trees that users can write to while
/*	it runs. A PATH is walked to from "/" by mc_safe_walk(), which
/*	refuses a symlink a user could have made on the way (an ERROR
/*	event naming it and its owner), and the scan starts from the
/*	directory that walk opened. Nothing below a PATH is opened by
/*	path: each directory
/*	is opened with mc_safe_open_dir() relative to its parent's
/*	descriptor (O_NOFOLLOW, fstat compared with lstat), each file
/*	with mc_safe_open_file() (O_NONBLOCK, so a FIFO swapped in for a
/*	file never blocks, and refused after fstat). A directory renamed
/*	and replaced by a symlink after it was opened is still reached
/*	through its descriptor, so neither scanning nor removing can be
/*	redirected outside the tree (ClamAV CVE-2020-3350). The content
/*	quarantined is read from the scanned descriptor, and a file that
/*	changed between the scan and the copy (size, mtime or ctime) is
/*	removed only when the copy itself still matches (the engine, the
/*	indicators or the rules).
/* DIAGNOSTICS
/*	A directory or file that cannot be read is an ERROR event; one
/*	that vanished, changed or was swapped for a symlink during the
/*	scan, one larger than max_filesize, or one that reached an
/*	engine limit (an archive member over the engine's max file size)
/*	or that the engine could not finish is an UNSCANNED event. None
/*	of these stops the walk.
/*--*/

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <glib.h>
#include <json-c/json.h>

#include "hostscan-private.h"

/* Stack of a scanning thread: libclamav recurses into archives. */
#define WORKER_STACK (16U << 20)
#define DEFAULT_MAX_DEPTH 1024
/* Queued files per scanning thread. */
#define QUEUE_PER_JOB 256

/* ------------------------------------------------------------------ */
/* Records                                                            */
/* ------------------------------------------------------------------ */

static void record_push(struct host_scan *hs, struct record *rec)
{
	pthread_mutex_lock(&hs->rec_lock);
	*hs->rec_tail = rec;
	hs->rec_tail = &rec->next;
	pthread_cond_signal(&hs->rec_cond);
	pthread_mutex_unlock(&hs->rec_lock);
}

static void record_free(struct record *rec)
{
	mc_match_clear(&rec->match);
	free(rec->path);
	free(rec->user);
	free(rec->why);
	free(rec->quarantine_id);
	free(rec);
}

char *mc_hostscan_join_path(const char *dir, const char *name)
{
	if (strcmp(dir, "/") == 0)
		return mc_xasprintf("/%s", name);
	return mc_xasprintf("%s/%s", dir, name);
}

/* The safe open helpers start their reasons with the name; the event
   already holds the full path. */
const char *mc_hostscan_strip_name(const char *error, const char *name)
{
	size_t len = strlen(name);

	if (strncmp(error, name, len) == 0 && error[len] == ':' && error[len + 1] == ' ')
		return error + len + 2;
	return error;
}

void mc_hostscan_report(struct host_scan *hs, enum mc_event_type type,
			const char *store, const char *path, const struct stat *st,
			const char *fmt, ...)
{
	struct record *rec = mc_xcalloc(1, sizeof(*rec));
	va_list ap;

	rec->type = REC_EVENT;
	rec->event_type = type;
	rec->path = mc_xstrdup(path);
	va_start(ap, fmt);
	if (vasprintf(&rec->why, fmt, ap) < 0)
		abort();
	va_end(ap);
	rec->msg.seq = atomic_fetch_add(&hs->seq, 1);
	rec->msg.loc.store = store;
	rec->msg.loc.kind = "host";
	rec->msg.loc.path = rec->path;
	rec->msg.loc.offset = -1;
	if (st != NULL) {
		rec->msg.loc.uid = st->st_uid;
		rec->msg.loc.gid = st->st_gid;
		rec->msg.loc.mode = st->st_mode;
		rec->msg.loc.mtime = st->st_mtime;
		rec->msg.size = (size_t)st->st_size;
	}
	if (type == MC_EVENT_UNSCANNED)
		atomic_fetch_add(&hs->unscanned, 1);
	else
		atomic_fetch_add(&hs->errors, 1);
	record_push(hs, rec);
}

void mc_hostscan_skip(struct host_scan *hs, const char *path, const char *why)
{
	struct record *rec;

	if (hs->set->on_skip == NULL)
		return;
	rec = mc_xcalloc(1, sizeof(*rec));
	rec->type = REC_SKIP;
	rec->path = mc_xstrdup(path);
	rec->why = mc_xstrdup(why);
	record_push(hs, rec);
}

/* ------------------------------------------------------------------ */
/* Directories and the queue                                          */
/* ------------------------------------------------------------------ */

/* Called with hs->lock held. */
static void dir_unref(struct host_scan *hs, struct dir *dir)
{
	if (--dir->refs > 0)
		return;
	close(dir->fd);
	free(dir->path);
	free(dir);
	hs->open_dirs--;
	if (hs->walker_waits_dirs)
		pthread_cond_signal(&hs->cond_space);
}

void mc_hostscan_dir_unref_locked(struct host_scan *hs, struct dir *dir)
{
	pthread_mutex_lock(&hs->lock);
	dir_unref(hs, dir);
	pthread_mutex_unlock(&hs->lock);
}

void mc_hostscan_enqueue(struct host_scan *hs, struct dir *dir, const char *name)
{
	pthread_mutex_lock(&hs->lock);
	while (hs->queue_len == hs->queue_cap) {
		hs->walker_waits_space = true;
		pthread_cond_wait(&hs->cond_space, &hs->lock);
		hs->walker_waits_space = false;
	}
	struct item *it = &hs->queue[(hs->queue_head + hs->queue_len) % hs->queue_cap];
	it->dir = dir;
	it->name = mc_xstrdup(name);
	dir->refs++;
	hs->queue_len++;
	pthread_cond_signal(&hs->cond_item);
	pthread_mutex_unlock(&hs->lock);
}

/* ------------------------------------------------------------------ */
/* Scanning one file                                                  */
/* ------------------------------------------------------------------ */

bool mc_hostscan_same_state(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
		a->st_size == b->st_size &&
		a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
		a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
		a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
		a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static const char *file_kind(mode_t mode)
{
	return S_ISLNK(mode) ? "a symbolic link" : S_ISDIR(mode) ? "a directory" :
		S_ISFIFO(mode) ? "a FIFO" : S_ISSOCK(mode) ? "a socket" :
		S_ISCHR(mode) || S_ISBLK(mode) ? "a device" : "not a regular file";
}

static char *owner_name(uid_t uid)
{
	char *name = mc_user_name(uid);

	return name != NULL ? name : mc_xasprintf("%lu", (unsigned long)uid);
}

/* Whether the file starts like an mbox: "From SENDER DATE". */
static bool looks_like_mbox(int fd)
{
	static const char *const days[] = {
		" Mon ", " Tue ", " Wed ", " Thu ", " Fri ", " Sat ", " Sun ",
	};
	char buf[1024];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char *nl;

	if (n < 6 || memcmp(buf, "From ", 5) != 0)
		return false;
	buf[n] = '\0';
	nl = memchr(buf, '\n', (size_t)n);
	if (nl == NULL)
		return false;
	*nl = '\0';
	for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
		if (strstr(buf + 4, days[i]) != NULL)
			return true;
	}
	return false;
}

/* Read all of a regular file from FD, which must still be SIZE bytes. */
int mc_hostscan_read_whole(int fd, size_t size, unsigned char **buf_r,
			   char **error_r)
{
	unsigned char *buf = mc_xmalloc(size + 1);
	ssize_t n = mc_pread_all(fd, buf, size, 0);
	char extra;

	if (n < 0) {
		free(buf);
		return mc_error_errno(error_r, "read");
	}
	if ((size_t)n < size) {
		free(buf);
		return mc_error_set(error_r, "shrank while being copied");
	}
	if (pread(fd, &extra, 1, (off_t)size) != 0) {
		free(buf);
		return mc_error_set(error_r, "grew while being copied");
	}
	*buf_r = buf;
	return 0;
}

/* The record that lets host.c restore the file exactly: timestamps
   with nanoseconds and extended attributes (base64 values). */
static char *extra_json(int fd, const struct stat *st, const char *root,
			char **error_r)
{
	json_object *obj = json_object_new_object();
	json_object *xattrs = json_object_new_array();
	char *names = NULL, *out;
	ssize_t len;

	json_object_object_add(obj, "root", json_object_new_string(root));
	json_object_object_add(obj, "atime_sec", json_object_new_int64(st->st_atim.tv_sec));
	json_object_object_add(obj, "atime_nsec", json_object_new_int64(st->st_atim.tv_nsec));
	json_object_object_add(obj, "mtime_sec", json_object_new_int64(st->st_mtim.tv_sec));
	json_object_object_add(obj, "mtime_nsec", json_object_new_int64(st->st_mtim.tv_nsec));
	json_object_object_add(obj, "ctime_sec", json_object_new_int64(st->st_ctim.tv_sec));
	json_object_object_add(obj, "nlink", json_object_new_int64((int64_t)st->st_nlink));
	json_object_object_add(obj, "dev", json_object_new_int64((int64_t)st->st_dev));
	json_object_object_add(obj, "ino", json_object_new_int64((int64_t)st->st_ino));

	/* The list can change between the two calls: retry on ERANGE. */
	for (int tries = 0; ; tries++) {
		len = flistxattr(fd, NULL, 0);
		if (len <= 0)
			break;
		names = mc_xrealloc(names, (size_t)len);
		len = flistxattr(fd, names, (size_t)len);
		if (len >= 0 || errno != ERANGE || tries > 5)
			break;
	}
	if (len < 0 && errno != ENOTSUP) {
		mc_error_errno(error_r, "cannot list extended attributes");
		goto fail;
	}
	for (ssize_t off = 0; len > 0 && off < len; off += (ssize_t)strlen(names + off) + 1) {
		const char *name = names + off;
		unsigned char *value = NULL;
		ssize_t vlen = -1;

		for (int tries = 0; tries < 5; tries++) {
			vlen = fgetxattr(fd, name, NULL, 0);
			if (vlen < 0)
				break;
			value = mc_xrealloc(value, (size_t)vlen + 1);
			vlen = fgetxattr(fd, name, value, (size_t)vlen);
			if (vlen >= 0 || errno != ERANGE)
				break;
		}
		if (vlen < 0) {
			free(value);
			if (errno == ENODATA)
				continue;	/* removed meanwhile */
			mc_error_errno(error_r, "cannot read extended attribute %s", name);
			goto fail;
		}
		json_object *x = json_object_new_object();
		gchar *b64name = g_base64_encode((const guchar *)name, strlen(name));
		gchar *b64 = g_base64_encode(value, (gsize)vlen);
		bool plain = true;

		for (const char *c = name; *c != '\0'; c++)
			plain &= *c > ' ' && *c < 127;
		if (plain)
			json_object_object_add(x, "name", json_object_new_string(name));
		else
			json_object_object_add(x, "name_b64", json_object_new_string(b64name));
		json_object_object_add(x, "value", json_object_new_string(b64));
		json_object_array_add(xattrs, x);
		g_free(b64name);
		g_free(b64);
		free(value);
	}
	json_object_object_add(obj, "xattrs", xattrs);
	xattrs = NULL;
	out = mc_xstrdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
							JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
	free(names);
	return out;
fail:
	if (xattrs != NULL)
		json_object_put(xattrs);
	json_object_put(obj);
	free(names);
	return NULL;
}

/* Quarantine the infected file open on FD (stat ST as scanned), then
   remove NAME from DIR if it still is that file. Called with
   act_lock held. Fills the record's action, quarantine id and why. */
static void act(struct host_scan *hs, struct dir *dir, const char *name, int fd,
		const struct stat *st, struct record *rec)
{
	const struct mc_host_scan *set = hs->set;
	unsigned char *buf = NULL;
	char *error = NULL, *extra = NULL, *id = NULL;
	struct stat copied, now;

	if (looks_like_mbox(fd)) {
		rec->action = "refused";
		rec->why = mc_xasprintf("an mbox file is never quarantined whole; "
			"remove its infected messages with: mailcure mailbox clean -s mbox:%s",
			rec->path);
		atomic_fetch_add(&hs->errors, 1);
		return;
	}
	if (set->dry_run) {
		rec->action = "would quarantine";
		return;
	}
	if (mc_hostscan_read_whole(fd, (size_t)st->st_size, &buf, &error) < 0)
		goto failed;
	if (fstat(fd, &copied) < 0) {
		mc_error_errno(&error, "fstat");
		goto failed;
	}
	if (!mc_hostscan_same_state(st, &copied)) {
		/* Something changed since the scan: a chmod, another hard
		   link removed, or the content. Only content that itself
		   matches is quarantined and removed. */
		if ((uint64_t)copied.st_size != (uint64_t)st->st_size ||
		    !mc_hostscan_buffer_matches(hs, buf, (size_t)st->st_size)) {
			mc_error_set(&error, "changed after it was scanned; not removed");
			goto failed;
		}
	}
	/* What restore puts back is the file as it was copied. */
	extra = extra_json(fd, &copied, dir->root->path, &error);
	if (extra == NULL)
		goto failed;

	struct mc_qentry meta;
	memset(&meta, 0, sizeof(meta));
	meta.run_id = (char *)set->run_id;
	meta.loc = rec->msg.loc;
	meta.loc.uid = copied.st_uid;
	meta.loc.gid = copied.st_gid;
	meta.loc.mode = copied.st_mode;
	meta.loc.mtime = copied.st_mtime;
	meta.reasons = rec->match.reasons;
	meta.reason_count = rec->match.reason_count;
	meta.extra_json = extra;
	if (mc_quarantine_put(set->quarantine, &meta, buf, (size_t)st->st_size,
			      &id, &error) < 0)
		goto failed;
	rec->quarantine_id = id;

	/* The name must still be the inode that was copied: in a
	   directory its owner can write to, it may have been renamed
	   away and replaced since. */
	if (fstatat(dir->fd, name, &now, AT_SYMLINK_NOFOLLOW) < 0) {
		mc_error_errno(&error, "quarantined, but its name could not be checked");
		goto failed;
	}
	if (!mc_same_file(&now, st)) {
		mc_error_set(&error, "quarantined, but its name now refers to another "
			     "file; nothing removed");
		goto failed;
	}
	if (unlinkat(dir->fd, name, 0) < 0) {
		mc_error_errno(&error, "quarantined, but could not be removed");
		goto failed;
	}
	(void)mc_fsync_dir(dir->fd);
	rec->action = "quarantined";
	atomic_fetch_add(&hs->acted, 1);
	if (fstat(fd, &now) == 0 && now.st_nlink > 0)
		rec->why = mc_xasprintf("the file has %lu other name(s) (hard links), "
			"cleaned only where the scan reaches them",
			(unsigned long)now.st_nlink);
	free(buf);
	free(extra);
	return;
failed:
	/* An entry whose original stays in place would let a later
	   restore bring back a second copy: drop it. */
	if (rec->quarantine_id != NULL) {
		char *derror = NULL;

		if (mc_quarantine_discard(set->quarantine, rec->quarantine_id,
					  &derror) < 0) {
			char *both = mc_xasprintf("%s (and the quarantine entry could not "
						  "be dropped: %s)", error, derror);
			free(error);
			error = both;
			free(derror);
		} else {
			free(rec->quarantine_id);
			rec->quarantine_id = NULL;
		}
	}
	rec->action = "failed";
	rec->why = error;
	atomic_fetch_add(&hs->errors, 1);
	free(buf);
	free(extra);
}

/* Open file IT (at PATH) for scanning, after checking that it is still
   a regular file within the size limit; *ST_R is what was opened. -1
   when it is not scanned (reported). */
static int scan_open(struct host_scan *hs, const struct item *it, const char *path,
		     struct stat *st_r)
{
	const char *store = it->dir->root->store;
	struct stat lst;
	char *error = NULL;
	int fd;

	if (fstatat(it->dir->fd, it->name, &lst, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			mc_hostscan_report(hs, MC_EVENT_UNSCANNED, store, path, NULL,
					   "vanished during the scan");
		else
			mc_hostscan_report(hs, MC_EVENT_ERROR, store, path, NULL, "%s", strerror(errno));
		return -1;
	}
	if (!S_ISREG(lst.st_mode)) {
		mc_hostscan_report(hs, MC_EVENT_UNSCANNED, store, path, &lst,
				   "replaced by %s during the scan; not opened", file_kind(lst.st_mode));
		return -1;
	}
	if ((uint64_t)lst.st_size > hs->max_filesize) {
		mc_hostscan_report(hs, MC_EVENT_UNSCANNED, store, path, &lst,
				   "larger than the maximum file size (%llu bytes); not scanned",
				   (unsigned long long)hs->max_filesize);
		return -1;
	}
	fd = mc_safe_open_file(it->dir->fd, it->name, false, st_r, &error);
	if (fd < 0) {
		mc_hostscan_report(hs, errno == ENOENT ? MC_EVENT_UNSCANNED : MC_EVENT_ERROR,
				   store, path, &lst, "%s", errno == ENOENT ?
				   "vanished during the scan" : mc_hostscan_strip_name(error, it->name));
		free(error);
		return -1;
	}
	/* Scanning must not change what it reports (atime), and a
	   forensic look later wants the atime of the attack. Only root
	   or the owner may set it; elsewhere this quietly fails. */
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NOATIME);
	if ((uint64_t)st_r->st_size > hs->max_filesize) {
		mc_hostscan_report(hs, MC_EVENT_UNSCANNED, store, path, st_r,
				   "larger than the maximum file size (%llu bytes); not scanned",
				   (unsigned long long)hs->max_filesize);
		close(fd);
		return -1;
	}
	return fd;
}

/* Scan FD (PATH, as *ST) into VERDICT_R. A file written to while it
   is scanned (a log) is scanned again; a second change makes it
   unscanned, never clean. *ST is the state last scanned. */
static void scan_stable(struct host_scan *hs, int fd, const char *path,
			struct stat *st, struct mc_verdict *verdict_r)
{
	const struct mc_host_scan *set = hs->set;
	struct stat after;

	for (int attempt = 0; ; attempt++) {
		if (st->st_size == 0) {
			verdict_r->kind = MC_VERDICT_CLEAN;
			verdict_r->name[0] = '\0';
		} else {
			set->engine_ops->scan_fd(set->engine, fd, path, verdict_r);
		}
		if (fstat(fd, &after) < 0)
			after = *st;
		if (mc_hostscan_same_state(st, &after) || verdict_r->kind == MC_VERDICT_INFECTED)
			break;
		if (attempt == 1) {
			verdict_r->kind = MC_VERDICT_UNSCANNED;
			snprintf(verdict_r->name, sizeof(verdict_r->name),
				 "changed while being scanned");
			break;
		}
		*st = after;
		if ((uint64_t)st->st_size > hs->max_filesize) {
			verdict_r->kind = MC_VERDICT_UNSCANNED;
			snprintf(verdict_r->name, sizeof(verdict_r->name),
				 "grew beyond the maximum file size while being scanned");
			break;
		}
	}
}

/* File IT (FD, as ST) is infected or named by an indicator or rule
   (EXTRA's reasons, taken): record the match, and quarantine it when
   acting. Takes PATH. */
static void scan_matched(struct host_scan *hs, const struct item *it, int fd,
			 const struct stat *st, char *path,
			 const struct mc_verdict *verdict, struct mc_match *extra)
{
	struct record *rec = mc_xcalloc(1, sizeof(*rec));

	rec->type = REC_EVENT;
	rec->event_type = MC_EVENT_MATCH;
	rec->path = path;
	rec->user = owner_name(st->st_uid);
	rec->msg.seq = atomic_fetch_add(&hs->seq, 1);
	rec->msg.loc.store = it->dir->root->store;
	rec->msg.loc.kind = "host";
	rec->msg.loc.user = rec->user;
	rec->msg.loc.path = rec->path;
	rec->msg.loc.offset = -1;
	rec->msg.loc.uid = st->st_uid;
	rec->msg.loc.gid = st->st_gid;
	rec->msg.loc.mode = st->st_mode;
	rec->msg.loc.mtime = st->st_mtime;
	rec->msg.size = (size_t)st->st_size;
	rec->match.matched = true;
	rec->match.engine_ran = true;
	rec->match.verdict = *verdict;
	rec->match.reasons = mc_xcalloc(extra->reason_count + 1, sizeof(struct mc_reason));
	if (verdict->kind == MC_VERDICT_INFECTED) {
		rec->match.reasons[0].kind = MC_REASON_VIRUS;
		rec->match.reasons[0].value = mc_xstrdup(verdict->name);
		rec->match.reason_count = 1;
	}
	for (size_t i = 0; i < extra->reason_count; i++)
		rec->match.reasons[rec->match.reason_count++] = extra->reasons[i];
	free(extra->reasons);
	extra->reasons = NULL;
	extra->reason_count = 0;
	atomic_fetch_add(&hs->matched, 1);
	if (hs->set->action == MC_ACTION_QUARANTINE) {
		pthread_mutex_lock(&hs->act_lock);
		act(hs, it->dir, it->name, fd, st, rec);
		pthread_mutex_unlock(&hs->act_lock);
	}
	record_push(hs, rec);
}

static void scan_item(struct host_scan *hs, struct item *it)
{
	const char *store = it->dir->root->store;
	char *path = mc_hostscan_join_path(it->dir->path, it->name);
	struct mc_verdict verdict;
	struct mc_match extra;
	struct stat st;
	int fd;

	fd = scan_open(hs, it, path, &st);
	if (fd < 0) {
		free(path);
		return;
	}
	scan_stable(hs, fd, path, &st, &verdict);
	memset(&extra, 0, sizeof(extra));
	if (hs->set->query != NULL &&
	    (verdict.kind == MC_VERDICT_CLEAN || verdict.kind == MC_VERDICT_INFECTED))
		mc_hostscan_file_match(hs, fd, &st, &extra);
	if (verdict.kind == MC_VERDICT_CLEAN && extra.reason_count == 0 &&
	    extra.problem != MC_VERDICT_CLEAN) {
		verdict.kind = MC_VERDICT_UNSCANNED;
		snprintf(verdict.name, sizeof(verdict.name), "%s", extra.why);
	}
	/* Every file counts once, as with messages: scanned (matched,
	   clean or unscanned) or an error. */
	if (verdict.kind != MC_VERDICT_ERROR)
		atomic_fetch_add(&hs->scanned, 1);
	atomic_fetch_add(&hs->bytes, (uint64_t)st.st_size);

	switch (verdict.kind) {
	case MC_VERDICT_CLEAN:
		if (extra.reason_count == 0)
			break;
		scan_matched(hs, it, fd, &st, path, &verdict, &extra);
		path = NULL;
		break;
	case MC_VERDICT_UNSCANNED:
		mc_hostscan_report(hs, MC_EVENT_UNSCANNED, store, path, &st, "%s", verdict.name);
		break;
	case MC_VERDICT_ERROR:
		mc_hostscan_report(hs, MC_EVENT_ERROR, store, path, &st, "%s", verdict.name);
		break;
	case MC_VERDICT_INFECTED:
		scan_matched(hs, it, fd, &st, path, &verdict, &extra);
		path = NULL;
		break;
	}
	mc_match_clear(&extra);
	close(fd);
	free(path);
}

static void *worker_main(void *context)
{
	struct host_scan *hs = context;
	struct item it = { NULL, NULL };

	pthread_mutex_lock(&hs->lock);
	for (;;) {
		if (it.dir != NULL) {
			dir_unref(hs, it.dir);
			free(it.name);
			it.dir = NULL;
			hs->busy--;
			if (hs->walker_waits_dirs && hs->busy == 0)
				pthread_cond_signal(&hs->cond_space);
		}
		while (hs->queue_len == 0 && !hs->walk_done)
			pthread_cond_wait(&hs->cond_item, &hs->lock);
		if (hs->queue_len == 0)
			break;
		it = hs->queue[hs->queue_head];
		hs->queue_head = (hs->queue_head + 1) % hs->queue_cap;
		hs->queue_len--;
		hs->busy++;
		if (hs->walker_waits_space && hs->queue_len <= hs->queue_cap / 2)
			pthread_cond_signal(&hs->cond_space);
		pthread_mutex_unlock(&hs->lock);
		scan_item(hs, &it);
		pthread_mutex_lock(&hs->lock);
	}
	pthread_mutex_unlock(&hs->lock);

	/* The walker is done and so is every queued file: the last
	   thread out tells the reporting thread. */
	pthread_mutex_lock(&hs->rec_lock);
	if (--hs->workers_alive == 0) {
		hs->workers_done = true;
		pthread_cond_signal(&hs->rec_cond);
	}
	pthread_mutex_unlock(&hs->rec_lock);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The run                                                            */
/* ------------------------------------------------------------------ */

static void deliver(struct host_scan *hs, struct record *rec)
{
	const struct mc_host_scan *set = hs->set;

	if (rec->type == REC_SKIP) {
		if (set->on_skip != NULL)
			set->on_skip(rec->path, rec->why, set->context);
		return;
	}
	if (set->on_event == NULL)
		return;
	struct mc_event ev = {
		.type = rec->event_type,
		.msg = &rec->msg,
		.match = rec->event_type == MC_EVENT_MATCH ? &rec->match : NULL,
		.action = rec->action,
		.quarantine_id = rec->quarantine_id,
		.why = rec->why,
	};
	set->on_event(&ev, set->context);
}

static void progress(struct host_scan *hs, double start)
{
	struct mc_progress pr;

	if (hs->set->on_progress == NULL)
		return;
	memset(&pr, 0, sizeof(pr));
	pr.messages = atomic_load(&hs->scanned);
	pr.bytes = atomic_load(&hs->bytes);
	pr.matched = atomic_load(&hs->matched);
	pr.seconds = mc_now() - start;
	hs->set->on_progress(&pr, hs->set->context);
}

/* Report from the calling thread until the scanning threads are done
   and every record is delivered. */
static void report_loop(struct host_scan *hs, double start)
{
	double last = mc_now();

	pthread_mutex_lock(&hs->rec_lock);
	for (;;) {
		struct record *list = hs->rec_head;
		bool done = hs->workers_done;

		hs->rec_head = NULL;
		hs->rec_tail = &hs->rec_head;
		pthread_mutex_unlock(&hs->rec_lock);
		while (list != NULL) {
			struct record *next = list->next;
			deliver(hs, list);
			record_free(list);
			list = next;
		}
		if (mc_now() - last >= 0.1) {
			last = mc_now();
			progress(hs, start);
		}
		pthread_mutex_lock(&hs->rec_lock);
		if (done && hs->rec_head == NULL)
			break;
		if (hs->rec_head == NULL && !hs->workers_done) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&hs->rec_cond, &hs->rec_lock, &ts);
		}
	}
	pthread_mutex_unlock(&hs->rec_lock);
}

/* Walk to each PATH from "/" (mc_safe_walk): the administrator chose
   it, so a symlink in it that only root could have made is followed,
   once, here; one that a user could have planted is refused. The
   walk keeps the directory it got to open, and the scan starts from
   there, not from the path again. */
static void resolve_roots(struct host_scan *hs)
{
	const struct mc_host_scan *set = hs->set;

	hs->root_count = set->path_count;
	hs->roots = mc_xcalloc(set->path_count ? set->path_count : 1, sizeof(*hs->roots));
	for (size_t i = 0; i < set->path_count; i++) {
		struct root *root = &hs->roots[i];
		char *canon, *error = NULL;

		if (mc_safe_walk(set->paths[i], &root->where, &error) < 0) {
			root->store = mc_xasprintf("host:%s", set->paths[i]);
			mc_hostscan_report(hs, MC_EVENT_ERROR, root->store, set->paths[i], NULL,
					   "%s", mc_hostscan_strip_name(error, set->paths[i]));
			free(error);
			continue;
		}
		canon = mc_xstrdup(root->where.abs);
		root->store = mc_xasprintf("host:%s", canon);
		if (hs->quarantine_path != NULL) {
			size_t ql = strlen(hs->quarantine_path);
			if (strncmp(canon, hs->quarantine_path, ql) == 0 &&
			    (canon[ql] == '/' || canon[ql] == '\0')) {
				mc_hostscan_report(hs, MC_EVENT_ERROR, root->store, canon, NULL,
						   "inside the quarantine; not scanned");
				free(canon);
				continue;
			}
		}
		root->path = canon;
		root->dev = root->where.st.st_dev;
	}
}

static unsigned open_dir_budget(unsigned jobs)
{
	struct rlimit rl;
	rlim_t avail;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return 4096;
	/* libclamav opens temporary files while unpacking; leave each
	   scanning thread room for nested archives. */
	avail = rl.rlim_cur > 64 + 32 * (rlim_t)jobs ? rl.rlim_cur - 64 - 32 * (rlim_t)jobs : 16;
	if (avail < 16)
		avail = 16;
	return avail > 65536 ? 65536 : (unsigned)avail;
}

int mc_host_scan_run(const struct mc_host_scan *set, struct mc_summary *summary_r,
		     char **error_r)
{
	struct host_scan hs;
	pthread_t walker, *workers;
	pthread_attr_t attr;
	unsigned jobs = set->jobs > 0 ? set->jobs : 1;
	unsigned started = 0;
	bool walker_started = false;
	double start = mc_now();
	int ret = 0;

	memset(summary_r, 0, sizeof(*summary_r));
	if (set->engine_ops == NULL || set->engine == NULL)
		return mc_error_set(error_r, "host scan: no detection engine");
	if (set->action == MC_ACTION_QUARANTINE && !set->dry_run &&
	    set->quarantine == NULL)
		return mc_error_set(error_r, "host clean: no quarantine");
	if (set->path_count == 0)
		return mc_error_set(error_r, "host scan: no path to scan");

	memset(&hs, 0, sizeof(hs));
	hs.set = set;
	if (set->query != NULL) {
		hs.file_hashes = mc_query_file_hashes(set->query);
		hs.file_data = mc_query_file_needs_data(set->query);
	}
	hs.max_filesize = set->max_filesize > 0 ? set->max_filesize :
		set->limits != NULL ? set->limits->max_file_size : (100ULL << 20);
	hs.max_depth = set->max_depth > 0 ? set->max_depth : DEFAULT_MAX_DEPTH;
	hs.max_open_dirs = open_dir_budget(jobs);
	/* Deeper than the descriptor budget cannot be walked from
	   descriptors; it is reported rather than exhausting them. */
	if (hs.max_depth > hs.max_open_dirs - 8) {
		hs.max_depth = hs.max_open_dirs > 16 ? hs.max_open_dirs - 8 : 8;
		hs.depth_from_fd_limit = true;
	}
	hs.queue_cap = (size_t)QUEUE_PER_JOB * jobs;
	hs.queue = mc_xcalloc(hs.queue_cap, sizeof(*hs.queue));
	hs.rec_tail = &hs.rec_head;
	pthread_mutex_init(&hs.lock, NULL);
	pthread_cond_init(&hs.cond_item, NULL);
	pthread_cond_init(&hs.cond_space, NULL);
	pthread_mutex_init(&hs.rec_lock, NULL);
	pthread_cond_init(&hs.rec_cond, NULL);
	pthread_mutex_init(&hs.act_lock, NULL);

	if (set->quarantine_dir != NULL) {
		hs.have_quarantine = stat(set->quarantine_dir, &hs.quarantine_st) == 0;
		hs.quarantine_path = realpath(set->quarantine_dir, NULL);
	}
	if (set->quarantine != NULL && !hs.have_quarantine) {
		const char *qdir = mc_quarantine_dir(set->quarantine);
		if (qdir != NULL) {
			hs.have_quarantine = stat(qdir, &hs.quarantine_st) == 0;
			free(hs.quarantine_path);
			hs.quarantine_path = realpath(qdir, NULL);
		}
	}
	resolve_roots(&hs);

	workers = mc_xcalloc(jobs, sizeof(*workers));
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	for (; started < jobs; started++) {
		if (pthread_create(&workers[started], &attr, worker_main, &hs) != 0)
			break;
	}
	pthread_attr_destroy(&attr);
	hs.workers_alive = started;
	if (started == 0) {
		hs.workers_done = true;
		ret = mc_error_set(error_r, "host scan: cannot start scanning threads");
	} else if (pthread_create(&walker, NULL, mc_hostscan_walker_main, &hs) != 0) {
		/* Let the scanning threads see the end and leave. */
		pthread_mutex_lock(&hs.lock);
		hs.walk_done = true;
		pthread_cond_broadcast(&hs.cond_item);
		pthread_mutex_unlock(&hs.lock);
		ret = mc_error_set(error_r, "host scan: cannot start the walker thread");
	} else {
		walker_started = true;
	}
	report_loop(&hs, start);
	if (walker_started)
		pthread_join(walker, NULL);
	for (unsigned i = 0; i < started; i++)
		pthread_join(workers[i], NULL);
	free(workers);

	snprintf(summary_r->run_id, sizeof(summary_r->run_id), "%s",
		 set->run_id != NULL ? set->run_id : "");
	summary_r->scanned = atomic_load(&hs.scanned);
	summary_r->matched = atomic_load(&hs.matched);
	summary_r->acted = atomic_load(&hs.acted);
	summary_r->unscanned = atomic_load(&hs.unscanned);
	summary_r->errors = atomic_load(&hs.errors);
	summary_r->bytes = atomic_load(&hs.bytes);
	summary_r->seconds = mc_now() - start;

	for (size_t i = 0; i < hs.root_count; i++) {
		free(hs.roots[i].path);
		free(hs.roots[i].store);
		mc_safe_path_deinit(&hs.roots[i].where);
	}
	free(hs.roots);
	free(hs.queue);
	free(hs.quarantine_path);
	pthread_mutex_destroy(&hs.lock);
	pthread_cond_destroy(&hs.cond_item);
	pthread_cond_destroy(&hs.cond_space);
	pthread_mutex_destroy(&hs.rec_lock);
	pthread_cond_destroy(&hs.rec_cond);
	pthread_mutex_destroy(&hs.act_lock);
	return ret;
}

