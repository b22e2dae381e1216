/**
 * A small reader for the Prometheus text exposition format (what `/metrics` serves), for tests and the bench:
 * samples with their labels, counters and gauges by name, histograms with their cumulative buckets, and
 * histogram_quantile as Prometheus computes it.
 */

export interface PrometheusSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface HistogramBucket {
  /** Upper bound (inclusive); Infinity for `+Inf`. */
  readonly le: number;
  /** Cumulative count. */
  readonly count: number;
}

export interface Histogram {
  /** Sorted by `le`. */
  readonly buckets: readonly HistogramBucket[];
  readonly sum: number;
  readonly count: number;
}

/** A line of exposition text this reader does not understand. */
export class PrometheusTextError extends Error {
  override readonly name = 'PrometheusTextError';
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/gy;

/**
 * A sample value. Like Prometheus's own parser (Go's ParseFloat), NaN and Inf are read in any case: prom-client
 * writes a NaN gauge (an event-loop lag with no samples yet) as `Nan`.
 */
function parseValue(text: string): number {
  const lower = text.toLowerCase();
  if (lower === 'nan') return NaN;
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  return Number(text);
}

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_match, char: string) => (char === 'n' ? '\n' : char));
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  let consumed = 0;
  for (let match = LABEL.exec(text); match !== null; match = LABEL.exec(text)) {
    const [, key, value] = match;
    if (key !== undefined && value !== undefined) labels[key] = unescapeLabel(value);
    consumed = LABEL.lastIndex;
  }
  if (text.slice(consumed).trim() !== '') throw new PrometheusTextError(`bad labels in: ${line}`);
  return labels;
}

/** Every sample of the text; comments (`# HELP`, `# TYPE`) and blank lines are skipped. */
export function parsePrometheusText(text: string): PrometheusSample[] {
  const samples: PrometheusSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    const [, name, labelText, valueText] = match ?? [];
    if (name === undefined || valueText === undefined) throw new PrometheusTextError(`not a sample: ${line}`);
    const value = parseValue(valueText);
    if (Number.isNaN(value) && valueText.toLowerCase() !== 'nan')
      throw new PrometheusTextError(`bad value in: ${line}`);
    samples.push({ name, labels: labelText === undefined ? {} : parseLabels(labelText, line), value });
  }
  return samples;
}

function matches(sample: PrometheusSample, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(labels).every(([key, value]) => sample.labels[key] === value);
}

/** The first sample named `name` whose labels include `labels`, or undefined. */
export function sampleValue(
  samples: readonly PrometheusSample[],
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  return samples.find((sample) => sample.name === name && matches(sample, labels))?.value;
}

/** The histogram `name` (its `_bucket`, `_sum` and `_count` series) whose labels include `labels`; empty if absent. */
export function histogramOf(
  samples: readonly PrometheusSample[],
  name: string,
  labels: Readonly<Record<string, string>> = {},
): Histogram {
  const buckets = samples
    .filter((sample) => sample.name === `${name}_bucket` && matches(sample, labels))
    .flatMap((sample) =>
      sample.labels.le === undefined ? [] : [{ le: parseValue(sample.labels.le), count: sample.value }],
    )
    .sort((a, b) => a.le - b.le);
  return {
    buckets,
    sum: sampleValue(samples, `${name}_sum`, labels) ?? 0,
    count: sampleValue(samples, `${name}_count`, labels) ?? 0,
  };
}

/** What was observed between two scrapes of the same histogram. */
export function histogramDelta(after: Histogram, before: Histogram): Histogram {
  return {
    buckets: after.buckets.map((bucket) => ({
      le: bucket.le,
      count: bucket.count - (before.buckets.find((old) => old.le === bucket.le)?.count ?? 0),
    })),
    sum: after.sum - before.sum,
    count: after.count - before.count,
  };
}

/** histogram_quantile as Prometheus computes it (linear within the bucket); undefined without observations. */
export function histogramQuantile(histogram: Histogram, q: number): number | undefined {
  if (histogram.count <= 0) return undefined;
  const rank = q * histogram.count;
  let previousLe = 0;
  let previousCount = 0;
  for (const bucket of histogram.buckets) {
    if (bucket.count >= rank) {
      if (bucket.le === Infinity) return previousLe;
      const inBucket = bucket.count - previousCount;
      return (
        previousLe + (inBucket === 0 ? 0 : ((rank - previousCount) / inBucket) * (bucket.le - previousLe))
      );
    }
    previousLe = bucket.le;
    previousCount = bucket.count;
  }
  return previousLe;
}

/** Share of the observations at or below the bucket bound `le` (which must be a bucket), or undefined. */
export function histogramShareWithin(histogram: Histogram, le: number): number | undefined {
  const bucket = histogram.buckets.find((candidate) => candidate.le === le);
  return bucket === undefined || histogram.count === 0 ? undefined : bucket.count / histogram.count;
}

/** Mean of the observations, or undefined without any. */
export function histogramMean(histogram: Histogram): number | undefined {
  return histogram.count > 0 ? histogram.sum / histogram.count : undefined;
}

/** GET `url` (a `/metrics` endpoint) and parse it. */
export async function scrapeMetrics(url: string, timeoutMs = 10_000): Promise<PrometheusSample[]> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${text.slice(0, 200)}`);
  return parsePrometheusText(text);
}
