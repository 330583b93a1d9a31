/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	mbox_lock 3
/* SUMMARY
/*	lock an mbox the way Postfix local and Dovecot do
/* SYNOPSIS
/*	#include "mbox_lock.h"
/* DESCRIPTION
/*	See mbox_lock.h. The dotlock protocol is the classic one (also
/*	used by procmail, mutt and mailx): create a uniquely named file
/*	in the mailbox directory, link() it to NAME.lock, and treat
/*	EEXIST as "held by someone else". When link() reports an error
/*	but the unique file's link count became 2, the link was made
/*	(NFS replies can get lost).
/*
/*	Waiting polls rather than blocking (no F_SETLKW with alarm()):
/*	this is library code running beside worker threads, where
/*	signals are not ours to use.
/* SECURITY
/*	The lock files are created with O_EXCL|O_NOFOLLOW relative to the
/*	verified mailbox directory, so a symlink planted as NAME.lock or
/*	as the unique name cannot make root create a file elsewhere. A
/*	lock is removed only if the name still refers to the file we
/*	linked (another process may have judged ours stale and replaced
/*	it).
/*--*/

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailcure/mailcure.h"
#include "internal.h"
#include "mbox_lock.h"

#define STALE_SECONDS 300

static unsigned lock_timeout = 300;

unsigned mc_mbox_lock_timeout(void)
{
	return __atomic_load_n(&lock_timeout, __ATOMIC_RELAXED);
}

void mc_mbox_lock_set_timeout(unsigned seconds)
{
	__atomic_store_n(&lock_timeout, seconds, __ATOMIC_RELAXED);
}

struct mc_dotlock {
	int dirfd;
	char *lockname;
	dev_t dev;
	ino_t ino;
};

static void nap(unsigned *ms)
{
	struct timespec ts = { .tv_sec = *ms / 1000, .tv_nsec = (long)(*ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
	if (*ms < 500)
		*ms *= 2;
}

/* Whether the lock file is one of ours whose process has gone. */
static bool our_dead_lock(int dirfd, const char *lockname)
{
	char buf[64];
	long pid;
	int fd = openat(dirfd, lockname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (sscanf(buf, "%ld mailcure", &pid) != 1 || pid <= 0 ||
	    strstr(buf, " mailcure\n") == NULL)
		return false;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

int mc_dotlock_acquire(int dirfd, const char *name, struct mc_dotlock **lock_r,
		       char **error_r)
{
	static unsigned counter;
	char tmpname[64], content[64];
	char *lockname = mc_xasprintf("%s.lock", name);
	time_t deadline = time(NULL) + (time_t)mc_mbox_lock_timeout();
	unsigned ms = 20;
	struct stat st;
	int fd;

	*lock_r = NULL;
	if (strlen(lockname) > NAME_MAX) {
		free(lockname);
		return mc_error_set(error_r, "%s: name too long for a dotlock", name);
	}
	snprintf(tmpname, sizeof(tmpname), ".mailcure-lock.%ld.%u.%lx", (long)getpid(),
		 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED),
		 (unsigned long)time(NULL));
	fd = openat(dirfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		mc_error_errno(error_r, "%s: cannot create a dotlock", lockname);
		free(lockname);
		return -1;
	}
	snprintf(content, sizeof(content), "%ld mailcure\n", (long)getpid());
	if (mc_write_all(fd, content, strlen(content)) < 0) {
		mc_error_errno(error_r, "%s: cannot write a dotlock", lockname);
		close(fd);
		unlinkat(dirfd, tmpname, 0);
		free(lockname);
		return -1;
	}
	close(fd);
	for (;;) {
		int ret = linkat(dirfd, tmpname, dirfd, lockname, 0);
		int saved = errno;

		if (ret == 0 || (fstatat(dirfd, tmpname, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				 st.st_nlink == 2)) {
			if (fstatat(dirfd, tmpname, &st, AT_SYMLINK_NOFOLLOW) < 0)
				st.st_ino = 0;
			break;
		}
		if (saved != EEXIST) {
			errno = saved;
			mc_error_errno(error_r, "%s: cannot create a dotlock", lockname);
			goto fail;
		}
		if (fstatat(dirfd, lockname, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    (time(NULL) - st.st_mtime > STALE_SECONDS ||
		     (S_ISREG(st.st_mode) && our_dead_lock(dirfd, lockname)))) {
			struct stat again;

			/* Stale: remove it, if it is still the one we judged. */
			if (fstatat(dirfd, lockname, &again, AT_SYMLINK_NOFOLLOW) == 0 &&
			    again.st_ino == st.st_ino && again.st_dev == st.st_dev)
				unlinkat(dirfd, lockname, 0);
			continue;
		}
		if (time(NULL) >= deadline) {
			mc_error_set(error_r, "%s: held by another process for more "
				     "than %u seconds", lockname, mc_mbox_lock_timeout());
			goto fail;
		}
		nap(&ms);
	}
	unlinkat(dirfd, tmpname, 0);
	*lock_r = mc_xcalloc(1, sizeof(**lock_r));
	(*lock_r)->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	(*lock_r)->lockname = lockname;
	(*lock_r)->dev = st.st_dev;
	(*lock_r)->ino = st.st_ino;
	return 0;
fail:
	unlinkat(dirfd, tmpname, 0);
	free(lockname);
	return -1;
}

void mc_dotlock_release(struct mc_dotlock **lockp)
{
	struct mc_dotlock *lock = *lockp;
	struct stat st;

	if (lock == NULL)
		return;
	*lockp = NULL;
	if (lock->dirfd >= 0) {
		if (fstatat(lock->dirfd, lock->lockname, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    (lock->ino == 0 || (st.st_ino == lock->ino && st.st_dev == lock->dev)))
			unlinkat(lock->dirfd, lock->lockname, 0);
		close(lock->dirfd);
	}
	free(lock->lockname);
	free(lock);
}

int mc_fcntl_lock(int fd, char **error_r)
{
	time_t deadline = time(NULL) + (time_t)mc_mbox_lock_timeout();
	unsigned ms = 20;
	struct flock fl;

	for (;;) {
		int ret;

		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		ret = fcntl(fd, F_OFD_SETLK, &fl);
		if (ret < 0 && errno == EINVAL) {
			memset(&fl, 0, sizeof(fl));
			fl.l_type = F_WRLCK;
			fl.l_whence = SEEK_SET;
			ret = fcntl(fd, F_SETLK, &fl);
		}
		if (ret == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return mc_error_errno(error_r, "fcntl lock");
		if (time(NULL) >= deadline)
			return mc_error_set(error_r, "fcntl lock held by another process "
					    "for more than %u seconds", mc_mbox_lock_timeout());
		nap(&ms);
	}
}

void mc_fcntl_unlock(int fd)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0 && errno == EINVAL) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_UNLCK;
		fl.l_whence = SEEK_SET;
		fcntl(fd, F_SETLK, &fl);
	}
}
