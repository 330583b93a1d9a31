#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	yara-bench.sh - the cost of 1,000 YARA rules beside the virus scan
# SYNOPSIS
#	bench/yara-bench.sh [-b MAILCURE] [-n MESSAGES] [-u USERS] [-i RATE]
#		[-k RULES] [-r ROUNDS] [-t DIR]
# DESCRIPTION
#	Generates a realistic store (gen_corpus.py, USERS users, default
#	4, MESSAGES each, default 100, with a 0.5 % outbreak wave and
#	infections at RATE, default 0.01) and RULES YARA rules
#	(gen_yara.py, default 1,000, of which three are written to
#	match: the wave's sender and attachment name, the EICAR string),
#	then runs, in turn and ROUNDS times (default 3), mailcure with
#	-j 1 and the bench's two test signatures:
#
#	  find virus			(the virus scan alone)
#	  find 'virus or yara'		(the same pass with the rules)
#	  find yara			(the rules alone)
#	  find 'virus or yara', empty Maildir (compiling the rules)
#	  yara -r -p 1 RULES STORE	(the yara tool, Debian package yara,
#					over the store's files as they are)
#
#	and prints the CPU seconds (user + sys) of each run, side by
#	side, with the ratios of 'virus or yara' to the virus scan
#	alone and to yara -r: the machine is shared, and wall time is
#	noise there.
#
#	Then, untimed, it compares the detected sets per file: the
#	files mailcure's yara term matched against those yara -r
#	reported, and for each rule yara -r reported, the files
#	yara:RULE matched in mailcure against yara -r's for that rule.
#	mailcure runs the rules over the raw message and over every
#	decoded MIME part; yara -r sees the raw file alone, so a rule
#	that matches a base64 attachment's content matches in mailcure
#	only. Any rule but the three written to match is reported as a
#	false positive of the generator.
# DIAGNOSTICS
#	Exit 1 when the yara tool is missing or a rule other than the
#	three fired.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
bin=$src/build/mailcure
users=4
messages=100
rate=0.01
rules=1000
rounds=3
dir=
while getopts "b:n:u:i:k:r:t:" o; do
	case $o in
	b) bin=$OPTARG ;;
	n) messages=$OPTARG ;;
	u) users=$OPTARG ;;
	i) rate=$OPTARG ;;
	k) rules=$OPTARG ;;
	r) rounds=$OPTARG ;;
	t) dir=$OPTARG ;;
	*) sed -n 's/^#\t//p' "$0" | sed -n '/SYNOPSIS/,/DESCRIPTION/p' >&2; exit 2 ;;
	esac
done
if ! command -v yara >/dev/null; then
	echo "yara-bench: the yara tool is not installed (Debian package yara)" >&2
	exit 1
fi
[ -n "$dir" ] || dir=$(mktemp -d "${TMPDIR:-/tmp}/yara-bench.XXXXXX")
mkdir -p "$dir/empty/cur" "$dir/empty/new" "$dir/empty/tmp"
total=$((users * messages))
wave=$((total / 200 > 0 ? total / 200 : 1))
python3 "$src/bench/gen_corpus.py" --out "$dir/corpus" --users "$users" \
	--messages "$messages" --outbreak "$wave" --infected-rate "$rate" \
	--layout maildir --mix realistic --quiet --force
python3 "$src/bench/gen_yara.py" --out "$dir/rules.yar" --rules "$rules"
store=$dir/corpus/maildir/bench.example
mc=("$bin" --json -j 1 -d "$src/tests/sigs" --state-dir "$dir/state"
	--quarantine "$dir/quarantine")
cpu() {
	local out=$1
	shift
	/usr/bin/time -f "%U %S" -o "$dir/time" "$@" >"$out" 2>"$out.err" || true
	tail -n 1 "$dir/time" | awk '{ print $1 + $2 }'
}
echo "CPU seconds (user + sys), $total messages ($(du -sm "$store" | cut -f1) MB)," \
	"$(grep -c '^rule' "$dir/rules.yar") YARA rules, mailcure -j 1, yara -p 1"
printf '%-6s %8s %14s %8s %12s %8s %10s %10s\n' round virus "virus or yara" yara \
	"rules load" "yara -r" "vs virus" "vs yara -r"
for r in $(seq 1 "$rounds"); do
	v=$(cpu "$dir/virus.json" "${mc[@]}" mailbox find -s "$store" virus)
	vy=$(cpu "$dir/virus-or-yara.json" "${mc[@]}" --yara "$dir/rules.yar" mailbox find -s "$store" \
		'virus or yara')
	y=$(cpu "$dir/yara.json" "${mc[@]}" --yara "$dir/rules.yar" mailbox find -s "$store" yara)
	l=$(cpu "$dir/load.json" "${mc[@]}" --yara "$dir/rules.yar" mailbox find -s "maildir:$dir/empty" \
		'virus or yara')
	t=$(cpu "$dir/yara-r.txt" yara -r -p 1 "$dir/rules.yar" "$store")
	printf '%-6s %8.2f %14.2f %8.2f %12.2f %8.2f %9.2fx %9.2fx\n' "$r" "$v" "$vy" "$y" \
		"$l" "$t" "$(echo "$vy / $v" | bc -l)" "$(echo "$vy / $t" | bc -l)"
done

# Detected sets, per file and per rule.
MC_BIN=$bin MC_SIGS=$src/tests/sigs python3 - "$dir" "$store" <<'EOF'
import json, os, subprocess, sys
d, store = sys.argv[1], sys.argv[2]
def files(path):
    out = set()
    for line in open(path):
        e = json.loads(line)
        if e.get("event") == "match":
            out.add(os.path.realpath(e["path"]))
    return out
tool = {}
for line in open(d + "/yara-r.txt"):
    rule, path = line.rstrip("\n").split(" ", 1)
    tool.setdefault(rule, set()).add(os.path.realpath(path))
mine = files(d + "/yara.json")
theirs = set().union(*tool.values()) if tool else set()
print("\nfiles matched: mailcure yara %d, yara -r %d, both %d, mailcure only %d, yara -r only %d"
      % (len(mine), len(theirs), len(mine & theirs), len(mine - theirs), len(theirs - mine)))
stated = ["bench_outbreak_sender", "bench_outbreak_invoice", "bench_eicar_hex"]
bad = 0
for rule in sorted(set(stated) | set(tool)):
    with open(d + "/rule.json", "w") as f:
        subprocess.run([os.environ["MC_BIN"], "--json", "-j", "1", "-d", os.environ["MC_SIGS"],
                        "--state-dir", d + "/state", "--quarantine", d + "/quarantine",
                        "--yara", d + "/rules.yar", "mailbox", "find", "-s", store,
                        "yara:" + rule], stdout=f, stderr=subprocess.DEVNULL)
    m, t = files(d + "/rule.json"), tool.get(rule, set())
    print("  %-26s mailcure %3d  yara -r %3d  both %3d  mailcure only %3d  yara -r only %3d"
          % (rule, len(m), len(t), len(m & t), len(m - t), len(t - m)))
    for p in sorted(m ^ t):
        print("    %s only: %s" % ("mailcure" if p in m else "yara -r", os.path.relpath(p, store)))
    if rule not in stated:
        bad += 1
if bad:
    print("yara-bench: %d rules fired that gen_yara.py does not mean to match" % bad)
sys.exit(1 if bad else 0)
EOF
