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

int mc_open_dir_path(const char *path, char **error_r)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return mc_error_errno(error_r, "%s", path);
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
