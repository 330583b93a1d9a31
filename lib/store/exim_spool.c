/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	exim_spool 3
/* SUMMARY
/*	parse the spool files of an Exim 4 message
/* SYNOPSIS
/*	#include "store/exim_spool.h"
/*
/*	int mc_exim_spool_parse(const unsigned char *buf, size_t len,
/*		const unsigned char *journal, size_t journal_len,
/*		bool envelope_only, struct mc_exim_spool *sp,
/*		char **error_r);
/*
/*	void mc_exim_spool_clear(struct mc_exim_spool *sp);
/*
/*	bool mc_exim_id_ok(const char *id);
/* DESCRIPTION
/*	A message in Exim's queue is two files named after its id: the
/*	-H file (envelope, state, headers) and the -D file (the body).
/*	BUF holds the -H file, immediately followed (unless
/*	ENVELOPE_ONLY) by the -D file: that pair is what the store
/*	yields as the raw message and what the quarantine keeps.
/*
/*	The -H file (Exim specification, "Format of spool files"):
/*	"ID-H"; "login uid gid"; "<sender>"; "time warnings"; option
/*	lines starting with "-" ("-aclc NAME LEN" and "-aclm NAME LEN"
/*	and the old "-acl N LEN" are followed by LEN bytes and a
/*	newline of data); the non-recipients tree (delivered
/*	addresses), "XX" when empty, else lines "YN address" whose
/*	letters say whether a left and a right subtree follow; the
/*	recipient count and one line per recipient (the address,
/*	possibly followed by DSN and errors-to fields, flagged by a
/*	trailing "#BITS"); an empty line; the headers, each "NNNf "
/*	(its length including the newline, and a flag: "*" for a header
/*	deleted or replaced, which is not part of the message) followed
/*	by NNN bytes. The -D file: "ID-D" and the body (CRLF line ends
/*	when the -H file holds -spool_file_wireformat; the data is then
/*	given with LF line ends).
/*
/*	JOURNAL (the -J file, may be NULL) lists addresses delivered by
/*	a delivery attempt that did not get to update the -H file; they
/*	count as delivered, as they do for Exim. The recipients still
/*	to be delivered (sp->rcpts) are the recipients that are neither
/*	in the non-recipients tree nor in the journal.
/*
/*	Every count and length is checked against the buffer; the tree
/*	is walked without recursion and is bounded by the file. A file
/*	that ends early (half-written or truncated) or does not follow
/*	the format is an error naming what and where.
/*
/*	mc_exim_id_ok() checks an Exim message id: three groups of
/*	base-62 digits, 6-6-2 (before Exim 4.97) or 6-11-4.
/* SECURITY
/*	The input is untrusted bytes (a user controls most of a
/*	message). Nothing is interpreted beyond the fields above.
/*--*/

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mailcure/mailcure.h"
#include "internal.h"
#include "exim_spool.h"

/* Exim refuses more recipients than this in a spool file. */
#define MAX_RECIPIENTS 16384

struct cursor {
	const unsigned char *buf;
	size_t len, pos;
	unsigned line;
};

/* The next line (without its newline) or false when none is complete. */
static bool next_line(struct cursor *c, const unsigned char **line_r,
		      size_t *len_r)
{
	const unsigned char *nl;

	if (c->pos >= c->len)
		return false;
	nl = memchr(c->buf + c->pos, '\n', c->len - c->pos);
	if (nl == NULL)
		return false;
	*line_r = c->buf + c->pos;
	*len_r = (size_t)(nl - *line_r);
	c->pos += *len_r + 1;
	c->line++;
	return true;
}

static bool is_b62(unsigned char ch)
{
	return isascii(ch) && isalnum(ch);
}

static bool id_ok_n(const char *id, size_t len)
{
	size_t a, b;

	if (len == 16) {
		a = 6; b = 6;
	} else if (len == 23) {
		a = 6; b = 11;
	} else {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		bool dash = i == a || i == a + 1 + b;

		if (dash ? id[i] != '-' : !is_b62((unsigned char)id[i]))
			return false;
	}
	return true;
}

bool mc_exim_id_ok(const char *id)
{
	return id_ok_n(id, strlen(id));
}

static bool parse_ulong(const unsigned char *p, size_t len, unsigned long long *v_r)
{
	unsigned long long v = 0;

	if (len == 0 || len > 18)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit(p[i]))
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	*v_r = v;
	return true;
}

void mc_exim_spool_clear(struct mc_exim_spool *sp)
{
	free(sp->id);
	free(sp->sender);
	for (size_t i = 0; i < sp->rcpt_count; i++)
		free(sp->rcpts[i]);
	free(sp->rcpts);
	for (size_t i = 0; i < sp->done_count; i++)
		free(sp->done[i]);
	free(sp->done);
	free(sp->content);
	memset(sp, 0, sizeof(*sp));
}

static void done_add(struct mc_exim_spool *sp, const unsigned char *a, size_t len,
		     size_t *cap)
{
	char *s = mc_xstrndup((const char *)a, len);

	MC_ARRAY_PUSH(sp->done, sp->done_count, *cap, s);
}

/* The address of a recipient line: Exim reads the optional fields
   from the end (spool_in.c), since an address may contain spaces. */
static bool rcpt_address(const unsigned char *line, size_t len, size_t *alen_r)
{
	size_t p = len, q;
	unsigned long long flags, flen;

	while (p > 0 && isdigit(line[p - 1]))
		p--;
	if (p == len || p == 0 || line[p - 1] != '#') {
		/* No "#BITS": the address alone, or an older Exim's
		   "address pno" or "address n,pno,n" (digits after a
		   space), which name no address bytes of their own. */
		*alen_r = len;
		if (p < len && p > 0 && (line[p - 1] == ' ' || line[p - 1] == ',')) {
			q = p;
			while (q > 0 && (isdigit(line[q - 1]) || line[q - 1] == ','))
				q--;
			if (q > 0 && line[q - 1] == ' ')
				*alen_r = q - 1;
		}
		return *alen_r > 0;
	}
	if (!parse_ulong(line + p, len - p, &flags))
		return false;
	p--;			/* at '#' */
	for (unsigned bit = 1; bit <= 2; bit <<= 1) {
		if ((flags & bit) == 0)
			continue;
		/* "... FIELD LEN,N" with P just past N. */
		q = p;
		while (q > 0 && (isdigit(line[q - 1]) || line[q - 1] == ',' ||
				 line[q - 1] == '-'))
			q--;
		if (q == p || q == 0 || line[q - 1] != ' ')
			return false;
		const unsigned char *comma = memchr(line + q, ',', p - q);
		if (comma == NULL || !parse_ulong(line + q, (size_t)(comma - line) - q, &flen))
			return false;
		q--;		/* at the space before LEN */
		if (flen > q)
			return false;
		q -= flen;	/* at the start of FIELD */
		if (q == 0 || line[q - 1] != ' ')
			return false;
		p = q - 1;	/* at the space before FIELD */
	}
	if ((flags & 3) == 0) {
		/* Bits we do not know: a trailing " DATA#BITS". */
		const unsigned char *sp = memchr(line, ' ', p);
		if (sp == NULL)
			return false;
		p = (size_t)(sp - line);
	}
	*alen_r = p;
	return p > 0;
}

static bool is_done(const struct mc_exim_spool *sp, const char *addr)
{
	for (size_t i = 0; i < sp->done_count; i++) {
		if (strcmp(sp->done[i], addr) == 0)
			return true;
	}
	return false;
}

static int parse_options(struct cursor *c, struct mc_exim_spool *sp,
			 const unsigned char **line_r, size_t *len_r,
			 char **error_r)
{
	const unsigned char *line;
	size_t len;

	for (;;) {
		if (!next_line(c, &line, &len)) {
			mc_error_set(error_r, "ends in the option lines");
			return -1;
		}
		if (len == 0 || line[0] != '-')
			break;
		size_t v = line[1 < len ? 1 : 0] == '-' ? 2 : 1;
		if (v < len && line[v] == '(') {
			/* "(quoter)" before the name */
			const unsigned char *e = memchr(line + v, ')', len - v);
			if (e == NULL) {
				mc_error_set(error_r, "line %u: unterminated quoter", c->line);
				return -1;
			}
			v = (size_t)(e - line) + 1;
		}
		const unsigned char *name = line + v;
		size_t nlen = len - v;

		if ((nlen > 5 && (memcmp(name, "aclc ", 5) == 0 ||
				  memcmp(name, "aclm ", 5) == 0)) ||
		    (nlen > 4 && memcmp(name, "acl ", 4) == 0)) {
			/* The value follows on the next lines: its length is
			   the last word. */
			size_t w = nlen;
			unsigned long long n;

			while (w > 0 && isdigit(name[w - 1]))
				w--;
			if (w == nlen || name[w - 1] != ' ' ||
			    !parse_ulong(name + w, nlen - w, &n) ||
			    n >= c->len - c->pos || c->buf[c->pos + n] != '\n') {
				mc_error_set(error_r, "line %u: ACL variable value cut off "
					     "or malformed", c->line);
				return -1;
			}
			c->pos += n + 1;
		} else if (nlen > 7 && memcmp(name, "frozen ", 7) == 0) {
			sp->frozen = true;
		} else if (nlen == 21 && memcmp(name, "spool_file_wireformat", 21) == 0) {
			sp->wireformat = true;
		}
	}
	*line_r = line;
	*len_r = len;
	return 0;
}

/* The non-recipients tree, starting with LINE (already read). */
static int parse_tree(struct cursor *c, struct mc_exim_spool *sp,
		      const unsigned char *line, size_t len, size_t *done_cap,
		      char **error_r)
{
	/* Subtrees still to read: each node line announces 0-2 more. */
	size_t pending = 1;

	if (len == 2 && memcmp(line, "XX", 2) == 0)
		return 0;
	for (;;) {
		if (len < 4 || (line[0] != 'Y' && line[0] != 'N') ||
		    (line[1] != 'Y' && line[1] != 'N') || line[2] != ' ') {
			mc_error_set(error_r, "line %u: malformed non-recipients tree",
				     c->line);
			return -1;
		}
		done_add(sp, line + 3, len - 3, done_cap);
		pending = pending - 1 + (line[0] == 'Y') + (line[1] == 'Y');
		if (pending == 0)
			return 0;
		if (!next_line(c, &line, &len)) {
			mc_error_set(error_r, "ends in the non-recipients tree");
			return -1;
		}
	}
}

static int parse_recipients(struct cursor *c, struct mc_exim_spool *sp,
			    char **error_r)
{
	const unsigned char *line;
	size_t len, cap = 0, alen;
	unsigned long long n;

	if (!next_line(c, &line, &len)) {
		mc_error_set(error_r, "ends before the recipient count");
		return -1;
	}
	if (!parse_ulong(line, len, &n) || n > MAX_RECIPIENTS) {
		mc_error_set(error_r, "line %u: bad recipient count", c->line);
		return -1;
	}
	sp->rcpt_total = (size_t)n;
	for (size_t i = 0; i < sp->rcpt_total; i++) {
		if (!next_line(c, &line, &len)) {
			mc_error_set(error_r, "ends in the recipients (%zu of %zu)",
				     i, sp->rcpt_total);
			return -1;
		}
		if (!rcpt_address(line, len, &alen)) {
			mc_error_set(error_r, "line %u: malformed recipient", c->line);
			return -1;
		}
		char *a = mc_xstrndup((const char *)line, alen);
		if (strlen(a) != alen || is_done(sp, a)) {
			free(a);
			continue;
		}
		MC_ARRAY_PUSH(sp->rcpts, sp->rcpt_count, cap, a);
	}
	return 0;
}

/* Headers from C's position to the end of the -H file (C's position
   then); the live ones are appended to the content when KEEP. */
static int parse_headers(struct cursor *c, struct mc_exim_spool *sp,
			 bool keep, size_t *cap, char **error_r)
{
	while (c->pos < c->len) {
		const unsigned char *p = c->buf + c->pos;
		size_t avail = c->len - c->pos, i = 0;
		unsigned long long n = 0;

		size_t idlen = strlen(sp->id);

		/* The -D file that follows starts with the id (which
		   can not be taken for a header: '-' is no flag). */
		if (avail >= idlen + 1 && memcmp(p, sp->id, idlen) == 0 &&
		    p[idlen] == '-')
			break;
		if (!isdigit(p[0])) {
			mc_error_set(error_r, "offset %zu: not a header line", c->pos);
			return -1;
		}
		while (i < avail && i < 9 && isdigit(p[i])) {
			n = n * 10 + (unsigned)(p[i] - '0');
			i++;
		}
		if (i + 2 > avail) {
			mc_error_set(error_r, "header at offset %zu cut off", c->pos);
			return -1;
		}
		unsigned char flag = p[i];
		if (strchr(" BCFIPRST*", flag) == NULL || flag == '\0' || p[i + 1] != ' ') {
			mc_error_set(error_r, "header at offset %zu: bad length or flag",
				     c->pos);
			return -1;
		}
		i += 2;
		if (n == 0 || n > avail - i || p[i + n - 1] != '\n') {
			mc_error_set(error_r, "header at offset %zu (%llu bytes) cut off",
				     c->pos, n);
			return -1;
		}
		if (keep && flag != '*') {
			size_t need = sp->content_len + n + 1;
			if (need > *cap) {
				*cap = need * 2;
				sp->content = mc_xrealloc(sp->content, *cap);
			}
			memcpy(sp->content + sp->content_len, p + i, n);
			sp->content_len += n;
		}
		c->pos += i + n;
	}
	return 0;
}

static int parse_body(struct mc_exim_spool *sp, const unsigned char *d,
		      size_t dlen, size_t *cap, char **error_r)
{
	size_t idlen = strlen(sp->id);
	size_t need;

	if (dlen < idlen + 3 || memcmp(d, sp->id, idlen) != 0 ||
	    memcmp(d + idlen, "-D\n", 3) != 0) {
		mc_error_set(error_r, "the -D file does not start with \"%s-D\"", sp->id);
		return -1;
	}
	d += idlen + 3;
	dlen -= idlen + 3;
	need = sp->content_len + 1 + dlen + 1;
	if (need > *cap) {
		*cap = need;
		sp->content = mc_xrealloc(sp->content, *cap);
	}
	sp->content[sp->content_len++] = '\n';
	for (size_t i = 0; i < dlen; i++) {
		if (sp->wireformat && d[i] == '\r' && i + 1 < dlen && d[i + 1] == '\n')
			continue;
		sp->content[sp->content_len++] = d[i];
	}
	sp->content[sp->content_len] = '\0';
	return 0;
}

static int parse_envelope(struct cursor *c, struct mc_exim_spool *sp, char **error_r)
{
	const unsigned char *line;
	size_t len;
	unsigned long long t;

	if (!next_line(c, &line, &len) || len < 3 || !id_ok_n((const char *)line, len - 2) ||
	    memcmp(line + len - 2, "-H", 2) != 0) {
		mc_error_set(error_r, "not an Exim -H file (first line)");
		return -1;
	}
	sp->id = mc_xstrndup((const char *)line, len - 2);
	if (!next_line(c, &line, &len) || len < 5) {
		mc_error_set(error_r, "ends before the user line");
		return -1;
	}
	if (!next_line(c, &line, &len) || len < 2 || line[0] != '<' || line[len - 1] != '>') {
		mc_error_set(error_r, "line 3: bad envelope sender");
		return -1;
	}
	sp->sender = mc_xstrndup((const char *)line + 1, len - 2);
	if (strlen(sp->sender) != len - 2) {
		mc_error_set(error_r, "line 3: NUL in the envelope sender");
		return -1;
	}
	const unsigned char *sp1;
	if (!next_line(c, &line, &len) || (sp1 = memchr(line, ' ', len)) == NULL ||
	    !parse_ulong(line, (size_t)(sp1 - line), &t)) {
		mc_error_set(error_r, "line 4: bad arrival time");
		return -1;
	}
	sp->arrival = (time_t)t;
	return 0;
}

int mc_exim_spool_parse(const unsigned char *buf, size_t len,
			const unsigned char *journal, size_t journal_len,
			bool envelope_only, struct mc_exim_spool *sp,
			char **error_r)
{
	struct cursor c = { .buf = buf, .len = len };
	const unsigned char *line;
	size_t llen, done_cap = 0, cap = 0;

	memset(sp, 0, sizeof(*sp));
	if (parse_envelope(&c, sp, error_r) < 0 ||
	    parse_options(&c, sp, &line, &llen, error_r) < 0 ||
	    parse_tree(&c, sp, line, llen, &done_cap, error_r) < 0)
		goto fail;
	/* Delivered by an attempt that did not update the -H file. */
	for (size_t p = 0; journal != NULL && p < journal_len; ) {
		const unsigned char *nl = memchr(journal + p, '\n', journal_len - p);
		if (nl == NULL)
			break;	/* a line being written: not delivered yet */
		done_add(sp, journal + p, (size_t)(nl - journal) - p, &done_cap);
		p = (size_t)(nl - journal) + 1;
	}
	if (parse_recipients(&c, sp, error_r) < 0)
		goto fail;
	if (!next_line(&c, &line, &llen) || llen != 0) {
		mc_error_set(error_r, "no empty line before the headers");
		goto fail;
	}
	if (parse_headers(&c, sp, !envelope_only, &cap, error_r) < 0)
		goto fail;
	sp->h_len = c.pos;
	if (!envelope_only && parse_body(sp, buf + c.pos, len - c.pos, &cap, error_r) < 0)
		goto fail;
	return 0;
fail:
	if (error_r != NULL && *error_r != NULL && sp->id != NULL) {
		char *e = mc_xasprintf("spool file %s-H: %s", sp->id, *error_r);
		free(*error_r);
		*error_r = e;
	}
	mc_exim_spool_clear(sp);
	return -1;
}
