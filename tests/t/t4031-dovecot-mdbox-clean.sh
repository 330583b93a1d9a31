#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t4031-dovecot-mdbox-clean.sh - the dovecot: store on mdbox, with restore
# DESCRIPTION
#	The checks of t4030 (see there) with mdbox mailboxes, including
#	doveadm purge after the clean.

T4_FORMAT=mdbox exec bash "$(dirname "$0")/t4030-dovecot-sdbox-clean.sh"
