"""reachctl's output on the real agent (issue 20): one table per edge kind
with a column per field, the same fields under "fields" in -o json/yaml
(reach, findings, rotate), RFC 3339 beside every _ms time, status as a
FIELD/VALUE table, findings as tables by default, reach -o dot rendered by
Graphviz, -o checked per command (a bad value exits 2), global flags
before the command (attest verify too). A python workload in a test cgroup
reads a secret, sends a bearer token over HTTP and runs a tool; every
assertion reads what the agent recorded, field by field, and no output
holds the token."""
import datetime
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess

import yaml

from harness import (PYTHON, REACHCTL, ROOT, Agent, Cgroup, Failure, check, check_eq, make_test_ca, parse_tables,
                     start_process, wait_for, wait_port)

PLAIN, TLS = 20820, 20821  # this test's port range: 20820-20839
TOKEN = "reach-e2e-cli2-bearer-5d1f7a9c3b"
IDENTITY = "host/cli-out"


def ctl(agent, *args, rc=0):
    p = subprocess.run([REACHCTL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30,
                       env=dict(os.environ, REACH_SOCKET=agent.socket))
    check_eq(p.returncode, rc, f"reachctl {' '.join(args)}: {p.stderr}")
    check(TOKEN not in p.stdout + p.stderr, f"reachctl {' '.join(args)} printed the token")
    return p


def _rfc3339_of(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{ms % 1000:03d}Z"


def _times_beside(doc, where):
    """every "X_ms" time (after 2000) has "X" (or "X_at") beside it, equal."""
    n = 0
    if isinstance(doc, list):
        return sum(_times_beside(x, where) for x in doc)
    if not isinstance(doc, dict):
        return 0
    for k, v in doc.items():
        n += _times_beside(v, where)
        if k.endswith("_ms") and isinstance(v, int) and not isinstance(v, bool) and v >= 946684800000:
            base = k[:-3][:-5] if k[:-3].endswith("_unix") else k[:-3]
            got = doc.get(base) if isinstance(doc.get(base), str) else doc.get(base + "_at")
            check_eq(got, _rfc3339_of(v), f"{where}: {k} has its RFC 3339 time beside it")
            n += 1
    return n


def _edges(doc):
    return [(i["identity"], e) for i in doc["identities"] for e in i["edges"]]


def test_tables_fields_times_dot_and_formats(cleanup, tmp):
    ca, cert, key = make_test_ca(cleanup, tmp)
    start_process(cleanup, [PYTHON, os.path.join(ROOT, "tests", "e2e", "https_server.py"), "--bind", "127.0.0.1",
                            "--tls-port", str(TLS), "--plain-port", str(PLAIN), "--cert", cert, "--key", key,
                            "--log", os.path.join(tmp, "srv.log")])
    wait_port("127.0.0.1", PLAIN)
    secrets = os.path.join(tmp, "secrets")
    os.makedirs(secrets)
    token_file = os.path.join(secrets, "api.key")
    with open(token_file, "w") as f:
        f.write("not-the-token\n")
    fp_key = os.urandom(32)
    key_file = os.path.join(tmp, "fingerprint.key")
    with open(key_file, "wb") as f:
        f.write(fp_key)
    os.chmod(key_file, 0o600)
    policy = os.path.join(tmp, "policy.yaml")
    with open(policy, "w") as f:  # the secret is declared; the egress, the credential and the tool are not
        f.write(f"apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {{name: cli-out}}\n"
                f"spec:\n  identity: {IDENTITY}\n  secrets: [{token_file}]\n")
    root = Cgroup(cleanup, f"reach-e2e-cli-out-{os.getpid()}")
    app = Cgroup(cleanup, "app", parent=root)
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--identity-rule", f"cgroup:{app.rel} {IDENTITY}",
                                 "--policy", policy, "--fingerprint-key", key_file])
    agent.epoch_start(IDENTITY, "v1")
    code = r"""
import http.client, os, subprocess, sys
open(sys.argv[1]).read()
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[2]))
c.request("GET", "/v1/models", headers={"Authorization": "Bearer " + os.environ["TOKEN"]}); c.getresponse().read()
subprocess.run(["/bin/true"], check=True)
"""
    app.python(code, token_file, str(PLAIN), env=dict(os.environ, TOKEN=TOKEN))
    kinds = {"secret", "egress", "credential", "tool"}
    wait_for(lambda: kinds <= {e["kind"] for _, e in _edges(agent.reachctl("reach", "-o", "json"))},
             "secret, egress, credential and tool edges", 10)
    doc = json.loads(ctl(agent, "reach", "--identity", IDENTITY, "-o", "json").stdout)
    edges = {}
    for ident, e in _edges(doc):
        check_eq(ident, IDENTITY, "only the workload's identity")
        edges.setdefault(e["kind"], []).append(e)

    # -o json: "fields" per kind, from the agent's own record
    secret = next(e for e in edges["secret"] if e["object"] == token_file)
    check_eq(secret["fields"], {"path": token_file, "category": secret["category"], "opened_as": None,
                                "content_fingerprint": secret["content_fingerprint"], "via": None}, "secret fields")
    egress = next(e for e in edges["egress"] if e["object"] == f"tcp/127.0.0.1/{PLAIN}")
    check_eq(egress["fields"], {"proto": "tcp", "addr": "127.0.0.1", "port": PLAIN, "name": egress["name"],
                                "class": egress["dest_class"], "name_source": egress.get("name_source"), "via": None},
             "egress fields")
    check_eq(egress["fields"]["class"], "loopback", "127.0.0.1 is loopback")
    fp = hmac.new(fp_key, TOKEN.encode(), hashlib.sha256).hexdigest()[:16]
    cred = next(e for e in edges["credential"] if e["fields"].get("path") == "/v1/models")
    check_eq(cred["fields"], {"host": f"127.0.0.1:{PLAIN}", "method": "GET", "path": "/v1/models", "kind": "bearer",
                              "fingerprint": fp, "special": None, "via": None},
             "credential fields: the HMAC of the token, not it")
    check_eq(cred["object"], f"127.0.0.1:{PLAIN} GET /v1/models bearer fp:{fp}", "the object the fields come from")
    tool = next(e for e in edges["tool"] if os.path.basename(e["object"]) == "true")
    check_eq(tool["fields"], {"exe": tool["object"], "program": None, "via": None}, "tool fields")
    check_eq(os.path.realpath(tool["fields"]["exe"]), os.path.realpath("/bin/true"), "the tool run")
    # RFC 3339 beside every time, the edge's and the ones of its epochs
    check(_times_beside(doc, "reach -o json") >= 2 * len(_edges(doc)), "every edge has its times")
    check_eq(cred["last_seen"], _rfc3339_of(cred["last_seen_ms"]), "last_seen is last_seen_ms")

    # -o yaml: the same document
    y = yaml.safe_load(ctl(agent, "reach", "--identity", IDENTITY, "-o", "yaml").stdout)
    check_eq([e for i in y["identities"] for e in i["edges"]], [e for _, e in _edges(doc)],
             "-o yaml is the -o json document")

    # the tables: one per kind, a column per field, the cells the JSON's fields
    tables = parse_tables(ctl(agent, "reach", "--identity", IDENTITY).stdout)
    check(kinds <= set(tables), f"a table per kind: {sorted(tables)}")
    cols = {"secret": ["IDENTITY", "PATH", "CATEGORY", "OPENED_AS", "CONTENT_FINGERPRINT", "COUNT", "LAST",
                       "EXECUTABLES"],
            "egress": ["IDENTITY", "PROTO", "ADDR", "PORT", "NAME", "CLASS", "COUNT", "OUTCOMES", "LAST", "EXECUTABLES"],
            "credential": ["IDENTITY", "HOST", "METHOD", "PATH", "KIND", "FINGERPRINT", "SPECIAL", "COUNT", "LAST",
                           "EXECUTABLES"],
            "tool": ["IDENTITY", "EXE", "PROGRAM", "COUNT", "LAST", "EXECUTABLES"]}
    for kind, want in cols.items():
        check_eq(list(tables[kind][0]), want, f"{kind} columns: {tables[kind]} from {edges[kind]}")
        check_eq(len(tables[kind]), len(edges[kind]), f"{kind}: a row per edge")
        for e in edges[kind]:
            row = next((r for r in tables[kind] if all(r.get(c.upper(), "-") == ("-" if v is None else str(v))
                                                      for c, v in e["fields"].items())), None)
            check(row is not None, f"{kind} {e['object']}: no row with its fields in {tables[kind]}")
            check_eq(row["COUNT"], str(e["count"]), f"{kind} {e['object']}: count")
            check(re.fullmatch(r"\d+[smhd] ago", row["LAST"]), f"relative time in tables: {row['LAST']}")
    wide = parse_tables(ctl(agent, "reach", "--identity", IDENTITY, "-o", "wide").stdout)
    row = next(r for r in wide["credential"] if r["PATH"] == "/v1/models")
    check_eq(row["FIRST"], cred["first_seen"], "-o wide: the first time in RFC 3339")
    check_eq(row["EPOCH"], cred["last_epoch"] or "-", "-o wide: the epoch")

    # -o dot: identity -> every edge, rendered by Graphviz
    dot = ctl(agent, "-o", "dot", "reach", "--identity", IDENTITY).stdout
    check(dot.startswith("digraph reach {") and dot.rstrip().endswith("}"), f"a digraph: {dot[:80]}")
    check_eq(dot.count(f'"id {IDENTITY}" -> '), len(_edges(doc)), "an arrow per edge")
    check(f"fingerprint: {fp}" in dot, "the credential node is labelled by its fields")
    if not shutil.which("dot"):
        raise Failure("graphviz's dot is missing (scripts/deps.sh installs graphviz): -o dot not rendered")
    svg = subprocess.run(["dot", "-Tsvg"], input=dot, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         timeout=30)
    check_eq(svg.returncode, 0, f"dot -Tsvg: {svg.stderr}")
    check("<svg" in svg.stdout and "/v1/models" in svg.stdout, "the picture has the credential")

    # findings: tables by edge kind by default, fields in -o json
    wait_for(lambda: subprocess.run([REACHCTL, "findings", "--socket", agent.socket, "--identity", IDENTITY, "-o",
                                     "json"], capture_output=True, timeout=30).returncode == 1, "findings", 10)
    fj = json.loads(ctl(agent, "findings", "--identity", IDENTITY, "-o", "json", rc=1).stdout)
    for f in fj:
        if f["edge_kind"] == "credential":
            check_eq(f["fields"], {**cred["fields"], "special": None}, "a credential finding's fields")
        if f["edge_kind"] == "egress" and f["object"] == egress["object"]:
            check_eq({k: f["fields"][k] for k in ("proto", "addr", "port")}, {"proto": "tcp", "addr": "127.0.0.1",
                                                                                "port": PLAIN}, "egress finding")
    _times_beside(fj, "findings -o json")
    ft = parse_tables(ctl(agent, "findings", "--identity", IDENTITY, rc=1).stdout)
    check({"egress", "credential", "tool"} <= set(ft), f"findings tables by edge kind: {sorted(ft)}")
    row = ft["credential"][0]
    check_eq([row[c] for c in ("SEVERITY", "FINDING", "IDENTITY", "HOST", "METHOD", "PATH", "KIND", "FINGERPRINT")],
             [next(f for f in fj if f["edge_kind"] == "credential")[k] for k in ("severity", "kind", "identity")]
             + [f"127.0.0.1:{PLAIN}", "GET", "/v1/models", "bearer", fp], "the credential finding's row")
    check_eq(sum(len(v) for v in ft.values()), len(fj), "a row per finding")

    # verify -o table: the verdict per identity, then the same findings tables
    vt = ctl(agent, "verify", "--identity", IDENTITY, "-o", "table", rc=1).stdout
    lines = vt.splitlines()
    check_eq(lines[0], "verify: fail", "the verdict first")
    check_eq(re.split(r" {3,}", lines[2])[:4], ["IDENTITY", "VERDICT", "EPOCH", "EDGES"], "the verdict table")
    check_eq(re.split(r" {3,}", lines[3])[:2], [IDENTITY, "fail"], "the identity's verdict")
    def without_age(tables):  # "3s ago" may tick between the two calls
        return {k: [{c: v for c, v in r.items() if c != "LAST"} for r in rows] for k, rows in tables.items()}
    check_eq(without_age(parse_tables(vt)), without_age(ft), "verify -o table shows the findings tables")

    # rotate: -o json is a document, not a table
    rot = json.loads(ctl(agent, "rotate", "--identity", IDENTITY, "-o", "json").stdout)
    check(isinstance(rot, list), f"rotate -o json: a list of items: {rot}")

    # status: FIELD/VALUE, the JSON's scalars as rows
    st = json.loads(ctl(agent, "status", "-o", "json").stdout)
    table = ctl(agent, "status").stdout.splitlines()
    check_eq(re.split(r" {3,}", table[0]), ["FIELD", "VALUE"], "status: a FIELD/VALUE table")
    rows = {k: v for k, v in (re.split(r" {3,}", ln, maxsplit=1) for ln in table[1:] if "   " in ln)}
    st2 = json.loads(ctl(agent, "status", "-o", "json").stdout)  # what did not move between the two (not uptime)
    scalars = {k: v for k, v in st.items() if not isinstance(v, (dict, list)) and st2.get(k) == v}
    check(len(scalars) >= 5, f"status scalars to compare: {scalars}")
    for k, v in scalars.items():
        want = "-" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
        check_eq(rows.get(k), want, f"status {k}")
    check(not any(v.startswith("{") for v in rows.values()), "no raw JSON inside the status table")

    # -o per command: a value the command does not print is bad usage, named
    for cmd in (["reach"], ["coverage"], ["status"], ["findings"], ["epochs"], ["rotate", "--identity", IDENTITY],
                ["verify"], ["epoch", "start", "--identity", IDENTITY, "--version", "x"],
                ["policy", "suggest", "--identity", IDENTITY]):
        p = ctl(agent, *cmd, "-o", "bogus", rc=2)
        check(f"{' '.join(c for c in cmd[:2] if not c.startswith('-'))}: -o must be one of " in p.stderr
              and "not 'bogus'" in p.stderr, f"{cmd}: {p.stderr}")
    for cmd, fmts in ((["reach"], ("table", "wide", "json", "yaml", "dot")), (["status"], ("table", "wide", "json", "yaml")),
                      (["findings"], ("table", "wide", "json", "yaml")), (["coverage"], ("table", "wide", "json", "yaml")),
                      (["epochs"], ("table", "wide", "json", "yaml"))):
        for fmt in fmts:
            p = subprocess.run([REACHCTL, *cmd, "-o", fmt], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=30, env=dict(os.environ, REACH_SOCKET=agent.socket))
            check(p.returncode in (0, 1), f"{cmd} -o {fmt}: {p.returncode} {p.stderr}")
            if fmt == "json":
                json.loads(p.stdout)
            if fmt == "yaml":
                yaml.safe_load(p.stdout)

    # global flags before the command: attest verify too
    priv, pub = os.path.join(tmp, "k.pem"), os.path.join(tmp, "k.pub")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", priv], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub], check=True, capture_output=True)
    att = os.path.join(tmp, "att.json")
    ctl(agent, "--socket", agent.socket, "verify", "--identity", IDENTITY, "--attest", att, "--key", priv, rc=1)
    a = json.loads(ctl(agent, "-o", "json", "attest", "verify", att, "--key", pub).stdout)
    check_eq((a["attestation"], a["result"]), (att, "OK"), "attest verify after a global -o")
    check(a["checks"], "the checks are listed")
    check("attest verify: OK" in ctl(agent, "--socket", agent.socket, "attest", "verify", att, "--key", pub).stdout,
          "--socket before attest verify")

    # no output holds the token, and neither does anything the agent wrote
    for name in os.listdir(tmp):
        path = os.path.join(tmp, name)
        if os.path.isfile(path) and name not in ("fingerprint.key",):
            with open(path, "rb") as f:
                check(TOKEN.encode() not in f.read(), f"{name} holds the token")
