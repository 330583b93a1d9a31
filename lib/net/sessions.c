/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	sessions 3
/* SUMMARY
/*	the open sessions of Dovecot, from doveadm who
/* SYNOPSIS
/*	#include "sessions.h"
/*
/*	int mc_sessions_list(const struct mc_doveadm *dv,
/*		struct mc_session **s_r, size_t *count_r, char **why_r);
/*	void mc_sessions_free(struct mc_session *s, size_t count);
/* DESCRIPTION
/*	mc_sessions_list() runs "doveadm -f tab who -1" (lib/doveadm.c)
/*	and reads one session per line: user, protocol and client
/*	address, the columns found by their names in the header line
/*	(username, proto or service, ip), so that the column order of a
/*	Dovecot version does not matter. isolate (isolate.c) cuts those
/*	from addresses that are not allowed.
/* DIAGNOSTICS
/*	-1 with *why_r: doveadm could not run or failed (Dovecot not
/*	running), or its output has no ip column.
/* SECURITY
/*	Fields are split on tabs by hand (empty fields count); nothing
/*	read here is passed to a shell.
/*--*/

#include <stdlib.h>
#include <string.h>

#include "mailcure/mailcure.h"
#include "internal.h"
#include "sessions.h"

void mc_sessions_free(struct mc_session *s, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(s[i].user);
		free(s[i].proto);
		free(s[i].ip);
	}
	free(s);
}

/* Open sessions from "doveadm -f tab who -1": 0, or -1 with *why_r. */
int mc_sessions_list(const struct mc_doveadm *dv, struct mc_session **s_r,
		     size_t *count_r, char **why_r)
{
	const char *args[] = { "-f", "tab", "who", "-1", NULL };
	char *out = NULL, *err = NULL, *error = NULL, *save = NULL;
	int col_user = -1, col_proto = -1, col_ip = -1;
	size_t len, cap = 0;
	bool header = true;
	int code;

	*s_r = NULL;
	*count_r = 0;
	code = mc_doveadm_run(dv, args, NULL, 0, 64U << 20, &out, &len, &err, &error);
	if (code < 0) {
		*why_r = error;
		return -1;
	}
	if (code != 0) {
		*why_r = err != NULL ? mc_xasprintf("doveadm who: %s", err) :
			mc_xasprintf("doveadm who failed with exit status %d", code);
		free(err);
		free(out);
		return -1;
	}
	free(err);
	for (char *line = strtok_r(out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *fields[16];
		int n = 0;

		/* Empty fields matter: split by hand on tabs. */
		for (char *f = line; n < 16; ) {
			fields[n++] = f;
			char *tab = strchr(f, '\t');
			if (tab == NULL)
				break;
			*tab = '\0';
			f = tab + 1;
		}
		if (header) {
			for (int i = 0; i < n; i++) {
				if (strcmp(fields[i], "username") == 0)
					col_user = i;
				else if (strcmp(fields[i], "proto") == 0 ||
					 strcmp(fields[i], "service") == 0)
					col_proto = i;
				else if (strcmp(fields[i], "ip") == 0)
					col_ip = i;
			}
			header = false;
			if (col_ip < 0) {
				free(out);
				*why_r = mc_xstrdup("doveadm who: no ip column in its output");
				return -1;
			}
			continue;
		}
		if (col_ip >= n)
			continue;
		struct mc_session s = {
			.user = mc_xstrdup(col_user >= 0 && col_user < n ? fields[col_user] : "?"),
			.proto = mc_xstrdup(col_proto >= 0 && col_proto < n ? fields[col_proto] : "?"),
			.ip = mc_xstrdup(fields[col_ip]),
		};
		MC_ARRAY_PUSH(*s_r, *count_r, cap, s);
	}
	free(out);
	return 0;
}
