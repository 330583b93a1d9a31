#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	check-layers.py - the include rules between the layers of the tree
# SYNOPSIS
#	tests/check-layers.py [SOURCE-DIR [OBJECT...]]
# DESCRIPTION
#	Reads every #include "..." line of the C files and headers under
#	include/, lib/ and src/ of SOURCE-DIR (default: the tree this
#	script is in), resolves it as the compiler does (the including
#	file's directory, then include/ and lib/), and checks:
#
#	- no file under lib/ includes a header that lives in src/ (the
#	  library never depends on its command line);
#	- lib/store/ and lib/engine/ do not include each other's headers
#	  (the headers there are private to their layer);
#	- no file under src/ includes a header that lives in lib/ (the
#	  command line uses the library through include/mailcure/ only:
#	  postfix_ctl.h, exim_ctl.h, internal.h and the like are private);
#	- the layers (include, lib, lib/store, lib/engine, lib/net, src)
#	  include each other without a cycle, and so do the headers.
#
#	With OBJECTs (the library's static archive, libmailcure.a of a
#	build of SOURCE-DIR, and object files), it also reads the call
#	edges between the library's modules: nm(1) lists the symbols
#	each object defines and those it uses, and a symbol used by one
#	module and defined by another is an edge. An object is the
#	module of lib/ whose path, "/" turned into "_", it is named after
#	(meson's names: lib_store_postfix.c.o is lib/store/postfix.c).
#	The layers are lib/store, lib/engine and lib/net, the core (the
#	rest of lib/, under all of them) and the drivers (DRIVERS below,
#	which run the stores and engines from above); they must call
#	each other without a cycle. A cycle is named with one call for
#	each of its steps.
#
#	Each violation is one line on stderr, naming the file, the line
#	and the header (or the cycle); the exit status is 1 when there is
#	any, 0 otherwise.
import os
import re
import subprocess
import sys

LAYERS = ["lib/store", "lib/engine", "lib/net", "lib", "src", "include"]
# Modules of lib/ above the stores and engines: they look stores up
# and drive them (the pipeline, restore, the MTA interface, which
# dispatches to the queue stores too), so they are a layer of their
# own over the store, engine and net layers, which lie over the rest
# of lib/ (the core).
DRIVERS = ("lib/pipeline.c", "lib/restore.c", "lib/mta.c")
CALL_LAYERS = ["lib/store", "lib/engine", "lib/net"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(rel):
    for layer in LAYERS:
        if rel == layer or rel.startswith(layer + "/"):
            return layer
    return None


def sources(root):
    for top in ("include", "lib", "src"):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(d, f), root)


def call_layer(rel):
    if rel in DRIVERS:
        return "lib (drivers)"
    for layer in CALL_LAYERS:
        if rel.startswith(layer + "/"):
            return layer
    return "lib"


def nm(objects):
    """(object basename, type letter, symbol) for each global symbol
    of OBJECTS: "U" one it uses, another letter one it defines."""
    out = subprocess.run(["nm", "-A", "-g"] + list(objects),
                         stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout
    for line in out.splitlines():
        head, _, rest = line.rpartition(":")
        fields = rest.split()
        if head and len(fields) >= 2:
            yield os.path.basename(head.split(":")[-1]), fields[-2], fields[-1]


def call_edges(root, objects, bad):
    """Layer -> {layer: (module, symbol, module)}: the calls (and data
    references) between the modules of lib/ in OBJECTS."""
    modules, bad_objects = {}, set()
    for rel in sources(root):
        if rel.startswith("lib/") and rel.endswith(".c"):
            modules[rel.replace("/", "_") + ".o"] = rel
    owner, uses = {}, []
    for obj, kind, sym in nm(objects):
        if obj not in modules:
            if obj not in bad_objects:
                bad_objects.add(obj)
                bad.append("%s: not an object of a module of lib/" % obj)
        elif kind == "U":
            uses.append((obj, sym))
        elif kind not in "wv":
            owner[sym] = modules[obj]
    edges = {}
    for obj, sym in uses:
        src = modules.get(obj)
        dst = owner.get(sym)
        if src is None or dst is None:
            continue
        a, b = call_layer(src), call_layer(dst)
        if a != b:
            edges.setdefault(a, {}).setdefault(b, (src, sym, dst))
    return edges


def resolve(root, rel, name):
    for base in (os.path.dirname(rel), "include", "lib"):
        cand = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(os.path.join(root, cand)):
            return cand
    return None


def find_cycle(edges):
    """A cycle in the graph EDGES (node -> set of nodes), or None."""
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(edges):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    objects = sys.argv[2:]
    bad = []
    layer_edges, header_edges = {}, {}
    for rel in sources(root):
        src_layer = layer_of(rel)
        with open(os.path.join(root, rel), encoding="utf-8",
                  errors="replace") as f:
            lines = f.read().splitlines()
        in_comment = False
        for no, line in enumerate(lines, 1):
            # The man-page block quotes #include lines: not code.
            if in_comment:
                in_comment = "*/" not in line
                continue
            if line.lstrip().startswith("/*") and "*/" not in line:
                in_comment = True
                continue
            m = INCLUDE.match(line)
            if not m:
                continue
            target = resolve(root, rel, m.group(1))
            if target is None:
                bad.append("%s:%d: \"%s\" is not in the tree" %
                           (rel, no, m.group(1)))
                continue
            dst_layer = layer_of(target)
            where = "%s:%d: includes %s" % (rel, no, target)
            if src_layer.startswith("lib") and dst_layer == "src":
                bad.append(where + ": the library depends on the CLI")
            if src_layer == "src" and dst_layer.startswith("lib"):
                bad.append(where + ": a private header of the library "
                           "(use include/mailcure/)")
            for a, b in (("lib/store", "lib/engine"), ("lib/engine", "lib/store")):
                if src_layer == a and dst_layer == b:
                    bad.append(where + ": a private header of " + b)
            if src_layer != dst_layer:
                layer_edges.setdefault(src_layer, set()).add(dst_layer)
            if rel.endswith(".h"):
                header_edges.setdefault(rel, set()).add(target)
    for what, edges in (("layers", layer_edges), ("headers", header_edges)):
        cycle = find_cycle(edges)
        if cycle:
            bad.append("%s include each other in a cycle: %s" %
                       (what, " -> ".join(cycle)))
    if objects:
        calls = call_edges(root, objects, bad)
        cycle = find_cycle({a: set(b) for a, b in calls.items()})
        if cycle:
            steps = ["%s calls %s of %s" % calls[a][b]
                     for a, b in zip(cycle, cycle[1:])]
            bad.append("layers call each other in a cycle: %s (%s)" %
                       (" -> ".join(cycle), "; ".join(steps)))
    for b in bad:
        print(b, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
