/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	mbox_rewrite 3
/* SUMMARY
/*	cut messages out of a locked mbox, durably, and settle an
/*	interrupted cut
/* SYNOPSIS
/*	#include "mbox_rewrite.h"
/* DESCRIPTION
/*	mc_mbox_hold() takes the dotlock and the fcntl lock of an mbox
/*	(mbox_lock.c), opens it read-write and checks that the path
/*	still names the locked file (a mail client may have replaced it
/*	by rename()).
/*
/*	mc_mbox_cut_out() removes messages from the held mailbox. Their
/*	quarantine entries were staged by the caller in the mailbox's
/*	staging group (pending/mbox-SHA256(path) in the quarantine),
/*	where nothing lists or restores them. The bytes from the first
/*	cut to the end are saved in a rewrite journal in the quarantine
/*	(journal/mbox-SHA256(path).tail: path, inode, sizes, cuts, the
/*	ids of the staged entries, the bytes; fsync'd and renamed into
/*	place). Once it is there the cut happens: the kept bytes are
/*	moved down in place, the file truncated and fsync'd (same inode,
/*	owner and mode; atime kept so that "new mail" indicators do not
/*	change). Then the staged entries are committed (they become
/*	quarantine entries) and the journal is deleted.
/*
/*	So an entry is visible in the quarantine only for a message that
/*	left the mailbox, whenever mailcure is killed: before the
/*	journal exists, the messages are all in the mailbox and their
/*	staged entries are discarded; once it exists, the cut is
/*	completed and they are committed. mc_mbox_settle() does that,
/*	under the lock, before anything else is done with a mailbox
/*	that has a journal or staged entries: a clean reading it, a
/*	removal from it, a restore into it. The journal completes the
/*	rewrite only when the file is still that inode at one of the two
/*	sizes it can have then; otherwise nothing is touched and the
/*	error names the journal and the staged entries.
/*
/*	When the journal cannot be written (disk full) or the rewrite
/*	fails and is undone from the journal, the mailbox is unchanged
/*	and the staged entries are discarded. Only a failed rewrite that
/*	could not be undone, or entries that could not be committed,
/*	leave the journal for the next settle to finish.
/* SECURITY
/*	The mbox is opened relative to its verified directory without
/*	following symlinks, and refused when it has more than one link
/*	(as Postfix local refuses it). Only the locked inode is written.
/*	The journal and the staged entries live in the quarantine,
/*	which is root's alone.
/*--*/

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store-private.h"
#include "mbox_lock.h"
#include "mbox_rewrite.h"

#define COPY_BUF (1024 * 1024)

/* ------------------------------------------------------------------ */
/* Locked access                                                      */
/* ------------------------------------------------------------------ */

/* Open mailbox NAME in DIRFD read-write: regular, one link, no
   symlink. With CREATE_MODE != 0 a missing mailbox is created with
   that mode and owner UID/GID. */
static int open_rw(int dirfd, const char *name, struct stat *st_r,
		   mode_t create_mode, uid_t uid, gid_t gid, char **error_r)
{
	struct stat lst;
	int fd;

	if (fstatat(dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT || create_mode == 0)
			return mc_error_errno(error_r, "%s", name);
		fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0)
			return mc_error_errno(error_r, "create %s", name);
		if (fstat(fd, st_r) < 0 ||
		    (uid != (uid_t)-1 && gid != (gid_t)-1 &&
		     (st_r->st_uid != uid || st_r->st_gid != gid) && fchown(fd, uid, gid) < 0) ||
		    fchmod(fd, create_mode & 0777) < 0 || fstat(fd, st_r) < 0) {
			mc_error_errno(error_r, "set owner and mode of %s", name);
			close(fd);
			unlinkat(dirfd, name, 0);
			return -1;
		}
		return fd;
	}
	if (S_ISLNK(lst.st_mode))
		return mc_error_set(error_r, "%s: is a symbolic link, not followed", name);
	if (!S_ISREG(lst.st_mode))
		return mc_error_set(error_r, "%s: not a regular file", name);
	if (lst.st_nlink > 1)
		return mc_error_set(error_r, "%s: has %lu hard links, refused", name,
				    (unsigned long)lst.st_nlink);
	fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return mc_error_errno(error_r, "%s", name);
	if (fstat(fd, st_r) < 0 || !mc_same_file(&lst, st_r) || !S_ISREG(st_r->st_mode) ||
	    st_r->st_nlink > 1) {
		close(fd);
		return mc_error_set(error_r, "%s: replaced while being opened", name);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

/* Dotlock, open, fcntl lock, and make sure the path still names the
   locked file (a mail client may have replaced it by rename()). */
int mc_mbox_hold(int dirfd, const char *name, mode_t create_mode, uid_t uid,
		 gid_t gid, struct mc_mbox_held *lock_r, char **error_r)
{
	char *err = NULL;

	lock_r->fd = -1;
	if (mc_dotlock_acquire(dirfd, name, &lock_r->dotlock, error_r) < 0)
		return -1;
	for (int attempt = 0; attempt < 10; attempt++) {
		struct stat now;

		lock_r->fd = open_rw(dirfd, name, &lock_r->st, create_mode, uid, gid, &err);
		if (lock_r->fd < 0) {
			if (create_mode != 0 && err != NULL && strstr(err, "File exists") != NULL) {
				free(err);
				err = NULL;
				continue;
			}
			break;
		}
		if (mc_fcntl_lock(lock_r->fd, &err) < 0)
			break;
		if (fstatat(dirfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
		    mc_same_file(&now, &lock_r->st) && fstat(lock_r->fd, &lock_r->st) == 0)
			return 0;
		mc_fcntl_unlock(lock_r->fd);
		close(lock_r->fd);
		lock_r->fd = -1;
	}
	if (lock_r->fd >= 0) {
		close(lock_r->fd);
		lock_r->fd = -1;
	}
	mc_error_set(error_r, "%s: %s", name, err != NULL ? err : "replaced while being locked");
	free(err);
	mc_dotlock_release(&lock_r->dotlock);
	return -1;
}

void mc_mbox_release(struct mc_mbox_held *lock)
{
	if (lock->fd >= 0) {
		mc_fcntl_unlock(lock->fd);
		close(lock->fd);
		lock->fd = -1;
	}
	mc_dotlock_release(&lock->dotlock);
}


/* ------------------------------------------------------------------ */
/* Rewrite                                                            */
/* ------------------------------------------------------------------ */

/* Copy LEN bytes from SRC at SOFF to DST at DOFF, front to back (safe
   in one file when DOFF <= SOFF). */
static int copy_range(int src, uint64_t soff, int dst, uint64_t doff, uint64_t len,
		      unsigned char *buf)
{
	while (len > 0) {
		size_t want = len < COPY_BUF ? (size_t)len : COPY_BUF;
		ssize_t n = pread(src, buf, want, (off_t)soff);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;	/* shorter than it should be */
			return -1;
		}
		if (mc_pwrite_all(dst, buf, (size_t)n, (off_t)doff) < 0)
			return -1;
		soff += (uint64_t)n;
		doff += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* Write the file's tail after the cuts were made: SRC holds the
   original bytes from FIRST on at SRC_BASE (the mbox itself:
   SRC_BASE = FIRST; the journal: where its data starts). */
static int apply_cuts(int src, uint64_t src_base, int fd, uint64_t orig_size,
		      const struct mc_mbox_cut *cuts, size_t cut_count, uint64_t *final_r)
{
	unsigned char *buf = mc_xmalloc(COPY_BUF);
	uint64_t first = cuts[0].off, dst = first;
	int ret = 0;

	for (size_t i = 0; i < cut_count && ret == 0; i++) {
		uint64_t from = cuts[i].off + cuts[i].len;
		uint64_t to = i + 1 < cut_count ? cuts[i + 1].off : orig_size;

		ret = copy_range(src, src_base + (from - first), fd, dst, to - from, buf);
		dst += to - from;
	}
	free(buf);
	if (ret == 0 && ftruncate(fd, (off_t)dst) < 0)
		ret = -1;
	if (ret == 0 && fsync(fd) < 0)
		ret = -1;
	*final_r = dst;
	return ret;
}

/* ------------------------------------------------------------------ */
/* The journal                                                        */
/* ------------------------------------------------------------------ */

#define JOURNAL_MAGIC "mailcure mbox rewrite journal"
#define JOURNAL_TMP_SUFFIX ".tmp"

int mc_mbox_journal_open(struct mc_quarantine *q, const char *path,
			 struct mc_mbox_journal *j_r, char **error_r)
{
	const char *qdir = q != NULL ? mc_quarantine_dir(q) : NULL;
	unsigned char sha[32];
	char hex[65];
	int qfd;

	memset(j_r, 0, sizeof(*j_r));
	j_r->dirfd = -1;
	if (qdir == NULL)
		return mc_error_set(error_r, "no quarantine directory for the rewrite journal");
	qfd = mc_open_dir_path(qdir, NULL, error_r);
	if (qfd < 0)
		return -1;
	if (mkdirat(qfd, "journal", 0700) < 0 && errno != EEXIST) {
		mc_error_errno(error_r, "%s/journal", qdir);
		close(qfd);
		return -1;
	}
	j_r->dirfd = mc_safe_open_dir(qfd, "journal", NULL, error_r);
	close(qfd);
	if (j_r->dirfd < 0)
		return -1;
	j_r->q = q;
	j_r->path = path;
	mc_sha256(path, strlen(path), sha);
	mc_hex(sha, sizeof(sha), hex);
	snprintf(j_r->group, sizeof(j_r->group), "mbox-%s", hex);
	snprintf(j_r->name, sizeof(j_r->name), "%s.tail", j_r->group);
	return 0;
}

void mc_mbox_journal_close(struct mc_mbox_journal *j)
{
	if (j->dirfd >= 0)
		close(j->dirfd);
	j->dirfd = -1;
}

bool mc_mbox_journal_left(const struct mc_mbox_journal *j)
{
	return faccessat(j->dirfd, j->name, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
		mc_quarantine_staged(j->q, j->group);
}

/* Save the bytes [cuts[0].off, orig_size) of the held mailbox with
   what is needed to finish or undo the rewrite, and the entries it
   commits. */
static int journal_write(struct mc_mbox_journal *j, const struct mc_mbox_held *held,
			 const struct mc_mbox_cut *cuts, size_t cut_count,
			 uint64_t final_size, char *const *ids, size_t id_count,
			 char **error_r)
{
	char tmp[sizeof(j->name) + sizeof(JOURNAL_TMP_SUFFIX)];
	unsigned char *buf;
	FILE *hdr;
	char *text = NULL;
	size_t text_len = 0;
	int jfd;

	snprintf(tmp, sizeof(tmp), "%s%s", j->name, JOURNAL_TMP_SUFFIX);
	unlinkat(j->dirfd, tmp, 0);
	jfd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (jfd < 0)
		return mc_error_errno(error_r, "rewrite journal %s", tmp);
	hdr = open_memstream(&text, &text_len);
	fprintf(hdr, JOURNAL_MAGIC " 2\npath ");
	for (const char *p = j->path; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\\')
			fprintf(hdr, "\\%03o", (unsigned char)*p);
		else
			fputc(*p, hdr);
	}
	fprintf(hdr, "\ndev %llu\nino %llu\nsize %llu\nfinal %llu\ncuts %zu\n",
		(unsigned long long)held->st.st_dev, (unsigned long long)held->st.st_ino,
		(unsigned long long)held->st.st_size, (unsigned long long)final_size, cut_count);
	for (size_t i = 0; i < cut_count; i++)
		fprintf(hdr, "cut %llu %llu\n", (unsigned long long)cuts[i].off,
			(unsigned long long)cuts[i].len);
	fprintf(hdr, "entries %zu\n", id_count);
	for (size_t i = 0; i < id_count; i++)
		fprintf(hdr, "entry %s\n", ids[i]);
	fprintf(hdr, "data\n");
	fclose(hdr);
	buf = mc_xmalloc(COPY_BUF);
	if (mc_write_all(jfd, text, text_len) < 0 ||
	    copy_range(held->fd, cuts[0].off, jfd, text_len,
		       (uint64_t)held->st.st_size - cuts[0].off, buf) < 0 ||
	    fsync(jfd) < 0) {
		mc_error_errno(error_r, "rewrite journal %s", tmp);
		free(buf);
		free(text);
		close(jfd);
		unlinkat(j->dirfd, tmp, 0);
		return -1;
	}
	free(buf);
	free(text);
	close(jfd);
	if (renameat(j->dirfd, tmp, j->dirfd, j->name) < 0 || mc_fsync_dir(j->dirfd) < 0) {
		mc_error_errno(error_r, "rewrite journal %s", j->name);
		unlinkat(j->dirfd, tmp, 0);
		return -1;
	}
	return 0;
}

static void journal_delete(struct mc_mbox_journal *j)
{
	unlinkat(j->dirfd, j->name, 0);
	mc_fsync_dir(j->dirfd);
}

/* What a journal records. */
struct journal_record {
	unsigned long long dev, ino, size, final;
	struct mc_mbox_cut *cuts;
	size_t cut_count;
	char **ids;		/* version 1 journals name none */
	size_t id_count;
	uint64_t data_off;	/* where the saved bytes start */
};

static void journal_record_free(struct journal_record *rec)
{
	for (size_t i = 0; i < rec->id_count; i++)
		free(rec->ids[i]);
	free(rec->ids);
	free(rec->cuts);
}

/* Parse the journal open as FP. Returns 0, or -1 when it is not one. */
static int journal_parse(FILE *fp, struct journal_record *rec)
{
	char line[512];
	size_t count, cap = 0, id_cap = 0;
	int version, c;

	memset(rec, 0, sizeof(*rec));
	if (fgets(line, sizeof(line), fp) == NULL ||
	    sscanf(line, JOURNAL_MAGIC " %d\n", &version) != 1 ||
	    (version != 1 && version != 2))
		return -1;
	/* The path line (any length): the name of the journal says
	   whose it is. */
	while ((c = fgetc(fp)) != EOF && c != '\n')
		;
	if (fscanf(fp, "dev %llu\nino %llu\nsize %llu\nfinal %llu\ncuts %zu\n",
		   &rec->dev, &rec->ino, &rec->size, &rec->final, &count) != 5 ||
	    count == 0 || count > 10000000)
		return -1;
	for (size_t i = 0; i < count; i++) {
		unsigned long long off, len;
		struct mc_mbox_cut cut;

		if (fscanf(fp, "cut %llu %llu\n", &off, &len) != 2)
			return -1;
		cut.off = off;
		cut.len = len;
		MC_ARRAY_PUSH(rec->cuts, rec->cut_count, cap, cut);
	}
	if (fgets(line, sizeof(line), fp) == NULL)
		return -1;
	if (version == 2) {
		if (sscanf(line, "entries %zu\n", &count) != 1 || count > 10000000)
			return -1;
		for (size_t i = 0; i < count; i++) {
			size_t n;

			if (fgets(line, sizeof(line), fp) == NULL || strncmp(line, "entry ", 6) != 0 ||
			    (n = strlen(line)) < 8 || line[n - 1] != '\n')
				return -1;
			line[n - 1] = '\0';
			MC_ARRAY_PUSH(rec->ids, rec->id_count, id_cap, mc_xstrdup(line + 6));
		}
		if (fgets(line, sizeof(line), fp) == NULL)
			return -1;
	}
	if (strcmp(line, "data\n") != 0)
		return -1;
	rec->data_off = (uint64_t)ftell(fp);
	return 0;
}

/* Complete the rewrite a journal records, if there is one. Returns 1
   with *rec_r when it was done, 0 when there is no journal, -1 when
   it cannot be done. */
static int journal_recover(struct mc_mbox_journal *j, struct mc_mbox_held *held,
			   struct journal_record *rec_r, char **error_r)
{
	uint64_t got_final;
	FILE *fp;
	int jfd, ret = -1;

	memset(rec_r, 0, sizeof(*rec_r));
	jfd = openat(j->dirfd, j->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (jfd < 0) {
		if (errno == ENOENT)
			return 0;
		return mc_error_errno(error_r, "rewrite journal %s", j->name);
	}
	fp = fdopen(dup(jfd), "r");
	if (fp == NULL) {
		close(jfd);
		return mc_error_errno(error_r, "rewrite journal %s", j->name);
	}
	if (journal_parse(fp, rec_r) < 0) {
		mc_error_set(error_r, "rewrite journal %s/journal/%s for %s is unreadable; "
			     "not acted on", mc_quarantine_dir(j->q), j->name, j->path);
		goto out;
	}
	if ((unsigned long long)held->st.st_dev != rec_r->dev ||
	    (unsigned long long)held->st.st_ino != rec_r->ino ||
	    ((unsigned long long)held->st.st_size != rec_r->size &&
	     (unsigned long long)held->st.st_size != rec_r->final)) {
		mc_error_set(error_r, "an interrupted rewrite of %s is recorded in "
			     "%s/journal/%s, but the mailbox changed since; not acted on "
			     "(repair it by hand from the journal; the messages it cuts "
			     "out are staged in %s/pending/%s)", j->path,
			     mc_quarantine_dir(j->q), j->name, mc_quarantine_dir(j->q),
			     j->group);
		goto out;
	}
	if (apply_cuts(jfd, rec_r->data_off, held->fd, rec_r->size, rec_r->cuts,
		       rec_r->cut_count, &got_final) < 0 || got_final != rec_r->final) {
		mc_error_errno(error_r, "completing the interrupted rewrite of %s from %s",
			       j->path, j->name);
		goto out;
	}
	fstat(held->fd, &held->st);
	ret = 1;
out:
	if (ret < 0)
		journal_record_free(rec_r);
	fclose(fp);
	close(jfd);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Settle and cut                                                     */
/* ------------------------------------------------------------------ */

int mc_mbox_settle(struct mc_mbox_journal *j, struct mc_mbox_held *held, char **error_r)
{
	struct journal_record rec;
	char tmp[sizeof(j->name) + sizeof(JOURNAL_TMP_SUFFIX)];
	char *err = NULL;
	int found;

	found = journal_recover(j, held, &rec, error_r);
	if (found < 0)
		return -1;
	if (found > 0 && mc_quarantine_commit(j->q, j->group, rec.ids, rec.id_count, &err) < 0) {
		mc_error_set(error_r, "%s: the interrupted rewrite was completed, but the "
			     "entries of the messages it cut out could not be committed "
			     "(%s); they stay staged", j->path, err);
		free(err);
		journal_record_free(&rec);
		return -1;
	}
	/* Whatever else is staged is of a removal that never wrote its
	   journal: those messages never left the mailbox. */
	if (mc_quarantine_unstage(j->q, j->group, &err) < 0) {
		mc_error_set(error_r, "%s: %s", j->path, err);
		free(err);
		journal_record_free(&rec);
		return -1;
	}
	if (found > 0)
		journal_delete(j);
	/* A journal that was being written when the run ended. */
	snprintf(tmp, sizeof(tmp), "%s%s", j->name, JOURNAL_TMP_SUFFIX);
	unlinkat(j->dirfd, tmp, 0);
	journal_record_free(&rec);
	return 0;
}

/* Put the original tail back from the journal after a failed
   rewrite. */
static bool rewrite_undo(struct mc_mbox_journal *j, struct mc_mbox_held *held,
			 uint64_t first)
{
	unsigned char *buf = mc_xmalloc(COPY_BUF);
	uint64_t tail = (uint64_t)held->st.st_size - first;
	int jfd = openat(j->dirfd, j->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat jst;
	bool undone;

	undone = jfd >= 0 && fstat(jfd, &jst) == 0 && (uint64_t)jst.st_size >= tail &&
		copy_range(jfd, (uint64_t)jst.st_size - tail, held->fd, first, tail, buf) == 0 &&
		ftruncate(held->fd, held->st.st_size) == 0 && fsync(held->fd) == 0;
	if (jfd >= 0)
		close(jfd);
	free(buf);
	return undone;
}

/* The staged entries of a cut that did not happen. */
static void discard_staged(struct mc_mbox_journal *j, char **error_r)
{
	char *err = NULL, *why = *error_r;

	if (mc_quarantine_unstage(j->q, j->group, &err) < 0) {
		*error_r = mc_xasprintf("%s (its staged quarantine entries are discarded "
					"on the next clean or restore of the mailbox: %s)",
					why, err);
		free(why);
		free(err);
	}
}

enum mc_mbox_cut_result mc_mbox_cut_out(struct mc_mbox_journal *j,
					struct mc_mbox_held *held,
					const struct mc_mbox_cut *cuts, size_t cut_count,
					char *const *ids, size_t id_count,
					char **error_r)
{
	uint64_t final = (uint64_t)held->st.st_size, got;
	char *err = NULL;

	for (size_t i = 0; i < cut_count; i++)
		final -= cuts[i].len;
	if (journal_write(j, held, cuts, cut_count, final, ids, id_count, &err) < 0) {
		mc_error_set(error_r, "the mailbox could not be rewritten (%s)", err);
		free(err);
		discard_staged(j, error_r);
		return MC_MBOX_CUT_UNCHANGED;
	}
	/* The journal is there: from now on the cut is completed, by
	   the next settle if not here. */
	if (apply_cuts(held->fd, cuts[0].off, held->fd, (uint64_t)held->st.st_size, cuts,
		       cut_count, &got) < 0) {
		int saved = errno;

		if (rewrite_undo(j, held, cuts[0].off)) {
			journal_delete(j);
			mc_error_set(error_r, "rewriting the mailbox failed (%s), it was put "
				     "back unchanged", strerror(saved));
			discard_staged(j, error_r);
			return MC_MBOX_CUT_UNCHANGED;
		}
		mc_error_set(error_r, "rewriting the mailbox failed (%s) and could not be "
			     "undone; the rewrite is completed from the journal %s/journal/%s "
			     "on the next clean or restore of this mailbox", strerror(saved),
			     mc_quarantine_dir(j->q), j->name);
		return MC_MBOX_CUT_PENDING;
	}
	/* Keep atime: "new mail" indicators compare it with mtime. */
	struct timespec ts[2] = { held->st.st_atim, { .tv_sec = 0, .tv_nsec = UTIME_NOW } };
	(void)futimens(held->fd, ts);
	fstat(held->fd, &held->st);
	if (mc_quarantine_commit(j->q, j->group, ids, id_count, &err) < 0) {
		mc_error_set(error_r, "cut out of the mailbox, but its quarantine entry could "
			     "not be committed (%s); it stays staged, and is committed on "
			     "the next clean or restore of this mailbox", err);
		free(err);
		return MC_MBOX_CUT_PENDING;
	}
	/* The group is empty now; it goes. */
	if (mc_quarantine_unstage(j->q, j->group, &err) < 0)
		free(err);
	journal_delete(j);
	return MC_MBOX_CUT_DONE;
}
