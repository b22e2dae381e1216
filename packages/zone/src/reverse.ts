// Reverse zones (PTR): configured address ranges, their reverse origins, and the PTR records derived from a
// forward zone's address records. Pure: the reconciler writes the text through the same store and rules as
// the forward zone.
import ipaddr from 'ipaddr.js';
import { addressSortKey } from './addresses.js';
import { InvalidZoneError, ZoneError } from './errors.js';
import type { AddressRecord, AddressType, SoaTimers, ZoneConfig } from './model.js';
import { joinRendered, type RenderedZone } from './render.js';
import { nextSerial, versionSerial } from './serial.js';

/** A `--reverse-zone` value that cannot be used; the message names the value and what is wrong. */
export class InvalidReverseRangeError extends ZoneError {}

/** One configured range, served as one reverse zone. */
export interface ReverseRange {
  /** The range as given, normalized: `10.10.0.0/16`, `fd00:10::/48`. */
  readonly cidr: string;
  readonly type: AddressType;
  readonly prefixLength: number;
  /** `10.10.in-addr.arpa`, `0.1.0.0.0.0.d.f.ip6.arpa` (no trailing dot). */
  readonly origin: string;
}

/** A PTR record: owner relative to the reverse origin, target absolute (with the trailing dot). */
export interface PtrRecord {
  readonly name: string;
  readonly target: string;
  /** Numeric sort key of the address (see addressSortKey). */
  readonly key: string;
}

export interface ReverseZoneContent {
  readonly range: ReverseRange;
  /** One PTR per address, sorted by address. */
  readonly records: readonly PtrRecord[];
}

export interface ReversePlan {
  readonly zones: readonly ReverseZoneContent[];
  /** Distinct addresses of the forward zone that fall in no configured range (not published). */
  readonly outside: number;
}

const MAX_RANGES = 64;

function fail(input: string, why: string): never {
  throw new InvalidReverseRangeError(`reverse zone ${JSON.stringify(input)}: ${why}`);
}

function parseOne(input: string): ReverseRange {
  const slash = input.indexOf('/');
  if (slash < 0) fail(input, 'expected an address range such as 10.10.0.0/16 or fd00:10::/48');
  const addressText = input.slice(0, slash);
  const lengthText = input.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lengthText))
    fail(input, `prefix length ${JSON.stringify(lengthText)} is not a number`);
  const prefixLength = Number(lengthText);
  if (!addressText.includes(':') && ipaddr.IPv4.isValidFourPartDecimal(addressText)) {
    if (prefixLength !== 8 && prefixLength !== 16 && prefixLength !== 24) {
      fail(input, 'IPv4 ranges must end on an octet boundary: /8, /16 or /24');
    }
    const octets = ipaddr.IPv4.parse(addressText).octets;
    const kept = prefixLength / 8;
    if (octets.slice(kept).some((octet) => octet !== 0)) {
      fail(
        input,
        `host bits are set; did you mean ${octets.slice(0, kept).concat([0, 0, 0]).slice(0, 4).join('.')}/${prefixLength}?`,
      );
    }
    const labels = octets.slice(0, kept).reverse().map(String);
    return {
      cidr: `${octets.join('.')}/${prefixLength}`,
      type: 'A',
      prefixLength,
      origin: `${labels.join('.')}.in-addr.arpa`,
    };
  }
  if (!addressText.includes('%') && ipaddr.IPv6.isValid(addressText)) {
    if (prefixLength === 0 || prefixLength > 124 || prefixLength % 4 !== 0) {
      fail(input, 'IPv6 ranges must end on a nibble boundary: a multiple of 4 from /4 to /124');
    }
    const address = ipaddr.IPv6.parse(addressText);
    if (address.isIPv4MappedAddress()) fail(input, 'write IPv4-mapped ranges as IPv4');
    const nibbles = nibblesOf(address);
    const kept = prefixLength / 4;
    if (nibbles.slice(kept).some((nibble) => nibble !== '0')) {
      const network = ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${prefixLength}`);
      fail(input, `host bits are set; did you mean ${network.toRFC5952String()}/${prefixLength}?`);
    }
    return {
      cidr: `${address.toRFC5952String()}/${prefixLength}`,
      type: 'AAAA',
      prefixLength,
      origin: `${nibbles.slice(0, kept).reverse().join('.')}.ip6.arpa`,
    };
  }
  return fail(input, `${JSON.stringify(addressText)} is not an IPv4 or IPv6 address`);
}

function nibblesOf(address: ipaddr.IPv6): string[] {
  const nibbles: string[] = [];
  for (const part of address.parts) {
    const hex = part.toString(16).padStart(4, '0');
    for (const nibble of hex) nibbles.push(nibble);
  }
  return nibbles;
}

/** True when `inner`'s origin is `outer`'s origin or below it (the ranges overlap). */
function within(inner: ReverseRange, outer: ReverseRange): boolean {
  return inner.origin === outer.origin || inner.origin.endsWith(`.${outer.origin}`);
}

/**
 * Parses configured ranges (`10.10.0.0/16,fd00:10::/48`, or several values): IPv4 on octet boundaries
 * (/8, /16, /24), IPv6 on nibble boundaries. Duplicates and overlapping ranges are refused (an address must
 * belong to exactly one reverse zone). Throws {@link InvalidReverseRangeError} naming the bad value.
 */
export function parseReverseRanges(input: string | readonly string[]): ReverseRange[] {
  const values = (typeof input === 'string' ? [input] : input)
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter((value) => value.length > 0);
  if (values.length > MAX_RANGES) {
    throw new InvalidReverseRangeError(
      `${values.length} reverse zones configured; at most ${MAX_RANGES} (CoreDNS matches every query against every zone)`,
    );
  }
  const ranges: ReverseRange[] = [];
  for (const value of values) {
    const range = parseOne(value);
    const other = ranges.find((earlier) => within(range, earlier) || within(earlier, range));
    if (other !== undefined) {
      throw new InvalidReverseRangeError(
        other.cidr === range.cidr
          ? `reverse zone ${range.cidr} is given twice`
          : `reverse zones ${other.cidr} and ${range.cidr} overlap; give only one of them`,
      );
    }
    ranges.push(range);
  }
  return ranges;
}

/** The full reverse name of a canonical address, without the trailing dot (`4.3.10.10.in-addr.arpa`). */
export function reverseName(type: AddressType, address: string): string {
  if (type === 'A') return `${address.split('.').reverse().join('.')}.in-addr.arpa`;
  return reverseNibbles(addressSortKey('AAAA', address));
}

/** The reverse name of any IP address text, or undefined when it is not one (for `inspect --name`). */
export function reverseNameOf(input: string): string | undefined {
  if (!input.includes(':') && ipaddr.IPv4.isValidFourPartDecimal(input)) {
    return reverseName('A', ipaddr.IPv4.parse(input).toString());
  }
  if (!input.includes('%') && ipaddr.IPv6.isValid(input)) {
    const v6 = ipaddr.IPv6.parse(input);
    if (v6.isIPv4MappedAddress()) return reverseName('A', v6.toIPv4Address().toString());
    return reverseName('AAAA', v6.toRFC5952String());
  }
  return undefined;
}

function labelCount(name: string): number {
  let count = 1;
  for (let index = name.indexOf('.'); index >= 0; index = name.indexOf('.', index + 1)) count += 1;
  return count;
}

/** Prefix of the address sort key a range covers (IPv4: hex digits; IPv6: nibbles with the colons). */
function rangeKeyPrefix(range: ReverseRange): string {
  const [address = ''] = range.cidr.split('/');
  const key = addressSortKey(range.type, address);
  if (range.type === 'A') return key.slice(0, range.prefixLength / 4);
  const nibbles = range.prefixLength / 4;
  return key.slice(0, nibbles + Math.floor((nibbles - 1) / 4));
}

/**
 * Whether `candidate` rather than `current` is the name the PTR of their shared address names: the one with
 * more labels (the more specific), and among equally specific names the lower.
 */
export function isPreferredName(candidate: string, current: string): boolean {
  const candidateLabels = labelCount(candidate);
  const currentLabels = labelCount(current);
  if (candidateLabels !== currentLabels) return candidateLabels > currentLabels;
  return candidate < current;
}

/**
 * The PTR records of every configured range, from the forward zone's records (names relative to
 * `forwardOrigin`). One PTR per address: when several names have the address, the most specific one (most
 * labels: `<iface>.<vmi>.<ns>` over `<vmi>.<ns>`, `<host>.<ns>.svc` over `<host>.svc`), and among equally
 * specific names the lowest, so replicas and restarts agree. Addresses in no range are counted, not published.
 */
export function reverseRecords(
  ranges: readonly ReverseRange[],
  forwardOrigin: string,
  records: readonly AddressRecord[],
): ReversePlan {
  const locate = reverseAddressLocator(ranges);
  // Canonical addresses are unique strings: everything is keyed by the address text, and what an address
  // gives (its zone, sort key and reverse owner) is worked out once per address.
  const located = new Map<string, AddressInfo>();
  const chosen = ranges.map(() => new Map<string, { name: string; info: AddressInfo }>());
  let outside = 0;
  for (const record of records) {
    const { address } = record;
    let info = located.get(address);
    if (info === undefined) {
      info = locate(record.type, address);
      located.set(address, info);
      if (info.zone < 0) outside += 1;
    }
    if (info.zone < 0) continue;
    const byAddress = chosen[info.zone] as Map<string, { name: string; info: AddressInfo }>;
    const current = byAddress.get(address);
    if (current === undefined) byAddress.set(address, { name: record.name, info });
    else if (isPreferredName(record.name, current.name)) current.name = record.name;
  }
  const zones = ranges.map((range, index) => {
    const byAddress = chosen[index] as Map<string, { name: string; info: AddressInfo }>;
    const ptrs: PtrRecord[] = [];
    for (const { name, info } of byAddress.values()) {
      ptrs.push({ name: info.owner, target: `${name}.${forwardOrigin}.`, key: info.key });
    }
    ptrs.sort(compareKeys);
    return { range, records: ptrs };
  });
  return { zones, outside };
}

/** Orders PTRs by address (their sort keys). */
function compareKeys(left: { readonly key: string }, right: { readonly key: string }): number {
  return left.key < right.key ? -1 : left.key > right.key ? 1 : 0;
}

/** Where an address goes: its reverse zone (index of its range, -1 outside every range) and its PTR owner. */
export interface AddressInfo {
  /** Index of the range, or -1 outside every range. */
  readonly zone: number;
  /** Numeric sort key of the address (see addressSortKey); empty outside every range. */
  readonly key: string;
  /** Owner name relative to the reverse origin. */
  readonly owner: string;
}

/** Scratch space of the locators: the character codes of an IPv6 owner name (at most 63). */
const ownerCodes: number[] = [];

/** A function that tells, for a canonical address, which of `ranges` holds it and under which owner. */
export function reverseAddressLocator(
  ranges: readonly ReverseRange[],
): (type: AddressType, address: string) => AddressInfo {
  const v4 = ranges.flatMap((range, index) =>
    range.type === 'A'
      ? [
          {
            index,
            prefix: `${range.cidr
              .split('.')
              .slice(0, range.prefixLength / 8)
              .join('.')}.`,
          },
        ]
      : [],
  );
  const v6 = ranges.flatMap((range, index) =>
    range.type === 'AAAA' ? [{ index, prefix: rangeKeyPrefix(range) }] : [],
  );
  const outside: AddressInfo = { zone: -1, key: '', owner: '' };
  return (type, address) => {
    let zone = -1;
    if (type === 'A') {
      for (const entry of v4) if (address.startsWith(entry.prefix)) zone = entry.index;
      const range = ranges[zone];
      if (range === undefined) return outside;
      // The owner is the host octets reversed: `4.3` for 10.10.3.4 in 10.10.in-addr.arpa.
      let owner = '';
      let end = address.length;
      for (let octet = 3; octet >= range.prefixLength / 8; octet -= 1) {
        const dot = address.lastIndexOf('.', end - 1);
        owner = owner === '' ? address.slice(dot + 1, end) : `${owner}.${address.slice(dot + 1, end)}`;
        end = dot;
      }
      return { zone, key: addressSortKey('A', address), owner };
    }
    if (v6.length === 0) return outside;
    const key = addressSortKey('AAAA', address);
    for (const entry of v6) if (key.startsWith(entry.prefix)) zone = entry.index;
    const range = ranges[zone];
    if (range === undefined) return outside;
    // The owner is the host nibbles reversed, one label each; the key has 4 nibbles per group and a colon
    // between groups, so the range's nibbles end at key index nibbles + nibbles / 4.
    const kept = range.prefixLength / 4;
    ownerCodes.length = 0;
    for (let index = key.length - 1; index >= kept + Math.floor(kept / 4); index -= 1) {
      const code = key.charCodeAt(index);
      if (code === 0x3a) continue;
      if (ownerCodes.length > 0) ownerCodes.push(0x2e);
      ownerCodes.push(code);
    }
    return { zone, key, owner: String.fromCharCode(...ownerCodes) };
  };
}

/** `x.x.….ip6.arpa` from an expanded IPv6 sort key (`fd00:0010:…`). */
function reverseNibbles(key: string): string {
  let name = '';
  for (let index = key.length - 1; index >= 0; index -= 1) {
    const character = key[index] as string;
    if (character !== ':') name += `${character}.`;
  }
  return `${name}ip6.arpa`;
}

/** What a reverse zone's SOA and NS say: the forward zone's name server and hostmaster, its TTL and timers. */
export interface ReverseZoneConfig {
  readonly origin: string;
  readonly ttl: number;
  readonly nameServer: string;
  readonly hostmaster: string;
  readonly soa: SoaTimers;
  readonly cidr: string;
}

export function reverseZoneConfig(range: ReverseRange, forward: ZoneConfig): ReverseZoneConfig {
  return Object.freeze({
    origin: range.origin,
    ttl: forward.ttl,
    nameServer: `${forward.nameServer.name}.${forward.origin}.`,
    hostmaster: `${forward.hostmaster}.${forward.origin}.`,
    soa: forward.soa,
    cidr: range.cidr,
  });
}

/**
 * The zone file line of one PTR (owner relative to the reverse origin, absolute target) as one flat string:
 * joined, not concatenated, because a concatenation is a rope (the target is one too) that every later join
 * of the zone's lines would walk again.
 */
export function ptrLine(owner: string, target: string): string {
  return [owner, '\tIN\tPTR\t', target, '\n'].join('');
}

/**
 * Renders a reverse zone in the same two parts as the forward renderer (`head` up to the serial), with the
 * same four header lines, so recoverSerial and splitRenderedSerial read it too.
 */
export function renderReverseZoneParts(
  config: ReverseZoneConfig,
  records: readonly PtrRecord[],
): RenderedZone {
  const lines: string[] = [];
  for (const record of records) lines.push(ptrLine(record.name, record.target));
  return reverseZoneParts(config, lines.join(''));
}

/** The two parts of a reverse zone around its serial, from its PTR lines (each ending in a line end). */
export function reverseZoneParts(config: ReverseZoneConfig, ptrLines: string): RenderedZone {
  const { origin, ttl, soa } = config;
  const head =
    `; zone ${origin}: reverse of ${config.cidr}, written by zonewright, do not edit (the next write replaces this file)\n` +
    `$ORIGIN ${origin}.\n` +
    `$TTL ${ttl}\n` +
    `@\tIN\tSOA\t${config.nameServer} ${config.hostmaster} `;
  const tail =
    ` ${soa.refresh} ${soa.retry} ${soa.expire} ${soa.minimum}\n` +
    `@\tIN\tNS\t${config.nameServer}\n` +
    ptrLines;
  return { head, tail };
}

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const V4_LABEL = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const V6_LABEL = '[0-9a-f]';
const MAX_LINE = 512;

/** The PTR line of a reverse zone whose owners have `labels` labels, matched where lastIndex says. */
function ptrLinePattern(isV4: boolean, labels: number): RegExp {
  const label = isV4 ? V4_LABEL : V6_LABEL;
  const owner = labels > 1 ? `${label}(?:\\.${label}){${labels - 1}}` : label;
  return new RegExp(`${owner}\\tIN\\tPTR\\t(?:${LABEL}\\.)+\\n`, 'y');
}

/**
 * Checks reverse-zone text before it is renamed into place, independently of how the text was built: the
 * header, a serial of 1-4294967295, the NS line, and then only `<owner> IN PTR <absolute name>.` lines of at
 * most 512 characters whose owner has exactly the labels an address in this zone has (octets 0-255, or
 * nibbles), `expectedRecords` of them, and a line end at the end. One sticky match per line over the whole
 * text (no split into lines). Throws {@link InvalidZoneError} naming the first bad line.
 */
export function validateReverseZone(text: string, config: ReverseZoneConfig, expectedRecords: number): void {
  const { origin } = config;
  const failAt = (line: number, message: string): never => {
    throw new InvalidZoneError(`zone ${origin} failed validation at line ${line}: ${message}`);
  };
  let position = 0;
  const nextLine = (): string | undefined => {
    const end = text.indexOf('\n', position);
    if (end < 0) return undefined;
    const line = text.slice(position, end);
    position = end + 1;
    return line;
  };
  const header = [nextLine(), nextLine(), nextLine()];
  if (
    !(header[0] ?? '').startsWith(`; zone ${origin}:`) ||
    header[1] !== `$ORIGIN ${origin}.` ||
    !/^\$TTL \d{1,10}$/.test(header[2] ?? '')
  ) {
    failAt(1, 'header is not the one zonewright writes');
  }
  const soa = new RegExp(
    `^@\\tIN\\tSOA\\t(?:${LABEL}\\.)+ (?:${LABEL}\\.)+ (\\d{1,10}) \\d{1,10} \\d{1,10} \\d{1,10} \\d{1,10}$`,
  ).exec(nextLine() ?? '');
  const serial = Number(soa?.[1]);
  if (soa === null || !Number.isInteger(serial) || serial < 1 || serial > 0xffffffff) {
    failAt(4, 'SOA line is not in the expected form with a serial of 1-4294967295');
  }
  if (nextLine() !== `@\tIN\tNS\t${config.nameServer}`) failAt(5, 'NS record expected');
  const isV4 = origin.endsWith('.in-addr.arpa');
  const record = ptrLinePattern(isV4, (isV4 ? 4 : 32) - (labelCount(origin) - 2));
  let line = 6;
  while (position < text.length) {
    record.lastIndex = position;
    if (!record.test(text) || record.lastIndex - position - 1 > MAX_LINE) {
      const end = text.indexOf('\n', position);
      if (end < 0) failAt(line, 'the zone does not end with a line end');
      failAt(line, `not a valid PTR record: ${JSON.stringify(text.slice(position, end).slice(0, 80))}`);
    }
    position = record.lastIndex;
    line += 1;
  }
  if (line - 6 !== expectedRecords) {
    failAt(line, `expected ${expectedRecords} PTR records, found ${line - 6}`);
  }
}

/** What is known about a reverse zone now: its serial and text (last written, or found on disk at start). */
export interface PreviousReverseZone {
  readonly serial?: number | undefined;
  readonly rendered?: RenderedZone | undefined;
}

export type ReverseZonePlan =
  | { readonly status: 'unchanged'; readonly rendered: RenderedZone }
  | {
      readonly status: 'write';
      readonly rendered: RenderedZone;
      readonly text: string;
      readonly serial: number;
      readonly added: number;
      readonly removed: number;
    }
  | { readonly status: 'refused'; readonly rendered: RenderedZone; readonly error: ZoneError };

export interface ReversePlanOptions {
  readonly nowMs: number;
  readonly validate?: boolean | undefined;
  readonly serial?: number;
  /** As in planZone: derive the serial from the source version instead of the clock. */
  readonly sourceVersion?: bigint | undefined;
}

/**
 * The pure plan of one reverse zone already rendered (see {@link reverseZoneParts}) with `count` PTRs, like
 * planZone for the forward zone: "unchanged" when the text would differ only by its serial (or the zone on disk
 * already has it), else the validated text and the serial the serial rule gives (`serial` overrides the rule).
 * `changes` gives the +added/−removed counts when the zone is written.
 */
export function planRenderedReverseZone(
  config: ReverseZoneConfig,
  rendered: RenderedZone,
  count: number,
  previous: PreviousReverseZone,
  options: ReversePlanOptions,
  changes: () => { readonly added: number; readonly removed: number },
): ReverseZonePlan {
  const known = previous.rendered;
  if (known?.head === rendered.head && known.tail === rendered.tail && options.serial === undefined) {
    return { status: 'unchanged', rendered };
  }
  try {
    const serial =
      options.serial ??
      (options.sourceVersion === undefined
        ? nextSerial(previous.serial, options.nowMs)
        : versionSerial(previous.serial, options.sourceVersion).serial);
    const text = joinRendered(rendered, serial);
    if (options.validate ?? true) validateReverseZone(text, config, count);
    const { added, removed } = changes();
    return { status: 'write', rendered, text, serial, added, removed };
  } catch (error) {
    if (error instanceof ZoneError) return { status: 'refused', rendered, error };
    throw error;
  }
}
