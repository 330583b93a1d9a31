/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	address 3
/* SUMMARY
/*	the mailboxes of an address header: parsed, named and as written
/* SYNOPSIS
/*	#include "internal.h"
/*
/*	void	mc_address_parse(value, &list, &count, &cap)
/* DESCRIPTION
/*	mc_address_parse() splits an unfolded address-list header value
/*	(From, To, Cc, ...) into its mailboxes, at commas outside quoted
/*	strings, comments and angle brackets; a group ("team: a, b;") is
/*	flattened into its members. For each mailbox it appends one
/*	struct mc_address per address GMime parses from the mailbox's
/*	text (or, when GMime finds none, every "local@domain" run in it,
/*	or an empty address), holding:
/*
/*	    addr     the address as GMime parses it ("" when none);
/*	    name     the display name with quotes undone and encoded
/*	             words decoded, or the comment of the old form
/*	             "bob@example.org (Bob Smith)"; white space runs are
/*	             one space; NULL when there is none;
/*	    raw      the address as written: the text inside the angle
/*	             brackets, else the mailbox less its comments; NULL
/*	             when it is the same as addr;
/*	    display  "name <addr>" (raw when addr is empty), NULL
/*	             without a name.
/*
/*	The raw text keeps what a parser drops from a broken address:
/*	"a@b@c.example" parses as "a@b", "<Undisclosed Recipients@x>"
/*	as nothing or its last word. Every string is malloc()ed on its
/*	own and belongs to the caller, as does the array.
/* DIAGNOSTICS
/*	None: any value gives its mailboxes, maybe none.
/* SECURITY
/*	Header values are hostile input: the split is one linear pass,
/*	an unclosed quote, comment or angle bracket runs to the end of
/*	the value, and comments nest without recursion. All strings are
/*	valid UTF-8 without NUL.
/*--*/

#include <stdlib.h>
#include <string.h>
#include <gmime/gmime.h>

#include "mailcure/mailcure.h"
#include "internal.h"

struct addr_vec {
	struct mc_address **list;
	size_t *count, *cap;
};

/* Index after the quoted string that starts at S[I]. */
static size_t skip_quoted(const char *s, size_t len, size_t i)
{
	for (i++; i < len && s[i] != '"'; i++) {
		if (s[i] == '\\' && i + 1 < len)
			i++;
	}
	return i < len ? i + 1 : len;
}

/* Index after the comment, maybe nested, that starts at S[I]. */
static size_t skip_comment(const char *s, size_t len, size_t i)
{
	unsigned level = 0;

	for (; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len)
			i++;
		else if (s[i] == '(')
			level++;
		else if (s[i] == ')' && --level == 0)
			return i + 1;
	}
	return len;
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Text with runs of white space made one space, trimmed, decoded
   when DECODE; NULL when empty. Takes T. */
static char *tidy(char *t, bool decode)
{
	size_t o = 0;

	if (decode) {
		char *d = mc_rfc2047_decode(t, strlen(t));
		free(t);
		t = d;
	}
	for (size_t i = 0; t[i] != '\0'; i++) {
		if (is_wsp(t[i])) {
			if (o > 0 && t[o - 1] != ' ')
				t[o++] = ' ';
		} else {
			t[o++] = t[i];
		}
	}
	while (o > 0 && t[o - 1] == ' ')
		o--;
	t[o] = '\0';
	if (o == 0) {
		free(t);
		return NULL;
	}
	return mc_utf8_make_valid(t);
}

/* The display name of phrase S[0, LEN): quoted strings undone,
   comments kept as written. */
static char *phrase_text(const char *s, size_t len)
{
	char *out = mc_xmalloc(len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"') {
			size_t end = skip_quoted(s, len, i);
			for (size_t k = i + 1; k < end; k++) {
				if (s[k] == '"' && k == end - 1)
					break;
				if (s[k] == '\\' && k + 1 < end)
					k++;
				out[o++] = s[k];
			}
			i = end - 1;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return tidy(out, true);
}

/* S[0, LEN) less its comments (COMMENTS_R: their text, less the
   outer parentheses), as written. */
static char *strip_comments(const char *s, size_t len, char **comments_r)
{
	char *out = mc_xmalloc(len + 1), *com = mc_xmalloc(len + 2);
	size_t o = 0, c = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"') {
			size_t end = skip_quoted(s, len, i);
			memcpy(out + o, s + i, end - i);
			o += end - i;
			i = end - 1;
		} else if (s[i] == '(') {
			size_t end = skip_comment(s, len, i);
			size_t inner = end - i - (s[end - 1] == ')' ? 2 : 1);
			memcpy(com + c, s + i + 1, inner);
			c += inner;
			com[c++] = ' ';
			i = end - 1;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	com[c] = '\0';
	*comments_r = tidy(com, true);
	return tidy(out, false);
}

static void push(struct addr_vec *v, const char *addr, size_t addr_len,
		 const char *name, const char *raw)
{
	struct mc_address a;
	char *ad = mc_utf8_make_valid(mc_xstrndup(addr, addr_len));

	a.addr = ad;
	a.name = name != NULL ? mc_xstrdup(name) : NULL;
	a.raw = raw != NULL && strcmp(raw, ad) != 0 ? mc_xstrdup(raw) : NULL;
	a.display = name != NULL ?
		mc_xasprintf("%s <%s>", name, *ad != '\0' || raw == NULL ? ad : raw) : NULL;
	MC_ARRAY_PUSH(*v->list, *v->count, *v->cap, a);
}

static void collect_addrs(struct addr_vec *v, InternetAddressList *list,
			  unsigned depth, const char *name, const char *raw)
{
	int n = list != NULL ? internet_address_list_length(list) : 0;

	for (int i = 0; i < n; i++) {
		InternetAddress *ia = internet_address_list_get_address(list, i);

		if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
			const char *a = internet_address_mailbox_get_addr(
				INTERNET_ADDRESS_MAILBOX(ia));
			if (a != NULL && *a != '\0')
				push(v, a, strlen(a), name, raw);
		} else if (INTERNET_ADDRESS_IS_GROUP(ia) && depth < 4) {
			collect_addrs(v, internet_address_group_get_members(
					      INTERNET_ADDRESS_GROUP(ia)), depth + 1, name, raw);
		}
	}
}

static bool addr_char(unsigned char c)
{
	return c > 32 && c != '<' && c != '>' && c != ',' && c != ';' &&
		c != '"' && c != '(' && c != ')' && c != ':' && c != '[' &&
		c != ']' && c != '\\' && c != 127;
}

/* Last resort for a mailbox GMime found no address in: every
   "local@domain" run of characters, so that a mangled header still
   matches from:GLOB. */
static void scan_addrs(struct addr_vec *v, const char *s, const char *name,
		       const char *raw)
{
	const char *at = s;

	while ((at = strchr(at, '@')) != NULL) {
		const char *b = at, *e = at + 1;
		while (b > s && addr_char((unsigned char)b[-1]))
			b--;
		while (addr_char((unsigned char)*e) && *e != '@')
			e++;
		if (b < at && e > at + 1)
			push(v, b, (size_t)(e - b), name, raw);
		at = e;
	}
}

/* One mailbox, S[0, LEN). */
static void mailbox(struct addr_vec *v, const char *s, size_t len)
{
	size_t angle = len, before = *v->count;
	char *name = NULL, *raw, *comments, *text;

	while (len > 0 && is_wsp(s[len - 1]))
		len--;
	while (len > 0 && is_wsp(*s)) {
		s++;
		len--;
	}
	if (len == 0)
		return;
	/* The last angle bracket outside quotes and comments. */
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			i = skip_quoted(s, len, i) - 1;
		else if (s[i] == '(')
			i = skip_comment(s, len, i) - 1;
		else if (s[i] == '<')
			angle = i;
	}
	if (angle < len) {
		const char *gt = memchr(s + angle, '>', len - angle);
		size_t close = gt != NULL ? (size_t)(gt - s) : len;
		name = phrase_text(s, angle);
		raw = tidy(mc_xstrndup(s + angle + 1, close - angle - 1), false);
		comments = NULL;
		if (close < len)
			free(strip_comments(s + close + 1, len - close - 1, &comments));
	} else {
		raw = strip_comments(s, len, &comments);
	}
	if (name == NULL) {
		name = comments;
		comments = NULL;
	}
	free(comments);
	text = mc_xstrndup(s, len);
	InternetAddressList *list = internet_address_list_parse(NULL, text);
	collect_addrs(v, list, 0, name, raw);
	if (list != NULL)
		g_object_unref(list);
	if (*v->count == before)
		scan_addrs(v, text, name, raw);
	if (*v->count == before && (name != NULL || raw != NULL))
		push(v, "", 0, name, raw);
	free(text);
	free(name);
	free(raw);
}

void mc_address_parse(const char *value, struct mc_address **list,
		      size_t *count, size_t *cap)
{
	struct addr_vec v = { list, count, cap };
	size_t len = strlen(value), start = 0;
	bool in_angle = false, any_at = false;

	mc_gmime_init();
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? value[i] : '\0';

		if (c == '\0') {
			mailbox(&v, value + start, i - start);
		} else if (c == '"') {
			i = skip_quoted(value, len, i) - 1;
		} else if (c == '(') {
			i = skip_comment(value, len, i) - 1;
		} else if (c == '<') {
			in_angle = true;
		} else if (c == '>') {
			in_angle = false;
		} else if (c == '@') {
			any_at = true;
		} else if (!in_angle && (c == ',' || c == ';')) {
			mailbox(&v, value + start, i - start);
			start = i + 1;
			any_at = false;
		} else if (!in_angle && c == ':' && !any_at) {
			/* "group:" starts a group; its name is no mailbox. */
			start = i + 1;
		}
	}
}
