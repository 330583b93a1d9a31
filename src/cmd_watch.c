/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	cmd_watch 1
/* SUMMARY
/*	mailcure watch: zero-hour re-check of recent mail
/* SYNOPSIS
/*	mailcure watch [-s STORE]... [--window 48h] [--policy FILE]
/*	mailcure watch --reload
/*	mailcure watch --approve CHANGE
/* DESCRIPTION
/*	watch runs in the foreground over the stores given with -s. At
/*	start it sweeps them: every message delivered inside the window
/*	that it does not know yet is checked and recorded with the
/*	SHA-256 of its decoded parts (watch_pass.c). Then it waits on
/*	inotify: an event in a Maildir's new/ or cur/, or on an mbox
/*	file, sweeps that store again (after a short pause that gathers
/*	a burst of deliveries), so new mail is checked as it arrives.
/*	A full inotify queue (IN_Q_OVERFLOW) loses events, not mail: all
/*	stores are swept.
/*
/*	SIGHUP (sent by "mailcure watch --reload", which the freshclam
/*	hook runs) opens the detection set again beside the current one.
/*	When its identity differs, it becomes the current set, a
/*	detection change begins, and the window is re-checked: each
/*	part the new set has not judged is scanned once. SIGUSR1 (sent
/*	by --approve) lets a change that reached its caps go on. A
/*	change of the --yara or --ioc files, looked at every few seconds,
/*	reloads as SIGHUP does. SIGTERM
/*	and SIGINT end watch after the message in hand.
/*
/*	The test hook MAILCURE_WATCH_TEST_OVERFLOW=N makes the first N
/*	reads of inotify events act as an IN_Q_OVERFLOW (the events read
/*	are dropped), for the tests of the catch-up sweep.
/*
/*	Exit status: 0 after SIGTERM, 2 on errors; --reload and
/*	--approve: 0 when watch was told, 2 when it does not run.
/* SECURITY
/*	Only the process that holds the lock on STATE/watch/pid is
/*	signalled, and only when /proc names it mailcure: a stale pid
/*	file cannot send a signal to another process. Mail is read only
/*	through the store modules, which walk from "/" without following
/*	a link a user could plant. inotify only says when to look: its
/*	directories are watched through descriptors opened with
/*	O_NOFOLLOW (/proc/self/fd/N), so a user's symlink in a mailbox
/*	does not move a watch elsewhere, and at worst changes when a
/*	sweep runs, never what it reads.
/*--*/

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "watch.h"

/* Deliveries come in bursts: sweep once they pause this long (ms). */
#define SETTLE_MS 200
/* How often the --yara and --ioc files are looked at for a change (ms). */
#define RULES_POLL_MS 5000
/* How often the state forgets mail that left the window (s). */
#define COMPACT_SECONDS 3600
/* Directory levels below a store that are watched. */
#define WATCH_DEPTH 6

const char cmd_watch_usage[] =
	"usage: mailcure [GLOBAL OPTIONS] watch [-s STORE]... [--window DURATION]\n"
	"                [--policy FILE]\n"
	"       mailcure [GLOBAL OPTIONS] watch --reload\n"
	"       mailcure [GLOBAL OPTIONS] watch --approve CHANGE\n\n"
	"Watch the stores: check mail as it arrives, and re-check the mail of the\n"
	"window when the detections change (new signatures: --reload). Hits are\n"
	"quarantined (runs of their own: quarantine restore --run RUN), at most\n"
	"the policy's caps per detection change until --approve CHANGE.\n\n"
	"options:\n"
	"  -s, --store STORE   maildir:PATH, mbox:PATH, or a PATH (repeatable)\n"
	"  --window DURATION   how far back mail is re-checked: 48h (s, m, h, d)\n"
	"  --policy FILE       what is done per kind of hit, caps, digests\n"
	"                      (/etc/mailcure/watch-policy.conf lists them)\n"
	"  --reload            tell the running watch to load the detections again\n"
	"  --approve CHANGE    let detection change CHANGE act past its caps\n\n"
	"Exit status: 0 stopped by a signal, 2 errors.\n";

/* ---- control of a running watch ---- */

static char *watch_dir(const struct mc_global *g)
{
	return mc_xasprintf("%s/watch", g->state_dir);
}

/* The pid of the watch holding the lock on DIR/pid, or 0. */
static pid_t running_pid(const char *dir)
{
	char *path = mc_xasprintf("%s/pid", dir), comm[64] = "", *cpath;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	FILE *fp;

	if (fd < 0 && errno != ENOENT)
		mc_warn("watch: %s: %s", path, strerror(errno));
	free(path);
	if (fd < 0)
		return 0;
	if (fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type == F_UNLCK) {
		close(fd);
		return 0;
	}
	close(fd);
	cpath = mc_xasprintf("/proc/%ld/comm", (long)fl.l_pid);
	fp = fopen(cpath, "re");
	free(cpath);
	if (fp == NULL || fgets(comm, sizeof(comm), fp) == NULL)
		comm[0] = '\0';
	if (fp != NULL)
		fclose(fp);
	return strncmp(comm, "mailcure", 8) == 0 ? fl.l_pid : 0;
}

static int watch_signal(const struct mc_global *g, int sig)
{
	char *dir = watch_dir(g);
	pid_t pid = running_pid(dir);

	free(dir);
	if (pid == 0) {
		mc_warn("watch: no watch runs with state directory %s", g->state_dir);
		return MC_EXIT_ERROR;
	}
	if (kill(pid, sig) < 0) {
		mc_warn("watch: cannot signal process %ld: %s", (long)pid, strerror(errno));
		return MC_EXIT_ERROR;
	}
	return MC_EXIT_CLEAN;
}

/* The approval is a file the running watch (or the next) reads. */
static int watch_approve(const struct mc_global *g, const char *change)
{
	char *dir = watch_dir(g), *path = mc_xasprintf("%s/approve", dir), *tmp = NULL;
	char *error = NULL;
	FILE *fp = mc_cli_private_create(path, &tmp, &error);
	int ret = MC_EXIT_ERROR;

	if (strspn(change, "0123456789TZ-abcdef") != strlen(change) || *change == '\0') {
		mc_warn("watch: %s is not a detection change", change);
	} else if (fp == NULL) {
		mc_warn("watch: %s", error);
	} else {
		fprintf(fp, "%s\n", change);
		if (mc_cli_private_commit(fp, tmp, path, &error) < 0)
			mc_warn("watch: %s", error);
		else
			ret = running_pid(dir) != 0 ? watch_signal(g, SIGUSR1) : MC_EXIT_CLEAN;
		fp = NULL;
	}
	if (fp != NULL)
		mc_cli_private_commit(fp, tmp, path, &error);
	free(error);
	free(path);
	free(dir);
	return ret;
}

/* Hold the lock on DIR/pid for the life of the process. */
static int pid_lock(const char *dir)
{
	char *path = mc_xasprintf("%s/pid", dir), buf[32];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);

	free(path);
	if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0) {
		mc_warn("watch: %s/pid: %s", dir, fd < 0 ? strerror(errno) :
			"another watch runs with this state directory");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, strlen(buf), 0) < 0)
		mc_warn("watch: %s/pid: %s", dir, strerror(errno));
	return fd;
}

/* ---- inotify ---- */

struct wd_store {
	int wd;
	size_t store;
	const char *name;	/* a file store: only its own events */
};

struct loop {
	struct watch *w;
	int ino, sigfd;
	struct wd_store *wds;
	size_t wd_count, wd_cap;
	bool *dirty;
	double dirty_since;
	double rules_checked;
	double compacted;
	long test_overflows;
	bool stop;
};

static const char *store_path(const char *uri)
{
	const char *colon = strchr(uri, ':');

	return colon != NULL && uri[0] != '/' ? colon + 1 : uri;
}

static void wd_add(struct loop *l, int fd, size_t store, const char *name)
{
	char proc[64];
	int wd;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	wd = inotify_add_watch(l->ino, proc, IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE |
			       IN_MODIFY | IN_ONLYDIR);
	if (wd < 0) {
		watch_log(l->w, LOG_ERR, "inotify: %s", strerror(errno));
		return;
	}
	if (l->wd_count == l->wd_cap) {
		l->wd_cap = l->wd_cap * 2 + 16;
		l->wds = realloc(l->wds, l->wd_cap * sizeof(*l->wds));
		if (l->wds == NULL)
			abort();
	}
	l->wds[l->wd_count++] = (struct wd_store){ wd, store, name };
}

/* Watch directory FD and those below it (not tmp/: deliveries in
   progress), never through a link. */
static void watch_tree(struct loop *l, int fd, size_t store, unsigned depth)
{
	DIR *dir;
	struct dirent *de;

	wd_add(l, fd, store, NULL);
	if (depth >= WATCH_DEPTH || (dir = mc_dir_list(fd)) == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		int sub;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, "tmp") == 0 || de->d_type != DT_DIR)
			continue;
		sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0) {
			watch_tree(l, sub, store, depth + 1);
			close(sub);
		}
	}
	closedir(dir);
}

/* The stores were opened by the sweep before (their paths verified
   from "/"); here only what is watched is opened, without links. */
static void watch_stores(struct loop *l)
{
	for (size_t i = 0; i < l->w->uri_count; i++) {
		const char *path = store_path(l->w->uris[i]), *base = strrchr(path, '/');
		char *parent;
		struct stat st;
		int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

		if (fd < 0 || fstat(fd, &st) < 0) {
			watch_log(l->w, LOG_ERR, "%s: %s", path, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			watch_tree(l, fd, i, 0);
		} else if (base != NULL) {
			/* An mbox is rewritten by renames too: watch its
			   directory, for its name. */
			parent = base == path ? mc_xasprintf("/") :
				mc_xasprintf("%.*s", (int)(base - path), path);
			close(fd);
			fd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0)
				wd_add(l, fd, i, base + 1);
			free(parent);
		}
		if (fd >= 0)
			close(fd);
	}
}

static void mark(struct loop *l, size_t store)
{
	if (store == WATCH_ALL_STORES) {
		for (size_t i = 0; i < l->w->uri_count; i++)
			l->dirty[i] = true;
	} else {
		l->dirty[store] = true;
	}
	l->dirty_since = mc_now();
}

static void event_of(struct loop *l, const struct inotify_event *ev)
{
	for (size_t i = 0; i < l->wd_count; i++) {
		const struct wd_store *ws = &l->wds[i];

		if (ws->wd != ev->wd || (ws->name != NULL && (ev->len == 0 ||
							       strcmp(ev->name, ws->name) != 0)))
			continue;
		mark(l, ws->store);
	}
}

static int watches_init(struct loop *l)
{
	l->wd_count = 0;
	l->ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (l->ino < 0)
		return -1;
	watch_stores(l);
	return 0;
}

/* Watch every directory anew: simpler than following renames, and
   rare (a folder made). */
static void watches_renew(struct loop *l)
{
	close(l->ino);
	if (watches_init(l) < 0)
		watch_log(l->w, LOG_ERR, "inotify: %s", strerror(errno));
}

static void inotify_read(struct loop *l)
{
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n = read(l->ino, buf, sizeof(buf));
	bool overflow = false, rewatch = false;

	if (n <= 0)
		return;
	if (l->test_overflows > 0) {
		l->test_overflows--;
		overflow = true;
	}
	for (char *p = buf; !overflow && p < buf + n;) {
		const struct inotify_event *ev = (const struct inotify_event *)p;

		overflow = (ev->mask & IN_Q_OVERFLOW) != 0;
		if (!overflow)
			event_of(l, ev);
		/* A new folder: watched from now, and all swept, which
		   finds what came before its watch. */
		if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)))
			rewatch = overflow = true;
		p += sizeof(*ev) + ev->len;
	}
	if (rewatch)
		watches_renew(l);
	if (overflow) {
		watch_log(l->w, LOG_NOTICE, "inotify events lost or folders added: "
			  "sweeping all stores");
		mark(l, WATCH_ALL_STORES);
	}
}

/* ---- detection changes ---- */

static double cpu_seconds(void)
{
	struct rusage self, kids;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	return (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec) +
		(self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e6 +
		(double)(kids.ru_utime.tv_sec + kids.ru_stime.tv_sec) +
		(kids.ru_utime.tv_usec + kids.ru_stime.tv_usec) / 1e6;
}


static void summary(struct watch *w, const char *what, double start, double cpu0)
{
	const struct watch_counts *c = &w->counts;
	double cpu = cpu_seconds() - cpu0;

	if (w->g->json) {
		char *line = mc_xasprintf("{\"event\":\"%s\",\"change\":\"%s\",\"messages\":%llu,"
			"\"indexed\":%llu,\"rechecked\":%llu,\"parts_scanned\":%llu,"
			"\"hits\":%llu,\"quarantined\":%llu,\"reported\":%llu,\"held\":%llu,"
			"\"old_reported\":%llu,\"errors\":%llu,\"seconds\":%.3f,"
			"\"cpu_seconds\":%.3f,\"state_messages\":%zu,\"state_bytes\":%zu}",
			what, mc_watch_state_change(w->state),
			(unsigned long long)c->messages, (unsigned long long)c->indexed,
			(unsigned long long)c->rechecked, (unsigned long long)c->parts_scanned,
			(unsigned long long)c->hits, (unsigned long long)c->quarantined,
			(unsigned long long)c->reported, (unsigned long long)c->held,
			(unsigned long long)c->old_reported, (unsigned long long)c->errors,
			mc_now() - start, cpu, mc_watch_state_count(w->state),
			mc_watch_state_memory(w->state));
		puts(line);
		fflush(stdout);
		free(line);
	}
	watch_log(w, LOG_NOTICE, "%s: %llu messages re-checked, %llu parts rescanned, "
		  "%llu hits: %llu quarantined, %llu reported, %llu held, %llu older "
		  "reported (%.2f s, %.2f s CPU)", what, (unsigned long long)c->rechecked,
		  (unsigned long long)c->parts_scanned, (unsigned long long)c->hits,
		  (unsigned long long)c->quarantined, (unsigned long long)c->reported,
		  (unsigned long long)c->held, (unsigned long long)c->old_reported,
		  mc_now() - start, cpu);
}

static uint64_t parts_scanned(struct watch *w)
{
	struct mc_engine_stats es;

	memset(&es, 0, sizeof(es));
	w->det->ops->stats(w->det->engine, &es);
	return es.parts_scanned;
}

/* Re-check the window (and report old copies of what it found). */
static void recheck(struct watch *w, const char *what)
{
	double start = mc_now(), cpu0 = cpu_seconds();
	uint64_t parts0 = parts_scanned(w);

	memset(&w->counts, 0, sizeof(w->counts));
	w->hold_logged = false;
	watch_pass(w, PASS_RECHECK, WATCH_ALL_STORES);
	if (w->counts.hits > 0)
		watch_pass(w, PASS_OLD, WATCH_ALL_STORES);
	w->counts.parts_scanned = parts_scanned(w) - parts0;
	watch_run_end(w);
	watch_engine_save(w);
	summary(w, what, start, cpu0);
}

static int change_begin(struct watch *w)
{
	char *change = mc_run_id_new(), *error = NULL;
	int ret = mc_watch_state_change_begin(w->state, change, w->det->identity, &error);

	if (ret < 0) {
		watch_log(w, LOG_ERR, "%s", error);
		free(error);
	} else {
		watch_log(w, LOG_NOTICE, "detection change %s: detection set %.16s",
			  change, w->det->identity);
	}
	free(change);
	return ret;
}

static void reload(struct watch *w)
{
	struct watch_engine *det;

	if (watch_engine_open(w, &det) < 0)
		return;		/* the current set goes on */
	if (strcmp(det->identity, w->det->identity) == 0) {
		watch_log(w, LOG_INFO, "reload: the detections did not change");
		watch_engine_close(w, &det);
		return;
	}
	watch_engine_close(w, &w->det);
	w->det = det;
	if (change_begin(w) == 0)
		recheck(w, "recheck");
}

/* Approved past the caps: act on what was held. */
static void approve_check(struct watch *w)
{
	char *path = mc_xasprintf("%s/approve", w->dir), line[128] = "", *error = NULL;
	const char *change = mc_watch_state_change(w->state);
	FILE *fp = fopen(path, "re");

	free(path);
	if (fp == NULL)
		return;
	if (fgets(line, sizeof(line), fp) != NULL)
		line[strcspn(line, "\n")] = '\0';
	fclose(fp);
	if (change == NULL || strcmp(line, change) != 0 || mc_watch_state_approved(w->state))
		return;
	if (mc_watch_state_approve(w->state, change, &error) < 0) {
		watch_log(w, LOG_ERR, "%s", error);
		free(error);
		return;
	}
	watch_log(w, LOG_NOTICE, "detection change %s approved past its caps", change);
	recheck(w, "approved");
}

/* ---- the loop ---- */

static void sweep_dirty(struct loop *l)
{
	struct watch *w = l->w;
	size_t n = 0;

	for (size_t i = 0; i < w->uri_count; i++)
		n += l->dirty[i];
	memset(&w->counts, 0, sizeof(w->counts));
	for (size_t i = 0; i < w->uri_count; i++) {
		if (l->dirty[i]) {
			l->dirty[i] = false;
			watch_pass(w, PASS_SWEEP, n == w->uri_count ? WATCH_ALL_STORES : i);
			if (n == w->uri_count)
				break;
		}
	}
	for (size_t i = 0; n == w->uri_count && i < w->uri_count; i++)
		l->dirty[i] = false;
	watch_run_end(w);
}

static void signal_read(struct loop *l)
{
	struct signalfd_siginfo si;

	if (read(l->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP)
		reload(l->w);
	else if (si.ssi_signo == SIGUSR1)
		approve_check(l->w);
	else
		l->stop = true;
}

/* Mail that left the window is forgotten, and the log rewritten. */
static void compact(struct loop *l)
{
	char *error = NULL;

	l->compacted = mc_now();
	/* The verdicts of mail checked on arrival are saved here, at a
	   re-check and at the end: lost in a crash, they cost a rescan of
	   those messages at the next start, nothing more. */
	watch_engine_save(l->w);
	if (mc_watch_state_compact(l->w->state, time(NULL) - l->w->window, &error) < 0) {
		watch_log(l->w, LOG_ERR, "%s", error);
		free(error);
	}
}

static void loop_run(struct loop *l)
{
	while (!l->stop) {
		struct pollfd pfd[2] = { { l->sigfd, POLLIN, 0 }, { l->ino, POLLIN, 0 } };
		bool dirty = false;
		int timeout;

		for (size_t i = 0; i < l->w->uri_count; i++)
			dirty |= l->dirty[i];
		timeout = dirty ? SETTLE_MS : RULES_POLL_MS;
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN)
			signal_read(l);
		if (pfd[1].revents & POLLIN)
			inotify_read(l);
		if (dirty && mc_now() - l->dirty_since >= SETTLE_MS / 1000.0)
			sweep_dirty(l);
		if (mc_now() - l->compacted >= COMPACT_SECONDS)
			compact(l);
		if (mc_now() - l->rules_checked >= RULES_POLL_MS / 1000.0) {
			l->rules_checked = mc_now();
			if (watch_engine_rules_changed(l->w, l->w->det)) {
				watch_log(l->w, LOG_NOTICE, "the --yara or --ioc rules changed: reloading");
				reload(l->w);
			}
		}
	}
}

static int loop_init(struct loop *l, struct watch *w)
{
	sigset_t set;
	const char *hook = getenv("MAILCURE_WATCH_TEST_OVERFLOW");

	memset(l, 0, sizeof(*l));
	l->w = w;
	l->test_overflows = hook != NULL ? strtol(hook, NULL, 10) : 0;
	l->compacted = mc_now();
	l->dirty = watch_xcalloc(w->uri_count, sizeof(bool));
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	l->ino = -1;
	l->sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (l->sigfd < 0 || watches_init(l) < 0) {
		mc_warn("watch: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void loop_deinit(struct loop *l)
{
	if (l->ino >= 0)
		close(l->ino);
	if (l->sigfd >= 0)
		close(l->sigfd);
	free(l->wds);
	free(l->dirty);
}

/* ---- the command ---- */

static time_t parse_window(const char *s)
{
	char *end;
	unsigned long long n = strtoull(s, &end, 10);
	unsigned long long unit = *end == 'd' ? 86400 : *end == 'h' ? 3600 :
		*end == 'm' ? 60 : 1;

	if (end == s || (*end != '\0' && (strchr("smhd", *end) == NULL || end[1] != '\0')) ||
	    n == 0 || n > 3650ULL * 86400 / unit)
		mc_die_usage("watch: --window %s: a duration such as 48h, 2d, 90m", s);
	return (time_t)(n * unit);
}

/* Open the state, the quarantine and the detections; the first sweep
   (a re-check when the detections changed while watch was down). */
static int watch_start(struct watch *w)
{
	char *error = NULL;
	bool changed;

	if (mc_watch_policy_load(w->policy_path, &w->policy, &error) < 0 ||
	    mc_watch_state_open(w->dir, time(NULL) - w->window, &w->state, &error) < 0) {
		mc_warn("watch: %s", error);
		free(error);
		return -1;
	}
	if ((w->q = mc_cli_quarantine_open(w->g, true)) == NULL ||
	    watch_engine_open(w, &w->det) < 0)
		return -1;
	changed = mc_watch_state_identity(w->state) == NULL ||
		strcmp(mc_watch_state_identity(w->state), w->det->identity) != 0;
	if (changed && change_begin(w) < 0)
		return -1;
	approve_check(w);
	recheck(w, changed ? "recheck" : "sweep");
	return 0;
}

static int watch_run(struct watch *w)
{
	struct loop l;
	int lockfd = -1, ret = MC_EXIT_ERROR;

	w->dir = watch_dir(w->g);
	openlog("mailcure-watch", LOG_PID, LOG_MAIL);
	w->out = mc_output_init(w->g, true);
	/* The state is made by mc_watch_state_open; the lock comes
	   first, so that two watches never replay it at once. */
	if ((mkdir(w->g->state_dir, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(w->dir, 0700) < 0 && errno != EEXIST)) {
		mc_warn("watch: %s: %s", w->dir, strerror(errno));
		goto out;
	}
	if ((lockfd = pid_lock(w->dir)) < 0)
		goto out;
	/* The signals are taken before the first sweep: a reload sent
	   meanwhile waits for the loop. */
	if (loop_init(&l, w) < 0)
		goto out_loop;
	if (watch_start(w) == 0) {
		watch_log(w, LOG_NOTICE, "watching %zu stores, window %lld s",
			  w->uri_count, (long long)w->window);
		loop_run(&l);
		watch_engine_save(w);
		ret = MC_EXIT_CLEAN;
	}
out_loop:
	loop_deinit(&l);
out:
	watch_engine_close(w, &w->det);
	mc_cli_engine_tempdir_remove();
	mc_watch_state_close(&w->state);
	if (w->q != NULL)
		mc_quarantine_close(&w->q);
	mc_watch_policy_free(&w->policy);
	mc_output_deinit(&w->out);
	if (lockfd >= 0)
		close(lockfd);
	free(w->dir);
	closelog();
	return ret;
}

int cmd_watch(int argc, char **argv, struct mc_global *g)
{
	static const struct option options[] = {
		{ "store", required_argument, NULL, 's' },
		{ "window", required_argument, NULL, 'w' },
		{ "policy", required_argument, NULL, 'p' },
		{ "reload", no_argument, NULL, 'r' },
		{ "approve", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct watch w = { .g = g, .window = 48 * 3600 };
	const char *approve = NULL;
	bool do_reload = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "+s:", options, NULL)) != -1) {
		switch (c) {
		case 's':
			w.uris = realloc(w.uris, (w.uri_count + 1) * sizeof(char *));
			w.uris[w.uri_count++] = optarg;
			break;
		case 'w': w.window = parse_window(optarg); break;
		case 'p': w.policy_path = optarg; break;
		case 'r': do_reload = true; break;
		case 'a': approve = optarg; break;
		default: mc_die_command_usage();
		}
	}
	if (optind < argc || (do_reload && approve != NULL))
		mc_die_command_usage();
	if (do_reload)
		return watch_signal(g, SIGHUP);
	if (approve != NULL)
		return watch_approve(g, approve);
	if (w.uri_count == 0)
		mc_die_usage("watch: name the stores to watch with -s STORE");
	ret = watch_run(&w);
	free(w.uris);
	return ret;
}
