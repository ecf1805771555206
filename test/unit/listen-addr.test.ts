// localizeAddr: a bare port binds loopback only; everything else binds as written.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { localizeAddr, urlForListen } from '../../src/config/index.js';

test('localizeAddr binds bare ports to 127.0.0.1 and the rest as written', () => {
  const cases: [string, string, number][] = [
    [':2242', '127.0.0.1', 2242],
    ['2242', '127.0.0.1', 2242],
    [':0', '127.0.0.1', 0],
    ['0.0.0.0:2242', '0.0.0.0', 2242],
    ['[::]:2242', '::', 2242],
    ['[::1]:8080', '::1', 8080],
    ['localhost:2242', 'localhost', 2242],
    ['192.168.1.10:2242', '192.168.1.10', 2242],
    ['caic.internal:9000', 'caic.internal', 9000],
  ];
  for (const [input, host, port] of cases) {
    assert.deepEqual(localizeAddr(input), { host, port }, input);
  }
});

test('localizeAddr rejects malformed addresses', () => {
  for (const bad of ['', 'host', ':http', ':70000', '::1:2242', '[::1]', '1.2.3.4:', 'a:b:c']) {
    assert.throws(() => localizeAddr(bad), Error, bad);
  }
});

test('urlForListen points wildcard binds at loopback', () => {
  assert.equal(urlForListen({ host: '127.0.0.1', port: 2242 }), 'http://127.0.0.1:2242');
  assert.equal(urlForListen({ host: '0.0.0.0', port: 2242 }), 'http://127.0.0.1:2242');
  assert.equal(urlForListen({ host: '::', port: 2242 }), 'http://[::1]:2242');
  assert.equal(urlForListen({ host: '::1', port: 1 }), 'http://[::1]:1');
});
