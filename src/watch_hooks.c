/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	watch_hooks 3
/* SUMMARY
/*	mailcure watch: the digests of a run
/* SYNOPSIS
/*	#include "watch.h"
/* DESCRIPTION
/*	Each message a run acted on or reported is an item; after the
/*	run, the digests go out through the MTA's sendmail as the policy
/*	says (lib/notify.c: one to each mailbox owner, one to the
/*	administrator; none by default). A digest that cannot be sent
/*	is logged; the run stands.
/*--*/

#include <stdlib.h>
#include <string.h>

#include "watch.h"

static char *dup_or_null(const char *s)
{
	return s != NULL ? mc_xasprintf("%s", s) : NULL;
}

void watch_notify_add(struct watch *w, const struct mc_msg *msg, const char *reason,
		      const char *action, const char *qid)
{
	struct mc_notify_item it = { 0 };
	struct mc_facts *facts = msg->data != NULL || msg->head != NULL ?
		mc_facts_init(msg, &w->g->limits) : NULL;

	if (!mc_watch_policy_notify_users(w->policy) &&
	    mc_watch_policy_notify_admin(w->policy) == NULL) {
		mc_facts_free(&facts);
		return;
	}
	it.owner = dup_or_null(msg->loc.user);
	it.mailbox = mc_xasprintf("%s / %s", msg->loc.store != NULL ? msg->loc.store : "-",
				  msg->loc.folder != NULL ? msg->loc.folder : "-");
	it.subject = dup_or_null(facts != NULL ? mc_facts_header(facts, "Subject") : NULL);
	it.from = dup_or_null(facts != NULL ? mc_facts_header(facts, "From") : NULL);
	it.date = dup_or_null(facts != NULL ? mc_facts_header(facts, "Date") : NULL);
	it.reason = dup_or_null(reason);
	it.action = dup_or_null(action);
	it.quarantine_id = dup_or_null(qid);
	it.run = dup_or_null(w->run_id);
	it.restore = qid != NULL ? mc_xasprintf("mailcure quarantine restore %s", qid) : NULL;
	mc_facts_free(&facts);
	if (w->item_count == w->item_cap) {
		w->item_cap = w->item_cap * 2 + 16;
		w->items = realloc(w->items, w->item_cap * sizeof(*w->items));
		if (w->items == NULL)
			abort();
	}
	w->items[w->item_count++] = it;
}

static void items_free(struct watch *w)
{
	for (size_t i = 0; i < w->item_count; i++) {
		struct mc_notify_item *it = &w->items[i];
		const char *const strs[] = { it->owner, it->mailbox, it->subject, it->from,
					     it->date, it->reason, it->action,
					     it->quarantine_id, it->run, it->restore };

		for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++)
			free((char *)strs[k]);
	}
	free(w->items);
	w->items = NULL;
	w->item_count = w->item_cap = 0;
}

static int templates_load(struct watch *w, struct mc_notify_template **user,
			  struct mc_notify_template **admin, char **error_r)
{
	if (mc_notify_template_load(mc_watch_policy_notify_template(w->policy), false,
				    user, error_r) < 0)
		return -1;
	return mc_notify_template_load(mc_watch_policy_notify_admin_template(w->policy),
				       true, admin, error_r);
}

void watch_notify_run(struct watch *w, const char *run_id)
{
	struct mc_notify_template *user = NULL, *admin = NULL;
	struct mc_notify n = { 0 };
	char *error = NULL;
	unsigned sent = 0;

	if (w->item_count == 0)
		return;
	n.sendmail = mc_watch_policy_sendmail(w->policy);
	n.from = mc_watch_policy_notify_from(w->policy);
	n.users = mc_watch_policy_notify_users(w->policy);
	n.admin = mc_watch_policy_notify_admin(w->policy);
	if (templates_load(w, &user, &admin, &error) < 0 ||
	    (n.user_template = user, n.admin_template = admin,
	     mc_notify_send(&n, w->items, w->item_count, &sent, &error) < 0))
		watch_log(w, LOG_ERR, "run %s: digests: %s", run_id, error);
	else
		watch_log(w, LOG_NOTICE, "run %s: %u digests sent", run_id, sent);
	free(error);
	mc_notify_template_free(&user);
	mc_notify_template_free(&admin);
	items_free(w);
}

void *watch_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		abort();
	return p;
}
