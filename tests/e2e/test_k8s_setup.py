"""The Kubernetes install without setup (issue 20): PolicyReports on a
cluster that lacks their CRD. The base (deploy/base) leaves reports off
because reach does not install the wgpolicyk8s.io CRD; with reports turned
on (deploy/components/policy-reports) and the CRD missing, the agent must say
why its writes fail (the group is not served, is its CRD installed?), count
them in reach_kube_writes_total{result="failed"}, and go on judging: the
verdict, /readyz and /metrics do not depend on the reports. The stand-in API
server (tests/e2e/kube_server.py --without policyreports) answers 404 for
every PolicyReport path, as an API server without the CRD does."""
import os
import subprocess
import urllib.request

from harness import REACHCTL, Agent, Cgroup, check, check_eq, wait_for
from test_kube import NODE, _cid, _made, _pod, _secret, _systemd_container_cgroup, _uid
from test_reachpolicy import KubeAPI, metric

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
