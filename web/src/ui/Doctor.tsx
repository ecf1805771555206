// Settings → Server health: what `caic doctor` shows (engine, Docker's data disk, caic's images,
// containers, what clean-up would remove), from GET /api/v1/server/doctor.
import { useCallback, useEffect, useState } from 'react';
import type { DoctorResp } from '../../../src/api/index.js';
import { api, errorMessage } from './client';
import { Banner } from './Banner';
import { formatBytes } from '../lib/format';


const ACTIONS: Record<DoctorResp['hygiene']['actions'][number]['kind'], string> = {
  idleStop: 'Stop idle task',
  removeStopped: 'Remove stopped container',
  removeOrphan: 'Remove orphan container',
  pruneImage: 'Remove image',
};

export function DoctorPanel() {
  const [report, setReport] = useState<DoctorResp | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const load = useCallback(() => {
    setBusy(true);
    api('serverDoctor')
      .then((r) => {
        setReport(r);
        setError('');
      })
      .catch((err: unknown) => setError(errorMessage(err)))
      .finally(() => setBusy(false));
  }, []);
  useEffect(load, [load]);
  if (!report) return error ? <Banner tone="bad">{error}</Banner> : <p className="muted">Loading…</p>;
  const { engine, disk, images, containers, hygiene } = report;
  return (
    <div className="stack" data-testid="doctor">
      {error && <Banner tone="bad">{error}</Banner>}
      <div className="row">
        <span data-testid="doctor-engine">
          {engine.reachable ? (
            <>
              Docker {engine.version} (API {engine.apiVersion}), {engine.storageDriver}
            </>
          ) : (
            <>Docker unreachable{engine.error ? `: ${engine.error}` : ''}</>
          )}
        </span>
        <button type="button" className="small" disabled={busy} onClick={load}>
          {busy ? 'Checking…' : 'Check again'}
        </button>
      </div>
      {disk ? (
        <p data-testid="doctor-disk" className={disk.low ? 'bad' : undefined}>
          Disk: {formatBytes(disk.freeBytes)} free of {formatBytes(disk.totalBytes)} on <code>{disk.path}</code>
          {disk.low ? ` — below ${formatBytes(disk.minFreeBytes)}: new tasks are refused` : ''}
        </p>
      ) : (
        engine.reachable && <p className="muted small">Docker&apos;s data disk is not on this machine: free space unknown.</p>
      )}
      <p data-testid="doctor-containers">
        Containers: {containers.running} running, {containers.stopped} stopped
        {containers.otherDaemons ? `; ${containers.otherDaemons} of other caic servers (left alone)` : ''}
      </p>
      {containers.items.length > 0 && (
        <ul className="plain small">
          {containers.items.map((c) => (
            <li key={c.name}>
              <code>{c.name}</code> <span className="muted">{c.state}</span>
            </li>
          ))}
        </ul>
      )}
      <table className="table small" data-testid="doctor-images">
        <thead>
          <tr>
            <th>Image</th>
            <th>Kind</th>
            <th>Size</th>
            <th>Agents</th>
          </tr>
        </thead>
        <tbody>
          {images.map((i) => (
            <tr key={i.id}>
              <td>
                <code>{i.tags[0] ?? `<untagged ${i.id.slice(7, 19)}>`}</code>
                {i.current ? ' (current)' : ''}
              </td>
              <td>{i.kind}</td>
              <td>{formatBytes(i.sizeBytes)}</td>
              <td>
                {Object.entries(i.agents)
                  .map(([a, v]) => `${a} ${v}`)
                  .join(', ')}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Clean-up would</h3>
      {hygiene.actions.length === 0 ? (
        <p className="muted" data-testid="doctor-actions">
          Remove nothing now.
        </p>
      ) : (
        <ul className="plain" data-testid="doctor-actions">
          {hygiene.actions.map((a) => (
            <li key={`${a.kind}:${a.target}`}>
              {ACTIONS[a.kind]} <code>{a.target}</code>
              {a.sizeBytes ? ` (${formatBytes(a.sizeBytes)})` : ''}: <span className="muted">{a.reason}</span>
            </li>
          ))}
        </ul>
      )}
      {hygiene.hidden > 0 && <p className="muted small">and {hygiene.hidden} step(s) on other users&apos; tasks.</p>}
    </div>
  );
}
