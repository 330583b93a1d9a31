/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	json 3
/* SUMMARY
/*	the one writer of mailcure's JSON output
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	char	*mc_json_text(obj)
/* DESCRIPTION
/*	mc_json_text() writes a json-c value as one line of JSON
/*	(RFC 8259), members in the order they were added, without white
/*	space, '/' not escaped. Every command's --json output and the
/*	report's JSON pass through it, so that they escape text the same
/*	way. Numbers, true, false and null are written as json-c writes
/*	them (a number read from a file keeps its spelling).
/*
/*	A string is written with '"' and '\' escaped, \b \f \n \r
/*	\t for those controls, and \uXXXX (lower-case hex) for every
/*	other character that a terminal would act on, as
/*	mc_text_visible() defines them: C0 controls, DEL, C1 controls
/*	(U+0080..U+009F) and the bidirectional overrides; also for
/*	U+2028 and U+2029, which end a line in JavaScript. Each byte
/*	that is not part of well-formed UTF-8 becomes U+FFFD, as its
/*	bytes, so that the output is always valid UTF-8. Everything
/*	else is kept as it is.
/* SECURITY
/*	File names, senders and subjects are written by whoever sent
/*	the mail or owns the files. JSON output is often read with cat,
/*	less or "jq -r"; no byte of a value can move the cursor,
/*	recolour the screen or split a JSON line, and a line is valid
/*	UTF-8 whatever bytes the value held.
/*--*/

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "mailcure/mailcure.h"
#include "internal.h"

static void put_string(struct mc_buf *b, const char *s, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	mc_buf_add(b, "\"", 1);
	for (size_t i = 0; i < len;) {
		const unsigned char *p = (const unsigned char *)s + i;
		size_t n = mc_utf8_len(p, len - i);
		const char *esc = NULL;

		if (n == 0) {
			mc_buf_add(b, "\xef\xbf\xbd", 3);	/* U+FFFD */
			i++;
			continue;
		}
		switch (p[0]) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		}
		if (esc != NULL) {
			mc_buf_add(b, esc, strlen(esc));
		} else if (mc_utf8_acts(p, n) ||
			   (n == 3 && p[0] == 0xe2 && p[1] == 0x80 &&
			    (p[2] == 0xa8 || p[2] == 0xa9))) {
			/* The code point, at most U+2069 here. */
			unsigned cp = n == 1 ? p[0] : n == 2 ?
				(unsigned)(p[0] & 0x1f) << 6 | (p[1] & 0x3f) :
				(unsigned)(p[0] & 0x0f) << 12 |
				(unsigned)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
			char u[6] = { '\\', 'u', digits[cp >> 12 & 15],
				      digits[cp >> 8 & 15], digits[cp >> 4 & 15],
				      digits[cp & 15] };
			mc_buf_add(b, u, sizeof(u));
		} else {
			mc_buf_add(b, p, n);
		}
		i += n;
	}
	mc_buf_add(b, "\"", 1);
}

/* Values nest as deep as the program built them; json-c's own
   writer recurses the same way. */
static void put_value(struct mc_buf *b, struct json_object *v)
{
	bool first = true;

	switch (json_object_get_type(v)) {
	case json_type_object:
		mc_buf_add(b, "{", 1);
		json_object_object_foreach(v, key, val) {
			if (!first)
				mc_buf_add(b, ",", 1);
			first = false;
			put_string(b, key, strlen(key));
			mc_buf_add(b, ":", 1);
			put_value(b, val);
		}
		mc_buf_add(b, "}", 1);
		return;
	case json_type_array:
		mc_buf_add(b, "[", 1);
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			if (i > 0)
				mc_buf_add(b, ",", 1);
			put_value(b, json_object_array_get_idx(v, i));
		}
		mc_buf_add(b, "]", 1);
		return;
	case json_type_string:
		put_string(b, json_object_get_string(v),
				   (size_t)json_object_get_string_len(v));
		return;
	case json_type_null:
		mc_buf_add(b, "null", 4);
		return;
	default: {
		/* boolean, int, double */
		const char *t = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
		mc_buf_add(b, t, strlen(t));
		return;
	}
	}
}

char *mc_json_text(struct json_object *obj)
{
	struct mc_buf b = { NULL, 0, 0 };

	mc_buf_add(&b, "", 0);
	put_value(&b, obj);
	return b.s;
}
