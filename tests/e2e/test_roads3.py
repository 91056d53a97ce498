"""The last roads of issue #16 (sensor completeness): an io_uring ring whose
requests the kernel's SQPOLL thread submits, raw ICMP to a host in another
network namespace, close-on-exec descriptors of a process born in the cgroup
that then execs, and .env files edited between two reads. Each runs in its
own cgroup and identity as an attacker would take it; what reach recorded is
asserted field by field."""
import os

from harness import PYTHON, Agent, Cgroup, check, check_eq, start_process, wait_port
from test_roads import _client as _uring_client, _secret, _verify

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
    start_process(cleanup, [PYTHON, "-c", r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.close()
""", str(SQPOLL_PORT)])
    wait_port(HOST, SQPOLL_PORT)
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
