#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	gen_corpus.py - deterministic synthetic mail store for benchmarks
# SYNOPSIS
#	bench/gen_corpus.py --out DIR [--users N] [--messages N]
#		[--layout maildir|mbox|both] [--outbreak N]
#		[--mix realistic|text|heavy] [--infected-rate F]
#		[--spam-rate F] [--seed N] [--jobs N] [--force]
# DESCRIPTION
#	Writes a mail store of USERS mailboxes with MESSAGES messages each,
#	plus an outbreak wave, and a manifest saying what every message is.
#	The same parameters always produce the same bytes (every random
#	choice comes from a seeded generator; each user has its own stream,
#	so the output does not depend on --jobs).
#
#	Layouts, under DIR:
#	  maildir/DOMAIN/USER/		a Dovecot-style Maildir++ per user
#	    {cur,new,tmp}/, .Sent/, .Archive/, dovecot-uidlist
#	  mbox/USER			one mbox file per user (mboxrd, as
#					/var/mail/USER), all of the user's
#					messages in delivery order
#	With --layout both, both hold the same messages.
#
#	Size mix ("realistic"): mostly small text mail, HTML mail with
#	company logos (a small pool, so the same image recurs in many
#	messages), forwarded messages (message/rfc822), office documents
#	and PDFs (a share of them pooled: the same file forwarded around),
#	and a few multi-megabyte attachments. Office documents are real
#	ZIP containers so the engines unpack them as they would in the
#	field; images and PDF streams are random data behind real magic.
#
#	Infected messages (--infected-rate) carry one file of
#	/usr/share/clamav-testfiles or the EICAR test file, base64
#	attached (sometimes zipped, sometimes inline in the text, sometimes
#	inside a forwarded message). The outbreak wave (--outbreak N) is
#	one infected message delivered to N mailboxes: same body,
#	attachment and Message-ID, but per-recipient Delivered-To,
#	Received, To and queue id, so no two copies are byte-identical.
#	Clean spam from the outbreak's domain and a few decoys (clean
#	mail with similar subjects) make criteria searches differ from the
#	virus set.
#
#	DIR/manifest.tsv has one line per message and layout: layout,
#	path (relative to DIR), offset of the mbox From_ line (-1 for
#	Maildir), size, user, folder, kind (regular, spam, infected,
#	outbreak), the signature expected to fire (or -), and whether the
#	message matches each criteria query (from, subject, attachment)
#	given in DIR/manifest.json. manifest.json also records the
#	parameters, counts and byte totals; its "complete" member is
#	written last, so a half-written corpus is recognisable.
#
#	The EICAR string is kept hex-encoded here so that this file is
#	not itself a detection.
# SECURITY
#	Writes only under DIR. --force removes DIR/maildir, DIR/mbox and
#	the manifest first, nothing else.

import argparse
import base64
import binascii
import io
import json
import multiprocessing
import os
import quopri
import random
import re
import shutil
import sys
import time
import zipfile

GENERATOR_VERSION = 3

EICAR = bytes.fromhex(
    "58354f2150254041505b345c505a58353428505e2937434329377d2445494341"
    "522d5354414e444152442d414e544956495255532d544553542d46494c452124"
    "482b482a")
SIG_TESTFILE = "ClamAV-Test-File.UNOFFICIAL"
SIG_EICAR = "Eicar-Test-Signature.UNOFFICIAL"

# Criteria the runner searches for; the generator marks which messages
# match them, so criteria-only searches have a known answer too.
EVIL_DOMAIN = "evil.example"
CRITERIA = {
    "from": {"query": "from:*@" + EVIL_DOMAIN,
             "rg": r"^From:.*@evil\.example"},
    "subject": {"query": 'subject:"invoice overdue"',
                "rg": r"^Subject:.*invoice overdue"},
    "attachment": {"query": "attachment:invoice_*.zip",
                   "rg": r'name\*?="?invoice_[^"]*\.zip'},
}

WORDS = """the be to of and a in that have it for not on with he as you do at
this but his by from they we say her she or an will my one all would there
their what so up out if about who get which go me when make can like time no
just him know take people into year your good some could them see other than
then now look only come its over think also back after use two how our work
first well way even new want because any these give day most us is are was
were been has had did said meeting report project budget quarter customer
invoice order delivery schedule review draft contract proposal team office
server network update release plan agenda minutes slides figures numbers
please attached regards thanks best kind hello hi dear colleague manager
department sales support finance marketing engineering legal board weekly
monthly annual deadline tomorrow friday monday next week call discuss agree
approve confirm question answer issue ticket request change version document
spreadsheet presentation summary overview details note reminder follow
invoice payment account balance statement shipment supplier partner vendor
""".split()

NAMES = ["Alice Martin", "Bob Dupont", "Carla Rossi", "David Smith",
         "Eva Nowak", "Frank Müller", "Gina Lopez", "Hiro Tanaka",
         "Ingrid Olsen", "Jamal Reed", "Katrin Schäfer", "Liam O'Brien",
         "Marta Kowalska", "Nils Berg", "Olga Ivanova", "Pierre Lefèvre",
         "Qi Wang", "Rosa Díaz", "Sven Larsson", "Tomás Silva"]

PARTNER_DOMAINS = ["partner%02d.example" % i for i in range(40)] + [
    "supplier.example", "customer.example", "lists.example.org",
    "newsletter.example.net", "bank.example", "travel.example"]

SUBJECTS = ["Weekly report", "Re: budget for next quarter", "Meeting notes",
            "Fwd: contract draft", "Re: Re: delivery schedule",
            "Project update", "Lunch on Friday?", "Slides for the board",
            "Question about the invoice", "Re: server maintenance window",
            "Holiday plan", "Updated figures", "Agenda for Monday",
            "Re: support ticket 4821", "Newsletter: product news",
            "Your order has shipped", "Travel booking confirmation",
            "Re: Grüße aus München", "Résumé et pièces jointes",
            "Minutes of the annual review"]

SPAM_SUBJECTS = ["You have won a prize", "Cheap watches", "Invoice overdue - final notice",
                 "Urgent: verify your account", "Re: your payment",
                 "Limited offer for you"]

MAILERS = ["Mozilla Thunderbird 115.6", "Microsoft Outlook 16.0",
           "Apple Mail (2.3731)", "Roundcube Webmail/1.6.5", None, None]

EPOCH = 1704067200  # 2024-01-01 00:00:00 UTC
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
          "Oct", "Nov", "Dec"]

# (share, kind, min size, max size) of the body or attachment payload.
MIXES = {
    "realistic": [(0.52, "text", 600, 8000), (0.16, "alt", 2000, 30000),
                  (0.10, "logo", 2000, 20000), (0.03, "forward", 1000, 20000),
                  (0.12, "small", 20000, 300000), (0.065, "doc", 200000, 1500000),
                  (0.005, "large", 2000000, 8000000)],
    "text": [(0.75, "text", 600, 8000), (0.25, "alt", 2000, 30000)],
    "heavy": [(0.30, "text", 600, 8000), (0.10, "logo", 2000, 20000),
              (0.30, "small", 20000, 300000), (0.25, "doc", 200000, 1500000),
              (0.05, "large", 2000000, 8000000)],
}
# Share of attachments taken from the pool of recurring files.
POOLED_SHARE = {"small": 0.5, "doc": 0.4, "large": 0.3}

FIXED_ZIP_TIME = (2024, 1, 15, 9, 30, 0)


def rfc2822_date(t):
    tm = time.gmtime(t)
    return "%s, %02d %s %04d %02d:%02d:%02d +0000" % (
        DAYS[tm.tm_wday], tm.tm_mday, MONTHS[tm.tm_mon - 1], tm.tm_year,
        tm.tm_hour, tm.tm_min, tm.tm_sec)


def asctime_date(t):
    tm = time.gmtime(t)
    return "%s %s %2d %02d:%02d:%02d %04d" % (
        DAYS[tm.tm_wday], MONTHS[tm.tm_mon - 1], tm.tm_mday, tm.tm_hour,
        tm.tm_min, tm.tm_sec, tm.tm_year)


def encode_word(s):
    """RFC 2047 encoded-word for non-ASCII header text."""
    try:
        s.encode("ascii")
        return s
    except UnicodeEncodeError:
        return "=?UTF-8?B?%s?=" % base64.b64encode(s.encode()).decode()


def b64_lines(data):
    """base64 in 76-character lines, each ending in LF."""
    enc = binascii.b2a_base64(data, newline=False)
    lines = [enc[i:i + 76] for i in range(0, len(enc), 76)]
    lines.append(b"")
    return b"\n".join(lines)


def log_uniform(rng, lo, hi):
    return int(lo * (hi / lo) ** rng.random())


def qid(rng):
    return "%010X" % rng.getrandbits(40)


class TextPool:
    """A few MB of deterministic prose; bodies are slices of it, which
    is much cheaper than choosing words per message."""

    def __init__(self, rng, size=3 << 20):
        lines = []
        total = 0
        openers = ["From what I understand", "From the figures", "From now on"]
        while total < size:
            n = rng.randint(6, 14)
            words = rng.choices(WORDS, k=n)
            if rng.random() < 0.01:
                # Lines starting with "From " must be quoted in mbox.
                line = rng.choice(openers) + " " + " ".join(words)
            else:
                line = " ".join(words).capitalize()
            if rng.random() < 0.12:
                line += "."
                lines.append(line)
                lines.append("")
            else:
                lines.append(line + ("." if rng.random() < 0.3 else ""))
            total += len(line) + 1
        self.lines = lines

    def text(self, rng, size):
        i = rng.randrange(len(self.lines))
        out = []
        n = 0
        while n < size:
            line = self.lines[i]
            out.append(line)
            n += len(line) + 1
            i = (i + 1) % len(self.lines)
        return "\n".join(out) + "\n"


def html_of(text):
    paras = [p.replace("\n", " ") for p in text.split("\n\n") if p.strip()]
    body = "".join("<p style=\"margin:0 0 8px 0;font-family:Calibri,Arial,"
                   "sans-serif;font-size:11pt\">%s</p>\n" % p for p in paras)
    return ("<html><head><meta http-equiv=\"Content-Type\" content=\"text/"
            "html; charset=utf-8\"></head><body>\n%s</body></html>\n" % body)


def qp(text):
    return quopri.encodestring(text.encode("utf-8"))


# ---------------------------------------------------------------------------
# Attachment payloads: real containers, random content behind real magic.

def payload_image(rng, size, ext):
    if ext == "png":
        head = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    elif ext == "gif":
        head = b"GIF89a"
    else:
        head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
    tail = b"\xff\xd9" if ext == "jpg" else b"IEND\xaeB`\x82"
    return head + rng.randbytes(max(size - len(head) - len(tail), 0)) + tail


def payload_pdf(rng, size, texts):
    text = texts.text(rng, min(4000, size // 4)).encode()
    stream = rng.randbytes(max(size - len(text) - 400, 0))
    parts = [b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
             b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
             b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n",
             b"3 0 obj\n<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>\nendobj\n",
             b"4 0 obj\n<< /Length %d >>\nstream\n" % len(text), text,
             b"\nendstream\nendobj\n",
             b"5 0 obj\n<< /Type /XObject /Subtype /Image /Filter /DCTDecode "
             b"/Length %d >>\nstream\n" % len(stream), stream,
             b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"]
    return b"".join(parts)


def zip_bytes(members, compress=True):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, deflate in members:
            zi = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            zi.compress_type = (zipfile.ZIP_DEFLATED if deflate and compress
                                else zipfile.ZIP_STORED)
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)
    return buf.getvalue()


def payload_office(rng, size, texts, ext):
    doc = texts.text(rng, min(60000, max(size // 3, 2000)))
    xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document><w:body>"
           + "".join("<w:p><w:r><w:t>%s</w:t></w:r></w:p>" % l
                     for l in doc.split("\n")) + "</w:body></w:document>")
    main = "word/document.xml" if ext == "docx" else "xl/worksheets/sheet1.xml"
    members = [("[Content_Types].xml", b"<?xml version=\"1.0\"?><Types/>", True),
               ("_rels/.rels", b"<?xml version=\"1.0\"?><Relationships/>", True),
               (main, xml.encode(), True)]
    rest = size - len(xml) // 3 - 600
    if rest > 1000:
        media = "word/media/image1.png" if ext == "docx" else "xl/media/image1.png"
        members.append((media, payload_image(rng, rest, "png"), False))
    return zip_bytes(members)


def payload_zip(rng, size, texts):
    csv = texts.text(rng, min(20000, size // 4)).replace(" ", ";").encode()
    inner = payload_pdf(rng, max(size - len(csv) // 3, 1000), texts)
    return zip_bytes([("data.csv", csv, True), ("scan.pdf", inner, False)])


ATTACH_TYPES = [("pdf", "application/pdf", 0.35),
                ("docx", "application/vnd.openxmlformats-officedocument."
                 "wordprocessingml.document", 0.2),
                ("xlsx", "application/vnd.openxmlformats-officedocument."
                 "spreadsheetml.sheet", 0.12),
                ("jpg", "image/jpeg", 0.18), ("zip", "application/zip", 0.1),
                ("csv", "text/csv", 0.05)]
ATTACH_NAMES = ["report", "scan", "offer", "contract", "minutes", "figures",
                "IMG", "photo", "slides", "statement", "order", "Angebot",
                "Rechnung", "facture", "plan"]


def make_attachment(rng, size, texts):
    r = rng.random()
    for ext, ctype, share in ATTACH_TYPES:
        r -= share
        if r < 0:
            break
    if ext == "pdf":
        data = payload_pdf(rng, size, texts)
    elif ext in ("docx", "xlsx"):
        data = payload_office(rng, size, texts, ext)
    elif ext == "jpg":
        data = payload_image(rng, size, "jpg")
    elif ext == "zip":
        data = payload_zip(rng, size, texts)
    else:
        data = texts.text(rng, size).replace(" ", ",").encode()
    stem = rng.choice(ATTACH_NAMES)
    name = "%s_%04d.%s" % (stem, rng.randrange(10000), ext)
    if rng.random() < 0.05:
        name = "Übersicht_%04d.%s" % (rng.randrange(10000), ext)
    return {"name": name, "ctype": ctype, "data": data,
            "b64": None}


class Pools:
    """Files that recur across the store: logos in signatures and
    documents forwarded around. Encoded once."""

    def __init__(self, seed, texts):
        rng = random.Random("pools-%d" % seed)
        self.logos = []
        for i in range(16):
            ext = ["png", "gif", "jpg"][i % 3]
            data = payload_image(rng, log_uniform(rng, 2000, 40000), ext)
            self.logos.append({"name": "logo%02d.%s" % (i, ext),
                               "ctype": "image/" + ("jpeg" if ext == "jpg" else ext),
                               "data": data, "b64": b64_lines(data)})
        # Zipf-like popularity: a couple of logos appear everywhere.
        self.logo_weights = [1.0 / (i + 1) for i in range(len(self.logos))]
        self.docs = {}
        for kind, lo, hi, n in (("small", 20000, 300000, 60),
                                ("doc", 200000, 1500000, 30),
                                ("large", 2000000, 8000000, 3)):
            items = []
            for _ in range(n):
                a = make_attachment(rng, log_uniform(rng, lo, hi), texts)
                a["b64"] = b64_lines(a["data"])
                items.append(a)
            self.docs[kind] = items
        self.doc_weights = {k: [1.0 / (i + 1) ** 0.8 for i in range(len(v))]
                            for k, v in self.docs.items()}


# ---------------------------------------------------------------------------
# MIME assembly.

def boundary(rng):
    return "----=_Part_%d_%d" % (rng.getrandbits(32), rng.getrandbits(24))


def part_text(text, html=False):
    ctype = "text/html" if html else "text/plain"
    if html or not text.isascii():
        return (b"Content-Type: %s; charset=utf-8\n"
                b"Content-Transfer-Encoding: quoted-printable\n\n" % ctype.encode()
                + qp(text))
    return (b"Content-Type: %s; charset=us-ascii\n"
            b"Content-Transfer-Encoding: 7bit\n\n" % ctype.encode() + text.encode())


def filename_params(name):
    try:
        name.encode("ascii")
        return b'name="%s"' % name.encode(), b'filename="%s"' % name.encode()
    except UnicodeEncodeError:
        enc = "".join(c if c.isalnum() and ord(c) < 128 else
                      "".join("%%%02X" % b for b in c.encode()) for c in name)
        return (b'name="%s"' % encode_word(name).encode(),
                b"filename*=UTF-8''%s" % enc.encode())


def part_attachment(a, inline_cid=None):
    if a["b64"] is None:
        a["b64"] = b64_lines(a["data"])
    np, fp = filename_params(a["name"])
    disp = b"inline" if inline_cid else b"attachment"
    head = b"Content-Type: %s; %s\nContent-Transfer-Encoding: base64\n" % (
        a["ctype"].encode(), np)
    if inline_cid:
        head += b"Content-ID: <%s>\n" % inline_cid.encode()
    head += b"Content-Disposition: %s; %s\n\n" % (disp, fp)
    return head + a["b64"]


def multipart(rng, subtype, parts):
    b = boundary(rng).encode()
    out = [b"Content-Type: multipart/%s; boundary=\"%s\"\n\n" % (subtype.encode(), b),
           b"This is a multi-part message in MIME format.\n"]
    for p in parts:
        out.append(b"\n--%s\n" % b)
        out.append(p)
    out.append(b"\n--%s--\n" % b)
    return b"".join(out)


def headers(rng, h):
    """h: list of (name, value); values already encoded as needed."""
    return "".join("%s: %s\n" % (k, v) for k, v in h).encode()


class UserCtx:
    def __init__(self, seed, uid, domain):
        self.uid = uid
        self.rng = random.Random("user-%d-%d" % (seed, uid))
        self.login = "user%05d" % uid
        self.addr = "%s@%s" % (self.login, domain)
        self.name = NAMES[uid % len(NAMES)]
        self.domain = domain


def sender(rng, ctx):
    name = rng.choice(NAMES)
    local = name.split()[0].lower().replace("'", "")
    if rng.random() < 0.35:
        dom = ctx.domain
    else:
        dom = rng.choice(PARTNER_DOMAINS)
    return name, "%s.%d@%s" % (local, rng.randrange(100), dom)


def envelope_headers(rng, ctx, from_name, from_addr, subject, date, msgid,
                     extra=(), to=None):
    q = qid(rng)
    host = from_addr.split("@")[1]
    h = [("Return-Path", "<%s>" % from_addr),
         ("Delivered-To", ctx.addr),
         ("Received", "from mx%d.%s (mx%d.%s [198.51.100.%d])\n\tby mail.%s "
          "(Postfix) with ESMTPS id %s\n\tfor <%s>; %s" % (
              rng.randrange(4), host, rng.randrange(4), host,
              rng.randrange(1, 255), ctx.domain, q, ctx.addr,
              rfc2822_date(date + rng.randrange(1, 30)))),
         ("From", "%s <%s>" % (encode_word('"%s"' % from_name)
                               if all(ord(c) < 128 for c in from_name)
                               else encode_word(from_name), from_addr)),
         ("To", to or "%s <%s>" % (encode_word(ctx.name), ctx.addr))]
    if rng.random() < 0.15:
        cn, ca = sender(rng, ctx)
        h.append(("Cc", "%s <%s>" % (encode_word(cn), ca)))
    h += [("Subject", encode_word(subject)), ("Date", rfc2822_date(date)),
          ("Message-ID", msgid), ("MIME-Version", "1.0")]
    m = rng.choice(MAILERS)
    if m:
        h.append(("X-Mailer", m))
    h += list(extra)
    return headers(rng, h)


def body_regular(rng, ctx, kind, lo, hi, texts, pools, depth=0):
    """MIME body (with its Content-Type header) of one regular message."""
    size = log_uniform(rng, lo, hi)
    if kind == "text":
        text = texts.text(rng, size)
        if rng.random() < 0.3:
            quoted = texts.text(rng, size // 2)
            text += "\nOn %s, someone wrote:\n" % rfc2822_date(EPOCH) + "".join(
                "> " + l + "\n" for l in quoted.splitlines())
        return part_text(text)
    if kind == "alt":
        text = texts.text(rng, size // 2)
        return multipart(rng, "alternative", [part_text(text), part_text(html_of(text), True)])
    if kind == "logo":
        text = texts.text(rng, size // 2)
        n = 1 + (rng.random() < 0.3)
        logos = rng.choices(pools.logos, weights=pools.logo_weights, k=n)
        alt = multipart(rng, "alternative", [part_text(text), part_text(html_of(text), True)])
        parts = [alt] + [part_attachment(l, "%s@%s" % (l["name"], ctx.domain)) for l in logos]
        return multipart(rng, "related", parts)
    if kind == "forward" and depth == 0:
        text = texts.text(rng, 600)
        inner = inner_message(rng, ctx, texts, pools, "text", 600, 8000)
        return multipart(rng, "mixed", [part_text(text),
                                        b"Content-Type: message/rfc822\n"
                                        b"Content-Disposition: attachment\n\n" + inner])
    if kind in POOLED_SHARE:
        text = texts.text(rng, log_uniform(rng, 300, 3000))
        if rng.random() < POOLED_SHARE[kind]:
            a = rng.choices(pools.docs[kind], weights=pools.doc_weights[kind])[0]
        else:
            a = make_attachment(rng, size, texts)
        parts = [part_text(text), part_attachment(a)]
        if kind == "doc" and rng.random() < 0.2:
            parts.append(part_attachment(rng.choices(pools.docs["small"],
                                                     weights=pools.doc_weights["small"])[0]))
        return multipart(rng, "mixed", parts)
    return part_text(texts.text(rng, size))


def inner_message(rng, ctx, texts, pools, kind, lo, hi, body=None):
    fn, fa = sender(rng, ctx)
    date = EPOCH + rng.randrange(365 * 86400)
    h = headers(rng, [("From", "%s <%s>" % (encode_word(fn), fa)),
                      ("To", ctx.addr), ("Subject", encode_word(rng.choice(SUBJECTS))),
                      ("Date", rfc2822_date(date)),
                      ("Message-ID", "<%x.%x@%s>" % (rng.getrandbits(48), rng.getrandbits(24),
                                                    fa.split("@")[1])),
                      ("MIME-Version", "1.0")])
    if body is None:
        body = body_regular(rng, ctx, kind, lo, hi, texts, pools, depth=1)
    return h + body


# ---------------------------------------------------------------------------
# Infections.

SKIP_TESTFILES = {"clam_cache_emax.tgz"}


class Infections:
    def __init__(self, testfiles_dir):
        self.files = []
        if testfiles_dir and os.path.isdir(testfiles_dir):
            for n in sorted(os.listdir(testfiles_dir)):
                p = os.path.join(testfiles_dir, n)
                # clam_cache_emax.tgz exercises the engine's cache
                # limits, not mail: inside a message it is not a
                # detection for clamscan either.
                if (os.path.isfile(p) and n.startswith("clam")
                        and n not in SKIP_TESTFILES):
                    with open(p, "rb") as f:
                        self.files.append((n, f.read()))
        with_exe = [d for n, d in self.files if n == "clam.exe"]
        self.clam_exe = with_exe[0] if with_exe else None


def infected_body(rng, ctx, texts, pools, inf):
    """(MIME body, expected signature, attachment names) of one infected
    message."""
    text = texts.text(rng, log_uniform(rng, 300, 2000))
    choices = ["eicar", "eicar-zip", "eicar-inline"]
    if inf.files:
        choices += ["testfile"] * 6 + ["nested"]
    how = rng.choice(choices)
    if how == "testfile":
        name, data = rng.choice(inf.files)
        ext = name.split(".", 1)[1] if "." in name else "bin"
        a = {"name": "%s_%04d.%s" % (rng.choice(ATTACH_NAMES), rng.randrange(10000), ext),
             "ctype": "application/octet-stream", "data": data, "b64": None}
        return multipart(rng, "mixed", [part_text(text), part_attachment(a)]), SIG_TESTFILE
    if how == "nested":
        name, data = rng.choice(inf.files)
        a = {"name": name, "ctype": "application/octet-stream", "data": data, "b64": None}
        inner_body = multipart(rng, "mixed", [part_text(texts.text(rng, 800)), part_attachment(a)])
        inner = inner_message(rng, ctx, texts, pools, None, 0, 0, body=inner_body)
        return multipart(rng, "mixed", [part_text(text),
                                        b"Content-Type: message/rfc822\n"
                                        b"Content-Disposition: attachment\n\n" + inner]), SIG_TESTFILE
    if how == "eicar":
        a = {"name": "eicar.com", "ctype": "application/octet-stream", "data": EICAR, "b64": None}
        return multipart(rng, "mixed", [part_text(text), part_attachment(a)]), SIG_EICAR
    if how == "eicar-zip":
        z = zip_bytes([("eicar.com", EICAR, True)])
        a = {"name": "document_%04d.zip" % rng.randrange(10000), "ctype": "application/zip",
             "data": z, "b64": None}
        return multipart(rng, "mixed", [part_text(text), part_attachment(a)]), SIG_EICAR
    return part_text(text + "\n" + EICAR.decode() + "\n"), SIG_EICAR


class Outbreak:
    """The one message of the wave; copies differ only in the
    per-recipient headers."""

    def __init__(self, seed, texts, pools, inf):
        rng = random.Random("outbreak-%d" % seed)
        self.date = EPOCH + 300 * 86400 + 3600 * 9
        self.subject = "Invoice overdue 2024-%04d" % rng.randrange(10000)
        self.from_addr = "billing@" + EVIL_DOMAIN
        self.msgid = "<%x.%x@%s>" % (rng.getrandbits(48), rng.getrandbits(24), EVIL_DOMAIN)
        self.attach = "Invoice_2024-%04d.zip" % rng.randrange(10000)
        if inf.clam_exe is not None:
            exe, self.sig = inf.clam_exe, SIG_TESTFILE
        else:
            exe, self.sig = EICAR, SIG_EICAR
        decoy = payload_pdf(rng, 60000, texts)
        z = zip_bytes([(self.attach[:-4] + ".pdf.exe", exe, True),
                       ("Terms.pdf", decoy, False)])
        text = ("Dear customer,\n\nplease find attached the overdue invoice. "
                "Payment is due within 48 hours.\n\n" + texts.text(rng, 1500) +
                "\nAccounts Receivable\n")
        logo = pools.logos[0]
        alt = multipart(rng, "alternative", [part_text(text), part_text(html_of(text), True)])
        rel = multipart(rng, "related", [alt, part_attachment(logo, "logo@" + EVIL_DOMAIN)])
        a = {"name": self.attach, "ctype": "application/zip", "data": z, "b64": None}
        self.body = multipart(rng, "mixed", [rel, part_attachment(a)])

    def copy(self, rng, ctx):
        q = qid(rng)
        h = [("Return-Path", "<%s>" % self.from_addr),
             ("X-Original-To", ctx.addr),
             ("Delivered-To", ctx.addr),
             ("Received", "from mail.bench.example (localhost [127.0.0.1])\n\tby "
              "mail.%s (Postfix) with LMTP id %s\n\tfor <%s>; %s" % (
                  ctx.domain, q, ctx.addr, rfc2822_date(self.date + rng.randrange(1, 900)))),
             ("Received", "from unknown (HELO pc-%d.dyn.example.net) [203.0.113.%d]\n\t"
              "by mx1.%s (Postfix) with SMTP id %s\n\tfor <%s>; %s" % (
                  rng.randrange(1, 9999), rng.randrange(1, 255), ctx.domain, qid(rng),
                  ctx.addr, rfc2822_date(self.date + rng.randrange(1, 600)))),
             ("From", "\"Accounts\" <%s>" % self.from_addr),
             ("To", ctx.addr),
             ("Subject", self.subject),
             ("Date", rfc2822_date(self.date)),
             ("Message-ID", self.msgid),
             ("MIME-Version", "1.0"),
             ("X-Spam-Score", "%.1f" % (rng.random() * 4))]
        return headers(rng, h) + self.body


# ---------------------------------------------------------------------------
# One user's mailbox.

FROM_QUOTE = re.compile(rb"(?m)^(>*From )")


def mbox_escape(data):
    if b"\nFrom " in data or b"\n>From " in data:
        return FROM_QUOTE.sub(rb">\1", data)
    return data


def gen_user(args):
    """Write one user's mailbox, message by message (memory stays flat
    however large the mailbox); returns its manifest rows and bytes."""
    (uid, p) = args
    ctx = UserCtx(p["seed"], uid, p["domain"])
    rng = ctx.rng
    texts, pools, inf, outbreak = G["texts"], G["pools"], G["inf"], G["outbreak"]
    mix = MIXES[p["mix"]]
    rows = []
    nbytes = {"maildir": 0, "mbox": 0}
    n_outbreak = p["outbreak_for"].get(uid, 0)
    total = p["messages"] + n_outbreak

    base = None
    stems = {}
    if p["layout"] in ("maildir", "both"):
        base = os.path.join(p["out"], "maildir", ctx.domain, ctx.login)
        for f in ("", ".Archive", ".Sent"):
            d = os.path.join(base, f) if f else base
            for s in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(d, s), exist_ok=True)
            if f:
                open(os.path.join(d, "maildirfolder"), "wb").close()
            stems[f] = []
        with open(os.path.join(base, "subscriptions"), "w") as fh:
            fh.write("Archive\nSent\n")
    mbox = None
    mbox_path = None
    off = 0
    if p["layout"] in ("mbox", "both"):
        mbox_path = os.path.join(p["out"], "mbox", ctx.login)
        mbox = open(mbox_path, "wb")

    # Delivery order: regular mail by date, then the wave (it just came in).
    dates = sorted(EPOCH + rng.randrange(290 * 86400) for _ in range(p["messages"]))
    for seq in range(total):
        if seq < p["messages"]:
            date = dates[seq]
            r = rng.random()
            kind = "regular"
            sig = "-"
            if r < p["infected_rate"]:
                kind = "infected"
            elif r < p["infected_rate"] + p["spam_rate"]:
                kind = "spam"
            msgid = "<%x.%x@%s>" % (rng.getrandbits(48), rng.getrandbits(24), ctx.domain)
            folder = ""
            if kind == "infected":
                body, sig = infected_body(rng, ctx, texts, pools, inf)
                if rng.random() < 0.3:
                    fn, fa = "Accounts", "billing%d@%s" % (rng.randrange(10), EVIL_DOMAIN)
                else:
                    fn, fa = sender(rng, ctx)
                subject = rng.choice(SUBJECTS)
            elif kind == "spam":
                fn, fa = "Support", "noreply%d@%s" % (rng.randrange(10), EVIL_DOMAIN)
                subject = rng.choice(SPAM_SUBJECTS)
                body = part_text(texts.text(rng, log_uniform(rng, 500, 3000)))
            else:
                r = rng.random()
                for share, mkind, lo, hi in mix:
                    r -= share
                    if r < 0:
                        break
                body = body_regular(rng, ctx, mkind, lo, hi, texts, pools)
                fn, fa = sender(rng, ctx)
                subject = rng.choice(SUBJECTS)
                folder = rng.choices(["", ".Archive", ".Sent"], weights=[70, 20, 10])[0]
            raw = envelope_headers(rng, ctx, fn, fa, subject, date, msgid) + body
            flags = rng.choice(["S", "S", "RS", "FS", ""])
            evil = fa.endswith("@" + EVIL_DOMAIN)
            subj = "invoice overdue" in subject.lower()
            att = False
        else:
            raw = outbreak.copy(rng, ctx)
            date, kind, sig, folder, flags = outbreak.date, "outbreak", outbreak.sig, "", None
            fa, evil, subj, att = outbreak.from_addr, True, True, True

        if base is not None:
            ts = date + 60
            stem = "%d.M%06dP%dQ%d.mail.%s" % (ts, (seq * 7919) % 1000000, 1000 + uid,
                                                seq + 1, ctx.domain)
            if flags is None or (folder == "" and seq >= total - 3 and rng.random() < 0.5):
                sub, name = "new", "%s,S=%d" % (stem, len(raw))
            else:
                sub, name = "cur", "%s,S=%d:2,%s" % (stem, len(raw), flags)
            d = os.path.join(base, folder) if folder else base
            path = os.path.join(d, sub, name)
            with open(path, "wb") as fh:
                fh.write(raw)
            os.utime(path, (ts, ts))
            stems[folder].append(stem)
            nbytes["maildir"] += len(raw)
            rows.append(("maildir", os.path.relpath(path, p["out"]), -1, len(raw), ctx.login,
                         folder.lstrip(".") or "INBOX", kind, sig, int(evil), int(subj),
                         int(att)))
        if mbox is not None:
            chunk = b"From %s %s\n" % (fa.encode(), asctime_date(date + 60).encode())
            chunk += mbox_escape(raw)
            if not chunk.endswith(b"\n"):
                chunk += b"\n"
            chunk += b"\n"
            mbox.write(chunk)
            rows.append(("mbox", os.path.relpath(mbox_path, p["out"]), off, len(chunk),
                         ctx.login, "INBOX", kind, sig, int(evil), int(subj), int(att)))
            off += len(chunk)
    if mbox is not None:
        mbox.close()
        nbytes["mbox"] = off
    for f, names in stems.items():
        d = os.path.join(base, f) if f else base
        with open(os.path.join(d, "dovecot-uidlist"), "w") as fh:
            fh.write("3 V%d N%d G%032x\n" % (1700000000 + uid, len(names) + 1, uid))
            for i, s in enumerate(names):
                fh.write("%d :%s\n" % (i + 1, s))
    return rows, nbytes


G = {}


def main():
    ap = argparse.ArgumentParser(description="Generate a deterministic mail store.")
    ap.add_argument("--out", required=True)
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--messages", type=int, default=100, help="messages per user")
    ap.add_argument("--layout", choices=["maildir", "mbox", "both"], default="maildir")
    ap.add_argument("--outbreak", type=int, default=0, help="copies of the outbreak message")
    ap.add_argument("--mix", choices=sorted(MIXES), default="realistic")
    ap.add_argument("--infected-rate", type=float, default=0.004)
    ap.add_argument("--spam-rate", type=float, default=0.005)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--domain", default="bench.example")
    ap.add_argument("--testfiles", default="/usr/share/clamav-testfiles")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--force", action="store_true", help="replace an existing corpus")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    if a.users < 1 or a.messages < 0 or a.outbreak < 0:
        ap.error("--users must be >= 1, --messages and --outbreak >= 0")

    out = os.path.abspath(a.out)
    existing = [n for n in ("maildir", "mbox", "manifest.tsv", "manifest.json")
                if os.path.lexists(os.path.join(out, n))]
    if existing:
        if not a.force:
            sys.exit("gen_corpus: %s already holds a corpus (use --force)" % out)
        for n in existing:
            pth = os.path.join(out, n)
            if os.path.isdir(pth) and not os.path.islink(pth):
                shutil.rmtree(pth)
            else:
                os.unlink(pth)
    os.makedirs(out, exist_ok=True)
    if a.layout in ("mbox", "both"):
        os.makedirs(os.path.join(out, "mbox"), exist_ok=True)

    t0 = time.time()
    texts = TextPool(random.Random("text-%d" % a.seed))
    pools = Pools(a.seed, texts)
    inf = Infections(a.testfiles)
    G.update(texts=texts, pools=pools, inf=inf, outbreak=Outbreak(a.seed, texts, pools, inf))

    # Outbreak recipients: distinct users while there are enough,
    # then round robin (a user may get the wave more than once).
    orng = random.Random("recipients-%d" % a.seed)
    outbreak_for = {}
    order = list(range(a.users))
    orng.shuffle(order)
    for i in range(a.outbreak):
        u = order[i % a.users]
        outbreak_for[u] = outbreak_for.get(u, 0) + 1

    p = {"seed": a.seed, "domain": a.domain, "mix": a.mix, "messages": a.messages,
         "infected_rate": a.infected_rate, "spam_rate": a.spam_rate,
         "layout": a.layout, "out": out, "outbreak_for": outbreak_for}
    work = [(u, p) for u in range(a.users)]
    rows = []
    nbytes = {"maildir": 0, "mbox": 0}
    jobs = max(1, min(a.jobs, a.users))
    if jobs > 1:
        # fork: the pools are shared with the workers, not pickled.
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(jobs) as pool:
            results = pool.imap(gen_user, work, chunksize=max(1, a.users // (jobs * 8)))
            for r, b in results:
                rows.extend(r)
                for k in b:
                    nbytes[k] += b[k]
    else:
        for w in work:
            r, b = gen_user(w)
            rows.extend(r)
            for k in b:
                nbytes[k] += b[k]

    with open(os.path.join(out, "manifest.tsv"), "w") as fh:
        fh.write("layout\tpath\toffset\tsize\tuser\tfolder\tkind\tvirus\tfrom\tsubject\tattachment\n")
        for r in rows:
            fh.write("\t".join(str(x) for x in r) + "\n")
    counts = {}
    for r in rows:
        if r[0] == rows[0][0]:
            counts[r[6]] = counts.get(r[6], 0) + 1
    layouts = ["maildir", "mbox"] if a.layout == "both" else [a.layout]
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "params": {"users": a.users, "messages": a.messages, "layout": a.layout,
                   "outbreak": a.outbreak, "mix": a.mix, "infected_rate": a.infected_rate,
                   "spam_rate": a.spam_rate, "seed": a.seed, "domain": a.domain},
        "testfiles": len(inf.files),
        "layouts": {l: {"root": l, "messages": sum(counts.values()),
                        "message_bytes": nbytes[l]} for l in layouts},
        "counts": counts,
        "criteria": CRITERIA,
        "outbreak": {"subject": G["outbreak"].subject, "attachment": G["outbreak"].attach,
                     "message_id": G["outbreak"].msgid, "virus": G["outbreak"].sig},
        "seconds": round(time.time() - t0, 2),
    }
    tmp = os.path.join(out, "manifest.json.tmp")
    with open(tmp, "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")
    # "complete" last: the runner reuses only finished corpora.
    manifest["complete"] = True
    with open(tmp, "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")
    os.rename(tmp, os.path.join(out, "manifest.json"))
    if not a.quiet:
        total = sum(counts.values())
        print("gen_corpus: %d messages x %s (%s) in %.1f s: %s" % (
            total, "+".join(layouts),
            ", ".join("%s %.1f MB" % (l, nbytes[l] / 1e6) for l in layouts),
            time.time() - t0, ", ".join("%s %d" % kv for kv in sorted(counts.items()))))


if __name__ == "__main__":
    main()
