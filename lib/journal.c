/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	journal 3
/* SUMMARY
/*	the fsync'd step journal of a run
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/* DESCRIPTION
/*	respond records every step of the outbreak runbook here before
/*	it starts it and after it ends. The journal is what makes a run
/*	resumable after kill -9 or a power loss: a step whose last record
/*	is "done" or "skipped" is not repeated, a step with only "start"
/*	is run again (every step is idempotent: a second isolate or
/*	freeze is a no-op, a second clean finds only what is left).
/*
/*	Format: RUN_DIR/journal.jsonl, one JSON object a line:
/*	{"time":1764292000,"step":"isolate","state":"done","exit":0,
/*	"detail":"..."}. Each append is one write(2) with O_APPEND,
/*	followed by fsync, so records are never interleaved. What a crash
/*	can leave is skipped when reading: a torn last line that is not
/*	a whole record (the next record appended starts a new line after
/*	it, rather than being glued to it and lost), and lines holding
/*	NUL bytes (a tail that a file system zeroed after a power loss);
/*	the lines after them are read.
/* SECURITY
/*	The run directory is created mode 0700 (it names users and holds
/*	their subjects). It is opened without following a symlink in its
/*	last component.
/*--*/

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "mailcure/mailcure.h"
#include "internal.h"

#define JOURNAL_MAX (16U << 20)

struct mc_journal {
	char *dir;
	int fd;
	/* The file does not end with a newline (a torn last record):
	   the next record starts a line of its own. */
	bool torn;
	struct mc_journal_record *records;
	size_t count, cap;
};

static void record_add(struct mc_journal *j, time_t t, const char *step,
		       const char *state, int exit_code, const char *detail)
{
	struct mc_journal_record r = {
		.time = t,
		.step = mc_xstrdup(step),
		.state = mc_xstrdup(state),
		.exit_code = exit_code,
		.detail = mc_xstrdup(detail),
	};
	MC_ARRAY_PUSH(j->records, j->count, j->cap, r);
}

static void journal_parse(struct mc_journal *j, char *text, size_t len)
{
	char *end = text + len;

	for (char *line = text, *next; line < end; line = next) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		json_object *obj, *v;

		if (nl != NULL) {
			*nl = '\0';
			next = nl + 1;
		} else {
			/* Cut short by a crash; read as any line, since
			   what a newline appended later will make of it
			   must be what was read now. */
			j->torn = true;
			nl = next = end;
		}
		/* A NUL byte is never written: a line holding one is
		   damage (a file system's zeroed tail after a crash). */
		if (memchr(line, '\0', (size_t)(nl - line)) != NULL)
			continue;
		obj = json_tokener_parse(line);
		if (obj == NULL)
			continue;
		const char *step = json_object_object_get_ex(obj, "step", &v) ? json_object_get_string(v) : NULL;
		const char *state = json_object_object_get_ex(obj, "state", &v) ? json_object_get_string(v) : NULL;
		time_t t = json_object_object_get_ex(obj, "time", &v) ? (time_t)json_object_get_int64(v) : 0;
		int ex = json_object_object_get_ex(obj, "exit", &v) ? json_object_get_int(v) : -1;
		const char *detail = json_object_object_get_ex(obj, "detail", &v) ? json_object_get_string(v) : NULL;
		if (step != NULL && state != NULL)
			record_add(j, t, step, state, ex, detail);
		json_object_put(obj);
	}
}

struct mc_journal *mc_journal_open(const char *run_dir, bool create,
				   char **error_r)
{
	struct mc_journal *j;
	struct stat st;
	int dirfd;

	if (create && mc_mkdir_p(run_dir, 0700, error_r) < 0)
		return NULL;
	if (lstat(run_dir, &st) < 0) {
		mc_error_errno(error_r, "run directory %s", run_dir);
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		mc_error_set(error_r, "run directory %s: not a directory", run_dir);
		return NULL;
	}
	dirfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0) {
		mc_error_errno(error_r, "run directory %s", run_dir);
		return NULL;
	}
	j = mc_xcalloc(1, sizeof(*j));
	j->dir = mc_xstrdup(run_dir);
	j->fd = openat(dirfd, "journal.jsonl",
		       O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (j->fd < 0) {
		mc_error_errno(error_r, "%s/journal.jsonl", run_dir);
		close(dirfd);
		mc_journal_close(&j);
		return NULL;
	}
	if (create)
		mc_fsync_dir(dirfd);
	close(dirfd);

	unsigned char *text;
	size_t len;
	if (mc_read_fd(j->fd, JOURNAL_MAX, &text, &len, error_r) < 0) {
		mc_journal_close(&j);
		return NULL;
	}
	journal_parse(j, (char *)text, len);
	free(text);
	return j;
}

void mc_journal_close(struct mc_journal **_j)
{
	struct mc_journal *j = *_j;

	if (j == NULL)
		return;
	*_j = NULL;
	if (j->fd >= 0)
		close(j->fd);
	for (size_t i = 0; i < j->count; i++) {
		free(j->records[i].step);
		free(j->records[i].state);
		free(j->records[i].detail);
	}
	free(j->records);
	free(j->dir);
	free(j);
}

const char *mc_journal_dir(const struct mc_journal *j)
{
	return j->dir;
}

int mc_journal_append(struct mc_journal *j, const char *step,
		      const char *state, int exit_code, const char *detail,
		      char **error_r)
{
	json_object *obj = json_object_new_object();
	time_t now = time(NULL);
	char *line;
	int ret = 0;

	json_object_object_add(obj, "time", json_object_new_int64(now));
	json_object_object_add(obj, "step", json_object_new_string(step));
	json_object_object_add(obj, "state", json_object_new_string(state));
	json_object_object_add(obj, "exit", json_object_new_int(exit_code));
	if (detail != NULL)
		json_object_object_add(obj, "detail", json_object_new_string(detail));
	/* After a torn record, a newline first: glued to it, this
	   record would be lost with it. */
	line = mc_xasprintf("%s%s\n", j->torn ? "\n" : "", json_object_to_json_string_ext(obj,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
	/* One write: O_APPEND keeps the record whole. */
	if (mc_write_all(j->fd, line, strlen(line)) < 0 || fdatasync(j->fd) < 0) {
		ret = mc_error_errno(error_r, "%s/journal.jsonl", j->dir);
	} else {
		j->torn = false;
		record_add(j, now, step, state, exit_code, detail);
	}
	free(line);
	return ret;
}

const struct mc_journal_record *mc_journal_records(const struct mc_journal *j,
						   size_t *count_r)
{
	*count_r = j->count;
	return j->records;
}

const char *mc_journal_step_state(const struct mc_journal *j, const char *step)
{
	for (size_t i = j->count; i > 0; i--) {
		if (strcmp(j->records[i - 1].step, step) == 0)
			return j->records[i - 1].state;
	}
	return NULL;
}
