// A minimal history-API router: the app has four pages, so a library would be more than the job.
import { useSyncExternalStore } from 'react';
import { parseRoute, type Route } from '../lib/format';

const NAV_EVENT = 'caic:navigate';

function subscribe(fn: () => void): () => void {
  window.addEventListener('popstate', fn);
  window.addEventListener(NAV_EVENT, fn);
  return () => {
    window.removeEventListener('popstate', fn);
    window.removeEventListener(NAV_EVENT, fn);
  };
}

export function navigate(path: string, replace = false): void {
  if (path === location.pathname) return;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.dispatchEvent(new Event(NAV_EVENT));
}

let cachedPath = '';
let cachedRoute: Route = { page: 'home' };
export function useRoute(): Route {
  return useSyncExternalStore(subscribe, () => {
    if (location.pathname !== cachedPath) {
      cachedPath = location.pathname;
      cachedRoute = parseRoute(cachedPath);
    }
    return cachedRoute;
  });
}

/** Left-click on an in-app link navigates without a page load; modified clicks keep the browser's behaviour. */
export function onLinkClick(e: React.MouseEvent<HTMLAnchorElement>, path: string): void {
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(path);
}
