/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	query-private 3h
/* SUMMARY
/*	what the parts of the query language share
/* SYNOPSIS
/*	#include "query-private.h"
/* DESCRIPTION
/*	The query language (see query.c for the language itself) is
/*	four files around one tree of nodes:
/* .IP query.c
/*	the lexer, the parser of and/or/not and parentheses, the
/*	canonical query text, and the public parse and free calls.
/* .IP query_term.c
/*	one term (KEY:VALUE, size>N, ...) from its word: a table of
/*	keys with one parser each, and @FILE indicator lists. A new
/*	term is a row of that table, its parser, its level
/*	(mc_query_term_level) and its case in query_eval.c.
/* .IP query_text.c
/*	text normalization for substring matching, globs, and the
/*	test that decides attachment: terms without the MIME walk.
/* .IP query_eval.c
/*	three-valued evaluation of a parsed query over a message, and
/*	the reasons of a match.
/* .IP query_ioc.c
/*	threat-intel feeds (--ioc, @FILE of a feed): the query's
/*	"ioc" term and the feeds' counts.
/* .IP query_file.c
/*	the --ioc hashes and the YARA rules over a host file.
/* .PP
/*	A parsed query is read-only and shared by all worker threads.
/*--*/

#ifndef MAILCURE_QUERY_PRIVATE_H
#define MAILCURE_QUERY_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "mailcure/mailcure.h"
#include "internal.h"
#include "ioc-private.h"

/* Parentheses and "not" nest at most this deep. Not a policy limit:
   it only keeps the recursive parser, evaluator and printer within a
   worker thread's stack, far above what anyone types. */
#define QUERY_MAX_NESTING 200

enum node_type { N_AND, N_OR, N_NOT, N_TERM };

enum term_kind {
	T_VIRUS, T_FROM, T_TO, T_CC, T_SUBJECT, T_HEADER, T_MSGID, T_BODY,
	T_ATTACHMENT, T_SHA256, T_MD5, T_SIZE, T_SINCE, T_BEFORE, T_DATE_NONE,
	T_ALL, T_HASHSET, T_URL, T_DOMAIN, T_YARA, T_IOC, T_IOCREF,
};

enum size_op { SZ_GT, SZ_LT, SZ_GE, SZ_LE, SZ_EQ };

/* A TEXT value, normalized as the texts it is searched in. */
struct needle {
	char *ascii;		/* white space collapsed, ASCII lower case */
	size_t ascii_len;
	char *folded;		/* Unicode case-folded; NULL for ASCII */
	size_t folded_len;
};

struct node {
	enum node_type type;
	struct node **kids;
	size_t nkids, capkids;
	char *file;		/* N_OR read from @FILE: its path */

	enum term_kind kind;
	char *value;		/* as given, unquoted (header: the TEXT) */
	char *hname;		/* header: NAME */
	bool glob;
	char *literal;		/* what any match must contain (mc_query_glob_literal) */
	struct needle nd;
	unsigned char hash[32];
	enum size_op op;
	uint64_t size;
	time_t date;
	bool date_time;		/* DATE had a time of day */
	unsigned char *sha256s;	/* T_HASHSET: sorted, 32 bytes each */
	size_t nsha256;
	unsigned char *md5s;	/* sorted, 16 bytes each */
	size_t nmd5;
	struct mc_ioc_set *ioc;	/* T_IOC: its indicators (owned) */
	bool domains_only;	/* T_IOC: the domain: terms of a plain list */
	size_t nterms;		/* N_OR of @FILE: terms read */
};

/* How yara: terms run the rules. engine/yara.c hands this over with
   the rules in mc_query_set_yara(), so that the evaluator, part of
   the library's core, calls the engine layer only through it (the
   layers stay acyclic: tests/check-layers.py). */
struct mc_query_yara_ops {
	void (*scan)(struct mc_yara *yara, const struct mc_msg *msg,
		     struct mc_facts *facts, struct mc_yara_result *result_r);
	void (*scan_data)(struct mc_yara *yara, const void *data, size_t size,
			  struct mc_yara_result *result_r);
	char *(*hits_json)(const struct mc_yara_hit *const *hits, size_t count);
};

struct mc_query {
	struct node *root;
	char *text;
	bool needs_engine;
	bool needs_mime;
	bool has_literal;	/* an attachment term with a literal */
	bool needs_yara;
	struct mc_yara *yara;	/* the caller's (mc_query_set_yara) */
	const struct mc_query_yara_ops *yara_ops;	/* with it */
	struct node *ioc_root;	/* --ioc: what the "ioc" term stands for */
	bool defaulted;		/* no query given: "virus" */
};

/* Where a term came from, for error messages. */
struct where {
	const char *file;	/* indicator file, or NULL */
	size_t line;
	size_t pos;		/* 1-based character position in the query */
	const char *raw;	/* the term as written */
	bool after_value;	/* follows a KEY:VALUE word */
};

static inline bool mc_query_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
		c == '\v';
}

static inline int mc_query_cmp32(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static inline int mc_query_cmp16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* --- query.c --- */

struct node *mc_query_node_new(enum node_type type);
void	mc_query_node_add(struct node *n, struct node *kid);
void	mc_query_node_free(struct node *n);

/* DATE as mc_date_parse reads it, into BUF. */
void	mc_query_put_date(char *buf, size_t size, time_t t, bool with_time);

/* Compute the needs of Q from its tree (and ioc_root). */
void	mc_query_scan_needs(struct mc_query *q);
/* Render the query text of Q again. */
void	mc_query_render(struct mc_query *q);

/* --- query_term.c --- */

/* Build a term from TEXT (quotes removed). KEY_LIMIT is where the
   first quoted character is: the key must come before it. Returns
   NULL with *error_r naming W. */
struct node *mc_query_term_parse(const char *text, size_t key_limit,
				 const struct where *w, char **error_r);

/* The OR node of the terms of indicator file PATH, named in the
   query at AT, or NULL with *error_r. */
struct node *mc_query_indicators_load(const char *path, const struct where *at,
				      char **error_r);

/* The T_IOC term of feed PATH (mc_ioc_is_feed), or NULL. */
struct node *mc_query_feed_load(const char *path, char **error_r);

/* Set *error_r to "query: MSG at position N (RAW)", or with the
   file and line of an indicator list. Returns -1. */
int	mc_query_term_error(const struct where *w, char **error_r,
			    const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The key of KIND ("from"), for the query text. */
const char *mc_query_term_key(enum term_kind kind);

/* The cost level of KIND: 1 headers, size, date; 2 the MIME walk;
   3 the detection engine. */
int	mc_query_term_level(enum term_kind kind);

/* --- query_text.c --- */

/* Normalize S for searching; HTML drops markup. Returns a malloc'd
   string of *len_r bytes. */
char   *mc_query_normalize(const char *s, size_t len, bool html, size_t *len_r);
void	mc_query_needle_init(struct needle *nd, const char *value);
bool	mc_query_norm_contains(const char *norm, size_t nlen,
			       const struct needle *nd);
bool	mc_query_text_contains(const char *text, const struct needle *nd);
bool	mc_query_has_glob_chars(const char *s);
bool	mc_query_value_match(const struct node *t, const char *s);
char   *mc_query_glob_literal(const char *value, bool glob);
const unsigned char *mc_query_mem_case_find(const unsigned char *hay, size_t n,
					    const char *needle, size_t len);
bool	mc_query_names_may_be_encoded(const unsigned char *d, size_t n);

/* --- query_eval.c --- */

/* Add a reason to M, unless it has the same already (then DETAIL,
   malloc()ed or NULL, is freed). */
void	mc_query_add_reason(struct mc_match *m, enum mc_reason_kind kind,
			    const char *value, char *detail);

#endif
