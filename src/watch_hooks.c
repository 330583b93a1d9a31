/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	watch_hooks 3
/* SUMMARY
/*	mailcure watch: the seam of the notifications
/* SYNOPSIS
/*	#include "watch.h"
/* DESCRIPTION
/*	The one place where watch tells whom a run concerns, after each
/*	run that acted or reported. The digests of lib/notify.c are not
/*	sent from here yet: nothing is sent.
/*--*/

#include <stdlib.h>

#include "watch.h"

void watch_notify_run(struct watch *w, const char *run_id)
{
	(void)w;
	(void)run_id;
}

void *watch_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		abort();
	return p;
}
