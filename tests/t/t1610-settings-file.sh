#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1610-settings-file - every setting of mailcure.conf takes effect,
#	and the command line beats it
# DESCRIPTION
#	Each setting of the settings file (--config FILE) is shown to
#	act: the databases find or miss EICAR, the quarantine and the
#	state directory are where the file says, tempdir holds the
#	engine's directory (seen while the run waits for an mbox lock
#	held here), scan whole makes libclamav parse every message, the
#	verdict cache is written to cache and cache_size bounds it, the
#	limits make messages unscanned, progress shows the progress line,
#	dovecot_config reaches doveadm -c, isolate_allow and
#	isolate_ports shape isolate's rules (a dry run), postfix_config
#	is the queue's instance. Each time the option on the command line
#	wins over the file; $MAILCURE_DOVECOT_CONFIG wins too.
#	jobs and max_scan_time are shown to be read (a bad value is
#	refused, a good one taken) but not to act, which nothing a run
#	prints shows.
#
#	Errors: an unknown setting, one set twice, a malformed line, a
#	value the option refuses, a relative path, a file others may
#	write and a missing --config FILE each exit 2 naming the file
#	(and the line); --help and --version still work. respond's steps
#	get the same --config.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_setup

conf=$T/mailcure.conf
# conf LINE...: the settings file holds these lines.
conf() {
	printf '%s\n' "$@" >"$conf"
	chmod 600 "$conf"
}
# run ARGS...: mailcure with the settings file and nothing else.
run() { mc_run --config "$conf" --progress never "$@"; }
# err_has TEXT: stderr of the last run holds TEXT.
err_has() {
	grep -qF -- "$1" "$MC_ERR" || { mc_show >&2; mc_fail "stderr lacks: $1"; }
}

md=$T/Maildir
mc_maildir "$md"
mc_msg_eicar -s "infected" | mc_maildir_put "$md" new >/dev/null
mc_msg_plain -s "clean" -b "$(head -c 3000 /dev/zero | tr '\0' x)" |
	mc_maildir_put "$md" new >/dev/null
orig=$T/orig
cp -a "$md" "$orig"
# Signatures that do not know EICAR.
echo "0123456789abcdef0123456789abcdef:17:Other.UNOFFICIAL" >"$T/other.hdb"

mc_log "database"
conf "database = $MC_SIGS"
run mailbox find -s "maildir:$md"
mc_expect_rc 1 "database from the file"
conf "database = $T/other.hdb"
run mailbox find -s "maildir:$md"
mc_expect_rc 0 "database without EICAR"
conf "database = $T/other.hdb, $MC_SIGS"
run mailbox find -s "maildir:$md"
mc_expect_rc 1 "database list"
conf "database = $MC_SIGS"
run -d "$T/other.hdb" mailbox find -s "maildir:$md"
mc_expect_rc 0 "-d replaces the file's databases"

mc_log "yara"
printf 'rule infected_subject { strings: $s = "Subject: infected" condition: $s }\n' >"$T/a.yar"
printf 'rule clean_subject { strings: $s = "Subject: clean" condition: $s }\n' >"$T/b.yar"
conf "database = $MC_SIGS" "yara = $T/a.yar"
run --json mailbox find -s "maildir:$md" yara
mc_expect_rc 1 "yara rules from the file"
grep -q infected_subject "$MC_OUT" || { mc_show; mc_fail "the file's rule did not match"; }
run --json --yara "$T/b.yar" mailbox find -s "maildir:$md" yara
mc_expect_rc 1 "--yara replaces the file's rules"
if grep -q infected_subject "$MC_OUT" || ! grep -q clean_subject "$MC_OUT"; then
	mc_show; mc_fail "--yara did not replace the file's rules"
fi

mc_log "clamd"
conf "database = $MC_SIGS" "clamd = $T/no-such-clamd.sock"
run mailbox find -s "maildir:$md"
mc_expect_rc 2 "clamd from the file, not there"
err_has "no-such-clamd.sock"

mc_log "quarantine"
cp -a "$orig" "$T/md2"
conf "database = $MC_SIGS" "quarantine = $T/qfile"
run --dry-run mailbox clean -s "maildir:$md"
mc_expect_rc 1 "dry run"
run mailbox clean -s "maildir:$md"
mc_expect_rc 1 "clean into the file's quarantine"
[ -n "$(find "$T/qfile" -type f 2>/dev/null)" ] || mc_fail "nothing in the file's quarantine"
run --quarantine "$T/qcli" mailbox clean -s "maildir:$T/md2"
mc_expect_rc 1 "clean into the command line's quarantine"
[ -n "$(find "$T/qcli" -type f 2>/dev/null)" ] || mc_fail "nothing in --quarantine"
run --quarantine "$T/qcli" quarantine list --json
mc_expect_rc 0 "quarantine list"
[ "$(grep -c . "$MC_OUT")" -ge 1 ] || mc_fail "--quarantine list is empty"

mc_log "state_dir"
conf "state_dir = $T/state"
run --json isolate --status
mc_json "$MC_OUT" 'assert events[0]["state"] == "'"$T"'/state/isolate.json", events'
run --json --state-dir "$T/cli" isolate --status
mc_json "$MC_OUT" 'assert events[0]["state"] == "'"$T"'/cli/isolate.json", events'

mc_log "tempdir, jobs"
mkdir "$T/td" "$T/td2"
# engine_dir ARGS...: where the engine's directory is made, seen while
# "mailbox clean" of an mbox waits for the dotlock held here.
engine_dir() {
	rm -f "$T/mbox"
	mc_msg_eicar -s "in an mbox" | mc_mbox_put "$T/mbox" >/dev/null
	: >"$T/mbox.lock"
	mc_run_bg --config "$conf" --progress never --quarantine "$MC_Q" "$@" \
		mailbox clean -s "mbox:$T/mbox"
	local i
	for i in $(seq 100); do
		found=$(ls -d "$T"/td*/mailcure-"$MC_PID"-* /dev/shm/mailcure-"$MC_PID"-* \
			"$TMPDIR"/mailcure-"$MC_PID"-* 2>/dev/null || true)
		[ -z "$found" ] || break
		sleep 0.1
	done
	rm -f "$T/mbox.lock"
	mc_wait_bg
	mc_expect_rc 1 "clean $*"
}
conf "database = $MC_SIGS" "tempdir = $T/td"
engine_dir
case $found in "$T/td/mailcure-"*) ;; *) mc_fail "engine directory '$found', not in $T/td" ;; esac
engine_dir --tempdir "$T/td2"
case $found in "$T/td2/mailcure-"*) ;; *) mc_fail "engine directory '$found', not in $T/td2" ;; esac
conf "database = $MC_SIGS" "jobs = 3"
run mailbox find -s "maildir:$orig"
mc_expect_rc 1 "jobs = 3"

mc_log "scan"
conf "database = $MC_SIGS" "scan = whole"
run --json mailbox find -s "maildir:$orig"
mc_json "$MC_OUT" 'assert events[-1]["engine"]["messages_whole"] == 2, events[-1]'
run --json --scan parts mailbox find -s "maildir:$orig"
mc_json "$MC_OUT" 'assert events[-1]["engine"]["messages_whole"] == 0, events[-1]'

mc_log "cache, cache_size"
many=$T/many
mc_maildir "$many"
for i in $(seq 1500); do
	printf 'From: a@example.org\nSubject: %s\nMessage-ID: <%s@example.org>\n\nbody %s\n' \
		"$i" "$i" "$i" >"$many/cur/$i.host:2,S"
done
conf "database = $MC_SIGS" "cache = $T/cache"
run mailbox find -s "maildir:$many"
mc_expect_rc 0 "find with the cache"
[ -s "$T/cache" ] || mc_fail "no verdict cache at $T/cache"
big=$(stat -c %s "$T/cache")
conf "database = $MC_SIGS" "cache = $T/cache" "cache_size = 64k"
run mailbox find -s "maildir:$many"
small=$(stat -c %s "$T/cache")
[ "$small" -lt "$big" ] && [ "$small" -le 70000 ] ||
	mc_fail "cache_size = 64k: cache file of $small bytes (8M: $big)"
run --cache-size 8M mailbox find -s "maildir:$many"
[ "$(stat -c %s "$T/cache")" -gt "$small" ] || mc_fail "--cache-size did not beat cache_size"
run --cache "$T/cache2" mailbox find -s "maildir:$many"
[ -s "$T/cache2" ] || mc_fail "--cache did not beat cache"

mc_log "limits"
conf "database = $MC_SIGS" "max_message_size = 1k"
run --json mailbox find -s "maildir:$orig"
mc_expect_rc 2 "max_message_size"
[ "$(mc_summary "$MC_OUT" unscanned)" = 1 ] || { mc_show; mc_fail "max_message_size: not one unscanned"; }
run --json --max-message-size 1M mailbox find -s "maildir:$orig"
[ "$(mc_summary "$MC_OUT" unscanned)" = 0 ] || mc_fail "--max-message-size did not beat the file"
# The MIME limits bound the walk of a query that looks at the parts
# (a virus query scans a message beyond them whole).
conf "database = $MC_SIGS" "max_mime_parts = 1"
run --json mailbox find -s "maildir:$orig" 'attachment:*'
[ "$(mc_summary "$MC_OUT" unscanned)" -ge 1 ] || { mc_show; mc_fail "max_mime_parts: nothing unscanned"; }
run --json --max-mime-parts 100 mailbox find -s "maildir:$orig" 'attachment:*'
[ "$(mc_summary "$MC_OUT" unscanned)" = 0 ] || mc_fail "--max-mime-parts did not beat the file"
conf "database = $MC_SIGS" "max_mime_depth = 0"
run --json mailbox find -s "maildir:$orig" 'attachment:*'
[ "$(mc_summary "$MC_OUT" unscanned)" -ge 1 ] || { mc_show; mc_fail "max_mime_depth: nothing unscanned"; }
run --json --max-mime-depth 10 mailbox find -s "maildir:$orig" 'attachment:*'
[ "$(mc_summary "$MC_OUT" unscanned)" = 0 ] || mc_fail "--max-mime-depth did not beat the file"
conf "database = $MC_SIGS" "max_scan_time = 5000"
run mailbox find -s "maildir:$orig"
mc_expect_rc 1 "max_scan_time = 5000"

mc_log "progress"
conf "database = $MC_SIGS" "progress = always"
mc_run --config "$conf" mailbox find -s "maildir:$orig"
grep -q "messages (" "$MC_ERR" || { mc_show; mc_fail "progress = always: no progress line"; }
mc_run --config "$conf" --progress never mailbox find -s "maildir:$orig"
! grep -q "messages (" "$MC_ERR" || mc_fail "--progress never did not beat the file"

mc_log "dovecot_config"
cat >"$T/doveadm" <<EOF
#!/bin/sh
echo "\$*" >>"$T/doveadm.log"
exit 75
EOF
chmod 755 "$T/doveadm"
export MAILCURE_DOVEADM=$T/doveadm
conf "database = $MC_SIGS" "dovecot_config = $T/file-dovecot.conf"
run mailbox find -s "dovecot:alice"
grep -q -- "-c $T/file-dovecot.conf" "$T/doveadm.log" || { cat "$T/doveadm.log"; mc_fail "dovecot_config not given to doveadm"; }
: >"$T/doveadm.log"
run --dovecot-config "$T/cli-dovecot.conf" mailbox find -s "dovecot:alice"
grep -q -- "-c $T/cli-dovecot.conf" "$T/doveadm.log" || mc_fail "--dovecot-config did not beat the file"
: >"$T/doveadm.log"
MAILCURE_DOVECOT_CONFIG=$T/env-dovecot.conf run mailbox find -s "dovecot:alice"
grep -q -- "-c $T/env-dovecot.conf" "$T/doveadm.log" || mc_fail "the environment did not beat the file"
unset MAILCURE_DOVEADM

mc_log "isolate_allow, isolate_ports"
conf "state_dir = $T/state" "isolate_allow = 192.0.2.0/24," "  2001:db8::/32" \
	"isolate_ports = 25, 587"
run --dry-run isolate
mc_expect_rc 0 "isolate --dry-run"
grep -q "would isolate: ports 25 587 closed, open to loopback, 192.0.2.0/24, 2001:db8::/32" "$MC_OUT" ||
	{ mc_show; mc_fail "isolate_allow, isolate_ports not applied"; }
run --dry-run isolate --allow 198.51.100.0/24 --ports 993
grep -q "would isolate: ports 993 closed, open to loopback, 198.51.100.0/24$" "$MC_OUT" ||
	{ mc_show; mc_fail "--allow, --ports did not beat the file"; }

mc_log "postfix_config"
conf "postfix_config = $T/no-postfix"
run queue status
mc_expect_rc 2 "queue status of a missing instance"
err_has "$T/no-postfix"
run queue status --postfix-config "$T/cli-postfix"
err_has "$T/cli-postfix"

mc_log "respond's steps read the same file"
conf "database = $MC_SIGS" "state_dir = $T/state" "quarantine = $T/qrespond"
mc_run --config "$conf" --dry-run respond -s "maildir:$orig" --skip isolate \
	--skip queue-freeze --skip queue-delete --skip queue-thaw --skip reconnect --skip host-scan
mc_expect_rc 0 "respond --dry-run"
grep -q "Eicar-Test-Signature" "$MC_OUT" || { mc_show; mc_fail "respond's mailbox step did not use the file's database"; }

mc_log "errors name the file and the line"
conf "jobs = 2" "threads = 4"
run mailbox find -s "maildir:$orig"
mc_expect_rc 2 "unknown setting"
err_has "$conf:2: unknown setting threads"
# Usage and version need no settings (completion reads them).
run --version
mc_expect_rc 0 "--version with a bad settings file"
run mailbox --help
mc_expect_rc 0 "mailbox --help with a bad settings file"
conf "jobs = 2" "jobs = 3"
run mailbox find -s "maildir:$orig"
mc_expect_rc 2 "twice"
err_has "$conf:2: jobs is set twice (first at line 1)"
conf "# settings" "jobs 2"
run mailbox find -s "maildir:$orig"
mc_expect_rc 2 "no ="
err_has "$conf:2: not a 'name = value' line"
conf "" "jobs = 0"
run mailbox find -s "maildir:$orig"
mc_expect_rc 2 "jobs = 0"
err_has "$conf:2: --jobs: between 1 and 1024: 0"
for bad in "cache_size = 1k" "max_scan_time = soon" "max_message_size = -1" \
	"scan = some" "progress = sometimes" "tempdir = $T/nothing" \
	"isolate_allow = 192.0.2.0/33" "isolate_ports = 25,x" "quarantine = q"; do
	conf "# bad" "$bad"
	run mailbox find -s "maildir:$orig"
	mc_expect_rc 2 "$bad"
	err_has "$conf:2: "
done
conf "jobs = 2"
chmod 664 "$conf"
run mailbox find -s "maildir:$orig"
mc_expect_rc 2 "group-writable file"
err_has "refused"
run --config "$T/missing.conf" mailbox find -s "maildir:$orig"
mc_expect_rc 2 "missing --config FILE"
err_has "$T/missing.conf"
echo "ok: every setting of the settings file takes effect; the command line beats it"
