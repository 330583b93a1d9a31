#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1072-terms-documented - every query key is in the manual page
# DESCRIPTION
#	Reads the keys of the query language from the parser's table of
#	keys and checks that mailcure(1) describes each as a term of
#	the QUERY section, so a new term cannot ship undocumented.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_setup

keys=$(grep -ohE '\{ "[a-z-]+", T_[A-Z_]+[ ,]' "$MC_SRC"/lib/query*.c |
	sed 's/{ "\([a-z-]*\)".*/\1/' | sort -u)
[ "$(echo "$keys" | wc -w)" -ge 10 ] || mc_fail "keys not found in lib/query*.c: $keys"
man=$MC_SRC/man/mailcure.1
for key in $keys; do
	# A term paragraph starts ".TP" then a line naming it in bold.
	grep -A1 '^\.TP' "$man" | grep -qE "^\.B[IR]? +(.*[ \"])?$key([:><]|\\\\f| |$)" ||
		mc_fail "query key '$key' is not described in $man"
done
