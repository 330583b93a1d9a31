#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	watch-bench.py - mailcure watch: re-check of a window after a
#	signature update, cold and with the kept part hashes
# SYNOPSIS
#	bench/watch-bench.py [--users N] [--messages N] [--outbreak N]
#		[--scratch DIR] [--mailcure PATH] [--keep]
# DESCRIPTION
#	Generates the bench's realistic Maildir store (bench/gen_corpus.py,
#	USERS x MESSAGES, delivered "now", so all of it is inside a 48 h
#	window; --outbreak N adds N copies of one message, per-recipient
#	headers, as gen_corpus.py makes them), then measures, side by side in one run, the CPU seconds
#	(user + system, of mailcure and its scan processes) of:
#
#	  find		mailcure mailbox find over the store (the floor a
#			re-check without kept state cannot beat)
#	  cold		watch started on the store with signatures it has
#			not seen and no kept state: every message read,
#			decoded and scanned (what a re-check costs without
#			part hashes)
#	  warm		the same watch after a signature update
#			(--reload): the re-check with the kept part hashes
#
#	and prints each as a ratio to find, with the re-check's counts
#	(messages re-checked, parts rescanned). The memory of the kept
#	state is what watch reports (its messages and their part hashes,
#	with the allocator's overhead), given per 100,000 messages, and
#	the size of its state file.
#
#	CPU is read from /proc for watch and its scan processes (which
#	outlive the measurement), and from the children's rusage for find.
#	Wall times are printed too, but on a shared machine only the CPU
#	figures compare.
# SECURITY
#	Everything happens under the scratch directory; the watch started
#	is stopped at the end.

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(pid):
    """CPU seconds of PID and all its descendants: those alive now, and
    those that ended and were waited for (cutime, cstime)."""
    total = 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += sum(int(x) for x in fields[11:15]) / TICK
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for child in f.read().split():
                    total += tree_cpu(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def wait_line(path, pred, timeout=3600):
    end = time.time() + timeout
    seen = 0
    while time.time() < end:
        with open(path) as f:
            lines = f.readlines()
        for line in lines[seen:]:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if pred(ev):
                return ev
        seen = len(lines)
        time.sleep(0.05)
    sys.exit(f"watch-bench: timed out waiting in {path}")


def new_signature(db, name):
    # A hash signature that matches nothing: a new database all the same.
    with open(os.path.join(db, name + ".hdb"), "w") as f:
        f.write("%032x:12345:Bench.Update.%s\n" % (int.from_bytes(os.urandom(16), "big"), name))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--messages", type=int, default=100)
    ap.add_argument("--outbreak", type=int, default=0)
    ap.add_argument("--scratch")
    ap.add_argument("--mailcure", default=os.path.join(SRC, "build", "mailcure"))
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()

    scratch = a.scratch or tempfile.mkdtemp(prefix="mc-watch-bench.")
    corpus = os.path.join(scratch, "corpus")
    if not os.path.isdir(corpus):
        subprocess.run([sys.executable, os.path.join(SRC, "bench", "gen_corpus.py"),
                        "--out", corpus, "--users", str(a.users), "--messages",
                        str(a.messages), "--layout", "maildir", "--mix", "realistic",
                        "--outbreak", str(a.outbreak), "--quiet"], check=True)
    now = time.time()
    stores = []
    top = os.path.join(corpus, "maildir")
    for dom in sorted(os.listdir(top)):
        for user in sorted(os.listdir(os.path.join(top, dom))):
            box = os.path.join(top, dom, user)
            stores += ["-s", "maildir:" + box]
            for root, _, files in os.walk(box):
                for name in files:
                    os.utime(os.path.join(root, name), (now, now))
    db = os.path.join(scratch, "db")
    shutil.rmtree(db, ignore_errors=True)
    os.makedirs(db)
    shutil.copy(os.path.join(SRC, "tests", "sigs", "mailcure-test.hdb"), db)
    shutil.copy(os.path.join(SRC, "tests", "sigs", "mailcure-test.ndb"), db)
    base = [a.mailcure, "-d", db, "--quarantine", os.path.join(scratch, "q"),
            "--state-dir", os.path.join(scratch, "state"), "--dry-run"]

    # find: the whole store read and scanned.
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    subprocess.run(base + ["--json", "--progress", "never", "mailbox", "find"] + stores,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    find_cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    find_wall = time.time() - t0

    # cold: no kept state, signatures it has not seen.
    shutil.rmtree(os.path.join(scratch, "state"), ignore_errors=True)
    out = os.path.join(scratch, "watch.out")
    t0 = time.time()
    with open(out, "w") as f:
        w = subprocess.Popen(base + ["--json", "watch", "--window", "48h"] + stores,
                             stdout=f, stderr=subprocess.DEVNULL)
    cold = wait_line(out, lambda e: e.get("event") in ("recheck", "sweep"))
    cold_cpu = tree_cpu(w.pid)
    cold_wall = time.time() - t0

    # warm: a signature update, re-checked with the kept part hashes.
    new_signature(db, "update1")
    cpu0 = tree_cpu(w.pid)
    t0 = time.time()
    subprocess.run(base + ["watch", "--reload"], check=True)
    warm = wait_line(out, lambda e: e.get("event") == "recheck" and e is not cold and
                     e.get("change") != cold.get("change"))
    warm_cpu = tree_cpu(w.pid) - cpu0
    warm_wall = time.time() - t0
    w.send_signal(signal.SIGTERM)
    w.wait()

    n = warm["state_messages"]
    state_file = os.path.getsize(os.path.join(scratch, "state", "watch", "state"))
    rows = [
        ("mailbox find (whole store)", find_cpu, find_wall, "-"),
        ("watch re-check, cold (no kept hashes)", cold_cpu, cold_wall,
         f'{cold["indexed"]} read and scanned'),
        ("watch re-check after an update (kept hashes)", warm_cpu, warm_wall,
         f'{warm["rechecked"]} re-checked, {warm["parts_scanned"]} parts rescanned'),
    ]
    print(f"store: {n} messages in {len(stores) // 2} Maildirs (bench realistic mix, "
          f"{a.outbreak} outbreak copies)")
    print("| what | CPU s | ratio to find | wall s | work |")
    print("|---|---|---|---|---|")
    for name, cpu, wall, work in rows:
        print(f"| {name} | {cpu:.2f} | {cpu / find_cpu if find_cpu else 0:.3f} | {wall:.2f} | {work} |")
    print(f"kept state: {warm['state_bytes']} bytes for {n} messages = "
          f"{warm['state_bytes'] / n * 100000 / 2**20:.1f} MiB per 100,000 messages "
          f"(state file {state_file / n * 100000 / 2**20:.1f} MiB per 100,000)")
    if not a.keep and not a.scratch:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
