/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	mbox_split 3h
/* SUMMARY
/*	split an mbox file into its items
/* SYNOPSIS
/*	#include "mbox_split.h"
/* DESCRIPTION
/*	The splitter of the mbox store: see mbox_split.c.
/*--*/

#ifndef MAILCURE_MBOX_SPLIT_H
#define MAILCURE_MBOX_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the scan stands: at the start of a line, inside a line, or
   inside the run of '>' that starts a line. */
enum line_state { LN_START, LN_SKIP, LN_GT };

struct mbox_reader {
	int fd;
	uint64_t limit;		/* read up to this offset */
	unsigned char *buf;
	size_t cap, len;	/* buf[lo..len) are file bytes */
	size_t lo;
	int64_t buf_off;	/* file offset of buf[0] */
	uint64_t read_off;
	bool eof, started, done;
	/* The current item. */
	uint64_t item_off;
	bool garbage;		/* before the first From_ line */
	bool keep_start;	/* buf holds it from its first byte */
	size_t quoted;		/* its ">From " lines */
	size_t scan;		/* next byte to look at, in buf */
	enum line_state ln;
	uint64_t fl_len;	/* its first line with the newline, 0 = not found yet */
	uint64_t hscan;		/* file offset: the search for fl_len / head_end */
	uint64_t head_end;	/* file offset after its header block, 0 = not found */
	bool head_given_up;
	unsigned char *head;	/* raw header block after the From_ line */
	size_t head_len;
};

struct mbox_span {
	uint64_t offset, length;
	bool garbage;
	bool last;
	size_t quoted;		/* ">From " lines in data */
	size_t data_skip;	/* raw bytes before data: the From_ line */
	size_t data_trim;	/* raw bytes after data: the separator */
	/* The whole item (valid until the next call), or NULL when only
	   its head was kept. */
	const unsigned char *bytes;
	/* Its header block as stored (malloc()ed, the caller's), or NULL. */
	unsigned char *head;
	size_t head_len;
};

/* Read FD up to offset LIMIT. */
void mc_mbox_reader_init(struct mbox_reader *r, int fd, uint64_t limit);
void mc_mbox_reader_deinit(struct mbox_reader *r);
/* The next item of the file: 1 with *span_r, 0 at the end, -1 on a
   read error. */
int mc_mbox_reader_next(struct mbox_reader *r, struct mbox_span *span_r,
			char **error_r);
/* Undo one level of >From quoting in the N bytes at IN, writing to
   OUT (which may be IN). Returns the new length. */
size_t mc_mbox_unquote(const unsigned char *in, size_t n, unsigned char *out);

#endif
