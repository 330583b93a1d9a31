/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-scanpool 1
/* SUMMARY
/*	unit tests of the scan processes (lib/engine/scanpool.c)
/* DESCRIPTION
/*	Scans from several threads at once come back with their own
/*	answers; a scan process that crashes, or that does not answer
/*	in time, costs that one scan, named as such, and the next scan
/*	gets a new process; a process killed from outside between scans
/*	is replaced without a failed scan; a descriptor passed with a
/*	scan is read there, left as it was here, and closed there after
/*	the scan; a process's set-up runs before its first scan, and
/*	one that fails is a failed scan that says so; the zygote's
/*	preparation runs once, before the first scan process or when
/*	asked, and one that fails fails every scan; a process that
/*	gave up root still reads a root-only file it is given; closing
/*	the pool leaves no process behind.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "mailcure/mailcure.h"
#include "internal.h"

struct req {
	uint32_t salt;
};

struct resp {
	uint64_t size;
	uint32_t sum;
	uint32_t salt;
	pid_t pid;
	int fd;			/* the descriptor it was given, or -1 */
	unsigned open_fds;	/* in the scan process, during the scan */
	int set_up;		/* what init left */
	uid_t uid;
};

/* In the scan process: what init did. */
static int set_up;

static unsigned open_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	unsigned n = 0;

	if (dir == NULL)
		return 0;
	while (readdir(dir) != NULL)
		n++;
	closedir(dir);
	return n;
}

/* In the scan process: what the data (or the file) say, or a crash
   or a hang. */
static void fn(void *ctx, const void *data, size_t size, int fd,
	       const void *_req, void *_resp)
{
	const struct req *req = _req;
	struct resp *resp = _resp;
	const unsigned char *p = data;
	unsigned char file[4096];

	(void)ctx;
	resp->set_up = set_up;
	resp->uid = getuid();
	resp->fd = fd;
	resp->open_fds = open_fds();
	if (fd >= 0) {
		/* The file is the data; pread leaves the offset alone. */
		ssize_t n = pread(fd, file, sizeof(file), 0);

		size = n > 0 ? (size_t)n : 0;
		p = file;
	}
	if (size >= 5 && memcmp(p, "CRASH", 5) == 0)
		raise(SIGSEGV);
	if (size >= 4 && memcmp(p, "HANG", 4) == 0)
		for (;;)
			pause();
	resp->size = size;
	for (size_t i = 0; i < size; i++)
		resp->sum += p[i];
	resp->salt = req->salt;
	resp->pid = getpid();
}

static struct mc_scanpool *new_pool(unsigned slots)
{
	struct mc_scanpool *pool = mc_scanpool_new(slots, sizeof(struct req),
						   sizeof(struct resp), NULL, NULL, fn,
						   NULL);

	assert_non_null(pool);
	return pool;
}

static enum mc_scanpool_result scan(struct mc_scanpool *pool, const char *a,
				    const char *b, uint32_t salt,
				    struct resp *resp, unsigned timeout_ms,
				    int *status)
{
	struct iovec iov[2] = { { (void *)a, strlen(a) }, { (void *)b, strlen(b) } };
	struct req req = { salt };

	memset(resp, 0, sizeof(*resp));
	return mc_scanpool_scan(pool, iov, 2, -1, &req, resp, timeout_ms, status);
}

static uint32_t sum_of(const char *s)
{
	uint32_t sum = 0;

	while (*s)
		sum += (unsigned char)*s++;
	return sum;
}

/* The processes that are children or grandchildren of this one. */
static unsigned descendants(void)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	unsigned n = 0;
	pid_t me = getpid();

	assert_non_null(dir);
	while ((de = readdir(dir)) != NULL) {
		char path[300], buf[512], *p;
		FILE *f;
		int ppid;

		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 2, "%*c %d", &ppid) == 1) {
			if (ppid == me)
				n++;
			else {
				char ppath[64], pbuf[512], *q;
				FILE *g;
				int gppid;

				snprintf(ppath, sizeof(ppath), "/proc/%d/stat", ppid);
				if ((g = fopen(ppath, "r")) != NULL) {
					if (fgets(pbuf, sizeof(pbuf), g) != NULL &&
					    (q = strrchr(pbuf, ')')) != NULL &&
					    sscanf(q + 2, "%*c %d", &gppid) == 1 &&
					    gppid == me)
						n++;
					fclose(g);
				}
			}
		}
		fclose(f);
	}
	closedir(dir);
	return n;
}

static void test_answers(void **state)
{
	struct mc_scanpool *pool = new_pool(2);
	struct resp resp;
	int status;

	(void)state;
	assert_int_equal(scan(pool, "hello ", "world", 7, &resp, 0, &status),
			 MC_SCANPOOL_OK);
	assert_int_equal(resp.size, 11);
	assert_int_equal(resp.sum, sum_of("hello world"));
	assert_int_equal(resp.salt, 7);
	assert_int_not_equal(resp.pid, getpid());
	/* An empty buffer is a buffer too. */
	assert_int_equal(scan(pool, "", "", 8, &resp, 0, &status), MC_SCANPOOL_OK);
	assert_int_equal(resp.size, 0);
	assert_int_equal(resp.salt, 8);
	mc_scanpool_free(&pool);
	assert_null(pool);
	assert_int_equal(descendants(), 0);
}

struct worker {
	struct mc_scanpool *pool;
	unsigned id;
	unsigned bad;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (unsigned i = 0; i < 300; i++) {
		char a[64], b[4096];
		struct resp resp;
		int status;
		size_t n = (w->id * 131 + i * 17) % sizeof(b);

		snprintf(a, sizeof(a), "worker %u scan %u ", w->id, i);
		memset(b, 'a' + (int)(i % 26), n);
		b[n] = '\0';
		if (scan(w->pool, a, b, w->id * 1000 + i, &resp, 0, &status) !=
		    MC_SCANPOOL_OK ||
		    resp.size != strlen(a) + n || resp.salt != w->id * 1000 + i ||
		    resp.sum != sum_of(a) + sum_of(b))
			w->bad++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct mc_scanpool *pool = new_pool(2);
	struct worker w[4];
	pthread_t t[4];

	(void)state;
	for (unsigned i = 0; i < 4; i++) {
		w[i] = (struct worker){ pool, i, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	mc_scanpool_free(&pool);
	assert_int_equal(descendants(), 0);
}

static void test_crash_and_hang(void **state)
{
	struct mc_scanpool *pool = new_pool(1);
	struct resp resp;
	pid_t first;
	int status;

	(void)state;
	assert_int_equal(scan(pool, "before", "", 1, &resp, 0, &status), MC_SCANPOOL_OK);
	first = resp.pid;
	assert_int_equal(scan(pool, "CRASH", " now", 2, &resp, 0, &status),
			 MC_SCANPOOL_DIED);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
	assert_int_equal(scan(pool, "after", "", 3, &resp, 0, &status), MC_SCANPOOL_OK);
	assert_int_equal(resp.salt, 3);
	assert_int_not_equal(resp.pid, first);
	assert_int_equal(scan(pool, "HANG", "", 4, &resp, 300, &status),
			 MC_SCANPOOL_TIMEOUT);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(scan(pool, "again", "", 5, &resp, 300, &status), MC_SCANPOOL_OK);
	assert_int_equal(resp.sum, sum_of("again"));
	mc_scanpool_free(&pool);
	assert_int_equal(descendants(), 0);
}

/* Until PID is a zombie: the zygote reaps it only when asked. */
static void wait_dead(pid_t pid)
{
	for (int i = 0; i < 5000; i++) {
		char path[64], buf[512], *p;
		FILE *f;
		char st = '?';

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		if ((f = fopen(path, "r")) == NULL)
			return;
		if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL)
			st = p[2];
		fclose(f);
		if (st == 'Z' || st == 'X')
			return;
		usleep(1000);
	}
	fail_msg("process %d did not die", (int)pid);
}

static void test_killed_between_scans(void **state)
{
	struct mc_scanpool *pool = new_pool(1);
	struct resp resp;
	int status;

	(void)state;
	assert_int_equal(scan(pool, "one", "", 1, &resp, 0, &status), MC_SCANPOOL_OK);
	assert_int_equal(kill(resp.pid, SIGKILL), 0);
	wait_dead(resp.pid);
	/* Not a failure of the next scan: it did not cause the death. */
	assert_int_equal(scan(pool, "two", "", 2, &resp, 0, &status), MC_SCANPOOL_OK);
	assert_int_equal(resp.salt, 2);
	mc_scanpool_free(&pool);
	assert_int_equal(descendants(), 0);
}

static void test_too_large(void **state)
{
	struct mc_scanpool *pool = new_pool(1);
	struct iovec iov[2] = { { (void *)"x", (size_t)1 << 30 }, { (void *)"y", 1 } };
	struct req req = { 0 };
	struct resp resp;
	int status;

	(void)state;
	/* Over the window: the caller scans it itself (nothing is read). */
	assert_int_equal(mc_scanpool_scan(pool, iov, 2, -1, &req, &resp, 0, &status),
			 MC_SCANPOOL_UNAVAILABLE);
	mc_scanpool_free(&pool);
}

static void test_descriptor(void **state)
{
	struct mc_scanpool *pool = new_pool(1);
	char path[] = "/tmp/test-scanpool-XXXXXX";
	struct iovec iov = { (void *)"name", 5 };
	struct req req = { 9 };
	struct resp resp, again;
	int fd, status;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, "file content", 12), 12);
	/* The scan reads the file, not the data beside it. */
	assert_int_equal(mc_scanpool_scan(pool, &iov, 1, fd, &req, &resp, 0, &status),
			 MC_SCANPOOL_OK);
	assert_true(resp.fd >= 0);
	assert_int_equal(resp.size, 12);
	assert_int_equal(resp.sum, sum_of("file content"));
	assert_int_equal(resp.salt, 9);
	/* Here the descriptor is as it was: open, at its offset. */
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 12);
	/* There it was closed after the scan: a second one finds the
	   same number of descriptors open, a scan without one fewer. */
	assert_int_equal(mc_scanpool_scan(pool, &iov, 1, fd, &req, &again, 0, &status),
			 MC_SCANPOOL_OK);
	assert_int_equal(again.open_fds, resp.open_fds);
	assert_int_equal(again.pid, resp.pid);
	assert_int_equal(scan(pool, "no file", "", 10, &again, 0, &status), MC_SCANPOOL_OK);
	assert_int_equal(again.fd, -1);
	assert_int_equal(again.open_fds, resp.open_fds - 1);
	assert_int_equal(again.sum, sum_of("no file"));
	close(fd);
	mc_scanpool_free(&pool);
	assert_int_equal(descendants(), 0);
}

static int init_ok(void *ctx, char **error_r)
{
	(void)error_r;
	set_up = *(int *)ctx;
	return 0;
}

static int init_fails(void *ctx, char **error_r)
{
	(void)ctx;
	return mc_error_set(error_r, "no directory here");
}

static int init_nobody(void *ctx, char **error_r)
{
	(void)ctx;
	set_up = 1;
	return mc_become_user(65534, 65534, error_r);
}

static void test_init(void **state)
{
	int value = 42;
	struct mc_scanpool *pool = mc_scanpool_new(1, sizeof(struct req),
						   sizeof(struct resp), NULL, init_ok,
						   fn, &value);
	struct resp resp;
	int status;

	(void)state;
	assert_int_equal(scan(pool, "x", "", 1, &resp, 0, &status), MC_SCANPOOL_OK);
	assert_int_equal(resp.set_up, 42);
	mc_scanpool_free(&pool);
	/* A set-up that fails: the scan fails and the pool says why;
	   later scans fail at once, with no new process (the zygote is
	   the only one left), and nothing is scanned without it. */
	pool = mc_scanpool_new(1, sizeof(struct req), sizeof(struct resp),
			       NULL, init_fails, fn, NULL);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(scan(pool, "x", "", 1, &resp, 0, &status),
				 MC_SCANPOOL_FAILED);
		assert_string_equal(mc_scanpool_error(pool), "no directory here");
		assert_int_equal(descendants(), 1);
	}
	mc_scanpool_free(&pool);
	assert_int_equal(descendants(), 0);
}

/* In the zygote: what every scan process starts from. */
static int prepare_count(void *ctx, char **error_r)
{
	(void)ctx;
	(void)error_r;
	set_up += 100;
	return 0;
}

static int prepare_fails(void *ctx, char **error_r)
{
	(void)ctx;
	return mc_error_set(error_r, "no signatures here");
}

static void test_prepare(void **state)
{
	struct mc_scanpool *pool;
	struct resp resp;
	int status;

	(void)state;
	/* Once, asked for or not, before the first scan process; a
	   process that replaces a crashed one starts from the same. */
	for (int ask = 0; ask < 2; ask++) {
		pool = mc_scanpool_new(1, sizeof(struct req), sizeof(struct resp),
				       prepare_count, NULL, fn, NULL);
		if (ask)
			assert_int_equal(mc_scanpool_prepare(pool), 0);
		assert_int_equal(scan(pool, "x", "", 1, &resp, 0, &status), MC_SCANPOOL_OK);
		assert_int_equal(resp.set_up, 100);
		assert_int_equal(scan(pool, "CRASH", "", 1, &resp, 0, &status),
				 MC_SCANPOOL_DIED);
		assert_int_equal(mc_scanpool_prepare(pool), 0);
		assert_int_equal(scan(pool, "x", "", 1, &resp, 0, &status), MC_SCANPOOL_OK);
		assert_int_equal(resp.set_up, 100);
		mc_scanpool_free(&pool);
	}
	assert_int_equal(set_up, 0);	/* not in this process */
	/* One that fails: every scan fails and says why. */
	pool = mc_scanpool_new(1, sizeof(struct req), sizeof(struct resp),
			       prepare_fails, NULL, fn, NULL);
	assert_int_equal(scan(pool, "x", "", 1, &resp, 0, &status), MC_SCANPOOL_FAILED);
	assert_string_equal(mc_scanpool_error(pool), "no signatures here");
	assert_int_equal(mc_scanpool_prepare(pool), -1);
	mc_scanpool_free(&pool);
	pool = mc_scanpool_new(1, sizeof(struct req), sizeof(struct resp),
			       prepare_fails, NULL, fn, NULL);
	assert_int_equal(mc_scanpool_prepare(pool), -1);
	assert_string_equal(mc_scanpool_error(pool), "no signatures here");
	assert_int_equal(scan(pool, "x", "", 1, &resp, 0, &status), MC_SCANPOOL_FAILED);
	mc_scanpool_free(&pool);
	assert_int_equal(descendants(), 0);
}

static void test_unprivileged_reads_descriptor(void **state)
{
	char path[] = "/tmp/test-scanpool-XXXXXX";
	struct iovec iov = { (void *)"", 1 };
	struct req req = { 3 };
	struct mc_scanpool *pool;
	struct resp resp;
	int fd, status;

	(void)state;
	if (geteuid() != 0)
		skip();
	fd = mkstemp(path);		/* mode 0600, root's */
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "secret", 6), 6);
	pool = mc_scanpool_new(1, sizeof(struct req), sizeof(struct resp),
			       NULL, init_nobody, fn, NULL);
	assert_int_equal(mc_scanpool_scan(pool, &iov, 1, fd, &req, &resp, 0, &status),
			 MC_SCANPOOL_OK);
	assert_int_equal(resp.set_up, 1);
	assert_int_equal(resp.uid, 65534);
	assert_int_equal(resp.sum, sum_of("secret"));
	mc_scanpool_free(&pool);
	unlink(path);
	close(fd);
	assert_int_equal(descendants(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_crash_and_hang),
		cmocka_unit_test(test_killed_between_scans),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_descriptor),
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_prepare),
		cmocka_unit_test(test_unprivileged_reads_descriptor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
