#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t3120-exim-queue-damaged - Exim messages in delivery or damaged are never acted on
# DESCRIPTION
#	With a private Exim (lib-exim.sh) holding two infected messages
#	and a clean one:
#
#	1. A -H file cut short (a copy of a real message under another
#	   id) and a -H file without its -D file are each reported by
#	   id with exit status 2; every other message is still scanned
#	   and the infected ones are found. Messages over the size limit
#	   are reported unscanned, with their envelope.
#	2. While another process holds Exim's lock on the -D file of one
#	   infected message (as a delivery does), delete virus removes
#	   the other one only; the locked one is reported as being
#	   delivered, is not in the quarantine and is still queued,
#	   byte for byte. Once the lock is gone it is removed.

set -u
. "$(dirname "$0")/lib-exim.sh"

mc_setup
ex_need
ex_start -q
D=$EX_DOMAIN
mc_eicar >"$T/eicar.com"
ex_smtp "m@sender.test" "alice@$D" "eicar-1" --attach "@$T/eicar.com"
ex_smtp "m@sender.test" "bob@$D" "eicar-2" --attach "@$T/eicar.com"
ex_smtp "f@sender.test" "carol@$D" "clean-1" --body "hello"
ex_wait_queue 3
ex_queue_subjects | sort >"$T/id-subject"
id_of() { awk -F'\t' -v s="$1" '$2 == s { print $1 }' "$T/id-subject"; }
e1=$(id_of eicar-1)
e2=$(id_of eicar-2)
c1=$(id_of clean-1)
in=$EX_SPOOL/input

# --- 1. damaged pairs ---
cut=1xaAAA-000001-00
half=1xaAAA-000002-00
sed "1s/^$c1-H/$cut-H/" "$in/$c1-H" | head -c 300 >"$in/$cut-H"
sed "1s/^$c1-D/$cut-D/" "$in/$c1-D" >"$in/$cut-D"
sed "1s/^$c1-H/$half-H/" "$in/$c1-H" >"$in/$half-H"
chmod 640 "$in/$cut-H" "$in/$cut-D" "$in/$half-H"

mc_ex --json scan
mc_expect_rc 2 "queue scan with damaged files"
mc_assert_eq "$(printf '%s\n' "$e1" "$e2" | sort)" \
	"$(mc_events "$MC_OUT" match queue_id | sort)" "infected found despite damage"
mc_assert_eq "$(printf '%s\n' "$cut" "$half")" \
	"$(mc_events "$MC_OUT" error queue_id | sort)" "damaged pairs reported by id"
mc_json "$MC_OUT" '
err = {e["queue_id"]: e["why"] for e in events if e["event"] == "error"}
assert err["1xaAAA-000001-00"].startswith("spool file 1xaAAA-000001-00-H: "), err
assert "no -D file" in err["1xaAAA-000002-00"], err
s = [e for e in events if e["event"] == "summary"][0]
assert s["scanned"] == 3 and s["errors"] == 2, s
' || { mc_show; mc_fail "damaged pairs"; }
rm -f "$in/$cut-H" "$in/$cut-D" "$in/$half-H"

# Over the size limit: unscanned (exit 2), never clean, envelope shown.
mc_ex --max-message-size 300 --json scan
mc_expect_rc 2 "queue scan over the size limit"
mc_json "$MC_OUT" '
u = [e for e in events if e["event"] == "unscanned"]
assert len(u) == 3 and all(e["sender"] and e["recipients"] for e in u), u
' || { mc_show; mc_fail "messages over the size limit"; }

# --- 2. a message in delivery ---
cp "$in/$e1-H" "$T/e1-H"
cp "$in/$e1-D" "$T/e1-D"
python3 - "$in/$e1-D" "$T/locked" <<'PY' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 19, 0)	# as Exim: the id line
open(sys.argv[2], "w").close()
time.sleep(60)
PY
locker=$!
mc_at_exit "kill $locker 2>/dev/null"
for _ in $(seq 1 50); do [ -f "$T/locked" ] && break; sleep 0.1; done
[ -f "$T/locked" ] || mc_fail "could not lock $e1-D"

mc_ex --json delete virus
mc_expect_rc 2 "queue delete with a message in delivery"
mc_json "$MC_OUT" "
m = {e['queue_id']: e for e in events if e['event'] == 'match'}
assert m['$e2'].get('action') == 'quarantined', m['$e2']
assert 'quarantine_id' not in m['$e1'], m['$e1']
assert any('being delivered' in str(e) for e in events if e.get('queue_id') == '$e1'), events
" || { mc_show; mc_fail "delete: the locked message"; }
mc_assert_eq 2 "$(ex_queue_count)" "queued after delete"
mc_assert_file_eq "$T/e1-H" "$in/$e1-H" "-H of the message in delivery"
mc_assert_file_eq "$T/e1-D" "$in/$e1-D" "-D of the message in delivery"
mc_run --quarantine "$MC_Q" --json quarantine list
mc_assert_eq "$e2" "$(mc_json "$MC_OUT" '
for e in events:
    if e["event"] == "entry":
        print(e["loc"]["queue_id"])')" "quarantined"

kill "$locker"
wait "$locker" 2>/dev/null
mc_ex --json delete virus
mc_expect_rc 1 "queue delete once the lock is gone"
mc_assert_eq "$e1" "$(mc_events "$MC_OUT" match queue_id)" "removed now"
mc_assert_eq 1 "$(ex_queue_count)" "queued at the end"
[ -e "$in/$e1-H" ] || [ -e "$in/$e1-D" ] && mc_fail "files of $e1 left"
echo "ok: damaged pairs reported, a message in delivery left alone"
