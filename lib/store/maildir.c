/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	maildir 3
/* SUMMARY
/*	the Maildir store: one file per message
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	extern const struct mc_store_ops mc_store_maildir;
/* DESCRIPTION
/*	A Maildir is a directory with cur/ and new/ (and tmp/). Its
/*	folders are the Maildir++ subdirectories .NAME (".Archive.2024"
/*	is folder "Archive/2024"; the root is "INBOX"), and also plain
/*	subdirectories that are Maildirs themselves (Dovecot's
/*	LAYOUT=fs, folder "Archive/2024"). Each folder's new/ is read
/*	before its cur/: Dovecot moves a message from new/ to cur/ when a
/*	client first sees it, so a message moved while we read is met
/*	again in cur/ instead of being missed.
/*
/*	tmp/ (deliveries in progress), dot files, and Dovecot's own files
/*	(dovecot-uidlist, dovecot.index*, dovecot-keywords, subscriptions,
/*	maildirfolder, which live beside cur/ and new/) are never read
/*	nor touched; Dovecot copes with message files that vanish.
/*
/*	Each message reports the folder, new/ or cur/, the flags after
/*	":2,", the file's owner, mode and mtime. A message file that is a
/*	symlink, has more than one link, is not a regular file or cannot
/*	be read is yielded with read_error and never read. A folder or
/*	subdirectory that cannot be opened is one item with read_error;
/*	the walk goes on.
/*
/*	Removal quarantines the bytes that were read and unlinks the
/*	file relative to its re-opened directory if it is still the same
/*	single-linked inode (store.c). A message the IMAP server renamed
/*	meanwhile (new/ to cur/, changed flags) is found by its unique
/*	name and inode.
/*
/*	Restore writes the message to tmp/ under a new unique name with
/*	the recorded owner, mode and mtime (Dovecot uses the mtime as the
/*	received date), fsyncs it, and link()s it into new/ or cur/ under
/*	its original name with its flags. It refuses when a message with
/*	the same unique name is in the folder. A folder that is gone is
/*	recreated, owned by the mailbox owner.
/* SECURITY
/*	The Maildir is walked to from "/" by mc_open_dir_path (a
/*	symlink a user could have made on the way, ~/Maildir itself
/*	included, is refused), and every read, quarantine and removal
/*	happens relative to the descriptor that walk opened.
/*--*/

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "store-private.h"

/* Plain (LAYOUT=fs) folders deeper than this are not looked for. */
#define FOLDER_DEPTH_MAX 8

struct maildir_folder {
	char *rel;		/* "" (INBOX), ".Sent", "Archive/2024" */
	char *name;		/* "INBOX", "Sent", "Archive/2024" */
};

struct maildir_store {
	struct mc_store base;
	int rootfd;
	char *root;		/* absolute path */
	char *user;
	struct maildir_folder *folders;
	size_t folder_count, folder_cap;
	/* Walk position. */
	size_t fi;		/* folder */
	unsigned si;		/* 0 new/, 1 cur/, 2 done */
	int folderfd, subfd;
	DIR *dir;
};

static const char *const subdirs[] = { "new", "cur" };

static bool dovecot_file(const char *name)
{
	return strcmp(name, "dovecot-uidlist") == 0 ||
		strncmp(name, "dovecot.index", 13) == 0 ||
		strcmp(name, "dovecot-keywords") == 0 ||
		strncmp(name, "dovecot-uidvalidity", 19) == 0 ||
		strcmp(name, "subscriptions") == 0 ||
		strcmp(name, "maildirfolder") == 0;
}

static void add_folder(struct maildir_store *s, const char *rel, const char *name)
{
	struct maildir_folder f = { mc_xstrdup(rel), mc_xstrdup(name) };

	MC_ARRAY_PUSH(s->folders, s->folder_count, s->folder_cap, f);
}

/* Maildir++ ".Archive.2024" -> "Archive/2024". */
static char *plusplus_name(const char *dotname)
{
	char *name = mc_xstrdup(dotname + 1);

	for (char *p = name; *p != '\0'; p++) {
		if (*p == '.')
			*p = '/';
	}
	return name;
}

static void discover(struct maildir_store *s, int dirfd, const char *prefix,
		     unsigned depth)
{
	DIR *dir = mc_dir_list(dirfd);
	struct dirent *de;

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		const char *name = de->d_name;
		struct stat st;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (name[0] == '.') {
			if (depth > 0)
				continue;
			/* A symlinked folder is listed so that it is reported. */
			if (S_ISLNK(st.st_mode) ||
			    (S_ISDIR(st.st_mode) && mc_store_is_maildir_at(dirfd, name))) {
				char *fname = plusplus_name(name);
				add_folder(s, name, fname);
				free(fname);
			}
			continue;
		}
		if (!S_ISDIR(st.st_mode))
			continue;
		if (depth == 0 && (strcmp(name, "cur") == 0 || strcmp(name, "new") == 0 ||
				   strcmp(name, "tmp") == 0))
			continue;
		char *rel = prefix[0] != '\0' ? mc_xasprintf("%s/%s", prefix, name) :
			mc_xstrdup(name);
		if (mc_store_is_maildir_at(dirfd, name))
			add_folder(s, rel, rel);
		if (depth + 1 < FOLDER_DEPTH_MAX) {
			int fd = mc_safe_open_dir(dirfd, name, NULL, NULL);
			if (fd >= 0) {
				discover(s, fd, rel, depth + 1);
				close(fd);
			}
		}
		free(rel);
	}
	closedir(dir);
}

static int cmp_folder(const void *a, const void *b)
{
	const struct maildir_folder *x = a, *y = b;

	if (x->rel[0] == '\0' || y->rel[0] == '\0')
		return x->rel[0] == '\0' ? (y->rel[0] == '\0' ? 0 : -1) : 1;
	return strcmp(x->name, y->name);
}

static void maildir_destroy(struct mc_store *store)
{
	struct maildir_store *s = (struct maildir_store *)store;

	if (s->dir != NULL)
		closedir(s->dir);
	if (s->subfd >= 0)
		close(s->subfd);
	if (s->folderfd >= 0)
		close(s->folderfd);
	if (s->rootfd >= 0)
		close(s->rootfd);
	for (size_t i = 0; i < s->folder_count; i++) {
		free(s->folders[i].rel);
		free(s->folders[i].name);
	}
	free(s->folders);
	free(s->root);
	free(s->user);
}

static struct maildir_store *maildir_new(const char *uri, const char *root,
					 int rootfd, const struct mc_store_settings *set)
{
	struct maildir_store *s = mc_xcalloc(1, sizeof(*s));

	mc_store_base_init(&s->base, &mc_store_maildir, uri, set, maildir_destroy);
	s->base.load = mc_store_file_load;
	s->rootfd = rootfd;
	s->root = mc_xstrdup(root);
	s->folderfd = s->subfd = -1;
	add_folder(s, "", "INBOX");
	discover(s, rootfd, "", 0);
	qsort(s->folders, s->folder_count, sizeof(*s->folders), cmp_folder);
	return s;
}

static int maildir_open(const char *uri, const char *path,
			const struct mc_store_settings *set,
			struct mc_store **store_r, char **error_r)
{
	struct maildir_store *s;
	struct stat st;
	char *abs, *user;
	int rootfd;

	*store_r = NULL;
	rootfd = mc_open_dir_path(path, &abs, error_r);
	if (rootfd < 0)
		return -1;
	if (!mc_store_is_maildir_at(rootfd, ".")) {
		mc_error_set(error_r, "%s: not a Maildir (no cur/ and new/)", path);
		close(rootfd);
		free(abs);
		return -1;
	}
	s = maildir_new(uri, abs, rootfd, set);
	/* Virtual mailboxes (DOMAIN/USER) share one uid: the path says
	   whose it is. Otherwise the owner of the Maildir does. */
	user = mc_store_user_from_path(abs, true, NULL, NULL);
	if (user != NULL && strchr(user, '@') != NULL)
		s->user = user;
	else {
		if (fstat(rootfd, &st) == 0 && st.st_uid != 0)
			s->user = mc_user_name(st.st_uid);
		if (s->user == NULL)
			s->user = user != NULL ? user : mc_xstrdup(mc_path_base(abs));
		else
			free(user);
	}
	free(abs);
	*store_r = &s->base;
	return 0;
}

int mc_store_maildir_open_sub(const struct mc_substore_spec *spec,
			      const struct mc_store_settings *set,
			      struct mc_store **store_r, char **error_r)
{
	struct maildir_store *s;
	int rootfd = mc_safe_open_dir(spec->dirfd, spec->name, NULL, error_r);

	*store_r = NULL;
	if (rootfd < 0)
		return -1;
	s = maildir_new(spec->uri, spec->abs_path, rootfd, set);
	s->user = mc_xstrdup(spec->user);
	*store_r = &s->base;
	return 0;
}

/* "NAME: reason" from the safe open helpers -> "reason". */
static const char *reason_of(const char *err, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(err, name, n) == 0 && err[n] == ':' && err[n + 1] == ' ')
		return err + n + 2;
	return err;
}

static struct mc_store_msg *item_new(struct maildir_store *s,
				     const struct maildir_folder *f)
{
	struct mc_store_msg *m = mc_store_msg_new(&s->base, "maildir");

	m->msg.loc.user = s->user;
	m->msg.loc.folder = f->name;
	return m;
}

/* One item for a folder or subdirectory that cannot be opened. */
static struct mc_msg *dir_error(struct maildir_store *s, const struct maildir_folder *f,
				const char *sub, const char *err)
{
	struct mc_store_msg *m = item_new(s, f);
	const char *reason = reason_of(err, sub != NULL ? sub : f->rel);

	m->path = mc_xasprintf("%s%s%s%s%s", s->root, f->rel[0] != '\0' ? "/" : "",
			       f->rel, sub != NULL ? "/" : "", sub != NULL ? sub : "");
	m->msg.loc.path = m->path;
	mc_store_msg_error(m, "%s: %s", m->path, reason);
	return &m->msg;
}

static struct mc_msg *file_msg(struct maildir_store *s, const struct maildir_folder *f,
			       const char *name)
{
	struct mc_store_msg *m = item_new(s, f);
	const char *sub = subdirs[s->si];
	const char *colon = strstr(name, ":2,");
	struct stat st;
	char *err = NULL;
	int fd;

	m->dir_rel = f->rel[0] != '\0' ? mc_xasprintf("%s/%s", f->rel, sub) : mc_xstrdup(sub);
	m->name = mc_xstrdup(name);
	m->path = mc_xasprintf("%s/%s/%s", s->root, m->dir_rel, name);
	m->flags = mc_xstrdup(colon != NULL ? colon + 3 : "");
	m->msg.loc.path = m->path;
	m->msg.loc.maildir_subdir = sub;
	m->msg.loc.maildir_flags = m->flags;
	/* Refuses symlinks, FIFOs, devices and hard-linked files. */
	fd = mc_safe_open_file(s->subfd, name, true, &st, &err);
	if (fd < 0) {
		struct stat lst;

		if (fstatat(s->subfd, name, &lst, AT_SYMLINK_NOFOLLOW) == 0)
			mc_store_msg_stat(m, &lst);
		mc_store_msg_error(m, "%s: %s", m->path, reason_of(err, name));
		free(err);
		return &m->msg;
	}
	mc_store_msg_stat(m, &st);
	if (!mc_store_msg_read_head(&s->base, m, fd, &st))
		close(fd);
	return &m->msg;
}

static void close_sub(struct maildir_store *s)
{
	if (s->dir != NULL) {
		closedir(s->dir);
		s->dir = NULL;
	}
	if (s->subfd >= 0) {
		close(s->subfd);
		s->subfd = -1;
	}
}

static int maildir_next(struct mc_store *store, struct mc_msg **msg_r, char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;

	for (;;) {
		const struct maildir_folder *f;
		char *err = NULL;

		if (s->fi >= s->folder_count)
			return 0;
		f = &s->folders[s->fi];
		if (s->dir != NULL) {
			struct dirent *de;

			errno = 0;
			de = readdir(s->dir);
			if (de != NULL) {
				const char *name = de->d_name;
				struct stat st;

				if (name[0] == '.' || dovecot_file(name))
					continue;
				/* Gone between readdir and now: moved to cur/
				   (met there) or expunged. */
				if (fstatat(s->subfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
				    errno == ENOENT)
					continue;
				*msg_r = file_msg(s, f, name);
				return 1;
			}
			int saved = errno;
			close_sub(s);
			s->si++;
			if (saved != 0) {
				errno = saved;
				mc_error_errno(&err, "%s", subdirs[s->si - 1]);
				*msg_r = dir_error(s, f, subdirs[s->si - 1], err);
				free(err);
				return 1;
			}
			continue;
		}
		if (s->folderfd < 0 && s->si == 0) {
			s->folderfd = mc_store_open_rel_dir(s->rootfd, f->rel, &err);
			if (s->folderfd < 0) {
				*msg_r = dir_error(s, f, NULL, err);
				free(err);
				s->fi++;
				return 1;
			}
		}
		if (s->si >= 2) {
			close(s->folderfd);
			s->folderfd = -1;
			s->si = 0;
			s->fi++;
			continue;
		}
		s->subfd = mc_safe_open_dir(s->folderfd, subdirs[s->si], NULL, &err);
		if (s->subfd < 0) {
			bool missing = errno == ENOENT;

			s->si++;
			if (missing) {
				free(err);
				continue;
			}
			*msg_r = dir_error(s, f, subdirs[s->si - 1], err);
			free(err);
			return 1;
		}
		s->dir = mc_dir_list(s->subfd);
		if (s->dir == NULL) {
			mc_error_errno(&err, "%s", subdirs[s->si]);
			close_sub(s);
			s->si++;
			*msg_r = dir_error(s, f, subdirs[s->si - 1], err);
			free(err);
			return 1;
		}
	}
	(void)error_r;
}

static void maildir_remove(struct mc_store *store, struct mc_quarantine *q,
			   const char *run_id, struct mc_removal *removals, size_t count)
{
	struct maildir_store *s = (struct maildir_store *)store;

	for (size_t i = 0; i < count; i++)
		mc_store_remove_file(store, s->rootfd, q, run_id, &removals[i], true);
}

/* ------------------------------------------------------------------ */
/* Restore                                                            */
/* ------------------------------------------------------------------ */

/* Whether a message with the unique part of NAME is in DIRFD. */
static bool unique_name_taken(int dirfd, const char *name)
{
	size_t blen = strcspn(name, ":");
	DIR *dir = mc_dir_list(dirfd);
	struct dirent *de;
	bool taken = false;

	if (dir == NULL)
		return false;
	while (!taken && (de = readdir(dir)) != NULL) {
		taken = strncmp(de->d_name, name, blen) == 0 &&
			(de->d_name[blen] == ':' || de->d_name[blen] == '\0');
	}
	closedir(dir);
	return taken;
}

static int maildir_restore(struct mc_quarantine *q, const struct mc_qentry *entry,
			   const void *raw, size_t raw_size, char **error_r)
{
	static unsigned counter;
	const char *path = entry->loc.path;
	uid_t uid = entry->loc.uid;
	gid_t gid = entry->loc.gid;
	char *subpath = NULL, *folderpath = NULL, *parent = NULL;
	const char *name, *sub, *folder;
	int parentfd = -1, folderfd = -1, tmpfd = -1, subfd = -1, otherfd = -1;
	char tmpname[256], host[128];
	struct timeval tv;
	bool created = false;
	int ret = -1;

	if (path == NULL || path[0] != '/')
		return mc_error_set(error_r, "maildir restore: no absolute path recorded");
	name = mc_path_base(path);
	subpath = mc_path_dir(path);
	sub = mc_path_base(subpath);
	if (strcmp(sub, "new") != 0 && strcmp(sub, "cur") != 0) {
		mc_error_set(error_r, "%s: not in a Maildir's new/ or cur/", path);
		goto out;
	}
	if (entry->loc.maildir_subdir != NULL && strcmp(entry->loc.maildir_subdir, sub) != 0) {
		mc_error_set(error_r, "%s: recorded in %s/, but the path says %s/", path,
			     entry->loc.maildir_subdir, sub);
		goto out;
	}
	folderpath = mc_path_dir(subpath);
	folder = mc_path_base(folderpath);
	parent = mc_path_dir(folderpath);
	parentfd = mc_store_open_dir_trusted(parent, error_r);
	if (parentfd < 0)
		goto out;
	folderfd = mc_store_mkdir_owned(parentfd, folder, uid, gid, 0700, &created, error_r);
	if (folderfd < 0)
		goto out;
	if (created && folder[0] == '.') {
		/* Dovecot marks Maildir++ folders with this file. */
		if (mc_store_write_new(folderfd, "maildirfolder", "", 0, uid, gid, 0600, 0,
				       error_r) < 0)
			goto out;
	}
	tmpfd = mc_store_mkdir_owned(folderfd, "tmp", uid, gid, 0700, NULL, error_r);
	if (tmpfd < 0)
		goto out;
	subfd = mc_store_mkdir_owned(folderfd, sub, uid, gid, 0700, NULL, error_r);
	if (subfd < 0)
		goto out;
	otherfd = mc_store_mkdir_owned(folderfd, strcmp(sub, "new") == 0 ? "cur" : "new",
				       uid, gid, 0700, NULL, error_r);
	if (otherfd < 0)
		goto out;
	if (unique_name_taken(subfd, name) || unique_name_taken(otherfd, name)) {
		mc_error_set(error_r, "%s: a message with this unique name is already in "
			     "%s; not restored twice", path, folderpath);
		goto out;
	}
	gettimeofday(&tv, NULL);
	if (gethostname(host, sizeof(host)) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p != '\0'; p++) {
		if (*p == '/' || *p == ':')
			*p = '_';
	}
	snprintf(tmpname, sizeof(tmpname), "%ld.M%ldP%ldQ%u.%s", (long)tv.tv_sec,
		 (long)tv.tv_usec, (long)getpid(),
		 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED), host);
	if (mc_store_write_new(tmpfd, tmpname, raw, raw_size, uid, gid, entry->loc.mode,
			       entry->loc.mtime, error_r) < 0)
		goto out;
	if (linkat(tmpfd, tmpname, subfd, name, 0) < 0) {
		mc_error_errno(error_r, "%s", path);
		unlinkat(tmpfd, tmpname, 0);
		goto out;
	}
	unlinkat(tmpfd, tmpname, 0);
	if (mc_fsync_dir(subfd) < 0 || mc_fsync_dir(tmpfd) < 0) {
		mc_error_errno(error_r, "%s: fsync", folderpath);
		goto out;
	}
	if (created)
		mc_fsync_dir(parentfd);
	ret = 0;
out:
	if (otherfd >= 0)
		close(otherfd);
	if (subfd >= 0)
		close(subfd);
	if (tmpfd >= 0)
		close(tmpfd);
	if (folderfd >= 0)
		close(folderfd);
	if (parentfd >= 0)
		close(parentfd);
	free(subpath);
	free(folderpath);
	free(parent);
	return ret;
}

static bool maildir_detect(int dirfd, const char *path)
{
	return mc_store_is_maildir_at(dirfd, path);
}

const struct mc_store_ops mc_store_maildir = {
	.name = "maildir",
	.detect = maildir_detect,
	.open = maildir_open,
	.next = maildir_next,
	.container_last = mc_store_container_last_op,
	.remove = maildir_remove,
	.msg_free = mc_store_msg_free_op,
	.load = mc_store_load_op,
	.drop = mc_store_drop_op,
	.close = mc_store_close_op,
	.restore = maildir_restore,
};
