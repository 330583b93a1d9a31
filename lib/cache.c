/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	cache 3
/* SUMMARY
/*	verdict cache: engine verdicts of MIME parts, keyed by content
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	struct mc_cache *mc_cache_new(max_bytes)
/*	void	mc_cache_free(&cache)
/*
/*	bool	mc_cache_get(cache, sha256, &entry)
/*	void	mc_cache_put(cache, sha256, &entry)
/*
/*	int	mc_cache_load(cache, path, identity, &stale, &error)
/*	int	mc_cache_save(cache, path, &error)
/*	void	mc_cache_stats(cache, &stats)
/*
/*	void	mc_cache_message_key(data, size, key)
/* DESCRIPTION
/*	An outbreak is one attachment in thousands of mailboxes, and a
/*	normal store holds the same logos and forwarded documents many
/*	times. The engine's verdict on a decoded part depends only on
/*	its bytes, the signatures and the scan settings, so the verdict
/*	of a part seen before is looked up here by the SHA-256 of its
/*	content instead of scanning it again. Clean and infected
/*	verdicts are kept; a part whose scan reached a limit or failed
/*	is never cached (it must be scanned, or scanned whole, again).
/*	With each verdict the cache keeps what the scan of that part
/*	cost the engine (embedded files, bytes, nesting), so that a
/*	message's engine limits can still be checked without a rescan.
/*
/*	The cache is bounded: max_bytes of entries, four per bucket;
/*	a full bucket replaces its least recently used entry. Memory
/*	therefore does not grow with the store.
/*
/*	mc_cache_load() binds the cache to an engine identity (a digest
/*	of the engine version, its settings and the signature files),
/*	and reads PATH when it exists and was written for the same
/*	identity; a file written for other signatures is ignored
/*	(*stale_r is set) and overwritten by mc_cache_save(). The file
/*	ends with a SHA-256 of its contents, so a truncated or damaged
/*	file is detected and refused.
/*
/*	mc_cache_message_key() is the key of a whole message's verdict:
/*	a SHA-256 with a domain prefix, so that it never equals the key
/*	of a part with the same bytes, whose verdict is of another scan.
/* SECURITY
/*	A cache entry decides a verdict without scanning, so a forged
/*	cache file could hide malware. The key is a cryptographic hash
/*	(a part cannot be made to collide with a part seen clean), and
/*	the file is only read when it is a regular file (not a symlink,
/*	O_NOFOLLOW) owned by the effective user (or root) and writable
/*	by nobody else. It is written to a new file in the same
/*	directory, fsync'd, made mode 0600 and renamed over the old one.
/* DIAGNOSTICS
/*	mc_cache_load() and mc_cache_save() return -1 with a reason.
/*--*/

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/evp.h>

#include "mailcure/mailcure.h"
#include "internal.h"

#define WAYS		4
#define STRIPES		64
#define MAX_NAMES	65535
#define FILE_MAGIC	"mailcure verdict cache 1\n"
#define FILE_MAGIC_LEN	(sizeof(FILE_MAGIC) - 1)

struct slot {
	unsigned char key[32];
	uint64_t bytes;
	uint32_t files;
	uint32_t stamp;		/* last use; 0 = empty */
	uint16_t depth;
	uint16_t name_id;	/* infected: index into names */
	uint8_t kind;
};

struct mc_cache {
	struct slot *slots;
	size_t buckets;		/* a power of two */
	pthread_mutex_t stripes[STRIPES];
	uint32_t clock;		/* under names_lock's sibling: atomic */

	pthread_mutex_t names_lock;
	char **names;
	size_t name_count;

	unsigned char identity[32];
	bool bound;

	uint64_t hits, misses, stores;	/* atomic */
};

struct mc_cache *mc_cache_new(size_t max_bytes)
{
	struct mc_cache *c = mc_xcalloc(1, sizeof(*c));
	size_t want = max_bytes / (WAYS * sizeof(struct slot));

	c->buckets = 64;
	while (c->buckets * 2 <= want)
		c->buckets *= 2;
	c->slots = mc_xcalloc(c->buckets * WAYS, sizeof(struct slot));
	for (size_t i = 0; i < STRIPES; i++)
		pthread_mutex_init(&c->stripes[i], NULL);
	pthread_mutex_init(&c->names_lock, NULL);
	return c;
}

void mc_cache_free(struct mc_cache **_cache)
{
	struct mc_cache *c = *_cache;

	if (c == NULL)
		return;
	*_cache = NULL;
	for (size_t i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&c->stripes[i]);
	pthread_mutex_destroy(&c->names_lock);
	for (size_t i = 0; i < c->name_count; i++)
		free(c->names[i]);
	free(c->names);
	free(c->slots);
	free(c);
}

static size_t bucket_of(const struct mc_cache *c, const unsigned char key[32])
{
	uint64_t h;

	/* The key is a SHA-256: any 8 bytes of it are uniform. */
	memcpy(&h, key, sizeof(h));
	return (size_t)(h & (c->buckets - 1));
}

static uint32_t next_stamp(struct mc_cache *c)
{
	uint32_t s = __atomic_add_fetch(&c->clock, 1, __ATOMIC_RELAXED);

	return s != 0 ? s : 1;
}

/* Index of NAME in the name table, added when new; -1 when full. */
static int name_id(struct mc_cache *c, const char *name)
{
	int id = -1;

	pthread_mutex_lock(&c->names_lock);
	for (size_t i = 0; i < c->name_count; i++) {
		if (strcmp(c->names[i], name) == 0) {
			id = (int)i;
			break;
		}
	}
	if (id < 0 && c->name_count < MAX_NAMES) {
		c->names = mc_xrealloc(c->names, (c->name_count + 1) * sizeof(*c->names));
		c->names[c->name_count] = mc_xstrdup(name);
		id = (int)c->name_count++;
	}
	pthread_mutex_unlock(&c->names_lock);
	return id;
}

bool mc_cache_get(struct mc_cache *c, const unsigned char key[32],
		  struct mc_cache_entry *entry_r)
{
	size_t b = bucket_of(c, key);
	pthread_mutex_t *lock = &c->stripes[b % STRIPES];
	struct slot *set = &c->slots[b * WAYS];
	bool found = false;

	pthread_mutex_lock(lock);
	for (size_t i = 0; i < WAYS; i++) {
		if (set[i].stamp != 0 && memcmp(set[i].key, key, 32) == 0) {
			set[i].stamp = next_stamp(c);
			entry_r->kind = set[i].kind;
			entry_r->bytes = set[i].bytes;
			entry_r->files = set[i].files;
			entry_r->depth = set[i].depth;
			entry_r->name = NULL;
			if (set[i].kind == MC_VERDICT_INFECTED) {
				pthread_mutex_lock(&c->names_lock);
				entry_r->name = c->names[set[i].name_id];
				pthread_mutex_unlock(&c->names_lock);
			}
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(lock);
	__atomic_add_fetch(found ? &c->hits : &c->misses, 1, __ATOMIC_RELAXED);
	return found;
}

void mc_cache_put(struct mc_cache *c, const unsigned char key[32],
		  const struct mc_cache_entry *entry)
{
	size_t b = bucket_of(c, key);
	pthread_mutex_t *lock = &c->stripes[b % STRIPES];
	struct slot *set = &c->slots[b * WAYS], *victim = NULL;
	int id = 0;

	if (entry->kind != MC_VERDICT_CLEAN && entry->kind != MC_VERDICT_INFECTED)
		return;
	if (entry->kind == MC_VERDICT_INFECTED &&
	    (entry->name == NULL || (id = name_id(c, entry->name)) < 0))
		return;
	pthread_mutex_lock(lock);
	for (size_t i = 0; i < WAYS && victim == NULL; i++) {
		if (set[i].stamp != 0 && memcmp(set[i].key, key, 32) == 0)
			victim = &set[i];
	}
	for (size_t i = 0; i < WAYS && victim == NULL; i++) {
		if (set[i].stamp == 0)
			victim = &set[i];
	}
	if (victim == NULL) {
		/* Least recently used, with wrap-around of the clock. */
		uint32_t now = __atomic_load_n(&c->clock, __ATOMIC_RELAXED);
		victim = &set[0];
		for (size_t i = 1; i < WAYS; i++) {
			if (now - set[i].stamp > now - victim->stamp)
				victim = &set[i];
		}
	}
	memcpy(victim->key, key, 32);
	victim->kind = (uint8_t)entry->kind;
	victim->bytes = entry->bytes;
	victim->files = entry->files;
	victim->depth = entry->depth > UINT16_MAX ? UINT16_MAX : (uint16_t)entry->depth;
	victim->name_id = (uint16_t)id;
	victim->stamp = next_stamp(c);
	pthread_mutex_unlock(lock);
	__atomic_add_fetch(&c->stores, 1, __ATOMIC_RELAXED);
}

void mc_cache_message_key(const void *data, size_t size, unsigned char key[32])
{
	static const char domain[] = "mailcure message verdict";
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, domain, sizeof(domain)) != 1 ||
	    EVP_DigestUpdate(ctx, data, size) != 1 ||
	    EVP_DigestFinal_ex(ctx, key, NULL) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
}

void mc_cache_stats(struct mc_cache *c, struct mc_cache_stats *stats_r)
{
	size_t used = 0;

	for (size_t i = 0; i < c->buckets * WAYS; i++)
		used += c->slots[i].stamp != 0;
	stats_r->hits = __atomic_load_n(&c->hits, __ATOMIC_RELAXED);
	stats_r->misses = __atomic_load_n(&c->misses, __ATOMIC_RELAXED);
	stats_r->entries = used;
	stats_r->capacity = c->buckets * WAYS;
}

/* ------------------------------------------------------------------ */
/* The cache file                                                     */
/* ------------------------------------------------------------------ */

/* Layout: magic, identity[32], name count (u32), names (u16 length,
   bytes), entry count (u64), entries (key[32], bytes u64, files u32,
   depth u16, name id u16, kind u8), SHA-256 of all that. Integers in
   the machine's byte order: the file belongs to this host. */
#define ENTRY_SIZE (32 + 8 + 4 + 2 + 2 + 1)

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		while (b->len + n > b->cap)
			b->cap = b->cap ? b->cap * 2 : 4096;
		b->p = mc_xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

struct reader {
	const unsigned char *p;
	size_t len, pos;
	bool bad;
};

static void take(struct reader *r, void *out, size_t n)
{
	if (r->bad || r->len - r->pos < n) {
		r->bad = true;
		memset(out, 0, n);
		return;
	}
	memcpy(out, r->p + r->pos, n);
	r->pos += n;
}

static int read_whole(int fd, size_t size, unsigned char **data_r)
{
	unsigned char *data = mc_xmalloc(size + 1);
	size_t got = 0;

	while (got < size) {
		ssize_t n = read(fd, data + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(data);
			return -1;
		}
		got += (size_t)n;
	}
	*data_r = data;
	return 0;
}

static int parse_file(struct mc_cache *c, const unsigned char *data,
		      size_t size, bool *stale_r)
{
	struct reader r = { data, size - 32, 0, false };
	unsigned char magic[FILE_MAGIC_LEN], identity[32], sum[32];
	uint32_t names;
	uint64_t entries;
	char **table;

	mc_sha256(data, size - 32, sum);
	if (memcmp(sum, data + size - 32, 32) != 0)
		return -1;
	take(&r, magic, sizeof(magic));
	take(&r, identity, sizeof(identity));
	if (r.bad || memcmp(magic, FILE_MAGIC, FILE_MAGIC_LEN) != 0)
		return -1;
	if (memcmp(identity, c->identity, 32) != 0) {
		*stale_r = true;
		return 0;
	}
	take(&r, &names, sizeof(names));
	if (r.bad || names > MAX_NAMES)
		return -1;
	table = mc_xcalloc(names + 1, sizeof(*table));
	for (uint32_t i = 0; i < names && !r.bad; i++) {
		uint16_t len;
		take(&r, &len, sizeof(len));
		if (r.bad || r.len - r.pos < len)
			break;
		table[i] = mc_xstrndup((const char *)r.p + r.pos, len);
		r.pos += len;
	}
	take(&r, &entries, sizeof(entries));
	if (!r.bad && (r.len - r.pos) / ENTRY_SIZE < entries)
		r.bad = true;
	for (uint64_t i = 0; i < entries && !r.bad; i++) {
		unsigned char key[32];
		struct mc_cache_entry e;
		uint16_t depth, id;
		uint8_t kind;

		take(&r, key, 32);
		take(&r, &e.bytes, sizeof(e.bytes));
		take(&r, &e.files, sizeof(e.files));
		take(&r, &depth, sizeof(depth));
		take(&r, &id, sizeof(id));
		take(&r, &kind, sizeof(kind));
		e.depth = depth;
		e.kind = kind;
		e.name = NULL;
		if (kind == MC_VERDICT_INFECTED) {
			if (id >= names || table[id] == NULL) {
				r.bad = true;
				break;
			}
			e.name = table[id];
		} else if (kind != MC_VERDICT_CLEAN) {
			r.bad = true;
			break;
		}
		mc_cache_put(c, key, &e);
	}
	for (uint32_t i = 0; i < names; i++)
		free(table[i]);
	free(table);
	return r.bad ? -1 : 0;
}

int mc_cache_load(struct mc_cache *c, const char *path,
		  const unsigned char identity[32], bool *stale_r,
		  char **error_r)
{
	struct stat st;
	unsigned char *data;
	int fd, ret;

	memcpy(c->identity, identity, 32);
	c->bound = true;
	*stale_r = false;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;	/* the first run creates it */
		return mc_error_errno(error_r, "verdict cache %s", path);
	}
	if (fstat(fd, &st) < 0) {
		close(fd);
		return mc_error_errno(error_r, "verdict cache %s", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return mc_error_set(error_r, "verdict cache %s: not a regular file", path);
	}
	if ((st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & 022) != 0) {
		close(fd);
		return mc_error_set(error_r,
			"verdict cache %s: refused: it must be owned by this user "
			"(or root) and writable by nobody else (mode %04o, uid %u)",
			path, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
	}
	/* A file far larger than the cache can hold was not written by
	   mc_cache_save for this cache size; do not read it into memory. */
	if (st.st_size < (off_t)(FILE_MAGIC_LEN + 32 + 4 + 8 + 32)) {
		close(fd);
		return mc_error_set(error_r, "verdict cache %s: damaged or not a "
				    "verdict cache (size %lld)", path,
				    (long long)st.st_size);
	}
	if ((uint64_t)st.st_size > (uint64_t)c->buckets * WAYS * ENTRY_SIZE * 4 +
				   (uint64_t)MAX_NAMES * 260 + 4096) {
		close(fd);
		return mc_error_set(error_r, "verdict cache %s: %lld bytes, far more "
				    "than this cache size holds (see --cache-size)",
				    path, (long long)st.st_size);
	}
	if (read_whole(fd, (size_t)st.st_size, &data) < 0) {
		close(fd);
		return mc_error_errno(error_r, "verdict cache %s: read", path);
	}
	close(fd);
	ret = parse_file(c, data, (size_t)st.st_size, stale_r);
	free(data);
	if (ret < 0)
		return mc_error_set(error_r, "verdict cache %s: damaged or not a "
				    "verdict cache (checksum or layout wrong)", path);
	return 0;
}

static void serialize(struct mc_cache *c, struct buf *b)
{
	uint32_t names;
	uint64_t entries = 0;
	size_t count_at;
	unsigned char sum[32];

	buf_add(b, FILE_MAGIC, FILE_MAGIC_LEN);
	buf_add(b, c->identity, 32);
	pthread_mutex_lock(&c->names_lock);
	names = (uint32_t)c->name_count;
	buf_add(b, &names, sizeof(names));
	for (uint32_t i = 0; i < names; i++) {
		size_t len = strlen(c->names[i]);
		uint16_t l = len > UINT16_MAX ? UINT16_MAX : (uint16_t)len;
		buf_add(b, &l, sizeof(l));
		buf_add(b, c->names[i], l);
	}
	pthread_mutex_unlock(&c->names_lock);
	count_at = b->len;
	buf_add(b, &entries, sizeof(entries));
	for (size_t i = 0; i < c->buckets * WAYS; i++) {
		const struct slot *s = &c->slots[i];
		if (s->stamp == 0)
			continue;
		buf_add(b, s->key, 32);
		buf_add(b, &s->bytes, sizeof(s->bytes));
		buf_add(b, &s->files, sizeof(s->files));
		buf_add(b, &s->depth, sizeof(s->depth));
		buf_add(b, &s->name_id, sizeof(s->name_id));
		buf_add(b, &s->kind, sizeof(s->kind));
		entries++;
	}
	memcpy(b->p + count_at, &entries, sizeof(entries));
	mc_sha256(b->p, b->len, sum);
	buf_add(b, sum, sizeof(sum));
}

int mc_cache_save(struct mc_cache *c, const char *path, char **error_r)
{
	struct buf b = { NULL, 0, 0 };
	char *tmp = mc_xasprintf("%s.XXXXXX", path);
	int fd, ret = -1;

	if (!c->bound) {
		free(tmp);
		return mc_error_set(error_r, "verdict cache %s: not loaded", path);
	}
	serialize(c, &b);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		mc_error_errno(error_r, "verdict cache: cannot create %s", tmp);
		goto out;
	}
	if (fchmod(fd, 0600) < 0 || mc_write_all(fd, b.p, b.len) < 0 ||
	    fsync(fd) < 0) {
		mc_error_errno(error_r, "verdict cache: cannot write %s", tmp);
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		mc_error_errno(error_r, "verdict cache: cannot replace %s", path);
		unlink(tmp);
		goto out;
	}
	ret = 0;
out:
	free(b.p);
	free(tmp);
	return ret;
}
