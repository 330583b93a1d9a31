#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t4000-isolate.sh - isolate cuts users off, keeps the administrator; reconnect undoes it exactly
# DESCRIPTION
#	A server, a user host and an administrator host in network
#	namespaces, a real Dovecot on the server, real IMAP clients
#	(python3 imaplib and curl) on the hosts. Before isolate the user
#	logs in. During isolate the user's new connections fail (IPv4
#	and IPv6), a session the user opened before is disconnected
#	while the administrator's stays, the administrator's network and
#	the server itself still get in,
#	and doveadm still works. A second isolate changes nothing. After
#	reconnect the user logs in again and "nft list ruleset" is byte
#	for byte what it was, including a ruleset of the server's own.
#	Also: --dry-run changes nothing, --keep-mx leaves port 25 open,
#	--status, --json, and a clear error when not run as root.

. "$(dirname "$0")/lib-netns.sh"
set -u

t4_need
t4_setup
t4_netns
t4_dovecot maildir

STATE=$T/isolate.json
ALLOW=(--allow 198.51.100.0/24 --allow 2001:db8:2::/64)


user_gets_in() {
	[ "$(t4_imap "$NS_USR" 192.0.2.1 alice 2>/dev/null)" = ok ] &&
	[ "$(t4_imap "$NS_USR" 2001:db8:1::1 alice 2>/dev/null)" = ok ] &&
	t4_curl "$NS_USR" "imap://192.0.2.1/"
}
user_shut_out() {
	! t4_imap "$NS_USR" 192.0.2.1 alice >/dev/null 2>&1 &&
	! t4_imap "$NS_USR" 2001:db8:1::1 alice >/dev/null 2>&1 &&
	! t4_curl "$NS_USR" "imap://[2001:db8:1::1]/" 2>/dev/null
}

set -e

# The server's own ruleset, which reconnect must leave exactly so.
ip netns exec "$NS_SRV" nft -f - <<'EOF'
table inet filter {
	set admins {
		type ipv4_addr
		elements = { 203.0.113.5 }
	}
	chain input {
		type filter hook input priority filter; policy accept;
		ct state established,related accept
		tcp dport 22 accept
		ip saddr @admins accept
	}
}
table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
	}
}
EOF
t4_ruleset >"$T/ruleset.before"

mc_log "before isolate: the user logs in"
user_gets_in || mc_fail "the user cannot log in before isolate"

# Sessions opened before isolate, by the user and by the administrator;
# each reports whether the server disconnects it (BYE or end of
# stream) or it stays open for WAIT seconds.
held() {	# held NS HOST USER STATEFILE WAIT
	ip netns exec "$1" timeout 90 python3 - "$2" "$3" "$T4_PASS" "$4" "$5" <<'EOF' &
import imaplib, socket, sys
host, user, pw, state, wait = sys.argv[1:6]
m = imaplib.IMAP4(host, 143)
m.login(user, pw)
m.select("INBOX")
open(state, "w").write("ready\n")
m.sock.settimeout(float(wait))
result = "alive"
try:
    buf = b""
    while True:
        data = m.sock.recv(4096)
        if not data:
            result = "disconnected (end of stream)"
            break
        buf += data
        if b"BYE" in buf:
            result = "disconnected (BYE)"
            break
except socket.timeout:
    result = "alive"
except OSError as e:
    result = "disconnected (%s)" % e
open(state, "w").write(result + "\n")
EOF
	T4_PIDS+=($!)
	for i in $(seq 100); do
		[ -s "$4" ] && break
		sleep 0.1
	done
	[ "$(cat "$4")" = ready ] || mc_fail "the session of $3 from $2 did not log in"
}
t4_msg "kept for the held session" | t4_doveadm save -u alice
held "$NS_USR" 192.0.2.1 alice "$T/held" 40
held "$NS_ADM" 198.51.100.1 admin "$T/held-admin" 20
t4_doveadm who -1 | grep -q "^alice.*192.0.2.2" || mc_fail "doveadm who does not show the held session"

mc_log "--dry-run prints the rules and commands, changes nothing"
t4_srv --dry-run isolate --state "$STATE" "${ALLOW[@]}"
mc_expect_rc 0 "isolate --dry-run"
grep -q "table inet mailcure" "$MC_OUT" || { mc_show; mc_fail "dry run does not show the table"; }
grep -q "th dport { 25, 465, 587, 110, 995, 143, 993, 4190, 80, 443 } counter drop" "$MC_OUT" ||
	{ mc_show; mc_fail "dry run does not show the default ports"; }
grep -q "doveadm -c $DV_CONF kick 192.0.2.2" "$MC_OUT" ||
	{ mc_show; mc_fail "dry run does not show the kick of the user's address"; }
[ ! -e "$STATE" ] || mc_fail "dry run wrote the record"
t4_ruleset | cmp -s - "$T/ruleset.before" || mc_fail "dry run changed the ruleset"
[ "$(head -n 1 "$T/held")" = ready ] || mc_fail "dry run disconnected the session"

mc_log "isolate"
t4_srv isolate --state "$STATE" "${ALLOW[@]}"
mc_expect_rc 0 "isolate"
grep -q "^isolated: ports 25 465 587 110 995 143 993 4190 80 443 closed, open to loopback, 198.51.100.0/24, 2001:db8:2::/64" "$MC_OUT" ||
	{ mc_show; mc_fail "isolate output"; }
grep -q "alice imap 192.0.2.2" "$MC_OUT" || { mc_show; mc_fail "the kicked session is not reported"; }
[ -s "$STATE" ] || mc_fail "no isolation record"
t4_ruleset | grep -q "table inet mailcure" || mc_fail "no table inet mailcure in the ruleset"

mc_log "during isolate: the open session was disconnected"
for i in $(seq 100); do
	[ "$(cat "$T/held")" != ready ] && break
	sleep 0.2
done
case $(cat "$T/held") in
disconnected*) ;;
*) mc_fail "the session opened before isolate was not disconnected: $(cat "$T/held")" ;;
esac
t4_doveadm who -1 | grep -q "^admin.*198.51.100.2" || mc_fail "the administrator's session was cut"

mc_log "during isolate: the user cannot connect (IPv4, IPv6, curl)"
user_shut_out || mc_fail "the user still gets in while isolated"

mc_log "during isolate: the administrator and the server itself get in"
[ "$(t4_imap "$NS_ADM" 198.51.100.1 admin)" = ok ] || mc_fail "administrator over IPv4"
[ "$(t4_imap "$NS_ADM" 2001:db8:2::1 alice)" = ok ] || mc_fail "administrator over IPv6"
t4_curl "$NS_ADM" "imap://198.51.100.1/" || mc_fail "administrator with curl"
[ "$(t4_imap "$NS_SRV" 127.0.0.1 bob)" = ok ] || mc_fail "loopback on the server"
[ "$(t4_imap "$NS_SRV" ::1 bob)" = ok ] || mc_fail "IPv6 loopback on the server"

mc_log "during isolate: doveadm still works"
t4_doveadm mailbox status -u alice messages INBOX | grep -q "messages=1" ||
	mc_fail "doveadm mailbox status"
t4_msg "delivered while isolated" | t4_doveadm save -u alice || mc_fail "doveadm save while isolated"

mc_log "during isolate: the administrator's session stays open"
for i in $(seq 150); do
	[ "$(cat "$T/held-admin")" != ready ] && break
	sleep 0.2
done
[ "$(cat "$T/held-admin")" = alive ] ||
	mc_fail "the administrator's session was disconnected: $(cat "$T/held-admin")"

mc_log "a second isolate changes nothing"
t4_rules >"$T/ruleset.isolated"
cp "$STATE" "$T/state.first"
t4_srv isolate --state "$STATE" --allow 203.0.113.0/24
mc_expect_rc 0 "second isolate"
grep -q "^already isolated since" "$MC_OUT" || { mc_show; mc_fail "second isolate output"; }
t4_rules | cmp -s - "$T/ruleset.isolated" || mc_fail "second isolate changed the ruleset"
cmp -s "$STATE" "$T/state.first" || mc_fail "second isolate changed the record"

mc_log "--status"
t4_srv isolate --status --state "$STATE"
mc_expect_rc 0 "isolate --status"
grep -Eq "^isolated since .* UTC: ports 25 465 587 110 995 143 993 4190 80 443 closed, open to loopback, 198.51.100.0/24, 2001:db8:2::/64; [1-9][0-9]* packets dropped" "$MC_OUT" ||
	{ mc_show; mc_fail "status output"; }
t4_srv --json isolate --status --state "$STATE"
mc_expect_rc 0 "isolate --status --json"
python3 - "$MC_OUT" <<'EOF' || mc_fail "status --json"
import json, sys
e = json.loads(open(sys.argv[1]).read())
assert e["event"] == "isolation" and e["status"] == "isolated", e
assert e["rules_present"] is True and e["dropped_packets"] > 0, e
assert e["allow"] == ["198.51.100.0/24", "2001:db8:2::/64"], e
assert 143 in e["ports"] and 25 in e["ports"], e
EOF

mc_log "reconnect"
t4_srv reconnect --state "$STATE"
mc_expect_rc 0 "reconnect"
grep -q "^reconnected: removed the nftables table inet mailcure" "$MC_OUT" || { mc_show; mc_fail "reconnect output"; }
t4_ruleset >"$T/ruleset.after"
cmp -s "$T/ruleset.before" "$T/ruleset.after" ||
	{ diff -u "$T/ruleset.before" "$T/ruleset.after"; mc_fail "the ruleset is not byte-identical after reconnect"; }
[ ! -e "$STATE" ] || mc_fail "the record is still there after reconnect"
user_gets_in || mc_fail "the user cannot log in after reconnect"
t4_srv reconnect --state "$STATE"
mc_expect_rc 0 "second reconnect"
grep -q "^not isolated: nothing to undo" "$MC_OUT" || { mc_show; mc_fail "second reconnect output"; }
t4_srv isolate --status --state "$STATE"
mc_expect_rc 1 "status when not isolated"
grep -q "^not isolated" "$MC_OUT" || { mc_show; mc_fail "status output when not isolated"; }

mc_log "--keep-mx and --ports: port 25 stays open, the others are dropped"
# Nothing listens on 25 and 110 here: an open port answers at once
# (refused), a dropped one never does.
probe() {
	ip netns exec "$NS_USR" timeout 10 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.settimeout(3)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("open")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("dropped")
except OSError as e:
    print("error %s" % e)
' "$1" "$2"
}
[ "$(probe 192.0.2.1 25)" = refused ] || mc_fail "port 25 before isolate"
t4_srv --json isolate --state "$STATE" --keep-mx --ports 25,143,993 --allow 198.51.100.0/24
mc_expect_rc 0 "isolate --keep-mx --ports"
python3 - "$MC_OUT" <<'EOF' || { mc_show; mc_fail "isolate --json"; }
import json, sys
e = json.loads(open(sys.argv[1]).read())
assert e["event"] == "isolate" and e["status"] == "isolated", e
assert e["ports"] == [143, 993] and e["keep_mx"] is True, e
EOF
[ "$(probe 192.0.2.1 25)" = refused ] || mc_fail "--keep-mx: port 25 is not open"
[ "$(probe 2001:db8:1::1 25)" = refused ] || mc_fail "--keep-mx: port 25 (IPv6) is not open"
[ "$(probe 192.0.2.1 110)" = refused ] || mc_fail "--ports: port 110 should stay open"
[ "$(probe 192.0.2.1 143)" = dropped ] || mc_fail "--ports: port 143 is not dropped"
[ "$(probe 2001:db8:1::1 993)" = dropped ] || mc_fail "--ports: port 993 (IPv6) is not dropped"
t4_srv reconnect --state "$STATE"
mc_expect_rc 0 "reconnect after --keep-mx"
t4_ruleset | cmp -s - "$T/ruleset.before" || mc_fail "ruleset after the --keep-mx round"

mc_log "bad arguments and no root are clear errors"
t4_srv isolate --state "$STATE" --allow 192.0.2.300/24
mc_expect_rc 2 "isolate --allow with a bad address"
grep -q "not an IPv4 or IPv6 address" "$MC_ERR" || { mc_show; mc_fail "bad --allow message"; }
t4_srv isolate --state "$STATE" --allow 192.0.2.0/33
mc_expect_rc 2 "isolate --allow with a bad prefix"
t4_srv isolate --state "$STATE" --ports 25,99999
mc_expect_rc 2 "isolate --ports out of range"
[ ! -e "$STATE" ] || mc_fail "a failed isolate left a record"
if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$MAILCURE" 2>/dev/null; then
	set +e
	ip netns exec "$NS_SRV" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$MAILCURE" isolate --state "$T/nobody.json" >"$MC_OUT" 2>"$MC_ERR"
	MC_RC=$?
	set -e
	mc_expect_rc 2 "isolate as nobody"
	grep -q "run it as root" "$MC_ERR" || { mc_show; mc_fail "not-root message"; }
	t4_ruleset | cmp -s - "$T/ruleset.before" || mc_fail "a refused isolate changed the ruleset"
fi

errors=$(t4_log_errors)
[ -z "$errors" ] || mc_fail "Dovecot logged errors: $errors"
mc_log "ok"
