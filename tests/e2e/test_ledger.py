"""The reach ledger per identity, reachctl, persistence (issue: identity and
the reach ledger). Host identities here; Kubernetes ones in test_kube.py."""
import os
import signal
import subprocess

from harness import PYTHON, REACHCTL, Agent, Cgroup, check, check_eq, wait_for


def _secret(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("s3cr3t\n")
    return path


def _identity(doc, name):
    found = [i for i in doc["identities"] if i["identity"] == name]
    check_eq(len(found), 1, f"identity {name} in the ledger")
    return found[0]


def _edge(identity, kind, obj):
    found = [e for e in identity["edges"] if e["kind"] == kind and e["object"] == obj]
    check_eq(len(found), 1, f"{kind} edge {obj} of {identity['identity']}")
    return found[0]


def test_host_identity_rule_reachctl_and_restart(cleanup, tmp):
    root = Cgroup(cleanup, f"reach-e2e-ledger-{os.getpid()}")
    app = Cgroup(cleanup, "app", parent=root)
    other = Cgroup(cleanup, "other", parent=root)
    key = _secret(os.path.join(tmp, "keys", "gateway.key"))
    rules = ["--identity-rule", f"cgroup:{app.rel} host/llm-gateway"]
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--persist-interval", "0.5", *rules])
    app.python("import sys\nfor _ in range(3): open(sys.argv[1]).read()", key)
    app.run(["cat", key])  # a second executable reading the same secret
    other.python("import sys; open(sys.argv[1]).read()", key)

    def ledger_has_both():
        doc = agent.reachctl("reach", "-o", "json")
        names = {i["identity"] for i in doc["identities"]}
        return doc if {"host/llm-gateway", f"unknown{other.rel}"} <= names else None
    doc = wait_for(ledger_has_both, "both identities in reachctl reach", 10)
    gw = _identity(doc, "host/llm-gateway")
    e = _edge(gw, "secret", key)
    check_eq(e["count"], 4, "reads by the gateway (3 by python, 1 by cat)")
    check_eq(e["category"], "private-key", "category")
    check_eq(sorted(os.path.basename(x) for x in e["executables"]),
             sorted([os.path.basename(PYTHON), "cat"]), "every executable that read it")
    check_eq(_edge(_identity(doc, f"unknown{other.rel}"), "secret", key)["count"], 1, "read by the unknown identity")
    # filters
    only = agent.reachctl("reach", "--identity", "host/llm-gateway", "--kind", "secret", "-o", "json")
    check_eq([i["identity"] for i in only["identities"]], ["host/llm-gateway"], "--identity filter")
    check(all(e["kind"] == "secret" for i in only["identities"] for e in i["edges"]), "--kind filter")
    table = agent.reachctl("reach", "--identity", "host/llm-gateway")
    check("host/llm-gateway" in table.stdout and key in table.stdout and "private-key" in table.stdout,
          f"table output: {table.stdout}")
    check_eq(os.stat(agent.socket).st_mode & 0o777, 0o600, "API socket mode")
    status = agent.reachctl("status", "-o", "json")
    check(status["identities"] >= 2 and status["edges"] >= 2, f"status counts: {status}")
    check(len(status["hooks"]) >= 4, "status lists the attached hooks")
    check_eq(status["losses"]["file_open"]["ringbuf_full"], 0, "status loss counters")

    # SIGKILL: the ledger saved every 0.5 s survives; a new agent adds to it
    wait_for(lambda: os.path.exists(os.path.join(agent.state_dir, "ledger.pb.z")), "ledger file", 5)
    wait_for(lambda: agent.reachctl("status", "-o", "json")["last_persist_unix_ms"] > 0, "a persist", 5)
    agent.proc.send_signal(signal.SIGKILL)
    agent.proc.wait()
    agent2 = Agent(cleanup, tmp, ["--cgroup", root.path, "--persist-interval", "0.5", *rules], name="reachd2")
    doc = agent2.reachctl("reach", "--identity", "host/llm-gateway", "-o", "json")
    check_eq(_edge(_identity(doc, "host/llm-gateway"), "secret", key)["count"], 4, "count kept across SIGKILL")
    app.python("import sys; open(sys.argv[1]).read()", key)
    wait_for(lambda: _edge(_identity(agent2.reachctl("reach", "--identity", "host/llm-gateway", "-o", "json"),
                                     "host/llm-gateway"), "secret", key)["count"] == 5, "count 4 + 1 after restart", 10)
    agent2.stop()
    # offline: the saved ledger read directly
    p = subprocess.run([REACHCTL, "reach", "--ledger", os.path.join(agent2.state_dir, "ledger.pb.z"), "-o", "json",
                        "--identity", "host/llm-gateway"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check_eq(p.returncode, 0, f"reachctl --ledger: {p.stderr}")
    import json
    check_eq(_edge(_identity(json.loads(p.stdout), "host/llm-gateway"), "secret", key)["count"], 5,
             "count in the saved ledger after a clean stop")


def test_full_working_set_moves_edges_to_the_ledger(cleanup, tmp):
    """More distinct secrets than the observed model holds (--observed-edges
    64): the least recently seen edges go to the ledger alone, their kernel
    dedup entries deleted, so a second read of an evicted file is a new event
    and the ledger adds both reads up. Nothing is refused or lost."""
    cg = Cgroup(cleanup, f"reach-e2e-evict-{os.getpid()}")
    keys = os.path.join(tmp, "keys")
    files = [_secret(os.path.join(keys, f"tenant-{i:03d}.key")) for i in range(300)]
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--observed-edges", "64",
                                 "--identity-rule", f"cgroup:{cg.rel} host/evict-app"])
    read_first = ("import os, sys\n"
                  "d, n = sys.argv[1], int(sys.argv[2])\n"
                  "for name in sorted(os.listdir(d))[:n]: open(os.path.join(d, name)).read()\n")

    def secret_edges(n_edges, n_reads):
        doc = agent.reachctl("reach", "--identity", "host/evict-app", "--kind", "secret", "-o", "json")
        if not doc["identities"]:
            return None
        edges = {e["object"]: e for e in doc["identities"][0]["edges"] if e["kind"] == "secret"}
        return edges if len(edges) >= n_edges and sum(e["count"] for e in edges.values()) >= n_reads else None
    # every file once; once the agent has them all, the first 100 again: they
    # were evicted long before, so each of these reads must be an event again
    cg.python(read_first, keys, "300")
    wait_for(lambda: secret_edges(300, 300), "300 secret edges in the ledger", 20)
    cg.python(read_first, keys, "100")
    edges = wait_for(lambda: secret_edges(300, 400), "300 secret edges, 400 reads in the ledger", 20)
    check_eq(sorted(edges), sorted(files), "every secret read is in the ledger")
    for i, f in enumerate(files):
        check_eq(edges[f]["count"], 2 if i < 100 else 1, f"reads of {os.path.basename(f)}")
        check_eq(edges[f]["category"], "private-key", f"category of {os.path.basename(f)}")
        check_eq([os.path.basename(x) for x in edges[f]["executables"]], [os.path.basename(PYTHON)],
                 f"executable of {os.path.basename(f)}")
    status = agent.reachctl("status", "-o", "json")
    check(status["observed_edges"] <= 64, f"working set within --observed-edges: {status['observed_edges']}")
    # 300 + 100 edge creations through a 64-edge set: at least 400 - 64 moved out
    check(status["observed_edges_evicted"] >= 400 - 64,
          f"edges moved to the ledger: {status['observed_edges_evicted']}")
    check_eq(status["observed_edges_dropped"], 0, "no edge refused")
    check_eq(status["losses"]["file_open"]["ringbuf_full"], 0, "no event lost")
    check_eq(status["edges_dropped"], 0, "no ledger refusal")
    summary = agent.stop()
    check(summary["observed_edges_evicted"] >= status["observed_edges_evicted"],
          f"the exit summary counts the evictions: {summary['observed_edges_evicted']}")
    check("observed model full (64 edges)" in agent.stderr(), "the first eviction is logged once")
    check_eq(agent.stderr().count("observed model full"), 1, "logged once")


def test_corrupt_ledger_is_kept_aside(cleanup, tmp):
    cg = Cgroup(cleanup, f"reach-e2e-corrupt-{os.getpid()}")
    state = os.path.join(tmp, "state")
    os.makedirs(state)
    with open(os.path.join(state, "ledger.pb.z"), "wb") as f:
        f.write(b"REACHLG1 this is not a ledger")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])
    check("corrupt" in agent.stderr() and "starting with an empty ledger" in agent.stderr(),
          f"clear warning: {agent.stderr()}")
    moved = [n for n in os.listdir(state) if n.startswith("ledger.pb.z.corrupt-")]
    check_eq(len(moved), 1, "the corrupt file kept aside")
    check_eq(agent.reachctl("reach", "-o", "json")["identities"], [], "starts clean")
    agent.stop()


def test_reachctl_bad_usage_and_no_agent(cleanup, tmp):
    p = subprocess.run([REACHCTL, "reach", "--kind", "bogus"], stderr=subprocess.PIPE, text=True)
    check_eq(p.returncode, 2, "bad --kind")
    check("--kind must be one of" in p.stderr, p.stderr)
    p = subprocess.run([REACHCTL, "reach", "--socket", os.path.join(tmp, "none.sock")], stderr=subprocess.PIPE, text=True)
    check_eq(p.returncode, 1, "no agent")
    check("is reachd running" in p.stderr, p.stderr)
    bad = os.path.join(tmp, "bad.pb.z")
    with open(bad, "wb") as f:
        f.write(b"\x00" * 64)
    p = subprocess.run([REACHCTL, "reach", "--ledger", bad], stderr=subprocess.PIPE, text=True)
    check_eq(p.returncode, 1, "corrupt --ledger")
