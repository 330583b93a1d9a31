/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	isolate 3
/* SUMMARY
/*	cut users off the mail server, keep it running for the administrator
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	int mc_isolate_apply(const struct mc_isolate_settings *set,
/*		struct mc_isolation **iso_r, char **error_r);
/*	int mc_isolate_status(const struct mc_isolate_settings *set,
/*		struct mc_isolation **iso_r, char **error_r);
/*	int mc_isolate_remove(const struct mc_isolate_settings *set,
/*		struct mc_isolation **iso_r, char **error_r);
/*	void mc_isolation_free(struct mc_isolation **iso);
/*	int mc_isolate_check_allow(const char *text, char **error_r);
/* DESCRIPTION
/*	The first step of the outbreak runbook, in place of pulling the
/*	network cable: users can no longer reach the mail services, the
/*	administrator still can, and the services keep running.
/*
/*	mc_isolate_apply() puts in one table of its own, "inet mailcure"
/*	(IPv4 and IPv6), through libnftables:
/*
/*	table inet mailcure {
/*		chain input {
/*			type filter hook input priority -10; policy accept;
/*			iif "lo" accept
/*			ip saddr 198.51.100.0/24 accept		(each --allow)
/*			meta l4proto { tcp, udp } th dport { 25, ... } counter drop
/*		}
/*	}
/*
/*	Every inbound packet to the isolated ports is dropped, not only
/*	new connections: an SMTP submission or webmail session that was
/*	open before isolation is stopped as well (doveadm kick reaches
/*	only Dovecot's sessions), and the rule needs no connection
/*	tracking. Replies to connections the server makes itself (to
/*	remote port 25, say) are not affected, as their destination is
/*	the server's ephemeral port. UDP is included for HTTP/3 on 443.
/*	The chain runs before the usual filter chains (priority 0); an
/*	accept elsewhere cannot undo its drop, and nothing else in the
/*	ruleset is changed, so that removing the table restores the
/*	ruleset byte for byte. The hook is input: services of this host.
/*
/*	Order, so that a crash fails closed: the record (state file,
/*	default /var/lib/mailcure/isolate.json) is written and fsync'd
/*	first; then the table is created in one nftables transaction
/*	(all of it or nothing); then the record is marked applied; then
/*	open sessions are cut. A crash after the transaction leaves the
/*	server isolated with a record that reconnect uses; a crash
/*	before it leaves only a record that says the rules never went
/*	in (status reports it, isolate completes it, reconnect clears
/*	it). A second isolate while in force changes nothing.
/*
/*	Open Dovecot sessions are listed with "doveadm who -1" and those
/*	from addresses that are neither loopback nor allowed are cut
/*	with "doveadm kick ADDRESS", then listed again to report any
/*	that remain. Dovecot not running is a warning: the rules apply.
/*
/*	mc_isolate_remove() deletes the table "inet mailcure" when it is
/*	there, and only then the record. mc_isolate_status() reports the
/*	record, whether the table is really there (as root) and how many
/*	packets it dropped.
/* DIAGNOSTICS
/*	Not root, a kernel or nft without nf_tables support, a malformed
/*	--allow or port, and an unreadable record are errors with a
/*	message that says which. Concurrent isolate/reconnect runs are
/*	serialized with a lock file beside the record.
/* SECURITY
/*	The record and its lock file are created mode 0600 in a
/*	directory made mode 0700, without following a symlink in their
/*	last component, and replaced by rename. doveadm is run without a
/*	shell (lib/doveadm.c, lib/exec.c). Addresses are parsed and printed back in
/*	canonical form before they reach nft, so no text from the
/*	command line is passed through unchecked.
/*--*/

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>

#include "mailcure/mailcure.h"
#include "internal.h"
#include "sessions.h"

#define TABLE_FAMILY "inet"
#define TABLE_NAME "mailcure"
#define TABLE TABLE_FAMILY " " TABLE_NAME
#define CHAIN_PRIORITY "-10"
#define STATE_VERSION 1
/* A record is a few kilobytes; a bound for a damaged file. */
#define STATE_MAX_BYTES (1U << 20)
/* doveadm who/kick answer at once; do not hang the runbook on them. */
#define KICK_TIMEOUT_S 60

static const uint16_t default_ports[] = {
	25, 465, 587, 110, 995, 143, 993, 4190, 80, 443,
};

/* One allowed network, parsed. */
struct net {
	int family;
	unsigned char addr[16];
	unsigned prefix;
};

struct plan {
	uint16_t *ports;
	size_t port_count;
	char **allow;
	struct net *nets;
	size_t allow_count;
	bool keep_mx;
	char *ruleset;
	char *state_path;
};

/* ------------------------------------------------------------------ */
/* Addresses                                                          */
/* ------------------------------------------------------------------ */

static void mask_host_bits(struct net *n)
{
	unsigned bytes = n->family == AF_INET ? 4 : 16;

	for (unsigned i = 0; i < bytes; i++) {
		unsigned bit = i * 8;
		if (bit >= n->prefix)
			n->addr[i] = 0;
		else if (n->prefix - bit < 8)
			n->addr[i] &= (unsigned char)(0xff << (8 - (n->prefix - bit)));
	}
}

/* "192.0.2.0/24", "2001:db8::/32" or an address alone: *n_r with host
   bits cleared, and the canonical text. */
static int parse_cidr(const char *text, struct net *n_r, char **canon_r,
		      char **error_r)
{
	char buf[INET6_ADDRSTRLEN + 8], out[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t alen = slash != NULL ? (size_t)(slash - text) : strlen(text);

	memset(n_r, 0, sizeof(*n_r));
	if (alen == 0 || alen >= INET6_ADDRSTRLEN)
		return mc_error_set(error_r, "--allow %s: not an address or network", text);
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, n_r->addr) == 1)
		n_r->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, n_r->addr) == 1)
		n_r->family = AF_INET6;
	else
		return mc_error_set(error_r, "--allow %s: not an IPv4 or IPv6 address", text);
	unsigned max = n_r->family == AF_INET ? 32 : 128;
	n_r->prefix = max;
	if (slash != NULL) {
		char *end;
		unsigned long p;

		errno = 0;
		p = strtoul(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || errno != 0 || p > max ||
		    slash[1] == '-' || slash[1] == '+' || slash[1] == ' ')
			return mc_error_set(error_r, "--allow %s: prefix length must be 0 to %u",
					    text, max);
		n_r->prefix = (unsigned)p;
	}
	mask_host_bits(n_r);
	inet_ntop(n_r->family, n_r->addr, out, sizeof(out));
	*canon_r = mc_xasprintf("%s/%u", out, n_r->prefix);
	return 0;
}

int mc_isolate_check_allow(const char *text, char **error_r)
{
	struct net n;
	char *canon = NULL;

	if (parse_cidr(text, &n, &canon, error_r) < 0)
		return -1;
	free(canon);
	return 0;
}

static bool net_contains(const struct net *n, int family, const unsigned char *addr)
{
	unsigned full, rest;

	if (n->family != family)
		return false;
	full = n->prefix / 8;
	rest = n->prefix % 8;
	if (memcmp(n->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (n->addr[full] & mask) == (addr[full] & mask);
}

/* Whether a client at address TEXT keeps its sessions: loopback and
   the allowed networks. An address that cannot be parsed (empty, a
   UNIX socket) is left alone: it is not a network client. */
static bool address_allowed(const struct plan *p, const char *text)
{
	unsigned char addr[16];
	int family;

	if (inet_pton(AF_INET, text, addr) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, text, addr) == 1) {
		family = AF_INET6;
		/* ::ffff:a.b.c.d is an IPv4 client on a dual-stack socket. */
		static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
		if (memcmp(addr, mapped, 12) == 0) {
			memmove(addr, addr + 12, 4);
			family = AF_INET;
		}
	} else
		return true;
	if (family == AF_INET && addr[0] == 127)
		return true;
	if (family == AF_INET6) {
		static const unsigned char loop6[16] = { [15] = 1 };
		if (memcmp(addr, loop6, 16) == 0)
			return true;
	}
	for (size_t i = 0; i < p->allow_count; i++) {
		if (net_contains(&p->nets[i], family, addr))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* The plan: settings resolved, ruleset text                          */
/* ------------------------------------------------------------------ */

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->allow_count; i++)
		free(p->allow[i]);
	free(p->allow);
	free(p->nets);
	free(p->ports);
	free(p->ruleset);
	free(p->state_path);
	memset(p, 0, sizeof(*p));
}

static char *state_path_of(const struct mc_isolate_settings *set)
{
	const char *p = set != NULL ? set->state_path : NULL;

	if (p == NULL || p[0] == '\0')
		p = getenv("MAILCURE_ISOLATE_STATE");
	if (p == NULL || p[0] == '\0')
		p = MC_DEFAULT_ISOLATE_STATE;
	return mc_xstrdup(p);
}

static char *ruleset_text(const struct plan *p)
{
	size_t cap = 1024 + p->allow_count * 80 + p->port_count * 8;
	char *s = mc_xmalloc(cap);
	size_t o = 0;

	o += (size_t)snprintf(s + o, cap - o,
		"table " TABLE " {\n"
		"\tchain input {\n"
		"\t\ttype filter hook input priority " CHAIN_PRIORITY "; policy accept;\n"
		"\t\tiif \"lo\" accept\n");
	for (size_t i = 0; i < p->allow_count; i++)
		o += (size_t)snprintf(s + o, cap - o, "\t\t%s saddr %s accept\n",
				      p->nets[i].family == AF_INET ? "ip" : "ip6",
				      p->allow[i]);
	if (p->port_count > 0) {
		o += (size_t)snprintf(s + o, cap - o, "\t\tmeta l4proto { tcp, udp } th dport { ");
		for (size_t i = 0; i < p->port_count; i++)
			o += (size_t)snprintf(s + o, cap - o, "%s%u", i > 0 ? ", " : "",
					      p->ports[i]);
		o += (size_t)snprintf(s + o, cap - o, " } counter drop\n");
	}
	snprintf(s + o, cap - o, "\t}\n}\n");
	return s;
}

static int plan_init(const struct mc_isolate_settings *set, struct plan *p,
		     char **error_r)
{
	const uint16_t *ports = set->ports != NULL ? set->ports : default_ports;
	size_t count = set->ports != NULL ? set->port_count :
		sizeof(default_ports) / sizeof(default_ports[0]);
	size_t cap = 0;

	memset(p, 0, sizeof(*p));
	p->keep_mx = set->keep_mx;
	p->state_path = state_path_of(set);
	for (size_t i = 0; i < count; i++) {
		bool dup = false;

		if (ports[i] == 0) {
			plan_free(p);
			return mc_error_set(error_r, "port 0 cannot be isolated");
		}
		if (set->keep_mx && ports[i] == 25)
			continue;
		for (size_t j = 0; j < p->port_count; j++)
			dup |= p->ports[j] == ports[i];
		if (!dup)
			MC_ARRAY_PUSH(p->ports, p->port_count, cap, ports[i]);
	}
	if (p->port_count == 0) {
		plan_free(p);
		return mc_error_set(error_r, "no port left to isolate");
	}
	p->allow = mc_xcalloc(set->allow_count + 1, sizeof(*p->allow));
	p->nets = mc_xcalloc(set->allow_count + 1, sizeof(*p->nets));
	for (size_t i = 0; i < set->allow_count; i++) {
		struct net n;
		char *canon = NULL;
		bool dup = false;

		if (parse_cidr(set->allow[i], &n, &canon, error_r) < 0) {
			plan_free(p);
			return -1;
		}
		for (size_t j = 0; j < p->allow_count; j++)
			dup |= strcmp(p->allow[j], canon) == 0;
		if (dup) {
			free(canon);
			continue;
		}
		p->nets[p->allow_count] = n;
		p->allow[p->allow_count++] = canon;
	}
	p->ruleset = ruleset_text(p);
	return 0;
}

/* ------------------------------------------------------------------ */
/* nftables                                                           */
/* ------------------------------------------------------------------ */

/* nft's error text on one line: its "Error: " lines, without the
   echoed command and the caret lines that point into it. */
static char *nft_error_text(const char *err)
{
	size_t len = strlen(err);
	char *out = mc_xcalloc(1, len + 1);
	size_t o = 0;

	for (const char *line = err; *line != '\0'; ) {
		const char *nl = strchr(line, '\n');
		size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);

		if (n > 7 && strncmp(line, "Error: ", 7) == 0) {
			if (o > 0)
				out[o++] = ' ';
			memcpy(out + o, line + 7, n - 7);
			o += n - 7;
		}
		line += n + (nl != NULL ? 1 : 0);
	}
	if (o == 0) {
		for (size_t i = 0; i < len; i++)
			out[o++] = err[i] == '\n' ? ' ' : err[i];
		while (o > 0 && out[o - 1] == ' ')
			o--;
	}
	out[o] = '\0';
	return out;
}

/* Whether the kernel speaks nfnetlink at all. libnftables prints and
   calls exit() when it cannot open its netlink socket, which a
   library must not let happen: the same socket is tried here first. */
static int nft_kernel_check(char **nft_error_r)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);

	if (fd < 0) {
		*nft_error_r = mc_xasprintf("no netfilter netlink socket: %s",
					    strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/* Run nft commands CMDS. Returns 0 (with *out_r when wanted), or -1
   with *nft_error_r holding nft's message. */
static int nft_run(const char *cmds, bool json, bool dry, char **out_r,
		   char **nft_error_r)
{
	struct nft_ctx *nft;
	int ret;

	if (out_r != NULL)
		*out_r = NULL;
	*nft_error_r = NULL;
	if (nft_kernel_check(nft_error_r) < 0)
		return -1;
	nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (nft == NULL) {
		*nft_error_r = mc_xstrdup("cannot set up libnftables");
		return -1;
	}
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	if (json)
		nft_ctx_output_set_flags(nft, NFT_CTX_OUTPUT_JSON);
	if (dry)
		nft_ctx_set_dry_run(nft, true);
	ret = nft_run_cmd_from_buffer(nft, cmds);
	if (ret != 0) {
		const char *err = nft_ctx_get_error_buffer(nft);
		*nft_error_r = nft_error_text(err != NULL && err[0] != '\0' ? err :
					      "nft failed");
	} else if (out_r != NULL) {
		const char *out = nft_ctx_get_output_buffer(nft);
		*out_r = mc_xstrdup(out != NULL ? out : "");
	}
	nft_ctx_free(nft);
	return ret != 0 ? -1 : 0;
}

/* An nft failure in words an administrator can act on. */
static int nft_failure(char **error_r, const char *doing, const char *nft_error)
{
	if (strstr(nft_error, "Operation not permitted") != NULL)
		return mc_error_set(error_r, "%s: not permitted (this needs root, with "
				    "CAP_NET_ADMIN): %s", doing, nft_error);
	if (strstr(nft_error, "not supported") != NULL ||
	    strstr(nft_error, "Protocol not supported") != NULL ||
	    strstr(nft_error, "Address family not supported") != NULL)
		return mc_error_set(error_r, "%s: the kernel lacks the nftables support "
				    "needed (nf_tables with the inet family and filter "
				    "chains): %s", doing, nft_error);
	return mc_error_set(error_r, "%s: nft: %s", doing, nft_error);
}

/* Sum of the packet counters of the table's rules. */
static uint64_t json_dropped(const char *text)
{
	json_object *root = json_tokener_parse(text), *arr, *item, *rule, *expr, *c, *pk;
	uint64_t sum = 0;

	if (root == NULL)
		return 0;
	if (!json_object_object_get_ex(root, "nftables", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		goto out;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		item = json_object_array_get_idx(arr, i);
		if (!json_object_object_get_ex(item, "rule", &rule) ||
		    !json_object_object_get_ex(rule, "expr", &expr) ||
		    !json_object_is_type(expr, json_type_array))
			continue;
		for (size_t j = 0; j < json_object_array_length(expr); j++) {
			json_object *e = json_object_array_get_idx(expr, j);
			if (json_object_object_get_ex(e, "counter", &c) &&
			    json_object_object_get_ex(c, "packets", &pk))
				sum += (uint64_t)json_object_get_int64(pk);
		}
	}
out:
	json_object_put(root);
	return sum;
}

/* Whether mailcure's table is in the ruleset: 1 yes (with the
   dropped packet count), 0 no, -1 cannot tell. */
static int table_present(uint64_t *dropped_r, char **error_r)
{
	char *out = NULL, *err = NULL;

	*dropped_r = 0;
	if (nft_run("list table " TABLE, true, false, &out, &err) == 0) {
		*dropped_r = json_dropped(out);
		free(out);
		return 1;
	}
	if (strstr(err, "No such file or directory") != NULL) {
		free(err);
		return 0;
	}
	nft_failure(error_r, "cannot read the ruleset", err);
	free(err);
	return -1;
}

/* ------------------------------------------------------------------ */
/* The record                                                         */
/* ------------------------------------------------------------------ */

struct state_files {
	int dirfd;
	int lockfd;
	char *base;		/* name of the record in dirfd */
	char *tmp;
	char *lock;
};

static void state_files_close(struct state_files *sf)
{
	if (sf->lockfd >= 0)
		close(sf->lockfd);	/* releases the flock */
	if (sf->dirfd >= 0)
		close(sf->dirfd);
	free(sf->base);
	free(sf->tmp);
	free(sf->lock);
	sf->dirfd = sf->lockfd = -1;
	sf->base = sf->tmp = sf->lock = NULL;
}

/* Open the record's directory (CREATE: made mode 0700 if missing) and,
   with LOCK, take the lock that serializes isolate and reconnect. */
static int state_files_open(const char *path, bool create, bool lock,
			    struct state_files *sf, char **error_r)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash == NULL ? mc_xstrdup(".") :
		slash == path ? mc_xstrdup("/") : mc_xstrndup(path, (size_t)(slash - path));
	const char *base = slash != NULL ? slash + 1 : path;

	memset(sf, 0, sizeof(*sf));
	sf->dirfd = sf->lockfd = -1;
	if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		free(dir);
		return mc_error_set(error_r, "%s: not a file name for the isolation record", path);
	}
	if (create && mc_mkdir_p(dir, 0700, error_r) < 0) {
		free(dir);
		return -1;
	}
	sf->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sf->dirfd < 0) {
		if (errno == ENOENT && !create) {
			free(dir);
			sf->base = mc_xstrdup(base);
			return 0;
		}
		mc_error_errno(error_r, "isolation record directory %s", dir);
		free(dir);
		return -1;
	}
	free(dir);
	sf->base = mc_xstrdup(base);
	sf->tmp = mc_xasprintf("%s.tmp", base);
	sf->lock = mc_xasprintf("%s.lock", base);
	if (lock) {
		sf->lockfd = openat(sf->dirfd, sf->lock, O_RDWR | O_CREAT | O_NOFOLLOW |
				    O_CLOEXEC | O_NOCTTY, 0600);
		if (sf->lockfd < 0) {
			mc_error_errno(error_r, "isolation lock %s", path);
			state_files_close(sf);
			return -1;
		}
		while (flock(sf->lockfd, LOCK_EX) < 0) {
			if (errno != EINTR) {
				mc_error_errno(error_r, "isolation lock %s", path);
				state_files_close(sf);
				return -1;
			}
		}
	}
	return 0;
}

struct record {
	bool exists;
	bool applied;
	time_t since;
	uint16_t *ports;
	size_t port_count;
	char **allow;
	size_t allow_count;
	bool keep_mx;
	char *ruleset;
};

static void record_free(struct record *r)
{
	for (size_t i = 0; i < r->allow_count; i++)
		free(r->allow[i]);
	free(r->allow);
	free(r->ports);
	free(r->ruleset);
	memset(r, 0, sizeof(*r));
}

static int record_read(struct state_files *sf, const char *path, struct record *r,
		       char **error_r)
{
	json_object *o, *v;
	unsigned char *buf;
	size_t len, cap;
	int fd;

	memset(r, 0, sizeof(*r));
	if (sf->dirfd < 0)
		return 0;
	fd = openat(sf->dirfd, sf->base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return mc_error_errno(error_r, "isolation record %s", path);
	}
	if (mc_read_fd(fd, STATE_MAX_BYTES, &buf, &len, error_r) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	o = json_tokener_parse((char *)buf);
	free(buf);
	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "version", &v) ||
	    json_object_get_int(v) != STATE_VERSION ||
	    !json_object_object_get_ex(o, "since", &v) ||
	    !json_object_is_type(v, json_type_int)) {
		json_object_put(o);
		return mc_error_set(error_r, "isolation record %s is damaged "
				    "('mailcure reconnect' removes it with the rules)", path);
	}
	r->exists = true;
	r->since = (time_t)json_object_get_int64(v);
	r->applied = json_object_object_get_ex(o, "applied", &v) && json_object_get_boolean(v);
	r->keep_mx = json_object_object_get_ex(o, "keep_mx", &v) && json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "ruleset", &v) && json_object_is_type(v, json_type_string))
		r->ruleset = mc_xstrdup(json_object_get_string(v));
	cap = 0;
	if (json_object_object_get_ex(o, "ports", &v) && json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			int64_t port = json_object_get_int64(json_object_array_get_idx(v, i));
			if (port > 0 && port <= 65535)
				MC_ARRAY_PUSH(r->ports, r->port_count, cap, (uint16_t)port);
		}
	}
	cap = 0;
	if (json_object_object_get_ex(o, "allow", &v) && json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			json_object *a = json_object_array_get_idx(v, i);
			if (json_object_is_type(a, json_type_string))
				MC_ARRAY_PUSH(r->allow, r->allow_count, cap,
					      mc_xstrdup(json_object_get_string(a)));
		}
	}
	json_object_put(o);
	return 0;
}

/* Write the record (through a temporary name, fsync'd, renamed, the
   directory fsync'd): once this returns, it survives a crash. */
static int record_write(struct state_files *sf, const char *path,
			const struct plan *p, time_t since, bool applied,
			char **error_r)
{
	json_object *o = json_object_new_object(), *ports = json_object_new_array(),
		*allow = json_object_new_array();
	char when[64];
	struct tm tm;
	const char *text;
	int fd;

	gmtime_r(&since, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_object_add(o, "version", json_object_new_int(STATE_VERSION));
	json_object_object_add(o, "table", json_object_new_string(TABLE));
	json_object_object_add(o, "applied", json_object_new_boolean(applied));
	json_object_object_add(o, "since", json_object_new_int64((int64_t)since));
	json_object_object_add(o, "since_utc", json_object_new_string(when));
	json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
	for (size_t i = 0; i < p->port_count; i++)
		json_object_array_add(ports, json_object_new_int(p->ports[i]));
	json_object_object_add(o, "ports", ports);
	for (size_t i = 0; i < p->allow_count; i++)
		json_object_array_add(allow, json_object_new_string(p->allow[i]));
	json_object_object_add(o, "allow", allow);
	json_object_object_add(o, "keep_mx", json_object_new_boolean(p->keep_mx));
	json_object_object_add(o, "ruleset", json_object_new_string(p->ruleset));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_NOSLASHESCAPE);

	if (unlinkat(sf->dirfd, sf->tmp, 0) < 0 && errno != ENOENT) {
		mc_error_errno(error_r, "isolation record %s.tmp", path);
		goto fail;
	}
	fd = openat(sf->dirfd, sf->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		mc_error_errno(error_r, "isolation record %s.tmp", path);
		goto fail;
	}
	if (mc_write_all(fd, text, strlen(text)) < 0 || mc_write_all(fd, "\n", 1) < 0 ||
	    fsync(fd) < 0) {
		mc_error_errno(error_r, "writing isolation record %s", path);
		close(fd);
		unlinkat(sf->dirfd, sf->tmp, 0);
		goto fail;
	}
	close(fd);
	if (renameat(sf->dirfd, sf->tmp, sf->dirfd, sf->base) < 0 ||
	    mc_fsync_dir(sf->dirfd) < 0) {
		mc_error_errno(error_r, "isolation record %s", path);
		unlinkat(sf->dirfd, sf->tmp, 0);
		goto fail;
	}
	json_object_put(o);
	return 0;
fail:
	json_object_put(o);
	return -1;
}

static int record_remove(struct state_files *sf, const char *path, char **error_r)
{
	if (unlinkat(sf->dirfd, sf->base, 0) < 0 && errno != ENOENT)
		return mc_error_errno(error_r, "removing isolation record %s", path);
	if (mc_fsync_dir(sf->dirfd) < 0)
		return mc_error_errno(error_r, "isolation record directory of %s", path);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Results                                                            */
/* ------------------------------------------------------------------ */

void mc_isolation_free(struct mc_isolation **isop)
{
	struct mc_isolation *iso = *isop;

	if (iso == NULL)
		return;
	*isop = NULL;
	free(iso->ports);
	for (size_t i = 0; i < iso->allow_count; i++)
		free(iso->allow[i]);
	free(iso->allow);
	free(iso->ruleset);
	free(iso->state_path);
	for (size_t i = 0; i < iso->kicked_count; i++)
		free(iso->kicked[i]);
	free(iso->kicked);
	for (size_t i = 0; i < iso->command_count; i++)
		free(iso->commands[i]);
	free(iso->commands);
	free(iso->warning);
	free(iso);
}

static struct mc_isolation *iso_from_plan(const struct plan *p)
{
	struct mc_isolation *iso = mc_xcalloc(1, sizeof(*iso));

	iso->ports = mc_xcalloc(p->port_count + 1, sizeof(*iso->ports));
	memcpy(iso->ports, p->ports, p->port_count * sizeof(*iso->ports));
	iso->port_count = p->port_count;
	iso->allow = mc_xcalloc(p->allow_count + 1, sizeof(*iso->allow));
	for (size_t i = 0; i < p->allow_count; i++)
		iso->allow[i] = mc_xstrdup(p->allow[i]);
	iso->allow_count = p->allow_count;
	iso->keep_mx = p->keep_mx;
	iso->ruleset = mc_xstrdup(p->ruleset);
	iso->state_path = mc_xstrdup(p->state_path);
	return iso;
}

/* The record's view replaces the plan's (status, "already"). */
static void iso_take_record(struct mc_isolation *iso, struct record *r)
{
	iso->recorded = r->exists;
	iso->applied = r->applied;
	iso->since = r->since;
	if (!r->exists)
		return;
	free(iso->ports);
	iso->ports = r->ports;
	iso->port_count = r->port_count;
	for (size_t i = 0; i < iso->allow_count; i++)
		free(iso->allow[i]);
	free(iso->allow);
	iso->allow = r->allow;
	iso->allow_count = r->allow_count;
	iso->keep_mx = r->keep_mx;
	if (r->ruleset != NULL) {
		free(iso->ruleset);
		iso->ruleset = r->ruleset;
	}
	r->ports = NULL;
	r->allow = NULL;
	r->ruleset = NULL;
	r->port_count = r->allow_count = 0;
}

static void iso_command(struct mc_isolation *iso, char *cmd)
{
	size_t cap = iso->command_count;	/* exact: grow by one */

	iso->commands = mc_xrealloc(iso->commands, (cap + 1) * sizeof(*iso->commands));
	iso->commands[iso->command_count++] = cmd;
}

static void iso_warn(struct mc_isolation *iso, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void iso_warn(struct mc_isolation *iso, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg == NULL)
		return;
	if (iso->warning == NULL) {
		iso->warning = msg;
	} else {
		char *both = mc_xasprintf("%s; %s", iso->warning, msg);
		free(iso->warning);
		free(msg);
		iso->warning = both;
	}
}

/* ------------------------------------------------------------------ */
/* Dovecot sessions (listed by sessions.c)                           */
/* ------------------------------------------------------------------ */

static char *dv_prefix(const struct mc_doveadm *dv)
{
	const char *config = mc_doveadm_config(dv);

	if (config != NULL)
		return mc_xasprintf("doveadm -c %s", config);
	return mc_xstrdup("doveadm");
}

/* Cut the sessions of clients that are not allowed (DRY: only list
   the commands). */
static void kick_sessions(const struct mc_isolate_settings *set,
			  const struct plan *p, struct mc_isolation *iso, bool dry)
{
	struct mc_doveadm dv = { set->doveadm, set->dovecot_config, KICK_TIMEOUT_S };
	struct mc_session *s = NULL, *left = NULL;
	size_t count = 0, left_count = 0, ipcap = 0, ipcount = 0, kcap = 0;
	char **ips = NULL, *why = NULL;
	char *prefix = dv_prefix(&dv);

	if (dry)
		iso_command(iso, mc_xasprintf("%s who -1", prefix));
	if (mc_sessions_list(&dv, &s, &count, &why) < 0) {
		if (dry)
			iso_command(iso, mc_xasprintf("%s kick ADDRESS   (each client address "
						      "that is not allowed)", prefix));
		else
			iso_warn(iso, "Dovecot is not running or cannot be reached (%s): no "
				 "session was disconnected; the firewall rules apply anyway", why);
		free(why);
		free(prefix);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		bool seen = false;

		if (address_allowed(p, s[i].ip))
			continue;
		for (size_t j = 0; j < ipcount; j++)
			seen |= strcmp(ips[j], s[i].ip) == 0;
		if (!seen)
			MC_ARRAY_PUSH(ips, ipcount, ipcap, s[i].ip);
		if (!dry)
			MC_ARRAY_PUSH(iso->kicked, iso->kicked_count, kcap,
				      mc_xasprintf("%s %s %s", s[i].user, s[i].proto, s[i].ip));
	}
	for (size_t i = 0; i < ipcount; i++) {
		const char *args[] = { "kick", ips[i], NULL };
		char *err = NULL, *error = NULL;
		int code;

		if (dry) {
			iso_command(iso, mc_xasprintf("%s kick %s", prefix, ips[i]));
			continue;
		}
		code = mc_doveadm_run(&dv, args, NULL, 0, 1U << 20, NULL, NULL, &err, &error);
		if (code != 0)
			iso_warn(iso, "doveadm kick %s: %s", ips[i],
				 code < 0 ? error : err != NULL ? err : "failed");
		free(err);
		free(error);
	}
	/* Kicked processes take a moment to go; then look again. A
	   session still there shares a process with an allowed one
	   (client_limit > 1): say so rather than cut the administrator. */
	if (!dry && ipcount > 0) {
		for (int tries = 0; tries < 20; tries++) {
			mc_sessions_free(left, left_count);
			left = NULL;
			left_count = 0;
			if (mc_sessions_list(&dv, &left, &left_count, &why) < 0) {
				free(why);
				why = NULL;
				break;
			}
			size_t bad = 0;
			for (size_t i = 0; i < left_count; i++)
				bad += !address_allowed(p, left[i].ip);
			if (bad == 0)
				break;
			mc_sleep_ms(100);
		}
		for (size_t i = 0; i < left_count; i++) {
			if (!address_allowed(p, left[i].ip))
				iso_warn(iso, "still connected after doveadm kick: %s %s %s "
					 "(try doveadm kick -f)", left[i].user, left[i].proto,
					 left[i].ip);
		}
	}
	mc_sessions_free(left, left_count);
	mc_sessions_free(s, count);
	free(ips);
	free(prefix);
}

/* ------------------------------------------------------------------ */
/* Apply, status, remove                                              */
/* ------------------------------------------------------------------ */

static int need_root(const char *what, char **error_r)
{
	if (geteuid() != 0)
		return mc_error_set(error_r, "%s changes the firewall: run it as root", what);
	return 0;
}

int mc_isolate_apply(const struct mc_isolate_settings *set,
		     struct mc_isolation **iso_r, char **error_r)
{
	struct state_files sf;
	struct record rec;
	struct mc_isolation *iso;
	struct plan p;
	char *nft_err = NULL, *cmds;
	uint64_t dropped;
	int present;
	time_t since;

	*iso_r = NULL;
	if (plan_init(set, &p, error_r) < 0)
		return -1;
	iso = iso_from_plan(&p);
	if (set->dry_run) {
		/* Checked by nft (no commit) when we may; shown always. */
		if (geteuid() == 0) {
			cmds = mc_xasprintf("add table " TABLE "\ndelete table " TABLE "\n%s",
					    p.ruleset);
			if (nft_run(cmds, false, true, NULL, &nft_err) < 0) {
				nft_failure(error_r, "the rules would not load", nft_err);
				free(nft_err);
				free(cmds);
				goto fail;
			}
			free(cmds);
		}
		iso_command(iso, mc_xasprintf("nft -f - <<'EOF'\n%sEOF", p.ruleset));
		if (!set->no_kick)
			kick_sessions(set, &p, iso, true);
		plan_free(&p);
		*iso_r = iso;
		return 0;
	}
	if (need_root("mailcure isolate", error_r) < 0)
		goto fail;
	/* No support at all: say so before anything is written. */
	if (nft_kernel_check(&nft_err) < 0) {
		nft_failure(error_r, "cannot isolate", nft_err);
		free(nft_err);
		goto fail;
	}
	if (state_files_open(p.state_path, true, true, &sf, error_r) < 0)
		goto fail;
	if (record_read(&sf, p.state_path, &rec, error_r) < 0)
		goto fail_sf;
	present = table_present(&dropped, error_r);
	if (present < 0) {
		record_free(&rec);
		goto fail_sf;
	}
	if (rec.exists && present > 0) {
		/* In force: a second isolate changes nothing (but
		   completes a record a crash left unfinished). */
		if (!rec.applied)
			record_write(&sf, p.state_path, &p, rec.since, true, NULL);
		iso_take_record(iso, &rec);
		iso->applied = true;
		iso->already = true;
		iso->rules_checked = true;
		iso->rules_present = true;
		iso->dropped_packets = dropped;
		record_free(&rec);
		state_files_close(&sf);
		plan_free(&p);
		*iso_r = iso;
		return 0;
	}
	/* An interrupted isolate is completed with the new settings
	   (they are what the administrator asks for now). */
	record_free(&rec);
	since = time(NULL);
	if (record_write(&sf, p.state_path, &p, since, false, error_r) < 0)
		goto fail_sf;
	/* One transaction: the table is created whole or not at all;
	   add+delete first replaces a stray table of the same name. */
	cmds = mc_xasprintf("add table " TABLE "\ndelete table " TABLE "\n%s", p.ruleset);
	if (nft_run(cmds, false, false, NULL, &nft_err) < 0) {
		nft_failure(error_r, "cannot put the isolation rules in place", nft_err);
		free(nft_err);
		free(cmds);
		/* Nothing changed: the record would only mislead. */
		record_remove(&sf, p.state_path, NULL);
		goto fail_sf;
	}
	free(cmds);
	iso->recorded = true;
	iso->since = since;
	iso->rules_checked = true;
	iso->rules_present = true;
	if (record_write(&sf, p.state_path, &p, since, true, error_r) < 0) {
		/* The rules are in and the record says how to remove
		   them; only the "applied" mark is missing. */
		iso_warn(iso, "%s", *error_r);
		free(*error_r);
		*error_r = NULL;
	} else {
		iso->applied = true;
	}
	if (!set->no_kick)
		kick_sessions(set, &p, iso, false);
	state_files_close(&sf);
	plan_free(&p);
	*iso_r = iso;
	return 0;

fail_sf:
	state_files_close(&sf);
fail:
	mc_isolation_free(&iso);
	plan_free(&p);
	return -1;
}

int mc_isolate_status(const struct mc_isolate_settings *set,
		      struct mc_isolation **iso_r, char **error_r)
{
	struct mc_isolation *iso = mc_xcalloc(1, sizeof(*iso));
	struct state_files sf;
	struct record rec;
	uint64_t dropped;
	int present;

	*iso_r = NULL;
	iso->state_path = state_path_of(set);
	if (state_files_open(iso->state_path, false, false, &sf, error_r) < 0 ||
	    record_read(&sf, iso->state_path, &rec, error_r) < 0) {
		state_files_close(&sf);
		mc_isolation_free(&iso);
		return -1;
	}
	state_files_close(&sf);
	iso_take_record(iso, &rec);
	record_free(&rec);
	if (geteuid() == 0) {
		present = table_present(&dropped, error_r);
		if (present < 0) {
			mc_isolation_free(&iso);
			return -1;
		}
		iso->rules_checked = true;
		iso->rules_present = present > 0;
		iso->dropped_packets = dropped;
	}
	*iso_r = iso;
	return 0;
}

int mc_isolate_remove(const struct mc_isolate_settings *set,
		      struct mc_isolation **iso_r, char **error_r)
{
	struct mc_isolation *iso = mc_xcalloc(1, sizeof(*iso));
	struct state_files sf;
	struct record rec;
	char *nft_err = NULL;
	uint64_t dropped;
	int present = -1;

	*iso_r = NULL;
	iso->state_path = state_path_of(set);
	if (!set->dry_run && need_root("mailcure reconnect", error_r) < 0) {
		mc_isolation_free(&iso);
		return -1;
	}
	if (state_files_open(iso->state_path, false, !set->dry_run, &sf, error_r) < 0) {
		mc_isolation_free(&iso);
		return -1;
	}
	if (record_read(&sf, iso->state_path, &rec, error_r) < 0) {
		/* A damaged record still means: remove the rules, then it. */
		free(*error_r);
		*error_r = NULL;
		memset(&rec, 0, sizeof(rec));
		rec.exists = true;
	}
	iso_take_record(iso, &rec);
	record_free(&rec);
	if (geteuid() == 0) {
		present = table_present(&dropped, error_r);
		if (present < 0)
			goto fail;
		iso->rules_checked = true;
		iso->rules_present = present > 0;
		iso->dropped_packets = dropped;
	}
	if (set->dry_run) {
		if (present != 0)
			iso_command(iso, mc_xstrdup("nft delete table " TABLE));
		if (iso->recorded)
			iso_command(iso, mc_xasprintf("rm %s", iso->state_path));
		state_files_close(&sf);
		*iso_r = iso;
		return 0;
	}
	/* Rules first, record after: a crash in between leaves a record
	   that a second reconnect completes. */
	if (present > 0) {
		if (nft_run("delete table " TABLE, false, false, NULL, &nft_err) < 0) {
			nft_failure(error_r, "cannot remove the isolation rules", nft_err);
			free(nft_err);
			goto fail;
		}
		iso->removed_rules = true;
		iso->rules_present = false;
	}
	if (iso->recorded && sf.dirfd >= 0) {
		if (record_remove(&sf, iso->state_path, error_r) < 0)
			goto fail;
		iso->removed_record = true;
	}
	state_files_close(&sf);
	*iso_r = iso;
	return 0;
fail:
	state_files_close(&sf);
	mc_isolation_free(&iso);
	return -1;
}
