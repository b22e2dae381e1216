/**
 * IPv4/IPv6 address and CIDR values for option validation. Parsing is ipaddr.js's (as in the zone package);
 * this module only turns its bytes into integers for range arithmetic.
 */
import ipaddr from 'ipaddr.js';

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

function toValue(bytes: readonly number[]): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

/** A dotted-quad IPv4 address or an IPv6 address (no zone index); undefined for anything else. */
export function parseAddress(text: string): ParsedAddress | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    return { family: 4, value: toValue(ipaddr.IPv4.parse(text).toByteArray()) };
  }
  if (ipaddr.IPv6.isValid(text) && !text.includes('%')) {
    return { family: 6, value: toValue(ipaddr.IPv6.parse(text).toByteArray()) };
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

/** The text form of an address value (IPv6 in RFC 5952 form). */
export function formatAddress(family: 4 | 6, value: bigint): string {
  const bytes: number[] = [];
  for (let shift = BigInt(family === 4 ? 24 : 120); shift >= 0n; shift -= 8n) {
    bytes.push(Number((value >> shift) & 0xffn));
  }
  return ipaddr.fromByteArray(bytes).toString();
}

export function isLoopback(address: ParsedAddress): boolean {
  return address.family === 4 ? address.value >> 24n === 127n : address.value === 1n;
}

export function cidrContains(cidr: ParsedCidr, address: ParsedAddress): boolean {
  return cidr.family === address.family && address.value >= cidr.network && address.value <= cidr.last;
}
