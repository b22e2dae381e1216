import { quantile } from '../common/stats.js';

/** One change followed to the answer; times in ms after the change. */
export interface FreshnessSample {
  /** The zone file holding the change was seen (renamed into place). */
  readonly zoneMs: number;
  /** CoreDNS first answered the change. */
  readonly answerMs: number;
}

export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export function percentiles(values: readonly number[]): Percentiles {
  const at = (q: number): number => Math.round(quantile(values, q) ?? NaN);
  return { count: values.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: at(1) };
}

export interface FreshnessSummary {
  /** change → answer */
  readonly total: Percentiles;
  /** change → zone renamed (the watcher's share) */
  readonly watcher: Percentiles;
  /** zone renamed → answered (CoreDNS's share: the reload tick and its parse) */
  readonly coreDns: Percentiles;
  readonly timeouts: number;
  /** change → answer of every sample, in order (for the chart). */
  readonly totals: readonly number[];
}

export function summarize(samples: readonly FreshnessSample[], timeouts: number): FreshnessSummary {
  return {
    total: percentiles(samples.map((s) => s.answerMs)),
    watcher: percentiles(samples.map((s) => s.zoneMs)),
    coreDns: percentiles(samples.map((s) => s.answerMs - s.zoneMs)),
    timeouts,
    totals: samples.map((s) => Math.round(s.answerMs)),
  };
}
