/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	query_text 3
/* SUMMARY
/*	the query language: text and attachment-name matching
/* SYNOPSIS
/*	#include "query-private.h"
/*
/*	char	*mc_query_normalize(s, len, html, &len)
/*	void	mc_query_needle_init(&needle, value)
/*	bool	mc_query_norm_contains(norm, len, needle)
/*	bool	mc_query_text_contains(text, needle)
/*	bool	mc_query_value_match(term, s)
/*	char	*mc_query_glob_literal(value, glob)
/*	bool	mc_query_names_may_be_encoded(data, size)
/* DESCRIPTION
/*	TEXT values (subject:, header:, message-id:, body:) match as
/*	case-insensitive substrings with runs of white space counting
/*	as one space: the value becomes a needle, normalized as the
/*	texts it is searched in, and HTML is also searched as its text
/*	without tags and with entities decoded. GLOB values match as
/*	shell globs, or as substrings without glob characters.
/*
/*	mc_query_glob_literal() and mc_query_names_may_be_encoded()
/*	let query_eval.c decide most attachment:, from:, to: and cc:
/*	terms without the MIME walk or address parsing (see below).
/* SECURITY
/*	Everything here reads message bytes that an attacker chose:
/*	every scan is bounded by the buffer and linear in it (a text of
/*	many '<' is not searched to its end once per '<').
/*--*/

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "query-private.h"

/* ------------------------------------------------------------------ */
/* Text normalization for substring matching                          */
/* ------------------------------------------------------------------ */

/* Append one character of text: white space collapses into the space
   before it, ASCII letters are lowered. */
static void norm_put(struct mc_buf *b, unsigned char c)
{
	if (mc_query_is_space(c)) {
		if (b->len > 0 && b->s[b->len - 1] == ' ')
			return;
		c = ' ';
	}
	c = (unsigned char)g_ascii_tolower((gchar)c);
	mc_buf_add(b, (const char *)&c, 1);
}

static bool html_block_tag(const char *t, size_t len)
{
	static const char *const tags[] = {
		"br", "p", "div", "tr", "td", "th", "li", "table", "hr",
		"h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol",
		"title", "body", "head", "pre",
	};
	size_t n = 0;

	if (len > 0 && t[0] == '/') {
		t++;
		len--;
	}
	while (n < len && g_ascii_isalnum(t[n]))
		n++;
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		if (strlen(tags[i]) == n && g_ascii_strncasecmp(t, tags[i], n) == 0)
			return true;
	}
	return false;
}

/* Decode the entity at S (mc_html_entity) into B; its length, 0 when
   it is not one. */
static size_t html_entity(const char *s, size_t len, struct mc_buf *b)
{
	char u[4];
	size_t ulen, n = mc_html_entity(s, len, u, &ulen);

	for (size_t i = 0; n > 0 && i < ulen; i++)
		norm_put(b, (unsigned char)u[i]);
	return n;
}

/* Normalize S for searching. With HTML, tags are dropped (block tags
   count as a space), comments and script/style contents skipped and
   entities decoded. U+00A0 counts as white space. */
char *mc_query_normalize(const char *s, size_t len, bool html, size_t *len_r)
{
	struct mc_buf b = { NULL, 0, 0 };
	bool no_gt = false;	/* no '>' after this point: not markup */

	mc_buf_add(&b, "", 0);
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];

		if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] == 0xa0) {
			norm_put(&b, ' ');
			i += 2;
			continue;
		}
		if (html && c == '<' && !no_gt) {
			const char *gt;
			if (len - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
				const char *e = memmem(s + i + 4, len - i - 4, "-->", 3);
				i = e != NULL ? (size_t)(e - s) + 3 : len;
				continue;
			}
			gt = memchr(s + i, '>', len - i);
			if (gt == NULL) {
				/* Remembered, or a text of many '<' would be
				   searched to its end for each of them. */
				no_gt = true;
				norm_put(&b, c);
				i++;
				continue;
			}
			size_t tlen = (size_t)(gt - s) - i - 1;
			const char *t = s + i + 1;
			bool script = tlen >= 6 && g_ascii_strncasecmp(t, "script", 6) == 0;
			bool style = tlen >= 5 && g_ascii_strncasecmp(t, "style", 5) == 0;
			if (html_block_tag(t, tlen))
				norm_put(&b, ' ');
			i = (size_t)(gt - s) + 1;
			if (script || style) {
				const char *close = script ? "</script" : "</style";
				size_t cl = strlen(close);
				size_t j = i;
				while (j + cl <= len && g_ascii_strncasecmp(s + j, close, cl) != 0)
					j++;
				i = j + cl <= len ? j : len;
			}
			continue;
		}
		if (html && c == '&') {
			size_t n = html_entity(s + i, len - i, &b);
			if (n > 0) {
				i += n;
				continue;
			}
		}
		norm_put(&b, c);
		i++;
	}
	*len_r = b.len;
	return b.s;
}

static bool is_ascii(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80)
			return false;
	}
	return true;
}

void mc_query_needle_init(struct needle *nd, const char *value)
{
	size_t len;
	char *s;

	/* The query comes from the command line in any encoding; the
	   texts it is compared with are UTF-8 (and casefolding needs
	   valid UTF-8). */
	if (!g_utf8_validate(value, -1, NULL)) {
		char *valid = g_utf8_make_valid(value, -1);
		s = mc_query_normalize(valid, strlen(valid), false, &len);
		g_free(valid);
	} else {
		s = mc_query_normalize(value, strlen(value), false, &len);
	}

	/* Surrounding white space of a value is not meant to match. */
	while (len > 0 && s[len - 1] == ' ')
		s[--len] = '\0';
	size_t lead = 0;
	while (s[lead] == ' ')
		lead++;
	memmove(s, s + lead, len - lead + 1);
	nd->ascii = s;
	nd->ascii_len = len - lead;
	if (!is_ascii(s)) {
		nd->folded = g_utf8_casefold(s, -1);
		nd->folded_len = strlen(nd->folded);
	}
}

static bool mem_has(const char *hay, size_t hlen, const char *n, size_t nlen)
{
	return nlen == 0 || memmem(hay, hlen, n, nlen) != NULL;
}

/* Whether normalized text NORM (NLEN bytes) contains ND. */
bool mc_query_norm_contains(const char *norm, size_t nlen, const struct needle *nd)
{
	bool found;
	gchar *f;

	if (nd->folded == NULL)
		return mem_has(norm, nlen, nd->ascii, nd->ascii_len);
	f = g_utf8_casefold(norm, (gssize)nlen);
	found = mem_has(f, strlen(f), nd->folded, nd->folded_len);
	g_free(f);
	return found;
}

bool mc_query_text_contains(const char *text, const struct needle *nd)
{
	size_t len;
	char *norm = mc_query_normalize(text, strlen(text), false, &len);
	bool found = mc_query_norm_contains(norm, len, nd);

	free(norm);
	return found;
}

bool mc_query_has_glob_chars(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* A GLOB value: the glob, or a substring when it has no glob
   characters. */
bool mc_query_value_match(const struct node *t, const char *s)
{
	if (t->glob)
		return mc_glob_match(t->value, s);
	return mc_memcasestr(s, strlen(s), t->value);
}

/* ------------------------------------------------------------------ */
/* attachment: without the MIME walk                                  */
/* ------------------------------------------------------------------ */

/* Most messages of a store have no part whose name could match an
   attachment: glob, and finding that out by walking and decoding
   every part is most of the cost of such a query. A file name comes
   from a Content-Type or Content-Disposition parameter, a uuencode
   "begin" line, or the headers of an attached message, and as long
   as nothing encodes it, the name's letters are in the message as
   they are. So a term whose glob has a literal run ("invoice_" in
   "invoice_*.zip") is false for a message that holds that run
   nowhere, case aside, unless the message may spell a name in an
   encoded form: RFC 2047 words or RFC 2231 parameters, quoted-pairs,
   8-bit bytes or a bare CR in those fields, or a text/plain or
   message/ entity with a transfer encoding (uuencoded files inside
   text, attached messages in base64). Such a message is walked. */

/* The longest run of characters that whatever VALUE matches holds
   as it is (at least 3), or NULL; it also serves from:, to: and cc:
   (see eval_addresses in query_eval.c). A set of characters at
   once; non-ASCII characters are left out of runs (their bytes
   depend on charsets), and so is white space (folding can put a
   line break before it). */
char *mc_query_glob_literal(const char *value, bool glob)
{
	const char *locale = setlocale(LC_CTYPE, NULL);
	char *best = NULL, *cur = mc_xmalloc(strlen(value) + 1);
	size_t best_len = 0, cur_len = 0;

	/* fnmatch's case folding beyond ASCII (the Kelvin sign is a 'k'
	   in a UTF-8 locale) would match names the bytes do not show. */
	if (MB_CUR_MAX != 1 || locale == NULL ||
	    (strcmp(locale, "C") != 0 && strcmp(locale, "POSIX") != 0)) {
		free(cur);
		return NULL;
	}
	for (const char *p = value;; p++) {
		unsigned char c = (unsigned char)*p;
		bool lit = c != '\0';

		if (glob && (c == '*' || c == '?' || c == '['))
			lit = false;
		else if (glob && c == '\\') {
			c = (unsigned char)*++p;
			lit = c != '\0';
		}
		if (lit && (c <= ' ' || c >= 127))
			lit = false;
		if (lit) {
			cur[cur_len++] = (char)g_ascii_tolower((gchar)c);
			continue;
		}
		if (cur_len > best_len) {
			free(best);
			best = mc_xstrndup(cur, cur_len);
			best_len = cur_len;
		}
		cur_len = 0;
		/* After '[' (a set, or a literal '[' when unclosed) the
		   rest is not worth telling apart. */
		if (c == '\0' || (glob && c == '['))
			break;
	}
	free(cur);
	if (best_len < 3) {
		free(best);
		return NULL;
	}
	return best;
}

/* Where lower-case NEEDLE (LEN > 0 bytes) is in HAY, case aside, or
   NULL. It looks for the needle's first character that is not a
   letter (in mail, '_' '-' '.' are much rarer than letters), or for
   both cases of its last letter. */
const unsigned char *mc_query_mem_case_find(const unsigned char *hay, size_t n,
					    const char *needle, size_t len)
{
	size_t k = len - 1;
	const unsigned char *p = hay, *end = hay + n;

	for (size_t i = 0; i < len; i++) {
		if (!g_ascii_isalpha(needle[i])) {
			k = i;
			break;
		}
	}
	unsigned char lo = (unsigned char)needle[k];
	unsigned char up = (unsigned char)g_ascii_toupper((gchar)lo);
	while ((size_t)(end - p) >= len - k) {
		const unsigned char *a = memchr(p + k, lo, (size_t)(end - p) - k);
		const unsigned char *b = up == lo ? NULL :
			memchr(p + k, up, (size_t)(a != NULL ? a : end) - (size_t)(p + k));
		const unsigned char *hit = b != NULL ? b : a;

		if (hit == NULL || (size_t)(end - (hit - k)) < len)
			return NULL;
		if (g_ascii_strncasecmp((const char *)hit - k, needle, len) == 0)
			return hit - k;
		p = hit - k + 1;
	}
	return NULL;
}

static size_t field_end(const unsigned char *d, size_t n, size_t pos)
{
	for (;;) {
		const unsigned char *nl = memchr(d + pos, '\n', n - pos);

		if (nl == NULL)
			return n;
		pos = (size_t)(nl - d) + 1;
		if (pos >= n || (d[pos] != ' ' && d[pos] != '\t'))
			return pos;
	}
}

/* Whether the value of a Content-Type or Content-Disposition field
   may spell a parameter in a form other than its bytes. */
static bool value_encoded(const unsigned char *v, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = v[i];

		if (c >= 0x80 || c == '\0' || c == '*' || c == '\\' ||
		    (c == '=' && i + 1 < len && v[i + 1] == '?') ||
		    (c == '\r' && (i + 1 >= len || v[i + 1] != '\n')))
			return true;
	}
	return false;
}

static bool token_is(const unsigned char *v, size_t len, const char *word)
{
	size_t wl = strlen(word);

	return len == wl && g_ascii_strncasecmp((const char *)v, word, wl) == 0;
}

/* The field NAME ("content-type") at a line start in [FROM, TO) of
   D: the offset of its value, or 0. */
static size_t find_field(const unsigned char *d, size_t from, size_t to, const char *name)
{
	size_t nl = strlen(name);

	for (size_t pos = from; pos < to;) {
		const unsigned char *e = memchr(d + pos, '\n', to - pos);
		size_t i = pos + nl;

		if (to - pos > nl && g_ascii_strncasecmp((const char *)d + pos, name, nl) == 0) {
			while (i < to && (d[i] == ' ' || d[i] == '\t'))
				i++;
			if (i < to && d[i] == ':')
				return i + 1;
		}
		if (e == NULL)
			break;
		pos = (size_t)(e - d) + 1;
	}
	return 0;
}

/* The Content-Transfer-Encoding field at AT encodes the content of
   its entity (not 7bit, 8bit, binary), and that entity is one whose
   decoded content the walk looks into for names: text/plain (also
   by default, or when its type is unusable), message/. Its header
   block runs from the line after an empty line or a delimiter line
   to the next empty line. */
#define BLOCK_MAX (64 * 1024)
static bool encoded_entity(const unsigned char *d, size_t n, size_t at, size_t value)
{
	size_t vend = field_end(d, n, value), i = value, start = at, end;

	while (i < vend && (d[i] == ' ' || d[i] == '\t'))
		i++;
	size_t t = i;
	while (i < vend && g_ascii_isalnum(d[i]))
		i++;
	bool identity = token_is(d + t, i - t, "7bit") || token_is(d + t, i - t, "8bit") ||
		token_is(d + t, i - t, "binary");
	while (i < vend && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n'))
		i++;
	if (identity && i == vend)
		return false;
	/* The entity's header block. */
	while (start > 0) {
		const unsigned char *prev;
		size_t ps;

		if (at - start > BLOCK_MAX)
			return true;
		prev = start >= 2 ? memrchr(d, '\n', start - 1) : NULL;
		ps = prev != NULL ? (size_t)(prev - d) + 1 : 0;
		if (start - ps <= 2 && (d[ps] == '\n' || d[ps] == '\r'))
			break;	/* an empty line */
		if (start - ps >= 2 && d[ps] == '-' && d[ps + 1] == '-')
			break;	/* a delimiter line */
		start = ps;
	}
	end = at;
	for (;;) {
		if (end - at > BLOCK_MAX)
			return true;
		if (end >= n || d[end] == '\n' || (d[end] == '\r' && end + 1 < n && d[end + 1] == '\n'))
			break;
		const unsigned char *nl = memchr(d + end, '\n', n - end);
		end = nl != NULL ? (size_t)(nl - d) + 1 : n;
	}
	size_t ct = find_field(d, start, end, "content-type");
	if (ct == 0)
		return true;	/* text/plain, or message/rfc822 in a digest */
	i = ct;
	vend = field_end(d, n, ct);
	while (i < vend && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n'))
		i++;
	t = i;
	while (i < vend && g_ascii_isalnum(d[i]))
		i++;
	size_t tl = i - t;
	if (tl == 0 || token_is(d + t, tl, "message"))
		return true;
	if (!token_is(d + t, tl, "text"))
		return false;
	while (i < vend && (d[i] == ' ' || d[i] == '\t'))
		i++;
	if (i >= vend || d[i] != '/')
		return true;	/* "text" alone is text/plain */
	i++;
	while (i < vend && (d[i] == ' ' || d[i] == '\t'))
		i++;
	t = i;
	while (i < vend && (g_ascii_isalnum(d[i]) || d[i] == '-'))
		i++;
	return token_is(d + t, i - t, "plain") || i == t;
}

/* Whether a file name in the message at D may be spelt in other
   bytes than its own (see above). */
bool mc_query_names_may_be_encoded(const unsigned char *d, size_t n)
{
	const unsigned char *hit;
	size_t pos = 0;

	while ((hit = mc_query_mem_case_find(d + pos, n - pos, "content-", 8)) != NULL) {
		size_t at = (size_t)(hit - d), i = at + 8, name;

		pos = at + 8;
		if (at > 0 && d[at - 1] != '\n')
			continue;
		name = i;
		while (i < n && d[i] > ' ' && d[i] < 127 && d[i] != ':')
			i++;
		size_t name_len = i - name;
		while (i < n && (d[i] == ' ' || d[i] == '\t'))
			i++;
		if (i >= n || d[i] != ':')
			continue;
		i++;
		if (token_is(d + name, name_len, "type") ||
		    token_is(d + name, name_len, "disposition")) {
			if (value_encoded(d + i, field_end(d, n, i) - i))
				return true;
		} else if (token_is(d + name, name_len, "transfer-encoding")) {
			if (encoded_entity(d, n, at, i))
				return true;
		}
	}
	return false;
}

