/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	cmd_host 1
/* SUMMARY
/*	mailcure host scan|clean: file-level scan of the server
/* SYNOPSIS
/*	mailcure host scan [OPTIONS] [PATH]...
/*	mailcure host clean [OPTIONS] [PATH]...
/* DESCRIPTION
/*	scan reports the infected files below each PATH (default /);
/*	clean moves each of them into the quarantine, with its path,
/*	owner, group, mode, timestamps and extended attributes, so that
/*	`mailcure quarantine restore` puts it back identically. With
/*	--dry-run, clean lists what it would do and changes nothing.
/*
/*	The signatures are loaded once and -j N threads scan in
/*	parallel (default: twice the number of CPUs, as a host scan
/*	also waits on the disk). Symlinks are never followed; FIFOs, sockets and
/*	devices are never opened.
/*
/*	Options:
/*	--exclude GLOB	leave out paths matching GLOB (repeatable; matched
/*			against the full path, '*' also matches '/').
/*	-x, --one-file-system	stay on the file system of each PATH.
/*	--max-filesize SIZE	larger files are reported unscanned
/*			(default: the engine's file size limit, 100M).
/*	--max-depth N	directory nesting limit (default 1024).
/*	--no-default-excludes	also scan /proc /sys /dev /run and the
/*			mail stores (pseudo file systems and the quarantine
/*			stay excluded).
/*	The global --tempdir DIR says where libclamav unpacks archives.
/*	With the global --ioc, a file whose MD5, SHA-1 or SHA-256 is an
/*	indicator is found too, and with --yara, one that any rule
/*	matches (mc_query_eval_file); the indicators of what files do
/*	not have (URLs, domains, senders, subjects) are not applied,
/*	and -v says how many.
/*
/*	Exit status: 0 nothing found, 1 infected files found (and
/*	quarantined), 2 something could not be scanned or cleaned.
/*--*/

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "commands.h"

struct host_output {
	struct mc_output *out;
	const struct mc_global *g;
	bool progress;
	bool progress_shown;
};

const char cmd_host_usage[] =
	"usage: mailcure [GLOBAL OPTIONS] host scan [OPTIONS] [PATH]...\n"
	"       mailcure [GLOBAL OPTIONS] host clean [OPTIONS] [PATH]...\n\n"
	"scan reports the infected files below each PATH (default /); clean\n"
	"moves them into the quarantine (restore with 'mailcure quarantine\n"
	"restore --run RUN'). Symlinks are never followed; FIFOs, sockets and\n"
	"devices are never opened. Without -j, twice as many threads as CPUs\n"
	"scan in parallel. With --ioc and --yara, files whose hash is an\n"
	"indicator or that a rule matches are found too (URL, domain, sender\n"
	"and subject indicators are not applied to files).\n\n"
	"options:\n"
	"      --exclude GLOB         leave out paths matching GLOB (repeatable;\n"
	"                             full path, '*' also matches '/')\n"
	"  -x, --one-file-system      stay on the file system of each PATH\n"
	"      --max-filesize SIZE    larger files are reported unscanned (k/M/G;\n"
	"                             default: the engine's file size limit)\n"
	"      --max-depth N          directory nesting limit (default 1024)\n"
	"      --no-default-excludes  also scan /proc /sys /dev /run and the mail\n"
	"                             stores (pseudo file systems and the\n"
	"                             quarantine are always left out)\n\n"
	"Exit status: 0 nothing found, 1 infected files found (and quarantined),\n"
	"2 something could not be scanned or cleaned.\n";

void cmd_host_usage_more(FILE *fp)
{
	size_t col = 1;

	fputs("\nleft out by default:\n ", fp);
	for (size_t i = 0; mc_host_default_excludes[i] != NULL; i++) {
		size_t len = strlen(mc_host_default_excludes[i]) + 1;
		if (col + len > 72) {
			fputs("\n ", fp);
			col = 1;
		}
		fprintf(fp, " %s", mc_host_default_excludes[i]);
		col += len;
	}
	fputs("\nany Maildir or Dovecot mailbox directory, and the quarantine.\n"
	      "An mbox file is reported but never quarantined whole: clean it with\n"
	      "'mailcure mailbox clean -s mbox:PATH'.\n", fp);
}

static void progress_erase(struct host_output *ho)
{
	if (ho->progress_shown) {
		fputs("\r\033[K", stderr);
		ho->progress_shown = false;
	}
}

static void on_event(const struct mc_event *ev, void *context)
{
	struct host_output *ho = context;

	progress_erase(ho);
	mc_output_event(ev, ho->out);
}

static void on_skip(const char *path, const char *why, void *context)
{
	struct host_output *ho = context;

	if (ho->g->verbose < 1)
		return;
	progress_erase(ho);
	if (ho->g->json) {
		json_object *obj = json_object_new_object();
		json_object_object_add(obj, "event", json_object_new_string("skipped"));
		json_object_object_add(obj, "path", json_object_new_string(path));
		json_object_object_add(obj, "why", json_object_new_string(why));
		mc_output_json(stdout, obj);
	} else {
		mc_output_printf("%s: SKIPPED (%s)\n", path, why);
	}
	fflush(stdout);
}

/* Files, not messages: the line the host scan shows on a terminal. */
static void on_progress(const struct mc_progress *pr, void *context)
{
	struct host_output *ho = context;
	double secs = pr->seconds > 0 ? pr->seconds : 1e-9;

	if (!ho->progress)
		return;
	fprintf(stderr, "\r\033[K%llu files, %.1f MB, %.0f files/s, %.1f MB/s, %llu infected",
		(unsigned long long)pr->messages, (double)pr->bytes / 1e6,
		(double)pr->messages / secs, (double)pr->bytes / 1e6 / secs,
		(unsigned long long)pr->matched);
	ho->progress_shown = true;
	fflush(stderr);
}

static void host_query_close(struct mc_query **query, struct mc_yara **yara)
{
	mc_query_free(query);
	mc_yara_close(yara);
}

static void summary_human(const struct mc_global *g, bool clean,
			  const struct mc_summary *sum)
{
	double secs = sum->seconds > 0 ? sum->seconds : 1e-9;

	if (g->verbose < 0)
		return;
	mc_output_printf("\n----------- SUMMARY -----------\n");
	mc_output_printf("Run:        %s%s\n", sum->run_id,
			 g->dry_run && clean ? " (dry run: nothing changed)" : "");
	mc_output_printf("Scanned:    %llu files, %.1f MB in %.2f s (%.0f files/s, %.1f MB/s)\n",
			 (unsigned long long)sum->scanned, (double)sum->bytes / 1e6,
			 sum->seconds, (double)sum->scanned / secs,
			 (double)sum->bytes / 1e6 / secs);
	/* Infected, as clamscan says, when only the virus signatures
	   decide; an indicator or a YARA rule is a match, not a virus. */
	mc_output_printf("%s %llu\n",
			 g->ioc_count > 0 || g->yara_count > 0 ? "Matched:   " : "Infected:  ",
			 (unsigned long long)sum->matched);
	if (clean)
		mc_output_printf("%s %llu\n", g->dry_run ? "Would act:  " : "Quarantined:",
				 (unsigned long long)(g->dry_run ? sum->matched : sum->acted));
	mc_output_printf("Unscanned:  %llu\n", (unsigned long long)sum->unscanned);
	mc_output_printf("Errors:     %llu\n", (unsigned long long)sum->errors);
	if (clean && !g->dry_run && sum->acted > 0) {
		bool custom = strcmp(g->quarantine_dir, MC_DEFAULT_QUARANTINE) != 0;
		mc_output_printf("Undo with:  mailcure%s%s quarantine restore --run %s\n",
				 custom ? " --quarantine " : "", custom ? g->quarantine_dir : "",
				 sum->run_id);
	}
	fflush(stdout);
}

/* One descriptor per open directory level, plus libclamav's
   temporary files: use what the hard limit allows. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

struct host_options {
	const char **excludes;
	size_t exclude_count;
	unsigned long long max_filesize, max_depth;
	bool one_fs, default_excludes;
};

/* The options of "host scan|clean" into O; optind is then the first
   path. Exits on a usage error. */
static void host_options(int argc, char **argv, struct host_options *o)
{
	enum { OPT_EXCLUDE = 256, OPT_MAX_FILESIZE, OPT_MAX_DEPTH, OPT_NO_DEFAULTS };
	static const struct option options[] = {
		{ "exclude", required_argument, NULL, OPT_EXCLUDE },
		{ "one-file-system", no_argument, NULL, 'x' },
		{ "max-filesize", required_argument, NULL, OPT_MAX_FILESIZE },
		{ "max-depth", required_argument, NULL, OPT_MAX_DEPTH },
		{ "no-default-excludes", no_argument, NULL, OPT_NO_DEFAULTS },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->default_excludes = true;
	while ((c = getopt_long(argc, argv, "+x", options, NULL)) != -1) {
		switch (c) {
		case OPT_EXCLUDE:
			o->excludes = realloc(o->excludes,
					      (o->exclude_count + 1) * sizeof(*o->excludes));
			if (o->excludes == NULL)
				abort();
			o->excludes[o->exclude_count++] = optarg;
			break;
		case 'x':
			o->one_fs = true;
			break;
		case OPT_MAX_FILESIZE:
			o->max_filesize = mc_cli_parse_size(optarg, "--max-filesize");
			if (o->max_filesize == 0)
				mc_die_usage("--max-filesize: must be more than 0");
			break;
		case OPT_MAX_DEPTH:
			o->max_depth = mc_cli_parse_size(optarg, "--max-depth");
			if (o->max_depth == 0 || o->max_depth > 1000000)
				mc_die_usage("--max-depth: between 1 and 1000000");
			break;
		case OPT_NO_DEFAULTS:
			o->default_excludes = false;
			break;
		default:
			mc_die_command_usage();
		}
	}
}

/* With --ioc or --yara, the query that holds them: files match by
   the engine, the hashes of the indicators or any rule. NULL
   without either. */
static int host_query(const struct mc_global *g, struct mc_query **query_r,
		      struct mc_yara **yara_r)
{
	char *error = NULL;
	size_t ignored;

	*query_r = NULL;
	*yara_r = NULL;
	if (g->ioc_count == 0 && g->yara_count == 0)
		return 0;
	*query_r = mc_query_parse(g->yara_count > 0 ? "virus or yara" : "virus", &error);
	if (*query_r == NULL) {
		mc_warn("%s", error);
		free(error);
		return -1;
	}
	if (mc_cli_ioc_open(g, *query_r) < 0 || mc_cli_yara_open(g, *query_r, yara_r) < 0) {
		host_query_close(query_r, yara_r);
		return -1;
	}
	ignored = mc_query_file_ignored(*query_r);
	if (ignored > 0 && g->verbose > 0)
		mc_warn("--ioc: %zu indicator(s) of URLs, domains, addresses or subjects "
			"do not apply to files; the host scan compares file hashes only",
			ignored);
	return 0;
}

int cmd_host(int argc, char **argv, struct mc_global *g)
{
	static const char *const verbs[] = { "scan", "clean", NULL };
	static const char *const default_paths[] = { "/" };
	struct host_options o;
	unsigned long long max_filesize;
	bool clean;
	char *error = NULL;
	int exit_code;

	clean = mc_cli_verb(&argc, &argv, verbs) == 1;
	host_options(argc, argv, &o);
	max_filesize = o.max_filesize;

	/* A larger --max-filesize must reach the engine too, or
	   libclamav would stop at its own limit. */
	if (max_filesize == 0)
		max_filesize = g->limits.max_file_size;
	if (max_filesize > g->limits.max_file_size)
		g->limits.max_file_size = max_filesize;
	if (max_filesize > g->limits.max_scan_size)
		g->limits.max_scan_size = max_filesize;

	raise_nofile();
	/* Indicators and rules are read, and rules compiled, before
	   anything is scanned. */
	struct mc_query *query = NULL;
	struct mc_yara *yara = NULL;
	if (host_query(g, &query, &yara) < 0)
		return MC_EXIT_ERROR;
	struct mc_engine *engine = NULL;
	if (mc_cli_engine_open(g, &engine) < 0) {
		host_query_close(&query, &yara);
		return MC_EXIT_ERROR;
	}
	struct mc_quarantine *q = NULL;
	if (clean && !g->dry_run) {
		q = mc_cli_quarantine_open(g, true);
		if (q == NULL) {
			mc_cli_engine_close(g, &engine);
			host_query_close(&query, &yara);
			return MC_EXIT_ERROR;
		}
	}

	char *run_id = mc_cli_run_id(g);
	struct host_output ho = {
		.out = mc_output_init(g, clean),
		.g = g,
	};
	switch (g->progress) {
	case MC_PROGRESS_ALWAYS: ho.progress = true; break;
	case MC_PROGRESS_NEVER: ho.progress = false; break;
	case MC_PROGRESS_AUTO: ho.progress = isatty(STDERR_FILENO) && g->verbose >= 0; break;
	}
	struct mc_host_scan set = {
		.paths = optind < argc ? (const char *const *)argv + optind : default_paths,
		.path_count = optind < argc ? (size_t)(argc - optind) : 1,
		.excludes = o.excludes,
		.exclude_count = o.exclude_count,
		.default_excludes = o.default_excludes,
		.one_file_system = o.one_fs,
		.max_filesize = max_filesize,
		.max_depth = (unsigned)o.max_depth,
		.engine_ops = mc_cli_engine_ops(g),
		.engine = engine,
		.limits = &g->limits,
		.query = query,
		.action = clean ? MC_ACTION_QUARANTINE : MC_ACTION_NONE,
		.dry_run = g->dry_run,
		.quarantine = q,
		.quarantine_dir = g->quarantine_dir,
		.run_id = run_id,
		.jobs = mc_cli_jobs(g),
		.on_event = on_event,
		.on_progress = on_progress,
		.on_skip = on_skip,
		.context = &ho,
	};
	if (query != NULL)
		mc_output_set_query(ho.out, query);
	struct mc_summary sum;
	if (mc_host_scan_run(&set, &sum, &error) < 0) {
		progress_erase(&ho);
		mc_warn("%s", error);
		free(error);
		exit_code = MC_EXIT_ERROR;
	} else {
		progress_erase(&ho);
		if (g->json)
			mc_output_summary(ho.out, &sum);
		else
			summary_human(g, clean, &sum);
		exit_code = sum.errors > 0 || sum.unscanned > 0 ? MC_EXIT_ERROR :
			sum.matched > 0 ? MC_EXIT_FOUND : MC_EXIT_CLEAN;
	}
	mc_output_deinit(&ho.out);
	free(run_id);
	free(o.excludes);
	mc_cli_engine_close(g, &engine);
	host_query_close(&query, &yara);
	if (q != NULL)
		mc_quarantine_close(&q);
	return exit_code;
}
