/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-journal 1
/* SUMMARY
/*	fuzz target for the step journal of a run
/* DESCRIPTION
/*	Writes the input as RUN_DIR/journal.jsonl (in $TMPDIR) and opens
/*	it as respond does when it resumes a run: every record read has
/*	a step and a state, and the state of each step is that of its
/*	last record. Then a record is appended, as the resumed run
/*	does, and the journal opened again: it must hold the records
/*	read before and the new one last, whatever the file held (a
/*	torn last line included).
/*
/*	Seed inputs: fuzz/corpus/journal/.
/*--*/

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "fuzz-util.h"

static char *dir, *path;

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

static void setup(void)
{
	dir = fuzz_tmpdir("fuzz-journal");
	if (asprintf(&path, "%s/journal.jsonl", dir) < 0)
		abort();
	atexit(cleanup);
}

static struct mc_journal *journal_open(void)
{
	char *error = NULL;
	struct mc_journal *j = mc_journal_open(dir, false, &error);

	FUZZ_ASSERT(j != NULL);	/* any content of a journal file opens */
	return j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct mc_journal_record *rec, *rec2;
	struct mc_journal *j;
	char *error = NULL;
	size_t count, count2;

	if (dir == NULL)
		setup();
	fuzz_write_file(path, data, size);

	j = journal_open();
	rec = mc_journal_records(j, &count);
	for (size_t i = 0; i < count; i++)
		FUZZ_ASSERT(rec[i].step != NULL && rec[i].state != NULL);
	for (size_t i = 0; i < count; i++) {
		size_t last = i;
		for (size_t k = i + 1; k < count; k++)
			if (strcmp(rec[k].step, rec[i].step) == 0)
				last = k;
		const char *state = mc_journal_step_state(j, rec[i].step);
		FUZZ_ASSERT(state != NULL && strcmp(state, rec[last].state) == 0);
	}
	FUZZ_ASSERT(mc_journal_append(j, "fuzz-step", "done", 0, "appended", &error) == 0);
	mc_journal_close(&j);

	j = journal_open();
	rec2 = mc_journal_records(j, &count2);
	/* The appended record is read back, after those read before. */
	FUZZ_ASSERT(count2 == count + 1);
	FUZZ_ASSERT(strcmp(rec2[count].step, "fuzz-step") == 0 &&
		    strcmp(rec2[count].state, "done") == 0);
	mc_journal_close(&j);
	return 0;
}
