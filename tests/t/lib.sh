# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	lib.sh - helpers for the mailcure integration scripts
# SYNOPSIS
#	. "$MC_SRC/tests/t/lib.sh"
# DESCRIPTION
#	Sourced by tests/t/tNNNN-*.sh. Sets up a private temporary
#	directory, builds messages and mail stores, runs mailcure with
#	its output captured, takes checksums of stores and states what
#	differed when an assertion fails.
#
#	Environment (set by tests/run-tests.sh; defaults for a manual
#	run from the source tree): MAILCURE, MC_SRC, MC_SIGS, TMPDIR.
#
#	Setup and exit
#	mc_setup	make $T (a fresh directory, removed on exit, also
#			on failure) and $MC_Q="$T/q" (the quarantine).
#	mc_at_exit CMD	run CMD (eval'd) on exit, before $T is removed.
#	mc_skip WHY	exit 77 ("skip: WHY").
#	mc_fail WHY	exit 1 ("FAIL: WHY").
#	mc_need CMD...	skip unless every CMD is available.
#	mc_need_root, mc_need_testfiles
#
#	Running mailcure
#	mc_run ARGS...	"$MAILCURE" ARGS; stdout in $MC_OUT, stderr in
#			$MC_ERR, exit status in $MC_RC. Never fails itself.
#	mc_cure ARGS...	mc_run with -d "$MC_SIGS" --quarantine "$MC_Q"
#			--progress never before ARGS.
#	mc_expect_rc N [WHAT]	fail, showing the output, unless $MC_RC is N.
#	mc_show		print the last command, status, stdout and stderr.
#
#	Messages (written to stdout)
#	mc_msg_plain [OPTS]		a text/plain message
#	mc_msg_attach FILE [OPTS]	multipart/mixed, FILE attached in base64
#	mc_msg_eicar [OPTS]		the EICAR test file attached
#	mc_eicar			the EICAR test string
#		OPTS: -f FROM -t TO -c CC -s SUBJECT -d DATE -i MESSAGE-ID
#		      -b BODY -n ATTACHMENT-NAME -H "Name: value" (repeatable)
#
#	Stores
#	mc_maildir DIR			make DIR/{cur,new,tmp}
#	mc_maildir_put DIR [new|cur [FLAGS]] < MSG
#					deliver MSG, print the file's path
#	mc_mbox_put FILE [SENDER] < MSG	append MSG in mboxrd form (From_ line,
#					">From " quoting, blank line), print
#					the byte offset of its From_ line
#
#	Mail servers (the MTA instances of lib-postfix.sh, lib-exim.sh)
#	mc_free_port	a TCP port no socket uses, below the ephemeral range,
#			reserved for the script
#	mc_smtp PORT FROM TO SUBJECT [SWAKS ARGS]	send to 127.0.0.1:PORT
#		over SMTP (TO may be "a,b"); fails on any SMTP error.
#	mc_smtp_bg PORT ARGS	mc_smtp in the background (8 at a time)
#	mc_smtp_wait	wait for them; fail when one failed
#	mc_maildir_count DIR	messages in the Maildir DIR (new and cur)
#	mc_wait_maildir DIR N SECONDS LOG	until DIR holds N messages;
#		fail (with the tail of LOG) when it holds another number
#	mc_netns_private	a network namespace of the script's own in
#		$MC_NS (removed on exit), where respond may isolate; skip
#		where namespaces or nftables in them do not work
#	mc_netns_cure STATE ARGS	mailcure in $MC_NS with the test
#		signatures, quarantine and state directory STATE (no
#		Dovecot asked: doveadm is /bin/false); sets MC_RC
#
#	Checksums and assertions
#	sha_multiset DIR [--meta]	sorted "kind folder sha256" lines, one
#		per message: each Maildir file (folder = Maildir folder
#		path relative to DIR) and each message of each mbox file
#		(From_ line to the next From_ line, trailing newlines
#		excluded). --meta adds new|cur, Maildir flags, owner and
#		mode (for mbox: of the mbox file).
#	mc_snapshot DIR		sorted "path type mode uid:gid size sha256|target"
#		of everything under DIR, for "nothing changed" checks.
#	mc_events FILE EVENT FIELD...	tab-separated FIELDs of every JSON
#		line of FILE whose "event" is EVENT ("reasons" prints
#		kind=name|value pairs joined by ",").
#	mc_summary FILE FIELD		a field of the "summary" event
#	mc_json FILE CODE	python3 CODE with `events` (list of dicts)
#	mc_assert_eq EXPECTED ACTUAL WHAT	diff -u when they differ
#	mc_assert_file_eq A B WHAT		cmp, with a diff of both
#	mc_assert_finds STORE DOMAIN EXPECTED QUERY	"mailbox find -s
#		STORE QUERY" matches exactly the messages EXPECTED (their
#		tags, sorted, space-separated: Message-ID <TAG@DOMAIN>)
#		and exits 1 with matches, 0 without.
#
# SECURITY
#	Everything happens under $T. Nothing here touches
#	/var/lib/mailcure or the system outside temporary directories.

: "${MC_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${MC_SIGS:=$MC_SRC/tests/sigs}"
: "${MAILCURE:=$MC_SRC/build/mailcure}"
: "${TMPDIR:=/tmp}"
export MC_SRC MC_SIGS MAILCURE TMPDIR

MC_TESTFILES=/usr/share/clamav-testfiles
# The system's python3 directly: a version manager's shim on PATH can
# cost half a second per start.
if [ -x /usr/bin/python3 ]; then MC_PYTHON=/usr/bin/python3; else MC_PYTHON=python3; fi
mc_at_exit_cmds=()
mc_seq=0

# mc_next NAME: the next number of counter NAME. Kept in a file, as
# messages are usually built in one side of a pipeline (a subshell).
mc_next() {
	local f="${T:-/nonexistent}/.seq-$1" n=0
	if [ -d "${T:-/nonexistent}" ]; then
		[ -f "$f" ] && n=$(cat "$f")
		n=$((n + 1))
		echo "$n" >"$f"
		mc_seq=$n
	else
		mc_seq=$BASHPID$RANDOM
	fi
}

mc_log() { echo "# $*"; }

mc_skip() {
	echo "skip: $*"
	exit 77
}

mc_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

mc_at_exit() { mc_at_exit_cmds+=("$1"); }

mc_exit_handler() {
	local rc=$? c
	for c in "${mc_at_exit_cmds[@]}"; do
		eval "$c" || true
	done
	if [ -n "${T:-}" ] && [ -d "$T" ]; then
		# A failing test may leave read-only or immutable files.
		chmod -R u+rwx "$T" 2>/dev/null
		rm -rf "$T"
	fi
	exit "$rc"
}

mc_setup() {
	[ -x "$MAILCURE" ] || mc_fail "MAILCURE=$MAILCURE is not an executable"
	T=$(mktemp -d "$TMPDIR/mc-test.XXXXXX") || mc_fail "mktemp"
	MC_Q=$T/q
	MC_OUT=$T/.stdout
	MC_ERR=$T/.stderr
	MC_RC=
	trap mc_exit_handler EXIT
	trap 'exit 130' INT TERM
	export T MC_Q
}

mc_need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || mc_skip "needs $c"
	done
}

mc_need_root() {
	[ "$(id -u)" = 0 ] || mc_skip "needs root"
}

mc_need_testfiles() {
	[ -f "$MC_TESTFILES/clam.exe" ] ||
		mc_skip "needs $MC_TESTFILES (Debian package clamav-testfiles)"
}

# --- running mailcure ---

mc_run() {
	mc_run_bg "$@"
	mc_wait_bg
}

# mc_run in the background: MC_PID is its pid, mc_wait_bg sets MC_RC.
# MC_PIDS lists the pids of every run of the script, so that what a
# run left behind can be told from what other scripts' runs left.
# Pids wrap (pid_max is often 32768), so a killed run of another
# script may have left a directory named for the same pid: what
# existed before the run started is not the run's (mc_run_left).
MC_PIDS=()
declare -A MC_SHM_BEFORE=()
mc_run_bg() {
	local before
	MC_LAST="$MAILCURE $*"
	before=" $(echo /dev/shm/mailcure-*) "
	"$MAILCURE" "$@" >"$MC_OUT" 2>"$MC_ERR" </dev/null &
	MC_PID=$!
	MC_PIDS+=("$MC_PID")
	MC_SHM_BEFORE[$MC_PID]=$before
}

# mc_run_left PID: the temporary directories in /dev/shm that the run
# PID made and left behind.
mc_run_left() {
	local d
	for d in "/dev/shm/mailcure-$1-"*; do
		[ -e "$d" ] || continue
		case ${MC_SHM_BEFORE[$1]-} in *" $d "*) continue ;; esac
		echo "$d"
	done
}

mc_wait_bg() {
	local e=$-
	set +e
	wait "$MC_PID"
	MC_RC=$?
	case $e in *e*) set -e ;; esac
	return 0
}

mc_cure() {
	mc_run -d "$MC_SIGS" --quarantine "$MC_Q" --progress never "$@"
}

mc_show() {
	echo "--- command: $MC_LAST"
	echo "--- exit status: $MC_RC"
	echo "--- stdout (last 60 lines):"
	tail -n 60 "$MC_OUT"
	echo "--- stderr (last 30 lines):"
	tail -n 30 "$MC_ERR"
}

mc_expect_rc() {
	local want=$1 what=${2:-mailcure}
	if [ "$MC_RC" != "$want" ]; then
		mc_show >&2
		mc_fail "$what: exit status $MC_RC, expected $want"
	fi
}

# --- messages ---

# The EICAR test string, built from its hex form so that no file in
# the source tree is itself detected.
mc_eicar() {
	# shellcheck disable=SC2059
	printf "$(printf '%s' 58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a | sed 's/../\\x&/g')"
}

# Parse message options into mc_o_* variables.
mc_msg_opts() {
	mc_next msg
	mc_o_from="Alice Example <alice@example.com>"
	mc_o_to="Bob Example <bob@example.org>"
	mc_o_cc=
	mc_o_subject="Test message $mc_seq"
	mc_o_date="Mon, 02 Mar 2026 10:00:00 +0000"
	mc_o_id="<test-$mc_seq.$$@mailcure.test>"
	mc_o_body="Hello,

this is test message $mc_seq.

Regards"
	mc_o_name=
	mc_o_headers=()
	local OPTIND=1 o
	while getopts "f:t:c:s:d:i:b:n:H:" o; do
		case $o in
		f) mc_o_from=$OPTARG ;;
		t) mc_o_to=$OPTARG ;;
		c) mc_o_cc=$OPTARG ;;
		s) mc_o_subject=$OPTARG ;;
		d) mc_o_date=$OPTARG ;;
		i) mc_o_id=$OPTARG ;;
		b) mc_o_body=$OPTARG ;;
		n) mc_o_name=$OPTARG ;;
		H) mc_o_headers+=("$OPTARG") ;;
		*) mc_fail "mc_msg: bad option" ;;
		esac
	done
	mc_o_shift=$((OPTIND - 1))
}

mc_msg_headers() {
	local h
	printf 'Return-Path: <%s>\n' "$(printf '%s' "$mc_o_from" | sed 's/.*<\(.*\)>.*/\1/')"
	printf 'From: %s\n' "$mc_o_from"
	printf 'To: %s\n' "$mc_o_to"
	[ -z "$mc_o_cc" ] || printf 'Cc: %s\n' "$mc_o_cc"
	printf 'Subject: %s\n' "$mc_o_subject"
	printf 'Date: %s\n' "$mc_o_date"
	printf 'Message-ID: %s\n' "$mc_o_id"
	for h in "${mc_o_headers[@]}"; do
		printf '%s\n' "$h"
	done
	printf 'MIME-Version: 1.0\n'
}

mc_msg_plain() {
	mc_msg_opts "$@"
	mc_msg_headers
	printf 'Content-Type: text/plain; charset=utf-8\n'
	printf 'Content-Transfer-Encoding: 8bit\n\n'
	printf '%s\n' "$mc_o_body"
}

# mc_msg_attach FILE [OPTS]: FILE (or "-" for stdin) attached in base64.
mc_msg_attach() {
	local file=$1 boundary
	shift
	mc_msg_opts "$@"
	[ -n "$mc_o_name" ] || mc_o_name=$(basename "$file")
	boundary="=_mailcure_test_${mc_seq}_$$"
	mc_msg_headers
	printf 'Content-Type: multipart/mixed; boundary="%s"\n\n' "$boundary"
	printf 'This is a multi-part message in MIME format.\n\n'
	printf -- '--%s\nContent-Type: text/plain; charset=utf-8\n\n%s\n\n' \
		"$boundary" "$mc_o_body"
	printf -- '--%s\n' "$boundary"
	printf 'Content-Type: application/octet-stream; name="%s"\n' "$mc_o_name"
	printf 'Content-Transfer-Encoding: base64\n'
	printf 'Content-Disposition: attachment; filename="%s"\n\n' "$mc_o_name"
	base64 -w 76 <"$file"
	printf -- '--%s--\n' "$boundary"
}

mc_msg_eicar() {
	local f
	f=$(mktemp "$T/.eicar.XXXXXX")
	mc_eicar >"$f"
	mc_msg_attach "$f" -n eicar.com "$@"
	rm -f "$f"
}

# --- stores ---

mc_maildir() {
	mkdir -p "$1/cur" "$1/new" "$1/tmp"
}

mc_maildir_put() {
	local dir=$1 sub=${2:-new} flags=${3:-} name
	mc_maildir "$dir"
	mc_next maildir
	name="$((1700000000 + mc_seq)).M${mc_seq}P$$.mailcure.test"
	[ "$sub" = new ] || name="$name:2,$flags"
	cat >"$dir/tmp/$name"
	mv "$dir/tmp/$name" "$dir/$sub/$name"
	echo "$dir/$sub/$name"
}

# Append stdin to mbox FILE (mboxrd), print the From_ line's offset.
mc_mbox_put() {
	local file=$1 sender=${2:-MAILER-DAEMON}
	mkdir -p "$(dirname "$file")"
	touch "$file"
	"$MC_PYTHON" -c '
import sys
path, sender = sys.argv[1], sys.argv[2]
msg = sys.stdin.buffer.read()
out = []
for line in msg.split(b"\n"):
    s = line.lstrip(b">")
    out.append(b">" + line if s.startswith(b"From ") else line)
body = b"\n".join(out)
if not body.endswith(b"\n"):
    body += b"\n"
with open(path, "ab") as f:
    off = f.tell()
    f.write(b"From " + sender.encode() + b" Mon Mar  2 10:00:00 2026\n" + body + b"\n")
print(off)
' "$file" "$sender"
}

# --- checksums ---

mc_py_lib='
import hashlib, json, os, stat, sys

def sha(b):
    return hashlib.sha256(b).hexdigest()

def mbox_messages(data):
    """(offset, raw) per message: From_ line to the next From_ line
    that starts a line after an empty line (or the start of file)."""
    starts = []
    pos = 0
    while True:
        if data.startswith(b"From ", pos) and (pos == 0 or data[pos-2:pos] == b"\n\n"):
            starts.append(pos)
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        pos = nl + 1
    return [(s, data[s:(starts[i+1] if i + 1 < len(starts) else len(data))])
            for i, s in enumerate(starts)]

def is_maildir(d):
    return all(os.path.isdir(os.path.join(d, s)) and not os.path.islink(os.path.join(d, s))
               for s in ("cur", "new"))

def multiset(root, meta):
    lines = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = os.path.basename(dirpath)
        parent = os.path.dirname(dirpath)
        for fn in sorted(filenames):
            p = os.path.join(dirpath, fn)
            st = os.lstat(p)
            if not stat.S_ISREG(st.st_mode):
                continue
            own = "%d:%d %o" % (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
            if base in ("cur", "new") and is_maildir(parent):
                folder = os.path.relpath(parent, root)
                with open(p, "rb") as f:
                    h = sha(f.read())
                line = "maildir %s %s" % (folder, h)
                if meta:
                    flags = fn.split(":2,", 1)[1] if ":2," in fn else "-"
                    line += " %s %s %s" % (base, flags or "-", own)
                lines.append(line)
            elif base == "tmp" and is_maildir(parent):
                continue
            else:
                with open(p, "rb") as f:
                    data = f.read()
                if not data.startswith(b"From "):
                    continue
                rel = os.path.relpath(p, root)
                for off, raw in mbox_messages(data):
                    line = "mbox %s %s" % (rel, sha(raw.rstrip(b"\n")))
                    if meta:
                        line += " %s" % own
                    lines.append(line)
    return sorted(lines)

def snapshot(root):
    lines = []
    for dirpath, dirnames, filenames in os.walk(root):
        for fn in dirnames + filenames:
            p = os.path.join(dirpath, fn)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            m = st.st_mode
            if stat.S_ISLNK(m):
                t, what = "l", os.readlink(p)
            elif stat.S_ISDIR(m):
                t, what = "d", "-"
            elif stat.S_ISREG(m):
                t = "f"
                try:
                    with open(p, "rb") as f:
                        what = sha(f.read())
                except OSError as e:
                    what = "unreadable"
            else:
                t, what = "o", "-"
            size = st.st_size if t == "f" else 0
            lines.append("%s %s %o %d:%d %d %s" % (rel, t, stat.S_IMODE(m), st.st_uid, st.st_gid, size, what))
    return sorted(lines)

def events(path):
    out = []
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                sys.exit("%s:%d: not JSON: %r" % (path, n, line[:200]))
    return out

def field(e, name):
    v = e.get(name)
    if name == "reasons" and isinstance(v, list):
        return ",".join("%s=%s" % (r.get("kind"), r.get("name", r.get("value"))) for r in v)
    if v is None:
        return "-"
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return str(v)
'

sha_multiset() {
	local meta=
	[ "${2:-}" = --meta ] && meta=1
	"$MC_PYTHON" -c "$mc_py_lib
print('\n'.join(multiset(sys.argv[1], bool(sys.argv[2]))))" "$1" "$meta"
}

mc_snapshot() {
	[ -e "$1" ] || { echo "(absent)"; return 0; }
	"$MC_PYTHON" -c "$mc_py_lib
print('\n'.join(snapshot(sys.argv[1])))" "$1"
}

# mc_mbox_offsets FILE: the offset of every message of an mbox.
mc_mbox_offsets() {
	"$MC_PYTHON" -c "$mc_py_lib
data = open(sys.argv[1], 'rb').read()
for off, raw in mbox_messages(data):
    print(off)" "$1"
}

mc_events() {
	local file=$1 ev=$2
	shift 2
	"$MC_PYTHON" -c "$mc_py_lib
for e in events(sys.argv[1]):
    if e.get('event') == sys.argv[2]:
        print('\t'.join(field(e, f) for f in sys.argv[3:]))" "$file" "$ev" "$@"
}

mc_summary() {
	"$MC_PYTHON" -c "$mc_py_lib
s = [e for e in events(sys.argv[1]) if e.get('event') == 'summary']
if not s:
    sys.exit('no summary event in ' + sys.argv[1])
print(field(s[-1], sys.argv[2]))" "$1" "$2"
}

mc_json() {
	"$MC_PYTHON" -c "$mc_py_lib
events = events(sys.argv[1])
$2" "$1"
}

# --- mail servers ---

mc_free_port() {
	local p lo r=/dev/shm/mc-test-ports owner
	# Below the ephemeral range, which clients' connections take
	# their local ports from (a listening check cannot see those);
	# reserved under $r for this script ($$, also in $(...)) while it
	# runs, as tests run in parallel and pick ports at random.
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
	[ "$lo" -gt 12000 ] || lo=32768
	mkdir -p "$r"
	for _ in $(seq 1 200); do
		p=$((10000 + RANDOM % (lo - 10000)))
		[ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ] || continue
		if ! mkdir "$r/$p" 2>/dev/null; then
			owner=$(cat "$r/$p/pid" 2>/dev/null) || continue
			! kill -0 "$owner" 2>/dev/null || continue
			rm -rf "$r/$p"
			mkdir "$r/$p" 2>/dev/null || continue
		fi
		echo "$$" >"$r/$p/pid"
		echo "$p"
		return 0
	done
	mc_fail "no free TCP port"
}

# mc_smtp PORT FROM TO SUBJECT [SWAKS ARGS...]
mc_smtp() {
	local port=$1 from=$2 to=$3 subject=$4 out
	shift 4
	out=$(swaks --server "127.0.0.1:$port" --from "$from" --to "$to" \
		--h-Subject "$subject" --h-From "$from" "$@" 2>&1) ||
		{ echo "$out" | tail -n 20 >&2; mc_fail "swaks: sending '$subject' failed"; }
}

MC_SMTP_BG=()
mc_smtp_bg() {
	mc_smtp "$@" &
	MC_SMTP_BG+=($!)
	[ ${#MC_SMTP_BG[@]} -lt 8 ] || mc_smtp_wait
}

mc_smtp_wait() {
	local p rc=0
	for p in "${MC_SMTP_BG[@]}"; do
		wait "$p" || rc=1
	done
	MC_SMTP_BG=()
	[ "$rc" = 0 ] || mc_fail "sending over SMTP failed"
}

mc_netns_private() {
	MC_NS=mc$$$RANDOM
	ip netns add "$MC_NS" 2>/dev/null || mc_skip "cannot create network namespaces"
	mc_at_exit "ip netns del $MC_NS"
	ip netns exec "$MC_NS" nft list ruleset >/dev/null 2>&1 ||
		mc_skip "nftables does not work in a network namespace here"
}

mc_netns_cure() {
	local state=$1 e=$-
	shift
	MC_LAST="$*"
	set +e
	MAILCURE_DOVEADM=/bin/false ip netns exec "$MC_NS" "$MAILCURE" -d "$MC_SIGS" \
		--quarantine "$MC_Q" --state-dir "$state" --progress never "$@" >"$MC_OUT" 2>"$MC_ERR"
	MC_RC=$?
	case $e in *e*) set -e ;; esac
	return 0
}

mc_maildir_count() {
	[ -d "$1" ] || { echo 0; return 0; }
	find "$1/new" "$1/cur" -type f 2>/dev/null | wc -l
}

mc_wait_maildir() {
	local dir=$1 want=$2 secs=$3 log=$4 n
	for _ in $(seq 1 $((secs * 10))); do
		n=$(mc_maildir_count "$dir")
		[ "$n" -ge "$want" ] && break
		sleep 0.1
	done
	[ "$n" = "$want" ] || { tail -n 30 "$log" >&2; mc_fail "mailbox ${dir##*/} holds $n messages, expected $want"; }
}

# --- scan processes ---

# mc_watch_scanners CWD_GLOB [CHECK]: watch the scan processes of the
# background run MC_PID until it ends, then wait for it. Its zygote
# must stay root; a scan process, once its working directory matches
# CWD_GLOB (it changes there after the fork), must be nobody with no
# groups, and CHECK PID CWD, when given, checks more; one seen twice
# elsewhere never changed, and fails. MC_SCANNERS counts those seen.
mc_watch_scanners() {
	local want=$1 check=${2:-} z s zuid ids groups cwd id unchanged=""
	local nuid ngid
	nuid=$(id -u nobody)
	ngid=$(id -g nobody)
	MC_SCANNERS=0
	while kill -0 "$MC_PID" 2>/dev/null; do
		for z in $(pgrep -P "$MC_PID" -x mailcure-zygote || true); do
			zuid=$(awk '/^Uid:/ { print $3 }' "/proc/$z/status" 2>/dev/null || true)
			[ -z "$zuid" ] || [ "$zuid" = 0 ] || mc_fail "the zygote runs as uid $zuid"
			for s in $(pgrep -P "$z" -x mailcure-scan || true); do
				ids=$(awk '/^Uid:|^Gid:/ { print $2, $3, $4, $5 }' \
					"/proc/$s/status" 2>/dev/null | tr '\n' ' ' || true)
				groups=$(awk '/^Groups:/ { $1 = ""; print }' "/proc/$s/status" \
					2>/dev/null || true)
				cwd=$(readlink "/proc/$s/cwd" 2>/dev/null || true)
				[ -n "$ids" ] && [ -n "$cwd" ] || continue
				# shellcheck disable=SC2254
				case $cwd in
				$want) ;;
				*)
					case " $unchanged " in
					*" $s "*) mc_fail "scan process $s stays in $cwd with ids $ids" ;;
					esac
					unchanged="$unchanged $s"
					continue
					;;
				esac
				MC_SCANNERS=$((MC_SCANNERS + 1))
				for id in $ids; do
					[ "$id" = "$nuid" ] || [ "$id" = "$ngid" ] ||
						mc_fail "scan process $s has ids $ids"
				done
				[ -z "${groups// /}" ] || mc_fail "scan process $s has groups$groups"
				[ -z "$check" ] || "$check" "$s" "$cwd"
			done
		done
		sleep 0.05
	done
	mc_wait_bg
}

# While the background run MC_PID works, kill its scan processes with
# SIGSEGV every 0.05 s, as a crash inside libclamav would end them;
# then wait for it. Sets mc_killed, mc_busy (killed while running)
# and mc_seen (every zygote and scan process seen).
mc_crash_scanners() {
	local z s state
	mc_seen=()
	mc_killed=0
	mc_busy=0
	while kill -0 "$MC_PID" 2>/dev/null; do
		for z in $(pgrep -P "$MC_PID" -x mailcure-zygote || true); do
			mc_seen+=("$z")
			for s in $(pgrep -P "$z" -x mailcure-scan || true); do
				mc_seen+=("$s")
				state=$(sed 's/.*) //' "/proc/$s/stat" 2>/dev/null | cut -c1 || true)
				if kill -SEGV "$s" 2>/dev/null; then
					mc_killed=$((mc_killed + 1))
					[ "$state" != R ] || mc_busy=$((mc_busy + 1))
				fi
			done
		done
		sleep 0.05
	done
	mc_wait_bg
	mc_log "scan processes killed: $mc_killed, $mc_busy of them while running"
	[ "$mc_killed" -gt 0 ] || mc_skip "the run ended before a scan process could be killed"
}

# mc_check_crashed_run WANT TOTAL: the run in MC_OUT/MC_RC, whose scan
# processes were crashed, against the undisturbed run's output WANT,
# over TOTAL messages or files. Each one is its undisturbed verdict or
# an error naming the crash; nothing else matches; the summary
# accounts for all; the exit status is 2 with errors. Then no process
# of mc_seen is left, nor the run's directory in /dev/shm.
mc_check_crashed_run() {
	local p left
	"$MC_PYTHON" -c "$mc_py_lib
$(cat <<'EOF'
def split(path):
    evs = events(path)
    return [e for e in evs if e["event"] != "summary"], \
        [e for e in evs if e["event"] == "summary"][-1]

want, _ = split(sys.argv[1])
got, summary = split(sys.argv[2])
rc, total = int(sys.argv[3]), int(sys.argv[4])
want_match = {e["path"]: e["reasons"] for e in want if e["event"] == "match"}
errors = {e["path"]: e["why"] for e in got if e["event"] == "error"}
got_match = {e["path"]: e["reasons"] for e in got if e["event"] == "match"}
bad = []
for path, why in errors.items():
    if "engine crashed" not in why:
        bad.append("%s: error that is not the crash: %s" % (path, why))
for path, reasons in got_match.items():
    if want_match.get(path) != reasons:
        bad.append("%s: matched %s, undisturbed %s" % (path, reasons, want_match.get(path)))
for path in want_match:
    if path not in got_match and path not in errors:
        bad.append("%s: matched undisturbed, now neither matched nor an error" % path)
other = [e for e in got if e["event"] not in ("match", "error")]
if other:
    bad.append("unexpected events: %s" % other)
if summary["scanned"] + summary["errors"] != total:
    bad.append("summary accounts for %d + %d of %d" % (summary["scanned"],
                                                       summary["errors"], total))
if summary["errors"] != len(errors):
    bad.append("summary errors %d, error events %d" % (summary["errors"], len(errors)))
if rc != (2 if errors else 1):
    bad.append("exit status %d with %d errors" % (rc, len(errors)))
if bad:
    sys.exit("\n".join(bad))
print("# %d: %d matched, %d errors from crashes" % (total, len(got_match), len(errors)))
EOF
)" "$1" "$MC_OUT" "$MC_RC" "$2" || mc_fail "the crashed run"
	for p in "${mc_seen[@]}"; do
		if kill -0 "$p" 2>/dev/null && grep -qs mailcure "/proc/$p/comm"; then
			mc_fail "process $p ($(cat "/proc/$p/comm")) outlived the run"
		fi
	done
	# What the dead scan processes were unpacking went with the
	# run's temporary directory.
	left=$(mc_run_left "$MC_PID")
	[ -z "$left" ] || mc_fail "the run left its directory behind: $left"
}

# mc_attach_store MAILDIR COUNT EVERY FILE...: COUNT messages, each
# with a base64 attachment of 1 MB of random-looking bytes, but every
# EVERY-th with the next FILE instead (in turn). The bytes are the same
# in every run (seeded by the message's number): now and then truly
# random bytes hold what libclamav takes for an embedded archive with
# an absurd size, and that message is then rightly "unscanned", which
# would make a test's outcome depend on chance.
mc_attach_store() {
	local md=$1 count=$2 every=$3 i f
	shift 3
	local files=("$@")
	mc_maildir "$md"
	for i in $(seq 0 $((count - 1))); do
		if [ $((i % every)) = 0 ]; then
			f=${files[$(((i / every) % ${#files[@]}))]}
		else
			f=$T/.random.bin
			"$MC_PYTHON" -c 'import random, sys
sys.stdout.buffer.write(random.Random("mailcure-%s" % sys.argv[1]).randbytes(1000000))' "$i" >"$f"
		fi
		mc_msg_attach "$f" -s "message $i" | mc_maildir_put "$md" cur >/dev/null
	done
	rm -f "$T/.random.bin"
}

# --- assertions ---

mc_assert_eq() {
	local want=$1 got=$2 what=${3:-value}
	if [ "$want" != "$got" ]; then
		echo "--- $what differs (- expected, + actual):" >&2
		diff -u <(printf '%s\n' "$want") <(printf '%s\n' "$got") | tail -n +3 | head -n 80 >&2
		mc_fail "$what"
	fi
}

mc_assert_file_eq() {
	local a=$1 b=$2 what=${3:-files}
	if ! cmp -s "$a" "$b"; then
		echo "--- $what: $a and $b differ:" >&2
		cmp "$a" "$b" >&2 || true
		diff -u --text "$a" "$b" | head -n 60 >&2 || true
		mc_fail "$what"
	fi
}

# Global options for mc_assert_finds's runs (--yara FILE, ...).
MC_FIND_OPTS=()
mc_assert_finds() {
	local store=$1 domain=$2 want=$3 query=$4 got rc=1
	[ -n "$want" ] || rc=0
	mc_cure --json "${MC_FIND_OPTS[@]}" mailbox find -s "$store" "$query"
	mc_expect_rc "$rc" "query '$query'"
	got=$(mc_events "$MC_OUT" match message_id | sed "s/^<\([^@]*\)@${domain//./\\.}>\$/\1/" |
		sort | tr '\n' ' ' | sed 's/ $//')
	mc_assert_eq "$want" "$got" "messages matched by '$query'"
}
