/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	store 3
/* SUMMARY
/*	mail store lookup, auto-detection, and what the stores share
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	const struct mc_store_ops *mc_store_lookup(const char *kind);
/*
/*	int mc_store_open(const char *uri,
/*		const struct mc_store_settings *set,
/*		struct mc_store **store_r, char **error_r);
/*
/*	int mc_store_next(struct mc_store *store, struct mc_msg **msg_r,
/*		char **error_r);
/*
/*	void mc_store_remove(struct mc_store *store,
/*		struct mc_quarantine *q, const char *run_id,
/*		struct mc_removal *removals, size_t count);
/*
/*	void mc_store_close(struct mc_store **store);
/* DESCRIPTION
/*	mc_store_lookup() finds a store's operations by URI scheme or
/*	quarantine kind ("maildir", "mbox", "eml", "tree", ...).
/*
/*	mc_store_open() opens "KIND:PATH" with that store, or a bare
/*	PATH by looking at it: a directory with cur/ and new/ is a
/*	Maildir, a file starting with "From " (or an empty file) an
/*	mbox, a file starting with a header field an RFC 5322 message,
/*	a directory holding only .eml files a directory of messages,
/*	and any other directory a tree of mailboxes (/var/mail,
/*	/home, /var/vmail) walked by the tree store.
/*
/*	An open store knows its ops: mc_store_next(), mc_store_remove(),
/*	mc_store_close() and the other mc_store_*() calls dispatch to
/*	them, so that a caller holds only the store.
/*
/*	The rest of this file is shared by the store implementations:
/*	the reference-counted base object, message allocation and
/*	reading, quarantine-then-unlink of single-file messages,
/*	mailbox owner names, and trusted opens for restore.
/*
/*	Mailbox owners (loc.user) are derived from the path where the
/*	layout says who owns it: /var/mail/alice and /var/spool/mail/alice
/*	are alice's; /home/alice/Maildir and /home/alice/mail/Sent are
/*	alice's; /var/vmail/example.com/alice[/Maildir] is
/*	alice@example.com. A single Maildir or mbox given explicitly is
/*	its file owner's (getpwuid), unless it sits in a DOMAIN/USER
/*	layout (where one virtual uid owns every mailbox) or is owned by
/*	root (root reads its mail through an alias; a root-owned mailbox
/*	is one an administrator made): then the path says whose it is.
/*
/*	A store opened with heads_first reads a file larger than 16 kB
/*	only up to the end of its header block, keeps the file open, and
/*	reads the rest when the message is loaded (mc_store_file_load);
/*	past 256 files kept open at once, files are read whole again.
/*
/*	Messages larger than limits->max_message_size are yielded
/*	without being read: raw and data are NULL and size is the size
/*	of the message, which the pipeline reports as unscanned (never
/*	clean, never acted on). This keeps a planted multi-gigabyte file
/*	from exhausting memory.
/*
/*	A bare PATH is walked from "/" (mc_safe_walk) before anything
/*	looks at it, and detection looks at where the walk got to,
/*	never through a symlink.
/* SECURITY
/*	The store root itself is walked from "/" one component at a
/*	time (mc_safe_walk, mc_open_dir_path): a symlink that a user
/*	could have made or replaced (~/Maildir -> someone else's mail)
/*	is refused, in every store's open() and in detection alike;
/*	stores keep the descriptors that walk opened and act relative
/*	to them. Everything below a store root is opened one component
/*	at a time with mc_safe_open_dir()/mc_safe_open_file(). A file is
/*	removed only after quarantine, and only when the name still
/*	refers to the inode that was read, that inode has one link, and
/*	it still holds the bytes that were read (inode numbers are
/*	reused).
/*	Restores write as root into users' directories: paths are
/*	walked the same way, files are created with O_EXCL|O_NOFOLLOW,
/*	and get the recorded owner and mode.
/*--*/

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store-private.h"

/* Every store, by URI scheme. */
static const struct mc_store_ops *const store_table[] = {
	&mc_store_maildir,
	&mc_store_mbox,
	&mc_store_eml,
	&mc_store_tree,
	&mc_store_postfix,	/* postfix:[CONFIG_DIR], the Postfix queue */
	&mc_store_exim,		/* exim:[CONFIG_FILE], the Exim queue */
	&mc_store_host,	/* restore only: host files from `mailcure host clean` */
	&mc_store_dovecot,	/* dovecot:USERMASK, through doveadm */
};

/* What a bare path may be, in the order it is tried. */
static const struct mc_store_ops *const detect_order[] = {
	&mc_store_maildir,
	&mc_store_mbox,
	&mc_store_eml,
	&mc_store_tree,
};

const struct mc_store_ops *mc_store_lookup(const char *kind)
{
	if (kind == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(store_table) / sizeof(store_table[0]); i++) {
		if (strcmp(store_table[i]->name, kind) == 0)
			return store_table[i];
	}
	return NULL;
}

static bool is_scheme(const char *s, size_t len)
{
	if (len == 0 || len > 32)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) &&
		    s[i] != '-' && s[i] != '_')
			return false;
	}
	return true;
}

int mc_store_open(const char *uri, const struct mc_store_settings *set,
		  struct mc_store **store_r, char **error_r)
{
	const char *colon = strchr(uri, ':');
	struct mc_safe_path where;

	*store_r = NULL;
	if (colon != NULL && is_scheme(uri, (size_t)(colon - uri))) {
		char *scheme = mc_xstrndup(uri, (size_t)(colon - uri));
		const struct mc_store_ops *ops = mc_store_lookup(scheme);

		if (ops != NULL) {
			free(scheme);
			return ops->open(uri, colon + 1, set, store_r, error_r);
		}
		/* "x:y" may also be a plain file name. */
		if (mc_safe_walk(uri, &where, NULL) < 0) {
			mc_error_set(error_r, "%s: unknown store kind '%s' "
				     "(maildir:, mbox:, eml: or a path)", uri, scheme);
			free(scheme);
			return -1;
		}
		free(scheme);
	} else if (mc_safe_walk(uri, &where, error_r) < 0)
		return -1;
	/* Looked at where the walk got to, never through a symlink; the
	   store's open walks again and refuses what changed meanwhile. */
	for (size_t i = 0; i < sizeof(detect_order) / sizeof(detect_order[0]); i++) {
		const struct mc_store_ops *ops = detect_order[i];

		if (ops->detect != NULL && ops->detect(where.dirfd, where.name)) {
			mc_safe_path_deinit(&where);
			return ops->open(uri, uri, set, store_r, error_r);
		}
	}
	mc_safe_path_deinit(&where);
	return mc_error_set(error_r, "%s: not a mail store (neither a Maildir, an mbox, "
			    "a mail file nor a directory of mailboxes)", uri);
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                           */
/* ------------------------------------------------------------------ */

const char *mc_store_kind(const struct mc_store *store)
{
	return store->ops->name;
}

int mc_store_next(struct mc_store *store, struct mc_msg **msg_r, char **error_r)
{
	return store->ops->next(store, msg_r, error_r);
}

bool mc_store_container_last(struct mc_store *store, const struct mc_msg *msg)
{
	return store->ops->container_last(store, msg);
}

void mc_store_remove(struct mc_store *store, struct mc_quarantine *q,
		     const char *run_id, struct mc_removal *removals, size_t count)
{
	store->ops->remove(store, q, run_id, removals, count);
}

void mc_store_msg_free(struct mc_store *store, struct mc_msg **msg)
{
	store->ops->msg_free(store, msg);
}

int mc_store_load(struct mc_store *store, struct mc_msg *msg)
{
	return store->ops->load != NULL ? store->ops->load(store, msg) : 0;
}

void mc_store_drop(struct mc_store *store, struct mc_msg *msg)
{
	if (store->ops->drop != NULL)
		store->ops->drop(store, msg);
}

void mc_store_close(struct mc_store **store)
{
	if (*store != NULL)
		(*store)->ops->close(store);
}

/* ------------------------------------------------------------------ */
/* Base object and messages                                           */
/* ------------------------------------------------------------------ */

void mc_store_base_init(struct mc_store *store, const struct mc_store_ops *ops,
			const char *uri, const struct mc_store_settings *set,
			void (*destroy)(struct mc_store *store))
{
	store->ops = ops;
	store->uri = mc_xstrdup(uri);
	if (set != NULL && set->limits != NULL)
		store->limits = *set->limits;
	else
		mc_limits_default(&store->limits);
	store->dry_run = set != NULL && set->dry_run;
	store->heads_first = set != NULL && set->heads_first;
	store->loads_without_raw = set != NULL && set->loads_without_raw;
	store->refs = 1;
	store->destroy = destroy;
}

void mc_store_ref(struct mc_store *store)
{
	__atomic_add_fetch(&store->refs, 1, __ATOMIC_RELAXED);
}

void mc_store_unref(struct mc_store *store)
{
	if (__atomic_sub_fetch(&store->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	if (store->destroy != NULL)
		store->destroy(store);
	free(store->uri);
	free(store);
}

struct mc_store_msg *mc_store_msg_new(struct mc_store *store, const char *kind)
{
	struct mc_store_msg *m = mc_xcalloc(1, sizeof(*m));

	mc_store_msg_init(store, m, kind);
	return m;
}

void mc_store_msg_init(struct mc_store *store, struct mc_store_msg *m,
		       const char *kind)
{
	mc_store_ref(store);
	m->msg.store_priv = store;
	m->msg.loc.store = store->uri;
	m->msg.loc.kind = kind;
	m->msg.loc.offset = -1;
	m->msg.loc.uid = (uid_t)-1;
	m->msg.loc.gid = (gid_t)-1;
	m->container_last = true;
	/* No file held open: a zero here would be closed as fd 0. */
	m->fd = -1;
}

/* Files that messages keep open to be read later (heads first). A
   store reads ahead of the workers; with many workers that could be
   more descriptors than the process may have, so past this many a
   message is read whole at once instead. */
#define HELD_FDS_MAX 256
static unsigned held_fds;

static void held_fd_close(struct mc_store_msg *m)
{
	if (m->fd >= 0) {
		close(m->fd);
		m->fd = -1;
		__atomic_sub_fetch(&held_fds, 1, __ATOMIC_RELAXED);
	}
}

void mc_store_msg_free_op(struct mc_store *store, struct mc_msg **msgp)
{
	struct mc_store_msg *m = (struct mc_store_msg *)*msgp;
	struct mc_store *owner;

	if (m == NULL)
		return;
	*msgp = NULL;
	owner = m->msg.store_priv;
	held_fd_close(m);
	free(m->headbuf);
	free(m->buf);
	free(m->databuf);
	free(m->path);
	free(m->dir_rel);
	free(m->name);
	free(m->flags);
	free(m->read_error);
	free(m);
	mc_store_unref(owner != NULL ? owner : store);
}

void mc_store_close_op(struct mc_store **storep)
{
	struct mc_store *store = *storep;

	if (store == NULL)
		return;
	*storep = NULL;
	mc_store_unref(store);
}

bool mc_store_container_last_op(struct mc_store *store, const struct mc_msg *msg)
{
	return ((const struct mc_store_msg *)msg)->container_last;
}

int mc_store_load_op(struct mc_store *store, struct mc_msg *msg)
{
	struct mc_store_msg *m = (struct mc_store_msg *)msg;
	struct mc_store *owner = mc_store_of(msg);

	if (msg->read_error != NULL)
		return -1;
	if (msg->data != NULL)
		return 0;
	if (!m->lazy || owner == NULL || owner->load == NULL) {
		mc_store_msg_error(m, "%s: message was not read", msg->loc.path);
		return -1;
	}
	if (owner->load(owner, m) < 0) {
		free(m->buf);
		free(m->databuf);
		m->buf = m->databuf = NULL;
		msg->raw = msg->data = NULL;
		return -1;
	}
	return 0;
}

void mc_store_drop_op(struct mc_store *store, struct mc_msg *msg)
{
	struct mc_store_msg *m = (struct mc_store_msg *)msg;

	(void)store;
	/* What waits to be reported is its place: the pipeline may hold
	   thousands of such messages, so neither bytes nor a file. */
	held_fd_close(m);
	free(m->buf);
	free(m->databuf);
	free(m->headbuf);
	m->buf = m->databuf = m->headbuf = NULL;
	msg->raw = msg->data = msg->head = NULL;
	msg->head_size = 0;
	m->lazy = false;
}

unsigned char *mc_store_buf_new(size_t size)
{
	void *p;

	/* The kernel copies file data much faster to a destination on a
	   cache line boundary than to malloc's 16-byte alignment. */
	if (posix_memalign(&p, 64, size + 1) != 0)
		abort();
	return p;
}

void mc_store_msg_stat(struct mc_store_msg *m, const struct stat *st)
{
	m->msg.loc.uid = st->st_uid;
	m->msg.loc.gid = st->st_gid;
	m->msg.loc.mode = st->st_mode;
	m->msg.loc.mtime = st->st_mtime;
	m->dev = st->st_dev;
	m->ino = st->st_ino;
}

void mc_store_msg_error(struct mc_store_msg *m, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	free(m->read_error);
	m->read_error = s;
	m->msg.read_error = s;
}

/* Read bytes [FROM, SIZE) of FD into BUF at the same offsets; a read
   error or a file that shrank sets M's read_error. */
static int read_range(int fd, unsigned char *buf, size_t from, size_t size,
		      struct mc_store_msg *m)
{
	ssize_t n = mc_pread_all(fd, buf + from, size - from, (off_t)from);

	if (n < 0) {
		mc_store_msg_error(m, "%s: read: %s", m->msg.loc.path, strerror(errno));
		return -1;
	}
	if ((size_t)n < size - from) {
		mc_store_msg_error(m, "%s: shrank while being read", m->msg.loc.path);
		return -1;
	}
	buf[size] = '\0';
	return 0;
}

void mc_store_msg_read(struct mc_store *store, struct mc_store_msg *m, int fd,
		       const struct stat *st)
{
	size_t size = (size_t)st->st_size;

	if ((uint64_t)st->st_size > store->limits.max_message_size) {
		/* Not read: the pipeline reports it unscanned by size. */
		m->msg.size = m->msg.raw_size = size;
		return;
	}
	/* Exactly the size seen at open: a file that a user keeps
	   appending to cannot make us read forever. */
	m->buf = mc_store_buf_new(size);
	if (read_range(fd, m->buf, 0, size, m) < 0) {
		free(m->buf);
		m->buf = NULL;
		return;
	}
	m->msg.raw = m->msg.data = m->buf;
	m->msg.raw_size = m->msg.size = size;
}

/* The first read of a file read heads first; also what is read
   whole at once. Most header blocks fit, and most short messages. */
#define HEAD_READ (16 * 1024)
/* A header block not ended within this many bytes: the file is read
   whole instead. */
#define HEAD_MAX (256 * 1024)

bool mc_store_msg_read_head(struct mc_store *store, struct mc_store_msg *m,
			    int fd, const struct stat *st)
{
	size_t size = (size_t)st->st_size, n = HEAD_READ;
	unsigned char *head;

	if (!store->heads_first || size <= HEAD_READ ||
	    (uint64_t)st->st_size > store->limits.max_message_size) {
		mc_store_msg_read(store, m, fd, st);
		return false;
	}
	if (__atomic_add_fetch(&held_fds, 1, __ATOMIC_RELAXED) > HELD_FDS_MAX) {
		__atomic_sub_fetch(&held_fds, 1, __ATOMIC_RELAXED);
		mc_store_msg_read(store, m, fd, st);
		return false;
	}
	for (;;) {
		size_t end;

		head = mc_store_buf_new(n);
		if (read_range(fd, head, 0, n, m) < 0) {
			free(head);
			__atomic_sub_fetch(&held_fds, 1, __ATOMIC_RELAXED);
			return false;
		}
		if ((end = mc_header_end(head, n)) > 0) {
			/* Heads wait in queues: keep only the header block. */
			n = end;
			head = mc_xrealloc(head, n + 1);
			head[n] = '\0';
			break;
		}
		free(head);
		if (n >= HEAD_MAX || n * 4 >= size) {
			__atomic_sub_fetch(&held_fds, 1, __ATOMIC_RELAXED);
			mc_store_msg_read(store, m, fd, st);
			return false;
		}
		n *= 4;
	}
	m->headbuf = head;
	m->msg.head = head;
	m->msg.head_size = n;
	m->msg.raw_size = m->msg.size = size;
	m->fd = fd;
	m->lazy = true;
	return true;
}

int mc_store_file_load(struct mc_store *store, struct mc_store_msg *m)
{
	size_t size = m->msg.size;
	unsigned char *buf = mc_store_buf_new(size);

	/* Read whole again: the kernel copies fastest to the aligned
	   start of the buffer, and the head is only the header block. */
	if (m->fd < 0 || read_range(m->fd, buf, 0, size, m) < 0) {
		if (m->msg.read_error == NULL)
			mc_store_msg_error(m, "%s: message was not read", m->msg.loc.path);
		free(buf);
		return -1;
	}
	if (memcmp(buf, m->msg.head, m->msg.head_size) != 0) {
		mc_store_msg_error(m, "%s: changed while being read", m->msg.loc.path);
		free(buf);
		return -1;
	}
	m->buf = buf;
	m->msg.raw = m->msg.data = buf;
	m->msg.raw_size = size;
	return 0;
}

int mc_store_quarantine(struct mc_store *store, struct mc_quarantine *q,
			const char *group, const char *run_id, struct mc_removal *removal)
{
	struct mc_msg *msg = removal->msg;
	struct mc_qentry meta;
	struct mc_facts *facts = NULL;
	int ret;

	if (q == NULL)
		return mc_error_set(&removal->error, "no quarantine: not removed");
	if (msg->read_error != NULL || msg->raw == NULL)
		return mc_error_set(&removal->error, "message was not read: not removed");
	memset(&meta, 0, sizeof(meta));
	meta.run_id = (char *)run_id;
	meta.loc = msg->loc;
	/* Queued mail: its envelope, to re-inject it on restore. */
	if (msg->loc.envelope_sender != NULL) {
		meta.envelope_sender = (char *)msg->loc.envelope_sender;
		meta.recipients = (char **)msg->loc.recipients;
		meta.recipient_count = msg->loc.recipient_count;
		meta.arrival_time = msg->loc.arrival_time;
	}
	if (removal->match != NULL) {
		meta.reasons = removal->match->reasons;
		meta.reason_count = removal->match->reason_count;
	}
	if (msg->data != NULL) {
		facts = mc_facts_init(msg, &store->limits);
		if (facts != NULL) {
			meta.from = (char *)mc_facts_header(facts, "From");
			meta.subject = (char *)mc_facts_header(facts, "Subject");
			meta.message_id = (char *)mc_facts_header(facts, "Message-ID");
		}
	}
	ret = group != NULL ?
		mc_quarantine_stage(q, group, &meta, msg->raw, msg->raw_size,
				    &removal->quarantine_id, &removal->error) :
		mc_quarantine_put(q, &meta, msg->raw, msg->raw_size,
				  &removal->quarantine_id, &removal->error);
	mc_facts_free(&facts);
	if (ret < 0 && removal->error == NULL)
		removal->error = mc_xstrdup("quarantine failed: not removed");
	return ret < 0 ? -1 : 0;
}

void mc_store_unquarantine(struct mc_quarantine *q, struct mc_removal *removal,
			   const char *fmt, ...)
{
	char *why, *err = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&why, fmt, ap) < 0)
		abort();
	va_end(ap);
	free(removal->error);
	if (removal->quarantine_id == NULL) {
		removal->error = mc_xasprintf("%s; not removed", why);
	} else if (mc_quarantine_discard(q, removal->quarantine_id, &err) == 0) {
		removal->error = mc_xasprintf("%s; left in place (its quarantine copy "
					      "was discarded)", why);
		free(removal->quarantine_id);
		removal->quarantine_id = NULL;
	} else {
		removal->error = mc_xasprintf("%s; left in place, and its quarantine copy "
					      "%s could not be discarded (%s): do not "
					      "restore it", why, removal->quarantine_id, err);
	}
	free(err);
	free(why);
}

void mc_store_restore_envelope(const struct mc_qentry *entry, const char *sender,
			       char *const *rcpts, size_t rcpt_count,
			       struct mc_store_envelope *env_r)
{
	env_r->sender = entry->envelope_sender != NULL ? entry->envelope_sender : sender;
	if (entry->recipient_count > 0) {
		env_r->rcpts = (const char *const *)entry->recipients;
		env_r->rcpt_count = entry->recipient_count;
	} else {
		env_r->rcpts = (const char *const *)rcpts;
		env_r->rcpt_count = rcpt_count;
	}
}

int mc_store_open_rel_dir(int dirfd, const char *rel, char **error_r)
{
	char *copy, *save = NULL;
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		return mc_error_errno(error_r, "dup");
	copy = mc_xstrdup(rel);
	for (char *comp = strtok_r(copy, "/", &save); comp != NULL;
	     comp = strtok_r(NULL, "/", &save)) {
		int next;

		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
			close(fd);
			free(copy);
			return mc_error_set(error_r, "%s: refusing '%s' in a path", rel, comp);
		}
		next = mc_safe_open_dir(fd, comp, NULL, error_r);
		close(fd);
		if (next < 0) {
			free(copy);
			return -1;
		}
		fd = next;
	}
	free(copy);
	return fd;
}

/* The Maildir message NAME (unique part before ':') may have been
   renamed by the IMAP server since it was read: new/X -> cur/X:2,S
   when first seen, cur/X:2,S -> cur/X:2,RS when answered. Look for
   the same inode under the same unique name in new/ and cur/ of the
   folder DIR_REL/.. . Returns the directory fd with *name_r. */
static int find_moved(int rootfd, const char *dir_rel, const char *name,
		      dev_t dev, ino_t ino, char **name_r, const char **subdir_r)
{
	static const char *const subdirs[] = { "cur", "new" };
	size_t blen = strcspn(name, ":");
	char *folder = mc_path_dir(dir_rel);
	int folderfd;

	if (strcmp(folder, ".") == 0) {
		free(folder);
		folder = mc_xstrdup("");
	}
	folderfd = mc_store_open_rel_dir(rootfd, folder, NULL);
	free(folder);
	if (folderfd < 0)
		return -1;
	for (size_t i = 0; i < 2; i++) {
		int subfd = mc_safe_open_dir(folderfd, subdirs[i], NULL, NULL);
		DIR *dir;
		struct dirent *de;

		if (subfd < 0)
			continue;
		if ((dir = mc_dir_list(subfd)) == NULL) {
			close(subfd);
			continue;
		}
		while ((de = readdir(dir)) != NULL) {
			struct stat st;

			if (strncmp(de->d_name, name, blen) != 0 ||
			    (de->d_name[blen] != ':' && de->d_name[blen] != '\0'))
				continue;
			if (fstatat(subfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    st.st_dev == dev && st.st_ino == ino) {
				*name_r = mc_xstrdup(de->d_name);
				*subdir_r = subdirs[i];
				closedir(dir);
				close(folderfd);
				return subfd;
			}
		}
		closedir(dir);
		close(subfd);
	}
	close(folderfd);
	return -1;
}

/* Whether NAME in DIRFD holds exactly the bytes of MSG. */
static bool same_bytes(int dirfd, const char *name, const struct mc_msg *msg)
{
	unsigned char *buf;
	struct stat st;
	ssize_t got;
	bool same;
	int fd = mc_safe_open_file(dirfd, name, true, &st, NULL);

	if (fd < 0)
		return false;
	if ((uint64_t)st.st_size != msg->raw_size) {
		close(fd);
		return false;
	}
	buf = mc_xmalloc(msg->raw_size + 1);
	got = mc_pread_all(fd, buf, msg->raw_size, 0);
	close(fd);
	same = got == (ssize_t)msg->raw_size && memcmp(buf, msg->raw, msg->raw_size) == 0;
	free(buf);
	return same;
}

void mc_store_remove_file(struct mc_store *store, int rootfd,
			  struct mc_quarantine *q, const char *run_id,
			  struct mc_removal *removal, bool maildir_moved)
{
	struct mc_store_msg *m = (struct mc_store_msg *)removal->msg;
	const char *path = m->msg.loc.path;
	char *moved = NULL, *err = NULL;
	const char *name = m->name;
	struct stat st;
	int dirfd;

	if (store->dry_run) {
		mc_error_set(&removal->error, "dry run: not removed");
		return;
	}
	if (m->msg.read_error != NULL || m->msg.raw == NULL) {
		mc_error_set(&removal->error, "%s: message was not read: not removed", path);
		return;
	}
	dirfd = mc_store_open_rel_dir(rootfd, m->dir_rel, &err);
	if (dirfd < 0) {
		mc_error_set(&removal->error, "%s: cannot open its directory: %s; not removed",
			     path, err);
		free(err);
		return;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		int saved = errno, movedfd = -1;

		const char *subdir = NULL;

		if (saved == ENOENT && maildir_moved)
			movedfd = find_moved(rootfd, m->dir_rel, m->name, m->dev, m->ino,
					     &moved, &subdir);
		if (movedfd < 0) {
			close(dirfd);
			mc_error_set(&removal->error, "%s: %s since it was read; not removed",
				     path, saved == ENOENT ? "vanished" : strerror(saved));
			return;
		}
		close(dirfd);
		dirfd = movedfd;
		name = moved;
		/* Quarantine (and report) it where it is now, with the
		   flags it has now, so that a restore puts that back. */
		char *folder = mc_path_dir(m->dir_rel), *p;
		const char *colon = strstr(moved, ":2,");
		free(m->dir_rel);
		m->dir_rel = strcmp(folder, ".") == 0 ? mc_xstrdup(subdir) :
			mc_xasprintf("%s/%s", folder, subdir);
		free(folder);
		char *subpath = mc_path_dir(m->path);
		folder = mc_path_dir(subpath);
		p = mc_xasprintf("%s/%s/%s", folder, subdir, moved);
		free(subpath);
		free(folder);
		free(m->path);
		m->path = p;
		path = p;
		free(m->flags);
		m->flags = mc_xstrdup(colon != NULL ? colon + 3 : "");
		free(m->name);
		m->name = mc_xstrdup(moved);
		m->msg.loc.path = m->path;
		m->msg.loc.maildir_flags = m->flags;
		m->msg.loc.maildir_subdir = subdir;
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			mc_error_errno(&removal->error, "%s: not removed", path);
			goto out;
		}
	}
	/* The name must still be the file that was read, and that file
	   must not have gained a link: unlinking one of two names would
	   not remove the message, and a second name may be outside. */
	if (!S_ISREG(st.st_mode) || st.st_dev != m->dev || st.st_ino != m->ino) {
		mc_error_set(&removal->error, "%s: replaced since it was read; not removed", path);
		goto out;
	}
	if (st.st_nlink > 1) {
		mc_error_set(&removal->error, "%s: has %lu hard links now; not removed",
			     path, (unsigned long)st.st_nlink);
		goto out;
	}
	/* An inode number can be reused by a file created after the
	   message was deleted: the bytes must be the ones read. */
	if (!same_bytes(dirfd, name, &m->msg)) {
		mc_error_set(&removal->error, "%s: replaced since it was read; not removed", path);
		goto out;
	}
	if (mc_store_quarantine(store, q, NULL, run_id, removal) < 0)
		goto out;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    st.st_dev != m->dev || st.st_ino != m->ino || st.st_nlink > 1) {
		mc_store_unquarantine(q, removal, "%s: changed while being quarantined", path);
		goto out;
	}
	if (unlinkat(dirfd, name, 0) < 0) {
		mc_store_unquarantine(q, removal, "%s: cannot be removed: %s", path,
				      strerror(errno));
		goto out;
	}
	mc_fsync_dir(dirfd);
	removal->removed = true;
out:
	free(moved);
	close(dirfd);
}

/* ------------------------------------------------------------------ */
/* Paths and owners                                                   */
/* ------------------------------------------------------------------ */

const char *mc_path_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return path;
	if (slash[1] == '\0') {
		/* "dir/": the component before the slash. */
		const char *p = slash;
		while (p > path && p[-1] != '/')
			p--;
		return p;
	}
	return slash + 1;
}

char *mc_path_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return mc_xstrdup(".");
	if (slash == path)
		return mc_xstrdup("/");
	return mc_xstrndup(path, (size_t)(slash - path));
}

static bool looks_domain(const char *s)
{
	size_t len = strlen(s);
	bool dot = false, alpha = false;

	if (len < 3 || s[0] == '.' || s[0] == '-' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.')
			dot = true;
		else if (isalpha(c))
			alpha = true;
		else if (!isdigit(c) && c != '-')
			return false;
	}
	return dot && alpha;
}

/* Split an absolute path into its components (pointers into a
   malloc()ed copy stored in *copy_r). */
static size_t split_path(const char *path, char **copy_r, char ***comps_r)
{
	char *copy = mc_xstrdup(path), *save = NULL;
	char **comps = NULL;
	size_t count = 0, cap = 0;

	for (char *c = strtok_r(copy, "/", &save); c != NULL; c = strtok_r(NULL, "/", &save))
		MC_ARRAY_PUSH(comps, count, cap, c);
	*copy_r = copy;
	*comps_r = comps;
	return count;
}

static char *join_comps(char **comps, size_t from, size_t to)
{
	size_t len = 1;
	char *s, *p;

	for (size_t i = from; i < to; i++)
		len += strlen(comps[i]) + 1;
	p = s = mc_xmalloc(len);
	for (size_t i = from; i < to; i++) {
		if (i > from)
			*p++ = '/';
		size_t n = strlen(comps[i]);
		memcpy(p, comps[i], n);
		p += n;
	}
	*p = '\0';
	return s;
}

char *mc_store_user_from_path(const char *abs_path, bool maildir,
			      const char *root, char **folder_r)
{
	char *copy, *rcopy = NULL, **c, **rc = NULL, *user = NULL;
	size_t n = split_path(abs_path, &copy, &c), rn = 0;

	if (folder_r != NULL)
		*folder_r = NULL;
	if (root != NULL)
		rn = split_path(root, &rcopy, &rc);
	if (n == 0)
		goto out;
	if (maildir) {
		/* /home/alice/Maildir, /var/vmail/example.com/alice[/Maildir] */
		size_t base = n - 1;

		if ((strcasecmp(c[n - 1], "Maildir") == 0 ||
		     strcasecmp(c[n - 1], ".maildir") == 0) && n >= 2)
			base = n - 2;
		if (base >= 1 && looks_domain(c[base - 1]))
			user = mc_xasprintf("%s@%s", c[base], c[base - 1]);
		else
			user = mc_xstrdup(c[base]);
		goto out;
	}
	/* mbox: the spool (/var/mail/alice, /var/spool/mail/alice). */
	if (n >= 3 && strcmp(c[n - 2], "mail") == 0 &&
	    (strcmp(c[n - 3], "var") == 0 || strcmp(c[n - 3], "spool") == 0)) {
		user = mc_xstrdup(c[n - 1]);
		if (folder_r != NULL)
			*folder_r = mc_xstrdup("INBOX");
		goto out;
	}
	/* Folders of mboxes in a home: ~/mail/Sent, ~/Mail/lists/debian. */
	for (size_t k = n - 1; k-- > 1;) {
		if (strcmp(c[k], "mail") == 0 || strcmp(c[k], "Mail") == 0) {
			user = mc_xstrdup(c[k - 1]);
			if (folder_r != NULL)
				*folder_r = join_comps(c, k + 1, n);
			goto out;
		}
	}
	/* Below a tree root: ROOT/alice is alice's inbox, ROOT/alice/x
	   her folder x (/home/alice/mbox). */
	if (root != NULL && rn < n) {
		bool below = true;

		for (size_t i = 0; i < rn; i++)
			below &= strcmp(rc[i], c[i]) == 0;
		if (below) {
			user = mc_xstrdup(c[rn]);
			if (folder_r != NULL)
				*folder_r = rn + 1 == n ? mc_xstrdup("INBOX") :
					join_comps(c, rn + 1, n);
			goto out;
		}
	}
	/* A single mbox given by itself is that user's inbox. */
	if (folder_r != NULL)
		*folder_r = mc_xstrdup("INBOX");
out:
	free(copy);
	free(c);
	free(rcopy);
	free(rc);
	return user;
}

int mc_store_open_dir_trusted(const char *abs_path, char **error_r)
{
	/* A recorded path is absolute: a relative one would be taken
	   from wherever mailcure runs. */
	if (abs_path == NULL || abs_path[0] != '/')
		return mc_error_set(error_r, "%s: not an absolute path",
				    abs_path != NULL ? abs_path : "(null)");
	return mc_open_dir_path(abs_path, NULL, error_r);
}

static mode_t file_mode(mode_t mode)
{
	/* Mail files never need set-id or sticky bits. */
	mode &= 0777;
	return mode != 0 ? mode : 0600;
}

int mc_store_write_new(int dirfd, const char *name, const void *raw,
		       size_t raw_size, uid_t uid, gid_t gid, mode_t mode,
		       time_t mtime, char **error_r)
{
	struct stat st;
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			O_CLOEXEC | O_NOCTTY, 0600);

	if (fd < 0)
		return mc_error_errno(error_r, "create %s", name);
	if (mc_write_all(fd, raw, raw_size) < 0) {
		mc_error_errno(error_r, "write %s", name);
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		mc_error_errno(error_r, "fstat %s", name);
		goto fail;
	}
	if (uid != (uid_t)-1 && gid != (gid_t)-1 &&
	    (st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0) {
		mc_error_errno(error_r, "chown %s to %lu:%lu", name,
			       (unsigned long)uid, (unsigned long)gid);
		goto fail;
	}
	if (fchmod(fd, file_mode(mode)) < 0) {
		mc_error_errno(error_r, "chmod %s", name);
		goto fail;
	}
	if (mtime > 0) {
		struct timespec ts[2] = {
			{ .tv_sec = 0, .tv_nsec = UTIME_OMIT },
			{ .tv_sec = mtime, .tv_nsec = 0 },
		};
		if (futimens(fd, ts) < 0) {
			mc_error_errno(error_r, "set mtime of %s", name);
			goto fail;
		}
	}
	if (fsync(fd) < 0) {
		mc_error_errno(error_r, "fsync %s", name);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		mc_error_errno(error_r, "close %s", name);
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, name, 0);
	return -1;
}

int mc_store_mkdir_owned(int dirfd, const char *name, uid_t uid, gid_t gid,
			 mode_t mode, bool *created_r, char **error_r)
{
	bool created = false;
	int fd;

	if (mkdirat(dirfd, name, mode) == 0)
		created = true;
	else if (errno != EEXIST)
		return mc_error_errno(error_r, "mkdir %s", name);
	fd = mc_safe_open_dir(dirfd, name, NULL, error_r);
	if (fd < 0)
		return -1;
	if (created) {
		struct stat st;

		if (fstat(fd, &st) == 0 && uid != (uid_t)-1 && gid != (gid_t)-1 &&
		    (st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0) {
			mc_error_errno(error_r, "chown %s", name);
			close(fd);
			return -1;
		}
		(void)fchmod(fd, mode);
	}
	if (created_r != NULL)
		*created_r = created;
	return fd;
}

/* ------------------------------------------------------------------ */
/* Detection                                                          */
/* ------------------------------------------------------------------ */

bool mc_store_is_maildir_at(int dirfd, const char *name)
{
	static const char *const subs[] = { "cur", "new" };
	char path[PATH_MAX];
	struct stat st;

	/* A cur/ or new/ that is a symlink still makes a Maildir: the
	   Maildir store reports that symlink (never following it) and
	   reads the rest, where walking past it would hide it. */
	for (size_t i = 0; i < 2; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", name, subs[i]) >= (int)sizeof(path) ||
		    fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (!S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)))
			return false;
	}
	return true;
}

bool mc_store_looks_mbox(const unsigned char *p, size_t len)
{
	return len >= 5 && memcmp(p, "From ", 5) == 0;
}

bool mc_store_looks_rfc5322(const unsigned char *p, size_t len)
{
	size_t i = 0;

	while (i < len && p[i] > 32 && p[i] < 127 && p[i] != ':')
		i++;
	return i > 0 && i < len && p[i] == ':';
}

ssize_t mc_store_peek(int dirfd, const char *name, void *buf, size_t len)
{
	struct stat lst, st;
	ssize_t n;
	int fd;

	if (fstatat(dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(lst.st_mode))
		return -1;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !mc_same_file(&lst, &st)) {
		close(fd);
		return -1;
	}
	do {
		n = pread(fd, buf, len, 0);
	} while (n < 0 && errno == EINTR);
	close(fd);
	return n;
}
