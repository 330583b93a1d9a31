/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	exim_freeze 3
/* SUMMARY
/*	freeze and thaw the queue of an Exim instance
/* SYNOPSIS
/*	#include "exim_ctl.h"
/* DESCRIPTION
/*	Not there yet for Exim: freeze and thaw refuse, and the queue
/*	is never reported frozen.
/*--*/

#include <stdlib.h>

#include "mailcure/mailcure.h"
#include "internal.h"
#include "exim_ctl.h"

int mc_exim_freeze_state(const struct mc_exim *ex, const char *state_dir,
			 bool *frozen_r, bool *recorded_r, time_t *frozen_at_r,
			 char **error_r)
{
	(void)ex, (void)state_dir, (void)error_r;
	*frozen_r = *recorded_r = false;
	*frozen_at_r = 0;
	return 0;
}

int mc_exim_freeze(const struct mc_exim *ex, const char *state_dir,
		   bool dry_run, char **note_r, char **error_r)
{
	(void)ex, (void)state_dir, (void)dry_run, (void)note_r;
	return mc_error_set(error_r, "not supported for Exim yet");
}

int mc_exim_thaw(const struct mc_exim *ex, const char *state_dir,
		 bool force, bool dry_run, char **note_r, char **error_r)
{
	(void)ex, (void)state_dir, (void)force, (void)dry_run, (void)note_r;
	return mc_error_set(error_r, "not supported for Exim yet");
}
