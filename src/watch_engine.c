/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	watch_engine 3
/* SUMMARY
/*	mailcure watch: detection sets, loaded beside each other
/* SYNOPSIS
/*	#include "watch.h"
/*
/*	int watch_engine_open(struct watch *w, struct watch_engine **det_r);
/*	void watch_engine_close(struct watch *w, struct watch_engine **det);
/* DESCRIPTION
/*	A detection set is an engine with its signatures loaded, its
/*	identity (the engine's digest of its version, settings, limits
/*	and signature files: lib/engine/clamav_db.c stamps them) and the
/*	verdict cache of its part verdicts. A new set is opened and
/*	loaded while the old one still serves; only a set that loaded is
/*	switched to, so that no mail waits on a broken database.
/*
/*	The verdicts of the current set are kept in STATE/watch/verdicts
/*	(lib/cache.c: written atomically, bound to the identity): a
/*	restart with the same signatures rescans nothing, one with other
/*	signatures begins a detection change.
/*--*/

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch.h"

/* Part verdicts kept: 64 MB holds about a million parts. */
#define WATCH_CACHE_MEMORY (64U << 20)

static char *verdicts_path(const struct watch *w)
{
	return mc_xasprintf("%s/verdicts", w->dir);
}

static int det_setup(struct watch *w, struct watch_engine *det, char **error_r)
{
	const struct mc_global *g = w->g;
	struct mc_engine_settings set = { .mode = MC_SCAN_PARTS };
	unsigned char id[32];
	char *path;
	bool stale;
	int ret;

	det->cache = mc_cache_new(g->cache_size > 0 ? g->cache_size : WATCH_CACHE_MEMORY);
	set.cache = det->cache;
	mc_cli_engine_confine(g, det->ops, &set);
	det->ops->configure(det->engine, &set);
	if (det->ops->identity(det->engine, id, error_r) < 0)
		return -1;
	mc_hex(id, 32, det->identity);
	path = verdicts_path(w);
	ret = mc_cache_load(det->cache, path, id, &stale, error_r);
	free(path);
	if (ret < 0)
		return -1;
	return det->ops->load != NULL ? det->ops->load(det->engine, error_r) : 0;
}

int watch_engine_open(struct watch *w, struct watch_engine **det_r)
{
	const struct mc_global *g = w->g;
	struct watch_engine *det = watch_xcalloc(1, sizeof(*det));
	char *error = NULL;
	bool clamd;

	det->ops = mc_cli_engine_ops(g);
	clamd = det->ops == &mc_engine_clamd;
	if (det->ops->open(clamd ? g->clamds : g->databases,
			   clamd ? g->clamd_count : g->database_count,
			   &g->limits, &det->engine, &error) < 0 ||
	    det_setup(w, det, &error) < 0) {
		watch_log(w, LOG_ERR, "detection set not loaded: %s", error);
		free(error);
		watch_engine_close(w, &det);
		return -1;
	}
	*det_r = det;
	return 0;
}

void watch_engine_close(struct watch *w, struct watch_engine **detp)
{
	struct watch_engine *det = *detp;

	(void)w;
	if (det == NULL)
		return;
	if (det->engine != NULL)
		det->ops->close(&det->engine);
	mc_cache_free(&det->cache);
	free(det);
	*detp = NULL;
}

void watch_engine_save(struct watch *w)
{
	char *path = verdicts_path(w), *error = NULL;

	if (!w->g->dry_run && mc_cache_save(w->det->cache, path, &error) < 0) {
		watch_log(w, LOG_ERR, "%s", error);
		free(error);
	}
	free(path);
}
