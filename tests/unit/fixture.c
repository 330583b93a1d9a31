/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fixture 3
/* SUMMARY
/*	set-up shared by the unit tests that work on files
/* DESCRIPTION
/*	See fixture.h.
/*--*/

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fixture.h"

char *mc_fixture_tmpdir(const char *name)
{
	const char *base = getenv("TMPDIR");
	char *tmp, *real;

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	if (asprintf(&tmp, "%s/test-%s.XXXXXX", base, name) < 0)
		return NULL;
	if (mkdtemp(tmp) == NULL) {
		free(tmp);
		return NULL;
	}
	real = realpath(tmp, NULL);
	free(tmp);
	return real;
}

int mc_fixture_write_file(const char *path, const char *text, mode_t mode)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fchmod(fd, mode) < 0) {
		perror(path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return close(fd);
}

void mc_fixture_rm_rf(const char *tree)
{
	char *cmd;

	if (asprintf(&cmd, "rm -rf '%s'", tree) < 0)
		abort();
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tree);
	free(cmd);
}

struct mc_quarantine *mc_fixture_quarantine(const char *dir, char **qdir_r)
{
	struct mc_quarantine *q;
	char *qdir, *error = NULL;

	if (asprintf(&qdir, "%s/q", dir) < 0)
		abort();
	q = mc_quarantine_open(qdir, true, &error);
	if (q == NULL) {
		fprintf(stderr, "quarantine: %s\n", error);
		free(error);
	}
	if (qdir_r != NULL)
		*qdir_r = qdir;
	else
		free(qdir);
	return q;
}
