#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t8030-watch-yara - a changed YARA rule file is noticed and re-checks the window
# DESCRIPTION
#	watch runs with --yara RULES, a rule that matches nothing. Five
#	messages of a phishing run sit in two Maildirs beside clean mail.
#	The rule file is rewritten to match them (no reload is sent):
#	within BOUND seconds watch notices it, and quarantines the five
#	(the policy says so: by default a rule's hit is reported)
#	with the rule named as the reason; the clean mail stays.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
. "$MC_SRC/tests/t/lib-watch.sh"
mc_need python3 md5sum
mc_setup
BOUND=30

mc_watch_db
for u in 1 2; do
	mc_msg_plain -s "lunch $u" | mc_maildir_put "$T/m/u$u/Maildir" cur S >/dev/null
done
for i in 1 2 3 4 5; do
	mc_msg_plain -s "Account notice $i" \
		-b "Verify your account at https://login.evil-bank.example/verify now." |
		mc_maildir_put "$T/m/u$((i % 2 + 1))/Maildir" new >/dev/null
done
echo 'rule Nothing { strings: $a = "no such text in any message" condition: $a }' >"$T/rules.yar"
printf 'yara_unread = quarantine\nyara_read = quarantine\n' >"$T/policy"
mc_watch_start -s "$T/m/u1/Maildir" -s "$T/m/u2/Maildir" --yara "$T/rules.yar" --policy "$T/policy"
[ "$(mc_watch_quarantined)" = 0 ] || mc_fail "quarantined before the rule exists"

cat >"$T/rules.yar.new" <<'EOF2'
rule EvilBank { strings: $u = "login.evil-bank.example" condition: $u }
EOF2
mv "$T/rules.yar.new" "$T/rules.yar"
gone() { [ "$(find "$T"/m/u*/Maildir/new -type f | wc -l)" = 0 ]; }
mc_wait_for "$BOUND" gone || { tail -n 10 "$T/watch.out" >&2; mc_fail "the new rule's hits were not quarantined within $BOUND s"; }
[ "$(mc_watch_quarantined)" = 5 ] || mc_fail "$(mc_watch_quarantined) quarantined, expected 5"
[ "$(find "$T"/m/u*/Maildir/cur -type f | wc -l)" = 2 ] || mc_fail "clean mail was touched"
grep -q '"kind":"yara","value":"rules:EvilBank"' "$T/watch.out" || { grep -m1 '"event":"match"' "$T/watch.out" >&2; mc_fail "the reason does not name the rule"; }
grep -q 'rules changed' "$T/watch.out" || mc_fail "the change of rules was not logged"
mc_watch_stop
echo "ok"
