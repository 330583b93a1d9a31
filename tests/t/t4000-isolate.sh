#!/usr/bin/env bash
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

. "$(dirname "$0")/t4001-netns-dovecot.sh"
set -u

t4_need
t4_setup
t4_netns
t4_dovecot maildir

STATE=$T/isolate.json
ALLOW=(--allow 198.51.100.0/24 --allow 2001:db8:2::/64)

# srv ARGS: mailcure in the server namespace; output in $OUT, $ERR, $RC.
OUT=$T/out
ERR=$T/err
srv() {
	set +e
	ip netns exec "$NS_SRV" "$MAILCURE" --progress never "$@" >"$OUT" 2>"$ERR"
	RC=$?
	set -e
}
show() {
	echo "--- exit $RC; stdout:"; cat "$OUT"; echo "--- stderr:"; cat "$ERR"
}
expect_rc() {
	[ "$RC" = "$1" ] || { show >&2; t4_fail "$2: exit $RC, expected $1"; }
}
ruleset() { ip netns exec "$NS_SRV" nft list ruleset; }
# The rules without their counters, which traffic the drop rules meet
# (a retransmission of the session isolate cut) may advance meanwhile.
rules() { ip netns exec "$NS_SRV" nft --stateless list ruleset; }

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
ruleset >"$T/ruleset.before"

t4_log "before isolate: the user logs in"
user_gets_in || t4_fail "the user cannot log in before isolate"

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
	[ "$(cat "$4")" = ready ] || t4_fail "the session of $3 from $2 did not log in"
}
t4_msg "kept for the held session" | t4_doveadm save -u alice
held "$NS_USR" 192.0.2.1 alice "$T/held" 40
held "$NS_ADM" 198.51.100.1 admin "$T/held-admin" 20
t4_doveadm who -1 | grep -q "^alice.*192.0.2.2" || t4_fail "doveadm who does not show the held session"

t4_log "--dry-run prints the rules and commands, changes nothing"
srv --dry-run isolate --state "$STATE" "${ALLOW[@]}"
expect_rc 0 "isolate --dry-run"
grep -q "table inet mailcure" "$OUT" || { show; t4_fail "dry run does not show the table"; }
grep -q "th dport { 25, 465, 587, 110, 995, 143, 993, 4190, 80, 443 } counter drop" "$OUT" ||
	{ show; t4_fail "dry run does not show the default ports"; }
grep -q "doveadm -c $DV_CONF kick 192.0.2.2" "$OUT" ||
	{ show; t4_fail "dry run does not show the kick of the user's address"; }
[ ! -e "$STATE" ] || t4_fail "dry run wrote the record"
ruleset | cmp -s - "$T/ruleset.before" || t4_fail "dry run changed the ruleset"
[ "$(head -n 1 "$T/held")" = ready ] || t4_fail "dry run disconnected the session"

t4_log "isolate"
srv isolate --state "$STATE" "${ALLOW[@]}"
expect_rc 0 "isolate"
grep -q "^isolated: ports 25 465 587 110 995 143 993 4190 80 443 closed, open to loopback, 198.51.100.0/24, 2001:db8:2::/64" "$OUT" ||
	{ show; t4_fail "isolate output"; }
grep -q "alice imap 192.0.2.2" "$OUT" || { show; t4_fail "the kicked session is not reported"; }
[ -s "$STATE" ] || t4_fail "no isolation record"
ruleset | grep -q "table inet mailcure" || t4_fail "no table inet mailcure in the ruleset"

t4_log "during isolate: the open session was disconnected"
for i in $(seq 100); do
	[ "$(cat "$T/held")" != ready ] && break
	sleep 0.2
done
case $(cat "$T/held") in
disconnected*) ;;
*) t4_fail "the session opened before isolate was not disconnected: $(cat "$T/held")" ;;
esac
t4_doveadm who -1 | grep -q "^admin.*198.51.100.2" || t4_fail "the administrator's session was cut"

t4_log "during isolate: the user cannot connect (IPv4, IPv6, curl)"
user_shut_out || t4_fail "the user still gets in while isolated"

t4_log "during isolate: the administrator and the server itself get in"
[ "$(t4_imap "$NS_ADM" 198.51.100.1 admin)" = ok ] || t4_fail "administrator over IPv4"
[ "$(t4_imap "$NS_ADM" 2001:db8:2::1 alice)" = ok ] || t4_fail "administrator over IPv6"
t4_curl "$NS_ADM" "imap://198.51.100.1/" || t4_fail "administrator with curl"
[ "$(t4_imap "$NS_SRV" 127.0.0.1 bob)" = ok ] || t4_fail "loopback on the server"
[ "$(t4_imap "$NS_SRV" ::1 bob)" = ok ] || t4_fail "IPv6 loopback on the server"

t4_log "during isolate: doveadm still works"
t4_doveadm mailbox status -u alice messages INBOX | grep -q "messages=1" ||
	t4_fail "doveadm mailbox status"
t4_msg "delivered while isolated" | t4_doveadm save -u alice || t4_fail "doveadm save while isolated"

t4_log "during isolate: the administrator's session stays open"
for i in $(seq 150); do
	[ "$(cat "$T/held-admin")" != ready ] && break
	sleep 0.2
done
[ "$(cat "$T/held-admin")" = alive ] ||
	t4_fail "the administrator's session was disconnected: $(cat "$T/held-admin")"

t4_log "a second isolate changes nothing"
rules >"$T/ruleset.isolated"
cp "$STATE" "$T/state.first"
srv isolate --state "$STATE" --allow 203.0.113.0/24
expect_rc 0 "second isolate"
grep -q "^already isolated since" "$OUT" || { show; t4_fail "second isolate output"; }
rules | cmp -s - "$T/ruleset.isolated" || t4_fail "second isolate changed the ruleset"
cmp -s "$STATE" "$T/state.first" || t4_fail "second isolate changed the record"

t4_log "--status"
srv isolate --status --state "$STATE"
expect_rc 0 "isolate --status"
grep -Eq "^isolated since .* UTC: ports 25 465 587 110 995 143 993 4190 80 443 closed, open to loopback, 198.51.100.0/24, 2001:db8:2::/64; [1-9][0-9]* packets dropped" "$OUT" ||
	{ show; t4_fail "status output"; }
srv --json isolate --status --state "$STATE"
expect_rc 0 "isolate --status --json"
python3 - "$OUT" <<'EOF' || t4_fail "status --json"
import json, sys
e = json.loads(open(sys.argv[1]).read())
assert e["event"] == "isolation" and e["status"] == "isolated", e
assert e["rules_present"] is True and e["dropped_packets"] > 0, e
assert e["allow"] == ["198.51.100.0/24", "2001:db8:2::/64"], e
assert 143 in e["ports"] and 25 in e["ports"], e
EOF

t4_log "reconnect"
srv reconnect --state "$STATE"
expect_rc 0 "reconnect"
grep -q "^reconnected: removed the nftables table inet mailcure" "$OUT" || { show; t4_fail "reconnect output"; }
ruleset >"$T/ruleset.after"
cmp -s "$T/ruleset.before" "$T/ruleset.after" ||
	{ diff -u "$T/ruleset.before" "$T/ruleset.after"; t4_fail "the ruleset is not byte-identical after reconnect"; }
[ ! -e "$STATE" ] || t4_fail "the record is still there after reconnect"
user_gets_in || t4_fail "the user cannot log in after reconnect"
srv reconnect --state "$STATE"
expect_rc 0 "second reconnect"
grep -q "^not isolated: nothing to undo" "$OUT" || { show; t4_fail "second reconnect output"; }
srv isolate --status --state "$STATE"
expect_rc 1 "status when not isolated"
grep -q "^not isolated" "$OUT" || { show; t4_fail "status output when not isolated"; }

t4_log "--keep-mx and --ports: port 25 stays open, the others are dropped"
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
[ "$(probe 192.0.2.1 25)" = refused ] || t4_fail "port 25 before isolate"
srv --json isolate --state "$STATE" --keep-mx --ports 25,143,993 --allow 198.51.100.0/24
expect_rc 0 "isolate --keep-mx --ports"
python3 - "$OUT" <<'EOF' || { show; t4_fail "isolate --json"; }
import json, sys
e = json.loads(open(sys.argv[1]).read())
assert e["event"] == "isolate" and e["status"] == "isolated", e
assert e["ports"] == [143, 993] and e["keep_mx"] is True, e
EOF
[ "$(probe 192.0.2.1 25)" = refused ] || t4_fail "--keep-mx: port 25 is not open"
[ "$(probe 2001:db8:1::1 25)" = refused ] || t4_fail "--keep-mx: port 25 (IPv6) is not open"
[ "$(probe 192.0.2.1 110)" = refused ] || t4_fail "--ports: port 110 should stay open"
[ "$(probe 192.0.2.1 143)" = dropped ] || t4_fail "--ports: port 143 is not dropped"
[ "$(probe 2001:db8:1::1 993)" = dropped ] || t4_fail "--ports: port 993 (IPv6) is not dropped"
srv reconnect --state "$STATE"
expect_rc 0 "reconnect after --keep-mx"
ruleset | cmp -s - "$T/ruleset.before" || t4_fail "ruleset after the --keep-mx round"

t4_log "bad arguments and no root are clear errors"
srv isolate --state "$STATE" --allow 192.0.2.300/24
expect_rc 2 "isolate --allow with a bad address"
grep -q "not an IPv4 or IPv6 address" "$ERR" || { show; t4_fail "bad --allow message"; }
srv isolate --state "$STATE" --allow 192.0.2.0/33
expect_rc 2 "isolate --allow with a bad prefix"
srv isolate --state "$STATE" --ports 25,99999
expect_rc 2 "isolate --ports out of range"
[ ! -e "$STATE" ] || t4_fail "a failed isolate left a record"
if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$MAILCURE" 2>/dev/null; then
	set +e
	ip netns exec "$NS_SRV" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$MAILCURE" isolate --state "$T/nobody.json" >"$OUT" 2>"$ERR"
	RC=$?
	set -e
	expect_rc 2 "isolate as nobody"
	grep -q "run it as root" "$ERR" || { show; t4_fail "not-root message"; }
	ruleset | cmp -s - "$T/ruleset.before" || t4_fail "a refused isolate changed the ruleset"
fi

errors=$(t4_log_errors)
[ -z "$errors" ] || t4_fail "Dovecot logged errors: $errors"
t4_log "ok"
