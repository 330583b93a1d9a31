/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	watch_engine 3
/* SUMMARY
/*	mailcure watch: detection sets, loaded beside each other
/* SYNOPSIS
/*	#include <limits.h>

#include "watch.h"
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
/*	With --yara and --ioc the rules and indicators are part of the
/*	set: its identity covers their files (names, sizes, inodes and
/*	times, looked at again every few seconds, so that a changed rule
/*	or feed file is noticed without a reload), and a change runs
/*	them again over every message of the window.
/*
/*	The verdicts of the current set are kept in STATE/watch/verdicts
/*	(lib/cache.c: written atomically, bound to the identity): a
/*	restart with the same signatures rescans nothing, one with other
/*	signatures begins a detection change.
/*--*/

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <limits.h>

#include "watch.h"

/* A growing string. */
struct stamp_buf {
	char *s;
	size_t len;
};

/* Part verdicts kept in memory (about 250,000 parts): as many as a
   busy server's window holds unique parts. One evicted is scanned
   again at the next re-check; a larger table costs its size at every
   save. */
#define WATCH_CACHE_MEMORY (16U << 20)

static char *verdicts_path(const struct watch *w)
{
	return mc_xasprintf("%s/verdicts", w->dir);
}

static void stamp_add(struct stamp_buf *b, const char *path, const struct stat *st)
{
	char line[PATH_MAX + 96];
	int n = snprintf(line, sizeof(line), "%s\t%lld\t%lld.%09ld\t%llu\n", path,
			 (long long)st->st_size, (long long)st->st_mtim.tv_sec,
			 st->st_mtim.tv_nsec, (unsigned long long)st->st_ino);

	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	b->s = realloc(b->s, b->len + (size_t)n + 1);
	if (b->s == NULL)
		abort();
	memcpy(b->s + b->len, line, (size_t)n + 1);
	b->len += (size_t)n;
}

/* Stamp the files PATHS and the files of those that are directories. */
static void stamp_paths(struct stamp_buf *b, const char *const *paths, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		struct stat st;
		struct dirent **names;
		int n;

		if (stat(paths[i], &st) < 0)
			continue;
		stamp_add(b, paths[i], &st);
		if (!S_ISDIR(st.st_mode) || (n = scandir(paths[i], &names, NULL, alphasort)) < 0)
			continue;
		for (int k = 0; k < n; k++) {
			char *path = mc_xasprintf("%s/%s", paths[i], names[k]->d_name);

			if (names[k]->d_name[0] != '.' && stat(path, &st) == 0)
				stamp_add(b, path, &st);
			free(path);
			free(names[k]);
		}
		free(names);
	}
}

/* The stamp of the --yara and --ioc files (a MISP feed is a directory). */
static void rules_stamp(const struct mc_global *g, char hex[65])
{
	struct stamp_buf b = { NULL, 0 };
	unsigned char sum[32];

	stamp_paths(&b, g->yara_paths, g->yara_count);
	stamp_add(&b, "--ioc", &(struct stat){ 0 });
	stamp_paths(&b, g->ioc_paths, g->ioc_count);
	mc_sha256(b.s != NULL ? b.s : "", b.len, sum);
	mc_hex(sum, 32, hex);
	free(b.s);
}

bool watch_engine_rules_changed(struct watch *w, const struct watch_engine *det)
{
	char now[65];

	if (w->g->yara_count == 0 && w->g->ioc_count == 0)
		return false;
	rules_stamp(w->g, now);
	return strcmp(now, det->rules_stamp) != 0;
}

/* Read the indicator files; what each gave goes to the log. */
static int ioc_setup(struct watch *w, struct watch_engine *det, char **error_r)
{
	const struct mc_global *g = w->g;

	det->ioc = mc_ioc_set_new();
	for (size_t i = 0; i < g->ioc_count; i++) {
		if (mc_ioc_set_load(det->ioc, g->ioc_paths[i], error_r) < 0)
			return -1;
	}
	watch_log(w, LOG_INFO, "%zu indicators from %zu --ioc files",
		  mc_ioc_set_count(det->ioc), g->ioc_count);
	return 0;
}

/* Compile the rules and read the indicators (taking their stamp
   first: a file changed meanwhile is then noticed again) and fold
   them into the identity. */
static int rules_setup(struct watch *w, struct watch_engine *det, char **error_r)
{
	const struct mc_global *g = w->g;
	char both[130], *error = NULL;
	unsigned char sum[32];

	if (g->yara_count == 0 && g->ioc_count == 0)
		return 0;
	rules_stamp(g, det->rules_stamp);
	if (g->yara_count > 0) {
		if (mc_yara_open(g->yara_paths, g->yara_count, &g->limits, &det->yara,
				 error_r) < 0)
			return -1;
		if (mc_yara_start(det->yara, mc_cli_cpus(), &error) < 0) {
			watch_log(w, LOG_INFO, "%s; rules run in watch", error);
			free(error);
		}
	}
	if (g->ioc_count > 0 && ioc_setup(w, det, error_r) < 0)
		return -1;
	snprintf(both, sizeof(both), "%s%s", det->identity, det->rules_stamp);
	mc_sha256(both, strlen(both), sum);
	mc_hex(sum, 32, det->identity);
	return 0;
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
	if (ret < 0 || rules_setup(w, det, error_r) < 0)
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
	mc_yara_close(&det->yara);
	mc_ioc_set_free(&det->ioc);
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
