// A binary prefix trie over IP bits: lookups cost one step per address bit, whatever the number of CIDRs.
import type { ParsedCidr, ParsedIp } from './ip.js';

interface Node<T> {
  zero: Node<T> | undefined;
  one: Node<T> | undefined;
  values: T[] | undefined;
}

const newNode = <T>(): Node<T> => ({ zero: undefined, one: undefined, values: undefined });

export class PrefixTrie<T> {
  private readonly v4: Node<T> = newNode();
  private readonly v6: Node<T> = newNode();
  private count = 0;

  get size(): number {
    return this.count;
  }

  insert(cidr: ParsedCidr, value: T): void {
    let node = cidr.kind === 'ipv4' ? this.v4 : this.v6;
    for (let i = 0; i < cidr.bits; i++) {
      const bit = (cidr.bytes[i >> 3]! >> (7 - (i & 7))) & 1;
      node = bit ? (node.one ??= newNode()) : (node.zero ??= newNode());
    }
    (node.values ??= []).push(value);
    this.count++;
  }

  /** Calls `visit` with every value whose prefix contains `ip`, shortest prefix first. */
  visit(ip: ParsedIp, visit: (value: T) => void): void {
    let node: Node<T> | undefined = ip.kind === 'ipv4' ? this.v4 : this.v6;
    const bits = ip.bytes.length * 8;
    for (let i = 0; node; i++) {
      if (node.values) for (const v of node.values) visit(v);
      if (i === bits) break;
      node = (ip.bytes[i >> 3]! >> (7 - (i & 7))) & 1 ? node.one : node.zero;
    }
  }

  /** True when any inserted prefix contains `ip`. */
  contains(ip: ParsedIp): boolean {
    let found = false;
    this.visit(ip, () => {
      found = true;
    });
    return found;
  }
}
