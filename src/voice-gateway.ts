// The standalone voice gateway's composition root (`caic voice-gateway`): config → logger → backend → gate → Fastify → listen.
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { loadConfig, localizeAddr, urlForListen, UserError, type Config } from './config/index.js';
import { buildGatewayServer, Gate, openGeoDb } from './http/index.js';
import { createLogger, type LogFormat, type Logger, type LogLevel } from './log/index.js';
import { createVoiceBackend, trustedIssuers, VoiceGateway, VoiceTokenVerifier, type VoiceGatewayOptions } from './voice/index.js';

/** Where a standalone gateway listens unless --listen says otherwise: next to the daemon's 2242, loopback only. */
export const GATEWAY_DEFAULT_LISTEN = '127.0.0.1:2243';

export interface GatewayProcessOptions {
  configDir: string;
  /** host:port (a bare :port binds 127.0.0.1); default GATEWAY_DEFAULT_LISTEN. */
  listen?: string;
  env?: Record<string, string | undefined>;
  logLevel?: LogLevel;
  logDestination?: DestinationStream;
  logFormat?: LogFormat;
  logColor?: boolean;
  /** Tests: idle timeout and caps. */
  voiceGateway?: Partial<Pick<VoiceGatewayOptions, 'idleMs' | 'maxSessions' | 'maxSessionsPerSub'>>;
}

export interface GatewayProcess {
  url: string;
  config: Config;
  app: FastifyInstance;
  gateway: VoiceGateway;
  logger: Logger;
  close(): Promise<void>;
}

/**
 * A gateway of its own: it trusts only the hosts in `[[voice-gateway.trusted_issuers]]` (it has no
 * key and signs nothing), knows nothing of caic's users or sessions, and serves only the rtc routes
 * and /healthz. Throws UserError for what the person must fix (no trusted issuer, no backend key,
 * a taken port).
 */
export async function startVoiceGateway(opts: GatewayProcessOptions): Promise<GatewayProcess> {
  const config = loadConfig({ configDir: opts.configDir, ...(opts.env ? { env: opts.env } : {}) });
  const { logger, masker } = createLogger({
    level: opts.logLevel ?? config.values.debug.log_level,
    ...(opts.logDestination ? { destination: opts.logDestination } : {}),
    ...(opts.logFormat ? { format: opts.logFormat } : {}),
    ...(opts.logColor !== undefined ? { colorize: opts.logColor } : {}),
  });
  masker.add(...config.secrets);
  const issuers = trustedIssuers(config, null);
  if (issuers.length === 0) {
    throw new UserError(
      'voice-gateway.trusted_issuers: a standalone gateway needs at least one trusted host; run `caic voice-gateway pubkey` on the caic host and add the entry it prints to this config.toml',
    );
  }
  let listen;
  try {
    listen = localizeAddr(opts.listen ?? GATEWAY_DEFAULT_LISTEN);
  } catch (err) {
    throw new UserError(`--listen: ${(err as Error).message}`);
  }
  let backend;
  try {
    backend = createVoiceBackend(config, { logger });
  } catch (err) {
    throw new UserError(`voice-gateway.config.backend: ${(err as Error).message}`);
  }
  const gateway = new VoiceGateway({
    backend,
    verifier: new VoiceTokenVerifier({ issuers }),
    logger,
    server: config.values['voice-gateway'].config.server,
    ...opts.voiceGateway,
  });
  const geo = config.geoDbPath ? await openGeoDb(config.geoDbPath) : null;
  const gate = new Gate({ allow: config.allowOrigins, trustedProxies: config.trustedProxies, geo });
  const app = await buildGatewayServer({ logger, gate, gateway });
  try {
    await app.listen({ host: listen.host, port: listen.port, listenTextResolver: (address) => `bound ${address}` });
  } catch (err) {
    await app.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UserError(`--listen: ${listen.host}:${listen.port} is already in use`);
    if (code === 'EADDRNOTAVAIL' || code === 'EACCES') throw new UserError(`--listen: cannot listen on ${listen.host}:${listen.port} (${code})`);
    throw err;
  }
  const address = app.server.address();
  const url = urlForListen({ host: listen.host, port: typeof address === 'object' && address ? address.port : listen.port });
  logger.info(
    { url, backend: backend.name, trustedIssuers: issuers.map((i) => `${i.service} ${i.issuer}`), ...gateway.network },
    'voice gateway listening',
  );
  return {
    url,
    config,
    app,
    gateway,
    logger,
    async close() {
      await gateway.shutdown();
      await app.close();
      logger.flush();
    },
  };
}
