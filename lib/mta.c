/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	mta 3
/* SUMMARY
/*	the mail transfer agent whose queue mailcure works on
/* SYNOPSIS
/*	#include <mailcure/mta.h>
/* DESCRIPTION
/*	See mta.h. Each call goes to the module of the MTA: postfix_ctl.c
/*	and postfix_freeze.c, or exim_ctl.c, exim_freeze.c and the Exim
/*	store (release). MC_MTA_AUTO is resolved here: the MTA that is
/*	installed and configured; both, or neither, is an error that
/*	says so.
/* DIAGNOSTICS
/*	The reasons of the MTA modules, unchanged.
/* SECURITY
/*	See postfix_ctl.h and exim_ctl.h.
/*--*/

#include <stdlib.h>
#include <string.h>

#include "mailcure/mailcure.h"
#include "mailcure/mta.h"
#include "internal.h"
#include "postfix_ctl.h"
#include "exim_ctl.h"

struct mc_mta {
	enum mc_mta_kind kind;
	struct mc_postfix *pf;
	struct mc_exim *ex;
};

const char *mc_mta_kind_name(enum mc_mta_kind kind)
{
	return kind == MC_MTA_POSTFIX ? "postfix" : kind == MC_MTA_EXIM ? "exim" : NULL;
}

bool mc_mta_in_use(enum mc_mta_kind kind, const char *config,
		   enum mc_mta_kind *kind_r, char **why_r)
{
	char *pf_why = NULL, *ex_why = NULL;
	bool pf, ex;

	*why_r = NULL;
	if (kind_r != NULL)
		*kind_r = kind;
	if (kind == MC_MTA_POSTFIX)
		return mc_postfix_configured(config, why_r);
	if (kind == MC_MTA_EXIM)
		return mc_exim_configured(config, why_r);
	pf = mc_postfix_configured(NULL, &pf_why);
	ex = mc_exim_configured(NULL, &ex_why);
	if (pf && ex)
		*why_r = mc_xstrdup("both Postfix and Exim are installed and configured "
				    "here: name the MTA whose queue this is with --mta "
				    "postfix or --mta exim");
	else if (!pf && !ex)
		*why_r = mc_xasprintf("no mail queue here: %s; %s", pf_why, ex_why);
	else if (kind_r != NULL)
		*kind_r = pf ? MC_MTA_POSTFIX : MC_MTA_EXIM;
	free(pf_why);
	free(ex_why);
	return pf != ex;
}

int mc_mta_open(enum mc_mta_kind kind, const char *config,
		struct mc_mta **mta_r, char **error_r)
{
	struct mc_mta *mta = mc_xcalloc(1, sizeof(*mta));
	int ret = -1;

	*mta_r = NULL;
	mta->kind = kind;
	if (kind == MC_MTA_POSTFIX)
		ret = mc_postfix_open(config, &mta->pf, error_r);
	else if (kind == MC_MTA_EXIM)
		ret = mc_exim_open(config, &mta->ex, error_r);
	else
		mc_error_set(error_r, "which MTA? (resolve --mta auto first)");
	if (ret < 0) {
		mc_mta_close(&mta);
		return -1;
	}
	*mta_r = mta;
	return 0;
}

void mc_mta_close(struct mc_mta **mtap)
{
	struct mc_mta *mta = *mtap;

	if (mta == NULL)
		return;
	mc_postfix_free(&mta->pf);
	mc_exim_free(&mta->ex);
	free(mta);
	*mtap = NULL;
}

enum mc_mta_kind mc_mta_kind(const struct mc_mta *mta)
{
	return mta->kind;
}

const char *mc_mta_config(const struct mc_mta *mta)
{
	if (mta->kind == MC_MTA_POSTFIX)
		return mta->pf->config_dir;
	return mta->ex->config_file != NULL ? mta->ex->config_file : "?";
}

size_t mc_mta_queue_count(enum mc_mta_kind kind)
{
	return kind == MC_MTA_POSTFIX ? MC_POSTFIX_QUEUE_COUNT : 1;
}

const char *mc_mta_queue_name(enum mc_mta_kind kind, size_t index)
{
	if (index >= mc_mta_queue_count(kind))
		return NULL;
	return kind == MC_MTA_POSTFIX ? mc_postfix_queues[index] : "input";
}

static int status_postfix(const struct mc_mta *mta, const char *state_dir,
			  struct mc_mta_status *st, char **error_r)
{
	struct mc_postfix_status ps;

	if (mc_postfix_status(mta->pf, state_dir, &ps, error_r) < 0)
		return -1;
	st->version = mta->pf->mail_version;
	st->queue_dir = mta->pf->queue_dir;
	st->pid = ps.master_pid;
	st->frozen = ps.frozen;
	st->freeze_recorded = ps.freeze_recorded;
	st->frozen_at = ps.frozen_at;
	st->queue_count = MC_POSTFIX_QUEUE_COUNT;
	for (size_t q = 0; q < MC_POSTFIX_QUEUE_COUNT; q++) {
		st->messages[q] = ps.messages[q];
		st->bytes[q] = ps.bytes[q];
	}
	st->total_messages = ps.total_messages;
	st->total_bytes = ps.total_bytes;
	st->incomplete = ps.incomplete;
	return 0;
}

static int status_exim(const struct mc_mta *mta, const char *state_dir,
		       struct mc_mta_status *st, char **error_r)
{
	struct mc_exim_status es;

	if (mc_exim_status(mta->ex, state_dir, &es, error_r) < 0)
		return -1;
	st->version = mta->ex->version;
	st->queue_dir = mta->ex->spool_dir;
	st->split = mta->ex->split;
	st->pid = es.daemon_pid;
	st->frozen = es.frozen;
	st->freeze_recorded = es.freeze_recorded;
	st->frozen_at = es.frozen_at;
	st->queue_count = 1;
	st->messages[0] = st->total_messages = es.messages;
	st->bytes[0] = st->total_bytes = es.bytes;
	return 0;
}

int mc_mta_status(const struct mc_mta *mta, const char *state_dir,
		  struct mc_mta_status *status_r, char **error_r)
{
	int ret;

	memset(status_r, 0, sizeof(*status_r));
	ret = mta->kind == MC_MTA_POSTFIX ? status_postfix(mta, state_dir, status_r, error_r) :
		status_exim(mta, state_dir, status_r, error_r);
	status_r->freeze_undone = status_r->freeze_recorded && !status_r->frozen;
	return ret;
}

const char *mc_mta_freeze_undone_why(const struct mc_mta *mta)
{
	return mta->kind == MC_MTA_EXIM ?
		"the configuration Exim reads no longer holds the freeze (regenerated "
		"by update-exim4.conf, edited, or replaced by a package upgrade)" :
		"master.cf no longer holds the freeze (edited, or the freeze was "
		"interrupted)";
}

int mc_mta_check_freeze(const struct mc_mta *mta, const char *state_dir,
			bool *delivering_r, char **error_r)
{
	struct mc_mta_status st;

	*delivering_r = false;
	if (mc_mta_status(mta, state_dir, &st, error_r) < 0)
		return -1;
	*delivering_r = st.pid != 0 && !st.frozen;
	if (!st.freeze_undone)
		return 0;
	return mc_error_set(error_r, "mailcure froze the queue of %s, but %s: the MTA "
			    "delivers queued mail. Run 'mailcure queue freeze' again, "
			    "then repeat this", mc_mta_config(mta),
			    mc_mta_freeze_undone_why(mta));
}

int mc_mta_freeze(const struct mc_mta *mta, const char *state_dir,
		  bool dry_run, char **note_r, char **error_r)
{
	if (mta->kind == MC_MTA_POSTFIX)
		return mc_postfix_freeze(mta->pf, state_dir, dry_run, note_r, error_r);
	return mc_exim_freeze(mta->ex, state_dir, dry_run, note_r, error_r);
}

int mc_mta_thaw(const struct mc_mta *mta, const char *state_dir,
		bool force, bool dry_run, char **note_r, char **error_r)
{
	if (mta->kind == MC_MTA_POSTFIX)
		return mc_postfix_thaw(mta->pf, state_dir, force, dry_run, note_r, error_r);
	return mc_exim_thaw(mta->ex, state_dir, force, dry_run, note_r, error_r);
}

bool mc_mta_queue_id_ok(const struct mc_mta *mta, const char *id)
{
	return mta->kind == MC_MTA_POSTFIX ? mc_postfix_queue_id_ok(id) :
		mc_exim_queue_id_ok(id);
}

static int release_postfix(const struct mc_mta *mta, const char *const *ids,
			   size_t count, bool *done_r, char **why_r, char **note_r,
			   char **error_r)
{
	char *err = NULL;

	if (mc_postfix_postsuper(mta->pf, MC_POSTSUPER_RELEASE, "hold", ids, count,
				 done_r, error_r) < 0)
		return -1;
	for (size_t i = 0; i < count; i++)
		why_r[i] = done_r[i] ? NULL : mc_xstrdup("not on hold");
	/* Released mail goes to the deferred queue: send it now (while
	   frozen, it waits for the thaw). */
	if (mc_postfix_master_pid(mta->pf) != 0 && mc_postfix_flush(mta->pf, &err) < 0) {
		if (note_r != NULL)
			*note_r = err;
		else
			free(err);
	}
	return 0;
}

int mc_mta_release(const struct mc_mta *mta, const char *const *ids,
		   size_t count, bool *done_r, char **why_r, char **note_r,
		   char **error_r)
{
	if (note_r != NULL)
		*note_r = NULL;
	for (size_t i = 0; i < count; i++) {
		if (!mc_mta_queue_id_ok(mta, ids[i]))
			return mc_error_set(error_r, "not a queue id: %s", ids[i]);
	}
	if (mta->kind == MC_MTA_POSTFIX)
		return release_postfix(mta, ids, count, done_r, why_r, note_r, error_r);
	return mc_exim_release(mta->ex, ids, count, done_r, why_r, note_r, error_r);
}

void mc_mta_store_set_queues(struct mc_store *store, unsigned mask)
{
	if (strcmp(mc_store_kind(store), "postfix") == 0)
		mc_store_postfix_set_queues(store, mask);
}
