import ipaddr from 'ipaddr.js';

/**
 * A parser for RFC 1035 master files, for reading zones back (serial recovery, `inspect`, `check`).
 * It accepts what BIND and CoreDNS accept for the record types zonewright and typical hand-written zones use,
 * keeps the line of every record, and reports every syntax problem with its line instead of stopping.
 */

export interface ParsedRecord {
  /** Absolute owner name, lower case, without the trailing dot ('' is the root). */
  readonly name: string;
  readonly ttl: number;
  readonly class: string;
  readonly type: string;
  /** RDATA fields; domain names made absolute (lower case, no trailing dot). */
  readonly rdata: readonly string[];
  readonly line: number;
}

export interface ZoneProblem {
  readonly line: number;
  readonly message: string;
  readonly severity: 'error' | 'warning';
}

export interface ParsedZone {
  /** The origin from the options or the first $ORIGIN, lower case without the trailing dot. */
  readonly origin: string | undefined;
  readonly records: ParsedRecord[];
  readonly problems: ZoneProblem[];
}

export interface ParseOptions {
  /** Origin to start with (e.g. from the file name `db.<origin>`). */
  readonly origin?: string;
}

interface Token {
  readonly text: string;
  readonly quoted: boolean;
  readonly escaped: boolean;
}

interface Entry {
  readonly tokens: Token[];
  readonly line: number;
  readonly inheritsOwner: boolean;
}

const MAX_TTL = 2147483647;
const CLASSES = new Set(['IN', 'CH', 'HS', 'CS', 'ANY']);
/** Record types a zone file may hold (mnemonics from the IANA registry); others must be written TYPEnnn. */
const KNOWN_TYPES = new Set(
  (
    'A AAAA AFSDB APL CAA CDNSKEY CDS CERT CNAME CSYNC DHCID DLV DNAME DNSKEY DS EUI48 EUI64 HINFO HIP HTTPS ' +
    'IPSECKEY KEY KX LOC MX NAPTR NS NSEC NSEC3 NSEC3PARAM OPENPGPKEY PTR RP RRSIG SIG SMIMEA SOA SPF SRV ' +
    'SSHFP SVCB TA TLSA TXT URI ZONEMD NULL AVC NINFO'
  ).split(' '),
);

const NAME_FIELDS: Readonly<Record<string, readonly number[]>> = {
  NS: [0],
  CNAME: [0],
  PTR: [0],
  DNAME: [0],
  MX: [1],
  SRV: [3],
  SOA: [0, 1],
};

function tokenize(text: string, problems: ZoneProblem[]): Entry[] {
  const entries: Entry[] = [];
  let tokens: Token[] = [];
  let line = 1;
  let entryLine = 1;
  let depth = 0;
  let depthLine = 0;
  let atLineStart = true;
  let inheritsOwner = false;
  let tokenStart = -1;
  let escaped = false;
  const length = text.length;

  const endToken = (end: number): void => {
    if (tokenStart >= 0) {
      if (tokens.length === 0) entryLine = line;
      tokens.push({ text: text.slice(tokenStart, end), quoted: false, escaped });
      tokenStart = -1;
      escaped = false;
    }
  };
  const endEntry = (): void => {
    if (tokens.length > 0) entries.push({ tokens, line: entryLine, inheritsOwner });
    tokens = [];
  };

  for (let index = 0; index < length; index += 1) {
    const code = text.charCodeAt(index);
    if (atLineStart) {
      atLineStart = false;
      if (depth === 0) inheritsOwner = code === 0x20 || code === 0x09;
    }
    switch (code) {
      case 0x0a: // newline
        endToken(index);
        if (depth === 0) endEntry();
        line += 1;
        atLineStart = true;
        break;
      case 0x20:
      case 0x09:
      case 0x0d:
        endToken(index);
        break;
      case 0x3b: {
        // ';' comment to the end of the line
        endToken(index);
        const newline = text.indexOf('\n', index);
        index = (newline < 0 ? length : newline) - 1;
        break;
      }
      case 0x28: // '('
        endToken(index);
        if (depth === 0) depthLine = line;
        depth += 1;
        if (depth > 1) problems.push({ line, message: 'nested "(" is not allowed', severity: 'error' });
        break;
      case 0x29: // ')'
        endToken(index);
        if (depth === 0) problems.push({ line, message: '")" without a matching "("', severity: 'error' });
        else depth -= 1;
        break;
      case 0x22: {
        // '"' quoted string, on one line
        endToken(index);
        let end = index + 1;
        let value = '';
        let closed = false;
        while (end < length) {
          const inner = text.charCodeAt(end);
          if (inner === 0x5c && end + 1 < length) {
            value += text.slice(end, end + 2);
            end += 2;
            continue;
          }
          if (inner === 0x22) {
            closed = true;
            break;
          }
          if (inner === 0x0a) break;
          value += text.charAt(end);
          end += 1;
        }
        if (!closed)
          problems.push({ line, message: 'quoted string is not closed on its line', severity: 'error' });
        if (tokens.length === 0) entryLine = line;
        tokens.push({ text: value, quoted: true, escaped: value.includes('\\') });
        index = closed ? end : end - 1;
        break;
      }
      case 0x5c: // backslash escape: keep it in the token
        if (tokenStart < 0) tokenStart = index;
        escaped = true;
        index += 1;
        if (text.charCodeAt(index) === 0x0a) {
          problems.push({ line, message: 'a backslash may not escape a line end', severity: 'error' });
          index -= 1;
        }
        break;
      default:
        if (tokenStart < 0) tokenStart = index;
    }
  }
  endToken(length);
  if (depth > 0) {
    problems.push({
      line: depthLine,
      message: `"(" opened on line ${depthLine} is never closed`,
      severity: 'error',
    });
  }
  endEntry();
  return entries;
}

/** Parses a TTL: plain seconds or BIND units (1h30m, 2d, 1w). */
export function parseTtl(text: string): number | undefined {
  let seconds: number;
  if (/^\d{1,10}$/.test(text)) {
    seconds = Number(text);
  } else if (/^(\d+[wdhms])+$/i.test(text)) {
    const units: Record<string, number> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };
    seconds = 0;
    for (const match of text.toLowerCase().matchAll(/(\d+)([wdhms])/g)) {
      seconds += Number(match[1]) * (units[match[2] ?? 's'] ?? 1);
    }
  } else {
    return undefined;
  }
  return seconds <= MAX_TTL ? seconds : undefined;
}

function nameError(text: string): string | undefined {
  if (text === '.' || text === '@') return undefined;
  const body = text.endsWith('.') ? text.slice(0, -1) : text;
  if (body.length === 0 || body.startsWith('.') || body.includes('..'))
    return `${JSON.stringify(text)} has an empty label`;
  for (const label of body.split('.')) {
    if (label.length > 63) return `label ${JSON.stringify(label.slice(0, 20))}… is longer than 63 characters`;
  }
  if (body.length > 253) return `name is longer than 253 characters`;
  return undefined;
}

function makeAbsolute(text: string, origin: string | undefined): string | undefined {
  if (text === '@') return origin;
  if (text === '.') return '';
  if (text.endsWith('.')) return text.slice(0, -1).toLowerCase();
  if (origin === undefined) return undefined;
  const lower = text.toLowerCase();
  return origin === '' ? lower : `${lower}.${origin}`;
}

function checkRdata(type: string, rdata: readonly Token[]): string | undefined {
  const fields = rdata.map((token) => token.text);
  const expect = (count: number): string | undefined =>
    fields.length === count
      ? undefined
      : `${type} needs ${count} field${count === 1 ? '' : 's'}, found ${fields.length}`;
  const uint = (value: string | undefined, max: number): boolean =>
    value !== undefined && /^\d{1,10}$/.test(value) && Number(value) <= max;
  switch (type) {
    case 'A':
      return (
        expect(1) ??
        (ipaddr.IPv4.isValidFourPartDecimal(fields[0] ?? '')
          ? undefined
          : `${JSON.stringify(fields[0])} is not an IPv4 address`)
      );
    case 'AAAA': {
      const value = fields[0] ?? '';
      return (
        expect(1) ??
        (!value.includes('%') && !ipaddr.IPv4.isValid(value) && ipaddr.IPv6.isValid(value)
          ? undefined
          : `${JSON.stringify(value)} is not an IPv6 address`)
      );
    }
    case 'NS':
    case 'CNAME':
    case 'PTR':
    case 'DNAME':
      return expect(1);
    case 'MX':
      return (
        expect(2) ??
        (uint(fields[0], 65535) ? undefined : `MX preference ${JSON.stringify(fields[0])} is not 0-65535`)
      );
    case 'SRV':
      return (
        expect(4) ??
        (fields.slice(0, 3).every((field) => uint(field, 65535))
          ? undefined
          : 'SRV priority, weight and port must be 0-65535')
      );
    case 'SOA': {
      const problem = expect(7);
      if (problem !== undefined) return problem;
      if (!uint(fields[2], 0xffffffff))
        return `SOA serial ${JSON.stringify(fields[2])} is not a number from 0 to 4294967295`;
      for (const [index, what] of [
        [3, 'refresh'],
        [4, 'retry'],
        [5, 'expire'],
        [6, 'minimum'],
      ] as const) {
        if (parseTtl(fields[index] ?? '') === undefined)
          return `SOA ${what} ${JSON.stringify(fields[index])} is not a time`;
      }
      return undefined;
    }
    case 'TXT':
    case 'SPF':
      return fields.length > 0 ? undefined : `${type} needs at least one string`;
    case 'CAA':
      return expect(3);
    default:
      return fields.length > 0 ? undefined : `${type} has no data`;
  }
}

/** Parses zone text; never throws on bad input, every problem is in `problems` with its line. */
export function parseZone(text: string, options: ParseOptions = {}): ParsedZone {
  const problems: ZoneProblem[] = [];
  const records: ParsedRecord[] = [];
  let origin = options.origin === undefined ? undefined : options.origin.replace(/\.$/, '').toLowerCase();
  let firstOrigin = origin;
  let defaultTtl: number | undefined;
  let lastTtl: number | undefined;
  let lastOwner: string | undefined;
  const error = (line: number, message: string): void => {
    problems.push({ line, message, severity: 'error' });
  };

  for (const entry of tokenize(text, problems)) {
    const { tokens, line } = entry;
    const first = tokens[0];
    if (first === undefined) continue;
    if (!entry.inheritsOwner && !first.quoted && first.text.startsWith('$')) {
      const directive = first.text.toUpperCase();
      const argument = tokens[1]?.text;
      if (directive === '$ORIGIN') {
        if (argument === undefined || tokens.length !== 2) error(line, '$ORIGIN needs exactly one name');
        else if (!argument.endsWith('.'))
          error(line, `$ORIGIN ${argument} must be an absolute name (end with ".")`);
        else {
          origin = argument.slice(0, -1).toLowerCase();
          firstOrigin ??= origin;
        }
      } else if (directive === '$TTL') {
        const ttl = argument === undefined ? undefined : parseTtl(argument);
        if (ttl === undefined) error(line, `$TTL needs a time, found ${JSON.stringify(argument ?? '')}`);
        else defaultTtl = ttl;
      } else {
        error(line, `directive ${first.text} is not supported here`);
      }
      continue;
    }

    let position = 0;
    let owner: string | undefined;
    if (entry.inheritsOwner) {
      owner = lastOwner;
      if (owner === undefined) {
        error(line, 'record has no owner name and there is no previous one');
        continue;
      }
    } else {
      position = 1;
      const problem = nameError(first.text);
      if (problem !== undefined) {
        error(line, `owner name: ${problem}`);
        continue;
      }
      owner = makeAbsolute(first.text, origin);
      if (owner === undefined) {
        error(line, `relative owner name ${JSON.stringify(first.text)} with no $ORIGIN`);
        continue;
      }
      lastOwner = owner;
    }

    let ttl: number | undefined;
    let recordClass: string | undefined;
    for (let round = 0; round < 2; round += 1) {
      const token = tokens[position];
      if (token === undefined) break;
      if (ttl === undefined && /^\d/.test(token.text)) {
        ttl = parseTtl(token.text);
        if (ttl === undefined) {
          error(line, `${JSON.stringify(token.text)} is not a valid TTL`);
          ttl = -1;
        }
        position += 1;
      } else if (recordClass === undefined && CLASSES.has(token.text.toUpperCase())) {
        recordClass = token.text.toUpperCase();
        position += 1;
      }
    }
    if (ttl === -1) continue;
    const typeToken = tokens[position];
    if (typeToken === undefined) {
      error(line, 'record has no type');
      continue;
    }
    const type = typeToken.text.toUpperCase();
    if (typeToken.quoted || !(KNOWN_TYPES.has(type) || /^TYPE\d{1,5}$/.test(type))) {
      error(line, `${JSON.stringify(typeToken.text)} is not a record type`);
      continue;
    }
    const rdataTokens = tokens.slice(position + 1);
    const rdataProblem = checkRdata(type, rdataTokens);
    if (rdataProblem !== undefined) {
      error(line, rdataProblem);
      continue;
    }
    const nameFields = NAME_FIELDS[type] ?? [];
    const rdata: string[] = [];
    let bad = false;
    rdataTokens.forEach((token, index) => {
      if (!nameFields.includes(index)) {
        rdata.push(token.quoted ? JSON.stringify(token.text) : token.text);
        return;
      }
      const problem = nameError(token.text);
      const absolute = problem === undefined ? makeAbsolute(token.text, origin) : undefined;
      if (absolute === undefined) {
        bad = true;
        error(
          line,
          `${type} target: ${problem ?? `relative name ${JSON.stringify(token.text)} with no $ORIGIN`}`,
        );
      } else {
        rdata.push(absolute);
      }
    });
    if (bad) continue;
    if (ttl === undefined) {
      ttl = defaultTtl ?? lastTtl;
      if (ttl === undefined && type === 'SOA') ttl = parseTtl(rdataTokens[6]?.text ?? '');
      if (ttl === undefined) {
        error(line, 'record has no TTL and no $TTL is set');
        continue;
      }
    } else {
      lastTtl = ttl;
    }
    records.push({ name: owner, ttl, class: recordClass ?? 'IN', type, rdata, line });
  }
  problems.sort((left, right) => left.line - right.line);
  return { origin: firstOrigin, records, problems };
}
