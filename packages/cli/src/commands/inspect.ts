import { lookup, reverseNameOf, serialToDate, type ParsedRecord } from '@zonewright/zone';
import { UsageError } from '../errors.js';
import { findZoneFiles, loadZone, type LoadedZone } from '../zone-files.js';

export interface InspectOptions {
  readonly target: string;
  readonly json: boolean;
  readonly name?: string;
  readonly type?: string;
  readonly origin?: string;
  /** For tests: the time "now" is. */
  readonly nowMs?: number;
}

interface RecordView {
  readonly name: string;
  readonly ttl: number;
  readonly type: string;
  readonly value: string;
  readonly line: number;
}

function view(record: ParsedRecord): RecordView {
  return {
    name: `${record.name}.`,
    ttl: record.ttl,
    type: record.type,
    value: record.rdata.join(' '),
    line: record.line,
  };
}

function summary(zone: LoadedZone, nowMs: number) {
  const soa = zone.parsed.records.find((record) => record.type === 'SOA');
  const serial = soa === undefined ? undefined : Number(soa.rdata[2]);
  const serialTime = serial === undefined ? undefined : serialToDate(serial, nowMs);
  const counts: Record<string, number> = {};
  for (const record of zone.parsed.records) counts[record.type] = (counts[record.type] ?? 0) + 1;
  return {
    file: zone.file,
    origin: zone.origin === undefined ? undefined : `${zone.origin}.`,
    serial,
    serialTime: serialTime?.toISOString(),
    modified: new Date(zone.modifiedMs).toISOString(),
    ageSeconds: Math.max(0, Math.round((nowMs - zone.modifiedMs) / 1000)),
    recordCount: zone.parsed.records.length,
    counts,
    problems: zone.problems.map((problem) => ({
      line: problem.line,
      severity: problem.severity,
      message: problem.message,
    })),
  };
}

function table(rows: readonly RecordView[]): string[] {
  const headers = ['NAME', 'TTL', 'TYPE', 'VALUE'];
  const cells = rows.map((row) => [row.name, String(row.ttl), row.type, row.value]);
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...cells.map((cell) => cell[column]?.length ?? 0)),
  );
  const format = (cell: readonly string[]): string =>
    cell
      .map((value, column) => (column === cell.length - 1 ? value : value.padEnd(widths[column] ?? 0)))
      .join('  ');
  return [format(headers), ...cells.map(format)];
}

/** The zone whose origin is the longest suffix of the name, like a server picks its zone. */
function zoneFor(zones: readonly LoadedZone[], name: string): LoadedZone | undefined {
  const fqdn = name.replace(/\.$/, '').toLowerCase();
  let best: LoadedZone | undefined;
  for (const zone of zones) {
    const origin = zone.origin;
    if (origin === undefined || !(fqdn === origin || fqdn.endsWith(`.${origin}`))) continue;
    if (best?.origin === undefined || origin.length > best.origin.length) best = zone;
  }
  return best;
}

/** `zonewright inspect <dir|file> [--json] [--name FQDN [--type T]]`. Returns the exit code. */
export async function runInspect(options: InspectOptions, out: (line: string) => void): Promise<number> {
  const nowMs = options.nowMs ?? Date.now();
  const files = await findZoneFiles(options.target);
  if (files.length === 0) throw new UsageError(`${options.target}: no zone files (db.<origin>) found`);
  const zones = await Promise.all(files.map((file) => loadZone(file, options.origin)));

  if (options.name !== undefined) {
    // An IP address asks for its PTR record (`dig -x`): look up its in-addr.arpa / ip6.arpa name.
    const reverse = reverseNameOf(options.name);
    const asked = reverse ?? options.name;
    const type = options.type ?? (reverse === undefined ? undefined : 'PTR');
    const zone = zoneFor(zones, asked);
    const name = `${asked.replace(/\.$/, '').toLowerCase()}.`;
    const answer =
      zone === undefined ? { status: 'NOTAUTH' as const, name } : lookup(zone.parsed, asked, type);
    const records = answer.status === 'NOERROR' ? answer.records.map(view) : [];
    if (options.json) {
      out(
        JSON.stringify(
          {
            name,
            type: type?.toUpperCase() ?? 'ANY',
            status: answer.status,
            zone: zone?.origin === undefined ? null : `${zone.origin}.`,
            file: zone?.file ?? null,
            records,
          },
          null,
          2,
        ),
      );
    } else if (answer.status === 'NOERROR') {
      for (const line of table(records)) out(line);
    } else {
      const why = {
        NODATA: `NODATA: ${name} exists in zone ${zone?.origin ?? ''}. but has no ${type?.toUpperCase() ?? ''} record`,
        NXDOMAIN: `NXDOMAIN: ${name} does not exist in zone ${zone?.origin ?? ''}.`,
        NOTAUTH: `NOTAUTH: ${name} is not in any zone under ${options.target}`,
      }[answer.status];
      out(why);
    }
    return answer.status === 'NOERROR' ? 0 : 1;
  }

  if (options.json) {
    out(
      JSON.stringify(
        { zones: zones.map((zone) => ({ ...summary(zone, nowMs), records: zone.parsed.records.map(view) })) },
        null,
        2,
      ),
    );
    return 0;
  }
  for (const [index, zone] of zones.entries()) {
    const info = summary(zone, nowMs);
    if (index > 0) out('');
    out(`zone ${info.origin ?? '(unknown origin)'}  ${info.file}`);
    out(`  serial   ${info.serial ?? 'none'}${info.serialTime === undefined ? '' : ` (${info.serialTime})`}`);
    out(`  file     modified ${info.modified}, ${info.ageSeconds} s ago`);
    out(
      `  records  ${info.recordCount} (${Object.entries(info.counts)
        .map(([type, count]) => `${type} ${count}`)
        .join(', ')})`,
    );
    if (info.problems.length > 0)
      out(`  problems ${info.problems.length}: run \`zonewright check ${info.file}\``);
    out('');
    for (const line of table(zone.parsed.records.map(view))) out(`  ${line}`);
  }
  return 0;
}
