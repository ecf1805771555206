// Whether voice is on (embedded, standalone or off, and why), and the token service behind GET /api/v1/voice/token.
import { isLoopbackHost, parseEd25519PublicKey, type Config } from '../config/index.js';
import type { VoiceStatus, VoiceTokenResp } from '../api/index.js';
import { localStackProblem } from './backends/local-stack.js';
import { loadVoiceIdentity, type VoiceIdentity } from './keys.js';
import { CAIC_SERVICE_KIND, VoiceTokenIssuer, VoiceTokenVerifier, type TrustedIssuer } from './tokens.js';

type Backend = Config['values']['voice-gateway']['config']['backend'];

/** The environment variable each embedded backend needs; a backend without one runs on this machine alone. */
const BACKEND_KEY: Partial<Record<Backend, string>> = { 'gemini-live': 'GEMINI_API_KEY', 'openai-realtime': 'OPENAI_API_KEY' };

/** What the configured backend lacks to run embedded here ("set X"), or undefined when it can run. */
function backendProblem(config: Config, backend: Backend): string | undefined {
  const keyName = BACKEND_KEY[backend];
  if (keyName) return config.env(keyName) ? undefined : `set ${keyName}`;
  return backend === 'local-stack' ? localStackProblem(config.values['voice-gateway'].config.local_stack, (name) => config.env(name)) : undefined;
}

/**
 * Whether this build serves the embedded gateway (/api/v1/voice/rtc/*). Without it, embedded
 * mode is reported with the reason and no token is handed out for it: a client must not show a
 * voice button that leads nowhere.
 */
const EMBEDDED_GATEWAY = true;

/**
 * Voice's state, from the configuration alone: standalone when `[voice-gateway] url` is set,
 * embedded when the backend can run here (its key is set, or it needs none), else off. Without
 * login, tokens are only handed out on a loopback listener (anyone who reaches the daemon would
 * get one otherwise), as for the MCP endpoint.
 */
export function voiceStatus(config: Config): VoiceStatus {
  const vg = config.values['voice-gateway'];
  const backend = vg.config.backend;
  const problem = vg.url ? undefined : backendProblem(config, backend);
  const mode = vg.url ? 'standalone' : !problem ? 'embedded' : 'off';
  if (mode === 'off') {
    return {
      enabled: false,
      mode,
      reason: EMBEDDED_GATEWAY
        ? `voice is off: ${problem} for the embedded gateway (${backend}), or [voice-gateway] url to use a standalone gateway`
        : `voice is off: set [voice-gateway] url to use a standalone voice gateway (the embedded gateway, which needs for ${backend}: ${problem}, is not in this version yet)`,
    };
  }
  if (mode === 'embedded' && !EMBEDDED_GATEWAY) {
    return {
      enabled: false,
      mode,
      reason: 'the embedded voice gateway is not in this version of caic yet; to use voice now, run a standalone voice gateway and set [voice-gateway] url',
    };
  }
  if (config.authProviders.length === 0 && !isLoopbackHost(config.listen.host)) {
    return {
      enabled: false,
      mode,
      reason: 'voice needs login when the daemon listens beyond loopback: configure [github.oauth] or [gitlab.oauth], or listen on 127.0.0.1',
    };
  }
  return { enabled: true, mode, reason: '' };
}

/** A voice token could not be issued because voice is off; the message says why and how to fix it. */
export class VoiceOffError extends Error {
  constructor(readonly status: VoiceStatus) {
    super(status.reason);
    this.name = 'VoiceOffError';
  }
}

export interface VoiceTokenServiceOptions {
  /** Where the daemon listens, for an origin when a request does not say (no Host, HTTP/1.0). */
  listenUrl: () => string;
}

/**
 * Issues this instance's voice tokens and checks tokens for the embedded gateway. The key is
 * loaded (or made) when voice is on, or when a signing key is configured (so a bad one fails at
 * start, not at the first token).
 */
export class VoiceTokenService {
  private constructor(
    private readonly config: Config,
    private current: VoiceStatus,
    /** Null while voice is off and no key is configured. */
    readonly identity: VoiceIdentity | null,
    private readonly issuer: VoiceTokenIssuer | null,
    /** For the embedded gateway: this instance's own key plus `[[voice-gateway.trusted_issuers]]`. */
    readonly verifier: VoiceTokenVerifier,
    private readonly opts: VoiceTokenServiceOptions,
  ) {}

  get status(): VoiceStatus {
    return this.current;
  }

  /**
   * The embedded gateway cannot run (its backend refused the configuration): voice is off with
   * that reason, and no token is handed out for a gateway that is not there.
   */
  embeddedUnavailable(problem: string): void {
    this.current = { enabled: false, mode: 'off', reason: `the embedded voice gateway cannot start: ${problem}` };
  }

  static async open(config: Config, opts: VoiceTokenServiceOptions): Promise<VoiceTokenService> {
    const status = voiceStatus(config);
    const vg = config.values['voice-gateway'];
    const identity =
      status.mode !== 'off' || vg.signing_private_key_pem
        ? await loadVoiceIdentity({ configDir: config.configDir, signingKeyPath: vg.signing_private_key_pem, instanceId: vg.instance_id })
        : null;
    const issuer = identity
      ? new VoiceTokenIssuer({ privateKey: identity.key.privateKey, instanceId: identity.instanceId, form: vg.token_mode === 'ed25519' ? 'compact' : 'jws' })
      : null;
    return new VoiceTokenService(config, status, identity, issuer, new VoiceTokenVerifier({ issuers: trustedIssuers(config, identity) }), opts);
  }

  /**
   * A token for `sub`. `requestOrigin` is the origin the client reached the daemon at; the
   * configured external_url wins over it. Throws VoiceOffError when voice is off.
   */
  async token(sub: string, requestOrigin: string | null): Promise<VoiceTokenResp> {
    if (!this.status.enabled || !this.issuer) throw new VoiceOffError(this.status);
    const backendOrigin = this.config.externalUrl?.origin ?? requestOrigin ?? new URL(this.opts.listenUrl()).origin;
    const issued = await this.issuer.issue(sub, backendOrigin);
    const url = this.config.values['voice-gateway'].url;
    return {
      token: issued.token,
      expiresAt: issued.expiresAt.toISOString(),
      gatewayUrl: this.status.mode === 'standalone' ? url.replace(/\/+$/, '') : backendOrigin,
      capabilities: issued.capabilities,
    };
  }
}

/** `[[voice-gateway.trusted_issuers]]` (checked at load), and this instance's own key when it has one. */
export function trustedIssuers(config: Config, identity: VoiceIdentity | null): TrustedIssuer[] {
  const configured = config.values['voice-gateway'].trusted_issuers.map((t) => ({
    service: t.service,
    issuer: t.issuer,
    publicKey: parseEd25519PublicKey(t.public_key),
  }));
  return identity ? [{ service: CAIC_SERVICE_KIND, issuer: identity.instanceId, publicKey: identity.key.publicKey }, ...configured] : configured;
}
