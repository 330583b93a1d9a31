/*++
/* NAME
/*	postfix_ctl 3
/* SUMMARY
/*	drive a Postfix instance: commands, queue walk, freeze and thaw
/* SYNOPSIS
/*	#include "postfix_ctl.h"
/* DESCRIPTION
/*	See postfix_ctl.h. The freeze is recorded in
/*	STATE_DIR/postfix-freeze/KEY/,
/*	where KEY names the configuration directory (so that several
/*	instances can be frozen independently):
/* .IP main.cf,master.cf
/*	exact copies of the files as they were before the freeze;
/* .IP state
/*	"name=value" lines: phase (saved, then frozen), the time of the
/*	freeze, owner, mode and SHA-256 of both files, the SHA-256 of
/*	master.cf as the freeze left it, and the services it disabled.
/* .PP
/*	Each step is written and fsync'd before the next one starts, so
/*	that a freeze or thaw interrupted at any point can simply be run
/*	again: the copies are taken only while master.cf is still the
/*	original, and thaw always writes back those copies.
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "mailcure/exec.h"
#include "internal.h"
#include "postfix_ctl.h"

const char *const mc_postfix_queues[MC_POSTFIX_QUEUE_COUNT] = {
	"incoming", "active", "deferred", "hold", "maildrop",
};

/* Time limits of commands, in seconds. */
#define CMD_TIMEOUT 300
#define RELOAD_WAIT_MS 30000

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
static size_t command_start(const struct mc_postfix *pf, const char *program,
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
static int run_ok(const struct mc_postfix *pf, const char *const *argv,
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

	argc = command_start(pf, pf->postconf, argv);
	argv[argc++] = "-h";
	for (size_t i = 0; i < count && argc < 15; i++)
		argv[argc++] = names[i];
	argv[argc] = NULL;
	if (run_ok(pf, argv, NULL, 0, &cmd, error_r) < 0)
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

	if (run_ok(NULL, argv, NULL, 0, &cmd, NULL) == 0) {
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

static char *command_path(const struct mc_postfix *pf, const char *name)
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
static pid_t qmgr_process(pid_t master)
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
static int qmgr_services(const struct mc_postfix *pf, char ***services_r,
			 size_t *count_r, char **error_r)
{
	const char *argv[6];
	size_t argc = 0, count = 0, cap = 0;
	char **services = NULL;
	struct mc_exec_result cmd;

	argc = command_start(pf, pf->postconf, argv);
	argv[argc++] = "-M";
	argv[argc] = NULL;
	if (run_ok(pf, argv, NULL, 0, &cmd, error_r) < 0)
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

static void free_strings(char **v, size_t n)
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

	if (qmgr_services(pf, &services, &count, error_r) < 0)
		return -1;
	free_strings(services, count);
	master = mc_postfix_master_pid(pf);
	*frozen_r = count == 0 && (master == 0 || qmgr_process(master) == 0);
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

/* ------------------------------------------------------------------ */
/* Freeze state                                                        */
/* ------------------------------------------------------------------ */

struct freeze_state {
	char *phase;		/* "saved" or "frozen" */
	time_t frozen_at;
	char *main_sha, *master_sha, *master_frozen_sha;
	mode_t main_mode, master_mode;
	uid_t main_uid, master_uid;
	gid_t main_gid, master_gid;
	char *services;		/* space separated name/type */
	char *config_dir;
};

static void freeze_state_clear(struct freeze_state *fs)
{
	free(fs->phase);
	free(fs->main_sha);
	free(fs->master_sha);
	free(fs->master_frozen_sha);
	free(fs->services);
	free(fs->config_dir);
	memset(fs, 0, sizeof(*fs));
}

/* STATE_DIR/postfix-freeze/KEY for this instance: readable, and
   unique per configuration directory. */
static char *state_path(const struct mc_postfix *pf, const char *state_dir)
{
	char real[4096], hex[65], name[80];
	unsigned char sha[32];
	const char *dir = realpath(pf->config_dir, real) != NULL ? real : pf->config_dir;
	size_t j = 0;

	mc_sha256(dir, strlen(dir), sha);
	mc_hex(sha, 32, hex);
	for (const char *p = dir; *p != '\0' && j < 40; p++) {
		if (*p == '/' && j == 0)
			continue;
		name[j++] = isalnum((unsigned char)*p) || *p == '-' || *p == '.' ? *p : '_';
	}
	name[j] = '\0';
	return mc_xasprintf("%s/postfix-freeze/%s-%.12s", state_dir,
			    j > 0 ? name : "root", hex);
}

static int read_whole(int dirfd, const char *name, unsigned char **buf_r,
		      size_t *len_r, struct stat *st_r, char **error_r)
{
	char *err = NULL;
	int fd = mc_safe_open_file(dirfd, name, false, st_r, &err);

	if (fd < 0) {
		mc_error_set(error_r, "%s", err);
		free(err);
		return -1;
	}
	if (mc_read_fd(fd, 64U << 20, buf_r, len_r, &err) < 0) {
		mc_error_set(error_r, "%s: %s", name, err);
		free(err);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void sha_hex(const void *data, size_t len, char hex[65])
{
	unsigned char sha[32];

	mc_sha256(data, len, sha);
	mc_hex(sha, 32, hex);
}

/* Write DATA as DIRFD/NAME through a temporary file and rename(2),
   fsync'd, with the given owner and mode. */
static int write_atomic(int dirfd, const char *dirname, const char *name,
			const void *data, size_t len, mode_t mode, uid_t uid,
			gid_t gid, char **error_r)
{
	char tmp[256];
	int fd;

	snprintf(tmp, sizeof(tmp), ".%s.mailcure-%ld", name, (long)getpid());
	(void)unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return mc_error_errno(error_r, "%s/%s", dirname, tmp);
	if (mc_write_all(fd, data, len) < 0 || fchown(fd, uid, gid) < 0 ||
	    fchmod(fd, mode & 07777) < 0 || fsync(fd) < 0) {
		mc_error_errno(error_r, "%s/%s", dirname, tmp);
		close(fd);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	close(fd);
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		mc_error_errno(error_r, "rename %s/%s to %s", dirname, tmp, name);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	if (mc_fsync_dir(dirfd) < 0)
		return mc_error_errno(error_r, "fsync %s", dirname);
	return 0;
}

static int state_write(int sfd, const char *spath, const struct freeze_state *fs,
		       char **error_r)
{
	char *text = mc_xasprintf(
		"phase=%s\nconfig_directory=%s\nfrozen_at=%lld\n"
		"main_cf_sha256=%s\nmain_cf_owner=%lu:%lu\nmain_cf_mode=%04o\n"
		"master_cf_sha256=%s\nmaster_cf_owner=%lu:%lu\nmaster_cf_mode=%04o\n"
		"master_cf_frozen_sha256=%s\ndisabled_services=%s\n",
		fs->phase, fs->config_dir, (long long)fs->frozen_at,
		fs->main_sha, (unsigned long)fs->main_uid, (unsigned long)fs->main_gid,
		(unsigned)(fs->main_mode & 07777),
		fs->master_sha, (unsigned long)fs->master_uid,
		(unsigned long)fs->master_gid, (unsigned)(fs->master_mode & 07777),
		fs->master_frozen_sha != NULL ? fs->master_frozen_sha : "",
		fs->services != NULL ? fs->services : "");
	int ret = write_atomic(sfd, spath, "state", text, strlen(text), 0600, 0, 0,
			       error_r);
	free(text);
	return ret;
}

/* Returns 1 with *fs_r filled, 0 when there is no state, -1 on error. */
static int state_read(int sfd, const char *spath, struct freeze_state *fs_r,
		      char **error_r)
{
	unsigned char *buf;
	size_t len;
	struct stat st;
	char *err = NULL;

	memset(fs_r, 0, sizeof(*fs_r));
	if (fstatat(sfd, "state", &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return mc_error_errno(error_r, "%s/state", spath);
	}
	if (read_whole(sfd, "state", &buf, &len, &st, &err) < 0) {
		mc_error_set(error_r, "%s/%s", spath, err);
		free(err);
		return -1;
	}
	for (char *line = (char *)buf; line != NULL && *line != '\0';) {
		char *nl = strchr(line, '\n');
		char *eq;

		if (nl != NULL)
			*nl = '\0';
		eq = strchr(line, '=');
		if (eq != NULL) {
			const char *v = eq + 1;
			unsigned long a, b;
			unsigned m;

			*eq = '\0';
			if (strcmp(line, "phase") == 0)
				fs_r->phase = mc_xstrdup(v);
			else if (strcmp(line, "config_directory") == 0)
				fs_r->config_dir = mc_xstrdup(v);
			else if (strcmp(line, "frozen_at") == 0)
				fs_r->frozen_at = (time_t)strtoll(v, NULL, 10);
			else if (strcmp(line, "main_cf_sha256") == 0)
				fs_r->main_sha = mc_xstrdup(v);
			else if (strcmp(line, "master_cf_sha256") == 0)
				fs_r->master_sha = mc_xstrdup(v);
			else if (strcmp(line, "master_cf_frozen_sha256") == 0)
				fs_r->master_frozen_sha = mc_xstrdup(v);
			else if (strcmp(line, "disabled_services") == 0)
				fs_r->services = mc_xstrdup(v);
			else if (strcmp(line, "main_cf_owner") == 0 &&
				 sscanf(v, "%lu:%lu", &a, &b) == 2)
				fs_r->main_uid = (uid_t)a, fs_r->main_gid = (gid_t)b;
			else if (strcmp(line, "master_cf_owner") == 0 &&
				 sscanf(v, "%lu:%lu", &a, &b) == 2)
				fs_r->master_uid = (uid_t)a, fs_r->master_gid = (gid_t)b;
			else if (strcmp(line, "main_cf_mode") == 0 && sscanf(v, "%o", &m) == 1)
				fs_r->main_mode = (mode_t)m;
			else if (strcmp(line, "master_cf_mode") == 0 && sscanf(v, "%o", &m) == 1)
				fs_r->master_mode = (mode_t)m;
		}
		line = nl != NULL ? nl + 1 : NULL;
	}
	free(buf);
	if (fs_r->phase == NULL || fs_r->main_sha == NULL || fs_r->master_sha == NULL) {
		freeze_state_clear(fs_r);
		return mc_error_set(error_r, "%s/state: incomplete freeze record", spath);
	}
	return 1;
}

/* Open (creating with CREATE) the state directory of this instance,
   and lock it against a concurrent freeze or thaw. */
static int state_open(const struct mc_postfix *pf, const char *state_dir,
		      bool create, char **spath_r, int *lockfd_r, char **error_r)
{
	char *spath = state_path(pf, state_dir);
	int sfd, lfd;

	*lockfd_r = -1;
	if (create) {
		if (mc_mkdir_p(spath, 0700, error_r) < 0) {
			free(spath);
			return -1;
		}
	}
	sfd = open(spath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0) {
		if (errno == ENOENT && !create) {
			*spath_r = spath;
			return -2;
		}
		mc_error_errno(error_r, "%s", spath);
		free(spath);
		return -1;
	}
	lfd = openat(sfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		if (lfd >= 0 && (errno == EWOULDBLOCK || errno == EAGAIN))
			mc_error_set(error_r, "%s: another mailcure freeze or thaw "
				     "is running", spath);
		else
			mc_error_errno(error_r, "%s/lock", spath);
		if (lfd >= 0)
			close(lfd);
		close(sfd);
		free(spath);
		return -1;
	}
	*lockfd_r = lfd;
	*spath_r = spath;
	return sfd;
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
		char *spath = state_path(pf, state_dir);
		int sfd = open(spath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct freeze_state fs;

		if (sfd >= 0) {
			if (state_read(sfd, spath, &fs, NULL) > 0) {
				status_r->freeze_recorded = true;
				status_r->frozen_at = fs.frozen_at;
				freeze_state_clear(&fs);
			}
			close(sfd);
		}
		free(spath);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Freeze and thaw                                                     */
/* ------------------------------------------------------------------ */

static int postfix_reload(const struct mc_postfix *pf, char **error_r)
{
	char *postfix = command_path(pf, "postfix");
	const char *argv[5];
	size_t argc = 0;
	int ret;

	argc = command_start(pf, postfix, argv);
	argv[argc++] = "reload";
	argv[argc] = NULL;
	ret = run_ok(pf, argv, NULL, 0, NULL, error_r);
	free(postfix);
	return ret;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Wait until the queue manager is gone (WANT_RUNNING false) or back. */
static bool wait_qmgr(const struct mc_postfix *pf, bool want_running)
{
	for (unsigned waited = 0; waited <= RELOAD_WAIT_MS; waited += 100) {
		pid_t master = mc_postfix_master_pid(pf);
		if (master == 0)
			return !want_running;
		if ((qmgr_process(master) != 0) == want_running)
			return true;
		sleep_ms(100);
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
		sleep_ms(200);
	}
	free(active);
	return busy;
}

static void note_add(char **note_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note_add(char **note_r, const char *fmt, ...)
{
	va_list ap;
	char *line;

	if (note_r == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (*note_r == NULL) {
		*note_r = line;
	} else {
		char *joined = mc_xasprintf("%s\n%s", *note_r, line);
		free(*note_r);
		free(line);
		*note_r = joined;
	}
}

/* postconf -M# SERVICE for each of SERVICES. */
static int disable_services(const struct mc_postfix *pf, char **services,
			    size_t count, char **error_r)
{
	for (size_t i = 0; i < count; i++) {
		const char *argv[6];
		size_t argc = 0;

		argc = command_start(pf, pf->postconf, argv);
		argv[argc++] = "-M#";
		argv[argc++] = services[i];
		argv[argc] = NULL;
		if (run_ok(pf, argv, NULL, 0, NULL, error_r) < 0)
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

int mc_postfix_freeze(const struct mc_postfix *pf, const char *state_dir,
		      bool dry_run, char **note_r, char **error_r)
{
	struct freeze_state fs;
	char *spath = NULL, **services = NULL;
	size_t nservices = 0;
	int sfd = -1, lfd = -1, cfd = -1, ret = -1, have;
	unsigned char *main_buf = NULL, *master_buf = NULL;
	size_t main_len, master_len;
	struct stat main_st, master_st;
	char hex[65];
	pid_t master;

	memset(&fs, 0, sizeof(fs));
	if (dry_run) {
		bool frozen;
		if (mc_postfix_is_frozen(pf, &frozen, error_r) < 0)
			return -1;
		if (frozen) {
			note_add(note_r, "the queue manager is already stopped");
			return 0;
		}
		note_add(note_r, "would save main.cf and master.cf, disable the "
			 "queue manager in master.cf%s", mc_postfix_master_pid(pf) != 0 ?
			 " and reload Postfix" : "");
		return 1;
	}
	sfd = state_open(pf, state_dir, true, &spath, &lfd, error_r);
	if (sfd < 0)
		return -1;
	cfd = mc_open_dir_path(pf->config_dir, NULL, error_r);
	if (cfd < 0)
		goto out;
	if (check_not_symlink(cfd, pf->config_dir, "main.cf", error_r) < 0 ||
	    check_not_symlink(cfd, pf->config_dir, "master.cf", error_r) < 0)
		goto out;
	have = state_read(sfd, spath, &fs, error_r);
	if (have < 0)
		goto out;
	if (qmgr_services(pf, &services, &nservices, error_r) < 0)
		goto out;

	if (have > 0 && strcmp(fs.phase, "frozen") == 0) {
		if (nservices > 0) {
			mc_error_set(error_r, "the freeze of %s recorded in %s is "
				     "undone: master.cf enables %s again (edited since?). "
				     "Run 'mailcure queue thaw' (with --force to restore "
				     "the saved files anyway) before freezing again",
				     pf->config_dir, spath, services[0]);
			goto out;
		}
		master = mc_postfix_master_pid(pf);
		if (master != 0 && qmgr_process(master) != 0) {
			/* An earlier freeze stopped before its reload. */
			if (postfix_reload(pf, error_r) < 0)
				goto out;
			if (!wait_qmgr(pf, false)) {
				mc_error_set(error_r, "Postfix reloaded, but its queue "
					     "manager is still running");
				goto out;
			}
			ret = 1;
		} else {
			ret = 0;
		}
		if (ret == 0) {
			char when[64];
			struct tm tm;
			localtime_r(&fs.frozen_at, &tm);
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);
			note_add(note_r, "already frozen since %s", when);
		}
		goto out;
	}

	if (have == 0) {
		/* Save the originals first: nothing is changed before
		   their copies are on disk. */
		if (read_whole(cfd, "main.cf", &main_buf, &main_len, &main_st, error_r) < 0 ||
		    read_whole(cfd, "master.cf", &master_buf, &master_len, &master_st, error_r) < 0)
			goto out;
		if (write_atomic(sfd, spath, "main.cf", main_buf, main_len, 0600, 0, 0, error_r) < 0 ||
		    write_atomic(sfd, spath, "master.cf", master_buf, master_len, 0600, 0, 0, error_r) < 0)
			goto out;
		fs.phase = mc_xstrdup("saved");
		fs.config_dir = mc_xstrdup(pf->config_dir);
		fs.frozen_at = time(NULL);
		sha_hex(main_buf, main_len, hex);
		fs.main_sha = mc_xstrdup(hex);
		sha_hex(master_buf, master_len, hex);
		fs.master_sha = mc_xstrdup(hex);
		fs.main_mode = main_st.st_mode;
		fs.main_uid = main_st.st_uid;
		fs.main_gid = main_st.st_gid;
		fs.master_mode = master_st.st_mode;
		fs.master_uid = master_st.st_uid;
		fs.master_gid = master_st.st_gid;
		char *list = mc_xstrdup("");
		for (size_t i = 0; i < nservices; i++) {
			char *l = mc_xasprintf("%s%s%s", list, i > 0 ? " " : "", services[i]);
			free(list);
			list = l;
		}
		fs.services = list;
		if (state_write(sfd, spath, &fs, error_r) < 0)
			goto out;
	}

	if (disable_services(pf, services, nservices, error_r) < 0)
		goto out;
	free(master_buf);
	master_buf = NULL;
	if (read_whole(cfd, "master.cf", &master_buf, &master_len, &master_st, error_r) < 0)
		goto out;
	sha_hex(master_buf, master_len, hex);
	free(fs.master_frozen_sha);
	fs.master_frozen_sha = mc_xstrdup(hex);
	free(fs.phase);
	fs.phase = mc_xstrdup("frozen");
	if (state_write(sfd, spath, &fs, error_r) < 0)
		goto out;

	master = mc_postfix_master_pid(pf);
	if (master == 0) {
		note_add(note_r, "Postfix is not running: it will start frozen");
	} else {
		if (postfix_reload(pf, error_r) < 0)
			goto out;
		if (!wait_qmgr(pf, false)) {
			mc_error_set(error_r, "Postfix reloaded, but its queue manager "
				     "is still running after %u seconds",
				     RELOAD_WAIT_MS / 1000);
			goto out;
		}
		size_t busy = wait_deliveries(pf);
		if (busy > 0)
			note_add(note_r, "%zu deliveries that had started before the "
				 "freeze are still running", busy);
	}
	if (nservices == 0)
		note_add(note_r, "master.cf had no queue manager service enabled");
	ret = 1;
out:
	free_strings(services, nservices);
	free(main_buf);
	free(master_buf);
	freeze_state_clear(&fs);
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	if (sfd >= 0)
		close(sfd);
	free(spath);
	return ret;
}

/* Put saved file NAME back unless it is already byte-identical with
   the same owner and mode. */
static int restore_file(int cfd, const char *config_dir, int sfd,
			const char *spath, const char *name, const char *want_sha,
			mode_t mode, uid_t uid, gid_t gid, char **error_r)
{
	unsigned char *saved, *cur = NULL;
	size_t saved_len, cur_len = 0;
	struct stat st, cur_st;
	char hex[65];
	int ret = 0;

	if (read_whole(sfd, name, &saved, &saved_len, &st, error_r) < 0) {
		if (error_r != NULL) {
			char *e = *error_r;
			*error_r = mc_xasprintf("saved copy %s/%s", spath, e);
			free(e);
		}
		return -1;
	}
	sha_hex(saved, saved_len, hex);
	if (strcmp(hex, want_sha) != 0) {
		free(saved);
		return mc_error_set(error_r, "%s/%s: the saved copy does not match "
				    "its recorded checksum; not restored", spath, name);
	}
	if (read_whole(cfd, name, &cur, &cur_len, &cur_st, NULL) == 0 &&
	    cur_len == saved_len && memcmp(cur, saved, saved_len) == 0) {
		if ((cur_st.st_mode & 07777) != (mode & 07777) ||
		    cur_st.st_uid != uid || cur_st.st_gid != gid) {
			int fd = mc_safe_open_file(cfd, name, false, NULL, NULL);
			if (fd < 0 || fchown(fd, uid, gid) < 0 || fchmod(fd, mode & 07777) < 0)
				ret = mc_error_errno(error_r, "%s/%s", config_dir, name);
			if (fd >= 0)
				close(fd);
		}
	} else {
		ret = write_atomic(cfd, config_dir, name, saved, saved_len, mode,
				   uid, gid, error_r);
	}
	free(saved);
	free(cur);
	return ret;
}

static bool file_sha_is(int cfd, const char *name, const char *want)
{
	unsigned char *buf;
	size_t len;
	struct stat st;
	char hex[65];

	if (want == NULL || read_whole(cfd, name, &buf, &len, &st, NULL) < 0)
		return false;
	sha_hex(buf, len, hex);
	free(buf);
	return strcmp(hex, want) == 0;
}

int mc_postfix_thaw(const struct mc_postfix *pf, const char *state_dir,
		    bool force, bool dry_run, char **note_r, char **error_r)
{
	struct freeze_state fs;
	char *spath = NULL;
	int sfd, lfd = -1, cfd = -1, ret = -1, have;

	memset(&fs, 0, sizeof(fs));
	sfd = state_open(pf, state_dir, false, &spath, &lfd, error_r);
	if (sfd == -2) {
		free(spath);
		bool frozen;
		if (mc_postfix_is_frozen(pf, &frozen, error_r) < 0)
			return -1;
		note_add(note_r, frozen ? "the queue manager is stopped, but not by "
			 "mailcure (no freeze record): nothing changed" :
			 "the queue is not frozen");
		return 0;
	}
	if (sfd < 0)
		return -1;
	have = state_read(sfd, spath, &fs, error_r);
	if (have <= 0) {
		if (have == 0) {
			note_add(note_r, "the queue is not frozen");
			ret = 0;
		}
		goto out;
	}
	cfd = mc_open_dir_path(pf->config_dir, NULL, error_r);
	if (cfd < 0)
		goto out;
	if (check_not_symlink(cfd, pf->config_dir, "main.cf", error_r) < 0 ||
	    check_not_symlink(cfd, pf->config_dir, "master.cf", error_r) < 0)
		goto out;

	/* A change made while frozen would be undone by the restore:
	   only with --force. */
	bool main_changed = !file_sha_is(cfd, "main.cf", fs.main_sha);
	bool master_changed = strcmp(fs.phase, "frozen") == 0 &&
		!file_sha_is(cfd, "master.cf", fs.master_frozen_sha) &&
		!file_sha_is(cfd, "master.cf", fs.master_sha);
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
		note_add(note_r, "would restore main.cf and master.cf from %s%s",
			 spath, mc_postfix_master_pid(pf) != 0 ?
			 ", reload Postfix and flush the queue" : "");
		ret = 1;
		goto out;
	}
	if (restore_file(cfd, pf->config_dir, sfd, spath, "main.cf", fs.main_sha,
			 fs.main_mode, fs.main_uid, fs.main_gid, error_r) < 0 ||
	    restore_file(cfd, pf->config_dir, sfd, spath, "master.cf", fs.master_sha,
			 fs.master_mode, fs.master_uid, fs.master_gid, error_r) < 0)
		goto out;

	if (mc_postfix_master_pid(pf) == 0) {
		note_add(note_r, "Postfix is not running: queued mail is delivered "
			 "when it starts");
	} else {
		char *err = NULL;

		if (postfix_reload(pf, error_r) < 0)
			goto out;
		if (!wait_qmgr(pf, true))
			note_add(note_r, "Postfix reloaded, but no queue manager "
				 "started within %u seconds", RELOAD_WAIT_MS / 1000);
		else if (mc_postfix_flush(pf, &err) < 0)
			note_add(note_r, "flush: %s", err);
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
		note_add(note_r, "%s: %s", spath, strerror(errno));
	ret = 1;
out:
	freeze_state_clear(&fs);
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	if (sfd >= 0)
		close(sfd);
	free(spath);
	return ret;
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
	char *postsuper = command_path(pf, "postsuper");
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
	argc = command_start(pf, postsuper, argv);
	argv[argc++] = flags[op];
	argv[argc++] = "-";
	if (queue != NULL)
		argv[argc++] = queue;
	argv[argc] = NULL;
	ret = run_ok(pf, argv, input, len, &cmd, error_r);
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
	ret = run_ok(pf, argv, data, size, NULL, error_r);
	free(argv);
	return ret;
}

int mc_postfix_flush(const struct mc_postfix *pf, char **error_r)
{
	char *postqueue = command_path(pf, "postqueue");
	const char *argv[5];
	size_t argc = 0;
	int ret;

	argc = command_start(pf, postqueue, argv);
	argv[argc++] = "-f";
	argv[argc] = NULL;
	ret = run_ok(pf, argv, NULL, 0, NULL, error_r);
	free(postqueue);
	return ret;
}
