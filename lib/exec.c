/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	exec 3
/* SUMMARY
/*	run a command as a child process, under one policy
/* SYNOPSIS
/*	#include <mailcure/exec.h>
/*
/*	int mc_exec_run(const struct mc_exec *spec,
/*		struct mc_exec_result *r, char **error_r);
/*
/*	int mc_exec_start(const struct mc_exec *spec,
/*		struct mc_exec_proc **proc_r, char **error_r);
/*	ssize_t mc_exec_read(struct mc_exec_proc *proc, void *buf,
/*		size_t size, char **error_r);
/*	int mc_exec_finish(struct mc_exec_proc **proc, bool kill,
/*		struct mc_exec_result *r, char **error_r);
/*
/*	void mc_exec_result_clear(struct mc_exec_result *r);
/*	char *mc_exec_text(const char *text, size_t len);
/* DESCRIPTION
/*	Every command mailcure runs goes through here, and gets the
/*	same treatment:
/* .IP \(bu
/*	fork and execve of an argument vector, never a shell, and no
/*	search in PATH: argv[0] is the program;
/* .IP \(bu
/*	a clean environment: PATH=/usr/sbin:/usr/bin:/sbin:/bin,
/*	LANG=C and LC_ALL=C (stable, parseable messages), plus the
/*	variables the caller names (MAIL_CONFIG). mailcure running
/*	itself (respond) keeps the environment instead, since that is
/*	where its own settings are;
/* .IP \(bu
/*	no descriptor but 0, 1 and 2 (close_range), and standard input
/*	from a buffer or /dev/null, never the caller's;
/* .IP \(bu
/*	time limits (the whole run, or the time without output): at
/*	the limit its process group is killed, so that what it started
/*	(a script's sleep) goes too, and the error says so;
/* .IP \(bu
/*	standard output and error captured up to a bound, with a flag
/*	when more was written than kept, or sent to a file;
/* .IP \(bu
/*	the end reported exactly: the exit status, or the signal that
/*	killed it, or why execve failed (through a close-on-exec pipe,
/*	not guessed from status 127).
/* .PP
/*	Not here: the scan processes (lib/engine/scanpool.c forks a
/*	zygote that forks scanners of this program's own code, with no
/*	execve) and the check in src/cmd_mailbox.c whether a child can
/*	become nobody. Neither runs a command.
/*
/*	mc_exec_text() makes captured standard error fit for a message
/*	on one line.
/* DIAGNOSTICS
/*	-1 with a reason that names the command (spec->name, else
/*	argv[0]): "cannot execute", "no answer for N seconds, killed",
/*	"killed by signal N (NAME)", "more than N bytes of output".
/* SECURITY
/*	mailcure runs as root: a command inherits nothing it was not
/*	given, neither variables (LD_PRELOAD, IFS, a PATH with ".") nor
/*	descriptors (the quarantine, a mailbox, a lock). Between fork
/*	and execve the child makes only async-signal-safe calls: the
/*	caller may have threads. Writing to a child that stopped reading
/*	gives EPIPE, never SIGPIPE (its standard input is a socket
/*	written with MSG_NOSIGNAL).
/*--*/

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "mailcure/exec.h"
#include "internal.h"

extern char **environ;

#define OUT_MAX_DEFAULT (16U << 20)
#define ERR_MAX_DEFAULT (64U << 10)
/* mc_exec_text(): longer standard error is cut, with "...". */
#define TEXT_MAX 1000

static const char *const fixed_env[] = {
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "LC_ALL=C",
};
#define FIXED_ENV_COUNT (sizeof(fixed_env) / sizeof(fixed_env[0]))

struct capture {
	char *buf;
	size_t len, max;
	bool keep;		/* false: read and dropped */
	bool cut;
};

struct mc_exec_proc {
	pid_t pid;
	bool group;		/* leads a process group of its own */
	int in_fd, out_fd, err_fd;	/* -1: closed or not ours */
	const unsigned char *input;
	size_t input_size, input_pos;
	struct capture out, err;
	bool out_max_fatal;
	unsigned timeout_s, idle_s;
	uint64_t started_ms, active_ms;	/* CLOCK_MONOTONIC */
	char *name;
	char *why;		/* the first failure, for mc_exec_finish */
	int why_errno;
	bool timed_out;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

void mc_exec_result_clear(struct mc_exec_result *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------------ */
/* Starting                                                           */
/* ------------------------------------------------------------------ */

/* The environment of the child: the fixed one, entries of the caller
   replacing or adding. Only the array is malloc()ed. */
static char **env_build(const struct mc_exec *spec)
{
	size_t extra = 0, n = FIXED_ENV_COUNT;
	char **env;

	while (spec->env != NULL && spec->env[extra] != NULL)
		extra++;
	env = mc_xcalloc(FIXED_ENV_COUNT + extra + 1, sizeof(*env));
	for (size_t i = 0; i < FIXED_ENV_COUNT; i++)
		env[i] = (char *)fixed_env[i];
	for (size_t i = 0; i < extra; i++) {
		const char *e = spec->env[i];
		size_t name_len = strcspn(e, "=");
		size_t k = 0;

		while (k < n && (strncmp(env[k], e, name_len) != 0 ||
				 env[k][name_len] != '='))
			k++;
		env[k] = (char *)e;
		if (k == n)
			n++;
	}
	return env;
}

/* Child: close every descriptor from 4 up (close_range, or one by
   one to MAX on a kernel without it). */
static void close_from_4(long max)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 4U, ~0U, 0U) == 0)
		return;
#endif
	for (long fd = 4; fd < max; fd++)
		(void)close((int)fd);
}

/* Child: the three standard descriptors (FDS[k] for k, -1: keep
   this process's), then execve. REPORT gets errno when it fails.
   Async-signal-safe calls only. */
static void __attribute__((noreturn))
child_exec(const char *path, char *const *argv, char *const *envp,
	   const int fds[3], int report, bool group, long max_fd)
{
	struct sigaction dfl;
	sigset_t none;
	int moved[3], e;

	/* Above 2 first (ours may have been closed when it was made). */
	if (report < 3 && (report = fcntl(report, F_DUPFD_CLOEXEC, 3)) < 0)
		_exit(127);
	if (group)
		(void)setpgid(0, 0);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	(void)sigaction(SIGPIPE, &dfl, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	/* Above 2 first, so that no dup2 below overwrites a source. */
	for (int k = 0; k < 3; k++) {
		moved[k] = fds[k] >= 0 ? fcntl(fds[k], F_DUPFD_CLOEXEC, 3) : -1;
		if (fds[k] >= 0 && moved[k] < 0)
			goto fail;
	}
	for (int k = 0; k < 3; k++) {
		if (moved[k] >= 0 && dup2(moved[k], k) < 0)
			goto fail;
	}
	if (report != 3) {
		if (dup3(report, 3, O_CLOEXEC) < 0)
			goto fail;
		report = 3;
	}
	close_from_4(max_fd);
	execve(path, argv, envp);
fail:
	e = errno;
	(void)!write(report, &e, sizeof(e));
	_exit(127);
}

/* The descriptors for the child's standard input, output and error
   (FDS), and ours of the same pipes (P). */
static int pipes_open(const struct mc_exec *spec, struct mc_exec_proc *p,
		      int fds[3], char **error_r)
{
	int sv[2];

	if (spec->input != NULL) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return mc_error_errno(error_r, "%s: socketpair", p->name);
		p->in_fd = sv[0];
		fds[0] = sv[1];
		(void)shutdown(sv[0], SHUT_RD);
		(void)fcntl(p->in_fd, F_SETFL, fcntl(p->in_fd, F_GETFL) | O_NONBLOCK);
	} else {
		fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fds[0] < 0)
			return mc_error_errno(error_r, "%s: /dev/null", p->name);
	}
	for (int k = 1; k < 3; k++) {
		enum mc_exec_stream how = k == 1 ? spec->out : spec->err;
		int pfd[2];

		if (how == MC_EXEC_FD) {
			fds[k] = k == 1 ? spec->out_fd : spec->err_fd;
			continue;
		}
		if (how == MC_EXEC_INHERIT)
			continue;
		if (pipe2(pfd, O_CLOEXEC) < 0)
			return mc_error_errno(error_r, "%s: pipe", p->name);
		*(k == 1 ? &p->out_fd : &p->err_fd) = pfd[0];
		fds[k] = pfd[1];
	}
	return 0;
}

/* Whether execve worked: REPORT is closed by it, or holds its errno. */
static int exec_check(struct mc_exec_proc *p, int report, char **error_r)
{
	ssize_t n;
	int e = 0, status;

	do
		n = read(report, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
		;
	p->pid = -1;
	if (n != (ssize_t)sizeof(e))
		return mc_error_errno(error_r, "%s: cannot tell whether it started",
				      p->name);
	errno = e;
	return mc_error_errno(error_r, "cannot execute %s", p->name);
}

static void proc_free(struct mc_exec_proc *p)
{
	close_fd(&p->in_fd);
	close_fd(&p->out_fd);
	close_fd(&p->err_fd);
	free(p->out.buf);
	free(p->err.buf);
	free(p->name);
	free(p->why);
	free(p);
}

int mc_exec_start(const struct mc_exec *spec, struct mc_exec_proc **proc_r,
		  char **error_r)
{
	struct mc_exec_proc *p = mc_xcalloc(1, sizeof(*p));
	int fds[3] = { -1, -1, -1 }, report[2] = { -1, -1 };
	char **envp = NULL;
	long max_fd = sysconf(_SC_OPEN_MAX);
	int ret = -1;

	*proc_r = NULL;
	p->pid = -1;
	p->in_fd = p->out_fd = p->err_fd = -1;
	p->name = mc_xstrdup(spec->name != NULL ? spec->name :
			     spec->path != NULL ? spec->path :
			     spec->argv != NULL && spec->argv[0] != NULL ?
			     spec->argv[0] : "(nothing)");
	if (spec->argv == NULL || spec->argv[0] == NULL) {
		mc_error_set(error_r, "no command to run");
		goto out;
	}
	p->input = spec->input;
	p->input_size = spec->input_size;
	p->out.max = spec->out_max > 0 ? spec->out_max : OUT_MAX_DEFAULT;
	p->err.max = spec->err_max > 0 ? spec->err_max : ERR_MAX_DEFAULT;
	p->err.keep = true;
	p->out_max_fatal = spec->out_max_fatal;
	p->timeout_s = spec->timeout_s;
	p->idle_s = spec->idle_timeout_s;
	/* Without a time limit the command stays in our process group,
	   so that ^C on the terminal reaches it as it reaches us. */
	p->group = p->timeout_s > 0 || p->idle_s > 0;
	if (max_fd < 0 || max_fd > 65536)
		max_fd = 65536;
	/* Everything the child needs is prepared before fork(). */
	envp = spec->keep_env ? environ : env_build(spec);
	if (pipes_open(spec, p, fds, error_r) < 0)
		goto out;
	if (pipe2(report, O_CLOEXEC) < 0) {
		mc_error_errno(error_r, "%s: pipe", p->name);
		goto out;
	}
	p->pid = fork();
	if (p->pid < 0) {
		mc_error_errno(error_r, "%s: fork", p->name);
		goto out;
	}
	if (p->pid == 0)
		child_exec(spec->path != NULL ? spec->path : spec->argv[0],
			   (char *const *)spec->argv, envp, fds, report[1],
			   p->group, max_fd);
	/* Also here: kill(-pid) must find the group from now on. */
	if (p->group)
		(void)setpgid(p->pid, p->pid);
	close_fd(&report[1]);
	if (exec_check(p, report[0], error_r) < 0)
		goto out;
	p->started_ms = p->active_ms = now_ms();
	if (p->in_fd >= 0 && p->input_size == 0)
		close_fd(&p->in_fd);
	*proc_r = p;
	ret = 0;
out:
	if (fds[0] >= 0)
		close(fds[0]);
	for (int k = 1; k < 3; k++) {
		if (fds[k] >= 0 && (k == 1 ? spec->out : spec->err) == MC_EXEC_CAPTURE)
			close(fds[k]);
	}
	close_fd(&report[0]);
	close_fd(&report[1]);
	if (envp != environ)
		free(envp);
	if (ret < 0)
		proc_free(p);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Serving the pipes                                                  */
/* ------------------------------------------------------------------ */

static void kill_child(struct mc_exec_proc *p)
{
	if (p->pid > 0)
		(void)kill(p->group ? -p->pid : p->pid, SIGKILL);
}

/* Fail with a reason kept for mc_exec_finish (the first one wins). */
static int proc_fail(struct mc_exec_proc *p, char **error_r, int err,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int proc_fail(struct mc_exec_proc *p, char **error_r, int err,
		     const char *fmt, ...)
{
	va_list ap;
	char *why;

	va_start(ap, fmt);
	if (vasprintf(&why, fmt, ap) < 0)
		abort();
	va_end(ap);
	kill_child(p);
	if (p->why == NULL) {
		p->why = mc_xstrdup(why);
		p->why_errno = err;
	}
	mc_error_set(error_r, "%s", why);
	free(why);
	errno = err;
	return -1;
}

/* Milliseconds left before a time limit (0: it has passed), -1 for
   none. *idle_r: the limit is the one on silence. */
static int64_t time_left(const struct mc_exec_proc *p, bool *idle_r)
{
	int64_t now = (int64_t)now_ms(), left = INT64_MAX;

	*idle_r = false;
	if (p->timeout_s > 0)
		left = (int64_t)(p->started_ms + p->timeout_s * 1000ULL) - now;
	if (p->idle_s > 0) {
		int64_t idle = (int64_t)(p->active_ms + p->idle_s * 1000ULL) - now;
		if (idle < left) {
			left = idle;
			*idle_r = true;
		}
	}
	if (left == INT64_MAX)
		return -1;
	return left < 0 ? 0 : left;
}

static int time_up(struct mc_exec_proc *p, bool idle, char **error_r)
{
	if (p->why == NULL)
		p->timed_out = true;
	if (idle)
		return proc_fail(p, error_r, ETIMEDOUT, "%s: no answer for %u "
				 "seconds, killed", p->name, p->idle_s);
	return proc_fail(p, error_r, ETIMEDOUT, "%s: no answer after %u "
			 "seconds, killed", p->name, p->timeout_s);
}

static void capture_add(struct capture *c, const char *data, size_t n)
{
	if (!c->keep)
		return;
	if (n > c->max - c->len) {
		n = c->max - c->len;
		c->cut = true;
	}
	if (n == 0)
		return;
	c->buf = mc_xrealloc(c->buf, c->len + n + 1);
	memcpy(c->buf + c->len, data, n);
	c->len += n;
	c->buf[c->len] = '\0';
}

/* Read what is there on *FD into C; the end closes *FD. */
static void drain_into(int *fd, struct capture *c)
{
	char buf[65536];
	ssize_t n = read(*fd, buf, sizeof(buf));

	if (n > 0)
		capture_add(c, buf, (size_t)n);
	else if (n == 0 || (errno != EINTR && errno != EAGAIN))
		close_fd(fd);
}

static void feed_input(struct mc_exec_proc *p)
{
	ssize_t n = send(p->in_fd, p->input + p->input_pos,
			 p->input_size - p->input_pos, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0) {
		/* EPIPE: it stopped reading; its exit status tells. */
		if (errno != EINTR && errno != EAGAIN)
			close_fd(&p->in_fd);
		return;
	}
	p->input_pos += (size_t)n;
	if (p->input_pos == p->input_size)
		close_fd(&p->in_fd);
}

/* Wait for the child's pipes within the time limits and serve them:
   input written, standard error (and, unless STREAM, standard
   output) read into the captures. Returns 1 when STREAM and standard
   output can be read, 0 when no output pipe is left to wait for, -1
   at a time limit or failure (the child is killed). */
static int pump(struct mc_exec_proc *p, bool stream, char **error_r)
{
	for (;;) {
		struct pollfd pfd[3];
		int n = 0, ii = -1, io = -1, ie = -1, r;
		bool idle;
		int64_t left;

		if (p->out_fd < 0 && (stream || (p->err_fd < 0 && p->in_fd < 0)))
			return 0;
		if (p->in_fd >= 0) {
			ii = n;
			pfd[n++] = (struct pollfd){ .fd = p->in_fd, .events = POLLOUT };
		}
		if (p->out_fd >= 0) {
			io = n;
			pfd[n++] = (struct pollfd){ .fd = p->out_fd, .events = POLLIN };
		}
		if (p->err_fd >= 0) {
			ie = n;
			pfd[n++] = (struct pollfd){ .fd = p->err_fd, .events = POLLIN };
		}
		left = time_left(p, &idle);
		if (left == 0)
			return time_up(p, idle, error_r);
		r = poll(pfd, (nfds_t)n, left < 0 || left > 60000 ? 60000 : (int)left);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return proc_fail(p, error_r, errno, "%s: poll: %s", p->name,
					 strerror(errno));
		}
		if (r == 0)
			continue;
		p->active_ms = now_ms();
		if (ii >= 0 && pfd[ii].revents != 0)
			feed_input(p);
		if (ie >= 0 && pfd[ie].revents != 0)
			drain_into(&p->err_fd, &p->err);
		if (io >= 0 && pfd[io].revents != 0) {
			if (stream)
				return 1;
			drain_into(&p->out_fd, &p->out);
			if (p->out.cut && p->out_max_fatal)
				return proc_fail(p, error_r, EFBIG, "%s: more than %zu "
						 "bytes of output", p->name, p->out.max);
		}
	}
}

ssize_t mc_exec_read(struct mc_exec_proc *p, void *buf, size_t size,
		     char **error_r)
{
	/* The time the caller spent on what it read is not silence. */
	p->active_ms = now_ms();
	for (;;) {
		ssize_t n;
		int r;

		if (p->why != NULL)
			return mc_error_set(error_r, "%s", p->why);
		r = pump(p, true, error_r);
		if (r <= 0)
			return r;
		n = read(p->out_fd, buf, size);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return proc_fail(p, error_r, errno, "%s: read: %s", p->name,
					 strerror(errno));
		}
		if (n == 0)
			close_fd(&p->out_fd);
		return n;
	}
}

/* ------------------------------------------------------------------ */
/* The end                                                            */
/* ------------------------------------------------------------------ */

/* Reap the child, within its time limits. */
static void reap(struct mc_exec_proc *p, int *status_r)
{
	unsigned nap_ms = 1;

	for (;;) {
		bool idle;
		int64_t left = p->why != NULL ? -1 : time_left(p, &idle);
		pid_t w = waitpid(p->pid, status_r, left < 0 ? 0 : WNOHANG);

		if (w == p->pid)
			return;
		if (w < 0 && errno != EINTR) {
			/* Reaped by someone else: how it ended is lost. */
			*status_r = -1;
			return;
		}
		if (w != 0)
			continue;
		if (left == 0) {
			time_up(p, idle, NULL);
			continue;
		}
		/* Still running with its pipes closed: look again soon. */
		struct timespec ts = { 0, (long)nap_ms * 1000000L };
		nanosleep(&ts, NULL);
		if (nap_ms < 64)
			nap_ms *= 2;
	}
}

static char *take(struct capture *c, size_t *len_r)
{
	char *s = c->buf != NULL ? c->buf : mc_xstrdup("");

	*len_r = c->len;
	c->buf = NULL;
	return s;
}

int mc_exec_finish(struct mc_exec_proc **procp, bool kill_it,
		   struct mc_exec_result *r, char **error_r)
{
	struct mc_exec_proc *p = *procp;
	int status = -1, ret, e;

	if (r != NULL)
		memset(r, 0, sizeof(*r));
	if (p == NULL)
		return mc_error_set(error_r, "no command was started");
	*procp = NULL;
	if (kill_it && p->why == NULL)
		proc_fail(p, NULL, EINTR, "%s: stopped", p->name);
	if (p->why == NULL)
		(void)pump(p, false, NULL);
	close_fd(&p->in_fd);
	close_fd(&p->out_fd);
	close_fd(&p->err_fd);
	reap(p, &status);
	if (status != -1 && WIFEXITED(status) && p->why == NULL) {
		ret = WEXITSTATUS(status);
	} else if (p->why != NULL) {
		ret = mc_error_set(error_r, "%s", p->why);
	} else if (status != -1 && WIFSIGNALED(status)) {
		ret = mc_error_set(error_r, "%s: killed by signal %d (%s)", p->name,
				   WTERMSIG(status), strsignal(WTERMSIG(status)));
	} else {
		ret = mc_error_set(error_r, "%s: cannot tell how it ended", p->name);
	}
	if (r != NULL) {
		r->status = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		r->signal = status != -1 && WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		r->timed_out = p->timed_out;
		r->out = take(&p->out, &r->out_len);
		r->out_cut = p->out.cut;
		r->err = take(&p->err, &r->err_len);
		r->err_cut = p->err.cut;
	}
	e = p->why_errno;
	proc_free(p);
	if (ret < 0 && e != 0)
		errno = e;
	return ret;
}

int mc_exec_run(const struct mc_exec *spec, struct mc_exec_result *r,
		char **error_r)
{
	struct mc_exec_proc *p;

	if (mc_exec_start(spec, &p, error_r) < 0) {
		if (r != NULL) {
			memset(r, 0, sizeof(*r));
			r->status = -1;
			r->out = mc_xstrdup("");
			r->err = mc_xstrdup("");
		}
		return -1;
	}
	p->out.keep = true;
	return mc_exec_finish(&p, false, r, error_r);
}

/* ------------------------------------------------------------------ */
/* Standard error in a message                                        */
/* ------------------------------------------------------------------ */

/* Append LEN bytes of S (may hold NUL) made visible. */
static void add_visible(struct mc_buf *b, const char *s, size_t len)
{
	while (len > 0) {
		size_t n = strnlen(s, len);
		char *part = mc_xstrndup(s, n);
		char *vis = mc_text_visible(part);

		mc_buf_add(b, vis, strlen(vis));
		free(vis);
		free(part);
		if (n < len) {
			mc_buf_add(b, "\\x00", 4);
			n++;
		}
		s += n;
		len -= n;
	}
}

char *mc_exec_text(const char *text, size_t len)
{
	struct mc_buf b = { NULL, 0, 0 };
	size_t i = 0;

	while (i < len && b.len <= TEXT_MAX) {
		size_t n = 0;

		while (i + n < len && text[i + n] != '\n' && text[i + n] != '\r')
			n++;
		if (n > 0) {
			if (b.len > 0)
				mc_buf_add(&b, "; ", 2);
			add_visible(&b, text + i, n);
		}
		i += n + 1;
	}
	if (b.len == 0) {
		free(b.s);
		return NULL;
	}
	if (b.len > TEXT_MAX) {
		size_t cut = TEXT_MAX - 3;

		/* Not inside a UTF-8 character. */
		while (cut > 0 && ((unsigned char)b.s[cut] & 0xc0) == 0x80)
			cut--;
		memcpy(b.s + cut, "...", 4);
	}
	return b.s;
}
