#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t3020-queue-corrupt-files - truncated and corrupt queue files
# DESCRIPTION
#	With the queue frozen, one queued message is truncated and three
#	files that look like queue files are planted in the hold queue:
#	random bytes, pointer records that loop, a record of a type that
#	does not exist. queue scan, list and delete report each of them
#	with its queue id, process every other message (the infected one
#	is found and deleted), never touch the bad files, and exit 2.
#	A queue directory replaced by a symbolic link is reported and
#	not followed.

set -u
. "$(dirname "$0")/lib-postfix.sh"

mc_setup
pf_need
pf_start
D=$PF_DOMAIN

mc_pf freeze
mc_expect_rc 0 "queue freeze"

mc_eicar >"$T/eicar.com"
pf_smtp "mallory@sender.test" "alice@$D" "infected" --attach "@$T/eicar.com"
pf_smtp "friend@sender.test" "alice@$D" "victim" --body "$(seq 1 300)"
pf_smtp "friend@sender.test" "bob@$D" "clean-a" --body "a"
mc_msg_plain -t "bob@$D" -s "clean-b" | pf_sendmail "local@sender.test" "bob@$D"
pf_wait_queue 4
pf_queue_subjects >"$T/id-subject"
victim=$(pf_id_of "$T/id-subject" victim)
infected=$(pf_id_of "$T/id-subject" infected)
[ -n "$victim" ] && [ -n "$infected" ] || { cat "$T/id-subject"; mc_fail "queue ids"; }

# Truncate the victim in the middle of its content.
vfile=$(find "$PF_SPOOL" -type f -name "$victim")
[ -n "$vfile" ] || mc_fail "no queue file for $victim"
size=$(stat -c %s "$vfile")
truncate -s $((size / 2)) "$vfile"
vsum=$(sha256sum "$vfile" | cut -d' ' -f1)

# Plant three bad files in the hold queue, as Postfix would own them.
mkdir -p "$PF_SPOOL/hold"
head -c 3000 /dev/urandom >"$PF_SPOOL/hold/BAD0000001"
python3 - "$PF_SPOOL/hold" <<'EOF'
import sys
def rec(t, data):
    n = len(data)
    out = bytearray([ord(t)])
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            break
    return bytes(out) + data
d = sys.argv[1]
head = rec("T", b"1795830000 0") + rec("S", b"loop@sender.test") + rec("R", b"alice@mailcure.test") + rec("M", b"")
# Two pointer records that point at each other.
p1 = len(head)
p2 = p1 + 17
body = head + rec("p", b"%15d" % p2) + rec("p", b"%15d" % p1)
open(d + "/BAD0000002", "wb").write(body)
bad = head + rec("N", b"Subject: x") + rec("Z", b"what is this") + rec("X", b"") + rec("E", b"")
open(d + "/BAD0000003", "wb").write(bad)
EOF
for f in BAD0000001 BAD0000002 BAD0000003; do
	chown postfix:postfix "$PF_SPOOL/hold/$f"
	chmod 700 "$PF_SPOOL/hold/$f"
done
bad_sums=$(sha256sum "$PF_SPOOL"/hold/BAD* | sort)

mc_pf scan
mc_expect_rc 2 "queue scan with bad files"
grep -q "^postfix:$victim: ERROR (truncated queue file" "$MC_OUT" ||
	{ mc_show; mc_fail "the truncated file is not reported with its id"; }
grep -q "^postfix:$infected: virus Eicar-Test-Signature" "$MC_OUT" ||
	{ mc_show; mc_fail "the infected message was not found"; }
grep -q "^postfix:BAD0000001: ERROR" "$MC_OUT" || { mc_show; mc_fail "random bytes not reported"; }
grep -q "^postfix:BAD0000002: ERROR (corrupt queue file: pointer records loop" "$MC_OUT" ||
	{ mc_show; mc_fail "pointer loop not reported"; }
grep -q "^postfix:BAD0000003: ERROR (corrupt queue file: unexpected record type 0x5a" "$MC_OUT" ||
	{ mc_show; mc_fail "unknown record type not reported"; }

mc_pf --json scan
mc_expect_rc 2 "queue scan --json"
mc_assert_eq 3 "$(mc_summary "$MC_OUT" scanned)" "scanned"
mc_assert_eq 4 "$(mc_summary "$MC_OUT" errors)" "errors"
mc_assert_eq "$(printf '%s\n' BAD0000001 BAD0000002 BAD0000003 "$victim" | sort)" \
	"$(mc_events "$MC_OUT" error queue_id | sort)" "error events"
mc_assert_eq "$infected" "$(mc_events "$MC_OUT" match queue_id)" "match events"

mc_pf list
mc_expect_rc 2 "queue list with bad files"
grep -q "^$victim .*ERROR (truncated" "$MC_OUT" || { mc_show; mc_fail "list: truncated file"; }
grep -q "Subject: clean-a" "$MC_OUT" || { mc_show; mc_fail "list: the other messages"; }

mc_pf --json delete virus
mc_expect_rc 2 "queue delete with bad files"
mc_assert_eq 1 "$(mc_summary "$MC_OUT" acted)" "deleted"
mc_assert_eq "$infected" "$(mc_events "$MC_OUT" match queue_id)" "deleted message"
[ -z "$(find "$PF_SPOOL" -type f -name "$infected")" ] || mc_fail "infected message still queued"
mc_assert_eq "$vsum" "$(sha256sum "$vfile" | cut -d' ' -f1)" "the truncated file was left alone"
mc_assert_eq "$bad_sums" "$(sha256sum "$PF_SPOOL"/hold/BAD* | sort)" "the planted files were left alone"

# A queue directory replaced by a symlink is reported, not followed.
mv "$PF_SPOOL/maildrop" "$PF_SPOOL/maildrop.real"
ln -s /etc "$PF_SPOOL/maildrop"
mc_pf --json list
mc_expect_rc 2 "queue list with a symlinked queue directory"
pf_check "$MC_OUT" '
errs = [e for e in events if e["event"] == "error"]
assert any("maildrop: is a symbolic link, not followed" in e["why"] for e in errs), errs
assert not any("passwd" in str(e) for e in events), events
'
rm "$PF_SPOOL/maildrop"
mv "$PF_SPOOL/maildrop.real" "$PF_SPOOL/maildrop"

# Clear out the wreckage before Postfix's queue manager sees it.
printf '%s\n' "$victim" BAD0000001 BAD0000002 BAD0000003 | postsuper -c "$PF_CONF" -d - >/dev/null 2>&1
mc_pf thaw
mc_expect_rc 0 "queue thaw"
pf_wait_mailbox bob 2
pf_wait_queue 0
echo ok
