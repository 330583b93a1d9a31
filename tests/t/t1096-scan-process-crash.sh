#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
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

eicar=$T/eicar.com
mc_eicar >"$eicar"
"$MC_PYTHON" - "$eicar" "$T/parcel.zip" <<'EOF'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[2], "w") as z:
    z.write(sys.argv[1], "eicar.com")
    z.writestr("filler.bin", os.urandom(200_000))
EOF
md=$T/Maildir
mc_attach_store "$md" 80 8 "$T/parcel.zip"

mc_cure -j 2 --json mailbox find -s "$md"
mc_expect_rc 1 "an undisturbed run"
cp "$MC_OUT" "$T/want.json"

mc_run_bg -d "$MC_SIGS" --quarantine "$MC_Q" --progress never \
	-j 2 --json mailbox find -s "$md"
mc_crash_scanners
mc_check_crashed_run "$T/want.json" 80
echo "ok: every message accounted for, no process or file left"
