/*++
/* NAME
/*	clamav 3
/* SUMMARY
/*	the embedded libclamav detection engine
/* SYNOPSIS
/*	extern const struct mc_engine_ops mc_engine_clamav;
/* DESCRIPTION
/*	Loads the signature databases named by the caller (files or
/*	directories: .cvd .cld .hdb .hsb .ndb .ldb ...) once, compiles
/*	them into one engine and scans buffers or file descriptors with
/*	it from any number of threads (libclamav engines are read-only
/*	and thread-safe once compiled).
/*
/*	Scan options follow clamscan's defaults (all parsers, heuristic
/*	alerts), so the detected set equals clamscan's on the same
/*	signatures, plus one: CL_SCAN_HEURISTIC_EXCEEDS_MAX. With it a
/*	file that reaches a limit (size, recursion, file count) is not
/*	silently passed as clean; its "Heuristics.Limits.Exceeded.*"
/*	alert becomes the verdict unscanned(why), as does a scan that
/*	runs out of time.
/*
/*	scan_message() gives libclamav's verdict on a mail message
/*	without libclamav's own mail parser, which is most of the cost
/*	of a mail scan: the message's parts are decoded once (facts),
/*	and libclamav scans each decoded part from memory, then the raw
/*	message with mail parsing off. That is the set of scans
/*	libclamav's parser makes (the parts, in order, then the raw
/*	file), so the verdict is the same. It is reproduced only where
/*	it can be: a message whose MIME is irregular (mc_facts_regular),
/*	that libclamav would not type as mail, or that comes near an
/*	engine limit (files, bytes, nesting, time: a part scanned alone
/*	starts one level higher) is scanned whole, as is every message
/*	in MC_SCAN_WHOLE mode. A part's verdict is taken from the
/*	verdict cache when the same bytes were scanned before.
/* DIAGNOSTICS
/*	open() fails with a reason naming freshclam when no database is
/*	found, and with libclamav's reason when a database is broken.
/*	libclamav's own log messages are not printed.
/*--*/

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <clamav.h>

#include "mailcure/mailcure.h"
#include "internal.h"

struct mc_engine {
	struct cl_engine *cl;
	struct cl_scan_options options;
	struct cl_scan_options raw_options;	/* without the mail parser */
	struct mc_limits limits;
	unsigned signatures;
	char version[64];
	char **db_paths;
	size_t db_count;
	unsigned char db_stamp[32];	/* of the files before loading */
	bool db_stamped;

	struct mc_engine_settings settings;
	struct mc_engine_stats stats;		/* atomic counters */
};

/* What one scan went through, from libclamav's file inspection
   callback: one call per file (layer) scanned. */
struct layers {
	uint64_t bytes;
	uint32_t files;
	uint32_t depth;		/* deepest recursion level */
	bool top_is_mail;	/* the scanned buffer itself typed as mail */
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static cl_error_t init_result;

static void clamav_quiet(enum cl_msg severity, const char *fullmsg,
			 const char *msg, void *context)
{
	/* The library does not print: libclamav's warnings about odd
	   input files are expected during an outbreak scan. */
}

static void clamav_init_once(void)
{
	cl_set_clcb_msg(clamav_quiet);
	init_result = cl_init(CL_INIT_DEFAULT);
}

static int set_limit(struct cl_engine *cl, enum cl_engine_field field,
		     long long value, const char *what, char **error_r)
{
	cl_error_t ret = cl_engine_set_num(cl, field, value);

	if (ret != CL_SUCCESS)
		return mc_error_set(error_r, "clamav: cannot set %s: %s", what,
				    cl_strerror(ret));
	return 0;
}

static cl_error_t count_layer(int fd, const char *type, const char **ancestors,
			      size_t parent_file_size, const char *file_name,
			      size_t file_size, const char *file_buffer,
			      uint32_t recursion_level, uint32_t layer_attributes,
			      void *context)
{
	struct layers *l = context;

	if (l == NULL)
		return CL_CLEAN;
	l->files++;
	l->bytes += file_size;
	if (recursion_level > l->depth)
		l->depth = recursion_level;
	if (recursion_level == 0)
		l->top_is_mail = type != NULL && strcmp(type, "CL_TYPE_MAIL") == 0;
	return CL_CLEAN;
}

static bool has_database(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 &&
		(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
}

typedef int db_file_fn(EVP_MD_CTX *ck, const char *path, const char *name,
		       const struct stat *st, char **error_r);
static db_file_fn hash_stamp;
static int db_digest(char *const *paths, size_t count, db_file_fn *fn,
		     const char *head, unsigned char out[32], char **error_r);
static void clamav_close(struct mc_engine **engine);

static int clamav_open(const char *const *db_paths, size_t db_count,
		       const struct mc_limits *limits,
		       struct mc_engine **engine_r, char **error_r)
{
	static const char *const default_paths[] = { MC_DEFAULT_DATABASE };
	struct mc_engine *engine;
	char *stamp_error;
	cl_error_t ret;

	pthread_once(&init_once, clamav_init_once);
	if (init_result != CL_SUCCESS)
		return mc_error_set(error_r, "clamav: cannot initialise libclamav: %s",
				    cl_strerror(init_result));
	if (db_count == 0) {
		db_paths = default_paths;
		db_count = 1;
	}
	engine = mc_xcalloc(1, sizeof(*engine));
	engine->cl = cl_engine_new();
	if (engine->cl == NULL) {
		free(engine);
		return mc_error_set(error_r, "clamav: cannot create engine");
	}
	engine->db_paths = mc_xcalloc(db_count + 1, sizeof(char *));
	for (size_t i = 0; i < db_count; i++)
		engine->db_paths[engine->db_count++] = mc_xstrdup(db_paths[i]);
	/* A missing database is reported by the load below. */
	stamp_error = NULL;
	engine->db_stamped = db_digest(engine->db_paths, engine->db_count,
				       hash_stamp, "", engine->db_stamp,
				       &stamp_error) == 0;
	free(stamp_error);
	for (size_t i = 0; i < db_count; i++) {
		unsigned before = engine->signatures;

		if (!has_database(db_paths[i])) {
			mc_error_errno(error_r,
				"no signature database at %s (install clamav-freshclam "
				"and run freshclam, or give -d PATH)", db_paths[i]);
			goto fail;
		}
		ret = cl_load(db_paths[i], engine->cl, &engine->signatures,
			      CL_DB_STDOPT);
		if (ret != CL_SUCCESS) {
			mc_error_set(error_r, "clamav: cannot load %s: %s",
				     db_paths[i], cl_strerror(ret));
			goto fail;
		}
		if (engine->signatures == before) {
			mc_error_set(error_r,
				"no signatures found in %s (run freshclam to download "
				"them, or give -d PATH)", db_paths[i]);
			goto fail;
		}
	}
	if (set_limit(engine->cl, CL_ENGINE_MAX_SCANSIZE, (long long)limits->max_scan_size, "max scan size", error_r) < 0 ||
	    set_limit(engine->cl, CL_ENGINE_MAX_FILESIZE, (long long)limits->max_file_size, "max file size", error_r) < 0 ||
	    set_limit(engine->cl, CL_ENGINE_MAX_RECURSION, limits->max_recursion, "max recursion", error_r) < 0 ||
	    set_limit(engine->cl, CL_ENGINE_MAX_FILES, limits->max_files, "max files", error_r) < 0 ||
	    set_limit(engine->cl, CL_ENGINE_MAX_SCANTIME, limits->max_scan_time_ms, "max scan time", error_r) < 0)
		goto fail;
	/* libclamav's own cache of clean files (by MD5) would remember the
	   same parts a second time, beside the verdict cache, and keeps
	   growing to 65,536 entries over a large store. (Scanning whole
	   messages turns it back on: see clamav_configure.) */
	if (cl_engine_set_num(engine->cl, CL_ENGINE_DISABLE_CACHE, 1) != CL_SUCCESS) {
		mc_error_set(error_r, "clamav: cannot turn off its clean-file cache");
		goto fail;
	}
	ret = cl_engine_compile(engine->cl);
	if (ret != CL_SUCCESS) {
		mc_error_set(error_r, "clamav: cannot compile the signatures: %s",
			     cl_strerror(ret));
		goto fail;
	}
	cl_engine_set_clcb_file_inspection(engine->cl, count_layer);
	engine->options.general = CL_SCAN_GENERAL_HEURISTICS;
	engine->options.parse = ~0U;
	engine->options.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;
	engine->raw_options = engine->options;
	engine->raw_options.parse &= ~(unsigned)CL_SCAN_PARSE_MAIL;
	engine->limits = *limits;
	snprintf(engine->version, sizeof(engine->version), "clamav-%s/db-%lld",
		 cl_retver(), cl_engine_get_num(engine->cl, CL_ENGINE_DB_VERSION, NULL));
	*engine_r = engine;
	return 0;
fail:
	clamav_close(&engine);
	return -1;
}

static void verdict_from(cl_error_t ret, const char *virname,
			 struct mc_verdict *verdict_r)
{
	memset(verdict_r, 0, sizeof(*verdict_r));
	switch (ret) {
	case CL_CLEAN:
		verdict_r->kind = MC_VERDICT_CLEAN;
		return;
	case CL_VIRUS:
		if (virname != NULL &&
		    strncmp(virname, "Heuristics.Limits.Exceeded", 26) == 0) {
			verdict_r->kind = MC_VERDICT_UNSCANNED;
			snprintf(verdict_r->name, sizeof(verdict_r->name),
				 "engine limit reached (%s)", virname);
			return;
		}
		verdict_r->kind = MC_VERDICT_INFECTED;
		snprintf(verdict_r->name, sizeof(verdict_r->name), "%s",
			 virname != NULL ? virname : "unknown");
		return;
	case CL_ETIMEOUT:
		verdict_r->kind = MC_VERDICT_UNSCANNED;
		snprintf(verdict_r->name, sizeof(verdict_r->name),
			 "engine scan time limit reached");
		return;
	case CL_EMAXREC:
	case CL_EMAXSIZE:
	case CL_EMAXFILES:
		verdict_r->kind = MC_VERDICT_UNSCANNED;
		snprintf(verdict_r->name, sizeof(verdict_r->name),
			 "engine limit reached: %s", cl_strerror(ret));
		return;
	default:
		verdict_r->kind = MC_VERDICT_ERROR;
		snprintf(verdict_r->name, sizeof(verdict_r->name),
			 "engine error: %s", cl_strerror(ret));
		return;
	}
}

/* Scan DATA from memory with OPTIONS; LAYERS (may be NULL) learns
   what the scan went through. */
static void scan_memory(struct mc_engine *engine, const void *data, size_t size,
			const struct cl_scan_options *opts, struct layers *layers,
			struct mc_verdict *verdict_r)
{
	struct cl_scan_options options = *opts;
	const char *virname = NULL;
	unsigned long scanned = 0;
	cl_fmap_t *map;
	cl_error_t ret;

	/* Empty data maps to nothing; it holds nothing to detect. */
	if (size == 0) {
		verdict_from(CL_CLEAN, NULL, verdict_r);
		return;
	}
	map = cl_fmap_open_memory(data, size);
	if (map == NULL) {
		verdict_from(CL_EMEM, NULL, verdict_r);
		return;
	}
	ret = cl_scanmap_callback(map, NULL, &virname, &scanned, engine->cl,
				  &options, layers);
	verdict_from(ret, virname, verdict_r);
	cl_fmap_close(map);
}

static void clamav_scan_buffer(struct mc_engine *engine, const void *data,
			       size_t size, struct mc_verdict *verdict_r)
{
	scan_memory(engine, data, size, &engine->options, NULL, verdict_r);
}

static void count(uint64_t *counter)
{
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

/* The header names libclamav's file typing recognises as mail at
   offset 0 (its built-in file type magic): a message that starts
   otherwise may not be parsed as mail by libclamav at all. */
static bool starts_as_mail(const unsigned char *p, size_t len)
{
	static const char *const magic[] = {
		"Received: ", "Return-Path: ", "Return-path: ", "Delivered-To: ",
		"From: ", "From ", ">From ", "Date: ", "Subject: ", "To: ",
		"Message-ID: ", "Message-Id: ", "Delivery-date: ", "Envelope-to: ",
		"X-Original-To: ", "X-Envelope-From: ", "X-Real-To: ",
		"X-Apparently-To: ", "X-Sieve: ", "X-UIDL: ", "Received-SPF: ",
	};

	for (size_t i = 0; i < sizeof(magic) / sizeof(magic[0]); i++) {
		size_t n = strlen(magic[i]);
		if (len >= n && memcmp(p, magic[i], n) == 0)
			return true;
	}
	return false;
}

/* Whether the engine's limits could have been reached had these
   layers been scanned inside the message, where every part sits one
   level deeper and all parts share one budget. Half the limit is
   the margin: near a limit the message is scanned whole, so that
   libclamav itself decides. */
static bool near_limits(const struct mc_engine *engine,
			const struct layers *total, uint32_t part_depth)
{
	const struct mc_limits *lim = &engine->limits;

	return total->files * 2 >= lim->max_files ||
		total->bytes * 2 >= lim->max_scan_size ||
		part_depth + 3 >= lim->max_recursion;
}

static void scan_whole(struct mc_engine *engine, const struct mc_msg *msg,
		       struct mc_verdict *verdict_r)
{
	count(&engine->stats.messages_whole);
	scan_memory(engine, msg->data != NULL ? (const void *)msg->data : "",
		    msg->size, &engine->options, NULL, verdict_r);
}

static void verdict_from_cache(const struct mc_cache_entry *e,
			       struct mc_verdict *verdict_r)
{
	memset(verdict_r, 0, sizeof(*verdict_r));
	verdict_r->kind = e->kind;
	if (e->kind == MC_VERDICT_INFECTED)
		snprintf(verdict_r->name, sizeof(verdict_r->name), "%s", e->name);
}

/* The verdict on one part: from the cache, else from a scan that is
   then cached. Returns false when the part's scan did not give a
   clean or infected verdict (a limit, an error): the message must
   then be scanned whole. */
static bool part_verdict(struct mc_engine *engine, const struct mc_part *part,
			 struct layers *total, struct mc_verdict *verdict_r)
{
	struct mc_cache *cache = engine->settings.cache;
	struct mc_cache_entry e;
	struct layers l;

	if (cache != NULL && mc_cache_get(cache, part->sha256, &e)) {
		count(&engine->stats.parts_cached);
		verdict_from_cache(&e, verdict_r);
		total->files += e.files;
		total->bytes += e.bytes;
		if (e.depth > total->depth)
			total->depth = e.depth;
		return true;
	}
	memset(&l, 0, sizeof(l));
	count(&engine->stats.parts_scanned);
	scan_memory(engine, part->content, part->content_size, &engine->options,
		    &l, verdict_r);
	if (verdict_r->kind != MC_VERDICT_CLEAN &&
	    verdict_r->kind != MC_VERDICT_INFECTED)
		return false;
	total->files += l.files;
	total->bytes += l.bytes;
	if (l.depth > total->depth)
		total->depth = l.depth;
	if (cache != NULL) {
		e.kind = verdict_r->kind;
		e.name = verdict_r->name;
		e.bytes = l.bytes;
		e.files = l.files;
		e.depth = l.depth;
		mc_cache_put(cache, part->sha256, &e);
	}
	return true;
}

/* The cache key of a message's verdict: not the SHA-256 of its bytes,
   which is the key of a part with the same bytes (an attached
   message), whose verdict comes from a different scan. */
static void message_key(const struct mc_msg *msg, unsigned char key[32])
{
	static const char domain[] = "mailcure message verdict";
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, domain, sizeof(domain)) != 1 ||
	    EVP_DigestUpdate(ctx, msg->data, msg->size) != 1 ||
	    EVP_DigestFinal_ex(ctx, key, NULL) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
}

static void scan_message_parts(struct mc_engine *engine, const struct mc_msg *msg,
			       struct mc_facts *facts, struct mc_verdict *verdict_r);

static void clamav_scan_message(struct mc_engine *engine, const struct mc_msg *msg,
				struct mc_facts *facts, struct mc_verdict *verdict_r)
{
	struct mc_cache *cache = engine->settings.cache;
	struct mc_cache_entry e;
	unsigned char key[32];

	if (cache == NULL || !engine->settings.cache_messages ||
	    msg->data == NULL || msg->size == 0) {
		scan_message_parts(engine, msg, facts, verdict_r);
		return;
	}
	message_key(msg, key);
	if (mc_cache_get(cache, key, &e)) {
		count(&engine->stats.messages_cached);
		verdict_from_cache(&e, verdict_r);
		return;
	}
	scan_message_parts(engine, msg, facts, verdict_r);
	memset(&e, 0, sizeof(e));
	e.kind = verdict_r->kind;
	e.name = verdict_r->name;
	mc_cache_put(cache, key, &e);
}

static void scan_message_parts(struct mc_engine *engine, const struct mc_msg *msg,
			       struct mc_facts *facts, struct mc_verdict *verdict_r)
{
	const struct mc_part *parts;
	struct layers total, raw;
	const char *why;
	size_t count_parts;
	double start;

	if (engine->settings.mode == MC_SCAN_WHOLE || facts == NULL ||
	    msg->data == NULL || msg->size == 0 ||
	    !starts_as_mail(msg->data, msg->size) ||
	    !mc_facts_regular(facts, &why) ||
	    mc_facts_parts(facts, &parts, &count_parts, &why) < 0) {
		scan_whole(engine, msg, verdict_r);
		return;
	}
	start = mc_now();
	memset(&total, 0, sizeof(total));
	/* The parts first, in order, then the raw message: libclamav's
	   order, so the first signature found is the one it reports. */
	for (size_t i = 0; i < count_parts; i++) {
		const struct mc_part *part = &parts[i];

		/* An attached message is not scanned as a unit: its parts
		   follow it in the list, as libclamav's parser descends
		   into it, and its text is in the raw message. */
		if (strcmp(part->content_type, "message/rfc822") == 0 ||
		    strcmp(part->content_type, "message/global") == 0 ||
		    part->content_size == 0)
			continue;
		if (part->content_size >= engine->limits.max_file_size ||
		    !part_verdict(engine, part, &total, verdict_r) ||
		    near_limits(engine, &total, part->depth + total.depth)) {
			scan_whole(engine, msg, verdict_r);
			return;
		}
		if (verdict_r->kind == MC_VERDICT_INFECTED) {
			count(&engine->stats.messages_parts);
			return;
		}
	}
	memset(&raw, 0, sizeof(raw));
	count(&engine->stats.raw_scans);
	scan_memory(engine, msg->data, msg->size, &engine->raw_options, &raw,
		    verdict_r);
	if (!raw.top_is_mail ||
	    (verdict_r->kind != MC_VERDICT_CLEAN &&
	     verdict_r->kind != MC_VERDICT_INFECTED)) {
		/* Not typed as mail after all, or a limit: libclamav
		   decides on the whole message. */
		scan_whole(engine, msg, verdict_r);
		return;
	}
	if (engine->limits.max_scan_time_ms > 0 &&
	    (mc_now() - start) * 1000.0 > engine->limits.max_scan_time_ms) {
		memset(verdict_r, 0, sizeof(*verdict_r));
		verdict_r->kind = MC_VERDICT_UNSCANNED;
		snprintf(verdict_r->name, sizeof(verdict_r->name),
			 "engine scan time limit reached");
		return;
	}
	count(&engine->stats.messages_parts);
}

static void clamav_configure(struct mc_engine *engine,
			     const struct mc_engine_settings *settings)
{
	engine->settings = *settings;
	/* Whole messages go to libclamav, which walks their MIME itself:
	   the verdict cache sees no parts then, and libclamav's own cache
	   is what spares rescanning the ones that recur. */
	if (settings->mode == MC_SCAN_WHOLE)
		(void)cl_engine_set_num(engine->cl, CL_ENGINE_DISABLE_CACHE, 0);
	if (settings->tempdir != NULL)
		(void)cl_engine_set_str(engine->cl, CL_ENGINE_TMPDIR, settings->tempdir);
	engine->settings.tempdir = NULL;	/* not kept: the caller's string */
}

static void clamav_stats(struct mc_engine *engine, struct mc_engine_stats *stats_r)
{
	__atomic_load(&engine->stats.messages_parts, &stats_r->messages_parts, __ATOMIC_RELAXED);
	__atomic_load(&engine->stats.messages_whole, &stats_r->messages_whole, __ATOMIC_RELAXED);
	__atomic_load(&engine->stats.parts_scanned, &stats_r->parts_scanned, __ATOMIC_RELAXED);
	__atomic_load(&engine->stats.parts_cached, &stats_r->parts_cached, __ATOMIC_RELAXED);
	__atomic_load(&engine->stats.raw_scans, &stats_r->raw_scans, __ATOMIC_RELAXED);
	__atomic_load(&engine->stats.messages_cached, &stats_r->messages_cached, __ATOMIC_RELAXED);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Feed NAME and the contents of the regular file at PATH. */
static int hash_content(EVP_MD_CTX *ck, const char *path, const char *name,
			const struct stat *st, char **error_r)
{
	unsigned char buf[65536];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return mc_error_errno(error_r, "signature database %s", path);
	EVP_DigestUpdate(ck, name, strlen(name) + 1);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ck, buf, (size_t)n);
	close(fd);
	if (n < 0)
		return mc_error_errno(error_r, "signature database %s", path);
	return 0;
}

/* Feed NAME and what identifies this version of the file (a new
   download is a new inode, size or time). */
static int hash_stamp(EVP_MD_CTX *ck, const char *path, const char *name,
		      const struct stat *st, char **error_r)
{
	char stamp[512];

	snprintf(stamp, sizeof(stamp), "%s %llu %lld %lld.%09ld", name,
		 (unsigned long long)st->st_ino, (long long)st->st_size,
		 (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	EVP_DigestUpdate(ck, stamp, strlen(stamp) + 1);
	return 0;
}

/* FN for every signature file: a file given, or a directory's regular
   files in name order (what cl_load reads of it is a subset: a change
   to any of them counts). */
static int each_db_file(char *const *paths, size_t count, db_file_fn *fn,
			EVP_MD_CTX *ck, char **error_r)
{
	int ret = 0;

	for (size_t i = 0; i < count && ret == 0; i++) {
		struct stat st;
		DIR *dir;
		struct dirent *de;
		char **names = NULL;
		size_t n = 0, cap = 0;

		if (stat(paths[i], &st) < 0)
			return mc_error_errno(error_r, "signature database %s", paths[i]);
		if (!S_ISDIR(st.st_mode)) {
			ret = fn(ck, paths[i], paths[i], &st, error_r);
			continue;
		}
		if ((dir = opendir(paths[i])) == NULL)
			return mc_error_errno(error_r, "signature database %s", paths[i]);
		while ((de = readdir(dir)) != NULL)
			MC_ARRAY_PUSH(names, n, cap, mc_xstrdup(de->d_name));
		closedir(dir);
		qsort(names, n, sizeof(*names), cmp_str);
		for (size_t k = 0; k < n; k++) {
			char *full = mc_xasprintf("%s/%s", paths[i], names[k]);
			if (ret == 0 && lstat(full, &st) == 0 && S_ISREG(st.st_mode))
				ret = fn(ck, full, names[k], &st, error_r);
			free(full);
			free(names[k]);
		}
		free(names);
	}
	return ret;
}

static int db_digest(char *const *paths, size_t count, db_file_fn *fn,
		     const char *head, unsigned char out[32], char **error_r)
{
	EVP_MD_CTX *ck = EVP_MD_CTX_new();
	int ret;

	if (ck == NULL || EVP_DigestInit_ex(ck, EVP_sha256(), NULL) != 1)
		abort();
	EVP_DigestUpdate(ck, head, strlen(head) + 1);
	ret = each_db_file(paths, count, fn, ck, error_r);
	EVP_DigestFinal_ex(ck, out, NULL);
	EVP_MD_CTX_free(ck);
	return ret;
}

/* The identity stamps the signature files as they were when they were
   loaded: files replaced meanwhile (freshclam) would otherwise give
   the old signatures' verdicts the new signatures' identity. */
static int clamav_identity(struct mc_engine *engine, unsigned char out[32],
			   char **error_r)
{
	unsigned char stamp[32];
	char head[512];

	snprintf(head, sizeof(head),
		 "%s mode=%d sigs=%u general=%x parse=%x heuristic=%x mail=%x "
		 "scansize=%llu filesize=%llu recursion=%u files=%u",
		 engine->version, (int)engine->settings.mode, engine->signatures,
		 engine->options.general,
		 engine->options.parse, engine->options.heuristic,
		 engine->options.mail,
		 (unsigned long long)engine->limits.max_scan_size,
		 (unsigned long long)engine->limits.max_file_size,
		 engine->limits.max_recursion, engine->limits.max_files);
	if (db_digest(engine->db_paths, engine->db_count, hash_content, head,
		      out, error_r) < 0 ||
	    db_digest(engine->db_paths, engine->db_count, hash_stamp, "",
		      stamp, error_r) < 0)
		return -1;
	if (!engine->db_stamped || memcmp(stamp, engine->db_stamp, 32) != 0)
		return mc_error_set(error_r, "the signature databases changed while "
				    "they were loaded; run mailcure again");
	return 0;
}

static void clamav_scan_fd(struct mc_engine *engine, int fd, const char *name,
			   struct mc_verdict *verdict_r)
{
	struct cl_scan_options options = engine->options;
	const char *virname = NULL;
	unsigned long scanned = 0;
	cl_error_t ret;

	ret = cl_scandesc_callback(fd, name, &virname, &scanned, engine->cl,
				   &options, NULL);
	verdict_from(ret, virname, verdict_r);
}

static const char *clamav_version(struct mc_engine *engine, unsigned *sigs_r)
{
	if (sigs_r != NULL)
		*sigs_r = engine->signatures;
	return engine->version;
}

static void clamav_close(struct mc_engine **_engine)
{
	struct mc_engine *engine = *_engine;

	if (engine == NULL)
		return;
	*_engine = NULL;
	cl_engine_free(engine->cl);
	for (size_t i = 0; i < engine->db_count; i++)
		free(engine->db_paths[i]);
	free(engine->db_paths);
	free(engine);
}

const struct mc_engine_ops mc_engine_clamav = {
	.name = "clamav",
	.open = clamav_open,
	.scan_buffer = clamav_scan_buffer,
	.scan_fd = clamav_scan_fd,
	.scan_message = clamav_scan_message,
	.configure = clamav_configure,
	.identity = clamav_identity,
	.stats = clamav_stats,
	.version = clamav_version,
	.close = clamav_close,
};
