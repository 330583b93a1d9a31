#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1520-private-files - files that hold mail data are 0600 whatever the umask
# DESCRIPTION
#	Under umask 000 and under umask 022: a clean (quarantine), a
#	respond run on file stores (journal, saved plan, step events and
#	logs, the run's HTML report), "report --html FILE" (new, and over
#	an existing 0644 file) and a --cache file. Every file mailcure
#	wrote is mode 0600 and every directory 0700: none is readable by
#	group or others, as they name users and quote their mail.
#	"report --html FILE" where FILE is a symbolic link is refused
#	(exit 2) and neither the link nor its target changes.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3
mc_setup

md=$T/Maildir
mc_maildir "$md"
mc_msg_eicar -s "private subject" | mc_maildir_put "$md" new >/dev/null
mc_msg_plain -s "clean" | mc_maildir_put "$md" new >/dev/null
cp -a "$md" "$T/master"

# private DIR...: every file 0600 and every directory 0700 below DIR.
private() {
	local bad
	bad=$(find "$@" \( \( -type f ! -perm 0600 \) -o \( -type d ! -perm 0700 \) \) -printf '%m %p\n')
	[ -z "$bad" ] || mc_fail "umask $mask: not private: $bad"
}

for mask in 000 022; do
	umask "$mask"
	rm -rf "$md" "$T/q" "$T/st" "$T/out" && cp -a "$T/master" "$md"
	mkdir "$T/out"
	chmod 0755 "$T/out"

	mc_run -d "$MC_SIGS" --quarantine "$T/q" --state-dir "$T/st" --progress never \
		-j 1 respond --skip isolate --skip reconnect \
		--skip queue-freeze --skip queue-delete --skip queue-thaw \
		--host-path "$T/master/cur" -s "maildir:$md" --yes
	mc_expect_rc 1 "respond (umask $mask)"
	run=$(ls "$T/st/runs")
	[ -s "$T/st/runs/$run/params.json" ] || mc_fail "no params.json"
	[ -s "$T/st/runs/$run/report.html" ] || mc_fail "no report.html"
	private "$T/q" "$T/st"

	mc_cure --cache "$T/out/verdicts.cache" mailbox find -s "maildir:$T/master"
	mc_expect_rc 1 "mailbox find --cache (umask $mask)"

	# A new page, and one over an existing file that anybody could read.
	mc_cure --state-dir "$T/st" report "$run" --html "$T/out/new.html"
	mc_expect_rc 0 "report --html new (umask $mask)"
	echo old >"$T/out/old.html"
	chmod 0644 "$T/out/old.html"
	mc_cure --state-dir "$T/st" report "$run" --html "$T/out/old.html"
	mc_expect_rc 0 "report --html over a file (umask $mask)"
	grep -q "private subject" "$T/out/old.html" || mc_fail "the old page was not replaced"
	[ -s "$T/out/verdicts.cache" ] || mc_fail "no verdict cache written"
	private "$T/out"/*

	# A link where the page goes: refused, nothing written.
	echo target >"$T/target"
	chmod 0644 "$T/target"
	ln -s "$T/target" "$T/out/link.html"
	mc_cure --state-dir "$T/st" report "$run" --html "$T/out/link.html"
	mc_expect_rc 2 "report --html LINK (umask $mask)"
	grep -q "symbolic link" "$MC_ERR" || { mc_show; mc_fail "no reason given for the link"; }
	[ -L "$T/out/link.html" ] || mc_fail "the link was replaced"
	[ "$(cat "$T/target")" = target ] && [ "$(stat -c %a "$T/target")" = 644 ] ||
		mc_fail "the link's target changed"
	[ -z "$(find "$T/out" -name 'link.html.*')" ] || mc_fail "a temporary file was left"
	rm -f "$T/out/link.html" "$T/target"
done
umask 022
echo "ok: files with mail data are 0600 under umask 000 and 022"
