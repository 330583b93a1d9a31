#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	ioc-bench.sh - the cost of 100,000 threat-intel indicators per message
# SYNOPSIS
#	bench/ioc-bench.sh [-b MAILCURE] [-n MESSAGES] [-r ROUNDS] [-t DIR]
# DESCRIPTION
#	Generates a realistic store (gen_corpus.py, 4 users, MESSAGES
#	each; default 100) and a MISP event of 100,000 indicators
#	(50,000 SHA-256, 30,000 domains, 20,000 URLs, none of which the
#	store holds) and a plain list of 100,000 domain: terms, then runs,
#	in turn and ROUNDS times (default 3), -j 1:
#
#	  find domain:absent.example	(the MIME walk and URL extraction)
#	  find --ioc 10 indicators
#	  find --ioc 100k indicators
#	  find --ioc 100k over an empty Maildir (loading the feed alone)
#	  find @100k domain: list
#	  find virus, and virus or ioc with --ioc 100k
#
#	and prints the CPU seconds (user + sys) of each run, side by
#	side: the machine is shared, and wall time is noise there. The
#	per-message cost of the indicators is the 100k run less the
#	empty-store run, against the 10-indicator run.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
bin=$src/build/mailcure
messages=100
rounds=3
dir=
while getopts "b:n:r:t:" o; do
	case $o in
	b) bin=$OPTARG ;;
	n) messages=$OPTARG ;;
	r) rounds=$OPTARG ;;
	t) dir=$OPTARG ;;
	*) sed -n 's/^#\t//p' "$0" | sed -n '/SYNOPSIS/,/DESCRIPTION/p' >&2; exit 2 ;;
	esac
done
[ -n "$dir" ] || dir=$(mktemp -d "${TMPDIR:-/tmp}/ioc-bench.XXXXXX")
mkdir -p "$dir/empty/cur" "$dir/empty/new" "$dir/empty/tmp"
python3 "$src/bench/gen_corpus.py" --out "$dir/corpus" --users 4 --messages "$messages" \
	--layout maildir --mix realistic --quiet --force
python3 - "$dir" <<'EOF2'
import hashlib, json, random, sys
d = sys.argv[1]
random.seed(7)
attrs = [{"uuid": "s%d" % i, "type": "sha256", "to_ids": True,
          "value": hashlib.sha256(b"x%d" % i).hexdigest()} for i in range(50000)]
attrs += [{"uuid": "d%d" % i, "type": "domain", "to_ids": True,
           "value": "bad%d-%x.example" % (i, random.getrandbits(32))} for i in range(30000)]
attrs += [{"uuid": "u%d" % i, "type": "url", "to_ids": True,
           "value": "http://phish%d.test/login/%x" % (i, random.getrandbits(40))}
          for i in range(20000)]
json.dump({"Event": {"id": "1", "info": "bench", "Attribute": attrs}},
          open(d + "/ioc100k.json", "w"))
json.dump({"Event": {"id": "1", "info": "bench", "Attribute": attrs[:4] + attrs[50000:50003] +
                     attrs[80000:80003]}}, open(d + "/ioc10.json", "w"))
with open(d + "/domains100k.txt", "w") as f:
    for i in range(100000):
        f.write("domain:bad%d-%x.example\n" % (i, random.getrandbits(32)))
EOF2
store=$(ls -d "$dir"/corpus/maildir/*/ | head -n 1)
run() {
	local label=$1
	shift
	/usr/bin/time -f "%U %S" -o "$dir/time" "$bin" --json -j 1 -d "$src/tests/sigs" "$@" \
		>/dev/null 2>&1 || true
	printf '%-44s %6.2f\n' "$label" "$(tail -n 1 "$dir/time" | awk '{ print $1 + $2 }')"
}
echo "CPU seconds (user + sys), $((4 * messages)) messages, -j 1"
for r in $(seq 1 "$rounds"); do
	echo "--- round $r"
	run "domain:absent.example" mailbox find -s "$store" domain:absent.example
	run "--ioc 10 indicators" --ioc "$dir/ioc10.json" mailbox find -s "$store"
	run "--ioc 100k indicators" --ioc "$dir/ioc100k.json" mailbox find -s "$store"
	run "--ioc 100k, empty store (load only)" --ioc "$dir/ioc100k.json" \
		mailbox find -s "maildir:$dir/empty"
	run "@100k domain: list" mailbox find -s "$store" "@$dir/domains100k.txt"
	run "virus" mailbox find -s "$store" virus
	run "virus or ioc, --ioc 100k" --ioc "$dir/ioc100k.json" mailbox find -s "$store" \
		'virus or ioc'
done
