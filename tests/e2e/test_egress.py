"""Egress reach on the real kernel with real traffic (issue: egress reach).

Remote hosts live in a network namespace (TestNet); names come from a real
dnsmasq on 127.0.0.77:53, seen by the workload through a resolv.conf bound
over /etc/resolv.conf in its own mount namespace."""
import os
import shutil
import socket
import subprocess
import threading

from harness import PYTHON, Agent, Cgroup, TestNet, check, check_eq, start_process, wait_for

DNS_IP = "127.0.0.77"       # dnsmasq for good answers
BAD_DNS_IP = "127.0.0.78"   # a server that answers with a compression loop
NAME_V4, NAME_V6, TTL = "api.reach-test.example", "v6.reach-test.example", 123


def _dnsmasq(cleanup, tmp):
    pid = os.path.join(tmp, "dnsmasq.pid")
    start_process(cleanup, ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces",
                            f"--listen-address={DNS_IP}", "--port=53", f"--local-ttl={TTL}",
                            f"--address=/{NAME_V4}/{TestNet.V4}", f"--address=/{NAME_V6}/{TestNet.V6}",
                            f"--pid-file={pid}", "--user=root"])
    wait_for(lambda: subprocess.run(["dig", "+short", "+time=1", "+tries=1", f"@{DNS_IP}", NAME_V4],
                                    stdout=subprocess.PIPE, text=True).stdout.strip() == TestNet.V4,
             "dnsmasq answering", 10)
    resolv = os.path.join(tmp, "resolv.conf")
    with open(resolv, "w") as f:
        f.write(f"nameserver {DNS_IP}\noptions attempts:1 timeout:2\n")
    return resolv


def _in_resolver_ns(resolv, argv):
    """argv run with resolv.conf pointing at the test DNS server."""
    return ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv] + argv


def _egress(edges, address, port, proto="tcp"):
    found = [e for e in edges if e.get("type") == "egress" and e["address"] == address
             and e["port"] == port and e["proto"] == proto]
    check_eq(len(found), 1, f"egress edges to {proto} {address}:{port}")
    return found[0]


def test_tcp_v4_v6_outcomes_udp_and_counts(cleanup, tmp):
    net = TestNet(cleanup, "eg1")
    net.serve_accept(cleanup, 80)
    cg = Cgroup(cleanup, f"reach-e2e-egress-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])
    code = r"""
import os, socket, sys
v4, v6 = sys.argv[1], sys.argv[2]
print(os.getpid(), flush=True)
for _ in range(1000):                       # 1,000 connects to one destination
    socket.create_connection((v4, 80)).close()
s = socket.socket(socket.AF_INET6); s.connect((v6, 80)); s.close()
for addr, fam in ((v4, socket.AF_INET), (v6, socket.AF_INET6)):
    s = socket.socket(fam)
    try:
        s.connect((addr, 81))               # nothing listens: RST
        sys.exit("port 81 accepted")
    except ConnectionRefusedError:
        pass
    s.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"ping", (v4, 9999))
m = socket.socket(socket.AF_INET6)          # v4-mapped v6: reported as v4
m.connect(("::ffff:" + v4, 80)); m.close()
"""
    p = cg.python(code, net.V4, net.V6)
    pid = int(p.stdout.split()[0])
    agent.wait_edge("udp", lambda e: e.get("type") == "egress" and e["proto"] == "udp")
    agent.stop()
    edges = [dict(e, cgroup=cg.rel) for e in agent.summary_edges(cg.rel, "egress")]
    e = _egress(edges, net.V4, 80)
    check_eq(e["count"], 1001, "count of 1,000 connects plus one v4-mapped")
    check_eq(e["events"], 1, "ring-buffer events for 1,000 connects")
    check_eq(e["outcomes"], {"established": 1001}, "outcomes v4:80")
    check_eq(e["tgid"], pid, "connecting process")
    check(1024 <= e["source_port"] <= 65535, f"ephemeral source port recorded: {e['source_port']}")
    check_eq(e["class"], "external", "class of a documentation-range address")
    check_eq(e["process_exe"], PYTHON, "executable")
    check_eq(_egress(edges, net.V6, 80)["outcomes"], {"established": 1}, "outcomes v6:80")
    check_eq(_egress(edges, net.V4, 81)["outcomes"], {"refused": 1}, "outcomes v4:81")
    check_eq(_egress(edges, net.V6, 81)["outcomes"], {"refused": 1}, "outcomes v6:81")
    u = _egress(edges, net.V4, 9999, "udp")
    check_eq(u["outcomes"], {"sent": 1}, "udp outcome")
    check_eq(u["source_port"], 0, "UDP edges carry no source port")
    check_eq(u["tgid"], pid, "udp sender")
    check_eq(agent.summary["losses"]["egress"]["ringbuf_full"], 0, "no egress losses")


def test_dns_name_metadata_class_and_lineage(cleanup, tmp):
    net = TestNet(cleanup, "eg2")
    net.serve_http(cleanup)
    resolv = _dnsmasq(cleanup, tmp)
    cg = Cgroup(cleanup, f"reach-e2e-dns-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])
    curl = shutil.which("curl")
    # python resolves through glibc and runs curl; curl resolves and connects
    code = r"""
import socket, subprocess, sys
name, v6name, curl = sys.argv[1:4]
socket.getaddrinfo(name, 80, socket.AF_INET)
subprocess.run([curl, "-s", "-o", "/dev/null", "http://%s/" % name], check=True)
subprocess.run([curl, "-s", "-o", "/dev/null", "http://169.254.169.254/latest/meta-data/"], check=True)
addr = socket.getaddrinfo(v6name, 80, socket.AF_INET6)[0][4]
s = socket.socket(socket.AF_INET6); s.connect(addr[:2]); s.close()
"""
    cg.run(_in_resolver_ns(resolv, [PYTHON, "-c", code, NAME_V4, NAME_V6, curl]))
    agent.wait_edge("metadata", lambda e: e.get("type") == "egress" and e["address"] == net.METADATA)
    agent.stop()
    edges = agent.summary_edges(cg.rel, "egress")
    e = _egress(edges, net.V4, 80)
    check_eq(e["name"], NAME_V4, "name from DNS on the edge")
    check_eq(e["name_ttl"], TTL, "TTL of the answer")
    check_eq(e["process_exe"], curl, "the edge belongs to curl, not python")
    check_eq(e["lineage"], [PYTHON, curl], "lineage python3 -> curl")
    check_eq(e["outcomes"], {"established": 1}, "outcome")
    m = _egress(edges, net.METADATA, 80)
    check_eq(m["class"], "cloud-metadata", "metadata class")
    check_eq(m["name"], None, "metadata reached by address")
    v6 = _egress(edges, net.V6, 80)
    check_eq(v6["name"], NAME_V6, "AAAA name on the v6 edge")
    dns = [x for x in edges if x["proto"] == "udp" and x["port"] == 53 and x["address"] == DNS_IP]
    check(dns, "DNS queries to the resolver are egress too")
    check_eq(dns[0]["class"], "loopback", "resolver class")
    check(agent.summary["dns_responses"] >= 3, f"DNS answers parsed: {agent.summary['dns_responses']}")
    check_eq(agent.summary["dns_malformed"], 0, "no malformed answers from dnsmasq")


def _bad_dns_server(cleanup):
    """Answers every query with an A record whose owner name is a compression
    pointer to itself: a loop a naive parser never leaves."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((BAD_DNS_IP, 53))
    s.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                q, peer = s.recvfrom(512)
            except socket.timeout:
                continue
            qend = 12
            while q[qend] != 0:
                qend += q[qend] + 1
            question = q[12:qend + 5]
            answer_at = 12 + len(question)
            loop = bytes([0xC0 | (answer_at >> 8), answer_at & 0xFF])  # points at itself
            rr = loop + b"\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + socket.inet_aton(TestNet.V4)
            s.sendto(q[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + question + rr, peer)
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    cleanup.add(s.close)
    cleanup.add(t.join)
    cleanup.add(stop.set)


def test_malformed_dns_is_counted_and_edge_stays_address_only(cleanup, tmp):
    net = TestNet(cleanup, "eg3")
    net.serve_http(cleanup)
    _bad_dns_server(cleanup)
    cg = Cgroup(cleanup, f"reach-e2e-baddns-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])
    # dig gets the looping answer (and reports it unparseable), then the
    # workload connects to the address the bad answer carried
    cg.run(["sh", "-c", f"dig +time=1 +tries=1 @{BAD_DNS_IP} bad.reach-test.example; "
                        f"curl -s -o /dev/null http://{net.V4}/; exit 0"])
    agent.wait_edge("v4:80", lambda e: e.get("type") == "egress" and e["address"] == net.V4)
    agent.stop()
    check_eq(agent.returncode, 0, "reachd survived a looping DNS answer")
    check(agent.summary["dns_malformed"] >= 1, f"malformed DNS counted: {agent.summary['dns_malformed']}")
    e = _egress(agent.summary_edges(cg.rel, "egress"), net.V4, 80)
    check_eq(e["name"], None, "no name from a malformed answer")


def test_node_connect_and_outside_traffic(cleanup, tmp):
    net = TestNet(cleanup, "eg4")
    net.serve_http(cleanup)
    cg = Cgroup(cleanup, f"reach-e2e-node-{os.getpid()}")
    node = shutil.which("node")
    check(node, "node is installed (scripts/deps.sh)")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])
    # outside the cgroup first: must not be recorded
    subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://{net.V4}/outside"], check=True)
    cg.run([node, "-e", f"require('net').connect(80, '{net.V4}').on('connect', function () {{ this.end(); }})"])
    agent.wait_edge("node", lambda e: e.get("type") == "egress" and e["address"] == net.V4)
    agent.stop()
    e = _egress(agent.summary_edges(cg.rel, "egress"), net.V4, 80)
    check_eq(e["process_exe"], node, "node's connect")
    check_eq(e["count"], 1, "only the connect inside the cgroup is counted")
    for c in agent.summary["cgroups"]:
        check(c["cgroup"] == cg.rel, f"traffic outside the monitored cgroup recorded under {c['cgroup']}")


def test_timed_out_connect_and_tcp_dns(cleanup, tmp):
    net = TestNet(cleanup, "eg5")
    # the host's SYNs arrive but every reply is dropped: a connect times out
    net.serve_accept(cleanup, 80)
    subprocess.run(net.nsexec + ["ip", "route", "replace", "blackhole", "198.51.100.1/32"], check=True)
    _dnsmasq(cleanup, tmp)
    cg = Cgroup(cleanup, f"reach-e2e-timeout-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])
    code = r"""
import socket, subprocess, sys
v4, dns_ip, name = sys.argv[1:4]
out = subprocess.run(["dig", "+tcp", "+short", "@" + dns_ip, name], stdout=subprocess.PIPE, text=True, check=True)
assert out.stdout.strip() == v4, out.stdout
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, 1)   # give up after ~3 s
try:
    s.connect((v4, 80))
    sys.exit("connected through a blackhole")
except (TimeoutError, socket.timeout):
    pass
"""
    cg.python(code, net.V4, DNS_IP, NAME_V4, timeout=30)
    agent.wait_edge("timed out", lambda e: e.get("type") == "egress" and e["address"] == net.V4)
    agent.stop()
    edges = agent.summary_edges(cg.rel, "egress")
    e = _egress(edges, net.V4, 80)
    check_eq(e["outcomes"], {"timed_out": 1}, "outcome of a blackholed connect")
    check_eq(e["name"], NAME_V4, "name from a DNS answer over TCP")
    check_eq(e["name_ttl"], TTL, "TTL of the TCP answer")
    dns = _egress(edges, DNS_IP, 53)
    check_eq(dns["outcomes"], {"established": 1}, "TCP connect to the resolver")
    check(agent.summary["dns_responses"] >= 1, "TCP DNS answer parsed")
