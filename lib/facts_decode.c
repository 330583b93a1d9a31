/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	facts_decode 3
/* SUMMARY
/*	byte-level decoding and checks for the MIME walk
/* SYNOPSIS
/*	#include "facts-private.h"
/*
/*	bool	cte_is_standard(cte)
/*	bool	base64_decode_strict(p, len, out, &size)
/*	bool	qp_is_strict(p, len)
/*	const char *text_irregular(p, len)
/*	size_t	line_end(p, len, pos, &next)
/*	size_t	uudecode(p, len, out, &used)
/*	bool	uu_begin_line(p, len, &name, &name_len)
/* DESCRIPTION
/*	Helpers of facts_mime.c that work on bytes only and keep no
/*	state but one read-only table. The strict checks decide
/*	whether a part is plain, well-formed MIME that every decoder
/*	reads alike; the walk marks anything else irregular, and such
/*	a message is scanned whole.
/* DIAGNOSTICS
/*	base64_decode_strict() returns false, with OUT unusable, when
/*	the text is not strict base64; text_irregular() returns why a
/*	text is more than text, or NULL.
/* SECURITY
/*	The input is hostile. Every function reads only within
/*	P[0..LEN). The output of uudecode() is never longer than its
/*	input, and that of base64_decode_strict() at most LEN * 3 / 4
/*	bytes, so a caller sizes OUT from LEN.
/*--*/

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <glib.h>

#include "facts-private.h"

/* ------------------------------------------------------------------ */
/* Strict transfer encodings                                          */
/* ------------------------------------------------------------------ */

bool cte_is_standard(const char *cte)
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
bool base64_decode_strict(const unsigned char *p, size_t len,
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
bool qp_is_strict(const unsigned char *p, size_t len)
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
const char *text_irregular(const unsigned char *p, size_t len)
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

/* ------------------------------------------------------------------ */
/* Lines and uuencode                                                 */
/* ------------------------------------------------------------------ */

size_t line_end(const unsigned char *p, size_t len, size_t pos,
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
size_t uudecode(const unsigned char *p, size_t len, unsigned char *out,
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
bool uu_begin_line(const unsigned char *p, size_t len,
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
