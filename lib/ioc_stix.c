/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	ioc_stix 3
/* SUMMARY
/*	indicators from STIX 2.1 bundles
/* SYNOPSIS
/*	#include "ioc-private.h"
/*
/*	bool	mc_ioc_is_stix(root)
/*	int	mc_ioc_stix_bundle(load, root, &error)
/* DESCRIPTION
/*	mc_ioc_stix_bundle() reads the "indicator" objects of a bundle
/*	whose pattern_type is "stix". An indicator that is revoked, or
/*	whose valid_until has passed, is skipped and counted. Its id
/*	and name are kept; its event is the first "report" or
/*	"grouping" of the bundle that refers to it, else the bundle.
/*
/*	The pattern is read into a disjunction of conjunctions of
/*	comparisons; each conjunction becomes one indicator. The
/*	comparisons read are equality (=, and IN with a list) on
/*	file:hashes.MD5, 'SHA-1', 'SHA-256' (the hash of a MIME part
/*	or of the message), url:value, domain-name:value (the host of
/*	a URL, or a domain above it), email-addr:value and
/*	email-message:from_ref.value and sender_ref.value (a sender
/*	address), and email-message:subject. Observations joined by
/*	AND, OR or FOLLOWEDBY are read as AND and OR of their
/*	comparisons; qualifiers (WITHIN, REPEATS, START/STOP) are
/*	ignored. A comparison that cannot be evaluated (another object
/*	or property, !=, LIKE, MATCHES, >, NOT, EXISTS...) is noted
/*	and left out: dropped from an AND (which then matches more),
/*	dropped from an OR; a pattern with nothing left is skipped.
/* DIAGNOSTICS
/*	A bundle that is not JSON or not a bundle is an error; a
/*	pattern with a syntax error is skipped with a note that says
/*	where.
/* SECURITY
/*	Patterns come from outside: nesting is bounded, and the
/*	expansion into conjunctions is bounded in count and size.
/*--*/

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <glib.h>

#include "ioc-private.h"

/* Bounds on a pattern: nesting, and the conjunctions it expands to. */
#define PATTERN_DEPTH 32
#define DNF_MAX 64
#define CONJ_MAX 16

struct conj {
	struct mc_ioc_cmp c[CONJ_MAX];
	size_t n;
};

/* A disjunction of conjunctions; "unknown" when nothing in it can be
   evaluated. */
struct dnf {
	struct conj *v;
	size_t n;
	bool unknown;
};

struct pparser {
	const char *s, *p;
	unsigned depth;
	char *error;		/* first syntax error */
	GPtrArray *notes;	/* parts left out */
	GPtrArray *values;	/* strings the comparisons point to */
	bool overflow;
};

static void dnf_free(struct dnf *d)
{
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static void perror_at(struct pparser *pp, const char *what)
{
	if (pp->error == NULL)
		pp->error = mc_xasprintf("%s at character %zu", what,
					 (size_t)(pp->p - pp->s) + 1);
}

static void skip_ws(struct pparser *pp)
{
	while (g_ascii_isspace(*pp->p))
		pp->p++;
}

/* Whether keyword KW (case as STIX spells it) comes next. */
static bool keyword(struct pparser *pp, const char *kw)
{
	size_t n = strlen(kw);

	skip_ws(pp);
	if (strncmp(pp->p, kw, n) != 0 || g_ascii_isalnum(pp->p[n]) || pp->p[n] == '_')
		return false;
	pp->p += n;
	return true;
}

static bool punct(struct pparser *pp, char c)
{
	skip_ws(pp);
	if (*pp->p != c)
		return false;
	pp->p++;
	return true;
}

/* A quoted string '...', with \' and \\; NULL on error. */
static char *string_lit(struct pparser *pp)
{
	GString *s;

	skip_ws(pp);
	if (*pp->p != '\'')
		return NULL;
	s = g_string_new(NULL);
	for (pp->p++; *pp->p != '\''; pp->p++) {
		if (*pp->p == '\0') {
			perror_at(pp, "unterminated string");
			g_string_free(s, TRUE);
			return NULL;
		}
		if (*pp->p == '\\' && (pp->p[1] == '\'' || pp->p[1] == '\\'))
			pp->p++;
		g_string_append_c(s, *pp->p);
	}
	pp->p++;
	return g_string_free(s, FALSE);
}

/* The object path: type:prop(.prop|.'quoted'|[n])*, as written. */
static char *object_path(struct pparser *pp)
{
	const char *start;

	skip_ws(pp);
	start = pp->p;
	/* strchr() finds the terminating NUL too: test it first. */
	while (*pp->p != '\0' && (g_ascii_isalnum(*pp->p) || strchr("-_:.[]*'", *pp->p) != NULL)) {
		if (*pp->p == '\'') {
			for (pp->p++; *pp->p != '\0' && *pp->p != '\''; pp->p++)
				;
			if (*pp->p == '\0') {
				perror_at(pp, "unterminated property name");
				return NULL;
			}
		}
		pp->p++;
	}
	if (pp->p == start || memchr(start, ':', (size_t)(pp->p - start)) == NULL) {
		perror_at(pp, "expected an object path");
		return NULL;
	}
	return mc_xstrndup(start, (size_t)(pp->p - start));
}

/* The type a path compares, or false. */
static bool path_type(const char *path, enum mc_ioc_type *type_r)
{
	static const struct { const char *path; enum mc_ioc_type type; } map[] = {
		{ "file:hashes.MD5", IOC_MD5 }, { "file:hashes.'MD5'", IOC_MD5 },
		{ "file:hashes.'SHA-1'", IOC_SHA1 }, { "file:hashes.SHA1", IOC_SHA1 },
		{ "file:hashes.'SHA1'", IOC_SHA1 },
		{ "file:hashes.'SHA-256'", IOC_SHA256 }, { "file:hashes.SHA256", IOC_SHA256 },
		{ "file:hashes.'SHA256'", IOC_SHA256 },
		{ "url:value", IOC_URL }, { "domain-name:value", IOC_DOMAIN },
		{ "email-addr:value", IOC_EMAIL },
		{ "email-message:from_ref.value", IOC_EMAIL },
		{ "email-message:sender_ref.value", IOC_EMAIL },
		{ "email-message:subject", IOC_SUBJECT },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(map); i++) {
		if (strcmp(map[i].path, path) == 0) {
			*type_r = map[i].type;
			return true;
		}
	}
	return false;
}

/* Any literal (string, number, bool, t'', h'', b''), skipped. */
static bool skip_literal(struct pparser *pp)
{
	skip_ws(pp);
	if ((*pp->p == 't' || *pp->p == 'h' || *pp->p == 'b') && pp->p[1] == '\'')
		pp->p++;
	if (*pp->p == '\'') {
		char *s = string_lit(pp);
		free(s);
		return s != NULL;
	}
	if (keyword(pp, "true") || keyword(pp, "false"))
		return true;
	const char *start = pp->p;
	while (g_ascii_isdigit(*pp->p) || *pp->p == '.' || *pp->p == '-' || *pp->p == '+')
		pp->p++;
	if (pp->p == start) {
		perror_at(pp, "expected a value");
		return false;
	}
	return true;
}

/* Note that MSG (about PATH, or "") was left out. */
static void note(struct pparser *pp, const char *path, const char *msg)
{
	if (pp->notes->len < 8)
		g_ptr_array_add(pp->notes, g_strdup_printf("%s%s%s", path,
							   *path != '\0' ? ": " : "", msg));
}

static struct dnf unknown(void)
{
	struct dnf d = { NULL, 0, true };
	return d;
}

static struct dnf single(struct pparser *pp, enum mc_ioc_type type, char *value)
{
	struct dnf d = { mc_xcalloc(1, sizeof(struct conj)), 1, false };

	g_ptr_array_add(pp->values, value);
	d.v[0].c[0].type = type;
	d.v[0].c[0].value = value;
	d.v[0].n = 1;
	return d;
}

/* What A op B is when one of them is unknown (left out): the other.
   Sets *r_r and returns true then. */
static bool one_unknown(struct dnf *a, struct dnf *b, struct dnf *r_r)
{
	if (a->unknown) {
		dnf_free(a);
		*r_r = *b;
		return true;
	}
	if (b->unknown) {
		dnf_free(b);
		*r_r = *a;
		return true;
	}
	return false;
}

static struct dnf dnf_or(struct pparser *pp, struct dnf a, struct dnf b)
{
	struct dnf r;

	if (one_unknown(&a, &b, &r))
		return r;
	if (a.n + b.n > DNF_MAX) {
		pp->overflow = true;
		dnf_free(&b);
		return a;
	}
	a.v = mc_xrealloc(a.v, (a.n + b.n) * sizeof(*a.v));
	memcpy(a.v + a.n, b.v, b.n * sizeof(*b.v));
	a.n += b.n;
	free(b.v);
	return a;
}

static struct dnf dnf_and(struct pparser *pp, struct dnf a, struct dnf b)
{
	struct dnf r = { NULL, 0, false };

	if (one_unknown(&a, &b, &r))
		return r;
	if (a.n * b.n > DNF_MAX) {
		pp->overflow = true;
		dnf_free(&b);
		return a;
	}
	r.v = mc_xcalloc(a.n * b.n, sizeof(*r.v));
	for (size_t i = 0; i < a.n; i++) {
		for (size_t k = 0; k < b.n; k++) {
			struct conj *c = &r.v[r.n];
			if (a.v[i].n + b.v[k].n > CONJ_MAX) {
				pp->overflow = true;
				continue;
			}
			*c = a.v[i];
			memcpy(c->c + c->n, b.v[k].c, b.v[k].n * sizeof(b.v[k].c[0]));
			c->n += b.v[k].n;
			r.n++;
		}
	}
	dnf_free(&a);
	dnf_free(&b);
	return r;
}

static struct dnf cmp_or(struct pparser *pp);

/* One comparison, or a parenthesised comparison expression. */
static struct dnf comparison(struct pparser *pp)
{
	enum mc_ioc_type type = IOC_URL;
	struct dnf r = unknown();
	bool negated = false, known;
	char *path;

	if (punct(pp, '(')) {
		if (++pp->depth > PATTERN_DEPTH) {
			perror_at(pp, "nested too deeply");
			return r;
		}
		r = cmp_or(pp);
		pp->depth--;
		if (!punct(pp, ')'))
			perror_at(pp, "expected ')'");
		return r;
	}
	if (keyword(pp, "EXISTS")) {
		free(object_path(pp));
		note(pp, "", "EXISTS is not evaluated");
		return r;
	}
	if ((path = object_path(pp)) == NULL)
		return r;
	known = path_type(path, &type);
	if (keyword(pp, "NOT"))
		negated = true;
	skip_ws(pp);
	if (punct(pp, '=')) {
		char *v = string_lit(pp);
		if (v == NULL) {
			if (pp->error == NULL && skip_literal(pp))
				note(pp, path, "a value that is not a string");
		} else if (!known || negated) {
			note(pp, path, negated ? "NOT is not evaluated" :
			     "this property is not evaluated");
			free(v);
		} else {
			r = single(pp, type, v);
		}
	} else if (keyword(pp, "IN")) {
		if (!punct(pp, '('))
			perror_at(pp, "expected '(' after IN");
		do {
			char *v = string_lit(pp);
			if (v == NULL) {
				if (pp->error == NULL)
					skip_literal(pp);
			} else if (known && !negated) {
				r = dnf_or(pp, r, single(pp, type, v));
			} else {
				free(v);
			}
		} while (pp->error == NULL && punct(pp, ','));
		if (!punct(pp, ')'))
			perror_at(pp, "expected ')' after the IN list");
		if (!known || negated)
			note(pp, path, "not evaluated");
	} else {
		/* !=, <, >, LIKE, MATCHES, ISSUBSET, ISSUPERSET */
		static const char *const ops[] = { "!=", "<=", ">=", "<", ">" };
		bool op = false;
		for (size_t i = 0; i < G_N_ELEMENTS(ops) && !op; i++) {
			skip_ws(pp);
			if (strncmp(pp->p, ops[i], strlen(ops[i])) == 0) {
				pp->p += strlen(ops[i]);
				op = true;
			}
		}
		op = op || keyword(pp, "LIKE") || keyword(pp, "MATCHES") ||
			keyword(pp, "ISSUBSET") || keyword(pp, "ISSUPERSET");
		if (!op)
			perror_at(pp, "expected a comparison operator");
		else if (skip_literal(pp))
			note(pp, path, "only = and IN are evaluated");
	}
	free(path);
	return r;
}

/* OPERAND, then more joined by keyword KW and combined by JOIN. */
static struct dnf chain(struct pparser *pp, struct dnf (*operand)(struct pparser *),
			const char *kw,
			struct dnf (*join)(struct pparser *, struct dnf, struct dnf))
{
	struct dnf r = operand(pp);

	while (pp->error == NULL && keyword(pp, kw))
		r = join(pp, r, operand(pp));
	return r;
}

static struct dnf cmp_and(struct pparser *pp)
{
	return chain(pp, comparison, "AND", dnf_and);
}

static struct dnf cmp_or(struct pparser *pp)
{
	return chain(pp, cmp_and, "OR", dnf_or);
}

static void qualifiers(struct pparser *pp)
{
	for (;;) {
		if (keyword(pp, "WITHIN")) {
			skip_literal(pp);
			if (!keyword(pp, "SECONDS"))
				perror_at(pp, "expected SECONDS");
		} else if (keyword(pp, "REPEATS")) {
			skip_literal(pp);
			if (!keyword(pp, "TIMES"))
				perror_at(pp, "expected TIMES");
		} else if (keyword(pp, "START")) {
			skip_literal(pp);
			if (!keyword(pp, "STOP"))
				perror_at(pp, "expected STOP");
			skip_literal(pp);
		} else {
			return;
		}
		note(pp, "", "qualifiers are ignored");
	}
}

static struct dnf obs_or(struct pparser *pp);

static struct dnf observation(struct pparser *pp)
{
	struct dnf r = unknown();

	if (++pp->depth > PATTERN_DEPTH) {
		perror_at(pp, "nested too deeply");
		return r;
	}
	if (punct(pp, '[')) {
		r = cmp_or(pp);
		if (pp->error == NULL && !punct(pp, ']'))
			perror_at(pp, "expected ']'");
	} else if (punct(pp, '(')) {
		r = obs_or(pp);
		if (pp->error == NULL && !punct(pp, ')'))
			perror_at(pp, "expected ')'");
	} else {
		perror_at(pp, "expected '[' or '('");
	}
	pp->depth--;
	if (pp->error == NULL)
		qualifiers(pp);
	return r;
}

static struct dnf obs_and(struct pparser *pp)
{
	struct dnf r = observation(pp);

	while (pp->error == NULL) {
		if (keyword(pp, "FOLLOWEDBY"))
			note(pp, "", "FOLLOWEDBY is read as AND");
		else if (!keyword(pp, "AND"))
			break;
		r = dnf_and(pp, r, observation(pp));
	}
	return r;
}

static struct dnf obs_or(struct pparser *pp)
{
	return chain(pp, obs_and, "OR", dnf_or);
}

/* ------------------------------------------------------------------ */
/* Bundles                                                            */
/* ------------------------------------------------------------------ */

bool mc_ioc_is_stix(json_object *root)
{
	const char *t = mc_ioc_jstr(root, "type");

	return t != NULL && strcmp(t, "bundle") == 0;
}

/* RFC 3339 time of S, or -1. */
static time_t stix_time(const char *s)
{
	GDateTime *dt = s != NULL ? g_date_time_new_from_iso8601(s, NULL) : NULL;
	time_t t;

	if (dt == NULL)
		return -1;
	t = (time_t)g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return t;
}

/* Each object id that a report or grouping lists -> that report
   (the first). One pass, so a bundle of many indicators stays linear. */
static GHashTable *reports_index(json_object *objects)
{
	GHashTable *h = g_hash_table_new(g_str_hash, g_str_equal);

	for (size_t i = 0; i < json_object_array_length(objects); i++) {
		json_object *o = json_object_array_get_idx(objects, i), *refs;
		const char *t = mc_ioc_jstr(o, "type");
		if (t == NULL || (strcmp(t, "report") != 0 && strcmp(t, "grouping") != 0) ||
		    !json_object_object_get_ex(o, "object_refs", &refs) ||
		    !json_object_is_type(refs, json_type_array))
			continue;
		for (size_t k = 0; k < json_object_array_length(refs); k++) {
			json_object *r = json_object_array_get_idx(refs, k);
			if (json_object_is_type(r, json_type_string) &&
			    !g_hash_table_contains(h, json_object_get_string(r)))
				g_hash_table_insert(h, (gpointer)json_object_get_string(r), o);
		}
	}
	return h;
}

static void indicator(struct mc_ioc_load *l, json_object *ind, GHashTable *reports,
		      const char *bundle_id, time_t now)
{
	const char *id = mc_ioc_jstr(ind, "id"), *pattern = mc_ioc_jstr(ind, "pattern");
	const char *ptype = mc_ioc_jstr(ind, "pattern_type"), *until;
	struct pparser pp;
	struct mc_ioc_meta meta;
	json_object *v, *report;
	struct dnf d;

	if (id == NULL)
		id = "?";
	if (json_object_object_get_ex(ind, "revoked", &v) && json_object_get_boolean(v)) {
		mc_ioc_skip(l, "%.80s: revoked", id);
		return;
	}
	until = mc_ioc_jstr(ind, "valid_until");
	if (until != NULL && stix_time(until) != -1 && stix_time(until) <= now) {
		mc_ioc_skip(l, "%.80s: expired (valid_until %.40s)", id, until);
		return;
	}
	if (ptype != NULL && strcmp(ptype, "stix") != 0) {
		mc_ioc_skip(l, "%.80s: pattern_type '%.20s' is not read", id, ptype);
		return;
	}
	if (pattern == NULL) {
		mc_ioc_skip(l, "%.80s: no pattern", id);
		return;
	}
	memset(&pp, 0, sizeof(pp));
	pp.s = pp.p = pattern;
	pp.notes = g_ptr_array_new_with_free_func(g_free);
	pp.values = g_ptr_array_new_with_free_func(free);
	d = obs_or(&pp);
	skip_ws(&pp);
	if (pp.error == NULL && *pp.p != '\0')
		perror_at(&pp, "text after the pattern");
	for (guint i = 0; i < pp.notes->len; i++)
		mc_ioc_note(l, "%.80s: %s", id, (const char *)pp.notes->pdata[i]);
	if (pp.overflow)
		mc_ioc_note(l, "%.80s: the pattern expands to too many conjunctions; "
			    "the first are used", id);
	memset(&meta, 0, sizeof(meta));
	meta.id = mc_ioc_intern(l, id);
	meta.name = mc_ioc_intern(l, mc_ioc_jstr(ind, "name"));
	report = g_hash_table_lookup(reports, id);
	meta.event_id = mc_ioc_intern(l, report != NULL ? mc_ioc_jstr(report, "id") : bundle_id);
	meta.event = mc_ioc_intern(l, report != NULL ? mc_ioc_jstr(report, "name") : NULL);
	if (pp.error != NULL)
		mc_ioc_skip(l, "%.80s: pattern: %s", id, pp.error);
	else if (d.unknown || d.n == 0)
		mc_ioc_skip(l, "%.80s: nothing in the pattern can be evaluated", id);
	else
		for (size_t i = 0; i < d.n; i++)
			mc_ioc_add(l, d.v[i].c, d.v[i].n, d.n == 1 && d.v[i].n > 1 ?
				   pattern : d.v[i].c[0].value, &meta);
	free(pp.error);
	dnf_free(&d);
	g_ptr_array_free(pp.notes, TRUE);
	g_ptr_array_free(pp.values, TRUE);
}

int mc_ioc_stix_bundle(struct mc_ioc_load *l, json_object *root, char **error_r)
{
	json_object *objects;
	time_t now = time(NULL);
	GHashTable *reports;

	if (!json_object_object_get_ex(root, "objects", &objects) ||
	    !json_object_is_type(objects, json_type_array))
		return mc_error_set(error_r, "indicator file '%s': a STIX bundle without "
				    "\"objects\"", l->path);
	reports = reports_index(objects);
	for (size_t i = 0; i < json_object_array_length(objects); i++) {
		json_object *o = json_object_array_get_idx(objects, i);
		const char *t = mc_ioc_jstr(o, "type");
		if (t != NULL && strcmp(t, "indicator") == 0)
			indicator(l, o, reports, mc_ioc_jstr(root, "id"), now);
	}
	g_hash_table_destroy(reports);
	return 0;
}
