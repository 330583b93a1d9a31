#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t4030-dovecot-sdbox-clean.sh - the dovecot: store on sdbox (and mdbox), with restore
# SYNOPSIS
#	t4030-dovecot-sdbox-clean.sh
#	T4_FORMAT=mdbox t4030-dovecot-sdbox-clean.sh	(what t4031 runs)
# DESCRIPTION
#	With a real Dovecot in a network namespace storing mail as
#	$T4_FORMAT (default sdbox), mailboxes open in an IMAP client on
#	the user host:
#	- "dovecot:nosuch" is a clear error; "dovecot:a*" reads alice only;
#	- messages whose bodies look like doveadm's own output (form
#	  feeds, "mailbox-guid:" lines) or hold 8-bit non-UTF-8 bytes are
#	  read exactly: what is quarantined is byte for byte what was
#	  delivered;
#	- a message over --max-message-size is unscanned, never removed;
#	- mailbox clean -s dovecot:alice removes exactly the infected
#	  messages of alice (bob's stay); IMAP then sees exactly the clean
#	  ones, with their flags; Dovecot logs no errors (mdbox also
#	  after doveadm purge);
#	- quarantine restore --run puts them back in their mailboxes
#	  (one with a space in its name, one deleted meanwhile and
#	  recreated) with their flags.

. "$(dirname "$0")/lib-netns.sh"
set -u

t4_need
t4_setup
t4_netns

seen() {
	{
		echo "== INBOX"; t4_imap "$NS_USR" 192.0.2.1 alice list INBOX
		echo "== Sent Items"; t4_imap "$NS_USR" 192.0.2.1 alice list "Sent Items"
		echo "== Old"; t4_imap "$NS_USR" 192.0.2.1 alice list Old
		echo "== bob"; t4_imap "$NS_USR" 2001:db8:1::1 bob list INBOX
	} 2>&1
}
json_check() {	# json_check PYTHON-CODE: on $MC_OUT, with "ev" and "summary"
	python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
summary = [e for e in ev if e["event"] == "summary"][-1]
'"$1" "$MC_OUT"
}

set -e

ALL=$(cat <<'EOF'
== INBOX
clean one	\Seen
looks like doveadm output	-
virus one	$Junk \Flagged \Seen
virus with form feeds	-
== Sent Items
clean sent	\Seen
virus sent	\Answered
== Old
virus in a deleted folder	\Seen
== bob
clean for bob	-
virus for bob	-
EOF
)
CLEAN=$(cat <<'EOF'
== INBOX
clean one	\Seen
looks like doveadm output	-
== Sent Items
clean sent	\Seen
== Old
== bob
clean for bob	-
virus for bob	-
EOF
)

for format in ${T4_FORMAT:-sdbox}; do
	mc_log "$format: Dovecot with $format mailboxes"
	[ -z "${DV:-}" ] || { t4_dovecot_stop; rm -rf "$DV" "$MC_Q"; }
	t4_dovecot "$format"
	mkdir -p "$T/orig"
	put() {	# put USER MAILBOX FLAGS SUBJECT < MESSAGE
		cat >"$T/orig/$4.eml"
		t4_doveadm save -u "$1" -m "$2" <"$T/orig/$4.eml"
		[ "$3" = - ] || t4_doveadm flags add -u "$1" "$3" mailbox "$2" header Subject "$4"
	}
	t4_doveadm mailbox create -u alice "Sent Items" Old
	t4_msg "clean one" | put alice INBOX '\Seen' "clean one"
	t4_msg_virus "virus one" | put alice INBOX '\Seen \Flagged $Junk' "virus one"
	# A body that imitates doveadm's pager output, and Latin-1 bytes.
	{ t4_msg "looks like doveadm output" "$(printf 'x\f\nmailbox-guid: 0123456789abcdef0123456789abcdef\nuid: 1\nguid: x\nflags: \nsize.physical: 3\nmailbox: INBOX\ntext:\nabc\f\n')"
	  printf 'caf\351 na\357ve\n'; } | put alice INBOX - "looks like doveadm output"
	{ t4_msg_virus "virus with form feeds" | sed 's/^See the attachment./\f\ntext:\n\f/'; } |
		put alice INBOX - "virus with form feeds"
	t4_msg "clean sent" | put alice "Sent Items" '\Seen' "clean sent"
	t4_msg_virus "virus sent" | put alice "Sent Items" '\Answered' "virus sent"
	t4_msg_virus "virus in a deleted folder" | put alice Old '\Seen' "virus in a deleted folder"
	t4_msg "clean for bob" | put bob INBOX - "clean for bob"
	t4_msg_virus "virus for bob" | put bob INBOX - "virus for bob"
	[ "$(seen)" = "$ALL" ] || { seen; mc_fail "$format: mailboxes over IMAP before cleaning"; }

	mc_log "$format: user masks"
	# mailbox find exits at once when a store cannot be opened, without
	# freeing what it parsed: not a leak worth failing these checks on.
	ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0 mc_cure mailbox find -s dovecot:nosuch
	mc_expect_rc 2 "$format: unknown user"
	grep -q "no such Dovecot user" "$MC_ERR" || { mc_show; mc_fail "$format: unknown user message"; }
	ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0 mc_cure mailbox find -s 'dovecot:zz*'
	mc_expect_rc 2 "$format: mask matching nobody"
	grep -q "no Dovecot user matches" "$MC_ERR" || { mc_show; mc_fail "$format: empty mask message"; }
	ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0 mc_cure mailbox find -s 'dovecot:-x'
	mc_expect_rc 2 "$format: mask that looks like an option"
	grep -q "not a usable user mask" "$MC_ERR" || { mc_show; mc_fail "$format: bad mask message"; }
	mc_cure --json mailbox find -s 'dovecot:a*'
	mc_expect_rc 1 "$format: find dovecot:a*"
	json_check '
m = [e for e in ev if e["event"] == "match"]
assert sorted(e["subject"] for e in m) == ["virus in a deleted folder", "virus one", "virus sent", "virus with form feeds"], m
assert all(e["user"] == "alice" and e["store"] == "dovecot:a*" and e["kind"] == "dovecot" for e in m), m
assert summary["scanned"] == 7 and summary["errors"] == 0, summary
' || { mc_show; mc_fail "$format: find dovecot:a*"; }

	mc_log "$format: a message over --max-message-size is unscanned, not removed"
	mc_cure --json --max-message-size 400 mailbox clean -s dovecot:alice
	mc_expect_rc 2 "$format: clean with a small size limit"
	json_check '
assert summary["acted"] == 0 and summary["unscanned"] >= 4, summary
' || { mc_show; mc_fail "$format: size limit"; }
	[ "$(seen)" = "$ALL" ] || { seen; mc_fail "$format: the size-limited run changed mailboxes"; }

	mc_log "$format: clean alice, with her mailboxes open in an IMAP client"
	mc_cure --json mailbox clean -s dovecot:alice
	mc_expect_rc 1 "$format: clean"
	run=$(json_check '
m = [e for e in ev if e["event"] == "match"]
assert summary["matched"] == 4 and summary["acted"] == 4 and summary["errors"] == 0, summary
assert all(e["action"] == "quarantined" and e["quarantine_id"] for e in m), m
print(summary["run"])') || { mc_show; mc_fail "$format: clean results"; }
	[ "$(seen)" = "$CLEAN" ] || { seen; mc_fail "$format: IMAP does not see exactly the clean messages"; }
	t4_no_log_errors "$format clean"
	if [ "$format" = mdbox ]; then
		t4_doveadm purge -u alice
		[ "$(seen)" = "$CLEAN" ] || { seen; mc_fail "$format: IMAP after purge"; }
		t4_no_log_errors "$format purge"
	fi

	mc_log "$format: the quarantine holds the messages exactly, with their Dovecot location"
	python3 - "$MC_Q" "$T/orig" <<'EOF' || mc_fail "$format: quarantined bytes or records"
import glob, json, os, sys
q, orig = sys.argv[1:3]
n = 0
for meta in glob.glob(q + "/entries/*/meta.json"):
    r = json.load(open(meta))
    raw = open(os.path.join(os.path.dirname(meta), "message"), "rb").read()
    want = open(os.path.join(orig, r["subject"] + ".eml"), "rb").read()
    assert raw == want, r["subject"]
    x = r["extra"]
    assert r["loc"]["kind"] == "dovecot" and r["loc"]["user"] == "alice", r["loc"]
    assert len(x["mailbox_guid"]) == 32 and x["uid"] >= 1 and x["guid"], x
    n += 1
    if r["subject"] == "virus one":
        assert r["loc"]["folder"] == "INBOX"
        assert {"\\Seen", "\\Flagged", "$Junk"} <= set(x["flags"].split()), x
    if r["subject"] == "virus sent":
        assert r["loc"]["folder"] == "Sent Items" and "\\Answered" in x["flags"], r
assert n == 4, n
EOF

	mc_log "$format: restore the run (a folder deleted meanwhile is recreated)"
	t4_doveadm mailbox delete -u alice Old
	mc_cure quarantine restore --run "$run"
	mc_expect_rc 0 "$format: restore"
	[ "$(seen)" = "$ALL" ] || { seen; mc_fail "$format: IMAP after restore"; }
	t4_no_log_errors "$format restore"
	t4_doveadm -f pager fetch -u alice text mailbox INBOX header Subject "looks like doveadm output" |
		tail -c +7 | cmp -s - "$T/orig/looks like doveadm output.eml" ||
		mc_fail "$format: the tricky message changed"
done

mc_log "ok"
