/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	quarantine_meta 3
/* SUMMARY
/*	the metadata record of a quarantine entry
/* SYNOPSIS
/*	#include "quarantine-private.h"
/* DESCRIPTION
/*	Each entry's meta.json holds every field of struct mc_qentry
/*	(json-c, pretty-printed). mc_qentry_to_json() and
/*	mc_qentry_json() write it; mc_qentry_load() reads it from an
/*	entry's directory. A record that is corrupt, larger than
/*	QMETA_MAX_BYTES, has fields of the wrong type or names another
/*	entry is an error naming the entry, never a crash.
/* SECURITY
/*	The record is read through mc_safe_open_file (no symlink, one
/*	link) and bounded in size; its strings are checked for type
/*	only, and are neutralised by whoever shows them.
/*--*/

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "quarantine-private.h"

static json_object *jstr(const char *s)
{
	return s == NULL ? NULL : json_object_new_string(s);
}

json_object *mc_qentry_to_json(const struct mc_qentry *e)
{
	json_object *o = json_object_new_object();
	json_object *loc = json_object_new_object();
	json_object *reasons = json_object_new_array();
	json_object *rcpts = json_object_new_array();

	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "id", jstr(e->id));
	json_object_object_add(o, "run", jstr(e->run_id));

	json_object_object_add(loc, "store", jstr(e->loc.store));
	json_object_object_add(loc, "kind", jstr(e->loc.kind));
	json_object_object_add(loc, "user", jstr(e->loc.user));
	json_object_object_add(loc, "folder", jstr(e->loc.folder));
	json_object_object_add(loc, "path", jstr(e->loc.path));
	json_object_object_add(loc, "queue_id", jstr(e->loc.queue_id));
	json_object_object_add(loc, "offset", json_object_new_int64(e->loc.offset));
	json_object_object_add(loc, "maildir_subdir", jstr(e->loc.maildir_subdir));
	json_object_object_add(loc, "maildir_flags", jstr(e->loc.maildir_flags));
	json_object_object_add(loc, "uid", json_object_new_int64((int64_t)e->loc.uid));
	json_object_object_add(loc, "gid", json_object_new_int64((int64_t)e->loc.gid));
	json_object_object_add(loc, "mode", json_object_new_int64((int64_t)e->loc.mode));
	json_object_object_add(loc, "mtime", json_object_new_int64((int64_t)e->loc.mtime));
	json_object_object_add(o, "loc", loc);

	json_object_object_add(o, "sha256", jstr(e->sha256_hex));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)e->size));
	json_object_object_add(o, "quarantined_at", json_object_new_int64((int64_t)e->quarantined_at));
	json_object_object_add(o, "restored_at", e->restored_at == 0 ? NULL :
			       json_object_new_int64((int64_t)e->restored_at));

	for (size_t i = 0; i < e->reason_count; i++) {
		const struct mc_reason *r = &e->reasons[i];
		json_object *jr = json_object_new_object();

		const char *kname = mc_reason_kind_name(r->kind);

		json_object_object_add(jr, "kind", json_object_new_string(kname != NULL ? kname : "unknown"));
		json_object_object_add(jr, r->kind == MC_REASON_VIRUS ? "name" : "value",
				       jstr(r->value != NULL ? r->value : ""));
		/* Its detail (an indicator's event, a YARA rule's tags)
		   as more members, as the JSON events have them. */
		json_object *more = r->detail != NULL ? json_tokener_parse(r->detail) : NULL;
		if (more != NULL && json_object_is_type(more, json_type_object)) {
			json_object_object_foreach(more, key, val) {
				if (strcmp(key, "kind") != 0 && strcmp(key, "name") != 0 &&
				    strcmp(key, "value") != 0)
					json_object_object_add(jr, key, json_object_get(val));
			}
		}
		json_object_put(more);
		json_object_array_add(reasons, jr);
	}
	json_object_object_add(o, "reasons", reasons);

	/* The envelope of queue mail may come in the entry's own fields
	   or in its location (as a store yields it); the record holds it
	   once. An empty sender is the null sender and stays "". */
	{
		const char *sender = e->envelope_sender != NULL ? e->envelope_sender :
			e->loc.envelope_sender;
		const char *const *rv = e->recipient_count > 0 ?
			(const char *const *)e->recipients : e->loc.recipients;
		size_t rc = e->recipient_count > 0 ? e->recipient_count :
			rv != NULL ? e->loc.recipient_count : 0;
		time_t arrival = e->arrival_time != 0 ? e->arrival_time : e->loc.arrival_time;

		json_object_object_add(o, "envelope_sender", jstr(sender));
		for (size_t i = 0; i < rc; i++)
			json_object_array_add(rcpts, jstr(rv[i] != NULL ? rv[i] : ""));
		json_object_object_add(o, "recipients", rcpts);
		json_object_object_add(o, "arrival_time", json_object_new_int64((int64_t)arrival));
	}
	json_object_object_add(o, "from", jstr(e->from));
	json_object_object_add(o, "subject", jstr(e->subject));
	json_object_object_add(o, "message_id", jstr(e->message_id));

	if (e->extra_json != NULL) {
		/* Kept as an object so that readers of the record see
		   structure; text that is not an object is kept as a
		   string rather than refused (it is informational, and
		   refusing would block the removal). */
		json_object *x = json_tokener_parse(e->extra_json);
		if (x == NULL || !json_object_is_type(x, json_type_object)) {
			json_object_put(x);
			x = json_object_new_string(e->extra_json);
		}
		json_object_object_add(o, "extra", x);
	} else {
		json_object_object_add(o, "extra", NULL);
	}
	return o;
}

char *mc_qentry_json(const struct mc_qentry *entry)
{
	json_object *o = mc_qentry_to_json(entry);
	char *s = mc_xstrdup(json_object_to_json_string_ext(o,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));

	json_object_put(o);
	return s;
}

/* Field readers: absent or null is fine unless REQUIRED; a value of
   the wrong type is an error naming the field. */
static int get_str(json_object *o, const char *key, bool required,
		   char **out_r, char **error_r)
{
	json_object *v;

	*out_r = NULL;
	if (!json_object_object_get_ex(o, key, &v) || v == NULL) {
		if (required)
			return mc_error_set(error_r, "field \"%s\" missing", key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return mc_error_set(error_r, "field \"%s\": not a string", key);
	*out_r = mc_xstrndup(json_object_get_string(v),
			     (size_t)json_object_get_string_len(v));
	return 0;
}

static int get_int(json_object *o, const char *key, bool required,
		   int64_t min, int64_t max, int64_t *out_r, char **error_r)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL) {
		if (required)
			return mc_error_set(error_r, "field \"%s\" missing", key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return mc_error_set(error_r, "field \"%s\": not an integer", key);
	errno = 0;
	n = json_object_get_int64(v);
	if (errno != 0 || n < min || n > max)
		return mc_error_set(error_r, "field \"%s\": out of range", key);
	*out_r = n;
	return 0;
}

/* The members of reason JR beyond kind, name and value, as the JSON
   text of a detail, or NULL. */
static char *reason_detail(json_object *jr)
{
	json_object *more = json_object_new_object();
	char *text = NULL;

	json_object_object_foreach(jr, key, val) {
		if (strcmp(key, "kind") != 0 && strcmp(key, "name") != 0 &&
		    strcmp(key, "value") != 0)
			json_object_object_add(more, key, json_object_get(val));
	}
	if (json_object_object_length(more) > 0)
		text = mc_json_text(more);
	json_object_put(more);
	return text;
}

static bool reason_kind_parse(const char *name, enum mc_reason_kind *kind_r)
{
	for (int k = MC_REASON_VIRUS; k <= MC_REASON_ALL; k++) {
		const char *n = mc_reason_kind_name((enum mc_reason_kind)k);
		if (n != NULL && strcmp(n, name) == 0) {
			*kind_r = (enum mc_reason_kind)k;
			return true;
		}
	}
	return false;
}

/* The list "reasons" of O, if any, into E. */
static int reasons_from_json(json_object *o, struct mc_qentry *e, char **error_r)
{
	json_object *arr;
	size_t count;

	if (!json_object_object_get_ex(o, "reasons", &arr) || arr == NULL)
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return mc_error_set(error_r, "field \"reasons\": not a list");
	count = json_object_array_length(arr);
	e->reasons = mc_xcalloc(count, sizeof(*e->reasons));
	for (size_t i = 0; i < count; i++) {
		json_object *jr = json_object_array_get_idx(arr, i);
		enum mc_reason_kind kind;
		char *kname = NULL, *value = NULL;

		if (!json_object_is_type(jr, json_type_object))
			return mc_error_set(error_r, "field \"reasons\": item %zu is not an object", i);
		if (get_str(jr, "kind", true, &kname, error_r) < 0)
			return -1;
		if (get_str(jr, "name", false, &value, error_r) < 0) {
			free(kname);
			return -1;
		}
		if (value == NULL && get_str(jr, "value", false, &value, error_r) < 0) {
			free(kname);
			return -1;
		}
		/* A kind this version does not know (a newer writer) is
		   dropped: reasons only inform, and the entry must stay
		   restorable. */
		if (!reason_kind_parse(kname, &kind)) {
			free(kname);
			free(value);
			continue;
		}
		free(kname);
		e->reasons[e->reason_count].kind = kind;
		e->reasons[e->reason_count].value = value != NULL ? value : mc_xstrdup("");
		e->reasons[e->reason_count].detail = reason_detail(jr);
		e->reason_count++;
	}
	return 0;
}

/* The list "recipients" of O, if any, into E. */
static int recipients_from_json(json_object *o, struct mc_qentry *e, char **error_r)
{
	json_object *arr;
	size_t count;

	if (!json_object_object_get_ex(o, "recipients", &arr) || arr == NULL)
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return mc_error_set(error_r, "field \"recipients\": not a list");
	count = json_object_array_length(arr);
	e->recipients = mc_xcalloc(count, sizeof(char *));
	for (size_t i = 0; i < count; i++) {
		json_object *v = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(v, json_type_string))
			return mc_error_set(error_r, "field \"recipients\": item %zu is not a string", i);
		e->recipients[e->recipient_count++] =
			mc_xstrndup(json_object_get_string(v),
				    (size_t)json_object_get_string_len(v));
	}
	return 0;
}

static int qentry_from_json(json_object *o, struct mc_qentry *e, char **error_r)
{
	json_object *loc, *x;
	int64_t n;
	char *s;

#define STR(obj, key, req, dst) do { \
	if (get_str(obj, key, req, &s, error_r) < 0) return -1; \
	dst = s; \
} while (0)
#define INT(obj, key, req, min, max, dst) do { \
	n = 0; \
	if (get_int(obj, key, req, min, max, &n, error_r) < 0) return -1; \
	dst = n; \
} while (0)

	STR(o, "id", true, e->id);
	STR(o, "run", false, e->run_id);
	if (!json_object_object_get_ex(o, "loc", &loc) ||
	    !json_object_is_type(loc, json_type_object))
		return mc_error_set(error_r, "field \"loc\" missing or not an object");
	STR(loc, "store", false, e->loc.store);
	STR(loc, "kind", true, e->loc.kind);
	STR(loc, "user", false, e->loc.user);
	STR(loc, "folder", false, e->loc.folder);
	STR(loc, "path", false, e->loc.path);
	STR(loc, "queue_id", false, e->loc.queue_id);
	e->loc.offset = -1;
	INT(loc, "offset", false, -1, INT64_MAX, e->loc.offset);
	STR(loc, "maildir_subdir", false, e->loc.maildir_subdir);
	STR(loc, "maildir_flags", false, e->loc.maildir_flags);
	INT(loc, "uid", false, 0, UINT32_MAX, e->loc.uid);
	INT(loc, "gid", false, 0, UINT32_MAX, e->loc.gid);
	INT(loc, "mode", false, 0, 07777777, e->loc.mode);
	INT(loc, "mtime", false, INT64_MIN, INT64_MAX, e->loc.mtime);

	STR(o, "sha256", true, e->sha256_hex);
	if (strlen(e->sha256_hex) != 64 ||
	    strspn(e->sha256_hex, "0123456789abcdef") != 64)
		return mc_error_set(error_r, "field \"sha256\": not a SHA-256 hex digest");
	INT(o, "size", true, 0, INT64_MAX, e->size);
	INT(o, "quarantined_at", false, INT64_MIN, INT64_MAX, e->quarantined_at);
	INT(o, "restored_at", false, INT64_MIN, INT64_MAX, e->restored_at);

	if (reasons_from_json(o, e, error_r) < 0)
		return -1;

	STR(o, "envelope_sender", false, e->envelope_sender);
	if (recipients_from_json(o, e, error_r) < 0)
		return -1;
	INT(o, "arrival_time", false, INT64_MIN, INT64_MAX, e->arrival_time);
	/* The same envelope, seen through the location as stores see
	   it; these point to the strings above (freed once, there). */
	e->loc.envelope_sender = e->envelope_sender;
	e->loc.recipients = (const char *const *)e->recipients;
	e->loc.recipient_count = e->recipient_count;
	e->loc.arrival_time = e->arrival_time;
	STR(o, "from", false, e->from);
	STR(o, "subject", false, e->subject);
	STR(o, "message_id", false, e->message_id);
	if (json_object_object_get_ex(o, "extra", &x) && x != NULL) {
		if (json_object_is_type(x, json_type_string))
			e->extra_json = mc_xstrdup(json_object_get_string(x));
		else
			e->extra_json = mc_xstrdup(json_object_to_json_string_ext(x,
				JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	}
#undef STR
#undef INT
	return 0;
}

void mc_qentry_free(struct mc_qentry **entryp)
{
	struct mc_qentry *e = *entryp;

	if (e == NULL)
		return;
	*entryp = NULL;
	free(e->id);
	free(e->run_id);
	free((char *)e->loc.store);
	free((char *)e->loc.kind);
	free((char *)e->loc.user);
	free((char *)e->loc.folder);
	free((char *)e->loc.path);
	free((char *)e->loc.queue_id);
	free((char *)e->loc.maildir_subdir);
	free((char *)e->loc.maildir_flags);
	free(e->sha256_hex);
	for (size_t i = 0; i < e->reason_count; i++) {
		free(e->reasons[i].value);
		free(e->reasons[i].detail);
	}
	free(e->reasons);
	/* loc.envelope_sender and loc.recipients alias these. */
	free(e->envelope_sender);
	for (size_t i = 0; i < e->recipient_count; i++)
		free(e->recipients[i]);
	free(e->recipients);
	free(e->from);
	free(e->subject);
	free(e->message_id);
	free(e->extra_json);
	free(e);
}

/* Parse a record from BUF; errors name the file, not the entry (the
   caller adds that). */
static struct mc_qentry *qentry_parse(const char *buf, size_t len,
				      char **error_r)
{
	struct json_tokener *tok = json_tokener_new();
	struct mc_qentry *e;
	json_object *o;
	size_t end;

	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (o == NULL) {
		enum json_tokener_error jerr = json_tokener_get_error(tok);
		mc_error_set(error_r, "%s: not valid JSON (%s)", ENTRY_META,
			     jerr == json_tokener_continue ? "truncated" :
			     json_tokener_error_desc(jerr));
		json_tokener_free(tok);
		return NULL;
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (end < len && g_ascii_isspace(buf[end]))
		end++;
	if (end != len) {
		json_object_put(o);
		mc_error_set(error_r, "%s: trailing data after the record", ENTRY_META);
		return NULL;
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		mc_error_set(error_r, "%s: not a JSON object", ENTRY_META);
		return NULL;
	}
	e = mc_xcalloc(1, sizeof(*e));
	if (qentry_from_json(o, e, error_r) < 0) {
		char *why = *error_r != NULL ? mc_xstrdup(*error_r) : NULL;
		mc_error_set(error_r, "%s: %s", ENTRY_META, why != NULL ? why : "invalid");
		free(why);
		mc_qentry_free(&e);
	}
	json_object_put(o);
	return e;
}

/* Load the metadata of entry ID from its open directory EDFD. */
struct mc_qentry *mc_qentry_load(int edfd, const char *id, char **error_r)
{
	unsigned char *buf;
	struct mc_qentry *e;
	char *err = NULL;
	size_t len;
	int fd;

	fd = mc_safe_open_file(edfd, ENTRY_META, true, NULL, &err);
	if (fd < 0) {
		mc_error_set(error_r, "entry %s: %s", id, err);
		free(err);
		return NULL;
	}
	if (mc_read_fd(fd, QMETA_MAX_BYTES, &buf, &len, &err) < 0) {
		mc_error_set(error_r, "entry %s: %s: %s", id, ENTRY_META, err);
		free(err);
		close(fd);
		return NULL;
	}
	close(fd);
	e = qentry_parse((const char *)buf, len, &err);
	free(buf);
	if (e == NULL) {
		mc_error_set(error_r, "entry %s: %s", id, err);
		free(err);
		return NULL;
	}
	if (strcmp(e->id, id) != 0) {
		mc_error_set(error_r, "entry %s: %s names another entry (%s)",
			     id, ENTRY_META, e->id);
		mc_qentry_free(&e);
		return NULL;
	}
	return e;
}
