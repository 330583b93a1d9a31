/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	exim_freeze 3
/* SUMMARY
/*	freeze and thaw the queue of an Exim instance
/* SYNOPSIS
/*	#include "exim_ctl.h"
/*
/*	int mc_exim_freeze(const struct mc_exim *ex,
/*		const char *state_dir, bool dry_run, char **note_r,
/*		char **error_r);
/*	int mc_exim_thaw(const struct mc_exim *ex,
/*		const char *state_dir, bool force, bool dry_run,
/*		char **note_r, char **error_r);
/*	int mc_exim_freeze_state(const struct mc_exim *ex,
/*		const char *state_dir, bool *frozen_r, bool *recorded_r,
/*		time_t *frozen_at_r, char **error_r);
/* DESCRIPTION
/*	The freeze is the smallest change to the configuration file
/*	that Exim reads (exim -bV) that stops every delivery while mail
/*	is still accepted: in its main section, before the first
/*	"begin", it sets
/*
/*		queue_only = true
/*		hold_domains = *
/*
/*	queue_only stops the delivery that starts when a message is
/*	received (over SMTP, and from sendmail or exim -bm), and
/*	hold_domains = * makes every queue run (the daemon's queue
/*	runners, exim -q) defer every address without routing it, so
/*	nothing queued leaves either; nothing is bounced, expired or
/*	frozen by it. (queue_run_max = 0 would not do: it does not
/*	stop the queue runs.) Earlier definitions of either option in
/*	the main section are commented out (each line of a definition
/*	continued with "\e"). An option set in a file included with
/*	.include in the main section cannot be changed safely in
/*	place: the freeze is refused and names that file.
/*
/*	Before the change, an exact copy of the file with its owner and
/*	mode is saved (state_file.c) in STATE_DIR/exim-freeze/KEY/, with
/*	a record (phase, SHA-256 of the original and of the frozen
/*	file). The frozen file is written by rename, then checked with
/*	exim -bP (an error there restores the original at once), and
/*	the daemon, whose pid comes from pid_file_path and must be an
/*	Exim process, is sent SIGHUP: it runs itself again with the new
/*	configuration. A stopped Exim starts frozen.
/*
/*	Thaw refuses (unless forced) when the file changed while frozen
/*	(Debian's update-exim4.conf regenerates it, which also undoes
/*	the freeze), writes the saved copy back byte for byte with its
/*	owner and mode, sends SIGHUP, and starts a queue run (exim -q).
/* DIAGNOSTICS
/*	-1 with a reason naming the file or command; remarks (already
/*	frozen, Exim not running) in *note_r.
/* SECURITY
/*	Runs as root. The configuration file must not be a symbolic
/*	link (a rename would replace the link). Only a process whose
/*	executable is the Exim binary is signalled.
/*--*/

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "internal.h"
#include "exim_ctl.h"
#include "state_file.h"

#define FREEZE_BLOCK \
	"# mailcure queue freeze: no delivery until 'mailcure queue thaw',\n" \
	"# which restores this file as it was.\n" \
	"queue_only = true\n" \
	"hold_domains = *\n"

/* How deep .include files are followed. */
#define INCLUDE_DEPTH 8
/* How long the daemon may take to run itself again after SIGHUP. */
#define HUP_WAIT_MS 10000
/* ... and how long before it is sent SIGHUP again. */
#define HUP_REPEAT_MS 2000

/* The configuration file: its directory (open) and name. */
struct conf {
	char *path, *dir, *name;
	int dfd;
};

struct freeze_record {
	char *phase;		/* saved, written, frozen */
	time_t frozen_at;
	char *sha, *frozen_sha;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

static void record_clear(struct freeze_record *fr)
{
	free(fr->phase);
	free(fr->sha);
	free(fr->frozen_sha);
	memset(fr, 0, sizeof(*fr));
}

/* ------------------------------------------------------------------ */
/* The configuration text                                              */
/* ------------------------------------------------------------------ */

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* Whether the line [P, END) starts with WORD followed by white space
   or its end; *after_r: past WORD. */
static bool word_is(const char *p, const char *end, const char *word,
		    const char **after_r)
{
	size_t n = strlen(word);

	if ((size_t)(end - p) < n || memcmp(p, word, n) != 0)
		return false;
	p += n;
	*after_r = p;
	return p == end || *p == ' ' || *p == '\t' || *p == '\r';
}

/* A definition of queue_only or hold_domains: [hide] [no_|not_]NAME
   followed by "=", white space or the end of the line. */
static const char *option_defined(const char *p, const char *end)
{
	static const char *const names[] = { "queue_only", "hold_domains" };
	const char *after;

	p = skip_ws(p, end);
	if (word_is(p, end, "hide", &after))
		p = skip_ws(after, end);
	if ((size_t)(end - p) > 4 && memcmp(p, "not_", 4) == 0)
		p += 4;
	else if ((size_t)(end - p) > 3 && memcmp(p, "no_", 3) == 0)
		p += 3;
	for (size_t i = 0; i < 2; i++) {
		size_t n = strlen(names[i]);
		if ((size_t)(end - p) >= n && memcmp(p, names[i], n) == 0) {
			const char *q = skip_ws(p + n, end);
			if (q == end || *q == '=' || *q == '\r')
				return names[i];
		}
	}
	return NULL;
}

static bool is_comment(const char *p, const char *end)
{
	p = skip_ws(p, end);
	return p == end || *p == '#' || *p == '\r';
}

/* Whether the line is continued on the next one (ends in "\"). */
static bool continued(const char *p, const char *end)
{
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	return end > p && end[-1] == '\\';
}

/* The file named by an ".include" or ".include_if_exists" line
   (malloc()ed; relative to DIR), or NULL. *optional_r: _if_exists. */
static char *include_of(const char *p, const char *end, const char *dir,
			bool *optional_r)
{
	const char *after;

	p = skip_ws(p, end);
	*optional_r = word_is(p, end, ".include_if_exists", &after);
	if (!*optional_r && !word_is(p, end, ".include", &after))
		return NULL;
	p = skip_ws(after, end);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	if (p == end)
		return NULL;
	if (*p == '/')
		return mc_xstrndup(p, (size_t)(end - p));
	return mc_xasprintf("%s/%.*s", dir, (int)(end - p), p);
}

static int check_included(const char *path, bool optional, const char *config,
			  unsigned depth, char **error_r);

/* Refuse when a file included into the main section sets an option
   of the freeze (or includes one that does). */
static int check_lines(const char *text, size_t len, const char *path,
		       const char *config, unsigned depth, bool main_only,
		       char **error_r)
{
	const char *end = text + len, *dir_end = strrchr(path, '/');
	char *dir = mc_xstrndup(path, dir_end != NULL ? (size_t)(dir_end - path) : 0);
	bool cont = false;
	int ret = 0;

	for (const char *p = text; p < end && ret == 0;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl != NULL ? nl : end, *after, *opt;
		bool optional;
		char *inc;

		if (is_comment(p, le)) {
			/* A comment inside a continued line leaves it open. */
		} else if (!cont && main_only && word_is(skip_ws(p, le), le, "begin", &after)) {
			break;
		} else if (!cont && (opt = option_defined(p, le)) != NULL && depth > 0) {
			ret = mc_error_set(error_r, "%s (included by %s) sets %s: the "
					   "freeze changes only %s and cannot undo a change "
					   "to an included file exactly; move that setting "
					   "into %s", path, config, opt, config, config);
		} else if (!cont && (inc = include_of(p, le, dir, &optional)) != NULL) {
			ret = check_included(inc, optional, config, depth + 1, error_r);
			free(inc);
		}
		if (!is_comment(p, le))
			cont = continued(p, le);
		p = nl != NULL ? nl + 1 : end;
	}
	free(dir);
	return ret;
}

static int check_included(const char *path, bool optional, const char *config,
			  unsigned depth, char **error_r)
{
	const char *slash = strrchr(path, '/');
	unsigned char *buf = NULL;
	size_t len;
	struct stat st;
	char *dir, *err = NULL;
	int dfd, ret;

	if (depth > INCLUDE_DEPTH)
		return mc_error_set(error_r, "%s: .include nested more than %d deep",
				    config, INCLUDE_DEPTH);
	dir = mc_xstrndup(path, slash != NULL && slash > path ? (size_t)(slash - path) : 1);
	dfd = mc_open_dir_path(dir, NULL, &err);
	free(dir);
	if (dfd >= 0) {
		ret = mc_file_read_whole(dfd, slash != NULL ? slash + 1 : path, &buf, &len,
					 &st, &err);
		close(dfd);
	} else {
		ret = -1;
	}
	if (ret < 0) {
		/* Exim itself fails on a missing .include. */
		bool missing = errno == ENOENT;
		if (!(optional && missing))
			mc_error_set(error_r, "%s (included by %s): %s", path, config, err);
		free(err);
		return optional && missing ? 0 : -1;
	}
	ret = check_lines((const char *)buf, len, path, config, depth, false, error_r);
	free(buf);
	return ret;
}

int mc_exim_freeze_check(const char *text, size_t len, const char *path,
			 char **error_r)
{
	return check_lines(text, len, path, path, 0, true, error_r);
}

/* The frozen text of the configuration IN (LEN bytes): definitions of
   the freeze's options in the main section commented out, the freeze
   block put before the first "begin" (at the end without one). */
char *mc_exim_freeze_text(const char *in, size_t len, size_t *len_r)
{
	const char *end = in + len, *after;
	struct mc_buf b = { NULL, 0, 0 };
	bool cont = false, commenting = false, placed = false;

	for (const char *p = in; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl != NULL ? nl + 1 : end;
		const char *lend = nl != NULL ? nl : end;

		if (!placed && !cont && !is_comment(p, lend) &&
		    word_is(skip_ws(p, lend), lend, "begin", &after)) {
			mc_buf_add(&b, FREEZE_BLOCK, strlen(FREEZE_BLOCK));
			placed = true;
		}
		if (!placed && !cont && !is_comment(p, lend))
			commenting = option_defined(p, lend) != NULL;
		if (!placed && commenting && !is_comment(p, lend))
			mc_buf_add(&b, "#", 1);
		mc_buf_add(&b, p, (size_t)(le - p));
		if (!is_comment(p, lend))
			cont = continued(p, lend);
		p = le;
	}
	if (!placed) {
		if (b.len > 0 && b.s[b.len - 1] != '\n')
			mc_buf_add(&b, "\n", 1);
		mc_buf_add(&b, FREEZE_BLOCK, strlen(FREEZE_BLOCK));
	}
	*len_r = b.len;
	return b.s;
}

/* ------------------------------------------------------------------ */
/* The configuration file and the record                               */
/* ------------------------------------------------------------------ */

static void conf_close(struct conf *c)
{
	free(c->path);
	free(c->dir);
	free(c->name);
	if (c->dfd >= 0)
		close(c->dfd);
	memset(c, 0, sizeof(*c));
	c->dfd = -1;
}

static int conf_open(const struct mc_exim *ex, struct conf *c, char **error_r)
{
	const char *path = ex->config != NULL ? ex->config : ex->config_file;
	const char *slash;
	struct stat st;

	memset(c, 0, sizeof(*c));
	c->dfd = -1;
	if (path == NULL || path[0] != '/' || (slash = strrchr(path, '/'))[1] == '\0')
		return mc_error_set(error_r, "which configuration file does Exim read? "
				    "(exim -bV names none, or not an absolute path)");
	c->path = mc_xstrdup(path);
	c->dir = mc_xstrndup(path, slash > path ? (size_t)(slash - path) : 1);
	c->name = mc_xstrdup(slash + 1);
	c->dfd = mc_open_dir_path(c->dir, NULL, error_r);
	if (c->dfd < 0)
		goto fail;
	if (fstatat(c->dfd, c->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		mc_error_errno(error_r, "%s", c->path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		mc_error_set(error_r, "%s is %s: freeze and thaw would replace it "
			     "with a file; refused", c->path, S_ISLNK(st.st_mode) ?
			     "a symbolic link" : "not a regular file");
		goto fail;
	}
	return 0;
fail:
	conf_close(c);
	return -1;
}

static int record_write(int sfd, const char *spath, const char *config,
			const struct freeze_record *fr, char **error_r)
{
	char *text = mc_xasprintf("phase=%s\nconfig_file=%s\nfrozen_at=%lld\n"
				  "config_sha256=%s\nconfig_owner=%lu:%lu\n"
				  "config_mode=%04o\nfrozen_sha256=%s\n",
				  fr->phase, config, (long long)fr->frozen_at, fr->sha,
				  (unsigned long)fr->uid, (unsigned long)fr->gid,
				  (unsigned)(fr->mode & 07777), fr->frozen_sha);
	int ret = mc_file_write_atomic(sfd, spath, "state", text, strlen(text), 0600,
				       0, 0, error_r);
	free(text);
	return ret;
}

/* 1 with *fr filled, 0 when there is no record, -1 on error. */
static int record_read(int sfd, const char *spath, struct freeze_record *fr,
		       char **error_r)
{
	unsigned char *buf;
	size_t len;
	struct stat st;
	char *err = NULL;

	memset(fr, 0, sizeof(*fr));
	if (fstatat(sfd, "state", &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		return 0;
	if (mc_file_read_whole(sfd, "state", &buf, &len, &st, &err) < 0) {
		mc_error_set(error_r, "%s/%s", spath, err);
		free(err);
		return -1;
	}
	for (char *line = (char *)buf; line != NULL && *line != '\0';) {
		char *nl = strchr(line, '\n'), *v;
		unsigned long a, b;
		unsigned m;

		if (nl != NULL)
			*nl = '\0';
		v = strchr(line, '=');
		if (v != NULL) {
			*v++ = '\0';
			if (strcmp(line, "phase") == 0)
				fr->phase = mc_xstrdup(v);
			else if (strcmp(line, "frozen_at") == 0)
				fr->frozen_at = (time_t)strtoll(v, NULL, 10);
			else if (strcmp(line, "config_sha256") == 0)
				fr->sha = mc_xstrdup(v);
			else if (strcmp(line, "frozen_sha256") == 0)
				fr->frozen_sha = mc_xstrdup(v);
			else if (strcmp(line, "config_owner") == 0 &&
				 sscanf(v, "%lu:%lu", &a, &b) == 2)
				fr->uid = (uid_t)a, fr->gid = (gid_t)b;
			else if (strcmp(line, "config_mode") == 0 && sscanf(v, "%o", &m) == 1)
				fr->mode = (mode_t)m;
		}
		line = nl != NULL ? nl + 1 : NULL;
	}
	free(buf);
	if (fr->phase == NULL || fr->sha == NULL || fr->frozen_sha == NULL) {
		record_clear(fr);
		return mc_error_set(error_r, "%s/state: incomplete freeze record", spath);
	}
	return 1;
}

/* The record goes, the saved copy last: until then, thaw can run
   again. */
static void record_remove(int sfd, const char *spath, char **note_r)
{
	(void)unlinkat(sfd, "state", 0);
	(void)unlinkat(sfd, "config", 0);
	(void)unlinkat(sfd, "lock", 0);
	(void)mc_fsync_dir(sfd);
	if (rmdir(spath) < 0 && errno != ENOTEMPTY && errno != EEXIST)
		mc_note_add(note_r, "%s: %s", spath, strerror(errno));
}

/* Release what freeze and thaw hold: the record, the descriptors of
   the state directory and its lock, the configuration file's. */
static void state_end(struct freeze_record *fr, int sfd, int lfd, char *spath,
		      struct conf *c)
{
	record_clear(fr);
	if (sfd >= 0)
		close(sfd);
	if (lfd >= 0)
		close(lfd);
	free(spath);
	conf_close(c);
}

static int state_open(const struct conf *c, const char *state_dir, bool create,
		      char **spath_r, int *lockfd_r, char **error_r)
{
	return mc_state_open(mc_state_path(state_dir, "exim-freeze", c->path), create,
			     spath_r, lockfd_r, error_r);
}

/* ------------------------------------------------------------------ */
/* The daemon                                                          */
/* ------------------------------------------------------------------ */

/* Whether PID runs the Exim binary of EX (its executable, else its
   name); *what_r says what it runs otherwise. */
static bool pid_is_exim(const struct mc_exim *ex, pid_t pid, char **what_r)
{
	char link[64], exe[4096], real[4096], comm[64] = "";
	ssize_t n;
	FILE *f;

	snprintf(link, sizeof(link), "/proc/%ld/exe", (long)pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if (realpath(ex->exim, real) != NULL &&
		    strncmp(exe, real, strlen(real)) == 0 &&
		    (exe[strlen(real)] == '\0' || strcmp(exe + strlen(real), " (deleted)") == 0))
			return true;
	}
	snprintf(link, sizeof(link), "/proc/%ld/comm", (long)pid);
	f = fopen(link, "re");
	if (f != NULL) {
		if (fgets(comm, sizeof(comm), f) == NULL)
			comm[0] = '\0';
		fclose(f);
	}
	comm[strcspn(comm, "\n")] = '\0';
	*what_r = mc_text_visible(n > 0 ? exe : comm);
	return false;
}

/* The sockets PID has open (/proc/PID/fd links "socket:[INODE]"), up
   to MAX; their count. */
static size_t socket_inodes(pid_t pid, unsigned long *set, size_t max)
{
	char path[64], link[64];
	DIR *dir;
	struct dirent *de;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	dir = opendir(path);
	while (dir != NULL && n < max && (de = readdir(dir)) != NULL) {
		ssize_t len = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%lu]", &set[n]) == 1)
			n++;
	}
	if (dir != NULL)
		closedir(dir);
	return n;
}

/* SIGHUP to the daemon, when it runs: it closes its listening
   sockets and runs itself again, reading the configuration anew; it
   is back when it has opened new ones (one daemon, one re-run: a
   SIGHUP more while it re-runs only makes it run itself once more). 1 when signalled, 0 when not
   running, -1 with *error_r. */
static int hup_daemon(const struct mc_exim *ex, char **note_r, char **error_r)
{
	pid_t pid = mc_exim_daemon_pid(ex);
	unsigned long before[64], now[64];
	size_t nbefore, nnow;
	char *what = NULL;

	if (pid == 0)
		return 0;
	if (!pid_is_exim(ex, pid, &what)) {
		mc_error_set(error_r, "%s names process %ld, which is not Exim (%s): "
			     "not signalled", ex->pid_file, (long)pid,
			     what != NULL ? what : "?");
		free(what);
		return -1;
	}
	nbefore = socket_inodes(pid, before, 64);
	if (kill(pid, SIGHUP) < 0)
		return mc_error_errno(error_r, "SIGHUP to the Exim daemon (pid %ld)", (long)pid);
	for (unsigned waited = 0; nbefore > 0 && waited < HUP_WAIT_MS; waited += 50) {
		mc_sleep_ms(50);
		/* A SIGHUP that comes while the daemon is still starting
		   is seen only when it next wakes (a connection, a queue
		   run): another one wakes it. */
		if (waited % HUP_REPEAT_MS == HUP_REPEAT_MS - 50)
			(void)kill(pid, SIGHUP);
		nnow = socket_inodes(pid, now, 64);
		for (size_t i = 0; i < nnow; i++) {
			bool old = false;
			for (size_t k = 0; k < nbefore && !old; k++)
				old = now[i] == before[k];
			if (!old)
				return 1;
		}
	}
	if (nbefore > 0)
		mc_note_add(note_r, "the Exim daemon (pid %ld) was sent SIGHUP but has not "
			 "opened its sockets again within %u seconds", (long)pid,
			 HUP_WAIT_MS / 1000);
	return 1;
}

/* ------------------------------------------------------------------ */
/* Freeze and thaw                                                     */
/* ------------------------------------------------------------------ */

int mc_exim_freeze_state(const struct mc_exim *ex, const char *state_dir,
			 bool *frozen_r, bool *recorded_r, time_t *frozen_at_r,
			 char **error_r)
{
	struct freeze_record fr;
	struct conf c;
	char *spath = NULL;
	int sfd, lfd = -1;

	*recorded_r = false;
	*frozen_at_r = 0;
	if (mc_exim_config_frozen(ex, frozen_r, error_r) < 0)
		return -1;
	if (conf_open(ex, &c, NULL) < 0)
		return 0;
	sfd = state_dir != NULL ? state_open(&c, state_dir, false, &spath, &lfd, NULL) : -1;
	memset(&fr, 0, sizeof(fr));
	if (sfd >= 0 && record_read(sfd, spath, &fr, NULL) > 0) {
		*recorded_r = true;
		*frozen_at_r = fr.frozen_at;
	}
	state_end(&fr, sfd, lfd, spath, &c);
	return 0;
}

/* Write the frozen configuration FROZEN and check it with exim -bP;
   when Exim does not read it as frozen, the original goes back. */
static int write_frozen(const struct mc_exim *ex, const struct conf *c, int sfd,
			const char *spath, const struct freeze_record *fr,
			const char *frozen, size_t frozen_len, char **error_r)
{
	char *err = NULL;
	bool ok = false;

	if (mc_file_write_atomic(c->dfd, c->dir, c->name, frozen, frozen_len, fr->mode,
				 fr->uid, fr->gid, error_r) < 0)
		return -1;
	if (mc_exim_config_frozen(ex, &ok, &err) == 0 && !ok)
		err = mc_xstrdup("exim -bP does not show queue_only and hold_domains = *");
	if (ok)
		return 0;
	if (mc_state_restore_file(c->dfd, c->dir, c->name, sfd, spath, "config", fr->sha,
				  fr->mode, fr->uid, fr->gid, NULL) < 0)
		mc_error_set(error_r, "the frozen %s does not work (%s), and the saved "
			     "copy %s/config could not be put back", c->path, err, spath);
	else
		mc_error_set(error_r, "the frozen %s does not work (%s); it is restored "
			     "as it was", c->path, err);
	free(err);
	return -1;
}

/* The first freeze: check, save, record. *frozen_r gets the text. */
static int freeze_prepare(const struct conf *c, int sfd,
			  const char *spath, struct freeze_record *fr,
			  char **frozen_r, size_t *frozen_len_r, char **error_r)
{
	unsigned char *orig;
	size_t len;
	struct stat st;
	char hex[65];
	int ret = -1;

	if (mc_file_read_whole(c->dfd, c->name, &orig, &len, &st, error_r) < 0)
		return -1;
	if (mc_exim_freeze_check((const char *)orig, len, c->path, error_r) < 0)
		goto out;
	*frozen_r = mc_exim_freeze_text((const char *)orig, len, frozen_len_r);
	if (mc_file_write_atomic(sfd, spath, "config", orig, len, 0600, 0, 0, error_r) < 0)
		goto out;
	fr->phase = mc_xstrdup("saved");
	fr->frozen_at = time(NULL);
	mc_sha_hex(orig, len, hex);
	fr->sha = mc_xstrdup(hex);
	mc_sha_hex(*frozen_r, *frozen_len_r, hex);
	fr->frozen_sha = mc_xstrdup(hex);
	fr->mode = st.st_mode;
	fr->uid = st.st_uid;
	fr->gid = st.st_gid;
	ret = record_write(sfd, spath, c->path, fr, error_r);
out:
	free(orig);
	return ret;
}

/* The frozen text again, from the saved copy (a freeze interrupted
   after the record was written). */
static char *frozen_from_saved(int sfd, const char *spath, size_t *len_r, char **error_r)
{
	unsigned char *orig;
	size_t len;
	struct stat st;
	char *text;

	if (mc_file_read_whole(sfd, "config", &orig, &len, &st, error_r) < 0) {
		mc_error_set(error_r, "%s/config: the saved copy is missing", spath);
		return NULL;
	}
	text = mc_exim_freeze_text((const char *)orig, len, len_r);
	free(orig);
	return text;
}

static int freeze_dry_run(const struct mc_exim *ex, const struct conf *c,
			  char **note_r, char **error_r)
{
	bool frozen;
	unsigned char *orig;
	size_t len;
	struct stat st;
	int ret;

	if (mc_exim_config_frozen(ex, &frozen, error_r) < 0)
		return -1;
	if (frozen) {
		mc_note_add(note_r, "queue_only and hold_domains = * are set already");
		return 0;
	}
	if (mc_file_read_whole(c->dfd, c->name, &orig, &len, &st, error_r) < 0)
		return -1;
	ret = mc_exim_freeze_check((const char *)orig, len, c->path, error_r);
	free(orig);
	if (ret < 0)
		return -1;
	mc_note_add(note_r, "would save %s, set queue_only = true and hold_domains = * in "
		 "its main section%s", c->path, mc_exim_daemon_pid(ex) != 0 ?
		 " and send SIGHUP to the Exim daemon" : "");
	return 1;
}

int mc_exim_freeze(const struct mc_exim *ex, const char *state_dir,
		   bool dry_run, char **note_r, char **error_r)
{
	struct freeze_record fr;
	struct conf c;
	char *spath = NULL, *frozen = NULL;
	size_t frozen_len = 0;
	int sfd = -1, lfd = -1, ret = -1, have;
	bool already;

	memset(&fr, 0, sizeof(fr));
	if (conf_open(ex, &c, error_r) < 0)
		return -1;
	if (dry_run) {
		ret = freeze_dry_run(ex, &c, note_r, error_r);
		conf_close(&c);
		return ret;
	}
	sfd = state_open(&c, state_dir, true, &spath, &lfd, error_r);
	if (sfd < 0)
		goto out;
	have = record_read(sfd, spath, &fr, error_r);
	if (have < 0)
		goto out;
	if (have > 0 && strcmp(fr.phase, "saved") != 0 &&
	    !mc_file_sha_is(c.dfd, c.name, fr.frozen_sha)) {
		mc_error_set(error_r, "the freeze of %s recorded in %s is undone: the "
			     "file changed since (regenerated by update-exim4.conf, or "
			     "edited). Run 'mailcure queue thaw' (with --force to restore "
			     "the saved copy anyway) before freezing again", c.path, spath);
		goto out;
	}
	if (have > 0 && strcmp(fr.phase, "frozen") == 0) {
		char when[64];
		struct tm tm;
		gmtime_r(&fr.frozen_at, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
		mc_note_add(note_r, "already frozen since %s", when);
		ret = 0;
		goto out;
	}
	if (have == 0) {
		if (mc_exim_config_frozen(ex, &already, error_r) < 0)
			goto out;
		if (already) {
			mc_note_add(note_r, "queue_only and hold_domains = * are set already "
				 "(not by mailcure): nothing changed");
			record_remove(sfd, spath, NULL);
			ret = 0;
			goto out;
		}
		if (freeze_prepare(&c, sfd, spath, &fr, &frozen, &frozen_len, error_r) < 0) {
			record_remove(sfd, spath, NULL);
			goto out;
		}
	}
	if (strcmp(fr.phase, "saved") == 0) {
		if (frozen == NULL &&
		    (frozen = frozen_from_saved(sfd, spath, &frozen_len, error_r)) == NULL)
			goto out;
		if (!mc_file_sha_is(c.dfd, c.name, fr.sha) &&
		    !mc_file_sha_is(c.dfd, c.name, fr.frozen_sha)) {
			mc_error_set(error_r, "%s changed since mailcure saved it in %s: "
				     "run 'mailcure queue thaw'", c.path, spath);
			goto out;
		}
		if (write_frozen(ex, &c, sfd, spath, &fr, frozen, frozen_len, error_r) < 0) {
			record_remove(sfd, spath, NULL);
			goto out;
		}
		free(fr.phase);
		fr.phase = mc_xstrdup("written");
		if (record_write(sfd, spath, c.path, &fr, error_r) < 0)
			goto out;
	}
	/* "written": the daemon may still run with the old configuration. */
	ret = hup_daemon(ex, note_r, error_r);
	if (ret < 0)
		goto out;
	if (ret == 0)
		mc_note_add(note_r, "Exim is not running: it will start frozen");
	free(fr.phase);
	fr.phase = mc_xstrdup("frozen");
	ret = record_write(sfd, spath, c.path, &fr, error_r) < 0 ? -1 : 1;
out:
	free(frozen);
	state_end(&fr, sfd, lfd, spath, &c);
	return ret;
}

/* Start a queue run, now that delivery is allowed again. */
static void queue_run(const struct mc_exim *ex, char **note_r)
{
	static const char *const q[] = { "-q", NULL };
	char *err = NULL;

	if (mc_exim_run(ex, q, NULL, 0, NULL, &err) < 0) {
		mc_note_add(note_r, "queue run: %s", err);
		free(err);
	}
}

static int thaw_unrecorded(const struct mc_exim *ex, char **note_r, char **error_r)
{
	bool frozen;

	if (mc_exim_config_frozen(ex, &frozen, error_r) < 0)
		return -1;
	mc_note_add(note_r, frozen ? "queue_only and hold_domains = * are set, but not "
		 "by mailcure (no freeze record): nothing changed" : "the queue is not frozen");
	return 0;
}

int mc_exim_thaw(const struct mc_exim *ex, const char *state_dir,
		 bool force, bool dry_run, char **note_r, char **error_r)
{
	struct freeze_record fr;
	struct conf c;
	char *spath = NULL;
	int sfd, lfd = -1, ret = -1, have;

	memset(&fr, 0, sizeof(fr));
	if (conf_open(ex, &c, error_r) < 0)
		return -1;
	sfd = state_open(&c, state_dir, false, &spath, &lfd, error_r);
	if (sfd == -2) {
		ret = thaw_unrecorded(ex, note_r, error_r);
		goto out;
	}
	if (sfd < 0)
		goto out;
	have = record_read(sfd, spath, &fr, error_r);
	if (have <= 0) {
		ret = have == 0 ? thaw_unrecorded(ex, note_r, error_r) : -1;
		goto out;
	}
	/* A change made while frozen would be undone by the restore:
	   only with --force. */
	if (!mc_file_sha_is(c.dfd, c.name, fr.frozen_sha) &&
	    !mc_file_sha_is(c.dfd, c.name, fr.sha) && !force) {
		mc_error_set(error_r, "%s changed while the queue was frozen "
			     "(regenerated by update-exim4.conf, or edited); thaw would "
			     "undo that change. Compare with the saved copy %s/config, "
			     "then run 'mailcure queue thaw --force'", c.path, spath);
		goto out;
	}
	if (dry_run) {
		mc_note_add(note_r, "would restore %s from %s/config%s", c.path, spath,
			 mc_exim_daemon_pid(ex) != 0 ?
			 ", send SIGHUP to the Exim daemon and start a queue run" : "");
		ret = 1;
		goto out;
	}
	if (mc_state_restore_file(c.dfd, c.dir, c.name, sfd, spath, "config", fr.sha,
				  fr.mode, fr.uid, fr.gid, error_r) < 0)
		goto out;
	ret = hup_daemon(ex, note_r, error_r);
	if (ret < 0)
		goto out;
	if (ret == 0)
		mc_note_add(note_r, "Exim is not running: queued mail is delivered when it "
			 "starts");
	else
		queue_run(ex, note_r);
	record_remove(sfd, spath, note_r);
	ret = 1;
out:
	state_end(&fr, sfd, lfd, spath, &c);
	return ret;
}
