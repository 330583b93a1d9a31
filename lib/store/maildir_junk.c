/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	maildir_junk 3
/* SUMMARY
/*	move a Maildir message into its mailbox's Junk folder
/* SYNOPSIS
/*	#include <mailcure/watch_state.h>
/*
/*	int mc_watch_junk(const struct mc_msg *msg, char **dest_r,
/*		char **error_r);
/* DESCRIPTION
/*	The junk action of watch: the message file a Maildir store
/*	yielded is renamed, with its name and flags, into new/ or cur/
/*	(where it was) of the Maildir++ folder .Junk of the same
/*	Maildir, which is made (owned by the Maildir's owner, marked
/*	with maildirfolder as Dovecot marks folders) when missing. A
/*	rename within one Maildir is atomic: the message is in one
/*	folder or the other, never both, never neither.
/* DIAGNOSTICS
/*	-1 with a reason: not a Maildir message, already in Junk, the
/*	file is no longer the one read (renamed by the IMAP server,
/*	replaced, linked), a Junk message of the same unique name.
/* SECURITY
/*	The Maildir is walked to from "/" (no link a user could plant
/*	is followed), the file is checked (regular, one link, the size
/*	read) relative to its verified directory, and renamed relative
/*	to directory descriptors with RENAME_NOREPLACE.
/*--*/

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "mailcure/watch_state.h"
#include "internal.h"
#include "store-private.h"

/* The Maildir of folder directory DIR holding FOLDER: DIR itself for
   INBOX, its parent for Maildir++ ".A.B", DIR less "/A/B" for
   LAYOUT=fs. NULL when DIR does not end as FOLDER says. */
static char *maildir_root(const char *dir, const char *folder)
{
	size_t dlen = strlen(dir), flen = strlen(folder);
	char *dotted;

	if (strcmp(folder, "INBOX") == 0)
		return mc_xstrdup(dir);
	dotted = mc_xasprintf("/.%s", folder);
	for (char *p = dotted + 2; *p != '\0'; p++)
		*p = *p == '/' ? '.' : *p;
	if (dlen > flen + 2 && strcmp(dir + dlen - flen - 2, dotted) == 0) {
		free(dotted);
		return mc_xstrndup(dir, dlen - flen - 2);
	}
	free(dotted);
	if (dlen > flen + 1 && dir[dlen - flen - 1] == '/' &&
	    strcmp(dir + dlen - flen, folder) == 0)
		return mc_xstrndup(dir, dlen - flen - 1);
	return NULL;
}

/* Open .Junk/SUB under ROOTFD, making the folder as its owner. */
static int junk_dir(int rootfd, const char *sub, char **error_r)
{
	struct stat st;
	bool created = false;
	int folderfd, fd = -1;

	if (fstat(rootfd, &st) < 0)
		return mc_error_errno(error_r, "Maildir");
	folderfd = mc_store_mkdir_owned(rootfd, ".Junk", st.st_uid, st.st_gid, 0700,
					&created, error_r);
	if (folderfd < 0)
		return -1;
	if ((!created || mc_store_write_new(folderfd, "maildirfolder", "", 0, st.st_uid,
					    st.st_gid, 0600, 0, error_r) == 0)) {
		static const char *const subs[] = { "tmp", "new", "cur" };

		for (size_t i = 0; i < 3; i++) {
			int sfd = mc_store_mkdir_owned(folderfd, subs[i], st.st_uid, st.st_gid,
						       0700, NULL, error_r);

			if (sfd < 0) {
				if (fd >= 0)
					close(fd);
				fd = -1;
				break;
			}
			if (strcmp(subs[i], sub) == 0)
				fd = sfd;
			else
				close(sfd);
		}
	}
	close(folderfd);
	return fd;
}

/* Check that NAME in SUBFD is still the file MSG was read from. */
static int same_message(int subfd, const char *name, const struct mc_msg *msg,
			char **error_r)
{
	struct stat st;

	if (fstatat(subfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return mc_error_errno(error_r, "%s", msg->loc.path);
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (uint64_t)st.st_size != (uint64_t)msg->size ||
	    st.st_mtime != msg->loc.mtime)
		return mc_error_set(error_r, "%s: no longer the message read", msg->loc.path);
	return 0;
}

int mc_watch_junk(const struct mc_msg *msg, char **dest_r, char **error_r)
{
	const struct mc_location *loc = &msg->loc;
	char *subdir = NULL, *folderdir = NULL, *root = NULL, *abs = NULL, *rel;
	const char *name, *sub;
	int rootfd = -1, folderfd = -1, subfd = -1, junkfd = -1, ret = -1;

	*dest_r = NULL;
	if (loc->kind == NULL || strcmp(loc->kind, "maildir") != 0 || loc->path == NULL ||
	    loc->folder == NULL)
		return mc_error_set(error_r, "a Junk folder only for Maildir messages");
	if (strcmp(loc->folder, "Junk") == 0)
		return mc_error_set(error_r, "already in Junk");
	name = mc_path_base(loc->path);
	subdir = mc_path_dir(loc->path);
	sub = mc_path_base(subdir);
	folderdir = mc_path_dir(subdir);
	root = maildir_root(folderdir, loc->folder);
	if (root == NULL || (strcmp(sub, "new") != 0 && strcmp(sub, "cur") != 0)) {
		mc_error_set(error_r, "%s: not where a Maildir folder keeps mail", loc->path);
		goto out;
	}
	rel = folderdir + strlen(root) + (folderdir[strlen(root)] == '/');
	if ((rootfd = mc_open_dir_path(root, &abs, error_r)) < 0 ||
	    (folderfd = mc_store_open_rel_dir(rootfd, rel, error_r)) < 0 ||
	    (subfd = mc_safe_open_dir(folderfd, sub, NULL, error_r)) < 0 ||
	    same_message(subfd, name, msg, error_r) < 0 ||
	    (junkfd = junk_dir(rootfd, sub, error_r)) < 0)
		goto out;
	if (renameat2(subfd, name, junkfd, name, RENAME_NOREPLACE) < 0) {
		mc_error_errno(error_r, "%s: into %s/.Junk/%s", loc->path, abs, sub);
		goto out;
	}
	(void)fsync(junkfd);
	(void)fsync(subfd);
	*dest_r = mc_xasprintf("%s/.Junk/%s/%s", abs, sub, name);
	ret = 0;
out:
	if (junkfd >= 0)
		close(junkfd);
	if (subfd >= 0)
		close(subfd);
	if (folderfd >= 0)
		close(folderfd);
	if (rootfd >= 0)
		close(rootfd);
	free(abs);
	free(root);
	free(folderdir);
	free(subdir);
	return ret;
}
