#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1097-scan-process-user - run as root, libclamav parses mail and
#	files as nobody
# DESCRIPTION
#	The scan processes are where libclamav parses hostile input.
#	Started by root, they run as the user nobody with no groups, the
#	zygote that forks them stays root, and each works in a directory
#	of its own inside the run's private one. Archives that libclamav
#	unpacks into files there are still found, in messages and in
#	files that only root may read (a host scan hands them over
#	open). Nothing is left behind, in /dev/shm or in --tempdir.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need_root
mc_need_testfiles
mc_need python3 pgrep
mc_setup

nobody_uid=$(id -u nobody)
md=$T/Maildir
mc_attach_store "$md" 60 10 "$MC_TESTFILES/clam.zip" "$MC_TESTFILES/clam.7z" \
	"$MC_TESTFILES/clam.tar.gz"

# Each scan process works in a directory of its own, nobody's, inside
# the run's private one.
scan_dir() {
	case $2 in
	"/dev/shm/mailcure-$MC_PID-"*/scan-*) ;;
	*) mc_fail "scan process $1 works in $2" ;;
	esac
	[ "$(stat -c %u "$2" 2>/dev/null || echo "$nobody_uid")" = "$nobody_uid" ] ||
		mc_fail "$2 is not nobody's"
}

mc_run_bg -d "$MC_SIGS" --quarantine "$MC_Q" --progress never -j 2 --json \
	mailbox find -s "$md"
mc_watch_scanners '*/scan-*' scan_dir
mc_expect_rc 1 "mailbox find"
mc_log "scan processes seen as nobody: $MC_SCANNERS"
[ "$MC_SCANNERS" -gt 0 ] || mc_skip "the run ended before its scan processes were seen"
matched=$(grep -c '"event":"match"' "$MC_OUT" || true)
[ "$matched" = 6 ] || { mc_show >&2; mc_fail "$matched archives found in messages, not 6"; }
grep -q '"event":"error"' "$MC_OUT" && { mc_show >&2; mc_fail "errors in the run"; }

# Files only root may read, in a directory only root may enter.
tree=$T/private
mkdir -m 0700 "$tree"
for i in $(seq 1 30); do
	head -c 1000000 /dev/urandom >"$tree/f$i.bin"
done
cp "$MC_TESTFILES/clam.zip" "$MC_TESTFILES/clam.7z" "$tree/"
chmod 0600 "$tree"/*
mc_run_bg -d "$MC_SIGS" --quarantine "$MC_Q" --progress never -j 2 --json \
	host scan "$tree"
mc_watch_scanners '*/scan-*' scan_dir
mc_expect_rc 1 "host scan"
matched=$(grep -c '"event":"match"' "$MC_OUT" || true)
[ "$matched" = 2 ] || { mc_show >&2; mc_fail "$matched root-only archives found, not 2"; }

# With --tempdir, the run's directory is made there, and goes.
mkdir -m 0755 "$T/tmpbase"
mc_cure -j 2 --json --tempdir "$T/tmpbase" host scan "$tree"
mc_expect_rc 1 "host scan with --tempdir"
matched=$(grep -c '"event":"match"' "$MC_OUT" || true)
[ "$matched" = 2 ] || { mc_show >&2; mc_fail "--tempdir: $matched archives found, not 2"; }
[ -z "$(ls -A "$T/tmpbase")" ] || mc_fail "--tempdir: left $(ls -A "$T/tmpbase")"

# Only this script's runs count: other scripts running beside it kill
# runs on purpose, and their directories wait for the next sweep.
for pid in "${MC_PIDS[@]}"; do
	left=$(mc_run_left "$pid")
	[ -z "$left" ] || mc_fail "a run left $left behind"
done
echo "ok: scan processes run as nobody, archives found in mail and in root-only files"
