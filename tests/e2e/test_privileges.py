"""The agent's documented privileges (user/common/caps.h): after start it
holds exactly them, and still does its work with them (TLS uprobes attached
at run time, secret content fingerprinted, ledger saved)."""
import hashlib
import hmac
import os

from harness import (AGENT_CAPS, CAPS_ONLY, PYTHON, Agent, Cgroup, check, check_eq, effective_caps, start_process,
                     wait_for)

TOKEN = "e2e-caps-single-token-value"


def test_agent_runs_on_exactly_the_documented_capabilities(cleanup, tmp):
    cg = Cgroup(cleanup, "reach-e2e-caps")
    fp_key = os.urandom(32)
    key_file = os.path.join(tmp, "fingerprint.key")
    with open(key_file, "wb") as f:
        f.write(fp_key)
    os.chmod(key_file, 0o600)
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--fingerprint-key", key_file,
                                 "--identity-rule", f"cgroup:{cg.rel} host/caps"])
    check_eq(effective_caps(agent.proc.pid), sorted(AGENT_CAPS), "the agent's effective capabilities after start")
    # cap_sys_admin is kept exactly when this kernel refuses uprobes without
    # it (the harness measured the same thing): and then the log says why
    check_eq("keeping cap_sys_admin" in agent.stderr(), "cap_sys_admin" in AGENT_CAPS,
             "the agent kept cap_sys_admin for uprobes and said so")
    with open(f"/proc/{agent.proc.pid}/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    check_eq(status["NoNewPrivs"].strip(), "1", "no_new_privs")
    check_eq(int(status["CapInh"], 16), 0, "inheritable set")
    check_eq(int(status["CapAmb"], 16), 0, "ambient set")
    bnd = int(status["CapBnd"], 16)
    check_eq(bnd, int(status["CapEff"], 16), "bounding set = the kept capabilities")
    # still works: a secret read (content fingerprinted through /proc/PID/root
    # needs cap_dac_read_search for a 0600 file of another user) and a tool
    secret_dir = os.path.join(tmp, "secrets")
    os.makedirs(secret_dir)
    token = os.path.join(secret_dir, "api.key")
    with open(token, "w") as f:
        f.write(TOKEN + "\n")
    os.chown(token, 12345, 12345)
    os.chmod(token, 0o600)
    os.chmod(secret_dir, 0o711)
    # the reader stays until the agent has read the file back through its
    # /proc/PID/root (the agent never falls back to its own view of a path)
    go = os.path.join(tmp, "go")
    code = (f"import os, time; os.setgid(12345); os.setuid(12345); open({token!r}).read()\n"
            f"while not os.path.exists({go!r}): time.sleep(0.02)\n"
            "os.execv('/bin/true', ['/bin/true'])")
    reader = start_process(cleanup, [PYTHON, "-c", code], preexec_fn=cg.enter_fn())
    # the 0600 file of uid 12345 was read back (cap_dac_read_search) and
    # fingerprinted with the key: the same HMAC the test computes
    want = hmac.new(fp_key, TOKEN.encode(), hashlib.sha256).hexdigest()[:16]

    def secret_edge():
        doc = agent.reachctl("reach", "--identity", "host/caps", "--kind", "secret", "-o", "json")
        edges = [e for i in doc["identities"] for e in i["edges"] if e["object"] == token]
        return edges[0] if edges else None
    e = wait_for(secret_edge, "the secret edge in the ledger", 15)
    check_eq(e["content_fingerprint"], want, "content fingerprint read with the dropped capabilities")
    open(go, "w").close()
    check_eq(reader.wait(timeout=10), 0, "the reader exited")
    agent.wait_edge("tool edge true", lambda e: e["type"] == "tool" and e["exe"].endswith("/true"))
    agent.stop()
    check(os.path.exists(os.path.join(agent.state_dir, "ledger.pb.z")), "ledger saved with the dropped capabilities")
    if CAPS_ONLY:
        check("capabilities dropped to" in agent.stderr(), "--drop-caps ran under capsh too")
