/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	postfix_ctl 3
/* SUMMARY
/*	drive a Postfix instance: commands, processes, queue status
/* SYNOPSIS
/*	#include "postfix_ctl.h"
/* DESCRIPTION
/*	See postfix_ctl.h. This file runs Postfix's commands, finds the
/*	instance, its processes and master.cf services, counts the
/*	queues, and removes, holds or re-injects messages. Freeze and
/*	thaw are in postfix_freeze.c, their record in postfix_state.c;
/*	postfix_private.h is what the three share.
/* DIAGNOSTICS
/*	Every function returns -1 with a reason that names the command or
/*	file involved, and Postfix's own message when there is one.
/* SECURITY
/*	Runs as root. Commands are run by mc_exec_run() (lib/exec.c):
/*	execve() of argument vectors (never a shell), a fixed
/*	environment with MAIL_CONFIG for an instance given by its
/*	directory, and a time limit of 300 seconds.
/*	The queue is only read here; changes go through postsuper.
/*--*/

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "mailcure/exec.h"
#include "internal.h"
#include "postfix_ctl.h"
#include "postfix_private.h"

const char *const mc_postfix_queues[MC_POSTFIX_QUEUE_COUNT] = {
	"incoming", "active", "deferred", "hold", "maildrop",
};

/* Time limits of commands, in seconds. */
#define CMD_TIMEOUT 300

static const char *const postconf_candidates[] = {
	"/usr/sbin/postconf", "/usr/local/sbin/postconf", "/sbin/postconf",
	"/usr/bin/postconf", "/usr/local/bin/postconf",
};

/* ------------------------------------------------------------------ */
/* Running commands                                                    */
/* ------------------------------------------------------------------ */

/* Run ARGV (lib/exec.c), the instance named by MAIL_CONFIG. */
static int postfix_run(const struct mc_postfix *pf, const char *const *argv,
		       const void *input, size_t input_len,
		       struct mc_exec_result *r, char **error_r)
{
	char *mail_config = NULL;
	const char *env[2] = { NULL, NULL };
	struct mc_exec spec = {
		.argv = argv, .env = env, .timeout_s = CMD_TIMEOUT,
		.input = input, .input_size = input_len,
	};
	int ret;

	if (pf != NULL && pf->config_given) {
		mail_config = mc_xasprintf("MAIL_CONFIG=%s", pf->config_dir);
		env[0] = mail_config;
	}
	ret = mc_exec_run(&spec, r, error_r);
	free(mail_config);
	return ret;
}

/* The last line of a command's stderr (else stdout), for error
   messages, neutralised. */
static char *cmd_reason(const struct mc_exec_result *r)
{
	const char *s = r->err[0] != '\0' ? r->err : r->out;
	size_t len = strlen(s);
	char *line;

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	const char *start = s + len;
	while (start > s && start[-1] != '\n')
		start--;
	line = mc_exec_text(start, (size_t)(s + len - start));
	return line != NULL ? line : mc_xasprintf("exit status %d", r->status);
}

/* Start the argument vector of a Postfix command: PROGRAM, then
   "-c DIR" for an instance given by --postfix-config. Returns the
   number of arguments set. */
size_t mc_postfix_argv_start(const struct mc_postfix *pf, const char *program,
			     const char **argv)
{
	size_t argc = 0;

	argv[argc++] = program;
	if (pf->config_given) {
		argv[argc++] = "-c";
		argv[argc++] = pf->config_dir;
	}
	return argc;
}

/* Run a command that must succeed (exit 0); *r_r (may be NULL) gets
   what it wrote. */
int mc_postfix_run_ok(const struct mc_postfix *pf, const char *const *argv,
		      const void *input, size_t input_len,
		      struct mc_exec_result *r_r, char **error_r)
{
	struct mc_exec_result r;

	if (postfix_run(pf, argv, input, input_len, &r, error_r) < 0) {
		mc_exec_result_clear(&r);
		return -1;
	}
	if (r.status != 0) {
		char *why = cmd_reason(&r);
		mc_error_set(error_r, "%s failed: %s", argv[0], why);
		free(why);
		mc_exec_result_clear(&r);
		return -1;
	}
	if (r_r != NULL)
		*r_r = r;
	else
		mc_exec_result_clear(&r);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The instance                                                        */
/* ------------------------------------------------------------------ */

static char *find_postconf(void)
{
	for (size_t i = 0; i < sizeof(postconf_candidates) / sizeof(postconf_candidates[0]); i++) {
		if (access(postconf_candidates[i], X_OK) == 0)
			return mc_xstrdup(postconf_candidates[i]);
	}
	return NULL;
}

/* postconf [-c DIR] -h NAME... : one value per line, in order. */
static int postconf_values(const struct mc_postfix *pf, const char *const *names,
			   size_t count, char **values_r, char **error_r)
{
	const char *argv[16];
	size_t argc = 0;
	struct mc_exec_result cmd;

	argc = mc_postfix_argv_start(pf, pf->postconf, argv);
	argv[argc++] = "-h";
	for (size_t i = 0; i < count && argc < 15; i++)
		argv[argc++] = names[i];
	argv[argc] = NULL;
	if (mc_postfix_run_ok(pf, argv, NULL, 0, &cmd, error_r) < 0)
		return -1;
	char *p = cmd.out;
	for (size_t i = 0; i < count; i++) {
		char *nl = strchr(p, '\n');
		if (nl == NULL) {
			for (size_t j = 0; j < i; j++)
				free(values_r[j]);
			mc_exec_result_clear(&cmd);
			return mc_error_set(error_r, "postconf: no value for %s", names[i]);
		}
		values_r[i] = mc_xstrndup(p, (size_t)(nl - p));
		p = nl + 1;
	}
	mc_exec_result_clear(&cmd);
	return 0;
}

/* The configuration directory of Postfix's commands without -c: the
   compiled-in default, as they run here with no MAIL_CONFIG. NULL
   when postconf cannot tell. */
static char *default_config_dir(const char *postconf)
{
	const char *argv[] = { postconf, "-d", "-h", "config_directory", NULL };
	struct mc_exec_result cmd;
	char *dir = NULL;

	if (mc_postfix_run_ok(NULL, argv, NULL, 0, &cmd, NULL) == 0) {
		cmd.out[strcspn(cmd.out, "\n")] = '\0';
		if (cmd.out[0] == '/')
			dir = mc_xstrdup(cmd.out);
		mc_exec_result_clear(&cmd);
	}
	return dir;
}

bool mc_postfix_configured(const char *config_dir, char **why_r)
{
	char *postconf = find_postconf(), *dir, *main_cf;
	struct stat st;
	bool configured = true;

	*why_r = NULL;
	if (postconf == NULL) {
		*why_r = mc_xstrdup("Postfix is not installed (no postconf)");
		return false;
	}
	/* A directory that is not there at all is a mistake in
	   --postfix-config, which the queue commands report. */
	if (config_dir != NULL && config_dir[0] != '\0')
		dir = stat(config_dir, &st) == 0 ? mc_xstrdup(config_dir) : NULL;
	else
		dir = default_config_dir(postconf);
	if (dir != NULL) {
		main_cf = mc_xasprintf("%s/main.cf", dir);
		if (lstat(main_cf, &st) < 0 && errno == ENOENT) {
			*why_r = mc_xasprintf("Postfix is installed but not configured "
					      "(no %s): no mail queue is in use", main_cf);
			configured = false;
		}
		free(main_cf);
	}
	free(dir);
	free(postconf);
	return configured;
}

int mc_postfix_open(const char *config_dir, struct mc_postfix **pf_r,
		    char **error_r)
{
	static const char *const names[] = {
		"config_directory", "queue_directory", "command_directory",
		"sendmail_path", "mail_version",
	};
	char *values[5];
	struct mc_postfix *pf = mc_xcalloc(1, sizeof(*pf));
	struct stat st;

	pf->postconf = find_postconf();
	if (pf->postconf == NULL) {
		mc_postfix_free(&pf);
		return mc_error_set(error_r, "Postfix is not installed (no postconf "
				    "in /usr/sbin, /usr/local/sbin, /sbin or /usr/bin)");
	}
	if (config_dir != NULL && config_dir[0] != '\0') {
		if (config_dir[0] != '/') {
			mc_postfix_free(&pf);
			return mc_error_set(error_r, "%s: the Postfix configuration "
					    "directory must be an absolute path", config_dir);
		}
		if (stat(config_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			mc_error_errno(error_r, "Postfix configuration directory %s",
				       config_dir);
			mc_postfix_free(&pf);
			return -1;
		}
		pf->config_dir = mc_xstrdup(config_dir);
		pf->config_given = true;
	}
	char *why;
	if (!mc_postfix_configured(config_dir, &why)) {
		mc_error_set(error_r, "%s", why);
		free(why);
		mc_postfix_free(&pf);
		return -1;
	}
	if (postconf_values(pf, names, 5, values, error_r) < 0) {
		mc_postfix_free(&pf);
		return -1;
	}
	if (!pf->config_given)
		pf->config_dir = values[0];
	else
		free(values[0]);
	pf->queue_dir = values[1];
	pf->command_dir = values[2];
	pf->sendmail_path = values[3];
	pf->mail_version = values[4];
	if (pf->queue_dir[0] != '/' || pf->command_dir[0] != '/' ||
	    pf->sendmail_path[0] != '/') {
		mc_error_set(error_r, "%s/main.cf: queue_directory, command_directory "
			     "and sendmail_path must be absolute paths", pf->config_dir);
		mc_postfix_free(&pf);
		return -1;
	}
	*pf_r = pf;
	return 0;
}

void mc_postfix_free(struct mc_postfix **_pf)
{
	struct mc_postfix *pf = *_pf;

	if (pf == NULL)
		return;
	free(pf->config_dir);
	free(pf->queue_dir);
	free(pf->command_dir);
	free(pf->sendmail_path);
	free(pf->mail_version);
	free(pf->postconf);
	free(pf);
	*_pf = NULL;
}

char *mc_postfix_command_path(const struct mc_postfix *pf, const char *name)
{
	return mc_xasprintf("%s/%s", pf->command_dir, name);
}

bool mc_postfix_queue_id_ok(const char *id)
{
	size_t n = 0;

	for (; id[n] != '\0'; n++) {
		if (!isalnum((unsigned char)id[n]))
			return false;
	}
	return n > 0 && n <= 64;
}

/* ------------------------------------------------------------------ */
/* Processes                                                           */
/* ------------------------------------------------------------------ */

/* Read a small file into BUF; returns the length or -1. */
static ssize_t read_small(int dirfd, const char *path, char *buf, size_t size)
{
	int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* Name (comm) and parent of process PID. */
static bool proc_info(pid_t pid, char *comm, size_t comm_size, pid_t *ppid_r)
{
	char path[64], buf[1024];
	char *open_paren, *close_paren;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (read_small(AT_FDCWD, path, buf, sizeof(buf)) <= 0)
		return false;
	/* "pid (comm) state ppid ...": comm may itself hold ')'. */
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (open_paren == NULL || close_paren == NULL || close_paren < open_paren)
		return false;
	snprintf(comm, comm_size, "%.*s", (int)(close_paren - open_paren - 1),
		 open_paren + 1);
	char state;
	long ppid;
	if (sscanf(close_paren + 1, " %c %ld", &state, &ppid) != 2)
		return false;
	*ppid_r = (pid_t)ppid;
	return true;
}

pid_t mc_postfix_master_pid(const struct mc_postfix *pf)
{
	char *path = mc_xasprintf("%s/pid/master.pid", pf->queue_dir);
	char buf[64], comm[64];
	ssize_t n = read_small(AT_FDCWD, path, buf, sizeof(buf));
	long pid;
	pid_t ppid;

	free(path);
	if (n <= 0)
		return 0;
	pid = strtol(buf, NULL, 10);
	if (pid <= 1)
		return 0;
	/* A stale pid file may name an unrelated process. */
	if (!proc_info((pid_t)pid, comm, sizeof(comm), &ppid) ||
	    strcmp(comm, "master") != 0)
		return 0;
	return (pid_t)pid;
}

/* Children of the master process (Postfix daemons). */
static size_t master_children(pid_t master, pid_t **pids_r, char ***comms_r)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	pid_t *pids = NULL;
	char **comms = NULL;
	size_t count = 0, cap = 0, ccap = 0, ccount = 0;

	if (dir == NULL) {
		*pids_r = NULL;
		if (comms_r != NULL)
			*comms_r = NULL;
		return 0;
	}
	while ((de = readdir(dir)) != NULL) {
		char comm[64];
		pid_t ppid;
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end != '\0' || pid <= 0)
			continue;
		if (!proc_info((pid_t)pid, comm, sizeof(comm), &ppid) || ppid != master)
			continue;
		MC_ARRAY_PUSH(pids, count, cap, (pid_t)pid);
		if (comms_r != NULL)
			MC_ARRAY_PUSH(comms, ccount, ccap, mc_xstrdup(comm));
	}
	closedir(dir);
	*pids_r = pids;
	if (comms_r != NULL)
		*comms_r = comms;
	return count;
}

static bool is_qmgr_name(const char *name)
{
	return strcmp(name, "qmgr") == 0 || strcmp(name, "nqmgr") == 0 ||
		strcmp(name, "oqmgr") == 0;
}

/* Pid of a running queue manager of this instance, or 0. */
pid_t mc_postfix_qmgr_pid(pid_t master)
{
	pid_t *pids, found = 0;
	char **comms;
	size_t n = master_children(master, &pids, &comms);

	for (size_t i = 0; i < n; i++) {
		if (found == 0 && is_qmgr_name(comms[i]))
			found = pids[i];
		free(comms[i]);
	}
	free(pids);
	free(comms);
	return found;
}

void mc_postfix_open_files(const struct mc_postfix *pf,
			   struct mc_postfix_open_files *files_r)
{
	pid_t master = mc_postfix_master_pid(pf);
	pid_t *pids;
	size_t n;

	memset(files_r, 0, sizeof(*files_r));
	if (master == 0)
		return;
	n = master_children(master, &pids, NULL);
	for (size_t i = 0; i < n; i++) {
		char path[64];
		DIR *dir;
		struct dirent *de;

		snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pids[i]);
		dir = opendir(path);
		if (dir == NULL)
			continue;
		while ((de = readdir(dir)) != NULL) {
			struct stat st;
			struct mc_postfix_open_file f;

			if (de->d_name[0] == '.')
				continue;
			/* stat() through the /proc link: the open file itself,
			   wherever (chroot) the process sees it. */
			if (fstatat(dirfd(dir), de->d_name, &st, 0) < 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			f.dev = st.st_dev;
			f.ino = st.st_ino;
			MC_ARRAY_PUSH(files_r->files, files_r->count, files_r->cap, f);
		}
		closedir(dir);
	}
	free(pids);
}

bool mc_postfix_file_open(const struct mc_postfix_open_files *files,
			  dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < files->count; i++) {
		if (files->files[i].dev == dev && files->files[i].ino == ino)
			return true;
	}
	return false;
}

void mc_postfix_open_files_clear(struct mc_postfix_open_files *files)
{
	free(files->files);
	memset(files, 0, sizeof(*files));
}

/* ------------------------------------------------------------------ */
/* master.cf services                                                  */
/* ------------------------------------------------------------------ */

/* "name/type" of every enabled master.cf service that runs a queue
   manager. */
int mc_postfix_qmgr_services(const struct mc_postfix *pf, char ***services_r,
			     size_t *count_r, char **error_r)
{
	const char *argv[6];
	size_t argc = 0, count = 0, cap = 0;
	char **services = NULL;
	struct mc_exec_result cmd;

	argc = mc_postfix_argv_start(pf, pf->postconf, argv);
	argv[argc++] = "-M";
	argv[argc] = NULL;
	if (mc_postfix_run_ok(pf, argv, NULL, 0, &cmd, error_r) < 0)
		return -1;
	/* One service per line: name type private unpriv chroot wakeup
	   maxproc command [args]. */
	for (char *line = cmd.out; line != NULL && *line != '\0';) {
		char *nl = strchr(line, '\n');
		char *fields[8];
		size_t nf = 0;

		if (nl != NULL)
			*nl = '\0';
		for (char *save = NULL, *tok = strtok_r(line, " \t", &save);
		     tok != NULL && nf < 8; tok = strtok_r(NULL, " \t", &save))
			fields[nf++] = tok;
		if (nf == 8 && is_qmgr_name(fields[7]))
			MC_ARRAY_PUSH(services, count, cap,
				      mc_xasprintf("%s/%s", fields[0], fields[1]));
		line = nl != NULL ? nl + 1 : NULL;
	}
	mc_exec_result_clear(&cmd);
	*services_r = services;
	*count_r = count;
	return 0;
}

void mc_postfix_strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int mc_postfix_is_frozen(const struct mc_postfix *pf, bool *frozen_r,
			 char **error_r)
{
	char **services;
	size_t count;
	pid_t master;

	if (mc_postfix_qmgr_services(pf, &services, &count, error_r) < 0)
		return -1;
	mc_postfix_strings_free(services, count);
	master = mc_postfix_master_pid(pf);
	*frozen_r = count == 0 && (master == 0 || mc_postfix_qmgr_pid(master) == 0);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Queue status                                                        */
/* ------------------------------------------------------------------ */

static void count_dir(int dirfd, unsigned depth, struct mc_postfix_status *st,
		      unsigned queue)
{
	DIR *dir = mc_dir_list(dirfd);
	struct dirent *de;

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		struct stat sb;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(sb.st_mode) && strlen(de->d_name) == 1 && depth < 4) {
			int sub = mc_safe_open_dir(dirfd, de->d_name, NULL, NULL);
			if (sub >= 0) {
				count_dir(sub, depth + 1, st, queue);
				close(sub);
			}
			continue;
		}
		if (!S_ISREG(sb.st_mode) || !mc_postfix_queue_id_ok(de->d_name))
			continue;
		/* Postfix marks a finished queue file with mode 0700. */
		if ((sb.st_mode & S_IRWXU) != S_IRWXU) {
			st->incomplete++;
			continue;
		}
		st->messages[queue]++;
		st->bytes[queue] += (uint64_t)sb.st_size;
	}
	closedir(dir);
}

int mc_postfix_status(const struct mc_postfix *pf, const char *state_dir,
		      struct mc_postfix_status *status_r, char **error_r)
{
	int qfd;

	memset(status_r, 0, sizeof(*status_r));
	qfd = mc_open_dir_path(pf->queue_dir, NULL, error_r);
	if (qfd < 0)
		return -1;
	for (unsigned q = 0; q < MC_POSTFIX_QUEUE_COUNT; q++) {
		int fd = mc_safe_open_dir(qfd, mc_postfix_queues[q], NULL, NULL);
		if (fd < 0)
			continue;
		count_dir(fd, 0, status_r, q);
		close(fd);
		status_r->total_messages += status_r->messages[q];
		status_r->total_bytes += status_r->bytes[q];
	}
	close(qfd);
	status_r->master_pid = mc_postfix_master_pid(pf);
	if (mc_postfix_is_frozen(pf, &status_r->frozen, error_r) < 0)
		return -1;
	if (state_dir != NULL) {
		char *spath = mc_postfix_state_path(pf, state_dir);
		int sfd = open(spath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct mc_postfix_freeze_state fs;

		if (sfd >= 0) {
			if (mc_postfix_state_read(sfd, spath, &fs, NULL) > 0) {
				status_r->freeze_recorded = true;
				status_r->frozen_at = fs.frozen_at;
				mc_postfix_freeze_state_clear(&fs);
			}
			close(sfd);
		}
		free(spath);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* postsuper, sendmail, postqueue                                      */
/* ------------------------------------------------------------------ */

int mc_postfix_postsuper(const struct mc_postfix *pf, enum mc_postsuper_op op,
			 const char *queue, const char *const *ids,
			 size_t count, bool *done_r, char **error_r)
{
	static const char *const flags[] = { "-h", "-H", "-d" };
	static const char *const verbs[] = { "placed on hold", "released from hold",
					     "removed" };
	char *postsuper = mc_postfix_command_path(pf, "postsuper");
	const char *argv[8];
	size_t argc = 0, len = 0;
	struct mc_exec_result cmd;
	char *input;
	int ret;

	if (done_r != NULL)
		memset(done_r, 0, count * sizeof(*done_r));
	if (count == 0) {
		free(postsuper);
		return 0;
	}
	for (size_t i = 0; i < count; i++) {
		if (!mc_postfix_queue_id_ok(ids[i])) {
			free(postsuper);
			return mc_error_set(error_r, "invalid queue id: %s", ids[i]);
		}
		len += strlen(ids[i]) + 1;
	}
	input = mc_xmalloc(len + 1);
	len = 0;
	for (size_t i = 0; i < count; i++) {
		size_t n = strlen(ids[i]);
		memcpy(input + len, ids[i], n);
		input[len + n] = '\n';
		len += n + 1;
	}
	argc = mc_postfix_argv_start(pf, postsuper, argv);
	argv[argc++] = flags[op];
	argv[argc++] = "-";
	if (queue != NULL)
		argv[argc++] = queue;
	argv[argc] = NULL;
	ret = mc_postfix_run_ok(pf, argv, input, len, &cmd, error_r);
	free(input);
	free(postsuper);
	if (ret < 0)
		return -1;
	/* postsuper reports "postsuper: ID: removed" (or "placed on
	   hold", "released from hold") for each message it acted on. */
	if (done_r != NULL) {
		for (char *line = cmd.err; line != NULL && *line != '\0';) {
			char *nl = strchr(line, '\n');
			if (nl != NULL)
				*nl = '\0';
			char *p = strstr(line, ": ");
			if (p != NULL) {
				char *id = p + 2;
				char *colon = strstr(id, ": ");
				if (colon != NULL && strcmp(colon + 2, verbs[op]) == 0) {
					*colon = '\0';
					for (size_t i = 0; i < count; i++) {
						if (strcmp(ids[i], id) == 0)
							done_r[i] = true;
					}
				}
			}
			line = nl != NULL ? nl + 1 : NULL;
		}
	}
	mc_exec_result_clear(&cmd);
	return 0;
}

int mc_postfix_sendmail(const struct mc_postfix *pf, const char *sender,
			const char *const *rcpts, size_t rcpt_count,
			const void *data, size_t size, char **error_r)
{
	const char **argv;
	size_t argc = 0;
	int ret;

	if (rcpt_count == 0)
		return mc_error_set(error_r, "no recipient to deliver to");
	argv = mc_xcalloc(rcpt_count + 12, sizeof(*argv));
	argv[argc++] = pf->sendmail_path;
	if (pf->config_given) {
		argv[argc++] = "-C";
		argv[argc++] = pf->config_dir;
	}
	/* -G: a relayed message, not a new submission (no rewriting of
	   its addresses); -i: a line with a single dot is content. */
	argv[argc++] = "-G";
	argv[argc++] = "-i";
	argv[argc++] = "-f";
	argv[argc++] = sender == NULL || sender[0] == '\0' ? "<>" : sender;
	argv[argc++] = "--";
	for (size_t i = 0; i < rcpt_count; i++)
		argv[argc++] = rcpts[i];
	argv[argc] = NULL;
	ret = mc_postfix_run_ok(pf, argv, data, size, NULL, error_r);
	free(argv);
	return ret;
}

int mc_postfix_command_ok(const struct mc_postfix *pf, const char *name,
			  const char *arg, char **error_r)
{
	char *program = mc_postfix_command_path(pf, name);
	const char *argv[5];
	size_t argc = mc_postfix_argv_start(pf, program, argv);
	int ret;

	argv[argc++] = arg;
	argv[argc] = NULL;
	ret = mc_postfix_run_ok(pf, argv, NULL, 0, NULL, error_r);
	free(program);
	return ret;
}

int mc_postfix_flush(const struct mc_postfix *pf, char **error_r)
{
	return mc_postfix_command_ok(pf, "postqueue", "-f", error_r);
}
