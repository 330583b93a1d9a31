/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	postfix_state 3
/* SUMMARY
/*	the record of a Postfix freeze, on disk
/* SYNOPSIS
/*	#include "postfix_private.h"
#include "state_file.h"
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
#include "state_file.h"

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
	int ret = mc_file_write_atomic(sfd, spath, "state", text, strlen(text), 0600, 0, 0,
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
	if (mc_file_read_whole(sfd, "state", &buf, &len, &st, &err) < 0) {
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

char *mc_postfix_state_path(const struct mc_postfix *pf, const char *state_dir)
{
	return mc_state_path(state_dir, "postfix-freeze", pf->config_dir);
}

int mc_postfix_state_open(const struct mc_postfix *pf, const char *state_dir,
			  bool create, char **spath_r, int *lockfd_r,
			  char **error_r)
{
	return mc_state_open(mc_postfix_state_path(pf, state_dir), create, spath_r,
			     lockfd_r, error_r);
}
