/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	ioc_match 3
/* SUMMARY
/*	threat-intel indicator sets: matching a message
/* SYNOPSIS
/*	#include "ioc-private.h"
/*
/*	void	mc_ioc_view_init(view, set, msg, facts, parts, nparts, walk_failed)
/*	void	mc_ioc_view_deinit(view)
/*	bool	mc_ioc_match(set, view, &hit)
/*	bool	mc_ioc_set_has(set, type)
/*	size_t	mc_ioc_set_count_not_hashes(set)
/*	char	*mc_ioc_hit_json(set, hit)
/*
/*	#include <mailcure/mailcure.h>
/*
/*	int	mc_ioc_set_match(set, msg, facts, value_r, size, &detail, &why)
/* DESCRIPTION
/*	mc_ioc_view_init() gathers, in the normal forms of ioc.c, what
/*	of a message SET's indicators are compared with, and only
/*	that: the hashes of its parts and of itself (of the types SET
/*	has), its URLs, its From, Sender and Reply-To addresses and
/*	envelope sender, its Subject. view->incomplete tells that the
/*	MIME walk or the URL list was cut short (a limit): a miss is
/*	then not an answer.
/*
/*	mc_ioc_match() finds the first indicator of SET the message
/*	has: one hash-table look-up per hash, URL, sender and subject,
/*	and per label suffix of each URL's host for domains
/*	("a.b.example" looks up itself, "b.example" and "example", so
/*	"example.com" never matches "badexample.com"); then the
/*	conjunctions, each checked against the view.
/*
/*	mc_ioc_set_count_not_hashes() counts the indicators that
/*	compare something a file does not have (a URL, a domain, an
/*	address, a subject): the host scan leaves them out.
/*
/*	mc_ioc_hit_json() is the reason detail of a match: the
/*	indicator's type, id and name, its event's id and title, its
/*	file, and what of the message matched.
/*
/*	mc_ioc_set_match() is the three together for a caller outside
/*	the query (watch): the view of one message, its first match and
/*	that match's detail.
/* SECURITY
/*	A host longer than a DNS name (255 bytes) is not looked up.
/*--*/

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "ioc-private.h"

static const struct mc_ioc *lookup(const struct mc_ioc_set *set,
				   enum mc_ioc_type type, const char *key)
{
	gpointer v = g_hash_table_lookup(set->table[type], key);

	return v != NULL ? &set->iocs[GPOINTER_TO_SIZE(v) - 1] : NULL;
}

bool mc_ioc_set_has(const struct mc_ioc_set *set, enum mc_ioc_type type)
{
	if (g_hash_table_size(set->table[type]) > 0)
		return true;
	for (size_t i = 0; i < set->nconj; i++) {
		const struct mc_ioc *c = &set->iocs[set->conj[i]];
		for (size_t k = 0; k < c->ncmps; k++) {
			if (c->cmps[k].type == type)
				return true;
		}
	}
	return false;
}

static bool is_hash(enum mc_ioc_type type)
{
	return type == IOC_MD5 || type == IOC_SHA1 || type == IOC_SHA256;
}

size_t mc_ioc_set_count_not_hashes(const struct mc_ioc_set *set)
{
	size_t n = 0;

	for (int t = 0; t < IOC_TYPES; t++) {
		if (!is_hash((enum mc_ioc_type)t))
			n += g_hash_table_size(set->table[t]);
	}
	for (size_t i = 0; i < set->nconj; i++) {
		const struct mc_ioc *c = &set->iocs[set->conj[i]];
		bool other = false;
		for (size_t k = 0; k < c->ncmps; k++)
			other |= !is_hash(c->cmps[k].type);
		n += other;
	}
	return n;
}

/* The indicator of HOST (LEN bytes) or of a domain above it. */
static const struct mc_ioc *lookup_host(const struct mc_ioc_set *set,
					const char *host, size_t len)
{
	char buf[256];

	if (len == 0 || len >= sizeof(buf))
		return NULL;
	memcpy(buf, host, len);
	buf[len] = '\0';
	for (char *p = buf; p != NULL; ) {
		const struct mc_ioc *ioc = lookup(set, IOC_DOMAIN, p);
		if (ioc != NULL)
			return ioc;
		p = strchr(p, '.');
		if (p != NULL)
			p++;
	}
	return NULL;
}

/* Whether the message (VIEW) has VALUE of TYPE; *what_r is where. */
static bool view_has(const struct mc_ioc_view *v, enum mc_ioc_type type,
		     const char *value, const char **what_r)
{
	const char *host;
	size_t hlen, vlen;

	enum mc_ioc_type in = type == IOC_DOMAIN ? IOC_URL : type;

	for (size_t i = 0; i < v->count[in]; i++) {
		const char *item = v->items[in][i];
		if (type == IOC_DOMAIN) {
			if (!mc_url_host(item, &host, &hlen))
				continue;
			vlen = strlen(value);
			if (hlen < vlen || memcmp(host + hlen - vlen, value, vlen) != 0 ||
			    (hlen > vlen && host[hlen - vlen - 1] != '.'))
				continue;
		} else if (strcmp(item, value) != 0) {
			continue;
		}
		*what_r = item;
		return true;
	}
	return false;
}

bool mc_ioc_match(const struct mc_ioc_set *set, const struct mc_ioc_view *v,
		  struct mc_ioc_hit *hit_r)
{
	const char *host;
	size_t hlen;

	for (int t = 0; t < IOC_TYPES; t++) {
		if (g_hash_table_size(set->table[t]) == 0 || t == IOC_DOMAIN)
			continue;
		for (size_t i = 0; i < v->count[t]; i++) {
			const struct mc_ioc *ioc = lookup(set, (enum mc_ioc_type)t, v->items[t][i]);
			if (ioc != NULL) {
				hit_r->ioc = ioc;
				hit_r->matched = v->items[t][i];
				return true;
			}
		}
	}
	if (g_hash_table_size(set->table[IOC_DOMAIN]) > 0) {
		/* Domains are matched against the URLs' hosts. */
		for (size_t i = 0; i < v->count[IOC_URL]; i++) {
			const char *u = v->items[IOC_URL][i];
			const struct mc_ioc *ioc;
			if (mc_url_host(u, &host, &hlen) &&
			    (ioc = lookup_host(set, host, hlen)) != NULL) {
				hit_r->ioc = ioc;
				hit_r->matched = u;
				return true;
			}
		}
	}
	for (size_t i = 0; i < set->nconj; i++) {
		const struct mc_ioc *c = &set->iocs[set->conj[i]];
		const char *what = NULL;
		size_t k;
		for (k = 0; k < c->ncmps; k++) {
			enum mc_ioc_type t = c->cmps[k].type;
			const char *w;
			if (!view_has(v, t, c->cmps[k].value, &w))
				break;
			if (what == NULL)
				what = w;
		}
		if (k == c->ncmps) {
			hit_r->ioc = c;
			hit_r->matched = what;
			return true;
		}
	}
	return false;
}

char *mc_ioc_hit_json(const struct mc_ioc_set *set, const struct mc_ioc_hit *hit)
{
	const struct mc_ioc *ioc = hit->ioc;
	json_object *o = json_object_new_object();
	char *text;

	json_object_object_add(o, "type", json_object_new_string(mc_ioc_type_name(ioc->type)));
#define ADD(key, v) if ((v) != NULL) json_object_object_add(o, key, json_object_new_string(v))
	ADD("indicator_id", ioc->meta.id);
	ADD("indicator_name", ioc->meta.name);
	ADD("event_id", ioc->meta.event_id);
	ADD("event", ioc->meta.event);
	ADD("feed", set->feeds[ioc->feed].path);
	ADD("matched", hit->matched);
#undef ADD
	if (ioc->ncmps > 1) {
		json_object *all = json_object_new_array();
		for (size_t i = 0; i < ioc->ncmps; i++) {
			char *s = mc_xasprintf("%s=%s", mc_ioc_type_name(ioc->cmps[i].type),
					       ioc->cmps[i].value);
			json_object_array_add(all, json_object_new_string(s));
			free(s);
		}
		json_object_object_add(o, "all_of", all);
	}
	text = mc_json_text(o);
	json_object_put(o);
	return text;
}

/* ------------------------------------------------------------------ */
/* What of a message is compared                                      */
/* ------------------------------------------------------------------ */

static void view_add(struct mc_ioc_view *v, enum mc_ioc_type type, char *item)
{
	if (item == NULL)
		return;
	v->items[type] = mc_xrealloc(v->items[type],
				     (v->count[type] + 1) * sizeof(char *));
	v->items[type][v->count[type]++] = item;
}

static void view_hash(struct mc_ioc_view *v, enum mc_ioc_type type,
		      const unsigned char *bin, size_t n)
{
	char hex[65];

	mc_hex(bin, n, hex);
	view_add(v, type, mc_xstrdup(hex));
}

static void view_hashes(struct mc_ioc_view *v, const struct mc_ioc_set *set,
			const struct mc_msg *msg, struct mc_facts *facts,
			const struct mc_part *parts, size_t nparts)
{
	bool md5 = mc_ioc_set_has(set, IOC_MD5), sha1 = mc_ioc_set_has(set, IOC_SHA1);
	bool sha256 = mc_ioc_set_has(set, IOC_SHA256);
	unsigned char h[32];
	const void *d = msg->data != NULL ? (const void *)msg->data : "";

	for (size_t i = 0; i < nparts; i++) {
		if (sha256)
			view_hash(v, IOC_SHA256, parts[i].sha256, 32);
		if (md5)
			view_hash(v, IOC_MD5, mc_facts_part_md5(facts, i), 16);
		if (sha1) {
			mc_sha1(parts[i].content != NULL ? (const void *)parts[i].content : "",
				parts[i].content_size, h);
			view_hash(v, IOC_SHA1, h, 20);
		}
	}
	/* The message as a whole, as sha256: and md5: terms do. */
	if (sha256) {
		mc_sha256(d, msg->size, h);
		view_hash(v, IOC_SHA256, h, 32);
	}
	if (md5) {
		mc_md5(d, msg->size, h);
		view_hash(v, IOC_MD5, h, 16);
	}
	if (sha1) {
		mc_sha1(d, msg->size, h);
		view_hash(v, IOC_SHA1, h, 20);
	}
}

void mc_ioc_view_init(struct mc_ioc_view *v, const struct mc_ioc_set *set,
		      const struct mc_msg *msg, struct mc_facts *facts,
		      const struct mc_part *parts, size_t nparts, bool walk_failed)
{
	static const char *const senders[] = { "From", "Sender", "Reply-To" };

	memset(v, 0, sizeof(*v));
	v->incomplete = walk_failed;
	view_hashes(v, set, msg, facts, parts, nparts);
	if (mc_ioc_set_has(set, IOC_URL) || mc_ioc_set_has(set, IOC_DOMAIN)) {
		const char *const *urls;
		const char *why = NULL;
		size_t n;
		if (mc_facts_urls(facts, &urls, &n, &why) < 0) {
			v->incomplete = true;
			v->why = why;
		}
		for (size_t i = 0; i < n; i++)
			view_add(v, IOC_URL, mc_xstrdup(urls[i]));
	}
	if (mc_ioc_set_has(set, IOC_EMAIL)) {
		for (size_t h = 0; h < G_N_ELEMENTS(senders); h++) {
			const struct mc_address *a;
			size_t n = mc_facts_addresses(facts, senders[h], &a);
			for (size_t i = 0; i < n; i++)
				view_add(v, IOC_EMAIL, mc_ioc_normalize(IOC_EMAIL, a[i].addr));
		}
		if (msg->loc.envelope_sender != NULL)
			view_add(v, IOC_EMAIL, mc_ioc_normalize(IOC_EMAIL, msg->loc.envelope_sender));
	}
	if (mc_ioc_set_has(set, IOC_SUBJECT)) {
		const char *const *values;
		size_t n = mc_facts_headers(facts, "Subject", &values);
		for (size_t i = 0; i < n; i++)
			view_add(v, IOC_SUBJECT, mc_ioc_normalize(IOC_SUBJECT, values[i]));
	}
}

void mc_ioc_view_deinit(struct mc_ioc_view *v)
{
	for (int t = 0; t < IOC_TYPES; t++) {
		for (size_t i = 0; i < v->count[t]; i++)
			free(v->items[t][i]);
		free(v->items[t]);
	}
	memset(v, 0, sizeof(*v));
}

int mc_ioc_set_match(const struct mc_ioc_set *set, const struct mc_msg *msg,
		     struct mc_facts *facts, char *value_r, size_t size,
		     char **detail_r, const char **why_r)
{
	const struct mc_part *parts = NULL;
	const char *walk_why = NULL;
	struct mc_ioc_view view;
	struct mc_ioc_hit hit;
	size_t nparts = 0;
	bool walk_failed;
	int ret = 0;

	*detail_r = NULL;
	walk_failed = mc_facts_parts(facts, &parts, &nparts, &walk_why) < 0;
	mc_ioc_view_init(&view, set, msg, facts, parts, nparts, walk_failed);
	if (mc_ioc_match(set, &view, &hit)) {
		snprintf(value_r, size, "%s", hit.ioc->value);
		*detail_r = mc_ioc_hit_json(set, &hit);
		ret = 1;
	} else if (view.incomplete) {
		*why_r = view.why != NULL ? view.why : walk_why != NULL ? walk_why :
			"the message could not be read whole";
		ret = -1;
	}
	mc_ioc_view_deinit(&view);
	return ret;
}
