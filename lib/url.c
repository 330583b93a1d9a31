/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	url 3
/* SUMMARY
/*	URLs in mail text: extraction, normalisation, domains, indicators
/* SYNOPSIS
/*	#include "internal.h"
/*
/*	void	mc_url_list_init(list, max_urls)
/*	void	mc_url_list_deinit(list)
/*	void	mc_url_extract(list, text, len, html)
/*	void	mc_url_collect(list, parts, count)
/*	char	*mc_url_normalize(s, len)
/*	bool	mc_url_host(url, &host, &host_len)
/*	char	*mc_url_unicode(url)
/*	char	*mc_domain_normalize(name)
/*	bool	mc_domain_match(host, host_len, domain)
/*	const char *mc_urls_match(urls, count, pattern, glob)
/*	const char *mc_urls_match_domain(urls, count, domain)
/*	char	*mc_ioc_refang(s)
/* DESCRIPTION
/*	mc_url_extract() finds the URLs of a decoded text (the caller
/*	has undone the transfer encoding and the charset) and adds each
/*	new one, normalised, to LIST:
/* .IP \(bu
/*	bare URLs: "http://", "https://" and "ftp://" followed by a run
/*	of characters that are not white space or <>"'`{}|^, and
/*	"www." at the start of a word (as mail readers link it); closing
/*	punctuation at the end of a run (.,;:!?, an unbalanced ")" or
/*	"]") is not part of it;
/* .IP \(bu
/*	with HTML, the values of href, src, action, formaction,
/*	background, cite, data, poster, longdesc and xlink:href
/*	attributes, entities decoded and tabs and line breaks inside
/*	removed (as browsers do), also protocol-relative ("//host/"),
/*	and bare URLs in the text with its entities decoded;
/* .IP \(bu
/*	URLs carried in the query string of another (tracking
/*	redirects, safe-link wrappers: "?url=https%3A%2F%2F..."),
/*	percent-decoded, two levels deep.
/* .PP
/*	mc_url_collect() extracts the URLs of the leaf parts of a
/*	message (mc_facts_parts): text/ parts (plain text, HTML, text
/*	attachments) in their decoded text, and parts of another type
/*	whose file name says HTML, SVG, text or an Internet shortcut
/*	(.htm .html .xhtml .shtml .hta .svg .txt .url), as they are.
/*	Attached messages are covered by their own parts. Other
/*	content (PDF, Office documents, archives) is not looked into.
/*
/*	mc_url_normalize() gives the form URLs are compared in: scheme
/*	and host in lower case, the host percent-decoded, its trailing
/*	dot dropped and an internationalised name in its ASCII
/*	(punycode) form (libidn2, UTS #46 mapping), the default port
/*	(80, 443, 21) dropped, "\\" read as "/" before the query (as
/*	browsers do), an empty path made "/", percent-escapes of
/*	unreserved characters decoded and the others in upper case,
/*	and control, space and 8-bit bytes percent-encoded. A URL is
/*	kept to its first MC_URL_MAX bytes. NULL when S is not a URL
/*	with a host.
/*
/*	mc_url_host() finds the host of a normalised URL.
/*	mc_url_unicode() gives the URL with its host in Unicode form
/*	when the host has punycode labels, else NULL.
/*
/*	mc_domain_normalize() reads a domain as given in a query or an
/*	indicator feed: refanged, lower case, leading "*." or "." and
/*	trailing dot dropped, in ASCII (punycode) form. NULL when it is
/*	not a domain. mc_domain_match() tells whether HOST is DOMAIN or a
/*	subdomain of it: "example.com" matches "a.example.com", never
/*	"badexample.com".
/*
/*	mc_urls_match() finds the first of URLS that PATTERN matches:
/*	with GLOB a case-insensitive shell glob over the whole URL, else
/*	a case-insensitive substring; a URL with a punycode host is also
/*	tried in its Unicode form. mc_urls_match_domain() finds the first
/*	whose host is DOMAIN or a subdomain of it. Both return that URL
/*	(normalised), or NULL.
/*
/*	mc_ioc_refang() undoes the usual defanging of indicators:
/*	hxxp and hXXps, "[.]" "(.)" "{.}" "[dot]" "(dot)", "[:]",
/*	"[://]", "[@]" and "[at]".
/* DIAGNOSTICS
/*	LIST->full is set when LIST->max_urls URLs were seen (each
/*	occurrence counts, so that the work is bounded): what follows is
/*	not looked at, and a caller that finds no URL it looks for
/*	cannot tell that the message holds none.
/* SECURITY
/*	Text is hostile. The scan is linear in the text: each position
/*	is looked at a bounded number of times (a run of URL characters
/*	is measured once, however many "://" it holds; an unclosed
/*	quote is remembered), normalisation reads at most 4 x MC_URL_MAX
/*	bytes of a run, and at most max_urls URLs are normalised per
/*	list, so a text of millions of URLs or a 100 MB line costs
/*	linear time and at most max_urls x MC_URL_MAX bytes.
/*--*/

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <idn2.h>

#include "mailcure/mailcure.h"
#include "internal.h"

/* Bytes of a run read for one URL: a longer run is cut there. */
#define URL_READ_MAX (4 * MC_URL_MAX)
/* Levels of URLs inside URLs (redirects) that are followed. */
#define URL_NEST_MAX 2

void mc_url_list_init(struct mc_url_list *list, unsigned max_urls)
{
	memset(list, 0, sizeof(*list));
	list->max_urls = max_urls;
	list->seen = g_hash_table_new(g_str_hash, g_str_equal);
}

void mc_url_list_deinit(struct mc_url_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->urls[i]);
	free(list->urls);
	if (list->seen != NULL)
		g_hash_table_destroy(list->seen);
	memset(list, 0, sizeof(*list));
}

/* ------------------------------------------------------------------ */
/* Normalisation                                                      */
/* ------------------------------------------------------------------ */

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)g_ascii_tolower((gchar)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool is_unreserved(unsigned char c)
{
	return g_ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static void put_escape(struct mc_buf *b, unsigned char c)
{
	char e[4];

	snprintf(e, sizeof(e), "%%%02X", c);
	mc_buf_add(b, e, 3);
}

/* Path, query and fragment: escapes made canonical. */
static void put_tail(struct mc_buf *b, const char *s, size_t len)
{
	bool query = false;

	for (size_t i = 0; i < len && b->len < MC_URL_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%' && i + 2 < len && hexval((unsigned char)s[i + 1]) >= 0 &&
		    hexval((unsigned char)s[i + 2]) >= 0) {
			unsigned char d = (unsigned char)(hexval((unsigned char)s[i + 1]) << 4 |
							  hexval((unsigned char)s[i + 2]));
			if (is_unreserved(d))
				mc_buf_add(b, &d, 1);
			else
				put_escape(b, d);
			i += 2;
			continue;
		}
		if (c == '?' || c == '#')
			query = true;
		if (c == '\\' && !query)
			c = '/';
		if (c <= ' ' || c >= 0x7f)
			put_escape(b, c);
		else
			mc_buf_add(b, &c, 1);
	}
}

/* HOST (LEN bytes) percent-decoded, lower case, in ASCII form when
   it can be; NULL when empty. */
static char *host_normalize(const char *host, size_t len)
{
	struct mc_buf b = { NULL, 0, 0 };
	bool ascii = true;
	bool ipv6 = len >= 2 && host[0] == '[' && host[len - 1] == ']';
	char *out = NULL;

	mc_buf_add(&b, "", 0);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)host[i];

		if (c == '%' && i + 2 < len && hexval((unsigned char)host[i + 1]) >= 0 &&
		    hexval((unsigned char)host[i + 2]) >= 0) {
			unsigned char d = (unsigned char)(hexval((unsigned char)host[i + 1]) << 4 |
							  hexval((unsigned char)host[i + 2]));
			i += 2;
			/* A delimiter stays escaped: the form must read
			   back as the same host. */
			if (d <= ' ' || d == 0x7f || strchr(":/\\?#@[]%", d) != NULL) {
				put_escape(&b, d);
				continue;
			}
			c = d;
		}
		if (c <= ' ' || c == 0x7f ||
		    (!ipv6 && (c == '[' || c == ']' || c == ':'))) {
			put_escape(&b, c);
			continue;
		}
		if (c >= 0x80)
			ascii = false;
		c = (unsigned char)g_ascii_tolower((gchar)c);
		mc_buf_add(&b, &c, 1);
	}
	while (b.len > 0 && b.s[b.len - 1] == '.')
		b.s[--b.len] = '\0';
	if (b.len == 0) {
		free(b.s);
		return NULL;
	}
	/* A host with escaped delimiters is no domain name. */
	if (ascii || strchr(b.s, '%') != NULL)
		return mc_utf8_make_valid(b.s);
	b.s = mc_utf8_make_valid(b.s);
	/* UTS #46 maps the ideographic full stop and the like to '.',
	   and upper case to lower. */
	if (idn2_to_ascii_8z(b.s, &out, IDN2_NONTRANSITIONAL) != IDN2_OK &&
	    idn2_to_ascii_8z(b.s, &out, IDN2_TRANSITIONAL) != IDN2_OK)
		out = NULL;
	if (out == NULL)
		return b.s;	/* not a valid IDN: compared as it is */
	free(b.s);
	char *copy = mc_xstrdup(out);
	idn2_free(out);
	return copy;
}

static const char *default_port(const char *scheme)
{
	if (strcmp(scheme, "http") == 0)
		return "80";
	if (strcmp(scheme, "https") == 0)
		return "443";
	if (strcmp(scheme, "ftp") == 0)
		return "21";
	return NULL;
}

/* Copy of S (LEN bytes) without tabs, line breaks and NUL bytes, and
   without surrounding white space, at most URL_READ_MAX bytes. */
static char *url_clean(const char *s, size_t len)
{
	char *out = mc_xmalloc((len < URL_READ_MAX ? len : URL_READ_MAX) + 1);
	size_t o = 0;

	while (len > 0 && (unsigned char)*s <= ' ') {
		s++;
		len--;
	}
	for (size_t i = 0; i < len && o < URL_READ_MAX; i++) {
		if (s[i] != '\t' && s[i] != '\r' && s[i] != '\n' && s[i] != '\0')
			out[o++] = s[i];
	}
	while (o > 0 && (unsigned char)out[o - 1] <= ' ')
		o--;
	out[o] = '\0';
	return out;
}

char *mc_url_normalize(const char *s, size_t len)
{
	char *u = url_clean(s, len), *p, *host = NULL;
	char scheme[16];
	size_t sl = 0;
	struct mc_buf b = { NULL, 0, 0 };

	while (g_ascii_isalnum(u[sl]) || u[sl] == '+' || u[sl] == '-' || u[sl] == '.') {
		if (sl + 1 >= sizeof(scheme))
			goto fail;
		scheme[sl] = g_ascii_tolower(u[sl]);
		sl++;
	}
	scheme[sl] = '\0';
	if (sl == 0 || !g_ascii_isalpha(u[0]) || u[sl] != ':' ||
	    (u[sl + 1] != '/' && u[sl + 1] != '\\') ||
	    (u[sl + 2] != '/' && u[sl + 2] != '\\'))
		goto fail;
	p = u + sl + 3;
	while (*p == '/' || *p == '\\')
		p++;	/* "http:///host" is read so too */
	size_t alen = strcspn(p, "/\\?#");
	const char *at = NULL;
	for (size_t i = 0; i < alen; i++) {
		if (p[i] == '@')
			at = p + i;
	}
	const char *hp = at != NULL ? at + 1 : p;
	size_t hlen = alen - (size_t)(hp - p);
	const char *port = NULL;
	size_t plen = 0;
	/* The port: digits after the last ':' outside an IPv6 literal. */
	const char *colon = memrchr(hp, ':', hlen);
	const char *bracket = memrchr(hp, ']', hlen);
	size_t digits = 0;
	while (colon != NULL && colon + 1 + digits < hp + hlen &&
	       g_ascii_isdigit(colon[1 + digits]))
		digits++;
	if (colon != NULL && (bracket == NULL || colon > bracket) &&
	    colon + 1 + digits == hp + hlen) {
		port = colon + 1;
		plen = hlen - (size_t)(port - hp);
		hlen = (size_t)(colon - hp);
	}
	host = host_normalize(hp, hlen);
	if (host == NULL)
		goto fail;
	mc_buf_add(&b, scheme, sl);
	mc_buf_add(&b, "://", 3);
	if (at != NULL) {
		put_tail(&b, p, (size_t)(at - p));
		mc_buf_add(&b, "@", 1);
	}
	mc_buf_add(&b, host, strlen(host));
	while (plen > 1 && *port == '0' && g_ascii_isdigit(port[1])) {
		port++;
		plen--;
	}
	const char *dp = default_port(scheme);
	if (plen > 0 && !(dp != NULL && strlen(dp) == plen && memcmp(dp, port, plen) == 0)) {
		mc_buf_add(&b, ":", 1);
		put_tail(&b, port, plen);
	}
	const char *tail = p + alen;
	if (*tail != '/' && *tail != '\\')
		mc_buf_add(&b, "/", 1);
	put_tail(&b, tail, strlen(tail));
	if (b.len > MC_URL_MAX) {
		b.len = MC_URL_MAX;
		b.s[b.len] = '\0';
	}
	free(host);
	free(u);
	return mc_utf8_make_valid(b.s);
fail:
	free(host);
	free(u);
	return NULL;
}

bool mc_url_host(const char *url, const char **host_r, size_t *len_r)
{
	const char *p = strstr(url, "://");
	size_t alen;

	if (p == NULL)
		return false;
	p += 3;
	alen = strcspn(p, "/?#");
	const char *at = memrchr(p, '@', alen);
	if (at != NULL) {
		alen -= (size_t)(at + 1 - p);
		p = at + 1;
	}
	const char *colon = memrchr(p, ':', alen);
	if (colon != NULL && memchr(colon, ']', alen - (size_t)(colon - p)) == NULL)
		alen = (size_t)(colon - p);
	*host_r = p;
	*len_r = alen;
	return alen > 0;
}

char *mc_url_unicode(const char *url)
{
	const char *host;
	size_t hlen;
	char *ascii, *uni = NULL, *out;

	if (!mc_url_host(url, &host, &hlen) ||
	    g_strstr_len(host, (gssize)hlen, "xn--") == NULL)
		return NULL;
	ascii = mc_xstrndup(host, hlen);
	if (idn2_to_unicode_8z8z(ascii, &uni, 0) != IDN2_OK || uni == NULL) {
		free(ascii);
		return NULL;
	}
	out = mc_xasprintf("%.*s%s%s", (int)(host - url), url, uni, host + hlen);
	idn2_free(uni);
	free(ascii);
	return out;
}

/* ------------------------------------------------------------------ */
/* Domains and indicators                                             */
/* ------------------------------------------------------------------ */

char *mc_ioc_refang(const char *s)
{
	static const struct { const char *from, *to; } subs[] = {
		{ "[://]", "://" }, { "[:]", ":" }, { "[.]", "." }, { "(.)", "." },
		{ "{.}", "." }, { "[dot]", "." }, { "(dot)", "." }, { "[@]", "@" },
		{ "[at]", "@" }, { "hxxps", "https" }, { "hxxp", "http" },
		{ "fxp", "ftp" },
	};
	struct mc_buf b = { NULL, 0, 0 };

	mc_buf_add(&b, "", 0);
	for (size_t i = 0; s[i] != '\0';) {
		bool done = false;
		for (size_t k = 0; k < sizeof(subs) / sizeof(subs[0]) && !done; k++) {
			size_t n = strlen(subs[k].from);
			/* A scheme only at the start: "fxp" may be a word. */
			if ((subs[k].from[0] == 'h' || subs[k].from[0] == 'f') && i > 0)
				continue;
			if (g_ascii_strncasecmp(s + i, subs[k].from, n) == 0) {
				mc_buf_add(&b, subs[k].to, strlen(subs[k].to));
				i += n;
				done = true;
			}
		}
		if (!done)
			mc_buf_add(&b, s + i++, 1);
	}
	return b.s;
}

char *mc_domain_normalize(const char *name)
{
	char *r = mc_ioc_refang(name), *p = r, *out;

	while (*p == ' ' || *p == '\t')
		p++;
	if (p[0] == '*' && p[1] == '.')
		p += 2;
	while (*p == '.')
		p++;
	size_t len = strlen(p);
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	out = len > 0 && strcspn(p, "/:@ \t?#") >= len ? host_normalize(p, len) : NULL;
	free(r);
	return out;
}

bool mc_domain_match(const char *host, size_t hlen, const char *domain)
{
	size_t dl = strlen(domain);

	if (hlen < dl || g_ascii_strncasecmp(host + hlen - dl, domain, dl) != 0)
		return false;
	return hlen == dl || host[hlen - dl - 1] == '.';
}

static bool url_match(const char *url, const char *pattern, bool glob)
{
	return glob ? mc_glob_match(pattern, url) :
		mc_memcasestr(url, strlen(url), pattern);
}

const char *mc_urls_match(const char *const *urls, size_t count,
			  const char *pattern, bool glob)
{
	for (size_t i = 0; i < count; i++) {
		if (url_match(urls[i], pattern, glob))
			return urls[i];
		char *uni = mc_url_unicode(urls[i]);
		bool hit = uni != NULL && url_match(uni, pattern, glob);
		free(uni);
		if (hit)
			return urls[i];
	}
	return NULL;
}

const char *mc_urls_match_domain(const char *const *urls, size_t count,
				 const char *domain)
{
	for (size_t i = 0; i < count; i++) {
		const char *host;
		size_t hlen;
		if (mc_url_host(urls[i], &host, &hlen) &&
		    mc_domain_match(host, hlen, domain))
			return urls[i];
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Extraction                                                         */
/* ------------------------------------------------------------------ */

static void bare(struct mc_url_list *l, const char *s, size_t len, int nest);

static bool list_take(struct mc_url_list *l)
{
	if (l->seen_count >= l->max_urls) {
		l->full = true;
		return false;
	}
	l->seen_count++;
	return true;
}

/* The query string of URL may carry another URL: look in its values,
   percent-decoded. */
static void nested(struct mc_url_list *l, const char *url, int nest)
{
	const char *q = strchr(url, '?');
	struct mc_buf b = { NULL, 0, 0 };

	if (q == NULL || nest >= URL_NEST_MAX)
		return;
	mc_buf_add(&b, "", 0);
	for (const char *p = q + 1; *p != '\0' && *p != '#'; p++) {
		int hi, lo;
		if (*p == '%' && (hi = hexval((unsigned char)p[1])) >= 0 &&
		    (lo = hexval((unsigned char)p[2])) >= 0) {
			char c = (char)(hi << 4 | lo);
			mc_buf_add(&b, c == '\0' ? " " : &c, 1);
			p += 2;
		} else if (*p == '&' || *p == ';' || *p == '+') {
			mc_buf_add(&b, " ", 1);
		} else {
			mc_buf_add(&b, p, 1);
		}
	}
	if (g_strstr_len(b.s, (gssize)b.len, "://") != NULL)
		bare(l, b.s, b.len, nest + 1);
	free(b.s);
}

static void add_url(struct mc_url_list *l, const char *s, size_t len, int nest)
{
	char *u;

	if (!list_take(l))
		return;
	u = mc_url_normalize(s, len);
	if (u == NULL)
		return;
	if (g_hash_table_contains(l->seen, u)) {
		free(u);
		return;
	}
	MC_ARRAY_PUSH(l->urls, l->count, l->cap, u);
	g_hash_table_add(l->seen, u);
	nested(l, u, nest);
}

static bool url_char(unsigned char c)
{
	return c > ' ' && c != 0x7f && strchr("<>\"'`{}|^", c) == NULL;
}

static bool scheme_char(unsigned char c)
{
	return g_ascii_isalnum(c) || c == '+' || c == '-' || c == '.';
}

/* The end of the URL that runs from START to RUN_END: closing
   punctuation is not part of it. */
static size_t trim_end(const char *s, size_t start, size_t end)
{
	while (end > start) {
		unsigned char c = (unsigned char)s[end - 1];
		if (strchr(".,;:!?*", c) != NULL) {
			end--;
			continue;
		}
		if (c == ')' || c == ']') {
			char open = c == ')' ? '(' : '[';
			size_t opens = 0, closes = 0;
			for (size_t i = start; i < end && i - start < URL_READ_MAX; i++) {
				opens += s[i] == open;
				closes += (unsigned char)s[i] == c;
			}
			if (closes > opens) {
				end--;
				continue;
			}
		}
		break;
	}
	return end;
}

/* Bare URLs: "scheme://" and "www.". */
static void bare(struct mc_url_list *l, const char *s, size_t len, int nest)
{
	size_t run_end = 0;	/* end of the run of URL characters at i */

	for (size_t i = 0; i + 3 < len && !l->full; i++) {
		size_t start;
		bool www = false;

		if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
			size_t k = i;
			while (k > 0 && i - k < 8 && scheme_char((unsigned char)s[k - 1]))
				k--;
			/* The scheme is the end of the run of letters:
			   "xhttp://", "=https://". */
			start = SIZE_MAX;
			static const char *const schemes[] = { "https", "http", "ftp" };
			for (size_t n = 0; n < 3 && start == SIZE_MAX; n++) {
				size_t sl = strlen(schemes[n]);
				if (i - k >= sl && g_ascii_strncasecmp(s + i - sl, schemes[n], sl) == 0)
					start = i - sl;
			}
			if (start == SIZE_MAX)
				continue;
		} else if ((s[i] == 'w' || s[i] == 'W') && len - i > 4 &&
			   g_ascii_strncasecmp(s + i, "www.", 4) == 0 &&
			   (i == 0 || !(scheme_char((unsigned char)s[i - 1]) ||
					s[i - 1] == '/' || s[i - 1] == '@' ||
					s[i - 1] == '%'))) {
			start = i;
			www = true;
		} else {
			continue;
		}
		if (run_end <= i) {
			run_end = i;
			while (run_end < len && url_char((unsigned char)s[run_end]))
				run_end++;
		}
		size_t end = trim_end(s, start, run_end);
		if (end <= start + (www ? 4 : 0))
			continue;
		size_t n = end - start < URL_READ_MAX ? end - start : URL_READ_MAX;
		if (www) {
			char *u = mc_xasprintf("http://%.*s", (int)n, s + start);
			add_url(l, u, strlen(u), nest);
			free(u);
			i = start + 3;
		} else {
			add_url(l, s + start, n, nest);
			i += 2;
		}
	}
}

static char *entities_decode(const char *s, size_t len, size_t *len_r)
{
	struct mc_buf b = { NULL, 0, 0 };

	mc_buf_add(&b, "", 0);
	for (size_t i = 0; i < len;) {
		const char *amp = memchr(s + i, '&', len - i);
		size_t upto = amp != NULL ? (size_t)(amp - s) : len;
		mc_buf_add(&b, s + i, upto - i);
		i = upto;
		if (i >= len)
			break;
		char u[4];
		size_t ulen;
		size_t n = mc_html_entity(s + i, len - i, u, &ulen);
		if (n > 0) {
			mc_buf_add(&b, u, ulen);
		} else {
			mc_buf_add(&b, "&", 1);
			n = 1;
		}
		i += n;
	}
	*len_r = b.len;
	return b.s;
}

static bool url_attribute(const char *name, size_t n)
{
	static const char *const attrs[] = {
		"href", "src", "action", "formaction", "background", "cite",
		"data", "poster", "longdesc", "xlink:href",
	};

	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		if (strlen(attrs[i]) == n && g_ascii_strncasecmp(name, attrs[i], n) == 0)
			return true;
	}
	return false;
}

/* One attribute value: entities decoded, then a URL when absolute or
   protocol-relative. */
static void attribute_value(struct mc_url_list *l, const char *v, size_t n, int nest)
{
	size_t dlen;
	char *d = entities_decode(v, n < URL_READ_MAX ? n : URL_READ_MAX, &dlen);
	char *c = url_clean(d, dlen);

	if (c[0] == '/' && c[1] == '/') {
		char *u = mc_xasprintf("http:%s", c);
		add_url(l, u, strlen(u), nest);
		free(u);
	} else if (strstr(c, "://") != NULL) {
		add_url(l, c, strlen(c), nest);
	}
	free(c);
	free(d);
}

/* URL attributes of HTML markup. Each '=' is looked at once, and a
   quote without its closing one is remembered, so the scan is
   linear. The values read are blanked in REST, a copy of S, so that
   a value broken across lines is not also taken for a shorter URL
   in the text. */
static void attributes(struct mc_url_list *l, const char *s, size_t len, char *rest,
		       int nest)
{
	bool no_close[2] = { false, false };	/* no '"' / '\'' after here */

	for (const char *eq = memchr(s, '=', len); eq != NULL && !l->full;
	     eq = memchr(eq + 1, '=', len - (size_t)(eq + 1 - s))) {
		size_t i = (size_t)(eq - s), e = i, b;

		while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t' ||
				 s[e - 1] == '\r' || s[e - 1] == '\n'))
			e--;
		b = e;
		while (b > 0 && e - b < 12 && (g_ascii_isalpha(s[b - 1]) || s[b - 1] == ':'))
			b--;
		if (b == e || !url_attribute(s + b, e - b) ||
		    (b > 0 && g_ascii_isalnum(s[b - 1])))
			continue;
		size_t v = i + 1;
		while (v < len && (s[v] == ' ' || s[v] == '\t' || s[v] == '\r' || s[v] == '\n'))
			v++;
		if (v >= len)
			break;
		if (s[v] == '"' || s[v] == '\'') {
			int k = s[v] == '"' ? 0 : 1;
			const char *close = no_close[k] ? NULL :
				memchr(s + v + 1, s[v], len - v - 1);
			if (close == NULL) {
				no_close[k] = true;
				continue;
			}
			attribute_value(l, s + v + 1, (size_t)(close - s) - v - 1, nest);
			memset(rest + v + 1, ' ', (size_t)(close - s) - v - 1);
			eq = close;
		} else {
			size_t end = v;
			while (end < len && end - v < URL_READ_MAX && s[end] > ' ' && s[end] != '>')
				end++;
			attribute_value(l, s + v, end - v, nest);
			memset(rest + v, ' ', end - v);
		}
	}
}

void mc_url_extract(struct mc_url_list *list, const char *text, size_t len,
		    bool html)
{
	if (!html) {
		bare(list, text, len, 0);
		return;
	}
	char *rest = mc_xmalloc(len + 1);
	size_t dlen;

	memcpy(rest, text, len);
	attributes(list, text, len, rest, 0);
	char *d = entities_decode(rest, len, &dlen);
	bare(list, d, dlen, 0);
	free(d);
	free(rest);
}

static bool name_ends(const char *name, const char *ext)
{
	size_t n = strlen(name), e = strlen(ext);

	return n > e && g_ascii_strcasecmp(name + n - e, ext) == 0;
}

void mc_url_collect(struct mc_url_list *list, const struct mc_part *parts,
		    size_t count)
{
	static const char *const html_exts[] = {
		".htm", ".html", ".xhtml", ".shtml", ".hta", ".svg",
	};

	for (size_t i = 0; i < count && !list->full; i++) {
		const struct mc_part *p = &parts[i];
		const char *name = p->filename != NULL ? p->filename : "";
		bool html = strcmp(p->content_type, "text/html") == 0;
		bool named = false;

		if (strncmp(p->content_type, "message/", 8) == 0)
			continue;	/* its parts follow */
		for (size_t k = 0; k < sizeof(html_exts) / sizeof(html_exts[0]); k++) {
			if (name_ends(name, html_exts[k]))
				html = named = true;
		}
		named = named || name_ends(name, ".txt") || name_ends(name, ".url");
		if (p->text_utf8 != NULL)
			mc_url_extract(list, p->text_utf8, strlen(p->text_utf8), html);
		else if (named)
			mc_url_extract(list, (const char *)p->content, p->content_size, html);
	}
}
