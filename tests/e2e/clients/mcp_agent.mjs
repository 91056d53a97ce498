// An MCP client from @modelcontextprotocol/sdk (tests/package-lock.json)
// spawning @modelcontextprotocol/server-filesystem over stdio and calling
// read_file and list_directory. usage: node mcp_agent.mjs DIR FILE TOKEN
import { createRequire } from 'node:module';
import path from 'node:path';

const [dir, file, token] = process.argv.slice(2);
const req = createRequire(import.meta.url);
const mods = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'node_modules');
const sdk = (p) => import(req.resolve(`@modelcontextprotocol/sdk/${p}`, { paths: [mods] }));
const { Client } = await sdk('client/index.js');
const { StdioClientTransport } = await sdk('client/stdio.js');
const server = path.join(mods, '@modelcontextprotocol', 'server-filesystem', 'dist', 'index.js');

const transport = new StdioClientTransport({ command: process.execPath, args: [server, dir], stderr: 'ignore' });
const client = new Client({ name: 'e2e-agent', version: '1.0.0' });
await client.connect(transport);
const r1 = await client.callTool({ name: 'read_file', arguments: { path: file, head: 1, note: token } }).catch((e) => ({ isError: true, e }));
const r2 = await client.callTool({ name: 'list_directory', arguments: { path: dir } });
console.log(JSON.stringify({ server: client.getServerVersion()?.name, r1: !!r1.isError, r2: !!r2.isError }));
await client.close();
