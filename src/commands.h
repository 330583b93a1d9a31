/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	commands 3h
/* SUMMARY
/*	the mailcure subcommands and the options they share
/* DESCRIPTION
/*	Each subcommand is one function, in one cmd_*.c file, listed in
/*	the commands[] table of main.c. It receives the arguments after
/*	its own name and the parsed global options, and returns the exit
/*	code: 0 nothing matched, 1 matches found (and acted on), 2 errors.
/*--*/

#ifndef MAILCURE_COMMANDS_H
#define MAILCURE_COMMANDS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include "mailcure/mailcure.h"

#define MC_EXIT_CLEAN 0
#define MC_EXIT_FOUND 1
#define MC_EXIT_ERROR 2

enum mc_progress_mode { MC_PROGRESS_AUTO, MC_PROGRESS_ALWAYS, MC_PROGRESS_NEVER };

struct mc_global {
	const char **databases;		/* -d, repeatable */
	size_t database_count;
	const char **clamds;		/* --clamd, repeatable: the engine */
	size_t clamd_count;
	const char **yara_paths;	/* --yara, repeatable */
	size_t yara_count;
	const char **ioc_paths;		/* --ioc, repeatable */
	size_t ioc_count;
	unsigned jobs;			/* -j, 0 = number of CPUs */
	bool json;
	bool dry_run;
	const char *quarantine_dir;
	enum mc_progress_mode progress;
	int verbose;			/* -v count, -q = -1 */
	const char *config;
	struct mc_limits limits;
	const char *run_id;		/* --run-id: join an existing run */
	const char *state_dir;		/* --state-dir, default /var/lib/mailcure */
	enum mc_scan_mode scan_mode;	/* --scan parts|whole */
	const char *cache_path;		/* --cache FILE: persistent verdict cache */
	unsigned long long cache_size;	/* --cache-size: bytes of verdicts in memory */
	const char *tempdir;		/* --tempdir DIR: where the engine unpacks */
	/* From the settings file (settings.c): */
	bool databases_from_file;	/* -d replaces them */
	bool clamds_from_file;		/* --clamd replaces them */
	bool yara_from_file;		/* --yara replaces them */
	bool ioc_from_file;		/* --ioc replaces them */
	const char **isolate_allow;	/* isolate without --allow */
	size_t isolate_allow_count;
	const char *isolate_ports;	/* isolate without --ports */
	const char *postfix_config;	/* queue, respond without --postfix-config */
};

/* The run id of this invocation: --run-id when given (respond runs its
   steps under one id), else a new one. malloc()ed. */
char *mc_cli_run_id(const struct mc_global *g);

int cmd_mailbox(int argc, char **argv, struct mc_global *g);
int cmd_quarantine(int argc, char **argv, struct mc_global *g);
int cmd_demo(int argc, char **argv, struct mc_global *g);
int cmd_respond(int argc, char **argv, struct mc_global *g);
int cmd_report(int argc, char **argv, struct mc_global *g);

/* What "mailcure COMMAND --help" prints, and a usage error of the
   command too: its usage lines, what it does, its options. One text
   per command, in its cmd_*.c file. */
extern const char cmd_mailbox_usage[], cmd_quarantine_usage[], cmd_respond_usage[],
	cmd_report_usage[], cmd_demo_usage[], cmd_host_usage[], cmd_queue_usage[],
	cmd_isolate_usage[], cmd_reconnect_usage[], cmd_watch_usage[];
/* The host scan's default exclusions, after its usage text. */
void cmd_host_usage_more(FILE *fp);
/* The running command's usage on stderr; exit 2. */
void mc_die_command_usage(void) __attribute__((noreturn));

/* The verb of "COMMAND VERB [OPTIONS] [ARGS]", ARGV[1]: its index in
   VERBS (NULL-terminated); a missing or unknown verb is a usage error.
   ARGC and ARGV then start at the verb and getopt is reset, ready for
   the verb's options (cmd_mailbox.c). */
int mc_cli_verb(int *argc, char ***argv, const char *const *verbs);
/* Whether this build has the command NAME (main.c's table). */
bool mc_cli_has_command(const char *name);
/* Write the HTML report of RUN to PATH (cmd_report.c). */
int mc_cli_report_html(const struct mc_global *g, const char *run_id,
		       const char *path);
int cmd_host(int argc, char **argv, struct mc_global *g);
int cmd_queue(int argc, char **argv, struct mc_global *g);
int cmd_isolate(int argc, char **argv, struct mc_global *g);
int cmd_reconnect(int argc, char **argv, struct mc_global *g);
int cmd_watch(int argc, char **argv, struct mc_global *g);

/* output.c: what the user sees. */
struct mc_output;
struct mc_output *mc_output_init(const struct mc_global *g, bool acting);
void mc_output_event(const struct mc_event *event, void *context);
void mc_output_progress(const struct mc_progress *progress, void *context);
void mc_output_summary(struct mc_output *out, const struct mc_summary *sum);
/* The query whose indicator files the summary counts. */
void mc_output_set_query(struct mc_output *out, const struct mc_query *query);
/* A reason, for people: an ioc reason with the indicator's type and
   value, its event, its id and its file; a yara reason with the rules
   that matched (the first MC_OUTPUT_YARA_RULES, then "+N more"); any
   other as KIND VALUE. Neutralised (mc_output_fprintf). */
#define MC_OUTPUT_YARA_RULES 3
void mc_output_reason(FILE *fp, const struct mc_reason *r);
/* The same, malloc()ed. */
char *mc_output_reason_text(const struct mc_reason *r);
void mc_output_deinit(struct mc_output **out);
/* printf() for human output and diagnostics: every %s argument is
   shown through mc_text_visible() (no control character of a user's
   file name or header reaches the terminal). */
void mc_output_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mc_output_fprintf(FILE *fp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mc_output_vfprintf(FILE *fp, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* T as human output shows a time: "2026-03-01 14:05:09 UTC", "-" for
   (time_t)-1 (TIME in mailcure(1)). */
void mc_output_time(time_t t, char *buf, size_t size);
/* LOCATION as printed: a file, "PATH@OFFSET" in an mbox, "postfix:ID". */
void mc_output_location(const struct mc_location *loc, char *buf, size_t size);
/* JSON pieces shared by every command's --json output. */
struct json_object;
/* Write OBJ to FP as one line (mc_json_text), flush, and free OBJ. */
void mc_output_json(FILE *fp, struct json_object *obj);
/* Add the string VALUE to OBJ as KEY, unless VALUE is NULL. */
void mc_output_json_str(struct json_object *obj, const char *key, const char *value);
struct json_object *mc_output_reasons_json(const struct mc_reason *reasons,
					   size_t count);
void mc_output_location_json(struct json_object *obj,
			     const struct mc_location *loc);

/* Counts by key ("virus Eicar-...", "alice / INBOX"), for the tables
   of respond's safety gate and of report. */
struct mc_tally_item {
	char *key;
	unsigned long n;
};
struct mc_tally {
	struct mc_tally_item *v;
	size_t n;
};
void mc_tally_add(struct mc_tally *t, const char *key);
void mc_tally_add_n(struct mc_tally *t, const char *key, unsigned long n);
/* Most frequent first, then by key. */
void mc_tally_sort(struct mc_tally *t);
void mc_tally_free(struct mc_tally *t);

/* Print a usage or runtime error to stderr ("mailcure: ..."). */
void mc_die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void mc_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Compile the rules of --yara (before anything is scanned) and give
   them to QUERY; *yara_r (NULL without --yara) is closed by the
   caller after the run. -1 after a message, when a rule file does not
   compile or the query has yara terms and no rules were given. */
/* OR the indicators of --ioc into QUERY (mc_query_add_ioc); -1 after
   telling why when a file cannot be read, or the query has an ioc
   term and no --ioc was given. Before the stores are opened: the
   indicators can make the query need message bodies. */
int mc_cli_ioc_open(const struct mc_global *g, struct mc_query *query);
int mc_cli_yara_open(const struct mc_global *g, struct mc_query *query,
		     struct mc_yara **yara_r);

/* Load the detection engine from g->databases (default
   /var/lib/clamav). Prints a clear error naming freshclam when no
   database is found; returns -1 then. */
/* Open the engine with the global settings (signatures, limits, scan
   mode, verdict cache, temporary directory); close it again, saving
   the verdict cache. A command calls close at its end only: the
   compiled signatures are then left to the process's exit. */
int mc_cli_engine_open(const struct mc_global *g, struct mc_engine **engine_r);
/* The engine's ops: clamd with --clamd, else the embedded libclamav. */
const struct mc_engine_ops *mc_cli_engine_ops(const struct mc_global *g);
void mc_cli_engine_close(const struct mc_global *g, struct mc_engine **engine);
/* The settings that keep libclamav's parsing away from the rest:
   scan processes (one per CPU, as nobody when this is root) and a
   private temporary directory, made at the first call and removed by
   mc_cli_engine_tempdir_remove() (mc_cli_engine_close does). Nothing
   for clamd, which has its own. */
void mc_cli_engine_confine(const struct mc_global *g, const struct mc_engine_ops *ops,
			   struct mc_engine_settings *set);
void mc_cli_engine_tempdir_remove(void);

/* Open (creating) the quarantine named by --quarantine. */
struct mc_quarantine *mc_cli_quarantine_open(const struct mc_global *g, bool create);

/* A size with an optional k/M/G suffix; a usage error when it is not. */
unsigned long long mc_cli_parse_size(const char *s, const char *what);
/* A file that holds mail data (a report, a saved plan): written as a
   new file beside PATH, mode 0600 whatever the umask, then renamed
   over PATH. A symbolic link or another non-regular file at PATH is
   refused. create returns the stream and the temporary name; commit
   (also on a failure) closes, syncs and renames. -1 or NULL with a
   malloc()ed reason. */
FILE *mc_cli_private_create(const char *path, char **tmp_r, char **error_r);
int mc_cli_private_commit(FILE *fp, char *tmp, const char *path, char **error_r);
/* The words of a query, joined with spaces (malloc()ed). */
char *mc_cli_join_args(int argc, char **argv);
/* "1.2 MB": a byte count for people. */
void mc_output_bytes(double bytes, char *buf, size_t size);

/* A store that could not be opened, and why. */
struct mc_cli_store_error {
	const char *uri;
	char *why;
};

/* Run the pipeline over opened stores with the command line's output
   (match lines or JSON, progress, summary) and return the exit code.
   ACTING: quarantine and remove what matches. Each of the ERROR_COUNT
   stores in ERRORS is an error event (counted in the summary) before
   the others are searched. */
int mc_cli_pipeline(const struct mc_global *g, struct mc_store **stores,
		    size_t store_count, const struct mc_query *query,
		    struct mc_engine *engine,
		    struct mc_quarantine *q, bool acting,
		    const struct mc_cli_store_error *errors, size_t error_count);

/* settings.c: read the settings file (--config FILE, else
   MC_DEFAULT_CONFIG if it exists) into G before the command line is
   parsed; an error in it ends the process naming FILE:LINE. */
#ifndef MC_DEFAULT_CONFIG
#define MC_DEFAULT_CONFIG "/etc/mailcure/mailcure.conf"
#endif
void mc_cli_settings_load(struct mc_global *g, int argc, char **argv);
/* The names a settings file may hold, NULL-terminated. */
const char *const *mc_cli_setting_names(void);
/* "FILE:LINE: " while a setting of the file is applied, else "":
   what mc_die_usage() puts before its message. */
extern const char *mc_cli_where;
/* main.c: apply VALUE as the global option OPTION (its long name). */
void mc_cli_global_setting(struct mc_global *g, const char *option,
			   const char *value);
/* cmd_isolate.c: "25,465 587" appended to *PORTS; a usage error
   when an item is not a port. */
void mc_cli_parse_ports(const char *arg, uint16_t **ports, size_t *count);

/* Number of worker threads (-j, or twice the CPUs). */
unsigned mc_cli_jobs(const struct mc_global *g);
/* Online CPUs: the number of scan processes, whatever -j says. */
unsigned mc_cli_cpus(void);

#endif
