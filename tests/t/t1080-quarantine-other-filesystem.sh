#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1080-quarantine-other-filesystem - clean and restore across file systems
# DESCRIPTION
#	When the quarantine is on another file system than the Maildir,
#	a message cannot be renamed into it: it is copied, fsync'd and
#	verified, and only then unlinked. With the quarantine on a tmpfs
#	(mounted in a private mount namespace, so the host is untouched),
#	"mailbox clean" must remove exactly the infected messages of a
#	Maildir and an mbox, and "quarantine restore --run" must give back
#	byte-identical messages with their flags, owners and modes.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3 base64 unshare mount
mc_need_root
mc_need_testfiles
mc_setup

# Can this host make a private mount namespace with a tmpfs?
if ! unshare -m sh -c "mount -t tmpfs tmpfs '$T' && umount '$T'" 2>/dev/null; then
	mc_skip "no private mount namespace with tmpfs here"
fi

s=$T/srv
md=$s/home/olga/Maildir
mbox=$s/var/mail/olga
mkdir -p "$T/qfs"
mc_maildir "$md"
mc_maildir "$md/.Sent"
mc_msg_plain -s "keep 1" | mc_maildir_put "$md" cur S >/dev/null
mc_msg_attach "$MC_TESTFILES/clam.exe" -s "exe" | mc_maildir_put "$md" cur RS >/dev/null
mc_msg_eicar -s "eicar" | mc_maildir_put "$md/.Sent" cur S >/dev/null
mc_msg_plain -s "keep 2" | mc_maildir_put "$md" new >/dev/null
mc_msg_plain -s "mbox keep" | mc_mbox_put "$mbox" >/dev/null
mc_msg_attach "$MC_TESTFILES/clam.zip" -s "mbox zip" | mc_mbox_put "$mbox" >/dev/null
mc_msg_plain -s "mbox keep 2" | mc_mbox_put "$mbox" >/dev/null
chown -R 1010:1010 "$s/home/olga"
chown 1010:8 "$mbox"
chmod 0660 "$mbox"
find "$md" -type f -path '*/cur/*' -exec chmod 0640 {} +

before=$(sha_multiset "$s" --meta)

# Everything that needs the tmpfs runs inside one namespace; the
# results come back through files under $T.
printf '%s\nprint("\\n".join(multiset(sys.argv[1], True)))\n' "$mc_py_lib" >"$T/multiset.py"
printf '%s\n' "import json, sys" \
	"print([json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1].get('run', ''))" >"$T/run.py"
cat >"$T/inside.sh" <<EOF
set -u
mount -t tmpfs -o mode=0755 tmpfs "$T/qfs" || exit 3
q="$T/qfs/q"
"$MAILCURE" -d "$MC_SIGS" --quarantine "\$q" --progress never --json \\
	mailbox clean -s "maildir:$md" -s "mbox:$mbox" >"$T/clean.json" 2>"$T/clean.err"
echo \$? >"$T/clean.rc"
"$MC_PYTHON" "$T/multiset.py" "$s" >"$T/after-clean"
stat -f -c %T "\$q" >"$T/qfs.type"
run=\$("$MC_PYTHON" "$T/run.py" "$T/clean.json")
"$MAILCURE" --quarantine "\$q" quarantine restore --run "\$run" >"$T/restore.out" 2>&1
echo \$? >"$T/restore.rc"
umount "$T/qfs"
EOF
unshare -m bash "$T/inside.sh"

mc_assert_eq tmpfs "$(cat "$T/qfs.type")" "file system of the quarantine"
[ "$(stat -f -c %T "$s")" != tmpfs ] || mc_skip "the store itself is on tmpfs"
MC_OUT=$T/clean.json MC_ERR=$T/clean.err MC_RC=$(cat "$T/clean.rc") MC_LAST="mailbox clean (quarantine on tmpfs)"
mc_expect_rc 1 "mailbox clean with the quarantine on another file system"
mc_assert_eq "3 quarantined" \
	"$(mc_events "$T/clean.json" match action | sort | uniq -c | sed 's/^ *//')" "actions"
gone=$(comm -23 <(echo "$before") "$T/after-clean" | wc -l)
mc_assert_eq 3 "$gone" "messages gone after the clean"
added=$(comm -13 <(echo "$before") "$T/after-clean" | wc -l)
mc_assert_eq 0 "$added" "messages changed or added by the clean"

[ "$(cat "$T/restore.rc")" = 0 ] || { cat "$T/restore.out"; mc_fail "quarantine restore --run from the tmpfs quarantine"; }
mc_assert_eq "$before" "$(sha_multiset "$s" --meta)" "stores after the restore"
