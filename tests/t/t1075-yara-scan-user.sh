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
mc_watch_scanners /
mc_expect_rc 1 "find yara:EveryByte"
matched=$(grep -c '"event":"match"' "$MC_OUT" || true)
[ "$matched" = 12 ] || { mc_show >&2; mc_fail "$matched messages matched, not 12"; }
mc_log "YARA scan processes seen in /: $MC_SCANNERS"
[ "$MC_SCANNERS" -gt 0 ] || mc_fail "no YARA scan process was seen running as nobody in /"
echo "ok: YARA scan processes run as nobody, and find every message"
