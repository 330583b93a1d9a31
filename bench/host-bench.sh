#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	host-bench.sh - mailcure host scan against clamscan -r and clamdscan
# SYNOPSIS
#	bench/host-bench.sh [-n FILES] [-s SOURCE]... [-j N] [-r ROUNDS] [-t DIR] [-k] [-o REPORT]
# DESCRIPTION
#	Builds a tree of at least FILES regular files (default 20000) of
#	mixed sizes, copied from SOURCE directories (default /usr; files
#	of up to 8 MB, in find order), plus a copy of
#	/usr/share/clamav-testfiles so that something is found. Then, in
#	one run and on the same warm page cache, scans it with
#
#	  clamscan -r			(one process, one thread)
#	  clamdscan --multiscan --fdpass	(a private clamd, MaxThreads = N)
#	  mailcure host scan -j N
#	  mailcure host scan		(its default: twice as many threads as CPUs)
#
#	all with the bundled test signatures (tests/sigs) and the
#	same limits (mailcure's defaults: 100M per file, 400M per scan,
#	recursion 17, 10000 files, 120 s), and prints files/s and MB/s of
#	each (wall time), the CPU seconds each used (for clamdscan: the
#	daemon's), and whether the detected sets are equal. clamd's
#	start-up (signature loading) is not counted; clamscan's and
#	mailcure's are, as they load signatures on every run.
#
#	The tools run in turn, ROUNDS times (default 3), and the best
#	wall time of each is kept: on a shared machine the load changes
#	between runs, and the best run is the one least disturbed. clamd
#	is restarted before each of its runs, so that its cache of clean
#	files does not carry over from one run to the next, and each tool
#	unpacks archives into a temporary directory of its own.
#
#	-t DIR puts the three temporary directories under DIR instead of
#	the scratch directory (e.g. a tmpfs, for all tools alike).
#
#	N defaults to the number of CPUs. MAILCURE names the binary
#	(default build/mailcure). -k keeps the scratch directory; -o
#	writes the result table to REPORT as well.
# SECURITY
#	Everything happens in a scratch directory under $TMPDIR; clamd
#	listens on a Unix socket there only and is stopped on exit.
#	Nothing outside the scratch directory is changed.

set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
min_files=20000
sources=()
jobs=$(nproc)
rounds=3
tmpbase=
keep=
report=
while getopts "n:s:j:r:t:ko:h" o; do
	case $o in
	n) min_files=$OPTARG ;;
	s) sources+=("$OPTARG") ;;
	j) jobs=$OPTARG ;;
	r) rounds=$OPTARG ;;
	t) tmpbase=$OPTARG ;;
	k) keep=1 ;;
	o) report=$OPTARG ;;
	*) sed -n '3,5p' "$0" | sed 's/^#\t\{0,1\}//' >&2; exit 2 ;;
	esac
done
[ ${#sources[@]} -gt 0 ] || sources=(/usr)
MAILCURE=${MAILCURE:-$src/build/mailcure}
SIGS=$src/tests/sigs
TF=/usr/share/clamav-testfiles

for c in clamscan clamdscan clamd; do
	command -v "$c" >/dev/null 2>&1 || { echo "host-bench: needs $c (Debian packages clamav, clamav-daemon)" >&2; exit 2; }
done
[ -x "$MAILCURE" ] || { echo "host-bench: no mailcure binary at $MAILCURE (make build)" >&2; exit 2; }
[ -f "$TF/clam.exe" ] || { echo "host-bench: needs $TF (clamav-testfiles)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/host-bench.XXXXXX")
clamd_pid=
cleanup() {
	if [ -n "$clamd_pid" ]; then
		kill "$clamd_pid" 2>/dev/null || true
		wait "$clamd_pid" 2>/dev/null || true
	fi
	if [ -n "$keep" ]; then
		echo "scratch directory kept: $work"
	else
		rm -rf "$work"
	fi
	[ -z "$tmpbase" ] || [ -z "${tmps:-}" ] || rm -rf "$tmps"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the tree ---
tree=$work/tree
mkdir -p "$tree/infected"
echo "building a tree of at least $min_files files from ${sources[*]} ..."
{ find "${sources[@]}" -xdev -type f -size -8M -readable -print0 2>/dev/null || true; } |
	head -z -n "$min_files" >"$work/list" || true
tar -cf - --null -T "$work/list" 2>/dev/null | tar -xf - -C "$tree" 2>/dev/null || true
cp "$TF"/* "$tree/infected/"
files=$(find "$tree" -type f | wc -l)
bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s += $1} END {printf "%d", s}')
[ "$files" -ge "$min_files" ] || { echo "host-bench: only $files files found in ${sources[*]}" >&2; exit 2; }
echo "tree: $files files, $((bytes / 1000000)) MB"
# Warm the page cache so that every tool reads from memory alike.
find "$tree" -type f -print0 | xargs -0 cat >/dev/null 2>&1 || true
load0=$(cut -d' ' -f1-3 /proc/loadavg)

limits_clamscan=(--max-filesize=100M --max-scansize=400M --max-recursion=17
		 --max-files=10000 --max-scantime=120000 --alert-exceeds-max=yes)

# Sorted "path" lines of the files a tool reported infected (limits
# alerts excluded: they are "unscanned", not detections).
clam_found() { sed -n 's/: \(.*\) FOUND$/\t\1/p' "$1" | grep -v 'Heuristics.Limits' | cut -f1 | sort; }

# --- clamd: its signature loading is not measured ---
# Each tool unpacks into a private temporary directory of its own, on
# the same file system.
tmps=$work
if [ -n "$tmpbase" ]; then
	tmps=$(mktemp -d "$tmpbase/host-bench-tmp.XXXXXX")
fi
mkdir -p "$work/db" "$tmps/clamd-tmp" "$tmps/tmp-clamscan" "$tmps/tmp-mailcure"
cp "$SIGS"/* "$work/db/"
cat >"$work/clamd.conf" <<EOF
Foreground yes
LocalSocket $work/clamd.sock
LocalSocketMode 600
FixStaleSocket yes
PidFile $work/clamd.pid
LogFile $work/clamd.log
User $(id -un)
TemporaryDirectory $tmps/clamd-tmp
DatabaseDirectory $work/db
OfficialDatabaseOnly no
MaxThreads $jobs
MaxQueue 200
IdleTimeout 600
ReadTimeout 300
SelfCheck 86400
ConcurrentDatabaseReload no
MaxScanSize 400M
MaxFileSize 100M
MaxRecursion 17
MaxFiles 10000
MaxScanTime 120000
AlertExceedsMax yes
FollowDirectorySymlinks no
FollowFileSymlinks no
CrossFilesystems yes
EOF
# clamd is (re)started before each of its runs: its cache of clean
# files would otherwise make every run after the first one rescan
# nothing, which mailcure and clamscan, starting afresh, cannot do.
start_clamd() {
	if [ -n "$clamd_pid" ]; then
		kill "$clamd_pid" 2>/dev/null || true
		wait "$clamd_pid" 2>/dev/null || true
	fi
	rm -f "$work/clamd.sock"
	clamd -c "$work/clamd.conf" >"$work/clamd.stdout" 2>&1 &
	clamd_pid=$!
	for _ in $(seq 1 600); do
		[ -S "$work/clamd.sock" ] && clamdscan --config-file="$work/clamd.conf" --ping 1 >/dev/null 2>&1 && return 0
		kill -0 "$clamd_pid" 2>/dev/null || { cat "$work/clamd.stdout" "$work/clamd.log" >&2; echo "host-bench: clamd died" >&2; exit 2; }
		sleep 0.1
	done
	echo "host-bench: clamd did not answer" >&2
	exit 2
}

# CPU seconds (user + system) used so far by process PID.
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }

# measure NAME CMD...: run CMD, record wall and CPU seconds; the best
# (smallest wall time) of the rounds is kept.
declare -A best_wall best_cpu
measure() {
	local name=$1 out=$work/$1.out wall cpu c0 c1 t u s
	shift
	TIMEFORMAT='%R %U %S'
	if [ "$name" = clamdscan ]; then
		c0=$(proc_cpu "$clamd_pid")
		t=$( { time "$@" >"$out" 2>"$work/$name.err"; } 2>&1 ) || true
		c1=$(proc_cpu "$clamd_pid")
		wall=${t%% *}
		cpu=$(echo "$c1 - $c0" | bc -l)
	else
		t=$( { time "$@" >"$out" 2>"$work/$name.err"; } 2>&1 ) || true
		read -r wall u s <<<"$t"
		cpu=$(echo "$u + $s" | bc -l)
	fi
	echo "  $name: ${wall}s wall, ${cpu}s CPU"
	if [ -z "${best_wall[$name]:-}" ] || [ "$(echo "$wall < ${best_wall[$name]}" | bc -l)" = 1 ]; then
		best_wall[$name]=$wall
		best_cpu[$name]=$cpu
	fi
}

# Rounds interleave the tools, so that a change in the machine's load
# does not favour one of them.
for r in $(seq 1 "$rounds"); do
	echo "round $r of $rounds:"
	measure clamscan clamscan -r --no-summary -d "$SIGS" "${limits_clamscan[@]}" \
		--tempdir="$tmps/tmp-clamscan" "$tree"
	start_clamd
	measure clamdscan clamdscan --config-file="$work/clamd.conf" --multiscan --fdpass --no-summary "$tree"
	measure mailcure "$MAILCURE" -d "$SIGS" -j "$jobs" --progress never --json \
		--quarantine "$work/q" host scan --tempdir "$tmps/tmp-mailcure" "$tree"
	measure mailcure_default "$MAILCURE" -d "$SIGS" --progress never --json \
		--quarantine "$work/q" host scan --tempdir "$tmps/tmp-mailcure" "$tree"
done
kill "$clamd_pid" 2>/dev/null || true
wait "$clamd_pid" 2>/dev/null || true
clamd_pid=

clam_found "$work/clamscan.out" >"$work/clamscan.found"
clam_found "$work/clamdscan.out" >"$work/clamdscan.found"
for m in mailcure mailcure_default; do
	grep '"event":"match"' "$work/$m.out" | sed 's/.*"path":"\([^"]*\)".*/\1/' | sort >"$work/$m.found"
done
mailcure_unscanned=$(grep -c '"event":"unscanned"' "$work/mailcure.out" || true)
mailcure_errors=$(grep -c '"event":"error"' "$work/mailcure.out" || true)

# --- the table ---
same() { cmp -s "$work/clamscan.found" "$1" && echo yes || echo NO; }
row() {
	local name=$1 label=$2 secs=${best_wall[$1]} cpu=${best_cpu[$1]}
	printf '%-32s %7.2f s %7.0f files/s %6.1f MB/s %7.2f CPU-s %4d found, same set: %s\n' \
		"$label" "$secs" "$(echo "$files / $secs" | bc -l)" \
		"$(echo "$bytes / 1000000 / $secs" | bc -l)" "$cpu" \
		"$(wc -l <"$work/$name.found")" "$(same "$work/$name.found")"
}
{
	echo
	echo "host-bench: $files files, $((bytes / 1000000)) MB (from ${sources[*]} + clamav-testfiles), $(nproc) CPUs, -j/MaxThreads $jobs, best of $rounds, $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "  $(clamscan --version | head -n 1); mailcure $("$MAILCURE" --version | awk '{print $2}'); temporary files on $(stat -f -c %T "$tmps"); load average before: $load0"
	row clamscan "clamscan -r"
	row clamdscan "clamdscan --multiscan --fdpass"
	row mailcure "mailcure host scan -j $jobs"
	row mailcure_default "mailcure host scan (default -j)"
	echo "  mailcure: $mailcure_unscanned unscanned, $mailcure_errors errors"
	for m in mailcure mailcure_default; do
		echo "  $m is $(echo "${best_wall[clamscan]} / ${best_wall[$m]}" | bc -l | xargs printf '%.2f')x as fast as clamscan -r," \
			"$(echo "${best_wall[clamdscan]} / ${best_wall[$m]}" | bc -l | xargs printf '%.2f')x as fast as clamdscan --multiscan"
	done
} | tee "$work/report"
[ -z "$report" ] || cp "$work/report" "$report"
for f in clamdscan mailcure mailcure_default; do
	if ! cmp -s "$work/clamscan.found" "$work/$f.found"; then
		echo "detected sets differ (clamscan vs $f):"
		diff "$work/clamscan.found" "$work/$f.found" | head -n 20
		exit 1
	fi
done
