/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	mbox_split 3
/* SUMMARY
/*	split an mbox file into its items, reading each byte once
/* SYNOPSIS
/*	#include "mbox_split.h"
/*
/*	void mc_mbox_reader_init(struct mbox_reader *r, int fd,
/*		uint64_t limit);
/*
/*	int mc_mbox_reader_next(struct mbox_reader *r,
/*		struct mbox_span *span_r, char **error_r);
/*
/*	void mc_mbox_reader_deinit(struct mbox_reader *r);
/*
/*	size_t mc_mbox_unquote(const unsigned char *in, size_t n,
/*		unsigned char *out);
/* DESCRIPTION
/*	The splitter of the mbox store (mbox.c, where the rules for
/*	where a message starts are described). mc_mbox_reader_next()
/*	yields the items of the file one by one: each message from its
/*	From_ line through its separator, and the bytes before the
/*	first From_ line as an item of their own (garbage). The file is
/*	read with plain reads into a window small enough to stay in the
/*	CPU cache, each byte once; only lines that start with 'F' or
/*	'>' are looked at more closely, found 32 bytes at a time. An
/*	item up to WHOLE_MAX bytes is handed over whole; of a larger one
/*	only its header block (up to HEAD_MAX). Reading stops at LIMIT,
/*	the size the file had when it was opened.
/*
/*	mc_mbox_unquote() undoes one level of mboxrd >From quoting.
/* DIAGNOSTICS
/*	A read error ends the walk with -1 and *error_r.
/* SECURITY
/*	The file is never mmap()ed (a truncation would be SIGBUS), and
/*	every offset is checked against what was read.
/*--*/

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "store-private.h"
#include "mbox_split.h"

/* The read window: small enough to stay in the CPU cache, which
   the kernel copies into and the splitter reads from. */
#define WINDOW (256 * 1024)
#define READ_MIN (64 * 1024)
#define FROM_LINE_MAX 1024
/* Longer than any header field name ("Content-Transfer-Encoding"). */
#define HEADER_NAME_MAX 76
/* Bytes kept before the scan position: the empty line check. */
#define SKIP_KEEP 16
/* Items up to this size are taken whole as they are read. */
#define WHOLE_MAX (16 * 1024)
/* A header block longer than this is not kept apart: the message is
   read whole when it is needed. */
#define HEAD_MAX (64 * 1024)

/* Spare windows. A window is above malloc's mmap threshold, so a
   fresh one is a fresh mapping whose pages fault in one by one as
   the first reads land in them; a tree of small mboxes would spend
   more time on that than on splitting. Readers pass windows on. */
#define SPARE_WINDOWS 4
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *spare[SPARE_WINDOWS];
static unsigned spare_count;

void mc_mbox_reader_init(struct mbox_reader *r, int fd, uint64_t limit)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->limit = limit;
	r->cap = WINDOW;
	pthread_mutex_lock(&spare_lock);
	if (spare_count > 0)
		r->buf = spare[--spare_count];
	pthread_mutex_unlock(&spare_lock);
	if (r->buf == NULL)
		r->buf = mc_store_buf_new(r->cap);
}

void mc_mbox_reader_deinit(struct mbox_reader *r)
{
	if (r->buf != NULL && r->cap == WINDOW) {
		pthread_mutex_lock(&spare_lock);
		if (spare_count < SPARE_WINDOWS) {
			spare[spare_count++] = r->buf;
			r->buf = NULL;
		}
		pthread_mutex_unlock(&spare_lock);
	}
	free(r->buf);
	free(r->head);
	r->buf = NULL;
	r->head = NULL;
}

/* Drop the bytes before KEEP, make room, read more. Returns 1 when
   bytes were read, 0 at the end, -1 on error. The kept bytes are
   moved so that the read lands on a cache line boundary. */
static int reader_fill(struct mbox_reader *r, size_t keep, char **error_r)
{
	ssize_t n;
	size_t want;

	if (r->eof)
		return 0;
	if (keep < r->lo)
		keep = r->lo;
	if (r->cap - r->len < READ_MIN) {
		size_t kept = r->len - keep;
		size_t pad = (64 - kept % 64) % 64;

		if (pad + kept + READ_MIN > r->cap) {
			size_t cap = r->cap * 2 > pad + kept + READ_MIN ? r->cap * 2 :
				pad + kept + READ_MIN;
			unsigned char *fresh = mc_store_buf_new(cap);

			memcpy(fresh + pad, r->buf + keep, kept);
			free(r->buf);
			r->buf = fresh;
			r->cap = cap;
		} else {
			memmove(r->buf + pad, r->buf + keep, kept);
		}
		r->buf_off += (int64_t)keep - (int64_t)pad;
		r->scan = r->scan - keep + pad;
		r->lo = pad;
		r->len = pad + kept;
	}
	want = (r->cap - r->len) & ~(size_t)63;
	if (r->limit - r->read_off < want)
		want = (size_t)(r->limit - r->read_off);
	if (want == 0) {
		r->eof = true;
		return 0;
	}
	do {
		n = pread(r->fd, r->buf + r->len, want, (off_t)r->read_off);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return mc_error_errno(error_r, "read at offset %llu",
				      (unsigned long long)r->read_off);
	if (n == 0) {
		r->eof = true;
		return 0;
	}
	r->len += (size_t)n;
	r->read_off += (uint64_t)n;
	return 1;
}

/* The next line start in [P, E) whose line begins with 'F' or '>',
   the only lines the splitter needs to look at (From_ lines, >From
   quoting), or NULL. Mail has a line every 70 bytes or so; looking
   at pairs of bytes 32 at a time instead of at each line is what
   lets the splitter keep up with reading from the page cache. */
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2")))
static const unsigned char *find_candidate_avx2(const unsigned char *p,
						const unsigned char *e)
{
	const __m256i nl = _mm256_set1_epi8('\n');
	const __m256i f = _mm256_set1_epi8('F');
	const __m256i gt = _mm256_set1_epi8('>');

	for (; e - p >= 33; p += 32) {
		__m256i a = _mm256_loadu_si256((const __m256i *)p);
		__m256i b = _mm256_loadu_si256((const __m256i *)(p + 1));
		__m256i m = _mm256_and_si256(_mm256_cmpeq_epi8(a, nl),
			_mm256_or_si256(_mm256_cmpeq_epi8(b, f), _mm256_cmpeq_epi8(b, gt)));
		unsigned mask = (unsigned)_mm256_movemask_epi8(m);

		if (mask != 0)
			return p + __builtin_ctz(mask) + 1;
	}
	for (; e - p >= 2; p++) {
		if (p[0] == '\n' && (p[1] == 'F' || p[1] == '>'))
			return p + 1;
	}
	return NULL;
}
#endif

static const unsigned char *find_candidate(const unsigned char *p,
					   const unsigned char *e)
{
	const unsigned char *nl;

#if defined(__x86_64__) && defined(__GNUC__)
	if (__builtin_cpu_supports("avx2"))
		return find_candidate_avx2(p, e);
#endif
	while ((nl = memchr(p, '\n', (size_t)(e - p))) != NULL && e - nl >= 2) {
		if (nl[1] == 'F' || nl[1] == '>')
			return nl + 1;
		p = nl + 1;
	}
	return NULL;
}

/* Is the line at LS in BUF (which holds at least 3 bytes before it
   when LS is not the start of the file) after an empty line? */
static bool after_empty_line(const unsigned char *buf, size_t ls)
{
	return buf[ls - 1] == '\n' &&
		(buf[ls - 2] == '\n' || (buf[ls - 2] == '\r' && buf[ls - 3] == '\n'));
}

/* Does a header field ("Name:") start at buffer index AT? 1 yes, 0
   no, -1 when more bytes are needed to tell. */
static int header_field_at(const struct mbox_reader *r, size_t at)
{
	for (size_t n = 0; n <= HEADER_NAME_MAX; n++) {
		unsigned char c;

		if (at + n >= r->len)
			return r->eof ? 0 : -1;
		c = r->buf[at + n];
		if (c == ':')
			return n > 0;
		if (c < 33 || c > 126)
			return 0;
	}
	return 0;
}

/* Does the line at LS (LL bytes; HAS_NL: its newline is in the
   buffer) start the next item? 1 yes, 0 no, -1 when more bytes are
   needed to tell. */
static int line_starts_item(struct mbox_reader *r, size_t ls, size_t ll, bool has_nl)
{
	const unsigned char *line = r->buf + ls;

	if (ll < 5 || memcmp(line, "From ", 5) != 0)
		return 0;
	/* A writer puts an empty line before a From_ line; there a date
	   is enough to tell one from a "From here on" paragraph. */
	if (r->garbage || after_empty_line(r->buf, ls))
		return mc_store_mbox_from_line(line, ll);
	/* Without the empty line (a careless writer, a message without
	   its last newline): only a complete From_ line followed by a
	   header field, where mutt and Python's mailbox split too. Any
	   other line that starts with "From " and a date stays in the
	   message, which is then not cut (doubtful_from_line). */
	if (!has_nl || !mc_store_mbox_from_parse(line, ll, NULL))
		return 0;
	return header_field_at(r, ls + ll + 1);
}

/* Look at the lines from r->scan on. Returns 1 with *end_r when the
   line at *end_r starts the next item, 0 when more bytes are needed
   (or the end is reached). Counts >From lines on the way. */
static int scan_lines(struct mbox_reader *r, size_t *end_r)
{
	while (r->scan < r->len) {
		size_t ls = r->scan;

		if (r->ln == LN_SKIP) {
			const unsigned char *p = find_candidate(r->buf + ls, r->buf + r->len);

			if (p == NULL) {
				r->ln = r->buf[r->len - 1] == '\n' ? LN_START : LN_SKIP;
				r->scan = r->len;
				return 0;
			}
			r->scan = (size_t)(p - r->buf);
			r->ln = LN_START;
			continue;
		}
		if (r->ln == LN_GT) {
			/* As mc_mbox_unquote() sees it: '>'s, then "From ". */
			while (r->scan < r->len && r->buf[r->scan] == '>')
				r->scan++;
			if (r->scan == r->len || (r->len - r->scan < 5 && !r->eof))
				return 0;
			if (r->len - r->scan >= 5 && memcmp(r->buf + r->scan, "From ", 5) == 0)
				r->quoted++;
			r->ln = LN_SKIP;
			continue;
		}
		if (r->buf[ls] == '>') {
			r->ln = LN_GT;
			r->scan = ls + 1;
			continue;
		}
		/* The item's own first line is never a boundary. */
		if (r->buf[ls] == 'F' && (uint64_t)(r->buf_off + (int64_t)ls) != r->item_off) {
			size_t avail = r->len - ls;
			size_t max = avail < FROM_LINE_MAX ? avail : FROM_LINE_MAX;
			const unsigned char *nl = memchr(r->buf + ls, '\n', max);

			int starts;

			if (nl == NULL && avail < FROM_LINE_MAX && !r->eof)
				return 0;
			starts = line_starts_item(r, ls, nl != NULL ? (size_t)(nl - (r->buf + ls)) :
						  max, nl != NULL);
			if (starts < 0)
				return 0;
			if (starts > 0) {
				*end_r = ls;
				return 1;
			}
		}
		/* Its own newline ends it. */
		r->ln = LN_SKIP;
	}
	return 0;
}

static const unsigned char *at_off(const struct mbox_reader *r, uint64_t off)
{
	return r->buf + (size_t)((int64_t)off - r->buf_off);
}

/* Follow the current item's first line and header block over the
   bytes looked at so far (up to buffer index UPTO), and stop keeping
   its start once that is no longer needed: the header block is
   copied out, and the body is only looked at, not kept (unless the
   item is small enough to be taken whole). */
static void item_progress(struct mbox_reader *r, size_t upto)
{
	uint64_t avail_end = (uint64_t)(r->buf_off + (int64_t)upto);

	if (!r->keep_start)
		return;
	if (r->garbage) {
		r->keep_start = false;
		return;
	}
	if (r->fl_len == 0 && r->hscan < avail_end) {
		const unsigned char *p = at_off(r, r->hscan);
		const unsigned char *nl = memchr(p, '\n', (size_t)(avail_end - r->hscan));

		if (nl != NULL) {
			r->fl_len = r->hscan + (uint64_t)(nl - p) + 1 - r->item_off;
			r->hscan = r->item_off + r->fl_len;
		} else {
			r->hscan = avail_end;
		}
	}
	uint64_t head_limit = r->item_off + HEAD_MAX < avail_end ? r->item_off + HEAD_MAX :
		avail_end;
	while (r->fl_len != 0 && r->head_end == 0 && r->hscan < head_limit) {
		const unsigned char *p = at_off(r, r->hscan);
		size_t rem = (size_t)(head_limit - r->hscan);
		const unsigned char *nl;

		if (p[0] == '\n') {
			r->head_end = r->hscan + 1;
			break;
		}
		if (p[0] == '\r' && rem >= 2 && p[1] == '\n') {
			r->head_end = r->hscan + 2;
			break;
		}
		nl = memchr(p, '\n', rem);
		if (nl == NULL || (p[0] == '\r' && rem < 2))
			break;
		r->hscan += (uint64_t)(nl - p) + 1;
	}
	if (r->head_end == 0 && avail_end - r->item_off > HEAD_MAX)
		r->head_given_up = true;
	if ((r->head_end == 0 && !r->head_given_up) || avail_end - r->item_off <= WHOLE_MAX)
		return;
	if (r->head_end != 0) {
		uint64_t from = r->item_off + r->fl_len;

		r->head_len = (size_t)(r->head_end - from);
		r->head = mc_xmalloc(r->head_len + 1);
		memcpy(r->head, at_off(r, from), r->head_len);
	}
	r->keep_start = false;
}

static void item_start(struct mbox_reader *r, uint64_t off, bool garbage)
{
	r->item_off = off;
	r->garbage = garbage;
	r->keep_start = true;
	r->quoted = 0;
	r->ln = LN_START;
	r->fl_len = 0;
	r->hscan = off;
	r->head_end = 0;
	r->head_given_up = false;
	r->head = NULL;
	r->head_len = 0;
}

/* The next item of the file: 1 with *span_r, 0 at the end, -1 on a
   read error. Each byte is read once; only the lines that start
   with 'F' or '>' are looked at more closely. */
int mc_mbox_reader_next(struct mbox_reader *r, struct mbox_span *span_r,
			char **error_r)
{
	size_t end = 0;
	bool found = false;

	memset(span_r, 0, sizeof(*span_r));
	if (r->done)
		return 0;
	if (!r->started) {
		while (r->len < 5 && !r->eof) {
			if (reader_fill(r, 0, error_r) < 0)
				return -1;
		}
		if (r->len == 0) {
			r->done = true;
			return 0;
		}
		r->started = true;
		item_start(r, 0, !mc_store_looks_mbox(r->buf, r->len));
		r->scan = 0;
	}
	for (;;) {
		found = scan_lines(r, &end) > 0;
		if (found)
			break;
		item_progress(r, r->scan);
		if (r->eof) {
			end = r->len;
			break;
		}
		size_t keep = r->keep_start ? (size_t)((int64_t)r->item_off - r->buf_off) :
			r->scan > SKIP_KEEP ? r->scan - SKIP_KEEP : 0;
		if (reader_fill(r, keep, error_r) < 0)
			return -1;
	}
	item_progress(r, end);

	uint64_t end_off = (uint64_t)(r->buf_off + (int64_t)end);
	uint64_t length = end_off - r->item_off;
	uint64_t fl = r->fl_len != 0 ? r->fl_len : length;
	uint64_t body = length - fl;
	const unsigned char *e = r->buf + end;

	span_r->offset = r->item_off;
	span_r->length = length;
	span_r->garbage = r->garbage;
	span_r->last = !found;
	span_r->quoted = r->quoted;
	span_r->data_skip = (size_t)fl;
	/* As the trailing empty line is dropped from data. */
	if (body >= 2 && e[-1] == '\n' && e[-2] == '\n')
		span_r->data_trim = 1;
	else if (body >= 3 && e[-1] == '\n' && e[-2] == '\r' && e[-3] == '\n')
		span_r->data_trim = 2;
	if (r->keep_start)
		span_r->bytes = at_off(r, r->item_off);
	else if (r->head != NULL && r->head_end <= end_off - span_r->data_trim) {
		span_r->head = r->head;
		span_r->head_len = r->head_len;
		r->head = NULL;
	}
	free(r->head);
	r->head = NULL;
	if (!found) {
		r->done = true;
		return 1;
	}
	item_start(r, end_off, false);
	r->scan = end;
	return 1;
}

/* Undo one level of >From quoting in the N bytes at IN, writing to OUT
   (which may be IN). Returns the new length. */
size_t mc_mbox_unquote(const unsigned char *in, size_t n, unsigned char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n;) {
		const unsigned char *next = memchr(in + i, '\n', n - i);
		size_t lend = next != NULL ? (size_t)(next - in) + 1 : n;
		size_t j = i;

		while (j < lend && in[j] == '>')
			j++;
		if (j > i && lend - j >= 5 && memcmp(in + j, "From ", 5) == 0)
			i++;	/* drop one '>' */
		memmove(out + o, in + i, lend - i);
		o += lend - i;
		i = lend;
	}
	return o;
}
