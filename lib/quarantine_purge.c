/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	quarantine_purge 3
/* SUMMARY
/*	take entries out of the quarantine
/* SYNOPSIS
/*	#include "quarantine-private.h"
/* DESCRIPTION
/*	mc_quarantine_discard() deletes one entry at once (a store that
/*	could not remove the original after quarantining it), and its
/*	run index line. mc_quarantine_purge() deletes the entries
/*	quarantined before a time, prunes the run indexes and clears
/*	tmp/ of builds that crashed and deletions left half-done. An
/*	entry is first renamed out of entries/, so that it disappears
/*	in one step; an entry locked by a restore is left alone.
/* SECURITY
/*	Entries are removed through the quarantine's own directory
/*	descriptors, by names checked with mc_qname_valid().
/*--*/

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "quarantine-private.h"

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
	if (mc_qentry_dir_remove(q->tmp_fd, gone, &err) < 0) {
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

	fd = mc_qentry_open(q, id, error_r);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX) < 0) {
		mc_error_errno(error_r, "entry %s: lock", id);
		close(fd);
		return -1;
	}
	e = mc_qentry_load(fd, id, NULL);
	if (entry_delete(q, id, error_r) < 0) {
		mc_qentry_free(&e);
		close(fd);
		return -1;
	}
	close(fd);
	mc_qknown_forget(q, id);
	if (e != NULL && e->run_id != NULL && mc_qname_valid(e->run_id) &&
	    mc_qrun_prune(q, e->run_id, id, error_r) < 0) {
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

	if (mc_qdir_list(q->entries_fd, &names, &count, &err) < 0) {
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
		e = mc_qentry_load(fd, id, NULL);
		/* An entry whose record is damaged is judged by the time
		   in its id, which is the same clock reading. */
		when = e != NULL && e->quarantined_at != 0 ? e->quarantined_at : mc_qname_time(id);
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
	mc_qids_free(names, count);
	if (dry_run)
		goto done;

	/* Run indexes: drop the lines of purged entries. */
	if (purged > 0 && mc_qdir_list(q->runs_fd, &names, &count, &err) == 0) {
		for (size_t i = 0; i < count; i++) {
			if (mc_qrun_prune(q, names[i], NULL, &err) < 0) {
				failures++;
				if (first_error == NULL)
					first_error = err;
				else
					free(err);
				err = NULL;
			}
		}
		mc_qids_free(names, count);
	}
	free(err);
	err = NULL;

	/* tmp/: entries whose put crashed, and deletions left half-done.
	   A staging directory younger than an hour may belong to a put
	   running right now, whatever BEFORE says. */
	if (before > time(NULL) - 3600)
		before = time(NULL) - 3600;
	if (mc_qdir_list(q->tmp_fd, &names, &count, &err) == 0) {
		for (size_t i = 0; i < count; i++) {
			size_t n = strlen(names[i]);
			bool half_deleted = n > 6 && strcmp(names[i] + n - 6, ".purge") == 0;
			time_t when = mc_qname_time(names[i]);

			if (!half_deleted && (when == (time_t)-1 || when >= before))
				continue;
			if (mc_qentry_dir_remove(q->tmp_fd, names[i], &err) < 0) {
				free(err);
				err = NULL;
			}
		}
		mc_qids_free(names, count);
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
