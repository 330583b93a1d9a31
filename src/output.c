/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	output 3
/* SUMMARY
/*	what mailcure shows: match lines, JSON events, progress, summary
/* DESCRIPTION
/*	Human output is one line per event on stdout,
/*	"LOCATION: REASONS [ACTION]", then a summary. With --json every
/*	event is one JSON object per line with an "event" member, and the
/*	last line is the summary event (DESIGN.md, "The command line").
/*
/*	The progress line goes to stderr, only when it is a terminal
/*	(--progress auto) or when asked (--progress always), and is
/*	erased before any other line is printed so the two never mix.
/*
/*	mc_output_printf() and mc_output_fprintf() are printf() for
/*	human output: every %s argument is shown as mc_text_visible()
/*	makes it, while the format's own newlines stay.
/* SECURITY
/*	Paths, folder and user names, senders, subjects, attachment
/*	names, queue ids and the library's reasons that embed them are
/*	written by users. In human output and in diagnostics they pass
/*	through mc_text_visible(), so that no control character or
/*	escape sequence they hold reaches the terminal (a file name with
/*	a newline would forge a line, one with ESC [ would recolour or
/*	rewrite the screen). JSON output keeps the exact text, written by
/*	mc_json_text(), which escapes the same characters as \uXXXX.
/*--*/

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

#include "commands.h"

struct mc_output {
	const struct mc_global *g;
	const struct mc_query *query;	/* for its indicator files */
	bool acting;
	bool progress;
	bool progress_shown;
};

struct mc_output *mc_output_init(const struct mc_global *g, bool acting)
{
	struct mc_output *out = calloc(1, sizeof(*out));

	if (out == NULL)
		abort();
	out->g = g;
	out->acting = acting;
	switch (g->progress) {
	case MC_PROGRESS_ALWAYS: out->progress = true; break;
	case MC_PROGRESS_NEVER: out->progress = false; break;
	case MC_PROGRESS_AUTO: out->progress = isatty(STDERR_FILENO) && g->verbose >= 0; break;
	}
	return out;
}

void mc_output_deinit(struct mc_output **_out)
{
	free(*_out);
	*_out = NULL;
}

static void progress_erase(struct mc_output *out)
{
	if (out->progress_shown) {
		fputs("\r\033[K", stderr);
		out->progress_shown = false;
	}
}

/* Print one conversion SPEC (with NSTAR '*' values in STAR) of the
   next argument of AP. Formats are literals that the compiler checks
   against their arguments (format attribute), so the types are
   right; SPEC is a piece of such a literal. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#define EMIT(fp, spec, nstar, star, arg) \
	((nstar) == 0 ? fprintf(fp, spec, arg) : (nstar) == 1 ? \
	 fprintf(fp, spec, (star)[0], arg) : fprintf(fp, spec, (star)[0], (star)[1], arg))

static void print_conversion(FILE *fp, const char *spec, char length, char conv,
			     int nstar, const int *star, va_list *ap)
{
	switch (conv) {
	case 'd': case 'i':
		switch (length) {
		case 'l': EMIT(fp, spec, nstar, star, va_arg(*ap, long)); break;
		case 'q': EMIT(fp, spec, nstar, star, va_arg(*ap, long long)); break;
		case 'z': EMIT(fp, spec, nstar, star, va_arg(*ap, ssize_t)); break;
		case 'j': EMIT(fp, spec, nstar, star, va_arg(*ap, intmax_t)); break;
		case 't': EMIT(fp, spec, nstar, star, va_arg(*ap, ptrdiff_t)); break;
		default: EMIT(fp, spec, nstar, star, va_arg(*ap, int)); break;
		}
		break;
	case 'u': case 'o': case 'x': case 'X':
		switch (length) {
		case 'l': EMIT(fp, spec, nstar, star, va_arg(*ap, unsigned long)); break;
		case 'q': EMIT(fp, spec, nstar, star, va_arg(*ap, unsigned long long)); break;
		case 'z': EMIT(fp, spec, nstar, star, va_arg(*ap, size_t)); break;
		case 'j': EMIT(fp, spec, nstar, star, va_arg(*ap, uintmax_t)); break;
		case 't': EMIT(fp, spec, nstar, star, va_arg(*ap, ptrdiff_t)); break;
		default: EMIT(fp, spec, nstar, star, va_arg(*ap, unsigned)); break;
		}
		break;
	case 'e': case 'E': case 'f': case 'F': case 'g': case 'G': case 'a': case 'A':
		if (length == 'L')
			EMIT(fp, spec, nstar, star, va_arg(*ap, long double));
		else
			EMIT(fp, spec, nstar, star, va_arg(*ap, double));
		break;
	case 'c':
		EMIT(fp, spec, nstar, star, va_arg(*ap, int));
		break;
	case 'p':
		EMIT(fp, spec, nstar, star, va_arg(*ap, void *));
		break;
	case 's': {
		const char *arg = va_arg(*ap, const char *);
		char *text = mc_text_visible(arg != NULL ? arg : "(null)");

		EMIT(fp, spec, nstar, star, text);
		free(text);
		break;
	}
	default:
		/* %n and the like: never in mailcure's formats. */
		abort();
	}
}
#undef EMIT
#pragma GCC diagnostic pop

void mc_output_vfprintf(FILE *fp, const char *fmt, va_list ap)
{
	va_list aq;

	va_copy(aq, ap);
	for (const char *p = fmt; *p != '\0';) {
		const char *pct = strchr(p, '%'), *q;
		char spec[32], length = 0;
		int star[2], nstar = 0;

		if (pct == NULL) {
			fputs(p, fp);
			break;
		}
		fwrite(p, 1, (size_t)(pct - p), fp);
		if (pct[1] == '%') {
			fputc('%', fp);
			p = pct + 2;
			continue;
		}
		q = pct + 1 + strspn(pct + 1, "-+ #0'");
		if (*q == '*') {
			star[nstar++] = va_arg(aq, int);
			q++;
		}
		q += strspn(q, "0123456789");
		if (*q == '.') {
			q++;
			if (*q == '*') {
				star[nstar++] = va_arg(aq, int);
				q++;
			}
			q += strspn(q, "0123456789");
		}
		/* Length modifiers, folded to one letter: hh and h read an
		   int, ll is 'q'. */
		while (*q != '\0' && strchr("hlLqjzt", *q) != NULL) {
			length = *q == 'l' && length == 'l' ? 'q' : *q;
			q++;
		}
		if (*q == '\0' || (size_t)(q + 1 - pct) >= sizeof(spec))
			abort();
		memcpy(spec, pct, (size_t)(q + 1 - pct));
		spec[q + 1 - pct] = '\0';
		print_conversion(fp, spec, length, *q, nstar, star, &aq);
		p = q + 1;
	}
	va_end(aq);
}

void mc_output_fprintf(FILE *fp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mc_output_vfprintf(fp, fmt, ap);
	va_end(ap);
}

void mc_output_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mc_output_vfprintf(stdout, fmt, ap);
	va_end(ap);
}

/* LOCATION of a message: its file, the From_ offset inside an mbox,
   or the queue id. */
void mc_output_location(const struct mc_location *loc, char *buf, size_t size)
{
	if (loc->queue_id != NULL)
		snprintf(buf, size, "%s:%s", loc->kind != NULL ? loc->kind : "queue",
			 loc->queue_id);
	else if (loc->offset >= 0 && loc->kind != NULL && strcmp(loc->kind, "mbox") == 0)
		snprintf(buf, size, "%s@%lld", loc->path, (long long)loc->offset);
	else
		snprintf(buf, size, "%s", loc->path != NULL ? loc->path : "?");
}

void mc_output_time(time_t t, char *buf, size_t size)
{
	mc_date_format(t, buf, size);
}

void mc_output_json(FILE *fp, json_object *obj)
{
	char *text = mc_json_text(obj);

	fprintf(fp, "%s\n", text);
	fflush(fp);
	free(text);
	json_object_put(obj);
}

void mc_output_json_str(json_object *obj, const char *key, const char *value)
{
	if (value != NULL)
		json_object_object_add(obj, key, json_object_new_string(value));
}

static void add_count(json_object *obj, const char *key, uint64_t value)
{
	json_object_object_add(obj, key, json_object_new_int64((int64_t)value));
}

json_object *mc_output_reasons_json(const struct mc_reason *reasons, size_t count)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < count; i++) {
		json_object *r = json_object_new_object();
		mc_output_json_str(r, "kind", mc_reason_kind_name(reasons[i].kind));
		mc_output_json_str(r, reasons[i].kind == MC_REASON_VIRUS ? "name" : "value",
			reasons[i].value != NULL ? reasons[i].value : "");
		/* More fields (a YARA rule's namespace, tags, metadata). */
		json_object *more = reasons[i].detail != NULL ?
			json_tokener_parse(reasons[i].detail) : NULL;
		if (more != NULL && json_object_is_type(more, json_type_object)) {
			json_object_object_foreach(more, key, val)
				json_object_object_add(r, key, json_object_get(val));
		}
		json_object_put(more);
		json_object_array_add(arr, r);
	}
	return arr;
}


void mc_output_location_json(json_object *obj, const struct mc_location *loc)
{
	mc_output_json_str(obj, "store", loc->store);
	mc_output_json_str(obj, "kind", loc->kind);
	mc_output_json_str(obj, "user", loc->user);
	mc_output_json_str(obj, "folder", loc->folder);
	mc_output_json_str(obj, "path", loc->path);
	mc_output_json_str(obj, "queue_id", loc->queue_id);
	if (loc->offset >= 0 && loc->kind != NULL && strcmp(loc->kind, "mbox") == 0)
		json_object_object_add(obj, "offset", json_object_new_int64(loc->offset));
	if (loc->maildir_flags != NULL)
		mc_output_json_str(obj, "flags", loc->maildir_flags);
	/* Queue mail: its envelope ("" is the null sender). */
	if (loc->envelope_sender != NULL) {
		json_object *rcpts = json_object_new_array();
		json_object_object_add(obj, "sender",
				       json_object_new_string(loc->envelope_sender));
		for (size_t i = 0; i < loc->recipient_count; i++)
			json_object_array_add(rcpts, json_object_new_string(loc->recipients[i]));
		json_object_object_add(obj, "recipients", rcpts);
		if (loc->arrival_time > 0)
			json_object_object_add(obj, "arrival_time",
					       json_object_new_int64((int64_t)loc->arrival_time));
	}
}

static void event_json(struct mc_output *out, const struct mc_event *ev)
{
	json_object *obj = json_object_new_object();
	const struct mc_msg *msg = ev->msg;
	const char *type = ev->type == MC_EVENT_MATCH ? "match" :
		ev->type == MC_EVENT_UNSCANNED ? "unscanned" : "error";

	mc_output_json_str(obj, "event", type);
	mc_output_location_json(obj, &msg->loc);
	json_object_object_add(obj, "size", json_object_new_int64((int64_t)msg->size));
	if (ev->type == MC_EVENT_MATCH) {
		mc_output_json_str(obj, "from", ev->from);
		mc_output_json_str(obj, "subject", ev->subject);
		mc_output_json_str(obj, "message_id", ev->message_id);
		json_object_object_add(obj, "reasons",
			mc_output_reasons_json(ev->match->reasons, ev->match->reason_count));
		mc_output_json_str(obj, "action", ev->action);
		mc_output_json_str(obj, "quarantine_id", ev->quarantine_id);
		if (ev->why != NULL)
			mc_output_json_str(obj, "why", ev->why);
	} else {
		mc_output_json_str(obj, "why", ev->why);
	}
	mc_output_json(stdout, obj);
}

static void event_human(struct mc_output *out, const struct mc_event *ev)
{
	char loc[4096];

	mc_output_location(&ev->msg->loc, loc, sizeof(loc));
	if (ev->type == MC_EVENT_UNSCANNED) {
		mc_output_printf("%s: UNSCANNED (%s)\n", loc, ev->why);
		return;
	}
	if (ev->type == MC_EVENT_ERROR) {
		mc_output_printf("%s: ERROR (%s)\n", loc, ev->why);
		return;
	}
	mc_output_printf("%s: ", loc);
	/* A match through "not" alone has no positive reason to name. */
	if (ev->match->reason_count == 0)
		mc_output_printf("query matched");
	for (size_t i = 0; i < ev->match->reason_count; i++) {
		const struct mc_reason *r = &ev->match->reasons[i];
		if (i > 0)
			mc_output_printf(", ");
		mc_output_reason(stdout, r);
	}
	if (ev->action != NULL) {
		if (ev->quarantine_id != NULL)
			mc_output_printf(" [%s %s]", ev->action, ev->quarantine_id);
		else if (ev->why != NULL)
			mc_output_printf(" [%s: %s]", ev->action, ev->why);
		else
			mc_output_printf(" [%s]", ev->action);
	}
	putchar('\n');
}

/* A member of a reason's detail, or NULL. */
static const char *detail_str(json_object *d, const char *key)
{
	json_object *v;

	return d != NULL && json_object_object_get_ex(d, key, &v) &&
		json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static void ioc_reason(FILE *fp, const struct mc_reason *r, json_object *d)
{
	const char *type = detail_str(d, "type"), *eid = detail_str(d, "event_id");
	const char *event = detail_str(d, "event"), *id = detail_str(d, "indicator_id");
	const char *feed = detail_str(d, "feed"), *matched = detail_str(d, "matched");

	/* Every string here is the feed's: shown, never obeyed. */
	mc_output_fprintf(fp, "ioc %s %s (", type != NULL ? type : "?",
			  r->value != NULL ? r->value : "");
	if (eid != NULL || event != NULL)
		mc_output_fprintf(fp, "event %s%s\"%s\", ", eid != NULL ? eid : "",
				  eid != NULL ? " " : "", event != NULL ? event : "");
	if (id != NULL)
		mc_output_fprintf(fp, "indicator %s, ", id);
	mc_output_fprintf(fp, "%s)", feed != NULL ? feed : "?");
	if (matched != NULL && r->value != NULL && strcmp(matched, r->value) != 0)
		mc_output_fprintf(fp, " in %s", matched);
}

/* The rules of a YARA reason: the first few, then how many more. */
static void yara_reason(FILE *fp, const struct mc_reason *r, json_object *d)
{
	json_object *rules;
	size_t n;

	if (d == NULL || !json_object_object_get_ex(d, "rules", &rules) ||
	    !json_object_is_type(rules, json_type_array) ||
	    (n = json_object_array_length(rules)) < 2) {
		mc_output_fprintf(fp, "yara %s", r->value != NULL ? r->value : "");
		return;
	}
	mc_output_fprintf(fp, "yara ");
	for (size_t i = 0; i < n && i < MC_OUTPUT_YARA_RULES; i++) {
		json_object *o = json_object_array_get_idx(rules, i);
		const char *ns = detail_str(o, "namespace"), *rule = detail_str(o, "rule");
		mc_output_fprintf(fp, "%s%s%s%s", i > 0 ? ", " : "", ns != NULL ? ns : "",
				  ns != NULL ? ":" : "", rule != NULL ? rule : "?");
	}
	if (n > MC_OUTPUT_YARA_RULES)
		mc_output_fprintf(fp, " +%zu more", n - MC_OUTPUT_YARA_RULES);
}

void mc_output_reason(FILE *fp, const struct mc_reason *r)
{
	json_object *d = r->detail != NULL ? json_tokener_parse(r->detail) : NULL;

	if (r->kind == MC_REASON_IOC)
		ioc_reason(fp, r, d);
	else if (r->kind == MC_REASON_YARA)
		yara_reason(fp, r, d);
	else
		mc_output_fprintf(fp, "%s %s", mc_reason_kind_name(r->kind),
				  r->value != NULL ? r->value : "");
	json_object_put(d);
}

char *mc_output_reason_text(const struct mc_reason *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	if (fp == NULL)
		abort();
	mc_output_reason(fp, r);
	fclose(fp);
	return text;
}

void mc_output_set_query(struct mc_output *out, const struct mc_query *query)
{
	out->query = query;
}

static void feed_json(const struct mc_ioc_feed *f, void *context)
{
	json_object *o = json_object_new_object(), *notes = json_object_new_array();

	mc_output_json_str(o, "file", f->path);
	mc_output_json_str(o, "format", f->format);
	add_count(o, "loaded", f->loaded);
	add_count(o, "skipped", f->skipped);
	for (size_t i = 0; i < f->note_count; i++)
		json_object_array_add(notes, json_object_new_string(f->notes[i]));
	json_object_object_add(o, "notes", notes);
	json_object_array_add(context, o);
}

static void feed_human(const struct mc_ioc_feed *f, void *context)
{
	const struct mc_output *out = context;

	mc_output_printf("Indicators: %s (%s): %lu loaded, %lu skipped\n", f->path,
			 f->format != NULL ? f->format : "?", f->loaded, f->skipped);
	for (size_t i = 0; out->g->verbose > 0 && i < f->note_count; i++)
		mc_output_printf("            skipped: %s\n", f->notes[i]);
}

void mc_output_event(const struct mc_event *ev, void *context)
{
	struct mc_output *out = context;

	progress_erase(out);
	if (out->g->json)
		event_json(out, ev);
	else
		event_human(out, ev);
	fflush(stdout);
}

void mc_output_bytes(double bytes, char *buf, size_t size)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB" };
	unsigned u = 0;

	while (bytes >= 1000 && u < 4) {
		bytes /= 1000;
		u++;
	}
	snprintf(buf, size, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
}

void mc_output_progress(const struct mc_progress *pr, void *context)
{
	struct mc_output *out = context;
	char bytes[32], rate[32];
	double secs = pr->seconds > 0 ? pr->seconds : 1e-9;

	if (!out->progress)
		return;
	mc_output_bytes((double)pr->bytes, bytes, sizeof(bytes));
	mc_output_bytes((double)pr->bytes / secs, rate, sizeof(rate));
	fprintf(stderr, "\r\033[K%llu messages (%s), %.0f msg/s, %s/s, %llu matched",
		(unsigned long long)pr->messages, bytes, (double)pr->messages / secs,
		rate, (unsigned long long)pr->matched);
	if (pr->total_messages > 0 && pr->messages > 0 && pr->messages <= pr->total_messages) {
		double eta = (double)(pr->total_messages - pr->messages) *
			secs / (double)pr->messages;
		fprintf(stderr, ", %.0f%%, ETA %.0fs",
			100.0 * (double)pr->messages / (double)pr->total_messages, eta);
	}
	out->progress_shown = true;
	fflush(stderr);
}

void mc_output_summary(struct mc_output *out, const struct mc_summary *sum)
{
	progress_erase(out);
	if (out->g->json) {
		json_object *obj = json_object_new_object();
		mc_output_json_str(obj, "event", "summary");
		mc_output_json_str(obj, "run", sum->run_id);
		add_count(obj, "scanned", sum->scanned);
		add_count(obj, "matched", sum->matched);
		add_count(obj, "acted", sum->acted);
		add_count(obj, "unscanned", sum->unscanned);
		add_count(obj, "errors", sum->errors);
		add_count(obj, "bytes", sum->bytes);
		json_object_object_add(obj, "seconds", json_object_new_double(sum->seconds));
		if (sum->engine_used) {
			const struct mc_engine_stats *e = &sum->engine;
			json_object *eng = json_object_new_object();
			add_count(eng, "messages_by_part", e->messages_parts);
			add_count(eng, "messages_whole", e->messages_whole);
			add_count(eng, "parts_scanned", e->parts_scanned);
			add_count(eng, "parts_from_cache", e->parts_cached);
			add_count(eng, "raw_scans", e->raw_scans);
			add_count(eng, "messages_from_cache", e->messages_cached);
			if (e->engine != NULL)
				mc_output_json_str(eng, "name", e->engine);
			if (e->version != NULL)
				mc_output_json_str(eng, "version", e->version);
			if (e->matcher != NULL)
				mc_output_json_str(eng, "matcher", e->matcher);
			json_object_object_add(eng, "loaded", json_object_new_boolean(e->loaded));
			if (e->loaded) {
				add_count(eng, "signatures", e->signatures);
				json_object_object_add(eng, "load_seconds",
						       json_object_new_double(e->load_seconds));
			}
			json_object_object_add(obj, "engine", eng);
		}
		if (out->query != NULL) {
			json_object *feeds = json_object_new_array();
			mc_query_ioc_feeds(out->query, feed_json, feeds);
			if (json_object_array_length(feeds) > 0)
				json_object_object_add(obj, "indicators", feeds);
			else
				json_object_put(feeds);
		}
		if (out->g->dry_run)
			json_object_object_add(obj, "dry_run", json_object_new_boolean(1));
		if (sum->interrupted)
			json_object_object_add(obj, "interrupted", json_object_new_boolean(1));
		mc_output_json(stdout, obj);
		return;
	}
	if (out->g->verbose < 0)
		return;
	char bytes[32], rate[32];
	double secs = sum->seconds > 0 ? sum->seconds : 1e-9;
	mc_output_bytes((double)sum->bytes, bytes, sizeof(bytes));
	mc_output_bytes((double)sum->bytes / secs, rate, sizeof(rate));
	printf("\n----------- SUMMARY -----------\n");
	mc_output_printf("Run:        %s%s\n", sum->run_id, out->g->dry_run ? " (dry run: nothing changed)" : "");
	printf("Scanned:    %llu messages, %s in %.2f s (%.0f msg/s, %s/s)\n",
	       (unsigned long long)sum->scanned, bytes, sum->seconds,
	       (double)sum->scanned / secs, rate);
	printf("Matched:    %llu\n", (unsigned long long)sum->matched);
	if (out->acting)
		printf("%s %llu\n", out->g->dry_run ? "Would act:  " : "Quarantined:",
		       (unsigned long long)(out->g->dry_run ? sum->matched : sum->acted));
	printf("Unscanned:  %llu\n", (unsigned long long)sum->unscanned);
	printf("Errors:     %llu\n", (unsigned long long)sum->errors);
	if (out->query != NULL)
		mc_query_ioc_feeds(out->query, feed_human, out);
	if (sum->interrupted)
		printf("Interrupted: what was read was reported%s; the rest was not read\n",
		       out->acting && !out->g->dry_run ? " and acted on" : "");
	if (sum->engine_used && out->g->verbose > 0)
		mc_output_printf("Engine:     %llu messages part by part (%llu parts scanned, "
				 "%llu from the cache), %llu whole, %llu from the cache%s%s\n",
				 (unsigned long long)sum->engine.messages_parts,
				 (unsigned long long)sum->engine.parts_scanned,
				 (unsigned long long)sum->engine.parts_cached,
				 (unsigned long long)sum->engine.messages_whole,
				 (unsigned long long)sum->engine.messages_cached,
				 sum->engine.matcher != NULL ? "; matcher: " : "",
				 sum->engine.matcher != NULL ? sum->engine.matcher : "");
	if (sum->engine_used && out->g->verbose > 0) {
		if (sum->engine.loaded)
			printf("Signatures: %u, loaded in %.2f s\n", sum->engine.signatures,
			       sum->engine.load_seconds);
		else
			printf("Signatures: not loaded (no scan needed them)\n");
	}
	if (out->acting && !out->g->dry_run && sum->acted > 0)
		mc_output_printf("Undo with:  mailcure%s%s quarantine restore --run %s\n",
				 strcmp(out->g->quarantine_dir, MC_DEFAULT_QUARANTINE) != 0 ? " --quarantine " : "",
				 strcmp(out->g->quarantine_dir, MC_DEFAULT_QUARANTINE) != 0 ? out->g->quarantine_dir : "",
				 sum->run_id);
	fflush(stdout);
}

void mc_tally_add(struct mc_tally *t, const char *key)
{
	mc_tally_add_n(t, key, 1);
}

void mc_tally_add_n(struct mc_tally *t, const char *key, unsigned long n)
{
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->v[i].key, key) == 0) {
			t->v[i].n += n;
			return;
		}
	}
	t->v = realloc(t->v, (t->n + 1) * sizeof(*t->v));
	if (t->v == NULL)
		abort();
	t->v[t->n].key = strdup(key);
	t->v[t->n++].n = n;
}

static int tally_cmp(const void *a, const void *b)
{
	const struct mc_tally_item *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->key, y->key);
}

void mc_tally_sort(struct mc_tally *t)
{
	if (t->n > 0)
		qsort(t->v, t->n, sizeof(*t->v), tally_cmp);
}

void mc_tally_free(struct mc_tally *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].key);
	free(t->v);
	memset(t, 0, sizeof(*t));
}
