#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	gen_yara.py - deterministic set of realistic YARA rules
# SYNOPSIS
#	bench/gen_yara.py --out FILE [--rules N] [--seed N]
# DESCRIPTION
#	Writes FILE, N YARA rules (default 1,000) of the shapes threat
#	feeds publish: meta (author, date, reference, score), tags, two
#	to six strings per rule - text strings with ascii, wide, nocase
#	and fullword modifiers, hex strings with ?? and nibble wildcards,
#	[n-m] jumps and (aa|bb) alternatives, and a few regular
#	expressions (about 3 % of the rules) - and conditions with
#	any of them, all of them, N of them, N of ($prefix*), counts
#	(#s > N), filesize bounds, uint16(0) magic checks and string
#	offsets (at, in).
#
#	Text strings start like real ones (URLs, PowerShell and cmd
#	lines, HTML and script tokens, header names, registry paths,
#	phishing phrases), and some are common enough in mail on their
#	own ("<script", "http://", "Content-Type: application/"), so
#	that libyara meets and verifies their atoms as it does with real
#	rules. Every condition also needs a string that holds a seeded
#	random token of 10 to 14 letters and digits (or 8 random bytes in
#	a hex string): none of those rules matches a message of the
#	bench's corpus (gen_corpus.py), clean or infected.
#
#	Three rules, first in the file, are written to match, so that
#	the detected sets can be compared:
#
#	  bench_outbreak_sender	"billing@evil.example": the outbreak
#				wave's copies (raw headers)
#	  bench_outbreak_invoice	a regex on the wave's attachment
#				name Invoice_2024-NNNN.zip, filesize bound
#	  bench_eicar_hex	the EICAR test string as a hex string with
#				a jump: inline EICAR in a text part (in the
#				raw file) and eicar.com attachments (after
#				base64 decoding: mailcure only, since the
#				yara tool sees the encoded file)
#
#	The same seed and count give the same bytes.
# DIAGNOSTICS
#	Exit 2 on bad arguments.
import argparse
import random

GENERATOR_VERSION = 1

# First bytes of the EICAR string, split so that this file holds no
# detectable copy of it: "X5O!P%@AP" [jump] "PZX54(P^)7CC)7}$EICAR".
EICAR_HEX = ("58 35 4F 21 50 25 40 41 50 [2-4] 50 5A 58 35 34 28 50 5E 29 37 43 43 "
             "29 37 7D 24 45 49 43 41 52")

MATCHING = [
    ("bench_outbreak_sender", ["outbreak", "phishing"],
     ['$from = "billing@evil.example" ascii nocase'], "any of them"),
    ("bench_outbreak_invoice", ["outbreak"],
     [r'$name = /Invoice_2024-[0-9]{4}\.zip/'], "$name and filesize < 2MB"),
    ("bench_eicar_hex", ["test"],
     ["$eicar = { %s }" % EICAR_HEX], "$eicar"),
]

FAMILIES = ["Emotet", "Qakbot", "AgentTesla", "FormBook", "IcedID", "Remcos",
            "AsyncRAT", "Lokibot", "NanoCore", "RedLine", "Dridex", "TrickBot",
            "Ursnif", "SnakeKeylogger", "GuLoader", "BazarLoader", "Hancitor",
            "Phish_O365", "Phish_DHL", "Phish_Bank", "Maldoc_VBA", "HTML_Smuggling",
            "ISO_Lure", "LNK_Dropper", "OneNote_Lure", "JS_Downloader"]
TAGS = ["malware", "phishing", "maldoc", "loader", "rat", "stealer", "banker",
        "downloader", "apt", "crime", "html", "script", "office", "pe"]
AUTHORS = ["cert-bench", "feed-a", "feed-b", "soc-team", "intel-desk"]

# Starts of text strings, as real rules have them; the random token
# follows.
TEXT_PREFIXES = [
    "http://", "https://", "hxxp://", "powershell -enc ", "powershell.exe -nop -w hidden -c ",
    "cmd.exe /c ", "mshta ", "rundll32.exe ", "regsvr32 /s /u /i:", "certutil -urlcache -f ",
    "WScript.Shell", "CreateObject(\"", "Shell.Application", "ActiveXObject(\"",
    "HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\",
    "AutoOpen", "Document_Open", "Sub Workbook_Open", "VirtualAlloc", "GetProcAddress",
    "eval(atob(\"", "document.write(unescape(\"", "window.location.href=\"",
    "<form action=\"", "<input type=\"password\" name=\"", "Your mailbox ",
    "Verify your account ", "Dear Customer, ", "invoice_", "payment_", "scan_",
    "Content-Disposition: attachment; filename=\"", "User-Agent: ", "Mozilla/5.0 ",
    "/gate.php?id=", "/panel/", "/wp-content/plugins/", ".onion/", "bitcoin:",
]
# Strings common in mail on their own: they start a rule's matching
# work without deciding it.
COMMON = ["<script", "http://", "https://", "Content-Type: application/", "<html",
          "base64", "<a href=", "Subject:", "From:", "<img src=", ".zip", ".pdf",
          "Received: from", "MIME-Version"]
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def token(rng, lo=10, hi=14):
    return "".join(rng.choice(ALNUM) for _ in range(rng.randint(lo, hi)))


def yara_text(s):
    return s.replace("\\", "\\\\").replace("\"", "\\\"")


def hex_bytes(rng, n):
    return " ".join("%02X" % rng.randrange(256) for _ in range(n))


def hex_string(rng):
    """Random bytes (never in the corpus: 8 fixed random bytes at least)
    with the wildcards, jumps and alternatives real hex strings use."""
    parts = [rng.choice(["4D 5A 90 00", "50 4B 03 04", "D0 CF 11 E0", "25 50 44 46",
                         "E8 ?? ?? ?? ??", "68 ?? ?? ?? ?? FF 15", "8B 45 ?? 89",
                         "55 8B EC", "48 89 5C 24 ??"]),
             "[%d-%d]" % (lambda a: (a, a + rng.randint(2, 64)))(rng.randint(0, 32)),
             hex_bytes(rng, 8)]
    for _ in range(rng.randint(1, 3)):
        k = rng.randrange(5)
        if k == 0:
            parts.append("?? " + hex_bytes(rng, rng.randint(2, 5)))
        elif k == 1:
            parts.append("[%d-%d] %s" % (rng.randint(1, 4), rng.randint(5, 16),
                                         hex_bytes(rng, rng.randint(3, 6))))
        elif k == 2:
            parts.append("(%s | %s) %s" % (hex_bytes(rng, 1), hex_bytes(rng, 2),
                                           hex_bytes(rng, 2)))
        elif k == 3:
            parts.append("%X? ?%X %s" % (rng.randrange(16), rng.randrange(16),
                                         hex_bytes(rng, 3)))
        else:
            parts.append(hex_bytes(rng, rng.randint(2, 6)))
    return "{ %s }" % " ".join(parts)


def text_string(rng):
    s = rng.choice(TEXT_PREFIXES) + token(rng)
    if rng.random() < 0.3:
        s += rng.choice([".php", ".exe", ".js", ".hta", "\\", "\")", ".top/", ".xyz/"])
    mods = ["ascii"]
    r = rng.random()
    if r < 0.25:
        mods.append("wide")
    if rng.random() < 0.3:
        mods.append("nocase")
    if rng.random() < 0.1 and s[-1].isalnum() and s[0].isalnum():
        mods.append("fullword")
    return "\"%s\" %s" % (yara_text(s), " ".join(mods))


def regex_string(rng):
    t = token(rng, 8, 10)
    return rng.choice([
        r"/https?:\/\/[a-z0-9\-]{4,24}\.(top|xyz|icu|shop)\/%s[a-z0-9]{0,8}\.php/" % t,
        r"/(powershell|pwsh)(\.exe)? -e(nc|ncodedcommand)? %s[A-Za-z0-9+\/=]{8,64}/ nocase" % t,
        r"/[A-Za-z0-9+\/]{4}%s[A-Za-z0-9+\/]{16,80}={0,2}/" % t,
        r"/\x5cx[0-9a-f]{2}%s(\x5cx[0-9a-f]{2}){4,}/" % t,
    ])


def rule(rng, i):
    family = rng.choice(FAMILIES)
    name = "%s_%s_%04d" % (family, rng.choice(["Mail", "Lure", "Payload", "Dropper",
                                               "Kit", "Config", "Strings"]), i)
    tags = rng.sample(TAGS, rng.randint(0, 3))
    strings = []  # (identifier, definition, never matches)
    n_rare = rng.randint(1, 4)
    use_regex = rng.random() < 0.03
    for j in range(n_rare):
        if use_regex and j == 0:
            strings.append(("$re%d" % j, regex_string(rng), True))
        elif rng.random() < 0.4:
            strings.append(("$h%d" % j, hex_string(rng), True))
        else:
            strings.append(("$s%d" % j, text_string(rng), True))
    n_common = rng.choice([0, 0, 1, 1, 2])
    for j, c in enumerate(rng.sample(COMMON, n_common)):
        strings.append(("$c%d" % j, "\"%s\" ascii%s" % (yara_text(c), rng.choice(["", " nocase"])),
                        False))
    rare = [s for s, _, r in strings if r]
    common = [s for s, _, r in strings if not r]
    rl = ", ".join(rare)
    # Every string is referenced (libyara refuses one that is not),
    # and every condition needs a rare one.
    forms = ["any of (%s)" % rl, "all of (%s)" % rl,
             "for any of (%s) : ($ in (0..%d))" % (rl, rng.choice([1024, 4096, 65536])),
             "for any of (%s) : (# >= %d)" % (rl, rng.randint(1, 3))]
    if len(rare) >= 2:
        forms.append("%d of (%s)" % (rng.randint(2, len(rare)), rl))
    cond = rng.choice(forms)
    if common:
        cond = rng.choice(["%s and any of ($c*)" % cond, "%s and #c0 > %d" % (cond, rng.randint(1, 4))
                           if len(common) == 1 else "%s and all of ($c*)" % cond,
                           "%d of them" % (len(common) + 1)])
    r = rng.random()
    if r < 0.25:
        cond = "filesize < %dKB and %s" % (rng.choice([50, 200, 500, 2048, 10240]), cond)
    elif r < 0.35:
        cond = "uint16(0) == 0x5A4D and %s" % cond
    out = ["rule %s%s" % (name, (" : " + " ".join(tags)) if tags else ""), "{",
           "\tmeta:",
           "\t\tauthor = \"%s\"" % rng.choice(AUTHORS),
           "\t\tdate = \"2024-%02d-%02d\"" % (rng.randint(1, 12), rng.randint(1, 28)),
           "\t\treference = \"https://intel.bench.example/r/%s\"" % token(rng, 8, 8),
           "\t\tscore = %d" % rng.choice([50, 60, 70, 75, 80, 90, 100]),
           "\tstrings:"]
    out += ["\t\t%s = %s" % (s, d) for s, d, _ in strings]
    out += ["\tcondition:", "\t\t" + cond, "}", ""]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description="Generate deterministic YARA rules.")
    ap.add_argument("--out", required=True)
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random("yara-%d-%d" % (GENERATOR_VERSION, a.seed))
    text = ["// Generated by bench/gen_yara.py --rules %d --seed %d (version %d)\n"
            % (a.rules, a.seed, GENERATOR_VERSION)]
    for name, tags, strings, cond in MATCHING[:a.rules]:
        text.append("rule %s : %s\n{\n\tmeta:\n\t\tauthor = \"bench\"\n\tstrings:\n%s\n"
                    "\tcondition:\n\t\t%s\n}\n" % (name, " ".join(tags),
                                                 "\n".join("\t\t" + s for s in strings), cond))
    for i in range(len(MATCHING), a.rules):
        text.append(rule(rng, i))
    with open(a.out, "w") as f:
        f.write("\n".join(text))


if __name__ == "__main__":
    main()
