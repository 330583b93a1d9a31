#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1065-missing-closing-boundary - a multipart whose closing
#	boundary is missing is scanned and searched to its end
# DESCRIPTION
#	Spam and old mailers often end a message without the closing
#	boundary of its last multipart. Such a message is complete as
#	far as anyone can tell: its last part runs to the end of the
#	message, as mail readers and libclamav read it. It gets a verdict
#	and is never unscanned for it.
#
#	A Maildir and an mbox hold such messages: EICAR in the last part
#	(with and without a final line break), EICAR in a part of an inner
#	multipart left open inside a closed outer one, and clean ones.
#	"mailbox find" (part by part and --scan whole) reports the three
#	infected messages, nothing unscanned, exit 1; over the clean ones
#	alone, exit 0. "not virus" matches exactly the clean ones.
#
#	The three-valued query logic agrees with itself: for each term
#	X (words of the first part, of the last part, a phrase across
#	markup in the last HTML part, the last part's file name, a word
#	that is nowhere), exactly one of "X" and "not X" matches each
#	message, and neither leaves it unscanned.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3 base64
mc_setup

md=$T/Maildir
clean=$T/clean
mbox=$T/mbox
mc_maildir "$md"
mc_maildir "$clean"

mc_eicar >"$T/eicar"
"$MC_PYTHON" - "$md/cur" "$clean/cur" "$mbox" "$T/eicar" <<'EOF'
import base64, sys
cur, clean, mbox, eicar_path = sys.argv[1:5]
eicar = open(eicar_path, "rb").read()

def head(tag, boundary, ctype="multipart/mixed"):
    return ("From: Spammer <spam@example.com>\nTo: mo@example.com\n"
            "Subject: %s\nDate: Mon, 02 Mar 2026 10:00:00 +0000\n"
            "Message-ID: <%s@t1065.test>\nMIME-Version: 1.0\n"
            'Content-Type: %s; boundary="%s"\n\n' % (tag, tag, ctype, boundary))

def attach(boundary, name, data):
    return ("--%s\nContent-Type: application/octet-stream; name=\"%s\"\n"
            "Content-Disposition: attachment; filename=\"%s\"\n"
            "Content-Transfer-Encoding: base64\n\n%s" %
            (boundary, name, name, base64.encodebytes(data).decode()))

text = "--B\nContent-Type: text/plain\n\nfirst part, plain words\n"
html = "--B\nContent-Type: text/html\n\n<p>last <b>words</b> in html</p>\n"
msgs = {
    # Infected, the last part unclosed.
    "infected-last": head("infected-last", "B") + text + attach("B", "e.com", eicar),
    "infected-no-newline": (head("infected-no-newline", "B") + text +
                            attach("B", "e.com", eicar)).rstrip("\n"),
    # Infected, inside an inner multipart that is never closed.
    "infected-inner": (head("infected-inner", "O") +
                       '--O\nContent-Type: multipart/mixed; boundary="B"\n\n' +
                       text + attach("B", "e.com", eicar) +
                       "--O\nContent-Type: text/plain\n\nouter end\n--O--\n"),
    # Clean.
    "clean-html": head("clean-html", "B", "multipart/alternative") + text + html,
    "clean-attachment": head("clean-attachment", "B") + text +
                        attach("B", "notes.txt", b"harmless notes\n"),
}
for i, (tag, m) in enumerate(sorted(msgs.items())):
    name = "17000000%02d.M%d.t1065:2,S" % (i, i)
    open("%s/%s" % (cur, name), "w").write(m)
    if tag.startswith("clean"):
        open("%s/%s" % (clean, name), "w").write(m)
    with open(mbox, "a") as f:
        f.write("From spam@example.com Mon Mar  2 10:00:00 2026\n" + m +
                ("\n" if m.endswith("\n") else "\n\n"))
EOF

# counts FILE: "EVENT N" for each kind of event but the summary.
counts() {
	mc_json "$1" '
import collections
c = collections.Counter(e["event"] for e in events if e["event"] != "summary")
for k in sorted(c):
    print(k, c[k])'
}

for store in "maildir:$md --scan parts" "maildir:$md --scan whole" "mbox:$mbox --scan parts"; do
	# shellcheck disable=SC2086
	mc_cure --json mailbox find -s $store
	mc_expect_rc 1 "find -s $store"
	mc_assert_eq "match 3" "$(counts "$MC_OUT")" "events of find -s $store"
	mc_assert_eq "infected-inner	virus=Eicar-Test-Signature.UNOFFICIAL
infected-last	virus=Eicar-Test-Signature.UNOFFICIAL
infected-no-newline	virus=Eicar-Test-Signature.UNOFFICIAL" \
		"$(mc_events "$MC_OUT" match subject reasons | sort)" "matches of find -s $store"
done
for mode in parts whole; do
	mc_cure --json --scan "$mode" mailbox find -s "maildir:$clean"
	mc_expect_rc 0 "find --scan $mode over the clean ones"
	mc_assert_eq "" "$(counts "$MC_OUT")" "events of find --scan $mode, clean"
done

mc_cure --json mailbox find -s "maildir:$md" 'not virus'
mc_expect_rc 1 "find 'not virus'"
mc_assert_eq "clean-attachment
clean-html" "$(mc_events "$MC_OUT" match subject | sort)" "matches of 'not virus'"

# Each term and its negation: exactly one matches each message.
for term in 'body:plain' 'body:words' 'body:"last words in html"' \
	'body:harmless' 'attachment:e.com' 'attachment:notes.txt' 'body:nowhere'; do
	mc_cure --json mailbox find -s "maildir:$md" "$term"
	[ "$MC_RC" = 0 ] || mc_expect_rc 1 "find $term"
	grep -q '"event":"unscanned"' "$MC_OUT" && { mc_show >&2; mc_fail "find $term: unscanned"; }
	yes=$(mc_events "$MC_OUT" match subject | sort)
	mc_cure --json mailbox find -s "maildir:$md" "not $term"
	[ "$MC_RC" = 0 ] || mc_expect_rc 1 "find not $term"
	grep -q '"event":"unscanned"' "$MC_OUT" && { mc_show >&2; mc_fail "find not $term: unscanned"; }
	no=$(mc_events "$MC_OUT" match subject | sort)
	mc_log "$term: ${yes//$'\n'/ }"
	mc_assert_eq "clean-attachment
clean-html
infected-inner
infected-last
infected-no-newline" "$(printf '%s\n%s\n' "$yes" "$no" | sed '/^$/d' | sort)" \
		"messages matched by $term or by not $term, once each"
done
