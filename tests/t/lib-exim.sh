# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	lib-exim.sh - a private Exim instance for the integration scripts
# SYNOPSIS
#	. "$MC_SRC/tests/t/lib-exim.sh"
# DESCRIPTION
#	Sourced by the Exim queue tests (t31xx); sources lib.sh.
#	t3100-exim-instance.sh tests the instance itself.
#
#	Debian's exim4 packages conflict with postfix (both are the
#	MTA), so Exim is never installed here: tests/exim-root.sh unpacks
#	exim4-base, exim4-config and exim4-daemon-light into a private
#	directory ($MC_EXIM_ROOT, default build-exim/root of the source
#	tree; "make deps-check" prepares it) and its exim4 binary runs as
#	root with a configuration of its own (-C $EX_CONF). That
#	directory's usr/sbin is put first in PATH, so that "exim4" and
#	"exim" are this binary for mailcure too.
#
#	The instance has its configuration, spool, Maildirs and log
#	files under $EX (a fresh directory in /tmp: the delivery
#	processes, running as nobody, must be able to traverse it),
#	listens on 127.0.0.1 on a free port ($EX_PORT) and delivers the
#	domains mailcure.test and sender.test to Maildirs under
#	$EX_VMAIL (uid nobody), as lib-postfix.sh does: alice, bob and
#	carol at mailcure.test each have a mailbox, every other address
#	of mailcure.test lands in "catchall", every address of
#	sender.test (where a bounce would go) in "senders". Mail for
#	remote.test is deferred (it stays queued); nothing is relayed
#	elsewhere. The Exim user is root: Exim drops its privilege when
#	it re-executes itself with a -C file not listed in the
#	binary's TRUSTED_CONFIG_LIST (/etc/exim4/trusted_configs), and
#	that system file is not ours to write.
#
#	ex_need		skip unless root, swaks and python3 are there;
#			unpack Exim (tests/exim-root.sh) when missing.
#	ex_start [-n] [-s] [-q]	create and start the instance (-n:
#			create only; -s: split_spool_directory; -q:
#			queue_only and no queue runner: nothing is
#			delivered until a queue run is forced); stopped
#			and removed on exit (mc_setup first when $T is
#			not set yet). Without -q the daemon runs the
#			queue every $EX_QTIME (2s).
#	ex_exim ARGS	exim4 -C $EX_CONF ARGS
#	ex_daemon	start the daemon; ex_stop: stop it and wait
#	ex_smtp FROM TO SUBJECT [SWAKS ARGS]	mc_smtp to the instance
#	ex_smtp_bg ARGS, ex_smtp_wait	in the background, as mc_smtp_bg
#	ex_sendmail FROM TO... < MESSAGE	local submission (exim -bm)
#	ex_queue_count	number of queued messages (exim -bpc)
#	ex_queue_ids	the id of every queued message (exim -bp)
#	ex_wait_queue N [SECONDS]	until exactly N messages are queued
#	ex_mailbox_count BOX	messages delivered to Maildir BOX
#	ex_wait_mailbox BOX N [SECONDS]	until BOX holds N messages
#	ex_queue_subjects	"ID<TAB>Subject" of every queued message
#			(exim -Mvh)
#	mc_ex ARGS	mailcure with the test signatures, quarantine and
#			state directory, for this instance:
#			mc_cure --state-dir $T/state queue --mta exim
#			--exim-config $EX_CONF ARGS
# SECURITY
#	Everything lives under $EX and $T; the daemon and the processes
#	it started are stopped on exit, also on failure.

: "${MC_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# shellcheck source=tests/t/lib.sh
declare -F mc_setup >/dev/null || . "$MC_SRC/tests/t/lib.sh"

EX_DOMAIN=mailcure.test
: "${MC_EXIM_ROOT:=$MC_SRC/build-exim/root}"
EX_QTIME=2s

ex_need() {
	mc_need_root
	mc_need swaks python3 ss
	getent passwd nobody >/dev/null || mc_skip "needs user nobody"
	EX_BIN=$("$MC_SRC/tests/exim-root.sh" "$MC_EXIM_ROOT" 2>"${T:-/tmp}/exim-root.log") || {
		cat "${T:-/tmp}/exim-root.log" >&2
		mc_skip "no private Exim (tests/exim-root.sh failed)"
	}
	PATH=$MC_EXIM_ROOT/usr/sbin:$PATH
	export PATH EX_BIN
}

ex_exim() {
	"$EX_BIN" -C "$EX_CONF" "$@"
}

ex_write_config() {
	local split=$1 queue_only=$2
	cat >"$EX_CONF" <<EOF
# Private test instance of mailcure's Exim queue tests.
exim_path = $EX_BIN
exim_user = root
exim_group = root
spool_directory = $EX_SPOOL
split_spool_directory = $split
queue_only = $queue_only
log_file_path = $EX/log/%slog
pid_file_path = $EX/exim.pid
daemon_smtp_ports = $EX_PORT
local_interfaces = 127.0.0.1
primary_hostname = mx.$EX_DOMAIN
qualify_domain = $EX_DOMAIN
domainlist local_domains = $EX_DOMAIN : sender.test
acl_smtp_rcpt = acl_rcpt
keep_environment =
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
message_size_limit = 100M
smtp_accept_max = 50
smtp_accept_queue_per_connection = 0
smtp_accept_max_per_host = 50

begin acl
acl_rcpt:
  accept hosts = 127.0.0.1
  deny message = relay not permitted

begin routers
remote:
  driver = redirect
  domains = remote.test
  allow_defer
  data = :defer: remote.test is never reached
known:
  driver = accept
  domains = $EX_DOMAIN
  local_parts = alice : bob : carol
  address_data = \$local_part_data
  transport = maildir
catchall:
  driver = accept
  domains = $EX_DOMAIN
  address_data = catchall
  transport = maildir
senders:
  driver = accept
  domains = sender.test
  address_data = senders
  transport = maildir

begin transports
maildir:
  driver = appendfile
  directory = $EX_VMAIL/\$address_data
  maildir_format
  create_directory
  delivery_date_add
  envelope_to_add
  return_path_add
  user = nobody
  group = nogroup

begin retry
* * F,1h,10s
EOF
	chmod 644 "$EX_CONF"
}

ex_start() {
	local create_only= split=false queue_only=false opt
	EX_QTIME=2s
	OPTIND=1
	while getopts nsq opt; do
		case $opt in
		n) create_only=1 ;;
		s) split=true ;;
		q) queue_only=true; EX_QTIME= ;;
		*) mc_fail "ex_start: unknown option" ;;
		esac
	done
	[ -n "${T:-}" ] || mc_setup
	[ -n "${EX_BIN:-}" ] || ex_need
	EX=$(mktemp -d /tmp/mailcure-ex.XXXXXX) || mc_fail "mktemp"
	chmod 755 "$EX"
	mc_at_exit ex_cleanup
	EX_CONF=$EX/exim.conf
	EX_SPOOL=$EX/spool
	EX_VMAIL=$EX/vmail
	EX_LOG=$EX/log/mainlog
	EX_PORT=$(mc_free_port)
	export EX EX_CONF EX_SPOOL EX_VMAIL EX_LOG EX_PORT
	mkdir -p "$EX_SPOOL" "$EX/log" "$EX_VMAIL"
	chown nobody:nogroup "$EX_VMAIL"
	ex_write_config "$split" "$queue_only"
	ex_exim -bV >"$EX/bV.log" 2>&1 || { cat "$EX/bV.log"; mc_fail "exim -bV"; }
	[ -n "$create_only" ] && return 0
	ex_daemon
}

ex_daemon() {
	ex_exim -bd ${EX_QTIME:+-q"$EX_QTIME"} >"$EX/daemon.log" 2>&1 ||
		{ cat "$EX/daemon.log" "$EX/log/paniclog" 2>/dev/null; mc_fail "exim -bd"; }
	for _ in $(seq 1 100); do
		[ -n "$(ss -Htln "sport = :$EX_PORT" 2>/dev/null)" ] && return 0
		sleep 0.1
	done
	cat "$EX/log/mainlog" "$EX/log/paniclog" 2>/dev/null
	mc_fail "the test Exim does not listen on port $EX_PORT"
}

# The daemon's pid, when it runs.
ex_daemon_pid() {
	local pid
	[ -f "$EX/exim.pid" ] || return 1
	pid=$(tr -dc 0-9 <"$EX/exim.pid")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

ex_stop() {
	local pid
	[ -n "${EX:-}" ] || return 0
	pid=$(ex_daemon_pid) || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	rm -f "$EX/exim.pid"
}

# Processes of this instance still running after the daemon (queue
# runners and deliveries it started): they all name $EX_CONF.
ex_kill_rest() {
	local p
	for p in $(pgrep -f -- "-C $EX_CONF" 2>/dev/null); do
		kill -TERM "$p" 2>/dev/null
	done
}

ex_cleanup() {
	ex_stop
	[ -n "${EX:-}" ] || return 0
	ex_kill_rest
	case $EX in
	/tmp/mailcure-ex.*) rm -rf "$EX" ;;
	esac
}

ex_smtp() { mc_smtp "$EX_PORT" "$@"; }
ex_smtp_bg() { mc_smtp_bg "$EX_PORT" "$@"; }
ex_smtp_wait() { mc_smtp_wait; }

# ex_sendmail FROM TO... < MESSAGE
ex_sendmail() {
	local from=$1
	shift
	ex_exim -bm -f "$from" -- "$@" || mc_fail "exim -bm failed"
}

ex_queue_count() {
	ex_exim -bpc
}

ex_queue_ids() {
	ex_exim -bp | awk 'NF >= 3 && $3 ~ /^[0-9A-Za-z]+-[0-9A-Za-z]+-[0-9A-Za-z]+$/ { print $3 }'
}

ex_wait_queue() {
	local want=$1 secs=${2:-30} n
	for _ in $(seq 1 $((secs * 10))); do
		n=$(ex_queue_count)
		[ "$n" = "$want" ] && return 0
		sleep 0.1
	done
	ex_exim -bp >&2
	mc_fail "queue holds $n messages, expected $want"
}

ex_mailbox_count() { mc_maildir_count "$EX_VMAIL/$1"; }

ex_wait_mailbox() { mc_wait_maildir "$EX_VMAIL/$1" "$2" "${3:-30}" "$EX_LOG"; }

ex_queue_subjects() {
	local id
	for id in $(ex_queue_ids); do
		printf '%s\t%s\n' "$id" \
			"$(ex_exim -Mvh "$id" 2>/dev/null | sed -n 's/^[0-9]\{3\}[A-Z* ] Subject: //p' | head -n 1)"
	done
}

mc_ex() {
	mc_cure --state-dir "$T/state" queue --mta exim --exim-config "$EX_CONF" "$@"
}
