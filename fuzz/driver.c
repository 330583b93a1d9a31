/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	driver 1
/* SUMMARY
/*	a fixed-count fuzzing run of one target, without libFuzzer
/* SYNOPSIS
/*	fuzz-NAME [-runs=N] [-seed=N] [-max_len=N] [-timeout=S]
/*		[-dict=FILE] [-artifact_prefix=PREFIX] FILE|DIR...
/* DESCRIPTION
/*	Linked with a target's LLVMFuzzerTestOneInput() where libFuzzer
/*	is not (gcc builds), this runs the target the way "make check"
/*	needs: a short, fixed and repeatable amount of fuzzing.
/*
/*	Every seed input (each FILE, and the regular files of each DIR,
/*	sorted by name) is run once as it is. Then N more inputs (-runs,
/*	default 1000) are made from them with a pseudo-random sequence
/*	fixed by -seed (default 1): each takes a seed input and applies
/*	one to eight mutations (bit flips; random, boundary or syntax
/*	bytes; erased, duplicated or inserted runs; runs copied from
/*	another seed input; tokens of the -dict file; decimal numbers
/*	replaced by boundary values; truncation), keeping at most
/*	-max_len bytes (default: 4096 or the largest seed input). The
/*	same arguments give the same inputs, so a failure repeats.
/*	The options are spelt as libFuzzer spells them, and the
/*	dictionary is in its format ("token" or name="token" lines, with
/*	\\, \" and \xNN escapes).
/*
/*	Seed inputs are only read, never written.
/* DIAGNOSTICS
/*	A summary line on standard output, exit 0 when every input ran.
/*	When an input makes the target abort, fail a sanitizer check or
/*	run longer than -timeout seconds (default 10), the input is
/*	written to PREFIXcrash-seed-N or PREFIXcrash-run-N (default
/*	prefix: none, the current directory), its first bytes are shown escaped on standard error,
/*	and the process ends with the sanitizer's or abort's status (70
/*	for a timeout). Run the target on that file to reproduce it.
/*--*/

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Present when a sanitizer is linked in; called before it ends the
   process on an error it found. */
extern void __sanitizer_set_death_callback(void (*callback)(void))
	__attribute__((weak));

struct blob {
	unsigned char *data;
	size_t len;
};

struct blobs {
	struct blob *v;
	size_t count, cap;
};

/* What is running, for the crash handlers. */
static const unsigned char *cur_data;
static size_t cur_len;
static char cur_name[64];	/* "seed-3" or "run-17" */
static const char *artifact_prefix = "";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz driver: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void blobs_add(struct blobs *b, unsigned char *data, size_t len)
{
	if (b->count == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->v = realloc(b->v, b->cap * sizeof(*b->v));
		if (b->v == NULL)
			die("out of memory");
	}
	b->v[b->count].data = data;
	b->v[b->count].len = len;
	b->count++;
}

static unsigned char *read_file(const char *path, size_t *len_r)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (fp == NULL)
		die("cannot read %s", path);
	do {
		if (cap - len < 65536) {
			cap = cap * 2 + 65536;
			if ((buf = realloc(buf, cap)) == NULL)
				die("out of memory");
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
	} while (n > 0);
	if (ferror(fp))
		die("cannot read %s", path);
	fclose(fp);
	*len_r = len;
	return buf;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The seed inputs of PATH: the file, or the regular files of the
   directory in name order. */
static void load_seeds(struct blobs *seeds, const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t count = 0;

	if (stat(path, &st) < 0)
		die("no seed input %s", path);
	if (!S_ISDIR(st.st_mode)) {
		size_t len;
		unsigned char *data = read_file(path, &len);
		blobs_add(seeds, data, len);
		return;
	}
	if ((d = opendir(path)) == NULL)
		die("cannot read directory %s", path);
	while ((de = readdir(d)) != NULL) {
		char *p;
		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&p, "%s/%s", path, de->d_name) < 0)
			die("out of memory");
		if (stat(p, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(p);
			continue;
		}
		names = realloc(names, (count + 1) * sizeof(*names));
		if (names == NULL)
			die("out of memory");
		names[count++] = p;
	}
	closedir(d);
	qsort(names, count, sizeof(*names), cmp_names);
	for (size_t i = 0; i < count; i++) {
		size_t len;
		unsigned char *data = read_file(names[i], &len);
		blobs_add(seeds, data, len);
		free(names[i]);
	}
	free(names);
}

static int hexval(int c)
{
	return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/* libFuzzer's dictionary format: one "token" per line, optionally
   after name=; # starts a comment. */
static void load_dict(struct blobs *dict, const char *path)
{
	size_t len;
	unsigned char *text = read_file(path, &len);
	size_t lineno = 0;

	for (size_t pos = 0; pos < len;) {
		size_t end = pos;
		unsigned char *q, *tok;
		size_t n = 0;

		while (end < len && text[end] != '\n')
			end++;
		lineno++;
		q = memchr(text + pos, '"', end - pos);
		if (q == NULL || text[pos] == '#') {
			pos = end + 1;
			continue;
		}
		tok = malloc(end - pos);
		if (tok == NULL)
			die("out of memory");
		for (q++; q < text + end && *q != '"'; q++) {
			if (*q == '\\' && q + 1 < text + end) {
				q++;
				if (*q == 'x' && q + 2 < text + end &&
				    isxdigit(q[1]) && isxdigit(q[2])) {
					tok[n++] = (unsigned char)(hexval(q[1]) * 16 + hexval(q[2]));
					q += 2;
					continue;
				}
			}
			tok[n++] = *q;
		}
		if (q >= text + end || n == 0)
			die("bad dictionary line in %s", path);
		blobs_add(dict, tok, n);
		pos = end + 1;
	}
	free(text);
}

/* splitmix64: small, fast, and the same everywhere. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t rng_below(uint64_t *s, size_t n)
{
	return n == 0 ? 0 : (size_t)(rng_next(s) % n);
}

/* Boundary and syntax bytes of the formats the targets read. */
static const unsigned char special_bytes[] = {
	0x00, 0x01, 0x7f, 0x80, 0xff, '\n', '\r', '\t', '\f', ' ', '"', '\\',
	'=', '?', ':', ';', ',', '<', '>', '@', '(', ')', '[', ']', '{', '}',
	'*', '-', '.', '/', '0', '9', 'A', 'z',
};

static const char *const special_numbers[] = {
	"0", "1", "-1", "127", "128", "255", "256", "65535", "65536",
	"2147483647", "2147483648", "4294967295", "4294967296",
	"9223372036854775807", "18446744073709551615", "18446744073709551616",
	"99999999999999999999999",
};

struct mutator {
	uint64_t rng;
	unsigned char *buf;
	size_t len, max;
	const struct blobs *seeds, *dict;
};

/* Insert N bytes of SRC (NULL: random bytes) at AT, within max. */
static void insert(struct mutator *m, size_t at, const unsigned char *src, size_t n)
{
	if (n > m->max - m->len)
		n = m->max - m->len;
	memmove(m->buf + at + n, m->buf + at, m->len - at);
	for (size_t i = 0; i < n; i++)
		m->buf[at + i] = src != NULL ? src[i] : (unsigned char)rng_next(&m->rng);
	m->len += n;
}

static void erase(struct mutator *m, size_t at, size_t n)
{
	memmove(m->buf + at, m->buf + at + n, m->len - at - n);
	m->len -= n;
}

static void replace_number(struct mutator *m)
{
	size_t at = rng_below(&m->rng, m->len), end;
	const char *num = special_numbers[rng_below(&m->rng,
		sizeof(special_numbers) / sizeof(special_numbers[0]))];

	while (at < m->len && !isdigit(m->buf[at]))
		at++;
	if (at == m->len) {
		insert(m, rng_below(&m->rng, m->len + 1), (const unsigned char *)num,
		       strlen(num));
		return;
	}
	for (end = at; end < m->len && isdigit(m->buf[end]); end++)
		;
	erase(m, at, end - at);
	insert(m, at, (const unsigned char *)num, strlen(num));
}

static void mutate_once(struct mutator *m)
{
	size_t at = rng_below(&m->rng, m->len + 1), n;
	const struct blob *b;

	switch (rng_below(&m->rng, 12)) {
	case 0:
		if (m->len > 0)
			m->buf[at % m->len] ^= (unsigned char)(1u << rng_below(&m->rng, 8));
		break;
	case 1:
		if (m->len > 0)
			m->buf[at % m->len] = (unsigned char)rng_next(&m->rng);
		break;
	case 2:
		if (m->len > 0)
			m->buf[at % m->len] = special_bytes[rng_below(&m->rng,
							sizeof(special_bytes))];
		break;
	case 3:
		insert(m, at, &special_bytes[rng_below(&m->rng, sizeof(special_bytes))], 1);
		break;
	case 4:
		insert(m, at, NULL, 1 + rng_below(&m->rng, 8));
		break;
	case 5:
		if (m->len > 0) {
			at %= m->len;
			n = 1 + rng_below(&m->rng, m->len - at < 64 ? m->len - at : 64);
			erase(m, at, n);
		}
		break;
	case 6:
		/* Duplicate a run of the input elsewhere in it. */
		if (m->len > 0 && m->len < m->max) {
			size_t from = rng_below(&m->rng, m->len);
			unsigned char tmp[256];
			n = 1 + rng_below(&m->rng, m->len - from < sizeof(tmp) ?
					  m->len - from : sizeof(tmp));
			memcpy(tmp, m->buf + from, n);
			insert(m, rng_below(&m->rng, m->len + 1), tmp, n);
		}
		break;
	case 7:
	case 8:
		/* A run of another seed input, inserted or written over. */
		b = &m->seeds->v[rng_below(&m->rng, m->seeds->count)];
		if (b->len > 0) {
			size_t from = rng_below(&m->rng, b->len);
			n = 1 + rng_below(&m->rng, b->len - from < 512 ? b->len - from : 512);
			if (rng_below(&m->rng, 2) == 0 && n <= m->len - (at < m->len ? at : m->len)) {
				memcpy(m->buf + at, b->data + from, n);
			} else {
				insert(m, at, b->data + from, n);
			}
		}
		break;
	case 9:
		if (m->dict->count > 0) {
			b = &m->dict->v[rng_below(&m->rng, m->dict->count)];
			if (rng_below(&m->rng, 2) == 0 && b->len <= m->len - at)
				memcpy(m->buf + at, b->data, b->len);
			else
				insert(m, at, b->data, b->len);
		} else {
			insert(m, at, &special_bytes[rng_below(&m->rng, sizeof(special_bytes))], 1);
		}
		break;
	case 10:
		replace_number(m);
		break;
	case 11:
		if (m->len > 0 && rng_below(&m->rng, 4) == 0)
			m->len = rng_below(&m->rng, m->len);
		break;
	}
}

static void write_artifact(const char *why)
{
	char path[4096];
	int fd;

	if (cur_data == NULL)
		return;
	snprintf(path, sizeof(path), "%scrash-%s", artifact_prefix, cur_name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		size_t off = 0;
		while (off < cur_len) {
			ssize_t n = write(fd, cur_data + off, cur_len - off);
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		close(fd);
	}
	/* Async-signal-safe output only: this runs in signal handlers. */
	char msg[8192];
	size_t m = 0;
	m += (size_t)snprintf(msg, sizeof(msg), "\nfuzz driver: %s on %s; input (%zu bytes) "
			      "written to %s; its start:\n", why, cur_name, cur_len, path);
	for (size_t i = 0; i < cur_len && i < 1024 && m + 8 < sizeof(msg); i++) {
		unsigned char c = cur_data[i];
		if (c == '\n')
			m += (size_t)snprintf(msg + m, sizeof(msg) - m, "\\n\n");
		else if (c == '\\')
			m += (size_t)snprintf(msg + m, sizeof(msg) - m, "\\\\");
		else if (c >= 0x20 && c < 0x7f)
			msg[m++] = (char)c;
		else
			m += (size_t)snprintf(msg + m, sizeof(msg) - m, "\\x%02x", c);
	}
	if (m < sizeof(msg))
		msg[m++] = '\n';
	if (write(STDERR_FILENO, msg, m) < 0)
		return;
}

static void on_death(void)
{
	write_artifact("sanitizer error");
}

static void on_signal(int sig)
{
	if (sig == SIGALRM) {
		write_artifact("timeout");
		_exit(70);
	}
	write_artifact(sig == SIGABRT ? "abort" : "crash");
	signal(sig, SIG_DFL);
	raise(sig);
}

static void run_one(const unsigned char *data, size_t len, const char *kind,
		    unsigned long n, unsigned timeout_s)
{
	/* An exact-size copy, so that reading past the end is caught. */
	unsigned char *copy = malloc(len ? len : 1);

	if (copy == NULL)
		die("out of memory");
	memcpy(copy, data, len);
	cur_data = copy;
	cur_len = len;
	snprintf(cur_name, sizeof(cur_name), "%s-%lu", kind, n);
	alarm(timeout_s);
	LLVMFuzzerTestOneInput(copy, len);
	alarm(0);
	cur_data = NULL;
	free(copy);
}

static int option(const char *arg, const char *name, const char **value_r)
{
	size_t n = strlen(name);

	if (strncmp(arg, name, n) != 0 || arg[n] != '=')
		return 0;
	*value_r = arg + n + 1;
	return 1;
}

static unsigned long number(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		die("bad number for %s", what);
	return v;
}

int main(int argc, char **argv)
{
	struct blobs seeds = { 0 }, dict = { 0 };
	unsigned long runs = 1000, seed = 1, max_len = 0, timeout_s = 10;
	const char *v, *name = strrchr(argv[0], '/');
	struct mutator m;
	struct timespec t0, t1;

	name = name != NULL ? name + 1 : argv[0];
	for (int i = 1; i < argc; i++) {
		if (option(argv[i], "-runs", &v))
			runs = number(v, "-runs");
		else if (option(argv[i], "-seed", &v))
			seed = number(v, "-seed");
		else if (option(argv[i], "-max_len", &v))
			max_len = number(v, "-max_len");
		else if (option(argv[i], "-timeout", &v))
			timeout_s = number(v, "-timeout");
		else if (option(argv[i], "-dict", &v))
			load_dict(&dict, v);
		else if (option(argv[i], "-artifact_prefix", &v))
			artifact_prefix = v;
		else if (argv[i][0] == '-')
			die("unknown option %s", argv[i]);
		else
			load_seeds(&seeds, argv[i]);
	}
	if (seeds.count == 0)
		die("no seed inputs (give files or directories)");
	if (max_len == 0) {
		max_len = 4096;
		for (size_t i = 0; i < seeds.count; i++)
			if (seeds.v[i].len > max_len)
				max_len = seeds.v[i].len;
	}

	if (__sanitizer_set_death_callback != NULL) {
		__sanitizer_set_death_callback(on_death);
		/* The sanitizer reports memory faults itself. */
		signal(SIGABRT, on_signal);
	} else {
		signal(SIGABRT, on_signal);
		signal(SIGSEGV, on_signal);
		signal(SIGBUS, on_signal);
		signal(SIGFPE, on_signal);
	}
	signal(SIGALRM, on_signal);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < seeds.count; i++)
		run_one(seeds.v[i].data, seeds.v[i].len, "seed", i + 1, (unsigned)timeout_s);

	m.buf = malloc(max_len + 1);
	if (m.buf == NULL)
		die("out of memory");
	m.max = max_len;
	m.seeds = &seeds;
	m.dict = &dict;
	for (unsigned long run = 1; run <= runs; run++) {
		const struct blob *b;
		unsigned count;

		/* Each run's input depends only on (seed, run). */
		m.rng = seed * 0x100000001b3ULL ^ run;
		b = &seeds.v[rng_below(&m.rng, seeds.count)];
		m.len = b->len < max_len ? b->len : max_len;
		memcpy(m.buf, b->data, m.len);
		count = 1 + (unsigned)rng_below(&m.rng, 8);
		for (unsigned k = 0; k < count; k++)
			mutate_once(&m);
		run_one(m.buf, m.len, "run", run, (unsigned)timeout_s);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%s: %zu seed inputs, %lu mutated runs (seed %lu, max_len %lu, %zu "
	       "dictionary tokens): no failure in %.1f s\n", name, seeds.count, runs,
	       seed, max_len, dict.count,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);

	for (size_t i = 0; i < seeds.count; i++)
		free(seeds.v[i].data);
	for (size_t i = 0; i < dict.count; i++)
		free(dict.v[i].data);
	free(seeds.v);
	free(dict.v);
	free(m.buf);
	return 0;
}
