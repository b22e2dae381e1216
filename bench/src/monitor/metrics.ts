import {
  histogramDelta,
  histogramMean,
  histogramOf,
  histogramQuantile,
  histogramShareWithin,
  sampleValue,
} from '@zonewright/testkit';
import type { Histogram, PrometheusSample } from '@zonewright/testkit';

export type Scrape = readonly PrometheusSample[];

export interface HeapView {
  readonly heapUsedMB: number;
  readonly heapTotalMB: number;
  readonly externalMB: number;
}

/** The monitor's own view of its memory (prom-client default metrics), MiB. */
export function heapOf(scrape: Scrape): HeapView {
  const value = (name: string): number => (sampleValue(scrape, `zonewright_process_${name}`) ?? 0) / 2 ** 20;
  return {
    heapUsedMB: value('nodejs_heap_size_used_bytes'),
    heapTotalMB: value('nodejs_heap_size_total_bytes'),
    externalMB: value('nodejs_external_memory_bytes'),
  };
}

/** A counter's increase between two scrapes (0 where it is absent). */
export function counterIncrease(
  after: Scrape,
  before: Scrape,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  return (sampleValue(after, name, labels) ?? 0) - (sampleValue(before, name, labels) ?? 0);
}

/** A histogram's observations between two scrapes. */
export function histogramBetween(after: Scrape, before: Scrape, name: string): Histogram {
  return histogramDelta(histogramOf(after, name), histogramOf(before, name));
}

export interface HistogramSummary {
  readonly count: number;
  readonly meanMs: number | undefined;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly shareWithin200Ms: number | undefined;
  readonly shareWithin300Ms: number | undefined;
}

export function summarizeHistogram(histogram: Histogram): HistogramSummary {
  const meanSeconds = histogramMean(histogram);
  return {
    count: histogram.count,
    meanMs: meanSeconds === undefined ? undefined : meanSeconds * 1000,
    p50Ms: (histogramQuantile(histogram, 0.5) ?? NaN) * 1000,
    p99Ms: (histogramQuantile(histogram, 0.99) ?? NaN) * 1000,
    shareWithin200Ms: histogramShareWithin(histogram, 0.2),
    shareWithin300Ms: histogramShareWithin(histogram, 0.3),
  };
}

/** Mean of a histogram's observations in ms, or undefined. */
export function meanMs(histogram: Histogram): number | undefined {
  const seconds = histogramMean(histogram);
  return seconds === undefined ? undefined : seconds * 1000;
}
