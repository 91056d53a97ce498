"""Planted credentials never leave (issue 21): every argv syntax and every
path form that leaked before is run for real in a test cgroup (argv through
exec, paths over plaintext HTTP and TLS with curl and python), each with its
own planted token; then every sink is searched for every token: the events
output, stderr, every file of the state dir (ledger and anything else, raw
and decompressed), Alertmanager, the webhook, the OTLP receiver and
`reachctl reach/findings/verify/suggest/rotate` in table and JSON. Zero hits.
Ordinary command lines keep their flags and file arguments.

Ports: 19301 (OTLP), 19302 (Alertmanager), 19303 (webhook)."""
import gzip
import json
import os
import random
import shutil
import string
import subprocess
import urllib.request
import zlib

from harness import (PYTHON, REACHCTL, ROOT, Agent, Cgroup, TestNet, check, check_eq, make_test_ca, read_jsonl,
                     start_process, wait_for, wait_port)

OTLP_PORT, AM_PORT, WEBHOOK_PORT = 19301, 19302, 19303
V4 = TestNet.V4
IDENTITY = "host/planted"

WEBHOOK = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
out = sys.argv[2]
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(out, "ab") as f:
            f.write(body + b"\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def _token(i):
    """A distinct random-looking token per form (fixed seed: reproducible)."""
    r = random.Random(2100 + i)
    body = "".join(r.choice(string.ascii_letters + string.digits) for _ in range(22))
    return f"P{i % 10}{body}"


def _argv_forms(bins):
    """(argv, token) per syntax of the issue. A tool edge keeps the argv of
    an executable's first run, so every form runs its own executable:
    bins(name) is a fresh copy of true under that name (mysql, docker: the
    redactor's rules key on it); node, python, sh, perl, openssl run once."""
    t = iter(range(100))
    forms = []

    def add(build):
        k = _token(next(t))
        forms.append((build(k), k))

    add(lambda k: ["node", "-e", f"const o = {{'x-api-key':'{k}'}}; process.exit(0)"])
    add(lambda k: [PYTHON, "-c", f"d = {{'Authorization': 'Bearer {k}'}}"])
    add(lambda k: ["sh", "-c", f"exit 0 # curl -H 'X-Token: {k}'"])
    add(lambda k: ["perl", "-e", f"my $t = '{k}';"])
    add(lambda k: [bins("tool"), f"http://user:{k}@{V4}/x"])
    add(lambda k: [bins("psql"), f"postgres://app:{k}@db:5432/app"])
    add(lambda k: [bins("tool"), f"https://{k}@github.com/o/r.git"])
    add(lambda k: [bins("mysql"), "-u", "root", f"-p{k}", "db"])
    add(lambda k: [bins("sshpass"), "-p", k, "ssh", "host"])
    add(lambda k: ["openssl", "version", "-passin", f"pass:{k}"])
    add(lambda k: [bins("tool"), f"--pass={k}"])
    add(lambda k: [bins("docker"), "login", "-u", "bob", "-p", k, "registry.example.com"])
    add(lambda k: [bins("tool"), "-P", k])
    add(lambda k: [bins("tool"), "--data", f'{{"password":"{k}"}}'])
    add(lambda k: [bins("tool"), "-H", f"X-Token: {k}"])
    add(lambda k: [bins("tool"), "-H", f"PRIVATE-TOKEN: {k}"])
    add(lambda k: [bins("tool"), "-H", f'Authorization: Bearer abc"{k}'])
    add(lambda k: [bins("tool"), k])  # a bare random token
    add(lambda k: [bins("tool"), "--api-key", k])
    add(lambda k: [bins("tool"), f"https://h/p?api_key={k}&x=1"])
    add(lambda k: [bins("tool"), f"https://h/app;jsessionid={k}"])
    # a bare 40-character AWS-secret-shaped and a hex argument
    r = random.Random(7)
    aws = "wJalrXUtnFEMI/K7MDENG/" + "".join(r.choice(string.ascii_letters + string.digits) for _ in range(18))
    forms.append(([bins("tool"), aws], aws))
    hexkey = "".join(r.choice("0123456789abcdef") for _ in range(40))
    forms.append(([bins("tool"), hexkey], hexkey))
    return forms


def _path_forms():
    """(path, token) of every path form that leaked before."""
    a, b, c, d, e, f = (_token(50 + i) for i in range(6))
    return [
        (f"/bot123456789:{a}/sendMessage", a),
        (f"/services/T0123ABCD/B0456EFGH/{b}", b),
        (f"/v1/keys/{c}/rotate", c),
        (f"/app/home;jsessionid={d}", d),
        (f"/oauth/cb?code={e}", e),
        (f"/v1/geo?key={f}", f),
    ]


def _get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read()


def _texts_of_dir(root):
    """Every file under root: raw, and decompressed when it is gzip/zlib."""
    for d, _, files in os.walk(root):
        for name in files:
            path = os.path.join(d, name)
            try:
                with open(path, "rb") as fh:
                    raw = fh.read()
            except OSError:
                continue
            yield path, raw
            for dec in (gzip.decompress, zlib.decompress):
                try:
                    yield path + " (decompressed)", dec(raw)
                except Exception:  # not that format: the raw bytes were searched
                    pass


def test_planted_credentials_reach_no_sink(cleanup, tmp):
    am_cfg = os.path.join(tmp, "alertmanager.yml")
    with open(am_cfg, "w") as f:
        f.write("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    start_process(cleanup, ["prometheus-alertmanager", f"--config.file={am_cfg}",
                            f"--storage.path={os.path.join(tmp, 'am-data')}",
                            f"--web.listen-address=127.0.0.1:{AM_PORT}", "--cluster.listen-address="])
    otlp_out = os.path.join(tmp, "otlp.jsonl")
    otlp = start_process(cleanup, [PYTHON, os.path.join(ROOT, "tests", "e2e", "otlp_server.py"), "--port",
                                   str(OTLP_PORT), "--out", otlp_out], stdout=subprocess.PIPE, text=True)
    check_eq(otlp.stdout.readline().strip(), "ready", "OTLP receiver started")
    hook_out = os.path.join(tmp, "webhook.out")
    start_process(cleanup, [PYTHON, "-c", WEBHOOK, str(WEBHOOK_PORT), hook_out])
    wait_port("127.0.0.1", AM_PORT, timeout=30)
    wait_port("127.0.0.1", WEBHOOK_PORT)

    net = TestNet(cleanup, "pl1")
    ca, cert, key = make_test_ca(cleanup, tmp, ip=V4)
    start_process(cleanup, net.nsexec + [PYTHON, os.path.join(ROOT, "tests", "e2e", "https_server.py"), "--bind", V4,
                                         "--tls-port", "443", "--plain-port", "80", "--cert", cert, "--key", key,
                                         "--log", os.path.join(tmp, "server.log")])
    wait_port(V4, 443, net.ns)
    wait_port(V4, 80, net.ns)

    # stand-ins for tools that are not installed: their argv is what counts
    made = []

    def bins(name):
        d = os.path.join(tmp, "bin", str(len(made)))
        os.makedirs(d)
        made.append(os.path.join(d, name))
        shutil.copy("/bin/true", made[-1])
        return made[-1]
    policy = os.path.join(tmp, "policy.yaml")
    with open(policy, "w") as f:
        f.write(f"apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata:\n  name: planted\nspec:\n"
                f"  identity: {IDENTITY}\n  secrets: []\n  tools: [\"/nonexistent\"]\n")

    cg = Cgroup(cleanup, f"reach-e2e-planted-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--identity-rule", f"cgroup:{cg.rel} {IDENTITY}",
                                 "--policy", policy, "--persist-interval", "1", "--settle-window", "1",
                                 "--alertmanager", f"http://127.0.0.1:{AM_PORT}",
                                 "--webhook", f"http://127.0.0.1:{WEBHOOK_PORT}/hook",
                                 "--otlp-url", f"http://127.0.0.1:{OTLP_PORT}/v1/logs"])
    tokens = []
    argv_forms = _argv_forms(bins)
    for argv, k in argv_forms:
        cg.run(argv, check_rc=False)
        tokens.append(k)
    readable = [[bins("tool"), "--port", "8080", "/etc/hostname", "-v", "registry.example.com", "python3-setuptools"]]
    for argv in readable:
        cg.run(argv, check_rc=False)
    path_forms = _path_forms()
    tokens += [k for _, k in path_forms]
    paths = json.dumps([p for p, _ in path_forms])
    # plaintext with curl and python, TLS with curl and python
    for p, _ in path_forms:
        cg.run(["curl", "-s", "-o", "/dev/null", f"http://{V4}{p}"], check_rc=False)
        cg.run(["curl", "-s", "-o", "/dev/null", "--cacert", ca, f"https://{V4}{p}"], check_rc=False)
    cg.python(r"""
import http.client, json, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
for p in json.loads(sys.argv[1]):
    for c in (http.client.HTTPConnection("198.51.100.2", 80), http.client.HTTPSConnection("198.51.100.2", 443, context=ctx)):
        c.request("GET", p, headers={"Connection": "close"}); c.getresponse().read(); c.close()
""", paths, ca)

    # observed: every argv form as a tool edge, the paths as requests
    def tool_edges():
        return [e for e in agent.edges() if e.get("type") == "tool"]
    stand_ins = {argv[0]: k for argv, k in argv_forms if argv[0] in made}
    wait_for(lambda: set(stand_ins) | {readable[0][0]} <= {e["exe"] for e in tool_edges()},
             "a tool edge per argv form", 30)
    wait_for(lambda: any(e.get("type") == "credential" and "/bot" in json.dumps(e) for e in agent.edges()) or
             any(e.get("type") == "credential" for e in agent.edges()), "credential edges of the paths", 30)
    wait_for(lambda: os.path.exists(hook_out) and os.path.getsize(hook_out) > 0, "the webhook got findings", 40)
    wait_for(lambda: os.path.exists(otlp_out) and "reach.finding" in open(otlp_out).read(), "OTLP got findings", 40)
    am = wait_for(lambda: [a for a in json.loads(_get(f"http://127.0.0.1:{AM_PORT}/api/v2/alerts"))
                           if a["labels"].get("alertname") == "ReachFinding"], "Alertmanager got findings", 40)
    check(len(am) > 0, "alerts arrived")

    # each form's argv: recorded, the token replaced by a marker
    for e in tool_edges():
        if e["exe"] in stand_ins:
            check("[redacted:fp:" in " ".join(e["argv"]), f"a redaction marker in {e['argv']}")
    # readability: an ordinary command line keeps its flags and arguments
    plain = [e for e in tool_edges() if e["exe"] == readable[0][0]]
    check_eq(plain[0]["argv"][1:], readable[0][1:], "ordinary argv kept verbatim")

    sinks = []
    for args in (("reach",), ("reach", "-o", "json"), ("findings", "--identity", IDENTITY),
                 ("verify", "--identity", IDENTITY), ("verify", "--identity", IDENTITY, "-o", "json"),
                 ("policy", "suggest", "--identity", IDENTITY), ("rotate", "--identity", IDENTITY)):
        p = subprocess.run([REACHCTL, *args, "--socket", agent.socket], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        check(p.returncode in (0, 1), f"reachctl {' '.join(args)} ran: {p.stderr[-300:]}")
        if args[0] != "rotate":  # rotate lists nothing when nothing needs rotating: still searched
            check(len(p.stdout) > 0, f"reachctl {' '.join(args)} printed something")
        sinks.append((f"reachctl {' '.join(args)}", p.stdout + p.stderr))
    sinks.append(("alertmanager", _get(f"http://127.0.0.1:{AM_PORT}/api/v2/alerts")))
    agent.stop()
    for path in (agent.out_path, agent.err_path, hook_out, otlp_out):
        with open(path, "rb") as fh:
            sinks.append((path, fh.read()))
    sinks += list(_texts_of_dir(agent.state_dir))
    check(any("ledger" in name for name, _ in sinks), "the ledger file was searched")
    leaks = [(name, k) for name, text in sinks for k in tokens if k.encode() in text]
    check_eq(leaks, [], "planted tokens found in sinks")
