/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	store-private 3h
/* SUMMARY
/*	what the mail store implementations share
/* SYNOPSIS
/*	#include "store/store-private.h"
/* DESCRIPTION
/*	Every store (maildir.c, mbox.c, eml.c, tree.c) embeds struct
/*	mc_store as the first member of its own state, and yields
/*	messages that are struct mc_store_msg, whose msg.store_priv
/*	points back at the store that made it. That is what lets the
/*	tree store hand out the messages of the Maildirs and mboxes it
/*	opens and still dispatch remove(), container_last() and
/*	msg_free() to the right implementation.
/*
/*	A store is reference counted: one reference for whoever opened
/*	it and one per message it yielded that is not yet freed. The
/*	pipeline frees messages from another thread than the one that
/*	calls next(), and may close a store before its last messages
/*	are freed; the counts are atomic, and a store's resources
/*	(directory descriptors, strings its messages point at) live
/*	until the last reference goes.
/*
/*	Everything a message needs after it was yielded (its bytes, its
/*	location strings, whether it ends its container) is fixed when
/*	it is yielded, so that remove(), container_last() and msg_free()
/*	never read state that next() is changing.
/*--*/

#ifndef MAILCURE_STORE_PRIVATE_H
#define MAILCURE_STORE_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "mailcure/mailcure.h"
#include "internal.h"

struct mc_store_msg;

struct mc_store {
	const struct mc_store_ops *ops;
	char *uri;			/* loc.store of every message */
	struct mc_limits limits;
	bool dry_run;
	bool heads_first;
	bool loads_without_raw;
	unsigned refs;			/* atomic */
	/* Frees the implementation's state (not the base). */
	void (*destroy)(struct mc_store *store);
	/* Reads the body of a message yielded with its head only (any
	   thread), or NULL. */
	int (*load)(struct mc_store *store, struct mc_store_msg *m);
};

struct mc_store_msg {
	struct mc_msg msg;
	unsigned char *buf;		/* raw bytes, owned */
	unsigned char *databuf;		/* unquoted data (mbox), or NULL */
	char *path;			/* loc.path, owned */
	char *dir_rel;			/* directory of the file, relative to
					   the store's root fd ("" = the root) */
	char *name;			/* file name inside that directory */
	char *flags;			/* loc.maildir_flags, owned */
	char *read_error;		/* msg.read_error, owned */
	dev_t dev;			/* the file that was read */
	ino_t ino;
	bool container_last;
	/* Yielded with its head only (heads_first): how to read the rest. */
	bool lazy;
	unsigned char *headbuf;		/* msg.head, owned */
	int fd;				/* Maildir: the open file, or -1 */
	size_t data_skip;		/* mbox: raw bytes before data (From_ line) */
	size_t data_trim;		/* mbox: raw bytes after data (separator) */
	size_t quoted;			/* mbox: ">From " lines in data */
};

/* Base object. */
void mc_store_base_init(struct mc_store *store, const struct mc_store_ops *ops,
			const char *uri, const struct mc_store_settings *set,
			void (*destroy)(struct mc_store *store));
void mc_store_ref(struct mc_store *store);
void mc_store_unref(struct mc_store *store);

/* A new message of STORE (referencing it): loc.store, loc.kind and
   loc.offset = -1 filled in. */
struct mc_store_msg *mc_store_msg_new(struct mc_store *store, const char *kind);
/* The same for a message embedded in a store's own larger struct
   (zeroed by the caller). */
void mc_store_msg_init(struct mc_store *store, struct mc_store_msg *m,
		       const char *kind);
/* The generic msg_free and close ops. */
void mc_store_msg_free_op(struct mc_store *store, struct mc_msg **msg);
/* The generic load and drop ops: dispatched to the store that
   yielded the message. */
int mc_store_load_op(struct mc_store *store, struct mc_msg *msg);
void mc_store_drop_op(struct mc_store *store, struct mc_msg *msg);
void mc_store_close_op(struct mc_store **store);
bool mc_store_container_last_op(struct mc_store *store, const struct mc_msg *msg);
/* The store that yielded MSG. */
static inline struct mc_store *mc_store_of(const struct mc_msg *msg)
{
	return msg->store_priv;
}

/* Read the file FD (ST from fstat) into M: raw = data = its bytes.
   A file larger than limits->max_message_size is not read: raw and
   data stay NULL and size is the file size, which the pipeline
   reports as unscanned. A read error or a file that shrank sets
   read_error. */
void mc_store_msg_read(struct mc_store *store, struct mc_store_msg *m, int fd,
		       const struct stat *st);
/* Read the file FD (ST from fstat) into M as mc_store_msg_read does,
   or, when the store reads heads first and the file is larger than
   a first read, only its head: the first bytes, up to at least the
   end of the header block. Returns true when M keeps FD open to read
   the rest later (the caller must not close it then). */
bool mc_store_msg_read_head(struct mc_store *store, struct mc_store_msg *m,
			    int fd, const struct stat *st);
/* The load of a message read by mc_store_msg_read_head. */
int mc_store_file_load(struct mc_store *store, struct mc_store_msg *m);
/* A buffer for SIZE bytes and a NUL, aligned so that reads into it
   are fast. */
unsigned char *mc_store_buf_new(size_t size);
/* Fill loc.uid/gid/mode/mtime and dev/ino from ST. */
void mc_store_msg_stat(struct mc_store_msg *m, const struct stat *st);
/* Set read_error (formatted). */
void mc_store_msg_error(struct mc_store_msg *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Put the message of REMOVAL into quarantine Q with LOC (or, with a
   GROUP, stage it there: mc_quarantine_stage): on success
   removal->quarantine_id is set and 0 returned; else removal->error. */
int mc_store_quarantine(struct mc_store *store, struct mc_quarantine *q,
			const char *group, const char *run_id,
			struct mc_removal *removal);

/* The message of REMOVAL was quarantined but stays in its store:
   discard the fresh quarantine copy (so that no restore can duplicate
   the message) and set removal->error from FMT. */
void mc_store_unquarantine(struct mc_quarantine *q, struct mc_removal *removal,
			   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The envelope to re-inject a quarantined queue message (Postfix,
   Exim) with: the one recorded in ENTRY (the recipients still
   undelivered when it was quarantined), else the queue file's own
   SENDER and RCPTS. */
struct mc_store_envelope {
	const char *sender;
	const char *const *rcpts;
	size_t rcpt_count;
};
void mc_store_restore_envelope(const struct mc_qentry *entry, const char *sender,
			       char *const *rcpts, size_t rcpt_count,
			       struct mc_store_envelope *env_r);

/* Open directory REL (components separated by '/', "" = DIRFD
   itself, which is dup()ed) below DIRFD, one component at a time
   with mc_safe_open_dir. */
int mc_store_open_rel_dir(int dirfd, const char *rel, char **error_r);

/* Quarantine and unlink one single-file message (Maildir, eml):
   re-open its directory below ROOTFD, check that the name is still
   the inode that was read and has one link, quarantine, check
   again, unlinkat, fsync the directory. When MAILDIR_MOVED is set
   and the name is gone, the same message renamed by the IMAP
   server (new/ -> cur/, changed flags) is looked for. */
void mc_store_remove_file(struct mc_store *store, int rootfd,
			  struct mc_quarantine *q, const char *run_id,
			  struct mc_removal *removal, bool maildir_moved);

/* --- paths and owners --- */

/* Last component of PATH (not modified), and a malloc()ed copy of
   everything before it ("/" for "/x", "." for "x"). */
const char *mc_path_base(const char *path);
char *mc_path_dir(const char *path);

/* Owner of a mailbox from its absolute path (see store.c):
   MAILDIR: path of a Maildir; else the path of an mbox file, for
   which *folder_r gets its folder name. ROOT is the tree root the
   mailbox was found in (or NULL for a single explicit mailbox).
   Returns NULL when the path says nothing. */
char *mc_store_user_from_path(const char *abs_path, bool maildir,
			      const char *root, char **folder_r);

/* Open the directory ABS_PATH (absolute) to write into it as root:
   mc_open_dir_path, which follows only a symlink that root alone (or
   the caller) could have made or replaced. */
int mc_store_open_dir_trusted(const char *abs_path, char **error_r);

/* Write RAW as a new file NAME in DIRFD (O_EXCL: an existing name is
   refused), owned by UID/GID (when running as root or when they
   differ), with MODE and MTIME (0 = now), fsync'd. Returns 0, or -1
   with *error_r (and no file left behind). */
int mc_store_write_new(int dirfd, const char *name, const void *raw,
		       size_t raw_size, uid_t uid, gid_t gid, mode_t mode,
		       time_t mtime, char **error_r);
/* mkdirat NAME in DIRFD owned by UID/GID (when root) with MODE,
   then open it safely. An existing directory is just opened. */
int mc_store_mkdir_owned(int dirfd, const char *name, uid_t uid, gid_t gid,
			 mode_t mode, bool *created_r, char **error_r);

/* --- detection --- */

/* Whether NAME under DIRFD is a Maildir: cur/ and new/ directories
   (or symlinks, which are reported when read). */
bool mc_store_is_maildir_at(int dirfd, const char *name);
/* First bytes of a mail file: "From " starts an mbox; a header field
   ("Name:" at the start) an RFC 5322 message. */
bool mc_store_looks_mbox(const unsigned char *p, size_t len);
bool mc_store_looks_rfc5322(const unsigned char *p, size_t len);
/* Whether LINE (LEN bytes, without its newline) starts with "From "
   and carries a date after it (mbox_from.c). */
bool mc_store_mbox_from_line(const unsigned char *line, size_t len);
/* What a complete From_ line says (mbox_from.c). */
struct mc_mbox_from {
	size_t sender_off, sender_len;	/* in the line */
	int year, month, day;		/* month 1..12 */
	int hour, minute, second;
};
/* Whether LINE is a complete From_ line: "From SENDER DATE", the date
   in asctime() form with the variants mbox writers use, nothing else.
   FROM_R may be NULL. */
bool mc_store_mbox_from_parse(const unsigned char *line, size_t len,
			      struct mc_mbox_from *from_r);
/* Read up to LEN first bytes of regular file NAME under DIRFD (never
   blocking on a FIFO, never following a symlink). Returns the byte
   count or -1. */
ssize_t mc_store_peek(int dirfd, const char *name, void *buf, size_t len);

/* --- store file formats parsed from memory (fuzz targets, unit tests) --- */

/* postfix.c: parse the Postfix queue file BUF (LEN bytes) as the
   store does. 0 with the envelope sender (malloc()ed), the number of
   recipients still to be delivered and, unless ENVELOPE_ONLY, the
   message reassembled from the content records (malloc()ed,
   NUL-terminated after *content_len_r bytes; NULL with
   ENVELOPE_ONLY). -1 with *error_r. */
int mc_store_postfix_parse(const unsigned char *buf, size_t len, bool envelope_only,
			   char **sender_r, size_t *rcpt_count_r,
			   unsigned char **content_r, size_t *content_len_r,
			   char **error_r);

/* dovecot_parse.c: read DATA (LEN bytes), the output of "doveadm -f pager
   fetch" of the message fields the store asks for (with TEXT, the
   message text too, cut by its size.physical), handed to the reader
   CHUNK bytes at a time as a pipe would. 0 when the output is
   well-formed records to its end, or -1 with *error_r saying why the
   store would give up the stream there; *records_r counts the
   records read. */
int mc_store_dovecot_parse(const void *data, size_t len, size_t chunk, bool text,
			   size_t *records_r, char **error_r);

/* --- sub-stores (used by the tree store) --- */

struct mc_substore_spec {
	const char *uri;	/* loc.store */
	int dirfd;		/* verified parent directory */
	const char *name;	/* the mailbox, under DIRFD */
	const char *abs_path;	/* its absolute path */
	const char *user;	/* loc.user */
	const char *folder;	/* mbox: loc.folder */
};

int mc_store_maildir_open_sub(const struct mc_substore_spec *spec,
			      const struct mc_store_settings *set,
			      struct mc_store **store_r, char **error_r);
int mc_store_mbox_open_sub(const struct mc_substore_spec *spec,
			   const struct mc_store_settings *set,
			   struct mc_store **store_r, char **error_r);

#endif
