#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t6020-respond-postfix-unconfigured - respond skips the queue of a Postfix that was never configured
# DESCRIPTION
#	The postfix package is installed but its configuration directory
#	holds no main.cf (as after "No configuration" at install time):
#	Postfix cannot run and has no queue. respond, in a network
#	namespace of its own, isolates, records queue-freeze,
#	queue-delete and queue-thaw as skipped with that reason, cleans
#	the mailbox and the host files, and reconnects: the run
#	finishes, the isolation table is gone, and the server is not
#	left isolated. The dry-run plan says the same; "queue freeze"
#	alone fails with the same clear reason.
# run-tests: serial
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3 ip nft postconf
mc_need_root
mc_need_testfiles
mc_setup

mc_netns_private

# The package's configuration directory, as installed and never set up.
conf=$T/postfix
mkdir "$conf"
md=$T/Maildir
mc_maildir "$md"
mc_msg_eicar -s "infected" | mc_maildir_put "$md" new >/dev/null
mc_msg_plain -s "clean" | mc_maildir_put "$md" new >/dev/null
mkdir "$T/files"
cp "$MC_TESTFILES/clam.pdf" "$T/files/dropped.pdf"
st=$T/state

# In the namespace; no Dovecot of the host is asked about its sessions.
srv() { mc_netns_cure "$st" "$@"; }
args=(respond --postfix-config "$conf" --allow 198.51.100.0/24 -s "maildir:$md"
	--host-path "$T/files" --clean-host --yes)

srv --dry-run "${args[@]}"
mc_expect_rc 0 "respond --dry-run"
for s in queue-freeze queue-delete queue-thaw; do
	grep -q "$s *skipped: Postfix is installed but not configured (no $conf/main.cf)" "$MC_OUT" ||
		{ mc_show; mc_fail "the plan does not skip $s"; }
done

srv "${args[@]}"
if [ "$MC_RC" != 1 ]; then
	for f in "$st"/runs/*/*.log; do echo "== $f"; cat "$f"; done
	mc_expect_rc 1 "respond"
fi
for s in isolate mailbox-clean host-scan reconnect; do
	grep -q "$s *done" "$MC_OUT" || { mc_show; mc_fail "step $s did not run"; }
done
for s in queue-freeze queue-delete queue-thaw; do
	grep -q "$s *skipped: Postfix is installed but not configured" "$MC_OUT" ||
		{ mc_show; mc_fail "$s is not shown as skipped"; }
done
journal=$(echo "$st"/runs/*/journal.jsonl)
mc_json "$journal" '
last = {}
for e in events:
    last[e["step"]] = e
for s in ("queue-freeze", "queue-delete", "queue-thaw"):
    assert last[s]["state"] == "skipped", last[s]
    assert "main.cf" in last[s].get("detail", ""), last[s]
for s in ("isolate", "mailbox-clean", "host-scan", "reconnect"):
    assert last[s]["state"] == "done", last[s]
assert last["run"]["state"] == "finished", last["run"]' || { cat "$journal"; mc_fail "journal"; }

# Given back: no isolation table, no record.
if ip netns exec "$MC_NS" nft list table inet mailcure >/dev/null 2>&1; then
	mc_fail "the server is still isolated"
fi
[ ! -e "$st/isolate.json" ] || mc_fail "an isolation is still recorded"
[ "$(find "$MC_Q/entries" -mindepth 1 -maxdepth 1 | wc -l)" = 2 ] ||
	mc_fail "expected the infected message and the infected file in the quarantine"

# The queue command alone: a clear error.
mc_run queue --postfix-config "$conf" freeze
mc_expect_rc 2 "queue freeze"
grep -q "not configured (no $conf/main.cf)" "$MC_ERR" || { mc_show; mc_fail "queue freeze: unclear error"; }
echo "ok: respond skips the queue steps of an unconfigured Postfix and reconnects"
