"""Agent tool calls (issue #18): interpreted programs told apart."""
import os
import shutil

from harness import Agent, Cgroup, Skip, check, check_eq, need_tools, parse_tables

NODE = os.path.realpath(shutil.which("node") or "/usr/bin/node")


def test_node_programs_told_apart_in_lineage_and_tools(cleanup, tmp):
    """node agent.mjs spawning node server.js: two programs, not one [node];
    the secret the server reads is the server's, by program."""
    need_tools("node")
    cg = Cgroup(cleanup, f"reach-e2e-mcp-prog-{os.getpid()}")
    srv_dir = os.path.join(tmp, "srv")
    os.makedirs(srv_dir)
    secret = os.path.join(srv_dir, ".env")
    with open(secret, "w") as f:
        f.write("API_KEY=sk-plantedprogtoken1234567890\n")
    server = os.path.join(srv_dir, "server.js")
    with open(server, "w") as f:
        f.write("const fs = require('fs'); fs.readFileSync(process.argv[2]);\n")
    agent_js = os.path.join(tmp, "agent.mjs")
    with open(agent_js, "w") as f:
        f.write("import { execFileSync } from 'node:child_process';\n"
                "for (let i = 0; i < 2; i++)\n"
                f"  execFileSync(process.execPath, [{server!r}, {secret!r}]);\n")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])
    cg.run([NODE, agent_js])
    a_ident, s_ident = f"{NODE} agent.mjs", f"{NODE} server.js"
    sec = agent.wait_edge("secret", lambda e: e["type"] == "secret" and e["path"] == secret)
    check_eq(sec["lineage"], [a_ident, s_ident], "lineage agent -> server with program names")
    check_eq(sec["process_exe"], s_ident, "the secret read is attributed to the server program")
    t_srv = agent.wait_edge("server tool", lambda e: e["type"] == "tool" and e["exe"] == s_ident)
    check_eq(t_srv["lineage"], [a_ident, s_ident], "server tool lineage")
    check_eq(t_srv["argv"][:2], [NODE, server], "the server's argv is kept (redacted by allow-list, as every tool's)")
    agent.stop()
    tools = {t["exe"]: t for t in agent.summary_edges(cg.rel, "tools")}
    check(a_ident in tools, f"a tool edge for the agent program, got {sorted(tools)}")
    check(NODE not in tools, "no bare [node] tool that folds both programs")
    check_eq(tools[s_ident]["count"], 2, "the server program ran twice")
    check_eq(tools[a_ident]["count"], 1, "the agent program ran once")
    with open(agent.out_path) as f, open(agent.err_path) as g:
        check("sk-plantedprogtoken" not in f.read() + g.read(), "secret content never in the output")


MCP_SERVER_PY = r'''
import json, os, sys
# A stdio MCP server (newline-delimited JSON-RPC), as the Python SDK speaks it.
for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue  # malformed input: ignored, as a real server would
    if "id" not in msg:
        continue
    m = msg.get("method")
    if m == "initialize":
        res = {"protocolVersion": "2025-03-26", "capabilities": {"tools": {}},
               "serverInfo": {"name": "e2e-files", "version": "1.0"}}
    elif m == "tools/call":
        args = msg["params"].get("arguments", {})
        try:
            if msg["params"]["name"] == "read_file":
                text = open(args["path"]).read()
            else:
                text = "\n".join(os.listdir(args["path"]))
            res = {"content": [{"type": "text", "text": str(len(text))}], "isError": False}
        except OSError as e:
            res = {"content": [{"type": "text", "text": str(e)}], "isError": True}
    else:
        res = {}
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": res}) + "\n")
    sys.stdout.flush()
'''

MCP_CLIENT_PY = r'''
import json, subprocess, sys
server, secret, folder, token = sys.argv[1:5]
p = subprocess.Popen([sys.executable, server], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
n = 0
def call(method, params=None, notify=False):
    global n
    msg = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        msg["params"] = params
    if not notify:
        n += 1
        msg["id"] = n
    p.stdin.write((json.dumps(msg) + "\n").encode()); p.stdin.flush()
    return None if notify else json.loads(p.stdout.readline())
init = call("initialize", {"protocolVersion": "2025-03-26", "capabilities": {},
                           "clientInfo": {"name": "e2e-agent", "version": "1"}})
call("notifications/initialized", notify=True)
# bad input on the pipe: counted and skipped, nothing else happens
p.stdin.write(b'{"jsonrpc": "2.0", "method": "tools/call", "params": {broken\n'); p.stdin.flush()
p.stdin.write(b'{"id": ' + bytes(range(256)) + b'\n'); p.stdin.flush()
# a call whose arguments carry a token: names kept, each value only as its
# shape (a path's template, a URL's host and path template, a fingerprint)
r1 = call("tools/call", {"name": "read_file", "arguments": {
    "path": secret, "api_token": token, "limit": 10, "opts": {"token": token}, "ids": [token],
    "url": "https://e2e:%s@API.example.com:8443/v1/items/12345?key=%s#frag" % (token, token)}})
r2 = call("tools/call", {"name": "list_directory", "arguments": {"path": folder}})
r3 = call("tools/call", {"name": "list_directory", "arguments": {"path": folder + "/missing"}})
# a huge call, its tool name first: named, arguments unknown
r4 = call("tools/call", {"name": "read_file", "arguments": {"path": secret, "pad": "x" * 5000}})
# a huge call whose tool name is past the capture: a blind road
big = '{"jsonrpc": "2.0", "id": 99, "params": {"arguments": {"pad": "%s"}, "name": "write_file"}, "method": "tools/call"}' % ("y" * 5000)
p.stdin.write((big + "\n").encode()); p.stdin.flush(); p.stdout.readline()
p.stdin.close(); p.wait()
print(json.dumps([init["result"]["serverInfo"]["name"], r1["result"]["isError"], r2["result"]["isError"],
                  r3["result"]["isError"]]))
'''


def test_python_mcp_pair_over_stdio(cleanup, tmp):
    """A Python MCP client spawning a Python MCP server over stdio: mcp-tool
    edges with the server program, argument names only, the file read by
    the server; malformed and huge messages counted and skipped."""
    from harness import PYTHON
    import json
    cg = Cgroup(cleanup, f"reach-e2e-mcp-py-{os.getpid()}")
    # a fixed folder (not mkdtemp's random name): its path template is known
    folder = shape_folder(cleanup, "reach-e2e-mcpshapes-py")
    secret = os.path.join(folder, ".env")
    token = "sk-plantedmcptoken0987654321abcdef"
    key, key_file = fp_key_file(tmp)
    with open(secret, "w") as f:
        f.write("OPENAI_API_KEY=sk-plantedenvcontent1234567890\n")
    server, client = os.path.join(tmp, "files_server.py"), os.path.join(tmp, "agent.py")
    with open(server, "w") as f:
        f.write(MCP_SERVER_PY)
    with open(client, "w") as f:
        f.write(MCP_CLIENT_PY)
    identity = "host/mcp-agent"
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--identity-rule", f"cgroup:{cg.rel} {identity}",
                                 "--fingerprint-key", key_file])
    out = cg.run([PYTHON, client, server, secret, folder, token])
    check_eq(json.loads(out.stdout), ["e2e-files", False, False, True], "the MCP exchange itself worked")
    a_ident, s_ident = f"{PYTHON} agent.py", f"{PYTHON} files_server.py"
    rf = agent.wait_edge("mcp read_file", lambda e: e["type"] == "mcp-tool" and e["tool"] == "read_file")
    check_eq(rf["server"], "files_server.py", "server: the peer process's program")
    check_eq(rf["object"], "files_server.py read_file", "object: server and tool")
    check_eq(rf["server_info"], "e2e-files", "serverInfo.name from initialize's answer")
    check_eq(rf["arguments"], "api_token,ids,limit,opts,path,url", "argument names, sorted; never values")
    # each value's shape, field by field: a path's template, a URL without
    # userinfo, query or fragment, strings and numbers fingerprinted with the
    # agent's key, containers by type only
    rf_shapes = (f"api_token=fp:{fp(key, token)},ids=[…],limit=fp:{fp(key, '10')},opts={{…}},"
                 f"path={folder}/.env,url=https://api.example.com:8443/v1/items/{{id}}")
    check_eq(rf["argument_shapes"], rf_shapes, "read_file's argument shapes (first call)")
    check_eq(rf["transport"], "stdio", "transport")
    check_eq(rf["process_exe"], a_ident, "the caller is the agent program")
    check_eq(rf["lineage"], [a_ident], "caller lineage")
    ld = agent.wait_edge("mcp list_directory",
                         lambda e: e["type"] == "mcp-tool" and e["tool"] == "list_directory")
    check_eq(ld["arguments"], "path", "list_directory argument names")
    check_eq(ld["argument_shapes"], f"path={folder}", "list_directory's first call's shape")
    sec = agent.wait_edge("secret", lambda e: e["type"] == "secret" and e["path"] == secret)
    check_eq(sec["process_exe"], s_ident, "the file read is attributed to the server program")
    check_eq(sec["lineage"], [a_ident, s_ident], "lineage agent -> server with program names")
    check_eq((sec.get("mcp_server"), sec.get("mcp_tool")), ("files_server.py", "read_file"),
             "the read is the effect of the one read_file call being served")
    summary = agent.stop()
    mcp = {e["object"]: e for e in agent.summary_edges(cg.rel, "mcp_tools")}
    check_eq(sorted(mcp), ["files_server.py list_directory", "files_server.py read_file"],
             "one edge per (server, tool); the undecodable call made none")
    check_eq(mcp["files_server.py read_file"]["count"], 2, "read_file called twice (once huge)")
    check_eq(mcp["files_server.py list_directory"]["count"], 2, "list_directory called twice")
    check_eq(summary["mcp_calls"], 4, "tools/call recorded")
    check_eq(summary["mcp_calls_undecoded"], 1, "the call cut before its name is counted")
    # every distinct shape set once, the first call's first; the huge
    # read_file call (arguments cut) adds none
    check_eq(mcp["files_server.py read_file"]["argument_shapes"], rf_shapes, "read_file: one shape set")
    ld_shapes = f"path={folder};path={folder}/missing"
    check_eq(mcp["files_server.py list_directory"]["argument_shapes"], ld_shapes, "list_directory: two shape sets")
    check_eq((summary["mcp_arg_shapes_cut"], summary["mcp_arg_shapes_dropped"]), (0, 0), "no shape cut or dropped")
    # answers by id on the pipe pair: list_directory once fine and once
    # isError; read_file's huge call has its id (json.dumps puts it last) past
    # the capture, so its answer matches no call (the undecoded write_file
    # call, without a path, is never answered: the server stops on it)
    check_eq((mcp["files_server.py read_file"]["responses"], mcp["files_server.py read_file"]["errors"]), (1, 0),
             "read_file's answer, no error")
    check_eq((mcp["files_server.py list_directory"]["responses"], mcp["files_server.py list_directory"]["errors"]),
             (2, 1), "list_directory answers, one isError")
    check_eq((summary["mcp_responses"], summary["mcp_responses_unmatched"], summary["mcp_calls_unanswered"]),
             (3, 1, 0), "answers matched; one to a call without a readable id unmatched; none unanswered")
    check(summary["jsonrpc_malformed"] >= 2, f"malformed and binary writes counted: {summary['jsonrpc_malformed']}")
    check(summary["jsonrpc_truncated"] >= 2, f"huge messages counted: {summary['jsonrpc_truncated']}")
    # the ledger: reachctl reach --kind mcp-tool, and the blind road
    ledger = os.path.join(agent.state_dir, "ledger.pb.z")
    led = subprocess_json([REACHCTL_BIN(), "reach", "--ledger", ledger, "--kind", "mcp-tool", "-o", "json"])
    led_all = json.dumps(subprocess_json([REACHCTL_BIN(), "reach", "--ledger", ledger, "-o", "json"]))
    edges = [e for i in led["identities"] for e in i["edges"]]
    check_eq(sorted(e["object"] for e in edges), ["files_server.py list_directory", "files_server.py read_file"],
             "mcp-tool edges in the ledger")
    e = next(e for e in edges if e["category"] == "read_file")
    check_eq((e["name"], e["dest_class"], e["arguments"], e["arg_shapes"], e["proto"], e["mcp_responses"],
              e["mcp_errors"]),
             ("files_server.py", "e2e-files", "api_token,ids,limit,opts,path,url", rf_shapes, "stdio", 1, 0),
             "ledger fields")
    check_eq(e["fields"]["argument_shapes"], rf_shapes, "reachctl reach -o json: argument_shapes field")
    e = next(e for e in edges if e["category"] == "list_directory")
    check_eq((e["mcp_responses"], e["mcp_errors"]), (1 + 1, 1), "ledger: list_directory answers and errors")
    check_eq(e["arg_shapes"], ld_shapes, "ledger: list_directory's shape sets")
    led_sec = [e for i in subprocess_json([REACHCTL_BIN(), "reach", "--ledger", ledger, "--kind", "secret", "-o",
                                           "json"])["identities"] for e in i["edges"] if e["object"] == secret]
    check_eq([(e.get("mcp_server"), e.get("mcp_tool")) for e in led_sec], [("files_server.py", "read_file")],
             "ledger: the secret edge names the call it was an effect of")
    table = subprocess_run([REACHCTL_BIN(), "reach", "--ledger", ledger]).stdout
    check_eq([r.get("VIA") for r in parse_tables(table).get("secret", []) if r["PATH"] == secret],
             ["files_server.py/read_file"], f"reachctl reach shows the effect's call: {table[:600]}")
    check_eq([(r["RESPONSES"], r["ERRORS"]) for r in parse_tables(table).get("mcp-tool", []) if r["TOOL"] == "list_directory"],
             [("2", "1")], f"reachctl reach shows answers and errors of an mcp-tool edge: {table[-800:]}")
    check_eq(sorted(r.get("ARGUMENT_SHAPES") for r in parse_tables(table).get("mcp-tool", [])),
             sorted([rf_shapes, ld_shapes]), f"reachctl reach shows the argument shapes: {table[-800:]}")
    check("mcp-undecoded" in led_all, "the undecodable call is the identity's blind road mcp-undecoded")
    # a policy that declares one tool of that server: unusual-mcp-tool for the other
    policy = os.path.join(tmp, "policy.yaml")
    with open(policy, "w") as f:
        f.write("apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: mcp-agent}\nspec:\n"
                f"  identity: {identity}\n  secrets: ['{folder}/**']\n  tools: ['{PYTHON}']\n"
                "  mcp:\n    - {server: 'files_server.*', tools: [read_file]}\n")
    p = subprocess_run([REACHCTL_BIN(), "verify", "--ledger", ledger, "--policy", policy, "-o", "json"])
    check_eq(p.returncode in (1, 2), True, f"verify reports findings (exit {p.returncode}): {p.stderr[-300:]}")
    v = json.loads(p.stdout)
    unusual = [f for f in v["findings"] if f["kind"] == "unusual-mcp-tool"]
    check_eq([f["object"] for f in unusual], ["files_server.py list_directory"],
             "unusual-mcp-tool for the undeclared tool only")
    check_eq(unusual[0]["severity"], "medium", "alerted like unusual-tool (medium)")
    check("not in spec.mcp" in unusual[0]["message"], f"message names spec.mcp: {unusual[0]['message']}")
    # without the secrets declared: the .env read is undeclared, and says which call caused it
    policy2 = os.path.join(tmp, "policy2.yaml")
    with open(policy2, "w") as f:
        f.write("apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: mcp-agent}\nspec:\n"
                f"  identity: {identity}\n  tools: ['{PYTHON}']\n"
                "  mcp:\n    - {server: 'files_server.*', tools: [read_file, list_directory]}\n")
    p2 = subprocess_run([REACHCTL_BIN(), "verify", "--ledger", ledger, "--policy", policy2, "-o", "json"])
    und = [f for f in json.loads(p2.stdout)["findings"] if f["kind"] == "undeclared-secret" and f["object"] == secret]
    check_eq(len(und), 1, f"the .env read is an undeclared secret: {p2.stdout[-400:]}")
    check(und[0]["message"].endswith(" via files_server.py/read_file"), f"finding names the call: {und[0]['message']}")
    led_all += p2.stdout + table
    led_all += p.stdout
    with open(agent.out_path) as f, open(agent.err_path) as g:
        text = f.read() + g.read() + led_all
    for planted in (token, "sk-plantedenvcontent", "xxxxxxxxxx", "yyyyyyyyyy"):
        check(planted not in text, f"argument value {planted[:12]}... never in the agent's output")


def shape_folder(cleanup, name):
    """/tmp/NAME/files, made afresh and removed after the test."""
    base = os.path.join("/tmp", name)
    shutil.rmtree(base, True)
    os.makedirs(os.path.join(base, "files"))
    os.chmod(base, 0o755)
    cleanup.add(shutil.rmtree, base, True)
    return os.path.join(base, "files")


def fp_key_file(tmp):
    """A fingerprint key for the agent, so the test can compute what a
    fingerprint must be."""
    key = os.urandom(32)
    path = os.path.join(tmp, "fingerprint.key")
    with open(path, "wb") as f:
        f.write(key)
    os.chmod(path, 0o600)
    return key, path


def fp(key, value):
    import hashlib
    import hmac
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]


def REACHCTL_BIN():
    from harness import REACHCTL
    return REACHCTL


def subprocess_run(argv):
    import subprocess
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)


def subprocess_json(argv):
    import json
    import subprocess
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError(f"{argv} exited {p.returncode}: {p.stderr}")
    return json.loads(p.stdout)


def test_npm_sdk_client_and_server_filesystem(cleanup, tmp):
    """The real @modelcontextprotocol/sdk client spawning the real
    @modelcontextprotocol/server-filesystem over stdio (tests/package-lock.json):
    read_file and list_directory are mcp-tool edges of server-filesystem, the
    .env read is the server's, a policy declaring read_file alone finds
    list_directory; the token given as a tool argument appears nowhere."""
    import json
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    server_js = os.path.join(root, "node_modules", "@modelcontextprotocol", "server-filesystem", "dist", "index.js")
    if not shutil.which("node") or not os.path.exists(server_js):
        raise Skip("not installed: node or tests/node_modules (scripts/deps.sh installs them)")
    client_js = os.path.join(root, "e2e", "clients", "mcp_agent.mjs")
    cg = Cgroup(cleanup, f"reach-e2e-mcp-npm-{os.getpid()}")
    folder = shape_folder(cleanup, "reach-e2e-mcpshapes-npm")
    secret = os.path.join(folder, ".env")
    token = "sk-plantednpmtoken5555666677778888"
    key, key_file = fp_key_file(tmp)
    with open(secret, "w") as f:
        f.write("OPENAI_API_KEY=sk-plantednpmenvcontent123456\n")
    identity = "host/mcp-npm-agent"
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path, "--identity-rule", f"cgroup:{cg.rel} {identity}",
                                 "--fingerprint-key", key_file])
    out = cg.run([NODE, client_js, folder, secret, token])
    check_eq(json.loads(out.stdout.strip().splitlines()[-1]),
             {"server": "secure-filesystem-server", "r1": False, "r2": False}, "the MCP exchange itself worked")
    a_ident, s_ident = f"{NODE} mcp_agent.mjs", f"{NODE} server-filesystem"
    rf = agent.wait_edge("read_file", lambda e: e["type"] == "mcp-tool" and e["tool"] == "read_file")
    check_eq((rf["server"], rf["server_info"], rf["arguments"], rf["transport"]),
             ("server-filesystem", "secure-filesystem-server", "head,note,path", "stdio"), "read_file edge")
    check_eq(rf["process_exe"], a_ident, "the caller is the agent program")
    # the values as shapes: the path's template, the number and the token
    # fingerprinted with the agent's key
    rf_shapes = f"head=fp:{fp(key, '1')},note=fp:{fp(key, token)},path={folder}/.env"
    check_eq(rf["argument_shapes"], rf_shapes, "read_file's argument shapes")
    ld = agent.wait_edge("list_directory", lambda e: e["type"] == "mcp-tool" and e["tool"] == "list_directory")
    check_eq(ld["object"], "server-filesystem list_directory", "list_directory edge")
    check_eq((ld["arguments"], ld["argument_shapes"]), ("path", f"path={folder}"), "list_directory's shapes")
    sec = agent.wait_edge("secret", lambda e: e["type"] == "secret" and e["path"] == secret)
    check_eq(sec["process_exe"], s_ident, "the .env read is attributed to the server program")
    check_eq(sec["lineage"], [a_ident, s_ident], "lineage agent -> server with program names")
    check_eq((sec.get("mcp_server"), sec.get("mcp_tool")), ("server-filesystem", "read_file"),
             "the .env read is linked to the read_file call the server was serving")
    summary = agent.stop()
    mcp = {e["object"]: e for e in agent.summary_edges(cg.rel, "mcp_tools")}
    check_eq([(o, mcp[o]["responses"], mcp[o]["errors"]) for o in sorted(mcp)],
             [("server-filesystem list_directory", 1, 0), ("server-filesystem read_file", 1, 0)],
             "each call's answer matched by id on the socketpair, no error")
    check_eq((summary["mcp_responses_unmatched"], summary["mcp_calls_unanswered"]), (0, 0),
             "the SDK's other requests (initialize, tools/list) answered and matched too")
    ledger = os.path.join(agent.state_dir, "ledger.pb.z")
    policy = os.path.join(tmp, "policy.yaml")
    with open(policy, "w") as f:
        f.write("apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: npm-agent}\nspec:\n"
                f"  identity: {identity}\n  secrets: ['{folder}/**']\n  tools: ['{NODE}']\n"
                "  mcp:\n    - {server: server-filesystem, tools: [read_file]}\n")
    p = subprocess_run([REACHCTL_BIN(), "verify", "--ledger", ledger, "--policy", policy, "-o", "json"])
    v = json.loads(p.stdout)
    unusual = [f["object"] for f in v["findings"] if f["kind"] == "unusual-mcp-tool"]
    check_eq(unusual, ["server-filesystem list_directory"], "unusual-mcp-tool for the undeclared tool only")
    led_j = subprocess_json([REACHCTL_BIN(), "reach", "--ledger", ledger, "--kind", "mcp-tool", "-o", "json"])
    check_eq(sorted((e["category"], e["arg_shapes"], e["fields"]["argument_shapes"])
                    for i in led_j["identities"] for e in i["edges"]),
             [("list_directory", f"path={folder}", f"path={folder}"), ("read_file", rf_shapes, rf_shapes)],
             "ledger: the shapes persisted, and reachctl's argument_shapes field")
    led = json.dumps(subprocess_json([REACHCTL_BIN(), "reach", "--ledger", ledger, "-o", "json"]))
    with open(agent.out_path) as f, open(agent.err_path) as g:
        text = f.read() + g.read() + led + p.stdout
    for planted in (token, "sk-plantednpmenvcontent"):
        check(planted not in text, f"{planted[:14]}... never in the agent's output, ledger or findings")


UDS_SERVER_PY = r"""
import json, os, socket, sys, threading
# An MCP server on a unix socket (newline JSON-RPC), started on its own: not
# a child of the agent that connects to it.
path = sys.argv[1]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path + ".tmp"); os.rename(path + ".tmp", path)
srv.listen(4)
def serve(c):
    f = c.makefile("rb")
    for line in f:
        msg = json.loads(line)
        if "id" not in msg:
            continue
        m = msg.get("method")
        if m == "initialize":
            res = {"protocolVersion": "2025-03-26", "capabilities": {"tools": {}},
                   "serverInfo": {"name": "e2e-uds", "version": "1.0"}}
        elif m == "tools/call":
            args = msg["params"].get("arguments", {})
            try:
                if msg["params"]["name"] == "read_file":
                    text = open(args["path"]).read()
                else:
                    text = "\n".join(os.listdir(args["path"]))
                res = {"content": [{"type": "text", "text": str(len(text))}], "isError": False}
            except OSError as e:
                res = {"content": [{"type": "text", "text": str(e)}], "isError": True}
        else:
            res = {}
        c.sendall((json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": res}) + "\n").encode())
    c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

UDS_CLIENT_PY = r"""
import json, socket, sys
path, secret, folder, token, also_list = sys.argv[1:6]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
f = s.makefile("rb")
n = 0
def call(method, params):
    global n
    n += 1
    s.sendall((json.dumps({"jsonrpc": "2.0", "id": n, "method": method, "params": params}) + "\n").encode())
    return json.loads(f.readline())
init = call("initialize", {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "a", "version": "1"}})
out = [init["result"]["serverInfo"]["name"]]
out.append(call("tools/call", {"name": "read_file", "arguments": {"path": secret, "api_token": token}})["result"]["isError"])
if also_list == "1":
    out.append(call("tools/call", {"name": "list_directory", "arguments": {"path": folder + "/missing"}})["result"]["isError"])
s.close()
print(json.dumps(out))
"""


def test_unix_socket_server_not_a_child(cleanup, tmp):
    """An MCP server listening on a unix socket, started on its own (not the
    agent's child): named by the socket's SO_PEERCRED process, transport
    unix; answers matched by id on the connection; the secret it reads while
    serving read_file is linked to that call; a second run that also calls
    list_directory (isError) is what `reachctl diff` shows appeared."""
    from harness import PYTHON, start_process, wait_for
    import json
    cg = Cgroup(cleanup, f"reach-e2e-mcp-uds-{os.getpid()}")
    folder = shape_folder(cleanup, "reach-e2e-mcpshapes-uds")
    key, key_file = fp_key_file(tmp)
    secret = os.path.join(folder, ".env")
    token = "sk-plantedudstoken4444333322221111"
    with open(secret, "w") as f:
        f.write("OPENAI_API_KEY=sk-plantedudsenvcontent98765\n")
    server, client = os.path.join(tmp, "uds_server.py"), os.path.join(tmp, "uds_agent.py")
    with open(server, "w") as f:
        f.write(UDS_SERVER_PY)
    with open(client, "w") as f:
        f.write(UDS_CLIENT_PY)
    sock = os.path.join(tmp, "mcp.sock")
    identity = "host/mcp-uds-agent"
    args = ["--cgroup", cg.path, "--identity-rule", f"cgroup:{cg.rel} {identity}", "--fingerprint-key", key_file]
    ledger = os.path.join(tmp, "state", "ledger.pb.z")
    led_a = os.path.join(tmp, "a.pb.z")

    # run 1: initialize + read_file
    agent = Agent(cleanup, tmp, args)
    srv = start_process(cleanup, [PYTHON, server, sock], preexec_fn=cg.enter_fn())
    wait_for(lambda: os.path.exists(sock) or srv.poll() is not None, "the unix socket server listens")
    check(srv.poll() is None, "the unix socket server runs")
    out = cg.run([PYTHON, client, sock, secret, folder, token, "0"])
    check_eq(json.loads(out.stdout), ["e2e-uds", False], "the MCP exchange itself worked")
    a_ident, s_ident = f"{PYTHON} uds_agent.py", f"{PYTHON} uds_server.py"
    rf = agent.wait_edge("mcp read_file", lambda e: e["type"] == "mcp-tool" and e["tool"] == "read_file")
    check_eq((rf["server"], rf["object"], rf["server_info"], rf["arguments"], rf["transport"]),
             ("uds_server.py", "uds_server.py read_file", "e2e-uds", "api_token,path", "unix"),
             "the server is the socket's peer process, by program, though no child")
    check_eq((rf["process_exe"], rf["lineage"]), (a_ident, [a_ident]), "the caller is the agent program")
    rf_shapes = f"api_token=fp:{fp(key, token)},path={folder}/.env"
    check_eq(rf["argument_shapes"], rf_shapes, "the values' shapes: the path's template, the token's fingerprint")
    sec = agent.wait_edge("secret", lambda e: e["type"] == "secret" and e["path"] == secret)
    check_eq(sec["process_exe"], s_ident, "the read is the server's")
    check_eq((sec.get("mcp_server"), sec.get("mcp_tool")), ("uds_server.py", "read_file"),
             "the read is linked to the read_file call being served")
    summary = agent.stop()
    mcp = {e["object"]: e for e in agent.summary_edges(cg.rel, "mcp_tools")}
    check_eq(sorted(mcp), ["uds_server.py read_file"], "one mcp-tool edge")
    check_eq((mcp["uds_server.py read_file"]["responses"], mcp["uds_server.py read_file"]["errors"]), (1, 0),
             "its answer matched on the connection")
    check_eq((summary["mcp_responses"], summary["mcp_responses_unmatched"]), (1, 0),
             "initialize's answer matched too, not counted as a call's")
    shutil.copy(ledger, led_a)
    text = agent.stderr()
    with open(agent.out_path) as f:
        text += f.read()

    # run 2, the same ledger: also list_directory, which fails
    agent2 = Agent(cleanup, tmp, args, name="reachd2")
    out = cg.run([PYTHON, client, sock, secret, folder, token, "1"])
    check_eq(json.loads(out.stdout), ["e2e-uds", False, True], "the second exchange worked")
    ld = agent2.wait_edge("mcp list_directory", lambda e: e["type"] == "mcp-tool" and e["tool"] == "list_directory")
    check_eq((ld["server"], ld["transport"], ld["argument_shapes"]), ("uds_server.py", "unix", f"path={folder}/missing"),
             "list_directory edge")
    agent2.stop()
    led = subprocess_json([REACHCTL_BIN(), "reach", "--ledger", ledger, "--kind", "mcp-tool", "-o", "json"])
    edges = {e["object"]: e for i in led["identities"] for e in i["edges"]}
    check_eq((edges["uds_server.py read_file"]["mcp_responses"], edges["uds_server.py read_file"]["mcp_errors"],
              edges["uds_server.py read_file"]["count"]), (2, 0, 2), "read_file over both runs, in the ledger")
    check_eq((edges["uds_server.py list_directory"]["mcp_responses"],
              edges["uds_server.py list_directory"]["mcp_errors"], edges["uds_server.py list_directory"]["proto"]),
             (1, 1, "unix"), "list_directory answered with an error")
    check_eq(edges["uds_server.py read_file"]["arg_shapes"], rf_shapes, "read_file: the same shapes in both runs, once")
    d = subprocess_run([REACHCTL_BIN(), "diff", led_a, ledger, "-o", "json"])
    check_eq(d.returncode, 1, f"reach grew between the runs: exit 1 ({d.stderr})")
    doc = json.loads(d.stdout)
    check_eq(doc["appeared"], 1, "one edge appeared")
    app = [e for i in doc["identities"] if i["identity"] == identity for e in i["appeared"]]
    check_eq([(e["kind"], e["object"], e["name"], e["category"], e["arguments"], e["arg_shapes"], e["proto"])
              for e in app],
             [("mcp-tool", "uds_server.py list_directory", "uds_server.py", "list_directory", "path",
               f"path={folder}/missing", "unix")],
             "diff: the new MCP tool, by server and tool, argument names and the values' shapes only")
    back = subprocess_run([REACHCTL_BIN(), "diff", ledger, led_a, "-o", "json"])
    check_eq((back.returncode, json.loads(back.stdout)["disappeared"]), (0, 1), "the other way: it disappeared")
    text += agent2.stderr() + d.stdout + json.dumps(led)
    with open(agent2.out_path) as f:
        text += f.read()
    # the path argument only as its shape (its template: this path has no id
    # in it), nowhere else
    text = text.replace(f"path={folder}/missing", "")
    for planted in (token, "sk-plantedudsenvcontent", folder + "/missing"):
        check(planted not in text, f"{planted[:14]}... never in the agent's output, ledger or diff")


def test_unix_socket_server_outside_the_monitored_set(cleanup, tmp):
    """The same unix-socket server outside every monitored cgroup: reach has
    no exec of it, so the server is named from /proc by the socket's
    SO_PEERCRED process (its program, never its arguments); its answers are
    not captured (it is not monitored), so none is counted."""
    from harness import PYTHON, start_process, wait_for
    import json
    cg = Cgroup(cleanup, f"reach-e2e-mcp-uds-out-{os.getpid()}")
    folder = os.path.join(tmp, "files")
    os.makedirs(folder)
    secret = os.path.join(folder, ".env")
    token = "sk-plantedudsouttoken777788889999"
    with open(secret, "w") as f:
        f.write("OPENAI_API_KEY=sk-plantedudsoutenvcontent1\n")
    server, client = os.path.join(tmp, "uds_server.py"), os.path.join(tmp, "uds_agent.py")
    with open(server, "w") as f:
        f.write(UDS_SERVER_PY)
    with open(client, "w") as f:
        f.write(UDS_CLIENT_PY)
    sock = os.path.join(tmp, "mcp.sock")
    agent = Agent(cleanup, tmp, ["--cgroup", cg.path])
    srv = start_process(cleanup, [PYTHON, server, sock])  # not in the cgroup: not monitored
    wait_for(lambda: os.path.exists(sock) or srv.poll() is not None, "the unix socket server listens")
    check(srv.poll() is None, "the unix socket server runs")
    out = cg.run([PYTHON, client, sock, secret, folder, token, "0"])
    check_eq(json.loads(out.stdout), ["e2e-uds", False], "the MCP exchange itself worked")
    rf = agent.wait_edge("mcp read_file", lambda e: e["type"] == "mcp-tool" and e["tool"] == "read_file")
    check_eq((rf["server"], rf["object"], rf["transport"], rf["server_info"]),
             ("uds_server.py", "uds_server.py read_file", "unix", ""),
             "named from /proc by SO_PEERCRED; its initialize answer unseen")
    summary = agent.stop()
    check_eq((summary["mcp_calls"], summary["mcp_responses"], summary["mcp_responses_unmatched"]), (1, 0, 0),
             "the call counted; the unmonitored server's answers are not captured")
    check(not any(e.get("path") == secret for e in agent.edges()), "the unmonitored server's read is not reach's")
    with open(agent.out_path) as f:
        text = f.read() + agent.stderr()
    for planted in (token, "sk-plantedudsoutenvcontent"):
        check(planted not in text, f"{planted[:14]}... never in the agent's output")
