#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1075-yara-scan-user - run as root, YARA rules run as nobody
# DESCRIPTION
#	The YARA scan processes run the rules' modules over hostile
#	input, as libclamav's do. Started by root, they must run as the
#	user nobody with no groups, in /, while the zygote that forks
#	them stays root; the rules still find every message. A rule
#	that loops over every byte keeps each scan process busy long
#	enough to be seen.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need_root
mc_need python3 pgrep
mc_setup

nobody_uid=$(id -u nobody)
nobody_gid=$(id -g nobody)
md=$T/Maildir
mc_maildir "$md"
"$MC_PYTHON" - "$md/new" <<'EOF2'
import sys
for i in range(12):
    with open("%s/17100710%02d.M1.t1075" % (sys.argv[1], i), "w") as f:
        f.write("From: a@b.example\nSubject: s%d\nMessage-ID: <y%d@t1075.test>\n\n" % (i, i))
        f.write(("slow %d\n" % i) * 300000)
EOF2
cat >"$T/slow.yar" <<'EOF2'
rule EveryByte { condition: for all i in (0..filesize - 1): (uint8(i) != 0x01) }
EOF2

mc_run_bg --quarantine "$MC_Q" --progress never -j 2 --json --yara "$T/slow.yar" \
	mailbox find -s "maildir:$md" yara:EveryByte
scanners=0
unchanged=
while kill -0 "$MC_PID" 2>/dev/null; do
	for z in $(pgrep -P "$MC_PID" -x mailcure-zygote || true); do
		zuid=$(awk '/^Uid:/ { print $3 }' "/proc/$z/status" 2>/dev/null || true)
		[ -z "$zuid" ] || [ "$zuid" = 0 ] || mc_fail "the zygote runs as uid $zuid"
		for s in $(pgrep -P "$z" -x mailcure-scan || true); do
			ids=$(awk '/^Uid:|^Gid:/ { print $2, $3, $4, $5 }' \
				"/proc/$s/status" 2>/dev/null | tr '\n' ' ' || true)
			groups=$(awk '/^Groups:/ { $1 = ""; print }' "/proc/$s/status" \
				2>/dev/null || true)
			cwd=$(readlink "/proc/$s/cwd" 2>/dev/null || true)
			[ -n "$ids" ] && [ -n "$cwd" ] || continue
			# Just forked, it may not have changed yet; seen so
			# twice, it never did.
			if [ "$cwd" != / ]; then
				case " $unchanged " in
				*" $s "*) mc_fail "YARA scan process $s stays in $cwd with ids $ids" ;;
				esac
				unchanged="$unchanged $s"
				continue
			fi
			scanners=$((scanners + 1))
			for id in $ids; do
				[ "$id" = "$nobody_uid" ] || [ "$id" = "$nobody_gid" ] ||
					mc_fail "YARA scan process $s has ids $ids"
			done
			[ -z "${groups// /}" ] || mc_fail "YARA scan process $s has groups$groups"
		done
	done
	sleep 0.05
done
mc_wait_bg
mc_expect_rc 1 "find yara:EveryByte"
matched=$(grep -c '"event":"match"' "$MC_OUT" || true)
[ "$matched" = 12 ] || { mc_show >&2; mc_fail "$matched messages matched, not 12"; }
mc_log "YARA scan processes seen in /: $scanners"
[ "$scanners" -gt 0 ] || mc_fail "no YARA scan process was seen running as nobody in /"
echo "ok: YARA scan processes run as nobody, and find every message"
