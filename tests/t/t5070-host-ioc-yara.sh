#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t5070-host-ioc-yara - host scan and clean with --ioc and --yara
# DESCRIPTION
#	Files dropped on the server are found by the file hashes of
#	threat-intel indicators, as attachments are in mail: a SHA-256
#	of a STIX 2.1 bundle, an MD5 of a MISP event, a SHA-1 of a CSV
#	feed and a SHA-256 of a plain list, and by YARA rules. Each hit
#	names its indicator (value, type, id, event, feed) in the human
#	and JSON output, or every rule that matched. An empty file is
#	never a hit, even when a feed lists the hash of nothing; the
#	feeds' URL, domain and sender indicators are not applied to
#	files, and -v says how many. host clean quarantines what the
#	indicators and rules found as it does viruses: the report and
#	quarantine list name the indicators and their events, and
#	restore puts every file back; respond's host-scan step does the
#	same.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3 sha256sum
mc_setup

tree=$T/tree
feeds=$T/feeds
mkdir -p "$tree/srv/up" "$tree/home/bob" "$feeds"
printf 'DROPPER-STAGE-1\n' >"$tree/srv/up/stage1.bin"
printf 'DROPPER-STAGE-2\n' >"$tree/srv/up/stage2.dll"
printf 'DROPPER-STAGE-3\n' >"$tree/home/bob/stage3.js"
printf 'DROPPER-STAGE-4\n' >"$tree/home/bob/stage4.sh"
printf 'nothing to see\n' >"$tree/home/bob/notes.txt"
: >"$tree/home/bob/empty"
printf 'WEBSHELL eval(base64_decode(x)) c99\n' >"$tree/srv/up/shell.php"
mc_eicar >"$tree/srv/up/eicar.com"

"$MC_PYTHON" - "$tree" "$feeds" <<'EOF2'
import hashlib, json, sys
tree, feeds = sys.argv[1:3]
def h(name, path):
    return hashlib.new(name, open(tree + path, "rb").read()).hexdigest()
json.dump({"type": "bundle", "id": "bundle--t5070", "objects": [
    {"type": "indicator", "spec_version": "2.1", "id": "indicator--s1",
     "name": "stage one", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
     "pattern": "[file:hashes.'SHA-256' = '%s']" % h("sha256", "/srv/up/stage1.bin")},
    {"type": "indicator", "spec_version": "2.1", "id": "indicator--s2",
     "name": "phish url", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
     "pattern": "[url:value = 'http://evil.example/x']"},
    {"type": "report", "id": "report--r1", "name": "Dropper campaign",
     "object_refs": ["indicator--s1", "indicator--s2"]}]},
    open(feeds + "/bundle.json", "w"))
def attr(uuid, type, value):
    return {"uuid": uuid, "type": type, "value": value, "to_ids": True}
json.dump({"Event": {"id": "70", "uuid": "5f1c0000-0000-4000-8000-000000005070",
    "info": "Loader wave", "Attribute": [
        attr("m1", "md5", h("md5", "/srv/up/stage2.dll")),
        attr("m2", "sha256", hashlib.sha256(b"").hexdigest()),
        attr("m3", "domain", "evil.example"),
        attr("m4", "email-src", "boss@fraud.example")]}},
    open(feeds + "/misp.json", "w"))
with open(feeds + "/vendor.csv", "w") as f:
    f.write("type,value,id,event_id,title\nsha1,%s,c1,ev9,Vendor alert\n" % h("sha1", "/home/bob/stage3.js"))
with open(feeds + "/list.txt", "w") as f:
    f.write("# hashes\nsha256:%s\n%s\nfrom:*@fraud.example\n" %
            (h("sha256", "/home/bob/stage4.sh"), h("sha256", "/srv/up/eicar.com")))
EOF2
cat >"$feeds/web.yar" <<'EOF2'
rule Eval : webshell { meta: author = "cert" strings: $a = "eval(base64_decode" condition: $a }
rule C99 : webshell { meta: note = "escape \x1b]0;pwn\x07 here" strings: $a = "c99" condition: $a }
rule Php { strings: $a = "WEBSHELL" condition: $a }
rule Webby { strings: $a = "base64" condition: $a }
rule Nothing { strings: $a = "not in any file" condition: $a }
EOF2
IOCS=(--ioc "$feeds/bundle.json" --ioc "$feeds/misp.json" --ioc "$feeds/vendor.csv"
	--ioc "$feeds/list.txt")

# JSON: exactly the expected files, each with what named it.
mc_cure --json "${IOCS[@]}" --yara "$feeds/web.yar" host scan "$tree"
mc_expect_rc 1 "host scan --ioc --yara"
got=$(mc_json "$MC_OUT" '
for e in sorted((e for e in events if e["event"] == "match"), key=lambda e: e["path"]):
    out = [e["path"].split("/tree/")[1]]
    for r in e["reasons"]:
        if r["kind"] == "ioc":
            out.append("ioc:%s:%s:%s:%s:%s" % (r["type"], r["indicator_id"], r.get("event_id"),
                       r.get("event"), r["feed"].rsplit("/", 1)[1]))
        elif r["kind"] == "yara":
            out.append("yara:%s:%s" % (r["value"], ",".join(x["namespace"] + ":" + x["rule"]
                       for x in r["rules"])))
        else:
            out.append(r["kind"])
    print(" ".join(out))')
mc_assert_eq "home/bob/stage3.js ioc:sha1:c1:ev9:Vendor alert:vendor.csv
home/bob/stage4.sh sha256
srv/up/eicar.com virus sha256
srv/up/shell.php yara:web:Eval:web:Eval,web:C99,web:Php,web:Webby
srv/up/stage1.bin ioc:sha256:indicator--s1:report--r1:Dropper campaign:bundle.json
srv/up/stage2.dll ioc:md5:m1:70:Loader wave:misp.json" "$got" "files found and their reasons"
grep -q '"meta":{"note":"escape \\u001b\]0;pwn\\u0007 here"}' "$MC_OUT" ||
	{ mc_show >&2; mc_fail "the JSON event lacks the second rule's metadata"; }
echo "ok: indicators of four feeds and YARA rules find exactly the dropped files"

# Human output: the indicator and its event, all rules, the count
# of indicators not applied.
mc_cure -v "${IOCS[@]}" --yara "$feeds/web.yar" host scan "$tree"
mc_expect_rc 1 "human host scan"
grep -qF "$tree/srv/up/stage2.dll: ioc md5 $(md5sum <"$tree/srv/up/stage2.dll" | cut -d' ' -f1) (event 70 \"Loader wave\", indicator m1, $feeds/misp.json)" "$MC_OUT" ||
	{ mc_show >&2; mc_fail "human output does not name the MISP indicator"; }
grep -qF "$tree/srv/up/shell.php: yara web:Eval, web:C99, web:Php +1 more" "$MC_OUT" ||
	{ mc_show >&2; mc_fail "human output does not list the rules"; }
grep -qF -- "--ioc: 4 indicator(s) of URLs, domains, addresses or subjects do not apply to files" "$MC_ERR" ||
	{ mc_show >&2; mc_fail "-v does not say which indicators are not applied"; }
if grep -q $'\x1b' "$MC_OUT" "$MC_ERR"; then mc_fail "a rule's escape reached the terminal"; fi
grep -q "empty" "$MC_OUT" && mc_fail "an empty file matched the hash of nothing"
grep -q '^Matched: *6$' "$MC_OUT" && ! grep -q '^Infected' "$MC_OUT" ||
	{ mc_show >&2; mc_fail "the summary calls indicator and rule hits infected"; }
echo "ok: human output names indicators and rules"

# Without --ioc and --yara only the virus is found, as before.
mc_cure --json host scan "$tree"
mc_expect_rc 1 "host scan alone"
mc_assert_eq "$tree/srv/up/eicar.com" "$(mc_events "$MC_OUT" match path)" "the engine alone"
mc_cure host scan "$tree"
grep -q '^Infected: *1$' "$MC_OUT" || { mc_show >&2; mc_fail "summary of the engine alone"; }

# Clean: every hit quarantined, the rest left; the report names the
# indicators; restore puts everything back.
before=$(mc_snapshot "$tree")
mc_cure --state-dir "$T/state" "${IOCS[@]}" --yara "$feeds/web.yar" host clean "$tree"
mc_expect_rc 1 "host clean"
run=$(sed -n 's/^Run: *\([^ ]*\).*/\1/p' "$MC_OUT")
left=$(cd "$tree" && find . -type f | sort | tr '\n' ' ')
mc_assert_eq "./home/bob/empty ./home/bob/notes.txt " "$left" "files left after host clean"
mc_cure --state-dir "$T/state" report "$run" --html "$T/report.html"
mc_expect_rc 0 "report --html"
for want in "Per indicator" "indicator--s1" "Dropper campaign" "Loader wave" \
	"web:Eval, web:C99, web:Php +1 more"; do
	grep -qF "$want" "$T/report.html" || mc_fail "the HTML report lacks '$want'"
done
mc_cure quarantine list --run "$run"
mc_expect_rc 0 "quarantine list"
for want in "stage2.dll: ioc md5 " "(event 70 \"Loader wave\", indicator m1, $feeds/misp.json)" \
	"shell.php: yara web:Eval, web:C99, web:Php +1 more"; do
	grep -qF "$want" "$MC_OUT" || { mc_show >&2; mc_fail "quarantine list lacks '$want'"; }
done
mc_cure --state-dir "$T/state" quarantine restore --run "$run"
mc_expect_rc 0 "restore --run"
mc_assert_eq "$before" "$(mc_snapshot "$tree")" "the tree after restore"
echo "ok: host clean quarantines indicator and rule hits, restore puts them back"

# respond passes --ioc and --yara to its host-scan step: the step
# quarantines the dropped files, and the run's report names them.
[ "$(id -u)" = 0 ] || { echo "ok (respond part skipped: needs root)"; exit 0; }
mc_maildir "$T/Maildir"
mc_cure --state-dir "$T/rstate" -j 1 "${IOCS[@]}" --yara "$feeds/web.yar" respond \
	--skip isolate --skip reconnect --skip queue-freeze --skip queue-delete \
	--skip queue-thaw -s "maildir:$T/Maildir" --clean-host --host-path "$tree" --yes
mc_expect_rc 1 "respond --clean-host --ioc --yara"
left=$(cd "$tree" && find . -type f | sort | tr '\n' ' ')
mc_assert_eq "./home/bob/empty ./home/bob/notes.txt " "$left" "files left after respond"
run=$(sed -n 's/^Run \([^ ]*\) .*/\1/p' "$MC_OUT" | head -n 1)
mc_cure --state-dir "$T/rstate" report "$run"
mc_expect_rc 0 "report of respond"
for want in "indicator--s1" \
	"(event 70 \"Loader wave\", indicator m1, $feeds/misp.json)" \
	"yara web:Eval, web:C99, web:Php +1 more"; do
	grep -qF "$want" "$MC_OUT" || { mc_show >&2; mc_fail "the respond report lacks '$want'"; }
done
echo "ok: respond's host-scan step finds and quarantines by indicators and rules"
