// Routes: repositories, harnesses, preferences and usage.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { routes } from '../../api/index.js';
import { HARNESSES } from '../../agents/index.js';
import { DEFAULT_USER, type PreferenceStore } from '../../config/index.js';
import type { RepoRegistry, TaskService } from '../../tasks/index.js';
import { routeOptions } from './define.js';

export function repoRoutes(app: FastifyInstance, deps: { repos: RepoRegistry; preferences: PreferenceStore; service: TaskService }): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  // The host path and the registry's bookkeeping stay on the server.
  const strip = ({ path: _path, settled: _settled, ...repo }: ReturnType<RepoRegistry['list']>[number]) => repo;

  r.route({ ...routeOptions(routes.listRepos), handler: () => deps.repos.list().map(strip) });
  r.route({ ...routeOptions(routes.cloneRepo), handler: async (req) => strip(await deps.repos.clone(req.body)) });
  r.route({ ...routeOptions(routes.rescanRepos), handler: async () => (await deps.repos.scan('full'), deps.repos.list().map(strip)) });
  r.route({ ...routeOptions(routes.repoBranches), handler: async (req) => ({ branches: await deps.repos.branches(req.query.repo) }) });
  r.route({
    ...routeOptions(routes.harnesses),
    handler: () =>
      [...HARNESSES.values()]
        // Interim (issue 9): readiness comes from the image probe once it lands.
        .map((h) => ({
          name: h.name,
          models: [...h.models],
          defaultModel: h.defaultModel,
          supportsImages: h.supportsImages,
          supportsCompact: h.supportsCompact,
          supportsInterrupt: false,
          contextWindow: h.contextWindow(h.defaultModel),
          installed: true,
          version: '',
          credentials: true,
          ready: true,
          reason: '',
          fix: '',
        }))
        .sort((a, b) => a.name.localeCompare(b.name)),
  });
  r.route({ ...routeOptions(routes.getPreferences), handler: (req) => deps.preferences.get(req.user?.id ?? DEFAULT_USER) });
  r.route({ ...routeOptions(routes.setPreferences), handler: (req) => deps.preferences.setSettings(req.user?.id ?? DEFAULT_USER, req.body.settings) });
  r.route({ ...routeOptions(routes.usage), handler: (req) => deps.service.usage(req.user ? { id: req.user.id, username: req.user.username } : null) });
}
