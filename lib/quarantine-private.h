/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	quarantine-private 3h
/* SUMMARY
/*	what the parts of the quarantine share
/* SYNOPSIS
/*	#include "quarantine-private.h"
/* DESCRIPTION
/*	The quarantine (quarantine.c) is split by what each part does
/*	to the directory: quarantine_meta.c reads and writes an entry's
/*	metadata record, quarantine_runs.c keeps the run indexes,
/*	quarantine_stage.c the entries staged in pending/, and
/*	quarantine_purge.c takes entries out again. They share the
/*	open quarantine and the file helpers declared here; nothing
/*	outside lib/quarantine*.c includes this header.
/*--*/

#ifndef MAILCURE_QUARANTINE_PRIVATE_H
#define MAILCURE_QUARANTINE_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <glib.h>
#include <json-c/json.h>

#include "mailcure/mailcure.h"

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

/* --- quarantine.c: names, files, entries --- */

/* An id or run name that is safe as one path component. */
bool mc_qname_valid(const char *s);
/* Time encoded at the start of an id or run name ("20261128T010830Z"),
   or -1. */
time_t mc_qname_time(const char *s);
void mc_qsha256_hex(const void *data, size_t len, char hex[65]);
/* Remove directory NAME under PARENTFD and the files in it (an entry
   holds only plain files). */
int mc_qentry_dir_remove(int parentfd, const char *name, char **error_r);
/* Replace NAME under DIRFD with DATA durably: temporary file (0600,
   O_EXCL), fsync, rename, fsync the directory. */
int mc_qfile_replace(int dirfd, const char *name, const char *tmpname,
		     const void *data, size_t len, char **error_r);
/* renameat that never replaces an existing entry (renameat would
   replace an empty directory). */
int mc_qrename_noreplace(int olddirfd, const char *oldname, int newdirfd,
			 const char *newname);
/* A subdirectory of the quarantine root, created when CREATE. */
int mc_qsubdir_open(int rootfd, const char *name, bool create, char **error_r);
/* Names of DIRFD's entries that are valid names, sorted. */
int mc_qdir_list(int dirfd, char ***names_r, size_t *count_r, char **error_r);
/* The directory of entry ID in entries/; the error names a staged
   entry as such. */
int mc_qentry_open(struct mc_quarantine *q, const char *id, char **error_r);
/* Entry ID is gone: a later put of the same message is a new entry. */
void mc_qknown_forget(struct mc_quarantine *q, const char *id);
/* Check META for a put or a stage. */
int mc_qentry_check(const struct mc_qentry *meta, const void *raw,
		    size_t raw_size, char **error_r);
/* Build a complete entry for RAW (SHA-256 WANT) and META in tmp/,
   where nobody else looks: message written, fsync'd, read back and
   compared; meta.json written and fsync'd; the directory fsync'd.
   Returns its id (malloc()ed), or NULL with *err_r. */
char *mc_qentry_build(struct mc_quarantine *q, const struct mc_qentry *meta,
		      const void *raw, size_t raw_size, char want[65],
		      char **err_r);

/* --- quarantine_meta.c: the metadata record --- */

json_object *mc_qentry_to_json(const struct mc_qentry *e);
/* Load the metadata of entry ID from its open directory EDFD. */
struct mc_qentry *mc_qentry_load(int edfd, const char *id, char **error_r);

/* --- quarantine_runs.c: run indexes --- */

/* Append IDS to RUN's index in one write. */
int mc_qrun_append(struct mc_quarantine *q, const char *run,
		   char *const *ids, size_t count, char **error_r);
/* Split index text into valid ids, sorted and without duplicates. */
void mc_qrun_parse(char *buf, size_t len, char ***ids_r, size_t *count_r);
/* Drop the lines of RUN's index whose entry no longer exists (or is
   DROP_ID); remove the index when nothing is left. */
int mc_qrun_prune(struct mc_quarantine *q, const char *run,
		  const char *drop_id, char **error_r);
void mc_qids_sort_unique(char **ids, size_t *count);
void mc_qids_free(char **ids, size_t count);

/* --- quarantine_stage.c: staged entries --- */

/* pending/GROUP, made when CREATE. Without CREATE, a group that does
   not exist is -1 with errno ENOENT. */
int mc_qstage_group_open(struct mc_quarantine *q, const char *group,
			 bool create, char **error_r);

#endif
