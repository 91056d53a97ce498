"""The cluster gate: `reachctl verify --agents`, as the post-upgrade Job runs
it, without the agents' unix sockets. Two agents stand for two nodes: each
watches its own cgroup, maps it to the same identity and serves its ledger
on GET /v1/ledger behind a bearer token. Each node's workload reads another
secret, so only the merge of both ledgers shows the identity's whole reach.
An agent that refuses the token or is down makes the gate exit 2 naming it;
--wait rides out an agent that comes back."""
import base64
import json
import os
import subprocess
import time
import urllib.request

from harness import REACHCTL, Agent, Cgroup, check, check_eq, wait_for

PORTS = (18711, 18712)
IDENTITY = "host/gateway"
TOKEN, WRONG = "reach-e2e-gate-token-3b7f01", "reach-e2e-gate-wrong-94c2aa"


def _write(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def _policy(path, secrets):
    _write(path, f"""apiVersion: reach.dev/v1
kind: ReachPolicy
metadata:
  name: gateway
spec:
  identity: {IDENTITY}
  secrets: [{", ".join(secrets)}]
  tools: ["/**/python3*"]
""", 0o644)


def _agent(cleanup, tmp, node, port, token_file, name="reachd"):
    """An agent of its own: state, socket and logs in tmp/node, its own
    cgroup mapped to IDENTITY, its ledger served on 127.0.0.1:port."""
    d = os.path.join(tmp, node)
    os.makedirs(d, exist_ok=True)
    root = Cgroup(cleanup, f"reach-e2e-gate-{node}-{os.getpid()}")
    app = Cgroup(cleanup, "gateway", parent=root)
    args = ["--cgroup", root.path, "--identity-rule", f"cgroup:{app.rel} {IDENTITY}", "--node-name", f"gate-{node}",
            "--metrics-addr", f"127.0.0.1:{port}", "--api-token-file", token_file, "--persist-interval", "1"]
    return Agent(cleanup, d, args, name=name), app, args


def _served(tmp, port):
    """The secret objects of IDENTITY in the ledger the agent serves now."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/ledger", headers={"Authorization": f"Bearer {TOKEN}"})
    try:  # no proxy from the environment: the agent is on loopback
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=5) as r:
            image = r.read()
    except OSError:
        return set()
    path = os.path.join(tmp, f"served-{port}.pb.z")
    with open(path, "wb") as f:
        f.write(image)
    p = subprocess.run([REACHCTL, "reach", "--ledger", path, "--identity", IDENTITY, "-o", "json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    if p.returncode != 0:
        return set()
    return {e["object"] for i in json.loads(p.stdout)["identities"] for e in i["edges"] if e["kind"] == "secret"}


def _gate_argv(token_file, policy, *extra):
    argv = [REACHCTL, "verify", "--identity", IDENTITY]
    for port in PORTS:
        argv += ["--agents", f"127.0.0.1:{port}"]
    return argv + ["--api-token-file", token_file, "--policy", policy, *extra]


def _gate(token_file, policy, *extra):
    return subprocess.run(_gate_argv(token_file, policy, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=60)


def test_gate_merges_every_agent(cleanup, tmp):
    token_file, wrong_file = os.path.join(tmp, "api-token"), os.path.join(tmp, "wrong-token")
    _write(token_file, TOKEN + "\n")
    _write(wrong_file, WRONG + "\n")
    secrets = os.path.join(tmp, "secrets")
    os.makedirs(secrets)
    key_a, key_b = os.path.join(secrets, "node-a.key"), os.path.join(secrets, "node-b.key")
    for k in (key_a, key_b):
        _write(k, "x\n", 0o644)
    both, only_a = os.path.join(tmp, "both.yaml"), os.path.join(tmp, "only-a.yaml")
    _policy(both, [key_a, key_b])
    _policy(only_a, [key_a])

    agent_a, app_a, _ = _agent(cleanup, tmp, "a", PORTS[0], token_file)
    agent_b, app_b, args_b = _agent(cleanup, tmp, "b", PORTS[1], token_file)
    app_a.python("import sys; open(sys.argv[1]).read()", key_a)
    app_b.python("import sys; open(sys.argv[1]).read()", key_b)
    # each node saw only its own secret, and serves it (published at each save)
    wait_for(lambda: key_a in _served(tmp, PORTS[0]), "node a serves its read", 15, 0.2)
    wait_for(lambda: key_b in _served(tmp, PORTS[1]), "node b serves its read", 15, 0.2)
    check(key_b not in _served(tmp, PORTS[0]) and key_a not in _served(tmp, PORTS[1]), "one secret per node")

    # the merged reach is within the policy that declares both
    p = _gate(token_file, both)
    check_eq(p.returncode, 0, f"both secrets declared: {p.stdout}{p.stderr}")
    check(p.stdout.startswith("verify: PASS"), f"verdict first: {p.stdout}")
    check(f"2 agents answered: 127.0.0.1:{PORTS[0]} (gate-a), 127.0.0.1:{PORTS[1]} (gate-b)" in p.stderr,
          f"which agents answered: {p.stderr}")

    # the gate's verdict as a signed attestation (issue 19): no record chain
    # and no single ledger digest (each node keeps its own), the merged verdict
    signing, pub = os.path.join(tmp, "gate.key"), os.path.join(tmp, "gate.pub")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", signing], check=True, timeout=30)
    subprocess.run(["openssl", "pkey", "-in", signing, "-pubout", "-out", pub], check=True, timeout=30)
    att = os.path.join(tmp, "gate.att.json")
    p = _gate(token_file, both, "--attest", att, "--key", signing)
    check_eq(p.returncode, 0, f"the gate with --attest: {p.stdout}{p.stderr}")
    with open(att) as f:
        pred = json.loads(base64.b64decode(json.load(f)["payload"]))["predicate"]
    check_eq((pred["identity"], pred["verdict"], pred["ledger_source"], pred["records"], "ledger_digest" in pred),
             (IDENTITY, "pass", "agents", [], False), "the gate's attestation")
    # each agent's part: the digest of the ledger it served and its chain of
    # the identity from GET /v1/records (none sealed yet: no policy there)
    check_eq([(g["agent"], g["node"], len(g["ledger_digest"]["sha256"]), g["records"], g["chain_head"],
               "records_missing" in g) for g in pred["agents"]],
             [(f"127.0.0.1:{port}", f"gate-{n}", 64, [], None, False) for port, n in zip(PORTS, "ab")],
             "every agent's ledger digest and (empty) chain")
    ok = subprocess.run([REACHCTL, "attest", "verify", att, "--key", pub, "--policy", both], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True, timeout=30)
    check(ok.returncode == 0 and "records: none (made from ledgers, not an agent" in ok.stdout
          and "(matches the policies given)" in ok.stdout, f"attest verify: {ok.stdout}{ok.stderr}")
    ko = subprocess.run([REACHCTL, "attest", "verify", att, "--key", pub, "--policy", only_a], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True, timeout=30)
    check(ko.returncode == 1 and "problem: policy" in ko.stdout, f"another policy: {ko.stdout}{ko.stderr}")

    # declaring only node a's secret fails on node b's: the ledgers were merged
    p = _gate(token_file, only_a, "-o", "json")
    check_eq(p.returncode, 1, f"only node a's secret declared: {p.stdout}{p.stderr}")
    doc = json.loads(p.stdout)
    failing = [(f["kind"], f["object"]) for f in doc["findings"] if f["severity"] in ("medium", "high", "critical")]
    check_eq(failing, [("undeclared-secret", key_b)], "the finding is node b's secret")

    # a token the agents refuse: could not verify, each agent named with its 401
    p = _gate(wrong_file, both)
    check_eq(p.returncode, 2, f"wrong token: {p.stdout}{p.stderr}")
    for port in PORTS:
        check(f"agent 127.0.0.1:{port}: HTTP 401" in p.stderr, f"agent {port} and 401 named: {p.stderr}")
    check("0 agents answered" in p.stderr, f"none answered: {p.stderr}")
    check_eq(p.stdout, "", "no verdict without the ledgers")
    for blob in (p.stdout, p.stderr):
        check(TOKEN not in blob and WRONG not in blob, "no token printed")

    # one node's agent down: never judged without it
    agent_b.stop()
    p = _gate(token_file, both)
    check_eq(p.returncode, 2, f"agent b down: {p.stdout}{p.stderr}")
    check(f"agent 127.0.0.1:{PORTS[1]}:" in p.stderr and "onnect" in p.stderr, f"agent b named: {p.stderr}")
    check(f"1 agents answered: 127.0.0.1:{PORTS[0]} (gate-a)" in p.stderr, f"agent a answered: {p.stderr}")
    check_eq(p.stdout, "", "no verdict without node b")

    # --wait: tried again every 5 s; agent b comes back (same state, same
    # address) once the first attempt has failed, and the gate passes once
    # both answer
    t0 = time.monotonic()
    gate_err = os.path.join(tmp, "gate.stderr")
    with open(gate_err, "w") as ef:
        gate = subprocess.Popen(_gate_argv(token_file, both, "--wait", "12"), stdout=subprocess.PIPE, stderr=ef,
                                text=True)
    cleanup.add(lambda: gate.poll() is None and gate.kill())
    wait_for(lambda: "attempt 1: " in open(gate_err).read() or gate.poll() is not None, "the first attempt's failure",
             10)
    check(gate.poll() is None, "the gate waits while an agent is down")
    Agent(cleanup, os.path.join(tmp, "b"), args_b, name="reachd2")
    out, _ = gate.communicate(timeout=30)
    with open(gate_err) as f:
        err = f.read()
    elapsed = time.monotonic() - t0
    check_eq(gate.returncode, 0, f"--wait: passes once both answer: {out}{err}")
    check(f"attempt 1: agent 127.0.0.1:{PORTS[1]}:" in err, f"the first attempt's failure is said: {err}")
    check(f"2 agents answered: 127.0.0.1:{PORTS[0]} (gate-a), 127.0.0.1:{PORTS[1]} (gate-b)" in err,
          f"both answered at the end: {err}")
    check(out.startswith("verify: PASS") and out.count("verify: ") == 1, f"only the last result printed: {out}")
    check(elapsed < 13, f"returned at the first pass, within --wait: {elapsed:.1f} s")
    agent_a.stop()
