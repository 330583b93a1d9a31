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
	int ret = mc_state_record_write(sfd, spath, text, error_r);
	free(text);
	return ret;
}

/* One "name=value" line of the record into the state CTX. */
static void state_field(void *ctx, const char *name, const char *v)
{
	struct mc_postfix_freeze_state *fs = ctx;
	char **str = NULL;

	if (strcmp(name, "phase") == 0)
		str = &fs->phase;
	else if (strcmp(name, "config_directory") == 0)
		str = &fs->config_dir;
	else if (strcmp(name, "main_cf_sha256") == 0)
		str = &fs->main_sha;
	else if (strcmp(name, "master_cf_sha256") == 0)
		str = &fs->master_sha;
	else if (strcmp(name, "master_cf_frozen_sha256") == 0)
		str = &fs->master_frozen_sha;
	else if (strcmp(name, "disabled_services") == 0)
		str = &fs->services;
	else if (strcmp(name, "frozen_at") == 0)
		fs->frozen_at = (time_t)strtoll(v, NULL, 10);
	else if (strcmp(name, "main_cf_owner") == 0)
		(void)mc_state_owner_parse(v, &fs->main_uid, &fs->main_gid);
	else if (strcmp(name, "master_cf_owner") == 0)
		(void)mc_state_owner_parse(v, &fs->master_uid, &fs->master_gid);
	else if (strcmp(name, "main_cf_mode") == 0)
		(void)mc_state_mode_parse(v, &fs->main_mode);
	else if (strcmp(name, "master_cf_mode") == 0)
		(void)mc_state_mode_parse(v, &fs->master_mode);
	if (str != NULL) {
		free(*str);
		*str = mc_xstrdup(v);
	}
}

/* Returns 1 with *fs_r filled, 0 when there is no state, -1 on error. */
int mc_postfix_state_read(int sfd, const char *spath,
			  struct mc_postfix_freeze_state *fs_r, char **error_r)
{
	int ret;

	memset(fs_r, 0, sizeof(*fs_r));
	ret = mc_state_record_read(sfd, spath, state_field, fs_r, error_r);
	if (ret <= 0)
		return ret;
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
