/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	yara 3
/* SUMMARY
/*	YARA rules over messages: compiled once, run in scan processes
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	int	mc_yara_open(paths, count, limits, &yara, &error)
/*	int	mc_yara_start(yara, slots, &error)
/*	unsigned mc_yara_rule_count(yara)
/*	void	mc_yara_scan(yara, msg, facts, &result)
/*	void	mc_yara_scan_data(yara, data, size, &result)
/*	char	*mc_yara_hit_json(hit)
/*	char	*mc_yara_hits_json(hits, count)
/*	void	mc_query_set_yara(query, yara)
/*	void	mc_yara_close(&yara)
/* DESCRIPTION
/*	mc_yara_open() compiles the YARA rule files PATHS (a file, or a
/*	directory: its files ending in .yar or .yara, in name order)
/*	with libyara, once, before anything is scanned. Each file is a
/*	namespace of its own, named after the file without its
/*	extension, so two feeds may both have a rule "Phish". Rules use
/*	full YARA: modules (pe, elf, math, hash, ...), not ClamAV's
/*	subset.
/*
/*	mc_yara_start() forks the scan processes (scanpool.c) that run
/*	the rules: call it while the caller is single-threaded. With
/*	mc_yara_set_user() first, each scan process becomes that user
/*	before its first scan. They
/*	start from the compiled rules, shared copy-on-write, so nothing
/*	is compiled again. Without it, or when a message does not fit
/*	a scan process's window, rules run in the calling thread.
/*
/*	mc_yara_scan() runs the rules over the raw message and over the
/*	decoded content of each of its MIME parts (mc_facts_parts), so
/*	that a rule written for a file matches it as an attachment.
/*	RESULT lists the distinct rules that matched (at most
/*	MC_YARA_HITS_MAX), with namespace, tags (a JSON array) and
/*	metadata (a JSON object, as much as fits; strings made valid
/*	UTF-8, since rule files come from outside), or an error.
/*	mc_yara_scan_data() runs them over one buffer (a host file).
/*
/*	mc_yara_hits_json() is the reason detail of COUNT rules that
/*	matched: the first one's rule, namespace, tags and metadata as
/*	before, and "rules": each of them with the same fields, so that
/*	no match goes unnamed.
/*
/*	mc_query_set_yara() gives QUERY the rules for its yara: terms,
/*	with the functions that run them: it is here, not in query.c,
/*	so that the query evaluator (the library's core) reaches the
/*	engine layer only through those pointers, and the layers call
/*	each other without a cycle.
/* DIAGNOSTICS
/*	A rule file that does not compile: "yara: FILE:LINE: MESSAGE",
/*	for the first error. A file or directory that cannot be read,
/*	or a directory without rule files, is an error too. A scan that
/*	times out (limits->max_scan_time_ms) or that kills its scan
/*	process is result->error, never a miss.
/* SECURITY
/*	Rule modules parse hostile input (the pe module reads headers of
/*	executables an attacker wrote). They run in the scan processes,
/*	with no-new-privileges, so that a crash or a hang costs one
/*	message, reported as unscanned; run by root, as the scan user
/*	(mc_yara_set_user: the CLI gives nobody, as to libclamav's scan
/*	processes), so that a flaw exploited there is not root's. A
/*	scan process that cannot become that user scans nothing: every
/*	message is then an error, never scanned as root.
/*--*/

#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <json-c/json.h>
#include <yara.h>

#include "mailcure/mailcure.h"
#include "internal.h"
#include "query-private.h"

/* Segments (raw message, then parts) per request to a scan process;
   a message with more parts takes several requests. */
#define YARA_SEG_MAX 64

struct mc_yara {
	YR_RULES *rules;
	unsigned rule_count;
	unsigned timeout_ms;
	struct mc_scanpool *pool;
	uid_t scan_uid;		/* 0: the scan processes stay who we are */
	gid_t scan_gid;
};

struct yara_req {
	unsigned count;
	uint64_t len[YARA_SEG_MAX];
};

static pthread_once_t yara_once = PTHREAD_ONCE_INIT;
static int yara_init_result;

static void yara_init(void)
{
	yara_init_result = yr_initialize();
}

/* ------------------------------------------------------------------ */
/* Compiling                                                          */
/* ------------------------------------------------------------------ */

struct compile_ctx {
	char *first_error;
};

static void compile_error(int level, const char *file, int line,
			  const YR_RULE *rule, const char *message, void *ctx)
{
	struct compile_ctx *c = ctx;

	(void)rule;
	if (level != YARA_ERROR_LEVEL_ERROR || c->first_error != NULL)
		return;
	c->first_error = mc_xasprintf("yara: %s:%d: %s", file != NULL ? file : "?",
				      line, message);
}

static int add_file(YR_COMPILER *comp, struct compile_ctx *ctx,
		    const char *path, char **error_r)
{
	FILE *fp = fopen(path, "re");
	const char *base = strrchr(path, '/');
	char *ns;
	int errors;

	if (fp == NULL)
		return mc_error_errno(error_r, "yara: cannot read rule file '%s'", path);
	base = base != NULL ? base + 1 : path;
	ns = mc_xstrdup(base);
	char *dot = strrchr(ns, '.');
	if (dot != NULL && dot != ns)
		*dot = '\0';
	errors = yr_compiler_add_file(comp, fp, ns, path);
	free(ns);
	fclose(fp);
	if (errors > 0) {
		if (ctx->first_error != NULL) {
			*error_r = ctx->first_error;
			ctx->first_error = NULL;
			return -1;
		}
		return mc_error_set(error_r, "yara: %s: does not compile", path);
	}
	return 0;
}

static int is_rule_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' &&
		((n > 4 && strcmp(d->d_name + n - 4, ".yar") == 0) ||
		 (n > 5 && strcmp(d->d_name + n - 5, ".yara") == 0));
}

static int add_path(YR_COMPILER *comp, struct compile_ctx *ctx,
		    const char *path, char **error_r)
{
	struct dirent **names;
	struct stat st;
	int n, ret = 0;

	if (stat(path, &st) < 0)
		return mc_error_errno(error_r, "yara: cannot read '%s'", path);
	if (!S_ISDIR(st.st_mode))
		return add_file(comp, ctx, path, error_r);
	n = scandir(path, &names, is_rule_file, alphasort);
	if (n < 0)
		return mc_error_errno(error_r, "yara: cannot read directory '%s'", path);
	if (n == 0)
		ret = mc_error_set(error_r, "yara: no .yar or .yara files in '%s'", path);
	for (int i = 0; i < n; i++) {
		if (ret == 0) {
			char *p = mc_xasprintf("%s/%s", path, names[i]->d_name);
			ret = add_file(comp, ctx, p, error_r);
			free(p);
		}
		free(names[i]);
	}
	free(names);
	return ret;
}

int mc_yara_open(const char *const *paths, size_t count,
		 const struct mc_limits *limits, struct mc_yara **yara_r,
		 char **error_r)
{
	struct compile_ctx ctx = { NULL };
	YR_COMPILER *comp = NULL;
	YR_RULES *rules = NULL;
	YR_RULE *rule;
	struct mc_yara *y;
	int ret = -1;

	pthread_once(&yara_once, yara_init);
	if (yara_init_result != ERROR_SUCCESS)
		return mc_error_set(error_r, "yara: libyara did not initialise (error %d)",
				    yara_init_result);
	if (yr_compiler_create(&comp) != ERROR_SUCCESS)
		return mc_error_set(error_r, "yara: out of memory");
	yr_compiler_set_callback(comp, compile_error, &ctx);
	for (size_t i = 0; i < count; i++) {
		if (add_path(comp, &ctx, paths[i], error_r) < 0)
			goto out;
	}
	if (yr_compiler_get_rules(comp, &rules) != ERROR_SUCCESS) {
		mc_error_set(error_r, "yara: out of memory");
		goto out;
	}
	y = mc_xcalloc(1, sizeof(*y));
	y->rules = rules;
	yr_rules_foreach(rules, rule)
		y->rule_count++;
	y->timeout_ms = limits != NULL ? limits->max_scan_time_ms : 0;
	*yara_r = y;
	ret = 0;
out:
	free(ctx.first_error);
	yr_compiler_destroy(comp);
	return ret;
}

unsigned mc_yara_rule_count(const struct mc_yara *yara)
{
	return yara->rule_count;
}

/* ------------------------------------------------------------------ */
/* Scanning                                                           */
/* ------------------------------------------------------------------ */

/* A JSON text of OBJ into BUF, or FALLBACK when it does not fit. */
static void json_into(char *buf, size_t size, json_object *obj, const char *fallback)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);

	snprintf(buf, size, "%s", strlen(s) < size ? s : fallback);
}

static void hit_describe(struct mc_yara_hit *h, const YR_RULE *rule)
{
	const char *tag;
	const YR_META *meta;
	json_object *tags = json_object_new_array();
	json_object *metas = json_object_new_object();

	snprintf(h->rule, sizeof(h->rule), "%s", rule->identifier);
	snprintf(h->ns, sizeof(h->ns), "%s", rule->ns->name);
	yr_rule_tags_foreach(rule, tag)
		json_object_array_add(tags, json_object_new_string(tag));
	yr_rule_metas_foreach(rule, meta) {
		json_object *v;
		if (meta->type == META_TYPE_INTEGER)
			v = json_object_new_int64(meta->integer);
		else if (meta->type == META_TYPE_BOOLEAN)
			v = json_object_new_boolean(meta->integer != 0);
		else {
			/* Rule files come from outside: keep the JSON valid. */
			char *str = mc_utf8_make_valid(mc_xstrdup(meta->string));
			v = json_object_new_string(str);
			free(str);
		}
		json_object_object_add(metas, meta->identifier, v);
		/* What does not fit is left out, keeping the JSON whole. */
		if (strlen(json_object_to_json_string_ext(metas, JSON_C_TO_STRING_PLAIN)) >=
		    sizeof(h->meta))
			json_object_object_del(metas, meta->identifier);
	}
	json_into(h->tags, sizeof(h->tags), tags, "[]");
	json_into(h->meta, sizeof(h->meta), metas, "{}");
	json_object_put(tags);
	json_object_put(metas);
}

static int on_match(YR_SCAN_CONTEXT *context, int message, void *data, void *ctx)
{
	struct mc_yara_result *r = ctx;
	const YR_RULE *rule = data;

	(void)context;
	if (message != CALLBACK_MSG_RULE_MATCHING)
		return CALLBACK_CONTINUE;
	for (unsigned i = 0; i < r->count; i++) {
		if (strcmp(r->hits[i].rule, rule->identifier) == 0 &&
		    strcmp(r->hits[i].ns, rule->ns->name) == 0)
			return CALLBACK_CONTINUE;
	}
	if (r->count < MC_YARA_HITS_MAX)
		hit_describe(&r->hits[r->count++], rule);
	return CALLBACK_CONTINUE;
}

static void scan_segments(const struct mc_yara *y, const unsigned char *data,
			  const uint64_t *lens, unsigned count,
			  struct mc_yara_result *r)
{
	int timeout_s = y->timeout_ms > 0 ? (int)((y->timeout_ms + 999) / 1000) : 0;

	for (unsigned i = 0; i < count && r->error[0] == '\0'; i++) {
		int e = yr_rules_scan_mem(y->rules, data, lens[i], SCAN_FLAGS_FAST_MODE,
					  on_match, r, timeout_s);
		if (e == ERROR_SCAN_TIMEOUT)
			snprintf(r->error, sizeof(r->error), "YARA scan time limit reached");
		else if (e != ERROR_SUCCESS)
			snprintf(r->error, sizeof(r->error), "YARA scan failed (error %d)", e);
		data += lens[i];
	}
}

/* In a scan process: the request's segments, one after the other. */
static void pool_scan(void *ctx, const void *data, size_t size, int fd,
		      const void *req, void *resp)
{
	const struct yara_req *q = req;
	uint64_t total = 0;

	(void)fd;
	for (unsigned i = 0; i < q->count && i < YARA_SEG_MAX; i++)
		total += q->len[i];
	if (q->count > YARA_SEG_MAX || total != size) {
		snprintf(((struct mc_yara_result *)resp)->error,
			 sizeof(((struct mc_yara_result *)resp)->error), "bad request");
		return;
	}
	scan_segments(ctx, data, q->len, q->count, resp);
}

void mc_yara_set_user(struct mc_yara *yara, uid_t uid, gid_t gid)
{
	yara->scan_uid = uid;
	yara->scan_gid = gid;
}

/* A new scan process gives up root before its first scan: the rules'
   modules parse hostile input, and a flaw there must not be root's.
   It needs nothing of root's: the rules are compiled already and the
   data come through the pool's window. */
static int scan_process_init(void *ctx, char **error_r)
{
	struct mc_yara *yara = ctx;

	if (yara->scan_uid == 0)
		return 0;
	if (chdir("/") < 0)
		return mc_error_errno(error_r, "chdir /");
	return mc_become_user(yara->scan_uid, yara->scan_gid, error_r);
}

int mc_yara_start(struct mc_yara *yara, unsigned slots, char **error_r)
{
	yara->pool = mc_scanpool_new(slots, sizeof(struct yara_req),
				     sizeof(struct mc_yara_result), NULL,
				     scan_process_init, pool_scan, yara);
	if (yara->pool == NULL)
		return mc_error_set(error_r, "yara: cannot start scan processes");
	return 0;
}

/* Merge the hits of PART into R. */
static void merge(struct mc_yara_result *r, const struct mc_yara_result *part)
{
	for (unsigned i = 0; i < part->count; i++) {
		bool dup = false;
		for (unsigned k = 0; k < r->count && !dup; k++)
			dup = strcmp(r->hits[k].rule, part->hits[i].rule) == 0 &&
				strcmp(r->hits[k].ns, part->hits[i].ns) == 0;
		if (!dup && r->count < MC_YARA_HITS_MAX)
			r->hits[r->count++] = part->hits[i];
	}
	if (r->error[0] == '\0' && part->error[0] != '\0')
		memcpy(r->error, part->error, sizeof(r->error));
}

/* Scan one batch of segments, in a scan process when there is one. */
static void scan_batch(struct mc_yara *y, const struct iovec *iov, unsigned n,
		       struct mc_yara_result *r)
{
	struct yara_req req;
	struct mc_yara_result *part = mc_xcalloc(1, sizeof(*part));
	enum mc_scanpool_result pr = MC_SCANPOOL_UNAVAILABLE;
	int status = 0;

	memset(&req, 0, sizeof(req));
	req.count = n;
	for (unsigned i = 0; i < n; i++)
		req.len[i] = iov[i].iov_len;
	if (y->pool != NULL)
		pr = mc_scanpool_scan(y->pool, iov, n, -1, &req, part, y->timeout_ms, &status);
	if (pr == MC_SCANPOOL_UNAVAILABLE) {
		/* Here: one segment at a time. */
		for (unsigned i = 0; i < n; i++) {
			uint64_t len = iov[i].iov_len;
			scan_segments(y, iov[i].iov_base, &len, 1, part);
		}
	} else if (pr == MC_SCANPOOL_DIED) {
		snprintf(part->error, sizeof(part->error),
			 "the YARA scan process died (wait status %d)", status);
	} else if (pr == MC_SCANPOOL_TIMEOUT) {
		snprintf(part->error, sizeof(part->error), "YARA scan time limit reached");
	} else if (pr == MC_SCANPOOL_FAILED) {
		snprintf(part->error, sizeof(part->error), "%s", mc_scanpool_error(y->pool));
	}
	merge(r, part);
	free(part);
}

void mc_yara_scan(struct mc_yara *yara, const struct mc_msg *msg,
		  struct mc_facts *facts, struct mc_yara_result *result_r)
{
	const struct mc_part *parts = NULL;
	size_t nparts = 0;
	struct iovec iov[YARA_SEG_MAX];
	unsigned n = 0;
	const char *why;

	memset(result_r, 0, sizeof(*result_r));
	if (mc_facts_parts(facts, &parts, &nparts, &why) < 0)
		snprintf(result_r->error, sizeof(result_r->error), "%s", why);
	iov[n].iov_base = (void *)(msg->data != NULL ? (const void *)msg->data : "");
	iov[n++].iov_len = msg->size;
	for (size_t i = 0; i <= nparts; i++) {
		if (n == YARA_SEG_MAX || (i == nparts && n > 0)) {
			scan_batch(yara, iov, n, result_r);
			n = 0;
		}
		if (i < nparts && parts[i].content_size > 0) {
			iov[n].iov_base = (void *)parts[i].content;
			iov[n++].iov_len = parts[i].content_size;
		}
	}
}

void mc_yara_scan_data(struct mc_yara *yara, const void *data, size_t size,
		       struct mc_yara_result *result_r)
{
	struct iovec iov = { (void *)(data != NULL ? data : ""), size };

	memset(result_r, 0, sizeof(*result_r));
	scan_batch(yara, &iov, 1, result_r);
}

/* The fields of HIT into O. */
static void hit_fields(json_object *o, const struct mc_yara_hit *hit)
{
	json_object *tags = json_tokener_parse(hit->tags);
	json_object *meta = json_tokener_parse(hit->meta);

	json_object_object_add(o, "rule", json_object_new_string(hit->rule));
	json_object_object_add(o, "namespace", json_object_new_string(hit->ns));
	json_object_object_add(o, "tags", tags != NULL ? tags : json_object_new_array());
	json_object_object_add(o, "meta", meta != NULL ? meta : json_object_new_object());
}

char *mc_yara_hit_json(const struct mc_yara_hit *hit)
{
	return mc_yara_hits_json(&hit, 1);
}

char *mc_yara_hits_json(const struct mc_yara_hit *const *hits, size_t count)
{
	json_object *o = json_object_new_object();
	char *out;

	if (count > 0) {
		hit_fields(o, hits[0]);
		json_object *all = json_object_new_array();
		for (size_t i = 0; i < count; i++) {
			json_object *r = json_object_new_object();
			hit_fields(r, hits[i]);
			json_object_array_add(all, r);
		}
		json_object_object_add(o, "rules", all);
	}
	out = mc_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return out;
}

static const struct mc_query_yara_ops query_yara_ops = {
	.scan = mc_yara_scan,
	.scan_data = mc_yara_scan_data,
	.hits_json = mc_yara_hits_json,
};

void mc_query_set_yara(struct mc_query *query, struct mc_yara *yara)
{
	query->yara = yara;
	query->yara_ops = &query_yara_ops;
}

void mc_yara_close(struct mc_yara **yara)
{
	struct mc_yara *y = *yara;

	if (y == NULL)
		return;
	mc_scanpool_free(&y->pool);
	yr_rules_destroy(y->rules);
	free(y);
	*yara = NULL;
}
