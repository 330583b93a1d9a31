#!/usr/bin/env bash
# NAME
#	t1096-scan-process-crash - a scan process that dies costs the
#	scan it was doing, and nothing else
# DESCRIPTION
#	libclamav runs in scan processes of their own, children of a
#	zygote that the run forks at start. While a run scans a store,
#	its scan processes are killed with SIGSEGV again and again, as a
#	crash inside libclamav would end them. The run must finish and
#	account for every message: each one either gets the verdict an
#	undisturbed run gives it, or is an error that names the crash;
#	nothing else matches; the exit status is 2 when there were
#	errors. When the run ends, its zygote and scan processes are
#	gone, and so is what the dead ones were unpacking.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need_root
mc_need python3 pgrep
mc_setup

md=$T/Maildir
mc_maildir "$md"
"$MC_PYTHON" - "$md" <<'EOF'
import base64, io, os, random, sys, zipfile

md = sys.argv[1]
rng = random.Random(1096)
eicar = bytes.fromhex(
    "58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d"
    "5354414e444152442d414e544956495255532d544553542d46494c452124482b482a")
for i in range(80):
    data = rng.randbytes(1_500_000)
    name = "data.bin"
    if i % 8 == 0:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            z.writestr("eicar.com", eicar)
            z.writestr("filler.bin", data[:200_000])
        data, name = out.getvalue(), "parcel.zip"
    msg = ("Return-Path: <a@example.com>\nFrom: a@example.com\nTo: b@example.org\n"
           "Subject: message %d\nMessage-ID: <t1096-%d@mailcure.test>\nMIME-Version: 1.0\n"
           'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\n'
           "Attached.\n--b\nContent-Type: application/octet-stream; name=\"%s\"\n"
           "Content-Transfer-Encoding: base64\n\n%s--b--\n"
           % (i, i, name, base64.encodebytes(data).decode()))
    with open(os.path.join(md, "cur", "t1096-%02d:2," % i), "w") as f:
        f.write(msg)
EOF

mc_cure -j 2 --json mailbox find -s "$md"
mc_expect_rc 1 "an undisturbed run"
cp "$MC_OUT" "$T/want.json"

mc_run_bg -d "$MC_SIGS" --quarantine "$MC_Q" --progress never \
	-j 2 --json mailbox find -s "$md"
seen=()
killed=0
busy=0
while kill -0 "$MC_PID" 2>/dev/null; do
	for z in $(pgrep -P "$MC_PID" -x mailcure-zygote || true); do
		seen+=("$z")
		for s in $(pgrep -P "$z" -x mailcure-scan || true); do
			seen+=("$s")
			state=$(sed 's/.*) //' "/proc/$s/stat" 2>/dev/null | cut -c1 || true)
			if kill -SEGV "$s" 2>/dev/null; then
				killed=$((killed + 1))
				[ "$state" != R ] || busy=$((busy + 1))
			fi
		done
	done
	sleep 0.1
done
mc_wait_bg
mc_log "scan processes killed: $killed, $busy of them while running"
[ "$killed" -gt 0 ] || mc_skip "the run ended before a scan process could be killed"

"$MC_PYTHON" - "$T/want.json" "$MC_OUT" "$MC_RC" <<'EOF'
import json, sys

def events(path):
    evs = [json.loads(l) for l in open(path) if l.startswith("{")]
    return [e for e in evs if e["event"] != "summary"], \
        [e for e in evs if e["event"] == "summary"][-1]

want, _ = events(sys.argv[1])
got, summary = events(sys.argv[2])
rc = int(sys.argv[3])
want_match = {e["path"]: e["reasons"] for e in want if e["event"] == "match"}
errors = {e["path"]: e["why"] for e in got if e["event"] == "error"}
got_match = {e["path"]: e["reasons"] for e in got if e["event"] == "match"}
bad = []
for path, why in errors.items():
    if "engine crashed" not in why:
        bad.append("%s: error that is not the crash: %s" % (path, why))
for path, reasons in got_match.items():
    if want_match.get(path) != reasons:
        bad.append("%s: matched %s, undisturbed %s" % (path, reasons, want_match.get(path)))
for path in want_match:
    if path not in got_match and path not in errors:
        bad.append("%s: matched undisturbed, now neither matched nor an error" % path)
other = [e for e in got if e["event"] not in ("match", "error")]
if other:
    bad.append("unexpected events: %s" % other)
if summary["scanned"] + summary["errors"] != 80:
    bad.append("summary accounts for %d + %d messages of 80" % (summary["scanned"], summary["errors"]))
if summary["errors"] != len(errors):
    bad.append("summary errors %d, error events %d" % (summary["errors"], len(errors)))
if rc != (2 if errors else 1):
    bad.append("exit status %d with %d errors" % (rc, len(errors)))
if bad:
    sys.exit("\n".join(bad))
print("# %d messages: %d matched, %d errors from crashes" % (80, len(got_match), len(errors)))
EOF

for p in "${seen[@]}"; do
	if kill -0 "$p" 2>/dev/null && grep -qs mailcure "/proc/$p/comm"; then
		mc_fail "process $p ($(cat "/proc/$p/comm")) outlived the run"
	fi
done
# The dead scan processes' unpacked files went with the run's
# temporary directory.
left=$(ls -d "/dev/shm/mailcure-$MC_PID-"* 2>/dev/null || true)
[ -z "$left" ] || mc_fail "the run left its directory behind: $left $(ls -A $left | head -3)"
echo "ok: every message accounted for, no process or file left"
