"""The last roads of issue #16 (sensor completeness): an io_uring ring whose
requests the kernel's SQPOLL thread submits, raw ICMP to a host in another
network namespace, close-on-exec descriptors of a process born in the cgroup
that then execs, and .env files edited between two reads. Each runs in its
own cgroup and identity as an attacker would take it; what reach recorded is
asserted field by field."""
import os

import json
import shutil
import subprocess

from harness import (PYTHON, REACHCTL, ROOT, Agent, Cgroup, TestNet, check, check_eq, sh, start_process, wait_for,
                     wait_port)
from test_roads import _client as _uring_client, _secret, _verify, start_tcp_sink

HOST = "127.0.0.1"
# this file's ports: 20940-20959
SQPOLL_PORT = 20940


def test_io_uring_sqpoll(cleanup, tmp):
    """A ring set up with IORING_SETUP_SQPOLL: the kernel thread iou-sqp-PID
    takes the requests from the ring, not the task (the client checks the
    thread exists). OPENAT + READ of a secret and TCP CONNECT + SEND: the
    secret edge under the real file and the egress edge, both the client's
    (the poller is a thread of its process, in its cgroup, with its mm),
    and verify does not pass with nothing declared."""
    client = _uring_client(cleanup, tmp)
    secret = _secret(tmp)
    start_tcp_sink(cleanup, SQPOLL_PORT)
    cg = Cgroup(cleanup, f"reach-e2e-sqpoll-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--identity-rule", f"cgroup:{cg.rel} host/uring-sqpoll"])
    p = cg.run([client, "sqpoll", secret, HOST, str(SQPOLL_PORT)])
    check_eq(p.returncode, 0, "the client ran its requests through the SQPOLL ring")

    e = agent.wait_edge("sqpoll: secret edge", lambda e: e.get("type") == "secret" and e.get("cgroup") == cg.rel, 15)
    check_eq(e["path"], secret, "sqpoll: the edge is the real file")
    check_eq(e["category"], "private-key", "sqpoll: category")
    check_eq(e["process_exe"], client, "sqpoll: the client's edge, not a kernel thread's")
    check_eq(e["requested_path"], "(io_uring openat)", "sqpoll: reached by the io_uring op")
    n = agent.wait_edge("sqpoll: egress edge", lambda e: e.get("type") == "egress" and e.get("cgroup") == cg.rel
                        and e["proto"] == "tcp" and e["port"] == SQPOLL_PORT, 15)
    check_eq(n["address"], HOST, "sqpoll: destination")
    check_eq(n["process_exe"], client, "sqpoll: the client's egress")
    check_eq(n["outcomes"], {"established": 1}, "sqpoll: outcome")

    rc, v = _verify(agent, "host/uring-sqpoll", tmp)
    check(rc in (1, 2) and v["verdict"] != "pass", f"sqpoll: verify must not pass: {rc} {v}")
    check(secret in v["text"], f"sqpoll: the finding names the real file: {v['text'][:600]}")
    check(f"{HOST}" in v["text"], f"sqpoll: the finding names the destination: {v['text'][:600]}")
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")


# Each ICMP road: (name, family, socket type, how it sends). The script sends
# one echo request to argv[1] and waits for the host's echo reply (the road
# really reached the other namespace), printing its pid.
PING = r"""
import os, select, socket, sys, time
addr, fam, kind, how = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
v6 = fam == socket.AF_INET6
proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
s = socket.socket(fam, kind, proto)
body = b"reach-e2e-icmp"
def csum(b):
    b += b"\0" * (len(b) % 2)
    t = sum(int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2))
    t = (t >> 16) + (t & 0xffff)
    t += t >> 16
    return (~t) & 0xffff
req = bytes([128 if v6 else 8, 0, 0, 0]) + (0x5243).to_bytes(2, "big") + (1).to_bytes(2, "big") + body
if not v6:  # the kernel fills ICMPv6 checksums (and a ping socket's)
    req = req[:2] + csum(req).to_bytes(2, "big") + req[4:]
print(os.getpid(), flush=True)
if how == "connect":
    s.connect((addr, 0))
    s.send(req)
else:
    s.sendto(req, (addr, 0))
want = 129 if v6 else 0
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    if not select.select([s], [], [], 0.5)[0]:
        continue
    data, frm = s.recvfrom(2048)
    if kind == socket.SOCK_RAW and not v6:
        data = data[(data[0] & 0xf) * 4:]  # a raw IPv4 socket gets the IP header
    if frm[0] == addr and data[0] == want and data.endswith(body):
        sys.exit(0)
sys.exit("no echo reply from " + addr)
"""


def _ping_sockets_allowed(cleanup):
    """Ping sockets (SOCK_DGRAM ICMP) are open to the groups in
    net.ipv4.ping_group_range (both families); a range that leaves root out
    ("1 0", the default) is widened to gid 0 for the test and put back."""
    path = "/proc/sys/net/ipv4/ping_group_range"
    with open(path) as f:
        old = f.read().split()
    lo, hi = int(old[0]), int(old[1])
    if lo <= 0 <= hi:
        return

    def restore():
        with open(path, "w") as f:
            f.write(f"{lo} {hi}")
    cleanup.add(restore)
    with open(path, "w") as f:
        f.write("0 0")


def test_icmp_to_another_namespace(cleanup, tmp):
    """Echo requests from the monitored cgroup to a host in another network
    namespace (over a veth pair): raw ICMP sockets (v4 and v6, sendto) and
    ping sockets (SOCK_DGRAM ICMP, v4 with sendto, v4 connect + send, v6
    sendto). The host answers each (the packet left through the veth); each
    is an egress edge icmp/ADDR/0 of the sender, field by field. Nothing
    declared: verify does not pass; ICMP to the address declared: pass; the
    address declared for UDP only does not cover ICMP."""
    net = TestNet(cleanup, "rd3")  # the namespace and veth go at cleanup, failed or not
    _ping_sockets_allowed(cleanup)
    import socket
    roads = {"raw4": (net.V4, socket.AF_INET, socket.SOCK_RAW, "sendto"),
             "raw6": (net.V6, socket.AF_INET6, socket.SOCK_RAW, "sendto"),
             "ping4": (net.V4, socket.AF_INET, socket.SOCK_DGRAM, "sendto"),
             "ping4c": (net.V4, socket.AF_INET, socket.SOCK_DGRAM, "connect"),
             "ping6": (net.V6, socket.AF_INET6, socket.SOCK_DGRAM, "sendto")}
    root = Cgroup(cleanup, f"reach-e2e-icmp-{os.getpid()}")
    cgs, rules = {}, []
    for name in roads:
        cgs[name] = Cgroup(cleanup, name, parent=root)
        rules += ["--identity-rule", f"cgroup:{cgs[name].rel} host/icmp-{name}"]
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, *rules])
    for name, (addr, fam, kind, how) in roads.items():
        p = cgs[name].python(PING, addr, str(int(fam)), str(int(kind)), how)
        pid = int(p.stdout.split()[0])
        e = agent.wait_edge(f"{name}: icmp/{addr}/0", lambda e, cg=cgs[name], addr=addr: e.get("type") == "egress"
                            and e.get("cgroup") == cg.rel and e["proto"] == "icmp", 15)
        check_eq(e["address"], addr, f"{name}: the other namespace's address")
        check_eq(e["port"], 0, f"{name}: no port (a ping socket's id is not one)")
        check_eq(e["outcomes"], {"sent": 1}, f"{name}: outcome")
        check_eq(e["process_exe"], PYTHON, f"{name}: executable")
        check_eq(e["tgid"], pid, f"{name}: the sender")
        check_eq(e["class"], "external", f"{name}: class of a documentation-range address")

    for name in roads:
        rc, v = _verify(agent, f"host/icmp-{name}", tmp)
        check(rc in (1, 2) and v["verdict"] != "pass", f"{name}: verify with nothing declared: {rc} {v}")
        check(roads[name][0] in v["text"], f"{name}: the finding names the address: {v['text'][:600]}")

    def declared(name, proto):
        addr = roads[name][0]
        cidr = addr + ("/128" if ":" in addr else "/32")
        policy = os.path.join(tmp, f"declared-{name}-{proto}.yaml")
        with open(policy, "w") as f:
            f.write(f"""apiVersion: reach.dev/v1
kind: ReachPolicy
metadata:
  name: icmp
spec:
  identity: host/icmp-{name}
  egress:
    - {{cidr: {cidr}, proto: {proto}}}
  tools: ["/**"]
""")
        return subprocess.run([REACHCTL, "verify", "--socket", agent.socket, "--identity", f"host/icmp-{name}",
                               "--policy", policy], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=30)
    for name in roads:
        p = declared(name, "icmp")
        check_eq(p.returncode, 0, f"{name}: icmp declared: pass: {p.stdout} {p.stderr}")
    p = declared("ping4", "udp")
    check_eq(p.returncode, 1, f"ping4: udp declared does not cover icmp: {p.stdout} {p.stderr}")
    agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")


ENTERED = "(held on entering the cgroup)"


def test_cloexec_held_by_clone3_then_exec(cleanup, tmp):
    """A runner opens two secrets, one close-on-exec and one not, and starts
    a workload with clone3(CLONE_INTO_CGROUP) that execs another program at
    once (which reads nothing). Between its birth and its exec the child
    runs the runner's image holding both: each is held on entering the
    cgroup by that image (the runner's executable), never by the new
    program. execve closes the close-on-exec one: the new program holds
    only the other (inherited at exec). So: the close-on-exec secret is
    recorded once, for the runner's image; the kept one for both; no edge
    of the close-on-exec secret names the new program."""
    client = os.path.join(tmp, "held_client")
    sh("gcc", "-O2", "-Wall", os.path.join(ROOT, "tests", "e2e", "clients", "held_client.c"), "-o", client)
    idle = os.path.join(tmp, "held_idle")  # another executable (inode), the program the child execs
    shutil.copy(client, idle)
    keys = os.path.join(tmp, "keys")
    os.makedirs(keys)
    cloexec, kept = os.path.join(keys, "cloexec.key"), os.path.join(keys, "kept.key")
    for path in (cloexec, kept):
        with open(path, "w") as f:
            f.write("not-a-real-key-material\n")
    cg = Cgroup(cleanup, f"reach-e2e-cloexec-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--identity-rule", f"cgroup:{cg.rel} host/cloexec"])
    release = os.path.join(tmp, "release")
    p = start_process(cleanup, [client, "clone3exec", cloexec, kept, cg.path, idle, release])

    def edge(path, via):
        return agent.wait_edge(f"{os.path.basename(path)} {via}", lambda e: e.get("type") == "secret" and
                               e.get("cgroup") == cg.rel and e["path"] == path and e.get("requested_path") == via,
                               15)
    tool = agent.wait_edge("the child's exec", lambda e: e.get("type") == "tool" and e.get("cgroup") == cg.rel, 15)
    check_eq(tool["exe"], idle, "the child exec'd the idle program")
    for path in (cloexec, kept):
        e = edge(path, ENTERED)
        check_eq(e["process_exe"], client, f"{os.path.basename(path)}: held on entering by the runner's image")
        check_eq(e["executables"], [client], f"{os.path.basename(path)}: first sighting: only the runner's image")
        check_eq(e["category"], "private-key", f"{os.path.basename(path)}: category")
        check_eq(e["tgid"], tool["tgid"], f"{os.path.basename(path)}: the child that entered, then exec'd")
    # the program the child became holds the kept secret (walked at exec):
    # it joins the kept edge as an executable; never the close-on-exec one
    doc = wait_for(lambda: next((d for i in agent.reachctl("reach", "--identity", "host/cloexec", "-o", "json")
                                 ["identities"] for d in i["edges"] if d["kind"] == "secret" and
                                 d["object"] == kept and idle in d["executables"]), None),
                   "the program that holds the kept secret at exec", 10)
    check_eq(sorted(doc["executables"]), sorted([client, idle]), "kept: held by the runner's image, then the program")
    with open(release, "w"):
        pass
    wait_for(lambda: p.poll() is not None, "runner exits", 30)
    check_eq(p.returncode, 0, "the child exec'd the idle program and exited 0")
    ledger = {d["object"]: d for i in agent.reachctl("reach", "--identity", "host/cloexec", "-o", "json")
              ["identities"] for d in i["edges"] if d["kind"] == "secret"}
    check_eq(sorted(ledger), sorted([cloexec, kept]), "ledger: the two secret edges")
    check_eq(ledger[cloexec]["executables"], [client], "cloexec: never the program exec'd after entering")
    check_eq(ledger[cloexec]["opened_as"], ENTERED, "cloexec: held on entering the cgroup")
    rc, v = _verify(agent, "host/cloexec", tmp)
    check(rc in (1, 2) and v["verdict"] != "pass", f"verify must not pass: {rc} {v}")
    summary = agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
    check_eq(summary["events"].get("file_via", 0), 3, f"entered twice, inherited once: {summary['events']}")


def test_dotenv_edited_and_multiline(cleanup, tmp):
    """The same program (python) reads a .env three times: as written, after
    a key is appended, and after a value is replaced. Each version's keys
    are added to the secret edge's fingerprints (the kernel keys a small
    file's sightings by its size and mtime, so an edit read again is not a
    repeat): A's first value, B, A's new value; the value replaced is kept
    (a process may have loaded it before the edit). The file also holds a
    multi-line quoted value (a PEM block, as python-dotenv reads it) whose
    inner KEY=VALUE line is the value's, not a key, and no line is counted
    malformed. No raw value appears in what reach wrote."""
    import secrets
    values = {"A1": "sk-proj-" + secrets.token_hex(20) + "9Zq", "B": "ghp_" + secrets.token_hex(18) + "Q7",
              "A3": "sk-proj-" + secrets.token_hex(24) + "8Yw", "INSIDE": "sk-proj-" + secrets.token_hex(20) + "5Xe"}
    app_dir = os.path.join(tmp, "app")
    os.makedirs(app_dir)
    dotenv = os.path.join(app_dir, ".env")
    pem = f'PEM="-----BEGIN PRIVATE KEY-----\nINSIDE={values["INSIDE"]}\n-----END PRIVATE KEY-----"\n'
    versions = [f"# v1\nA={values['A1']}\n{pem}DEBUG=true\n",
                f"# v1\nA={values['A1']}\n{pem}DEBUG=true\nB={values['B']}\n",
                f"# v3\nA={values['A3']}\n{pem}DEBUG=true\nB={values['B']}\n"]
    want = [["A"], ["A", "B"], ["A", "A", "B"]]
    cg = Cgroup(cleanup, f"reach-e2e-dotenv-edit-{os.getpid()}")
    identity = "host/dotenv-edit"
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--identity-rule", f"cgroup:{cg.rel} {identity}"])

    def key_fps():
        ids = agent.reachctl("reach", "--identity", identity, "-o", "json")["identities"]
        sec = next((e for e in (ids[0]["edges"] if ids else []) if e["object"] == dotenv), None)
        return sec["key_fingerprints"] if sec else None

    seen = []
    for i, text in enumerate(versions):
        before = os.stat(dotenv).st_mtime_ns if i else 0
        with open(dotenv, "w") as f:
            f.write(text)
        check(os.stat(dotenv).st_mtime_ns != before, f"v{i + 1}: the edit moved the mtime")
        cg.python("open(__import__('sys').argv[1]).read()", dotenv)
        fps = wait_for(lambda: (lambda v: v if v and sorted(k.rsplit(":", 1)[0] for k in v) == want[i] else None)(
            key_fps()), f"v{i + 1}: keys {want[i]} on the .env edge (have {key_fps()})", 10)
        check(set(seen) <= set(fps), f"v{i + 1}: the earlier fingerprints are kept: {seen} {fps}")
        check_eq(len(set(fps)), len(fps), f"v{i + 1}: distinct entries")
        seen = fps
    a = [k.rsplit(":", 1)[1] for k in seen if k.startswith("A:")]
    check(a[0] != a[1], f"A's two values, two fingerprints: {a}")
    summary = agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
    text = json.dumps(summary)
    check('"kv_lines_malformed": 0' in text, f"the multi-line value is not malformed: {text[:400]}")
    with open(agent.out_path) as f:
        events = f.read()
    for name, value in values.items():
        check(value not in events + agent.stderr() + text, f"the raw {name} appears in what reach wrote")
