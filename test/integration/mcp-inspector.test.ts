// The MCP Inspector's CLI mode (a third-party client) lists the tools of a running daemon.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { startTestDaemon } from '../helpers/daemon.js';

const run = promisify(execFile);

test('npx @modelcontextprotocol/inspector --cli <url> --method tools/list', async () => {
  await using d = await startTestDaemon('[server]\nallow_origins = ["local"]\n');
  // The package's own launcher, from this checkout's node_modules (no download at test time).
  const bin = join(process.cwd(), 'node_modules', '.bin', 'inspector');
  const { stdout } = await run(bin, ['--cli', `${d.url}/api/v1/mcp`, '--method', 'tools/list'], { timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
  const { tools } = JSON.parse(stdout) as { tools: { name: string; outputSchema?: unknown }[] };
  assert.equal(tools.length, 20);
  assert.ok(tools.some((t) => t.name === 'task_create'));
  assert.ok(tools.every((t) => t.outputSchema));
});
