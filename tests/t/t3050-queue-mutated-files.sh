#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t3050-queue-mutated-files - hundreds of damaged queue files, no crash
# DESCRIPTION
#	Real queue files (a plain message, one with an EICAR attachment,
#	one with two recipients, one from sendmail) are copied into the
#	hold queue of a frozen Postfix in damaged forms: cut at many
#	offsets, with flipped bytes, with record lengths made huge, with
#	pointer records aimed anywhere. queue scan and queue list must
#	finish (exit 0, 1 or 2; never a crash or a sanitizer report),
#	report every file either as a message or as an error naming its
#	queue id, and leave every file as it was.

set -u
. "$(dirname "$0")/lib-postfix.sh"

mc_setup
pf_need
pf_start
D=$PF_DOMAIN

mc_pf freeze
mc_expect_rc 0 "queue freeze"
mc_eicar >"$T/eicar.com"
pf_smtp "friend@sender.test" "alice@$D" "plain" --body "$(seq 1 50)"
pf_smtp "mallory@sender.test" "alice@$D,bob@$D" "eicar" --attach "@$T/eicar.com"
mc_msg_plain -t "carol@$D" -s "local" | pf_sendmail "local@sender.test" "carol@$D"
pf_wait_queue 3
mkdir -p "$T/orig"
find "$PF_SPOOL" -type f -path '*/incoming/*' -exec cp {} "$T/orig/" \;
mc_assert_eq 3 "$(ls "$T/orig" | wc -l)" "original queue files"

mkdir -p "$PF_SPOOL/hold"
python3 - "$T/orig" "$PF_SPOOL/hold" <<'EOF'
import os, random, sys
src, dst = sys.argv[1], sys.argv[2]
rnd = random.Random(3050)
n = 0
def put(data):
    global n
    n += 1
    path = os.path.join(dst, "F%09X" % n)
    with open(path, "wb") as f:
        f.write(data)
for name in sorted(os.listdir(src)):
    data = open(os.path.join(src, name), "rb").read()
    size = len(data)
    # Cut at 40 offsets, including the first bytes.
    for off in sorted(set([0, 1, 2, 3, 5, 17, 100] + [rnd.randrange(size) for _ in range(33)])):
        put(data[:off])
    # Flipped bytes.
    for _ in range(30):
        b = bytearray(data)
        for _ in range(rnd.randint(1, 8)):
            i = rnd.randrange(size)
            b[i] ^= 1 << rnd.randrange(8)
        put(bytes(b))
    # A length byte with its continuation bit set (huge lengths).
    for _ in range(10):
        b = bytearray(data)
        i = rnd.randrange(1, size)
        b[i] |= 0x80
        put(bytes(b))
    # Pointer records aimed anywhere, inserted after a record start.
    for _ in range(10):
        target = rnd.choice([0, 1, size - 1, size, size + 100, rnd.randrange(size), 10**14])
        rec = b"p\x0f" + (b"%15d" % target)[-15:]
        i = data.find(b"M\x00")
        i = i + 2 if i >= 0 else 0
        put(data[:i] + rec + data[i:])
EOF
chown -R postfix:postfix "$PF_SPOOL/hold"
chmod 700 "$PF_SPOOL"/hold/*
planted=$(ls "$PF_SPOOL/hold" | wc -l)
export planted
sums=$(cd "$PF_SPOOL/hold" && sha256sum -- * | sort)

mc_pf --json scan
case $MC_RC in
0|1|2) ;;
*) mc_show; mc_fail "queue scan over damaged files: exit $MC_RC" ;;
esac
pf_check "$MC_OUT" '
import os
ids = set()
for e in events:
    if e["event"] in ("match", "error", "unscanned"):
        ids.add(e["queue_id"])
s = [e for e in events if e["event"] == "summary"][0]
total = s["scanned"] + s["errors"]
want = 3 + int(os.environ["planted"])
assert total == want, (total, want)
for e in events:
    if e["event"] == "error":
        assert e["queue_id"] and e["why"], e
'
mc_pf --json list
case $MC_RC in
0|2) ;;
*) mc_show; mc_fail "queue list over damaged files: exit $MC_RC" ;;
esac
mc_assert_eq "$sums" "$(cd "$PF_SPOOL/hold" && sha256sum -- * | sort)" "damaged files unchanged"

# Let the instance go without them.
ls "$PF_SPOOL/hold" | postsuper -c "$PF_CONF" -d - hold >/dev/null 2>&1
mc_pf thaw
mc_expect_rc 0 "queue thaw"
pf_wait_queue 0
echo "ok ($planted damaged files)"
