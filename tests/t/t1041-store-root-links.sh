#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1041-store-root-links - a symlink in place of a store root is not followed
# DESCRIPTION
#	A user owns his home, and in a sticky spool directory his mbox
#	name: he can replace ~/Maildir, ~/mail/NAME or the spool's
#	mailbox with a symlink to a root-only Maildir, mbox or .eml
#	directory elsewhere, or put such a symlink on the way to one.
#	Running as root, mailcure must refuse every such store root,
#	whether named with -s (bare, maildir:, mbox:, eml:, tree:) or
#	found in the usual places, and name the link and its owner:
#	find exits 2 and prints nothing of the foreign store, clean
#	leaves it as it was and quarantines nothing of it, and the
#	other users' mail is still cleaned. A link root owns in a
#	directory only root can change, named by the administrator, is
#	followed; one root owns in the user's directory is not. host
#	scan and host clean refuse such a link as a PATH too.
#
#	Then a race: while mailbox clean runs, the user swaps his
#	Maildir (and, in other trials, his spool mbox) with a symlink to
#	the foreign store, atomically and again and again. The foreign
#	store must never be read or changed, in any trial.
#	MC_RACE_TRIALS (default 30) trials are run of each; MC_SEED
#	seeds the swapper's timing (logged).
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3 base64
mc_need_root
mc_setup

tab=$'\t'
user=nobody
uid=$(id -u "$user") || mc_skip "no user $user"
MC_SEED=${MC_SEED:-$RANDOM}
trials=${MC_RACE_TRIALS:-30}

# The foreign mail: root's only, each message named "foreign".
secret=$T/secret
mkdir -p "$secret/eml"
chmod 0700 "$secret"
mc_msg_eicar -s "foreign maildir" | mc_maildir_put "$secret/Maildir" new >/dev/null
mc_msg_plain -s "foreign maildir clean" | mc_maildir_put "$secret/Maildir" cur S >/dev/null
mc_msg_plain -s "foreign mbox clean" | mc_mbox_put "$secret/mbox" >/dev/null
mc_msg_eicar -s "foreign mbox" | mc_mbox_put "$secret/mbox" >/dev/null
mc_msg_eicar -s "foreign eml" >"$secret/eml/x.eml"
mc_eicar >"$secret/virus.com"
secret_state() {
	sha_multiset "$secret"
	mc_snapshot "$secret"
}
before=$(secret_state)

# user_link LINK TARGET: a symlink the user made.
user_link() {
	ln -s "$2" "$1"
	chown -h "$user" "$1"
}

# The user's home, and a sticky spool where he owns his mailbox name.
home=$T/srv/home/u
spool=$T/srv/spool
mkdir -p "$home/mail" "$spool"
chmod 1777 "$spool"
user_link "$home/Maildir" "$secret/Maildir"
user_link "$home/mail/inbox" "$secret/mbox"
user_link "$home/msgs" "$secret/eml"
user_link "$home/lnk" "$secret"
user_link "$spool/u" "$secret/mbox"
chown -R -h "$user" "$home"
# Root's link, but in the user's directory: he could have put it there.
ln -s "$secret/Maildir" "$home/rootlink"

# refused WHAT: the last run refused the store with exit 2, said which
# link and whose (on stderr, or as an error event), and printed
# nothing of the foreign store.
refused() {
	mc_expect_rc 2 "$1"
	if ! cat "$MC_ERR" "$MC_OUT" | grep "symbolic link" |
	    grep -Eq "owned by $user \\(uid $uid\\)|$home is owned by $user"; then
		mc_show
		mc_fail "$1: the refusal does not name the link and its owner"
	fi
	if grep -Eq "foreign|$secret" "$MC_OUT"; then
		mc_show
		mc_fail "$1: printed something of the foreign store"
	fi
}

# --- 1. named with -s ---
stores=(
	"$home/Maildir" "maildir:$home/Maildir" "$home/Maildir/" "$home/Maildir/new/.."
	"tree:$home/Maildir" "$home/mail/inbox" "mbox:$home/mail/inbox"
	"$spool/u" "mbox:$spool/u" "eml:$home/msgs" "eml:$home/msgs/x.eml"
	"$home/lnk/Maildir" "mbox:$home/lnk/mbox" "eml:$home/lnk/eml/x.eml"
	"maildir:$home/rootlink"
)
for s in "${stores[@]}"; do
	mc_cure --json mailbox find -s "$s" all
	refused "find -s $s"
	mc_cure --json mailbox clean -s "$s"
	refused "clean -s $s"
	mc_assert_eq "$before" "$(secret_state)" "the foreign store after clean -s $s"
done
mc_log "${#stores[@]} store roots behind a user's symlink refused by find and clean"

# Relative to the current directory, the same.
cd "$home"
mc_cure --json mailbox find -s Maildir all
cd - >/dev/null
refused "find -s Maildir (relative)"
mc_assert_eq "$before" "$(secret_state)" "the foreign store"

# Below a tree root, a symlinked mailbox is reported and passed over.
mc_cure --json mailbox clean -s "$T/srv"
mc_expect_rc 2 "clean of the tree holding the symlinks"
grep -q foreign "$MC_OUT" && { mc_show; mc_fail "the tree walk read the foreign store"; }
mc_assert_eq "$before" "$(secret_state)" "the foreign store after the tree clean"

# The administrator's own links: root owns them and the directories
# down to them; they are followed.
ln -s "$secret/Maildir" "$T/admin-maildir"
ln -s "$secret/mbox" "$T/admin-mbox"
ln -s secret "$T/admin-dir"
for s in "$T/admin-maildir" "mbox:$T/admin-mbox" "$T/admin-dir/eml"; do
	mc_cure --json mailbox find -s "$s"
	mc_expect_rc 1 "find -s $s (root's link)"
	grep -q '"subject":"foreign' "$MC_OUT" || { mc_show; mc_fail "find -s $s found nothing"; }
done

# --- 2. the usual places ---
# /home/*/Maildir, /home/*/mail, /var/mail: made private to a mount
# namespace and filled from $T.
untested=
unshare -m sh -c "mount --bind '$T' /home" 2>/dev/null ||
	untested="no private mount namespace here"
for p in "$MAILCURE" "$MC_SIGS" "$T"; do
	case $p in
	/home/*|/var/mail/*|/var/spool/mail/*|/var/vmail/*)
		untested="$p is in a place the test mounts over" ;;
	esac
done
if [ -n "$untested" ]; then
	mc_log "the usual places are not tested: $untested"
else
	def=$T/def
	mkdir -p "$def/home/u/mail" "$def/varmail" "$def/empty"
	chmod 1777 "$def/varmail"
	user_link "$def/home/u/Maildir" "$secret/Maildir"
	user_link "$def/home/u/mail/inbox" "$secret/mbox"
	user_link "$def/varmail/u" "$secret/mbox"
	chown -R -h "$user" "$def/home/u"
	mc_msg_eicar -s "own maildir" | mc_maildir_put "$def/home/v/Maildir" new >/dev/null
	mc_msg_eicar -s "own mbox" | mc_mbox_put "$def/varmail/w" >/dev/null
	chown -R "$user" "$def/home/v" "$def/varmail/w"
	cat >"$T/inside.sh" <<EOF
set -eu
mount --bind "$def/home" /home
mount --bind "$def/varmail" /var/mail
[ ! -d /var/vmail ] || mount --bind "$def/empty" /var/vmail
set +e
"$MAILCURE" -d "$MC_SIGS" --quarantine "$MC_Q" --progress never --json \\
	mailbox clean >"$T/def.json" 2>"$T/def.err"
echo \$? >"$T/def.rc"
EOF
	unshare -m bash "$T/inside.sh"
	MC_OUT=$T/def.json MC_ERR=$T/def.err MC_RC=$(cat "$T/def.rc")
	MC_LAST="mailbox clean (the usual places)"
	refused "clean of the usual places"
	mc_assert_eq "/home/u/Maildir: is a symbolic link owned by $user (uid $uid), not followed
/home/u/mail/inbox: is a symbolic link, not followed
/var/mail/u: is a symbolic link, not followed" "$(mc_events "$MC_OUT" error why | sort)" \
		"errors of the clean of the usual places"
	mc_assert_eq 3 "$(mc_summary "$MC_OUT" errors)" "errors in the summary"
	mc_assert_eq "own maildir${tab}quarantined
own mbox${tab}quarantined" "$(mc_events "$MC_OUT" match subject action | sort)" \
		"the other users' mail cleaned past the refused store"
	mc_assert_eq "$before" "$(secret_state)" "the foreign store after the clean of the usual places"
fi

# --- 3. host scan and host clean ---
user_link "$home/virus.com" "$secret/virus.com"
for cmd in scan clean; do
	for p in "$home/Maildir" "$home/virus.com" "$home/lnk/virus.com"; do
		mc_cure --json host "$cmd" "$p"
		refused "host $cmd $p"
	done
done
mc_assert_eq "$before" "$(secret_state)" "the foreign store after host clean"

leak=$(grep -rl foreign "$MC_Q" 2>/dev/null || true)
[ -z "$leak" ] || mc_fail "foreign mail reached the quarantine: $leak"

# --- 4. a race: the user swaps his store and a symlink to the foreign
# one, with renameat2(RENAME_EXCHANGE), as fast as he can ---
race=$T/race/u
mkdir -p "$race"
chown "$user" "$race"
user_link "$race/Maildir.swap" "$secret/Maildir"
user_link "$race/mbox.swap" "$secret/mbox"
cat >"$T/swap.py" <<'EOF'
import ctypes, os, random, sys, time
libc = ctypes.CDLL(None, use_errno=True)
a, b, started, stop = sys.argv[1:5]
rnd = random.Random(int(sys.argv[5]))
AT_FDCWD, RENAME_EXCHANGE = -100, 2
def exchange():
    if libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), RENAME_EXCHANGE) != 0:
        sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
n = 0
open(started, "w").close()
while not os.path.exists(stop):
    exchange()
    n += 1
    time.sleep(rnd.uniform(0, 0.0006))
if n % 2:
    exchange()
    n += 1
print(n)
EOF
deliver_own() {
	case $1 in
	Maildir)
		ls "$race/Maildir/new" 2>/dev/null | grep -q . ||
			mc_msg_eicar -s "race own maildir" | mc_maildir_put "$race/Maildir" new >/dev/null ;;
	mbox)
		grep -q "race own mbox" "$race/mbox" 2>/dev/null ||
			mc_msg_eicar -s "race own mbox" | mc_mbox_put "$race/mbox" >/dev/null ;;
	esac
	chown -R "$user" "$race/$1"
}
cleaned=0 refusals=0 swaps=0
for i in $(seq 1 "$trials"); do
	for kind in Maildir mbox; do
		deliver_own "$kind"
		rm -f "$T/started" "$T/stop"
		"$MC_PYTHON" "$T/swap.py" "$race/$kind" "$race/$kind.swap" "$T/started" \
			"$T/stop" "$((MC_SEED + i))" >"$T/swaps" &
		swapper=$!
		while [ ! -e "$T/started" ]; do
			kill -0 "$swapper" 2>/dev/null || mc_fail "the swapper did not start"
			sleep 0.005
		done
		mc_cure --json mailbox clean -s "$race/$kind"
		touch "$T/stop"
		wait "$swapper" || mc_fail "the swapper failed"
		swaps=$((swaps + $(cat "$T/swaps")))
		[ -L "$race/$kind.swap" ] || mc_fail "the swapper did not end as it began"
		grep -q foreign "$MC_OUT" && { mc_show; mc_fail "race trial $i ($kind): foreign mail reported"; }
		mc_assert_eq "$before" "$(secret_state)" "the foreign store after race trial $i ($kind)"
		case $MC_RC in
		1) cleaned=$((cleaned + 1)) ;;
		2) refusals=$((refusals + 1)) ;;
		*) mc_show; mc_fail "race trial $i ($kind): exit $MC_RC" ;;
		esac
	done
done
leak=$(grep -rl foreign "$MC_Q" 2>/dev/null || true)
[ -z "$leak" ] || mc_fail "foreign mail reached the quarantine: $leak"
mc_log "race (seed $MC_SEED): $trials trials each for a Maildir and an mbox, $swaps swaps;" \
	"$cleaned runs cleaned the user's own store, $refusals refused the symlink;" \
	"the foreign store never changed"
