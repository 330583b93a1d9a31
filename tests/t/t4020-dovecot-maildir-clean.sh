#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t4020-dovecot-maildir-clean.sh - mailbox clean on Maildir under a running Dovecot
# DESCRIPTION
#	A real Dovecot serves Maildirs in a network namespace; an IMAP
#	client on the user host has the mailboxes open (indexes, uidlist
#	and caches are built) before mailcure runs. Then, once with the
#	maildir: store (files removed under Dovecot's feet) and once with
#	the dovecot: store (through doveadm):
#	- mailbox clean removes exactly the infected messages; the IMAP
#	  client sees exactly the clean ones, with their flags;
#	- quarantine restore --run brings them back, with their flags;
#	- Dovecot's log shows no errors (no index or uidlist trouble).

. "$(dirname "$0")/lib-netns.sh"
set -u

t4_need
t4_setup
t4_netns
t4_dovecot maildir

# What the user sees over IMAP, from the user host.
seen() {
	{
		echo "== INBOX"; t4_imap "$NS_USR" 192.0.2.1 alice list INBOX
		echo "== Archive"; t4_imap "$NS_USR" 192.0.2.1 alice list Archive
		echo "== bob"; t4_imap "$NS_USR" 2001:db8:1::1 bob list INBOX
	} 2>&1
}

set -e

put() {	# put USER MAILBOX FLAGS SUBJECT virus|clean
	if [ "$5" = virus ]; then t4_msg_virus "$4"; else t4_msg "$4"; fi |
		t4_doveadm save -u "$1" -m "$2"
	[ "$3" = - ] || t4_doveadm flags add -u "$1" "$3" mailbox "$2" header Subject "$4"
}
t4_doveadm mailbox create -u alice Archive
put alice INBOX '\Seen' "clean one" clean
put alice INBOX '\Seen \Flagged' "virus one" virus
put alice INBOX - "clean two" clean
put alice Archive '\Answered' "virus two" virus
put alice Archive '\Seen $Label1' "clean three" clean
put bob INBOX - "clean for bob" clean
put bob INBOX '\Seen' "virus for bob" virus

ALL=$(cat <<'EOF'
== INBOX
clean one	\Seen
clean two	-
virus one	\Flagged \Seen
== Archive
clean three	$Label1 \Seen
virus two	\Answered
== bob
clean for bob	-
virus for bob	\Seen
EOF
)
CLEAN=$(cat <<'EOF'
== INBOX
clean one	\Seen
clean two	-
== Archive
clean three	$Label1 \Seen
== bob
clean for bob	-
EOF
)
[ "$(seen)" = "$ALL" ] || { seen; mc_fail "the mailboxes over IMAP before cleaning"; }

for store in maildir dovecot; do
	if [ "$store" = maildir ]; then
		stores=(-s "maildir:$DV/home/alice/mail" -s "maildir:$DV/home/bob/mail")
	else
		stores=(-s "dovecot:*")
	fi
	mc_log "$store store: find"
	mc_cure mailbox find "${stores[@]}"
	mc_expect_rc 1 "$store: mailbox find"
	[ "$(grep -c 'Eicar-Test-Signature' "$MC_OUT")" = 3 ] || { mc_show; mc_fail "$store: find did not report 3 viruses"; }

	mc_log "$store store: clean, with Dovecot running and the mailboxes open"
	mc_cure --json mailbox clean "${stores[@]}"
	mc_expect_rc 1 "$store: mailbox clean"
	run=$(python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
s = [e for e in ev if e["event"] == "summary"][-1]
assert s["matched"] == 3 and s["acted"] == 3 and s["errors"] == 0, s
m = [e for e in ev if e["event"] == "match"]
assert sorted(e["subject"] for e in m) == ["virus for bob", "virus one", "virus two"], m
assert all(e["action"] == "quarantined" for e in m), m
print(s["run"])' "$MC_OUT") || { mc_show; mc_fail "$store: clean results"; }
	[ "$(seen)" = "$CLEAN" ] || { seen; mc_fail "$store: IMAP does not see exactly the clean messages"; }
	t4_no_log_errors "$store clean"

	mc_log "$store store: restore the run"
	mc_cure quarantine restore --run "$run"
	mc_expect_rc 0 "$store: restore"
	[ "$(seen)" = "$ALL" ] || { seen; mc_fail "$store: IMAP after restore"; }
	mc_cure quarantine restore --run "$run"
	[ "$MC_RC" != 0 ] || { mc_show; mc_fail "$store: a second restore was accepted"; }
	[ "$(seen)" = "$ALL" ] || { seen; mc_fail "$store: a second restore changed the mailboxes"; }
	t4_no_log_errors "$store restore"
done

mc_log "the dovecot: store records user, mailbox, GUIDs, UID and flags"
python3 - "$MC_Q" <<'EOF' || mc_fail "quarantine records of the dovecot: store"
import glob, json, sys
recs = [json.load(open(p)) for p in glob.glob(sys.argv[1] + "/entries/*/meta.json")]
dv = [r for r in recs if r["loc"]["kind"] == "dovecot"]
assert len(dv) == 3, len(dv)
by = {r["subject"]: r for r in dv}
r = by["virus two"]
assert r["loc"]["user"] == "alice" and r["loc"]["folder"] == "Archive", r["loc"]
x = r["extra"]
assert len(x["mailbox_guid"]) == 32 and x["uid"] > 0 and x["guid"], x
assert "\\Answered" in x["flags"].split(), x
assert by["virus for bob"]["loc"]["user"] == "bob"
EOF

mc_log "a message Dovecot cannot read: an error of its own, the rest is still read"
# A size in the file name that is not the file's: Dovecot refuses to
# return that message, which breaks doveadm's stream of the mailbox.
# The store then reads the rest one message at a time.
t4_no_log_errors "before the broken message"
t4_msg_virus "virus with a wrong size" >"$DV/home/alice/mail/cur/1700000000.M1P1.broken,S=100:2,S"
chown 60001:60001 "$DV/home/alice/mail/cur/1700000000.M1P1.broken,S=100:2,S"
t4_msg_virus "virus after the broken one" | t4_doveadm save -u alice
mc_cure --json mailbox find -s dovecot:alice
mc_expect_rc 2 "find with a broken message"
python3 - "$MC_OUT" <<'EOF2' || { mc_show; mc_fail "find with a broken message"; }
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
s = [e for e in ev if e["event"] == "summary"][-1]
err = [e for e in ev if e["event"] == "error"]
m = sorted(e["subject"] for e in ev if e["event"] == "match")
assert m == ["virus after the broken one", "virus one", "virus two"], m
assert len(err) == 1 and err[0]["folder"] == "INBOX" and "doveadm fetch" in err[0]["why"], err
assert s["scanned"] == 6 and s["errors"] == 1, s
EOF2

mc_log "ok"
