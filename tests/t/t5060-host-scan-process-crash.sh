#!/usr/bin/env bash
# NAME
#	t5060-host-scan-process-crash - a scan process that dies during a
#	host scan costs the file it was scanning, and nothing else
# DESCRIPTION
#	A host scan hands each open file to a scan process. While one
#	scans a tree, its scan processes are killed with SIGSEGV again
#	and again, as a crash inside libclamav on a hostile file would
#	end them. The run must finish and account for every file: each
#	one either gets the verdict an undisturbed run gives it, or is an
#	error that names the crash; nothing else matches; the exit status
#	is 2 when there were errors. No file is changed, and when the run
#	ends its zygote and scan processes are gone.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need_root
mc_need python3 pgrep
mc_setup

tree=$T/tree
mkdir -p "$tree"
"$MC_PYTHON" - "$tree" /usr/share/clamav-testfiles/clam.zip <<'EOF'
import os, random, sys, zipfile

tree, sample = sys.argv[1], open(sys.argv[2], "rb").read()
rng = random.Random(5060)
for i in range(80):
    sub = os.path.join(tree, "d%d" % (i % 4))
    os.makedirs(sub, exist_ok=True)
    if i % 8 == 0:
        # An archive that holds the test file among other members:
        # libclamav unpacks it, as it would an attachment.
        with zipfile.ZipFile(os.path.join(sub, "f%02d.zip" % i), "w") as z:
            z.writestr("clam.zip", sample)
            z.writestr("filler.bin", rng.randbytes(300_000))
    else:
        with open(os.path.join(sub, "f%02d.bin" % i), "wb") as f:
            f.write(rng.randbytes(1_500_000))
EOF
before=$(cd "$tree" && find . -type f -exec sha256sum {} + | sort)

mc_cure -j 2 --json host scan "$tree"
mc_expect_rc 1 "an undisturbed run"
cp "$MC_OUT" "$T/want.json"

mc_run_bg -d "$MC_SIGS" --quarantine "$MC_Q" --progress never \
	-j 2 --json host scan "$tree"
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
	sleep 0.05
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
if len(want_match) != 10:
    sys.exit("the undisturbed run matched %d files, not the 10 archives" % len(want_match))
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
    bad.append("summary accounts for %d + %d files of 80" % (summary["scanned"], summary["errors"]))
if summary["errors"] != len(errors):
    bad.append("summary errors %d, error events %d" % (summary["errors"], len(errors)))
if rc != (2 if errors else 1):
    bad.append("exit status %d with %d errors" % (rc, len(errors)))
if bad:
    sys.exit("\n".join(bad))
print("# %d files: %d matched, %d errors from crashes" % (80, len(got_match), len(errors)))
EOF

after=$(cd "$tree" && find . -type f -exec sha256sum {} + | sort)
[ "$before" = "$after" ] || mc_fail "the scan changed the tree"
for p in "${seen[@]}"; do
	if kill -0 "$p" 2>/dev/null && grep -qs mailcure "/proc/$p/comm"; then
		mc_fail "process $p ($(cat "/proc/$p/comm")) outlived the run"
	fi
done
left=$(ls -d "/dev/shm/mailcure-$MC_PID-"* 2>/dev/null || true)
[ -z "$left" ] || mc_fail "the run left its directory behind: $left"
echo "ok: every file accounted for, no process or file left"
