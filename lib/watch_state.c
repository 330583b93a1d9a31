/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	watch_state 3
/* SUMMARY
/*	the kept state of mailcure watch: recent messages and their parts
/* SYNOPSIS
/*	#include <mailcure/watch_state.h>
/* DESCRIPTION
/*	watch re-checks the mail of its window when the detections
/*	change. To do that by unique part rather than by message, it
/*	keeps for each message of the window its location (a key that
/*	survives the IMAP server's renames) and the SHA-256 of each
/*	decoded part, the key the verdict cache uses: after a change,
/*	each part hash the cache of the new detection set does not know
/*	is scanned once, however many mailboxes hold it.
/*
/*	The state is a log, DIR/state, one record a line, replayed at
/*	open and then rewritten compactly (to a new file, fsync'd,
/*	renamed over the old, directory fsync'd):
/*
/*	M DELIVERED WHOLE KEY PARTS	a message (PARTS: hex, or "-")
/*	I KEY RUN			an action on KEY begins in RUN
/*	A KEY CHANGE MAILBOX ACTION ID	its outcome (ACTION "-": none)
/*	G KEY				the message left its store
/*	C CHANGE IDENTITY		a detection change begins
/*	P CHANGE			CHANGE approved past its caps
/*
/*	Strings are written with bytes outside '!'..'~' and '%' as %XX.
/*	Message records are made durable in batches (flush): one lost
/*	in a crash is only read again by the next sweep. Intents and
/*	outcomes are fsync'd one by one, since they decide that a
/*	message is never acted on twice: an intent without an outcome
/*	tells the next run to look in the quarantine for what the
/*	interrupted action did. What a crash tears (a last line without
/*	its newline) is ignored; the next record starts a new line.
/* DIAGNOSTICS
/*	Functions that fail return -1 with a reason in *error_r.
/* SECURITY
/*	DIR is created mode 0700; the log names users and their files.
/*	The log is opened with O_NOFOLLOW. Keys hold user-chosen file
/*	names: they are escaped in the log, and shown only through the
/*	CLI's neutralising output.
/*--*/

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "mailcure/watch_state.h"
#include "internal.h"

#define STATE_MAX (1ULL << 32)

/* Actions counted against the caps of the current change. */
struct acted_box {
	char *mailbox;
	unsigned count;
};

struct mc_watch_state {
	char *dir;
	int dirfd, fd;
	struct mc_watch_msg **msgs;	/* NULL where forgotten */
	size_t count, cap;
	size_t *table;			/* index+1 into msgs, 0 empty */
	size_t table_size, live;
	struct mc_buf pending;		/* records not yet written */
	char *change, *identity;
	bool approved;
	struct acted_box *boxes;
	size_t box_count, box_cap;
	unsigned acted_total;
	size_t memory;
};

static uint64_t key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static size_t *slot_of(struct mc_watch_state *st, const char *key)
{
	size_t mask = st->table_size - 1, i = key_hash(key) & mask;

	while (st->table[i] != 0 && strcmp(st->msgs[st->table[i] - 1]->key, key) != 0)
		i = (i + 1) & mask;
	return &st->table[i];
}

static void table_grow(struct mc_watch_state *st)
{
	size_t old_size = st->table_size;
	size_t *old = st->table;

	st->table_size = old_size == 0 ? 1024 : old_size * 2;
	st->table = mc_xcalloc(st->table_size, sizeof(size_t));
	for (size_t i = 0; i < old_size; i++) {
		if (old[i] != 0)
			*slot_of(st, st->msgs[old[i] - 1]->key) = old[i];
	}
	free(old);
}

static void msg_free(struct mc_watch_msg *m)
{
	free(m->key);
	free(m->pending_run);
	free(m->parts);
	free(m);
}

struct mc_watch_msg *mc_watch_state_get(struct mc_watch_state *st, const char *key)
{
	size_t slot = *slot_of(st, key);

	return slot == 0 ? NULL : st->msgs[slot - 1];
}

static struct mc_watch_msg *msg_put(struct mc_watch_state *st, const char *key)
{
	struct mc_watch_msg *m = mc_watch_state_get(st, key);
	size_t *slot;

	if (m != NULL)
		return m;
	if ((st->count + 1) * 2 > st->table_size)
		table_grow(st);
	m = mc_xcalloc(1, sizeof(*m));
	m->key = mc_xstrdup(key);
	MC_ARRAY_PUSH(st->msgs, st->count, st->cap, m);
	slot = slot_of(st, key);
	*slot = st->count;
	st->live++;
	return m;
}

static void put_record(struct mc_buf *b, char type, const char *const *fields, size_t n);

/* A tombstone: open addressing cannot just empty a slot. Gone at the
   next open; a message that comes back takes it up again. */
void mc_watch_state_forget(struct mc_watch_state *st, const char *key)
{
	struct mc_watch_msg *m = mc_watch_state_get(st, key);

	if (m == NULL || m->delivered < 0)
		return;
	put_record(&st->pending, 'G', &key, 1);
	m->delivered = -1;
	m->acted = false;
	free(m->parts);
	m->parts = NULL;
	m->part_count = 0;
}

size_t mc_watch_state_count(const struct mc_watch_state *st)
{
	return st->count;
}

struct mc_watch_msg *mc_watch_state_at(struct mc_watch_state *st, size_t i)
{
	return st->msgs[i];
}

/* ---- keys ---- */

char *mc_watch_key(const struct mc_msg *msg)
{
	const struct mc_location *loc = &msg->loc;
	const unsigned char *p = msg->data != NULL ? msg->data : msg->head;
	size_t len = msg->data != NULL ? msg->size : msg->head_size, end;
	unsigned char sum[32];
	char hex[65];

	if (loc->kind != NULL && strcmp(loc->kind, "maildir") == 0 && loc->path != NULL) {
		/* FOLDER/cur/UNIQUE:2,FLAGS -> FOLDER/UNIQUE */
		const char *name = strrchr(loc->path, '/');
		size_t dir_len;

		if (name == NULL || name - loc->path < 4)
			return NULL;
		dir_len = (size_t)(name - loc->path) - 4;
		return mc_xasprintf("maildir:%.*s/%.*s", (int)dir_len, loc->path,
				    (int)strcspn(name + 1, ":"), name + 1);
	}
	if (loc->kind != NULL && strcmp(loc->kind, "mbox") == 0 && loc->path != NULL) {
		/* The header block: what the delivery wrote (Received,
		   Delivered-To, Message-ID) tells copies apart. */
		if (p == NULL)
			return NULL;
		if ((end = mc_header_end(p, len)) == 0)
			end = len;
		mc_sha256(p, end, sum);
		mc_hex(sum, 16, hex);
		return mc_xasprintf("mbox:%s#%s", loc->path, hex);
	}
	return mc_xasprintf("%s:%s", loc->kind != NULL ? loc->kind : "?",
			    loc->path != NULL ? loc->path : loc->queue_id != NULL ?
			    loc->queue_id : "?");
}

/* ---- the log's text ---- */

static void put_str(struct mc_buf *b, const char *s)
{
	if (s == NULL || *s == '\0') {
		mc_buf_add(b, "-", 1);
		return;
	}
	for (bool first = true; *s != '\0'; s++, first = false) {
		unsigned char c = (unsigned char)*s;
		char esc[4];

		/* "-" alone stands for the empty string */
		if (c <= ' ' || c > '~' || c == '%' || (c == '-' && s[1] == '\0' && first))
			snprintf(esc, sizeof(esc), "%%%02X", c);
		else
			snprintf(esc, sizeof(esc), "%c", c);
		mc_buf_add(b, esc, strlen(esc));
	}
}

/* Decode a field in place; "-" is the empty string. */
static char *get_str(char *s)
{
	char *w = s;

	if (strcmp(s, "-") == 0)
		return (*s = '\0', s);
	for (char *r = s; *r != '\0'; r++) {
		unsigned v;

		if (*r == '%' && sscanf(r + 1, "%2x", &v) == 1 && v != 0) {
			*w++ = (char)v;
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return s;
}

static void put_record(struct mc_buf *b, char type, const char *const *fields, size_t n)
{
	mc_buf_add(b, &type, 1);
	for (size_t i = 0; i < n; i++) {
		mc_buf_add(b, " ", 1);
		put_str(b, fields[i]);
	}
	mc_buf_add(b, "\n", 1);
}

static void put_msg(struct mc_buf *b, const struct mc_watch_msg *m)
{
	char when[32], *hex = mc_xmalloc(m->part_count * 64 + 2);
	const char *f[4] = { when, m->whole ? "1" : "0", m->key, hex };

	snprintf(when, sizeof(when), "%lld", (long long)m->delivered);
	hex[0] = '\0';
	for (size_t i = 0; i < m->part_count; i++)
		mc_hex(m->parts[i], 32, hex + i * 64);
	put_record(b, 'M', f, 4);
	free(hex);
}

static void box_count(struct mc_watch_state *st, const char *mailbox)
{
	for (size_t i = 0; i < st->box_count; i++) {
		if (strcmp(st->boxes[i].mailbox, mailbox) == 0) {
			st->boxes[i].count++;
			st->acted_total++;
			return;
		}
	}
	struct acted_box b = { mc_xstrdup(mailbox), 1 };
	MC_ARRAY_PUSH(st->boxes, st->box_count, st->box_cap, b);
	st->acted_total++;
}

static void boxes_clear(struct mc_watch_state *st)
{
	for (size_t i = 0; i < st->box_count; i++)
		free(st->boxes[i].mailbox);
	st->box_count = 0;
	st->acted_total = 0;
}

static void set_parts(struct mc_watch_msg *m, const char *hex)
{
	size_t n = strlen(hex) / 64;

	free(m->parts);
	m->parts = n > 0 ? mc_xcalloc(n, 32) : NULL;
	m->part_count = n;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < 32; j++) {
			unsigned v = 0;

			if (sscanf(hex + i * 64 + j * 2, "%2x", &v) != 1)
				v = 0;
			m->parts[i][j] = (unsigned char)v;
		}
	}
}

static void replay_outcome(struct mc_watch_state *st, char **f, size_t n)
{
	struct mc_watch_msg *m;

	if (n < 5)
		return;
	m = mc_watch_state_get(st, f[0]);
	if (m != NULL) {
		free(m->pending_run);
		m->pending_run = NULL;
		m->acted |= *f[3] != '\0';
	}
	if (*f[3] != '\0' && st->change != NULL && strcmp(f[1], st->change) == 0)
		box_count(st, f[2]);
}

static void replay_line(struct mc_watch_state *st, char *line)
{
	char *f[8] = { NULL }, *save = NULL;
	size_t n = 0;
	struct mc_watch_msg *m;

	for (char *t = strtok_r(line + 1, " ", &save); t != NULL && n < 8;
	     t = strtok_r(NULL, " ", &save))
		f[n++] = get_str(t);
	switch (line[0]) {
	case 'M':
		if (n < 4)
			return;
		m = msg_put(st, f[2]);
		m->delivered = (time_t)strtoll(f[0], NULL, 10);
		m->whole = strcmp(f[1], "1") == 0;
		set_parts(m, f[3]);
		break;
	case 'I':
		if (n >= 2 && (m = mc_watch_state_get(st, f[0])) != NULL) {
			free(m->pending_run);
			m->pending_run = mc_xstrdup(f[1]);
		}
		break;
	case 'A':
		replay_outcome(st, f, n);
		break;
	case 'G':
		if (n >= 1 && (m = mc_watch_state_get(st, f[0])) != NULL)
			m->delivered = -1;
		break;
	case 'C':
		if (n >= 2) {
			free(st->change);
			free(st->identity);
			st->change = mc_xstrdup(f[0]);
			st->identity = mc_xstrdup(f[1]);
			st->approved = false;
			boxes_clear(st);
		}
		break;
	case 'P':
		if (n >= 1 && st->change != NULL && strcmp(f[0], st->change) == 0)
			st->approved = true;
		break;
	}
}

static void replay(struct mc_watch_state *st, char *text, size_t len)
{
	char *end = text + len;

	for (char *line = text, *nl; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL)
			break;	/* torn by a crash: never acted on */
		*nl = '\0';
		if (memchr(line, '\0', (size_t)(nl - line)) == NULL && line[0] != '\0' &&
		    line[1] == ' ')
			replay_line(st, line);
	}
}

/* ---- the file ---- */

static int write_out(struct mc_watch_state *st, bool sync, char **error_r)
{
	if (st->pending.len == 0)
		return 0;
	if (mc_write_all(st->fd, st->pending.s, st->pending.len) < 0)
		return mc_error_errno(error_r, "%s/state", st->dir);
	st->pending.len = 0;
	if (sync && fdatasync(st->fd) < 0)
		return mc_error_errno(error_r, "%s/state: fsync", st->dir);
	return 0;
}

static void compact_text(struct mc_watch_state *st, struct mc_buf *b)
{
	if (st->change != NULL) {
		const char *f[2] = { st->change, st->identity };

		put_record(b, 'C', f, 2);
		if (st->approved)
			put_record(b, 'P', f, 1);
	}
	for (size_t i = 0; i < st->count; i++) {
		const struct mc_watch_msg *m = st->msgs[i];
		const char *f[5] = { m->key, st->change, "-", "acted", "-" };

		put_msg(b, m);
		if (m->acted)
			put_record(b, 'A', f, 5);
		if (m->pending_run != NULL) {
			f[1] = m->pending_run;
			put_record(b, 'I', f, 2);
		}
	}
}

/* The acted counts of the current change are kept as outcomes of no
   message, one per action, so that the caps hold across restarts. */
static void compact_boxes(struct mc_watch_state *st, struct mc_buf *b)
{
	for (size_t i = 0; i < st->box_count; i++) {
		for (unsigned k = 0; k < st->boxes[i].count; k++) {
			const char *f[5] = { "-", st->change, st->boxes[i].mailbox,
					     "counted", "-" };
			put_record(b, 'A', f, 5);
		}
	}
}

static int compact(struct mc_watch_state *st, char **error_r)
{
	struct mc_buf b = { 0 };
	int fd, ret = -1;

	compact_text(st, &b);
	compact_boxes(st, &b);
	fd = openat(st->dirfd, "state.new", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
	if (fd < 0) {
		mc_error_errno(error_r, "%s/state.new", st->dir);
	} else if ((b.len > 0 && mc_write_all(fd, b.s, b.len) < 0) || fsync(fd) < 0) {
		mc_error_errno(error_r, "%s/state.new", st->dir);
		close(fd);
	} else if (renameat(st->dirfd, "state.new", st->dirfd, "state") < 0) {
		mc_error_errno(error_r, "%s/state", st->dir);
		close(fd);
	} else {
		(void)mc_fsync_dir(st->dirfd);
		st->fd = fd;
		lseek(fd, 0, SEEK_END);
		ret = 0;
	}
	free(b.s);
	return ret;
}

static void drop_forgotten(struct mc_watch_state *st, time_t forget_before)
{
	size_t n = 0;

	for (size_t i = 0; i < st->count; i++) {
		struct mc_watch_msg *m = st->msgs[i];

		/* Acted on and out of the window: never acted on again
		   anyway (a restored message keeps its delivery time). */
		if (m->delivered < 0 || (m->delivered < forget_before &&
					 m->pending_run == NULL)) {
			msg_free(m);
			st->live--;
		} else {
			st->msgs[n++] = m;
		}
	}
	st->count = n;
	if (st->table != NULL)
		memset(st->table, 0, st->table_size * sizeof(size_t));
	for (size_t i = 0; i < st->count; i++)
		*slot_of(st, st->msgs[i]->key) = i + 1;
}

static int state_read(struct mc_watch_state *st, char **error_r)
{
	unsigned char *text = NULL;
	size_t len = 0;
	int fd = openat(st->dirfd, "state", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0 : mc_error_errno(error_r, "%s/state", st->dir);
	if (mc_read_fd(fd, STATE_MAX, &text, &len, error_r) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	replay(st, (char *)text, len);
	free(text);
	return 0;
}

int mc_watch_state_open(const char *dir, time_t forget_before,
			struct mc_watch_state **st_r, char **error_r)
{
	struct mc_watch_state *st = mc_xcalloc(1, sizeof(*st));

	*st_r = NULL;
	st->dir = mc_xstrdup(dir);
	st->fd = -1;
	table_grow(st);
	if (mc_mkdir_p(dir, 0700, error_r) < 0 ||
	    (st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (error_r != NULL && *error_r == NULL)
			mc_error_errno(error_r, "%s", dir);
		st->dirfd = -1;
		mc_watch_state_close(&st);
		return -1;
	}
	if (state_read(st, error_r) < 0) {
		mc_watch_state_close(&st);
		return -1;
	}
	drop_forgotten(st, forget_before);
	if (compact(st, error_r) < 0) {
		mc_watch_state_close(&st);
		return -1;
	}
	*st_r = st;
	return 0;
}

int mc_watch_state_compact(struct mc_watch_state *st, time_t forget_before,
			   char **error_r)
{
	int old = st->fd;

	if (write_out(st, true, error_r) < 0)
		return -1;
	drop_forgotten(st, forget_before);
	if (compact(st, error_r) < 0)
		return -1;
	close(old);
	return 0;
}

void mc_watch_state_close(struct mc_watch_state **stp)
{
	struct mc_watch_state *st = *stp;

	if (st == NULL)
		return;
	if (st->fd >= 0) {
		(void)write_out(st, true, NULL);
		close(st->fd);
	}
	if (st->dirfd >= 0)
		close(st->dirfd);
	for (size_t i = 0; i < st->count; i++)
		msg_free(st->msgs[i]);
	boxes_clear(st);
	free(st->boxes);
	free(st->msgs);
	free(st->table);
	free(st->pending.s);
	free(st->change);
	free(st->identity);
	free(st->dir);
	free(st);
	*stp = NULL;
}

/* ---- changes ---- */

struct mc_watch_msg *mc_watch_state_add(struct mc_watch_state *st, const char *key,
					time_t delivered, bool whole,
					const unsigned char (*parts)[32], size_t count)
{
	struct mc_watch_msg *m = msg_put(st, key);

	m->delivered = delivered;
	m->whole = whole;
	free(m->parts);
	m->parts = count > 0 ? mc_xmalloc(count * 32) : NULL;
	if (count > 0)
		memcpy(m->parts, parts, count * 32);
	m->part_count = count;
	put_msg(&st->pending, m);
	return m;
}

int mc_watch_state_flush(struct mc_watch_state *st, char **error_r)
{
	return write_out(st, true, error_r);
}

int mc_watch_state_intent(struct mc_watch_state *st, const char *key,
			  const char *run_id, char **error_r)
{
	struct mc_watch_msg *m = mc_watch_state_get(st, key);
	const char *f[2] = { key, run_id };

	if (m == NULL)
		return mc_error_set(error_r, "%s: not a message of the window", key);
	put_record(&st->pending, 'I', f, 2);
	if (write_out(st, true, error_r) < 0)
		return -1;
	free(m->pending_run);
	m->pending_run = mc_xstrdup(run_id);
	return 0;
}

int mc_watch_state_outcome(struct mc_watch_state *st, const char *key,
			   const char *change, const char *mailbox,
			   const char *action, const char *detail, char **error_r)
{
	struct mc_watch_msg *m = mc_watch_state_get(st, key);
	const char *f[5] = { key, change, mailbox, action, detail };

	put_record(&st->pending, 'A', f, 5);
	if (write_out(st, true, error_r) < 0)
		return -1;
	if (m != NULL) {
		free(m->pending_run);
		m->pending_run = NULL;
		m->acted |= action != NULL;
	}
	if (action != NULL && change != NULL && st->change != NULL &&
	    strcmp(change, st->change) == 0)
		box_count(st, mailbox != NULL ? mailbox : "");
	return 0;
}

const char *mc_watch_state_change(const struct mc_watch_state *st)
{
	return st->change;
}

const char *mc_watch_state_identity(const struct mc_watch_state *st)
{
	return st->identity;
}

int mc_watch_state_change_begin(struct mc_watch_state *st, const char *change,
				const char *identity, char **error_r)
{
	const char *f[2] = { change, identity };

	put_record(&st->pending, 'C', f, 2);
	if (write_out(st, true, error_r) < 0)
		return -1;
	free(st->change);
	free(st->identity);
	st->change = mc_xstrdup(change);
	st->identity = mc_xstrdup(identity);
	st->approved = false;
	boxes_clear(st);
	return 0;
}

unsigned mc_watch_state_acted(const struct mc_watch_state *st, const char *mailbox)
{
	if (mailbox == NULL)
		return st->acted_total;
	for (size_t i = 0; i < st->box_count; i++) {
		if (strcmp(st->boxes[i].mailbox, mailbox) == 0)
			return st->boxes[i].count;
	}
	return 0;
}

int mc_watch_state_approve(struct mc_watch_state *st, const char *change,
			   char **error_r)
{
	const char *f[1] = { change };

	if (st->change == NULL || strcmp(change, st->change) != 0)
		return mc_error_set(error_r, "%s is not the current detection change", change);
	put_record(&st->pending, 'P', f, 1);
	if (write_out(st, true, error_r) < 0)
		return -1;
	st->approved = true;
	return 0;
}

bool mc_watch_state_approved(const struct mc_watch_state *st)
{
	return st->approved;
}

size_t mc_watch_state_memory(const struct mc_watch_state *st)
{
	size_t n = sizeof(*st) + st->table_size * sizeof(size_t) +
		st->cap * sizeof(*st->msgs);

	for (size_t i = 0; i < st->count; i++) {
		const struct mc_watch_msg *m = st->msgs[i];

		/* malloc's own 16 bytes a block counted too */
		n += sizeof(*m) + 16 + strlen(m->key) + 1 + 16 + m->part_count * 32 +
			(m->part_count > 0 ? 16 : 0);
	}
	return n;
}
