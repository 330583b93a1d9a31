#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t3111-exim-queue-outbreak-split - t3110 with a split spool directory
# DESCRIPTION
#	The queue step of the outbreak runbook of t3110, on an Exim
#	whose split_spool_directory is set: the spool files of each
#	message are in input/X/, X the sixth character of its id.

T3110_SPOOL=-s exec bash "$(dirname "$0")/t3110-exim-queue-outbreak.sh"
