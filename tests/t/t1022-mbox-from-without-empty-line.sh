#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1022-mbox-from-without-empty-line - a From_ line right after a
#	message's last line starts the next message
# DESCRIPTION
#	An mbox whose writer did not end each message with an empty
#	line: the From_ line of a clean message directly follows the
#	last line of an infected one (and of a clean one), in the
#	classic, Thunderbird and Google Takeout forms. "mailbox clean"
#	sees each message (as mutt and Python's mailbox do) and cuts
#	out only the infected one: the rest of the file is kept byte for
#	byte. A message whose body holds a line that only looks like a
#	From_ line (no header follows it) is one message; infected, it
#	is not cut, and the error says why. Restoring the run brings
#	the infected message back.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3 base64
mc_setup

mail=$T/var/mail
mbox=$mail/gina
mkdir -p "$mail"

# Messages without the empty line at their end.
mc_msg_plain -s "first, clean" >"$T/m1"
mc_msg_eicar -s "second, infected" >"$T/m2"
mc_msg_plain -s "third, clean, right after the infected one" >"$T/m3"
mc_msg_plain -s "fourth, clean" -b "From the start of the body, no date here." >"$T/m4"
{
	printf 'From alice@example.com Thu Nov  5 12:00:00 2002\n'; cat "$T/m1"
	printf 'From - Thu Nov  5 12:00:01 2002\n'; cat "$T/m2"
	printf 'From 1582352617338224183@xxx Wed Nov 13 01:26:08 +0000 2019\n'; cat "$T/m3"
	printf 'From carol@example.com Thu Nov  5 12:00:03 2002\n'; cat "$T/m4"
} >"$mbox"
cp "$mbox" "$T/orig"
infected_at=$(grep -b -m1 '^From - ' "$mbox" | cut -d: -f1)
after_at=$(grep -b -m1 '^From 1582352617338224183@xxx ' "$mbox" | cut -d: -f1)

mc_cure --json mailbox find -s "mbox:$mbox" all
mc_expect_rc 1 "mailbox find all"
mc_assert_eq 4 "$(mc_summary "$MC_OUT" matched)" "messages seen"

mc_cure --json mailbox clean -s "mbox:$mbox"
mc_expect_rc 1 "mailbox clean"
mc_assert_eq "1 1" "$(mc_summary "$MC_OUT" matched) $(mc_summary "$MC_OUT" acted)" \
	"matched and acted"
mc_assert_eq "$infected_at" "$(mc_events "$MC_OUT" match offset)" "offset of the match"
run=$(mc_summary "$MC_OUT" run)
head -c "$infected_at" "$T/orig" >"$T/expected"
tail -c +"$((after_at + 1))" "$T/orig" >>"$T/expected"
mc_assert_file_eq "$T/expected" "$mbox" "mbox after the clean"

mc_cure quarantine restore --run "$run"
mc_expect_rc 0 "quarantine restore --run"
{ cat "$T/expected"; printf '\n'; head -c "$after_at" "$T/orig" | tail -c +"$((infected_at + 1))"
  printf '\n'; } >"$T/restored"
mc_assert_file_eq "$T/restored" "$mbox" "mbox after the restore"

# A line in a body that looks like a From_ line but is followed by no
# header: one message, never cut (it may be two).
doubt=$mail/hal
mc_msg_eicar -s "infected, quoting an mbox" -b "Someone wrote:
From dave@example.com Thu Nov  5 12:00:00 2002
and that is all." >"$T/m5"
# Written unquoted, as the careless writer did.
{ printf 'From x@example.com Thu Nov  5 12:00:00 2002\n'; cat "$T/m5"; printf '\n'; } >"$doubt"
grep -q '^From dave@example.com ' "$doubt" || mc_fail "test setup: the line is not in $doubt"
cp "$doubt" "$T/doubt.orig"
mc_cure --json mailbox clean -s "mbox:$doubt"
mc_expect_rc 2 "mailbox clean of a message that may be two"
mc_assert_eq "1 0" "$(mc_summary "$MC_OUT" matched) $(mc_summary "$MC_OUT" acted)" \
	"matched and acted"
mc_events "$MC_OUT" match why | grep -q "may be two messages: the line at offset" ||
	{ mc_show; mc_fail "no reason given for not cutting"; }
mc_assert_file_eq "$T/doubt.orig" "$doubt" "the mbox of the doubtful message"
