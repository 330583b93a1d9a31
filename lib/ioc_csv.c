/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	ioc_csv 3
/* SUMMARY
/*	indicators from CSV files with a header row
/* SYNOPSIS
/*	#include "ioc-private.h"
/*
/*	int	mc_ioc_csv(load, data, len, &error)
/* DESCRIPTION
/*	mc_ioc_csv() reads CSV (RFC 4180: commas, double quotes, ""
/*	for a quote, line breaks inside quotes) whose first row names
/*	the columns, in any case:
/* .IP "type, value"
/*	each row's type (md5, sha1, sha256, url, domain, email,
/*	subject, or a MISP attribute type such as filename|sha256 or
/*	email-src) and value; MISP's CSV export has these columns.
/* .IP "md5, sha1, sha256, url, domain, email, subject"
/*	(and the other names of mc_ioc_type_parse) a column of
/*	indicators of that type; an empty cell is no indicator.
/* .IP "id, uuid; name, comment, description; event_id, event;"
/*	"title, info, event_info": where the row's indicators came
/*	from.
/* .IP to_ids
/*	0 or false skips the row, as for MISP attributes.
/* .PP
/*	Other columns are ignored. A row that is not valid UTF-8, or
/*	whose type is not matched in mail, is skipped and counted.
/* DIAGNOSTICS
/*	A header that names no indicator column, and an unterminated
/*	quote, are errors naming the file and line.
/*--*/

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "ioc-private.h"

enum col_role { C_IGNORE, C_TYPE, C_VALUE, C_TYPED, C_ID, C_NAME, C_EVENT_ID,
		C_EVENT, C_TO_IDS };

struct column {
	enum col_role role;
	enum mc_ioc_type type;	/* C_TYPED */
};

/* One row's fields, split in place; false at the end of the data. */
struct csv {
	const char *p, *end;
	size_t line;
	GPtrArray *fields;
	GString *cell;
	bool bad_quote;
};

static bool csv_row(struct csv *c)
{
	bool quoted = false, any = false;

	g_ptr_array_set_size(c->fields, 0);
	g_string_truncate(c->cell, 0);
	if (c->p >= c->end)
		return false;
	c->line++;
	for (; c->p < c->end; c->p++) {
		char ch = *c->p;
		if (quoted) {
			if (ch == '"' && c->p + 1 < c->end && c->p[1] == '"') {
				g_string_append_c(c->cell, '"');
				c->p++;
			} else if (ch == '"') {
				quoted = false;
			} else {
				if (ch == '\n')
					c->line++;
				g_string_append_c(c->cell, ch);
			}
			continue;
		}
		if (ch == '"') {
			quoted = true;
		} else if (ch == ',') {
			g_ptr_array_add(c->fields, g_strdup(c->cell->str));
			g_string_truncate(c->cell, 0);
		} else if (ch == '\n') {
			c->p++;
			break;
		} else if (ch != '\r') {
			g_string_append_c(c->cell, ch);
		}
		any = true;
	}
	if (quoted)
		c->bad_quote = true;
	g_ptr_array_add(c->fields, g_strdup(c->cell->str));
	(void)any;
	return true;
}

static enum col_role role_of(const char *name, enum mc_ioc_type *type_r)
{
	static const struct { const char *name; enum col_role role; } roles[] = {
		{ "type", C_TYPE }, { "value", C_VALUE },
		{ "id", C_ID }, { "uuid", C_ID }, { "indicator_id", C_ID },
		{ "name", C_NAME }, { "comment", C_NAME }, { "description", C_NAME },
		{ "event_id", C_EVENT_ID }, { "event", C_EVENT_ID },
		{ "event_uuid", C_EVENT_ID },
		{ "title", C_EVENT }, { "info", C_EVENT }, { "event_info", C_EVENT },
		{ "event_title", C_EVENT }, { "to_ids", C_TO_IDS },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(roles); i++) {
		if (g_ascii_strcasecmp(roles[i].name, name) == 0)
			return roles[i].role;
	}
	return mc_ioc_type_parse(name, type_r) ? C_TYPED : C_IGNORE;
}

static const char *field(const struct csv *c, const struct column *cols,
			 size_t ncols, enum col_role role)
{
	for (size_t i = 0; i < ncols && i < c->fields->len; i++) {
		const char *f = c->fields->pdata[i];
		if (cols[i].role == role && *f != '\0')
			return f;
	}
	return NULL;
}

static void row(struct mc_ioc_load *l, const struct csv *c,
		const struct column *cols, size_t ncols)
{
	struct mc_ioc_meta meta;
	const char *flag = field(c, cols, ncols, C_TO_IDS);
	const char *type = field(c, cols, ncols, C_TYPE);
	const char *value = field(c, cols, ncols, C_VALUE);

	for (guint i = 0; i < c->fields->len; i++) {
		if (!g_utf8_validate(c->fields->pdata[i], -1, NULL)) {
			mc_ioc_skip(l, "line %zu: not valid UTF-8", c->line);
			return;
		}
	}
	if (flag != NULL && (strcmp(flag, "0") == 0 || g_ascii_strcasecmp(flag, "false") == 0)) {
		mc_ioc_skip(l, "line %zu: to_ids is false", c->line);
		return;
	}
	memset(&meta, 0, sizeof(meta));
	meta.id = mc_ioc_intern(l, field(c, cols, ncols, C_ID));
	meta.name = mc_ioc_intern(l, field(c, cols, ncols, C_NAME));
	meta.event_id = mc_ioc_intern(l, field(c, cols, ncols, C_EVENT_ID));
	meta.event = mc_ioc_intern(l, field(c, cols, ncols, C_EVENT));
	if (type != NULL && value != NULL) {
		struct mc_ioc_cmp cmp;
		char *v = NULL;
		if (!mc_ioc_misp_type(type, value, &cmp.type, &v) &&
		    !mc_ioc_type_parse(type, &cmp.type)) {
			mc_ioc_skip(l, "line %zu: type '%.40s' is not matched in mail", c->line, type);
			return;
		}
		cmp.value = v != NULL ? v : value;
		mc_ioc_add(l, &cmp, 1, value, &meta);
		free(v);
	}
	for (size_t i = 0; i < ncols && i < c->fields->len; i++) {
		const char *f = c->fields->pdata[i];
		if (cols[i].role != C_TYPED || *f == '\0')
			continue;
		struct mc_ioc_cmp cmp = { cols[i].type, f };
		mc_ioc_add(l, &cmp, 1, f, &meta);
	}
}

int mc_ioc_csv(struct mc_ioc_load *l, const char *data, size_t len, char **error_r)
{
	struct csv c = { data, data + len, 0, g_ptr_array_new_with_free_func(g_free),
			 g_string_new(NULL), false };
	struct column *cols = NULL;
	size_t ncols = 0;
	bool typed = false, pair_type = false, pair_value = false;
	int ret = 0;

	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		c.p += 3;
	if (!csv_row(&c)) {
		ret = mc_error_set(error_r, "indicator file '%s': empty", l->path);
		goto out;
	}
	ncols = c.fields->len;
	cols = mc_xcalloc(ncols, sizeof(*cols));
	for (size_t i = 0; i < ncols; i++) {
		char *name = g_strstrip(g_strdup(c.fields->pdata[i]));
		cols[i].role = role_of(name, &cols[i].type);
		typed |= cols[i].role == C_TYPED;
		pair_type |= cols[i].role == C_TYPE;
		pair_value |= cols[i].role == C_VALUE;
		g_free(name);
	}
	if (!typed && !(pair_type && pair_value)) {
		ret = mc_error_set(error_r, "indicator file '%s': line 1: the header names no "
				   "indicator column (type and value, or md5, sha1, sha256, "
				   "url, domain, email, subject)", l->path);
		goto out;
	}
	while (!c.bad_quote && csv_row(&c)) {
		if (c.fields->len == 1 && *(const char *)c.fields->pdata[0] == '\0')
			continue;	/* an empty line */
		if (!c.bad_quote)
			row(l, &c, cols, ncols);
	}
	if (c.bad_quote)
		ret = mc_error_set(error_r, "indicator file '%s': line %zu: unterminated quote",
				   l->path, c.line);
out:
	free(cols);
	g_ptr_array_free(c.fields, TRUE);
	g_string_free(c.cell, TRUE);
	return ret;
}
