/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	cmd_isolate 1
/* SUMMARY
/*	mailcure isolate|reconnect: cut users off the mail server, and undo it
/* SYNOPSIS
/*	mailcure isolate [--allow CIDR]... [--ports LIST] [--keep-mx]
/*		[--no-kick] [--state FILE]
/*	mailcure isolate --status [--state FILE]
/*	mailcure reconnect [--state FILE]
/* DESCRIPTION
/*	isolate drops inbound connections to the mail client and MTA
/*	ports (25 465 587 110 995 143 993 4190 80 443, or --ports) from
/*	everywhere except loopback and the --allow networks (IPv4 and
/*	IPv6), and disconnects open Dovecot sessions from other
/*	addresses. --keep-mx leaves port 25 open, so that mail keeps
/*	arriving (into a frozen queue). A second isolate changes nothing.
/*	--dry-run prints the rules and the commands.
/*
/*	isolate --status shows what is in force, since when, and how
/*	many packets were dropped. Exit status: 0 isolated, 1 not
/*	isolated, 2 inconsistent (a record without its rules) or error.
/*
/*	reconnect removes exactly what isolate added (the nftables table
/*	"inet mailcure") and the record; the rest of the ruleset is left
/*	byte for byte as it was.
/*
/*	Without --allow and --ports, the settings file's isolate_allow and
/*	isolate_ports apply (settings.c), checked when it was read.
/*
/*	The record is --state FILE, else $MAILCURE_ISOLATE_STATE, else
/*	isolate.json in --state-dir (default /var/lib/mailcure). The
/*	global --dovecot-config FILE (or $MAILCURE_DOVECOT_CONFIG) selects
/*	the Dovecot instance whose sessions are cut; $MAILCURE_DOVEADM
/*	names doveadm.
/*
/*	Exit status of isolate and reconnect: 0 done (warnings, such as
/*	Dovecot not running, are printed but do not fail), 2 error.
/*--*/

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>

#include "commands.h"

const char cmd_isolate_usage[] =
	"usage: mailcure [GLOBAL OPTIONS] isolate [--allow CIDR]... [--ports LIST]\n"
	"                [--keep-mx] [--no-kick] [--state FILE]\n"
	"       mailcure [GLOBAL OPTIONS] isolate --status [--state FILE]\n\n"
	"Cuts users off while the services keep running for the administrator:\n"
	"inbound connections to the mail ports are dropped from everywhere but\n"
	"loopback and the --allow networks (nftables table inet mailcure), and\n"
	"open Dovecot sessions from other addresses are disconnected. Undo it\n"
	"with 'mailcure reconnect'.\n\n"
	"options:\n"
	"      --allow CIDR   a network that keeps access (repeatable; IPv4, IPv6)\n"
	"      --ports LIST   the ports to close, as 25,465,587 (default 25 465 587\n"
	"                     110 995 143 993 4190 80 443)\n"
	"      --keep-mx      leave port 25 open (mail keeps arriving)\n"
	"      --no-kick      leave open Dovecot sessions alone\n"
	"      --status       what is in force; exit 0 isolated, 1 not, 2 inconsistent\n"
	"      --state FILE   the record of the isolation (default\n"
	"                     STATE-DIR/isolate.json)\n\n"
	"Exit status: 0 done, 2 error.\n";

const char cmd_reconnect_usage[] =
	"usage: mailcure [GLOBAL OPTIONS] reconnect [--state FILE]\n\n"
	"Removes exactly what isolate added; the rest of the ruleset is left as\n"
	"it was.\n\n"
	"options:\n"
	"      --state FILE   the record of the isolation (default\n"
	"                     STATE-DIR/isolate.json)\n\n"
	"Exit status: 0 done (or nothing to undo), 2 error.\n";

static void format_since(time_t t, char *buf, size_t size)
{
	if (t <= 0)
		snprintf(buf, size, "an unknown time");
	else
		mc_output_time(t, buf, size);
}

static void print_ports(const struct mc_isolation *iso)
{
	for (size_t i = 0; i < iso->port_count; i++)
		mc_output_printf("%s%u", i > 0 ? " " : "", iso->ports[i]);
}

static void print_allowed(const struct mc_isolation *iso)
{
	mc_output_printf("loopback");
	for (size_t i = 0; i < iso->allow_count; i++)
		mc_output_printf(", %s", iso->allow[i]);
}

static json_object *iso_json(const char *event, const char *status,
			     const struct mc_isolation *iso)
{
	json_object *o = json_object_new_object();
	json_object *ports = json_object_new_array(), *allow = json_object_new_array();

	json_object_object_add(o, "event", json_object_new_string(event));
	json_object_object_add(o, "status", json_object_new_string(status));
	if (iso->since > 0)
		json_object_object_add(o, "since", json_object_new_int64((int64_t)iso->since));
	for (size_t i = 0; i < iso->port_count; i++)
		json_object_array_add(ports, json_object_new_int(iso->ports[i]));
	json_object_object_add(o, "ports", ports);
	for (size_t i = 0; i < iso->allow_count; i++)
		json_object_array_add(allow, json_object_new_string(iso->allow[i]));
	json_object_object_add(o, "allow", allow);
	json_object_object_add(o, "keep_mx", json_object_new_boolean(iso->keep_mx));
	json_object_object_add(o, "recorded", json_object_new_boolean(iso->recorded));
	if (iso->rules_checked) {
		json_object_object_add(o, "rules_present", json_object_new_boolean(iso->rules_present));
		json_object_object_add(o, "dropped_packets",
				       json_object_new_int64((int64_t)iso->dropped_packets));
	}
	if (iso->state_path != NULL)
		json_object_object_add(o, "state", json_object_new_string(iso->state_path));
	if (iso->kicked_count > 0) {
		json_object *k = json_object_new_array();
		for (size_t i = 0; i < iso->kicked_count; i++)
			json_object_array_add(k, json_object_new_string(iso->kicked[i]));
		json_object_object_add(o, "kicked", k);
	}
	if (iso->command_count > 0) {
		json_object *c = json_object_new_array();
		for (size_t i = 0; i < iso->command_count; i++)
			json_object_array_add(c, json_object_new_string(iso->commands[i]));
		json_object_object_add(o, "commands", c);
	}
	if (iso->warning != NULL)
		json_object_object_add(o, "warning", json_object_new_string(iso->warning));
	return o;
}

static void print_commands(const struct mc_isolation *iso)
{
	for (size_t i = 0; i < iso->command_count; i++)
		printf("%s\n", iso->commands[i]);
}

/* --ports 25,465,587 (or repeated). */
void mc_cli_parse_ports(const char *arg, uint16_t **ports, size_t *count)
{
	char *copy = strdup(arg), *save = NULL;

	for (char *p = strtok_r(copy, ", ", &save); p != NULL; p = strtok_r(NULL, ", ", &save)) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);

		if (*end != '\0' || v == 0 || v > 65535 || p[0] == '-' || p[0] == '+')
			mc_die_usage("--ports: not a port number: %s", p);
		*ports = realloc(*ports, (*count + 1) * sizeof(**ports));
		(*ports)[(*count)++] = (uint16_t)v;
	}
	free(copy);
	if (*count == 0)
		mc_die_usage("--ports: no port given");
}

static char *default_state_path(const struct mc_global *g)
{
	const char *env = getenv("MAILCURE_ISOLATE_STATE");

	if (env != NULL && env[0] != '\0')
		return strdup(env);
	const char *dir = g->state_dir != NULL ? g->state_dir : MC_DEFAULT_STATE_DIR;
	size_t n = strlen(dir) + sizeof("/isolate.json");
	char *path = malloc(n);

	if (path == NULL)
		abort();
	snprintf(path, n, "%s/isolate.json", dir);
	return path;
}

static int show_status(const struct mc_global *g, struct mc_isolate_settings *set)
{
	struct mc_isolation *iso = NULL;
	char *error = NULL, since[64];
	const char *status;
	int code;

	if (mc_isolate_status(set, &iso, &error) < 0) {
		mc_warn("%s", error);
		free(error);
		return MC_EXIT_ERROR;
	}
	format_since(iso->since, since, sizeof(since));
	if (iso->rules_checked && iso->rules_present) {
		status = "isolated";
		code = MC_EXIT_CLEAN;
	} else if (iso->recorded && !iso->rules_checked) {
		status = "recorded";
		code = iso->applied ? MC_EXIT_CLEAN : MC_EXIT_ERROR;
	} else if (iso->recorded) {
		status = "interrupted";
		code = MC_EXIT_ERROR;
	} else {
		status = "not-isolated";
		code = MC_EXIT_FOUND;
	}
	if (g->json) {
		mc_output_json(stdout, iso_json("isolation", status, iso));
	} else if (strcmp(status, "isolated") == 0) {
		if (iso->recorded) {
			mc_output_printf("isolated since %s: ports ", since);
			print_ports(iso);
			mc_output_printf(" closed%s, open to ", iso->keep_mx ? " (port 25 kept open)" : "");
			print_allowed(iso);
			mc_output_printf("; %llu packets dropped\n", (unsigned long long)iso->dropped_packets);
		} else {
			mc_output_printf("isolated: the nftables table inet mailcure is in place, but there "
					 "is no record at %s; 'mailcure reconnect' removes the table\n",
					 iso->state_path);
		}
	} else if (strcmp(status, "recorded") == 0) {
		mc_output_printf("an isolation is recorded since %s (ports ", since);
		print_ports(iso);
		mc_output_printf(", open to ");
		print_allowed(iso);
		mc_output_printf("); run as root to check that its rules are in place\n");
	} else if (strcmp(status, "interrupted") == 0) {
		mc_output_printf("NOT isolated: an isolation is recorded since %s, but its rules are "
				 "not in the ruleset (an isolate that was interrupted, or a flushed "
				 "ruleset); run 'mailcure isolate' again, or 'mailcure reconnect'\n", since);
	} else {
		mc_output_printf("not isolated\n");
	}
	mc_isolation_free(&iso);
	return code;
}

int cmd_isolate(int argc, char **argv, struct mc_global *g)
{
	static const struct option options[] = {
		{ "allow", required_argument, NULL, 'a' },
		{ "ports", required_argument, NULL, 'p' },
		{ "keep-mx", no_argument, NULL, 'm' },
		{ "no-kick", no_argument, NULL, 'n' },
		{ "status", no_argument, NULL, 's' },
		{ "state", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct mc_isolate_settings set;
	struct mc_isolation *iso = NULL;
	const char **allow = NULL;
	uint16_t *ports = NULL;
	size_t port_count = 0;
	bool status = false;
	char *state = NULL, *error = NULL, since[64];
	int c, code = MC_EXIT_CLEAN;

	memset(&set, 0, sizeof(set));
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		switch (c) {
		case 'a':
			allow = realloc(allow, (set.allow_count + 1) * sizeof(*allow));
			allow[set.allow_count++] = optarg;
			break;
		case 'p': mc_cli_parse_ports(optarg, &ports, &port_count); break;
		case 'm': set.keep_mx = true; break;
		case 'n': set.no_kick = true; break;
		case 's': status = true; break;
		case 'S': free(state); state = strdup(optarg); break;
		default:
			mc_die_command_usage();
		}
	}
	if (optind < argc)
		mc_die_usage("isolate: unexpected argument '%s'", argv[optind]);
	if (state == NULL)
		state = default_state_path(g);
	/* The settings file's, unless the command line gave its own. */
	if (set.allow_count == 0 && g->isolate_allow_count > 0) {
		allow = calloc(g->isolate_allow_count, sizeof(*allow));
		if (allow == NULL)
			abort();
		memcpy(allow, g->isolate_allow, g->isolate_allow_count * sizeof(*allow));
		set.allow_count = g->isolate_allow_count;
	}
	if (port_count == 0 && g->isolate_ports != NULL)
		mc_cli_parse_ports(g->isolate_ports, &ports, &port_count);
	set.state_path = state;
	set.allow = allow;
	set.ports = ports;
	set.port_count = port_count;
	set.dry_run = g->dry_run;

	if (status) {
		code = show_status(g, &set);
		goto out;
	}
	if (mc_isolate_apply(&set, &iso, &error) < 0) {
		mc_warn("%s", error);
		free(error);
		code = MC_EXIT_ERROR;
		goto out;
	}
	format_since(iso->since, since, sizeof(since));
	if (g->json) {
		mc_output_json(stdout, iso_json("isolate", g->dry_run ? "dry-run" :
				    iso->already ? "already" : "isolated", iso));
	} else if (g->dry_run) {
		mc_output_printf("would isolate: ports ");
		print_ports(iso);
		mc_output_printf(" closed, open to ");
		print_allowed(iso);
		mc_output_printf("\n");
		print_commands(iso);
	} else if (iso->already) {
		mc_output_printf("already isolated since %s (ports ", since);
		print_ports(iso);
		mc_output_printf(", open to ");
		print_allowed(iso);
		mc_output_printf("): nothing changed\n");
	} else {
		mc_output_printf("isolated: ports ");
		print_ports(iso);
		mc_output_printf(" closed%s, open to ", set.keep_mx ? " (port 25 kept open)" : "");
		print_allowed(iso);
		mc_output_printf("\n");
		if (iso->kicked_count > 0) {
			mc_output_printf("disconnected %zu Dovecot session%s:\n", iso->kicked_count,
					 iso->kicked_count == 1 ? "" : "s");
			for (size_t i = 0; i < iso->kicked_count; i++)
				mc_output_printf("  %s\n", iso->kicked[i]);
		}
		if (g->verbose >= 0)
			mc_output_printf("recorded in %s; undo with 'mailcure reconnect'\n", iso->state_path);
	}
	if (iso->warning != NULL)
		mc_warn("warning: %s", iso->warning);
	mc_isolation_free(&iso);
out:
	free(allow);
	free(ports);
	free(state);
	return code;
}

int cmd_reconnect(int argc, char **argv, struct mc_global *g)
{
	static const struct option options[] = {
		{ "state", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct mc_isolate_settings set;
	struct mc_isolation *iso = NULL;
	char *state = NULL, *error = NULL;
	int c;

	memset(&set, 0, sizeof(set));
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		switch (c) {
		case 'S': free(state); state = strdup(optarg); break;
		default:
			mc_die_command_usage();
		}
	}
	if (optind < argc)
		mc_die_usage("reconnect: unexpected argument '%s'", argv[optind]);
	if (state == NULL)
		state = default_state_path(g);
	set.state_path = state;
	set.dry_run = g->dry_run;
	if (mc_isolate_remove(&set, &iso, &error) < 0) {
		mc_warn("%s", error);
		free(error);
		free(state);
		return MC_EXIT_ERROR;
	}
	if (g->json) {
		json_object *o = iso_json("reconnect", g->dry_run ? "dry-run" :
					  iso->removed_rules || iso->removed_record ?
					  "reconnected" : "not-isolated", iso);
		json_object_object_add(o, "removed_rules", json_object_new_boolean(iso->removed_rules));
		json_object_object_add(o, "removed_record", json_object_new_boolean(iso->removed_record));
		mc_output_json(stdout, o);
	} else if (g->dry_run) {
		if (iso->command_count == 0)
			mc_output_printf("not isolated: nothing to undo\n");
		print_commands(iso);
	} else if (!iso->removed_rules && !iso->removed_record) {
		mc_output_printf("not isolated: nothing to undo\n");
	} else {
		if (iso->removed_rules)
			mc_output_printf("reconnected: removed the nftables table inet mailcure "
					 "(%llu packets dropped while isolated)\n",
					 (unsigned long long)iso->dropped_packets);
		else
			mc_output_printf("reconnected: the isolation rules were already gone\n");
		if (iso->removed_record && g->verbose >= 0)
			mc_output_printf("removed the record %s\n", iso->state_path);
	}
	mc_isolation_free(&iso);
	free(state);
	return MC_EXIT_CLEAN;
}
