/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	cmd_queue 1
/* SUMMARY
/*	mailcure queue: inspect, search, clean, freeze and thaw the mail queue
/* SYNOPSIS
/*	mailcure queue status
/*	mailcure queue list
/*	mailcure queue find [QUERY]
/*	mailcure queue scan
/*	mailcure queue delete [QUERY]
/*	mailcure queue freeze
/*	mailcure queue thaw [--force]
/*	mailcure queue release ID...
/*
/*	Options: --mta auto|postfix|exim (whose queue; auto: the MTA
/*	installed and configured), --postfix-config DIR (another Postfix
/*	instance; default the settings file's postfix_config, else
/*	postconf's), --exim-config FILE (another Exim instance),
/*	--queue NAME (only that queue: incoming, active, deferred,
/*	hold, maildrop; repeatable).
/* DESCRIPTION
/*	status counts the messages and bytes of each queue and says
/*	whether the MTA runs and whether the queue is frozen. list shows
/*	every queued message: id, queue, arrival time, size, envelope
/*	sender, recipients and Subject.
/*
/*	find matches the whole query language against the content of
/*	each queued message (Postfix's own tools see only the envelope);
/*	scan is "find virus". delete puts every matching message, with
/*	its envelope, into the quarantine and then removes it (Postfix:
/*	postsuper -d; Exim: its spool files under Exim's lock), which
/*	never bounces (infected mail has forged senders). Without a
/*	freeze, matching Postfix messages are put on hold before they
/*	are checked and removed.
/*
/*	freeze stops delivery of everything queued and of everything
/*	that arrives, while the MTA keeps accepting mail (SMTP and
/*	sendmail); a second freeze changes nothing. thaw restores every
/*	file the freeze changed byte for byte (Postfix: main.cf and
/*	master.cf; Exim: its configuration file) and lets the mail flow
/*	again. release takes messages off hold (Exim: thaws and delivers
/*	them now). A deleted message comes back with "mailcure quarantine
/*	restore ID": it is re-injected with its original envelope sender
/*	and recipients.
/*
/*	Everything MTA-specific goes through <mailcure/mta.h>.
/*
/*	Exit status: 0 nothing matched (or the action was done),
/*	1 matches found (and acted on), 2 errors (a queue file could not
/*	be read, the MTA is missing, not root, ...).
/*--*/

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "commands.h"
#include "mailcure/mta.h"

struct queue_opts {
	const char *config_dir;
	const char *exim_config;
	enum mc_mta_kind mta;	/* never MC_MTA_AUTO once resolved */
	const struct mc_store_ops *ops;
	unsigned queue_mask;	/* 0 = all */
	bool force;
};

const char cmd_queue_usage[] =
	"usage: mailcure [GLOBAL OPTIONS] queue status|list|scan|freeze [OPTIONS]\n"
	"       mailcure [GLOBAL OPTIONS] queue find|delete [OPTIONS] [QUERY]\n"
	"       mailcure [GLOBAL OPTIONS] queue thaw [--force] [OPTIONS]\n"
	"       mailcure [GLOBAL OPTIONS] queue release [OPTIONS] ID...\n\n"
	"status   messages and bytes per queue; whether the MTA runs, whether frozen\n"
	"list     every queued message: id, queue, arrival, size, envelope, Subject\n"
	"find     the queued messages that match QUERY (default: virus); scan is\n"
	"         find virus\n"
	"delete   quarantine the matching messages with their envelope, then remove\n"
	"         them (never bounced)\n"
	"freeze   stop all delivery; the MTA still accepts mail\n"
	"thaw     restore the files freeze changed byte for byte, deliver again\n"
	"release  take messages off hold (Exim: thaw and deliver them now)\n\n"
	"options:\n"
	"      --mta auto|postfix|exim  the MTA whose queue this is (default auto:\n"
	"                            the one installed and configured)\n"
	"      --postfix-config DIR  another Postfix instance (its main.cf directory)\n"
	"      --exim-config FILE    another Exim instance (as exim -C FILE)\n"
	"      --queue NAME          only incoming, active, deferred, hold or\n"
	"                            maildrop (repeatable)\n"
	"      --force               thaw even when the configuration changed\n"
	"                            while frozen\n\n"
	"Exit status: 0 nothing matched (or done), 1 matches found (and acted on),\n"
	"2 errors.\n";

/* The instance of the resolved MTA. */
static const char *mta_config(const struct queue_opts *o)
{
	return o->mta == MC_MTA_EXIM ? o->exim_config : o->config_dir;
}

static int open_mta(const struct queue_opts *o, struct mc_mta **mta_r)
{
	char *error = NULL;

	if (mc_mta_open(o->mta, mta_config(o), mta_r, &error) < 0) {
		mc_warn("%s", error);
		free(error);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */

static void status_json(const struct queue_opts *o, const struct mc_mta *mta,
			const struct mc_mta_status *st)
{
	json_object *obj = json_object_new_object(), *queues = json_object_new_object();
	bool exim = o->mta == MC_MTA_EXIM;

	mc_output_json_str(obj, "event", "status");
	mc_output_json_str(obj, "mta", mc_mta_kind_name(o->mta));
	mc_output_json_str(obj, exim ? "config_file" : "config_directory", mc_mta_config(mta));
	mc_output_json_str(obj, exim ? "spool_directory" : "queue_directory", st->queue_dir);
	mc_output_json_str(obj, "mail_version", st->version);
	json_object_object_add(obj, "running", json_object_new_boolean(st->pid != 0));
	if (st->pid != 0)
		json_object_object_add(obj, exim ? "daemon_pid" : "master_pid",
				       json_object_new_int64(st->pid));
	json_object_object_add(obj, "frozen", json_object_new_boolean(st->frozen));
	if (st->freeze_recorded)
		json_object_object_add(obj, "frozen_at", json_object_new_int64((int64_t)st->frozen_at));
	for (size_t q = 0; q < st->queue_count; q++) {
		json_object *qo = json_object_new_object();
		json_object_object_add(qo, "messages", json_object_new_int64((int64_t)st->messages[q]));
		json_object_object_add(qo, "bytes", json_object_new_int64((int64_t)st->bytes[q]));
		json_object_object_add(queues, mc_mta_queue_name(o->mta, q), qo);
	}
	json_object_object_add(obj, "queues", queues);
	json_object_object_add(obj, "messages", json_object_new_int64((int64_t)st->total_messages));
	json_object_object_add(obj, "bytes", json_object_new_int64((int64_t)st->total_bytes));
	json_object_object_add(obj, "incomplete", json_object_new_int64((int64_t)st->incomplete));
	mc_output_json(stdout, obj);
}

static void status_text(const struct queue_opts *o, const struct mc_mta *mta,
			const struct mc_mta_status *st)
{
	char when[64], bytes[32];

	if (o->mta == MC_MTA_EXIM)
		mc_output_printf("Exim %s, configuration %s, spool %s%s\n",
				 st->version != NULL ? st->version : "?", mc_mta_config(mta),
				 st->queue_dir, st->split ? " (split)" : "");
	else
		mc_output_printf("Postfix %s, configuration %s, queue %s\n", st->version,
				 mc_mta_config(mta), st->queue_dir);
	if (st->pid != 0)
		mc_output_printf("running:   yes (%s pid %ld)\n",
				 o->mta == MC_MTA_EXIM ? "daemon" : "master", (long)st->pid);
	else
		mc_output_printf("running:   no\n");
	if (st->frozen && st->freeze_recorded) {
		mc_output_time(st->frozen_at, when, sizeof(when));
		mc_output_printf("frozen:    yes, since %s (mailcure queue thaw to undo)\n", when);
	} else if (st->frozen) {
		mc_output_printf("frozen:    yes (%s; not frozen by mailcure)\n",
				 o->mta == MC_MTA_EXIM ? "queue_only and hold_domains = *" :
				 "no queue manager");
	} else if (st->freeze_recorded) {
		mc_output_printf("frozen:    no, but a freeze is recorded: run mailcure queue "
				 "freeze or thaw\n");
	} else {
		mc_output_printf("frozen:    no\n");
	}
	for (size_t q = 0; q < st->queue_count && st->queue_count > 1; q++) {
		mc_output_bytes((double)st->bytes[q], bytes, sizeof(bytes));
		mc_output_printf("%-10s %8llu messages  %10s\n", mc_mta_queue_name(o->mta, q),
				 (unsigned long long)st->messages[q], bytes);
	}
	mc_output_bytes((double)st->total_bytes, bytes, sizeof(bytes));
	mc_output_printf("%-10s %8llu messages  %10s\n", "total",
			 (unsigned long long)st->total_messages, bytes);
	if (st->incomplete > 0)
		mc_output_printf("(%llu more being received)\n",
				 (unsigned long long)st->incomplete);
}

static int queue_status(const struct queue_opts *o, struct mc_global *g)
{
	struct mc_mta *mta;
	struct mc_mta_status st;
	char *error = NULL;

	if (open_mta(o, &mta) < 0)
		return MC_EXIT_ERROR;
	if (mc_mta_status(mta, g->state_dir, &st, &error) < 0) {
		mc_warn("%s", error);
		free(error);
		mc_mta_close(&mta);
		return MC_EXIT_ERROR;
	}
	if (g->json)
		status_json(o, mta, &st);
	else
		status_text(o, mta, &st);
	mc_mta_close(&mta);
	return MC_EXIT_CLEAN;
}

/* Which MTA's queue: the one asked for, the one whose instance was
   named, or the one installed and configured here. */
static int resolve_mta(struct queue_opts *o)
{
	char *why = NULL;

	if (o->mta == MC_MTA_POSTFIX && o->exim_config != NULL)
		mc_die_usage("--exim-config names an Exim instance, but --mta is postfix");
	if (o->mta == MC_MTA_EXIM && o->config_dir != NULL)
		mc_die_usage("--postfix-config names a Postfix instance, but --mta is exim");
	if (o->mta == MC_MTA_AUTO && o->exim_config != NULL && o->config_dir != NULL)
		mc_die_usage("--postfix-config and --exim-config: choose one MTA");
	if (o->mta == MC_MTA_AUTO && o->exim_config != NULL)
		o->mta = MC_MTA_EXIM;
	if (o->mta == MC_MTA_AUTO && o->config_dir != NULL)
		o->mta = MC_MTA_POSTFIX;
	if (o->mta == MC_MTA_AUTO && !mc_mta_in_use(MC_MTA_AUTO, NULL, &o->mta, &why)) {
		mc_warn("%s", why);
		free(why);
		return -1;
	}
	if (o->mta == MC_MTA_EXIM && o->queue_mask != 0)
		mc_die_usage("--queue: Exim has one queue (no --queue)");
	o->ops = o->mta == MC_MTA_EXIM ? &mc_store_exim : &mc_store_postfix;
	return 0;
}

/* ------------------------------------------------------------------ */

static int open_store(const struct queue_opts *o, struct mc_global *g,
		      char **uri_r, struct mc_store **store_r)
{
	struct mc_store_settings set = { .limits = &g->limits, .dry_run = g->dry_run };
	const char *arg = mta_config(o);
	char *error = NULL;
	char *uri = mc_xasprintf("%s:%s", o->ops->name, arg != NULL ? arg : "");

	if (o->ops->open(uri, strchr(uri, ':') + 1, &set, store_r, &error) < 0) {
		mc_warn("%s", error);
		free(error);
		free(uri);
		return -1;
	}
	if (o->queue_mask != 0)
		mc_mta_store_set_queues(*store_r, o->queue_mask);
	*uri_r = uri;
	return 0;
}

static int queue_list(const struct queue_opts *o, struct mc_global *g)
{
	struct mc_store *store;
	struct mc_msg *msg;
	char *uri, *error = NULL;
	uint64_t count = 0, bytes = 0, errors = 0;
	int ret;

	if (open_store(o, g, &uri, &store) < 0)
		return MC_EXIT_ERROR;
	while ((ret = mc_store_next(store, &msg, &error)) > 0) {
		const struct mc_location *loc = &msg->loc;
		const char *subject = NULL, *from = NULL;
		struct mc_facts *facts = NULL;
		char when[64];

		if (msg->read_error != NULL) {
			errors++;
			if (g->json) {
				json_object *obj = json_object_new_object();
				mc_output_json_str(obj, "event", "error");
				mc_output_location_json(obj, loc);
				mc_output_json_str(obj, "why", msg->read_error);
				mc_output_json(stdout, obj);
			} else {
				mc_output_printf("%s %s: ERROR (%s)\n", loc->queue_id != NULL ?
						 loc->queue_id : loc->path != NULL ? loc->path : "?",
						 loc->folder != NULL ? loc->folder : "?",
						 msg->read_error);
			}
			mc_store_msg_free(store, &msg);
			continue;
		}
		count++;
		bytes += msg->size;
		if (msg->data != NULL) {
			facts = mc_facts_init(msg, &g->limits);
			subject = mc_facts_header(facts, "Subject");
			from = mc_facts_header(facts, "From");
		}
		if (g->json) {
			json_object *obj = json_object_new_object();
			mc_output_json_str(obj, "event", "message");
			mc_output_location_json(obj, loc);
			json_object_object_add(obj, "size", json_object_new_int64((int64_t)msg->size));
			mc_output_json_str(obj, "from", from);
			mc_output_json_str(obj, "subject", subject);
			mc_output_json(stdout, obj);
		} else {
			mc_output_time(loc->arrival_time, when, sizeof(when));
			mc_output_printf("%-12s %-9s %s %9zu <%s> ->", loc->queue_id, loc->folder,
					 when, msg->size, loc->envelope_sender != NULL ?
					 loc->envelope_sender : "?");
			for (size_t i = 0; i < loc->recipient_count; i++)
				mc_output_printf("%s<%s>", i > 0 ? ", " : " ", loc->recipients[i]);
			if (loc->recipient_count == 0)
				mc_output_printf(" (none left)");
			mc_output_printf("  Subject: %s\n", subject != NULL ? subject : "");
		}
		mc_facts_free(&facts);
		mc_store_msg_free(store, &msg);
	}
	if (ret < 0) {
		mc_warn("%s", error);
		free(error);
		errors++;
	}
	if (g->json) {
		json_object *obj = json_object_new_object();
		mc_output_json_str(obj, "event", "summary");
		json_object_object_add(obj, "messages", json_object_new_int64((int64_t)count));
		json_object_object_add(obj, "bytes", json_object_new_int64((int64_t)bytes));
		json_object_object_add(obj, "errors", json_object_new_int64((int64_t)errors));
		mc_output_json(stdout, obj);
	} else if (g->verbose >= 0) {
		char b[32];
		mc_output_bytes((double)bytes, b, sizeof(b));
		mc_output_printf("-- %llu messages, %s%s\n", (unsigned long long)count, b,
				 errors > 0 ? ", with errors" : "");
	}
	mc_store_close(&store);
	free(uri);
	return errors > 0 ? MC_EXIT_ERROR : MC_EXIT_CLEAN;
}

/* ------------------------------------------------------------------ */

/* Deleting from a live queue works (each message is put on hold
   first, or left alone while in delivery) but a freeze is the safe
   way: say so. */
static void warn_not_frozen(const struct queue_opts *o, const struct mc_global *g)
{
	struct mc_mta *mta;

	if (mc_mta_open(o->mta, mta_config(o), &mta, NULL) < 0)
		return;
	if (mc_mta_delivering(mta, g->state_dir))
		mc_warn("note: the queue of %s is not frozen: %s, and those already "
			"in delivery are left alone (mailcure queue freeze stops all "
			"delivery first)", mc_mta_config(mta), o->mta == MC_MTA_EXIM ?
			"a message is locked while it is checked and removed" :
			"matching messages are put on hold before they are removed");
	mc_mta_close(&mta);
}

static int queue_find(const struct queue_opts *o, struct mc_global *g,
		      const char *query_text, bool delete)
{
	char *error = NULL;
	struct mc_query *query = mc_query_parse(query_text, &error);
	struct mc_store *store;
	char *uri;
	int exit_code;

	if (query == NULL) {
		mc_warn("%s", error);
		free(error);
		return MC_EXIT_ERROR;
	}
	struct mc_yara *yara = NULL;
	if (mc_cli_ioc_open(g, query) < 0 || mc_cli_yara_open(g, query, &yara) < 0) {
		mc_query_free(&query);
		return MC_EXIT_ERROR;
	}
	if (open_store(o, g, &uri, &store) < 0) {
		mc_query_free(&query);
		mc_yara_close(&yara);
		return MC_EXIT_ERROR;
	}
	struct mc_engine *engine = NULL;
	if (mc_query_needs_engine(query) && mc_cli_engine_open(g, &engine) < 0) {
		mc_store_close(&store);
		mc_query_free(&query);
		mc_yara_close(&yara);
		free(uri);
		return MC_EXIT_ERROR;
	}
	if (delete && !g->json && g->verbose >= 0)
		warn_not_frozen(o, g);
	struct mc_quarantine *q = NULL;
	if (delete && !g->dry_run) {
		q = mc_cli_quarantine_open(g, true);
		if (q == NULL) {
			if (engine != NULL)
				mc_cli_engine_close(g, &engine);
			mc_store_close(&store);
			mc_query_free(&query);
			mc_yara_close(&yara);
			free(uri);
			return MC_EXIT_ERROR;
		}
	}

	struct mc_store *stores[1] = { store };
	exit_code = mc_cli_pipeline(g, stores, 1, query, engine, q, delete, NULL, 0);
	mc_store_close(&store);
	free(uri);
	if (engine != NULL)
		mc_cli_engine_close(g, &engine);
	if (q != NULL)
		mc_quarantine_close(&q);
	mc_query_free(&query);
	mc_yara_close(&yara);
	return exit_code;
}

/* ------------------------------------------------------------------ */

/* Print NOTE (lines) indented under the result. */
static void print_note(char *note)
{
	for (char *line = note; line != NULL;) {
		char *nl = strchr(line, '\n');
		if (nl != NULL)
			*nl = '\0';
		mc_output_printf("  %s\n", line);
		line = nl != NULL ? nl + 1 : NULL;
	}
}

static int queue_freeze_thaw(const struct queue_opts *o, struct mc_global *g,
			     bool freeze)
{
	struct mc_mta *mta;
	char *note = NULL, *error = NULL;
	int ret;

	if (open_mta(o, &mta) < 0)
		return MC_EXIT_ERROR;
	if (freeze)
		ret = mc_mta_freeze(mta, g->state_dir, g->dry_run, &note, &error);
	else
		ret = mc_mta_thaw(mta, g->state_dir, o->force, g->dry_run, &note, &error);
	if (ret < 0) {
		mc_warn("queue %s: %s", freeze ? "freeze" : "thaw", error);
		free(error);
		free(note);
		mc_mta_close(&mta);
		return MC_EXIT_ERROR;
	}
	if (g->json) {
		json_object *obj = json_object_new_object();
		mc_output_json_str(obj, "event", freeze ? "freeze" : "thaw");
		mc_output_json_str(obj, "mta", mc_mta_kind_name(o->mta));
		mc_output_json_str(obj, o->mta == MC_MTA_EXIM ? "config_file" :
				   "config_directory", mc_mta_config(mta));
		json_object_object_add(obj, "changed", json_object_new_boolean(ret > 0));
		if (g->dry_run)
			json_object_object_add(obj, "dry_run", json_object_new_boolean(1));
		mc_output_json_str(obj, "note", note);
		mc_output_json(stdout, obj);
	} else {
		if (g->dry_run)
			mc_output_printf("%s (dry run: nothing changed)\n", note != NULL ? note : "");
		else if (ret > 0)
			mc_output_printf("%s: queue %s\n", mc_mta_config(mta), freeze ?
					 "frozen: nothing is delivered until 'mailcure queue thaw'; "
					 "mail is still accepted" : o->mta == MC_MTA_EXIM ?
					 "thawed: configuration restored byte for byte, delivery resumed" :
					 "thawed: main.cf and master.cf restored, delivery resumed");
		else
			mc_output_printf("%s: nothing to do\n", mc_mta_config(mta));
		if (note != NULL && !g->dry_run)
			print_note(note);
	}
	free(note);
	mc_mta_close(&mta);
	return MC_EXIT_CLEAN;
}

/* ------------------------------------------------------------------ */

static void release_print(const struct mc_global *g, const char *id, bool done,
			  const char *why)
{
	if (g->json) {
		json_object *obj = json_object_new_object();
		mc_output_json_str(obj, "event", "release");
		mc_output_json_str(obj, "queue_id", id);
		mc_output_json_str(obj, "action", done ? "released" : "failed");
		if (!done)
			mc_output_json_str(obj, "why", why);
		mc_output_json(stdout, obj);
	} else {
		mc_output_printf("%s: %s%s\n", id, done ? "released" : why,
				 done ? "" : ": nothing done");
	}
}

static int queue_release(const struct queue_opts *o, struct mc_global *g,
			 int argc, char **argv)
{
	struct mc_mta *mta;
	char *error = NULL, *note = NULL, **why;
	bool *done;
	int exit_code = MC_EXIT_CLEAN;

	if (argc == 0)
		mc_die_usage("queue release: which queue ids?");
	if (open_mta(o, &mta) < 0)
		return MC_EXIT_ERROR;
	for (int i = 0; i < argc; i++) {
		if (!mc_mta_queue_id_ok(mta, argv[i])) {
			mc_warn("queue release: not a queue id: %s", argv[i]);
			mc_mta_close(&mta);
			return MC_EXIT_ERROR;
		}
	}
	done = calloc((size_t)argc, sizeof(*done));
	why = calloc((size_t)argc, sizeof(*why));
	if (done == NULL || why == NULL)
		abort();
	if (g->dry_run) {
		for (int i = 0; i < argc; i++)
			mc_output_printf("%s: would release%s\n", argv[i],
					 o->mta == MC_MTA_POSTFIX ? " from hold" : " and deliver");
	} else if (mc_mta_release(mta, (const char *const *)argv, (size_t)argc,
				  done, why, &note, &error) < 0) {
		mc_warn("queue release: %s", error);
		free(error);
		exit_code = MC_EXIT_ERROR;
	} else {
		for (int i = 0; i < argc; i++) {
			release_print(g, argv[i], done[i], why[i]);
			if (!done[i])
				exit_code = MC_EXIT_ERROR;
			free(why[i]);
		}
		if (note != NULL)
			mc_warn("queue release: %s", note);
	}
	free(note);
	free(why);
	free(done);
	mc_mta_close(&mta);
	return exit_code;
}

/* ------------------------------------------------------------------ */

int cmd_queue(int argc, char **argv, struct mc_global *g)
{
	enum { OPT_CONFIG_DIR = 300, OPT_QUEUE, OPT_FORCE, OPT_MTA, OPT_EXIM_CONFIG };
	static const struct option options[] = {
		{ "postfix-config", required_argument, NULL, OPT_CONFIG_DIR },
		{ "exim-config", required_argument, NULL, OPT_EXIM_CONFIG },
		{ "mta", required_argument, NULL, OPT_MTA },
		{ "queue", required_argument, NULL, OPT_QUEUE },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ NULL, 0, NULL, 0 },
	};
	struct queue_opts o = { 0 };
	int c;

	/* Options may come before or after the subcommand; getopt
	   moves them ahead of the other arguments. optind = 0 makes
	   glibc start afresh (main() parsed with "+", stop at the
	   first non-option, which would otherwise stick). */
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG_DIR:
			o.config_dir = optarg;
			break;
		case OPT_QUEUE: {
			size_t q, n = mc_mta_queue_count(MC_MTA_POSTFIX);
			for (q = 0; q < n; q++) {
				if (strcmp(optarg, mc_mta_queue_name(MC_MTA_POSTFIX, q)) == 0)
					break;
			}
			if (q == n)
				mc_die_usage("--queue: incoming, active, deferred, hold "
					     "or maildrop: %s", optarg);
			o.queue_mask |= 1U << q;
			break;
		}
		case OPT_FORCE:
			o.force = true;
			break;
		case OPT_EXIM_CONFIG:
			o.exim_config = optarg;
			break;
		case OPT_MTA:
			if (strcmp(optarg, "auto") == 0)
				o.mta = MC_MTA_AUTO;
			else if (strcmp(optarg, "postfix") == 0)
				o.mta = MC_MTA_POSTFIX;
			else if (strcmp(optarg, "exim") == 0)
				o.mta = MC_MTA_EXIM;
			else
				mc_die_usage("--mta: auto, postfix or exim: %s", optarg);
			break;
		default:
			mc_die_command_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		mc_die_command_usage();
	const char *sub = argv[0];
	argc--;
	argv++;

	static const char *const subs[] = {
		"status", "list", "find", "scan", "delete", "freeze", "thaw", "release",
	};
	bool known = false;
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		known |= strcmp(sub, subs[i]) == 0;
	if (!known)
		mc_die_command_usage();
	if ((strcmp(sub, "status") == 0 || strcmp(sub, "list") == 0 ||
	     strcmp(sub, "scan") == 0 || strcmp(sub, "freeze") == 0 ||
	     strcmp(sub, "thaw") == 0) && argc > 0)
		mc_die_usage("queue %s: unexpected argument '%s'", sub, argv[0]);
	/* The queue is readable only by root and postfix, and every
	   change goes through postsuper and postfix, which need root. */
	if (geteuid() != 0) {
		mc_warn("queue %s: must be run as root (the mail queue and the "
			"MTA's configuration belong to root and the MTA)", sub);
		return MC_EXIT_ERROR;
	}
	/* With neither, a Postfix instance named by the settings file
	   says which MTA this is, as --postfix-config would. */
	if (o.mta == MC_MTA_AUTO && o.exim_config == NULL && g->postfix_config != NULL)
		o.mta = MC_MTA_POSTFIX;
	if (resolve_mta(&o) < 0)
		return MC_EXIT_ERROR;
	/* The settings file's Postfix instance is a default for Postfix
	   only: --mta exim and --exim-config are not in conflict with it. */
	if (o.mta == MC_MTA_POSTFIX && o.config_dir == NULL)
		o.config_dir = g->postfix_config;

	if (strcmp(sub, "status") == 0)
		return queue_status(&o, g);
	if (strcmp(sub, "list") == 0)
		return queue_list(&o, g);
	if (strcmp(sub, "scan") == 0)
		return queue_find(&o, g, "virus", false);
	if (strcmp(sub, "find") == 0 || strcmp(sub, "delete") == 0) {
		char *text = mc_cli_join_args(argc, argv);
		int ret = queue_find(&o, g, text, strcmp(sub, "delete") == 0);
		free(text);
		return ret;
	}
	if (strcmp(sub, "freeze") == 0)
		return queue_freeze_thaw(&o, g, true);
	if (strcmp(sub, "thaw") == 0)
		return queue_freeze_thaw(&o, g, false);
	return queue_release(&o, g, argc, argv);
}
