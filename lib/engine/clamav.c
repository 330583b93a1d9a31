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
/* DIAGNOSTICS
/*	open() fails with a reason naming freshclam when no database is
/*	found, and with libclamav's reason when a database is broken.
/*	libclamav's own log messages are not printed.
/*--*/

#include <errno.h>
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
	unsigned signatures;
	char version[64];
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

static bool has_database(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 &&
		(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
}

static int clamav_open(const char *const *db_paths, size_t db_count,
		       const struct mc_limits *limits,
		       struct mc_engine **engine_r, char **error_r)
{
	static const char *const default_paths[] = { MC_DEFAULT_DATABASE };
	struct mc_engine *engine;
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
	ret = cl_engine_compile(engine->cl);
	if (ret != CL_SUCCESS) {
		mc_error_set(error_r, "clamav: cannot compile the signatures: %s",
			     cl_strerror(ret));
		goto fail;
	}
	engine->options.general = CL_SCAN_GENERAL_HEURISTICS;
	engine->options.parse = ~0U;
	engine->options.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;
	snprintf(engine->version, sizeof(engine->version), "clamav-%s/db-%lld",
		 cl_retver(), cl_engine_get_num(engine->cl, CL_ENGINE_DB_VERSION, NULL));
	*engine_r = engine;
	return 0;
fail:
	cl_engine_free(engine->cl);
	free(engine);
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

static void clamav_scan_buffer(struct mc_engine *engine, const void *data,
			       size_t size, struct mc_verdict *verdict_r)
{
	struct cl_scan_options options = engine->options;
	const char *virname = NULL;
	unsigned long scanned = 0;
	cl_fmap_t *map;
	cl_error_t ret;

	/* An empty message maps to nothing; it holds nothing to detect. */
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
				  &options, NULL);
	verdict_from(ret, virname, verdict_r);
	cl_fmap_close(map);
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
	free(engine);
}

const struct mc_engine_ops mc_engine_clamav = {
	.name = "clamav",
	.open = clamav_open,
	.scan_buffer = clamav_scan_buffer,
	.scan_fd = clamav_scan_fd,
	.version = clamav_version,
	.close = clamav_close,
};
