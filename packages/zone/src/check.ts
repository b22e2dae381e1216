import type { ParsedRecord, ParsedZone, ZoneProblem } from './parse.js';

const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const SERVICE_LABEL = /^_[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function isInside(name: string, origin: string): boolean {
  return origin === '' || name === origin || name.endsWith(`.${origin}`);
}

function hostNameProblem(name: string, origin: string): string | undefined {
  if (name === origin) return undefined;
  const relative = origin === '' ? name : name.slice(0, name.length - origin.length - 1);
  const labels = relative.split('.');
  for (const [index, label] of labels.entries()) {
    if (index === 0 && label === '*') continue;
    if (HOST_LABEL.test(label) || SERVICE_LABEL.test(label)) continue;
    return `owner name ${name}. is not a valid host name: label ${JSON.stringify(label)} must be 1-63 characters of a-z, 0-9 and "-", not starting or ending with "-"`;
  }
  return undefined;
}

/**
 * Semantic checks over a parsed zone, on top of its syntax problems. Everything here is a reason for
 * `zonewright check` to fail, except duplicates (a warning: servers merge them).
 */
export function checkZone(parsed: ParsedZone): ZoneProblem[] {
  const problems: ZoneProblem[] = [...parsed.problems];
  const origin = parsed.origin;
  const error = (line: number, message: string): void => {
    problems.push({ line, message, severity: 'error' });
  };
  if (origin === undefined) {
    error(1, 'the zone has no origin: add $ORIGIN or name the file db.<origin>');
    return sortProblems(problems);
  }
  const byName = new Map<string, ParsedRecord[]>();
  const seen = new Set<string>();
  for (const record of parsed.records) {
    if (!isInside(record.name, origin)) {
      error(record.line, `${record.name}. is outside the zone ${origin}.`);
      continue;
    }
    const problem = hostNameProblem(record.name, origin);
    if (problem !== undefined) error(record.line, problem);
    const key = `${record.name} ${record.type} ${record.rdata.join(' ')}`;
    if (seen.has(key)) {
      problems.push({
        line: record.line,
        message: `duplicate ${record.type} record for ${record.name}.`,
        severity: 'warning',
      });
    }
    seen.add(key);
    const list = byName.get(record.name);
    if (list === undefined) byName.set(record.name, [record]);
    else list.push(record);
  }

  const soas = parsed.records.filter((record) => record.type === 'SOA');
  if (soas.length === 0) error(1, `no SOA record for ${origin}.`);
  for (const soa of soas) {
    if (soa.name !== origin) error(soa.line, `SOA for ${soa.name}. is not at the zone apex ${origin}.`);
    if (soa.rdata[2] === '0')
      error(soa.line, 'SOA serial is 0: secondaries and CoreDNS treat 0 specially; use 1 or a Unix time');
  }
  for (const extra of soas.slice(1))
    error(extra.line, `more than one SOA record (first on line ${soas[0]?.line ?? 0})`);

  const apex = byName.get(origin) ?? [];
  const nameServers = apex.filter((record) => record.type === 'NS');
  if (nameServers.length === 0) error(soas[0]?.line ?? 1, `no NS record at the apex ${origin}.`);
  for (const record of parsed.records) {
    if (record.type !== 'NS') continue;
    const target = record.rdata[0] ?? '';
    if (!isInside(target, origin)) continue;
    const hasAddress = (byName.get(target) ?? []).some(
      (other) => other.type === 'A' || other.type === 'AAAA',
    );
    if (!hasAddress)
      error(record.line, `NS target ${target}. is inside the zone but has no A or AAAA record (glue)`);
  }
  for (const [name, records] of byName) {
    const cnames = records.filter((record) => record.type === 'CNAME');
    const first = cnames[0];
    if (first === undefined) continue;
    if (cnames.length > 1) error(cnames[1]?.line ?? first.line, `${name}. has more than one CNAME`);
    const other = records.find(
      (record) => record.type !== 'CNAME' && record.type !== 'RRSIG' && record.type !== 'NSEC',
    );
    if (other !== undefined) {
      error(first.line, `${name}. is a CNAME and also has a ${other.type} record (line ${other.line})`);
    }
  }
  return sortProblems(problems);
}

function sortProblems(problems: ZoneProblem[]): ZoneProblem[] {
  return problems.sort((left, right) => left.line - right.line);
}

/** The origin a file name implies: `db.example.com` → `example.com`. */
export function originFromFileName(fileName: string): string | undefined {
  const match = /^db\.(.+)$/.exec(fileName);
  return match?.[1]?.replace(/\.$/, '').toLowerCase();
}

export type LookupAnswer =
  | { readonly status: 'NOERROR'; readonly records: readonly ParsedRecord[] }
  | { readonly status: 'NODATA'; readonly name: string }
  | { readonly status: 'NXDOMAIN'; readonly name: string }
  | { readonly status: 'NOTAUTH'; readonly name: string };

/**
 * Answers like an authoritative server would, for `inspect --name`: the records of that name and type (all
 * types when `type` is undefined), NODATA when the name exists (or has names below it) without that type,
 * NXDOMAIN when it does not exist, NOTAUTH when it is outside the zone. CNAMEs are returned, not followed.
 */
export function lookup(parsed: ParsedZone, fqdn: string, type?: string): LookupAnswer {
  const name = fqdn.replace(/\.$/, '').toLowerCase();
  const origin = parsed.origin ?? '';
  if (!isInside(name, origin)) return { status: 'NOTAUTH', name };
  const wanted = type?.toUpperCase();
  const atName = parsed.records.filter((record) => record.name === name);
  const matching = atName.filter(
    (record) => wanted === undefined || wanted === 'ANY' || record.type === wanted || record.type === 'CNAME',
  );
  if (matching.length > 0) return { status: 'NOERROR', records: matching };
  const exists = atName.length > 0 || parsed.records.some((record) => record.name.endsWith(`.${name}`));
  return exists ? { status: 'NODATA', name } : { status: 'NXDOMAIN', name };
}
