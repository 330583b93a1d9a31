/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	mbox 3
/* SUMMARY
/*	the mbox store: one file, many messages, cut out in place
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	extern const struct mc_store_ops mc_store_mbox;
/* DESCRIPTION
/*	An mbox is split into messages at From_ lines: a line starting
/*	with "From " at the start of the file, or after an empty line
/*	when it also carries a ctime()-style date ("From sender Tue Nov
/*	28 01:08:30 2026", as Postfix local, Dovecot, mutt and
/*	Thunderbird write it). The date check keeps an unquoted "From
/*	here on..." paragraph from splitting a message written by a
/*	careless (mboxcl2) writer. Where no empty line comes before it
/*	(a writer that did not end the previous message with one), a
/*	line starts a message when it is a complete From_ line, sender
/*	and date and nothing else (mbox_from.c), and a header field
/*	follows it, as mutt and Python's mailbox split there. Any other
/*	line that starts with "From " and a date stays in its message,
/*	and a message holding one is never cut: it may be two, and the
/*	error says where. The rules are the same for reading and for
/*	the locked re-read before a rewrite, so both agree.
/*
/*	Each message's raw bytes are its From_ line through the empty
/*	separator line that follows it, so the raws of a file, put end
/*	to end, are the file. Its data is the RFC 5322 message: no
/*	From_ line, no separator, and ">From " lines (any number of '>')
/*	unquoted by one level as in mboxrd (copied only then). The last
/*	message may lack its separator or even its last newline. Bytes
/*	before the first From_ line are not a message: they are one item
/*	with read_error naming the file and offset, never acted on, and
/*	kept by every rewrite.
/*
/*	The splitter (mbox_split.c) reads the file with plain reads into
/*	a window small enough to stay in the CPU cache, each byte once;
/*	only lines that start with 'F' or '>' are looked at more closely
/*	(From_ lines, >From quoting), found 32 bytes at a time. A
/*	message up to 16 kB is kept whole as it is read. Of a larger one
/*	only its header block is kept (heads first, see struct mc_msg):
/*	its body is read again from the file, by whoever loads it, and
/*	must then still be the same message (its From_ line, its size
/*	after unquoting, its header block), or it is reported as
/*	changed. Without heads_first that happens at once. Reading stops
/*	at the size the file had when it was opened, and does not change
/*	its atime. It is not mmap()ed: a mail client that truncates the
/*	file while we read would turn a mapping into SIGBUS. A message
/*	larger than max_message_size is stepped over without being kept
/*	(see store.c).
/*
/*	Removal (all matched messages of the file at once): take the
/*	dotlock and the fcntl lock (mbox_lock.c), check that the path
/*	still names the locked file, settle what an interrupted removal
/*	left, re-read and re-split the file as it is now, and find each
/*	matched message by length and SHA-256 of its raw bytes (a
/*	multiset: identical copies are cut as often as they were
/*	matched), so messages appended by a delivery agent while we
/*	waited, and messages that moved, are handled. A matched message
/*	that is no longer there is reported and not quarantined. The
/*	found ones are staged in the quarantine and cut out, journaled,
/*	in place; their entries are committed only once the cut is
/*	durable, so that however mailcure ends, an entry exists only for
/*	a message that left the mailbox (mbox_rewrite.c). When the cut
/*	cannot be made (disk full) the messages stay and their staged
/*	entries are discarded; the error says so.
/*
/*	A clean settles an interrupted removal (completes its rewrite,
/*	or discards its staged entries) before it reads the mailbox, as
/*	a restore does before it appends to it, and "quarantine
/*	restore" for all mailboxes first (the settle op).
/*
/*	Restore appends the message under the same locks, after making
/*	sure the mailbox ends with an empty line; a mailbox that is gone
/*	is created with the recorded owner and mode.
/* SECURITY
/*	The mbox's path is walked from "/" (mc_safe_walk: no symlink a
/*	user could have made, the mbox itself included), and the mbox
/*	is opened, locked and rewritten relative to the directory that
/*	walk opened, without following symlinks, and refused when it
/*	has more than one link (as Postfix local refuses it). Lock
/*	files are created with O_EXCL|O_NOFOLLOW. Only the locked inode
/*	is written.
/*--*/

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "store-private.h"
#include "mbox_rewrite.h"
#include "mbox_split.h"

/* Set data from raw (as the splitter measured it); IN_PLACE: raw is
   not needed, unquote in its buffer and drop it. Returns the size of
   data. */
static size_t msg_set_data(struct mc_store_msg *m, bool in_place)
{
	const unsigned char *d = m->msg.raw + m->data_skip;
	size_t n = m->msg.raw_size - m->data_skip - m->data_trim;

	if (m->quoted == 0) {
		m->msg.data = d;
		return n;
	}
	if (in_place) {
		unsigned char *w = m->buf + m->data_skip;

		n = mc_mbox_unquote(w, n, w);
		w[n] = '\0';
		m->msg.data = w;
		m->msg.raw = NULL;
		return n;
	}
	m->databuf = mc_xmalloc(n + 1);
	n = mc_mbox_unquote(d, n, m->databuf);
	m->databuf[n] = '\0';
	m->msg.data = m->databuf;
	return n;
}

/* ------------------------------------------------------------------ */
/* The store                                                          */
/* ------------------------------------------------------------------ */

struct mbox_store {
	struct mc_store base;
	int dirfd;		/* the mailbox's directory */
	char *name;		/* the mailbox file in it */
	char *path;		/* absolute */
	char *user, *folder;
	struct stat st;
	int fd;			/* read until the store goes: messages are
				   loaded from it after they were yielded */
	struct mbox_reader reader;
	/* What an interrupted removal left could not be settled: the
	   mailbox is not read (it may be half rewritten). */
	char *settle_error;
	bool done;
};

static void mbox_destroy(struct mc_store *store)
{
	struct mbox_store *s = (struct mbox_store *)store;

	if (s->fd >= 0)
		close(s->fd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	mc_mbox_reader_deinit(&s->reader);
	free(s->name);
	free(s->path);
	free(s->user);
	free(s->folder);
	free(s->settle_error);
}

static int mbox_load(struct mc_store *store, struct mc_store_msg *m);
static int settle_before_reading(struct mbox_store *s, struct mc_quarantine *q,
				 char **error_r);

static int mbox_start(struct mbox_store *s, const char *uri,
		      const struct mc_store_settings *set, int dirfd,
		      struct mc_store **store_r, char **error_r)
{
	char *err = NULL;

	mc_store_base_init(&s->base, &mc_store_mbox, uri, set, mbox_destroy);
	s->dirfd = dirfd;
	if (set->quarantine != NULL && !set->dry_run)
		(void)settle_before_reading(s, set->quarantine, &s->settle_error);
	s->fd = mc_safe_open_file(dirfd, s->name, true, &s->st, &err);
	if (s->fd < 0) {
		mc_error_set(error_r, "%s: %s", s->path, err);
		free(err);
		s->reader.buf = NULL;
		mc_store_unref(&s->base);
		return -1;
	}
	/* Reading must not look like the user read their mail: mail
	   readers and login shells compare an mbox's atime to its mtime
	   ("You have new mail"). Allowed to root and the owner. */
	(void)fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NOATIME);
	mc_mbox_reader_init(&s->reader, s->fd, (uint64_t)s->st.st_size);
	s->base.load = mbox_load;
	*store_r = &s->base;
	return 0;
}

static int mbox_open(const char *uri, const char *path,
		     const struct mc_store_settings *set,
		     struct mc_store **store_r, char **error_r)
{
	struct mbox_store *s;
	struct mc_safe_path where;
	char *user, *folder = NULL;

	*store_r = NULL;
	if (mc_safe_walk(path, &where, error_r) < 0)
		return -1;
	if (S_ISDIR(where.st.st_mode)) {
		mc_error_set(error_r, "%s: is a directory, not an mbox file "
			     "(give the bare path to search the mailboxes in it)", path);
		mc_safe_path_deinit(&where);
		return -1;
	}
	/* The mailbox is opened, locked and rewritten relative to the
	   directory the walk opened: a name swapped later is refused. */
	s = mc_xcalloc(1, sizeof(*s));
	s->path = where.abs;
	s->name = where.name;
	user = mc_store_user_from_path(s->path, false, NULL, &folder);
	s->folder = folder;
	if (where.st.st_uid != 0)
		s->user = mc_user_name(where.st.st_uid);
	if (s->user == NULL)
		s->user = user != NULL ? user : mc_xstrdup(s->name);
	else
		free(user);
	return mbox_start(s, uri, set, where.dirfd, store_r, error_r);
}

int mc_store_mbox_open_sub(const struct mc_substore_spec *spec,
			   const struct mc_store_settings *set,
			   struct mc_store **store_r, char **error_r)
{
	struct mbox_store *s = mc_xcalloc(1, sizeof(*s));
	int dirfd = fcntl(spec->dirfd, F_DUPFD_CLOEXEC, 0);

	*store_r = NULL;
	if (dirfd < 0) {
		free(s);
		return mc_error_errno(error_r, "dup");
	}
	s->path = mc_xstrdup(spec->abs_path);
	s->name = mc_xstrdup(spec->name);
	s->user = mc_xstrdup(spec->user);
	s->folder = mc_xstrdup(spec->folder != NULL ? spec->folder : "INBOX");
	return mbox_start(s, spec->uri, set, dirfd, store_r, error_r);
}

/* Read the message M whose head only was kept: its raw bytes again,
   from the file it was split from, which must still hold the same
   message there. */
static int mbox_load(struct mc_store *store, struct mc_store_msg *m)
{
	struct mbox_store *s = (struct mbox_store *)store;
	size_t len = m->msg.raw_size;
	unsigned char *buf = mc_store_buf_new(len);
	ssize_t n = mc_pread_all(s->fd, buf, len, (off_t)m->msg.loc.offset);

	m->buf = buf;
	m->msg.raw = buf;
	if (n < 0 || (size_t)n < len) {
		mc_store_msg_error(m, "%s: message at offset %lld: %s", s->path,
				   (long long)m->msg.loc.offset,
				   n < 0 ? strerror(errno) : "the mailbox shrank while being read");
		return -1;
	}
	buf[len] = '\0';
	/* A mail client may have rewritten the mailbox since it was
	   split: the bytes must still be that message. */
	if (len < 5 || memcmp(buf, "From ", 5) != 0 ||
	    msg_set_data(m, store->loads_without_raw) != m->msg.size ||
	    (m->msg.head != NULL && memcmp(m->msg.data, m->msg.head, m->msg.head_size) != 0)) {
		mc_store_msg_error(m, "%s: message at offset %lld changed while being read",
				   s->path, (long long)m->msg.loc.offset);
		return -1;
	}
	return 0;
}

static void mbox_reading_done(struct mbox_store *s)
{
	s->done = true;
	/* The window is not needed any more; the file is, for loads. */
	mc_mbox_reader_deinit(&s->reader);
}

static int mbox_next(struct mc_store *store, struct mc_msg **msg_r, char **error_r)
{
	struct mbox_store *s = (struct mbox_store *)store;
	struct mc_store_msg *m;
	struct mbox_span span;
	char *err = NULL;
	int ret;

	if (s->done)
		return 0;
	memset(&span, 0, sizeof(span));
	ret = s->settle_error != NULL ? -1 : mc_mbox_reader_next(&s->reader, &span, &err);
	if (ret == 0) {
		mbox_reading_done(s);
		return 0;
	}
	m = mc_store_msg_new(store, "mbox");
	m->msg.loc.path = s->path;
	m->msg.loc.user = s->user;
	m->msg.loc.folder = s->folder;
	mc_store_msg_stat(m, &s->st);
	if (ret < 0) {
		if (err != NULL)
			mc_store_msg_error(m, "%s: %s", s->path, err);
		else
			mc_store_msg_error(m, "%s; not read", s->settle_error);
		free(err);
		span.last = true;
	} else {
		m->msg.loc.offset = (int64_t)span.offset;
		m->container_last = span.last;
		if (span.garbage) {
			mc_store_msg_error(m, "%s: not mbox data at offset %llu: %llu bytes "
					   "before %s From_ line, not acted on", s->path,
					   (unsigned long long)span.offset,
					   (unsigned long long)span.length,
					   span.last ? "any" : "the first");
		} else if (span.length > store->limits.max_message_size) {
			/* Too large: reported unscanned by its size. */
			m->msg.raw_size = m->msg.size = (size_t)span.length;
		} else {
			m->data_skip = span.data_skip;
			m->data_trim = span.data_trim;
			m->quoted = span.quoted;
			m->msg.raw_size = (size_t)span.length;
			m->msg.size = m->msg.raw_size - m->data_skip - m->data_trim - m->quoted;
			if (span.bytes != NULL) {
				m->buf = mc_xmalloc(m->msg.raw_size + 1);
				memcpy(m->buf, span.bytes, m->msg.raw_size);
				m->buf[m->msg.raw_size] = '\0';
				m->msg.raw = m->buf;
				m->msg.size = msg_set_data(m, false);
			} else {
				m->lazy = true;
				if (span.head != NULL) {
					m->headbuf = span.head;
					span.head = NULL;
					m->msg.head = m->headbuf;
					m->msg.head_size = m->quoted == 0 ? span.head_len :
						mc_mbox_unquote(m->headbuf, span.head_len, m->headbuf);
					m->headbuf[m->msg.head_size] = '\0';
				}
				if (!store->heads_first)
					mc_store_load_op(store, &m->msg);
			}
		}
	}
	free(span.head);
	if (span.last)
		mbox_reading_done(s);
	*msg_r = &m->msg;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Removal                                                            */
/* ------------------------------------------------------------------ */

struct want {
	struct mc_removal *removal;
	unsigned char sha[32];
	uint64_t len;
	int64_t offset;		/* where it was read */
	bool found, cut;
	struct mc_mbox_cut at;
};

/* The offset in RAW (an item, LEN bytes) of a line after its first
   that starts with "From " and a date, which the splitter did not take
   for the start of a message (no empty line before it, and not a
   complete From_ line followed by a header): the item may be two
   messages run together. 0 when there is none. */
static size_t doubtful_from_line(const unsigned char *raw, size_t len)
{
	const unsigned char *p = raw, *end = raw + len;

	while ((p = memmem(p, (size_t)(end - p), "\nFrom ", 6)) != NULL) {
		const unsigned char *ls = p + 1;
		const unsigned char *nl = memchr(ls, '\n', (size_t)(end - ls));

		if (mc_store_mbox_from_line(ls, (size_t)((nl != NULL ? nl : end) - ls)))
			return (size_t)(ls - raw);
		p = ls;
	}
	return 0;
}

static void fail_all(struct want *w, size_t count, const char *path, const char *err)
{
	for (size_t i = 0; i < count; i++) {
		if (w[i].removal->error == NULL)
			mc_error_set(&w[i].removal->error, "%s: %s; not removed", path, err);
	}
}

/* Find the wanted messages in the locked file: split it again, and
   hash the items that have the length of one wanted. */
static int find_wanted(struct mbox_store *s, struct mc_mbox_held *lock, struct want *w,
		       size_t count, char **error_r)
{
	struct mbox_reader r;
	struct mbox_span span;
	unsigned char *tmp = NULL;
	size_t tmp_cap = 0;
	int ret;

	mc_mbox_reader_init(&r, lock->fd, (uint64_t)lock->st.st_size);
	while ((ret = mc_mbox_reader_next(&r, &span, error_r)) > 0) {
		const unsigned char *bytes = span.bytes;
		unsigned char sha[32];
		bool hashed = false;
		size_t pick = count;

		free(span.head);
		if (span.garbage)
			continue;
		for (size_t i = 0; i < count; i++) {
			if (w[i].found || w[i].len != span.length)
				continue;
			if (!hashed && bytes == NULL) {
				ssize_t n;

				if (span.length > tmp_cap) {
					free(tmp);
					tmp_cap = (size_t)span.length;
					tmp = mc_xmalloc(tmp_cap);
				}
				n = mc_pread_all(lock->fd, tmp, (size_t)span.length,
						 (off_t)span.offset);
				if (n < 0 || (uint64_t)n < span.length) {
					if (n >= 0)
						errno = EIO;	/* shorter than it was */
					ret = mc_error_errno(error_r, "read at offset %llu",
							     (unsigned long long)span.offset);
					goto out;
				}
				bytes = tmp;
			}
			if (!hashed) {
				mc_sha256(bytes, (size_t)span.length, sha);
				hashed = true;
			}
			if (memcmp(sha, w[i].sha, 32) != 0)
				continue;
			/* Identical copies: prefer the one read at this offset. */
			if (pick == count || w[i].offset == (int64_t)span.offset)
				pick = i;
			if (w[i].offset == (int64_t)span.offset)
				break;
		}
		if (pick < count) {
			w[pick].found = true;
			w[pick].at.off = span.offset;
			w[pick].at.len = span.length;
		}
	}
out:
	free(tmp);
	mc_mbox_reader_deinit(&r);
	return ret < 0 ? -1 : 0;
}

static int cmp_want_off(const void *a, const void *b)
{
	const struct want *x = a, *y = b;

	if (x->cut != y->cut)
		return x->cut ? -1 : 1;
	return x->at.off < y->at.off ? -1 : x->at.off > y->at.off;
}

/* Stage the quarantine entries of the wanted messages that were
   found; returns how many (sorted first in W, by offset). */
static size_t stage_found(struct mc_store *store, struct mbox_store *s,
			  struct mc_quarantine *q, const char *group, const char *run_id,
			  struct want *w, size_t count)
{
	size_t staged = 0;

	for (size_t i = 0; i < count; i++) {
		struct mc_removal *r = w[i].removal;

		if (r->error != NULL)
			continue;
		if (!w[i].found) {
			mc_error_set(&r->error, "%s: the message read at offset %lld is no longer "
				     "in the mailbox (changed or removed since); not removed",
				     s->path, (long long)w[i].offset);
			continue;
		}
		if (mc_store_quarantine(store, q, group, run_id, r) == 0) {
			w[i].cut = true;
			staged++;
		}
	}
	qsort(w, count, sizeof(*w), cmp_want_off);
	return staged;
}

static void mbox_remove(struct mc_store *store, struct mc_quarantine *q,
			const char *run_id, struct mc_removal *removals, size_t count)
{
	struct mbox_store *s = (struct mbox_store *)store;
	struct want *w = mc_xcalloc(count, sizeof(*w));
	struct mc_mbox_held held = { .fd = -1 };
	struct mc_mbox_journal j = { .dirfd = -1 };
	struct mc_mbox_cut *cuts = NULL;
	char **ids = NULL;
	size_t cut_count;
	char *err = NULL;

	for (size_t i = 0; i < count; i++) {
		struct mc_msg *msg = removals[i].msg;
		size_t doubt;

		w[i].removal = &removals[i];
		if (store->dry_run)
			mc_error_set(&removals[i].error, "dry run: not removed");
		else if (msg->read_error != NULL || msg->raw == NULL)
			mc_error_set(&removals[i].error, "%s: message at offset %lld was not "
				     "read; not removed", s->path, (long long)msg->loc.offset);
		else if ((doubt = doubtful_from_line(msg->raw, msg->raw_size)) > 0)
			mc_error_set(&removals[i].error, "%s: message at offset %lld may be two "
				     "messages: the line at offset %lld starts with \"From \" and "
				     "a date, but no empty line comes before it and it is not a "
				     "complete From_ line followed by a header; not removed (split "
				     "the mailbox there by hand, or quote the line as \">From\")",
				     s->path, (long long)msg->loc.offset,
				     (long long)msg->loc.offset + (long long)doubt);
		else {
			mc_sha256(msg->raw, msg->raw_size, w[i].sha);
			w[i].len = msg->raw_size;
			w[i].offset = msg->loc.offset;
			continue;
		}
		w[i].found = true;	/* nothing to look for */
		w[i].at.len = 0;
	}
	if (store->dry_run)
		goto out;
	if (mc_mbox_journal_open(q, s->path, &j, &err) < 0 ||
	    mc_mbox_hold(s->dirfd, s->name, 0, (uid_t)-1, (gid_t)-1, &held, &err) < 0 ||
	    mc_mbox_settle(&j, &held, &err) < 0 ||
	    find_wanted(s, &held, w, count, &err) < 0) {
		fail_all(w, count, s->path, err);
		goto out;
	}
	/* The entries are staged: they become quarantine entries only
	   once the messages are cut out, so that a run killed before
	   leaves none for a message that is still here. */
	cut_count = stage_found(store, s, q, j.group, run_id, w, count);
	if (cut_count == 0)
		goto out;
	cuts = mc_xcalloc(cut_count, sizeof(*cuts));
	ids = mc_xcalloc(cut_count, sizeof(*ids));
	for (size_t i = 0; i < cut_count; i++) {
		cuts[i] = w[i].at;
		ids[i] = w[i].removal->quarantine_id;
	}
	switch (mc_mbox_cut_out(&j, &held, cuts, cut_count, ids, cut_count, &err)) {
	case MC_MBOX_CUT_DONE:
		for (size_t i = 0; i < cut_count; i++)
			w[i].removal->removed = true;
		break;
	case MC_MBOX_CUT_UNCHANGED:
		for (size_t i = 0; i < cut_count; i++) {
			struct mc_removal *r = w[i].removal;

			free(r->quarantine_id);
			r->quarantine_id = NULL;
			mc_error_set(&r->error, "%s: %s; left in place (its quarantine copy "
				     "was discarded)", s->path, err);
		}
		break;
	case MC_MBOX_CUT_PENDING:
		for (size_t i = 0; i < cut_count; i++)
			mc_error_set(&w[i].removal->error, "%s: %s", s->path, err);
		break;
	}
out:
	mc_mbox_release(&held);
	mc_mbox_journal_close(&j);
	free(err);
	free(cuts);
	free(ids);
	free(w);
}

/* Hold the mailbox PATH (in its directory DIRFD) and settle what an
   interrupted removal left, with the quarantine Q. */
static int settle_held(struct mc_quarantine *q, int dirfd, const char *path,
		       mode_t create_mode, uid_t uid, gid_t gid,
		       struct mc_mbox_held *held, char **error_r)
{
	struct mc_mbox_journal j;
	char *err = NULL;
	int ret = -1;

	if (mc_mbox_journal_open(q, path, &j, &err) < 0 ||
	    mc_mbox_hold(dirfd, mc_path_base(path), create_mode, uid, gid, held, &err) < 0 ||
	    mc_mbox_settle(&j, held, &err) < 0)
		mc_error_set(error_r, "%s: %s", path, err);
	else
		ret = 0;
	mc_mbox_journal_close(&j);
	free(err);
	return ret;
}

/* mc_store_ops.settle */
static int mbox_settle(struct mc_quarantine *q, const char *path, char **error_r)
{
	struct mc_mbox_held held = { .fd = -1 };
	char *dir;
	int dirfd, ret;

	if (path == NULL || path[0] != '/')
		return mc_error_set(error_r, "mbox: no absolute path recorded");
	dir = mc_path_dir(path);
	dirfd = mc_store_open_dir_trusted(dir, error_r);
	free(dir);
	if (dirfd < 0)
		return -1;
	ret = settle_held(q, dirfd, path, 0, (uid_t)-1, (gid_t)-1, &held, error_r);
	mc_mbox_release(&held);
	close(dirfd);
	return ret;
}

/* Before a clean reads the mailbox: settle an interrupted removal
   from it (its rewrite may be half done). Looked at without the
   lock first, as there is mostly nothing to do. */
static int settle_before_reading(struct mbox_store *s, struct mc_quarantine *q,
				 char **error_r)
{
	struct mc_mbox_held held = { .fd = -1 };
	struct mc_mbox_journal j;
	bool left;
	int ret;

	if (mc_mbox_journal_open(q, s->path, &j, error_r) < 0)
		return -1;
	left = mc_mbox_journal_left(&j);
	mc_mbox_journal_close(&j);
	if (!left)
		return 0;
	ret = settle_held(q, s->dirfd, s->path, 0, (uid_t)-1, (gid_t)-1, &held, error_r);
	mc_mbox_release(&held);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Restore                                                            */
/* ------------------------------------------------------------------ */

static int mbox_restore(struct mc_quarantine *q, const struct mc_qentry *entry,
			const void *raw, size_t raw_size, char **error_r)
{
	const char *path = entry->loc.path;
	const unsigned char *p = raw;
	struct mc_mbox_held held = { .fd = -1 };
	unsigned char tail[2];
	const char *pre = "", *post = "";
	char *dir;
	uint64_t size;
	int dirfd, ret = -1;
	mode_t mode;

	if (path == NULL || path[0] != '/')
		return mc_error_set(error_r, "mbox restore: no absolute path recorded");
	if (!mc_store_looks_mbox(p, raw_size))
		return mc_error_set(error_r, "%s: the quarantined message does not start "
				    "with a From_ line; not appended", path);
	dir = mc_path_dir(path);
	dirfd = mc_store_open_dir_trusted(dir, error_r);
	free(dir);
	if (dirfd < 0)
		return -1;
	mode = entry->loc.mode & 0777;
	/* An interrupted removal is settled first: its rewrite completed
	   (or its staged entries discarded) before anything is appended,
	   which the journal could not account for. */
	if (settle_held(q, dirfd, path, mode != 0 ? mode : 0600, entry->loc.uid,
			entry->loc.gid, &held, error_r) < 0)
		goto out;
	size = (uint64_t)held.st.st_size;
	if (size > 0) {
		size_t n = size >= 2 ? 2 : 1;
		if (pread(held.fd, tail, n, (off_t)(size - n)) != (ssize_t)n) {
			mc_error_errno(error_r, "%s: read", path);
			goto out;
		}
		if (tail[n - 1] != '\n')
			pre = "\n\n";
		else if (n == 2 && tail[0] != '\n')
			pre = "\n";
	}
	if (raw_size == 0 || p[raw_size - 1] != '\n')
		post = "\n\n";
	else if (raw_size < 2 || p[raw_size - 2] != '\n')
		post = "\n";
	uint64_t at = size;
	if (mc_pwrite_all(held.fd, pre, strlen(pre), (off_t)at) < 0 ||
	    mc_pwrite_all(held.fd, raw, raw_size, (off_t)(at += strlen(pre))) < 0 ||
	    mc_pwrite_all(held.fd, post, strlen(post), (off_t)(at + raw_size)) < 0 ||
	    fsync(held.fd) < 0) {
		mc_error_errno(error_r, "%s: append", path);
		if (ftruncate(held.fd, (off_t)size) == 0)
			fsync(held.fd);
		goto out;
	}
	ret = 0;
out:
	mc_mbox_release(&held);
	mc_fsync_dir(dirfd);
	close(dirfd);
	return ret;
}

static bool mbox_detect(int dirfd, const char *path)
{
	unsigned char buf[5];
	struct stat st;
	ssize_t n;
	int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return false;
	}
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	/* An empty file is an empty mailbox (/var/mail/bob). */
	return n == 0 || (n > 0 && mc_store_looks_mbox(buf, (size_t)n));
}

const struct mc_store_ops mc_store_mbox = {
	.name = "mbox",
	.detect = mbox_detect,
	.open = mbox_open,
	.next = mbox_next,
	.container_last = mc_store_container_last_op,
	.remove = mbox_remove,
	.msg_free = mc_store_msg_free_op,
	.load = mc_store_load_op,
	.drop = mc_store_drop_op,
	.close = mc_store_close_op,
	.restore = mbox_restore,
	.settle = mbox_settle,
};
