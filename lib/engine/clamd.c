/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	clamd 3
/* SUMMARY
/*	running clamd daemons as the detection engine
/* SYNOPSIS
/*	extern const struct mc_engine_ops mc_engine_clamd;
/*
/*	int	mc_clamd_reply_parse(const char *reply, size_t len,
/*		const char *label, struct mc_verdict *verdict_r)
/* DESCRIPTION
/*	Sends the scans to one or more running clamd daemons instead of
/*	loading signatures in this process: the server's own clamd,
/*	which has them loaded already, or a farm of them. open() takes
/*	the daemons' addresses where the embedded engine takes
/*	signature paths: a Unix socket path (with a '/') or HOST:PORT
/*	([ADDR]:PORT for IPv6).
/*
/*	Buffers (a message, a part) go as INSTREAM, in chunks with
/*	lengths in network byte order. A file (scan_fd) goes as its
/*	descriptor, passed with SCM_RIGHTS, to a daemon on a Unix
/*	socket (FILDES), so that clamd reads it where it is; to a
/*	daemon on TCP its bytes are streamed. Commands and replies are
/*	NUL-terminated ("z" commands), sent in sessions (IDSESSION)
/*	that are kept open between scans and reused by any thread: a
/*	connection per scan costs clamd more than the scan of a small
/*	message. A session that got an error reply is closed; an idle
/*	one that clamd closed meanwhile (its IdleTimeout) is replaced
/*	by a new one before the daemon counts as failed. A message is
/*	given whole:
/*	clamd parses the mail itself, which is libclamav's verdict on
/*	it, as with the embedded engine. With settings.cache_messages
/*	the verdict cache holds each message's verdict.
/*
/*	The daemons are used in turn (round-robin). One that cannot be
/*	reached, or that closes the connection before its reply (it
/*	died, or was restarted), makes that scan go to the next one, up
/*	to once per daemon (twice with one daemon); then the verdict is
/*	an error naming every daemon tried and why. A daemon that
/*	failed is left out for RETRY_AFTER seconds, then tried again.
/*	A daemon that does not answer within twice the scan time limit
/*	and ten seconds more gives the verdict unscanned, and is left
/*	out as well.
/*
/*	mc_clamd_reply_parse() reads one reply of LEN bytes (without
/*	its NUL) to a scan whose reply is labelled LABEL ("stream" for
/*	INSTREAM): "LABEL: OK" is clean, "LABEL: NAME FOUND" infected,
/*	or unscanned when NAME is one of clamd's limit alerts
/*	(Heuristics.Limits.Exceeded.*, with AlertExceedsMax), "... ERROR"
/*	an error, unscanned when it names a limit ("INSTREAM size limit
/*	exceeded", libclamav's CL_EMAX* and CL_ETIMEOUT). Anything else
/*	is not understood: the verdict is an error, never clean.
/*
/*	clamd decides what it scans: its StreamMaxLength, MaxFileSize,
/*	MaxScanSize, MaxRecursion, MaxFiles and MaxScanTime. It reports
/*	what it could not scan only with AlertExceedsMax yes; without
/*	it a file over a limit is "OK". The protocol does not tell a
/*	client a daemon's configuration, so this is the administrator's
/*	to set (the man page says so). What mailcure knows, it applies
/*	itself: a buffer or file larger than the max file size is not
/*	sent, its verdict is unscanned, as with the embedded engine.
/*
/*	The identity (for the verdict cache) is the daemons' VERSION
/*	replies (program, database version and date), sorted, with the
/*	scan mode and limits.
/* DIAGNOSTICS
/*	open() fails when an address cannot be parsed, or when none of
/*	the daemons answers VERSIONCOMMANDS, naming each and why.
/* SECURITY
/*	A socket path is the administrator's, but its directory may be
/*	writable by the daemon's user: it is walked with mc_safe_walk
/*	(no symlink that a user could have planted), must be a socket,
/*	and the process at the other end must be root or the socket's
/*	owner (SO_PEERCRED), so that a socket swapped in meanwhile by
/*	someone else never receives a descriptor of a user's mail.
/*	Replies are parsed within REPLY_MAX bytes; names are kept as
/*	they are and neutralised where they are printed.
/*--*/

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "internal.h"

/* A daemon that failed is left out this long. */
#define RETRY_AFTER 10.0
/* Connecting and VERSIONCOMMANDS take at most this long. */
#define CONNECT_TIMEOUT_MS 10000
/* A reply longer than this is not one clamd writes. */
#define REPLY_MAX 4096
/* INSTREAM chunk size. */
#define CHUNK ((size_t)256 << 10)

struct clamd_server {
	char *spec;			/* as given */
	bool local;			/* a Unix socket */
	char *path;			/* local */
	char *host, *port;		/* TCP */
	char version[256];		/* its VERSION reply */
	bool fildes;			/* it accepts FILDES */
	double dead_until;		/* mc_now(); 0: alive (atomic) */
	/* Its idle sessions, ready for the next scan. */
	pthread_mutex_t lock;
	struct session *idle;
	size_t idle_count, idle_cap;
};

/* A connection in IDSESSION mode: ID is the number of the last
   command sent on it, which its reply is prefixed with. */
struct session {
	int fd;
	unsigned id;
};

struct mc_engine {
	struct clamd_server *servers;
	size_t count;
	unsigned next;			/* round-robin (atomic) */
	struct mc_limits limits;
	struct mc_engine_settings settings;
	struct mc_engine_stats stats;	/* atomic counters */
	char *version;			/* every daemon's, for reports */
};

/* How an exchange with one daemon ended. */
enum exchange {
	EX_VERDICT,		/* *verdict_r is clamd's verdict */
	EX_RETRY,		/* no verdict; *why_r says why: try another */
	EX_TIMEOUT,		/* no answer in time */
};

static void count(uint64_t *counter)
{
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

static void set_verdict(struct mc_verdict *v, enum mc_verdict_kind kind,
			const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_verdict(struct mc_verdict *v, enum mc_verdict_kind kind,
			const char *fmt, ...)
{
	va_list ap;

	memset(v, 0, sizeof(*v));
	v->kind = kind;
	va_start(ap, fmt);
	vsnprintf(v->name, sizeof(v->name), fmt, ap);
	va_end(ap);
}

static bool starts(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(s, prefix, n) == 0;
}

static bool ends(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* Whether an ERROR reply's text names a limit of clamd's. */
static bool names_limit(const char *s, size_t len)
{
	static const char *const limits[] = {
		"size limit exceeded", "CL_EMAXREC", "CL_EMAXSIZE",
		"CL_EMAXFILES", "CL_ETIMEOUT",
	};

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		if (memmem(s, len, limits[i], strlen(limits[i])) != NULL)
			return true;
	return false;
}

/* The length of REPLY's label LABEL and ": ", or 0 when it has none.
   "fd[" stands for "fd[N]", N the descriptor's number in clamd. */
static size_t label_len(const char *reply, size_t len, const char *label)
{
	size_t lab = strlen(label);

	if (len < lab || memcmp(reply, label, lab) != 0)
		return 0;
	if (lab > 0 && label[lab - 1] == '[') {
		size_t digits = 0;

		while (lab < len && reply[lab] >= '0' && reply[lab] <= '9' && digits < 10) {
			lab++;
			digits++;
		}
		if (digits == 0 || lab >= len || reply[lab] != ']')
			return 0;
		lab++;
	}
	if (len < lab + 2 || reply[lab] != ':' || reply[lab + 1] != ' ')
		return 0;
	return lab + 2;
}

int mc_clamd_reply_parse(const char *reply, size_t len, const char *label,
			 struct mc_verdict *verdict_r)
{
	size_t lab;
	const char *body;
	size_t n;

	/* Printable ASCII only: a reply is a fixed word, a signature
	   name or an error text. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)reply[i] < 0x20 || (unsigned char)reply[i] > 0x7e)
			goto unknown;
	if ((lab = label_len(reply, len, label)) == 0) {
		/* Errors about the command itself come unlabelled. */
		if (ends(reply, len, " ERROR") && len > 6) {
			set_verdict(verdict_r, names_limit(reply, len) ?
				    MC_VERDICT_UNSCANNED : MC_VERDICT_ERROR,
				    "%s (clamd: %.*s)", names_limit(reply, len) ?
				    "engine limit reached" : "engine error",
				    (int)(len - 6), reply);
			return 0;
		}
		goto unknown;
	}
	body = reply + lab;
	n = len - lab;
	if (n == 2 && memcmp(body, "OK", 2) == 0) {
		set_verdict(verdict_r, MC_VERDICT_CLEAN, "%s", "");
		return 0;
	}
	if (n > 6 && ends(body, n, " FOUND")) {
		n -= 6;
		if (memchr(body, ' ', n) != NULL)
			goto unknown;	/* clamd's names hold no space */
		if (starts(body, n, "Heuristics.Limits.Exceeded")) {
			set_verdict(verdict_r, MC_VERDICT_UNSCANNED,
				    "engine limit reached (%.*s)", (int)n, body);
			return 0;
		}
		set_verdict(verdict_r, MC_VERDICT_INFECTED, "%.*s", (int)n, body);
		return 0;
	}
	if (n > 6 && ends(body, n, " ERROR")) {
		n -= 6;
		set_verdict(verdict_r, names_limit(body, n) ? MC_VERDICT_UNSCANNED :
			    MC_VERDICT_ERROR, "%s (clamd: %.*s)",
			    names_limit(body, n) ? "engine limit reached" : "engine error",
			    (int)n, body);
		return 0;
	}
unknown:
	set_verdict(verdict_r, MC_VERDICT_ERROR, "engine error (clamd reply not "
		    "understood: \"%.*s\")", (int)(len > 160 ? 160 : len), reply);
	return -1;
}

/* --- addresses and connections --- */

static int parse_address(const char *spec, struct clamd_server *s, char **error_r)
{
	const char *colon, *host = spec;
	size_t host_len;
	char *end;
	unsigned long port;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->spec = mc_xstrdup(spec);
	if (strchr(spec, '/') != NULL) {
		s->local = true;
		s->path = mc_xstrdup(spec);
		return 0;
	}
	colon = strrchr(spec, ':');
	if (colon == NULL || colon == spec)
		return mc_error_set(error_r, "clamd address %s: neither a socket path "
				    "(with a '/') nor HOST:PORT", spec);
	host_len = (size_t)(colon - spec);
	if (spec[0] == '[') {
		if (host_len < 3 || spec[host_len - 1] != ']')
			return mc_error_set(error_r, "clamd address %s: bad [ADDRESS]:PORT", spec);
		host++;
		host_len -= 2;
	} else if (memchr(spec, ':', host_len) != NULL) {
		return mc_error_set(error_r, "clamd address %s: write an IPv6 address "
				    "as [ADDRESS]:PORT", spec);
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 ||
	    port == 0 || port > 65535)
		return mc_error_set(error_r, "clamd address %s: bad port", spec);
	s->host = mc_xstrndup(host, host_len);
	s->port = mc_xstrdup(colon + 1);
	return 0;
}

/* Wait until FD is ready for EVENTS or DEADLINE (mc_now()) passes:
   1 ready, 0 time out, -1 error. */
static int wait_fd(int fd, short events, double deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		double left = deadline - mc_now();
		int r;

		if (left <= 0)
			return 0;
		r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r > 0)
			return 1;
		if (r == 0)
			continue;
		if (errno != EINTR)
			return -1;
	}
}

static int connect_wait(int fd, const struct sockaddr *sa, socklen_t len,
			double deadline)
{
	int err = 0;
	socklen_t elen = sizeof(err);

	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EAGAIN)
		return -1;
	if (wait_fd(fd, POLLOUT, deadline) <= 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/* Connect to a daemon's Unix socket (see SECURITY). */
static int connect_local(const struct clamd_server *s, double deadline,
			 char **why_r)
{
	struct mc_safe_path w;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int fd = -1;

	if (mc_safe_walk(s->path, &w, why_r) < 0)
		return -1;
	if (!S_ISSOCK(w.st.st_mode)) {
		mc_error_set(why_r, "%s is not a socket", s->path);
		goto out;
	}
	/* Through the directory already walked: the path is not looked
	   up again, only its last name. */
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d/%s",
			     w.dirfd, w.name) >= sizeof(sun.sun_path)) {
		mc_error_set(why_r, "socket name %s too long", w.name);
		goto out;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect_wait(fd, (struct sockaddr *)&sun, sizeof(sun), deadline) < 0) {
		mc_error_errno(why_r, "connect");
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		mc_error_errno(why_r, "SO_PEERCRED");
		goto fail;
	}
	if (cred.uid != 0 && cred.uid != w.st.st_uid) {
		mc_error_set(why_r, "the socket's listener (uid %lu) is neither root "
			     "nor its owner (uid %lu)", (unsigned long)cred.uid,
			     (unsigned long)w.st.st_uid);
		goto fail;
	}
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	fd = -1;
out:
	mc_safe_path_deinit(&w);
	return fd;
}

static int connect_tcp(const struct clamd_server *s, double deadline, char **why_r)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	int fd = -1, err, one = 1;

	if ((err = getaddrinfo(s->host, s->port, &hints, &res)) != 0)
		return mc_error_set(why_r, "%s", gai_strerror(err));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd >= 0 && connect_wait(fd, ai->ai_addr, ai->ai_addrlen, deadline) == 0)
			break;
		mc_error_errno(why_r, "connect");
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int server_connect(const struct clamd_server *s, double deadline,
			  char **why_r)
{
	return s->local ? connect_local(s, deadline, why_r) :
		connect_tcp(s, deadline, why_r);
}

/* Send all of IOV (IOVCNT buffers; they are consumed), and with FD
   (not -1) as SCM_RIGHTS with the first byte. 0, or -1 with errno
   (ETIMEDOUT when DEADLINE passed). */
static int send_all(int sock, struct iovec *iov, int iovcnt, int fd, double deadline)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;

	while (iovcnt > 0) {
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };
		ssize_t n;

		if (fd >= 0) {
			struct cmsghdr *c;

			memset(&control, 0, sizeof(control));
			msg.msg_control = control.buf;
			msg.msg_controllen = sizeof(control.buf);
			c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &fd, sizeof(int));
		}
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			if (wait_fd(sock, POLLOUT, deadline) <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			continue;
		}
		fd = -1;	/* passed with the first bytes */
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* Read a NUL-terminated reply into BUF (REPLY_MAX + 1 bytes): its
   length, or -1 with errno (ETIMEDOUT; EPROTO when the connection
   ended before the NUL or the reply is too long). */
static ssize_t read_reply(int sock, char *buf, double deadline)
{
	size_t len = 0;

	for (;;) {
		ssize_t n = recv(sock, buf + len, REPLY_MAX + 1 - len, 0);
		char *nul;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			if (wait_fd(sock, POLLIN, deadline) <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			continue;
		}
		if (n == 0) {
			errno = EPROTO;
			return -1;
		}
		if ((nul = memchr(buf + len, '\0', (size_t)n)) != NULL)
			return nul - buf;
		len += (size_t)n;
		if (len > REPLY_MAX) {
			errno = EPROTO;
			return -1;
		}
	}
}

/* --- one exchange --- */

/* What is scanned: DATA/SIZE, or the file open on FD. */
struct subject {
	const void *data;
	size_t size;
	int fd;
};

/* The INSTREAM chunks of SUBJ after the command, then the end. */
static int send_stream(int sock, const struct subject *subj, double deadline)
{
	unsigned char *buf = subj->fd >= 0 ? mc_xmalloc(CHUNK) : NULL;
	uint64_t off = 0;
	uint32_t len_be;
	int ret = 0;

	for (;;) {
		const void *chunk;
		size_t n;
		struct iovec iov[2];

		if (subj->fd >= 0) {
			ssize_t got = mc_pread_all(subj->fd, buf, CHUNK, (off_t)off);

			if (got < 0) {
				ret = -2;
				break;
			}
			chunk = buf;
			n = (size_t)got;
		} else {
			chunk = (const unsigned char *)subj->data + off;
			n = subj->size - off < CHUNK ? subj->size - off : CHUNK;
		}
		len_be = htonl((uint32_t)n);
		iov[0] = (struct iovec){ &len_be, 4 };
		iov[1] = (struct iovec){ (void *)chunk, n };
		if (send_all(sock, iov, n > 0 ? 2 : 1, -1, deadline) < 0) {
			ret = -1;
			break;
		}
		if (n == 0)
			break;
		off += n;
	}
	free(buf);
	return ret;
}

static void session_put(struct clamd_server *s, const struct session *c)
{
	pthread_mutex_lock(&s->lock);
	MC_ARRAY_PUSH(s->idle, s->idle_count, s->idle_cap, *c);
	pthread_mutex_unlock(&s->lock);
}

/* An idle session of S, or a new one (FD -1 when S cannot be
   reached: *why_r says why). *REUSED_R: it was idle, and may have
   been closed by clamd since (its IdleTimeout). */
static struct session session_get(struct clamd_server *s, bool *reused_r,
				  char **why_r)
{
	static const char idsession[] = "zIDSESSION";
	struct session c = { -1, 0 };
	struct iovec iov = { (void *)idsession, sizeof(idsession) };
	double deadline = mc_now() + CONNECT_TIMEOUT_MS / 1000.0;

	pthread_mutex_lock(&s->lock);
	*reused_r = s->idle_count > 0;
	if (*reused_r)
		c = s->idle[--s->idle_count];
	pthread_mutex_unlock(&s->lock);
	if (*reused_r)
		return c;
	if ((c.fd = server_connect(s, deadline, why_r)) >= 0 &&
	    send_all(c.fd, &iov, 1, -1, deadline) < 0) {
		mc_error_errno(why_r, "IDSESSION");
		close(c.fd);
		c.fd = -1;
	}
	return c;
}

static void sessions_close(struct clamd_server *s)
{
	static const char end[] = "zEND";

	for (size_t i = 0; i < s->idle_count; i++) {
		(void)send(s->idle[i].fd, end, sizeof(end), MSG_NOSIGNAL | MSG_DONTWAIT);
		close(s->idle[i].fd);
	}
	s->idle_count = 0;
}

/* REPLY without its session prefix "ID: ", or NULL when it has not
   that prefix. */
static const char *session_reply(const char *reply, size_t *len, unsigned id)
{
	char prefix[16];
	size_t n = (size_t)snprintf(prefix, sizeof(prefix), "%u: ", id);

	if (*len < n || memcmp(reply, prefix, n) != 0)
		return NULL;
	*len -= n;
	return reply + n;
}

/* One command on session C: the reply's length (its text in REPLY
   from *AT_R), -1 (errno) when the connection failed, -2 (errno)
   when reading SUBJ failed. */
static ssize_t session_scan(struct session *c, bool pass_fd,
			    const struct subject *subj, double deadline,
			    char *reply, const char **at_r)
{
	static const char instream[] = "zINSTREAM", fildes[] = "zFILDES";
	char dummy = '\0';
	struct iovec iov = { (void *)(pass_fd ? fildes : instream),
			     pass_fd ? sizeof(fildes) : sizeof(instream) };
	ssize_t len;
	size_t n;
	int sent, saved;

	c->id++;
	sent = send_all(c->fd, &iov, 1, -1, deadline);
	if (sent == 0 && pass_fd) {
		iov = (struct iovec){ &dummy, 1 };
		sent = send_all(c->fd, &iov, 1, subj->fd, deadline);
	} else if (sent == 0) {
		sent = send_stream(c->fd, subj, deadline);
	}
	saved = errno;
	if (sent == -2)
		return -2;
	/* clamd replies before it closes on a stream over its
	   StreamMaxLength: the reply is read even when sending failed. */
	if ((len = read_reply(c->fd, reply, deadline)) < 0) {
		if (sent < 0 && errno != ETIMEDOUT)
			errno = saved;
		return -1;
	}
	n = (size_t)len;
	if ((*at_r = session_reply(reply, &n, c->id)) == NULL) {
		*at_r = reply;	/* not understood, as it is */
		n = (size_t)len;
	}
	return (ssize_t)n;
}

/* One scan of SUBJ by daemon S, on one of its sessions. */
static enum exchange exchange(struct mc_engine *engine, struct clamd_server *s,
			      const struct subject *subj, double deadline,
			      struct mc_verdict *verdict_r, char **why_r)
{
	bool pass_fd = subj->fd >= 0 && s->local && s->fildes;
	char reply[REPLY_MAX + 1];
	const char *at;
	struct session c;
	bool reused;
	ssize_t len;

	for (;;) {
		/* One that cannot be reached is one to leave out, whether
		   it refuses or does not answer. */
		if ((c = session_get(s, &reused, why_r)).fd < 0)
			return EX_RETRY;
		len = session_scan(&c, pass_fd, subj, deadline, reply, &at);
		if (len >= 0)
			break;
		close(c.fd);
		if (len == -2) {
			set_verdict(verdict_r, MC_VERDICT_ERROR, "read error: %s",
				    strerror(errno));
			return EX_VERDICT;
		}
		if (errno == ETIMEDOUT)
			return EX_TIMEOUT;
		/* An idle session that clamd closed meanwhile: a new one. */
		if (reused)
			continue;
		mc_error_set(why_r, "%s", errno == EPROTO ?
			     "the connection ended without a reply" : strerror(errno));
		return EX_RETRY;
	}
	/* After an error clamd may end the session: not kept. */
	if (mc_clamd_reply_parse(at, (size_t)len, pass_fd ? "fd[" : "stream",
				 verdict_r) == 0 && verdict_r->kind != MC_VERDICT_ERROR &&
	    !ends(at, (size_t)len, " ERROR"))
		session_put(s, &c);
	else
		close(c.fd);
	return EX_VERDICT;
}

/* The verdict on SUBJ from the farm (see DESCRIPTION). */
static void scan_subject(struct mc_engine *engine, const struct subject *subj,
			 struct mc_verdict *verdict_r)
{
	unsigned limit = engine->limits.max_scan_time_ms;
	size_t attempts = engine->count > 1 ? engine->count : 2;
	bool *tried = mc_xcalloc(engine->count, sizeof(bool));
	struct mc_buf whys = { 0 };
	size_t start;

	if (engine->limits.max_file_size > 0 && subj->size > engine->limits.max_file_size) {
		set_verdict(verdict_r, MC_VERDICT_UNSCANNED,
			    "engine limit reached (Heuristics.Limits.Exceeded.MaxFileSize: "
			    "%llu bytes to scan, the limit is %llu)",
			    (unsigned long long)subj->size,
			    (unsigned long long)engine->limits.max_file_size);
		free(tried);
		return;
	}
	start = __atomic_fetch_add(&engine->next, 1, __ATOMIC_RELAXED);
	for (size_t a = 0; a < attempts; a++) {
		struct clamd_server *s = NULL;
		double now = mc_now(), until;
		char *why = NULL;
		enum exchange ex;

		/* The next daemon not tried yet, alive ones first. */
		for (int pass = 0; pass < 2 && s == NULL; pass++)
			for (size_t i = 0; i < engine->count && s == NULL; i++) {
				size_t k = (start + a + i) % engine->count;

				__atomic_load(&engine->servers[k].dead_until, &until,
					      __ATOMIC_RELAXED);
				if ((!tried[k] || engine->count == 1) &&
				    (pass == 1 || until <= now))
					s = &engine->servers[k];
			}
		if (s == NULL)
			break;
		tried[s - engine->servers] = true;
		ex = exchange(engine, s, subj,
			      now + (limit > 0 ? limit * 2.0 + 10000 : 600000) / 1000.0,
			      verdict_r, &why);
		if (ex == EX_VERDICT) {
			free(why);
			free(whys.s);
			free(tried);
			return;
		}
		until = mc_now() + RETRY_AFTER;
		__atomic_store(&s->dead_until, &until, __ATOMIC_RELAXED);
		if (ex == EX_TIMEOUT) {
			set_verdict(verdict_r, MC_VERDICT_UNSCANNED,
				    "engine scan time limit reached (clamd %s did not "
				    "answer in time)", s->spec);
			free(why);
			free(whys.s);
			free(tried);
			return;
		}
		if (whys.len > 0)
			mc_buf_add(&whys, "; ", 2);
		mc_buf_add(&whys, s->spec, strlen(s->spec));
		mc_buf_add(&whys, ": ", 2);
		if (why == NULL)
			why = mc_xstrdup("failed");
		mc_buf_add(&whys, why, strlen(why));
		free(why);
	}
	set_verdict(verdict_r, MC_VERDICT_ERROR, "engine unavailable (no clamd "
		    "answered: %s)", whys.s != NULL ? whys.s : "none to try");
	free(whys.s);
	free(tried);
}

/* --- the engine ops --- */

static void clamd_close(struct mc_engine **engine);

/* Ask daemon S for its version and commands. */
static int server_probe(struct clamd_server *s, char **why_r)
{
	static const char cmd[] = "zVERSIONCOMMANDS";
	double deadline = mc_now() + CONNECT_TIMEOUT_MS / 1000.0;
	struct iovec iov = { (void *)cmd, sizeof(cmd) };
	char reply[REPLY_MAX + 1], *bar;
	ssize_t len;
	int sock;

	if ((sock = server_connect(s, deadline, why_r)) < 0)
		return -1;
	if (send_all(sock, &iov, 1, -1, deadline) < 0 ||
	    (len = read_reply(sock, reply, deadline)) < 0) {
		mc_error_errno(why_r, "VERSIONCOMMANDS");
		close(sock);
		return -1;
	}
	close(sock);
	reply[len] = '\0';
	if (strncmp(reply, "ClamAV ", 7) != 0)
		return mc_error_set(why_r, "not a clamd reply to VERSIONCOMMANDS");
	bar = strstr(reply, "| COMMANDS:");
	if (bar == NULL || strstr(bar, " INSTREAM") == NULL)
		return mc_error_set(why_r, "the daemon does not offer INSTREAM");
	s->fildes = strstr(bar, " FILDES") != NULL;
	*bar = '\0';
	for (char *p = reply; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	snprintf(s->version, sizeof(s->version), "%.200s", reply);
	return 0;
}

static int cmp_version(const void *a, const void *b)
{
	return strcmp((*(struct clamd_server *const *)a)->version,
		      (*(struct clamd_server *const *)b)->version);
}

static int clamd_open(const char *const *addrs, size_t count,
		      const struct mc_limits *limits,
		      struct mc_engine **engine_r, char **error_r)
{
	struct mc_engine *engine;
	struct clamd_server **sorted;
	struct mc_buf whys = { 0 }, version = { 0 };
	size_t alive = 0;

	if (count == 0)
		return mc_error_set(error_r, "no clamd address given");
	engine = mc_xcalloc(1, sizeof(*engine));
	engine->servers = mc_xcalloc(count, sizeof(*engine->servers));
	engine->limits = *limits;
	for (size_t i = 0; i < count; i++) {
		char *why = NULL;

		if (parse_address(addrs[i], &engine->servers[engine->count++], error_r) < 0)
			goto fail;
		if (server_probe(&engine->servers[i], &why) == 0) {
			alive++;
			continue;
		}
		/* Tried again when a scan comes to it. */
		engine->servers[i].dead_until = mc_now() + RETRY_AFTER;
		snprintf(engine->servers[i].version, sizeof(engine->servers[i].version),
			 "no answer");
		if (whys.len > 0)
			mc_buf_add(&whys, "; ", 2);
		mc_buf_add(&whys, addrs[i], strlen(addrs[i]));
		mc_buf_add(&whys, ": ", 2);
		mc_buf_add(&whys, why, strlen(why));
		free(why);
	}
	if (alive == 0) {
		mc_error_set(error_r, "no clamd answers (%s)", whys.s);
		goto fail;
	}
	free(whys.s);
	sorted = mc_xcalloc(count, sizeof(*sorted));
	for (size_t i = 0; i < count; i++)
		sorted[i] = &engine->servers[i];
	qsort(sorted, count, sizeof(*sorted), cmp_version);
	for (size_t i = 0; i < count; i++) {
		if (i > 0 && strcmp(sorted[i]->version, sorted[i - 1]->version) == 0)
			continue;
		if (version.len > 0)
			mc_buf_add(&version, ", ", 2);
		mc_buf_add(&version, sorted[i]->version, strlen(sorted[i]->version));
	}
	free(sorted);
	engine->version = mc_xasprintf("clamd: %s", version.s);
	free(version.s);
	*engine_r = engine;
	return 0;
fail:
	free(whys.s);
	clamd_close(&engine);
	return -1;
}

static void clamd_scan_buffer(struct mc_engine *engine, const void *data,
			      size_t size, struct mc_verdict *verdict_r)
{
	struct subject subj = { data, size, -1 };

	scan_subject(engine, &subj, verdict_r);
}

static void clamd_scan_fd(struct mc_engine *engine, int fd, const char *name,
			  struct mc_verdict *verdict_r)
{
	struct subject subj = { NULL, 0, fd };
	struct stat st;

	if (fstat(fd, &st) < 0) {
		set_verdict(verdict_r, MC_VERDICT_ERROR, "read error: %s", strerror(errno));
		return;
	}
	subj.size = (size_t)st.st_size;
	scan_subject(engine, &subj, verdict_r);
}

static void clamd_scan_message(struct mc_engine *engine, const struct mc_msg *msg,
			       struct mc_facts *facts, struct mc_verdict *verdict_r)
{
	struct mc_cache *cache = engine->settings.cache;
	bool cached = cache != NULL && engine->settings.cache_messages &&
		msg->data != NULL && msg->size > 0;
	struct mc_cache_entry e;
	unsigned char key[32];

	(void)facts;
	if (cached) {
		mc_cache_message_key(msg->data, msg->size, key);
		if (mc_cache_get(cache, key, &e)) {
			count(&engine->stats.messages_cached);
			memset(verdict_r, 0, sizeof(*verdict_r));
			verdict_r->kind = e.kind;
			if (e.kind == MC_VERDICT_INFECTED)
				snprintf(verdict_r->name, sizeof(verdict_r->name), "%s", e.name);
			return;
		}
	}
	count(&engine->stats.messages_whole);
	clamd_scan_buffer(engine, msg->data != NULL ? (const void *)msg->data : "",
			  msg->size, verdict_r);
	if (cached && (verdict_r->kind == MC_VERDICT_CLEAN ||
		       verdict_r->kind == MC_VERDICT_INFECTED)) {
		memset(&e, 0, sizeof(e));
		e.kind = verdict_r->kind;
		e.name = verdict_r->name;
		mc_cache_put(cache, key, &e);
	}
}

static void clamd_configure(struct mc_engine *engine,
			    const struct mc_engine_settings *settings)
{
	engine->settings = *settings;
	engine->settings.tempdir = NULL;	/* not kept: the caller's string */
}

static int clamd_identity(struct mc_engine *engine, unsigned char out[32],
			  char **error_r)
{
	char *head = mc_xasprintf("%s mode=%d cache-messages filesize=%llu",
				  engine->version, (int)engine->settings.mode,
				  (unsigned long long)engine->limits.max_file_size);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, head, strlen(head) + 1) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
	free(head);
	return 0;
}

static void clamd_stats(struct mc_engine *engine, struct mc_engine_stats *stats_r)
{
	memset(stats_r, 0, sizeof(*stats_r));
	__atomic_load(&engine->stats.messages_whole, &stats_r->messages_whole, __ATOMIC_RELAXED);
	__atomic_load(&engine->stats.messages_cached, &stats_r->messages_cached, __ATOMIC_RELAXED);
}

static const char *clamd_version(struct mc_engine *engine, unsigned *sigs_r)
{
	if (sigs_r != NULL)
		*sigs_r = 0;	/* clamd does not say */
	return engine->version;
}

static void clamd_close(struct mc_engine **_engine)
{
	struct mc_engine *engine = *_engine;

	if (engine == NULL)
		return;
	*_engine = NULL;
	for (size_t i = 0; i < engine->count; i++) {
		sessions_close(&engine->servers[i]);
		free(engine->servers[i].idle);
		pthread_mutex_destroy(&engine->servers[i].lock);
		free(engine->servers[i].spec);
		free(engine->servers[i].path);
		free(engine->servers[i].host);
		free(engine->servers[i].port);
	}
	free(engine->servers);
	free(engine->version);
	free(engine);
}

const struct mc_engine_ops mc_engine_clamd = {
	.name = "clamd",
	.open = clamd_open,
	.scan_buffer = clamd_scan_buffer,
	.scan_fd = clamd_scan_fd,
	.scan_message = clamd_scan_message,
	.configure = clamd_configure,
	.identity = clamd_identity,
	.stats = clamd_stats,
	.version = clamd_version,
	.close = clamd_close,
};
