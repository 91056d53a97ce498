"""Alerts, OTLP and health with the real receivers (issue: shipping, alerts
and agent health): a real Alertmanager gets the alert of an undeclared
secret read and clears it when the finding resolves; an OTLP/HTTP receiver
gets the finding as a log record (decoded by an independent wire decoder);
a webhook gets it too; a real Prometheus scrapes /metrics and promtool
accepts the exposition.

Ports: 18702 (OTLP), 18703 (Alertmanager), 18704 (Prometheus), 18705
(agent metrics), 18708 (webhook)."""
import json
import os
import subprocess
import urllib.request

from harness import PYTHON, ROOT, Agent, Cgroup, check, check_eq, read_jsonl, start_process, wait_for, wait_port

OTLP_PORT, AM_PORT, PROM_PORT, METRICS_PORT, WEBHOOK_PORT = 18702, 18703, 18704, 18705, 18708
NODE = "reach-e2e-node"
SECRET = "reach-e2e-alert-secret-content-93be1f"

WEBHOOK = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
out = sys.argv[2]
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(out, "a") as f:
            f.write(json.dumps({"content_type": self.headers["Content-Type"], "body": json.loads(body)}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def _get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def _policy(path, secrets):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"""apiVersion: reach.dev/v1
kind: ReachPolicy
metadata:
  name: alerts
spec:
  identity: host/alerts
  secrets: [{", ".join(secrets)}]
  tools: ["/**/python3*"]
""")
    os.rename(tmp, path)


def _otlp_records(path):
    for line in read_jsonl(path):
        if "request" not in line:
            continue
        for rl in line["request"]["resource_logs"]:
            for sl in rl["scope_logs"]:
                for rec in sl["log_records"]:
                    yield rl["resource"]["attributes"], rec


def _am_alerts():
    return [a for a in _get_json(f"http://127.0.0.1:{AM_PORT}/api/v2/alerts?active=true")
            if a["labels"].get("alertname") == "ReachFinding"]


def test_alertmanager_otlp_and_webhook_get_the_finding_and_its_resolution(cleanup, tmp):
    # a real Alertmanager, clustering off, routing to nowhere
    am_cfg = os.path.join(tmp, "alertmanager.yml")
    with open(am_cfg, "w") as f:
        f.write("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    start_process(cleanup, ["prometheus-alertmanager", f"--config.file={am_cfg}",
                            f"--storage.path={os.path.join(tmp, 'am-data')}",
                            f"--web.listen-address=127.0.0.1:{AM_PORT}", "--cluster.listen-address="])
    otlp_out = os.path.join(tmp, "otlp.jsonl")
    otlp = start_process(cleanup, [PYTHON, os.path.join(ROOT, "tests", "e2e", "otlp_server.py"), "--port",
                                   str(OTLP_PORT), "--out", otlp_out, "--fail-first", "1"],
                         stdout=subprocess.PIPE, text=True)
    check_eq(otlp.stdout.readline().strip(), "ready", "OTLP receiver started")
    hook_out = os.path.join(tmp, "webhook.jsonl")
    start_process(cleanup, [PYTHON, "-c", WEBHOOK, str(WEBHOOK_PORT), hook_out])
    wait_port("127.0.0.1", AM_PORT, timeout=30)
    wait_port("127.0.0.1", WEBHOOK_PORT)

    cg = Cgroup(cleanup, "reach-e2e-alerts")
    keys = os.path.join(tmp, "keys")
    os.makedirs(keys)
    declared, undeclared = os.path.join(keys, "declared.key"), os.path.join(keys, "undeclared.key")
    for p in (declared, undeclared):
        with open(p, "w") as f:
            f.write(SECRET + "\n")
    policy = os.path.join(tmp, "policy.yaml")
    _policy(policy, [declared])
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--identity-rule", f"cgroup:{cg.rel} host/alerts",
                                 "--policy", policy, "--node-name", NODE, "--persist-interval", "1",
                                 "--alertmanager", f"http://127.0.0.1:{AM_PORT}",
                                 "--webhook", f"http://127.0.0.1:{WEBHOOK_PORT}/hook",
                                 "--otlp-url", f"http://127.0.0.1:{OTLP_PORT}/v1/logs",
                                 "--settle-window", "1"])
    # an upgrade: its verdict (fail: the undeclared read) alerts too
    agent.epoch_start("host/alerts", "v2")
    cg.python("import sys\nfor p in sys.argv[1:]: open(p).read()", declared, undeclared)

    # Alertmanager: the undeclared read, labelled for routing
    alerts = wait_for(lambda: [a for a in _am_alerts() if a["labels"].get("kind") == "undeclared-secret"],
                      "the undeclared-secret alert in Alertmanager", 30)
    check_eq(len(alerts), 1, "one alert for the one undeclared secret")
    labels = alerts[0]["labels"]
    for k, v in {"alertname": "ReachFinding", "identity": "host/alerts", "kind": "undeclared-secret",
                 "severity": "medium", "node": NODE}.items():
        check_eq(labels.get(k), v, f"alert label {k}")
    check("namespace" not in labels and "serviceaccount" not in labels, f"a host identity has no k8s labels: {labels}")
    check_eq(alerts[0]["annotations"].get("edge"), f"secret {undeclared}", "alert annotation edge")
    check(alerts[0]["annotations"].get("summary"), "alert summary")
    check_eq(alerts[0]["status"]["state"], "active", "alert state")

    # OTLP: the same finding as a log record, after one refused attempt
    def otlp_finding():
        return next(((res, r) for res, r in _otlp_records(otlp_out) if r["event_name"] == "reach.finding" and
                     r["attributes"].get("reach.finding.kind") == "undeclared-secret"), None)
    res, rec = wait_for(otlp_finding, "the finding in the OTLP receiver", 30)
    check(any(line.get("rejected") == "injected 503" for line in read_jsonl(otlp_out)), "the 503 was retried")
    check_eq(res.get("host.name"), NODE, "resource host.name")
    check(res.get("service.name"), "resource service.name")
    check_eq(rec["attributes"].get("reach.identity"), "host/alerts", "reach.identity")
    check_eq(rec["attributes"].get("reach.edge.object"), undeclared, "reach.edge.object")
    check_eq(rec["attributes"].get("reach.severity"), "medium", "reach.severity")
    check_eq((rec["severity_number"], rec["severity_text"]), (13, "WARN"), "OTLP severity of a medium finding")
    check(rec["time_unix_nano"] > 0, "record time")

    # webhook: edge-triggered JSON
    def hooked(status):
        return [a for line in read_jsonl(hook_out) for a in line["body"]["alerts"]
                if a["status"] == status and a["labels"].get("kind") == "undeclared-secret"]
    fired = wait_for(lambda: hooked("firing"), "the firing alert at the webhook", 30)
    check_eq(fired[0]["labels"]["identity"], "host/alerts", "webhook alert identity")
    check_eq(read_jsonl(hook_out)[0]["content_type"], "application/json", "webhook content type")

    # the epoch's verdict: a ReachVerification alert and an OTLP record
    def verdict_alerts():
        return [a for a in _get_json(f"http://127.0.0.1:{AM_PORT}/api/v2/alerts?active=true")
                if a["labels"].get("alertname") == "ReachVerification"]
    va = wait_for(verdict_alerts, "the verdict alert in Alertmanager", 30)[0]["labels"]
    check_eq((va.get("identity"), va.get("verdict"), va.get("severity"), va.get("node")),
             ("host/alerts", "fail", "high", NODE), "verdict alert labels")
    vr = wait_for(lambda: [r for _, r in _otlp_records(otlp_out) if r["event_name"] == "reach.verification"],
                  "the verdict in OTLP", 30)[0]
    check_eq((vr["attributes"].get("reach.verdict"), vr["severity_number"]), ("fail", 17), "OTLP verdict record")

    # the policy now declares it: the finding resolves, the alert clears
    _policy(policy, [declared, undeclared])
    wait_for(lambda: not [a for a in _am_alerts() if a["labels"].get("kind") == "undeclared-secret"],
             "the alert cleared in Alertmanager", 40)
    wait_for(lambda: any(r["event_name"] == "reach.finding.resolved" and
                         r["attributes"].get("reach.edge.object") == undeclared
                         for _, r in _otlp_records(otlp_out)), "the resolution in OTLP", 30)
    wait_for(lambda: hooked("resolved"), "the resolved alert at the webhook", 30)
    agent.stop()
    # nothing carried the secret file's content
    am_dump = json.dumps(_get_json(f"http://127.0.0.1:{AM_PORT}/api/v2/alerts"))
    check(SECRET not in am_dump, "no secret in Alertmanager")
    for path in (otlp_out, hook_out, agent.err_path, agent.out_path):
        with open(path) as f:
            check(SECRET not in f.read(), f"no secret in {os.path.basename(path)}")


def test_prometheus_scrapes_metrics_and_promtool_accepts_them(cleanup, tmp):
    cg = Cgroup(cleanup, "reach-e2e-metrics")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--metrics-addr", f"127.0.0.1:{METRICS_PORT}"])
    base = f"http://127.0.0.1:{METRICS_PORT}"
    for path, body in (("/healthz", b"ok"), ("/readyz", b"ready")):
        with urllib.request.urlopen(base + path, timeout=5) as r:
            check_eq((r.status, r.read().strip()), (200, body), f"GET {path}")
    cg.run(["/bin/true"])

    def exec_count(text):
        for line in text.splitlines():
            if line.startswith('reach_events_total{kind="exec"}'):
                return float(line.split()[-1])
        return 0
    text = wait_for(lambda: (lambda t: t if exec_count(t) >= 1 else None)(
        urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()), "an exec counted in /metrics", 10)
    p = subprocess.run(["promtool", "check", "metrics"], input=text, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    check_eq(p.returncode, 0, f"promtool check metrics: {p.stdout}")
    for name in ("reach_events_lost_total", "reach_uprobe_attach_total", "reach_kernel_filter_opens_total",
                 "reach_tls_blind_processes",
                 "reach_identities", "reach_edges", "reach_verification_verdicts"):
        check(f"\n{name}" in text or text.startswith(name), f"{name} exposed")

    # a real Prometheus scrapes it
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(f"global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: reach\n"
                f"    static_configs:\n      - targets: ['127.0.0.1:{METRICS_PORT}']\n")
    start_process(cleanup, ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={os.path.join(tmp, 'tsdb')}",
                            f"--web.listen-address=127.0.0.1:{PROM_PORT}"])
    wait_port("127.0.0.1", PROM_PORT, timeout=30)
    query = f"http://127.0.0.1:{PROM_PORT}/api/v1/query?query=reach_events_total%7Bkind%3D%22exec%22%7D"

    def scraped():
        try:
            doc = _get_json(query)
        except OSError:
            return None
        res = doc.get("data", {}).get("result", [])
        return res if res and float(res[0]["value"][1]) >= 1 else None
    res = wait_for(scraped, "Prometheus to scrape reach_events_total", 40, interval=0.5)
    check_eq(res[0]["metric"]["job"], "reach", "scrape job")
    up = _get_json(f"http://127.0.0.1:{PROM_PORT}/api/v1/query?query=up%7Bjob%3D%22reach%22%7D")
    check_eq(up["data"]["result"][0]["value"][1], "1", "the target is up")
    agent.stop()
