#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1095-tempdir-sweep - a scan removes the temporary directories
#	that killed runs left in /dev/shm, and nothing else
# DESCRIPTION
#	libclamav unpacks into a private directory in /dev/shm named for
#	the pid of the run. A run that was killed leaves it behind, with
#	whatever was being unpacked. The next scan removes such a
#	directory when its process is gone, it is root's with mode 0700,
#	and it has not changed for ten minutes; a symlink in it is
#	removed, never followed. Directories of live processes, of
#	another owner or mode, recently changed ones, and names that do
#	not carry a pid are left alone. The run's own directory is gone
#	when it ends.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need_root
mc_need python3 stat touch
mc_setup

[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] || mc_skip "/dev/shm is not a tmpfs"

# A pid that no process has: a child that has been waited for.
sh -c 'exit 0' &
dead=$!
wait "$dead" || true
kill -0 "$dead" 2>/dev/null && mc_skip "pid $dead was reused at once"

shm=/dev/shm
tag=t1095-$$
stale=$shm/mailcure-$dead-$tag-stale
live=$shm/mailcure-$$-$tag-live
open=$shm/mailcure-$dead-$tag-open
other=$shm/mailcure-$dead-$tag-other
fresh=$shm/mailcure-$dead-$tag-fresh
nopid=$shm/mailcure-$tag-nopid
all=("$stale" "$live" "$open" "$other" "$fresh" "$nopid")
mc_at_exit 'rm -rf "${all[@]}"'

for d in "${all[@]}"; do
	mkdir -m 0700 "$d"
	echo unpacked >"$d/clamav-1.tmp"
done
# The stale one as a killed run leaves it: files, a directory, and a
# symlink a scanned message could not have made, to a file that must
# survive.
mkdir "$stale/sub" "$stale/sub/deeper"
echo inner >"$stale/sub/deeper/clamav-2.tmp"
echo keep >"$T/outside"
ln -s "$T/outside" "$stale/link"
ln -s "$T" "$stale/sub/dirlink"
chmod 0755 "$open"
chown nobody "$other"
old=$(date -d '-1 hour' '+%Y%m%d%H%M.%S')
for d in "$stale" "$live" "$open" "$other" "$nopid"; do
	touch -h -t "$old" "$d"
done

md=$T/Maildir
mc_maildir "$md"
mc_msg_eicar | mc_maildir_put "$md" >/dev/null
mc_msg_plain | mc_maildir_put "$md" >/dev/null

# Other runs may share /dev/shm, so the run's own directory is known
# by its pid.
mc_run_bg -d "$MC_SIGS" --quarantine "$MC_Q" --progress never \
	-j 1 --json mailbox find -s "$md"
run=$MC_PID
mc_wait_bg
mc_expect_rc 1 "find on a store with EICAR"

[ ! -e "$stale" ] || mc_fail "the stale directory of pid $dead is still there: $(find "$stale")"
[ "$(cat "$T/outside")" = keep ] || mc_fail "the file a symlink pointed to was changed"
[ -d "$T" ] || mc_fail "the directory a symlink pointed to was removed"
for d in "$live" "$open" "$other" "$fresh" "$nopid"; do
	[ -f "$d/clamav-1.tmp" ] || mc_fail "$d was touched"
done
left=$(mc_run_left "$run")
[ -z "$left" ] || mc_fail "the run left its directory behind: $left"

# Pids wrap: a stale directory named for the run's own pid was left by
# an earlier process with that pid (the shell execs the run, which
# keeps its pid).
sh -c 'd=$1/mailcure-$$-$2-self; mkdir -m 0700 "$d" && echo unpacked >"$d/clamav-1.tmp" &&
	touch -h -t "$3" "$d" && echo "$d" >"$4" && shift 4 && exec "$@"' sh \
	"$shm" "$tag" "$old" "$T/self" "$MAILCURE" -d "$MC_SIGS" --quarantine "$MC_Q" \
	--progress never -j 1 --json mailbox find -s "$md" >/dev/null 2>&1 </dev/null || true
self=$(cat "$T/self")
all+=("$self")
[ ! -e "$self" ] || mc_fail "the stale directory named for the run's own pid is still there"
echo "ok: stale directories removed (one named for the run's own pid), the others kept"
