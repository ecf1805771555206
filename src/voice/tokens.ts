// Voice tokens: short-lived, scoped, Ed25519-signed claims a caic host gives its clients and a voice gateway checks.
import { randomBytes, sign as signBytes, verify as verifySignature, type KeyObject } from 'node:crypto';
import { compactVerify, SignJWT } from 'jose';
import { z } from 'zod';

/** The audience of every voice token: a voice gateway, embedded or standalone. */
export const VOICE_AUDIENCE = 'voice-gateway';
/** The capability that lets a client open a voice session (the name caic in Go uses too). */
export const VOICE_SESSION_CAPABILITY = 'voice.session';
/** `serviceKind` of the tokens this program issues. */
export const CAIC_SERVICE_KIND = 'caic';
/** JOSE `typ` of the JWS form. */
export const VOICE_TOKEN_TYPE = 'vgw+jwt';
/** Lifetime of the tokens we issue: long enough to open a session, short enough that a leaked one soon dies. */
export const VOICE_TOKEN_TTL_SECONDS = 300;
/** Clock difference tolerated between host and gateway. */
export const CLOCK_SKEW_SECONDS = 30;
/** A gateway refuses tokens that would live longer than this, whoever signed them: voice tokens are short-lived. */
export const MAX_TOKEN_LIFETIME_SECONDS = 3600;
/** Longer tokens are refused before anything is decoded (ours are about 600 characters). */
export const MAX_TOKEN_LENGTH = 4096;

/** Which of the two token forms: EdDSA JWS (ours), or the transitional compact form of caic in Go. */
export type VoiceTokenForm = 'jws' | 'compact';

/** What a verified token says, the same for both forms. */
export interface VoiceClaims {
  serviceKind: string;
  serviceInstanceID: string;
  /** The host's origin (http or https, no path): where the client runs the model's tool calls. */
  backendOrigin: string;
  sub: string;
  capabilities: string[];
  expiresAt: Date;
  issuedAt: Date | null;
  jti: string | null;
}

export type VoiceTokenRefusal =
  | 'malformed'
  | 'too_large'
  | 'unsupported_alg'
  | 'untrusted_issuer'
  | 'bad_signature'
  | 'bad_claims'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'too_long_lived'
  | 'missing_capability';

/** A refused token; the route layer answers 401 with the message (which never repeats the token). */
export class VoiceTokenError extends Error {
  constructor(
    readonly reason: VoiceTokenRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'VoiceTokenError';
  }
}

export interface IssuedVoiceToken {
  token: string;
  expiresAt: Date;
  capabilities: string[];
  jti: string;
}

export interface VoiceTokenIssuerOptions {
  privateKey: KeyObject;
  instanceId: string;
  /** '' or absent: EdDSA JWS; 'ed25519': the compact form, for a gateway that reads only that one (caic in Go). */
  form?: VoiceTokenForm;
  ttlSeconds?: number;
  now?: () => number;
}

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Signs voice tokens with this instance's key. */
export class VoiceTokenIssuer {
  private readonly form: VoiceTokenForm;
  private readonly ttl: number;
  private readonly now: () => number;

  constructor(private readonly opts: VoiceTokenIssuerOptions) {
    if (opts.privateKey.asymmetricKeyType !== 'ed25519') throw new Error('voice tokens need an Ed25519 private key');
    this.form = opts.form ?? 'jws';
    this.ttl = opts.ttlSeconds ?? VOICE_TOKEN_TTL_SECONDS;
    this.now = opts.now ?? Date.now;
  }

  /** A token for `sub` whose tool calls go to `backendOrigin` (an http(s) origin without a path). */
  async issue(sub: string, backendOrigin: string, capabilities: string[] = [VOICE_SESSION_CAPABILITY]): Promise<IssuedVoiceToken> {
    if (!isOrigin(backendOrigin)) throw new Error(`backendOrigin must be an http(s) origin without a path, got "${backendOrigin}"`);
    if (!sub) throw new Error('a voice token needs a subject');
    const iat = Math.floor(this.now() / 1000);
    const exp = iat + this.ttl;
    const jti = randomBytes(16).toString('base64url');
    const claims = {
      serviceKind: CAIC_SERVICE_KIND,
      serviceInstanceID: this.opts.instanceId,
      backendOrigin,
      sub,
      capabilities,
      aud: VOICE_AUDIENCE,
      iat,
      jti,
    };
    let token: string;
    if (this.form === 'jws') {
      token = await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: VOICE_TOKEN_TYPE }).setExpirationTime(exp).sign(this.opts.privateKey);
    } else {
      // caic in Go reads `exp` as an RFC 3339 time and signs the encoded claims themselves.
      const encoded = b64json({ ...claims, exp: new Date(exp * 1000).toISOString() });
      token = `${encoded}.${signBytes(null, Buffer.from(encoded), this.opts.privateKey).toString('base64url')}`;
    }
    return { token, expiresAt: new Date(exp * 1000), capabilities, jti };
  }
}

/** A host whose tokens a gateway accepts. */
export interface TrustedIssuer {
  /** Matched against the token's `serviceKind`. */
  service: string;
  /** Matched against the token's `serviceInstanceID`, or its `backendOrigin` (how caic in Go writes it). */
  issuer: string;
  publicKey: KeyObject;
}

export interface VerifiedVoiceToken {
  claims: VoiceClaims;
  form: VoiceTokenForm;
  /** The entry whose key verified it. */
  issuer: { service: string; issuer: string };
}

export interface VoiceTokenVerifierOptions {
  issuers: readonly TrustedIssuer[];
  now?: () => number;
  skewSeconds?: number;
  /** The capability a token must carry (default voice.session). */
  capability?: string;
}

/** An http(s) origin with no path, query or credentials, spelled as URL.origin spells it. */
function isOrigin(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === value;
  } catch {
    return false;
  }
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/** Seconds since the epoch of an RFC 3339 time (any fraction, as Go writes it); null when it is not one. */
function rfc3339Seconds(value: string): number | null {
  const m = RFC3339.exec(value);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(3, '0').slice(0, 3)}${m[4]!.toUpperCase()}`);
  return Number.isNaN(ms) ? null : ms / 1000;
}

const shortString = (max: number) => z.string().min(1).max(max);
const numericDate = z.number().nonnegative();
const ClaimsSchema = z.object({
  serviceKind: shortString(64),
  serviceInstanceID: shortString(256),
  backendOrigin: z.string().max(2048).refine(isOrigin, 'must be an http(s) origin without a path'),
  sub: shortString(256),
  capabilities: z.array(z.string().max(128)).max(64),
  aud: z.union([z.string().max(256), z.array(z.string().max(256)).max(16)]),
  exp: z.union([numericDate, z.string().max(64)]),
  iat: numericDate.optional(),
  nbf: numericDate.optional(),
  jti: shortString(256).optional(),
});

/** Strict base64url: only the alphabet, no padding, and no stray trailing bits (one token, one spelling). */
function isCanonicalB64url(part: string): boolean {
  return part.length > 0 && Buffer.from(part, 'base64url').toString('base64url') === part;
}

function parseJsonObject(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new VoiceTokenError('malformed', `token ${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new VoiceTokenError('malformed', `token ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

const ACCEPTED_ALGS = new Set(['EdDSA', 'Ed25519']);

/**
 * Checks voice tokens for a gateway: the signature of a trusted issuer (chosen by the token's
 * service kind and instance or origin), the audience, the times with a small clock skew, and the
 * voice capability. Accepts the EdDSA JWS form and caic's transitional compact form
 * `b64url(claims).b64url(Ed25519 signature over the encoded claims)`. Every refusal is a
 * VoiceTokenError.
 */
export class VoiceTokenVerifier {
  private readonly issuers: readonly TrustedIssuer[];
  private readonly now: () => number;
  private readonly skew: number;
  private readonly capability: string;

  constructor(opts: VoiceTokenVerifierOptions) {
    this.issuers = opts.issuers;
    this.now = opts.now ?? Date.now;
    this.skew = opts.skewSeconds ?? CLOCK_SKEW_SECONDS;
    this.capability = opts.capability ?? VOICE_SESSION_CAPABILITY;
  }

  async verify(token: unknown): Promise<VerifiedVoiceToken> {
    if (typeof token !== 'string' || token.length === 0) throw new VoiceTokenError('malformed', 'no token');
    if (token.length > MAX_TOKEN_LENGTH) throw new VoiceTokenError('too_large', `token longer than ${MAX_TOKEN_LENGTH} characters`);
    const parts = token.split('.');
    if (parts.length !== 2 && parts.length !== 3) throw new VoiceTokenError('malformed', 'token must have two (compact) or three (JWS) parts');
    if (!parts.every(isCanonicalB64url)) throw new VoiceTokenError('malformed', 'token parts must be unpadded base64url');
    return parts.length === 3 ? this.verifyJws(token, parts as [string, string, string]) : this.verifyCompact(parts as [string, string]);
  }

  private async verifyJws(token: string, [headerPart, payloadPart]: [string, string, string]): Promise<VerifiedVoiceToken> {
    const header = parseJsonObject(headerPart, 'header');
    // Only the algorithm of the key type we trust; `none`, HMAC with a public key as the secret and the like stop here.
    if (typeof header.alg !== 'string' || !ACCEPTED_ALGS.has(header.alg)) throw new VoiceTokenError('unsupported_alg', `token algorithm ${JSON.stringify(header.alg)} is not EdDSA`);
    if (header.crit !== undefined) throw new VoiceTokenError('malformed', 'token header has critical extensions');
    const raw = parseJsonObject(payloadPart, 'claims');
    let verified: TrustedIssuer | null = null;
    for (const candidate of this.candidates(raw)) {
      try {
        await compactVerify(token, candidate.publicKey, { algorithms: [...ACCEPTED_ALGS] });
        verified = candidate;
        break;
      } catch {
        // Try the next key of this issuer (a host may be listed with an old and a new key).
      }
    }
    if (!verified) throw new VoiceTokenError('bad_signature', 'token signature does not verify with the trusted key');
    if (typeof raw.exp !== 'number') throw new VoiceTokenError('bad_claims', 'token exp must be a NumericDate');
    if (typeof raw.iat !== 'number') throw new VoiceTokenError('bad_claims', 'token iat is missing');
    return { claims: this.checkClaims(raw), form: 'jws', issuer: { service: verified.service, issuer: verified.issuer } };
  }

  private verifyCompact([payloadPart, signaturePart]: [string, string]): VerifiedVoiceToken {
    const raw = parseJsonObject(payloadPart, 'claims');
    const signature = Buffer.from(signaturePart, 'base64url');
    if (signature.length !== 64) throw new VoiceTokenError('bad_signature', 'token signature is not an Ed25519 signature');
    const signed = Buffer.from(payloadPart);
    const verified = this.candidates(raw).find((c) => verifySignature(null, signed, c.publicKey, signature));
    if (!verified) throw new VoiceTokenError('bad_signature', 'token signature does not verify with the trusted key');
    return { claims: this.checkClaims(raw), form: 'compact', issuer: { service: verified.service, issuer: verified.issuer } };
  }

  /** The trusted entries a token names (before its signature is checked, so only to pick keys). */
  private candidates(raw: Record<string, unknown>): TrustedIssuer[] {
    const { serviceKind, serviceInstanceID, backendOrigin } = raw;
    if (typeof serviceKind !== 'string' || typeof serviceInstanceID !== 'string') throw new VoiceTokenError('bad_claims', 'token must name serviceKind and serviceInstanceID');
    const origin = typeof backendOrigin === 'string' ? backendOrigin.replace(/\/+$/, '') : null;
    const found = this.issuers.filter(
      (i) => i.service === serviceKind && (i.issuer === serviceInstanceID || (origin !== null && i.issuer.replace(/\/+$/, '') === origin)),
    );
    if (found.length === 0) throw new VoiceTokenError('untrusted_issuer', `no trusted issuer for ${serviceKind} "${serviceInstanceID}"`);
    return found;
  }

  /** The claims of a token whose signature holds: types, audience, times, capability. */
  private checkClaims(raw: Record<string, unknown>): VoiceClaims {
    const parsed = ClaimsSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new VoiceTokenError('bad_claims', `token claim ${issue.path.join('.') || '(claims)'}: ${issue.message}`);
    }
    const c = parsed.data;
    const audiences = typeof c.aud === 'string' ? [c.aud] : c.aud;
    if (!audiences.includes(VOICE_AUDIENCE)) throw new VoiceTokenError('wrong_audience', `token audience is not ${VOICE_AUDIENCE}`);
    const exp = typeof c.exp === 'number' ? c.exp : rfc3339Seconds(c.exp);
    if (exp === null) throw new VoiceTokenError('bad_claims', 'token exp is neither a NumericDate nor an RFC 3339 time');
    const now = this.now() / 1000;
    if (exp + this.skew <= now) throw new VoiceTokenError('expired', 'token expired');
    if (c.iat !== undefined && c.iat - this.skew > now) throw new VoiceTokenError('not_yet_valid', 'token issued in the future');
    if (c.nbf !== undefined && c.nbf - this.skew > now) throw new VoiceTokenError('not_yet_valid', 'token not valid yet');
    if (exp - now > MAX_TOKEN_LIFETIME_SECONDS + this.skew) throw new VoiceTokenError('too_long_lived', `token lives longer than ${MAX_TOKEN_LIFETIME_SECONDS} s`);
    if (!c.capabilities.includes(this.capability)) throw new VoiceTokenError('missing_capability', `token lacks the ${this.capability} capability`);
    return {
      serviceKind: c.serviceKind,
      serviceInstanceID: c.serviceInstanceID,
      backendOrigin: c.backendOrigin,
      sub: c.sub,
      capabilities: c.capabilities,
      expiresAt: new Date(exp * 1000),
      issuedAt: c.iat === undefined ? null : new Date(c.iat * 1000),
      jti: c.jti ?? null,
    };
  }
}
