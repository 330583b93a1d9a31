/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-maildir 1
/* SUMMARY
/*	unit tests of the Maildir, eml and tree stores
/* DESCRIPTION
/*	Pins how mailbox owners and folders are named from paths and
/*	owners; what a Maildir message reports (folder, new/cur, flags,
/*	owner, mode, mtime) and what is left out (tmp/, dot files,
/*	Dovecot's files); reading heads first (a large message's head,
/*	loaded through the file it was opened as); that a symlink, a
/*	hard link or a FIFO in cur/,
/*	and a cur/ that is a symlink, are reported with read_error and
/*	never read nor removed; the
/*	remove + restore round trip with flags, owner, mode and mtime,
/*	also into a folder that was deleted meanwhile; that a message
/*	the IMAP server renamed after it was read is still removed, a
/*	replaced one is not, and a restore never duplicates a message.
/*	The tree store finds every user's mailboxes (the same, in the same
/*	order, when read ahead by its threads), reports a symlinked
/*	mailbox, and leaves text files and a quarantine alone. The eml
/*	store reads single files and directories, and restores without
/*	overwriting.
/*
/*	Each test works in its own temporary directory with a real
/*	quarantine.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "fixture.h"
#include "store/store-private.h"

#define NOBODY 65534

struct fixture {
	char *tmp;
	struct mc_quarantine *q;
	struct mc_limits limits;
	struct mc_store_settings set;
};

static struct mc_reason reason_all = { MC_REASON_ALL, (char *)"", NULL };
static struct mc_match match_all = { .matched = true, .reasons = &reason_all,
				     .reason_count = 1 };

static const char MSG[] = "From: alice@example.com\nSubject: hello\n\nbody\n";

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if ((f->tmp = mc_fixture_tmpdir("maildir")) == NULL ||
	    (f->q = mc_fixture_quarantine(f->tmp, NULL)) == NULL)
		return -1;
	mc_limits_default(&f->limits);
	f->set.limits = &f->limits;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	mc_quarantine_close(&f->q);
	mc_fixture_rm_rf(f->tmp);
	free(f->tmp);
	free(f);
	return 0;
}

static char *path_of(struct fixture *f, const char *rel)
{
	char *p;

	if (asprintf(&p, "%s/%s", f->tmp, rel) < 0)
		abort();
	return p;
}

static void mkdirs(struct fixture *f, const char *rel)
{
	char *p = path_of(f, rel);

	assert_int_equal(mc_mkdir_p(p, 0700, NULL), 0);
	free(p);
}

static void maildir_make(struct fixture *f, const char *rel)
{
	char *p;

	for (int i = 0; i < 3; i++) {
		static const char *const sub[] = { "cur", "new", "tmp" };
		if (asprintf(&p, "%s/%s", rel, sub[i]) < 0)
			abort();
		mkdirs(f, p);
		free(p);
	}
}

static char *put(struct fixture *f, const char *rel, const char *data, mode_t mode,
		 time_t mtime)
{
	char *p = path_of(f, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	fchmod(fd, mode);
	if (mtime != 0) {
		struct timespec ts[2] = { { 0, UTIME_OMIT }, { mtime, 0 } };
		futimens(fd, ts);
	}
	close(fd);
	return p;
}

static char *read_file(const char *path, size_t *len_r)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long len;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)len + 1);
	assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
	buf[len] = '\0';
	fclose(fp);
	*len_r = (size_t)len;
	return buf;
}

struct items {
	struct mc_store *store;
	struct mc_msg **msgs;
	size_t count;
};

static void items_read(struct fixture *f, const char *uri, struct items *it)
{
	char *err = NULL;
	struct mc_msg *msg;
	int ret;

	memset(it, 0, sizeof(*it));
	if (mc_store_open(uri, &f->set, &it->store, &err) < 0)
		fail_msg("open %s: %s", uri, err);
	while ((ret = mc_store_next(it->store, &msg, &err)) > 0) {
		it->msgs = realloc(it->msgs, (it->count + 1) * sizeof(*it->msgs));
		it->msgs[it->count++] = msg;
	}
	assert_int_equal(ret, 0);
}

static void items_free(struct items *it)
{
	for (size_t i = 0; i < it->count; i++)
		mc_store_msg_free(it->store, &it->msgs[i]);
	mc_store_close(&it->store);
	free(it->msgs);
}

static struct mc_msg *find_msg(struct items *it, const char *path_end)
{
	for (size_t i = 0; i < it->count; i++) {
		const char *p = it->msgs[i]->loc.path;
		size_t n = strlen(p), m = strlen(path_end);

		if (n >= m && strcmp(p + n - m, path_end) == 0)
			return it->msgs[i];
	}
	fail_msg("no item %s", path_end);
	return NULL;
}

static void remove_one(struct fixture *f, struct items *it, struct mc_msg *msg,
		       struct mc_removal *rm)
{
	memset(rm, 0, sizeof(*rm));
	rm->msg = msg;
	rm->match = &match_all;
	mc_store_remove(it->store, f->q, "run-test", rm, 1);
}

static size_t quarantine_count(struct fixture *f)
{
	struct mc_quarantine_iter *iter = mc_quarantine_iter_init(f->q);
	struct mc_qentry *e;
	size_t n = 0;

	while ((e = mc_quarantine_iter_next(iter)) != NULL) {
		n++;
		mc_qentry_free(&e);
	}
	mc_quarantine_iter_deinit(&iter);
	return n;
}

/* ------------------------------------------------------------------ */

static void check_user(const char *path, bool maildir, const char *root,
		       const char *user, const char *folder)
{
	char *folder_r = NULL;
	char *u = mc_store_user_from_path(path, maildir, root, maildir ? NULL : &folder_r);

	if (user == NULL)
		assert_null(u);
	else {
		assert_non_null(u);
		assert_string_equal(u, user);
	}
	if (folder != NULL) {
		assert_non_null(folder_r);
		assert_string_equal(folder_r, folder);
	}
	free(u);
	free(folder_r);
}

static void test_user_from_path(void **state)
{
	(void)state;
	check_user("/var/mail/alice", false, "/var/mail", "alice", "INBOX");
	check_user("/var/spool/mail/alice", false, NULL, "alice", "INBOX");
	check_user("/srv/x/var/mail/bob", false, NULL, "bob", "INBOX");
	check_user("/home/alice/mail/Sent", false, "/home", "alice", "Sent");
	check_user("/home/alice/Mail/lists/debian", false, NULL, "alice", "lists/debian");
	check_user("/home/alice/mbox", false, "/home", "alice", "mbox");
	check_user("/srv/mboxes/carol", false, "/srv/mboxes", "carol", "INBOX");
	check_user("/tmp/x/inbox", false, NULL, NULL, "INBOX");
	check_user("/home/alice/Maildir", true, "/home", "alice", NULL);
	check_user("/home/alice/Maildir", true, NULL, "alice", NULL);
	check_user("/var/vmail/example.com/alice", true, "/var/vmail", "alice@example.com", NULL);
	check_user("/var/vmail/example.com/alice/Maildir", true, NULL, "alice@example.com", NULL);
	check_user("/srv/users/sam/Maildir", true, NULL, "sam", NULL);
}

static void test_maildir_fields(void **state)
{
	struct fixture *f = *state;
	struct items it;
	struct stat st;
	char *p, *uri;

	maildir_make(f, "home/alice/Maildir");
	maildir_make(f, "home/alice/Maildir/.Sent");
	maildir_make(f, "home/alice/Maildir/.Archive.2024");
	maildir_make(f, "home/alice/Maildir/Lists");	/* LAYOUT=fs */
	free(put(f, "home/alice/Maildir/new/1.M1.host", MSG, 0600, 1700000000));
	free(put(f, "home/alice/Maildir/cur/2.M2.host:2,RS", MSG, 0640, 1700000100));
	free(put(f, "home/alice/Maildir/.Sent/cur/3.M3.host:2,S", MSG, 0600, 0));
	free(put(f, "home/alice/Maildir/.Archive.2024/new/4.M4.host", MSG, 0600, 0));
	free(put(f, "home/alice/Maildir/Lists/cur/5.M5.host:2,", MSG, 0600, 0));
	/* Never read: */
	free(put(f, "home/alice/Maildir/tmp/6.M6.host", MSG, 0600, 0));
	free(put(f, "home/alice/Maildir/cur/.7.hidden", MSG, 0600, 0));
	free(put(f, "home/alice/Maildir/dovecot-uidlist", "3 V1 N1\n", 0600, 0));
	free(put(f, "home/alice/Maildir/.Sent/maildirfolder", "", 0600, 0));
	free(put(f, "home/alice/Maildir/dovecot.index.log", "x", 0600, 0));

	p = path_of(f, "home/alice/Maildir");
	assert_true(asprintf(&uri, "maildir:%s", p) > 0);
	items_read(f, uri, &it);
	assert_int_equal(it.count, 5);
	for (size_t i = 0; i < it.count; i++) {
		assert_null(it.msgs[i]->read_error);
		assert_string_equal(it.msgs[i]->loc.kind, "maildir");
		assert_string_equal(it.msgs[i]->loc.store, uri);
		/* Root-owned in the test: named from the path. */
		assert_string_equal(it.msgs[i]->loc.user, "alice");
		assert_int_equal(it.msgs[i]->loc.offset, -1);
		assert_int_equal(it.msgs[i]->size, strlen(MSG));
		assert_memory_equal(it.msgs[i]->data, MSG, strlen(MSG));
		assert_true(mc_store_container_last(it.store, it.msgs[i]));
		assert_int_equal(it.msgs[i]->seq, 0);
	}
	/* INBOX first, new/ before cur/. */
	assert_string_equal(it.msgs[0]->loc.folder, "INBOX");
	assert_string_equal(it.msgs[0]->loc.maildir_subdir, "new");
	struct mc_msg *m = find_msg(&it, "/cur/2.M2.host:2,RS");
	assert_string_equal(m->loc.folder, "INBOX");
	assert_string_equal(m->loc.maildir_subdir, "cur");
	assert_string_equal(m->loc.maildir_flags, "RS");
	assert_int_equal(m->loc.mode & 07777, 0640);
	assert_int_equal(m->loc.mtime, 1700000100);
	stat(m->loc.path, &st);
	assert_int_equal(m->loc.uid, st.st_uid);
	assert_int_equal(m->loc.gid, st.st_gid);
	assert_true(strncmp(m->loc.path, p, strlen(p)) == 0);
	m = find_msg(&it, "/new/1.M1.host");
	assert_string_equal(m->loc.maildir_flags, "");
	m = find_msg(&it, "/.Sent/cur/3.M3.host:2,S");
	assert_string_equal(m->loc.folder, "Sent");
	assert_string_equal(m->loc.maildir_flags, "S");
	m = find_msg(&it, "/.Archive.2024/new/4.M4.host");
	assert_string_equal(m->loc.folder, "Archive/2024");
	m = find_msg(&it, "/Lists/cur/5.M5.host:2,");
	assert_string_equal(m->loc.folder, "Lists");
	items_free(&it);
	free(uri);

	/* Owned by a user: that user's name. A bare path is detected. */
	if (geteuid() == 0) {
		char *owner = mc_user_name(NOBODY);

		assert_int_equal(chown(p, NOBODY, NOBODY), 0);
		items_read(f, p, &it);
		assert_int_equal(it.count, 5);
		assert_string_equal(it.msgs[0]->loc.kind, "maildir");
		if (owner != NULL)
			assert_string_equal(it.msgs[0]->loc.user, owner);
		items_free(&it);
		free(owner);
	}
	free(p);

	/* A virtual DOMAIN/USER Maildir. */
	maildir_make(f, "vmail/example.com/bob");
	free(put(f, "vmail/example.com/bob/cur/1.x:2,S", MSG, 0600, 0));
	p = path_of(f, "vmail/example.com/bob");
	items_read(f, p, &it);
	assert_int_equal(it.count, 1);
	assert_string_equal(it.msgs[0]->loc.user, "bob@example.com");
	items_free(&it);
	free(p);
}

/* Heads first: a small message is read whole; a larger one is
   yielded with its first bytes (the whole header block) and read
   through the file it was opened as when loaded; dropped, it holds
   neither bytes nor the file. One whose header block does not end
   early is read whole. A file that shrank is a read error. */
static void test_heads_first(void **state)
{
	struct fixture *f = *state;
	size_t big_len = 300000, long_len = 400000;
	char *big = malloc(big_len + 1), *longh = malloc(long_len + 1), *p, *uri;
	struct items it;
	size_t o = 0;

	o = (size_t)sprintf(big, "From: a@example.com\nSubject: big\n\n");
	for (; o < big_len; o++)
		big[o] = o % 70 == 0 ? '\n' : (char)('a' + o % 26);
	big[big_len] = '\0';
	o = (size_t)sprintf(longh, "From: a@example.com\n");
	for (; o + 20 < long_len; o += 20)
		memcpy(longh + o, "X-Pad: 012345678901\n", 20);
	memcpy(longh + o, "\nbody", 5);
	longh[o + 5] = '\0';
	maildir_make(f, "Maildir");
	free(put(f, "Maildir/cur/1.M1.host:2,S", MSG, 0600, 0));
	free(put(f, "Maildir/cur/2.M2.host:2,S", big, 0600, 0));
	free(put(f, "Maildir/cur/3.M3.host:2,S", longh, 0600, 0));
	char *bigpath = put(f, "Maildir/cur/4.M4.host:2,S", big, 0600, 0);
	p = path_of(f, "Maildir");
	assert_true(asprintf(&uri, "maildir:%s", p) > 0);
	f->set.heads_first = true;
	items_read(f, uri, &it);
	assert_int_equal(it.count, 4);

	struct mc_msg *m = find_msg(&it, "/cur/1.M1.host:2,S");
	assert_non_null(m->data);
	assert_memory_equal(m->data, MSG, strlen(MSG));

	m = find_msg(&it, "/cur/3.M3.host:2,S");
	assert_non_null(m->data);
	assert_int_equal(m->size, strlen(longh));

	m = find_msg(&it, "/cur/2.M2.host:2,S");
	assert_null(m->data);
	assert_null(m->raw);
	assert_int_equal(m->size, big_len);
	assert_int_equal(m->raw_size, big_len);
	assert_non_null(m->head);
	assert_true(m->head_size < big_len);
	assert_memory_equal(m->head, big, m->head_size);
	assert_int_equal(mc_store_load(it.store, m), 0);
	assert_memory_equal(m->data, big, big_len);
	assert_true(m->raw == m->data);
	assert_int_equal(mc_store_load(it.store, m), 0);
	mc_store_drop(it.store, m);
	assert_null(m->data);
	assert_null(m->raw);
	assert_null(m->head);
	assert_int_equal(m->size, big_len);
	assert_null(m->read_error);
	assert_int_equal(((struct mc_store_msg *)m)->fd, -1);

	/* Truncated after it was opened: not read. */
	m = find_msg(&it, "/cur/4.M4.host:2,S");
	assert_null(m->data);
	assert_int_equal(truncate(bigpath, 1000), 0);
	assert_int_equal(mc_store_load(it.store, m), -1);
	assert_non_null(m->read_error);
	assert_non_null(strstr(m->read_error, "shrank"));
	assert_null(m->data);
	items_free(&it);
	free(bigpath);
	free(uri);
	free(p);
	free(big);
	free(longh);
}

/* A symlink, a hard link and a FIFO planted in cur/. */
static void test_links_refused(void **state)
{
	struct fixture *f = *state;
	struct mc_removal rm;
	struct items it;
	char *secret, *p, *uri;
	size_t len;

	maildir_make(f, "Maildir");
	free(put(f, "Maildir/cur/1.ok:2,S", MSG, 0600, 0));
	secret = put(f, "secret", "root:SECRET:0:0\n", 0600, 0);
	p = path_of(f, "Maildir/cur/2.symlink:2,S");
	assert_int_equal(symlink(secret, p), 0);
	free(p);
	p = path_of(f, "Maildir/cur/3.hardlink:2,S");
	assert_int_equal(link(secret, p), 0);
	free(p);
	p = path_of(f, "Maildir/cur/4.fifo:2,S");
	assert_int_equal(mkfifo(p, 0600), 0);
	free(p);

	p = path_of(f, "Maildir");
	assert_true(asprintf(&uri, "maildir:%s", p) > 0);
	items_read(f, uri, &it);	/* does not hang on the FIFO */
	assert_int_equal(it.count, 4);
	struct mc_msg *sym = find_msg(&it, "/2.symlink:2,S");
	struct mc_msg *hard = find_msg(&it, "/3.hardlink:2,S");
	struct mc_msg *fifo = find_msg(&it, "/4.fifo:2,S");
	assert_non_null(sym->read_error);
	assert_non_null(strstr(sym->read_error, "symbolic link"));
	assert_non_null(hard->read_error);
	assert_non_null(strstr(hard->read_error, "hard links"));
	assert_non_null(fifo->read_error);
	assert_non_null(strstr(fifo->read_error, "not a regular file"));
	assert_null(sym->raw);
	assert_null(hard->raw);
	assert_null(fifo->raw);
	assert_null(find_msg(&it, "/1.ok:2,S")->read_error);
	/* Never removed, never quarantined, even when asked to. */
	remove_one(f, &it, hard, &rm);
	assert_false(rm.removed);
	assert_non_null(rm.error);
	free(rm.error);
	remove_one(f, &it, sym, &rm);
	assert_false(rm.removed);
	free(rm.error);
	assert_int_equal(quarantine_count(f), 0);
	char *content = read_file(secret, &len);
	assert_string_equal(content, "root:SECRET:0:0\n");
	free(p);
	p = path_of(f, "Maildir/cur/3.hardlink:2,S");
	assert_int_equal(access(p, F_OK), 0);
	free(p);
	free(content);
	items_free(&it);
	free(uri);
	free(secret);
}

/* cur/ itself is a symlink to a directory outside: reported, never
   followed; new/ is still read. */
static void test_cur_symlink(void **state)
{
	struct fixture *f = *state;
	struct items it;
	char *p, *outside, *cur;

	mkdirs(f, "Maildir/new");
	mkdirs(f, "Maildir/tmp");
	mkdirs(f, "outside");
	free(put(f, "Maildir/new/1.A.host", MSG, 0600, 0));
	free(put(f, "outside/2.B.host:2,S", MSG, 0600, 0));
	outside = path_of(f, "outside");
	cur = path_of(f, "Maildir/cur");
	assert_int_equal(symlink(outside, cur), 0);
	p = path_of(f, "Maildir");
	items_read(f, p, &it);
	assert_string_equal(mc_store_kind(it.store), "maildir");
	assert_int_equal(it.count, 2);
	assert_null(find_msg(&it, "/new/1.A.host")->read_error);
	struct mc_msg *m = find_msg(&it, "/Maildir/cur");
	assert_non_null(m->read_error);
	assert_non_null(strstr(m->read_error, "symbolic link"));
	items_free(&it);
	free(p);
	free(cur);
	free(outside);
}

static void test_remove_restore(void **state)
{
	struct fixture *f = *state;
	struct mc_removal rm;
	struct items it;
	struct stat st;
	char *p, *uri, *file, *sent, *content, *err = NULL;
	size_t len;
	bool root = geteuid() == 0;

	maildir_make(f, "home/alice/Maildir");
	maildir_make(f, "home/alice/Maildir/.Sent");
	file = put(f, "home/alice/Maildir/cur/1700000000.M1P1.host:2,FRS", MSG, 0640, 1700000000);
	sent = put(f, "home/alice/Maildir/.Sent/cur/1700000001.M2P1.host:2,S", MSG, 0600,
		   1700000001);
	if (root) {
		assert_int_equal(chown(file, NOBODY, NOBODY), 0);
		assert_int_equal(chown(sent, NOBODY, NOBODY), 0);
	}
	p = path_of(f, "home/alice/Maildir");
	assert_true(asprintf(&uri, "maildir:%s", p) > 0);
	items_read(f, uri, &it);
	assert_int_equal(it.count, 2);

	remove_one(f, &it, find_msg(&it, ":2,FRS"), &rm);
	if (rm.error != NULL)
		fail_msg("remove: %s", rm.error);
	assert_true(rm.removed);
	assert_int_equal(access(file, F_OK), -1);
	struct mc_qentry *e = mc_quarantine_get(f->q, rm.quarantine_id, NULL);
	assert_non_null(e);
	assert_string_equal(e->loc.kind, "maildir");
	assert_string_equal(e->loc.maildir_flags, "FRS");
	assert_string_equal(e->loc.maildir_subdir, "cur");
	assert_string_equal(e->loc.path, file);
	assert_string_equal(e->subject, "hello");
	mc_qentry_free(&e);

	if (mc_restore_entry(f->q, rm.quarantine_id, &err) < 0)
		fail_msg("restore: %s", err);
	content = read_file(file, &len);
	assert_non_null(content);
	assert_int_equal(len, strlen(MSG));
	assert_memory_equal(content, MSG, len);
	free(content);
	stat(file, &st);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_mtime, 1700000000);
	assert_int_equal(st.st_nlink, 1);
	if (root) {
		assert_int_equal(st.st_uid, NOBODY);
		assert_int_equal(st.st_gid, NOBODY);
	}
	/* Nothing left behind in tmp/. */
	char *tmpdir = path_of(f, "home/alice/Maildir/tmp");
	char *cmd;
	assert_true(asprintf(&cmd, "test -z \"$(ls -A '%s')\"", tmpdir) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(tmpdir);
	assert_int_equal(mc_restore_entry(f->q, rm.quarantine_id, &err), -1);
	free(err);
	err = NULL;
	free(rm.quarantine_id);

	/* The folder is deleted meanwhile: restore recreates it. */
	remove_one(f, &it, find_msg(&it, ":2,S"), &rm);
	assert_true(rm.removed);
	char *sentdir = path_of(f, "home/alice/Maildir/.Sent");
	mc_fixture_rm_rf(sentdir);
	if (mc_restore_entry(f->q, rm.quarantine_id, &err) < 0)
		fail_msg("restore: %s", err);
	content = read_file(sent, &len);
	assert_non_null(content);
	assert_memory_equal(content, MSG, len);
	free(content);
	stat(sentdir, &st);
	if (root)
		assert_int_equal(st.st_uid, NOBODY);
	assert_int_equal(st.st_mode & 0777, 0700);
	char *mf = path_of(f, "home/alice/Maildir/.Sent/maildirfolder");
	assert_int_equal(access(mf, F_OK), 0);
	free(mf);
	free(sentdir);
	free(rm.quarantine_id);
	items_free(&it);
	free(uri);
	free(p);
	free(file);
	free(sent);
}

/* Renamed by the IMAP server after it was read: still removed. A
   file replaced under the same name: not removed, not quarantined. */
static void test_remove_moved_and_replaced(void **state)
{
	struct fixture *f = *state;
	struct mc_removal rm;
	struct items it;
	char *p, *uri, *a, *b, *moved;

	maildir_make(f, "Maildir");
	a = put(f, "Maildir/new/1.A.host", MSG, 0600, 0);
	b = put(f, "Maildir/cur/2.B.host:2,S", MSG, 0600, 0);
	p = path_of(f, "Maildir");
	assert_true(asprintf(&uri, "maildir:%s", p) > 0);
	items_read(f, uri, &it);
	assert_int_equal(it.count, 2);

	moved = path_of(f, "Maildir/cur/1.A.host:2,S");
	assert_int_equal(rename(a, moved), 0);
	remove_one(f, &it, find_msg(&it, "/new/1.A.host"), &rm);
	if (rm.error != NULL)
		fail_msg("remove: %s", rm.error);
	assert_true(rm.removed);
	assert_int_equal(access(moved, F_OK), -1);
	/* Recorded as it was when removed: in cur/, seen. */
	struct mc_qentry *e = mc_quarantine_get(f->q, rm.quarantine_id, NULL);
	assert_non_null(e);
	assert_string_equal(e->loc.path, moved);
	assert_string_equal(e->loc.maildir_subdir, "cur");
	assert_string_equal(e->loc.maildir_flags, "S");
	mc_qentry_free(&e);
	free(rm.quarantine_id);

	/* Same size, other bytes; the file system may even give it the
	   same inode number. */
	unlink(b);
	free(put(f, "Maildir/cur/2.B.host:2,S", "From: alice@example.com\nSubject: HELLO\n\nbody\n",
		 0600, 0));
	remove_one(f, &it, find_msg(&it, "/cur/2.B.host:2,S"), &rm);
	assert_false(rm.removed);
	assert_null(rm.quarantine_id);
	assert_non_null(rm.error);
	assert_non_null(strstr(rm.error, "replaced"));
	assert_int_equal(access(b, F_OK), 0);
	assert_int_equal(quarantine_count(f), 1);
	free(rm.error);
	items_free(&it);
	free(uri);
	free(p);
	free(a);
	free(b);
	free(moved);
}

/* The message is back (under other flags) before a restore. */
static void test_restore_no_duplicate(void **state)
{
	struct fixture *f = *state;
	struct mc_removal rm;
	struct items it;
	char *p, *uri, *err = NULL;

	maildir_make(f, "Maildir");
	free(put(f, "Maildir/new/1.A.host", MSG, 0600, 0));
	p = path_of(f, "Maildir");
	assert_true(asprintf(&uri, "maildir:%s", p) > 0);
	items_read(f, uri, &it);
	remove_one(f, &it, it.msgs[0], &rm);
	assert_true(rm.removed);
	free(put(f, "Maildir/cur/1.A.host:2,S", MSG, 0600, 0));
	assert_int_equal(mc_restore_entry(f->q, rm.quarantine_id, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err, "already"));
	char *newfile = path_of(f, "Maildir/new/1.A.host");
	assert_int_equal(access(newfile, F_OK), -1);
	free(newfile);
	free(err);
	free(rm.quarantine_id);
	items_free(&it);
	free(uri);
	free(p);
}

static void test_tree(void **state)
{
	struct fixture *f = *state;
	static const char mbox[] =
		"From a@example.com Mon Mar  2 10:00:00 2026\nSubject: 1\n\none\n\n"
		"From b@example.com Mon Mar  2 10:00:00 2026\nSubject: 2\n\ntwo\n";
	struct items it;
	char *p, *root;

	mkdirs(f, "srv/var/mail");
	free(put(f, "srv/var/mail/alice", mbox, 0600, 0));
	free(put(f, "srv/var/mail/alice.lock", "", 0600, 0));
	free(put(f, "srv/var/mail/empty", "", 0600, 0));
	p = path_of(f, "srv/var/mail/bob");
	assert_int_equal(symlink("/etc/passwd", p), 0);
	free(p);
	maildir_make(f, "srv/home/carol/Maildir");
	maildir_make(f, "srv/home/carol/Maildir/.Sent");
	free(put(f, "srv/home/carol/Maildir/cur/1.x:2,S", MSG, 0600, 0));
	free(put(f, "srv/home/carol/Maildir/.Sent/cur/2.x:2,S", MSG, 0600, 0));
	mkdirs(f, "srv/home/carol/mail");
	free(put(f, "srv/home/carol/mail/Drafts", mbox, 0600, 0));
	free(put(f, "srv/home/carol/letter.txt", "From the desk of Carol\n\nhi\n", 0600, 0));
	free(put(f, "srv/home/carol/.bashrc", "export X=1\n", 0600, 0));
	/* A quarantine inside the tree holds mail that is no mailbox. */
	mkdirs(f, "srv/home/q/entries/1");
	mkdirs(f, "srv/home/q/runs");
	free(put(f, "srv/home/q/entries/1/message", mbox, 0600, 0));

	root = path_of(f, "srv");
	/* Read heads first, the mailboxes are read ahead by threads of
	   the tree: the same items, in the same order. */
	struct items ahead;
	f->set.heads_first = true;
	items_read(f, root, &ahead);
	f->set.heads_first = false;
	items_read(f, root, &it);
	assert_int_equal(ahead.count, it.count);
	for (size_t i = 0; i < it.count; i++) {
		assert_string_equal(ahead.msgs[i]->loc.path, it.msgs[i]->loc.path);
		assert_int_equal(ahead.msgs[i]->loc.offset, it.msgs[i]->loc.offset);
		assert_int_equal(ahead.msgs[i]->size, it.msgs[i]->size);
		assert_true((ahead.msgs[i]->read_error == NULL) == (it.msgs[i]->read_error == NULL));
	}
	items_free(&ahead);
	size_t errors = 0, alice = 0, carol_inbox = 0, carol_sent = 0, carol_drafts = 0;
	for (size_t i = 0; i < it.count; i++) {
		struct mc_msg *m = it.msgs[i];

		assert_string_equal(m->loc.store, root);
		if (m->read_error != NULL) {
			errors++;
			assert_non_null(strstr(m->read_error, "/var/mail/bob"));
			assert_non_null(strstr(m->read_error, "symbolic link"));
			continue;
		}
		assert_null(strstr(m->loc.path, "/q/"));
		assert_null(strstr(m->loc.path, "letter"));
		if (strcmp(m->loc.user, "alice") == 0) {
			alice++;
			assert_string_equal(m->loc.kind, "mbox");
			assert_string_equal(m->loc.folder, "INBOX");
			assert_true(mc_store_container_last(it.store, m) == (m->loc.offset > 0));
		} else if (strcmp(m->loc.user, "carol") == 0) {
			if (strcmp(m->loc.folder, "INBOX") == 0)
				carol_inbox++;
			else if (strcmp(m->loc.folder, "Sent") == 0)
				carol_sent++;
			else if (strcmp(m->loc.folder, "Drafts") == 0)
				carol_drafts++;
			else
				fail_msg("folder %s", m->loc.folder);
		} else
			fail_msg("user %s", m->loc.user);
	}
	assert_int_equal(errors, 1);
	assert_int_equal(alice, 2);
	assert_int_equal(carol_inbox, 1);
	assert_int_equal(carol_sent, 1);
	assert_int_equal(carol_drafts, 2);

	/* Removal through the tree goes to the mailbox's own store. */
	struct mc_removal rm;
	for (size_t i = 0; i < it.count; i++) {
		struct mc_msg *m = it.msgs[i];

		if (m->read_error == NULL && strcmp(m->loc.folder, "Sent") == 0) {
			remove_one(f, &it, m, &rm);
			if (rm.error != NULL)
				fail_msg("remove: %s", rm.error);
			assert_true(rm.removed);
			assert_int_equal(access(m->loc.path, F_OK), -1);
			free(rm.quarantine_id);
		}
	}
	items_free(&it);
	free(root);
}

static void test_eml(void **state)
{
	struct fixture *f = *state;
	struct mc_removal rm;
	struct items it;
	char *p, *uri, *one, *err = NULL;

	mkdirs(f, "export/sub");
	one = put(f, "export/one.eml", MSG, 0644, 1700000000);
	free(put(f, "export/sub/two.EML", MSG, 0600, 0));
	free(put(f, "export/notes.txt", "not mail\n", 0600, 0));
	p = path_of(f, "export");
	assert_true(asprintf(&uri, "eml:%s", p) > 0);
	items_read(f, uri, &it);
	assert_int_equal(it.count, 2);
	struct mc_msg *m = find_msg(&it, "/export/one.eml");
	assert_string_equal(m->loc.kind, "eml");
	assert_memory_equal(m->data, MSG, m->size);
	assert_string_equal(find_msg(&it, "/sub/two.EML")->loc.folder, "sub");
	remove_one(f, &it, m, &rm);
	if (rm.error != NULL)
		fail_msg("remove: %s", rm.error);
	assert_true(rm.removed);
	assert_int_equal(access(one, F_OK), -1);
	/* Restore refuses to overwrite; then puts it back as it was. */
	free(put(f, "export/one.eml", "other\n", 0600, 0));
	assert_int_equal(mc_restore_entry(f->q, rm.quarantine_id, &err), -1);
	assert_non_null(err);
	free(err);
	err = NULL;
	unlink(one);
	if (mc_restore_entry(f->q, rm.quarantine_id, &err) < 0)
		fail_msg("restore: %s", err);
	struct stat st;
	stat(one, &st);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_mtime, 1700000000);
	free(rm.quarantine_id);
	items_free(&it);
	free(uri);

	/* A single file, by bare path. */
	items_read(f, one, &it);
	assert_int_equal(it.count, 1);
	assert_string_equal(it.msgs[0]->loc.kind, "eml");
	items_free(&it);
	free(p);
	free(one);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_from_path),
		cmocka_unit_test_setup_teardown(test_maildir_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heads_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cur_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_moved_and_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_no_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eml, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
