/*++
/* NAME
/*	cmd_demo 1
/* SUMMARY
/*	mailcure demo: build a sample infected mail server and clean it
/* SYNOPSIS
/*	mailcure demo [--keep] [--dir DIR] [--create-only]
/*		[--users N] [--messages N] [--seed N]
/* DESCRIPTION
/*	demo shows a newcomer what a real run looks like, without
/*	touching the real system. It creates a sample server in a
/*	temporary directory (mkdtemp under $TMPDIR or /tmp, or DIR):
/*
/*	home/USER/Maildir	INBOX, .Sent and .Archive (Maildir++)
/*	var/mail/USER		mbox files (users without a Maildir,
/*				and local system mail of the others)
/*
/*	with a few hundred realistic-looking messages from a seeded
/*	pseudo-random generator (the same seed gives the same server):
/*	senders, subjects, text bodies, small PDF and image attachments
/*	made of random bytes, some messages carrying a file from
/*	/usr/share/clamav-testfiles or the EICAR test string, and one
/*	outbreak message, "Invoice overdue" with an infected zip,
/*	delivered to every user with per-recipient headers.
/*
/*	srv/www/uploads/	files of a web upload directory, one of
/*				them a malware test file (the host scan)
/*
/*	It then runs the outbreak runbook on it through the very code
/*	path of "mailcure respond" (cmd_respond() with a built argument
/*	vector): the mailbox clean and the host clean, journaled, with
/*	the network and queue steps skipped, as the sample server has no
/*	Postfix, Dovecot or firewall of its own (the demo never touches
/*	the real ones). It uses the bundled test signatures
/*	(MC_SOURCE_DIR/tests/sigs or the installed MC_DATADIR/sigs) unless
/*	-d is given, and a quarantine and state directory inside the
/*	sample directory unless --quarantine or --state-dir are given.
/*	The steps are shown as they run, then the match lines of the
/*	clean steps (from the run's event files, as "mailbox clean" and
/*	"host clean" print them), a report read back from the quarantine
/*	(per signature, per user), the HTML report's path, the commands
/*	to inspect and restore, and how to run mailcure on a real server.
/*
/*	--keep keeps the sample directory (--dir implies it).
/*	--create-only creates the sample server and stops: a corpus
/*	generator for tests and benchmarks (--users, --messages, --seed).
/*
/*	Exit status: 0 when the demo ran as expected, 2 otherwise.
/* SECURITY
/*	Everything is created under a fresh directory that mailcure made
/*	itself, or under DIR, which must not exist or be empty. As root,
/*	the files of each sample user belong to a distinct unprivileged
/*	uid (2001, 2002, ...), as they would on a server.
/*--*/

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "commands.h"

#define DEMO_TESTFILES "/usr/share/clamav-testfiles"
#define DEMO_HOST "mail.example.com"
#define DEMO_DOMAIN "example.com"
#define DEMO_MAX_USERS 64
/* Sample mail is dated in the weeks before this (2 March 2026). */
#define DEMO_BASE_TIME ((time_t)1772445600)

/* --- deterministic pseudo-random numbers (splitmix64) --- */

struct rng {
	uint64_t state;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned rng_below(struct rng *r, unsigned n)
{
	return n == 0 ? 0 : (unsigned)(rng_next(r) % n);
}

#define PICK(r, arr) ((arr)[rng_below((r), sizeof(arr) / sizeof((arr)[0]))])

/* --- a growing buffer --- */

struct buf {
	char *data;
	size_t len, cap;
};

static void buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = realloc(b->data, cap);
		if (b->data == NULL)
			abort();
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	buf_add(b, s, (size_t)n);
	free(s);
}

/* Base64 in lines of 76 characters, as mail user agents write it. */
static void buf_base64(struct buf *b, const unsigned char *p, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char line[80];
	size_t col = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (unsigned)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		line[col++] = tab[(v >> 18) & 63];
		line[col++] = tab[(v >> 12) & 63];
		line[col++] = left > 1 ? tab[(v >> 6) & 63] : '=';
		line[col++] = left > 2 ? tab[v & 63] : '=';
		if (col == 76) {
			line[col++] = '\n';
			buf_add(b, line, col);
			col = 0;
		}
	}
	if (col > 0) {
		line[col++] = '\n';
		buf_add(b, line, col);
	}
}

/* --- sample content --- */

static const char *const user_names[] = {
	"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
	"ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil",
};

static const char *const user_full[] = {
	"Alice Martin", "Bob Schulz", "Carol Nguyen", "Dave O'Brien",
	"Erin Rossi", "Frank Weber", "Grace Kim", "Heidi Jansen",
	"Ivan Petrov", "Judy Moreau", "Mallory Quinn", "Niaj Patel",
	"Olivia Svensson", "Peggy Dubois", "Rupert Hale", "Sybil Costa",
};

static const char *const outside[] = {
	"Maria Lopez <maria.lopez@partner.example>",
	"\"Newsletter\" <news@shop.example>",
	"Tom Becker <t.becker@supplier.example>",
	"IT Helpdesk <helpdesk@example.com>",
	"Lena Fischer <lena@consulting.example>",
	"Priya Raman <priya.raman@university.example>",
	"Ops Alerts <alerts@monitoring.example>",
	"Jonas Berg <jonas.berg@customer.example>",
	"Sophie Laurent <sophie@agency.example>",
	"Accounts <accounts@supplier.example>",
};

static const char *const subjects[] = {
	"Quarterly report", "Meeting on Thursday", "Re: Budget 2026",
	"Fwd: Photos from the offsite", "Updated contract draft",
	"Server maintenance tonight", "Re: Re: Project timeline",
	"Invitation: team lunch", "Your order has shipped",
	"Minutes of the board meeting", "Question about the invoice",
	"Holiday schedule", "Re: Slides for Monday", "New office floor plan",
	"Password expiry notice", "Re: Customer feedback",
	"Draft press release", "Travel arrangements", "Weekly status",
	"Re: Can you review this?", "Training session next week",
	"Welcome aboard", "Re: Lunch?", "Backup report", "Price list 2026",
};

static const char *const sentences[] = {
	"Thanks for sending this over so quickly.",
	"Please find the details below.",
	"I have attached the latest version for your review.",
	"Could you have a look before Friday?",
	"We discussed this at the last meeting and agreed to move forward.",
	"Let me know if anything is unclear.",
	"The numbers for the third quarter look better than expected.",
	"I will be out of the office until Monday.",
	"Can we move our call to 3 pm?",
	"The supplier confirmed the delivery date.",
	"Please make sure the figures match the ones in the spreadsheet.",
	"I added a few comments in the margin.",
	"We still need approval from finance.",
	"The maintenance window starts at 22:00 and should last an hour.",
	"Happy to help if you need anything else.",
	"Looking forward to seeing everyone there.",
	"The room is booked for the whole afternoon.",
	"I think we should keep the original plan.",
	"Here is the summary you asked for.",
	"Attached are the photos from last week.",
};

static const char *const infected_subjects[] = {
	"Scanned document", "Your parcel could not be delivered",
	"Payment confirmation", "Re: the file you asked for",
	"Voice message received", "Updated price list", "Shipping documents",
};

/* Local mail to a user's /var/mail box; USER is replaced. */
static const char *const system_subjects[] = {
	"Cron <USER@" DEMO_HOST "> /usr/local/bin/backup-home",
	"Cron <USER@" DEMO_HOST "> fetchmail -s",
	"Disk quota warning for USER",
	"Undelivered Mail Returned to Sender",
};

static const char *const greetings[] = { "Hi", "Hello", "Dear", "Hey" };
static const char *const closings[] = { "Best regards", "Thanks", "Cheers", "Kind regards" };

/* The EICAR test string, kept as hex so that this source file is not
   itself detected by virus scanners. */
static const char eicar_hex[] =
	"58354f2150254041505b345c505a58353428505e2937434329377d24"
	"45494341522d5354414e444152442d414e544956495255532d544553"
	"542d46494c452124482b482a";

/* --- the sample server being built --- */

struct demo_user {
	const char *name;
	const char *full;
	bool maildir;		/* else only var/mail/USER */
	uid_t uid;
	unsigned messages;
	unsigned infected;
	unsigned mbox_messages;	/* of which in var/mail/USER */
	unsigned mbox_infected;
};

struct testfile {
	char *name;
	unsigned char *data;
	size_t size;
};

struct demo {
	const char *root;
	struct rng rng;
	bool chown_users;
	struct demo_user users[DEMO_MAX_USERS];
	unsigned user_count;
	struct testfile *testfiles;
	size_t testfile_count;
	const struct testfile *outbreak_file;
	unsigned char eicar[68];
	size_t eicar_len;
	unsigned seq;
	/* What was created. */
	unsigned total, infected_testfile, infected_eicar, outbreak;
	uint64_t bytes;
	unsigned maildir_folders, mbox_files;
	char *error;
};

static int demo_error(struct demo *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int demo_error(struct demo *d, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	free(d->error);
	va_start(ap, fmt);
	if (vasprintf(&d->error, fmt, ap) < 0)
		d->error = NULL;
	va_end(ap);
	errno = saved;
	return -1;
}

static int read_file(const char *path, unsigned char **data_r, size_t *size_r)
{
	struct buf b = { 0 };
	char chunk[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(&b, chunk, (size_t)n);
	close(fd);
	if (n < 0) {
		free(b.data);
		return -1;
	}
	if (b.data == NULL)
		buf_add(&b, "", 0);
	*data_r = (unsigned char *)b.data;
	*size_r = b.len;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct testfile *)a)->name,
		      ((const struct testfile *)b)->name);
}

/* Load the ClamAV test files, sorted by name so that a seed always
   picks the same ones. */
static int load_testfiles(struct demo *d)
{
	DIR *dir = opendir(DEMO_TESTFILES);
	struct dirent *de;
	size_t cap = 0;

	if (dir == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		char path[4096];
		struct stat st;
		struct testfile tf;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", DEMO_TESTFILES, de->d_name);
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_size > (16 << 20))
			continue;
		if (read_file(path, &tf.data, &tf.size) < 0)
			continue;
		tf.name = strdup(de->d_name);
		if (d->testfile_count == cap) {
			cap = cap ? cap * 2 : 64;
			d->testfiles = realloc(d->testfiles, cap * sizeof(*d->testfiles));
			if (d->testfiles == NULL)
				abort();
		}
		d->testfiles[d->testfile_count++] = tf;
	}
	closedir(dir);
	if (d->testfile_count == 0) {
		errno = ENOENT;
		return -1;
	}
	qsort(d->testfiles, d->testfile_count, sizeof(*d->testfiles), name_cmp);
	for (size_t i = 0; i < d->testfile_count; i++) {
		if (strcmp(d->testfiles[i].name, "clam.zip") == 0)
			d->outbreak_file = &d->testfiles[i];
	}
	if (d->outbreak_file == NULL)
		d->outbreak_file = &d->testfiles[0];
	return 0;
}

static void free_testfiles(struct demo *d)
{
	for (size_t i = 0; i < d->testfile_count; i++) {
		free(d->testfiles[i].name);
		free(d->testfiles[i].data);
	}
	free(d->testfiles);
	d->testfiles = NULL;
	d->testfile_count = 0;
}

static void rfc2822_date(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

/* "Name <addr>" -> "addr" (into BUF). */
static const char *addr_of(const char *mailbox, char *buf, size_t size)
{
	const char *lt = strrchr(mailbox, '<');
	const char *gt = lt != NULL ? strchr(lt, '>') : NULL;

	if (lt == NULL || gt == NULL) {
		snprintf(buf, size, "%s", mailbox);
		return buf;
	}
	snprintf(buf, size, "%.*s", (int)(gt - lt - 1), lt + 1);
	return buf;
}

/* What one message carries. */
struct attachment {
	const char *name;
	const char *type;
	const unsigned char *data;
	size_t size;
};

struct message {
	const char *from;	/* "Name <addr>" */
	char to[256];		/* "Name <addr>" */
	const char *recipient;	/* envelope recipient, for Received */
	char subject[256];
	time_t date;
	char message_id[160];
	struct buf body;
	struct attachment att;
	bool has_att;
	bool local;		/* submitted on the server itself */
};

/* Write a whole message in RFC 5322 form into OUT. */
static void message_render(struct demo *d, const struct message *m,
			   struct buf *out)
{
	char date[64], from_addr[256];
	unsigned qid = rng_next(&d->rng) & 0xffffffff;

	rfc2822_date(m->date, date, sizeof(date));
	addr_of(m->from, from_addr, sizeof(from_addr));
	buf_printf(out, "Return-Path: <%s>\n", from_addr);
	buf_printf(out, "Delivered-To: %s\n", m->recipient);
	if (m->local)
		buf_printf(out, "Received: by " DEMO_HOST " (Postfix, from userid 0)\n"
			   "\tid %08X; %s\n", qid, date);
	else
		buf_printf(out, "Received: from mx.%s (mx.%s [192.0.2.%u])\n"
			   "\tby " DEMO_HOST " (Postfix) with ESMTPS id %08X\n"
			   "\tfor <%s>; %s\n",
			   strchr(from_addr, '@') ? strchr(from_addr, '@') + 1 : "example.net",
			   strchr(from_addr, '@') ? strchr(from_addr, '@') + 1 : "example.net",
			   1 + rng_below(&d->rng, 250), qid, m->recipient, date);
	buf_printf(out, "From: %s\n", m->from);
	buf_printf(out, "To: %s\n", m->to);
	buf_printf(out, "Subject: %s\n", m->subject);
	buf_printf(out, "Date: %s\n", date);
	buf_printf(out, "Message-ID: %s\n", m->message_id);
	buf_str(out, "MIME-Version: 1.0\n");
	if (!m->has_att) {
		buf_str(out, "Content-Type: text/plain; charset=utf-8\n"
			"Content-Transfer-Encoding: 8bit\n\n");
		buf_add(out, m->body.data, m->body.len);
		return;
	}
	char boundary[64];
	snprintf(boundary, sizeof(boundary), "----=_Part_%u_%08x", d->seq,
		 (unsigned)(rng_next(&d->rng) & 0xffffffff));
	buf_printf(out, "Content-Type: multipart/mixed; boundary=\"%s\"\n\n", boundary);
	buf_str(out, "This is a multi-part message in MIME format.\n\n");
	buf_printf(out, "--%s\nContent-Type: text/plain; charset=utf-8\n"
		   "Content-Transfer-Encoding: 8bit\n\n", boundary);
	buf_add(out, m->body.data, m->body.len);
	buf_printf(out, "\n--%s\nContent-Type: %s; name=\"%s\"\n"
		   "Content-Transfer-Encoding: base64\n"
		   "Content-Disposition: attachment; filename=\"%s\"\n\n",
		   boundary, m->att.type, m->att.name, m->att.name);
	buf_base64(out, m->att.data, m->att.size);
	buf_printf(out, "--%s--\n", boundary);
}

/* Append WORD to BODY, wrapping lines at 72 columns. */
static void wrap_word(struct buf *body, size_t *col, const char *word, size_t len)
{
	if (*col > 0 && *col + 1 + len > 72) {
		buf_str(body, "\n");
		*col = 0;
	} else if (*col > 0) {
		buf_str(body, " ");
		(*col)++;
	}
	buf_add(body, word, len);
	*col += len;
}

static void body_text(struct demo *d, struct buf *body, const char *to_first)
{
	unsigned n = 2 + rng_below(&d->rng, 6);
	size_t col = 0;

	buf_printf(body, "%s %s,\n\n", PICK(&d->rng, greetings), to_first);
	for (unsigned i = 0; i < n; i++) {
		const char *s = PICK(&d->rng, sentences);

		while (*s != '\0') {
			size_t len = strcspn(s, " ");
			wrap_word(body, &col, s, len);
			s += len;
			s += strspn(s, " ");
		}
		/* A new paragraph now and then. */
		if (i + 1 < n && rng_below(&d->rng, 4) == 0) {
			buf_str(body, "\n\n");
			col = 0;
		}
	}
	buf_printf(body, "\n\n%s,\n", PICK(&d->rng, closings));
}

/* --- writing the stores --- */

static int demo_mkdir(struct demo *d, const char *path, const struct demo_user *u)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return demo_error(d, "mkdir %s: %s", path, strerror(errno));
	if (u != NULL && d->chown_users && chown(path, u->uid, u->uid) < 0)
		return demo_error(d, "chown %s: %s", path, strerror(errno));
	return 0;
}

static int write_new_file(struct demo *d, const char *path, const struct buf *b,
			  const struct demo_user *u, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	size_t off = 0;

	if (fd < 0)
		return demo_error(d, "create %s: %s", path, strerror(errno));
	while (off < b->len) {
		ssize_t n = write(fd, b->data + off, b->len - off);
		if (n < 0) {
			close(fd);
			return demo_error(d, "write %s: %s", path, strerror(errno));
		}
		off += (size_t)n;
	}
	if (u != NULL && d->chown_users && fchown(fd, u->uid, u->uid) < 0) {
		close(fd);
		return demo_error(d, "chown %s: %s", path, strerror(errno));
	}
	if (close(fd) < 0)
		return demo_error(d, "close %s: %s", path, strerror(errno));
	return 0;
}

/* Deliver into Maildir folder DIR ("" = INBOX, ".Sent", ...), as an
   MDA would: unique name in tmp/, then into new/ or cur/ with flags. */
static int maildir_deliver(struct demo *d, struct demo_user *u, const char *folder,
			   const struct buf *msg, time_t when, bool seen)
{
	char dir[4096], tmp[4600], dst[4600], name[256];
	static const char *const flag_sets[] = { "S", "S", "S", "RS", "FS", "S", "RS" };

	snprintf(dir, sizeof(dir), "%s/home/%s/Maildir%s%s", d->root, u->name,
		 folder[0] ? "/" : "", folder);
	snprintf(name, sizeof(name), "%lld.M%uP%u." DEMO_HOST ",S=%zu",
		 (long long)when, d->seq, 4000 + d->seq % 30000, msg->len);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, name);
	if (seen)
		snprintf(dst, sizeof(dst), "%s/cur/%s:2,%s", dir, name,
			 PICK(&d->rng, flag_sets));
	else
		snprintf(dst, sizeof(dst), "%s/new/%s", dir, name);
	if (write_new_file(d, tmp, msg, u, 0600) < 0)
		return -1;
	if (rename(tmp, dst) < 0)
		return demo_error(d, "rename %s: %s", dst, strerror(errno));
	return 0;
}

/* Append to var/mail/USER in mboxrd form: From_ line, body lines
   that start with ">*From " quoted with one more '>', blank line. */
static int mbox_deliver(struct demo *d, struct demo_user *u, const char *sender,
			const struct buf *msg, time_t when)
{
	char path[4096], stamp[64];
	struct buf out = { 0 };
	struct tm tm;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/var/mail/%s", d->root, u->name);
	gmtime_r(&when, &tm);
	strftime(stamp, sizeof(stamp), "%a %b %e %H:%M:%S %Y", &tm);
	buf_printf(&out, "From %s %s\n", sender, stamp);
	for (size_t i = 0; i < msg->len;) {
		const char *line = msg->data + i;
		const char *nl = memchr(line, '\n', msg->len - i);
		size_t len = nl != NULL ? (size_t)(nl - line) + 1 : msg->len - i;
		size_t q = 0;

		while (q < len && line[q] == '>')
			q++;
		if (len - q >= 5 && memcmp(line + q, "From ", 5) == 0)
			buf_str(&out, ">");
		buf_add(&out, line, len);
		i += len;
	}
	if (out.len > 0 && out.data[out.len - 1] != '\n')
		buf_str(&out, "\n");
	buf_str(&out, "\n");

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = demo_error(d, "open %s: %s", path, strerror(errno));
	} else {
		if (write(fd, out.data, out.len) != (ssize_t)out.len)
			ret = demo_error(d, "write %s: %s", path, strerror(errno));
		if (ret == 0 && d->chown_users && fchown(fd, u->uid, 8) < 0)
			ret = demo_error(d, "chown %s: %s", path, strerror(errno));
		close(fd);
	}
	free(out.data);
	return ret;
}

static int make_user_dirs(struct demo *d, struct demo_user *u)
{
	static const char *const folders[] = { "", "/.Sent", "/.Archive" };
	static const char *const subs[] = { "cur", "new", "tmp" };
	char path[4096];

	snprintf(path, sizeof(path), "%s/home/%s", d->root, u->name);
	if (demo_mkdir(d, path, u) < 0)
		return -1;
	if (!u->maildir)
		return 0;
	for (size_t f = 0; f < 3; f++) {
		snprintf(path, sizeof(path), "%s/home/%s/Maildir%s", d->root, u->name, folders[f]);
		if (demo_mkdir(d, path, u) < 0)
			return -1;
		for (size_t s = 0; s < 3; s++) {
			snprintf(path, sizeof(path), "%s/home/%s/Maildir%s/%s",
				 d->root, u->name, folders[f], subs[s]);
			if (demo_mkdir(d, path, u) < 0)
				return -1;
		}
		d->maildir_folders++;
	}
	return 0;
}

/* Random bytes behind a real file header, so that the attachment
   looks like what its name says. */
static void fake_file(struct demo *d, struct buf *b, const char **name_r,
		      const char **type_r)
{
	static const char *const pdfs[] = { "report.pdf", "invoice-0417.pdf", "minutes.pdf", "slides.pdf" };
	static const char *const jpgs[] = { "photo.jpg", "IMG_2041.jpg", "floorplan.jpg" };
	size_t n = 2000 + rng_below(&d->rng, 30000);

	if (rng_below(&d->rng, 2) == 0) {
		*name_r = PICK(&d->rng, pdfs);
		*type_r = "application/pdf";
		buf_str(b, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
	} else {
		*name_r = PICK(&d->rng, jpgs);
		*type_r = "image/jpeg";
		buf_add(b, "\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", 20);
	}
	for (size_t i = 0; i < n; i += 8) {
		uint64_t r = rng_next(&d->rng);
		buf_add(b, &r, n - i < 8 ? n - i : 8);
	}
}

enum payload { PAYLOAD_NONE, PAYLOAD_FAKE, PAYLOAD_TESTFILE, PAYLOAD_EICAR };

/* One ordinary message for user U, into folder FOLDER (0 INBOX,
   1 Sent, 2 Archive), or into var/mail/U when MBOX. */
static int make_message(struct demo *d, struct demo_user *u, unsigned folder,
			bool mbox, enum payload payload)
{
	struct message m;
	struct buf fake = { 0 }, raw = { 0 };
	char self[256], sender_addr[256];
	bool system_mail = mbox && u->maildir;
	bool infected = payload == PAYLOAD_TESTFILE || payload == PAYLOAD_EICAR;
	int ret;

	memset(&m, 0, sizeof(m));
	d->seq++;
	snprintf(self, sizeof(self), "%s <%s@" DEMO_DOMAIN ">", u->full, u->name);
	m.date = DEMO_BASE_TIME - (time_t)(rng_below(&d->rng, 60 * 24 * 3600));
	if (folder == 2)
		m.date -= 365 * 24 * 3600;
	if (system_mail) {
		m.from = strdup("Cron Daemon <root@" DEMO_HOST ">");
		snprintf(m.to, sizeof(m.to), "%s@" DEMO_DOMAIN, u->name);
		snprintf(sender_addr, sizeof(sender_addr), "%s@" DEMO_DOMAIN, u->name);
		m.recipient = sender_addr;
	} else if (folder == 1) {
		/* Sent: from the user, to someone else. */
		m.from = strdup(self);
		snprintf(m.to, sizeof(m.to), "%s", PICK(&d->rng, outside));
		m.recipient = addr_of(m.to, sender_addr, sizeof(sender_addr));
	} else {
		unsigned other = rng_below(&d->rng, d->user_count);
		if (rng_below(&d->rng, 3) == 0 && d->users[other].name != u->name) {
			char *s;
			if (asprintf(&s, "%s <%s@" DEMO_DOMAIN ">", d->users[other].full,
				     d->users[other].name) < 0)
				abort();
			m.from = s;
		} else {
			m.from = strdup(PICK(&d->rng, outside));
		}
		snprintf(m.to, sizeof(m.to), "%s", self);
		snprintf(sender_addr, sizeof(sender_addr), "%s@" DEMO_DOMAIN, u->name);
		m.recipient = sender_addr;
	}
	if (system_mail) {
		const char *t = PICK(&d->rng, system_subjects);
		const char *at = strstr(t, "USER");
		if (at != NULL)
			snprintf(m.subject, sizeof(m.subject), "%.*s%s%s",
				 (int)(at - t), t, u->name, at + 4);
		else
			snprintf(m.subject, sizeof(m.subject), "%s", t);
	} else if (payload == PAYLOAD_TESTFILE) {
		snprintf(m.subject, sizeof(m.subject), "%s", PICK(&d->rng, infected_subjects));
	} else {
		snprintf(m.subject, sizeof(m.subject), "%s", PICK(&d->rng, subjects));
	}
	snprintf(m.message_id, sizeof(m.message_id), "<%lld.%u.%u@%s>",
		 (long long)m.date, d->seq, (unsigned)(rng_next(&d->rng) & 0xffff),
		 folder == 1 ? DEMO_HOST : "mx.example.net");

	if (system_mail) {
		m.local = true;
		buf_printf(&m.body, "%u files checked, %u changed, %u kB written.\n"
			   "Finished in %u seconds.\n", 1000 + rng_below(&d->rng, 9000),
			   rng_below(&d->rng, 200), rng_below(&d->rng, 50000),
			   1 + rng_below(&d->rng, 600));
	} else {
		char first[64];
		snprintf(first, sizeof(first), "%s", folder == 1 ? "all" : u->full);
		first[strcspn(first, " ")] = '\0';
		body_text(d, &m.body, first);
	}

	switch (payload) {
	case PAYLOAD_NONE:
		break;
	case PAYLOAD_FAKE:
		fake_file(d, &fake, &m.att.name, &m.att.type);
		m.att.data = (const unsigned char *)fake.data;
		m.att.size = fake.len;
		m.has_att = true;
		break;
	case PAYLOAD_TESTFILE: {
		const struct testfile *tf = &d->testfiles[rng_below(&d->rng, (unsigned)d->testfile_count)];
		m.att.name = tf->name;
		m.att.type = "application/octet-stream";
		m.att.data = tf->data;
		m.att.size = tf->size;
		m.has_att = true;
		d->infected_testfile++;
		break;
	}
	case PAYLOAD_EICAR:
		m.att.name = "eicar.com";
		m.att.type = "application/octet-stream";
		m.att.data = d->eicar;
		m.att.size = d->eicar_len;
		m.has_att = true;
		snprintf(m.subject, sizeof(m.subject), "%s", "Antivirus test file");
		d->infected_eicar++;
		break;
	}
	message_render(d, &m, &raw);
	if (mbox) {
		char from_addr[256];
		ret = mbox_deliver(d, u, addr_of(m.from, from_addr, sizeof(from_addr)), &raw, m.date);
		u->mbox_messages++;
	} else {
		static const char *const names[] = { "", ".Sent", ".Archive" };
		/* Most mail has been read; a tenth of the INBOX is new. */
		bool seen = folder != 0 || rng_below(&d->rng, 10) != 0;
		ret = maildir_deliver(d, u, names[folder], &raw, m.date, seen);
	}
	if (ret == 0) {
		u->messages++;
		u->infected += infected;
		u->mbox_infected += infected && mbox;
		d->total++;
		d->bytes += raw.len;
	}
	free((char *)m.from);
	free(m.body.data);
	free(fake.data);
	free(raw.data);
	return ret;
}

/* The outbreak: one message, sent to every user, each copy with its
   own envelope recipient, To, Received and Message-ID. */
static int make_outbreak(struct demo *d, struct demo_user *u, unsigned index)
{
	struct message m;
	struct buf raw = { 0 };
	char rcpt[256];
	int ret;

	memset(&m, 0, sizeof(m));
	d->seq++;
	m.from = "\"Accounts Receivable\" <billing@invoice-notice.example>";
	snprintf(m.to, sizeof(m.to), "%s <%s@" DEMO_DOMAIN ">", u->full, u->name);
	snprintf(rcpt, sizeof(rcpt), "%s@" DEMO_DOMAIN, u->name);
	m.recipient = rcpt;
	snprintf(m.subject, sizeof(m.subject), "Invoice overdue");
	m.date = DEMO_BASE_TIME + 300 + index * 7;
	snprintf(m.message_id, sizeof(m.message_id),
		 "<20260302T101500.%u.%s@invoice-notice.example>", index, u->name);
	buf_printf(&m.body, "Dear %s,\n\nour records show that invoice 2026-0342 is overdue.\n"
		   "Please open the attached invoice and pay within 24 hours to\n"
		   "avoid a late fee.\n\nAccounts Receivable\n", u->full);
	m.att.name = "Invoice_2026-0342.zip";
	m.att.type = "application/zip";
	m.att.data = d->outbreak_file->data;
	m.att.size = d->outbreak_file->size;
	m.has_att = true;
	message_render(d, &m, &raw);
	if (u->maildir)
		ret = maildir_deliver(d, u, "", &raw, m.date, false);
	else {
		ret = mbox_deliver(d, u, "billing@invoice-notice.example", &raw, m.date);
		u->mbox_messages++;
		u->mbox_infected++;
	}
	if (ret == 0) {
		u->messages++;
		u->infected++;
		d->total++;
		d->outbreak++;
		d->bytes += raw.len;
	}
	free(m.body.data);
	free(raw.data);
	return ret;
}

/* Build the whole sample server under d->root. */
static int demo_create(struct demo *d, unsigned users, unsigned messages)
{
	char path[4096];

	d->chown_users = geteuid() == 0;
	d->user_count = users;
	for (unsigned i = 0; i < users; i++) {
		struct demo_user *u = &d->users[i];
		u->name = user_names[i % 16];
		u->full = user_full[i % 16];
		if (i >= 16) {
			char *n, *f;
			if (asprintf(&n, "%s%u", user_names[i % 16], i / 16) < 0 ||
			    asprintf(&f, "%s %u", user_full[i % 16], i / 16) < 0)
				abort();
			u->name = n;
			u->full = f;
		}
		/* Every fourth user reads mail from /var/mail only. */
		u->maildir = i % 4 != 3;
		u->uid = 2001 + i;
	}
	snprintf(path, sizeof(path), "%s/home", d->root);
	if (demo_mkdir(d, path, NULL) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/var", d->root);
	if (demo_mkdir(d, path, NULL) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/var/mail", d->root);
	if (demo_mkdir(d, path, NULL) < 0)
		return -1;
	/* Like Debian's /var/mail: group mail may create lock files. */
	if (chmod(path, 02775) < 0)
		return demo_error(d, "chmod %s: %s", path, strerror(errno));
	for (unsigned i = 0; i < users; i++) {
		if (make_user_dirs(d, &d->users[i]) < 0)
			return -1;
	}

	/* Ordinary mail, spread over the users. Most are clean, some have
	   harmless attachments; about one in twenty carries a test file
	   and one in fifty the EICAR string. */
	for (unsigned n = 0; n < messages; n++) {
		struct demo_user *u = &d->users[rng_below(&d->rng, users)];
		unsigned r = rng_below(&d->rng, 100);
		enum payload p = r < 5 ? PAYLOAD_TESTFILE : r < 7 ? PAYLOAD_EICAR :
			r < 22 ? PAYLOAD_FAKE : PAYLOAD_NONE;
		unsigned folder = 0;
		bool mbox = !u->maildir;

		if (u->maildir) {
			unsigned f = rng_below(&d->rng, 100);
			folder = f < 60 ? 0 : f < 85 ? 1 : 2;
			/* Local system mail (cron, quota) lands in
			   /var/mail; it carries no attachments. */
			if (f >= 95) {
				folder = 0;
				mbox = true;
				p = PAYLOAD_NONE;
			}
		}
		if (make_message(d, u, folder, mbox, p) < 0)
			return -1;
	}
	for (unsigned i = 0; i < users; i++) {
		if (make_outbreak(d, &d->users[i], i) < 0)
			return -1;
	}
	for (unsigned i = 0; i < users; i++) {
		struct stat st;
		snprintf(path, sizeof(path), "%s/var/mail/%s", d->root, d->users[i].name);
		if (stat(path, &st) == 0) {
			d->mbox_files++;
			chmod(path, 0660);
		}
	}
	return 0;
}

/* --- report --- */

struct count {
	char *key;
	const char *kind;
	unsigned n;
};

static void count_add(struct count **arr, size_t *count, const char *key,
		      const char *kind)
{
	for (size_t i = 0; i < *count; i++) {
		if (strcmp((*arr)[i].key, key) == 0) {
			(*arr)[i].n++;
			return;
		}
	}
	*arr = realloc(*arr, (*count + 1) * sizeof(**arr));
	if (*arr == NULL)
		abort();
	(*arr)[*count].key = strdup(key);
	(*arr)[*count].kind = kind;
	(*arr)[*count].n = 1;
	(*count)++;
}

static int count_cmp(const void *a, const void *b)
{
	const struct count *x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->key, y->key);
}

static void counts_free(struct count *arr, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(arr[i].key);
	free(arr);
}

/* Read back what run(s) since START put in the quarantine. Returns the
   number of entries, with *run_r set to the run id. */
static unsigned report(const char *qdir, time_t start, char **run_r,
		       unsigned *host_files_r)
{
	struct count *sigs = NULL, *users = NULL, *subjects_seen = NULL;
	size_t nsigs = 0, nusers = 0, nsubjects = 0;
	unsigned entries = 0;
	uint64_t bytes = 0;
	char *error = NULL;
	struct mc_quarantine *q = mc_quarantine_open(qdir, false, &error);

	*run_r = NULL;
	*host_files_r = 0;
	if (q == NULL) {
		mc_output_printf("  (could not read the quarantine: %s)\n", error);
		free(error);
		return 0;
	}
	struct mc_quarantine_iter *it = mc_quarantine_iter_init(q);
	struct mc_qentry *e;
	while ((e = mc_quarantine_iter_next(it)) != NULL) {
		if (e->quarantined_at >= start && e->loc.kind != NULL &&
		    strcmp(e->loc.kind, "host") == 0) {
			(*host_files_r)++;
		} else if (e->quarantined_at >= start) {
			entries++;
			bytes += e->size;
			if (e->run_id != NULL && *run_r == NULL)
				*run_r = strdup(e->run_id);
			for (size_t i = 0; i < e->reason_count; i++) {
				if (e->reasons[i].kind == MC_REASON_VIRUS && e->reasons[i].value != NULL)
					count_add(&sigs, &nsigs, e->reasons[i].value, NULL);
			}
			count_add(&subjects_seen, &nsubjects,
				  e->subject != NULL ? e->subject : "(no subject)", NULL);
			count_add(&users, &nusers, e->loc.user != NULL ? e->loc.user : "?",
				  e->loc.kind != NULL && strcmp(e->loc.kind, "mbox") == 0 ?
				  "mbox" : "Maildir");
		}
		mc_qentry_free(&e);
	}
	mc_quarantine_iter_deinit(&it);
	mc_quarantine_close(&q);

	qsort(sigs, nsigs, sizeof(*sigs), count_cmp);
	qsort(users, nusers, sizeof(*users), count_cmp);
	qsort(subjects_seen, nsubjects, sizeof(*subjects_seen), count_cmp);
	mc_output_printf("  %u messages quarantined (%.1f MB)%s%s\n", entries,
			 (double)bytes / 1e6, *run_r != NULL ? " by run " : "",
			 *run_r != NULL ? *run_r : "");
	if (nsigs > 0)
		mc_output_printf("\n  by signature:\n");
	for (size_t i = 0; i < nsigs; i++)
		mc_output_printf("    %5u  %s\n", sigs[i].n, sigs[i].key);
	/* An outbreak shows as one subject many times over. */
	if (nsubjects > 0)
		mc_output_printf("\n  most frequent subjects:\n");
	for (size_t i = 0; i < nsubjects && i < 3; i++)
		mc_output_printf("    %5u  %s\n", subjects_seen[i].n, subjects_seen[i].key);
	if (nusers > 0)
		mc_output_printf("\n  by user:\n");
	for (size_t i = 0; i < nusers; i++)
		mc_output_printf("    %5u  %-10s (%s)\n", users[i].n, users[i].key, users[i].kind);
	if (*host_files_r > 0)
		mc_output_printf("\n  %u infected file%s of the server quarantined by the host scan\n",
				 *host_files_r, *host_files_r == 1 ? "" : "s");
	counts_free(sigs, nsigs);
	counts_free(users, nusers);
	counts_free(subjects_seen, nsubjects);
	return entries;
}

/* --- running the real clean --- */

static const char *bundled_signatures(void)
{
	static const char *const candidates[] = {
		MC_SOURCE_DIR "/tests/sigs", MC_DATADIR "/sigs",
	};
	struct stat st;

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		char probe[4096];
		snprintf(probe, sizeof(probe), "%s/mailcure-test.hdb", candidates[i]);
		if (stat(probe, &st) == 0)
			return candidates[i];
	}
	return NULL;
}

/* The newest run in STATE_DIR/runs (run ids sort by time), or NULL. */
static char *newest_run(const char *state_dir)
{
	char path[4200];
	struct dirent **names;
	char *run = NULL;
	int n;

	snprintf(path, sizeof(path), "%s/runs", state_dir);
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0)
		return NULL;
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			free(run);
			run = strdup(names[i]->d_name);
		}
		free(names[i]);
	}
	free(names);
	return run;
}

/* Print the events a step of run RUN wrote (STATE/runs/RUN/STEP.jsonl)
   the way "mailcure mailbox clean" prints them: one line per match,
   "LOCATION: REASONS [ACTION ID]", and the messages it could not scan. */
static void show_step_events(const char *state_dir, const char *run,
			     const char *step)
{
	char path[4400];
	char *line = NULL;
	size_t cap = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/runs/%s/%s.jsonl", state_dir, run, step);
	if ((fp = fopen(path, "re")) == NULL)
		return;
	while (getline(&line, &cap, fp) > 0) {
		json_object *ev = json_tokener_parse(line), *v;
		const char *type, *where;

		if (ev == NULL)
			continue;
		type = json_object_object_get_ex(ev, "event", &v) ? json_object_get_string(v) : "";
		where = json_object_object_get_ex(ev, "path", &v) ? json_object_get_string(v) : "?";
		if (strcmp(type, "match") == 0) {
			json_object *reasons, *act, *qid;
			mc_output_printf("%s", where);
			if (json_object_object_get_ex(ev, "offset", &v))
				mc_output_printf("@%lld", (long long)json_object_get_int64(v));
			mc_output_printf(":");
			if (json_object_object_get_ex(ev, "reasons", &reasons)) {
				for (size_t i = 0; i < json_object_array_length(reasons); i++) {
					json_object *r = json_object_array_get_idx(reasons, i), *k, *val;
					json_object_object_get_ex(r, "kind", &k);
					if (!json_object_object_get_ex(r, "name", &val))
						json_object_object_get_ex(r, "value", &val);
					mc_output_printf("%s %s %s", i > 0 ? "," : "", json_object_get_string(k),
							 val != NULL ? json_object_get_string(val) : "");
				}
			}
			if (json_object_object_get_ex(ev, "action", &act))
				mc_output_printf(" [%s%s%s]", json_object_get_string(act),
						 json_object_object_get_ex(ev, "quarantine_id", &qid) ? " " : "",
						 json_object_object_get_ex(ev, "quarantine_id", &qid) ?
						 json_object_get_string(qid) : "");
			mc_output_printf("\n");
		} else if (strcmp(type, "unscanned") == 0 || strcmp(type, "error") == 0) {
			mc_output_printf("%s: %s (%s)\n", where, strcmp(type, "error") == 0 ? "ERROR" : "UNSCANNED",
					 json_object_object_get_ex(ev, "why", &v) ? json_object_get_string(v) : "?");
		}
		json_object_put(ev);
	}
	free(line);
	fclose(fp);
}

/* Run "respond" on the sample server exactly as the command line
   would, with the steps that need a real Postfix or firewall skipped. */
static int run_respond(struct mc_global *g, const char *const *stores,
		       size_t store_count, const char *host_path)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"respond";
	argv[argc++] = (char *)"--skip";
	argv[argc++] = (char *)"isolate";
	argv[argc++] = (char *)"--skip";
	argv[argc++] = (char *)"queue-freeze";
	argv[argc++] = (char *)"--skip";
	argv[argc++] = (char *)"queue-delete";
	argv[argc++] = (char *)"--skip";
	argv[argc++] = (char *)"queue-thaw";
	argv[argc++] = (char *)"--skip";
	argv[argc++] = (char *)"reconnect";
	argv[argc++] = (char *)"--clean-host";
	argv[argc++] = (char *)"--host-path";
	argv[argc++] = (char *)host_path;
	argv[argc++] = (char *)"--yes";
	for (size_t i = 0; i < store_count && argc < 30; i++) {
		argv[argc++] = (char *)"-s";
		argv[argc++] = (char *)stores[i];
	}
	argv[argc] = NULL;
	optind = 0;
	fflush(stdout);
	int rc = cmd_respond(argc, argv, g);
	fflush(stdout);
	return rc;
}

/* A web upload directory with one malware test file among clean
   files: what the host scan step finds. Returns 1 when the infected
   file was written. */
static int make_host_files(struct demo *d, const char *dir)
{
	static const char *const clean[][2] = {
		{ "index.html", "<html><body>Upload your documents here.</body></html>\n" },
		{ "terms.txt", "Uploads are kept for 30 days.\n" },
	};
	struct buf b = { 0 };
	const struct testfile *tf = NULL;
	char path[4400], sub[4300];

	snprintf(sub, sizeof(sub), "%s/srv", dir);
	if (demo_mkdir(d, sub, NULL) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s/srv/www", dir);
	if (demo_mkdir(d, sub, NULL) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s/srv/www/uploads", dir);
	if (demo_mkdir(d, sub, NULL) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(clean) / sizeof(clean[0]); i++) {
		b.len = 0;
		buf_str(&b, clean[i][1]);
		snprintf(path, sizeof(path), "%s/%s", sub, clean[i][0]);
		if (write_new_file(d, path, &b, NULL, 0644) < 0) {
			free(b.data);
			return -1;
		}
	}
	for (size_t i = 0; i < d->testfile_count; i++) {
		if (strcmp(d->testfiles[i].name, "clam.pdf") == 0)
			tf = &d->testfiles[i];
	}
	if (tf == NULL && d->testfile_count > 0)
		tf = &d->testfiles[0];
	if (tf == NULL) {
		free(b.data);
		return 0;
	}
	b.len = 0;
	buf_add(&b, tf->data, tf->size);
	snprintf(path, sizeof(path), "%s/invoice-0417.pdf", sub);
	int ret = write_new_file(d, path, &b, NULL, 0644) < 0 ? -1 : 1;
	free(b.data);
	return ret;
}

/* Run "mailbox VERB -s STORE..." exactly as the command line would. */
static int run_mailbox(struct mc_global *g, const char *verb, const char *const *stores,
		       size_t store_count)
{
	char *argv[16];
	int argc = 0;

	argv[argc++] = (char *)"mailbox";
	argv[argc++] = (char *)verb;
	for (size_t i = 0; i < store_count && argc < 14; i++) {
		argv[argc++] = (char *)"-s";
		argv[argc++] = (char *)stores[i];
	}
	argv[argc] = NULL;
	optind = 0;
	fflush(stdout);
	int rc = cmd_mailbox(argc, argv, g);
	fflush(stdout);
	return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

const char cmd_demo_usage[] =
	"usage: mailcure [GLOBAL OPTIONS] demo [--keep] [--dir DIR] [--create-only]\n"
	"                [--users N] [--messages N] [--seed N]\n\n"
	"Builds a sample infected mail server in a temporary directory and runs\n"
	"the outbreak runbook (respond) on it, with the bundled test signatures.\n"
	"The real system is not touched. Needs /usr/share/clamav-testfiles.\n\n"
	"options:\n"
	"      --keep         keep the sample directory\n"
	"      --dir DIR      build it in DIR (new or empty; implies --keep)\n"
	"      --create-only  only build it (a corpus for tests and benchmarks)\n"
	"      --users N      sample users (default 8)\n"
	"      --messages N   sample messages (default 300)\n"
	"      --seed N       the same seed builds the same server\n\n"
	"Exit status: 0 the demo ran as expected, 2 otherwise.\n";

static unsigned parse_count(const char *s, unsigned max, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v == 0 || v > max)
		mc_die_usage("%s: a number from 1 to %u: %s", what, max, s);
	return (unsigned)v;
}

int cmd_demo(int argc, char **argv, struct mc_global *g)
{
	static const struct option options[] = {
		{ "keep", no_argument, NULL, 'k' },
		{ "dir", required_argument, NULL, 'D' },
		{ "create-only", no_argument, NULL, 'C' },
		{ "users", required_argument, NULL, 'u' },
		{ "messages", required_argument, NULL, 'm' },
		{ "seed", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	bool keep = false, create_only = false;
	const char *dir = NULL;
	unsigned users = 8, messages = 300;
	uint64_t seed = 20260302;
	struct demo d;
	char root[4096];
	int c, exit_code = MC_EXIT_ERROR;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		switch (c) {
		case 'k': keep = true; break;
		case 'D': dir = optarg; break;
		case 'C': create_only = true; break;
		case 'u': users = parse_count(optarg, DEMO_MAX_USERS, "--users"); break;
		case 'm': messages = parse_count(optarg, 10000000, "--messages"); break;
		case 'S': {
			char *end;
			errno = 0;
			seed = strtoull(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0')
				mc_die_usage("--seed: not a number: %s", optarg);
			break;
		}
		default: mc_die_command_usage();
		}
	}
	if (optind < argc)
		mc_die_command_usage();

	memset(&d, 0, sizeof(d));
	d.rng.state = seed;
	if (load_testfiles(&d) < 0) {
		mc_warn("demo: the ClamAV test files are missing (%s): "
			"install the Debian package clamav-testfiles", DEMO_TESTFILES);
		return MC_EXIT_ERROR;
	}
	for (size_t i = 0; i + 1 < sizeof(eicar_hex); i += 2) {
		unsigned v;
		sscanf(eicar_hex + i, "%2x", &v);
		d.eicar[d.eicar_len++] = (unsigned char)v;
	}

	const char *sigs = NULL;
	if (!create_only && g->database_count == 0) {
		sigs = bundled_signatures();
		if (sigs == NULL) {
			mc_warn("demo: the bundled test signatures are missing (looked in "
				MC_SOURCE_DIR "/tests/sigs and " MC_DATADIR "/sigs); "
				"give signatures with -d");
			free_testfiles(&d);
			return MC_EXIT_ERROR;
		}
	}

	/* Where: a fresh temporary directory, or DIR (new or empty). */
	if (dir != NULL) {
		DIR *dh;
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			mc_warn("demo: mkdir %s: %s", dir, strerror(errno));
			free_testfiles(&d);
			return MC_EXIT_ERROR;
		}
		if ((dh = opendir(dir)) == NULL) {
			mc_warn("demo: %s: %s", dir, strerror(errno));
			free_testfiles(&d);
			return MC_EXIT_ERROR;
		}
		struct dirent *de;
		bool empty = true;
		while ((de = readdir(dh)) != NULL)
			empty &= strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
		closedir(dh);
		if (!empty) {
			mc_warn("demo: %s is not empty; give a new or empty directory", dir);
			free_testfiles(&d);
			return MC_EXIT_ERROR;
		}
		if (realpath(dir, root) == NULL)
			snprintf(root, sizeof(root), "%s", dir);
		keep = true;
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(root, sizeof(root), "%s/mailcure-demo.XXXXXX",
			 tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
		if (mkdtemp(root) == NULL) {
			mc_warn("demo: mkdtemp %s: %s", root, strerror(errno));
			free_testfiles(&d);
			return MC_EXIT_ERROR;
		}
	}
	d.root = root;

	if (demo_create(&d, users, messages) < 0) {
		mc_warn("demo: creating the sample server: %s", d.error ? d.error : "?");
		goto out;
	}

	char home[4200], varmail[4200], qdir[4200];
	snprintf(home, sizeof(home), "%s/home", root);
	snprintf(varmail, sizeof(varmail), "%s/var/mail", root);
	snprintf(qdir, sizeof(qdir), "%s/quarantine", root);
	unsigned infected = d.infected_testfile + d.infected_eicar + d.outbreak;

	printf("Created a sample mail server in %s\n\n", root);
	for (unsigned i = 0; i < d.user_count; i++) {
		const struct demo_user *u = &d.users[i];
		char where[96];
		if (u->maildir) {
			snprintf(where, sizeof(where), "home/%s/Maildir", u->name);
			printf("  %-22s %4u messages, %2u infected  (INBOX, Sent, Archive)\n",
			       where, u->messages - u->mbox_messages,
			       u->infected - u->mbox_infected);
		}
		if (u->mbox_messages > 0) {
			snprintf(where, sizeof(where), "var/mail/%s", u->name);
			printf("  %-22s %4u message%s %2u infected  (mbox%s)\n",
			       where, u->mbox_messages, u->mbox_messages == 1 ? ", " : "s,",
			       u->mbox_infected,
			       u->maildir ? ", local system mail" : "");
		}
	}
	printf("\n  %u messages (%.1f MB) in %u Maildir folders and %u mbox files;\n"
	       "  %u of them carry malware test files:\n"
	       "    %3u  the outbreak: \"Invoice overdue\" with Invoice_2026-0342.zip"
	       " (%s inside), one to every user\n"
	       "    %3u  with a file of " DEMO_TESTFILES " attached\n"
	       "    %3u  with the EICAR test file attached\n",
	       d.total, (double)d.bytes / 1e6, d.maildir_folders, d.mbox_files,
	       infected, d.outbreak, d.outbreak_file->name,
	       d.infected_testfile, d.infected_eicar);
	if (d.chown_users)
		printf("  Each user's files belong to that user (uids 2001-%u).\n",
		       2000 + d.user_count);

	if (create_only) {
		exit_code = 0;
		keep = true;
		goto out;
	}

	int host_infected = make_host_files(&d, root);
	if (host_infected < 0) {
		mc_warn("demo: creating the sample server: %s", d.error ? d.error : "?");
		goto out;
	}
	printf("  srv/www/uploads/        a web upload directory: %d malware test file%s\n"
	       "                          among clean files (for the host scan)\n",
	       host_infected, host_infected == 1 ? "" : "s");

	/* The clean, through the command's own code path. */
	struct mc_global dg = *g;
	const char *stores[] = { home, varmail };
	if (sigs != NULL) {
		dg.databases = &sigs;
		dg.database_count = 1;
	}
	if (strcmp(g->quarantine_dir, MC_DEFAULT_QUARANTINE) == 0)
		dg.quarantine_dir = qdir;
	char statedir[4200], hostdir[4200];
	snprintf(statedir, sizeof(statedir), "%s/state", root);
	snprintf(hostdir, sizeof(hostdir), "%s/srv", root);
	if (strcmp(g->state_dir, MC_DEFAULT_STATE_DIR) == 0)
		dg.state_dir = statedir;
	dg.json = false;

	printf("\nResponding to the outbreak, exactly as this command would:\n\n"
	       "  mailcure -d %s --quarantine %s \\\n"
	       "      --state-dir %s%s respond --clean-host --host-path %s \\\n"
	       "      --skip isolate --skip queue-freeze --skip queue-delete \\\n"
	       "      --skip queue-thaw --skip reconnect -s %s -s %s\n\n"
	       "(on a real server, respond also cuts the users off with nftables,\n"
	       "freezes and cleans the Postfix queue, thaws it and reconnects the users;\n"
	       "the sample server has none of these, so those steps are skipped)\n\n",
	       sigs != NULL ? sigs : dg.databases[0], dg.quarantine_dir,
	       dg.state_dir, dg.dry_run ? " --dry-run" : "", hostdir, home, varmail);
	fflush(stdout);
	time_t start = time(NULL);
	int rc = run_respond(&dg, stores, 2, hostdir);
	printf("\n");
	if (rc == MC_EXIT_ERROR)
		printf("The run reported errors (exit status 2): messages that could not be "
		       "read or scanned were left in place; see the report.\n\n");

	if (dg.dry_run) {
		printf("This was a dry run: nothing was changed.\n");
		exit_code = rc == MC_EXIT_FOUND ? 0 : MC_EXIT_ERROR;
		goto out;
	}

	/* The match lines, as "mailcure mailbox clean" shows them live;
	   respond keeps each step's events in the run's directory. */
	char *step_run = newest_run(dg.state_dir);
	if (step_run != NULL) {
		printf("What the mailbox-clean and host-scan steps did, line by line as\n"
		       "\"mailcure mailbox clean\" and \"mailcure host clean\" print it:\n\n");
		show_step_events(dg.state_dir, step_run, "mailbox-clean");
		show_step_events(dg.state_dir, step_run, "host-scan");
		printf("\n");
		free(step_run);
	}

	printf("Report\n\n");
	char *run = NULL;
	unsigned host_files = 0;
	unsigned entries = report(dg.quarantine_dir, start, &run, &host_files);

	/* A second look: a clean server gives nothing to report. */
	struct mc_global vg = dg;
	/* A run of its own (respond set dg.run_id to its run, which it
	   has freed since). */
	vg.run_id = g->run_id;
	vg.verbose = -1;
	vg.progress = MC_PROGRESS_NEVER;
	printf("\nChecking again (mailbox find over the same stores):\n");
	int vrc = run_mailbox(&vg, "find", stores, 2);
	if (vrc == MC_EXIT_CLEAN)
		printf("  nothing left: the sample server is clean.\n");
	else
		printf("  the second scan still found something (exit status %d).\n", vrc);

	printf("\nThe quarantine is %s\n", dg.quarantine_dir);
	printf("  list it:         mailcure --quarantine %s quarantine list\n", dg.quarantine_dir);
	printf("  show one entry:  mailcure --quarantine %s quarantine show ID\n", dg.quarantine_dir);
	printf("  undo the run:    mailcure --quarantine %s quarantine restore --run %s\n",
	       dg.quarantine_dir, run != NULL ? run : "RUN");
	if (!keep)
		printf("  (the sample server is removed now; run \"mailcure demo --keep\""
		       " to try these commands on it)\n");

	printf("\nOn a real server, as root, with current signatures (freshclam):\n"
	       "  mailcure mailbox find                  # look first: /var/mail, /home/*/Maildir, /var/vmail\n"
	       "  mailcure --dry-run mailbox clean       # what would be removed, changing nothing\n"
	       "  mailcure mailbox clean                 # quarantine and remove the infected messages\n"
	       "  mailcure quarantine restore --run RUN  # undo a run\n"
	       "  mailcure respond --allow ADMIN-CIDR    # the whole runbook: isolate, freeze and clean\n"
	       "                                         # the queue, clean mailboxes and host, thaw, reconnect\n"
	       "  mailcure report RUN --html FILE        # what a run found and did, as one page\n"
	       "Signatures come from " MC_DEFAULT_DATABASE " unless -d names others; the\n"
	       "quarantine is " MC_DEFAULT_QUARANTINE " unless --quarantine names another.\n"
	       "See mailcure(1).\n");
	free(run);
	exit_code = entries == infected && (int)host_files == host_infected &&
		rc == MC_EXIT_FOUND && vrc == MC_EXIT_CLEAN ? 0 : MC_EXIT_ERROR;
	if (exit_code != 0)
		printf("\nThe demo did not go as expected: %u infected messages were created, "
		       "%u quarantined.\n", infected, entries);

out:
	if (keep) {
		printf("\nThe sample server is kept in %s (remove it with: rm -rf %s)\n",
		       root, root);
	} else if (nftw(root, remove_entry, 32, FTW_DEPTH | FTW_PHYS) < 0) {
		mc_warn("demo: could not remove %s: %s", root, strerror(errno));
	}
	for (unsigned i = 16; i < d.user_count; i++) {
		free((char *)d.users[i].name);
		free((char *)d.users[i].full);
	}
	free(d.error);
	free_testfiles(&d);
	return exit_code;
}
