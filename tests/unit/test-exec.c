/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-exec 1
/* SUMMARY
/*	unit tests of the child-process runner
/* DESCRIPTION
/*	Pins the policy of lib/exec.c: the exit status is returned and
/*	a signal or a program that cannot be executed is an error that
/*	names it; the environment is the fixed one plus what the caller
/*	names (or this process's, kept on request); no descriptor but
/*	0, 1 and 2 reaches the command, and its standard input is
/*	/dev/null or the buffer given, however large; output larger
/*	than the bound is cut and flagged (or fatal on request); at a
/*	time limit (whole run or silence) the whole process group is
/*	killed, also what it left running in the background; standard
/*	output can be read as a stream and the command stopped early;
/*	signals that interrupt the wait (EINTR) change nothing; and
/*	standard error becomes one neutralised line.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "mailcure/exec.h"

#define SH "/bin/sh"

static double monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run "sh -c SCRIPT" with SPEC's other fields. */
static int sh(struct mc_exec *spec, const char *script,
	      struct mc_exec_result *r, char **error_r)
{
	const char *argv[] = { SH, "-c", script, NULL };

	spec->argv = argv;
	return mc_exec_run(spec, r, error_r);
}

static void test_exit_status(void **state)
{
	struct mc_exec spec = { 0 };
	struct mc_exec_result r;
	char *error = NULL;

	assert_int_equal(sh(&spec, "echo out; echo err >&2; exit 3", &r, &error), 3);
	assert_null(error);
	assert_int_equal(r.status, 3);
	assert_int_equal(r.signal, 0);
	assert_string_equal(r.out, "out\n");
	assert_int_equal(r.out_len, 4);
	assert_string_equal(r.err, "err\n");
	assert_false(r.out_cut || r.err_cut || r.timed_out);
	mc_exec_result_clear(&r);

	/* The program named apart from argv[0]. */
	const char *argv[] = { "renamed", "-c", "echo $0", NULL };
	struct mc_exec named = { .path = SH, .argv = argv };
	assert_int_equal(mc_exec_run(&named, &r, &error), 0);
	assert_string_equal(r.out, "renamed\n");
	mc_exec_result_clear(&r);
}

static void test_cannot_execute(void **state)
{
	const char *argv[] = { "/nonexistent/program", NULL };
	struct mc_exec spec = { .argv = argv };
	struct mc_exec_result r;
	char *error = NULL;

	assert_int_equal(mc_exec_run(&spec, &r, &error), -1);
	assert_non_null(strstr(error, "cannot execute /nonexistent/program"));
	assert_non_null(strstr(error, "No such file"));
	assert_string_equal(r.out, "");
	mc_exec_result_clear(&r);
	free(error);
}

static void test_signal_death(void **state)
{
	struct mc_exec spec = { .name = "crasher" };
	struct mc_exec_result r;
	char *error = NULL;

	assert_int_equal(sh(&spec, "echo before; kill -SEGV $$", &r, &error), -1);
	assert_int_equal(r.status, -1);
	assert_int_equal(r.signal, SIGSEGV);
	assert_false(r.timed_out);
	assert_string_equal(r.out, "before\n");
	assert_non_null(strstr(error, "crasher: killed by signal 11"));
	mc_exec_result_clear(&r);
	free(error);
}

static void test_environment_cleaned(void **state)
{
	const char *extra[] = { "MAIL_CONFIG=/etc/postfix-out", "LANG=C.UTF-8", NULL };
	const char *argv[] = { "/usr/bin/env", NULL };
	struct mc_exec spec = { .argv = argv, .env = extra };
	struct mc_exec_result r;

	setenv("MC_TEST_SECRET", "leaked", 1);
	setenv("LD_PRELOAD", "/nonexistent.so", 1);
	assert_int_equal(mc_exec_run(&spec, &r, NULL), 0);
	unsetenv("LD_PRELOAD");
	/* The fixed three, LANG replaced by the caller's, and its own. */
	assert_string_equal(r.out, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
			    "LANG=C.UTF-8\nLC_ALL=C\nMAIL_CONFIG=/etc/postfix-out\n");
	mc_exec_result_clear(&r);

	/* mailcure running itself keeps its settings. */
	spec.env = NULL;
	spec.keep_env = true;
	assert_int_equal(mc_exec_run(&spec, &r, NULL), 0);
	assert_non_null(strstr(r.out, "MC_TEST_SECRET=leaked\n"));
	mc_exec_result_clear(&r);
	unsetenv("MC_TEST_SECRET");
}

static void test_descriptors_closed(void **state)
{
	struct mc_exec spec = { 0 };
	struct mc_exec_result r;
	/* Descriptors without close-on-exec, as a careless caller or a
	   library would leave them: none may reach the command. */
	int a = open("/dev/null", O_RDONLY), b = dup2(a, 200);
	char *error = NULL;

	assert_true(a >= 3 && b == 200);
	/* ls lists the descriptors of the shell that runs it. */
	assert_int_equal(sh(&spec, "ls /proc/$$/fd", &r, &error), 0);
	assert_string_equal(r.out, "0\n1\n2\n");
	mc_exec_result_clear(&r);
	assert_int_equal(sh(&spec, "readlink /proc/self/fd/0", &r, &error), 0);
	assert_string_equal(r.out, "/dev/null\n");
	mc_exec_result_clear(&r);
	close(a);
	close(b);
}

static void test_input_and_large_output(void **state)
{
	size_t size = 8U << 20;
	char *data = malloc(size);
	const char *argv[] = { "/bin/cat", NULL };
	struct mc_exec spec = { .argv = argv, .out_max = 32U << 20 };
	struct mc_exec_result r;

	for (size_t i = 0; i < size; i++)
		data[i] = (char)('a' + i % 26);
	/* Input and output both far beyond a pipe's buffer at once. */
	spec.input = data;
	spec.input_size = size;
	assert_int_equal(mc_exec_run(&spec, &r, NULL), 0);
	assert_int_equal(r.out_len, size);
	assert_memory_equal(r.out, data, size);
	assert_false(r.out_cut);
	mc_exec_result_clear(&r);

	/* Bounded: the first out_max bytes, flagged, the rest dropped
	   while the command runs to its end. */
	spec.out_max = 1U << 20;
	assert_int_equal(mc_exec_run(&spec, &r, NULL), 0);
	assert_int_equal(r.out_len, 1U << 20);
	assert_true(r.out_cut);
	assert_memory_equal(r.out, data, 1U << 20);
	mc_exec_result_clear(&r);

	/* Or fatal. */
	char *error = NULL;
	spec.out_max_fatal = true;
	assert_int_equal(mc_exec_run(&spec, &r, &error), -1);
	assert_int_equal(errno, EFBIG);
	assert_non_null(strstr(error, "more than 1048576 bytes of output"));
	mc_exec_result_clear(&r);
	free(error);

	/* A command that does not read its input: EPIPE, no SIGPIPE. */
	spec.argv = (const char *[]){ "/bin/true", NULL };
	assert_int_equal(mc_exec_run(&spec, &r, NULL), 0);
	mc_exec_result_clear(&r);
	free(data);
}

static bool process_gone(pid_t pid)
{
	char path[64], buf[512];
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return true;
	/* A zombie waiting for its new parent to reap it is gone too. */
	bool zombie = fgets(buf, sizeof(buf), fp) != NULL &&
		strstr(buf, ") Z ") != NULL;
	fclose(fp);
	return zombie;
}

static void test_timeout_kills_group(void **state)
{
	struct mc_exec spec = { .name = "slow", .timeout_s = 1 };
	struct mc_exec_result r;
	char *error = NULL;
	double t0 = monotonic();
	long bg;

	/* The background sleep keeps stdout open: only killing the
	   whole group ends the wait. */
	assert_int_equal(sh(&spec, "sleep 30 & echo $!; sleep 30", &r, &error), -1);
	assert_true(monotonic() - t0 < 5);
	assert_true(r.timed_out);
	assert_int_equal(r.signal, SIGKILL);
	assert_non_null(strstr(error, "slow: no answer after 1 seconds, killed"));
	bg = strtol(r.out, NULL, 10);
	assert_true(bg > 1);
	for (int i = 0; i < 50 && !process_gone((pid_t)bg); i++)
		usleep(20000);
	assert_true(process_gone((pid_t)bg));
	mc_exec_result_clear(&r);
	free(error);
	error = NULL;

	/* Silence: output resets the clock, none for a second ends it. */
	spec.timeout_s = 0;
	spec.idle_timeout_s = 1;
	t0 = monotonic();
	assert_int_equal(sh(&spec, "for i in 1 2 3; do echo $i; sleep 0.5; done; "
			    "sleep 30", &r, &error), -1);
	/* The last output at 1 s, then one silent second. */
	assert_true(monotonic() - t0 >= 1.9 && monotonic() - t0 < 6);
	assert_true(r.timed_out);
	assert_string_equal(r.out, "1\n2\n3\n");
	assert_non_null(strstr(error, "slow: no answer for 1 seconds, killed"));
	mc_exec_result_clear(&r);
	free(error);
	error = NULL;

	/* Output sent elsewhere: the limit still holds. */
	spec.out = MC_EXEC_FD;
	spec.out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	spec.err = MC_EXEC_FD;
	spec.err_fd = spec.out_fd;
	t0 = monotonic();
	assert_int_equal(sh(&spec, "sleep 30", &r, &error), -1);
	assert_true(monotonic() - t0 < 5);
	assert_true(r.timed_out);
	mc_exec_result_clear(&r);
	close(spec.out_fd);
	free(error);
}

static void test_output_to_file(void **state)
{
	char path[] = "/tmp/test-exec.XXXXXX";
	int fd = mkstemp(path);
	struct mc_exec spec = { .out = MC_EXEC_FD, .out_fd = fd };
	struct mc_exec_result r;
	char buf[64] = "";

	assert_true(fd >= 0);
	assert_int_equal(sh(&spec, "echo to-file; echo to-err >&2", &r, NULL), 0);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err, "to-err\n");
	assert_int_equal(pread(fd, buf, sizeof(buf) - 1, 0), 8);
	assert_string_equal(buf, "to-file\n");
	mc_exec_result_clear(&r);
	close(fd);
	unlink(path);
}

static void test_stream(void **state)
{
	const char *argv[] = { SH, "-c", "seq 1 100000; echo done >&2; sleep 30", NULL };
	struct mc_exec spec = { .argv = argv, .idle_timeout_s = 20 };
	struct mc_exec_proc *p;
	struct mc_exec_result r;
	char buf[4096], *error = NULL;
	ssize_t n;

	assert_int_equal(mc_exec_start(&spec, &p, NULL), 0);
	n = mc_exec_read(p, buf, 6, NULL);
	assert_true(n > 0 && n <= 6);
	assert_memory_equal(buf, "1\n2\n3\n", (size_t)n);
	/* Stopped early: killed, not waited for. */
	double t0 = monotonic();
	assert_int_equal(mc_exec_finish(&p, true, &r, &error), -1);
	assert_true(monotonic() - t0 < 5);
	assert_null(p);
	assert_int_equal(r.signal, SIGKILL);
	assert_false(r.timed_out);
	mc_exec_result_clear(&r);
	free(error);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void test_eintr(void **state)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	struct itimerval it = { { 0, 5000 }, { 0, 5000 } }, off = { { 0, 0 }, { 0, 0 } };
	struct mc_exec spec = { .timeout_s = 20 };
	struct mc_exec_result r;
	char *error = NULL;

	/* No SA_RESTART: every system call in the wait is interrupted. */
	sigaction(SIGALRM, &sa, &old);
	setitimer(ITIMER_REAL, &it, NULL);
	assert_int_equal(sh(&spec, "i=0; while [ $i -lt 200 ]; do echo $i; "
			    "i=$((i+1)); done; sleep 0.3; exit 7", &r, &error), 7);
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	assert_null(error);
	assert_true(alarms > 10);
	assert_int_equal(r.out_len, 690);
	mc_exec_result_clear(&r);
}

static void test_text(void **state)
{
	char *t;
	char big[3000];

	assert_null(mc_exec_text("", 0));
	assert_null(mc_exec_text("\n\r\n", 3));
	t = mc_exec_text("doveadm(alice): Error: bad\n\nsecond\x1b[2J line\n", 44);
	assert_string_equal(t, "doveadm(alice): Error: bad; second\\x1b[2J line");
	free(t);
	t = mc_exec_text("a\0b", 3);
	assert_string_equal(t, "a\\x00b");
	free(t);
	memset(big, 'x', sizeof(big));
	t = mc_exec_text(big, sizeof(big));
	assert_int_equal(strlen(t), 1000);
	assert_string_equal(t + 997, "...");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_cannot_execute),
		cmocka_unit_test(test_signal_death),
		cmocka_unit_test(test_environment_cleaned),
		cmocka_unit_test(test_descriptors_closed),
		cmocka_unit_test(test_input_and_large_output),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_output_to_file),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_eintr),
		cmocka_unit_test(test_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
