/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	settings 1
/* SUMMARY
/*	the settings file of the mailcure command
/* SYNOPSIS
/*	#include "commands.h"
/*
/*	void	mc_cli_settings_load(struct mc_global *g, int argc,
/*		char **argv)
/*
/*	const char *const *mc_cli_setting_names(void)
/* DESCRIPTION
/*	mc_cli_settings_load() reads the settings file before the
/*	command line is parsed, so that every option given there
/*	overrides the file's setting of the same name: the file named
/*	by the last "--config FILE" (or "--config=FILE") in ARGV
/*	before a "--", else MC_DEFAULT_CONFIG
/*	(/etc/mailcure/mailcure.conf), which need not exist. The file
/*	has the form lib/config.c parses (name = value, # comments).
/*
/*	A global option's setting is the option's long name with '_'
/*	for '-' (state_dir = DIR is --state-dir DIR), applied by the
/*	option's own code in main.c, so that both take the same values.
/*	database, clamd, yara, ioc and isolate_allow take a list (separated
/*	by commas or blanks); -d, --clamd, --yara and --ioc on the command line
/*	replace the file's whole list, as --allow does isolate_allow. isolate_ports and isolate_allow
/*	are what isolate (and so respond) use without --ports and
/*	--allow; postfix_config is the --postfix-config of queue and
/*	respond. dovecot_config is ignored when $MAILCURE_DOVECOT_CONFIG
/*	is set: the environment, like the command line, is the
/*	administrator's word for this one run. A path must be absolute:
/*	the file does not know the directory mailcure is run from.
/*
/*	With -h, --help, -V or --version before a "--" no file is read:
/*	they print what they print whatever the file holds.
/*
/*	mc_cli_setting_names() lists the names the file may hold.
/* DIAGNOSTICS
/*	A file that cannot be read or parsed, an unknown setting, one
/*	given twice, or a value its option refuses ends mailcure with
/*	exit status 2 and a message "FILE:LINE: why" (mc_cli_where is
/*	"FILE:LINE: " while an option's code checks a value).
/* SECURITY
/*	See lib/config.c: the file must be owned by root (or the user
/*	running mailcure) and writable by nobody else. Values reach the
/*	terminal only through mc_output_vfprintf().
/*--*/

#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "mailcure/config.h"

/* One line per setting; a global option's setting names the option. */
static const struct setting {
	const char *name;
	const char *option;	/* the global option it gives, or NULL */
	bool list;		/* a list, each item the option once */
	bool path;		/* absolute paths only */
} settings[] = {
	{ "database", "database", true, true },
	{ "clamd", "clamd", true, false },
	{ "yara", "yara", true, true },
	{ "ioc", "ioc", true, true },
	{ "jobs", "jobs", false, false },
	{ "quarantine", "quarantine", false, true },
	{ "state_dir", "state-dir", false, true },
	{ "tempdir", "tempdir", false, true },
	{ "scan", "scan", false, false },
	{ "cache", "cache", false, true },
	{ "cache_size", "cache-size", false, false },
	{ "max_message_size", "max-message-size", false, false },
	{ "max_mime_parts", "max-mime-parts", false, false },
	{ "max_mime_depth", "max-mime-depth", false, false },
	{ "max_scan_time", "max-scan-time", false, false },
	{ "progress", "progress", false, false },
	{ "dovecot_config", NULL, false, true },
	{ "isolate_allow", NULL, true, false },
	{ "isolate_ports", NULL, false, false },
	{ "postfix_config", NULL, false, true },
};
#define SETTING_COUNT (sizeof(settings) / sizeof(settings[0]))

const char *mc_cli_where = "";

/* The file stays loaded: its values are the settings' strings. */
static struct mc_config *loaded;
static const char **allow;	/* isolate_allow */

const char *const *mc_cli_setting_names(void)
{
	static const char *names[SETTING_COUNT + 1];

	for (size_t i = 0; i < SETTING_COUNT; i++)
		names[i] = settings[i].name;
	return names;
}

/* The file named by --config, NULL without one. *HELP_R: -h, --help,
   -V or --version is there, which need no settings. */
static const char *config_path(int argc, char **argv, bool *help_r)
{
	const char *path = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0)
			*help_r = true;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
	}
	return path;
}

/* Split a list value in place; returns the next item or NULL. */
static char *list_next(char **save)
{
	char *p = *save, *item;

	p += strspn(p, ", \t");
	if (*p == '\0')
		return NULL;
	item = p;
	p += strcspn(p, ", \t");
	if (*p != '\0')
		*p++ = '\0';
	*save = p;
	return item;
}

static void apply_item(struct mc_global *g, const struct setting *s, const char *v)
{
	char *error = NULL;

	if (s->path && v[0] != '/')
		mc_die_usage("%s: not an absolute path: %s", s->name, v);
	if (s->option != NULL) {
		mc_cli_global_setting(g, s->option, v);
	} else if (strcmp(s->name, "dovecot_config") == 0) {
		if (getenv("MAILCURE_DOVECOT_CONFIG") == NULL)
			mc_cli_global_setting(g, "dovecot-config", v);
	} else if (strcmp(s->name, "isolate_allow") == 0) {
		if (mc_isolate_check_allow(v, &error) < 0)
			mc_die_usage("%s", error);
		allow = realloc(allow, (g->isolate_allow_count + 1) * sizeof(char *));
		if (allow == NULL)
			abort();
		allow[g->isolate_allow_count++] = v;
		g->isolate_allow = allow;
	} else if (strcmp(s->name, "isolate_ports") == 0) {
		uint16_t *ports = NULL;
		size_t count = 0;

		mc_cli_parse_ports(v, &ports, &count);
		free(ports);
		g->isolate_ports = v;
	} else if (strcmp(s->name, "postfix_config") == 0) {
		g->postfix_config = v;
	}
}

void mc_cli_settings_load(struct mc_global *g, int argc, char **argv)
{
	bool help = false;
	const char *path = config_path(argc, argv, &help);
	char *error = NULL;

	/* Usage and version are shown whatever the file holds (bash
	   completion reads them, also as a user who may not read it). */
	if (help)
		return;
	if (mc_config_read(path != NULL ? path : MC_DEFAULT_CONFIG, path == NULL,
			   mc_cli_setting_names(), &loaded, &error) < 0) {
		mc_warn("%s", error);
		free(error);
		exit(MC_EXIT_ERROR);
	}
	for (size_t i = 0; i < loaded->count; i++) {
		const struct mc_config_entry *e = &loaded->entries[i];
		const struct setting *s = NULL;
		char *where, *save = e->value, *item;

		for (size_t k = 0; k < SETTING_COUNT; k++)
			if (strcmp(settings[k].name, e->name) == 0)
				s = &settings[k];
		where = mc_xasprintf("%s:%u: ", loaded->path, e->line);
		mc_cli_where = where;
		if (!s->list) {
			apply_item(g, s, e->value);
		} else {
			size_t n = 0;

			while ((item = list_next(&save)) != NULL && ++n > 0)
				apply_item(g, s, item);
			if (n == 0)
				mc_die_usage("%s has no value", s->name);
		}
		mc_cli_where = "";
		free(where);
	}
	/* -d, --clamd and --yara replace what the file listed (main.c). */
	g->databases_from_file = g->database_count > 0;
	g->clamds_from_file = g->clamd_count > 0;
	g->yara_from_file = g->yara_count > 0;
	g->ioc_from_file = g->ioc_count > 0;
}
