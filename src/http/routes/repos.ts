// Routes: repositories, harnesses (their readiness comes from src/agents/readiness.ts), preferences and usage.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { routes, type CIStatus, type HarnessInfo } from '../../api/index.js';
import { DEFAULT_USER, type PreferenceStore } from '../../config/index.js';
import type { RepoRegistry, TaskService } from '../../tasks/index.js';
import { routeOptions } from './define.js';

export function repoRoutes(
  app: FastifyInstance,
  deps: {
    repos: RepoRegistry;
    preferences: PreferenceStore;
    service: TaskService;
    harnesses: () => Promise<HarnessInfo[]>;
    /** The default branch's CI as the forge side last learned it (no forge call per request). */
    repoCI: (name: string) => CIStatus | null;
  },
): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  // The host path and the registry's bookkeeping stay on the server.
  const strip = ({ path: _path, settled: _settled, ...repo }: ReturnType<RepoRegistry['list']>[number]) => ({ ...repo, ci: deps.repoCI(repo.name) });

  r.route({ ...routeOptions(routes.listRepos), handler: () => deps.repos.list().map(strip) });
  r.route({ ...routeOptions(routes.cloneRepo), handler: async (req) => strip(await deps.repos.clone(req.body)) });
  r.route({ ...routeOptions(routes.rescanRepos), handler: async () => (await deps.repos.scan('full'), deps.repos.list().map(strip)) });
  r.route({ ...routeOptions(routes.repoBranches), handler: async (req) => ({ branches: await deps.repos.branches(req.query.repo) }) });
  r.route({ ...routeOptions(routes.harnesses), handler: () => deps.harnesses() });
  r.route({ ...routeOptions(routes.getPreferences), handler: (req) => deps.preferences.get(req.user?.id ?? DEFAULT_USER) });
  r.route({ ...routeOptions(routes.setPreferences), handler: (req) => deps.preferences.setSettings(req.user?.id ?? DEFAULT_USER, req.body.settings) });
  r.route({ ...routeOptions(routes.usage), handler: (req) => deps.service.usage(req.user ? { id: req.user.id, username: req.user.username } : null) });
}
