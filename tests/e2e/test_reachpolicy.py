"""ReachPolicy objects end to end (issue 20): the agent lists and watches
reachpolicies.reach.dev through the stand-in API server
(tests/e2e/kube_server.py over TLS with a token), applies them live to the
service accounts of their namespace, refuses a cross-namespace declaration
and an invalid version (a Warning Event on the object, a metric, the last
good version kept), and stops applying a deleted object. The workload is a
real process in a kubepods-shaped cgroup; what is asserted is the agent's own
verification (reachctl verify), its /metrics, /readyz and the Events it wrote."""
import json
import os
import subprocess
import urllib.request

from harness import PYTHON, REACHCTL, ROOT, Agent, Cgroup, check, check_eq, make_test_ca, start_process, wait_for
from test_kube import NODE, _cid, _made, _pod, _secret, _systemd_container_cgroup, _uid

API_PORT = 19600      # this test's ports (19600-19699)
METRICS_PORT = 19601


class KubeAPI:
    def __init__(self, cleanup, tmp, pods, port, server_args=()):
        self.ca, cert, key = make_test_ca(cleanup, tmp)
        self.token = f"reach-e2e-crd-token-{os.getpid()}"
        self.token_file = os.path.join(tmp, "token")
        with open(self.token_file, "w") as f:
            f.write(self.token)
        self.control = os.path.join(tmp, "kube-control")
        os.makedirs(self.control)
        pods_file = os.path.join(tmp, "pods.json")
        with open(pods_file, "w") as f:
            json.dump(pods, f)
        self.port = port
        start_process(cleanup, [PYTHON, os.path.join(ROOT, "tests", "e2e", "kube_server.py"), "--port", str(port),
                                "--cert", cert, "--key", key, "--token", self.token, "--pods", pods_file,
                                "--control", self.control, *server_args])
        wait_for(lambda: os.path.exists(os.path.join(self.control, "ready")), "kube API fixture ready", 10)
        self.n = 0

    def command(self, line):
        self.n += 1
        tmp = os.path.join(self.control, f".{self.n}.tmp")
        with open(tmp, "w") as f:
            f.write(line + "\n")
        final = os.path.join(self.control, f"{self.n}.cmd")
        os.rename(tmp, final)
        wait_for(lambda: not os.path.exists(final), f"kube API applied '{line[:40]}'", 10)
        errors = os.path.join(self.control, "errors.log")
        check(not os.path.exists(errors) or not open(errors).read(), f"fixture command failed: {line[:60]}")

    def objects(self, resource):
        try:
            with open(os.path.join(self.control, "objects.json")) as f:
                return json.load(f).get(resource, [])
        except FileNotFoundError:
            return []

    def requests(self):
        try:
            with open(os.path.join(self.control, "requests.log")) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def args(self):
        return ["--kube-api", f"https://127.0.0.1:{self.port}", "--kube-token-file", self.token_file,
                "--kube-ca", self.ca, "--node-name", NODE]


def reachpolicy(ns, name, spec):
    return {"apiVersion": "reach.dev/v1", "kind": "ReachPolicy",
            "metadata": {"name": name, "namespace": ns, "generation": 1, "labels": {"team": ns},
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
                         "managedFields": [{"manager": "kubectl", "operation": "Apply"}]},
            "spec": spec}


def verify(agent, identity):
    p = subprocess.run([REACHCTL, "verify", "--socket", agent.socket, "--identity", identity, "-o", "json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = None
    return p.returncode, doc


def identity_of(doc, name):
    found = [i for i in (doc or {}).get("identities", []) if i["identity"] == name]
    return found[0] if found else None


def metrics():
    with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=5) as r:
        return r.read().decode()


def metric(text, name, labels=""):
    for line in text.splitlines():
        if line.startswith(name + labels + " ") or (not labels and line.startswith(name + " ")):
            return float(line.split()[-1])
    return None


def readyz():
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/readyz", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def events_for(api, ns, name, reason):
    return [e for e in api.objects("events")
            if e["involvedObject"]["namespace"] == ns and e["involvedObject"]["name"] == name
            and e["reason"] == reason]


def test_reachpolicy_objects_applied_live(cleanup, tmp):
    _made.clear()
    root = Cgroup(cleanup, f"reach-e2e-crd-{os.getpid()}")
    uid, cid = _uid(), _cid()
    cg = _systemd_container_cgroup(cleanup, root, uid, cid)
    key = _secret(tmp, "provider.key")
    keydir = os.path.dirname(key)
    api = KubeAPI(cleanup, tmp, [_pod("ai", "gateway-7d9f8c6b5-aaaaa", "gateway", uid, cid, "r.example/gw:1")],
                  API_PORT)
    # before the agent starts: the gateway's own policy (serviceAccount
    # without a namespace: its own), and another tenant's object declaring
    # reach for the gateway's service account
    api.command("put reachpolicies " + json.dumps(reachpolicy("ai", "gateway", {
        "serviceAccount": "gateway", "secrets": [keydir + "/**"], "tools": ["/**"]})))
    api.command("put reachpolicies " + json.dumps(reachpolicy("tenant-b", "steal", {
        "serviceAccount": "ai/gateway", "secrets": ["/**"], "tools": ["/**"]})))
    # a report collector that is not there (a closed port of ours): the
    # shipping series (spool, drops) are served, as the alert rules expect
    agent = Agent(cleanup, tmp, [*api.args(), "--reachpolicies", "--metrics-addr", f"127.0.0.1:{METRICS_PORT}",
                                 "--settle-window", "0", "--ship-url", f"http://127.0.0.1:{METRICS_PORT + 1}/v1/reports"])
    wait_for(lambda: agent.reachctl("status", "-o", "json").get("pods_monitored") == 1, "pod monitored", 15)
    wait_for(lambda: readyz() == 200, "/readyz once the ReachPolicy objects are applied", 15)
    check(any(r.startswith("GET /apis/reach.dev/v1/reachpolicies ") for r in api.requests()),
          "the objects were listed across namespaces")
    check(any("/apis/reach.dev/v1/reachpolicies?watch=1" in r for r in api.requests()), "and watched")

    # the cross-namespace object: refused, a Warning Event on it, counted
    ev = wait_for(lambda: events_for(api, "tenant-b", "steal", "CrossNamespace"), "CrossNamespace Event", 15)
    check_eq(len(ev), 1, "one Event per object version")
    ev = ev[0]
    check_eq(ev["type"], "Warning", "Event type")
    check_eq(ev["involvedObject"]["kind"], "ReachPolicy", "involvedObject kind")
    check_eq(ev["involvedObject"]["apiVersion"], "reach.dev/v1", "involvedObject apiVersion")
    check(ev["involvedObject"]["uid"], "involvedObject uid")
    check_eq(ev["source"]["host"], NODE, "Event source host")
    check("applies only to service accounts of tenant-b" in ev["message"], f"Event message: {ev['message']}")
    check(ev["metadata"]["name"].startswith("steal."), "generateName")
    m = metrics()
    check_eq(metric(m, "reach_reachpolicy_objects", '{state="refused"}'), 1, "one object refused")
    check_eq(metric(m, "reach_reachpolicy_objects", '{state="applied"}'), 1, "one object applied")
    check_eq(metric(m, "reach_policy_load_errors_total", '{source="reachpolicy"}'), 1, "load errors")
    # every series the alert rules use is one this agent serves
    import re
    import yaml
    with open(os.path.join(ROOT, "deploy", "monitoring", "prometheusrule.yaml")) as f:
        rules = yaml.safe_load(f)
    used = {n for g in rules["spec"]["groups"] for r in g["rules"] for n in re.findall(r"\b(reach_[a-z0-9_]+)", r["expr"])}
    served = set(re.findall(r"^# TYPE (reach_[a-z0-9_]+) ", m, re.M))
    check(len(used) >= 10, f"the rules name {len(used)} series")
    check(used <= served, f"series the rules use but /metrics lacks: {sorted(used - served)}")
    # and every series the Grafana dashboard queries
    with open(os.path.join(ROOT, "deploy", "monitoring", "dashboard.json")) as f:
        dash = json.load(f)
    queried = {n for p in dash["panels"] for t in p["targets"] for n in re.findall(r"\b(reach_[a-z0-9_]+)", t["expr"])}
    check(len(queried) >= 10, f"the dashboard queries {len(queried)} series")
    check(queried <= served, f"series the dashboard queries but /metrics lacks: {sorted(queried - served)}")
    first_success = metric(m, "reach_policy_last_load_success_timestamp_seconds")
    check(first_success > 0, "the (empty) policy files loaded at start")

    # the workload reads its declared key: judged by the object's policy
    cg.python("import sys; open(sys.argv[1]).read()", key)
    wait_for(lambda: any(e["object"] == key for i in agent.reachctl("reach", "-o", "json")["identities"]
                         for e in i["edges"]), "the read recorded", 15)
    rc, doc = wait_for(lambda: (lambda r: r if r[0] == 0 and identity_of(r[1], "ai/gateway") else None)(
        verify(agent, "ai/gateway")), "ai/gateway verified", 15)
    gw = identity_of(doc, "ai/gateway")
    check(gw["has_policy"], "ai/gateway has a policy")
    check(gw["policy"] and gw["policy"].startswith("ReachPolicy ai/gateway"), f"policy ref: {gw['policy']}")
    check_eq(gw["verdict"], "pass", "within the object's policy")

    # an invalid version: refused, the last good one still applies
    api.command("put reachpolicies " + json.dumps(reachpolicy("ai", "gateway", {
        "serviceAccount": "gateway", "secrets": [keydir + "/**"], "tools": ["/**"],
        "egress": [{"host": "x.example", "ports": [70000]}]})))
    ev = wait_for(lambda: events_for(api, "ai", "gateway", "InvalidPolicy"), "InvalidPolicy Event", 15)[0]
    check("spec.egress[0].ports[0]" in ev["message"], f"the loader's reason in the Event: {ev['message']}")
    check("its last good version still applies" in ev["message"], "the Event says the last good version applies")
    wait_for(lambda: metric(metrics(), "reach_policy_load_errors_total", '{source="reachpolicy"}') == 2,
             "the invalid version counted", 10)
    rc, doc = verify(agent, "ai/gateway")
    check_eq(rc, 0, "still judged against the last good version")
    check(identity_of(doc, "ai/gateway")["has_policy"], "the last good version kept")

    # a valid version that no longer declares the key: applied live, fails
    api.command("put reachpolicies " + json.dumps(reachpolicy("ai", "gateway", {
        "serviceAccount": "ai/gateway", "secrets": ["/var/run/secrets/other/**"], "tools": ["/**"]})))

    def fails():
        rc, doc = verify(agent, "ai/gateway")
        return doc if rc == 1 else None
    doc = wait_for(fails, "the new version applied live", 15)
    kinds = sorted({f["kind"] for f in doc["findings"] if f["identity"] == "ai/gateway"})
    check("undeclared-secret" in kinds, f"the key is now undeclared: {kinds}")

    # the cross-namespace object goes: nothing refused any more
    api.command("remove reachpolicies tenant-b/steal")
    wait_for(lambda: metric(metrics(), "reach_reachpolicy_objects", '{state="refused"}') == 0, "no refusal left", 10)
    check(metric(metrics(), "reach_policy_last_load_success_timestamp_seconds") > first_success,
          "the objects loaded with no refusal: a newer last success")

    # the gateway's object deleted: no policy for it any more
    api.command("remove reachpolicies ai/gateway")

    def unpoliced():
        rc, doc = verify(agent, "ai/gateway")
        gw = identity_of(doc, "ai/gateway")
        return gw if gw and not gw["has_policy"] else None
    wait_for(unpoliced, "a deleted object no longer applies", 15)
    check_eq(metric(metrics(), "reach_reachpolicy_objects", '{state="applied"}'), 0, "nothing applied")

    # the Events hold no token; the agent's log neither
    check(api.token not in json.dumps(api.objects("events")), "no token in the Events")
    agent.stop()
    check(api.token not in agent.stderr(), "no token in the agent's log")
    log = agent.stderr()
    check("ReachPolicy tenant-b/steal" in log and "refused" in log, "the refusal is logged")


def test_reachpolicy_not_ready_until_listed(cleanup, tmp):
    """/readyz stays 503 while the ReachPolicy objects cannot be listed (the
    CRD is not installed: 404), and turns 200 once they are."""
    _made.clear()
    api = KubeAPI(cleanup, tmp, [], API_PORT + 2)
    api.command("fail 404 1000")  # every request, pods too: the API answers nothing useful
    root = Cgroup(cleanup, f"reach-e2e-crdready-{os.getpid()}")
    agent = Agent(cleanup, tmp, ["--cgroup", root.path, *api.args(), "--reachpolicies",
                                 "--metrics-addr", f"127.0.0.1:{METRICS_PORT + 2}"])
    url = f"http://127.0.0.1:{METRICS_PORT + 2}/readyz"

    def status():
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
    wait_for(lambda: sum(" 404" in r for r in api.requests() if "reachpolicies" in r) >= 1,
             "the list refused", 15)
    check_eq(status(), 503, "not ready while the objects are not listed")
    api.command("put reachpolicies " + json.dumps(reachpolicy("ai", "gateway", {"serviceAccount": "gateway"})))
    check_eq(status(), 503, "still not ready while the API refuses")
    api.command("clear")  # the CRD is installed: the next list succeeds
    wait_for(lambda: status() == 200, "ready once listed", 45)
    m = urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT + 2}/metrics", timeout=5).read().decode()
    check_eq(metric(m, "reach_reachpolicy_objects", '{state="applied"}'), 1, "the object applied")
    check_eq(metric(m, "reach_policies_loaded"), 1, "one policy loaded")
    agent.stop()


def _reports(api):
    return {(r["metadata"]["namespace"], r["metadata"]["name"]): r for r in api.objects("policyreports")}


def test_policy_reports_follow_findings_and_pods(cleanup, tmp):
    """A PolicyReport per (namespace, service account, node): created with a
    fail result per open finding and the pods as resources, updated when the
    finding resolves (the object now declares the read), deleted when the
    service account's last pod leaves the node."""
    _made.clear()
    root = Cgroup(cleanup, f"reach-e2e-preport-{os.getpid()}")
    uid, cid = _uid(), _cid()
    cg = _systemd_container_cgroup(cleanup, root, uid, cid)
    key = _secret(tmp, "provider.key")
    pod_name = "gateway-7d9f8c6b5-aaaaa"
    api = KubeAPI(cleanup, tmp, [_pod("ai", pod_name, "gateway", uid, cid, "r.example/gw:1")], API_PORT + 4)
    # the object declares the tools it runs but not the key it reads
    api.command("put reachpolicies " + json.dumps(reachpolicy("ai", "gateway", {
        "serviceAccount": "gateway", "secrets": ["/var/run/secrets/none/**"], "tools": ["/**"]})))
    agent = Agent(cleanup, tmp, [*api.args(), "--reachpolicies", "--policy-reports", "--settle-window", "0",
                                 "--metrics-addr", f"127.0.0.1:{METRICS_PORT + 4}"])
    wait_for(lambda: agent.reachctl("status", "-o", "json").get("pods_monitored") == 1, "pod monitored", 15)
    cg.python("import sys; open(sys.argv[1]).read()", key)
    name = ("ai", f"reach-gateway-{NODE}")

    def failing():
        r = _reports(api).get(name)
        return r if r and r["summary"]["fail"] >= 1 else None
    rep = wait_for(failing, "a PolicyReport with the open finding", 20)
    check_eq(rep["apiVersion"], "wgpolicyk8s.io/v1alpha2", "apiVersion")
    check_eq(rep["kind"], "PolicyReport", "kind")
    check_eq(rep["scope"], {"apiVersion": "v1", "kind": "ServiceAccount", "namespace": "ai", "name": "gateway"},
             "scope: the service account")
    check_eq(rep["metadata"]["labels"]["reach.dev/node"], NODE, "node label")
    check_eq(rep["metadata"]["labels"]["reach.dev/verdict"], "fail", "verdict label")
    check_eq(rep["metadata"]["annotations"]["reach.dev/identity"], "ai/gateway", "identity annotation")
    secret_results = [r for r in rep["results"] if r["rule"] == "undeclared-secret"]
    check_eq(len(secret_results), 1, f"one undeclared-secret result: {[r['rule'] for r in rep['results']]}")
    res = secret_results[0]
    check_eq(res["result"], "fail", "result")
    check(res["severity"] in ("medium", "high", "critical"), f"severity {res['severity']}")
    check_eq(res["policy"], "ReachPolicy ai/gateway", "policy: the object")
    check_eq(res["source"], "reach", "source")
    check_eq(res["properties"]["object"], key, "the finding's object")
    check_eq(res["resources"], [{"apiVersion": "v1", "kind": "Pod", "namespace": "ai", "name": pod_name, "uid": uid}],
             "resources: the pod")
    check_eq(rep["summary"]["fail"], sum(1 for r in rep["results"] if r["result"] == "fail"), "summary fail count")
    open_secret = [ln for ln in urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT + 4}/metrics", timeout=5)
                   .read().decode().splitlines()
                   if ln.startswith('reach_findings_open{identity="ai/gateway",kind="undeclared-secret",severity="'
                                    + res["severity"] + '"} ')]
    check_eq(len(open_secret), 1, "the open finding in reach_findings_open")
    check(float(open_secret[0].split()[-1]) >= 1, "counted")
    check(any(r.startswith("PATCH /apis/wgpolicyk8s.io/v1alpha2/namespaces/ai/policyreports/reach-gateway-"
                           f"{NODE}?fieldManager=reach-agent&force=true 200") for r in api.requests()),
          "written by server-side apply")

    # the object now declares the key: the finding resolves, the report follows
    api.command("put reachpolicies " + json.dumps(reachpolicy("ai", "gateway", {
        "serviceAccount": "gateway", "secrets": [os.path.dirname(key) + "/**"], "tools": ["/**"]})))

    def resolved():
        r = _reports(api).get(name)
        return r if r and not any(x["rule"] == "undeclared-secret" for x in r["results"]) else None
    rep = wait_for(resolved, "the report updated when the finding resolved", 20)
    check_eq(rep["summary"]["fail"], 0, "nothing fails")
    check_eq(rep["metadata"]["labels"]["reach.dev/verdict"], "pass", "verdict label pass")
    check_eq(rep["summary"]["pass"], 1, "summary pass")
    wait_for(lambda: 'kind="undeclared-secret"' not in urllib.request.urlopen(
        f"http://127.0.0.1:{METRICS_PORT + 4}/metrics", timeout=5).read().decode(), "the finding no longer open", 10)

    # the pod leaves the node: the report is deleted
    api.command(f"delete {uid}")
    wait_for(lambda: name not in _reports(api), "the report deleted with the last pod", 20)
    check(any(r.startswith(f"DELETE /apis/wgpolicyk8s.io/v1alpha2/namespaces/ai/policyreports/reach-gateway-{NODE} 200")
              for r in api.requests()), "deleted through the API")
    agent.stop()
    check(api.token not in json.dumps(api.objects("policyreports")) and api.token not in agent.stderr(),
          "no token in reports or logs")
