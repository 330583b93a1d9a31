/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-util 3h
/* SUMMARY
/*	helpers of the fuzz targets
/* SYNOPSIS
/*	#include "fuzz-util.h"
/*
/*	FUZZ_ASSERT(condition)
/*
/*	char	*fuzz_tmpdir(const char *name)
/*
/*	void	fuzz_write_file(const char *path, const void *data,
/*		size_t size)
/* DESCRIPTION
/*	FUZZ_ASSERT() ends the process with abort() when CONDITION,
/*	a property every input must keep, does not hold, naming it.
/*
/*	fuzz_tmpdir() makes a private directory NAME.XXXXXX in $TMPDIR
/*	(or /tmp) for the inputs of one target process.
/*
/*	fuzz_write_file() replaces PATH with DATA.
/*
/*	Both abort on failure: the machine, not the input, failed.
/*--*/

#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define FUZZ_ASSERT(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

static inline char *fuzz_tmpdir(const char *name)
{
	const char *tmp = getenv("TMPDIR");
	char *dir;

	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if (asprintf(&dir, "%s/%s.XXXXXX", tmp, name) < 0 || mkdtemp(dir) == NULL)
		abort();
	return dir;
}

static inline void fuzz_write_file(const char *path, const void *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd) < 0)
		abort();
}

#endif
