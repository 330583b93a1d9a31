#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1010-mailbox-clean-restore - clean, then restore the run: nothing lost
# DESCRIPTION
#	Two users' Maildirs (with Maildir++ subfolders, messages in new/
#	and cur/ with various flags, owned by the users, modes 0600 and
#	0640) and a third user's mbox (mode 0660, group mail). "mailbox
#	clean" must remove exactly the infected messages (each to the
#	quarantine, a 0700 directory) and leave everything else as it
#	was. "quarantine restore --run RUN" must give back byte-identical
#	messages, per user and folder, with the same Maildir flags,
#	new/cur, owners and modes. A second restore of the run is refused
#	and changes nothing.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3 base64
mc_need_root
mc_need_testfiles
mc_setup

s=$T/srv
e=$T/expect
alice=$s/home/alice/Maildir
bob=$s/home/bob/Maildir
carol=$s/var/mail/carol
tf=$MC_TESTFILES
infected=0

# put_maildir MAILDIR SUBDIR FLAGS MODE INFECTED: deliver stdin.
put_maildir() {
	local p
	p=$(mc_maildir_put "$1" "$2" "$3")
	chmod "$4" "$p"
	# This runs in a pipeline's subshell: count in a file.
	[ "$5" = 0 ] || echo "$p" >>"$T/infected.list"
}

for f in alice bob; do mc_maildir "$s/home/$f/Maildir"; done
mc_maildir "$alice/.Sent"
mc_maildir "$alice/.Archive.2024"
mc_maildir "$bob/.Sent"

mc_msg_plain -s "lunch" | put_maildir "$alice" new "" 0600 0
mc_msg_attach "$tf/clam.exe" -s "invoice" | put_maildir "$alice" new "" 0600 1
mc_msg_plain -s "minutes" | put_maildir "$alice" cur S 0600 0
mc_msg_eicar -s "eicar seen" | put_maildir "$alice" cur S 0640 1
mc_msg_attach "$tf/clam.zip" -s "flagged zip" | put_maildir "$alice" cur FRS 0600 1
mc_msg_plain -s "empty flags" | put_maildir "$alice" cur "" 0600 0
mc_msg_plain -s "sent 1" | put_maildir "$alice/.Sent" cur S 0600 0
mc_msg_attach "$tf/clam.pdf" -s "sent pdf" | put_maildir "$alice/.Sent" cur RS 0600 1
mc_msg_attach "$tf/clam.tar.gz" -s "archived" | put_maildir "$alice/.Archive.2024" cur ST 0640 1
mc_msg_plain -s "archived clean" | put_maildir "$alice/.Archive.2024" cur S 0640 0

mc_msg_attach "$tf/clam.7z" -s "for bob" | put_maildir "$bob" new "" 0600 1
mc_msg_plain -s "bob clean" | put_maildir "$bob" cur RS 0600 0
mc_msg_attach "$tf/clam.ole.doc" -s "doc" | put_maildir "$bob/.Sent" cur S 0600 1
mc_msg_plain -s "bob sent clean" | put_maildir "$bob/.Sent" cur S 0600 0

# carol's mbox, and the mbox expected after the clean.
mkdir -p "$e/var/mail"
for i in 1 2 3 4 5 6; do
	case $i in
	2) mc_msg_attach "$tf/clam.cab" -s "carol cab" >"$T/m" ;;
	4) mc_msg_eicar -s "carol eicar" >"$T/m" ;;
	5) mc_msg_attach "$tf/clam.exe.bz2" -s "carol bz2" >"$T/m" ;;
	*) mc_msg_plain -s "carol clean $i" >"$T/m" ;;
	esac
	mc_mbox_put "$carol" "sender$i@example.com" <"$T/m" >/dev/null
	case $i in
	2|4|5) infected=$((infected + 1)) ;;
	*) mc_mbox_put "$e/var/mail/carol" "sender$i@example.com" <"$T/m" >/dev/null ;;
	esac
done

chown -R 1001:1001 "$s/home/alice"
chown -R 1002:1002 "$s/home/bob"
chown 1003:8 "$carol" "$e/var/mail/carol"
chmod 0660 "$carol" "$e/var/mail/carol"

infected=$((infected + $(wc -l <"$T/infected.list")))

# The Maildirs expected after the clean: without the infected files.
cp -a "$s/home" "$e/home"
while read -r p; do
	rm -f "$e/${p#"$s"/}"
done <"$T/infected.list"

before=$(sha_multiset "$s" --meta)
expect=$(sha_multiset "$e" --meta)
[ "$before" != "$expect" ] || mc_fail "test setup: nothing infected"
mc_log "$infected infected of $(echo "$before" | wc -l) messages"

stores=(-s "maildir:$alice" -s "maildir:$bob" -s "mbox:$carol")
mc_cure --json mailbox clean "${stores[@]}"
mc_expect_rc 1 "mailbox clean"
cp "$MC_OUT" "$T/clean.json"

mc_assert_eq "$infected" "$(mc_summary "$T/clean.json" matched)" "summary: matched"
mc_assert_eq "$infected" "$(mc_summary "$T/clean.json" acted)" "summary: acted"
run=$(mc_summary "$T/clean.json" run)
acts=$(mc_events "$T/clean.json" match action | sort | uniq -c | sed 's/^ *//')
mc_assert_eq "$infected quarantined" "$acts" "actions of the clean"
ids=$(mc_events "$T/clean.json" match quarantine_id | grep -v '^-$' | sort -u)
mc_assert_eq "$infected" "$(echo "$ids" | wc -l)" "distinct quarantine ids"

mc_assert_eq "$expect" "$(sha_multiset "$s" --meta)" "stores after the clean"

# The quarantine is root's alone.
mc_assert_eq "700 0:0" "$(stat -c '%a %u:%g' "$MC_Q")" "quarantine directory mode and owner"
if find "$MC_Q" -perm /077 | grep -q .; then
	find "$MC_Q" -perm /077 -ls >&2
	mc_fail "quarantine files readable by others"
fi

mc_cure quarantine list
mc_expect_rc 0 "quarantine list"
for id in $ids; do
	grep -qF "$id" "$MC_OUT" || { mc_show; mc_fail "quarantine list does not show $id"; }
done

mc_cure quarantine restore --run "$run"
mc_expect_rc 0 "quarantine restore --run"
mc_assert_eq "$before" "$(sha_multiset "$s" --meta)" "stores after the restore"

# Restoring twice is refused and duplicates nothing.
mc_cure quarantine restore --run "$run"
[ "$MC_RC" != 0 ] || { mc_show; mc_fail "a second restore of run $run was not refused"; }
mc_assert_eq "$before" "$(sha_multiset "$s" --meta)" "stores after a second restore"

# The restored messages are found again, now as a fresh run.
mc_cure --json mailbox find "${stores[@]}"
mc_expect_rc 1 "mailbox find after restore"
mc_assert_eq "$infected" "$(mc_summary "$MC_OUT" matched)" "matches after restore"
