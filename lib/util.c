/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	util 3
/* SUMMARY
/*	errors, hashes, clocks, run ids and text for display shared by libmailcure
/* DESCRIPTION
/*	mc_error_set() and mc_error_errno() build the malloc()ed reason
/*	strings that every fallible library function returns.
/*
/*	mc_sha256(), mc_sha1() and mc_md5() hash memory, and
/*	mc_file_hasher_init(), _update() and _final() a file read in
/*	pieces into the hashes a host scan asks for, with OpenSSL's libcrypto
/*	(a libclamav dependency already), which uses the CPU's SHA
/*	instructions: every decoded MIME part is hashed, so this is on
/*	the scan's hot path.
/*
/*	mc_run_id_new() returns an id that sorts by time and is unique
/*	across processes on one host.
/*
/*	mc_utf8_len() tells the length of one well-formed UTF-8
/*	character. mc_text_visible() is the one neutraliser of text that
/*	users control (file and folder names, user names, senders,
/*	subjects, attachment names, queue ids, reasons that embed them)
/*	on its way to a terminal, a log or an HTML page: every byte a
/*	terminal would act on is written as \xHH, everything else is
/*	kept as it is.
/*
/*	mc_buf_add() appends to a growing string, kept NUL-terminated.
/*	mc_header_end() finds the end of a message's header block.
/*	mc_note_add() appends a line to a malloc()ed remark (the notes of
/*	freeze and thaw); mc_sleep_ms() sleeps, through signals.
/*
/*	mc_html_entity() decodes the HTML character reference at S
/*	("&amp;", "&#58;", "&#x2F") as browsers read them, numeric ones
/*	without ';' too, into OUT as UTF-8 (*OUT_LEN_R bytes, at most 4);
/*	it returns the bytes of S it takes, 0 when S starts none. The
/*	URL finder (attribute values, text) and text search (HTML parts)
/*	read entities the same way through it.
/* SECURITY
/*	A file name with a newline forges a line of output; one with
/*	ESC or CSI (0x9b, or U+009B in UTF-8) moves the cursor, recolours
/*	or rewrites what the administrator reads; a bidirectional
/*	override (U+202A..U+202E, U+2066..U+2069) reorders it. All of
/*	them, every other C0 and C1 control, DEL and every byte that is
/*	not part of well-formed UTF-8 are escaped. The escaped form is
/*	for reading: --json gives the exact bytes.
/*--*/

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <glib.h>

#include "mailcure/mailcure.h"
#include "internal.h"

static int error_vset(char **error_r, const char *suffix, const char *fmt,
		      va_list ap)
{
	char buf[1024];

	if (error_r == NULL)
		return -1;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	free(*error_r);
	if (suffix != NULL) {
		size_t len = strlen(buf);
		snprintf(buf + len, sizeof(buf) - len, ": %s", suffix);
	}
	*error_r = strdup(buf);
	return -1;
}

int mc_error_set(char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(error_r, NULL, fmt, ap);
	va_end(ap);
	return -1;
}

int mc_error_errno(char **error_r, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	error_vset(error_r, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
	return -1;
}

void mc_limits_default(struct mc_limits *limits_r)
{
	/* Defaults follow clamd's, raised where mail needs it: a mail
	   message carries base64 (4/3 of the decoded size), and the
	   message, its multipart and the encoded part are container
	   levels that a file scan of the same attachment does not have,
	   so recursion gets three more levels than clamd's 17. */
	limits_r->max_message_size = 256ULL << 20;
	limits_r->max_scan_size = 400ULL << 20;
	limits_r->max_file_size = 100ULL << 20;
	limits_r->max_recursion = 20;
	limits_r->max_files = 10000;
	limits_r->max_scan_time_ms = 120000;
	limits_r->max_mime_parts = 1000;
	limits_r->max_mime_depth = 64;
	limits_r->max_header_bytes = 1 << 20;
	/* A newsletter has a few hundred links; this bounds the work
	   (and the memory: MC_URL_MAX bytes each) a hostile text costs. */
	limits_r->max_urls = 10000;
	/* Scanning a mail message takes the engine a few times its size;
	   this keeps two of the few-megabyte messages a store has from
	   being scanned at once, and costs nothing for the rest. */
	limits_r->max_bytes_in_flight = 8ULL << 20;
}

void mc_hex(const unsigned char *bin, size_t len, char *hex_out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		hex_out[2 * i] = digits[bin[i] >> 4];
		hex_out[2 * i + 1] = digits[bin[i] & 15];
	}
	hex_out[2 * len] = '\0';
}

static void digest(const EVP_MD *md, const void *data, size_t len,
		   unsigned char *out)
{
	if (EVP_Digest(data, len, out, NULL, md, NULL) != 1)
		abort();	/* only when libcrypto has no SHA-256 or MD5 at all */
}

void mc_sha256(const void *data, size_t len, unsigned char out[32])
{
	digest(EVP_sha256(), data, len, out);
}

void mc_md5(const void *data, size_t len, unsigned char out[16])
{
	digest(EVP_md5(), data, len, out);
}

void mc_sha1(const void *data, size_t len, unsigned char out[20])
{
	digest(EVP_sha1(), data, len, out);
}

static const struct {
	unsigned bit;
	const EVP_MD *(*md)(void);
	size_t off;
} file_digests[MC_FILE_HASHER_MAX] = {
	{ MC_FILE_MD5, EVP_md5, offsetof(struct mc_file_view, md5) },
	{ MC_FILE_SHA1, EVP_sha1, offsetof(struct mc_file_view, sha1) },
	{ MC_FILE_SHA256, EVP_sha256, offsetof(struct mc_file_view, sha256) },
};

void mc_file_hasher_init(struct mc_file_hasher *h, unsigned which)
{
	for (int i = 0; i < MC_FILE_HASHER_MAX; i++) {
		h->ctx[i] = NULL;
		if ((which & file_digests[i].bit) == 0)
			continue;
		if ((h->ctx[i] = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestInit_ex(h->ctx[i], file_digests[i].md(), NULL) != 1)
			abort();
	}
}

void mc_file_hasher_update(struct mc_file_hasher *h, const void *data, size_t len)
{
	for (int i = 0; i < MC_FILE_HASHER_MAX; i++) {
		if (h->ctx[i] != NULL && EVP_DigestUpdate(h->ctx[i], data, len) != 1)
			abort();
	}
}

void mc_file_hasher_final(struct mc_file_hasher *h, struct mc_file_view *view)
{
	for (int i = 0; i < MC_FILE_HASHER_MAX; i++) {
		if (h->ctx[i] == NULL)
			continue;
		if (EVP_DigestFinal_ex(h->ctx[i], (unsigned char *)view + file_digests[i].off,
				       NULL) != 1)
			abort();
		EVP_MD_CTX_free(h->ctx[i]);
		h->ctx[i] = NULL;
		view->have |= file_digests[i].bit;
	}
}

double mc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

size_t mc_utf8_len(const unsigned char *p, size_t left)
{
	size_t n = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 && p[0] >= 0xc2 ? 2 :
		(p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 && p[0] <= 0xf4 ? 4 : 0;

	if (n == 0 || n > left)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
	}
	/* Overlong forms, UTF-16 surrogates, beyond U+10FFFF. */
	if ((n == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0))) ||
	    (n == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))))
		return 0;
	return n;
}

/* Whether the well-formed character P of N bytes is one a terminal
   acts on: C0, DEL, C1 (U+0080..U+009F), or a bidirectional
   embedding, override or isolate. */
bool mc_utf8_acts(const unsigned char *p, size_t n)
{
	if (n == 1)
		return p[0] < 0x20 || p[0] == 0x7f;
	if (n == 2)
		return p[0] == 0xc2 && p[1] < 0xa0;
	return n == 3 && p[0] == 0xe2 &&
		((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
		 (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9));
}

char *mc_text_visible(const char *s)
{
	static const char digits[] = "0123456789abcdef";
	size_t len = strlen(s), o = 0;
	/* At most four bytes out for one in. */
	char *out = mc_xmalloc(4 * len + 1);

	for (size_t i = 0; i < len;) {
		const unsigned char *p = (const unsigned char *)s + i;
		size_t n = mc_utf8_len(p, len - i);
		bool escape = n == 0 || mc_utf8_acts(p, n);

		if (n == 0)
			n = 1;
		for (size_t k = 0; k < n; k++) {
			if (escape) {
				out[o++] = '\\';
				out[o++] = 'x';
				out[o++] = digits[p[k] >> 4];
				out[o++] = digits[p[k] & 15];
			} else {
				out[o++] = (char)p[k];
			}
		}
		i += n;
	}
	out[o] = '\0';
	return out;
}

char *mc_run_id_new(void)
{
	char buf[64];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, sizeof(buf), "%04d%02d%02dT%02d%02d%02dZ-%05x%03lx",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (unsigned)getpid() & 0xfffff,
		 (unsigned long)(ts.tv_nsec / 1000000) & 0xfff);
	return strdup(buf);
}

void mc_buf_add(struct mc_buf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = mc_xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

size_t mc_html_entity(const char *s, size_t len, char out[4], size_t *out_len_r)
{
	static const struct { const char *name; const char *text; } names[] = {
		{ "amp", "&" }, { "lt", "<" }, { "gt", ">" }, { "quot", "\"" },
		{ "apos", "'" }, { "nbsp", " " }, { "colon", ":" }, { "sol", "/" },
		{ "period", "." }, { "quest", "?" }, { "equals", "=" },
		{ "num", "#" }, { "percnt", "%" }, { "commat", "@" },
		{ "lowbar", "_" }, { "hyphen", "-" }, { "tab", "\t" },
		{ "newline", "\n" },
	};

	if (len < 3 || s[0] != '&')
		return 0;
	if (s[1] == '#') {
		bool hex = s[2] == 'x' || s[2] == 'X';
		size_t i = hex ? 3 : 2, digits = 0;
		unsigned long cp = 0;
		while (i < len && digits < 8 && (hex ? g_ascii_isxdigit(s[i]) : g_ascii_isdigit(s[i]))) {
			cp = cp * (hex ? 16 : 10) + (unsigned long)g_ascii_xdigit_value(s[i]);
			i++;
			digits++;
		}
		if (digits == 0 || cp == 0 || cp > 0x10ffff)
			return 0;
		if (i < len && s[i] == ';')
			i++;
		*out_len_r = (size_t)g_unichar_to_utf8((gunichar)cp, out);
		return i;
	}
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		size_t n = strlen(names[k].name);
		if (len > n + 1 && s[n + 1] == ';' &&
		    g_ascii_strncasecmp(s + 1, names[k].name, n) == 0) {
			*out_len_r = strlen(names[k].text);
			memcpy(out, names[k].text, *out_len_r);
			return n + 2;
		}
	}
	return 0;
}

void mc_note_add(char **note_r, const char *fmt, ...)
{
	va_list ap;
	char *line;

	if (note_r == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (*note_r != NULL) {
		char *joined = mc_xasprintf("%s\n%s", *note_r, line);
		free(line);
		free(*note_r);
		line = joined;
	}
	*note_r = line;
}

void mc_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

size_t mc_header_end(const unsigned char *p, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		if (p[pos] == '\n')
			return pos + 1;
		if (p[pos] == '\r' && pos + 1 < len && p[pos + 1] == '\n')
			return pos + 2;
		const unsigned char *nl = memchr(p + pos, '\n', len - pos);
		if (nl == NULL)
			return 0;
		pos = (size_t)(nl - p) + 1;
	}
	return 0;
}
