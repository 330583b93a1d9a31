#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1092-clamd-engine - running clamd daemons as the engine give
#	the embedded engine's verdicts, survive a daemon's death, and
#	report what they could not scan
# DESCRIPTION
#	Starts clamd daemons of its own on the test signatures: one on
#	a Unix socket, two on loopback TCP ports picked free at run
#	time, and one with small limits. Over a Maildir of messages with
#	1 MB attachments, every third one carrying a file of
#	/usr/share/clamav-testfiles or EICAR in a zip, "mailbox find"
#	through the Unix socket (descriptors and streams) and through
#	the two TCP daemons (a farm) must give the embedded engine's
#	events: the same messages matched with the same signature names.
#	A host scan through the Unix socket passes descriptors (FILDES)
#	and must find what the embedded engine finds.
#
#	One TCP daemon is killed with SIGKILL while a run uses both:
#	every message is still accounted for with the same verdict, its
#	scans retried on the other daemon. A daemon whose StreamMaxLength
#	is smaller than a message, or whose MaxFileSize is (with
#	AlertExceedsMax), gives unscanned, never clean. A daemon that
#	does not answer is a clear error, and a socket reached through
#	a user's symlink is refused.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need_root
mc_need python3 clamd zip
mc_need_testfiles
mc_setup

# clamd_ping ADDRESS: whether the daemon answers PING.
clamd_ping() {
	"$MC_PYTHON" - "$1" <<'EOF'
import socket, sys
a = sys.argv[1]
try:
    if "/" in a:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        s.connect(a)
    else:
        h, p = a.rsplit(":", 1)
        s = socket.create_connection((h, int(p)), timeout=2)
    s.sendall(b"zPING\0")
    sys.exit(0 if s.recv(16) == b"PONG\0" else 1)
except OSError:
    sys.exit(1)
EOF
}

# clamd_start NAME LISTEN [CONFIG LINE]...: a clamd of its own in
# $T/NAME, on the test signatures, listening as LISTEN says
# ("LocalSocket PATH" or "TCPSocket PORT"). Sets clamd_pid_NAME and
# clamd_addr_NAME; clamd_wait NAME waits until it answers.
clamd_start() {
	local name=$1 listen=$2 dir=$T/$1
	shift 2
	mkdir -p "$dir/tmp"
	{
		echo "Foreground yes"
		echo "$listen"
		case $listen in TCPSocket*) echo "TCPAddr 127.0.0.1" ;; esac
		echo "LogFile $dir/log"
		echo "LogClean yes"
		echo "User root"
		echo "TemporaryDirectory $dir/tmp"
		echo "DatabaseDirectory $MC_SIGS"
		echo "OfficialDatabaseOnly no"
		echo "SelfCheck 3600"
		printf '%s\n' "$@"
	} >"$dir/clamd.conf"
	clamd -c "$dir/clamd.conf" >"$dir/out" 2>&1 &
	eval "clamd_pid_$name=$!"
	disown "$!"
	mc_at_exit "kill -9 $! 2>/dev/null"
	case $listen in
	LocalSocket*) eval "clamd_addr_$name=\${listen#LocalSocket }" ;;
	*) eval "clamd_addr_$name=127.0.0.1:\${listen#TCPSocket }" ;;
	esac
}

clamd_wait() {
	local pid addr i
	eval "pid=\$clamd_pid_$1 addr=\$clamd_addr_$1"
	for i in $(seq 600); do
		clamd_ping "$addr" && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$T/$1/out" >&2; mc_fail "clamd $1 exited"; }
		sleep 0.1
	done
	mc_fail "clamd $1 did not answer PING"
}

sock=$T/unix/clamd.sock
mkdir -p "$T/unix"
port1=$(mc_free_port)
clamd_start tcp1 "TCPSocket $port1"
port2=$(mc_free_port)
clamd_start tcp2 "TCPSocket $port2"
clamd_start unix "LocalSocket $sock"
# Limits: a stream over StreamMaxLength, a file over MaxFileSize.
clamd_start small "LocalSocket $T/small.sock" "StreamMaxLength 200K" \
	"MaxFileSize 50K" "AlertExceedsMax yes"

mc_eicar >"$T/eicar.com"
(cd "$T" && zip -q eicar.zip eicar.com)
md=$T/Maildir
mc_attach_store "$md" 60 3 "$MC_TESTFILES/clam.exe" "$MC_TESTFILES/clam.zip" \
	"$MC_TESTFILES/clam.7z" "$MC_TESTFILES/clam.pdf" "$MC_TESTFILES/clam.ole.doc" \
	"$MC_TESTFILES/clam.cab" "$T/eicar.zip"

# verdicts FILE: each event but the summary, as path, event and
# signature names or "why".
verdicts() {
	mc_json "$1" '
for e in sorted(events, key=lambda e: e.get("path", "")):
    if e["event"] == "summary":
        continue
    names = ",".join(r.get("name", r.get("value", "")) for r in e.get("reasons", []))
    print(e.get("path", "").rsplit("/", 1)[-1], e["event"], names or e.get("why", ""))'
}

mc_cure -j 2 --json mailbox find -s "$md"
mc_expect_rc 1 "the embedded engine"
for d in tcp1 tcp2 unix small; do clamd_wait $d; done
verdicts "$MC_OUT" >"$T/want"
mc_assert_eq 20 "$(grep -c ' match ' "$T/want")" "messages the embedded engine matched"

for how in "--clamd $sock" "--clamd 127.0.0.1:$port1 --clamd 127.0.0.1:$port2"; do
	# shellcheck disable=SC2086
	mc_run --quarantine "$MC_Q" --progress never -j 2 --json $how mailbox find -s "$md"
	mc_expect_rc 1 "mailbox find $how"
	mc_assert_eq "$(cat "$T/want")" "$(verdicts "$MC_OUT")" "events with $how"
	mc_assert_eq "clamd ClamAV" "$(mc_json "$MC_OUT" '
e = [e for e in events if e["event"] == "summary"][0]["engine"]
print(e["name"], e["version"].split()[1])')" "the summary's engine with $how"
done
grep -q '^instream(127.0.0.1@[0-9]*): OK' "$T/tcp1/log" &&
	grep -q '^instream(127.0.0.1@[0-9]*): OK' "$T/tcp2/log" ||
	mc_fail "the farm did not use both daemons"
echo "ok: the same events through a Unix socket and a farm of two"

# A host scan passes descriptors over the Unix socket.
mkdir "$T/files"
cp "$MC_TESTFILES/clam.exe" "$MC_TESTFILES/clam.zip" "$T/eicar.zip" "$T/files/"
head -c 100000 /dev/urandom >"$T/files/random.bin"
mc_cure --json host scan "$T/files"
mc_expect_rc 1 "host scan, embedded engine"
verdicts "$MC_OUT" >"$T/want-host"
mc_run --quarantine "$MC_Q" --progress never --json --clamd "$sock" host scan "$T/files"
mc_expect_rc 1 "host scan through the Unix socket"
mc_assert_eq "$(cat "$T/want-host")" "$(verdicts "$MC_OUT")" "host scan events"
# clamd logs a file passed by descriptor under its path.
grep -q "^$T/files/clam.exe: ClamAV-Test-File.UNOFFICIAL FOUND" "$T/unix/log" ||
	mc_fail "the host scan did not pass descriptors"
echo "ok: host scan with descriptors passed"

# A daemon killed during the run: its scans go to the other one.
for try in 1 2 3; do
	: >"$T/tcp1/log"
	mc_run_bg --quarantine "$MC_Q" --progress never -j 2 --json \
		--clamd "127.0.0.1:$port1" --clamd "127.0.0.1:$port2" mailbox find -s "$md"
	for i in $(seq 200); do
		[ "$(grep -c '^instream(' "$T/tcp1/log" || true)" -ge 3 ] && break
		sleep 0.02
	done
	running=no
	kill -0 "$MC_PID" 2>/dev/null && running=yes
	kill -9 "$clamd_pid_tcp1"
	mc_wait_bg
	[ "$running" = yes ] && break
	mc_log "the run ended before the kill; again"
	clamd_start tcp1 "TCPSocket $port1"
	clamd_wait tcp1
done
[ "$running" = yes ] || mc_fail "could not kill a daemon during the run"
mc_expect_rc 1 "a run whose daemon was killed"
mc_assert_eq "$(cat "$T/want")" "$(verdicts "$MC_OUT")" "events with a daemon killed"
echo "ok: a daemon killed during the run lost no verdict"

# Only the dead one: a clear error, nothing clean.
mc_run --quarantine "$MC_Q" --progress never --clamd "127.0.0.1:$port1" mailbox find -s "$md"
mc_expect_rc 2 "a dead daemon"
grep -q "no clamd answers (127.0.0.1:$port1: connect: Connection refused)" "$MC_ERR" || {
	mc_show >&2
	mc_fail "no clear error for a dead daemon"
}
mc_run --quarantine "$MC_Q" --progress never --clamd "$T/nothing/clamd.sock" mailbox find -s "$md"
mc_expect_rc 2 "a socket that is not there"
grep -q "no clamd answers ($T/nothing/clamd.sock" "$MC_ERR" || mc_fail "no clear error"

# A user's symlink to the socket is not followed.
mkdir "$T/user"
ln -s "$sock" "$T/user/clamd.sock"
chown -h nobody "$T/user/clamd.sock"
mc_run --quarantine "$MC_Q" --progress never --clamd "$T/user/clamd.sock" mailbox find -s "$md"
mc_expect_rc 2 "a user's symlink to the socket"
grep -q "symbolic link" "$MC_ERR" || { mc_show >&2; mc_fail "the symlink is not named"; }
echo "ok: dead daemons and a user's symlink are clear errors"

# Limits: a stream over StreamMaxLength, a file over MaxFileSize.
lim=$T/Limits
mc_maildir "$lim"
head -c 300000 /dev/urandom >"$T/big.bin"
head -c 60000 /dev/urandom >"$T/mid.bin"
mc_msg_attach "$T/big.bin" -s big | mc_maildir_put "$lim" cur >/dev/null
mc_msg_attach "$T/mid.bin" -s mid | mc_maildir_put "$lim" cur >/dev/null
mc_msg_attach "$T/eicar.com" -s eicar | mc_maildir_put "$lim" cur >/dev/null
mc_run --quarantine "$MC_Q" --progress never --json --clamd "$T/small.sock" mailbox find -s "$lim"
mc_expect_rc 2 "a daemon with small limits"
mc_assert_eq "match 1
unscanned 2" "$(verdicts "$MC_OUT" | cut -d' ' -f2 | sort | uniq -c | awk '{print $2, $1}')" \
	"events with small limits"
why=$(mc_events "$MC_OUT" unscanned why)
grep -q 'limit reached (clamd: INSTREAM size limit exceeded' <<<"$why" ||
	{ mc_show >&2; mc_fail "the stream limit is not named"; }
grep -q 'limit reached (Heuristics.Limits.Exceeded.MaxFileSize)' <<<"$why" ||
	{ mc_show >&2; mc_fail "the file size limit is not named"; }
echo "ok: clamd's limits give unscanned"
