/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	demo_server 3
/* SUMMARY
/*	build the sample infected mail server of "mailcure demo"
/* SYNOPSIS
/*	#include "demo_server.h"
/* DESCRIPTION
/*	The sample server looks like a small real one:
/*
/*	home/USER/Maildir	INBOX, .Sent and .Archive (Maildir++)
/*	var/mail/USER		mbox files (users without a Maildir,
/*				and local system mail of the others)
/*	srv/www/uploads/	files of a web upload directory, one of
/*				them a malware test file (the host scan)
/*
/*	with a few hundred realistic-looking messages from a seeded
/*	pseudo-random generator (the same seed gives the same server):
/*	senders, subjects, text bodies, small PDF and image attachments
/*	made of random bytes, some messages carrying a file from
/*	/usr/share/clamav-testfiles or the EICAR test string, and one
/*	outbreak message, "Invoice overdue" with an infected zip,
/*	delivered to every user with per-recipient headers.
/*
/*	Messages are delivered as an MDA would: into Maildir tmp/, then
/*	renamed into new/ or cur/ with flags; appended to mbox files in
/*	mboxrd form.
/* DIAGNOSTICS
/*	Functions return -1 with the reason in d->error; they never
/*	print or exit. Out of memory aborts.
/* SECURITY
/*	Everything is created below the directory the caller gives
/*	(made by the caller, new or empty). Files are created with
/*	O_EXCL and O_NOFOLLOW. As root, the files of each sample user
/*	belong to a distinct unprivileged uid (2001, 2002, ...), as they
/*	would on a server.
/*--*/

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "demo_server.h"

#define DEMO_HOST "mail.example.com"
#define DEMO_DOMAIN "example.com"
/* Sample mail is dated in the weeks before this (2 March 2026). */
#define DEMO_BASE_TIME ((time_t)1772445600)

/* --- deterministic pseudo-random numbers (splitmix64) --- */

static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned rng_below(uint64_t *state, unsigned n)
{
	return n == 0 ? 0 : (unsigned)(rng_next(state) % n);
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

/* --- errors and the test files --- */

static int demo_error(struct mc_demo *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int demo_error(struct mc_demo *d, const char *fmt, ...)
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
	return strcmp(((const struct mc_demo_testfile *)a)->name,
		      ((const struct mc_demo_testfile *)b)->name);
}

/* Load the ClamAV test files, sorted by name so that a seed always
   picks the same ones. */
static int load_testfiles(struct mc_demo *d)
{
	DIR *dir = opendir(MC_DEMO_TESTFILES);
	struct dirent *de;
	size_t cap = 0;

	if (dir == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		char path[4096];
		struct stat st;
		struct mc_demo_testfile tf;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", MC_DEMO_TESTFILES, de->d_name);
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

static void free_testfiles(struct mc_demo *d)
{
	for (size_t i = 0; i < d->testfile_count; i++) {
		free(d->testfiles[i].name);
		free(d->testfiles[i].data);
	}
	free(d->testfiles);
	d->testfiles = NULL;
	d->testfile_count = 0;
}

int mc_demo_init(struct mc_demo *d, uint64_t seed)
{
	memset(d, 0, sizeof(*d));
	d->rng = seed;
	if (load_testfiles(d) < 0) {
		int saved = errno;
		free_testfiles(d);
		errno = saved;
		return -1;
	}
	for (size_t i = 0; i + 1 < sizeof(eicar_hex); i += 2) {
		unsigned v;
		sscanf(eicar_hex + i, "%2x", &v);
		d->eicar[d->eicar_len++] = (unsigned char)v;
	}
	return 0;
}

void mc_demo_deinit(struct mc_demo *d)
{
	for (unsigned i = 16; i < d->user_count; i++) {
		free((char *)d->users[i].name);
		free((char *)d->users[i].full);
	}
	free(d->error);
	d->error = NULL;
	free_testfiles(d);
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
static void message_render(struct mc_demo *d, const struct message *m,
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

static void body_text(struct mc_demo *d, struct buf *body, const char *to_first)
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

static int demo_mkdir(struct mc_demo *d, const char *path, const struct mc_demo_user *u)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return demo_error(d, "mkdir %s: %s", path, strerror(errno));
	if (u != NULL && d->chown_users && chown(path, u->uid, u->uid) < 0)
		return demo_error(d, "chown %s: %s", path, strerror(errno));
	return 0;
}

/* ROOT/REL and each directory on the way to it, for the server itself
   (no user's); the path of the last into PATH. */
static int demo_mkdirs(struct mc_demo *d, const char *rel, char *path,
		       size_t size)
{
	const char *slash = rel;

	do {
		slash = strchr(slash + 1, '/');
		snprintf(path, size, "%s/%.*s", d->root,
			 slash != NULL ? (int)(slash - rel) : (int)strlen(rel), rel);
		if (demo_mkdir(d, path, NULL) < 0)
			return -1;
	} while (slash != NULL);
	return 0;
}

static int write_new_file(struct mc_demo *d, const char *path, const struct buf *b,
			  const struct mc_demo_user *u, mode_t mode)
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
static int maildir_deliver(struct mc_demo *d, struct mc_demo_user *u, const char *folder,
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
static int mbox_deliver(struct mc_demo *d, struct mc_demo_user *u, const char *sender,
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

static int make_user_dirs(struct mc_demo *d, struct mc_demo_user *u)
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
static void fake_file(struct mc_demo *d, struct buf *b, const char **name_r,
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

/* Sender, To and envelope recipient (into RCPT) of an ordinary
   message for user U: local system mail from cron, mail the user sent
   to someone outside, or mail from another user or from outside. */
static void message_address(struct mc_demo *d, const struct mc_demo_user *u,
			    unsigned folder, bool system_mail, struct message *m,
			    char *rcpt, size_t rcpt_size)
{
	char self[256];

	snprintf(self, sizeof(self), "%s <%s@" DEMO_DOMAIN ">", u->full, u->name);
	if (system_mail) {
		m->from = strdup("Cron Daemon <root@" DEMO_HOST ">");
		snprintf(m->to, sizeof(m->to), "%s@" DEMO_DOMAIN, u->name);
		snprintf(rcpt, rcpt_size, "%s@" DEMO_DOMAIN, u->name);
		m->recipient = rcpt;
	} else if (folder == 1) {
		/* Sent: from the user, to someone else. */
		m->from = strdup(self);
		snprintf(m->to, sizeof(m->to), "%s", PICK(&d->rng, outside));
		m->recipient = addr_of(m->to, rcpt, rcpt_size);
	} else {
		unsigned other = rng_below(&d->rng, d->user_count);
		if (rng_below(&d->rng, 3) == 0 && d->users[other].name != u->name) {
			char *s;
			if (asprintf(&s, "%s <%s@" DEMO_DOMAIN ">", d->users[other].full,
				     d->users[other].name) < 0)
				abort();
			m->from = s;
		} else {
			m->from = strdup(PICK(&d->rng, outside));
		}
		snprintf(m->to, sizeof(m->to), "%s", self);
		snprintf(rcpt, rcpt_size, "%s@" DEMO_DOMAIN, u->name);
		m->recipient = rcpt;
	}
}

static void message_subject(struct mc_demo *d, const struct mc_demo_user *u,
			    bool system_mail, enum payload payload,
			    struct message *m)
{
	if (system_mail) {
		const char *t = PICK(&d->rng, system_subjects);
		const char *at = strstr(t, "USER");
		if (at != NULL)
			snprintf(m->subject, sizeof(m->subject), "%.*s%s%s",
				 (int)(at - t), t, u->name, at + 4);
		else
			snprintf(m->subject, sizeof(m->subject), "%s", t);
	} else if (payload == PAYLOAD_TESTFILE) {
		snprintf(m->subject, sizeof(m->subject), "%s", PICK(&d->rng, infected_subjects));
	} else {
		snprintf(m->subject, sizeof(m->subject), "%s", PICK(&d->rng, subjects));
	}
}

static void message_body(struct mc_demo *d, const struct mc_demo_user *u,
			 unsigned folder, bool system_mail, struct message *m)
{
	if (system_mail) {
		m->local = true;
		buf_printf(&m->body, "%u files checked, %u changed, %u kB written.\n"
			   "Finished in %u seconds.\n", 1000 + rng_below(&d->rng, 9000),
			   rng_below(&d->rng, 200), rng_below(&d->rng, 50000),
			   1 + rng_below(&d->rng, 600));
	} else {
		char first[64];
		snprintf(first, sizeof(first), "%s", folder == 1 ? "all" : u->full);
		first[strcspn(first, " ")] = '\0';
		body_text(d, &m->body, first);
	}
}

/* Attach PAYLOAD to M; a made-up file is written into FAKE, which
   must outlive M. */
static void message_attach(struct mc_demo *d, enum payload payload,
			   struct message *m, struct buf *fake)
{
	switch (payload) {
	case PAYLOAD_NONE:
		break;
	case PAYLOAD_FAKE:
		fake_file(d, fake, &m->att.name, &m->att.type);
		m->att.data = (const unsigned char *)fake->data;
		m->att.size = fake->len;
		m->has_att = true;
		break;
	case PAYLOAD_TESTFILE: {
		const struct mc_demo_testfile *tf = &d->testfiles[rng_below(&d->rng, (unsigned)d->testfile_count)];
		m->att.name = tf->name;
		m->att.type = "application/octet-stream";
		m->att.data = tf->data;
		m->att.size = tf->size;
		m->has_att = true;
		d->infected_testfile++;
		break;
	}
	case PAYLOAD_EICAR:
		m->att.name = "eicar.com";
		m->att.type = "application/octet-stream";
		m->att.data = d->eicar;
		m->att.size = d->eicar_len;
		m->has_att = true;
		snprintf(m->subject, sizeof(m->subject), "%s", "Antivirus test file");
		d->infected_eicar++;
		break;
	}
}

/* One ordinary message for user U, into folder FOLDER (0 INBOX,
   1 Sent, 2 Archive), or into var/mail/U when MBOX. */
static int make_message(struct mc_demo *d, struct mc_demo_user *u, unsigned folder,
			bool mbox, enum payload payload)
{
	struct message m;
	struct buf fake = { 0 }, raw = { 0 };
	char rcpt[256];
	bool system_mail = mbox && u->maildir;
	bool infected = payload == PAYLOAD_TESTFILE || payload == PAYLOAD_EICAR;
	int ret;

	memset(&m, 0, sizeof(m));
	d->seq++;
	m.date = DEMO_BASE_TIME - (time_t)(rng_below(&d->rng, 60 * 24 * 3600));
	if (folder == 2)
		m.date -= 365 * 24 * 3600;
	message_address(d, u, folder, system_mail, &m, rcpt, sizeof(rcpt));
	message_subject(d, u, system_mail, payload, &m);
	snprintf(m.message_id, sizeof(m.message_id), "<%lld.%u.%u@%s>",
		 (long long)m.date, d->seq, (unsigned)(rng_next(&d->rng) & 0xffff),
		 folder == 1 ? DEMO_HOST : "mx.example.net");
	message_body(d, u, folder, system_mail, &m);
	message_attach(d, payload, &m, &fake);

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
static int make_outbreak(struct mc_demo *d, struct mc_demo_user *u, unsigned index)
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

/* The sample users: the names of user_names[], numbered from the
   seventeenth on. */
static void users_init(struct mc_demo *d, unsigned users)
{
	d->user_count = users;
	for (unsigned i = 0; i < users; i++) {
		struct mc_demo_user *u = &d->users[i];
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
}

/* home/, var/mail/ and each user's home and Maildir folders. */
static int make_server_dirs(struct mc_demo *d)
{
	char path[4096];

	if (demo_mkdirs(d, "home", path, sizeof(path)) < 0 ||
	    demo_mkdirs(d, "var/mail", path, sizeof(path)) < 0)
		return -1;
	/* Like Debian's /var/mail: group mail may create lock files. */
	if (chmod(path, 02775) < 0)
		return demo_error(d, "chmod %s: %s", path, strerror(errno));
	for (unsigned i = 0; i < d->user_count; i++) {
		if (make_user_dirs(d, &d->users[i]) < 0)
			return -1;
	}
	return 0;
}

int mc_demo_create(struct mc_demo *d, const char *root, unsigned users,
		   unsigned messages)
{
	char path[4096];

	d->root = root;
	d->chown_users = geteuid() == 0;
	users_init(d, users);
	if (make_server_dirs(d) < 0)
		return -1;

	/* Ordinary mail, spread over the users. Most are clean, some have
	   harmless attachments; about one in twenty carries a test file
	   and one in fifty the EICAR string. */
	for (unsigned n = 0; n < messages; n++) {
		struct mc_demo_user *u = &d->users[rng_below(&d->rng, users)];
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

/* A web upload directory with one malware test file among clean
   files: what the host scan step finds. */
int mc_demo_create_host_files(struct mc_demo *d)
{
	static const char *const clean[][2] = {
		{ "index.html", "<html><body>Upload your documents here.</body></html>\n" },
		{ "terms.txt", "Uploads are kept for 30 days.\n" },
	};
	struct buf b = { 0 };
	const struct mc_demo_testfile *tf = NULL;
	char path[4400], sub[4300];

	if (demo_mkdirs(d, "srv/www/uploads", sub, sizeof(sub)) < 0)
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
