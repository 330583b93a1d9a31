#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1620-completion - bash completion of commands, options and ids
# DESCRIPTION
#	Sources completion/mailcure.bash and calls its completion
#	function as bash would, with COMP_LINE, COMP_POINT and the default
#	COMP_WORDBREAKS: commands, subcommands, global and per-command
#	options, the values of --progress, store prefixes after -s and
#	--store=, files after an option taking a FILE, run ids from the
#	state directory and the quarantine (given on the line, or by the
#	settings file), and quarantine ids.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_setup

. "$MC_SRC/completion/mailcure.bash"
complete -p mailcure >/dev/null || mc_fail "no completion registered for mailcure"

# comp LINE: the completions of LINE (cursor at its end) in $got, one a
# line. Not in a subshell: the completion keeps what --help printed.
comp() {
	COMP_LINE="$MAILCURE $1"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_mailcure
	got=$(printf '%s\n' "${COMPREPLY[@]}")
}
# want LINE WORD...: each WORD is offered for LINE.
want() {
	local line=$1 w
	shift
	comp "$line"
	for w in "$@"; do
		grep -qxF -- "$w" <<<"$got" || mc_fail "'$line': '$w' not offered, got: $(echo $got)"
	done
}
# exactly LINE WORDS: the completions of LINE are WORDS (sorted, one line).
exactly() {
	comp "$1"
	mc_assert_eq "$2 " "$(sort <<<"$got" | tr '\n' ' ')" "completions of '$1'"
}

exactly "" "demo host isolate mailbox quarantine queue reconnect report respond watch"
exactly "mail" "mailbox"
exactly "mailbox " "clean find"
exactly "queue " "delete find freeze list release scan status thaw"
exactly "quarantine " "list purge restore show"
exactly "host " "clean scan"
want "--" --database --jobs --json --dry-run --quarantine --config --state-dir --tempdir
want "mailbox find --" --store --json --dry-run
want "--json isolate --" --allow --ports --keep-mx --status --jobs
want "report RUN --" --html
want "respond --sk" --skip
exactly "--progress " "always auto never"
exactly "--scan=w" "whole"
want "mailbox clean -s " maildir: mbox: eml: dovecot:
mkdir -p "$T/Maildir/cur"
# readline replaces what follows the last ':', so "maildir:" stays.
want "mailbox find -s maildir:$T/Mai" "$T/Maildir"
exactly "mailbox find --store=mb" "mbox:"
touch "$T/sigs.hdb"
exactly "-d $T/sigs." "$T/sigs.hdb"
exactly "--config=$T/sig" "$T/sigs.hdb"

# Run ids and quarantine ids.
mkdir -p "$T/state/runs/20261201T000000Z-aaaa" "$T/state/runs/20261202T000000Z-bbbb" \
	"$T/q/entries/20261201T000001Z-000001-11111111" "$T/q/runs"
touch "$T/q/runs/20261130T000000Z-cccc"
exactly "--state-dir $T/state --quarantine $T/q report " \
	"20261130T000000Z-cccc 20261201T000000Z-aaaa 20261202T000000Z-bbbb"
want "--state-dir=$T/state respond --resume " 20261202T000000Z-bbbb
want "--state-dir $T/state --quarantine $T/q quarantine restore --run " 20261130T000000Z-cccc
exactly "--state-dir $T/state --quarantine $T/q quarantine restore --run=20261201" \
	"20261201T000000Z-aaaa"
exactly "--quarantine $T/q quarantine show " "20261201T000001Z-000001-11111111"
exactly "quarantine --quarantine $T/q restore 2026" "20261201T000001Z-000001-11111111"
# From the settings file.
printf 'state_dir = %s\nquarantine = %s\n' "$T/state" "$T/q" >"$T/mailcure.conf"
want "--config $T/mailcure.conf report 20261202" 20261202T000000Z-bbbb
exactly "--config $T/mailcure.conf quarantine show " "20261201T000001Z-000001-11111111"

# Completion offers what --help lists: every global option of the
# source's table must be there.
"$MAILCURE" --help >"$T/help"
n=0
for o in $(sed -n '/^static const struct option global_options/,/^};/s/^[[:space:]]*{ "\([a-z-]*\)".*/\1/p' \
	"$MC_SRC/src/main.c"); do
	n=$((n + 1))
	grep -q -- "--$o\b" "$T/help" || mc_fail "--$o is not in mailcure --help"
done
[ "$n" -gt 20 ] || mc_fail "read only $n global options from src/main.c"
echo "ok: completion of commands, options, stores and ids"
