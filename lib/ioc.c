/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	ioc 3
/* SUMMARY
/*	threat-intel indicator sets: loading and lookup
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	struct mc_ioc_set *mc_ioc_set_new(void)
/*	int	mc_ioc_set_load(set, path, &error)
/*	bool	mc_ioc_is_feed(path)
/*	void	mc_ioc_set_free(&set)
/*
/* DESCRIPTION
/*	An indicator set holds the indicators of one or more files:
/*	attachment hashes (MD5, SHA-1, SHA-256), URLs, domains, sender
/*	addresses and subjects, each with where it came from (its id
/*	and name, its event's id and title, its file).
/*
/*	mc_ioc_set_load() tells the format of PATH by its content: a
/*	directory is a MISP feed (manifest.json and one file per
/*	event), a JSON file a MISP event export or a STIX 2.1 bundle
/*	(ioc_misp.c, ioc_stix.c), any other file CSV with a header row
/*	(ioc_csv.c). mc_ioc_is_feed() tells, from a directory's
/*	manifest.json or a file's first bytes (JSON, or a CSV header
/*	naming known columns), whether mc_ioc_set_load()
/*	reads PATH, or it is a plain list for the query language.
/*
/*	Each value is kept in the normal form its type is compared in:
/*	hashes in lower-case hexadecimal, URLs as mc_url_normalize()
/*	makes them (refanged first), domains as mc_domain_normalize(),
/*	addresses in lower case, subjects case-folded with runs of
/*	white space as one space. An indicator of one comparison is a
/*	hash table entry, so a message costs one look-up per hash, URL,
/*	host label, sender and subject, however many indicators there
/*	are (ioc_match.c); an indicator that is a conjunction (STIX
/*	"[a AND b]") is checked on its own.
/* DIAGNOSTICS
/*	Errors name the file, and for JSON the line and column. What a
/*	reader skips (an attribute not for IDS, a revoked or expired
/*	indicator, a type this version does not match) is counted per
/*	file, with a note for the first few.
/* SECURITY
/*	Indicator files are the administrator's, but their content
/*	comes from outside: sizes and nesting are bounded, JSON must be
/*	valid UTF-8, and every string from a feed is printed through
/*	the output's neutralising helpers only. A feed directory's
/*	event files are opened under the directory without following
/*	links, by names that are checked to be UUIDs.
/*--*/

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib.h>

#include "ioc-private.h"

static const char *const type_names[IOC_TYPES] = {
	"md5", "sha1", "sha256", "url", "domain", "email", "subject",
};

const char *mc_ioc_type_name(enum mc_ioc_type type)
{
	return type < IOC_TYPES ? type_names[type] : "?";
}

bool mc_ioc_type_parse(const char *name, enum mc_ioc_type *type_r)
{
	static const struct { const char *name; enum mc_ioc_type type; } aliases[] = {
		{ "md5", IOC_MD5 }, { "sha1", IOC_SHA1 }, { "sha-1", IOC_SHA1 },
		{ "sha256", IOC_SHA256 }, { "sha-256", IOC_SHA256 },
		{ "url", IOC_URL }, { "uri", IOC_URL }, { "link", IOC_URL },
		{ "domain", IOC_DOMAIN }, { "hostname", IOC_DOMAIN },
		{ "domain-name", IOC_DOMAIN },
		{ "email", IOC_EMAIL }, { "email-src", IOC_EMAIL },
		{ "email-addr", IOC_EMAIL }, { "sender", IOC_EMAIL },
		{ "from", IOC_EMAIL }, { "email-reply-to", IOC_EMAIL },
		{ "subject", IOC_SUBJECT }, { "email-subject", IOC_SUBJECT },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(aliases); i++) {
		if (g_ascii_strcasecmp(aliases[i].name, name) == 0) {
			*type_r = aliases[i].type;
			return true;
		}
	}
	return false;
}

static char *hash_normalize(const char *v, size_t digits)
{
	size_t len = strlen(v);
	char *out;

	while (len > 0 && g_ascii_isspace(v[len - 1]))
		len--;
	while (len > 0 && g_ascii_isspace(*v)) {
		v++;
		len--;
	}
	if (len != digits)
		return NULL;
	out = mc_xstrndup(v, len);
	for (char *c = out; *c != '\0'; c++) {
		if (!g_ascii_isxdigit(*c)) {
			free(out);
			return NULL;
		}
		*c = g_ascii_tolower(*c);
	}
	return out;
}

/* Case-folded, white space runs as one space, trimmed. */
static char *subject_normalize(const char *v)
{
	GString *s = g_string_new(NULL);
	char *folded, *out;
	bool space = false;

	if (!g_utf8_validate(v, -1, NULL)) {
		g_string_free(s, TRUE);
		return NULL;
	}
	folded = g_utf8_casefold(v, -1);
	for (const char *c = folded; *c != '\0'; c++) {
		if (g_ascii_isspace(*c)) {
			space = s->len > 0;
			continue;
		}
		if (space)
			g_string_append_c(s, ' ');
		space = false;
		g_string_append_c(s, *c);
	}
	g_free(folded);
	out = s->len > 0 ? mc_xstrdup(s->str) : NULL;
	g_string_free(s, TRUE);
	return out;
}

static char *email_normalize(const char *v)
{
	char *r = mc_ioc_refang(v), *at;

	g_strstrip(r);
	at = strchr(r, '@');
	if (at == NULL || at == r || at[1] == '\0' || strchr(at + 1, '@') != NULL ||
	    strpbrk(r, " \t<>\"") != NULL) {
		free(r);
		return NULL;
	}
	for (char *c = r; *c != '\0'; c++)
		*c = g_ascii_tolower(*c);
	return r;
}

char *mc_ioc_normalize(enum mc_ioc_type type, const char *value)
{
	switch (type) {
	case IOC_MD5:
		return hash_normalize(value, 32);
	case IOC_SHA1:
		return hash_normalize(value, 40);
	case IOC_SHA256:
		return hash_normalize(value, 64);
	case IOC_URL: {
		char *r = mc_ioc_refang(value), *n;
		g_strstrip(r);
		n = strstr(r, "://") != NULL ? mc_url_normalize(r, strlen(r)) : NULL;
		free(r);
		return n;
	}
	case IOC_DOMAIN:
		return mc_domain_normalize(value);
	case IOC_EMAIL:
		return email_normalize(value);
	case IOC_SUBJECT:
		return subject_normalize(value);
	case IOC_TYPES:
		break;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The set                                                            */
/* ------------------------------------------------------------------ */

struct mc_ioc_set *mc_ioc_set_new(void)
{
	struct mc_ioc_set *set = mc_xcalloc(1, sizeof(*set));

	for (int t = 0; t < IOC_TYPES; t++)
		set->table[t] = g_hash_table_new(g_str_hash, g_str_equal);
	set->strings = g_string_chunk_new(65536);
	return set;
}

void mc_ioc_set_free(struct mc_ioc_set **setp)
{
	struct mc_ioc_set *set = *setp;

	if (set == NULL)
		return;
	for (int t = 0; t < IOC_TYPES; t++)
		g_hash_table_destroy(set->table[t]);
	for (size_t i = 0; i < set->count; i++)
		free(set->iocs[i].cmps);
	free(set->iocs);
	free(set->conj);
	for (size_t i = 0; i < set->nfeeds; i++) {
		free(set->feeds[i].path);
		for (size_t k = 0; k < set->feeds[i].note_count; k++)
			free(set->feeds[i].notes[k]);
		free(set->feeds[i].notes);
	}
	free(set->feeds);
	g_string_chunk_free(set->strings);
	free(set);
	*setp = NULL;
}

size_t mc_ioc_set_count(const struct mc_ioc_set *set)
{
	return set->count;
}

size_t mc_ioc_set_feeds(const struct mc_ioc_set *set,
			const struct mc_ioc_feed **feeds_r)
{
	*feeds_r = set->feeds;
	return set->nfeeds;
}

const char *mc_ioc_intern(struct mc_ioc_load *l, const char *s)
{
	if (s == NULL || *s == '\0')
		return NULL;
	return g_string_chunk_insert_const(l->set->strings, s);
}

static void note_add(struct mc_ioc_load *l, const char *fmt, va_list ap)
{
	struct mc_ioc_feed *f = l->feed;
	char *msg;

	if (f->note_count >= MC_IOC_NOTES_MAX)
		return;
	msg = g_strdup_vprintf(fmt, ap);
	f->notes = mc_xrealloc(f->notes, (f->note_count + 1) * sizeof(*f->notes));
	f->notes[f->note_count++] = mc_xstrdup(msg);
	g_free(msg);
}

void mc_ioc_note(struct mc_ioc_load *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note_add(l, fmt, ap);
	va_end(ap);
}

void mc_ioc_skip(struct mc_ioc_load *l, const char *fmt, ...)
{
	va_list ap;

	l->feed->skipped++;
	va_start(ap, fmt);
	note_add(l, fmt, ap);
	va_end(ap);
}

bool mc_ioc_add(struct mc_ioc_load *l, const struct mc_ioc_cmp *cmps,
		size_t ncmps, const char *value, const struct mc_ioc_meta *meta)
{
	struct mc_ioc_set *set = l->set;
	struct mc_ioc ioc;
	const char *norm[16];

	if (ncmps == 0 || ncmps > G_N_ELEMENTS(norm))
		return false;
	for (size_t i = 0; i < ncmps; i++) {
		char *n = mc_ioc_normalize(cmps[i].type, cmps[i].value);
		if (n == NULL) {
			mc_ioc_skip(l, "not a valid %s: '%.80s'",
				    mc_ioc_type_name(cmps[i].type), cmps[i].value);
			return false;
		}
		norm[i] = g_string_chunk_insert_const(set->strings, n);
		free(n);
	}
	memset(&ioc, 0, sizeof(ioc));
	ioc.type = cmps[0].type;
	ioc.value = mc_ioc_intern(l, value != NULL ? value : cmps[0].value);
	if (meta != NULL)
		ioc.meta = *meta;
	ioc.feed = l->feed_index;
	if (ncmps > 1) {
		ioc.cmps = mc_xcalloc(ncmps, sizeof(*ioc.cmps));
		for (size_t i = 0; i < ncmps; i++) {
			ioc.cmps[i].type = cmps[i].type;
			ioc.cmps[i].value = norm[i];
		}
		ioc.ncmps = ncmps;
		MC_ARRAY_PUSH(set->conj, set->nconj, set->capconj, set->count);
	} else if (g_hash_table_contains(set->table[ioc.type], norm[0])) {
		/* The first keeps its event; a duplicate still counts. */
		l->feed->loaded++;
		return true;
	} else {
		g_hash_table_insert(set->table[ioc.type], (gpointer)norm[0],
				    GSIZE_TO_POINTER(set->count + 1));
	}
	MC_ARRAY_PUSH(set->iocs, set->count, set->cap, ioc);
	l->feed->loaded++;
	return true;
}

/* ------------------------------------------------------------------ */
/* Files                                                              */
/* ------------------------------------------------------------------ */

int mc_ioc_read_file(int dirfd, const char *name, const char *shown,
		     char **data_r, size_t *len_r, char **error_r)
{
	char *error = NULL;
	unsigned char *buf;
	int fd = mc_safe_open_file(dirfd, name, false, NULL, &error);

	if (fd < 0) {
		mc_error_set(error_r, "indicator file '%s': %s", shown,
			     error != NULL ? error : "cannot open");
		free(error);
		return -1;
	}
	if (mc_read_fd(fd, MC_IOC_FILE_MAX, &buf, len_r, &error) < 0) {
		mc_error_set(error_r, "indicator file '%s': %s", shown, error);
		free(error);
		close(fd);
		return -1;
	}
	close(fd);
	*data_r = (char *)buf;
	return 0;
}

json_object *mc_ioc_parse_json(const char *path, const char *data, size_t len,
			       char **error_r)
{
	struct json_tokener *tok = json_tokener_new_ex(MC_IOC_JSON_DEPTH);
	json_object *root;
	enum json_tokener_error jerr;
	size_t end, line = 1, col = 1;

	if (len > INT32_MAX) {
		json_tokener_free(tok);
		mc_error_set(error_r, "indicator file '%s': too large", path);
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, data, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (root != NULL && jerr == json_tokener_success) {
		/* Only white space may follow the value. */
		while (end < len && g_ascii_isspace(data[end]))
			end++;
		if (end == len) {
			json_tokener_free(tok);
			return root;
		}
		json_object_put(root);
		root = NULL;
	}
	for (size_t i = 0; i < end && i < len; i++) {
		if (data[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	mc_error_set(error_r, "indicator file '%s': line %zu, column %zu: %s", path,
		     line, col, jerr == json_tokener_success ? "text after the JSON value" :
		     jerr == json_tokener_continue ? "unexpected end of file" :
		     json_tokener_error_desc(jerr));
	json_object_put(root);
	json_tokener_free(tok);
	return NULL;
}

json_object *mc_ioc_read_json(int dirfd, const char *name, const char *shown,
			      char **error_r)
{
	json_object *root;
	char *data;
	size_t len;

	if (mc_ioc_read_file(dirfd, name, shown, &data, &len, error_r) < 0)
		return NULL;
	root = mc_ioc_parse_json(shown, data, len, error_r);
	free(data);
	return root;
}

const char *mc_ioc_jstr(json_object *obj, const char *key)
{
	json_object *v;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v))
		return NULL;
	if (json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_int))
		return json_object_get_string(v);
	return NULL;
}

static bool starts_json(const char *data, size_t len)
{
	size_t i = 0;

	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && g_ascii_isspace(data[i]))
		i++;
	return i < len && (data[i] == '{' || data[i] == '[');
}

bool mc_ioc_is_feed(const char *path)
{
	struct stat st;
	char buf[4096];
	ssize_t n;
	int fd;

	if (stat(path, &st) < 0)
		return false;
	if (S_ISDIR(st.st_mode)) {
		char *m = mc_xasprintf("%s/manifest.json", path);
		bool feed = access(m, F_OK) == 0;
		free(m);
		return feed;
	}
	if (!S_ISREG(st.st_mode) || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (starts_json(buf, (size_t)n))
		return true;
	/* CSV: a header row that names columns we know. */
	char *eol = strpbrk(buf, "\r\n");
	if (eol != NULL)
		*eol = '\0';
	return strchr(buf, ',') != NULL && (strstr(buf, "value") != NULL ||
					   strstr(buf, "type") != NULL ||
					   strstr(buf, "sha256") != NULL ||
					   strstr(buf, "md5") != NULL ||
					   strstr(buf, "domain") != NULL ||
					   strstr(buf, "url") != NULL);
}

static struct mc_ioc_feed *feed_add(struct mc_ioc_set *set, const char *path)
{
	struct mc_ioc_feed f;

	memset(&f, 0, sizeof(f));
	f.path = mc_xstrdup(path);
	MC_ARRAY_PUSH(set->feeds, set->nfeeds, set->capfeeds, f);
	return &set->feeds[set->nfeeds - 1];
}

/* The indicators of DATA, by its format. */
static int load_data(struct mc_ioc_load *l, const char *data, size_t len,
		     char **error_r)
{
	json_object *root;
	int ret;

	if (!starts_json(data, len)) {
		l->feed->format = "csv";
		return mc_ioc_csv(l, data, len, error_r);
	}
	if ((root = mc_ioc_parse_json(l->path, data, len, error_r)) == NULL)
		return -1;
	if (mc_ioc_is_stix(root)) {
		l->feed->format = "stix";
		ret = mc_ioc_stix_bundle(l, root, error_r);
	} else {
		l->feed->format = "misp";
		ret = mc_ioc_misp_event(l, root, error_r);
	}
	json_object_put(root);
	return ret;
}

static void load_init(struct mc_ioc_load *l, struct mc_ioc_set *set, const char *path)
{
	memset(l, 0, sizeof(*l));
	l->set = set;
	l->path = path;
	l->feed = feed_add(set, path);
	l->feed_index = (unsigned)(set->nfeeds - 1);
}

int mc_ioc_set_load_data(struct mc_ioc_set *set, const char *name,
			 const char *data, size_t len, char **error_r)
{
	struct mc_ioc_load l;

	load_init(&l, set, name);
	return load_data(&l, data, len, error_r);
}

int mc_ioc_set_load(struct mc_ioc_set *set, const char *path, char **error_r)
{
	struct mc_ioc_load l;
	struct stat st;
	int ret;

	if (stat(path, &st) < 0)
		return mc_error_errno(error_r, "indicator file '%s'", path);
	load_init(&l, set, path);
	if (S_ISDIR(st.st_mode)) {
		char *error = NULL;
		int dirfd = mc_safe_open_dir(AT_FDCWD, path, NULL, &error);
		if (dirfd < 0) {
			mc_error_set(error_r, "MISP feed '%s': %s", path, error);
			free(error);
			return -1;
		}
		l.feed->format = "misp-feed";
		ret = mc_ioc_misp_feed(&l, dirfd, error_r);
		close(dirfd);
	} else {
		char *data;
		size_t len;
		if ((ret = mc_ioc_read_file(AT_FDCWD, path, path, &data, &len, error_r)) == 0) {
			ret = load_data(&l, data, len, error_r);
			free(data);
		}
	}
	if (ret == 0 && l.feed->loaded == 0 && l.feed->skipped == 0)
		ret = mc_error_set(error_r, "indicator file '%s': no indicators found", path);
	return ret;
}

bool mc_ioc_set_add_domain(struct mc_ioc_set *set, const char *name)
{
	struct mc_ioc_load l;
	struct mc_ioc_cmp cmp = { IOC_DOMAIN, name };

	memset(&l, 0, sizeof(l));
	l.set = set;
	if (set->nfeeds == 0)
		feed_add(set, "");
	l.feed = &set->feeds[0];
	return mc_ioc_add(&l, &cmp, 1, name, NULL);
}
