#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t3150-exim-delete-rewritten - delete tells a rewritten -H from a changed message
# DESCRIPTION
#	Between the scan of a queued message and its removal, Exim may
#	have rewritten its -H file: every delivery attempt that ends in
#	a deferral does (a queue run drops -deliver_firsttime). The
#	message is the same, and queue delete must still remove it; a
#	message whose content or recipients really changed must be left
#	alone, with the reason.
#
#	The engine is a stand-in clamd of the script's own (INSTREAM in
#	an IDSESSION): a buffer holding a marker is "infected", and
#	while it answers for the first such buffer it runs a command,
#	so that the change falls exactly between the scan and the
#	removal:
#
#	1. exim -M ID (a delivery attempt, deferred): -H rewritten; the
#	   message is removed, the quarantine holds the spool files as
#	   they were at the removal.
#	2. bytes appended to the -D file: refused, "its content changed",
#	   exit 2, the message stays queued.
#	3. exim -Mar ID (a recipient added): refused, "its recipients
#	   changed".

set -u
. "$(dirname "$0")/lib-exim.sh"

mc_setup
ex_need
ex_start -q

cat >"$T/fakeclamd.py" <<'PY'
import socketserver, subprocess, sys, threading
port_file, hook_file = sys.argv[1], sys.argv[2]
MARK = b"MAILCURE-FAKE-VIRUS"
lock = threading.Lock()

def run_hook():
    with lock:
        with open(hook_file) as f:
            cmd = f.read().strip()
        if cmd:
            open(hook_file, "w").close()
            subprocess.run(["sh", "-c", cmd], check=False)

def read_cmd(f):
    b = bytearray()
    while True:
        c = f.read(1)
        if not c:
            return None
        if c == b"\0":
            return bytes(b)
        b += c

class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        sid = 0
        while True:
            cmd = read_cmd(self.rfile)
            if cmd is None or cmd == b"zEND":
                return
            if cmd == b"zVERSIONCOMMANDS":
                self.wfile.write(b"ClamAV 1.0.0/1/Thu Jan  1 00:00:00 2026| COMMANDS: SCAN "
                                 b"QUIT PING VERSIONCOMMANDS VERSION END IDSESSION INSTREAM\0")
                return
            if cmd != b"zINSTREAM":
                continue
            data = bytearray()
            while True:
                n = int.from_bytes(self.rfile.read(4), "big")
                if n == 0:
                    break
                data += self.rfile.read(n)
            sid += 1
            if MARK in data:
                run_hook()
                self.wfile.write(b"%d: stream: Fake.Marker FOUND\0" % sid)
            else:
                self.wfile.write(b"%d: stream: OK\0" % sid)

class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

srv = Server(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
PY
: >"$T/hook"
python3 "$T/fakeclamd.py" "$T/clamd.port" "$T/hook" &
clamd_pid=$!
mc_at_exit "kill $clamd_pid"
for _ in $(seq 1 50); do [ -s "$T/clamd.port" ] && break; sleep 0.1; done
[ -s "$T/clamd.port" ] || mc_fail "the stand-in clamd did not start"
CLAMD=127.0.0.1:$(cat "$T/clamd.port")

mc_exd() {
	mc_cure --clamd "$CLAMD" --state-dir "$T/state" --json queue --mta exim \
		--exim-config "$EX_CONF" delete virus
}
# queue_one SUBJECT: queue a marked message for remote.test (deferred
# by every delivery attempt); its id in $id, its -H and -D in $h, $d.
queue_one() {
	ex_smtp "origin@sender.test" "someone@remote.test" "$1" \
		--body "MAILCURE-FAKE-VIRUS $1"
	id=$(ex_queue_subjects | awk -F'\t' -v s="$1" '$2 == s { print $1 }')
	[ -n "$id" ] || mc_fail "$1 is not queued"
	h=$(find "$EX_SPOOL/input" -name "$id-H")
	d=$(find "$EX_SPOOL/input" -name "$id-D")
}

# --- 1. -H rewritten by a delivery attempt: the same message ---
queue_one rewritten
cp "$h" "$T/h.before"
echo "'$EX_BIN' -C '$EX_CONF' -M $id >/dev/null 2>&1; cp '$h' '$T/h.after'" >"$T/hook"
mc_exd
mc_expect_rc 1 "queue delete of a message whose -H was rewritten"
[ -s "$T/h.after" ] || mc_fail "the hook did not run"
cmp -s "$T/h.before" "$T/h.after" && mc_fail "the delivery attempt did not rewrite -H"
mc_assert_eq 1 "$(mc_summary "$MC_OUT" acted)" "removed after a rewrite of -H"
mc_assert_eq 0 "$(ex_queue_count)" "queued after the removal"
qid=$(mc_events "$MC_OUT" match quarantine_id)
head -c "$(stat -c %s "$T/h.after")" "$MC_Q/entries/$qid/message" >"$T/h.quarantined"
mc_assert_file_eq "$T/h.after" "$T/h.quarantined" "-H in the quarantine"

# --- 2. the body changed: refused ---
queue_one body-changed
echo "printf 'appended\n' >>'$d'" >"$T/hook"
mc_exd
mc_expect_rc 2 "queue delete of a message whose body changed"
grep -q 'its content changed since it was scanned: not removed' "$MC_OUT" ||
	{ mc_show; mc_fail "no reason for the refusal"; }
mc_assert_eq 1 "$(ex_queue_count)" "queued after a refused removal"
ex_exim -Mrm "$id" >/dev/null

# --- 3. a recipient added: refused ---
queue_one rcpt-added
echo "'$EX_BIN' -C '$EX_CONF' -Mar $id other@remote.test" >"$T/hook"
mc_exd
mc_expect_rc 2 "queue delete of a message given another recipient"
grep -q 'its recipients changed since it was scanned: not removed' "$MC_OUT" ||
	{ mc_show; mc_fail "no reason for the refusal"; }
mc_assert_eq 1 "$(ex_queue_count)" "queued after a refused removal"
echo "ok: a rewritten -H is the same message, a changed one is left alone"
