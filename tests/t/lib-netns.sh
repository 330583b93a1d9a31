# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	lib-netns.sh - network namespaces and a private Dovecot for the integration scripts
# SYNOPSIS
#	. "$MC_SRC/tests/t/lib-netns.sh"
# DESCRIPTION
#	Sourced by the isolation and dovecot: store tests (t4xxx) and
#	t6010; sources lib.sh. t4001-netns-dovecot.sh tests the harness
#	itself.
#
#	They need a server reachable over a network from a user host
#	and an administrator host, and a real Dovecot. This file builds
#	them from scratch, with test addresses only, and tears
#	everything down on exit:
#
#	server (ns $NS_SRV)  192.0.2.1/24     2001:db8:1::1/64   to the user host
#	                     198.51.100.1/24  2001:db8:2::1/64   to the admin host
#	user   (ns $NS_USR)  192.0.2.2/24     2001:db8:1::2/64
#	admin  (ns $NS_ADM)  198.51.100.2/24  2001:db8:2::2/64
#
#	Dovecot runs in the server namespace with its own configuration
#	under $DV ($T/dovecot): passwd-file users alice, bob and admin
#	(password $T4_PASS, "test-secret"), mail in $DV/home/USER/mail
#	in the format asked for, ssl off, plaintext logins allowed,
#	state_dir and the log ($DV_LOG) in $DV, base_dir $DV_RUN
#	($DV/run, or a short directory in /tmp when that path is too
#	long for UNIX sockets; removed on exit). doveadm is run with
#	-c $DV_CONF; MAILCURE_DOVECOT_CONFIG is exported for mailcure.
#
#	Setup
#	t4_need		skip (77) unless root, ip netns, nft, dovecot,
#			doveadm, python3 and curl are there
#	t4_setup	mc_setup, and $T traversable by the mail uids;
#			on exit Dovecot, the processes of $T4_PIDS and
#			whatever runs in the namespaces are stopped and
#			the namespaces deleted
#	t4_netns	create the three namespaces and links
#	t4_dovecot FORMAT	start Dovecot (maildir, sdbox or mdbox)
#	t4_dovecot_stop	stop it
#
#	In the namespaces
#	t4_srv ARGS	mailcure ARGS (after --progress never) in the
#			server namespace; output and status in $MC_OUT,
#			$MC_ERR, $MC_RC, as mc_run
#	t4_ruleset	the server's nftables ruleset
#	t4_rules	the same without counters
#	t4_doveadm ARGS	doveadm -c $DV_CONF ARGS
#	t4_imap NS HOST USER [CMD [MAILBOX]]	an IMAP client (python3
#			imaplib) in namespace NS: "login" (default) prints
#			"ok"; "list" prints "SUBJECT<TAB>FLAGS" per message
#			of MAILBOX (sorted); exits non-zero when it fails
#			(within 4 s: a dropped connection times out)
#	t4_curl NS URL	curl's imap:// client, same time limit
#	t4_log_errors	Dovecot log lines that report errors
#	t4_no_log_errors WHEN	fail when there are any
#
#	Messages (written to stdout)
#	t4_msg SUBJECT [BODY]	a text/plain message
#	t4_msg_virus SUBJECT	the EICAR test file attached
# SECURITY
#	Only namespaces, links and processes created here are touched;
#	the host's own network and ruleset are not. The mail processes
#	run as uids 60001-60003, which must be able to traverse $T: any
#	ancestor of $T below /tmp or /var/tmp that lacks go+x gets it (it
#	is a temporary directory, removed by whoever made it); a $T
#	elsewhere that is not traversable skips the test.

: "${MC_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# shellcheck source=tests/t/lib.sh
declare -F mc_setup >/dev/null || . "$MC_SRC/tests/t/lib.sh"

T4_PASS=test-secret
T4_NS_CREATED=()
T4_PIDS=()
T4_RUNDIRS=()

t4_need() {
	local c
	[ "$(id -u)" = 0 ] || mc_skip "needs root (network namespaces, nftables)"
	for c in ip nft dovecot doveadm python3 curl timeout; do
		command -v "$c" >/dev/null 2>&1 || mc_skip "needs $c"
	done
	[ -x "$MAILCURE" ] || mc_fail "MAILCURE=$MAILCURE is not an executable"
	local probe="mcprobe$$"
	ip netns add "$probe" 2>/dev/null || mc_skip "cannot create network namespaces"
	if ! ip netns exec "$probe" nft list ruleset >/dev/null 2>&1; then
		ip netns del "$probe"
		mc_skip "nftables does not work in a network namespace here"
	fi
	ip netns del "$probe"
}

# On exit, before $T is removed (mc_at_exit).
t4_cleanup() {
	local p ns
	for p in "${T4_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	if [ -n "${DV_CONF:-}" ] && [ -f "$DV_RUN/master.pid" ]; then
		t4_dovecot_stop
	fi
	for ns in "${T4_NS_CREATED[@]}"; do
		# Whatever still runs in our namespaces was started here.
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	for p in "${T4_RUNDIRS[@]}"; do
		rm -rf "$p"
	done
}

# Let the mail uids reach $T (see SECURITY).
t4_traversable() {
	local d=$1 mode
	while [ "$d" != / ] && [ -n "$d" ]; do
		mode=$(stat -c %a "$d") || return 1
		# Group too: a process in the directory's group is judged
		# by the group bits, not by the bits for others.
		if [ $(( 8#$mode & 9 )) != 9 ]; then
			case $d in
			/tmp/?*|/var/tmp/?*) chmod go+x "$d" || return 1 ;;
			*) return 1 ;;
			esac
		fi
		d=$(dirname "$d")
	done
}

t4_setup() {
	mc_setup
	mc_at_exit t4_cleanup
	chmod 0711 "$T"
	t4_traversable "$T" || mc_skip "the test mail uids cannot traverse $T"
}

t4_netns() {
	local id="${BASHPID}$RANDOM"
	NS_SRV="mc${id}s"
	NS_USR="mc${id}u"
	NS_ADM="mc${id}a"
	for ns in "$NS_SRV" "$NS_USR" "$NS_ADM"; do
		ip netns add "$ns" || mc_fail "ip netns add $ns"
		T4_NS_CREATED+=("$ns")
		ip -n "$ns" link set lo up
	done
	# Links are created inside the namespaces, so their names never
	# meet the host's interfaces.
	ip link add name su0 netns "$NS_SRV" type veth peer name us0 netns "$NS_USR" ||
		mc_fail "veth server-user"
	ip link add name sa0 netns "$NS_SRV" type veth peer name as0 netns "$NS_ADM" ||
		mc_fail "veth server-admin"
	ip -n "$NS_SRV" addr add 192.0.2.1/24 dev su0
	ip -n "$NS_SRV" addr add 2001:db8:1::1/64 dev su0 nodad
	ip -n "$NS_SRV" addr add 198.51.100.1/24 dev sa0
	ip -n "$NS_SRV" addr add 2001:db8:2::1/64 dev sa0 nodad
	ip -n "$NS_USR" addr add 192.0.2.2/24 dev us0
	ip -n "$NS_USR" addr add 2001:db8:1::2/64 dev us0 nodad
	ip -n "$NS_ADM" addr add 198.51.100.2/24 dev as0
	ip -n "$NS_ADM" addr add 2001:db8:2::2/64 dev as0 nodad
	for l in "$NS_SRV su0" "$NS_SRV sa0" "$NS_USR us0" "$NS_ADM as0"; do
		set -- $l
		ip -n "$1" link set "$2" up
	done
	export NS_SRV NS_USR NS_ADM
}

t4_doveadm() {
	doveadm -c "$DV_CONF" "$@"
}

# t4_srv ARGS: mailcure in the server namespace, as mc_run.
t4_srv() {
	local e=$-
	MC_LAST="ip netns exec $NS_SRV $MAILCURE --progress never $*"
	set +e
	ip netns exec "$NS_SRV" "$MAILCURE" --progress never "$@" >"$MC_OUT" 2>"$MC_ERR"
	MC_RC=$?
	case $e in *e*) set -e ;; esac
	return 0
}

t4_ruleset() { ip netns exec "$NS_SRV" nft list ruleset; }
# The rules without their counters, which traffic the drop rules meet
# (a retransmission of the session isolate cut) may advance meanwhile.
t4_rules() { ip netns exec "$NS_SRV" nft --stateless list ruleset; }

t4_dovecot() {
	local format=$1 u uid=60001
	DV=$T/dovecot
	DV_CONF=$DV/dovecot.conf
	DV_LOG=$DV/dovecot.log
	# UNIX socket paths hold at most 107 bytes: a deep $T gets a short
	# base_dir of its own in /tmp.
	DV_RUN=$DV/run
	if [ ${#DV_RUN} -gt 40 ]; then
		DV_RUN=$(mktemp -d /tmp/mcdv.XXXXXX) || mc_fail "mktemp"
		T4_RUNDIRS+=("$DV_RUN")
		chmod 0755 "$DV_RUN"
	fi
	mkdir -p "$DV_RUN" "$DV/state" "$DV/home"
	chmod 0755 "$DV" "$DV/home"
	: >"$DV/passwd"
	for u in alice bob admin; do
		mkdir -p "$DV/home/$u"
		chown "$uid:$uid" "$DV/home/$u"
		chmod 0700 "$DV/home/$u"
		printf '%s:{PLAIN}%s:%d:%d::%s::\n' "$u" "$T4_PASS" "$uid" "$uid" "$DV/home/$u" >>"$DV/passwd"
		uid=$((uid + 1))
	done
	chmod 0644 "$DV/passwd"
	cat >"$DV_CONF" <<EOF
# Dovecot for a mailcure test: everything under $DV.
base_dir = $DV_RUN
state_dir = $DV/state
instance_name = mailcure-test-$$
log_path = $DV_LOG
protocols = imap
listen = *, ::
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = $format:~/mail
first_valid_uid = 60001
last_valid_uid = 60010
default_internal_user = root
default_internal_group = root
default_login_user = dovenull
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DV/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u $DV/passwd
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Junk {
    special_use = \\Junk
  }
}
EOF
	ip netns exec "$NS_SRV" dovecot -c "$DV_CONF" || mc_fail "dovecot did not start: $(tail -n 5 "$DV_LOG" 2>/dev/null)"
	local i
	for i in $(seq 50); do
		if t4_imap "$NS_SRV" 127.0.0.1 alice login >/dev/null 2>&1; then
			export MAILCURE_DOVECOT_CONFIG=$DV_CONF
			export DV DV_CONF DV_LOG DV_RUN
			return 0
		fi
		sleep 0.2
	done
	mc_fail "Dovecot does not answer IMAP logins: $(tail -n 5 "$DV_LOG" 2>/dev/null)"
}

t4_dovecot_stop() {
	local pid i
	pid=$(cat "$DV_RUN/master.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$DV_RUN/master.pid"
}

# t4_imap NS HOST USER [login|list [MAILBOX]]
t4_imap() {
	local ns=$1 host=$2 user=$3 cmd=${4:-login} box=${5:-INBOX}
	ip netns exec "$ns" timeout 20 python3 - "$host" "$user" "$T4_PASS" "$cmd" "$box" <<'EOF'
import imaplib, re, socket, sys
host, user, pw, cmd, box = sys.argv[1:6]
socket.setdefaulttimeout(4)
try:
    m = imaplib.IMAP4(host, 143)
    m.login(user, pw)
    if cmd == "login":
        print("ok")
    elif cmd == "list":
        typ, _ = m.select('"%s"' % box, readonly=True)
        if typ != "OK":
            sys.exit("select %s failed" % box)
        typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])") if int(_[0]) > 0 else ("OK", [])
        rows = []
        for item in data:
            if not isinstance(item, tuple):
                continue
            flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode()
            flags = " ".join(sorted(f for f in flags.split() if f != "\\Recent"))
            subj = item[1].decode("utf-8", "replace").strip()
            subj = subj[len("Subject:"):].strip() if subj.lower().startswith("subject:") else subj
            rows.append("%s\t%s" % (subj, flags or "-"))
        if rows:
            print("\n".join(sorted(rows)))
    m.logout()
except Exception as e:
    sys.exit("imap %s@%s: %s: %s" % (user, host, type(e).__name__, e))
EOF
}

# t4_curl NS URL: log in (and list mailboxes) with curl's IMAP client.
t4_curl() {
	ip netns exec "$1" curl -sS --connect-timeout 4 --max-time 8 \
		--user "alice:$T4_PASS" "$2" >/dev/null
}

t4_log_errors() {
	grep -E "Error:|Panic:|Fatal:|[Cc]orrupt" "$DV_LOG" 2>/dev/null || true
}

# t4_no_log_errors WHEN: fail when Dovecot logged errors.
t4_no_log_errors() {
	local e
	e=$(t4_log_errors)
	[ -z "$e" ] || mc_fail "Dovecot logged errors ($1): $e"
}

t4_msg() {
	printf 'From: Alice Example <alice@example.com>\nTo: bob@example.org\n'
	printf 'Subject: %s\nDate: Mon, 02 Mar 2026 10:00:00 +0000\n' "$1"
	printf 'Message-ID: <%s.%s@mailcure.test>\nMIME-Version: 1.0\n' "$RANDOM$RANDOM" "$$"
	printf 'Content-Type: text/plain; charset=utf-8\n\n%s\n' "${2:-Hello, this is a test.}"
}

t4_msg_virus() {
	local b="=_t4_$RANDOM"
	printf 'From: Mallory <mallory@example.net>\nTo: bob@example.org\n'
	printf 'Subject: %s\nDate: Mon, 02 Mar 2026 10:00:00 +0000\n' "$1"
	printf 'Message-ID: <%s.%s@mailcure.test>\nMIME-Version: 1.0\n' "$RANDOM$RANDOM" "$$"
	printf 'Content-Type: multipart/mixed; boundary="%s"\n\n--%s\n' "$b" "$b"
	printf 'Content-Type: text/plain\n\nSee the attachment.\n\n--%s\n' "$b"
	printf 'Content-Type: application/octet-stream; name="eicar.com"\n'
	printf 'Content-Transfer-Encoding: base64\n'
	printf 'Content-Disposition: attachment; filename="eicar.com"\n\n'
	mc_eicar | base64 -w 76
	printf -- '--%s--\n' "$b"
}
