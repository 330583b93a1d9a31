/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	eml 3
/* SUMMARY
/*	the eml store: single RFC 5322 message files
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	extern const struct mc_store_ops mc_store_eml;
/* DESCRIPTION
/*	eml:FILE is one message (any file name). eml:DIR is every *.eml
/*	file below DIR (dot files and dot directories skipped, at most
/*	16 levels deep); loc.folder is the subdirectory it is in ("" for
/*	DIR itself), loc.user the file's owner.
/*
/*	Removal quarantines the bytes that were read and unlinks the
/*	file relative to its re-opened directory, if the name is still
/*	the same single-linked inode (store.c). Restore writes the file
/*	back with its owner, mode and mtime, and never overwrites one.
/* SECURITY
/*	DIR, or the directory of FILE, is walked to from "/" by
/*	mc_safe_walk (no symlink a user could have made). Files are
/*	opened with mc_safe_open_file (no symlinks, no hard links, no
/*	FIFOs); directories below DIR with mc_safe_open_dir.
/*--*/

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "store-private.h"

#define EML_DEPTH_MAX 16

struct eml_dir {
	int fd;
	DIR *dir;
	char *rel;		/* "" for the root */
};

struct eml_owner {
	uid_t uid;
	char *name;
};

struct eml_store {
	struct mc_store base;
	int rootfd;		/* DIR, or the directory of FILE */
	char *root;		/* its absolute path */
	char *single;		/* eml:FILE: the file name, else NULL */
	bool single_done;
	struct eml_dir stack[EML_DEPTH_MAX];
	unsigned depth;
	struct eml_owner *owners;
	size_t owner_count, owner_cap;
};

static void eml_destroy(struct mc_store *store)
{
	struct eml_store *s = (struct eml_store *)store;

	while (s->depth > 0) {
		struct eml_dir *d = &s->stack[--s->depth];
		closedir(d->dir);
		close(d->fd);
		free(d->rel);
	}
	if (s->rootfd >= 0)
		close(s->rootfd);
	for (size_t i = 0; i < s->owner_count; i++)
		free(s->owners[i].name);
	free(s->owners);
	free(s->root);
	free(s->single);
}

static const char *owner_name(struct eml_store *s, uid_t uid)
{
	struct eml_owner o;

	for (size_t i = 0; i < s->owner_count; i++) {
		if (s->owners[i].uid == uid)
			return s->owners[i].name;
	}
	o.uid = uid;
	o.name = mc_user_name(uid);
	if (o.name == NULL)
		o.name = mc_xasprintf("%lu", (unsigned long)uid);
	MC_ARRAY_PUSH(s->owners, s->owner_count, s->owner_cap, o);
	return o.name;
}

static bool push_dir(struct eml_store *s, int fd, const char *rel, char **error_r)
{
	DIR *dir = mc_dir_list(fd);

	if (dir == NULL) {
		mc_error_errno(error_r, "%s", rel[0] != '\0' ? rel : ".");
		close(fd);
		return false;
	}
	s->stack[s->depth].fd = fd;
	s->stack[s->depth].dir = dir;
	s->stack[s->depth].rel = mc_xstrdup(rel);
	s->depth++;
	return true;
}

static int eml_open(const char *uri, const char *path,
		    const struct mc_store_settings *set,
		    struct mc_store **store_r, char **error_r)
{
	struct eml_store *s;
	struct mc_safe_path where;
	int fd;

	*store_r = NULL;
	if (mc_safe_walk(path, &where, error_r) < 0)
		return -1;
	s = mc_xcalloc(1, sizeof(*s));
	s->rootfd = -1;
	mc_store_base_init(&s->base, &mc_store_eml, uri, set, eml_destroy);
	if (S_ISDIR(where.st.st_mode)) {
		s->root = where.abs;
		where.abs = NULL;
		s->rootfd = mc_safe_path_open_dir(&where, path, error_r);
		if (s->rootfd < 0)
			goto fail;
		fd = fcntl(s->rootfd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0 || !push_dir(s, fd, "", error_r))
			goto fail;
	} else {
		/* The file is opened relative to the directory the walk
		   opened, never by its path again. */
		s->root = mc_path_dir(where.abs);
		s->single = where.name;
		where.name = NULL;
		s->rootfd = where.dirfd;
		where.dirfd = -1;
	}
	mc_safe_path_deinit(&where);
	*store_r = &s->base;
	return 0;
fail:
	mc_safe_path_deinit(&where);
	mc_store_unref(&s->base);
	return -1;
}

static struct mc_msg *file_msg(struct eml_store *s, int dirfd, const char *rel,
			       const char *name)
{
	struct mc_store_msg *m = mc_store_msg_new(&s->base, "eml");
	struct stat st;
	char *err = NULL;
	int fd;

	m->dir_rel = mc_xstrdup(rel);
	m->name = mc_xstrdup(name);
	m->path = rel[0] != '\0' ? mc_xasprintf("%s/%s/%s", s->root, rel, name) :
		mc_xasprintf("%s/%s", s->root, name);
	m->msg.loc.path = m->path;
	m->msg.loc.folder = m->dir_rel;
	fd = mc_safe_open_file(dirfd, name, true, &st, &err);
	if (fd < 0) {
		struct stat lst;

		if (fstatat(dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) == 0) {
			mc_store_msg_stat(m, &lst);
			m->msg.loc.user = owner_name(s, lst.st_uid);
		}
		mc_store_msg_error(m, "%s: %s", m->path, err);
		free(err);
		return &m->msg;
	}
	mc_store_msg_stat(m, &st);
	m->msg.loc.user = owner_name(s, st.st_uid);
	mc_store_msg_read(&s->base, m, fd, &st);
	close(fd);
	return &m->msg;
}

static bool is_eml_name(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcasecmp(name + n - 4, ".eml") == 0;
}

static int eml_next(struct mc_store *store, struct mc_msg **msg_r, char **error_r)
{
	struct eml_store *s = (struct eml_store *)store;

	if (s->single != NULL) {
		if (s->single_done)
			return 0;
		s->single_done = true;
		*msg_r = file_msg(s, s->rootfd, "", s->single);
		return 1;
	}
	while (s->depth > 0) {
		struct eml_dir *d = &s->stack[s->depth - 1];
		struct dirent *de = readdir(d->dir);
		struct stat st;
		char *err = NULL;

		if (de == NULL) {
			closedir(d->dir);
			close(d->fd);
			free(d->rel);
			s->depth--;
			continue;
		}
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(d->fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			char *rel = d->rel[0] != '\0' ?
				mc_xasprintf("%s/%s", d->rel, de->d_name) :
				mc_xstrdup(de->d_name);
			int fd;

			if (s->depth >= EML_DEPTH_MAX) {
				free(rel);
				continue;
			}
			fd = mc_safe_open_dir(d->fd, de->d_name, NULL, &err);
			if (fd < 0 || !push_dir(s, fd, rel, &err)) {
				struct mc_store_msg *m = mc_store_msg_new(store, "eml");

				m->path = mc_xasprintf("%s/%s", s->root, rel);
				m->msg.loc.path = m->path;
				mc_store_msg_error(m, "%s: %s", s->root, err);
				free(err);
				free(rel);
				*msg_r = &m->msg;
				return 1;
			}
			free(rel);
			continue;
		}
		if (!is_eml_name(de->d_name))
			continue;
		/* Symlinks and FIFOs named *.eml are reported, not read. */
		*msg_r = file_msg(s, d->fd, d->rel, de->d_name);
		return 1;
	}
	(void)error_r;
	return 0;
}

static void eml_remove(struct mc_store *store, struct mc_quarantine *q,
		       const char *run_id, struct mc_removal *removals, size_t count)
{
	struct eml_store *s = (struct eml_store *)store;

	for (size_t i = 0; i < count; i++)
		mc_store_remove_file(store, s->rootfd, q, run_id, &removals[i], false);
}

static int eml_restore(struct mc_quarantine *q, const struct mc_qentry *entry,
		       const void *raw, size_t raw_size, char **error_r)
{
	const char *path = entry->loc.path;
	char *dir;
	int dirfd, ret;

	if (path == NULL || path[0] != '/')
		return mc_error_set(error_r, "eml restore: no absolute path recorded");
	dir = mc_path_dir(path);
	dirfd = mc_store_open_dir_trusted(dir, error_r);
	free(dir);
	if (dirfd < 0)
		return -1;
	ret = mc_store_write_new(dirfd, mc_path_base(path), raw, raw_size,
				 entry->loc.uid, entry->loc.gid, entry->loc.mode,
				 entry->loc.mtime, error_r);
	if (ret < 0 && errno == EEXIST)
		mc_error_set(error_r, "%s: exists already; not overwritten", path);
	if (ret == 0)
		mc_fsync_dir(dirfd);
	close(dirfd);
	return ret;
}

static bool eml_detect(int atfd, const char *path)
{
	struct stat st;
	int fd = openat(atfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	if (S_ISREG(st.st_mode)) {
		unsigned char buf[256];
		ssize_t n = pread(fd, buf, sizeof(buf), 0);

		close(fd);
		return n > 0 && mc_store_looks_rfc5322(buf, (size_t)n);
	}
	if (!S_ISDIR(st.st_mode)) {
		close(fd);
		return false;
	}
	/* A directory whose files are all *.eml (and at least one). */
	DIR *dir = fdopendir(fd);
	struct dirent *de;
	unsigned eml = 0, other = 0;

	if (dir == NULL) {
		close(fd);
		return false;
	}
	while ((de = readdir(dir)) != NULL && other == 0) {
		struct stat est;

		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(dir), de->d_name, &est, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(est.st_mode))
			continue;
		if (is_eml_name(de->d_name))
			eml++;
		else
			other++;
	}
	closedir(dir);
	return eml > 0 && other == 0;
}

const struct mc_store_ops mc_store_eml = {
	.name = "eml",
	.detect = eml_detect,
	.open = eml_open,
	.next = eml_next,
	.container_last = mc_store_container_last_op,
	.remove = eml_remove,
	.msg_free = mc_store_msg_free_op,
	.close = mc_store_close_op,
	.restore = eml_restore,
};
