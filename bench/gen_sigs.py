#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	gen_sigs.py - deterministic ClamAV database of production size
# SYNOPSIS
#	bench/gen_sigs.py --out DIR [--md5 N] [--sha256 N] [--ndb N]
#		[--ldb N] [--ldb-common F] [--scale F] [--seed N]
#		[--check] [--force]
# DESCRIPTION
#	Writes into DIR/db a signature database with the shape of the
#	official one (main and daily files): millions of MD5 file hashes
#	(.hdb) and some SHA-256 ones (.hsb), hundreds of thousands of
#	body patterns (.ndb) and thousands of logical signatures (.ldb)
#	of two to four subsignatures, and DIR/manifest.json saying what
#	was written. Defaults: 3,000,000 MD5, 60,000 SHA-256, 300,000
#	body patterns, 8,000 logical signatures; --scale multiplies all
#	four.
#
#	Hashes are random (they never match a real file) with file sizes
#	spread from 1 kB to 10 MB as the official ones are: a scanned
#	file of such a size has its hash computed and looked up.
#
#	Body patterns and subsignatures are cut from real data found on
#	this machine: ELF programs and libraries for binary patterns, and
#	licences, documentation, JavaScript, HTML, Python and Perl for
#	text patterns (a fixed list of paths, SOURCES; the files used and
#	their SHA-256 are in the manifest, so another machine gives a
#	database of the same shape but other bytes). A pattern starts at
#	distinctive bytes, as a signature writer would start it: never
#	with one of the 3-byte sequences common in its kind of data
#	("the", "\x48\x89\xc7"), with which libclamav's matchers would
#	try it at every other line of text or function of code. They
#	carry what real ones carry: ?? and nibble wildcards, {n-m} gaps,
#	* gaps, single- and multi-byte alternatives, offsets (absolute,
#	floating, EOF-n, and EP+n, Sx+n, SL+n for executables) and
#	target types (executables first, then any file, HTML, mail,
#	OLE2, ELF, text, PDF, Mach-O, Java, graphics: NDB_TARGETS);
#	logical signatures have subsignature offsets and ::i ::w ::a ::f
#	modifiers, counted and alternative expressions, FileSize,
#	NumberOfSections and Container conditions, and a few PCRE
#	subsignatures.
#
#	None of them may match a clean message: two bytes of the last
#	fixed run of every pattern (of every subsignature of a logical
#	signature) are replaced, in text by bytes that no UTF-8 text and
#	no normalised HTML holds (0xf8-0xff), in binary by random bytes.
#	So the matchers meet the prefixes they would meet with real
#	signatures, and follow them as far, but a pattern never matches
#	in full. A share of the logical signatures of the any-file, HTML,
#	mail and text types (--ldb-common) have as first subsignature a
#	token real ones start with ("<script", "http://", "<html"), some
#	of which occur in mail; their expression always needs a replaced
#	one too.
#
#	With --check, clamscan loads the database (on an empty file) and
#	the number of signatures it reports must equal the number of lines
#	written: every line is accepted by libclamav. The load time and
#	peak memory are put in the manifest.
#
#	The same parameters and source files give the same bytes.
# SECURITY
#	Reads only the listed system files; writes only under DIR.
#	--force replaces DIR/db and DIR/manifest.json, nothing else.

import argparse
import glob
import hashlib
import json
import math
import mmap
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

GENERATOR_VERSION = 1

# Sources, in this order (each glob's matches sorted, at most N taken).
# Binary: ELF programs and libraries. Text: licences and documentation,
# program text (JavaScript, Python, Perl), HTML.
SOURCES = {
    "binary": [
        ("/usr/bin/bash", 1), ("/usr/bin/perl", 1), ("/usr/bin/python3.*[0-9]", 1),
        ("/usr/bin/gdb", 1), ("/usr/bin/git", 1), ("/usr/bin/openssl", 1),
        ("/usr/bin/tar", 1), ("/usr/bin/gpg", 1), ("/usr/bin/rg", 1),
        ("/usr/bin/clamscan", 1), ("/usr/bin/sigtool", 1), ("/usr/bin/ssh", 1),
        ("/usr/bin/find", 1), ("/usr/bin/grep", 1), ("/usr/bin/sed", 1),
        ("/usr/bin/dpkg", 1), ("/usr/bin/make", 1), ("/usr/bin/valgrind*", 2),
        ("/usr/lib/x86_64-linux-gnu/libc.so.6", 1),
        ("/usr/lib/x86_64-linux-gnu/libcrypto.so.3", 1),
        ("/usr/lib/x86_64-linux-gnu/libssl.so.3", 1),
        ("/usr/lib/x86_64-linux-gnu/libstdc++.so.6", 1),
        ("/usr/lib/x86_64-linux-gnu/libclamav.so.[0-9]*", 1),
        ("/usr/lib/x86_64-linux-gnu/libxml2.so.2", 1),
        ("/usr/lib/x86_64-linux-gnu/libsqlite3.so.0", 1),
        ("/usr/lib/x86_64-linux-gnu/libz.so.1", 1),
        ("/usr/lib/x86_64-linux-gnu/libpcre2-8.so.0", 1),
        ("/usr/lib/x86_64-linux-gnu/libgnutls.so.30", 1),
        ("/usr/lib/x86_64-linux-gnu/libglib-2.0.so.0", 1),
        ("/usr/lib/x86_64-linux-gnu/libpython3.*.so.1.0", 1),
        ("/usr/lib/x86_64-linux-gnu/libbfd-*.so", 1),
        ("/usr/lib/x86_64-linux-gnu/libicuuc.so.[0-9]*", 1),
        ("/usr/lib/x86_64-linux-gnu/libcurl.so.4", 1),
        ("/usr/lib/x86_64-linux-gnu/libsystemd.so.0", 1),
        ("/usr/lib/x86_64-linux-gnu/libm.so.6", 1),
    ],
    "text": [
        ("/usr/share/common-licenses/*", 20),
        ("/usr/share/doc/*/copyright", 400),
        ("/usr/share/doc/*/README*", 60),
        ("/usr/share/doc/*/NEWS", 30),
    ],
    "code": [
        ("/usr/share/javascript/*/*.js", 40),
        ("/usr/share/javascript/*/*/*.js", 60),
        ("/usr/share/javascript/*/*/*/*.js", 60),
        ("/usr/lib/python3.*[0-9]/*.py", 150),
        ("/usr/share/perl/5.*/*.pm", 80),
        ("/usr/share/perl5/*.pm", 40),
    ],
    "html": [
        ("/usr/share/doc/*/*.html", 120),
        ("/usr/share/doc/*/html/*.html", 120),
        ("/usr/share/doc/*/*/*.html", 120),
    ],
}
MAX_SOURCE_BYTES = 64 << 20
# Sample of each source file for the trigram counts, and the frequency
# over which a trigram is too common to start a pattern.
TRIGRAM_SAMPLE = 16384
COMMON_PER_MILLION = 20

# Official-like names: platform by target type, then a category and a
# family. The number is the signature's own.
PLATFORMS = {0: ["Win", "Unix", "Multios", "Doc", "Xls", "Js", "Txt", "Andr"],
             1: ["Win"], 2: ["Doc", "Xls", "Ppt"], 3: ["Html", "Js"],
             4: ["Email"], 5: ["Img"], 6: ["Unix"], 7: ["Txt", "Js", "Php"],
             9: ["Osx"], 10: ["Pdf"], 12: ["Java"]}
CATEGORIES = ["Trojan", "Malware", "Downloader", "Dropper", "Exploit", "Worm",
              "Adware", "Packed", "Phishing", "Ransomware", "Coinminer", "Backdoor"]
FAMILIES = ["Agent", "Generic", "Zbot", "Emotet", "Qakbot", "Formbook", "Lokibot",
            "AgentTesla", "Remcos", "Nanocore", "Ursnif", "Dridex", "Mirai", "Gafgyt",
            "Valyria", "Sload", "Heur", "Obfus", "CVE_2017_11882", "Iframe", "Redirector",
            "Kryptik", "Razy", "Ramnit", "Sality", "Virut", "Expiro", "Xmrig"]

# (share, target type, source kind) of body patterns. Executables
# dominate the official database; HTML, text, mail and documents follow.
NDB_TARGETS = [(0.15, 0, None), (0.45, 1, "binary"), (0.05, 2, "binary"),
               (0.08, 3, "html"), (0.05, 4, "text"), (0.01, 5, "binary"),
               (0.06, 6, "binary"), (0.05, 7, "code"), (0.02, 9, "binary"),
               (0.05, 10, "binary"), (0.03, 12, "binary")]
LDB_TARGETS = [(0.25, 0, None), (0.40, 1, "binary"), (0.06, 2, "binary"),
               (0.12, 3, "html"), (0.02, 4, "text"), (0.04, 6, "binary"),
               (0.06, 7, "code"), (0.05, 10, "binary")]
# Sources of target-0 ("any file") patterns.
ANY_KINDS = [(0.70, "binary"), (0.15, "code"), (0.10, "html"), (0.05, "text")]
# Tokens real logical signatures start with; some occur in mail.
COMMON_TOKENS = ["<script", "<iframe", "eval(", "unescape(", "document.write",
                 "fromCharCode", "ActiveXObject", "window.location", "<object",
                 "createElement", "WScript.Shell", "powershell", "cmd.exe", "http://",
                 "https://", ";base64,", "<form", "password", "<html", "<a href=",
                 "<img src=", "Content-Type:", "charset=", "<body", "<table", "<div",
                 "onload=", ".exe", ".zip", "Subject:", "invoice"]
# Executable targets: entry-point and section offsets apply.
EXEC_TARGETS = (1, 6, 9)
# Normalised targets: libclamav lowercases what these are matched on.
LOWER_TARGETS = (3, 7)

MUTATE_TEXT = range(0xf8, 0x100)


def log_uniform(rng, lo, hi):
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def pick(rng, table):
    r = rng.random()
    for row in table:
        r -= row[0]
        if r < 0:
            return row
    return table[-1]


def sig_name(rng, target, n):
    return "%s.%s.%s-%d-0" % (rng.choice(PLATFORMS.get(target, ["Win"])),
                              rng.choice(CATEGORIES), rng.choice(FAMILIES), n)


# ---------------------------------------------------------------------------
# Source data.

class Sources:
    def __init__(self):
        self.files = {k: [] for k in SOURCES}
        self.used = []
        seen = set()
        for kind, globs in SOURCES.items():
            budget = MAX_SOURCE_BYTES
            for pattern, limit in globs:
                taken = 0
                for path in sorted(glob.glob(pattern)):
                    if taken >= limit or budget <= 0:
                        break
                    real = os.path.realpath(path)
                    if real in seen or not os.path.isfile(real):
                        continue
                    size = os.path.getsize(real)
                    if size < 4096:
                        continue
                    with open(real, "rb") as f:
                        head = f.read(4)
                        if (kind == "binary") != (head == b"\x7fELF"):
                            continue
                        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                    if kind != "binary" and b"\0" in data[:4096]:
                        continue
                    seen.add(real)
                    self.files[kind].append((real, data))
                    self.used.append({"kind": kind, "path": real, "bytes": size,
                                      "sha256": hashlib.sha256(data).hexdigest()})
                    taken += 1
                    budget -= size
            if not self.files[kind]:
                sys.exit("gen_sigs: no %s source file found (tried %s)" % (
                    kind, ", ".join(g for g, _ in globs)))
        self.common = {k: self.trigrams(k) for k in ("binary", "text")}

    def trigrams(self, family):
        """The 3-byte sequences that are common in FAMILY's data (the
        binary sources, or all text ones lowercased): over
        COMMON_PER_MILLION in a sample of them."""
        counts = {}
        total = 0
        kinds = ["binary"] if family == "binary" else ["text", "code", "html"]
        for kind in kinds:
            for _, data in self.files[kind]:
                b = bytes(data[:TRIGRAM_SAMPLE])
                if family != "binary":
                    b = b.lower()
                for i in range(len(b) - 2):
                    t = b[i:i + 3]
                    counts[t] = counts.get(t, 0) + 1
                total += max(0, len(b) - 2)
        limit = total * COMMON_PER_MILLION / 1e6
        return {t for t, n in counts.items() if n > limit}

    def cut(self, rng, kind, length):
        """LENGTH bytes of a KIND file at a random offset, chosen until
        they look like what a signature is made of."""
        files = self.files[kind]
        for _ in range(200):
            path, data = files[rng.randrange(len(files))]
            if len(data) <= length:
                continue
            off = rng.randrange(len(data) - length)
            b = bytes(data[off:off + length])
            # Signature writers start at distinctive bytes: a pattern
            # that starts with "the" or "\x48\x89\xc7" would be tried
            # at every other line of text or function of code.
            if b[:3].lower() in self.common["binary" if kind == "binary" else "text"]:
                continue
            if kind == "binary":
                if len(set(b)) < max(6, length // 3) or b.count(0) > length // 4:
                    continue
                if re.search(rb"(.)\1\1\1", b, re.S):
                    continue
            else:
                if b"\0" in b or b"\r" in b or len(set(b)) < max(6, length // 4):
                    continue
            return b
        sys.exit("gen_sigs: cannot cut %d usable bytes from the %s sources" % (length, kind))


# ---------------------------------------------------------------------------
# Patterns. A pattern is built as a list of tokens, each a fixed byte
# (an int) or a string of signature syntax (wildcard, gap, alternative);
# written out, fixed bytes become hex.

def mutate_last_run(rng, toks, text):
    """Replace two bytes of the last run of at least 6 fixed bytes, past
    its third byte: the pattern then never matches."""
    end = len(toks)
    while end > 0:
        # Find the run ending at END.
        while end > 0 and not isinstance(toks[end - 1], int):
            end -= 1
        start = end
        while start > 0 and isinstance(toks[start - 1], int):
            start -= 1
        if end - start >= 6:
            at = rng.randrange(start + 3, end - 1)
            for k in (at, at + 1):
                if text:
                    toks[k] = rng.choice(MUTATE_TEXT)
                else:
                    toks[k] = (toks[k] + rng.randrange(1, 256)) % 256
            return True
        end = start
    return False


def decorate(rng, raw, allow_split=True, allow_alt=True, lower=False):
    """RAW bytes as tokens with wildcards, gaps and alternatives, as real
    body patterns have them. Every fixed run that starts a part (after
    a * or {n-m} gap) is at least 6 bytes; the first and last 3 bytes
    stay fixed."""
    if lower:
        raw = raw.lower()
    toks = list(raw)
    n = len(toks)
    form = rng.random()
    if form < 0.34 or n < 20:
        return toks, "plain"
    if form < 0.50:
        # ?? for one byte here and there.
        for _ in range(rng.randint(1, max(1, n // 12))):
            i = rng.randrange(3, n - 3)
            toks[i] = "??"
        return toks, "anybyte"
    if form < 0.56:
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(3, n - 3)
            if isinstance(toks[i], int):
                toks[i] = ("%x?" % (toks[i] >> 4)) if rng.random() < 0.5 else \
                    ("?%x" % (toks[i] & 15))
        return toks, "nibble"
    if allow_alt and form < 0.68:
        i = rng.randrange(4, n - 6)
        r = rng.random()
        if r < 0.5:
            # One byte of a set: the real one and others.
            alts = {toks[i]} | {rng.randrange(256) for _ in range(rng.randint(1, 3))}
            toks[i] = "(%s)" % "|".join("%02x" % b for b in sorted(alts))
            return toks, "alt-byte"
        if r < 0.85:
            w = 2 if rng.random() < 0.7 else 3
            real = bytes(toks[i:i + w])
            other = bytes(rng.randrange(256) for _ in range(w))
            alts = sorted({real, other})
            toks[i:i + w] = ["(%s)" % "|".join(a.hex() for a in alts)]
            return toks, "alt-multi"
        # Generic alternatives (different lengths).
        real = bytes(toks[i:i + 3])
        other = bytes(rng.randrange(256) for _ in range(rng.choice((2, 4))))
        toks[i:i + 3] = ["(%s|%s)" % (real.hex(), other.hex())]
        return toks, "alt-generic"
    if not allow_split or n < 24:
        return toks, "plain"
    # A gap between two parts: the bytes in between are left out.
    i = rng.randrange(8, n - 8)
    cut = rng.randint(0, min(8, n - i - 8))
    if form < 0.86:
        lo = rng.randint(0, 16)
        r = rng.random()
        if r < 0.6:
            gap = "{%d-%d}" % (lo, lo + rng.randint(1, 64))
        elif r < 0.8:
            gap = "{%d}" % rng.randint(1, 200)
        elif r < 0.9:
            gap = "{-%d}" % rng.randint(2, 40)
        else:
            gap = "{%d-}" % rng.randint(1, 20)
        toks[i:i + cut] = [gap]
        return toks, "range"
    toks[i:i + cut] = ["*"]
    return toks, "star"


def hexsig(toks):
    return "".join("%02x" % t if isinstance(t, int) else t for t in toks)


def fixed_bytes(toks):
    return sum(1 for t in toks if isinstance(t, int))


def offset_for(rng, target):
    r = rng.random()
    if target in EXEC_TARGETS and r < 0.25:
        r2 = rng.random()
        if r2 < 0.5:
            return "EP+%d" % rng.randint(0, 4096) if rng.random() < 0.8 else \
                "EP-%d" % rng.randint(1, 64)
        if r2 < 0.8:
            return "S%d+%d" % (rng.randint(0, 3), rng.randint(0, 8192))
        return "SL+%d" % rng.randint(0, 4096)
    if r < 0.72:
        return "*"
    if r < 0.78:
        return "0"
    if r < 0.84:
        return "EOF-%d" % rng.randint(16, 4096)
    if r < 0.92:
        return "%d,%d" % (rng.randint(0, 2048), rng.randint(1, 4096))
    return "%d" % rng.randint(1, 1024)


class Stats(dict):
    def add(self, key, n=1):
        self[key] = self.get(key, 0) + n


def body_pattern(rng, src, kind, target, lo, hi, stats, allow_alt=True,
                 allow_split=True):
    """Tokens of one never-matching body pattern of LO..HI fixed bytes."""
    text = kind != "binary"
    while True:
        raw = src.cut(rng, kind, log_uniform(rng, lo, hi))
        toks, form = decorate(rng, raw, allow_split=allow_split, allow_alt=allow_alt,
                              lower=target in LOWER_TARGETS)
        if mutate_last_run(rng, toks, text):
            stats.add("form:" + form)
            return toks


def source_kind(rng, kind):
    return kind if kind is not None else pick(rng, ANY_KINDS)[1]


# ---------------------------------------------------------------------------
# The files.

def write_hashes(out, rng, count, algo, files, stats):
    """COUNT random hashes of ALGO over FILES [(name, share)]."""
    digits = 32 if algo == "md5" else 64
    fmt = "%%0%dx:%%d:%%s\n" % digits
    left = count
    written = {}
    for k, (name, share) in enumerate(files):
        n = left if k == len(files) - 1 else int(count * share)
        left -= n
        with open(os.path.join(out, name), "w") as f:
            buf = []
            for i in range(n):
                size = log_uniform(rng, 1024, 10 << 20)
                buf.append(fmt % (rng.getrandbits(4 * digits), size,
                                  sig_name(rng, 1 if rng.random() < 0.8 else 0,
                                           rng.randrange(1000000, 9999999))))
                if len(buf) >= 10000:
                    f.write("".join(buf))
                    buf = []
            f.write("".join(buf))
        written[name] = n
        stats.add(algo, n)
    return written


def ndb_line(rng, src, n, stats):
    _, target, kind = pick(rng, NDB_TARGETS)
    kind = source_kind(rng, kind)
    toks = body_pattern(rng, src, kind, target, 12, 120, stats)
    off = offset_for(rng, target)
    # "*" gaps need a floating start; libclamav takes them anywhere.
    line = "%s:%d:%s:%s" % (sig_name(rng, target, n), target, off, hexsig(toks))
    if rng.random() < 0.1:
        line += ":%d" % rng.choice((51, 73, 81, 90))
    stats.add("ndb-target:%d" % target)
    stats.add("ndb-offset:%s" % re.sub(r"[0-9]+", "n", off))
    return line


# Logical expressions by subsignature count: (expression, True when it
# is false while only subsignature 0 matches, however often).
LDB_EXPRS = {
    2: [("0&1", True), ("0&1", True), ("(0|1)", False), ("(0>1)&1", True),
        ("0&(1=1)", True)],
    3: [("0&1&2", True), ("0&1&2", True), ("(0|1)&2", True), ("0&(1|2)", True),
        ("((0|1)>1,2)&2", True), ("0&1&(2>2)", True)],
    4: [("0&1&2&3", True), ("(0|1)&2&3", True), ("0&(1|2)&3", True),
        ("((0|1|2)>1,2)&3", True), ("(0&1)|(2&3)", True), ("0&1&(2|3)", True)],
}
PCRE = [r"eval\s*\(\s*unescape\s*\(", r"document\.write\s*\(\s*[a-z]{8,}\s*\)",
        r"(?:cmd|powershell)\.exe\s+/c\s+[a-z0-9]{12,}", r"\x2Fsrc=[\x22\x27]http:\x2F\x2F[0-9]{1,3}\.",
        r"new\s+ActiveXObject\s*\(\s*[\x22\x27]WScript\.Shell", r"fromCharCode\s*\(\s*(?:\d+\s*,\s*){20}"]


def ldb_subsig(rng, src, kind, target, exec_target, stats):
    """One never-matching subsignature (with its offset and modifiers)."""
    r = rng.random()
    if r < 0.12 and kind != "binary":
        # Case-insensitive, wide or full-word text: plain fixed bytes,
        # since alternatives under a modifier change their kind.
        toks = body_pattern(rng, src, kind, 0, 10, 48, stats, allow_alt=False,
                            allow_split=False)
        toks = [t if isinstance(t, int) else 0x41 for t in toks]
        mod = rng.choice(("i", "w", "wa", "f", "fi"))
        stats.add("ldb-modifier:" + mod)
        return hexsig(toks) + "::" + mod, True
    toks = body_pattern(rng, src, kind, target, 10, 80, stats)
    off = ""
    if rng.random() < 0.2:
        o = offset_for(rng, target if exec_target else 0)
        if o != "*":
            off = o + ":"
            stats.add("ldb-offset:%s" % re.sub(r"[0-9]+", "n", o))
    return off + hexsig(toks), False


def common_token(rng, target, stats):
    """A token that real logical signatures start with, some of which
    occur in mail (as "<html" or "http://" do)."""
    stats.add("ldb-common")
    t = rng.choice(COMMON_TOKENS).encode()
    return (t.lower() if target in LOWER_TARGETS else t).hex()


def ldb_line(rng, src, n, common_share, stats):
    _, target, kind = pick(rng, LDB_TARGETS)
    kind = source_kind(rng, kind)
    count = rng.choice((2, 2, 3, 3, 3, 4))
    expr, safe_common = rng.choice(LDB_EXPRS[count])
    subs = []
    engine = 51
    for i in range(count):
        s, modified = ldb_subsig(rng, src, kind, target, target in EXEC_TARGETS, stats)
        if modified:
            engine = 81
        subs.append(s)
    if safe_common and target in (0, 3, 4, 7) and rng.random() < common_share:
        subs[0] = common_token(rng, target, stats)
    if rng.random() < 0.03:
        # A PCRE subsignature run when the others all match.
        trig = "&".join(str(i) for i in range(count))
        subs.append("%s/%s/%s" % (trig, rng.choice(PCRE), rng.choice(("", "i", "si"))))
        expr = "(%s)&%d" % (expr, count)
        engine = 81
        stats.add("ldb-pcre")
    tdb = ["Engine:%d-255" % engine, "Target:%d" % target]
    r = rng.random()
    if r < 0.15:
        lo = log_uniform(rng, 512, 1 << 20)
        tdb.append("FileSize:%d-%d" % (lo, lo * rng.randint(2, 50)))
    elif r < 0.2 and target == 0:
        tdb.append("Container:%s" % rng.choice(("CL_TYPE_ZIP", "CL_TYPE_RAR", "CL_TYPE_MAIL",
                                               "CL_TYPE_MSOLE2", "CL_TYPE_7Z")))
    if target == 1 and rng.random() < 0.2:
        tdb.append("NumberOfSections:%d-%d" % (rng.randint(2, 4), rng.randint(5, 9)))
    stats.add("ldb-target:%d" % target)
    stats.add("ldb-subsigs:%d" % count)
    return "%s;%s;%s;%s" % (sig_name(rng, target, n), ",".join(tdb), expr, ";".join(subs))


def write_lines(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines))
        f.write("\n")


def check(db, expected):
    """Load DB with clamscan (on an empty file): the signature count it
    reports, the load time and peak memory."""
    with tempfile.TemporaryDirectory(prefix="gen-sigs-") as tmp:
        empty = os.path.join(tmp, "empty")
        open(empty, "w").close()
        tfile = os.path.join(tmp, "time")
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", tfile, "clamscan",
                            "-d", db, empty], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        wall = time.monotonic() - t0
        out = p.stdout.decode(errors="replace")
        m = re.search(r"Known viruses: (\d+)", out)
        with open(tfile) as f:
            rss = int(f.read().split()[-1])
    if p.returncode != 0 or m is None:
        sys.exit("gen_sigs: clamscan could not load %s:\n%s" % (
            db, p.stderr.decode(errors="replace")[-2000:]))
    loaded = int(m.group(1))
    if loaded != expected:
        sys.exit("gen_sigs: clamscan loaded %d signatures of the %d written" % (
            loaded, expected))
    return {"loaded": loaded, "load_wall_s": round(wall, 2), "peak_rss_mb": rss // 1024}


def main():
    ap = argparse.ArgumentParser(description="Generate a production-size ClamAV database.")
    ap.add_argument("--out", required=True)
    ap.add_argument("--md5", type=int, default=3000000, help="MD5 hash signatures (.hdb)")
    ap.add_argument("--sha256", type=int, default=60000, help="SHA-256 hash signatures (.hsb)")
    ap.add_argument("--ndb", type=int, default=300000, help="body patterns (.ndb)")
    ap.add_argument("--ldb", type=int, default=8000, help="logical signatures (.ldb)")
    ap.add_argument("--ldb-common", type=float, default=0.3,
                    help="share of logical signatures whose first subsignature occurs in mail")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply all four counts")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check", action="store_true",
                    help="load the database with clamscan and compare the counts")
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    counts = {k: int(getattr(a, k) * a.scale) for k in ("md5", "sha256", "ndb", "ldb")}
    if any(v < 0 for v in counts.values()) or sum(counts.values()) == 0:
        ap.error("the counts must be >= 0 and not all 0")

    out = os.path.abspath(a.out)
    db = os.path.join(out, "db")
    man_path = os.path.join(out, "manifest.json")
    if os.path.lexists(db) or os.path.lexists(man_path):
        if not a.force:
            sys.exit("gen_sigs: %s already holds a database (use --force)" % out)
        if os.path.isdir(db) and not os.path.islink(db):
            shutil.rmtree(db)
        elif os.path.lexists(db):
            os.unlink(db)
        if os.path.lexists(man_path):
            os.unlink(man_path)
    os.makedirs(db)
    t0 = time.time()
    src = Sources()
    stats = Stats()
    files = {}
    # One stream per file: changing one count leaves the others' bytes.
    files.update(write_hashes(db, random.Random("md5-%d" % a.seed), counts["md5"], "md5",
                              [("main.hdb", 0.85), ("daily.hdb", 0.15)], stats))
    files.update(write_hashes(db, random.Random("sha256-%d" % a.seed), counts["sha256"],
                              "sha256", [("daily.hsb", 1.0)], stats))
    rng = random.Random("ndb-%d" % a.seed)
    lines = [ndb_line(rng, src, 100000 + i, stats) for i in range(counts["ndb"])]
    split = int(len(lines) * 0.6)
    write_lines(os.path.join(db, "main.ndb"), lines[:split])
    write_lines(os.path.join(db, "daily.ndb"), lines[split:])
    files.update({"main.ndb": split, "daily.ndb": len(lines) - split})
    rng = random.Random("ldb-%d" % a.seed)
    lines = [ldb_line(rng, src, 500000 + i, a.ldb_common, stats)
             for i in range(counts["ldb"])]
    split = len(lines) // 2
    write_lines(os.path.join(db, "main.ldb"), lines[:split])
    write_lines(os.path.join(db, "daily.ldb"), lines[split:])
    files.update({"main.ldb": split, "daily.ldb": len(lines) - split})
    for name in list(files):
        if files[name] == 0:
            os.unlink(os.path.join(db, name))
            del files[name]
    total = sum(files.values())
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "params": dict(counts, seed=a.seed, ldb_common=a.ldb_common),
        "files": files, "signatures": total,
        "bytes": sum(os.path.getsize(os.path.join(db, n)) for n in files),
        "stats": dict(sorted(stats.items())),
        "sources": src.used,
        "seconds": round(time.time() - t0, 1),
    }
    if a.check:
        manifest["check"] = check(db, total)
    manifest["complete"] = True
    tmp = man_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    os.rename(tmp, man_path)
    print("gen_sigs: %d signatures (%s), %.0f MB in %.1f s%s" % (
        total, ", ".join("%s %d" % kv for kv in sorted(files.items())),
        manifest["bytes"] / 1e6, time.time() - t0,
        "; clamscan loads all %d in %.1f s, %d MB" % (
            manifest["check"]["loaded"], manifest["check"]["load_wall_s"],
            manifest["check"]["peak_rss_mb"]) if a.check else ""))


if __name__ == "__main__":
    main()
