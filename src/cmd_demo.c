/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	cmd_demo 1
/* SUMMARY
/*	mailcure demo: build a sample infected mail server and clean it
/* SYNOPSIS
/*	mailcure demo [--keep] [--dir DIR] [--create-only]
/*		[--users N] [--messages N] [--seed N]
/* DESCRIPTION
/*	demo shows a newcomer what a real run looks like, without
/*	touching the real system. It creates a sample server in a
/*	temporary directory (mkdtemp under $TMPDIR or /tmp, or DIR):
/*
/*	home/USER/Maildir	INBOX, .Sent and .Archive (Maildir++)
/*	var/mail/USER		mbox files (users without a Maildir,
/*				and local system mail of the others)
/*
/*	with a few hundred realistic-looking messages from a seeded
/*	pseudo-random generator (the same seed gives the same server):
/*	senders, subjects, text bodies, small PDF and image attachments
/*	made of random bytes, some messages carrying a file from
/*	/usr/share/clamav-testfiles or the EICAR test string, and one
/*	outbreak message, "Invoice overdue" with an infected zip,
/*	delivered to every user with per-recipient headers.
/*
/*	srv/www/uploads/	files of a web upload directory, one of
/*				them a malware test file (the host scan)
/*
/*	It then runs the outbreak runbook on it through the very code
/*	path of "mailcure respond" (cmd_respond() with a built argument
/*	vector): the mailbox clean and the host clean, journaled, with
/*	the network and queue steps skipped, as the sample server has no
/*	Postfix, Dovecot or firewall of its own (the demo never touches
/*	the real ones). It uses the bundled test signatures
/*	(MC_SOURCE_DIR/tests/sigs when run from the build tree, else the
/*	installed MC_DATADIR/sigs) unless
/*	-d is given, and a quarantine and state directory inside the
/*	sample directory unless --quarantine or --state-dir are given.
/*	The steps are shown as they run, then the match lines of the
/*	clean steps (from the run's event files, as "mailbox clean" and
/*	"host clean" print them), a report read back from the quarantine
/*	(per signature, per user), the HTML report's path, the commands
/*	to inspect and restore, and how to run mailcure on a real server.
/*
/*	--keep keeps the sample directory (--dir implies it).
/*	--create-only creates the sample server and stops: a corpus
/*	generator for tests and benchmarks (--users, --messages, --seed).
/*
/*	Exit status: 0 when the demo ran as expected, 2 otherwise.
/* SECURITY
/*	Everything is created under a fresh directory that mailcure made
/*	itself, or under DIR, which must not exist or be empty. As root,
/*	the files of each sample user belong to a distinct unprivileged
/*	uid (2001, 2002, ...), as they would on a server.
/* SEE ALSO
/*	demo_server(3), which builds the sample server.
/*--*/

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "commands.h"
#include "demo_server.h"

/* --- report --- */

struct count {
	char *key;
	const char *kind;
	unsigned n;
};

static void count_add(struct count **arr, size_t *count, const char *key,
		      const char *kind)
{
	for (size_t i = 0; i < *count; i++) {
		if (strcmp((*arr)[i].key, key) == 0) {
			(*arr)[i].n++;
			return;
		}
	}
	*arr = realloc(*arr, (*count + 1) * sizeof(**arr));
	if (*arr == NULL)
		abort();
	(*arr)[*count].key = strdup(key);
	(*arr)[*count].kind = kind;
	(*arr)[*count].n = 1;
	(*count)++;
}

static int count_cmp(const void *a, const void *b)
{
	const struct count *x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->key, y->key);
}

static void counts_free(struct count *arr, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(arr[i].key);
	free(arr);
}

/* Read back what run(s) since START put in the quarantine. Returns the
   number of entries, with *run_r set to the run id. */
static unsigned report(const char *qdir, time_t start, char **run_r,
		       unsigned *host_files_r)
{
	struct count *sigs = NULL, *users = NULL, *subjects_seen = NULL;
	size_t nsigs = 0, nusers = 0, nsubjects = 0;
	unsigned entries = 0;
	uint64_t bytes = 0;
	char *error = NULL;
	struct mc_quarantine *q = mc_quarantine_open(qdir, false, &error);

	*run_r = NULL;
	*host_files_r = 0;
	if (q == NULL) {
		mc_output_printf("  (could not read the quarantine: %s)\n", error);
		free(error);
		return 0;
	}
	struct mc_quarantine_iter *it = mc_quarantine_iter_init(q);
	struct mc_qentry *e;
	while ((e = mc_quarantine_iter_next(it)) != NULL) {
		if (e->quarantined_at >= start && e->loc.kind != NULL &&
		    strcmp(e->loc.kind, "host") == 0) {
			(*host_files_r)++;
		} else if (e->quarantined_at >= start) {
			entries++;
			bytes += e->size;
			if (e->run_id != NULL && *run_r == NULL)
				*run_r = strdup(e->run_id);
			for (size_t i = 0; i < e->reason_count; i++) {
				if (e->reasons[i].kind == MC_REASON_VIRUS && e->reasons[i].value != NULL)
					count_add(&sigs, &nsigs, e->reasons[i].value, NULL);
			}
			count_add(&subjects_seen, &nsubjects,
				  e->subject != NULL ? e->subject : "(no subject)", NULL);
			count_add(&users, &nusers, e->loc.user != NULL ? e->loc.user : "?",
				  e->loc.kind != NULL && strcmp(e->loc.kind, "mbox") == 0 ?
				  "mbox" : "Maildir");
		}
		mc_qentry_free(&e);
	}
	mc_quarantine_iter_deinit(&it);
	mc_quarantine_close(&q);

	qsort(sigs, nsigs, sizeof(*sigs), count_cmp);
	qsort(users, nusers, sizeof(*users), count_cmp);
	qsort(subjects_seen, nsubjects, sizeof(*subjects_seen), count_cmp);
	mc_output_printf("  %u messages quarantined (%.1f MB)%s%s\n", entries,
			 (double)bytes / 1e6, *run_r != NULL ? " by run " : "",
			 *run_r != NULL ? *run_r : "");
	if (nsigs > 0)
		mc_output_printf("\n  by signature:\n");
	for (size_t i = 0; i < nsigs; i++)
		mc_output_printf("    %5u  %s\n", sigs[i].n, sigs[i].key);
	/* An outbreak shows as one subject many times over. */
	if (nsubjects > 0)
		mc_output_printf("\n  most frequent subjects:\n");
	for (size_t i = 0; i < nsubjects && i < 3; i++)
		mc_output_printf("    %5u  %s\n", subjects_seen[i].n, subjects_seen[i].key);
	if (nusers > 0)
		mc_output_printf("\n  by user:\n");
	for (size_t i = 0; i < nusers; i++)
		mc_output_printf("    %5u  %-10s (%s)\n", users[i].n, users[i].key, users[i].kind);
	if (*host_files_r > 0)
		mc_output_printf("\n  %u infected file%s of the server quarantined by the host scan\n",
				 *host_files_r, *host_files_r == 1 ? "" : "s");
	counts_free(sigs, nsigs);
	counts_free(users, nusers);
	counts_free(subjects_seen, nsubjects);
	return entries;
}

/* --- running the real clean --- */

/* Whether this binary is the one in the build tree. Only that one may
   take the signatures from the source tree: an installed binary keeps
   the build path as a string, and a directory of that name (under
   /tmp, say) could be anyone's. */
static bool running_from_build_tree(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t len = strlen(MC_BUILD_DIR);

	if (n < 0)
		return false;
	exe[n] = 0;
	return strncmp(exe, MC_BUILD_DIR, len) == 0 && exe[len] == '/';
}

static const char *bundled_signatures(void)
{
	const char *dirs[2];
	size_t n = 0;
	struct stat st;

	if (running_from_build_tree())
		dirs[n++] = MC_SOURCE_DIR "/tests/sigs";
	dirs[n++] = MC_DATADIR "/sigs";
	for (size_t i = 0; i < n; i++) {
		char probe[4096];
		snprintf(probe, sizeof(probe), "%s/mailcure-test.hdb", dirs[i]);
		if (stat(probe, &st) == 0)
			return dirs[i];
	}
	return NULL;
}

/* The newest run in STATE_DIR/runs (run ids sort by time), or NULL. */
static char *newest_run(const char *state_dir)
{
	char path[4200];
	struct dirent **names;
	char *run = NULL;
	int n;

	snprintf(path, sizeof(path), "%s/runs", state_dir);
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0)
		return NULL;
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			free(run);
			run = strdup(names[i]->d_name);
		}
		free(names[i]);
	}
	free(names);
	return run;
}

/* Print the events a step of run RUN wrote (STATE/runs/RUN/STEP.jsonl)
   the way "mailcure mailbox clean" prints them: one line per match,
   "LOCATION: REASONS [ACTION ID]", and the messages it could not scan. */
static void show_step_events(const char *state_dir, const char *run,
			     const char *step)
{
	char path[4400];
	char *line = NULL;
	size_t cap = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/runs/%s/%s.jsonl", state_dir, run, step);
	if ((fp = fopen(path, "re")) == NULL)
		return;
	while (getline(&line, &cap, fp) > 0) {
		json_object *ev = json_tokener_parse(line), *v;
		const char *type, *where;

		if (ev == NULL)
			continue;
		type = json_object_object_get_ex(ev, "event", &v) ? json_object_get_string(v) : "";
		where = json_object_object_get_ex(ev, "path", &v) ? json_object_get_string(v) : "?";
		if (strcmp(type, "match") == 0) {
			json_object *reasons, *act, *qid;
			mc_output_printf("%s", where);
			if (json_object_object_get_ex(ev, "offset", &v))
				mc_output_printf("@%lld", (long long)json_object_get_int64(v));
			mc_output_printf(":");
			if (json_object_object_get_ex(ev, "reasons", &reasons)) {
				for (size_t i = 0; i < json_object_array_length(reasons); i++) {
					json_object *r = json_object_array_get_idx(reasons, i), *k, *val;
					json_object_object_get_ex(r, "kind", &k);
					if (!json_object_object_get_ex(r, "name", &val))
						json_object_object_get_ex(r, "value", &val);
					mc_output_printf("%s %s %s", i > 0 ? "," : "", json_object_get_string(k),
							 val != NULL ? json_object_get_string(val) : "");
				}
			}
			if (json_object_object_get_ex(ev, "action", &act))
				mc_output_printf(" [%s%s%s]", json_object_get_string(act),
						 json_object_object_get_ex(ev, "quarantine_id", &qid) ? " " : "",
						 json_object_object_get_ex(ev, "quarantine_id", &qid) ?
						 json_object_get_string(qid) : "");
			mc_output_printf("\n");
		} else if (strcmp(type, "unscanned") == 0 || strcmp(type, "error") == 0) {
			mc_output_printf("%s: %s (%s)\n", where, strcmp(type, "error") == 0 ? "ERROR" : "UNSCANNED",
					 json_object_object_get_ex(ev, "why", &v) ? json_object_get_string(v) : "?");
		}
		json_object_put(ev);
	}
	free(line);
	fclose(fp);
}

/* Run command CMD on ARGV (with room for the final NULL) as main()
   would, its output kept in order with ours. */
static int run_command(int (*cmd)(int, char **, struct mc_global *),
		       int argc, char **argv, struct mc_global *g)
{
	int rc;

	argv[argc] = NULL;
	optind = 0;
	fflush(stdout);
	rc = cmd(argc, argv, g);
	fflush(stdout);
	return rc;
}

/* Run "respond" on the sample server exactly as the command line
   would, with the steps that need a real Postfix or firewall skipped. */
static int run_respond(struct mc_global *g, const char *const *stores,
		       size_t store_count, const char *host_path)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"respond";
	argv[argc++] = (char *)"--skip";
	argv[argc++] = (char *)"isolate";
	argv[argc++] = (char *)"--skip";
	argv[argc++] = (char *)"queue-freeze";
	argv[argc++] = (char *)"--skip";
	argv[argc++] = (char *)"queue-delete";
	argv[argc++] = (char *)"--skip";
	argv[argc++] = (char *)"queue-thaw";
	argv[argc++] = (char *)"--skip";
	argv[argc++] = (char *)"reconnect";
	argv[argc++] = (char *)"--clean-host";
	argv[argc++] = (char *)"--host-path";
	argv[argc++] = (char *)host_path;
	argv[argc++] = (char *)"--yes";
	for (size_t i = 0; i < store_count && argc < 30; i++) {
		argv[argc++] = (char *)"-s";
		argv[argc++] = (char *)stores[i];
	}
	return run_command(cmd_respond, argc, argv, g);
}

/* Run "mailbox VERB -s STORE..." exactly as the command line would. */
static int run_mailbox(struct mc_global *g, const char *verb, const char *const *stores,
		       size_t store_count)
{
	char *argv[16];
	int argc = 0;

	argv[argc++] = (char *)"mailbox";
	argv[argc++] = (char *)verb;
	for (size_t i = 0; i < store_count && argc < 14; i++) {
		argv[argc++] = (char *)"-s";
		argv[argc++] = (char *)stores[i];
	}
	return run_command(cmd_mailbox, argc, argv, g);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

const char cmd_demo_usage[] =
	"usage: mailcure [GLOBAL OPTIONS] demo [--keep] [--dir DIR] [--create-only]\n"
	"                [--users N] [--messages N] [--seed N]\n\n"
	"Builds a sample infected mail server in a temporary directory and runs\n"
	"the outbreak runbook (respond) on it, with the bundled test signatures.\n"
	"The real system is not touched. Needs /usr/share/clamav-testfiles.\n\n"
	"options:\n"
	"      --keep         keep the sample directory\n"
	"      --dir DIR      build it in DIR (new or empty; implies --keep)\n"
	"      --create-only  only build it (a corpus for tests and benchmarks)\n"
	"      --users N      sample users (default 8)\n"
	"      --messages N   sample messages (default 300)\n"
	"      --seed N       the same seed builds the same server\n\n"
	"Exit status: 0 the demo ran as expected, 2 otherwise.\n";

static unsigned parse_count(const char *s, unsigned max, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v == 0 || v > max)
		mc_die_usage("%s: a number from 1 to %u: %s", what, max, s);
	return (unsigned)v;
}

/* What one demo run works with, from step to step. */
struct demo_run {
	/* The command line. */
	bool keep, create_only;
	const char *dir;		/* --dir, or NULL: a temporary one */
	unsigned users, messages;
	uint64_t seed;

	struct mc_demo server;
	const char *sigs;		/* the bundled signatures; NULL: -d */
	char root[4096];
	char home[4200], varmail[4200], qdir[4200], statedir[4200], hostdir[4200];
	unsigned infected;		/* infected messages created */
	int host_infected;		/* infected host files created */
	struct mc_global dg;		/* the options respond runs with */
	time_t start;			/* when respond started */
	int rc;				/* respond's exit status */
};

static void demo_options(int argc, char **argv, struct demo_run *r)
{
	static const struct option options[] = {
		{ "keep", no_argument, NULL, 'k' },
		{ "dir", required_argument, NULL, 'D' },
		{ "create-only", no_argument, NULL, 'C' },
		{ "users", required_argument, NULL, 'u' },
		{ "messages", required_argument, NULL, 'm' },
		{ "seed", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	r->users = 8;
	r->messages = 300;
	r->seed = 20260302;
	optind = 0;
	while ((c = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		switch (c) {
		case 'k': r->keep = true; break;
		case 'D': r->dir = optarg; break;
		case 'C': r->create_only = true; break;
		case 'u': r->users = parse_count(optarg, MC_DEMO_MAX_USERS, "--users"); break;
		case 'm': r->messages = parse_count(optarg, 10000000, "--messages"); break;
		case 'S': {
			char *end;
			errno = 0;
			r->seed = strtoull(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0')
				mc_die_usage("--seed: not a number: %s", optarg);
			break;
		}
		default: mc_die_command_usage();
		}
	}
	if (optind < argc)
		mc_die_command_usage();
}

/* What the demo needs before it creates anything: the malware test
   files, and signatures (the bundled ones unless -d names others). */
static int demo_prepare(struct demo_run *r, const struct mc_global *g)
{
	if (mc_demo_init(&r->server, r->seed) < 0) {
		mc_warn("demo: the ClamAV test files are missing (%s): "
			"install the Debian package clamav-testfiles", MC_DEMO_TESTFILES);
		return -1;
	}
	if (!r->create_only && g->database_count == 0) {
		r->sigs = bundled_signatures();
		if (r->sigs == NULL) {
			mc_warn("demo: the bundled test signatures are missing (looked in "
				MC_DATADIR "/sigs, and in the source tree for a binary "
				"of the build tree); "
				"give signatures with -d");
			mc_demo_deinit(&r->server);
			return -1;
		}
	}
	return 0;
}

/* Where: a fresh temporary directory, or --dir (new or empty, and
   kept). */
static int demo_make_root(struct demo_run *r)
{
	const char *dir = r->dir;

	if (dir != NULL) {
		DIR *dh;
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			mc_warn("demo: mkdir %s: %s", dir, strerror(errno));
			return -1;
		}
		if ((dh = opendir(dir)) == NULL) {
			mc_warn("demo: %s: %s", dir, strerror(errno));
			return -1;
		}
		struct dirent *de;
		bool empty = true;
		while ((de = readdir(dh)) != NULL)
			empty &= strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
		closedir(dh);
		if (!empty) {
			mc_warn("demo: %s is not empty; give a new or empty directory", dir);
			return -1;
		}
		if (realpath(dir, r->root) == NULL)
			snprintf(r->root, sizeof(r->root), "%s", dir);
		r->keep = true;
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(r->root, sizeof(r->root), "%s/mailcure-demo.XXXXXX",
			 tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
		if (mkdtemp(r->root) == NULL) {
			mc_warn("demo: mkdtemp %s: %s", r->root, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* What the sample server holds, per user and in all. */
static void demo_describe(const struct demo_run *r)
{
	const struct mc_demo *d = &r->server;

	printf("Created a sample mail server in %s\n\n", r->root);
	for (unsigned i = 0; i < d->user_count; i++) {
		const struct mc_demo_user *u = &d->users[i];
		char where[96];
		if (u->maildir) {
			snprintf(where, sizeof(where), "home/%s/Maildir", u->name);
			printf("  %-22s %4u messages, %2u infected  (INBOX, Sent, Archive)\n",
			       where, u->messages - u->mbox_messages,
			       u->infected - u->mbox_infected);
		}
		if (u->mbox_messages > 0) {
			snprintf(where, sizeof(where), "var/mail/%s", u->name);
			printf("  %-22s %4u message%s %2u infected  (mbox%s)\n",
			       where, u->mbox_messages, u->mbox_messages == 1 ? ", " : "s,",
			       u->mbox_infected,
			       u->maildir ? ", local system mail" : "");
		}
	}
	printf("\n  %u messages (%.1f MB) in %u Maildir folders and %u mbox files;\n"
	       "  %u of them carry malware test files:\n"
	       "    %3u  the outbreak: \"Invoice overdue\" with Invoice_2026-0342.zip"
	       " (%s inside), one to every user\n"
	       "    %3u  with a file of " MC_DEMO_TESTFILES " attached\n"
	       "    %3u  with the EICAR test file attached\n",
	       d->total, (double)d->bytes / 1e6, d->maildir_folders, d->mbox_files,
	       r->infected, d->outbreak, d->outbreak_file->name,
	       d->infected_testfile, d->infected_eicar);
	if (d->chown_users)
		printf("  Each user's files belong to that user (uids 2001-%u).\n",
		       2000 + d->user_count);
}

/* Create the users' mail and say what it holds. */
static int demo_build(struct demo_run *r)
{
	struct mc_demo *d = &r->server;

	if (mc_demo_create(d, r->root, r->users, r->messages) < 0) {
		mc_warn("demo: creating the sample server: %s", d->error ? d->error : "?");
		return -1;
	}
	snprintf(r->home, sizeof(r->home), "%s/home", r->root);
	snprintf(r->varmail, sizeof(r->varmail), "%s/var/mail", r->root);
	snprintf(r->qdir, sizeof(r->qdir), "%s/quarantine", r->root);
	r->infected = d->infected_testfile + d->infected_eicar + d->outbreak;
	demo_describe(r);
	return 0;
}

/* The host files, then the clean through the command's own code path:
   respond with the demo's signatures, quarantine and state directory
   unless the options name others. */
static int demo_respond(struct demo_run *r, const struct mc_global *g)
{
	struct mc_global *dg = &r->dg;
	const char *stores[] = { r->home, r->varmail };

	r->host_infected = mc_demo_create_host_files(&r->server);
	if (r->host_infected < 0) {
		mc_warn("demo: creating the sample server: %s",
			r->server.error ? r->server.error : "?");
		return -1;
	}
	printf("  srv/www/uploads/        a web upload directory: %d malware test file%s\n"
	       "                          among clean files (for the host scan)\n",
	       r->host_infected, r->host_infected == 1 ? "" : "s");

	*dg = *g;
	if (r->sigs != NULL) {
		dg->databases = &r->sigs;
		dg->database_count = 1;
	}
	if (strcmp(g->quarantine_dir, MC_DEFAULT_QUARANTINE) == 0)
		dg->quarantine_dir = r->qdir;
	snprintf(r->statedir, sizeof(r->statedir), "%s/state", r->root);
	snprintf(r->hostdir, sizeof(r->hostdir), "%s/srv", r->root);
	if (strcmp(g->state_dir, MC_DEFAULT_STATE_DIR) == 0)
		dg->state_dir = r->statedir;
	dg->json = false;

	printf("\nResponding to the outbreak, exactly as this command would:\n\n"
	       "  mailcure -d %s --quarantine %s \\\n"
	       "      --state-dir %s%s respond --clean-host --host-path %s \\\n"
	       "      --skip isolate --skip queue-freeze --skip queue-delete \\\n"
	       "      --skip queue-thaw --skip reconnect -s %s -s %s\n\n"
	       "(on a real server, respond also cuts the users off with nftables,\n"
	       "freezes and cleans the Postfix queue, thaws it and reconnects the users;\n"
	       "the sample server has none of these, so those steps are skipped)\n\n",
	       r->sigs != NULL ? r->sigs : dg->databases[0], dg->quarantine_dir,
	       dg->state_dir, dg->dry_run ? " --dry-run" : "", r->hostdir,
	       r->home, r->varmail);
	fflush(stdout);
	r->start = time(NULL);
	r->rc = run_respond(dg, stores, 2, r->hostdir);
	printf("\n");
	if (r->rc == MC_EXIT_ERROR)
		printf("The run reported errors (exit status 2): messages that could not be "
		       "read or scanned were left in place; see the report.\n\n");
	return 0;
}

/* The match lines, as "mailcure mailbox clean" shows them live;
   respond keeps each step's events in the run's directory. */
static void demo_show_steps(const struct demo_run *r)
{
	char *step_run = newest_run(r->dg.state_dir);

	if (step_run == NULL)
		return;
	printf("What the mailbox-clean and host-scan steps did, line by line as\n"
	       "\"mailcure mailbox clean\" and \"mailcure host clean\" print it:\n\n");
	show_step_events(r->dg.state_dir, step_run, "mailbox-clean");
	show_step_events(r->dg.state_dir, step_run, "host-scan");
	printf("\n");
	free(step_run);
}

/* A second look: a clean server gives nothing to report. Returns the
   exit status of "mailbox find". */
static int demo_check_again(const struct demo_run *r, const struct mc_global *g)
{
	const char *stores[] = { r->home, r->varmail };
	struct mc_global vg = r->dg;
	int vrc;

	/* A run of its own (respond set dg.run_id to its run, which it
	   has freed since). */
	vg.run_id = g->run_id;
	vg.verbose = -1;
	vg.progress = MC_PROGRESS_NEVER;
	printf("\nChecking again (mailbox find over the same stores):\n");
	vrc = run_mailbox(&vg, "find", stores, 2);
	if (vrc == MC_EXIT_CLEAN)
		printf("  nothing left: the sample server is clean.\n");
	else
		printf("  the second scan still found something (exit status %d).\n", vrc);
	return vrc;
}

/* How to look at and undo what was done, and how to go on to a real
   server. */
static void demo_next_steps(const struct demo_run *r, const char *run)
{
	const char *qdir = r->dg.quarantine_dir;

	printf("\nThe quarantine is %s\n", qdir);
	printf("  list it:         mailcure --quarantine %s quarantine list\n", qdir);
	printf("  show one entry:  mailcure --quarantine %s quarantine show ID\n", qdir);
	printf("  undo the run:    mailcure --quarantine %s quarantine restore --run %s\n",
	       qdir, run != NULL ? run : "RUN");
	if (!r->keep)
		printf("  (the sample server is removed now; run \"mailcure demo --keep\""
		       " to try these commands on it)\n");

	printf("\nOn a real server, as root, with current signatures (freshclam):\n"
	       "  mailcure mailbox find                  # look first: /var/mail, /home/*/Maildir, /var/vmail\n"
	       "  mailcure --dry-run mailbox clean       # what would be removed, changing nothing\n"
	       "  mailcure mailbox clean                 # quarantine and remove the infected messages\n"
	       "  mailcure quarantine restore --run RUN  # undo a run\n"
	       "  mailcure respond --allow ADMIN-CIDR    # the whole runbook: isolate, freeze and clean\n"
	       "                                         # the queue, clean mailboxes and host, thaw, reconnect\n"
	       "  mailcure report RUN --html FILE        # what a run found and did, as one page\n"
	       "Signatures come from " MC_DEFAULT_DATABASE " unless -d names others; the\n"
	       "quarantine is " MC_DEFAULT_QUARANTINE " unless --quarantine names another.\n"
	       "See mailcure(1).\n");
}

/* What the clean did, read back from its events and the quarantine,
   and a second scan. Returns the demo's exit code: 0 when everything
   created was quarantined and nothing is left. */
static int demo_review(const struct demo_run *r, const struct mc_global *g)
{
	char *run = NULL;
	unsigned host_files = 0, entries;
	int vrc, exit_code;

	demo_show_steps(r);
	printf("Report\n\n");
	entries = report(r->dg.quarantine_dir, r->start, &run, &host_files);
	vrc = demo_check_again(r, g);
	demo_next_steps(r, run);
	free(run);
	exit_code = entries == r->infected && (int)host_files == r->host_infected &&
		r->rc == MC_EXIT_FOUND && vrc == MC_EXIT_CLEAN ? 0 : MC_EXIT_ERROR;
	if (exit_code != 0)
		printf("\nThe demo did not go as expected: %u infected messages were created, "
		       "%u quarantined.\n", r->infected, entries);
	return exit_code;
}

/* Keep the sample server (saying where), or remove it. */
static void demo_finish(struct demo_run *r)
{
	if (r->keep) {
		printf("\nThe sample server is kept in %s (remove it with: rm -rf %s)\n",
		       r->root, r->root);
	} else if (nftw(r->root, remove_entry, 32, FTW_DEPTH | FTW_PHYS) < 0) {
		mc_warn("demo: could not remove %s: %s", r->root, strerror(errno));
	}
	mc_demo_deinit(&r->server);
}

int cmd_demo(int argc, char **argv, struct mc_global *g)
{
	struct demo_run r;
	int exit_code = MC_EXIT_ERROR;

	memset(&r, 0, sizeof(r));
	demo_options(argc, argv, &r);
	if (demo_prepare(&r, g) < 0)
		return MC_EXIT_ERROR;
	if (demo_make_root(&r) < 0) {
		mc_demo_deinit(&r.server);
		return MC_EXIT_ERROR;
	}
	if (demo_build(&r) < 0)
		goto out;
	if (r.create_only) {
		/* A corpus for tests and benchmarks: build it, keep it. */
		exit_code = 0;
		r.keep = true;
		goto out;
	}
	if (demo_respond(&r, g) < 0)
		goto out;
	if (r.dg.dry_run) {
		printf("This was a dry run: nothing was changed.\n");
		exit_code = r.rc == MC_EXIT_FOUND ? 0 : MC_EXIT_ERROR;
		goto out;
	}
	exit_code = demo_review(&r, g);
out:
	demo_finish(&r);
	return exit_code;
}
