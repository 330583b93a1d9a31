/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	host 3
/* SUMMARY
/*	restore of host files quarantined by `mailcure host clean`
/* SYNOPSIS
/*	extern const struct mc_store_ops mc_store_host;
/* DESCRIPTION
/*	`host clean` (hostscan.c) quarantines a file with loc.path (its
/*	canonical absolute path), loc.uid, loc.gid, loc.mode, loc.mtime,
/*	and an extra record (the entry's extra_json):
/*
/*	{"root": "/srv", "atime_sec": N, "atime_nsec": N,
/*	 "mtime_sec": N, "mtime_nsec": N, "ctime_sec": N, "nlink": N,
/*	 "dev": N, "ino": N,
/*	 "xattrs": [{"name": "user.x", "value": "BASE64"}, ...]}
/*
/*	(an attribute name that is not printable ASCII is kept as
/*	"name_b64"). ctime, dev, ino and nlink are kept for the record
/*	only: they cannot be set.
/*
/*	restore() puts the file back where it was: same content, owner,
/*	group, mode (set-id bits included), extended attributes (ACLs and
/*	file capabilities are extended attributes), access and
/*	modification times to the nanosecond. It never overwrites: when
/*	something exists at the path, nothing is changed and the reason
/*	says so. The directories on the way must still exist.
/*
/*	The other operations refuse: a host is scanned with `mailcure
/*	host`, not opened as a mail store.
/* SECURITY
/*	Restoring runs as root into directories users may write to. The
/*	path is walked one component at a time from "/" with
/*	mc_safe_open_dir(), so a directory replaced by a symlink since
/*	the file was quarantined is refused, not followed (the path was
/*	canonical when recorded: it held no symlink then). The file is
/*	written under a temporary name created with O_EXCL|O_NOFOLLOW
/*	and given its owner, mode and attributes through its descriptor
/*	(owner first: chown clears set-id bits and file capabilities),
/*	then renamed into place with RENAME_NOREPLACE, or linked with
/*	linkat() where the file system lacks it, so that a file created
/*	at the path meanwhile is never replaced.
/*--*/

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <glib.h>
#include <json-c/json.h>

#include "mailcure/mailcure.h"
#include "internal.h"

struct xattr {
	char *name;
	unsigned char *value;
	size_t size;
};

struct host_extra {
	struct timespec times[2];	/* atime, mtime */
	struct xattr *xattrs;
	size_t xattr_count;
};

static void extra_free(struct host_extra *ex)
{
	for (size_t i = 0; i < ex->xattr_count; i++) {
		g_free(ex->xattrs[i].name);
		g_free(ex->xattrs[i].value);
	}
	free(ex->xattrs);
	ex->xattrs = NULL;
	ex->xattr_count = 0;
}

static bool get_int64(json_object *obj, const char *key, int64_t *value_r)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    (!json_object_is_type(v, json_type_int) &&
	     !json_object_is_type(v, json_type_double)))
		return false;
	*value_r = json_object_get_int64(v);
	return true;
}

/* Parse the extra record; a missing record leaves what the entry's
   location says (mtime to the second, atime = mtime, no attributes). */
static int extra_parse(const struct mc_qentry *entry, struct host_extra *ex,
		       char **error_r)
{
	json_object *obj, *arr;
	int64_t v;

	memset(ex, 0, sizeof(*ex));
	ex->times[0].tv_sec = ex->times[1].tv_sec = entry->loc.mtime;
	if (entry->extra_json == NULL || entry->extra_json[0] == '\0')
		return 0;
	obj = json_tokener_parse(entry->extra_json);
	if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
		if (obj != NULL)
			json_object_put(obj);
		return mc_error_set(error_r, "host: entry %s: extra record is not a JSON object",
				    entry->id != NULL ? entry->id : "?");
	}
	if (get_int64(obj, "atime_sec", &v))
		ex->times[0].tv_sec = (time_t)v;
	if (get_int64(obj, "atime_nsec", &v) && v >= 0 && v < 1000000000)
		ex->times[0].tv_nsec = (long)v;
	if (get_int64(obj, "mtime_sec", &v))
		ex->times[1].tv_sec = (time_t)v;
	if (get_int64(obj, "mtime_nsec", &v) && v >= 0 && v < 1000000000)
		ex->times[1].tv_nsec = (long)v;
	if (json_object_object_get_ex(obj, "xattrs", &arr) &&
	    json_object_is_type(arr, json_type_array)) {
		size_t n = json_object_array_length(arr);

		ex->xattrs = mc_xcalloc(n, sizeof(*ex->xattrs));
		for (size_t i = 0; i < n; i++) {
			json_object *x = json_object_array_get_idx(arr, i);
			json_object *name, *value;
			struct xattr *xa = &ex->xattrs[ex->xattr_count];
			gsize len;

			if (!json_object_object_get_ex(x, "value", &value) ||
			    !json_object_is_type(value, json_type_string))
				goto bad;
			if (json_object_object_get_ex(x, "name", &name) &&
			    json_object_is_type(name, json_type_string)) {
				xa->name = g_strdup(json_object_get_string(name));
			} else if (json_object_object_get_ex(x, "name_b64", &name) &&
				   json_object_is_type(name, json_type_string)) {
				guchar *raw = g_base64_decode(json_object_get_string(name), &len);
				xa->name = g_malloc(len + 1);
				memcpy(xa->name, raw, len);
				xa->name[len] = '\0';
				g_free(raw);
			} else {
				goto bad;
			}
			xa->value = g_base64_decode(json_object_get_string(value), &len);
			xa->size = len;
			ex->xattr_count++;
			if (xa->name[0] == '\0')
				goto bad;
		}
	}
	json_object_put(obj);
	return 0;
bad:
	json_object_put(obj);
	extra_free(ex);
	return mc_error_set(error_r, "host: entry %s: malformed extended attribute record",
			    entry->id != NULL ? entry->id : "?");
}

/* Open the directory that holds PATH, component by component from
   "/", refusing symlinks. Sets *name_r to the last component. */
static int open_parent(const char *path, const char **name_r, char **error_r)
{
	char *copy, *p, *slash;
	int fd;

	if (path == NULL || path[0] != '/')
		return mc_error_set(error_r, "host: not an absolute path: %s",
				    path != NULL ? path : "(none)");
	slash = strrchr(path, '/');
	if (slash[1] == '\0' || strcmp(slash + 1, ".") == 0 || strcmp(slash + 1, "..") == 0)
		return mc_error_set(error_r, "host: not a file path: %s", path);
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return mc_error_errno(error_r, "host: /");
	copy = mc_xstrndup(path, (size_t)(slash - path));
	for (p = copy + 1; *p != '\0';) {
		char *end = strchr(p, '/');
		char *error = NULL;
		int next;

		if (end != NULL)
			*end = '\0';
		if (*p == '\0' || strcmp(p, ".") == 0 || strcmp(p, "..") == 0) {
			mc_error_set(error_r, "host: not a canonical path: %s", path);
			goto fail;
		}
		next = mc_safe_open_dir(fd, p, NULL, &error);
		if (next < 0) {
			mc_error_set(error_r, "cannot restore %s: directory %s", path, error);
			free(error);
			goto fail;
		}
		close(fd);
		fd = next;
		if (end == NULL)
			break;
		*end = '/';
		p = end + 1;
	}
	free(copy);
	*name_r = slash + 1;
	return fd;
fail:
	free(copy);
	close(fd);
	return -1;
}

/* Give the new file on FD the recorded attributes, through FD. */
static int set_attributes(int fd, const struct mc_qentry *entry,
			  const struct host_extra *ex, char **error_r)
{
	char *names = NULL;
	ssize_t len;

	/* Owner first: chown clears set-id bits and capabilities. */
	if (fchown(fd, entry->loc.uid, entry->loc.gid) < 0)
		return mc_error_errno(error_r, "cannot set owner %lu:%lu",
				      (unsigned long)entry->loc.uid,
				      (unsigned long)entry->loc.gid);
	if (fchmod(fd, entry->loc.mode & 07777) < 0)
		return mc_error_errno(error_r, "cannot set mode %04o",
				      (unsigned)(entry->loc.mode & 07777));
	/* Attributes the new file got from its directory (a default ACL,
	   an SELinux label) but the original did not have go away. */
	len = flistxattr(fd, NULL, 0);
	if (len > 0) {
		names = mc_xmalloc((size_t)len);
		len = flistxattr(fd, names, (size_t)len);
		for (ssize_t off = 0; len > 0 && off < len;
		     off += (ssize_t)strlen(names + off) + 1) {
			bool recorded = false;

			for (size_t i = 0; i < ex->xattr_count; i++)
				recorded |= strcmp(ex->xattrs[i].name, names + off) == 0;
			if (!recorded)
				(void)fremovexattr(fd, names + off);
		}
		free(names);
	}
	for (size_t i = 0; i < ex->xattr_count; i++) {
		if (fsetxattr(fd, ex->xattrs[i].name, ex->xattrs[i].value,
			      ex->xattrs[i].size, 0) < 0)
			return mc_error_errno(error_r, "cannot set extended attribute %s",
					      ex->xattrs[i].name);
	}
	/* An access ACL rewrites the group bits; the mode recorded with
	   it agrees with it, so setting the mode again is harmless and
	   makes sure the set-id bits survive. */
	if (ex->xattr_count > 0 && fchmod(fd, entry->loc.mode & 07777) < 0)
		return mc_error_errno(error_r, "cannot set mode %04o",
				      (unsigned)(entry->loc.mode & 07777));
	if (futimens(fd, ex->times) < 0)
		return mc_error_errno(error_r, "cannot set times");
	return 0;
}

static int host_restore(struct mc_quarantine *q, const struct mc_qentry *entry,
			const void *raw, size_t raw_size, char **error_r)
{
	struct host_extra ex;
	const char *path = entry->loc.path, *name = NULL;
	char tmpname[64];
	char *error = NULL;
	struct stat st;
	int dirfd, fd = -1, ret = -1;

	if (extra_parse(entry, &ex, error_r) < 0)
		return -1;
	dirfd = open_parent(path, &name, error_r);
	if (dirfd < 0) {
		extra_free(&ex);
		return -1;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		mc_error_set(error_r, "cannot restore %s: something exists at that "
			     "path; not overwritten (move it away first)", path);
		goto out;
	}
	for (unsigned tries = 0; fd < 0; tries++) {
		snprintf(tmpname, sizeof(tmpname), ".mailcure-restore.%ld.%u.%x",
			 (long)getpid(), tries, (unsigned)g_random_int());
		fd = openat(dirfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0 && (errno != EEXIST || tries > 100)) {
			mc_error_errno(error_r, "cannot restore %s: cannot create a "
				       "temporary file beside it", path);
			goto out;
		}
	}
	if (mc_write_all(fd, raw, raw_size) < 0) {
		mc_error_errno(&error, "write");
		goto fail;
	}
	if (fsync(fd) < 0) {
		mc_error_errno(&error, "fsync");
		goto fail;
	}
	if (set_attributes(fd, entry, &ex, &error) < 0)
		goto fail;
	if (fsync(fd) < 0) {
		mc_error_errno(&error, "fsync");
		goto fail;
	}
	if (renameat2(dirfd, tmpname, dirfd, name, RENAME_NOREPLACE) < 0) {
		if (errno != EINVAL && errno != ENOSYS) {
			if (errno == EEXIST)
				mc_error_set(&error, "something was created at that path "
					     "meanwhile; not overwritten");
			else
				mc_error_errno(&error, "rename into place");
			goto fail;
		}
		/* No RENAME_NOREPLACE here: link(2) never replaces either. */
		if (linkat(dirfd, tmpname, dirfd, name, 0) < 0) {
			if (errno == EEXIST)
				mc_error_set(&error, "something was created at that path "
					     "meanwhile; not overwritten");
			else
				mc_error_errno(&error, "link into place");
			goto fail;
		}
		(void)unlinkat(dirfd, tmpname, 0);
	}
	(void)mc_fsync_dir(dirfd);
	ret = 0;
	goto out;
fail:
	mc_error_set(error_r, "cannot restore %s: %s", path, error);
	free(error);
	(void)unlinkat(dirfd, tmpname, 0);
out:
	if (fd >= 0)
		close(fd);
	close(dirfd);
	extra_free(&ex);
	return ret;
}

static bool host_detect(int dirfd, const char *path)
{
	return false;
}

static int host_open(const char *uri, const char *path,
		     const struct mc_store_settings *set,
		     struct mc_store **store_r, char **error_r)
{
	return mc_error_set(error_r, "%s: a host is not a mail store; scan it with "
			    "'mailcure host scan'", uri);
}

const struct mc_store_ops mc_store_host = {
	.name = "host",
	.detect = host_detect,
	.open = host_open,
	.restore = host_restore,
};
