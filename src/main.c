/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	mailcure 1
/* SUMMARY
/*	clean a mail server after a virus outbreak
/* SYNOPSIS
/*	mailcure [GLOBAL OPTIONS] COMMAND [ARGS]
/* DESCRIPTION
/*	main() parses the global options, finds COMMAND in the commands[]
/*	table and runs it. Global options may also follow the command
/*	name; each command parses its own options after that.
/*	See mailcure(1) for the commands.
/*
/*	"mailcure --help" lists the commands and the global options;
/*	"mailcure COMMAND --help" (-h, anywhere after COMMAND) prints
/*	that command's usage and options on stdout and exits 0. Each
/*	command's usage text is kept once, in its cmd_*.c file, and is
/*	also what a usage error of that command prints.
/*--*/

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "commands.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv, struct mc_global *g);
	const char *help;		/* its line in "mailcure --help" */
	const char *usage;		/* "mailcure COMMAND --help" */
	void (*usage_more)(FILE *fp);	/* what follows that, or NULL */
};

static const struct command commands[] = {
	{ "mailbox", cmd_mailbox, "find|clean [-s STORE]... [QUERY]", cmd_mailbox_usage, NULL },
	{ "quarantine", cmd_quarantine, "list|show ID|restore ID...|restore --run RUN|purge --before DATE",
	  cmd_quarantine_usage, NULL },
	{ "respond", cmd_respond, "[-s STORE]... [QUERY]  the whole runbook, journaled, resumable",
	  cmd_respond_usage, NULL },
	{ "report", cmd_report, "RUN [--html FILE]  what a run found and did", cmd_report_usage, NULL },
	{ "watch", cmd_watch, "[-s STORE]... [--window 48h] [--policy FILE] | --reload | --approve CHANGE",
	  cmd_watch_usage, NULL },
	{ "demo", cmd_demo, "build a sample infected server and clean it", cmd_demo_usage, NULL },
	{ "host", cmd_host, "scan|clean [--exclude GLOB]... [PATH]...", cmd_host_usage,
	  cmd_host_usage_more },
	{ "queue", cmd_queue, "status|list|find [QUERY]|scan|delete [QUERY]|freeze|thaw|release ID...",
	  cmd_queue_usage, NULL },
	{ "isolate", cmd_isolate, "[--allow CIDR]... [--ports LIST] [--keep-mx] [--status]  cut users off",
	  cmd_isolate_usage, NULL },
	{ "reconnect", cmd_reconnect, "undo isolate exactly", cmd_reconnect_usage, NULL },
};

static void usage(FILE *fp);

/* The command being run: usage errors name its --help. */
static const struct command *current;

static void command_usage(const struct command *c, FILE *fp)
{
	fputs(c->usage, fp);
	if (c->usage_more != NULL)
		c->usage_more(fp);
	fprintf(fp, "\nGlobal options (-d, -j, --json, --dry-run, --quarantine, ...) may come\n"
		"before or after '%s': see 'mailcure --help', and mailcure(1) for the\n"
		"query language and the stores.\n", c->name);
}

void mc_die_command_usage(void)
{
	fflush(stdout);
	if (current != NULL)
		command_usage(current, stderr);
	else
		usage(stderr);
	exit(MC_EXIT_ERROR);
}

bool mc_cli_has_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return true;
	return false;
}

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: mailcure [GLOBAL OPTIONS] COMMAND [ARGS]\n\n"
		"commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(fp, "  %-11s %s\n", commands[i].name, commands[i].help);
	fprintf(fp,
		"\nglobal options:\n"
		"  -d, --database PATH   ClamAV database file or directory (repeatable;\n"
		"                        default " MC_DEFAULT_DATABASE ")\n"
		"      --clamd ADDRESS   scan with a running clamd instead (its Unix socket\n"
		"                        path, or HOST:PORT; repeatable: used in turn)\n"
		"      --yara PATH       YARA rule file or directory for yara terms (repeatable)\n"
		"      --ioc FILE        threat-intel indicators (MISP, STIX 2.1, CSV, list),\n"
		"                        ORed with the query (repeatable)\n"
		"  -j, --jobs N          worker threads (default: twice the number of CPUs)\n"
		"      --json            JSON Lines on stdout\n"
		"      --dry-run         show what would be done, change nothing\n"
		"      --quarantine DIR  quarantine directory (default " MC_DEFAULT_QUARANTINE ")\n"
		"      --progress MODE   auto|always|never (auto: when stderr is a terminal)\n"
		"  -q, --quiet           only matches and errors\n"
		"  -v, --verbose         more detail\n"
		"      --config FILE     settings file (default " MC_DEFAULT_CONFIG ")\n"
		"      --state-dir DIR   runs, journals and saved state (default " MC_DEFAULT_STATE_DIR ")\n"
		"      --run-id ID       act as part of run ID (respond uses it)\n"
		"      --dovecot-config FILE  Dovecot configuration for doveadm -c (dovecot: stores, isolate)\n"
		"      --scan MODE       parts (default: decode each message once, scan its\n"
		"                        parts, reuse verdicts of parts seen before) or whole\n"
		"                        (the engine parses every message itself)\n"
		"      --cache FILE      keep part and message verdicts in FILE for the next\n"
		"                        run (valid while the signatures and settings stay\n"
		"                        the same)\n"
		"      --cache-size SIZE memory for cached verdicts (default 2M, 8M with --cache)\n"
		"      --tempdir DIR     where the engine unpacks archives (default: a private\n"
		"                        directory in /dev/shm when it is a large enough tmpfs,\n"
		"                        else $TMPDIR or /tmp)\n"
		"      --max-message-size SIZE  larger messages are unscanned (default 256M)\n"
		"      --max-mime-parts N  MIME parts walked per message (default 1000)\n"
		"      --max-mime-depth N  MIME nesting depth (default 64)\n"
		"      --max-scan-time MS  engine time per message (default 120000)\n"
		"      --max-urls N      URLs looked at per message (default 10000)\n"
		"  -h, --help            this help; after COMMAND: that command's usage\n"
		"  -V, --version         print the version\n\n"
		"QUERY defaults to 'virus'. Exit codes: 0 nothing matched, 1 matches\n"
		"found (and acted on), 2 errors (some messages could not be scanned).\n");
}

void mc_warn(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("mailcure: ", stderr);
	va_start(ap, fmt);
	mc_output_vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void mc_die_usage(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	mc_output_fprintf(stderr, "mailcure: %s", mc_cli_where);
	va_start(ap, fmt);
	mc_output_vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'mailcure%s%s --help'.\n", current != NULL ? " " : "",
		current != NULL ? current->name : "");
	exit(MC_EXIT_ERROR);
}

char *mc_cli_run_id(const struct mc_global *g)
{
	return g->run_id != NULL ? strdup(g->run_id) : mc_run_id_new();
}

char *mc_cli_join_args(int argc, char **argv)
{
	size_t len = 1;
	char *s;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = calloc(1, len);
	if (s == NULL)
		abort();
	for (int i = 0; i < argc; i++) {
		if (i > 0)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

FILE *mc_cli_private_create(const char *path, char **tmp_r, char **error_r)
{
	struct stat st;
	char *tmp;
	FILE *fp;
	int fd;

	/* Replacing PATH by rename() never follows a link there; a link
	   is refused all the same, as whoever wrote "FILE" meant the
	   file and would be surprised by what became of its target. */
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		*error_r = mc_xasprintf("%s: %s; not written", path,
					S_ISLNK(st.st_mode) ? "is a symbolic link" :
					"not a regular file");
		return NULL;
	}
	tmp = mc_xasprintf("%s.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	/* 0600 whatever the umask: the file names users and quotes
	   their mail. */
	if (fd < 0 || fchmod(fd, 0600) < 0 || (fp = fdopen(fd, "w")) == NULL) {
		*error_r = mc_xasprintf("%s: %s", fd < 0 ? path : tmp, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		free(tmp);
		return NULL;
	}
	*tmp_r = tmp;
	return fp;
}

int mc_cli_private_commit(FILE *fp, char *tmp, const char *path, char **error_r)
{
	int ret = 0;

	if (fflush(fp) != 0 || fsync(fileno(fp)) < 0) {
		*error_r = mc_xasprintf("%s: %s", tmp, strerror(errno));
		ret = -1;
	}
	if (fclose(fp) != 0 && ret == 0) {
		*error_r = mc_xasprintf("%s: %s", tmp, strerror(errno));
		ret = -1;
	}
	if (ret == 0 && rename(tmp, path) < 0) {
		*error_r = mc_xasprintf("%s: %s", path, strerror(errno));
		ret = -1;
	}
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	return ret;
}

/* Without -j, twice as many workers as CPUs: a worker waits on the
   disk and on libclamav's temporary files for the parts it unpacks,
   and the others keep the CPUs busy meanwhile. */
unsigned mc_cli_jobs(const struct mc_global *g)
{
	return g->jobs > 0 ? g->jobs : 2 * mc_cli_cpus();
}

unsigned mc_cli_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 128 ? 128 : (unsigned)n;
}

unsigned long long mc_cli_parse_size(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	/* strtoull takes "-1" as a huge number. */
	if (errno != 0 || end == s || s[0] == '-')
		mc_die_usage("%s: not a number: %s", what, s);
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end != '\0')
		mc_die_usage("%s: not a size: %s", what, s);
	return v;
}

/* Options every command accepts, before or after the command name. */
enum {
	OPT_JSON = 256, OPT_DRY_RUN, OPT_QUARANTINE, OPT_PROGRESS, OPT_CONFIG,
	OPT_MAX_SIZE, OPT_MAX_PARTS, OPT_MAX_DEPTH, OPT_MAX_SCANTIME,
	OPT_RUN_ID, OPT_STATE_DIR, OPT_DOVECOT_CONFIG, OPT_SCAN, OPT_CACHE,
	OPT_TEMPDIR, OPT_CACHE_SIZE, OPT_CLAMD, OPT_YARA, OPT_IOC, OPT_MAX_URLS,
};

static const struct option global_options[] = {
	{ "database", required_argument, NULL, 'd' },
	{ "jobs", required_argument, NULL, 'j' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "quarantine", required_argument, NULL, OPT_QUARANTINE },
	{ "progress", required_argument, NULL, OPT_PROGRESS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "max-message-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "max-mime-parts", required_argument, NULL, OPT_MAX_PARTS },
	{ "max-mime-depth", required_argument, NULL, OPT_MAX_DEPTH },
	{ "max-scan-time", required_argument, NULL, OPT_MAX_SCANTIME },
	{ "max-urls", required_argument, NULL, OPT_MAX_URLS },
	{ "run-id", required_argument, NULL, OPT_RUN_ID },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "dovecot-config", required_argument, NULL, OPT_DOVECOT_CONFIG },
	{ "scan", required_argument, NULL, OPT_SCAN },
	{ "cache", required_argument, NULL, OPT_CACHE },
	{ "cache-size", required_argument, NULL, OPT_CACHE_SIZE },
	{ "tempdir", required_argument, NULL, OPT_TEMPDIR },
	{ "clamd", required_argument, NULL, OPT_CLAMD },
	{ "yara", required_argument, NULL, OPT_YARA },
	{ "ioc", required_argument, NULL, OPT_IOC },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Apply one global option; returns false when C is not one. */
static bool global_option(struct mc_global *g, int c, const char *arg)
{
	switch (c) {
	case 'd':
		if (g->databases_from_file) {
			g->database_count = 0;
			g->databases_from_file = false;
		}
		g->databases = realloc(g->databases, (g->database_count + 1) * sizeof(char *));
		g->databases[g->database_count++] = arg;
		return true;
	case OPT_YARA:
		if (g->yara_from_file) {
			g->yara_count = 0;
			g->yara_from_file = false;
		}
		g->yara_paths = realloc(g->yara_paths, (g->yara_count + 1) * sizeof(char *));
		g->yara_paths[g->yara_count++] = arg;
		return true;
	case OPT_IOC:
		if (g->ioc_from_file) {
			g->ioc_count = 0;
			g->ioc_from_file = false;
		}
		g->ioc_paths = realloc(g->ioc_paths, (g->ioc_count + 1) * sizeof(char *));
		g->ioc_paths[g->ioc_count++] = arg;
		return true;
	case 'j': {
		unsigned long long n = mc_cli_parse_size(arg, "--jobs");
		if (n == 0 || n > 1024)
			mc_die_usage("--jobs: between 1 and 1024: %s", arg);
		g->jobs = (unsigned)n;
		return true;
	}
	case OPT_JSON: g->json = true; return true;
	case OPT_DRY_RUN: g->dry_run = true; return true;
	case OPT_QUARANTINE: g->quarantine_dir = arg; return true;
	case OPT_PROGRESS:
		if (strcmp(arg, "auto") == 0) g->progress = MC_PROGRESS_AUTO;
		else if (strcmp(arg, "always") == 0) g->progress = MC_PROGRESS_ALWAYS;
		else if (strcmp(arg, "never") == 0) g->progress = MC_PROGRESS_NEVER;
		else mc_die_usage("--progress: auto, always or never: %s", arg);
		return true;
	case 'q': g->verbose = -1; return true;
	case 'v': g->verbose++; return true;
	case OPT_CONFIG: g->config = arg; return true;
	case OPT_MAX_SIZE: g->limits.max_message_size = mc_cli_parse_size(arg, "--max-message-size"); return true;
	case OPT_MAX_PARTS: g->limits.max_mime_parts = (unsigned)mc_cli_parse_size(arg, "--max-mime-parts"); return true;
	case OPT_MAX_DEPTH: g->limits.max_mime_depth = (unsigned)mc_cli_parse_size(arg, "--max-mime-depth"); return true;
	case OPT_MAX_URLS: g->limits.max_urls = (unsigned)mc_cli_parse_size(arg, "--max-urls"); return true;
	case OPT_MAX_SCANTIME: g->limits.max_scan_time_ms = (unsigned)mc_cli_parse_size(arg, "--max-scan-time"); return true;
	case OPT_RUN_ID:
		/* It names files and directories: keep it a plain name. */
		if (arg[0] == '\0' || arg[0] == '.' || strspn(arg,
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(arg))
			mc_die_usage("--run-id: letters, digits, '-', '_' and '.' only: %s", arg);
		g->run_id = arg;
		return true;
	case OPT_STATE_DIR: g->state_dir = arg; return true;
	/* Read by the dovecot: store, its restore and isolate (doveadm -c). */
	case OPT_DOVECOT_CONFIG: setenv("MAILCURE_DOVECOT_CONFIG", arg, 1); return true;
	case OPT_SCAN:
		if (strcmp(arg, "parts") == 0)
			g->scan_mode = MC_SCAN_PARTS;
		else if (strcmp(arg, "whole") == 0)
			g->scan_mode = MC_SCAN_WHOLE;
		else
			mc_die_usage("--scan: parts or whole, not '%s'", arg);
		return true;
	case OPT_CACHE: g->cache_path = arg; return true;
	case OPT_CACHE_SIZE:
		g->cache_size = mc_cli_parse_size(arg, "--cache-size");
		if (g->cache_size < 65536)
			mc_die_usage("--cache-size: at least 64k");
		return true;
	case OPT_TEMPDIR: {
		struct stat st;

		if (stat(arg, &st) < 0 || !S_ISDIR(st.st_mode))
			mc_die_usage("--tempdir: not a directory: %s", arg);
		g->tempdir = arg;
		return true;
	}
	case OPT_CLAMD:
		if (g->clamds_from_file) {
			g->clamd_count = 0;
			g->clamds_from_file = false;
		}
		g->clamds = realloc(g->clamds, (g->clamd_count + 1) * sizeof(char *));
		g->clamds[g->clamd_count++] = arg;
		return true;
	case 'h': usage(stdout); exit(0);
	case 'V': printf("mailcure %s\n", MC_VERSION); exit(0);
	}
	return false;
}

/* Pull global options out of ARGV (after the command name), leaving
   the command's own arguments, in order, for the command to parse.
   A global option is recognised only by its exact spelling. -h and
   --help there ask for the command's usage: *help_r. */
static int extract_globals(struct mc_global *g, int argc, char **argv,
			   bool *help_r)
{
	int out = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct option *o = NULL;
		const char *val = NULL;

		if (strcmp(a, "--") == 0) {
			while (i < argc)
				argv[out++] = argv[i++];
			break;
		}
		if (strncmp(a, "--", 2) == 0) {
			size_t nl = strcspn(a + 2, "=");
			for (const struct option *p = global_options; p->name; p++) {
				if (strlen(p->name) == nl && strncmp(p->name, a + 2, nl) == 0)
					o = p;
			}
			if (o != NULL && a[2 + nl] == '=')
				val = a + 3 + nl;
		} else if (a[0] == '-' && strchr("djqvh", a[1]) != NULL && a[1] != '\0' &&
			   (a[2] == '\0' || a[1] == 'd' || a[1] == 'j')) {
			for (const struct option *p = global_options; p->name; p++)
				if (p->val == a[1])
					o = p;
			if (a[2] != '\0')
				val = a + 2;
		}
		if (o == NULL) {
			argv[out++] = argv[i];
			continue;
		}
		if (o->val == 'h') {
			*help_r = true;
			continue;
		}
		if (o->has_arg == required_argument && val == NULL) {
			if (i + 1 >= argc)
				mc_die_usage("option --%s needs a value", o->name);
			val = argv[++i];
		}
		global_option(g, o->val, val);
	}
	argv[out] = NULL;
	return out;
}

/* glibc gives each thread that allocates its own arena, keeps what
   is freed there, and raises its mmap threshold to the largest block
   freed so far (up to 32 MB), so that after a few large messages every
   worker's arena held tens of megabytes it never gave back, and the
   process grew with the store. A fixed threshold keeps large blocks
   (message bodies, decoded attachments, the engine's buffers) in
   mappings of their own, returned when freed; a single arena keeps
   one pool of spare memory instead of one per thread (each thread
   still has its cache of small blocks, so they seldom contend). */
static void memory_policy(void)
{
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_ARENA_MAX, 1);
}

void mc_cli_global_setting(struct mc_global *g, const char *option,
			   const char *value)
{
	for (const struct option *p = global_options; p->name != NULL; p++) {
		if (strcmp(p->name, option) == 0 && p->has_arg == required_argument) {
			global_option(g, p->val, value);
			return;
		}
	}
	abort();
}

int main(int argc, char **argv)
{
	struct mc_global g;
	int c;

	memory_policy();
	memset(&g, 0, sizeof(g));
	g.quarantine_dir = MC_DEFAULT_QUARANTINE;
	g.state_dir = MC_DEFAULT_STATE_DIR;
	mc_limits_default(&g.limits);
	/* The settings file first: the command line overrides it. */
	mc_cli_settings_load(&g, argc, argv);

	/* Global options before the command ('+': stop at the first
	   non-option, which is the command). */
	while ((c = getopt_long(argc, argv, "+d:j:qvhV", global_options, NULL)) != -1) {
		if (!global_option(&g, c, optarg))
			mc_die_usage("unknown option");
	}
	if (optind >= argc) {
		usage(stderr);
		return MC_EXIT_ERROR;
	}
	const char *name = argv[optind];
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, name) == 0) {
			int cargc = argc - optind;
			char **cargv = argv + optind;
			bool help = false;

			current = &commands[i];
			cargc = extract_globals(&g, cargc, cargv, &help);
			if (help) {
				command_usage(current, stdout);
				free(g.databases);
				free(g.clamds);
				free(g.yara_paths);
				free(g.ioc_paths);
				return MC_EXIT_CLEAN;
			}
			optind = 1;
			int rc = commands[i].run(cargc, cargv, &g);
			/* Freed so that leak checkers see a clean exit. */
			free(g.databases);
			free(g.clamds);
			free(g.yara_paths);
			free(g.ioc_paths);
			return rc;
		}
	}
	mc_die_usage("unknown command '%s'", name);
}
