/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	ioc-private 3h
/* SUMMARY
/*	what the indicator readers share
/* SYNOPSIS
/*	#include "ioc-private.h"
/* DESCRIPTION
/*	An indicator set (ioc.c) holds indicators of a few types, each
/*	looked up in a hash table by its normal form, and the few
/*	indicators that are a conjunction of comparisons (a STIX
/*	pattern "[a AND b]"), checked one by one. The readers
/*	(ioc_misp.c, ioc_stix.c, ioc_csv.c) turn a file into calls of
/*	mc_ioc_add(); ioc.c reads the files (mc_ioc_read_json), and
/*	ioc_match.c matches the set against a message (mc_ioc_match).
/*--*/

#ifndef MAILCURE_IOC_PRIVATE_H
#define MAILCURE_IOC_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>
#include <json-c/json.h>

#include "mailcure/mailcure.h"
#include "internal.h"

/* An indicator file larger than this is refused: the biggest public
   feeds are a few hundred megabytes of JSON across many files. */
#define MC_IOC_FILE_MAX (256UL << 20)
/* JSON nesting deeper than this is refused (MISP nests 5 deep). */
#define MC_IOC_JSON_DEPTH 32
/* Notes kept per file; the rest are only counted. */
#define MC_IOC_NOTES_MAX 20

enum mc_ioc_type {
	IOC_MD5, IOC_SHA1, IOC_SHA256, IOC_URL, IOC_DOMAIN, IOC_EMAIL,
	IOC_SUBJECT, IOC_TYPES
};

/* Where an indicator came from; strings are interned in the set. */
struct mc_ioc_meta {
	const char *id;		/* attribute uuid or STIX indicator id */
	const char *name;	/* STIX indicator name, MISP comment */
	const char *event_id;	/* MISP event id/uuid, STIX bundle/report */
	const char *event;	/* MISP event info, STIX report name */
};

/* One comparison: TYPE equals VALUE (in normal form). */
struct mc_ioc_cmp {
	enum mc_ioc_type type;
	const char *value;
};

struct mc_ioc {
	enum mc_ioc_type type;	/* of the first comparison */
	const char *value;	/* as the feed spells it */
	struct mc_ioc_meta meta;
	unsigned feed;		/* index in the set's feeds */
	struct mc_ioc_cmp *cmps;	/* conjunctions only */
	size_t ncmps;
};

/* The indicators, looked up by normal form (ioc_match.c). */
struct mc_ioc_set {
	struct mc_ioc *iocs;
	size_t count, cap;
	GHashTable *table[IOC_TYPES];	/* normal form -> index + 1 */
	size_t *conj;			/* indexes of conjunctions */
	size_t nconj, capconj;
	GStringChunk *strings;
	struct mc_ioc_feed *feeds;
	size_t nfeeds, capfeeds;
};

/* The set being loaded, for the readers. */
struct mc_ioc_load {
	struct mc_ioc_set *set;
	struct mc_ioc_feed *feed;
	unsigned feed_index;
	const char *path;	/* for messages */
};

const char *mc_ioc_type_name(enum mc_ioc_type type);
/* The type of a name as feeds spell it ("sha256", "SHA-256",
   "domain", "url"...); false when none. */
bool	mc_ioc_type_parse(const char *name, enum mc_ioc_type *type_r);
/* VALUE in the normal form of TYPE (malloc()ed), or NULL when it is
   not one. */
char   *mc_ioc_normalize(enum mc_ioc_type type, const char *value);
/* Intern S in the set (NULL stays NULL). */
const char *mc_ioc_intern(struct mc_ioc_load *l, const char *s);
/* Add an indicator of one comparison, or of NCMPS > 1 (a
   conjunction). Values not in normal form are skipped with a note.
   Returns whether it was added. */
bool	mc_ioc_add(struct mc_ioc_load *l, const struct mc_ioc_cmp *cmps,
		   size_t ncmps, const char *value, const struct mc_ioc_meta *meta);
/* Note why something was skipped ("line 4: ..."). */
void	mc_ioc_note(struct mc_ioc_load *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Count one indicator skipped, with a note. */
void	mc_ioc_skip(struct mc_ioc_load *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parse DATA (LEN bytes) of PATH as JSON, strictly (UTF-8, depth);
   NULL with *error_r naming PATH, line and column. */
json_object *mc_ioc_parse_json(const char *path, const char *data, size_t len,
			       char **error_r);
/* mc_ioc_read_file() and mc_ioc_parse_json() of file NAME. */
json_object *mc_ioc_read_json(int dirfd, const char *name, const char *shown,
			      char **error_r);
/* The string member KEY of OBJ, or NULL. */
const char *mc_ioc_jstr(json_object *obj, const char *key);

/* What of a message indicators are compared with, in normal form:
   the hashes of its parts and of itself, its URLs (also for
   domains), its sender addresses and its subject. */
struct mc_ioc_view {
	char **items[IOC_TYPES];
	size_t count[IOC_TYPES];
	bool incomplete;	/* MIME walk or URL list cut short */
	const char *why;	/* then why */
};
/* Fill VIEW with what SET needs from the message; PARTS as the
   walk gave them (WALK_FAILED: not all). */
void	mc_ioc_view_init(struct mc_ioc_view *view, const struct mc_ioc_set *set,
			 const struct mc_msg *msg, struct mc_facts *facts,
			 const struct mc_part *parts, size_t nparts, bool walk_failed);
void	mc_ioc_view_deinit(struct mc_ioc_view *view);

struct mc_ioc_hit {
	const struct mc_ioc *ioc;
	const char *matched;	/* the hash, URL, address, subject */
};
/* The first indicator of SET the message has. */
bool	mc_ioc_match(const struct mc_ioc_set *set, const struct mc_ioc_view *view,
		     struct mc_ioc_hit *hit_r);
/* How many indicators of SET compare something other than a hash. */
size_t	mc_ioc_set_count_not_hashes(const struct mc_ioc_set *set);
/* Whether SET has indicators of TYPE. */
bool	mc_ioc_set_has(const struct mc_ioc_set *set, enum mc_ioc_type type);
/* The reason detail of HIT: a JSON object, malloc()ed. */
char   *mc_ioc_hit_json(const struct mc_ioc_set *set, const struct mc_ioc_hit *hit);
size_t	mc_ioc_set_feeds(const struct mc_ioc_set *set,
			 const struct mc_ioc_feed **feeds_r);
/* Add domain NAME (a domain: term of a plain list) to SET. */
bool	mc_ioc_set_add_domain(struct mc_ioc_set *set, const char *name);

/* Add the indicators of DATA (LEN bytes, NUL-terminated) as if read
   from a file NAME. */
int	mc_ioc_set_load_data(struct mc_ioc_set *set, const char *name,
			     const char *data, size_t len, char **error_r);

/* The readers: 0, or -1 with *error_r. */
int	mc_ioc_misp_event(struct mc_ioc_load *l, json_object *root, char **error_r);
bool	mc_ioc_misp_type(const char *misp_type, const char *value,
			 enum mc_ioc_type *type_r, char **value_r);
int	mc_ioc_misp_feed(struct mc_ioc_load *l, int dirfd, char **error_r);
bool	mc_ioc_is_stix(json_object *root);
int	mc_ioc_stix_bundle(struct mc_ioc_load *l, json_object *root, char **error_r);
int	mc_ioc_csv(struct mc_ioc_load *l, const char *data, size_t len, char **error_r);

/* Read regular file NAME under DIRFD (or a path with AT_FDCWD),
   without following a link, at most MC_IOC_FILE_MAX bytes. */
int	mc_ioc_read_file(int dirfd, const char *name, const char *shown,
			 char **data_r, size_t *len_r, char **error_r);

#endif
