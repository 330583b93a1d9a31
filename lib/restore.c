/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	restore 3
/* SUMMARY
/*	put quarantined messages back into their stores
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	int mc_restore_entry(struct mc_quarantine *q, const char *id,
/*		char **error_r);
/*
/*	int mc_restore_settle(struct mc_quarantine *q, char **error_r);
/* DESCRIPTION
/*	This module sits above both the quarantine and the stores, so
/*	that neither calls the other back: stores put messages into the
/*	quarantine, and only this module takes them out again.
/*
/*	mc_restore_entry() holds the entry for restore
/*	(mc_quarantine_restore_begin: locked, not restored yet, message
/*	read and verified), hands the message to the restore op of the
/*	store its record names (mc_store_lookup of loc.kind), and then
/*	records the result (mc_quarantine_restore_finish). When the
/*	store refuses, nothing is recorded and the entry stays as it
/*	was.
/*
/*	mc_restore_settle() finds the entries that an interrupted
/*	removal left staged in the quarantine (mc_quarantine_staged_list)
/*	and hands each group to the settle op of its store, which alone
/*	can tell whether the removal happened (commit the entries) or
/*	not (discard them). An empty group, left by a commit that ended
/*	before removing it, is removed.
/* DIAGNOSTICS
/*	-1 with *error_r naming the entry and where its message was to
/*	go. For mc_restore_settle, the first group that could not be
/*	settled; the others are settled still.
/* SECURITY
/*	The store's restore op writes into a user's mailbox as root; it
/*	gets only bytes whose checksum was verified under the entry's
/*	lock, and the location from the entry's record.
/*--*/

#include <stdlib.h>

#include "mailcure/mailcure.h"
#include "internal.h"

int mc_restore_entry(struct mc_quarantine *q, const char *id, char **error_r)
{
	const struct mc_store_ops *ops;
	const struct mc_qentry *e;
	struct mc_qrestore *r;
	const void *raw;
	size_t size;
	char *err = NULL;

	if (mc_quarantine_restore_begin(q, id, &r, error_r) < 0)
		return -1;
	e = mc_qrestore_entry(r);
	raw = mc_qrestore_message(r, &size);
	ops = mc_store_lookup(e->loc.kind);
	if (ops == NULL || ops->restore == NULL) {
		mc_error_set(error_r, "entry %s: messages from '%s' stores cannot be restored "
			     "by this version", id, e->loc.kind);
		(void)mc_quarantine_restore_finish(&r, false, NULL);
		return -1;
	}
	if (ops->restore(q, e, raw, size, &err) < 0) {
		mc_error_set(error_r, "entry %s: restore to %s failed: %s", id,
			     mc_qentry_where(e), err != NULL ? err : "unknown error");
		free(err);
		(void)mc_quarantine_restore_finish(&r, false, NULL);
		return -1;
	}
	return mc_quarantine_restore_finish(&r, true, error_r);
}

int mc_restore_settle(struct mc_quarantine *q, char **error_r)
{
	struct mc_quarantine_staged *list;
	size_t count;
	int failed = 0;

	if (mc_quarantine_staged_list(q, &list, &count, error_r) < 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		const struct mc_store_ops *ops = list[i].kind != NULL ?
			mc_store_lookup(list[i].kind) : NULL;
		char *err = NULL;

		if (list[i].count == 0) {
			/* A commit that ended before removing its group. */
			if (mc_quarantine_unstage(q, list[i].group, &err) < 0)
				free(err);
			continue;
		}
		if (ops == NULL || ops->settle == NULL || list[i].path == NULL)
			err = mc_xasprintf("cannot tell where its messages are from");
		else if (ops->settle(q, list[i].path, &err) == 0)
			continue;
		if (failed++ == 0)
			mc_error_set(error_r, "quarantine %s: %zu entries staged in pending/%s by an "
				     "interrupted removal%s%s are not settled: %s",
				     mc_quarantine_dir(q), list[i].count, list[i].group,
				     list[i].path != NULL ? " from " : "",
				     list[i].path != NULL ? list[i].path : "", err);
		free(err);
	}
	mc_quarantine_staged_free(&list, count);
	return failed > 0 ? -1 : 0;
}
