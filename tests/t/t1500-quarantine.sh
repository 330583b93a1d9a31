#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1500-quarantine - clean, then restore a whole run from the quarantine
# DESCRIPTION
#	A Maildir (INBOX and a .Sent folder, messages in new/ and cur/
#	with flags, one with an unusual mode) and an mbox, each holding
#	clean messages and infected ones (EICAR and clam.exe attached in
#	base64). When run as root the mailboxes belong to another user.
#
#	"mailbox clean" takes exactly the infected messages away;
#	"quarantine list/show" describe them; "quarantine restore --run"
#	puts every one back: the multiset of (folder, new|cur, flags,
#	owner, mode, sha256) of the Maildir files and of (sha256) of the
#	mbox messages equals what it was before the clean. A second
#	restore is refused with a clear message (exit 2) and changes
#	nothing. A damaged record is reported for its entry only; an
#	insecure quarantine directory is refused; purge removes by age.
# ENVIRONMENT
#	MAILCURE, MC_SIGS, TMPDIR (tests/run-tests.sh).

set -u

: "${MAILCURE:?}" "${MC_SIGS:?}"
command -v python3 >/dev/null || { echo "skip: python3 missing"; exit 77; }
tf=/usr/share/clamav-testfiles
[ -r "$tf/clam.exe" ] || { echo "skip: clamav-testfiles not installed"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/t1500.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
q=$tmp/q
s=$tmp/s
md=$s/Maildir
mbox=$s/mbox

fail() {
	echo "FAIL: $*" >&2
	for f in out err; do
		[ -s "$tmp/$f" ] && { echo "--- $f:" >&2; tail -n 30 "$tmp/$f" >&2; }
	done
	exit 1
}

# run ARGS...: mailcure with the test signatures and quarantine;
# stdout in $tmp/out, stderr in $tmp/err, status in $rc.
run() {
	"$MAILCURE" -d "$MC_SIGS" --quarantine "$q" --progress never "$@" \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
}

expect_rc() {
	[ "$rc" = "$1" ] || fail "$2: exit $rc, expected $1"
}

# msg SUBJECT [ATTACHMENT-FILE NAME]: a message on stdout.
msg() {
	local subject=$1 file=${2:-} name=${3:-}
	printf 'From: Sender <sender@example.net>\nTo: alice@example.com\n'
	printf 'Subject: %s\nMessage-ID: <%s@example.net>\nDate: Sat, 28 Nov 2026 01:00:00 +0000\n' \
		"$subject" "$(printf %s "$subject" | tr -c 'a-zA-Z0-9' _)"
	printf 'MIME-Version: 1.0\n'
	if [ -z "$file" ]; then
		printf 'Content-Type: text/plain\n\nHello, this is %s.\nFrom the desk of nobody.\n' "$subject"
		return
	fi
	printf 'Content-Type: multipart/mixed; boundary="b1"\n\n--b1\n'
	printf 'Content-Type: text/plain\n\nPlease see the attachment.\n\n--b1\n'
	printf 'Content-Type: application/octet-stream; name="%s"\n' "$name"
	printf 'Content-Disposition: attachment; filename="%s"\nContent-Transfer-Encoding: base64\n\n' "$name"
	base64 "$file"
	printf '\n--b1--\n'
}

eicar=$tmp/eicar.com
printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >"$eicar"

# put DIR SUBDIR NAME MODE < MSG
put() {
	cat >"$1/$2/$3" && chmod "$4" "$1/$2/$3"
}

mkdir -p "$md"/{cur,new,tmp} "$md"/.Sent/{cur,new,tmp}
msg "clean one" | put "$md" new 1764291600.M1P1.host 600
msg "clean two" | put "$md" cur 1764291601.M2P1.host:2,S 600
msg "infected eicar" "$eicar" invoice.com | put "$md" cur 1764291602.M3P1.host:2,RS 600
msg "infected clam" "$tf/clam.exe" setup.exe | put "$md" new 1764291603.M4P1.host 600
msg "sent clean" | put "$md/.Sent" cur 1764291604.M5P1.host:2,S 600
msg "sent infected" "$tf/clam.exe" report.exe | put "$md/.Sent" cur 1764291605.M6P1.host:2,FS 640

# mboxrd: From_ line, message with >From quoting, blank line.
mbox_add() {
	printf 'From sender@example.net Sat Nov 28 01:00:00 2026\n'
	sed -e 's/^\(>*From \)/>\1/'
	printf '\n'
}
{
	msg "mbox clean a" | mbox_add
	msg "mbox infected eicar" "$eicar" pay.com | mbox_add
	msg "mbox clean b" | mbox_add
	msg "mbox infected clam" "$tf/clam.exe" tool.exe | mbox_add
	msg "mbox clean c" | mbox_add
} >"$mbox"
chmod 600 "$mbox"

owner=$(id -u):$(id -g)
if [ "$(id -u)" = 0 ]; then
	# Files created in a user's mailbox belong to that user.
	owner=65534:65534
	chown -R "$owner" "$s"
fi

# The state of the stores, one line per message, sorted.
state() {
	python3 - "$md" "$mbox" <<'EOF'
import hashlib, os, re, sys
md, mbox = sys.argv[1], sys.argv[2]
lines = []
folders = [("INBOX", md)] + [(f[1:], os.path.join(md, f)) for f in sorted(os.listdir(md))
                             if f.startswith(".") and os.path.isdir(os.path.join(md, f))]
for name, fdir in folders:
    for sub in ("new", "cur"):
        for f in os.listdir(os.path.join(fdir, sub)):
            p = os.path.join(fdir, sub, f)
            st = os.lstat(p)
            flags = f.split(":2,", 1)[1] if ":2," in f else "-"
            h = hashlib.sha256(open(p, "rb").read()).hexdigest()
            lines.append("maildir %s %s %s %d:%d %o %s" % (name, sub, flags, st.st_uid,
                         st.st_gid, st.st_mode & 0o7777, h))
data = open(mbox, "rb").read()
st = os.stat(mbox)
starts = [m.start() for m in re.finditer(rb"(?:^|(?<=\n))From ", data)]
for i, a in enumerate(starts):
    b = starts[i + 1] if i + 1 < len(starts) else len(data)
    h = hashlib.sha256(data[a:b].rstrip(b"\n")).hexdigest()
    lines.append("mbox %d:%d %o %s" % (st.st_uid, st.st_gid, st.st_mode & 0o7777, h))
print("\n".join(sorted(lines)))
EOF
}

before=$(state)
[ "$(printf '%s\n' "$before" | wc -l)" = 11 ] || fail "test setup: expected 11 messages, got: $before"

# --- clean -----------------------------------------------------------
run --json mailbox clean -s "maildir:$md" -s "mbox:$mbox"
expect_rc 1 "mailbox clean"
cp "$tmp/out" "$tmp/clean.json"
read -r runid matched acted <<<"$(python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
s = [e for e in ev if e.get("event") == "summary"][-1]
print(s["run"], s["matched"], s["acted"])' "$tmp/clean.json")" || fail "no summary"
[ "$matched" = 5 ] && [ "$acted" = 5 ] || fail "clean: matched $matched acted $acted, expected 5 and 5"
after_clean=$(state)
[ "$(printf '%s\n' "$after_clean" | wc -l)" = 6 ] || fail "after clean, expected 6 clean messages left: $after_clean"
[ "$(grep -c . <<<"$(comm -23 <(echo "$after_clean") <(echo "$before"))")" = 0 ] ||
	fail "clean changed messages it kept"

# --- list / show -----------------------------------------------------
run quarantine list --run "$runid"
expect_rc 0 "quarantine list --run"
[ "$(grep -c '\[quarantined\]' "$tmp/out")" = 5 ] || fail "list --run: 5 entries expected"
grep -q 'Eicar-Test-Signature' "$tmp/out" || fail "list does not give the reason"

run --json quarantine list
expect_rc 0 "quarantine list --json"
python3 - "$tmp/out" "$runid" <<'EOF' || fail "list --json"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
entries = [e for e in ev if e["event"] == "entry"]
summary = ev[-1]
assert summary["event"] == "summary" and summary["entries"] == 5, summary
for e in entries:
    assert e["run"] == sys.argv[2], e
    assert e["loc"]["kind"] in ("maildir", "mbox"), e
    assert e["reasons"] and e["reasons"][0]["kind"] == "virus" and e["reasons"][0]["name"], e
    assert len(e["sha256"]) == 64 and e["size"] > 0 and e["restored_at"] is None, e
    if e["loc"]["kind"] == "mbox":
        assert e["loc"]["offset"] > 0, e
ids = [e["id"] for e in entries]
assert ids == sorted(ids), "not oldest first"
EOF

id=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"] == "entry" and e["loc"]["kind"] == "maildir" and e["loc"]["folder"] == "Sent":
        print(e["id"])' "$tmp/out")
[ -n "$id" ] || fail "no entry for the Sent folder"
run quarantine show "$id"
expect_rc 0 "quarantine show"
grep -q "1764291605.M6P1.host:2,FS" "$tmp/out" || fail "show does not name the file"
grep -q "^mode: *0640" "$tmp/out" || fail "show does not give the mode"
run quarantine show 20200101T000000Z-000000-00000000
expect_rc 2 "show of an unknown id"

# --- restore ---------------------------------------------------------
run --dry-run quarantine restore --run "$runid"
expect_rc 0 "restore --dry-run"
[ "$(grep -c 'would restore to' "$tmp/out")" = 5 ] || fail "restore --dry-run: 5 lines expected"
[ "$(state)" = "$after_clean" ] || fail "restore --dry-run changed the stores"

run quarantine restore --run "$runid"
expect_rc 0 "quarantine restore --run"
[ "$(grep -c ': restored to ' "$tmp/out")" = 5 ] || fail "restore: 5 'ID: restored to PATH' lines expected"
grep -qF "$id: restored to $md/.Sent/cur/1764291605.M6P1.host:2,FS" "$tmp/out" ||
	fail "restore does not say where $id went"
after_restore=$(state)
[ "$after_restore" = "$before" ] || {
	diff <(echo "$before") <(echo "$after_restore") >&2
	fail "the stores after restore differ from before the clean"
}

# Twice: refused, with the reason, nothing duplicated.
run quarantine restore --run "$runid"
expect_rc 2 "second restore --run"
[ "$(grep -c 'already restored at' "$tmp/err")" = 5 ] || fail "second restore: no clear refusal"
run quarantine restore "$id"
expect_rc 2 "second restore of one id"
grep -q "entry $id was already restored at .* (to $md/.Sent/cur/" "$tmp/err" ||
	fail "second restore of $id: unclear message"
[ "$(state)" = "$before" ] || fail "a refused restore changed the stores"
run quarantine list
[ "$(grep -c '\[restored ' "$tmp/out")" = 5 ] || fail "list does not show the entries restored"

# --- damage and safety -----------------------------------------------
bad=$(ls "$q/entries" | head -n 1)
echo '{"id": "' >"$q/entries/$bad/meta.json"
run quarantine list
expect_rc 2 "list with a damaged entry"
grep -q "$bad" "$tmp/err" || fail "the damaged entry is not named"
[ "$(grep -c '\[restored ' "$tmp/out")" = 4 ] || fail "the other entries are not listed"

chmod 777 "$q"
run quarantine list
expect_rc 2 "list of a world-writable quarantine"
grep -q "writable" "$tmp/err" || fail "no reason given for refusing the quarantine"
chmod 700 "$q"
ln -s "$q" "$tmp/qlink"
"$MAILCURE" --quarantine "$tmp/qlink" quarantine list >"$tmp/out" 2>"$tmp/err"
[ $? = 2 ] && grep -q "symbolic link" "$tmp/err" || fail "a symlinked quarantine is not refused"

# --- purge -----------------------------------------------------------
run quarantine purge --before 30d
expect_rc 0 "purge --before 30d"
[ "$(ls "$q/entries" | wc -l)" = 5 ] || fail "purge --before 30d removed recent entries"
run --dry-run quarantine purge --before 2099-01-01
expect_rc 0 "purge --dry-run"
[ "$(grep -c 'would purge' "$tmp/out")" = 4 ] || fail "purge --dry-run: 4 listed expected"
[ "$(ls "$q/entries" | wc -l)" = 5 ] || fail "purge --dry-run removed entries"
run quarantine purge --before 2099-01-01
expect_rc 0 "purge"
[ -z "$(ls "$q/entries")" ] || fail "purge left entries: $(ls "$q/entries")"
[ -z "$(ls "$q/runs")" ] || fail "purge left run indexes"
run quarantine restore --run "$runid"
expect_rc 2 "restore of a purged run"
[ "$(state)" = "$before" ] || fail "purge changed the stores"

echo "ok: clean of 5, restore of the run, refusal of a second restore, purge"
exit 0
