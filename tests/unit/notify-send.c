/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	notify-send 1
/* SUMMARY
/*	send watch digests from the command line, for the tests
/* SYNOPSIS
/*	notify-send SENDMAIL FROM ADMIN|- -- [OWNER SUBJECT SENDER REASON]...
/* DESCRIPTION
/*	Calls mc_notify_send() (lib/notify.c) with the built-in
/*	templates, owners notified, the administrator ADMIN ("-": none),
/*	and one item per four arguments (action "quarantined"), so that
/*	an integration test can send digests through a real MTA.
/* DIAGNOSTICS
/*	Exit status 0 when every digest was taken, 1 with the error on
/*	standard error, 2 on wrong usage.
/*--*/

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailcure/mailcure.h"
#include "mailcure/notify.h"

int main(int argc, char **argv)
{
	struct mc_notify n = { .users = true };
	struct mc_notify_item *items;
	size_t count;
	unsigned sent = 0;
	char *error = NULL;

	if (argc < 5 || strcmp(argv[4], "--") != 0 || (argc - 5) % 4 != 0) {
		fprintf(stderr, "usage: notify-send SENDMAIL FROM ADMIN|- -- "
			"[OWNER SUBJECT SENDER REASON]...\n");
		return 2;
	}
	n.sendmail = argv[1];
	n.from = argv[2];
	n.admin = strcmp(argv[3], "-") != 0 ? argv[3] : NULL;
	count = (size_t)(argc - 5) / 4;
	items = calloc(count + 1, sizeof(*items));
	if (items == NULL)
		return 1;
	for (size_t i = 0; i < count; i++) {
		char **a = argv + 5 + 4 * i;

		items[i] = (struct mc_notify_item){
			.owner = a[0], .subject = a[1], .from = a[2], .reason = a[3],
			.mailbox = "maildir:INBOX", .action = "quarantined",
			.quarantine_id = "20261201T000000Z-00001-1", .run = "20261201T000000Z-00001",
			.restore = "mailcure quarantine restore 20261201T000000Z-00001-1",
		};
	}
	if (mc_notify_send(&n, items, count, &sent, &error) < 0) {
		char *shown = mc_text_visible(error);

		fprintf(stderr, "notify-send: %s (%u sent)\n", shown, sent);
		free(shown);
		free(error);
		free(items);
		return 1;
	}
	printf("%u sent\n", sent);
	free(items);
	return 0;
}
