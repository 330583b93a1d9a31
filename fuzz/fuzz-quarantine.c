/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-quarantine 1
/* SUMMARY
/*	fuzz target for the quarantine's metadata records and run indexes
/* DESCRIPTION
/*	Works in a quarantine of its own (in $TMPDIR). The first input
/*	byte chooses what the rest is: when even, the meta.json of an
/*	entry, which is loaded by id and by iterating; when odd, the
/*	index of a run, which is iterated (with one valid entry that its
/*	lines may name). A record that loads must
/*	print as JSON that loads again and prints the same (what
/*	restore rewrites must be what was read); one that does not load
/*	must say why, and iterating reports it and goes on.
/*
/*	Seed inputs: fuzz/corpus/quarantine/, records as
/*	mc_quarantine_put() writes them, with the selector byte in
/*	front.
/*--*/

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "fuzz-util.h"

#define ID "20260302T100000Z-000001-0123abcd"
#define RUN "20260302T100000Z-fuzz"

static const char valid_record[] =
	"{\"version\":1,\"id\":\"" ID "\",\"run\":\"" RUN "\","
	"\"loc\":{\"store\":\"maildir:/home/u/Maildir\",\"kind\":\"maildir\","
	"\"path\":\"/home/u/Maildir/cur/1.M1P1.host:2,S\"},"
	"\"sha256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\","
	"\"size\":0,\"reasons\":[{\"kind\":\"virus\",\"name\":\"Eicar\"}]}";

static char *dir, *entry_dir, *meta_path, *run_path;
static struct mc_quarantine *q;

static void cleanup(void)
{
	mc_quarantine_close(&q);
	unlink(meta_path);
	unlink(run_path);
	rmdir(entry_dir);
	for (const char *const *s = (const char *const[]){ "entries", "runs", "tmp", NULL };
	     *s != NULL; s++) {
		char *p;
		if (asprintf(&p, "%s/%s", dir, *s) >= 0) {
			rmdir(p);
			free(p);
		}
	}
	rmdir(dir);
}

static void setup(void)
{
	char *error = NULL;

	dir = fuzz_tmpdir("fuzz-quarantine");
	q = mc_quarantine_open(dir, true, &error);
	if (q == NULL ||
	    asprintf(&entry_dir, "%s/entries/%s", dir, ID) < 0 ||
	    mkdir(entry_dir, 0700) < 0 ||
	    asprintf(&meta_path, "%s/meta.json", entry_dir) < 0 ||
	    asprintf(&run_path, "%s/runs/%s", dir, RUN) < 0)
		abort();
	atexit(cleanup);
}

/* Iterate QUARANTINE's entries (of run RUN when not NULL): every
   failure says why, and the walk ends. */
static void iterate(const char *run)
{
	struct mc_quarantine_iter *it = run != NULL ? mc_quarantine_iter_init_run(q, run) :
		mc_quarantine_iter_init(q);
	struct mc_qentry *e;
	char *error = NULL;
	int ret, steps = 0;

	while ((ret = mc_quarantine_iter_next_r(it, &e, &error)) != 0) {
		if (ret < 0) {
			FUZZ_ASSERT(error != NULL);
			free(error);
			error = NULL;
		} else {
			FUZZ_ASSERT(e != NULL && e->id != NULL);
			mc_qentry_free(&e);
		}
		FUZZ_ASSERT(++steps <= 100);
	}
	mc_quarantine_iter_deinit(&it);
}

static void meta_record(const uint8_t *data, size_t size)
{
	struct mc_qentry *e, *again;
	char *error = NULL, *json, *json_again;

	fuzz_write_file(meta_path, data, size);
	e = mc_quarantine_get(q, ID, &error);
	if (e == NULL) {
		FUZZ_ASSERT(error != NULL);
		free(error);
		iterate(NULL);
		return;
	}
	FUZZ_ASSERT(strcmp(e->id, ID) == 0 && e->sha256_hex != NULL && e->loc.kind != NULL);
	json = mc_qentry_json(e);
	fuzz_write_file(meta_path, json, strlen(json));
	again = mc_quarantine_get(q, ID, &error);
	FUZZ_ASSERT(again != NULL);	/* what was printed must load */
	json_again = mc_qentry_json(again);
	FUZZ_ASSERT(strcmp(json, json_again) == 0);	/* and print the same */
	iterate(NULL);
	iterate(e->run_id != NULL ? e->run_id : RUN);
	free(json);
	free(json_again);
	mc_qentry_free(&e);
	mc_qentry_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (q == NULL)
		setup();
	if (data[0] % 2 == 0) {
		meta_record(data + 1, size - 1);
	} else {
		/* The entry the index may name, always the same one so
		   that an input alone reproduces what it did. */
		fuzz_write_file(meta_path, valid_record, strlen(valid_record));
		fuzz_write_file(run_path, data + 1, size - 1);
		iterate(RUN);
		unlink(run_path);
	}
	return 0;
}
