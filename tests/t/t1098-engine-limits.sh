#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1098-engine-limits - a message or file that reaches an engine
#	limit is unscanned, never clean
# DESCRIPTION
#	A zip bomb: zips nested three deep around 300 MB of zeros and
#	EICAR, 1 kB attached to a message. libclamav's zip unpacker
#	cuts the 300 MB member at the max file size (100 MB) and scans
#	the rest as if it were all, without its exceeds-max alert, so
#	EICAR is never reached. The message must be unscanned with the
#	limit named (exit 2): scanned part by part, with a --cache file
#	and again from that cache (a verdict cache never holds "clean"
#	for it), and scanned whole, twice in one scan process (whose
#	libclamav cache must not answer "clean" for the same zip the
#	second time). A host scan of the zip file: unscanned too.
#
#	A clean message larger than the max file size (and within
#	--max-message-size), which libclamav refuses with CL_VIRUS and no
#	signature name: unscanned too, not "virus unknown".
#
#	Each scan of the bomb unpacks and scans 100 MB, so the runs are
#	few.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3 base64
mc_setup

mc_eicar >"$T/eicar"
"$MC_PYTHON" - "$T/bomb.zip" "$T/eicar" <<'EOF'
import io, sys, zipfile
eicar = open(sys.argv[2], "rb").read()
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
    with z.open("zeros.bin", "w") as f:
        block = bytes(1 << 20)
        for _ in range(300):
            f.write(block)
        f.write(eicar)
data = buf.getvalue()
for level in range(2):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("level%d.zip" % level, data)
    data = buf.getvalue()
open(sys.argv[1], "wb").write(data)
EOF
mc_log "bomb: $(stat -c %s "$T/bomb.zip") bytes"
mc_msg_attach "$T/bomb.zip" -s "bomb" >"$T/bomb.eml"

# unscanned_limit FILE: FILE reports exactly one unscanned event,
# naming the max file size, and no match.
unscanned_limit() {
	mc_assert_eq "unscanned 1" "$(mc_json "$1" '
import collections
c = collections.Counter(e["event"] for e in events if e["event"] != "summary")
for k in sorted(c):
    print(k, c[k])')" "events of $2"
	mc_events "$1" unscanned why | grep -q 'limit reached.*MaxFileSize' || {
		mc_show >&2
		mc_fail "$2: the limit is not named"
	}
}

# Part by part, keeping verdicts in a cache file; then from it.
cache=$T/verdicts
mc_cure --json --cache "$cache" mailbox find -s "eml:$T/bomb.eml"
mc_expect_rc 2 "find (parts, --cache)"
unscanned_limit "$MC_OUT" "find (parts, --cache)"
mc_log "$(mc_events "$MC_OUT" unscanned why)"
mc_cure --json --cache "$cache" mailbox find -s "eml:$T/bomb.eml"
mc_expect_rc 2 "find (parts, from the --cache file)"
unscanned_limit "$MC_OUT" "find (parts, from the --cache file)"

# Whole, two messages with the same zip in one scan process.
md=$T/Maildir
mc_maildir_put "$md" <"$T/bomb.eml" >/dev/null
mc_msg_attach "$T/bomb.zip" -s "bomb again" | mc_maildir_put "$md" >/dev/null
mc_cure --json -j 1 --scan whole mailbox find -s "maildir:$md"
mc_expect_rc 2 "find --scan whole"
mc_assert_eq "2" "$(mc_events "$MC_OUT" unscanned why | grep -c 'limit reached.*MaxFileSize')" \
	"whole messages unscanned at the max file size"
grep -q '"event":"match"' "$MC_OUT" && { mc_show >&2; mc_fail "find --scan whole: a match"; }

# The zip itself, in a host scan.
mkdir "$T/host"
cp "$T/bomb.zip" "$T/host/"
mc_cure --json host scan "$T/host"
mc_expect_rc 2 "host scan"
unscanned_limit "$MC_OUT" "host scan"

# A message over the max file size: libclamav scans none of it.
mc_msg_plain -s "large" >"$T/large.eml"
"$MC_PYTHON" -c '
import sys
with open(sys.argv[1], "a") as f:
    line = "x" * 76 + "\n"
    for _ in range((101 << 20) // len(line)):
        f.write(line)' "$T/large.eml"
mc_cure --json mailbox find -s "eml:$T/large.eml"
mc_expect_rc 2 "find over a message of 101 MB"
unscanned_limit "$MC_OUT" "find over a message of 101 MB"
