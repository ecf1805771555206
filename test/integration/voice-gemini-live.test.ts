// The gemini-live voice backend against a Gemini Live stand-in speaking the real wire format: setup, PCM both ways, tool calls, barge-in, refusals, failures, backpressure.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { parseVoiceGatewayMessage, type VoiceTool } from '../../src/api/index.js';
import { checkGeminiLiveUrl, GeminiLiveBackend, toGatewayMessage, type GeminiLiveOptions, type VoiceBackendEvent, type VoiceBackendSession, type VoiceSessionSetup } from '../../src/voice/index.js';
import { toGeminiSchema } from '../../src/voice/backends/gemini-live.js';
import { GeminiLiveStandIn, rms, tone, type StandInSession } from '../helpers/gemini-live-standin.js';
import { BackendProbe } from '../helpers/voice-probe.js';

const KEY = 'AIzaSyStandInKey-0123456789abcdefWXYZ';
const MODEL = 'gemini-3.1-flash-live-preview';

const TOOLS: VoiceTool[] = [
  {
    name: 'tasks_list',
    description: 'List the tasks',
    parameters: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      additionalProperties: false,
      properties: { state: { type: ['string', 'null'], enum: ['running', 'waiting'] }, limit: { type: 'integer', minimum: 1, default: 10 } },
    },
  },
  {
    name: 'task_send_message',
    description: 'Send a message to a task',
    parameters: {
      type: 'object',
      properties: { task: { type: 'integer' }, message: { type: 'string', pattern: '.+' }, opts: { type: 'object', additionalProperties: true } },
      required: ['task', 'message', 'opts'],
    },
  },
  { name: 'get_usage', description: 'Usage', parameters: { type: 'object', properties: {} } },
];

const SETUP: VoiceSessionSetup = {
  voice: { name: 'Puck', language: 'en-US' },
  tools: TOOLS,
  context: 'task 1: running (add tests)',
  systemInstruction: 'You are caic, a voice assistant. Tools run on the client.',
};

/** A GeminiLiveBackend session with its events, and waits on them. */
class Probe extends BackendProbe {
  constructor(opts: Partial<GeminiLiveOptions> & { url: string }, setup = SETUP) {
    super(new GeminiLiveBackend({ apiKey: KEY, model: MODEL, ...opts }), setup);
  }
}

const joined = (chunks: Int16Array[]) => {
  const out = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};

/** Sends PCM as 20 ms frames (320 samples at 16 kHz), as the gateway's decoder yields them. */
function sendFrames(session: VoiceBackendSession, pcm: Int16Array): void {
  for (let i = 0; i < pcm.length; i += 320) session.sendAudio(pcm.subarray(i, i + 320));
}

describe('gemini-live backend', () => {
  let standIn: GeminiLiveStandIn;
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    standIn = await GeminiLiveStandIn.start({ apiKey: KEY, models: [MODEL] });
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await standIn.close();
    assert.deepEqual(unhandled, [], 'no unhandled rejections');
  });

  async function ready(opts: Partial<GeminiLiveOptions> = {}, setup = SETUP): Promise<{ probe: Probe; remote: StandInSession }> {
    const next = standIn.session();
    const probe = new Probe({ url: standIn.url, ...opts }, setup);
    const remote = await next;
    await probe.nth('ready');
    return { probe, remote };
  }

  it('sets the session up like the real API wants it: model, voice, VAD, instruction, converted tools, key in a header', async () => {
    const { probe, remote } = await ready();
    assert.deepEqual(remote.key, { value: KEY, via: 'header' });
    const setup = remote.setup!;
    assert.equal(setup.model, `models/${MODEL}`);
    assert.deepEqual(setup.generationConfig, { responseModalities: ['AUDIO'], speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Puck' } } } });
    assert.deepEqual(setup.realtimeInputConfig, { automaticActivityDetection: { disabled: false }, activityHandling: 'START_OF_ACTIVITY_INTERRUPTS' });
    assert.deepEqual(setup.inputAudioTranscription, {});
    assert.deepEqual(setup.outputAudioTranscription, {});
    const instruction = (setup.systemInstruction as { parts: { text: string }[] }).parts[0]!.text;
    assert.match(instruction, /You are caic/);
    assert.match(instruction, /en-US/);
    assert.match(instruction, /task 1: running \(add tests\)/);
    const decls = (setup.tools as { functionDeclarations: Record<string, unknown>[] }[])[0]!.functionDeclarations;
    assert.deepEqual(decls[0], {
      name: 'tasks_list',
      description: 'List the tasks',
      parameters: {
        type: 'OBJECT',
        properties: { state: { type: 'STRING', format: 'enum', enum: ['running', 'waiting'], nullable: true }, limit: { type: 'INTEGER', minimum: 1 } },
      },
    });
    // A property the API cannot express (an object without properties) is left out, and so is its `required` entry.
    assert.deepEqual(decls[1]!.parameters, {
      type: 'OBJECT',
      properties: { task: { type: 'INTEGER' }, message: { type: 'STRING' } },
      required: ['task', 'message'],
    });
    // No parameters at all rather than an OBJECT without properties, which the API refuses.
    assert.deepEqual(decls[2], { name: 'get_usage', description: 'Usage' });
    await probe.session.close();
    assert.deepEqual(probe.of('closed'), [{ type: 'closed', reason: 'closed' }]);
    assert.deepEqual(probe.of('error'), []);
  });

  it('converts JSON Schema within bounds', () => {
    assert.deepEqual(toGeminiSchema({ const: 'x' }), { type: 'STRING', format: 'enum', enum: ['x'] });
    assert.deepEqual(toGeminiSchema({ type: ['integer', 'string'] }), { anyOf: [{ type: 'INTEGER' }, { type: 'STRING' }] });
    assert.deepEqual(toGeminiSchema({ oneOf: [{ type: 'boolean' }, { $ref: '#/x' }] }), { anyOf: [{ type: 'BOOLEAN' }] });
    assert.deepEqual(toGeminiSchema({ type: 'array', items: [{ type: 'number', format: 'uuid' }] }), { type: 'ARRAY', items: { type: 'NUMBER' } });
    assert.equal(toGeminiSchema({ type: 'array' }), undefined);
    assert.equal(toGeminiSchema('string'), undefined);
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 40; i++) deep = { type: 'object', properties: { a: deep } };
    assert.equal(toGeminiSchema(deep), undefined, 'too deep to express');
  });

  it('the stand-in refuses keywords the API does not know, as the real one does (so the conversion above is what makes setup pass)', async () => {
    const next = standIn.session();
    const client = new WebSocket(standIn.url, { headers: { 'x-goog-api-key': KEY } });
    await once(client, 'open');
    client.send(JSON.stringify({ setup: { model: `models/${MODEL}`, tools: [{ functionDeclarations: [{ name: 'tasks_list', parameters: TOOLS[0]!.parameters }] }] } }));
    const [code, reason] = (await once(client, 'close')) as [number, Buffer];
    assert.equal(code, 1007);
    assert.match(reason.toString(), /Unknown name "\$schema"/);
    assert.equal((await next).setup, undefined);
  });

  it('sends microphone PCM as 16 kHz realtime input, with its energy where the speech is', async () => {
    const { probe, remote } = await ready();
    const silence = new Int16Array(3_200);
    const speech = tone(440, 500, 16_000, 10_000);
    sendFrames(probe.session, silence);
    sendFrames(probe.session, speech);
    sendFrames(probe.session, silence);
    const total = silence.length * 2 + speech.length;
    await remote.until(() => remote.audioSamples >= total, `${total} samples`);
    assert.deepEqual([...remote.audioMimeTypes], ['audio/pcm;rate=16000']);
    const got = remote.allAudio();
    assert.equal(got.length, total);
    assert.equal(rms(got.subarray(0, 3_200)), 0);
    assert.ok(rms(got.subarray(3_200, 3_200 + speech.length)) > 6_000, 'speech energy arrived');
    assert.equal(rms(got.subarray(3_200 + speech.length)), 0);
    assert.deepEqual(got.subarray(3_200, 3_200 + speech.length), speech);
    assert.equal(probe.session.stats().sentAudioBytes, total * 2);
    await probe.session.close();
  });

  it('runs a turn: user transcript → tool call → client result → 24 kHz audio, transcript and text → turn end', async () => {
    const { probe, remote } = await ready();
    remote.inputTranscription('list my ');
    remote.inputTranscription('tasks');
    await probe.nth('transcript', 2);
    remote.toolCall([{ id: 'fc-1', name: 'tasks_list', args: { state: 'running' } }]);
    const call = await probe.nth('toolCall');
    assert.deepEqual(call, { type: 'toolCall', id: 'fc-1', name: 'tasks_list', args: { state: 'running' } });
    probe.session.sendToolResult({ id: 'fc-1', name: 'tasks_list', result: { tasks: [{ number: 1, title: 'add tests', state: 'running' }] } });
    assert.deepEqual(await remote.waitForToolResponse(), {
      id: 'fc-1',
      name: 'tasks_list',
      response: { tasks: [{ number: 1, title: 'add tests', state: 'running' }] },
    });
    const answer = tone(300, 400, 24_000, 9_000);
    remote.audioOut(answer);
    remote.outputTranscription('You have one task running.');
    remote.text('One task: add tests.');
    remote.turnComplete();
    await probe.until(() => probe.of('speech').some((s) => s.speaker === 'assistant' && s.phase === 'ended'), 'the end of the assistant speech');
    const audio = probe.of('audio');
    assert.ok(audio.every((a) => a.sampleRate === 24_000));
    const pcm = joined(audio.map((a) => a.pcm));
    assert.equal(pcm.length, answer.length);
    assert.ok(rms(pcm) > 5_000, 'assistant audio is not silent');
    assert.deepEqual(
      probe.events.filter((e) => e.type !== 'audio').map((e) => (e.type === 'speech' ? `${e.phase}:${e.speaker}` : e.type === 'transcript' ? `${e.speaker}:${e.text}` : e.type === 'assistantText' ? `text:${e.text}` : e.type)),
      [
        'ready',
        'started:user',
        'user:list my ',
        'user:tasks',
        'ended:user',
        'toolCall',
        'started:assistant',
        'assistant:You have one task running.',
        'text:One task: add tests.',
        'ended:assistant',
      ],
    );
    // Every event but audio and closed is a data channel message the client's parser accepts.
    for (const event of probe.events) {
      const message = toGatewayMessage(event);
      assert.equal(message === null, event.type === 'audio' || event.type === 'closed');
      if (message) assert.deepEqual(parseVoiceGatewayMessage(JSON.stringify(message)), { ok: true, message });
    }
    // A result that is not an object goes as {output}: the API wants a JSON object there.
    remote.toolCall([{ id: 'fc-2', name: 'get_usage', args: {} }]);
    await probe.nth('toolCall', 2);
    probe.session.sendToolResult({ id: 'fc-2', name: 'get_usage', result: 'about 3 dollars' });
    assert.deepEqual((await remote.waitForToolResponse()).response, { output: 'about 3 dollars' });
    await probe.session.close();
  });

  it('answers tool calls the client did not declare itself and refuses mismatched results', async () => {
    const { probe, remote } = await ready();
    remote.toolCall([{ id: 'fc-x', name: 'rm_rf', args: {} }]);
    assert.deepEqual(await remote.waitForToolResponse(), { id: 'fc-x', name: 'rm_rf', response: { error: 'unknown tool rm_rf' } });
    remote.toolCall([{ id: 'fc-big', name: 'tasks_list', args: { state: 'x'.repeat(70_000) } }]);
    assert.deepEqual((await remote.waitForToolResponse()).response, { error: 'arguments too large' });
    assert.match((await probe.nth('error')).message, /arguments too large/);
    assert.equal(probe.of('toolCall').length, 0, 'neither reached the client');
    probe.session.sendToolResult({ id: 'nope', name: 'tasks_list', result: {} });
    assert.match((await probe.nth('error', 2)).message, /unknown call id "nope"/);
    remote.toolCall([{ id: 'fc-3', name: 'tasks_list', args: {} }]);
    await probe.nth('toolCall');
    probe.session.sendToolResult({ id: 'fc-3', name: 'get_usage', result: {} });
    assert.match((await probe.nth('error', 3)).message, /names get_usage, but call fc-3 was tasks_list/);
    // The model cancels a call (barge-in); the client's late result is dropped without fuss.
    remote.send({ toolCallCancellation: { ids: ['fc-3'] } });
    remote.toolCall([{ id: 'fc-4', name: 'get_usage', args: {} }]);
    await probe.nth('toolCall', 2);
    probe.session.sendToolResult({ id: 'fc-3', name: 'tasks_list', result: {} });
    probe.session.sendToolResult({ id: 'fc-4', name: 'get_usage', result: {} });
    assert.equal((await remote.waitForToolResponse()).id, 'fc-4');
    assert.equal(remote.toolResponses.filter((r) => r.id === 'fc-3').length, 0);
    assert.equal(probe.of('error').length, 3);
    assert.ok(probe.of('error').every((e) => e.recoverable));
    await probe.session.close();
  });

  it('reports barge-in at once, and turn.cancel drops the rest of the cancelled reply', async () => {
    const { probe, remote } = await ready();
    remote.audioOut(tone(300, 200, 24_000));
    await probe.nth('audio');
    remote.interrupted();
    assert.deepEqual(await probe.nth('interrupted'), { type: 'interrupted', source: 'user' });
    assert.ok(probe.of('speech').some((s) => s.speaker === 'assistant' && s.phase === 'ended'));
    remote.turnComplete();

    // The client cancels the next reply: the model is told (client content interrupts it) and
    // whatever of that reply still arrives is not passed on.
    remote.audioOut(tone(300, 80, 24_000));
    await probe.until(() => probe.of('speech').filter((s) => s.speaker === 'assistant' && s.phase === 'started').length === 2, 'the second reply');
    const audioBefore = probe.of('audio').length;
    probe.session.cancelTurn('user tapped stop');
    assert.deepEqual(probe.of('interrupted')[1], { type: 'interrupted', source: 'client' });
    await remote.until(() => remote.clientContents.length === 1, 'the cancel note');
    assert.match(JSON.stringify(remote.clientContents[0]), /stopped your reply: user tapped stop/);
    remote.audioOut(tone(300, 200, 24_000));
    remote.outputTranscription('and another thing');
    remote.interrupted();
    remote.turnComplete();
    remote.outputTranscription('Next reply.');
    await probe.until(() => probe.of('transcript').some((t) => t.text === 'Next reply.'), 'the next reply');
    assert.equal(probe.of('audio').length, audioBefore, 'no audio of the cancelled reply');
    assert.ok(!probe.of('transcript').some((t) => t.text === 'and another thing'));
    assert.equal(probe.of('interrupted').length, 2, 'the server interruption of our own cancel is not reported twice');
    await probe.session.close();
  });

  it('holds a context update while the model speaks and sends it when the turn ends', async () => {
    const { probe, remote } = await ready();
    remote.audioOut(tone(300, 80, 24_000));
    await probe.nth('audio');
    probe.session.updateContext('task 2 is asking a question');
    probe.session.updateContext('task 2 is asking: which branch?');
    // Messages arrive in order: once this audio is in, a context update sent before it would be too.
    probe.session.sendAudio(tone(440, 20, 16_000));
    await remote.until(() => remote.audioSamples > 0, 'the audio sent after the update');
    assert.equal(remote.clientContents.length, 0, 'not while the model speaks');
    remote.turnComplete();
    await remote.until(() => remote.clientContents.length === 1, 'the context update');
    assert.match(JSON.stringify(remote.clientContents[0]), /which branch\?/);
    assert.equal((remote.clientContents[0] as { turnComplete: boolean }).turnComplete, false);
    await probe.session.close();
  });

  it('a wrong key is a clear, unrecoverable error without the key in it, then closed', async () => {
    const next = standIn.session();
    const backend = new GeminiLiveBackend({ apiKey: 'AIzaWrongKey-9876', model: MODEL, url: standIn.url });
    const events: VoiceBackendEvent[] = [];
    const session = backend.open(SETUP, (e) => events.push(e));
    const remote = await next;
    await remote.until(() => remote.closed !== undefined, 'the refusal');
    assert.deepEqual(remote.closed, { code: 1007, reason: 'API key not valid. Please pass a valid API key.' });
    await session.close();
    assert.deepEqual(events, [
      { type: 'error', message: 'Gemini Live refused the API key (GEMINI_API_KEY): API key not valid. Please pass a valid API key.', recoverable: false },
      { type: 'closed', reason: 'Gemini Live refused the API key (GEMINI_API_KEY): API key not valid. Please pass a valid API key.' },
    ]);
    assert.ok(!JSON.stringify(events).includes('WrongKey'));
  });

  it('the stand-in closing mid-turn gives error and closed, and no unhandled rejection', async () => {
    const { probe, remote } = await ready();
    remote.audioOut(tone(300, 80, 24_000));
    await probe.nth('audio');
    // Should a reason ever echo the key, it is masked before it reaches an event (or a log).
    remote.close(1011, `Internal error encountered (${KEY}).`);
    await probe.nth('closed');
    assert.deepEqual(probe.of('error'), [{ type: 'error', message: 'Gemini Live closed the session (code 1011: Internal error encountered (***WXYZ).)', recoverable: false }]);
    assert.ok(!JSON.stringify(probe.events).includes(KEY));
    // Everything after the end is a no-op, and close() still resolves.
    sendFrames(probe.session, tone(440, 100, 16_000));
    probe.session.sendToolResult({ id: 'x', name: 'tasks_list', result: {} });
    probe.session.updateContext('x');
    probe.session.cancelTurn('x');
    await probe.session.close();
    assert.equal(probe.events.at(-1)?.type, 'closed');
    assert.equal(probe.of('closed').length, 1);
  });

  it('an unreachable service and a silent one are errors, not hangs', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as { port: number };
        srv.close(() => resolve(port));
      });
    });
    const gone = new Probe({ url: `ws://127.0.0.1:${port}/ws` });
    await gone.nth('closed');
    assert.match(gone.of('error')[0]!.message, /^cannot reach Gemini Live: .*ECONNREFUSED/);

    const silent = await GeminiLiveStandIn.start({ apiKey: KEY, models: [MODEL], autoSetupComplete: false });
    try {
      const probe = new Probe({ url: silent.url, setupTimeoutMs: 300 });
      await probe.nth('closed');
      assert.deepEqual(probe.of('error'), [{ type: 'error', message: 'Gemini Live did not complete the session setup within 300 ms', recoverable: false }]);
    } finally {
      await silent.close();
    }
  });

  it('goAway becomes a recoverable error', async () => {
    const { probe, remote } = await ready();
    remote.goAway('9.5s');
    assert.deepEqual(await probe.nth('error'), { type: 'error', message: 'Gemini Live will end this session soon (in 9.5s)', recoverable: true });
    await probe.session.close();
  });

  it('holds at most maxPendingAudioBytes of microphone audio before the model is ready, the newest', async () => {
    const slow = await GeminiLiveStandIn.start({ apiKey: KEY, models: [MODEL], autoSetupComplete: false });
    try {
      const next = slow.session();
      const probe = new Probe({ url: slow.url, maxPendingAudioBytes: 6_400 });
      const remote = await next;
      await remote.until(() => remote.setup !== undefined, 'the setup');
      // 1 s of audio whose samples count up, so the test can tell which part arrived.
      const ramp = Int16Array.from({ length: 16_000 }, (_, i) => i);
      sendFrames(probe.session, ramp);
      assert.ok(probe.session.stats().queuedBytes <= 6_400);
      remote.setupComplete();
      await probe.nth('ready');
      await remote.until(() => remote.audioSamples >= 3_200, 'the held audio');
      const got = remote.allAudio();
      assert.equal(got.length, 3_200);
      assert.deepEqual(got, ramp.subarray(16_000 - 3_200), 'the newest 200 ms');
      assert.equal(probe.session.stats().droppedAudioBytes, 32_000 - 6_400);
      await probe.session.close();
    } finally {
      await slow.close();
    }
  });

  it('drops microphone audio with one clear error when the connection cannot keep up, holding a bounded amount', async () => {
    const { probe, remote } = await ready({ maxBufferedBytes: 64 * 1024 });
    remote.pauseReading();
    const second = tone(440, 1_000, 16_000);
    let maxQueued = 0;
    // 30 MB of base64 audio: far more than the socket buffers of both ends can take.
    for (let i = 0; i < 700; i++) {
      probe.session.sendAudio(second);
      maxQueued = Math.max(maxQueued, probe.session.stats().queuedBytes);
      if (probe.of('error').length > 0 && i > 50) break;
    }
    const errors = probe.of('error');
    assert.equal(errors.length, 1, 'one error per congestion, not one per frame');
    assert.match(errors[0]!.message, /cannot keep up/);
    assert.equal(errors[0]!.recoverable, true);
    assert.ok(probe.session.stats().droppedAudioBytes > 0);
    // One message past the limit at most (a 1 s chunk is 43 kB of base64 JSON).
    assert.ok(maxQueued <= 64 * 1024 + 50_000, `queued ${maxQueued} bytes`);
    await probe.session.close();
  });

  it('refuses URLs that would send the key in clear or carry credentials', () => {
    assert.equal(checkGeminiLiveUrl('wss://generativelanguage.googleapis.com/ws/x').protocol, 'wss:');
    assert.equal(checkGeminiLiveUrl('ws://127.0.0.1:9/ws').protocol, 'ws:');
    assert.throws(() => checkGeminiLiveUrl('ws://gemini.example.com/ws'), /wss:\/\//);
    assert.throws(() => checkGeminiLiveUrl('https://generativelanguage.googleapis.com/'), /wss:\/\//);
    assert.throws(() => checkGeminiLiveUrl('wss://generativelanguage.googleapis.com/ws?key=abc'), /credentials/);
    assert.throws(() => checkGeminiLiveUrl('not a url'), /not a URL/);
    assert.throws(() => new GeminiLiveBackend({ apiKey: '', model: MODEL }), /GEMINI_API_KEY/);
  });
});
