#!/usr/bin/env python3
"""A workload that behaves like an AI agent process: it reads its Kubernetes
service-account token and an LLM API key, loads a .env, reads an ordinary
config file, and calls a few tools. Run by scripts/demo.sh inside a private
mount namespace where those files are mounted, as they are in a pod."""
import json
import os
import subprocess
import sys

TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
API_KEY = "/etc/llm/keys/openai.key"
port = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))  # before the chdir below

for _ in range(3):  # an SDK re-reads its token on every call: 3 reads, one edge
    with open(TOKEN) as f:
        f.read()
with open(API_KEY) as f:
    f.read()
os.chdir("/srv/agent")
with open(".env") as f:  # relative path: reported as /srv/agent/.env
    f.read()
with open("/etc/hostname") as f:  # not a secret: neither stored nor printed
    f.read()

# tool calls, as an agent runtime makes them
subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", "Authorization: Bearer sk-demo0000000000000000000000",
                f"http://api.llm-provider.example:{port}/v1/models"], check=False)
# an LLM call as an SDK makes it: the model named in the JSON body (kept;
# the prompt is not)
subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", "Authorization: Bearer sk-demo0000000000000000000000",
                "-H", "Content-Type: application/json", "-d",
                '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}',
                f"http://api.llm-provider.example:{port}/v1/chat/completions"], check=False)
subprocess.run(["sh", "-c", "cat /etc/llm/keys/openai.key | wc -c > /dev/null"], check=False)
subprocess.run(["uname", "-a"], stdout=subprocess.DEVNULL, check=False)

# one MCP tool call over stdio, as an agent runtime makes it: spawn the
# server, initialize, call a tool (its argument names are kept, not values)
server = subprocess.Popen([sys.executable, os.path.join(HERE, "demo-mcp-server.py")],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd="/")


def rpc(msg):
    server.stdin.write((json.dumps(msg) + "\n").encode())
    server.stdin.flush()
    return json.loads(server.stdout.readline()) if "id" in msg else None


rpc({"jsonrpc": "2.0", "id": 1, "method": "initialize",
     "params": {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "demo-agent"}}})
rpc({"jsonrpc": "2.0", "method": "notifications/initialized"})
rpc({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
     "params": {"name": "read_file", "arguments": {"path": "/etc/hostname"}}})
server.stdin.close()
server.wait()
