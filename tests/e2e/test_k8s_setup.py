"""The Kubernetes install without setup (issue 20): PolicyReports on a
cluster that lacks their CRD. The base (deploy/base) leaves reports off
because reach does not install the wgpolicyk8s.io CRD; with reports turned
on (deploy/components/policy-reports) and the CRD missing, the agent must say
why its writes fail (the group is not served, is its CRD installed?), count
them in reach_kube_writes_total{result="failed"}, and go on judging: the
verdict, /readyz and /metrics do not depend on the reports. The stand-in API
server (tests/e2e/kube_server.py --without policyreports) answers 404 for
every PolicyReport path, as an API server without the CRD does.
Also the monitoring that ships with the install: the dashboard's queries and
the alert rules on a real Prometheus scraping a real agent."""
import json
import os
import re
import subprocess
import urllib.request
from urllib.parse import quote

import yaml

from harness import (REACHCTL, ROOT, Agent, Cgroup, check, check_eq, parse_tables, start_process, wait_for,
                     wait_port)
from test_kube import NODE, _cid, _made, _pod, _secret, _systemd_container_cgroup, _uid
from test_reachpolicy import KubeAPI, metric, reachpolicy

API_PORT = 20500      # this file's ports: 20500-20519
METRICS_PORT = 20501


def _metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def _status(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_policy_reports_without_their_crd(cleanup, tmp):
    _made.clear()
    root = Cgroup(cleanup, f"reach-e2e-nocrd-{os.getpid()}")
    uid, cid = _uid(), _cid()
    cg = _systemd_container_cgroup(cleanup, root, uid, cid)
    key = _secret(tmp, "provider.key")
    api = KubeAPI(cleanup, tmp, [_pod("ai", "gateway-7d9f8c6b5-bbbbb", "gateway", uid, cid, "r.example/gw:1")],
                  API_PORT, server_args=("--without", "policyreports"))
    # no policy declares the key: with the "alert" default it is a finding
    agent = Agent(cleanup, tmp, [*api.args(), "--policy-reports", "--default-policy", "alert",
                                 "--settle-window", "0", "--metrics-addr", f"127.0.0.1:{METRICS_PORT}"])
    wait_for(lambda: agent.reachctl("status", "-o", "json").get("pods_monitored") == 1, "pod monitored", 15)
    m = _metrics(METRICS_PORT)
    check_eq(metric(m, "reach_kube_writes_total", '{result="failed"}'), 0, "no write failed before a finding")
    cg.python("import sys; open(sys.argv[1]).read()", key)

    path = f"/apis/wgpolicyk8s.io/v1alpha2/namespaces/ai/policyreports/reach-gateway-{NODE}"
    wait_for(lambda: any(r.startswith("PATCH " + path) and r.endswith(" 404") for r in api.requests()),
             "the report written and refused with 404", 20)
    failed = wait_for(lambda: (metric(_metrics(METRICS_PORT), "reach_kube_writes_total", '{result="failed"}') or 0)
                      >= 1 or None, "the refused write counted", 10)
    check(failed, "reach_kube_writes_total{result=failed} >= 1")
    m = _metrics(METRICS_PORT)
    check_eq(metric(m, "reach_kube_writes_total", '{result="sent"}'), 0, "nothing was sent")
    check_eq(metric(m, "reach_policy_reports"), 1, "the report is kept, to be written again on the next change")
    # the log says what is missing, once, not a bare "HTTP 404"
    err = agent.stderr()
    hint = [ln for ln in err.splitlines() if "does not serve wgpolicyk8s.io/v1alpha2" in ln]
    check(hint, f"no log line names the missing API group: {err[-800:]}")
    check("CustomResourceDefinition" in hint[0] and "HTTP 404" in hint[0], f"the hint: {hint[0]}")
    check_eq(len(hint), 1, "said once")
    # the agent goes on judging: the finding is open, the verdict fails, it is ready
    p = subprocess.run([REACHCTL, "verify", "--socket", agent.socket, "--identity", "ai/gateway"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    check_eq(p.returncode, 1, f"verify: the undeclared key fails ({p.stdout[-300:]}{p.stderr[-300:]})")
    check(key in p.stdout, "the finding names the key")
    open_secret = [ln for ln in m.splitlines()
                   if ln.startswith('reach_findings_open{identity="ai/gateway",kind="undeclared-secret"')]
    check_eq(len(open_secret), 1, "the open finding in /metrics")
    check_eq(_status(METRICS_PORT, "/readyz"), 200, "ready: reports are not needed to judge")
    agent.stop()
    check(api.token not in agent.stderr(), "no API token in the log")


PROM_PORT = 20503
METRICS_PORT_DASH = 20502
DEAD_OTLP_PORT = 20504   # nothing listens: the otlp sink's failures are the shipping series
API_PORT_DASH = 20505


def _prom(path):
    with urllib.request.urlopen(f"http://127.0.0.1:{PROM_PORT}{path}", timeout=5) as r:
        return json.loads(r.read())


def test_dashboard_and_rules_on_real_prometheus(cleanup, tmp):
    """A real Prometheus (Debian's) scrapes a real agent that has a finding,
    a refused ReachPolicy and a sink that fails: every query of
    deploy/monitoring/dashboard.json evaluates without error and returns
    series, and every rule of the PrometheusRule loads and evaluates healthy,
    the verdict-fail and refused-object alerts becoming active."""
    _made.clear()
    root = Cgroup(cleanup, f"reach-e2e-dash-{os.getpid()}")
    uid, cid = _uid(), _cid()
    cg = _systemd_container_cgroup(cleanup, root, uid, cid)
    key = _secret(tmp, "provider.key")
    api = KubeAPI(cleanup, tmp, [_pod("ai", "gateway-7d9f8c6b5-ccccc", "gateway", uid, cid, "r.example/gw:1")],
                  API_PORT_DASH)
    # Prometheus starts first (its start-up overlaps the agent's): it scrapes
    # the agent's port once the agent listens
    with open(os.path.join(ROOT, "deploy", "monitoring", "prometheusrule.yaml")) as f:
        rule_doc = yaml.safe_load(f)
    rules = os.path.join(tmp, "rules.yml")
    with open(rules, "w") as f:
        yaml.safe_dump({"groups": rule_doc["spec"]["groups"]}, f)
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['{rules}']\n"
                f"scrape_configs:\n  - job_name: reach\n    static_configs:\n"
                f"      - targets: ['127.0.0.1:{METRICS_PORT_DASH}']\n")
    start_process(cleanup, ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={os.path.join(tmp, 'tsdb')}",
                            f"--web.listen-address=127.0.0.1:{PROM_PORT}"])
    wait_port("127.0.0.1", PROM_PORT, timeout=30)
    # declares reach for another namespace: refused
    api.command("put reachpolicies " + json.dumps(reachpolicy("ai", "other", {"serviceAccount": "payments/api"})))
    agent = Agent(cleanup, tmp, [*api.args(), "--reachpolicies", "--policy-reports", "--default-policy", "alert",
                                 "--settle-window", "0", "--metrics-addr", f"127.0.0.1:{METRICS_PORT_DASH}",
                                 "--otlp-url", f"http://127.0.0.1:{DEAD_OTLP_PORT}/v1/logs"])
    wait_for(lambda: agent.reachctl("status", "-o", "json").get("pods_monitored") == 1, "pod monitored", 15)
    cg.python("import sys; open(sys.argv[1]).read()", key)
    wait_for(lambda: 'kind="undeclared-secret"' in _metrics(METRICS_PORT_DASH), "the finding open", 20)


    with open(os.path.join(ROOT, "deploy", "monitoring", "dashboard.json")) as f:
        dash = json.load(f)
    exprs = [(p["title"], t["expr"]) for p in dash["panels"] for t in p.get("targets", [])]
    check(len(exprs) >= 10, f"{len(exprs)} dashboard queries")

    def answers(expr):
        try:
            doc = _prom("/api/v1/query?query=" + quote(expr))
        except (OSError, ValueError):
            return None
        return doc if doc.get("status") == "success" and doc["data"]["result"] else None
    for title, expr in exprs:
        # rate() needs two scrapes in its window: a few seconds at 1 s
        doc = wait_for(lambda: answers(expr), f"dashboard panel '{title}': {expr} returns series", 40, interval=0.5)
        check_eq(doc["status"], "success", f"{expr}")

    def rules_healthy():
        try:
            groups = _prom("/api/v1/rules")["data"]["groups"]
        except (OSError, ValueError, KeyError):
            return None
        rs = [r for g in groups for r in g["rules"]]
        return rs if rs and all(r.get("health") == "ok" for r in rs) else None
    rs = wait_for(rules_healthy, "every rule evaluated healthy", 40, interval=0.5)
    want = {r.get("alert") or r.get("record") for g in rule_doc["spec"]["groups"] for r in g["rules"]}
    check_eq({r["name"] for r in rs}, want, "Prometheus loaded every rule of the PrometheusRule")

    def active(name):
        try:
            alerts = _prom("/api/v1/alerts")["data"]["alerts"]
        except (OSError, ValueError, KeyError):
            return None
        return [a for a in alerts if a["labels"].get("alertname") == name and a["state"] in ("pending", "firing")]
    for name in ("ReachVerdictFail", "ReachPolicyObjectsRefused"):
        check(name in want, f"the rules have {name}")
        wait_for(lambda: active(name), f"alert {name} active", 30, interval=0.5)
    agent.stop()


def test_startup_error_names_the_missing_capability(cleanup, tmp):
    """The agent started without a capability it needs says which one is
    missing (not a generic "verifier or kernel refused them"), exits non-zero
    and leaves nothing attached. capsh drops capabilities from the bounding
    set of a root shell, as a container runtime does."""
    import shutil
    from harness import REACHD
    check(shutil.which("capsh"), "capsh is installed (scripts/deps.sh: libcap2-bin)")
    cg = Cgroup(cleanup, f"reach-e2e-caps-{os.getpid()}")
    for drop, named, not_named in (("cap_bpf,cap_sys_admin", "missing cap_bpf ", "cap_perfmon ("),
                                   ("cap_perfmon,cap_sys_admin", "missing cap_perfmon ", "cap_bpf ("),
                                   ("cap_bpf,cap_perfmon,cap_sys_admin", "missing cap_perfmon,cap_bpf ", None)):
        state = os.path.join(tmp, drop.replace(",", "-"))
        os.makedirs(state)
        p = subprocess.run(["capsh", f"--drop={drop}", "--", "-c",
                            f"exec {REACHD} --cgroup {cg.path} --duration 1 --state-dir {state} "
                            f"--socket {state}/s.sock"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        check(p.returncode != 0, f"without {drop}: exit {p.returncode}")
        err = [ln for ln in p.stderr.splitlines() if "error: cannot start" in ln]
        check_eq(len(err), 1, f"one start-up error without {drop}: {p.stderr[-600:]}")
        check("loading the BPF programs: Operation not permitted" in err[0], err[0])
        check(named in err[0], f"without {drop} the error does not say {named!r}: {err[0]}")
        check(not_named is None or not_named not in err[0], f"without {drop} it names {not_named!r}: {err[0]}")
        check("verifier" not in err[0], f"blames the verifier: {err[0]}")
    # not root at all: the capability list is the one --drop-caps keeps, not
    # a stale one (cap_sys_resource is not needed since Linux 5.11)
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", REACHD, "--cgroup", cg.path,
                        "--duration", "1", "--state-dir", os.path.join(tmp, "nobody"),
                        "--socket", os.path.join(tmp, "nobody.sock")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    check(p.returncode != 0, f"as nobody: exit {p.returncode}")
    check("not root: reachd runs as uid 0 holding cap_dac_read_search,cap_sys_ptrace,cap_perfmon,cap_bpf"
          in p.stderr, f"as nobody: {p.stderr[-400:]}")
    check("SYS_RESOURCE" not in p.stderr.upper(), f"names a capability the agent does not need: {p.stderr[-300:]}")


def test_demo_leaves_the_host_untouched(cleanup, tmp):
    """`make demo` (scripts/demo.sh) gives its workload a fake service-account
    token, an API key and an app dir where a pod has them, in a private mount
    namespace: nothing appears on the host (no /run/secrets/..., /etc/llm,
    /srv/agent created or written), and the demo still shows the reach and
    the findings it is about (no secret among them)."""
    watched = ["/run/secrets", "/var/run/secrets/kubernetes.io/serviceaccount/token", "/etc/llm",
               "/etc/llm/keys/openai.key", "/srv/agent", "/srv/agent/.env"]

    def snapshot():
        out = {}
        for p in watched:
            try:
                st = os.lstat(p)
                out[p] = (st.st_mode, st.st_ino, st.st_mtime_ns, sorted(os.listdir(p)) if os.path.isdir(p) else None)
            except FileNotFoundError:
                out[p] = None
        return out
    before = snapshot()
    p = subprocess.run(["bash", os.path.join(ROOT, "scripts", "demo.sh")], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=180, cwd=ROOT)
    check_eq(p.returncode, 0, f"demo: {p.stderr[-800:]}")
    check_eq(snapshot(), before, "the demo changed the host's filesystem")
    out = p.stdout
    # the ledger as reachctl reach prints it: a table per edge kind, a column per field
    tables = parse_tables(out)
    paths = {r["PATH"] for r in tables.get("secret", [])}
    for path in ("/run/secrets/kubernetes.io/serviceaccount/token", "/etc/llm/keys/openai.key", "/srv/agent/.env"):
        check(path in paths, f"the demo's secret table lacks {path!r}: {sorted(paths)}")
    check(any((r["HOST"], r["METHOD"], r["PATH"], r["KIND"]) == ("api.llm-provider.example:18090", "GET", "/v1/models",
                                                                  "bearer") and re.fullmatch(r"[0-9a-f]{16}", r["FINGERPRINT"])
              for r in tables.get("credential", [])), f"the demo's credential table: {tables.get('credential')}")
    check("sk-demo-not-a-real-key" not in out + p.stderr and "demo.token" not in out + p.stderr,
          "a demo secret's content was printed")
    findings = [ln.split()[:2] for ln in out.splitlines() if ln.startswith(("  CRITICAL", "  HIGH", "  MEDIUM"))]
    # scripts/demo-policy.yaml: everything declared but uname and the MCP tool read_file
    check_eq(sorted(findings), [["MEDIUM", "unusual-mcp-tool"], ["MEDIUM", "unusual-tool"]],
             "the demo's findings: uname and an undeclared MCP tool, nothing about the secrets")
    check("/usr/bin/uname" in out, "uname named")
