#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	run-tests.sh - run the unit tests and the integration scripts
# SYNOPSIS
#	tests/run-tests.sh [-j N] [-t SECONDS] [-k] [--unit [LABEL=]BUILDDIR]...
#		[--bin [LABEL=]MAILCURE[:GLOB]]... [GLOB]...
# DESCRIPTION
#	--unit runs every meson test of BUILDDIR (one cmocka binary is
#	one test). --bin runs every tests/t/t*.sh (restricted to GLOB,
#	e.g. "t10*", when given after the binary or as a bare argument)
#	with MAILCURE set to that binary. Without --unit and --bin:
#	--unit build --bin build/mailcure.
#
#	A script gets MAILCURE, MC_SRC (source tree), MC_SIGS (bundled
#	test signatures), MC_BUILD (the binary's build directory) and a
#	fresh TMPDIR that is removed afterwards. It passes with exit 0,
#	is skipped with 77 and fails otherwise, or when it runs longer
#	than -t SECONDS (default 300).
#
#	Each result is one line, "ok|FAIL|skip NAME (Ns)", followed for
#	a failure by the tail of its output. The last line is always
#	"N passed, N failed, N skipped"; the exit status is 1 when
#	anything failed. -k keeps the logs and temporary directories.
#
#	A script holding the line "# run-tests: serial" (one that changes
#	something the whole host shares) runs alone, after the others.
#
#	Sanitizer reports make the binary exit 99, so that they can not
#	be mistaken for mailcure's own exit codes 0, 1 and 2.

set -uo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=1
timeout_s=300
keep=
units=()
bins=()
globs=()

usage() {
	sed -n '3,5p' "${BASH_SOURCE[0]}" | sed 's/^#\t\{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	-j) jobs=$2; shift 2 ;;
	-j*) jobs=${1#-j}; shift ;;
	-t) timeout_s=$2; shift 2 ;;
	-k) keep=1; shift ;;
	--unit) units+=("$2"); shift 2 ;;
	--bin) bins+=("$2"); shift 2 ;;
	-h|--help) usage ;;
	-*) echo "run-tests.sh: unknown option $1" >&2; usage ;;
	*) globs+=("$1"); shift ;;
	esac
done
case $jobs in ''|*[!0-9]*|0) echo "run-tests.sh: -j needs a number" >&2; exit 2 ;; esac

cd "$src" || exit 2
if [ ${#units[@]} -eq 0 ] && [ ${#bins[@]} -eq 0 ]; then
	units=(build)
	bins=(build/mailcure)
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=99:abort_on_error=0:halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-exitcode=99:halt_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-exitcode=99}

work=$(mktemp -d "${TMPDIR:-/tmp}/mailcure-tests.XXXXXX") || exit 2
passed=0 failed=0 skipped=0
declare -A job_name job_log job_start job_kind
running=0

cleanup() {
	for pid in "${!job_name[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	[ -n "$keep" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Record the result of the finished job PID with exit status RC.
finish() {
	local pid=$1 rc=$2 name log secs result
	name=${job_name[$pid]}
	log=${job_log[$pid]}
	secs=$(( $(date +%s) - ${job_start[$pid]} ))
	if [ "${job_kind[$pid]}" = unit ] && [ "$rc" = 0 ] &&
	   grep -Eq '^Skipped: +[1-9]' "$log"; then
		rc=77
	fi
	case $rc in
	0) result=ok; passed=$((passed + 1)) ;;
	77) result=skip; skipped=$((skipped + 1)) ;;
	*) result=FAIL; failed=$((failed + 1)) ;;
	esac
	if [ "$result" = FAIL ]; then
		case $rc in
		124|137) echo "FAIL $name (${secs}s, timed out after ${timeout_s}s)" ;;
		*) echo "FAIL $name (${secs}s, exit $rc)" ;;
		esac
		tail -n 40 "$log" | sed 's/^/    | /'
	elif [ "$result" = skip ]; then
		local why
		why=$(grep -Ei '^(skip|skipped)[:]' "$log" | tail -n 1)
		echo "skip $name (${secs}s)${why:+ - ${why#*: }}"
	else
		echo "ok   $name (${secs}s)"
	fi
	unset "job_name[$pid]" "job_log[$pid]" "job_start[$pid]" "job_kind[$pid]"
	running=$((running - 1))
}

# Wait until fewer than $jobs jobs run.
reap() {
	local limit=$1 pid rc
	while [ "$running" -ge "$limit" ] && [ "$running" -gt 0 ]; do
		pid=
		wait -n -p pid
		rc=$?
		if [ -z "$pid" ]; then
			# No job left to wait for, yet some are counted as
			# running: collect them one by one.
			for pid in "${!job_name[@]}"; do
				wait "$pid"
				finish "$pid" "$?"
			done
			continue
		fi
		[ -n "${job_name[$pid]+x}" ] || continue
		finish "$pid" "$rc"
	done
}

# start KIND NAME LOG CMD...: run CMD in the background.
start() {
	local kind=$1 name=$2 log=$3
	shift 3
	reap "$jobs"
	"$@" >"$log" 2>&1 </dev/null &
	job_name[$!]=$name
	job_log[$!]=$log
	job_start[$!]=$(date +%s)
	job_kind[$!]=$kind
	running=$((running + 1))
}

matches_globs() {
	local name=$1 g
	[ ${#globs[@]} -eq 0 ] && return 0
	for g in "${globs[@]}"; do
		# shellcheck disable=SC2053
		[[ $name == $g || $name == $g.sh || $name == $g-* ]] && return 0
	done
	return 1
}

# run_script LABEL BINARY SCRIPT
run_script() {
	local label=$1 bin=$2 s=$3 base name tdir
	base=$(basename "$s" .sh)
	name="${label:+$label:}$base"
	tdir="$work/${label:+$label-}$base"
	mkdir -p "$tdir/tmp"
	start script "$name" "$tdir.log" \
		env MAILCURE="$bin" MC_SRC="$src" MC_SIGS="$src/tests/sigs" \
		MC_BUILD="$(dirname "$bin")" TMPDIR="$tdir/tmp" \
		timeout -k 10 "$timeout_s" bash "$src/$s"
}

# --- unit tests ---
for u in "${units[@]}"; do
	label='' dir=$u
	case $u in *=*) label=${u%%=*}; dir=${u#*=} ;; esac
	if [ ! -f "$dir/build.ninja" ]; then
		echo "FAIL unit tests: $dir is not a meson build directory"
		failed=$((failed + 1))
		continue
	fi
	mult=1
	[ -n "$label" ] && mult=4
	while read -r t; do
		[ -n "$t" ] || continue
		name="${label:+$label:}unit/$t"
		log="$work/$(echo "$name" | tr '/:' '__').log"
		start unit "$name" "$log" meson test -C "$dir" --no-rebuild \
			--print-errorlogs -t "$mult" "$t"
	done < <(meson test -C "$dir" --no-rebuild --list 2>/dev/null |
		 sed -n 's/^\(.* \/ \)\{0,1\}\([^ ][^ ]*\)$/\2/p')
done

# --- integration scripts ---
# A script with the line "# run-tests: serial" changes something
# shared by the whole host; it runs alone, after the others.
shopt -s nullglob
scripts=(tests/t/t[0-9]*.sh)
serial=()
for b in "${bins[@]}"; do
	label='' spec=$b bglob='*'
	case $spec in [!/]*=*) label=${spec%%=*}; spec=${spec#*=} ;; esac
	case $spec in *:*) bglob=${spec##*:}; spec=${spec%:*} ;; esac
	bin=$(cd "$(dirname "$spec")" 2>/dev/null && pwd)/$(basename "$spec")
	if [ ! -x "$bin" ]; then
		echo "FAIL integration tests: no mailcure binary at $spec"
		failed=$((failed + 1))
		continue
	fi
	for s in "${scripts[@]}"; do
		base=$(basename "$s" .sh)
		# shellcheck disable=SC2053
		[[ $base == $bglob ]] || continue
		matches_globs "$base" || continue
		if grep -q '^# run-tests: serial' "$s"; then
			serial+=("$label|$bin|$s")
		else
			run_script "$label" "$bin" "$s"
		fi
	done
done
for x in "${serial[@]}"; do
	reap 1
	IFS='|' read -r label bin s <<<"$x"
	run_script "$label" "$bin" "$s"
	reap 1
done

reap 1
[ -z "$keep" ] || echo "logs kept in $work"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
