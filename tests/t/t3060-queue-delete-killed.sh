#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t3060-queue-delete-killed - a delete killed before postsuper -d duplicates nothing
# DESCRIPTION
#	An infected message for remote.test waits in the deferred queue
#	of a running, unfrozen Postfix. "queue delete" is killed
#	(SIGKILL) the moment it runs "postsuper -d" (the instance's
#	command_directory holds a postsuper that kills its caller then):
#	the message is in the quarantine and still queued, on hold.
#	Then:
#	- "quarantine restore" of it is refused, with the reason, and
#	  the queue holds the message exactly once;
#	- a second delete removes it, and its restore queues it again,
#	  once.

set -u
. "$(dirname "$0")/lib-postfix.sh"

mc_setup
pf_need
pf_start

mc_eicar >"$T/eicar.com"
pf_smtp "mallory@sender.test" "someone@remote.test" "remote-eicar" --attach "@$T/eicar.com"
for _ in $(seq 1 100); do
	n=$(pf_queue_json | grep -c '"queue_name": "deferred"')
	[ "$n" = 1 ] && break
	sleep 0.1
done
[ "$n" = 1 ] || { pf_queue_json; mc_fail "the message was not deferred"; }
copies() {	# queued copies of the infected message
	pf_queue_subjects | grep -c $'\tremote-eicar$'
}

# Every Postfix command as it is, but postsuper -d kills mailcure.
cmd=$(postconf -c "$PF_CONF" -h command_directory)
mkdir "$T/bin"
for f in "$cmd"/post* "$cmd"/sendmail; do
	ln -s "$f" "$T/bin/"
done
rm "$T/bin/postsuper"
cat >"$T/bin/postsuper" <<EOF
#!/bin/sh
for a in "\$@"; do
	[ "\$a" = -d ] && { kill -KILL "\$PPID"; exit 1; }
done
exec $cmd/postsuper "\$@"
EOF
chmod 755 "$T/bin/postsuper"

mc_log "delete killed at postsuper -d"
postconf -c "$PF_CONF" -e "command_directory = $T/bin"
mc_pf --json --run-id killed delete virus
postconf -c "$PF_CONF" -e "command_directory = $cmd"
mc_expect_rc 137 "queue delete killed at postsuper -d"
mc_assert_eq 1 "$(copies)" "queued copies after the kill"
mc_cure --json quarantine list --run killed
id=$(mc_events "$MC_OUT" entry id)
[ -n "$id" ] || { mc_show; mc_fail "no quarantine entry for the killed run"; }

mc_log "restore of a message still queued is refused"
mc_cure quarantine restore "$id"
mc_expect_rc 2 "restore of a message still queued"
grep -q "still holds this message" "$MC_ERR" || { mc_show; mc_fail "no reason given"; }
sleep 1
mc_assert_eq 1 "$(copies)" "queued copies after the restore"

mc_log "a second delete removes it; its restore queues it once"
mc_pf --json --run-id again delete virus
mc_expect_rc 1 "second queue delete"
mc_assert_eq 0 "$(copies)" "queued copies after the second delete"
mc_cure quarantine restore --run again
mc_expect_rc 0 "restore of the second delete"
pf_wait_queue 1 30
mc_assert_eq 1 "$(copies)" "queued copies after its restore"
mc_assert_eq 0 "$(pf_mailbox_count senders)" "bounces"
echo "ok"
