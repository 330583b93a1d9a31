/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-cache 1
/* SUMMARY
/*	unit tests of the verdict cache (lib/cache.c)
/* DESCRIPTION
/*	Lookups give back what was stored, the cache stays within its
/*	size, a saved file is read back only for the same engine
/*	identity, and a damaged, foreign or unsafe file is refused.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mailcure/mailcure.h"

static void key_of(unsigned n, unsigned char key[32])
{
	char text[32];

	snprintf(text, sizeof(text), "part %u", n);
	mc_sha256(text, strlen(text), key);
}

static struct mc_cache_entry entry(unsigned n)
{
	struct mc_cache_entry e = {
		.kind = n % 7 == 0 ? MC_VERDICT_INFECTED : MC_VERDICT_CLEAN,
		.name = n % 7 == 0 ? (n % 2 ? "Eicar-Test-Signature" : "ClamAV-Test-File") : NULL,
		.bytes = n * 10ULL, .files = n % 13, .depth = n % 5,
	};
	return e;
}

static void fill(struct mc_cache *c, unsigned count)
{
	unsigned char key[32];

	for (unsigned i = 0; i < count; i++) {
		struct mc_cache_entry e = entry(i);
		key_of(i, key);
		mc_cache_put(c, key, &e);
	}
}

static void check_entry(struct mc_cache *c, unsigned n)
{
	unsigned char key[32];
	struct mc_cache_entry got, want = entry(n);

	key_of(n, key);
	assert_true(mc_cache_get(c, key, &got));
	assert_int_equal(got.kind, want.kind);
	assert_int_equal(got.bytes, want.bytes);
	assert_int_equal(got.files, want.files);
	assert_int_equal(got.depth, want.depth);
	if (want.name != NULL)
		assert_string_equal(got.name, want.name);
}

static void test_get_put(void **state)
{
	struct mc_cache *c = mc_cache_new(1 << 20);
	struct mc_cache_stats st;
	unsigned char key[32];
	struct mc_cache_entry e = { .kind = MC_VERDICT_UNSCANNED };

	fill(c, 1000);
	for (unsigned i = 0; i < 1000; i++)
		check_entry(c, i);
	key_of(5000, key);
	assert_false(mc_cache_get(c, key, &e));
	/* Only clean and infected verdicts are kept. */
	e.kind = MC_VERDICT_UNSCANNED;
	mc_cache_put(c, key, &e);
	assert_false(mc_cache_get(c, key, &e));
	mc_cache_stats(c, &st);
	assert_int_equal(st.entries, 1000);
	assert_int_equal(st.hits, 1000);
	mc_cache_free(&c);
	assert_null(c);
}

static void test_bounded(void **state)
{
	struct mc_cache *c = mc_cache_new(64 << 10);
	struct mc_cache_stats st;
	unsigned char key[32];
	struct mc_cache_entry e;

	fill(c, 100000);
	mc_cache_stats(c, &st);
	assert_true(st.capacity * 56 <= 64 << 10);
	assert_true(st.entries <= st.capacity);
	/* The most recent entries are still there. */
	check_entry(c, 99999);
	key_of(0, key);
	(void)mc_cache_get(c, key, &e);
	mc_cache_free(&c);
}

static void test_file(void **state)
{
	char dir[] = "/tmp/test-cache.XXXXXX", path[128];
	unsigned char id1[32], id2[32];
	struct mc_cache *c = mc_cache_new(1 << 20);
	struct mc_cache_stats st;
	char *error = NULL;
	bool stale;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v.cache", dir);
	mc_sha256("engine 1", 8, id1);
	mc_sha256("engine 2", 8, id2);

	/* Absent: an empty cache, bound to the identity. */
	assert_int_equal(mc_cache_load(c, path, id1, &stale, &error), 0);
	assert_false(stale);
	fill(c, 500);
	assert_int_equal(mc_cache_save(c, path, &error), 0);
	mc_cache_free(&c);

	c = mc_cache_new(1 << 20);
	assert_int_equal(mc_cache_load(c, path, id1, &stale, &error), 0);
	assert_false(stale);
	for (unsigned i = 0; i < 500; i++)
		check_entry(c, i);
	mc_cache_free(&c);

	/* Another identity: ignored. */
	c = mc_cache_new(1 << 20);
	assert_int_equal(mc_cache_load(c, path, id2, &stale, &error), 0);
	assert_true(stale);
	mc_cache_stats(c, &st);
	assert_int_equal(st.entries, 0);
	mc_cache_free(&c);

	/* Writable by others: refused. */
	assert_int_equal(chmod(path, 0666), 0);
	c = mc_cache_new(1 << 20);
	assert_int_equal(mc_cache_load(c, path, id1, &stale, &error), -1);
	assert_non_null(strstr(error, "writable"));
	free(error);
	error = NULL;
	mc_cache_free(&c);
	assert_int_equal(chmod(path, 0600), 0);

	/* One byte changed: refused. */
	FILE *fp = fopen(path, "r+b");
	assert_non_null(fp);
	fseek(fp, 100, SEEK_SET);
	int ch = fgetc(fp);
	fseek(fp, 100, SEEK_SET);
	fputc(ch ^ 1, fp);
	fclose(fp);
	c = mc_cache_new(1 << 20);
	assert_int_equal(mc_cache_load(c, path, id1, &stale, &error), -1);
	assert_non_null(strstr(error, "damaged"));
	free(error);
	error = NULL;
	mc_cache_free(&c);

	/* Truncated: refused. */
	assert_int_equal(truncate(path, 60), 0);
	c = mc_cache_new(1 << 20);
	assert_int_equal(mc_cache_load(c, path, id1, &stale, &error), -1);
	free(error);
	error = NULL;
	mc_cache_free(&c);

	/* A symlink: refused. */
	char link[160];
	snprintf(link, sizeof(link), "%s/link.cache", dir);
	assert_int_equal(symlink(path, link), 0);
	c = mc_cache_new(1 << 20);
	assert_int_equal(mc_cache_load(c, link, id1, &stale, &error), -1);
	free(error);
	mc_cache_free(&c);
	unlink(link);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_put),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
