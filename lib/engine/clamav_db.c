/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	clamav_db 3
/* SUMMARY
/*	what the engine learns of its signature files without loading them
/* SYNOPSIS
/*	#include "internal.h"
/*
/*	int	mc_clamav_db_init(char **error_r)
/*
/*	bool	mc_clamav_db_few_patterns(char *const *paths, size_t count)
/*
/*	int	mc_clamav_db_stamp(char *const *paths, size_t count,
/*				unsigned char out[32], char **error_r)
/*
/*	unsigned long mc_clamav_db_version(char *const *paths, size_t count)
/*
/*	int	mc_clamav_db_check(const char *const *paths, size_t count,
/*				char **error_r)
/*
/*	struct cl_engine *mc_clamav_db_load(char *const *paths,
/*				size_t count, bool ac_only,
/*				const struct mc_limits *limits,
/*				const char *tempdir,
/*				const unsigned char stamp[32],
/*				unsigned *signatures_r, char **error_r)
/* DESCRIPTION
/*	mc_clamav_db_init() initialises libclamav once per process,
/*	before any database is read or loaded, with its messages
/*	silenced (the library does not print).
/*
/*	PATHS are the signature databases given to the engine: files,
/*	or directories whose files cl_load() reads.
/*
/*	mc_clamav_db_few_patterns() says whether they hold so few fixed
/*	body patterns that Aho-Corasick alone matches them faster.
/*
/*	mc_clamav_db_stamp() digests what identifies this version of
/*	every file (see hash_stamp): a file changed or replaced gives
/*	another stamp. It is the verdict cache's signature identity,
/*	taken before the signatures are loaded (when a run's verdicts
/*	all come from the cache, they never are), and checked again
/*	after they are.
/*
/*	mc_clamav_db_version() is the version in the header of the
/*	daily database (daily.cvd or daily.cld), as libclamav reports
/*	it once loaded; 0 when there is none.
/*
/*	mc_clamav_db_check() says whether every path is there.
/*
/*	mc_clamav_db_load() loads and compiles the signatures with
/*	the engine LIMITS (Aho-Corasick alone if AC_ONLY), unpacking
/*	in TEMPDIR (NULL: libclamav's default) and with libclamav's
/*	clean-file cache off, provided the files are still those that
/*	gave STAMP. It is most of a run's start-up: seconds with the
/*	official databases.
/* DIAGNOSTICS
/*	mc_clamav_db_init() gives libclamav's reason when it cannot be
/*	initialised. mc_clamav_db_stamp() fails when a path or a directory cannot
/*	be read. mc_clamav_db_check() names freshclam when a path is
/*	missing; mc_clamav_db_load() gives libclamav's reason when a
/*	database is broken.
/*--*/

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <clamav.h>

#include "mailcure/mailcure.h"
#include "internal.h"

/* Signature sets with at most this many fixed body patterns are
   matched by Aho-Corasick alone. libclamav otherwise gives every
   fixed pattern (an .ndb or .db line without wildcards) to a
   Boyer-Moore matcher, which visits every position of every buffer
   however few patterns it holds; it pays for itself only with
   hundreds of them. Measured on mail with random 12-40 byte
   patterns: Aho-Corasick alone scans 25-40 % faster with up to 100,
   breaks even near 300, and is slower from 500 on, its trie growing.
   Which matcher finds a pattern does not change whether it is found;
   the official databases (.cvd, .cld, .cud) always keep both. */
#define AC_ONLY_MAX_PATTERNS 128
/* A signature file counted line by line is at most this large. */
#define COUNT_MAX_BYTES ((off_t)16 << 20)

typedef int db_file_fn(void *ctx, const char *path, const char *name,
		       const struct stat *st, char **error_r);

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* FN for every signature file: a file given, or a directory's regular
   files and symbolic links in name order (what cl_load reads of it is
   a subset: a change to any of them counts). ST is what lstat says. */
static int each_db_file(char *const *paths, size_t count, db_file_fn *fn,
			void *ctx, char **error_r)
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
			ret = fn(ctx, paths[i], paths[i], &st, error_r);
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
			if (ret == 0 && lstat(full, &st) == 0 &&
			    (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
				ret = fn(ctx, full, names[k], &st, error_r);
			free(full);
			free(names[k]);
		}
		free(names);
	}
	return ret;
}

/* Add to *CTX (unsigned long) the fixed body patterns the signature
   file may hold: lines of .ndb, .ndu, .db and .ftm files, and more
   than the limit for a container of the official databases or a file
   that cannot be read. Counting stops past the limit. A symbolic link
   counts as what it points to, as cl_load reads it. */
static int count_patterns(void *ctx, const char *path, const char *name,
			  const struct stat *st, char **error_r)
{
	static const char *const lines[] = { ".ndb", ".ndu", ".db", ".ftm" };
	static const char *const containers[] = { ".cvd", ".cld", ".cud" };
	unsigned long *n = ctx;
	const char *ext = strrchr(name, '.');
	unsigned char buf[65536];
	bool counted = false, line_start = true;
	struct stat own;
	ssize_t got = 0;
	int fd;

	(void)st;
	(void)error_r;
	if (ext == NULL || *n > AC_ONLY_MAX_PATTERNS)
		return 0;
	for (size_t i = 0; i < sizeof(containers) / sizeof(containers[0]); i++)
		if (strcasecmp(ext, containers[i]) == 0) {
			*n += AC_ONLY_MAX_PATTERNS + 1;
			return 0;
		}
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		counted |= strcasecmp(ext, lines[i]) == 0;
	if (!counted)
		return 0;
	/* Not a regular file of a sane size (a link to a device, say):
	   counted as many, the choice that is never slow on a large set. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0 ||
	    fstat(fd, &own) < 0 || !S_ISREG(own.st_mode) ||
	    own.st_size > COUNT_MAX_BYTES) {
		if (fd >= 0)
			close(fd);
		*n += AC_ONLY_MAX_PATTERNS + 1;
		return 0;
	}
	/* A line that is neither empty nor a comment is a pattern. */
	while (*n <= AC_ONLY_MAX_PATTERNS && (got = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < got; i++) {
			if (line_start && buf[i] != '\n' && buf[i] != '\r' && buf[i] != '#')
				(*n)++;
			line_start = buf[i] == '\n';
		}
	if (got < 0)
		*n += AC_ONLY_MAX_PATTERNS + 1;
	close(fd);
	return 0;
}

bool mc_clamav_db_few_patterns(char *const *paths, size_t count)
{
	unsigned long n = 0;
	char *error = NULL;

	if (each_db_file(paths, count, count_patterns, &n, &error) < 0) {
		free(error);
		return false;
	}
	return n <= AC_ONLY_MAX_PATTERNS;
}

/* Feed NAME and what identifies this version of the file, or of what
   a link points to: its device, inode, size, modification and change
   times. Its contents cannot change without a new change time (the
   kernel sets it on every write, and no call sets it back), and
   freshclam writes a new file in place of the old (a new inode).
   Digesting the contents instead would read the whole database, up
   to a second of a run whose verdicts all come from the cache. */
static int hash_stamp(void *ck, const char *path, const char *name,
		      const struct stat *lst, char **error_r)
{
	struct stat st;
	char stamp[512];

	(void)error_r;
	if (S_ISLNK(lst->st_mode) && stat(path, &st) < 0)
		snprintf(stamp, sizeof(stamp), "%s -", name);
	else {
		if (!S_ISLNK(lst->st_mode))
			st = *lst;
		snprintf(stamp, sizeof(stamp), "%s %llu %llu %lld %lld.%09ld %lld.%09ld",
			 name, (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino, (long long)st.st_size,
			 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
			 (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	}
	EVP_DigestUpdate(ck, stamp, strlen(stamp) + 1);
	return 0;
}

int mc_clamav_db_stamp(char *const *paths, size_t count, unsigned char out[32],
		       char **error_r)
{
	EVP_MD_CTX *ck = EVP_MD_CTX_new();
	int ret;

	if (ck == NULL || EVP_DigestInit_ex(ck, EVP_sha256(), NULL) != 1)
		abort();
	ret = each_db_file(paths, count, hash_stamp, ck, error_r);
	EVP_DigestFinal_ex(ck, out, NULL);
	EVP_MD_CTX_free(ck);
	return ret;
}

/* The version field of a daily database's header
   ("ClamAV-VDB:time:VERSION:signatures:..."). */
static int daily_version(void *ctx, const char *path, const char *name,
			 const struct stat *st, char **error_r)
{
	unsigned long *version = ctx;
	const char *base = strrchr(name, '/');
	char head[513], *p;
	ssize_t n;
	int fd;

	(void)st;
	(void)error_r;
	base = base != NULL ? base + 1 : name;
	if (strcasecmp(base, "daily.cvd") != 0 && strcasecmp(base, "daily.cld") != 0)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return 0;
	n = read(fd, head, sizeof(head) - 1);
	close(fd);
	head[n > 0 ? n : 0] = '\0';
	if (strncmp(head, "ClamAV-VDB:", 11) != 0 ||
	    (p = strchr(head + 11, ':')) == NULL)
		return 0;
	*version = strtoul(p + 1, NULL, 10);
	return 0;
}

unsigned long mc_clamav_db_version(char *const *paths, size_t count)
{
	unsigned long version = 0;
	char *error = NULL;

	if (each_db_file(paths, count, daily_version, &version, &error) < 0)
		free(error);
	return version;
}

int mc_clamav_db_check(const char *const *paths, size_t count, char **error_r)
{
	struct stat st;

	for (size_t i = 0; i < count; i++)
		if (stat(paths[i], &st) < 0 ||
		    !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
			return mc_error_errno(error_r,
				"no signature database at %s (install clamav-freshclam "
				"and run freshclam, or give -d PATH)", paths[i]);
	return 0;
}

/* libclamav is initialised once, before any database is read. */
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

int mc_clamav_db_init(char **error_r)
{
	pthread_once(&init_once, clamav_init_once);
	if (init_result != CL_SUCCESS)
		return mc_error_set(error_r, "clamav: cannot initialise libclamav: %s",
				    cl_strerror(init_result));
	return 0;
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

struct cl_engine *mc_clamav_db_load(char *const *paths, size_t count, bool ac_only,
				    const struct mc_limits *limits, const char *tempdir,
				    const unsigned char stamp[32], unsigned *signatures_r,
				    char **error_r)
{
	unsigned char now[32];
	struct cl_engine *cl;
	cl_error_t ret;

	*signatures_r = 0;
	if ((cl = cl_engine_new()) == NULL) {
		mc_error_set(error_r, "clamav: cannot create engine");
		return NULL;
	}
	if (ac_only && cl_engine_set_num(cl, CL_ENGINE_AC_ONLY, 1) != CL_SUCCESS) {
		mc_error_set(error_r, "clamav: cannot choose the matcher");
		goto fail;
	}
	for (size_t i = 0; i < count; i++) {
		unsigned before = *signatures_r;

		ret = cl_load(paths[i], cl, signatures_r, CL_DB_STDOPT);
		if (ret != CL_SUCCESS) {
			mc_error_set(error_r, "clamav: cannot load %s: %s",
				     paths[i], cl_strerror(ret));
			goto fail;
		}
		if (*signatures_r == before) {
			mc_error_set(error_r,
				"no signatures found in %s (run freshclam to download "
				"them, or give -d PATH)", paths[i]);
			goto fail;
		}
	}
	if (set_limit(cl, CL_ENGINE_MAX_SCANSIZE, (long long)limits->max_scan_size, "max scan size", error_r) < 0 ||
	    set_limit(cl, CL_ENGINE_MAX_FILESIZE, (long long)limits->max_file_size, "max file size", error_r) < 0 ||
	    set_limit(cl, CL_ENGINE_MAX_RECURSION, limits->max_recursion, "max recursion", error_r) < 0 ||
	    set_limit(cl, CL_ENGINE_MAX_FILES, limits->max_files, "max files", error_r) < 0 ||
	    set_limit(cl, CL_ENGINE_MAX_SCANTIME, limits->max_scan_time_ms, "max scan time", error_r) < 0)
		goto fail;
	/* libclamav's own cache of clean files (by MD5) would remember the
	   same parts a second time, beside the verdict cache, and keeps
	   growing to 65,536 entries over a large store. (Scan processes
	   turn it back on for whole messages: see scan_process_init.) */
	if (cl_engine_set_num(cl, CL_ENGINE_DISABLE_CACHE, 1) != CL_SUCCESS) {
		mc_error_set(error_r, "clamav: cannot turn off its clean-file cache");
		goto fail;
	}
	if (tempdir != NULL)
		(void)cl_engine_set_str(cl, CL_ENGINE_TMPDIR, tempdir);
	ret = cl_engine_compile(cl);
	if (ret != CL_SUCCESS) {
		mc_error_set(error_r, "clamav: cannot compile the signatures: %s",
			     cl_strerror(ret));
		goto fail;
	}
	if (mc_clamav_db_stamp(paths, count, now, error_r) < 0)
		goto fail;
	if (memcmp(now, stamp, sizeof(now)) != 0) {
		mc_error_set(error_r, "the signature databases changed while "
			     "they were loaded; run mailcure again");
		goto fail;
	}
	return cl;
fail:
	cl_engine_free(cl);
	return NULL;
}
