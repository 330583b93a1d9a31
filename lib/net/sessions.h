/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	sessions 3h
/* SUMMARY
/*	the open sessions of Dovecot, from doveadm who
/* SYNOPSIS
/*	#include "sessions.h"
/* DESCRIPTION
/*	See sessions.c.
/*--*/

#ifndef MAILCURE_SESSIONS_H
#define MAILCURE_SESSIONS_H

#include <stddef.h>

struct mc_doveadm;

struct mc_session {
	char *user, *proto, *ip;
};

/* Open sessions from "doveadm -f tab who -1": 0, or -1 with *why_r
   (malloc()ed). */
int mc_sessions_list(const struct mc_doveadm *dv, struct mc_session **s_r,
		     size_t *count_r, char **why_r);
void mc_sessions_free(struct mc_session *s, size_t count);

#endif
