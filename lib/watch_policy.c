/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	watch_policy 3
/* SUMMARY
/*	what watch does with a message that a changed detection hits
/* SYNOPSIS
/*	#include "mailcure/watch_policy.h"
/*
/*	int	mc_watch_policy_load(const char *path,
/*		struct mc_watch_policy **pol_r, char **err_r)
/*
/*	enum mc_watch_action mc_watch_policy_action(
/*		const struct mc_watch_policy *pol,
/*		enum mc_watch_kind kind, bool seen)
/*
/*	unsigned mc_watch_policy_cap_mailbox(pol)
/*	unsigned mc_watch_policy_cap_total(pol)
/*
/*	void	mc_watch_policy_free(struct mc_watch_policy **pol)
/* DESCRIPTION
/*	The policy file of "mailcure watch", a settings file of
/*	"name = value" lines read by lib/config.c (the form of
/*	mailcure.conf). The settings:
/* .IP "KIND_unread, KIND_read"
/*	For KIND virus, yara, ioc and query: what to do with a message
/*	that a detection of that kind now hits, when its owner has not
/*	read it yet and when they have: quarantine, junk (move it to
/*	the owner's Junk folder) or report. Defaults: virus_unread and
/*	virus_read quarantine, every other report: malware goes, read or
/*	not, as in the zero-hour purge of hosted mail; a rule or
/*	indicator written by the site is only reported until the
/*	administrator says otherwise.
/* .IP "max_per_mailbox, max_total"
/*	Caps per change of detections (a bad signature must not empty
/*	the server): at most max_per_mailbox messages of one mailbox and
/*	max_total in all are acted on (defaults 50 and 1000, 1 to
/*	10000000); beyond that watch only reports and waits for
/*	approval.
/* .IP "notify_users, notify_admin"
/*	A digest to each mailbox owner whose mail was acted on (no or
/*	yes, default no), and to this administrator address (default
/*	none).
/* .IP "notify_template, notify_admin_template"
/*	The template files of those digests (lib/notify.c); default:
/*	the built-in ones.
/* .IP "notify_from, sendmail"
/*	The sender of the digests (default postmaster) and the sendmail
/*	program of the MTA that delivers them (default
/*	/usr/sbin/sendmail).
/* DIAGNOSTICS
/*	-1 with "PATH:LINE: why": a malformed line, an unknown setting,
/*	one given twice, a value that is not one of those allowed, an
/*	address that is not a plain one (lib/notify.c), a path that is
/*	not absolute. lib/config.c refuses a file others may write.
/* SECURITY
/*	The policy decides what root removes from mailboxes and which
/*	program root runs: it is trusted as mailcure.conf is (owned by
/*	root, writable by nobody else). Addresses are checked here so
/*	that none reaches sendmail's argument vector or a header as
/*	anything but an address.
/*--*/

#include <stdlib.h>
#include <string.h>

#include "mailcure/mailcure.h"
#include "mailcure/config.h"
#include "mailcure/notify.h"
#include "mailcure/watch_policy.h"
#include "internal.h"

#define CAP_MAX 10000000u

struct mc_watch_policy {
	enum mc_watch_action action[MC_WATCH_KINDS][2];	/* [kind][seen] */
	unsigned cap_mailbox, cap_total;
	bool notify_users;
	char *notify_admin, *notify_template, *notify_admin_template;
	char *notify_from, *sendmail;
};

static const char *const kind_names[MC_WATCH_KINDS] = {
	"virus", "yara", "ioc", "query",
};
static const char *const action_names[] = {
	"quarantine", "junk", "report",
};

static const char *const names[] = {
	"virus_unread", "virus_read", "yara_unread", "yara_read",
	"ioc_unread", "ioc_read", "query_unread", "query_read",
	"max_per_mailbox", "max_total", "notify_users", "notify_admin",
	"notify_template", "notify_admin_template", "notify_from", "sendmail",
	NULL,
};

const char *mc_watch_kind_name(enum mc_watch_kind kind)
{
	return (unsigned)kind < MC_WATCH_KINDS ? kind_names[kind] : "?";
}

const char *mc_watch_action_name(enum mc_watch_action action)
{
	return (unsigned)action <= MC_WATCH_REPORT ? action_names[action] : "?";
}

static struct mc_watch_policy *policy_default(void)
{
	struct mc_watch_policy *pol = mc_xcalloc(1, sizeof(*pol));

	for (unsigned k = 0; k < MC_WATCH_KINDS; k++)
		pol->action[k][0] = pol->action[k][1] = MC_WATCH_REPORT;
	pol->action[MC_WATCH_VIRUS][0] = pol->action[MC_WATCH_VIRUS][1] =
		MC_WATCH_QUARANTINE;
	pol->cap_mailbox = MC_WATCH_CAP_MAILBOX_DEFAULT;
	pol->cap_total = MC_WATCH_CAP_TOTAL_DEFAULT;
	pol->notify_from = mc_xstrdup(MC_WATCH_NOTIFY_FROM_DEFAULT);
	pol->sendmail = mc_xstrdup(MC_WATCH_SENDMAIL_DEFAULT);
	return pol;
}

/* "PATH:LINE: NAME = VALUE: WHY" with the value made visible. */
static int value_error(const struct mc_config *c, const struct mc_config_entry *e,
		       const char *why, char **err_r)
{
	char *shown = mc_text_visible(e->value);

	mc_error_set(err_r, "%s:%u: %s = %s: %s", c->path, e->line, e->name, shown, why);
	free(shown);
	return -1;
}

static int set_action(struct mc_watch_policy *pol, const struct mc_config *c,
		      const struct mc_config_entry *e, char **err_r)
{
	size_t len = strcspn(e->name, "_");
	bool seen = strcmp(e->name + len, "_read") == 0;

	for (unsigned k = 0; k < MC_WATCH_KINDS; k++) {
		if (strlen(kind_names[k]) != len || strncmp(kind_names[k], e->name, len) != 0)
			continue;
		for (unsigned a = 0; a <= MC_WATCH_REPORT; a++) {
			if (strcmp(e->value, action_names[a]) == 0) {
				pol->action[k][seen] = a;
				return 0;
			}
		}
	}
	return value_error(c, e, "not quarantine, junk or report", err_r);
}

static int set_cap(unsigned *cap_r, const struct mc_config *c,
		   const struct mc_config_entry *e, char **err_r)
{
	unsigned long v = 0;

	for (const char *p = e->value; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || v > CAP_MAX)
			return value_error(c, e, "not a number from 1 to 10000000", err_r);
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < 1 || v > CAP_MAX)
		return value_error(c, e, "not a number from 1 to 10000000", err_r);
	*cap_r = (unsigned)v;
	return 0;
}

/* An address (ADMIN: or "none", then *to_r NULL). */
static int set_address(char **to_r, bool admin, const struct mc_config *c,
		       const struct mc_config_entry *e, char **err_r)
{
	free(*to_r);
	*to_r = NULL;
	if (admin && strcmp(e->value, "none") == 0)
		return 0;
	if (!mc_notify_address_valid(e->value))
		return value_error(c, e, admin ? "not a plain mail address (user@domain, "
				   "or a local user) nor none" : "not a plain mail address "
				   "(user@domain, or a local user)", err_r);
	*to_r = mc_xstrdup(e->value);
	return 0;
}

static int set_path(char **path_r, const struct mc_config *c,
		    const struct mc_config_entry *e, char **err_r)
{
	if (e->value[0] != '/')
		return value_error(c, e, "not an absolute path", err_r);
	free(*path_r);
	*path_r = mc_xstrdup(e->value);
	return 0;
}

static int set_entry(struct mc_watch_policy *pol, const struct mc_config *c,
		     const struct mc_config_entry *e, char **err_r)
{
	const char *n = e->name;

	if (strcmp(n, "max_per_mailbox") == 0)
		return set_cap(&pol->cap_mailbox, c, e, err_r);
	if (strcmp(n, "max_total") == 0)
		return set_cap(&pol->cap_total, c, e, err_r);
	if (strcmp(n, "notify_users") == 0) {
		if (strcmp(e->value, "yes") != 0 && strcmp(e->value, "no") != 0)
			return value_error(c, e, "not yes or no", err_r);
		pol->notify_users = strcmp(e->value, "yes") == 0;
		return 0;
	}
	if (strcmp(n, "notify_admin") == 0)
		return set_address(&pol->notify_admin, true, c, e, err_r);
	if (strcmp(n, "notify_from") == 0)
		return set_address(&pol->notify_from, false, c, e, err_r);
	if (strcmp(n, "notify_template") == 0)
		return set_path(&pol->notify_template, c, e, err_r);
	if (strcmp(n, "notify_admin_template") == 0)
		return set_path(&pol->notify_admin_template, c, e, err_r);
	if (strcmp(n, "sendmail") == 0)
		return set_path(&pol->sendmail, c, e, err_r);
	return set_action(pol, c, e, err_r);
}

/* The policy of configuration C (NULL: the defaults). */
static int policy_from_config(const struct mc_config *c, struct mc_watch_policy **pol_r,
			      char **err_r)
{
	struct mc_watch_policy *pol = policy_default();

	for (size_t i = 0; c != NULL && i < c->count; i++) {
		if (set_entry(pol, c, &c->entries[i], err_r) < 0) {
			mc_watch_policy_free(&pol);
			return -1;
		}
	}
	*pol_r = pol;
	return 0;
}

int mc_watch_policy_parse(const char *path, const char *text, size_t size,
			  struct mc_watch_policy **pol_r, char **err_r)
{
	struct mc_config *c = NULL;
	int ret;

	if (mc_config_parse(path, text, size, names, &c, err_r) < 0)
		return -1;
	ret = policy_from_config(c, pol_r, err_r);
	mc_config_free(&c);
	return ret;
}

int mc_watch_policy_load(const char *path, struct mc_watch_policy **pol_r, char **err_r)
{
	struct mc_config *c = NULL;
	int ret;

	if (path == NULL)
		return policy_from_config(NULL, pol_r, err_r);
	if (mc_config_read(path, false, names, &c, err_r) < 0)
		return -1;
	ret = policy_from_config(c, pol_r, err_r);
	mc_config_free(&c);
	return ret;
}

enum mc_watch_action mc_watch_policy_action(const struct mc_watch_policy *pol,
					    enum mc_watch_kind kind, bool seen)
{
	/* A kind this policy does not know is reported, never acted on. */
	if ((unsigned)kind >= MC_WATCH_KINDS)
		return MC_WATCH_REPORT;
	return pol->action[kind][seen ? 1 : 0];
}

unsigned mc_watch_policy_cap_mailbox(const struct mc_watch_policy *pol)
{
	return pol->cap_mailbox;
}

unsigned mc_watch_policy_cap_total(const struct mc_watch_policy *pol)
{
	return pol->cap_total;
}

bool mc_watch_policy_notify_users(const struct mc_watch_policy *pol)
{
	return pol->notify_users;
}

const char *mc_watch_policy_notify_admin(const struct mc_watch_policy *pol)
{
	return pol->notify_admin;
}

const char *mc_watch_policy_notify_template(const struct mc_watch_policy *pol)
{
	return pol->notify_template;
}

const char *mc_watch_policy_notify_admin_template(const struct mc_watch_policy *pol)
{
	return pol->notify_admin_template;
}

const char *mc_watch_policy_notify_from(const struct mc_watch_policy *pol)
{
	return pol->notify_from;
}

const char *mc_watch_policy_sendmail(const struct mc_watch_policy *pol)
{
	return pol->sendmail;
}

void mc_watch_policy_free(struct mc_watch_policy **pol)
{
	struct mc_watch_policy *p = *pol;

	if (p == NULL)
		return;
	free(p->notify_admin);
	free(p->notify_template);
	free(p->notify_admin_template);
	free(p->notify_from);
	free(p->sendmail);
	free(p);
	*pol = NULL;
}
