#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1600-command-help - "mailcure COMMAND --help" prints that command's usage
# DESCRIPTION
#	For every command, and for a subcommand of each command group,
#	--help and -h (after the command, anywhere, with global options
#	around) print on stdout, with exit 0 and nothing on stderr, the
#	usage of that command: its usage lines and its own options, not
#	the global list of commands. "mailcure --help" still lists the
#	commands. A usage error of a command prints that command's usage
#	on stderr, with exit 2.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_setup

# expect_usage CMD OPTION... -- ARGS...: usage of CMD on stdout,
# exit 0, and every OPTION named in it.
expect_usage() {
	local cmd=$1 o
	shift
	local opts=()
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	mc_run "$@"
	mc_expect_rc 0 "$*"
	[ ! -s "$MC_ERR" ] || { mc_show; mc_fail "$*: wrote to stderr"; }
	head -n 1 "$MC_OUT" | grep -q "^usage: mailcure \[GLOBAL OPTIONS\] $cmd\b" ||
		{ mc_show; mc_fail "$*: not the usage of '$cmd'"; }
	if grep -q '^commands:' "$MC_OUT"; then
		mc_show
		mc_fail "$*: printed the global help"
	fi
	for o in "${opts[@]}"; do
		grep -q -- "$o" "$MC_OUT" || { mc_show; mc_fail "$*: '$o' is not described"; }
	done
}

expect_usage mailbox --store -- mailbox --help
expect_usage mailbox --store -- mailbox -h
expect_usage mailbox --store -- mailbox find --help
expect_usage mailbox --store -- --json mailbox clean -s /nonexistent --help virus
expect_usage quarantine --run --user --before -- quarantine --help
expect_usage quarantine --run -- quarantine restore --help
expect_usage queue --postfix-config --queue --force -- queue --help
expect_usage queue --postfix-config -- queue freeze -h
expect_usage host --exclude --one-file-system --max-filesize --max-depth \
	--no-default-excludes /proc -- host --help
expect_usage host --exclude -- host scan /nonexistent --help
expect_usage isolate --allow --ports --keep-mx --no-kick --status --state -- isolate --help
expect_usage reconnect --state -- reconnect --help
expect_usage respond --store --allow --until --skip --max-delete --yes --resume \
	--postfix-config --clean-host --host-path -- respond --help
expect_usage respond --resume -- -q respond --resume --help
expect_usage report --html -- report --help
expect_usage report --html -- report SOMERUN --html "$T/x.html" --help
expect_usage demo --keep --dir --create-only --users --messages --seed -- demo --help
[ ! -e "$T/x.html" ] || mc_fail "--help ran the command"

mc_run --help
mc_expect_rc 0 "--help"
grep -q '^commands:' "$MC_OUT" || { mc_show; mc_fail "--help: no list of commands"; }
for c in mailbox quarantine respond report demo host queue isolate reconnect; do
	grep -q "^  $c " "$MC_OUT" || { mc_show; mc_fail "--help does not list $c"; }
done

# Usage errors: the command's usage on stderr, exit 2.
for args in "mailbox" "mailbox bogus" "quarantine" "queue bogus" "host" \
	"report" "demo --bogus" "isolate --bogus" "reconnect --bogus" "respond --bogus"; do
	# shellcheck disable=SC2086
	mc_run $args
	mc_expect_rc 2 "$args"
	cmd=${args%% *}
	grep -q "^usage: mailcure \[GLOBAL OPTIONS\] $cmd\b" "$MC_ERR" ||
		{ mc_show; mc_fail "$args: no usage of $cmd on stderr"; }
done
mc_run quarantine show
mc_expect_rc 2 "quarantine show"
grep -q "Try 'mailcure quarantine --help'" "$MC_ERR" || { mc_show; mc_fail "quarantine show: no hint"; }
echo "ok: every command's --help"
