/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fixture 3h
/* SUMMARY
/*	set-up shared by the unit tests that work on files
/* SYNOPSIS
/*	#include "fixture.h"
/*
/*	char	*mc_fixture_tmpdir(name)
/*	void	mc_fixture_rm_rf(tree)
/*	int	mc_fixture_write_file(path, text, mode)
/*	struct mc_quarantine *mc_fixture_quarantine(dir, &qdir)
/* DESCRIPTION
/*	mc_fixture_tmpdir() makes a directory of its own for a test,
/*	$TMPDIR/test-NAME.XXXXXX (/tmp without TMPDIR), and returns its
/*	path, absolute and without symlinks (the stores and the
/*	quarantine compare paths), or NULL.
/*
/*	mc_fixture_rm_rf() removes TREE and all in it; a failure is told
/*	on stderr.
/*
/*	mc_fixture_write_file() writes TEXT to PATH (created or
/*	emptied) and gives it MODE whatever the umask: 0, or -1 with
/*	the error on stderr.
/*
/*	mc_fixture_quarantine() opens (creating) the quarantine DIR/q,
/*	and sets *qdir_r, when not NULL, to its path; NULL with the
/*	error on stderr.
/*--*/

#ifndef MAILCURE_TEST_FIXTURE_H
#define MAILCURE_TEST_FIXTURE_H

#include <sys/types.h>

#include "mailcure/mailcure.h"

char *mc_fixture_tmpdir(const char *name);
void mc_fixture_rm_rf(const char *tree);
int mc_fixture_write_file(const char *path, const char *text, mode_t mode);
struct mc_quarantine *mc_fixture_quarantine(const char *dir, char **qdir_r);

#endif
