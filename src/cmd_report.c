/*++
/* NAME
/*	cmd_report 1
/* SUMMARY
/*	mailcure report: what a run found and did
/* SYNOPSIS
/*	mailcure report RUN [--html FILE] [--json]
/* DESCRIPTION
/*	Gathers a run from three sources: its journal (the timeline of
/*	steps, for runs of respond), the JSON events its steps wrote
/*	(matches that were not acted on, unscanned messages, errors), and
/*	the quarantine entries it made (what was removed, from where, and
/*	why). Counts per signature and per mailbox come from those.
/*
/*	Text goes to stdout; --json prints one "report" object; --html
/*	FILE writes one self-contained page (inline style, no script, no
/*	network) with the counts, the timeline and the table of
/*	quarantined items, each with the command that restores it.
/*
/*	Counting from the quarantine, not from the events alone, keeps
/*	the report right after a resumed run: a step that was killed and
/*	run again rewrote its event file, but every message it removed
/*	before it was killed is in the quarantine under the run's id.
/*--*/

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <json-c/json.h>

#include "commands.h"

/* One line of the report's item tables. */
struct item {
	char *id;		/* quarantine id, or NULL */
	char *where;		/* user / folder, queue, or host */
	char *location;		/* path, path@offset, queue id */
	char *reason;
	char *subject;
	char *status;		/* "quarantined", "restored", "found", "unscanned", "error" */
};

struct report {
	const char *run_id;
	char *run_dir;
	struct mc_journal *journal;
	struct mc_tally per_reason, per_box;
	struct item *items;
	size_t item_count;
	unsigned long quarantined, restored, found, unscanned, errors;
};

static void item_add(struct report *r, const char *id, const char *where,
		     const char *location, const char *reason,
		     const char *subject, const char *status)
{
	struct item *it;

	r->items = realloc(r->items, (r->item_count + 1) * sizeof(*r->items));
	it = &r->items[r->item_count++];
	it->id = id ? strdup(id) : NULL;
	it->where = strdup(where ? where : "");
	it->location = strdup(location ? location : "");
	it->reason = strdup(reason ? reason : "");
	it->subject = subject ? strdup(subject) : NULL;
	it->status = strdup(status);
}

static const char *jstr(json_object *obj, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(obj, key, &v) ? json_object_get_string(v) : NULL;
}

static void reason_text(const struct mc_reason *reasons, size_t count,
			char *buf, size_t size)
{
	buf[0] = '\0';
	for (size_t i = 0; i < count; i++) {
		size_t len = strlen(buf);
		snprintf(buf + len, size - len, "%s%s %s", i > 0 ? ", " : "",
			 mc_reason_kind_name(reasons[i].kind),
			 reasons[i].value ? reasons[i].value : "");
	}
}

static void where_of(const struct mc_location *loc, char *buf, size_t size)
{
	if (loc->queue_id != NULL)
		snprintf(buf, size, "mail queue");
	else if (loc->kind != NULL && strcmp(loc->kind, "host") == 0)
		snprintf(buf, size, "host files");
	else
		snprintf(buf, size, "%s / %s", loc->user ? loc->user : "?",
			 loc->folder ? loc->folder : "?");
}

/* Quarantine entries of the run: what was removed. */
static void load_quarantine(struct report *r, const struct mc_global *g)
{
	char *error = NULL;
	struct mc_quarantine *q = mc_quarantine_open(g->quarantine_dir, false, &error);
	struct mc_quarantine_iter *it;
	struct mc_qentry *e;

	if (q == NULL) {
		free(error);
		return;
	}
	it = mc_quarantine_iter_init(q);
	while ((e = mc_quarantine_iter_next(it)) != NULL) {
		if (e->run_id != NULL && strcmp(e->run_id, r->run_id) == 0) {
			char reason[1024], where[512], loc[4096];

			reason_text(e->reasons, e->reason_count, reason, sizeof(reason));
			where_of(&e->loc, where, sizeof(where));
			mc_output_location(&e->loc, loc, sizeof(loc));
			item_add(r, e->id, where, loc, reason, e->subject,
				 e->restored_at != 0 ? "restored" : "quarantined");
			if (e->reason_count > 0) {
				char key[512];
				snprintf(key, sizeof(key), "%s %s",
					 mc_reason_kind_name(e->reasons[0].kind),
					 e->reasons[0].value ? e->reasons[0].value : "");
				mc_tally_add(&r->per_reason, key);
			}
			mc_tally_add(&r->per_box, where);
			if (e->restored_at != 0)
				r->restored++;
			else
				r->quarantined++;
		}
		mc_qentry_free(&e);
	}
	mc_quarantine_iter_deinit(&it);
	mc_quarantine_close(&q);
}

/* Events of the run's steps that the quarantine does not hold: matches
   found but not acted on, unscanned messages, errors. */
static void load_events(struct report *r, const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;

	if (fp == NULL)
		return;
	while (getline(&line, &cap, fp) > 0) {
		json_object *obj = json_tokener_parse(line), *reasons;
		const char *ev;
		char where[512], loc[4096], reason[1024] = "";

		if (obj == NULL)
			continue;
		ev = jstr(obj, "event");
		if (ev == NULL || strcmp(ev, "summary") == 0 ||
		    (strcmp(ev, "match") == 0 && jstr(obj, "quarantine_id") != NULL)) {
			json_object_put(obj);
			continue;
		}
		if (jstr(obj, "queue_id") != NULL) {
			snprintf(where, sizeof(where), "mail queue");
			snprintf(loc, sizeof(loc), "%s", jstr(obj, "queue_id"));
		} else {
			const char *kind = jstr(obj, "kind");
			if (kind != NULL && strcmp(kind, "host") == 0)
				snprintf(where, sizeof(where), "host files");
			else
				snprintf(where, sizeof(where), "%s / %s",
					 jstr(obj, "user") ? jstr(obj, "user") : "?",
					 jstr(obj, "folder") ? jstr(obj, "folder") : "?");
			snprintf(loc, sizeof(loc), "%s", jstr(obj, "path") ? jstr(obj, "path") : "?");
			if (jstr(obj, "offset") != NULL) {
				size_t len = strlen(loc);
				snprintf(loc + len, sizeof(loc) - len, "@%s", jstr(obj, "offset"));
			}
		}
		if (strcmp(ev, "match") == 0) {
			if (json_object_object_get_ex(obj, "reasons", &reasons)) {
				for (size_t i = 0; i < json_object_array_length(reasons); i++) {
					json_object *o = json_object_array_get_idx(reasons, i);
					const char *v = jstr(o, "name") ? jstr(o, "name") : jstr(o, "value");
					size_t len = strlen(reason);
					snprintf(reason + len, sizeof(reason) - len, "%s%s %s",
						 i > 0 ? ", " : "", jstr(o, "kind") ? jstr(o, "kind") : "?",
						 v ? v : "");
					if (i == 0) {
						char key[512];
						snprintf(key, sizeof(key), "%s %s",
							 jstr(o, "kind") ? jstr(o, "kind") : "?", v ? v : "");
						mc_tally_add(&r->per_reason, key);
					}
				}
			}
			mc_tally_add(&r->per_box, where);
			const char *action = jstr(obj, "action");
			item_add(r, NULL, where, loc, reason, jstr(obj, "subject"),
				 action != NULL && strcmp(action, "failed") == 0 ? "failed" : "found");
			r->found++;
		} else {
			item_add(r, NULL, where, loc, jstr(obj, "why"), NULL, ev);
			if (strcmp(ev, "unscanned") == 0)
				r->unscanned++;
			else
				r->errors++;
		}
		json_object_put(obj);
	}
	free(line);
	fclose(fp);
}

static const char *const step_files[] = {
	"isolate", "queue-freeze", "queue-delete", "mailbox-clean",
	"host-scan", "queue-thaw", "reconnect",
};

static int report_load(struct report *r, const struct mc_global *g,
		       const char *run_id)
{
	struct stat st;

	memset(r, 0, sizeof(*r));
	r->run_id = run_id;
	if (asprintf(&r->run_dir, "%s/runs/%s", g->state_dir, run_id) < 0)
		abort();
	if (stat(r->run_dir, &st) == 0)
		r->journal = mc_journal_open(r->run_dir, false, NULL);
	load_quarantine(r, g);
	for (size_t i = 0; i < sizeof(step_files) / sizeof(step_files[0]); i++) {
		char *path;
		if (asprintf(&path, "%s/%s.jsonl", r->run_dir, step_files[i]) < 0)
			abort();
		load_events(r, path);
		free(path);
	}
	if (r->journal == NULL && r->item_count == 0)
		return -1;
	mc_tally_sort(&r->per_reason);
	mc_tally_sort(&r->per_box);
	return 0;
}

static void report_free(struct report *r)
{
	for (size_t i = 0; i < r->item_count; i++) {
		free(r->items[i].id);
		free(r->items[i].where);
		free(r->items[i].location);
		free(r->items[i].reason);
		free(r->items[i].subject);
		free(r->items[i].status);
	}
	free(r->items);
	mc_tally_free(&r->per_reason);
	mc_tally_free(&r->per_box);
	mc_journal_close(&r->journal);
	free(r->run_dir);
}

static const char *run_state(const struct report *r)
{
	const char *st = r->journal != NULL ? mc_journal_step_state(r->journal, "run") : NULL;
	return st != NULL ? st : "single command";
}

static char *restore_command(const struct mc_global *g, const char *id)
{
	char *cmd;
	bool custom = strcmp(g->quarantine_dir, MC_DEFAULT_QUARANTINE) != 0;

	if (asprintf(&cmd, "mailcure%s%s quarantine restore %s",
		     custom ? " --quarantine " : "", custom ? g->quarantine_dir : "", id) < 0)
		abort();
	return cmd;
}

static void report_text(const struct report *r, const struct mc_global *g, FILE *fp)
{
	size_t n;
	const struct mc_journal_record *rec;
	char t[64];

	mc_output_fprintf(fp, "Run %s: %s\n", r->run_id, run_state(r));
	mc_output_fprintf(fp, "Quarantined: %lu   Restored: %lu   Found, not removed: %lu   Unscanned: %lu   Errors: %lu\n",
			  r->quarantined, r->restored, r->found, r->unscanned, r->errors);
	if (r->journal != NULL) {
		rec = mc_journal_records(r->journal, &n);
		mc_output_fprintf(fp, "\nTimeline:\n");
		for (size_t i = 0; i < n; i++) {
			mc_output_time(rec[i].time, t, sizeof(t));
			mc_output_fprintf(fp, "  %s  %-14s %-9s%s%s\n", t, rec[i].step, rec[i].state,
					  rec[i].detail ? "  " : "", rec[i].detail ? rec[i].detail : "");
		}
	}
	mc_output_fprintf(fp, "\nPer reason:\n");
	for (size_t i = 0; i < r->per_reason.n; i++)
		mc_output_fprintf(fp, "  %8lu  %s\n", r->per_reason.v[i].n, r->per_reason.v[i].key);
	mc_output_fprintf(fp, "\nPer mailbox:\n");
	for (size_t i = 0; i < r->per_box.n; i++)
		mc_output_fprintf(fp, "  %8lu  %s\n", r->per_box.v[i].n, r->per_box.v[i].key);
	mc_output_fprintf(fp, "\nItems:\n");
	for (size_t i = 0; i < r->item_count; i++) {
		const struct item *it = &r->items[i];
		mc_output_fprintf(fp, "  %-11s %s  %s: %s\n", it->status, it->where, it->location, it->reason);
		if (it->id != NULL && strcmp(it->status, "quarantined") == 0) {
			char *cmd = restore_command(g, it->id);
			mc_output_fprintf(fp, "              restore: %s\n", cmd);
			free(cmd);
		}
	}
	if (r->quarantined > 0) {
		bool custom = strcmp(g->quarantine_dir, MC_DEFAULT_QUARANTINE) != 0;
		mc_output_fprintf(fp, "\nRestore the whole run: mailcure%s%s quarantine restore --run %s\n",
			custom ? " --quarantine " : "", custom ? g->quarantine_dir : "", r->run_id);
	}
}

/* Text for the page: control characters and bytes that are not
   UTF-8 made visible (mc_text_visible), then HTML's own characters
   escaped. */
static void html_escape(FILE *fp, const char *text)
{
	char *visible;

	if (text == NULL)
		return;
	visible = mc_text_visible(text);
	for (const char *s = visible; *s != '\0'; s++) {
		switch (*s) {
		case '<': fputs("&lt;", fp); break;
		case '>': fputs("&gt;", fp); break;
		case '&': fputs("&amp;", fp); break;
		case '"': fputs("&quot;", fp); break;
		case '\'': fputs("&#39;", fp); break;
		default: fputc(*s, fp);
		}
	}
	free(visible);
}

static void html_counts(FILE *fp, const char *title, const struct mc_tally *c,
			unsigned long total)
{
	fprintf(fp, "<section><h2>");
	html_escape(fp, title);
	fprintf(fp, "</h2><table><tr><th>count</th><th></th><th>what</th></tr>\n");
	for (size_t i = 0; i < c->n; i++) {
		unsigned pct = total > 0 ? (unsigned)(100 * c->v[i].n / total) : 0;
		fprintf(fp, "<tr><td class=n>%lu</td><td><div class=bar style=\"width:%upx\"></div></td><td>",
			c->v[i].n, pct * 2 + 2);
		html_escape(fp, c->v[i].key);
		fprintf(fp, "</td></tr>\n");
	}
	if (c->n == 0)
		fprintf(fp, "<tr><td colspan=3>none</td></tr>\n");
	fprintf(fp, "</table></section>\n");
}

static void report_html(const struct report *r, const struct mc_global *g, FILE *fp)
{
	char t[64];
	size_t n;
	unsigned long total = r->quarantined + r->restored + r->found;

	fprintf(fp, "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
		"<title>mailcure report ");
	html_escape(fp, r->run_id);
	fprintf(fp, "</title>\n<style>\n"
		"body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;background:#fafafa}\n"
		"h1{font-size:22px}h2{font-size:17px;margin-top:1.6em}\n"
		".cards{display:flex;gap:1em;flex-wrap:wrap}.card{background:#fff;border:1px solid #ddd;"
		"border-radius:6px;padding:.8em 1.2em;min-width:8em}.card b{display:block;font-size:26px}\n"
		".q b{color:#b00}.r b{color:#070}.u b{color:#a60}\n"
		"table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ddd;padding:4px 8px;"
		"text-align:left;vertical-align:top}th{background:#eee}td.n{text-align:right}\n"
		".bar{height:10px;background:#c33}code{font-size:12px;background:#f2f2f2;padding:1px 3px;word-break:break-all}\n"
		"</style></head><body>\n");
	fprintf(fp, "<h1>mailcure report: run ");
	html_escape(fp, r->run_id);
	fprintf(fp, "</h1>\n<p>State: <b>");
	html_escape(fp, run_state(r));
	fprintf(fp, "</b></p>\n<div class=cards>"
		"<div class=\"card q\"><b id=quarantined>%lu</b>quarantined</div>"
		"<div class=\"card r\"><b id=restored>%lu</b>restored</div>"
		"<div class=card><b id=found>%lu</b>found, not removed</div>"
		"<div class=\"card u\"><b id=unscanned>%lu</b>unscanned</div>"
		"<div class=\"card u\"><b id=errors>%lu</b>errors</div></div>\n",
		r->quarantined, r->restored, r->found, r->unscanned, r->errors);
	html_counts(fp, "Per signature / reason", &r->per_reason, total);
	html_counts(fp, "Per mailbox", &r->per_box, total);
	if (r->journal != NULL) {
		const struct mc_journal_record *rec = mc_journal_records(r->journal, &n);
		fprintf(fp, "<section><h2>Timeline</h2><table><tr><th>time</th><th>step</th>"
			"<th>state</th><th>detail</th></tr>\n");
		for (size_t i = 0; i < n; i++) {
			mc_output_time(rec[i].time, t, sizeof(t));
			fprintf(fp, "<tr><td>%s</td><td>", t);
			html_escape(fp, rec[i].step);
			fprintf(fp, "</td><td>");
			html_escape(fp, rec[i].state);
			fprintf(fp, "</td><td>");
			html_escape(fp, rec[i].detail);
			fprintf(fp, "</td></tr>\n");
		}
		fprintf(fp, "</table></section>\n");
	}
	fprintf(fp, "<section><h2>Items</h2><table><tr><th>status</th><th>where</th>"
		"<th>location</th><th>reason</th><th>subject</th><th>restore with</th></tr>\n");
	for (size_t i = 0; i < r->item_count; i++) {
		const struct item *it = &r->items[i];
		fprintf(fp, "<tr><td>");
		html_escape(fp, it->status);
		fprintf(fp, "</td><td>");
		html_escape(fp, it->where);
		fprintf(fp, "</td><td><code>");
		html_escape(fp, it->location);
		fprintf(fp, "</code></td><td>");
		html_escape(fp, it->reason);
		fprintf(fp, "</td><td>");
		html_escape(fp, it->subject);
		fprintf(fp, "</td><td>");
		if (it->id != NULL && strcmp(it->status, "quarantined") == 0) {
			char *cmd = restore_command(g, it->id);
			fprintf(fp, "<code>");
			html_escape(fp, cmd);
			fprintf(fp, "</code>");
			free(cmd);
		}
		fprintf(fp, "</td></tr>\n");
	}
	if (r->item_count == 0)
		fprintf(fp, "<tr><td colspan=6>nothing found</td></tr>\n");
	fprintf(fp, "</table></section>\n<p><small>mailcure %s</small></p></body></html>\n",
		MC_VERSION);
}

static void report_json(const struct report *r, FILE *fp)
{
	json_object *o = json_object_new_object(), *a;
	size_t n;

	json_object_object_add(o, "event", json_object_new_string("report"));
	json_object_object_add(o, "run", json_object_new_string(r->run_id));
	json_object_object_add(o, "state", json_object_new_string(run_state(r)));
	json_object_object_add(o, "quarantined", json_object_new_int64((int64_t)r->quarantined));
	json_object_object_add(o, "restored", json_object_new_int64((int64_t)r->restored));
	json_object_object_add(o, "found", json_object_new_int64((int64_t)r->found));
	json_object_object_add(o, "unscanned", json_object_new_int64((int64_t)r->unscanned));
	json_object_object_add(o, "errors", json_object_new_int64((int64_t)r->errors));
	a = json_object_new_object();
	for (size_t i = 0; i < r->per_reason.n; i++)
		json_object_object_add(a, r->per_reason.v[i].key, json_object_new_int64((int64_t)r->per_reason.v[i].n));
	json_object_object_add(o, "per_reason", a);
	a = json_object_new_object();
	for (size_t i = 0; i < r->per_box.n; i++)
		json_object_object_add(a, r->per_box.v[i].key, json_object_new_int64((int64_t)r->per_box.v[i].n));
	json_object_object_add(o, "per_mailbox", a);
	a = json_object_new_array();
	if (r->journal != NULL) {
		const struct mc_journal_record *rec = mc_journal_records(r->journal, &n);
		for (size_t i = 0; i < n; i++) {
			json_object *s = json_object_new_object();
			json_object_object_add(s, "time", json_object_new_int64(rec[i].time));
			json_object_object_add(s, "step", json_object_new_string(rec[i].step));
			json_object_object_add(s, "state", json_object_new_string(rec[i].state));
			json_object_object_add(s, "exit", json_object_new_int(rec[i].exit_code));
			if (rec[i].detail != NULL)
				json_object_object_add(s, "detail", json_object_new_string(rec[i].detail));
			json_object_array_add(a, s);
		}
	}
	json_object_object_add(o, "timeline", a);
	a = json_object_new_array();
	for (size_t i = 0; i < r->item_count; i++) {
		const struct item *it = &r->items[i];
		json_object *s = json_object_new_object();
		json_object_object_add(s, "status", json_object_new_string(it->status));
		if (it->id != NULL)
			json_object_object_add(s, "quarantine_id", json_object_new_string(it->id));
		json_object_object_add(s, "where", json_object_new_string(it->where));
		json_object_object_add(s, "location", json_object_new_string(it->location));
		json_object_object_add(s, "reason", json_object_new_string(it->reason));
		if (it->subject != NULL)
			json_object_object_add(s, "subject", json_object_new_string(it->subject));
		json_object_array_add(a, s);
	}
	json_object_object_add(o, "items", a);
	mc_output_json(fp, o);
}

const char cmd_report_usage[] =
	"usage: mailcure [GLOBAL OPTIONS] report RUN [--html FILE]\n\n"
	"What run RUN found and did: the timeline of its steps, counts per\n"
	"signature or reason and per mailbox, every item removed (with the command\n"
	"that restores it), found, unscanned or in error. Text on stdout; with the\n"
	"global --json, one JSON object.\n\n"
	"options:\n"
	"      --html FILE  also write one self-contained page (no script, no\n"
	"                   network) to FILE, mode 0600 (a symbolic link there\n"
	"                   is refused)\n\n"
	"Exit status: 0 done, 2 no such run or FILE could not be written.\n";

int mc_cli_report_html(const struct mc_global *g, const char *run_id,
		       const char *path)
{
	struct report r;
	FILE *fp;
	char *tmp, *error = NULL;
	int ret = 0;

	if (report_load(&r, g, run_id) < 0) {
		report_free(&r);
		return -1;
	}
	fp = mc_cli_private_create(path, &tmp, &error);
	if (fp == NULL) {
		ret = -1;
	} else {
		report_html(&r, g, fp);
		ret = mc_cli_private_commit(fp, tmp, path, &error);
	}
	if (ret < 0) {
		mc_warn("report: %s", error);
		free(error);
	}
	report_free(&r);
	return ret;
}

int cmd_report(int argc, char **argv, struct mc_global *g)
{
	static const struct option options[] = {
		{ "html", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	const char *html = NULL;
	struct report r;
	int c;

	/* Options anywhere, as "report RUN --html FILE" is written in
	   the manual and in respond's hint: getopt moves them ahead of
	   RUN. optind = 0 makes glibc start afresh after main()'s "+"
	   scan, which would otherwise stop at RUN. */
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c != 'H')
			mc_die_command_usage();
		html = optarg;
	}
	if (optind + 1 != argc)
		mc_die_command_usage();
	const char *run_id = argv[optind];
	if (strchr(run_id, '/') != NULL || run_id[0] == '.')
		mc_die_usage("report: not a run id: %s", run_id);
	if (report_load(&r, g, run_id) < 0) {
		mc_warn("report: no run %s (no journal in %s/runs and nothing in the quarantine %s)",
			run_id, g->state_dir, g->quarantine_dir);
		report_free(&r);
		return MC_EXIT_ERROR;
	}
	if (html != NULL) {
		report_free(&r);
		if (mc_cli_report_html(g, run_id, html) < 0)
			return MC_EXIT_ERROR;
		if (!g->json)
			mc_output_printf("Report written to %s\n", html);
		report_load(&r, g, run_id);
	}
	if (g->json)
		report_json(&r, stdout);
	else if (html == NULL)
		report_text(&r, g, stdout);
	report_free(&r);
	return MC_EXIT_CLEAN;
}
