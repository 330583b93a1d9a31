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
/*--*/

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <gmime/gmime.h>

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

/* ------------------------------------------------------------------ */
/* Memory owned by the facts                                          */
/* ------------------------------------------------------------------ */

static void *pool_keep(struct mc_facts *f, void *p)
{
	MC_ARRAY_PUSH(f->allocs, f->alloc_count, f->alloc_cap, p);
	return p;
}

static char *pool_strdup(struct mc_facts *f, const char *s)
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
static void parse_header_block(const unsigned char *p, size_t len,
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

static void ensure_headers(struct mc_facts *f)
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

static bool field_is(const struct field *fld, const char *name)
{
	size_t n = strlen(name);

	return fld->name_len == n && g_ascii_strncasecmp(fld->name, name, n) == 0;
}

/* The value with line breaks of folding removed and the surrounding
   white space trimmed; NUL bytes become spaces. malloc()ed. */
static char *unfold(const char *v, size_t len)
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
static size_t line_end(const unsigned char *p, size_t len, size_t pos,
		       size_t *next_r);
static bool uu_begin_line(const unsigned char *p, size_t len,
			  const unsigned char **name_r, size_t *name_len_r);

#define IRREGULAR_MAX_FIELDS	256
#define IRREGULAR_MAX_PARAMS	64
#define IRREGULAR_MAX_PARTS	512
#define IRREGULAR_MAX_DEPTH	4

static void mark_irregular(struct walk *w, const char *why)
{
	if (w->irregular == NULL)
		w->irregular = why;
}

static bool cte_is_standard(const char *cte)
{
	static const char *const names[] = {
		"7bit", "8bit", "binary", "base64", "quoted-printable",
	};
	const char *s = cte;
	size_t len;

	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
			   s[len - 1] == '\r' || s[len - 1] == '\n'))
		len--;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && g_ascii_strncasecmp(s, names[i], len) == 0)
			return true;
	return false;
}

/* Strict base64: the alphabet and white space only, padding only at
   the end, whole quanta. Such text every decoder reads alike. The
   table gives a sextet's value, or one of these. */
enum { B64_PAD = 64, B64_SPACE = 65, B64_BAD = 255 };
static unsigned char b64_value[256];
static pthread_once_t b64_once = PTHREAD_ONCE_INIT;

static void b64_value_init(void)
{
	const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	memset(b64_value, B64_BAD, sizeof(b64_value));
	for (int i = 0; i < 64; i++)
		b64_value[(unsigned char)alpha[i]] = (unsigned char)i;
	b64_value['='] = B64_PAD;
	b64_value[' '] = b64_value['\t'] = b64_value['\r'] = b64_value['\n'] = B64_SPACE;
}

/* Decode strict base64 P into OUT (room for len * 3 / 4 bytes) in
   one pass. Returns false, with OUT unusable, when P is not strict:
   the caller then decodes it leniently and marks it irregular. */
static bool base64_decode_strict(const unsigned char *p, size_t len,
				 unsigned char *out, size_t *size_r)
{
	uint32_t acc = 0;
	unsigned have = 0, pads = 0;
	size_t o = 0;

	pthread_once(&b64_once, b64_value_init);
	for (size_t i = 0; i < len; i++) {
		/* Whole quads of data characters, the bulk of a body, go
		   four at a time: every special value is 64 or more. */
		while (have == 0 && len - i >= 4) {
			unsigned a = b64_value[p[i]], b = b64_value[p[i + 1]],
				c = b64_value[p[i + 2]], d = b64_value[p[i + 3]];
			uint32_t q;

			if ((a | b | c | d) >= 64)
				break;
			if (pads > 0)
				return false;
			q = a << 18 | b << 12 | c << 6 | d;
			out[o++] = (unsigned char)(q >> 16);
			out[o++] = (unsigned char)(q >> 8);
			out[o++] = (unsigned char)q;
			i += 4;
		}
		if (i == len)
			break;
		unsigned v = b64_value[p[i]];

		if (v < 64) {
			if (pads > 0)
				return false;
			acc = acc << 6 | v;
			if (++have == 4) {
				out[o++] = (unsigned char)(acc >> 16);
				out[o++] = (unsigned char)(acc >> 8);
				out[o++] = (unsigned char)acc;
				acc = 0;
				have = 0;
			}
		} else if (v == B64_PAD) {
			/* "xx==" or "xxx=" ends the data. */
			if (have + pads < 2 || ++pads + have > 4)
				return false;
			if (have + pads == 4) {
				acc <<= 6 * pads;
				out[o++] = (unsigned char)(acc >> 16);
				if (have == 3)
					out[o++] = (unsigned char)(acc >> 8);
				have = 0;
				pads = 4;	/* only white space may follow */
			}
		} else if (v != B64_SPACE) {
			return false;
		}
	}
	if (have != 0 || (pads != 0 && pads != 4))
		return false;
	*size_r = o;
	return true;
}

/* Whether every '=' in quoted-printable BODY is a soft line break or
   an escape with two hex digits. */
static bool qp_is_strict(const unsigned char *p, size_t len)
{
	const unsigned char *q = p, *end = p + len;

	while ((q = memchr(q, '=', (size_t)(end - q))) != NULL) {
		q++;
		if (end - q >= 2 && g_ascii_isxdigit(q[0]) && g_ascii_isxdigit(q[1])) {
			q += 2;
			continue;
		}
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		if (q < end && *q == '\r')
			q++;
		if (q < end && *q != '\n')
			return false;
	}
	return true;
}

/* Text that libclamav's mail parser does more with than scan it:
   MIME headers (a bounce: the parser cuts out the embedded message
   and parses it), uuencode, BinHex and yEnc. */
static const char *text_irregular(const unsigned char *p, size_t len)
{
	static const char *const heads[] = {
		"content-type:", "content-transfer-encoding:",
		"content-disposition:",
	};
	size_t pos = 0, next;

	while (pos < len) {
		size_t end = line_end(p, len, pos, &next);
		const unsigned char *l = p + pos;
		size_t ll = end - pos;

		if (ll >= 7) {
			switch (l[0]) {
			case 'c': case 'C':
				for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
					size_t hl = strlen(heads[i]);
					if (ll >= hl && g_ascii_strncasecmp((const char *)l, heads[i], hl) == 0)
						return "MIME header fields inside a text part";
				}
				break;
			case 'b': {
				const unsigned char *name;
				size_t nlen;
				if (uu_begin_line(l, ll, &name, &nlen))
					return "uuencoded data";
				break;
			}
			case '=':
				if (ll >= 7 && memcmp(l, "=ybegin", 7) == 0)
					return "yEnc data";
				break;
			case '(':
				if (ll >= 25 && memmem(l, ll, "BinHex", 6) != NULL)
					return "BinHex data";
				break;
			}
		}
		pos = next;
	}
	return NULL;
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

static size_t line_end(const unsigned char *p, size_t len, size_t pos,
		       size_t *next_r)
{
	const unsigned char *nl = memchr(p + pos, '\n', len - pos);
	size_t end = nl != NULL ? (size_t)(nl - p) : len;

	*next_r = nl != NULL ? end + 1 : len;
	if (end > pos && p[end - 1] == '\r')
		end--;
	return end;
}

#define UU(c) (((unsigned char)(c) - 0x20) & 0x3f)

/* Decode uuencoded lines from P until a zero-length line, "end", or
   the end of the data. GMime's decoder is not used here: it expects
   LF line ends and the begin line already stripped. Returns the
   decoded size; *used_r is how far the input was consumed. */
static size_t uudecode(const unsigned char *p, size_t len, unsigned char *out,
		       size_t *used_r)
{
	size_t pos = 0, o = 0, next;

	while (pos < len) {
		size_t end = line_end(p, len, pos, &next);
		size_t n;

		if (end - pos >= 3 && memcmp(p + pos, "end", 3) == 0 &&
		    end - pos <= 4) {
			pos = next;
			break;
		}
		if (end == pos) {
			pos = next;
			continue;
		}
		n = UU(p[pos]);
		if (n == 0) {
			pos = next;
			continue;
		}
		/* Lenient: a short line decodes what it has; a group of
		   c < 4 characters gives c - 1 bytes, so the output is never
		   longer than the input (callers size buffers on that). */
		for (size_t i = pos + 1; n > 0 && i + 1 < end; i += 4) {
			size_t avail = end - i < 4 ? end - i : 4;
			unsigned char c[4] = { 0, 0, 0, 0 };
			for (size_t k = 0; k < avail; k++)
				c[k] = UU(p[i + k]);
			unsigned char b[3] = {
				(unsigned char)(c[0] << 2 | c[1] >> 4),
				(unsigned char)(c[1] << 4 | c[2] >> 2),
				(unsigned char)(c[2] << 6 | c[3]),
			};
			for (size_t k = 0; k < avail - 1 && n > 0; k++, n--)
				out[o++] = b[k];
		}
		pos = next;
	}
	*used_r = pos;
	return o;
}

/* Whether the line at P is "begin MODE NAME"; sets the name range. */
static bool uu_begin_line(const unsigned char *p, size_t len,
			  const unsigned char **name_r, size_t *name_len_r)
{
	size_t i = 6, digits = 0;

	if (len < 8 || memcmp(p, "begin ", 6) != 0)
		return false;
	while (i < len && p[i] >= '0' && p[i] <= '7') {
		i++;
		digits++;
	}
	if (digits < 3 || digits > 4 || i >= len || p[i] != ' ')
		return false;
	i++;
	if (i >= len)
		return false;
	*name_r = p + i;
	*name_len_r = len - i;
	return true;
}

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
static void run_walk(struct mc_facts *facts, bool structure_only)
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
