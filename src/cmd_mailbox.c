/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	cmd_mailbox 1
/* SUMMARY
/*	mailcure mailbox find|clean: find or remove messages in mail stores
/* SYNOPSIS
/*	mailcure mailbox find [-s STORE]... [QUERY]
/*	mailcure mailbox clean [-s STORE]... [QUERY]
/* DESCRIPTION
/*	find lists the messages that match QUERY (default "virus");
/*	clean moves each of them into the quarantine and then removes it
/*	from its store. With --dry-run, clean lists what it would do and
/*	changes nothing.
/*
/*	Without -s, the usual locations are searched: /var/mail,
/*	/var/spool/mail, /home/<user>/Maildir, /home/<user>/mail,
/*	/var/vmail. One of them that cannot be opened (a user's Maildir
/*	replaced by a symlink, which the store refuses) is an error
/*	event of the run, and the others are searched; the exit status
/*	is then 2. A store named with -s that cannot be opened ends the
/*	command.
/*
/*	Exit status: 0 nothing matched, 1 matches found (and acted on),
/*	2 something could not be read or scanned.
/* SECURITY
/*	libclamav unpacks into a private directory (mode 0700) made for
/*	the run in /dev/shm (or --tempdir, $TMPDIR, /tmp), which anybody
/*	can write to. Directories that killed runs left in /dev/shm
/*	are removed only when they are the running user's with mode
/*	0700 (nobody else can make one so), opened without following
/*	symlinks, and what is in them is removed by name, never
/*	followed.
/*
/*	Run as root, the scan processes (where libclamav parses what
/*	it is given) become the user nobody, each with a directory of
/*	its own inside the run's; files reach them already open.
/*	Where nobody cannot be become (a user namespace that does not
/*	map it), they stay root, and the run says so.
/*--*/

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <linux/magic.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"

/* The engine's companions for one command: the verdict cache and a
   private temporary directory. One engine per process. */
static struct {
	const struct mc_engine_ops *ops;
	struct mc_cache *cache;
	char *tempdir;		/* created here, removed at close */
} engine_aux;

/* Verdicts of this many bytes of parts are kept in memory, unless
   --cache-size says otherwise. Within one run the verdicts worth
   keeping are those of parts that recur (logos, forwarded files, an
   outbreak's attachment), and their keys are spread over the whole
   table, so all of it is soon in memory. A cache kept from run to run
   (--cache) also holds every message's verdict. */
#define CACHE_MEMORY (2U << 20)
#define CACHE_MEMORY_KEPT (8U << 20)

/* Remove everything below directory FD, never following a symlink
   (one is removed as a name). */
static void empty_dir(int fd, unsigned depth)
{
	DIR *dir = mc_dir_list(fd);
	struct dirent *de;

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		int sub;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, de->d_name, 0) == 0 || (errno != EISDIR && errno != EPERM))
			continue;
		sub = depth < 16 ? openat(fd, de->d_name, O_RDONLY | O_DIRECTORY |
					  O_NOFOLLOW | O_CLOEXEC) : -1;
		if (sub >= 0) {
			empty_dir(sub, depth + 1);
			close(sub);
		}
		(void)unlinkat(fd, de->d_name, AT_REMOVEDIR);
	}
	closedir(dir);
}

/* A run that was killed leaves its temporary directory behind, with
   whatever libclamav was unpacking then: decoded malware, in memory
   until the next reboot. Remove those of processes that are gone:
   named for their pid, ours (owner and mode 0700, which nobody else
   can fake), and untouched for a while, in case the pid is of
   another pid namespace that shares /dev/shm. */
#define TEMPDIR_STALE (10 * 60)

static void sweep_tempdirs(void)
{
	DIR *dir = opendir("/dev/shm");
	struct dirent *de;

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		const char *p = de->d_name + strlen("mailcure-");
		struct stat st;
		char *end;
		unsigned long pid;
		int fd;

		if (strncmp(de->d_name, "mailcure-", strlen("mailcure-")) != 0)
			continue;
		pid = strtoul(p, &end, 10);
		if (end == p || *end != '-' || pid == 0 || pid > INT_MAX)
			continue;
		/* Pids wrap: one named for this process, which has none
		   yet, was left by an earlier holder of the pid. */
		if ((pid_t)pid == getpid() ? engine_aux.tempdir != NULL :
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		fd = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			    O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && st.st_uid == geteuid() &&
		    (st.st_mode & 07777) == 0700 && st.st_mtime < time(NULL) - TEMPDIR_STALE) {
			empty_dir(fd, 0);
			(void)unlinkat(dirfd(dir), de->d_name, AT_REMOVEDIR);
		}
		close(fd);
	}
	closedir(dir);
}

/* libclamav writes every archive member and decoded document it
   unpacks to a file. On a tmpfs that costs no disk I/O and none of
   a disk file system's directory locking, which otherwise makes
   parallel scanners wait on each other. /dev/shm is used when it is
   a tmpfs with room for the largest file each scan process may unpack,
   else --tempdir, $TMPDIR or /tmp. The run's directory there is
   private (0700, random name after the pid) because decoded malware
   passes through it, and removed with all it holds at the end. */
static const char *engine_tempdir(const struct mc_global *g)
{
	struct statfs fs;
	unsigned long long need;
	const char *base = g->tempdir;
	char path[PATH_MAX];

	need = (unsigned long long)mc_cli_cpus() * g->limits.max_file_size;
	if (base == NULL && statfs("/dev/shm", &fs) == 0 && fs.f_type == TMPFS_MAGIC &&
	    (unsigned long long)fs.f_bavail * (unsigned long long)fs.f_bsize >= need) {
		sweep_tempdirs();
		base = "/dev/shm";
	}
	if (base == NULL && ((base = getenv("TMPDIR")) == NULL || *base != '/'))
		base = "/tmp";
	if ((size_t)snprintf(path, sizeof(path), "%s/mailcure-%ld-XXXXXX", base,
			     (long)getpid()) >= sizeof(path) || mkdtemp(path) == NULL) {
		mc_warn("cannot make a temporary directory in %s: %s", base,
			strerror(errno));
		return NULL;
	}
	engine_aux.tempdir = strdup(path);
	return engine_aux.tempdir;
}

/* Whom scan processes run as: nobody, when this is root and nobody
   can be become here (tried in a child, once per run). 0: as this
   process. */
static void scan_ids(uid_t *uid_r, gid_t *gid_r)
{
	static bool tried;
	static uid_t uid;
	static gid_t gid;
	struct passwd *pw;
	char *error = NULL, why[512] = "";
	int pipefd[2], status = -1;	/* -1: not an exit */
	pid_t pid;
	ssize_t n;

	if (tried || geteuid() != 0)
		goto out;
	tried = true;
	pw = getpwnam("nobody");
	uid = pw != NULL ? pw->pw_uid : 65534;
	gid = pw != NULL ? pw->pw_gid : 65534;
	if (pipe2(pipefd, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
	} else if (pid == 0) {
		close(pipefd[0]);
		if (mc_become_user(uid, gid, &error) < 0) {
			(void)!write(pipefd[1], error, strlen(error));
			_exit(1);
		}
		_exit(0);
	} else {
		close(pipefd[1]);
		n = read(pipefd[0], why, sizeof(why) - 1);
		why[n > 0 ? n : 0] = '\0';
		close(pipefd[0]);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			goto out;
		if (why[0] == '\0')
			snprintf(why, sizeof(why), "the test process failed");
	}
	mc_warn("scan processes run as root: %s", why);
	uid = 0;
	gid = 0;
out:
	*uid_r = uid;
	*gid_r = gid;
}

/* libclamav's scan processes need a directory to unpack in, given
   to their user. */
static void scan_user(struct mc_engine_settings *set)
{
	if (set->tempdir != NULL)
		scan_ids(&set->scan_uid, &set->scan_gid);
}

const struct mc_engine_ops *mc_cli_engine_ops(const struct mc_global *g)
{
	return g->clamd_count > 0 ? &mc_engine_clamd : &mc_engine_clamav;
}

int mc_cli_yara_open(const struct mc_global *g, struct mc_query *query,
		     struct mc_yara **yara_r)
{
	char *error = NULL;

	*yara_r = NULL;
	if (g->yara_count == 0) {
		if (!mc_query_needs_yara(query))
			return 0;
		mc_warn("the query's yara terms need rules: --yara FILE|DIR");
		return -1;
	}
	if (mc_yara_open(g->yara_paths, g->yara_count, &g->limits, yara_r, &error) < 0) {
		mc_warn("%s", error);
		free(error);
		return -1;
	}
	/* Before any thread starts; without scan processes the rules
	   run in the workers. Run by root, the scan processes are
	   nobody, as libclamav's are. */
	if (mc_query_needs_yara(query)) {
		uid_t uid;
		gid_t gid;
		scan_ids(&uid, &gid);
		mc_yara_set_user(*yara_r, uid, gid);
	}
	if (mc_query_needs_yara(query) && mc_yara_start(*yara_r, mc_cli_cpus(), &error) < 0) {
		if (g->verbose > 0)
			mc_warn("%s; rules run in the workers", error);
		free(error);
	}
	mc_query_set_yara(query, *yara_r);
	return 0;
}

int mc_cli_ioc_open(const struct mc_global *g, struct mc_query *query)
{
	char *error = NULL;

	if (g->ioc_count == 0) {
		if (!mc_query_has_ioc(query))
			return 0;
		mc_warn("the query's ioc term needs indicators: --ioc FILE");
		return -1;
	}
	if (mc_query_add_ioc(query, g->ioc_paths, g->ioc_count, &error) < 0) {
		mc_warn("%s", error);
		free(error);
		return -1;
	}
	return 0;
}

void mc_cli_engine_confine(const struct mc_global *g, const struct mc_engine_ops *ops,
			   struct mc_engine_settings *set)
{
	/* clamd unpacks in its own directory, in its own processes. */
	if (ops == &mc_engine_clamd)
		return;
	set->tempdir = engine_aux.tempdir != NULL ? engine_aux.tempdir : engine_tempdir(g);
	/* One per CPU: libclamav's scans are CPU-bound, and more
	   processes than CPUs only take turns (more CPU, not
	   faster); the -j workers read and decode meanwhile. */
	set->scan_processes = mc_cli_cpus();
	scan_user(set);
}

int mc_cli_engine_open(const struct mc_global *g, struct mc_engine **engine_r)
{
	const struct mc_engine_ops *ops = mc_cli_engine_ops(g);
	struct mc_engine_settings set = { .mode = g->scan_mode };
	char *error = NULL;
	bool cached = false;

	/* With clamd the daemons' addresses take the signatures' place:
	   they have theirs loaded. */
	if (ops->open(ops == &mc_engine_clamd ? g->clamds : g->databases,
		      ops == &mc_engine_clamd ? g->clamd_count : g->database_count,
		      &g->limits, engine_r, &error) < 0)
		goto fail;
	engine_aux.ops = ops;
	engine_aux.cache = mc_cache_new(g->cache_size > 0 ? g->cache_size :
					g->cache_path != NULL ? CACHE_MEMORY_KEPT : CACHE_MEMORY);
	set.cache = engine_aux.cache;
	set.cache_messages = g->cache_path != NULL;
	mc_cli_engine_confine(g, ops, &set);
	set.exit_after_close = ops != &mc_engine_clamd;	/* see commands.h */
	ops->configure(*engine_r, &set);
	if (g->cache_path != NULL) {
		unsigned char identity[32];
		struct mc_cache_stats cs;
		bool stale;

		if (ops->identity(*engine_r, identity, &error) < 0 ||
		    mc_cache_load(engine_aux.cache, g->cache_path, identity,
				  &stale, &error) < 0) {
			mc_cli_engine_close(NULL, engine_r);
			goto fail;
		}
		if (stale && g->verbose > 0)
			mc_warn("verdict cache %s was made with other signatures "
				"or settings: starting afresh", g->cache_path);
		mc_cache_stats(engine_aux.cache, &cs);
		cached = cs.entries > 0;
	}
	/* The engine loads its signatures at the first scan it is asked
	   for. Without verdicts kept from an earlier run that is at once,
	   and loading now makes a broken database one error, here. */
	if (!cached && ops->load != NULL && ops->load(*engine_r, &error) < 0) {
		mc_cli_engine_close(NULL, engine_r);
		goto fail;
	}
	return 0;
fail:
	mc_warn("%s", error);
	free(error);
	return -1;
}

void mc_cli_engine_close(const struct mc_global *g, struct mc_engine **engine)
{
	char *error = NULL;

	if (*engine == NULL)
		return;
	engine_aux.ops->close(engine);
	if (engine_aux.cache != NULL && g != NULL && g->cache_path != NULL && !g->dry_run &&
	    mc_cache_save(engine_aux.cache, g->cache_path, &error) < 0) {
		mc_warn("%s", error);
		free(error);
	}
	mc_cache_free(&engine_aux.cache);
	mc_cli_engine_tempdir_remove();
}

void mc_cli_engine_tempdir_remove(void)
{
	if (engine_aux.tempdir != NULL) {
		/* libclamav removes what it unpacks, except in a scan
		   process that crashed: the scan processes are gone now,
		   and what they left goes too. What a killed run leaves,
		   a later one removes (sweep_tempdirs). */
		int fd = open(engine_aux.tempdir, O_RDONLY | O_DIRECTORY |
			      O_NOFOLLOW | O_CLOEXEC);

		if (fd >= 0) {
			empty_dir(fd, 0);
			close(fd);
		}
		(void)rmdir(engine_aux.tempdir);
		free(engine_aux.tempdir);
		engine_aux.tempdir = NULL;
	}
}

/* The stores searched when none is given. A symlink found there is
   a store too: opening it follows it only when root made it (as
   /var/spool/mail -> ../mail), and refuses, naming its owner, one
   that a user put in place of his Maildir. */
static void default_stores(const char ***stores, size_t *count)
{
	static const char *const patterns[] = {
		"/var/mail", "/var/spool/mail", "/home/*/Maildir", "/home/*/mail",
		"/var/vmail",
	};
	struct stat st, seen[64];
	size_t nseen = 0;

	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		glob_t gl;

		if (glob(patterns[i], GLOB_NOSORT, NULL, &gl) != 0)
			continue;
		for (size_t j = 0; j < gl.gl_pathc; j++) {
			struct stat lst;
			bool dup = false;

			if (lstat(gl.gl_pathv[j], &lst) < 0)
				continue;
			/* /var/spool/mail is often /var/mail under another name. */
			if (stat(gl.gl_pathv[j], &st) < 0 || !S_ISDIR(st.st_mode)) {
				if (!S_ISLNK(lst.st_mode))
					continue;
				st = lst;
			}
			for (size_t k = 0; k < nseen; k++)
				dup |= seen[k].st_dev == st.st_dev && seen[k].st_ino == st.st_ino;
			if (dup)
				continue;
			if (nseen < 64)
				seen[nseen++] = st;
			*stores = realloc(*stores, (*count + 1) * sizeof(char *));
			(*stores)[(*count)++] = strdup(gl.gl_pathv[j]);
		}
		globfree(&gl);
	}
}

const char cmd_mailbox_usage[] =
	"usage: mailcure [GLOBAL OPTIONS] mailbox find [-s STORE]... [QUERY]\n"
	"       mailcure [GLOBAL OPTIONS] mailbox clean [-s STORE]... [QUERY]\n\n"
	"find lists the messages that match QUERY (default: virus); clean puts each\n"
	"of them into the quarantine, then removes it from its store (with\n"
	"--dry-run it only says so). Undo a clean with 'mailcure quarantine restore\n"
	"--run RUN'.\n\n"
	"options:\n"
	"  -s, --store STORE   maildir:PATH, mbox:PATH, eml:PATH, dovecot:USERMASK,\n"
	"                      or a PATH whose kind is detected (a Maildir, an mbox,\n"
	"                      or a tree of them such as /var/mail); repeatable.\n"
	"                      Default: /var/mail, /var/spool/mail, /home/*/Maildir,\n"
	"                      /home/*/mail, /var/vmail\n\n"
	"Exit status: 0 nothing matched, 1 matches found (and acted on), 2 errors.\n";

/* SIGTERM or SIGINT during a run: stop reading, finish what is read
   (a removal in progress included), print the summary. Caught from
   the start of the command, so that one that comes while the engine
   loads ends the run before it reads anything. The handler is reset
   by the first signal, so a second kills at once, which the
   quarantine survives too (an mbox removal is settled next time). */
static volatile sig_atomic_t interrupt_signal;
static struct sigaction interrupt_old[2];
static unsigned interrupt_depth;

static void on_interrupt(int sig)
{
	interrupt_signal = sig;
}

static void interrupt_catch(void)
{
	struct sigaction sa;

	if (interrupt_depth++ > 0)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sa.sa_flags = SA_RESTART | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	interrupt_signal = 0;
	sigaction(SIGTERM, &sa, &interrupt_old[0]);
	sigaction(SIGINT, &sa, &interrupt_old[1]);
}

static void interrupt_release(void)
{
	if (--interrupt_depth > 0)
		return;
	sigaction(SIGTERM, &interrupt_old[0], NULL);
	sigaction(SIGINT, &interrupt_old[1], NULL);
}

int mc_cli_pipeline(const struct mc_global *g, struct mc_store **stores,
		    size_t store_count, const struct mc_query *query,
		    struct mc_engine *engine,
		    struct mc_quarantine *q, bool acting,
		    const struct mc_cli_store_error *errors, size_t error_count)
{
	char *run_id = mc_cli_run_id(g), *error = NULL;
	struct mc_output *out = mc_output_init(g, acting);
	struct mc_run run = {
		.stores = stores,
		.store_count = store_count,
		.query = query,
		.engine_ops = engine != NULL ? mc_cli_engine_ops(g) : NULL,
		.engine = engine,
		.limits = &g->limits,
		.action = acting ? MC_ACTION_QUARANTINE : MC_ACTION_NONE,
		.dry_run = g->dry_run,
		.quarantine = q,
		.run_id = run_id,
		.jobs = mc_cli_jobs(g),
		.on_event = mc_output_event,
		.on_progress = mc_output_progress,
		.context = out,
		.interrupt = &interrupt_signal,
	};
	struct mc_summary sum;
	int exit_code = MC_EXIT_ERROR, ret;

	for (size_t i = 0; i < error_count; i++) {
		struct mc_msg none = { .loc = { .store = errors[i].uri, .path = errors[i].uri,
						.offset = -1 } };
		struct mc_event ev = { .type = MC_EVENT_ERROR, .msg = &none,
				       .why = errors[i].why };

		mc_output_event(&ev, out);
	}
	interrupt_catch();
	ret = mc_run_pipeline(&run, &sum, &error);
	interrupt_release();
	if (ret < 0) {
		mc_warn("%s", error);
		free(error);
	} else {
		sum.errors += error_count;
		mc_output_set_query(out, query);
		mc_output_summary(out, &sum);
		exit_code = sum.errors > 0 || sum.unscanned > 0 ? MC_EXIT_ERROR :
			sum.matched > 0 ? MC_EXIT_FOUND : MC_EXIT_CLEAN;
	}
	mc_output_deinit(&out);
	free(run_id);
	return exit_code;
}

int mc_cli_verb(int *argc, char ***argv, const char *const *verbs)
{
	for (int i = 0; *argc >= 2 && verbs[i] != NULL; i++) {
		if (strcmp((*argv)[1], verbs[i]) == 0) {
			(*argc)--;
			(*argv)++;
			optind = 1;
			return i;
		}
	}
	mc_die_command_usage();
}

int cmd_mailbox(int argc, char **argv, struct mc_global *g)
{
	static const struct option options[] = {
		{ "store", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const verbs[] = { "find", "clean", NULL };
	const char **uris = NULL;
	size_t uri_count = 0, store_count = 0, refused = 0;
	struct mc_cli_store_error *errors = NULL;
	bool clean;
	int c, exit_code;

	clean = mc_cli_verb(&argc, &argv, verbs) == 1;
	while ((c = getopt_long(argc, argv, "+s:", options, NULL)) != -1) {
		if (c != 's')
			mc_die_command_usage();
		uris = realloc(uris, (uri_count + 1) * sizeof(char *));
		uris[uri_count++] = optarg;
	}
	char *query_text = mc_cli_join_args(argc - optind, argv + optind);
	char *error = NULL;
	struct mc_query *query = mc_query_parse(query_text, &error);
	struct mc_store **stores = NULL;
	struct mc_engine *engine = NULL;
	struct mc_yara *yara = NULL;
	struct mc_quarantine *q = NULL;
	bool owned_uris = false;

	exit_code = MC_EXIT_ERROR;
	interrupt_catch();
	free(query_text);
	if (query == NULL) {
		mc_warn("%s", error);
		goto out;
	}
	if (mc_cli_ioc_open(g, query) < 0)
		goto out;
	if (uri_count == 0) {
		default_stores(&uris, &uri_count);
		owned_uris = true;
		if (uri_count == 0) {
			mc_warn("no mail store found in the usual places; give one with -s STORE");
			goto out;
		}
	}

	/* Opened first: a store settles in it what a clean that was
	   interrupted left, before it reads a mailbox. */
	if (clean && !g->dry_run) {
		q = mc_cli_quarantine_open(g, true);
		if (q == NULL)
			goto out;
	}
	/* The pipeline reads each message's body when the query needs it. */
	struct mc_store_settings set = { .limits = &g->limits, .dry_run = g->dry_run,
					 .heads_first = true,
					 .loads_without_raw = !clean || g->dry_run,
					 .bodies_read = mc_query_needs_body(query),
					 .quarantine = q };
	stores = calloc(uri_count, sizeof(*stores));
	for (size_t i = 0; i < uri_count; i++) {
		if (mc_store_open(uris[i], &set, &stores[store_count], &error) == 0) {
			store_count++;
			continue;
		}
		/* A store named with -s is the administrator's to fix; one
		   of the usual places that cannot be opened (a user's
		   Maildir replaced by a symlink) must not keep the other
		   users' mail from being cleaned: it is an error of the
		   run, reported with the others. */
		if (!owned_uris) {
			mc_warn("%s", error);
			goto out;
		}
		errors = realloc(errors, (refused + 1) * sizeof(*errors));
		errors[refused].uri = uris[i];
		errors[refused++].why = error;
		error = NULL;
	}
	if (mc_cli_yara_open(g, query, &yara) < 0)
		goto out;
	if (mc_query_needs_engine(query) && mc_cli_engine_open(g, &engine) < 0)
		goto out;

	exit_code = mc_cli_pipeline(g, stores, store_count, query, engine, q, clean,
				    errors, refused);
out:
	for (size_t i = 0; i < refused; i++)
		free(errors[i].why);
	free(errors);
	for (size_t i = 0; stores != NULL && i < store_count; i++)
		mc_store_close(&stores[i]);
	free(stores);
	if (owned_uris) {
		for (size_t i = 0; i < uri_count; i++)
			free((char *)uris[i]);
	}
	free(uris);
	free(error);
	if (engine != NULL)
		mc_cli_engine_close(g, &engine);
	if (q != NULL)
		mc_quarantine_close(&q);
	mc_query_free(&query);
	mc_yara_close(&yara);
	interrupt_release();
	return exit_code;
}
