/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	query_ioc 3
/* SUMMARY
/*	the query language: threat-intel feeds
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	int	mc_query_add_ioc(query, paths, count, &error)
/*	void	mc_query_ioc_feeds(query, fn, context)
/* DESCRIPTION
/*	mc_query_add_ioc() reads the indicator files of --ioc: the
/*	feeds among them (mc_ioc_is_feed) into one indicator set, so
/*	that a message costs the same look-ups however many files
/*	there are, and plain lists as @FILE reads them. The "ioc" term
/*	of the query stands for all of them, ORed. A query without an
/*	"ioc" term gets one: ORed with the query, or in place of the
/*	default query "virus" when none was given, so that indicators
/*	are ANDed with nothing unless the query says so.
/*
/*	mc_query_ioc_feeds() calls FN for every indicator file the
/*	query holds (@FILE and --ioc), with what it gave: a plain list
/*	counts its terms as loaded.
/* DIAGNOSTICS
/*	An indicator file that cannot be read, or is not what its
/*	start says, is an error naming it (ioc.c).
/*--*/

#include <stdlib.h>
#include <string.h>

#include "query-private.h"

static bool has_ref(const struct node *n)
{
	if (n->type == N_TERM)
		return n->kind == T_IOCREF;
	for (size_t i = 0; i < n->nkids; i++) {
		if (has_ref(n->kids[i]))
			return true;
	}
	return false;
}

int mc_query_add_ioc(struct mc_query *q, const char *const *paths, size_t count,
		     char **error_r)
{
	struct node *group = mc_query_node_new(N_OR), *feeds = NULL;

	for (size_t i = 0; i < count; i++) {
		struct node *kid;
		char *error = NULL;

		if (!mc_ioc_is_feed(paths[i])) {
			struct where w = { paths[i], 0, 0, paths[i], false };
			if ((kid = mc_query_indicators_load(paths[i], &w, error_r)) == NULL)
				goto fail;
			mc_query_node_add(group, kid);
			continue;
		}
		if (feeds == NULL) {
			feeds = mc_query_node_new(N_TERM);
			feeds->kind = T_IOC;
			feeds->ioc = mc_ioc_set_new();
			mc_query_node_add(group, feeds);
		}
		if (mc_ioc_set_load(feeds->ioc, paths[i], &error) < 0) {
			mc_error_set(error_r, "--ioc: %s", error);
			free(error);
			goto fail;
		}
	}
	mc_query_node_free(q->ioc_root);
	q->ioc_root = group;
	if (!has_ref(q->root)) {
		struct node *ref = mc_query_node_new(N_TERM);
		ref->kind = T_IOCREF;
		if (q->defaulted) {
			mc_query_node_free(q->root);
			q->root = ref;
		} else {
			struct node *or = mc_query_node_new(N_OR);
			mc_query_node_add(or, q->root);
			mc_query_node_add(or, ref);
			q->root = or;
		}
	}
	mc_query_scan_needs(q);
	mc_query_render(q);
	return 0;
fail:
	mc_query_node_free(group);
	return -1;
}

bool mc_query_has_ioc(const struct mc_query *q)
{
	return has_ref(q->root);
}

static void feeds_of(const struct node *n,
		     void (*fn)(const struct mc_ioc_feed *, void *), void *context)
{
	if (n->type == N_TERM && n->kind == T_IOC && !n->domains_only) {
		const struct mc_ioc_feed *f;
		size_t count = mc_ioc_set_feeds(n->ioc, &f);
		for (size_t i = 0; i < count; i++)
			fn(&f[i], context);
		return;
	}
	if (n->type == N_OR && n->file != NULL) {
		struct mc_ioc_feed f;
		memset(&f, 0, sizeof(f));
		f.path = n->file;
		f.format = "list";
		f.loaded = n->nterms;
		fn(&f, context);
		return;
	}
	for (size_t i = 0; i < n->nkids; i++)
		feeds_of(n->kids[i], fn, context);
}

void mc_query_ioc_feeds(const struct mc_query *q,
			void (*fn)(const struct mc_ioc_feed *, void *), void *context)
{
	feeds_of(q->root, fn, context);
	if (q->ioc_root != NULL)
		feeds_of(q->ioc_root, fn, context);
}
