/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	watch_hooks 3
/* SUMMARY
/*	mailcure watch: the policy and the notifications, built in
/* SYNOPSIS
/*	#include "watch.h"
/* DESCRIPTION
/*	The one place where watch asks what to do with a hit and whom
/*	to tell. The policy built in quarantines every hit, read or
/*	unread, and acts on at most 50 messages per mailbox and 500 in
/*	total per detection change. A --policy FILE may change the caps
/*	with lines "max-per-mailbox N" and "max-total N", and the action
/*	with lines "KIND read|unread ACTION" (KIND virus, yara, ioc or
/*	query; ACTION quarantine, junk or report); '#' starts a comment,
/*	any other line is an error. Notifications are off.
/* DIAGNOSTICS
/*	watch_policy_load() returns -1 with FILE:LINE and why.
/*--*/

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch.h"

struct watch_policy {
	unsigned cap_mailbox, cap_total;
	/* [kind][seen] */
	enum watch_action action[4][2];
};

static const char *const kind_names[] = { "virus", "yara", "ioc", "query" };
static const char *const action_names[] = { "quarantine", "junk", "report" };

/* "KIND read|unread ACTION" */
static int action_line(struct watch_policy *pol, const char *line)
{
	char kind[16], seen[16], action[16], extra[2];
	int k = -1, a = -1;

	if (sscanf(line, " %15s %15s %15s %1s", kind, seen, action, extra) != 3 ||
	    (strcmp(seen, "read") != 0 && strcmp(seen, "unread") != 0))
		return -1;
	for (int i = 0; i < 4; i++)
		k = strcmp(kind, kind_names[i]) == 0 ? i : k;
	for (int i = 0; i < 3; i++)
		a = strcmp(action, action_names[i]) == 0 ? i : a;
	if (k < 0 || a < 0)
		return -1;
	pol->action[k][strcmp(seen, "read") == 0] = (enum watch_action)a;
	return 0;
}

static int policy_line(struct watch_policy *pol, char *line)
{
	char key[32], extra[2];
	unsigned long value;

	line[strcspn(line, "#\n")] = '\0';
	if (line[strspn(line, " \t")] == '\0')
		return 0;
	if (sscanf(line, " %31s %lu %1s", key, &value, extra) != 2 || value == 0 ||
	    value > 1000000000UL)
		return action_line(pol, line);
	if (strcmp(key, "max-per-mailbox") == 0)
		pol->cap_mailbox = (unsigned)value;
	else if (strcmp(key, "max-total") == 0)
		pol->cap_total = (unsigned)value;
	else
		return -1;
	return 0;
}

int watch_policy_load(const char *path, struct watch_policy **pol_r, char **error_r)
{
	struct watch_policy *pol = watch_xcalloc(1, sizeof(*pol));
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	FILE *fp;

	pol->cap_mailbox = 50;
	pol->cap_total = 500;
	*pol_r = pol;
	if (path == NULL)
		return 0;
	if ((fp = fopen(path, "re")) == NULL) {
		*pol_r = NULL;
		free(pol);
		return mc_error_errno(error_r, "%s", path);
	}
	while (getline(&line, &cap, fp) > 0) {
		lineno++;
		if (policy_line(pol, line) < 0) {
			mc_error_set(error_r, "%s:%u: not \"max-per-mailbox N\", "
				     "\"max-total N\" or \"KIND read|unread ACTION\"",
				     path, lineno);
			free(pol);
			*pol_r = NULL;
			break;
		}
	}
	free(line);
	fclose(fp);
	return *pol_r == NULL ? -1 : 0;
}

enum watch_action watch_policy_action(const struct watch_policy *pol,
				      enum watch_kind kind, bool seen)
{
	return pol->action[kind][seen];
}

unsigned watch_policy_cap_mailbox(const struct watch_policy *pol)
{
	return pol->cap_mailbox;
}

unsigned watch_policy_cap_total(const struct watch_policy *pol)
{
	return pol->cap_total;
}

void watch_policy_free(struct watch_policy **pol)
{
	free(*pol);
	*pol = NULL;
}

void watch_notify_run(struct watch *w, const char *run_id)
{
	(void)w;
	(void)run_id;
}

void *watch_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		abort();
	return p;
}
