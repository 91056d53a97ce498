"""Declared policy and post-upgrade verification (issue: policy and verify).
A workload at v1 matches its policy: verify passes. At v2 it also reads an
extra secret and calls an undeclared host with a key: verify fails with
exactly those findings and exit 1, the rotation list names what v1 could
reach, and a suggested policy verifies. Bad policies: file:line, exit 2."""
import json
import re
import os
import shutil
import signal
import subprocess

from harness import (PYTHON, REACHCTL, ROOT, Agent, Cgroup, check, check_eq, make_test_ca, start_process, wait_for,
                     wait_port)

PLAIN, OTHER = 18501, 18503
TOKEN, KEY = "reach-e2e-verify-token-5d1e", "reach-e2e-verify-apikey-8c2a"


def _policy(path, identity, secrets):
    with open(path, "w") as f:
        f.write(f"""apiVersion: reach.dev/v1
kind: ReachPolicy
metadata:
  name: gateway
spec:
  identity: {identity}
  secrets: [{", ".join(secrets)}]
  egress:
    - {{cidr: 127.0.0.1/32, ports: [{PLAIN}], proto: tcp}}
  credentials:
    - {{host: 127.0.0.1, kinds: [bearer], paths: ["/v1/*"]}}
  tools: ["/**/python3*"]
""")


def _verify(agent, *args):
    return subprocess.run([REACHCTL, "verify", "--socket", agent.socket, *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=30)


def test_upgrade_verification_rotation_and_suggest(cleanup, tmp):
    ca, cert, key = make_test_ca(cleanup, tmp)
    log = os.path.join(tmp, "srv.log")
    server = os.path.join(ROOT, "tests", "e2e", "https_server.py")
    start_process(cleanup, [PYTHON, server, "--bind", "127.0.0.1", "--tls-port", "18502", "--plain-port", str(PLAIN),
                            "--cert", cert, "--key", key, "--log", log])
    start_process(cleanup, [PYTHON, server, "--bind", "127.0.0.2", "--tls-port", "18504", "--plain-port", str(OTHER),
                            "--cert", cert, "--key", key, "--log", log])
    wait_port("127.0.0.1", PLAIN)
    wait_port("127.0.0.2", OTHER)
    secrets = os.path.join(tmp, "secrets")
    os.makedirs(secrets)
    token_file, extra = os.path.join(secrets, "token.key"), os.path.join(secrets, "extra.key")
    with open(token_file, "w") as f:
        f.write("s3cr3t\n")
    with open(extra, "w") as f:  # a key file: its content is the credential v2 sends
        f.write(KEY + "\n")
    root = Cgroup(cleanup, f"reach-e2e-verify-{os.getpid()}")
    app = Cgroup(cleanup, "gateway", parent=root)
    identity = "host/gateway"
    policy = os.path.join(tmp, "policy.yaml")
    _policy(policy, identity, [token_file])
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--identity-rule", f"cgroup:{app.rel} {identity}",
                                 "--policy", policy])
    env = dict(os.environ, TOKEN=TOKEN, KEY=KEY)
    agent.epoch_start(identity, "v1")
    v1 = r"""
import http.client, os, sys
open(sys.argv[1]).read()
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[2]))
c.request("GET", "/v1/models", headers={"Authorization": "Bearer " + os.environ["TOKEN"]}); c.getresponse().read()
"""
    app.python(v1, token_file, str(PLAIN), env=env)
    wait_for(lambda: any(e["kind"] == "credential" for i in agent.reachctl("reach", "-o", "json")["identities"]
                         for e in i["edges"]), "v1 credential edge", 10)
    p = _verify(agent, "--identity", identity)
    check_eq(p.returncode, 0, f"v1 verify exit code: {p.stdout}{p.stderr}")
    check("pass" in p.stdout.splitlines()[0].lower(), f"verdict first: {p.stdout}")

    # the upgrade: v2 reads one more secret and calls an undeclared host with a key
    agent.epoch_start(identity, "v2")
    v2 = v1 + r"""
key = open(sys.argv[3]).read().strip()
c = http.client.HTTPConnection("127.0.0.2", int(sys.argv[4]))
c.request("POST", "/api/export", body=b"{}", headers={"X-Api-Key": key}); c.getresponse().read()
"""
    app.python(v2, token_file, str(PLAIN), extra, str(OTHER), env=env)
    wait_for(lambda: any(e["object"] == extra for i in agent.reachctl("reach", "-o", "json")["identities"]
                         for e in i["edges"]), "v2 extra secret", 10)
    wait_for(lambda: _verify(agent, "--identity", identity).returncode == 1, "v2 verify fails", 10)
    p = _verify(agent, "--identity", identity, "-o", "json")
    doc = json.loads(p.stdout)
    check_eq(p.returncode, 1, "v2 verify exit code")
    failing = sorted((f["kind"], f["object"]) for f in doc["findings"]
                     if f["severity"] in ("medium", "high", "critical") and f["kind"] != "reach-grew")
    check_eq([k for k, _ in failing], ["secret-sent", "undeclared-credential-use", "undeclared-egress", "undeclared-secret"],
             f"exactly the v2 findings: {failing}")
    objs = dict(failing)
    check_eq(objs["secret-sent"], objs["undeclared-credential-use"], "the key read from extra.key is what was sent")
    sent = [f for f in doc["findings"] if f["kind"] == "secret-sent"][0]
    check(extra in sent["message"] and sent["severity"] == "high", f"secret-sent names the file: {sent}")
    check_eq(objs["undeclared-secret"], extra, "the extra secret")
    check_eq(objs["undeclared-egress"], f"tcp/127.0.0.2/{OTHER}", "the undeclared host")
    check(objs["undeclared-credential-use"].startswith(f"127.0.0.2:{OTHER} POST /api/export api-key fp:"),
          f"the undeclared credential use: {objs['undeclared-credential-use']}")
    verdict = [v for v in doc["identities"] if v["identity"] == identity][0]
    check_eq((verdict["verdict"], verdict["epoch"], verdict["previous_epoch"]), ("fail", "v2", "v1"), "verdict and epochs")

    # the v1 epoch itself, verified after the upgrade: it passed
    p = _verify(agent, "--identity", identity, "--epoch", "v1")
    check_eq(p.returncode, 0, f"verify --epoch v1: {p.stdout}")
    ep = subprocess.run([REACHCTL, "epochs", "--socket", agent.socket, "--identity", identity],
                        stdout=subprocess.PIPE, text=True, check=True).stdout
    check(any(l.split()[:3] == [identity, "v1", "v2"] for l in ep.splitlines()), f"reachctl epochs: {ep}")
    rot = subprocess.run([REACHCTL, "rotate", "--socket", agent.socket, "--identity", identity],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    check(token_file in rot, f"rotation names the secret v1 read: {rot}")
    items = agent.reachctl("rotate", "--identity", identity, "-o", "json")
    creds = [i for i in items if i["kind"] == "credential"]
    check(creds and all(c["fields"]["kind"] == "bearer" and re.fullmatch(r"[0-9a-f]{16}", c["fields"]["fingerprint"])
                        for c in creds), f"rotation names the credential v1 sent: {items}")
    check(all(c["fields"]["fingerprint"] in rot and c["what"].endswith("fp:" + c["fields"]["fingerprint"])
              for c in creds), f"the rotate table shows the fingerprint: {rot}")
    check("FINGERPRINT" in rot and "bearer" in rot, f"the credential table's columns: {rot}")

    suggested = os.path.join(tmp, "suggested.yaml")
    with open(suggested, "w") as f:
        f.write(subprocess.run([REACHCTL, "policy", "suggest", "--socket", agent.socket, "--identity", identity],
                               stdout=subprocess.PIPE, text=True, check=True).stdout)
    p = _verify(agent, "--identity", identity, "--policy", suggested)
    check_eq(p.returncode, 0, f"the suggested policy verifies: {p.stdout}{p.stderr}")

    typo = os.path.join(tmp, "typo.yaml")
    with open(typo, "w") as f:
        f.write("apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata:\n  name: x\nspec:\n  identity: host/x\n"
                "  secrets: [/a]\n  egres: []\n")
    p = _verify(agent, "--policy", typo)
    check_eq(p.returncode, 2, "a policy with a typo: could not verify")
    check(f"{typo}:8:" in p.stderr and "egres" in p.stderr, f"file:line names the typo: {p.stderr}")

    # the default for identities without a policy: audit does not count them,
    # alert judges them against an empty policy (offline, from the saved ledger)
    other = Cgroup(cleanup, "undeclared", parent=root)
    other.python("import sys; open(sys.argv[1]).read()", extra)
    wait_for(lambda: any(i["identity"] == f"unknown{other.rel}" for i in agent.reachctl("reach", "-o", "json")["identities"]),
             "an identity without a policy", 10)

    # a bad reload keeps the last good policy
    policy_good = os.path.join(tmp, "policy-good.yaml")
    shutil.copy(policy, policy_good)
    with open(policy, "w") as f:
        f.write("apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: gateway}\nspec: {identity: 7\n")
    agent.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "keeping the last good policies" in agent.stderr(), "reload refused", 10)
    check(f"{policy}:" in agent.stderr(), "the reload error names the file")
    check_eq(_verify(agent, "--identity", identity).returncode, 1, "still verified against the last good policy")
    # a change to the file reloads it without SIGHUP: the suggested policy, which passes
    shutil.copy(suggested, policy)
    wait_for(lambda: _verify(agent, "--identity", identity).returncode == 0, "reloaded on file change", 10)
    check("policies reloaded" in agent.stderr(), "the reload is logged")
    agent.stop()
    ledger_file = os.path.join(agent.state_dir, "ledger.pb.z")
    audit = subprocess.run([REACHCTL, "verify", "--ledger", ledger_file, "--policy", policy_good, "-o", "json"],
                           stdout=subprocess.PIPE, text=True)
    alert = subprocess.run([REACHCTL, "verify", "--ledger", ledger_file, "--policy", policy_good, "-o", "json",
                            "--default-policy", "alert"], stdout=subprocess.PIPE, text=True)
    unknown = f"unknown{other.rel}"
    a_doc, b_doc = json.loads(audit.stdout), json.loads(alert.stdout)
    check(not any(f["identity"] == unknown for f in a_doc["findings"] if f["kind"] == "undeclared-secret"),
          "audit: no undeclared findings for an identity without a policy")
    check(any(f["identity"] == unknown and f["kind"] == "undeclared-secret" for f in b_doc["findings"]),
          "alert: its reach is undeclared")
    check_eq(alert.returncode, 1, "alert default: the identity without a policy fails")
    for blob in (agent.stderr(), open(agent.out_path).read()):
        check(TOKEN not in blob and KEY not in blob, "no raw credential in the agent's output")


def test_bad_policy_at_start(cleanup, tmp):
    cg = Cgroup(cleanup, f"reach-e2e-badpol-{os.getpid()}")
    bad = os.path.join(tmp, "bad.yaml")
    with open(bad, "w") as f:
        f.write("apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: x}\nspec:\n  identity: host/x\n"
                "  egress: [{host: a.example, ports: [70000]}]\n")
    p = subprocess.run([os.path.join(ROOT, "build", "reachd"), "--cgroup", cg.path, "--policy", bad,
                        "--state-dir", os.path.join(tmp, "st"), "--socket", os.path.join(tmp, "s.sock")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    check_eq(p.returncode, 2, "exit code")
    check(f"{bad}:6:" in p.stderr and "70000" in p.stderr, f"file:line and value: {p.stderr}")


def test_epoch_settles_verifies_and_drifts(cleanup, tmp):
    secrets = os.path.join(tmp, "secrets")
    os.makedirs(secrets)
    declared, extra = os.path.join(secrets, "declared.key"), os.path.join(secrets, "extra.key")
    for p in (declared, extra):
        with open(p, "w") as f:
            f.write("x\n")
    root = Cgroup(cleanup, f"reach-e2e-drift-{os.getpid()}")
    app = Cgroup(cleanup, "svc", parent=root)
    identity = "host/svc"
    policy = os.path.join(tmp, "policy.yaml")
    _policy(policy, identity, [declared])
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--identity-rule", f"cgroup:{app.rel} {identity}",
                                 "--policy", policy, "--settle-window", "1"])
    agent.epoch_start(identity, "v7")
    app.python("import sys; open(sys.argv[1]).read()", declared)

    def record():
        recs = agent.reachctl("epochs", "--identity", identity, "-o", "json")["records"]
        return next((r for r in recs if r["to_version"] == "v7"), None)
    r = wait_for(lambda: (lambda r: r if r and r["state"] == "verified" else None)(record()), "v7 verified", 20)
    check_eq((r["verdict"], r["findings"]), ("pass", 0), "v7 passes after the settle window")
    check(r["verified_unix_ms"] - r["started_unix_ms"] >= 1000, "verified only after the settle window")
    app.python("import sys; open(sys.argv[1]).read()", extra)  # a new, undeclared read in the same epoch
    r = wait_for(lambda: (lambda r: r if r and r["state"] == "drifted" else None)(record()), "v7 drifted", 20)
    check_eq((r["verdict"], r["findings"]), ("fail", 1), "drifted: reopened as a failure")
    check("epoch drifted: host/svc v7" in agent.stderr(), "the drift is logged")
    check(f"finding: medium host/svc undeclared-secret secret {extra}" in agent.stderr(), "the new finding is alerted")
    rem = agent.reachctl("epochs", "--identity", identity, "-o", "json")["remediation"]
    check_eq([(x["identity"], x["findings_open"]) for x in rem], [(identity, 1)], "the drift's finding is open")
    agent.stop()


def _copy_cat(path):
    shutil.copy("/usr/bin/cat", path)


def _cat_script(path):
    """A #! script: the kernel execs /bin/sh for it; the epoch must follow the script."""
    with open(path, "w") as f:
        f.write('#!/bin/sh\nexec /usr/bin/cat "$@"\n')
    os.chmod(path, 0o755)


def test_host_epoch_from_a_replaced_executable(cleanup, tmp):
    _host_epoch_from_a_replaced(cleanup, tmp, _copy_cat, [])


def test_host_epoch_from_a_replaced_script(cleanup, tmp):
    _host_epoch_from_a_replaced(cleanup, tmp, _cat_script, ["/usr/bin/cat"])


def _host_epoch_from_a_replaced(cleanup, tmp, make_svc, more_tools):
    secrets = os.path.join(tmp, "secrets")
    os.makedirs(secrets)
    token, extra = os.path.join(secrets, "token.key"), os.path.join(secrets, "extra.key")
    for p in (token, extra):
        with open(p, "w") as f:
            f.write("x\n")
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    svc = os.path.join(bindir, "svc")
    make_svc(svc)
    root = Cgroup(cleanup, f"reach-e2e-exeepoch-{os.getpid()}")
    app = Cgroup(cleanup, "svc", parent=root)
    identity = "host/svc"
    policy = os.path.join(tmp, "policy.yaml")
    with open(policy, "w") as f:
        f.write(f"apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {{name: svc}}\nspec:\n  identity: {identity}\n"
                f"  secrets: [{token}]\n  tools: [{', '.join([svc] + more_tools)}]\n")
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--identity-rule", f"cgroup:{app.rel} {identity}",
                                 "--policy", policy])
    app.run([svc, token], stdout=subprocess.DEVNULL)
    wait_for(lambda: any(e["object"] == token for i in agent.reachctl("reach", "-o", "json")["identities"]
                         for e in i["edges"]), "v1 read", 10)
    check_eq(_verify(agent, "--identity", identity).returncode, 0, "v1 passes")
    # the patch: the same path, another file (as a package upgrade renames one in)
    make_svc(svc + ".new")
    os.rename(svc + ".new", svc)
    app.run([svc, token, extra], stdout=subprocess.DEVNULL)
    wait_for(lambda: _verify(agent, "--identity", identity).returncode == 1, "v2 fails", 10)
    doc = json.loads(_verify(agent, "--identity", identity, "-o", "json").stdout)
    v = [x for x in doc["identities"] if x["identity"] == identity][0]
    check(v["epoch"].startswith("svc@") and v["previous_epoch"].startswith("svc@"), f"executable epochs: {v}")
    check(v["epoch"] != v["previous_epoch"], "the replaced binary opened a new epoch")
    kinds = sorted((f["kind"], f["object"]) for f in doc["findings"] if f["identity"] == identity)
    check(("undeclared-secret", extra) in kinds and ("reach-grew", extra) in kinds, f"v2's new reach: {kinds}")
    check(any(r["what"] == token for r in v["rotation"]), f"rotation names what v1 read: {v['rotation']}")
    check("was replaced: a new epoch" in agent.stderr(), "logged")
    agent.stop()
