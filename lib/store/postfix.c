/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	postfix 3
/* SUMMARY
/*	the Postfix queue as a mail store
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	extern const struct mc_store_ops mc_store_postfix;
/*
/*	#include "store/store-private.h"
/*
/*	int mc_store_postfix_parse(const unsigned char *buf, size_t len,
/*		bool envelope_only, char **sender_r, size_t *rcpt_count_r,
/*		unsigned char **content_r, size_t *content_len_r,
/*		char **error_r);
/* DESCRIPTION
/*	The store "postfix:[CONFIG_DIR]" yields every message queued by
/*	the Postfix instance of CONFIG_DIR (default: the one postconf
/*	reports): the incoming, active, deferred, hold and maildrop
/*	queues, in that order, each in queue id order. A message seen
/*	twice (moved to another queue during the walk) is yielded once.
/*
/*	Queue files are read directly and read-only. msg->raw is the
/*	queue file exactly as found (what the quarantine keeps);
/*	msg->data is the RFC 5322 message reassembled from its content
/*	records. The envelope (sender, recipients still to be delivered,
/*	arrival time) is in msg->loc, with loc.queue_id, and loc.folder
/*	naming the queue.
/*
/*	The queue file format (Postfix rec_type.h, record.c): a sequence
/*	of records, each a type byte, a length in base 128 (low 7 bits
/*	first, high bit set on all but the last length byte) and that
/*	many bytes of data. Segments: envelope (C size, T time, S sender,
/*	R recipient, D done, A attributes, ...) up to M; content (N line,
/*	L line continued without newline) up to X; extracted (more R,
/*	...) up to E. A "p" record points (decimal file offset) at
/*	records that cleanup appended after E when it edited the file;
/*	"w" is padding. The parser is defensive: every length is checked
/*	against the file, pointers must stay inside it, and the bytes
/*	of records read are bounded by the file size, so that a pointer
/*	loop ends before the parser has read more than the file holds. A file that ends before E, or holds a record that
/*	does not belong where it is, is reported as a read error naming
/*	the queue id and the offset; the walk goes on.
/*	mc_store_postfix_parse() is that parser alone, over a queue file
/*	in memory (for the fuzz target).
/*
/*	Removal (mailcure queue delete) takes batches of matched
/*	messages. A message is removed only when it cannot be in
/*	delivery: the queue is frozen (no queue manager; and no Postfix
/*	process has the file open), or the message is on hold. Without
/*	a freeze, matched messages are first put on hold with postsuper
/*	-h. Each message is then re-opened where it now is, checked to
/*	be the same inode with the same SHA-256 as when it was scanned
/*	(queue ids are reused), written to the quarantine with its
/*	envelope, and only then deleted with "postsuper -d -". Deletion
/*	never bounces. Messages in the maildrop queue are removed only
/*	while Postfix is stopped (pickup may be reading them).
/*
/*	Restore re-injects the message with its original envelope
/*	sender and recipients: sendmail -G -i -f SENDER -- RCPT... It
/*	first looks for the queue id in every queue: a queue file of
/*	that id holding the same message means the removal was killed
/*	between the quarantine and "postsuper -d", the message is still
/*	queued, and the restore is refused rather than deliver it twice.
/* SECURITY
/*	Runs as root. Queue directories are opened below the queue
/*	directory with mc_safe_open_dir, files with mc_safe_open_file
/*	(no symlinks, one link only, never blocking). Nothing in the
/*	queue is written by mailcure; changes go through postsuper.
/*--*/

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "store-private.h"
#include "postfix_ctl.h"

/* Messages removed together (one postsuper run per batch). */
#define REMOVE_BATCH 64
/* Queue file overhead over the message itself (envelope records). */
#define ENVELOPE_SLACK (4U << 20)
/* Hashed queue directories nest at most this deep. */
#define MAX_HASH_DEPTH 4

/* ------------------------------------------------------------------ */
/* Queue file records                                                  */
/* ------------------------------------------------------------------ */

struct qf_parsed {
	char *sender;
	bool have_sender;
	char **rcpts;		/* still to be delivered */
	size_t rcpt_count, rcpt_cap;
	size_t done_count;	/* delivered or cancelled */
	time_t arrival;
	unsigned char *content;
	size_t content_len, content_cap;
};

static void qf_parsed_clear(struct qf_parsed *p)
{
	free(p->sender);
	for (size_t i = 0; i < p->rcpt_count; i++)
		free(p->rcpts[i]);
	free(p->rcpts);
	free(p->content);
	memset(p, 0, sizeof(*p));
}

static void content_add(struct qf_parsed *p, const unsigned char *data,
			size_t len, bool newline)
{
	size_t need = p->content_len + len + 2;

	if (need > p->content_cap) {
		p->content_cap = need * 2;
		p->content = mc_xrealloc(p->content, p->content_cap);
	}
	memcpy(p->content + p->content_len, data, len);
	p->content_len += len;
	if (newline)
		p->content[p->content_len++] = '\n';
	p->content[p->content_len] = '\0';
}

static char *record_string(const unsigned char *data, size_t len)
{
	/* An embedded NUL ends the string, as it does for Postfix. */
	return mc_xstrndup((const char *)data, strnlen((const char *)data, len));
}

enum qf_segment { SEG_ENVELOPE, SEG_CONTENT, SEG_EXTRACT };

/* Record types that may appear in each segment (rec_type.h), besides
   the pointer and padding records allowed everywhere. */
static const char env_types[] = "MCTcFILSDRO/WVA>K<iondfm";
static const char content_types[] = "XLNE";
static const char extract_types[] = "EDRO/PreAFIL>K<ion";

/* The record at *POS of BUF (LEN bytes): its type, data and length;
   *POS moves past it. -1 when it does not fit in the file. */
static int record_next(const unsigned char *buf, size_t len, size_t *pos,
		       int *type_r, const unsigned char **data_r, size_t *rlen_r,
		       char **error_r)
{
	size_t start = *pos, rlen = 0;
	unsigned shift = 0;
	int type;

	if (*pos >= len)
		return mc_error_set(error_r, "truncated queue file: %zu bytes, "
				    "no end record", len);
	type = buf[(*pos)++];
	for (;;) {
		unsigned char c;

		if (*pos >= len)
			return mc_error_set(error_r, "truncated queue file: record "
					    "length at offset %zu cut off", start);
		c = buf[(*pos)++];
		if (shift > 28)
			return mc_error_set(error_r, "corrupt queue file: record "
					    "length at offset %zu too long", start);
		rlen |= (size_t)(c & 0x7f) << shift;
		if ((c & 0x80) == 0)
			break;
		shift += 7;
	}
	if (rlen > len - *pos)
		return mc_error_set(error_r, "truncated queue file: record at offset "
				    "%zu (type '%c', %zu bytes) goes past the end "
				    "of the file (%zu bytes)", start,
				    type >= 0x20 && type < 0x7f ? type : '?', rlen, len);
	*type_r = type;
	*data_r = buf + *pos;
	*rlen_r = rlen;
	*pos += rlen;
	return 0;
}

/* The offset a pointer record (at START, DATA of RLEN bytes) leads to
   in a file of LEN bytes, 0 for a placeholder; -1 when it is not a
   pointer into the file. */
static int pointer_target(const unsigned char *data, size_t rlen, size_t start,
			  size_t len, size_t *off_r, char **error_r)
{
	/* "%15ld": blanks, then decimal; 0 is a placeholder. */
	size_t i = 0, off = 0;

	while (i < rlen && data[i] == ' ')
		i++;
	if (i == rlen)
		return mc_error_set(error_r, "corrupt queue file: empty pointer "
				    "record at offset %zu", start);
	for (; i < rlen; i++) {
		if (data[i] < '0' || data[i] > '9' || off > len)
			return mc_error_set(error_r, "corrupt queue file: bad pointer "
					    "record at offset %zu", start);
		off = off * 10 + (size_t)(data[i] - '0');
	}
	if (off != 0 && (off >= len || off == start))
		return mc_error_set(error_r, "corrupt queue file: pointer at offset "
				    "%zu to %zu, outside the file", start, off);
	*off_r = off;
	return 0;
}

/* Parse the queue file BUF. With ENVELOPE_ONLY, stop successfully at
   the start of the content (BUF may then be the head of a file). */
static int qf_parse(const unsigned char *buf, size_t len, bool envelope_only,
		    struct qf_parsed *p, char **error_r)
{
	enum qf_segment seg = SEG_ENVELOPE;
	/* Pointers lead to each record once: reading more bytes of
	   records than the file holds means a pointer loop. (A bound on
	   the number of records would let a loop through a large record
	   read it that many times.) */
	size_t pos = 0, consumed = 0;

	memset(p, 0, sizeof(*p));
	p->arrival = (time_t)-1;
	for (;;) {
		size_t start = pos, rlen = 0, off = 0;
		const unsigned char *data = NULL;
		int type = 0;

		if (record_next(buf, len, &pos, &type, &data, &rlen, error_r) < 0)
			goto fail;
		consumed += pos - start;
		if (consumed > len) {
			mc_error_set(error_r, "corrupt queue file: pointer records loop");
			goto fail;
		}

		if (type == 'w')
			continue;
		if (type == 'p') {
			if (pointer_target(data, rlen, start, len, &off, error_r) < 0)
				goto fail;
			if (off != 0)
				pos = off;
			continue;
		}
		const char *allowed = seg == SEG_ENVELOPE ? env_types :
			seg == SEG_CONTENT ? content_types : extract_types;
		if (type == 0 || strchr(allowed, type) == NULL) {
			mc_error_set(error_r, "corrupt queue file: unexpected record type "
				     "0x%02x in the %s at offset %zu", (unsigned)type,
				     seg == SEG_ENVELOPE ? "envelope" :
				     seg == SEG_CONTENT ? "message content" :
				     "extracted information", start);
			goto fail;
		}
		switch (type) {
		case 'T':
			if (seg == SEG_ENVELOPE && p->arrival == (time_t)-1) {
				char tmp[32];
				size_t n = rlen < sizeof(tmp) - 1 ? rlen : sizeof(tmp) - 1;
				memcpy(tmp, data, n);
				tmp[n] = '\0';
				p->arrival = (time_t)strtoll(tmp, NULL, 10);
			}
			break;
		case 'S':
			if (!p->have_sender) {
				p->sender = record_string(data, rlen);
				p->have_sender = true;
			}
			break;
		case 'R':
			MC_ARRAY_PUSH(p->rcpts, p->rcpt_count, p->rcpt_cap,
				      record_string(data, rlen));
			break;
		case 'D':
		case '/':
			p->done_count++;
			break;
		case 'M':
			if (envelope_only) {
				if (!p->have_sender) {
					mc_error_set(error_r, "corrupt queue file: no sender record");
					goto fail;
				}
				return 0;
			}
			seg = SEG_CONTENT;
			break;
		case 'N':
		case 'L':
			if (seg == SEG_CONTENT)
				content_add(p, data, rlen, type == 'N');
			break;
		case 'X':
			seg = SEG_EXTRACT;
			break;
		case 'E':
			if (!p->have_sender) {
				mc_error_set(error_r, "corrupt queue file: no sender record");
				goto fail;
			}
			if (p->content == NULL)
				content_add(p, (const unsigned char *)"", 0, false);
			return 0;
		default:
			break;
		}
	}
fail:
	qf_parsed_clear(p);
	return -1;
}

int mc_store_postfix_parse(const unsigned char *buf, size_t len, bool envelope_only,
			   char **sender_r, size_t *rcpt_count_r,
			   unsigned char **content_r, size_t *content_len_r,
			   char **error_r)
{
	struct qf_parsed p;

	if (qf_parse(buf, len, envelope_only, &p, error_r) < 0)
		return -1;
	*sender_r = p.sender;
	*rcpt_count_r = p.rcpt_count;
	*content_r = p.content;
	*content_len_r = p.content_len;
	p.sender = NULL;
	p.content = NULL;
	qf_parsed_clear(&p);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The store                                                           */
/* ------------------------------------------------------------------ */

struct qf_entry {
	unsigned queue;
	char *dir_rel;		/* "deferred" or "deferred/A" */
	char *id;		/* "" for a directory that could not be read */
	char *error;		/* why not */
};

struct postfix_store {
	struct mc_store base;
	struct mc_postfix *pf;
	int qfd;		/* queue directory */
	unsigned queue_mask;	/* bit per mc_postfix_queues[] */
	/* Walk state, only touched by next(). */
	unsigned queue;		/* next queue to list */
	struct qf_entry *entries;
	size_t entry_count, entry_pos;
	GHashTable *seen;	/* queue ids already yielded */
	uint64_t yielded;
};

struct postfix_msg {
	struct mc_store_msg m;	/* first: freed by the base */
	unsigned queue;		/* where it was found */
	unsigned char sha256[32];	/* of raw */
	unsigned char *content;	/* data, owned */
	char *sender;
	char **rcpts;
	size_t rcpt_count;
};

static void entries_clear(struct postfix_store *ps)
{
	for (size_t i = 0; i < ps->entry_count; i++) {
		free(ps->entries[i].dir_rel);
		free(ps->entries[i].id);
		free(ps->entries[i].error);
	}
	ps->entry_count = ps->entry_pos = 0;
}

static void postfix_destroy(struct mc_store *store)
{
	struct postfix_store *ps = (struct postfix_store *)store;

	entries_clear(ps);
	free(ps->entries);
	if (ps->seen != NULL)
		g_hash_table_destroy(ps->seen);
	if (ps->qfd >= 0)
		close(ps->qfd);
	mc_postfix_free(&ps->pf);
}

void mc_store_postfix_set_queues(struct mc_store *store, unsigned mask)
{
	((struct postfix_store *)store)->queue_mask = mask;
}

static bool postfix_detect(int dirfd, const char *path)
{
	return false;
}

static int postfix_open(const char *uri, const char *path,
			const struct mc_store_settings *set,
			struct mc_store **store_r, char **error_r)
{
	struct postfix_store *ps = mc_xcalloc(1, sizeof(*ps));

	ps->qfd = -1;
	mc_store_base_init(&ps->base, &mc_store_postfix, uri, set, postfix_destroy);
	ps->queue_mask = (1U << MC_POSTFIX_QUEUE_COUNT) - 1;
	if (mc_postfix_open(path != NULL && path[0] != '\0' ? path : NULL,
			    &ps->pf, error_r) < 0) {
		mc_store_unref(&ps->base);
		return -1;
	}
	ps->qfd = mc_open_dir_path(ps->pf->queue_dir, NULL, error_r);
	if (ps->qfd < 0) {
		if (error_r != NULL) {
			char *e = *error_r;
			*error_r = mc_xasprintf("Postfix queue directory: %s", e);
			free(e);
		}
		mc_store_unref(&ps->base);
		return -1;
	}
	ps->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	*store_r = &ps->base;
	return 0;
}

/* A directory of the queue that could not be read is reported, as a
   message that could not be read, and the walk goes on. */
static void list_error(struct postfix_store *ps, const char *dir_rel,
		       unsigned queue, const char *why, size_t *cap)
{
	struct qf_entry e = {
		.queue = queue,
		.dir_rel = mc_xstrdup(dir_rel),
		.id = mc_xstrdup(""),
		.error = mc_xasprintf("cannot read the Postfix queue in %s: %s",
				      ps->pf->queue_dir, why),
	};
	MC_ARRAY_PUSH(ps->entries, ps->entry_count, *cap, e);
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct qf_entry *)a)->id, ((const struct qf_entry *)b)->id);
}

/* List queue files below DIRFD (DIR_REL) into the store's entries. */
static void list_dir(struct postfix_store *ps, int dirfd, const char *dir_rel,
		     unsigned queue, unsigned depth, size_t *cap)
{
	DIR *dir = mc_dir_list(dirfd);
	struct dirent *de;

	if (dir == NULL) {
		char *why = mc_xasprintf("%s: %s", dir_rel, strerror(errno));
		list_error(ps, dir_rel, queue, why, cap);
		free(why);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && strlen(de->d_name) == 1 &&
		    depth < MAX_HASH_DEPTH) {
			char *rel = mc_xasprintf("%s/%s", dir_rel, de->d_name);
			char *err = NULL;
			int sub = mc_safe_open_dir(dirfd, de->d_name, NULL, &err);

			if (sub >= 0) {
				list_dir(ps, sub, rel, queue, depth + 1, cap);
				close(sub);
			} else {
				/* It was a directory a moment ago. */
				char *why = mc_xasprintf("%s/%s", dir_rel, err);
				list_error(ps, rel, queue, why, cap);
				free(why);
			}
			free(err);
			free(rel);
			continue;
		}
		if (!S_ISREG(st.st_mode) || !mc_postfix_queue_id_ok(de->d_name))
			continue;
		/* A file without mode 0700 is still being written by
		   cleanup or postdrop: not queued yet. */
		if ((st.st_mode & S_IRWXU) != S_IRWXU)
			continue;
		struct qf_entry e = {
			.queue = queue,
			.dir_rel = mc_xstrdup(dir_rel),
			.id = mc_xstrdup(de->d_name),
		};
		MC_ARRAY_PUSH(ps->entries, ps->entry_count, *cap, e);
	}
	closedir(dir);
}

/* Fill entries with the next queue that has any. */
static bool list_next_queue(struct postfix_store *ps)
{
	entries_clear(ps);
	while (ps->queue < MC_POSTFIX_QUEUE_COUNT) {
		unsigned q = ps->queue++;
		size_t cap = 0;
		char *err = NULL;
		struct stat st;
		int fd;

		if ((ps->queue_mask & (1U << q)) == 0)
			continue;
		free(ps->entries);
		ps->entries = NULL;
		/* A queue directory that does not exist holds no mail. */
		if (fstatat(ps->qfd, mc_postfix_queues[q], &st, AT_SYMLINK_NOFOLLOW) < 0 &&
		    errno == ENOENT)
			continue;
		fd = mc_safe_open_dir(ps->qfd, mc_postfix_queues[q], NULL, &err);
		if (fd < 0) {
			list_error(ps, mc_postfix_queues[q], q, err, &cap);
			free(err);
		} else {
			list_dir(ps, fd, mc_postfix_queues[q], q, 0, &cap);
			close(fd);
		}
		if (ps->entry_count > 0) {
			qsort(ps->entries, ps->entry_count, sizeof(*ps->entries), entry_cmp);
			return true;
		}
	}
	return false;
}

static void postfix_msg_fill(struct postfix_msg *pm, struct qf_parsed *parsed)
{
	pm->content = parsed->content;
	pm->sender = parsed->sender;
	pm->rcpts = parsed->rcpts;
	pm->rcpt_count = parsed->rcpt_count;
	parsed->content = NULL;
	parsed->sender = NULL;
	parsed->rcpts = NULL;
	parsed->rcpt_count = 0;
	pm->m.msg.data = pm->content;
	pm->m.msg.size = parsed->content_len;
	pm->m.msg.loc.envelope_sender = pm->sender;
	pm->m.msg.loc.recipients = (const char *const *)pm->rcpts;
	pm->m.msg.loc.recipient_count = pm->rcpt_count;
	pm->m.msg.loc.arrival_time = parsed->arrival;
	qf_parsed_clear(parsed);
}

/* Read and parse one queue file into a new message. Returns NULL when
   the file is gone (delivered or moved since it was listed). */
static struct postfix_msg *read_entry(struct postfix_store *ps,
				      const struct qf_entry *e)
{
	struct postfix_msg *pm = mc_xcalloc(1, sizeof(*pm));
	struct mc_store_msg *m = &pm->m;
	char *err = NULL;
	struct stat st;
	int dfd, fd;

	mc_store_msg_init(&ps->base, m, "postfix");
	m->dir_rel = mc_xstrdup(e->dir_rel);
	m->name = mc_xstrdup(e->id);
	m->msg.loc.queue_id = m->name;
	m->msg.loc.folder = mc_postfix_queues[e->queue];
	pm->queue = e->queue;
	/* Every message is its own container; removals are batched. */
	m->container_last = ++ps->yielded % REMOVE_BATCH == 0;

	dfd = mc_store_open_rel_dir(ps->qfd, e->dir_rel, &err);
	if (dfd < 0) {
		mc_store_msg_error(m, "%s", err);
		free(err);
		return pm;
	}
	fd = mc_safe_open_file(dfd, e->id, true, &st, &err);
	if (fd < 0) {
		bool gone = errno == ENOENT;
		close(dfd);
		if (gone) {
			free(err);
			mc_store_msg_free_op(&ps->base, (struct mc_msg **)&pm);
			return NULL;
		}
		mc_store_msg_error(m, "%s/%s: %s", e->dir_rel, e->id, err);
		free(err);
		return pm;
	}
	close(dfd);
	mc_store_msg_stat(m, &st);
	if ((uint64_t)st.st_size > ps->base.limits.max_message_size + ENVELOPE_SLACK) {
		/* Not read: reported as unscanned by size. Its envelope,
		   at the start of the file, is still worth showing. */
		unsigned char *head = mc_xmalloc(ENVELOPE_SLACK);
		ssize_t n = pread(fd, head, ENVELOPE_SLACK, 0);
		struct qf_parsed parsed;

		if (n > 0 && qf_parse(head, (size_t)n, true, &parsed, NULL) == 0)
			postfix_msg_fill(pm, &parsed);
		free(head);
		pm->m.msg.data = NULL;
		m->msg.size = m->msg.raw_size = (size_t)st.st_size;
		close(fd);
		return pm;
	}
	unsigned char *buf;
	size_t len;
	if (mc_read_fd(fd, (size_t)st.st_size, &buf, &len, &err) < 0) {
		if (errno == EFBIG)
			mc_store_msg_error(m, "queue file grew while being read");
		else
			mc_store_msg_error(m, "%s", err);
		free(err);
		close(fd);
		return pm;
	}
	close(fd);
	m->buf = buf;
	m->msg.raw = buf;
	m->msg.raw_size = len;
	mc_sha256(buf, len, pm->sha256);

	struct qf_parsed parsed;
	if (qf_parse(buf, len, false, &parsed, &err) < 0) {
		mc_store_msg_error(m, "%s", err);
		free(err);
		/* Nothing of a corrupt file is scanned or acted on. */
		m->msg.raw = NULL;
		m->msg.raw_size = 0;
		m->msg.size = len;
		return pm;
	}
	postfix_msg_fill(pm, &parsed);
	return pm;
}

static int postfix_next(struct mc_store *store, struct mc_msg **msg_r,
			char **error_r)
{
	struct postfix_store *ps = (struct postfix_store *)store;

	for (;;) {
		if (ps->entry_pos >= ps->entry_count && !list_next_queue(ps))
			return 0;
		const struct qf_entry *e = &ps->entries[ps->entry_pos++];
		if (e->error != NULL) {
			struct postfix_msg *pm = mc_xcalloc(1, sizeof(*pm));

			mc_store_msg_init(&ps->base, &pm->m, "postfix");
			pm->m.msg.loc.folder = mc_postfix_queues[e->queue];
			pm->m.path = mc_xasprintf("%s/%s", ps->pf->queue_dir, e->dir_rel);
			pm->m.msg.loc.path = pm->m.path;
			pm->m.container_last = true;
			mc_store_msg_error(&pm->m, "%s", e->error);
			*msg_r = &pm->m.msg;
			return 1;
		}
		if (g_hash_table_contains(ps->seen, e->id))
			continue;
		struct postfix_msg *pm = read_entry(ps, e);
		if (pm == NULL)
			continue;
		g_hash_table_add(ps->seen, g_strdup(e->id));
		*msg_r = &pm->m.msg;
		return 1;
	}
}

static void postfix_msg_free(struct mc_store *store, struct mc_msg **msgp)
{
	struct postfix_msg *pm = (struct postfix_msg *)*msgp;

	if (pm == NULL)
		return;
	free(pm->content);
	free(pm->sender);
	for (size_t i = 0; i < pm->rcpt_count; i++)
		free(pm->rcpts[i]);
	free(pm->rcpts);
	pm->content = NULL;
	pm->sender = NULL;
	pm->rcpts = NULL;
	mc_store_msg_free_op(store, msgp);
}

/* ------------------------------------------------------------------ */
/* Removal                                                             */
/* ------------------------------------------------------------------ */

/* Find queue file ID in the queue directory tree DIR_REL (hashed
   subdirectories included). Returns the directory (relative to the
   queue directory) holding it, or NULL. */
static char *locate(int qfd, const char *dir_rel, const char *id, unsigned depth)
{
	int dfd = mc_store_open_rel_dir(qfd, dir_rel, NULL);
	struct stat st;
	char *found = NULL;

	if (dfd < 0)
		return NULL;
	if (fstatat(dfd, id, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		close(dfd);
		return mc_xstrdup(dir_rel);
	}
	if (depth < MAX_HASH_DEPTH) {
		DIR *dir = mc_dir_list(dfd);
		struct dirent *de;

		if (dir != NULL) {
			while (found == NULL && (de = readdir(dir)) != NULL) {
				if (de->d_name[0] == '.' || strlen(de->d_name) != 1 ||
				    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
				    !S_ISDIR(st.st_mode))
					continue;
				char *sub = mc_xasprintf("%s/%s", dir_rel, de->d_name);
				found = locate(qfd, sub, id, depth + 1);
				free(sub);
			}
			closedir(dir);
		}
	}
	close(dfd);
	return found;
}

/* Quarantine one message with its envelope. */
static int quarantine_one(struct postfix_store *ps, struct mc_quarantine *q,
			  const char *run_id, struct mc_removal *r,
			  const unsigned char *raw, size_t raw_size)
{
	struct mc_msg *msg = r->msg;
	struct mc_qentry meta;
	struct mc_facts *facts;
	int ret;

	memset(&meta, 0, sizeof(meta));
	meta.run_id = (char *)run_id;
	meta.loc = msg->loc;
	if (r->match != NULL) {
		meta.reasons = r->match->reasons;
		meta.reason_count = r->match->reason_count;
	}
	meta.envelope_sender = (char *)(msg->loc.envelope_sender != NULL ?
					msg->loc.envelope_sender : "");
	meta.recipients = (char **)msg->loc.recipients;
	meta.recipient_count = msg->loc.recipient_count;
	meta.arrival_time = msg->loc.arrival_time;
	facts = mc_facts_init(msg, &ps->base.limits);
	if (facts != NULL) {
		meta.from = (char *)mc_facts_header(facts, "From");
		meta.subject = (char *)mc_facts_header(facts, "Subject");
		meta.message_id = (char *)mc_facts_header(facts, "Message-ID");
	}
	ret = mc_quarantine_put(q, &meta, raw, raw_size, &r->quarantine_id, &r->error);
	mc_facts_free(&facts);
	if (ret < 0 && r->error == NULL)
		r->error = mc_xstrdup("quarantine failed: not removed");
	return ret;
}

struct pending_removal {
	struct mc_removal *r;
	struct postfix_msg *pm;
	char *dir_rel;		/* where it is now */
	bool held_by_us;
	bool ok;		/* still going */
	unsigned char *raw;	/* as re-read */
	size_t raw_size;
};

static void fail(struct pending_removal *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(struct pending_removal *p, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (p->held_by_us) {
		char *t = mc_xasprintf("%s; left on hold (mailcure queue release %s)",
				       s, p->pm->m.name);
		free(s);
		s = t;
	}
	free(p->r->error);
	p->r->error = s;
	p->ok = false;
}

/* Phase 1: which of the COUNT messages may be removed at all, and
   where each is. Refuses what may be in delivery, and maildrop files
   pickup may be reading. */
static void remove_admit(struct postfix_store *ps, struct mc_quarantine *q,
			 struct pending_removal *pend, struct mc_removal *removals,
			 size_t count, pid_t master, bool frozen)
{
	struct mc_postfix_open_files open_files;

	mc_postfix_open_files(ps->pf, &open_files);
	for (size_t i = 0; i < count; i++) {
		struct pending_removal *p = &pend[i];

		p->r = &removals[i];
		p->pm = (struct postfix_msg *)removals[i].msg;
		p->ok = true;
		if (q == NULL) {
			fail(p, "no quarantine: not removed");
			continue;
		}
		if (p->r->msg->read_error != NULL || p->r->msg->raw == NULL) {
			fail(p, "message was not read: not removed");
			continue;
		}
		const char *qname = mc_postfix_queues[p->pm->queue];
		if (strcmp(qname, "maildrop") == 0 && master != 0) {
			fail(p, "in the maildrop queue, where Postfix's pickup may be "
			     "reading it: not removed (run again once Postfix has "
			     "queued it)");
			continue;
		}
		if (frozen && mc_postfix_file_open(&open_files, p->pm->m.dev, p->pm->m.ino)) {
			fail(p, "being delivered (a Postfix process has it open): "
			     "not removed");
			continue;
		}
		if (!frozen && strcmp(qname, "active") == 0) {
			fail(p, "in the active queue, where it may be in delivery: not "
			     "removed (freeze the queue first: mailcure queue freeze)");
			continue;
		}
		p->dir_rel = mc_xstrdup(p->pm->m.dir_rel);
	}
	mc_postfix_open_files_clear(&open_files);
}

static bool pending_in(const struct pending_removal *p, const char *qname)
{
	return p->ok && strcmp(mc_postfix_queues[p->pm->queue], qname) == 0;
}

/* Phase 2, when the queue is not frozen: put the messages still going
   on hold, so that nothing delivers them while they are checked and
   quarantined, and find each again in the hold queue. IDS and DONE
   are scratch arrays of COUNT + 1. */
static void remove_hold(struct postfix_store *ps, struct pending_removal *pend,
			size_t count, const char **ids, bool *done)
{
	static const char *const hold_from[] = { "incoming", "deferred" };
	char *err = NULL;

	for (size_t k = 0; k < 2; k++) {
		size_t n = 0;

		for (size_t i = 0; i < count; i++) {
			if (pending_in(&pend[i], hold_from[k]))
				ids[n++] = pend[i].pm->m.name;
		}
		if (n == 0)
			continue;
		if (mc_postfix_postsuper(ps->pf, MC_POSTSUPER_HOLD, hold_from[k],
					 ids, n, done, &err) < 0) {
			for (size_t i = 0; i < count; i++) {
				if (pending_in(&pend[i], hold_from[k]))
					fail(&pend[i], "could not be put on hold: %s", err);
			}
			free(err);
			err = NULL;
			continue;
		}
		for (size_t i = 0; i < count; i++) {
			struct pending_removal *p = &pend[i];

			if (!pending_in(p, hold_from[k]))
				continue;
			free(p->dir_rel);
			p->dir_rel = locate(ps->qfd, "hold", p->pm->m.name, 0);
			if (p->dir_rel == NULL) {
				fail(p, "left the %s queue before it could be put on "
				     "hold (in delivery?): not removed; freeze the "
				     "queue first (mailcure queue freeze)", hold_from[k]);
				continue;
			}
			p->held_by_us = true;
		}
	}
}

/* Phase 3: re-read P where it is now into p->raw; the same file with
   the same bytes as scanned (queue ids are reused)? 0 yes, -1 no
   (P failed). */
static int remove_verify(struct postfix_store *ps, struct pending_removal *p)
{
	struct stat st;
	unsigned char sha[32];
	char *err = NULL;
	int dfd, fd;

	dfd = mc_store_open_rel_dir(ps->qfd, p->dir_rel, &err);
	fd = dfd < 0 ? -1 : mc_safe_open_file(dfd, p->pm->m.name, true, &st, &err);
	if (dfd >= 0)
		close(dfd);
	if (fd < 0) {
		fail(p, "%s: not removed", err);
		free(err);
		return -1;
	}
	if (st.st_dev != p->pm->m.dev || st.st_ino != p->pm->m.ino) {
		close(fd);
		fail(p, "queue id %s now names another queue file: not removed",
		     p->pm->m.name);
		return -1;
	}
	if (mc_read_fd(fd, p->r->msg->raw_size, &p->raw, &p->raw_size, &err) < 0) {
		close(fd);
		fail(p, "queue file changed since it was scanned (%s): not removed",
		     err);
		free(err);
		return -1;
	}
	close(fd);
	mc_sha256(p->raw, p->raw_size, sha);
	if (memcmp(sha, p->pm->sha256, 32) != 0) {
		fail(p, "queue file changed since it was scanned: not removed");
		return -1;
	}
	return 0;
}

/* Phase 3 for the batch: what is still the message scanned goes to
   the quarantine, with its envelope. */
static void remove_quarantine(struct postfix_store *ps, struct mc_quarantine *q,
			      const char *run_id, struct pending_removal *pend,
			      size_t count)
{
	for (size_t i = 0; i < count; i++) {
		struct pending_removal *p = &pend[i];

		if (!p->ok || remove_verify(ps, p) < 0)
			continue;
		if (quarantine_one(ps, q, run_id, p->r, p->raw, p->raw_size) < 0) {
			char *e = p->r->error;
			p->r->error = NULL;
			fail(p, "%s", e != NULL ? e : "quarantine failed: not removed");
			free(e);
		}
	}
}

/* Phase 4: delete what is safely in the quarantine, one postsuper -d
   (which never bounces) per queue, and record as removed what is gone
   after it. IDS, DONE and MAP are scratch arrays of COUNT + 1. */
static void remove_delete(struct postfix_store *ps, struct pending_removal *pend,
			  size_t count, const char **ids, bool *done, size_t *map)
{
	char *err = NULL;

	for (unsigned qi = 0; qi < MC_POSTFIX_QUEUE_COUNT; qi++) {
		const char *qname = mc_postfix_queues[qi];
		size_t ql = strlen(qname);
		size_t n = 0;

		for (size_t i = 0; i < count; i++) {
			struct pending_removal *p = &pend[i];
			if (!p->ok || strncmp(p->dir_rel, qname, ql) != 0 ||
			    (p->dir_rel[ql] != '\0' && p->dir_rel[ql] != '/'))
				continue;
			map[n] = i;
			ids[n++] = p->pm->m.name;
		}
		if (n == 0)
			continue;
		if (mc_postfix_postsuper(ps->pf, MC_POSTSUPER_DELETE, qname, ids, n,
					 done, &err) < 0) {
			for (size_t j = 0; j < n; j++)
				fail(&pend[map[j]], "postsuper -d failed (%s); the message "
				     "is also in the quarantine as %s", err,
				     pend[map[j]].r->quarantine_id);
			free(err);
			err = NULL;
			continue;
		}
		for (size_t j = 0; j < n; j++) {
			struct pending_removal *p = &pend[map[j]];
			int dfd = mc_store_open_rel_dir(ps->qfd, p->dir_rel, NULL);
			struct stat st;
			bool still = dfd >= 0 &&
				fstatat(dfd, p->pm->m.name, &st, AT_SYMLINK_NOFOLLOW) == 0;

			if (dfd >= 0)
				close(dfd);
			if (still) {
				fail(p, "postsuper did not delete it; the message is also "
				     "in the quarantine as %s", p->r->quarantine_id);
				continue;
			}
			p->r->removed = true;
		}
	}
}

static void postfix_remove(struct mc_store *store, struct mc_quarantine *q,
			   const char *run_id, struct mc_removal *removals,
			   size_t count)
{
	struct postfix_store *ps = (struct postfix_store *)store;
	struct pending_removal *pend = mc_xcalloc(count, sizeof(*pend));
	const char **ids = mc_xcalloc(count + 1, sizeof(*ids));
	bool *done = mc_xcalloc(count + 1, sizeof(*done));
	size_t *map = mc_xcalloc(count + 1, sizeof(*map));
	char *err = NULL;
	bool frozen = false;
	pid_t master = mc_postfix_master_pid(ps->pf);

	if (master != 0 && mc_postfix_is_frozen(ps->pf, &frozen, &err) < 0) {
		for (size_t i = 0; i < count; i++)
			removals[i].error = mc_xasprintf("not removed: %s", err);
		free(err);
		goto out;
	}
	/* A stopped Postfix delivers nothing: as good as frozen. */
	if (master == 0)
		frozen = true;
	remove_admit(ps, q, pend, removals, count, master, frozen);
	if (!frozen)
		remove_hold(ps, pend, count, ids, done);
	remove_quarantine(ps, q, run_id, pend, count);
	remove_delete(ps, pend, count, ids, done, map);
out:
	for (size_t i = 0; i < count; i++) {
		free(pend[i].dir_rel);
		free(pend[i].raw);
	}
	free(pend);
	free(ids);
	free(done);
	free(map);
}

/* ------------------------------------------------------------------ */
/* Restore                                                             */
/* ------------------------------------------------------------------ */

/* Whether queue file ID, found anywhere in the queue of PF, holds the
   message CONTENT: 1 yes, 0 no, -1 cannot be told. A removal killed
   between the quarantine and "postsuper -d" leaves the message queued
   (on hold, or where it was when the queue was frozen); restoring it
   too would deliver it twice. Queue ids are reused, so the content
   decides; the envelope may have changed (recipients delivered). */
static int still_queued(const struct mc_postfix *pf, const char *id,
			const unsigned char *content, size_t content_len,
			size_t max_size, char **error_r)
{
	int qfd = mc_open_dir_path(pf->queue_dir, NULL, error_r);
	int found = 0;

	if (qfd < 0)
		return -1;
	for (unsigned qi = 0; qi < MC_POSTFIX_QUEUE_COUNT && found == 0; qi++) {
		char *dir_rel = locate(qfd, mc_postfix_queues[qi], id, 0);
		unsigned char *buf;
		struct qf_parsed now;
		char *err = NULL;
		size_t len;
		int dfd, fd;

		if (dir_rel == NULL)
			continue;
		dfd = mc_store_open_rel_dir(qfd, dir_rel, &err);
		fd = dfd < 0 ? -1 : mc_safe_open_file(dfd, id, true, NULL, &err);
		if (dfd >= 0)
			close(dfd);
		if (fd >= 0 && mc_read_fd(fd, max_size, &buf, &len, &err) == 0) {
			if (qf_parse(buf, len, false, &now, NULL) == 0) {
				found = now.content_len == content_len &&
					memcmp(now.content, content, content_len) == 0;
				qf_parsed_clear(&now);
			}
			free(buf);
		} else if (errno != ENOENT) {
			/* There, but unreadable: whether it is the same
			   message cannot be told. */
			found = mc_error_set(error_r, "queue file %s/%s: %s", dir_rel, id, err);
		}
		if (fd >= 0)
			close(fd);
		free(err);
		free(dir_rel);
	}
	close(qfd);
	return found;
}

static int postfix_restore(struct mc_quarantine *q, const struct mc_qentry *entry,
			   const void *raw, size_t raw_size, char **error_r)
{
	const char *store = entry->loc.store != NULL ? entry->loc.store : "postfix:";
	const char *config = strncmp(store, "postfix:", 8) == 0 ? store + 8 : "";
	struct mc_postfix *pf = NULL;
	struct qf_parsed parsed;
	struct mc_store_envelope env;
	char *err = NULL;
	int ret;

	if (qf_parse(raw, raw_size, false, &parsed, &err) < 0) {
		mc_error_set(error_r, "queue file %s: %s", entry->loc.queue_id != NULL ?
			     entry->loc.queue_id : "?", err);
		free(err);
		return -1;
	}
	ret = -1;
	if (mc_postfix_open(config[0] != '\0' ? config : NULL, &pf, error_r) < 0)
		goto out;
	if (entry->loc.queue_id != NULL && entry->loc.queue_id[0] != '\0' &&
	    strchr(entry->loc.queue_id, '/') == NULL && entry->loc.queue_id[0] != '.') {
		int queued = still_queued(pf, entry->loc.queue_id, parsed.content,
					  parsed.content_len, raw_size + ENVELOPE_SLACK,
					  error_r);
		if (queued > 0)
			mc_error_set(error_r, "queue id %s still holds this message "
				     "(its removal was interrupted): restoring it "
				     "would deliver it twice", entry->loc.queue_id);
		if (queued != 0)
			goto out;
	}
	mc_store_restore_envelope(entry, parsed.sender, parsed.rcpts,
				  parsed.rcpt_count, &env);
	ret = mc_postfix_sendmail(pf, env.sender, env.rcpts, env.rcpt_count,
				  parsed.content, parsed.content_len, error_r);
out:
	mc_postfix_free(&pf);
	qf_parsed_clear(&parsed);
	return ret;
}

const struct mc_store_ops mc_store_postfix = {
	.name = "postfix",
	.detect = postfix_detect,
	.open = postfix_open,
	.next = postfix_next,
	.container_last = mc_store_container_last_op,
	.remove = postfix_remove,
	.msg_free = postfix_msg_free,
	.close = mc_store_close_op,
	.restore = postfix_restore,
};
