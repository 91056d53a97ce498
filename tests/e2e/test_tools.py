"""Tool executions and the process tree (issue: sensor foundation)."""
import http.server
import hashlib
import hmac
import os
import shutil
import threading

from harness import PYTHON, Agent, Cgroup, check, check_eq

HTTP_PORT = 18081  # this test's own port


def _http_server(cleanup):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", HTTP_PORT), Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    cleanup.add(srv.server_close)
    cleanup.add(srv.shutdown)
    return srv


def test_shell_runs_curl_and_cat_with_parent_links(cleanup, tmp):
    cg = Cgroup(cleanup, f"reach-e2e-tools-{os.getpid()}")
    _http_server(cleanup)
    secret = os.path.join(tmp, "tool-read.key")
    with open(secret, "w") as f:
        f.write("x\n")
    curl, cat, sh = shutil.which("curl"), shutil.which("cat"), shutil.which("sh")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])
    script = (f"echo $$; curl -s -o /dev/null -H 'Authorization: Bearer sk-plantedtoken1234567890abcd' "
              f"http://127.0.0.1:{HTTP_PORT}/; cat {secret} >/dev/null; exit 0")
    p = cg.run([sh, "-c", script])
    sh_pid = int(p.stdout.split()[0])
    e_sh = agent.wait_edge("sh", lambda e: e["type"] == "tool" and e["exe"] == sh)
    e_curl = agent.wait_edge("curl", lambda e: e["type"] == "tool" and e["exe"] == curl)
    e_cat = agent.wait_edge("cat", lambda e: e["type"] == "tool" and e["exe"] == cat)
    check_eq(e_sh["tgid"], sh_pid, "sh pid")
    for e, name in ((e_curl, "curl"), (e_cat, "cat")):
        check_eq(e["ppid"], sh_pid, f"{name} parent")
        check_eq(e["lineage"], [sh, e["exe"]], f"{name} lineage")
        check_eq(e["argv"][0], name, f"{name} argv[0]")
        check_eq(e["cgroup"], cg.rel, f"{name} cgroup")
        check_eq(e["uid"], 0, f"{name} uid")
    check_eq(e_cat["argv"], ["cat", secret], "cat argv")
    # the bearer token in curl's argv never reaches the output
    check_eq(e_curl["argv"][:4], ["curl", "-s", "-o", "/dev/null"], "curl argv head")
    # the header's value goes, as its keyed fingerprint (issue 21: the
    # marker was "[redacted]" before the allow-list redactor)
    with open(os.path.join(agent.state_dir, "fingerprint.key"), "rb") as kf:
        fp_key = kf.read()
    fp = hmac.new(fp_key, b"Bearer sk-plantedtoken1234567890abcd", hashlib.sha256).hexdigest()[:16]
    check_eq(e_curl["argv"][5], f"Authorization: [redacted:fp:{fp}]", "curl header argument redacted")
    s = agent.edges()
    sec = next(e for e in s if e.get("path") == secret)
    check_eq(sec["lineage"], [sh, cat], "lineage of the secret read by cat")
    agent.stop()
    with open(agent.out_path) as f, open(agent.err_path) as g:
        text = f.read() + g.read()
    check("sk-plantedtoken" not in text, "planted token leaked into reachd output")


def test_python_subprocess_lineage_and_counts(cleanup, tmp):
    cg = Cgroup(cleanup, f"reach-e2e-lineage-{os.getpid()}")
    true_bin = shutil.which("true")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])
    code = "import subprocess, sys\nfor _ in range(5): subprocess.run([sys.argv[1]], check=True)"
    cg.python(code, true_bin)
    e = agent.wait_edge("true", lambda e: e["type"] == "tool" and e["exe"] == true_bin)
    check_eq(e["lineage"], [PYTHON, true_bin], "lineage python -> true")
    agent.stop()
    tools = agent.summary_edges(cg.rel, "tools")
    t = [x for x in tools if x["exe"] == true_bin]
    check_eq(len(t), 1, "one tool edge for five runs")
    check_eq(t[0]["count"], 5, "exec count")
    check_eq(t[0]["events"], 5, "every exec is an event (process tree)")
