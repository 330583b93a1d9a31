/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	dovecot-private 3h
/* SUMMARY
/*	the doveadm output reader, shared by the dovecot: store and its parser
/* SYNOPSIS
/*	#include "store/dovecot-private.h"
/* DESCRIPTION
/*	See lib/store/dovecot_parse.c.
/*--*/

#ifndef MAILCURE_DOVECOT_PRIVATE_H
#define MAILCURE_DOVECOT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fields of one message, in the order they are requested (and thus
   printed). */
#define RECORD_FIELDS "mailbox-guid uid guid flags size.physical mailbox"

struct mc_dovecot_record {
	char mailbox_guid[33];
	uint32_t uid;
	uint64_t size;
	char *guid;
	char *flags;
	char *mailbox;
};

void mc_dovecot_record_clear(struct mc_dovecot_record *r);
/* Move SRC into DST, leaving SRC empty. */
void mc_dovecot_record_move(struct mc_dovecot_record *dst,
			    struct mc_dovecot_record *src);

struct mc_exec_proc;
struct mc_dovecot_reader {
	struct mc_exec_proc *proc;
	/* Without PROC: output held in memory (mc_store_dovecot_parse),
	   handed over at most MEM_CHUNK bytes at a time. */
	const unsigned char *mem;
	size_t mem_len, mem_chunk;
	unsigned char buf[65536];
	size_t pos, len;
	bool eof;
	char *error;			/* a read error, for messages */
};

/* One record of RECORD_FIELDS (and with TEXT the "text:" line that
   starts the message). 1 with *rec, 0 at the end of the output,
   -1 when it is not a well-formed record (*why_r says why). */
int mc_dovecot_record_read(struct mc_dovecot_reader *r, bool text,
			   struct mc_dovecot_record *rec, const char **why_r);
/* Exactly N bytes into DEST (NULL: skipped). 0, or -1 when the output
   ends first. */
int mc_dovecot_reader_exact(struct mc_dovecot_reader *r, unsigned char *dest,
			    uint64_t n);
/* Between records: 1 after a form feed line, 0 at the end of output,
   -1 on anything else. */
int mc_dovecot_reader_separator(struct mc_dovecot_reader *r);

/* Checks of values: no control character; a decimal number up to
   MAX; a mailbox GUID (32 hex digits). */
bool mc_dovecot_no_control(const char *s);
bool mc_dovecot_parse_u64(const char *s, uint64_t max, uint64_t *v_r);
bool mc_dovecot_valid_mailbox_guid(const char *s);

/* Mailbox NAME's GUID and UIDNEXT in the output OUT (cut up) of
   "doveadm -f pager mailbox status 'guid uidnext'": 1 found, 0 not. */
int mc_dovecot_mailbox_status(char *out, const char *name, char guid_r[33],
			      uint64_t *uidnext_r);
/* Flags to set again: all but \Recent; a new string. */
char *mc_dovecot_restorable_flags(const char *flags);

#endif
