/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	quarantine_stage 3
/* SUMMARY
/*	entries staged until their removal is durable
/* SYNOPSIS
/*	#include "quarantine-private.h"
/* DESCRIPTION
/*	mc_quarantine_stage() builds an entry as mc_quarantine_put()
/*	does and moves it into pending/GROUP/, where nothing lists,
/*	counts or restores it. mc_quarantine_commit() makes staged
/*	entries entries (run index first, then entries/, fsync'd; ids
/*	already committed are skipped, so it can be repeated);
/*	mc_quarantine_unstage() deletes a group. mc_quarantine_staged()
/*	and mc_quarantine_staged_list() say what is staged, for the
/*	stores' settle ops (see restore.c).
/* SECURITY
/*	Group names become path components only after
/*	mc_qname_valid(); groups are opened with mc_safe_open_dir.
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

/* pending/GROUP, made when CREATE. Without CREATE, a group that does
   not exist is -1 with errno ENOENT. */
int mc_qstage_group_open(struct mc_quarantine *q, const char *group, bool create,
			 char **error_r)
{
	char *err = NULL;
	int fd;

	if (!mc_qname_valid(group))
		return mc_error_set(error_r, "'%s' is not a staging group", group);
	pthread_mutex_lock(&q->lock);
	if (q->pending_fd < 0) {
		if (!create && faccessat(q->root_fd, PENDING_DIR, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
			pthread_mutex_unlock(&q->lock);
			return mc_error_errno(error_r, "%s", PENDING_DIR);
		}
		q->pending_fd = mc_qsubdir_open(q->root_fd, PENDING_DIR, create, &err);
		if (q->pending_fd < 0) {
			pthread_mutex_unlock(&q->lock);
			mc_error_set(error_r, "quarantine %s: %s", q->dir, err);
			free(err);
			return -1;
		}
	}
	pthread_mutex_unlock(&q->lock);
	if (create && mkdirat(q->pending_fd, group, 0700) == 0 &&
	    mc_fsync_dir(q->pending_fd) < 0)
		return mc_error_errno(error_r, "quarantine %s: fsync %s", q->dir, PENDING_DIR);
	if (!create && faccessat(q->pending_fd, group, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return mc_error_errno(error_r, "%s/%s", PENDING_DIR, group);
	fd = mc_safe_open_dir(q->pending_fd, group, NULL, &err);
	if (fd < 0) {
		mc_error_set(error_r, "quarantine %s: %s/%s", q->dir, PENDING_DIR, err);
		free(err);
	}
	return fd;
}

/* An existing group: -2 when there is none. */
static int staged_open(struct mc_quarantine *q, const char *group, char **error_r)
{
	char *err = NULL;
	int fd = mc_qstage_group_open(q, group, false, &err);

	if (fd < 0 && errno == ENOENT) {
		free(err);
		return -2;
	}
	if (fd < 0) {
		mc_error_set(error_r, "%s", err);
		free(err);
	}
	return fd;
}

int mc_quarantine_stage(struct mc_quarantine *q, const char *group,
			const struct mc_qentry *meta, const void *raw, size_t raw_size,
			char **id_r, char **error_r)
{
	char want[65];
	char *id, *err = NULL;
	int gfd;

	*id_r = NULL;
	if (mc_qentry_check(meta, raw, raw_size, error_r) < 0)
		return -1;
	gfd = mc_qstage_group_open(q, group, true, error_r);
	if (gfd < 0)
		return -1;
	mc_qsha256_hex(raw_size > 0 ? raw : "", raw_size, want);
	id = mc_qentry_build(q, meta, raw, raw_size, want, &err);
	if (id == NULL)
		goto fail;
	if (mc_qrename_noreplace(q->tmp_fd, id, gfd, id) < 0 || mc_fsync_dir(gfd) < 0) {
		mc_error_errno(&err, "rename into %s/%s", PENDING_DIR, group);
		/* Not staged: whatever is left in tmp/ or in the group is
		   discarded, by purge or by the next unstage. */
		free(id);
		goto fail;
	}
	close(gfd);
	*id_r = id;
	return 0;
fail:
	close(gfd);
	mc_error_set(error_r, "quarantine %s: %s", q->dir, err);
	free(err);
	return -1;
}

int mc_quarantine_commit(struct mc_quarantine *q, const char *group,
			 char *const *ids, size_t count, char **error_r)
{
	char **runs = NULL, **staged = NULL;
	size_t staged_count = 0, cap = 0;
	char *err = NULL;
	int gfd, ret = -1;

	gfd = staged_open(q, group, error_r);
	if (gfd < 0)
		return gfd == -2 ? 0 : -1;
	/* What is still staged (a commit interrupted before may have
	   moved some), with the run each belongs to. */
	runs = mc_xcalloc(count + 1, sizeof(*runs));
	for (size_t i = 0; i < count; i++) {
		struct mc_qentry *e;
		int edfd;

		if (!mc_qname_valid(ids[i]) ||
		    faccessat(gfd, ids[i], F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		edfd = mc_safe_open_dir(gfd, ids[i], NULL, &err);
		e = edfd >= 0 ? mc_qentry_load(edfd, ids[i], &err) : NULL;
		if (edfd >= 0)
			close(edfd);
		if (e == NULL) {
			mc_error_set(error_r, "quarantine %s: staged entry %s: %s", q->dir,
				     ids[i], err);
			goto out;
		}
		runs[staged_count] = e->run_id;
		e->run_id = NULL;
		mc_qentry_free(&e);
		MC_ARRAY_PUSH(staged, staged_count, cap, ids[i]);
	}
	/* As in put, the run index names the entries first: one append
	   per run. */
	for (size_t i = 0; i < staged_count; i++) {
		char **same = NULL;
		size_t n = 0, same_cap = 0;

		if (runs[i] == NULL)
			continue;
		for (size_t k = i; k < staged_count; k++) {
			if (runs[k] != NULL && strcmp(runs[k], runs[i]) == 0) {
				MC_ARRAY_PUSH(same, n, same_cap, staged[k]);
				if (k > i) {
					free(runs[k]);
					runs[k] = NULL;
				}
			}
		}
		if (mc_qrun_append(q, runs[i], same, n, &err) < 0) {
			free(same);
			mc_error_set(error_r, "quarantine %s: %s", q->dir, err);
			goto out;
		}
		free(same);
	}
	for (size_t i = 0; i < staged_count; i++) {
		if (mc_qrename_noreplace(gfd, staged[i], q->entries_fd, staged[i]) < 0) {
			mc_error_errno(error_r, "quarantine %s: entry %s: rename into entries/",
				       q->dir, staged[i]);
			goto out;
		}
	}
	if (staged_count > 0 && (mc_fsync_dir(q->entries_fd) < 0 || mc_fsync_dir(gfd) < 0)) {
		mc_error_errno(error_r, "quarantine %s: fsync entries/", q->dir);
		goto out;
	}
	ret = 0;
out:
	for (size_t i = 0; i < staged_count; i++)
		free(runs[i]);
	free(runs);
	free(staged);
	free(err);
	close(gfd);
	return ret;
}

int mc_quarantine_unstage(struct mc_quarantine *q, const char *group, char **error_r)
{
	char **names = NULL;
	size_t count = 0;
	char *err = NULL;
	int gfd, ret = 0;

	gfd = staged_open(q, group, error_r);
	if (gfd < 0)
		return gfd == -2 ? 0 : -1;
	if (mc_qdir_list(gfd, &names, &count, &err) < 0) {
		mc_error_set(error_r, "quarantine %s: %s/%s: %s", q->dir, PENDING_DIR, group, err);
		free(err);
		close(gfd);
		return -1;
	}
	for (size_t i = 0; i < count && ret == 0; i++) {
		if (mc_qentry_dir_remove(gfd, names[i], &err) < 0) {
			mc_error_set(error_r, "quarantine %s: %s/%s: %s", q->dir, PENDING_DIR,
				     group, err);
			free(err);
			ret = -1;
		}
	}
	mc_qids_free(names, count);
	close(gfd);
	/* The group goes with its last entry (a group that gained an
	   entry meanwhile is not empty and stays). */
	if (ret == 0 && unlinkat(q->pending_fd, group, AT_REMOVEDIR) == 0)
		mc_fsync_dir(q->pending_fd);
	return ret;
}

bool mc_quarantine_staged(struct mc_quarantine *q, const char *group)
{
	char *err = NULL;
	int gfd = mc_qstage_group_open(q, group, false, &err);

	free(err);
	if (gfd < 0)
		return errno != ENOENT;
	close(gfd);
	return true;
}

int mc_quarantine_staged_list(struct mc_quarantine *q,
			      struct mc_quarantine_staged **list_r, size_t *count_r,
			      char **error_r)
{
	struct mc_quarantine_staged *list = NULL;
	char **groups = NULL;
	size_t count = 0, cap = 0, group_count = 0;
	char *err = NULL;
	int pfd;

	*list_r = NULL;
	*count_r = 0;
	if (faccessat(q->root_fd, PENDING_DIR, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	pfd = mc_qsubdir_open(q->root_fd, PENDING_DIR, false, &err);
	if (pfd < 0 || mc_qdir_list(pfd, &groups, &group_count, &err) < 0) {
		mc_error_set(error_r, "quarantine %s: %s", q->dir, err);
		free(err);
		if (pfd >= 0)
			close(pfd);
		return -1;
	}
	for (size_t i = 0; i < group_count; i++) {
		struct mc_quarantine_staged st = { .group = groups[i] };
		char **ids = NULL;
		size_t n = 0;
		int gfd = mc_safe_open_dir(pfd, groups[i], NULL, &err);

		if (gfd >= 0 && mc_qdir_list(gfd, &ids, &n, &err) == 0 && n > 0) {
			int edfd = mc_safe_open_dir(gfd, ids[0], NULL, &err);
			struct mc_qentry *e = edfd >= 0 ? mc_qentry_load(edfd, ids[0], &err) : NULL;

			if (e != NULL) {
				st.kind = (char *)e->loc.kind;
				st.path = (char *)e->loc.path;
				st.run_id = e->run_id;
				e->loc.kind = e->loc.path = NULL;
				e->run_id = NULL;
				mc_qentry_free(&e);
			}
			if (edfd >= 0)
				close(edfd);
		}
		free(err);
		err = NULL;
		if (gfd >= 0)
			close(gfd);
		st.count = n;
		mc_qids_free(ids, n);
		MC_ARRAY_PUSH(list, count, cap, st);
	}
	free(groups);
	close(pfd);
	*list_r = list;
	*count_r = count;
	return 0;
}

void mc_quarantine_staged_free(struct mc_quarantine_staged **listp, size_t count)
{
	struct mc_quarantine_staged *list = *listp;

	if (list == NULL)
		return;
	*listp = NULL;
	for (size_t i = 0; i < count; i++) {
		free(list[i].group);
		free(list[i].kind);
		free(list[i].path);
		free(list[i].run_id);
	}
	free(list);
}
