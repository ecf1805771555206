// The app's API client instance and the events that tell the app a session ended.
import { createClient } from '../lib/api';

export const UNAUTHORIZED_EVENT = 'caic:unauthorized';

export const api = createClient({ onUnauthorized: () => window.dispatchEvent(new Event(UNAUTHORIZED_EVENT)) });

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
