// Voice tokens: issue and verify both forms, every refusal, the key text form, the instance key on disk, the config keys.
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { formatEd25519PublicKey, loadConfig, parseEd25519PublicKey, UserError } from '../../src/config/index.js';
import {
  loadVoiceIdentity,
  MAX_TOKEN_LENGTH,
  VOICE_INSTANCE_FILE_NAME,
  VOICE_KEY_FILE_NAME,
  VoiceTokenError,
  VoiceTokenIssuer,
  VoiceTokenVerifier,
  voiceStatus,
  type TrustedIssuer,
  type VoiceTokenRefusal,
} from '../../src/voice/index.js';
import { tempDir } from '../helpers/tmp.js';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const now = () => NOW;
const ORIGIN = 'https://caic.example.com';
const host = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const trusted: TrustedIssuer[] = [{ service: 'caic', issuer: 'home', publicKey: host.publicKey }];
const verifier = (n = now, issuers = trusted) => new VoiceTokenVerifier({ issuers, now: n });
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Claims as a well-behaved host writes them, at NOW, valid five minutes. */
function claims(over: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = Math.floor(NOW / 1000);
  return {
    serviceKind: 'caic',
    serviceInstanceID: 'home',
    backendOrigin: ORIGIN,
    sub: 'user-1',
    capabilities: ['voice.session'],
    aud: 'voice-gateway',
    iat,
    exp: iat + 300,
    jti: 'j1',
    ...over,
  };
}

/** A JWS made with jose, with any claims and header. */
function jws(c: Record<string, unknown>, key: KeyObject | Uint8Array = host.privateKey, header: Record<string, unknown> = { alg: 'EdDSA', typ: 'vgw+jwt' }) {
  return new SignJWT(c).setProtectedHeader(header as { alg: string }).sign(key);
}

/** caic (Go)'s transitional form: b64url(JSON claims).b64url(Ed25519 signature over the encoded claims). */
function compact(c: Record<string, unknown>, key: KeyObject = host.privateKey): string {
  const encoded = b64(c);
  return `${encoded}.${sign(null, Buffer.from(encoded), key).toString('base64url')}`;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** The same bytes, spelled with the lowest spare bit of the last character set (lengths that are not a multiple of 3 bytes have spare bits). */
function withSpareBit(text: string): string {
  return text.slice(0, -1) + B64URL[B64URL.indexOf(text.at(-1)!) | 1]!;
}

async function refusal(token: unknown, v = verifier()): Promise<VoiceTokenRefusal> {
  try {
    await v.verify(token);
  } catch (err) {
    assert.ok(err instanceof VoiceTokenError, `a VoiceTokenError, got ${String(err)}`);
    if (typeof token === 'string' && token.length > 20) assert.ok(!err.message.includes(token), 'the message does not repeat the token');
    return err.reason;
  }
  assert.fail('the token was accepted');
}

describe('issue and verify', () => {
  test('the JWS form round trip: EdDSA, typ vgw+jwt, every claim', async () => {
    const issuer = new VoiceTokenIssuer({ privateKey: host.privateKey, instanceId: 'home', now });
    const issued = await issuer.issue('user-1', ORIGIN);
    assert.equal(issued.token.split('.').length, 3);
    const header = JSON.parse(Buffer.from(issued.token.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
    assert.deepEqual(header, { alg: 'EdDSA', typ: 'vgw+jwt' });
    assert.equal(issued.expiresAt.getTime(), NOW + 300_000);
    const v = await verifier().verify(issued.token);
    assert.equal(v.form, 'jws');
    assert.deepEqual(v.issuer, { service: 'caic', issuer: 'home' });
    assert.equal(v.claims.serviceKind, 'caic');
    assert.equal(v.claims.serviceInstanceID, 'home');
    assert.equal(v.claims.backendOrigin, ORIGIN);
    assert.equal(v.claims.sub, 'user-1');
    assert.deepEqual(v.claims.capabilities, ['voice.session']);
    assert.equal(v.claims.expiresAt.getTime(), NOW + 300_000);
    assert.equal(v.claims.issuedAt?.getTime(), NOW);
    assert.equal(v.claims.jti, issued.jti);
    const payload = JSON.parse(Buffer.from(issued.token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(payload.aud, 'voice-gateway');
    assert.ok(issued.token.length < 600, `short enough for a header (${issued.token.length})`);
  });

  test('the compact form round trip (token_mode = "ed25519"): exp as an RFC 3339 time', async () => {
    const issuer = new VoiceTokenIssuer({ privateKey: host.privateKey, instanceId: 'home', form: 'compact', now });
    const issued = await issuer.issue('user-1', ORIGIN);
    const [payload] = issued.token.split('.');
    assert.equal(issued.token.split('.').length, 2);
    assert.equal((JSON.parse(Buffer.from(payload!, 'base64url').toString()) as { exp: unknown }).exp, new Date(NOW + 300_000).toISOString());
    const v = await verifier().verify(issued.token);
    assert.equal(v.form, 'compact');
    assert.equal(v.claims.expiresAt.getTime(), NOW + 300_000);
  });

  test('a token made the way caic in Go makes it verifies (nanosecond RFC 3339 exp, no iat, issuer = the host origin)', async () => {
    const goClaims = {
      serviceKind: 'caic',
      serviceInstanceID: 'home-go',
      backendOrigin: ORIGIN,
      sub: 'user-1',
      capabilities: ['voice.session'],
      aud: 'voice-gateway',
      exp: '2026-11-30T13:04:59.123456789+01:00',
    };
    // Go's trusted_issuers name the host by its base URL.
    const goIssuers = [{ service: 'caic', issuer: `${ORIGIN}/`, publicKey: other.publicKey }];
    const v = verifier(now, goIssuers);
    const ok = await v.verify(compact(goClaims, other.privateKey));
    assert.equal(ok.claims.expiresAt.getTime(), Date.parse('2026-11-30T12:04:59.123Z'));
    assert.equal(ok.claims.issuedAt, null);
    assert.deepEqual(ok.issuer, { service: 'caic', issuer: `${ORIGIN}/` });
    assert.equal(await refusal(compact({ ...goClaims, exp: '2026-11-30T12:00:00Z' }, other.privateKey), verifier(() => NOW + 31_000, goIssuers)), 'expired');
    assert.equal(await refusal(compact({ ...goClaims, exp: 'tomorrow' }, other.privateKey), v), 'bad_claims');
  });

  test('a host listed with two keys (rotation): either verifies', async () => {
    const v = verifier(now, [...trusted, { service: 'caic', issuer: 'home', publicKey: other.publicKey }]);
    assert.equal((await v.verify(await jws(claims(), other.privateKey))).claims.sub, 'user-1');
    assert.equal((await v.verify(compact(claims()))).claims.sub, 'user-1');
  });

  test('the clock skew: 30 s either way, no more', async () => {
    const token = await jws(claims());
    const exp = NOW + 300_000;
    assert.ok(await verifier(() => exp + 29_000).verify(token));
    assert.equal(await refusal(token, verifier(() => exp + 30_000)), 'expired');
    assert.ok(await verifier(() => NOW - 29_000).verify(token), 'a gateway clock a little behind');
    assert.equal(await refusal(token, verifier(() => NOW - 31_000)), 'not_yet_valid');
    assert.equal(await refusal(await jws(claims({ nbf: NOW / 1000 + 60 }))), 'not_yet_valid');
  });
});

describe('refusals', () => {
  test('wrong issuer key: signed by another key under the trusted name', async () => {
    assert.equal(await refusal(await jws(claims(), other.privateKey)), 'bad_signature');
    assert.equal(await refusal(compact(claims(), other.privateKey)), 'bad_signature');
  });

  test('an issuer nobody trusts', async () => {
    assert.equal(await refusal(await jws(claims({ serviceInstanceID: 'stranger' }), other.privateKey)), 'untrusted_issuer');
    assert.equal(await refusal(await jws(claims({ serviceKind: 'other' }))), 'untrusted_issuer');
    assert.equal(await refusal(await jws(claims({ serviceKind: 7 }))), 'bad_claims');
  });

  test('wrong audience', async () => {
    assert.equal(await refusal(await jws(claims({ aud: 'caic' }))), 'wrong_audience');
    assert.equal(await refusal(await jws(claims({ aud: ['a', 'b'] }))), 'wrong_audience');
    assert.ok(await verifier().verify(await jws(claims({ aud: ['other', 'voice-gateway'] }))), 'an audience list naming the gateway');
    assert.equal(await refusal(compact(claims({ aud: 'caic' }))), 'wrong_audience');
  });

  test('expired', async () => {
    assert.equal(await refusal(await jws(claims({ exp: NOW / 1000 - 60 }))), 'expired');
    assert.equal(await refusal(compact(claims({ exp: new Date(NOW - 60_000).toISOString() }))), 'expired');
  });

  test('a token that would live longer than an hour', async () => {
    assert.equal(await refusal(await jws(claims({ exp: NOW / 1000 + 7200 }))), 'too_long_lived');
  });

  test('tampered claims (signature of the original)', async () => {
    const token = await jws(claims());
    const [h, , s] = token.split('.');
    assert.equal(await refusal(`${h}.${b64(claims({ sub: 'admin' }))}.${s}`), 'bad_signature');
    const c = compact(claims());
    assert.equal(await refusal(`${b64(claims({ sub: 'admin' }))}.${c.split('.')[1]}`), 'bad_signature');
  });

  test('missing capability', async () => {
    assert.equal(await refusal(await jws(claims({ capabilities: [] }))), 'missing_capability');
    assert.equal(await refusal(await jws(claims({ capabilities: ['tasks.read'] }))), 'missing_capability');
    assert.equal(await refusal(compact(claims({ capabilities: [] }))), 'missing_capability');
  });

  test('alg confusion: none, HS256 keyed with the public key', async () => {
    const rawPublic = Buffer.from(formatEd25519PublicKey(host.publicKey).slice('ed25519:'.length), 'base64url');
    assert.equal(await refusal(await jws(claims(), rawPublic, { alg: 'HS256' })), 'unsupported_alg');
    const publicPem = host.publicKey.export({ format: 'pem', type: 'spki' });
    assert.equal(await refusal(await jws(claims(), Buffer.from(publicPem), { alg: 'HS256' })), 'unsupported_alg');
    const none = `${b64({ alg: 'none' })}.${b64(claims())}`;
    assert.equal(await refusal(`${none}.`), 'malformed', 'an unsigned JWS');
    assert.equal(await refusal(`${none}.${b64('x')}`), 'unsupported_alg');
    assert.equal(await refusal(`${b64({ alg: 'ES256' })}.${b64(claims())}.${b64('x'.repeat(64))}`), 'unsupported_alg');
    assert.equal(await refusal(`${b64({ typ: 'JWT' })}.${b64(claims())}.${b64('x')}`), 'unsupported_alg');
    // A real EdDSA signature with a critical extension nobody here understands.
    const critInput = `${b64({ alg: 'EdDSA', crit: ['exp'] })}.${b64(claims())}`;
    assert.equal(await refusal(`${critInput}.${sign(null, Buffer.from(critInput), host.privateKey).toString('base64url')}`), 'malformed');
  });

  test('garbage, extra parts, non-canonical base64url', async () => {
    for (const t of [undefined, 42, '', 'garbage', '...', 'a.b.c.d', 'a..b', '{}.{}', '\u00e9.\u00e9']) assert.ok(['malformed'].includes(await refusal(t)), String(t));
    assert.equal(await refusal(`${b64('not json')}.${b64('x'.repeat(64))}`), 'malformed');
    assert.equal(await refusal(`${b64('[1]')}.${b64('x'.repeat(64))}`), 'malformed');
    const token = await jws(claims());
    assert.equal(await refusal(`${token}.${b64('x')}`), 'malformed', 'a JWS with a fourth part');
    const [h, p, s] = token.split('.');
    assert.equal(await refusal(`${h}.${p}.${s}=`), 'malformed', 'padding');
    assert.equal(await refusal(`${h}.${p}.${s!.replace(/^./, (ch) => (ch === 'A' ? 'B' : 'A'))}`), 'bad_signature', 'a changed signature');
    // The same bytes spelled with non-zero trailing bits: 64 bytes leave 4 spare bits in the last character.
    const spare = withSpareBit(s!);
    assert.ok(Buffer.from(spare, 'base64url').equals(Buffer.from(s!, 'base64url')), 'decodes to the same signature');
    assert.equal(await refusal(`${h}.${p}.${spare}`), 'malformed');
    assert.equal(await refusal(compact(claims()).replace('.', '.+')), 'malformed');
    assert.equal(await refusal(`${compact(claims()).split('.')[0]}.${b64('short')}`), 'bad_signature');
  });

  test('oversized tokens are refused before decoding', async () => {
    const big = await jws(claims({ pad: 'x'.repeat(MAX_TOKEN_LENGTH) }));
    assert.equal(await refusal(big), 'too_large');
    assert.equal(await refusal('a'.repeat(10_000_000)), 'too_large');
  });

  test('claims of the wrong type or shape', async () => {
    assert.equal(await refusal(await jws(claims({ backendOrigin: `${ORIGIN}/caic` }))), 'bad_claims');
    assert.equal(await refusal(await jws(claims({ backendOrigin: 'ftp://caic.example.com' }))), 'bad_claims');
    assert.equal(await refusal(await jws(claims({ capabilities: 'voice.session' }))), 'bad_claims');
    assert.equal(await refusal(await jws(claims({ sub: '' }))), 'bad_claims');
    assert.equal(await refusal(await jws(claims({ exp: new Date(NOW + 60_000).toISOString() }))), 'bad_claims', 'a JWS exp is a NumericDate');
    assert.equal(await refusal(await jws(claims({ iat: undefined }))), 'bad_claims');
    assert.equal(await refusal(compact(claims({ exp: undefined }))), 'bad_claims');
  });

  test('the issuer refuses to sign what a gateway would refuse', async () => {
    const issuer = new VoiceTokenIssuer({ privateKey: host.privateKey, instanceId: 'home' });
    await assert.rejects(issuer.issue('u', 'https://caic.example.com/path'), /origin/);
    await assert.rejects(issuer.issue('', ORIGIN), /subject/);
    assert.throws(() => new VoiceTokenIssuer({ privateKey: generateKeyPairSync('x25519').privateKey, instanceId: 'home' }), /Ed25519/);
  });
});

describe('the ed25519:<base64url> key text', () => {
  test('round trip and every malformed spelling', () => {
    const text = formatEd25519PublicKey(host.publicKey);
    assert.match(text, /^ed25519:[A-Za-z0-9_-]{43}$/);
    assert.ok(parseEd25519PublicKey(text).equals(host.publicKey));
    assert.throws(() => parseEd25519PublicKey(text.slice('ed25519:'.length)), /must start with "ed25519:"/);
    assert.throws(() => parseEd25519PublicKey(`${text}=`), /base64url/);
    assert.throws(() => parseEd25519PublicKey(withSpareBit(text)), /base64url/, 'the same key with a non-zero spare bit');
    assert.throws(() => parseEd25519PublicKey(`ed25519:${Buffer.alloc(31).toString('base64url')}`), /32 bytes/);
    assert.throws(() => parseEd25519PublicKey('ed25519:a+b/'), /base64url/);
    assert.throws(() => formatEd25519PublicKey(generateKeyPairSync('x25519').publicKey), /Ed25519/);
  });
});

describe('the instance key on disk', () => {
  test('made on first use: 0600 in a 0700 directory, the same key and id after a restart', async () => {
    await using dir = await tempDir();
    const configDir = join(dir.path, 'cfg');
    const first = await loadVoiceIdentity({ configDir, signingKeyPath: '', instanceId: '' });
    assert.equal(first.key.created, true);
    assert.equal((await stat(configDir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(configDir, VOICE_KEY_FILE_NAME))).mode & 0o777, 0o600);
    assert.equal((await stat(join(configDir, VOICE_INSTANCE_FILE_NAME))).mode & 0o777, 0o600);
    assert.match(first.instanceId, /^caic-[0-9a-f]{16}$/);
    const again = await loadVoiceIdentity({ configDir, signingKeyPath: '', instanceId: '' });
    assert.equal(again.key.created, false);
    assert.equal(again.key.publicKeyText, first.key.publicKeyText);
    assert.equal(again.instanceId, first.instanceId);
    assert.deepEqual((await readdir(configDir)).filter((n) => n.endsWith('.tmp')), [], 'no temp files left');
    const configured = await loadVoiceIdentity({ configDir, signingKeyPath: '', instanceId: 'named' });
    assert.equal(configured.instanceId, 'named');
  });

  test('processes starting at once agree on one key', async () => {
    await using dir = await tempDir();
    const configDir = join(dir.path, 'cfg');
    const all = await Promise.all(Array.from({ length: 8 }, () => loadVoiceIdentity({ configDir, signingKeyPath: '', instanceId: '' })));
    assert.equal(new Set(all.map((a) => a.key.publicKeyText)).size, 1);
    assert.equal(new Set(all.map((a) => a.instanceId)).size, 1);
    assert.equal(all.filter((a) => a.key.created).length, 1);
    const onDisk = await loadVoiceIdentity({ configDir, signingKeyPath: '', instanceId: '' });
    assert.equal(onDisk.key.publicKeyText, all[0]!.key.publicKeyText);
  });

  test('signing_private_key_pem: an Ed25519 PEM is used; unreadable, not PEM, not Ed25519 or encrypted is a clear error', async () => {
    await using dir = await tempDir();
    const pem = host.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const path = await dir.file('voice.pem', pem);
    const id = await loadVoiceIdentity({ configDir: dir.path, signingKeyPath: path, instanceId: 'home' });
    assert.equal(id.key.publicKeyText, formatEd25519PublicKey(host.publicKey));
    assert.equal(id.key.created, false);
    const tokens = new VoiceTokenIssuer({ privateKey: id.key.privateKey, instanceId: id.instanceId, now });
    assert.ok(await verifier().verify((await tokens.issue('u', ORIGIN)).token));

    const expectError = async (signingKeyPath: string, pattern: RegExp) => {
      const err = await loadVoiceIdentity({ configDir: dir.path, signingKeyPath, instanceId: '' }).catch((e: unknown) => e);
      assert.ok(err instanceof UserError, String(err));
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes('\n'), 'one line');
    };
    await expectError(join(dir.path, 'missing.pem'), /signing_private_key_pem: cannot read .*missing\.pem/);
    await expectError(await dir.file('junk.pem', 'hello'), /junk\.pem is not a PEM private key/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    await expectError(await dir.file('rsa.pem', rsa), /is a rsa key; voice tokens need an Ed25519 key/);
    const encrypted = host.privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string;
    await expectError(await dir.file('enc.pem', encrypted), /is encrypted/);
  });

  test('a damaged generated key is a clear error, not a new key', async () => {
    await using dir = await tempDir();
    await mkdir(join(dir.path, 'cfg'), { mode: 0o700 });
    await writeFile(join(dir.path, 'cfg', VOICE_KEY_FILE_NAME), 'damaged', { mode: 0o600 });
    const err = await loadVoiceIdentity({ configDir: join(dir.path, 'cfg'), signingKeyPath: '', instanceId: '' }).catch((e: unknown) => e);
    assert.ok(err instanceof UserError);
    assert.match(err.message, /voice-signing-key\.pem is not a PEM private key; delete it to make a new key/);
    assert.equal(await readFile(join(dir.path, 'cfg', VOICE_KEY_FILE_NAME), 'utf8'), 'damaged');
  });
});

describe('[voice-gateway] in config.toml', () => {
  async function loadError(toml: string): Promise<string> {
    await using dir = await tempDir();
    await writeFile(join(dir.path, 'config.toml'), toml);
    try {
      loadConfig({ configDir: dir.path, cacheDir: join(dir.path, 'cache'), env: {} });
    } catch (err) {
      assert.ok(err instanceof UserError, String(err));
      return err.message;
    }
    assert.fail('accepted');
  }

  test('trusted_issuers: a valid entry loads; a bad public_key is a one-line error with its line', async () => {
    await using dir = await tempDir();
    const key = formatEd25519PublicKey(other.publicKey);
    await writeFile(join(dir.path, 'config.toml'), `[voice-gateway]\n[[voice-gateway.trusted_issuers]]\nservice = "caic"\nissuer = "home"\npublic_key = "${key}"\n`);
    const c = loadConfig({ configDir: dir.path, cacheDir: join(dir.path, 'cache'), env: {} });
    assert.deepEqual(c.values['voice-gateway'].trusted_issuers, [{ service: 'caic', issuer: 'home', public_key: key }]);

    const bad = await loadError(`[voice-gateway]\n\n[[voice-gateway.trusted_issuers]]\nservice = "caic"\nissuer = "home"\npublic_key = "ed25519:abc"\n`);
    assert.match(bad, /config\.toml:3: voice-gateway\.trusted_issuers: entry 1 \(caic home\): public_key is not unpadded base64url|must hold 32 bytes/);
    assert.match(await loadError(`[[voice-gateway.trusted_issuers]]\nservice = "caic"\nissuer = "home"\npublic_key = "${key.slice(8)}"\n`), /must start with "ed25519:"/);
    assert.match(await loadError(`[[voice-gateway.trusted_issuers]]\nservice = "caic"\nissuer = "home"\npublic_key = "${key}"\noauth = true\n`), /unknown key "voice-gateway\.trusted_issuers\.0\.oauth"|unknown key/);
    assert.match(await loadError(`[[voice-gateway.trusted_issuers]]\nservice = ""\nissuer = "home"\npublic_key = "${key}"\n`), /service: must not be empty/);
  });

  test('instance_id and token_mode', async () => {
    assert.match(await loadError('[voice-gateway]\ninstance_id = "has space"\n'), /voice-gateway\.instance_id: must be letters/);
    assert.match(await loadError('[voice-gateway]\ntoken_mode = "oauth"\n'), /token_mode: "oauth" .* is not supported yet/);
  });
});

describe('voice status', () => {
  const status = async (toml: string, env: Record<string, string> = {}) => {
    await using dir = await tempDir();
    await writeFile(join(dir.path, 'config.toml'), toml);
    return voiceStatus(loadConfig({ configDir: dir.path, cacheDir: join(dir.path, 'cache'), env }));
  };
  const LOGIN = '[server]\nexternal_url = "https://caic.example.com"\n[github.oauth]\nclient_id = "i"\nclient_secret = "s"\nallowed_users = ["a"]\n';

  test('standalone, embedded or off, from the configuration', async () => {
    assert.deepEqual(await status('', { GEMINI_API_KEY: 'k' }), { enabled: true, mode: 'embedded', reason: '' });
    assert.deepEqual(await status('[voice-gateway]\nurl = "https://voice.example.com"\n'), { enabled: true, mode: 'standalone', reason: '' });
    // local-stack needs the URLs of the servers it talks to (tests of its own: voice-local-stack.test.ts).
    assert.equal((await status('[voice-gateway.config]\nbackend = "local-stack"\n')).mode, 'off');
    const off = await status('');
    assert.equal(off.mode, 'off');
    assert.equal(off.enabled, false);
    assert.match(off.reason, /GEMINI_API_KEY/);
    assert.equal((await status('[core.env]\nGEMINI_API_KEY = "k"\n')).mode, 'embedded', '[core.env] counts');
  });

  test('without login, only on a loopback listener', async () => {
    const STANDALONE = '[voice-gateway]\nurl = "https://voice.example.com"\n';
    const open = await status(`[server]\nhttp = "0.0.0.0:2242"\n${STANDALONE}`);
    assert.equal(open.enabled, false);
    assert.equal(open.mode, 'standalone');
    assert.match(open.reason, /needs login when the daemon listens beyond loopback/);
    assert.equal((await status(`${LOGIN.replace('[server]\n', '[server]\nhttp = "0.0.0.0:2242"\n')}${STANDALONE}`)).enabled, true);
    assert.equal((await status(`[server]\nhttp = "[::1]:2242"\n${STANDALONE}`)).enabled, true);
  });
});
