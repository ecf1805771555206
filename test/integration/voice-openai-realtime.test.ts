// The openai-realtime voice backend against an OpenAI Realtime stand-in speaking the GA wire format: setup, 24 kHz PCM both ways, function calls, barge-in with truncation, cancel, refusals, failures, hostile events, backpressure, masking.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseVoiceGatewayMessage, type VoiceTool } from '../../src/api/index.js';
import { createLogger } from '../../src/log/index.js';
import {
  checkOpenAIRealtimeUrl,
  OpenAIRealtimeBackend,
  toGatewayMessage,
  type OpenAIRealtimeOptions,
  type VoiceBackendEvent,
  type VoiceBackendSession,
  type VoiceSessionSetup,
} from '../../src/voice/index.js';
import { tone } from '../helpers/gemini-live-standin.js';
import { LogCapture } from '../helpers/log-capture.js';
import { OpenAIRealtimeStandIn, rms, type RealtimeStandInSession } from '../helpers/openai-realtime-standin.js';
import { speak, voicedBounds } from '../helpers/speech.js';
import { BackendProbe } from '../helpers/voice-probe.js';

const KEY = 'sk-proj-StandInKey0123456789abcdefWXYZ';
const MODEL = 'gpt-realtime';

const TOOLS: VoiceTool[] = [
  {
    name: 'tasks_list',
    description: 'List the tasks',
    parameters: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { state: { type: 'string', enum: ['running', 'waiting'] } } },
  },
  { name: 'task_send_message', description: 'Send a message to a task', parameters: { type: 'object', properties: { task: { type: 'integer' }, message: { type: 'string' } }, required: ['task', 'message'] } },
  { name: 'get_usage', description: 'Usage' },
];

const SETUP: VoiceSessionSetup = {
  voice: { name: 'Marin', language: 'en-US' },
  tools: TOOLS,
  context: 'task 1: running (add tests)',
  systemInstruction: 'You are caic, a voice assistant. Tools run on the client.',
};

/** A OpenAIRealtimeBackend session with its events, and waits on them. */
class Probe extends BackendProbe {
  constructor(opts: Partial<OpenAIRealtimeOptions> & { url: string }, setup = SETUP) {
    super(new OpenAIRealtimeBackend({ apiKey: KEY, model: MODEL, ...opts }), setup);
  }
}

function sendFrames(session: VoiceBackendSession, pcm: Int16Array): void {
  for (let i = 0; i < pcm.length; i += 320) session.sendAudio(pcm.subarray(i, i + 320));
}

const label = (e: VoiceBackendEvent) =>
  e.type === 'speech' ? `${e.phase}:${e.speaker}` : e.type === 'transcript' ? `${e.speaker}:${e.text}` : e.type === 'assistantText' ? `text:${e.text}` : e.type;

describe('openai-realtime backend', () => {
  let standIn: OpenAIRealtimeStandIn;
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    standIn = await OpenAIRealtimeStandIn.start({ apiKey: KEY, models: [MODEL] });
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await standIn.close();
    assert.deepEqual(unhandled, [], 'no unhandled rejections');
  });

  async function ready(opts: Partial<OpenAIRealtimeOptions> = {}, setup = SETUP): Promise<{ probe: Probe; remote: RealtimeStandInSession }> {
    const next = standIn.session();
    const probe = new Probe({ url: standIn.url, ...opts }, setup);
    const remote = await next;
    await probe.nth('ready');
    return { probe, remote };
  }

  it('sets the session up as the GA API wants it: bearer key, model in the URL, 24 kHz PCM, server VAD, voice, instructions, function tools', async () => {
    const { probe, remote } = await ready();
    assert.equal(remote.authorization, `Bearer ${KEY}`);
    assert.equal(remote.query.get('model'), MODEL);
    assert.deepEqual([...remote.query.keys()], ['model'], 'nothing else in the URL, the key least of all');
    const s = remote.sessionUpdates[0]!;
    assert.equal(s.type, 'realtime');
    assert.deepEqual(s.output_modalities, ['audio']);
    assert.deepEqual(s.audio, {
      input: {
        format: { type: 'audio/pcm', rate: 24000 },
        transcription: { model: 'gpt-4o-mini-transcribe', language: 'en' },
        turn_detection: { type: 'server_vad', create_response: true, interrupt_response: true },
      },
      output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'marin' },
    });
    assert.match(String(s.instructions), /You are caic[\s\S]*en-US[\s\S]*task 1: running \(add tests\)/);
    assert.deepEqual(s.tools, [
      { type: 'function', name: 'tasks_list', description: 'List the tasks', parameters: { type: 'object', properties: { state: { type: 'string', enum: ['running', 'waiting'] } } } },
      {
        type: 'function',
        name: 'task_send_message',
        description: 'Send a message to a task',
        parameters: { type: 'object', properties: { task: { type: 'integer' }, message: { type: 'string' } }, required: ['task', 'message'] },
      },
      { type: 'function', name: 'get_usage', description: 'Usage', parameters: { type: 'object', properties: {} } },
    ]);
    assert.equal(s.tool_choice, 'auto');
    await probe.session.close();
    assert.deepEqual(probe.of('closed'), [{ type: 'closed', reason: 'closed' }]);
    assert.deepEqual(probe.of('error'), []);
  });

  it('a voice the API does not have (a Gemini one) leaves the model default instead of a refused setup', async () => {
    const { probe, remote } = await ready({}, { ...SETUP, voice: { name: 'Puck', language: '' } });
    const audio = remote.sessionUpdates[0]!.audio as { output: Record<string, unknown>; input: { transcription: Record<string, unknown> } };
    assert.equal(audio.output.voice, undefined);
    assert.deepEqual(audio.input.transcription, { model: 'gpt-4o-mini-transcribe' });
    await probe.session.close();
  });

  it('the stand-in refuses what the GA API refuses (beta session fields, other rates), so the setup above is what makes it pass', async () => {
    const { probe, remote } = await ready();
    remote.ws.emit('message', Buffer.from(JSON.stringify({ type: 'session.update', session: { type: 'realtime', input_audio_format: 'pcm16' } })));
    remote.ws.emit('message', Buffer.from(JSON.stringify({ type: 'session.update', session: { type: 'realtime', audio: { input: { format: { type: 'audio/pcm', rate: 16000 } } } } })));
    await probe.until(() => probe.of('error').length === 2, 'two errors');
    assert.match(probe.of('error')[0]!.message, /Unknown parameter: 'session.input_audio_format'/);
    assert.match(probe.of('error')[1]!.message, /Invalid value: 16000/);
    assert.equal(remote.sessionUpdates.length, 1);
    await probe.session.close();
  });

  it('sends the microphone resampled to 24 kHz, with the speech energy where the speech is', async () => {
    const { probe, remote } = await ready();
    const speech = await speak('list my tasks', 16_000);
    const silence = new Int16Array(8_000);
    sendFrames(probe.session, silence);
    sendFrames(probe.session, speech);
    sendFrames(probe.session, silence);
    const sent16k = silence.length * 2 + speech.length;
    const expected = Math.floor((sent16k * 3) / 2) - 2;
    await remote.until(() => remote.audioSamples >= expected, `${expected} samples at 24 kHz`);
    const got = remote.allAudio();
    assert.ok(Math.abs(got.length - (sent16k * 3) / 2) <= 2, `${got.length} samples for ${sent16k} at 16 kHz`);
    const v = voicedBounds(speech, 200);
    const first = Math.round(((silence.length + v.first) * 3) / 2);
    const last = Math.round(((silence.length + v.last) * 3) / 2);
    const quietBefore = rms(got.subarray(0, first - 240));
    const loud = rms(got.subarray(first, last));
    const quietAfter = rms(got.subarray(last + 240));
    assert.ok(loud > 1_000, `speech energy arrived (rms ${loud})`);
    assert.ok(quietBefore < 20 && quietAfter < 20, `silence stayed silent (${quietBefore}, ${quietAfter})`);
    // Per chunk too: the loud chunks are the ones in the middle.
    const loudChunks = remote.chunkRms.map((r, i) => [r, i] as const).filter(([r]) => r > 500);
    assert.ok(loudChunks.length > 10);
    assert.ok(remote.chunkRms.slice(0, 20).every((r) => r < 20), 'the first 400 ms are silent');
    assert.equal(probe.session.stats().sentAudioBytes, got.length * 2);
    await probe.session.close();
  });

  it('runs a turn: VAD and transcripts → function call → client result → response.create → 24 kHz audio and transcript', async () => {
    const { probe, remote } = await ready();
    remote.speechStarted();
    remote.speechStopped(900);
    remote.inputTranscript('item_u1', ['list my ', 'tasks']);
    remote.responseCreated();
    remote.functionCall({ callId: 'call_A1', name: 'tasks_list', arguments: '{"state":"running"}' });
    const call = await probe.nth('toolCall');
    assert.deepEqual(call, { type: 'toolCall', id: 'call_A1', name: 'tasks_list', args: { state: 'running' } });
    remote.responseDone();
    probe.session.sendToolResult({ id: 'call_A1', name: 'tasks_list', result: { tasks: [{ number: 1, title: 'add tests' }] } });
    assert.deepEqual(await remote.waitForOutput(), { type: 'function_call_output', call_id: 'call_A1', output: '{"tasks":[{"number":1,"title":"add tests"}]}' });
    await remote.until(() => remote.responseCreates === 1, 'response.create after the output');
    remote.responseCreated();
    const answer = tone(300, 400, 24_000, 9_000);
    remote.audioOut(answer, { itemId: 'item_a1' });
    remote.transcriptOut('You have one task running.', { itemId: 'item_a1' });
    remote.responseDone();
    await probe.until(() => probe.of('speech').some((s) => s.speaker === 'assistant' && s.phase === 'ended'), 'the end of the reply');
    const audio = probe.of('audio');
    assert.ok(audio.every((a) => a.sampleRate === 24_000));
    const pcm = Int16Array.from(audio.flatMap((a) => [...a.pcm]));
    assert.equal(pcm.length, answer.length);
    assert.ok(rms(pcm) > 5_000, 'assistant audio is not silent');
    assert.deepEqual(
      probe.events.filter((e) => e.type !== 'audio').map(label),
      ['ready', 'started:user', 'ended:user', 'user:list my ', 'user:tasks', 'toolCall', 'started:assistant', 'assistant:You have one task running.', 'ended:assistant'],
    );
    for (const event of probe.events) {
      const message = toGatewayMessage(event);
      if (message) assert.deepEqual(parseVoiceGatewayMessage(JSON.stringify(message)), { ok: true, message });
    }
    // Whisper sends no deltas: the completed transcript is the text.
    remote.inputTranscript('item_u2', [], 'push it');
    await probe.until(() => probe.of('transcript').some((t) => t.text === 'push it'), 'the completed transcript');
    await probe.session.close();
  });

  it('waits for every call of a response before asking for the next, and takes the beta event names too', async () => {
    const { probe, remote } = await ready();
    remote.responseCreated();
    // The beta API's arguments.done has no name: it comes from the item added before it.
    remote.functionCall({ callId: 'call_1', name: 'get_usage', arguments: '' }, { withName: false });
    remote.functionCall({ callId: 'call_2', name: 'tasks_list', arguments: '{}' });
    await probe.nth('toolCall', 2);
    assert.equal(probe.of('toolCall').length, 2, 'each call once, though the API reports it twice');
    probe.session.sendToolResult({ id: 'call_1', name: 'get_usage', result: 'about 3 dollars' });
    await remote.waitForOutput();
    remote.responseDone();
    // One output is still owed: no response yet.
    probe.session.sendToolResult({ id: 'call_2', name: 'tasks_list', result: [] });
    await remote.until(() => remote.outputs.length === 2, 'the second output');
    await remote.until(() => remote.responseCreates === 1, 'one response.create');
    assert.equal(remote.outputs[0]!.output, 'about 3 dollars');
    remote.responseCreated();
    remote.audioOut(tone(300, 80, 24_000), { beta: true, itemId: 'item_b' });
    remote.transcriptOut('Three dollars.', { beta: true, itemId: 'item_b' });
    remote.responseDone();
    await probe.until(() => probe.of('transcript').some((t) => t.text === 'Three dollars.'), 'the beta transcript');
    assert.ok(probe.of('audio').length > 0, 'beta audio deltas play');
    assert.equal(remote.events.filter((e) => e.type === 'error').length, 0);
    await probe.session.close();
  });

  it('answers undeclared tools and hostile arguments itself, so the model hears the error and the client never sees the call', async () => {
    const { probe, remote } = await ready();
    remote.responseCreated();
    remote.functionCall({ callId: 'c_rm', name: 'rm_rf', arguments: '{}' });
    remote.functionCall({ callId: 'c_bad', name: 'tasks_list', arguments: '{"state": "run' });
    remote.functionCall({ callId: 'c_arr', name: 'tasks_list', arguments: '[1,2]' });
    remote.functionCall({ callId: 'c_big', name: 'tasks_list', arguments: JSON.stringify({ state: 'x'.repeat(70_000) }) });
    remote.send({ type: 'response.function_call_arguments.done', call_id: { evil: true }, name: 'tasks_list', arguments: '{}' });
    remote.send({ type: 'response.output_item.done', item: 'not an item' });
    remote.send({ type: 'response.output_audio.delta', delta: 12 });
    remote.send({ type: 'conversation.item.input_audio_transcription.delta', delta: { x: 1 } });
    remote.ws.send('not json at all');
    remote.ws.send(JSON.stringify([1, 2, 3]));
    remote.responseDone();
    await remote.until(() => remote.outputs.length === 4, 'four outputs');
    assert.deepEqual(
      remote.outputs.map((o) => [o.call_id, JSON.parse(o.output) as unknown]),
      [
        ['c_rm', { error: 'unknown tool rm_rf' }],
        ['c_bad', { error: 'arguments are not valid JSON' }],
        ['c_arr', { error: 'arguments must be a JSON object' }],
        ['c_big', { error: 'arguments too large' }],
      ],
    );
    await remote.until(() => remote.responseCreates === 1, 'the model is asked to go on');
    assert.equal(probe.of('toolCall').length, 0);
    assert.ok(probe.of('error').every((e) => e.recoverable));
    assert.equal(probe.of('closed').length, 0, 'the session goes on');
    // Mismatched and unknown results are refused with a recoverable error.
    remote.responseCreated();
    remote.functionCall({ callId: 'c_ok', name: 'tasks_list', arguments: '{}' });
    await probe.nth('toolCall');
    probe.session.sendToolResult({ id: 'c_ok', name: 'get_usage', result: {} });
    probe.session.sendToolResult({ id: 'nope', name: 'tasks_list', result: {} });
    await probe.until(() => probe.of('error').some((e) => /unknown call id "nope"/.test(e.message)), 'the unknown-id error');
    assert.ok(probe.of('error').some((e) => /names get_usage, but call c_ok was tasks_list/.test(e.message)));
    await probe.session.close();
  });

  it('barge-in: speech_started while the assistant talks is interrupted {user} at once, and the model learns how much was heard', async () => {
    const { probe, remote } = await ready();
    remote.responseCreated();
    // Ten seconds of reply arrive at once; the gateway plays them in real time, so little was heard.
    remote.audioOut(tone(300, 10_000, 24_000), { itemId: 'item_long', chunkMs: 500 });
    await probe.until(() => probe.of('audio').length === 20, 'the reply audio');
    remote.speechStarted();
    assert.deepEqual(await probe.nth('interrupted'), { type: 'interrupted', source: 'user' });
    // The server VAD cancels the reply itself: the client sends no response.cancel of its own.
    await remote.until(() => remote.truncates.length === 1, 'the truncation');
    const t = remote.truncates[0]!;
    assert.equal(t.item_id, 'item_long');
    assert.equal(t.content_index, 0);
    assert.ok((t.audio_end_ms as number) >= 0 && (t.audio_end_ms as number) < 5_000, `truncated at ${String(t.audio_end_ms)} ms`);
    assert.equal(remote.cancels, 0);
    // What the server still sends of the cancelled reply is not played.
    const before = probe.of('audio').length;
    remote.audioOut(tone(300, 200, 24_000), { itemId: 'item_long' });
    remote.transcriptOut('and another thing');
    remote.responseDone('cancelled');
    remote.responseCreated();
    remote.transcriptOut('Yes?', { itemId: 'item_next' });
    await probe.until(() => probe.of('transcript').some((x) => x.text === 'Yes?'), 'the next reply');
    assert.equal(probe.of('audio').length, before);
    assert.ok(!probe.of('transcript').some((x) => x.text === 'and another thing'));
    assert.deepEqual(
      probe.events.filter((e) => e.type === 'speech' || e.type === 'interrupted').map(label),
      ['started:assistant', 'started:user', 'ended:assistant', 'interrupted'],
    );
    await probe.session.close();
  });

  it('speech_started when nothing plays is only the user speaking', async () => {
    const { probe, remote } = await ready();
    remote.speechStarted();
    await probe.nth('speech');
    remote.speechStopped();
    await probe.nth('speech', 2);
    assert.equal(probe.of('interrupted').length, 0);
    assert.equal(remote.truncates.length, 0);
    await probe.session.close();
  });

  it('turn.cancel: response.cancel, truncation, interrupted {client}, late results dropped quietly', async () => {
    const { probe, remote } = await ready();
    remote.responseCreated();
    remote.functionCall({ callId: 'c_slow', name: 'tasks_list', arguments: '{}' });
    remote.audioOut(tone(300, 4_000, 24_000), { itemId: 'item_c' });
    await probe.nth('toolCall');
    await probe.until(() => probe.of('audio').length === 100, 'the audio');
    probe.session.cancelTurn('user tapped stop');
    assert.deepEqual(probe.of('interrupted'), [{ type: 'interrupted', source: 'client' }]);
    await remote.until(() => remote.cancels === 1 && remote.truncates.length === 1, 'response.cancel and truncate');
    assert.equal(remote.truncates[0]!.item_id, 'item_c');
    // The stand-in ends the cancelled response; nothing more plays, the late result goes nowhere.
    probe.session.sendToolResult({ id: 'c_slow', name: 'tasks_list', result: {} });
    probe.session.cancelTurn('again');
    assert.equal(probe.of('interrupted').length, 2);
    remote.responseCreated();
    remote.transcriptOut('Stopped.');
    await probe.until(() => probe.of('transcript').some((x) => x.text === 'Stopped.'), 'the next reply');
    assert.equal(remote.outputs.length, 0, 'the cancelled call got no output');
    assert.equal(remote.responseCreates, 0);
    assert.equal(remote.cancels, 1, 'no response.cancel without a response in progress');
    assert.deepEqual(probe.of('error'), []);
    await probe.session.close();
  });

  it('context updates change the instructions without cutting a reply off', async () => {
    const { probe, remote } = await ready();
    probe.session.updateContext('task 2 is asking: which branch?');
    await remote.until(() => remote.sessionUpdates.length === 2, 'the second session.update');
    assert.deepEqual(Object.keys(remote.sessionUpdates[1]!), ['type', 'instructions']);
    assert.match(String(remote.sessionUpdates[1]!.instructions), /You are caic[\s\S]*which branch\?/);
    await probe.session.close();
  });

  it('service errors after setup are recoverable; a refused setup is not', async () => {
    const { probe, remote } = await ready();
    remote.error('rate_limit_exceeded', `Rate limit reached for ${KEY}`, 'server_error');
    const err = await probe.nth('error');
    assert.equal(err.recoverable, true);
    assert.match(err.message, /^OpenAI Realtime: Rate limit reached for \*\*\*WXYZ$/);
    await probe.session.close();

    // An error before session.updated (a refused setting) leaves the session unusable.
    const slow = await OpenAIRealtimeStandIn.start({ apiKey: KEY, autoSessionUpdated: false });
    try {
      const next = slow.session();
      const bad = new Probe({ url: slow.url });
      const r = await next;
      await r.until(() => r.sessionUpdates.length === 1, 'the setup');
      r.error('invalid_value', "Invalid value: 'pcm16'.");
      await bad.nth('closed');
      assert.deepEqual(bad.of('error'), [{ type: 'error', message: "OpenAI Realtime refused the session setup: Invalid value: 'pcm16'. (invalid_value)", recoverable: false }]);
    } finally {
      await slow.close();
    }
  });

  it('a wrong key: the service error and close become one clear unrecoverable error without the key', async () => {
    const next = standIn.session();
    const wrong = 'sk-proj-WrongKeyWrongKey-9876';
    const events: VoiceBackendEvent[] = [];
    const session = new OpenAIRealtimeBackend({ apiKey: wrong, model: MODEL, url: standIn.url }).open(SETUP, (e) => events.push(e));
    const remote = await next;
    await remote.until(() => remote.closed !== undefined, 'the refusal');
    await session.close();
    assert.equal(events.length, 2, JSON.stringify(events));
    assert.equal(events[0]!.type, 'error');
    assert.match((events[0] as { message: string }).message, /^OpenAI Realtime refused the API key \(OPENAI_API_KEY\): Incorrect API key provided: sk-\*{5}9876/);
    assert.equal((events[0] as { recoverable: boolean }).recoverable, false);
    assert.equal(events[1]!.type, 'closed');
    assert.ok(!JSON.stringify(events).includes('WrongKeyWrongKey'));
  });

  it('a key refused at the handshake (HTTP 401) is the same clear unrecoverable error', async () => {
    const server = createHttpServer((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'Incorrect API key provided.', code: 'invalid_api_key' } }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as { port: number };
      const probe = new Probe({ url: `ws://127.0.0.1:${port}/v1/realtime` });
      await probe.nth('closed');
      assert.deepEqual(probe.of('error'), [{ type: 'error', message: 'OpenAI Realtime refused the API key (OPENAI_API_KEY): Unexpected server response: 401', recoverable: false }]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('an unreachable service, a silent one and one that hangs up are errors, not hangs', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as { port: number };
        srv.close(() => resolve(port));
      });
    });
    const gone = new Probe({ url: `ws://127.0.0.1:${port}/v1/realtime` });
    await gone.nth('closed');
    assert.match(gone.of('error')[0]!.message, /^cannot reach OpenAI Realtime: .*ECONNREFUSED/);

    const silent = await OpenAIRealtimeStandIn.start({ apiKey: KEY, autoSessionUpdated: false });
    try {
      const probe = new Probe({ url: silent.url, setupTimeoutMs: 300 });
      await probe.nth('closed');
      assert.deepEqual(probe.of('error'), [{ type: 'error', message: 'OpenAI Realtime did not complete the session setup within 300 ms', recoverable: false }]);
    } finally {
      await silent.close();
    }

    const { probe, remote } = await ready();
    remote.close(1011, `server_error (${KEY})`);
    await probe.nth('closed');
    assert.deepEqual(probe.of('error'), [{ type: 'error', message: 'OpenAI Realtime closed the session (code 1011: server_error (***WXYZ))', recoverable: false }]);
    sendFrames(probe.session, tone(440, 100, 16_000));
    probe.session.sendToolResult({ id: 'x', name: 'tasks_list', result: {} });
    probe.session.updateContext('x');
    probe.session.cancelTurn('x');
    await probe.session.close();
    assert.equal(probe.of('closed').length, 1);
    assert.equal(probe.events.at(-1)?.type, 'closed');
  });

  it('holds at most maxPendingAudioBytes before the session is ready, the newest', async () => {
    const slow = await OpenAIRealtimeStandIn.start({ apiKey: KEY, autoSessionUpdated: false });
    try {
      const next = slow.session();
      const probe = new Probe({ url: slow.url, maxPendingAudioBytes: 9_600 });
      const remote = await next;
      await remote.until(() => remote.sessionUpdates.length === 1, 'the setup');
      sendFrames(probe.session, tone(440, 1_000, 16_000));
      assert.ok(probe.session.stats().queuedBytes <= 9_600);
      remote.sessionUpdated();
      await probe.nth('ready');
      await remote.until(() => remote.audioSamples >= 4_800, 'the held audio');
      assert.equal(remote.audioSamples, 4_800, 'the newest 200 ms');
      assert.equal(probe.session.stats().droppedAudioBytes, 48_000 - 9_600);
      await probe.session.close();
    } finally {
      await slow.close();
    }
  });

  it('drops microphone audio with one clear error when the connection cannot keep up', async () => {
    const { probe, remote } = await ready({ maxBufferedBytes: 64 * 1024 });
    remote.pauseReading();
    const second = tone(440, 1_000, 16_000);
    let maxQueued = 0;
    for (let i = 0; i < 700; i++) {
      probe.session.sendAudio(second);
      maxQueued = Math.max(maxQueued, probe.session.stats().queuedBytes);
      if (probe.of('error').length > 0 && i > 50) break;
    }
    const errors = probe.of('error');
    assert.equal(errors.length, 1, 'one error per congestion');
    assert.match(errors[0]!.message, /cannot keep up/);
    assert.ok(probe.session.stats().droppedAudioBytes > 0);
    // One message past the limit at most (1 s at 24 kHz is 64 kB of base64).
    assert.ok(maxQueued <= 64 * 1024 + 70_000, `queued ${maxQueued} bytes`);
    await probe.session.close();
  });

  it('the key never reaches the log, even when the service echoes it', async () => {
    const capture = new LogCapture();
    const { logger } = createLogger({ level: 'trace', destination: capture });
    const { probe, remote } = await ready({ logger });
    remote.error('server_error', `oops ${KEY}`, 'server_error');
    await probe.nth('error');
    remote.close(1011, `bye ${KEY}`);
    await probe.nth('closed');
    assert.ok(capture.lines.length > 0);
    assert.ok(capture.text.includes('***WXYZ'), 'the masked form is logged');
    assert.ok(!capture.text.includes(KEY));
    assert.ok(!JSON.stringify(probe.events).includes(KEY));
  });

  it('refuses URLs that would send the key in clear or carry credentials; needs a key', () => {
    assert.equal(checkOpenAIRealtimeUrl('wss://api.openai.com/v1/realtime').protocol, 'wss:');
    assert.equal(checkOpenAIRealtimeUrl('ws://127.0.0.1:9/v1/realtime').protocol, 'ws:');
    assert.throws(() => checkOpenAIRealtimeUrl('ws://realtime.example.com/v1/realtime'), /wss:\/\//);
    assert.throws(() => checkOpenAIRealtimeUrl('https://api.openai.com/v1/realtime'), /wss:\/\//);
    assert.throws(() => checkOpenAIRealtimeUrl('wss://u:p@api.openai.com/v1/realtime'), /credentials/);
    assert.throws(() => checkOpenAIRealtimeUrl('wss://api.openai.com/v1/realtime?api_key=sk-x'), /credentials/);
    assert.throws(() => new OpenAIRealtimeBackend({ apiKey: '', model: MODEL }), /OPENAI_API_KEY/);
  });
});
