/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	state_file 3h
/* SUMMARY
/*	saved copies of configuration files, for a change undone exactly
/* SYNOPSIS
/*	#include "state_file.h"
/* DESCRIPTION
/*	See state_file.c. Private to the library.
/*--*/

#ifndef MAILCURE_STATE_FILE_H
#define MAILCURE_STATE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* STATE_DIR/KIND/KEY for the instance named by PATH (malloc()ed). */
char *mc_state_path(const char *state_dir, const char *kind, const char *path);
/* Open (creating with CREATE) the state directory SPATH (malloc()ed,
   taken over) and lock it: its fd, with *spath_r and *lockfd_r; -2
   when it does not exist and CREATE is false (*spath_r set); -1 with
   *error_r (SPATH freed). */
int mc_state_open(char *spath, bool create, char **spath_r, int *lockfd_r,
		  char **error_r);
/* A whole regular file DIRFD/NAME (not a link), up to 64 MiB. */
int mc_file_read_whole(int dirfd, const char *name, unsigned char **buf_r,
		       size_t *len_r, struct stat *st_r, char **error_r);
void mc_sha_hex(const void *data, size_t len, char hex[65]);
/* Whether DIRFD/NAME has the SHA-256 WANT (hex; NULL: no). */
bool mc_file_sha_is(int dirfd, const char *name, const char *want);
/* Write DATA as DIRFD/NAME through a temporary file and rename(2),
   fsync'd, with the given owner and mode. */
int mc_file_write_atomic(int dirfd, const char *dirname, const char *name,
			 const void *data, size_t len, mode_t mode,
			 uid_t uid, gid_t gid, char **error_r);
/* The record SPATH/state of a freeze, "name=value" lines: written
   (mode 0600, as mc_file_write_atomic) from TEXT; read, each line
   handed to FIELD with CTX (1; 0 when there is no record). */
int mc_state_record_write(int sfd, const char *spath, const char *text,
			  char **error_r);
int mc_state_record_read(int sfd, const char *spath,
			 void (*field)(void *ctx, const char *name, const char *value),
			 void *ctx, char **error_r);
/* A record's "UID:GID" and octal mode values: false when V is none. */
bool mc_state_owner_parse(const char *v, uid_t *uid_r, gid_t *gid_r);
bool mc_state_mode_parse(const char *v, mode_t *mode_r);
/* Put the saved copy SPATH/SAVED_NAME (checked against WANT_SHA) back
   as CONFIG_DIR/NAME, unless that is byte-identical already with the
   same owner and mode. */
int mc_state_restore_file(int cfd, const char *config_dir, const char *name,
			  int sfd, const char *spath, const char *saved_name,
			  const char *want_sha, mode_t mode, uid_t uid, gid_t gid,
			  char **error_r);

#endif
