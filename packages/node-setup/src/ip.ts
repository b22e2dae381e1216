/** Small, dependency-free IPv4/IPv6 address and CIDR arithmetic for option validation. */
import { isIPv4, isIPv6 } from 'node:net';

export interface ParsedAddress {
  readonly family: 4 | 6;
  /** The address as an unsigned integer (32 or 128 bits). */
  readonly value: bigint;
}

export interface ParsedCidr {
  readonly family: 4 | 6;
  readonly prefix: number;
  /** The first address of the block. */
  readonly network: bigint;
  /** The last address of the block (the IPv4 broadcast address). */
  readonly last: bigint;
  /** True when the text had host bits set (e.g. 172.38.0.1/16). */
  readonly hostBitsSet: boolean;
}

export function parseAddress(text: string): ParsedAddress | undefined {
  if (isIPv4(text)) {
    let value = 0n;
    for (const part of text.split('.')) value = (value << 8n) | BigInt(Number(part));
    return { family: 4, value };
  }
  if (isIPv6(text)) {
    let head = text;
    let tailV4: bigint | undefined;
    const lastColon = text.lastIndexOf(':');
    const maybeV4 = text.slice(lastColon + 1);
    if (isIPv4(maybeV4)) {
      const v4 = parseAddress(maybeV4);
      if (v4 === undefined) return undefined;
      tailV4 = v4.value;
      head = text.slice(0, lastColon + 1) + '0:0';
    }
    const [left = '', right] = head.split('::');
    const leftGroups = left === '' ? [] : left.split(':');
    const rightGroups = right === undefined || right === '' ? [] : right.split(':');
    const missing = 8 - leftGroups.length - rightGroups.length;
    const groups = [
      ...leftGroups,
      ...Array<string>(right === undefined ? 0 : missing).fill('0'),
      ...rightGroups,
    ];
    if (groups.length !== 8) return undefined;
    let value = 0n;
    for (const group of groups) value = (value << 16n) | BigInt(parseInt(group, 16));
    if (tailV4 !== undefined) value = (value & ~0xffffffffn) | tailV4;
    return { family: 6, value };
  }
  return undefined;
}

export function parseCidr(text: string): ParsedCidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = parseAddress(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (address === undefined || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  const bits = address.family === 4 ? 32 : 128;
  if (prefix > bits) return undefined;
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  const network = address.value & ~hostMask & ((1n << BigInt(bits)) - 1n);
  return {
    family: address.family,
    prefix,
    network,
    last: network | hostMask,
    hostBitsSet: (address.value & hostMask) !== 0n,
  };
}

export function formatAddress(family: 4 | 6, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  }
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((value >> shift) & 0xffffn).toString(16));
  return groups.join(':');
}

export function isLoopback(address: ParsedAddress): boolean {
  return address.family === 4 ? address.value >> 24n === 127n : address.value === 1n;
}

export function cidrContains(cidr: ParsedCidr, address: ParsedAddress): boolean {
  return cidr.family === address.family && address.value >= cidr.network && address.value <= cidr.last;
}
