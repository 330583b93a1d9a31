/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-quarantine 1
/* SUMMARY
/*	unit tests of the quarantine (lib/quarantine.c)
/* DESCRIPTION
/*	Pins what the rest of mailcure relies on: a put stores the bytes
/*	exactly and every metadata field round-trips; a damaged copy is
/*	never handed out; entries come out oldest first; a run's index
/*	finds its entries (and is not needed to); an entry is restored
/*	once only; staged entries exist only once committed; purge
/*	removes by age; an insecure quarantine directory
/*	is refused; a damaged metadata record is reported for its entry
/*	while the others go on.
/*
/*	Each test works in its own temporary directory.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "mailcure/mailcure.h"
#include "fixture.h"

struct fixture {
	char *tmp;	/* temporary directory */
	char *qdir;	/* TMP/q */
	struct mc_quarantine *q;
};

static const char MSG1[] =
	"From: alice@example.com\nTo: bob@example.com\nSubject: one\n\nhello\n";
static const char MSG2[] =
	"From: mallory@evil.example\nSubject: invoice\n\nX5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR\n";

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if ((f->tmp = mc_fixture_tmpdir("quarantine")) == NULL ||
	    (f->q = mc_fixture_quarantine(f->tmp, &f->qdir)) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	mc_quarantine_close(&f->q);
	mc_fixture_rm_rf(f->tmp);
	free(f->tmp);
	free(f->qdir);
	free(f);
	return 0;
}

/* Quarantine DATA as taken from PATH at OFFSET (-1: a whole file). */
static char *put_at(struct fixture *f, const char *run, const char *kind,
		    const char *path, int64_t offset, const char *data, size_t len)
{
	struct mc_qentry meta;
	char *id = NULL, *error = NULL;

	memset(&meta, 0, sizeof(meta));
	meta.run_id = (char *)run;
	meta.loc.kind = kind;
	meta.loc.path = path;
	meta.loc.offset = offset;
	meta.loc.uid = getuid();
	meta.loc.gid = getgid();
	meta.loc.mode = 0600;
	if (mc_quarantine_put(f->q, &meta, data, len, &id, &error) < 0) {
		fprintf(stderr, "put: %s\n", error);
		fail();
	}
	assert_non_null(id);
	return id;
}

/* Each call a message of its own: a distinct offset, so that a run
   never sees the same message twice (see test_put_same_in_run). */
static char *put(struct fixture *f, const char *run, const char *kind,
		 const char *path, const char *data, size_t len)
{
	static int64_t next_offset = 1000000;

	return put_at(f, run, kind, path, __atomic_fetch_add(&next_offset, 1, __ATOMIC_RELAXED),
		      data, len);
}

static char *entry_file(struct fixture *f, const char *id, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/entries/%s/%s", f->qdir, id, name) < 0)
		abort();
	return p;
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static char *read_text(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	if (fp == NULL)
		return NULL;
	n = getdelim(&buf, &cap, '\0', fp);
	fclose(fp);
	if (n < 0) {
		free(buf);
		return strdup("");
	}
	return buf;
}

/* Change one field of an entry's record, as a damaged or older record
   would have it. */
static void set_field(struct fixture *f, const char *id, const char *key,
		      json_object *value)
{
	char *p = entry_file(f, id, "meta.json");
	json_object *o = json_object_from_file(p);

	assert_non_null(o);
	json_object_object_add(o, key, value);
	assert_int_equal(json_object_to_file(p, o), 0);
	json_object_put(o);
	free(p);
}

/* Put with every field set, get, compare, read. */
static void test_put_get_read(void **state)
{
	struct fixture *f = *state;
	static char *rcpts[] = { "bob@example.com", "carol@example.com" };
	struct mc_reason reasons[] = {
		{ MC_REASON_VIRUS, "Eicar-Test-Signature.UNOFFICIAL", NULL },
		{ MC_REASON_ATTACHMENT, "invoice.exe", NULL },
	};
	/* A file name that is not UTF-8 must come back byte for byte. */
	const char *path = "/home/alice/Maildir/cur/1700000000.M1P2.host,S=10:2,RS\xff\xfe";
	struct mc_qentry meta, *e;
	char *id = NULL, *error = NULL, *p;
	void *raw;
	size_t size;
	struct stat st;
	char hex[65];
	unsigned char bin[32];
	time_t now = time(NULL);

	memset(&meta, 0, sizeof(meta));
	meta.run_id = "20261128T010830Z-0abcd123";
	meta.loc.store = "maildir:/home/alice/Maildir";
	meta.loc.kind = "maildir";
	meta.loc.user = "alice";
	meta.loc.folder = "Archive/2024";
	meta.loc.path = path;
	meta.loc.queue_id = "4Xy7Zq1abc";
	meta.loc.offset = 1234;
	meta.loc.maildir_subdir = "cur";
	meta.loc.maildir_flags = "RS";
	meta.loc.uid = 1000;
	meta.loc.gid = 1001;
	meta.loc.mode = 0640;
	meta.loc.mtime = 1700000000;
	meta.reasons = reasons;
	meta.reason_count = 2;
	meta.envelope_sender = "mallory@evil.example";
	meta.recipients = rcpts;
	meta.recipient_count = 2;
	meta.arrival_time = 1700000100;
	meta.from = "Mallory <mallory@evil.example>";
	meta.subject = "Invoice \"overdue\" \xc3\xa9";
	meta.message_id = "<abc@evil.example>";
	meta.extra_json = "{\"xattrs\":{\"user.a\":\"YQ==\"},\"atime\":5}";
	/* Fields the quarantine fills in are ignored when given. */
	meta.id = "bogus";
	meta.sha256_hex = "bogus";
	meta.size = 1;
	meta.restored_at = 99;

	assert_int_equal(mc_quarantine_put(f->q, &meta, MSG2, strlen(MSG2), &id, &error), 0);
	assert_null(error);
	assert_non_null(id);
	assert_string_not_equal(id, "bogus");

	e = mc_quarantine_get(f->q, id, &error);
	if (e == NULL)
		fprintf(stderr, "get: %s\n", error);
	assert_non_null(e);
	assert_string_equal(e->id, id);
	assert_string_equal(e->run_id, meta.run_id);
	assert_string_equal(e->loc.store, meta.loc.store);
	assert_string_equal(e->loc.kind, "maildir");
	assert_string_equal(e->loc.user, "alice");
	assert_string_equal(e->loc.folder, "Archive/2024");
	assert_string_equal(e->loc.path, path);
	assert_string_equal(e->loc.queue_id, "4Xy7Zq1abc");
	assert_int_equal(e->loc.offset, 1234);
	assert_string_equal(e->loc.maildir_subdir, "cur");
	assert_string_equal(e->loc.maildir_flags, "RS");
	assert_int_equal(e->loc.uid, 1000);
	assert_int_equal(e->loc.gid, 1001);
	assert_int_equal(e->loc.mode, 0640);
	assert_int_equal(e->loc.mtime, 1700000000);
	mc_sha256(MSG2, strlen(MSG2), bin);
	mc_hex(bin, 32, hex);
	assert_string_equal(e->sha256_hex, hex);
	assert_int_equal(e->size, strlen(MSG2));
	assert_true(e->quarantined_at >= now - 5 && e->quarantined_at <= now + 5);
	assert_int_equal(e->restored_at, 0);
	assert_int_equal(e->reason_count, 2);
	assert_int_equal(e->reasons[0].kind, MC_REASON_VIRUS);
	assert_string_equal(e->reasons[0].value, "Eicar-Test-Signature.UNOFFICIAL");
	assert_int_equal(e->reasons[1].kind, MC_REASON_ATTACHMENT);
	assert_string_equal(e->reasons[1].value, "invoice.exe");
	assert_string_equal(e->envelope_sender, "mallory@evil.example");
	assert_int_equal(e->recipient_count, 2);
	assert_string_equal(e->recipients[0], "bob@example.com");
	assert_string_equal(e->recipients[1], "carol@example.com");
	assert_int_equal(e->arrival_time, 1700000100);
	assert_string_equal(e->from, meta.from);
	assert_string_equal(e->subject, meta.subject);
	assert_string_equal(e->message_id, meta.message_id);
	assert_non_null(e->extra_json);
	{
		json_object *x = json_tokener_parse(e->extra_json), *v;
		assert_non_null(x);
		assert_true(json_object_object_get_ex(x, "atime", &v));
		assert_int_equal(json_object_get_int(v), 5);
		json_object_put(x);
	}

	/* The record as JSON names virus reasons "name", others "value". */
	p = mc_qentry_json(e);
	assert_non_null(strstr(p, "\"kind\":\"virus\",\"name\":\"Eicar-Test-Signature.UNOFFICIAL\""));
	assert_non_null(strstr(p, "\"kind\":\"attachment\",\"value\":\"invoice.exe\""));
	free(p);

	assert_int_equal(mc_quarantine_read(f->q, e, &raw, &size, &error), 0);
	assert_int_equal(size, strlen(MSG2));
	assert_memory_equal(raw, MSG2, size);
	free(raw);

	/* Private files in a private directory. */
	p = entry_file(f, id, "message");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	free(p);
	p = entry_file(f, id, "meta.json");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	free(p);
	assert_int_equal(stat(f->qdir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);

	mc_qentry_free(&e);
	assert_null(e);
	free(id);
}

/* Queue mail: the envelope as a store yields it, in the location, is
   kept and comes back in both places; the null sender stays "". */
static void test_envelope_in_location(void **state)
{
	struct fixture *f = *state;
	static const char *const rcpts[] = { "bob@example.com", "carol@example.com" };
	struct mc_qentry meta, *e;
	char *id = NULL, *error = NULL;

	memset(&meta, 0, sizeof(meta));
	meta.loc.kind = "postfix";
	meta.loc.queue_id = "4ABCD123";
	meta.loc.offset = -1;
	meta.loc.envelope_sender = "";
	meta.loc.recipients = rcpts;
	meta.loc.recipient_count = 2;
	meta.loc.arrival_time = 1700000000;
	assert_int_equal(mc_quarantine_put(f->q, &meta, MSG1, strlen(MSG1), &id, &error), 0);
	e = mc_quarantine_get(f->q, id, &error);
	assert_non_null(e);
	assert_string_equal(e->envelope_sender, "");
	assert_string_equal(e->loc.envelope_sender, "");
	assert_int_equal(e->recipient_count, 2);
	assert_int_equal(e->loc.recipient_count, 2);
	assert_string_equal(e->recipients[1], "carol@example.com");
	assert_string_equal(e->loc.recipients[0], "bob@example.com");
	assert_int_equal(e->arrival_time, 1700000000);
	assert_int_equal(e->loc.arrival_time, 1700000000);
	assert_string_equal(e->loc.queue_id, "4ABCD123");
	assert_null(e->loc.path);
	mc_qentry_free(&e);
	free(id);
}

/* An empty message is a message too. */
static void test_put_empty(void **state)
{
	struct fixture *f = *state;
	struct mc_qentry *e;
	char *id = put(f, NULL, "eml", "/tmp/x.eml", "", 0), *error = NULL;
	void *raw;
	size_t size;

	e = mc_quarantine_get(f->q, id, &error);
	assert_non_null(e);
	assert_null(e->run_id);
	assert_int_equal(e->size, 0);
	assert_int_equal(mc_quarantine_read(f->q, e, &raw, &size, &error), 0);
	assert_int_equal(size, 0);
	free(raw);
	mc_qentry_free(&e);
	free(id);
}

static void test_put_refuses_bad_meta(void **state)
{
	struct fixture *f = *state;
	struct mc_qentry meta;
	char *id = NULL, *error = NULL;
	DIR *d;
	struct dirent *de;
	char *p;
	int n = 0;

	memset(&meta, 0, sizeof(meta));
	/* No kind: it could never be restored. */
	assert_int_equal(mc_quarantine_put(f->q, &meta, MSG1, strlen(MSG1), &id, &error), -1);
	assert_non_null(error);
	assert_null(id);
	free(error);
	error = NULL;
	/* A run id that is not a plain name. */
	meta.loc.kind = "eml";
	meta.run_id = "../../etc/x";
	assert_int_equal(mc_quarantine_put(f->q, &meta, MSG1, strlen(MSG1), &id, &error), -1);
	assert_non_null(strstr(error, "run id"));
	free(error);
	/* Nothing was left behind. */
	if (asprintf(&p, "%s/tmp", f->qdir) < 0)
		abort();
	d = opendir(p);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	free(p);
	assert_int_equal(n, 0);
}

/* A damaged copy is never handed out, nor restored. */
static void test_checksum_mismatch(void **state)
{
	struct fixture *f = *state;
	char *id = put(f, "run1", "eml", "/nonexistent/dir/x.eml", MSG1, strlen(MSG1));
	char *p = entry_file(f, id, "message"), *error = NULL;
	struct mc_qentry *e;
	void *raw = (void *)1;
	size_t size = 1;
	int fd;

	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "J", 1, 0), 1);	/* "From" -> "Jrom" */
	close(fd);

	e = mc_quarantine_get(f->q, id, &error);
	assert_non_null(e);
	assert_int_equal(mc_quarantine_read(f->q, e, &raw, &size, &error), -1);
	assert_null(raw);
	assert_non_null(strstr(error, "checksum mismatch"));
	free(error);
	error = NULL;

	assert_int_equal(mc_restore_entry(f->q, id, &error), -1);
	assert_non_null(strstr(error, "checksum mismatch"));
	free(error);
	error = NULL;
	mc_qentry_free(&e);

	/* Truncated, and grown. */
	assert_int_equal(truncate(p, 3), 0);
	e = mc_quarantine_get(f->q, id, &error);
	assert_int_equal(mc_quarantine_read(f->q, e, &raw, &size, &error), -1);
	assert_non_null(strstr(error, "checksum mismatch"));
	free(error);
	error = NULL;
	write_text(p, "From: alice@example.com\nTo: bob@example.com\nSubject: one\n\nhello\nmore\n");
	assert_int_equal(mc_quarantine_read(f->q, e, &raw, &size, &error), -1);
	assert_non_null(strstr(error, "damaged"));
	free(error);
	mc_qentry_free(&e);

	/* Still not restored. */
	error = NULL;
	e = mc_quarantine_get(f->q, id, &error);
	assert_int_equal(e->restored_at, 0);
	mc_qentry_free(&e);
	free(p);
	free(id);
}

static void test_iteration_order(void **state)
{
	struct fixture *f = *state;
	struct mc_quarantine_iter *it;
	struct mc_qentry *e;
	char *ids[6];
	size_t n = 0;

	for (size_t i = 0; i < 6; i++) {
		char path[16];
		snprintf(path, sizeof(path), "/x%zu", i);
		ids[i] = put(f, i % 2 ? "runB" : "runA", "eml", path, MSG1, strlen(MSG1));
	}
	for (size_t i = 1; i < 6; i++)
		assert_true(strcmp(ids[i - 1], ids[i]) < 0);

	it = mc_quarantine_iter_init(f->q);
	while ((e = mc_quarantine_iter_next(it)) != NULL) {
		assert_true(n < 6);
		assert_string_equal(e->id, ids[n]);
		n++;
		mc_qentry_free(&e);
	}
	mc_quarantine_iter_deinit(&it);
	assert_null(it);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < 6; i++)
		free(ids[i]);
}

static size_t count_run(struct fixture *f, const char *run, char **ids, size_t first, size_t step)
{
	struct mc_quarantine_iter *it = mc_quarantine_iter_init_run(f->q, run);
	struct mc_qentry *e;
	char *error = NULL;
	size_t n = 0;
	int ret;

	while ((ret = mc_quarantine_iter_next_r(it, &e, &error)) != 0) {
		assert_int_equal(ret, 1);
		assert_string_equal(e->run_id, run);
		if (ids != NULL)
			assert_string_equal(e->id, ids[first + n * step]);
		n++;
		mc_qentry_free(&e);
	}
	mc_quarantine_iter_deinit(&it);
	return n;
}

static void test_run_index(void **state)
{
	struct fixture *f = *state;
	char *ids[6], *p, *text, *error = NULL;
	struct mc_quarantine_iter *it;
	struct mc_qentry *e;

	for (size_t i = 0; i < 6; i++) {
		char path[16];
		snprintf(path, sizeof(path), "/x%zu", i);
		ids[i] = put(f, i % 2 ? "runB" : "runA", "eml", path, MSG1, strlen(MSG1));
	}

	/* The index holds the run's ids in order, one a line. */
	if (asprintf(&p, "%s/runs/runA", f->qdir) < 0)
		abort();
	text = read_text(p);
	assert_non_null(text);
	{
		char *expect;
		if (asprintf(&expect, "%s\n%s\n%s\n", ids[0], ids[2], ids[4]) < 0)
			abort();
		assert_string_equal(text, expect);
		free(expect);
	}
	free(text);

	assert_int_equal(count_run(f, "runA", ids, 0, 2), 3);
	assert_int_equal(count_run(f, "runB", ids, 1, 2), 3);
	assert_int_equal(count_run(f, "runC", NULL, 0, 0), 0);

	/* A line for an entry that no longer exists, garbage, and a
	   duplicate are ignored. */
	{
		FILE *fp = fopen(p, "a");
		fprintf(fp, "20200101T000000Z-000000-deadbeef\n../../etc/passwd\n%s\npartial", ids[0]);
		fclose(fp);
	}
	assert_int_equal(count_run(f, "runA", ids, 0, 2), 3);

	/* Without its index, the run is found by scanning. */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(count_run(f, "runA", ids, 0, 2), 3);

	/* An invalid run name is an error, not a path. */
	it = mc_quarantine_iter_init_run(f->q, "../runs/runB");
	assert_int_equal(mc_quarantine_iter_next_r(it, &e, &error), -1);
	assert_non_null(error);
	free(error);
	error = NULL;
	assert_int_equal(mc_quarantine_iter_next_r(it, &e, &error), 0);
	mc_quarantine_iter_deinit(&it);

	free(p);
	for (size_t i = 0; i < 6; i++)
		free(ids[i]);
}

/* Restore through the eml store: back in place once, refused twice. */
static void test_restore_once(void **state)
{
	struct fixture *f = *state;
	char *target, *id, *error = NULL, *text;
	struct mc_qentry *e;
	time_t now = time(NULL);

	if (mc_store_lookup("eml") == NULL || mc_store_lookup("eml")->restore == NULL)
		skip();
	if (asprintf(&target, "%s/restored.eml", f->tmp) < 0)
		abort();
	id = put(f, "runR", "eml", target, MSG1, strlen(MSG1));

	if (mc_restore_entry(f->q, id, &error) < 0)
		fprintf(stderr, "restore: %s\n", error);
	assert_null(error);
	text = read_text(target);
	assert_non_null(text);
	assert_string_equal(text, MSG1);
	free(text);

	e = mc_quarantine_get(f->q, id, &error);
	assert_non_null(e);
	assert_true(e->restored_at >= now - 5);
	mc_qentry_free(&e);

	/* Second restore: refused, saying when and where. */
	assert_int_equal(unlink(target), 0);
	assert_int_equal(mc_restore_entry(f->q, id, &error), -1);
	assert_non_null(error);
	assert_non_null(strstr(error, "already restored at"));
	assert_non_null(strstr(error, target));
	assert_non_null(strstr(error, id));
	free(error);
	assert_int_equal(access(target, F_OK), -1);

	/* The quarantined copy is kept. */
	error = NULL;
	e = mc_quarantine_get(f->q, id, &error);
	assert_non_null(e);
	assert_int_equal(mc_quarantine_read(f->q, e, (void **)&text, &(size_t){0}, &error), 0);
	free(text);
	mc_qentry_free(&e);
	free(target);
	free(id);
}

/* The refusal depends on the record only: no store is asked. */
static void test_restore_refusals(void **state)
{
	struct fixture *f = *state;
	char *id = put(f, "runR", "nosuchstore", "/x", MSG1, strlen(MSG1));
	char *error = NULL;
	struct mc_qentry *e;

	/* No store can restore this kind: error, and not marked. */
	assert_int_equal(mc_restore_entry(f->q, id, &error), -1);
	assert_non_null(strstr(error, "nosuchstore"));
	free(error);
	error = NULL;
	e = mc_quarantine_get(f->q, id, &error);
	assert_int_equal(e->restored_at, 0);
	mc_qentry_free(&e);

	/* Marked restored: refused before anything else happens. */
	set_field(f, id, "restored_at", json_object_new_int64(1700000000));
	assert_int_equal(mc_restore_entry(f->q, id, &error), -1);
	assert_non_null(strstr(error, "already restored at 2023-11-14 22:13:20 UTC (to /x)"));
	free(error);
	error = NULL;

	/* Ids that are not ids. */
	assert_int_equal(mc_restore_entry(f->q, "../../etc", &error), -1);
	assert_non_null(strstr(error, "not a quarantine entry id"));
	free(error);
	error = NULL;
	assert_int_equal(mc_restore_entry(f->q, "20200101T000000Z-000000-00000000", &error), -1);
	assert_non_null(strstr(error, "no quarantine entry"));
	free(error);
	error = NULL;
	assert_null(mc_quarantine_get(f->q, "", &error));
	free(error);
	free(id);
}

static void backdate(struct fixture *f, const char *id, time_t when)
{
	set_field(f, id, "quarantined_at", json_object_new_int64(when));
}

static size_t count_entries(struct fixture *f)
{
	struct mc_quarantine_iter *it = mc_quarantine_iter_init(f->q);
	struct mc_qentry *e;
	size_t n = 0;

	while ((e = mc_quarantine_iter_next(it)) != NULL) {
		n++;
		mc_qentry_free(&e);
	}
	mc_quarantine_iter_deinit(&it);
	return n;
}

static void test_purge(void **state)
{
	struct fixture *f = *state;
	char *ids[4], *error = NULL, *p;
	time_t now = time(NULL);
	struct mc_qentry *e;

	ids[0] = put(f, "old", "eml", "/x", MSG1, strlen(MSG1));
	ids[1] = put(f, "old", "eml", "/x", MSG1, strlen(MSG1));
	ids[2] = put(f, "new", "eml", "/x", MSG2, strlen(MSG2));
	ids[3] = put(f, "old", "eml", "/x", MSG2, strlen(MSG2));
	backdate(f, ids[0], now - 40 * 86400);
	backdate(f, ids[1], now - 31 * 86400);
	backdate(f, ids[3], now - 10 * 86400);

	/* Dry run counts and changes nothing. */
	assert_int_equal(mc_quarantine_purge(f->q, now - 30 * 86400, true, &error), 2);
	assert_int_equal(count_entries(f), 4);

	assert_int_equal(mc_quarantine_purge(f->q, now - 30 * 86400, false, &error), 2);
	assert_null(error);
	assert_int_equal(count_entries(f), 2);
	assert_null(mc_quarantine_get(f->q, ids[0], &error));
	free(error);
	error = NULL;
	e = mc_quarantine_get(f->q, ids[3], &error);
	assert_non_null(e);
	mc_qentry_free(&e);

	/* Their run index lines went with them. */
	if (asprintf(&p, "%s/runs/old", f->qdir) < 0)
		abort();
	{
		char *text = read_text(p), *expect;
		if (asprintf(&expect, "%s\n", ids[3]) < 0)
			abort();
		assert_string_equal(text, expect);
		free(expect);
		free(text);
	}
	assert_int_equal(count_run(f, "old", ids, 3, 0), 1);

	/* Nothing older: nothing purged. */
	assert_int_equal(mc_quarantine_purge(f->q, now - 30 * 86400, false, &error), 0);

	/* Everything: the quarantine is empty, the indexes are gone. */
	assert_int_equal(mc_quarantine_purge(f->q, now + 10, false, &error), 2);
	assert_int_equal(count_entries(f), 0);
	assert_int_equal(access(p, F_OK), -1);
	free(p);
	for (size_t i = 0; i < 4; i++)
		free(ids[i]);
}

/* A damaged record is an error for its entry only. */
static void test_corrupt_meta(void **state)
{
	struct fixture *f = *state;
	static const char *const damage[] = {
		"",					/* empty */
		"{\"id\":",				/* truncated */
		"[1,2,3]",				/* not an object */
		"{\"id\":5}",				/* wrong type */
		"\x01\x02garbage\xff",			/* not JSON */
		"{\"id\":\"X\",\"loc\":{\"kind\":\"eml\"},\"sha256\":\"00\",\"size\":1}",
	};
	char *ids[3], *error = NULL, *p;
	struct mc_quarantine_iter *it;
	struct mc_qentry *e;
	int ret;

	for (size_t i = 0; i < 3; i++)
		ids[i] = put(f, "r", "eml", "/x", MSG1, strlen(MSG1));
	p = entry_file(f, ids[1], "meta.json");

	for (size_t d = 0; d < sizeof(damage) / sizeof(damage[0]); d++) {
		size_t good = 0, bad = 0;

		write_text(p, damage[d]);
		it = mc_quarantine_iter_init(f->q);
		while ((ret = mc_quarantine_iter_next_r(it, &e, &error)) != 0) {
			if (ret < 0) {
				assert_non_null(strstr(error, ids[1]));
				free(error);
				error = NULL;
				bad++;
				continue;
			}
			assert_string_not_equal(e->id, ids[1]);
			good++;
			mc_qentry_free(&e);
		}
		mc_quarantine_iter_deinit(&it);
		assert_int_equal(good, 2);
		assert_int_equal(bad, 1);

		/* The plain iterator skips it. */
		assert_int_equal(count_entries(f), 2);
		assert_null(mc_quarantine_get(f->q, ids[1], &error));
		assert_non_null(error);
		free(error);
		error = NULL;
		assert_int_equal(mc_restore_entry(f->q, ids[1], &error), -1);
		free(error);
		error = NULL;
	}
	/* A missing record, too. */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(count_entries(f), 2);
	free(p);
	for (size_t i = 0; i < 3; i++)
		free(ids[i]);
}

static void test_discard(void **state)
{
	struct fixture *f = *state;
	char *a = put(f, "d", "eml", "/x", MSG1, strlen(MSG1));
	char *b = put(f, "d", "eml", "/x", MSG2, strlen(MSG2));
	char *error = NULL;

	assert_int_equal(mc_quarantine_discard(f->q, a, &error), 0);
	assert_null(mc_quarantine_get(f->q, a, &error));
	free(error);
	error = NULL;
	assert_int_equal(count_run(f, "d", &b, 0, 0), 1);
	assert_int_equal(mc_quarantine_discard(f->q, a, &error), -1);
	free(error);
	free(a);
	free(b);
}

/* A run resumed after a crash between "quarantined" and "removed"
   asks for the same message again: it gets the entry it already has.
   Another place, another run, or a discarded entry makes a new one. */
static void test_put_same_in_run(void **state)
{
	struct fixture *f = *state;
	char *a = put_at(f, "r1", "eml", "/same", -1, MSG1, strlen(MSG1));
	char *b = put_at(f, "r1", "eml", "/same", -1, MSG1, strlen(MSG1));
	char *c = put_at(f, "r1", "eml", "/other", -1, MSG1, strlen(MSG1));
	char *d = put_at(f, "r2", "eml", "/same", -1, MSG1, strlen(MSG1));
	char *e = put_at(f, "r1", "eml", "/same", -1, MSG2, strlen(MSG2));
	char *error = NULL;

	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_string_not_equal(a, d);
	assert_string_not_equal(a, e);
	assert_int_equal(count_run(f, "r1", NULL, 0, 0), 3);

	/* A new handle (a new process resuming the run) finds it too. */
	mc_quarantine_close(&f->q);
	f->q = mc_quarantine_open(f->qdir, false, &error);
	assert_non_null(f->q);
	char *g = put_at(f, "r1", "eml", "/same", -1, MSG1, strlen(MSG1));
	assert_string_equal(a, g);

	assert_int_equal(mc_quarantine_discard(f->q, a, &error), 0);
	char *h = put_at(f, "r1", "eml", "/same", -1, MSG1, strlen(MSG1));
	assert_string_not_equal(a, h);
	free(a); free(b); free(c); free(d); free(e); free(g); free(h);
}

/* An insecure quarantine directory is refused. */
static void test_insecure_dir(void **state)
{
	struct fixture *f = *state;
	struct mc_quarantine *q;
	char *p, *link, *error = NULL;

	if (asprintf(&p, "%s/open", f->tmp) < 0 || asprintf(&link, "%s/link", f->tmp) < 0)
		abort();
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(chmod(p, 0777), 0);
	q = mc_quarantine_open(p, true, &error);
	assert_null(q);
	assert_non_null(strstr(error, "writable"));
	free(error);
	error = NULL;
	assert_null(mc_quarantine_open(p, false, &error));
	free(error);
	error = NULL;

	assert_int_equal(chmod(p, 0770), 0);
	assert_null(mc_quarantine_open(p, true, &error));
	free(error);
	error = NULL;

	/* A symlink to a good quarantine is refused as well (also with a
	   trailing slash, which would make lstat follow it). */
	assert_int_equal(symlink(f->qdir, link), 0);
	q = mc_quarantine_open(link, true, &error);
	assert_null(q);
	assert_non_null(strstr(error, "symbolic link"));
	free(error);
	error = NULL;
	{
		char *slash;
		if (asprintf(&slash, "%s//", link) < 0)
			abort();
		assert_null(mc_quarantine_open(slash, false, &error));
		assert_non_null(strstr(error, "symbolic link"));
		free(error);
		error = NULL;
		free(slash);
	}

	/* Owned by someone else. */
	if (geteuid() == 0) {
		assert_int_equal(chmod(p, 0700), 0);
		assert_int_equal(chown(p, 65534, 65534), 0);
		assert_null(mc_quarantine_open(p, true, &error));
		assert_non_null(strstr(error, "owned by uid 65534"));
		free(error);
		error = NULL;
		assert_int_equal(chown(p, 0, 0), 0);
	}

	/* Not a directory. */
	assert_null(mc_quarantine_open("/dev/null", false, &error));
	free(error);
	error = NULL;

	/* An existing directory that is safe keeps its mode; one that
	   is made is 0700 whatever the umask. */
	assert_int_equal(chmod(p, 0755), 0);
	q = mc_quarantine_open(p, true, &error);
	assert_non_null(q);
	{
		struct stat st;
		char *fresh;
		mode_t old = umask(0);

		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0755);
		if (asprintf(&fresh, "%s/a/b/q", f->tmp) < 0)
			abort();
		mc_quarantine_close(&q);
		q = mc_quarantine_open(fresh, true, &error);
		assert_non_null(q);
		assert_int_equal(stat(fresh, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0700);
		umask(old);
		mc_quarantine_close(&q);
		q = mc_quarantine_open(p, false, &error);
		assert_non_null(q);
		free(fresh);
	}
	assert_string_equal(mc_quarantine_dir(q), p);
	mc_quarantine_close(&q);
	assert_null(q);

	/* A directory that is not a quarantine, opened for reading. */
	{
		char *plain;
		if (asprintf(&plain, "%s/plain", f->tmp) < 0)
			abort();
		assert_int_equal(mkdir(plain, 0700), 0);
		assert_null(mc_quarantine_open(plain, false, &error));
		assert_non_null(strstr(error, "entries"));
		free(error);
		free(plain);
	}
	free(p);
	free(link);
}

/* A planted symlink inside the quarantine is not followed. */
static void test_planted_symlink(void **state)
{
	struct fixture *f = *state;
	char *id = put(f, "s", "eml", "/x", MSG1, strlen(MSG1));
	char *p = entry_file(f, id, "message"), *error = NULL;
	struct mc_qentry *e;
	void *raw = NULL;
	size_t size;

	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	e = mc_quarantine_get(f->q, id, &error);
	assert_non_null(e);
	assert_int_equal(mc_quarantine_read(f->q, e, &raw, &size, &error), -1);
	assert_non_null(strstr(error, "symbolic link"));
	assert_null(raw);
	free(error);
	mc_qentry_free(&e);
	free(p);
	free(id);
}

/* Several processes restoring one entry at once: exactly one does. */
static void test_restore_race(void **state)
{
	struct fixture *f = *state;
	char *target, *id;
	int ok = 0;

	if (mc_store_lookup("eml") == NULL || mc_store_lookup("eml")->restore == NULL)
		skip();
	if (asprintf(&target, "%s/raced.eml", f->tmp) < 0)
		abort();
	id = put(f, "race", "eml", target, MSG1, strlen(MSG1));
	for (int i = 0; i < 4; i++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			char *error = NULL;
			struct mc_quarantine *q = mc_quarantine_open(f->qdir, false, &error);
			int ret = q != NULL ? mc_restore_entry(q, id, &error) : -1;

			/* A loser must be told why. */
			if (ret < 0 && (error == NULL || strstr(error, "already restored") == NULL))
				_exit(3);
			_exit(ret == 0 ? 0 : 1);
		}
	}
	for (int i = 0; i < 4; i++) {
		int status;

		assert_true(wait(&status) > 0);
		assert_true(WIFEXITED(status));
		assert_true(WEXITSTATUS(status) <= 1);
		ok += WEXITSTATUS(status) == 0;
	}
	assert_int_equal(ok, 1);
	free(target);
	free(id);
}

struct putter {
	struct fixture *f;
	int n;
};

static void *put_many(void *arg)
{
	struct putter *p = arg;

	for (int i = 0; i < p->n; i++)
		free(put(p->f, "threads", "eml", "/x", MSG1, strlen(MSG1)));
	return NULL;
}

/* Puts from several threads: unique ids, every one in the run index. */
static void test_put_threads(void **state)
{
	struct fixture *f = *state;
	struct putter p = { f, 50 };
	pthread_t th[4];
	char *path, *text, *line;
	size_t lines = 0;

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, put_many, &p), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(count_entries(f), 200);
	assert_int_equal(count_run(f, "threads", NULL, 0, 0), 200);
	if (asprintf(&path, "%s/runs/threads", f->qdir) < 0)
		abort();
	text = read_text(path);
	for (line = text; (line = strchr(line, '\n')) != NULL; line++)
		lines++;
	assert_int_equal(lines, 200);
	free(text);
	free(path);
}

/* Staged entries are no entries until committed: not listed, not in
   their run, not restorable (the error says why); a commit moves the
   ones still staged and can be repeated; unstage deletes the rest. */
static void test_stage_commit(void **state)
{
	struct fixture *f = *state;
	struct mc_quarantine_staged *list;
	struct mc_qentry meta;
	char *ids[3], *error = NULL, *path;
	size_t count;

	memset(&meta, 0, sizeof(meta));
	meta.run_id = (char *)"s1";
	meta.loc.kind = "eml";
	meta.loc.path = "/staged";
	for (size_t i = 0; i < 3; i++) {
		meta.loc.offset = (int64_t)i;
		if (mc_quarantine_stage(f->q, "grp-1", &meta, MSG1, strlen(MSG1), &ids[i],
					&error) < 0)
			fail_msg("stage: %s", error);
	}
	assert_int_equal(count_entries(f), 0);
	assert_int_equal(count_run(f, "s1", NULL, 0, 0), 0);
	assert_true(mc_quarantine_staged(f->q, "grp-1"));
	assert_false(mc_quarantine_staged(f->q, "grp-2"));
	assert_int_equal(mc_quarantine_staged_list(f->q, &list, &count, &error), 0);
	assert_int_equal(count, 1);
	assert_string_equal(list[0].group, "grp-1");
	assert_int_equal(list[0].count, 3);
	assert_string_equal(list[0].path, "/staged");
	assert_string_equal(list[0].run_id, "s1");
	mc_quarantine_staged_free(&list, count);
	assert_int_equal(mc_restore_entry(f->q, ids[0], &error), -1);
	assert_non_null(strstr(error, "staged"));
	free(error);
	error = NULL;

	/* Commit two; again, as an interrupted commit is repeated. */
	assert_int_equal(mc_quarantine_commit(f->q, "grp-1", ids, 2, &error), 0);
	assert_int_equal(mc_quarantine_commit(f->q, "grp-1", ids, 2, &error), 0);
	assert_int_equal(count_entries(f), 2);
	assert_int_equal(count_run(f, "s1", ids, 0, 1), 2);
	if (asprintf(&path, "%s/runs/s1", f->qdir) < 0)
		abort();
	char *text = read_text(path), *want;
	if (asprintf(&want, "%s\n%s\n", ids[0], ids[1]) < 0)
		abort();
	assert_string_equal(text, want);
	free(text);
	free(want);
	free(path);

	/* The third was not cut: unstage deletes it, and the group. */
	assert_int_equal(mc_quarantine_unstage(f->q, "grp-1", &error), 0);
	assert_false(mc_quarantine_staged(f->q, "grp-1"));
	assert_int_equal(count_entries(f), 2);
	assert_null(mc_quarantine_get(f->q, ids[2], &error));
	assert_non_null(strstr(error, "no quarantine entry"));
	free(error);
	error = NULL;
	/* Nothing staged: nothing to settle. */
	assert_int_equal(mc_restore_settle(f->q, &error), 0);
	assert_int_equal(mc_quarantine_stage(f->q, "../x", &meta, MSG1, strlen(MSG1),
					     &path, &error), -1);
	free(error);
	for (size_t i = 0; i < 3; i++)
		free(ids[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envelope_in_location, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_refuses_bad_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checksum_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iteration_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_same_in_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insecure_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_planted_symlink, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
