/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	quarantine_runs 3
/* SUMMARY
/*	the run indexes of the quarantine
/* SYNOPSIS
/*	#include "quarantine-private.h"
/* DESCRIPTION
/*	DIR/runs/RUN lists the ids quarantined by run RUN, one a line,
/*	so that "restore --run" reads one small file. mc_qrun_append()
/*	adds ids in one fsync'd write; mc_qrun_prune() drops the lines
/*	of entries that are gone and removes an index left empty. Both
/*	take flock on the index file and re-check after locking that
/*	the name still refers to the file locked, since prune replaces
/*	or removes index files.
/* SECURITY
/*	Run names become path components only after mc_qname_valid();
/*	index files are opened with O_NOFOLLOW and bounded in size.
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

/* Open and flock the index of RUN, retrying when purge replaced or
   removed the file between our open and our lock. */
static int run_index_lock(struct mc_quarantine *q, const char *run, bool create,
			  struct stat *st_r, char **error_r)
{
	for (int tries = 0; tries < 100; tries++) {
		struct stat st, lst;
		int fd;

		fd = openat(q->runs_fd, run, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC |
			    (create ? O_CREAT : 0), 0600);
		if (fd < 0)
			return mc_error_errno(error_r, "run index %s", run);
		if (flock(fd, LOCK_EX) < 0) {
			mc_error_errno(error_r, "lock run index %s", run);
			close(fd);
			return -1;
		}
		if (fstat(fd, &st) < 0) {
			mc_error_errno(error_r, "run index %s", run);
			close(fd);
			return -1;
		}
		if (fstatat(q->runs_fd, run, &lst, AT_SYMLINK_NOFOLLOW) < 0) {
			int gone = errno;

			close(fd);
			if (gone != ENOENT || !create) {
				errno = gone;
				return mc_error_errno(error_r, "run index %s", run);
			}
			continue;
		}
		if (mc_same_file(&st, &lst)) {
			if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
				close(fd);
				return mc_error_set(error_r, "run index %s: not a plain file", run);
			}
			*st_r = st;
			return fd;
		}
		close(fd);
	}
	return mc_error_set(error_r, "run index %s: keeps being replaced", run);
}

/* Append IDS to RUN's index in one write. */
int mc_qrun_append(struct mc_quarantine *q, const char *run,
		   char *const *ids, size_t count, char **error_r)
{
	GString *lines = g_string_new(NULL);
	char *line;
	struct stat st;
	int fd, ret = 0;

	for (size_t i = 0; i < count; i++)
		g_string_append_printf(lines, "%s\n", ids[i]);
	line = g_string_free(lines, FALSE);
	pthread_mutex_lock(&q->lock);
	fd = run_index_lock(q, run, true, &st, error_r);
	if (fd < 0) {
		pthread_mutex_unlock(&q->lock);
		g_free(line);
		return -1;
	}
	if (mc_write_all(fd, line, strlen(line)) < 0) {
		mc_error_errno(error_r, "append to run index %s", run);
		/* No half line for the next append to run into. */
		if (ftruncate(fd, st.st_size) < 0) {
			/* Readers skip lines that are not entry ids. */
		}
		ret = -1;
	} else if (fsync(fd) < 0) {
		mc_error_errno(error_r, "fsync run index %s", run);
		ret = -1;
	} else if (st.st_size == 0 && mc_fsync_dir(q->runs_fd) < 0) {
		mc_error_errno(error_r, "fsync run index directory");
		ret = -1;
	}
	close(fd);
	pthread_mutex_unlock(&q->lock);
	g_free(line);
	return ret;
}

/* Split index text into valid ids, sorted and without duplicates. */
void mc_qrun_parse(char *buf, size_t len, char ***ids_r, size_t *count_r)
{
	char **ids = NULL;
	size_t count = 0, cap = 0;
	char *p = buf, *end = buf + len;

	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *e = nl != NULL ? nl : end;

		*e = '\0';
		if (mc_qname_valid(p))
			MC_ARRAY_PUSH(ids, count, cap, mc_xstrdup(p));
		p = e + 1;
	}
	*ids_r = ids;
	*count_r = count;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void mc_qids_sort_unique(char **ids, size_t *count)
{
	size_t out = 0;

	if (*count == 0)
		return;
	qsort(ids, *count, sizeof(char *), cmp_str);
	for (size_t i = 0; i < *count; i++) {
		if (out > 0 && strcmp(ids[out - 1], ids[i]) == 0) {
			free(ids[i]);
			continue;
		}
		ids[out++] = ids[i];
	}
	*count = out;
}

void mc_qids_free(char **ids, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(ids[i]);
	free(ids);
}

/* Drop the lines of RUN's index whose entry no longer exists (or is
   DROP_ID); remove the index when nothing is left. */
int mc_qrun_prune(struct mc_quarantine *q, const char *run,
		  const char *drop_id, char **error_r)
{
	unsigned char *buf = NULL;
	char **ids = NULL;
	size_t len, count = 0, kept = 0;
	struct stat st;
	GString *out;
	char *tmpname;
	int fd, ret = 0;

	pthread_mutex_lock(&q->lock);
	fd = run_index_lock(q, run, false, &st, error_r);
	if (fd < 0) {
		pthread_mutex_unlock(&q->lock);
		return errno == ENOENT ? 0 : -1;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		mc_error_errno(error_r, "run index %s", run);
		close(fd);
		pthread_mutex_unlock(&q->lock);
		return -1;
	}
	if (mc_read_fd(fd, QRUN_MAX_BYTES, &buf, &len, error_r) < 0) {
		close(fd);
		pthread_mutex_unlock(&q->lock);
		return -1;
	}
	mc_qrun_parse((char *)buf, len, &ids, &count);
	free(buf);
	out = g_string_new(NULL);
	for (size_t i = 0; i < count; i++) {
		struct stat est;

		if (drop_id != NULL && strcmp(ids[i], drop_id) == 0)
			continue;
		if (fstatat(q->entries_fd, ids[i], &est, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		g_string_append(out, ids[i]);
		g_string_append_c(out, '\n');
		kept++;
	}
	if (kept == count && (off_t)out->len == st.st_size) {
		/* Nothing to change. */
	} else if (kept == 0) {
		if (unlinkat(q->runs_fd, run, 0) < 0 || mc_fsync_dir(q->runs_fd) < 0)
			ret = mc_error_errno(error_r, "remove run index %s", run);
	} else {
		/* Temporary names start with '.', which no run name does. */
		tmpname = mc_xasprintf(".%s.tmp", run);
		ret = mc_qfile_replace(q->runs_fd, run, tmpname, out->str, out->len, error_r);
		free(tmpname);
	}
	g_string_free(out, TRUE);
	mc_qids_free(ids, count);
	close(fd);
	pthread_mutex_unlock(&q->lock);
	return ret;
}
