#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1050-bad-input - bad input never crashes and never removes anything
# DESCRIPTION
#	A Maildir holds, beside one infected message: a truncated
#	message (base64 cut short, no closing boundary), binary garbage,
#	an empty file, a FIFO and a directory where message files should
#	be, a message with 5,000 MIME parts, one with message/rfc822
#	nested 1,000 deep, one with multipart nested 1,000 deep, and one
#	larger than --max-message-size. An mbox holds the same kinds of
#	message between clean ones. As an unprivileged user (no root: the
#	mode bits then apply) a file of mode 000 cannot be opened.
#
#	"mailbox clean" must report each bad message as unscanned or as
#	an error with a reason, exit 2, not crash (no signal, no
#	sanitizer report), keep every bad message where it was, and still
#	quarantine the infected message. The truncated message is the
#	exception to the reports: all of its bytes are there and are
#	scanned (its last part runs to the end, as libclamav reads it),
#	so it is clean, not unscanned. A query about headers alone
#	matches the broken messages by their headers: no body can change
#	its answer.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3 base64
mc_setup

s=$T/srv
md=$s/home/kim/Maildir
mbox=$s/var/mail/lee
mc_maildir "$md"
mkdir -p "$(dirname "$mbox")"

# gen KIND FILE: write a bad message of KIND to FILE.
gen() {
	"$MC_PYTHON" - "$1" "$2" <<'EOF'
import os, random, sys
kind, path = sys.argv[1], sys.argv[2]
rnd = random.Random(1050)
hdr = (b"From: bad@example.com\nTo: kim@example.com\nSubject: %s\n"
       b"Date: Mon, 02 Mar 2026 10:00:00 +0000\nMessage-ID: <%s@mailcure.test>\n"
       b"MIME-Version: 1.0\n") % (kind.encode(), kind.encode())
if kind == "truncated":
    b64 = b"TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n" * 20
    data = (hdr + b'Content-Type: multipart/mixed; boundary="XX"\n\n--XX\n'
            b"Content-Type: text/plain\n\nsee attachment\n--XX\n"
            b'Content-Type: application/octet-stream; name="a.exe"\n'
            b"Content-Transfer-Encoding: base64\n\n" + b64 + b"TVqQAAMAA")
elif kind == "garbage":
    data = bytes(rnd.getrandbits(8) for _ in range(20000))
elif kind == "empty":
    data = b""
elif kind == "parts5000":
    parts = b"".join(b"--B\nContent-Type: text/plain\n\npart %d\n" % i for i in range(5000))
    data = hdr + b'Content-Type: multipart/mixed; boundary="B"\n\n' + parts + b"--B--\n"
elif kind == "rfc822deep":
    inner = b"From: x@example.com\nSubject: core\n\nthe core\n"
    for i in range(1000):
        inner = (b"From: level%d@example.com\nSubject: level %d\nMIME-Version: 1.0\n"
                 b"Content-Type: message/rfc822\n\n" % (i, i)) + inner
    data = hdr + b"Content-Type: multipart/mixed; boundary=\"T\"\n\n--T\n" \
        b"Content-Type: message/rfc822\n\n" + inner + b"\n--T--\n"
elif kind == "multipartdeep":
    open_, close = b"", b""
    for i in range(1000):
        open_ += b"--b%d\nContent-Type: multipart/mixed; boundary=\"b%d\"\n\n" % (i, i + 1)
        close = b"--b%d--\n" % (i + 1) + close
    data = (hdr + b'Content-Type: multipart/mixed; boundary="b0"\n\n' + open_ +
            b"--b1000\nContent-Type: text/plain\n\ncore\n" + close + b"--b0--\n")
elif kind == "huge":
    line = b"A" * 75 + b"\n"
    data = hdr + b"Content-Type: text/plain\n\n" + line * 4000
else:
    sys.exit("unknown kind " + kind)
open(path, "wb").write(data)
EOF
}

kinds="truncated garbage empty parts5000 rfc822deep multipartdeep huge"
i=0
for k in $kinds; do
	i=$((i + 1))
	gen "$k" "$md/cur/17000010$i.M$i.$k:2,S"
done
mkfifo "$md/cur/1700002001.M1.fifo:2,S"
mkdir "$md/cur/1700002002.M2.dir:2,S"
echo "a message would be here" >"$md/cur/1700002002.M2.dir:2,S/inner"
mc_msg_eicar -s "kim infected" | mc_maildir_put "$md" new >/dev/null
mc_msg_plain -s "kim clean" | mc_maildir_put "$md" cur S >/dev/null

# The mbox: each bad kind between clean messages (garbage and empty
# are no messages of their own inside an mbox).
mc_msg_plain -s "lee clean first" | mc_mbox_put "$mbox" >/dev/null
for k in truncated parts5000 rfc822deep multipartdeep huge; do
	gen "$k" "$T/m"
	mc_mbox_put "$mbox" "bad-$k@example.com" <"$T/m" >/dev/null
	mc_msg_plain -s "lee clean after $k" | mc_mbox_put "$mbox" >/dev/null
done
mc_msg_eicar -s "lee infected" | mc_mbox_put "$mbox" >/dev/null
mc_msg_plain -s "lee clean last" | mc_mbox_put "$mbox" >/dev/null

# crashed N: fail when exit status N means a signal or a sanitizer.
crashed() {
	case $1 in 0|1|2) return 1 ;; esac
	mc_show >&2
	mc_fail "mailcure exited with status $1 (crash or sanitizer report)"
}

# --- Maildir ---
before=$(mc_snapshot "$md")
mc_cure --json --max-message-size 200k mailbox clean -s "maildir:$md"
crashed "$MC_RC" || true
mc_expect_rc 2 "mailbox clean over bad Maildir files"
cp "$MC_OUT" "$T/md.json"

problems=$(mc_json "$T/md.json" '
import os
for e in events:
    if e.get("event") in ("error", "unscanned"):
        print(os.path.basename(e.get("path", "?")), "|", e.get("event"), "|", e.get("why", ""))')
mc_log "reported:"
echo "$problems" | sed 's/^/#   /'
for f in "$md"/cur/17000010* "$md"/cur/1700002001* "$md"/cur/1700002002*; do
	b=$(basename "$f")
	line=$(echo "$problems" | grep -F "$b |" || true)
	case $b in
	*.truncated:*)
		[ -z "$line" ] || { mc_show; mc_fail "$b is reported: $line"; }
		continue
		;;
	esac
	[ -n "$line" ] || { mc_show; mc_fail "$b is not reported as unscanned or error"; }
	[ -n "${line##*| }" ] || mc_fail "no reason given for $b"
done
mc_assert_eq "kim infected	quarantined" "$(mc_events "$T/md.json" match subject action)" \
	"matches in the Maildir"
after=$(mc_snapshot "$md")
lost=$(comm -23 <(echo "$before") <(echo "$after"))
mc_assert_eq "1" "$(echo "$lost" | grep -c .)" "files gone from the Maildir (only the infected one)"
echo "$lost" | grep -q '^new/' || mc_fail "removed from the Maildir: $lost"

# --- mbox ---
before=$(sha_multiset "$(dirname "$mbox")")
mc_cure --json --max-message-size 200k mailbox clean -s "mbox:$mbox"
crashed "$MC_RC" || true
mc_expect_rc 2 "mailbox clean over an mbox with bad messages"
cp "$MC_OUT" "$T/mbox.json"
bad=$(mc_json "$T/mbox.json" '
for e in events:
    if e.get("event") in ("error", "unscanned") and e.get("why"):
        print(e.get("offset"))' | sort -n | wc -l)
mc_assert_eq 4 "$bad" "bad mbox messages but the truncated one reported with a reason"
mc_assert_eq "lee infected	quarantined" "$(mc_events "$T/mbox.json" match subject action)" \
	"matches in the mbox"
gone=$(comm -23 <(echo "$before") <(sha_multiset "$(dirname "$mbox")") | wc -l)
mc_assert_eq 1 "$gone" "messages gone from the mbox (only the infected one)"
for k in truncated parts5000 rfc822deep multipartdeep huge; do
	grep -q "^From bad-$k@example.com " "$mbox" || mc_fail "the $k message left the mbox"
done

# find over the same bad input: same reports, exit 2.
mc_cure --json --max-message-size 200k mailbox find -s "maildir:$md" -s "mbox:$mbox"
crashed "$MC_RC" || true
mc_expect_rc 2 "mailbox find over bad input"

# A query about headers alone: no body can change its answer, so the
# truncated message and those over a MIME limit are neither unscanned
# nor errors: they match by their From. What is no mail message,
# or too large to be read, is still reported.
mc_cure --json --max-message-size 200k mailbox find -s "maildir:$md" -s "mbox:$mbox" \
	'from:bad@example.com'
crashed "$MC_RC" || true
mc_expect_rc 2 "a header query over bad input"
mc_assert_eq "multipartdeep
multipartdeep
parts5000
parts5000
rfc822deep
rfc822deep
truncated
truncated" "$(mc_events "$MC_OUT" match subject | sort)" "header query matches"
mc_assert_eq "error 4
unscanned 2" "$(mc_json "$MC_OUT" '
import collections
c = collections.Counter(e["event"] for e in events if e.get("event") in ("error", "unscanned"))
for k in sorted(c):
    print(k, c[k])')" "header query: errors (garbage, empty, FIFO, directory) and unscanned (too large)"
# And when they do not match: clean, not unscanned.
mc_cure --json --max-message-size 200k mailbox find -s "maildir:$md" -s "mbox:$mbox" \
	'from:nobody@example.com'
crashed "$MC_RC" || true
mc_expect_rc 2 "a header query over bad input, nothing matching"
mc_assert_eq "error 4
unscanned 2" "$(mc_json "$MC_OUT" '
import collections
c = collections.Counter(e["event"] for e in events if e.get("event") in ("error", "unscanned"))
for k in sorted(c):
    print(k, c[k])')" "header query without matches: only the errors and the too large"

# --- unreadable, as an unprivileged user ---
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
   setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$MAILCURE" -a -r "$MC_SIGS/mailcure-test.ndb" 2>/dev/null; then
	# Its own directory under /tmp: the user must be able to reach it,
	# whatever the modes of the directories $T lies in.
	u=$(mktemp -d /tmp/mc-unpriv.XXXXXX)
	mc_at_exit "rm -rf '$u'"
	chmod 0711 "$u"
	umd=$u/Maildir
	mc_maildir "$umd"
	mc_msg_plain -s "readable" | mc_maildir_put "$umd" cur S >/dev/null
	mc_msg_eicar -s "readable infected" | mc_maildir_put "$umd" new >/dev/null
	locked=$(mc_msg_plain -s "unreadable" | mc_maildir_put "$umd" cur S)
	chown -R 65534:65534 "$u"
	chmod 000 "$locked"
	MC_LAST="setpriv nobody mailcure mailbox clean"
	set +e
	# TMPDIR: the engine's temporary files must be writable by nobody.
	TMPDIR=$u setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$MAILCURE" -d "$MC_SIGS" --quarantine "$u/q" --progress never --json \
		mailbox clean -s "maildir:$umd" >"$MC_OUT" 2>"$MC_ERR" </dev/null
	MC_RC=$?
	set -e
	crashed "$MC_RC" || true
	mc_expect_rc 2 "mailbox clean as nobody over a mode-000 file"
	line=$(mc_json "$MC_OUT" '
for e in events:
    if e.get("event") in ("error", "unscanned"):
        print(e.get("path", ""), "|", e.get("why", ""))' | grep -F "$(basename "$locked") |" || true)
	[ -n "$line" ] && [ -n "${line##*| }" ] ||
		{ mc_show; mc_fail "the unreadable file is not reported with a reason"; }
	[ -f "$locked" ] || mc_fail "the unreadable file was removed"
	mc_assert_eq "readable infected	quarantined" "$(mc_events "$MC_OUT" match subject action)" \
		"matches as nobody"
else
	mc_log "unreadable-file case skipped (needs root, setpriv, and $MAILCURE usable by nobody)"
fi
