// The voice-gateway data channel messages: valid ones parse with their defaults; junk, hostile and oversized ones are refused with a clear error, never a throw.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseVoiceClientMessage, parseVoiceGatewayMessage, VOICE_CHANNEL_LIMITS as L } from '../../src/api/index.js';

const refused = (raw: string | Uint8Array, pattern: RegExp) => {
  const r = parseVoiceClientMessage(raw);
  assert.equal(r.ok, false, `expected a refusal for ${typeof raw === 'string' ? raw.slice(0, 80) : 'bytes'}`);
  if (!r.ok) assert.match(r.error, pattern);
};

/** A schema nested `depth` objects deep. */
function nested(depth: number): Record<string, unknown> {
  let s: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < depth; i++) s = { type: 'object', properties: { a: s } };
  return s;
}

describe('voice channel: client messages', () => {
  it('parses every client message, with defaults', () => {
    const setup = parseVoiceClientMessage(JSON.stringify({ type: 'session.setup' }));
    assert.deepEqual(setup, { ok: true, message: { type: 'session.setup', voice: { name: '', language: '' }, tools: [], context: '' } });
    const full = parseVoiceClientMessage(
      JSON.stringify({
        type: 'session.setup',
        voice: { name: 'Puck', language: 'en-US' },
        tools: [{ name: 'tasks_list', description: 'List tasks', parameters: { type: 'object', properties: { all: { type: 'boolean' } } } }],
        context: 'task 1: running',
      }),
    );
    assert.ok(full.ok && full.message.type === 'session.setup' && full.message.tools[0]?.name === 'tasks_list');
    assert.deepEqual(parseVoiceClientMessage('{"type":"context.update","context":"x"}'), { ok: true, message: { type: 'context.update', context: 'x' } });
    assert.deepEqual(parseVoiceClientMessage('{"type":"tool.result","id":"c1","name":"tasks_list","result":[1,2]}'), {
      ok: true,
      message: { type: 'tool.result', id: 'c1', name: 'tasks_list', result: [1, 2] },
    });
    assert.deepEqual(parseVoiceClientMessage('{"type":"turn.cancel"}'), { ok: true, message: { type: 'turn.cancel', reason: '' } });
    assert.deepEqual(parseVoiceClientMessage(new TextEncoder().encode('{"type":"session.close"}')), { ok: true, message: { type: 'session.close' } });
  });

  it('refuses junk with a clear error and never throws', () => {
    refused('', /not JSON/);
    refused('{"type":', /not JSON/);
    refused('null', /JSON object/);
    refused('[1]', /JSON object/);
    refused('"session.setup"', /JSON object/);
    refused('{}', /no "type"/);
    refused('{"type":42}', /no "type"/);
    refused('{"type":"session.hijack"}', /unknown message type "session.hijack"/);
    refused('{"type":"tool.result","id":"c1","name":"x"}', /invalid tool.result: result/);
    refused('{"type":"session.close","extra":1}', /invalid session.close/);
    refused('{"type":"context.update","context":{"a":1}}', /invalid context.update: context/);
    refused(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), /not JSON/);
    refused('{"type":"session.setup","tools":[{"name":"1bad"}]}', /tools.0.name/);
    refused('{"type":"session.setup","voice":{"name":"../../etc"}}', /voice.name/);
    refused('{"type":"session.setup","voice":{"language":"en US;"}}', /voice.language/);
    refused('{"type":"session.setup","tools":[{"name":"a"},{"name":"a"}]}', /unique/);
    refused('{"type":"tool.result","id":"c1","name":"x","result":null,"__proto__":{"polluted":true}}', /invalid tool.result/);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('bounds what a hostile client can make the gateway hold', () => {
    // The byte cap is checked before JSON.parse, on strings and bytes alike.
    const huge = JSON.stringify({ type: 'context.update', context: 'x'.repeat(L.messageBytes) });
    refused(huge, /too large/);
    refused(new TextEncoder().encode(huge), /too large/);
    // Multi-byte characters count as bytes, not UTF-16 units.
    refused(JSON.stringify({ type: 'turn.cancel', reason: '€'.repeat(L.messageBytes / 3 + 10) }), /too large/);
    refused(JSON.stringify({ type: 'context.update', context: 'x'.repeat(L.context + 1) }), /context/);
    const tools = Array.from({ length: L.tools + 1 }, (_, i) => ({ name: `t${i}` }));
    refused(JSON.stringify({ type: 'session.setup', tools }), /tools/);
    const bigSchema = { type: 'object', properties: Object.fromEntries(Array.from({ length: 800 }, (_, i) => [`p${i}`, { type: 'string' }])) };
    refused(JSON.stringify({ type: 'session.setup', tools: [{ name: 't', parameters: bigSchema }] }), /parameters must be at most/);
    refused(JSON.stringify({ type: 'session.setup', tools: [{ name: 't', parameters: nested(L.toolSchemaDepth) }] }), /nest at most/);
    assert.equal(parseVoiceClientMessage(JSON.stringify({ type: 'session.setup', tools: [{ name: 't', parameters: nested(4) }] })).ok, true);
    refused(JSON.stringify({ type: 'session.setup', tools: [{ name: 't', description: 'd'.repeat(L.toolDescription + 1) }] }), /description/);
    refused(JSON.stringify({ type: 'tool.result', id: 'c', name: 't', result: 'r'.repeat(L.toolResultBytes) }), /result must be JSON of at most/);
    refused(JSON.stringify({ type: 'tool.result', id: 'c'.repeat(L.id + 1), name: 't', result: 1 }), /id/);
    refused(JSON.stringify({ type: 'turn.cancel', reason: 'r'.repeat(L.reason + 1) }), /reason/);
  });
});

describe('voice channel: gateway messages', () => {
  it('parses what the gateway sends and refuses the rest', () => {
    for (const m of [
      { type: 'session.ready' },
      { type: 'transcript.delta', speaker: 'user', text: 'list my tasks' },
      { type: 'assistant.text.delta', text: 'You have two.' },
      { type: 'speech.started' },
      { type: 'speech.ended', speaker: 'assistant' },
      { type: 'tool.call', id: 'c1', name: 'tasks_list', args: {} },
      { type: 'interrupted', source: 'user' },
      { type: 'error', message: 'x', recoverable: true },
    ]) {
      assert.deepEqual(parseVoiceGatewayMessage(JSON.stringify(m)), { ok: true, message: m });
    }
    assert.equal(parseVoiceGatewayMessage('{"type":"transcript.delta","speaker":"robot","text":"x"}').ok, false);
    assert.equal(parseVoiceGatewayMessage(JSON.stringify({ type: 'assistant.text.delta', text: 'x'.repeat(L.textDelta + 1) })).ok, false);
    assert.equal(parseVoiceGatewayMessage('{"type":"interrupted","source":"model"}').ok, false);
  });
});
