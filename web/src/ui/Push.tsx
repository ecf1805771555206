// Settings → Push notifications: opt in (permission, PushManager.subscribe, the server stores it), a test push, opt out.
import { useEffect, useState } from 'react';
import { api, errorMessage } from './client';
import { Banner } from './Banner';

/** Set while this browser holds a push subscription: the page then leaves task notifications to the push (no double). */
export const PUSH_KEY = 'caic.push';

export function pushOnHere(): boolean {
  return localStorage.getItem(PUSH_KEY) === '1';
}

function supported(): boolean {
  return 'serviceWorker' in navigator && 'PushManager' in window && typeof Notification !== 'undefined';
}

async function registration(): Promise<ServiceWorkerRegistration> {
  // ready never settles without a registration; main.tsx registers one in every built page.
  return navigator.serviceWorker.ready;
}

function toBytes(b64url: string): Uint8Array<ArrayBuffer> {
  const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (b64url.length % 4)) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function PushSettings() {
  const [on, setOn] = useState(false);
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState('');
  const [error, setError] = useState('');
  useEffect(() => {
    if (!supported()) return;
    void registration()
      .then((r) => r.pushManager.getSubscription())
      .then((s) => {
        setOn(s !== null);
        localStorage.setItem(PUSH_KEY, s ? '1' : '0');
      })
      .catch(() => {});
  }, []);
  if (!supported()) return <p className="muted">This browser cannot receive push notifications here (they need HTTPS or localhost, and a browser with the Push API).</p>;
  const enable = async () => {
    setBusy(true);
    setError('');
    try {
      if ((await Notification.requestPermission()) !== 'granted') throw new Error('The browser refused notifications for this site.');
      const { publicKey } = await api('pushKey');
      const reg = await registration();
      let sub = await reg.pushManager.getSubscription();
      // A subscription made with another server key (the keys were reset) cannot be used: renew it.
      if (sub && sub.options.applicationServerKey && new Uint8Array(sub.options.applicationServerKey).join() !== toBytes(publicKey).join()) {
        await sub.unsubscribe();
        sub = null;
      }
      sub ??= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: toBytes(publicKey) });
      const json = sub.toJSON();
      await api('pushSubscribe', { body: { endpoint: json.endpoint ?? '', keys: { p256dh: json.keys?.p256dh ?? '', auth: json.keys?.auth ?? '' } } });
      localStorage.setItem(PUSH_KEY, '1');
      setOn(true);
      setStatus('Push notifications are on for this browser.');
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const disable = async () => {
    setBusy(true);
    setError('');
    try {
      const sub = await (await registration()).pushManager.getSubscription();
      if (sub) {
        await api('pushUnsubscribe', { body: { endpoint: sub.endpoint } });
        await sub.unsubscribe();
      }
      localStorage.setItem(PUSH_KEY, '0');
      setOn(false);
      setStatus('Push notifications are off for this browser.');
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const test = async () => {
    setError('');
    try {
      const { sent } = await api('pushTest');
      setStatus(`Test sent to ${sent} subscription${sent === 1 ? '' : 's'}.`);
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return (
    <div className="stack" data-testid="push-settings">
      {error && <Banner tone="bad">{error}</Banner>}
      <p className="muted small">
        With push on, this browser is told when one of your tasks asks you something, has a plan, finishes, fails or fails CI, even with no caic tab open. The push service of your browser
        (Google, Mozilla, Apple…) carries an encrypted message with the task’s id and title only.
      </p>
      <div className="row">
        {on ? (
          <>
            <button type="button" className="small" disabled={busy} onClick={() => void disable()}>
              Turn push off
            </button>
            <button type="button" className="small" disabled={busy} onClick={() => void test()}>
              Send a test push
            </button>
          </>
        ) : (
          <button type="button" className="small" disabled={busy} onClick={() => void enable()}>
            Turn push on
          </button>
        )}
        {status && (
          <span className="muted small" role="status">
            {status}
          </span>
        )}
      </div>
    </div>
  );
}
