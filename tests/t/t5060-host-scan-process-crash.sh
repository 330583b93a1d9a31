#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
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
mc_need_testfiles
mc_need python3 pgrep
mc_setup

tree=$T/tree
mkdir -p "$tree"
"$MC_PYTHON" - "$tree" "$MC_TESTFILES/clam.zip" <<'EOF'
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
mc_crash_scanners
if [ "$(grep -c '"event":"match"' "$T/want.json")" != 10 ]; then
	mc_fail "the undisturbed run did not match the 10 archives"
fi
mc_check_crashed_run "$T/want.json" 80
after=$(cd "$tree" && find . -type f -exec sha256sum {} + | sort)
[ "$before" = "$after" ] || mc_fail "the scan changed the tree"
echo "ok: every file accounted for, no process or file left"
