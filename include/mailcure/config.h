/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	config 3h
/* SUMMARY
/*	settings files of name = value lines
/* SYNOPSIS
/*	#include "mailcure/config.h"
/* DESCRIPTION
/*	See lib/config.c.
/*--*/

#ifndef MAILCURE_CONFIG_H
#define MAILCURE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* One "name = value" of a settings file. */
struct mc_config_entry {
	char *name;
	char *value;		/* continuation lines joined by one space */
	unsigned line;		/* where the setting starts */
};

struct mc_config {
	char *path;		/* as given, for "PATH:LINE: ..." */
	struct mc_config_entry *entries;	/* in file order */
	size_t count;
	bool missing;		/* mc_config_read(): no file, MISSING_OK */
};

/* Parse SIZE bytes of TEXT read from PATH. NAMES (NULL-terminated)
   are the settings the file may hold. -1 with "PATH:LINE: why" in
   *error_r (malloc()ed) when a line is malformed or names an unknown
   setting, a setting is given twice or has no value. */
int mc_config_parse(const char *path, const char *text, size_t size,
		    const char *const *names, struct mc_config **config_r,
		    char **error_r);
/* Read and parse PATH: a regular file owned by root or the effective
   user and writable by nobody else. MISSING_OK: a file that does not
   exist is an empty configuration (missing set). */
int mc_config_read(const char *path, bool missing_ok,
		   const char *const *names, struct mc_config **config_r,
		   char **error_r);
/* The entry NAME, or NULL. */
const struct mc_config_entry *mc_config_get(const struct mc_config *config,
					    const char *name);
void mc_config_free(struct mc_config **config);
/* The whole of PATH (at most MAX bytes, else EFBIG), checked as
   mc_config_read() checks a settings file, into *text_r (malloc()ed,
   NUL-terminated, *len_r bytes before the NUL). MISSING_OK: a file
   that does not exist gives *text_r NULL. */
int mc_config_file_read(const char *path, size_t max, bool missing_ok,
			char **text_r, size_t *len_r, char **error_r);

#endif
