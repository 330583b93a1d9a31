/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	scanpool 3
/* SUMMARY
/*	scan processes: the engine's scans run in single-threaded children
/* SYNOPSIS
/*	#include "internal.h"
/*
/*	struct mc_scanpool *mc_scanpool_new(unsigned slots,
/*				size_t req_size, size_t resp_size,
/*				mc_scanpool_init_fn *prepare,
/*				mc_scanpool_init_fn *init,
/*				mc_scanpool_fn *fn, void *ctx)
/*
/*	int	mc_scanpool_prepare(struct mc_scanpool *pool)
/*
/*	enum mc_scanpool_result mc_scanpool_scan(struct mc_scanpool *pool,
/*				const struct iovec *iov, unsigned iovcnt,
/*				int fd, const void *req, void *resp,
/*				unsigned timeout_ms, int *status_r)
/*
/*	const char *mc_scanpool_error(struct mc_scanpool *pool)
/*
/*	void	mc_scanpool_verdict(struct mc_scanpool *pool,
/*				enum mc_scanpool_result result, int status,
/*				struct mc_verdict *verdict_r)
/*
/*	void	mc_scanpool_free(struct mc_scanpool **pool)
/* DESCRIPTION
/*	A pool runs FN, the engine's scan of one buffer (the IOV
/*	buffers one after the other) or of the file open on FD (not
/*	-1), in processes of their own, at most SLOTS at a time, one
/*	scan per process at a time. Any number of threads may call
/*	mc_scanpool_scan().
/*
/*	Why processes: the engine (libclamav) parses hostile input in
/*	C. A crash or a hang then costs one scan, reported as such,
/*	not the whole run (a run may be halfway through quarantining
/*	a store). And libclamav unpacks into temporary files that it
/*	maps page by page; in a multi-threaded process every such page
/*	fault interrupts the other workers' CPUs to flush their TLBs,
/*	which costs 10 % of a two-worker scan. A single-threaded
/*	process has no other CPU to interrupt.
/*
/*	mc_scanpool_new() forks one helper, the zygote, while the
/*	caller is still single-threaded (it must be: call it before
/*	starting threads). Scan processes are forked by the zygote on
/*	demand, never by the threaded caller, so each starts from the
/*	state the caller had at mc_scanpool_new(), and what PREPARE
/*	(may be NULL) added to it: PREPARE runs in the zygote before
/*	its first fork (or when mc_scanpool_prepare() asks), once. The
/*	engine loads its signatures there: scan processes share them
/*	copy-on-write, the caller holds no copy, and a run that needs
/*	no scan does not load them. The zygote closes every descriptor
/*	but its socket and stderr, so that no scan process holds a
/*	lock, a mailbox or the caller's output open.
/*
/*	Data travel through a shared memory window per slot (a memfd
/*	mapped by both sides: one copy, no page faults once warm); the
/*	request (REQ_SIZE bytes) and the response (RESP_SIZE bytes)
/*	travel as one datagram each. A descriptor goes with the
/*	request (SCM_RIGHTS): a file is scanned where it is, not
/*	copied, and the scan process opens nothing by name.
/*
/*	mc_scanpool_scan() returns MC_SCANPOOL_OK with RESP filled;
/*	MC_SCANPOOL_DIED when the scan process died while scanning
/*	this data (*status_r: its wait status); MC_SCANPOOL_TIMEOUT
/*	when it did not answer within TIMEOUT_MS (0: no limit), after
/*	which it is killed; MC_SCANPOOL_UNAVAILABLE when the data do
/*	not fit the window or no process can be started: the caller
/*	then scans in its own process. A slot whose process died gets
/*	a new one at its next scan.
/*
/*	INIT (may be NULL) runs in each scan process before its first
/*	scan: there it may take a directory of its own and give up
/*	privileges. The process says whether it did before it is
/*	used. When INIT fails, that scan and every later one return
/*	MC_SCANPOOL_FAILED, and mc_scanpool_error() says why: no more
/*	processes are started, and nothing is scanned without INIT.
/*	So it is when PREPARE fails; mc_scanpool_prepare() returns -1
/*	then, and 0 once PREPARE has run.
/*
/*	mc_scanpool_verdict() is the verdict of a scan that returned
/*	neither MC_SCANPOOL_OK nor MC_SCANPOOL_UNAVAILABLE: an error
/*	naming the crash (its signal or exit status) or why no scan
/*	process could be set up, or unscanned after a timeout.
/*
/*	Scan processes ignore the terminal's and kill's stop signals
/*	(SIGINT, SIGTERM, ...): they end when the caller closes the
/*	pool or dies (end of file on their socket, and the parent-death
/*	signal). mc_scanpool_free() ends them and waits for them, so
/*	their CPU time is the caller's in wait4() and time(1).
/* SECURITY
/*	The scan processes run with no-new-privileges, and as whatever
/*	user INIT makes them. The parent-death signal is set after
/*	INIT, as a change of user clears it.
/*--*/

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "mailcure/mailcure.h"
#include "internal.h"

/* The window: the largest buffer a scan process takes. Virtual only
   (a sparse memfd); what a scan touches stays resident up to
   WINDOW_KEEP and is given back above it. */
#define WINDOW_SIZE	((size_t)1 << 30)
#define WINDOW_KEEP	((size_t)1 << 20)

/* Blocks up to this size come from a scan process's heap. */
#define SCAN_MMAP_THRESHOLD (32 << 20)

/* A new scan process's first word: whether INIT went well. */
struct ready {
	int ok;
	char why[256];
};

/* Requests to the zygote, and its replies. */
enum { ZYGOTE_SPAWN = 1, ZYGOTE_REAP, ZYGOTE_PREPARE };

struct zygote_request {
	int op;
	pid_t pid;		/* ZYGOTE_REAP: whom */
};

struct zygote_reply {
	pid_t pid;		/* ZYGOTE_SPAWN: the new process, or 0 */
	int value;		/* errno, or the wait status; -1: PREPARE
				   failed, for the reason in why */
	char why[256];
};

struct slot {
	pthread_mutex_t lock;
	pid_t pid;		/* 0: no process yet, or it died */
	int sock;		/* to the scan process */
	unsigned char *window;	/* shared with it */
	size_t touched;		/* how much of the window is resident */
};

struct mc_scanpool {
	pid_t zygote;
	int zygote_sock;
	pthread_mutex_t zygote_lock;	/* one exchange at a time */
	unsigned slot_count;
	unsigned next;			/* where the next caller starts */
	struct slot *slots;
	size_t req_size;
	size_t resp_size;
	mc_scanpool_init_fn *prepare;
	mc_scanpool_init_fn *init;
	mc_scanpool_fn *fn;
	void *ctx;
	char *error;		/* set once: INIT failed */
};

/* Signals that end a mailcure run but must not end a scan process
   in the middle of a scan: the run ends it when it is done. */
static void set_signals(void)
{
	static const int sigs[] = { SIGINT, SIGQUIT, SIGHUP, SIGTERM, SIGPIPE,
				    SIGUSR1, SIGUSR2 };

	static const int crash[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_IGN);
	/* A crash ends the scan process, whatever the caller catches:
	   the caller learns of it from the wait status. */
	for (size_t i = 0; i < sizeof(crash) / sizeof(crash[0]); i++)
		signal(crash[i], SIG_DFL);
}

static int send_msg(int sock, const void *buf, size_t len,
		    const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return n == (ssize_t)len ? 0 : -1;
}

/* One datagram of exactly LEN bytes: the number of descriptors that
   came with it (up to MAXFDS, the rest closed), or -1. */
static int recv_msg(int sock, void *buf, size_t len, int *fds, unsigned maxfds)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	unsigned got = 0;
	ssize_t n;

	while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	for (c = CMSG_FIRSTHDR(&msg); n >= 0 && c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		size_t count;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (got < maxfds)
				fds[got++] = fd;
			else
				close(fd);
		}
	}
	if (n != (ssize_t)len || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		for (unsigned i = 0; i < got; i++)
			close(fds[i]);
		return -1;
	}
	return (int)got;
}

/* The life of a scan process: one request at a time until the
   caller hangs up. */
static void scanner_main(struct mc_scanpool *pool, int sock, int memfd)
{
	size_t head = sizeof(uint64_t) + pool->req_size;
	unsigned char *req = mc_xmalloc(head);
	void *resp = mc_xmalloc(pool->resp_size);
	unsigned char *window;
	pid_t parent = getppid();

	prctl(PR_SET_NAME, "mailcure-scan");
	/* libclamav sets up matcher state of a few MB per layer scanned
	   (arrays sized by the logical signatures): from the heap, not
	   from mappings faulted in afresh each time. What a large scan
	   leaves is trimmed below. */
	mallopt(M_MMAP_THRESHOLD, SCAN_MMAP_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, SCAN_MMAP_THRESHOLD);
	window = mmap(NULL, WINDOW_SIZE, PROT_READ, MAP_SHARED | MAP_NORESERVE,
		      memfd, 0);
	if (window == MAP_FAILED)
		_exit(2);
	close(memfd);
	if (pool->init != NULL) {
		struct ready ready = { 1, "" };
		char *error = NULL;

		if (pool->init(pool->ctx, &error) < 0) {
			ready.ok = 0;
			snprintf(ready.why, sizeof(ready.why), "%s",
				 error != NULL ? error : "unknown error");
		}
		if (send_msg(sock, &ready, sizeof(ready), NULL, 0) < 0 || !ready.ok)
			_exit(2);
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);	/* the zygote died before that */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	for (;;) {
		uint64_t size;
		int fd = -1;	/* set when one came */

		if (recv_msg(sock, req, head, &fd, 1) < 0)
			_exit(0);	/* the caller hung up */
		memcpy(&size, req, sizeof(size));
		if (size > WINDOW_SIZE)
			_exit(2);
		memset(resp, 0, pool->resp_size);
		pool->fn(pool->ctx, window, (size_t)size, fd, req + sizeof(uint64_t), resp);
		if (fd >= 0)
			close(fd);
		/* What a large scan allocated goes back to the system, as
		   the run's memory bound counts every scan process. */
		if (size > WINDOW_KEEP)
			malloc_trim(0);
		if (send_msg(sock, resp, pool->resp_size, NULL, 0) < 0)
			_exit(0);
	}
}

/* PREPARE, once: false with the reason in REPLY when it failed (then
   or before). */
static bool zygote_prepare(struct mc_scanpool *pool, struct zygote_reply *reply)
{
	static int state;	/* 0: not run, 1: done, -1: failed */
	static char why[sizeof(reply->why)];
	char *error = NULL;

	if (state == 0 && pool->prepare != NULL &&
	    pool->prepare(pool->ctx, &error) < 0) {
		snprintf(why, sizeof(why), "%s", error != NULL ? error : "unknown error");
		free(error);
		state = -1;
	} else if (state == 0) {
		state = 1;
	}
	if (state > 0)
		return true;
	reply->pid = 0;
	reply->value = -1;
	memcpy(reply->why, why, sizeof(why));
	return false;
}

/* Fork a scan process: its socket and window go back to the caller. */
static void zygote_spawn(struct mc_scanpool *pool, int sock)
{
	struct zygote_reply reply;
	int sv[2] = { -1, -1 }, memfd = -1;

	memset(&reply, 0, sizeof(reply));
	if (!zygote_prepare(pool, &reply)) {
		(void)send_msg(sock, &reply, sizeof(reply), NULL, 0);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
	    (memfd = memfd_create("mailcure-scan-window", MFD_CLOEXEC)) < 0 ||
	    ftruncate(memfd, (off_t)WINDOW_SIZE) < 0 ||
	    (reply.pid = fork()) < 0) {
		reply.pid = 0;
		reply.value = errno;
		(void)send_msg(sock, &reply, sizeof(reply), NULL, 0);
	} else if (reply.pid == 0) {
		close(sock);
		close(sv[0]);
		scanner_main(pool, sv[1], memfd);
	} else {
		int fds[2] = { sv[0], memfd };

		(void)send_msg(sock, &reply, sizeof(reply), fds, 2);
	}
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (memfd >= 0)
		close(memfd);
}

/* The zygote: forks scan processes and reaps them, on request. Only
   the zygote waits for them, so a scan process's wait status is
   kept until the caller asks for it. */
static void zygote_main(struct mc_scanpool *pool, int sock)
{
	struct zygote_request req;
	int null;

	prctl(PR_SET_NAME, "mailcure-zygote");
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	set_signals();
	/* stdout may be a pipe whose reader waits for its end. */
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		close(null);
	}
	if (sock != 3 && (dup2(sock, 3) < 0 || close(sock) < 0))
		_exit(2);
	sock = 3;
	if (close_range(4, ~0U, 0) < 0)
		_exit(2);
	while (recv_msg(sock, &req, sizeof(req), NULL, 0) == 0) {
		struct zygote_reply reply;

		memset(&reply, 0, sizeof(reply));
		if (req.op == ZYGOTE_SPAWN) {
			zygote_spawn(pool, sock);
		} else if (req.op == ZYGOTE_PREPARE) {
			(void)zygote_prepare(pool, &reply);
			(void)send_msg(sock, &reply, sizeof(reply), NULL, 0);
		} else if (req.op == ZYGOTE_REAP) {
			reply.pid = req.pid;
			while (waitpid(req.pid, &reply.value, 0) < 0 && errno == EINTR)
				;
			(void)send_msg(sock, &reply, sizeof(reply), NULL, 0);
		}
	}
	/* The pool is closed (or the caller died): the scan processes
	   see their sockets close too, and end. */
	while (wait(NULL) > 0 || errno == EINTR)
		;
	_exit(0);
}

struct mc_scanpool *mc_scanpool_new(unsigned slots, size_t req_size,
				    size_t resp_size, mc_scanpool_init_fn *prepare,
				    mc_scanpool_init_fn *init,
				    mc_scanpool_fn *fn, void *ctx)
{
	struct mc_scanpool *pool;
	int sv[2];

	if (slots == 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return NULL;
	pool = mc_xcalloc(1, sizeof(*pool));
	pool->req_size = req_size;
	pool->resp_size = resp_size;
	pool->prepare = prepare;
	pool->init = init;
	pool->fn = fn;
	pool->ctx = ctx;
	pool->zygote = fork();
	if (pool->zygote < 0) {
		close(sv[0]);
		close(sv[1]);
		free(pool);
		return NULL;
	}
	if (pool->zygote == 0) {
		close(sv[0]);
		zygote_main(pool, sv[1]);
	}
	close(sv[1]);
	pool->zygote_sock = sv[0];
	pthread_mutex_init(&pool->zygote_lock, NULL);
	pool->slot_count = slots;
	pool->slots = mc_xcalloc(slots, sizeof(*pool->slots));
	for (unsigned i = 0; i < slots; i++) {
		pthread_mutex_init(&pool->slots[i].lock, NULL);
		pool->slots[i].sock = -1;
	}
	return pool;
}

/* One exchange with the zygote; false when it is gone. */
static bool zygote_ask(struct mc_scanpool *pool, int op, pid_t pid,
		       struct zygote_reply *reply_r, int *fds, int *nfds_r)
{
	struct zygote_request req;
	int n = -1;

	memset(&req, 0, sizeof(req));
	req.op = op;
	req.pid = pid;
	pthread_mutex_lock(&pool->zygote_lock);
	if (send_msg(pool->zygote_sock, &req, sizeof(req), NULL, 0) == 0)
		n = recv_msg(pool->zygote_sock, reply_r, sizeof(*reply_r),
			     fds, fds != NULL ? 2 : 0);
	pthread_mutex_unlock(&pool->zygote_lock);
	if (nfds_r != NULL)
		*nfds_r = n;
	return n >= 0;
}

static int slot_stop(struct mc_scanpool *pool, struct slot *slot, bool kill_it);

/* No scan process can be set up, for reason WHY (the first one
   given counts). */
static void pool_fail(struct mc_scanpool *pool, const char *why)
{
	char *error = mc_xstrdup(why), *none = NULL;

	if (!__atomic_compare_exchange_n(&pool->error, &none, error, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		free(error);
}

int mc_scanpool_prepare(struct mc_scanpool *pool)
{
	struct zygote_reply reply;

	if (mc_scanpool_error(pool) != NULL)
		return -1;
	if (!zygote_ask(pool, ZYGOTE_PREPARE, 0, &reply, NULL, NULL)) {
		pool_fail(pool, "the zygote process ended");
		return -1;
	}
	if (reply.value == -1) {
		reply.why[sizeof(reply.why) - 1] = '\0';
		pool_fail(pool, reply.why);
		return -1;
	}
	return 0;
}

static bool slot_start(struct mc_scanpool *pool, struct slot *slot)
{
	struct zygote_reply reply;
	void *window;
	int fds[2], n;

	if (!zygote_ask(pool, ZYGOTE_SPAWN, 0, &reply, fds, &n))
		return false;
	if (reply.pid <= 0 || n != 2) {
		for (int i = 0; i < n; i++)
			close(fds[i]);
		if (reply.pid <= 0 && reply.value == -1) {
			reply.why[sizeof(reply.why) - 1] = '\0';
			pool_fail(pool, reply.why);
		}
		return false;
	}
	window = mmap(NULL, WINDOW_SIZE, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_NORESERVE, fds[1], 0);
	close(fds[1]);
	if (window == MAP_FAILED) {
		close(fds[0]);
		kill(reply.pid, SIGKILL);
		(void)zygote_ask(pool, ZYGOTE_REAP, reply.pid, &reply, NULL, NULL);
		return false;
	}
	slot->pid = reply.pid;
	slot->sock = fds[0];
	slot->window = window;
	slot->touched = 0;
	if (pool->init != NULL) {
		struct ready ready = { 0, "" };

		if (recv_msg(slot->sock, &ready, sizeof(ready), NULL, 0) < 0)
			snprintf(ready.why, sizeof(ready.why), "it ended before it was ready");
		ready.why[sizeof(ready.why) - 1] = '\0';
		if (!ready.ok) {
			(void)slot_stop(pool, slot, true);
			pool_fail(pool, ready.why);
			return false;
		}
	}
	return true;
}

/* The slot's process is gone or must go: its wait status. */
static int slot_stop(struct mc_scanpool *pool, struct slot *slot, bool kill_it)
{
	struct zygote_reply reply;
	int status = 0;

	if (slot->pid <= 0)
		return 0;
	if (kill_it)
		kill(slot->pid, SIGKILL);
	close(slot->sock);
	munmap(slot->window, WINDOW_SIZE);
	if (zygote_ask(pool, ZYGOTE_REAP, slot->pid, &reply, NULL, NULL))
		status = reply.value;
	slot->pid = 0;
	slot->sock = -1;
	slot->window = NULL;
	return status;
}

/* A free slot, locked; when all are busy, wait for one. */
static struct slot *slot_take(struct mc_scanpool *pool)
{
	unsigned start = __atomic_fetch_add(&pool->next, 1, __ATOMIC_RELAXED);

	for (unsigned i = 0; i < pool->slot_count; i++) {
		struct slot *slot = &pool->slots[(start + i) % pool->slot_count];

		if (pthread_mutex_trylock(&slot->lock) == 0)
			return slot;
	}
	pthread_mutex_lock(&pool->slots[start % pool->slot_count].lock);
	return &pool->slots[start % pool->slot_count];
}

/* Send one request; false when the process is not there to take it. */
static bool slot_send(struct mc_scanpool *pool, struct slot *slot,
		      const struct iovec *iov, unsigned iovcnt, size_t size,
		      int fd, const void *req)
{
	size_t head = sizeof(uint64_t) + pool->req_size;
	unsigned char msg[head];
	uint64_t size64 = size;
	size_t at = 0;

	if (slot->pid <= 0 &&
	    (mc_scanpool_error(pool) != NULL || !slot_start(pool, slot)))
		return false;
	for (unsigned i = 0; i < iovcnt; i++) {
		memcpy(slot->window + at, iov[i].iov_base, iov[i].iov_len);
		at += iov[i].iov_len;
	}
	if (size > slot->touched)
		slot->touched = size;
	memcpy(msg, &size64, sizeof(size64));
	memcpy(msg + sizeof(size64), req, pool->req_size);
	return send_msg(slot->sock, msg, head, &fd, fd >= 0 ? 1 : 0) == 0;
}

enum mc_scanpool_result mc_scanpool_scan(struct mc_scanpool *pool,
					 const struct iovec *iov, unsigned iovcnt,
					 int fd, const void *req, void *resp,
					 unsigned timeout_ms, int *status_r)
{
	struct slot *slot;
	struct pollfd pfd;
	enum mc_scanpool_result result;
	size_t size = 0;
	int ready;

	*status_r = 0;
	for (unsigned i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > WINDOW_SIZE - size)
			return MC_SCANPOOL_UNAVAILABLE;
		size += iov[i].iov_len;
	}
	slot = slot_take(pool);
	/* A process that died between scans (killed from outside) did
	   not die of this data: once more with a new one. */
	if (!slot_send(pool, slot, iov, iovcnt, size, fd, req)) {
		(void)slot_stop(pool, slot, true);
		if (!slot_send(pool, slot, iov, iovcnt, size, fd, req)) {
			(void)slot_stop(pool, slot, true);
			pthread_mutex_unlock(&slot->lock);
			return mc_scanpool_error(pool) != NULL ? MC_SCANPOOL_FAILED :
				MC_SCANPOOL_UNAVAILABLE;
		}
	}
	pfd.fd = slot->sock;
	pfd.events = POLLIN;
	while ((ready = poll(&pfd, 1, timeout_ms > 0 ? (int)timeout_ms : -1)) < 0 &&
	       errno == EINTR)
		;
	if (ready == 0) {
		*status_r = slot_stop(pool, slot, true);
		result = MC_SCANPOOL_TIMEOUT;
	} else if (ready < 0 ||
		   recv_msg(slot->sock, resp, pool->resp_size, NULL, 0) < 0) {
		*status_r = slot_stop(pool, slot, false);
		result = MC_SCANPOOL_DIED;
	} else {
		result = MC_SCANPOOL_OK;
	}
	/* A large buffer's pages go back: only WINDOW_KEEP stays. */
	if (slot->pid > 0 && slot->touched > WINDOW_KEEP) {
		(void)madvise(slot->window + WINDOW_KEEP, slot->touched - WINDOW_KEEP,
			      MADV_REMOVE);
		slot->touched = WINDOW_KEEP;
	}
	pthread_mutex_unlock(&slot->lock);
	return result;
}

const char *mc_scanpool_error(struct mc_scanpool *pool)
{
	return __atomic_load_n(&pool->error, __ATOMIC_ACQUIRE);
}

/* The verdict of a scan that no scan process answered: RESULT is
   neither MC_SCANPOOL_OK nor MC_SCANPOOL_UNAVAILABLE. */
void mc_scanpool_verdict(struct mc_scanpool *pool,
			 enum mc_scanpool_result result, int status,
			 struct mc_verdict *verdict_r)
{
	memset(verdict_r, 0, sizeof(*verdict_r));
	if (result == MC_SCANPOOL_FAILED) {
		verdict_r->kind = MC_VERDICT_ERROR;
		snprintf(verdict_r->name, sizeof(verdict_r->name),
			 "engine unavailable (no scan process could be set up: %s)",
			 mc_scanpool_error(pool));
		return;
	}
	if (result == MC_SCANPOOL_TIMEOUT) {
		verdict_r->kind = MC_VERDICT_UNSCANNED;
		snprintf(verdict_r->name, sizeof(verdict_r->name),
			 "engine scan time limit reached (the scan did not stop "
			 "and was killed)");
		return;
	}
	verdict_r->kind = MC_VERDICT_ERROR;
	if (WIFSIGNALED(status))
		snprintf(verdict_r->name, sizeof(verdict_r->name),
			 "engine crashed (the scan process was killed by "
			 "signal %d, %s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(verdict_r->name, sizeof(verdict_r->name),
			 "engine crashed (the scan process ended, status %d)",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

void mc_scanpool_free(struct mc_scanpool **_pool)
{
	struct mc_scanpool *pool = *_pool;

	if (pool == NULL)
		return;
	*_pool = NULL;
	/* Every scan is over: the scan processes are idle, and killing
	   them is the ending that cannot wait on one (stopped from
	   outside, say). The zygote reaps them, the caller the zygote. */
	for (unsigned i = 0; i < pool->slot_count; i++) {
		(void)slot_stop(pool, &pool->slots[i], true);
		pthread_mutex_destroy(&pool->slots[i].lock);
	}
	close(pool->zygote_sock);
	while (waitpid(pool->zygote, NULL, 0) < 0 && errno == EINTR)
		;
	pthread_mutex_destroy(&pool->zygote_lock);
	free(pool->slots);
	free(pool->error);
	free(pool);
}
