/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	mailcure 3h
/* SUMMARY
/*	public interface of libmailcure
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/* DESCRIPTION
/*	libmailcure finds and removes infected or matching messages in
/*	mail stores (Maildir, mbox, single files, mail queues), keeps
/*	every removed message in a quarantine from which it can be
/*	restored, and scans host files.
/*
/*	The library never prints and never exits. Every function that
/*	can fail returns -1 (or NULL) and stores a malloc()ed reason in
/*	*error_r, which the caller frees. Output parameters end in _r.
/*	Objects are created with _open/_init/_parse and released with a
/*	_close/_free/_deinit that takes a pointer to the pointer and
/*	clears it.
/*
/*	The CLI uses only this header.
/*--*/

#ifndef MAILCURE_MAILCURE_H
#define MAILCURE_MAILCURE_H

#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define MC_VERSION "0.1.0"

/* ------------------------------------------------------------------ */
/* Errors                                                             */
/* ------------------------------------------------------------------ */

/* Store a formatted, malloc()ed reason in *error_r (if error_r is not
   NULL; a previous reason is freed). Always returns -1. */
int mc_error_set(char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* As mc_error_set, with ": strerror(errno)" appended. */
int mc_error_errno(char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Become UID and GID for good, with no supplementary groups: a
   process that is to handle hostile input (lib/safe.c). Checks that
   the way back to root is closed. */
int mc_become_user(uid_t uid, gid_t gid, char **error_r);

/* A DATE argument (lib/date.c): YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS
   (T or a space; a final Z allowed), UTC, any year from 0000. false
   for anything else, also a day the month does not have. */
bool mc_date_parse(const char *text, time_t *t_r, bool *has_time_r);
/* T for people, the one way times are shown: "YYYY-MM-DD HH:MM:SS
   UTC" into BUF (at least MC_DATE_TEXT_SIZE bytes); "-" for a time
   that cannot be shown. */
#define MC_DATE_TEXT_SIZE 32
void mc_date_format(time_t t, char *buf, size_t size);

/* ------------------------------------------------------------------ */
/* Settings and limits                                                */
/* ------------------------------------------------------------------ */

/* Every limit is a setting with a safe default (mc_limits_default).
   A message that reaches a limit is unscanned, never clean. */
struct mc_limits {
	uint64_t max_message_size;	/* larger messages: unscanned */
	uint64_t max_scan_size;		/* engine: bytes scanned per message */
	uint64_t max_file_size;		/* engine: largest embedded file */
	unsigned max_recursion;		/* engine: archive/container depth */
	unsigned max_files;		/* engine: files per message */
	unsigned max_scan_time_ms;	/* engine: time per message */
	unsigned max_mime_parts;	/* MIME walk: parts per message */
	unsigned max_mime_depth;	/* MIME walk: nesting depth */
	size_t max_header_bytes;	/* header block size */
	unsigned max_urls;		/* URL occurrences looked at per message */
	/* Pipeline: bytes of messages evaluated at once. A message that
	   does not fit waits for others to finish (one always runs), so
	   that workers do not hold several large messages, and the
	   engine's work on each, at the same time. Messages under an
	   eighth of it do not count. 0: no limit. */
	uint64_t max_bytes_in_flight;
};

void mc_limits_default(struct mc_limits *limits_r);

/* ------------------------------------------------------------------ */
/* Where a message lives                                              */
/* ------------------------------------------------------------------ */

/* Everything needed to report a message and to put it back. Strings
   are owned by the message (or quarantine entry) that holds them. */
struct mc_location {
	const char *store;	/* store URI as given, "maildir:/home/a/Maildir" */
	const char *kind;	/* "maildir", "mbox", "eml", "postfix", "host" */
	const char *user;	/* mailbox owner, "alice" or "alice@example.com" */
	const char *folder;	/* "INBOX", "Sent", "Archive/2024" */
	const char *path;	/* file: Maildir file, mbox file, eml, host file */
	const char *queue_id;	/* queue mail */
	int64_t offset;		/* mbox: byte offset of the From_ line, else -1 */
	const char *maildir_subdir;	/* "new" or "cur" */
	const char *maildir_flags;	/* letters after ":2,", e.g. "RS" */
	uid_t uid;
	gid_t gid;
	mode_t mode;
	time_t mtime;
	/* Queue mail: the envelope (NULL and 0 for other stores). An
	   empty sender is the null sender <>. */
	const char *envelope_sender;
	const char *const *recipients;
	size_t recipient_count;
	time_t arrival_time;
};

/* ------------------------------------------------------------------ */
/* Messages                                                           */
/* ------------------------------------------------------------------ */

/* One message as a store yields it. raw/raw_size is the message
   exactly as stored (for mbox: From_ line, body with its >From
   quoting, and the separating newline), which is what the quarantine
   keeps. data/size is the RFC 5322 message that is parsed and
   scanned (for mbox: without the From_ line, with >From unquoted).

   A store opened with heads_first may yield a message before its
   body is read: raw and data are then NULL, size is still the whole
   size, and head/head_size, when not NULL, are the first bytes of
   data, at least its whole header block (up to and including the
   empty line). The caller loads the rest with the store's load op
   before it looks past the header block. */
struct mc_msg {
	uint64_t seq;			/* order within the run */
	struct mc_location loc;
	const unsigned char *raw;
	size_t raw_size;
	const unsigned char *data;
	size_t size;
	const unsigned char *head;
	size_t head_size;
	/* Set when the store could not read this message: it is
	   reported as an error and never acted on. */
	const char *read_error;
	/* Store-private state (container reference, owned buffers). */
	void *store_priv;
};

enum mc_verdict_kind {
	MC_VERDICT_CLEAN,
	MC_VERDICT_INFECTED,
	MC_VERDICT_UNSCANNED,	/* a limit was reached: never clean */
	MC_VERDICT_ERROR,	/* engine or read error: never acted on */
};

/* ------------------------------------------------------------------ */
/* Parsed facts about a message (lazy)                                */
/* ------------------------------------------------------------------ */

struct mc_part {
	const char *filename;		/* decoded (RFC 2231/2047), or NULL */
	const char *content_type;	/* "application/zip", lower case */
	const unsigned char *content;	/* decoded transfer encoding */
	size_t content_size;
	const char *text_utf8;		/* text/ parts: charset-converted, else NULL */
	unsigned depth;
	unsigned char sha256[32];
	unsigned char md5[16];		/* only after mc_facts_part_md5() */
};

struct mc_facts;

/* Facts are computed on first use and cached; the message must stay
   valid until mc_facts_free. */
struct mc_facts *mc_facts_init(const struct mc_msg *msg,
			       const struct mc_limits *limits);
void mc_facts_free(struct mc_facts **facts);

/* Decoded (RFC 2047, unfolded) value of the first header NAME, or NULL. */
const char *mc_facts_header(struct mc_facts *facts, const char *name);
/* All values of header NAME, decoded; returns the count. */
size_t mc_facts_headers(struct mc_facts *facts, const char *name,
			const char *const **values_r);
/* One mailbox of an address header. */
struct mc_address {
	const char *addr;	/* "user@example.com" as parsed; "" when none */
	const char *name;	/* display name (or comment), decoded; or NULL */
	const char *raw;	/* the address as written, when not addr; or NULL */
	const char *display;	/* "name <addr>" when there is a name; or NULL */
};
/* The mailboxes of every From/To/Cc/... field; returns the count. */
size_t mc_facts_addresses(struct mc_facts *facts, const char *header,
			  const struct mc_address **addrs_r);
/* Whether an address, display name or raw address of a HEADER field
   may contain LITERAL (ASCII, lower case, no white space): false only
   when none can, which is found without parsing the addresses. */
bool mc_facts_addresses_may_hold(struct mc_facts *facts, const char *header,
				 const char *literal);
/* The Date header as a time (negative before 1970): false when the
   message has no Date field that reads as a date. */
bool mc_facts_date(struct mc_facts *facts, time_t *date_r);
/* Whether the message is within the MIME limits, found without
   decoding any part: MC_VERDICT_ERROR when it is not a mail message
   at all (empty, no header fields), MC_VERDICT_UNSCANNED when a MIME
   limit is reached, else MC_VERDICT_CLEAN (also for a multipart
   without its close delimiter: its last part runs to the end). *why_r
   says why (valid until mc_facts_free). */
enum mc_verdict_kind mc_facts_check(struct mc_facts *facts, const char **why_r);
/* The part of mc_facts_check that needs only the header block:
   MC_VERDICT_ERROR for an empty message or one without header
   fields, else MC_VERDICT_CLEAN. For a query about headers alone,
   whose answer no body can change. */
enum mc_verdict_kind mc_facts_check_headers(struct mc_facts *facts,
					    const char **why_r);
/* Leaf MIME parts. Returns -1 when the MIME structure could not be
   walked (limit reached or broken); *why_r then says why. */
int mc_facts_parts(struct mc_facts *facts, const struct mc_part **parts_r,
		   size_t *count_r, const char **why_r);
/* The distinct URLs in the message's text and HTML parts, normalised
   (lib/url.c), walking the parts if that was not done yet. -1 when a
   MIME limit or limits->max_urls was reached, with *why_r: the URLs
   found before it are still returned. */
int mc_facts_urls(struct mc_facts *facts, const char *const **urls_r,
		  size_t *count_r, const char **why_r);
/* MD5 of leaf part INDEX (computed on first use). */
const unsigned char *mc_facts_part_md5(struct mc_facts *facts, size_t index);
/* Whether the leaf parts are exactly what libclamav's mail parser
   would extract: plain, well-formed MIME within its limits. When not,
   *why_r says what is irregular and the message must be scanned
   whole. Walks the parts if that was not done yet. */
bool mc_facts_regular(struct mc_facts *facts, const char **why_r);

/* ------------------------------------------------------------------ */
/* Detection engines                                                  */
/* ------------------------------------------------------------------ */


struct mc_verdict {
	enum mc_verdict_kind kind;
	char name[256];		/* signature name, or the reason why */
};

struct mc_engine;

/* ------------------------------------------------------------------ */
/* Verdict cache (lib/cache.c)                                        */
/* ------------------------------------------------------------------ */

struct mc_cache;

/* The verdict on one decoded part, and what scanning it cost the
   engine (so a message's engine limits can be checked on a hit). */
struct mc_cache_entry {
	enum mc_verdict_kind kind;	/* CLEAN or INFECTED */
	const char *name;		/* INFECTED: signature (cache-owned) */
	uint64_t bytes;			/* bytes the engine scanned */
	uint32_t files;			/* files (layers) it scanned */
	uint32_t depth;			/* deepest nesting below the part */
};

struct mc_cache_stats {
	uint64_t hits, misses;
	size_t entries, capacity;
};

/* A cache of at most MAX_BYTES of entries. */
struct mc_cache *mc_cache_new(size_t max_bytes);
void mc_cache_free(struct mc_cache **cache);
bool mc_cache_get(struct mc_cache *cache, const unsigned char sha256[32],
		  struct mc_cache_entry *entry_r);
void mc_cache_put(struct mc_cache *cache, const unsigned char sha256[32],
		  const struct mc_cache_entry *entry);
/* Bind the cache to the engine IDENTITY and read PATH when it exists
   (*stale_r: it was written for another identity and is ignored). */
int mc_cache_load(struct mc_cache *cache, const char *path,
		  const unsigned char identity[32], bool *stale_r,
		  char **error_r);
int mc_cache_save(struct mc_cache *cache, const char *path, char **error_r);
void mc_cache_stats(struct mc_cache *cache, struct mc_cache_stats *stats_r);
/* The cache key of a message's verdict (DATA, SIZE: the message): not
   the SHA-256 of its bytes, which is the key of a part with the same
   bytes (an attached message), whose verdict comes from a different
   scan. */
void mc_cache_message_key(const void *data, size_t size, unsigned char key[32]);

/* How a message is given to the engine. */
enum mc_scan_mode {
	/* Decode the MIME parts once, scan each part (or take its
	   verdict from the cache) and the raw message without the
	   engine's own mail parser; irregular messages are scanned
	   whole. The default. */
	MC_SCAN_PARTS,
	/* The whole message to the engine, which parses it itself. */
	MC_SCAN_WHOLE,
};

struct mc_engine_settings {
	enum mc_scan_mode mode;
	struct mc_cache *cache;		/* NULL: no cache */
	/* Also cache each message's verdict (by its SHA-256), so that a
	   repeated run over the same store rescans only what changed. */
	bool cache_messages;
	const char *tempdir;		/* where it unpacks; NULL: $TMPDIR */
	/* Scan in this many processes of their own; 0: in the calling
	   threads. */
	unsigned scan_processes;
	/* Not 0: the scan processes become this user (and group) before
	   their first scan, each with a directory of its own in tempdir,
	   which they need. */
	uid_t scan_uid;
	gid_t scan_gid;
	/* The process ends right after close(), which then leaves the
	   compiled signatures to the exit instead of freeing them:
	   freeing touches every page of a large engine, shared
	   copy-on-write with the scan processes (seconds). Sanitizer
	   builds free them anyway, for the leak check. */
	bool exit_after_close;
};

/* What the engine did, for the summary. */
struct mc_engine_stats {
	uint64_t messages_parts;	/* scanned part by part */
	uint64_t messages_whole;	/* scanned whole */
	uint64_t parts_scanned;		/* parts given to the engine */
	uint64_t parts_cached;		/* parts answered by the cache */
	uint64_t raw_scans;		/* raw passes over a message */
	uint64_t messages_cached;	/* answered by the cache as a whole */
	const char *matcher;		/* the engine's pattern matchers */
	bool loaded;			/* its signatures were loaded */
	unsigned signatures;		/* how many */
	double load_seconds;		/* how long that took */
	/* Set by the pipeline: the engine's ops name and version. */
	const char *engine;
	const char *version;
};

struct mc_engine_ops {
	const char *name;
	/* DB_PATHS: signature files or directories; for clamd, the
	   daemons' addresses. */
	int (*open)(const char *const *db_paths, size_t db_count,
		    const struct mc_limits *limits,
		    struct mc_engine **engine_r, char **error_r);
	/* Thread-safe: one engine is shared by all workers. */
	void (*scan_buffer)(struct mc_engine *engine, const void *data,
			    size_t size, struct mc_verdict *verdict_r);
	void (*scan_fd)(struct mc_engine *engine, int fd, const char *name,
			struct mc_verdict *verdict_r);
	/* Scan one mail message; FACTS (may be NULL) holds its parsed
	   parts. Same verdict as scan_buffer on the message. */
	void (*scan_message)(struct mc_engine *engine, const struct mc_msg *msg,
			     struct mc_facts *facts, struct mc_verdict *verdict_r);
	void (*configure)(struct mc_engine *engine,
			  const struct mc_engine_settings *settings);
	/* Signatures are loaded at the first scan that needs them (a run
	   answered by the verdict cache never does); this loads them now,
	   so that a broken database is an error here. May be NULL. */
	int (*load)(struct mc_engine *engine, char **error_r);
	/* A digest of everything a verdict depends on: engine version,
	   settings, limits and the signature files' contents. */
	int (*identity)(struct mc_engine *engine, unsigned char out[32],
			char **error_r);
	void (*stats)(struct mc_engine *engine, struct mc_engine_stats *stats_r);
	/* Signature count and a version string for caches and reports. */
	const char *(*version)(struct mc_engine *engine, unsigned *sigs_r);
	void (*close)(struct mc_engine **engine);
};

extern const struct mc_engine_ops mc_engine_clamav;
/* Running clamd daemons (lib/engine/clamd.c): a Unix socket path or
   HOST:PORT each; several are used in turn. */
extern const struct mc_engine_ops mc_engine_clamd;

/* YARA rules (lib/engine/yara.c). */
struct mc_yara;
#define MC_YARA_HITS_MAX 16
struct mc_yara_hit {
	char rule[128];
	char ns[128];		/* the rule file's name, less its extension */
	char tags[256];		/* JSON array */
	char meta[768];		/* JSON object */
};
struct mc_yara_result {
	unsigned count;
	struct mc_yara_hit hits[MC_YARA_HITS_MAX];
	char error[160];	/* not empty: not every byte was scanned */
};
/* Compile the rule files PATHS (files or directories); on a rule that
   does not compile, *error_r names its file and line. */
int mc_yara_open(const char *const *paths, size_t count,
		 const struct mc_limits *limits, struct mc_yara **yara_r,
		 char **error_r);
/* Fork the scan processes that run the rules; call before threads. */
int mc_yara_start(struct mc_yara *yara, unsigned slots, char **error_r);
/* Before mc_yara_start: the scan processes become UID:GID. */
void mc_yara_set_user(struct mc_yara *yara, uid_t uid, gid_t gid);
unsigned mc_yara_rule_count(const struct mc_yara *yara);
/* Thread-safe: the rules over the message and each decoded part. */
void mc_yara_scan(struct mc_yara *yara, const struct mc_msg *msg,
		  struct mc_facts *facts, struct mc_yara_result *result_r);
void mc_yara_close(struct mc_yara **yara);
/* Thread-safe: the rules over DATA (SIZE bytes), a file as it is. */
void mc_yara_scan_data(struct mc_yara *yara, const void *data, size_t size,
		       struct mc_yara_result *result_r);
/* {"rule":..,"namespace":..,"tags":[..],"meta":{..}}, malloc()ed. */
char *mc_yara_hit_json(const struct mc_yara_hit *hit);
/* The first of HITS as mc_yara_hit_json, and all of them in
   "rules":[{"rule":..,...},...]; malloc()ed. */
char *mc_yara_hits_json(const struct mc_yara_hit *const *hits, size_t count);

/* Default signature database path, /var/lib/clamav. */
#define MC_DEFAULT_DATABASE "/var/lib/clamav"

/* ------------------------------------------------------------------ */
/* Queries                                                            */
/* ------------------------------------------------------------------ */

struct mc_query;

/* Parse TEXT ("virus", "from:*@evil.example or attachment:*.exe").
   NULL or "" means "virus". On a syntax error, *error_r names the
   offending term and its (1-based) character position. */
struct mc_query *mc_query_parse(const char *text, char **error_r);
void mc_query_free(struct mc_query **query);
/* Whether evaluation can need the detection engine at all. */
bool mc_query_needs_engine(const struct mc_query *query);
/* Whether evaluation can need more of a message than its header
   block and its size (a MIME or engine term). */
bool mc_query_needs_body(const struct mc_query *query);
/* Whether the query has yara terms; they run the rules given with
   mc_query_set_yara (kept by the caller, set before evaluating). */
bool mc_query_needs_yara(const struct mc_query *query);
void mc_query_set_yara(struct mc_query *query, struct mc_yara *yara);
/* Canonical text of the query, for reports. */
const char *mc_query_text(const struct mc_query *query);

/* Threat-intel indicators (lib/ioc.c): MISP JSON events and feed
   directories, STIX 2.1 bundles, CSV with a header row. */
struct mc_ioc_set;
/* What one indicator file gave. */
struct mc_ioc_feed {
	char *path;
	const char *format;	/* "misp", "misp-feed", "stix", "csv", "list" */
	unsigned long loaded, skipped;
	char **notes;		/* what was skipped and why (the first few) */
	size_t note_count;
};
struct mc_ioc_set *mc_ioc_set_new(void);
/* Add the indicators of PATH (a file or a MISP feed directory). */
int mc_ioc_set_load(struct mc_ioc_set *set, const char *path, char **error_r);
size_t mc_ioc_set_count(const struct mc_ioc_set *set);
void mc_ioc_set_free(struct mc_ioc_set **set);
/* Whether MSG (FACTS: its facts) has an indicator of SET: 1 with the
   indicator's value in VALUE_R (SIZE bytes) and the detail of its
   reason (a JSON object, malloc()ed) in *DETAIL_R; 0 when not; -1 when
   it has none but not all of it could be compared (*WHY_R says why). */
int mc_ioc_set_match(const struct mc_ioc_set *set, const struct mc_msg *msg,
		     struct mc_facts *facts, char *value_r, size_t size,
		     char **detail_r, const char **why_r);
/* Whether PATH is a feed mc_ioc_set_load reads (else a plain list). */
bool mc_ioc_is_feed(const char *path);
/* OR the indicators of --ioc FILE into QUERY: a query that has no
   "ioc" term gets one (the default query "virus" is replaced by it).
   A plain list is read as @FILE is. */
int mc_query_add_ioc(struct mc_query *query, const char *const *paths,
		     size_t count, char **error_r);
/* Whether the query has an "ioc" term (all --ioc indicators). */
bool mc_query_has_ioc(const struct mc_query *query);
/* Call FN for each indicator file the query read. */
void mc_query_ioc_feeds(const struct mc_query *query,
			void (*fn)(const struct mc_ioc_feed *feed, void *context),
			void *context);

/* A host file, as mc_query_eval_file sees it: its content (only
   when mc_query_file_needs_data) and the hashes of the whole file
   that mc_query_file_hashes asked for (HAVE: MC_FILE_* computed). */
#define MC_FILE_MD5 1U
#define MC_FILE_SHA1 2U
#define MC_FILE_SHA256 4U
struct mc_file_view {
	const unsigned char *data;
	size_t size;
	unsigned have;
	unsigned char md5[16], sha1[20], sha256[32];
};
unsigned mc_query_file_hashes(const struct mc_query *query);
bool mc_query_file_needs_data(const struct mc_query *query);
/* How many --ioc indicators compare what a file does not have (URL,
   domain, address, subject): not applied to files. */
size_t mc_query_file_ignored(const struct mc_query *query);
struct mc_match;
/* Add to MATCH the reasons FILE has: each --ioc indicator set or
   list that names one of its hashes, and every --yara rule that
   matches it (one yara reason). A YARA scan that did not finish
   sets match->problem and match->why. */
void mc_query_eval_file(const struct mc_query *query,
			const struct mc_file_view *file, struct mc_match *match);

enum mc_reason_kind {
	MC_REASON_VIRUS, MC_REASON_FROM, MC_REASON_TO, MC_REASON_CC,
	MC_REASON_SUBJECT, MC_REASON_HEADER, MC_REASON_MESSAGE_ID,
	MC_REASON_BODY, MC_REASON_ATTACHMENT, MC_REASON_SHA256,
	MC_REASON_MD5, MC_REASON_SIZE, MC_REASON_DATE, MC_REASON_URL,
	MC_REASON_DOMAIN, MC_REASON_YARA, MC_REASON_IOC, MC_REASON_ALL,
};

/* Why a message matched: {"kind":"virus","name":"Eicar-..."} or
   {"kind":"attachment","value":"x.exe"}. */
struct mc_reason {
	enum mc_reason_kind kind;
	char *value;		/* signature name for virus, else the value */
	char *detail;		/* a JSON object of more fields, or NULL */
};

const char *mc_reason_kind_name(enum mc_reason_kind kind);

/* Result of evaluating a query on one message. */
struct mc_match {
	bool matched;
	/* The message could not be fully evaluated (engine limit,
	   MIME limit, engine error) and the answer depended on it. */
	enum mc_verdict_kind problem;	/* CLEAN = no problem */
	char why[256];
	struct mc_reason *reasons;
	size_t reason_count;
	/* Engine verdict when the engine ran, else kind CLEAN, name "". */
	bool engine_ran;
	struct mc_verdict verdict;
};

/* Evaluate QUERY on MSG. Cheap terms first (headers, size), then the
   MIME walk, then the engine only while the answer depends on it.
   ENGINE may be NULL when mc_query_needs_engine() is false. */
void mc_query_eval(const struct mc_query *query, const struct mc_msg *msg,
		   struct mc_facts *facts, const struct mc_engine_ops *ops,
		   struct mc_engine *engine, struct mc_match *match_r);
void mc_match_clear(struct mc_match *match);

/* ------------------------------------------------------------------ */
/* Stores                                                             */
/* ------------------------------------------------------------------ */

struct mc_store;
struct mc_quarantine;
struct mc_qentry;

/* What a store does with one matched message when acting. */
struct mc_removal {
	struct mc_msg *msg;
	const struct mc_match *match;
	/* Out: */
	char *quarantine_id;	/* set once the message is in quarantine */
	char *error;		/* set when it could not be removed */
	bool removed;
};

struct mc_store_settings {
	const struct mc_limits *limits;
	bool dry_run;
	/* Messages may be yielded with only their head in memory (see
	   struct mc_msg); whoever takes them calls load when it needs
	   more. Keeps what is in flight small, and a query about headers
	   from reading whole messages. */
	bool heads_first;
	/* Whoever loads messages does not need raw (a find that does not
	   act): load may then leave raw NULL where data is a copy of it
	   (an mbox message with >From lines is unquoted in place). */
	bool loads_without_raw;
	/* Whoever takes the messages reads their bodies (the query needs
	   them): they are taken at the pace of the engine, and reading
	   far ahead would only hold memory. */
	bool bodies_read;
	/* The quarantine a clean acts with, or NULL: a store settles
	   there, before reading a mailbox, what an interrupted removal
	   from it left (see mc_store_ops.settle). */
	struct mc_quarantine *quarantine;
};

struct mc_store_ops {
	const char *name;	/* URI scheme: "maildir", "mbox", ... */
	/* Whether PATH (bare, auto-detect) is of this kind. */
	bool (*detect)(int dirfd, const char *path);
	int (*open)(const char *uri, const char *path,
		    const struct mc_store_settings *set,
		    struct mc_store **store_r, char **error_r);
	/* Returns 1 with *msg_r set, 0 at the end, -1 on a fatal error
	   (a single unreadable message is a msg with read_error). */
	int (*next)(struct mc_store *store, struct mc_msg **msg_r,
		    char **error_r);
	/* True when MSG is the last message of its container (its mbox
	   file); the removals of a container are done together. */
	bool (*container_last)(struct mc_store *store, const struct mc_msg *msg);
	/* Quarantine then remove the messages of one container, in that
	   order, each removal only after its copy is verified. */
	void (*remove)(struct mc_store *store, struct mc_quarantine *q,
		       const char *run_id, struct mc_removal *removals,
		       size_t count);
	void (*msg_free)(struct mc_store *store, struct mc_msg **msg);
	/* Read the whole of a message yielded without its body (data
	   NULL, no read_error): sets raw and data. Returns 0, or -1 with
	   msg->read_error set (the message is then reported, never acted
	   on). Thread-safe for different messages of one store; NULL
	   when the store always yields whole messages. */
	int (*load)(struct mc_store *store, struct mc_msg *msg);
	/* Free all that was read of MSG (head, body) and close any file
	   it holds open, keeping its place, size and read error: for a
	   message that waits to be reported and is not read again. NULL
	   when the store has nothing to free early. */
	void (*drop)(struct mc_store *store, struct mc_msg *msg);
	void (*close)(struct mc_store **store);
	/* Put a quarantined message back where it came from. */
	int (*restore)(struct mc_quarantine *q, const struct mc_qentry *entry,
		       const void *raw, size_t raw_size, char **error_r);
	/* Settle what an interrupted removal from the mailbox PATH left
	   (a rewrite to complete, entries staged in Q to commit or
	   discard), under the mailbox's lock. NULL for stores whose
	   removals need no settling. */
	int (*settle)(struct mc_quarantine *q, const char *path, char **error_r);
};

extern const struct mc_store_ops mc_store_maildir;
extern const struct mc_store_ops mc_store_mbox;
extern const struct mc_store_ops mc_store_eml;
extern const struct mc_store_ops mc_store_tree;	/* bare path, auto-detected */
extern const struct mc_store_ops mc_store_postfix;	/* postfix:[CONFIG_DIR] queue */
extern const struct mc_store_ops mc_store_exim;	/* exim:[CONFIG_FILE] queue */
extern const struct mc_store_ops mc_store_dovecot;	/* dovecot:USERMASK, via doveadm */

/* Store ops by URI scheme / kind name, or NULL. */
const struct mc_store_ops *mc_store_lookup(const char *kind);

/* Parse a STORE argument ("maildir:PATH", "mbox:PATH", "eml:PATH",
   or a bare PATH, auto-detected) and open it. */
int mc_store_open(const char *uri, const struct mc_store_settings *set,
		  struct mc_store **store_r, char **error_r);

/* An open store dispatches its own calls: these call the op of the
   store's implementation (see struct mc_store_ops for what each
   does), so that callers need not carry the ops with the store. */
const char *mc_store_kind(const struct mc_store *store);	/* ops->name */
int mc_store_next(struct mc_store *store, struct mc_msg **msg_r,
		  char **error_r);
bool mc_store_container_last(struct mc_store *store, const struct mc_msg *msg);
void mc_store_remove(struct mc_store *store, struct mc_quarantine *q,
		     const char *run_id, struct mc_removal *removals,
		     size_t count);
void mc_store_msg_free(struct mc_store *store, struct mc_msg **msg);
/* 0 also when the store always yields whole messages (no load op). */
int mc_store_load(struct mc_store *store, struct mc_msg *msg);
/* Nothing when the store has nothing to free early (no drop op). */
void mc_store_drop(struct mc_store *store, struct mc_msg *msg);
/* Close *STORE (may be NULL) and clear it. */
void mc_store_close(struct mc_store **store);

/* ------------------------------------------------------------------ */
/* Quarantine                                                         */
/* ------------------------------------------------------------------ */

#define MC_DEFAULT_QUARANTINE "/var/lib/mailcure/quarantine"
/* Runs (journals, reports) and saved state of freeze and isolate. */
#define MC_DEFAULT_STATE_DIR "/var/lib/mailcure"

/* Metadata of one quarantine entry. */
struct mc_qentry {
	char *id;
	char *run_id;
	struct mc_location loc;		/* strings owned by the entry */
	char *sha256_hex;		/* of the raw message */
	uint64_t size;
	time_t quarantined_at;
	time_t restored_at;		/* 0 = not restored */
	struct mc_reason *reasons;
	size_t reason_count;
	/* Queue mail: envelope. */
	char *envelope_sender;
	char **recipients;
	size_t recipient_count;
	time_t arrival_time;
	/* Host files: extended attributes (name\0value pairs, base64 in
	   the record). */
	char *from;
	char *subject;
	char *message_id;
	/* Free-form extra fields (JSON object text) a store may keep. */
	char *extra_json;
};

/* Open (and with CREATE, create mode 0700, root-owned) the
   quarantine directory. */
struct mc_quarantine *mc_quarantine_open(const char *dir, bool create,
					 char **error_r);
void mc_quarantine_close(struct mc_quarantine **q);
const char *mc_quarantine_dir(const struct mc_quarantine *q);

/* Write RAW and META to a new entry: data written, fsync'd, re-read
   and its SHA-256 verified, metadata written and fsync'd, directory
   fsync'd. Only then may the caller remove the original. Sets
   *id_r (malloc()ed). META's id/sha256/size/quarantined_at are
   filled in by this function. */
int mc_quarantine_put(struct mc_quarantine *q, const struct mc_qentry *meta,
		      const void *raw, size_t raw_size, char **id_r,
		      char **error_r);

/* Like mc_quarantine_put, but the entry is staged in pending/GROUP
   (GROUP: letters, digits, '-', '_', '.'), where it is not listed,
   counted or restored, until mc_quarantine_commit makes it an entry.
   For a store that removes several messages in one step that can be
   interrupted (an mbox rewrite): their entries exist only once that
   step is durable. */
int mc_quarantine_stage(struct mc_quarantine *q, const char *group,
			const struct mc_qentry *meta, const void *raw,
			size_t raw_size, char **id_r, char **error_r);
/* Make the entries IDS staged in GROUP entries (their run index first,
   then entries/, fsync'd); ids no longer staged there are skipped, so
   an interrupted commit can be repeated. */
int mc_quarantine_commit(struct mc_quarantine *q, const char *group,
			 char *const *ids, size_t count, char **error_r);
/* Delete everything staged in GROUP, and the group: the messages of a
   removal that did not happen. */
int mc_quarantine_unstage(struct mc_quarantine *q, const char *group,
			  char **error_r);
/* Whether anything is staged in GROUP (or that cannot be told). */
bool mc_quarantine_staged(struct mc_quarantine *q, const char *group);

/* A staging group, as an interrupted removal left it. */
struct mc_quarantine_staged {
	char *group;
	size_t count;			/* entries in it */
	char *kind, *path, *run_id;	/* of its first entry, or NULL */
};
int mc_quarantine_staged_list(struct mc_quarantine *q,
			      struct mc_quarantine_staged **list_r,
			      size_t *count_r, char **error_r);
void mc_quarantine_staged_free(struct mc_quarantine_staged **list, size_t count);

/* Load entry ID (metadata only). */
struct mc_qentry *mc_quarantine_get(struct mc_quarantine *q, const char *id,
				    char **error_r);
/* Read the raw message of ENTRY, verifying its SHA-256. */
int mc_quarantine_read(struct mc_quarantine *q, const struct mc_qentry *entry,
		       void **raw_r, size_t *size_r, char **error_r);
void mc_qentry_free(struct mc_qentry **entry);

/* Iterate over all entries, oldest first. */
struct mc_quarantine_iter;
struct mc_quarantine_iter *mc_quarantine_iter_init(struct mc_quarantine *q);
/* Returns the next entry (caller frees) or NULL at the end. */
struct mc_qentry *mc_quarantine_iter_next(struct mc_quarantine_iter *iter);
void mc_quarantine_iter_deinit(struct mc_quarantine_iter **iter);

/* One entry held for restore, from begin to finish. */
struct mc_qrestore;
/* Lock entry ID against other restores, load it, refuse it when it
   was restored already, and read its message, verifying the
   checksum. 0 with *R_R, or -1 with *error_r. */
int mc_quarantine_restore_begin(struct mc_quarantine *q, const char *id,
				struct mc_qrestore **r_r, char **error_r);
const struct mc_qentry *mc_qrestore_entry(const struct mc_qrestore *r);
const void *mc_qrestore_message(const struct mc_qrestore *r, size_t *size_r);
/* With RESTORED, record that the message is back (restored_at);
   then unlock and free *R. -1 when the record could not be written. */
int mc_quarantine_restore_finish(struct mc_qrestore **r, bool restored,
				 char **error_r);
/* Remove entries quarantined before BEFORE. Returns count or -1. */
int mc_quarantine_purge(struct mc_quarantine *q, time_t before,
			bool dry_run, char **error_r);

/* Like mc_quarantine_iter_init, over the entries of run RUN_ID only,
   in the order they were quarantined (read from the run's index, not
   by scanning the whole quarantine). */
struct mc_quarantine_iter *mc_quarantine_iter_init_run(struct mc_quarantine *q,
						       const char *run_id);
/* Like mc_quarantine_iter_next, but an entry that cannot be loaded
   (damaged metadata) is reported instead of skipped: returns 1 with
   *entry_r, -1 with *error_r naming the entry (iteration may go on),
   0 at the end. */
int mc_quarantine_iter_next_r(struct mc_quarantine_iter *iter,
			      struct mc_qentry **entry_r, char **error_r);
/* Delete entry ID (and its run index line) at once: for a store that
   quarantined a message and then could not remove the original, so
   that a later restore cannot duplicate it. */
int mc_quarantine_discard(struct mc_quarantine *q, const char *id,
			  char **error_r);
/* The metadata record of ENTRY as one line of JSON (malloc()ed). */
char *mc_qentry_json(const struct mc_qentry *entry);

/* A new run id: "20261128T010830Z-1a2b3c". */
char *mc_run_id_new(void);

/* ------------------------------------------------------------------ */
/* Restore: quarantine -> store (lib/restore.c)                       */
/* ------------------------------------------------------------------ */

/* Restore entry ID where it came from, through the restore op of the
   store of its kind, and mark it restored. A second restore is
   refused. */
int mc_restore_entry(struct mc_quarantine *q, const char *id, char **error_r);
/* Settle every staging group through its store's settle op (commit
   the entries of removals that happened, discard the others), so that
   a restore sees all there is. Returns -1 with the first group that
   could not be settled; the others are settled still. */
int mc_restore_settle(struct mc_quarantine *q, char **error_r);

/* ------------------------------------------------------------------ */
/* The pipeline: stores -> workers -> ordered sink                    */
/* ------------------------------------------------------------------ */

enum mc_event_type {
	MC_EVENT_MATCH,
	MC_EVENT_UNSCANNED,
	MC_EVENT_ERROR,
};

struct mc_event {
	enum mc_event_type type;
	const struct mc_msg *msg;	/* location, size */
	const struct mc_match *match;	/* MATCH: reasons */
	const char *from, *subject, *message_id;	/* decoded, may be NULL */
	const char *action;		/* "quarantined", "would quarantine",
					   "failed", or NULL when not acting */
	const char *quarantine_id;
	const char *why;		/* UNSCANNED/ERROR, or action failure */
};

struct mc_summary {
	char run_id[64];
	uint64_t scanned;
	uint64_t matched;
	uint64_t acted;
	uint64_t unscanned;
	uint64_t errors;
	uint64_t bytes;
	double seconds;
	bool interrupted;		/* ended early: see mc_run.interrupt */
	bool engine_used;		/* engine is set */
	struct mc_engine_stats engine;
};

struct mc_progress {
	uint64_t messages;
	uint64_t bytes;
	uint64_t matched;
	double seconds;
	/* Total known in advance? (0 = unknown) */
	uint64_t total_messages;
};

enum mc_action {
	MC_ACTION_NONE,		/* find */
	MC_ACTION_QUARANTINE,	/* clean: quarantine, then remove */
};

struct mc_run {
	/* Opened stores. */
	struct mc_store *const *stores;
	size_t store_count;
	const struct mc_query *query;
	const struct mc_engine_ops *engine_ops;	/* may be NULL */
	struct mc_engine *engine;
	const struct mc_limits *limits;
	enum mc_action action;
	bool dry_run;
	struct mc_quarantine *quarantine;	/* required when acting */
	const char *run_id;
	unsigned jobs;
	/* Called from one thread, in store order. */
	void (*on_event)(const struct mc_event *event, void *context);
	/* Called about 10 times a second, from the same thread. */
	void (*on_progress)(const struct mc_progress *progress, void *context);
	void *context;
	/* When it becomes non-zero (a signal handler sets it), no more
	   messages are read: those read are evaluated, reported and acted
	   on (a container's removal in progress is finished), and the run
	   ends with summary.interrupted set. May be NULL. */
	const volatile sig_atomic_t *interrupt;
};

/* Run the pipeline. Returns 0 when it ran to the end (whatever it
   found), -1 on a fatal error. */
int mc_run_pipeline(const struct mc_run *run, struct mc_summary *summary_r,
		    char **error_r);

/* ------------------------------------------------------------------ */
/* Run journal (respond)                                              */
/* ------------------------------------------------------------------ */

/* A run directory STATE/runs/RUN holds journal.jsonl: one JSON record
   a line, appended and fsync'd before and after every step, so that an
   interrupted run can be resumed and reported. A torn last line (power
   loss while writing) is ignored. */
struct mc_journal;

struct mc_journal_record {
	time_t time;
	char *step;		/* "isolate", "mailbox-clean", ... or "run" */
	char *state;		/* "start", "done", "failed", "skipped", ... */
	int exit_code;		/* -1 when not applicable */
	char *detail;		/* why, or a summary; may be NULL */
};

/* Open (with CREATE: create, mode 0700) the run directory RUN_DIR and
   read its journal. */
struct mc_journal *mc_journal_open(const char *run_dir, bool create,
				   char **error_r);
void mc_journal_close(struct mc_journal **journal);
const char *mc_journal_dir(const struct mc_journal *journal);
/* Append a record and fsync it. */
int mc_journal_append(struct mc_journal *journal, const char *step,
		      const char *state, int exit_code, const char *detail,
		      char **error_r);
/* All records read so far, oldest first. */
const struct mc_journal_record *mc_journal_records(const struct mc_journal *journal,
						   size_t *count_r);
/* The latest state of STEP, or NULL when it never started. */
const char *mc_journal_step_state(const struct mc_journal *journal,
				  const char *step);

/* ------------------------------------------------------------------ */
/* Small helpers shared by the CLI and the library                    */
/* ------------------------------------------------------------------ */

void mc_hex(const unsigned char *bin, size_t len, char *hex_out);
/* A formatted, malloc()ed string; aborts when out of memory. */
char *mc_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mc_sha256(const void *data, size_t len, unsigned char out[32]);
void mc_md5(const void *data, size_t len, unsigned char out[16]);
void mc_sha1(const void *data, size_t len, unsigned char out[20]);
double mc_now(void);
/* The length of the well-formed UTF-8 character at P (at most LEFT
   bytes), or 0 when P does not start one. */
size_t mc_utf8_len(const unsigned char *p, size_t left);
/* S as it may be shown on a terminal, in a log or in HTML: C0 and C1
   controls, DEL, bidirectional overrides and bytes that are not
   well-formed UTF-8 written as \xHH, the rest kept. malloc()ed. */
char *mc_text_visible(const char *s);
/* OBJ as one line of JSON, the way all of mailcure's JSON output is
   written: control characters (C0, DEL, C1), bidirectional overrides,
   U+2028 and U+2029 as \uXXXX, bytes that are not well-formed UTF-8
   as U+FFFD. malloc()ed (lib/json.c). */
struct json_object;
char *mc_json_text(struct json_object *obj);
/* A listing of directory DIRFD on a descriptor of its own (DIRFD is
   left as it is), or NULL with errno. */
DIR *mc_dir_list(int dirfd);

/* ------------------------------------------------------------------ */
/* Host scan: file-level scan of the server (lib/hostscan.c)          */
/* ------------------------------------------------------------------ */

/* One `mailcure host scan|clean` run. Every path is walked from
   verified directory descriptors: symlinks are never followed, FIFOs,
   sockets and devices are never opened, and a file is removed only
   through its verified parent directory, by the name that still
   refers to the inode that was scanned and quarantined.

   Events use struct mc_event: msg->loc.kind is "host", loc.path the
   file's absolute path (symlinks in the administrator's PATH
   resolved), loc.user its owner's name, uid/gid/mode/mtime its
   metadata, msg->size its size. A detection is a match whose reasons
   hold {virus, NAME}. Files larger than max_filesize, directories
   nested deeper than max_depth and files that vanish or change during
   the scan are UNSCANNED events; unreadable ones are ERROR events. */
struct mc_host_scan {
	const char *const *paths;	/* files or directories ("/") */
	size_t path_count;
	/* fnmatch(3) globs matched against the full path ('*' also
	   matches '/'); a matching directory is not entered. */
	const char *const *excludes;
	size_t exclude_count;
	/* Leave out /proc /sys /dev /run and the mail stores that
	   `mailbox clean` handles per message (mc_host_default_excludes,
	   and any directory that is a Maildir or Dovecot mailbox).
	   Pseudo file systems (proc, sysfs, cgroup...) are always left
	   out, except a PATH that is itself on one. */
	bool default_excludes;
	bool one_file_system;		/* stay on each PATH's file system */
	uint64_t max_filesize;		/* 0 = limits->max_file_size */
	unsigned max_depth;		/* directory nesting, 0 = 1024 */
	const struct mc_engine_ops *engine_ops;
	struct mc_engine *engine;
	const struct mc_limits *limits;
	/* Also match files by the file hashes of the query's --ioc
	   indicators and by its --yara rules (mc_query_eval_file);
	   NULL: the engine alone. */
	const struct mc_query *query;
	enum mc_action action;
	bool dry_run;
	struct mc_quarantine *quarantine;	/* required when acting */
	/* Never scanned (the quarantine holds malware); may be NULL. */
	const char *quarantine_dir;
	const char *run_id;
	unsigned jobs;			/* scanning threads */
	/* Called from the calling thread only, one at a time. */
	void (*on_event)(const struct mc_event *event, void *context);
	void (*on_progress)(const struct mc_progress *progress, void *context);
	/* What was left out without being an error (an excluded
	   directory, a FIFO...), for verbose output. May be NULL. */
	void (*on_skip)(const char *path, const char *why, void *context);
	void *context;
};

/* Paths left out by default (fnmatch globs, FNM_PATHNAME), NULL-ended. */
extern const char *const mc_host_default_excludes[];

/* Scan (and with MC_ACTION_QUARANTINE clean) the host. Progress counts
   files as "messages". Returns 0 when the walk ran to the end,
   whatever it found; -1 on a fatal setup error. */
int mc_host_scan_run(const struct mc_host_scan *set,
		     struct mc_summary *summary_r, char **error_r);

/* Restore of quarantined host files (lib/store/host.c): the file is
   put back at loc.path with its content, owner, group, mode,
   timestamps and extended attributes; an existing file is never
   overwritten. The other operations refuse: a host is not a store. */
extern const struct mc_store_ops mc_store_host;

/* ------------------------------------------------------------------ */
/* Isolation: users cut off, services kept (lib/net/isolate.c)        */
/* ------------------------------------------------------------------ */

#define MC_DEFAULT_ISOLATE_STATE "/var/lib/mailcure/isolate.json"

/* How to isolate, and where the record of it is kept. */
struct mc_isolate_settings {
	/* The record; NULL: $MAILCURE_ISOLATE_STATE, else
	   MC_DEFAULT_ISOLATE_STATE. */
	const char *state_path;
	/* TCP and UDP ports closed; NULL: 25 465 587 110 995 143 993
	   4190 80 443. */
	const uint16_t *ports;
	size_t port_count;
	/* Administrator networks left open ("192.0.2.0/24",
	   "2001:db8::/32"; an address alone is one host). Loopback is
	   always open. */
	const char *const *allow;
	size_t allow_count;
	bool keep_mx;		/* port 25 stays open: mail keeps arriving */
	bool no_kick;		/* leave open Dovecot sessions alone */
	bool dry_run;		/* plan only, change nothing */
	/* doveadm and its configuration (NULL: as for mc_store_dovecot). */
	const char *doveadm;
	const char *dovecot_config;
};

/* What is (or was just put) in force. */
struct mc_isolation {
	bool recorded;		/* a record exists */
	bool applied;		/* ... and says the rules went in */
	bool rules_checked;	/* the ruleset could be looked at */
	bool rules_present;	/* ... and holds mailcure's table */
	time_t since;
	uint16_t *ports;
	size_t port_count;
	char **allow;		/* normalized CIDRs */
	size_t allow_count;
	bool keep_mx;
	uint64_t dropped_packets;	/* by the rules, so far */
	char *ruleset;		/* nft commands of mailcure's table */
	char *state_path;
	/* mc_isolate_apply: */
	bool already;		/* nothing done, it was in force */
	char **kicked;		/* sessions cut: "alice imap 192.0.2.2" */
	size_t kicked_count;
	char **commands;	/* dry run: what would run */
	size_t command_count;
	char *warning;		/* Dovecot unreachable, sessions left, ... */
	/* mc_isolate_remove: */
	bool removed_rules;
	bool removed_record;
};

/* Cut users off: record the isolation (fsync'd) BEFORE anything
   changes, put the nftables table "inet mailcure" in place in one
   transaction, then disconnect open Dovecot sessions (doveadm kick)
   from addresses that are not allowed. In force already: nothing is
   done (iso->already). Dovecot not running is a warning, not an
   error: the rules apply anyway. */
int mc_isolate_apply(const struct mc_isolate_settings *set,
		     struct mc_isolation **iso_r, char **error_r);
/* What is in force: the record, and (as root) the ruleset. */
int mc_isolate_status(const struct mc_isolate_settings *set,
		      struct mc_isolation **iso_r, char **error_r);
/* Whether TEXT is a network mc_isolate_apply() takes in allow
   (what a settings file says before isolate runs). */
int mc_isolate_check_allow(const char *text, char **error_r);
/* Undo mc_isolate_apply exactly: delete the table "inet mailcure"
   (nothing else in the ruleset is touched) and then the record. Also
   cleans up after an isolate that was interrupted. */
int mc_isolate_remove(const struct mc_isolate_settings *set,
		      struct mc_isolation **iso_r, char **error_r);
void mc_isolation_free(struct mc_isolation **iso);

#endif
