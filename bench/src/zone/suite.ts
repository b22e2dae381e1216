// Zone render + atomic write against the parsers of named and CoreDNS, each in a fresh process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { zonecheckPath } from '@zonewright/testkit';
import { distScript, repoRoot } from '../common/paths.js';
import { intSetting } from '../common/settings.js';
import { machineDescription, median } from '../common/stats.js';
import type { SuiteContext, SuiteOutcome } from '../common/suite.js';
import { svgLineChart } from '../common/svg-chart.js';
import type { RenderChildResult, RenderMode } from './render-protocol.js';
import type { ZoneRow, ZoneSection } from './report.js';

const ORIGIN = 'vm.example.com';
// The reference is a plain parse (quiet, no extra checks), not the strict verdict the tests ask for.
const CHECKZONE_PARSE_ONLY = ['-q', '-i', 'none', '-k', 'ignore'];
const SIZES = { full: [1000, 10000, 100000, 200000], quick: [1000, 10000] } as const;

function timeCommand(command: string, args: readonly string[]): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}${result.stdout}`);
  return elapsedMs;
}

function measureInChild(count: number, directory: string, mode: RenderMode): RenderChildResult {
  rmSync(path.join(directory, `db.${ORIGIN}`), { force: true });
  const child = spawnSync(
    process.execPath,
    ['--expose-gc', distScript('zone/render-child.js'), String(count), directory, mode],
    { encoding: 'utf8', cwd: repoRoot },
  );
  if (child.status !== 0) throw new Error(`zone bench child failed: ${child.stderr}`);
  const line = child.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as RenderChildResult;
}

/** `repeats` runs at one size; our runs and the references alternate so that load changes hit both alike. */
function measureSize(count: number, repeats: number): ZoneRow {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'zw-bench-zone-'));
  try {
    const ours: number[] = [];
    const flushes: number[] = [];
    const checkzone: number[] = [];
    const miekg: number[] = [];
    const growth: number[] = [];
    const flushGrowth: number[] = [];
    let last: RenderChildResult | undefined;
    for (let run = 0; run < repeats; run += 1) {
      const flush = measureInChild(count, directory, 'reconciler');
      flushes.push(flush.elapsedMs);
      flushGrowth.push(flush.growthBytes);
      last = measureInChild(count, directory, 'render');
      ours.push(last.elapsedMs);
      growth.push(last.growthBytes);
      checkzone.push(timeCommand('named-checkzone', [...CHECKZONE_PARSE_ONLY, ORIGIN, last.file]));
      miekg.push(timeCommand(zonecheckPath(), ['-origin', ORIGIN, last.file]));
    }
    if (last === undefined) throw new Error('ZW_BENCH_REPEATS must be at least 1');
    return {
      records: count,
      zoneRecords: last.records,
      bytes: statSync(last.file).size,
      renderWriteMs: median(ours),
      renderWriteRuns: ours.map((x) => Math.round(x)),
      namedCheckzoneMs: median(checkzone),
      miekgParseMs: median(miekg),
      ratioToNamedCheckzone: median(ours) / median(checkzone),
      memoryGrowthMB: median(growth) / 2 ** 20,
      reconcilerFlushMs: median(flushes),
      reconcilerFlushRuns: flushes.map((x) => Math.round(x)),
      reconcilerGrowthMB: median(flushGrowth) / 2 ** 20,
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

function chart(rows: readonly ZoneRow[]): string {
  return svgLineChart({
    title: 'Zone render + atomic write vs named-checkzone parse (median)',
    xLabel: 'records (log scale)',
    yLabel: 'milliseconds',
    series: [
      { name: 'zonewright render + validate + write', points: rows.map((r) => [r.records, r.renderWriteMs]) },
      {
        name: 'zonewright reconciler flush (+ claims)',
        points: rows.map((r) => [r.records, r.reconcilerFlushMs]),
      },
      { name: 'named-checkzone parse', points: rows.map((r) => [r.records, r.namedCheckzoneMs]) },
      { name: 'miekg/dns parse (CoreDNS)', points: rows.map((r) => [r.records, r.miekgParseMs]) },
    ],
  });
}

export async function runZoneSuite(context: SuiteContext): Promise<SuiteOutcome<ZoneSection>> {
  const repeats = intSetting('ZW_BENCH_REPEATS', { full: 3, quick: 1 }, context.size, { min: 1 });
  const rows: ZoneRow[] = [];
  for (const count of SIZES[context.size]) {
    const row = measureSize(count, repeats);
    rows.push(row);
    process.stderr.write(
      `zone ${count}: render+write ${row.renderWriteMs.toFixed(0)} ms, reconciler flush ${row.reconcilerFlushMs.toFixed(0)} ms (named-checkzone ${row.namedCheckzoneMs.toFixed(0)} ms, ratio ${row.ratioToNamedCheckzone.toFixed(2)}), +${row.memoryGrowthMB.toFixed(0)} MB\n`,
    );
  }
  const section = { machine: machineDescription(), date: new Date().toISOString(), repeats, rows };
  return Promise.resolve({ section, charts: { 'zone-render.svg': chart(rows) } });
}
