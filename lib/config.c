/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	config 3
/* SUMMARY
/*	settings files of name = value lines
/* SYNOPSIS
/*	#include "mailcure/config.h"
/*
/*	int	mc_config_read(const char *path, bool missing_ok,
/*		const char *const *names, struct mc_config **config_r,
/*		char **error_r)
/*
/*	int	mc_config_parse(const char *path, const char *text,
/*		size_t size, const char *const *names,
/*		struct mc_config **config_r, char **error_r)
/*
/*	const struct mc_config_entry *mc_config_get(
/*		const struct mc_config *config, const char *name)
/*
/*	void	mc_config_free(struct mc_config **config)
/*
/*	int	mc_config_file_read(const char *path, size_t max,
/*		bool missing_ok, char **text_r, size_t *len_r,
/*		char **error_r)
/* DESCRIPTION
/*	A settings file in the form of Postfix's main.cf:
/*
/*	    # comment
/*	    name = value
/*	        continued value
/*
/*	A name is lower-case letters, digits and '_'; spaces and tabs
/*	around '=' and at the end of the line do not count. A line that
/*	starts with a space or a tab continues the value above it
/*	(joined with one space), so that a long list can be written one
/*	item a line. Blank lines and lines whose first non-blank
/*	character is '#' are ignored anywhere, also between a setting and
/*	its continuation lines. '#' elsewhere is part of the value.
/*
/*	The parser is strict, as a wrong setting of a tool that removes
/*	mail must not pass unnoticed: a line of any other form, a name
/*	that is not in NAMES, a setting given twice, one without a value,
/*	and a control character (other than the tab) are errors naming
/*	the file and the line. What a value means is the caller's to
/*	check.
/*
/*	mc_config_read() reads PATH (at most 1 MB) and parses it. With
/*	MISSING_OK, a PATH that does not exist gives an empty
/*	configuration.
/*
/*	mc_config_file_read() reads any file root trusts as it trusts
/*	a settings file (a template of the notification mail): the
/*	checks of SECURITY, at most MAX bytes, NUL-terminated. With
/*	MISSING_OK, a PATH that does not exist gives *text_r NULL.
/* DIAGNOSTICS
/*	-1 and a malloc()ed reason, "PATH:LINE: why" or "PATH: why".
/* SECURITY
/*	mailcure runs as root, and the file says where mail is moved
/*	to and which networks stay connected: it must be a regular file
/*	owned by root or the effective user, writable by no one else
/*	(as the verdict cache must be). A symbolic link is followed, as
/*	configuration management tools make them; the file it reaches is
/*	checked. A FIFO or device is refused before it is read (opened
/*	O_NONBLOCK, then fstat()). The path and the values are returned
/*	as they are: callers show them through mc_text_visible().
/*--*/

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mailcure/mailcure.h"
#include "mailcure/config.h"
#include "internal.h"

#define CONFIG_MAX_SIZE (1024 * 1024)

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static bool name_known(const char *const *names, const char *name)
{
	for (size_t i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

const struct mc_config_entry *mc_config_get(const struct mc_config *config,
					    const char *name)
{
	for (size_t i = 0; i < config->count; i++)
		if (strcmp(config->entries[i].name, name) == 0)
			return &config->entries[i];
	return NULL;
}

/* Append VALUE (LEN bytes) to the last entry's value. */
static void entry_continue(struct mc_config_entry *e, const char *value, size_t len)
{
	size_t old = strlen(e->value);

	e->value = mc_xrealloc(e->value, old + 1 + len + 1);
	if (old > 0)
		e->value[old++] = ' ';
	memcpy(e->value + old, value, len);
	e->value[old + len] = '\0';
}

static int entry_check(const struct mc_config *c, const struct mc_config_entry *e,
		       char **error_r)
{
	if (e->value[0] == '\0')
		return mc_error_set(error_r, "%s:%u: %s has no value", c->path,
				    e->line, e->name);
	return 0;
}

/* One line (LEN bytes, no newline) at LINENO. */
static int parse_line(struct mc_config *c, const char *const *names, const char *s,
		      size_t len, unsigned lineno, char **error_r)
{
	size_t i = 0, name_len, v;

	while (len > 0 && is_blank(s[len - 1]))
		len--;
	for (size_t k = 0; k < len; k++) {
		if ((unsigned char)s[k] < 0x20 && s[k] != '\t')
			return mc_error_set(error_r, "%s:%u: control character 0x%02x",
					    c->path, lineno, (unsigned char)s[k]);
		if (s[k] == 0x7f)
			return mc_error_set(error_r, "%s:%u: control character 0x7f",
					    c->path, lineno);
	}
	while (i < len && is_blank(s[i]))
		i++;
	if (i == len || s[i] == '#')
		return 0;
	if (i > 0) {
		if (c->count == 0)
			return mc_error_set(error_r, "%s:%u: a continuation line (it starts "
					    "with a space) without a setting above it",
					    c->path, lineno);
		entry_continue(&c->entries[c->count - 1], s + i, len - i);
		return 0;
	}
	while (i < len && is_name_char(s[i]))
		i++;
	name_len = i;
	while (i < len && is_blank(s[i]))
		i++;
	if (name_len == 0 || i == len || s[i] != '=')
		return mc_error_set(error_r, "%s:%u: not a 'name = value' line", c->path,
				    lineno);
	v = i + 1;
	while (v < len && is_blank(s[v]))
		v++;

	char *name = mc_xstrndup(s, name_len);
	if (!name_known(names, name)) {
		mc_error_set(error_r, "%s:%u: unknown setting %s", c->path, lineno, name);
		free(name);
		return -1;
	}
	const struct mc_config_entry *prev = mc_config_get(c, name);
	if (prev != NULL) {
		mc_error_set(error_r, "%s:%u: %s is set twice (first at line %u)",
			     c->path, lineno, name, prev->line);
		free(name);
		return -1;
	}
	if (c->count > 0 && entry_check(c, &c->entries[c->count - 1], error_r) < 0) {
		free(name);
		return -1;
	}
	c->entries = mc_xrealloc(c->entries, (c->count + 1) * sizeof(*c->entries));
	c->entries[c->count].name = name;
	c->entries[c->count].value = mc_xstrndup(s + v, len - v);
	c->entries[c->count].line = lineno;
	c->count++;
	return 0;
}

int mc_config_parse(const char *path, const char *text, size_t size,
		    const char *const *names, struct mc_config **config_r,
		    char **error_r)
{
	struct mc_config *c = mc_xcalloc(1, sizeof(*c));
	unsigned lineno = 0;
	size_t pos = 0;

	c->path = mc_xstrdup(path);
	while (pos < size) {
		const char *nl = memchr(text + pos, '\n', size - pos);
		size_t len = nl != NULL ? (size_t)(nl - (text + pos)) : size - pos;

		/* A file of more lines than an unsigned counts is no
		   settings file; stop counting rather than wrap. */
		if (lineno == ~0u) {
			mc_error_set(error_r, "%s: too many lines", path);
			mc_config_free(&c);
			return -1;
		}
		lineno++;
		if (parse_line(c, names, text + pos, len, lineno, error_r) < 0) {
			mc_config_free(&c);
			return -1;
		}
		pos += len + (nl != NULL);
	}
	if (c->count > 0 && entry_check(c, &c->entries[c->count - 1], error_r) < 0) {
		mc_config_free(&c);
		return -1;
	}
	*config_r = c;
	return 0;
}

int mc_config_file_read(const char *path, size_t max, bool missing_ok,
			char **text_r, size_t *len_r, char **error_r)
{
	unsigned char *buf = NULL;
	char *why = NULL;
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT && missing_ok) {
		*text_r = NULL;
		*len_r = 0;
		return 0;
	}
	if (fd < 0)
		return mc_error_errno(error_r, "%s", path);
	if (fstat(fd, &st) < 0) {
		ret = mc_error_errno(error_r, "%s: fstat", path);
		close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return mc_error_set(error_r, "%s: not a regular file", path);
	}
	if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022) != 0) {
		close(fd);
		return mc_error_set(error_r, "%s: refused: it must be owned by root (or "
				    "this user) and writable by nobody else (owner %u, "
				    "mode %04o)", path, (unsigned)st.st_uid,
				    (unsigned)(st.st_mode & 07777));
	}
	if (mc_read_fd(fd, max, &buf, len_r, &why) < 0) {
		close(fd);
		mc_error_set(error_r, "%s: %s", path, why);
		free(why);
		return -1;
	}
	close(fd);
	*text_r = (char *)buf;
	return 0;
}

int mc_config_read(const char *path, bool missing_ok,
		   const char *const *names, struct mc_config **config_r,
		   char **error_r)
{
	char *text;
	size_t len;
	int ret;

	if (mc_config_file_read(path, CONFIG_MAX_SIZE, missing_ok, &text, &len,
				error_r) < 0)
		return -1;
	if (text == NULL) {
		*config_r = mc_xcalloc(1, sizeof(**config_r));
		(*config_r)->path = mc_xstrdup(path);
		(*config_r)->missing = true;
		return 0;
	}
	ret = mc_config_parse(path, text, len, names, config_r, error_r);
	free(text);
	return ret;
}

void mc_config_free(struct mc_config **config)
{
	struct mc_config *c = *config;

	if (c == NULL)
		return;
	for (size_t i = 0; i < c->count; i++) {
		free(c->entries[i].name);
		free(c->entries[i].value);
	}
	free(c->entries);
	free(c->path);
	free(c);
	*config = NULL;
}
