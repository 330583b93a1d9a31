/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	safe 3
/* SUMMARY
/*	file access that is safe as root over user-controlled directories
/* DESCRIPTION
/*	mailcure walks mailboxes that their users can change while it
/*	runs. Every open below a store root goes through these functions:
/*	one path component at a time, relative to an already verified
/*	directory descriptor, with O_NOFOLLOW, and with the object opened
/*	compared (device and inode) to what lstat saw, so that a symlink
/*	or a file swapped in between the check and the open is refused
/*	rather than followed. Files are opened with O_NONBLOCK so a FIFO
/*	or device planted in a mailbox never blocks the scan.
/*
/*	The roots themselves (a store named with -s or found in the
/*	usual places, a host scan PATH, a directory to restore into) are
/*	walked the same way from "/" by mc_safe_walk() and opened with
/*	mc_open_dir_path(), and the stores then act only relative to the
/*	descriptors that walk opened, so that a name swapped afterwards
/*	cannot redirect them. The walk follows a symlink only when the
/*	administrator could be the one who chose it: root (or the
/*	effective uid) owns it, and only root can change the names in
/*	every directory down to it (owned by root, not writable by group
/*	or others unless sticky). /var/spool/mail -> ../mail is followed;
/*	~/Maildir -> /root/secret, or any link in a user's home, is not.
/* DIAGNOSTICS
/*	A refused symlink is named with its absolute path and who owns
/*	it, or which directory above it someone else can change.
/* SECURITY
/*	A user who can write to a Maildir can plant a symlink or a hard
/*	link to a file they cannot read (/etc/shadow). Reading it would
/*	leak it into the quarantine; removing it would destroy it. Both
/*	are refused here: symlinks by O_NOFOLLOW, hard links by st_nlink
/*	(a delivered message file has exactly one link).
/*	This is the class of bug behind ClamAV CVE-2020-3350.
/*--*/

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fnmatch.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <ctype.h>

#include "mailcure/mailcure.h"
#include "internal.h"

bool mc_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

int mc_safe_open_dir(int dirfd, const char *name, struct stat *st_r,
		     char **error_r)
{
	struct stat lst, st;
	int fd;

	if (fstatat(dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0)
		return mc_error_errno(error_r, "%s", name);
	if (S_ISLNK(lst.st_mode))
		return mc_error_set(error_r, "%s: is a symbolic link, not followed", name);
	if (!S_ISDIR(lst.st_mode))
		return mc_error_set(error_r, "%s: not a directory", name);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return mc_error_errno(error_r, "%s", name);
	if (fstat(fd, &st) < 0 || !mc_same_file(&lst, &st)) {
		close(fd);
		return mc_error_set(error_r, "%s: replaced while being opened", name);
	}
	if (st_r != NULL)
		*st_r = st;
	return fd;
}

int mc_safe_open_file(int dirfd, const char *name, bool single_link,
		      struct stat *st_r, char **error_r)
{
	struct stat lst, st;
	int fd;

	if (fstatat(dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0)
		return mc_error_errno(error_r, "%s", name);
	if (S_ISLNK(lst.st_mode))
		return mc_error_set(error_r, "%s: is a symbolic link, not followed", name);
	if (!S_ISREG(lst.st_mode))
		return mc_error_set(error_r, "%s: not a regular file", name);
	if (single_link && lst.st_nlink > 1)
		return mc_error_set(error_r, "%s: has %lu hard links, refused",
				    name, (unsigned long)lst.st_nlink);
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return mc_error_errno(error_r, "%s", name);
	if (fstat(fd, &st) < 0 || !mc_same_file(&lst, &st) || !S_ISREG(st.st_mode) ||
	    (single_link && st.st_nlink > 1)) {
		close(fd);
		return mc_error_set(error_r, "%s: replaced while being opened", name);
	}
	/* Back to blocking reads: it is a regular file now. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (st_r != NULL)
		*st_r = st;
	return fd;
}

/* ------------------------------------------------------------------ */
/* Paths that the administrator names                                 */
/* ------------------------------------------------------------------ */

/* As many links as the kernel follows in one path. */
#define WALK_LINKS_MAX 40

/* One directory of a walk, from "/" down. */
struct walk_level {
	int fd;
	struct stat st;
	size_t abs_len;		/* of the absolute path up to it ("/": 0) */
	bool trusted;		/* only root (or we) can change it or any
				   directory above it */
};

struct walk {
	const char *path;	/* as given, for messages */
	struct walk_level *lv;
	size_t depth, cap;	/* lv[depth - 1] is where the walk is */
	char *abs;		/* "" for "/", else "/a/b" */
	size_t abs_len, abs_cap;
};

char *mc_user_name(uid_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return NULL;
	return mc_xstrdup(res->pw_name);
}

/* "alice (uid 1000)", or "uid 1000" for a uid without a name. */
static char *user_desc(uid_t uid)
{
	char *name = mc_user_name(uid), *s;

	s = name != NULL ? mc_xasprintf("%s (uid %lu)", name, (unsigned long)uid) :
		mc_xasprintf("uid %lu", (unsigned long)uid);
	free(name);
	return s;
}

static char *group_desc(gid_t gid)
{
	struct group gr, *res = NULL;
	char buf[4096];

	if (getgrgid_r(gid, &gr, buf, sizeof(buf), &res) == 0 && res != NULL)
		return mc_xasprintf("group %s (gid %lu)", res->gr_name, (unsigned long)gid);
	return mc_xasprintf("gid %lu", (unsigned long)gid);
}

static bool uid_trusted(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* Whether only root (or we) can change the names in directory ST. In
   a sticky directory others may add names but not replace ours. */
static bool dir_trusted(const struct stat *st)
{
	return uid_trusted(st->st_uid) &&
		((st->st_mode & (S_IWGRP | S_IWOTH)) == 0 || (st->st_mode & S_ISVTX) != 0);
}

/* Why the directories of W down to where it is are not trusted. */
static char *walk_untrusted_why(const struct walk *w)
{
	for (size_t i = 0; i < w->depth; i++) {
		const struct stat *st = &w->lv[i].st;
		char *dir, *who, *why;

		if (dir_trusted(st))
			continue;
		dir = w->lv[i].abs_len == 0 ? mc_xstrdup("/") :
			mc_xstrndup(w->abs, w->lv[i].abs_len);
		if (!uid_trusted(st->st_uid)) {
			who = user_desc(st->st_uid);
			why = mc_xasprintf("%s is owned by %s", dir, who);
		} else if ((st->st_mode & S_IWOTH) != 0) {
			who = NULL;
			why = mc_xasprintf("anybody can write to %s", dir);
		} else {
			who = group_desc(st->st_gid);
			why = mc_xasprintf("%s can write to %s", who, dir);
		}
		free(who);
		free(dir);
		return why;
	}
	return mc_xstrdup("a directory above it is not trusted");
}

/* Fail the walk W at component NAME with WHAT (formatted): "PATH:
   WHAT" when NAME is the last component of PATH as given, else
   "PATH: COMPONENT WHAT", COMPONENT being its absolute path. */
static int walk_fail(const struct walk *w, const char *name, char **error_r,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int walk_fail(const struct walk *w, const char *name, char **error_r,
		     const char *fmt, ...)
{
	char *comp = mc_xasprintf("%s/%s", w->abs, name), *what;
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (strcmp(comp, w->path) == 0)
		mc_error_set(error_r, "%s%s%s", w->path, what[0] == ':' ? "" : ": ", what);
	else
		mc_error_set(error_r, "%s: %s%s%s", w->path, comp,
			     what[0] == ':' ? "" : " ", what);
	free(comp);
	free(what);
	errno = saved;
	return -1;
}

/* Open directory NAME in DIRFD, which lstat saw as LST; with
   SEARCH_ONLY, one that may only be searched is opened O_PATH. -1
   with errno, or -2 when something else is there now. */
static int open_seen_dir(int dirfd, const char *name, const struct stat *lst,
			 bool search_only)
{
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == EACCES && search_only)
		fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !mc_same_file(lst, &st)) {
		close(fd);
		return -2;
	}
	return fd;
}

static void walk_push(struct walk *w, int fd, const struct stat *st, const char *name)
{
	struct walk_level l = { .fd = fd, .st = *st };
	size_t len = name != NULL ? strlen(name) : 0;

	if (name != NULL) {
		if (w->abs_len + len + 2 > w->abs_cap) {
			w->abs_cap = (w->abs_len + len + 2) * 2;
			w->abs = mc_xrealloc(w->abs, w->abs_cap);
		}
		w->abs[w->abs_len++] = '/';
		memcpy(w->abs + w->abs_len, name, len + 1);
		w->abs_len += len;
	}
	l.abs_len = w->abs_len;
	l.trusted = dir_trusted(st) && (w->depth == 0 || w->lv[w->depth - 1].trusted);
	MC_ARRAY_PUSH(w->lv, w->depth, w->cap, l);
}

/* Back to the parent directory ("/.." is "/"). */
static void walk_pop(struct walk *w)
{
	if (w->depth <= 1)
		return;
	close(w->lv[--w->depth].fd);
	w->abs_len = w->lv[w->depth - 1].abs_len;
	w->abs[w->abs_len] = '\0';
}

/* Component NAME of the walk is a symlink (LST): the rest of the
   walk, *todo_r, goes on with its target, when following it is safe. */
static int walk_link(struct walk *w, const char *name, const struct stat *lst,
		     unsigned *links, char **todo_r, const char *rest, char **error_r)
{
	char target[PATH_MAX], *todo, *who;
	ssize_t n;

	/* The link itself says where the walk goes: only its owner
	   could have written that, and whoever can change the names in
	   the directories down to it could have put another link in its
	   place. The administrator's choice is followed only when that
	   is root alone. */
	if (!uid_trusted(lst->st_uid)) {
		who = user_desc(lst->st_uid);
		walk_fail(w, name, error_r, "is a symbolic link owned by %s, not followed", who);
		free(who);
		return -1;
	}
	if (!w->lv[w->depth - 1].trusted) {
		who = walk_untrusted_why(w);
		walk_fail(w, name, error_r, "is a symbolic link, not followed: %s", who);
		free(who);
		return -1;
	}
	if (++*links > WALK_LINKS_MAX) {
		errno = ELOOP;
		return walk_fail(w, name, error_r, ": %s", strerror(ELOOP));
	}
	n = readlinkat(w->lv[w->depth - 1].fd, name, target, sizeof(target));
	if (n < 0)
		return walk_fail(w, name, error_r, ": %s", strerror(errno));
	if ((size_t)n >= sizeof(target) || n == 0) {
		errno = ENAMETOOLONG;
		return walk_fail(w, name, error_r, ": %s", strerror(errno));
	}
	target[n] = '\0';
	if (target[0] == '/') {
		while (w->depth > 1)
			walk_pop(w);
	}
	todo = mc_xasprintf("%s/%s", target, rest);
	free(*todo_r);
	*todo_r = todo;
	return 0;
}

/* The walk ended on a directory: give it as its parent and name. */
static void walk_end_at_dir(struct walk *w, struct mc_safe_path *r)
{
	struct walk_level *top = &w->lv[w->depth - 1];

	r->st = top->st;
	if (w->depth == 1) {
		r->dirfd = top->fd;
		r->name = mc_xstrdup(".");
		r->abs = mc_xstrdup("/");
	} else {
		r->dirfd = w->lv[w->depth - 2].fd;
		r->name = mc_xstrdup(w->abs + w->lv[w->depth - 2].abs_len + 1);
		r->abs = mc_xstrdup(w->abs);
		close(top->fd);
		w->depth--;
	}
	w->depth--;		/* r->dirfd is the caller's now */
}

int mc_safe_walk(const char *path, struct mc_safe_path *r, char **error_r)
{
	struct walk w = { .path = path };
	struct stat st;
	char *todo = NULL, *p;
	unsigned links = 0;
	int fd, ret = -1;

	memset(r, 0, sizeof(*r));
	r->dirfd = -1;
	if (path == NULL || path[0] == '\0')
		return mc_error_set(error_r, "an empty path");
	if (path[0] != '/') {
		char *cwd = getcwd(NULL, 0);

		if (cwd == NULL)
			return mc_error_errno(error_r, "%s: current directory", path);
		todo = mc_xasprintf("%s/%s", cwd, path);
		free(cwd);
	} else
		todo = mc_xstrdup(path);
	w.abs = mc_xstrdup("");
	w.abs_cap = 1;
	if ((fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		mc_error_errno(error_r, "/");
		if (fd >= 0)
			close(fd);
		goto out;
	}
	walk_push(&w, fd, &st, NULL);
	for (p = todo;;) {
		size_t len;
		char *name;
		bool last;

		while (*p == '/')
			p++;
		if (*p == '\0') {
			walk_end_at_dir(&w, r);
			ret = 0;
			break;
		}
		len = strcspn(p, "/");
		name = mc_xstrndup(p, len);
		p += len;
		last = p[strspn(p, "/")] == '\0';
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
			if (name[1] == '.')
				walk_pop(&w);
			free(name);
			continue;
		}
		if (fstatat(w.lv[w.depth - 1].fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			walk_fail(&w, name, error_r, ": %s", strerror(errno));
			free(name);
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			char *rest = mc_xstrdup(p);
			int lret = walk_link(&w, name, &st, &links, &todo, rest, error_r);

			free(rest);
			free(name);
			if (lret < 0)
				break;
			p = todo;
			continue;
		}
		if (last) {
			/* The last component is not followed nor opened:
			   the caller opens it as what it expects. */
			r->dirfd = w.lv[w.depth - 1].fd;
			w.depth--;
			r->name = name;
			r->st = st;
			r->abs = mc_xasprintf("%s/%s", w.abs, name);
			ret = 0;
			break;
		}
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			walk_fail(&w, name, error_r, ": %s", strerror(ENOTDIR));
			free(name);
			break;
		}
		fd = open_seen_dir(w.lv[w.depth - 1].fd, name, &st, true);
		if (fd < 0) {
			if (fd == -1)
				walk_fail(&w, name, error_r, ": %s", strerror(errno));
			else
				walk_fail(&w, name, error_r, "was replaced while being opened");
			free(name);
			break;
		}
		walk_push(&w, fd, &st, name);
		free(name);
	}
out:
	while (w.depth > 0)
		close(w.lv[--w.depth].fd);
	free(w.lv);
	free(w.abs);
	free(todo);
	return ret;
}

void mc_safe_path_deinit(struct mc_safe_path *r)
{
	if (r->dirfd >= 0)
		close(r->dirfd);
	r->dirfd = -1;
	free(r->name);
	free(r->abs);
	r->name = r->abs = NULL;
}

int mc_safe_path_open_dir(const struct mc_safe_path *w, const char *path,
			  char **error_r)
{
	int fd;

	if (!S_ISDIR(w->st.st_mode)) {
		errno = ENOTDIR;
		return mc_error_set(error_r, "%s: not a directory", path);
	}
	fd = open_seen_dir(w->dirfd, w->name, &w->st, false);
	if (fd == -1)
		return mc_error_errno(error_r, "%s", path);
	if (fd < 0)
		return mc_error_set(error_r, "%s: replaced while being opened", path);
	return fd;
}

int mc_open_dir_path(const char *path, char **abs_r, char **error_r)
{
	struct mc_safe_path w;
	int fd;

	if (mc_safe_walk(path, &w, error_r) < 0)
		return -1;
	fd = mc_safe_path_open_dir(&w, path, error_r);
	if (fd >= 0 && abs_r != NULL) {
		*abs_r = w.abs;
		w.abs = NULL;
	}
	mc_safe_path_deinit(&w);
	return fd;
}

int mc_read_fd(int fd, size_t max, unsigned char **buf_r, size_t *len_r,
	       char **error_r)
{
	struct stat st;
	size_t cap, len = 0;
	unsigned char *buf;

	if (fstat(fd, &st) < 0)
		return mc_error_errno(error_r, "fstat");
	cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
	if (cap > max + 1)
		cap = max + 1;
	buf = mc_xmalloc(cap + 1);
	for (;;) {
		ssize_t n;

		if (len == cap) {
			if (cap > max) {
				free(buf);
				errno = EFBIG;
				return mc_error_set(error_r, "larger than %zu bytes", max);
			}
			cap *= 2;
			buf = mc_xrealloc(buf, cap + 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return mc_error_errno(error_r, "read");
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		free(buf);
		errno = EFBIG;
		return mc_error_set(error_r, "larger than %zu bytes", max);
	}
	buf[len] = '\0';
	*buf_r = buf;
	*len_r = len;
	return 0;
}

int mc_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

DIR *mc_dir_list(int dirfd)
{
	/* Not a dup: that would share the read position with DIRFD and
	   with any other listing of it in progress. */
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir;

	if (fd < 0)
		return NULL;
	if ((dir = fdopendir(fd)) == NULL) {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return dir;
}

ssize_t mc_pread_all(int fd, void *buf, size_t len, off_t offset)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, offset + (off_t)got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int mc_pwrite_all(int fd, const void *buf, size_t len, off_t offset)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, offset);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		offset += n;
	}
	return 0;
}

int mc_fsync_dir(int dirfd)
{
	if (fsync(dirfd) < 0 && errno != EINVAL && errno != EROFS)
		return -1;
	return 0;
}

int mc_become_user(uid_t uid, gid_t gid, char **error_r)
{
	/* Groups first: after setuid() there is no privilege left to
	   change them. */
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
		return mc_error_errno(error_r, "cannot become uid %u, gid %u",
				      (unsigned)uid, (unsigned)gid);
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return mc_error_set(error_r, "uid %u could become root again",
				    (unsigned)uid);
	return 0;
}

int mc_mkdir_p(const char *path, mode_t mode, char **error_r)
{
	char *copy = mc_xstrdup(path);

	for (char *p = copy + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(copy, mode) < 0 && errno != EEXIST) {
				mc_error_errno(error_r, "mkdir %s", copy);
				free(copy);
				return -1;
			}
			*p = saved;
			if (saved == '\0')
				break;
		}
	}
	free(copy);
	return 0;
}

bool mc_glob_match(const char *pattern, const char *str)
{
	return fnmatch(pattern, str, FNM_CASEFOLD) == 0;
}

bool mc_memcasestr(const char *haystack, size_t len, const char *needle)
{
	size_t nlen = strlen(needle);

	if (nlen == 0)
		return true;
	if (nlen > len)
		return false;
	int first = tolower((unsigned char)needle[0]);
	for (size_t i = 0; i + nlen <= len; i++) {
		if (tolower((unsigned char)haystack[i]) != first)
			continue;
		if (strncasecmp(haystack + i, needle, nlen) == 0)
			return true;
	}
	return false;
}

static void oom(void)
{
	/* The library cannot recover from allocation failure in a
	   sensible way; abort rather than act on half-built state. */
	abort();
}

void *mc_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		oom();
	return p;
}

void *mc_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		oom();
	return p;
}

void *mc_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		oom();
	return p;
}

char *mc_xstrdup(const char *s)
{
	return s == NULL ? NULL : mc_xstrndup(s, strlen(s));
}

char *mc_xstrndup(const char *s, size_t n)
{
	char *p = mc_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *mc_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		oom();
	va_end(ap);
	return p;
}
