#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t3131-exim-queue-freeze-split - t3130 with a split spool
# DESCRIPTION
#	The freeze, release and thaw of t3130, on an Exim whose
#	split_spool_directory is set.

T3130_SPOOL=-s exec bash "$(dirname "$0")/t3130-exim-queue-freeze.sh"
