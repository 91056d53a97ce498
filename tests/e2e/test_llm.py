"""LLM API calls and MCP over HTTP (issue #18): the real openai SDK against a
loopback stand-in provider, over TLS and plaintext; a JSON-RPC tools/call
POSTed to an MCP server over HTTP; LLM and MCP JSON POSTs over HTTP/2 whose
first DATA frame reach reads. Every field recorded is asserted; the planted API key and prompt
appear nowhere reach writes."""
import json
import os
import shutil
import subprocess

from harness import (PYTHON, REACHCTL, ROOT, Agent, Cgroup, Skip, check, check_eq, make_test_ca, parse_tables,
                     probe_node_first, start_process, wait_port)

NODE = os.path.realpath(shutil.which("node") or "/usr/bin/node")
PLAIN_PORT, TLS_PORT = 20760, 20761
KEY = "sk-plantedllmkey0123456789abcdefABCDEF"
PROMPT = "tell nobody: prompt-planted-7f3a9c"


def _need_sdk():
    sdk = os.path.join(ROOT, "tests", "node_modules", "openai", "package.json")
    if not shutil.which("node") or not os.path.exists(sdk):
        raise Skip("not installed: node or the openai SDK in tests/node_modules (scripts/deps.sh installs them)")


def _provider(cleanup, tmp):
    ca, cert, key = make_test_ca(cleanup, tmp)
    log = os.path.join(tmp, "llm_server.log")
    start_process(cleanup, [PYTHON, os.path.join(ROOT, "tests", "e2e", "llm_server.py"), "--bind", "127.0.0.1",
                            "--tls-port", str(TLS_PORT), "--plain-port", str(PLAIN_PORT), "--cert", cert, "--key", key,
                            "--log", log])
    wait_port("127.0.0.1", PLAIN_PORT)
    wait_port("127.0.0.1", TLS_PORT)
    return ca, log


def _run(cmd, what, timeout=30):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)


def _no_plants(agent, extra=""):
    with open(agent.out_path) as f, open(agent.err_path) as g:
        text = f.read() + g.read() + extra
    for planted in (KEY, "prompt-planted-7f3a9c", "get_weather"):
        check(planted not in text, f"{planted[:14]}... never in the agent's output, ledger or findings")


def _sdk_calls(cleanup, tmp, scheme, port, ca):
    cg = Cgroup(cleanup, f"reach-e2e-llm-{scheme}-{os.getpid()}")
    identity = f"host/llm-{scheme}"
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--identity-rule", f"cgroup:{cg.rel} {identity}"])
    env = dict(os.environ, NODE_EXTRA_CA_CERTS=ca, LLM_KEY=KEY, LLM_PROMPT=PROMPT)
    if scheme == "https":
        probe_node_first(agent, cg, NODE)  # judged, not raced (the race: test_transport_gaps)
    out = cg.run([NODE, os.path.join(ROOT, "tests", "e2e", "clients", "llm_agent.mjs"),
                  f"{scheme}://127.0.0.1:{port}/v1"], env=env)
    check_eq(json.loads(out.stdout.strip().splitlines()[-1]), ["ok", "ok", 1], "the SDK's calls worked")
    ident = f"{NODE} llm_agent.mjs"
    chat = agent.wait_edge("chat llm edge", lambda e: e["type"] == "llm" and e["model"] == "gpt-4o-mini")
    check_eq((chat["object"], chat["provider"], chat["host"], chat["model"], chat["tools_offered"], chat["proto"]),
             ("openai-compatible 127.0.0.1 gpt-4o-mini", "openai-compatible", "127.0.0.1", "gpt-4o-mini", True,
              "http/1.1"), "chat completion edge")
    check_eq(chat["process_exe"], ident, "the caller is the agent program")
    emb = agent.wait_edge("embedding llm edge", lambda e: e["type"] == "llm" and e["model"] == "text-embedding-3-small")
    check_eq((emb["object"], emb["tools_offered"]),
             ("openai-compatible 127.0.0.1 text-embedding-3-small", False), "embedding edge: no tools offered")
    summary = agent.stop()
    llm = {e["object"]: e for e in agent.summary_edges(cg.rel, "llm_calls")}
    check_eq(sorted(llm), ["openai-compatible 127.0.0.1 gpt-4o-mini", "openai-compatible 127.0.0.1 text-embedding-3-small"],
             "one llm edge per (provider, host, model)")
    check_eq(llm["openai-compatible 127.0.0.1 gpt-4o-mini"]["count"], 2, "two chat calls counted, not deduplicated away")
    check_eq(llm["openai-compatible 127.0.0.1 text-embedding-3-small"]["count"], 1, "one embedding call")
    check_eq(summary["llm_calls"], 3, "llm calls recorded")
    check_eq(summary["llm_model_unseen"], 0, "every model was read")
    check_eq(summary["http_bodies_orphan"], 0, "every body had its head")
    ledger = os.path.join(agent.state_dir, "ledger.pb.z")
    p = _run([REACHCTL, "reach", "--ledger", ledger, "--kind", "llm", "-o", "json"], "reach --kind llm")
    check_eq(p.returncode, 0, f"reachctl reach --kind llm: {p.stderr[-300:]}")
    edges = {e["object"]: e for i in json.loads(p.stdout)["identities"] for e in i["edges"]}
    e = edges["openai-compatible 127.0.0.1 gpt-4o-mini"]
    check_eq((e["kind"], e["category"], e["name"], e["dest_class"], e["llm_tools_offered"], e["proto"], e["count"]),
             ("llm", "openai-compatible", "127.0.0.1", "gpt-4o-mini", True, "http/1.1", 2), "ledger llm edge")
    check_eq(edges["openai-compatible 127.0.0.1 text-embedding-3-small"]["llm_tools_offered"], False,
             "ledger: no tools offered with the embedding")
    table = _run([REACHCTL, "reach", "--ledger", ledger, "--kind", "llm"], "reach table").stdout
    rows = {r["MODEL"]: r for r in parse_tables(table).get("llm", [])}
    check_eq({m: (r["PROVIDER"], r["HOST"], r["TOOLS_OFFERED"], r["PROTO"], r["COUNT"]) for m, r in rows.items()},
             {"gpt-4o-mini": ("openai-compatible", "127.0.0.1", "true", "http/1.1", "2"),
              "text-embedding-3-small": ("openai-compatible", "127.0.0.1", "false", "http/1.1", "1")},
             f"the table says provider, host, model, tools, proto, count: {table}")
    return agent, identity, ledger, p.stdout + table


def test_openai_sdk_plaintext(cleanup, tmp):
    """openai SDK over plain HTTP (undici writes head and body in one writev)."""
    _need_sdk()
    ca, _ = _provider(cleanup, tmp)
    agent, identity, ledger, text = _sdk_calls(cleanup, tmp, "http", PLAIN_PORT, ca)
    _no_plants(agent, text)


def test_openai_sdk_tls_and_policy(cleanup, tmp):
    """openai SDK over TLS (node's SSL_write); spec.llm declares one model:
    undeclared-llm-model for the other."""
    _need_sdk()
    ca, _ = _provider(cleanup, tmp)
    agent, identity, ledger, text = _sdk_calls(cleanup, tmp, "https", TLS_PORT, ca)
    policy = os.path.join(tmp, "policy.yaml")
    with open(policy, "w") as f:
        f.write("apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: llm-agent}\nspec:\n"
                f"  identity: {identity}\n  tools: ['{NODE}']\n"
                "  egress: [{host: 127.0.0.1}]\n  credentials: [{host: '127.0.0.1*', kinds: [bearer]}]\n"
                "  llm:\n    - {provider: openai-compatible, host: 127.0.0.1, models: ['gpt-4o*']}\n")
    p = _run([REACHCTL, "verify", "--ledger", ledger, "--policy", policy, "-o", "json"], "verify")
    check(p.returncode in (1, 2), f"verify reports findings (exit {p.returncode}): {p.stderr[-300:]}")
    v = json.loads(p.stdout)
    und = [f for f in v["findings"] if f["kind"] == "undeclared-llm-model"]
    check_eq([f["object"] for f in und], ["openai-compatible 127.0.0.1 text-embedding-3-small"],
             "undeclared-llm-model for the undeclared model only")
    check("not in spec.llm" in und[0]["message"], f"message names spec.llm: {und[0]['message']}")
    _no_plants(agent, text + p.stdout)


MCP_HTTP_CLIENT = r'''
import http.client, json, sys
# An MCP client over streamable HTTP: JSON-RPC POSTs with http.client,
# which writes the head and the body in two writes.
port, token = int(sys.argv[1]), sys.argv[2]
def post(msg):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/mcp", body=json.dumps(msg), headers={"Content-Type": "application/json",
              "Accept": "application/json, text/event-stream"})
    r = c.getresponse(); body = r.read(); c.close()
    return json.loads(body) if body else None
post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-03-26",
      "capabilities": {}, "clientInfo": {"name": "e2e", "version": "1"}}})
post({"jsonrpc": "2.0", "method": "notifications/initialized"})
for i in range(2):
    r = post({"jsonrpc": "2.0", "id": 2 + i, "method": "tools/call",
              "params": {"name": "search_docs", "arguments": {"query": token, "limit": 3}}})
print(json.dumps(r["result"]["isError"]))
'''


def test_mcp_tools_call_over_http(cleanup, tmp):
    """A JSON-RPC tools/call in an HTTP POST body (the head and body in two
    writes): an mcp-tool edge whose server is host and path, argument names
    only."""
    _provider(cleanup, tmp)
    import hashlib
    import hmac
    cg = Cgroup(cleanup, f"reach-e2e-llm-mcphttp-{os.getpid()}")
    key, key_file = os.urandom(32), os.path.join(tmp, "fingerprint.key")
    with open(key_file, "wb") as f:
        f.write(key)
    os.chmod(key_file, 0o600)
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--fingerprint-key", key_file])
    token = "tok-plantedmcphttp99887766554433"
    out = cg.run([PYTHON, "-c", MCP_HTTP_CLIENT, str(PLAIN_PORT), token])
    check_eq(out.stdout.strip(), "false", "the MCP exchange worked")
    e = agent.wait_edge("mcp over http", lambda e: e["type"] == "mcp-tool" and e["tool"] == "search_docs")
    check_eq((e["object"], e["server"], e["arguments"], e["transport"]),
             ("127.0.0.1/mcp search_docs", "127.0.0.1/mcp", "limit,query", "http"), "mcp-tool edge over HTTP")
    fp = lambda v: hmac.new(key, v.encode(), hashlib.sha256).hexdigest()[:16]  # noqa: E731
    check_eq(e["argument_shapes"], f"limit=fp:{fp('3')},query=fp:{fp(token)}",
             "the values' shapes over HTTP too: keyed fingerprints, never the token")
    summary = agent.stop()
    mcp = {x["object"]: x for x in agent.summary_edges(cg.rel, "mcp_tools")}
    check_eq(sorted(mcp), ["127.0.0.1/mcp search_docs"], "only the tools/call is an edge")
    check_eq(mcp["127.0.0.1/mcp search_docs"]["count"], 2, "each call counts")
    check_eq(summary["http_bodies"], 4, "four JSON POST bodies read")
    check_eq(summary["llm_calls"], 0, "no llm call")
    with open(agent.out_path) as f, open(agent.err_path) as g:
        check(token not in f.read() + g.read(), "the tool argument's value never in the output")


H2C_PORT, H2TLS_PORT = 20880, 20881
# node's http2 client writes each frame's header and payload as iovecs of
# one writev: the DATA frame's payload is walked apart from its header
NODE_H2_MCP = r'''
const http2 = require("http2");
const [port, token] = process.argv.slice(1);
const c = http2.connect(`http://127.0.0.1:${port}`);
const r = c.request({":method": "POST", ":path": "/mcp/node", "content-type": "application/json"});
r.on("response", (h) => process.stdout.write(String(h[":status"])));
r.resume();
r.on("end", () => c.close());
r.end(JSON.stringify({jsonrpc: "2.0", id: 1, method: "tools/call",
                      params: {name: "read_file", arguments: {path: token}}}));
'''


def test_h2_json_post_bodies_are_read(cleanup, tmp):
    """HTTP/2 JSON POSTs (curl over nghttp2 to nghttpd): the kernel sends the
    first DATA frame of each client stream that starts like JSON and user
    space pairs it with the stream's decoded request. An LLM call over TLS
    (curl --http2, libssl) is an llm edge with its model, proto h2, no
    llm-body-unseen road; an MCP tools/call over h2c is an mcp-tool edge
    whose server is host and path. A JSON POST whose body does not start
    like JSON (a bare scalar) is not read: its blind road, after the wait.
    No planted key, prompt or argument value anywhere."""
    curl, nghttpd = shutil.which("curl"), shutil.which("nghttpd")
    if not curl or not nghttpd:
        raise Skip("not installed: curl / nghttp2-server (scripts/deps.sh)")
    ca, cert, key = make_test_ca(cleanup, tmp)
    docroot = os.path.join(tmp, "www")
    os.makedirs(docroot)
    start_process(cleanup, [nghttpd, "--no-tls", "-d", docroot, "-a", "127.0.0.1", str(H2C_PORT)])
    start_process(cleanup, [nghttpd, "-d", docroot, "-a", "127.0.0.1", str(H2TLS_PORT), key, cert])
    wait_port("127.0.0.1", H2C_PORT)
    wait_port("127.0.0.1", H2TLS_PORT)
    cg = Cgroup(cleanup, f"reach-e2e-llm-h2-{os.getpid()}")
    identity = "host/llm-h2"
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--identity-rule", f"cgroup:{cg.rel} {identity}"])
    token = "tok-plantedmcph2-5566778899aabbcc"
    # the bodies from files: reach keeps curl's (redacted) argv, the prompt
    # and the argument value must only travel in the request
    llm_body, mcp_body, scalar = (os.path.join(tmp, n) for n in ("llm.json", "mcp.json", "scalar.json"))
    with open(llm_body, "w") as f:
        json.dump({"model": "gpt-4o", "messages": [{"role": "user", "content": PROMPT}],
                   "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]}, f)
    with open(mcp_body, "w") as f:
        json.dump({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                   "params": {"name": "search_docs", "arguments": {"query": token, "limit": 3}}}, f)
    with open(scalar, "w") as f:
        f.write("12345")
    for args in (["--http2", "--cacert", ca, "-H", f"authorization: Bearer {KEY}", "-d", f"@{llm_body}",
                  f"https://127.0.0.1:{H2TLS_PORT}/v1/chat/completions"],
                 ["--http2-prior-knowledge", "-d", f"@{mcp_body}", f"http://127.0.0.1:{H2C_PORT}/mcp"],
                 ["--http2-prior-knowledge", "-d", f"@{scalar}", f"http://127.0.0.1:{H2C_PORT}/v1/embeddings"]):
        out = cg.run([curl, "-s", "-o", "/dev/null", "-w", "%{http_version}", "--max-time", "10", "-H",
                      "content-type: application/json"] + args, check_rc=False)
        check_eq(out.stdout.strip(), "2", f"curl spoke HTTP/2: {out.stderr[-300:]}")
    out = cg.run([NODE, "-e", NODE_H2_MCP, str(H2C_PORT), token], check_rc=False)
    check_eq(out.stdout.strip(), "404", f"node's http2 POST answered (nghttpd has no /mcp/node): {out.stderr[-300:]}")
    e = agent.wait_edge("h2 llm edge", lambda e: e["type"] == "llm" and e["model"] == "gpt-4o")
    check_eq((e["object"], e["provider"], e["host"], e["model"], e["proto"], e["tools_offered"]),
             ("openai-compatible 127.0.0.1 gpt-4o", "openai-compatible", "127.0.0.1", "gpt-4o", "h2", True),
             "llm edge over HTTP/2 with the model read from the DATA frame")
    m = agent.wait_edge("h2 mcp edge", lambda e: e["type"] == "mcp-tool" and e["tool"] == "search_docs")
    check_eq((m["object"], m["server"], m["arguments"], m["transport"]),
             ("127.0.0.1/mcp search_docs", "127.0.0.1/mcp", "limit,query", "http"), "mcp-tool edge over h2c")
    m = agent.wait_edge("node h2 mcp edge", lambda e: e["type"] == "mcp-tool" and e["tool"] == "read_file")
    check_eq((m["object"], m["server"], m["arguments"], m["transport"], m["process_exe"]),
             ("127.0.0.1/mcp/node read_file", "127.0.0.1/mcp/node", "path", "http", NODE),
             "mcp-tool edge from node's http2 client")
    # the scalar body: not read, its road named after the wait (or at the stop)
    summary = agent.stop()
    llm = {x["object"]: x for x in agent.summary_edges(cg.rel, "llm_calls")}
    check_eq(sorted(llm), ["openai-compatible 127.0.0.1 ?", "openai-compatible 127.0.0.1 gpt-4o"],
             "the read call and the unread one")
    check_eq(llm["openai-compatible 127.0.0.1 gpt-4o"]["count"], 1, "one call")
    check_eq(summary["llm_model_unseen"], 1, "only the scalar body's model is unseen")
    check_eq(summary["http_bodies"], 3, "three HTTP/2 bodies read")
    check_eq(summary["mcp_calls"], 2, "two tools/calls")
    check_eq((summary["http_bodies_orphan"], summary["h2_bodies_unpaired"]), (0, 0), "every body had its stream")
    ledger = os.path.join(agent.state_dir, "ledger.pb.z")
    cov = _run([REACHCTL, "coverage", "--ledger", ledger, "-o", "json"], "coverage")
    check("llm-body-unseen" in cov.stdout and "/v1/embeddings" in cov.stdout,
          f"the unread body's road names its call: {cov.stdout[-600:]}")
    check("json-body-unseen" not in cov.stdout and "/v1/chat/completions" not in cov.stdout,
          f"the bodies read are no road: {cov.stdout[-600:]}")
    with open(agent.out_path) as f, open(agent.err_path) as g:
        check(token not in f.read() + g.read() + cov.stdout, "the tool argument's value never in the output")
    _no_plants(agent, cov.stdout)


LONG_HEAD_CLIENT = r'''
import http.client, json, sys
# An OpenAI-shaped call whose head is longer than one capture (a 3 KiB
# header): the kernel follows the head in pieces and does not read the body.
port, prompt = int(sys.argv[1]), sys.stdin.read()
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
c.request("POST", "/v1/chat/completions", body=json.dumps({"model": "gpt-4o", "messages": [
          {"role": "user", "content": prompt}]}), headers={"Content-Type": "application/json", "X-Pad": "p" * 3000})
r = c.getresponse()
print(json.loads(r.read())["choices"][0]["message"]["content"])
'''


def test_long_head_json_post_is_named(cleanup, tmp):
    """A JSON POST head longer than 2 KiB, whose body the kernel does not
    read: an llm edge with model '?' and the blind road llm-body-unseen."""
    _provider(cleanup, tmp)
    cg = Cgroup(cleanup, f"reach-e2e-llm-long-{os.getpid()}")
    identity = "host/llm-long"
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--identity-rule", f"cgroup:{cg.rel} {identity}"])
    out = cg.run([PYTHON, "-c", LONG_HEAD_CLIENT, str(PLAIN_PORT)], input=PROMPT)
    check_eq(out.stdout.strip(), "ok", "the call worked")
    e = agent.wait_edge("llm edge", lambda e: e["type"] == "llm")
    check_eq((e["object"], e["model"], e["proto"]), ("openai-compatible 127.0.0.1 ?", "?", "http/1.1"),
             "llm edge from the long head, model unknown")
    summary = agent.stop()
    check_eq(summary["llm_model_unseen"], 1, "the unseen model is counted")
    check_eq(summary["http_bodies"], 0, "no body read")
    ledger = os.path.join(agent.state_dir, "ledger.pb.z")
    cov = _run([REACHCTL, "coverage", "--ledger", ledger, "-o", "json"], "coverage")
    check("llm-body-unseen" in cov.stdout, f"the blind road llm-body-unseen: {cov.stdout[-400:]}")
    # offline, from the saved ledger: the road hides an LLM call's model, so
    # it spoils a verdict only where spec.llm judges models
    verdicts = {}
    for name, llm in (("with-llm", "  llm:\n    - {provider: openai-compatible, models: [gpt-4o*]}\n"),
                      ("without-llm", "")):
        policy = os.path.join(tmp, f"{name}.yaml")
        with open(policy, "w") as f:
            f.write(f"""apiVersion: reach.dev/v1
kind: ReachPolicy
metadata:
  name: {name}
spec:
  identity: {identity}
  egress:
    - {{cidr: 127.0.0.1/32, ports: [{PLAIN_PORT}], proto: tcp}}
  tools: ["/**"]
{llm}""")
        p = _run([REACHCTL, "verify", "--ledger", ledger, "--policy", policy, "--identity", identity, "-o", "json"],
                 "verify")
        v = [v for v in json.loads(p.stdout)["identities"] if v["identity"] == identity]
        check_eq(len(v), 1, f"{name}: one verdict: {p.stdout[-600:]} {p.stderr[-300:]}")
        verdicts[name] = (p.returncode, v[0]["verdict"], "llm-body-unseen" in json.dumps(v[0]["reasons"]))
    check_eq(verdicts["with-llm"], (2, "inconclusive", True),
             "spec.llm declared: the unseen model makes verify --ledger inconclusive, naming the road")
    check_eq(verdicts["without-llm"], (0, "pass", False),
             "no spec.llm: the call is judged as egress alone, which was declared")
    _no_plants(agent, cov.stdout + json.dumps(verdicts))
