#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t0010-include-layers - the library's layers include each other without a cycle
# DESCRIPTION
#	tests/check-layers.py passes on the tree: no lib/ file includes a
#	src/ header, lib/store/ and lib/engine/ keep out of each other's
#	headers, and neither the layers nor the headers include each
#	other in a cycle. On a copy of the tree with each of those
#	planted, it fails and names the file, the line and the header or
#	the cycle. The #include lines quoted in the man-page blocks are
#	not counted.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_setup
mc_need python3

check="$MC_SRC/tests/check-layers.py"
python3 "$check" "$MC_SRC" 2>"$T/real.err" ||
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

plant lib/util.c '#include "../src/commands.h"' \
	'includes src/commands.h: the library depends on the CLI'
plant lib/net/isolate.c '#include "../../src/commands.h"' \
	'includes src/commands.h: the library depends on the CLI'
plant lib/engine/clamav.c '#include "../store/store-private.h"' \
	'includes lib/store/store-private.h: a private header of lib/store'
plant lib/store/mbox.c '#include "nonexistent.h"' \
	'"nonexistent.h" is not in the tree'
plant lib/internal.h '#include "store/store-private.h"' \
	'headers include each other in a cycle: lib/internal.h -> lib/store/store-private.h -> lib/internal.h'
plant lib/internal.h '#include "store/store-private.h"' \
	'layers include each other in a cycle: lib -> lib/store -> lib'

# An #include quoted in a man-page block is no edge.
tree_with lib/util.c '/*
/*	#include "commands.h"
/*--*/' || { cat "$T/planted.err"; mc_fail "a quoted #include counted"; }
mc_log "the layer rules hold, and each planted break is found"
