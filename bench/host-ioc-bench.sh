#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	host-ioc-bench.sh - the cost of 100,000 indicators and YARA rules in a host scan
# SYNOPSIS
#	bench/host-ioc-bench.sh [-b MAILCURE] [-n FILES] [-r ROUNDS] [-t DIR]
# DESCRIPTION
#	Generates a tree of FILES files (default 3000) of mixed sizes
#	(1 KiB to 1 MiB, about 40 MB in all, random bytes and text),
#	two MISP events of 100,000 file-hash indicators that the tree
#	does not hold (SHA-256 only; and 50,000 SHA-256, 30,000 MD5 and
#	20,000 SHA-1, so that all three hashes are computed), and a rule
#	file of 1,000 YARA rules (gen_yara.py), then runs, in turn and
#	ROUNDS times (default 3), -j 1:
#
#	  host scan			(the engine alone)
#	  host scan over an empty directory (start-up only)
#	  host scan --ioc 100k SHA-256
#	  host scan --ioc 100k mixed	(MD5, SHA-1 and SHA-256 per file)
#	  host scan --ioc 100k mixed over an empty directory (loading only)
#	  host scan --yara 1,000 rules
#
#	and prints the CPU seconds (user + sys, the scan processes
#	included) of each, side by side: the machine may be shared, and
#	wall time is noise there. The cost of hashing every file is the
#	--ioc run less the engine alone, less the loading (the empty
#	--ioc run less the empty run).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bin=$src/build/mailcure
files=3000
rounds=3
dir=
while getopts "b:n:r:t:" o; do
	case $o in
	b) bin=$OPTARG ;;
	n) files=$OPTARG ;;
	r) rounds=$OPTARG ;;
	t) dir=$OPTARG ;;
	*) sed -n 's/^#\t//p' "$0" | sed -n '/SYNOPSIS/,/DESCRIPTION/p' >&2; exit 2 ;;
	esac
done
[ -n "$dir" ] || dir=$(mktemp -d "${TMPDIR:-/tmp}/host-ioc-bench.XXXXXX")
mkdir -p "$dir/tree" "$dir/empty" "$dir/rules"
python3 - "$dir" "$files" <<'EOF2'
import hashlib, json, os, random, sys
d, n = sys.argv[1], int(sys.argv[2])
random.seed(11)
words = b"invoice payment account login password update server mail report ".split()
for i in range(n):
    sub = "%s/tree/d%02d" % (d, i % 50)
    os.makedirs(sub, exist_ok=True)
    size = int(min(1 << 20, max(1024, random.lognormvariate(9.2, 1.2))))
    if i % 2:
        data = random.randbytes(size)
    else:
        data = b" ".join(random.choice(words) for _ in range(size // 7))
    open("%s/f%05d" % (sub, i), "wb").write(data)
def h(kind, i):
    return hashlib.new(kind, b"absent %d" % i).hexdigest()
def event(attrs):
    return {"Event": {"id": "1", "info": "bench", "Attribute": attrs}}
sha = [{"uuid": "s%d" % i, "type": "sha256", "to_ids": True, "value": h("sha256", i)}
       for i in range(100000)]
json.dump(event(sha), open(d + "/sha100k.json", "w"))
mixed = sha[:50000]
mixed += [{"uuid": "m%d" % i, "type": "md5", "to_ids": True, "value": h("md5", i)}
          for i in range(30000)]
mixed += [{"uuid": "h%d" % i, "type": "sha1", "to_ids": True, "value": h("sha1", i)}
          for i in range(20000)]
json.dump(event(mixed), open(d + "/mixed100k.json", "w"))
EOF2
python3 "$src/bench/gen_yara.py" --rules 1000 --out "$dir/rules/bench.yar" >/dev/null
run() {
	local label=$1
	shift
	/usr/bin/time -f "%U %S" -o "$dir/time" "$bin" --json -j 1 -d "$src/tests/sigs" \
		--progress never --quarantine "$dir/q" "$@" >/dev/null 2>&1 || true
	printf '%-44s %6.2f\n' "$label" "$(tail -n 1 "$dir/time" | awk '{ print $1 + $2 }')"
}
echo "CPU seconds (user + sys), $files files ($(du -sm "$dir/tree" | cut -f1) MB), -j 1"
for r in $(seq 1 "$rounds"); do
	echo "--- round $r"
	run "host scan" host scan "$dir/tree"
	run "host scan, empty dir (start-up only)" host scan "$dir/empty"
	run "--ioc 100k SHA-256" --ioc "$dir/sha100k.json" host scan "$dir/tree"
	run "--ioc 100k MD5+SHA-1+SHA-256" --ioc "$dir/mixed100k.json" host scan "$dir/tree"
	run "--ioc 100k mixed, empty dir (load only)" --ioc "$dir/mixed100k.json" \
		host scan "$dir/empty"
	run "--yara 1000 rules" --yara "$dir/rules/bench.yar" host scan "$dir/tree"
done
