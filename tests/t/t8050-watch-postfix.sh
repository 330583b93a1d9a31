#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t8050-watch-postfix - mail Postfix delivers after a signature update is caught on arrival
# DESCRIPTION
#	A private Postfix instance (lib-postfix.sh, its own port and
#	directories) delivers to alice's Maildir and to dave's mbox
#	(the virtual delivery agent, as on a real server). watch runs over
#	both; the outbreak's signature arrives; then the outbreak is sent
#	over SMTP to both, with clean mail. Within BOUND seconds of the
#	delivery both copies are quarantined; the clean mail stays.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
. "$MC_SRC/tests/t/lib-postfix.sh"
. "$MC_SRC/tests/t/lib-watch.sh"
mc_need python3 md5sum
pf_need
mc_setup
BOUND=20

pf_start -n
echo "dave@$PF_DOMAIN dave" >>"$PF_CONF/vmailbox"
pf_postfix start >"$PF/start.log" 2>&1 || { cat "$PF/start.log" >&2; mc_fail "postfix start"; }
pf_wait_listening
pf_smtp "a@sender.test" "alice@$PF_DOMAIN,dave@$PF_DOMAIN" "hello"
pf_wait_mailbox alice 1
mc_wait_for 30 test -s "$PF_VMAIL/dave" || mc_fail "no delivery to dave's mbox"

mc_watch_db
mc_watch_start -s "maildir:$PF_VMAIL/alice" -s "mbox:$PF_VMAIL/dave"
mc_watch_outbreak
mc_wait_for 20 grep -q '"event":"recheck".*"hits":0' "$T/watch.out" || mc_fail "no re-check"

pf_smtp "b@sender.test" "alice@$PF_DOMAIN,dave@$PF_DOMAIN" "Your invoice" \
	--attach-type application/octet-stream --attach-name invoice.pdf.exe --attach "@$T/blob.bin"
pf_smtp "a@sender.test" "alice@$PF_DOMAIN,dave@$PF_DOMAIN" "after"
start=$(date +%s)
caught() {
	[ "$(mc_watch_quarantined)" = 2 ] && [ "$(pf_mailbox_count alice)" = 2 ] &&
		! grep -q 'Your invoice' "$PF_VMAIL/dave" && grep -q after "$PF_VMAIL/dave"
}
mc_wait_for $((BOUND + 30)) caught ||
	{ tail -n 10 "$T/watch.out" "$PF_LOG" >&2; mc_fail "the delivered copies were not caught"; }
took=$(($(date +%s) - start))
mc_log "both deliveries caught ${took}s after they were sent (bound ${BOUND}s, delivery included)"
[ "$took" -le "$BOUND" ] || mc_fail "caught after ${took}s, bound ${BOUND}s"
grep -q hello "$PF_VMAIL/dave" || mc_fail "dave's clean mail is gone"
mc_watch_stop
echo "ok"
