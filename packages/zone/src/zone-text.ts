// Internal building blocks of render.ts and the reconciler (not exported from the package): the sort keys,
// the zone text built in chunks, and the diff of two sorted record lists. They avoid per-record arrays and
// long-lived per-record strings, because at 100k VMIs every flush goes over ~500k records.
import { addressSortKey } from './addresses.js';
import type { AddressRecord, ZoneConfig } from './model.js';

/** Records added and removed between two zone versions (the +n −m of the write log line and metrics). */
export interface RecordDiff {
  readonly added: number;
  readonly removed: number;
}

const LABEL_SEPARATOR = '\u0001';

/**
 * Appends the parts of a record's sort identity to `parts`: its owner name's labels from the right joined by
 * \u0001 (canonical order, RFC 4034 §6.1, for our label alphabet), \u0000 and 4 or 6 for A before AAAA, and
 * the address as a key that sorts numerically as a string.
 */
function pushIdentity(parts: string[], record: AddressRecord): void {
  const { name } = record;
  let end = name.length;
  for (let dot = name.lastIndexOf('.'); dot >= 0; dot = name.lastIndexOf('.', dot - 1)) {
    parts.push(name.slice(dot + 1, end), LABEL_SEPARATOR);
    end = dot;
    if (dot === 0) break;
  }
  parts.push(name.slice(0, end), record.type === 'A' ? '\u00004' : '\u00006');
  parts.push(addressSortKey(record.type, record.address));
}

/** The string a record sorts by (two records with the same identity are one line in the zone). */
export function sortIdentity(record: AddressRecord): string {
  const parts: string[] = [];
  pushIdentity(parts, record);
  return parts.join('');
}

function digitsEnd(key: string): number {
  let index = key.length;
  while (index > 0) {
    const code = key.charCodeAt(index - 1);
    if (code < 0x30 || code > 0x39) break;
    index -= 1;
  }
  return index;
}

function samePrefix(left: string, right: string, length: number): boolean {
  for (let index = length - 1; index >= 0; index -= 1) {
    if (left.charCodeAt(index) !== right.charCodeAt(index)) return false;
  }
  return true;
}

/**
 * Sorts and de-duplicates records by {@link sortIdentity}; among records of one identity the one whose index
 * sorts first as a decimal string is kept. Keys are `identity \u0000 index`, sorted by the engine's default
 * comparison (several times faster than a comparator), each built with one join (flat strings compare fast).
 */
export function sortUnique(records: readonly AddressRecord[]): AddressRecord[] {
  const keys = new Array<string>(records.length);
  const parts: string[] = [];
  for (let index = 0; index < records.length; index += 1) {
    parts.length = 0;
    pushIdentity(parts, records[index] as AddressRecord);
    parts.push('\u0000', String(index));
    keys[index] = parts.join('');
  }
  keys.sort();
  const sorted: AddressRecord[] = [];
  let previous = '';
  let previousCut = -1;
  for (let position = 0; position < keys.length; position += 1) {
    const key = keys[position] as string;
    const digits = digitsEnd(key);
    const cut = digits - 1; // the \u0000 before the index
    if (cut === previousCut && samePrefix(key, previous, cut)) continue;
    previous = key;
    previousCut = cut;
    const record = records[Number(key.slice(digits))];
    if (record !== undefined) sorted.push(record);
  }
  return sorted;
}

function absolute(name: string, origin: string): string {
  return `${name}.${origin}.`;
}

export interface ZoneBody {
  /** Text up to the SOA serial. */
  readonly head: string;
  /** Text after the serial, in pieces of a few hundred kilobytes. */
  readonly chunks: string[];
}

const CHUNK_LINES = 4096;

/** The fixed part of every zone: the text up to the SOA serial, and the lines after it before the records. */
export interface ZoneFrame {
  /** Comment, $ORIGIN, $TTL and the SOA line up to its serial. */
  readonly head: string;
  /** The rest of the SOA line, the NS line and the glue lines, each ending in a line end. */
  readonly fixedLines: readonly string[];
}

/** The frame a configuration gives; the renderer writes it and the validator expects exactly it. */
export function zoneFrame(config: ZoneConfig): ZoneFrame {
  const { origin, ttl, soa, nameServer } = config;
  const nameServerFqdn = absolute(nameServer.name, origin);
  const head =
    `; zone ${origin}: written by zonewright, do not edit (the next write replaces this file)\n` +
    `$ORIGIN ${origin}.\n` +
    `$TTL ${ttl}\n` +
    `@\tIN\tSOA\t${nameServerFqdn} ${absolute(config.hostmaster, origin)} `;
  const fixedLines: string[] = [
    ` ${soa.refresh} ${soa.retry} ${soa.expire} ${soa.minimum}\n`,
    `@\tIN\tNS\t${nameServerFqdn}\n`,
  ];
  for (const address of [...nameServer.addresses].sort()) {
    fixedLines.push(`${nameServer.name}\tIN\t${address.includes(':') ? 'AAAA' : 'A'}\t${address}\n`);
  }
  return { head, fixedLines };
}

/**
 * Renders sorted, de-duplicated records. Lines are joined per chunk, so the short-lived line strings die
 * young and only the chunks (then one joined text) are ever held.
 */
export function renderBody(
  config: ZoneConfig,
  sorted: readonly AddressRecord[],
  check?: (record: AddressRecord) => void,
): ZoneBody {
  const frame = zoneFrame(config);
  const lines: string[] = [...frame.fixedLines];
  const chunks: string[] = [];
  for (const record of sorted) {
    if (check !== undefined) check(record);
    lines.push(record.name, '\tIN\t', record.type, '\t', record.address, '\n');
    if (lines.length >= CHUNK_LINES * 6) {
      chunks.push(lines.join(''));
      lines.length = 0;
    }
  }
  if (lines.length > 0 || chunks.length === 0) chunks.push(lines.join(''));
  return { head: frame.head, chunks };
}

/**
 * Counts the records added and removed between two lists sorted by {@link sortUnique} (the same numbers as
 * diffing the sets of their name/type/address keys) in one pass; identities are only built where the lists
 * differ, so nothing but the two arrays is held.
 */
export function diffSorted(previous: readonly AddressRecord[], next: readonly AddressRecord[]): RecordDiff {
  return forEachChange(previous, next);
}

/**
 * The same pass as {@link diffSorted}, calling `visit` for every record of `previous` that is not in `next`
 * (added false) and every record of `next` that is not in `previous` (added true), in sort order (a record
 * spelled differently under the same identity is one of each). Unchanged records cost one comparison of
 * references (the same objects from one flush to the next) or of three strings.
 */
export function forEachChange(
  previous: readonly AddressRecord[],
  next: readonly AddressRecord[],
  visit?: (record: AddressRecord, added: boolean) => void,
): RecordDiff {
  let added = 0;
  let removed = 0;
  let left = 0;
  let right = 0;
  let leftKey: string | undefined;
  let rightKey: string | undefined;
  const remove = (record: AddressRecord): void => {
    removed += 1;
    left += 1;
    leftKey = undefined;
    visit?.(record, false);
  };
  const add = (record: AddressRecord): void => {
    added += 1;
    right += 1;
    rightKey = undefined;
    visit?.(record, true);
  };
  while (left < previous.length && right < next.length) {
    const old = previous[left] as AddressRecord;
    const now = next[right] as AddressRecord;
    if (old === now || (old.name === now.name && old.type === now.type && old.address === now.address)) {
      left += 1;
      right += 1;
      leftKey = undefined;
      rightKey = undefined;
      continue;
    }
    leftKey ??= sortIdentity(old);
    rightKey ??= sortIdentity(now);
    if (leftKey < rightKey) remove(old);
    else if (leftKey > rightKey) add(now);
    else {
      // The same identity spelled differently (only possible for non-canonical input): a different line.
      remove(old);
      add(now);
    }
  }
  while (left < previous.length) remove(previous[left] as AddressRecord);
  while (right < next.length) add(next[right] as AddressRecord);
  return { added, removed };
}
