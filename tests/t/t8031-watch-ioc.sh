#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t8031-watch-ioc - a changed indicator feed is noticed and re-checks the window
# DESCRIPTION
#	watch runs with --ioc FEED, a CSV feed whose one domain is in no
#	message. Five messages of a phishing run sit in two Maildirs
#	beside clean mail. The feed is rewritten to name the phishing
#	domain (no reload is sent): within BOUND seconds watch notices
#	it and quarantines the five (the policy says so: by default an
#	indicator's hit is reported), the indicator named as the reason
#	with its feed event; the clean mail stays. A subdomain of
#	another domain does not match: "evil-bank.example" is not in
#	"notevil-bank.example".
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
. "$MC_SRC/tests/t/lib-watch.sh"
mc_need python3 md5sum
mc_setup
BOUND=30

mc_watch_db
for u in 1 2; do
	mc_msg_plain -s "lunch $u" -b "See https://www.notevil-bank.example/menu" |
		mc_maildir_put "$T/m/u$u/Maildir" cur S >/dev/null
done
for i in 1 2 3 4 5; do
	mc_msg_plain -s "Account notice $i" \
		-b "Verify your account at https://login.evil-bank.example/verify now." |
		mc_maildir_put "$T/m/u$((i % 2 + 1))/Maildir" new >/dev/null
done
printf 'domain,title\nnothing-here.example,Earlier wave\n' >"$T/feed.csv"
printf 'ioc_unread = quarantine\nioc_read = quarantine\n' >"$T/policy"
mc_watch_start -s "$T/m/u1/Maildir" -s "$T/m/u2/Maildir" --ioc "$T/feed.csv" --policy "$T/policy"
[ "$(mc_watch_quarantined)" = 0 ] || mc_fail "quarantined before the indicator exists"

printf 'domain,title\nevil-bank.example,Evil bank wave\n' >"$T/feed.csv.new"
mv "$T/feed.csv.new" "$T/feed.csv"
gone() { [ "$(find "$T"/m/u*/Maildir/new -type f | wc -l)" = 0 ]; }
mc_wait_for "$BOUND" gone || { tail -n 10 "$T/watch.out" >&2; mc_fail "the new indicator's hits were not quarantined within $BOUND s"; }
[ "$(mc_watch_quarantined)" = 5 ] || mc_fail "$(mc_watch_quarantined) quarantined, expected 5"
[ "$(find "$T"/m/u*/Maildir/cur -type f | wc -l)" = 2 ] || mc_fail "clean mail was touched"
grep -q '"kind":"ioc","value":"evil-bank.example"' "$T/watch.out" ||
	{ grep -m1 '"event":"match"' "$T/watch.out" >&2; mc_fail "the reason does not name the indicator"; }
grep -q 'Evil bank wave' "$T/watch.out" || mc_fail "the reason does not name the feed event"
grep -q 'rules changed' "$T/watch.out" || mc_fail "the change of the feed was not logged"
mc_watch_stop
echo "ok"
