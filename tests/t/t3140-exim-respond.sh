#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t3140-exim-respond - respond on an Exim server runs every step
# DESCRIPTION
#	A private Exim (lib-exim.sh) with its daemon and a queue runner
#	is the server's MTA. respond, in a network namespace of its own
#	(isolation applies to its ruleset only) and with --mta exim
#	--exim-config, first runs --until queue-freeze: mail that
#	arrives then, infected and clean, stays queued. respond --resume
#	runs the rest. No step is skipped: queue-delete removes the
#	infected queued message (no bounce), mailbox-clean and host-scan
#	their infected items, queue-thaw delivers the clean queued mail
#	and leaves the Exim configuration byte-identical, reconnect
#	removes the isolation.
# run-tests: serial
set -euo pipefail
. "$(dirname "$0")/lib-exim.sh"
mc_need ip nft
mc_need_testfiles
mc_setup
ex_need

mc_netns_private

ex_start
D=$EX_DOMAIN
cp -p "$EX_CONF" "$T/conf.orig"
md=$T/Maildir
mc_maildir "$md"
mc_msg_eicar -s "infected" | mc_maildir_put "$md" new >/dev/null
mc_msg_plain -s "clean" | mc_maildir_put "$md" new >/dev/null
mkdir "$T/files"
cp "$MC_TESTFILES/clam.pdf" "$T/files/dropped.pdf"
mc_eicar >"$T/eicar.com"
st=$T/state

srv() { mc_netns_cure "$st" "$@"; }
logs() { for f in "$st"/runs/*/*.log; do echo "== $f"; cat "$f"; done; }

srv respond --mta exim --exim-config "$EX_CONF" --allow 198.51.100.0/24 -s "maildir:$md" \
	--host-path "$T/files" --clean-host --yes --until queue-freeze
[ "$MC_RC" = 0 ] || { mc_show; logs; mc_fail "respond --until queue-freeze: exit $MC_RC"; }
for s in isolate queue-freeze; do
	grep -q "$s *done" "$MC_OUT" || { mc_show; logs; mc_fail "step $s did not run"; }
done

# Frozen: mail is accepted and stays queued through queue runs.
ex_smtp "friend@sender.test" "alice@$D" "during freeze" --body "queued clean"
ex_smtp "mallory@sender.test" "bob@$D" "outbreak" --attach "@$T/eicar.com"
echo "local" | ex_sendmail "local@sender.test" "carol@$D"
ex_wait_queue 3
sleep 3
mc_assert_eq 3 "$(ex_queue_count)" "queued while frozen"

srv respond --resume --yes
[ "$MC_RC" = 1 ] || { mc_show; logs; mc_fail "respond --resume: exit $MC_RC, expected 1"; }
for s in queue-delete mailbox-clean host-scan queue-thaw reconnect; do
	grep -q "$s *done" "$MC_OUT" || { mc_show; logs; mc_fail "step $s did not run"; }
done
if grep -q skipped "$MC_OUT"; then
	mc_show; mc_fail "a step was skipped on an Exim server"
fi
journal=$(echo "$st"/runs/*/journal.jsonl)
mc_json "$journal" '
last = {}
for e in events:
    last[e["step"]] = e
for s in ("isolate", "queue-freeze", "queue-delete", "mailbox-clean", "host-scan",
          "queue-thaw", "reconnect"):
    assert last[s]["state"] == "done", last[s]
assert last["run"]["state"] == "finished", last["run"]' || { cat "$journal"; mc_fail "journal"; }

ex_wait_mailbox alice 1
ex_wait_mailbox carol 1
ex_wait_queue 0
mc_assert_eq 0 "$(ex_mailbox_count bob)" "the infected queued message delivered"
mc_assert_eq 0 "$(ex_mailbox_count senders)" "bounces"
mc_assert_file_eq "$T/conf.orig" "$EX_CONF" "Exim configuration after respond"
if ip netns exec "$MC_NS" nft list table inet mailcure >/dev/null 2>&1; then
	mc_fail "the server is still isolated"
fi
# The queued message, the mailbox message, the host file.
[ "$(find "$MC_Q/entries" -mindepth 1 -maxdepth 1 | wc -l)" = 3 ] ||
	{ "$MAILCURE" --quarantine "$MC_Q" quarantine list; mc_fail "expected 3 quarantine entries"; }
echo "ok: respond on an Exim server runs every step"
