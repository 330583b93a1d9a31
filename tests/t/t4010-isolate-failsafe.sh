#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t4010-isolate-failsafe.sh - isolate fails closed; reconnect cleans up after anything
# DESCRIPTION
#	In a network namespace of its own:
#	- mailcure killed (SIGKILL) in the middle of isolate, after the
#	  rules went in: the server stays isolated, status says so, a
#	  second isolate is a no-op and reconnect restores the ruleset
#	  byte for byte;
#	- a record whose rules are missing (an isolate interrupted before
#	  its nftables transaction, or a flushed ruleset): status reports
#	  it with exit 2, isolate completes it, reconnect clears it;
#	- rules without a record, and a damaged record: reconnect still
#	  removes exactly mailcure's table and the record;
#	- two isolates at once: one applies, the other finds it in force;
#	- Dovecot not running: isolation applies, with a warning;
#	- a kernel without nf_tables (netlink socket refused, simulated
#	  with strace when it is there): a clear error, nothing changed.

. "$(dirname "$0")/lib-netns.sh"
set -u

t4_need
t4_setup
t4_netns

STATE=$T/isolate.json
has_table() { ip netns exec "$NS_SRV" nft list table inet mailcure >/dev/null 2>&1; }

set -e

ip netns exec "$NS_SRV" nft -f - <<'EOF'
table ip filter {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 22 counter accept
	}
}
EOF
t4_ruleset >"$T/ruleset.before"

# A doveadm that hangs, so that isolate can be killed after the rules
# went in, while it is cutting sessions; doveadm-hang1 answers after a
# second. (doveadm gets a clean environment: no variable reaches it.)
for hang in 60 1; do
	cat >"$T/doveadm-hang${hang%60}" <<EOF
#!/bin/sh
echo "\$*" >>"$T/doveadm-hang.log"
sleep $hang
exit 75
EOF
	chmod 0755 "$T/doveadm-hang${hang%60}"
done

mc_log "SIGKILL while cutting sessions: the server stays isolated"
ip netns exec "$NS_SRV" env MAILCURE_DOVEADM="$T/doveadm-hang" \
	"$MAILCURE" isolate --state "$STATE" --allow 198.51.100.0/24 >"$MC_OUT" 2>"$MC_ERR" &
T4_PIDS+=($!)
for i in $(seq 100); do
	[ -s "$T/doveadm-hang.log" ] && break
	sleep 0.1
done
[ -s "$T/doveadm-hang.log" ] || { mc_show; mc_fail "isolate never reached doveadm"; }
pid=
for p in $(ip netns pids "$NS_SRV"); do
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = mailcure ] && pid=$p
done
[ -n "$pid" ] || mc_fail "cannot find the running isolate"
kill -KILL "$pid"
for p in $(ip netns pids "$NS_SRV"); do
	kill -KILL "$p" 2>/dev/null || true	# the hanging doveadm
done
wait 2>/dev/null || true
has_table || mc_fail "killed isolate left the server open"
[ -s "$STATE" ] || mc_fail "killed isolate left no record"
t4_srv isolate --status --state "$STATE"
mc_expect_rc 0 "status after the crash"
grep -q "^isolated since" "$MC_OUT" || { mc_show; mc_fail "status after the crash"; }
t4_rules >"$T/ruleset.isolated"
t4_srv isolate --state "$STATE" --no-kick
mc_expect_rc 0 "isolate after the crash"
grep -q "^already isolated" "$MC_OUT" || { mc_show; mc_fail "isolate after the crash is not a no-op"; }
t4_rules | cmp -s - "$T/ruleset.isolated" || mc_fail "isolate after the crash changed the ruleset"
t4_srv reconnect --state "$STATE"
mc_expect_rc 0 "reconnect after the crash"
t4_ruleset | cmp -s - "$T/ruleset.before" || mc_fail "ruleset after reconnect (crash)"
[ ! -e "$STATE" ] || mc_fail "record left after reconnect (crash)"

mc_log "a record whose rules never went in"
t4_srv isolate --state "$STATE" --no-kick
mc_expect_rc 0 "isolate"
python3 - "$STATE" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
r["applied"] = False
json.dump(r, open(sys.argv[1], "w"))
EOF
ip netns exec "$NS_SRV" nft delete table inet mailcure
t4_srv isolate --status --state "$STATE"
mc_expect_rc 2 "status of an interrupted isolate"
grep -q "^NOT isolated: an isolation is recorded" "$MC_OUT" || { mc_show; mc_fail "status of an interrupted isolate"; }
t4_srv isolate --state "$STATE" --no-kick
mc_expect_rc 0 "isolate completing an interrupted one"
grep -q "^isolated:" "$MC_OUT" || { mc_show; mc_fail "isolate did not complete the interrupted one"; }
has_table || mc_fail "no rules after completing the interrupted isolate"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["applied"] is True' "$STATE" ||
	mc_fail "record not marked applied"
ip netns exec "$NS_SRV" nft delete table inet mailcure
t4_srv reconnect --state "$STATE"
mc_expect_rc 0 "reconnect of a record without rules"
grep -q "already gone" "$MC_OUT" || { mc_show; mc_fail "reconnect output (rules gone)"; }
[ ! -e "$STATE" ] || mc_fail "record left (rules gone)"
t4_ruleset | cmp -s - "$T/ruleset.before" || mc_fail "ruleset (rules gone)"

mc_log "rules without a record; a damaged record"
t4_srv isolate --state "$STATE" --no-kick
rm -f "$STATE"
t4_srv isolate --status --state "$STATE"
mc_expect_rc 0 "status without a record"
grep -q "no record" "$MC_OUT" || { mc_show; mc_fail "status without a record"; }
t4_srv reconnect --state "$STATE"
mc_expect_rc 0 "reconnect without a record"
t4_ruleset | cmp -s - "$T/ruleset.before" || mc_fail "ruleset (no record)"
t4_srv isolate --state "$STATE" --no-kick
printf '{"version": 1, "since": "garbage' >"$STATE"
t4_srv isolate --status --state "$STATE"
mc_expect_rc 2 "status of a damaged record"
grep -q "damaged" "$MC_ERR" || { mc_show; mc_fail "damaged record message"; }
t4_srv reconnect --state "$STATE"
mc_expect_rc 0 "reconnect with a damaged record"
[ ! -e "$STATE" ] || mc_fail "damaged record left"
t4_ruleset | cmp -s - "$T/ruleset.before" || mc_fail "ruleset (damaged record)"

mc_log "two isolates at once"
: >"$T/doveadm-hang.log"
for n in 1 2; do
	ip netns exec "$NS_SRV" env MAILCURE_DOVEADM="$T/doveadm-hang1" \
		"$MAILCURE" isolate --state "$STATE" >"$T/par$n.out" 2>"$T/par$n.err" &
	T4_PIDS+=($!)
done
wait "${T4_PIDS[-1]}" "${T4_PIDS[-2]}" || mc_fail "a parallel isolate failed: $(cat "$T"/par*.err)"
[ "$(cat "$T"/par*.out | grep -c '^isolated:')" = 1 ] &&
[ "$(cat "$T"/par*.out | grep -c '^already isolated')" = 1 ] ||
	{ cat "$T"/par*.out "$T"/par*.err; mc_fail "parallel isolates: not exactly one applied"; }
[ "$(ip netns exec "$NS_SRV" nft list tables | grep -c 'inet mailcure')" = 1 ] ||
	mc_fail "parallel isolates: not one table"
t4_srv reconnect --state "$STATE"
mc_expect_rc 0 "reconnect after parallel isolates"
t4_ruleset | cmp -s - "$T/ruleset.before" || mc_fail "ruleset (parallel)"

mc_log "Dovecot not running: isolation applies, with a warning"
t4_dovecot maildir
t4_dovecot_stop
t4_srv isolate --state "$STATE"
mc_expect_rc 0 "isolate without Dovecot"
grep -q "Dovecot is not running" "$MC_ERR" || { mc_show; mc_fail "no warning about Dovecot"; }
has_table || mc_fail "no rules without Dovecot"
t4_srv reconnect --state "$STATE"
mc_expect_rc 0 "reconnect without Dovecot"
t4_ruleset | cmp -s - "$T/ruleset.before" || mc_fail "ruleset (no Dovecot)"

if command -v strace >/dev/null && strace -f -qq -o /dev/null true 2>/dev/null; then
	mc_log "a kernel without nftables: a clear error, nothing changed"
	set +e
	# LeakSanitizer cannot run under ptrace.
	ip netns exec "$NS_SRV" env ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
		strace -f -qq -o /dev/null -e trace=socket \
		-e inject=socket:error=EPROTONOSUPPORT \
		"$MAILCURE" isolate --state "$STATE" >"$MC_OUT" 2>"$MC_ERR"
	MC_RC=$?
	set -e
	mc_expect_rc 2 "isolate without kernel support"
	grep -q "the kernel lacks the nftables support needed" "$MC_ERR" || { mc_show; mc_fail "no-support message"; }
	[ ! -e "$STATE" ] || mc_fail "isolate without kernel support left a record"
	t4_ruleset | cmp -s - "$T/ruleset.before" || mc_fail "ruleset (no kernel support)"
fi

mc_log "ok"
