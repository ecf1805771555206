// The secret masker and the logger: registered secrets never leave a log line whole.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, maskValue, SecretMasker } from '../../src/log/index.js';
import { LogCapture } from '../helpers/log-capture.js';

test('masks every occurrence to the last 4 characters', () => {
  const m = new SecretMasker();
  m.add('ghp_abcdefghijklmnop1234', undefined, '', 'abc');
  assert.equal(m.mask('token=ghp_abcdefghijklmnop1234 and again ghp_abcdefghijklmnop1234'), 'token=****1234 and again ****1234');
  assert.equal(m.mask('abc is too short to register'), 'abc is too short to register');
});

test('short secrets are masked without a tail; overlapping secrets mask whole', () => {
  const m = new SecretMasker();
  m.add('hunter22', 'supersecretvalue', 'supersecretvalue-extended');
  assert.equal(maskValue('hunter22'), '****');
  assert.equal(m.mask('pw hunter22'), 'pw ****');
  assert.equal(m.mask('supersecretvalue-extended'), '****nded');
});

test('secrets with regex and JSON special characters are masked in serialised lines', () => {
  const m = new SecretMasker();
  const secret = 'a"b\\c.*+?(x)[y]$1234';
  m.add(secret);
  assert.equal(m.mask(JSON.stringify({ v: secret })), '{"v":"****1234"}');
  assert.equal(m.mask(`raw ${secret}`), 'raw ****1234');
});

test('the logger masks messages, fields and error stacks, and redacts auth headers', () => {
  const capture = new LogCapture();
  const { logger, masker } = createLogger({ level: 'debug', destination: capture });
  masker.add('glpat-SECRETSECRETSECRET');
  logger.info({ token: 'glpat-SECRETSECRETSECRET' }, 'using glpat-SECRETSECRETSECRET');
  logger.error({ err: new Error('failed with glpat-SECRETSECRETSECRET') }, 'boom');
  logger.info({ req: { headers: { authorization: 'Bearer xyz.abc.def', cookie: 'caic_session=abc' } } }, 'headers');
  assert.ok(!capture.text.includes('SECRETSECRETSECRET'), capture.text);
  assert.ok(capture.text.includes('****CRET'));
  assert.ok(!capture.text.includes('xyz.abc.def'));
  assert.ok(!capture.text.includes('caic_session=abc'));
});

test('pretty log lines are readable, one per record, and masked like JSON ones', () => {
  const capture = new LogCapture();
  const { logger, masker } = createLogger({ level: 'debug', destination: capture, format: 'pretty' });
  const secret = 'glpat-PRETTYSECRETSECRET9z';
  masker.add(secret);
  logger.info({ url: 'http://127.0.0.1:2242', token: secret }, `listening with ${secret}`);
  logger.error({ err: new Error(`failed with ${secret}`) }, 'boom');
  logger.info({ req: { headers: { authorization: 'Bearer xyz.abc.def' } } }, 'headers');
  const text = capture.text;
  assert.ok(!text.includes('PRETTYSECRETSECRET'), text);
  assert.ok(text.includes('****ET9z'), 'masked to the last 4 characters');
  assert.ok(!text.includes('xyz.abc.def'));
  const first = capture.lines[0]!;
  assert.doesNotMatch(first, /^\{/, 'not JSON');
  assert.match(first, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: listening with \*\*\*\*ET9z \{"url":"http:\/\/127\.0\.0\.1:2242","token":"\*\*\*\*ET9z"\}$/);
  assert.ok(capture.lines.some((l) => /ERROR: boom/.test(l)));
  assert.doesNotMatch(text, /\[3\d(;\d+)?m/, 'no colour codes unless asked for');
});
