#!/usr/bin/env python3
"""The layer check `make test` runs: which stage may include which.

Each stage is a folder (bpf/, include/abi/, user/<stage>/). A stage may
include only the stages listed for it below; everything else is a layer
violation. On top of the folder rules, no two modules (a .c file and its
header) may depend on each other through their includes, directly or round
a longer loop: a module cycle means two files that are really one, or a
function living on the wrong side.

usage: scripts/check-layers.py [ROOT]   exit 0 clean, 1 with one line per violation
"""
import os
import re
import sys

# stage -> the stages it may include (its own folder always allowed).
# Why each rule exists:
#   bpf, abi     the kernel half knows no user space; the ABI header knows nothing
#   common       the base: knows no stage
#   http, identity  leaves over common (identity knows no policy, no ledger)
#   mcp          JSON-RPC/MCP extraction: over common and http (an argument
#                value reduced to a path template or a keyed fingerprint)
#   sensor       loads and drains the kernel half: knows no policy, no ledger
#   reach        the model and the ledger: knows no transport (ship), no policy
#   policy       judges ledgers: knows no ship, no agent, no cmd
#   agent        the event pipeline and the agent's API: everything but cmd
#   ship         reports, sinks, alerts: knows no agent, no cmd
#   cmd          wiring: may include every stage; nothing includes cmd
ALLOWED = {
    "bpf": {"abi"},
    "abi": set(),
    "common": set(),
    "http": {"common"},
    "identity": {"common"},
    "mcp": {"common", "http"},
    "config": {"common", "identity", "reach"},
    "sensor": {"abi", "common"},
    "reach": {"abi", "common", "identity", "http"},
    "policy": {"common", "reach"},
    "ship": {"abi", "common", "identity", "reach", "policy", "http"},
    "agent": {"abi", "common", "config", "http", "identity", "mcp", "reach", "policy", "sensor", "ship"},
    "cmd": {"abi", "common", "config", "http", "identity", "mcp", "reach", "policy", "sensor", "ship", "agent"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def stage_of(rel):
    parts = rel.split("/")
    if parts[0] == "bpf":
        return "bpf"
    if parts[:2] == ["include", "abi"]:
        return "abi"
    if parts[0] == "user" and len(parts) > 2:
        return parts[1]
    return None


def sources(root):
    for top in ("bpf", "include", "user"):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(d, f), root)


def resolve(root, rel, inc):
    """The repository path an include names, or None (system, generated)."""
    for base in (os.path.dirname(rel), "user", "include"):
        cand = os.path.normpath(os.path.join(base, inc))
        if os.path.isfile(os.path.join(root, cand)):
            return cand
    return None


def module(rel):
    return os.path.splitext(rel)[0]


def rules_are_a_dag():
    """The rules themselves may not let two stages include each other."""
    seen, problems = {}, []

    def visit(st, path):
        if seen.get(st) == 1:
            problems.append("layer rules allow a cycle: " + " -> ".join(path[path.index(st):] + [st]))
            return
        if seen.get(st) == 2:
            return
        seen[st] = 1
        for d in sorted(ALLOWED.get(st, ())):
            visit(d, path + [st])
        seen[st] = 2

    for st in sorted(ALLOWED):
        visit(st, [])
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems = rules_are_a_dag()
    deps = {}
    for rel in sources(root):
        st = stage_of(rel)
        if st is None:
            continue
        if st not in ALLOWED:
            problems.append(f"{rel}: stage '{st}' has no layer rule (add it to scripts/check-layers.py)")
            continue
        text = open(os.path.join(root, rel), encoding="utf-8", errors="replace").read()
        for n, line in enumerate(text.splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            target = resolve(root, rel, m.group(1))
            if target is None:
                continue
            tst = stage_of(target)
            if tst is None or tst == st:
                pass
            elif tst not in ALLOWED[st]:
                problems.append(f"{rel}:{n}: {st}/ must not include {m.group(1)} ({tst}/)")
            if module(target) != module(rel):
                deps.setdefault(module(rel), set()).add(module(target))
    # module cycles (a.c/a.h <-> b.c/b.h, or longer)
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in sorted(deps.get(m, ())):
            if state.get(d) == 1:
                cyc = stack[stack.index(d):] + [d]
                problems.append("include cycle: " + " -> ".join(cyc))
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(deps):
        if m not in state:
            visit(m)
    for p in problems:
        print("layers: " + p)
    print(f"layers: {len(problems)} violation(s)" if problems else "layers: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
