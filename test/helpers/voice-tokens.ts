// Voice tokens a gateway must refuse, each for one reason, made with the issuing host's own key where the reason is not the key.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { VOICE_SESSION_CAPABILITY, VOICE_TOKEN_TYPE, VoiceTokenIssuer } from '../../src/voice/index.js';

export interface Issuing {
  privateKey: KeyObject;
  instanceId: string;
  origin: string;
}

/** name → a token that is wrong in exactly that way (and the refusal reason the gateway's message names). */
export async function refusedTokens(host: Issuing, sub = 'default'): Promise<{ name: string; token: string; reason: RegExp }[]> {
  const now = Math.floor(Date.now() / 1000);
  const claims = { serviceKind: 'caic', serviceInstanceID: host.instanceId, backendOrigin: host.origin, sub, capabilities: [VOICE_SESSION_CAPABILITY], iat: now, jti: 'j' };
  const sign = (c: Record<string, unknown>, key = host.privateKey) => new SignJWT(c).setProtectedHeader({ alg: 'EdDSA', typ: VOICE_TOKEN_TYPE }).sign(key);
  const other = generateKeyPairSync('ed25519').privateKey;
  const good = (await new VoiceTokenIssuer({ privateKey: host.privateKey, instanceId: host.instanceId }).issue(sub, host.origin)).token;
  const [h, p, s] = good.split('.') as [string, string, string];
  const tampered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'someone-else' })).toString('base64url');
  return [
    { name: 'wrong issuer key', token: await sign({ ...claims, aud: 'voice-gateway', exp: now + 300 }, other), reason: /signature/ },
    { name: 'wrong aud', token: await sign({ ...claims, aud: 'caic-api', exp: now + 300 }), reason: /audience/ },
    { name: 'expired', token: await sign({ ...claims, aud: 'voice-gateway', iat: now - 900, exp: now - 600 }), reason: /expired/ },
    { name: 'tampered claims', token: `${h}.${tampered}.${s}`, reason: /signature/ },
    { name: 'missing capability', token: await sign({ ...claims, capabilities: ['voice.other'], aud: 'voice-gateway', exp: now + 300 }), reason: /capability/ },
  ];
}
