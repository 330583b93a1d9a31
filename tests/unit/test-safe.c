/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-safe 1
/* SUMMARY
/*	unit tests of the walk to a path the administrator names
/* DESCRIPTION
/*	Pins mc_safe_walk() and mc_open_dir_path(): what a walk gets to
/*	(the directory holding the last component, its name, its lstat,
/*	the absolute path without ".", ".." or symlinks) for "/", for
/*	relative paths and for paths through symlinks with absolute and
/*	relative targets; that the last component is never followed
/*	unless it is a symlink that may be; that loops, missing
/*	components and files on the way are errors naming the path.
/*	Run as root, also which symlinks are refused: one a user owns,
/*	one root owns in a directory a user owns, or that a group or
/*	anybody can write to (not sticky), each with an error naming the
/*	link and the owner or the directory.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "fixture.h"
#include "internal.h"

#define NOBODY 65534

struct fixture {
	char *tmp;		/* absolute, without symlinks */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->tmp = mc_fixture_tmpdir("safe");
	*state = f;
	return f->tmp != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	mc_fixture_rm_rf(f->tmp);
	free(f->tmp);
	free(f);
	return 0;
}

/* F->tmp/REL, formatted. */
static char *at(const struct fixture *f, const char *fmt, ...)
{
	char *rel, *path;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&rel, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (asprintf(&path, "%s/%s", f->tmp, rel) < 0)
		abort();
	free(rel);
	return path;
}

static void make_dir(const struct fixture *f, const char *rel)
{
	char *p = at(f, "%s", rel);

	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
}

static void make_link(const struct fixture *f, const char *target, const char *rel)
{
	char *p = at(f, "%s", rel);

	assert_int_equal(symlink(target, p), 0);
	free(p);
}

/* Walk PATH, which must get to WANT_ABS, a directory or file of the
   kind of WANT_MODE, named as the last component of WANT_ABS. */
static void walk_ok(const char *path, const char *want_abs, mode_t want_mode)
{
	struct mc_safe_path w;
	struct stat st;
	char *err = NULL;

	if (mc_safe_walk(path, &w, &err) < 0)
		fail_msg("%s: %s", path, err);
	assert_string_equal(w.abs, want_abs);
	assert_int_equal(w.st.st_mode & S_IFMT, want_mode);
	assert_int_equal(fstatat(w.dirfd, w.name, &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(mc_same_file(&st, &w.st));
	if (strcmp(want_abs, "/") == 0)
		assert_string_equal(w.name, ".");
	else
		assert_string_equal(w.name, strrchr(want_abs, '/') + 1);
	mc_safe_path_deinit(&w);
	assert_int_equal(w.dirfd, -1);
}

/* Walk PATH, which must fail with an error holding every one of the
   NULL-terminated strings that follow. */
static void walk_refused(const char *path, ...)
{
	struct mc_safe_path w;
	char *err = NULL;
	const char *want;
	va_list ap;

	if (mc_safe_walk(path, &w, &err) == 0)
		fail_msg("%s: walked to %s", path, w.abs);
	assert_int_equal(w.dirfd, -1);
	va_start(ap, path);
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (strstr(err, want) == NULL)
			fail_msg("%s: error \"%s\" lacks \"%s\"", path, err, want);
	}
	va_end(ap);
	free(err);
}

static void test_walk_plain(void **state)
{
	struct fixture *f = *state;
	char *p, *want, *err = NULL, *abs = NULL, cwd[PATH_MAX];
	int fd;

	walk_ok("/", "/", S_IFDIR);
	walk_ok("//.//", "/", S_IFDIR);
	walk_ok("/..", "/", S_IFDIR);
	make_dir(f, "a");
	make_dir(f, "a/b");
	p = at(f, "a/b/file");
	close(open(p, O_WRONLY | O_CREAT, 0600));
	walk_ok(p, p, S_IFREG);
	free(p);
	want = at(f, "a");
	p = at(f, "a/b/..//./");
	walk_ok(p, want, S_IFDIR);
	free(p);

	/* Relative to the current directory. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(want), 0);
	free(want);
	want = at(f, "a/b/file");
	walk_ok("b/file", want, S_IFREG);
	free(want);
	fd = mc_open_dir_path("b", &abs, &err);
	assert_true(fd >= 0);
	want = at(f, "a/b");
	assert_string_equal(abs, want);
	close(fd);
	free(abs);
	free(want);
	assert_int_equal(chdir(cwd), 0);

	/* Errors name the path and the component. */
	p = at(f, "a/none/x");
	walk_refused(p, p, "a/none: No such file", NULL);
	free(p);
	p = at(f, "a/b/file/x");
	walk_refused(p, p, "a/b/file: Not a directory", NULL);
	free(p);
	p = at(f, "a/b/file");
	assert_int_equal(mc_open_dir_path(p, NULL, &err), -1);
	assert_non_null(strstr(err, "not a directory"));
	free(err);
	free(p);
	walk_refused("", "empty", NULL);
}

static void test_walk_links_followed(void **state)
{
	struct fixture *f = *state;
	char *p, *want, *target;

	/* Our own links, in our own directories: followed, relative
	   targets from where the link is, ".." after a link from its
	   target. */
	make_dir(f, "real");
	make_dir(f, "real/Maildir");
	make_dir(f, "home");
	target = at(f, "real/Maildir");
	make_link(f, target, "home/abs");
	make_link(f, "../real/Maildir", "home/rel");
	make_link(f, "rel", "home/chain");
	make_link(f, "/", "home/root");
	want = at(f, "real/Maildir");
	for (const char *const *l = (const char *const[]){ "abs", "rel", "chain", NULL };
	     *l != NULL; l++) {
		p = at(f, "home/%s", *l);
		walk_ok(p, want, S_IFDIR);
		free(p);
	}
	free(want);
	want = at(f, "real");
	p = at(f, "home/rel/..");
	walk_ok(p, want, S_IFDIR);
	free(p);
	free(want);
	p = at(f, "home/root");
	walk_ok(p, "/", S_IFDIR);
	free(p);
	free(target);

	/* A loop ends. */
	make_link(f, "loop2", "home/loop1");
	make_link(f, "loop1", "home/loop2");
	p = at(f, "home/loop1/x");
	walk_refused(p, "Too many levels of symbolic links", NULL);
	free(p);
}

static void test_walk_links_refused(void **state)
{
	struct fixture *f = *state;
	char *p, *target, *dir;

	if (geteuid() != 0) {
		skip();
		return;
	}
	make_dir(f, "secret");
	make_dir(f, "secret/Maildir");
	make_dir(f, "home");
	make_dir(f, "home/u");
	target = at(f, "secret/Maildir");

	/* A link a user owns, wherever it is. */
	make_link(f, target, "users-link");
	p = at(f, "users-link");
	assert_int_equal(lchown(p, NOBODY, NOBODY), 0);
	walk_refused(p, p, "is a symbolic link owned by ", "(uid 65534), not followed",
		     NULL);
	free(p);
	make_link(f, target, "home/u/Maildir");
	p = at(f, "home/u/Maildir");
	assert_int_equal(lchown(p, NOBODY, NOBODY), 0);
	free(p);
	p = at(f, "home/u/Maildir/new/../");
	dir = at(f, "home/u/Maildir");
	walk_refused(p, dir, "owned by ", NULL);
	free(dir);
	free(p);

	/* Root's link in a directory the user owns: he could have put
	   it there, or put his own in its place. */
	make_link(f, target, "home/u/rootlink");
	dir = at(f, "home/u");
	assert_int_equal(chown(dir, NOBODY, NOBODY), 0);
	p = at(f, "home/u/rootlink");
	walk_refused(p, "not followed", dir, "is owned by ", "(uid 65534)", NULL);
	free(p);
	free(dir);

	/* Root's link in a directory a group or anybody can write to;
	   sticky, anybody may add names but not replace root's. */
	make_dir(f, "shared");
	make_link(f, target, "shared/link");
	dir = at(f, "shared");
	p = at(f, "shared/link");
	assert_int_equal(chmod(dir, 0775), 0);
	walk_refused(p, "not followed", "can write to", dir, NULL);
	assert_int_equal(chmod(dir, 0777), 0);
	walk_refused(p, "not followed", "anybody can write to", NULL);
	assert_int_equal(chmod(dir, 01777), 0);
	walk_ok(p, target, S_IFDIR);
	free(p);
	free(dir);
	free(target);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_walk_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_links_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_links_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
