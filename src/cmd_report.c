/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	cmd_report 1
/* SUMMARY
/*	mailcure report: what a run found and did
/* SYNOPSIS
/*	mailcure report RUN [--html FILE] [--json]
/*	mailcure report --merge FILE... [--html FILE] [--json]
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
/*
/*	mailcure report --merge FILE... makes one report of many hosts'
/*	runs: each FILE is what "mailcure --json report RUN" printed on
/*	one host (a directory stands for its report.json). The JSON of a
/*	host's report names the host and the commands that restore its
/*	items, so the merged report lists, per host, its counts and how
/*	to undo its run there; counts per reason add up over the hosts,
/*	mailboxes and items are named with their host.
/*--*/

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
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
	char *restore;		/* the command that restores it, or NULL */
	char *host;		/* merged reports only */
};

/* One host of a merged report. */
struct host_row {
	char *host, *run, *state, *restore;
	unsigned long quarantined, restored, found, unscanned, errors;
};

struct report {
	const char *run_id;	/* NULL for a merged report */
	char *run_dir;
	char *host;		/* where the run was */
	char *restore;		/* the command that restores the whole run */
	struct mc_journal *journal;
	struct mc_tally per_reason, per_box;
	struct mc_tally per_indicator, per_event;	/* ioc reasons */
	struct item *items;
	size_t item_count;
	struct host_row *hosts;
	size_t host_count;
	unsigned long quarantined, restored, found, unscanned, errors;
};

static char *xstrdup_or_null(const char *s)
{
	char *copy;

	if (s == NULL)
		return NULL;
	if ((copy = strdup(s)) == NULL)
		abort();
	return copy;
}

static struct item *item_add(struct report *r, const char *id, const char *where,
			     const char *location, const char *reason,
			     const char *subject, const char *status)
{
	struct item *it;

	r->items = realloc(r->items, (r->item_count + 1) * sizeof(*r->items));
	if (r->items == NULL)
		abort();
	it = &r->items[r->item_count++];
	memset(it, 0, sizeof(*it));
	it->id = xstrdup_or_null(id);
	it->where = xstrdup_or_null(where ? where : "");
	it->location = xstrdup_or_null(location ? location : "");
	it->reason = xstrdup_or_null(reason ? reason : "");
	it->subject = xstrdup_or_null(subject);
	it->status = xstrdup_or_null(status);
	return it;
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
		char *text = mc_output_reason_text(&reasons[i]);
		snprintf(buf + len, size - len, "%s%s", i > 0 ? ", " : "", text);
		free(text);
	}
}

/* Count an ioc reason (VALUE, its DETAIL) by indicator and by the
   feed event it came from: which indicator, which campaign removed
   how much. */
static void ioc_tally(struct report *r, const char *value, const char *detail)
{
	json_object *d = detail != NULL ? json_tokener_parse(detail) : NULL;
	const char *type = jstr(d, "type"), *feed = jstr(d, "feed");
	const char *eid = jstr(d, "event_id"), *event = jstr(d, "event");
	char key[1024];

	snprintf(key, sizeof(key), "%s %s (%s)", type != NULL ? type : "?",
		 value != NULL ? value : "", feed != NULL ? feed : "?");
	mc_tally_add(&r->per_indicator, key);
	if (eid != NULL || event != NULL) {
		snprintf(key, sizeof(key), "%s%s%s (%s)", eid != NULL ? eid : "",
			 eid != NULL && event != NULL ? " " : "", event != NULL ? event : "",
			 feed != NULL ? feed : "?");
		mc_tally_add(&r->per_event, key);
	}
	json_object_put(d);
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

/* The command that restores quarantine entry ID, or with RUN set,
   every entry of run ID. */
static char *restore_command(const struct mc_global *g, const char *id, bool run)
{
	char *cmd;
	bool custom = strcmp(g->quarantine_dir, MC_DEFAULT_QUARANTINE) != 0;

	if (asprintf(&cmd, "mailcure%s%s quarantine restore %s%s",
		     custom ? " --quarantine " : "", custom ? g->quarantine_dir : "",
		     run ? "--run " : "", id) < 0)
		abort();
	return cmd;
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
			struct item *item = item_add(r, e->id, where, loc, reason, e->subject,
						     e->restored_at != 0 ? "restored" :
						     "quarantined");

			if (e->restored_at == 0)
				item->restore = restore_command(g, e->id, false);
			for (size_t k = 0; k < e->reason_count; k++) {
				if (e->reasons[k].kind == MC_REASON_IOC)
					ioc_tally(r, e->reasons[k].value, e->reasons[k].detail);
			}
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
					const char *kind = jstr(o, "kind");
					bool ioc = kind != NULL && strcmp(kind, "ioc") == 0;
					if (ioc || (kind != NULL && strcmp(kind, "yara") == 0)) {
						struct mc_reason ir = { ioc ? MC_REASON_IOC : MC_REASON_YARA,
							(char *)v, (char *)json_object_to_json_string(o) };
						char *t = mc_output_reason_text(&ir);
						snprintf(reason + len, sizeof(reason) - len, "%s%s",
							 i > 0 ? ", " : "", t);
						free(t);
						if (ioc)
							ioc_tally(r, v, ir.detail);
					} else {
						snprintf(reason + len, sizeof(reason) - len, "%s%s %s",
							 i > 0 ? ", " : "",
							 jstr(o, "kind") ? jstr(o, "kind") : "?", v ? v : "");
					}
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
	"host-scan", "queue-thaw", "reconnect", "watch",
};

static int report_load(struct report *r, const struct mc_global *g,
		       const char *run_id)
{
	struct stat st;

	char host[256];

	memset(r, 0, sizeof(*r));
	r->run_id = run_id;
	if (asprintf(&r->run_dir, "%s/runs/%s", g->state_dir, run_id) < 0)
		abort();
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	r->host = xstrdup_or_null(host);
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
	if (r->quarantined > 0)
		r->restore = restore_command(g, run_id, true);
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
		free(r->items[i].restore);
		free(r->items[i].host);
	}
	free(r->items);
	for (size_t i = 0; i < r->host_count; i++) {
		free(r->hosts[i].host);
		free(r->hosts[i].run);
		free(r->hosts[i].state);
		free(r->hosts[i].restore);
	}
	free(r->hosts);
	free(r->host);
	free(r->restore);
	mc_tally_free(&r->per_reason);
	mc_tally_free(&r->per_box);
	mc_tally_free(&r->per_indicator);
	mc_tally_free(&r->per_event);
	mc_journal_close(&r->journal);
	free(r->run_dir);
}

static const char *run_state(const struct report *r)
{
	const char *st = r->journal != NULL ? mc_journal_step_state(r->journal, "run") : NULL;
	return st != NULL ? st : "single command";
}

static void text_item(FILE *fp, const struct item *it)
{
	if (it->host != NULL)
		mc_output_fprintf(fp, "  %-11s %s: %s  %s: %s\n", it->status, it->host,
				  it->where, it->location, it->reason);
	else
		mc_output_fprintf(fp, "  %-11s %s  %s: %s\n", it->status, it->where,
				  it->location, it->reason);
	if (it->restore != NULL && strcmp(it->status, "quarantined") == 0)
		mc_output_fprintf(fp, "              restore%s%s%s: %s\n",
				  it->host != NULL ? " (on " : "",
				  it->host != NULL ? it->host : "",
				  it->host != NULL ? ")" : "", it->restore);
}

static void report_text(const struct report *r, FILE *fp)
{
	size_t n;
	const struct mc_journal_record *rec;
	char t[64];

	if (r->run_id != NULL)
		mc_output_fprintf(fp, "Run %s: %s\n", r->run_id, run_state(r));
	else
		mc_output_fprintf(fp, "Fleet report: %zu host%s\n", r->host_count,
				  r->host_count == 1 ? "" : "s");
	mc_output_fprintf(fp, "Quarantined: %lu   Restored: %lu   Found, not removed: %lu   Unscanned: %lu   Errors: %lu\n",
			  r->quarantined, r->restored, r->found, r->unscanned, r->errors);
	if (r->host_count > 0)
		mc_output_fprintf(fp, "\nPer host:\n");
	for (size_t i = 0; i < r->host_count; i++) {
		const struct host_row *h = &r->hosts[i];

		mc_output_fprintf(fp, "  %s  run %s: %s; quarantined %lu, restored %lu, found %lu, "
				  "unscanned %lu, errors %lu\n", h->host, h->run, h->state,
				  h->quarantined, h->restored, h->found, h->unscanned, h->errors);
		if (h->restore != NULL)
			mc_output_fprintf(fp, "      restore (on %s): %s\n", h->host, h->restore);
	}
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
	if (r->per_indicator.n > 0)
		mc_output_fprintf(fp, "\nPer indicator:\n");
	for (size_t i = 0; i < r->per_indicator.n; i++)
		mc_output_fprintf(fp, "  %8lu  %s\n", r->per_indicator.v[i].n,
				  r->per_indicator.v[i].key);
	if (r->per_event.n > 0)
		mc_output_fprintf(fp, "\nPer feed event:\n");
	for (size_t i = 0; i < r->per_event.n; i++)
		mc_output_fprintf(fp, "  %8lu  %s\n", r->per_event.v[i].n, r->per_event.v[i].key);
	mc_output_fprintf(fp, "\nPer mailbox:\n");
	for (size_t i = 0; i < r->per_box.n; i++)
		mc_output_fprintf(fp, "  %8lu  %s\n", r->per_box.v[i].n, r->per_box.v[i].key);
	mc_output_fprintf(fp, "\nItems:\n");
	for (size_t i = 0; i < r->item_count; i++)
		text_item(fp, &r->items[i]);
	if (r->restore != NULL)
		mc_output_fprintf(fp, "\nRestore the whole run: %s\n", r->restore);
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

static void html_cell(FILE *fp, const char *text, bool code)
{
	fprintf(fp, "<td>%s", code ? "<code>" : "");
	html_escape(fp, text);
	fprintf(fp, "%s</td>", code ? "</code>" : "");
}

static void html_hosts(FILE *fp, const struct report *r)
{
	fprintf(fp, "<section><h2>Hosts</h2><table><tr><th>host</th><th>run</th><th>state</th>"
		"<th>quarantined</th><th>restored</th><th>found</th><th>unscanned</th>"
		"<th>errors</th><th>restore with</th></tr>\n");
	for (size_t i = 0; i < r->host_count; i++) {
		const struct host_row *h = &r->hosts[i];

		fprintf(fp, "<tr>");
		html_cell(fp, h->host, false);
		html_cell(fp, h->run, false);
		html_cell(fp, h->state, false);
		fprintf(fp, "<td class=n>%lu</td><td class=n>%lu</td><td class=n>%lu</td>"
			"<td class=n>%lu</td><td class=n>%lu</td>", h->quarantined, h->restored,
			h->found, h->unscanned, h->errors);
		html_cell(fp, h->restore, true);
		fprintf(fp, "</tr>\n");
	}
	fprintf(fp, "</table></section>\n");
}

static void html_items(FILE *fp, const struct report *r)
{
	bool merged = r->run_id == NULL;

	fprintf(fp, "<section><h2>Items</h2><table><tr><th>status</th>%s<th>where</th>"
		"<th>location</th><th>reason</th><th>subject</th><th>restore with</th></tr>\n",
		merged ? "<th>host</th>" : "");
	for (size_t i = 0; i < r->item_count; i++) {
		const struct item *it = &r->items[i];
		bool restorable = it->restore != NULL && strcmp(it->status, "quarantined") == 0;

		fprintf(fp, "<tr>");
		html_cell(fp, it->status, false);
		if (merged)
			html_cell(fp, it->host, false);
		html_cell(fp, it->where, false);
		html_cell(fp, it->location, true);
		html_cell(fp, it->reason, false);
		html_cell(fp, it->subject, false);
		html_cell(fp, restorable ? it->restore : NULL, restorable);
		fprintf(fp, "</tr>\n");
	}
	if (r->item_count == 0)
		fprintf(fp, "<tr><td colspan=%d>nothing found</td></tr>\n", merged ? 7 : 6);
	fprintf(fp, "</table></section>\n");
}

static void report_html(const struct report *r, FILE *fp)
{
	char t[64];
	size_t n;
	unsigned long total = r->quarantined + r->restored + r->found;
	const char *what = r->run_id != NULL ? r->run_id : "fleet";

	fprintf(fp, "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
		"<title>mailcure report ");
	html_escape(fp, what);
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
	if (r->run_id != NULL) {
		fprintf(fp, "<h1>mailcure report: run ");
		html_escape(fp, r->run_id);
		fprintf(fp, "</h1>\n<p>State: <b>");
		html_escape(fp, run_state(r));
		fprintf(fp, "</b>, on ");
		html_escape(fp, r->host);
		fprintf(fp, "</p>\n");
	} else {
		fprintf(fp, "<h1>mailcure fleet report: %zu host%s</h1>\n", r->host_count,
			r->host_count == 1 ? "" : "s");
	}
	fprintf(fp, "<div class=cards>"
		"<div class=\"card q\"><b id=quarantined>%lu</b>quarantined</div>"
		"<div class=\"card r\"><b id=restored>%lu</b>restored</div>"
		"<div class=card><b id=found>%lu</b>found, not removed</div>"
		"<div class=\"card u\"><b id=unscanned>%lu</b>unscanned</div>"
		"<div class=\"card u\"><b id=errors>%lu</b>errors</div></div>\n",
		r->quarantined, r->restored, r->found, r->unscanned, r->errors);
	if (r->host_count > 0)
		html_hosts(fp, r);
	html_counts(fp, "Per signature / reason", &r->per_reason, total);
	if (r->per_indicator.n > 0)
		html_counts(fp, "Per indicator", &r->per_indicator, total);
	if (r->per_event.n > 0)
		html_counts(fp, "Per feed event", &r->per_event, total);
	html_counts(fp, "Per mailbox", &r->per_box, total);
	if (r->journal != NULL) {
		const struct mc_journal_record *rec = mc_journal_records(r->journal, &n);
		fprintf(fp, "<section><h2>Timeline</h2><table><tr><th>time</th><th>step</th>"
			"<th>state</th><th>detail</th></tr>\n");
		for (size_t i = 0; i < n; i++) {
			mc_output_time(rec[i].time, t, sizeof(t));
			fprintf(fp, "<tr><td>%s</td>", t);
			html_cell(fp, rec[i].step, false);
			html_cell(fp, rec[i].state, false);
			html_cell(fp, rec[i].detail, false);
			fprintf(fp, "</tr>\n");
		}
		fprintf(fp, "</table></section>\n");
	}
	html_items(fp, r);
	if (r->restore != NULL) {
		fprintf(fp, "<p>Restore the whole run: <code>");
		html_escape(fp, r->restore);
		fprintf(fp, "</code></p>\n");
	}
	fprintf(fp, "<p><small>mailcure %s</small></p></body></html>\n", MC_VERSION);
}

static void json_add_counts(json_object *o, unsigned long quarantined,
			    unsigned long restored, unsigned long found,
			    unsigned long unscanned, unsigned long errors)
{
	json_object_object_add(o, "quarantined", json_object_new_int64((int64_t)quarantined));
	json_object_object_add(o, "restored", json_object_new_int64((int64_t)restored));
	json_object_object_add(o, "found", json_object_new_int64((int64_t)found));
	json_object_object_add(o, "unscanned", json_object_new_int64((int64_t)unscanned));
	json_object_object_add(o, "errors", json_object_new_int64((int64_t)errors));
}

static json_object *json_tally(const struct mc_tally *t)
{
	json_object *a = json_object_new_object();

	for (size_t i = 0; i < t->n; i++)
		json_object_object_add(a, t->v[i].key, json_object_new_int64((int64_t)t->v[i].n));
	return a;
}

static void report_json(const struct report *r, FILE *fp)
{
	json_object *o = json_object_new_object(), *a;
	size_t n;

	mc_output_json_str(o, "event", r->run_id != NULL ? "report" : "fleet-report");
	mc_output_json_str(o, "run", r->run_id);
	if (r->run_id != NULL) {
		mc_output_json_str(o, "host", r->host);
		mc_output_json_str(o, "state", run_state(r));
	}
	json_add_counts(o, r->quarantined, r->restored, r->found, r->unscanned, r->errors);
	mc_output_json_str(o, "restore", r->restore);
	if (r->run_id == NULL) {
		a = json_object_new_array();
		for (size_t i = 0; i < r->host_count; i++) {
			const struct host_row *h = &r->hosts[i];
			json_object *s = json_object_new_object();

			mc_output_json_str(s, "host", h->host);
			mc_output_json_str(s, "run", h->run);
			mc_output_json_str(s, "state", h->state);
			json_add_counts(s, h->quarantined, h->restored, h->found, h->unscanned,
					h->errors);
			mc_output_json_str(s, "restore", h->restore);
			json_object_array_add(a, s);
		}
		json_object_object_add(o, "hosts", a);
	}
	json_object_object_add(o, "per_reason", json_tally(&r->per_reason));
	json_object_object_add(o, "per_mailbox", json_tally(&r->per_box));
	if (r->per_indicator.n > 0)
		json_object_object_add(o, "per_indicator", json_tally(&r->per_indicator));
	if (r->per_event.n > 0)
		json_object_object_add(o, "per_event", json_tally(&r->per_event));
	a = json_object_new_array();
	if (r->journal != NULL) {
		const struct mc_journal_record *rec = mc_journal_records(r->journal, &n);
		for (size_t i = 0; i < n; i++) {
			json_object *s = json_object_new_object();
			json_object_object_add(s, "time", json_object_new_int64(rec[i].time));
			json_object_object_add(s, "step", json_object_new_string(rec[i].step));
			json_object_object_add(s, "state", json_object_new_string(rec[i].state));
			json_object_object_add(s, "exit", json_object_new_int(rec[i].exit_code));
			mc_output_json_str(s, "detail", rec[i].detail);
			json_object_array_add(a, s);
		}
	}
	if (r->run_id != NULL)
		json_object_object_add(o, "timeline", a);
	else
		json_object_put(a);
	a = json_object_new_array();
	for (size_t i = 0; i < r->item_count; i++) {
		const struct item *it = &r->items[i];
		json_object *s = json_object_new_object();

		mc_output_json_str(s, "status", it->status);
		mc_output_json_str(s, "host", it->host);
		mc_output_json_str(s, "quarantine_id", it->id);
		mc_output_json_str(s, "where", it->where);
		mc_output_json_str(s, "location", it->location);
		mc_output_json_str(s, "reason", it->reason);
		mc_output_json_str(s, "subject", it->subject);
		mc_output_json_str(s, "restore", it->restore);
		json_object_array_add(a, s);
	}
	json_object_object_add(o, "items", a);
	mc_output_json(fp, o);
}

/* Hosts' reports: the JSON that "mailcure --json report RUN" printed
   there, one per FILE (a directory: its report.json). Hosts' strings
   are theirs: they go out through the same neutralising printers as
   any other. */
#define MERGE_FILE_MAX (256U << 20)

static json_object *merge_read(const char *arg, char **error_r)
{
	struct stat st;
	char *path;
	json_object *obj;
	FILE *fp;
	char *buf;
	size_t len;

	if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (asprintf(&path, "%s/report.json", arg) < 0)
			abort();
	} else {
		path = xstrdup_or_null(arg);
	}
	if ((fp = fopen(path, "r")) == NULL) {
		mc_error_errno(error_r, "%s", path);
		free(path);
		return NULL;
	}
	buf = malloc(MERGE_FILE_MAX + 1);
	if (buf == NULL)
		abort();
	len = fread(buf, 1, MERGE_FILE_MAX + 1, fp);
	fclose(fp);
	buf[len > MERGE_FILE_MAX ? MERGE_FILE_MAX : len] = '\0';
	obj = len > MERGE_FILE_MAX ? NULL : json_tokener_parse(buf);
	free(buf);
	if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
	    jstr(obj, "event") == NULL || strcmp(jstr(obj, "event"), "report") != 0 ||
	    jstr(obj, "run") == NULL) {
		mc_error_set(error_r, "%s: not the JSON of one host's report "
			     "(mailcure --json report RUN)", path);
		json_object_put(obj);
		obj = NULL;
	}
	free(path);
	return obj;
}

static unsigned long jnum(json_object *v)
{
	int64_t n = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;

	return n > 0 ? (unsigned long)n : 0;
}

static unsigned long jcount(json_object *obj, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(obj, key, &v) ? jnum(v) : 0;
}

/* Add one host's report to the merged one. FALLBACK names a host
   whose report does not (its file's name). */
static void merge_host(struct report *r, json_object *obj, const char *fallback)
{
	const char *host = jstr(obj, "host") != NULL ? jstr(obj, "host") : fallback;
	struct host_row *h;
	json_object *v;

	r->hosts = realloc(r->hosts, (r->host_count + 1) * sizeof(*r->hosts));
	if (r->hosts == NULL)
		abort();
	h = &r->hosts[r->host_count++];
	h->host = xstrdup_or_null(host);
	h->run = xstrdup_or_null(jstr(obj, "run"));
	h->state = xstrdup_or_null(jstr(obj, "state") != NULL ? jstr(obj, "state") : "?");
	h->restore = xstrdup_or_null(jstr(obj, "restore"));
	r->quarantined += h->quarantined = jcount(obj, "quarantined");
	r->restored += h->restored = jcount(obj, "restored");
	r->found += h->found = jcount(obj, "found");
	r->unscanned += h->unscanned = jcount(obj, "unscanned");
	r->errors += h->errors = jcount(obj, "errors");
	if (json_object_object_get_ex(obj, "per_reason", &v) &&
	    json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, key, n)
			mc_tally_add_n(&r->per_reason, key, jnum(n));
	}
	if (json_object_object_get_ex(obj, "per_mailbox", &v) &&
	    json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, box, n) {
			char *key;

			if (asprintf(&key, "%s: %s", host, box) < 0)
				abort();
			mc_tally_add_n(&r->per_box, key, jnum(n));
			free(key);
		}
	}
	if (json_object_object_get_ex(obj, "items", &v) &&
	    json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			json_object *o = json_object_array_get_idx(v, i);
			struct item *it;

			if (!json_object_is_type(o, json_type_object))
				continue;
			it = item_add(r, jstr(o, "quarantine_id"), jstr(o, "where"),
				      jstr(o, "location"), jstr(o, "reason"),
				      jstr(o, "subject"),
				      jstr(o, "status") != NULL ? jstr(o, "status") : "?");
			it->host = xstrdup_or_null(host);
			it->restore = xstrdup_or_null(jstr(o, "restore"));
		}
	}
}

static int report_merge(struct report *r, char **files, int count)
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < count; i++) {
		char *error = NULL, *base, *dot;
		json_object *obj = merge_read(files[i], &error);

		if (obj == NULL) {
			mc_warn("report: %s", error);
			free(error);
			return -1;
		}
		base = xstrdup_or_null(strrchr(files[i], '/') != NULL ?
				       strrchr(files[i], '/') + 1 : files[i]);
		if ((dot = strrchr(base, '.')) != NULL && strcmp(dot, ".json") == 0)
			*dot = '\0';
		merge_host(r, obj, base);
		free(base);
		json_object_put(obj);
	}
	mc_tally_sort(&r->per_reason);
	mc_tally_sort(&r->per_box);
	return 0;
}

const char cmd_report_usage[] =
	"usage: mailcure [GLOBAL OPTIONS] report RUN [--html FILE]\n"
	"       mailcure [GLOBAL OPTIONS] report --merge FILE... [--html FILE]\n\n"
	"What run RUN found and did: the timeline of its steps, counts per\n"
	"signature or reason and per mailbox, every item removed (with the command\n"
	"that restores it), found, unscanned or in error. Text on stdout; with the\n"
	"global --json, one JSON object.\n\n"
	"options:\n"
	"      --html FILE  also write one self-contained page (no script, no\n"
	"                   network) to FILE, mode 0600 (a symbolic link there\n"
	"                   is refused)\n"
	"      --merge      one report of many hosts: each FILE is what\n"
	"                   'mailcure --json report RUN' printed on one host (a\n"
	"                   directory: its report.json)\n\n"
	"Exit status: 0 done, 2 no such run, a FILE that is not a host's report,\n"
	"or FILE could not be written.\n";

static int write_html(const struct report *r, const char *path)
{
	FILE *fp;
	char *tmp, *error = NULL;
	int ret;

	fp = mc_cli_private_create(path, &tmp, &error);
	if (fp == NULL) {
		ret = -1;
	} else {
		report_html(r, fp);
		ret = mc_cli_private_commit(fp, tmp, path, &error);
	}
	if (ret < 0) {
		mc_warn("report: %s", error);
		free(error);
	}
	return ret;
}

int mc_cli_report_html(const struct mc_global *g, const char *run_id,
		       const char *path)
{
	struct report r;
	int ret = -1;

	if (report_load(&r, g, run_id) == 0)
		ret = write_html(&r, path);
	report_free(&r);
	return ret;
}

int cmd_report(int argc, char **argv, struct mc_global *g)
{
	static const struct option options[] = {
		{ "html", required_argument, NULL, 'H' },
		{ "merge", no_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	const char *html = NULL;
	bool merge = false;
	struct report r;
	int c;

	/* Options anywhere, as "report RUN --html FILE" is written in
	   the manual and in respond's hint: getopt moves them ahead of
	   RUN. optind = 0 makes glibc start afresh after main()'s "+"
	   scan, which would otherwise stop at RUN. */
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == 'H')
			html = optarg;
		else if (c == 'M')
			merge = true;
		else
			mc_die_command_usage();
	}
	if (merge) {
		if (optind >= argc)
			mc_die_command_usage();
		if (report_merge(&r, argv + optind, argc - optind) < 0) {
			report_free(&r);
			return MC_EXIT_ERROR;
		}
	} else {
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
	}
	if (html != NULL) {
		if (write_html(&r, html) < 0) {
			report_free(&r);
			return MC_EXIT_ERROR;
		}
		if (!g->json)
			mc_output_printf("Report written to %s\n", html);
	}
	if (g->json)
		report_json(&r, stdout);
	else if (html == NULL)
		report_text(&r, stdout);
	report_free(&r);
	return MC_EXIT_CLEAN;
}
