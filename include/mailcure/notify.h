/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	notify 3h
/* SUMMARY
/*	digest mails of what watch did, through the MTA's sendmail
/* SYNOPSIS
/*	#include "mailcure/notify.h"
/* DESCRIPTION
/*	See lib/notify.c.
/*--*/

#ifndef MAILCURE_NOTIFY_H
#define MAILCURE_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* One message acted on (or reported). Every string may be NULL
   (shown as "-") and may hold anything: they come from the mail. */
struct mc_notify_item {
	const char *owner;	/* the mailbox owner's address: the
				   digest's recipient (NULL: none) */
	const char *mailbox;	/* where the message was (store, folder) */
	const char *subject;	/* its Subject, decoded */
	const char *from;	/* its sender, decoded */
	const char *date;	/* its Date */
	const char *reason;	/* the detection that hit it */
	const char *action;	/* what was done: "quarantined", ... */
	const char *quarantine_id;
	const char *run;	/* the run it was done in */
	const char *restore;	/* the command that undoes it */
};

struct mc_notify_template;

/* The template file PATH (checked as a settings file is), or with
   PATH NULL the built-in one for ADMIN's digest or an owner's. -1 with
   "PATH:LINE: why" in *error_r. */
int mc_notify_template_load(const char *path, bool admin,
			    struct mc_notify_template **template_r, char **error_r);
/* The same from SIZE bytes of TEXT read from PATH. */
int mc_notify_template_parse(const char *path, const char *text, size_t size,
			     struct mc_notify_template **template_r, char **error_r);
void mc_notify_template_free(struct mc_notify_template **template);

/* How digests are sent. Start from { 0 }. */
struct mc_notify {
	const char *sendmail;	/* absolute path of the MTA's sendmail */
	const char *from;	/* envelope sender and From: */
	bool users;		/* a digest to each owner */
	const char *admin;	/* and one of all items to this address;
				   NULL: none */
	/* NULL: the built-in templates. */
	const struct mc_notify_template *user_template, *admin_template;
	const char *host;	/* ${host}, Message-ID; NULL: gethostname */
	time_t now;		/* ${now}, Date:; 0: the time of the call */
	unsigned timeout_s;	/* per sendmail run; 0: 120 */
};

/* The digest of COUNT ITEMS to RCPT from FROM as a message (headers,
   empty line, body; lines end in LF): malloc()ed, *len_r bytes. -1
   when RCPT or FROM is no plain address. */
int mc_notify_render(const struct mc_notify *n, const struct mc_notify_template *t,
		     const char *rcpt, const struct mc_notify_item *const *items,
		     size_t count, char **msg_r, size_t *len_r, char **error_r);

/* Send the digests of COUNT ITEMS: one per owner (users), one to the
   administrator (admin). Every digest is tried; *sent_r (may be NULL)
   counts those sendmail took. -1 when any could not be sent or an
   owner address is no plain address, with *error_r naming the first
   failure and how many there were. */
int mc_notify_send(const struct mc_notify *n, const struct mc_notify_item *items,
		   size_t count, unsigned *sent_r, char **error_r);

/* Whether ADDR is a plain address: "local" or "local@domain", the
   local part of letters, digits and ". _ + = -" (not starting with
   '-' or '.'), the domain of dot-separated labels of letters, digits
   and '-', ASCII, at most 254 characters. */
bool mc_notify_address_valid(const char *addr);

#endif
