// The sign-in page when the server has login configured: one button per provider.
import type { AuthProvider } from '../../../src/api/index.js';
import { Banner } from './Banner';

const LABEL: Record<AuthProvider, string> = { github: 'GitHub', gitlab: 'GitLab' };

export function Login({ providers, error }: { providers: AuthProvider[]; error?: string }) {
  return (
    <main className="login" aria-label="Sign in">
      <h1>caic</h1>
      <p className="muted">Coding agents in containers. Sign in to continue.</p>
      {error && (
        <Banner tone="bad">
          {error}
        </Banner>
      )}
      <div className="stack">
        {providers.map((p) => (
          <a key={p} className="button primary big" href={`/api/v1/auth/${p}/start`}>
            Sign in with {LABEL[p]}
          </a>
        ))}
      </div>
    </main>
  );
}
