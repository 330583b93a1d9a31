/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	query_eval 3
/* SUMMARY
/*	the query language: lazy three-valued evaluation
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	void	mc_query_eval(query, msg, facts, ops, engine, &match)
/*	void	mc_match_clear(&match)
/*	const char *mc_reason_kind_name(kind)
/* DESCRIPTION
/*	mc_query_eval() evaluates a parsed query over one message in
/*	Kleene three-valued logic, one cost level at a time (headers,
/*	then the MIME walk, then the detection engine), as query.c
/*	describes, and collects the reasons of a match.
/*
/*	mc_match_clear() frees what a match holds.
/*
/*	mc_reason_kind_name() names a reason kind as the JSON output
/*	and the reports spell it.
/* SECURITY
/*	All per-message state lives in mc_query_eval's frame; the
/*	query is read-only and shared by the worker threads.
/*--*/

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query-private.h"

enum tri { F = 0, T = 1, U = 2 };

struct eval {
	const struct mc_query *query;
	const struct mc_msg *msg;
	struct mc_facts *facts;
	int phase;		/* highest cost level known */
	bool literals_only;	/* level 2 before the walk: literals only */
	int names_encoded;	/* mc_query_names_may_be_encoded(), -1 = not yet */

	/* level 2 */
	const struct mc_part *parts;
	size_t nparts;
	bool walk_failed;
	const char *walk_why;
	char **norm;		/* per text part, normalized, lazily */
	size_t *norm_len;
	bool msg_hashed;
	unsigned char msg_sha256[32], msg_md5[16];
	struct mc_yara_result *yara;	/* on first use */
	struct ioc_cache {
		const struct mc_ioc_set *set;
		struct mc_ioc_view view;
		bool matched;
		struct mc_ioc_hit hit;
	} *iocs;			/* one per indicator set, on first use */
	size_t niocs;

	/* level 3 */
	bool engine_ran;
	bool no_engine;
	struct mc_verdict verdict;
};

/* What a true term matched, for its reason. */
struct hit {
	enum mc_reason_kind kind;
	const char *value;
	char buf[300];
	char *detail;		/* malloc()ed JSON, or NULL */
};

static enum mc_reason_kind reason_kind(enum term_kind k)
{
	switch (k) {
	case T_VIRUS: return MC_REASON_VIRUS;
	case T_FROM: return MC_REASON_FROM;
	case T_TO: return MC_REASON_TO;
	case T_CC: return MC_REASON_CC;
	case T_SUBJECT: return MC_REASON_SUBJECT;
	case T_HEADER: return MC_REASON_HEADER;
	case T_MSGID: return MC_REASON_MESSAGE_ID;
	case T_BODY: return MC_REASON_BODY;
	case T_ATTACHMENT: return MC_REASON_ATTACHMENT;
	case T_SHA256: return MC_REASON_SHA256;
	case T_MD5: return MC_REASON_MD5;
	case T_SIZE: return MC_REASON_SIZE;
	case T_SINCE: case T_BEFORE: case T_DATE_NONE: return MC_REASON_DATE;
	case T_URL: return MC_REASON_URL;
	case T_DOMAIN: return MC_REASON_DOMAIN;
	case T_YARA: return MC_REASON_YARA;
	case T_IOC: return MC_REASON_IOC;
	case T_ALL: case T_HASHSET: case T_IOCREF: break;
	}
	return MC_REASON_ALL;
}

static enum tri set_hit(struct hit *h, enum mc_reason_kind kind,
			const char *value)
{
	if (h != NULL) {
		h->kind = kind;
		h->value = value;
	}
	return T;
}

/* A mailbox matches by its address, its display name (as IMAP SEARCH
   FROM does), or its address as written, which a broken address
   keeps whole. The reason is what matched, with the address for a
   name. */
static enum tri eval_addresses(struct eval *ev, const struct node *t,
			       const char *header, struct hit *h)
{
	const struct mc_address *addrs;
	size_t n;

	/* Most messages are not from or to whoever is looked for, and
	   telling so from the header value is much cheaper than parsing
	   its addresses. */
	if (t->literal != NULL && !mc_facts_addresses_may_hold(ev->facts, header, t->literal))
		return F;
	n = mc_facts_addresses(ev->facts, header, &addrs);

	for (size_t i = 0; i < n; i++) {
		const struct mc_address *a = &addrs[i];

		if (mc_query_value_match(t, a->addr))
			return set_hit(h, reason_kind(t->kind), a->addr);
		if (a->name != NULL && mc_query_value_match(t, a->name))
			return set_hit(h, reason_kind(t->kind), a->display);
		if (a->raw != NULL && mc_query_value_match(t, a->raw))
			return set_hit(h, reason_kind(t->kind), a->raw);
	}
	return F;
}

static enum tri eval_headers(struct eval *ev, const struct node *t,
			     const char *name, struct hit *h)
{
	const char *const *values;
	size_t n = mc_facts_headers(ev->facts, name, &values);

	for (size_t i = 0; i < n; i++) {
		if (!mc_query_text_contains(values[i], &t->nd))
			continue;
		if (h != NULL && t->kind == T_HEADER) {
			snprintf(h->buf, sizeof(h->buf), "%s: %s", t->hname, values[i]);
			return set_hit(h, MC_REASON_HEADER, h->buf);
		}
		return set_hit(h, reason_kind(t->kind), values[i]);
	}
	return F;
}

/* The answer of a MIME term none of whose parts matched. */
static enum tri mime_miss(const struct eval *ev)
{
	return ev->walk_failed ? U : F;
}

static bool body_has(struct eval *ev, size_t i, const struct needle *nd)
{
	const struct mc_part *p = &ev->parts[i];

	if (p->text_utf8 == NULL)
		return false;
	if (ev->norm == NULL) {
		ev->norm = mc_xcalloc(ev->nparts, sizeof(*ev->norm));
		ev->norm_len = mc_xcalloc(ev->nparts, sizeof(*ev->norm_len));
	}
	if (ev->norm[i] == NULL)
		ev->norm[i] = mc_query_normalize(p->text_utf8, strlen(p->text_utf8),
					strcmp(p->content_type, "text/html") == 0,
					&ev->norm_len[i]);
	if (mc_query_norm_contains(ev->norm[i], ev->norm_len[i], nd))
		return true;
	if (strcmp(p->content_type, "text/html") == 0) {
		/* Also the markup itself, for phrases in attributes. */
		return mc_query_text_contains(p->text_utf8, nd);
	}
	return false;
}

static bool name_match(const struct node *t, const char *name)
{
	size_t len = strlen(name);
	bool hit;

	if (mc_query_value_match(t, name))
		return true;
	/* Windows drops trailing dots and spaces from file names. */
	while (len > 0 && (name[len - 1] == '.' || name[len - 1] == ' '))
		len--;
	if (len == strlen(name) || len == 0)
		return false;
	char *trimmed = mc_xstrndup(name, len);
	hit = mc_query_value_match(t, trimmed);
	free(trimmed);
	return hit;
}

static void hash_message(struct eval *ev)
{
	if (!ev->msg_hashed) {
		const void *d = ev->msg->data != NULL ? (const void *)ev->msg->data : "";
		mc_sha256(d, ev->msg->size, ev->msg_sha256);
		mc_md5(d, ev->msg->size, ev->msg_md5);
		ev->msg_hashed = true;
	}
}

static enum tri hash_hit(struct hit *h, enum mc_reason_kind kind,
			 const unsigned char *hash, size_t n)
{
	if (h != NULL) {
		mc_hex(hash, n, h->buf);
		return set_hit(h, kind, h->buf);
	}
	return T;
}

static enum tri eval_hash(struct eval *ev, const struct node *t, struct hit *h)
{
	bool sha = t->kind == T_SHA256;
	size_t n = sha ? 32 : 16;

	for (size_t i = 0; i < ev->nparts; i++) {
		const unsigned char *ph = sha ? ev->parts[i].sha256 :
			mc_facts_part_md5(ev->facts, i);
		if (memcmp(ph, t->hash, n) == 0)
			return hash_hit(h, sha ? MC_REASON_SHA256 : MC_REASON_MD5, t->hash, n);
	}
	hash_message(ev);
	if (memcmp(sha ? ev->msg_sha256 : ev->msg_md5, t->hash, n) == 0)
		return hash_hit(h, sha ? MC_REASON_SHA256 : MC_REASON_MD5, t->hash, n);
	return mime_miss(ev);
}

static enum tri eval_hashset(struct eval *ev, const struct node *t,
			     struct hit *h)
{
	hash_message(ev);
	for (size_t i = 0; i <= ev->nparts; i++) {
		const unsigned char *s = i < ev->nparts ? ev->parts[i].sha256 : ev->msg_sha256;
		const unsigned char *m = i < ev->nparts ? mc_facts_part_md5(ev->facts, i) :
			ev->msg_md5;
		if (t->nsha256 > 0 && bsearch(s, t->sha256s, t->nsha256, 32, mc_query_cmp32))
			return hash_hit(h, MC_REASON_SHA256, s, 32);
		if (t->nmd5 > 0 && bsearch(m, t->md5s, t->nmd5, 16, mc_query_cmp16))
			return hash_hit(h, MC_REASON_MD5, m, 16);
	}
	return mime_miss(ev);
}

/* url: and domain: terms; the reason is the URL that matched. */
static enum tri eval_urls(struct eval *ev, const struct node *t, struct hit *h)
{
	const char *const *urls;
	const char *why, *hit;
	size_t n;
	bool complete = mc_facts_urls(ev->facts, &urls, &n, &why) == 0;

	hit = t->kind == T_URL ? mc_urls_match(urls, n, t->value, t->glob) :
		mc_urls_match_domain(urls, n, t->value);
	if (hit != NULL)
		return set_hit(h, reason_kind(t->kind), hit);
	if (!complete && ev->walk_why == NULL)
		ev->walk_why = why;
	return complete ? F : U;
}

/* yara and yara:GLOB (the rule, or NAMESPACE:RULE); the reason is
   NAMESPACE:RULE of the first rule, with tags and metadata as its
   detail, and every rule the term matched in the detail's "rules". */
static enum tri eval_yara(struct eval *ev, const struct node *t, struct hit *h)
{
	const struct mc_query *q = ev->query;
	const struct mc_yara_hit *hits[MC_YARA_HITS_MAX];
	size_t n = 0;

	if (q->yara == NULL) {
		if (ev->walk_why == NULL)
			ev->walk_why = "no YARA rules loaded (--yara)";
		return U;
	}
	if (ev->yara == NULL) {
		ev->yara = mc_xmalloc(sizeof(*ev->yara));
		q->yara_ops->scan(q->yara, ev->msg, ev->facts, ev->yara);
	}
	for (unsigned i = 0; i < ev->yara->count; i++) {
		const struct mc_yara_hit *y = &ev->yara->hits[i];
		char full[260];

		snprintf(full, sizeof(full), "%s:%s", y->ns, y->rule);
		if (t->value != NULL && !mc_query_value_match(t, y->rule) &&
		    !mc_query_value_match(t, full))
			continue;
		if (h == NULL)
			return T;
		if (n == 0)
			snprintf(h->buf, sizeof(h->buf), "%s", full);
		hits[n++] = y;
	}
	if (n > 0) {
		h->detail = q->yara_ops->hits_json(hits, n);
		return set_hit(h, MC_REASON_YARA, h->buf);
	}
	if (ev->yara->error[0] != '\0') {
		if (ev->walk_why == NULL)
			ev->walk_why = ev->yara->error;
		return U;
	}
	return F;
}

/* An indicator set: the first indicator the message has. The
   reason is the indicator's value, with where it came from and what
   of the message matched as its detail; a plain list's domains give
   a domain: reason, the URL. */
static enum tri eval_ioc(struct eval *ev, const struct node *t, struct hit *h)
{
	struct ioc_cache *c = NULL;

	for (size_t i = 0; i < ev->niocs; i++) {
		if (ev->iocs[i].set == t->ioc)
			c = &ev->iocs[i];
	}
	if (c == NULL) {
		ev->iocs = mc_xrealloc(ev->iocs, (ev->niocs + 1) * sizeof(*ev->iocs));
		c = &ev->iocs[ev->niocs++];
		memset(c, 0, sizeof(*c));
		c->set = t->ioc;
		mc_ioc_view_init(&c->view, t->ioc, ev->msg, ev->facts, ev->parts,
				 ev->nparts, ev->walk_failed);
		c->matched = mc_ioc_match(t->ioc, &c->view, &c->hit);
	}
	if (c->matched) {
		if (h == NULL)
			return T;
		if (t->domains_only)
			return set_hit(h, MC_REASON_DOMAIN, c->hit.matched);
		h->detail = mc_ioc_hit_json(t->ioc, &c->hit);
		return set_hit(h, MC_REASON_IOC, c->hit.ioc->value);
	}
	if (c->view.incomplete) {
		if (ev->walk_why == NULL)
			ev->walk_why = c->view.why;
		return U;
	}
	return F;
}

static enum tri eval_node(struct eval *ev, const struct node *n);

static enum tri eval_term(struct eval *ev, const struct node *t, struct hit *h)
{
	int level = mc_query_term_level(t->kind);

	if (level > ev->phase)
		return U;
	if (ev->literals_only && level == 2) {
		const struct mc_msg *m = ev->msg;

		if (t->literal == NULL || m->data == NULL)
			return U;
		if (mc_query_mem_case_find(m->data, m->size, t->literal, strlen(t->literal)) != NULL)
			return U;
		if (ev->names_encoded < 0)
			ev->names_encoded = mc_query_names_may_be_encoded(m->data, m->size);
		return ev->names_encoded ? U : F;
	}
	switch (t->kind) {
	case T_ALL:
		return set_hit(h, MC_REASON_ALL, NULL);
	case T_FROM:
		return eval_addresses(ev, t, "From", h);
	case T_TO:
		return eval_addresses(ev, t, "To", h);
	case T_CC:
		return eval_addresses(ev, t, "Cc", h);
	case T_SUBJECT:
		return eval_headers(ev, t, "Subject", h);
	case T_MSGID:
		return eval_headers(ev, t, "Message-ID", h);
	case T_HEADER:
		return eval_headers(ev, t, t->hname, h);
	case T_SIZE: {
		uint64_t s = ev->msg->size;
		bool ok;
		switch (t->op) {
		case SZ_GT: ok = s > t->size; break;
		case SZ_LT: ok = s < t->size; break;
		case SZ_GE: ok = s >= t->size; break;
		case SZ_LE: ok = s <= t->size; break;
		default: ok = s == t->size; break;
		}
		if (!ok)
			return F;
		if (h != NULL)
			snprintf(h->buf, sizeof(h->buf), "size=%" PRIu64, s);
		return set_hit(h, MC_REASON_SIZE, h != NULL ? h->buf : NULL);
	}
	case T_SINCE: case T_BEFORE: {
		time_t d;
		if (!mc_facts_date(ev->facts, &d))
			return F;	/* no usable date: neither */
		if (t->kind == T_SINCE ? d < t->date : d >= t->date)
			return F;
		if (h != NULL) {
			mc_query_put_date(h->buf, sizeof(h->buf) - 1, d, true);
			strcat(h->buf, "Z");
		}
		return set_hit(h, MC_REASON_DATE, h != NULL ? h->buf : NULL);
	}
	case T_DATE_NONE: {
		time_t d;
		if (mc_facts_date(ev->facts, &d))
			return F;
		return set_hit(h, MC_REASON_DATE, "none");
	}
	case T_BODY:
		for (size_t i = 0; i < ev->nparts; i++) {
			if (body_has(ev, i, &t->nd))
				return set_hit(h, MC_REASON_BODY, t->value);
		}
		return mime_miss(ev);
	case T_ATTACHMENT:
		for (size_t i = 0; i < ev->nparts; i++) {
			const char *name = ev->parts[i].filename;
			if (name != NULL && name_match(t, name))
				return set_hit(h, MC_REASON_ATTACHMENT, name);
		}
		return mime_miss(ev);
	case T_SHA256: case T_MD5:
		return eval_hash(ev, t, h);
	case T_URL: case T_DOMAIN:
		return eval_urls(ev, t, h);
	case T_YARA:
		return eval_yara(ev, t, h);
	case T_HASHSET:
		return eval_hashset(ev, t, h);
	case T_IOC:
		return eval_ioc(ev, t, h);
	case T_IOCREF:
		if (ev->query->ioc_root == NULL) {
			if (ev->walk_why == NULL)
				ev->walk_why = "no indicators loaded (--ioc)";
			return U;
		}
		return eval_node(ev, ev->query->ioc_root);
	case T_VIRUS:
		if (!ev->engine_ran)
			return U;
		switch (ev->verdict.kind) {
		case MC_VERDICT_INFECTED:
			if (t->value != NULL && !mc_query_value_match(t, ev->verdict.name))
				return F;
			return set_hit(h, MC_REASON_VIRUS, ev->verdict.name);
		case MC_VERDICT_CLEAN:
			return F;
		default:
			return U;
		}
	}
	return U;
}

static enum tri eval_node(struct eval *ev, const struct node *n)
{
	enum tri r, v;

	switch (n->type) {
	case N_AND:
		r = T;
		for (size_t i = 0; i < n->nkids; i++) {
			v = eval_node(ev, n->kids[i]);
			if (v == F)
				return F;
			if (v == U)
				r = U;
		}
		return r;
	case N_OR:
		r = F;
		for (size_t i = 0; i < n->nkids; i++) {
			v = eval_node(ev, n->kids[i]);
			if (v == T)
				return T;
			if (v == U)
				r = U;
		}
		return r;
	case N_NOT:
		v = eval_node(ev, n->kids[0]);
		return v == U ? U : (v == T ? F : T);
	case N_TERM:
		return eval_term(ev, n, NULL);
	}
	return U;
}

void mc_query_add_reason(struct mc_match *m, enum mc_reason_kind kind,
			 const char *value, char *detail)
{
	for (size_t i = 0; i < m->reason_count; i++) {
		const struct mc_reason *r = &m->reasons[i];
		if (r->kind == kind && (r->value == value ||
		    (r->value != NULL && value != NULL && strcmp(r->value, value) == 0))) {
			free(detail);
			return;
		}
	}
	m->reasons = mc_xrealloc(m->reasons, (m->reason_count + 1) * sizeof(*m->reasons));
	m->reasons[m->reason_count].kind = kind;
	m->reasons[m->reason_count].value = value != NULL ? mc_xstrdup(value) : NULL;
	m->reasons[m->reason_count].detail = detail;
	m->reason_count++;
}

/* Collect the reasons of true node N (see DESCRIPTION). */
static void collect(struct eval *ev, const struct node *n, struct mc_match *m)
{
	switch (n->type) {
	case N_AND:
	case N_OR:
		for (size_t i = 0; i < n->nkids; i++) {
			if (n->type == N_AND || eval_node(ev, n->kids[i]) == T)
				collect(ev, n->kids[i], m);
		}
		return;
	case N_NOT:
		return;
	case N_TERM: {
		struct hit h;
		if (n->kind == T_IOCREF) {
			if (ev->query->ioc_root != NULL)
				collect(ev, ev->query->ioc_root, m);
			return;
		}
		memset(&h, 0, sizeof(h));
		if (eval_term(ev, n, &h) == T)
			mc_query_add_reason(m, h.kind, h.value, h.detail);
		else
			free(h.detail);
		return;
	}
	}
}

void mc_query_eval(const struct mc_query *query, const struct mc_msg *msg,
		   struct mc_facts *facts, const struct mc_engine_ops *ops,
		   struct mc_engine *engine, struct mc_match *match_r)
{
	struct eval ev;
	struct mc_facts *own_facts = NULL;
	enum tri r;

	/* Callers normally share their facts (the pipeline reads From
	   and Subject from them afterwards); without, use our own. */
	if (facts == NULL)
		facts = own_facts = mc_facts_init(msg, NULL);
	memset(match_r, 0, sizeof(*match_r));
	match_r->problem = MC_VERDICT_CLEAN;
	match_r->verdict.kind = MC_VERDICT_CLEAN;
	memset(&ev, 0, sizeof(ev));
	ev.msg = msg;
	ev.facts = facts;
	ev.query = query;

	ev.phase = 1;
	ev.names_encoded = -1;
	r = eval_node(&ev, query->root);
	if (r == U && query->needs_mime) {
		ev.phase = 2;
		if (query->has_literal) {
			/* Maybe decided without the walk (see query_text.c);
			   if so, the reasons are collected the same way. */
			ev.literals_only = true;
			r = eval_node(&ev, query->root);
		}
		if (r == U) {
			ev.literals_only = false;
			if (mc_facts_parts(facts, &ev.parts, &ev.nparts, &ev.walk_why) < 0)
				ev.walk_failed = true;
			r = eval_node(&ev, query->root);
		}
	}
	if (r == U && query->needs_engine) {
		ev.phase = 3;
		if (ops != NULL && engine != NULL &&
		    (ops->scan_message != NULL || ops->scan_buffer != NULL)) {
			if (ops->scan_message != NULL)
				ops->scan_message(engine, msg, facts, &ev.verdict);
			else
				ops->scan_buffer(engine, msg->data != NULL ?
						 (const void *)msg->data : "",
						 msg->size, &ev.verdict);
			ev.verdict.name[sizeof(ev.verdict.name) - 1] = '\0';
			ev.engine_ran = true;
			match_r->engine_ran = true;
			match_r->verdict = ev.verdict;
		} else {
			ev.no_engine = true;
		}
		r = eval_node(&ev, query->root);
	}

	if (r == T) {
		match_r->matched = true;
		collect(&ev, query->root, match_r);
	} else if (r == U) {
		if (ev.engine_ran && (ev.verdict.kind == MC_VERDICT_UNSCANNED ||
				      ev.verdict.kind == MC_VERDICT_ERROR)) {
			match_r->problem = ev.verdict.kind;
			snprintf(match_r->why, sizeof(match_r->why), "%s",
				 ev.verdict.name[0] != '\0' ? ev.verdict.name :
				 "the detection engine gave no verdict");
		} else if (ev.no_engine) {
			match_r->problem = MC_VERDICT_ERROR;
			snprintf(match_r->why, sizeof(match_r->why),
				 "no detection engine loaded");
		} else {
			match_r->problem = MC_VERDICT_UNSCANNED;
			snprintf(match_r->why, sizeof(match_r->why), "%s",
				 ev.walk_why != NULL ? ev.walk_why : "MIME structure not walked");
		}
	}
	free(ev.yara);
	for (size_t i = 0; i < ev.niocs; i++)
		mc_ioc_view_deinit(&ev.iocs[i].view);
	free(ev.iocs);
	if (ev.norm != NULL) {
		for (size_t i = 0; i < ev.nparts; i++)
			free(ev.norm[i]);
		free(ev.norm);
		free(ev.norm_len);
	}
	mc_facts_free(&own_facts);
}

void mc_match_clear(struct mc_match *match)
{
	for (size_t i = 0; i < match->reason_count; i++) {
		free(match->reasons[i].value);
		free(match->reasons[i].detail);
	}
	free(match->reasons);
	memset(match, 0, sizeof(*match));
}

const char *mc_reason_kind_name(enum mc_reason_kind kind)
{
	switch (kind) {
	case MC_REASON_VIRUS: return "virus";
	case MC_REASON_FROM: return "from";
	case MC_REASON_TO: return "to";
	case MC_REASON_CC: return "cc";
	case MC_REASON_SUBJECT: return "subject";
	case MC_REASON_HEADER: return "header";
	case MC_REASON_MESSAGE_ID: return "message-id";
	case MC_REASON_BODY: return "body";
	case MC_REASON_ATTACHMENT: return "attachment";
	case MC_REASON_SHA256: return "sha256";
	case MC_REASON_MD5: return "md5";
	case MC_REASON_SIZE: return "size";
	case MC_REASON_DATE: return "date";
	case MC_REASON_URL: return "url";
	case MC_REASON_DOMAIN: return "domain";
	case MC_REASON_YARA: return "yara";
	case MC_REASON_IOC: return "ioc";
	case MC_REASON_ALL: return "all";
	}
	return "unknown";
}

