// The audit log: hash chain, tamper detection by `caic audit verify`, and no secret ever written.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AuditLog, AUDIT_FILE_NAME, redactRecord, verifyAuditFile } from '../../src/audit/index.js';
import { tempDir } from '../helpers/tmp.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

function verifyCli(configDir: string) {
  const r = spawnSync(process.execPath, [CLI, 'audit', 'verify', '--config-dir', configDir], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function writeLog(dir: string, n: number): string {
  const path = join(dir, AUDIT_FILE_NAME);
  const log = new AuditLog(path);
  for (let i = 1; i <= n; i++) log.append({ event: 'consent.given', user: `u${i}`, granted: ['caic:tasks.read'] });
  log.close();
  return path;
}

test('records chain by SHA-256; reopening continues the chain; the file is 0600', async () => {
  await using dir = await tempDir();
  const path = writeLog(dir.path, 3);
  const again = new AuditLog(path);
  again.append({ event: 'token.issued' });
  again.close();
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.deepEqual(await verifyAuditFile(path), { ok: true, records: 4 });
  const r = verifyCli(dir.path);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /4 records, chain intact/);
});

test('caic audit verify names the first changed record', async () => {
  await using dir = await tempDir();
  const path = writeLog(dir.path, 5);
  const lines = (await readFile(path, 'utf8')).split('\n');
  lines[2] = lines[2]!.replace('"user":"u3"', '"user":"mallory"');
  await writeFile(path, lines.join('\n'));
  const verdict = await verifyAuditFile(path);
  assert.equal(verdict.ok, false);
  assert.equal(!verdict.ok && verdict.line, 3);
  const r = verifyCli(dir.path);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /record 3 is broken: record 3 was changed/);
});

test('a removed record is found', async () => {
  await using dir = await tempDir();
  const path = writeLog(dir.path, 4);
  const lines = (await readFile(path, 'utf8')).split('\n');
  lines.splice(1, 1);
  await writeFile(path, lines.join('\n'));
  const verdict = await verifyAuditFile(path);
  assert.equal(verdict.ok, false);
  assert.equal(!verdict.ok && verdict.line, 2);
});

test('a planted token never reaches the log', async () => {
  await using dir = await tempDir();
  const path = join(dir.path, AUDIT_FILE_NAME);
  const jwt = 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJlc2lnbmF0dXJl';
  const opaque = 'Zx8Qm3kP0vR7tW2yB5nD9fH1jL4sA6gC8eU0iO2pK7x';
  const log = new AuditLog(path);
  log.append({ event: 'tool.call', tool: 'task_create', args: { prompt: 'hi', token: 'short', note: jwt, nested: { refresh_token: opaque, list: [opaque] } } });
  log.append({ event: 'token.refused', reason: `bad ${jwt}`.slice(4), authorization: `Bearer ${opaque}`, code_verifier: 'v'.repeat(43) });
  log.append({ event: 'consent.given', grant: 'g'.repeat(43), client: 'https://client.example/meta.json', user: 'user1' });
  log.close();
  const text = await readFile(path, 'utf8');
  for (const secret of [jwt, opaque, 'short', 'v'.repeat(43)]) assert.equal(text.includes(secret), false, `leaked ${secret.slice(0, 8)}…`);
  assert.match(text, /"prompt":"hi"/, 'harmless values stay');
  assert.match(text, /"grant":"g{43}"/, 'ids caic hands out stay readable');
  assert.deepEqual(redactRecord({ seq: 9, prev: 'x', ts: 'y', ok: 1 }), { ok: 1 }, 'callers cannot forge the chain fields');
  assert.deepEqual(await verifyAuditFile(path), { ok: true, records: 3 });
});

test('reopening a long log reads its end only and continues the chain, also after a record larger than the first read', async () => {
  await using dir = await tempDir();
  const path = writeLog(dir.path, 1500); // ~200 KiB: more than the first window
  const big = new AuditLog(path);
  // One record of ~120 KiB: its line does not fit the first window read from the end.
  big.append({ event: 'mcp.tool', args: Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`k${i}`, 'word '.repeat(38)])) });
  big.close();
  assert.ok((await stat(path)).size > 256 * 1024);
  const again = new AuditLog(path);
  again.append({ event: 'token.issued' });
  again.close();
  assert.deepEqual(await verifyAuditFile(path), { ok: true, records: 1502 });
});
