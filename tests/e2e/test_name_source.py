"""Where an egress name came from (issue 17): a TLS client that connects to
a bare address and sends a server name (SNI) in its ClientHello gets its
egress edge named from it, name_source "sni"; a client that resolved the
name through DNS first keeps the resolver's name, name_source "dns", even
though its ClientHello also carries a server name. Field by field in the
agent's edges, its summary counters, the ledger (reachctl reach -o json)
and the reachctl table.

Ports 20740-20741 (the transports helper's range); the servers and the DNS
server on their own loopback addresses 127.20.74.0/24, so that no other
test's names or edges mix with these."""
import os
import subprocess

from harness import (PYTHON, ROOT, Agent, Cgroup, check, check_eq, make_test_ca, need_tools, parse_tables, start_process,
                     wait_for, wait_port)

SNI_IP, DNS_NAMED_IP, DNS_IP = "127.20.74.1", "127.20.74.2", "127.20.74.53"
SNI_PORT, DNS_PORT = 20740, 20741
SNI_NAME, DNS_NAME, TTL = "svc.reach-sni.example", "api.reach-dns.example", 321

CLIENT = r"""
import socket, ssl, sys
sni_ip, sni_port, sni_name, dns_name, dns_port = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def get(addr, port, name):
    t = ctx.wrap_socket(socket.create_connection((addr, port)), server_hostname=name)
    t.sendall(b"GET /v1/models HTTP/1.1\r\nHost: " + name.encode() + b"\r\n\r\n")
    t.recv(4096)
    t.close()
# an address given as is: only the ClientHello names it
get(sni_ip, sni_port, sni_name)
# a name resolved through DNS first (its hello names it too)
addr = socket.getaddrinfo(dns_name, dns_port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
get(addr, dns_port, dns_name)
"""


def _dnsmasq(cleanup, tmp):
    pid = os.path.join(tmp, "dnsmasq.pid")
    start_process(cleanup, ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces",
                            f"--listen-address={DNS_IP}", "--port=53", f"--local-ttl={TTL}",
                            f"--address=/{DNS_NAME}/{DNS_NAMED_IP}", f"--pid-file={pid}", "--user=root"])
    wait_for(lambda: subprocess.run(["dig", "+short", "+time=1", "+tries=1", f"@{DNS_IP}", DNS_NAME],
                                    stdout=subprocess.PIPE, text=True).stdout.strip() == DNS_NAMED_IP,
             "dnsmasq answering", 10)
    resolv = os.path.join(tmp, "resolv.conf")
    with open(resolv, "w") as f:
        f.write(f"nameserver {DNS_IP}\noptions attempts:1 timeout:2\n")
    return resolv


def _egress(edges, address, port):
    found = [e for e in edges if e["address"] == address and e["port"] == port and e["proto"] == "tcp"]
    check_eq(len(found), 1, f"egress edges to {address}:{port}")
    return found[0]


def test_egress_name_source_sni_and_dns(cleanup, tmp):
    need_tools("dnsmasq", "dig", "unshare")
    ca, cert, key = make_test_ca(cleanup, tmp)
    for ip, port in ((SNI_IP, SNI_PORT), (DNS_NAMED_IP, DNS_PORT)):
        start_process(cleanup, [PYTHON, os.path.join(ROOT, "tests", "e2e", "https_server.py"), "--bind", ip,
                                "--tls-port", str(port), "--cert", cert, "--key", key,
                                "--log", os.path.join(tmp, f"s{port}.log")])
        wait_port(ip, port)
    resolv = _dnsmasq(cleanup, tmp)
    cg = Cgroup(cleanup, f"reach-e2e-namesrc-{os.getpid()}")
    identity = "host/name-source"
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--identity-rule", f"cgroup:{cg.rel} {identity}"])
    cg.run(["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv,
            PYTHON, "-c", CLIENT, SNI_IP, str(SNI_PORT), SNI_NAME, DNS_NAME, str(DNS_PORT)])

    # the ledger (fed from the model): both edges with their names and sources
    def ledger_edges():
        doc = agent.reachctl("reach", "--identity", identity, "-o", "json")
        got = {e["object"]: e for i in doc["identities"] for e in i["edges"] if e["kind"] == "egress"}
        want = (f"tcp/{SNI_IP}/{SNI_PORT}", f"tcp/{DNS_NAMED_IP}/{DNS_PORT}")
        return got if all(w in got and got[w].get("name_source") for w in want) else None
    led = wait_for(ledger_edges, "both egress edges named in the ledger", 15)
    s = led[f"tcp/{SNI_IP}/{SNI_PORT}"]
    check_eq((s["name"], s["name_source"], s["port"], s["proto"]), (SNI_NAME, "sni", SNI_PORT, "tcp"),
             "ledger: the address-only connection named by its ClientHello")
    d = led[f"tcp/{DNS_NAMED_IP}/{DNS_PORT}"]
    check_eq((d["name"], d["name_source"], d["port"], d["proto"]), (DNS_NAME, "dns", DNS_PORT, "tcp"),
             "ledger: the DNS-named connection keeps the resolver's name")
    table = agent.reachctl("reach", "--identity", identity).stdout
    rows = {r["NAME"]: r.get("NAME_SOURCE") for r in parse_tables(table).get("egress", [])}
    check_eq((rows.get(SNI_NAME), rows.get(DNS_NAME)), ("sni", "dns"),
             f"reachctl table shows the provenance of each name: {table[-1500:]}")

    summary = agent.stop()
    check_eq(agent.returncode, 0, "reachd exit code")
    edges = agent.summary_edges(cg.rel, "egress")
    s = _egress(edges, SNI_IP, SNI_PORT)
    check_eq((s["name"], s["name_source"], s["outcomes"], s["process_exe"]),
             (SNI_NAME, "sni", {"established": 1}, PYTHON), "agent: SNI-named edge")
    d = _egress(edges, DNS_NAMED_IP, DNS_PORT)
    check_eq((d["name"], d["name_source"], d["name_ttl"], d["outcomes"], d["process_exe"]),
             (DNS_NAME, "dns", TTL, {"established": 1}, PYTHON), "agent: DNS-named edge")
    check_eq(summary["tls_hello_sni"], 2, "server names read from both ClientHellos")
    check_eq(summary["tls_hello_sni_named"], 1, "one egress edge named from an SNI (the other had DNS)")
    check(summary["dns_responses"] >= 1, f"the DNS answer was read: {summary['dns_responses']}")
