#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t0010-include-layers - the library's layers include and call each other without a cycle
# DESCRIPTION
#	tests/check-layers.py passes on the tree and the library of the
#	build under test: no lib/ file includes a src/ header, no src/
#	file includes a private header of the library (postfix_ctl.h,
#	exim_ctl.h, internal.h: the command line uses include/mailcure/
#	only), lib/store/ and lib/engine/ keep out of each other's
#	headers, neither the layers nor the headers include each other
#	in a cycle, and the layers do not call each other in a cycle
#	(the symbols the objects of libmailcure.a define and use). On a
#	copy of the tree with each of those planted, it fails and names
#	the file, the line and the header, or the cycle with a call for
#	each step. The #include lines quoted in the man-page blocks are
#	not counted.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_setup
mc_need python3 nm cc

check="$MC_SRC/tests/check-layers.py"
lib="$MC_BUILD/libmailcure.a"
[ -f "$lib" ] || mc_fail "no $lib beside the binary under test"
python3 "$check" "$MC_SRC" "$lib" 2>"$T/real.err" ||
	{ cat "$T/real.err"; mc_fail "the tree breaks the layer rules"; }

# tree_with FILE TEXT: a copy of the tree in $T/tree with TEXT
# appended to FILE; the check's verdict, its messages in $T/planted.err.
tree_with() {
	rm -rf "$T/tree"
	mkdir "$T/tree"
	cp -r "$MC_SRC/include" "$MC_SRC/lib" "$MC_SRC/src" "$T/tree/"
	printf '%s\n' "$2" >>"$T/tree/$1"
	python3 "$check" "$T/tree" 2>"$T/planted.err"
}

# plant FILE TEXT EXPECTED: that copy fails, with EXPECTED in a message.
plant() {
	if tree_with "$1" "$2"; then
		mc_fail "$1 with '$2' passed"
	fi
	grep -qF -- "$3" "$T/planted.err" ||
		{ cat "$T/planted.err"; mc_fail "$1 with '$2': no '$3'"; }
}

# with_call MODULE FUNCTION: the check over the tree and the library
# with one more object, named as meson names MODULE's (lib/date.c:
# lib_date.c.o), whose one function calls FUNCTION; its verdict, its
# messages in $T/planted.err.
with_call() {
	local obj="$T/${1//\//_}.o"
	printf 'int %s(void);\nint mc_planted(void) { return %s(); }\n' "$2" "$2" |
		cc -c -x c -o "$obj" - || mc_fail "cc failed"
	python3 "$check" "$MC_SRC" "$lib" "$obj" 2>"$T/planted.err"
}

# plant_call MODULE FUNCTION EXPECTED: that fails, with EXPECTED in a
# message.
plant_call() {
	if with_call "$1" "$2"; then
		mc_fail "$1 calling $2 passed"
	fi
	grep -qF -- "$3" "$T/planted.err" ||
		{ cat "$T/planted.err"; mc_fail "$1 calling $2: no '$3'"; }
}

plant lib/util.c '#include "../src/commands.h"' \
	'includes src/commands.h: the library depends on the CLI'
plant lib/net/isolate.c '#include "../../src/commands.h"' \
	'includes src/commands.h: the library depends on the CLI'
plant src/cmd_queue.c '#include "postfix_ctl.h"' \
	'includes lib/postfix_ctl.h: a private header of the library'
plant src/cmd_respond.c '#include "exim_ctl.h"' \
	'includes lib/exim_ctl.h: a private header of the library'
plant src/main.c '#include "internal.h"' \
	'includes lib/internal.h: a private header of the library'
plant lib/engine/clamav.c '#include "../store/store-private.h"' \
	'includes lib/store/store-private.h: a private header of lib/store'
plant lib/store/mbox.c '#include "nonexistent.h"' \
	'"nonexistent.h" is not in the tree'
plant lib/internal.h '#include "store/store-private.h"' \
	'headers include each other in a cycle: lib/internal.h -> lib/store/store-private.h -> lib/internal.h'
plant lib/internal.h '#include "store/store-private.h"' \
	'layers include each other in a cycle: lib -> lib/store -> lib'

# Calls: the core calling up into a store, or into the drivers above
# the stores, closes a cycle; so does an engine called from the core.
plant_call lib/date.c mc_store_next \
	'layers call each other in a cycle: lib -> lib/store -> lib (lib/date.c calls mc_store_next of lib/store/store.c;'
plant_call lib/date.c mc_run_pipeline \
	'layers call each other in a cycle: lib -> lib (drivers) -> lib (lib/date.c calls mc_run_pipeline of lib/pipeline.c;'
plant_call lib/date.c mc_yara_scan \
	'layers call each other in a cycle: lib -> lib/engine -> lib (lib/date.c calls mc_yara_scan of lib/engine/yara.c;'
plant_call other.c mc_store_next 'other.c.o: not an object of a module of lib/'
# ... while a store calling the core, and a driver a store, is the
# order of the layers.
with_call lib/store/maildir.c mc_xmalloc ||
	{ cat "$T/planted.err"; mc_fail "a store calling the core counted"; }
with_call lib/restore.c mc_store_next ||
	{ cat "$T/planted.err"; mc_fail "a driver calling a store counted"; }

# An #include quoted in a man-page block is no edge.
tree_with lib/util.c '/*
/*	#include "commands.h"
/*--*/' || { cat "$T/planted.err"; mc_fail "a quoted #include counted"; }
mc_log "the layer rules hold for includes and calls, and each planted break is found"
