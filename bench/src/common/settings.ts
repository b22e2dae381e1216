/** A benchmark setting is out of range. */
export class BenchSettingError extends Error {
  override readonly name = 'BenchSettingError';
}

/** How big a run is: `full` for the report, `quick` to check that a suite still runs end to end. */
export type BenchSize = 'full' | 'quick';

/**
 * A whole-number setting from the environment (`ZW_BENCH_…`), else the default for the run's size.
 * Throws BenchSettingError naming the variable when the value is not a whole number in [min, max].
 */
export function intSetting(
  name: string,
  defaults: { readonly full: number; readonly quick: number },
  size: BenchSize,
  range: { readonly min: number; readonly max?: number } = { min: 0 },
): number {
  const text = process.env[name];
  const value = text === undefined || text === '' ? defaults[size] : Number(text);
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isInteger(value) || value < range.min || value > max) {
    throw new BenchSettingError(
      `${name} must be a whole number from ${range.min} to ${max.toLocaleString('en')}, got ${text ?? String(value)}`,
    );
  }
  return value;
}
