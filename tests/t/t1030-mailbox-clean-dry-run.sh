#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1030-mailbox-clean-dry-run - --dry-run changes nothing, and says exactly what a run does
# DESCRIPTION
#	With --dry-run (before or after the command name, JSON or human
#	output) "mailbox clean" leaves the stores and an existing
#	quarantine exactly as they were (every file's content, mode and
#	owner) and lists actions "would quarantine". The real run that
#	follows acts on exactly the messages the dry run listed.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3 base64
mc_need_testfiles
mc_setup

s=$T/srv
md=$s/home/gina/Maildir
mbox=$s/var/mail/hank
tf=$MC_TESTFILES
mc_maildir "$md"
mc_maildir "$md/.Sent"

mc_msg_plain -s "hello" | mc_maildir_put "$md" new >/dev/null
mc_msg_attach "$tf/clam.exe" -s "exe" | mc_maildir_put "$md" new >/dev/null
mc_msg_eicar -s "eicar" | mc_maildir_put "$md" cur S >/dev/null
mc_msg_plain -s "seen" | mc_maildir_put "$md" cur S >/dev/null
mc_msg_attach "$tf/clam.zip" -s "zip sent" | mc_maildir_put "$md/.Sent" cur RS >/dev/null
for i in 1 2 3 4; do
	if [ $((i % 2)) = 0 ]; then
		mc_msg_attach "$tf/clam.arj" -s "mbox arj $i"
	else
		mc_msg_plain -s "mbox clean $i"
	fi | mc_mbox_put "$mbox" >/dev/null
done

# A quarantine that already holds an earlier run.
warm=$T/warm
mc_maildir "$warm"
mc_msg_eicar -s "earlier" | mc_maildir_put "$warm" new >/dev/null
mc_cure mailbox clean -s "maildir:$warm"
mc_expect_rc 1 "earlier clean"

stores=(-s "maildir:$md" -s "mbox:$mbox")
store_before=$(mc_snapshot "$s")
q_before=$(mc_snapshot "$MC_Q")

mc_cure --json --dry-run mailbox clean "${stores[@]}"
mc_expect_rc 1 "mailbox clean --dry-run --json"
cp "$MC_OUT" "$T/dry.json"
mc_assert_eq "$store_before" "$(mc_snapshot "$s")" "stores after --dry-run"
mc_assert_eq "$q_before" "$(mc_snapshot "$MC_Q")" "quarantine after --dry-run"
mc_assert_eq "5 would quarantine" \
	"$(mc_events "$T/dry.json" match action | sort | uniq -c | sed 's/^ *//')" \
	"dry-run actions"
ids=$(mc_events "$T/dry.json" match quarantine_id | grep -v '^-$' || true)
[ -z "$ids" ] || mc_fail "--dry-run reported quarantine ids: $ids"

# Human output, --dry-run after the command name.
mc_cure mailbox clean --dry-run "${stores[@]}"
mc_expect_rc 1 "mailbox clean --dry-run"
grep -qi 'would' "$MC_OUT" || { mc_show; mc_fail "human --dry-run output does not say what would be done"; }
mc_assert_eq "$store_before" "$(mc_snapshot "$s")" "stores after human --dry-run"
mc_assert_eq "$q_before" "$(mc_snapshot "$MC_Q")" "quarantine after human --dry-run"

# The real run acts on exactly the listed messages.
mc_cure --json mailbox clean "${stores[@]}"
mc_expect_rc 1 "mailbox clean"
cp "$MC_OUT" "$T/real.json"
mc_assert_eq "5 quarantined" \
	"$(mc_events "$T/real.json" match action | sort | uniq -c | sed 's/^ *//')" \
	"real actions"
fields=(store user folder path offset message_id subject reasons)
mc_assert_eq "$(mc_events "$T/dry.json" match "${fields[@]}" | sort)" \
	"$(mc_events "$T/real.json" match "${fields[@]}" | sort)" \
	"messages acted on (dry run vs real run)"
[ "$(mc_snapshot "$s")" != "$store_before" ] || mc_fail "the real run changed nothing"
