"""Agent tool calls (issue #18): interpreted programs told apart."""
import os
import shutil

from harness import Agent, Cgroup, check, check_eq

NODE = os.path.realpath(shutil.which("node") or "/usr/bin/node")


def test_node_programs_told_apart_in_lineage_and_tools(cleanup, tmp):
    """node agent.mjs spawning node server.js: two programs, not one [node];
    the secret the server reads is the server's, by program."""
    if not shutil.which("node"):
        print("SKIP: node not installed")
        return
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
