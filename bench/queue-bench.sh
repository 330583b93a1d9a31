#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	queue-bench.sh - mailcure queue scan against the MTA's tools | clamdscan per message
# SYNOPSIS
#	bench/queue-bench.sh [-m postfix|exim] [-n MESSAGES] [-j N] [-r ROUNDS]
#		[-k] [-o REPORT]
# DESCRIPTION
#	Starts a private Postfix (-m exim: Exim) on loopback
#	(tests/t/lib-postfix.sh, lib-exim.sh), freezes it with mailcure,
#	and queues MESSAGES
#	(default 5000) over SMTP: a deterministic mix of plain text
#	(60 %), mail with a 20-100 kB attachment (30 %), mail with a
#	200 kB-1 MB attachment (9 %) and infected mail (1 %: EICAR,
#	clam.exe, clam.zip from clamav-testfiles). Then, in one run and
#	on the same warm page cache, it finds the infected messages with
#
#	  postcat -qbh ID | clamdscan -	for each queue id of postqueue -j,
#					one after the other: what an
#					administrator does today (Exim:
#					exim -Mvc ID | clamdscan - for
#					each id of exipick -i)
#	  the same with xargs -P N	the same pipeline, N at a time
#	  mailcure queue scan -j N	reading the queue files itself
#
#	against one private clamd (MaxThreads N, started once, its
#	signature loading not counted) with the bundled test signatures
#	(tests/sigs), and prints for each the wall time, messages/s,
#	MB/s, CPU seconds (for the pipelines: their processes' and
#	clamd's) and whether it found exactly the infected set.
#
#	Each variant runs ROUNDS times (default 1), interleaved; the
#	best wall time counts. N defaults to the number of CPUs.
#	MAILCURE names the binary (default build/mailcure). -k keeps the
#	scratch directory; -o writes the table to REPORT as well.
# SECURITY
#	Needs root (the MTA). Everything lives in a scratch directory;
#	the private MTA and clamd listen on loopback and a Unix socket
#	only and are stopped on exit. A system Postfix is never touched.

set -uo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mta=postfix
messages=5000
jobs=$(nproc)
rounds=1
keep=
report=
while getopts "m:n:j:r:ko:h" o; do
	case $o in
	m) mta=$OPTARG ;;
	n) messages=$OPTARG ;;
	j) jobs=$OPTARG ;;
	r) rounds=$OPTARG ;;
	k) keep=1 ;;
	o) report=$OPTARG ;;
	*) sed -n '3,5p' "$0" | sed 's/^#\t\{0,1\}//' >&2; exit 2 ;;
	esac
done

export MAILCURE=${MAILCURE:-$src/build/mailcure}
export MC_SRC=$src MC_SIGS=$src/tests/sigs
[ -x "$MAILCURE" ] || { echo "queue-bench: no mailcure binary at $MAILCURE (make build)" >&2; exit 2; }
case $mta in
postfix) tools="postfix postcat" ;;
exim) tools="perl" ;;
*) echo "queue-bench: -m postfix or exim" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "queue-bench: must run as root (the MTA)" >&2; exit 2; }
for c in clamd clamdscan python3 bc $tools; do
	command -v "$c" >/dev/null 2>&1 || { echo "queue-bench: needs $c" >&2; exit 2; }
done
TF=/usr/share/clamav-testfiles
[ -f "$TF/clam.exe" ] || { echo "queue-bench: needs $TF (clamav-testfiles)" >&2; exit 2; }

# shellcheck source=tests/t/lib-postfix.sh
. "$src/tests/t/lib-postfix.sh"
# shellcheck source=tests/t/lib-exim.sh
. "$src/tests/t/lib-exim.sh"
mc_setup
[ -z "$keep" ] || mc_at_exit 'echo "scratch directory kept: $T"; T='
work=$T
clamd_pid=
mc_at_exit '[ -z "$clamd_pid" ] || { kill "$clamd_pid" 2>/dev/null; wait "$clamd_pid" 2>/dev/null; }'

# What differs between the MTAs: start and freeze, the port, the queue
# and its files, the administrator's way to a message's content.
if [ "$mta" = exim ]; then
	ex_need
	# No queue runner: it would walk the whole queue every 2 s.
	ex_start -q
	mc_ex freeze >/dev/null
	port=$EX_PORT
	wait_queue() { ex_wait_queue "$@"; }
	queue_files() { find "$EX_SPOOL/input" -type f -name '*-[HD]' "$@"; }
	queue_ids() { exipick --spool "$EX_SPOOL" -i; }
	subject_of() { ex_exim -Mvh "$1" 2>/dev/null | sed -n 's/^[0-9]\{3\}[A-Z* ] Subject: //p' | head -n 1; }
	content_cmd="'$EX_BIN' -C '$EX_CONF' -Mvc"
	scan_args=(--mta exim --exim-config "$EX_CONF")
	mta_version="Exim $(ex_exim -bV | sed -n 's/^Exim version \([^ ]*\).*/\1/p')"
	admin_label="exim -Mvc | clamdscan -"
else
	pf_start
	mc_pf freeze >/dev/null
	port=$PF_PORT
	wait_queue() { pf_wait_queue "$@"; }
	queue_files() { find "$PF_SPOOL" -type f -path '*/incoming/*' "$@"; }
	queue_ids() {
		pf_queue_json | python3 -c '
import json, sys
for l in sys.stdin:
    if l.strip():
        print(json.loads(l)["queue_id"])'
	}
	subject_of() { pf_subject_of "$1"; }
	content_cmd="postcat -c '$PF_CONF' -qbh"
	scan_args=(--postfix-config "$PF_CONF")
	mta_version="Postfix $(postconf -h mail_version)"
	admin_label="postcat -qbh | clamdscan -"
fi
mc_expect_rc 0 "queue freeze"

# --- the queue ---
echo "queueing $messages messages over SMTP ..."
mc_eicar >"$work/eicar.com"
python3 - "$port" "$messages" "$work" "$TF" <<'EOF'
import base64, random, smtplib, sys, threading
from email.message import EmailMessage

port, count, work, tf = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
rnd = random.Random(20261128)
viruses = [("eicar.com", open(work + "/eicar.com", "rb").read()),
           ("clam.exe", open(tf + "/clam.exe", "rb").read()),
           ("clam.zip", open(tf + "/clam.zip", "rb").read())]
words = "the a queue message report invoice meeting quarterly figures please find attached regards".split()
msgs = []
infected = []
for i in range(count):
    m = EmailMessage()
    m["From"] = "sender%d@sender.test" % (i % 97)
    m["To"] = "%s@mailcure.test" % ("alice", "bob", "carol")[i % 3]
    m["Subject"] = "bench message %d" % i
    m["Message-ID"] = "<bench-%d@sender.test>" % i
    text = " ".join(rnd.choice(words) for _ in range(rnd.randint(200, 1200)))
    m.set_content(text)
    r = rnd.random()
    if i % 100 == 42:
        name, data = viruses[(i // 100) % len(viruses)]
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
        infected.append(m["Subject"])
    elif r < 0.30:
        m.add_attachment(rnd.randbytes(rnd.randint(20000, 100000)), maintype="application",
                         subtype="pdf", filename="document-%d.pdf" % i)
    elif r < 0.39:
        m.add_attachment(rnd.randbytes(rnd.randint(200000, 1000000)), maintype="application",
                         subtype="zip", filename="archive-%d.zip" % i)
    msgs.append((m["From"], m["To"], m.as_bytes()))
with open(work + "/infected-subjects", "w") as f:
    for s in sorted(infected):
        f.write(s + "\n")

def send(part):
    s = smtplib.SMTP("127.0.0.1", port)
    for n, (frm, to, data) in enumerate(part):
        s.sendmail(frm, [to], data)
        if n % 200 == 199:
            s.quit()
            s = smtplib.SMTP("127.0.0.1", port)
    s.quit()

threads = [threading.Thread(target=send, args=(msgs[k::4],)) for k in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
EOF
[ $? = 0 ] || { echo "queue-bench: could not queue the messages" >&2; exit 2; }
wait_queue "$messages" 300
qbytes=$(queue_files -printf '%s\n' | awk '{s += $1} END {printf "%d", s}')
queue_files -print0 | xargs -0 cat >/dev/null
echo "queue: $messages messages, $((qbytes / 1000000)) MB of queue files"
queue_ids >"$work/ids"
# The infected set by queue id (the MTA's tools: independent of mailcure).
while read -r id; do
	printf '%s\t%s\n' "$id" "$(subject_of "$id")"
done <"$work/ids" >"$work/id-subject"
awk -F'\t' 'NR == FNR { want[$1] = 1; next } ($2 in want) { print $1 }' \
	"$work/infected-subjects" "$work/id-subject" | sort >"$work/expected.found"
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# --- clamd, started once ---
mkdir -p "$work/db" "$work/clamd-tmp"
cp "$MC_SIGS"/* "$work/db/"
cat >"$work/clamd.conf" <<EOF
Foreground yes
LocalSocket $work/clamd.sock
LocalSocketMode 600
FixStaleSocket yes
PidFile $work/clamd.pid
LogFile $work/clamd.log
User root
TemporaryDirectory $work/clamd-tmp
DatabaseDirectory $work/db
OfficialDatabaseOnly no
MaxThreads $jobs
MaxQueue 200
IdleTimeout 600
ReadTimeout 300
SelfCheck 86400
StreamMaxLength 400M
MaxScanSize 400M
MaxFileSize 100M
MaxRecursion 17
MaxFiles 10000
MaxScanTime 120000
ScanMail yes
ScanArchive yes
EOF
echo "starting clamd (MaxThreads $jobs) ..."
clamd -c "$work/clamd.conf" >"$work/clamd.stdout" 2>&1 &
clamd_pid=$!
for _ in $(seq 1 600); do
	[ -S "$work/clamd.sock" ] && clamdscan --config-file="$work/clamd.conf" --ping 1 >/dev/null 2>&1 && break
	kill -0 "$clamd_pid" 2>/dev/null || { cat "$work/clamd.stdout" "$work/clamd.log" >&2; echo "queue-bench: clamd died" >&2; exit 2; }
	sleep 0.1
done

# The administrator's pipeline, for one queue id: prints the id when
# clamd finds something in the message.
cat >"$work/one.sh" <<EOF
#!/bin/sh
$content_cmd "\$1" 2>/dev/null |
	clamdscan --config-file="$work/clamd.conf" --no-summary - 2>/dev/null |
	grep -q 'FOUND\$' && echo "\$1"
exit 0
EOF
chmod 755 "$work/one.sh"

proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }

declare -A best_wall best_cpu
measure() {
	local name=$1 out=$work/$1.out t wall u s cpu c0 c1
	shift
	TIMEFORMAT='%R %U %S'
	c0=$(proc_cpu "$clamd_pid")
	t=$( { time "$@" >"$out" 2>"$work/$name.err"; } 2>&1 )
	c1=$(proc_cpu "$clamd_pid")
	read -r wall u s <<<"$t"
	cpu=$(echo "$u + $s + $c1 - $c0" | bc -l)
	printf '  %s: %ss wall, %.2fs CPU\n' "$name" "$wall" "$cpu"
	if [ -z "${best_wall[$name]:-}" ] || [ "$(echo "$wall < ${best_wall[$name]}" | bc -l)" = 1 ]; then
		best_wall[$name]=$wall
		best_cpu[$name]=$cpu
	fi
}

for r in $(seq 1 "$rounds"); do
	echo "round $r of $rounds:"
	measure serial bash -c "while read -r id; do '$work/one.sh' \"\$id\"; done <'$work/ids'"
	measure parallel xargs -a "$work/ids" -P "$jobs" -n 1 "$work/one.sh"
	measure mailcure "$MAILCURE" -d "$MC_SIGS" -j "$jobs" --progress never --json \
		--state-dir "$work/state" queue "${scan_args[@]}" scan
done

sort "$work/serial.out" >"$work/serial.found"
sort "$work/parallel.out" >"$work/parallel.found"
grep '"event":"match"' "$work/mailcure.out" | sed 's/.*"queue_id":"\([^"]*\)".*/\1/' |
	sort >"$work/mailcure.found"
mailcure_errors=$(grep -c '"event":"\(error\|unscanned\)"' "$work/mailcure.out")

same() { cmp -s "$work/expected.found" "$1" && echo yes || echo NO; }
row() {
	local name=$1 label=$2 secs=${best_wall[$1]} cpu=${best_cpu[$1]}
	printf '%-34s %8.2f s %7.0f msg/s %6.1f MB/s %8.2f CPU-s %4d found, exact: %s\n' \
		"$label" "$secs" "$(echo "$messages / $secs" | bc -l)" \
		"$(echo "$qbytes / 1000000 / $secs" | bc -l)" "$cpu" \
		"$(wc -l <"$work/$name.found")" "$(same "$work/$name.found")"
}
{
	echo
	echo "queue-bench: $messages queued messages ($(wc -l <"$work/expected.found") infected), $((qbytes / 1000000)) MB, $(nproc) CPUs, -j/-P/MaxThreads $jobs, best of $rounds, $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "  $mta_version; $(clamdscan --config-file="$work/clamd.conf" --version 2>/dev/null | head -n 1); mailcure $("$MAILCURE" --version | awk '{print $2}'); load average before: $load0"
	row serial "$admin_label, serial"
	row parallel "the same, xargs -P $jobs"
	row mailcure "mailcure queue scan -j $jobs"
	echo "  mailcure: $mailcure_errors errors or unscanned"
	echo "  mailcure is $(echo "${best_wall[serial]} / ${best_wall[mailcure]}" | bc -l | xargs printf '%.1f')x as fast as the serial pipeline," \
		"$(echo "${best_wall[parallel]} / ${best_wall[mailcure]}" | bc -l | xargs printf '%.1f')x as fast as the parallel one"
} | tee "$work/report"
[ -z "$report" ] || cp "$work/report" "$report"
status=0
for v in serial parallel mailcure; do
	if ! cmp -s "$work/expected.found" "$work/$v.found"; then
		echo "$v: detected set differs from the infected set:"
		diff "$work/expected.found" "$work/$v.found" | head -n 10
		status=1
	fi
done
exit "$status"
