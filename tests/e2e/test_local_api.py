"""Local readers (issue 21): /v1/ledger needs the API token on loopback
too. Without --api-token-file the agent makes one in its state dir (0600,
root's); a non-root local user gets 401 from /v1/ledger on 127.0.0.1 and
cannot read the token; /metrics stays open and names no secret path;
reachctl verify --agents as root still works with the made token.

Ports: 19310 (agent metrics/API)."""
import os
import stat
import subprocess

from harness import PYTHON, REACHCTL, Agent, Cgroup, check, check_eq, wait_for

PORT = 19310
NOBODY = 65534
IDENTITY = "host/localapi"

FETCH = r"""
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], headers=dict(h.split(": ", 1) for h in sys.argv[2:]))
try:
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=5) as r:
        sys.stdout.buffer.write(b"%d\n" % r.status + r.read())
except urllib.error.HTTPError as e:
    print(e.code)
"""


def _fetch(path, uid=0, headers=()):
    """(status, body) of GET path on the agent, as uid."""
    pre = (lambda: os.setuid(uid)) if uid else None
    p = subprocess.run(["/usr/bin/python3" if uid else PYTHON, "-c", FETCH, f"http://127.0.0.1:{PORT}{path}", *headers], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30, preexec_fn=pre)
    check_eq(p.returncode, 0, f"fetch {path} as {uid}: {p.stderr[-300:]}")
    status, _, body = p.stdout.partition(b"\n")
    return int(status), body


def test_v1_needs_the_token_on_loopback_and_metrics_stay_open(cleanup, tmp):
    os.chmod(tmp, 0o755)  # nobody may walk to the state dir: only the file mode protects the token
    cg = Cgroup(cleanup, f"reach-e2e-localapi-{os.getpid()}")
    secret = os.path.join(tmp, "keys", "db-password.key")
    os.makedirs(os.path.dirname(secret))
    with open(secret, "w") as f:
        f.write("not-the-point\n")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--identity-rule", f"cgroup:{cg.rel} {IDENTITY}",
                                 "--metrics-addr", f"127.0.0.1:{PORT}", "--persist-interval", "1"])
    token_file = os.path.join(agent.state_dir, "api-token")
    st = os.stat(token_file)
    check_eq((st.st_uid, stat.S_IMODE(st.st_mode)), (0, 0o600), "the made token file is root's, 0600")
    with open(token_file) as f:
        token = f.read().strip()
    check_eq(len(token), 64, "a 256-bit hex token")

    cg.python("import sys; open(sys.argv[1]).read()", secret)
    agent.wait_edge("the secret read", lambda e: e.get("type") == "secret" and e["path"] == secret)
    wait_for(lambda: _fetch("/v1/ledger", 0, [f"Authorization: Bearer {token}"])[0] == 200,
             "the ledger served with the token", 20)

    # a non-root local user: 401 without a token, and the token is not readable
    check_eq(_fetch("/v1/ledger", NOBODY)[0], 401, "nobody on loopback without a token")
    check_eq(_fetch("/v1/ledger", NOBODY, ["Authorization: Bearer wrong"])[0], 401, "nobody with a wrong token")
    p = subprocess.run(["cat", token_file], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       preexec_fn=lambda: os.setuid(NOBODY))
    check(p.returncode != 0 and token.encode() not in p.stdout, "nobody cannot read the token file")
    # /metrics stays open and names no secret path
    status, body = _fetch("/metrics", NOBODY)
    check_eq(status, 200, "/metrics open to local users")
    check(b"reach_" in body, "metrics served")
    check(secret.encode() not in body and b"db-password" not in body, "no secret path in /metrics")

    # root: reachctl verify --agents with the made token
    policy = os.path.join(tmp, "policy.yaml")
    with open(policy, "w") as f:
        f.write(f"apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata:\n  name: localapi\nspec:\n"
                f"  identity: {IDENTITY}\n  secrets: [{secret}]\n  tools: [\"/**/python3*\"]\n")
    p = subprocess.run([REACHCTL, "verify", "--identity", IDENTITY, "--agents", f"127.0.0.1:{PORT}",
                        "--api-token-file", token_file, "--policy", policy, "-o", "json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    # the agent answered with its ledger (whatever the verdict of this
    # short run: pass, fail or inconclusive): the token was accepted
    check("1 agents answered" in p.stderr and "401" not in p.stderr and "token" not in p.stderr,
          f"reachctl verify --agents as root got the ledger: exit {p.returncode} {p.stderr[-300:]}")
    check(IDENTITY in p.stdout, f"the verdict names the identity: {p.stdout[-300:]}")
    # and without the token reachctl says why (not a silent pass)
    p = subprocess.run([REACHCTL, "verify", "--identity", IDENTITY, "--agents", f"127.0.0.1:{PORT}", "--policy",
                        policy], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60,
                       env=dict(os.environ))
    if not os.access("/var/lib/reach/api-token", os.R_OK):
        check_eq(p.returncode, 2, "reachctl without a token cannot verify")
        check("token" in p.stderr, f"the reason names the token: {p.stderr[-300:]}")
    agent.stop()
    check(token not in agent.stderr(), "the token is never logged")


def test_idle_connections_do_not_keep_reachctl_out(cleanup, tmp):
    """2,000 idle connections to the local API socket: reachctl status still
    answers (the agent hangs up on the oldest idle ones, never waits)."""
    import socket
    cg = Cgroup(cleanup, f"reach-e2e-apiflood-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])
    idle = []
    cleanup.add(lambda: [s.close() for s in idle])
    def connect_one():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(agent.socket)
        except BlockingIOError:  # backlog full until the agent's next turn accepts
            s.close()
            return None
        return s
    for _ in range(2000):
        idle.append(wait_for(connect_one, "a connection accepted", 30, 0.005))
    status = agent.reachctl("status", "-o", "json")
    check(isinstance(status, dict) and status, "reachctl status answers during the flood")
    # the agent still observes: a secret read now is recorded
    secret = os.path.join(tmp, "flood.key")
    with open(secret, "w") as f:
        f.write("x\n")
    cg.python("import sys; open(sys.argv[1]).read()", secret)
    agent.wait_edge("a read during the flood", lambda e: e.get("type") == "secret" and e["path"] == secret)
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
