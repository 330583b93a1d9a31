#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1400-demo - mailcure demo builds, cleans and reports a sample server
# DESCRIPTION
#	"mailcure demo" must create its sample server in a temporary
#	directory under $TMPDIR, clean it, report per signature and per
#	user with the commands to inspect and restore, exit 0, and remove
#	the directory. With --dir the server is kept, its quarantine can
#	be listed and the run restored, after which the infected messages
#	are found again. --create-only with the same seed gives the same
#	messages. A non-empty --dir is refused. The real quarantine in
#	/var/lib/mailcure is never touched.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3
mc_need_testfiles
mc_setup

real_q() { ls -la --time-style=full-iso /var/lib/mailcure/quarantine 2>&1 || true; }
real_before=$(real_q)
mkdir "$T/tmp"

# 1. The plain demo, in a private TMPDIR.
MC_LAST="TMPDIR=$T/tmp mailcure demo"
set +e
TMPDIR=$T/tmp "$MAILCURE" --progress never demo >"$MC_OUT" 2>"$MC_ERR" </dev/null
MC_RC=$?
set -e
mc_expect_rc 0 "mailcure demo"
for want in "Created a sample mail server" "Invoice overdue" "by signature" \
	    "ClamAV-Test-File.UNOFFICIAL" "Eicar-Test-Signature.UNOFFICIAL" "by user" \
	    "quarantine list" "quarantine restore --run " "nothing left"; do
	grep -qF -- "$want" "$MC_OUT" || { mc_show; mc_fail "demo output lacks '$want'"; }
done
left=$(find "$T/tmp" -mindepth 1 -maxdepth 1)
[ -z "$left" ] || mc_fail "demo left behind: $left"

# 2. Kept in --dir: inspect, restore, find again.
d=$T/demo
mc_run --progress never demo --dir "$d"
mc_expect_rc 0 "mailcure demo --dir"
cp "$MC_OUT" "$T/demo.out"
[ -d "$d/home" ] && [ -d "$d/var/mail" ] && [ -d "$d/quarantine" ] ||
	mc_fail "demo --dir did not keep the sample server in $d"
taken=$(sed -n 's/^ *\([0-9][0-9]*\) messages quarantined.*/\1/p' "$T/demo.out")
run=$(sed -n 's/.*quarantine restore --run \([^ ]*\)$/\1/p' "$T/demo.out" | head -n 1)
[ -n "$taken" ] && [ "$taken" -gt 8 ] || { mc_show; mc_fail "no count of quarantined messages"; }
[ -n "$run" ] && [ "$run" != RUN ] || { mc_show; mc_fail "no run id in the demo output"; }

mc_run --quarantine "$d/quarantine" quarantine list
mc_expect_rc 0 "quarantine list of the demo"
[ "$(grep -c "$run" "$MC_OUT")" -ge "$taken" ] || { mc_show; mc_fail "quarantine list does not show the run's $taken entries"; }

mc_run -d "$MC_SIGS" --json mailbox find -s "$d/home" -s "$d/var/mail"
mc_expect_rc 0 "mailbox find on the cleaned demo server"

mc_run --quarantine "$d/quarantine" quarantine restore --run "$run"
mc_expect_rc 0 "quarantine restore --run of the demo"
mc_run -d "$MC_SIGS" --json mailbox find -s "$d/home" -s "$d/var/mail"
mc_expect_rc 1 "mailbox find after the restore"
mc_assert_eq "$taken" "$(mc_summary "$MC_OUT" matched)" "infected messages found after the restore"

# 3. The generator is deterministic.
mc_run demo --create-only --dir "$T/c1" --seed 7 --messages 120 --users 5
mc_expect_rc 0 "demo --create-only"
mc_run demo --create-only --dir "$T/c2" --seed 7 --messages 120 --users 5
mc_expect_rc 0 "demo --create-only (again)"
a=$(sha_multiset "$T/c1")
mc_assert_eq "$a" "$(sha_multiset "$T/c2")" "two corpora from one seed"
mc_assert_eq 125 "$(echo "$a" | wc -l)" "messages in the corpus (120 and one outbreak copy per user)"
[ ! -e "$T/c1/quarantine" ] || mc_fail "--create-only made a quarantine"

# 4. A non-empty --dir is refused.
mc_run demo --dir "$T/c1"
mc_expect_rc 2 "demo --dir into a non-empty directory"

# 5. Only the binary of the build tree takes signatures from the source
# tree; a copy elsewhere (an installed one) looks only where it is
# installed, since the build path may be anyone's directory there.
if [ ! -e /usr/local/share/mailcure/sigs ] && [ ! -e /usr/share/mailcure/sigs ]; then
	mkdir "$T/elsewhere"
	cp "$MAILCURE" "$T/elsewhere/mailcure"
	MAILCURE=$T/elsewhere/mailcure mc_run demo --dir "$T/c3"
	mc_expect_rc 2 "demo of a binary outside the build tree, signatures not installed"
	grep -q "bundled test signatures are missing" "$MC_ERR" || mc_fail "the demo did not say why: $(cat "$MC_ERR")"
fi

mc_assert_eq "$real_before" "$(real_q)" "/var/lib/mailcure/quarantine"
