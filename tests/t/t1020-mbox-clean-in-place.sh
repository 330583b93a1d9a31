#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1020-mbox-clean-in-place - mbox clean cuts out only the infected messages
# DESCRIPTION
#	An mbox with infected messages first and in the middle, clean
#	messages with ">From " quoted lines, CRLF lines, 8-bit text, and
#	a last message without a trailing newline. After "mailbox clean"
#	the file must be the original with exactly the infected messages
#	cut out (every other byte kept, in order), rewritten in place
#	(same inode, owner and mode) and no lock file left behind. An
#	mbox whose only message is infected ends up empty. Restoring the
#	run brings every message back.
#
#	Then the delivery race: while a delivery agent holds the mbox
#	locks (dotlock, then fcntl, as Postfix local does) mailcure
#	waits, and the message appended meanwhile is kept.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3 base64
mc_need_testfiles
mc_setup

mail=$T/var/mail
mbox=$mail/dave
single=$mail/erin
mkdir -p "$mail"
tf=$MC_TESTFILES

# add KEEP SENDER < MSG: append to the mbox; remember kept chunks.
kept=()
add() {
	local off
	off=$(mc_mbox_put "$mbox" "$2")
	[ "$1" = keep ] && kept+=("$off")
	return 0
}

mc_msg_eicar -s "first, infected" | mc_mbox_put "$mbox" "a@example.com" >/dev/null
mc_msg_plain -s "quoted From lines" -b "From the desk of the director:
>From a quoted reply
>>From deeper
From here on, all is well." >"$T/m"; add keep "b@example.com" <"$T/m"
mc_msg_plain -s "plain" >"$T/m"; add keep "c@example.com" <"$T/m"
mc_msg_attach "$tf/clam.zip" -s "middle, infected" -b "From what I hear:
>From the attachment" >"$T/m"; add cut "d@example.com" <"$T/m"
printf 'From: crlf@example.com\r\nSubject: CRLF lines\r\n\r\nline one\r\nFrom two\r\n' >"$T/m"
add keep "e@example.com" <"$T/m"
mc_msg_plain -s "Grüße aus Köln" -b "Schöne Grüße — ÄÖÜ ß €" >"$T/m"; add keep "f@example.com" <"$T/m"
mc_msg_attach "$tf/clam.exe" -s "infected, before the last" >"$T/m"; add cut "g@example.com" <"$T/m"
# The last message has no trailing newline (some writers leave it so).
last_off=$(stat -c %s "$mbox")
{ printf 'From h@example.com Mon Mar  2 10:00:00 2026\n'
  mc_msg_plain -s "last, no trailing newline" -b "The end." | head -c -1
} >>"$mbox"
kept+=("$last_off")

mc_msg_attach "$tf/clam.exe.rtf" -s "the only one" >"$T/m"
mc_mbox_put "$single" "z@example.com" <"$T/m" >/dev/null

chown 1004:8 "$mbox" "$single"
chmod 0660 "$mbox" "$single"

# The expected file: the kept chunks, in order.
"$MC_PYTHON" -c '
import sys
data = open(sys.argv[1], "rb").read()
starts = sorted(int(x) for x in sys.argv[3].split())
allstarts = [int(x) for x in sys.argv[4].split()]
out = b""
for s in starts:
    nxt = [a for a in allstarts if a > s]
    out += data[s:(nxt[0] if nxt else len(data))]
open(sys.argv[2], "wb").write(out)
' "$mbox" "$T/expected" "${kept[*]}" "$(mc_mbox_offsets "$mbox" | tr '\n' ' ')"
[ "$(mc_mbox_offsets "$mbox" | wc -l)" = 8 ] || mc_fail "test setup: expected 8 messages in $mbox"

before=$(sha_multiset "$mail" --meta)
ino=$(stat -c '%i %u:%g %a' "$mbox")
cp "$single" "$T/single.orig"

mc_cure --json mailbox clean -s "mbox:$mbox" -s "mbox:$single"
mc_expect_rc 1 "mailbox clean"
mc_assert_eq 4 "$(mc_summary "$MC_OUT" acted)" "summary: acted"
run=$(mc_summary "$MC_OUT" run)

mc_assert_file_eq "$T/expected" "$mbox" "mbox after the clean"
mc_assert_eq "$ino" "$(stat -c '%i %u:%g %a' "$mbox")" "mbox inode, owner and mode"
[ ! -s "$single" ] || mc_fail "$single still holds data after its only message was removed"
mc_assert_eq "dave erin" "$(ls -A "$mail" | tr '\n' ' ' | sed 's/ $//')" "files in $mail (no lock or temporary file left)"

mc_cure quarantine restore --run "$run"
mc_expect_rc 0 "quarantine restore --run"
mc_assert_eq "$before" "$(sha_multiset "$mail" --meta)" "mail after the restore"
mc_assert_file_eq "$T/single.orig" "$single" "single-message mbox after the restore"

# --- a delivery while mailcure waits for the lock ---
race=$mail/frank
mc_msg_plain -s "race clean 1" | mc_mbox_put "$race" >/dev/null
mc_msg_eicar -s "race infected" | mc_mbox_put "$race" >/dev/null
mc_msg_plain -s "race clean 2" | mc_mbox_put "$race" >/dev/null
mc_msg_plain -s "delivered during the wait" >"$T/late"

# The delivery agent: dotlock, then fcntl lock, hold them, append,
# release. The "locked" file tells the test when it holds both.
"$MC_PYTHON" - "$race" "$T/late" "$T/locked" "$T/released" <<'EOF' &
import fcntl, os, sys, time
mbox, late, flag, released = sys.argv[1:5]
lock = mbox + ".lock"
fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.close(fd)
f = open(mbox, "ab")
fcntl.lockf(f, fcntl.LOCK_EX)
open(flag, "w").close()
time.sleep(2)
msg = open(late, "rb").read()
f.write(b"From late@example.com Mon Mar  2 11:00:00 2026\n" + msg + b"\n")
f.flush()
os.fsync(f.fileno())
open(released, "w").close()
fcntl.lockf(f, fcntl.LOCK_UN)
f.close()
os.unlink(lock)
EOF
agent=$!
mc_at_exit "kill $agent 2>/dev/null"
for _ in $(seq 50); do [ -e "$T/locked" ] && break; sleep 0.1; done
[ -e "$T/locked" ] || mc_fail "test setup: the delivery agent did not lock $race"
mc_cure --json mailbox clean -s "mbox:$race"
[ -e "$T/released" ] || { mc_show; mc_fail "mailcure did not wait for the delivery agent's locks"; }
wait "$agent" || mc_fail "the delivery agent failed"
mc_expect_rc 1 "mailbox clean while the mbox is locked"
mc_assert_eq 1 "$(mc_summary "$MC_OUT" acted)" "race: acted"
subjects=$(grep '^Subject:' "$race")
mc_assert_eq "Subject: race clean 1
Subject: race clean 2
Subject: delivered during the wait" "$subjects" "messages of $race after the clean"
