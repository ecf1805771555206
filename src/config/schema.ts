// The zod schema of config.toml: every key, its default, and the key list used by the example-file test.
import { z } from 'zod';
import { egressEntryProblem } from '../api/index.js';
import { parseDuration, parseSize } from './units.js';

export const NAMED_ORIGINS = ['local', 'tailscale', 'github', 'anthropic', 'openai'] as const;
export type NamedOrigin = (typeof NAMED_ORIGINS)[number];
export const HARNESS_NAMES = ['claude', 'codex', 'gemini', 'opencode', 'fake'] as const;
export const DEFAULT_OPENAI_IP_LISTS = [
  'https://openai.com/chatgpt-connectors.json',
  'https://openai.com/chatgpt-agents.json',
];

/**
 * App builds that predate the PKCE-bound hand-off (no code_challenge) may still sign in before
 * this day (00:00 UTC); after it, such a start is refused. About three months after the change.
 */
const LEGACY_APP_LOGIN_UNTIL = '2027-03-01';

const str = (def = '') => z.string().default(def);
const strList = (def: string[] = []) => z.array(z.string()).default(def);
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');
const envTable = z.record(envName, z.string()).default({});
/** A table whose keys all have defaults: absent in the file means "all defaults". */
// The cast is sound because every key inside has a default; TypeScript cannot see that generically.
const table = <T extends z.ZodRawShape>(shape: T) => z.strictObject(shape).prefault({} as never);

const oauth = table({
  client_id: str(),
  client_secret: str(),
  allowed_users: strList(),
});

/**
 * Why a model's WebSocket URL is unusable, or undefined when it is fine: `wss:`, or `ws:` only to
 * a loopback host (a local stand-in), since the API key travels with the connection; and no
 * credentials in the URL itself (keys come from the environment).
 */
export function modelSocketUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not a URL';
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'wss:' && !(url.protocol === 'ws:' && loopback)) return 'must be a wss:// URL (ws:// only to a loopback address)';
  const credentialParams = ['key', 'api_key', 'access_token', 'token'];
  if (credentialParams.some((p) => url.searchParams.has(p)) || url.username || url.password) return 'must not carry credentials (the key comes from the environment)';
  return undefined;
}
const modelSocketUrl = z
  .string()
  .refine((v) => v === '' || modelSocketUrlProblem(v) === undefined, { error: (issue) => modelSocketUrlProblem(String(issue.input)) ?? 'invalid URL' })
  .default('');

/** A size such as "8g" or "512m" ("" or "0": off). */
const size = (def: string) =>
  z
    .string()
    .refine((v) => parseSize(v) !== null, 'must be a size such as "8g", "512m" or "0" (off)')
    .default(def);
/** A duration such as "30s", "10m", "2h" or "7d" ("" or "0": off). */
const duration = (def: string) =>
  z
    .string()
    .refine((v) => parseDuration(v) !== null, 'must be a duration such as "30s", "10m", "2h", "7d" or "0" (off)')
    .default(def);

const egressMode = z.enum(['open', 'allowlist', 'none']);
const egressList = z
  .array(z.string().refine((v) => egressEntryProblem(v) === undefined, { error: (issue) => `"${String(issue.input)}" ${egressEntryProblem(String(issue.input)) ?? 'is not an allowlist entry'}` }))
  .max(200)
  .default([]);

const localStackPart = <T extends z.ZodRawShape>(shape: T) => table(shape);

/** Why a local-stack server's base URL is unusable, or undefined: http(s), no credentials, query or fragment. */
export function serverBaseUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http:// or https:// URL';
  if (url.username || url.password || url.search || url.hash) return 'must be a plain base URL (no credentials, query or fragment)';
  return undefined;
}
const serverBaseUrl = z
  .string()
  .refine((v) => v === '' || serverBaseUrlProblem(v) === undefined, { error: (issue) => serverBaseUrlProblem(String(issue.input)) ?? 'invalid URL' })
  .default('');

export const ConfigFileSchema = z.strictObject({
  core: table({
    /** '' = the directory caic was started from (see load.ts); a relative path is taken from the config directory. */
    root: str(''),
    allow_local_clone: z.boolean().default(false),
    runtime: z.enum(['', 'docker', 'podman']).default(''),
    image: str('caic-agent:latest'),
    // A Docker network task containers join instead of the default bridge ('' = bridge).
    network: z.string().regex(/^([A-Za-z0-9][A-Za-z0-9_.-]{0,127})?$/, 'must be a Docker network name').default(''),
    env: envTable,
  }),
  server: table({
    http: str(':2242'),
    external_url: str('auto'),
    geo_db: str(''),
    allow_origins: strList(['local', 'tailscale', 'github']),
    trusted_proxies: strList(),
    openai_ip_lists: strList(DEFAULT_OPENAI_IP_LISTS),
    body_limit: z.int().min(1024).max(1 << 30).default(1 << 20),
    session_ttl_days: z.int().min(1).max(365).default(30),
    request_timeout_seconds: z.int().min(1).max(3600).default(60),
    legacy_app_login_until: z
      .string()
      .regex(/^(\d{4}-\d{2}-\d{2})?$/, 'must be a date like "2027-03-01", or "" to refuse at once')
      .refine((v) => v === '' || !Number.isNaN(Date.parse(`${v}T00:00:00Z`)), 'must be a real date')
      .default(LEGACY_APP_LOGIN_UNTIL),
  }),
  github: table({
    url: str('https://github.com'),
    api_url: str('https://api.github.com'),
    pat: table({ token: str() }),
    oauth,
    app: table({
      id: str(),
      private_key_pem: str(),
      allowed_owners: strList(),
      webhook_secret: str(),
    }),
  }),
  gitlab: table({
    url: str('https://gitlab.com'),
    webhook_secret: str(),
    pat: table({ token: str() }),
    oauth,
  }),
  harness: table(
    Object.fromEntries(HARNESS_NAMES.map((name) => [name, table({ env: envTable })])) as Record<
      (typeof HARNESS_NAMES)[number],
      ReturnType<typeof table<{ env: typeof envTable }>>
    >,
  ),
  forge: table({
    // Pushes the fix loop makes after CI fails on a task's pull request before it hands back.
    max_fix_attempts: z.int().min(0).max(20).default(3),
  }),
  terminal: table({
    // A task terminal nobody typed in (or resized) for this long is closed.
    idle_timeout_seconds: z.int().min(1).max(7 * 24 * 3600).default(1800),
    // Terminals open at once on one task, and for one user across their tasks.
    max_per_task: z.int().min(1).max(64).default(4),
    max_per_user: z.int().min(1).max(256).default(16),
  }),
  titles: table({
    provider: z.enum(['auto', 'anthropic', 'openai', 'gemini', 'off']).default('auto'),
    model: str(),
    url: str(),
  }),
  'voice-gateway': table({
    url: str(),
    instance_id: z
      .string()
      .regex(/^([A-Za-z0-9][A-Za-z0-9._:-]{0,127})?$/, 'must be letters, digits and . _ : - (at most 128), starting with a letter or digit')
      .default(''),
    token_mode: z.enum(['', 'ed25519', 'oauth']).default(''),
    signing_private_key_pem: str(),
    // Hosts whose voice tokens this instance's gateway accepts (besides its own key); checked in load.ts.
    trusted_issuers: z
      .array(
        z.strictObject({
          service: z.string().min(1, 'must not be empty'),
          issuer: z.string().min(1, 'must not be empty'),
          public_key: z.string(),
        }),
      )
      .default([]),
    config: table({
      model: str('gemini-3.1-flash-live-preview'),
      backend: z.enum(['gemini-live', 'openai-realtime', 'local-stack']).default('gemini-live'),
      /** The Gemini Live BidiGenerateContent endpoint; empty = Google's. Tests point it at a stand-in. */
      gemini_url: modelSocketUrl,
      /** The OpenAI Realtime WebSocket endpoint; empty = OpenAI's. Tests point it at a stand-in. */
      openai_url: modelSocketUrl,
      openai_model: str('gpt-realtime'),
      server: table({
        webrtc_udp_port: z.int().min(0).max(65535).default(0),
        // Addresses the gateway offers ICE candidates on; checked in load.ts. Empty: this machine's own (not Docker's bridges).
        announce_addresses: strList(),
      }),
      local_stack: table({
        // caic does not start these servers: `remote` is the base URL of one you run (OpenAI-compatible HTTP).
        asr: localStackPart({ engine: z.enum(['remote', '']).default('remote'), provider: str('llamacpp'), remote: serverBaseUrl, model: str() }),
        llm: localStackPart({
          provider: str('llamacpp'),
          remote: serverBaseUrl,
          model: str(),
          api_key_name: z.union([z.literal(''), envName]).default(''),
        }),
        tts: localStackPart({
          engine: z
            .enum(['espeak-ng', 'remote'], {
              error: 'must be "espeak-ng" or "remote" (KittenTTS and other engines: run them behind an OpenAI-compatible /v1/audio/speech server and use "remote")',
            })
            .default('espeak-ng'),
          remote: serverBaseUrl,
          model: str(),
          voice: z.string().max(64).regex(/^[A-Za-z0-9_.+-]*$/, 'must be a plain voice name').default(''),
        }),
      }),
    }),
  }),
  preview: table({
    enabled: z.boolean().default(true),
    // Preview hosts are p<port>-<task>.<domain>; '' = localhost (clients on this machine only).
    domain: z
      .string()
      .transform((v) => v.trim().toLowerCase().replace(/\.$/, ''))
      .refine((v) => v === '' || /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/.test(v), 'must be a DNS name such as "preview.example.com" (no scheme, no port)')
      .default(''),
    response_timeout_seconds: z.int().min(1).max(3600).default(120),
  }),
  push: table({
    // The VAPID subject push services may contact about this sender: mailto: or https:. Empty:
    // external_url when it is https, else a mailto: at this host's name.
    subject: z.string().regex(/^((mailto:|https:\/\/)\S+)?$/, 'must be empty, a mailto: address or an https:// URL').default(''),
  }),
  // Network egress of task containers (src/tasks/egress.ts, docs/security.md#network-egress): the
  // default policy, per repository overrides; a task's own choice (the API's `egress`) wins over both.
  egress: table({
    mode: egressMode.default('open'),
    allow: egressList,
    repos: z
      .array(z.strictObject({ name: z.string().min(1, 'must name a repository'), mode: egressMode.optional(), allow: egressList.optional() }))
      .default([]),
    /** How often the blocked connections of running tasks are read (and an `egress` event logged when they changed). */
    poll_interval: duration('5s'),
  }),
  // Resource hygiene (src/tasks/limits.ts, src/tasks/hygiene.ts); every limit and GC step can be turned off with "0".
  limits: table({
    /** Memory cap of each task container ("0": none). */
    memory: size('8g'),
    /** Disk budget of each task (its home, /tmp and /var/tmp, measured with du over SSH): warned at disk_warn_percent, stopped above. */
    disk: size('20g'),
    disk_warn_percent: z.int().min(1).max(99).default(90),
    /** How often a running task's CPU, memory and disk are measured (and a `stats` event may be logged). */
    stats_interval: duration('30s'),
    /** A task waiting for input (waiting, asking, has_plan) this long with nothing happening is stopped ("0": never). */
    idle_stop: duration('0'),
    /** A stopped task's container is removed (the task is purged; its branch and log stay) this long after it stopped ("0": never). */
    remove_stopped_after: duration('7d'),
    /** A container labelled caic by this daemon with no task log behind it is removed this long after it was created. */
    orphan_grace: duration('1h'),
    /** Remove agent images that lost their tag and repository images whose agent image is gone, when no container uses them. */
    prune_images: z.boolean().default(true),
    /** How often hygiene runs (idle stops, removals, pruning). */
    gc_interval: duration('5m'),
    /** Starting a task is refused while the Docker data disk has less free space than this ("0": never refused). */
    min_free_disk: size('5g'),
  }),
  debug: table({
    log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  }),
});

export type ConfigFile = z.output<typeof ConfigFileSchema>;

/**
 * Dotted paths of every leaf key (free-form tables such as `core.env` count as one leaf), used
 * to keep config.example.toml in sync with the schema.
 */
export function configKeyPaths(schema: z.ZodType = ConfigFileSchema, prefix = ''): string[] {
  let inner: z.ZodType = schema;
  for (;;) {
    const def = inner._zod.def as { type: string; innerType?: z.ZodType };
    if ((def.type === 'default' || def.type === 'prefault' || def.type === 'optional') && def.innerType) {
      inner = def.innerType;
    } else break;
  }
  if (inner instanceof z.ZodObject) {
    return Object.entries(inner.shape as Record<string, z.ZodType>).flatMap(([key, child]) =>
      configKeyPaths(child, prefix ? `${prefix}.${key}` : key),
    );
  }
  return [prefix];
}
