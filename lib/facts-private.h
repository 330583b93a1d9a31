/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	facts-private 3h
/* SUMMARY
/*	what the parts of the message facts share
/* SYNOPSIS
/*	#include "facts-private.h"
/* DESCRIPTION
/*	The facts about one message (see facts.c for what they are
/*	and when each is computed) are three files around struct
/*	mc_facts:
/* .IP facts.c
/*	the facts object, its memory pool, the header block and the
/*	header, address and date facts, and the public calls that
/*	answer from the MIME walk.
/* .IP facts_mime.c
/*	the MIME walk: entity headers, Content-Type, the decoded leaf
/*	parts, uuencoded files in text parts, multipart splitting,
/*	the limits, and why the parts are irregular.
/* .IP facts_decode.c
/*	byte-level helpers without state: strict base64 and
/*	quoted-printable checks, uudecode, line ends, and the tests
/*	for text that a mail parser treats as more than text.
/* .PP
/*	Nothing here is part of the library interface.
/*--*/

#ifndef MAILCURE_FACTS_PRIVATE_H
#define MAILCURE_FACTS_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "mailcure/mailcure.h"
#include "internal.h"

/* One header field, pointing into the message. */
struct field {
	const char *name;
	size_t name_len;
	const char *value;	/* after the colon, folded, to its last line */
	size_t value_len;
	const char *decoded;	/* cache, owned by the pool */
};

struct header_block {
	struct field *fields;
	size_t count, cap;
	size_t body_offset;	/* from the start of the entity */
};

/* Cached answers to mc_facts_headers() / mc_facts_addresses(). */
struct cached_list {
	bool addresses;
	char *name;
	const char **items;		/* header values */
	struct mc_address *addrs;	/* or addresses */
	size_t count;
};

struct mc_facts {
	const struct mc_msg *msg;
	struct mc_limits limits;

	bool headers_done;
	struct header_block top;
	size_t top_start;	/* after an mbox-style "From " line */

	struct cached_list *lists;
	size_t list_count, list_cap;

	bool date_done;
	bool has_date;
	time_t date;

	bool parts_done;
	int parts_ret;
	const char *parts_why;
	/* What any walk (full or structure only) learnt of the shape. */
	bool shape_done;
	const char *shape_why;	/* a limit reached, or NULL */
	struct mc_part *parts;
	size_t part_count, part_cap;
	bool *md5_done;		/* per part: md5 computed on first use */
	/* Why the parts are not what libclamav's mail parser would hand
	   its scanner (NULL: they are). */
	const char *irregular;

	/* URLs of the parts (url.c), on first use. */
	struct mc_url_list *urls;
	char *urls_why;

	/* Everything handed out lives until mc_facts_free. */
	void **allocs;
	size_t alloc_count, alloc_cap;
};

/* facts.c */
void	*pool_keep(struct mc_facts *f, void *p);
char	*pool_strdup(struct mc_facts *f, const char *s);
void	parse_header_block(const unsigned char *p, size_t len,
			   size_t max_bytes, struct header_block *hb);
void	ensure_headers(struct mc_facts *f);
bool	field_is(const struct field *fld, const char *name);
char	*unfold(const char *v, size_t len);

/* facts_mime.c */
void	run_walk(struct mc_facts *facts, bool structure_only);

/* facts_decode.c */
bool	cte_is_standard(const char *cte);
bool	base64_decode_strict(const unsigned char *p, size_t len,
			     unsigned char *out, size_t *size_r);
bool	qp_is_strict(const unsigned char *p, size_t len);
const char *text_irregular(const unsigned char *p, size_t len);
size_t	line_end(const unsigned char *p, size_t len, size_t pos,
		 size_t *next_r);
size_t	uudecode(const unsigned char *p, size_t len, unsigned char *out,
		 size_t *used_r);
bool	uu_begin_line(const unsigned char *p, size_t len,
		      const unsigned char **name_r, size_t *name_len_r);

#endif
