/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	query_file 3
/* SUMMARY
/*	the query language: indicators and YARA rules over a host file
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	unsigned mc_query_file_hashes(query)
/*	bool	mc_query_file_needs_data(query)
/*	size_t	mc_query_file_ignored(query)
/*	void	mc_query_eval_file(query, file, &match)
/* DESCRIPTION
/*	A host scan (hostscan.c) looks at files, not messages: of the
/*	indicators of --ioc (the query's "ioc" term) it compares the
/*	file hashes (MD5, SHA-1, SHA-256 of the whole file, as an
/*	attachment's are compared in mail), and it runs every rule of
/*	--yara over the file as it is. Indicators of what a file does
/*	not have (URLs, domains, sender addresses, subjects, and the
/*	other terms of a plain list) are left out:
/*	mc_query_file_ignored() counts them, so that the command can say
/*	so once.
/*
/*	mc_query_file_hashes() tells which hashes the indicators
/*	compare (MC_FILE_MD5, MC_FILE_SHA1, MC_FILE_SHA256), so that the
/*	caller computes those, once per file, and no others.
/*	mc_query_file_needs_data() tells that the rules need the content.
/*
/*	mc_query_eval_file() adds to MATCH a reason for each indicator
/*	set or plain list that names the file (an ioc reason with the
/*	indicator's detail, as in mail; sha256 or md5 for a plain
/*	list's hash) and one yara reason naming every rule that matched
/*	(mc_yara_hits_json). A YARA scan that could not finish sets
/*	match->problem and match->why.
/*--*/

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query-private.h"

/* Which hashes the terms under N compare; *ignored_r counts the
   indicators that compare something else. */
static unsigned file_needs(const struct node *n, size_t *ignored_r)
{
	unsigned need = 0;

	if (n->type != N_TERM) {
		for (size_t i = 0; i < n->nkids; i++)
			need |= file_needs(n->kids[i], ignored_r);
		return need;
	}
	switch (n->kind) {
	case T_SHA256:
		return MC_FILE_SHA256;
	case T_MD5:
		return MC_FILE_MD5;
	case T_HASHSET:
		return (n->nsha256 > 0 ? MC_FILE_SHA256 : 0) | (n->nmd5 > 0 ? MC_FILE_MD5 : 0);
	case T_IOC:
		if (n->domains_only) {
			*ignored_r += mc_ioc_set_count(n->ioc);
			return 0;
		}
		*ignored_r += mc_ioc_set_count_not_hashes(n->ioc);
		return (mc_ioc_set_has(n->ioc, IOC_MD5) ? MC_FILE_MD5 : 0) |
			(mc_ioc_set_has(n->ioc, IOC_SHA1) ? MC_FILE_SHA1 : 0) |
			(mc_ioc_set_has(n->ioc, IOC_SHA256) ? MC_FILE_SHA256 : 0);
	default:
		(*ignored_r)++;
		return 0;
	}
}

unsigned mc_query_file_hashes(const struct mc_query *q)
{
	size_t ignored = 0;

	return q->ioc_root != NULL ? file_needs(q->ioc_root, &ignored) : 0;
}

size_t mc_query_file_ignored(const struct mc_query *q)
{
	size_t ignored = 0;

	if (q->ioc_root != NULL)
		(void)file_needs(q->ioc_root, &ignored);
	return ignored;
}

bool mc_query_file_needs_data(const struct mc_query *q)
{
	return q->yara != NULL;
}

/* The first indicator of SET that FILE's hashes are, as a reason. */
static void file_ioc(const struct mc_ioc_set *set, const struct mc_file_view *f,
		     struct mc_match *m)
{
	static const struct { unsigned bit; enum mc_ioc_type type; size_t off, len; } h[] = {
		{ MC_FILE_MD5, IOC_MD5, offsetof(struct mc_file_view, md5), 16 },
		{ MC_FILE_SHA1, IOC_SHA1, offsetof(struct mc_file_view, sha1), 20 },
		{ MC_FILE_SHA256, IOC_SHA256, offsetof(struct mc_file_view, sha256), 32 },
	};
	struct mc_ioc_view view;
	struct mc_ioc_hit hit;

	memset(&view, 0, sizeof(view));
	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
		if ((f->have & h[i].bit) == 0 || !mc_ioc_set_has(set, h[i].type))
			continue;
		char *hex = mc_xmalloc(2 * h[i].len + 1);
		mc_hex((const unsigned char *)f + h[i].off, h[i].len, hex);
		view.items[h[i].type] = mc_xmalloc(sizeof(char *));
		view.items[h[i].type][0] = hex;
		view.count[h[i].type] = 1;
	}
	if (mc_ioc_match(set, &view, &hit))
		mc_query_add_reason(m, MC_REASON_IOC, hit.ioc->value,
				    mc_ioc_hit_json(set, &hit));
	mc_ioc_view_deinit(&view);
}

static void hash_reason(struct mc_match *m, enum mc_reason_kind kind,
			const unsigned char *hash, size_t len)
{
	char hex[65];

	mc_hex(hash, len, hex);
	mc_query_add_reason(m, kind, hex, NULL);
}

/* The reasons of the indicator terms under N that FILE is. */
static void file_terms(const struct node *n, const struct mc_file_view *f,
		       struct mc_match *m)
{
	bool sha = (f->have & MC_FILE_SHA256) != 0, md5 = (f->have & MC_FILE_MD5) != 0;

	if (n->type != N_TERM) {
		for (size_t i = 0; i < n->nkids; i++)
			file_terms(n->kids[i], f, m);
		return;
	}
	switch (n->kind) {
	case T_SHA256:
		if (sha && memcmp(n->hash, f->sha256, 32) == 0)
			hash_reason(m, MC_REASON_SHA256, f->sha256, 32);
		break;
	case T_MD5:
		if (md5 && memcmp(n->hash, f->md5, 16) == 0)
			hash_reason(m, MC_REASON_MD5, f->md5, 16);
		break;
	case T_HASHSET:
		if (sha && n->nsha256 > 0 &&
		    bsearch(f->sha256, n->sha256s, n->nsha256, 32, mc_query_cmp32) != NULL)
			hash_reason(m, MC_REASON_SHA256, f->sha256, 32);
		if (md5 && n->nmd5 > 0 &&
		    bsearch(f->md5, n->md5s, n->nmd5, 16, mc_query_cmp16) != NULL)
			hash_reason(m, MC_REASON_MD5, f->md5, 16);
		break;
	case T_IOC:
		if (!n->domains_only)
			file_ioc(n->ioc, f, m);
		break;
	default:
		break;
	}
}

/* Every rule that matched FILE, as one reason. */
static void file_yara(const struct mc_query *q, const struct mc_file_view *f,
		      struct mc_match *m)
{
	struct mc_yara_result *r = mc_xmalloc(sizeof(*r));
	const struct mc_yara_hit *hits[MC_YARA_HITS_MAX];

	q->yara_ops->scan_data(q->yara, f->data, f->size, r);
	for (unsigned i = 0; i < r->count; i++)
		hits[i] = &r->hits[i];
	if (r->count > 0) {
		char full[260];
		snprintf(full, sizeof(full), "%s:%s", r->hits[0].ns, r->hits[0].rule);
		mc_query_add_reason(m, MC_REASON_YARA, full,
				    q->yara_ops->hits_json(hits, r->count));
	}
	if (r->error[0] != '\0' && m->problem == MC_VERDICT_CLEAN) {
		m->problem = MC_VERDICT_UNSCANNED;
		snprintf(m->why, sizeof(m->why), "%s", r->error);
	}
	free(r);
}

void mc_query_eval_file(const struct mc_query *q, const struct mc_file_view *f,
			struct mc_match *m)
{
	if (q->ioc_root != NULL && f->have != 0)
		file_terms(q->ioc_root, f, m);
	if (q->yara != NULL && f->data != NULL)
		file_yara(q, f, m);
	if (m->reason_count > 0)
		m->matched = true;
}
