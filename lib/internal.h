/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	internal 3h
/* SUMMARY
/*	helpers shared inside libmailcure, not part of the public API
/* DESCRIPTION
/*	Safe file access for code that runs as root over directories that
/*	users control (see safe.c), whole-buffer I/O, small string
/*	helpers, header decoding (rfc2047.c), address lists
/*	(address.c) and dates (date.c).
/*--*/

#ifndef MAILCURE_INTERNAL_H
#define MAILCURE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* --- quarantine.c --- */

struct mc_qentry;
/* Where ENTRY's message goes back to (path, queue id or store), for
   messages to the user. */
const char *mc_qentry_where(const struct mc_qentry *entry);

/* --- safe.c --- */

/* Open directory NAME under DIRFD without following a symlink in the
   last component, and check that what was opened is what lstat saw.
   Returns the fd, or -1 with *error_r. */
int mc_safe_open_dir(int dirfd, const char *name, struct stat *st_r,
		     char **error_r);

/* Open regular file NAME under DIRFD read-only (O_NOFOLLOW|O_NONBLOCK,
   so a FIFO swapped in never blocks). Refuses symlinks, non-regular
   files, and with SINGLE_LINK files whose st_nlink > 1 (a hard link
   planted in a mailbox could make root read or remove a file outside
   it). Returns the fd with *st_r from fstat, or -1 with *error_r. */
int mc_safe_open_file(int dirfd, const char *name, bool single_link,
		      struct stat *st_r, char **error_r);

/* A path that the administrator names, walked from "/" (or the
   current directory) by mc_safe_walk: DIRFD is the directory that
   holds its last component NAME ("." for "/"), ST that component
   as lstat sees it (never a symlink), ABS the absolute path walked,
   without symlinks, "." or "..". */
struct mc_safe_path {
	int dirfd;
	char *name;
	char *abs;
	struct stat st;
};

/* Walk PATH one component at a time from "/", each directory opened
   with O_NOFOLLOW and compared with what lstat saw. A symlink is
   followed only when root (or the effective uid) owns it and only
   root (or the effective uid) can change the names in every
   directory down to it: one that a user could have planted or
   replaced is refused, and the error names it and who owns or can
   change it. Returns 0 with *r filled in (mc_safe_path_deinit), or
   -1 with *error_r. */
int mc_safe_walk(const char *path, struct mc_safe_path *r, char **error_r);
void mc_safe_path_deinit(struct mc_safe_path *r);

/* Open the directory that walk W of PATH got to, O_NOFOLLOW and
   compared with what the walk saw. Returns the fd, or -1 with
   *error_r naming PATH. */
int mc_safe_path_open_dir(const struct mc_safe_path *w, const char *path,
			  char **error_r);
/* Walk PATH and open it as a directory: the fd, with *abs_r (when not
   NULL) its absolute path, or -1 with *error_r. */
int mc_open_dir_path(const char *path, char **abs_r, char **error_r);

/* Login name of UID (malloc()ed), or NULL. */
char *mc_user_name(uid_t uid);

/* Whether two stats describe the same file. */
bool mc_same_file(const struct stat *a, const struct stat *b);

/* Read the whole of FD (up to MAX bytes; larger gives -1 with EFBIG).
   *buf_r is malloc()ed and NUL-terminated (not counted in *len_r). */
int mc_read_fd(int fd, size_t max, unsigned char **buf_r, size_t *len_r,
	       char **error_r);
/* Write all of BUF to FD, retrying short writes. */
int mc_write_all(int fd, const void *buf, size_t len);
/* pwrite all of BUF at OFFSET. */
int mc_pwrite_all(int fd, const void *buf, size_t len, off_t offset);
/* pread LEN bytes at OFFSET into BUF, retrying short reads: the bytes
   read (fewer only at the end of the file), or -1 with errno. */
ssize_t mc_pread_all(int fd, void *buf, size_t len, off_t offset);
/* fsync a directory fd (for renames and creations to be durable). */
int mc_fsync_dir(int dirfd);

/* Create directory path components (mode MODE) like mkdir -p. */
int mc_mkdir_p(const char *path, mode_t mode, char **error_r);

/* --- strings --- */

/* Case-insensitive glob match (* ? [..]) of STR against PATTERN. */
bool mc_glob_match(const char *pattern, const char *str);
/* Case-insensitive substring search over LEN bytes of HAYSTACK. */
bool mc_memcasestr(const char *haystack, size_t len, const char *needle);
/* Append to a growing array. */
#define MC_ARRAY_PUSH(arr, count, cap, item) do { \
	if ((count) == (cap)) { \
		(cap) = (cap) ? (cap) * 2 : 8; \
		(arr) = mc_xrealloc((arr), (cap) * sizeof(*(arr))); \
	} \
	(arr)[(count)++] = (item); \
} while (0)

/* A growing string, NUL-terminated once anything was added (util.c);
   start from { NULL, 0, 0 }, free s. */
struct mc_buf {
	char *s;
	size_t len, cap;
};
void mc_buf_add(struct mc_buf *b, const void *s, size_t n);
/* Length of the header block at P (LEN bytes) through the first empty
   line, or 0 when no empty line is in it. */
size_t mc_header_end(const unsigned char *p, size_t len);
/* The HTML character reference at S into OUT as UTF-8; the bytes of S
   it takes, 0 when none (util.c). */
size_t mc_html_entity(const char *s, size_t len, char out[4], size_t *out_len_r);

/* Append a line to *NOTE_R (malloc()ed; NOTE_R may be NULL). */
void mc_note_add(char **note_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Sleep MS milliseconds, whatever signals come. */
void mc_sleep_ms(unsigned ms);

void *mc_xmalloc(size_t n);
void *mc_xcalloc(size_t n, size_t size);
void *mc_xrealloc(void *p, size_t n);
char *mc_xstrdup(const char *s);
char *mc_xstrndup(const char *s, size_t n);

/* --- facts.c --- */

/* Set GMime up, once per process, before any call into it. */
void mc_gmime_init(void);

/* --- rfc2047.c: header decoding --- */

/* TEXT (LEN bytes, a header value, maybe folded) with its RFC 2047
   encoded words decoded: malloc()ed, valid UTF-8 without NUL. */
char *mc_rfc2047_decode(const char *text, size_t len);
/* Parameter NAME of the Content-Type or Content-Disposition
   parameters PARAMS (what follows the first ";"), RFC 2231 and
   RFC 2047 decoded: malloc()ed UTF-8 without NUL, or NULL when it is
   absent or empty. */
char *mc_mime_param(const char *params, const char *name);
/* LEN bytes IN from CHARSET to UTF-8 (U+FFFD for what does not
   convert, a space for NUL): malloc()ed, or NULL when CHARSET is
   unknown. */
char *mc_charset_to_utf8(const char *in, size_t len, const char *charset);
/* Whether text in CHARSET needs no conversion (UTF-8, ASCII, none). */
bool mc_charset_is_utf8(const char *charset);
/* S (malloc()ed, NUL-terminated) as valid UTF-8: S itself, or a
   malloc()ed repair of it (S freed). */
char *mc_utf8_make_valid(char *s);
/* Whether the well-formed UTF-8 character P of N bytes is one a
   terminal acts on (mc_text_visible escapes it). */
bool mc_utf8_acts(const unsigned char *p, size_t n);

/* The MD5, SHA-1 and SHA-256 of a stream, those asked for
   (MC_FILE_*): _final puts them into VIEW and sets view->have. */
#define MC_FILE_HASHER_MAX 3
struct mc_file_hasher {
	void *ctx[MC_FILE_HASHER_MAX];
};
struct mc_file_view;
void	mc_file_hasher_init(struct mc_file_hasher *h, unsigned which);
void	mc_file_hasher_update(struct mc_file_hasher *h, const void *data, size_t len);
void	mc_file_hasher_final(struct mc_file_hasher *h, struct mc_file_view *view);

/* --- date.c --- */

/* The value of a Date field, in any form real mail writes (RFC 5322
   with its obsolete forms, ctime, ISO 8601): false when it is none. */
bool mc_date_parse_header(const char *text, time_t *t_r);
/* A proleptic Gregorian UTC date and time (year 0-9999) as a time_t:
   false when a field is out of its range (2026-02-30, 24:00:00). */
bool mc_date_from_civil(int year, int month, int day, int hour, int min,
			int sec, time_t *t_r);

/* --- address.c --- */

struct mc_address;
/* Append the mailboxes of address-list VALUE (unfolded) to *LIST
   (*COUNT used of *CAP); every string is malloc()ed on its own. */
void mc_address_parse(const char *value, struct mc_address **list,
		      size_t *count, size_t *cap);

/* --- doveadm.c: running doveadm --- */

/* Which doveadm runs, for which Dovecot. NULL path: $MAILCURE_DOVEADM,
   else /usr/bin/doveadm, else doveadm from $PATH. NULL config:
   $MAILCURE_DOVECOT_CONFIG (doveadm -c FILE), else doveadm's default.
   timeout_s: how long doveadm may stay silent (0 = 900 s). */
struct mc_doveadm {
	const char *path;
	const char *config;
	unsigned timeout_s;
};

/* The doveadm that runs (malloc()ed), or NULL with *error_r. */
char *mc_doveadm_path(const struct mc_doveadm *dv, char **error_r);
/* The configuration file doveadm runs with, or NULL: its default. */
const char *mc_doveadm_config(const struct mc_doveadm *dv);
/* A doveadm started (lib/exec.c) from ARGS (what follows "doveadm
   [-c FILE]"), standard input /dev/null; its standard output is read
   with mc_exec_read, its standard error kept (bounded) for
   mc_doveadm_finish. */
struct mc_exec_proc;
int mc_doveadm_start(const struct mc_doveadm *dv, const char *const *args,
		     struct mc_exec_proc **proc_r, char **error_r);
/* Wait for it (with KILL: kill it first; else its remaining output is
   read and dropped). Returns its exit status, with *stderr_r its
   standard error on one line or NULL; or -1 when it did not exit
   (killed, out of time), with *stderr_r saying why. */
int mc_doveadm_finish(struct mc_exec_proc **proc, bool kill,
		      char **stderr_r);
/* Run to the end, INPUT (may be NULL) on its standard input. Returns
   the exit status, or -1 with *error_r when it could not run, timed
   out, was killed, or wrote more than MAX_OUT bytes (errno EFBIG).
   *out_r (NUL-terminated) and *stderr_r may be NULL pointers to
   ignore them. */
int mc_doveadm_run(const struct mc_doveadm *dv, const char *const *args,
		   const void *input, size_t input_size, size_t max_out,
		   char **out_r, size_t *out_len_r, char **stderr_r,
		   char **error_r);

/* --- engine/clamav_db.c: the signature files, without loading them --- */

/* libclamav initialised once per process (thread-safe): 0, or -1. */
int mc_clamav_db_init(char **error_r);
/* Whether Aho-Corasick alone should match the databases at PATHS. */
bool mc_clamav_db_few_patterns(char *const *paths, size_t count);
/* A digest of what identifies this version of each signature file. */
int mc_clamav_db_stamp(char *const *paths, size_t count, unsigned char out[32],
		       char **error_r);
/* The daily database's version, from its header; 0: none. */
unsigned long mc_clamav_db_version(char *const *paths, size_t count);
/* Whether every path is there; else an error naming freshclam. */
int mc_clamav_db_check(const char *const *paths, size_t count, char **error_r);
/* The compiled signatures of the files that gave STAMP; NULL when
   they cannot be loaded. */
struct cl_engine;
struct mc_limits;
struct cl_engine *mc_clamav_db_load(char *const *paths, size_t count, bool ac_only,
				    const struct mc_limits *limits, const char *tempdir,
				    const unsigned char stamp[32], unsigned *signatures_r,
				    char **error_r);

/* --- engine/clamd.c --- */

struct mc_verdict;
/* The verdict of clamd's reply REPLY (LEN bytes, without its NUL) to
   a scan whose replies are labelled LABEL ("stream", or "fd[" for
   "fd[N]"). Returns 0, or -1 when the reply is not understood (the
   verdict is then an error quoting it). */
int mc_clamd_reply_parse(const char *reply, size_t len, const char *label,
			 struct mc_verdict *verdict_r);

/* --- engine/scanpool.c: scans in processes of their own --- */

struct mc_scanpool;

/* Runs in a scan process: scan DATA, or FD when not -1, as REQ
   (req_size bytes) asks, filling RESP (resp_size bytes, zeroed). FD
   is the process's own copy of the caller's descriptor; it is closed
   after FN returns. */
typedef void mc_scanpool_fn(void *ctx, const void *data, size_t size, int fd,
			    const void *req, void *resp);
/* Runs once in each new scan process, before its first scan: 0, or
   -1 with a reason, and the process ends. */
typedef int mc_scanpool_init_fn(void *ctx, char **error_r);

enum mc_scanpool_result {
	MC_SCANPOOL_OK,
	MC_SCANPOOL_DIED,	/* the scan process died on this data */
	MC_SCANPOOL_TIMEOUT,	/* no answer in time: it was killed */
	MC_SCANPOOL_UNAVAILABLE,	/* scan in this process instead */
	MC_SCANPOOL_FAILED,	/* no scan process can be set up: see
				   mc_scanpool_error() */
};

/* Call before starting threads. NULL when no process can be forked.
   PREPARE runs once in the zygote, before its first scan process. */
struct mc_scanpool *mc_scanpool_new(unsigned slots, size_t req_size,
				    size_t resp_size, mc_scanpool_init_fn *prepare,
				    mc_scanpool_init_fn *init,
				    mc_scanpool_fn *fn, void *ctx);
/* Run PREPARE now: 0, or -1 (see mc_scanpool_error()). */
int mc_scanpool_prepare(struct mc_scanpool *pool);
/* Why scan processes cannot be set up (MC_SCANPOOL_FAILED). */
const char *mc_scanpool_error(struct mc_scanpool *pool);
/* Thread-safe. *status_r: the wait status of a process that died. */
struct iovec;
/* DATA is the IOV buffers one after the other. */
enum mc_scanpool_result mc_scanpool_scan(struct mc_scanpool *pool,
					 const struct iovec *iov, unsigned iovcnt,
					 int fd, const void *req, void *resp,
					 unsigned timeout_ms, int *status_r);
/* The verdict of a scan that RESULT (and wait STATUS) says no scan
   process answered: an error, or unscanned for a timeout. */
struct mc_verdict;
void mc_scanpool_verdict(struct mc_scanpool *pool, enum mc_scanpool_result result,
			 int status, struct mc_verdict *verdict_r);
void mc_scanpool_free(struct mc_scanpool **pool);

/* --- url.c: URLs in mail text --- */

/* Bytes of a normalised URL that are kept. */
#define MC_URL_MAX 2048

/* The distinct URLs of a message, normalised (mc_url_normalize), in
   the order found. */
struct mc_url_list {
	char **urls;
	size_t count, cap;
	unsigned max_urls;	/* occurrences looked at, at most */
	unsigned seen_count;	/* occurrences looked at */
	bool full;		/* max_urls reached: not all were seen */
	struct _GHashTable *seen;
};
void mc_url_list_init(struct mc_url_list *list, unsigned max_urls);
void mc_url_list_deinit(struct mc_url_list *list);
/* Add the URLs of TEXT (LEN bytes, decoded); HTML: also markup. */
void mc_url_extract(struct mc_url_list *list, const char *text, size_t len,
		    bool html);
/* Add the URLs of the text and HTML parts among PARTS. */
struct mc_part;
void mc_url_collect(struct mc_url_list *list, const struct mc_part *parts,
		    size_t count);
/* The normalised form of the URL S (LEN bytes), or NULL. malloc()ed. */
char *mc_url_normalize(const char *s, size_t len);
/* The host of normalised URL (not NUL-terminated). */
bool mc_url_host(const char *url, const char **host_r, size_t *len_r);
/* URL with its punycode host in Unicode, or NULL when the same. */
char *mc_url_unicode(const char *url);
/* A domain as given (defanged, any case, IDN in either form) in the
   form hosts are compared in, or NULL when it is not a domain. */
char *mc_domain_normalize(const char *name);
/* Whether HOST (HLEN bytes) is normalised DOMAIN or a subdomain. */
bool mc_domain_match(const char *host, size_t hlen, const char *domain);
/* The first of URLS that PATTERN (a glob with GLOB, else a
   substring) matches, or whose host is in DOMAIN; NULL if none. */
const char *mc_urls_match(const char *const *urls, size_t count,
			  const char *pattern, bool glob);
const char *mc_urls_match_domain(const char *const *urls, size_t count,
				 const char *domain);
/* S with defanging undone (hxxp, [.], [:], ...). malloc()ed. */
char *mc_ioc_refang(const char *s);

#endif
