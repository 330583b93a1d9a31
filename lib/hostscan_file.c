/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	hostscan_file 3
/* SUMMARY
/*	the host scan: indicators and YARA rules over one file
/* SYNOPSIS
/*	#include "hostscan-private.h"
/*
/*	void	mc_hostscan_file_match(hs, fd, st, &match)
/*	bool	mc_hostscan_buffer_matches(hs, buf, size)
/* DESCRIPTION
/*	mc_hostscan_file_match() compares the file open on FD (as ST,
/*	after the engine scanned it) with the --ioc indicators and
/*	--yara rules of set->query (mc_query_eval_file): it computes
/*	the hashes the indicators compare, and only those, in one read
/*	of the file; with YARA rules it reads the file into memory once
/*	(it is within max_filesize) and hashes that copy. A file that
/*	changed while it was read, or could not be read, sets
/*	match->problem: the file is then reported unscanned, never
/*	clean. An empty file is not compared: feeds list the hash of
/*	nothing now and then, and every empty file would match it.
/*
/*	mc_hostscan_buffer_matches() tells whether the content BUF,
/*	copied for the quarantine after the file changed since its
/*	scan, still matches: the engine, then the indicators and rules.
/*--*/

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostscan-private.h"

/* Read at a time when only hashing. */
#define HASH_CHUNK (256U << 10)

/* The hashes NEED of the SIZE bytes of FD, read in chunks. */
static int hash_fd(int fd, size_t size, unsigned need, struct mc_file_view *view,
		   char **error_r)
{
	/* Most files are small: a chunk-sized buffer for each would be
	   mapped and unmapped (malloc's threshold) for nothing. */
	unsigned char *buf = mc_xmalloc(size < HASH_CHUNK ? size : HASH_CHUNK);
	struct mc_file_hasher h;
	size_t off = 0;
	char extra;

	mc_file_hasher_init(&h, need);
	while (off < size) {
		size_t want = size - off < HASH_CHUNK ? size - off : HASH_CHUNK;
		ssize_t n = mc_pread_all(fd, buf, want, (off_t)off);
		if (n <= 0 || (size_t)n < want) {
			mc_file_hasher_final(&h, view);
			free(buf);
			return n < 0 ? mc_error_errno(error_r, "read") :
				mc_error_set(error_r, "changed while being scanned");
		}
		mc_file_hasher_update(&h, buf, want);
		off += want;
	}
	mc_file_hasher_final(&h, view);
	free(buf);
	if (pread(fd, &extra, 1, (off_t)size) != 0)
		return mc_error_set(error_r, "changed while being scanned");
	return 0;
}

/* VIEW of BUF (SIZE bytes) with the hashes NEED. */
static void view_of_buffer(struct mc_file_view *view, const unsigned char *buf,
			   size_t size, unsigned need)
{
	struct mc_file_hasher h;

	memset(view, 0, sizeof(*view));
	view->data = buf;
	view->size = size;
	mc_file_hasher_init(&h, need);
	mc_file_hasher_update(&h, buf, size);
	mc_file_hasher_final(&h, view);
}

void mc_hostscan_file_match(struct host_scan *hs, int fd, const struct stat *st,
			    struct mc_match *match)
{
	const struct mc_query *q = hs->set->query;
	unsigned need = hs->file_hashes;
	struct mc_file_view view;
	unsigned char *buf = NULL;
	char *error = NULL;
	struct stat after;
	int ret;

	if (st->st_size == 0 || (need == 0 && !hs->file_data))
		return;
	memset(&view, 0, sizeof(view));
	if (hs->file_data) {
		ret = mc_hostscan_read_whole(fd, (size_t)st->st_size, &buf, &error);
		if (ret == 0)
			view_of_buffer(&view, buf, (size_t)st->st_size, need);
	} else {
		ret = hash_fd(fd, (size_t)st->st_size, need, &view, &error);
	}
	if (ret == 0 && (fstat(fd, &after) < 0 || !mc_hostscan_same_state(st, &after)))
		ret = mc_error_set(&error, "changed while being scanned");
	if (ret == 0)
		mc_query_eval_file(q, &view, match);
	else {
		match->problem = MC_VERDICT_UNSCANNED;
		snprintf(match->why, sizeof(match->why), "%s", error);
	}
	free(error);
	free(buf);
}

bool mc_hostscan_buffer_matches(struct host_scan *hs, const unsigned char *buf,
				size_t size)
{
	const struct mc_host_scan *set = hs->set;
	struct mc_verdict verdict;
	struct mc_file_view view;
	struct mc_match match;
	bool matched;

	set->engine_ops->scan_buffer(set->engine, buf, size, &verdict);
	if (verdict.kind == MC_VERDICT_INFECTED)
		return true;
	if (set->query == NULL || size == 0)
		return false;
	view_of_buffer(&view, buf, size, hs->file_hashes);
	memset(&match, 0, sizeof(match));
	mc_query_eval_file(set->query, &view, &match);
	matched = match.reason_count > 0;
	mc_match_clear(&match);
	return matched;
}
