/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	notify 3
/* SUMMARY
/*	digest mails of what watch did, through the MTA's sendmail
/* SYNOPSIS
/*	#include "mailcure/notify.h"
/*
/*	int	mc_notify_template_load(const char *path, bool admin,
/*		struct mc_notify_template **template_r, char **error_r)
/*
/*	int	mc_notify_render(const struct mc_notify *n,
/*		const struct mc_notify_template *t, const char *rcpt,
/*		const struct mc_notify_item *const *items, size_t count,
/*		char **msg_r, size_t *len_r, char **error_r)
/*
/*	int	mc_notify_send(const struct mc_notify *n,
/*		const struct mc_notify_item *items, size_t count,
/*		unsigned *sent_r, char **error_r)
/*
/*	bool	mc_notify_address_valid(const char *addr)
/* DESCRIPTION
/*	After a run of watch, each mailbox owner whose mail was acted
/*	on gets one digest of all of it, and the administrator one of
/*	everything; a digest is a plain text mail made from a template
/*	and handed to the local MTA as "sendmail -i -f FROM -- RCPT"
/*	with the message on standard input (lib/exec.c).
/*
/*	A template is a "Subject:" line, an empty line and the body:
/*
/*	    Subject: ${count} message(s) removed
/*
/*	    Text before the items.
/*	    ${items}
/*	    * ${subject} (from ${from}): ${action}
/*	    ${end}
/*	    Text after them.
/*
/*	The lines between a line "${items}" and a line "${end}" are
/*	repeated for each item (at most one such section). Anywhere:
/*	${recipient} (the digest's recipient), ${count} (its items),
/*	${host} (this host's name), ${now} (the time, UTC). In the item
/*	section: ${owner}, ${mailbox}, ${subject}, ${from}, ${date},
/*	${reason}, ${action}, ${quarantine_id}, ${run}, ${restore}. A
/*	'$' not followed by '{' is itself. The Subject line takes only
/*	the names usable anywhere. The other headers are mailcure's:
/*	From, To, Date, Message-ID, Auto-Submitted: auto-generated (so
/*	that no auto-responder answers), and the MIME headers of UTF-8
/*	text in quoted-printable.
/*
/*	The built-in templates are those of the manual; one for the
/*	owners, one for the administrator.
/* DIAGNOSTICS
/*	A template that is not UTF-8, holds a control character (other
/*	than the tab), a header other than Subject, an unknown or
/*	unterminated placeholder, or a misplaced ${items} or ${end}
/*	is an error naming PATH:LINE. A sendmail that cannot run, is
/*	killed, or exits with a status other than 0 is an error quoting
/*	its standard error.
/* SECURITY
/*	The subjects, senders, dates and detection names come from the
/*	mail, that is from whoever sent it: a value is cut to 300
/*	bytes, and every control character (CR and LF above all: no
/*	header can be added through a subject), invalid UTF-8 byte and
/*	bidirectional override is shown escaped as \xNN
/*	(mc_text_visible). Items are shown only in the body, which is
/*	quoted-printable, so no line of it is too long or read as
/*	anything but text. The Subject header holds only the template's
/*	own text, counts, addresses and the host name, all neutralised
/*	alike and RFC 2047 encoded when not ASCII. Recipients and the
/*	sender must be plain addresses (no '-' first, no spaces, quotes,
/*	'|' or '/') and are passed after "--": sendmail never reads one
/*	as an option. The template is trusted as the settings file is
/*	(lib/config.c: owned by root, writable by nobody else).
/*--*/

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <glib.h>

#include "mailcure/mailcure.h"
#include "mailcure/config.h"
#include "mailcure/exec.h"
#include "mailcure/notify.h"
#include "internal.h"

#define TEMPLATE_MAX_SIZE (64 * 1024)
/* Bytes of a value from the mail that are shown. */
#define VALUE_MAX 300
#define SENDMAIL_TIMEOUT_S 120

struct mc_notify_template {
	char *subject;			/* what follows "Subject:" */
	char *head, *item, *tail;	/* the body: before, per item, after */
};

/* What the placeholders outside the items stand for. */
struct digest {
	const char *recipient, *host, *count, *now;
};

/* The placeholders: a string of struct digest, or with ITEM of
   struct mc_notify_item (only in the item section). */
static const struct placeholder {
	const char *name;
	bool item;
	size_t offset;
} placeholders[] = {
	{ "recipient", false, offsetof(struct digest, recipient) },
	{ "count", false, offsetof(struct digest, count) },
	{ "host", false, offsetof(struct digest, host) },
	{ "now", false, offsetof(struct digest, now) },
	{ "owner", true, offsetof(struct mc_notify_item, owner) },
	{ "mailbox", true, offsetof(struct mc_notify_item, mailbox) },
	{ "subject", true, offsetof(struct mc_notify_item, subject) },
	{ "from", true, offsetof(struct mc_notify_item, from) },
	{ "date", true, offsetof(struct mc_notify_item, date) },
	{ "reason", true, offsetof(struct mc_notify_item, reason) },
	{ "action", true, offsetof(struct mc_notify_item, action) },
	{ "quarantine_id", true, offsetof(struct mc_notify_item, quarantine_id) },
	{ "run", true, offsetof(struct mc_notify_item, run) },
	{ "restore", true, offsetof(struct mc_notify_item, restore) },
};

static const char user_template[] =
	"Subject: ${count} dangerous message(s) taken out of your mailbox\n"
	"\n"
	"Hello,\n"
	"\n"
	"the mail server ${host} checked the mail already delivered to\n"
	"${recipient} again with new virus signatures and detections.\n"
	"${count} message(s) are now known to be dangerous and were taken\n"
	"care of:\n"
	"${items}\n"
	"\n"
	"* Subject: ${subject}\n"
	"  From:    ${from}\n"
	"  Date:    ${date}\n"
	"  Folder:  ${mailbox}\n"
	"  Found:   ${reason}\n"
	"  Done:    ${action} (reference ${quarantine_id})\n"
	"${end}\n"
	"\n"
	"Do not open copies of these messages you may have elsewhere, and do\n"
	"not ask the sender to send them again. A message taken by mistake\n"
	"can be given back: ask your mail administrator, quoting its\n"
	"reference.\n";

static const char admin_template[] =
	"Subject: mailcure watch on ${host}: ${count} message(s)\n"
	"\n"
	"mailcure watch on ${host} acted on ${count} message(s)\n"
	"at ${now}.\n"
	"${items}\n"
	"\n"
	"* ${owner}: ${mailbox}\n"
	"  Subject: ${subject}\n"
	"  From:    ${from}\n"
	"  Date:    ${date}\n"
	"  Found:   ${reason}\n"
	"  Done:    ${action} (quarantine id ${quarantine_id}, run ${run})\n"
	"  Undo:    ${restore}\n"
	"${end}\n"
	"\n"
	"A whole run is undone with: mailcure quarantine restore --run RUN\n";

/* ------------------------------------------------------------------ */
/* Addresses                                                          */
/* ------------------------------------------------------------------ */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool domain_valid(const char *d)
{
	size_t label = 0;

	for (const char *p = d;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return false;
			if (*p == '\0')
				return true;
			label = 0;
		} else if (is_alnum(*p) || (*p == '-' && label > 0)) {
			label++;
		} else {
			return false;
		}
	}
}

bool mc_notify_address_valid(const char *addr)
{
	const char *at = strchr(addr, '@');
	size_t local = at != NULL ? (size_t)(at - addr) : strlen(addr);

	if (local == 0 || local > 64 || strlen(addr) > 254 || addr[0] == '-' ||
	    addr[0] == '.' || addr[local - 1] == '.')
		return false;
	for (size_t i = 0; i < local; i++) {
		if (!is_alnum(addr[i]) && strchr("._+=-", addr[i]) == NULL)
			return false;
		if (addr[i] == '.' && addr[i + 1] == '.')
			return false;
	}
	return at == NULL || domain_valid(at + 1);
}

/* ------------------------------------------------------------------ */
/* Templates                                                          */
/* ------------------------------------------------------------------ */

static const struct placeholder *placeholder_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]); i++)
		if (strlen(placeholders[i].name) == len &&
		    memcmp(placeholders[i].name, name, len) == 0)
			return &placeholders[i];
	return NULL;
}

/* Check the LEN bytes of line S (LINENO): characters, placeholders. */
static int line_check(const char *path, unsigned lineno, const char *s, size_t len,
		      bool in_item, char **error_r)
{
	for (size_t i = 0; i < len;) {
		size_t n = mc_utf8_len((const unsigned char *)s + i, len - i);

		if (n == 0)
			return mc_error_set(error_r, "%s:%u: not UTF-8", path, lineno);
		if (mc_utf8_acts((const unsigned char *)s + i, n) && s[i] != '\t')
			return mc_error_set(error_r, "%s:%u: control character", path,
					    lineno);
		i += n;
	}
	for (const char *p = s; (p = memchr(p, '$', len - (size_t)(p - s))) != NULL; p++) {
		const char *end;
		const struct placeholder *ph;

		if (p + 1 == s + len || p[1] != '{')
			continue;
		end = memchr(p, '}', len - (size_t)(p - s));
		if (end == NULL)
			return mc_error_set(error_r, "%s:%u: '${' without '}'", path, lineno);
		ph = placeholder_find(p + 2, (size_t)(end - p - 2));
		if (ph == NULL || (ph->item && !in_item)) {
			char *name = mc_xstrndup(p + 2, (size_t)(end - p - 2));
			char *shown = mc_text_visible(name);

			mc_error_set(error_r, ph == NULL ? "%s:%u: unknown placeholder ${%s}" :
				     "%s:%u: ${%s} is only known between ${items} and ${end}",
				     path, lineno, shown);
			free(name);
			free(shown);
			return -1;
		}
		p = end;
	}
	return 0;
}

/* The Subject line, then the empty line that ends the headers. */
static int template_headers(const char *path, const char *text, size_t size,
			    struct mc_notify_template *t, size_t *pos_r, unsigned *lineno_r,
			    char **error_r)
{
	const char *nl = memchr(text, '\n', size);
	size_t len = nl != NULL ? (size_t)(nl - text) : size;

	if (len < 8 || strncasecmp(text, "Subject:", 8) != 0)
		return mc_error_set(error_r, "%s:1: the template must start with a "
				    "Subject: line", path);
	if (line_check(path, 1, text, len, false, error_r) < 0)
		return -1;
	t->subject = mc_xstrndup(text + 8, len - 8);
	g_strstrip(t->subject);
	if (nl == NULL || (size_t)(nl + 1 - text) == size || nl[1] != '\n')
		return mc_error_set(error_r, "%s:2: only Subject: may be set; an empty "
				    "line must follow it", path);
	*pos_r = (size_t)(nl + 2 - text);
	*lineno_r = 2;
	return 0;
}

int mc_notify_template_parse(const char *path, const char *text, size_t size,
			     struct mc_notify_template **template_r, char **error_r)
{
	struct mc_notify_template *t = mc_xcalloc(1, sizeof(*t));
	struct mc_buf part[3] = { { NULL, 0, 0 }, { NULL, 0, 0 }, { NULL, 0, 0 } };
	unsigned lineno = 0, which = 0, items_line = 0;
	size_t pos = 0;
	int ret = -1;

	if (template_headers(path, text, size, t, &pos, &lineno, error_r) < 0)
		goto out;
	while (pos < size) {
		const char *s = text + pos, *nl = memchr(s, '\n', size - pos);
		size_t len = nl != NULL ? (size_t)(nl - s) : size - pos;

		lineno++;
		pos += len + (nl != NULL);
		if (len == 8 && memcmp(s, "${items}", 8) == 0) {
			if (which != 0) {
				mc_error_set(error_r, "%s:%u: a second ${items}", path, lineno);
				goto out;
			}
			which = 1;
			items_line = lineno;
			continue;
		}
		if (len == 6 && memcmp(s, "${end}", 6) == 0) {
			if (which != 1) {
				mc_error_set(error_r, "%s:%u: ${end} without ${items}", path,
					     lineno);
				goto out;
			}
			which = 2;
			continue;
		}
		if (line_check(path, lineno, s, len, which == 1, error_r) < 0)
			goto out;
		mc_buf_add(&part[which], s, len);
		mc_buf_add(&part[which], "\n", 1);
	}
	if (which == 1) {
		mc_error_set(error_r, "%s:%u: ${items} without ${end}", path, items_line);
		goto out;
	}
	t->head = part[0].s != NULL ? part[0].s : mc_xstrdup("");
	t->item = part[1].s;
	t->tail = part[2].s;
	part[0].s = part[1].s = part[2].s = NULL;
	*template_r = t;
	t = NULL;
	ret = 0;
out:
	for (unsigned i = 0; i < 3; i++)
		free(part[i].s);
	mc_notify_template_free(&t);
	return ret;
}

int mc_notify_template_load(const char *path, bool admin,
			    struct mc_notify_template **template_r, char **error_r)
{
	char *text;
	size_t len;
	int ret;

	if (path == NULL) {
		const char *builtin = admin ? admin_template : user_template;

		return mc_notify_template_parse(admin ? "built-in administrator template" :
						"built-in template", builtin,
						strlen(builtin), template_r, error_r);
	}
	if (mc_config_file_read(path, TEMPLATE_MAX_SIZE, false, &text, &len, error_r) < 0)
		return -1;
	ret = mc_notify_template_parse(path, text, len, template_r, error_r);
	free(text);
	return ret;
}

void mc_notify_template_free(struct mc_notify_template **template)
{
	struct mc_notify_template *t = *template;

	if (t == NULL)
		return;
	free(t->subject);
	free(t->head);
	free(t->item);
	free(t->tail);
	free(t);
	*template = NULL;
}

/* ------------------------------------------------------------------ */
/* Rendering                                                          */
/* ------------------------------------------------------------------ */

/* V, cut to VALUE_MAX bytes and with everything a reader or a mail
   parser would act on escaped, appended to B. */
static void add_value(struct mc_buf *b, const char *v)
{
	size_t len, cut = 0;
	char *part, *shown;

	if (v == NULL || v[0] == '\0')
		v = "-";
	len = strlen(v);
	while (cut < len) {
		size_t n = mc_utf8_len((const unsigned char *)v + cut, len - cut);

		n = n == 0 ? 1 : n;
		if (cut + n > VALUE_MAX)
			break;
		cut += n;
	}
	part = mc_xstrndup(v, cut);
	shown = mc_text_visible(part);
	mc_buf_add(b, shown, strlen(shown));
	if (cut < len)
		mc_buf_add(b, "...", 3);
	free(part);
	free(shown);
}

/* TEXT (checked by line_check) with its placeholders filled in. */
static void expand(struct mc_buf *b, const char *text, const struct digest *d,
		   const struct mc_notify_item *it)
{
	static const struct mc_notify_item none;
	const char *p;

	while ((p = strstr(text, "${")) != NULL) {
		const char *end = strchr(p, '}');
		const struct placeholder *ph = placeholder_find(p + 2, (size_t)(end - p - 2));
		const char *base = ph->item ? (const char *)(it != NULL ? it : &none) :
			(const char *)d;

		mc_buf_add(b, text, (size_t)(p - text));
		add_value(b, *(const char *const *)(base + ph->offset));
		text = end + 1;
	}
	mc_buf_add(b, text, strlen(text));
}

/* TEXT (LEN bytes, UTF-8 without line breaks) as the value of a
   header: itself when ASCII and short, else RFC 2047 encoded words,
   one a line, short enough that "Subject: " and the first stay within
   78 (a long subject is folded this way, never left over 998). */
static void add_header_text(struct mc_buf *b, const char *text, size_t len)
{
	size_t start = 0;
	bool ascii = true;

	for (size_t i = 0; i < len; i++)
		ascii &= (unsigned char)text[i] < 0x80;
	if (ascii && len <= 69) {
		mc_buf_add(b, text, len);
		return;
	}
	while (start < len) {
		size_t end = start;
		gchar *b64;

		/* 39 bytes are 52 of base64, 64 with "=?UTF-8?B?" and "?=". */
		while (end < len) {
			size_t n = mc_utf8_len((const unsigned char *)text + end, len - end);

			n = n == 0 ? 1 : n;
			if (end + n - start > 39)
				break;
			end += n;
		}
		b64 = g_base64_encode((const guchar *)text + start, end - start);
		if (start > 0)
			mc_buf_add(b, "\n ", 2);
		mc_buf_add(b, "=?UTF-8?B?", 10);
		mc_buf_add(b, b64, strlen(b64));
		mc_buf_add(b, "?=", 2);
		g_free(b64);
		start = end;
	}
}

/* TEXT as quoted-printable lines (RFC 2045) of at most 76 characters. */
static void add_quoted_printable(struct mc_buf *b, const char *text, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		bool line_end = i + 1 == len || text[i + 1] == '\n';
		char enc[3] = { '=', hex[c >> 4], hex[c & 15] };
		size_t n = 3;

		if (c == '\n') {
			mc_buf_add(b, "\n", 1);
			col = 0;
			continue;
		}
		/* Blanks at a line's end are encoded: transport may strip
		   them; so is a leading '.' or 'F' (sendmail's lone dot,
		   mbox's "From "). */
		if ((c >= 33 && c <= 126 && c != '=' && !(col == 0 && (c == '.' || c == 'F'))) ||
		    ((c == ' ' || c == '\t') && !line_end)) {
			enc[0] = (char)c;
			n = 1;
		}
		if (col + n > (line_end ? 76 : 75)) {
			mc_buf_add(b, "=\n", 2);
			col = 0;
			if (n == 1 && (c == '.' || c == 'F')) {
				enc[0] = '=';
				enc[1] = hex[c >> 4];
				enc[2] = hex[c & 15];
				n = 3;
			}
		}
		mc_buf_add(b, enc, n);
		col += n;
	}
}

static void format_date(time_t t, char *date, size_t size)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(date, size, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
		 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}

/* This host's name as a domain (for Message-ID), or "localhost". */
static void host_name(const struct mc_notify *n, char *host, size_t size)
{
	if (n->host != NULL)
		snprintf(host, size, "%s", n->host);
	else if (gethostname(host, size) < 0)
		host[0] = '\0';
	host[size - 1] = '\0';
	if (host[0] == '\0' || !domain_valid(host))
		snprintf(host, size, "localhost");
}

static void add_headers(struct mc_buf *b, const struct mc_notify *n,
			const struct mc_notify_template *t, const struct digest *d,
			time_t now)
{
	static unsigned counter;
	struct mc_buf subject = { NULL, 0, 0 };
	char line[512];

	snprintf(line, sizeof(line), "From: %s\nTo: %s\nSubject: ", n->from, d->recipient);
	mc_buf_add(b, line, strlen(line));
	expand(&subject, t->subject, d, NULL);
	add_header_text(b, subject.s != NULL ? subject.s : "", subject.len);
	free(subject.s);
	format_date(now, line, sizeof(line));
	mc_buf_add(b, "\nDate: ", 7);
	mc_buf_add(b, line, strlen(line));
	snprintf(line, sizeof(line), "\nMessage-ID: <mailcure-notify.%lld.%ld.%u@%s>\n",
		 (long long)now, (long)getpid(), __atomic_add_fetch(&counter, 1,
								     __ATOMIC_RELAXED), d->host);
	mc_buf_add(b, line, strlen(line));
	static const char fixed[] =
		"Auto-Submitted: auto-generated\n"
		"MIME-Version: 1.0\n"
		"Content-Type: text/plain; charset=UTF-8\n"
		"Content-Transfer-Encoding: quoted-printable\n"
		"\n";
	mc_buf_add(b, fixed, sizeof(fixed) - 1);
}

int mc_notify_render(const struct mc_notify *n, const struct mc_notify_template *t,
		     const char *rcpt, const struct mc_notify_item *const *items,
		     size_t count, char **msg_r, size_t *len_r, char **error_r)
{
	struct mc_buf msg = { NULL, 0, 0 }, body = { NULL, 0, 0 };
	struct digest d = { .recipient = rcpt };
	time_t now = n->now != 0 ? n->now : time(NULL);
	char host[256], count_s[24], now_s[32];

	if (n->from == NULL || !mc_notify_address_valid(n->from))
		return mc_error_set(error_r, "the sender of the notification is no "
				    "plain mail address");
	if (rcpt == NULL || !mc_notify_address_valid(rcpt)) {
		char *shown = mc_text_visible(rcpt != NULL ? rcpt : "");

		mc_error_set(error_r, "%s: no plain mail address to notify", shown);
		free(shown);
		return -1;
	}
	host_name(n, host, sizeof(host));
	d.host = host;
	snprintf(count_s, sizeof(count_s), "%zu", count);
	d.count = count_s;
	mc_date_format(now, now_s, sizeof(now_s));
	d.now = now_s;

	add_headers(&msg, n, t, &d, now);
	expand(&body, t->head, &d, NULL);
	for (size_t i = 0; t->item != NULL && i < count; i++)
		expand(&body, t->item, &d, items[i]);
	if (t->tail != NULL)
		expand(&body, t->tail, &d, NULL);
	if (body.s != NULL)
		add_quoted_printable(&msg, body.s, body.len);
	free(body.s);
	*msg_r = msg.s;
	*len_r = msg.len;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Sending                                                            */
/* ------------------------------------------------------------------ */

static int send_one(const struct mc_notify *n, const struct mc_notify_template *t,
		    const char *rcpt, const struct mc_notify_item *const *items,
		    size_t count, char **error_r)
{
	const char *argv[] = { n->sendmail, "-i", "-f", n->from, "--", rcpt, NULL };
	struct mc_exec spec = { .argv = argv, .name = "sendmail" };
	struct mc_exec_result r = { 0 };
	char *msg = NULL, *why = NULL;
	size_t len;
	int status;

	if (n->sendmail == NULL || n->sendmail[0] != '/')
		return mc_error_set(error_r, "sendmail: not an absolute path");
	if (mc_notify_render(n, t, rcpt, items, count, &msg, &len, error_r) < 0)
		return -1;
	spec.input = msg;
	spec.input_size = len;
	spec.timeout_s = n->timeout_s != 0 ? n->timeout_s : SENDMAIL_TIMEOUT_S;
	status = mc_exec_run(&spec, &r, &why);
	if (status != 0) {
		char *text = mc_exec_text(r.err, r.err_len);

		if (status < 0)
			mc_error_set(error_r, "notifying %s: %s", rcpt, why);
		else
			mc_error_set(error_r, "notifying %s: sendmail exited with status "
				     "%d%s%s", rcpt, status, text != NULL ? ": " : "",
				     text != NULL ? text : "");
		free(text);
	}
	mc_exec_result_clear(&r);
	free(why);
	free(msg);
	return status == 0 ? 0 : -1;
}

struct send_state {
	unsigned sent, failed;
	char *first_error;
};

static void send_note(struct send_state *st, int ret, char *error)
{
	if (ret == 0) {
		st->sent++;
		return;
	}
	st->failed++;
	if (st->first_error == NULL)
		st->first_error = error;
	else
		free(error);
}

/* By owner, then in the order given. */
static int item_cmp(const void *a, const void *b, void *ctx)
{
	const struct mc_notify_item *const *items = ctx;
	size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
	int c = strcmp(items[ia]->owner, items[ib]->owner);

	return c != 0 ? c : (ia > ib) - (ia < ib);
}

/* One digest to each owner of ITEMS. */
static void send_users(const struct mc_notify *n, const struct mc_notify_template *t,
		       const struct mc_notify_item **items, size_t count,
		       struct send_state *st)
{
	const struct mc_notify_item **group = mc_xcalloc(count + 1, sizeof(*group));
	size_t *order = mc_xcalloc(count + 1, sizeof(*order)), owned = 0;

	for (size_t i = 0; i < count; i++)
		if (items[i]->owner != NULL)
			order[owned++] = i;
	qsort_r(order, owned, sizeof(*order), item_cmp, items);
	for (size_t i = 0; i < owned;) {
		const char *owner = items[order[i]]->owner;
		size_t k = 0;
		char *error = NULL;
		int ret;

		while (i < owned && strcmp(items[order[i]]->owner, owner) == 0)
			group[k++] = items[order[i++]];
		ret = send_one(n, t, owner, group, k, &error);
		send_note(st, ret, error);
	}
	free(group);
	free(order);
}

int mc_notify_send(const struct mc_notify *n, const struct mc_notify_item *items,
		   size_t count, unsigned *sent_r, char **error_r)
{
	struct mc_notify_template *user_t = NULL, *admin_t = NULL;
	const struct mc_notify_item **list = mc_xcalloc(count + 1, sizeof(*list));
	struct send_state st = { 0, 0, NULL };
	char *error = NULL;
	int ret;

	for (size_t i = 0; i < count; i++)
		list[i] = &items[i];
	if (n->users && count > 0) {
		if (n->user_template == NULL)
			mc_notify_template_load(NULL, false, &user_t, NULL);
		send_users(n, n->user_template != NULL ? n->user_template : user_t,
			   list, count, &st);
	}
	if (n->admin != NULL && count > 0) {
		if (n->admin_template == NULL)
			mc_notify_template_load(NULL, true, &admin_t, NULL);
		ret = send_one(n, n->admin_template != NULL ? n->admin_template : admin_t,
			       n->admin, list, count, &error);
		send_note(&st, ret, error);
	}
	mc_notify_template_free(&user_t);
	mc_notify_template_free(&admin_t);
	free(list);
	if (sent_r != NULL)
		*sent_r = st.sent;
	if (st.failed == 0)
		return 0;
	mc_error_set(error_r, "%u of %u notification(s) not sent; first: %s", st.failed,
		     st.failed + st.sent, st.first_error);
	free(st.first_error);
	return -1;
}
