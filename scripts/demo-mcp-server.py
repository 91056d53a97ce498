#!/usr/bin/env python3
"""A tiny MCP server for the demo: JSON-RPC 2.0 over stdio, one message per
line (the MCP stdio transport). It answers initialize with its serverInfo
and serves two tools; the demo agent spawns it and calls one."""
import json
import sys

TOOLS = {"search_docs": "search the product docs", "read_file": "read a file"}

for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if "id" not in msg:
        continue  # a notification
    method = msg.get("method")
    if method == "initialize":
        result = {"protocolVersion": "2025-03-26", "capabilities": {"tools": {}},
                  "serverInfo": {"name": "demo-docs", "version": "0.1"}}
    elif method == "tools/list":
        result = {"tools": [{"name": n, "description": d, "inputSchema": {"type": "object"}} for n, d in TOOLS.items()]}
    elif method == "tools/call" and msg.get("params", {}).get("name") == "read_file":
        try:
            with open(msg["params"]["arguments"]["path"]) as f:
                text = f.read(200)
            result = {"content": [{"type": "text", "text": text}], "isError": False}
        except (OSError, KeyError) as e:
            result = {"content": [{"type": "text", "text": str(e)}], "isError": True}
    else:
        result = {"content": [], "isError": True}
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}) + "\n")
    sys.stdout.flush()
