import ipaddr from 'ipaddr.js';
import type { AddressType } from './model.js';
import type { SkipReason } from './skip.js';

export type AddressResult =
  | { readonly ok: true; readonly type: AddressType; readonly address: string }
  | { readonly ok: false; readonly reason: SkipReason; readonly detail: string };

export interface AddressOptions {
  /** Keep link-local, loopback, unspecified, multicast and broadcast addresses (default false). */
  readonly allowNonRoutable?: boolean;
}

const NON_ROUTABLE_V4 = new Set(['unspecified', 'broadcast', 'multicast', 'linkLocal', 'loopback']);
const NON_ROUTABLE_V6 = new Set(['unspecified', 'linkLocal', 'multicast', 'loopback']);
const MAX_ADDRESS_INPUT = 64;

function rangeName(range: string): string {
  return range.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/**
 * Decides whether an input string is an address that belongs in a zone, and in which canonical form.
 * IPv4 must be four decimal parts (no octal, hex or short forms); IPv6 is written in RFC 5952 form; an
 * IPv4-mapped IPv6 address becomes the IPv4 address it maps. Zone indexes (`%eth0`) and prefixes are rejected.
 */
export function toAddress(input: string, options: AddressOptions = {}): AddressResult {
  if (input.length === 0 || input.length > MAX_ADDRESS_INPUT) {
    return {
      ok: false,
      reason: 'invalid-address',
      detail: `${JSON.stringify(input.slice(0, MAX_ADDRESS_INPUT))} is not an IP address`,
    };
  }
  // ipaddr's IPv4 check throws (and catches) internally on IPv6 input, which costs ~20x a parse.
  if (!input.includes(':') && ipaddr.IPv4.isValidFourPartDecimal(input)) {
    return classifyV4(ipaddr.IPv4.parse(input), options);
  }
  if (!input.includes('%') && ipaddr.IPv6.isValid(input)) {
    const v6 = ipaddr.IPv6.parse(input);
    if (v6.isIPv4MappedAddress()) return classifyV4(v6.toIPv4Address(), options);
    const range = v6.range();
    if (!options.allowNonRoutable && NON_ROUTABLE_V6.has(range)) {
      return {
        ok: false,
        reason: 'non-routable-address',
        detail: `${input} is a ${rangeName(range)} address`,
      };
    }
    return { ok: true, type: 'AAAA', address: v6.toRFC5952String() };
  }
  return { ok: false, reason: 'invalid-address', detail: `${JSON.stringify(input)} is not an IP address` };
}

function classifyV4(v4: ipaddr.IPv4, options: AddressOptions): AddressResult {
  const range = v4.range();
  const address = v4.toString();
  if (!options.allowNonRoutable && NON_ROUTABLE_V4.has(range)) {
    return {
      ok: false,
      reason: 'non-routable-address',
      detail: `${address} is a ${rangeName(range)} address`,
    };
  }
  return { ok: true, type: 'A', address };
}

const CANONICAL_V4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const CANONICAL_V6 = /^[0-9a-f:.]{2,45}$/;

/**
 * Where the `::` of a plain IPv6 address is: lowercase hex groups of 1-4 digits separated by `:`, either 8
 * groups (returns -1) or at most 7 with one interior `::` (returns the index of the empty group). Undefined for
 * anything else (embedded IPv4, `::` at an edge, upper case, ...), which then takes ipaddr's slower path.
 * Every address this accepts is one ipaddr.js accepts, so it only speeds up the common case.
 */
function plainV6Gap(address: string): number | undefined {
  const length = address.length;
  if (length < 4 || length > 39) return undefined;
  let groups = 0;
  let gap = -1;
  let digits = 0;
  for (let index = 0; index <= length; index += 1) {
    const code = index < length ? address.charCodeAt(index) : 0x3a;
    if (code === 0x3a) {
      if (digits === 0) {
        if (gap >= 0 || index === 0 || index === length) return undefined;
        gap = groups;
      }
      groups += 1;
      digits = 0;
    } else if ((code >= 0x30 && code <= 0x39) || (code >= 0x61 && code <= 0x66)) {
      digits += 1;
      if (digits > 4) return undefined;
    } else {
      return undefined;
    }
  }
  if (gap === 0 || (gap < 0 ? groups !== 8 : groups > 8)) return undefined;
  return gap;
}

/** Cheap check that an address is already in the canonical form {@link toAddress} produces. */
export function isCanonicalAddress(type: AddressType, address: string): boolean {
  if (type === 'A') return CANONICAL_V4.test(address);
  if (plainV6Gap(address) !== undefined) return true;
  return CANONICAL_V6.test(address) && ipaddr.IPv6.isValid(address) && !address.includes('%');
}

const HEX_CODES = Array.from('0123456789abcdef', (digit) => digit.charCodeAt(0));
/** Scratch space of plainV6Key: the 8 groups' values, and the key's character codes (colons stay). */
const v6Groups = new Uint16Array(8);
const v6KeyCodes = Array.from('0000:0000:0000:0000:0000:0000:0000:0000', (character) =>
  character.charCodeAt(0),
);

/**
 * The sort key of an address plainV6Gap accepted (`gap` is what it returned): its groups parsed in one pass,
 * the groups after the `::` moved to the end, and every group written as 4 hex digits, as one string built
 * from character codes (no split, padding or join: this runs for every IPv6 record of every zone).
 */
function plainV6Key(address: string, gap: number): string {
  let count = 0;
  let value = 0;
  for (let index = 0; index <= address.length; index += 1) {
    const code = index < address.length ? address.charCodeAt(index) : 0x3a;
    if (code !== 0x3a) {
      value = value * 16 + (code <= 0x39 ? code - 0x30 : code - 0x57);
      continue;
    }
    // An empty group is the gap's (plainV6Gap allows one, inside); it takes no place here.
    if (index > 0 && address.charCodeAt(index - 1) !== 0x3a) v6Groups[count++] = value;
    value = 0;
  }
  if (gap >= 0) {
    const shift = 8 - count;
    for (let group = count - 1; group >= gap; group -= 1) v6Groups[group + shift] = v6Groups[group] as number;
    v6Groups.fill(0, gap, gap + shift);
  }
  for (let group = 0; group < 8; group += 1) {
    const groupValue = v6Groups[group] as number;
    const at = group * 5;
    v6KeyCodes[at] = HEX_CODES[groupValue >> 12] as number;
    v6KeyCodes[at + 1] = HEX_CODES[(groupValue >> 8) & 15] as number;
    v6KeyCodes[at + 2] = HEX_CODES[(groupValue >> 4) & 15] as number;
    v6KeyCodes[at + 3] = HEX_CODES[groupValue & 15] as number;
  }
  return String.fromCharCode(...v6KeyCodes);
}

/** A key that sorts addresses of one type numerically as plain strings (for deterministic output). */
export function addressSortKey(type: AddressType, address: string): string {
  if (type === 'A') {
    let value = 0;
    let octet = 0;
    for (let index = 0; index < address.length; index += 1) {
      const code = address.charCodeAt(index);
      if (code === 0x2e) {
        value = value * 256 + octet;
        octet = 0;
      } else {
        octet = octet * 10 + code - 0x30;
      }
    }
    return (value * 256 + octet).toString(16).padStart(8, '0');
  }
  const gap = plainV6Gap(address);
  if (gap !== undefined) return plainV6Key(address, gap);
  return ipaddr.IPv6.parse(address)
    .toNormalizedString()
    .split(':')
    .map((part) => part.padStart(4, '0'))
    .join(':');
}
