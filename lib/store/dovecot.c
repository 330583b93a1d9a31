/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	dovecot 3
/* SUMMARY
/*	mail store "dovecot:USERMASK": any Dovecot mailbox format, through doveadm
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	extern const struct mc_store_ops mc_store_dovecot;
/* DESCRIPTION
/*	The store reads and removes messages of Dovecot users through
/*	doveadm, so it works for every mail_location Dovecot supports
/*	(maildir, sdbox, mdbox, ...) and keeps Dovecot's indexes right.
/*	The URI is dovecot:USERMASK: "dovecot:alice", "dovecot:*",
/*	"dovecot:*@example.com" ("dovecot:" alone is every user).
/*
/*	Users come from "doveadm user MASK" (the userdb must support
/*	iteration for a mask with wildcards). For each user, one
/*	"doveadm -f pager fetch 'mailbox-guid uid guid flags
/*	size.physical mailbox text' ALL" streams every message of every
/*	mailbox. The pager format gives each field as "key: value"
/*	lines and the message text raw after a "text:" line, records
/*	separated by a form feed line; the text is not delimited, so it
/*	is cut by its size.physical and the cut is checked: what follows
/*	must be the end of the output or a form feed and a complete,
/*	well-formed next record. A message is yielded only once the
/*	record after it has been checked, which is also how it is known
/*	whether it is the last of its mailbox (container_last).
/*	The format is read by lib/store/dovecot_parse.c.
/*
/*	When the check fails (a size Dovecot reports differently from
/*	the stream, a message it could not read, a mailbox name with a
/*	line break), the stream is abandoned and the user is read one
/*	message at a time: the same fields without the text are listed,
/*	and each text is fetched alone ("doveadm fetch text
/*	mailbox-guid G uid U"), whose output is exactly "text:\n" and
/*	the message. Mailboxes and messages already yielded are skipped.
/*
/*	Removal (per mailbox): each message is fetched again on its own
/*	and compared byte for byte with what was scanned; only an
/*	identical message is quarantined (mc_quarantine_put: written,
/*	fsync'd, verified), then all of them are expunged with "doveadm
/*	expunge mailbox-guid G uid SET", and a fetch of the same set
/*	tells which are really gone. A message that is still there has
/*	its quarantine entry discarded (so that a restore cannot
/*	duplicate it) and is reported as not removed. The mailbox GUID
/*	identifies the mailbox across renames and is never reused, and
/*	UIDs are never reused within it, so an expunge can never hit a
/*	message that was not scanned.
/*
/*	The quarantine entry records user (loc.user), mailbox name
/*	(loc.folder), and in its extra fields the mailbox GUID, UID,
/*	message GUID, IMAP flags and the Dovecot configuration used.
/*	Restore saves the message with "doveadm save -m MAILBOX"
/*	(creating the mailbox if it no longer exists), finds the saved
/*	copy among the new UIDs by its content, and sets its flags with
/*	"doveadm flags add". Dovecot assigns a new UID and received date.
/*	Before that it fetches the recorded mailbox GUID and UID: a
/*	message still there means the removal was killed between the
/*	quarantine and the expunge, and the restore is refused rather
/*	than duplicate it.
/*
/*	doveadm is run by lib/doveadm.c, which says which doveadm and
/*	which Dovecot configuration ($MAILCURE_DOVEADM,
/*	$MAILCURE_DOVECOT_CONFIG).
/* DIAGNOSTICS
/*	A user that cannot be read (doveadm fails, unexpected output) is
/*	one error event naming the user and doveadm's message; the
/*	other users go on. A message that could not be fetched is an
/*	error event of its own. A message larger than max_message_size
/*	is not fetched and is reported unscanned.
/* SECURITY
/*	doveadm is run under the policy of lib/exec.c: execve of an
/*	argument vector, never a shell, a clean environment. User
/*	names and masks that begin with '-' or hold control characters
/*	are refused, so they cannot turn into options. doveadm itself
/*	switches to each user's uid, so every file it creates (restore)
/*	belongs to that user. Everything read
/*	from doveadm is parsed strictly and bounded (header lines, the
/*	standard error kept, message sizes).
/*--*/

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "mailcure/exec.h"
#include "store-private.h"
#include "dovecot-private.h"

/* UIDs per expunge command line. */
#define EXPUNGE_CHUNK 256

/* ------------------------------------------------------------------ */
/* Running doveadm (lib/doveadm.c)                                    */
/* ------------------------------------------------------------------ */

/* A message for a failed doveadm: its standard error, else its exit
   status; for one that did not exit (-1), why. */
static char *failure_text(const char *what, int code, const char *err)
{
	if (code < 0 && err != NULL)
		return mc_xstrdup(err);
	if (err != NULL)
		return mc_xasprintf("%s failed: %s", what, err);
	return mc_xasprintf("%s failed with exit status %d", what, code);
}

/* Run a "doveadm fetch" that must succeed: its output in *out_r
   (malloc()ed, LEN bytes), or -1 with *error_r naming the failure. */
static int doveadm_fetch(const struct mc_doveadm *dv, const char *const *args,
			 size_t max, char **out_r, size_t *len_r, char **error_r)
{
	char *err = NULL;
	int code = mc_doveadm_run(dv, args, NULL, 0, max, out_r, len_r, &err, error_r);

	if (code < 0)
		return -1;
	if (code != 0) {
		char *why = failure_text("doveadm fetch", code, err);

		mc_error_set(error_r, "%s", why);
		free(why);
		free(err);
		free(*out_r);
		*out_r = NULL;
		return -1;
	}
	free(err);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The store                                                          */
/* ------------------------------------------------------------------ */

enum dv_mode {
	DV_IDLE,	/* between users */
	DV_BATCH,	/* one fetch of every message of the user */
	DV_LIST,	/* listing, each text fetched alone */
};

struct dovecot_store {
	struct mc_store base;
	struct mc_doveadm dv;
	char *config;			/* dv.config, owned */
	char **users;
	size_t user_count, user_next;

	/* The user being read. */
	char *user;
	enum dv_mode mode;
	struct mc_dovecot_reader rd;
	struct mc_dovecot_record ahead;		/* next record, checked */
	bool have_ahead;
	/* What was yielded from the batch stream, so that a switch to
	   the listing skips it: mailboxes finished, and the last UID
	   yielded in the current one. */
	char (*done_boxes)[33];
	size_t done_count, done_cap;
	char cur_box[33];
	uint32_t cur_uid;
	/* A failure to report as an error event before going on. */
	char *pending_error;
};

struct dovecot_msg {
	struct mc_store_msg m;		/* first: what store.c knows */
	char *user;
	char *mailbox;
	char *guid;
	char *flags;
	char mailbox_guid[33];
	uint32_t uid;
};

static bool valid_user_name(const char *s)
{
	return s[0] != '\0' && s[0] != '-' && strlen(s) < 1024 && mc_dovecot_no_control(s);
}

static void dovecot_destroy(struct mc_store *store)
{
	struct dovecot_store *ds = (struct dovecot_store *)store;

	if (ds->rd.proc != NULL)
		mc_doveadm_finish(&ds->rd.proc, true, NULL);
	free(ds->rd.error);
	mc_dovecot_record_clear(&ds->ahead);
	for (size_t i = 0; i < ds->user_count; i++)
		free(ds->users[i]);
	free(ds->users);
	free(ds->user);
	free(ds->done_boxes);
	free(ds->pending_error);
	free(ds->config);
}

static struct dovecot_msg *msg_new(struct dovecot_store *ds)
{
	struct dovecot_msg *dm = mc_xcalloc(1, sizeof(*dm));

	mc_store_msg_init(&ds->base, &dm->m, "dovecot");
	return dm;
}

static void dovecot_msg_free(struct mc_store *store, struct mc_msg **msgp)
{
	struct dovecot_msg *dm = (struct dovecot_msg *)*msgp;
	struct mc_store *owner;

	if (dm == NULL)
		return;
	*msgp = NULL;
	owner = dm->m.msg.store_priv != NULL ? dm->m.msg.store_priv : store;
	free(dm->m.buf);
	free(dm->m.path);
	free(dm->m.read_error);
	free(dm->user);
	free(dm->mailbox);
	free(dm->guid);
	free(dm->flags);
	free(dm);
	mc_store_unref(owner);
}

/* A message that stands for a failure of the whole user. */
static struct mc_msg *error_msg(struct dovecot_store *ds, char *why)
{
	struct dovecot_msg *dm = msg_new(ds);

	dm->user = mc_xstrdup(ds->user);
	dm->m.path = mc_xasprintf("dovecot:%s", ds->user != NULL ? ds->user : "");
	dm->m.read_error = why;
	dm->m.msg.loc.user = dm->user;
	dm->m.msg.loc.path = dm->m.path;
	dm->m.msg.read_error = why;
	return &dm->m.msg;
}

/* A message from record REC (moved into it); the caller sets bytes. */
static struct dovecot_msg *record_msg(struct dovecot_store *ds,
				      struct mc_dovecot_record *rec)
{
	struct dovecot_msg *dm = msg_new(ds);

	dm->user = mc_xstrdup(ds->user);
	dm->mailbox = rec->mailbox;
	dm->guid = rec->guid;
	dm->flags = rec->flags;
	rec->mailbox = rec->guid = rec->flags = NULL;
	memcpy(dm->mailbox_guid, rec->mailbox_guid, sizeof(dm->mailbox_guid));
	dm->uid = rec->uid;
	dm->m.path = mc_xasprintf("dovecot:%s/%s/;UID=%u", dm->user, dm->mailbox, dm->uid);
	dm->m.msg.loc.user = dm->user;
	dm->m.msg.loc.folder = dm->mailbox;
	dm->m.msg.loc.path = dm->m.path;
	dm->m.msg.size = (size_t)rec->size;
	return dm;
}

static void msg_set_bytes(struct dovecot_msg *dm, unsigned char *buf, size_t len)
{
	dm->m.buf = buf;
	dm->m.msg.raw = buf;
	dm->m.msg.raw_size = len;
	dm->m.msg.data = buf;
	dm->m.msg.size = len;
}

static void msg_set_error(struct dovecot_msg *dm, char *why)
{
	free(dm->m.read_error);
	dm->m.read_error = why;
	dm->m.msg.read_error = why;
}

/* The text of one message, fetched alone: output is "text:\n" and
   the message, exactly. 1 with the bytes, 0 when the message is no
   longer there, -1 with *error_r (errno EFBIG: larger than MAX). */
static int fetch_text(const struct mc_doveadm *dv, const char *user,
		      const char *mailbox_guid, uint32_t uid, size_t max,
		      unsigned char **buf_r, size_t *len_r, char **error_r)
{
	char uidstr[16];
	const char *args[] = {
		"-f", "pager", "fetch", "-u", user, "text",
		"mailbox-guid", mailbox_guid, "uid", uidstr, NULL
	};
	char *out;
	size_t len;

	snprintf(uidstr, sizeof(uidstr), "%u", uid);
	if (doveadm_fetch(dv, args, max + 6, &out, &len, error_r) < 0)
		return -1;
	if (len == 0) {
		free(out);
		return 0;
	}
	if (len < 6 || memcmp(out, "text:\n", 6) != 0) {
		free(out);
		return mc_error_set(error_r, "doveadm fetch: unexpected output");
	}
	memmove(out, out + 6, len - 6);
	out[len - 6] = '\0';
	*buf_r = (unsigned char *)out;
	*len_r = len - 6;
	return 1;
}

static void reader_reset(struct mc_dovecot_reader *r)
{
	if (r->proc != NULL)
		mc_doveadm_finish(&r->proc, true, NULL);
	free(r->error);
	r->error = NULL;
	r->pos = r->len = 0;
	r->eof = false;
}

static void user_reset(struct dovecot_store *ds)
{
	reader_reset(&ds->rd);
	mc_dovecot_record_clear(&ds->ahead);
	ds->have_ahead = false;
	ds->done_count = 0;
	ds->cur_box[0] = '\0';
	ds->cur_uid = 0;
	ds->mode = DV_IDLE;
}

/* The user's stream has ended (or failed): note doveadm's verdict. */
static void user_finish(struct dovecot_store *ds, const char *what,
			const char *why)
{
	char *err = NULL;
	int code = ds->rd.proc == NULL ? 0 :
		mc_doveadm_finish(&ds->rd.proc, why != NULL, &err);

	if (why != NULL)
		ds->pending_error = mc_xasprintf("cannot read the messages of Dovecot user %s: %s",
						 ds->user, why);
	else if (code != 0) {
		char *f = failure_text(what, code, err);

		ds->pending_error = mc_xasprintf("Dovecot user %s: %s; some messages may not "
						 "have been read", ds->user, f);
		free(f);
	}
	free(err);
	user_reset(ds);
}

static int start_stream(struct dovecot_store *ds, bool text, char **error_r)
{
	const char *args[] = {
		"-f", "pager", "fetch", "-u", ds->user,
		text ? RECORD_FIELDS " text" : RECORD_FIELDS, "ALL", NULL
	};

	reader_reset(&ds->rd);
	return mc_doveadm_start(&ds->dv, args, &ds->rd.proc, error_r);
}

static void user_begin(struct dovecot_store *ds, const char *user)
{
	const char *why = NULL;
	char *error = NULL;
	int ret;

	user_reset(ds);
	free(ds->user);
	ds->user = mc_xstrdup(user);
	if (start_stream(ds, true, &error) < 0) {
		ds->pending_error = mc_xasprintf("Dovecot user %s: %s", user, error);
		free(error);
		return;
	}
	ret = mc_dovecot_record_read(&ds->rd, true, &ds->ahead, &why);
	if (ret > 0) {
		ds->have_ahead = true;
		ds->mode = DV_BATCH;
	} else if (ret == 0) {
		user_finish(ds, "doveadm fetch", NULL);
	} else {
		/* Not even the first record: no need for the listing's
		   skip bookkeeping, it starts from the beginning. */
		ds->mode = DV_BATCH;
		ds->have_ahead = false;
	}
}

/* Leave the batch stream for the listing (see DESCRIPTION). */
static void switch_to_list(struct dovecot_store *ds)
{
	const char *why = NULL;
	char *error = NULL;
	int ret;

	if (ds->rd.proc != NULL)
		mc_doveadm_finish(&ds->rd.proc, true, NULL);
	mc_dovecot_record_clear(&ds->ahead);
	ds->have_ahead = false;
	if (start_stream(ds, false, &error) < 0) {
		user_finish(ds, "doveadm fetch", error);
		free(error);
		return;
	}
	ds->mode = DV_LIST;
	ret = mc_dovecot_record_read(&ds->rd, false, &ds->ahead, &why);
	if (ret > 0)
		ds->have_ahead = true;
	else if (ret < 0)
		user_finish(ds, "doveadm fetch", why);
	else
		user_finish(ds, "doveadm fetch", NULL);
}

static bool already_yielded(const struct dovecot_store *ds,
			    const struct mc_dovecot_record *rec)
{
	for (size_t i = 0; i < ds->done_count; i++) {
		if (strcasecmp(ds->done_boxes[i], rec->mailbox_guid) == 0)
			return true;
	}
	return ds->cur_box[0] != '\0' && strcasecmp(ds->cur_box, rec->mailbox_guid) == 0 &&
		rec->uid <= ds->cur_uid;
}

static void note_yielded(struct dovecot_store *ds, const struct dovecot_msg *dm)
{
	memcpy(ds->cur_box, dm->mailbox_guid, sizeof(ds->cur_box));
	ds->cur_uid = dm->uid;
	if (dm->m.container_last) {
		if (ds->done_count == ds->done_cap) {
			ds->done_cap = ds->done_cap == 0 ? 16 : ds->done_cap * 2;
			ds->done_boxes = mc_xrealloc(ds->done_boxes,
						     ds->done_cap * sizeof(*ds->done_boxes));
		}
		memcpy(ds->done_boxes[ds->done_count++], dm->mailbox_guid, 33);
	}
}

/* Next message of the batch stream, or NULL when the stream ended or
   was given up (the mode says which). */
static struct mc_msg *batch_next(struct dovecot_store *ds)
{
	struct mc_dovecot_record cur;
	struct dovecot_msg *dm;
	unsigned char *buf = NULL;
	bool big, at_end = false;
	const char *why = NULL;
	int ret;

	if (!ds->have_ahead) {
		switch_to_list(ds);
		return NULL;
	}
	mc_dovecot_record_move(&cur, &ds->ahead);
	ds->have_ahead = false;
	big = cur.size > ds->base.limits.max_message_size || cur.size > SIZE_MAX - 1;
	if (!big)
		buf = mc_xmalloc((size_t)cur.size + 1);
	if (mc_dovecot_reader_exact(&ds->rd, buf, cur.size) < 0)
		goto misaligned;
	ret = mc_dovecot_reader_separator(&ds->rd);
	if (ret < 0)
		goto misaligned;
	if (ret == 0) {
		at_end = true;
	} else {
		if (mc_dovecot_record_read(&ds->rd, true, &ds->ahead, &why) <= 0)
			goto misaligned;
		ds->have_ahead = true;
	}

	dm = record_msg(ds, &cur);
	if (buf != NULL) {
		buf[cur.size] = '\0';
		msg_set_bytes(dm, buf, (size_t)cur.size);
	}
	dm->m.container_last = !ds->have_ahead ||
		strcasecmp(ds->ahead.mailbox_guid, dm->mailbox_guid) != 0;
	note_yielded(ds, dm);
	mc_dovecot_record_clear(&cur);
	if (at_end)
		user_finish(ds, "doveadm fetch", NULL);
	return &dm->m.msg;

misaligned:
	/* The text was not exactly size.physical bytes, or Dovecot
	   could not read a message: this stream cannot be cut safely
	   any more. The current message was not yielded. */
	free(buf);
	mc_dovecot_record_clear(&cur);
	switch_to_list(ds);
	return NULL;
}

/* Next message of the listing (each text fetched alone), or NULL
   when there is none to yield for this record. */
static struct mc_msg *list_next(struct dovecot_store *ds)
{
	struct mc_dovecot_record cur;
	struct dovecot_msg *dm;
	const char *why = NULL;
	char *list_error = NULL;
	unsigned char *buf;
	size_t len;
	char *error = NULL;
	int ret;

	if (!ds->have_ahead) {
		user_finish(ds, "doveadm fetch", NULL);
		return NULL;
	}
	mc_dovecot_record_move(&cur, &ds->ahead);
	ds->have_ahead = false;
	ret = mc_dovecot_reader_separator(&ds->rd);
	if (ret > 0) {
		if (mc_dovecot_record_read(&ds->rd, false, &ds->ahead, &why) > 0)
			ds->have_ahead = true;
		else
			list_error = mc_xstrdup(why);
	} else if (ret < 0) {
		list_error = mc_xstrdup(ds->rd.error != NULL ? ds->rd.error :
					"unexpected output between records");
	}

	if (already_yielded(ds, &cur)) {
		mc_dovecot_record_clear(&cur);
		dm = NULL;
		goto out;
	}
	dm = record_msg(ds, &cur);
	if (cur.size > ds->base.limits.max_message_size) {
		/* Not read: reported as unscanned by its size. */
	} else {
		ret = fetch_text(&ds->dv, dm->user, dm->mailbox_guid, dm->uid,
				 ds->base.limits.max_message_size, &buf, &len, &error);
		if (ret > 0) {
			msg_set_bytes(dm, buf, len);
		} else if (ret == 0) {
			/* Expunged since it was listed. */
			struct mc_msg *gone = &dm->m.msg;

			dovecot_msg_free(&ds->base, &gone);
			dm = NULL;
		} else if (errno == EFBIG) {
			dm->m.msg.size = ds->base.limits.max_message_size + 1;
			free(error);
		} else {
			msg_set_error(dm, error);
		}
	}
	mc_dovecot_record_clear(&cur);
	if (dm != NULL) {
		dm->m.container_last = !ds->have_ahead ||
			strcasecmp(ds->ahead.mailbox_guid, dm->mailbox_guid) != 0;
		note_yielded(ds, dm);
	}
out:
	if (list_error != NULL) {
		user_finish(ds, "doveadm fetch", list_error);
		free(list_error);
	} else if (!ds->have_ahead) {
		user_finish(ds, "doveadm fetch", NULL);
	}
	return dm != NULL ? &dm->m.msg : NULL;
}

static int dovecot_next(struct mc_store *store, struct mc_msg **msg_r,
			char **error_r)
{
	struct dovecot_store *ds = (struct dovecot_store *)store;

	*msg_r = NULL;
	for (;;) {
		struct mc_msg *msg = NULL;

		if (ds->pending_error != NULL) {
			char *why = ds->pending_error;

			ds->pending_error = NULL;
			*msg_r = error_msg(ds, why);
			return 1;
		}
		switch (ds->mode) {
		case DV_IDLE:
			if (ds->user_next >= ds->user_count)
				return 0;
			user_begin(ds, ds->users[ds->user_next++]);
			break;
		case DV_BATCH:
			msg = batch_next(ds);
			break;
		case DV_LIST:
			msg = list_next(ds);
			break;
		}
		if (msg != NULL) {
			*msg_r = msg;
			return 1;
		}
	}
}

/* Users matching MASK: a name without wildcards must exist; a mask
   is expanded by the userdb. */
static int list_users(struct dovecot_store *ds, const char *mask, char **error_r)
{
	const char *args[] = { "user", mask, NULL };
	bool wild = strpbrk(mask, "*?") != NULL;
	char *out = NULL, *err = NULL, *save = NULL;
	size_t len;
	int code;

	code = mc_doveadm_run(&ds->dv, args, NULL, 0, 64U << 20, &out, &len, &err, error_r);
	if (code < 0)
		return -1;
	if (code != 0) {
		if (!wild && code == 67)
			mc_error_set(error_r, "dovecot:%s: no such Dovecot user", mask);
		else {
			char *f = failure_text("doveadm user", code, err);
			mc_error_set(error_r, "dovecot:%s: cannot list users: %s", mask, f);
			free(f);
		}
		free(out);
		free(err);
		return -1;
	}
	free(err);
	if (!wild) {
		free(out);
		ds->users = mc_xcalloc(1, sizeof(*ds->users));
		ds->users[0] = mc_xstrdup(mask);
		ds->user_count = 1;
		return 0;
	}
	if (memchr(out, '\0', len) != NULL) {
		free(out);
		return mc_error_set(error_r, "dovecot:%s: unexpected output from doveadm user", mask);
	}
	size_t cap = 0;
	for (char *line = strtok_r(out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '\0')
			continue;
		if (!valid_user_name(line)) {
			free(out);
			return mc_error_set(error_r, "dovecot:%s: doveadm user listed an "
					    "unusable user name", mask);
		}
		MC_ARRAY_PUSH(ds->users, ds->user_count, cap, mc_xstrdup(line));
	}
	free(out);
	if (ds->user_count == 0)
		return mc_error_set(error_r, "dovecot:%s: no Dovecot user matches", mask);
	return 0;
}

static int dovecot_open(const char *uri, const char *path,
			const struct mc_store_settings *set,
			struct mc_store **store_r, char **error_r)
{
	struct dovecot_store *ds;
	const char *mask = path[0] == '\0' ? "*" : path;
	char *error = NULL;
	char *dvpath;

	*store_r = NULL;
	if (!valid_user_name(mask))
		return mc_error_set(error_r, "%s: not a usable user mask", uri);
	ds = mc_xcalloc(1, sizeof(*ds));
	mc_store_base_init(&ds->base, &mc_store_dovecot, uri, set, dovecot_destroy);
	ds->config = mc_xstrdup(mc_doveadm_config(NULL));
	ds->dv.config = ds->config;
	/* Fail now, with a clear message, when there is no doveadm. */
	dvpath = mc_doveadm_path(&ds->dv, &error);
	if (dvpath == NULL) {
		mc_error_set(error_r, "%s: %s", uri, error);
		free(error);
		mc_store_unref(&ds->base);
		return -1;
	}
	free(dvpath);
	if (list_users(ds, mask, error_r) < 0) {
		mc_store_unref(&ds->base);
		return -1;
	}
	*store_r = &ds->base;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Removal                                                            */
/* ------------------------------------------------------------------ */

static char *extra_json(const struct dovecot_msg *dm, const char *config)
{
	json_object *o = json_object_new_object();
	char *s;

	json_object_object_add(o, "mailbox_guid", json_object_new_string(dm->mailbox_guid));
	json_object_object_add(o, "uid", json_object_new_int64(dm->uid));
	json_object_object_add(o, "guid", json_object_new_string(dm->guid != NULL ? dm->guid : ""));
	json_object_object_add(o, "flags", json_object_new_string(dm->flags != NULL ? dm->flags : ""));
	json_object_object_add(o, "dovecot_config",
			       config != NULL ? json_object_new_string(config) : NULL);
	s = mc_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

/* Fetch the message again and keep it only if it is still exactly
   what was scanned; then quarantine it. */
static int quarantine_one(struct dovecot_store *ds, struct mc_quarantine *q,
			  const char *run_id, struct mc_removal *r)
{
	struct dovecot_msg *dm = (struct dovecot_msg *)r->msg;
	struct mc_msg *msg = r->msg;
	unsigned char *now = NULL;
	size_t now_len = 0;
	struct mc_qentry meta;
	struct mc_facts *facts;
	char *error = NULL;
	int ret;

	if (q == NULL)
		return mc_error_set(&r->error, "no quarantine: not removed");
	if (msg->read_error != NULL || msg->raw == NULL)
		return mc_error_set(&r->error, "message was not read: not removed");
	ret = fetch_text(&ds->dv, dm->user, dm->mailbox_guid, dm->uid,
			 msg->raw_size, &now, &now_len, &error);
	if (ret == 0)
		return mc_error_set(&r->error, "no longer in the mailbox: not removed");
	if (ret < 0) {
		if (errno == EFBIG)
			mc_error_set(&r->error, "changed since it was scanned: not removed");
		else
			mc_error_set(&r->error, "cannot read it again (%s): not removed", error);
		free(error);
		return -1;
	}
	if (now_len != msg->raw_size || memcmp(now, msg->raw, now_len) != 0) {
		free(now);
		return mc_error_set(&r->error, "changed since it was scanned: not removed");
	}
	free(now);

	memset(&meta, 0, sizeof(meta));
	meta.run_id = (char *)run_id;
	meta.loc = msg->loc;
	if (r->match != NULL) {
		meta.reasons = r->match->reasons;
		meta.reason_count = r->match->reason_count;
	}
	facts = mc_facts_init(msg, &ds->base.limits);
	if (facts != NULL) {
		meta.from = (char *)mc_facts_header(facts, "From");
		meta.subject = (char *)mc_facts_header(facts, "Subject");
		meta.message_id = (char *)mc_facts_header(facts, "Message-ID");
	}
	meta.extra_json = extra_json(dm, ds->config);
	ret = mc_quarantine_put(q, &meta, msg->raw, msg->raw_size,
				&r->quarantine_id, &r->error);
	free(meta.extra_json);
	mc_facts_free(&facts);
	if (ret < 0 && r->error == NULL)
		r->error = mc_xstrdup("quarantine failed: not removed");
	return ret < 0 ? -1 : 0;
}

/* UIDs of SET (a doveadm uid set) still in mailbox GUID: -1 when
   that cannot be told. */
static int remaining_uids(const struct mc_doveadm *dv, const char *user,
			  const char *guid, const char *set, uint32_t **uids_r,
			  size_t *count_r, char **error_r)
{
	const char *args[] = {
		"-f", "pager", "fetch", "-u", user, "uid",
		"mailbox-guid", guid, "uid", set, NULL
	};
	char *out, *save = NULL;
	size_t len, cap = 0;

	*uids_r = NULL;
	*count_r = 0;
	if (doveadm_fetch(dv, args, 16U << 20, &out, &len, error_r) < 0)
		return -1;
	for (char *line = strtok_r(out, "\n\f", &save); line != NULL;
	     line = strtok_r(NULL, "\n\f", &save)) {
		uint64_t v;

		if (strncmp(line, "uid: ", 5) != 0 || !mc_dovecot_parse_u64(line + 5, UINT32_MAX, &v)) {
			free(out);
			free(*uids_r);
			*uids_r = NULL;
			*count_r = 0;
			return mc_error_set(error_r, "doveadm fetch: unexpected output");
		}
		MC_ARRAY_PUSH(*uids_r, *count_r, cap, (uint32_t)v);
	}
	free(out);
	return 0;
}

/* Expunge the quarantined messages ITEMS (all of one user and
   mailbox), then see which are really gone. */
static void expunge_chunk(struct dovecot_store *ds, struct mc_quarantine *q,
			  struct mc_removal **items, size_t count)
{
	struct dovecot_msg *first = (struct dovecot_msg *)items[0]->msg;
	size_t cap = count * 11 + 1, o = 0;
	char *set = mc_xmalloc(cap);
	char *err = NULL, *error = NULL;
	uint32_t *left = NULL;
	size_t left_count = 0;
	int code, vret;

	for (size_t i = 0; i < count; i++) {
		const struct dovecot_msg *dm = (const struct dovecot_msg *)items[i]->msg;
		o += (size_t)snprintf(set + o, cap - o, "%s%u", i > 0 ? "," : "", dm->uid);
	}
	const char *args[] = {
		"expunge", "-u", first->user, "mailbox-guid", first->mailbox_guid,
		"uid", set, NULL
	};
	code = mc_doveadm_run(&ds->dv, args, NULL, 0, 1U << 20, NULL, NULL, &err, &error);
	char *expunge_why = code == 0 ? NULL : code < 0 ? mc_xstrdup(error) :
		failure_text("doveadm expunge", code, err);
	free(err);
	free(error);
	error = NULL;
	vret = remaining_uids(&ds->dv, first->user, first->mailbox_guid, set, &left,
			      &left_count, &error);
	for (size_t i = 0; i < count; i++) {
		struct mc_removal *r = items[i];
		const struct dovecot_msg *dm = (const struct dovecot_msg *)r->msg;
		bool still = false;

		if (vret < 0) {
			/* Whether it is gone is unknown: keep the copy, so
			   that nothing can be lost, and say so. */
			mc_error_set(&r->error, "%s%scould not check that it was removed (%s); "
				     "a copy is in quarantine entry %s",
				     expunge_why != NULL ? expunge_why : "",
				     expunge_why != NULL ? "; " : "", error, r->quarantine_id);
			continue;
		}
		for (size_t j = 0; j < left_count; j++)
			still |= left[j] == dm->uid;
		if (!still) {
			r->removed = true;
			continue;
		}
		char *qerr = NULL;
		if (mc_quarantine_discard(q, r->quarantine_id, &qerr) < 0) {
			mc_error_set(&r->error, "%s: not removed, and its quarantine entry %s "
				     "could not be discarded (%s): do not restore it",
				     expunge_why != NULL ? expunge_why : "doveadm expunge left it",
				     r->quarantine_id, qerr);
		} else {
			mc_error_set(&r->error, "%s: not removed",
				     expunge_why != NULL ? expunge_why : "doveadm expunge left it");
			free(r->quarantine_id);
			r->quarantine_id = NULL;
		}
		free(qerr);
	}
	free(expunge_why);
	free(error);
	free(left);
	free(set);
}

static void dovecot_remove(struct mc_store *store, struct mc_quarantine *q,
			   const char *run_id, struct mc_removal *removals,
			   size_t count)
{
	struct dovecot_store *ds = (struct dovecot_store *)store;
	struct mc_removal **ready = mc_xcalloc(count + 1, sizeof(*ready));
	bool *taken = mc_xcalloc(count + 1, sizeof(*taken));
	size_t nready = 0;

	for (size_t i = 0; i < count; i++) {
		if (quarantine_one(ds, q, run_id, &removals[i]) == 0)
			ready[nready++] = &removals[i];
	}
	/* Normally one container is one mailbox; group anyway, as a
	   batch can span mailboxes when a stream was abandoned. */
	for (size_t i = 0; i < nready; i++) {
		const struct dovecot_msg *a = (const struct dovecot_msg *)ready[i]->msg;
		struct mc_removal **group;
		size_t n = 0;

		if (taken[i])
			continue;
		group = mc_xcalloc(nready, sizeof(*group));
		for (size_t j = i; j < nready; j++) {
			const struct dovecot_msg *b = (const struct dovecot_msg *)ready[j]->msg;

			if (!taken[j] && strcmp(a->user, b->user) == 0 &&
			    strcasecmp(a->mailbox_guid, b->mailbox_guid) == 0) {
				taken[j] = true;
				group[n++] = ready[j];
			}
		}
		for (size_t off = 0; off < n; off += EXPUNGE_CHUNK)
			expunge_chunk(ds, q, group + off,
				      n - off > EXPUNGE_CHUNK ? EXPUNGE_CHUNK : n - off);
		free(group);
	}
	free(taken);
	free(ready);
}

/* ------------------------------------------------------------------ */
/* Restore                                                            */
/* ------------------------------------------------------------------ */

/* GUID and UIDNEXT of mailbox NAME: 1 found, 0 not there, -1 error. */
static int mailbox_lookup(const struct mc_doveadm *dv, const char *user,
			  const char *name, char guid_r[33], uint64_t *uidnext_r,
			  char **error_r)
{
	const char *args[] = {
		"-f", "pager", "mailbox", "status", "-u", user, "guid uidnext",
		name[0] == '-' ? "--" : name, name[0] == '-' ? name : NULL, NULL
	};
	char *out, *err = NULL;
	size_t len;
	int code, found = 0;

	code = mc_doveadm_run(dv, args, NULL, 0, 16U << 20, &out, &len, &err, error_r);
	if (code < 0)
		return -1;
	free(err);
	if (code != 0) {
		/* doveadm says "Mailbox doesn't exist" with a failure
		   status; whether that is the reason is settled by the
		   create that follows. */
		free(out);
		return 0;
	}
	found = mc_dovecot_mailbox_status(out, name, guid_r, uidnext_r);
	free(out);
	return found;
}

/* Among the UIDs >= UIDNEXT of mailbox GUID, the one whose text is
   RAW: 1 with *uid_r, 0 none, -1 error. */
static int find_saved(const struct mc_doveadm *dv, const char *user,
		      const char *guid, uint64_t uidnext, const void *raw,
		      size_t raw_size, uint32_t *uid_r, char **error_r)
{
	char range[32];
	const char *args[] = {
		"-f", "pager", "fetch", "-u", user, "uid size.physical",
		"mailbox-guid", guid, "uid", range, NULL
	};
	char *out, *save = NULL;
	uint64_t uid = 0, size;
	size_t len;
	int found = 0;

	snprintf(range, sizeof(range), "%llu:*", (unsigned long long)uidnext);
	if (doveadm_fetch(dv, args, 16U << 20, &out, &len, error_r) < 0)
		return -1;
	for (char *line = strtok_r(out, "\n\f", &save); line != NULL && found == 0;
	     line = strtok_r(NULL, "\n\f", &save)) {
		if (strncmp(line, "uid: ", 5) == 0) {
			if (!mc_dovecot_parse_u64(line + 5, UINT32_MAX, &uid))
				uid = 0;
			continue;
		}
		if (strncmp(line, "size.physical: ", 15) != 0 ||
		    !mc_dovecot_parse_u64(line + 15, UINT64_MAX, &size) || uid < uidnext ||
		    size != raw_size)
			continue;
		unsigned char *text;
		size_t text_len;
		char *ferr = NULL;
		int r = fetch_text(dv, user, guid, (uint32_t)uid, raw_size, &text,
				   &text_len, &ferr);
		free(ferr);
		if (r > 0) {
			if (text_len == raw_size && memcmp(text, raw, raw_size) == 0) {
				*uid_r = (uint32_t)uid;
				found = 1;
			}
			free(text);
		}
	}
	free(out);
	return found;
}

/* Whether the message EXTRA (the entry's extra fields) names is still
   in its mailbox: 1 yes, 0 no (or an entry that does not say where it
   was), -1 cannot be told. A removal killed between the quarantine
   and "doveadm expunge" leaves it there; restoring it too would
   duplicate it. The mailbox GUID is never reused and UIDs are never
   reused within a mailbox, so a message at that place is the one. */
static int still_in_mailbox(const struct mc_doveadm *dv, const char *user,
			    json_object *extra, char **error_r)
{
	json_object *g, *u;
	uint32_t *left = NULL;
	size_t left_count = 0;
	char uidstr[16];
	int64_t uid;

	if (extra == NULL || !json_object_object_get_ex(extra, "mailbox_guid", &g) ||
	    !json_object_is_type(g, json_type_string) ||
	    !json_object_object_get_ex(extra, "uid", &u) ||
	    !json_object_is_type(u, json_type_int))
		return 0;
	uid = json_object_get_int64(u);
	if (uid <= 0 || uid > UINT32_MAX || !mc_dovecot_valid_mailbox_guid(json_object_get_string(g)))
		return 0;
	snprintf(uidstr, sizeof(uidstr), "%u", (uint32_t)uid);
	if (remaining_uids(dv, user, json_object_get_string(g), uidstr, &left,
			   &left_count, error_r) < 0)
		return -1;
	free(left);
	return left_count > 0;
}

static int dovecot_restore(struct mc_quarantine *q, const struct mc_qentry *entry,
			   const void *raw, size_t raw_size, char **error_r)
{
	const char *user = entry->loc.user, *mailbox = entry->loc.folder;
	struct mc_doveadm dv = { NULL, NULL, 0 };
	json_object *extra = NULL, *v;
	const char *flags = NULL;
	char guid[33], *err = NULL, *error = NULL, *want = NULL;
	uint64_t uidnext = 0;
	uint32_t uid;
	int code, ret = -1;

	if (user == NULL || mailbox == NULL || !valid_user_name(user) ||
	    mailbox[0] == '\0' || !mc_dovecot_no_control(mailbox))
		return mc_error_set(error_r, "the entry does not name a Dovecot user and mailbox");
	if (entry->extra_json != NULL)
		extra = json_tokener_parse(entry->extra_json);
	if (extra != NULL && json_object_object_get_ex(extra, "flags", &v) &&
	    json_object_is_type(v, json_type_string))
		flags = json_object_get_string(v);
	/* The instance the message came from, unless told otherwise. */
	if (mc_doveadm_config(NULL) == NULL && extra != NULL &&
	    json_object_object_get_ex(extra, "dovecot_config", &v) &&
	    json_object_is_type(v, json_type_string))
		dv.config = json_object_get_string(v);

	code = still_in_mailbox(&dv, user, extra, &error);
	if (code != 0) {
		if (code > 0)
			mc_error_set(error_r, "the message is still in mailbox %s of %s (its "
				     "removal was interrupted): restoring it would duplicate it",
				     mailbox, user);
		else
			mc_error_set(error_r, "cannot tell whether the message is still in "
				     "mailbox %s of %s: %s", mailbox, user, error);
		goto out;
	}
	code = mailbox_lookup(&dv, user, mailbox, guid, &uidnext, error_r);
	if (code < 0)
		goto out;
	if (code == 0) {
		const char *args[] = {
			"mailbox", "create", "-u", user,
			mailbox[0] == '-' ? "--" : mailbox, mailbox[0] == '-' ? mailbox : NULL, NULL
		};
		code = mc_doveadm_run(&dv, args, NULL, 0, 1U << 20, NULL, NULL, &err, error_r);
		if (code < 0)
			goto out;
		if (code != 0) {
			char *f = failure_text("doveadm mailbox create", code, err);
			mc_error_set(error_r, "mailbox %s of %s: %s", mailbox, user, f);
			free(f);
			goto out;
		}
		free(err);
		err = NULL;
		code = mailbox_lookup(&dv, user, mailbox, guid, &uidnext, error_r);
		if (code <= 0) {
			if (code == 0)
				mc_error_set(error_r, "mailbox %s of %s: not found after creating it",
					     mailbox, user);
			goto out;
		}
	}

	const char *save_args[] = { "save", "-u", user, "-m", mailbox, NULL };
	code = mc_doveadm_run(&dv, save_args, raw, raw_size, 1U << 20, NULL, NULL, &err,
			      error_r);
	if (code < 0)
		goto out;
	if (code != 0) {
		char *f = failure_text("doveadm save", code, err);
		mc_error_set(error_r, "mailbox %s of %s: %s", mailbox, user, f);
		free(f);
		goto out;
	}
	free(err);
	err = NULL;
	/* The message is back. Its flags are set on the copy that was
	   just saved, found by content among the new UIDs; failing that
	   does not undo the restore (a retry would duplicate it). */
	ret = 0;
	want = mc_dovecot_restorable_flags(flags);
	if (want[0] == '\0')
		goto out;
	if (find_saved(&dv, user, guid, uidnext, raw, raw_size, &uid, &error) <= 0)
		goto out;
	char uidstr[16];
	snprintf(uidstr, sizeof(uidstr), "%u", uid);
	const char *flag_args[] = {
		"flags", "add", "-u", user, want, "mailbox-guid", guid, "uid", uidstr, NULL
	};
	mc_doveadm_run(&dv, flag_args, NULL, 0, 1U << 20, NULL, NULL, NULL, &error);
out:
	free(err);
	free(error);
	free(want);
	json_object_put(extra);
	return ret;
}

const struct mc_store_ops mc_store_dovecot = {
	.name = "dovecot",
	.detect = NULL,
	.open = dovecot_open,
	.next = dovecot_next,
	.container_last = mc_store_container_last_op,
	.remove = dovecot_remove,
	.msg_free = dovecot_msg_free,
	.close = mc_store_close_op,
	.restore = dovecot_restore,
};
