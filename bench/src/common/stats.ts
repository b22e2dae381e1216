import os from 'node:os';

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? NaN)
    : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

/** The nearest-rank quantile (the smallest value with at least q of the values at or below it). */
export function quantile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

export function mean(values: readonly number[]): number | undefined {
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Least-squares slope of y over x. */
export function slope(points: readonly (readonly [number, number])[]): number {
  if (points.length < 2) return 0;
  const mx = mean(points.map((p) => p[0])) ?? 0;
  const my = mean(points.map((p) => p[1])) ?? 0;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export interface Spread {
  readonly min: number;
  readonly median: number;
  readonly p90: number;
  readonly max: number;
  readonly all?: readonly number[];
}

/** min / median / p90 / max (nearest rank) of a non-empty list. */
export function spread(values: readonly number[]): Spread {
  return {
    min: Math.min(...values),
    median: median(values),
    p90: quantile(values, 0.9) ?? NaN,
    max: Math.max(...values),
    all: values,
  };
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** CPUs, memory and Node version of this machine, for the report. */
export function machineDescription(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

export function loadAverage(): number[] {
  return os.loadavg().map((x) => round(x, 2));
}
