#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1040-maildir-links-not-followed - planted symlinks and hard links are never followed
# DESCRIPTION
#	A user controls his Maildir, so he can plant there a symlink or
#	a hard link to a file outside it (an infected one, so that a
#	tool that follows it would quarantine and remove it), a symlink
#	in place of a Maildir++ folder, or in place of cur/. Running as
#	root, "mailbox clean" must never follow, read or modify any of
#	them: the outside files keep content, inode, link count and
#	ctime, nothing of them reaches the quarantine, the planted links
#	stay, the symlinked and hard-linked messages are reported as
#	errors (exit 2), and the real infected message is still cleaned.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3 base64
mc_need_root
mc_setup

s=$T/srv
out=$T/outside
md=$s/home/ivan/Maildir
judy=$s/home/judy/Maildir
mkdir -p "$out"
mc_maildir "$md"

mc_msg_eicar -s "outside-sym" >"$out/sym-target.eml"
mc_msg_eicar -s "outside-hard" >"$out/hard-target.eml"
mc_maildir "$out/evil-folder"
mc_msg_eicar -s "outside-folder" | mc_maildir_put "$out/evil-folder" cur S >/dev/null
mkdir -p "$out/evil-cur"
mc_msg_eicar -s "outside-cur" >"$out/evil-cur/1700000999.M1P1.host:2,S"

mc_msg_plain -s "ivan clean" | mc_maildir_put "$md" cur S >/dev/null
mc_msg_eicar -s "ivan infected" | mc_maildir_put "$md" new >/dev/null
sym=$md/cur/1700000100.M100P1.host:2,S
hard=$md/new/1700000101.M101P1.host
ln -s "$out/sym-target.eml" "$sym"
ln "$out/hard-target.eml" "$hard"
ln -s "$out/evil-folder" "$md/.Evil"
mkdir -p "$judy/new" "$judy/tmp"
ln -s "$out/evil-cur" "$judy/cur"
mc_msg_eicar -s "judy infected" | mc_maildir_put "$judy" new >/dev/null
chown -R 1005:1005 "$s/home/ivan" "$s/home/judy"
chown -h 1005:1005 "$sym" "$md/.Evil" "$judy/cur"

outside_state() {
	mc_snapshot "$out"
	find "$out" -type f -exec stat -c '%n %i %h %Z' {} + | sort
}
before=$(outside_state)

mc_cure --json mailbox clean -s "maildir:$md"
mc_expect_rc 2 "mailbox clean over planted links"
cp "$MC_OUT" "$T/ivan.json"

mc_assert_eq "$before" "$(outside_state)" "files outside the store"
[ -L "$sym" ] || mc_fail "the planted symlink $sym was removed"
[ -f "$hard" ] || mc_fail "the planted hard link $hard was removed"
[ -L "$md/.Evil" ] || mc_fail "the symlinked folder $md/.Evil was removed"

matched=$(mc_events "$T/ivan.json" match subject action)
mc_assert_eq "ivan infected	quarantined" "$matched" "messages matched and acted on"

problems=$(mc_json "$T/ivan.json" '
for e in events:
    if e.get("event") in ("error", "unscanned"):
        print(e.get("path", "?"), "|", e.get("why", ""))')
mc_log "reported problems:"
echo "$problems" | sed 's/^/#   /'
for p in "$sym" "$hard"; do
	line=$(echo "$problems" | grep -F "$(basename "$p") |" || true)
	[ -n "$line" ] || { mc_show; mc_fail "$p is not reported as an error"; }
	why=${line#*| }
	[ -n "$why" ] || mc_fail "no reason given for $p"
done

# judy's cur/ is a symlink: never followed. Whether the rest of her
# Maildir is cleaned or the store is refused, it is an error.
mc_cure --json mailbox clean -s "maildir:$judy"
mc_expect_rc 2 "mailbox clean of a Maildir whose cur/ is a symlink"
mc_assert_eq "$before" "$(outside_state)" "files outside the store"
[ -L "$judy/cur" ] || mc_fail "the symlinked $judy/cur was removed"
if mc_events "$MC_OUT" match subject | grep -q outside; then
	mc_fail "a message behind the symlinked cur/ was matched"
fi

leak=$(grep -rlE 'outside-(sym|hard|folder|cur)' "$MC_Q" 2>/dev/null || true)
[ -z "$leak" ] || mc_fail "outside files reached the quarantine: $leak"
