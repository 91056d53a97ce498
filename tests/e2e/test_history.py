"""Epoch history (issue 19). Three declared versions of one host service;
its process is started twice inside each version. One secret is read in
every version, another only in v2. The ledger keeps, per edge, every epoch
it was seen in; verify compares any epoch with the one before it exactly:
v2 grew by the v2-only read, v3 shrank by it, nothing else grew or shrank,
and an older epoch's previous is the one before it. Typos (an unknown
identity or epoch, a bare number for --epoch) are errors naming the closest
known names, exit 2. host/NAME.service names the unit host/NAME."""
import json
import os
import subprocess

from harness import REACHCTL, Agent, Cgroup, check, check_eq, wait_for

READ = "import sys\nfor p in sys.argv[1:]: open(p).read()\n"


def _reachctl(agent, *args):
    head = 2 if args[0] == "epoch" else 1  # "epoch start" is two words
    return subprocess.run([REACHCTL, *args[:head], "--socket", agent.socket, *args[head:]], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=30)


def _edge_epochs(agent, identity, obj):
    doc = agent.reachctl("reach", "--identity", identity, "-o", "json")
    for i in doc["identities"]:
        for e in i["edges"]:
            if e["object"] == obj:
                return [x["name"] for x in e["epochs"]]
    return []


def _verify(agent, identity, epoch):
    p = _reachctl(agent, "verify", "--identity", identity, "--epoch", epoch, "-o", "json")
    check(p.returncode in (0, 1), f"verify --epoch {epoch} judged: exit {p.returncode}: {p.stderr}")
    doc = json.loads(p.stdout)
    v = [x for x in doc["identities"] if x["identity"] == identity][0]
    grew = sorted(f["object"] for f in doc["findings"] if f["identity"] == identity and f["kind"] == "reach-grew")
    shrank = sorted(f["object"] for f in doc["findings"] if f["identity"] == identity and f["kind"] == "reach-shrank")
    return v, grew, shrank, p.stdout


def test_epoch_history_across_three_versions(cleanup, tmp):
    secrets = os.path.join(tmp, "secrets")
    os.makedirs(secrets)
    always, v2_only = os.path.join(secrets, "always.key"), os.path.join(secrets, "v2only.key")
    for p in (always, v2_only):
        with open(p, "w") as f:
            f.write("x\n")
    root = Cgroup(cleanup, f"reach-e2e-history-{os.getpid()}")
    app = Cgroup(cleanup, "svc", parent=root)
    identity = "host/histsvc"
    policy = os.path.join(tmp, "policy.yaml")
    with open(policy, "w") as f:  # written as the docs write units: host/NAME.service
        f.write(f"apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {{name: svc}}\nspec:\n"
                f"  identity: {identity}.service\n  secrets: [{always}, {v2_only}]\n  tools: [\"/**/python3*\"]\n")
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--identity-rule", f"cgroup:{app.rel} {identity}",
                                 "--policy", policy])
    for version in ("v1", "v2", "v3"):
        # a pipeline declares the version; the process starts twice in it
        agent.epoch_start(identity + ".service", version)
        files = [always, v2_only] if version == "v2" else [always]
        for _ in range(2):
            app.python(READ, *files)
        wait_for(lambda: version in _edge_epochs(agent, identity, always), f"{always} seen in {version}", 10)
        if version == "v2":
            wait_for(lambda: "v2" in _edge_epochs(agent, identity, v2_only), "v2-only read seen", 10)
        agent.reachctl("epochs", "--identity", identity)  # the agent verifies now: this version's record opens

    # the declared versions won over the automatic (executable) epoch, and
    # each edge lists exactly the versions it was seen in
    check_eq(_edge_epochs(agent, identity, always), ["v1", "v2", "v3"], "the secret read in every version")
    check_eq(_edge_epochs(agent, identity, v2_only), ["v2"], "the secret read in v2 only")
    tools = [e for i in agent.reachctl("reach", "--identity", identity, "-o", "json")["identities"]
             for e in i["edges"] if e["kind"] == "tool"]
    check(tools and all([x["name"] for x in e["epochs"]] == ["v1", "v2", "v3"] for e in tools),
          f"the service's executable in every version: {tools}")

    # every pair of neighbours, exactly; by name and by -N
    for spec, want in (("v3", ("v3", "v2", [], [v2_only])), ("current", ("v3", "v2", [], [v2_only])),
                       ("v2", ("v2", "v1", [v2_only], [])), ("-1", ("v2", "v1", [v2_only], [])),
                       ("v1", ("v1", None, [], [])), ("-2", ("v1", None, [], []))):
        v, grew, shrank, out = _verify(agent, identity, spec)
        check_eq((v["epoch"], v["previous_epoch"], grew, shrank), want, f"--epoch {spec}: {out[:600]}")
        check_eq(v["verdict"], "pass", f"--epoch {spec}: within policy")
    text = _reachctl(agent, "verify", "--identity", identity, "--epoch", "-1").stdout
    check("epoch v2 (previous v1)" in text, f"the text says which epoch it compared with: {text}")

    # typos: errors naming the closest, exit 2, nothing opened
    p = _reachctl(agent, "verify", "--identity", identity, "--epoch", "1")
    check_eq(p.returncode, 2, f"--epoch 1: {p.stdout}{p.stderr}")
    check("-N" in p.stderr, f"--epoch 1 says a number is no name: {p.stderr}")
    p = _reachctl(agent, "verify", "--identity", identity, "--epoch", "v22")
    check_eq(p.returncode, 2, f"--epoch v22: {p.stdout}{p.stderr}")
    check("did you mean v2" in p.stderr, f"closest epoch named: {p.stderr}")
    p = _reachctl(agent, "verify", "--identity", identity, "--epoch", "-3")
    check_eq(p.returncode, 2, f"--epoch -3: {p.stdout}{p.stderr}")
    for argv in (["epoch", "start", "--identity", "host/histsvcc", "--version", "v4"],
                 ["rotate", "--identity", "host/histsvcc"], ["reach", "--identity", "host/histsvcc"],
                 ["verify", "--identity", "host/histsvcc"]):
        p = _reachctl(agent, *argv)
        check_eq(p.returncode, 2, f"{' '.join(argv)}: {p.stdout}{p.stderr}")
        check("unknown identity 'host/histsvcc'" in p.stderr and "did you mean host/histsvc" in p.stderr,
              f"{argv[0]} names the closest identity: {p.stderr}")
        check_eq(p.stdout, "", f"{argv[0]} printed no table or verdict")
    # v1 and v2 were overtaken before they settled: closed as superseded,
    # not left settling; nothing resolved, so no time to remediate (n/a)
    doc = agent.reachctl("epochs", "--identity", identity, "-o", "json")
    states = [(r["to_version"], r["state"]) for r in doc["records"]]
    check_eq(states, [("v1", "superseded"), ("v2", "superseded"), ("v3", "settling")], "epoch records")
    check_eq([r["mean_time_to_remediate_ms"] for r in doc["remediation"]], [None], "no MTTR without a resolution")
    text = _reachctl(agent, "epochs", "--identity", identity).stdout
    check("mean time to remediate n/a" in text, f"MTTR n/a, never 0 s: {text}")

    # the typo opened no epoch: v3 is still current
    v, grew, shrank, _ = _verify(agent, identity, "current")
    check_eq(v["epoch"], "v3", "no phantom epoch from the typo")
    agent.stop()


def test_interpreter_epoch_is_the_program(cleanup, tmp):
    """python3 app.py without a declared version: the epoch is app.py (by
    content), not python3; a new app.py opens a new epoch; a declared version
    then wins over it, across a restart of the process."""
    secret = os.path.join(tmp, "svc.key")
    with open(secret, "w") as f:
        f.write("x\n")
    app_py = os.path.join(tmp, "app.py")

    def write_app(version):
        with open(app_py, "w") as f:  # the read is slow enough for the agent to see the process
            f.write(f"# {version}\nimport sys, time\nopen(sys.argv[1]).read()\ntime.sleep(0.3)\n")
    root = Cgroup(cleanup, f"reach-e2e-progepoch-{os.getpid()}")
    app = Cgroup(cleanup, "svc", parent=root)
    identity = "host/progsvc"
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--identity-rule", f"cgroup:{app.rel} {identity}"])

    def epochs():
        return _edge_epochs(agent, identity, secret)
    write_app("1.0")
    app.run(["python3", app_py, secret])
    wait_for(lambda: epochs(), "the read", 10)
    first = epochs()
    check(len(first) == 1 and first[0].startswith("app.py@"), f"the program is the epoch, not python3: {first}")
    write_app("1.1")  # the application upgraded, the interpreter not
    app.run(["python3", app_py, secret])
    wait_for(lambda: len(epochs()) == 2, "a new epoch for the new app.py", 10)
    second = epochs()
    check(second[0] == first[0] and second[1].startswith("app.py@") and second[1] != first[0],
          f"new program content, new epoch: {second}")
    check("was replaced: a new epoch" in agent.stderr(), "logged")
    agent.epoch_start(identity, "v9")  # declared: wins over the program's epoch, across restarts
    for _ in range(2):
        app.run(["python3", app_py, secret])
    wait_for(lambda: epochs()[-1:] == ["v9"], "edges land in the declared version", 10)
    check_eq(len(epochs()), 3, f"v9 added, nothing else: {epochs()}")
    agent.stop()


def test_settled_record_survives_a_policy_edit(cleanup, tmp):
    """A verified record is append-only: after the policy is edited and
    SIGHUP reloads it, the record keeps its verdict and findings, and a new
    record of the same epoch, following it, is verified under the new policy."""
    import signal
    declared, extra = os.path.join(tmp, "declared.key"), os.path.join(tmp, "extra.key")
    for p in (declared, extra):
        with open(p, "w") as f:
            f.write("x\n")
    root = Cgroup(cleanup, f"reach-e2e-append-{os.getpid()}")
    app = Cgroup(cleanup, "svc", parent=root)
    identity = "host/appendsvc"
    policy = os.path.join(tmp, "policy.yaml")

    def write_policy(secrets):
        with open(policy, "w") as f:
            f.write(f"apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {{name: svc}}\nspec:\n"
                    f"  identity: {identity}\n  secrets: [{', '.join(secrets)}]\n  tools: [\"/**/python3*\"]\n")
    write_policy([declared])
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--identity-rule", f"cgroup:{app.rel} {identity}",
                                 "--policy", policy, "--settle-window", "1"])
    agent.epoch_start(identity, "v1")
    app.python(READ, declared, extra)
    wait_for(lambda: _edge_epochs(agent, identity, extra) == ["v1"], "the undeclared read", 10)

    def records():
        return agent.reachctl("epochs", "--identity", identity, "-o", "json")["records"]
    first = wait_for(lambda: next((r for r in records() if r["state"] == "verified"), None), "v1 verified", 20)
    check_eq((first["verdict"], first["findings"]), ("fail", 1), "v1 fails: the undeclared read")
    write_policy([declared, extra])
    agent.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "policies reloaded" in agent.stderr(), "reloaded", 10)
    second = wait_for(lambda: next((r for r in records() if r["follows"] == first["id"] and r["state"] == "verified"),
                                   None), "v1 re-verified under the new policy", 20)
    check_eq((second["to_version"], second["verdict"], second["findings"]), ("v1", "pass", 0),
             "the new record passes")
    check(second["policy_digest"] != first["policy_digest"] and len(second["policy_digest"]) == 64,
          "each record names the policy it was judged by")
    now = [r for r in records() if r["id"] == first["id"]]
    check_eq(now, [first], "the settled record is unchanged, field by field")
    agent.stop()


def test_restart_does_not_realert(cleanup, tmp):
    """A finding alerted before a restart is not alerted again by the next
    run (which still follows it as open)."""
    extra = os.path.join(tmp, "extra.key")
    with open(extra, "w") as f:
        f.write("x\n")
    root = Cgroup(cleanup, f"reach-e2e-realert-{os.getpid()}")
    app = Cgroup(cleanup, "svc", parent=root)
    identity = "host/realertsvc"
    policy = os.path.join(tmp, "policy.yaml")
    with open(policy, "w") as f:
        f.write(f"apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {{name: svc}}\nspec:\n"
                f"  identity: {identity}\n  tools: [\"/**/python3*\"]\n")
    args = ["--cgroup", root.path, "--identity-rule", f"cgroup:{app.rel} {identity}", "--policy", policy]
    agent = Agent(cleanup, tmp, args)
    app.python(READ, extra)
    alert = f"finding: medium {identity} undeclared-secret secret {extra}"
    wait_for(lambda: agent.reachctl("epochs", "--identity", identity) and alert in agent.stderr(), "alerted", 20)
    agent.stop()
    again = Agent(cleanup, tmp, args, name="reachd2")  # the same state dir: the saved ledger and alerts

    def open_findings():
        rem = again.reachctl("epochs", "--identity", identity, "-o", "json")["remediation"]
        return rem and rem[0]["findings_open"] == 1
    wait_for(open_findings, "the finding followed again after the restart", 20)
    check(alert not in again.stderr(), f"not alerted again: {again.stderr()[-600:]}")
    check("1 findings alerted by an earlier run: not alerted again" in again.stderr(), "said once at start")
    again.stop()
