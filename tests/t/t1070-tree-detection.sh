#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1070-tree-detection - bare store paths are recognised, users and folders named right
# DESCRIPTION
#	Bare paths are auto-detected: a /var/mail-style directory of mbox
#	files, a /home/*/Maildir tree (with Maildir++ subfolders and other
#	files in the home directories), a /var/vmail/DOMAIN/USER tree (the
#	user directory being the Maildir, or holding one). One infected
#	message in every folder; each match must carry the right user and
#	folder, nothing else may be reported, and the stores must be
#	scanned completely. A single Maildir and a single mbox file given
#	directly are recognised too.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3 base64
mc_setup

s=$T/srv
expected=

# md_pair MAILDIR USER FOLDER, mbox_pair MBOX USER: one infected and
# one clean message; a match is expected for USER and FOLDER.
md_pair() {
	local dir=$1 user=$2 folder=$3
	mc_maildir "$dir"
	mc_msg_eicar -s "infected $user $folder" | mc_maildir_put "$dir" cur S >/dev/null
	mc_msg_plain -s "clean $user $folder" | mc_maildir_put "$dir" new >/dev/null
	expected+="$user $folder infected $user $folder"$'\n'
}
mbox_pair() {
	local file=$1 user=$2
	mc_msg_plain -s "clean $user INBOX" | mc_mbox_put "$file" >/dev/null
	mc_msg_eicar -s "infected $user INBOX" | mc_mbox_put "$file" >/dev/null
	expected+="$user INBOX infected $user INBOX"$'\n'
}

# /var/mail
mkdir -p "$s/var/mail"
mbox_pair "$s/var/mail/alice" alice
mbox_pair "$s/var/mail/bob" bob
: >"$s/var/mail/empty"

# /home/*/Maildir
for u in carol dave; do
	md_pair "$s/home/$u/Maildir" "$u" INBOX
	md_pair "$s/home/$u/Maildir/.Sent" "$u" Sent
	printf 'export PS1=$\n' >"$s/home/$u/.bashrc"
	head -c 5000 /dev/urandom >"$s/home/$u/photo.jpg"
done
md_pair "$s/home/carol/Maildir/.Archive.2024" carol Archive/2024
: >"$s/home/carol/Maildir/dovecot-uidlist"
echo "1 2" >"$s/home/carol/Maildir/maildirsize"

# /var/vmail/DOMAIN/USER
md_pair "$s/vmail/example.com/erin" erin@example.com INBOX
md_pair "$s/vmail/example.com/erin/.Junk" erin@example.com Junk
md_pair "$s/vmail/example.org/frank/Maildir" frank@example.org INBOX

# Single stores, given directly.
mc_maildir "$s/users/sam/Maildir"
mc_msg_eicar -s "infected sam INBOX" | mc_maildir_put "$s/users/sam/Maildir" cur S >/dev/null
mc_msg_plain -s "clean sam INBOX" | mc_maildir_put "$s/users/sam/Maildir" new >/dev/null
mc_msg_plain -s "clean sam INBOX" | mc_mbox_put "$s/spool/sam" >/dev/null
mc_msg_eicar -s "infected sam INBOX" | mc_mbox_put "$s/spool/sam" >/dev/null
total=$(printf '%s' "$expected" | grep -c .)

# norm: "user folder subject" of each match; a Maildir++ folder
# may be named with "." or "/" as the hierarchy separator.
norm() {
	mc_json "$MC_OUT" '
for e in events:
    if e.get("event") == "match":
        print(e.get("user"), str(e.get("folder")).replace(".", "/"), e.get("subject"))' | sort
}

# check WANT-FILTER STORE...: find over STOREs reports the matches of
# the expected lines selected by grep -E WANT-FILTER.
check() {
	local filter=$1 want
	shift
	want=$(printf '%s' "$expected" | grep -E "$filter" | sort)
	mc_cure --json mailbox find "$@"
	mc_expect_rc 1 "mailbox find $*"
	mc_assert_eq "$want" "$(norm)" "users and folders reported for $*"
	others=$(mc_json "$MC_OUT" '
for e in events:
    if e.get("event") not in ("match", "summary"):
        print(e)')
	[ -z "$others" ] || mc_fail "unexpected events for $*: $others"
	mc_assert_eq "$(( $(echo "$want" | grep -c .) * 2 ))" "$(mc_summary "$MC_OUT" scanned)" \
		"messages scanned in $*"
}

check '^(alice|bob) ' -s "$s/var/mail"
check '^(carol|dave) ' -s "$s/home"
check '@example\.(com|org) ' -s "$s/vmail"

# A single Maildir or mbox given directly: its user may be named from
# the path or from the owner, and a lone mbox's folder from its file
# name; only completeness is checked.
mc_cure --json mailbox find -s "$s/users/sam/Maildir" -s "$s/spool/sam"
mc_expect_rc 1 "mailbox find over a single Maildir and a single mbox"
mc_assert_eq "infected sam INBOX
infected sam INBOX" "$(mc_events "$MC_OUT" match subject | sort)" "matches in single stores"
mc_assert_eq 4 "$(mc_summary "$MC_OUT" scanned)" "messages scanned in single stores"
mc_cure --json mailbox find -s "$s/home/carol/Maildir"
mc_expect_rc 1 "mailbox find over one Maildir of the home tree"
mc_assert_eq "infected carol Archive/2024
infected carol INBOX
infected carol Sent" "$(mc_events "$MC_OUT" match subject | sed 's/Archive.2024/Archive\/2024/' | sort)" \
	"matches in $s/home/carol/Maildir"
mc_assert_eq "Archive/2024
INBOX
Sent" "$(mc_events "$MC_OUT" match folder | tr . / | sort)" "folders of $s/home/carol/Maildir"
check '.' -s "$s/var/mail" -s "$s/home" -s "$s/vmail"
mc_log "$total folders recognised"
