/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	postfix_state 3
/* SUMMARY
/*	the record of a Postfix freeze, on disk
/* SYNOPSIS
/*	#include "postfix_private.h"
/*
/*	int mc_postfix_state_open(const struct mc_postfix *pf,
/*		const char *state_dir, bool create, char **spath_r,
/*		int *lockfd_r, char **error_r);
/*	int mc_postfix_state_read(int sfd, const char *spath,
/*		struct mc_postfix_freeze_state *fs_r, char **error_r);
/*	int mc_postfix_state_write(int sfd, const char *spath,
/*		const struct mc_postfix_freeze_state *fs, char **error_r);
/* DESCRIPTION
/*	The freeze (postfix_freeze.c) is recorded in
/*	STATE_DIR/postfix-freeze/KEY/,
/*	where KEY names the configuration directory (so that several
/*	instances can be frozen independently):
/* .IP main.cf,master.cf
/*	exact copies of the files as they were before the freeze;
/* .IP state
/*	"name=value" lines: phase (saved, then frozen), the time of the
/*	freeze, owner, mode and SHA-256 of both files, the SHA-256 of
/*	master.cf as the freeze left it, and the services it disabled.
/* .PP
/*	Each step is written and fsync'd before the next one starts, so
/*	that a freeze or thaw interrupted at any point can simply be run
/*	again: the copies are taken only while master.cf is still the
/*	original, and thaw always writes back those copies.
/* DIAGNOSTICS
/*	-1 with a reason naming the file; a record without its phase
/*	or checksums is "incomplete".
/* SECURITY
/*	Runs as root. The state directory is opened without following
/*	links and locked (flock) against a concurrent freeze or thaw;
/*	files are written by temporary name, fsync'd, and renamed, so a
/*	crash leaves the old or the new version, never a mix.
/*--*/

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "internal.h"
#include "postfix_ctl.h"
#include "postfix_private.h"

void mc_postfix_freeze_state_clear(struct mc_postfix_freeze_state *fs)
{
	free(fs->phase);
	free(fs->main_sha);
	free(fs->master_sha);
	free(fs->master_frozen_sha);
	free(fs->services);
	free(fs->config_dir);
	memset(fs, 0, sizeof(*fs));
}

/* STATE_DIR/postfix-freeze/KEY for this instance: readable, and
   unique per configuration directory. */
char *mc_postfix_state_path(const struct mc_postfix *pf, const char *state_dir)
{
	char real[4096], hex[65], name[80];
	unsigned char sha[32];
	const char *dir = realpath(pf->config_dir, real) != NULL ? real : pf->config_dir;
	size_t j = 0;

	mc_sha256(dir, strlen(dir), sha);
	mc_hex(sha, 32, hex);
	for (const char *p = dir; *p != '\0' && j < 40; p++) {
		if (*p == '/' && j == 0)
			continue;
		name[j++] = isalnum((unsigned char)*p) || *p == '-' || *p == '.' ? *p : '_';
	}
	name[j] = '\0';
	return mc_xasprintf("%s/postfix-freeze/%s-%.12s", state_dir,
			    j > 0 ? name : "root", hex);
}

int mc_postfix_read_whole(int dirfd, const char *name, unsigned char **buf_r,
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

void mc_postfix_sha_hex(const void *data, size_t len, char hex[65])
{
	unsigned char sha[32];

	mc_sha256(data, len, sha);
	mc_hex(sha, 32, hex);
}

/* Write DATA as DIRFD/NAME through a temporary file and rename(2),
   fsync'd, with the given owner and mode. */
int mc_postfix_write_atomic(int dirfd, const char *dirname, const char *name,
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

int mc_postfix_state_write(int sfd, const char *spath,
			   const struct mc_postfix_freeze_state *fs,
			   char **error_r)
{
	char *text = mc_xasprintf(
		"phase=%s\nconfig_directory=%s\nfrozen_at=%lld\n"
		"main_cf_sha256=%s\nmain_cf_owner=%lu:%lu\nmain_cf_mode=%04o\n"
		"master_cf_sha256=%s\nmaster_cf_owner=%lu:%lu\nmaster_cf_mode=%04o\n"
		"master_cf_frozen_sha256=%s\ndisabled_services=%s\n",
		fs->phase, fs->config_dir, (long long)fs->frozen_at,
		fs->main_sha, (unsigned long)fs->main_uid, (unsigned long)fs->main_gid,
		(unsigned)(fs->main_mode & 07777),
		fs->master_sha, (unsigned long)fs->master_uid,
		(unsigned long)fs->master_gid, (unsigned)(fs->master_mode & 07777),
		fs->master_frozen_sha != NULL ? fs->master_frozen_sha : "",
		fs->services != NULL ? fs->services : "");
	int ret = mc_postfix_write_atomic(sfd, spath, "state", text, strlen(text), 0600, 0, 0,
			       error_r);
	free(text);
	return ret;
}

/* Returns 1 with *fs_r filled, 0 when there is no state, -1 on error. */
int mc_postfix_state_read(int sfd, const char *spath,
			  struct mc_postfix_freeze_state *fs_r, char **error_r)
{
	unsigned char *buf;
	size_t len;
	struct stat st;
	char *err = NULL;

	memset(fs_r, 0, sizeof(*fs_r));
	if (fstatat(sfd, "state", &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return mc_error_errno(error_r, "%s/state", spath);
	}
	if (mc_postfix_read_whole(sfd, "state", &buf, &len, &st, &err) < 0) {
		mc_error_set(error_r, "%s/%s", spath, err);
		free(err);
		return -1;
	}
	for (char *line = (char *)buf; line != NULL && *line != '\0';) {
		char *nl = strchr(line, '\n');
		char *eq;

		if (nl != NULL)
			*nl = '\0';
		eq = strchr(line, '=');
		if (eq != NULL) {
			const char *v = eq + 1;
			unsigned long a, b;
			unsigned m;

			*eq = '\0';
			if (strcmp(line, "phase") == 0)
				fs_r->phase = mc_xstrdup(v);
			else if (strcmp(line, "config_directory") == 0)
				fs_r->config_dir = mc_xstrdup(v);
			else if (strcmp(line, "frozen_at") == 0)
				fs_r->frozen_at = (time_t)strtoll(v, NULL, 10);
			else if (strcmp(line, "main_cf_sha256") == 0)
				fs_r->main_sha = mc_xstrdup(v);
			else if (strcmp(line, "master_cf_sha256") == 0)
				fs_r->master_sha = mc_xstrdup(v);
			else if (strcmp(line, "master_cf_frozen_sha256") == 0)
				fs_r->master_frozen_sha = mc_xstrdup(v);
			else if (strcmp(line, "disabled_services") == 0)
				fs_r->services = mc_xstrdup(v);
			else if (strcmp(line, "main_cf_owner") == 0 &&
				 sscanf(v, "%lu:%lu", &a, &b) == 2)
				fs_r->main_uid = (uid_t)a, fs_r->main_gid = (gid_t)b;
			else if (strcmp(line, "master_cf_owner") == 0 &&
				 sscanf(v, "%lu:%lu", &a, &b) == 2)
				fs_r->master_uid = (uid_t)a, fs_r->master_gid = (gid_t)b;
			else if (strcmp(line, "main_cf_mode") == 0 && sscanf(v, "%o", &m) == 1)
				fs_r->main_mode = (mode_t)m;
			else if (strcmp(line, "master_cf_mode") == 0 && sscanf(v, "%o", &m) == 1)
				fs_r->master_mode = (mode_t)m;
		}
		line = nl != NULL ? nl + 1 : NULL;
	}
	free(buf);
	if (fs_r->phase == NULL || fs_r->main_sha == NULL || fs_r->master_sha == NULL) {
		mc_postfix_freeze_state_clear(fs_r);
		return mc_error_set(error_r, "%s/state: incomplete freeze record", spath);
	}
	return 1;
}

/* Open (creating with CREATE) the state directory of this instance,
   and lock it against a concurrent freeze or thaw. */
int mc_postfix_state_open(const struct mc_postfix *pf, const char *state_dir,
			  bool create, char **spath_r, int *lockfd_r,
			  char **error_r)
{
	char *spath = mc_postfix_state_path(pf, state_dir);
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

