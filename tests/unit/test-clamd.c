/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-clamd 1
/* SUMMARY
/*	unit tests of clamd's reply parser (lib/engine/clamd.c)
/* DESCRIPTION
/*	Pins how each reply clamd writes becomes a verdict: "OK" clean,
/*	a signature FOUND infected with its name, a limit alert with
/*	AlertExceedsMax and a stream over StreamMaxLength unscanned,
/*	other errors errors, and the labels of INSTREAM ("stream") and
/*	FILDES ("fd[N]"). Every reply that is not one of these (another
/*	label, a truncated word, a name with a space, control bytes,
/*	random bytes) is an error that quotes it, never clean.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailcure/mailcure.h"
#include "internal.h"

static void check(const char *reply, const char *label, int want_ret,
		  enum mc_verdict_kind want_kind, const char *want_name)
{
	struct mc_verdict v;
	int ret;

	memset(&v, 0xa5, sizeof(v));
	ret = mc_clamd_reply_parse(reply, strlen(reply), label, &v);
	if (ret != want_ret || v.kind != want_kind ||
	    strnlen(v.name, sizeof(v.name)) == sizeof(v.name) ||
	    strcmp(v.name, want_name) != 0)
		fail_msg("reply \"%s\" (label %s): %d, kind %d, \"%.*s\"; expected "
			 "%d, kind %d, \"%s\"", reply, label, ret, (int)v.kind,
			 (int)sizeof(v.name), v.name, want_ret, (int)want_kind,
			 want_name);
}

static void test_verdicts(void **state)
{
	check("stream: OK", "stream", 0, MC_VERDICT_CLEAN, "");
	check("fd[12]: OK", "fd[", 0, MC_VERDICT_CLEAN, "");
	check("stream: Eicar-Test-Signature FOUND", "stream", 0,
	      MC_VERDICT_INFECTED, "Eicar-Test-Signature");
	check("fd[7]: Win.Test.EICAR_HDB-1.UNOFFICIAL FOUND", "fd[", 0,
	      MC_VERDICT_INFECTED, "Win.Test.EICAR_HDB-1.UNOFFICIAL");
	check("stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND", "stream", 0,
	      MC_VERDICT_UNSCANNED,
	      "engine limit reached (Heuristics.Limits.Exceeded.MaxFileSize)");
	check("INSTREAM size limit exceeded. ERROR", "stream", 0, MC_VERDICT_UNSCANNED,
	      "engine limit reached (clamd: INSTREAM size limit exceeded.)");
	check("stream: CL_ETIMEOUT: Time limit reached ERROR", "stream", 0,
	      MC_VERDICT_UNSCANNED,
	      "engine limit reached (clamd: CL_ETIMEOUT: Time limit reached)");
	check("stream: Can't allocate memory ERROR", "stream", 0, MC_VERDICT_ERROR,
	      "engine error (clamd: Can't allocate memory)");
	check("Error processing command. ERROR", "stream", 0, MC_VERDICT_ERROR,
	      "engine error (clamd: Error processing command.)");
	/* A name that is only the limits' prefix's look-alike. */
	check("stream: Heuristics.Limits FOUND", "stream", 0, MC_VERDICT_INFECTED,
	      "Heuristics.Limits");
}

static void test_not_understood(void **state)
{
	static const char *const replies[] = {
		"", "OK", "stream:OK", "stream: ", "stream: OK ", "stream: ok",
		"stream: FOUND", "stream:  FOUND", "stream: Two Words FOUND",
		"stream: X FOUND\n", "fd[12]: OK", "stream: ERROR", " ERROR",
		"UNKNOWN COMMAND", "COMMAND READ TIMED OUT", "PONG",
		"stream: Eicar\x1b[2J FOUND", "stream: Eicar\xc3\xa9 FOUND",
		"stream: X FOUND FOUND extra", "streamer: OK",
	};

	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		struct mc_verdict v;

		if (mc_clamd_reply_parse(replies[i], strlen(replies[i]), "stream", &v) != -1 ||
		    v.kind != MC_VERDICT_ERROR ||
		    strncmp(v.name, "engine error (clamd reply not understood", 40) != 0)
			fail_msg("reply \"%s\" understood: kind %d, \"%s\"",
				 replies[i], (int)v.kind, v.name);
	}
	/* The FILDES label needs its number and bracket. */
	static const char *const fd_replies[] = {
		"fd[]: OK", "fd[12: OK", "fd[x]: OK", "fd: OK", "stream: OK",
		"fd[12345678901]: OK",
	};
	for (size_t i = 0; i < sizeof(fd_replies) / sizeof(fd_replies[0]); i++) {
		struct mc_verdict v;

		if (mc_clamd_reply_parse(fd_replies[i], strlen(fd_replies[i]), "fd[", &v) != -1)
			fail_msg("reply \"%s\" understood as FILDES's", fd_replies[i]);
	}
}

/* A reply with a NUL inside, or as long as a reply may be: the
   verdict's name stays a bounded string. */
static void test_bounds(void **state)
{
	char buf[4096];
	struct mc_verdict v;

	memset(buf, 'A', sizeof(buf));
	memcpy(buf, "stream: ", 8);
	memcpy(buf + sizeof(buf) - 6, " FOUND", 6);
	assert_int_equal(mc_clamd_reply_parse(buf, sizeof(buf), "stream", &v), 0);
	assert_int_equal(v.kind, MC_VERDICT_INFECTED);
	assert_int_equal(strlen(v.name), sizeof(v.name) - 1);
	assert_int_equal(mc_clamd_reply_parse("stream: OK\0", 11, "stream", &v), -1);
	assert_int_equal(v.kind, MC_VERDICT_ERROR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_not_understood),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
