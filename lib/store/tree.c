/*++
/* NAME
/*	tree 3
/* SUMMARY
/*	the tree store: every mailbox below a directory
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	extern const struct mc_store_ops mc_store_tree;
/* DESCRIPTION
/*	A bare directory that is not a Maildir is a tree of many users'
/*	mailboxes: /var/mail (one mbox per user), /home (~/Maildir,
/*	~/mail/FOLDER mboxes, ~/mbox), /var/vmail/DOMAIN/USER[/Maildir].
/*	The tree store walks it (at most 8 levels) and yields, one
/*	mailbox after the other, the messages of every Maildir (a
/*	directory with cur/ and new/, taken whole with its folders) and
/*	every mbox (a regular file whose first line is a dated From_
/*	line; the date is required here so that a user's text file that
/*	happens to start with "From " is not taken for a mailbox) in it.
/*	loc.user and loc.folder come from the path (store.c). Each
/*	mailbox is a store of its own (maildir.c, mbox.c) that the tree
/*	dispatches remove(), container_last() and msg_free() to.
/*
/*	Left out: dot directories (other than Maildirs), lock files,
/*	Dovecot's files, empty files, anything that is not a directory
/*	or a regular file, and a mailcure quarantine (a directory with
/*	entries/ and runs/), which holds mail that must not be taken for
/*	a mailbox. A symlink where a mailbox is expected (right below the
/*	root; named Maildir, mail, Mail or mbox; in a directory named
/*	so, or home, spool, vmail, or a domain) is reported, never
/*	followed; other symlinks (a user's dotfiles) are passed over. A
/*	directory or mailbox that cannot be opened is one item with
/*	read_error, and the walk goes on.
/*--*/

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store-private.h"

#define TREE_DEPTH_MAX 8

struct tree_dir {
	int fd;
	DIR *dir;
	char *abs;
};

struct tree_store {
	struct mc_store base;
	char *root;			/* absolute */
	int rootfd;
	bool root_maildir;		/* the root itself is a Maildir */
	struct tree_dir stack[TREE_DEPTH_MAX];
	unsigned depth;
	struct mc_store *cur;		/* the mailbox being read */
	char *cur_path;
	struct mc_limits limits;
	struct mc_store_settings set;
};

static void tree_destroy(struct mc_store *store)
{
	struct tree_store *t = (struct tree_store *)store;

	while (t->depth > 0) {
		struct tree_dir *d = &t->stack[--t->depth];
		closedir(d->dir);
		close(d->fd);
		free(d->abs);
	}
	if (t->rootfd >= 0)
		close(t->rootfd);
	free(t->cur_path);
	free(t->root);
}

static bool push_dir(struct tree_store *t, int fd, const char *abs, char **error_r)
{
	int listfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	DIR *dir = listfd >= 0 ? fdopendir(listfd) : NULL;

	if (dir == NULL) {
		mc_error_errno(error_r, "%s", abs);
		if (listfd >= 0)
			close(listfd);
		close(fd);
		return false;
	}
	t->stack[t->depth].fd = fd;
	t->stack[t->depth].dir = dir;
	t->stack[t->depth].abs = mc_xstrdup(abs);
	t->depth++;
	return true;
}

static int tree_open(const char *uri, const char *path,
		     const struct mc_store_settings *set,
		     struct mc_store **store_r, char **error_r)
{
	struct tree_store *t;
	char *abs;
	int fd;

	*store_r = NULL;
	abs = mc_path_abs(path, error_r);
	if (abs == NULL)
		return -1;
	fd = mc_open_dir_path(abs, error_r);
	if (fd < 0) {
		free(abs);
		return -1;
	}
	t = mc_xcalloc(1, sizeof(*t));
	mc_store_base_init(&t->base, &mc_store_tree, uri, set, tree_destroy);
	t->limits = t->base.limits;
	t->set.limits = &t->limits;
	t->set.dry_run = t->base.dry_run;
	t->set.heads_first = t->base.heads_first;
	t->root = abs;
	t->rootfd = fd;
	if (mc_store_is_maildir_at(fd, "."))
		t->root_maildir = true;
	else {
		int listfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);

		if (listfd < 0 || !push_dir(t, listfd, abs, error_r)) {
			mc_store_unref(&t->base);
			return -1;
		}
	}
	*store_r = &t->base;
	return 0;
}

/* An item of the tree itself: a place that cannot be read. */
static struct mc_msg *tree_error(struct tree_store *t, const char *kind,
				 const char *path, const char *err)
{
	struct mc_store_msg *m = mc_store_msg_new(&t->base, kind);

	m->path = mc_xstrdup(path);
	m->msg.loc.path = m->path;
	mc_store_msg_error(m, "%s: %s", path, err);
	return &m->msg;
}

static bool is_quarantine(int dirfd, const char *name)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/entries", name);
	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return false;
	snprintf(path, sizeof(path), "%s/runs", name);
	return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static bool skipped_file(const char *name)
{
	size_t n = strlen(name);

	return name[0] == '.' || (n > 5 && strcmp(name + n - 5, ".lock") == 0) ||
		strncmp(name, "dovecot", 7) == 0 || strcmp(name, "subscriptions") == 0;
}

static bool mailbox_name(const char *name)
{
	return strcmp(name, "Maildir") == 0 || strcmp(name, "mail") == 0 ||
		strcmp(name, "Mail") == 0 || strcmp(name, "mbox") == 0;
}

/* A directory whose entries are mailboxes or users' directories:
   /var/mail, ~/mail, /home, /var/vmail and its DOMAIN directories. */
static bool mailbox_parent(const char *dirname)
{
	return mailbox_name(dirname) || strcmp(dirname, "spool") == 0 ||
		strcmp(dirname, "home") == 0 || strcmp(dirname, "vmail") == 0 ||
		(dirname[0] != '.' && strchr(dirname, '.') != NULL);
}

/* The file NAME starts with a dated From_ line. */
static bool looks_mbox_file(int dirfd, const char *name)
{
	unsigned char buf[1024];
	ssize_t n = mc_store_peek(dirfd, name, buf, sizeof(buf));
	const unsigned char *nl;

	if (n < 5)
		return false;
	nl = memchr(buf, '\n', (size_t)n);
	return mc_store_mbox_from_line(buf, nl != NULL ? (size_t)(nl - buf) : (size_t)n);
}

/* Open the mailbox NAME in D as the current sub-store. Returns an
   error item, or NULL. */
static struct mc_msg *open_mailbox(struct tree_store *t, int dirfd, const char *dirabs,
				   const char *name, bool maildir, const struct stat *st)
{
	struct mc_substore_spec spec;
	char *abs = strcmp(dirabs, "/") == 0 ? mc_xasprintf("/%s", name) :
		mc_xasprintf("%s/%s", dirabs, name);
	char *folder = NULL, *err = NULL, *user;
	struct mc_msg *item = NULL;
	int ret;

	user = mc_store_user_from_path(abs, maildir, t->root, maildir ? NULL : &folder);
	if (user == NULL)
		user = mc_store_owner_name(st->st_uid);
	if (user == NULL)
		user = mc_xstrdup(name);
	memset(&spec, 0, sizeof(spec));
	spec.uri = t->base.uri;
	spec.dirfd = dirfd;
	spec.name = name;
	spec.abs_path = abs;
	spec.user = user;
	spec.folder = folder;
	ret = maildir ? mc_store_maildir_open_sub(&spec, &t->set, &t->cur, &err) :
		mc_store_mbox_open_sub(&spec, &t->set, &t->cur, &err);
	if (ret < 0)
		item = tree_error(t, maildir ? "maildir" : "mbox", abs, err);
	else {
		free(t->cur_path);
		t->cur_path = mc_xstrdup(abs);
	}
	free(err);
	free(abs);
	free(user);
	free(folder);
	return item;
}

static int tree_next(struct mc_store *store, struct mc_msg **msg_r, char **error_r)
{
	struct tree_store *t = (struct tree_store *)store;

	if (t->root_maildir) {
		struct stat st;

		t->root_maildir = false;
		if (fstat(t->rootfd, &st) == 0) {
			char *dir = mc_path_dir(t->root);
			const char *base = mc_path_base(t->root);
			int dirfd = mc_open_dir_path(dir, NULL);

			if (dirfd >= 0) {
				struct mc_msg *item = open_mailbox(t, dirfd, dir, base, true, &st);
				close(dirfd);
				free(dir);
				if (item != NULL) {
					*msg_r = item;
					return 1;
				}
			} else
				free(dir);
		}
	}
	for (;;) {
		struct tree_dir *d;
		struct dirent *de;
		struct stat st;
		char *err = NULL;

		if (t->cur != NULL) {
			int ret = t->cur->ops->next(t->cur, msg_r, &err);

			if (ret > 0)
				return 1;
			t->cur->ops->close(&t->cur);
			if (ret < 0) {
				*msg_r = tree_error(t, "tree", t->cur_path, err != NULL ? err :
						    "cannot be read any further");
				free(err);
				return 1;
			}
			continue;
		}
		if (t->depth == 0)
			return 0;
		d = &t->stack[t->depth - 1];
		de = readdir(d->dir);
		if (de == NULL) {
			closedir(d->dir);
			close(d->fd);
			free(d->abs);
			t->depth--;
			continue;
		}
		const char *name = de->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (fstatat(d->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			if (name[0] != '.' && (t->depth == 1 || mailbox_name(name) ||
					       mailbox_parent(mc_path_base(d->abs)))) {
				char *abs = mc_xasprintf("%s/%s", d->abs, name);
				*msg_r = tree_error(t, "tree", abs, "is a symbolic link, not followed");
				free(abs);
				return 1;
			}
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (mc_store_is_maildir_at(d->fd, name)) {
				struct mc_msg *item = open_mailbox(t, d->fd, d->abs, name, true, &st);
				if (item != NULL) {
					*msg_r = item;
					return 1;
				}
				continue;
			}
			if (name[0] == '.' || t->depth >= TREE_DEPTH_MAX ||
			    is_quarantine(d->fd, name))
				continue;
			char *abs = strcmp(d->abs, "/") == 0 ? mc_xasprintf("/%s", name) :
				mc_xasprintf("%s/%s", d->abs, name);
			int fd = mc_safe_open_dir(d->fd, name, NULL, &err);
			if (fd < 0 || !push_dir(t, fd, abs, &err)) {
				*msg_r = tree_error(t, "tree", abs, err);
				free(err);
				free(abs);
				return 1;
			}
			free(abs);
			continue;
		}
		if (!S_ISREG(st.st_mode) || st.st_size == 0 || skipped_file(name) ||
		    !looks_mbox_file(d->fd, name))
			continue;
		struct mc_msg *item = open_mailbox(t, d->fd, d->abs, name, false, &st);
		if (item != NULL) {
			*msg_r = item;
			return 1;
		}
	}
	(void)error_r;
}

static bool tree_container_last(struct mc_store *store, const struct mc_msg *msg)
{
	struct mc_store *owner = mc_store_of(msg);

	if (owner == NULL || owner == store)
		return true;
	return owner->ops->container_last(owner, msg);
}

static void tree_remove(struct mc_store *store, struct mc_quarantine *q,
			const char *run_id, struct mc_removal *removals, size_t count)
{
	struct mc_store *owner;

	if (count == 0)
		return;
	owner = mc_store_of(removals[0].msg);
	if (owner == NULL || owner == store) {
		for (size_t i = 0; i < count; i++)
			mc_error_set(&removals[i].error, "not a message: not removed");
		return;
	}
	owner->ops->remove(owner, q, run_id, removals, count);
}

static void tree_close(struct mc_store **storep)
{
	struct tree_store *t = (struct tree_store *)*storep;

	if (t == NULL)
		return;
	if (t->cur != NULL)
		t->cur->ops->close(&t->cur);
	mc_store_close_op(storep);
}

static int tree_restore(const struct mc_qentry *entry, const void *raw,
			size_t raw_size, char **error_r)
{
	const struct mc_store_ops *ops = mc_store_lookup(entry->loc.kind);

	if (ops == NULL || ops == &mc_store_tree || ops->restore == NULL)
		return mc_error_set(error_r, "cannot restore a message of kind '%s'",
				    entry->loc.kind != NULL ? entry->loc.kind : "(none)");
	return ops->restore(entry, raw, raw_size, error_r);
}

static bool tree_detect(int dirfd, const char *path)
{
	struct stat st;

	return fstatat(dirfd, path, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

const struct mc_store_ops mc_store_tree = {
	.name = "tree",
	.detect = tree_detect,
	.open = tree_open,
	.next = tree_next,
	.container_last = tree_container_last,
	.remove = tree_remove,
	.msg_free = mc_store_msg_free_op,
	.load = mc_store_load_op,
	.unload = mc_store_unload_op,
	.close = tree_close,
	.restore = tree_restore,
};
