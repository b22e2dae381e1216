// Reverse zones' share of a flush (issue 12: "reverse zones add ≤ 20 % to the flush time of a 10,000-VMI
// zone"). In one process, two real Reconcilers with a real FileZoneStore each (own temp directory): one writes
// only the forward zone, the other also the reverse zones of 10.10.0.0/16 and fd00:10::/48, which cover every
// address. Both get the same VMIs (dual-stack nic1, records by the status monitor's builder) and the same
// changes; their trials alternate (and which one goes first alternates), so load on this shared machine hits
// both alike, and the report gives the ratio with/without next to the medians.
//   full flush: a new Reconciler (empty directory) gets every VMI with replaceAll + markSynced, timed until
//     its flush (forward zone and, with reverse zones, every reverse zone) is on disk;
//   incremental flush: the long-lived pair gets the same upserts (1 VMI, then `few` VMIs, with new addresses),
//     timed from the upsert to the end of the flush.
// Each is reported twice: until every zone is on disk, and until the forward zone is (its write reported by
// the reconciler's observer; the reverse zones are written after it in the same flush).
// Each timed flush starts after a forced GC (the suite runs with --expose-gc), so one side does not pay for
// the other's garbage. Timers never fire by themselves: the debounce is an hour and flushNow() writes.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  FileZoneStore,
  Reconciler,
  defaultZoneConfig,
  parseReverseRanges,
  silentLogger,
  systemClock,
} from '@zonewright/zone';
import type { ClaimedRecord, ReverseRange, SourceHandle, WriteInfo } from '@zonewright/zone';
import { progressLogger } from '../common/log.js';
import { intSetting } from '../common/settings.js';
import { loadAverage, machineDescription, median, quantile, round } from '../common/stats.js';
import type { SuiteContext, SuiteOutcome } from '../common/suite.js';
import { renderReverseMarkdown } from './report.js';
import type { ReverseCase, ReverseResult, ReverseSettings } from './report.js';
import { REVERSE_RANGES, vmiEntry } from './vmi-entries.js';

const log = progressLogger('reverse');
const config = defaultZoneConfig('vm.example.com', ['10.10.0.53']);

function settingsFor(size: ReverseSettings['size']): ReverseSettings {
  return {
    size,
    vmis: intSetting('ZW_BENCH_REVERSE_VMIS', { full: 10_000, quick: 1_000 }, size, {
      min: 10,
      max: 200_000,
    }),
    fullTrials: intSetting('ZW_BENCH_REVERSE_FULL_TRIALS', { full: 15, quick: 3 }, size, { min: 1 }),
    incrementalTrials: intSetting('ZW_BENCH_REVERSE_TRIALS', { full: 60, quick: 6 }, size, { min: 1 }),
    few: intSetting('ZW_BENCH_REVERSE_FEW', { full: 10, quick: 10 }, size, { min: 2, max: 1000 }),
    ranges: REVERSE_RANGES,
  };
}

function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** How long a flush took until the forward zone was on disk, and until every zone was. */
interface FlushTiming {
  readonly forward: number;
  readonly all: number;
}

/** One reconciler with its own directory, and what it wrote. */
class Side {
  readonly directory: string;
  readonly reconciler: Reconciler;
  readonly source: SourceHandle;
  readonly writes: WriteInfo[] = [];
  /** When the forward zone's last write was reported (performance.now()). */
  private forwardWrittenAt = NaN;

  constructor(temp: string, name: string, ranges: readonly ReverseRange[]) {
    this.directory = mkdtempSync(path.join(temp, `${name}-`));
    this.reconciler = new Reconciler({
      config,
      store: new FileZoneStore(this.directory),
      clock: systemClock,
      logger: silentLogger,
      debounceMs: 3_600_000,
      maxDelayMs: 3_600_000,
      reverseRanges: ranges,
      observer: {
        onWrite: (info) => {
          this.writes.push(info);
          if (info.origin === config.origin) this.forwardWrittenAt = performance.now();
        },
      },
    });
    this.source = this.reconciler.registerSource('bench');
  }

  /** Times the first flush of every entry; the reconciler is then ready. */
  async firstFlush(entries: ReadonlyMap<string, readonly ClaimedRecord[]>): Promise<FlushTiming> {
    await this.reconciler.start();
    collectGarbage();
    const started = performance.now();
    this.source.replaceAll(entries);
    this.source.markSynced();
    await this.reconciler.flushNow();
    return this.timing(started);
  }

  /** Times the flush of some upserts (from the first upsert to the end of the flush). */
  async change(changes: readonly { key: string; records: readonly ClaimedRecord[] }[]): Promise<FlushTiming> {
    collectGarbage();
    const started = performance.now();
    for (const { key, records } of changes) this.source.upsert(key, records);
    await this.reconciler.flushNow();
    return this.timing(started);
  }

  private timing(started: number): FlushTiming {
    const all = performance.now() - started;
    this.check();
    const forward = this.forwardWrittenAt - started;
    if (!(forward >= 0)) throw new Error('the flush did not write the forward zone');
    return { forward, all };
  }

  private check(): void {
    const error = this.reconciler.status().lastWriteError;
    if (error !== undefined) throw new Error(`a flush failed: ${error}`);
  }

  async close(): Promise<void> {
    await this.reconciler.stop();
    rmSync(this.directory, { recursive: true, force: true });
  }
}

function summarize(name: string, without: readonly number[], withReverse: readonly number[]): ReverseCase {
  const stats = (values: readonly number[]) => ({
    medianMs: round(median(values), 1),
    p95Ms: round(quantile(values, 0.95) ?? NaN, 1),
    runsMs: values.map((value) => round(value, 1)),
  });
  const ratios = without.map((value, index) => (withReverse[index] ?? NaN) / value);
  return {
    name,
    trials: without.length,
    without: stats(without),
    with: stats(withReverse),
    ratioOfMedians: round(median(withReverse) / median(without), 3),
    pairedRatioMedian: round(median(ratios), 3),
  };
}

/** Runs `trial(side)` for both sides `trials` times, alternating which goes first. */
async function interleaved(
  trials: number,
  trial: (side: 'without' | 'with', index: number) => Promise<FlushTiming>,
): Promise<{ without: FlushTiming[]; with: FlushTiming[] }> {
  const times = { without: [] as FlushTiming[], with: [] as FlushTiming[] };
  for (let index = 0; index < trials; index += 1) {
    const order: ('without' | 'with')[] = index % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
    for (const side of order) times[side].push(await trial(side, index));
  }
  return times;
}

/**
 * The two cases of one kind of flush: until every zone is on disk (the whole flush), and until the forward
 * zone is (what lookups by name wait for; the reverse zones are written after it).
 */
function summarizeBoth(
  name: string,
  times: { without: readonly FlushTiming[]; with: readonly FlushTiming[] },
): ReverseCase[] {
  const all = (list: readonly FlushTiming[]) => list.map((timing) => timing.all);
  const forward = (list: readonly FlushTiming[]) => list.map((timing) => timing.forward);
  return [
    summarize(`${name}: every zone on disk`, all(times.without), all(times.with)),
    summarize(`${name}: forward zone on disk`, forward(times.without), forward(times.with)),
  ];
}

export async function runReverseSuite(context: SuiteContext): Promise<SuiteOutcome<ReverseResult>> {
  const settings = settingsFor(context.size);
  const ranges = parseReverseRanges(settings.ranges);
  const loadBefore = loadAverage();
  const date = new Date().toISOString();
  const temp = mkdtempSync(path.join(os.tmpdir(), 'zw-bench-reverse-'));
  const generation = new Array<number>(settings.vmis).fill(0);
  const entries = new Map<string, readonly ClaimedRecord[]>();
  for (let index = 0; index < settings.vmis; index += 1) {
    const { key, records } = vmiEntry(index, 0);
    entries.set(key, records);
  }
  const cases: ReverseCase[] = [];
  try {
    log(`${settings.vmis} VMIs, ${settings.fullTrials} full flushes per side`);
    let zoneRecords = 0;
    let reverseRecords = 0;
    const full = await interleaved(settings.fullTrials, async (name) => {
      const side = new Side(temp, `full-${name}`, name === 'with' ? ranges : []);
      try {
        const elapsed = await side.firstFlush(entries);
        const status = side.reconciler.status();
        zoneRecords = status.records ?? 0;
        if (name === 'with') {
          reverseRecords = status.reverseZones.reduce((sum, zone) => sum + (zone.records ?? 0), 0);
          if (side.writes.length !== 1 + ranges.length) throw new Error('not every reverse zone was written');
        }
        return elapsed;
      } finally {
        await side.close();
      }
    });
    cases.push(...summarizeBoth('full flush', full));

    const sides = {
      without: new Side(temp, 'without', []),
      with: new Side(temp, 'with', ranges),
    };
    try {
      await sides.without.firstFlush(entries);
      await sides.with.firstFlush(entries);
      // Both sides get the same changes: the VMIs of trial i are picked before the first side runs it.
      let next = 0;
      const changesOf = (count: number) => {
        const changes: { key: string; records: readonly ClaimedRecord[] }[] = [];
        for (let picked = 0; picked < count; picked += 1) {
          const index = (next * 7919) % settings.vmis;
          next += 1;
          generation[index] = (generation[index] ?? 0) + 1;
          changes.push(vmiEntry(index, generation[index]));
        }
        return changes;
      };
      for (const count of [1, settings.few]) {
        log(`${settings.incrementalTrials} incremental flushes per side, ${count} VMI(s) changed`);
        let pending: ReturnType<typeof changesOf> = [];
        const times = await interleaved(settings.incrementalTrials, async (name, index) => {
          if (name === (index % 2 === 0 ? 'without' : 'with')) pending = changesOf(count);
          const side = sides[name];
          const before = side.writes.length;
          const elapsed = await side.change(pending);
          if (side.writes.length === before) throw new Error('an incremental flush wrote nothing');
          return elapsed;
        });
        cases.push(
          ...summarizeBoth(`incremental flush, ${count} VMI${count === 1 ? '' : 's'} changed`, times),
        );
      }
    } finally {
      await sides.without.close();
      await sides.with.close();
    }
    for (const entry of cases) {
      log(
        `${entry.name}: without ${entry.without.medianMs} ms (p95 ${entry.without.p95Ms}), with ${entry.with.medianMs} ms (p95 ${entry.with.p95Ms}), ratio ${entry.ratioOfMedians}`,
      );
    }
    const result: ReverseResult = {
      machine: machineDescription(),
      date,
      loadBefore,
      loadAfter: loadAverage(),
      settings,
      zoneRecords,
      reverseRecords,
      cases,
    };
    return { section: { ...result, markdown: renderReverseMarkdown(result) }, charts: {} };
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}
