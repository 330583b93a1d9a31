#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1021-mbox-clean-killed - a killed mbox clean leaves nothing to duplicate
# DESCRIPTION
#	"mailbox clean" of an mbox of 300 messages, one in ten infected,
#	is killed (SIGKILL) at random points: most while it holds the
#	mailbox lock (staging quarantine entries, rewriting), the others
#	anywhere in the run. After each kill:
#
#	- every entry "quarantine list" shows as quarantined is of a
#	  message that is no longer in the mbox;
#	- every other trial, "quarantine restore --run" of the killed
#	  run leaves every message in the mbox exactly once (it never
#	  appends a second copy of a message that is still there);
#	- a second clean ends with each infected message exactly once
#	  in the quarantine (as quarantined, over all runs) and not in
#	  the mbox, each clean message exactly once in the mbox, byte
#	  for byte, and neither a rewrite journal nor a staged entry
#	  left.
#
#	The mailbox and the quarantine are on a tmpfs when there is one:
#	the trials are about what a kill leaves, and fsync is free there.
#	The counts of trials that left staged entries and a rewrite
#	journal show which windows were hit.
#
#	Then SIGTERM and SIGINT trials: the run ends at a safe point
#	with its summary printed, exit status 0 or 1 (nothing failed),
#	every matched message acted on, and the same checks hold.
#
#	Last, a Maildir clean killed between quarantine and unlink: a
#	restore of the message whose file is still there is refused.
#
#	MC_KILL_TRIALS and MC_SIGNAL_TRIALS change the number of trials
#	(default 20 and 4 of each signal); MC_KILL_SEED the random seed.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3 base64
mc_setup

work=$T
if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ]; then
	work=$(mktemp -d /dev/shm/mc-t1021.XXXXXX)
	mc_at_exit "rm -rf '$work'"
fi
mkdir -p "$work/mail"
mc_msg_eicar -s "infected NNNNN" -i "<NNNNN.infected@mailcure.test>" >"$T/infected.eml"
mc_msg_plain -s "clean NNNNN" -i "<NNNNN.clean@mailcure.test>" >"$T/clean.eml"

"$MC_PYTHON" - "$T" "$work" "$MAILCURE" "$MC_SIGS" "${MC_KILL_TRIALS:-20}" \
	"${MC_SIGNAL_TRIALS:-4}" "${MC_KILL_SEED:-$RANDOM}" <<'EOF'
import hashlib, json, os, random, re, shutil, signal, subprocess, sys, time

T, W, MAILCURE, SIGS = sys.argv[1:5]
KILLS, SIGNALS, SEED = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
COUNT, EVERY = 300, 10
MBOX, Q, ORIG = W + "/mail/inbox", W + "/q", W + "/inbox.orig"
rnd = random.Random(SEED)
print("# seed %d: %d messages, %d infected" % (SEED, COUNT, COUNT // EVERY))

def msg_id(raw):
    m = re.search(rb"^Message-ID: <(\d+\.\w+)@", raw, re.M)
    return m.group(1).decode() if m else None

# The mbox, and each message's raw bytes by its Message-ID.
templates = {k: open("%s/%s.eml" % (T, k), "rb").read() for k in ("infected", "clean")}
orig = {}
with open(ORIG, "wb") as f:
    for i in range(COUNT):
        kind = "infected" if i % EVERY == EVERY // 2 else "clean"
        raw = b"From sender@example.com Mon Mar  2 10:00:00 2026\n" + \
            templates[kind].replace(b"NNNNN", b"%05d" % i) + b"\n"
        f.write(raw)
        orig[msg_id(raw)] = raw
infected = {k for k in orig if k.endswith("infected")}
sha_of = {hashlib.sha256(r).hexdigest(): k for k, r in orig.items()}

def cure(*args, **kw):
    return subprocess.run([MAILCURE, "-d", SIGS, "--quarantine", Q, "--progress", "never"]
                          + list(args), capture_output=True, **kw)

def mbox_messages():
    """Message-ID -> count; a message that is not one of the
    originals byte for byte is a problem of its own."""
    data = open(MBOX, "rb").read()
    starts = [0] if data.startswith(b"From ") else []
    starts += [m.start() + 2 for m in re.finditer(rb"\n\nFrom ", data)]
    counts, bad = {}, []
    for i, s in enumerate(starts):
        raw = data[s:starts[i + 1] if i + 1 < len(starts) else len(data)]
        k = msg_id(raw)
        if k is None or orig.get(k) != raw:
            bad.append("a message at offset %d is none of the originals" % s)
        counts[k] = counts.get(k, 0) + 1
    return counts, bad

def quarantined():
    """Message-ID -> entries listed as quarantined (not restored),
    and how many entries are staged."""
    r = cure("--json", "quarantine", "list")
    counts, staged = {}, 0
    for line in r.stdout.splitlines():
        e = json.loads(line)
        if e.get("event") == "staged":
            staged += e.get("entries", 0)
        if e.get("event") == "entry" and not e.get("restored_at"):
            k = sha_of.get(e.get("sha256"), "unknown sha256 " + str(e.get("sha256")))
            counts[k] = counts.get(k, 0) + 1
    return counts, staged

def left_journal():
    d = Q + "/journal"
    return [n for n in os.listdir(d)] if os.path.isdir(d) else []

def catches(pid, sig):
    """Whether process PID has a handler for SIG."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return int(line.split()[1], 16) >> (sig - 1) & 1
    except OSError:
        pass
    return False

def run_killed(sig, trial, locked, budget):
    """Start a clean, send SIG at a random point: while it holds the
    mailbox lock (LOCKED), or anywhere from the moment the run can
    take it. Returns (how, rc, stdout, stderr, caught)."""
    lock = MBOX + ".lock"
    p = subprocess.Popen([MAILCURE, "-d", SIGS, "--quarantine", Q, "--progress", "never",
                          "--run-id", "killed-%d" % trial, "mailbox", "clean",
                          "-s", "mbox:" + MBOX],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    start = time.monotonic()
    caught = True
    if sig != signal.SIGKILL:
        while not catches(p.pid, sig) and p.poll() is None:
            time.sleep(0.0002)
        caught = p.poll() is None
    if locked:
        while not os.path.exists(lock) and p.poll() is None:
            time.sleep(0.0002)
        time.sleep(rnd.uniform(0, budget["locked"]))
        how = "locked"
    else:
        time.sleep(rnd.uniform(0, max(budget["total"] - (time.monotonic() - start), 0)))
        how = "anywhere"
    p.send_signal(sig)
    out, err = p.communicate()
    how += " %.3fs" % (time.monotonic() - start)
    return how, p.returncode, out.decode(errors="replace"), err.decode(errors="replace"), \
        caught

def check(trial, problems, what):
    """Count PROBLEMS, showing the first few."""
    for p in problems[:3]:
        print("# trial %d: %s: %s" % (trial, what, p))
    if len(problems) > 3:
        print("# trial %d: %s: %d more" % (trial, what, len(problems) - 3))
    return len(problems)

# How long a clean takes, and how long it holds the mailbox lock
# (quarantining and rewriting).
shutil.copyfile(ORIG, MBOX)
p = subprocess.Popen([MAILCURE, "-d", SIGS, "--quarantine", Q, "--progress", "never",
                      "mailbox", "clean", "-s", "mbox:" + MBOX], stdout=subprocess.DEVNULL)
t0 = time.monotonic()
while not os.path.exists(MBOX + ".lock") and p.poll() is None:
    time.sleep(0.0002)
t1 = time.monotonic()
while os.path.exists(MBOX + ".lock") and p.poll() is None:
    time.sleep(0.0002)
t2 = time.monotonic()
p.wait()
if p.returncode != 1:
    sys.exit("FAIL: the undisturbed clean exited %d" % p.returncode)
budget = {"locked": t2 - t1, "total": time.monotonic() - t0}
print("# an undisturbed clean: %.2f s, %.3f s of it under the mailbox lock"
      % (budget["total"], budget["locked"]))

failed = {"listed": 0, "restore": 0, "rerun": 0, "signal": 0}
hit = {"staged": 0, "journal": 0}
trials = [(signal.SIGKILL, i % 3 != 2) for i in range(KILLS)] + \
    [(signal.SIGTERM, i % 2 == 0) for i in range(SIGNALS)] + \
    [(signal.SIGINT, i % 2 == 0) for i in range(SIGNALS)]
for trial, (sig, locked) in enumerate(trials):
    shutil.rmtree(Q, ignore_errors=True)
    shutil.copyfile(ORIG, MBOX)
    how, rc, out, err, caught = run_killed(sig, trial, locked, budget)
    mbox, bad = mbox_messages()
    q, staged = quarantined()
    journal = left_journal()
    hit["staged"] += staged > 0
    hit["journal"] += len(journal) > 0
    print("# trial %d: %s %s, exit %d, %d entries quarantined, %d staged%s, "
          "%d of %d messages in the mbox"
          % (trial, signal.Signals(sig).name, how, rc, sum(q.values()), staged,
             ", a rewrite journal" if journal else "", sum(mbox.values()), COUNT))

    # Listed as quarantined: no longer in the mbox.
    failed["listed"] += check(trial, ["%s listed as quarantined, %d times in the mbox"
                                      % (k, mbox.get(k, 0))
                                      for k in sorted(q) if mbox.get(k, 0) > 0],
                              "after the kill")
    if sig != signal.SIGKILL:
        probs = [] if caught else ["the run does not catch the signal"]
        if "----------- SUMMARY" not in out:
            probs.append("no summary printed (exit %d): %s" % (rc, err.strip()[-300:]))
        # Killed by it only when it came after the run had ended (the
        # summary printed, not interrupted): the default action is
        # back once the command is done.
        late = rc == -sig and "----------- SUMMARY" in out and "Interrupted:" not in out
        if rc not in (0, 1) and not late:
            probs.append("exit status %d: %s" % (rc, err.strip()[-300:]))
        if late:
            print("# trial %d: the signal came after the run had ended" % trial)
        m = re.search(r"Matched:\s+(\d+)\n(?:.*\n)?Quarantined:\s+(\d+)", out)
        if m and m.group(1) != m.group(2):
            probs.append("matched %s, quarantined %s" % m.groups())
        probs += bad
        failed["signal"] += check(trial, probs, signal.Signals(sig).name)

    if trial % 2 == 0:
        r = cure("quarantine", "restore", "--run", "killed-%d" % trial)
        mbox, bad = mbox_messages()
        probs = ["%s: %d times in the mbox after the restore" % (k, mbox.get(k, 0))
                 for k in sorted(orig) if mbox.get(k, 0) != 1] + bad
        probs += ["%s: not one of the messages" % k for k in mbox if k not in orig]
        failed["restore"] += check(trial, probs, "restore --run")

    r = cure("mailbox", "clean", "-s", "mbox:" + MBOX)
    mbox, bad = mbox_messages()
    q, staged = quarantined()
    probs = []
    if r.returncode not in (0, 1):
        probs.append("the second clean exited %d: %s" % (r.returncode,
                                                        r.stderr.decode()[-300:]))
    for k in sorted(orig):
        want = (0, 1) if k in infected else (1, 0)
        got = (mbox.get(k, 0), q.get(k, 0))
        if got != want:
            probs.append("%s: %d in the mbox, %d quarantined" % ((k,) + got))
    probs += ["%s: quarantined, not one of the messages" % k for k in q if k not in orig]
    probs += bad + ["rewrite journal left: " + j for j in left_journal()]
    if staged:
        probs.append("%d entries still staged" % staged)
    failed["rerun"] += check(trial, probs, "after a second clean")

print("# %d trials (%d SIGKILL, %d SIGTERM, %d SIGINT): %d left staged entries, "
      "%d a rewrite journal; problems: %s"
      % (len(trials), KILLS, SIGNALS, SIGNALS, hit["staged"], hit["journal"],
         ", ".join("%s %d" % kv for kv in failed.items())))
if sum(failed.values()):
    sys.exit("FAIL: see the problems above")
EOF

# A Maildir clean killed between the quarantine and the unlink leaves
# an entry for a file that is still there (made here by putting the
# file back): restoring refuses it, and nothing is doubled.
md=$work/Maildir
mc_msg_eicar -s "maildir infected" | mc_maildir_put "$md" cur S >/dev/null
mc_msg_plain -s "maildir clean" | mc_maildir_put "$md" new >/dev/null
before=$(sha_multiset "$md")
mc_cure --json --run-id maildir-killed mailbox clean -s "maildir:$md"
mc_expect_rc 1 "mailbox clean of the Maildir"
path=$(mc_events "$MC_OUT" match path)
id=$(mc_events "$MC_OUT" match quarantine_id)
[ ! -e "$path" ] || mc_fail "$path was not removed"
cp -p "$MC_Q/entries/$id/message" "$path"
mc_cure quarantine restore --run maildir-killed
mc_expect_rc 2 "restore of a Maildir message that is still there"
grep -q "already in" "$MC_ERR" || { mc_show; mc_fail "no reason given for the refusal"; }
mc_assert_eq "$before" "$(sha_multiset "$md")" "the Maildir after the refused restore"
