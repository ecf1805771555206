// Loads config.toml (smol-toml), validates it (zod + cross-field rules), resolves paths and env fallbacks.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import ipaddr from 'ipaddr.js';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { z } from 'zod';
import type { AuthProvider } from '../api/index.js';
import { parseEd25519PublicKey } from './ed25519-key.js';
import { UserError } from './errors.js';
import { isLoopbackHost, localizeAddr, type ListenAddr } from './listen-addr.js';
import { defaultCacheDir, defaultRoot, resolvePath, startDirectory } from './paths.js';
import { ConfigFileSchema, NAMED_ORIGINS, type ConfigFile, type NamedOrigin } from './schema.js';

type Env = Record<string, string | undefined>;

export const CONFIG_FILE_NAME = 'config.toml';
export const DEFAULT_GEO_DB_NAME = 'GeoLite2-Country.mmdb';

export interface AllowOrigins {
  names: ReadonlySet<NamedOrigin>;
  /** Normalised CIDRs (a bare IP becomes /32 or /128). */
  cidrs: readonly string[];
  /** Upper-case ISO 3166-1 alpha-2 codes. */
  countries: ReadonlySet<string>;
}

export interface Config {
  configDir: string;
  cacheDir: string;
  /** Path of the config file, or null when it does not exist (all defaults). */
  file: string | null;
  /** The parsed file with paths resolved and env fallbacks applied. */
  values: ConfigFile;
  listen: ListenAddr;
  /** Readable GeoLite2 database, or null when geolocation is off. */
  geoDbPath: string | null;
  allowOrigins: AllowOrigins;
  trustedProxies: readonly string[];
  /** Explicit public URL (origin only), or null for `auto`. */
  externalUrl: URL | null;
  /** OAuth login providers configured; empty = no-auth mode. */
  authProviders: readonly AuthProvider[];
  /** Daemon environment: `[core.env]` first, then the process environment. */
  env(name: string): string | undefined;
  /** Every secret value from the file and the environment, for the log masker. */
  secrets: readonly string[];
}

export interface LoadOptions {
  configDir: string;
  cacheDir?: string;
  env?: Env;
  /** Where `[core] root` defaults to: the directory the command was started from (see startDirectory). */
  startDir?: string;
}

/** An error about one key; carries the dotted path so the message names it. */
class KeyError extends Error {
  constructor(
    readonly key: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Best effort: the 1-based line where `path` is written in the TOML text. */
export function findKeyLine(text: string, path: readonly (string | number)[]): number | undefined {
  const wanted = path.filter((p) => typeof p === 'string').join('.');
  let table = '';
  const lines = text.split(/\r?\n/);
  const unquote = (s: string) =>
    s
      .split('.')
      .map((part) => part.trim().replace(/^["'](.*)["']$/, '$1'))
      .join('.');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const header = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/.exec(line);
    if (header) {
      table = unquote(header[1]!);
      if (table === wanted) return i + 1;
      continue;
    }
    const kv = /^\s*([A-Za-z0-9_\-."' ]+?)\s*=/.exec(line);
    if (kv) {
      const full = table ? `${table}.${unquote(kv[1]!)}` : unquote(kv[1]!);
      if (full === wanted) return i + 1;
    }
  }
  return undefined;
}

function describeIssue(issue: z.core.$ZodIssue): { path: (string | number)[]; message: string } {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    return { path: [...path, key], message: `unknown key "${[...path, key].join('.')}"` };
  }
  return { path, message: `${path.join('.') || '(top level)'}: ${issue.message}` };
}

function parseUrl(key: string, value: string, opts: { originOnly?: boolean } = {}): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new KeyError(key, `"${value}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new KeyError(key, 'must be an http:// or https:// URL');
  if (opts.originOnly && ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username)) {
    throw new KeyError(key, `must be a bare origin without a path (got "${value}")`);
  }
  return url;
}

/** Parses an IP or CIDR; a bare IP becomes a single-address CIDR. */
export function normalizeCidr(value: string): string | null {
  try {
    if (value.includes('/')) {
      const [addr, bits] = ipaddr.parseCIDR(value);
      return `${addr.toString()}/${bits}`;
    }
    const addr = ipaddr.parse(value);
    return `${addr.toString()}/${addr.kind() === 'ipv4' ? 32 : 128}`;
  } catch {
    return null;
  }
}

function parseAllowOrigins(values: readonly string[]): AllowOrigins {
  const key = 'server.allow_origins';
  if (values.length === 0) {
    throw new KeyError(key, 'must not be empty; to allow every address write ["0.0.0.0/0", "::/0"]');
  }
  const names = new Set<NamedOrigin>();
  const cidrs: string[] = [];
  const countries = new Set<string>();
  for (const raw of values) {
    const value = raw.trim();
    const lower = value.toLowerCase();
    if ((NAMED_ORIGINS as readonly string[]).includes(lower)) {
      names.add(lower as NamedOrigin);
    } else if (/^[A-Za-z]{2}$/.test(value)) {
      countries.add(value.toUpperCase());
    } else {
      const cidr = normalizeCidr(value);
      if (!cidr) {
        throw new KeyError(
          key,
          `unknown entry "${raw}" (expected ${NAMED_ORIGINS.join(', ')}, a CIDR such as 203.0.113.0/24, or a two-letter country code)`,
        );
      }
      cidrs.push(cidr);
    }
  }
  return { names, cidrs, countries };
}

function isReadable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

const SECRET_ENV_NAME = /TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|PRIVATE_KEY|CREDENTIAL|AUTH/i;
const SECRET_ENV_FALLBACKS = ['GITHUB_TOKEN', 'GITLAB_TOKEN', 'GEMINI_API_KEY', 'TAILSCALE_API_KEY', 'ANTHROPIC_API_KEY', 'OPENAI_API_KEY'];

function validate(values: ConfigFile, configDir: string, cacheDir: string, file: string | null, processEnv: Env, startDir: string): Config {
  const env = (name: string): string | undefined => {
    const v = values.core.env[name] ?? processEnv[name];
    return v === '' ? undefined : v;
  };

  // Unset, the root is where the user started caic (what the README promises); a path written in
  // the file is read like every other path in it, from the config directory.
  values.core.root = values.core.root === '' ? defaultRoot(startDir) : resolvePath(configDir, values.core.root);

  let listen: ListenAddr;
  try {
    listen = localizeAddr(values.server.http);
  } catch (err) {
    throw new KeyError('server.http', (err as Error).message);
  }

  const externalUrl =
    values.server.external_url === 'auto' ? null : parseUrl('server.external_url', values.server.external_url, { originOnly: true });
  const allowOrigins = parseAllowOrigins(values.server.allow_origins);
  const trustedProxies = values.server.trusted_proxies.map((value) => {
    const cidr = normalizeCidr(value.trim());
    if (!cidr) throw new KeyError('server.trusted_proxies', `"${value}" is not an IP address or CIDR`);
    return cidr;
  });
  values.server.openai_ip_lists.forEach((u) => parseUrl('server.openai_ip_lists', u));
  parseUrl('github.url', values.github.url, { originOnly: true });
  parseUrl('github.api_url', values.github.api_url);
  parseUrl('gitlab.url', values.gitlab.url, { originOnly: true });

  let geoDbPath: string | null = null;
  if (values.server.geo_db !== '') {
    geoDbPath = resolvePath(configDir, values.server.geo_db);
    if (!isReadable(geoDbPath)) throw new KeyError('server.geo_db', `cannot read ${geoDbPath}`);
    values.server.geo_db = geoDbPath;
  } else {
    const fallback = join(configDir, DEFAULT_GEO_DB_NAME);
    if (existsSync(fallback)) {
      if (!isReadable(fallback)) throw new KeyError('server.geo_db', `cannot read ${fallback}`);
      geoDbPath = fallback;
    }
  }
  if (allowOrigins.countries.size > 0 && !geoDbPath) {
    const codes = [...allowOrigins.countries].join(', ');
    throw new KeyError(
      'server.allow_origins',
      `country codes (${codes}) need a GeoLite2-Country database: set server.geo_db or place ${DEFAULT_GEO_DB_NAME} in ${configDir}`,
    );
  }

  const authProviders: AuthProvider[] = [];
  for (const forge of ['github', 'gitlab'] as const) {
    const { oauth, pat } = values[forge];
    if (Boolean(oauth.client_id) !== Boolean(oauth.client_secret)) {
      throw new KeyError(`${forge}.oauth`, 'client_id and client_secret must be set together');
    }
    if (!oauth.client_id) {
      // Env fallback only without OAuth: OAuth users bring their own tokens.
      if (!pat.token) pat.token = env(forge === 'github' ? 'GITHUB_TOKEN' : 'GITLAB_TOKEN') ?? '';
      continue;
    }
    if (pat.token) throw new KeyError(`${forge}.pat.token`, `a PAT and OAuth login are mutually exclusive; remove one of [${forge}.pat] and [${forge}.oauth]`);
    if (!externalUrl || externalUrl.protocol !== 'https:') {
      throw new KeyError('server.external_url', `${forge} OAuth login needs an https:// external_url (e.g. "https://caic.example.com")`);
    }
    if (oauth.allowed_users.filter((u) => u.trim()).length === 0) {
      throw new KeyError(`${forge}.oauth.allowed_users`, 'must list at least one user allowed to log in');
    }
    authProviders.push(forge);
  }

  if (values.github.app.private_key_pem) values.github.app.private_key_pem = resolvePath(configDir, values.github.app.private_key_pem);
  const vg = values['voice-gateway'];
  if (vg.url) parseUrl('voice-gateway.url', vg.url);
  if (values.titles.url) parseUrl('titles.url', values.titles.url);
  if (vg.signing_private_key_pem) vg.signing_private_key_pem = resolvePath(configDir, vg.signing_private_key_pem);
  if (vg.token_mode === 'oauth') {
    throw new KeyError('voice-gateway.token_mode', '"oauth" (OAuth access tokens for the gateway) is not supported yet; use "" (EdDSA JWS) or "ed25519" (the compact form gateways of caic in Go read)');
  }
  const llm = vg.config.local_stack.llm;
  const llmUrl = llm.remote ? new URL(llm.remote) : null;
  if (llm.api_key_name && llmUrl?.protocol === 'http:' && !isLoopbackHost(llmUrl.hostname.replace(/^\[|\]$/g, ''))) {
    throw new KeyError('voice-gateway.config.local_stack.llm.remote', 'must be https:// when api_key_name is set (the key would travel in clear), or http:// to a loopback address');
  }
  vg.config.server.announce_addresses.forEach((address) => {
    if (!isIP(address)) throw new KeyError('voice-gateway.config.server.announce_addresses', `"${address}" is not an IP address`);
  });
  vg.trusted_issuers.forEach((entry, i) => {
    try {
      parseEd25519PublicKey(entry.public_key);
    } catch (err) {
      throw new KeyError('voice-gateway.trusted_issuers', `entry ${i + 1} (${entry.service} ${entry.issuer}): public_key ${(err as Error).message}`, { cause: err });
    }
  });

  const secrets = [
    values.github.pat.token,
    values.github.oauth.client_secret,
    values.github.app.webhook_secret,
    values.gitlab.pat.token,
    values.gitlab.oauth.client_secret,
    values.gitlab.webhook_secret,
    ...SECRET_ENV_FALLBACKS.map(env),
    // The local-stack LLM's key, whatever its variable is called.
    vg.config.local_stack.llm.api_key_name ? env(vg.config.local_stack.llm.api_key_name) : undefined,
    ...Object.entries(values.core.env).filter(([k]) => SECRET_ENV_NAME.test(k)).map(([, v]) => v),
    ...Object.values(values.harness).flatMap((h) =>
      Object.entries(h.env).filter(([k]) => SECRET_ENV_NAME.test(k)).map(([, v]) => v),
    ),
  ].filter((s): s is string => typeof s === 'string' && s !== '');

  return {
    configDir,
    cacheDir,
    file,
    values,
    listen,
    geoDbPath,
    allowOrigins,
    trustedProxies,
    externalUrl,
    authProviders,
    env,
    secrets,
  };
}

/** Reads and validates `<configDir>/config.toml`; a missing file means every default. */
export function loadConfig(opts: LoadOptions): Config {
  const processEnv = opts.env ?? process.env;
  const configDir = opts.configDir;
  const cacheDir = opts.cacheDir ?? defaultCacheDir(processEnv);
  const path = join(configDir, CONFIG_FILE_NAME);
  let text: string | null = null;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new UserError(`${path}: cannot read: ${(err as Error).message}`);
    }
  }
  let data: unknown = {};
  if (text !== null) {
    try {
      data = parseToml(text);
    } catch (err) {
      if (err instanceof TomlError) {
        const first = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
        throw new UserError(`${path}:${err.line}:${err.column}: invalid TOML: ${first}`);
      }
      throw err;
    }
  }
  const parsed = ConfigFileSchema.safeParse(data);
  if (!parsed.success) {
    const { path: keyPath, message } = describeIssue(parsed.error.issues[0]!);
    const line = text === null ? undefined : findKeyLine(text, keyPath);
    throw new UserError(`${path}${line ? `:${line}` : ''}: ${message}`);
  }
  try {
    return validate(parsed.data, configDir, cacheDir, text === null ? null : path, processEnv, opts.startDir ?? startDirectory(processEnv));
  } catch (err) {
    if (err instanceof KeyError) {
      const line = text === null ? undefined : findKeyLine(text, err.key.split('.'));
      throw new UserError(`${path}${line ? `:${line}` : ''}: ${err.key}: ${err.message}`);
    }
    throw err;
  }
}
