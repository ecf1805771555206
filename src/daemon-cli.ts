// The `caic` command's daemon side (serve, image build, audit verify, doctor, voice-gateway): parses arguments, runs it, prints user errors as one line.
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { defaultCacheDir, defaultConfigDir, loadConfig, lockCacheDir, resourceLimits, urlForListen, UserError, VERSION } from './config/index.js';
import type Dockerode from 'dockerode';
import {
  addAgent,
  agentImageCurrent,
  agentVersion,
  AGENT_CLIS,
  AGENT_RECIPES,
  type AgentCli,
  buildAgentImage,
  buildOfflineBase,
  ContainerError,
  DEFAULT_IMAGE,
  engineClient,
  engineSnapshot,
  imageInfo,
  instanceId,
  type EngineSnapshot,
  OFFLINE_BASE_IMAGE,
  ONLINE_BASE_IMAGE,
  resolveEngine,
} from './containers/index.js';
import { AUDIT_FILE_NAME, verifyAuditFile } from './audit/index.js';
import { renderDoctor } from './cli/doctor.js';
import { doctorReport, parseHeader, planHygiene, tasksFromLogs } from './tasks/index.js';
import { CLIENT_USAGE } from './cli/commands.js';
import { startDaemon } from './daemon.js';
import { Vault, VAULT_KEY_FILE_NAME } from './vault/index.js';
import { GATEWAY_DEFAULT_LISTEN, startVoiceGateway } from './voice-gateway.js';
import { CAIC_SERVICE_KIND, loadVoiceIdentity } from './voice/index.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type Logger, type LogLevel } from './log/index.js';

const USAGE = `usage: caic [serve] [options]
       caic image build [--base IMAGE] [--offline] [--tag TAG] [--no-cache]
                        [--claude-code] [--codex] [--gemini] [--opencode] [--<agent>-version V]
       caic audit verify [--config-dir DIR]
       caic doctor [--json] [--config-dir DIR]
       caic secrets rotate-key [--config-dir DIR]
       caic voice-gateway [--config-dir DIR] [--listen ADDR]
       caic voice-gateway pubkey [--config-dir DIR]

Runs the caic daemon: coding agents in containers, driven over HTTP.
\`caic image build\` builds the agent image (default base ${ONLINE_BASE_IMAGE}; --offline first
makes ${OFFLINE_BASE_IMAGE} with debootstrap, needs root, and builds on it without a registry).
--claude-code, --codex, --gemini and --opencode add that agent's CLI, fetched from the npm registry
on this machine (the newest version, or the one --claude-code-version, --codex-version,
--gemini-version or --opencode-version names; downloads are kept in $XDG_CACHE_HOME/caic/npm), and
record its version in an image label, which GET /api/v1/server/harnesses reads.
\`caic audit verify\` checks the hash chain of <config dir>/audit.jsonl and names the first
record that was changed or removed (exit status 1).
\`caic doctor\` reads the Docker engine directly (the daemon may run or not) and prints its version,
caic's images (agent images with their agent versions, repository images, sizes), the free space of
Docker's data disk, this daemon's containers and what clean-up ([limits]) would remove now; --json
prints the same as GET /api/v1/server/doctor (exit status 1 when the engine is unreachable).
\`caic secrets rotate-key\` makes a new vault key (<config dir>/vault.key) and re-encrypts every
stored secret with it; the daemon must be stopped (it holds the key in memory).
\`caic voice-gateway\` runs a standalone voice gateway (WebRTC, no login UI) on --listen (default
${GATEWAY_DEFAULT_LISTEN}); it accepts only voice tokens of the hosts in [[voice-gateway.trusted_issuers]].
\`caic voice-gateway pubkey\` prints the public key this instance signs voice tokens with
(ed25519:<base64url>; the key is made on first use), for a standalone gateway's
[[voice-gateway.trusted_issuers]]; the entry to add goes to stderr.

${CLIENT_USAGE}
options:
  --config-dir DIR    configuration directory (default: $XDG_CONFIG_HOME/caic or ~/.config/caic)
  --log-level LEVEL   ${LOG_LEVELS.join(', ')} (default: [debug] log_level, else info)
  --log-format FORMAT pretty (readable lines) or json (one object per line); default: pretty
                      when stdout is a terminal, else json
  --print-url         print the URL the daemon would serve, check the port is free, and exit
  --version           print the version and exit
  -h, --help          show this help
`;

const SHUTDOWN_TIMEOUT_MS = 10_000;

function fail(message: string, code = 1): never {
  process.stderr.write(`caic: ${message}\n`);
  process.exit(code);
}

function parse() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        'config-dir': { type: 'string' },
        listen: { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        'print-url': { type: 'boolean' },
        json: { type: 'boolean' },
        version: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        base: { type: 'string' },
        offline: { type: 'boolean' },
        tag: { type: 'string' },
        'no-cache': { type: 'boolean' },
        ...Object.fromEntries(AGENT_CLIS.map((a) => [AGENT_RECIPES[a].flag.slice(2), { type: 'boolean' as const }])),
        ...Object.fromEntries(AGENT_CLIS.map((a) => [`${AGENT_RECIPES[a].flag.slice(2)}-version`, { type: 'string' as const }])),
      },
    });
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`, 2);
  }
}

async function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

async function main(): Promise<void> {
  const { values, positionals } = parse();
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.version) {
    process.stdout.write(`caic ${VERSION}\n`);
    return;
  }
  const command = positionals.join(' ') || 'serve';
  if (command === 'image build') return imageBuild(values['config-dir'] ?? defaultConfigDir(), values);
  if (command === 'audit verify') return auditVerify(join(values['config-dir'] ?? defaultConfigDir(), AUDIT_FILE_NAME));
  if (command === 'doctor') return doctor(values['config-dir'] ?? defaultConfigDir(), values.json === true);
  if (command === 'secrets rotate-key') return rotateVaultKey(values['config-dir'] ?? defaultConfigDir());
  if (command === 'voice-gateway pubkey') return voicePubkey(values['config-dir'] ?? defaultConfigDir());
  if (command !== 'serve' && command !== 'voice-gateway') fail(`unknown command "${command}"\n${USAGE}`, 2);
  if (values.listen !== undefined && command !== 'voice-gateway') fail('--listen is for `caic voice-gateway`; the daemon listens on [server] http', 2);
  const logLevel = values['log-level'];
  if (logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    fail(`--log-level must be one of ${LOG_LEVELS.join(', ')}`, 2);
  }
  const logFormat = values['log-format'] ?? (process.stdout.isTTY ? 'pretty' : 'json');
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) fail(`--log-format must be one of ${LOG_FORMATS.join(', ')}`, 2);
  const configDir = values['config-dir'] ?? defaultConfigDir();
  if (command === 'voice-gateway') {
    const gateway = await startVoiceGateway({
      configDir,
      logFormat: logFormat as LogFormat,
      logColor: Boolean(process.stdout.isTTY),
      ...(values.listen !== undefined ? { listen: values.listen } : {}),
      ...(logLevel ? { logLevel: logLevel as LogLevel } : {}),
    });
    process.stdout.write(`caic ${VERSION} voice gateway listening on ${gateway.url}\n`);
    onSignals(gateway);
    return;
  }

  if (values['print-url']) {
    const config = loadConfig({ configDir });
    const { host, port } = config.listen;
    if (!(await portIsFree(host, port))) throw new UserError(`server.http: ${host}:${port} is already in use`);
    process.stdout.write(`${urlForListen(config.listen)}\n`);
    return;
  }

  const daemon = await startDaemon({
    configDir,
    logFormat: logFormat as LogFormat,
    logColor: Boolean(process.stdout.isTTY),
    ...(logLevel ? { logLevel: logLevel as LogLevel } : {}),
  });
  process.stdout.write(`caic ${VERSION} listening on ${daemon.url}\n${repositoriesLine(daemon.repos.root, daemon.repos.list().map((r) => r.name))}\n`);
  onSignals(daemon);
}

/** SIGINT/SIGTERM: stop taking connections, finish what is in flight, exit; a second signal exits at once. */
function onSignals(daemon: { logger: Logger; close(): Promise<void> }): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`caic: ${signal} again, exiting without waiting\n`);
      process.exit(1);
    }
    stopping = true;
    daemon.logger.info({ signal }, 'shutting down: no new connections, finishing requests in flight');
    const force = setTimeout(() => {
      daemon.logger.warn('requests still in flight after the shutdown timeout; exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    force.unref();
    daemon.close().then(
      () => {
        daemon.logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        daemon.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** What a newcomer needs to see at start: where repositories are looked for, and what was found. */
function repositoriesLine(root: string, names: string[]): string {
  if (names.length === 0) return `no git repositories under ${root} yet: clone or create one there (it appears without a restart), or set [core] root`;
  const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? `, … (${names.length - 5} more)` : '');
  return `${names.length} git ${names.length === 1 ? 'repository' : 'repositories'} under ${root}: ${shown}`;
}

/** `caic audit verify`: walks the audit log's hash chain. */
async function auditVerify(path: string): Promise<void> {
  let verdict;
  try {
    verdict = await verifyAuditFile(path);
  } catch (err) {
    fail(`${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no audit log (nothing was recorded yet)' : (err as Error).message}`);
  }
  if (verdict.ok) {
    process.stdout.write(`${path}: ${verdict.records} records, chain intact\n`);
    return;
  }
  fail(`${path}: record ${verdict.line} is broken: ${verdict.reason}; the ${verdict.records} records before it are intact`);
}

/**
 * `caic secrets rotate-key`: a new vault key, every value re-sealed. Under the daemon's own lock: a
 * running daemon keeps the old key in memory and would seal its next write with it.
 */
async function rotateVaultKey(configDir: string): Promise<void> {
  const config = loadConfig({ configDir });
  const lock = await lockCacheDir(config.cacheDir).catch((err: unknown) => fail(`${(err as Error).message.replace(/; stop it first.*$/, '')}: stop it before rotating the vault key`));
  try {
    const vault = new Vault(configDir);
    const problem = await vault.check();
    if (problem) fail(problem);
    const { secrets, keyId } = await vault.rotateKey();
    process.stdout.write(`${join(configDir, VAULT_KEY_FILE_NAME)}: new key ${keyId}; ${secrets} ${secrets === 1 ? 'secret' : 'secrets'} re-encrypted\n`);
  } finally {
    await lock.release();
  }
}

/** `caic doctor`: the same plan the daemon's clean-up computes, from Docker and the task logs on disk. */
async function doctor(configDir: string, json: boolean): Promise<void> {
  const config = loadConfig({ configDir });
  const limits = resourceLimits(config.values.limits);
  const instance = instanceId(config.cacheDir);
  const tasks = await tasksFromLogs(config.cacheDir, parseHeader);
  let snapshot: EngineSnapshot | null = null;
  let error: string | undefined;
  try {
    snapshot = await engineSnapshot(engineOf(config));
  } catch (err) {
    error = `Docker engine not reachable: ${(err as Error).message}`;
  }
  const actions = planHygiene({ snapshot, instance, tasks, limits, now: Date.now() });
  const report = doctorReport({ snapshot, actions, ...(error ? { error } : {}) }, { instance, image: config.values.core.image, limits, tasks, viewer: null });
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : renderDoctor(report));
  if (!report.engine.reachable) process.exitCode = 1;
}

/** `caic voice-gateway pubkey`: the key line on stdout (for scripts), the trusted_issuers entry on stderr. */
async function voicePubkey(configDir: string): Promise<void> {
  const config = loadConfig({ configDir });
  const vg = config.values['voice-gateway'];
  const { key, instanceId } = await loadVoiceIdentity({ configDir, signingKeyPath: vg.signing_private_key_pem, instanceId: vg.instance_id });
  process.stdout.write(`${key.publicKeyText}\n`);
  process.stderr.write(
    `${key.created ? `created ${key.path}\n` : ''}add to the standalone gateway's config.toml:\n` +
      `[[voice-gateway.trusted_issuers]]\nservice = "${CAIC_SERVICE_KIND}"\nissuer = "${instanceId}"\npublic_key = "${key.publicKeyText}"\n`,
  );
}

/** The engine of [core] runtime and the environment, as the daemon finds it. */
function engineOf(config: ReturnType<typeof loadConfig>): Dockerode {
  return engineClient(resolveEngine(config.values.core.runtime, { env: (name) => config.env(name), uid: process.getuid?.() ?? -1 }));
}

/** `caic image build`: streams the build steps to the terminal; builds nothing when the image is already what was asked. */
async function imageBuild(configDir: string, values: { base?: string; offline?: boolean; tag?: string; 'no-cache'?: boolean } & Record<string, unknown>): Promise<void> {
  // The agents to add, checked before anything is built.
  const agents: { agent: (typeof AGENT_CLIS)[number]; version?: string }[] = [];
  for (const agent of AGENT_CLIS) {
    const flag = AGENT_RECIPES[agent].flag.slice(2);
    const pinned = values[`${flag}-version`];
    if (pinned !== undefined && values[flag] !== true) throw new UserError(`--${flag}-version needs --${flag}`);
    if (typeof pinned === 'string' && !/^[0-9A-Za-z.+-]{1,64}$/.test(pinned)) throw new UserError(`--${flag}-version: "${pinned}" is not a version`);
    if (values[flag] === true) agents.push({ agent, ...(typeof pinned === 'string' ? { version: pinned } : {}) });
  }
  let docker: Dockerode;
  try {
    docker = engineOf(loadConfig({ configDir }));
    await docker.ping();
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`container engine not reachable: ${(err as Error).message}`);
  }
  const onProgress = (line: string) => process.stdout.write(`${line}\n`);
  const base = values.base ?? (values.offline ? OFFLINE_BASE_IMAGE : ONLINE_BASE_IMAGE);
  try {
    if (values.offline && !(await imageInfo(docker, base))) {
      process.stdout.write(`building ${base} with debootstrap (no registry needed)\n`);
      await buildOfflineBase(docker, { tag: base, onProgress });
    }
    // Versions first (the newest asks the npm registry), so an image that already has them is left alone.
    const versions: Partial<Record<AgentCli, string>> = {};
    for (const { agent, version } of agents) versions[agent] = await agentVersion(agent, version);
    const wanted = values.tag ?? DEFAULT_IMAGE;
    const named = agents.map(({ agent }) => `${AGENT_RECIPES[agent].title} ${versions[agent]}`).join(', ');
    if (!values['no-cache'] && (await agentImageCurrent(docker, { base, tag: wanted, agents: versions }))) {
      process.stdout.write(`${wanted} is up to date on ${base}${named ? ` with ${named}` : ''}: nothing to build (--no-cache builds it again)\n`);
      return;
    }
    const tag = await buildAgentImage(docker, { base, onProgress, tag: wanted, ...(values['no-cache'] ? { noCache: true } : {}) });
    process.stdout.write(`built ${tag} on ${base}\n`);
    // Each agent is a layer on the previous one, under the same tag; its label records the version.
    const cacheDir = join(defaultCacheDir(), 'npm');
    for (const { agent } of agents) {
      const { version } = await addAgent(docker, agent, { base: tag, tag, cacheDir, onProgress, version: versions[agent]! });
      process.stdout.write(`added ${AGENT_RECIPES[agent].title} ${version} to ${tag}\n`);
    }
  } catch (err) {
    if (err instanceof ContainerError) throw new UserError(err.message);
    throw err;
  }
}

main().catch((err: unknown) => {
  if (err instanceof UserError) fail(err.message);
  fail(`unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
});
