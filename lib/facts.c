/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	facts 3
/* SUMMARY
/*	lazily parsed facts about one message: headers, addresses, date, MIME parts
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	struct mc_facts *mc_facts_init(msg, limits)
/*	void	mc_facts_free(&facts)
/*
/*	const char *mc_facts_header(facts, name)
/*	size_t	mc_facts_headers(facts, name, &values)
/*	size_t	mc_facts_addresses(facts, header, &addrs)
/*	bool	mc_facts_date(facts, &date)
/*	int	mc_facts_parts(facts, &parts, &count, &why)
/*	int	mc_facts_urls(facts, &urls, &count, &why)
/*	enum mc_verdict_kind mc_facts_check(facts, &why)
/*	enum mc_verdict_kind mc_facts_check_headers(facts, &why)
/* DESCRIPTION
/*	A query asks a few questions about each of tens of thousands of
/*	messages, and most questions are about headers. So nothing is
/*	parsed until it is asked for: the header block is split (not
/*	copied) on the first header question, a value is unfolded and
/*	RFC 2047-decoded (rfc2047.c), an address header split into its
/*	mailboxes (address.c) and the Date read (date.c) only when that
/*	header is asked for, and the MIME structure is walked only when
/*	parts are asked for.
/*	mc_facts_urls() gives the URLs of the parts (url.c), collected
/*	on first use.
/*	Answers are cached and stay valid until mc_facts_free().
/*	Header questions can be answered from a message whose body is
/*	not read yet (msg->head); the MIME walk needs msg->data.
/*
/*	The MIME walk finds entity boundaries itself, over the message
/*	as it lies in memory (no copy), and uses GMime for everything
/*	else that is hard to get right: Content-Type parameters, lenient
/*	base64 and quoted-printable decoding, charset names.
/*	File names (the Content-Disposition filename, else the
/*	Content-Type name, RFC 2231 and RFC 2047 decoded) are read by
/*	mc_mime_param(), as GMime's decoder loses every encoded word
/*	after one that ends in base64 padding. Leaf parts are
/*	returned with their decoded content, a UTF-8 text for text/*
/*	parts, and SHA-256/MD5 of the decoded content. A message/rfc822
/*	part is itself a leaf (its content is the attached message, so
/*	"attachment:*.eml" and its hash work) and is descended into:
/*	its own parts are leaves too, one level deeper. uuencoded files
/*	inside text/plain parts ("begin 644 name") are leaves as well,
/*	as old mail viruses travelled that way.
/*
/*	Delimiter lines are matched as GMime matches them: "--boundary"
/*	at the start of a line, optionally "--", then only white space.
/*	A multipart without a boundary or without any delimiter line is
/*	one text/plain leaf, so its text is still searchable. A missing
/*	close delimiter, common in spam and from old mailers, ends the
/*	last part at the end of the data, as mail readers and libclamav
/*	read it: the walk has then seen every byte, so such a message is
/*	not unscanned for it (mc_facts_check), only irregular (it goes
/*	to the engine whole, see mc_facts_regular).
/* DIAGNOSTICS
/*	mc_facts_parts() returns -1 when limits->max_mime_parts entities
/*	or limits->max_mime_depth nesting levels are exceeded, with *why_r
/*	saying which; the parts found before the limit are still
/*	returned in *parts_r/*count_r (a term they satisfy is satisfied
/*	whatever the rest holds).
/* SECURITY
/*	The message is hostile input. The walk uses an explicit stack, no
/*	recursion, so 1,000-deep message/rfc822 or multipart nesting
/*	cannot exhaust a worker thread's stack; it stops at the depth and
/*	part limits before doing more work. Each multipart is scanned
/*	once for its own delimiter (memmem, linear), so 5,000 parts cost
/*	one pass, and deep nesting costs at most max_mime_depth passes.
/*	Decoded contents are at most the size of the message. Text given
/*	out is valid UTF-8 without NUL bytes, so a NUL cannot hide the
/*	rest of a text from a search.
/* SEE ALSO
/*	facts-private.h, how the facts are split over facts.c,
/*	facts_mime.c (the MIME walk) and facts_decode.c.
/*--*/

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <gmime/gmime.h>

#include "facts-private.h"

/* ------------------------------------------------------------------ */
/* Memory owned by the facts                                          */
/* ------------------------------------------------------------------ */

void *pool_keep(struct mc_facts *f, void *p)
{
	MC_ARRAY_PUSH(f->allocs, f->alloc_count, f->alloc_cap, p);
	return p;
}

char *pool_strdup(struct mc_facts *f, const char *s)
{
	return pool_keep(f, mc_xstrdup(s));
}

/* ------------------------------------------------------------------ */
/* GMime setup                                                        */
/* ------------------------------------------------------------------ */

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

/* g_mime_init() is not thread-safe and must run before any GMime
   call; afterwards each worker parses its own objects, and GMime's
   shared state (parser options, charset map) is read-only. */
static void gmime_init_once(void)
{
	g_mime_init();
	/* Initialize the classes the workers instantiate now, once,
	   instead of lazily in whichever worker gets there first. */
	g_type_class_ref(internet_address_list_get_type());
	g_type_class_ref(INTERNET_ADDRESS_TYPE_MAILBOX);
	g_type_class_ref(INTERNET_ADDRESS_TYPE_GROUP);
	g_type_class_ref(GMIME_TYPE_PARAM_LIST);
	g_type_class_ref(GMIME_TYPE_PARAM);
}

void mc_gmime_init(void)
{
	pthread_once(&gmime_once, gmime_init_once);
}

struct mc_facts *mc_facts_init(const struct mc_msg *msg,
			       const struct mc_limits *limits)
{
	struct mc_facts *f = mc_xcalloc(1, sizeof(*f));

	mc_gmime_init();
	f->msg = msg;
	if (limits != NULL)
		f->limits = *limits;
	else
		mc_limits_default(&f->limits);
	return f;
}

void mc_facts_free(struct mc_facts **facts)
{
	struct mc_facts *f = *facts;

	if (f == NULL)
		return;
	for (size_t i = 0; i < f->alloc_count; i++)
		free(f->allocs[i]);
	free(f->allocs);
	for (size_t i = 0; i < f->list_count; i++) {
		free(f->lists[i].name);
		free(f->lists[i].items);
		free(f->lists[i].addrs);
	}
	free(f->lists);
	free(f->top.fields);
	free(f->parts);
	free(f->md5_done);
	if (f->urls != NULL)
		mc_url_list_deinit(f->urls);
	free(f->urls);
	free(f->urls_why);
	free(f);
	*facts = NULL;
}

/* ------------------------------------------------------------------ */
/* Header blocks                                                      */
/* ------------------------------------------------------------------ */

static bool is_ftext(unsigned char c)
{
	return c > 32 && c < 127 && c != ':';
}

/* Split the header block at P (LEN bytes) into fields, stopping at
   the empty line, or at the first line that is not a header (GMime
   does the same: that line starts the body). Fields that start past
   MAX_BYTES are not kept, but the end of the block is still found. */
void parse_header_block(const unsigned char *p, size_t len,
			size_t max_bytes, struct header_block *hb)
{
	size_t pos = 0;
	size_t value_start = 0;
	bool in_field = false;	/* the last field is kept: extend it */
	bool any_field = false;

	hb->count = 0;
	while (pos < len) {
		const unsigned char *nl = memchr(p + pos, '\n', len - pos);
		size_t eol = nl != NULL ? (size_t)(nl - p) : len;
		size_t next = nl != NULL ? eol + 1 : len;
		size_t end = eol;

		if (end > pos && p[end - 1] == '\r')
			end--;
		if (end == pos) {
			hb->body_offset = next;
			return;
		}
		if (p[pos] == ' ' || p[pos] == '\t') {
			if (!any_field)
				break;	/* indented text, not a header */
			if (in_field)
				hb->fields[hb->count - 1].value_len = end - value_start;
			pos = next;
			continue;
		}
		size_t i = pos;
		while (i < end && is_ftext(p[i]))
			i++;
		size_t name_end = i;
		while (i < end && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (name_end == pos || i >= end || p[i] != ':')
			break;
		any_field = true;
		in_field = pos < max_bytes;
		if (in_field) {
			struct field fld = {
				.name = (const char *)p + pos,
				.name_len = name_end - pos,
				.value = (const char *)p + i + 1,
				.value_len = end - (i + 1),
				.decoded = NULL,
			};
			value_start = i + 1;
			MC_ARRAY_PUSH(hb->fields, hb->count, hb->cap, fld);
		}
		pos = next;
	}
	hb->body_offset = pos;
}

void ensure_headers(struct mc_facts *f)
{
	const unsigned char *p = f->msg->data;
	size_t len = f->msg->size;

	if (f->headers_done)
		return;
	f->headers_done = true;
	if (p == NULL) {
		/* Not loaded: the head holds the whole header block. */
		p = f->msg->head;
		len = p != NULL ? f->msg->head_size : 0;
	}
	/* A file saved from an mbox may still start with its From_ line,
	   which is not a header and would otherwise end the header block
	   before it starts. */
	if (len >= 5 && memcmp(p, "From ", 5) == 0) {
		const unsigned char *nl = memchr(p, '\n', len);
		f->top_start = nl != NULL ? (size_t)(nl - p) + 1 : len;
	}
	parse_header_block(p + f->top_start, len - f->top_start,
			   f->limits.max_header_bytes, &f->top);
}

bool field_is(const struct field *fld, const char *name)
{
	size_t n = strlen(name);

	return fld->name_len == n && g_ascii_strncasecmp(fld->name, name, n) == 0;
}

/* The value with line breaks of folding removed and the surrounding
   white space trimmed; NUL bytes become spaces. malloc()ed. */
char *unfold(const char *v, size_t len)
{
	char *out = mc_xmalloc(len + 1);
	size_t o = 0, i = 0;

	while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' ||
			   v[i] == '\n'))
		i++;
	for (; i < len; i++) {
		char c = v[i];
		if (c == '\r' || c == '\n')
			continue;
		out[o++] = c == '\0' ? ' ' : c;
	}
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
		o--;
	out[o] = '\0';
	return out;
}

static bool needs_decoding(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80 || (s[0] == '=' && s[1] == '?'))
			return true;
	}
	return false;
}

static const char *field_decoded(struct mc_facts *f, struct field *fld)
{
	char *raw;

	if (fld->decoded != NULL)
		return fld->decoded;
	raw = unfold(fld->value, fld->value_len);
	if (needs_decoding(raw)) {
		/* RFC 2047 words, and raw 8-bit text, both end up as
		   UTF-8. */
		fld->decoded = pool_keep(f, mc_rfc2047_decode(raw, strlen(raw)));
		free(raw);
	} else {
		fld->decoded = pool_keep(f, raw);
	}
	return fld->decoded;
}

const char *mc_facts_header(struct mc_facts *facts, const char *name)
{
	ensure_headers(facts);
	for (size_t i = 0; i < facts->top.count; i++) {
		if (field_is(&facts->top.fields[i], name))
			return field_decoded(facts, &facts->top.fields[i]);
	}
	return NULL;
}

static struct cached_list *find_list(struct mc_facts *f, bool addresses,
				     const char *name)
{
	for (size_t i = 0; i < f->list_count; i++) {
		if (f->lists[i].addresses == addresses &&
		    g_ascii_strcasecmp(f->lists[i].name, name) == 0)
			return &f->lists[i];
	}
	return NULL;
}

static struct cached_list *add_list(struct mc_facts *f, bool addresses,
				    const char *name, const char **items,
				    size_t count)
{
	struct cached_list l = {
		.addresses = addresses, .name = mc_xstrdup(name),
		.items = items, .addrs = NULL, .count = count,
	};

	MC_ARRAY_PUSH(f->lists, f->list_count, f->list_cap, l);
	return &f->lists[f->list_count - 1];
}

size_t mc_facts_headers(struct mc_facts *facts, const char *name,
			const char *const **values_r)
{
	struct cached_list *l = find_list(facts, false, name);

	if (l == NULL) {
		const char **items = NULL;
		size_t count = 0, cap = 0;

		ensure_headers(facts);
		for (size_t i = 0; i < facts->top.count; i++) {
			if (field_is(&facts->top.fields[i], name)) {
				const char *v = field_decoded(facts, &facts->top.fields[i]);
				MC_ARRAY_PUSH(items, count, cap, v);
			}
		}
		l = add_list(facts, false, name, items, count);
	}
	*values_r = l->items;
	return l->count;
}

/* ------------------------------------------------------------------ */
/* Addresses and dates                                                */
/* ------------------------------------------------------------------ */

size_t mc_facts_addresses(struct mc_facts *facts, const char *header,
			  const struct mc_address **addrs_r)
{
	struct cached_list *l = find_list(facts, true, header);

	if (l == NULL) {
		struct mc_address *v = NULL;
		size_t count = 0, cap = 0;

		ensure_headers(facts);
		for (size_t i = 0; i < facts->top.count; i++) {
			struct field *fld = &facts->top.fields[i];
			size_t before = count;
			char *raw;

			if (!field_is(fld, header))
				continue;
			/* The raw value: the structure first, then the
			   decoding of each part. */
			raw = unfold(fld->value, fld->value_len);
			mc_address_parse(raw, &v, &count, &cap);
			free(raw);
			for (size_t k = before; k < count; k++) {
				pool_keep(facts, (char *)v[k].addr);
				if (v[k].name != NULL)
					pool_keep(facts, (char *)v[k].name);
				if (v[k].raw != NULL)
					pool_keep(facts, (char *)v[k].raw);
				if (v[k].display != NULL)
					pool_keep(facts, (char *)v[k].display);
			}
		}
		l = add_list(facts, true, header, NULL, 0);
		l->addrs = v;
		l->count = count;
	}
	*addrs_r = l->addrs;
	return l->count;
}

/* GMime takes an address from a header value as it stands, less
   white space and comments, with quoted strings and quoted-pairs
   undone, 8-bit text and encoded words decoded, IDN labels maybe
   decoded, and dots maybe dropped or added between words. A value
   without the characters that start those forms (quotes, backslash,
   parentheses, "=?", "xn--", 8-bit bytes) can only lose white space
   and gain or lose dots, so when one of its addresses holds
   LITERAL, the value holds it too once both are read without white
   space and dots. What the last-resort scan takes is a plain run of
   the value, and so are, white space aside, a display name and a raw
   address of such a value (mc_address_parse). */
#define SQUEEZE_MAX 1024

/* Copy N bytes of S to OUT in lower case, without white space and
   dots; false when S holds an encoded or quoted form. */
static bool squeeze(const char *s, size_t n, char *out, size_t *len_r)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80 || c == '"' || c == '\\' || c == '(' || c == ')' ||
		    (c == '=' && i + 1 < n && s[i + 1] == '?') ||
		    ((c == 'x' || c == 'X') && n - i >= 4 &&
		     g_ascii_strncasecmp(s + i, "xn--", 4) == 0))
			return false;
		if (c <= ' ' || c == '.')
			continue;
		out[o++] = (char)g_ascii_tolower((gchar)c);
	}
	*len_r = o;
	return true;
}

bool mc_facts_addresses_may_hold(struct mc_facts *facts, const char *header,
				 const char *literal)
{
	char lit[SQUEEZE_MAX], val[SQUEEZE_MAX];
	size_t lit_len, val_len;

	if (find_list(facts, true, header) != NULL)
		return true;	/* parsed already: ask the addresses */
	if (strlen(literal) > SQUEEZE_MAX ||
	    !squeeze(literal, strlen(literal), lit, &lit_len) || lit_len == 0)
		return true;
	ensure_headers(facts);
	for (size_t i = 0; i < facts->top.count; i++) {
		const struct field *fld = &facts->top.fields[i];

		if (!field_is(fld, header))
			continue;
		if (fld->value_len > SQUEEZE_MAX ||
		    !squeeze(fld->value, fld->value_len, val, &val_len) ||
		    memmem(val, val_len, lit, lit_len) != NULL)
			return true;
	}
	return false;
}

bool mc_facts_date(struct mc_facts *facts, time_t *date_r)
{
	if (!facts->date_done) {
		facts->date_done = true;
		ensure_headers(facts);
		/* The first Date field that reads as a date. */
		for (size_t i = 0; i < facts->top.count && !facts->has_date; i++) {
			struct field *fld = &facts->top.fields[i];
			if (!field_is(fld, "Date"))
				continue;
			char *raw = unfold(fld->value, fld->value_len);
			facts->has_date = mc_date_parse_header(raw, &facts->date);
			free(raw);
		}
	}
	*date_r = facts->date;
	return facts->has_date;
}

/* ------------------------------------------------------------------ */
/* Checks and parts (the walk is in facts_mime.c)                     */
/* ------------------------------------------------------------------ */

enum mc_verdict_kind mc_facts_check_headers(struct mc_facts *facts,
					    const char **why_r)
{
	const struct mc_msg *msg = facts->msg;

	if ((msg->data == NULL && msg->head == NULL) || msg->size == 0) {
		*why_r = "empty message";
		return MC_VERDICT_ERROR;
	}
	ensure_headers(facts);
	if (facts->top.count == 0) {
		*why_r = "not a mail message: it does not start with header fields";
		return MC_VERDICT_ERROR;
	}
	*why_r = NULL;
	return MC_VERDICT_CLEAN;
}

enum mc_verdict_kind mc_facts_check(struct mc_facts *facts, const char **why_r)
{
	enum mc_verdict_kind kind = mc_facts_check_headers(facts, why_r);

	if (kind != MC_VERDICT_CLEAN)
		return kind;
	if (facts->msg->data == NULL) {
		*why_r = "message body not read";
		return MC_VERDICT_ERROR;
	}
	if (!facts->shape_done)
		run_walk(facts, true);
	/* A multipart without its close delimiter is not a reason: its
	   last part runs to the end, and nothing is left unread. */
	if (facts->shape_why != NULL) {
		*why_r = facts->shape_why;
		return MC_VERDICT_UNSCANNED;
	}
	*why_r = NULL;
	return MC_VERDICT_CLEAN;
}

int mc_facts_parts(struct mc_facts *facts, const struct mc_part **parts_r,
		   size_t *count_r, const char **why_r)
{
	if (!facts->parts_done)
		run_walk(facts, false);
	*parts_r = facts->parts;
	*count_r = facts->part_count;
	if (why_r != NULL)
		*why_r = facts->parts_ret < 0 ? facts->parts_why : NULL;
	return facts->parts_ret;
}

const unsigned char *mc_facts_part_md5(struct mc_facts *facts, size_t index)
{
	struct mc_part *part = &facts->parts[index];

	/* Few queries ask for MD5: it is computed on first use. */
	if (!facts->md5_done[index]) {
		mc_md5(part->content, part->content_size, part->md5);
		facts->md5_done[index] = true;
	}
	return part->md5;
}

bool mc_facts_regular(struct mc_facts *facts, const char **why_r)
{
	if (!facts->parts_done)
		run_walk(facts, false);
	*why_r = facts->irregular;
	return facts->irregular == NULL;
}

int mc_facts_urls(struct mc_facts *facts, const char *const **urls_r,
		  size_t *count_r, const char **why_r)
{
	if (facts->urls == NULL) {
		const struct mc_part *parts;
		size_t count;
		const char *why;
		int ret = mc_facts_parts(facts, &parts, &count, &why);

		facts->urls = mc_xmalloc(sizeof(*facts->urls));
		mc_url_list_init(facts->urls, facts->limits.max_urls);
		mc_url_collect(facts->urls, parts, count);
		if (ret < 0)
			facts->urls_why = mc_xstrdup(why);
		else if (facts->urls->full)
			facts->urls_why = mc_xasprintf("URL limit (%u) reached",
						       facts->limits.max_urls);
	}
	*urls_r = (const char *const *)facts->urls->urls;
	*count_r = facts->urls->count;
	*why_r = facts->urls_why;
	return facts->urls_why != NULL ? -1 : 0;
}
