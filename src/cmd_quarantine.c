/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	cmd_quarantine 1
/* SUMMARY
/*	mailcure quarantine: list, show, restore and purge removed messages
/* SYNOPSIS
/*	mailcure quarantine list [--run RUN] [--user USER]
/*	mailcure quarantine show ID
/*	mailcure quarantine restore ID...
/*	mailcure quarantine restore --run RUN
/*	mailcure quarantine purge --before DATE
/* DESCRIPTION
/*	list prints one line per quarantined message, oldest first: id,
/*	time of quarantine (UTC), run, owner and folder, where it was,
/*	why it was taken, size, and whether it was restored. --run and
/*	--user (a glob) narrow the list.
/*
/*	show prints every recorded detail of one entry.
/*
/*	restore puts messages back where they came from (a Maildir file
/*	with its flags and owner, appended to its mbox under lock, ...)
/*	and records that; an entry is never restored twice. --run
/*	restores every message of one run (the "run" of a clean's
/*	summary), in the order they were taken. With --dry-run, restore
/*	says what it would do.
/*
/*	purge deletes entries quarantined before DATE (YYYY-MM-DD or
/*	YYYY-MM-DDTHH:MM:SS, UTC) or older than an age (30d, 12h, 2w).
/*	With --dry-run it lists them.
/*
/*	With --json every line is a JSON object with an "event" member
/*	("entry", "restore", "purge", "error") and the last is a
/*	"summary".
/*
/*	Exit status: 0 success, 2 when anything failed (each failure is
/*	reported with its reason; an entry already restored counts).
/*--*/

#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <json-c/json.h>

#include "commands.h"

struct mc_quarantine *mc_cli_quarantine_open(const struct mc_global *g, bool create)
{
	struct mc_quarantine *q;
	char *error = NULL;

	q = mc_quarantine_open(g->quarantine_dir, create, &error);
	if (q == NULL) {
		mc_warn("%s", error);
		free(error);
	}
	return q;
}

const char cmd_quarantine_usage[] =
	"usage: mailcure [GLOBAL OPTIONS] quarantine list [--run RUN] [--user GLOB]\n"
	"       mailcure [GLOBAL OPTIONS] quarantine show ID\n"
	"       mailcure [GLOBAL OPTIONS] quarantine restore ID... | restore --run RUN\n"
	"       mailcure [GLOBAL OPTIONS] quarantine purge --before DATE\n\n"
	"list     one line per quarantined message, oldest first\n"
	"show     every recorded detail of one entry\n"
	"restore  put messages back where they came from (an entry is never\n"
	"         restored twice); with --dry-run, say what would be done\n"
	"purge    delete the entries quarantined before DATE; with --dry-run,\n"
	"         list them\n\n"
	"options:\n"
	"      --run RUN      the messages of one run (list, restore)\n"
	"      --user GLOB    the messages of the users matching GLOB (list)\n"
	"      --before DATE  YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC), or an age:\n"
	"                     30d, 12h, 2w (purge)\n\n"
	"Exit status: 0 success, 2 when anything failed.\n";

/* Where the message was: its file (mbox: with the From_ offset), or
   its queue id. */
static void format_where(const struct mc_qentry *e, char *buf, size_t size)
{
	if (e->loc.queue_id != NULL)
		snprintf(buf, size, "%s:%s", e->loc.kind, e->loc.queue_id);
	else if (e->loc.path != NULL && e->loc.offset >= 0 &&
		 strcmp(e->loc.kind, "mbox") == 0)
		snprintf(buf, size, "%s@%lld", e->loc.path, (long long)e->loc.offset);
	else if (e->loc.path != NULL)
		snprintf(buf, size, "%s", e->loc.path);
	else
		snprintf(buf, size, "%s", e->loc.store != NULL ? e->loc.store : "?");
}

/* Where restore puts it back, for "ID: restored to PATH". */
static void format_target(const struct mc_qentry *e, char *buf, size_t size)
{
	if (e->loc.path != NULL)
		snprintf(buf, size, "%s", e->loc.path);
	else if (e->loc.queue_id != NULL)
		snprintf(buf, size, "the %s queue (was %s)", e->loc.kind, e->loc.queue_id);
	else
		snprintf(buf, size, "%s", e->loc.store != NULL ? e->loc.store : "?");
}

static void print_reasons(FILE *fp, const struct mc_qentry *e)
{
	if (e->reason_count == 0)
		fputs("-", fp);
	for (size_t i = 0; i < e->reason_count; i++) {
		if (i > 0)
			fputs(", ", fp);
		mc_output_reason(fp, &e->reasons[i]);
	}
}

static json_object *entry_json(const struct mc_qentry *e, const char *event)
{
	char *text = mc_qentry_json(e);
	json_object *o = json_tokener_parse(text);
	json_object *out = json_object_new_object();

	free(text);
	json_object_object_add(out, "event", json_object_new_string(event));
	if (o != NULL) {
		json_object_object_foreach(o, key, val)
			json_object_object_add(out, key, json_object_get(val));
		json_object_put(o);
	}
	return out;
}

/* A failure on one entry: a JSON event, or a line on stderr. */
static void report_error(const struct mc_global *g, const char *id, const char *why)
{
	if (g->json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "event", json_object_new_string("error"));
		if (id != NULL)
			json_object_object_add(o, "id", json_object_new_string(id));
		json_object_object_add(o, "why", json_object_new_string(why));
		mc_output_json(stdout, o);
	} else {
		fflush(stdout);
		mc_warn("%s", why);
	}
}

/* getopt_long over the subcommand's arguments (ARGV[0] is its name). */
static void parse_options(int argc, char **argv, const char **run_r,
			  const char **user_r, const char **before_r)
{
	static const struct option options[] = {
		{ "run", required_argument, NULL, 'r' },
		{ "user", required_argument, NULL, 'u' },
		{ "before", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/* 0, not 1: main() already used getopt, and glibc restarts its
	   scan only then. */
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (run_r == NULL)
				mc_die_usage("quarantine %s: --run is not an option here", argv[0]);
			*run_r = optarg;
			break;
		case 'u':
			if (user_r == NULL)
				mc_die_usage("quarantine %s: --user is not an option here", argv[0]);
			*user_r = optarg;
			break;
		case 'b':
			if (before_r == NULL)
				mc_die_usage("quarantine %s: --before is not an option here", argv[0]);
			*before_r = optarg;
			break;
		default:
			mc_die_command_usage();
		}
	}
}

/* ------------------------------------------------------------------ */
/* list                                                               */
/* ------------------------------------------------------------------ */

static void list_human(const struct mc_qentry *e)
{
	char when[64], where[4096], restored[64];

	mc_output_time(e->quarantined_at, when, sizeof(when));
	format_where(e, where, sizeof(where));
	mc_output_printf("%s  %s  run %s  %s/%s  %s: ", e->id, when,
			 e->run_id != NULL ? e->run_id : "-",
			 e->loc.user != NULL ? e->loc.user : "-",
			 e->loc.folder != NULL ? e->loc.folder : "-", where);
	print_reasons(stdout, e);
	mc_output_printf("  %llu bytes", (unsigned long long)e->size);
	if (e->restored_at != 0) {
		mc_output_time(e->restored_at, restored, sizeof(restored));
		mc_output_printf("  [restored %s]\n", restored);
	} else {
		mc_output_printf("  [quarantined]\n");
	}
}

/* Entries a removal staged and was interrupted before it committed or
   discarded them: not quarantined (their messages may still be in
   the mailbox), so not listed as entries; said once per mailbox.
   Returns how many. */
static unsigned long long list_staged(const struct mc_global *g, struct mc_quarantine *q,
				      const char *run)
{
	struct mc_quarantine_staged *list;
	unsigned long long total = 0;
	size_t count;
	char *error = NULL;

	if (mc_quarantine_staged_list(q, &list, &count, &error) < 0) {
		report_error(g, NULL, error);
		free(error);
		return 0;
	}
	for (size_t i = 0; i < count; i++) {
		const struct mc_quarantine_staged *st = &list[i];

		if (st->count == 0 || (run != NULL && (st->run_id == NULL ||
						       strcmp(st->run_id, run) != 0)))
			continue;
		total += st->count;
		if (g->json) {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "event", json_object_new_string("staged"));
			json_object_object_add(o, "entries", json_object_new_int64((int64_t)st->count));
			if (st->path != NULL)
				json_object_object_add(o, "path", json_object_new_string(st->path));
			if (st->run_id != NULL)
				json_object_object_add(o, "run", json_object_new_string(st->run_id));
			mc_output_json(stdout, o);
		} else {
			mc_warn("%zu entries staged by an interrupted removal from %s (run %s): "
				"not quarantined until the next clean or restore of that "
				"mailbox settles them", st->count,
				st->path != NULL ? st->path : "?",
				st->run_id != NULL ? st->run_id : "-");
		}
	}
	mc_quarantine_staged_free(&list, count);
	return total;
}

static int cmd_list(int argc, char **argv, struct mc_global *g)
{
	const char *run = NULL, *user = NULL;
	struct mc_quarantine_iter *it;
	struct mc_quarantine *q;
	struct mc_qentry *e;
	unsigned long long entries = 0, restored = 0, bytes = 0, errors = 0, staged = 0;
	struct stat st;
	char *error = NULL;
	int ret;

	parse_options(argc, argv, &run, &user, NULL);
	if (optind < argc)
		mc_die_usage("quarantine list: unexpected argument '%s'", argv[optind]);

	if (lstat(g->quarantine_dir, &st) < 0 && errno == ENOENT) {
		/* Nothing was ever quarantined here: an empty list, not
		   an error. */
		q = NULL;
		if (g->verbose >= 0 && !g->json)
			mc_warn("quarantine %s does not exist: nothing quarantined",
				g->quarantine_dir);
		it = NULL;
	} else {
		q = mc_cli_quarantine_open(g, false);
		if (q == NULL)
			return MC_EXIT_ERROR;
		it = run != NULL ? mc_quarantine_iter_init_run(q, run) :
			mc_quarantine_iter_init(q);
	}
	if (q != NULL)
		staged = list_staged(g, q, run);
	while (it != NULL && (ret = mc_quarantine_iter_next_r(it, &e, &error)) != 0) {
		if (ret < 0) {
			report_error(g, NULL, error);
			free(error);
			error = NULL;
			errors++;
			continue;
		}
		if (user != NULL && (e->loc.user == NULL ||
				     fnmatch(user, e->loc.user, FNM_CASEFOLD) != 0)) {
			mc_qentry_free(&e);
			continue;
		}
		entries++;
		bytes += e->size;
		if (e->restored_at != 0)
			restored++;
		if (g->json)
			mc_output_json(stdout, entry_json(e, "entry"));
		else
			list_human(e);
		mc_qentry_free(&e);
	}
	mc_quarantine_iter_deinit(&it);
	mc_quarantine_close(&q);

	if (g->json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "event", json_object_new_string("summary"));
		json_object_object_add(o, "quarantine", json_object_new_string(g->quarantine_dir));
		if (run != NULL)
			json_object_object_add(o, "run", json_object_new_string(run));
		json_object_object_add(o, "entries", json_object_new_int64((int64_t)entries));
		json_object_object_add(o, "restored", json_object_new_int64((int64_t)restored));
		json_object_object_add(o, "bytes", json_object_new_int64((int64_t)bytes));
		json_object_object_add(o, "errors", json_object_new_int64((int64_t)errors));
		json_object_object_add(o, "staged", json_object_new_int64((int64_t)staged));
		mc_output_json(stdout, o);
	} else if (g->verbose >= 0) {
		mc_output_printf("%llu entr%s (%llu restored), %llu bytes%s%s",
				 entries, entries == 1 ? "y" : "ies", restored, bytes,
				 run != NULL ? ", run " : "", run != NULL ? run : "");
		if (errors > 0)
			mc_output_printf(", %llu unreadable", errors);
		if (staged > 0)
			mc_output_printf(", %llu staged", staged);
		putchar('\n');
	}
	return errors > 0 ? MC_EXIT_ERROR : MC_EXIT_CLEAN;
}

/* ------------------------------------------------------------------ */
/* show                                                               */
/* ------------------------------------------------------------------ */

#define FIELD(name, fmt, ...) mc_output_printf("%-17s " fmt "\n", name ":", __VA_ARGS__)
#define OPT(s) ((s) != NULL ? (s) : "-")

static void show_human(const struct mc_quarantine *q, const struct mc_qentry *e)
{
	char t[64];

	FIELD("id", "%s", e->id);
	FIELD("run", "%s", OPT(e->run_id));
	mc_output_time(e->quarantined_at, t, sizeof(t));
	FIELD("quarantined", "%s", t);
	if (e->restored_at != 0) {
		mc_output_time(e->restored_at, t, sizeof(t));
		FIELD("restored", "%s", t);
	} else {
		FIELD("restored", "%s", "no");
	}
	mc_output_printf("%-17s ", "reasons:");
	print_reasons(stdout, e);
	putchar('\n');
	FIELD("store", "%s", OPT(e->loc.store));
	FIELD("kind", "%s", OPT(e->loc.kind));
	FIELD("user", "%s", OPT(e->loc.user));
	FIELD("folder", "%s", OPT(e->loc.folder));
	if (e->loc.path != NULL)
		FIELD("path", "%s", e->loc.path);
	if (e->loc.offset >= 0)
		FIELD("mbox offset", "%lld", (long long)e->loc.offset);
	if (e->loc.maildir_subdir != NULL || e->loc.maildir_flags != NULL)
		FIELD("maildir", "%s/, flags \"%s\"", OPT(e->loc.maildir_subdir),
		      e->loc.maildir_flags != NULL ? e->loc.maildir_flags : "");
	if (e->loc.queue_id != NULL)
		FIELD("queue id", "%s", e->loc.queue_id);
	{
		/* Names as this host knows them now; the record keeps
		   the numbers, which are what restore uses. */
		struct passwd *pw = getpwuid(e->loc.uid);
		struct group *gr = getgrgid(e->loc.gid);
		FIELD("owner", "uid %lu (%s), gid %lu (%s)", (unsigned long)e->loc.uid,
		      pw != NULL ? pw->pw_name : "?", (unsigned long)e->loc.gid,
		      gr != NULL ? gr->gr_name : "?");
	}
	FIELD("mode", "%04o", (unsigned)(e->loc.mode & 07777));
	if (e->loc.mtime != 0) {
		mc_output_time(e->loc.mtime, t, sizeof(t));
		FIELD("modified", "%s", t);
	}
	FIELD("size", "%llu bytes", (unsigned long long)e->size);
	FIELD("sha256", "%s", e->sha256_hex);
	FIELD("from", "%s", OPT(e->from));
	FIELD("subject", "%s", OPT(e->subject));
	FIELD("message-id", "%s", OPT(e->message_id));
	if (e->envelope_sender != NULL || e->recipient_count > 0) {
		FIELD("envelope sender", "<%s>", OPT(e->envelope_sender));
		for (size_t i = 0; i < e->recipient_count; i++)
			mc_output_printf("%-17s <%s>\n", i == 0 ? "recipients:" : "", e->recipients[i]);
	}
	if (e->arrival_time != 0) {
		mc_output_time(e->arrival_time, t, sizeof(t));
		FIELD("arrived", "%s", t);
	}
	if (e->extra_json != NULL)
		FIELD("extra", "%s", e->extra_json);
	FIELD("message file", "%s/entries/%s/message", mc_quarantine_dir(q), e->id);
}

static int cmd_show(int argc, char **argv, struct mc_global *g)
{
	struct mc_quarantine *q;
	struct mc_qentry *e;
	char *error = NULL;

	parse_options(argc, argv, NULL, NULL, NULL);
	if (argc - optind != 1)
		mc_die_usage("quarantine show: one ID, as 'quarantine list' shows it");
	q = mc_cli_quarantine_open(g, false);
	if (q == NULL)
		return MC_EXIT_ERROR;
	e = mc_quarantine_get(q, argv[optind], &error);
	if (e == NULL) {
		report_error(g, argv[optind], error);
		free(error);
		mc_quarantine_close(&q);
		return MC_EXIT_ERROR;
	}
	if (g->json)
		mc_output_json(stdout, entry_json(e, "entry"));
	else
		show_human(q, e);
	mc_qentry_free(&e);
	mc_quarantine_close(&q);
	return MC_EXIT_CLEAN;
}

/* ------------------------------------------------------------------ */
/* restore                                                            */
/* ------------------------------------------------------------------ */

/* Restore (or with --dry-run, check) one entry; true on success. */
static bool restore_one(struct mc_global *g, struct mc_quarantine *q, const char *id)
{
	struct mc_qentry *e;
	char target[4096], when[64];
	char *error = NULL;

	e = mc_quarantine_get(q, id, &error);
	if (e == NULL) {
		report_error(g, id, error);
		free(error);
		return false;
	}
	format_target(e, target, sizeof(target));
	if (g->dry_run) {
		/* The same refusal the real restore gives, so that the
		   preview shows what would fail. */
		if (e->restored_at != 0) {
			mc_output_time(e->restored_at, when, sizeof(when));
			error = mc_xasprintf("entry %s was already restored at %s (to %s)",
						 id, when, target);
			report_error(g, id, error);
			free(error);
			mc_qentry_free(&e);
			return false;
		}
	} else if (mc_restore_entry(q, id, &error) < 0) {
		report_error(g, id, error);
		free(error);
		mc_qentry_free(&e);
		return false;
	}
	if (g->json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "event", json_object_new_string("restore"));
		json_object_object_add(o, "id", json_object_new_string(id));
		json_object_object_add(o, "action", json_object_new_string(
			g->dry_run ? "would restore" : "restored"));
		json_object_object_add(o, "kind", json_object_new_string(e->loc.kind));
		if (e->loc.user != NULL)
			json_object_object_add(o, "user", json_object_new_string(e->loc.user));
		if (e->loc.folder != NULL)
			json_object_object_add(o, "folder", json_object_new_string(e->loc.folder));
		if (e->loc.path != NULL)
			json_object_object_add(o, "path", json_object_new_string(e->loc.path));
		if (e->loc.queue_id != NULL)
			json_object_object_add(o, "queue_id", json_object_new_string(e->loc.queue_id));
		if (e->run_id != NULL)
			json_object_object_add(o, "run", json_object_new_string(e->run_id));
		mc_output_json(stdout, o);
	} else {
		mc_output_printf("%s: %s %s\n", id, g->dry_run ? "would restore to" : "restored to", target);
		fflush(stdout);
	}
	mc_qentry_free(&e);
	return true;
}

static int cmd_restore(int argc, char **argv, struct mc_global *g)
{
	const char *run = NULL;
	struct mc_quarantine *q;
	unsigned long long restored = 0, failed = 0;
	char **ids = NULL;
	size_t count = 0;
	char *error = NULL;

	parse_options(argc, argv, &run, NULL, NULL);
	if (run != NULL && optind < argc)
		mc_die_usage("quarantine restore: give either IDs or --run RUN, not both");
	if (run == NULL && optind >= argc)
		mc_die_usage("quarantine restore: IDs or --run RUN");
	q = mc_cli_quarantine_open(g, false);
	if (q == NULL)
		return MC_EXIT_ERROR;
	/* Entries that a clean killed in the middle of a removal left
	   staged are committed (their messages were removed) or
	   discarded (they were not) before anything is restored. */
	if (!g->dry_run && mc_restore_settle(q, &error) < 0) {
		report_error(g, NULL, error);
		free(error);
		error = NULL;
		failed++;
	}

	if (run != NULL) {
		struct mc_quarantine_iter *it = mc_quarantine_iter_init_run(q, run);
		struct mc_qentry *e;
		int ret;

		/* Ids first, then restores: restoring changes the
		   records the iterator reads. */
		while ((ret = mc_quarantine_iter_next_r(it, &e, &error)) != 0) {
			if (ret < 0) {
				report_error(g, NULL, error);
				free(error);
				error = NULL;
				failed++;
				continue;
			}
			ids = realloc(ids, (count + 1) * sizeof(*ids));
			if (ids == NULL)
				abort();
			ids[count++] = mc_xasprintf("%s", e->id);
			mc_qentry_free(&e);
		}
		mc_quarantine_iter_deinit(&it);
		if (count == 0 && failed == 0) {
			mc_warn("run %s: no messages of this run are in the quarantine %s",
				run, mc_quarantine_dir(q));
			mc_quarantine_close(&q);
			return MC_EXIT_ERROR;
		}
	} else {
		for (int i = optind; i < argc; i++) {
			ids = realloc(ids, (count + 1) * sizeof(*ids));
			if (ids == NULL)
				abort();
			ids[count++] = mc_xasprintf("%s", argv[i]);
		}
	}

	for (size_t i = 0; i < count; i++) {
		if (restore_one(g, q, ids[i]))
			restored++;
		else
			failed++;
		free(ids[i]);
	}
	free(ids);
	mc_quarantine_close(&q);

	if (g->json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "event", json_object_new_string("summary"));
		if (run != NULL)
			json_object_object_add(o, "run", json_object_new_string(run));
		json_object_object_add(o, "restored", json_object_new_int64((int64_t)restored));
		json_object_object_add(o, "failed", json_object_new_int64((int64_t)failed));
		if (g->dry_run)
			json_object_object_add(o, "dry_run", json_object_new_boolean(1));
		mc_output_json(stdout, o);
	} else if (g->verbose >= 0) {
		mc_output_printf("%llu %s, %llu failed\n", restored,
				 g->dry_run ? "would be restored" : "restored", failed);
	}
	return failed > 0 ? MC_EXIT_ERROR : MC_EXIT_CLEAN;
}

/* ------------------------------------------------------------------ */
/* purge                                                              */
/* ------------------------------------------------------------------ */

/* DATE: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC), or an age N[smhdw]. */
static bool parse_before(const char *s, time_t *t_r)
{
	char *end;
	bool has_time;

	if (mc_date_parse(s, t_r, &has_time))
		return true;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || s[0] == '-' || end[0] == '\0' || end[1] != '\0')
		return false;
	unsigned long long unit;
	switch (*end) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	case 'w': unit = 7 * 86400; break;
	default: return false;
	}
	if (v > (unsigned long long)time(NULL) / unit)
		*t_r = 0;	/* older than the epoch: nothing */
	else
		*t_r = time(NULL) - (time_t)(v * unit);
	return true;
}

static int cmd_purge(int argc, char **argv, struct mc_global *g)
{
	const char *before_text = NULL;
	struct mc_quarantine_iter *it;
	struct mc_quarantine *q;
	struct mc_qentry *e;
	char **ids = NULL;
	time_t *times = NULL;
	size_t count = 0;
	unsigned long long shown = 0;
	char *error = NULL;
	char when[64];
	time_t before;
	int ret, purged, exit_code = MC_EXIT_CLEAN;

	parse_options(argc, argv, NULL, NULL, &before_text);
	if (optind < argc)
		mc_die_usage("quarantine purge: unexpected argument '%s'", argv[optind]);
	if (before_text == NULL)
		mc_die_usage("quarantine purge: --before DATE is required (YYYY-MM-DD, or an age such as 30d)");
	if (!parse_before(before_text, &before))
		mc_die_usage("quarantine purge: --before: not a date (YYYY-MM-DD[THH:MM:SS], UTC) "
			     "nor an age (30d, 12h, 2w): %s", before_text);
	q = mc_cli_quarantine_open(g, false);
	if (q == NULL)
		return MC_EXIT_ERROR;

	/* The entries that qualify, to name them afterwards. */
	it = mc_quarantine_iter_init(q);
	while ((ret = mc_quarantine_iter_next_r(it, &e, &error)) != 0) {
		if (ret < 0) {
			/* Damaged entries are purged by the time in their
			   id; the library decides. */
			free(error);
			error = NULL;
			continue;
		}
		if (e->quarantined_at < before) {
			ids = realloc(ids, (count + 1) * sizeof(*ids));
			times = realloc(times, (count + 1) * sizeof(*times));
			if (ids == NULL || times == NULL)
				abort();
			ids[count] = mc_xasprintf("%s", e->id);
			times[count++] = e->quarantined_at;
		}
		mc_qentry_free(&e);
	}
	mc_quarantine_iter_deinit(&it);

	purged = mc_quarantine_purge(q, before, g->dry_run, &error);
	if (purged < 0) {
		report_error(g, NULL, error);
		free(error);
		error = NULL;
		exit_code = MC_EXIT_ERROR;
	}
	for (size_t i = 0; i < count; i++) {
		/* Name only what is really gone (an entry being restored
		   right now is skipped by purge). */
		if (!g->dry_run) {
			e = mc_quarantine_get(q, ids[i], &error);
			free(error);
			error = NULL;
			if (e != NULL) {
				mc_qentry_free(&e);
				free(ids[i]);
				continue;
			}
		}
		shown++;
		mc_output_time(times[i], when, sizeof(when));
		if (g->json) {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "event", json_object_new_string("purge"));
			json_object_object_add(o, "id", json_object_new_string(ids[i]));
			json_object_object_add(o, "action", json_object_new_string(
				g->dry_run ? "would purge" : "purged"));
			json_object_object_add(o, "quarantined_at",
					       json_object_new_int64((int64_t)times[i]));
			mc_output_json(stdout, o);
		} else if (g->verbose >= 0) {
			mc_output_printf("%s: %s (quarantined %s)\n", ids[i],
					 g->dry_run ? "would purge" : "purged", when);
		}
		free(ids[i]);
	}
	free(ids);
	free(times);

	mc_output_time(before, when, sizeof(when));
	if (g->json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "event", json_object_new_string("summary"));
		json_object_object_add(o, "before", json_object_new_int64((int64_t)before));
		json_object_object_add(o, "purged", json_object_new_int64(purged < 0 ?
			(int64_t)shown : (int64_t)purged));
		if (g->dry_run)
			json_object_object_add(o, "dry_run", json_object_new_boolean(1));
		mc_output_json(stdout, o);
	} else if (g->verbose >= 0) {
		mc_output_printf("%d entr%s quarantined before %s %s\n", purged < 0 ? (int)shown : purged,
				 purged == 1 ? "y" : "ies", when, g->dry_run ? "would be purged" : "purged");
	}
	mc_quarantine_close(&q);
	return exit_code;
}

int cmd_quarantine(int argc, char **argv, struct mc_global *g)
{
	const char *sub;

	if (argc < 2)
		mc_die_command_usage();
	sub = argv[1];
	argc--;
	argv++;
	if (strcmp(sub, "list") == 0)
		return cmd_list(argc, argv, g);
	if (strcmp(sub, "show") == 0)
		return cmd_show(argc, argv, g);
	if (strcmp(sub, "restore") == 0)
		return cmd_restore(argc, argv, g);
	if (strcmp(sub, "purge") == 0)
		return cmd_purge(argc, argv, g);
	mc_die_usage("quarantine: unknown subcommand '%s' (list, show, restore, purge)", sub);
}
