#!/usr/bin/env python3
"""A workload that behaves like an AI agent process: it reads its Kubernetes
service-account token and an LLM API key, loads a .env, reads an ordinary
config file, and calls a few tools. Run by scripts/demo.sh inside a private
mount namespace where those files are mounted, as they are in a pod."""
import os
import subprocess
import sys

TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
API_KEY = "/etc/llm/keys/openai.key"
port = sys.argv[1]

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
subprocess.run(["sh", "-c", "cat /etc/llm/keys/openai.key | wc -c > /dev/null"], check=False)
subprocess.run(["uname", "-a"], stdout=subprocess.DEVNULL, check=False)
