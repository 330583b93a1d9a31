/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	ioc_misp 3
/* SUMMARY
/*	indicators from MISP events and MISP feeds
/* SYNOPSIS
/*	#include "ioc-private.h"
/*
/*	int	mc_ioc_misp_event(load, root, &error)
/*	int	mc_ioc_misp_feed(load, dirfd, &error)
/*	bool	mc_ioc_misp_type(misp_type, value, &type, &compared)
/* DESCRIPTION
/*	mc_ioc_misp_event() reads a MISP event export: {"Event":{...}},
/*	a list of such objects, or an API answer {"response":[...]}.
/*	The attributes of an event and of its objects become
/*	indicators with the event's id (or uuid) and title ("info");
/*	the indicator id is the attribute's uuid (or id), its name the
/*	attribute's comment.
/*
/*	Types read: md5, sha1, sha256 and their filename|HASH forms
/*	(malware-sample too), url, uri, link, domain, hostname and the
/*	domain part of domain|ip and hostname|port, email-src, email,
/*	email-reply-to, and email-subject. Attributes with to_ids
/*	false (MISP's mark of context, not detection), deleted ones,
/*	and those of other types (addresses, registry keys...) are
/*	skipped and counted.
/*
/*	mc_ioc_misp_type() maps a MISP attribute type to the type of
/*	indicator and the part of the value compared (the hash of a
/*	"filename|md5" pair); false for a type not matched in mail.
/*
/*	mc_ioc_misp_feed() reads a MISP feed directory: manifest.json
/*	names the events, each in UUID.json beside it.
/* DIAGNOSTICS
/*	A file that is not a MISP export, or a feed whose manifest
/*	names an event file that is missing or bad, is an error that
/*	names the file.
/* SECURITY
/*	Event file names come from the manifest: only UUIDs are
/*	accepted, so a name cannot leave the directory, and the files
/*	are opened without following links.
/*--*/

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "ioc-private.h"

/* The part of a "filename|md5"-style value after the bar. */
static const char *after_bar(const char *v)
{
	const char *bar = strrchr(v, '|');

	return bar != NULL ? bar + 1 : v;
}

bool mc_ioc_misp_type(const char *t, const char *value, enum mc_ioc_type *type_r,
		      char **value_r)
{
	static const struct { const char *misp; enum mc_ioc_type type; int part; } map[] = {
		/* part: 0 the value, 1 after '|', 2 before '|' */
		{ "md5", IOC_MD5, 0 }, { "sha1", IOC_SHA1, 0 },
		{ "sha256", IOC_SHA256, 0 },
		{ "filename|md5", IOC_MD5, 1 }, { "filename|sha1", IOC_SHA1, 1 },
		{ "filename|sha256", IOC_SHA256, 1 }, { "malware-sample", IOC_MD5, 1 },
		{ "url", IOC_URL, 0 }, { "uri", IOC_URL, 0 }, { "link", IOC_URL, 0 },
		{ "domain", IOC_DOMAIN, 0 }, { "hostname", IOC_DOMAIN, 0 },
		{ "domain|ip", IOC_DOMAIN, 2 }, { "hostname|port", IOC_DOMAIN, 2 },
		{ "email-src", IOC_EMAIL, 0 }, { "email", IOC_EMAIL, 0 },
		{ "email-reply-to", IOC_EMAIL, 0 },
		{ "email-subject", IOC_SUBJECT, 0 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(map); i++) {
		if (strcmp(map[i].misp, t) != 0)
			continue;
		*type_r = map[i].type;
		if (map[i].part == 1)
			*value_r = mc_xstrdup(after_bar(value));
		else if (map[i].part == 2)
			*value_r = mc_xstrndup(value, strcspn(value, "|"));
		else
			*value_r = mc_xstrdup(value);
		return true;
	}
	return false;
}

/* to_ids is true, 1, "1" or "true"; absent counts as true. */
static bool flag(json_object *attr, const char *key, bool absent)
{
	json_object *v;

	if (!json_object_object_get_ex(attr, key, &v) || v == NULL)
		return absent;
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		return strcmp(s, "1") == 0 || g_ascii_strcasecmp(s, "true") == 0;
	}
	return json_object_get_boolean(v);
}

static void attribute(struct mc_ioc_load *l, json_object *attr,
		      const struct mc_ioc_meta *event)
{
	const char *t = mc_ioc_jstr(attr, "type"), *v = mc_ioc_jstr(attr, "value");
	const char *id = mc_ioc_jstr(attr, "uuid");
	struct mc_ioc_meta meta = *event;
	struct mc_ioc_cmp cmp;
	char *value = NULL;

	if (id == NULL)
		id = mc_ioc_jstr(attr, "id");
	if (t == NULL || v == NULL) {
		mc_ioc_skip(l, "event %s: an attribute without type or value",
			    event->event_id != NULL ? event->event_id : "?");
		return;
	}
	if (!flag(attr, "to_ids", true)) {
		mc_ioc_skip(l, "attribute %s (%.40s): to_ids is false", id ? id : "?", t);
		return;
	}
	if (flag(attr, "deleted", false)) {
		mc_ioc_skip(l, "attribute %s: deleted", id ? id : "?");
		return;
	}
	if (!mc_ioc_misp_type(t, v, &cmp.type, &value)) {
		mc_ioc_skip(l, "attribute %s: type '%.40s' is not matched in mail",
			    id ? id : "?", t);
		return;
	}
	cmp.value = value;
	meta.id = mc_ioc_intern(l, id);
	meta.name = mc_ioc_intern(l, mc_ioc_jstr(attr, "comment"));
	mc_ioc_add(l, &cmp, 1, v, &meta);
	free(value);
}

static void attributes(struct mc_ioc_load *l, json_object *list,
		       const struct mc_ioc_meta *event)
{
	if (!json_object_is_type(list, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *a = json_object_array_get_idx(list, i);
		if (json_object_is_type(a, json_type_object))
			attribute(l, a, event);
	}
}

static int event(struct mc_ioc_load *l, json_object *ev, char **error_r)
{
	struct mc_ioc_meta meta;
	json_object *list;

	if (!json_object_is_type(ev, json_type_object))
		return mc_error_set(error_r, "indicator file '%s': \"Event\" is not an object",
				    l->path);
	memset(&meta, 0, sizeof(meta));
	meta.event_id = mc_ioc_intern(l, mc_ioc_jstr(ev, "id"));
	if (meta.event_id == NULL)
		meta.event_id = mc_ioc_intern(l, mc_ioc_jstr(ev, "uuid"));
	meta.event = mc_ioc_intern(l, mc_ioc_jstr(ev, "info"));
	if (json_object_object_get_ex(ev, "Attribute", &list))
		attributes(l, list, &meta);
	if (json_object_object_get_ex(ev, "Object", &list) &&
	    json_object_is_type(list, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			json_object *o = json_object_array_get_idx(list, i), *attrs;
			if (json_object_object_get_ex(o, "Attribute", &attrs))
				attributes(l, attrs, &meta);
		}
	}
	return 0;
}

int mc_ioc_misp_event(struct mc_ioc_load *l, json_object *root, char **error_r)
{
	json_object *v;

	if (json_object_is_type(root, json_type_object) &&
	    json_object_object_get_ex(root, "response", &v))
		root = v;
	if (json_object_is_type(root, json_type_object)) {
		if (!json_object_object_get_ex(root, "Event", &v))
			return mc_error_set(error_r, "indicator file '%s': neither a MISP event "
					    "(no \"Event\") nor a STIX bundle", l->path);
		return event(l, v, error_r);
	}
	if (!json_object_is_type(root, json_type_array))
		return mc_error_set(error_r, "indicator file '%s': not a MISP event", l->path);
	for (size_t i = 0; i < json_object_array_length(root); i++) {
		json_object *item = json_object_array_get_idx(root, i);
		if (!json_object_object_get_ex(item, "Event", &v))
			return mc_error_set(error_r, "indicator file '%s': item %zu of the list "
					    "is not a MISP event", l->path, i + 1);
		if (event(l, v, error_r) < 0)
			return -1;
	}
	return 0;
}

static bool is_uuid(const char *s)
{
	size_t len = strlen(s);

	if (len != 36)
		return false;
	for (size_t i = 0; i < len; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !g_ascii_isxdigit(s[i]))
			return false;
	}
	return true;
}

static int feed_event(struct mc_ioc_load *l, int dirfd, const char *uuid,
		      char **error_r)
{
	char name[48], *shown;
	json_object *root;
	int ret;

	snprintf(name, sizeof(name), "%s.json", uuid);
	shown = mc_xasprintf("%s/%s", l->path, name);
	if ((root = mc_ioc_read_json(dirfd, name, shown, error_r)) == NULL) {
		free(shown);
		return -1;
	}
	const char *saved = l->path;
	l->path = shown;
	ret = mc_ioc_misp_event(l, root, error_r);
	l->path = saved;
	json_object_put(root);
	free(shown);
	return ret;
}

int mc_ioc_misp_feed(struct mc_ioc_load *l, int dirfd, char **error_r)
{
	char *shown = mc_xasprintf("%s/manifest.json", l->path);
	json_object *manifest;
	int ret = 0;

	if ((manifest = mc_ioc_read_json(dirfd, "manifest.json", shown, error_r)) == NULL) {
		free(shown);
		return -1;
	}
	if (!json_object_is_type(manifest, json_type_object)) {
		ret = mc_error_set(error_r, "indicator file '%s': not a MISP feed manifest "
				   "(an object of event UUIDs)", shown);
	} else {
		json_object_object_foreach(manifest, uuid, info) {
			(void)info;
			if (!is_uuid(uuid)) {
				ret = mc_error_set(error_r, "indicator file '%s': '%.60s' is not "
						   "an event UUID", shown, uuid);
				break;
			}
			if ((ret = feed_event(l, dirfd, uuid, error_r)) < 0)
				break;
		}
	}
	json_object_put(manifest);
	free(shown);
	return ret;
}
