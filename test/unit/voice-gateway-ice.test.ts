// Where the voice gateway's media listens: announced addresses (never Docker's bridges), the port range, loopback binding, no STUN, and the bridge filter on remote candidates.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { hostAddresses, icePeerConfig } from '../../src/voice/index.js';
import { tempDir } from '../helpers/tmp.js';

const nic = (address: string, cidr: string, internal = false): NetworkInterfaceInfo =>
  ({ address, cidr, internal, family: address.includes(':') ? 'IPv6' : 'IPv4', netmask: '', mac: '00:00:00:00:00:00', ...(address.includes(':') ? { scopeid: 0 } : {}) }) as NetworkInterfaceInfo;

const MACHINE = {
  lo: [nic('127.0.0.1', '127.0.0.1/8', true), nic('::1', '::1/128', true)],
  eth0: [nic('10.0.0.5', '10.0.0.5/24'), nic('fe80::1', 'fe80::1/64'), nic('2001:db8::5', '2001:db8::5/64')],
  docker0: [nic('172.17.0.1', '172.17.0.1/16')],
  'br-0a1b2c': [nic('172.18.0.1', '172.18.0.1/16')],
  veth12ab: [nic('fe80::2', 'fe80::2/64')],
  tailscale0: [nic('100.101.102.103', '100.101.102.103/32')],
};

describe('voice gateway ICE settings', () => {
  test("this machine's addresses: not loopback, link-local or a container bridge", () => {
    assert.deepEqual(hostAddresses(MACHINE), ['10.0.0.5', '2001:db8::5', '100.101.102.103']);
  });

  test('defaults: those addresses, any port, no STUN server; remote candidates on a Docker bridge are never paired', () => {
    const c = icePeerConfig({ announceAddresses: [], udpPort: 0, maxSessions: 20 }, MACHINE);
    assert.deepEqual(c.iceServers, [], 'nothing leaves the machine to learn an address');
    assert.equal(c.iceUseIpv4, false, 'werift does not gather on its own (it would take docker0)');
    assert.deepEqual(c.iceAdditionalHostAddresses, ['10.0.0.5', '2001:db8::5', '100.101.102.103']);
    assert.equal(c.icePortRange, undefined);
    assert.equal(c.iceInterfaceAddresses, undefined, 'bound on every interface, announced on these');
    assert.equal(c.iceFilterCandidatePair({ remoteCandidate: { host: '172.17.0.2' } }), false);
    assert.equal(c.iceFilterCandidatePair({ remoteCandidate: { host: '172.18.4.4' } }), false);
    assert.equal(c.iceFilterCandidatePair({ remoteCandidate: { host: '192.168.1.20' } }), true);
    assert.equal(c.iceFilterCandidatePair({ remoteCandidate: { host: 'abcd.local' } }), true);
  });

  test('webrtc_udp_port: a range from it, one port per session and address; loopback only binds loopback', () => {
    const one = icePeerConfig({ announceAddresses: ['100.101.102.103'], udpPort: 40_000, maxSessions: 20 }, MACHINE);
    assert.deepEqual(one.icePortRange, [40_000, 40_019]);
    const two = icePeerConfig({ announceAddresses: ['10.0.0.5', '100.101.102.103'], udpPort: 40_000, maxSessions: 20 }, MACHINE);
    assert.deepEqual(two.icePortRange, [40_000, 40_039]);
    assert.deepEqual(icePeerConfig({ announceAddresses: [], udpPort: 65_530, maxSessions: 20 }, MACHINE).icePortRange, [65_530, 65_535]);
    assert.deepEqual(icePeerConfig({ announceAddresses: ['1.2.3.4'], udpPort: 5_000, maxSessions: 1 }, MACHINE).icePortRange, [5_000, 5_001], 'werift needs two ports at least');
    const lo = icePeerConfig({ announceAddresses: ['127.0.0.1'], udpPort: 0, maxSessions: 20 }, MACHINE);
    assert.deepEqual(lo.iceInterfaceAddresses, { udp4: '127.0.0.1' });
    assert.deepEqual(lo.iceAdditionalHostAddresses, ['127.0.0.1']);
  });

  test('announce_addresses must be IP addresses', async () => {
    await using dir = await tempDir();
    await writeFile(join(dir.path, 'config.toml'), '[voice-gateway.config.server]\nannounce_addresses = ["my-host.example"]\n');
    assert.throws(() => loadConfig({ configDir: dir.path, cacheDir: join(dir.path, 'c'), env: {} }), /announce_addresses.*"my-host\.example" is not an IP address/);
    await writeFile(join(dir.path, 'config.toml'), '[voice-gateway.config.server]\nannounce_addresses = ["100.64.0.1", "fd7a::1"]\nwebrtc_udp_port = 40000\n');
    assert.deepEqual(loadConfig({ configDir: dir.path, cacheDir: join(dir.path, 'c'), env: {} }).values['voice-gateway'].config.server, {
      webrtc_udp_port: 40_000,
      announce_addresses: ['100.64.0.1', 'fd7a::1'],
    });
  });
});
