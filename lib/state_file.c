/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	state_file 3
/* SUMMARY
/*	saved copies of configuration files, for a change undone exactly
/* SYNOPSIS
/*	#include "state_file.h"
/* DESCRIPTION
/*	What a freeze of an MTA (postfix_freeze.c, exim_freeze.c) needs
/*	to undo its change byte for byte: a state directory per
/*	instance (STATE_DIR/KIND/KEY), locked against a concurrent
/*	freeze or thaw; whole files read without following links; files
/*	written by temporary name and rename(2), fsync'd, with a given
/*	owner and mode; the record of the freeze ("name=value" lines in
/*	KEY/state); and the restore of a saved copy, checked against its
/*	recorded SHA-256 first.
/* DIAGNOSTICS
/*	-1 with a reason naming the file.
/* SECURITY
/*	Runs as root. Nothing is opened through a symbolic link; a
/*	crash leaves the old or the new version of a file, never a mix.
/*--*/

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "internal.h"
#include "state_file.h"

/* STATE_DIR/KIND/KEY for the instance named by PATH: readable, and
   unique per PATH (its real path when it exists). */
char *mc_state_path(const char *state_dir, const char *kind, const char *path)
{
	char real[4096], hex[65], name[80];
	unsigned char sha[32];
	const char *dir = realpath(path, real) != NULL ? real : path;
	size_t j = 0;

	mc_sha256(dir, strlen(dir), sha);
	mc_hex(sha, 32, hex);
	for (const char *p = dir; *p != '\0' && j < 40; p++) {
		if (*p == '/' && j == 0)
			continue;
		name[j++] = isalnum((unsigned char)*p) || *p == '-' || *p == '.' ? *p : '_';
	}
	name[j] = '\0';
	return mc_xasprintf("%s/%s/%s-%.12s", state_dir, kind, j > 0 ? name : "root", hex);
}

int mc_file_read_whole(int dirfd, const char *name, unsigned char **buf_r,
			  size_t *len_r, struct stat *st_r, char **error_r)
{
	char *err = NULL;
	int fd = mc_safe_open_file(dirfd, name, false, st_r, &err);

	if (fd < 0) {
		mc_error_set(error_r, "%s", err);
		free(err);
		return -1;
	}
	if (mc_read_fd(fd, 64U << 20, buf_r, len_r, &err) < 0) {
		mc_error_set(error_r, "%s: %s", name, err);
		free(err);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

void mc_sha_hex(const void *data, size_t len, char hex[65])
{
	unsigned char sha[32];

	mc_sha256(data, len, sha);
	mc_hex(sha, 32, hex);
}

/* Write DATA as DIRFD/NAME through a temporary file and rename(2),
   fsync'd, with the given owner and mode. */
int mc_file_write_atomic(int dirfd, const char *dirname, const char *name,
			    const void *data, size_t len, mode_t mode,
			    uid_t uid, gid_t gid, char **error_r)
{
	char tmp[256];
	int fd;

	snprintf(tmp, sizeof(tmp), ".%s.mailcure-%ld", name, (long)getpid());
	(void)unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return mc_error_errno(error_r, "%s/%s", dirname, tmp);
	if (mc_write_all(fd, data, len) < 0 || fchown(fd, uid, gid) < 0 ||
	    fchmod(fd, mode & 07777) < 0 || fsync(fd) < 0) {
		mc_error_errno(error_r, "%s/%s", dirname, tmp);
		close(fd);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	close(fd);
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		mc_error_errno(error_r, "rename %s/%s to %s", dirname, tmp, name);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	if (mc_fsync_dir(dirfd) < 0)
		return mc_error_errno(error_r, "fsync %s", dirname);
	return 0;
}

/* Open (creating with CREATE) the state directory SPATH (taken over:
   freed on error, else in *spath_r), and lock it against a concurrent
   freeze or thaw. */
int mc_state_open(char *spath, bool create, char **spath_r, int *lockfd_r,
		  char **error_r)
{
	int sfd, lfd;

	*lockfd_r = -1;
	if (create) {
		if (mc_mkdir_p(spath, 0700, error_r) < 0) {
			free(spath);
			return -1;
		}
	}
	sfd = open(spath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0) {
		if (errno == ENOENT && !create) {
			*spath_r = spath;
			return -2;
		}
		mc_error_errno(error_r, "%s", spath);
		free(spath);
		return -1;
	}
	lfd = openat(sfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		if (lfd >= 0 && (errno == EWOULDBLOCK || errno == EAGAIN))
			mc_error_set(error_r, "%s: another mailcure freeze or thaw "
				     "is running", spath);
		else
			mc_error_errno(error_r, "%s/lock", spath);
		if (lfd >= 0)
			close(lfd);
		close(sfd);
		free(spath);
		return -1;
	}
	*lockfd_r = lfd;
	*spath_r = spath;
	return sfd;
}

/* Put the saved copy SPATH/SAVED back as CONFIG_DIR/NAME unless that
   is already byte-identical with the same owner and mode. */
int mc_state_restore_file(int cfd, const char *config_dir, const char *name,
			  int sfd, const char *spath, const char *saved_name,
			  const char *want_sha, mode_t mode, uid_t uid, gid_t gid,
			  char **error_r)
{
	unsigned char *saved, *cur = NULL;
	size_t saved_len, cur_len = 0;
	struct stat st, cur_st;
	char hex[65];
	int ret = 0;

	if (mc_file_read_whole(sfd, saved_name, &saved, &saved_len, &st, error_r) < 0) {
		if (error_r != NULL) {
			char *e = *error_r;
			*error_r = mc_xasprintf("saved copy %s/%s", spath, e);
			free(e);
		}
		return -1;
	}
	mc_sha_hex(saved, saved_len, hex);
	if (strcmp(hex, want_sha) != 0) {
		free(saved);
		return mc_error_set(error_r, "%s/%s: the saved copy does not match "
				    "its recorded checksum; not restored", spath, saved_name);
	}
	if (mc_file_read_whole(cfd, name, &cur, &cur_len, &cur_st, NULL) == 0 &&
	    cur_len == saved_len && memcmp(cur, saved, saved_len) == 0) {
		if ((cur_st.st_mode & 07777) != (mode & 07777) ||
		    cur_st.st_uid != uid || cur_st.st_gid != gid) {
			int fd = mc_safe_open_file(cfd, name, false, NULL, NULL);
			if (fd < 0 || fchown(fd, uid, gid) < 0 || fchmod(fd, mode & 07777) < 0)
				ret = mc_error_errno(error_r, "%s/%s", config_dir, name);
			if (fd >= 0)
				close(fd);
		}
	} else {
		ret = mc_file_write_atomic(cfd, config_dir, name, saved, saved_len, mode,
				   uid, gid, error_r);
	}
	free(saved);
	free(cur);
	return ret;
}

/* Whether DIRFD/NAME has the SHA-256 WANT (hex; NULL: no). */
bool mc_file_sha_is(int cfd, const char *name, const char *want)
{
	unsigned char *buf;
	size_t len;
	struct stat st;
	char hex[65];

	if (want == NULL || mc_file_read_whole(cfd, name, &buf, &len, &st, NULL) < 0)
		return false;
	mc_sha_hex(buf, len, hex);
	free(buf);
	return strcmp(hex, want) == 0;
}

int mc_state_record_write(int sfd, const char *spath, const char *text,
			  char **error_r)
{
	return mc_file_write_atomic(sfd, spath, "state", text, strlen(text), 0600, 0, 0,
				    error_r);
}

int mc_state_record_read(int sfd, const char *spath,
			 void (*field)(void *ctx, const char *name, const char *value),
			 void *ctx, char **error_r)
{
	unsigned char *buf;
	size_t len;
	struct stat st;
	char *err = NULL;

	if (fstatat(sfd, "state", &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return mc_error_errno(error_r, "%s/state", spath);
	}
	if (mc_file_read_whole(sfd, "state", &buf, &len, &st, &err) < 0) {
		mc_error_set(error_r, "%s/%s", spath, err);
		free(err);
		return -1;
	}
	for (char *line = (char *)buf; line != NULL && *line != '\0';) {
		char *nl = strchr(line, '\n'), *eq;

		if (nl != NULL)
			*nl = '\0';
		eq = strchr(line, '=');
		if (eq != NULL) {
			*eq = '\0';
			field(ctx, line, eq + 1);
		}
		line = nl != NULL ? nl + 1 : NULL;
	}
	free(buf);
	return 1;
}

bool mc_state_owner_parse(const char *v, uid_t *uid_r, gid_t *gid_r)
{
	unsigned long a, b;

	if (sscanf(v, "%lu:%lu", &a, &b) != 2)
		return false;
	*uid_r = (uid_t)a;
	*gid_r = (gid_t)b;
	return true;
}

bool mc_state_mode_parse(const char *v, mode_t *mode_r)
{
	unsigned m;

	if (sscanf(v, "%o", &m) != 1)
		return false;
	*mode_r = (mode_t)m;
	return true;
}
