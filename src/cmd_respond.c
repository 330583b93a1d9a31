/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	cmd_respond 1
/* SUMMARY
/*	mailcure respond: the whole outbreak runbook, journaled, resumable
/* SYNOPSIS
/*	mailcure respond [-s STORE]... [--allow CIDR]... [--keep-mx]
/*		[--clean-host] [--host-path PATH]... [--until STEP]
/*		[--skip STEP]... [--max-delete N] [--yes]
/*		[--mta auto|postfix|exim] [--postfix-config DIR]
/*		[--exim-config FILE] [QUERY]
/*	mailcure respond --resume [RUN] [--yes]
/* DESCRIPTION
/*	Runs, in order: isolate, queue-freeze, queue-delete,
/*	mailbox-clean, host-scan, queue-thaw, reconnect. Each step is
/*	the mailcure command of the same name, run as a child process
/*	under this run's id (--run-id) with --json; its events go to
/*	STATE/runs/RUN/STEP.jsonl and its diagnostics to STEP.log.
/*
/*	Every step is recorded in STATE/runs/RUN/journal.jsonl (fsync'd)
/*	before it starts and after it ends. --resume continues a run
/*	interrupted anywhere: steps that ended are not repeated; the step
/*	that was interrupted is run again, which is safe because every
/*	step is idempotent (a second isolate or freeze changes nothing,
/*	a second clean finds only what is left, and a message is removed
/*	only after its quarantined copy is verified).
/*
/*	Safety gate: before the first removing step, the messages that
/*	would be removed are counted (dry runs of queue-delete and
/*	mailbox-clean). When there are more than --max-delete (default
/*	1000), the counts per reason and per mailbox are shown and
/*	respond asks on a terminal, or stops unless --yes was given.
/*
/*	The queue steps work on the MTA of this server, Postfix or Exim
/*	(--mta, default: the one installed and configured), through the
/*	queue command. A step that does not apply on this server (no
/*	MTA, or an MTA package that was never configured and so has no
/*	queue; no nftables) is recorded as skipped with its reason, and the run
/*	goes on with the rest of the runbook. A step that
/*	fails stops the run before any later removing step, but the
/*	steps that give the server back (queue-thaw, reconnect) are
/*	never run while an earlier step failed: the administrator
/*	decides, then resumes.
/*
/*	At the end the report (mailcure report RUN) is written to
/*	STATE/runs/RUN/report.html and its path printed.
/*--*/

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <json-c/json.h>

#include "mailcure/exec.h"
#include "commands.h"
#include "mailcure/mta.h"

#define RESPOND_DEFAULT_MAX_DELETE 1000

/* What a child step reports as "this does not apply here". */
#define MC_EXIT_NOT_APPLICABLE 3

struct respond_args {
	const char **stores; size_t store_count;
	const char **allow; size_t allow_count;
	const char **host_paths; size_t host_path_count;
	const char **skip; size_t skip_count;
	const char *ports;
	const char *until;
	const char *postfix_config;
	const char *exim_config;
	const char *mta;	/* --mta as given, or NULL */
	const char *query;
	bool keep_mx;
	bool clean_host;
	bool yes;
	unsigned long max_delete;
};

enum step_id {
	STEP_ISOLATE, STEP_QUEUE_FREEZE, STEP_QUEUE_DELETE, STEP_MAILBOX_CLEAN,
	STEP_HOST_SCAN, STEP_QUEUE_THAW, STEP_RECONNECT, STEP_COUNT
};

static const char *const step_names[STEP_COUNT] = {
	"isolate", "queue-freeze", "queue-delete", "mailbox-clean",
	"host-scan", "queue-thaw", "reconnect",
};

/* A growing argv. */
struct argv_buf {
	char **v;
	size_t n, cap;
};

static void argv_add(struct argv_buf *a, const char *s)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? a->cap * 2 : 32;
		a->v = realloc(a->v, a->cap * sizeof(char *));
		if (a->v == NULL)
			abort();
	}
	a->v[a->n++] = strdup(s);
	a->v[a->n] = NULL;
}

static void argv_free(struct argv_buf *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/* A's words joined by spaces, for a message. */
static char *argv_join(const struct argv_buf *a)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < a->n; i++)
		len += strlen(a->v[i]) + 1;
	s = malloc(len);
	if (s == NULL)
		abort();
	s[0] = '\0';
	for (size_t i = 0; i < a->n; i++) {
		if (i > 0)
			strcat(s, " ");
		strcat(s, a->v[i]);
	}
	return s;
}

static void respond_args_free(struct respond_args *ra)
{
	free(ra->stores);
	free(ra->allow);
	free(ra->host_paths);
	free(ra->skip);
	free((char *)ra->query);
	memset(ra, 0, sizeof(*ra));
}

static void strv_free(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int step_lookup(const char *name)
{
	for (int i = 0; i < STEP_COUNT; i++)
		if (strcmp(step_names[i], name) == 0)
			return i;
	return -1;
}

static bool step_skipped_by_user(const struct respond_args *ra, int step)
{
	for (size_t i = 0; i < ra->skip_count; i++)
		if (strcmp(ra->skip[i], step_names[step]) == 0)
			return true;
	return false;
}

static void argv_add_list(struct argv_buf *a, const char *option,
			  const char *const *values, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		argv_add(a, option);
		argv_add(a, values[i]);
	}
}

static void argv_add_num(struct argv_buf *a, const char *option,
			 unsigned long long value)
{
	char num[32];

	snprintf(num, sizeof(num), "%llu", value);
	argv_add(a, option);
	argv_add(a, num);
}

/* How a step scans: the engine, the rules and indicators, the cache
   and the limits this process was given, so that the find and
   delete steps match what the command line asked for. */
static void child_scan_options(const struct mc_global *g, struct argv_buf *a)
{
	argv_add_list(a, "--clamd", g->clamds, g->clamd_count);
	argv_add_list(a, "--yara", g->yara_paths, g->yara_count);
	argv_add_list(a, "--ioc", g->ioc_paths, g->ioc_count);
	if (g->cache_path != NULL) {
		argv_add(a, "--cache");
		argv_add(a, g->cache_path);
	}
	if (g->cache_size > 0)
		argv_add_num(a, "--cache-size", g->cache_size);
	if (g->tempdir != NULL) {
		argv_add(a, "--tempdir");
		argv_add(a, g->tempdir);
	}
	argv_add(a, "--scan");
	argv_add(a, g->scan_mode == MC_SCAN_WHOLE ? "whole" : "parts");
	argv_add_num(a, "--max-mime-parts", g->limits.max_mime_parts);
	argv_add_num(a, "--max-mime-depth", g->limits.max_mime_depth);
	argv_add_num(a, "--max-scan-time", g->limits.max_scan_time_ms);
	argv_add_num(a, "--max-urls", g->limits.max_urls);
}

/* The global options a child step needs to act like this process. */
/* What decides a match: the signatures and child_scan_options(). It
   is saved with the plan, so that a resume that scans otherwise says
   so. */
static void child_detection(const struct mc_global *g, struct argv_buf *a)
{
	for (size_t i = 0; i < g->database_count; i++) {
		argv_add(a, "-d");
		argv_add(a, g->databases[i]);
	}
	child_scan_options(g, a);
}

static void child_globals(const struct mc_global *g, const char *run_id,
			  struct argv_buf *a)
{
	char num[32];

	argv_add(a, "mailcure");
	/* The steps read the same settings file; what follows overrides
	   it as this process's command line did. */
	if (g->config != NULL) {
		argv_add(a, "--config");
		argv_add(a, g->config);
	}
	child_detection(g, a);
	if (g->jobs > 0) {
		snprintf(num, sizeof(num), "%u", g->jobs);
		argv_add(a, "-j");
		argv_add(a, num);
	}
	argv_add(a, "--quarantine");
	argv_add(a, g->quarantine_dir);
	argv_add(a, "--state-dir");
	argv_add(a, g->state_dir);
	argv_add(a, "--progress");
	argv_add(a, "never");
	snprintf(num, sizeof(num), "%llu", (unsigned long long)g->limits.max_message_size);
	argv_add(a, "--max-message-size");
	argv_add(a, num);
	if (run_id != NULL) {
		argv_add(a, "--run-id");
		argv_add(a, run_id);
	}
	if (g->dry_run)
		argv_add(a, "--dry-run");
}

/* The command line of STEP (after the global options). DRY forces a
   dry run (for the safety gate's counts). */
static void step_argv(const struct respond_args *ra, int step, bool dry,
		      struct argv_buf *a)
{
	if (dry)
		argv_add(a, "--dry-run");
	switch (step) {
	case STEP_ISOLATE:
		argv_add(a, "isolate");
		for (size_t i = 0; i < ra->allow_count; i++) {
			argv_add(a, "--allow");
			argv_add(a, ra->allow[i]);
		}
		if (ra->keep_mx)
			argv_add(a, "--keep-mx");
		if (ra->ports != NULL) {
			argv_add(a, "--ports");
			argv_add(a, ra->ports);
		}
		break;
	case STEP_RECONNECT:
		argv_add(a, "reconnect");
		break;
	case STEP_QUEUE_FREEZE:
	case STEP_QUEUE_THAW:
	case STEP_QUEUE_DELETE:
		argv_add(a, "queue");
		if (ra->mta != NULL) {
			argv_add(a, "--mta");
			argv_add(a, ra->mta);
		}
		if (ra->postfix_config != NULL) {
			argv_add(a, "--postfix-config");
			argv_add(a, ra->postfix_config);
		}
		if (ra->exim_config != NULL) {
			argv_add(a, "--exim-config");
			argv_add(a, ra->exim_config);
		}
		argv_add(a, step == STEP_QUEUE_FREEZE ? "freeze" :
			 step == STEP_QUEUE_THAW ? "thaw" : "delete");
		if (step == STEP_QUEUE_DELETE && ra->query != NULL)
			argv_add(a, ra->query);
		break;
	case STEP_MAILBOX_CLEAN:
		argv_add(a, "mailbox");
		argv_add(a, "clean");
		for (size_t i = 0; i < ra->store_count; i++) {
			argv_add(a, "-s");
			argv_add(a, ra->stores[i]);
		}
		if (ra->query != NULL)
			argv_add(a, ra->query);
		break;
	case STEP_HOST_SCAN:
		argv_add(a, "host");
		argv_add(a, ra->clean_host ? "clean" : "scan");
		for (size_t i = 0; i < ra->host_path_count; i++)
			argv_add(a, ra->host_paths[i]);
		break;
	}
}

/* The MTA of the queue steps, as the queue command resolves it. */
static enum mc_mta_kind respond_mta(const struct respond_args *ra, const char **config_r)
{
	enum mc_mta_kind kind = MC_MTA_AUTO;

	if (ra->mta != NULL && strcmp(ra->mta, "postfix") == 0)
		kind = MC_MTA_POSTFIX;
	else if (ra->mta != NULL && strcmp(ra->mta, "exim") == 0)
		kind = MC_MTA_EXIM;
	else if (ra->exim_config != NULL)
		kind = MC_MTA_EXIM;
	else if (ra->postfix_config != NULL)
		kind = MC_MTA_POSTFIX;
	*config_r = kind == MC_MTA_EXIM ? ra->exim_config :
		kind == MC_MTA_POSTFIX ? ra->postfix_config : NULL;
	return kind;
}

/* Whether STEP can apply on this machine; WHY (SIZE bytes) says why
   not. The queue steps apply to an MTA in use (Postfix or Exim): one
   that is installed and configured (a package installed but never set
   up runs no queue, and freeze would fail and leave the server
   isolated). */
static bool step_applies(const struct respond_args *ra, int step,
			 char *why, size_t size)
{
	char *reason = NULL;

	switch (step) {
	case STEP_QUEUE_FREEZE:
	case STEP_QUEUE_DELETE:
	case STEP_QUEUE_THAW:
		if (!mc_cli_has_command("queue")) {
			snprintf(why, size, "this mailcure has no queue support");
			return false;
		}
		const char *config;
		enum mc_mta_kind kind = respond_mta(ra, &config);
		if (!mc_mta_in_use(kind, config, NULL, &reason)) {
			snprintf(why, size, "%s", reason);
			free(reason);
			return false;
		}
		return true;
	case STEP_ISOLATE:
	case STEP_RECONNECT:
		if (!mc_cli_has_command(step == STEP_ISOLATE ? "isolate" : "reconnect")) {
			snprintf(why, size, "this mailcure has no network isolation support");
			return false;
		}
		return true;
	case STEP_HOST_SCAN:
		if (!mc_cli_has_command("host")) {
			snprintf(why, size, "this mailcure has no host scan support");
			return false;
		}
		return true;
	default:
		return true;
	}
}

/* Open PATH for the output of a step; -1 with a warning. */
static int step_file(const char *path, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | flags, 0600);

	if (fd < 0)
		mc_warn("%s: %s", path, strerror(errno));
	return fd;
}

/* Run ARGV (our own binary, with our environment: it reads its
   settings from there too) with stdout to OUT_PATH (or inherited when
   NULL) and stderr appended to LOG_PATH (or inherited). Returns the
   exit code, or -1 when it could not run or was killed. */
static int run_child(char **argv, const char *out_path, const char *log_path,
		     char *last_err, size_t last_err_size)
{
	struct mc_exec spec = {
		.path = "/proc/self/exe", .argv = (const char *const *)argv,
		.keep_env = true, .out = MC_EXEC_INHERIT, .err = MC_EXEC_INHERIT,
	};
	struct mc_exec_result r;
	char *error = NULL;
	int ex;

	if (out_path != NULL) {
		spec.out = MC_EXEC_FD;
		if ((spec.out_fd = step_file(out_path, O_TRUNC)) < 0)
			return -1;
	}
	if (log_path != NULL) {
		spec.err = MC_EXEC_FD;
		if ((spec.err_fd = step_file(log_path, O_APPEND)) < 0) {
			if (out_path != NULL)
				close(spec.out_fd);
			return -1;
		}
	}
	fflush(stdout);
	fflush(stderr);
	ex = mc_exec_run(&spec, &r, &error);
	if (ex < 0 && r.signal == 0)
		mc_warn("%s", error);
	free(error);
	mc_exec_result_clear(&r);
	if (out_path != NULL)
		close(spec.out_fd);
	if (log_path != NULL)
		close(spec.err_fd);
	if (last_err != NULL && log_path != NULL) {
		/* The child's last diagnostic line explains a failure. */
		FILE *fp = fopen(log_path, "r");
		char line[1024];

		last_err[0] = '\0';
		while (fp != NULL && fgets(line, sizeof(line), fp) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			if (line[0] != '\0')
				snprintf(last_err, last_err_size, "%s", line);
		}
		if (fp != NULL)
			fclose(fp);
	}
	return ex;
}

/* Counts read back from a step's JSON events. */
struct step_counts {
	unsigned long matched, acted, errors, unscanned, scanned;
	bool have_summary;
};

static void tally_print(const char *title, const struct mc_tally *t)
{
	mc_output_printf("  %s:\n", title);
	for (size_t i = 0; i < t->n; i++)
		mc_output_printf("    %8lu  %s\n", t->v[i].n, t->v[i].key);
}

static const char *jstr(json_object *obj, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(obj, key, &v) ? json_object_get_string(v) : NULL;
}

static unsigned long jnum(json_object *obj, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(obj, key, &v) ? (unsigned long)json_object_get_int64(v) : 0;
}

/* Read a step's JSON Lines: counts, and tallies of matches by reason
   and by mailbox (either may be NULL). */
static void read_events(const char *path, struct step_counts *c,
			struct mc_tally *by_reason, struct mc_tally *by_box)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;

	memset(c, 0, sizeof(*c));
	if (fp == NULL)
		return;
	while (getline(&line, &cap, fp) > 0) {
		json_object *obj = json_tokener_parse(line), *reasons;
		const char *ev;

		if (obj == NULL)
			continue;
		ev = jstr(obj, "event");
		if (ev != NULL && strcmp(ev, "summary") == 0) {
			c->have_summary = true;
			c->matched = jnum(obj, "matched");
			c->acted = jnum(obj, "acted");
			c->errors = jnum(obj, "errors");
			c->unscanned = jnum(obj, "unscanned");
			c->scanned = jnum(obj, "scanned");
		} else if (ev != NULL && strcmp(ev, "match") == 0) {
			char key[1024];

			if (by_reason != NULL && json_object_object_get_ex(obj, "reasons", &reasons) &&
			    json_object_array_length(reasons) > 0) {
				json_object *r = json_object_array_get_idx(reasons, 0);
				const char *val = jstr(r, "name") ? jstr(r, "name") : jstr(r, "value");
				snprintf(key, sizeof(key), "%s %s", jstr(r, "kind") ? jstr(r, "kind") : "?",
					 val ? val : "");
				mc_tally_add(by_reason, key);
			}
			if (by_box != NULL) {
				if (jstr(obj, "queue_id") != NULL)
					snprintf(key, sizeof(key), "mail queue");
				else
					snprintf(key, sizeof(key), "%s / %s",
						 jstr(obj, "user") ? jstr(obj, "user") : "?",
						 jstr(obj, "folder") ? jstr(obj, "folder") : "?");
				mc_tally_add(by_box, key);
			}
		}
		json_object_put(obj);
	}
	free(line);
	fclose(fp);
}

static char *run_dir_of(const struct mc_global *g, const char *run_id)
{
	char *p;

	if (asprintf(&p, "%s/runs/%s", g->state_dir, run_id) < 0)
		abort();
	return p;
}

/* Save the respond arguments so that --resume runs the same plan
   (mode 0600: a query names senders and subjects). */
static int params_save(const struct mc_global *g, const char *run_dir, int argc, char **argv)
{
	json_object *obj = json_object_new_object(), *arr = json_object_new_array();
	json_object *scan = json_object_new_array();
	struct argv_buf d = { 0 };
	char *path, *tmp, *error = NULL;
	FILE *fp;
	int ret = -1;

	for (int i = 1; i < argc; i++)
		json_object_array_add(arr, json_object_new_string(argv[i]));
	json_object_object_add(obj, "args", arr);
	child_detection(g, &d);
	for (size_t i = 0; i < d.n; i++)
		json_object_array_add(scan, json_object_new_string(d.v[i]));
	json_object_object_add(obj, "scan", scan);
	argv_free(&d);
	if (asprintf(&path, "%s/params.json", run_dir) < 0)
		abort();
	fp = mc_cli_private_create(path, &tmp, &error);
	if (fp != NULL) {
		fprintf(fp, "%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY));
		ret = mc_cli_private_commit(fp, tmp, path, &error);
	}
	if (ret < 0) {
		mc_warn("respond: cannot save the plan: %s", error);
		free(error);
	}
	json_object_put(obj);
	free(path);
	return ret;
}

/* Say so when G scans otherwise than the run's saved plan did
   (THEN, its "scan" options): a resume uses its own command line and
   settings, which may be a fix (a clamd that moved) or an omission
   (an --ioc not repeated). */
static void params_compare_scan(const struct mc_global *g, const struct argv_buf *then,
				const char *run_id)
{
	struct argv_buf now = { 0 };
	char *then_s, *now_s;
	bool same;

	child_detection(g, &now);
	same = then->n == now.n;
	for (size_t i = 0; same && i < now.n; i++)
		same = strcmp(then->v[i], now.v[i]) == 0;
	if (!same) {
		then_s = argv_join(then);
		now_s = argv_join(&now);
		mc_warn("respond: run %s was started scanning with '%s'; this resume "
			"scans with '%s' (give the options again to keep them)",
			run_id, then_s, now_s);
		free(then_s);
		free(now_s);
	}
	argv_free(&now);
}

/* Read RUN_DIR/params.json once: the respond arguments (NULL when
   there is no plan) and, when the run saved them, the scan options
   into *SCAN_R (*HAS_SCAN_R false for a run saved without them). */
static char **params_load(const char *run_dir, int *argc_r,
			  struct argv_buf *scan_r, bool *has_scan_r)
{
	char *path;
	json_object *obj, *arr, *scan;
	char **argv;
	size_t n;

	*has_scan_r = false;
	if (asprintf(&path, "%s/params.json", run_dir) < 0)
		abort();
	obj = json_object_from_file(path);
	free(path);
	if (obj == NULL || !json_object_object_get_ex(obj, "args", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		json_object_put(obj);
		return NULL;
	}
	n = json_object_array_length(arr);
	argv = calloc(n + 2, sizeof(char *));
	argv[0] = strdup("respond");
	for (size_t i = 0; i < n; i++)
		argv[i + 1] = strdup(json_object_get_string(json_object_array_get_idx(arr, i)));
	*argc_r = (int)n + 1;
	if (json_object_object_get_ex(obj, "scan", &scan) &&
	    json_object_is_type(scan, json_type_array)) {
		*has_scan_r = true;
		for (size_t i = 0; i < json_object_array_length(scan); i++) {
			const char *v = json_object_get_string(json_object_array_get_idx(scan, i));

			argv_add(scan_r, v != NULL ? v : "");
		}
	}
	json_object_put(obj);
	return argv;
}

/* The most recent run that has a journal and did not finish. */
static char *latest_unfinished_run(const struct mc_global *g)
{
	char *runs, *best = NULL;
	DIR *d;
	struct dirent *de;

	if (asprintf(&runs, "%s/runs", g->state_dir) < 0)
		abort();
	d = opendir(runs);
	while (d != NULL && (de = readdir(d)) != NULL) {
		char *dir;
		struct mc_journal *j;
		const char *st;

		if (de->d_name[0] == '.')
			continue;
		dir = run_dir_of(g, de->d_name);
		j = mc_journal_open(dir, false, NULL);
		free(dir);
		if (j == NULL)
			continue;
		st = mc_journal_step_state(j, "run");
		if (st != NULL && strcmp(st, "finished") != 0 &&
		    (best == NULL || strcmp(de->d_name, best) > 0)) {
			free(best);
			best = strdup(de->d_name);
		}
		mc_journal_close(&j);
	}
	if (d != NULL)
		closedir(d);
	free(runs);
	return best;
}

const char cmd_respond_usage[] =
	"usage: mailcure [GLOBAL OPTIONS] respond [-s STORE]... [OPTIONS] [QUERY]\n"
	"       mailcure [GLOBAL OPTIONS] respond --resume [RUN] [--yes]\n\n"
	"The whole outbreak runbook, in order: isolate, queue-freeze, queue-delete,\n"
	"mailbox-clean, host-scan, queue-thaw, reconnect. Every step is journaled\n"
	"in STATE-DIR/runs/RUN/; --resume goes on after an interruption. A step\n"
	"that does not apply here (no MTA in use, no nftables) is skipped.\n\n"
	"options:\n"
	"  -s, --store STORE       a mail store to clean (repeatable; see 'mailbox')\n"
	"      --allow CIDR        a network that keeps access while isolated (repeatable)\n"
	"      --ports LIST        the ports isolate closes (see 'isolate')\n"
	"      --keep-mx           leave port 25 open while isolated\n"
	"      --clean-host        host-scan quarantines what it finds (host clean)\n"
	"      --host-path PATH    what the host scan covers (repeatable; default /)\n"
	"      --until STEP        stop after STEP (resume later)\n"
	"      --skip STEP         leave STEP out (repeatable)\n"
	"      --max-delete N      above N messages to remove, ask (or stop without\n"
	"                          --yes); default 1000\n"
	"      --yes               go on past --max-delete without asking\n"
	"      --mta auto|postfix|exim  the MTA of the queue steps (default auto)\n"
	"      --postfix-config DIR  the Postfix instance of the queue steps\n"
	"      --exim-config FILE  the Exim instance of the queue steps\n"
	"      --resume [RUN]      continue RUN (default: the latest unfinished run)\n\n"
	"Exit status: 0 nothing found, 1 found and removed, 2 a step failed or\n"
	"reported errors.\n";

enum {
	OPT_ALLOW = 300, OPT_KEEP_MX, OPT_CLEAN_HOST, OPT_HOST_PATH, OPT_UNTIL,
	OPT_SKIP, OPT_MAX_DELETE, OPT_YES, OPT_RESUME, OPT_POSTFIX_CONFIG, OPT_PORTS,
	OPT_MTA, OPT_EXIM_CONFIG,
};

static const struct option respond_options[] = {
	{ "store", required_argument, NULL, 's' },
	{ "allow", required_argument, NULL, OPT_ALLOW },
	{ "keep-mx", no_argument, NULL, OPT_KEEP_MX },
	{ "ports", required_argument, NULL, OPT_PORTS },
	{ "clean-host", no_argument, NULL, OPT_CLEAN_HOST },
	{ "host-path", required_argument, NULL, OPT_HOST_PATH },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "skip", required_argument, NULL, OPT_SKIP },
	{ "max-delete", required_argument, NULL, OPT_MAX_DELETE },
	{ "yes", no_argument, NULL, OPT_YES },
	{ "resume", optional_argument, NULL, OPT_RESUME },
	{ "postfix-config", required_argument, NULL, OPT_POSTFIX_CONFIG },
	{ "exim-config", required_argument, NULL, OPT_EXIM_CONFIG },
	{ "mta", required_argument, NULL, OPT_MTA },
	{ NULL, 0, NULL, 0 },
};

#define PUSH(arr, count, value) do { \
	(arr) = realloc((arr), ((count) + 1) * sizeof(*(arr))); \
	(arr)[(count)++] = (value); \
} while (0)

/* Parse the respond arguments. Returns the --resume state: 0 none,
   1 resume (RUN in *resume_r, or NULL for the latest). */
static int parse_args(int argc, char **argv, struct respond_args *ra,
		      char **resume_r)
{
	int c, resume = 0;
	struct argv_buf q = { 0 };

	memset(ra, 0, sizeof(*ra));
	ra->max_delete = RESPOND_DEFAULT_MAX_DELETE;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+s:", respond_options, NULL)) != -1) {
		switch (c) {
		case 's': PUSH(ra->stores, ra->store_count, optarg); break;
		case OPT_ALLOW: PUSH(ra->allow, ra->allow_count, optarg); break;
		case OPT_KEEP_MX: ra->keep_mx = true; break;
		case OPT_PORTS: ra->ports = optarg; break;
		case OPT_CLEAN_HOST: ra->clean_host = true; break;
		case OPT_HOST_PATH: PUSH(ra->host_paths, ra->host_path_count, optarg); break;
		case OPT_UNTIL:
			if (step_lookup(optarg) < 0)
				mc_die_usage("--until: unknown step '%s'", optarg);
			ra->until = optarg;
			break;
		case OPT_SKIP:
			if (step_lookup(optarg) < 0)
				mc_die_usage("--skip: unknown step '%s'", optarg);
			PUSH(ra->skip, ra->skip_count, optarg);
			break;
		case OPT_MAX_DELETE: {
			char *end;
			ra->max_delete = strtoul(optarg, &end, 10);
			if (*end != '\0' || end == optarg)
				mc_die_usage("--max-delete: not a number: %s", optarg);
			break;
		}
		case OPT_YES: ra->yes = true; break;
		case OPT_RESUME:
			resume = 1;
			/* "--resume RUN" as two words: take RUN when it is
			   not an option and looks like a run id. */
			if (optarg == NULL && optind < argc && argv[optind][0] != '-' &&
			    strchr(argv[optind], 'T') != NULL && strchr(argv[optind], ':') == NULL)
				optarg = argv[optind++];
			*resume_r = optarg != NULL ? strdup(optarg) : NULL;
			break;
		case OPT_POSTFIX_CONFIG: ra->postfix_config = optarg; break;
		case OPT_EXIM_CONFIG: ra->exim_config = optarg; break;
		case OPT_MTA:
			if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "postfix") != 0 &&
			    strcmp(optarg, "exim") != 0)
				mc_die_usage("--mta: auto, postfix or exim: %s", optarg);
			ra->mta = strcmp(optarg, "auto") == 0 ? NULL : optarg;
			break;
		default: mc_die_command_usage();
		}
	}
	for (int i = optind; i < argc; i++)
		argv_add(&q, argv[i]);
	if (q.n > 0) {
		size_t len = 1;
		for (size_t i = 0; i < q.n; i++)
			len += strlen(q.v[i]) + 1;
		char *s = calloc(1, len);
		for (size_t i = 0; i < q.n; i++) {
			if (i > 0)
				strcat(s, " ");
			strcat(s, q.v[i]);
		}
		ra->query = s;
	}
	argv_free(&q);
	if (ra->host_path_count == 0)
		PUSH(ra->host_paths, ra->host_path_count, "/");
	return resume;
}

/* With --ioc and no query, the runbook removes what the engine
   finds and what the indicators name: a step given --ioc alone
   would look for the indicators only. */
static void ioc_query(const struct mc_global *g, struct respond_args *ra)
{
	if (ra->query == NULL && g->ioc_count > 0 && (ra->query = strdup("virus or ioc")) == NULL)
		abort();
}

/* The settings file's Postfix instance, as the queue command takes it:
   only when no other MTA was named. */
static void respond_default_postfix(struct respond_args *ra, const struct mc_global *g)
{
	if (ra->postfix_config == NULL && ra->exim_config == NULL &&
	    (ra->mta == NULL || strcmp(ra->mta, "postfix") == 0))
		ra->postfix_config = g->postfix_config;
}

/* The safety gate: count what queue-delete and mailbox-clean would
   remove. Returns 0 to go on, -1 to stop. */
static int safety_gate(const struct mc_global *g, const struct respond_args *ra,
		       const char *run_id, const char *run_dir,
		       const bool will_run[STEP_COUNT])
{
	struct mc_tally by_reason = { 0 }, by_box = { 0 };
	unsigned long total = 0;
	int steps[] = { STEP_QUEUE_DELETE, STEP_MAILBOX_CLEAN };

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct argv_buf a = { 0 };
		struct step_counts c;
		char *out, *log;
		int ex;

		if (!will_run[steps[i]])
			continue;
		if (asprintf(&out, "%s/gate-%s.jsonl", run_dir, step_names[steps[i]]) < 0 ||
		    asprintf(&log, "%s/gate-%s.log", run_dir, step_names[steps[i]]) < 0)
			abort();
		child_globals(g, run_id, &a);
		argv_add(&a, "--json");
		step_argv(ra, steps[i], true, &a);
		ex = run_child(a.v, out, log, NULL, 0);
		argv_free(&a);
		read_events(out, &c, &by_reason, &by_box);
		if (ex == MC_EXIT_NOT_APPLICABLE || (ex >= 0 && ex <= 2 && c.have_summary))
			total += c.matched;
		else {
			mc_warn("respond: could not count what %s would remove (exit %d); see %s",
				step_names[steps[i]], ex, log);
			free(out);
			free(log);
			mc_tally_free(&by_reason);
			mc_tally_free(&by_box);
			return -1;
		}
		free(out);
		free(log);
	}
	if (total <= ra->max_delete || ra->yes) {
		mc_tally_free(&by_reason);
		mc_tally_free(&by_box);
		return 0;
	}
	mc_output_printf("\nSafety gate: %lu messages would be removed (more than --max-delete %lu).\n",
			 total, ra->max_delete);
	tally_print("per reason", &by_reason);
	tally_print("per mailbox", &by_box);
	mc_tally_free(&by_reason);
	mc_tally_free(&by_box);
	if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
		char answer[16] = "";
		mc_output_printf("Quarantine and remove them? [y/N] ");
		fflush(stdout);
		if (fgets(answer, sizeof(answer), stdin) != NULL &&
		    (answer[0] == 'y' || answer[0] == 'Y'))
			return 0;
	} else {
		mc_output_printf("Not a terminal: re-run with --yes to proceed:\n"
				 "  mailcure respond --resume %s --yes\n", run_id);
	}
	return -1;
}

static void print_step_line(int idx, int step, const char *state,
			    const char *detail)
{
	mc_output_printf("[%d/%d] %-14s %s%s%s\n", idx, STEP_COUNT, step_names[step], state,
			 detail != NULL && detail[0] != '\0' ? ": " : "",
			 detail != NULL ? detail : "");
	fflush(stdout);
}

/* Plan and dry run: every step with --dry-run, output to the terminal. */
static int respond_dry_run(const struct mc_global *g, const struct respond_args *ra)
{
	int until = ra->until != NULL ? step_lookup(ra->until) : STEP_COUNT - 1;

	mc_output_printf("Plan (dry run: nothing is changed):\n");
	for (int s = 0; s < STEP_COUNT; s++) {
		char why[512];
		struct argv_buf a = { 0 };

		if (s > until) {
			print_step_line(s + 1, s, "not run", "after --until");
			continue;
		}
		if (step_skipped_by_user(ra, s)) {
			print_step_line(s + 1, s, "skipped", "--skip");
			continue;
		}
		if (!step_applies(ra, s, why, sizeof(why))) {
			print_step_line(s + 1, s, "skipped", why);
			continue;
		}
		print_step_line(s + 1, s, "would run", NULL);
		child_globals(g, NULL, &a);
		step_argv(ra, s, true, &a);
		int ex = run_child(a.v, NULL, NULL, NULL, 0);
		argv_free(&a);
		if (ex == MC_EXIT_NOT_APPLICABLE)
			print_step_line(s + 1, s, "would be skipped", "does not apply here");
	}
	return MC_EXIT_CLEAN;
}

/* Open the run's journal: a new run (its plan saved from ARGV), or with
   RESUME the run RESUME_RUN (else the latest unfinished one), whose saved
   plan then replaces RA. The run id, its directory and the saved plan
   are set for the caller to free, also when NULL is returned (after a
   warning). */
static struct mc_journal *respond_open_run(struct mc_global *g, int argc, char **argv,
					   int resume, char *resume_run, struct respond_args *ra,
					   char **run_id_r, char **run_dir_r,
					   char ***pargv_r, int *pargc_r)
{
	struct mc_journal *j;
	char *error = NULL;

	if (resume) {
		const char *until_now = ra->until;
		bool yes_now = ra->yes;
		char *dummy = NULL;
		struct argv_buf then = { 0 };
		bool has_scan;

		if (resume_run == NULL)
			resume_run = latest_unfinished_run(g);
		if (resume_run == NULL) {
			mc_warn("respond: no unfinished run to resume in %s/runs", g->state_dir);
			return NULL;
		}
		*run_id_r = resume_run;
		g->run_id = resume_run;
		*run_dir_r = run_dir_of(g, resume_run);
		*pargv_r = params_load(*run_dir_r, pargc_r, &then, &has_scan);
		if (*pargv_r == NULL) {
			mc_warn("respond: run %s has no saved plan (%s/params.json)",
				resume_run, *run_dir_r);
			return NULL;
		}
		if (has_scan)
			params_compare_scan(g, &then, resume_run);
		argv_free(&then);
		respond_args_free(ra);
		parse_args(*pargc_r, *pargv_r, ra, &dummy);
		free(dummy);
		respond_default_postfix(ra, g);
		ioc_query(g, ra);
		ra->yes = ra->yes || yes_now;
		/* A run paused with --until goes on to the end unless the
		   resume names a new --until. */
		ra->until = until_now;
		j = mc_journal_open(*run_dir_r, false, &error);
		if (j != NULL)
			mc_output_printf("Resuming run %s\n", resume_run);
	} else {
		*run_id_r = mc_cli_run_id(g);
		g->run_id = *run_id_r;
		*run_dir_r = run_dir_of(g, *run_id_r);
		j = mc_journal_open(*run_dir_r, true, &error);
		if (j != NULL && params_save(g, *run_dir_r, argc, argv) < 0) {
			mc_journal_close(&j);
			return NULL;
		}
		if (j != NULL)
			mc_output_printf("Run %s (journal: %s/journal.jsonl)\n",
					 *run_id_r, *run_dir_r);
	}
	if (j == NULL) {
		mc_warn("respond: %s", error);
		free(error);
	}
	return j;
}

/* Run step S as a child, its events in RUN_DIR/STEP.jsonl and its
   errors in RUN_DIR/STEP.log; journal and show how it ended, and fold
   its exit into *EXIT_CODE. Returns false when the step failed. */
static bool respond_run_step(const struct mc_global *g, const struct respond_args *ra,
			     struct mc_journal *j, const char *run_id, const char *run_dir,
			     int s, int *exit_code)
{
	char detail[1100], last_err[1024];
	struct argv_buf a = { 0 };
	struct step_counts c;
	char *out, *log;
	bool ok = true;
	int ex;

	if (asprintf(&out, "%s/%s.jsonl", run_dir, step_names[s]) < 0 ||
	    asprintf(&log, "%s/%s.log", run_dir, step_names[s]) < 0)
		abort();
	mc_journal_append(j, step_names[s], "start", -1, NULL, NULL);
	print_step_line(s + 1, s, "running", NULL);
	child_globals(g, run_id, &a);
	argv_add(&a, "--json");
	step_argv(ra, s, false, &a);
	ex = run_child(a.v, out, log, last_err, sizeof(last_err));
	argv_free(&a);
	read_events(out, &c, NULL, NULL);
	if (c.have_summary)
		snprintf(detail, sizeof(detail),
			 "%lu scanned, %lu matched, %lu quarantined, %lu unscanned, %lu errors",
			 c.scanned, c.matched, c.acted, c.unscanned, c.errors);
	else
		snprintf(detail, sizeof(detail), "%s", ex == 0 ? "ok" : last_err);
	if (ex == MC_EXIT_NOT_APPLICABLE) {
		mc_journal_append(j, step_names[s], "skipped", ex, last_err, NULL);
		print_step_line(s + 1, s, "skipped", last_err);
	} else if (ex == 0 || ex == 1 || (ex == 2 && c.have_summary)) {
		/* Exit 2 with a summary: the step ran to its end but
		   some items could not be read; they are in the report. */
		mc_journal_append(j, step_names[s], "done", ex, detail, NULL);
		print_step_line(s + 1, s, ex == 2 ? "done, with errors" : "done", detail);
		if (ex == 2)
			*exit_code = MC_EXIT_ERROR;
		else if (ex == 1 && *exit_code == MC_EXIT_CLEAN)
			*exit_code = MC_EXIT_FOUND;
	} else {
		mc_journal_append(j, step_names[s], "failed", ex, last_err, NULL);
		print_step_line(s + 1, s, "FAILED", last_err);
		mc_warn("respond: step %s failed; see %s. Fix the cause, then: mailcure respond --resume %s",
			step_names[s], log, run_id);
		*exit_code = MC_EXIT_ERROR;
		ok = false;
	}
	free(out);
	free(log);
	return ok;
}

/* Journal how the run ended, close the journal, write the HTML report
   and say how to go on. */
static void respond_finish(const struct mc_global *g, struct mc_journal **j,
			   const struct respond_args *ra, const char *run_id,
			   const char *run_dir, int until, bool failed, bool stopped,
			   int exit_code)
{
	char *html;

	if (stopped) {
		mc_journal_append(*j, "run", "stopped", exit_code, "safety gate", NULL);
	} else if (!failed && exit_code != MC_EXIT_ERROR) {
		mc_journal_append(*j, "run", until < STEP_COUNT - 1 ? "paused" : "finished",
				  exit_code, ra->until != NULL ? ra->until : NULL, NULL);
	} else if (!failed) {
		mc_journal_append(*j, "run", "finished", exit_code, "with errors", NULL);
	}
	mc_journal_close(j);

	if (asprintf(&html, "%s/report.html", run_dir) < 0)
		abort();
	if (mc_cli_report_html(g, run_id, html) == 0)
		mc_output_printf("\nReport: %s\n(also: mailcure report %s)\n", html, run_id);
	if (until < STEP_COUNT - 1 && !failed)
		mc_output_printf("Stopped after %s (--until). Continue with: mailcure respond --resume %s\n",
				 ra->until, run_id);
	free(html);
}

int cmd_respond(int argc, char **argv, struct mc_global *g)
{
	struct respond_args ra;
	char *resume_run = NULL, *run_id = NULL, *run_dir = NULL;
	struct mc_journal *j;
	bool will_run[STEP_COUNT], failed = false, stopped = false;
	int resume, exit_code = MC_EXIT_CLEAN, until;
	/* The steps run under this run's id; the caller's is put back. */
	const char *caller_run_id = g->run_id;
	char **pargv = NULL;
	int pargc = 0;

	resume = parse_args(argc, argv, &ra, &resume_run);
	respond_default_postfix(&ra, g);
	ioc_query(g, &ra);
	if (resume == 0 && g->dry_run) {
		exit_code = respond_dry_run(g, &ra);
		respond_args_free(&ra);
		return exit_code;
	}
	if (geteuid() != 0 && !g->dry_run)
		mc_warn("respond: not running as root; steps that need root will fail");

	j = respond_open_run(g, argc, argv, resume, resume_run, &ra, &run_id, &run_dir,
			     &pargv, &pargc);
	if (j == NULL) {
		exit_code = MC_EXIT_ERROR;
		goto out;
	}
	if (mc_journal_step_state(j, "run") == NULL)
		mc_journal_append(j, "run", "start", -1, ra.query != NULL ? ra.query : "virus", NULL);
	else
		mc_journal_append(j, "run", "resume", -1, NULL, NULL);

	until = ra.until != NULL ? step_lookup(ra.until) : STEP_COUNT - 1;
	for (int s = 0; s < STEP_COUNT; s++) {
		char why[512];
		will_run[s] = s <= until && !step_skipped_by_user(&ra, s) &&
			step_applies(&ra, s, why, sizeof(why));
	}

	for (int s = 0; s < STEP_COUNT && s <= until; s++) {
		const char *state = mc_journal_step_state(j, step_names[s]);
		char why[512];

		if (state != NULL && (strcmp(state, "done") == 0 || strcmp(state, "skipped") == 0)) {
			print_step_line(s + 1, s, state, "(already, in this run)");
			continue;
		}
		if (step_skipped_by_user(&ra, s)) {
			mc_journal_append(j, step_names[s], "skipped", -1, "--skip", NULL);
			print_step_line(s + 1, s, "skipped", "--skip");
			continue;
		}
		if (!step_applies(&ra, s, why, sizeof(why))) {
			mc_journal_append(j, step_names[s], "skipped", -1, why, NULL);
			print_step_line(s + 1, s, "skipped", why);
			continue;
		}
		if (failed && (s == STEP_QUEUE_THAW || s == STEP_RECONNECT ||
			       s == STEP_QUEUE_DELETE || s == STEP_MAILBOX_CLEAN ||
			       s == STEP_HOST_SCAN)) {
			print_step_line(s + 1, s, "not run", "an earlier step failed");
			continue;
		}
		if ((s == STEP_QUEUE_DELETE || s == STEP_MAILBOX_CLEAN) &&
		    mc_journal_step_state(j, "gate") == NULL) {
			print_step_line(s + 1, s, "counting", "safety gate");
			if (safety_gate(g, &ra, run_id, run_dir, will_run) < 0) {
				mc_journal_append(j, "gate", "stopped", MC_EXIT_ERROR,
						  "more messages than --max-delete; needs --yes", NULL);
				exit_code = MC_EXIT_ERROR;
				stopped = true;
				break;
			}
			mc_journal_append(j, "gate", "done", 0, NULL, NULL);
		}
		if (!respond_run_step(g, &ra, j, run_id, run_dir, s, &exit_code))
			failed = true;
	}
	respond_finish(g, &j, &ra, run_id, run_dir, until, failed, stopped, exit_code);
out:
	g->run_id = caller_run_id;
	free(run_dir);
	free(run_id);
	respond_args_free(&ra);
	strv_free(pargv, pargc);
	return exit_code;
}
