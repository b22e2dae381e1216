import { isCanonicalAddress } from './addresses.js';
import { InvalidZoneError } from './errors.js';
import type { AddressRecord, Zone, ZoneConfig } from './model.js';
import { absoluteNameLength, isValidRelativeName, MAX_NAME_LENGTH } from './names.js';
import { renderBody, sortUnique } from './zone-text.js';

/**
 * Zone text in two parts so the reconciler can tell "only the serial changed" without rendering twice:
 * `head` ends right before the serial, `tail` is everything after it.
 */
export interface RenderedZone {
  readonly head: string;
  readonly tail: string;
}

function checkRecord(record: AddressRecord, origin: string): void {
  if (!isValidRelativeName(record.name) || absoluteNameLength(record.name, origin) > MAX_NAME_LENGTH) {
    throw new InvalidZoneError(`refusing to render invalid owner name ${JSON.stringify(record.name)}`);
  }
  if ((record.type !== 'A' && record.type !== 'AAAA') || !isCanonicalAddress(record.type, record.address)) {
    throw new InvalidZoneError(
      `refusing to render ${JSON.stringify(record.type)} record ${record.name} with address ${JSON.stringify(record.address)}`,
    );
  }
}

/** Sorts and de-duplicates address records deterministically (name, then A before AAAA, then address). */
export function sortRecords(records: readonly AddressRecord[]): AddressRecord[] {
  return sortUnique(records);
}

/**
 * Renders the zone in two parts. Every owner name and address is checked again here, so nothing but
 * validated labels and canonical addresses can reach the file; a bad record throws {@link InvalidZoneError}
 * (callers filter records first, see assembleRecords). `prevalidated` skips that check for records that just
 * came out of assembleRecords (the reconciler, which validates the final text line by line anyway).
 */
export function renderZoneParts(
  config: ZoneConfig,
  records: readonly AddressRecord[],
  options: { readonly prevalidated?: boolean } = {},
): RenderedZone {
  const origin = config.origin;
  const check =
    options.prevalidated === true
      ? undefined
      : (record: AddressRecord) => {
          checkRecord(record, origin);
        };
  const body = renderBody(config, sortUnique(records), check);
  return { head: body.head, tail: body.chunks.join('') };
}

export function joinRendered(parts: RenderedZone, serial: number): string {
  return `${parts.head}${serial}${parts.tail}`;
}

/** Renders a whole zone: the same zone always gives the same bytes. */
export function renderZone(zone: Zone): string {
  return joinRendered(renderZoneParts(zone.config, zone.records), zone.serial);
}

/** Replaces the serial in text this renderer wrote; undefined when the text is not ours. */
export function splitRenderedSerial(text: string): RenderedZone | undefined {
  const match = /^@\tIN\tSOA\t\S+ \S+ (\d{1,10}) /m.exec(text);
  if (match?.[1] === undefined) return undefined;
  const serialStart = match.index + match[0].length - match[1].length - 1;
  return { head: text.slice(0, serialStart), tail: text.slice(serialStart + match[1].length) };
}

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const RECORD_LINE = new RegExp(
  `(?:${LABEL}(?:\\.${LABEL})*)\tIN\t(?:A\t(?:(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)|AAAA\t[0-9a-f:.]{2,45})\n`,
  'y',
);

/**
 * Checks text this renderer produced before it is renamed into place, independently of how it was built:
 * the header is the expected one, the SOA serial is 1-4294967295, and every other line is exactly one
 * `<valid name> IN A|AAAA <address>` record, so a bug can never put a stray character or record in a zone.
 * `expectedLines` is the number of line ends in the tail (the end of the SOA line, NS, glue and records).
 * Throws {@link InvalidZoneError} naming the first bad line.
 */
export function validateRenderedZone(text: string, origin: string, expectedLines: number): void {
  const fail = (line: number, message: string): never => {
    throw new InvalidZoneError(`zone ${origin} failed validation at line ${line}: ${message}`);
  };
  const parts = splitRenderedSerial(text);
  if (parts === undefined) fail(4, 'no SOA line in the expected form');
  const serial = Number(text.slice(parts?.head.length ?? 0, text.length - (parts?.tail.length ?? 0)));
  if (!Number.isInteger(serial) || serial < 1 || serial > 0xffffffff)
    fail(4, `SOA serial ${serial} is not 1-4294967295`);
  const headerLines = text.slice(0, text.indexOf('\n', parts?.head.length ?? 0) + 1).split('\n').length - 1;
  if (
    headerLines !== 4 ||
    !text.startsWith(`; zone ${origin}:`) ||
    !text.includes(`\n$ORIGIN ${origin}.\n`)
  ) {
    fail(1, 'header is not the one zonewright writes');
  }
  // NS line, then glue and records: all checked with one sticky regexp per record line.
  let position = text.indexOf('\n', parts?.head.length ?? 0) + 1;
  const nsLine = `@\tIN\tNS\t`;
  if (!text.startsWith(nsLine, position)) fail(5, 'NS record expected');
  position = text.indexOf('\n', position) + 1;
  let line = 6;
  while (position < text.length) {
    RECORD_LINE.lastIndex = position;
    if (!RECORD_LINE.test(text)) {
      fail(
        line,
        `not a valid address record: ${JSON.stringify(text.slice(position, text.indexOf('\n', position)).slice(0, 80))}`,
      );
    }
    position = RECORD_LINE.lastIndex;
    line += 1;
  }
  if (line - 4 !== expectedLines)
    fail(line, `expected ${expectedLines - 1} lines after the SOA, found ${line - 5}`);
}
