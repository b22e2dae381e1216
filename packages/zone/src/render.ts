import { isCanonicalAddress } from './addresses.js';
import { InvalidZoneError } from './errors.js';
import type { AddressRecord, Zone, ZoneConfig } from './model.js';
import { absoluteNameLength, isValidRelativeName, MAX_NAME_LENGTH } from './names.js';
import { parseZone } from './parse.js';
import { renderBody, sortUnique, zoneFrame } from './zone-text.js';

/**
 * Zone text in two parts so "only the serial changed" is told without rendering twice: `head` ends right
 * before the serial, `tail` is everything after it.
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

/**
 * Renders the zone in two parts, records sorted and de-duplicated. Every owner name and address is checked
 * again here, so nothing but validated labels and canonical addresses can reach the file; a bad record throws
 * {@link InvalidZoneError} (callers filter records first, see assembleRecords, or go through planZone).
 */
export function renderZoneParts(config: ZoneConfig, records: readonly AddressRecord[]): RenderedZone {
  const origin = config.origin;
  const body = renderBody(config, sortUnique(records), (record) => {
    checkRecord(record, origin);
  });
  return { head: body.head, tail: body.chunks.join('') };
}

export function joinRendered(parts: RenderedZone, serial: number): string {
  return `${parts.head}${serial}${parts.tail}`;
}

/** Renders a whole zone: the same zone always gives the same bytes. */
export function renderZone(zone: Zone): string {
  return joinRendered(renderZoneParts(zone.config, zone.records), zone.serial);
}

/** Splits text this renderer wrote at its serial; undefined when the text is not ours. */
export function splitRenderedSerial(text: string): RenderedZone | undefined {
  const match = /^@\tIN\tSOA\t\S+ \S+ (\d{1,10}) /m.exec(text);
  if (match?.[1] === undefined) return undefined;
  const serialStart = match.index + match[0].length - match[1].length - 1;
  return { head: text.slice(0, serialStart), tail: text.slice(serialStart + match[1].length) };
}

/** The serial of a zone on disk: ours by a cheap match, anyone's by a full parse. */
export function recoverSerial(text: string, origin: string): number | undefined {
  const parts = splitRenderedSerial(text);
  if (parts !== undefined) {
    const serial = Number(text.slice(parts.head.length, text.length - parts.tail.length));
    if (Number.isInteger(serial)) return serial;
  }
  const soa = parseZone(text, { origin }).records.find((record) => record.type === 'SOA');
  const serial = Number(soa?.rdata[2]);
  return Number.isInteger(serial) ? serial : undefined;
}

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const RECORD_LINE = new RegExp(
  `(?:${LABEL}(?:\\.${LABEL})*)\tIN\t(?:A\t(?:(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)|AAAA\t[0-9a-f:.]{2,45})\n`,
  'y',
);
const SERIAL = /[1-9]\d{0,9}/y;

function countLineEnds(text: string): number {
  let count = 0;
  for (let index = text.indexOf('\n'); index >= 0; index = text.indexOf('\n', index + 1)) count += 1;
  return count;
}

/**
 * Checks a rendered zone before it is renamed into place, independently of how the text was built: it starts
 * with exactly the frame `config` gives (header, SOA, NS, glue; see zoneFrame), the SOA serial is
 * 1-4294967295, and every other line is exactly one `<valid name> IN A|AAAA <address>` record, `records` of
 * them, so a bug can never put a stray character, a lost line or an extra record in a zone. Throws
 * {@link InvalidZoneError} naming the first bad line.
 */
export function validateRenderedZone(text: string, config: ZoneConfig, records: number): void {
  const { origin } = config;
  const fail = (line: number, message: string): never => {
    throw new InvalidZoneError(`zone ${origin} failed validation at line ${line}: ${message}`);
  };
  const frame = zoneFrame(config);
  const serialLine = countLineEnds(frame.head) + 1;
  if (!text.startsWith(frame.head)) {
    let same = 0;
    while (same < frame.head.length && text.charCodeAt(same) === frame.head.charCodeAt(same)) same += 1;
    fail(countLineEnds(text.slice(0, same)) + 1, 'header is not the one zonewright writes');
  }
  SERIAL.lastIndex = frame.head.length;
  const serialText = SERIAL.exec(text)?.[0];
  const serial = Number(serialText);
  if (serialText === undefined || serial > 0xffffffff) {
    fail(
      serialLine,
      `SOA serial ${JSON.stringify(text.slice(frame.head.length).split(' ', 1)[0])} is not 1-4294967295`,
    );
  }
  let position = frame.head.length + (serialText?.length ?? 0);
  let line = serialLine;
  for (const fixed of frame.fixedLines) {
    if (!text.startsWith(fixed, position)) fail(line, `expected ${JSON.stringify(fixed.trim())}`);
    position += fixed.length;
    line += 1;
  }
  const firstRecordLine = line;
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
  if (line - firstRecordLine !== records)
    fail(line, `expected ${records} address records, found ${line - firstRecordLine}`);
}
