import { BenchSettingError, intSetting } from '../common/settings.js';
import type { BenchSize } from '../common/settings.js';

export const ORIGIN = 'vm.example.com';
export const ZONE_FILE = `db.${ORIGIN}`;

export interface MonitorSettings {
  readonly vmis: number;
  readonly samples: number;
  readonly loadSeconds: number;
  readonly loadRate: number;
  /** 0 skips the large-cluster part. */
  readonly bigVmis: number;
  /** Starts of each command in the side-by-side start comparison (0 skips it). */
  readonly startTrials: number;
  readonly debounceMs: number;
  readonly maxDelayMs: number;
  readonly batchIntervalMs: number;
}

export interface MonitorTargets {
  readonly startMs: number;
  readonly latencyP99Ms: number;
  readonly drainMs: number;
  readonly rssMB: number;
}

/**
 * Sizes: ZW_BENCH_MONITOR_VMIS, _SAMPLES, _LOAD_SECONDS, _LOAD_RATE, _BIG_VMIS, _START_TRIALS (quick: 500, 10, 5,
 * 1000, 2000, 1).
 */
export function monitorSettings(size: BenchSize): MonitorSettings {
  const limit = { min: 0, max: 300_000 };
  const settings = {
    vmis: intSetting('ZW_BENCH_MONITOR_VMIS', { full: 10_000, quick: 500 }, size, { min: 2, max: 300_000 }),
    samples: intSetting('ZW_BENCH_MONITOR_SAMPLES', { full: 200, quick: 10 }, size),
    loadSeconds: intSetting('ZW_BENCH_MONITOR_LOAD_SECONDS', { full: 60, quick: 5 }, size),
    loadRate: intSetting('ZW_BENCH_MONITOR_LOAD_RATE', { full: 1000, quick: 1000 }, size),
    bigVmis: intSetting('ZW_BENCH_MONITOR_BIG_VMIS', { full: 100_000, quick: 2000 }, size, limit),
    startTrials: intSetting('ZW_BENCH_MONITOR_START_TRIALS', { full: 3, quick: 1 }, size, {
      min: 0,
      max: 20,
    }),
    debounceMs: 200,
    maxDelayMs: 1000,
    batchIntervalMs: 100,
  };
  if (settings.loadSeconds > 0 && settings.loadRate === 0)
    throw new BenchSettingError('ZW_BENCH_MONITOR_LOAD_RATE must be at least 1 when there is a load phase');
  return settings;
}

export function monitorTargets(settings: MonitorSettings): MonitorTargets {
  return {
    startMs: 3000,
    latencyP99Ms: settings.debounceMs + 50,
    drainMs: settings.maxDelayMs + 500,
    rssMB: 300,
  };
}

/** Updates per batch of the load phase. */
export function perBatchOf(settings: MonitorSettings): number {
  return Math.max(1, Math.round((settings.loadRate * settings.batchIntervalMs) / 1000));
}
