/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	hostscan_walk 3
/* SUMMARY
/*	the walker of a host scan: directories, excludes, the queue
/* SYNOPSIS
/*	#include "hostscan-private.h"
/*
/*	void	*mc_hostscan_walker_main(host_scan)
/* DESCRIPTION
/*	The walker thread of mc_host_scan_run() (hostscan.c). For each
/*	root it opens the directories depth first, in name order, each
/*	relative to its verified parent, leaves out what is excluded
/*	(the administrator's --exclude globs, the default excludes,
/*	pseudo file systems, the quarantine, mail stores, other file
/*	systems with one_file_system, directories beyond max_depth), and
/*	queues each regular file for the scanning threads. Symlinks are
/*	never followed; FIFOs, sockets and devices are skipped, never
/*	opened. It keeps at most max_open_dirs directories open, waiting
/*	for the scanners to finish with the files of some.
/* SECURITY
/*	Nothing is opened by path: each directory is opened with
/*	mc_safe_open_dir() relative to its parent's descriptor
/*	(O_NOFOLLOW, fstat compared with lstat), so a directory swapped
/*	for a symlink during the walk is never followed (see hostscan.c).
/* DIAGNOSTICS
/*	A directory that cannot be opened is an ERROR event, one that
/*	vanished or was swapped during the walk an UNSCANNED event; the
/*	walk goes on.
/*--*/

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "hostscan-private.h"

const char *const mc_host_default_excludes[] = {
	"/proc", "/sys", "/dev", "/run",
	"/var/mail", "/var/spool/mail", "/var/spool/postfix",
	"/var/spool/exim", "/var/spool/exim4", "/var/vmail",
	"/home/*/Maildir", "/home/*/mail",
	NULL,
};

/* A directory waiting to be opened by the walker. */
struct pending {
	struct dir *parent;	/* NULL for a PATH */
	char *name;		/* under parent, or NULL */
	char *path;
	unsigned depth;
	const struct root *root;
};

/* ------------------------------------------------------------------ */
/* Excludes                                                           */
/* ------------------------------------------------------------------ */

static bool user_excluded(const struct host_scan *hs, const char *path)
{
	for (size_t i = 0; i < hs->set->exclude_count; i++) {
		if (fnmatch(hs->set->excludes[i], path, 0) == 0)
			return true;
	}
	return false;
}

static bool default_excluded(const char *path)
{
	for (size_t i = 0; mc_host_default_excludes[i] != NULL; i++) {
		if (fnmatch(mc_host_default_excludes[i], path, FNM_PATHNAME) == 0)
			return true;
	}
	return false;
}

/* Kernel file systems whose files are not files: reading them can
   block (/proc/kmsg) or never end, and they hold nothing to disinfect. */
static const char *pseudo_fs_name(int fd)
{
	static const struct { unsigned long magic; const char *name; } types[] = {
		{ PROC_SUPER_MAGIC, "proc" }, { SYSFS_MAGIC, "sysfs" },
		{ DEVPTS_SUPER_MAGIC, "devpts" }, { CGROUP_SUPER_MAGIC, "cgroup" },
		{ CGROUP2_SUPER_MAGIC, "cgroup2" }, { DEBUGFS_MAGIC, "debugfs" },
		{ TRACEFS_MAGIC, "tracefs" }, { SECURITYFS_MAGIC, "securityfs" },
		{ BPF_FS_MAGIC, "bpf" }, { PSTOREFS_MAGIC, "pstore" },
		{ 0x19800202UL, "mqueue" }, { 0x62656570UL, "configfs" },
		{ 0x65735543UL, "fusectl" }, { HUGETLBFS_MAGIC, "hugetlbfs" },
		{ EFIVARFS_MAGIC, "efivarfs" }, { SELINUX_MAGIC, "selinuxfs" },
		{ 0x42494e4dUL, "binfmt_misc" }, { AUTOFS_SUPER_MAGIC, "autofs" },
		{ NSFS_MAGIC, "nsfs" },
	};
	struct statfs sfs;

	if (fstatfs(fd, &sfs) < 0)
		return NULL;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if ((unsigned long)sfs.f_type == types[i].magic)
			return types[i].name;
	}
	return NULL;
}

static bool has_subdir(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		S_ISDIR(st.st_mode);
}

static bool has_file(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* A directory whose files are messages cleaned per message by
   `mailbox clean`, or NULL. */
static const char *mail_store_kind(int fd)
{
	if (has_subdir(fd, "cur") && has_subdir(fd, "new"))
		return "Maildir";
	if (has_file(fd, "dovecot.index") || has_file(fd, "dovecot.map.index"))
		return "Dovecot mailbox";
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The walker                                                         */
/* ------------------------------------------------------------------ */

struct pending_stack {
	struct pending *items;
	size_t count, cap;
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Open the directory of P, or report why not. Returns the fd or -1. */
static int walker_open(struct host_scan *hs, const struct pending *p,
		       struct stat *st_r)
{
	const char *store = p->root->store;
	struct stat lst;
	char *error = NULL;
	int fd;

	if (p->parent == NULL) {
		/* Where resolving the PATH got to, not the path again. */
		fd = mc_safe_path_open_dir(&p->root->where, p->path, &error);
		if (fd < 0 || fstat(fd, st_r) < 0) {
			mc_hostscan_report(hs, MC_EVENT_ERROR, store, p->path, NULL, "%s",
					   error != NULL ? error : strerror(errno));
			if (fd >= 0)
				close(fd);
			free(error);
			return -1;
		}
		return fd;
	}
	/* Look first, so that what changed since the listing is told
	   apart from what cannot be read. */
	if (fstatat(p->parent->fd, p->name, &lst, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			mc_hostscan_report(hs, MC_EVENT_UNSCANNED, store, p->path, NULL,
					   "directory vanished during the scan");
		else
			mc_hostscan_report(hs, MC_EVENT_ERROR, store, p->path, NULL, "%s",
					   strerror(errno));
		return -1;
	}
	if (S_ISLNK(lst.st_mode)) {
		mc_hostscan_report(hs, MC_EVENT_UNSCANNED, store, p->path, NULL,
				   "directory replaced by a symbolic link during the scan; not followed");
		return -1;
	}
	if (!S_ISDIR(lst.st_mode)) {
		mc_hostscan_report(hs, MC_EVENT_UNSCANNED, store, p->path, NULL,
				   "directory replaced by something else during the scan");
		return -1;
	}
	fd = mc_safe_open_dir(p->parent->fd, p->name, st_r, &error);
	if (fd < 0) {
		mc_hostscan_report(hs, errno == ENOENT ? MC_EVENT_UNSCANNED : MC_EVENT_ERROR,
				   store, p->path, NULL, "%s", mc_hostscan_strip_name(error, p->name));
		free(error);
		return -1;
	}
	return fd;
}

/* Whether the freshly opened directory of P is to be left out. */
static bool walker_leave_out(struct host_scan *hs, const struct pending *p,
			     int fd, const struct stat *st)
{
	const struct mc_host_scan *set = hs->set;
	const char *kind;

	if (hs->have_quarantine && mc_same_file(st, &hs->quarantine_st)) {
		mc_hostscan_skip(hs, p->path, "the quarantine");
		return true;
	}
	if (p->parent == NULL)
		return false;
	if (set->one_file_system && st->st_dev != p->root->dev) {
		mc_hostscan_skip(hs, p->path, "on another file system (--one-file-system)");
		return true;
	}
	if (st->st_dev != p->parent->st.st_dev &&
	    (kind = pseudo_fs_name(fd)) != NULL) {
		char *why = mc_xasprintf("pseudo file system (%s)", kind);
		mc_hostscan_skip(hs, p->path, why);
		free(why);
		return true;
	}
	if (set->default_excludes && (kind = mail_store_kind(fd)) != NULL) {
		char *why = mc_xasprintf("mail store (%s): clean it per message "
					 "with 'mailcure mailbox clean'", kind);
		mc_hostscan_skip(hs, p->path, why);
		free(why);
		return true;
	}
	return false;
}

/* Bound the open descriptors: wait for the scanning threads to finish
   with queued files of other directories. */
static void walker_wait_dirs(struct host_scan *hs)
{
	pthread_mutex_lock(&hs->lock);
	while (hs->open_dirs >= hs->max_open_dirs &&
	       (hs->queue_len > 0 || hs->busy > 0)) {
		hs->walker_waits_dirs = true;
		pthread_cond_wait(&hs->cond_space, &hs->lock);
		hs->walker_waits_dirs = false;
	}
	pthread_mutex_unlock(&hs->lock);
}

/* The type of entry DE of directory FD, DT_UNKNOWN when it vanished. */
static unsigned char entry_type(int fd, const struct dirent *de)
{
	struct stat cst;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type;
	/* Some file systems do not fill d_type. */
	if (fstatat(fd, de->d_name, &cst, AT_SYMLINK_NOFOLLOW) < 0)
		return DT_UNKNOWN;	/* vanished already */
	return S_ISDIR(cst.st_mode) ? DT_DIR : S_ISREG(cst.st_mode) ? DT_REG :
		S_ISLNK(cst.st_mode) ? DT_LNK : S_ISFIFO(cst.st_mode) ? DT_FIFO :
		S_ISSOCK(cst.st_mode) ? DT_SOCK : S_ISCHR(cst.st_mode) ? DT_CHR :
		DT_BLK;
}

/* Entry NAME, of TYPE, of directory DIR (P): a file is queued unless
   excluded, anything else but a link skipped. Subdirectories are
   left to the caller (DT_DIR). */
static void walker_entry(struct host_scan *hs, const struct pending *p,
			 struct dir *dir, const char *name, unsigned char type)
{
	char *path;

	switch (type) {
	case DT_REG:
		if (hs->set->exclude_count > 0) {
			bool excluded;

			path = mc_hostscan_join_path(p->path, name);
			excluded = user_excluded(hs, path);
			if (excluded)
				mc_hostscan_skip(hs, path, "excluded (--exclude)");
			free(path);
			if (excluded)
				break;
		}
		mc_hostscan_enqueue(hs, dir, name);
		break;
	case DT_LNK:
		/* Never followed; what it points to inside the tree is
		   scanned under its own name. */
		break;
	default:
		path = mc_hostscan_join_path(p->path, name);
		mc_hostscan_skip(hs, path, type == DT_FIFO ? "FIFO, not opened" :
				 type == DT_SOCK ? "socket, not opened" : "device, not opened");
		free(path);
		break;
	}
}

/* Push the COUNT SUBDIRS of DIR (P) on STACK, depth first in name
   order (keeps few directories open); each holds a reference to DIR.
   Takes the names. */
static void walker_push_subdirs(struct host_scan *hs, const struct pending *p,
				struct dir *dir, char **subdirs, size_t count,
				struct pending_stack *stack)
{
	if (count > 1)
		qsort(subdirs, count, sizeof(*subdirs), name_cmp);
	for (size_t i = count; i-- > 0;) {
		struct pending child;
		char *path = mc_hostscan_join_path(p->path, subdirs[i]);

		if (p->depth + 1 > hs->max_depth) {
			mc_hostscan_report(hs, MC_EVENT_UNSCANNED, p->root->store, path, NULL,
					   "directory nested deeper than %u levels%s; not scanned",
					   hs->max_depth, hs->depth_from_fd_limit ?
					   " (the most the open file limit allows)" : "");
			free(path);
			free(subdirs[i]);
			continue;
		}
		child.parent = dir;
		child.name = subdirs[i];
		child.path = path;
		child.depth = p->depth + 1;
		child.root = p->root;
		pthread_mutex_lock(&hs->lock);
		dir->refs++;
		pthread_mutex_unlock(&hs->lock);
		MC_ARRAY_PUSH(stack->items, stack->count, stack->cap, child);
	}
}

static void walker_dir(struct host_scan *hs, struct pending *p,
		       struct pending_stack *stack)
{
	const char *store = p->root->store;
	char **subdirs = NULL;
	size_t subdir_count = 0, subdir_cap = 0;
	struct dirent *de;
	struct stat st;
	struct dir *dir;
	DIR *dp;
	int fd;

	if (p->parent != NULL) {
		if (hs->set->default_excludes && default_excluded(p->path)) {
			mc_hostscan_skip(hs, p->path, "excluded by default");
			return;
		}
		if (user_excluded(hs, p->path)) {
			mc_hostscan_skip(hs, p->path, "excluded (--exclude)");
			return;
		}
	}
	walker_wait_dirs(hs);
	fd = walker_open(hs, p, &st);
	if (fd < 0)
		return;
	if (walker_leave_out(hs, p, fd, &st)) {
		close(fd);
		return;
	}
	dir = mc_xcalloc(1, sizeof(*dir));
	dir->fd = fd;
	dir->refs = 1;
	dir->depth = p->depth;
	dir->path = mc_xstrdup(p->path);
	dir->st = st;
	dir->root = p->root;
	pthread_mutex_lock(&hs->lock);
	hs->open_dirs++;
	pthread_mutex_unlock(&hs->lock);

	dp = mc_dir_list(fd);
	if (dp == NULL) {
		mc_hostscan_report(hs, MC_EVENT_ERROR, store, p->path, &st, "cannot list: %s",
				   strerror(errno));
		mc_hostscan_dir_unref_locked(hs, dir);
		return;
	}
	/* Listing a directory updates its atime, unless told not to. */
	(void)fcntl(dirfd(dp), F_SETFL, fcntl(dirfd(dp), F_GETFL) | O_NOATIME);
	for (;;) {
		unsigned char type;

		errno = 0;
		de = readdir(dp);
		if (de == NULL) {
			if (errno != 0)
				mc_hostscan_report(hs, MC_EVENT_ERROR, store, p->path, &st,
						   "cannot list: %s", strerror(errno));
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		type = entry_type(fd, de);
		if (type == DT_DIR)
			MC_ARRAY_PUSH(subdirs, subdir_count, subdir_cap,
				      mc_xstrdup(de->d_name));
		else if (type != DT_UNKNOWN)
			walker_entry(hs, p, dir, de->d_name, type);
	}
	closedir(dp);

	walker_push_subdirs(hs, p, dir, subdirs, subdir_count, stack);
	free(subdirs);
	mc_hostscan_dir_unref_locked(hs, dir);
}

/* A PATH that is a file: queue it under its parent directory. */
static void walker_file_root(struct host_scan *hs, const struct root *root)
{
	char *slash = strrchr(root->path, '/');
	char *parent = slash == root->path ? mc_xstrdup("/") :
		mc_xstrndup(root->path, (size_t)(slash - root->path));
	struct dir *dir;
	int fd;

	fd = fcntl(root->where.dirfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		mc_hostscan_report(hs, MC_EVENT_ERROR, root->store, root->path, NULL, "%s",
				   strerror(errno));
		free(parent);
		return;
	}
	dir = mc_xcalloc(1, sizeof(*dir));
	dir->fd = fd;
	dir->refs = 1;
	dir->path = parent;
	dir->root = root;
	if (fstat(fd, &dir->st) < 0)
		memset(&dir->st, 0, sizeof(dir->st));
	pthread_mutex_lock(&hs->lock);
	hs->open_dirs++;
	pthread_mutex_unlock(&hs->lock);
	mc_hostscan_enqueue(hs, dir, slash + 1);
	mc_hostscan_dir_unref_locked(hs, dir);
}

void *mc_hostscan_walker_main(void *context)
{
	struct host_scan *hs = context;
	struct pending_stack stack = { NULL, 0, 0 };

	for (size_t r = 0; r < hs->root_count; r++) {
		const struct root *root = &hs->roots[r];
		const struct stat st = root->where.st;

		if (root->path == NULL)
			continue;	/* reported while resolving */
		if (S_ISREG(st.st_mode)) {
			walker_file_root(hs, root);
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			mc_hostscan_report(hs, MC_EVENT_ERROR, root->store, root->path, &st,
					   "not a regular file or a directory; not opened");
			continue;
		}
		struct pending top = {
			.parent = NULL, .name = NULL, .path = mc_xstrdup(root->path),
			.depth = 0, .root = root,
		};
		MC_ARRAY_PUSH(stack.items, stack.count, stack.cap, top);
		while (stack.count > 0) {
			struct pending p = stack.items[--stack.count];

			walker_dir(hs, &p, &stack);
			if (p.parent != NULL)
				mc_hostscan_dir_unref_locked(hs, p.parent);
			free(p.name);
			free(p.path);
		}
	}
	free(stack.items);
	pthread_mutex_lock(&hs->lock);
	hs->walk_done = true;
	pthread_cond_broadcast(&hs->cond_item);
	pthread_mutex_unlock(&hs->lock);
	return NULL;
}

