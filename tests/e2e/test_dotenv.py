"""A key loaded from a .env file and sent is linked (issue #16, "Secret
content for every secret"). A python workload in a test cgroup reads a .env
holding OPENAI_API_KEY and DB_URL, then sends the key as a bearer to a
loopback server: the secret edge of the .env (category dotenv) carries one
"KEY:FINGERPRINT" per credential, the OPENAI_API_KEY one equals the
credential edge's fingerprint, and verify reports secret-sent naming the
file and the key, from the agent's socket and from the saved ledger alike.
Neither raw value appears anywhere reach wrote: events, stderr, reachctl
output, findings, the ledger file."""
import json
import os
import secrets
import subprocess
import zlib

from harness import (PYTHON, REACHCTL, Agent, Cgroup, check, check_eq, need_tools, start_process, wait_for,
                     wait_port)

PORT, CURL_PORT = 20890, 20891  # this file's own range: 20890-20899

SERVER = r"""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{}")
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""

# what an app does with python-dotenv, without the package: parse, then send
WORKLOAD = r"""
import http.client, sys
env = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if not line or line.startswith("#") or "=" not in line:
        continue
    k, v = line.removeprefix("export ").split("=", 1)
    env[k.strip()] = v.strip().strip('"')
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[2]))
c.request("GET", "/v1/models", headers={"Authorization": "Bearer " + env["OPENAI_API_KEY"]})
c.getresponse().read()
"""


def _verify(*args):
    return subprocess.run([REACHCTL, "verify", *args, "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=30)


def _secret_sent(doc, what):
    found = [f for f in doc["findings"] if f["kind"] == "secret-sent"]
    check_eq(len(found), 1, f"one secret-sent finding ({what}): {doc['findings']}")
    return found[0]


def test_dotenv_key_sent_is_linked(cleanup, tmp):
    """python parses the .env and sends the key with http.client."""
    _key_sent_is_linked(cleanup, tmp, "python", PORT)


def test_dotenv_sourced_by_sh_sent_by_curl(cleanup, tmp):
    """sh sources the .env (set -a) and curl sends the key: the reader is sh,
    the sender curl, the key on curl's command line (redacted there)."""
    need_tools("curl", "sh")
    _key_sent_is_linked(cleanup, tmp, "curl", CURL_PORT)


def _key_sent_is_linked(cleanup, tmp, client, port):
    key = "sk-proj-" + secrets.token_hex(20) + "9Zq"  # a digit and a letter whatever the draw
    db_password = "pw" + secrets.token_hex(12)
    db_url = f"postgres://app:{db_password}@db.internal:5432/app"
    start_process(cleanup, [PYTHON, "-c", SERVER, str(port)])
    wait_port("127.0.0.1", port)
    app_dir = os.path.join(tmp, "app")
    os.makedirs(app_dir)
    dotenv = os.path.join(app_dir, ".env")
    with open(dotenv, "w") as f:
        f.write(f"# settings\nexport OPENAI_API_KEY=\"{key}\"\nDB_URL={db_url}\nDEBUG=true\n")

    root = Cgroup(cleanup, f"reach-e2e-dotenv-{os.getpid()}")
    app = Cgroup(cleanup, "app", parent=root)
    identity = "host/dotenv-app"
    policy = os.path.join(tmp, "policy.yaml")
    with open(policy, "w") as f:  # declares the program and nothing it reaches
        f.write(f"apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata:\n  name: app\nspec:\n  identity: {identity}\n"
                "  tools: [\"/**/python3*\", \"/**/sh\", \"/**/dash\", \"/**/curl\"]\n")
    # the ledger saved every second (default 10 s): judged from the file below
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, "--identity-rule", f"cgroup:{app.rel} {identity}",
                                 "--policy", policy, "--persist-interval", "1"])
    if client == "python":
        app.python(WORKLOAD, dotenv, str(port))
    else:
        app.run(["sh", "-c", 'set -a; . "$1"; exec curl -sS -o /dev/null -H "Authorization: Bearer $OPENAI_API_KEY" '
                 '"http://127.0.0.1:$2/v1/models"', "sh", dotenv, str(port)])

    def edges():
        ids = agent.reachctl("reach", "--identity", identity, "-o", "json")["identities"]
        return ids[0]["edges"] if ids else []

    wait_for(lambda: any(e["kind"] == "credential" for e in edges()) and any(e["object"] == dotenv for e in edges()),
             "the .env secret edge and the credential edge", 10)
    sec = next(e for e in edges() if e["object"] == dotenv)
    cred = next(e for e in edges() if e["kind"] == "credential")
    check_eq(sec["kind"], "secret", "the .env is a secret edge")
    check_eq(sec["category"], "dotenv", "category")
    check(not sec["content_fingerprint"], "several values: no single-token content fingerprint")
    kf = dict(entry.rsplit(":", 1) for entry in sec["key_fingerprints"])
    check_eq(sorted(kf), ["DB_URL", "OPENAI_API_KEY"], "one fingerprint per credential-shaped value (DEBUG is not)")
    check(all(len(v) == 16 for v in kf.values()), f"keyed fingerprints: {kf}")
    check_eq(sec["key_fingerprints_dropped"], 0, "nothing over the bound")
    check(cred["object"].endswith(f"bearer fp:{kf['OPENAI_API_KEY']}"),
          f"the bearer sent is the .env's OPENAI_API_KEY: {cred['object']} vs {kf}")
    check(kf["DB_URL"] not in cred["object"], "DB_URL was not sent")

    # the event line the agent printed for the secret carries the same
    ev = agent.wait_edge(".env event", lambda e: e.get("type") == "secret" and e.get("path") == dotenv)
    check_eq(sorted(ev["key_fingerprints"]), sorted(sec["key_fingerprints"]), "event and ledger agree")

    # verify (a policy that declares nothing reached) from the socket
    p = _verify("--socket", agent.socket, "--identity", identity)
    check_eq(p.returncode, 1, f"verify exit code: {p.stdout}{p.stderr}")
    sent = _secret_sent(json.loads(p.stdout), "socket")
    check_eq(sent["object"], cred["object"], "the finding is about the credential sent")
    check_eq(sent["severity"], "high", "undeclared use")
    check("OPENAI_API_KEY" in sent["message"] and dotenv in sent["message"],
          f"secret-sent names the .env and the key: {sent['message']}")
    socket_out = p.stdout + p.stderr

    # and from the saved ledger: the fingerprints travel with it
    ledger = os.path.join(agent.state_dir, "ledger.pb.z")
    wait_for(lambda: os.path.exists(ledger) and _verify("--ledger", ledger, "--policy", policy, "--identity", identity).returncode == 1,
             "the saved ledger judged the same", 10)
    p = _verify("--ledger", ledger, "--policy", policy, "--identity", identity)
    sent2 = _secret_sent(json.loads(p.stdout), "--ledger")
    check_eq(sent2["message"], sent["message"], "socket and --ledger agree")

    # no raw value anywhere reach wrote
    summary = agent.stop()
    with open(ledger, "rb") as f:
        raw = f.read()
    ledger_bytes = zlib.decompressobj().decompress(raw[64:])  # a 64-byte header, then the zlib stream
    offline = subprocess.run([REACHCTL, "reach", "--ledger", ledger, "-o", "json"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, timeout=30)
    check_eq(offline.returncode, 0, f"reachctl reach --ledger: {offline.stderr}")
    check(f"OPENAI_API_KEY:{kf['OPENAI_API_KEY']}" in offline.stdout, "the fingerprints are in the saved ledger")
    outputs = {
        "events": open(agent.out_path).read(),
        "stderr": agent.stderr(),
        "verify": socket_out + p.stdout + p.stderr,
        "summary": json.dumps(summary),
        "ledger": ledger_bytes.decode("latin-1"),
        "reach --ledger": offline.stdout + offline.stderr,
    }
    for name, text in outputs.items():
        for value, what in ((key, "OPENAI_API_KEY"), (db_password, "DB_URL password"), (db_url, "DB_URL")):
            check(value not in text, f"the raw {what} appears in {name}")
    check(len(ledger_bytes) > 0 and "OPENAI_API_KEY:" in outputs["ledger"], "the ledger was read (key names in it)")
    check('"kv_lines_malformed": 0' in outputs["summary"], f"no malformed line counted: {outputs['summary'][:300]}")
