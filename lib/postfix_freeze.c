/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	postfix_freeze 3
/* SUMMARY
/*	freeze and thaw the queue of a Postfix instance
/* SYNOPSIS
/*	#include "postfix_ctl.h"
/*
/*	int mc_postfix_freeze(const struct mc_postfix *pf,
/*		const char *state_dir, bool dry_run, char **note_r,
/*		char **error_r);
/*	int mc_postfix_thaw(const struct mc_postfix *pf,
/*		const char *state_dir, bool force, bool dry_run,
/*		char **note_r, char **error_r);
/* DESCRIPTION
/*	See postfix_ctl.h for what freeze and thaw do. Freeze saves
/*	main.cf and master.cf (postfix_state.c), comments out the queue
/*	manager services with "postconf -M#", reloads Postfix, waits for
/*	the queue manager to go and for deliveries already under way to
/*	end. Thaw checks that neither file changed while frozen, writes
/*	the saved copies back (only when they differ), reloads, waits for
/*	the queue manager and flushes the queue; the record goes last.
/* DIAGNOSTICS
/*	-1 with a reason naming the file or command; a remark for the
/*	administrator (already frozen, Postfix not running, deliveries
/*	still running) in *note_r.
/* SECURITY
/*	Runs as root. main.cf and master.cf are refused when they are
/*	symbolic links (a rename would replace the link with a file);
/*	saved copies are checked against their recorded SHA-256 before
/*	they are written back.
/*--*/

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "internal.h"
#include "postfix_ctl.h"
#include "postfix_private.h"
#include "state_file.h"

/* How long a reload may take to stop or start the queue manager. */
#define RELOAD_WAIT_MS 30000

static int postfix_reload(const struct mc_postfix *pf, char **error_r)
{
	return mc_postfix_command_ok(pf, "postfix", "reload", error_r);
}

/* Wait until the queue manager is gone (WANT_RUNNING false) or back. */
static bool wait_qmgr(const struct mc_postfix *pf, bool want_running)
{
	for (unsigned waited = 0; waited <= RELOAD_WAIT_MS; waited += 100) {
		pid_t master = mc_postfix_master_pid(pf);
		if (master == 0)
			return !want_running;
		if ((mc_postfix_qmgr_pid(master) != 0) == want_running)
			return true;
		mc_sleep_ms(100);
	}
	return false;
}

/* Deliveries that were already under way when the queue manager
   stopped finish on their own: wait for them (a delivery agent with an
   active queue file open), so that what is frozen stays put. */
static size_t wait_deliveries(const struct mc_postfix *pf)
{
	char *active = mc_xasprintf("%s/active", pf->queue_dir);
	size_t busy = 0;

	for (unsigned waited = 0; waited <= RELOAD_WAIT_MS; waited += 200) {
		struct mc_postfix_open_files files;
		DIR *dir = opendir(active);
		struct dirent *de;

		busy = 0;
		if (dir == NULL)
			break;
		mc_postfix_open_files(pf, &files);
		while (files.count > 0 && (de = readdir(dir)) != NULL) {
			struct stat st;
			if (de->d_name[0] == '.' ||
			    fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			if (S_ISREG(st.st_mode) &&
			    mc_postfix_file_open(&files, st.st_dev, st.st_ino))
				busy++;
		}
		closedir(dir);
		mc_postfix_open_files_clear(&files);
		if (busy == 0)
			break;
		mc_sleep_ms(200);
	}
	free(active);
	return busy;
}

/* postconf -M# SERVICE for each of SERVICES. */
static int disable_services(const struct mc_postfix *pf, char **services,
			    size_t count, char **error_r)
{
	for (size_t i = 0; i < count; i++) {
		const char *argv[6];
		size_t argc = 0;

		argc = mc_postfix_argv_start(pf, pf->postconf, argv);
		argv[argc++] = "-M#";
		argv[argc++] = services[i];
		argv[argc] = NULL;
		if (mc_postfix_run_ok(pf, argv, NULL, 0, NULL, error_r) < 0)
			return -1;
	}
	return 0;
}

static int check_not_symlink(int cfd, const char *config_dir, const char *name,
			     char **error_r)
{
	struct stat st;

	if (fstatat(cfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return mc_error_errno(error_r, "%s/%s", config_dir, name);
	if (S_ISLNK(st.st_mode))
		return mc_error_set(error_r, "%s/%s is a symbolic link: freeze and "
				    "thaw would replace it with a file; refused",
				    config_dir, name);
	return 0;
}

/* The configuration directory, with main.cf and master.cf checked. */
static int config_open(const struct mc_postfix *pf, char **error_r)
{
	int cfd = mc_open_dir_path(pf->config_dir, NULL, error_r);

	if (cfd >= 0 &&
	    (check_not_symlink(cfd, pf->config_dir, "main.cf", error_r) < 0 ||
	     check_not_symlink(cfd, pf->config_dir, "master.cf", error_r) < 0)) {
		close(cfd);
		cfd = -1;
	}
	return cfd;
}

/* Release what freeze and thaw hold: the record read, the descriptors
   of the configuration and state directories and of the lock. */
static void state_end(struct mc_postfix_freeze_state *fs, int cfd, int lfd,
		      int sfd, char *spath)
{
	mc_postfix_freeze_state_clear(fs);
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	if (sfd >= 0)
		close(sfd);
	free(spath);
}

/* mc_postfix_freeze with DRY_RUN: what it would do. */
static int freeze_dry_run(const struct mc_postfix *pf, char **note_r,
			  char **error_r)
{
	bool frozen;

	if (mc_postfix_is_frozen(pf, &frozen, error_r) < 0)
		return -1;
	if (frozen) {
		mc_note_add(note_r, "the queue manager is already stopped");
		return 0;
	}
	mc_note_add(note_r, "would save main.cf and master.cf, disable the "
		 "queue manager in master.cf%s", mc_postfix_master_pid(pf) != 0 ?
		 " and reload Postfix" : "");
	return 1;
}

/* A freeze is recorded in FS already (in SPATH): check that it holds,
   and finish its reload if an earlier freeze stopped before it. */
static int freeze_again(const struct mc_postfix *pf,
			const struct mc_postfix_freeze_state *fs,
			const char *spath, char **services, size_t nservices,
			char **note_r, char **error_r)
{
	pid_t master;
	char when[MC_DATE_TEXT_SIZE];

	if (nservices > 0)
		return mc_error_set(error_r, "the freeze of %s recorded in %s is "
				    "undone: master.cf enables %s again (edited since?). "
				    "Run 'mailcure queue thaw' (with --force to restore "
				    "the saved files anyway) before freezing again",
				    pf->config_dir, spath, services[0]);
	master = mc_postfix_master_pid(pf);
	if (master != 0 && mc_postfix_qmgr_pid(master) != 0) {
		/* An earlier freeze stopped before its reload. */
		if (postfix_reload(pf, error_r) < 0)
			return -1;
		if (!wait_qmgr(pf, false))
			return mc_error_set(error_r, "Postfix reloaded, but its queue "
					    "manager is still running");
		return 1;
	}
	mc_date_format(fs->frozen_at, when, sizeof(when));
	mc_note_add(note_r, "already frozen since %s", when);
	return 0;
}

/* Save main.cf and master.cf of CFD into the state directory SFD, and
   record them with the queue manager SERVICES in FS, phase "saved":
   nothing is changed before their copies are on disk. */
static int freeze_save(const struct mc_postfix *pf, int cfd, int sfd,
		       const char *spath, struct mc_postfix_freeze_state *fs,
		       char **services, size_t nservices, char **error_r)
{
	unsigned char *main_buf = NULL, *master_buf = NULL;
	size_t main_len, master_len;
	struct stat main_st, master_st;
	char hex[65];
	int ret = -1;

	if (mc_file_read_whole(cfd, "main.cf", &main_buf, &main_len, &main_st, error_r) < 0 ||
	    mc_file_read_whole(cfd, "master.cf", &master_buf, &master_len, &master_st, error_r) < 0)
		goto out;
	if (mc_file_write_atomic(sfd, spath, "main.cf", main_buf, main_len, 0600, 0, 0, error_r) < 0 ||
	    mc_file_write_atomic(sfd, spath, "master.cf", master_buf, master_len, 0600, 0, 0, error_r) < 0)
		goto out;
	fs->phase = mc_xstrdup("saved");
	fs->config_dir = mc_xstrdup(pf->config_dir);
	fs->frozen_at = time(NULL);
	mc_sha_hex(main_buf, main_len, hex);
	fs->main_sha = mc_xstrdup(hex);
	mc_sha_hex(master_buf, master_len, hex);
	fs->master_sha = mc_xstrdup(hex);
	fs->main_mode = main_st.st_mode;
	fs->main_uid = main_st.st_uid;
	fs->main_gid = main_st.st_gid;
	fs->master_mode = master_st.st_mode;
	fs->master_uid = master_st.st_uid;
	fs->master_gid = master_st.st_gid;
	char *list = mc_xstrdup("");
	for (size_t i = 0; i < nservices; i++) {
		char *l = mc_xasprintf("%s%s%s", list, i > 0 ? " " : "", services[i]);
		free(list);
		list = l;
	}
	fs->services = list;
	ret = mc_postfix_state_write(sfd, spath, fs, error_r);
out:
	free(main_buf);
	free(master_buf);
	return ret;
}

/* master.cf is frozen: have a running Postfix stop its queue manager. */
static int freeze_reload(const struct mc_postfix *pf, char **note_r,
			 char **error_r)
{
	if (mc_postfix_master_pid(pf) == 0) {
		mc_note_add(note_r, "Postfix is not running: it will start frozen");
		return 0;
	}
	if (postfix_reload(pf, error_r) < 0)
		return -1;
	if (!wait_qmgr(pf, false))
		return mc_error_set(error_r, "Postfix reloaded, but its queue manager "
				    "is still running after %u seconds",
				    RELOAD_WAIT_MS / 1000);
	size_t busy = wait_deliveries(pf);
	if (busy > 0)
		mc_note_add(note_r, "%zu deliveries that had started before the "
			 "freeze are still running", busy);
	return 0;
}

int mc_postfix_freeze(const struct mc_postfix *pf, const char *state_dir,
		      bool dry_run, char **note_r, char **error_r)
{
	struct mc_postfix_freeze_state fs;
	char *spath = NULL, **services = NULL;
	size_t nservices = 0;
	int sfd = -1, lfd = -1, cfd = -1, ret = -1, have;
	unsigned char *master_buf = NULL;
	size_t master_len;
	struct stat master_st;
	char hex[65];

	memset(&fs, 0, sizeof(fs));
	if (dry_run)
		return freeze_dry_run(pf, note_r, error_r);
	sfd = mc_postfix_state_open(pf, state_dir, true, &spath, &lfd, error_r);
	if (sfd < 0)
		return -1;
	cfd = config_open(pf, error_r);
	if (cfd < 0)
		goto out;
	have = mc_postfix_state_read(sfd, spath, &fs, error_r);
	if (have < 0)
		goto out;
	if (mc_postfix_qmgr_services(pf, &services, &nservices, error_r) < 0)
		goto out;
	if (have > 0 && strcmp(fs.phase, "frozen") == 0) {
		ret = freeze_again(pf, &fs, spath, services, nservices, note_r, error_r);
		goto out;
	}
	if (have == 0 &&
	    freeze_save(pf, cfd, sfd, spath, &fs, services, nservices, error_r) < 0)
		goto out;

	if (disable_services(pf, services, nservices, error_r) < 0)
		goto out;
	if (mc_file_read_whole(cfd, "master.cf", &master_buf, &master_len, &master_st, error_r) < 0)
		goto out;
	mc_sha_hex(master_buf, master_len, hex);
	free(fs.master_frozen_sha);
	fs.master_frozen_sha = mc_xstrdup(hex);
	free(fs.phase);
	fs.phase = mc_xstrdup("frozen");
	if (mc_postfix_state_write(sfd, spath, &fs, error_r) < 0 ||
	    freeze_reload(pf, note_r, error_r) < 0)
		goto out;
	if (nservices == 0)
		mc_note_add(note_r, "master.cf had no queue manager service enabled");
	ret = 1;
out:
	mc_postfix_strings_free(services, nservices);
	free(master_buf);
	state_end(&fs, cfd, lfd, sfd, spath);
	return ret;
}

int mc_postfix_thaw(const struct mc_postfix *pf, const char *state_dir,
		    bool force, bool dry_run, char **note_r, char **error_r)
{
	struct mc_postfix_freeze_state fs;
	char *spath = NULL;
	int sfd, lfd = -1, cfd = -1, ret = -1, have;

	memset(&fs, 0, sizeof(fs));
	sfd = mc_postfix_state_open(pf, state_dir, false, &spath, &lfd, error_r);
	if (sfd == -2) {
		free(spath);
		bool frozen;
		if (mc_postfix_is_frozen(pf, &frozen, error_r) < 0)
			return -1;
		mc_note_add(note_r, frozen ? "the queue manager is stopped, but not by "
			 "mailcure (no freeze record): nothing changed" :
			 "the queue is not frozen");
		return 0;
	}
	if (sfd < 0)
		return -1;
	have = mc_postfix_state_read(sfd, spath, &fs, error_r);
	if (have <= 0) {
		if (have == 0) {
			mc_note_add(note_r, "the queue is not frozen");
			ret = 0;
		}
		goto out;
	}
	cfd = config_open(pf, error_r);
	if (cfd < 0)
		goto out;

	/* A change made while frozen would be undone by the restore:
	   only with --force. */
	bool main_changed = !mc_file_sha_is(cfd, "main.cf", fs.main_sha);
	bool master_changed = strcmp(fs.phase, "frozen") == 0 &&
		!mc_file_sha_is(cfd, "master.cf", fs.master_frozen_sha) &&
		!mc_file_sha_is(cfd, "master.cf", fs.master_sha);
	if ((main_changed || master_changed) && !force) {
		mc_error_set(error_r, "%s%s%s changed while the queue was frozen; "
			     "thaw would undo that change. Compare with the saved "
			     "copies in %s, then run 'mailcure queue thaw --force'",
			     main_changed ? "main.cf" : "",
			     main_changed && master_changed ? " and " : "",
			     master_changed ? "master.cf" : "", spath);
		goto out;
	}
	if (dry_run) {
		mc_note_add(note_r, "would restore main.cf and master.cf from %s%s",
			 spath, mc_postfix_master_pid(pf) != 0 ?
			 ", reload Postfix and flush the queue" : "");
		ret = 1;
		goto out;
	}
	if (mc_state_restore_file(cfd, pf->config_dir, "main.cf", sfd, spath, "main.cf", fs.main_sha,
			 fs.main_mode, fs.main_uid, fs.main_gid, error_r) < 0 ||
	    mc_state_restore_file(cfd, pf->config_dir, "master.cf", sfd, spath, "master.cf", fs.master_sha,
			 fs.master_mode, fs.master_uid, fs.master_gid, error_r) < 0)
		goto out;

	if (mc_postfix_master_pid(pf) == 0) {
		mc_note_add(note_r, "Postfix is not running: queued mail is delivered "
			 "when it starts");
	} else {
		char *err = NULL;

		if (postfix_reload(pf, error_r) < 0)
			goto out;
		if (!wait_qmgr(pf, true))
			mc_note_add(note_r, "Postfix reloaded, but no queue manager "
				 "started within %u seconds", RELOAD_WAIT_MS / 1000);
		else if (mc_postfix_flush(pf, &err) < 0)
			mc_note_add(note_r, "flush: %s", err);
		free(err);
	}
	/* The record goes last: until here, thaw can be run again. */
	if (unlinkat(sfd, "state", 0) < 0 && errno != ENOENT) {
		mc_error_errno(error_r, "%s/state", spath);
		goto out;
	}
	(void)unlinkat(sfd, "main.cf", 0);
	(void)unlinkat(sfd, "master.cf", 0);
	(void)unlinkat(sfd, "lock", 0);
	(void)mc_fsync_dir(sfd);
	if (rmdir(spath) < 0 && errno != ENOTEMPTY && errno != EEXIST)
		mc_note_add(note_r, "%s: %s", spath, strerror(errno));
	ret = 1;
out:
	state_end(&fs, cfd, lfd, sfd, spath);
	return ret;
}

