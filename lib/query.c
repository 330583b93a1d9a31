/*++
/* NAME
/*	query 3
/* SUMMARY
/*	the query language: parse, print, and evaluate lazily
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	struct mc_query *mc_query_parse(text, &error)
/*	void	mc_query_free(&query)
/*	bool	mc_query_needs_engine(query)
/*	bool	mc_query_needs_body(query)
/*	const char *mc_query_text(query)
/*	void	mc_query_eval(query, msg, facts, ops, engine, &match)
/*	void	mc_match_clear(&match)
/*	const char *mc_reason_kind_name(kind)
/* DESCRIPTION
/*	Grammar (keys and the words and/or/not are case-insensitive):
/*
/*	    query   = or-expr
/*	    or-expr = and-expr *("or" and-expr)
/*	    and-expr = unary *(["and"] unary)
/*	    unary   = "not" unary / "(" or-expr ")" / term
/*
/*	so NOT binds tightest, then AND (also implicit, by juxtaposition),
/*	then OR: "a or b c" is "a or (b and c)", "not a b" is "(not a)
/*	and b". A term is a word: KEY:VALUE, size>N (also <, >=, <=, =),
/*	@FILE, virus or all. DATE values are YYYY-MM-DD or
/*	YYYY-MM-DDTHH:MM:SS (mc_date_parse). A double-quoted section of a word may hold
/*	spaces and parentheses (subject:"urgent invoice"); \" and \\
/*	escape inside quotes. A quoted or/and/not is a word, not an
/*	operator.
/*
/*	GLOB values (virus, from, to, cc, attachment) are shell globs
/*	matched case-insensitively against the whole string; a value
/*	without * ? or [ matches as a substring, so from:evil.example
/*	finds every address at that domain. from:, to: and cc: match a
/*	mailbox's address, its decoded display name, or its address as
/*	written (see mc_address_parse). TEXT values (subject,
/*	header, message-id, body) match as case-insensitive substrings
/*	with runs of white space counting as one space; HTML parts are
/*	searched both as they are and as their text without tags and
/*	with entities decoded, so markup inside a phrase does not hide
/*	it. Case folding is Unicode case folding when the value is not
/*	plain ASCII. attachment: also tries the file name without the
/*	trailing dots and spaces that Windows ignores ("x.exe." runs as
/*	"x.exe"). sha256:/md5: match a decoded MIME part (for single-part
/*	mail, the whole decoded body) or the message as a whole.
/*	header:NAME:TEXT with empty TEXT (or header:NAME) means the header
/*	is present. since:/before: compare the Date header (UTC, in any
/*	form mc_date_parse_header reads, before 1970 too); a message
/*	without a usable Date matches neither, and date:none finds it.
/*
/*	@FILE is an indicator list: each non-empty line not starting with
/*	# is one term, its value running to the end of the line (quotes
/*	are optional); a line of 32 or 64 hexadecimal digits is an md5 or
/*	sha256. The terms are ORed; hashes are looked up in a sorted set,
/*	so a list of 100,000 hashes costs a binary search per part.
/*
/*	Evaluation uses Kleene three-valued logic over three cost levels:
/*	(1) headers, size, date, all; (2) the MIME walk: body, attachment,
/*	sha256, md5; (3) the detection engine: virus. The query is first
/*	evaluated with only level 1 known; the MIME walk happens only if
/*	the answer is still unknown and the query has level-2 terms; the
/*	engine runs (once) only if it is still unknown after that. A term
/*	that cannot be known (MIME limit, engine limit or error) stays
/*	unknown; if the answer depends on it, the message is not matched
/*	and match->problem says why. A MIME term that the parts found
/*	before a MIME limit already satisfy is true. Before the MIME walk,
/*	an attachment: term whose glob has a literal run is false for a
/*	message that holds the run nowhere and cannot spell a file name
/*	in an encoded form; most messages are decided so. Likewise a
/*	from:, to: or cc: term with a literal run is false, without
/*	parsing addresses, when the header's values hold the run nowhere
/*	(white space and dots aside) and use no quoted, commented,
/*	encoded or IDN form. mc_query_eval()
/*	overwrites *match_r (clear a previous result first); FACTS may
/*	be NULL, then it uses facts of its own.
/*
/*	Reasons list the true terms that made the match, in query order:
/*	all terms of a true AND, the true branches of a true OR, nothing
/*	under a NOT. The value is the concrete thing matched: the
/*	signature name, the address ("name <address>" when the name
/*	matched), the file name, the hash, the subject, "size=N", the
/*	Date ("none" for date:none); NULL for "all".
/* DIAGNOSTICS
/*	Parse errors name the term and its 1-based character position:
/*	"query: unknown key 'frm' at position 1 (frm:x)". Errors in an
/*	indicator file name the file and line instead.
/* SECURITY
/*	Parsing, evaluation and printing recurse over the tree, so the
/*	nesting of parentheses and "not" is bounded at parse time. The
/*	query is read-only after parsing and is shared by all worker
/*	threads; all per-message state lives in mc_query_eval's frame.
/*--*/

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <glib.h>

#include "mailcure/mailcure.h"
#include "internal.h"

/* Parentheses and "not" nest at most this deep. Not a policy limit:
   it only keeps the recursive parser, evaluator and printer within a
   worker thread's stack, far above what anyone types. */
#define QUERY_MAX_NESTING 200

enum node_type { N_AND, N_OR, N_NOT, N_TERM };

enum term_kind {
	T_VIRUS, T_FROM, T_TO, T_CC, T_SUBJECT, T_HEADER, T_MSGID, T_BODY,
	T_ATTACHMENT, T_SHA256, T_MD5, T_SIZE, T_SINCE, T_BEFORE, T_DATE_NONE,
	T_ALL, T_HASHSET,
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
	char *literal;		/* what any match must contain (glob_literal) */
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
};

struct mc_query {
	struct node *root;
	char *text;
	bool needs_engine;
	bool needs_mime;
	bool has_literal;	/* an attachment term with a literal */
};

/* ------------------------------------------------------------------ */
/* Nodes                                                              */
/* ------------------------------------------------------------------ */

static struct node *node_new(enum node_type type)
{
	struct node *n = mc_xcalloc(1, sizeof(*n));

	n->type = type;
	return n;
}

static void node_add(struct node *n, struct node *kid)
{
	MC_ARRAY_PUSH(n->kids, n->nkids, n->capkids, kid);
}

static void node_free(struct node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->file);
	free(n->value);
	free(n->hname);
	free(n->literal);
	free(n->nd.ascii);
	g_free(n->nd.folded);
	free(n->sha256s);
	free(n->md5s);
	free(n);
}

static int term_level(enum term_kind k)
{
	switch (k) {
	case T_VIRUS:
		return 3;
	case T_BODY: case T_ATTACHMENT: case T_SHA256: case T_MD5:
	case T_HASHSET:
		return 2;
	default:
		return 1;
	}
}

static void scan_needs(const struct node *n, struct mc_query *q)
{
	if (n->type == N_TERM) {
		int level = term_level(n->kind);
		if (level == 3)
			q->needs_engine = true;
		else if (level == 2)
			q->needs_mime = true;
		if (n->literal != NULL && n->kind == T_ATTACHMENT)
			q->has_literal = true;
	}
	for (size_t i = 0; i < n->nkids; i++)
		scan_needs(n->kids[i], q);
}

/* ------------------------------------------------------------------ */
/* Text normalization for substring matching                          */
/* ------------------------------------------------------------------ */

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
		c == '\v';
}

/* Append one character of text: white space collapses into the space
   before it, ASCII letters are lowered. */
static void norm_put(struct mc_buf *b, unsigned char c)
{
	if (is_space(c)) {
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

/* Decode the entity at S ("&amp;", "&#233;"); returns its length, 0
   when it is not one. */
static size_t html_entity(const char *s, size_t len, struct mc_buf *b)
{
	static const struct { const char *name; const char *text; } names[] = {
		{ "amp", "&" }, { "lt", "<" }, { "gt", ">" }, { "quot", "\"" },
		{ "apos", "'" }, { "nbsp", " " },
	};
	size_t end = 1;

	while (end < len && end < 12 && s[end] != ';')
		end++;
	if (end >= len || s[end] != ';')
		return 0;
	if (s[1] == '#') {
		unsigned long cp;
		char *e;
		if (end > 2 && (s[2] == 'x' || s[2] == 'X'))
			cp = strtoul(s + 3, &e, 16);
		else
			cp = strtoul(s + 2, &e, 10);
		if (e != s + end || cp == 0 || cp > 0x10ffff)
			return 0;
		char u[8];
		int n = g_unichar_to_utf8((gunichar)cp, u);
		for (int i = 0; i < n; i++)
			norm_put(b, (unsigned char)u[i]);
		return end + 1;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i].name);
		if (end - 1 == n && g_ascii_strncasecmp(s + 1, names[i].name, n) == 0) {
			norm_put(b, (unsigned char)names[i].text[0]);
			return end + 1;
		}
	}
	return 0;
}

/* Normalize S for searching. With HTML, tags are dropped (block tags
   count as a space), comments and script/style contents skipped and
   entities decoded. U+00A0 counts as white space. */
static char *normalize(const char *s, size_t len, bool html, size_t *len_r)
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

static void needle_init(struct needle *nd, const char *value)
{
	size_t len;
	char *s;

	/* The query comes from the command line in any encoding; the
	   texts it is compared with are UTF-8 (and casefolding needs
	   valid UTF-8). */
	if (!g_utf8_validate(value, -1, NULL)) {
		char *valid = g_utf8_make_valid(value, -1);
		s = normalize(valid, strlen(valid), false, &len);
		g_free(valid);
	} else {
		s = normalize(value, strlen(value), false, &len);
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
static bool norm_contains(const char *norm, size_t nlen, const struct needle *nd)
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

static bool text_contains(const char *text, const struct needle *nd)
{
	size_t len;
	char *norm = normalize(text, strlen(text), false, &len);
	bool found = norm_contains(norm, len, nd);

	free(norm);
	return found;
}

static bool has_glob_chars(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* A GLOB value: the glob, or a substring when it has no glob
   characters. */
static bool value_match(const struct node *t, const char *s)
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
   (see eval_addresses). A set of characters at once; non-ASCII
   characters are left out of runs (their bytes depend on charsets),
   and so is white space (folding can put a line break before it). */
static char *glob_literal(const char *value, bool glob)
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
static const unsigned char *mem_case_find(const unsigned char *hay, size_t n,
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
static bool names_may_be_encoded(const unsigned char *d, size_t n)
{
	const unsigned char *hit;
	size_t pos = 0;

	while ((hit = mem_case_find(d + pos, n - pos, "content-", 8)) != NULL) {
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

/* ------------------------------------------------------------------ */
/* Terms                                                              */
/* ------------------------------------------------------------------ */

/* Where a term came from, for error messages. */
struct where {
	const char *file;	/* indicator file, or NULL */
	size_t line;
	size_t pos;		/* 1-based character position in the query */
	const char *raw;	/* the term as written */
	bool after_value;	/* follows a KEY:VALUE word */
};

static int term_error(const struct where *w, char **error_r,
		      const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int term_error(const struct where *w, char **error_r,
		      const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->file != NULL)
		return mc_error_set(error_r, "query: %s:%zu: %s (%s)", w->file,
				    w->line, msg, w->raw);
	/* "subject:two words" typed in a shell loses its quotes; the
	   second word then stands alone. */
	if (w->after_value && strncmp(msg, "unknown term", 12) == 0)
		return mc_error_set(error_r, "query: %s at position %zu (%s); a value with "
				    "spaces needs quotes, as in 'subject:\"two words\"'",
				    msg, w->pos, w->raw);
	return mc_error_set(error_r, "query: %s at position %zu (%s)", msg,
			    w->pos, w->raw);
}

static const struct {
	const char *key;
	enum term_kind kind;
} keys[] = {
	{ "virus", T_VIRUS }, { "from", T_FROM }, { "to", T_TO },
	{ "cc", T_CC }, { "subject", T_SUBJECT }, { "header", T_HEADER },
	{ "message-id", T_MSGID }, { "body", T_BODY },
	{ "attachment", T_ATTACHMENT }, { "sha256", T_SHA256 },
	{ "md5", T_MD5 }, { "size", T_SIZE }, { "since", T_SINCE },
	{ "before", T_BEFORE }, { "date", T_DATE_NONE }, { "all", T_ALL },
};

static const char *kind_key(enum term_kind k)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].kind == k)
			return keys[i].key;
	}
	return "?";
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = g_ascii_tolower((gchar)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool parse_hex(const char *s, unsigned char *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval((unsigned char)s[2 * i]);
		int lo = hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

static bool parse_size(const char *s, uint64_t *size_r)
{
	uint64_t v = 0, mult = 1;

	if (!g_ascii_isdigit(*s))
		return false;
	for (; g_ascii_isdigit(*s); s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	switch (*s) {
	case 'k': case 'K': mult = 1ULL << 10; s++; break;
	case 'm': case 'M': mult = 1ULL << 20; s++; break;
	case 'g': case 'G': mult = 1ULL << 30; s++; break;
	}
	if (*s == 'b' || *s == 'B')
		s++;
	if (*s != '\0' || (v != 0 && v > UINT64_MAX / mult))
		return false;
	*size_r = v * mult;
	return true;
}

static bool is_key_char(unsigned char c)
{
	return g_ascii_isalnum((gchar)c) || c == '-';
}

static bool all_hex(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!g_ascii_isxdigit(*s))
			return false;
	}
	return true;
}

/* Build a term from TEXT (quotes removed). KEY_LIMIT is where the
   first quoted character is: the key must come before it. */
static struct node *parse_term(const char *text, size_t key_limit,
			       const struct where *w, char **error_r)
{
	size_t klen = 0;
	char key[32];
	const char *value;
	char sep;
	struct node *t;
	enum term_kind kind = T_ALL;
	bool found = false;

	while (klen < key_limit && is_key_char((unsigned char)text[klen]))
		klen++;
	sep = klen < key_limit ? text[klen] : (text[klen] == '\0' ? '\0' : '"');
	if (klen == 0 || klen >= sizeof(key) ||
	    (sep != ':' && sep != '\0' && sep != '<' && sep != '>' && sep != '=')) {
		if (w->file != NULL && (strlen(text) == 64 || strlen(text) == 32) &&
		    all_hex(text)) {
			/* A bare hash in an indicator list. */
			t = node_new(N_TERM);
			t->kind = strlen(text) == 64 ? T_SHA256 : T_MD5;
			parse_hex(text, t->hash, strlen(text) / 2);
			t->value = mc_xstrdup(text);
			return t;
		}
		term_error(w, error_r, "unknown term '%s'", text);
		return NULL;
	}
	for (size_t i = 0; i < klen; i++)
		key[i] = g_ascii_tolower(text[i]);
	key[klen] = '\0';
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(keys[i].key, key) == 0) {
			kind = keys[i].kind;
			found = true;
		}
	}
	if (!found) {
		if (sep == '\0') {
			if (w->file != NULL && (klen == 64 || klen == 32) && all_hex(text)) {
				t = node_new(N_TERM);
				t->kind = klen == 64 ? T_SHA256 : T_MD5;
				parse_hex(text, t->hash, klen / 2);
				t->value = mc_xstrdup(text);
				return t;
			}
			term_error(w, error_r, "unknown term '%s'", text);
		} else {
			term_error(w, error_r, "unknown key '%.*s'", (int)klen, text);
		}
		return NULL;
	}
	value = sep == '\0' ? NULL : text + klen + 1;

	if (kind == T_SIZE) {
		/* size>N, size<N, size>=N, size<=N, size=N; also size:>N */
		const char *s = text + klen;
		enum size_op op;
		if (*s == ':')
			s++;
		if (s[0] == '>' && s[1] == '=') { op = SZ_GE; s += 2; }
		else if (s[0] == '<' && s[1] == '=') { op = SZ_LE; s += 2; }
		else if (s[0] == '>') { op = SZ_GT; s++; }
		else if (s[0] == '<') { op = SZ_LT; s++; }
		else if (s[0] == '=') { op = SZ_EQ; s++; }
		else {
			term_error(w, error_r, "size needs a comparison, as in size>10M");
			return NULL;
		}
		t = node_new(N_TERM);
		t->kind = T_SIZE;
		t->op = op;
		if (!parse_size(s, &t->size)) {
			node_free(t);
			term_error(w, error_r, "bad size '%s' (a number with an optional k, M or G suffix)", s);
			return NULL;
		}
		return t;
	}
	if (sep != '\0' && sep != ':') {
		term_error(w, error_r, "unknown term '%s'", text);
		return NULL;
	}
	if (kind == T_ALL) {
		if (value != NULL) {
			term_error(w, error_r, "'all' takes no value");
			return NULL;
		}
		t = node_new(N_TERM);
		t->kind = T_ALL;
		return t;
	}
	if (value == NULL && kind != T_VIRUS) {
		term_error(w, error_r, "'%s' needs a value, as in %s:VALUE", key, key);
		return NULL;
	}
	if (value != NULL && *value == '\0' && kind != T_HEADER) {
		term_error(w, error_r, "empty value for '%s'", key);
		return NULL;
	}

	t = node_new(N_TERM);
	t->kind = kind;
	switch (kind) {
	case T_VIRUS:
		if (value != NULL) {
			t->value = mc_xstrdup(value);
			t->glob = has_glob_chars(value);
		}
		break;
	case T_FROM: case T_TO: case T_CC: case T_ATTACHMENT:
		t->value = mc_xstrdup(value);
		t->glob = has_glob_chars(value);
		t->literal = glob_literal(value, t->glob);
		break;
	case T_SUBJECT: case T_MSGID: case T_BODY:
		t->value = mc_xstrdup(value);
		needle_init(&t->nd, value);
		break;
	case T_HEADER: {
		const char *colon = strchr(value, ':');
		size_t nlen = colon != NULL ? (size_t)(colon - value) : strlen(value);
		bool ok = nlen > 0;
		for (size_t i = 0; i < nlen; i++) {
			unsigned char c = (unsigned char)value[i];
			if (c <= 32 || c >= 127)
				ok = false;
		}
		if (!ok) {
			node_free(t);
			term_error(w, error_r, "header needs a field name, as in header:NAME:TEXT");
			return NULL;
		}
		t->hname = mc_xstrndup(value, nlen);
		t->value = mc_xstrdup(colon != NULL ? colon + 1 : "");
		needle_init(&t->nd, t->value);
		break;
	}
	case T_SHA256: case T_MD5: {
		size_t n = kind == T_SHA256 ? 32 : 16;
		if (!parse_hex(value, t->hash, n)) {
			node_free(t);
			term_error(w, error_r, "a %s is %zu hexadecimal digits", key, 2 * n);
			return NULL;
		}
		t->value = mc_xstrdup(value);
		for (char *c = t->value; *c != '\0'; c++)
			*c = g_ascii_tolower(*c);
		break;
	}
	case T_SINCE: case T_BEFORE:
		if (!mc_date_parse(value, &t->date, &t->date_time)) {
			node_free(t);
			term_error(w, error_r, "bad date '%s' (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, UTC)", value);
			return NULL;
		}
		break;
	case T_DATE_NONE:
		if (g_ascii_strcasecmp(value, "none") != 0) {
			node_free(t);
			term_error(w, error_r, "date: takes 'none' (a message without a usable Date); "
				   "since: and before: compare dates");
			return NULL;
		}
		t->value = mc_xstrdup("none");
		break;
	default:
		break;
	}
	return t;
}

/* ------------------------------------------------------------------ */
/* Indicator files                                                    */
/* ------------------------------------------------------------------ */

static int cmp32(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static int cmp16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* Replace the hash terms of an indicator list by one sorted set, at
   the place of the first of them. */
static void collect_hashes(struct node *group)
{
	struct node *set = NULL;
	size_t out = 0, nsha = 0, nmd5 = 0;

	for (size_t i = 0; i < group->nkids; i++) {
		struct node *k = group->kids[i];
		if (k->type == N_TERM && k->kind == T_SHA256)
			nsha++;
		else if (k->type == N_TERM && k->kind == T_MD5)
			nmd5++;
	}
	if (nsha + nmd5 < 2)
		return;
	for (size_t i = 0; i < group->nkids; i++) {
		struct node *k = group->kids[i];
		if (k->type != N_TERM || (k->kind != T_SHA256 && k->kind != T_MD5)) {
			group->kids[out++] = k;
			continue;
		}
		if (set == NULL) {
			set = node_new(N_TERM);
			set->kind = T_HASHSET;
			set->sha256s = mc_xmalloc(nsha * 32 + 1);
			set->md5s = mc_xmalloc(nmd5 * 16 + 1);
			group->kids[out++] = set;
		}
		if (k->kind == T_SHA256)
			memcpy(set->sha256s + 32 * set->nsha256++, k->hash, 32);
		else
			memcpy(set->md5s + 16 * set->nmd5++, k->hash, 16);
		node_free(k);
	}
	group->nkids = out;
	qsort(set->sha256s, set->nsha256, 32, cmp32);
	qsort(set->md5s, set->nmd5, 16, cmp16);
}

/* Unquote a whole "..." value of an indicator line in place. */
static void unquote_value(char *v)
{
	size_t len = strlen(v), o = 0;

	if (len < 2 || v[0] != '"' || v[len - 1] != '"')
		return;
	for (size_t i = 1; i + 1 < len; i++) {
		if (v[i] == '\\' && i + 2 < len)
			i++;
		v[o++] = v[i];
	}
	v[o] = '\0';
}

static struct node *load_indicators(const char *path, const struct where *at,
				    char **error_r)
{
	FILE *fp = fopen(path, "re");
	struct stat st;
	struct node *group;
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;

	if (fp == NULL) {
		mc_error_errno(error_r, "query: cannot read indicator file '%s'", path);
		return NULL;
	}
	if (fstat(fileno(fp), &st) < 0) {
		mc_error_errno(error_r, "query: cannot read indicator file '%s'", path);
		fclose(fp);
		return NULL;
	}
	if (S_ISDIR(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		/* A device could be endless (/dev/zero). Pipes are fine. */
		mc_error_set(error_r, "query: cannot read indicator file '%s': %s", path,
			     S_ISDIR(st.st_mode) ? "Is a directory" : "not a regular file or pipe");
		fclose(fp);
		return NULL;
	}
	group = node_new(N_OR);
	group->file = mc_xstrdup(path);
	errno = 0;
	while ((n = getline(&line, &cap, fp)) >= 0) {
		char *s = line, *e = line + n;
		lineno++;
		while (e > s && is_space((unsigned char)e[-1]))
			e--;
		*e = '\0';
		while (is_space((unsigned char)*s))
			s++;
		if (*s == '\0' || *s == '#')
			continue;
		struct where w = { path, lineno, 0, s, false };
		char *raw = mc_xstrdup(s);
		w.raw = raw;
		if (*s == '@') {
			term_error(&w, error_r, "an indicator file cannot include another");
			free(raw);
			goto fail;
		}
		/* KEY:"value with spaces" or KEY:value with spaces */
		size_t k = 0;
		while (is_key_char((unsigned char)s[k]))
			k++;
		if (s[k] == ':')
			unquote_value(s + k + 1);
		struct node *t = parse_term(s, strlen(s), &w, error_r);
		free(raw);
		if (t == NULL)
			goto fail;
		node_add(group, t);
	}
	if (ferror(fp)) {
		mc_error_errno(error_r, "query: cannot read indicator file '%s'", path);
		goto fail;
	}
	free(line);
	fclose(fp);
	if (group->nkids == 0) {
		node_free(group);
		term_error(at, error_r, "indicator file '%s' has no terms", path);
		return NULL;
	}
	collect_hashes(group);
	return group;
fail:
	free(line);
	fclose(fp);
	node_free(group);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Lexer and parser                                                   */
/* ------------------------------------------------------------------ */

enum tok_type { TK_WORD, TK_LPAREN, TK_RPAREN, TK_END };

struct token {
	enum tok_type type;
	char *text;		/* unquoted */
	size_t key_limit;	/* index of the first quoted character */
	bool op_or, op_and, op_not;
	size_t pos;		/* 1-based character position */
	char *raw;		/* as written */
};

struct parser {
	struct token *toks;
	size_t ntoks, captoks, i;
	char **error_r;
	unsigned depth;
};

/* 1-based character (not byte) position of byte OFF of S, counted
   on from the last call (offsets only grow), so lexing stays linear. */
struct charpos {
	size_t off;
	size_t pos;
};

static size_t char_pos(struct charpos *cp, const char *s, size_t off)
{
	for (; cp->off < off; cp->off++) {
		if (((unsigned char)s[cp->off] & 0xc0) != 0x80)
			cp->pos++;
	}
	return cp->pos;
}

static int lex(struct parser *p, const char *s)
{
	size_t i = 0, len = strlen(s);
	struct charpos cp = { 0, 1 };

	for (;;) {
		struct token t;

		while (i < len && is_space((unsigned char)s[i]))
			i++;
		memset(&t, 0, sizeof(t));
		t.pos = char_pos(&cp, s, i);
		if (i >= len) {
			t.type = TK_END;
			MC_ARRAY_PUSH(p->toks, p->ntoks, p->captoks, t);
			return 0;
		}
		if (s[i] == '(' || s[i] == ')') {
			t.type = s[i] == '(' ? TK_LPAREN : TK_RPAREN;
			t.raw = mc_xstrndup(s + i, 1);
			i++;
			MC_ARRAY_PUSH(p->toks, p->ntoks, p->captoks, t);
			continue;
		}
		struct mc_buf b = { NULL, 0, 0 };
		size_t start = i;
		t.type = TK_WORD;
		t.key_limit = SIZE_MAX;
		mc_buf_add(&b, "", 0);
		while (i < len && !is_space((unsigned char)s[i]) &&
		       s[i] != '(' && s[i] != ')') {
			if (s[i] != '"') {
				mc_buf_add(&b, s + i, 1);
				i++;
				continue;
			}
			size_t q = i++;
			if (t.key_limit == SIZE_MAX)
				t.key_limit = b.len;
			while (i < len && s[i] != '"') {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				mc_buf_add(&b, s + i, 1);
				i++;
			}
			if (i >= len) {
				free(b.s);
				return mc_error_set(p->error_r,
					"query: unterminated quote at position %zu (%s)",
					char_pos(&cp, s, q), s + start);
			}
			i++;
		}
		t.text = b.s;
		t.raw = mc_xstrndup(s + start, i - start);
		if (t.key_limit == SIZE_MAX) {
			t.key_limit = b.len;
			t.op_or = g_ascii_strcasecmp(t.text, "or") == 0;
			t.op_and = g_ascii_strcasecmp(t.text, "and") == 0;
			t.op_not = g_ascii_strcasecmp(t.text, "not") == 0;
		}
		MC_ARRAY_PUSH(p->toks, p->ntoks, p->captoks, t);
	}
}

static const struct token *peek(const struct parser *p)
{
	return &p->toks[p->i];
}

static bool ends_operand(const struct token *t)
{
	return t->type == TK_END || t->type == TK_RPAREN || t->op_or ||
		t->op_and;
}

static int parse_error(struct parser *p, const struct token *t,
		       const char *what)
{
	if (t->type == TK_END)
		return mc_error_set(p->error_r, "query: %s at position %zu (end of query)",
				    what, t->pos);
	return mc_error_set(p->error_r, "query: %s at position %zu (%s)", what,
			    t->pos, t->raw);
}

static struct node *parse_or(struct parser *p);

static struct node *parse_unary(struct parser *p)
{
	const struct token *t = peek(p);

	if (p->depth >= QUERY_MAX_NESTING) {
		parse_error(p, t, "query nested too deeply");
		return NULL;
	}
	if (t->op_not) {
		const struct token *nt;
		struct node *kid, *n;
		p->i++;
		nt = peek(p);
		if (ends_operand(nt)) {
			mc_error_set(p->error_r, "query: missing term after 'not' at position %zu",
				     t->pos);
			return NULL;
		}
		p->depth++;
		kid = parse_unary(p);
		p->depth--;
		if (kid == NULL)
			return NULL;
		n = node_new(N_NOT);
		node_add(n, kid);
		return n;
	}
	if (t->type == TK_LPAREN) {
		const struct token *open = t;
		struct node *inner;
		p->i++;
		if (peek(p)->type == TK_RPAREN) {
			parse_error(p, open, "empty parentheses");
			return NULL;
		}
		p->depth++;
		inner = parse_or(p);
		p->depth--;
		if (inner == NULL)
			return NULL;
		if (peek(p)->type != TK_RPAREN) {
			mc_error_set(p->error_r,
				     "query: missing ')' at position %zu (for '(' at position %zu)",
				     peek(p)->pos, open->pos);
			node_free(inner);
			return NULL;
		}
		p->i++;
		return inner;
	}
	if (t->type == TK_RPAREN) {
		parse_error(p, t, "unexpected ')'");
		return NULL;
	}
	if (t->type == TK_END) {
		parse_error(p, t, "missing term");
		return NULL;
	}
	if (t->op_or || t->op_and) {
		parse_error(p, t, t->op_or ? "'or' without a term before it" :
			    "'and' without a term before it");
		return NULL;
	}
	p->i++;
	struct where w = { NULL, 0, t->pos, t->raw, false };
	if (p->i >= 2) {
		const struct token *prev = &p->toks[p->i - 2];
		w.after_value = prev->type == TK_WORD && strchr(prev->text, ':') != NULL;
	}
	if (t->text[0] == '@' && t->key_limit > 0) {
		if (t->text[1] == '\0') {
			term_error(&w, p->error_r, "'@' needs a file name, as in @FILE");
			return NULL;
		}
		return load_indicators(t->text + 1, &w, p->error_r);
	}
	return parse_term(t->text, t->key_limit, &w, p->error_r);
}

/* Add KID to N, merging a same-type operator (not an indicator
   list, which keeps its name for the query text). */
static void node_absorb(struct node *n, struct node *kid)
{
	if (kid->type == n->type && kid->file == NULL && n->file == NULL) {
		for (size_t i = 0; i < kid->nkids; i++)
			node_add(n, kid->kids[i]);
		kid->nkids = 0;
		node_free(kid);
		return;
	}
	node_add(n, kid);
}

static struct node *single(struct node *n)
{
	if (n->nkids == 1 && n->file == NULL &&
	    (n->type == N_AND || n->type == N_OR)) {
		struct node *k = n->kids[0];
		n->nkids = 0;
		node_free(n);
		return k;
	}
	return n;
}

static struct node *parse_and(struct parser *p)
{
	struct node *n = node_new(N_AND);

	for (;;) {
		const struct token *t = peek(p);
		if (t->type == TK_END || t->type == TK_RPAREN || t->op_or)
			break;
		if (t->op_and) {
			if (n->nkids == 0) {
				parse_error(p, t, "'and' without a term before it");
				goto fail;
			}
			p->i++;
			if (ends_operand(peek(p))) {
				mc_error_set(p->error_r,
					     "query: missing term after 'and' at position %zu",
					     t->pos);
				goto fail;
			}
			continue;
		}
		struct node *kid = parse_unary(p);
		if (kid == NULL)
			goto fail;
		node_absorb(n, kid);
	}
	if (n->nkids == 0) {
		const struct token *t = peek(p);
		parse_error(p, t, t->op_or ? "'or' without a term before it" :
			    t->type == TK_RPAREN ? "unexpected ')'" : "missing term");
		goto fail;
	}
	return single(n);
fail:
	node_free(n);
	return NULL;
}

static struct node *parse_or(struct parser *p)
{
	struct node *n = node_new(N_OR);

	for (;;) {
		struct node *kid = parse_and(p);
		if (kid == NULL)
			goto fail;
		node_absorb(n, kid);
		const struct token *t = peek(p);
		if (!t->op_or)
			break;
		p->i++;
		if (ends_operand(peek(p))) {
			mc_error_set(p->error_r, "query: missing term after 'or' at position %zu",
				     t->pos);
			goto fail;
		}
	}
	return single(n);
fail:
	node_free(n);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Query text                                                         */
/* ------------------------------------------------------------------ */

static void put_value(GString *out, const char *v)
{
	bool quote = *v == '\0';

	for (const char *c = v; *c != '\0'; c++) {
		if (is_space((unsigned char)*c) || *c == '(' || *c == ')' ||
		    *c == '"' || *c == '\\')
			quote = true;
	}
	if (!quote) {
		g_string_append(out, v);
		return;
	}
	g_string_append_c(out, '"');
	for (const char *c = v; *c != '\0'; c++) {
		if (*c == '"' || *c == '\\')
			g_string_append_c(out, '\\');
		g_string_append_c(out, *c);
	}
	g_string_append_c(out, '"');
}

static void put_size(GString *out, uint64_t v)
{
	static const char suffix[] = "GMk";
	static const unsigned shift[] = { 30, 20, 10 };

	for (size_t i = 0; i < 3; i++) {
		uint64_t unit = 1ULL << shift[i];
		if (v >= unit && v % unit == 0) {
			g_string_append_printf(out, "%" PRIu64 "%c", v / unit, suffix[i]);
			return;
		}
	}
	g_string_append_printf(out, "%" PRIu64, v);
}

/* As mc_date_parse reads it: four-digit years, also before 1000. */
static void put_date(char *buf, size_t size, time_t t, bool with_time)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	if (with_time)
		snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	else
		snprintf(buf, size, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday);
}

static void render(GString *out, const struct node *n, int parent_prec)
{
	static const char *const size_ops[] = { ">", "<", ">=", "<=", "=" };
	char date[64];

	switch (n->type) {
	case N_OR:
		if (n->file != NULL) {
			g_string_append_c(out, '@');
			put_value(out, n->file);
			return;
		}
		/* fall through */
	case N_AND: {
		int prec = n->type == N_OR ? 1 : 2;
		if (parent_prec > prec)
			g_string_append_c(out, '(');
		for (size_t i = 0; i < n->nkids; i++) {
			if (i > 0)
				g_string_append(out, n->type == N_OR ? " or " : " ");
			render(out, n->kids[i], prec);
		}
		if (parent_prec > prec)
			g_string_append_c(out, ')');
		return;
	}
	case N_NOT:
		g_string_append(out, "not ");
		render(out, n->kids[0], 3);
		return;
	case N_TERM:
		break;
	}
	switch (n->kind) {
	case T_VIRUS:
		g_string_append(out, "virus");
		if (n->value != NULL) {
			g_string_append_c(out, ':');
			put_value(out, n->value);
		}
		break;
	case T_ALL:
		g_string_append(out, "all");
		break;
	case T_SIZE:
		g_string_append(out, "size");
		g_string_append(out, size_ops[n->op]);
		put_size(out, n->size);
		break;
	case T_SINCE: case T_BEFORE:
		put_date(date, sizeof(date), n->date, n->date_time);
		g_string_append_printf(out, "%s:%s", kind_key(n->kind), date);
		break;
	case T_HEADER: {
		char *v = mc_xasprintf("%s%s%s", n->hname, *n->value ? ":" : "",
				       n->value);
		g_string_append(out, "header:");
		put_value(out, v);
		free(v);
		break;
	}
	case T_HASHSET:
		g_string_append(out, "(hashes)");
		break;
	default:
		g_string_append(out, kind_key(n->kind));
		g_string_append_c(out, ':');
		put_value(out, n->value);
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Public: parse and free                                             */
/* ------------------------------------------------------------------ */

struct mc_query *mc_query_parse(const char *text, char **error_r)
{
	struct parser p;
	struct mc_query *q;
	struct node *root = NULL;
	bool blank = true;

	if (text != NULL) {
		for (const char *c = text; *c != '\0'; c++) {
			if (!is_space((unsigned char)*c))
				blank = false;
		}
	}
	if (blank)
		text = "virus";
	memset(&p, 0, sizeof(p));
	p.error_r = error_r;
	if (lex(&p, text) == 0) {
		root = parse_or(&p);
		if (root != NULL && peek(&p)->type != TK_END) {
			parse_error(&p, peek(&p), "unexpected ')'");
			node_free(root);
			root = NULL;
		}
	}
	for (size_t i = 0; i < p.ntoks; i++) {
		free(p.toks[i].text);
		free(p.toks[i].raw);
	}
	free(p.toks);
	if (root == NULL)
		return NULL;

	q = mc_xcalloc(1, sizeof(*q));
	q->root = root;
	scan_needs(root, q);
	GString *out = g_string_new(NULL);
	render(out, root, 0);
	q->text = mc_xstrdup(out->str);
	g_string_free(out, TRUE);
	return q;
}

void mc_query_free(struct mc_query **query)
{
	if (*query == NULL)
		return;
	node_free((*query)->root);
	free((*query)->text);
	free(*query);
	*query = NULL;
}

bool mc_query_needs_engine(const struct mc_query *query)
{
	return query->needs_engine;
}

bool mc_query_needs_body(const struct mc_query *query)
{
	return query->needs_mime || query->needs_engine;
}

const char *mc_query_text(const struct mc_query *query)
{
	return query->text;
}

const char *mc_reason_kind_name(enum mc_reason_kind kind)
{
	switch (kind) {
	case MC_REASON_VIRUS: return "virus";
	case MC_REASON_FROM: return "from";
	case MC_REASON_TO: return "to";
	case MC_REASON_CC: return "cc";
	case MC_REASON_SUBJECT: return "subject";
	case MC_REASON_HEADER: return "header";
	case MC_REASON_MESSAGE_ID: return "message-id";
	case MC_REASON_BODY: return "body";
	case MC_REASON_ATTACHMENT: return "attachment";
	case MC_REASON_SHA256: return "sha256";
	case MC_REASON_MD5: return "md5";
	case MC_REASON_SIZE: return "size";
	case MC_REASON_DATE: return "date";
	case MC_REASON_ALL: return "all";
	}
	return "unknown";
}

/* ------------------------------------------------------------------ */
/* Evaluation                                                         */
/* ------------------------------------------------------------------ */

enum tri { F = 0, T = 1, U = 2 };

struct eval {
	const struct mc_msg *msg;
	struct mc_facts *facts;
	int phase;		/* highest cost level known */
	bool literals_only;	/* level 2 before the walk: literals only */
	int names_encoded;	/* names_may_be_encoded(), -1 = not yet */

	/* level 2 */
	const struct mc_part *parts;
	size_t nparts;
	bool walk_failed;
	const char *walk_why;
	char **norm;		/* per text part, normalized, lazily */
	size_t *norm_len;
	bool msg_hashed;
	unsigned char msg_sha256[32], msg_md5[16];

	/* level 3 */
	bool engine_ran;
	bool no_engine;
	struct mc_verdict verdict;
};

/* What a true term matched, for its reason. */
struct hit {
	enum mc_reason_kind kind;
	const char *value;
	char buf[80];
};

static enum mc_reason_kind reason_kind(enum term_kind k)
{
	switch (k) {
	case T_VIRUS: return MC_REASON_VIRUS;
	case T_FROM: return MC_REASON_FROM;
	case T_TO: return MC_REASON_TO;
	case T_CC: return MC_REASON_CC;
	case T_SUBJECT: return MC_REASON_SUBJECT;
	case T_HEADER: return MC_REASON_HEADER;
	case T_MSGID: return MC_REASON_MESSAGE_ID;
	case T_BODY: return MC_REASON_BODY;
	case T_ATTACHMENT: return MC_REASON_ATTACHMENT;
	case T_SHA256: return MC_REASON_SHA256;
	case T_MD5: return MC_REASON_MD5;
	case T_SIZE: return MC_REASON_SIZE;
	case T_SINCE: case T_BEFORE: case T_DATE_NONE: return MC_REASON_DATE;
	case T_ALL: case T_HASHSET: break;
	}
	return MC_REASON_ALL;
}

static enum tri set_hit(struct hit *h, enum mc_reason_kind kind,
			const char *value)
{
	if (h != NULL) {
		h->kind = kind;
		h->value = value;
	}
	return T;
}

/* A mailbox matches by its address, its display name (as IMAP SEARCH
   FROM does), or its address as written, which a broken address
   keeps whole. The reason is what matched, with the address for a
   name. */
static enum tri eval_addresses(struct eval *ev, const struct node *t,
			       const char *header, struct hit *h)
{
	const struct mc_address *addrs;
	size_t n;

	/* Most messages are not from or to whoever is looked for, and
	   telling so from the header value is much cheaper than parsing
	   its addresses. */
	if (t->literal != NULL && !mc_facts_addresses_may_hold(ev->facts, header, t->literal))
		return F;
	n = mc_facts_addresses(ev->facts, header, &addrs);

	for (size_t i = 0; i < n; i++) {
		const struct mc_address *a = &addrs[i];

		if (value_match(t, a->addr))
			return set_hit(h, reason_kind(t->kind), a->addr);
		if (a->name != NULL && value_match(t, a->name))
			return set_hit(h, reason_kind(t->kind), a->display);
		if (a->raw != NULL && value_match(t, a->raw))
			return set_hit(h, reason_kind(t->kind), a->raw);
	}
	return F;
}

static enum tri eval_headers(struct eval *ev, const struct node *t,
			     const char *name, struct hit *h)
{
	const char *const *values;
	size_t n = mc_facts_headers(ev->facts, name, &values);

	for (size_t i = 0; i < n; i++) {
		if (!text_contains(values[i], &t->nd))
			continue;
		if (h != NULL && t->kind == T_HEADER) {
			snprintf(h->buf, sizeof(h->buf), "%s: %s", t->hname, values[i]);
			return set_hit(h, MC_REASON_HEADER, h->buf);
		}
		return set_hit(h, reason_kind(t->kind), values[i]);
	}
	return F;
}

/* The answer of a MIME term none of whose parts matched. */
static enum tri mime_miss(const struct eval *ev)
{
	return ev->walk_failed ? U : F;
}

static bool body_has(struct eval *ev, size_t i, const struct needle *nd)
{
	const struct mc_part *p = &ev->parts[i];

	if (p->text_utf8 == NULL)
		return false;
	if (ev->norm == NULL) {
		ev->norm = mc_xcalloc(ev->nparts, sizeof(*ev->norm));
		ev->norm_len = mc_xcalloc(ev->nparts, sizeof(*ev->norm_len));
	}
	if (ev->norm[i] == NULL)
		ev->norm[i] = normalize(p->text_utf8, strlen(p->text_utf8),
					strcmp(p->content_type, "text/html") == 0,
					&ev->norm_len[i]);
	if (norm_contains(ev->norm[i], ev->norm_len[i], nd))
		return true;
	if (strcmp(p->content_type, "text/html") == 0) {
		/* Also the markup itself, for phrases in attributes. */
		return text_contains(p->text_utf8, nd);
	}
	return false;
}

static bool name_match(const struct node *t, const char *name)
{
	size_t len = strlen(name);
	bool hit;

	if (value_match(t, name))
		return true;
	/* Windows drops trailing dots and spaces from file names. */
	while (len > 0 && (name[len - 1] == '.' || name[len - 1] == ' '))
		len--;
	if (len == strlen(name) || len == 0)
		return false;
	char *trimmed = mc_xstrndup(name, len);
	hit = value_match(t, trimmed);
	free(trimmed);
	return hit;
}

static void hash_message(struct eval *ev)
{
	if (!ev->msg_hashed) {
		const void *d = ev->msg->data != NULL ? (const void *)ev->msg->data : "";
		mc_sha256(d, ev->msg->size, ev->msg_sha256);
		mc_md5(d, ev->msg->size, ev->msg_md5);
		ev->msg_hashed = true;
	}
}

static enum tri hash_hit(struct hit *h, enum mc_reason_kind kind,
			 const unsigned char *hash, size_t n)
{
	if (h != NULL) {
		mc_hex(hash, n, h->buf);
		return set_hit(h, kind, h->buf);
	}
	return T;
}

static enum tri eval_hash(struct eval *ev, const struct node *t, struct hit *h)
{
	bool sha = t->kind == T_SHA256;
	size_t n = sha ? 32 : 16;

	for (size_t i = 0; i < ev->nparts; i++) {
		const unsigned char *ph = sha ? ev->parts[i].sha256 :
			mc_facts_part_md5(ev->facts, i);
		if (memcmp(ph, t->hash, n) == 0)
			return hash_hit(h, sha ? MC_REASON_SHA256 : MC_REASON_MD5, t->hash, n);
	}
	hash_message(ev);
	if (memcmp(sha ? ev->msg_sha256 : ev->msg_md5, t->hash, n) == 0)
		return hash_hit(h, sha ? MC_REASON_SHA256 : MC_REASON_MD5, t->hash, n);
	return mime_miss(ev);
}

static enum tri eval_hashset(struct eval *ev, const struct node *t,
			     struct hit *h)
{
	hash_message(ev);
	for (size_t i = 0; i <= ev->nparts; i++) {
		const unsigned char *s = i < ev->nparts ? ev->parts[i].sha256 : ev->msg_sha256;
		const unsigned char *m = i < ev->nparts ? mc_facts_part_md5(ev->facts, i) :
			ev->msg_md5;
		if (t->nsha256 > 0 && bsearch(s, t->sha256s, t->nsha256, 32, cmp32))
			return hash_hit(h, MC_REASON_SHA256, s, 32);
		if (t->nmd5 > 0 && bsearch(m, t->md5s, t->nmd5, 16, cmp16))
			return hash_hit(h, MC_REASON_MD5, m, 16);
	}
	return mime_miss(ev);
}

static enum tri eval_term(struct eval *ev, const struct node *t, struct hit *h)
{
	int level = term_level(t->kind);

	if (level > ev->phase)
		return U;
	if (ev->literals_only && level == 2) {
		const struct mc_msg *m = ev->msg;

		if (t->literal == NULL || m->data == NULL)
			return U;
		if (mem_case_find(m->data, m->size, t->literal, strlen(t->literal)) != NULL)
			return U;
		if (ev->names_encoded < 0)
			ev->names_encoded = names_may_be_encoded(m->data, m->size);
		return ev->names_encoded ? U : F;
	}
	switch (t->kind) {
	case T_ALL:
		return set_hit(h, MC_REASON_ALL, NULL);
	case T_FROM:
		return eval_addresses(ev, t, "From", h);
	case T_TO:
		return eval_addresses(ev, t, "To", h);
	case T_CC:
		return eval_addresses(ev, t, "Cc", h);
	case T_SUBJECT:
		return eval_headers(ev, t, "Subject", h);
	case T_MSGID:
		return eval_headers(ev, t, "Message-ID", h);
	case T_HEADER:
		return eval_headers(ev, t, t->hname, h);
	case T_SIZE: {
		uint64_t s = ev->msg->size;
		bool ok;
		switch (t->op) {
		case SZ_GT: ok = s > t->size; break;
		case SZ_LT: ok = s < t->size; break;
		case SZ_GE: ok = s >= t->size; break;
		case SZ_LE: ok = s <= t->size; break;
		default: ok = s == t->size; break;
		}
		if (!ok)
			return F;
		if (h != NULL)
			snprintf(h->buf, sizeof(h->buf), "size=%" PRIu64, s);
		return set_hit(h, MC_REASON_SIZE, h != NULL ? h->buf : NULL);
	}
	case T_SINCE: case T_BEFORE: {
		time_t d;
		if (!mc_facts_date(ev->facts, &d))
			return F;	/* no usable date: neither */
		if (t->kind == T_SINCE ? d < t->date : d >= t->date)
			return F;
		if (h != NULL) {
			put_date(h->buf, sizeof(h->buf) - 1, d, true);
			strcat(h->buf, "Z");
		}
		return set_hit(h, MC_REASON_DATE, h != NULL ? h->buf : NULL);
	}
	case T_DATE_NONE: {
		time_t d;
		if (mc_facts_date(ev->facts, &d))
			return F;
		return set_hit(h, MC_REASON_DATE, "none");
	}
	case T_BODY:
		for (size_t i = 0; i < ev->nparts; i++) {
			if (body_has(ev, i, &t->nd))
				return set_hit(h, MC_REASON_BODY, t->value);
		}
		return mime_miss(ev);
	case T_ATTACHMENT:
		for (size_t i = 0; i < ev->nparts; i++) {
			const char *name = ev->parts[i].filename;
			if (name != NULL && name_match(t, name))
				return set_hit(h, MC_REASON_ATTACHMENT, name);
		}
		return mime_miss(ev);
	case T_SHA256: case T_MD5:
		return eval_hash(ev, t, h);
	case T_HASHSET:
		return eval_hashset(ev, t, h);
	case T_VIRUS:
		if (!ev->engine_ran)
			return U;
		switch (ev->verdict.kind) {
		case MC_VERDICT_INFECTED:
			if (t->value != NULL && !value_match(t, ev->verdict.name))
				return F;
			return set_hit(h, MC_REASON_VIRUS, ev->verdict.name);
		case MC_VERDICT_CLEAN:
			return F;
		default:
			return U;
		}
	}
	return U;
}

static enum tri eval_node(struct eval *ev, const struct node *n)
{
	enum tri r, v;

	switch (n->type) {
	case N_AND:
		r = T;
		for (size_t i = 0; i < n->nkids; i++) {
			v = eval_node(ev, n->kids[i]);
			if (v == F)
				return F;
			if (v == U)
				r = U;
		}
		return r;
	case N_OR:
		r = F;
		for (size_t i = 0; i < n->nkids; i++) {
			v = eval_node(ev, n->kids[i]);
			if (v == T)
				return T;
			if (v == U)
				r = U;
		}
		return r;
	case N_NOT:
		v = eval_node(ev, n->kids[0]);
		return v == U ? U : (v == T ? F : T);
	case N_TERM:
		return eval_term(ev, n, NULL);
	}
	return U;
}

static void add_reason(struct mc_match *m, enum mc_reason_kind kind,
		       const char *value)
{
	for (size_t i = 0; i < m->reason_count; i++) {
		const struct mc_reason *r = &m->reasons[i];
		if (r->kind == kind && (r->value == value ||
		    (r->value != NULL && value != NULL && strcmp(r->value, value) == 0)))
			return;
	}
	m->reasons = mc_xrealloc(m->reasons, (m->reason_count + 1) * sizeof(*m->reasons));
	m->reasons[m->reason_count].kind = kind;
	m->reasons[m->reason_count].value = value != NULL ? mc_xstrdup(value) : NULL;
	m->reason_count++;
}

/* Collect the reasons of true node N (see DESCRIPTION). */
static void collect(struct eval *ev, const struct node *n, struct mc_match *m)
{
	switch (n->type) {
	case N_AND:
	case N_OR:
		for (size_t i = 0; i < n->nkids; i++) {
			if (n->type == N_AND || eval_node(ev, n->kids[i]) == T)
				collect(ev, n->kids[i], m);
		}
		return;
	case N_NOT:
		return;
	case N_TERM: {
		struct hit h;
		memset(&h, 0, sizeof(h));
		if (eval_term(ev, n, &h) == T)
			add_reason(m, h.kind, h.value);
		return;
	}
	}
}

void mc_query_eval(const struct mc_query *query, const struct mc_msg *msg,
		   struct mc_facts *facts, const struct mc_engine_ops *ops,
		   struct mc_engine *engine, struct mc_match *match_r)
{
	struct eval ev;
	struct mc_facts *own_facts = NULL;
	enum tri r;

	/* Callers normally share their facts (the pipeline reads From
	   and Subject from them afterwards); without, use our own. */
	if (facts == NULL)
		facts = own_facts = mc_facts_init(msg, NULL);
	memset(match_r, 0, sizeof(*match_r));
	match_r->problem = MC_VERDICT_CLEAN;
	match_r->verdict.kind = MC_VERDICT_CLEAN;
	memset(&ev, 0, sizeof(ev));
	ev.msg = msg;
	ev.facts = facts;

	ev.phase = 1;
	ev.names_encoded = -1;
	r = eval_node(&ev, query->root);
	if (r == U && query->needs_mime) {
		ev.phase = 2;
		if (query->has_literal) {
			/* Maybe decided without the walk (see above); if so,
			   the reasons are collected the same way. */
			ev.literals_only = true;
			r = eval_node(&ev, query->root);
		}
		if (r == U) {
			ev.literals_only = false;
			if (mc_facts_parts(facts, &ev.parts, &ev.nparts, &ev.walk_why) < 0)
				ev.walk_failed = true;
			r = eval_node(&ev, query->root);
		}
	}
	if (r == U && query->needs_engine) {
		ev.phase = 3;
		if (ops != NULL && engine != NULL &&
		    (ops->scan_message != NULL || ops->scan_buffer != NULL)) {
			if (ops->scan_message != NULL)
				ops->scan_message(engine, msg, facts, &ev.verdict);
			else
				ops->scan_buffer(engine, msg->data != NULL ?
						 (const void *)msg->data : "",
						 msg->size, &ev.verdict);
			ev.verdict.name[sizeof(ev.verdict.name) - 1] = '\0';
			ev.engine_ran = true;
			match_r->engine_ran = true;
			match_r->verdict = ev.verdict;
		} else {
			ev.no_engine = true;
		}
		r = eval_node(&ev, query->root);
	}

	if (r == T) {
		match_r->matched = true;
		collect(&ev, query->root, match_r);
	} else if (r == U) {
		if (ev.engine_ran && (ev.verdict.kind == MC_VERDICT_UNSCANNED ||
				      ev.verdict.kind == MC_VERDICT_ERROR)) {
			match_r->problem = ev.verdict.kind;
			snprintf(match_r->why, sizeof(match_r->why), "%s",
				 ev.verdict.name[0] != '\0' ? ev.verdict.name :
				 "the detection engine gave no verdict");
		} else if (ev.no_engine) {
			match_r->problem = MC_VERDICT_ERROR;
			snprintf(match_r->why, sizeof(match_r->why),
				 "no detection engine loaded");
		} else {
			match_r->problem = MC_VERDICT_UNSCANNED;
			snprintf(match_r->why, sizeof(match_r->why), "%s",
				 ev.walk_why != NULL ? ev.walk_why : "MIME structure not walked");
		}
	}
	if (ev.norm != NULL) {
		for (size_t i = 0; i < ev.nparts; i++)
			free(ev.norm[i]);
		free(ev.norm);
		free(ev.norm_len);
	}
	mc_facts_free(&own_facts);
}

void mc_match_clear(struct mc_match *match)
{
	for (size_t i = 0; i < match->reason_count; i++)
		free(match->reasons[i].value);
	free(match->reasons);
	memset(match, 0, sizeof(*match));
}
