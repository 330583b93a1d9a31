/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	query_term 3
/* SUMMARY
/*	the query language: one term from its word, indicator lists
/* SYNOPSIS
/*	#include "query-private.h"
/*
/*	struct node *mc_query_term_parse(text, key_limit, where, &error)
/*	struct node *mc_query_indicators_load(path, where, &error)
/*	struct node *mc_query_feed_load(path, &error)
/*	int	mc_query_term_error(where, &error, fmt, ...)
/*	const char *mc_query_term_key(kind)
/*	int	mc_query_term_level(kind)
/* DESCRIPTION
/*	mc_query_term_parse() turns one word of a query (KEY:VALUE,
/*	size>N, virus, all; a bare hash in an indicator list) into a
/*	term node. The keys are the rows of terms[]: each names its
/*	kind, how it takes its value, and the parser that fills in the
/*	node from the value. The checks every key shares (a value
/*	given, not empty, after a colon) are made once, before the
/*	parser runs. To add a term: a kind in query-private.h, a row
/*	and a parser here, its level in mc_query_term_level(), and its
/*	case in eval_term() (query_eval.c).
/*
/*	mc_query_indicators_load() reads an @FILE indicator list: each
/*	non-empty line not starting with # is one term, and the terms
/*	are ORed, with the hashes among them gathered into one sorted
/*	set and many domain: terms into one hash set (ioc.c). A file
/*	that mc_ioc_is_feed() (a MISP or STIX JSON file, a MISP feed
/*	directory, CSV with a header) is read by mc_query_feed_load()
/*	into one T_IOC term instead.
/* DIAGNOSTICS
/*	Errors name the term as written and its position in the query,
/*	or the indicator file and line (mc_query_term_error).
/* SECURITY
/*	An indicator file is opened by the administrator's own path;
/*	directories and devices (an endless /dev/zero) are refused, and
/*	a file cannot include another.
/*--*/

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <glib.h>

#include "query-private.h"

/* ------------------------------------------------------------------ */
/* Terms                                                              */
/* ------------------------------------------------------------------ */

int mc_query_term_error(const struct where *w, char **error_r,
			const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->file != NULL)
		return mc_error_set(error_r, "query: %s:%zu: %s (%s)", w->file,
				    w->line, msg, w->raw);
	/* "subject:two words" typed in a shell loses its quotes; the
	   second word then stands alone. */
	if (w->after_value && strncmp(msg, "unknown term", 12) == 0)
		return mc_error_set(error_r, "query: %s at position %zu (%s); a value with "
				    "spaces needs quotes, as in 'subject:\"two words\"'",
				    msg, w->pos, w->raw);
	return mc_error_set(error_r, "query: %s at position %zu (%s)", msg,
			    w->pos, w->raw);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = g_ascii_tolower((gchar)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool parse_hex(const char *s, unsigned char *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval((unsigned char)s[2 * i]);
		int lo = hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

static bool parse_size(const char *s, uint64_t *size_r)
{
	uint64_t v = 0, mult = 1;

	if (!g_ascii_isdigit(*s))
		return false;
	for (; g_ascii_isdigit(*s); s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	switch (*s) {
	case 'k': case 'K': mult = 1ULL << 10; s++; break;
	case 'm': case 'M': mult = 1ULL << 20; s++; break;
	case 'g': case 'G': mult = 1ULL << 30; s++; break;
	}
	if (*s == 'b' || *s == 'B')
		s++;
	if (*s != '\0' || (v != 0 && v > UINT64_MAX / mult))
		return false;
	*size_r = v * mult;
	return true;
}

static bool is_key_char(unsigned char c)
{
	return g_ascii_isalnum((gchar)c) || c == '-';
}

static bool all_hex(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!g_ascii_isxdigit(*s))
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* One parser per key                                                 */
/* ------------------------------------------------------------------ */

/* How a key takes its value; the checks are common to all keys. */
enum term_value {
	TV_REQUIRED,		/* KEY:VALUE, VALUE not empty */
	TV_EMPTY_OK,		/* KEY:VALUE, VALUE may be empty */
	TV_OPTIONAL,		/* KEY or KEY:VALUE, VALUE not empty */
	TV_NONE,		/* KEY alone */
	TV_COMPARE,		/* KEY>N, KEY<=N, KEY:>N...: the parser reads it */
};

struct term_arg {
	const char *key;	/* lower case */
	const char *value;	/* after "KEY:", or NULL; TV_COMPARE: after KEY */
	const struct where *w;
	char **error_r;
};

/* Fill in term T (its kind set) from A. Returns 0, or -1 with the
   error set; the caller frees T. */
typedef int term_parser(struct node *t, const struct term_arg *a);

/* virus and yara, with an optional glob */
static int term_virus(struct node *t, const struct term_arg *a)
{
	if (a->value != NULL) {
		t->value = mc_xstrdup(a->value);
		t->glob = mc_query_has_glob_chars(a->value);
	}
	return 0;
}

/* from:, to:, cc:, attachment: */
static int term_glob(struct node *t, const struct term_arg *a)
{
	t->value = mc_xstrdup(a->value);
	t->glob = mc_query_has_glob_chars(a->value);
	t->literal = mc_query_glob_literal(a->value, t->glob);
	return 0;
}

/* subject:, message-id:, body: */
static int term_text(struct node *t, const struct term_arg *a)
{
	t->value = mc_xstrdup(a->value);
	mc_query_needle_init(&t->nd, a->value);
	return 0;
}

static int term_header(struct node *t, const struct term_arg *a)
{
	const char *value = a->value;
	const char *colon = strchr(value, ':');
	size_t nlen = colon != NULL ? (size_t)(colon - value) : strlen(value);
	bool ok = nlen > 0;

	for (size_t i = 0; i < nlen; i++) {
		unsigned char c = (unsigned char)value[i];
		if (c <= 32 || c >= 127)
			ok = false;
	}
	if (!ok)
		return mc_query_term_error(a->w, a->error_r,
			"header needs a field name, as in header:NAME:TEXT");
	t->hname = mc_xstrndup(value, nlen);
	t->value = mc_xstrdup(colon != NULL ? colon + 1 : "");
	mc_query_needle_init(&t->nd, t->value);
	return 0;
}

/* sha256:, md5: */
static int term_hash(struct node *t, const struct term_arg *a)
{
	size_t n = t->kind == T_SHA256 ? 32 : 16;

	if (!parse_hex(a->value, t->hash, n))
		return mc_query_term_error(a->w, a->error_r,
			"a %s is %zu hexadecimal digits", a->key, 2 * n);
	t->value = mc_xstrdup(a->value);
	for (char *c = t->value; *c != '\0'; c++)
		*c = g_ascii_tolower(*c);
	return 0;
}

/* since:, before: */
static int term_date(struct node *t, const struct term_arg *a)
{
	if (!mc_date_parse(a->value, &t->date, &t->date_time))
		return mc_query_term_error(a->w, a->error_r,
			"bad date '%s' (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, UTC)", a->value);
	return 0;
}

static int term_date_none(struct node *t, const struct term_arg *a)
{
	if (g_ascii_strcasecmp(a->value, "none") != 0)
		return mc_query_term_error(a->w, a->error_r,
			"date: takes 'none' (a message without a usable Date); "
			"since: and before: compare dates");
	t->value = mc_xstrdup("none");
	return 0;
}

/* size>N, size<N, size>=N, size<=N, size=N; also size:>N */
static int term_size(struct node *t, const struct term_arg *a)
{
	const char *s = a->value;

	if (*s == ':')
		s++;
	if (s[0] == '>' && s[1] == '=') { t->op = SZ_GE; s += 2; }
	else if (s[0] == '<' && s[1] == '=') { t->op = SZ_LE; s += 2; }
	else if (s[0] == '>') { t->op = SZ_GT; s++; }
	else if (s[0] == '<') { t->op = SZ_LT; s++; }
	else if (s[0] == '=') { t->op = SZ_EQ; s++; }
	else
		return mc_query_term_error(a->w, a->error_r,
			"size needs a comparison, as in size>10M");
	if (!parse_size(s, &t->size))
		return mc_query_term_error(a->w, a->error_r,
			"bad size '%s' (a number with an optional k, M or G suffix)", s);
	return 0;
}

/* url:VALUE, refanged; without glob characters, a URL is compared in
   its normal form. */
static int term_url(struct node *t, const struct term_arg *a)
{
	char *v = mc_ioc_refang(a->value);

	t->glob = mc_query_has_glob_chars(v);
	if (!t->glob && strstr(v, "://") != NULL) {
		char *n = mc_url_normalize(v, strlen(v));
		free(v);
		if (n == NULL)
			return mc_query_term_error(a->w, a->error_r,
				"a url: value is a URL or a glob, as in url:*evil.example/*");
		v = n;
	}
	t->value = v;
	return 0;
}

/* domain:NAME, in the form hosts are compared in. */
static int term_domain(struct node *t, const struct term_arg *a)
{
	if ((t->value = mc_domain_normalize(a->value)) == NULL)
		return mc_query_term_error(a->w, a->error_r,
			"a domain: value is a domain name, as in domain:evil.example");
	return 0;
}

static const struct term_def {
	const char *key;
	enum term_kind kind;
	enum term_value value;
	term_parser *parse;	/* NULL: the key alone says it all */
} terms[] = {
	{ "virus", T_VIRUS, TV_OPTIONAL, term_virus },
	{ "from", T_FROM, TV_REQUIRED, term_glob },
	{ "to", T_TO, TV_REQUIRED, term_glob },
	{ "cc", T_CC, TV_REQUIRED, term_glob },
	{ "subject", T_SUBJECT, TV_REQUIRED, term_text },
	{ "header", T_HEADER, TV_EMPTY_OK, term_header },
	{ "message-id", T_MSGID, TV_REQUIRED, term_text },
	{ "body", T_BODY, TV_REQUIRED, term_text },
	{ "attachment", T_ATTACHMENT, TV_REQUIRED, term_glob },
	{ "sha256", T_SHA256, TV_REQUIRED, term_hash },
	{ "md5", T_MD5, TV_REQUIRED, term_hash },
	{ "size", T_SIZE, TV_COMPARE, term_size },
	{ "since", T_SINCE, TV_REQUIRED, term_date },
	{ "before", T_BEFORE, TV_REQUIRED, term_date },
	{ "date", T_DATE_NONE, TV_REQUIRED, term_date_none },
	{ "all", T_ALL, TV_NONE, NULL },
	{ "url", T_URL, TV_REQUIRED, term_url },
	{ "domain", T_DOMAIN, TV_REQUIRED, term_domain },
	{ "yara", T_YARA, TV_OPTIONAL, term_virus },
	{ "ioc", T_IOCREF, TV_NONE, NULL },
};

static const struct term_def *term_find(const char *key)
{
	for (size_t i = 0; i < sizeof(terms) / sizeof(terms[0]); i++) {
		if (strcmp(terms[i].key, key) == 0)
			return &terms[i];
	}
	return NULL;
}

const char *mc_query_term_key(enum term_kind k)
{
	for (size_t i = 0; i < sizeof(terms) / sizeof(terms[0]); i++) {
		if (terms[i].kind == k)
			return terms[i].key;
	}
	return "?";
}

int mc_query_term_level(enum term_kind k)
{
	switch (k) {
	case T_VIRUS:
		return 3;
	case T_BODY: case T_ATTACHMENT: case T_SHA256: case T_MD5:
	case T_HASHSET: case T_URL: case T_DOMAIN: case T_YARA:
	case T_IOC: case T_IOCREF:
		return 2;
	default:
		return 1;
	}
}

/* ------------------------------------------------------------------ */
/* A term from its word                                               */
/* ------------------------------------------------------------------ */

/* A bare md5 or sha256 in an indicator list, or NULL. */
static struct node *bare_hash(const char *text, const struct where *w)
{
	size_t len = strlen(text);
	struct node *t;

	if (w->file == NULL || (len != 64 && len != 32) || !all_hex(text))
		return NULL;
	t = mc_query_node_new(N_TERM);
	t->kind = len == 64 ? T_SHA256 : T_MD5;
	parse_hex(text, t->hash, len / 2);
	t->value = mc_xstrdup(text);
	return t;
}

/* The checks every key shares, before its parser. */
static int term_value_check(const struct term_def *def, const char *text,
			    char sep, const char *value, const struct where *w,
			    char **error_r)
{
	if (def->value == TV_COMPARE)
		return 0;
	if (sep != '\0' && sep != ':')
		return mc_query_term_error(w, error_r, "unknown term '%s'", text);
	if (def->value == TV_NONE && value != NULL)
		return mc_query_term_error(w, error_r, "'%s' takes no value", def->key);
	if (value == NULL && def->value != TV_OPTIONAL && def->value != TV_NONE)
		return mc_query_term_error(w, error_r, "'%s' needs a value, as in %s:VALUE",
					   def->key, def->key);
	if (value != NULL && *value == '\0' && def->value != TV_EMPTY_OK)
		return mc_query_term_error(w, error_r, "empty value for '%s'", def->key);
	return 0;
}

struct node *mc_query_term_parse(const char *text, size_t key_limit,
				 const struct where *w, char **error_r)
{
	size_t klen = 0;
	char key[32];
	const struct term_def *def;
	const char *value;
	char sep;
	struct node *t;

	while (klen < key_limit && is_key_char((unsigned char)text[klen]))
		klen++;
	sep = klen < key_limit ? text[klen] : (text[klen] == '\0' ? '\0' : '"');
	if (klen == 0 || klen >= sizeof(key) ||
	    (sep != ':' && sep != '\0' && sep != '<' && sep != '>' && sep != '=')) {
		if ((t = bare_hash(text, w)) != NULL)
			return t;
		mc_query_term_error(w, error_r, "unknown term '%s'", text);
		return NULL;
	}
	for (size_t i = 0; i < klen; i++)
		key[i] = g_ascii_tolower(text[i]);
	key[klen] = '\0';
	if ((def = term_find(key)) == NULL) {
		if (sep == '\0') {
			if ((t = bare_hash(text, w)) != NULL)
				return t;
			mc_query_term_error(w, error_r, "unknown term '%s'", text);
		} else {
			mc_query_term_error(w, error_r, "unknown key '%.*s'", (int)klen, text);
		}
		return NULL;
	}
	value = sep == '\0' ? NULL : text + klen + 1;
	if (term_value_check(def, text, sep, value, w, error_r) < 0)
		return NULL;

	struct term_arg a = {
		def->key, def->value == TV_COMPARE ? text + klen : value, w, error_r,
	};
	t = mc_query_node_new(N_TERM);
	t->kind = def->kind;
	if (def->parse != NULL && def->parse(t, &a) < 0) {
		mc_query_node_free(t);
		return NULL;
	}
	return t;
}

/* ------------------------------------------------------------------ */
/* Indicator files                                                    */
/* ------------------------------------------------------------------ */

/* Replace the hash terms of an indicator list by one sorted set, at
   the place of the first of them. */
static void collect_hashes(struct node *group)
{
	struct node *set = NULL;
	size_t out = 0, nsha = 0, nmd5 = 0;

	for (size_t i = 0; i < group->nkids; i++) {
		struct node *k = group->kids[i];
		if (k->type == N_TERM && k->kind == T_SHA256)
			nsha++;
		else if (k->type == N_TERM && k->kind == T_MD5)
			nmd5++;
	}
	if (nsha + nmd5 < 2)
		return;
	for (size_t i = 0; i < group->nkids; i++) {
		struct node *k = group->kids[i];
		if (k->type != N_TERM || (k->kind != T_SHA256 && k->kind != T_MD5)) {
			group->kids[out++] = k;
			continue;
		}
		if (set == NULL) {
			set = mc_query_node_new(N_TERM);
			set->kind = T_HASHSET;
			set->sha256s = mc_xmalloc(nsha * 32 + 1);
			set->md5s = mc_xmalloc(nmd5 * 16 + 1);
			group->kids[out++] = set;
		}
		if (k->kind == T_SHA256)
			memcpy(set->sha256s + 32 * set->nsha256++, k->hash, 32);
		else
			memcpy(set->md5s + 16 * set->nmd5++, k->hash, 16);
		mc_query_node_free(k);
	}
	group->nkids = out;
	qsort(set->sha256s, set->nsha256, 32, mc_query_cmp32);
	qsort(set->md5s, set->nmd5, 16, mc_query_cmp16);
}

/* A plain list with at least this many domain: terms looks them up
   in a hash set (ioc.c): one look-up per host label, not one
   comparison per term. */
#define DOMAIN_SET_MIN 8

/* Replace the domain: terms of an indicator list by one set. */
static void collect_domains(struct node *group)
{
	struct node *set = NULL;
	size_t out = 0, n = 0;

	for (size_t i = 0; i < group->nkids; i++) {
		if (group->kids[i]->type == N_TERM && group->kids[i]->kind == T_DOMAIN)
			n++;
	}
	if (n < DOMAIN_SET_MIN)
		return;
	for (size_t i = 0; i < group->nkids; i++) {
		struct node *k = group->kids[i];
		if (k->type != N_TERM || k->kind != T_DOMAIN) {
			group->kids[out++] = k;
			continue;
		}
		if (set == NULL) {
			set = mc_query_node_new(N_TERM);
			set->kind = T_IOC;
			set->domains_only = true;
			set->ioc = mc_ioc_set_new();
			group->kids[out++] = set;
		}
		mc_ioc_set_add_domain(set->ioc, k->value);
		mc_query_node_free(k);
	}
	group->nkids = out;
}

struct node *mc_query_feed_load(const char *path, char **error_r)
{
	struct node *t = mc_query_node_new(N_TERM);
	char *error = NULL;

	t->kind = T_IOC;
	t->file = mc_xstrdup(path);
	t->ioc = mc_ioc_set_new();
	if (mc_ioc_set_load(t->ioc, path, &error) < 0) {
		mc_error_set(error_r, "query: %s", error);
		free(error);
		mc_query_node_free(t);
		return NULL;
	}
	return t;
}

/* Unquote a whole "..." value of an indicator line in place. */
static void unquote_value(char *v)
{
	size_t len = strlen(v), o = 0;

	if (len < 2 || v[0] != '"' || v[len - 1] != '"')
		return;
	for (size_t i = 1; i + 1 < len; i++) {
		if (v[i] == '\\' && i + 2 < len)
			i++;
		v[o++] = v[i];
	}
	v[o] = '\0';
}

struct node *mc_query_indicators_load(const char *path, const struct where *at,
				      char **error_r)
{
	FILE *fp;
	struct stat st;
	struct node *group;
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;

	if (mc_ioc_is_feed(path))
		return mc_query_feed_load(path, error_r);
	if ((fp = fopen(path, "re")) == NULL) {
		mc_error_errno(error_r, "query: cannot read indicator file '%s'", path);
		return NULL;
	}
	if (fstat(fileno(fp), &st) < 0) {
		mc_error_errno(error_r, "query: cannot read indicator file '%s'", path);
		fclose(fp);
		return NULL;
	}
	if (S_ISDIR(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		/* A device could be endless (/dev/zero). Pipes are fine. */
		mc_error_set(error_r, "query: cannot read indicator file '%s': %s", path,
			     S_ISDIR(st.st_mode) ? "Is a directory" : "not a regular file or pipe");
		fclose(fp);
		return NULL;
	}
	group = mc_query_node_new(N_OR);
	group->file = mc_xstrdup(path);
	errno = 0;
	while ((n = getline(&line, &cap, fp)) >= 0) {
		char *s = line, *e = line + n;
		lineno++;
		while (e > s && mc_query_is_space((unsigned char)e[-1]))
			e--;
		*e = '\0';
		while (mc_query_is_space((unsigned char)*s))
			s++;
		if (*s == '\0' || *s == '#')
			continue;
		struct where w = { path, lineno, 0, s, false };
		char *raw = mc_xstrdup(s);
		w.raw = raw;
		if (*s == '@') {
			mc_query_term_error(&w, error_r, "an indicator file cannot include another");
			free(raw);
			goto fail;
		}
		/* KEY:"value with spaces" or KEY:value with spaces */
		size_t k = 0;
		while (is_key_char((unsigned char)s[k]))
			k++;
		if (s[k] == ':')
			unquote_value(s + k + 1);
		struct node *t = mc_query_term_parse(s, strlen(s), &w, error_r);
		free(raw);
		if (t == NULL)
			goto fail;
		mc_query_node_add(group, t);
	}
	if (ferror(fp)) {
		mc_error_errno(error_r, "query: cannot read indicator file '%s'", path);
		goto fail;
	}
	free(line);
	fclose(fp);
	if (group->nkids == 0) {
		mc_query_node_free(group);
		mc_query_term_error(at, error_r, "indicator file '%s' has no terms", path);
		return NULL;
	}
	group->nterms = group->nkids;
	collect_hashes(group);
	collect_domains(group);
	return group;
fail:
	free(line);
	fclose(fp);
	mc_query_node_free(group);
	return NULL;
}

