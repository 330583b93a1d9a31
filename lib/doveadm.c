/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	doveadm 3
/* SUMMARY
/*	run Dovecot's doveadm
/* SYNOPSIS
/*	#include "internal.h"
/*
/*	char *mc_doveadm_path(const struct mc_doveadm *dv,
/*		char **error_r);
/*	const char *mc_doveadm_config(const struct mc_doveadm *dv);
/*
/*	int mc_doveadm_start(const struct mc_doveadm *dv,
/*		const char *const *args, struct mc_exec_proc **proc_r,
/*		char **error_r);
/*	int mc_doveadm_finish(struct mc_exec_proc **proc, bool kill,
/*		char **stderr_r);
/*	int mc_doveadm_run(const struct mc_doveadm *dv,
/*		const char *const *args, const void *input,
/*		size_t input_size, size_t max_out, char **out_r,
/*		size_t *out_len_r, char **stderr_r, char **error_r);
/* DESCRIPTION
/*	The dovecot: store (lib/store/dovecot.c) and the isolation
/*	(lib/net/isolate.c, doveadm who and kick) run doveadm through
/*	these, under the policy of lib/exec.c. doveadm is dv->path,
/*	else $MAILCURE_DOVEADM, else /usr/bin/doveadm, else found in
/*	$PATH (absolute entries only); with dv->config, else
/*	$MAILCURE_DOVECOT_CONFIG (the CLI sets it from --dovecot-config),
/*	it runs as "doveadm -c FILE", for a Dovecot instance other than
/*	the system's. A doveadm that writes nothing for dv->timeout_s
/*	seconds (default 900: building the index of a huge mailbox
/*	takes minutes) is killed.
/*
/*	mc_doveadm_start() starts one whose standard output is read
/*	with mc_exec_read(), as a stream; mc_doveadm_finish() waits for
/*	it. mc_doveadm_run() runs one to its end.
/* DIAGNOSTICS
/*	Messages name the doveadm command ("doveadm fetch"), and give
/*	doveadm's standard error on one line, neutralised
/*	(mc_exec_text), at most 64 KiB of it read.
/* SECURITY
/*	doveadm gets a clean environment and no descriptor but the
/*	standard three (lib/exec.c); its arguments are an argument
/*	vector, never a shell line. Callers refuse user names that
/*	could turn into options.
/*--*/

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "mailcure/exec.h"
#include "internal.h"

#define DOVEADM_DEFAULT_PATH "/usr/bin/doveadm"
#define DOVEADM_DEFAULT_TIMEOUT_S 900

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

char *mc_doveadm_path(const struct mc_doveadm *dv, char **error_r)
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

const char *mc_doveadm_config(const struct mc_doveadm *dv)
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

/* The argument vector: doveadm [-c FILE] ARGS. Only the array is
   malloc()ed, and *path_r. */
static const char **doveadm_argv(const struct mc_doveadm *dv,
				 const char *const *args, char **path_r,
				 char **error_r)
{
	const char *config = mc_doveadm_config(dv);
	size_t argc = 0, n = 0;
	const char **argv;

	*path_r = mc_doveadm_path(dv, error_r);
	if (*path_r == NULL)
		return NULL;
	while (args[argc] != NULL)
		argc++;
	argv = mc_xcalloc(argc + 4, sizeof(*argv));
	argv[n++] = *path_r;
	if (config != NULL) {
		argv[n++] = "-c";
		argv[n++] = config;
	}
	for (size_t i = 0; i < argc; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return argv;
}

static unsigned doveadm_timeout(const struct mc_doveadm *dv)
{
	return dv != NULL && dv->timeout_s > 0 ? dv->timeout_s :
		DOVEADM_DEFAULT_TIMEOUT_S;
}

int mc_doveadm_start(const struct mc_doveadm *dv, const char *const *args,
		     struct mc_exec_proc **proc_r, char **error_r)
{
	char *path, *name = command_name(args);
	const char **argv = doveadm_argv(dv, args, &path, error_r);
	struct mc_exec spec = {
		.argv = argv, .name = name, .idle_timeout_s = doveadm_timeout(dv),
	};
	int ret = -1;

	*proc_r = NULL;
	if (argv != NULL)
		ret = mc_exec_start(&spec, proc_r, error_r);
	free(argv);
	free(path);
	free(name);
	return ret;
}

int mc_doveadm_finish(struct mc_exec_proc **proc, bool kill_it, char **stderr_r)
{
	struct mc_exec_result r;
	char *why = NULL;
	int code = mc_exec_finish(proc, kill_it, &r, &why);

	if (stderr_r != NULL)
		*stderr_r = code < 0 ? why : mc_exec_text(r.err, r.err_len);
	if (code >= 0 || stderr_r == NULL)
		free(why);
	mc_exec_result_clear(&r);
	return code;
}

int mc_doveadm_run(const struct mc_doveadm *dv, const char *const *args,
		   const void *input, size_t input_size, size_t max_out,
		   char **out_r, size_t *out_len_r, char **stderr_r,
		   char **error_r)
{
	char *path, *name = command_name(args);
	const char **argv = doveadm_argv(dv, args, &path, error_r);
	struct mc_exec spec = {
		.argv = argv, .name = name, .idle_timeout_s = doveadm_timeout(dv),
		.input = input, .input_size = input_size,
		.out_max = max_out, .out_max_fatal = true,
	};
	struct mc_exec_result r;
	int code = -1, saved;

	if (out_r != NULL)
		*out_r = NULL;
	if (out_len_r != NULL)
		*out_len_r = 0;
	if (stderr_r != NULL)
		*stderr_r = NULL;
	if (argv != NULL) {
		code = mc_exec_run(&spec, &r, error_r);
		saved = errno;
		if (code >= 0 && stderr_r != NULL)
			*stderr_r = mc_exec_text(r.err, r.err_len);
		if (code >= 0 && out_r != NULL) {
			*out_r = r.out;
			r.out = NULL;
		}
		if (code >= 0 && out_len_r != NULL)
			*out_len_r = r.out_len;
		mc_exec_result_clear(&r);
		errno = saved;
	}
	free(argv);
	free(path);
	free(name);
	return code;
}
