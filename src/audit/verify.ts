// `caic audit verify`: walks the hash chain of audit.jsonl and names the first record that breaks it.
import { readFile } from 'node:fs/promises';
import { GENESIS, sha256Hex } from './log.js';

export type AuditVerdict =
  | { ok: true; records: number }
  | { ok: false; records: number; line: number; reason: string };

/** Checks every line: valid JSON, `seq` counting up from 1, `prev` = SHA-256 of the line before. */
export async function verifyAuditFile(path: string): Promise<AuditVerdict> {
  const text = await readFile(path, 'utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  let prev = GENESIS;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const n = i + 1;
    let rec: { seq?: unknown; prev?: unknown };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      return { ok: false, records: i, line: n, reason: 'not valid JSON' };
    }
    if (rec.seq !== n) return { ok: false, records: i, line: n, reason: `sequence number ${String(rec.seq)}, expected ${n} (a record was removed or inserted)` };
    if (rec.prev !== prev) {
      // Record n's prev no longer matches record n-1: n-1 was edited (the usual case), or n's prev was.
      if (n === 1) return { ok: false, records: 0, line: 1, reason: 'the first record does not start the chain (its prev was changed)' };
      return { ok: false, records: i - 1, line: n - 1, reason: `record ${n - 1} was changed after it was written (record ${n} holds a different hash of it)` };
    }
    prev = sha256Hex(line);
  }
  return { ok: true, records: lines.length };
}
