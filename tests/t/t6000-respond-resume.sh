#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t6000-respond-resume - respond on file stores: plan, gate, kill -9 and resume, report
# DESCRIPTION
#	A server made of file stores (two Maildirs with subfolders, one
#	mbox, a directory of host files) with infected messages and files.
#	The network and queue steps are skipped (--skip): their own tests
#	run them against a real Postfix and nftables; here the journal,
#	the safety gate, resumption and the report are pinned.
#
#	- --dry-run changes nothing (stores, quarantine, state).
#	- An uninterrupted run ends with exactly the infected messages
#	  and files in the quarantine, and a finished journal.
#	- The safety gate stops a run that would remove more than
#	  --max-delete messages when it cannot ask (no terminal), removes
#	  nothing, and --resume --yes goes on.
#	- kill -9 of the whole process group after each step boundary
#	  and in the middle of mailbox-clean, then --resume: the final
#	  store and quarantine equal those of the uninterrupted run, and
#	  every original message is in the store or in the quarantine,
#	  byte-identical.
#	- The HTML report renders in headless Chromium (screenshot) and
#	  shows the run's counts.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3 setsid
mc_need_root
mc_need_testfiles
mc_setup

tf=$MC_TESTFILES
skips=(--skip isolate --skip reconnect --skip queue-freeze --skip queue-delete --skip queue-thaw)

# build_server DIR: the server, built once; make_server copies it so
# that every scenario starts from byte-identical stores.
build_server() {
	local d=$1 i
	rm -rf "$d"
	mc_maildir "$d/home/alice/Maildir"
	mc_maildir "$d/home/alice/Maildir/.Sent"
	mc_maildir "$d/home/bob/Maildir"
	mkdir -p "$d/var/mail" "$d/files"
	for i in $(seq 1 40); do
		mc_msg_plain -s "alice note $i" -i "<a$i@t6000>" | mc_maildir_put "$d/home/alice/Maildir" cur S >/dev/null
		mc_msg_plain -s "bob note $i" -i "<b$i@t6000>" | mc_maildir_put "$d/home/bob/Maildir" new >/dev/null
	done
	for i in $(seq 1 12); do
		mc_msg_attach "$tf/clam.exe" -s "alice invoice $i" -i "<ai$i@t6000>" | mc_maildir_put "$d/home/alice/Maildir" new >/dev/null
		mc_msg_eicar -s "bob eicar $i" -i "<be$i@t6000>" | mc_maildir_put "$d/home/bob/Maildir" cur RS >/dev/null
	done
	mc_msg_attach "$tf/clam.zip" -s "sent zip" -i "<sz@t6000>" | mc_maildir_put "$d/home/alice/Maildir/.Sent" cur S >/dev/null
	for i in $(seq 1 10); do
		mc_msg_plain -s "carol $i" -i "<c$i@t6000>" >"$T/m"
		mc_mbox_put "$d/var/mail/carol" "s$i@example.com" <"$T/m" >/dev/null
		if [ $((i % 3)) = 0 ]; then
			mc_msg_attach "$tf/clam.7z" -s "carol bad $i" -i "<cb$i@t6000>" >"$T/m"
			mc_mbox_put "$d/var/mail/carol" "bad$i@example.com" <"$T/m" >/dev/null
		fi
	done
	cp "$tf/clam.pdf" "$d/files/report.pdf"
	echo "harmless" >"$d/files/readme.txt"
	chown -R 1001:1001 "$d/home/alice"
	chown -R 1002:1002 "$d/home/bob"
}
build_server "$T/master"
make_server() {
	rm -rf "$1"
	cp -a "$T/master" "$1"
}

# all_messages DIR: sha256 of every message (store) — for "nothing lost".
store_state() { sha_multiset "$1/home"; sha_multiset "$1/var/mail"; }

# quarantine_shas Q: sorted sha256 of every quarantined message, taken
# as sha_multiset takes them (an mbox message without its trailing
# newlines).
quarantine_shas() {
	python3 - "$1" <<'PY'
import hashlib, json, os, sys
root = os.path.join(sys.argv[1], "entries")
out = []
for e in (os.listdir(root) if os.path.isdir(root) else []):
    d = os.path.join(root, e)
    data = open(os.path.join(d, "message"), "rb").read()
    kind = json.load(open(os.path.join(d, "meta.json"))).get("loc", {}).get("kind")
    if kind == "mbox":
        data = data.rstrip(b"\n")
    out.append(hashlib.sha256(data).hexdigest())
print("\n".join(sorted(out)))
PY
}

respond() {
	# $1: server dir, $2: quarantine, $3: state dir, rest: extra args
	local d=$1 q=$2 st=$3
	shift 3
	"$MAILCURE" -d "$MC_SIGS" --quarantine "$q" --state-dir "$st" -j 1 respond \
		"${skips[@]}" -s "$d/home" -s "$d/var/mail" --host-path "$d/files" --clean-host "$@"
}

# --- the plan: --dry-run changes nothing ---
make_server "$T/dry"
before=$(mc_snapshot "$T/dry")
"$MAILCURE" -d "$MC_SIGS" --quarantine "$T/dry-q" --state-dir "$T/dry-st" --dry-run respond \
	"${skips[@]}" -s "$T/dry/home" -s "$T/dry/var/mail" --host-path "$T/dry/files" --clean-host \
	>"$T/dry.out" 2>&1 || true
grep -q "would run" "$T/dry.out" || { cat "$T/dry.out"; mc_fail "dry run printed no plan"; }
grep -q "would quarantine" "$T/dry.out" || { cat "$T/dry.out"; mc_fail "dry run showed no action"; }
[ "$(mc_snapshot "$T/dry")" = "$before" ] || mc_fail "--dry-run changed the stores"
[ ! -e "$T/dry-q" ] || [ -z "$(find "$T/dry-q" -type f)" ] || mc_fail "--dry-run wrote to the quarantine"
[ ! -e "$T/dry-st/runs" ] || mc_fail "--dry-run started a journal"

# --- the reference: an uninterrupted run ---
make_server "$T/ref"
orig_all=$(store_state "$T/ref" | awk '{print $NF}' | sort)
set +e
respond "$T/ref" "$T/ref-q" "$T/ref-st" --yes >"$T/ref.out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$T/ref.out"; mc_fail "respond: exit $rc, expected 1"; }
ref_store=$(store_state "$T/ref")
ref_q=$(quarantine_shas "$T/ref-q")
nq=$(echo "$ref_q" | grep -c .)
# 12 + 12 + 1 infected Maildir messages, 3 in the mbox, 1 host file.
[ "$nq" = 29 ] || { cat "$T/ref.out"; mc_fail "quarantined $nq items, expected 29"; }
run=$(ls "$T/ref-st/runs")
grep -q '"step":"run","state":"finished"' "$T/ref-st/runs/$run/journal.jsonl" ||
	mc_fail "journal does not say finished"
[ -s "$T/ref-st/runs/$run/report.html" ] || mc_fail "no HTML report"
grep -q 'id=quarantined>29<' "$T/ref-st/runs/$run/report.html" || mc_fail "report does not show 29 quarantined"
# Nothing lost: every original message is in the store or the quarantine.
after_all=$( { store_state "$T/ref" | awk '{print $NF}'; quarantine_shas "$T/ref-q"; } | sort)
[ "$(comm -23 <(echo "$orig_all") <(echo "$after_all"))" = "" ] || mc_fail "a message was lost"

"$MAILCURE" --quarantine "$T/ref-q" --state-dir "$T/ref-st" report "$run" >"$T/report.txt"
grep -q "Quarantined: 29" "$T/report.txt" || { cat "$T/report.txt"; mc_fail "text report counts"; }
"$MAILCURE" --quarantine "$T/ref-q" --state-dir "$T/ref-st" --json report "$run" >"$T/report.json"
python3 - "$T/report.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["quarantined"] == 29, r["quarantined"]
assert r["per_reason"].get("virus ClamAV-Test-File.UNOFFICIAL") == 17, r["per_reason"]
assert r["per_reason"].get("virus Eicar-Test-Signature.UNOFFICIAL") == 12, r["per_reason"]
steps = [t["step"] for t in r["timeline"]]
assert "mailbox-clean" in steps and "host-scan" in steps, steps
EOF

# --- the safety gate ---
make_server "$T/gate"
gate_before=$(mc_snapshot "$T/gate")
set +e
respond "$T/gate" "$T/gate-q" "$T/gate-st" --max-delete 5 >"$T/gate.out" 2>&1 </dev/null
rc=$?
set -e
[ "$rc" = 2 ] || { cat "$T/gate.out"; mc_fail "gate: exit $rc, expected 2"; }
grep -q "Safety gate: 28 messages would be removed" "$T/gate.out" || { cat "$T/gate.out"; mc_fail "gate did not show the count"; }
grep -q "alice / INBOX" "$T/gate.out" || mc_fail "gate did not show counts per mailbox"
[ "$(mc_snapshot "$T/gate")" = "$gate_before" ] || mc_fail "the gate let something be removed"
"$MAILCURE" -d "$MC_SIGS" --quarantine "$T/gate-q" --state-dir "$T/gate-st" respond --resume --yes >"$T/gate2.out" 2>&1 || true
[ "$(store_state "$T/gate")" = "$ref_store" ] || { diff <(echo "$ref_store") <(store_state "$T/gate") | head;  mc_fail "after the gate and --yes: store differs from the reference"; }
[ "$(quarantine_shas "$T/gate-q")" = "$ref_q" ] || mc_fail "after the gate: quarantine differs"

# --- kill -9, then resume ---
# kill_after N: kill the process group once the journal holds N
# "done"/"skipped" step records ("mid" = once mailbox-clean has put
# a first message in the quarantine).
kill_test() {
	local label=$1 when=$2 d=$T/k-$1 q=$T/k-$1-q st=$T/k-$1-st pid n i group
	make_server "$d"
	# For the kill in the middle: the whole step takes a fraction of
	# a second, less than a shell loop polling with find needs to see
	# its first entry, or than python needs to start. So the run
	# stops itself before it execs mailcure (at the lowest priority);
	# a poller that is already running continues it and stops the
	# group as soon as the first entry exists.
	if [ "$when" = mid ]; then
		set -- sh -c 'kill -STOP $$; exec nice -n 19 "$@"' sh
	else
		set --
	fi
	setsid "$@" "$MAILCURE" -d "$MC_SIGS" --quarantine "$q" --state-dir "$st" -j 1 respond \
		"${skips[@]}" -s "$d/home" -s "$d/var/mail" --host-path "$d/files" --clean-host --yes \
		>"$T/k-$label.out" 2>&1 &
	pid=$!
	if [ "$when" = mid ]; then
		python3 - "$q/entries" "$pid" <<'PY'
import os, signal, sys, time
root, pgid = sys.argv[1], int(sys.argv[2])
try:
    os.nice(-10)
except OSError:
    pass
def state():
    try:
        with open("/proc/%d/stat" % pgid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"
end = time.monotonic() + 60
while state() not in ("T", "gone") and time.monotonic() < end:
    time.sleep(0.001)
os.killpg(pgid, signal.SIGCONT)
while time.monotonic() < end:
    try:
        if os.listdir(root):
            break
    except FileNotFoundError:
        pass
    if state() in ("Z", "gone"):
        break
    time.sleep(0.001)
try:
    os.killpg(pgid, signal.SIGSTOP)
except ProcessLookupError:
    pass
PY
	fi
	for i in $(seq 1 600); do
		if [ "$when" = mid ]; then
			break
		else
			n=$(cat "$st"/runs/*/journal.jsonl 2>/dev/null | grep -v '"step":"run"' | grep -v '"step":"gate"' |
				grep -c '"state":"\(done\|skipped\)"' || true)
			[ "$n" -ge "$when" ] && break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	# Stopped at once: finding the group's processes below reads all
	# of /proc, long enough on a loaded machine for the step to end.
	kill -STOP -- "-$pid" 2>/dev/null || true
	# The group's processes (respond runs each step as a child): a
	# kill leaves their unpack directories, which later scans sweep
	# only once they are ten minutes old (t1095).
	group=$(sed -n "s/^\([0-9]*\) .*) . [0-9]* $pid .*/\1/p" /proc/[0-9]*/stat 2>/dev/null || true)
	kill -9 -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	for i in $group; do rm -rf /dev/shm/mailcure-"$i"-*; done
	if [ "$when" = mid ]; then
		n=$( (find "$q/entries" -mindepth 1 -maxdepth 1 2>/dev/null || true) | wc -l)
		[ "$n" -ge 1 ] && [ "$n" -lt 28 ] ||
			mc_fail "the kill was not in the middle of mailbox-clean ($n quarantined)"
	fi
	"$MAILCURE" -d "$MC_SIGS" --quarantine "$q" --state-dir "$st" -j 1 respond --resume --yes \
		>"$T/k-$label.resume" 2>&1 || true
	if [ "$(store_state "$d")" != "$ref_store" ]; then
		cat "$T/k-$label.out" "$T/k-$label.resume"
		diff <(echo "$ref_store") <(store_state "$d") || true
		mc_fail "kill at $label, resume: store differs from the uninterrupted run"
	fi
	if [ "$(quarantine_shas "$q")" != "$ref_q" ]; then
		cat "$T/k-$label.out" "$T/k-$label.resume"
		mc_fail "kill at $label, resume: quarantine differs from the uninterrupted run"
	fi
	grep -q '"step":"run","state":"finished"' "$st"/runs/*/journal.jsonl ||
		{ cat "$T/k-$label.resume"; mc_fail "kill at $label: resumed run did not finish"; }
	# The mbox must hold whole messages: no torn rewrite.
	"$MAILCURE" -d "$MC_SIGS" --quarantine "$q" --progress never mailbox find -s "$d/var/mail" all >"$T/k-$label.find" 2>&1 || true
	if grep -q "ERROR" "$T/k-$label.find"; then
		cat "$T/k-$label.find"
		mc_fail "kill at $label: the mbox is damaged"
	fi
}

# Steps 1-5 of the seven are skipped ones and the three that act;
# boundaries after each of them, and in the middle of mailbox-clean.
for b in 1 3 4 5 6 7; do kill_test "b$b" "$b"; done
kill_test mid mid

# --- the report in a real browser ---
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$browser" ]; then
	html=$T/ref-st/runs/$run/report.html
	"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$T/chrome" --window-size=1200,900 \
		--screenshot="$T/report.png" "file://$html" >/dev/null 2>&1 || true
	[ -s "$T/report.png" ] || mc_fail "headless Chromium made no screenshot of the report"
	head -c 8 "$T/report.png" | od -An -c | grep -q 'P   N   G' || mc_fail "screenshot is not a PNG"
	"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$T/chrome" --dump-dom "file://$html" 2>/dev/null >"$T/dom.html" || true
	grep -q 'id="quarantined">29<' "$T/dom.html" || mc_fail "rendered report does not show 29 quarantined"
	[ -n "${MC_KEEP_SCREENSHOT:-}" ] && cp "$T/report.png" "$MC_KEEP_SCREENSHOT"
else
	mc_log "no chromium: report rendering not checked"
fi
echo "ok: respond dry run, gate, seven kills with resume, report"
