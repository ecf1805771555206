// The local-stack voice backend with real espeak-ng speech in and out, against OpenAI-compatible ASR / chat / speech stand-ins: utterances, tool round trips, barge-in, cancel, failures, deadlines, hostile answers, masking, configuration.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { VoiceTool } from '../../src/api/index.js';
import { loadConfig, UserError } from '../../src/config/index.js';
import { createLogger } from '../../src/log/index.js';
import {
  createVoiceBackend,
  endpointUrl,
  espeakProblem,
  LocalStackBackend,
  localStackProblem,
  voiceStatus,
  type LocalStackOptions,
  type VoiceSessionSetup,
} from '../../src/voice/index.js';
import { LogCapture } from '../helpers/log-capture.js';
import { chatText, chatToolCalls, OpenAICompatStandIn, rms, tone, wavOf } from '../helpers/openai-compat-standin.js';
import { speak, voicedBounds } from '../helpers/speech.js';
import { tempDir } from '../helpers/tmp.js';
import { BackendProbe, sendFrames } from '../helpers/voice-probe.js';

const KEY = 'sk-local-StandInKey0123456789WXYZ';

const TOOLS: VoiceTool[] = [
  { name: 'tasks_list', description: 'List the tasks', parameters: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { state: { type: 'string' } } } },
  { name: 'get_usage', description: 'Usage' },
];
const SETUP: VoiceSessionSetup = {
  voice: { name: '', language: 'en-US' },
  tools: TOOLS,
  context: 'task 1: running (add tests)',
  systemInstruction: 'You are caic, a voice assistant. Tools run on the client.',
};

const silence = (ms: number) => new Int16Array((16_000 * ms) / 1000);

/** Live processes this test process started whose command line mentions `name` (espeak-ng, or the fake below). */
function espeakChildren(name = 'espeak-ng'): number {
  let n = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const [state, ppid] = stat.slice(close + 2).split(' ');
      if (Number(ppid) === process.pid && state !== 'Z' && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(name)) n++;
    } catch {
      // The process ended while we looked.
    }
  }
  return n;
}

/**
 * A stand-in for espeak-ng that starts speaking and never finishes (an engine stuck on odd input):
 * only a kill ends it, so a test can tell that the backend kills it rather than waits.
 */
async function stuckEspeak(dir: string): Promise<string> {
  const path = join(dir, 'stuck-espeak');
  const header = wavOf(tone(300, 200, 22_050), 22_050);
  await writeFile(
    path,
    `#!${process.execPath}\nprocess.stdout.write(Buffer.from(${JSON.stringify(header.toString('base64'))}, 'base64'));\nsetInterval(() => {}, 1000);\n`,
    { mode: 0o755 },
  );
  return path;
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('local-stack backend', () => {
  let standIn: OpenAICompatStandIn;
  let speech: Int16Array;
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    standIn = await OpenAICompatStandIn.start({ apiKey: KEY });
    speech = await speak('list my tasks', 16_000);
  });
  beforeEach(() => {
    // A failed test leaves no scripted answers behind for the next.
    standIn.asr.length = 0;
    standIn.chat.length = 0;
    standIn.speech.length = 0;
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await standIn.close();
    assert.deepEqual(unhandled, [], 'no unhandled rejections');
  });

  function open(opts: Partial<LocalStackOptions> = {}, setup = SETUP): BackendProbe {
    const backend = new LocalStackBackend({
      asrUrl: standIn.url,
      asrModel: 'qwen3-asr',
      llmUrl: `${standIn.url}/v1`,
      llmModel: 'gemma',
      llmApiKey: KEY,
      tts: { engine: 'espeak-ng' },
      ...opts,
    });
    return new BackendProbe(backend, setup);
  }

  /** Half a second of silence, the utterance, then a second of silence (longer than the VAD's hangover). */
  function say(probe: BackendProbe, pcm = speech): void {
    sendFrames(probe.session, silence(500));
    sendFrames(probe.session, pcm);
    sendFrames(probe.session, silence(1_000));
  }

  it('an utterance → transcription with its speech → chat with the tools → tool round trip → the reply spoken by espeak-ng at its true rate', async () => {
    const probe = open();
    await probe.nth('ready');
    const asrBefore = standIn.transcriptions.length;
    const chatBefore = standIn.chats.length;
    standIn.asr.push({ json: { text: ' list my tasks ' } });
    standIn.chat.push(chatToolCalls([{ id: 'call_1', name: 'tasks_list', arguments: '{"state":"running"}' }]));
    standIn.chat.push(chatText('You have one task running: add tests.'));
    say(probe);
    const call = await probe.nth('toolCall');
    assert.deepEqual(call, { type: 'toolCall', id: 'call_1', name: 'tasks_list', args: { state: 'running' } });

    // The transcription request: the utterance as a 16 kHz WAV, speech energy where the speech is.
    const t = standIn.transcriptions[asrBefore]!;
    assert.equal(t.model, 'qwen3-asr');
    assert.equal(t.language, 'en');
    assert.equal(t.responseFormat, 'json');
    assert.equal(t.fileType, 'audio/wav');
    assert.equal(t.rate, 16_000);
    const speechMs = (speech.length / 16_000) * 1000;
    assert.ok(t.durationMs >= speechMs - 100 && t.durationMs <= speechMs + 1_000, `utterance of ${t.durationMs} ms for ${speechMs} ms of speech`);
    const v = voicedBounds(t.samples, 200);
    assert.ok(v.first > 0 && v.first < 16_000 * 0.4, 'it starts shortly before the speech (pre-roll)');
    assert.ok(rms(t.samples.subarray(v.first, v.last)) > 1_000, `speech energy arrived (rms ${t.rms})`);

    // The chat request: key, model, system instruction with the context, the user's words, the tools.
    const chat = standIn.chats[chatBefore]! as { model: string; messages: { role: string; content: string }[]; tools: unknown[]; tool_choice: string; stream: boolean };
    assert.equal(standIn.requests.filter((r) => r.path === '/v1/chat/completions').at(-1)!.authorization, `Bearer ${KEY}`);
    assert.equal(chat.model, 'gemma');
    assert.equal(chat.stream, false);
    assert.equal(chat.messages[0]!.role, 'system');
    assert.match(chat.messages[0]!.content, /You are caic[\s\S]*en-US[\s\S]*task 1: running \(add tests\)/);
    assert.deepEqual(chat.messages.slice(1), [{ role: 'user', content: 'list my tasks' }]);
    assert.deepEqual(chat.tools, [
      { type: 'function', function: { name: 'tasks_list', description: 'List the tasks', parameters: { type: 'object', properties: { state: { type: 'string' } } } } },
      { type: 'function', function: { name: 'get_usage', description: 'Usage', parameters: { type: 'object', properties: {} } } },
    ]);
    assert.equal(chat.tool_choice, 'auto');

    probe.session.sendToolResult({ id: 'call_1', name: 'tasks_list', result: { tasks: [{ number: 1, title: 'add tests' }] } });
    await probe.until(() => probe.of('speech').some((s) => s.speaker === 'assistant' && s.phase === 'ended'), 'the end of the spoken reply');
    const second = standIn.chats[chatBefore + 1]! as { messages: Record<string, unknown>[] };
    assert.deepEqual(second.messages.slice(1), [
      { role: 'user', content: 'list my tasks' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'tasks_list', arguments: '{"state":"running"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"tasks":[{"number":1,"title":"add tests"}]}' },
    ]);

    // Real espeak-ng: 22,050 Hz, seconds of non-silent speech.
    const audio = probe.of('audio');
    assert.ok(audio.length > 0);
    assert.ok(audio.every((a) => a.sampleRate === 22_050), `rates ${[...new Set(audio.map((a) => a.sampleRate))].join(',')}`);
    const pcm = Int16Array.from(audio.flatMap((a) => [...a.pcm]));
    assert.ok(pcm.length > 22_050, `${pcm.length} samples`);
    assert.ok(rms(pcm) > 500, `the reply is not silent (rms ${rms(pcm)})`);
    assert.deepEqual(probe.labels(), [
      'ready',
      'started:user',
      'ended:user',
      'user:list my tasks',
      'toolCall',
      'text:You have one task running: add tests.',
      'assistant:You have one task running: add tests.',
      'started:assistant',
      'ended:assistant',
    ]);
    assert.equal(probe.session.stats().receivedAudioBytes, pcm.length * 2);

    // The next utterance carries the conversation so far.
    standIn.asr.push({ json: { text: 'thanks' } });
    standIn.chat.push(chatText('You are welcome.'));
    say(probe);
    await probe.until(() => probe.of('transcript').some((x) => x.text === 'You are welcome.'), 'the second reply');
    const third = standIn.chats[chatBefore + 2]! as { messages: { role: string }[] };
    assert.deepEqual(third.messages.map((m) => m.role), ['system', 'user', 'assistant', 'tool', 'assistant', 'user']);
    await probe.until(() => probe.of('speech').filter((s) => s.speaker === 'assistant' && s.phase === 'ended').length === 2, 'the second reply spoken');
    await probe.session.close();
    assert.deepEqual(probe.of('error'), []);
    assert.equal(probe.events.at(-1)!.type, 'closed');
  });

  it('speaks through a remote /v1/audio/speech: WAV at its own rate, or raw 24 kHz PCM', async () => {
    const probe = open({ tts: { engine: 'remote', url: standIn.url, model: 'kokoro', voice: 'af_heart' } });
    const before = standIn.speeches.length;
    standIn.asr.push({ json: { text: 'usage' } });
    standIn.chat.push(chatText('About **three** dollars.'));
    say(probe);
    await probe.until(() => probe.of('speech').some((s) => s.speaker === 'assistant' && s.phase === 'ended'), 'the reply');
    assert.deepEqual(standIn.speeches[before], { model: 'kokoro', input: 'About three dollars.', voice: 'af_heart', response_format: 'wav' });
    const audio = probe.of('audio');
    assert.ok(audio.every((a) => a.sampleRate === 16_000));
    const pcm = Int16Array.from(audio.flatMap((a) => [...a.pcm]));
    assert.equal(pcm.length, 8_000);
    assert.ok(rms(pcm) > 5_000);

    standIn.asr.push({ json: { text: 'again' } });
    standIn.chat.push(chatText('Again.'));
    const raw = tone(200, 250, 24_000, 9_000);
    standIn.speech.push({ raw: Buffer.from(raw.buffer), contentType: 'audio/pcm' });
    say(probe);
    await probe.until(() => probe.of('speech').filter((s) => s.speaker === 'assistant' && s.phase === 'ended').length === 2, 'the second reply');
    const second = probe.of('audio').slice(audio.length);
    assert.ok(second.every((a) => a.sampleRate === 24_000));
    assert.equal(second.reduce((n, a) => n + a.pcm.length, 0), raw.length);
    await probe.session.close();
  });

  it('barge-in while it speaks: interrupted {user} at once, the speech request aborted, the new utterance heard', async () => {
    const probe = open({ tts: { engine: 'remote', url: standIn.url } });
    standIn.asr.push({ json: { text: 'tell me a story' } });
    standIn.chat.push(chatText('Once upon a time.'));
    const wav = wavOf(tone(300, 2_000, 24_000), 24_000);
    standIn.speech.push({ stream: [wav.subarray(0, 44 + 24_000)], thenHang: true });
    say(probe);
    await probe.nth('audio');
    const abortedBefore = standIn.aborted('/v1/audio/speech');
    standIn.asr.push({ json: { text: 'stop' } });
    standIn.chat.push(chatText('Stopped.'));
    sendFrames(probe.session, speech.subarray(0, 16_000 * 0.3));
    assert.deepEqual(probe.of('interrupted'), [{ type: 'interrupted', source: 'user' }], 'at once, while the user still speaks');
    await standIn.until(() => standIn.aborted('/v1/audio/speech') === abortedBefore + 1, 'the speech request aborted');
    sendFrames(probe.session, speech.subarray(16_000 * 0.3));
    sendFrames(probe.session, silence(1_000));
    await probe.until(() => probe.of('transcript').some((x) => x.text === 'Stopped.'), 'the reply to the new utterance');
    const labels = probe.labels();
    assert.deepEqual(labels.slice(labels.indexOf('started:assistant'), labels.indexOf('user:stop') + 1), ['started:assistant', 'started:user', 'ended:assistant', 'interrupted:user', 'ended:user', 'user:stop']);
    assert.deepEqual(probe.of('error'), []);
    await probe.session.close();
  });

  it('barge-in while it thinks (a chat request, or a tool call the client runs) stops the turn; a late tool result is dropped quietly', async () => {
    const probe = open();
    standIn.asr.push({ json: { text: 'list my tasks' } });
    standIn.chat.push({ hang: true });
    say(probe);
    const abortedBefore = standIn.aborted('/v1/chat/completions');
    await standIn.until(() => standIn.requests.filter((r) => r.path === '/v1/chat/completions' && !r.finished && !r.aborted).length === 1, 'the hanging chat request');
    standIn.asr.push({ json: { text: 'list them' } });
    standIn.chat.push(chatToolCalls([{ id: 'call_x', name: 'tasks_list', arguments: '{}' }]));
    say(probe);
    await probe.nth('toolCall');
    assert.deepEqual(probe.of('interrupted'), [{ type: 'interrupted', source: 'user' }]);
    assert.equal(standIn.aborted('/v1/chat/completions'), abortedBefore + 1);
    // The user speaks again while the client runs the tool: that turn ends too.
    standIn.asr.push({ json: { text: 'never mind' } });
    standIn.chat.push(chatText('OK.'));
    say(probe);
    await probe.until(() => probe.of('transcript').some((x) => x.text === 'OK.'), 'the next reply');
    assert.equal(probe.of('interrupted').length, 2);
    probe.session.sendToolResult({ id: 'call_x', name: 'tasks_list', result: [] });
    assert.deepEqual(probe.of('error'), []);
    const last = standIn.chats.at(-1) as { messages: { role: string }[] };
    assert.ok(!last.messages.some((m) => m.role === 'tool'), 'no half-finished tool round in the conversation');
    await probe.session.close();
  });

  it('turn.cancel stops a thinking turn and an espeak-ng synthesis at once (the process is killed)', async () => {
    const probe = open();
    standIn.asr.push({ json: { text: 'hello' } });
    standIn.chat.push({ hang: true });
    say(probe);
    const abortedBefore = standIn.aborted('/v1/chat/completions');
    await standIn.until(() => standIn.requests.filter((r) => r.path === '/v1/chat/completions' && !r.finished && !r.aborted).length === 1, 'the chat request');
    probe.session.cancelTurn('user tapped stop');
    assert.deepEqual(probe.of('interrupted'), [{ type: 'interrupted', source: 'client' }]);
    await standIn.until(() => standIn.aborted('/v1/chat/completions') === abortedBefore + 1, 'the chat request aborted');

    standIn.asr.push({ json: { text: 'read it all' } });
    standIn.chat.push(chatText('This is a long reply. '.repeat(80)));
    say(probe);
    await probe.nth('audio');
    assert.equal(espeakChildren(), 1, 'espeak-ng is speaking');
    const audioBefore = probe.of('audio').length;
    probe.session.cancelTurn('stop');
    assert.equal(probe.of('interrupted').length, 2);
    await waitFor(() => espeakChildren() === 0, 'espeak-ng to be gone');
    assert.equal(probe.of('audio').length, audioBefore, 'no audio after the cancel');
    assert.deepEqual(probe.of('error'), []);
    await probe.session.close();
  });

  it('espeak-ng is bounded: a reply past maxSpeechBytes is cut with a recoverable error and the process is gone', async () => {
    const probe = open({ maxSpeechBytes: 20_000 });
    standIn.asr.push({ json: { text: 'talk' } });
    standIn.chat.push(chatText('Words and more words. '.repeat(40)));
    say(probe);
    const err = await probe.nth('error');
    assert.deepEqual(err, { type: 'error', message: "espeak-ng produced more than 20000 bytes of audio; the rest of the reply is not spoken", recoverable: true });
    const bytes = probe.of('audio').reduce((n, a) => n + a.pcm.byteLength, 0);
    assert.ok(bytes > 0 && bytes <= 20_000, `${bytes} bytes of audio passed on`);
    await waitFor(() => espeakChildren() === 0, 'espeak-ng to be gone');
    await probe.session.close();
  });

  it('an espeak-ng that hangs is killed: at the synthesis deadline, and at once on barge-in', async () => {
    await using dir = await tempDir();
    const command = await stuckEspeak(dir.path);
    const probe = open({ tts: { engine: 'espeak-ng', command }, ttsTimeoutMs: 300 });
    standIn.asr.push({ json: { text: 'talk' } });
    standIn.chat.push(chatText('Hello.'));
    say(probe);
    assert.deepEqual(await probe.nth('error'), { type: 'error', message: 'espeak-ng did not finish within 300 ms', recoverable: true });
    await waitFor(() => espeakChildren('stuck-espeak') === 0, 'the stuck synthesizer to be killed');

    const patient = open({ tts: { engine: 'espeak-ng', command } });
    standIn.asr.push({ json: { text: 'talk' } });
    standIn.chat.push(chatText('Hello.'));
    say(patient);
    await patient.nth('audio');
    assert.equal(espeakChildren('stuck-espeak'), 1);
    sendFrames(patient.session, speech);
    assert.deepEqual(patient.of('interrupted'), [{ type: 'interrupted', source: 'user' }]);
    await waitFor(() => espeakChildren('stuck-espeak') === 0, 'the synthesizer killed by the barge-in');
    await probe.session.close();
    await patient.session.close();
  });

  it('ASR and LLM failures and timeouts are recoverable errors; the next utterance works', async () => {
    const probe = open({ asrTimeoutMs: 300, llmTimeoutMs: 300 });
    standIn.asr.push({ json: { error: { message: 'model crashed' } }, status: 500 });
    say(probe);
    assert.deepEqual(await probe.nth('error'), { type: 'error', message: 'the speech-to-text server answered HTTP 500: {"error":{"message":"model crashed"}}', recoverable: true });
    standIn.asr.push({ hang: true });
    say(probe);
    assert.deepEqual(await probe.nth('error', 2), { type: 'error', message: 'the speech-to-text server did not answer within 300 ms', recoverable: true });
    standIn.asr.push({ json: { text: 'hi' } });
    standIn.chat.push({ json: { error: { message: `bad key ${KEY}` } }, status: 400 });
    say(probe);
    const third = await probe.nth('error', 3);
    assert.match(third.message, /^the language model server answered HTTP 400: .*bad key \*\*\*WXYZ/);
    assert.ok(!third.message.includes(KEY));
    standIn.asr.push({ json: { text: 'hi' } });
    standIn.chat.push({ hang: true });
    say(probe);
    assert.deepEqual(await probe.nth('error', 4), { type: 'error', message: 'the language model server did not answer within 300 ms', recoverable: true });
    standIn.asr.push({ json: { text: 'hi' } });
    standIn.chat.push(chatText('Working again.'));
    say(probe);
    await probe.until(() => probe.of('transcript').some((x) => x.text === 'Working again.'), 'a working turn');
    assert.ok(probe.of('error').every((e) => e.recoverable));
    assert.equal(probe.of('closed').length, 0);
    await probe.session.close();
  });

  it('unreachable servers, redirects and silence (empty transcripts) are handled', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as { port: number };
        srv.close(() => resolve(port));
      });
    });
    const gone = open({ asrUrl: `http://127.0.0.1:${port}` });
    say(gone);
    assert.match((await gone.nth('error')).message, new RegExp(`^cannot reach the speech-to-text server at http://127.0.0.1:${port}: ECONNREFUSED`));
    await gone.session.close();

    const probe = open();
    // A redirect could carry the key elsewhere: refused, not followed.
    standIn.asr.push({ json: { text: 'hi' } });
    standIn.chat.push({ redirect: 'http://198.51.100.1/v1/chat/completions' });
    say(probe);
    assert.equal((await probe.nth('error')).message, 'the language model server answered with a redirect (HTTP 307), which is not followed');
    const chats = standIn.chats.length;
    const asked = standIn.transcriptions.length;
    standIn.asr.push({ json: { text: '' } });
    say(probe);
    await standIn.until(() => standIn.transcriptions.length === asked + 1, 'the transcription');
    standIn.asr.push({ json: { text: 'ping' } });
    standIn.chat.push(chatText('Pong.'));
    say(probe);
    await probe.until(() => probe.of('transcript').some((x) => x.text === 'Pong.'), 'the next reply');
    assert.equal(standIn.chats.length, chats + 1, 'an empty transcript asks the model nothing');
    await probe.session.close();
  });

  it('hostile answers: huge bodies, bad JSON, bad tool calls and audio that is not a WAV stay bounded and safe', async () => {
    const probe = open({ maxResponseBytes: 128 * 1024, maxSpeechBytes: 32 * 1024, tts: { engine: 'remote', url: standIn.url } });
    const errors = () => probe.of('error').map((e) => e.message);
    standIn.asr.push({ bytes: 10 * 1024 * 1024 });
    say(probe);
    await probe.nth('error');
    assert.equal(errors()[0], `the speech-to-text server answered more than ${128 * 1024} bytes`);
    standIn.asr.push({ raw: '{"text": "unterminated' });
    say(probe);
    await probe.nth('error', 2);
    assert.equal(errors()[1], 'the speech-to-text server answered something that is not JSON');
    standIn.asr.push({ json: { text: { evil: true } } });
    say(probe);
    await probe.nth('error', 3);
    assert.equal(errors()[2], 'the speech-to-text server answered without a text');
    standIn.asr.push({ json: { text: 'go' } });
    standIn.chat.push({ json: { choices: 'nope' } });
    say(probe);
    await probe.nth('error', 4);
    assert.equal(errors()[3], 'the language model server answered without a message');

    // Tool calls the client never sees: undeclared, not JSON, not an object, too large; the model hears why.
    const chatsBefore = standIn.chats.length;
    standIn.asr.push({ json: { text: 'go' } });
    standIn.chat.push(
      chatToolCalls([
        { id: 'a', name: 'rm_rf', arguments: '{}' },
        { id: 'b', name: 'tasks_list', arguments: '{"state": "run' },
        { id: 'c', name: 'tasks_list', arguments: '[1]' },
        { id: 'd', name: 'tasks_list', arguments: JSON.stringify({ s: 'x'.repeat(70_000) }) },
        { name: 'get_usage', arguments: { already: 'an object' } },
      ]),
    );
    standIn.chat.push(chatText('Sorry.'));
    say(probe);
    await probe.nth('toolCall');
    const call = probe.of('toolCall')[0]!;
    assert.deepEqual([call.name, call.args], ['get_usage', { already: 'an object' }]);
    assert.match(call.id, /^call_/, 'a call without an id gets one');
    probe.session.sendToolResult({ id: call.id, name: 'get_usage', result: 3 });
    await probe.until(() => probe.of('transcript').some((x) => x.text === 'Sorry.'), 'the reply');
    const tools = (standIn.chats[chatsBefore + 1]! as { messages: { role: string; content: string }[] }).messages.filter((m) => m.role === 'tool').map((m) => m.content);
    assert.deepEqual(tools, [
      '{"error":"unknown tool rm_rf"}',
      '{"error":"arguments are not valid JSON"}',
      '{"error":"arguments must be a JSON object"}',
      '{"error":"arguments too large"}',
      '3',
    ]);
    assert.equal(probe.of('toolCall').length, 1);
    await probe.until(() => probe.of('speech').some((s) => s.speaker === 'assistant' && s.phase === 'ended'), 'the reply spoken');
    // The speech is bounded too: the default 0.5 s WAV is 16 KB, this one is far more.
    standIn.asr.push({ json: { text: 'speak' } });
    standIn.chat.push(chatText('Loud.'));
    standIn.speech.push({ raw: wavOf(tone(300, 5_000, 24_000), 24_000), contentType: 'audio/wav' });
    say(probe);
    await probe.until(() => errors().some((e) => /the speech server answered more than/.test(e)), 'the speech bound');
    const audioBytes = probe.of('audio').reduce((n, a) => n + a.pcm.byteLength, 0);
    standIn.asr.push({ json: { text: 'speak' } });
    standIn.chat.push(chatText('Not a wav.'));
    standIn.speech.push({ raw: 'I am text', contentType: 'audio/wav' });
    say(probe);
    await probe.until(() => errors().some((e) => /audio is unusable: not a WAV/.test(e)), 'the bad audio');
    assert.ok(audioBytes <= 16_000 + 32 * 1024 + 64 * 1024, `audio passed on stayed bounded (${audioBytes} bytes)`);
    assert.ok(probe.of('error').every((e) => e.recoverable));
    assert.equal(probe.of('closed').length, 0);
    await probe.session.close();
  });

  it('a client that never answers a tool call: the model is told so after the deadline', async () => {
    const probe = open({ toolTimeoutMs: 200 });
    const before = standIn.chats.length;
    standIn.asr.push({ json: { text: 'list' } });
    standIn.chat.push(chatToolCalls([{ id: 'slow', name: 'tasks_list', arguments: '{}' }]));
    standIn.chat.push(chatText('The client did not answer.'));
    say(probe);
    await probe.until(() => probe.of('transcript').some((x) => x.text === 'The client did not answer.'), 'the reply');
    const tool = (standIn.chats[before + 1]! as { messages: { role: string; content: string }[] }).messages.find((m) => m.role === 'tool')!;
    assert.equal(tool.content, '{"error":"the client did not answer within 200 ms"}');
    probe.session.sendToolResult({ id: 'slow', name: 'tasks_list', result: [] });
    assert.deepEqual(probe.of('error'), [], 'the late result is dropped quietly');
    await probe.session.close();
  });

  it('bounds an utterance and the conversation the model sees', async () => {
    const probe = open({ maxUtteranceMs: 1_000, maxHistoryTurns: 2 });
    const before = standIn.transcriptions.length;
    const chatsBefore = standIn.chats.length;
    standIn.asr.push({ json: { text: 'one' } });
    say(probe, tone(440, 3_000, 16_000));
    await standIn.until(() => standIn.transcriptions.length > before, 'the cut utterance');
    assert.ok(standIn.transcriptions[before]!.durationMs <= 1_020, `${standIn.transcriptions[before]!.durationMs} ms`);
    await probe.until(() => probe.of('speech').some((s) => s.speaker === 'assistant' && s.phase === 'ended'), 'the first reply');
    for (const word of ['two', 'three']) {
      standIn.asr.push({ json: { text: word } });
      say(probe);
      await standIn.until(() => (standIn.chats.at(-1) as { messages: { content: string }[] }).messages.at(-1)!.content === word, `the turn "${word}"`);
    }
    const last = standIn.chats.at(-1) as { messages: { role: string; content: string }[] };
    assert.deepEqual(last.messages.filter((m) => m.role === 'user').map((m) => m.content), ['two', 'three'], 'the oldest turn went');
    assert.ok(standIn.chats.length >= chatsBefore + 3);
    await probe.session.close();
  });

  it('the LLM key never reaches the log', async () => {
    const capture = new LogCapture();
    const { logger } = createLogger({ level: 'trace', destination: capture });
    const probe = open({ logger });
    standIn.asr.push({ json: { text: 'hi' } });
    standIn.chat.push({ raw: `upstream said: Authorization: Bearer ${KEY}`, status: 502, contentType: 'text/plain' });
    say(probe);
    await probe.nth('error');
    await probe.session.close();
    assert.ok(capture.text.includes('***WXYZ'));
    assert.ok(!capture.text.includes(KEY));
    assert.ok(!JSON.stringify(probe.events).includes(KEY));
  });

  it('endpoint URLs take a base with or without /v1', () => {
    assert.equal(endpointUrl('http://h:8080', '/v1/chat/completions'), 'http://h:8080/v1/chat/completions');
    assert.equal(endpointUrl('http://h:8080/v1/', '/v1/chat/completions'), 'http://h:8080/v1/chat/completions');
    assert.equal(endpointUrl('https://h/openai/v1', '/v1/audio/speech'), 'https://h/openai/v1/audio/speech');
    assert.throws(() => new LocalStackBackend({ asrUrl: 'ftp://h', llmUrl: standIn.url, tts: { engine: 'espeak-ng' } }), /ASR URL must be an http/);
    assert.throws(() => new LocalStackBackend({ asrUrl: standIn.url, llmUrl: 'http://u:p@h', tts: { engine: 'espeak-ng' } }), /LLM URL must be a plain base URL/);
  });
});

describe('local-stack configuration', () => {
  const load = async (toml: string, env: Record<string, string> = {}) => {
    await using dir = await tempDir();
    await writeFile(join(dir.path, 'config.toml'), toml);
    return loadConfig({ configDir: dir.path, cacheDir: join(dir.path, 'cache'), env });
  };
  const loadError = (toml: string, env: Record<string, string> = {}) =>
    load(toml, env).then(
      () => assert.fail('accepted'),
      (err: unknown) => {
        assert.ok(err instanceof UserError, String(err));
        return err.message;
      },
    );
  const STACK = '[voice-gateway.config]\nbackend = "local-stack"\n[voice-gateway.config.local_stack.asr]\nremote = "http://127.0.0.1:9001"\n[voice-gateway.config.local_stack.llm]\nremote = "http://127.0.0.1:9002/v1"\n';

  it('is off with the reason when a server URL, the key or espeak-ng is missing; never a broken button', async () => {
    const none = await load('[voice-gateway.config]\nbackend = "local-stack"\n');
    assert.match(voiceStatus(none).reason, /local_stack\.asr\] remote .*caic does not start one/);
    assert.equal(voiceStatus(none).mode, 'off');
    assert.throws(() => createVoiceBackend(none), /^Error: the local-stack voice backend cannot run here: set \[voice-gateway\.config\.local_stack\.asr\] remote/);
    const noLlm = await load('[voice-gateway.config]\nbackend = "local-stack"\n[voice-gateway.config.local_stack.asr]\nremote = "http://127.0.0.1:9001"\n');
    assert.match(voiceStatus(noLlm).reason, /local_stack\.llm\] remote/);
    const ok = await load(STACK);
    assert.equal(voiceStatus(ok).mode, 'embedded');
    assert.equal(ok.values['voice-gateway'].config.local_stack.tts.engine, 'espeak-ng', 'espeak-ng is the default');
    assert.equal(createVoiceBackend(ok).name, 'local-stack');
    const ls = ok.values['voice-gateway'].config.local_stack;
    assert.equal(localStackProblem(ls, () => undefined, () => 'espeak-ng is not installed (Debian: apt-get install espeak-ng)'), 'espeak-ng is not installed (Debian: apt-get install espeak-ng), or set [voice-gateway.config.local_stack.tts] engine = "remote"');
    assert.equal(espeakProblem(), undefined, 'espeak-ng runs here');
    assert.match(String(espeakProblem('/nonexistent/espeak-ng')), /is not installed/);
    const keyed = `${STACK}api_key_name = "LOCAL_LLM_KEY"\n`;
    assert.match(voiceStatus(await load(keyed)).reason, /set LOCAL_LLM_KEY/);
    const withKey = await load(keyed, { LOCAL_LLM_KEY: 'sk-secret-value-1234' });
    assert.equal(voiceStatus(withKey).mode, 'embedded');
    assert.ok(withKey.secrets.includes('sk-secret-value-1234'), 'the key is masked in logs');
    const remoteTts = await load(`${STACK}[voice-gateway.config.local_stack.tts]\nengine = "remote"\n`);
    assert.match(voiceStatus(remoteTts).reason, /local_stack\.tts\] remote/);
  });

  it('refuses unusable URLs, an LLM key in clear text, unknown TTS engines and odd voice names, naming the key', async () => {
    assert.match(await loadError('[voice-gateway.config.local_stack.asr]\nremote = "ftp://x"\n'), /local_stack\.asr\.remote.*http:\/\/ or https:\/\//);
    assert.match(await loadError('[voice-gateway.config.local_stack.llm]\nremote = "http://h/?key=1"\n'), /local_stack\.llm\.remote.*plain base URL/);
    assert.match(
      await loadError('[voice-gateway.config.local_stack.llm]\nremote = "http://llm.example.com"\napi_key_name = "K"\n'),
      /local_stack\.llm\.remote: must be https:\/\/ when api_key_name is set/,
    );
    assert.equal((await load('[voice-gateway.config.local_stack.llm]\nremote = "http://[::1]:8080"\napi_key_name = "K"\n')).values['voice-gateway'].config.local_stack.llm.api_key_name, 'K');
    assert.match(await loadError('[voice-gateway.config.local_stack.tts]\nengine = "kittentts"\n'), /local_stack\.tts\.engine.*"espeak-ng" or "remote".*KittenTTS/);
    assert.match(await loadError('[voice-gateway.config.local_stack.tts]\nvoice = "../x"\n'), /tts\.voice/);
  });

  it('openai-realtime: off without OPENAI_API_KEY, its URL checked like gemini_url', async () => {
    const off = await load('[voice-gateway.config]\nbackend = "openai-realtime"\n');
    assert.equal(voiceStatus(off).mode, 'off');
    assert.match(voiceStatus(off).reason, /OPENAI_API_KEY/);
    assert.throws(() => createVoiceBackend(off), /OPENAI_API_KEY/);
    const on = await load('[voice-gateway.config]\nbackend = "openai-realtime"\nopenai_url = "ws://127.0.0.1:9/v1/realtime"\n', { OPENAI_API_KEY: 'sk-x-1234' });
    assert.equal(voiceStatus(on).mode, 'embedded');
    assert.equal(on.values['voice-gateway'].config.openai_model, 'gpt-realtime');
    assert.equal(createVoiceBackend(on).name, 'openai-realtime');
    assert.match(await loadError('[voice-gateway.config]\nopenai_url = "ws://realtime.example.com/v1/realtime"\n'), /openai_url.*wss:\/\//);
  });
});
