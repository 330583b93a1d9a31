/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-mbox 1
/* SUMMARY
/*	fuzz target for the mbox splitter
/* DESCRIPTION
/*	Writes the input as an mbox file (each byte 0x01 stands for a
/*	line of 6000 'x', so that short inputs reach messages larger
/*	than what is kept whole as it is read) and reads it with the
/*	mbox store twice: whole, and heads first with every message
/*	loaded. Then:
/*	- the raw bytes of the messages, end to end, are the file (but
/*	  for non-mbox bytes at its start, an item of their own with a
/*	  read error), and each message's offset is where its raw bytes
/*	  start;
/*	- a message's raw bytes start with "From " at the start of the
/*	  file, elsewhere with a line that the store's From_ line test
/*	  accepts;
/*	- its data is no longer than its raw bytes;
/*	- heads first gives the same items, a head that is the start of
/*	  the data, and after loading the same data.
/*
/*	Seed inputs: fuzz/corpus/mbox/.
/*--*/

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store-private.h"
#include "fuzz-util.h"

#define FILLER_LINE 6000
#define FILLERS_MAX 64

static char *dir, *path, *uri;

static void setup(void)
{
	dir = fuzz_tmpdir("fuzz-mbox");
	if (asprintf(&path, "%s/mbox", dir) < 0 || asprintf(&uri, "mbox:%s", path) < 0)
		abort();
}

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

/* The file for DATA, with the filler lines expanded. */
static unsigned char *expand(const uint8_t *data, size_t size, size_t *len_r)
{
	size_t fillers = 0, len = 0;
	unsigned char *out;

	for (size_t i = 0; i < size; i++)
		fillers += data[i] == 0x01 && fillers < FILLERS_MAX;
	out = malloc(size + fillers * FILLER_LINE + 1);
	fillers = 0;
	for (size_t i = 0; i < size; i++) {
		if (data[i] == 0x01 && fillers < FILLERS_MAX) {
			memset(out + len, 'x', FILLER_LINE - 1);
			out[len + FILLER_LINE - 1] = '\n';
			len += FILLER_LINE;
			fillers++;
		} else {
			out[len++] = data[i];
		}
	}
	*len_r = len;
	return out;
}

struct items {
	struct mc_store *store;
	struct mc_msg **msgs;
	size_t count;
};

static void items_read(struct mc_store_settings *set, struct items *it)
{
	struct mc_msg *msg;
	char *error = NULL;
	int ret;

	memset(it, 0, sizeof(*it));
	FUZZ_ASSERT(mc_store_open(uri, set, &it->store, &error) == 0);
	while ((ret = mc_store_next(it->store, &msg, &error)) > 0) {
		it->msgs = realloc(it->msgs, (it->count + 1) * sizeof(*it->msgs));
		it->msgs[it->count++] = msg;
	}
	FUZZ_ASSERT(ret == 0);	/* a plain file never fails the whole walk */
}

static void items_free(struct items *it)
{
	for (size_t i = 0; i < it->count; i++)
		mc_store_msg_free(it->store, &it->msgs[i]);
	mc_store_close(&it->store);
	free(it->msgs);
}

/* Whether the item at AT (RAW_SIZE bytes) of FILE starts as a message
   must. */
static bool starts_message(const unsigned char *file, size_t at, size_t raw_size)
{
	const unsigned char *nl = memchr(file + at, '\n', raw_size);
	size_t line = nl != NULL ? (size_t)(nl - (file + at)) : raw_size;

	if (at == 0)
		return raw_size >= 5 && memcmp(file, "From ", 5) == 0;
	return mc_store_mbox_from_line(file + at, line);
}

static void check_whole(const struct items *it, const unsigned char *file, size_t len)
{
	size_t at = 0;

	for (size_t i = 0; i < it->count; i++) {
		const struct mc_msg *m = it->msgs[i];

		if (m->read_error != NULL) {
			/* Only the bytes before the first From_ line, which
			   are not a message: the next item starts after them. */
			FUZZ_ASSERT(i == 0 && m->data == NULL && m->raw_size == 0);
			FUZZ_ASSERT(it->count == 1 || (it->msgs[1]->loc.offset > 0 &&
						       (uint64_t)it->msgs[1]->loc.offset <= len));
			at = it->count > 1 ? (size_t)it->msgs[1]->loc.offset : len;
			continue;
		}
		FUZZ_ASSERT(m->loc.offset == (int64_t)at);
		FUZZ_ASSERT(m->raw_size <= len - at);
		FUZZ_ASSERT(m->raw != NULL && memcmp(m->raw, file + at, m->raw_size) == 0);
		FUZZ_ASSERT(starts_message(file, at, m->raw_size));
		FUZZ_ASSERT(m->data != NULL && m->size <= m->raw_size);
		at += m->raw_size;
	}
	FUZZ_ASSERT(at == len);
}

static void check_heads(const struct items *whole, struct items *heads)
{
	FUZZ_ASSERT(heads->count == whole->count);
	for (size_t i = 0; i < whole->count; i++) {
		const struct mc_msg *w = whole->msgs[i];
		struct mc_msg *h = heads->msgs[i];

		FUZZ_ASSERT(h->raw_size == w->raw_size && h->loc.offset == w->loc.offset);
		FUZZ_ASSERT((h->read_error == NULL) == (w->read_error == NULL));
		if (h->read_error != NULL)
			continue;
		if (h->data == NULL) {
			FUZZ_ASSERT(h->head == NULL || (h->head_size <= w->size &&
				    memcmp(h->head, w->data, h->head_size) == 0));
			FUZZ_ASSERT(mc_store_load(heads->store, h) == 0);
		}
		FUZZ_ASSERT(h->size == w->size && memcmp(h->data, w->data, w->size) == 0);
		FUZZ_ASSERT(h->raw_size == w->raw_size &&
			    memcmp(h->raw, w->raw, w->raw_size) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mc_limits limits;
	struct mc_store_settings set = { .limits = &limits };
	struct items whole, heads;
	unsigned char *file;
	size_t len;

	if (dir == NULL) {
		setup();
		atexit(cleanup);
	}
	file = expand(data, size, &len);
	fuzz_write_file(path, file, len);
	mc_limits_default(&limits);

	items_read(&set, &whole);
	check_whole(&whole, file, len);
	set.heads_first = true;
	items_read(&set, &heads);
	check_heads(&whole, &heads);
	items_free(&heads);
	items_free(&whole);
	free(file);
	return 0;
}
