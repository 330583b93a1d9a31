/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	rfc2047 3
/* SUMMARY
/*	encoded words, MIME parameter values and charset conversion
/* SYNOPSIS
/*	#include "internal.h"
/*
/*	char	*mc_rfc2047_decode(text, len)
/*	char	*mc_mime_param(params, name)
/*	char	*mc_charset_to_utf8(in, len, charset)
/*	bool	mc_charset_is_utf8(charset)
/*	char	*mc_utf8_make_valid(s)
/* DESCRIPTION
/*	mc_rfc2047_decode() decodes the RFC 2047 encoded words of a
/*	header value, as mail readers do rather than as the RFC alone
/*	would have it. A word is "=?charset?B?text?=" or
/*	"=?charset?Q?text?=", where the charset may carry an RFC 2231
/*	language ("=?utf-8*en?Q?...?="). White space between two encoded
/*	words is dropped (RFC 2047 section 6.2), and the bytes of
/*	adjacent words in the same charset are decoded together before
/*	the charset conversion, so a character split across two words
/*	(as many mailers split Japanese and German text) and a base64
/*	word that ends in "=" padding followed by another both give the
/*	whole text. A word that does not decode (bad base64, a charset
/*	iconv does not know, no closing "?=") stays as it is written;
/*	words need no white space around them. Line breaks (folding)
/*	are removed; text outside encoded words is kept, as UTF-8 when
/*	it is valid UTF-8, else read as windows-1252, the charset
/*	unlabelled 8-bit mail is in most often.
/*
/*	mc_mime_param() gives parameter NAME ("filename") of a
/*	Content-Type or Content-Disposition value's parameter list
/*	PARAMS (after the first ";"): a token or quoted string, an RFC
/*	2231 value (name*=charset'lang'%XX) or RFC 2231 continuations
/*	(name*0, name*1*, ... in any order), whichever form comes first.
/*	Encoded words are decoded in every form, also inside an RFC 2231
/*	value, as mailers put them there. An unquoted value runs to the
/*	next ";", spaces included.
/*
/*	mc_charset_to_utf8() converts LEN bytes in CHARSET (any name
/*	GMime knows an alias of) with iconv, replacing what cannot be
/*	converted by U+FFFD; NULL when the charset is unknown.
/*	mc_charset_is_utf8() says whether a charset label needs no
/*	conversion (UTF-8, US-ASCII, or none). mc_utf8_make_valid()
/*	takes a malloc()ed string and returns it, or a valid UTF-8
/*	replacement of it.
/* DIAGNOSTICS
/*	None: every input gives a text.
/* SECURITY
/*	Header values are hostile input. The decoders make one pass,
/*	allocate at most a small multiple of the input, and never read
/*	past LEN. Every text returned is valid UTF-8 without NUL bytes
/*	(a NUL becomes a space), so nothing after a NUL can hide from a
/*	search.
/*--*/

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <gmime/gmime.h>

#include "mailcure/mailcure.h"
#include "internal.h"

/* A charset name longer than this is no charset. */
#define CHARSET_MAX 64

/* ------------------------------------------------------------------ */
/* Charsets                                                           */
/* ------------------------------------------------------------------ */

bool mc_charset_is_utf8(const char *cs)
{
	return cs == NULL || *cs == '\0' || g_ascii_strcasecmp(cs, "utf-8") == 0 ||
		g_ascii_strcasecmp(cs, "utf8") == 0 || g_ascii_strcasecmp(cs, "us-ascii") == 0 ||
		g_ascii_strcasecmp(cs, "ascii") == 0;
}

char *mc_utf8_make_valid(char *s)
{
	char *valid;

	if (g_utf8_validate(s, -1, NULL))
		return s;
	valid = g_utf8_make_valid(s, -1);
	free(s);
	s = mc_xstrdup(valid);
	g_free(valid);
	return s;
}

char *mc_charset_to_utf8(const char *in, size_t len, const char *charset)
{
	iconv_t cd;
	size_t cap, o = 0;
	char *out;

	mc_gmime_init();	/* its charset aliases */
	cd = g_mime_iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return NULL;
	cap = len + len / 2 + 16;
	out = mc_xmalloc(cap);
	char *ip = (char *)in;
	size_t il = len;
	while (il > 0) {
		if (cap - o < 16) {
			cap = cap * 2;
			out = mc_xrealloc(out, cap);
		}
		char *op = out + o;
		size_t ol = cap - o - 4;	/* keeps room for U+FFFD and NUL */
		size_t r = iconv(cd, &ip, &il, &op, &ol);
		o = (size_t)(op - out);
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG) {
			cap = cap * 2;
			out = mc_xrealloc(out, cap);
		} else {
			/* EILSEQ or EINVAL (truncated sequence at the end) */
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			ip++;
			il--;
			iconv(cd, NULL, NULL, NULL, NULL);
		}
	}
	g_mime_iconv_close(cd);
	/* A NUL from a wide charset (UTF-16 "\0\0") would end the text. */
	for (size_t i = 0; i < o; i++) {
		if (out[i] == '\0')
			out[i] = ' ';
	}
	out[o] = '\0';
	return mc_utf8_make_valid(out);
}

/* ------------------------------------------------------------------ */
/* Output                                                             */
/* ------------------------------------------------------------------ */

static void ob_addc(struct mc_buf *b, char c)
{
	mc_buf_add(b, &c, 1);
}

/* BYTES in CHARSET (NULL: unlabelled text) appended to OUT as UTF-8
   without NUL; false, with nothing appended, when CHARSET is
   unknown. */
static bool ob_add_converted(struct mc_buf *out, const char *bytes, size_t n,
			     const char *charset)
{
	char *copy = mc_xmalloc(n + 1), *text = NULL;

	for (size_t i = 0; i < n; i++)
		copy[i] = bytes[i] == '\0' ? ' ' : bytes[i];
	copy[n] = '\0';
	if (charset == NULL && !g_utf8_validate(copy, (gssize)n, NULL))
		text = mc_charset_to_utf8(bytes, n, "windows-1252");
	else if (charset != NULL && !mc_charset_is_utf8(charset) &&
		 (text = mc_charset_to_utf8(bytes, n, charset)) == NULL) {
		free(copy);
		return false;
	}
	if (text == NULL) {
		text = mc_utf8_make_valid(copy);
		copy = NULL;
	}
	mc_buf_add(out, text, strlen(text));
	free(text);
	free(copy);
	return true;
}

/* ------------------------------------------------------------------ */
/* Encoded words                                                      */
/* ------------------------------------------------------------------ */

struct word {
	char charset[CHARSET_MAX + 1];
	char enc;		/* 'B' or 'Q' */
	const char *text;	/* encoded text */
	size_t text_len;
	size_t end;		/* after "?=" */
};

/* Parse the encoded word at S[I] ("=?"): false when it is none. */
static bool word_parse(const char *s, size_t len, size_t i, struct word *w)
{
	size_t p = i + 2, cs = 0, t;

	if (i + 1 >= len || s[i] != '=' || s[i + 1] != '?')
		return false;
	while (p < len && s[p] != '?' && s[p] != '*') {
		unsigned char c = (unsigned char)s[p];
		if (c <= ' ' || c >= 127 || cs == CHARSET_MAX)
			return false;
		w->charset[cs++] = (char)c;
		p++;
	}
	w->charset[cs] = '\0';
	if (cs == 0)
		return false;
	if (p < len && s[p] == '*') {
		/* RFC 2231 language: "=?utf-8*en?Q?...?=" */
		while (p < len && s[p] != '?') {
			if ((unsigned char)s[p] <= ' ' || (unsigned char)s[p] >= 127)
				return false;
			p++;
		}
	}
	if (p + 2 >= len || s[p] != '?' || s[p + 2] != '?')
		return false;
	w->enc = (char)g_ascii_toupper(s[p + 1]);
	if (w->enc != 'B' && w->enc != 'Q')
		return false;
	t = p + 3;
	p = t;
	while (p < len && s[p] != '?') {
		unsigned char c = (unsigned char)s[p];
		if (c <= ' ' || c >= 127)
			return false;
		p++;
	}
	if (p + 1 >= len || s[p + 1] != '=')
		return false;
	w->text = s + t;
	w->text_len = p - t;
	w->end = p + 2;
	return true;
}

static int b64_sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Base64 of one word: the alphabet, then "=" padding only at its end
   (or none: many mailers leave it out). */
static bool word_b64(const struct word *w, struct mc_buf *out)
{
	size_t data = 0, pads = 0;
	uint32_t acc = 0;
	unsigned have = 0;

	for (size_t i = 0; i < w->text_len; i++) {
		unsigned char c = (unsigned char)w->text[i];
		int v = b64_sextet(c);

		if (c == '=') {
			pads++;
			continue;
		}
		if (v < 0 || pads > 0)
			return false;
		data++;
		acc = acc << 6 | (uint32_t)v;
		if (++have == 4) {
			char q[3] = { (char)(acc >> 16), (char)(acc >> 8), (char)acc };
			mc_buf_add(out, q, 3);
			acc = 0;
			have = 0;
		}
	}
	if (have == 1 || (pads > 0 && (data + pads) % 4 != 0))
		return false;
	if (have == 2) {
		ob_addc(out, (char)(acc >> 4));
	} else if (have == 3) {
		ob_addc(out, (char)(acc >> 10));
		ob_addc(out, (char)(acc >> 2));
	}
	return true;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)g_ascii_tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "Q": "_" is a space, "=XX" a byte; a lone "=" stays. */
static void word_q(const struct word *w, struct mc_buf *out)
{
	for (size_t i = 0; i < w->text_len; i++) {
		char c = w->text[i];
		int hi, lo;

		if (c == '_') {
			c = ' ';
		} else if (c == '=' && i + 2 < w->text_len &&
			   (hi = hex_value(w->text[i + 1])) >= 0 &&
			   (lo = hex_value(w->text[i + 2])) >= 0) {
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		ob_addc(out, c);
	}
}

/* The decoding state: a run of encoded words in one charset waiting
   for its conversion, and unencoded text waiting for its own. */
struct decoder {
	const char *s;
	struct mc_buf out;
	struct mc_buf text;	/* unencoded bytes */
	struct mc_buf bytes;	/* decoded bytes of the current run */
	char charset[CHARSET_MAX + 1];
	size_t run_start, run_end;	/* the run as written */
	bool in_run;
	struct mc_buf space;	/* white space after the run's last word */
};

static void flush_text(struct decoder *d)
{
	if (d->text.len > 0)
		ob_add_converted(&d->out, d->text.s, d->text.len, NULL);
	d->text.len = 0;
}

/* End the run; BEFORE_WORD: an encoded word follows, and the white
   space between goes, unless the run stays as written. */
static void flush_run(struct decoder *d, bool before_word)
{
	bool literal = false;

	if (!d->in_run)
		return;
	if (!ob_add_converted(&d->out, d->bytes.s, d->bytes.len, d->charset)) {
		/* Unknown charset: the words as written (ASCII). */
		literal = true;
		for (size_t i = d->run_start; i < d->run_end; i++) {
			if (d->s[i] != '\r' && d->s[i] != '\n')
				ob_addc(&d->text, d->s[i]);
		}
		flush_text(d);
	}
	d->bytes.len = 0;
	d->in_run = false;
	if (d->space.len > 0 && (literal || !before_word))
		mc_buf_add(&d->text, d->space.s, d->space.len);
	d->space.len = 0;
}

/* Add word W at S[I] to the run, or start a new run: false, with
   nothing changed, when it does not decode. */
static bool add_word(struct decoder *d, const struct word *w, size_t i)
{
	struct mc_buf dec = { NULL, 0, 0 };

	mc_buf_add(&dec, "", 0);
	if (w->enc == 'B' && !word_b64(w, &dec)) {
		free(dec.s);
		return false;
	}
	if (w->enc == 'Q')
		word_q(w, &dec);
	if (d->in_run && g_ascii_strcasecmp(d->charset, w->charset) != 0)
		flush_run(d, true);
	if (!d->in_run) {
		flush_text(d);
		memcpy(d->charset, w->charset, sizeof(d->charset));
		d->run_start = i;
		d->in_run = true;
	}
	mc_buf_add(&d->bytes, dec.s, dec.len);
	free(dec.s);
	d->space.len = 0;	/* dropped between words */
	d->run_end = w->end;
	return true;
}

char *mc_rfc2047_decode(const char *s, size_t len)
{
	struct decoder d;
	struct word w;
	size_t i = 0;

	memset(&d, 0, sizeof(d));
	d.s = s;
	mc_buf_add(&d.out, "", 0);
	while (i < len) {
		char c = s[i];

		if (c == '=' && word_parse(s, len, i, &w) && add_word(&d, &w, i)) {
			i = w.end;
			continue;
		}
		if (c == '\r' || c == '\n') {
			i++;	/* folding */
			continue;
		}
		if (c == ' ' || c == '\t') {
			ob_addc(d.in_run ? &d.space : &d.text, c);
			i++;
			continue;
		}
		flush_run(&d, false);
		ob_addc(&d.text, c);
		i++;
	}
	flush_run(&d, false);
	flush_text(&d);
	free(d.text.s);
	free(d.bytes.s);
	free(d.space.s);
	return d.out.s;
}

/* ------------------------------------------------------------------ */
/* MIME parameters                                                    */
/* ------------------------------------------------------------------ */

/* One "name*N*=value" of an RFC 2231 value. */
struct piece {
	unsigned index;
	bool encoded;		/* percent-encoded (a trailing "*") */
	char *value;
};

static int piece_cmp(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* Read the value at *SP: a quoted string (quoted-pairs undone, an
   unclosed one runs to the end) or everything to the next ";". */
static char *param_value(const char **sp)
{
	const char *s = *sp;
	struct mc_buf v = { NULL, 0, 0 };

	mc_buf_add(&v, "", 0);
	if (*s == '"') {
		for (s++; *s != '\0' && *s != '"'; s++) {
			if (*s == '\\' && s[1] != '\0')
				s++;
			ob_addc(&v, *s);
		}
		if (*s == '"')
			s++;
		while (*s != '\0' && *s != ';')
			s++;
	} else {
		while (*s != '\0' && *s != ';')
			ob_addc(&v, *s++);
		while (v.len > 0 && (v.s[v.len - 1] == ' ' || v.s[v.len - 1] == '\t'))
			v.s[--v.len] = '\0';
	}
	*sp = s;
	return v.s;
}

/* How attribute A (LEN bytes) names parameter NAME: 0 not at all, 1
   plainly, 2 as an RFC 2231 piece (*index_r, *encoded_r). */
static int param_attr(const char *a, size_t len, const char *name,
		      unsigned *index_r, bool *encoded_r)
{
	size_t n = strlen(name), i;
	unsigned index = 0;

	if (len < n || g_ascii_strncasecmp(a, name, n) != 0)
		return 0;
	if (len == n)
		return 1;
	if (a[n] != '*')
		return 0;
	*encoded_r = a[len - 1] == '*';
	i = n + 1;
	if (i >= len) {
		*index_r = 0;
		return 2;
	}
	for (; i < len && a[i] >= '0' && a[i] <= '9'; i++) {
		if (index > 100000)
			return 0;
		index = index * 10 + (unsigned)(a[i] - '0');
	}
	if (i != len && !(i + 1 == len && *encoded_r))
		return 0;
	*index_r = index;
	return 2;
}

/* The RFC 2231 pieces joined and decoded. */
static char *join_pieces(struct piece *p, size_t n)
{
	struct mc_buf bytes = { NULL, 0, 0 };
	char charset[CHARSET_MAX + 1] = "";
	char *text;

	qsort(p, n, sizeof(*p), piece_cmp);
	mc_buf_add(&bytes, "", 0);
	for (size_t k = 0; k < n; k++) {
		const char *v = p[k].value;

		if (k > 0 && p[k].index == p[k - 1].index)
			continue;	/* a repeated piece: the first counts */
		if (p[k].encoded && k == 0) {
			/* charset'language'text */
			const char *q1 = strchr(v, '\''), *q2 = q1 != NULL ? strchr(q1 + 1, '\'') : NULL;
			if (q2 != NULL) {
				size_t cl = (size_t)(q1 - v);
				if (cl <= CHARSET_MAX) {
					memcpy(charset, v, cl);
					charset[cl] = '\0';
				}
				v = q2 + 1;
			}
		}
		for (; *v != '\0'; v++) {
			int hi, lo;
			if (p[k].encoded && *v == '%' && (hi = hex_value(v[1])) >= 0 &&
			    (lo = hex_value(v[2])) >= 0) {
				ob_addc(&bytes, (char)(hi << 4 | lo));
				v += 2;
			} else {
				ob_addc(&bytes, *v);
			}
		}
	}
	text = NULL;
	if (charset[0] != '\0') {
		struct mc_buf conv = { NULL, 0, 0 };
		if (ob_add_converted(&conv, bytes.s, bytes.len, charset))
			text = conv.s;
	}
	if (text == NULL) {
		/* No charset, or an unknown one: plain text. */
		text = mc_rfc2047_decode(bytes.s, bytes.len);
	} else if (strstr(text, "=?") != NULL) {
		char *decoded = mc_rfc2047_decode(text, strlen(text));
		free(text);
		text = decoded;
	}
	free(bytes.s);
	return text;
}

char *mc_mime_param(const char *params, const char *name)
{
	struct piece *pieces = NULL;
	size_t count = 0, cap = 0;
	const char *s = params;
	char *found = NULL;

	while (*s != '\0' && found == NULL) {
		const char *a;
		size_t alen;
		unsigned index = 0;
		bool encoded = false;
		int kind;

		while (*s == ';' || *s == ' ' || *s == '\t')
			s++;
		a = s;
		while (*s != '\0' && *s != '=' && *s != ';' && *s != ' ' && *s != '\t')
			s++;
		alen = (size_t)(s - a);
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s != '=') {
			while (*s != '\0' && *s != ';')
				s++;
			continue;
		}
		s++;
		while (*s == ' ' || *s == '\t')
			s++;
		kind = param_attr(a, alen, name, &index, &encoded);
		char *v = param_value(&s);
		if (kind == 1 && count == 0) {
			found = mc_rfc2047_decode(v, strlen(v));
			free(v);
		} else if (kind == 2) {
			struct piece pc = { index, encoded, v };
			MC_ARRAY_PUSH(pieces, count, cap, pc);
		} else {
			free(v);
		}
	}
	if (found == NULL && count > 0)
		found = join_pieces(pieces, count);
	for (size_t k = 0; k < count; k++)
		free(pieces[k].value);
	free(pieces);
	if (found != NULL && *found == '\0') {
		free(found);
		found = NULL;
	}
	return found;
}
