/* SPDX-License-Identifier: GPL-2.0-or-later */
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
/*	open() only looks at the files; the signatures are loaded at
/*	the first scan that needs them, or when load() asks: with scan
/*	processes, in their zygote (the caller holds no copy), else in
/*	the caller. A run whose verdicts all come from the verdict cache
/*	never loads them: the cache's identity is the files' stamp
/*	taken at open (clamav_db), and the load fails when they are no
/*	longer those files. stats() says how many signatures were
/*	loaded and how long that took.
/*
/*	Scan options follow clamscan's defaults (all parsers, heuristic
/*	alerts), so the detected set equals clamscan's on the same
/*	signatures, plus one: CL_SCAN_HEURISTIC_EXCEEDS_MAX. With it a
/*	file that reaches a limit (size, recursion, file count) is not
/*	silently passed as clean; its "Heuristics.Limits.Exceeded.*"
/*	alert becomes the verdict unscanned(why), as does a scan that
/*	runs out of time. Some of libclamav's unpackers reach the max
/*	file size without that alert: the zip unpacker cuts a member
/*	at the limit and scans the rest as if it were all. So the
/*	engine watches for it itself, through libclamav's callbacks:
/*	an archive member that declares more than the max file size, an
/*	unpacked file that ends within CUT_MARGIN of it, or files that
/*	together come that close to the max scan size make a clean
/*	verdict unscanned, named as libclamav names the limit. A buffer
/*	or file over the max file size is not given to libclamav at
/*	all: it is unscanned.
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
/*	verdict cache when the same bytes were scanned before; one that
/*	reached a limit is never cached, nor is a message's.
/*
/*	In MC_SCAN_WHOLE mode each scan process keeps libclamav's own
/*	cache of clean files (by MD5), which spares rescanning the
/*	attachments that recur. libclamav would remember there as clean
/*	an archive whose member it cut: after such a scan that process
/*	scans without its cache.
/*
/*	With settings.scan_processes, libclamav runs in that many
/*	processes of their own (scanpool), for buffers, messages and
/*	files (scan_fd() passes the descriptor), as settings.scan_uid
/*	when it is set: a crash of libclamav is the verdict error on
/*	what it was scanning, a scan that outlives twice the scan time
/*	limit is killed, and the run goes on. The pool is forked by
/*	configure(), which must therefore be called before the caller
/*	starts threads.
/* DIAGNOSTICS
/*	open() fails with a reason naming freshclam when no database is
/*	found; load() with libclamav's reason when a database is broken,
/*	and a scan that needed it has the verdict error with that
/*	reason. libclamav's own log messages are not printed.
/*--*/

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <clamav.h>

#include "mailcure/mailcure.h"
#include "internal.h"

/* How the signatures' load went, wherever they were loaded (the
   zygote, or this process): a page shared with the zygote. */
struct load_info {
	int state;		/* 0: not loaded, 1: loaded, -1: failed */
	unsigned signatures;
	double seconds;
};

struct mc_engine {
	struct cl_engine *cl;		/* NULL: not loaded in this process */
	pthread_mutex_t load_lock;	/* to load it here */
	struct load_info *info;
	struct cl_scan_options options;
	struct cl_scan_options raw_options;	/* without the mail parser */
	struct mc_limits limits;
	char version[64];
	char **db_paths;
	size_t db_count;
	unsigned char db_stamp[32];	/* of the files at open */
	char *tempdir;			/* settings.tempdir */
	char *load_error;		/* why it could not be loaded here */
	bool ac_only;			/* no Boyer-Moore matcher */
	bool clean_cache;		/* libclamav's own cache is on */
	uint64_t max_file_size;		/* libclamav's, as it took them; */
	uint64_t max_scan_size;		/* 0: no limit */

	struct mc_engine_settings settings;
	struct mc_engine_stats stats;		/* atomic counters */
	struct mc_scanpool *pool;		/* NULL: scan in this process */
	char *scan_tempdir;			/* with settings.scan_uid */
};

/* Whether a leak checker runs at exit (AddressSanitizer's). */
#if defined(__SANITIZE_ADDRESS__)
#define LEAK_CHECKED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LEAK_CHECKED 1
#endif
#endif
#ifndef LEAK_CHECKED
#define LEAK_CHECKED 0
#endif

/* What one scan went through, from libclamav's file inspection
   callback: one call per file (layer) scanned. */
struct layers {
	uint64_t bytes;
	uint32_t files;
	uint32_t depth;		/* deepest recursion level */
	bool top_is_mail;	/* the scanned buffer itself typed as mail */
};

/* The context of libclamav's callbacks during one scan: what it
   went through, and the limits it reached without saying so. */
struct scan_state {
	const struct mc_engine *engine;
	struct layers layers;
	uint64_t declared;	/* an archive member over the max file size */
	uint64_t cut;		/* an unpacked file that ends at it */
};

/* libclamav's unpackers stop at the max file size on a block
   boundary of their output (a few KiB: BUFSIZ for zip and bzip2),
   or exactly at it: an unpacked file that ends this close to the
   limit may have been cut there. */
#define CUT_MARGIN ((uint64_t)64 << 10)

/* A message's scan is planned by the caller, which has the verdict
   cache, and run where libclamav runs: the parts in order, each
   answered by the cache, by an earlier part with the same bytes, or
   scanned; then the raw message. A plan of up to PLAN_MAX parts is
   one exchange with a scan process, whatever its number of parts. */
#define PLAN_MAX 64

enum plan_how { PLAN_SCAN, PLAN_CACHED, PLAN_SAME, PLAN_TOO_BIG };

struct plan_part {
	uint64_t size;
	uint32_t depth;		/* of the part in the message's MIME tree */
	uint16_t same;		/* PLAN_SAME: the earlier part */
	uint8_t how;
	uint8_t kind;		/* its verdict (PLAN_CACHED: from the cache) */
	bool scanned;		/* out: scanned, to be cached */
	struct layers layers;	/* what its scan went through */
};

enum plan_outcome {
	PLAN_DONE,		/* the verdict is the result's */
	PLAN_WHOLE,		/* scan the message whole */
	PLAN_CACHED_INFECTED,	/* the verdict is this part's cached one */
	PLAN_UNFINISHED,	/* no verdict of the scan: the result's
				   says why (time limit, crash) */
};

struct plan_result {
	uint32_t outcome;
	uint32_t reached;	/* parts looked at */
	uint32_t infected_part;	/* PLAN_CACHED_INFECTED */
	bool raw_scanned;
	struct mc_verdict verdict;
};

/* A scan as asked of a scan process, and its answer. */
enum { POOL_BUFFER, POOL_MESSAGE, POOL_FILE };

struct pool_request {
	uint32_t op;
	uint32_t raw;			/* POOL_BUFFER: with raw_options */
	uint32_t want_layers;		/* POOL_BUFFER */
	uint32_t count;			/* POOL_MESSAGE: parts in the plan */
	uint64_t raw_size;		/* the message, first in the data;
					   then the parts to scan, in order */
	struct plan_part parts[PLAN_MAX];
};

struct pool_response {
	struct mc_verdict verdict;	/* POOL_BUFFER, POOL_FILE */
	struct layers layers;
	struct plan_result result;	/* POOL_MESSAGE */
	struct plan_part parts[PLAN_MAX];
};

typedef void scan_fn(struct mc_engine *engine, const void *data, size_t size,
		     const struct cl_scan_options *opts, struct layers *layers,
		     struct mc_verdict *verdict_r);
static scan_fn scan_memory_here;
static void run_plan(struct mc_engine *engine, scan_fn *scan,
		     const unsigned char *const *data, struct plan_part *parts,
		     uint32_t count, const unsigned char *raw, size_t raw_size,
		     struct plan_result *res);

static cl_error_t count_layer(int fd, const char *type, const char **ancestors,
			      size_t parent_file_size, const char *file_name,
			      size_t file_size, const char *file_buffer,
			      uint32_t recursion_level, uint32_t layer_attributes,
			      void *context)
{
	struct scan_state *s = context;
	struct layers *l = &s->layers;
	uint64_t max = s->engine->max_file_size;

	l->files++;
	l->bytes += file_size;
	if (recursion_level > l->depth)
		l->depth = recursion_level;
	if (recursion_level == 0)
		l->top_is_mail = type != NULL && strcmp(type, "CL_TYPE_MAIL") == 0;
	else if (max > 0 && file_size + CUT_MARGIN >= max && file_size > s->cut)
		s->cut = file_size;
	return CL_CLEAN;
}

/* An archive member's header, before it is unpacked: one that says
   it is larger than the max file size will be cut or skipped. */
static cl_error_t note_member(const char *container_type,
			      unsigned long fsize_container, const char *filename,
			      unsigned long fsize_real, int is_encrypted,
			      unsigned int filepos_container, void *context)
{
	struct scan_state *s = context;

	if (s->engine->max_file_size > 0 && fsize_real > s->engine->max_file_size &&
	    fsize_real > s->declared)
		s->declared = fsize_real;
	return CL_CLEAN;
}

static void clamav_close(struct mc_engine **engine);

/* The matchers, as the summary and the cache identity name them. */
static const char *matcher_name(const struct mc_engine *engine)
{
	return engine->ac_only ? "aho-corasick" : "boyer-moore+aho-corasick";
}

static int clamav_open(const char *const *db_paths, size_t db_count,
		       const struct mc_limits *limits,
		       struct mc_engine **engine_r, char **error_r)
{
	static const char *const default_paths[] = { MC_DEFAULT_DATABASE };
	struct mc_engine *engine;

	if (db_count == 0) {
		db_paths = default_paths;
		db_count = 1;
	}
	if (mc_clamav_db_init(error_r) < 0 ||
	    mc_clamav_db_check(db_paths, db_count, error_r) < 0)
		return -1;
	engine = mc_xcalloc(1, sizeof(*engine));
	engine->info = mmap(NULL, sizeof(*engine->info), PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (engine->info == MAP_FAILED) {
		free(engine);
		return mc_error_errno(error_r, "clamav: cannot map memory");
	}
	pthread_mutex_init(&engine->load_lock, NULL);
	engine->db_paths = mc_xcalloc(db_count + 1, sizeof(char *));
	for (size_t i = 0; i < db_count; i++)
		engine->db_paths[engine->db_count++] = mc_xstrdup(db_paths[i]);
	if (mc_clamav_db_stamp(engine->db_paths, engine->db_count,
			       engine->db_stamp, error_r) < 0) {
		clamav_close(&engine);
		return -1;
	}
	engine->ac_only = mc_clamav_db_few_patterns(engine->db_paths, engine->db_count);
	engine->options.general = CL_SCAN_GENERAL_HEURISTICS;
	engine->options.parse = ~0U;
	engine->options.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;
	engine->raw_options = engine->options;
	engine->raw_options.parse &= ~(unsigned)CL_SCAN_PARSE_MAIL;
	engine->limits = *limits;
	snprintf(engine->version, sizeof(engine->version), "clamav-%s/db-%lu",
		 cl_retver(), mc_clamav_db_version(engine->db_paths, engine->db_count));
	*engine_r = engine;
	return 0;
}

/* Load and compile the signatures into a new libclamav engine: in the
   zygote (scan_prepare), or in this process for a scan that no scan
   process takes. Loading is most of a run's start-up (seconds with
   the official databases), and is left until a scan needs it. */
static int engine_load(struct mc_engine *engine, char **error_r)
{
	double start = mc_now();
	unsigned signatures = 0;
	struct cl_engine *cl;

	if (engine->cl != NULL)
		return 0;
	cl = mc_clamav_db_load(engine->db_paths, engine->db_count, engine->ac_only,
			       &engine->limits, engine->tempdir, engine->db_stamp,
			       &signatures, error_r);
	if (cl == NULL) {
		engine->info->state = -1;
		return -1;
	}
	/* What libclamav took: it caps the max file size near 2 GiB. */
	engine->max_file_size = (uint64_t)cl_engine_get_num(cl, CL_ENGINE_MAX_FILESIZE, NULL);
	engine->max_scan_size = (uint64_t)cl_engine_get_num(cl, CL_ENGINE_MAX_SCANSIZE, NULL);
	cl_engine_set_clcb_file_inspection(cl, count_layer);
	cl_engine_set_clcb_meta(cl, note_member);
	engine->info->signatures = signatures;
	engine->info->seconds = mc_now() - start;
	__atomic_store_n(&engine->info->state, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&engine->cl, cl, __ATOMIC_RELEASE);
	return 0;
}

/* In the zygote, before its first scan process. */
static int scan_prepare(void *ctx, char **error_r)
{
	return engine_load(ctx, error_r);
}

/* Whether the signatures are loaded in this process, loading them if
   not; if they cannot be, the verdict says why. */
static bool loaded_here(struct mc_engine *engine, struct mc_verdict *verdict_r)
{
	bool loaded;

	if (__atomic_load_n(&engine->cl, __ATOMIC_ACQUIRE) != NULL)
		return true;
	pthread_mutex_lock(&engine->load_lock);
	if (engine->load_error == NULL && engine_load(engine, &engine->load_error) < 0 &&
	    engine->load_error == NULL)
		engine->load_error = mc_xstrdup("unknown error");
	loaded = engine->cl != NULL;
	if (!loaded) {
		memset(verdict_r, 0, sizeof(*verdict_r));
		verdict_r->kind = MC_VERDICT_ERROR;
		snprintf(verdict_r->name, sizeof(verdict_r->name),
			 "engine unavailable (%s)", engine->load_error);
	}
	pthread_mutex_unlock(&engine->load_lock);
	return loaded;
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

/* Whether SIZE bytes are too many for libclamav to scan at all; if
   so, the verdict says so. (libclamav would answer CL_VIRUS, and
   name the limit only to a virus-found callback.) */
static bool too_large(const struct mc_engine *engine, uint64_t size,
		      struct mc_verdict *verdict_r)
{
	if (engine->max_file_size == 0 || size <= engine->max_file_size)
		return false;
	memset(verdict_r, 0, sizeof(*verdict_r));
	verdict_r->kind = MC_VERDICT_UNSCANNED;
	snprintf(verdict_r->name, sizeof(verdict_r->name),
		 "engine limit reached (Heuristics.Limits.Exceeded.MaxFileSize: "
		 "%llu bytes to scan, the limit is %llu)",
		 (unsigned long long)size,
		 (unsigned long long)engine->max_file_size);
	return true;
}

/* The verdict of a scan that returned RET and VIRNAME, after which
   the callbacks' state is S: a limit that libclamav reached without
   saying so makes a clean verdict unscanned. */
static void scan_verdict(struct mc_engine *engine, cl_error_t ret,
			 const char *virname, const struct scan_state *s,
			 struct mc_verdict *verdict_r)
{
	const char *limit, *what;
	uint64_t size, max;

	verdict_from(ret, virname, verdict_r);
	if (s->declared > 0) {
		limit = "MaxFileSize";
		what = "an archive member of";
		size = s->declared;
		max = engine->max_file_size;
	} else if (s->cut > 0) {
		limit = "MaxFileSize";
		what = "an unpacked file of";
		size = s->cut;
		max = engine->max_file_size;
	} else if (s->layers.files > 1 && engine->max_scan_size > 0 &&
		   s->layers.bytes + CUT_MARGIN >= engine->max_scan_size) {
		/* libclamav's CAB and CHM unpackers cut a file at what is
		   left of the scan size. */
		limit = "MaxScanSize";
		what = "the files scanned total";
		size = s->layers.bytes;
		max = engine->max_scan_size;
	} else {
		return;
	}
	/* libclamav's cache may now hold as clean the archives that
	   held what was cut. Only a scan process has it on, and is
	   single-threaded: the engine may be changed there. */
	if (engine->clean_cache &&
	    cl_engine_set_num(engine->cl, CL_ENGINE_DISABLE_CACHE, 1) == CL_SUCCESS)
		engine->clean_cache = false;
	if (verdict_r->kind != MC_VERDICT_CLEAN)
		return;
	verdict_r->kind = MC_VERDICT_UNSCANNED;
	snprintf(verdict_r->name, sizeof(verdict_r->name),
		 "engine limit reached (Heuristics.Limits.Exceeded.%s: %s "
		 "%llu bytes, the limit is %llu)", limit, what,
		 (unsigned long long)size, (unsigned long long)max);
}

/* Scan DATA from memory with OPTIONS in this process; LAYERS (may be
   NULL) learns what the scan went through. */
static void scan_memory_here(struct mc_engine *engine, const void *data,
			     size_t size, const struct cl_scan_options *opts,
			     struct layers *layers, struct mc_verdict *verdict_r)
{
	struct cl_scan_options options = *opts;
	struct scan_state state = { .engine = engine };
	const char *virname = NULL;
	unsigned long scanned = 0;
	cl_fmap_t *map;
	cl_error_t ret;

	if (layers != NULL)
		memset(layers, 0, sizeof(*layers));
	/* Empty data maps to nothing; it holds nothing to detect. */
	if (size == 0) {
		verdict_from(CL_CLEAN, NULL, verdict_r);
		return;
	}
	if (!loaded_here(engine, verdict_r) || too_large(engine, size, verdict_r))
		return;
	map = cl_fmap_open_memory(data, size);
	if (map == NULL) {
		verdict_from(CL_EMEM, NULL, verdict_r);
		return;
	}
	ret = cl_scanmap_callback(map, NULL, &virname, &scanned, engine->cl,
				  &options, &state);
	scan_verdict(engine, ret, virname, &state, verdict_r);
	cl_fmap_close(map);
	if (layers != NULL)
		*layers = state.layers;
}

/* Scan the file open on FD in this process. NAME is for libclamav's
   own use (it names the file in what it reports). */
static void scan_fd_here(struct mc_engine *engine, int fd, const char *name,
			 struct mc_verdict *verdict_r)
{
	struct cl_scan_options options = engine->options;
	struct scan_state state = { .engine = engine };
	const char *virname = NULL;
	unsigned long scanned = 0;
	struct stat st;
	cl_error_t ret;

	if (!loaded_here(engine, verdict_r) ||
	    (fstat(fd, &st) == 0 && too_large(engine, (uint64_t)st.st_size, verdict_r)))
		return;
	ret = cl_scandesc_callback(fd, name, &virname, &scanned, engine->cl,
				   &options, &state);
	scan_verdict(engine, ret, virname, &state, verdict_r);
}

/* What a scan process does with a request (scanpool). */
static void scan_for_pool(void *ctx, const void *data, size_t size, int fd,
			  const void *_req, void *_resp)
{
	struct mc_engine *engine = ctx;
	const struct pool_request *req = _req;
	struct pool_response *resp = _resp;
	const unsigned char *at, *part_data[PLAN_MAX];
	uint64_t left;

	if (req->op == POOL_FILE) {
		/* The data are the file's name, NUL-terminated ("": none). */
		const char *name = size > 1 && ((const char *)data)[size - 1] == '\0' ?
			data : NULL;

		if (fd < 0)
			abort();	/* the caller always sends one */
		scan_fd_here(engine, fd, name, &resp->verdict);
		return;
	}
	if (req->op == POOL_BUFFER) {
		scan_memory_here(engine, data, size,
				 req->raw ? &engine->raw_options : &engine->options,
				 req->want_layers ? &resp->layers : NULL,
				 &resp->verdict);
		return;
	}
	/* The caller's own layout: anything else is a bug there. */
	if (req->count > PLAN_MAX || req->raw_size > size)
		abort();
	at = (const unsigned char *)data + req->raw_size;
	left = size - req->raw_size;
	memcpy(resp->parts, req->parts, req->count * sizeof(req->parts[0]));
	for (uint32_t i = 0; i < req->count; i++) {
		part_data[i] = NULL;
		if (req->parts[i].how != PLAN_SCAN)
			continue;
		if (req->parts[i].size > left)
			abort();
		part_data[i] = at;
		at += req->parts[i].size;
		left -= req->parts[i].size;
	}
	run_plan(engine, scan_memory_here, part_data, resp->parts, req->count,
		 data, req->raw_size, &resp->result);
}

/* A new scan process, with a scan user: libclamav parses hostile
   input, and a flaw there must not be root's. The process unpacks
   in a directory of its own, made here in the run's temporary
   directory and given to that user, then becomes the user. The
   engine is told "." (the directory, made the working directory),
   so the run's directory itself stays closed to the user. Files
   come to the process open: it needs no other access. */
static int scan_process_init(void *ctx, char **error_r)
{
	struct mc_engine *engine = ctx;
	uid_t uid = engine->settings.scan_uid;
	gid_t gid = engine->settings.scan_gid;
	char dir[4096];

	/* Whole messages go to libclamav, which walks their MIME itself:
	   the verdict cache sees no parts then, and libclamav's own cache
	   is what spares rescanning the ones that recur. It is this
	   process's alone, so that it can be turned off again (see
	   scan_verdict). */
	if (engine->settings.mode == MC_SCAN_WHOLE &&
	    cl_engine_set_num(engine->cl, CL_ENGINE_DISABLE_CACHE, 0) == CL_SUCCESS)
		engine->clean_cache = true;
	if (uid == 0)
		return 0;
	/* Into it before it is the user's: a root without the power to
	   override permissions could not enter it after. */
	if ((size_t)snprintf(dir, sizeof(dir), "%s/scan-XXXXXX",
			     engine->scan_tempdir) >= sizeof(dir) ||
	    mkdtemp(dir) == NULL || chdir(dir) < 0 || chown(".", uid, gid) < 0)
		return mc_error_errno(error_r, "cannot make a directory in %s",
				      engine->scan_tempdir);
	if (cl_engine_set_str(engine->cl, CL_ENGINE_TMPDIR, ".") != CL_SUCCESS)
		return mc_error_set(error_r, "cannot set the engine's directory");
	return mc_become_user(uid, gid, error_r);
}

/* libclamav stops itself at the time limit; twice that and ten
   seconds more is a scan that will not stop. */
static unsigned pool_timeout(const struct mc_engine *engine)
{
	unsigned limit = engine->limits.max_scan_time_ms;

	return limit > 0 ? limit * 2 + 10000 : 0;
}

/* One buffer or file (as REQ says) in a scan process: the verdict,
   the scan process's or that of its failure, is in *VERDICT_R unless
   the result is MC_SCANPOOL_UNAVAILABLE (the caller scans here). */
static enum mc_scanpool_result scan_in_pool(struct mc_engine *engine,
					    const struct iovec *iov, int fd,
					    const struct pool_request *req,
					    struct pool_response *resp,
					    struct mc_verdict *verdict_r)
{
	enum mc_scanpool_result result;
	int status;

	result = mc_scanpool_scan(engine->pool, iov, 1, fd, req, resp,
				  pool_timeout(engine), &status);
	if (result == MC_SCANPOOL_OK)
		*verdict_r = resp->verdict;
	else if (result != MC_SCANPOOL_UNAVAILABLE)
		mc_scanpool_verdict(engine->pool, result, status, verdict_r);
	return result;
}

/* As scan_memory_here, in a scan process when there is a pool. */
static void scan_memory(struct mc_engine *engine, const void *data, size_t size,
			const struct cl_scan_options *opts, struct layers *layers,
			struct mc_verdict *verdict_r)
{
	struct pool_request req;
	struct pool_response resp;
	struct iovec iov = { (void *)data, size };
	enum mc_scanpool_result result;

	if (engine->pool == NULL || size == 0) {
		scan_memory_here(engine, data, size, opts, layers, verdict_r);
		return;
	}
	memset(&req, 0, offsetof(struct pool_request, parts));
	req.op = POOL_BUFFER;
	req.raw = opts == &engine->raw_options;
	req.want_layers = layers != NULL;
	result = scan_in_pool(engine, &iov, -1, &req, &resp, verdict_r);
	if (result == MC_SCANPOOL_UNAVAILABLE)
		scan_memory_here(engine, data, size, opts, layers, verdict_r);
	else if (result == MC_SCANPOOL_OK && layers != NULL)
		*layers = resp.layers;
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

/* Run a plan (see struct plan_part) with SCAN; DATA[i] holds part i's
   bytes when it is to be scanned. */
static void run_plan(struct mc_engine *engine, scan_fn *scan,
		     const unsigned char *const *data, struct plan_part *parts,
		     uint32_t count, const unsigned char *raw, size_t raw_size,
		     struct plan_result *res)
{
	struct layers total, raw_layers;
	double start = mc_now();

	memset(res, 0, sizeof(*res));
	memset(&total, 0, sizeof(total));
	/* The parts first, in order, then the raw message: libclamav's
	   order, so the first signature found is the one it reports. */
	for (uint32_t i = 0; i < count; i++) {
		struct plan_part *p = &parts[i];

		res->reached = i + 1;
		switch (p->how) {
		case PLAN_TOO_BIG:
			res->outcome = PLAN_WHOLE;
			return;
		case PLAN_SAME:
			p->kind = parts[p->same].kind;
			p->layers = parts[p->same].layers;
			break;
		case PLAN_SCAN:
			memset(&p->layers, 0, sizeof(p->layers));
			scan(engine, data[i], p->size, &engine->options, &p->layers,
			     &res->verdict);
			if (res->verdict.kind != MC_VERDICT_CLEAN &&
			    res->verdict.kind != MC_VERDICT_INFECTED) {
				/* A limit or an error: libclamav decides
				   on the whole message. */
				res->outcome = PLAN_WHOLE;
				return;
			}
			p->kind = (uint8_t)res->verdict.kind;
			p->scanned = true;
			break;
		}
		total.files += p->layers.files;
		total.bytes += p->layers.bytes;
		if (p->layers.depth > total.depth)
			total.depth = p->layers.depth;
		if (near_limits(engine, &total, p->depth + total.depth)) {
			res->outcome = PLAN_WHOLE;
			return;
		}
		if (p->kind == MC_VERDICT_INFECTED) {
			res->outcome = p->how == PLAN_SCAN ? PLAN_DONE : PLAN_CACHED_INFECTED;
			res->infected_part = p->how == PLAN_SAME ? p->same : i;
			return;
		}
	}
	memset(&raw_layers, 0, sizeof(raw_layers));
	res->raw_scanned = true;
	scan(engine, raw, raw_size, &engine->raw_options, &raw_layers, &res->verdict);
	if (!raw_layers.top_is_mail ||
	    (res->verdict.kind != MC_VERDICT_CLEAN &&
	     res->verdict.kind != MC_VERDICT_INFECTED)) {
		/* Not typed as mail after all, or a limit. */
		res->outcome = PLAN_WHOLE;
		return;
	}
	if (engine->limits.max_scan_time_ms > 0 &&
	    (mc_now() - start) * 1000.0 > engine->limits.max_scan_time_ms) {
		res->outcome = PLAN_UNFINISHED;
		memset(&res->verdict, 0, sizeof(res->verdict));
		res->verdict.kind = MC_VERDICT_UNSCANNED;
		snprintf(res->verdict.name, sizeof(res->verdict.name),
			 "engine scan time limit reached");
		return;
	}
	res->outcome = PLAN_DONE;
}

/* Plan the scan of the message's parts: which the cache answers,
   which repeat an earlier part, which must be scanned. Returns the
   number of parts in the plan. */
static uint32_t plan_parts(struct mc_engine *engine, const struct mc_part *parts,
			   size_t count_parts, struct plan_part *plan,
			   const struct mc_part **planned)
{
	struct mc_cache *cache = engine->settings.cache;
	struct mc_cache_entry e;
	uint32_t n = 0;

	for (size_t i = 0; i < count_parts; i++) {
		const struct mc_part *part = &parts[i];
		struct plan_part *p = &plan[n];

		/* An attached message is not scanned as a unit: its parts
		   follow it in the list, as libclamav's parser descends
		   into it, and its text is in the raw message. */
		if (strcmp(part->content_type, "message/rfc822") == 0 ||
		    strcmp(part->content_type, "message/global") == 0 ||
		    part->content_size == 0)
			continue;
		memset(p, 0, sizeof(*p));
		p->size = part->content_size;
		p->depth = part->depth;
		planned[n] = part;
		if (part->content_size >= engine->limits.max_file_size) {
			p->how = PLAN_TOO_BIG;
		} else if (cache != NULL && mc_cache_get(cache, part->sha256, &e)) {
			p->how = PLAN_CACHED;
			p->kind = (uint8_t)e.kind;
			p->layers.files = e.files;
			p->layers.bytes = e.bytes;
			p->layers.depth = e.depth;
		} else {
			p->how = PLAN_SCAN;
			for (uint32_t k = 0; k < n && k < PLAN_MAX; k++)
				if (plan[k].how == PLAN_SCAN &&
				    memcmp(planned[k]->sha256, part->sha256, 32) == 0) {
					p->how = PLAN_SAME;
					p->same = (uint16_t)k;
					break;
				}
		}
		n++;
	}
	return n;
}

/* Run the plan in a scan process: false when there is none to take
   it (the caller runs it here), true with the result otherwise. */
static bool run_plan_in_pool(struct mc_engine *engine, struct plan_part *plan,
			     uint32_t n, const struct mc_part **planned,
			     const struct mc_msg *msg, struct plan_result *res)
{
	struct pool_request *req;
	struct pool_response *resp;
	struct iovec iov[PLAN_MAX + 1];
	unsigned iovcnt = 0;
	enum mc_scanpool_result result;
	int status;

	if (engine->pool == NULL || n > PLAN_MAX)
		return false;
	req = mc_xmalloc(sizeof(*req));
	resp = mc_xmalloc(sizeof(*resp));
	memset(req, 0, sizeof(*req));
	req->op = POOL_MESSAGE;
	req->count = n;
	req->raw_size = msg->size;
	memcpy(req->parts, plan, n * sizeof(plan[0]));
	iov[iovcnt++] = (struct iovec){ (void *)msg->data, msg->size };
	for (uint32_t i = 0; i < n; i++)
		if (plan[i].how == PLAN_SCAN)
			iov[iovcnt++] = (struct iovec){ (void *)planned[i]->content,
							planned[i]->content_size };
	result = mc_scanpool_scan(engine->pool, iov, iovcnt, -1, req, resp,
				  pool_timeout(engine), &status);
	if (result == MC_SCANPOOL_OK) {
		*res = resp->result;
		memcpy(plan, resp->parts, n * sizeof(plan[0]));
	} else if (result != MC_SCANPOOL_UNAVAILABLE) {
		/* Which part it died on is not known: the message's
		   verdict is the failure. */
		memset(res, 0, sizeof(*res));
		res->outcome = PLAN_UNFINISHED;
		mc_scanpool_verdict(engine->pool, result, status, &res->verdict);
	}
	free(req);
	free(resp);
	return result != MC_SCANPOOL_UNAVAILABLE;
}

static void scan_message_parts(struct mc_engine *engine, const struct mc_msg *msg,
			       struct mc_facts *facts, struct mc_verdict *verdict_r)
{
	struct mc_cache *cache = engine->settings.cache;
	const struct mc_part *parts, **planned;
	struct plan_part *plan;
	struct plan_result res;
	struct mc_cache_entry e;
	const char *why;
	size_t count_parts;
	uint32_t n;

	if (engine->settings.mode == MC_SCAN_WHOLE || facts == NULL ||
	    msg->data == NULL || msg->size == 0 ||
	    !starts_as_mail(msg->data, msg->size) ||
	    !mc_facts_regular(facts, &why) ||
	    mc_facts_parts(facts, &parts, &count_parts, &why) < 0) {
		scan_whole(engine, msg, verdict_r);
		return;
	}
	plan = mc_xcalloc(count_parts + 1, sizeof(*plan));
	planned = mc_xcalloc(count_parts + 1, sizeof(*planned));
	n = plan_parts(engine, parts, count_parts, plan, planned);
	if (!run_plan_in_pool(engine, plan, n, planned, msg, &res)) {
		const unsigned char **data = mc_xcalloc(n + 1, sizeof(*data));

		for (uint32_t i = 0; i < n; i++)
			data[i] = planned[i]->content;
		run_plan(engine, scan_memory, data, plan, n, msg->data, msg->size,
			 &res);
		free(data);
	}
	for (uint32_t i = 0; i < res.reached && i < n; i++) {
		if (plan[i].how == PLAN_CACHED || plan[i].how == PLAN_SAME)
			count(&engine->stats.parts_cached);
		if (!plan[i].scanned)
			continue;
		count(&engine->stats.parts_scanned);
		if (cache != NULL) {
			e.kind = plan[i].kind;
			e.name = plan[i].kind == MC_VERDICT_INFECTED ? res.verdict.name : "";
			e.bytes = plan[i].layers.bytes;
			e.files = plan[i].layers.files;
			e.depth = plan[i].layers.depth;
			mc_cache_put(cache, planned[i]->sha256, &e);
		}
	}
	if (res.raw_scanned)
		count(&engine->stats.raw_scans);
	switch (res.outcome) {
	case PLAN_DONE:
		*verdict_r = res.verdict;
		count(&engine->stats.messages_parts);
		break;
	case PLAN_UNFINISHED:
		*verdict_r = res.verdict;
		break;
	case PLAN_CACHED_INFECTED:
		if (cache != NULL &&
		    mc_cache_get(cache, planned[res.infected_part]->sha256, &e)) {
			verdict_from_cache(&e, verdict_r);
			count(&engine->stats.messages_parts);
			break;
		}
		/* Gone from the cache meanwhile. */
		/* FALLTHROUGH */
	case PLAN_WHOLE:
	default:
		scan_whole(engine, msg, verdict_r);
		break;
	}
	free(plan);
	free(planned);
}

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
	mc_cache_message_key(msg->data, msg->size, key);
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

static void clamav_configure(struct mc_engine *engine,
			     const struct mc_engine_settings *settings)
{
	engine->settings = *settings;
	free(engine->tempdir);
	engine->tempdir = settings->tempdir != NULL ? mc_xstrdup(settings->tempdir) : NULL;
	if (engine->cl != NULL && engine->tempdir != NULL)
		(void)cl_engine_set_str(engine->cl, CL_ENGINE_TMPDIR, engine->tempdir);
	free(engine->scan_tempdir);
	engine->scan_tempdir = NULL;
	if (settings->scan_uid != 0 && settings->tempdir != NULL)
		engine->scan_tempdir = mc_xstrdup(settings->tempdir);
	else
		engine->settings.scan_uid = 0;	/* no directory to give */
	engine->settings.tempdir = NULL;	/* not kept: the caller's string */
	/* The scan processes are forks of the engine as it is now, with
	   the signatures that the zygote loads when a scan needs them
	   (unless they are loaded here already). */
	mc_scanpool_free(&engine->pool);
	if (settings->scan_processes > 0)
		engine->pool = mc_scanpool_new(settings->scan_processes,
					       sizeof(struct pool_request),
					       sizeof(struct pool_response),
					       scan_prepare, scan_process_init,
					       scan_for_pool, engine);
}

static void clamav_stats(struct mc_engine *engine, struct mc_engine_stats *stats_r)
{
	__atomic_load(&engine->stats.messages_parts, &stats_r->messages_parts, __ATOMIC_RELAXED);
	__atomic_load(&engine->stats.messages_whole, &stats_r->messages_whole, __ATOMIC_RELAXED);
	__atomic_load(&engine->stats.parts_scanned, &stats_r->parts_scanned, __ATOMIC_RELAXED);
	__atomic_load(&engine->stats.parts_cached, &stats_r->parts_cached, __ATOMIC_RELAXED);
	__atomic_load(&engine->stats.raw_scans, &stats_r->raw_scans, __ATOMIC_RELAXED);
	__atomic_load(&engine->stats.messages_cached, &stats_r->messages_cached, __ATOMIC_RELAXED);
	stats_r->matcher = matcher_name(engine);
	stats_r->loaded = __atomic_load_n(&engine->info->state, __ATOMIC_ACQUIRE) > 0;
	stats_r->signatures = stats_r->loaded ? engine->info->signatures : 0;
	stats_r->load_seconds = stats_r->loaded ? engine->info->seconds : 0;
}

/* Load the signatures now rather than at the first scan: a broken
   database is then one error at the start. */
static int clamav_load(struct mc_engine *engine, char **error_r)
{
	struct mc_verdict verdict;

	if (engine->pool != NULL) {
		if (mc_scanpool_prepare(engine->pool) < 0)
			return mc_error_set(error_r, "%s", mc_scanpool_error(engine->pool));
		return 0;
	}
	if (!loaded_here(engine, &verdict))
		return mc_error_set(error_r, "%s", engine->load_error);
	return 0;
}

/* The identity stamps the signature files as they were at open (see
   mc_clamav_db_stamp), before the signatures are loaded: a run whose
   verdicts all come from the cache never loads them. The load checks
   that they are still those files. */
static int clamav_identity(struct mc_engine *engine, unsigned char out[32],
			   char **error_r)
{
	char head[512];
	size_t n;

	(void)error_r;
	/* "limits=" names the limit checks of scan_verdict: verdicts
	   cached without them may say clean where a limit was reached. */
	n = (size_t)snprintf(head, sizeof(head),
		 "%s mode=%d matcher=%s general=%x parse=%x heuristic=%x "
		 "mail=%x scansize=%llu filesize=%llu recursion=%u files=%u "
		 "limits=member,cut,total stamp=",
		 engine->version, (int)engine->settings.mode,
		 matcher_name(engine),
		 engine->options.general,
		 engine->options.parse, engine->options.heuristic,
		 engine->options.mail,
		 (unsigned long long)engine->limits.max_scan_size,
		 (unsigned long long)engine->limits.max_file_size,
		 engine->limits.max_recursion, engine->limits.max_files);
	for (size_t i = 0; i < sizeof(engine->db_stamp) && n + 3 < sizeof(head); i++)
		n += (size_t)snprintf(head + n, 3, "%02x", engine->db_stamp[i]);
	mc_sha256(head, n, out);
	return 0;
}

/* A file is scanned where it is: its descriptor goes to a scan
   process, and only its name is copied. */
static void clamav_scan_fd(struct mc_engine *engine, int fd, const char *name,
			   struct mc_verdict *verdict_r)
{
	struct pool_request req;
	struct pool_response resp;
	struct iovec iov = { (void *)(name != NULL ? name : ""),
			     name != NULL ? strlen(name) + 1 : 1 };

	memset(&req, 0, offsetof(struct pool_request, parts));
	req.op = POOL_FILE;
	if (engine->pool == NULL ||
	    scan_in_pool(engine, &iov, fd, &req, &resp, verdict_r) == MC_SCANPOOL_UNAVAILABLE)
		scan_fd_here(engine, fd, name, verdict_r);
}

static const char *clamav_version(struct mc_engine *engine, unsigned *sigs_r)
{
	if (sigs_r != NULL)
		*sigs_r = engine->info->state > 0 ? engine->info->signatures : 0;
	return engine->version;
}

static void clamav_close(struct mc_engine **_engine)
{
	struct mc_engine *engine = *_engine;

	if (engine == NULL)
		return;
	*_engine = NULL;
	mc_scanpool_free(&engine->pool);
	free(engine->scan_tempdir);
	free(engine->tempdir);
	free(engine->load_error);
	if (engine->cl != NULL && (!engine->settings.exit_after_close || LEAK_CHECKED))
		cl_engine_free(engine->cl);
	for (size_t i = 0; i < engine->db_count; i++)
		free(engine->db_paths[i]);
	free(engine->db_paths);
	munmap(engine->info, sizeof(*engine->info));
	pthread_mutex_destroy(&engine->load_lock);
	free(engine);
}

const struct mc_engine_ops mc_engine_clamav = {
	.name = "clamav",
	.open = clamav_open,
	.scan_buffer = clamav_scan_buffer,
	.scan_fd = clamav_scan_fd,
	.scan_message = clamav_scan_message,
	.configure = clamav_configure,
	.load = clamav_load,
	.identity = clamav_identity,
	.stats = clamav_stats,
	.version = clamav_version,
	.close = clamav_close,
};
