#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t8040-watch-junk - the policy moves read mail to Junk, quarantines unread
# DESCRIPTION
#	The policy says: a virus in a read message goes to the Junk
#	folder, in an unread one to the quarantine. A Maildir holds three
#	read copies (cur/, flag S) and three unread (new/) of an outbreak,
#	an mbox one read copy (Status: RO). After the signature update the
#	read Maildir copies are in .Junk/cur under their names and flags
#	(the folder made, marked for Dovecot), the unread ones in the
#	quarantine, and the mbox copy, which has no Junk folder here, is
#	reported and left where it is. The digests of the run go out
#	through the policy's sendmail (a script that keeps them), one to
#	the owner and one to the administrator.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
. "$MC_SRC/tests/t/lib-watch.sh"
mc_need python3 md5sum
mc_setup

mc_watch_db
box=$T/m/u1/Maildir
for _ in 1 2 3; do mc_outbreak_msg | mc_maildir_put "$box" cur RS >/dev/null; done
for _ in 1 2 3; do mc_outbreak_msg | mc_maildir_put "$box" new >/dev/null; done
ls "$box/cur" | sort >"$T/read.names"
mc_outbreak_msg -H "Status: RO" | mc_mbox_put "$T/mbox/carol" >/dev/null
mkdir -p "$T/mails"
printf '#!/bin/sh\ncat >"%s/mails/$$.$(date +%%s%%N)"\n' "$T" >"$T/sendmail"
chmod 755 "$T/sendmail"
printf 'virus_read = junk\nvirus_unread = quarantine\nnotify_users = yes\nnotify_admin = admin@example.com\nsendmail = %s\n' \
	"$T/sendmail" >"$T/policy"

mc_watch_start -s "$box" -s "mbox:$T/mbox/carol" --policy "$T/policy"
mc_watch_outbreak
mc_wait_for 20 grep -q '"event":"recheck".*"hits":7' "$T/watch.out" ||
	{ tail -n 5 "$T/watch.out" >&2; mc_fail "no re-check with 7 hits"; }
ls "$box/.Junk/cur" 2>/dev/null | sort >"$T/junk.names"
cmp -s "$T/read.names" "$T/junk.names" || mc_fail "Junk holds $(cat "$T/junk.names"), expected the read copies"
[ -f "$box/.Junk/maildirfolder" ] || mc_fail "the Junk folder is not marked maildirfolder"
[ "$(find "$box/cur" "$box/new" -type f | wc -l)" = 0 ] || mc_fail "copies left in INBOX"
[ "$(mc_watch_quarantined)" = 3 ] || mc_fail "$(mc_watch_quarantined) quarantined, expected the 3 unread"
grep -q 'Status: RO' "$T/mbox/carol" || mc_fail "the mbox copy was touched"
grep -q '"action":"reported","why":"a Junk folder only for Maildir messages"' "$T/watch.out" ||
	mc_fail "the mbox copy was not reported as such"
mc_watch_stop
# The digests: one to the owner, one to the administrator.
mc_wait_for 10 sh -c "[ \$(ls '$T/mails' | wc -l) -ge 2 ]" ||
	{ tail -n 5 "$T/watch.out" >&2; mc_fail "no digests were sent"; }
grep -l '^To: .*admin@example.com' "$T"/mails/* >/dev/null || mc_fail "no digest to the administrator"
grep -q 'digests sent' "$T/watch.out" || mc_fail "the digests were not logged"
echo "ok"
