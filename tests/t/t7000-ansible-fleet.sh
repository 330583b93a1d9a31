#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t7000-ansible-fleet - the Ansible collection runs the runbook
#	over three servers, in order, and merges their reports
# DESCRIPTION
#	Three servers, each a network and UTS namespace of its own
#	running sshd with a key made here: mx1 (a real Postfix queue,
#	lib-postfix.sh, and a Maildir), imap1 and imap2 (Maildirs; imap2
#	also infected files on disk). Each has its own state directory
#	and quarantine. The controller, in a namespace of its own too,
#	runs ansible-playbook mailcure.ir.respond from ansible/:
#
#	1. --check changes nothing: stores, queue, Postfix configuration,
#	   quarantines and firewall are as before.
#	2. A server whose clean fails (imap1 names a store that is not
#	   there) stops the play on every server before any thaw or
#	   reconnect: all three are still isolated, mx1's queue frozen.
#	3. Fixed and run again under the same run id: every infected
#	   message is quarantined (queue and mailboxes), the infected file
#	   reported, every server thawed and reconnected, clean mail kept.
#	4. The merged report (report --merge of the fetched runs) counts
#	   what the servers' own reports count, per server and in sum.
#	5. ansible-lint passes on the collection, where it is installed.
set -euo pipefail
. "$(dirname "$0")/lib-postfix.sh"

mc_need_root
mc_need ansible-playbook ssh ssh-keygen ip nft unshare
[ -x /usr/sbin/sshd ] || mc_skip "needs sshd (Debian package openssh-server)"
mc_setup
pf_need
pf_start

COLL=$MC_SRC/ansible
hosts=(mx1 imap1 imap2)
declare -A addr=([mx1]=198.18.1.2 [imap1]=198.18.2.2 [imap2]=198.18.3.2)
ctl=mcf-ctl-$$
namespaces=("$ctl")
sshd_pids=()

fleet_cleanup() {
	local p ns
	for p in "${sshd_pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for ns in "${namespaces[@]}"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	done
}
mc_at_exit fleet_cleanup

# --- the network: the controller and one link per server ---
ip netns add "$ctl"
ip -n "$ctl" link set lo up
n=0
for h in "${hosts[@]}"; do
	n=$((n + 1))
	ns=mcf-$h-$$
	namespaces+=("$ns")
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip link add "mcf$n-$$" netns "$ctl" type veth peer name eth0 netns "$ns"
	ip -n "$ctl" addr add "198.18.$n.1/30" dev "mcf$n-$$"
	ip -n "$ctl" link set "mcf$n-$$" up
	ip -n "$ns" addr add "${addr[$h]}/30" dev eth0
	ip -n "$ns" link set eth0 up
done

# --- sshd on each server, with keys made here ---
mkdir -p "$T/ssh" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/id"
ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/host"
cp "$T/ssh/id.pub" "$T/ssh/authorized_keys"
for h in "${hosts[@]}"; do
	cat >"$T/ssh/sshd-$h.conf" <<CONF
ListenAddress ${addr[$h]}
HostKey $T/ssh/host
PidFile $T/ssh/sshd-$h.pid
AuthorizedKeysFile $T/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
CONF
	ip netns exec "mcf-$h-$$" unshare --uts sh -c \
		'hostname "$1" && exec /usr/sbin/sshd -D -e -f "$2"' sh "$h" \
		"$T/ssh/sshd-$h.conf" 2>"$T/ssh/sshd-$h.log" &
	sshd_pids+=($!)
done
for h in "${hosts[@]}"; do
	for _ in $(seq 1 50); do
		ip netns exec "$ctl" ssh -q -i "$T/ssh/id" -o BatchMode=yes \
			-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
			"root@${addr[$h]}" hostname >"$T/ssh/name-$h" 2>/dev/null && break
		sleep 0.2
	done
	mc_assert_eq "$h" "$(cat "$T/ssh/name-$h")" "ssh to $h"
done

# --- what the outbreak left on each server ---
declare -A infected=() clean=()
for h in "${hosts[@]}"; do
	H=$T/hosts/$h
	mkdir -p "$H/state" "$H/q"
	chmod 700 "$H/state" "$H/q"
	infected[$h]=0
	clean[$h]=0
	for i in 1 2 3; do
		mc_msg_eicar -s "$h eicar $i" -t "alice@$PF_DOMAIN" | mc_maildir_put "$H/Maildir" >/dev/null
		infected[$h]=$((infected[$h] + 1))
	done
	for i in 1 2 3 4; do
		mc_msg_plain -s "$h hello $i" -t "alice@$PF_DOMAIN" | mc_maildir_put "$H/Maildir" cur S >/dev/null
		clean[$h]=$((clean[$h] + 1))
	done
done
mc_msg_eicar -s "imap1 eicar 4" -t "bob@$PF_DOMAIN" | mc_maildir_put "$T/hosts/imap1/Maildir" cur >/dev/null
infected[imap1]=$((infected[imap1] + 1))
mkdir -p "$T/hosts/imap2/files"
mc_eicar >"$T/hosts/imap2/files/dropped.com"
echo "nothing" >"$T/hosts/imap2/files/notes.txt"
# Mail to remote.test stays deferred in mx1's queue.
mc_eicar >"$T/eicar.com"
for i in 1 2; do
	pf_smtp "mallory@sender.test" "victim$i@remote.test" "queued eicar $i" --attach "@$T/eicar.com"
done
for i in 1 2 3; do
	pf_smtp "friend@sender.test" "pal$i@remote.test" "queued hello $i" --body "hello $i"
done
pf_wait_queue 5

snapshot() {
	local h
	for h in "${hosts[@]}"; do
		(cd "$T/hosts/$h" && find . -type f ! -path './state/*' -print0 | sort -z |
			xargs -0 sha256sum)
		ip netns exec "mcf-$h-$$" nft list tables
	done
	sha256sum "$PF_CONF/main.cf" "$PF_CONF/master.cf"
	pf_queue_subjects | cut -f2 | sort
}
snapshot >"$T/before"

# --- the inventory ---
inventory() {	# inventory STORE_OF_IMAP1
	local h
	cat <<INV
mailcure:
  vars:
    ansible_user: root
    ansible_ssh_private_key_file: $T/ssh/id
    ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    ansible_python_interpreter: /usr/bin/python3
    mailcure_binary: $MAILCURE
    mailcure_controller_binary: $MAILCURE
    mailcure_allow: [198.18.0.0/16]
    mailcure_isolate_args: [--no-kick]
  hosts:
INV
	for h in "${hosts[@]}"; do
		cat <<INV
    $h:
      ansible_host: ${addr[$h]}
      mailcure_state_dir: $T/hosts/$h/state
      mailcure_global_args: [-d, $MC_SIGS, --quarantine, $T/hosts/$h/q]
INV
		case $h in
		mx1)	echo "      mailcure_postfix_config: $PF_CONF"
			echo "      mailcure_stores: [maildir:$T/hosts/$h/Maildir]"
			echo "      mailcure_host_paths: [$T/hosts/$h/state]" ;;
		imap1)	echo "      mailcure_queue: false"
			echo "      mailcure_stores: [$1]"
			echo "      mailcure_host_paths: [$T/hosts/$h/state]" ;;
		imap2)	echo "      mailcure_queue: false"
			echo "      mailcure_stores: [maildir:$T/hosts/$h/Maildir]"
			echo "      mailcure_host_paths: [$T/hosts/imap2/files]" ;;
		esac
	done
}
inventory "maildir:$T/hosts/imap1/Maildir" >"$T/inventory.yml"
inventory "maildir:$T/hosts/imap1/NoSuchMaildir" >"$T/inventory-broken.yml"

play() {	# play INVENTORY ARGS...
	local inv=$1
	shift
	ip netns exec "$ctl" env ANSIBLE_COLLECTIONS_PATH="$COLL" ANSIBLE_HOST_KEY_CHECKING=False \
		ANSIBLE_PIPELINING=True ANSIBLE_LOCAL_TEMP="$T/ansible-local" \
		ANSIBLE_REMOTE_TEMP="$T/ansible-remote" ANSIBLE_NOCOLOR=1 \
		ANSIBLE_RETRY_FILES_ENABLED=False ANSIBLE_FORCE_COLOR=0 \
		ansible-playbook -i "$inv" mailcure.ir.respond \
		-e "mailcure_run_id=fleet-t7000" -e "mailcure_fetch_dir=$T/runs" "$@"
}

# --- 1. check mode changes nothing ---
play "$T/inventory.yml" --check >"$T/play-check.log" 2>&1 ||
	{ tail -40 "$T/play-check.log"; mc_fail "the playbook failed in check mode"; }
snapshot >"$T/after-check"
mc_assert_file_eq "$T/before" "$T/after-check" "the servers after --check"
grep -q "changed=[1-9]" "$T/play-check.log" ||
	{ tail -20 "$T/play-check.log"; mc_fail "check mode reported no change to make"; }
echo "ok: check mode changed nothing"

# --- 2. a failing server stops the play before any reconnect ---
if play "$T/inventory-broken.yml" >"$T/play-broken.log" 2>&1; then
	tail -40 "$T/play-broken.log"
	mc_fail "the playbook succeeded with a store that is not there"
fi
grep -q "NoSuchMaildir" "$T/play-broken.log" ||
	{ tail -40 "$T/play-broken.log"; mc_fail "the failure does not name the store"; }
grep -Eq "TASK \[mailcure.ir.thaw_reconnect|Thaw the mail queue|Give users their access back" \
	"$T/play-broken.log" && { tail -40 "$T/play-broken.log"; mc_fail "thaw or reconnect ran after a failure"; }
for h in "${hosts[@]}"; do
	ip netns exec "mcf-$h-$$" nft list tables | grep -q mailcure ||
		mc_fail "$h is not isolated after the failed play"
done
mc_run --state-dir "$T/hosts/mx1/state" --json queue --postfix-config "$PF_CONF" status
pf_check "$MC_OUT" 'assert events[0]["frozen"], events[0]'
echo "ok: the failure on imap1 stopped every server before thaw and reconnect"

# --- 3. fixed and run again under the same run id ---
play "$T/inventory.yml" >"$T/play.log" 2>&1 ||
	{ tail -60 "$T/play.log"; mc_fail "the playbook failed"; }
for h in "${hosts[@]}"; do
	ip netns exec "mcf-$h-$$" nft list tables | grep -q mailcure &&
		mc_fail "$h is still isolated"
	mc_run -d "$MC_SIGS" --quarantine "$T/hosts/$h/q" --progress never --json \
		mailbox find -s "maildir:$T/hosts/$h/Maildir"
	mc_expect_rc 0 "find on $h after the play"
	mc_assert_eq "${clean[$h]}" "$(find "$T/hosts/$h/Maildir" -type f | wc -l)" "messages kept on $h"
done
mc_assert_file_eq <(sed -n '/main.cf$/p;/master.cf$/p' "$T/before") \
	<(sha256sum "$PF_CONF/main.cf" "$PF_CONF/master.cf") "Postfix configuration after thaw"
pf_queue_subjects | cut -f2 | sort >"$T/queue-after"
mc_assert_eq "$(printf 'queued hello %s\n' 1 2 3)" "$(cat "$T/queue-after")" "mx1's queue"
[ -f "$T/hosts/imap2/files/dropped.com" ] || mc_fail "host scan removed a file (it only reports)"
echo "ok: every server cleaned, thawed and reconnected"

# --- 4. the merged report counts what the servers count ---
total=0
for h in "${hosts[@]}"; do
	[ -f "$T/runs/$h.json" ] || mc_fail "no fetched run of $h"
	mc_run --state-dir "$T/hosts/$h/state" --quarantine "$T/hosts/$h/q" --json report fleet-t7000
	mc_expect_rc 0 "report on $h"
	want=${infected[$h]}
	[ "$h" = mx1 ] && want=$((want + 2))
	pf_check "$MC_OUT" "assert events[0]['quarantined'] == $want, events[0]"
	[ "$h" = imap2 ] && pf_check "$MC_OUT" "assert events[0]['found'] == 1, events[0]"
	total=$((total + want))
done
[ -f "$T/runs/fleet.html" ] || mc_fail "no fleet report page"
pf_check "$T/runs/fleet.json" "
e = events[0]
assert e['event'] == 'fleet-report', e
assert e['quarantined'] == $total, (e['quarantined'], $total)
assert sorted(h['host'] for h in e['hosts']) == ['imap1', 'imap2', 'mx1'], e['hosts']
for h in e['hosts']:
    assert h['restore'].endswith('restore --run fleet-t7000'), h
assert sum(h['quarantined'] for h in e['hosts']) == e['quarantined']
assert sum(e['per_reason'].values()) == $total + 1, e['per_reason']
assert all(i['host'] for i in e['items'])
"
echo "ok: the fleet's report counts what the servers count ($total quarantined)"

# --- 5. ansible-lint on the collection ---
if command -v ansible-lint >/dev/null 2>&1; then
	(cd "$COLL/ansible_collections/mailcure/ir" &&
		ANSIBLE_COLLECTIONS_PATH="$COLL" ansible-lint --offline -q . >"$T/lint.log" 2>&1) ||
		{ cat "$T/lint.log"; mc_fail "ansible-lint"; }
	echo "ok: ansible-lint"
fi
