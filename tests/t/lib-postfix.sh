# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	lib-postfix.sh - a private Postfix instance for the integration scripts
# SYNOPSIS
#	. "$MC_SRC/tests/t/lib-postfix.sh"
# DESCRIPTION
#	Sourced by the queue tests (t30xx) and t6010; sources lib.sh.
#	t3000-postfix-instance.sh tests the instance itself.
#
#	The instance has its own configuration, queue and data
#	directories and log file under $PF (a fresh directory in /tmp:
#	Postfix's delivery agents, running as the recipient, must be
#	able to traverse it), listens on 127.0.0.1 on a free port
#	($PF_PORT), and delivers the domains mailcure.test and
#	sender.test to Maildirs under $PF_VMAIL (uid nobody):
#	alice, bob and carol at mailcure.test each have a mailbox; every
#	other address of mailcure.test (postmaster, where notices go)
#	lands in "catchall", every address of sender.test (where a
#	bounce would go) in "senders". remote.test is routed to a port
#	where nothing listens, so its mail stays deferred. Nothing is
#	ever relayed elsewhere. A system Postfix is never touched.
#
#	pf_need		skip unless root; install postfix and swaks
#			(Debian packages) when they are missing.
#	pf_start [-n]	create and start the instance (-n: create only);
#			stopped and removed on exit (mc_setup first
#			when $T is not set yet).
#	pf_postfix ARGS	postfix -c $PF_CONF ARGS
#	pf_wait_listening	until the instance listens on $PF_PORT
#	pf_stop		stop the instance (pf_cleanup: and remove $PF)
#	pf_smtp FROM TO SUBJECT [SWAKS ARGS]	send over SMTP (TO may
#			be "a,b"); fails on any SMTP error.
#	pf_smtp_bg ARGS		pf_smtp in the background (8 at a time)
#	pf_smtp_wait		wait for them; fail when one failed
#	pf_sendmail FROM TO < MESSAGE		local submission
#	pf_queue_json		postqueue -j of the instance
#	pf_queue_count		number of queued messages (postqueue -j)
#	pf_wait_queue N [SECONDS]	until exactly N messages are queued
#	pf_mailbox_count BOX	messages delivered to mailbox BOX
#			(the Maildir $PF_VMAIL/BOX)
#	pf_wait_mailbox BOX N [SECONDS]	until BOX holds N messages
#	pf_subject_of ID	Subject of queued message ID (postcat)
#	pf_queue_subjects	"ID<TAB>Subject" of every queued message
#	pf_id_of FILE SUBJECT	the queue id of SUBJECT in FILE, a
#			listing that pf_queue_subjects wrote
#	pf_check FILE CODE	mc_json FILE CODE (python asserts over the
#			JSON events), failing the test when CODE fails
#	mc_pf ARGS	mailcure with the test signatures, quarantine and
#			state directory, for this instance:
#			mc_cure --state-dir $T/state queue
#			--postfix-config $PF_CONF ARGS
# SECURITY
#	Everything lives under $PF and $T; the instance is stopped on
#	exit, also on failure.

: "${MC_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# shellcheck source=tests/t/lib.sh
declare -F mc_setup >/dev/null || . "$MC_SRC/tests/t/lib.sh"

PF_DOMAIN=mailcure.test

pf_need() {
	mc_need_root
	if ! command -v postfix >/dev/null 2>&1 || ! command -v swaks >/dev/null 2>&1 ||
	   ! command -v postconf >/dev/null 2>&1; then
		command -v apt-get >/dev/null 2>&1 || mc_skip "needs postfix and swaks"
		echo "# installing postfix and swaks"
		echo 'postfix postfix/main_mailer_type select No configuration' |
			debconf-set-selections 2>/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y \
			-o DPkg::Lock::Timeout=600 postfix swaks >"$T/apt.log" 2>&1 ||
			mc_skip "cannot install postfix and swaks (see apt-get)"
	fi
	[ -x /usr/lib/postfix/sbin/master ] || mc_skip "no Postfix master daemon"
	command -v jq >/dev/null 2>&1 || command -v python3 >/dev/null 2>&1 ||
		mc_skip "needs python3"
	getent passwd nobody >/dev/null || mc_skip "needs user nobody"
}

pf_postfix() {
	postfix -c "$PF_CONF" "$@"
}

pf_stop() {
	local pid
	[ -n "${PF_CONF:-}" ] || return 0
	if [ -f "$PF_SPOOL/pid/master.pid" ]; then
		pid=$(tr -dc 0-9 <"$PF_SPOOL/pid/master.pid")
		postfix -c "$PF_CONF" stop >/dev/null 2>&1
		for _ in $(seq 1 50); do
			[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		[ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null ||
			postfix -c "$PF_CONF" abort >/dev/null 2>&1
	fi
}

pf_cleanup() {
	pf_stop
	if [ -n "${PF:-}" ] && [ -d "$PF" ]; then
		case $PF in
		/tmp/mailcure-pf.*) rm -rf "$PF" ;;
		esac
	fi
}

pf_write_config() {
	cat >"$PF_CONF/main.cf" <<EOF
# Private test instance of mailcure's queue tests.
compatibility_level = 3.6
queue_directory = $PF_SPOOL
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.$PF_DOMAIN
mydomain = $PF_DOMAIN
myorigin = \$mydomain
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = $PF_DOMAIN, sender.test
virtual_mailbox_base = $PF_VMAIL
virtual_mailbox_maps = texthash:$PF_CONF/vmailbox
virtual_uid_maps = static:$PF_UID
virtual_gid_maps = static:$PF_GID
virtual_mailbox_limit = 0
message_size_limit = 104857600
transport_maps = texthash:$PF_CONF/transport
default_transport = error:5.7.1 no mail leaves the test instance
relay_transport = error:5.7.1 no mail leaves the test instance
smtp_connect_timeout = 2s
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
syslog_name = mailcure-test-postfix
smtputf8_enable = no
biff = no
EOF
	cat >"$PF_CONF/master.cf" <<EOF
# Private test instance of mailcure's queue tests (no chroot).
127.0.0.1:$PF_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	cat >"$PF_CONF/vmailbox" <<EOF
alice@$PF_DOMAIN alice/
bob@$PF_DOMAIN bob/
carol@$PF_DOMAIN carol/
@$PF_DOMAIN catchall/
@sender.test senders/
EOF
	cat >"$PF_CONF/transport" <<EOF
remote.test smtp:[127.0.0.1]:$PF_DEAD_PORT
EOF
}

pf_start() {
	local create_only=
	[ "${1:-}" = -n ] && create_only=1
	[ -n "${T:-}" ] || mc_setup
	PF=$(mktemp -d /tmp/mailcure-pf.XXXXXX) || mc_fail "mktemp"
	chmod 755 "$PF"
	mc_at_exit pf_cleanup
	PF_CONF=$PF/etc
	PF_SPOOL=$PF/spool
	PF_VMAIL=$PF/vmail
	PF_LOG=$PF/maillog
	PF_UID=$(id -u nobody)
	PF_GID=$(id -g nobody)
	PF_PORT=$(mc_free_port)
	PF_DEAD_PORT=$(mc_free_port)
	export PF PF_CONF PF_SPOOL PF_VMAIL PF_LOG PF_PORT
	mkdir -p "$PF_CONF" "$PF_SPOOL" "$PF/data" "$PF_VMAIL"
	chown postfix "$PF/data"
	# Postfix commands that run as postfix (postsuper) write the log
	# file themselves while Postfix (postlogd) is stopped.
	: >"$PF_LOG"
	chown postfix "$PF_LOG"
	chmod 640 "$PF_LOG"
	chown "$PF_UID:$PF_GID" "$PF_VMAIL"
	pf_write_config
	pf_postfix check >"$PF/check.log" 2>&1 ||
		{ cat "$PF/check.log" "$PF_LOG" 2>/dev/null; mc_fail "postfix check"; }
	[ -n "$create_only" ] && return 0
	pf_postfix start >"$PF/start.log" 2>&1 ||
		{ cat "$PF/start.log" "$PF_LOG" 2>/dev/null; mc_fail "postfix start"; }
	pf_wait_listening
}

pf_wait_listening() {
	for _ in $(seq 1 100); do
		[ -n "$(ss -Htln "sport = :$PF_PORT" 2>/dev/null)" ] && return 0
		sleep 0.1
	done
	cat "$PF_LOG" 2>/dev/null
	mc_fail "the test Postfix does not listen on port $PF_PORT"
}

# pf_smtp FROM TO SUBJECT [SWAKS ARGS...]
pf_smtp() { mc_smtp "$PF_PORT" "$@"; }
pf_smtp_bg() { mc_smtp_bg "$PF_PORT" "$@"; }
pf_smtp_wait() { mc_smtp_wait; }

# pf_sendmail FROM TO... < MESSAGE
pf_sendmail() {
	local from=$1
	shift
	sendmail -C "$PF_CONF" -f "$from" -- "$@" || mc_fail "sendmail failed"
}

pf_queue_json() {
	postqueue -c "$PF_CONF" -j
}

pf_queue_count() {
	pf_queue_json | grep -c '"queue_id"'
}

pf_wait_queue() {
	local want=$1 secs=${2:-30} n
	for _ in $(seq 1 $((secs * 10))); do
		n=$(pf_queue_count)
		[ "$n" = "$want" ] && return 0
		sleep 0.1
	done
	pf_queue_json >&2
	mc_fail "queue holds $n messages, expected $want"
}

pf_mailbox_count() { mc_maildir_count "$PF_VMAIL/$1"; }

pf_wait_mailbox() { mc_wait_maildir "$PF_VMAIL/$1" "$2" "${3:-30}" "$PF_LOG"; }

pf_subject_of() {
	postcat -c "$PF_CONF" -h -q "$1" 2>/dev/null | sed -n 's/^Subject: //p' | head -n 1
}

pf_queue_subjects() {
	local id
	for id in $(pf_queue_json | python3 -c '
import json, sys
for line in sys.stdin:
    line = line.strip()
    if line:
        print(json.loads(line)["queue_id"])'); do
		printf '%s\t%s\n' "$id" "$(pf_subject_of "$id")"
	done
}

# pf_id_of FILE SUBJECT
pf_id_of() {
	awk -F'\t' -v s="$2" '$2 == s { print $1 }' "$1"
}

pf_check() {
	mc_json "$@" || { mc_show >&2; mc_fail "JSON check of $1 failed"; }
}

mc_pf() {
	mc_cure --state-dir "$T/state" queue --postfix-config "$PF_CONF" "$@"
}
