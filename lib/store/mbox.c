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
/*	careless (mboxcl2) writer. The rules are the same for reading
/*	and for the locked re-read before a rewrite, so both agree.
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
/*	The file is read with plain reads into a window that holds one
/*	message at a time, and looked at line by line, each byte once;
/*	each yielded message gets its own buffer (a large one takes the
/*	window itself, so its bytes are not copied again). Reading stops
/*	at the size the file had when it was opened, and does not
/*	change its atime. It is not mmap()ed:
/*	a mail client that truncates the file while we read would turn
/*	a mapping into SIGBUS. A message larger than max_message_size is
/*	stepped over without being kept (see store.c).
/*
/*	Removal (all matched messages of the file at once): take the
/*	dotlock and the fcntl lock (mbox_lock.c), check that the path
/*	still names the locked file, re-read and re-split the file as it
/*	is now, and find each matched message by length and SHA-256 of
/*	its raw bytes (a multiset: identical copies are cut as often as
/*	they were matched), so messages appended by a delivery agent
/*	while we waited, and messages that moved, are handled. A matched
/*	message that is no longer there is reported and not quarantined.
/*	The found ones are quarantined; then the bytes from the first cut
/*	to the end are saved in a rewrite journal in the quarantine
/*	(journal/mbox-SHA256(path).tail: path, inode, sizes, cuts, the
/*	bytes; fsync'd), the kept bytes are moved down in place, the
/*	file truncated and fsync'd (same inode, owner and mode; atime
/*	kept so "new mail" indicators do not change), and the journal
/*	deleted. If the rewrite fails the file is put back from the
/*	journal. If mailcure dies during the rewrite, the next removal
/*	from that mbox finds the journal under the lock and completes
/*	the rewrite from it, provided the file is still that inode at
/*	one of the two sizes it can have then; otherwise it refuses to
/*	touch the mbox and names the journal.
/*
/*	When quarantine succeeded but the rewrite could not be done
/*	(journal not writable, disk full) the message stays in the mbox,
/*	and its fresh quarantine entry is discarded so that no restore
/*	can duplicate it; the error says so. Only when a failed rewrite
/*	could not be undone do the entries stay: the journal completes
/*	that rewrite on the next removal from the mailbox.
/*
/*	Restore appends the message under the same locks, after making
/*	sure the mailbox ends with an empty line; a mailbox that is gone
/*	is created with the recorded owner and mode.
/* SECURITY
/*	The mbox is opened relative to its verified directory without
/*	following symlinks, and refused when it has more than one link
/*	(as Postfix local refuses it). Lock files are created with
/*	O_EXCL|O_NOFOLLOW. Only the locked inode is written.
/*--*/

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store-private.h"
#include "mbox_lock.h"

#define CHUNK (256 * 1024)
#define FROM_LINE_MAX 1024
#define SKIP_KEEP 16
#define COPY_BUF (1024 * 1024)

/* ------------------------------------------------------------------ */
/* From_ lines                                                        */
/* ------------------------------------------------------------------ */

static bool word3(const unsigned char *p, const char *list)
{
	/* LIST: concatenated three-letter words. */
	for (; *list != '\0'; list += 3) {
		if (tolower(p[0]) == list[0] && tolower(p[1]) == list[1] &&
		    tolower(p[2]) == list[2])
			return true;
	}
	return false;
}

/* LINE (LEN bytes, no newline) starts with "From ": does it carry a
   date "Www Mmm d hh:mm" after the sender? */
static bool from_line_valid(const unsigned char *line, size_t len)
{
	static const char wdays[] = "montuewedthufrisatsun";
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";

	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (size_t i = 5; i + 3 <= len; i++) {
		size_t j, d;

		if (i > 5 && line[i - 1] != ' ' && line[i - 1] != '\t')
			continue;
		if (!word3(line + i, wdays))
			continue;
		j = i + 3;
		if (j < len && line[j] == ',')
			j++;
		if (j >= len || line[j] != ' ')
			continue;
		while (j < len && line[j] == ' ')
			j++;
		if (j + 3 > len || !word3(line + j, months))
			continue;
		j += 3;
		if (j >= len || line[j] != ' ')
			continue;
		while (j < len && line[j] == ' ')
			j++;
		for (d = 0; j < len && d < 2 && isdigit(line[j]); d++)
			j++;
		if (d == 0 || j >= len || line[j] != ' ')
			continue;
		while (j < len && line[j] == ' ')
			j++;
		for (d = 0; j < len && d < 2 && isdigit(line[j]); d++)
			j++;
		if (d == 0 || j + 3 > len || line[j] != ':' ||
		    !isdigit(line[j + 1]) || !isdigit(line[j + 2]))
			continue;
		return true;
	}
	return false;
}

bool mc_store_mbox_from_line(const unsigned char *line, size_t len)
{
	return len >= 5 && memcmp(line, "From ", 5) == 0 && from_line_valid(line, len);
}

/* ------------------------------------------------------------------ */
/* The splitter                                                       */
/* ------------------------------------------------------------------ */

struct mbox_reader {
	int fd;
	uint64_t limit;		/* read up to this offset */
	uint64_t max_keep;	/* larger items are stepped over */
	unsigned char *buf;
	size_t cap, len;	/* buf[0..len) = file bytes from buf_off */
	uint64_t buf_off;
	uint64_t read_off;
	bool eof, started, done;
	/* The current item. */
	size_t start;		/* its first byte in buf (unless skipping) */
	uint64_t item_off;
	bool garbage;		/* before the first From_ line */
	bool skipping;		/* too large: bytes not kept */
	bool quoted;		/* has a >From line */
	size_t scan;		/* next line to look at, in buf */
	bool mid_line;		/* scan is inside a long line */
};

struct mbox_span {
	uint64_t offset, length;
	const unsigned char *bytes;	/* NULL when stepped over */
	bool garbage;
	bool quoted;		/* a ">From " line is in it */
	bool last;
};

static void reader_init(struct mbox_reader *r, int fd, uint64_t limit,
			uint64_t max_keep)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->limit = limit;
	r->max_keep = max_keep;
	r->cap = 2 * CHUNK;
	r->buf = mc_xmalloc(r->cap);
}

static void reader_deinit(struct mbox_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

/* Drop the bytes before KEEP, make room, read more. Returns 1 when
   bytes were read, 0 at the end, -1 on error. One byte of the buffer
   is always left free (for a NUL after a handed-over message). */
static int reader_fill(struct mbox_reader *r, size_t keep, char **error_r)
{
	ssize_t n;
	size_t want;

	if (r->eof)
		return 0;
	if (r->cap - r->len < CHUNK && keep > 0) {
		memmove(r->buf, r->buf + keep, r->len - keep);
		r->len -= keep;
		r->buf_off += keep;
		r->start = r->start >= keep ? r->start - keep : 0;
		r->scan -= keep;
	}
	if (r->cap - r->len < CHUNK) {
		r->cap = r->cap * 2 > r->len + CHUNK ? r->cap * 2 : r->len + CHUNK;
		r->buf = mc_xrealloc(r->buf, r->cap);
	}
	want = r->cap - r->len - 1;
	if (r->limit - r->read_off < want)
		want = (size_t)(r->limit - r->read_off);
	if (want == 0) {
		r->eof = true;
		return 0;
	}
	do {
		n = pread(r->fd, r->buf + r->len, want, (off_t)r->read_off);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return mc_error_errno(error_r, "read at offset %llu",
				      (unsigned long long)r->read_off);
	if (n == 0) {
		r->eof = true;
		return 0;
	}
	r->len += (size_t)n;
	r->read_off += (uint64_t)n;
	return 1;
}

/* Does the line at LS (LL bytes) start the next item? Notes >From
   quoting on the way. */
static bool line_starts_item(struct mbox_reader *r, size_t ls, size_t ll)
{
	const unsigned char *line = r->buf + ls;

	if (ll >= 5 && line[0] == 'F' && memcmp(line, "From ", 5) == 0) {
		/* Inside a message, From_ follows an empty line. */
		if (!r->garbage &&
		    !(r->buf[ls - 1] == '\n' &&
		      (r->buf[ls - 2] == '\n' || (r->buf[ls - 2] == '\r' && r->buf[ls - 3] == '\n'))))
			return false;
		return from_line_valid(line, ll);
	}
	if (line[0] == '>') {
		size_t j = 1;

		while (j < ll && line[j] == '>')
			j++;
		if (ll - j >= 5 && memcmp(line + j, "From ", 5) == 0)
			r->quoted = true;
	}
	return false;
}

/* The next item of the file: 1 with *span_r (its bytes valid until
   the next call), 0 at the end, -1 on a read error. The file is
   looked at line by line, each byte once. */
static int reader_next(struct mbox_reader *r, struct mbox_span *span_r,
		       char **error_r)
{
	size_t end = 0;
	bool found = false;

	if (r->done)
		return 0;
	if (!r->started) {
		while (r->len < 5 && !r->eof) {
			if (reader_fill(r, 0, error_r) < 0)
				return -1;
		}
		if (r->len == 0) {
			r->done = true;
			return 0;
		}
		r->started = true;
		r->start = 0;
		r->item_off = 0;
		r->garbage = !mc_store_looks_mbox(r->buf, r->len);
		r->scan = 0;
	}
	for (;;) {
		bool need_more = false;

		while (!need_more) {
			const unsigned char *nl;
			size_t ls = r->scan, avail, ll;

			if (r->mid_line) {
				nl = memchr(r->buf + ls, '\n', r->len - ls);
				if (nl == NULL) {
					r->scan = r->len;
					need_more = true;
				} else {
					r->scan = (size_t)(nl - r->buf) + 1;
					r->mid_line = false;
				}
				continue;
			}
			if (ls >= r->len) {
				need_more = true;
				continue;
			}
			avail = r->len - ls;
			nl = memchr(r->buf + ls, '\n', avail < FROM_LINE_MAX ? avail : FROM_LINE_MAX);
			if (nl == NULL && avail < FROM_LINE_MAX && !r->eof) {
				need_more = true;
				continue;
			}
			ll = nl != NULL ? (size_t)(nl - (r->buf + ls)) :
				(avail < FROM_LINE_MAX ? avail : FROM_LINE_MAX);
			/* The item's own first line is never a boundary. */
			if (r->buf_off + ls != r->item_off && line_starts_item(r, ls, ll)) {
				end = ls;
				found = true;
				break;
			}
			if (nl != NULL)
				r->scan = ls + ll + 1;
			else {
				r->scan = ls + ll;
				r->mid_line = true;
			}
		}
		if (found)
			break;
		if (r->eof) {
			end = r->len;
			break;
		}
		if (!r->skipping && r->buf_off + r->len - r->item_off > r->max_keep)
			r->skipping = true;
		/* Stepping over a large item keeps only what the empty
		   line check before the next line needs. */
		size_t keep = r->start;
		if (r->skipping)
			keep = r->scan > SKIP_KEEP ? r->scan - SKIP_KEEP : 0;
		if (reader_fill(r, keep, error_r) < 0)
			return -1;
	}
	span_r->offset = r->item_off;
	span_r->length = r->buf_off + end - r->item_off;
	span_r->garbage = r->garbage;
	span_r->quoted = r->quoted;
	span_r->bytes = r->skipping || span_r->length > r->max_keep ? NULL : r->buf + r->start;
	span_r->last = !found;
	if (!found) {
		r->done = true;
		return 1;
	}
	r->start = end;
	r->item_off = r->buf_off + end;
	r->garbage = false;
	r->skipping = false;
	r->quoted = false;
	r->scan = end;
	return 1;
}

/* A malloc()ed copy of the item just returned (SPAN), NUL-terminated;
   *at_r is where its bytes start in it. A large item gets the read
   buffer itself (the rest of the window moves to a new buffer), so
   that the bytes of big messages are not copied once more. */
static unsigned char *reader_take(struct mbox_reader *r, const struct mbox_span *span,
				  size_t *at_r)
{
	size_t at = (size_t)(span->bytes - r->buf), len = (size_t)span->length;
	size_t rest = r->len - (at + len);
	unsigned char *out;

	if (len >= 65536 && len >= rest + at) {
		size_t cap = 2 * CHUNK > rest + CHUNK ? 2 * CHUNK : rest + CHUNK;
		unsigned char *fresh = mc_xmalloc(cap);

		memcpy(fresh, r->buf + at + len, rest);
		out = r->buf;
		out[at + len] = '\0';	/* the free byte reader_fill keeps */
		r->buf = fresh;
		r->cap = cap;
		r->buf_off += at + len;
		r->len = rest;
		/* After the last item there is nothing left to look at. */
		r->start = r->start >= at + len ? r->start - (at + len) : 0;
		r->scan = r->scan >= at + len ? r->scan - (at + len) : 0;
		*at_r = at;
		return out;
	}
	out = mc_xmalloc(len + 1);
	memcpy(out, span->bytes, len);
	out[len] = '\0';
	*at_r = 0;
	return out;
}

/* The RFC 5322 message inside an mbox item's raw bytes; QUOTED: a
   ">From " line is in it, to be unquoted. */
static void msg_set_data(struct mc_store_msg *m, bool quoted)
{
	const unsigned char *raw = m->msg.raw;
	size_t n = m->msg.raw_size, start, end;
	const unsigned char *nl = memchr(raw, '\n', n);

	start = nl != NULL ? (size_t)(nl - raw) + 1 : n;
	end = n;
	if (end - start >= 2 && raw[end - 1] == '\n' && raw[end - 2] == '\n')
		end -= 1;
	else if (end - start >= 3 && raw[end - 1] == '\n' && raw[end - 2] == '\r' &&
		 raw[end - 3] == '\n')
		end -= 2;
	if (!quoted) {
		m->msg.data = raw + start;
		m->msg.size = end - start;
		return;
	}
	unsigned char *out = mc_xmalloc(end - start + 1);
	size_t o = 0;
	for (size_t i = start; i < end;) {
		const unsigned char *next = memchr(raw + i, '\n', end - i);
		size_t lend = next != NULL ? (size_t)(next - raw) + 1 : end;
		size_t j = i;

		while (j < lend && raw[j] == '>')
			j++;
		if (j > i && lend - j >= 5 && memcmp(raw + j, "From ", 5) == 0)
			i++;	/* drop one '>' */
		memcpy(out + o, raw + i, lend - i);
		o += lend - i;
		i = lend;
	}
	out[o] = '\0';
	m->databuf = out;
	m->msg.data = out;
	m->msg.size = o;
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
	int fd;			/* reading, -1 when done */
	struct mbox_reader reader;
	bool done;
};

static void mbox_destroy(struct mc_store *store)
{
	struct mbox_store *s = (struct mbox_store *)store;

	if (s->fd >= 0)
		close(s->fd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	reader_deinit(&s->reader);
	free(s->name);
	free(s->path);
	free(s->user);
	free(s->folder);
}

static int mbox_start(struct mbox_store *s, const char *uri,
		      const struct mc_store_settings *set, int dirfd,
		      struct mc_store **store_r, char **error_r)
{
	char *err = NULL;

	mc_store_base_init(&s->base, &mc_store_mbox, uri, set, mbox_destroy);
	s->dirfd = dirfd;
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
	reader_init(&s->reader, s->fd, (uint64_t)s->st.st_size,
		    s->base.limits.max_message_size);
	*store_r = &s->base;
	return 0;
}

static int mbox_open(const char *uri, const char *path,
		     const struct mc_store_settings *set,
		     struct mc_store **store_r, char **error_r)
{
	struct mbox_store *s;
	struct stat st;
	char *abs, *dir, *user, *folder = NULL;
	int dirfd;

	*store_r = NULL;
	abs = mc_path_abs(path, error_r);
	if (abs == NULL)
		return -1;
	if (stat(abs, &st) == 0 && S_ISDIR(st.st_mode)) {
		mc_error_set(error_r, "%s: is a directory, not an mbox file "
			     "(give the bare path to search the mailboxes in it)", path);
		free(abs);
		return -1;
	}
	dir = mc_path_dir(abs);
	dirfd = mc_open_dir_path(dir, error_r);
	free(dir);
	if (dirfd < 0) {
		free(abs);
		return -1;
	}
	s = mc_xcalloc(1, sizeof(*s));
	s->path = abs;
	s->name = mc_xstrdup(mc_path_base(abs));
	user = mc_store_user_from_path(abs, false, NULL, &folder);
	s->folder = folder;
	if (stat(abs, &st) == 0 && st.st_uid != 0)
		s->user = mc_store_owner_name(st.st_uid);
	if (s->user == NULL)
		s->user = user != NULL ? user : mc_xstrdup(s->name);
	else
		free(user);
	return mbox_start(s, uri, set, dirfd, store_r, error_r);
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

static int mbox_next(struct mc_store *store, struct mc_msg **msg_r, char **error_r)
{
	struct mbox_store *s = (struct mbox_store *)store;
	struct mc_store_msg *m;
	struct mbox_span span;
	char *err = NULL;
	int ret;

	if (s->done)
		return 0;
	ret = reader_next(&s->reader, &span, &err);
	if (ret == 0) {
		s->done = true;
		close(s->fd);
		s->fd = -1;
		return 0;
	}
	m = mc_store_msg_new(store, "mbox");
	m->msg.loc.path = s->path;
	m->msg.loc.user = s->user;
	m->msg.loc.folder = s->folder;
	mc_store_msg_stat(m, &s->st);
	if (ret < 0) {
		mc_store_msg_error(m, "%s: %s", s->path, err);
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
		} else if (span.bytes == NULL) {
			/* Too large: reported unscanned by its size. */
			m->msg.raw_size = m->msg.size = (size_t)span.length;
		} else {
			size_t at;

			m->buf = reader_take(&s->reader, &span, &at);
			m->msg.raw = m->buf + at;
			m->msg.raw_size = (size_t)span.length;
			msg_set_data(m, span.quoted);
		}
	}
	if (span.last) {
		s->done = true;
		close(s->fd);
		s->fd = -1;
	}
	*msg_r = &m->msg;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Locked access                                                      */
/* ------------------------------------------------------------------ */

/* Open mailbox NAME in DIRFD read-write: regular, one link, no
   symlink. With CREATE_MODE != 0 a missing mailbox is created with
   that mode and owner UID/GID. */
static int open_rw(int dirfd, const char *name, struct stat *st_r,
		   mode_t create_mode, uid_t uid, gid_t gid, char **error_r)
{
	struct stat lst;
	int fd;

	if (fstatat(dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT || create_mode == 0)
			return mc_error_errno(error_r, "%s", name);
		fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0)
			return mc_error_errno(error_r, "create %s", name);
		if (fstat(fd, st_r) < 0 ||
		    (uid != (uid_t)-1 && gid != (gid_t)-1 &&
		     (st_r->st_uid != uid || st_r->st_gid != gid) && fchown(fd, uid, gid) < 0) ||
		    fchmod(fd, create_mode & 0777) < 0 || fstat(fd, st_r) < 0) {
			mc_error_errno(error_r, "set owner and mode of %s", name);
			close(fd);
			unlinkat(dirfd, name, 0);
			return -1;
		}
		return fd;
	}
	if (S_ISLNK(lst.st_mode))
		return mc_error_set(error_r, "%s: is a symbolic link, not followed", name);
	if (!S_ISREG(lst.st_mode))
		return mc_error_set(error_r, "%s: not a regular file", name);
	if (lst.st_nlink > 1)
		return mc_error_set(error_r, "%s: has %lu hard links, refused", name,
				    (unsigned long)lst.st_nlink);
	fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return mc_error_errno(error_r, "%s", name);
	if (fstat(fd, st_r) < 0 || !mc_same_file(&lst, st_r) || !S_ISREG(st_r->st_mode) ||
	    st_r->st_nlink > 1) {
		close(fd);
		return mc_error_set(error_r, "%s: replaced while being opened", name);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

struct mbox_lock {
	struct mc_dotlock *dotlock;
	int fd;
	struct stat st;
};

/* Dotlock, open, fcntl lock, and make sure the path still names the
   locked file (a mail client may have replaced it by rename()). */
static int lock_mbox(int dirfd, const char *name, mode_t create_mode, uid_t uid,
		     gid_t gid, struct mbox_lock *lock_r, char **error_r)
{
	char *err = NULL;

	lock_r->fd = -1;
	if (mc_dotlock_acquire(dirfd, name, &lock_r->dotlock, error_r) < 0)
		return -1;
	for (int attempt = 0; attempt < 10; attempt++) {
		struct stat now;

		lock_r->fd = open_rw(dirfd, name, &lock_r->st, create_mode, uid, gid, &err);
		if (lock_r->fd < 0) {
			if (create_mode != 0 && err != NULL && strstr(err, "File exists") != NULL) {
				free(err);
				err = NULL;
				continue;
			}
			break;
		}
		if (mc_fcntl_lock(lock_r->fd, &err) < 0)
			break;
		if (fstatat(dirfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
		    mc_same_file(&now, &lock_r->st) && fstat(lock_r->fd, &lock_r->st) == 0)
			return 0;
		mc_fcntl_unlock(lock_r->fd);
		close(lock_r->fd);
		lock_r->fd = -1;
	}
	if (lock_r->fd >= 0) {
		close(lock_r->fd);
		lock_r->fd = -1;
	}
	mc_error_set(error_r, "%s: %s", name, err != NULL ? err : "replaced while being locked");
	free(err);
	mc_dotlock_release(&lock_r->dotlock);
	return -1;
}

static void unlock_mbox(struct mbox_lock *lock)
{
	if (lock->fd >= 0) {
		mc_fcntl_unlock(lock->fd);
		close(lock->fd);
		lock->fd = -1;
	}
	mc_dotlock_release(&lock->dotlock);
}

/* ------------------------------------------------------------------ */
/* Rewrite and its journal                                            */
/* ------------------------------------------------------------------ */

struct cut {
	uint64_t off, len;
};

/* Copy LEN bytes from SRC at SOFF to DST at DOFF, front to back (safe
   in one file when DOFF <= SOFF). */
static int copy_range(int src, uint64_t soff, int dst, uint64_t doff, uint64_t len,
		      unsigned char *buf)
{
	while (len > 0) {
		size_t want = len < COPY_BUF ? (size_t)len : COPY_BUF;
		ssize_t n = pread(src, buf, want, (off_t)soff);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;	/* shorter than it should be */
			return -1;
		}
		if (mc_pwrite_all(dst, buf, (size_t)n, (off_t)doff) < 0)
			return -1;
		soff += (uint64_t)n;
		doff += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* Write the file's tail after the cuts were made: SRC holds the
   original bytes from FIRST on at SRC_BASE (the mbox itself:
   SRC_BASE = FIRST; the journal: where its data starts). */
static int apply_cuts(int src, uint64_t src_base, int fd, uint64_t orig_size,
		      const struct cut *cuts, size_t cut_count, uint64_t *final_r)
{
	unsigned char *buf = mc_xmalloc(COPY_BUF);
	uint64_t first = cuts[0].off, dst = first;
	int ret = 0;

	for (size_t i = 0; i < cut_count && ret == 0; i++) {
		uint64_t from = cuts[i].off + cuts[i].len;
		uint64_t to = i + 1 < cut_count ? cuts[i + 1].off : orig_size;

		ret = copy_range(src, src_base + (from - first), fd, dst, to - from, buf);
		dst += to - from;
	}
	free(buf);
	if (ret == 0 && ftruncate(fd, (off_t)dst) < 0)
		ret = -1;
	if (ret == 0 && fsync(fd) < 0)
		ret = -1;
	*final_r = dst;
	return ret;
}

struct journal {
	int dirfd;
	char name[128];
};

static int journal_dir(struct mc_quarantine *q, char **error_r)
{
	const char *qdir = q != NULL ? mc_quarantine_dir(q) : NULL;
	int qfd, fd;

	if (qdir == NULL)
		return mc_error_set(error_r, "no quarantine directory for the rewrite journal");
	qfd = mc_open_dir_path(qdir, error_r);
	if (qfd < 0)
		return -1;
	if (mkdirat(qfd, "journal", 0700) < 0 && errno != EEXIST) {
		mc_error_errno(error_r, "%s/journal", qdir);
		close(qfd);
		return -1;
	}
	fd = mc_safe_open_dir(qfd, "journal", NULL, error_r);
	close(qfd);
	return fd;
}

static void journal_name(const char *path, char *name, size_t size)
{
	unsigned char sha[32];
	char hex[65];

	mc_sha256(path, strlen(path), sha);
	mc_hex(sha, sizeof(sha), hex);
	snprintf(name, size, "mbox-%s.tail", hex);
}

/* Save the bytes [cuts[0].off, orig_size) of FD with what is needed
   to finish or undo the rewrite. */
static int journal_write(struct journal *j, const char *path, int fd,
			 const struct stat *st, const struct cut *cuts,
			 size_t cut_count, uint64_t final_size, char **error_r)
{
	char tmp[160];
	unsigned char *buf;
	FILE *hdr;
	char *text = NULL;
	size_t text_len = 0;
	int jfd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", j->name);
	unlinkat(j->dirfd, tmp, 0);
	jfd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (jfd < 0)
		return mc_error_errno(error_r, "rewrite journal %s", tmp);
	hdr = open_memstream(&text, &text_len);
	fprintf(hdr, "mailcure mbox rewrite journal 1\npath ");
	for (const char *p = path; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\\')
			fprintf(hdr, "\\%03o", (unsigned char)*p);
		else
			fputc(*p, hdr);
	}
	fprintf(hdr, "\ndev %llu\nino %llu\nsize %llu\nfinal %llu\ncuts %zu\n",
		(unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
		(unsigned long long)st->st_size, (unsigned long long)final_size, cut_count);
	for (size_t i = 0; i < cut_count; i++)
		fprintf(hdr, "cut %llu %llu\n", (unsigned long long)cuts[i].off,
			(unsigned long long)cuts[i].len);
	fprintf(hdr, "data\n");
	fclose(hdr);
	buf = mc_xmalloc(COPY_BUF);
	if (mc_write_all(jfd, text, text_len) < 0 ||
	    copy_range(fd, cuts[0].off, jfd, text_len,
		       (uint64_t)st->st_size - cuts[0].off, buf) < 0 ||
	    fsync(jfd) < 0) {
		mc_error_errno(error_r, "rewrite journal %s", tmp);
		free(buf);
		free(text);
		close(jfd);
		unlinkat(j->dirfd, tmp, 0);
		return -1;
	}
	free(buf);
	free(text);
	close(jfd);
	if (renameat(j->dirfd, tmp, j->dirfd, j->name) < 0 || mc_fsync_dir(j->dirfd) < 0) {
		mc_error_errno(error_r, "rewrite journal %s", j->name);
		unlinkat(j->dirfd, tmp, 0);
		return -1;
	}
	return 0;
}

static void journal_delete(struct journal *j)
{
	unlinkat(j->dirfd, j->name, 0);
	mc_fsync_dir(j->dirfd);
}

/* Complete a rewrite that was interrupted (a journal exists for this
   mailbox). Returns 0 when there was nothing to do or it was done. */
static int journal_recover(struct journal *j, const char *path, struct mbox_lock *lock,
			   char **error_r)
{
	unsigned long long dev, ino, size, final, off, len;
	struct cut *cuts = NULL;
	size_t cut_count = 0, cap = 0, count;
	char line[512];
	uint64_t data_off, got_final;
	FILE *fp;
	int jfd, ret = -1;

	jfd = openat(j->dirfd, j->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (jfd < 0) {
		if (errno == ENOENT)
			return 0;
		return mc_error_errno(error_r, "rewrite journal %s", j->name);
	}
	fp = fdopen(dup(jfd), "r");
	if (fp == NULL) {
		close(jfd);
		return mc_error_errno(error_r, "rewrite journal %s", j->name);
	}
	if (fgets(line, sizeof(line), fp) == NULL ||
	    strcmp(line, "mailcure mbox rewrite journal 1\n") != 0)
		goto bad;
	/* path line (any length) */
	int c;
	while ((c = fgetc(fp)) != EOF && c != '\n')
		;
	if (fscanf(fp, "dev %llu\nino %llu\nsize %llu\nfinal %llu\ncuts %zu\n",
		   &dev, &ino, &size, &final, &count) != 5 || count == 0 || count > 10000000)
		goto bad;
	for (size_t i = 0; i < count; i++) {
		struct cut cut;

		if (fscanf(fp, "cut %llu %llu\n", &off, &len) != 2)
			goto bad;
		cut.off = off;
		cut.len = len;
		MC_ARRAY_PUSH(cuts, cut_count, cap, cut);
	}
	if (fgets(line, sizeof(line), fp) == NULL || strcmp(line, "data\n") != 0)
		goto bad;
	data_off = (uint64_t)ftell(fp);
	if ((unsigned long long)lock->st.st_dev != dev ||
	    (unsigned long long)lock->st.st_ino != ino ||
	    ((unsigned long long)lock->st.st_size != size &&
	     (unsigned long long)lock->st.st_size != final)) {
		mc_error_set(error_r, "an interrupted rewrite of %s is recorded in %s, "
			     "but the mailbox changed since; not acted on (repair it by hand)",
			     path, j->name);
		goto out;
	}
	if (apply_cuts(jfd, data_off, lock->fd, size, cuts, cut_count, &got_final) < 0 ||
	    got_final != final) {
		mc_error_errno(error_r, "completing the interrupted rewrite of %s from %s",
			       path, j->name);
		goto out;
	}
	journal_delete(j);
	fstat(lock->fd, &lock->st);
	ret = 0;
	goto out;
bad:
	mc_error_set(error_r, "rewrite journal %s for %s is unreadable; not acted on",
		     j->name, path);
out:
	fclose(fp);
	close(jfd);
	free(cuts);
	return ret;
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
	struct cut at;
};

static void fail_all(struct want *w, size_t count, const char *path, const char *err)
{
	for (size_t i = 0; i < count; i++) {
		if (w[i].removal->error == NULL)
			mc_error_set(&w[i].removal->error, "%s: %s; not removed", path, err);
	}
}

/* Find the wanted messages in the locked file. */
static int find_wanted(struct mbox_store *s, struct mbox_lock *lock, struct want *w,
		       size_t count, char **error_r)
{
	struct mbox_reader r;
	struct mbox_span span;
	int ret;

	reader_init(&r, lock->fd, (uint64_t)lock->st.st_size, s->base.limits.max_message_size);
	while ((ret = reader_next(&r, &span, error_r)) > 0) {
		unsigned char sha[32];
		bool hashed = false;
		size_t pick = count;

		if (span.garbage || span.bytes == NULL)
			continue;
		for (size_t i = 0; i < count; i++) {
			if (w[i].found || w[i].len != span.length)
				continue;
			if (!hashed) {
				mc_sha256(span.bytes, (size_t)span.length, sha);
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
	reader_deinit(&r);
	return ret < 0 ? -1 : 0;
}

static int cmp_want_off(const void *a, const void *b)
{
	const struct want *x = a, *y = b;

	if (x->cut != y->cut)
		return x->cut ? -1 : 1;
	return x->at.off < y->at.off ? -1 : x->at.off > y->at.off;
}

static void mbox_remove(struct mc_store *store, struct mc_quarantine *q,
			const char *run_id, struct mc_removal *removals, size_t count)
{
	struct mbox_store *s = (struct mbox_store *)store;
	struct want *w = mc_xcalloc(count, sizeof(*w));
	struct mbox_lock lock = { .fd = -1 };
	struct journal j = { .dirfd = -1 };
	struct cut *cuts = NULL;
	size_t cut_count = 0;
	uint64_t final;
	char *err = NULL;

	for (size_t i = 0; i < count; i++) {
		struct mc_msg *msg = removals[i].msg;

		w[i].removal = &removals[i];
		if (store->dry_run)
			mc_error_set(&removals[i].error, "dry run: not removed");
		else if (msg->read_error != NULL || msg->raw == NULL)
			mc_error_set(&removals[i].error, "%s: message at offset %lld was not "
				     "read; not removed", s->path, (long long)msg->loc.offset);
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
	j.dirfd = journal_dir(q, &err);
	if (j.dirfd < 0) {
		fail_all(w, count, s->path, err);
		goto out;
	}
	journal_name(s->path, j.name, sizeof(j.name));
	if (lock_mbox(s->dirfd, s->name, 0, (uid_t)-1, (gid_t)-1, &lock, &err) < 0) {
		fail_all(w, count, s->path, err);
		goto out;
	}
	if (journal_recover(&j, s->path, &lock, &err) < 0 ||
	    find_wanted(s, &lock, w, count, &err) < 0) {
		fail_all(w, count, s->path, err);
		goto out;
	}
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
		if (mc_store_quarantine(store, q, run_id, r) == 0)
			w[i].cut = true;
	}
	qsort(w, count, sizeof(*w), cmp_want_off);
	for (size_t i = 0; i < count && w[i].cut; i++)
		cut_count++;
	if (cut_count == 0)
		goto out;
	cuts = mc_xcalloc(cut_count, sizeof(*cuts));
	final = (uint64_t)lock.st.st_size;
	for (size_t i = 0; i < cut_count; i++) {
		cuts[i] = w[i].at;
		final -= cuts[i].len;
	}
	if (journal_write(&j, s->path, lock.fd, &lock.st, cuts, cut_count, final, &err) < 0) {
		for (size_t i = 0; i < cut_count; i++)
			mc_store_unquarantine(q, w[i].removal, "%s: the mailbox could not "
					      "be rewritten (%s)", s->path, err);
		goto out;
	}
	uint64_t got;
	if (apply_cuts(lock.fd, cuts[0].off, lock.fd, (uint64_t)lock.st.st_size, cuts,
		       cut_count, &got) < 0) {
		int saved = errno;
		unsigned char *buf = mc_xmalloc(COPY_BUF);
		bool undone;

		/* Put the original tail back from the journal. */
		int jfd = openat(j.dirfd, j.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		struct stat jst;
		undone = jfd >= 0 && fstat(jfd, &jst) == 0 &&
			copy_range(jfd, (uint64_t)jst.st_size - ((uint64_t)lock.st.st_size - cuts[0].off),
				   lock.fd, cuts[0].off,
				   (uint64_t)lock.st.st_size - cuts[0].off, buf) == 0 &&
			ftruncate(lock.fd, lock.st.st_size) == 0 && fsync(lock.fd) == 0;
		if (jfd >= 0)
			close(jfd);
		free(buf);
		if (undone)
			journal_delete(&j);
		for (size_t i = 0; i < cut_count; i++) {
			if (undone)
				mc_store_unquarantine(q, w[i].removal, "%s: rewriting the "
						      "mailbox failed (%s), it was put back "
						      "unchanged", s->path, strerror(saved));
			else
				/* The journal completes the rewrite next time:
				   the quarantine copy stays, matching it. */
				mc_error_set(&w[i].removal->error, "%s: rewriting the mailbox "
					     "failed (%s) and could not be undone; the "
					     "rewrite will be completed from the journal "
					     "%s in the quarantine on the next clean of "
					     "this mailbox", s->path, strerror(saved), j.name);
		}
		goto out;
	}
	/* Keep atime: "new mail" indicators compare it with mtime. */
	struct timespec ts[2] = { lock.st.st_atim, { .tv_sec = 0, .tv_nsec = UTIME_NOW } };
	(void)futimens(lock.fd, ts);
	journal_delete(&j);
	for (size_t i = 0; i < cut_count; i++)
		w[i].removal->removed = true;
out:
	unlock_mbox(&lock);
	if (j.dirfd >= 0)
		close(j.dirfd);
	free(err);
	free(cuts);
	free(w);
}

/* ------------------------------------------------------------------ */
/* Restore                                                            */
/* ------------------------------------------------------------------ */

static int mbox_restore(const struct mc_qentry *entry, const void *raw,
			size_t raw_size, char **error_r)
{
	const char *path = entry->loc.path;
	const unsigned char *p = raw;
	struct mbox_lock lock = { .fd = -1 };
	unsigned char tail[2];
	const char *pre = "", *post = "";
	char *dir, *err = NULL;
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
	if (lock_mbox(dirfd, mc_path_base(path), mode != 0 ? mode : 0600,
		      entry->loc.uid, entry->loc.gid, &lock, &err) < 0) {
		mc_error_set(error_r, "%s: cannot lock: %s", path, err);
		free(err);
		close(dirfd);
		return -1;
	}
	size = (uint64_t)lock.st.st_size;
	if (size > 0) {
		size_t n = size >= 2 ? 2 : 1;
		if (pread(lock.fd, tail, n, (off_t)(size - n)) != (ssize_t)n) {
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
	if (mc_pwrite_all(lock.fd, pre, strlen(pre), (off_t)at) < 0 ||
	    mc_pwrite_all(lock.fd, raw, raw_size, (off_t)(at += strlen(pre))) < 0 ||
	    mc_pwrite_all(lock.fd, post, strlen(post), (off_t)(at + raw_size)) < 0 ||
	    fsync(lock.fd) < 0) {
		mc_error_errno(error_r, "%s: append", path);
		if (ftruncate(lock.fd, (off_t)size) == 0)
			fsync(lock.fd);
		goto out;
	}
	ret = 0;
out:
	unlock_mbox(&lock);
	mc_fsync_dir(dirfd);
	close(dirfd);
	return ret;
}

static bool mbox_detect(int dirfd, const char *path)
{
	unsigned char buf[5];
	struct stat st;
	ssize_t n;
	int fd = openat(dirfd, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

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
	.close = mc_store_close_op,
	.restore = mbox_restore,
};
