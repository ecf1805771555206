// Where the gateway's WebRTC media listens: the announced host addresses, the UDP ports, and the remote addresses it never sends to.
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Interface names of container and VM bridges: a client never reaches the gateway through them. */
const BRIDGE_INTERFACE = /^(docker|br-|veth|virbr|cni|flannel|vmnet)/;

export interface IceSettings {
  /** `[voice-gateway.config.server] announce_addresses`; empty: this machine's own addresses. */
  announceAddresses: readonly string[];
  /** `webrtc_udp_port`: the first port of the range sessions take; 0 for any free port. */
  udpPort: number;
  /** How many sessions may run at once (the range holds one port per session and address). */
  maxSessions: number;
}

/** The part of werift's peer configuration that decides addresses and ports. */
export interface IcePeerConfig {
  iceServers: [];
  iceUseIpv4: false;
  iceUseIpv6: false;
  iceUseTcp: false;
  iceAdditionalHostAddresses: string[];
  iceInterfaceAddresses: { udp4?: string; udp6?: string } | undefined;
  icePortRange: [number, number] | undefined;
  iceFilterCandidatePair: (pair: { remoteCandidate: { host: string } }) => boolean;
}

type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

/** This machine's addresses a client can reach: not loopback, not link-local, not a container bridge. */
export function hostAddresses(interfaces: Interfaces = networkInterfaces()): string[] {
  const out: string[] = [];
  for (const [name, infos] of Object.entries(interfaces)) {
    if (BRIDGE_INTERFACE.test(name)) continue;
    for (const info of infos ?? []) {
      if (info.internal) continue;
      if (info.family === 'IPv4' ? info.address.startsWith('169.254.') : info.address.toLowerCase().startsWith('fe80:')) continue;
      out.push(info.address);
    }
  }
  return out;
}

/** Subnets of this machine's container bridges (Docker's 172.17.0.0/16, …): the gateway never sends there. */
export function bridgeSubnets(interfaces: Interfaces = networkInterfaces()): [ipaddr.IPv4 | ipaddr.IPv6, number][] {
  const out: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];
  for (const [name, infos] of Object.entries(interfaces)) {
    if (!BRIDGE_INTERFACE.test(name)) continue;
    for (const info of infos ?? []) {
      try {
        out.push(ipaddr.parseCIDR(info.cidr ?? `${info.address}/32`));
      } catch {
        // An address Node cannot describe as a CIDR is not a subnet we can avoid.
      }
    }
  }
  return out;
}

/**
 * werift's ICE options for the gateway. No STUN or TURN server (nothing leaves the machine to
 * learn an address; announce a NAT's public address instead). werift gathers on the machine's
 * interfaces itself, loopback excluded and Docker's bridges included; the gateway turns that off
 * and lists the addresses itself. When only loopback is announced, the sockets bind to it too.
 *
 * Ports: werift opens one UDP socket per session and address and has no way to share one socket
 * between peer connections (github.com/shinyoshiaki/werift-webrtc/issues/650), so a configured port
 * is the first of a range sized for `maxSessions`.
 */
export function icePeerConfig(settings: IceSettings, interfaces: Interfaces = networkInterfaces()): IcePeerConfig {
  const addresses = settings.announceAddresses.length > 0 ? [...settings.announceAddresses] : hostAddresses(interfaces);
  if (addresses.length === 0) addresses.push('127.0.0.1');
  const loopbackOnly = addresses.every((a) => isIP(a) === 4 && a.startsWith('127.'));
  const bridges = bridgeSubnets(interfaces);
  const span = Math.max(2, settings.maxSessions * addresses.length);
  return {
    iceServers: [],
    iceUseIpv4: false,
    iceUseIpv6: false,
    iceUseTcp: false,
    iceAdditionalHostAddresses: addresses,
    iceInterfaceAddresses: loopbackOnly ? { udp4: addresses[0]! } : undefined,
    icePortRange: settings.udpPort > 0 ? [settings.udpPort, Math.min(65535, settings.udpPort + span - 1)] : undefined,
    iceFilterCandidatePair: (pair) => !inSubnets(pair.remoteCandidate.host, bridges),
  };
}

function inSubnets(host: string, subnets: [ipaddr.IPv4 | ipaddr.IPv6, number][]): boolean {
  if (subnets.length === 0 || !ipaddr.isValid(host)) return false;
  const addr = ipaddr.process(host);
  return subnets.some(([net, bits]) => addr.kind() === net.kind() && addr.match([net, bits] as never));
}
