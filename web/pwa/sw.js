// caic's service worker: keeps this build's hashed assets and the app shell for offline starts,
// never the API, and shows the Web Push notifications of the user's tasks.
// The build (vite-pwa.ts) replaces the two placeholders: one cache per build, named by its assets.
const VERSION = '__CAIC_VERSION__';
const ASSETS = __CAIC_ASSETS__;
const CACHE = `caic-${VERSION}`;
const SHELL = '/';
// The server's own paths: never cached, never answered from a cache (a stale API answer is a lie).
const NEVER = ['/api/', '/oauth', '/.well-known/', '/webhooks/', '/healthz', '/readyz'];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([SHELL, ...ASSETS]))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  // A new build replaces the old cache: every other caic cache goes.
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith('caic-') && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (NEVER.some((p) => url.pathname === p.replace(/\/$/, '') || url.pathname.startsWith(p))) return;
  if (req.headers.get('accept') === 'text/event-stream') return;
  if (ASSETS.includes(url.pathname)) {
    // Hashed names never change content: the cache answers, the network only on a miss.
    event.respondWith(caches.match(req, { cacheName: CACHE }).then((hit) => hit || fetch(req)));
    return;
  }
  if (req.mode === 'navigate') {
    // The UI's pages: the network first (a new build is picked up), the cached shell offline.
    event.respondWith(fetch(req).catch(() => caches.match(SHELL, { cacheName: CACHE }).then((hit) => hit || Response.error())));
  }
});

self.addEventListener('push', (event) => {
  let msg;
  try {
    msg = event.data ? event.data.json() : null;
  } catch {
    msg = null;
  }
  if (!msg || msg.v !== 1 || typeof msg.taskId !== 'string') return;
  const what = { asking: 'Asks you', approval: 'Approval needed', plan: 'Plan ready', finished: 'Finished', failed: 'Failed', ci_failed: 'CI failed', test: 'caic' }[msg.kind] || 'Task';
  const detail = typeof msg.detail === 'string' ? msg.detail : '';
  const body = msg.kind === 'test' ? 'Notifications from this server reach this browser.' : detail || (msg.kind === 'approval' ? 'A tool call waits for your answer: open the task to allow or deny it.' : '');
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((tabs) => {
      // A tab the person is looking at already shows the change (and its own notification logic): no
      // second one. An approval request is only seen in its own task's view (and times out to deny):
      // it is shown unless that task's page (any of its paths: /task/@<id>, …+<title>, …/diff) is in front.
      const looking = tabs.filter((t) => t.visibilityState === 'visible' && t.focused);
      const url = typeof msg.url === 'string' && msg.url.startsWith('/') ? msg.url : '/';
      const onTask = (t) => new RegExp(`^/task/@${msg.taskId.replace(/[^0-9a-z]/g, '')}(?:[+/]|$)`).test(new URL(t.url).pathname);
      if (msg.kind === 'approval' ? looking.some(onTask) : msg.kind !== 'test' && looking.length > 0) return undefined;
      return self.registration.showNotification(`${what}: ${msg.title}`, {
        body,
        tag: msg.taskId,
        // A request times out to deny: it stays on screen until the person acts on it.
        requireInteraction: msg.kind === 'approval',
        icon: '/icons/icon-192.png',
        badge: '/icons/icon-192.png',
        data: { url },
      });
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || '/';
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((tabs) => {
      const tab = tabs.find((t) => new URL(t.url).origin === self.location.origin);
      if (tab) {
        // The page routes itself (no reload): it listens for this message.
        tab.postMessage({ type: 'caic:open', url });
        return tab.focus();
      }
      return self.clients.openWindow(url);
    }),
  );
});
