/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	facts_mime 3
/* SUMMARY
/*	the MIME walk behind mc_facts_parts()
/* SYNOPSIS
/*	#include "facts-private.h"
/*
/*	void	run_walk(facts, structure_only)
/* DESCRIPTION
/*	run_walk() walks the MIME structure of facts->msg->data once
/*	and fills in the parts, their decoded content and hashes, the
/*	shape (a limit reached, or not) and why the parts are
/*	irregular; STRUCTURE_ONLY finds the shape only, decoding and
/*	hashing nothing. facts.c calls it on the first question about
/*	parts; what the walk promises is described there.
/*
/*	Entity boundaries are found here, over the message as it lies
/*	in memory (no copy); GMime reads Content-Type parameters and
/*	does lenient base64 and quoted-printable decoding.
/* DIAGNOSTICS
/*	A limit reached (limits->max_mime_parts, max_mime_depth) sets
/*	facts->shape_why; the parts found before it are kept.
/* SECURITY
/*	The message is hostile input. The walk uses an explicit stack,
/*	no recursion, and stops at the depth and part limits before
/*	doing more work. Each multipart is scanned once for its own
/*	delimiter. Decoded contents are at most the size of the
/*	message. Text given out is valid UTF-8 without NUL bytes.
/*--*/

#include <stdlib.h>
#include <string.h>
#include <gmime/gmime.h>

#include "facts-private.h"

/* ------------------------------------------------------------------ */
/* MIME entities                                                      */
/* ------------------------------------------------------------------ */

/* One entity waiting to be walked. */
struct job {
	const unsigned char *p;
	size_t len;
	unsigned depth;
	bool digest;	/* child of multipart/digest: default message/rfc822 */
	bool top;	/* the message itself: headers already parsed */
};

struct entity {
	char *ctype;			/* "type/subtype", lower case, pool */
	GMimeParamList *ct_params;
	GMimeContentEncoding cte;
	bool cte_unusual;		/* a transfer encoding beyond RFC 2045's five */
	bool b64_lenient;		/* base64 that only a lenient decoder reads */
	const char *filename;		/* pool, or NULL */
	const unsigned char *body;
	size_t body_len;
};

struct walk {
	struct mc_facts *f;
	struct job *jobs;
	size_t job_count, job_cap;
	struct header_block scratch;
	unsigned entities;	/* below the top, counted against the limit */
	bool structure_only;	/* mc_facts_check: find the shape, decode nothing */
	bool truncated;		/* a multipart ended without its close delimiter */
	bool failed;		/* a limit was reached */
	char why[128];
	const char *irregular;	/* first reason the parts are irregular */
};

static bool is_token_char(unsigned char c)
{
	return c > 32 && c < 127 && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

static const char *param_value(GMimeParamList *list, const char *name)
{
	GMimeParam *p;

	if (list == NULL || (p = g_mime_param_list_get_parameter(list, name)) == NULL)
		return NULL;
	return g_mime_param_get_value(p);
}

/* Parse "type/subtype; params". An unusable value gives the default
   type, as RFC 2045 says (text/plain, or message/rfc822 inside a
   multipart/digest). */
static void parse_content_type(struct mc_facts *f, const char *v,
			       bool digest, struct entity *e)
{
	const char *def = digest ? "message/rfc822" : "text/plain";
	const char *t = v, *s = NULL;
	size_t tlen = 0, slen = 0;
	char *ct;

	if (v != NULL) {
		while (*t == ' ' || *t == '\t')
			t++;
		while (is_token_char((unsigned char)t[tlen]))
			tlen++;
		const char *q = t + tlen;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == '/') {
			q++;
			while (*q == ' ' || *q == '\t')
				q++;
			s = q;
			while (is_token_char((unsigned char)s[slen]))
				slen++;
		}
		const char *semi = strchr(v, ';');
		if (semi != NULL && semi[1] != '\0')
			e->ct_params = g_mime_param_list_parse(NULL, semi + 1);
	}
	if (tlen > 0 && slen > 0)
		ct = mc_xasprintf("%.*s/%.*s", (int)tlen, t, (int)slen, s);
	else if (tlen == 4 && g_ascii_strncasecmp(t, "text", 4) == 0)
		ct = mc_xstrdup("text/plain");
	else if (tlen > 0)
		ct = mc_xstrdup("application/octet-stream");
	else
		ct = mc_xstrdup(def);
	for (char *c = ct; *c != '\0'; c++)
		*c = (char)g_ascii_tolower(*c);
	e->ctype = pool_keep(f, ct);
}

/* A file name written as bytes (uuencode's begin line), in the pool
   as valid UTF-8; NULL when empty. */
static const char *pool_name(struct mc_facts *f, const unsigned char *name,
			     size_t len)
{
	char *s = mc_utf8_make_valid(mc_xstrndup((const char *)name, len));

	if (*s == '\0') {
		free(s);
		return NULL;
	}
	return pool_keep(f, s);
}

/* Parameter NAME of header value V ("type; params"), decoded, in
   the pool; NULL when V or the parameter is absent. */
static const char *pool_param(struct mc_facts *f, const char *v,
			      const char *name)
{
	const char *semi = v != NULL ? strchr(v, ';') : NULL;
	char *p = semi != NULL ? mc_mime_param(semi + 1, name) : NULL;

	return p != NULL ? pool_keep(f, p) : NULL;
}

/* ------------------------------------------------------------------ */
/* Irregular MIME                                                     */
/* ------------------------------------------------------------------ */

/* A part scanner that decodes the parts itself gives libclamav the
   same bytes as libclamav's own mail parser only when the mail is
   plain, well-formed MIME. Everything else is marked irregular, and
   such a message is scanned whole: where two lenient decoders could
   disagree (broken base64 or quoted-printable, uuencode, BinHex,
   yEnc, MIME headers inside a text part that libclamav's parser
   would treat as a bounced message), and where libclamav's mail
   parser has limits of its own (header fields, parameters, parts). */

#define IRREGULAR_MAX_FIELDS	256
#define IRREGULAR_MAX_PARAMS	64
#define IRREGULAR_MAX_PARTS	512
#define IRREGULAR_MAX_DEPTH	4

static void mark_irregular(struct walk *w, const char *why)
{
	if (w->irregular == NULL)
		w->irregular = why;
}

/* Read the headers of the entity in JOB into E. */
static void entity_headers(struct walk *w, const struct job *job,
			   struct entity *e)
{
	struct mc_facts *f = w->f;
	struct header_block *hb;
	char *ct = NULL, *cte = NULL, *cd = NULL;

	memset(e, 0, sizeof(*e));
	if (job->top) {
		ensure_headers(f);
		hb = &f->top;
	} else {
		parse_header_block(job->p, job->len, f->limits.max_header_bytes,
				   &w->scratch);
		hb = &w->scratch;
	}
	for (size_t i = 0; i < hb->count; i++) {
		struct field *fld = &hb->fields[i];
		if (ct == NULL && field_is(fld, "Content-Type"))
			ct = unfold(fld->value, fld->value_len);
		else if (cte == NULL && field_is(fld, "Content-Transfer-Encoding"))
			cte = unfold(fld->value, fld->value_len);
		else if (cd == NULL && field_is(fld, "Content-Disposition"))
			cd = unfold(fld->value, fld->value_len);
	}
	parse_content_type(f, ct, job->digest, e);
	e->cte = cte != NULL ? g_mime_content_encoding_from_string(cte)
		: GMIME_CONTENT_ENCODING_DEFAULT;
	e->cte_unusual = cte != NULL && !cte_is_standard(cte);
	if (hb->count > IRREGULAR_MAX_FIELDS)
		mark_irregular(w, "more header fields than a mail parser keeps");
	if (e->ct_params != NULL &&
	    g_mime_param_list_length(e->ct_params) > IRREGULAR_MAX_PARAMS)
		mark_irregular(w, "more Content-Type parameters than a mail parser keeps");
	/* g_mime_part_get_filename's order: the disposition's filename,
	   then the content type's name. Read by mailcure rather than
	   GMime, whose decoder loses encoded words after one that ends
	   in base64 padding: a name could hide its extension so. */
	e->filename = pool_param(f, cd, "filename");
	if (e->filename == NULL)
		e->filename = pool_param(f, ct, "name");
	e->body = job->p + hb->body_offset;
	e->body_len = job->len - hb->body_offset;
	if (job->top) {
		/* The top header block was parsed after the From_ line. */
		e->body += f->top_start;
		e->body_len -= f->top_start;
	}
	free(ct);
	free(cte);
	free(cd);
}

static void entity_done(struct entity *e)
{
	if (e->ct_params != NULL)
		g_object_unref(e->ct_params);
	e->ct_params = NULL;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                           */
/* ------------------------------------------------------------------ */

/* Decode the transfer encoding of BODY. Returns a pointer into the
   message when there is nothing to decode, else a pool buffer. */
static const unsigned char *decode_body(struct mc_facts *f, struct entity *e,
					size_t *size_r, const char **uu_name_r)
{
	unsigned char *out;
	size_t n;

	*uu_name_r = NULL;
	switch (e->cte) {
	case GMIME_CONTENT_ENCODING_BASE64:
		out = pool_keep(f, mc_xmalloc(e->body_len / 4 * 3 + 4));
		if (base64_decode_strict(e->body, e->body_len, out, &n)) {
			out[n] = '\0';
			*size_r = n;
			return out;
		}
		/* Decoded as GMime reads it, as quoted-printable is. */
		e->b64_lenient = true;
		__attribute__((fallthrough));
	case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE: {
		GMimeEncoding st;
		g_mime_encoding_init_decode(&st, e->cte);
		out = pool_keep(f, mc_xmalloc(g_mime_encoding_outlen(&st, e->body_len) + 1));
		n = g_mime_encoding_flush(&st, (const char *)e->body, e->body_len,
					  (char *)out);
		out[n] = '\0';
		*size_r = n;
		return out;
	}
	case GMIME_CONTENT_ENCODING_UUENCODE: {
		size_t pos = 0, next, used;
		bool begin = false;
		/* Skip to the begin line when there is one. */
		while (pos < e->body_len && !begin) {
			size_t end = line_end(e->body, e->body_len, pos, &next);
			const unsigned char *name;
			size_t nlen;
			if ((begin = uu_begin_line(e->body + pos, end - pos, &name, &nlen)))
				*uu_name_r = pool_name(f, name, nlen);
			pos = next;
		}
		if (!begin)
			pos = 0;
		out = pool_keep(f, mc_xmalloc(e->body_len - pos + 1));
		n = uudecode(e->body + pos, e->body_len - pos, out, &used);
		out[n] = '\0';
		*size_r = n;
		return out;
	}
	default:
		*size_r = e->body_len;
		return e->body;
	}
}

/* The text of a text/ part as UTF-8, NUL bytes made spaces. */
static const char *text_utf8(struct mc_facts *f, const unsigned char *s,
			     size_t len, const char *charset)
{
	char *copy = mc_xmalloc(len + 1), *out;

	for (size_t i = 0; i < len; i++)
		copy[i] = s[i] == '\0' ? ' ' : (char)s[i];
	copy[len] = '\0';
	if (mc_charset_is_utf8(charset) && g_utf8_validate(copy, (gssize)len, NULL))
		return pool_keep(f, copy);
	out = NULL;
	if (!mc_charset_is_utf8(charset))
		out = mc_charset_to_utf8(copy, len, charset);
	if (out == NULL) {
		/* Mislabelled or unknown charset: GMime's fallback list
		   (UTF-8, then ISO-8859-1) always gives text. */
		char *g = g_mime_utils_decode_8bit(NULL, copy, len);
		out = mc_utf8_make_valid(mc_xstrdup(g));
		g_free(g);
	}
	free(copy);
	return pool_keep(f, out);
}

/* ------------------------------------------------------------------ */
/* The walk                                                           */
/* ------------------------------------------------------------------ */

/* Count one more entity; -1 (and the walk marked failed) when that
   is over the limit: the caller then queues nothing more, but what is
   already queued is still walked, so every part within the limit is
   returned. */
static int count_entity(struct walk *w)
{
	if (w->entities >= w->f->limits.max_mime_parts) {
		if (!w->failed)
			snprintf(w->why, sizeof(w->why), "MIME part limit (%u) reached",
				 w->f->limits.max_mime_parts);
		w->failed = true;
		return -1;
	}
	w->entities++;
	return 0;
}

static struct mc_part *add_leaf(struct mc_facts *f, const char *filename,
				const char *ctype, const unsigned char *content,
				size_t size, unsigned depth)
{
	struct mc_part part;

	memset(&part, 0, sizeof(part));
	part.filename = filename;
	part.content_type = ctype;
	part.content = content;
	part.content_size = size;
	part.depth = depth;
	mc_sha256(content, size, part.sha256);
	MC_ARRAY_PUSH(f->parts, f->part_count, f->part_cap, part);
	return &f->parts[f->part_count - 1];
}

/* Files uuencoded inside a text part, one leaf each. */
static int uu_leaves(struct walk *w, const unsigned char *p, size_t len,
		     unsigned depth)
{
	struct mc_facts *f = w->f;
	size_t pos = 0, next;

	while (pos < len) {
		const unsigned char *hit = memmem(p + pos, len - pos, "begin ", 6);
		const unsigned char *name;
		size_t nlen, start, end, used;

		if (hit == NULL)
			break;
		start = (size_t)(hit - p);
		end = line_end(p, len, start, &next);
		if ((start > 0 && p[start - 1] != '\n') ||
		    !uu_begin_line(p + start, end - start, &name, &nlen)) {
			pos = start + 6;
			continue;
		}
		if (count_entity(w) < 0)
			return 0;
		unsigned char *out = pool_keep(f, mc_xmalloc(len - next + 1));
		size_t n = uudecode(p + next, len - next, out, &used);
		out[n] = '\0';
		add_leaf(f, pool_name(f, name, nlen), "application/octet-stream",
			 out, n, depth);
		pos = next + used;
	}
	return 0;
}

static int leaf(struct walk *w, struct entity *e, unsigned depth)
{
	struct mc_facts *f = w->f;
	const char *uu_name;
	size_t size;

	if (w->structure_only)
		return 0;
	if (depth > IRREGULAR_MAX_DEPTH)
		mark_irregular(w, "MIME parts nested deeper than a mail parser goes");
	if (e->cte_unusual || e->cte == GMIME_CONTENT_ENCODING_UUENCODE)
		mark_irregular(w, "an unusual transfer encoding");
	else if (e->cte == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE &&
		 !qp_is_strict(e->body, e->body_len))
		mark_irregular(w, "quoted-printable that decoders may read differently");
	const unsigned char *content = decode_body(f, e, &size, &uu_name);
	if (e->b64_lenient)
		mark_irregular(w, "base64 that decoders may read differently");
	const char *filename = e->filename != NULL ? e->filename : uu_name;
	struct mc_part *part = add_leaf(f, filename, e->ctype, content, size, depth);

	if (strncmp(e->ctype, "text/", 5) == 0) {
		const char *why = text_irregular(content, size);
		if (why != NULL)
			mark_irregular(w, why);
		part->text_utf8 = text_utf8(f, content, size,
					    param_value(e->ct_params, "charset"));
		if (strcmp(e->ctype, "text/plain") == 0 &&
		    e->cte != GMIME_CONTENT_ENCODING_UUENCODE)
			return uu_leaves(w, content, size, depth);
	}
	return 0;
}

/* Find the delimiter lines of boundary B in BODY and queue the parts
   between them (in reverse, so they are walked in order). Returns 0
   when no delimiter was found (not a usable multipart). */
static int split_multipart(struct walk *w, const struct entity *e,
			   const char *b, unsigned depth, bool digest,
			   size_t *found_r)
{
	const unsigned char *body = e->body;
	size_t len = e->body_len, blen = strlen(b), pos = 0;
	size_t part_start = 0;
	bool in_part = false;
	char *needle = mc_xasprintf("--%s", b);
	size_t nlen = blen + 2;
	size_t first_job = w->job_count;

	*found_r = 0;
	while (pos + nlen <= len) {
		const unsigned char *hit = memmem(body + pos, len - pos, needle, nlen);
		size_t at, i, next;
		bool close = false;

		if (hit == NULL)
			break;
		at = (size_t)(hit - body);
		if (at > 0 && body[at - 1] != '\n') {
			pos = at + 1;
			continue;
		}
		i = at + nlen;
		if (i + 1 < len && body[i] == '-' && body[i + 1] == '-') {
			close = true;
			i += 2;
		}
		size_t end = line_end(body, len, at, &next);
		while (i < end && (body[i] == ' ' || body[i] == '\t'))
			i++;
		if (i < end) {
			pos = at + 1;	/* "--boundaryX": not ours */
			continue;
		}
		if (in_part) {
			/* The line break before a delimiter belongs to it. */
			size_t pend = at;
			if (pend > part_start && body[pend - 1] == '\n')
				pend--;
			if (pend > part_start && body[pend - 1] == '\r')
				pend--;
			if (count_entity(w) < 0) {
				in_part = false;
				break;
			}
			struct job j = { body + part_start, pend - part_start,
					 depth + 1, digest, false };
			MC_ARRAY_PUSH(w->jobs, w->job_count, w->job_cap, j);
		}
		if (*found_r == 0 && !w->structure_only) {
			const char *why = text_irregular(body, at);
			if (why != NULL)
				mark_irregular(w, why);
		}
		(*found_r)++;
		if (close) {
			if (!w->structure_only) {
				const char *why = text_irregular(body + next, len - next);
				if (why != NULL)
					mark_irregular(w, why);
			}
			in_part = false;
			break;
		}
		in_part = true;
		part_start = next;
		pos = next;
	}
	if (in_part)
		w->truncated = true;
	if (in_part && count_entity(w) == 0) {
		/* Truncated: no close delimiter, the part runs to the end. */
		struct job j = { body + part_start, len - part_start, depth + 1,
				 digest, false };
		MC_ARRAY_PUSH(w->jobs, w->job_count, w->job_cap, j);
	}
	free(needle);
	/* Reverse the new jobs so the stack pops the first part first. */
	for (size_t a = first_job, z = w->job_count; a + 1 < z; a++, z--) {
		struct job t = w->jobs[a];
		w->jobs[a] = w->jobs[z - 1];
		w->jobs[z - 1] = t;
	}
	return 0;
}

static int walk_entity(struct walk *w, const struct job *job)
{
	struct mc_facts *f = w->f;
	struct entity e;
	int ret = 0;

	if (job->depth > f->limits.max_mime_depth) {
		/* Not walked; its siblings still are. */
		if (!w->failed)
			snprintf(w->why, sizeof(w->why),
				 "MIME nesting depth limit (%u) reached",
				 f->limits.max_mime_depth);
		w->failed = true;
		return 0;
	}
	entity_headers(w, job, &e);
	if (strncmp(e.ctype, "multipart/", 10) == 0) {
		const char *b = param_value(e.ct_params, "boundary");
		size_t found = 0;

		if (b != NULL && *b != '\0') {
			ret = split_multipart(w, &e, b, job->depth,
					      strcmp(e.ctype, "multipart/digest") == 0,
					      &found);
		}
		if (ret == 0 && found == 0) {
			mark_irregular(w, "a multipart without delimiters");
			/* No structure to walk: keep the text searchable. */
			e.ctype = pool_strdup(f, "text/plain");
			e.cte = GMIME_CONTENT_ENCODING_DEFAULT;
			ret = leaf(w, &e, job->depth);
		}
	} else if (strcmp(e.ctype, "message/rfc822") == 0 ||
		   strcmp(e.ctype, "message/global") == 0) {
		size_t size;
		const char *uu_name;
		const unsigned char *inner = decode_body(f, &e, &size, &uu_name);

		if (e.cte_unusual || e.cte == GMIME_CONTENT_ENCODING_BASE64 ||
		    e.cte == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
		    e.cte == GMIME_CONTENT_ENCODING_UUENCODE)
			mark_irregular(w, "an encoded attached message");

		/* The attached message is a leaf (its file name and hash
		   can be asked for), and its parts are walked, one level
		   down. A base64-encoded message/rfc822 is not allowed by
		   RFC 2046 but is decoded anyway: malware uses it. */
		if (!w->structure_only)
			add_leaf(f, e.filename, e.ctype, inner, size, job->depth);
		if (size > 0 && count_entity(w) == 0) {
			struct job j = { inner, size, job->depth + 1, false, false };
			MC_ARRAY_PUSH(w->jobs, w->job_count, w->job_cap, j);
		}
	} else {
		if (strncmp(e.ctype, "message/", 8) == 0)
			mark_irregular(w, "a message/ part other than rfc822");
		ret = leaf(w, &e, job->depth);
	}
	entity_done(&e);
	return ret;
}

/* Walk the whole message; STRUCTURE_ONLY finds its shape (limits)
   without decoding or hashing any part. */
void run_walk(struct mc_facts *facts, bool structure_only)
{
	struct walk w;

	memset(&w, 0, sizeof(w));
	w.f = facts;
	w.structure_only = structure_only;
	if (facts->msg->data != NULL && facts->msg->size > 0) {
		struct job top = { facts->msg->data, facts->msg->size,
				   0, false, true };
		MC_ARRAY_PUSH(w.jobs, w.job_count, w.job_cap, top);
	}
	while (w.job_count > 0) {
		struct job j = w.jobs[--w.job_count];
		walk_entity(&w, &j);
	}
	facts->shape_done = true;
	facts->shape_why = w.failed ? pool_strdup(facts, w.why) : NULL;
	if (!structure_only) {
		facts->parts_done = true;
		facts->parts_ret = w.failed ? -1 : 0;
		facts->parts_why = facts->shape_why;
		if (w.failed)
			mark_irregular(&w, "a MIME limit was reached");
		else if (w.truncated)
			mark_irregular(&w, "a multipart without its closing delimiter");
		else if (w.entities > IRREGULAR_MAX_PARTS)
			mark_irregular(&w, "more MIME parts than a mail parser keeps");
		facts->irregular = w.irregular;
		facts->md5_done = mc_xcalloc(facts->part_count + 1, sizeof(bool));
	}
	free(w.jobs);
	free(w.scratch.fields);
}
