export interface ZoneRow {
  readonly records: number;
  readonly zoneRecords: number;
  readonly bytes: number;
  readonly renderWriteMs: number;
  readonly renderWriteRuns: readonly number[];
  readonly namedCheckzoneMs: number;
  readonly miekgParseMs: number;
  readonly ratioToNamedCheckzone: number;
  readonly memoryGrowthMB: number;
  readonly reconcilerFlushMs: number;
  readonly reconcilerFlushRuns: readonly number[];
  readonly reconcilerGrowthMB?: number;
}

export interface ZoneSection {
  readonly machine: string;
  readonly date: string;
  readonly repeats: number;
  readonly rows: readonly ZoneRow[];
}

const ms = (value: number | undefined): string => (value === undefined ? 'n/a' : `${Math.round(value)} ms`);
const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');

export function renderZoneSection(zone: ZoneSection): string[] {
  const largest = zone.rows.at(-1);
  if (largest === undefined) return [];
  return [
    '## Zone render + atomic write (issue: foundation)',
    '',
    `Machine: ${zone.machine}. Date: ${zone.date}. Median of ${zone.repeats} runs, each in a fresh process; our run and the`,
    'references alternate so that load changes on this shared machine hit both alike.',
    '',
    'What is timed, each in a fresh process (so JIT warm-up is included): **render + write** — sort and',
    'de-duplicate, check every name and address, render, validate the text line by line, write a temp file, fsync,',
    'rename, fsync the directory (the target); **reconciler flush** — the same plus claim assembly (conflicts,',
    'rejections), i.e. one flush of a full record set as every watcher does it. References: the same file parsed',
    'by `named-checkzone` and by the miekg/dns parser CoreDNS uses (`tools/zonecheck`). Memory growth: peak RSS of',
    'the process minus its RSS before the timed step (the records themselves are built before).',
    '',
    '| records | file | render + write | named-checkzone | ratio (≤ 1.0) | miekg parse | memory growth (≤ 200 MB) | reconciler flush | its growth |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...zone.rows.map(
      (r) =>
        `| ${r.records.toLocaleString('en')} | ${(r.bytes / 2 ** 20).toFixed(1)} MiB | ${ms(r.renderWriteMs)} | ${ms(r.namedCheckzoneMs)} | ${r.ratioToNamedCheckzone.toFixed(2)} | ${ms(r.miekgParseMs)} | ${r.memoryGrowthMB.toFixed(0)} MB | ${ms(r.reconcilerFlushMs)} | ${(r.reconcilerGrowthMB ?? 0).toFixed(0)} MB |`,
    ),
    '',
    `Targets: 200k records in ≤ 1 s: **${met(largest.renderWriteMs <= 1000)}** (${ms(largest.renderWriteMs)}); no slower than named-checkzone: **${met(largest.ratioToNamedCheckzone <= 1)}** (ratio ${largest.ratioToNamedCheckzone.toFixed(2)}); memory growth ≤ 200 MB: **${met(largest.memoryGrowthMB <= 200)}** (${largest.memoryGrowthMB.toFixed(0)} MB).`,
    '',
    '![render and parse times](zone-render.svg)',
    '',
  ];
}
