/*++
/* NAME
/*	dovecot 3
/* SUMMARY
/*	mail store "dovecot:USERMASK": any Dovecot mailbox format, through doveadm
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	extern const struct mc_store_ops mc_store_dovecot;
/*
/*	#include "internal.h"
/*
/*	int mc_doveadm_start(const struct mc_doveadm *dv,
/*		const char *const *args, const void *input,
/*		size_t input_size, struct mc_doveadm_proc **proc_r,
/*		char **error_r);
/*	ssize_t mc_doveadm_read(struct mc_doveadm_proc *proc,
/*		void *buf, size_t size, char **error_r);
/*	int mc_doveadm_finish(struct mc_doveadm_proc **proc, bool kill,
/*		char **stderr_r);
/*	int mc_doveadm_run(const struct mc_doveadm *dv,
/*		const char *const *args, const void *input,
/*		size_t input_size, size_t max_out, char **out_r,
/*		size_t *out_len_r, char **stderr_r, char **error_r);
/*
/*	#include "store/store-private.h"
/*
/*	int mc_store_dovecot_parse(const void *data, size_t len,
/*		size_t chunk, bool text, size_t *records_r,
/*		char **error_r);
/* DESCRIPTION
/*	The store reads and removes messages of Dovecot users through
/*	doveadm, so it works for every mail_location Dovecot supports
/*	(maildir, sdbox, mdbox, ...) and keeps Dovecot's indexes right.
/*	The URI is dovecot:USERMASK: "dovecot:alice", "dovecot:*",
/*	"dovecot:*@example.com" ("dovecot:" alone is every user).
/*
/*	Users come from "doveadm user MASK" (the userdb must support
/*	iteration for a mask with wildcards). For each user, one
/*	"doveadm -f pager fetch 'mailbox-guid uid guid flags
/*	size.physical mailbox text' ALL" streams every message of every
/*	mailbox. The pager format gives each field as "key: value"
/*	lines and the message text raw after a "text:" line, records
/*	separated by a form feed line; the text is not delimited, so it
/*	is cut by its size.physical and the cut is checked: what follows
/*	must be the end of the output or a form feed and a complete,
/*	well-formed next record. A message is yielded only once the
/*	record after it has been checked, which is also how it is known
/*	whether it is the last of its mailbox (container_last).
/*	mc_store_dovecot_parse() reads such output from memory, handed
/*	over in chunks of a given size as a pipe would (for the fuzz
/*	target).
/*
/*	When the check fails (a size Dovecot reports differently from
/*	the stream, a message it could not read, a mailbox name with a
/*	line break), the stream is abandoned and the user is read one
/*	message at a time: the same fields without the text are listed,
/*	and each text is fetched alone ("doveadm fetch text
/*	mailbox-guid G uid U"), whose output is exactly "text:\n" and
/*	the message. Mailboxes and messages already yielded are skipped.
/*
/*	Removal (per mailbox): each message is fetched again on its own
/*	and compared byte for byte with what was scanned; only an
/*	identical message is quarantined (mc_quarantine_put: written,
/*	fsync'd, verified), then all of them are expunged with "doveadm
/*	expunge mailbox-guid G uid SET", and a fetch of the same set
/*	tells which are really gone. A message that is still there has
/*	its quarantine entry discarded (so that a restore cannot
/*	duplicate it) and is reported as not removed. The mailbox GUID
/*	identifies the mailbox across renames and is never reused, and
/*	UIDs are never reused within it, so an expunge can never hit a
/*	message that was not scanned.
/*
/*	The quarantine entry records user (loc.user), mailbox name
/*	(loc.folder), and in its extra fields the mailbox GUID, UID,
/*	message GUID, IMAP flags and the Dovecot configuration used.
/*	Restore saves the message with "doveadm save -m MAILBOX"
/*	(creating the mailbox if it no longer exists), finds the saved
/*	copy among the new UIDs by its content, and sets its flags with
/*	"doveadm flags add". Dovecot assigns a new UID and received date.
/*	Before that it fetches the recorded mailbox GUID and UID: a
/*	message still there means the removal was killed between the
/*	quarantine and the expunge, and the restore is refused rather
/*	than duplicate it.
/*
/*	doveadm is $MAILCURE_DOVEADM, else /usr/bin/doveadm, else found
/*	in $PATH; with $MAILCURE_DOVECOT_CONFIG (the CLI sets it from
/*	--dovecot-config) it runs as "doveadm -c FILE", for a Dovecot
/*	instance other than the system's.
/* DIAGNOSTICS
/*	A user that cannot be read (doveadm fails, unexpected output) is
/*	one error event naming the user and doveadm's message; the
/*	other users go on. A message that could not be fetched is an
/*	error event of its own. A message larger than max_message_size
/*	is not fetched and is reported unscanned.
/* SECURITY
/*	doveadm is run with fork and execve from argument vectors, never
/*	through a shell; user names and masks that begin with '-' or
/*	hold control characters are refused, so they cannot turn into
/*	options. doveadm itself switches to each user's uid, so every
/*	file it creates (restore) belongs to that user. Everything read
/*	from doveadm is parsed strictly and bounded (header lines, the
/*	standard error kept, message sizes).
/*--*/

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "store-private.h"

extern char **environ;

#define DOVEADM_DEFAULT_PATH "/usr/bin/doveadm"
/* doveadm's standard error kept for messages; the rest is dropped. */
#define DOVEADM_STDERR_MAX (64U << 10)
/* A doveadm that writes nothing for this long is stopped. Building
   the index of a huge mailbox can take minutes, hence the margin. */
#define DOVEADM_DEFAULT_TIMEOUT_S 900
/* A "key: value" line of doveadm's pager output: a mailbox name or a
   GUID, never near this. A property of the format, not a limit on
   messages. */
#define RECORD_LINE_MAX 16384
/* UIDs per expunge command line. */
#define EXPUNGE_CHUNK 256

/* ------------------------------------------------------------------ */
/* Running doveadm                                                    */
/* ------------------------------------------------------------------ */

struct mc_doveadm_proc {
	pid_t pid;
	int in_fd, out_fd, err_fd;	/* -1 once closed */
	const unsigned char *input;
	size_t input_size, input_pos;
	char *err;			/* standard error, bounded */
	size_t err_len;
	unsigned timeout_s;
	char *what;			/* "doveadm fetch", for messages */
};

static bool exec_ok(const char *path)
{
	return access(path, X_OK) == 0;
}

static char *search_path(const char *name)
{
	const char *env = getenv("PATH");
	char *copy, *save = NULL, *found = NULL;

	if (env == NULL)
		return NULL;
	copy = mc_xstrdup(env);
	for (char *dir = strtok_r(copy, ":", &save); dir != NULL;
	     dir = strtok_r(NULL, ":", &save)) {
		/* Only absolute entries: "." in root's PATH is a trap. */
		if (dir[0] != '/')
			continue;
		char *p = mc_xasprintf("%s/%s", dir, name);
		if (exec_ok(p)) {
			found = p;
			break;
		}
		free(p);
	}
	free(copy);
	return found;
}

static char *doveadm_path(const struct mc_doveadm *dv, char **error_r)
{
	const char *p = dv != NULL && dv->path != NULL ? dv->path :
		getenv("MAILCURE_DOVEADM");
	char *found;

	if (p != NULL && p[0] != '\0') {
		if (strchr(p, '/') == NULL) {
			found = search_path(p);
			if (found == NULL)
				mc_error_set(error_r, "doveadm '%s' not found in PATH", p);
			return found;
		}
		if (!exec_ok(p)) {
			mc_error_errno(error_r, "doveadm %s", p);
			return NULL;
		}
		return mc_xstrdup(p);
	}
	if (exec_ok(DOVEADM_DEFAULT_PATH))
		return mc_xstrdup(DOVEADM_DEFAULT_PATH);
	found = search_path("doveadm");
	if (found == NULL)
		mc_error_set(error_r, "doveadm not found (is Dovecot installed? "
			     "MAILCURE_DOVEADM names it)");
	return found;
}

static const char *doveadm_config(const struct mc_doveadm *dv)
{
	const char *c = dv != NULL && dv->config != NULL ? dv->config :
		getenv("MAILCURE_DOVECOT_CONFIG");

	return c != NULL && c[0] != '\0' ? c : NULL;
}

/* "doveadm fetch": the command word of ARGS, past global options. */
static char *command_name(const char *const *args)
{
	for (size_t i = 0; args[i] != NULL; i++) {
		if (strcmp(args[i], "-f") == 0 || strcmp(args[i], "-o") == 0) {
			if (args[i + 1] == NULL)
				break;
			i++;
			continue;
		}
		if (args[i][0] == '-')
			continue;
		if (args[i + 1] != NULL && args[i + 1][0] != '-' &&
		    (strcmp(args[i], "mailbox") == 0 || strcmp(args[i], "flags") == 0))
			return mc_xasprintf("doveadm %s %s", args[i], args[i + 1]);
		return mc_xasprintf("doveadm %s", args[i]);
	}
	return mc_xstrdup("doveadm");
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

int mc_doveadm_start(const struct mc_doveadm *dv, const char *const *args,
		     const void *input, size_t input_size,
		     struct mc_doveadm_proc **proc_r, char **error_r)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	const char *config = doveadm_config(dv);
	struct mc_doveadm_proc *p;
	size_t argc = 0, n = 0;
	char **argv;
	char *path;
	pid_t pid;

	*proc_r = NULL;
	path = doveadm_path(dv, error_r);
	if (path == NULL)
		return -1;
	while (args[argc] != NULL)
		argc++;
	argv = mc_xcalloc(argc + 4, sizeof(*argv));
	argv[n++] = path;
	if (config != NULL) {
		argv[n++] = (char *)"-c";
		argv[n++] = (char *)config;
	}
	for (size_t i = 0; i < argc; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
	    (input != NULL ? pipe2(in, O_CLOEXEC) :
	     (in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC))) < 0) {
		mc_error_errno(error_r, "cannot run doveadm: pipe");
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		mc_error_errno(error_r, "cannot run doveadm: fork");
		goto fail;
	}
	if (pid == 0) {
		/* Child: only async-signal-safe calls until execve (the
		   parent may have other threads). */
		sigset_t none;

		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
			_exit(127);
		closefrom(3);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execve(argv[0], argv, environ);
		_exit(127);
	}
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	p = mc_xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->in_fd = in[1];
	p->out_fd = out[0];
	p->err_fd = err[0];
	p->input = input;
	p->input_size = input_size;
	p->timeout_s = dv != NULL && dv->timeout_s > 0 ? dv->timeout_s :
		DOVEADM_DEFAULT_TIMEOUT_S;
	p->what = command_name(args);
	if (p->in_fd >= 0) {
		fcntl(p->in_fd, F_SETFL, fcntl(p->in_fd, F_GETFL) | O_NONBLOCK);
		if (input_size == 0)
			close_fd(&p->in_fd);
	}
	free(path);
	free(argv);
	*proc_r = p;
	return 0;

fail:
	for (int i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&out[i]);
		close_fd(&err[i]);
	}
	free(path);
	free(argv);
	return -1;
}

static void proc_read_err(struct mc_doveadm_proc *p)
{
	char buf[4096];
	ssize_t n = read(p->err_fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close_fd(&p->err_fd);
		return;
	}
	if (p->err_len < DOVEADM_STDERR_MAX) {
		size_t take = (size_t)n;

		if (take > DOVEADM_STDERR_MAX - p->err_len)
			take = DOVEADM_STDERR_MAX - p->err_len;
		p->err = mc_xrealloc(p->err, p->err_len + take + 1);
		memcpy(p->err + p->err_len, buf, take);
		p->err_len += take;
		p->err[p->err_len] = '\0';
	}
}

/* Write more of the input; a child that stopped reading (exited)
   just ends the input. SIGPIPE is blocked in this thread for the
   write and a pending one is consumed, so the process is not killed
   and other threads are not disturbed. */
static void proc_write_in(struct mc_doveadm_proc *p)
{
	sigset_t pipe_set, old, pending;
	ssize_t n;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	n = write(p->in_fd, p->input + p->input_pos, p->input_size - p->input_pos);
	if (n < 0 && errno == EPIPE) {
		struct timespec zero = { 0, 0 };

		if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
			sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		close_fd(&p->in_fd);
		return;
	}
	p->input_pos += (size_t)n;
	if (p->input_pos == p->input_size)
		close_fd(&p->in_fd);
}

/* Wait for any of the child's pipes. With WANT_OUT, returns 1 when
   stdout is readable; without, returns 1 when stderr is at its end.
   Returns -1 on a timeout or poll failure. */
static int proc_poll(struct mc_doveadm_proc *p, bool want_out, char **error_r)
{
	for (;;) {
		struct pollfd pfd[3];
		int n = 0, io = -1, ie = -1, ii = -1, r;

		if (want_out && p->out_fd < 0)
			return 1;
		if (!want_out && p->err_fd < 0)
			return 1;
		if (want_out) {
			io = n;
			pfd[n++] = (struct pollfd){ .fd = p->out_fd, .events = POLLIN };
		}
		if (p->err_fd >= 0) {
			ie = n;
			pfd[n++] = (struct pollfd){ .fd = p->err_fd, .events = POLLIN };
		}
		if (p->in_fd >= 0) {
			ii = n;
			pfd[n++] = (struct pollfd){ .fd = p->in_fd, .events = POLLOUT };
		}
		r = poll(pfd, (nfds_t)n, (int)(p->timeout_s * 1000));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return mc_error_errno(error_r, "%s: poll", p->what);
		}
		if (r == 0)
			return mc_error_set(error_r, "%s: no answer for %u seconds, stopped",
					    p->what, p->timeout_s);
		if (ie >= 0 && pfd[ie].revents != 0)
			proc_read_err(p);
		if (ii >= 0 && pfd[ii].revents != 0)
			proc_write_in(p);
		if (io >= 0 && pfd[io].revents != 0)
			return 1;
	}
}

ssize_t mc_doveadm_read(struct mc_doveadm_proc *p, void *buf, size_t size,
			char **error_r)
{
	for (;;) {
		ssize_t n;

		if (p->out_fd < 0)
			return 0;
		if (proc_poll(p, true, error_r) < 0)
			return -1;
		if (p->out_fd < 0)
			return 0;
		n = read(p->out_fd, buf, size);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return mc_error_errno(error_r, "%s: read", p->what);
		}
		if (n == 0)
			close_fd(&p->out_fd);
		return n;
	}
}

/* doveadm's standard error as one line: lines joined by "; ",
   control characters replaced, at most about 1000 bytes. */
static char *stderr_text(const char *err, size_t len)
{
	char *out = mc_xmalloc(2 * len + 1);
	size_t o = 0;
	bool sep = false;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)err[i];

		if (c == '\n' || c == '\r') {
			sep = o > 0;
			continue;
		}
		if (sep) {
			out[o++] = ';';
			out[o++] = ' ';
			sep = false;
		}
		out[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	out[o] = '\0';
	if (o == 0) {
		free(out);
		return NULL;
	}
	if (o > 1000)
		strcpy(out + 997, "...");
	return out;
}

int mc_doveadm_finish(struct mc_doveadm_proc **procp, bool kill_it,
		      char **stderr_r)
{
	struct mc_doveadm_proc *p = *procp;
	int status = 0, code;

	if (stderr_r != NULL)
		*stderr_r = NULL;
	if (p == NULL)
		return -1;
	*procp = NULL;
	close_fd(&p->in_fd);
	if (kill_it) {
		kill(p->pid, SIGKILL);
		close_fd(&p->out_fd);
	} else {
		/* Output nobody asked for is read and dropped, so the
		   child does not block on a full pipe. */
		char buf[8192];

		while (p->out_fd >= 0) {
			if (mc_doveadm_read(p, buf, sizeof(buf), NULL) < 0) {
				kill(p->pid, SIGKILL);
				close_fd(&p->out_fd);
			}
		}
	}
	if (p->err_fd >= 0 && proc_poll(p, false, NULL) < 0)
		kill(p->pid, SIGKILL);
	close_fd(&p->err_fd);
	while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status))
		code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		code = 128 + WTERMSIG(status);
	else
		code = 255;
	if (stderr_r != NULL && p->err != NULL)
		*stderr_r = stderr_text(p->err, p->err_len);
	free(p->err);
	free(p->what);
	free(p);
	return code;
}

int mc_doveadm_run(const struct mc_doveadm *dv, const char *const *args,
		   const void *input, size_t input_size, size_t max_out,
		   char **out_r, size_t *out_len_r, char **stderr_r,
		   char **error_r)
{
	struct mc_doveadm_proc *p;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int code;

	if (out_r != NULL)
		*out_r = NULL;
	if (out_len_r != NULL)
		*out_len_r = 0;
	if (stderr_r != NULL)
		*stderr_r = NULL;
	if (mc_doveadm_start(dv, args, input, input_size, &p, error_r) < 0)
		return -1;
	for (;;) {
		ssize_t n;

		if (len + 65536 + 1 > cap) {
			cap = cap == 0 ? 65536 + 1 : cap * 2;
			if (cap > max_out + 65536 + 1)
				cap = max_out + 65536 + 1;
			buf = mc_xrealloc(buf, cap);
		}
		n = mc_doveadm_read(p, buf + len, cap - len - 1, error_r);
		if (n < 0) {
			mc_doveadm_finish(&p, true, NULL);
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max_out) {
			char *what = mc_xstrdup(p->what);

			mc_doveadm_finish(&p, true, NULL);
			free(buf);
			mc_error_set(error_r, "%s: more than %zu bytes of output", what, max_out);
			free(what);
			errno = EFBIG;
			return -1;
		}
	}
	code = mc_doveadm_finish(&p, false, stderr_r);
	if (code == 127 && len == 0 && stderr_r != NULL && *stderr_r == NULL) {
		free(buf);
		return mc_error_set(error_r, "doveadm could not be executed");
	}
	if (buf == NULL)
		buf = mc_xcalloc(1, 1);
	buf[len] = '\0';
	if (out_r != NULL)
		*out_r = buf;
	else
		free(buf);
	if (out_len_r != NULL)
		*out_len_r = len;
	return code;
}

/* A message for a failed doveadm: its standard error, else its exit
   status. */
static char *failure_text(const char *what, int code, const char *err)
{
	if (err != NULL)
		return mc_xasprintf("%s failed: %s", what, err);
	return mc_xasprintf("%s failed with exit status %d", what, code);
}

/* Run a "doveadm fetch" that must succeed: its output in *out_r
   (malloc()ed, LEN bytes), or -1 with *error_r naming the failure. */
static int doveadm_fetch(const struct mc_doveadm *dv, const char *const *args,
			 size_t max, char **out_r, size_t *len_r, char **error_r)
{
	char *err = NULL;
	int code = mc_doveadm_run(dv, args, NULL, 0, max, out_r, len_r, &err, error_r);

	if (code < 0)
		return -1;
	if (code != 0) {
		char *why = failure_text("doveadm fetch", code, err);

		mc_error_set(error_r, "%s", why);
		free(why);
		free(err);
		free(*out_r);
		*out_r = NULL;
		return -1;
	}
	free(err);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Parsing doveadm's pager output                                     */
/* ------------------------------------------------------------------ */

/* Fields of one message, in the order they are requested (and thus
   printed). */
#define RECORD_FIELDS "mailbox-guid uid guid flags size.physical mailbox"
static const char *const record_keys[] = {
	"mailbox-guid", "uid", "guid", "flags", "size.physical", "mailbox",
};
#define RECORD_KEY_COUNT (sizeof(record_keys) / sizeof(record_keys[0]))

struct record {
	char mailbox_guid[33];
	uint32_t uid;
	uint64_t size;
	char *guid;
	char *flags;
	char *mailbox;
};

static void record_clear(struct record *r)
{
	free(r->guid);
	free(r->flags);
	free(r->mailbox);
	memset(r, 0, sizeof(*r));
}

static void record_move(struct record *dst, struct record *src)
{
	*dst = *src;
	memset(src, 0, sizeof(*src));
}

struct reader {
	struct mc_doveadm_proc *proc;
	/* Without PROC: output held in memory (mc_store_dovecot_parse),
	   handed over at most MEM_CHUNK bytes at a time. */
	const unsigned char *mem;
	size_t mem_len, mem_chunk;
	unsigned char buf[65536];
	size_t pos, len;
	bool eof;
	char *error;			/* a read error, for messages */
};

/* 1: data buffered, 0: end of output, -1: read error. */
static int reader_fill(struct reader *r)
{
	ssize_t n;

	if (r->pos < r->len)
		return 1;
	if (r->eof)
		return 0;
	if (r->proc == NULL) {
		size_t take = r->mem_len < r->mem_chunk ? r->mem_len : r->mem_chunk;

		if (take > sizeof(r->buf))
			take = sizeof(r->buf);
		memcpy(r->buf, r->mem, take);
		r->mem += take;
		r->mem_len -= take;
		n = (ssize_t)take;
	} else {
		n = mc_doveadm_read(r->proc, r->buf, sizeof(r->buf), &r->error);
	}
	if (n < 0)
		return -1;
	if (n == 0) {
		r->eof = true;
		return 0;
	}
	r->pos = 0;
	r->len = (size_t)n;
	return 1;
}

/* One line without its newline. 1: *line_r set (malloc()ed), 0: end
   of output before any byte, -1: error, overlong or unterminated. */
static int reader_line(struct reader *r, char **line_r)
{
	char *line = NULL;
	size_t len = 0;

	*line_r = NULL;
	for (;;) {
		int f = reader_fill(r);
		unsigned char *nl;
		size_t take;

		if (f <= 0) {
			free(line);
			return f == 0 && len == 0 ? 0 : -1;
		}
		nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
		take = nl != NULL ? (size_t)(nl - (r->buf + r->pos)) : r->len - r->pos;
		if (len + take > RECORD_LINE_MAX) {
			free(line);
			return -1;
		}
		line = mc_xrealloc(line, len + take + 1);
		memcpy(line + len, r->buf + r->pos, take);
		len += take;
		line[len] = '\0';
		r->pos += take;
		if (nl != NULL) {
			r->pos++;
			*line_r = line;
			return 1;
		}
	}
}

/* Exactly N bytes into DEST (NULL: skipped). 0, or -1 when the output
   ends first. */
static int reader_exact(struct reader *r, unsigned char *dest, uint64_t n)
{
	while (n > 0) {
		size_t take;

		if (reader_fill(r) <= 0)
			return -1;
		take = r->len - r->pos;
		if (take > n)
			take = (size_t)n;
		if (dest != NULL) {
			memcpy(dest, r->buf + r->pos, take);
			dest += take;
		}
		r->pos += take;
		n -= take;
	}
	return 0;
}

/* Between records: 1 after a form feed line, 0 at the end of output,
   -1 on anything else. */
static int reader_separator(struct reader *r)
{
	unsigned char ff[2];
	int f = reader_fill(r);

	if (f <= 0)
		return f;
	if (reader_exact(r, ff, 2) < 0 || ff[0] != '\f' || ff[1] != '\n')
		return -1;
	return 1;
}

static bool no_control(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*v_r = v;
	return true;
}

static bool valid_mailbox_guid(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		if (!isxdigit((unsigned char)s[n]))
			return false;
	}
	return n == 32;
}

/* One record of RECORD_FIELDS (and with TEXT the "text:" line that
   starts the message). 1 with *rec, 0 at the end of the output,
   -1 when it is not a well-formed record (*why_r says why). */
static int record_read(struct reader *r, bool text, struct record *rec,
		       const char **why_r)
{
	memset(rec, 0, sizeof(*rec));
	for (size_t i = 0; i < RECORD_KEY_COUNT; i++) {
		const char *key = record_keys[i];
		size_t klen = strlen(key);
		char *line;
		const char *value;
		uint64_t v;
		int ret = reader_line(r, &line);

		if (ret == 0 && i == 0)
			return 0;
		if (ret <= 0) {
			*why_r = r->error != NULL ? r->error : "output ends inside a record";
			goto bad;
		}
		if (strncmp(line, key, klen) != 0 || line[klen] != ':' || line[klen + 1] != ' ') {
			free(line);
			*why_r = "unexpected line where a field was expected";
			goto bad;
		}
		value = line + klen + 2;
		switch (i) {
		case 0:
			if (!valid_mailbox_guid(value))
				goto bad_value;
			memcpy(rec->mailbox_guid, value, 33);
			break;
		case 1:
			if (!parse_u64(value, UINT32_MAX, &v) || v == 0)
				goto bad_value;
			rec->uid = (uint32_t)v;
			break;
		case 2:
			if (value[0] == '\0' || !no_control(value))
				goto bad_value;
			rec->guid = mc_xstrdup(value);
			break;
		case 3:
			if (!no_control(value))
				goto bad_value;
			rec->flags = mc_xstrdup(value);
			break;
		case 4:
			if (!parse_u64(value, UINT64_MAX, &v))
				goto bad_value;
			rec->size = v;
			break;
		case 5:
			if (value[0] == '\0' || !no_control(value))
				goto bad_value;
			rec->mailbox = mc_xstrdup(value);
			break;
		}
		free(line);
		continue;
bad_value:
		free(line);
		*why_r = "malformed field value";
		goto bad;
	}
	if (text) {
		char *line;
		int ret = reader_line(r, &line);

		if (ret <= 0 || strcmp(line, "text:") != 0) {
			free(line);
			*why_r = "no message text where it was expected";
			goto bad;
		}
		free(line);
	}
	return 1;
bad:
	record_clear(rec);
	return -1;
}

int mc_store_dovecot_parse(const void *data, size_t len, size_t chunk, bool text,
			   size_t *records_r, char **error_r)
{
	struct reader *r = mc_xcalloc(1, sizeof(*r));
	struct record rec;
	const char *why = NULL;
	int ret;

	r->mem = data;
	r->mem_len = len;
	r->mem_chunk = chunk > 0 ? chunk : 1;
	*records_r = 0;
	/* The walk of batch_next (TEXT) and list_next (without). */
	ret = record_read(r, text, &rec, &why);
	while (ret > 0) {
		(*records_r)++;
		if (text && reader_exact(r, NULL, rec.size) < 0) {
			why = "the message text is shorter than its size.physical";
			ret = -1;
		}
		record_clear(&rec);
		if (ret < 0)
			break;
		ret = reader_separator(r);
		if (ret < 0)
			why = "unexpected output between records";
		if (ret <= 0)
			break;
		ret = record_read(r, text, &rec, &why);
		/* The batch stream cannot end after a separator; the
		   listing takes that as its end. */
		if (ret == 0 && text) {
			why = "the output ends after a record separator";
			ret = -1;
		}
	}
	if (ret < 0)
		mc_error_set(error_r, "%s", why);
	free(r->error);
	free(r);
	return ret < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* The store                                                          */
/* ------------------------------------------------------------------ */

enum dv_mode {
	DV_IDLE,	/* between users */
	DV_BATCH,	/* one fetch of every message of the user */
	DV_LIST,	/* listing, each text fetched alone */
};

struct dovecot_store {
	struct mc_store base;
	struct mc_doveadm dv;
	char *config;			/* dv.config, owned */
	char **users;
	size_t user_count, user_next;

	/* The user being read. */
	char *user;
	enum dv_mode mode;
	struct reader rd;
	struct record ahead;		/* next record, checked */
	bool have_ahead;
	/* What was yielded from the batch stream, so that a switch to
	   the listing skips it: mailboxes finished, and the last UID
	   yielded in the current one. */
	char (*done_boxes)[33];
	size_t done_count, done_cap;
	char cur_box[33];
	uint32_t cur_uid;
	/* A failure to report as an error event before going on. */
	char *pending_error;
};

struct dovecot_msg {
	struct mc_store_msg m;		/* first: what store.c knows */
	char *user;
	char *mailbox;
	char *guid;
	char *flags;
	char mailbox_guid[33];
	uint32_t uid;
};

static bool valid_user_name(const char *s)
{
	return s[0] != '\0' && s[0] != '-' && strlen(s) < 1024 && no_control(s);
}

static void dovecot_destroy(struct mc_store *store)
{
	struct dovecot_store *ds = (struct dovecot_store *)store;

	if (ds->rd.proc != NULL)
		mc_doveadm_finish(&ds->rd.proc, true, NULL);
	free(ds->rd.error);
	record_clear(&ds->ahead);
	for (size_t i = 0; i < ds->user_count; i++)
		free(ds->users[i]);
	free(ds->users);
	free(ds->user);
	free(ds->done_boxes);
	free(ds->pending_error);
	free(ds->config);
}

static struct dovecot_msg *msg_new(struct dovecot_store *ds)
{
	struct dovecot_msg *dm = mc_xcalloc(1, sizeof(*dm));

	mc_store_msg_init(&ds->base, &dm->m, "dovecot");
	return dm;
}

static void dovecot_msg_free(struct mc_store *store, struct mc_msg **msgp)
{
	struct dovecot_msg *dm = (struct dovecot_msg *)*msgp;
	struct mc_store *owner;

	if (dm == NULL)
		return;
	*msgp = NULL;
	owner = dm->m.msg.store_priv != NULL ? dm->m.msg.store_priv : store;
	free(dm->m.buf);
	free(dm->m.path);
	free(dm->m.read_error);
	free(dm->user);
	free(dm->mailbox);
	free(dm->guid);
	free(dm->flags);
	free(dm);
	mc_store_unref(owner);
}

/* A message that stands for a failure of the whole user. */
static struct mc_msg *error_msg(struct dovecot_store *ds, char *why)
{
	struct dovecot_msg *dm = msg_new(ds);

	dm->user = mc_xstrdup(ds->user);
	dm->m.path = mc_xasprintf("dovecot:%s", ds->user != NULL ? ds->user : "");
	dm->m.read_error = why;
	dm->m.msg.loc.user = dm->user;
	dm->m.msg.loc.path = dm->m.path;
	dm->m.msg.read_error = why;
	return &dm->m.msg;
}

/* A message from record REC (moved into it); the caller sets bytes. */
static struct dovecot_msg *record_msg(struct dovecot_store *ds, struct record *rec)
{
	struct dovecot_msg *dm = msg_new(ds);

	dm->user = mc_xstrdup(ds->user);
	dm->mailbox = rec->mailbox;
	dm->guid = rec->guid;
	dm->flags = rec->flags;
	rec->mailbox = rec->guid = rec->flags = NULL;
	memcpy(dm->mailbox_guid, rec->mailbox_guid, sizeof(dm->mailbox_guid));
	dm->uid = rec->uid;
	dm->m.path = mc_xasprintf("dovecot:%s/%s/;UID=%u", dm->user, dm->mailbox, dm->uid);
	dm->m.msg.loc.user = dm->user;
	dm->m.msg.loc.folder = dm->mailbox;
	dm->m.msg.loc.path = dm->m.path;
	dm->m.msg.size = (size_t)rec->size;
	return dm;
}

static void msg_set_bytes(struct dovecot_msg *dm, unsigned char *buf, size_t len)
{
	dm->m.buf = buf;
	dm->m.msg.raw = buf;
	dm->m.msg.raw_size = len;
	dm->m.msg.data = buf;
	dm->m.msg.size = len;
}

static void msg_set_error(struct dovecot_msg *dm, char *why)
{
	free(dm->m.read_error);
	dm->m.read_error = why;
	dm->m.msg.read_error = why;
}

/* The text of one message, fetched alone: output is "text:\n" and
   the message, exactly. 1 with the bytes, 0 when the message is no
   longer there, -1 with *error_r (errno EFBIG: larger than MAX). */
static int fetch_text(const struct mc_doveadm *dv, const char *user,
		      const char *mailbox_guid, uint32_t uid, size_t max,
		      unsigned char **buf_r, size_t *len_r, char **error_r)
{
	char uidstr[16];
	const char *args[] = {
		"-f", "pager", "fetch", "-u", user, "text",
		"mailbox-guid", mailbox_guid, "uid", uidstr, NULL
	};
	char *out;
	size_t len;

	snprintf(uidstr, sizeof(uidstr), "%u", uid);
	if (doveadm_fetch(dv, args, max + 6, &out, &len, error_r) < 0)
		return -1;
	if (len == 0) {
		free(out);
		return 0;
	}
	if (len < 6 || memcmp(out, "text:\n", 6) != 0) {
		free(out);
		return mc_error_set(error_r, "doveadm fetch: unexpected output");
	}
	memmove(out, out + 6, len - 6);
	out[len - 6] = '\0';
	*buf_r = (unsigned char *)out;
	*len_r = len - 6;
	return 1;
}

static void reader_reset(struct reader *r)
{
	if (r->proc != NULL)
		mc_doveadm_finish(&r->proc, true, NULL);
	free(r->error);
	r->error = NULL;
	r->pos = r->len = 0;
	r->eof = false;
}

static void user_reset(struct dovecot_store *ds)
{
	reader_reset(&ds->rd);
	record_clear(&ds->ahead);
	ds->have_ahead = false;
	ds->done_count = 0;
	ds->cur_box[0] = '\0';
	ds->cur_uid = 0;
	ds->mode = DV_IDLE;
}

/* The user's stream has ended (or failed): note doveadm's verdict. */
static void user_finish(struct dovecot_store *ds, const char *what,
			const char *why)
{
	char *err = NULL;
	int code = ds->rd.proc == NULL ? 0 :
		mc_doveadm_finish(&ds->rd.proc, why != NULL, &err);

	if (why != NULL)
		ds->pending_error = mc_xasprintf("cannot read the messages of Dovecot user %s: %s",
						 ds->user, why);
	else if (code != 0) {
		char *f = failure_text(what, code, err);

		ds->pending_error = mc_xasprintf("Dovecot user %s: %s; some messages may not "
						 "have been read", ds->user, f);
		free(f);
	}
	free(err);
	user_reset(ds);
}

static int start_stream(struct dovecot_store *ds, bool text, char **error_r)
{
	const char *args[] = {
		"-f", "pager", "fetch", "-u", ds->user,
		text ? RECORD_FIELDS " text" : RECORD_FIELDS, "ALL", NULL
	};

	reader_reset(&ds->rd);
	return mc_doveadm_start(&ds->dv, args, NULL, 0, &ds->rd.proc, error_r);
}

static void user_begin(struct dovecot_store *ds, const char *user)
{
	const char *why = NULL;
	char *error = NULL;
	int ret;

	user_reset(ds);
	free(ds->user);
	ds->user = mc_xstrdup(user);
	if (start_stream(ds, true, &error) < 0) {
		ds->pending_error = mc_xasprintf("Dovecot user %s: %s", user, error);
		free(error);
		return;
	}
	ret = record_read(&ds->rd, true, &ds->ahead, &why);
	if (ret > 0) {
		ds->have_ahead = true;
		ds->mode = DV_BATCH;
	} else if (ret == 0) {
		user_finish(ds, "doveadm fetch", NULL);
	} else {
		/* Not even the first record: no need for the listing's
		   skip bookkeeping, it starts from the beginning. */
		ds->mode = DV_BATCH;
		ds->have_ahead = false;
	}
}

/* Leave the batch stream for the listing (see DESCRIPTION). */
static void switch_to_list(struct dovecot_store *ds)
{
	const char *why = NULL;
	char *error = NULL;
	int ret;

	if (ds->rd.proc != NULL)
		mc_doveadm_finish(&ds->rd.proc, true, NULL);
	record_clear(&ds->ahead);
	ds->have_ahead = false;
	if (start_stream(ds, false, &error) < 0) {
		user_finish(ds, "doveadm fetch", error);
		free(error);
		return;
	}
	ds->mode = DV_LIST;
	ret = record_read(&ds->rd, false, &ds->ahead, &why);
	if (ret > 0)
		ds->have_ahead = true;
	else if (ret < 0)
		user_finish(ds, "doveadm fetch", why);
	else
		user_finish(ds, "doveadm fetch", NULL);
}

static bool already_yielded(const struct dovecot_store *ds, const struct record *rec)
{
	for (size_t i = 0; i < ds->done_count; i++) {
		if (strcasecmp(ds->done_boxes[i], rec->mailbox_guid) == 0)
			return true;
	}
	return ds->cur_box[0] != '\0' && strcasecmp(ds->cur_box, rec->mailbox_guid) == 0 &&
		rec->uid <= ds->cur_uid;
}

static void note_yielded(struct dovecot_store *ds, const struct dovecot_msg *dm)
{
	memcpy(ds->cur_box, dm->mailbox_guid, sizeof(ds->cur_box));
	ds->cur_uid = dm->uid;
	if (dm->m.container_last) {
		if (ds->done_count == ds->done_cap) {
			ds->done_cap = ds->done_cap == 0 ? 16 : ds->done_cap * 2;
			ds->done_boxes = mc_xrealloc(ds->done_boxes,
						     ds->done_cap * sizeof(*ds->done_boxes));
		}
		memcpy(ds->done_boxes[ds->done_count++], dm->mailbox_guid, 33);
	}
}

/* Next message of the batch stream, or NULL when the stream ended or
   was given up (the mode says which). */
static struct mc_msg *batch_next(struct dovecot_store *ds)
{
	struct record cur;
	struct dovecot_msg *dm;
	unsigned char *buf = NULL;
	bool big, at_end = false;
	const char *why = NULL;
	int ret;

	if (!ds->have_ahead) {
		switch_to_list(ds);
		return NULL;
	}
	record_move(&cur, &ds->ahead);
	ds->have_ahead = false;
	big = cur.size > ds->base.limits.max_message_size || cur.size > SIZE_MAX - 1;
	if (!big)
		buf = mc_xmalloc((size_t)cur.size + 1);
	if (reader_exact(&ds->rd, buf, cur.size) < 0)
		goto misaligned;
	ret = reader_separator(&ds->rd);
	if (ret < 0)
		goto misaligned;
	if (ret == 0) {
		at_end = true;
	} else {
		if (record_read(&ds->rd, true, &ds->ahead, &why) <= 0)
			goto misaligned;
		ds->have_ahead = true;
	}

	dm = record_msg(ds, &cur);
	if (buf != NULL) {
		buf[cur.size] = '\0';
		msg_set_bytes(dm, buf, (size_t)cur.size);
	}
	dm->m.container_last = !ds->have_ahead ||
		strcasecmp(ds->ahead.mailbox_guid, dm->mailbox_guid) != 0;
	note_yielded(ds, dm);
	record_clear(&cur);
	if (at_end)
		user_finish(ds, "doveadm fetch", NULL);
	return &dm->m.msg;

misaligned:
	/* The text was not exactly size.physical bytes, or Dovecot
	   could not read a message: this stream cannot be cut safely
	   any more. The current message was not yielded. */
	free(buf);
	record_clear(&cur);
	switch_to_list(ds);
	return NULL;
}

/* Next message of the listing (each text fetched alone), or NULL
   when there is none to yield for this record. */
static struct mc_msg *list_next(struct dovecot_store *ds)
{
	struct record cur;
	struct dovecot_msg *dm;
	const char *why = NULL;
	char *list_error = NULL;
	unsigned char *buf;
	size_t len;
	char *error = NULL;
	int ret;

	if (!ds->have_ahead) {
		user_finish(ds, "doveadm fetch", NULL);
		return NULL;
	}
	record_move(&cur, &ds->ahead);
	ds->have_ahead = false;
	ret = reader_separator(&ds->rd);
	if (ret > 0) {
		if (record_read(&ds->rd, false, &ds->ahead, &why) > 0)
			ds->have_ahead = true;
		else
			list_error = mc_xstrdup(why);
	} else if (ret < 0) {
		list_error = mc_xstrdup(ds->rd.error != NULL ? ds->rd.error :
					"unexpected output between records");
	}

	if (already_yielded(ds, &cur)) {
		record_clear(&cur);
		dm = NULL;
		goto out;
	}
	dm = record_msg(ds, &cur);
	if (cur.size > ds->base.limits.max_message_size) {
		/* Not read: reported as unscanned by its size. */
	} else {
		ret = fetch_text(&ds->dv, dm->user, dm->mailbox_guid, dm->uid,
				 ds->base.limits.max_message_size, &buf, &len, &error);
		if (ret > 0) {
			msg_set_bytes(dm, buf, len);
		} else if (ret == 0) {
			/* Expunged since it was listed. */
			struct mc_msg *gone = &dm->m.msg;

			dovecot_msg_free(&ds->base, &gone);
			dm = NULL;
		} else if (errno == EFBIG) {
			dm->m.msg.size = ds->base.limits.max_message_size + 1;
			free(error);
		} else {
			msg_set_error(dm, error);
		}
	}
	record_clear(&cur);
	if (dm != NULL) {
		dm->m.container_last = !ds->have_ahead ||
			strcasecmp(ds->ahead.mailbox_guid, dm->mailbox_guid) != 0;
		note_yielded(ds, dm);
	}
out:
	if (list_error != NULL) {
		user_finish(ds, "doveadm fetch", list_error);
		free(list_error);
	} else if (!ds->have_ahead) {
		user_finish(ds, "doveadm fetch", NULL);
	}
	return dm != NULL ? &dm->m.msg : NULL;
}

static int dovecot_next(struct mc_store *store, struct mc_msg **msg_r,
			char **error_r)
{
	struct dovecot_store *ds = (struct dovecot_store *)store;

	*msg_r = NULL;
	for (;;) {
		struct mc_msg *msg = NULL;

		if (ds->pending_error != NULL) {
			char *why = ds->pending_error;

			ds->pending_error = NULL;
			*msg_r = error_msg(ds, why);
			return 1;
		}
		switch (ds->mode) {
		case DV_IDLE:
			if (ds->user_next >= ds->user_count)
				return 0;
			user_begin(ds, ds->users[ds->user_next++]);
			break;
		case DV_BATCH:
			msg = batch_next(ds);
			break;
		case DV_LIST:
			msg = list_next(ds);
			break;
		}
		if (msg != NULL) {
			*msg_r = msg;
			return 1;
		}
	}
}

/* Users matching MASK: a name without wildcards must exist; a mask
   is expanded by the userdb. */
static int list_users(struct dovecot_store *ds, const char *mask, char **error_r)
{
	const char *args[] = { "user", mask, NULL };
	bool wild = strpbrk(mask, "*?") != NULL;
	char *out = NULL, *err = NULL, *save = NULL;
	size_t len;
	int code;

	code = mc_doveadm_run(&ds->dv, args, NULL, 0, 64U << 20, &out, &len, &err, error_r);
	if (code < 0)
		return -1;
	if (code != 0) {
		if (!wild && code == 67)
			mc_error_set(error_r, "dovecot:%s: no such Dovecot user", mask);
		else {
			char *f = failure_text("doveadm user", code, err);
			mc_error_set(error_r, "dovecot:%s: cannot list users: %s", mask, f);
			free(f);
		}
		free(out);
		free(err);
		return -1;
	}
	free(err);
	if (!wild) {
		free(out);
		ds->users = mc_xcalloc(1, sizeof(*ds->users));
		ds->users[0] = mc_xstrdup(mask);
		ds->user_count = 1;
		return 0;
	}
	if (memchr(out, '\0', len) != NULL) {
		free(out);
		return mc_error_set(error_r, "dovecot:%s: unexpected output from doveadm user", mask);
	}
	size_t cap = 0;
	for (char *line = strtok_r(out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '\0')
			continue;
		if (!valid_user_name(line)) {
			free(out);
			return mc_error_set(error_r, "dovecot:%s: doveadm user listed an "
					    "unusable user name", mask);
		}
		MC_ARRAY_PUSH(ds->users, ds->user_count, cap, mc_xstrdup(line));
	}
	free(out);
	if (ds->user_count == 0)
		return mc_error_set(error_r, "dovecot:%s: no Dovecot user matches", mask);
	return 0;
}

static int dovecot_open(const char *uri, const char *path,
			const struct mc_store_settings *set,
			struct mc_store **store_r, char **error_r)
{
	struct dovecot_store *ds;
	const char *mask = path[0] == '\0' ? "*" : path;
	char *error = NULL;
	char *dvpath;

	*store_r = NULL;
	if (!valid_user_name(mask))
		return mc_error_set(error_r, "%s: not a usable user mask", uri);
	ds = mc_xcalloc(1, sizeof(*ds));
	mc_store_base_init(&ds->base, &mc_store_dovecot, uri, set, dovecot_destroy);
	ds->config = mc_xstrdup(doveadm_config(NULL));
	ds->dv.config = ds->config;
	/* Fail now, with a clear message, when there is no doveadm. */
	dvpath = doveadm_path(&ds->dv, &error);
	if (dvpath == NULL) {
		mc_error_set(error_r, "%s: %s", uri, error);
		free(error);
		mc_store_unref(&ds->base);
		return -1;
	}
	free(dvpath);
	if (list_users(ds, mask, error_r) < 0) {
		mc_store_unref(&ds->base);
		return -1;
	}
	*store_r = &ds->base;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Removal                                                            */
/* ------------------------------------------------------------------ */

static char *extra_json(const struct dovecot_msg *dm, const char *config)
{
	json_object *o = json_object_new_object();
	char *s;

	json_object_object_add(o, "mailbox_guid", json_object_new_string(dm->mailbox_guid));
	json_object_object_add(o, "uid", json_object_new_int64(dm->uid));
	json_object_object_add(o, "guid", json_object_new_string(dm->guid != NULL ? dm->guid : ""));
	json_object_object_add(o, "flags", json_object_new_string(dm->flags != NULL ? dm->flags : ""));
	json_object_object_add(o, "dovecot_config",
			       config != NULL ? json_object_new_string(config) : NULL);
	s = mc_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

/* Fetch the message again and keep it only if it is still exactly
   what was scanned; then quarantine it. */
static int quarantine_one(struct dovecot_store *ds, struct mc_quarantine *q,
			  const char *run_id, struct mc_removal *r)
{
	struct dovecot_msg *dm = (struct dovecot_msg *)r->msg;
	struct mc_msg *msg = r->msg;
	unsigned char *now = NULL;
	size_t now_len = 0;
	struct mc_qentry meta;
	struct mc_facts *facts;
	char *error = NULL;
	int ret;

	if (q == NULL)
		return mc_error_set(&r->error, "no quarantine: not removed");
	if (msg->read_error != NULL || msg->raw == NULL)
		return mc_error_set(&r->error, "message was not read: not removed");
	ret = fetch_text(&ds->dv, dm->user, dm->mailbox_guid, dm->uid,
			 msg->raw_size, &now, &now_len, &error);
	if (ret == 0)
		return mc_error_set(&r->error, "no longer in the mailbox: not removed");
	if (ret < 0) {
		if (errno == EFBIG)
			mc_error_set(&r->error, "changed since it was scanned: not removed");
		else
			mc_error_set(&r->error, "cannot read it again (%s): not removed", error);
		free(error);
		return -1;
	}
	if (now_len != msg->raw_size || memcmp(now, msg->raw, now_len) != 0) {
		free(now);
		return mc_error_set(&r->error, "changed since it was scanned: not removed");
	}
	free(now);

	memset(&meta, 0, sizeof(meta));
	meta.run_id = (char *)run_id;
	meta.loc = msg->loc;
	if (r->match != NULL) {
		meta.reasons = r->match->reasons;
		meta.reason_count = r->match->reason_count;
	}
	facts = mc_facts_init(msg, &ds->base.limits);
	if (facts != NULL) {
		meta.from = (char *)mc_facts_header(facts, "From");
		meta.subject = (char *)mc_facts_header(facts, "Subject");
		meta.message_id = (char *)mc_facts_header(facts, "Message-ID");
	}
	meta.extra_json = extra_json(dm, ds->config);
	ret = mc_quarantine_put(q, &meta, msg->raw, msg->raw_size,
				&r->quarantine_id, &r->error);
	free(meta.extra_json);
	mc_facts_free(&facts);
	if (ret < 0 && r->error == NULL)
		r->error = mc_xstrdup("quarantine failed: not removed");
	return ret < 0 ? -1 : 0;
}

/* UIDs of SET (a doveadm uid set) still in mailbox GUID: -1 when
   that cannot be told. */
static int remaining_uids(const struct mc_doveadm *dv, const char *user,
			  const char *guid, const char *set, uint32_t **uids_r,
			  size_t *count_r, char **error_r)
{
	const char *args[] = {
		"-f", "pager", "fetch", "-u", user, "uid",
		"mailbox-guid", guid, "uid", set, NULL
	};
	char *out, *save = NULL;
	size_t len, cap = 0;

	*uids_r = NULL;
	*count_r = 0;
	if (doveadm_fetch(dv, args, 16U << 20, &out, &len, error_r) < 0)
		return -1;
	for (char *line = strtok_r(out, "\n\f", &save); line != NULL;
	     line = strtok_r(NULL, "\n\f", &save)) {
		uint64_t v;

		if (strncmp(line, "uid: ", 5) != 0 || !parse_u64(line + 5, UINT32_MAX, &v)) {
			free(out);
			free(*uids_r);
			*uids_r = NULL;
			*count_r = 0;
			return mc_error_set(error_r, "doveadm fetch: unexpected output");
		}
		MC_ARRAY_PUSH(*uids_r, *count_r, cap, (uint32_t)v);
	}
	free(out);
	return 0;
}

/* Expunge the quarantined messages ITEMS (all of one user and
   mailbox), then see which are really gone. */
static void expunge_chunk(struct dovecot_store *ds, struct mc_quarantine *q,
			  struct mc_removal **items, size_t count)
{
	struct dovecot_msg *first = (struct dovecot_msg *)items[0]->msg;
	size_t cap = count * 11 + 1, o = 0;
	char *set = mc_xmalloc(cap);
	char *err = NULL, *error = NULL;
	uint32_t *left = NULL;
	size_t left_count = 0;
	int code, vret;

	for (size_t i = 0; i < count; i++) {
		const struct dovecot_msg *dm = (const struct dovecot_msg *)items[i]->msg;
		o += (size_t)snprintf(set + o, cap - o, "%s%u", i > 0 ? "," : "", dm->uid);
	}
	const char *args[] = {
		"expunge", "-u", first->user, "mailbox-guid", first->mailbox_guid,
		"uid", set, NULL
	};
	code = mc_doveadm_run(&ds->dv, args, NULL, 0, 1U << 20, NULL, NULL, &err, &error);
	char *expunge_why = code == 0 ? NULL : code < 0 ? mc_xstrdup(error) :
		failure_text("doveadm expunge", code, err);
	free(err);
	free(error);
	error = NULL;
	vret = remaining_uids(&ds->dv, first->user, first->mailbox_guid, set, &left,
			      &left_count, &error);
	for (size_t i = 0; i < count; i++) {
		struct mc_removal *r = items[i];
		const struct dovecot_msg *dm = (const struct dovecot_msg *)r->msg;
		bool still = false;

		if (vret < 0) {
			/* Whether it is gone is unknown: keep the copy, so
			   that nothing can be lost, and say so. */
			mc_error_set(&r->error, "%s%scould not check that it was removed (%s); "
				     "a copy is in quarantine entry %s",
				     expunge_why != NULL ? expunge_why : "",
				     expunge_why != NULL ? "; " : "", error, r->quarantine_id);
			continue;
		}
		for (size_t j = 0; j < left_count; j++)
			still |= left[j] == dm->uid;
		if (!still) {
			r->removed = true;
			continue;
		}
		char *qerr = NULL;
		if (mc_quarantine_discard(q, r->quarantine_id, &qerr) < 0) {
			mc_error_set(&r->error, "%s: not removed, and its quarantine entry %s "
				     "could not be discarded (%s): do not restore it",
				     expunge_why != NULL ? expunge_why : "doveadm expunge left it",
				     r->quarantine_id, qerr);
		} else {
			mc_error_set(&r->error, "%s: not removed",
				     expunge_why != NULL ? expunge_why : "doveadm expunge left it");
			free(r->quarantine_id);
			r->quarantine_id = NULL;
		}
		free(qerr);
	}
	free(expunge_why);
	free(error);
	free(left);
	free(set);
}

static void dovecot_remove(struct mc_store *store, struct mc_quarantine *q,
			   const char *run_id, struct mc_removal *removals,
			   size_t count)
{
	struct dovecot_store *ds = (struct dovecot_store *)store;
	struct mc_removal **ready = mc_xcalloc(count + 1, sizeof(*ready));
	bool *taken = mc_xcalloc(count + 1, sizeof(*taken));
	size_t nready = 0;

	for (size_t i = 0; i < count; i++) {
		if (quarantine_one(ds, q, run_id, &removals[i]) == 0)
			ready[nready++] = &removals[i];
	}
	/* Normally one container is one mailbox; group anyway, as a
	   batch can span mailboxes when a stream was abandoned. */
	for (size_t i = 0; i < nready; i++) {
		const struct dovecot_msg *a = (const struct dovecot_msg *)ready[i]->msg;
		struct mc_removal **group;
		size_t n = 0;

		if (taken[i])
			continue;
		group = mc_xcalloc(nready, sizeof(*group));
		for (size_t j = i; j < nready; j++) {
			const struct dovecot_msg *b = (const struct dovecot_msg *)ready[j]->msg;

			if (!taken[j] && strcmp(a->user, b->user) == 0 &&
			    strcasecmp(a->mailbox_guid, b->mailbox_guid) == 0) {
				taken[j] = true;
				group[n++] = ready[j];
			}
		}
		for (size_t off = 0; off < n; off += EXPUNGE_CHUNK)
			expunge_chunk(ds, q, group + off,
				      n - off > EXPUNGE_CHUNK ? EXPUNGE_CHUNK : n - off);
		free(group);
	}
	free(taken);
	free(ready);
}

/* ------------------------------------------------------------------ */
/* Restore                                                            */
/* ------------------------------------------------------------------ */

/* GUID and UIDNEXT of mailbox NAME: 1 found, 0 not there, -1 error. */
static int mailbox_lookup(const struct mc_doveadm *dv, const char *user,
			  const char *name, char guid_r[33], uint64_t *uidnext_r,
			  char **error_r)
{
	const char *args[] = {
		"-f", "pager", "mailbox", "status", "-u", user, "guid uidnext",
		name[0] == '-' ? "--" : name, name[0] == '-' ? name : NULL, NULL
	};
	char *out, *err = NULL;
	size_t len;
	int code, found = 0;

	code = mc_doveadm_run(dv, args, NULL, 0, 16U << 20, &out, &len, &err, error_r);
	if (code < 0)
		return -1;
	free(err);
	if (code != 0) {
		/* doveadm says "Mailbox doesn't exist" with a failure
		   status; whether that is the reason is settled by the
		   create that follows. */
		free(out);
		return 0;
	}
	/* Records: the name (untitled), then "key: value" lines,
	   separated by form feed lines. */
	char *rec = out;
	while (rec != NULL && found == 0) {
		char *next = strstr(rec, "\n\f\n");
		char *save = NULL, *line;
		bool have_guid = false, have_next = false;

		if (next != NULL) {
			next[1] = '\0';
			next += 3;
		}
		if (strncmp(rec, "\f\n", 2) == 0)
			rec += 2;
		/* The name line is compared whole (it may hold spaces). */
		char *nl = strchr(rec, '\n');
		if (nl == NULL) {
			rec = next;
			continue;
		}
		*nl = '\0';
		if (strcmp(rec, name) != 0) {
			rec = next;
			continue;
		}
		for (line = strtok_r(nl + 1, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, "guid: ", 6) == 0 && valid_mailbox_guid(line + 6)) {
				memcpy(guid_r, line + 6, 33);
				have_guid = true;
			} else if (strncmp(line, "uidnext: ", 9) == 0 &&
				   parse_u64(line + 9, UINT32_MAX, uidnext_r)) {
				have_next = true;
			}
		}
		if (have_guid && have_next)
			found = 1;
		rec = next;
	}
	free(out);
	return found;
}

/* Among the UIDs >= UIDNEXT of mailbox GUID, the one whose text is
   RAW: 1 with *uid_r, 0 none, -1 error. */
static int find_saved(const struct mc_doveadm *dv, const char *user,
		      const char *guid, uint64_t uidnext, const void *raw,
		      size_t raw_size, uint32_t *uid_r, char **error_r)
{
	char range[32];
	const char *args[] = {
		"-f", "pager", "fetch", "-u", user, "uid size.physical",
		"mailbox-guid", guid, "uid", range, NULL
	};
	char *out, *save = NULL;
	uint64_t uid = 0, size;
	size_t len;
	int found = 0;

	snprintf(range, sizeof(range), "%llu:*", (unsigned long long)uidnext);
	if (doveadm_fetch(dv, args, 16U << 20, &out, &len, error_r) < 0)
		return -1;
	for (char *line = strtok_r(out, "\n\f", &save); line != NULL && found == 0;
	     line = strtok_r(NULL, "\n\f", &save)) {
		if (strncmp(line, "uid: ", 5) == 0) {
			if (!parse_u64(line + 5, UINT32_MAX, &uid))
				uid = 0;
			continue;
		}
		if (strncmp(line, "size.physical: ", 15) != 0 ||
		    !parse_u64(line + 15, UINT64_MAX, &size) || uid < uidnext ||
		    size != raw_size)
			continue;
		unsigned char *text;
		size_t text_len;
		char *ferr = NULL;
		int r = fetch_text(dv, user, guid, (uint32_t)uid, raw_size, &text,
				   &text_len, &ferr);
		free(ferr);
		if (r > 0) {
			if (text_len == raw_size && memcmp(text, raw, raw_size) == 0) {
				*uid_r = (uint32_t)uid;
				found = 1;
			}
			free(text);
		}
	}
	free(out);
	return found;
}

/* Flags to set again: all but \Recent, which only the server sets. */
static char *restorable_flags(const char *flags)
{
	char *copy = mc_xstrdup(flags != NULL ? flags : "");
	char *out = mc_xcalloc(1, strlen(copy) + 1);
	char *save = NULL;

	for (char *f = strtok_r(copy, " ", &save); f != NULL; f = strtok_r(NULL, " ", &save)) {
		if (strcasecmp(f, "\\Recent") == 0)
			continue;
		if (out[0] != '\0')
			strcat(out, " ");
		strcat(out, f);
	}
	free(copy);
	return out;
}

/* Whether the message EXTRA (the entry's extra fields) names is still
   in its mailbox: 1 yes, 0 no (or an entry that does not say where it
   was), -1 cannot be told. A removal killed between the quarantine
   and "doveadm expunge" leaves it there; restoring it too would
   duplicate it. The mailbox GUID is never reused and UIDs are never
   reused within a mailbox, so a message at that place is the one. */
static int still_in_mailbox(const struct mc_doveadm *dv, const char *user,
			    json_object *extra, char **error_r)
{
	json_object *g, *u;
	uint32_t *left = NULL;
	size_t left_count = 0;
	char uidstr[16];
	int64_t uid;

	if (extra == NULL || !json_object_object_get_ex(extra, "mailbox_guid", &g) ||
	    !json_object_is_type(g, json_type_string) ||
	    !json_object_object_get_ex(extra, "uid", &u) ||
	    !json_object_is_type(u, json_type_int))
		return 0;
	uid = json_object_get_int64(u);
	if (uid <= 0 || uid > UINT32_MAX || !valid_mailbox_guid(json_object_get_string(g)))
		return 0;
	snprintf(uidstr, sizeof(uidstr), "%u", (uint32_t)uid);
	if (remaining_uids(dv, user, json_object_get_string(g), uidstr, &left,
			   &left_count, error_r) < 0)
		return -1;
	free(left);
	return left_count > 0;
}

static int dovecot_restore(struct mc_quarantine *q, const struct mc_qentry *entry,
			   const void *raw, size_t raw_size, char **error_r)
{
	const char *user = entry->loc.user, *mailbox = entry->loc.folder;
	struct mc_doveadm dv = { NULL, NULL, 0 };
	json_object *extra = NULL, *v;
	const char *flags = NULL;
	char guid[33], *err = NULL, *error = NULL, *want = NULL;
	uint64_t uidnext = 0;
	uint32_t uid;
	int code, ret = -1;

	if (user == NULL || mailbox == NULL || !valid_user_name(user) ||
	    mailbox[0] == '\0' || !no_control(mailbox))
		return mc_error_set(error_r, "the entry does not name a Dovecot user and mailbox");
	if (entry->extra_json != NULL)
		extra = json_tokener_parse(entry->extra_json);
	if (extra != NULL && json_object_object_get_ex(extra, "flags", &v) &&
	    json_object_is_type(v, json_type_string))
		flags = json_object_get_string(v);
	/* The instance the message came from, unless told otherwise. */
	if (doveadm_config(NULL) == NULL && extra != NULL &&
	    json_object_object_get_ex(extra, "dovecot_config", &v) &&
	    json_object_is_type(v, json_type_string))
		dv.config = json_object_get_string(v);

	code = still_in_mailbox(&dv, user, extra, &error);
	if (code != 0) {
		if (code > 0)
			mc_error_set(error_r, "the message is still in mailbox %s of %s (its "
				     "removal was interrupted): restoring it would duplicate it",
				     mailbox, user);
		else
			mc_error_set(error_r, "cannot tell whether the message is still in "
				     "mailbox %s of %s: %s", mailbox, user, error);
		goto out;
	}
	code = mailbox_lookup(&dv, user, mailbox, guid, &uidnext, error_r);
	if (code < 0)
		goto out;
	if (code == 0) {
		const char *args[] = {
			"mailbox", "create", "-u", user,
			mailbox[0] == '-' ? "--" : mailbox, mailbox[0] == '-' ? mailbox : NULL, NULL
		};
		code = mc_doveadm_run(&dv, args, NULL, 0, 1U << 20, NULL, NULL, &err, error_r);
		if (code < 0)
			goto out;
		if (code != 0) {
			char *f = failure_text("doveadm mailbox create", code, err);
			mc_error_set(error_r, "mailbox %s of %s: %s", mailbox, user, f);
			free(f);
			goto out;
		}
		free(err);
		err = NULL;
		code = mailbox_lookup(&dv, user, mailbox, guid, &uidnext, error_r);
		if (code <= 0) {
			if (code == 0)
				mc_error_set(error_r, "mailbox %s of %s: not found after creating it",
					     mailbox, user);
			goto out;
		}
	}

	const char *save_args[] = { "save", "-u", user, "-m", mailbox, NULL };
	code = mc_doveadm_run(&dv, save_args, raw, raw_size, 1U << 20, NULL, NULL, &err,
			      error_r);
	if (code < 0)
		goto out;
	if (code != 0) {
		char *f = failure_text("doveadm save", code, err);
		mc_error_set(error_r, "mailbox %s of %s: %s", mailbox, user, f);
		free(f);
		goto out;
	}
	free(err);
	err = NULL;
	/* The message is back. Its flags are set on the copy that was
	   just saved, found by content among the new UIDs; failing that
	   does not undo the restore (a retry would duplicate it). */
	ret = 0;
	want = restorable_flags(flags);
	if (want[0] == '\0')
		goto out;
	if (find_saved(&dv, user, guid, uidnext, raw, raw_size, &uid, &error) <= 0)
		goto out;
	char uidstr[16];
	snprintf(uidstr, sizeof(uidstr), "%u", uid);
	const char *flag_args[] = {
		"flags", "add", "-u", user, want, "mailbox-guid", guid, "uid", uidstr, NULL
	};
	mc_doveadm_run(&dv, flag_args, NULL, 0, 1U << 20, NULL, NULL, NULL, &error);
out:
	free(err);
	free(error);
	free(want);
	json_object_put(extra);
	return ret;
}

const struct mc_store_ops mc_store_dovecot = {
	.name = "dovecot",
	.detect = NULL,
	.open = dovecot_open,
	.next = dovecot_next,
	.container_last = mc_store_container_last_op,
	.remove = dovecot_remove,
	.msg_free = dovecot_msg_free,
	.close = mc_store_close_op,
	.restore = dovecot_restore,
};
