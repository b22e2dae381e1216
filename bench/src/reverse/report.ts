// The reverse section of results.json and its markdown.
import type { BenchSize } from '../common/settings.js';

export interface ReverseSettings {
  readonly size: BenchSize;
  readonly vmis: number;
  readonly fullTrials: number;
  readonly incrementalTrials: number;
  /** VMIs changed at once in the "few" incremental case. */
  readonly few: number;
  readonly ranges: string;
}

export interface FlushTimes {
  readonly medianMs: number;
  readonly p95Ms: number;
  readonly runsMs: readonly number[];
}

export interface ReverseCase {
  readonly name: string;
  readonly trials: number;
  readonly without: FlushTimes;
  readonly with: FlushTimes;
  /** median(with) / median(without): the number the target is about. */
  readonly ratioOfMedians: number;
  /** The median of with/without per trial (the two runs of a trial are back to back). */
  readonly pairedRatioMedian: number;
}

export interface ReverseResult {
  readonly machine: string;
  readonly date: string;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  readonly settings: ReverseSettings;
  /** Records of the forward zone and PTRs over every reverse zone. */
  readonly zoneRecords: number;
  readonly reverseRecords: number;
  readonly cases: readonly ReverseCase[];
  readonly markdown?: string;
}

/** The target of issue 12: reverse zones add at most 20 % to a flush. */
export const TARGET_RATIO = 1.2;

const ms = (value: number): string => `${value.toFixed(1)} ms`;
const pct = (ratio: number): string => `${ratio >= 1 ? '+' : '−'}${Math.abs((ratio - 1) * 100).toFixed(0)} %`;

export function renderReverseMarkdown(result: ReverseResult): string {
  const { settings } = result;
  const lines = [
    '## Reverse zones: their share of a flush (issue 12)',
    '',
    `Machine: ${result.machine}. Date: ${result.date}. Load average (1/5/15 min) before ${result.loadBefore.join(' / ')}, after ${result.loadAfter.join(' / ')}.`,
    '',
    `${settings.vmis.toLocaleString('en')} VMIs with a dual-stack nic1 (records by the status monitor's builder: ${result.zoneRecords.toLocaleString('en')} A/AAAA records in the forward zone), through two real Reconcilers with a`,
    `FileZoneStore each (temp file, fsync, rename, directory fsync): one without reverse zones, one with \`--reverse-zone ${settings.ranges}\``,
    `(${result.reverseRecords.toLocaleString('en')} PTRs, every address covered). Their trials alternate (and which goes first alternates), each after a forced GC,`,
    'in one process, so load on this shared machine hits both alike. **Full flush**: a new Reconciler, empty directory,',
    'every VMI (`replaceAll` + `markSynced`). **Incremental**: the long-lived pair gets the same `upsert`s (new addresses',
    'in the same ranges) and flushes, timed from the upsert. Each is timed twice: until **every zone** is on disk (the',
    'last rename of the flush), and until the **forward zone** is (its write as the reconciler reports it: the forward',
    'zone is written first, then the reverse zones are planned and written).',
    '',
    '| case | trials | without: median | p95 | with reverse: median | p95 | ratio of medians | median of paired ratios | target ≤ 1.20 |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...result.cases.map(
      (entry) =>
        `| ${entry.name} | ${entry.trials} | ${ms(entry.without.medianMs)} | ${ms(entry.without.p95Ms)} | ${ms(entry.with.medianMs)} | ${ms(entry.with.p95Ms)} | ${entry.ratioOfMedians.toFixed(2)} (${pct(entry.ratioOfMedians)}) | ${entry.pairedRatioMedian.toFixed(2)} | ${entry.ratioOfMedians <= TARGET_RATIO ? 'met' : 'NOT met'} |`,
    ),
    '',
    ...result.cases
      .filter((entry) => entry.ratioOfMedians > TARGET_RATIO)
      .map((entry) => {
        const extra = entry.with.medianMs - entry.without.medianMs;
        const allowed = (TARGET_RATIO - 1) * entry.without.medianMs;
        const perPtr = (value: number): string => `${((value * 1000) / result.reverseRecords).toFixed(2)} µs`;
        return `- ${entry.name}: the reverse zones add ${ms(extra)} (${perPtr(extra)} per PTR: building, validating and writing them); the target allows ${ms(allowed)} at this forward flush (${perPtr(allowed)} per PTR). Measured alternatives: docs/zone-transfer.md.`;
      }),
    '',
    `Sizes: \`ZW_BENCH_REVERSE_VMIS\` ${settings.vmis}, \`_FULL_TRIALS\` ${settings.fullTrials}, \`_TRIALS\` ${settings.incrementalTrials}, \`_FEW\` ${settings.few} (${settings.size} run).`,
    '',
  ];
  return lines.join('\n');
}
