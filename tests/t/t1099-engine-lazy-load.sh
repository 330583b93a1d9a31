#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1099-engine-lazy-load - signatures are loaded only when a scan
#	needs them
# DESCRIPTION
#	A run with a --cache file finds the infected message, and the
#	summary says the signatures were loaded (how many, how long).
#	The same run again takes every verdict from the cache: it finds
#	the same message under the same signature name, and never loads
#	the signatures. A new message makes the next run load them. A
#	signature file rewritten (same size and time, new contents)
#	makes the cache stale: the run loads the signatures and scans
#	again. A broken database is one error at the start, not one per
#	message.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3
mc_setup

cp -r "$MC_SIGS" "$T/sigs"
md=$T/Maildir
mc_msg_eicar -s "infected" | mc_maildir_put "$md" >/dev/null
mc_msg_plain -s "clean" | mc_maildir_put "$md" >/dev/null

find_cached() {
	mc_run -d "$T/sigs" --quarantine "$MC_Q" --progress never --json \
		--cache "$T/verdicts" mailbox find -s "$md"
	mc_expect_rc 1 "$1"
	mc_assert_eq "virus=Eicar-Test-Signature.UNOFFICIAL" "$(mc_events "$MC_OUT" match reasons)" \
		"$1: signature"
	mc_json "$MC_OUT" '
e = [x for x in events if x.get("event") == "summary"][-1]["engine"]
print(e["loaded"], e.get("signatures", 0) > 0, e.get("load_seconds", -1) >= 0,
      e["messages_from_cache"])' >"$T/engine"
}

find_cached "first run"
mc_assert_eq "True True True 0" "$(cat "$T/engine")" "first run: loaded"
find_cached "second run"
mc_assert_eq "False False False 2" "$(cat "$T/engine")" "second run: every verdict from the cache"

mc_msg_plain -s "new" | mc_maildir_put "$md" >/dev/null
find_cached "a new message"
mc_assert_eq "True True True 2" "$(cat "$T/engine")" "a new message: loaded"

# Same size, same modification time, other contents: a stale cache.
hdb=$(ls "$T/sigs"/*.hdb | head -n 1)
"$MC_PYTHON" - "$hdb" <<'EOF'
import os, sys
p = sys.argv[1]
st = os.stat(p)
data = bytearray(open(p, "rb").read())
data[-2:-1] = b"X" if data[-2:-1] != b"X" else b"Y"
open(p, "r+b").write(bytes(data))
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
EOF
find_cached "signatures changed"
mc_assert_eq "True True True 0" "$(cat "$T/engine")" "signatures changed: loaded again"

mkdir "$T/broken"
printf 'Broken:0:*:this is not hex\n' >"$T/broken/broken.ndb"
mc_run -d "$T/broken" --quarantine "$MC_Q" --progress never --json mailbox find -s "$md"
mc_expect_rc 2 "broken database"
grep -q "cannot load $T/broken" "$MC_ERR" || { mc_show; mc_fail "broken database: no error naming it"; }
mc_assert_eq "" "$(mc_events "$MC_OUT" error why)" "broken database: no error per message"
mc_log "ok"
