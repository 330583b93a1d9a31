/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	dovecot_parse 3
/* SUMMARY
/*	read doveadm's pager output, strictly
/* SYNOPSIS
/*	#include "store/store-private.h"
/*
/*	int mc_store_dovecot_parse(const void *data, size_t len,
/*		size_t chunk, bool text, size_t *records_r,
/*		char **error_r);
/*
/*	#include "store/dovecot-private.h"
/*
/*	int mc_dovecot_record_read(struct mc_dovecot_reader *r,
/*		bool text, struct mc_dovecot_record *rec,
/*		const char **why_r);
/*	int mc_dovecot_reader_exact(struct mc_dovecot_reader *r,
/*		unsigned char *dest, uint64_t n);
/*	int mc_dovecot_reader_separator(struct mc_dovecot_reader *r);
/*	int mc_dovecot_mailbox_status(char *out, const char *name,
/*		char guid_r[33], uint64_t *uidnext_r);
/*	char *mc_dovecot_restorable_flags(const char *flags);
/* DESCRIPTION
/*	"doveadm -f pager fetch '" RECORD_FIELDS " [text]'" prints each
/*	field of a message as a "key: value" line, in the order asked
/*	for, then (with text) a "text:" line and the message raw,
/*	undelimited; records are separated by a form feed line. The
/*	dovecot: store (lib/store/dovecot.c) reads that stream from
/*	doveadm through a reader, cutting each text by its
/*	size.physical (mc_dovecot_reader_exact) and checking what
/*	follows (mc_dovecot_reader_separator, then the next record).
/*
/*	mc_store_dovecot_parse() reads such output from memory, handed
/*	over in chunks of CHUNK bytes as a pipe would, the way the
/*	store walks it (with TEXT, the batch stream; without, the
/*	listing), and counts the records: for the fuzz target and the
/*	unit test.
/*
/*	mc_dovecot_mailbox_status() finds mailbox NAME's GUID and
/*	UIDNEXT in the output of "doveadm -f pager mailbox status",
/*	cutting OUT up: 1 when found with both valid, else 0. The name
/*	is compared whole, as it may hold spaces.
/*	mc_dovecot_restorable_flags() gives the flags a restored
/*	message is given again: all but \Recent.
/* DIAGNOSTICS
/*	A record that is not well formed is -1 with a reason: a field
/*	missing or out of order, a value that does not parse, a line
/*	longer than any field can be, output that ends inside a record.
/* SECURITY
/*	The output holds what users wrote (mailbox names, messages).
/*	Every value is checked before use: GUIDs are hex of the right
/*	length, numbers are bounded, names hold no control character;
/*	lines are bounded by RECORD_LINE_MAX.
/*--*/

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailcure/exec.h"
#include "store-private.h"
#include "dovecot-private.h"

/* A "key: value" line of doveadm's pager output: a mailbox name or a
   GUID, never near this. A property of the format, not a limit on
   messages. */
#define RECORD_LINE_MAX 16384

static const char *const record_keys[] = {
	"mailbox-guid", "uid", "guid", "flags", "size.physical", "mailbox",
};
#define RECORD_KEY_COUNT (sizeof(record_keys) / sizeof(record_keys[0]))


void mc_dovecot_record_clear(struct mc_dovecot_record *r)
{
	free(r->guid);
	free(r->flags);
	free(r->mailbox);
	memset(r, 0, sizeof(*r));
}

void mc_dovecot_record_move(struct mc_dovecot_record *dst,
			    struct mc_dovecot_record *src)
{
	*dst = *src;
	memset(src, 0, sizeof(*src));
}


/* 1: data buffered, 0: end of output, -1: read error. */
static int reader_fill(struct mc_dovecot_reader *r)
{
	ssize_t n;

	if (r->pos < r->len)
		return 1;
	if (r->eof)
		return 0;
	if (r->proc == NULL) {
		size_t take = r->mem_len < r->mem_chunk ? r->mem_len : r->mem_chunk;

		if (take > sizeof(r->buf))
			take = sizeof(r->buf);
		memcpy(r->buf, r->mem, take);
		r->mem += take;
		r->mem_len -= take;
		n = (ssize_t)take;
	} else {
		n = mc_exec_read(r->proc, r->buf, sizeof(r->buf), &r->error);
	}
	if (n < 0)
		return -1;
	if (n == 0) {
		r->eof = true;
		return 0;
	}
	r->pos = 0;
	r->len = (size_t)n;
	return 1;
}

/* One line without its newline. 1: *line_r set (malloc()ed), 0: end
   of output before any byte, -1: error, overlong or unterminated. */
static int reader_line(struct mc_dovecot_reader *r, char **line_r)
{
	char *line = NULL;
	size_t len = 0;

	*line_r = NULL;
	for (;;) {
		int f = reader_fill(r);
		unsigned char *nl;
		size_t take;

		if (f <= 0) {
			free(line);
			return f == 0 && len == 0 ? 0 : -1;
		}
		nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
		take = nl != NULL ? (size_t)(nl - (r->buf + r->pos)) : r->len - r->pos;
		if (len + take > RECORD_LINE_MAX) {
			free(line);
			return -1;
		}
		line = mc_xrealloc(line, len + take + 1);
		memcpy(line + len, r->buf + r->pos, take);
		len += take;
		line[len] = '\0';
		r->pos += take;
		if (nl != NULL) {
			r->pos++;
			*line_r = line;
			return 1;
		}
	}
}

/* Exactly N bytes into DEST (NULL: skipped). 0, or -1 when the output
   ends first. */
int mc_dovecot_reader_exact(struct mc_dovecot_reader *r, unsigned char *dest,
			    uint64_t n)
{
	while (n > 0) {
		size_t take;

		if (reader_fill(r) <= 0)
			return -1;
		take = r->len - r->pos;
		if (take > n)
			take = (size_t)n;
		if (dest != NULL) {
			memcpy(dest, r->buf + r->pos, take);
			dest += take;
		}
		r->pos += take;
		n -= take;
	}
	return 0;
}

/* Between records: 1 after a form feed line, 0 at the end of output,
   -1 on anything else. */
int mc_dovecot_reader_separator(struct mc_dovecot_reader *r)
{
	unsigned char ff[2];
	int f = reader_fill(r);

	if (f <= 0)
		return f;
	if (mc_dovecot_reader_exact(r, ff, 2) < 0 || ff[0] != '\f' || ff[1] != '\n')
		return -1;
	return 1;
}

bool mc_dovecot_no_control(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

bool mc_dovecot_parse_u64(const char *s, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*v_r = v;
	return true;
}

bool mc_dovecot_valid_mailbox_guid(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		if (!isxdigit((unsigned char)s[n]))
			return false;
	}
	return n == 32;
}

/* One record of RECORD_FIELDS (and with TEXT the "text:" line that
   starts the message). 1 with *rec, 0 at the end of the output,
   -1 when it is not a well-formed record (*why_r says why). */
int mc_dovecot_record_read(struct mc_dovecot_reader *r, bool text,
			   struct mc_dovecot_record *rec, const char **why_r)
{
	memset(rec, 0, sizeof(*rec));
	for (size_t i = 0; i < RECORD_KEY_COUNT; i++) {
		const char *key = record_keys[i];
		size_t klen = strlen(key);
		char *line;
		const char *value;
		uint64_t v;
		int ret = reader_line(r, &line);

		if (ret == 0 && i == 0)
			return 0;
		if (ret <= 0) {
			*why_r = r->error != NULL ? r->error : "output ends inside a record";
			goto bad;
		}
		if (strncmp(line, key, klen) != 0 || line[klen] != ':' || line[klen + 1] != ' ') {
			free(line);
			*why_r = "unexpected line where a field was expected";
			goto bad;
		}
		value = line + klen + 2;
		switch (i) {
		case 0:
			if (!mc_dovecot_valid_mailbox_guid(value))
				goto bad_value;
			memcpy(rec->mailbox_guid, value, 33);
			break;
		case 1:
			if (!mc_dovecot_parse_u64(value, UINT32_MAX, &v) || v == 0)
				goto bad_value;
			rec->uid = (uint32_t)v;
			break;
		case 2:
			if (value[0] == '\0' || !mc_dovecot_no_control(value))
				goto bad_value;
			rec->guid = mc_xstrdup(value);
			break;
		case 3:
			if (!mc_dovecot_no_control(value))
				goto bad_value;
			rec->flags = mc_xstrdup(value);
			break;
		case 4:
			if (!mc_dovecot_parse_u64(value, UINT64_MAX, &v))
				goto bad_value;
			rec->size = v;
			break;
		case 5:
			if (value[0] == '\0' || !mc_dovecot_no_control(value))
				goto bad_value;
			rec->mailbox = mc_xstrdup(value);
			break;
		}
		free(line);
		continue;
bad_value:
		free(line);
		*why_r = "malformed field value";
		goto bad;
	}
	if (text) {
		char *line;
		int ret = reader_line(r, &line);

		if (ret <= 0 || strcmp(line, "text:") != 0) {
			free(line);
			*why_r = "no message text where it was expected";
			goto bad;
		}
		free(line);
	}
	return 1;
bad:
	mc_dovecot_record_clear(rec);
	return -1;
}

int mc_store_dovecot_parse(const void *data, size_t len, size_t chunk, bool text,
			   size_t *records_r, char **error_r)
{
	struct mc_dovecot_reader *r = mc_xcalloc(1, sizeof(*r));
	struct mc_dovecot_record rec;
	const char *why = NULL;
	int ret;

	r->mem = data;
	r->mem_len = len;
	r->mem_chunk = chunk > 0 ? chunk : 1;
	*records_r = 0;
	/* The walk of batch_next (TEXT) and list_next (without). */
	ret = mc_dovecot_record_read(r, text, &rec, &why);
	while (ret > 0) {
		(*records_r)++;
		if (text && mc_dovecot_reader_exact(r, NULL, rec.size) < 0) {
			why = "the message text is shorter than its size.physical";
			ret = -1;
		}
		mc_dovecot_record_clear(&rec);
		if (ret < 0)
			break;
		ret = mc_dovecot_reader_separator(r);
		if (ret < 0)
			why = "unexpected output between records";
		if (ret <= 0)
			break;
		ret = mc_dovecot_record_read(r, text, &rec, &why);
		/* The batch stream cannot end after a separator; the
		   listing takes that as its end. */
		if (ret == 0 && text) {
			why = "the output ends after a record separator";
			ret = -1;
		}
	}
	if (ret < 0)
		mc_error_set(error_r, "%s", why);
	free(r->error);
	free(r);
	return ret < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Mailbox status and flags                                           */
/* ------------------------------------------------------------------ */

/* The output OUT of "doveadm -f pager mailbox status 'guid uidnext'"
   is records of the name (untitled), then "key: value" lines,
   separated by form feed lines. */
int mc_dovecot_mailbox_status(char *out, const char *name, char guid_r[33],
			      uint64_t *uidnext_r)
{
	char *rec = out;
	int found = 0;

	while (rec != NULL && found == 0) {
		char *next = strstr(rec, "\n\f\n");
		char *save = NULL, *line;
		bool have_guid = false, have_next = false;

		if (next != NULL) {
			next[1] = '\0';
			next += 3;
		}
		if (strncmp(rec, "\f\n", 2) == 0)
			rec += 2;
		/* The name line is compared whole (it may hold spaces). */
		char *nl = strchr(rec, '\n');
		if (nl == NULL) {
			rec = next;
			continue;
		}
		*nl = '\0';
		if (strcmp(rec, name) != 0) {
			rec = next;
			continue;
		}
		for (line = strtok_r(nl + 1, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, "guid: ", 6) == 0 && mc_dovecot_valid_mailbox_guid(line + 6)) {
				memcpy(guid_r, line + 6, 33);
				have_guid = true;
			} else if (strncmp(line, "uidnext: ", 9) == 0 &&
				   mc_dovecot_parse_u64(line + 9, UINT32_MAX, uidnext_r)) {
				have_next = true;
			}
		}
		if (have_guid && have_next)
			found = 1;
		rec = next;
	}
	return found;
}

/* Flags to set again: all but \Recent, which only the server sets. */
char *mc_dovecot_restorable_flags(const char *flags)
{
	char *copy = mc_xstrdup(flags != NULL ? flags : "");
	char *out = mc_xcalloc(1, strlen(copy) + 1);
	char *save = NULL;

	for (char *f = strtok_r(copy, " ", &save); f != NULL; f = strtok_r(NULL, " ", &save)) {
		if (strcasecmp(f, "\\Recent") == 0)
			continue;
		if (out[0] != '\0')
			strcat(out, " ");
		strcat(out, f);
	}
	free(copy);
	return out;
}
