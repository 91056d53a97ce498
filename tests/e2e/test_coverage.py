"""Coverage per identity, and coverage that travels with the ledger.

A flood in cgroup A (several processes opening more distinct files than the
ring buffer holds, while A also reads a secret) makes A's verdict
inconclusive with A's own loss count; B, which reads an undeclared secret
after the flood, is judged on its own: a finding (fail), not inconclusive.
The three ways a pipeline asks reach the same verdicts: the agent's socket,
`verify --ledger` on the file the agent saved and `verify --agents` on the
ledger it serves on /v1/ledger (the Helm/Argo hooks' path)."""
import json
import os
import re
import signal
import subprocess
import urllib.request

from harness import PYTHON, REACHCTL, Agent, Cgroup, check, check_eq, wait_for

PORT = 19100
TOKEN = "reach-e2e-coverage-token-5d21c8"
ID_A, ID_B = "host/cov-a", "host/cov-b"
FLOOD_PROCS, FLOOD_FILES = 4, 1500  # 6,000 distinct opens; a 256 KiB ring holds ~300 open events
RING = 256 * 1024


def _write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


# A flood file: a committed dotenv template (flood/fN/.env.example). The
# kernel's catalogue pre-filter must send it (it could be a .env.*), so it
# costs a ring event as any file did before the filter; the catalogue then
# excludes it (!.env.example), so it is no secret edge of the identity.
FLOOD_NAME = ".env.example"


def _flood_files(flood):
    for i in range(FLOOD_FILES):
        os.makedirs(os.path.join(flood, f"f{i}"))
        _write(os.path.join(flood, f"f{i}", FLOOD_NAME), "x")


def _run(*argv):
    return subprocess.run([REACHCTL, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)


def _verdict(p, identity):
    """(exit code, that identity's verdict entry, its findings) of verify -o json."""
    check(p.stdout.strip() != "", f"verify printed a verdict: rc {p.returncode} {p.stderr[-400:]}")
    doc = json.loads(p.stdout)
    ident = [i for i in doc["identities"] if i["identity"] == identity]
    check_eq(len(ident), 1, f"{identity} judged: {[i['identity'] for i in doc['identities']]}")
    return p.returncode, ident[0], [f for f in doc["findings"] if f["identity"] == identity]


def _coverage(doc, identity):
    for i in doc["identities"]:
        if i["identity"] == identity:
            return i.get("coverage")
    return None


def _check_judgement(where, a, b, a_lost):
    """A inconclusive on its own losses, B failed on its own finding."""
    rc, va, fa = a
    check_eq(rc, 2, f"{where}: A could not be verified (inconclusive): {va}")
    check_eq(va["verdict"], "inconclusive", f"{where}: A's verdict")
    check(f"coverage gaps of this identity: {a_lost} events lost" in va["reasons"],
          f"{where}: A's reason names its own loss count {a_lost}: {va['reasons']}")
    check("node-wide" not in va["reasons"], f"{where}: A's losses were attributed, none node-wide: {va['reasons']}")
    check_eq([(f["kind"], f["object"], f["severity"]) for f in fa if f["kind"] == "sensor-blind"],
             [("sensor-blind", "events-lost", "high")], f"{where}: A's sensor-blind finding")
    rc, vb, fb = b
    check_eq(rc, 1, f"{where}: B fails on its finding, not inconclusive: {vb}")
    check_eq(vb["verdict"], "fail", f"{where}: B's verdict")
    check("coverage" not in vb["reasons"] and "lost" not in vb["reasons"],
          f"{where}: B is not blamed for A's flood: {vb['reasons']}")
    check_eq(sorted((f["kind"], f["object"]) for f in fb if f["severity"] in ("medium", "high", "critical")),
             [("undeclared-secret", B_SECRET[0])], f"{where}: B's only finding is its undeclared secret")


B_SECRET = [""]


def test_flood_in_one_cgroup_is_that_identitys_gap(cleanup, tmp):
    root = Cgroup(cleanup, f"reach-e2e-cov-{os.getpid()}")
    cg_a = Cgroup(cleanup, "a", parent=root)
    cg_b = Cgroup(cleanup, "b", parent=root)
    flood = os.path.join(tmp, "flood")
    keys = os.path.join(tmp, "keys")
    os.makedirs(flood)
    os.makedirs(keys)
    _flood_files(flood)
    a_secret, b_secret = os.path.join(keys, "a.key"), os.path.join(keys, "b.key")
    _write(a_secret, "-----BEGIN PRIVATE KEY-----\nAAAA\n", 0o600)
    _write(b_secret, "-----BEGIN PRIVATE KEY-----\nBBBB\n", 0o600)
    B_SECRET[0] = b_secret
    policy = os.path.join(tmp, "policies.yaml")
    # A declares all it does (a flood would be its only problem); B declares
    # its tool and no secret
    _write(policy, f"""apiVersion: reach.dev/v1
kind: ReachPolicy
metadata:
  name: cov-a
spec:
  identity: {ID_A}
  secrets: ["{keys}/a.key"]
  tools: ["/**/python3*"]
---
apiVersion: reach.dev/v1
kind: ReachPolicy
metadata:
  name: cov-b
spec:
  identity: {ID_B}
  tools: ["/**/cat"]
""")
    token_file = os.path.join(tmp, "api-token")
    _write(token_file, TOKEN, 0o600)
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--ringbuf-bytes", str(RING), "--policy", policy,
                                 "--identity-rule", f"cgroup:{cg_a.rel} {ID_A}",
                                 "--identity-rule", f"cgroup:{cg_b.rel} {ID_B}",
                                 "--metrics-addr", f"127.0.0.1:{PORT}", "--api-token-file", token_file,
                                 "--persist-interval", "1"])
    ledger_file = os.path.join(agent.state_dir, "ledger.pb.z")

    # The flood: the agent is stopped, so nothing drains the ring while
    # FLOOD_PROCS processes in A open every file of the flood directory, and
    # one of them reads A's secret in the middle of it.
    flood_code = ("import os, sys\n"
                  "d, secret = sys.argv[1], sys.argv[2]\n"
                  "names = sorted(os.listdir(d))\n"
                  "for i, n in enumerate(names):\n"
                  f"    open(os.path.join(d, n, '{FLOOD_NAME}')).read()\n"
                  "    if secret and i == len(names) // 2:\n"
                  "        open(secret).read()\n")
    agent.proc.send_signal(signal.SIGSTOP)
    try:
        procs = [subprocess.Popen([PYTHON, "-c", flood_code, flood,
                                   a_secret if i == 0 else ""], preexec_fn=cg_a.enter_fn(),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for i in range(FLOOD_PROCS)]
        for p in procs:
            _, err = p.communicate(timeout=120)
            check_eq(p.returncode, 0, f"flood process: {err[-300:]}")
    finally:
        agent.proc.send_signal(signal.SIGCONT)

    # After the flood B reads its secret with the agent draining again.
    cg_b.run(["/bin/cat", b_secret])
    agent.wait_edge("B's secret read", lambda e: e.get("type") == "secret" and e.get("path") == b_secret, 20)

    # The socket: coverage per identity
    def socket_coverage():
        doc = agent.reachctl("coverage", "-o", "json")
        ca = _coverage(doc, ID_A)
        return doc if ca and ca["gaps"] else None
    doc = wait_for(socket_coverage, "A's coverage gap on the socket", 20)
    cov_a, cov_b = _coverage(doc, ID_A), _coverage(doc, ID_B)
    a_lost = cov_a["gap_losses"]
    check(a_lost > 0, f"A lost events: {cov_a}")
    check(cov_a["losses"]["file_open"]["ringbuf_full"] > 0, f"A's losses are file opens, ring full: {cov_a}")
    check(cov_b is None or not cov_b["gaps"], f"B has no gap: {cov_b}")
    b_lost = cov_b["losses_total"] if cov_b else 0
    check(not doc["node_coverage"]["gaps"], f"nothing node-wide: {doc['node_coverage']}")
    status = agent.reachctl("status", "-o", "json")
    check_eq(status["coverage"]["identities"], [ID_A], "status names the identity with gaps")
    node_lost = sum(v["ringbuf_full"] for v in status["losses"].values())
    # the table and the reach section say it in words
    p = _run("coverage", "--socket", agent.socket)
    check(re.search(rf"^{re.escape(ID_A)}\s+yes\s+{a_lost}\s", p.stdout, re.M), f"coverage table, A: {p.stdout}")
    check(re.search(rf"^{re.escape(ID_B)}\s+no\s+0\s", p.stdout, re.M), f"coverage table, B: {p.stdout}")
    p = _run("reach", "--socket", agent.socket)
    check(f"{a_lost} events lost" in p.stdout and "complete" in p.stdout, f"reach's coverage section: {p.stdout[-600:]}")

    # 1. the agent's socket
    a = _verdict(_run("verify", "--socket", agent.socket, "--identity", ID_A, "-o", "json"), ID_A)
    b = _verdict(_run("verify", "--socket", agent.socket, "--identity", ID_B, "-o", "json"), ID_B)
    _check_judgement("socket", a, b, a_lost)
    # the gaps are kept under the epoch they happened in: the one judged
    by_epoch = agent.reachctl("reach", "--identity", ID_A, "-o", "json")["identities"][0]["coverage_by_epoch"]
    check(by_epoch and all(r["epoch"] in (a[1]["epoch"], None) for r in by_epoch),
          f"A's records are of its judged epoch {a[1]['epoch']}: {[r['epoch'] for r in by_epoch]}")
    check_eq(sum(r["gap_losses"] for r in by_epoch), a_lost, "A's records add up to its count")

    # 2. the ledger file the agent saved (persist interval 1 s): the same
    def saved():
        p = _run("coverage", "--ledger", ledger_file, "-o", "json")
        if p.returncode != 0:
            return None
        c = _coverage(json.loads(p.stdout), ID_A)
        return c if c and c["gap_losses"] == a_lost else None
    wait_for(saved, "A's coverage record in the saved ledger", 20)
    a = _verdict(_run("verify", "--ledger", ledger_file, "--policy", policy, "--identity", ID_A, "-o", "json"), ID_A)
    b = _verdict(_run("verify", "--ledger", ledger_file, "--policy", policy, "--identity", ID_B, "-o", "json"), ID_B)
    _check_judgement("--ledger", a, b, a_lost)

    # 3. the cluster gate's path: GET /v1/ledger, merged, judged offline.
    # The agent serves the image of its latest completed save, published by
    # its main loop a moment after the file is renamed: wait for that one.
    def served():
        req = urllib.request.Request(f"http://127.0.0.1:{PORT}/v1/ledger", headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=5) as r:
            image = r.read()
        path = os.path.join(tmp, "served.pb.z")
        with open(path, "wb") as f:
            f.write(image)
        p = _run("coverage", "--ledger", path, "-o", "json")
        c = _coverage(json.loads(p.stdout), ID_A) if p.returncode == 0 else None
        return c if c and c["gap_losses"] == a_lost else None
    wait_for(served, "A's coverage record in the ledger /v1/ledger serves", 20)
    gate = ["verify", "--agents", f"127.0.0.1:{PORT}", "--api-token-file", token_file, "--policy", policy, "-o", "json"]
    a = _verdict(_run(*gate, "--identity", ID_A), ID_A)
    b = _verdict(_run(*gate, "--identity", ID_B), ID_B)
    _check_judgement("--agents", a, b, a_lost)

    # /metrics: per-identity series
    text = urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
        f"http://127.0.0.1:{PORT}/metrics", timeout=5).read().decode()
    check(f'reach_identity_coverage_gaps{{identity="{ID_A}"}} 1' in text, "metrics: A has gaps")
    m = re.search(rf'^reach_identity_losses_total{{identity="{re.escape(ID_A)}",kind="file_open",reason="ringbuf_full"}} (\d+)',
                  text, re.M)
    check(m and int(m.group(1)) == cov_a["losses"]["file_open"]["ringbuf_full"], f"metrics: A's file-open losses {m}")
    check(f'identity="{ID_B}",kind="file_open",reason="ringbuf_full"' not in text, "metrics: no losses for B")
    check("reach_unattributed_losses_total 0" in text, "metrics: nothing unattributed")
    # the figures, for the record
    print(f"    coverage figures: A lost {a_lost} (gaps; file_open ringbuf_full "
          f"{cov_a['losses']['file_open']['ringbuf_full']}), B lost {b_lost}, node-wide ring-full total {node_lost}")
    node_all = sum(n for per in status["losses"].values() for n in per.values())
    check(cov_a["losses_total"] + b_lost <= node_all, f"A's and B's losses are part of the node's {node_all}")
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")


def test_losses_no_identity_can_be_named_for_make_every_verdict_inconclusive(cleanup, tmp):
    """--loss-cgroups 1: A's flood takes the kernel's only per-cgroup entry,
    B's flood finds no room and is counted as unattributed, never dropped:
    then nobody can be judged complete, and every verdict says why, on the
    socket and from the saved ledger alike."""
    port = PORT + 1
    root = Cgroup(cleanup, f"reach-e2e-cov-un-{os.getpid()}")
    cg_a = Cgroup(cleanup, "a", parent=root)
    cg_b = Cgroup(cleanup, "b", parent=root)
    flood = os.path.join(tmp, "flood")
    os.makedirs(flood)
    _flood_files(flood)
    policy = os.path.join(tmp, "policies.yaml")
    _write(policy, f"""apiVersion: reach.dev/v1
kind: ReachPolicy
metadata:
  name: cov-a
spec:
  identity: {ID_A}
  tools: ["/**/python3*"]
---
apiVersion: reach.dev/v1
kind: ReachPolicy
metadata:
  name: cov-b
spec:
  identity: {ID_B}
  tools: ["/**/python3*"]
""")
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--ringbuf-bytes", str(RING), "--policy", policy,
                                 "--loss-cgroups", "1", "--identity-rule", f"cgroup:{cg_a.rel} {ID_A}",
                                 "--identity-rule", f"cgroup:{cg_b.rel} {ID_B}",
                                 "--metrics-addr", f"127.0.0.1:{port}", "--persist-interval", "1"])
    ledger_file = os.path.join(agent.state_dir, "ledger.pb.z")
    code = ("import os, sys\n"
            f"for n in sorted(os.listdir(sys.argv[1])): open(os.path.join(sys.argv[1], n, '{FLOOD_NAME}')).read()")
    for cg in (cg_a, cg_b):  # A first: it takes the map's only entry
        agent.proc.send_signal(signal.SIGSTOP)
        try:
            procs = [subprocess.Popen([PYTHON, "-c", code, flood], preexec_fn=cg.enter_fn(),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
            for p in procs:
                _, err = p.communicate(timeout=120)
                check_eq(p.returncode, 0, f"flood process: {err[-300:]}")
        finally:
            agent.proc.send_signal(signal.SIGCONT)

    def node_gaps():
        doc = agent.reachctl("coverage", "-o", "json")
        return doc if doc["node_coverage"]["gaps"] and _coverage(doc, ID_A) else None
    doc = wait_for(node_gaps, "unattributed losses in the node's record", 20)
    un = doc["node_coverage"]["gap_losses"]
    cov_a = _coverage(doc, ID_A)
    check(un > 0 and cov_a["gap_losses"] > 0, f"A's losses attributed ({cov_a['gap_losses']}), B's not ({un})")
    check(_coverage(doc, ID_B) is None or not _coverage(doc, ID_B)["gaps"], "nothing attributed to B: no room")
    def metric():  # /metrics is rendered once a main-loop tick
        text = urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        m = re.search(r"^reach_unattributed_losses_total (\d+)", text, re.M)
        return m and int(m.group(1)) == doc["node_coverage"]["losses_total"]
    wait_for(metric, "reach_unattributed_losses_total counting them", 10)
    check("every identity's verdict is inconclusive" in _run("coverage", "--socket", agent.socket).stdout,
          "the coverage table says what node-wide gaps mean")

    def saved():
        p = _run("coverage", "--ledger", ledger_file, "-o", "json")
        return p.returncode == 0 and json.loads(p.stdout)["node_coverage"]["gap_losses"] == un
    wait_for(saved, "the node's record in the saved ledger", 20)
    for where, argv in (("socket", ["--socket", agent.socket]), ("--ledger", ["--ledger", ledger_file, "--policy", policy])):
        for ident in (ID_A, ID_B):
            rc, v, findings = _verdict(_run("verify", *argv, "--identity", ident, "-o", "json"), ident)
            check_eq((rc, v["verdict"]), (2, "inconclusive"), f"{where}: {ident} cannot be judged complete: {v}")
            check(f"node-wide coverage gaps, attributable to no identity, so every identity is inconclusive: {un} "
                  "events lost" in v["reasons"], f"{where}: {ident}'s reason says why: {v['reasons']}")
            check(any(f["kind"] == "sensor-blind" and "could not be attributed to any identity" in f["message"]
                      for f in findings), f"{where}: {ident}'s sensor-blind finding says so")
    print(f"    unattributed figures: A attributed {cov_a['gap_losses']}, unattributed (B's) {un}")
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
