/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	exim_spool 3h
/* SUMMARY
/*	parse the spool files of an Exim 4 message
/* SYNOPSIS
/*	#include "store/exim_spool.h"
/* DESCRIPTION
/*	See exim_spool.c.
/*--*/

#ifndef MAILCURE_EXIM_SPOOL_H
#define MAILCURE_EXIM_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct mc_exim_spool {
	char *id;		/* from the first line of the -H file */
	char *sender;		/* envelope sender, "" for <> */
	time_t arrival;
	char **rcpts;		/* still to be delivered */
	size_t rcpt_count;
	size_t rcpt_total;	/* every recipient, delivered or not */
	char **done;		/* non-recipients tree and journal */
	size_t done_count;
	bool frozen;		/* -frozen: Exim froze it (not mailcure) */
	bool wireformat;	/* -D file with CRLF line ends */
	size_t h_len;		/* bytes of the -H file in the buffer */
	unsigned char *content;	/* live headers, empty line, body;
				   NUL-terminated; NULL when envelope_only */
	size_t content_len;
};

/* Parse the -H file in BUF, followed unless ENVELOPE_ONLY by the -D
   file, with the -J file JOURNAL (NULL: none). 0, or -1 with
   *error_r naming the file and what is wrong (SP is then cleared). */
int mc_exim_spool_parse(const unsigned char *buf, size_t len,
			const unsigned char *journal, size_t journal_len,
			bool envelope_only, struct mc_exim_spool *sp,
			char **error_r);
void mc_exim_spool_clear(struct mc_exim_spool *sp);
/* Exim message id syntax: 6-6-2 or 6-11-4 base-62 digits. */
bool mc_exim_id_ok(const char *id);

#endif
