"""Shipping (issue: shipping, alerts and agent health): protobuf reports to
a collector over HTTPS with a disk spool, through an outage, an agent killed
mid-outage and a collector that misbehaves; nothing lost, nothing leaked.

Ports: 18701 (collector), 18706 (a closed port)."""
import glob
import gzip
import json
import os
import signal
import subprocess
import sys
import time

from harness import PYTHON, ROOT, Agent, Cgroup, check, check_eq, make_test_ca, read_jsonl, start_process, wait_for

COLLECTOR_PORT, CLOSED_PORT = 18701, 18706
SHIP_TOKEN = "reach-e2e-ship-bearer-7f3a9c2e"
SECRET = "reach-e2e-ship-secret-content-41b7d0"
DECODER = os.path.join(ROOT, "build", "tests", "tools", "report_decode")
COLLECTOR = os.path.join(ROOT, "tests", "e2e", "collector_server.py")

# Reads a new secret file every 0.2 s until STOP exists: reach keeps growing
# while the collector is away. It holds still while PAUSE exists (and says
# so in PAUSE.ack, its count file then final): a process killed with SIGKILL
# cannot report its last second (the ledger is saved every second), and
# nothing observes while no agent runs.
WORKLOAD = r"""
import os, sys, time
d, stop, secret = sys.argv[1], sys.argv[2], sys.argv[3]
pause = stop + ".pause"
i = 0
while not os.path.exists(stop):
    if os.path.exists(pause):
        if not os.path.exists(pause + ".ack"):
            open(pause + ".ack", "w").close()
        time.sleep(0.05)
        continue
    p = os.path.join(d, f"key-{i}.key")
    with open(p, "w") as f:
        f.write(secret + "\n")
    open(p).read()
    with open(os.path.join(d, "count"), "w") as f:
        f.write(str(i + 1))
    i += 1
    time.sleep(0.2)
"""


class Collector:
    def __init__(self, cleanup, tmp):
        self.tmp = tmp
        self.ca, cert, key = make_test_ca(cleanup, tmp)
        self.out = os.path.join(tmp, "collector.jsonl")
        self.control = os.path.join(tmp, "collector-control")
        os.makedirs(self.control)
        self.proc = start_process(cleanup, [PYTHON, COLLECTOR, "--port", str(COLLECTOR_PORT), "--bind", "127.0.0.1",
                                            "--cert", cert, "--key", key, "--token", SHIP_TOKEN, "--out", self.out,
                                            "--decoder", DECODER, "--control", self.control],
                                  stdout=subprocess.PIPE, text=True)
        check_eq(self.proc.stdout.readline().strip(), "ready", "collector started")

    def command(self, *lines):
        tmp = os.path.join(self.control, ".cmd.tmp")
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        path = os.path.join(self.control, f"{time.monotonic_ns()}.cmd")
        os.rename(tmp, path)
        wait_for(lambda: not os.path.exists(path), f"collector command {lines}", 10)

    def lines(self):
        return read_jsonl(self.out)

    def reports(self):
        """Accepted reports, deduplicated by report id, in arrival order."""
        seen, out = set(), []
        for r in self.lines():
            if "rejected" in r:
                continue
            rid = r["header"]["report_id"]
            if rid not in seen:
                seen.add(rid)
                out.append(r)
        return out


def _config(tmp, extra=""):
    path = os.path.join(tmp, "reach.yaml")
    token_file = os.path.join(tmp, "ship.token")
    with open(token_file, "w") as f:
        f.write(SHIP_TOKEN + "\n")
    os.chmod(token_file, 0o600)
    with open(path, "w") as f:
        f.write(extra)
    return path, token_file


def _ship_config(tmp, ca, url=None, extra=""):
    token_file = os.path.join(tmp, "ship.token")
    path, _ = _config(tmp, f"""ship:
  url: {url or f"https://127.0.0.1:{COLLECTOR_PORT}/v1/reports"}
  token_file: {token_file}
  ca_file: {ca}
  report_interval_s: 1
  snapshot_interval_s: 20
  backoff_max_s: 2
""" + extra)
    return path


def _secret_paths(reports):
    paths = set()
    for r in reports:
        if r["type"] != "reach":
            continue
        for ident in r["identities"]:
            for e in ident["edges"]:
                if e["kind"] in ("EDGE_KIND_SECRET", 1, "SECRET"):
                    paths.add(e["object"])
    return paths


def _spooled_reports(state_dir, cache):
    """The reports waiting in an agent's collector spool (spool.h: a 32-byte
    header, then the body), decoded like the collector does; cache: path ->
    report, a record's file never changes."""
    out = []
    for path in sorted(glob.glob(os.path.join(state_dir, "spool", "collector", "*.rec"))):
        if path not in cache:
            try:
                with open(path, "rb") as f:
                    body = f.read()[32:]
            except FileNotFoundError:  # delivered meanwhile
                continue
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            p = subprocess.run([DECODER], input=body, capture_output=True, timeout=30)
            check_eq(p.returncode, 0, f"report_decode of {path}: {p.stderr.decode(errors='replace')[-300:]}")
            cache[path] = json.loads(p.stdout)
        out.append(cache[path])
    return out


def _count(keys):
    with open(os.path.join(keys, "count")) as f:
        return int(f.read())


def _leak_check(paths, planted):
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        for p in planted:
            check(p.encode() not in data, f"{p[:12]}... leaked into {path}")


def test_outage_kill_and_misbehaving_collector_lose_nothing(cleanup, tmp):
    col = Collector(cleanup, tmp)
    cg = Cgroup(cleanup, "reach-e2e-ship")
    # an attempt may take 2 s (ship.timeout_s): the slow answer below takes 3
    config = _ship_config(tmp, col.ca, extra="  timeout_s: 2\n")
    args = ["--cgroup", cg.path, "--config", config, "--identity-rule", f"cgroup:{cg.rel} host/shipper",
            "--persist-interval", "1"]
    agent = Agent(cleanup, tmp, args)
    keys = os.path.join(tmp, "keys")
    os.makedirs(keys)
    stop = os.path.join(tmp, "stop-workload")
    work = start_process(cleanup, [PYTHON, "-c", WORKLOAD, keys, stop, SECRET], preexec_fn=cg.enter_fn())

    # reports arrive: a full snapshot first, then deltas
    wait_for(lambda: len(_secret_paths(col.reports())) >= 3, "the first reports", 20)
    first = col.reports()[0]
    check_eq(first["type"], "reach", "first report type")
    check(first["full_snapshot"], "the first reach report is a full snapshot")

    # the collector misbehaves: every answer is retried and counted, and so
    # is one slower than ship.timeout_s (2 s)
    col.command("mode 500 2", "mode 429 1 retry-after=1", "mode garbage 1", "mode close 1", "mode slow 3 1")
    requests_log = os.path.join(col.control, "requests.log")
    wait_for(lambda: len([line for line in open(requests_log) if " 500 " in line or " 429 " in line]) >= 3,
             "500 and 429 answers", 30)

    def failed_attempts(a):
        return a.reachctl("status", "-o", "json")["shipping"]["collector"]["failed_attempts"]
    wait_for(lambda: failed_attempts(agent) >= 6, "six failed attempts counted (the slow one timed out)", 60)
    wait_for(lambda: any(line.endswith(" slow\n") for line in open(requests_log)), "the slow answer given", 30)

    # an outage while the workload keeps reading new secrets; the agent is
    # SIGKILLed in the middle of it and restarted on the same state dir
    col.command("stop")
    spool_cache = {}
    failed0 = failed_attempts(agent)
    wait_for(lambda: len(_spooled_reports(agent.state_dir, spool_cache)) >= 3 and failed_attempts(agent) >= failed0 + 2,
             "reports spooled and attempts failing while the collector is down", 30)
    pause = stop + ".pause"
    with open(pause, "w"):
        pass
    wait_for(lambda: os.path.exists(pause + ".ack"), "the workload holding still", 10)
    n_paused = _count(keys)
    read = {os.path.join(keys, f"key-{i}.key") for i in range(n_paused)}
    # reported (spooled) and saved before the kill: every file read is in a
    # report, and the ledger was saved from a snapshot taken after that
    wait_for(lambda: read <= _secret_paths(col.reports() + _spooled_reports(agent.state_dir, spool_cache)),
             f"all {n_paused} secret files read so far reported or spooled", 20)
    reported_ms = time.time() * 1000
    wait_for(lambda: agent.reachctl("status", "-o", "json")["last_persist_unix_ms"] > reported_ms,
             "a ledger save after that", 20)
    agent.killed_by_test = True
    agent.proc.send_signal(signal.SIGKILL)
    agent.proc.wait()
    spooled = glob.glob(os.path.join(agent.state_dir, "spool", "collector", "*.rec"))
    check(len(spooled) > 0, "reports wait in the spool while the collector is down")
    agent2 = Agent(cleanup, tmp, args, name="reachd2")
    os.unlink(pause)
    # the restarted agent spools what the workload reads while the collector
    # is still down
    later = os.path.join(keys, f"key-{n_paused + 4}.key")
    wait_for(lambda: later in _secret_paths(_spooled_reports(agent2.state_dir, spool_cache)),
             "the restarted agent spooling new reports during the outage", 30)
    col.command("start")

    # stop the workload, let the agent report what it saw, wait for the
    # spool to drain
    with open(stop, "w"):
        pass
    work.wait(timeout=10)
    n_files = _count(keys)
    wanted = {os.path.join(keys, f"key-{i}.key") for i in range(n_files)}
    try:
        wait_for(lambda: wanted <= _secret_paths(col.reports()), f"all {n_files} secret files reported", 60)
    except Exception:
        missing = sorted(wanted - _secret_paths(col.reports()), key=lambda p: int(p.rsplit("-", 1)[1][:-4]))
        raise AssertionError(f"{len(missing)} secret files never reported: {missing[:10]}...")
    wait_for(lambda: not glob.glob(os.path.join(agent2.state_dir, "spool", "collector", "*.rec")),
             "the spool drained", 30)

    reports = col.reports()
    seqs = [r["header"]["seq"] for r in reports]
    check_eq(seqs, sorted(seqs), "reports delivered in seq order")
    check_eq(sorted(set(seqs)), list(range(seqs[0], seqs[-1] + 1)), "no seq missing (nothing lost)")
    check_eq(seqs[0], 1, "the first seq")
    boots = {r["header"]["boot_id"] for r in reports}
    check_eq(len(boots), 1, "one boot id (same node)")
    check(all(r["header"]["node"] for r in reports), "every report names its node")
    dup = len([r for r in col.lines() if "rejected" not in r]) - len(reports)
    print(f"    {len(reports)} reports, {dup} duplicate deliveries, {n_files} secret files", file=sys.stderr)
    # health reports come every minute: at least one carries the failures
    status = agent2.reachctl("status", "-o", "json")["shipping"]["collector"]
    check(status["sent"] > 0, f"the restarted agent delivered: {status}")
    check_eq(status["spool_records"], 0, "spool empty")
    agent2.stop()
    # no credential in anything the shipper wrote or sent
    files = [col.out] + glob.glob(os.path.join(agent2.state_dir, "spool", "**", "*"), recursive=True)
    _leak_check([p for p in files if os.path.isfile(p)], [SECRET, SHIP_TOKEN])
    _leak_check([agent.err_path, agent2.err_path, agent.out_path, agent2.out_path], [SECRET, SHIP_TOKEN])


def test_bad_shipping_config_fails_clearly_and_full_disk_is_counted(cleanup, tmp):
    cg = Cgroup(cleanup, "reach-e2e-ship-bad")
    ca = os.path.join(tmp, "bad-ca.pem")
    with open(ca, "w") as f:
        f.write("not a certificate\n")
    config = _ship_config(tmp, ca)
    p = subprocess.run([os.path.join(ROOT, "build", "reachd"), "--cgroup", cg.path, "--config", config,
                        "--state-dir", os.path.join(tmp, "s1"), "--socket", os.path.join(tmp, "s1.sock")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    check(p.returncode != 0 and ca in p.stderr, f"a bad CA fails start-up and names the file: {p.stderr[-300:]}")

    # an unwritable spool directory (a path under a regular file)
    blocker = os.path.join(tmp, "a-file")
    open(blocker, "w").close()
    good_ca, _, _ = make_test_ca(cleanup, tmp)
    config = _ship_config(tmp, good_ca)
    p = subprocess.run([os.path.join(ROOT, "build", "reachd"), "--cgroup", cg.path, "--config", config,
                        "--spool-dir", os.path.join(blocker, "spool"), "--state-dir", os.path.join(tmp, "s2"),
                        "--socket", os.path.join(tmp, "s2.sock")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    check(p.returncode != 0 and "spool" in p.stderr, f"an unwritable spool dir fails start-up: {p.stderr[-300:]}")

    # a missing API token file fails start-up instead of refusing every request
    missing = os.path.join(tmp, "no-api-token")
    p = subprocess.run([os.path.join(ROOT, "build", "reachd"), "--cgroup", cg.path, "--metrics-addr", "127.0.0.1:18707",
                        "--api-token-file", missing, "--state-dir", os.path.join(tmp, "s3"),
                        "--socket", os.path.join(tmp, "s3.sock")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    check(p.returncode != 0 and missing in p.stderr, f"a missing API token file fails start-up: {p.stderr[-300:]}")

    # an unreachable collector: start-up works, the failure is said at once;
    # a full disk under the spool is counted and the agent keeps running
    spool = os.path.join(tmp, "tiny-spool")
    os.makedirs(spool)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", spool], check=True)
    cleanup.add(subprocess.run, ["umount", "-l", spool])
    config = _ship_config(tmp, good_ca, url=f"https://127.0.0.1:{CLOSED_PORT}/v1/reports")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--config", config, "--spool-dir", spool,
                                 "--metrics-addr", "127.0.0.1:18707"])
    wait_for(lambda: f"127.0.0.1:{CLOSED_PORT}" in agent.stderr() and "ouldn't connect" in agent.stderr()
             or "refused" in agent.stderr(), "the unreachable collector said in the log", 15)
    # fill the spool: many new edges -> deltas every second, 64 KiB fill fast
    cg.python("import os, sys\nfor i in range(3000): os.stat('/')\n"
              "for i in range(400): open(os.path.join(sys.argv[1], f'k{i}.key'), 'w').close(); "
              "open(os.path.join(sys.argv[1], f'k{i}.key')).read()", tmp)

    def dropped():
        st = agent.reachctl("status", "-o", "json")["shipping"]["collector"]
        return st if st["write_failed"] + st["dropped"] > 0 else None
    st = wait_for(dropped, "reports lost to the full disk counted", 40)
    check(agent.proc.poll() is None, "the agent keeps running with a full spool disk")
    metrics = subprocess.run(["curl", "-s", "http://127.0.0.1:18707/metrics"], stdout=subprocess.PIPE, text=True,
                             timeout=10).stdout
    line = [m for m in metrics.splitlines() if m.startswith('reach_reports_dropped_total{sink="collector"}')]
    check(line and float(line[0].split()[-1]) > 0, f"reach_reports_dropped_total counts it: {line} {st}")
    agent.stop()


def test_findings_verdicts_and_health_reach_the_collector(cleanup, tmp):
    col = Collector(cleanup, tmp)
    cg = Cgroup(cleanup, "reach-e2e-ship-verify")
    keys = os.path.join(tmp, "keys")
    os.makedirs(keys)
    declared, undeclared = os.path.join(keys, "declared.key"), os.path.join(keys, "undeclared.key")
    for p in (declared, undeclared):
        with open(p, "w") as f:
            f.write(SECRET + "\n")
    policy = os.path.join(tmp, "policy.yaml")
    with open(policy, "w") as f:
        f.write(f"""apiVersion: reach.dev/v1
kind: ReachPolicy
metadata:
  name: shipper
spec:
  identity: host/shipper
  secrets: [{declared}]
  tools: ["/**/python3*"]
""")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--config", _ship_config(tmp, col.ca), "--node-name", "ship-node",
                                 "--identity-rule", f"cgroup:{cg.rel} host/shipper", "--policy", policy,
                                 "--settle-window", "1"])
    agent.epoch_start("host/shipper", "v2")
    cg.python("import sys\nfor p in sys.argv[1:]: open(p).read()", declared, undeclared)

    def of_type(t):
        return [r for r in col.reports() if r["type"] == t]
    health = wait_for(lambda: of_type("health"), "an AgentHealth report", 20)[0]
    check_eq(health["header"]["node"], "ship-node", "health node")
    for k in ("events_by_kind", "losses_by_kind", "spool_depth", "reports_sent", "reports_dropped", "uptime_s"):
        check(k in health, f"AgentHealth.{k}: {sorted(health)}")
    finding = wait_for(lambda: [r for r in of_type("finding") if r["finding"]["kind"] == "undeclared-secret"],
                       "the undeclared-secret Finding report", 20)[0]
    check_eq(finding["finding"]["object"], undeclared, "finding object")
    check_eq((finding["finding"]["identity"], finding["finding"]["severity"]), ("host/shipper", "medium"),
             "finding identity and severity")
    check(not finding["resolved"], "opened, not resolved")
    ver = wait_for(lambda: [r for r in of_type("verification") if r["identity"] == "host/shipper"],
                   "the Verification report of epoch v2", 20)[0]
    check_eq((ver["verdict"], ver["to_version"]), ("fail", "v2"), "verdict of v2")
    check_eq([f["object"] for f in ver["findings"]], [undeclared], "the verdict's findings")
    check(ver["reasons"], "the verdict's reasons")
    reach = [r for r in of_type("reach") if any(i["identity"] == "host/shipper" for i in r["identities"])]
    edges = [e for r in reach for i in r["identities"] for e in i["edges"]]
    check(any(e["object"] == undeclared and e["last_epoch"] == "v2" for e in edges), "reach edges carry the epoch")
    agent.stop()
    _leak_check([col.out], [SECRET, SHIP_TOKEN])
