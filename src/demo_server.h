/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	demo_server 3h
/* SUMMARY
/*	build the sample infected mail server of "mailcure demo"
/* SYNOPSIS
/*	#include "demo_server.h"
/* DESCRIPTION
/*	mc_demo_init() loads the ClamAV test files and seeds the
/*	generator; mc_demo_create() builds the users' Maildirs and mbox
/*	files under a directory, mc_demo_create_host_files() the web
/*	upload directory beside them; mc_demo_deinit() frees it all.
/*	The same seed builds the same server, byte for byte.
/*
/*	Nothing here prints or exits (but for abort() when out of
/*	memory): failures return -1 with the reason in d->error, and the
/*	demo command decides what the user sees.
/*--*/

#ifndef MAILCURE_DEMO_SERVER_H
#define MAILCURE_DEMO_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Where the malware test files come from (Debian's clamav-testfiles). */
#define MC_DEMO_TESTFILES "/usr/share/clamav-testfiles"
#define MC_DEMO_MAX_USERS 64

struct mc_demo_user {
	const char *name;
	const char *full;
	bool maildir;		/* else only var/mail/USER */
	uid_t uid;
	unsigned messages;
	unsigned infected;
	unsigned mbox_messages;	/* of which in var/mail/USER */
	unsigned mbox_infected;
};

struct mc_demo_testfile {
	char *name;
	unsigned char *data;
	size_t size;
};

struct mc_demo {
	const char *root;
	uint64_t rng;		/* splitmix64 state */
	bool chown_users;	/* as root: each user's files are theirs */
	struct mc_demo_user users[MC_DEMO_MAX_USERS];
	unsigned user_count;
	struct mc_demo_testfile *testfiles;
	size_t testfile_count;
	const struct mc_demo_testfile *outbreak_file;
	unsigned char eicar[68];
	size_t eicar_len;
	unsigned seq;
	/* What was created. */
	unsigned total, infected_testfile, infected_eicar, outbreak;
	uint64_t bytes;
	unsigned maildir_folders, mbox_files;
	char *error;
};

/* Clear D, seed its generator with SEED and load the test files of
   MC_DEMO_TESTFILES (sorted by name, so that a seed always picks the
   same ones). -1 with errno when there are none. */
int mc_demo_init(struct mc_demo *d, uint64_t seed);

/* Build the sample server of USERS users (at most MC_DEMO_MAX_USERS)
   and MESSAGES ordinary messages plus one outbreak message a user in
   ROOT, an existing empty directory that D keeps pointing to:

	home/USER/Maildir	INBOX, .Sent and .Archive (Maildir++)
	var/mail/USER		mbox files (users without a Maildir,
				and local system mail of the others)

   -1 with d->error. */
int mc_demo_create(struct mc_demo *d, const char *root, unsigned users,
		   unsigned messages);

/* ROOT/srv/www/uploads: clean files and one malware test file, for
   the host scan. Returns 1 when that file was written, 0 when there
   was none to write, -1 with d->error. */
int mc_demo_create_host_files(struct mc_demo *d);

void mc_demo_deinit(struct mc_demo *d);

#endif
