// Part 3: a sustained update load; writes, lag, backlog, RSS, and that every write reflects every event older
// than max-delay + 100 ms. A marker VMI (0) is updated in every batch with a counter in its address.
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { cpuSeconds, processMemory, scrapeMetrics, sleep } from '@zonewright/testkit';
import { histogramShareWithin } from '@zonewright/testkit';
import { mean, quantile, slope } from '../common/stats.js';
import type { ZoneVersion } from '../common/zone-observer.js';
import { counterIncrease, histogramBetween, meanMs, summarizeHistogram } from './metrics.js';
import type { HistogramSummary } from './metrics.js';
import type { Generations } from './latency-phase.js';
import { perBatchOf } from './settings.js';
import type { MonitorSettings } from './settings.js';
import type { Cluster } from './start-phase.js';
import { markerAddress, markerCounterOf, ownerOf, vmiObject } from './vmi-objects.js';
import { addressIn } from './zone-text.js';

type Point = [number, number];

export interface LoadResult {
  readonly updates: number;
  readonly batches: number;
  readonly skippedBatches: number;
  readonly seconds: number;
  readonly achievedRatePerS: number;
  readonly batchCostMeanMs: number | undefined;
  readonly batchCostMaxMs: number;
  readonly writes: number;
  readonly renamesSeen: number;
  readonly missingMarker: number;
  readonly drainMs: number;
  readonly violations: number;
  readonly violationWorstAgeMs: number;
  readonly stalenessSeenP50Ms: number | undefined;
  readonly stalenessSeenMaxMs: number;
  readonly stalenessWrittenMaxMs: number;
  readonly lagSamples: number;
  readonly lagMeanMs: number | undefined;
  readonly lagMaxMs: number;
  readonly lagFirstThirdMeanMs: number | undefined;
  readonly lagLastThirdMeanMs: number | undefined;
  readonly lagSlopeMsPerS: number;
  readonly lagSeries: readonly Point[];
  readonly peakLagMaxMs: number;
  readonly peakLagFirstThirdMeanMs: number | undefined;
  readonly peakLagLastThirdMeanMs: number | undefined;
  readonly peakLagSlopeMsPerS: number;
  readonly cycleFirstThirdMeanMs: number | undefined;
  readonly cycleLastThirdMeanMs: number | undefined;
  readonly rssMeanMB: number | undefined;
  readonly rssMaxMB: number;
  readonly rssFirstMB: number | undefined;
  readonly rssLastMB: number | undefined;
  readonly hwmAfterLoadMB: number;
  readonly cpuPercent: number;
  readonly monitorView: HistogramSummary & { readonly shareWithin1s: number; readonly shareWithin2s: number };
  readonly writeDurationMeanMs: number | undefined;
  readonly apiEventsApplied: number;
}

interface Rename {
  readonly at: number;
  /** The earliest the rename can have happened. */
  readonly writtenAt: number;
  readonly counter: number;
  /** The newest counter sent more than max-delay + 100 ms before writtenAt: the version must hold it. */
  readonly required: number;
  readonly stalenessSeenMs: number;
  readonly stalenessWrittenMs: number;
}

/** Follows the marker counter through the zone versions. */
class MarkerTracker {
  /** markerTimes[c - 1] = when marker counter c was sent (performance.now()). */
  readonly markerTimes: number[] = [];
  readonly renames: Rename[] = [];
  readonly cyclePeaks: Point[] = [];
  missingMarker = 0;
  /** The newest counter any version held. */
  fileCounter = 0;
  startedAt = performance.now();

  constructor(
    private readonly graceMs: number,
    private readonly log: (message: string) => void,
  ) {}

  /** The newest marker counter sent before `time`. */
  sentBefore(time: number): number {
    let low = 0;
    let high = this.markerTimes.length; // answer in [low, high]
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if ((this.markerTimes[middle - 1] ?? Infinity) < time) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /** The age of the oldest marker update the zone does not hold yet, at `now`. */
  lagAt(now: number): number {
    const oldestMissing = this.markerTimes[this.fileCounter];
    return oldestMissing !== undefined ? now - oldestMissing : 0;
  }

  readonly onVersion = ({ text, at, writtenAt }: ZoneVersion): void => {
    const counter = markerCounterOf(addressIn(text, ownerOf(0)));
    if (counter === undefined) {
      this.missingMarker++;
      this.log('a zone version without the marker VMI');
      return;
    }
    // Just before this version, the oldest update the file lacked was counter previous + 1: the peak of the lag
    // sawtooth in this write cycle (the 1 s samples alias against a ~1.1 s write cycle).
    const previousMissing = this.markerTimes[this.fileCounter];
    if (previousMissing !== undefined && previousMissing < at) {
      this.cyclePeaks.push([(at - this.startedAt) / 1000, at - previousMissing]);
    }
    this.fileCounter = Math.max(this.fileCounter, counter);
    // The rename happened in [writtenAt, at]. Checked against writtenAt (the earliest it can have happened), so a
    // slow reader cannot cause a violation: every counter sent more than max-delay + 100 ms before it must be in.
    const renameLowerBound = Math.min(at, writtenAt);
    const oldestMissing = this.markerTimes[counter]; // counter + 1 was sent at markerTimes[counter]
    this.renames.push({
      at,
      writtenAt: renameLowerBound,
      counter,
      required: this.sentBefore(renameLowerBound - this.graceMs),
      stalenessSeenMs: oldestMissing !== undefined && oldestMissing < at ? at - oldestMissing : 0,
      stalenessWrittenMs:
        oldestMissing !== undefined && oldestMissing < renameLowerBound
          ? renameLowerBound - oldestMissing
          : 0,
    });
  };
}

interface Sent {
  readonly sent: number;
  readonly skipped: number;
  readonly batches: number;
  readonly batchCosts: readonly number[];
  readonly lastUpdateAt: number;
  readonly final: Promise<ZoneVersion>;
}

/** The first version after the last batch that holds the final state of every VMI. */
function finalStateOf(cluster: Cluster, tracker: MarkerTracker, generations: Generations, vmis: number) {
  return cluster.observer.waitFor(
    (text) => {
      if (markerCounterOf(addressIn(text, ownerOf(0))) !== tracker.markerTimes.length) return false;
      for (let index = 1; index < vmis; index++) {
        if (addressIn(text, ownerOf(index)) !== generations.expectedAddress(index)) return false;
      }
      return true;
    },
    30_000,
    'reflect the final state of every VMI',
  );
}

async function sendBatches(
  cluster: Cluster,
  tracker: MarkerTracker,
  generations: Generations,
  settings: MonitorSettings,
): Promise<Sent> {
  const perBatch = perBatchOf(settings);
  const batches = Math.round((settings.loadSeconds * 1000) / settings.batchIntervalMs);
  const batchCosts: number[] = [];
  let sent = 0;
  let skipped = 0;
  let cursor = 1;
  let final: Promise<ZoneVersion> | undefined;
  let lastUpdateAt = tracker.startedAt;
  for (let batch = 0; batch < batches; batch++) {
    const due = tracker.startedAt + batch * settings.batchIntervalMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    else if (wait < -5 * settings.batchIntervalMs && batch < batches - 1) {
      // More than 5 batches behind: drop this slot instead of bursting, so the rate stays bounded.
      skipped++;
      continue;
    }
    // Registered before the last batch, so no version after it can be missed.
    if (batch === batches - 1) final = finalStateOf(cluster, tracker, generations, settings.vmis);
    const batchStarted = performance.now();
    tracker.markerTimes.push(batchStarted);
    cluster.api.modify(vmiObject(0, markerAddress(tracker.markerTimes.length)));
    for (let k = 1; k < perBatch; k++) {
      const index = cursor;
      cursor = cursor + 1 >= settings.vmis ? 1 : cursor + 1;
      cluster.api.modify(vmiObject(index, generations.bump(index)));
      // Let the reader and the samplers run between small chunks (a modify costs ~0.5 ms here).
      if (k % 10 === 0) await yieldToLoop();
    }
    sent += perBatch;
    lastUpdateAt = performance.now();
    batchCosts.push(lastUpdateAt - batchStarted);
  }
  if (final === undefined)
    throw new Error('the load phase sent no batch: raise ZW_BENCH_MONITOR_LOAD_SECONDS');
  return { sent, skipped, batches, batchCosts, lastUpdateAt, final };
}

const thirdOf = (length: number): number => Math.max(1, Math.floor(length / 3));

export async function measureLoad(
  cluster: Cluster,
  generations: Generations,
  settings: MonitorSettings,
  log: (message: string) => void,
): Promise<LoadResult> {
  const { observer, monitor } = cluster;
  await sleep(settings.maxDelayMs + 200);
  const tracker = new MarkerTracker(settings.maxDelayMs + 100, log);
  const removeListener = observer.onVersion(tracker.onVersion);
  const before = await scrapeMetrics(monitor.metricsUrl);
  const cpuBefore = cpuSeconds(monitor.child.pid);
  const lagSamples: Point[] = [];
  const rssSamples: number[] = [];
  tracker.startedAt = performance.now();
  const sampler = setInterval(() => {
    const now = performance.now();
    lagSamples.push([(now - tracker.startedAt) / 1000, tracker.lagAt(now)]);
    try {
      rssSamples.push(processMemory(monitor.child.pid).rssMiB);
    } catch {
      // the monitor died; reported below
    }
  }, 1000);
  log(
    `load: ${perBatchOf(settings)} updates every ${settings.batchIntervalMs} ms for ${settings.loadSeconds} s`,
  );
  let sent: Sent;
  try {
    sent = await sendBatches(cluster, tracker, generations, settings);
  } finally {
    clearInterval(sampler);
  }
  const final = await sent.final;
  removeListener();
  // The monitor updates its metrics after the directory fsync that follows the rename: let the last write finish.
  await sleep(500);
  const cpuAfter = cpuSeconds(monitor.child.pid);
  const cpuWindowS = (performance.now() - tracker.startedAt) / 1000;
  const after = await scrapeMetrics(monitor.metricsUrl);
  const loadHistogram = histogramBetween(after, before, 'zonewright_event_to_zone_seconds');
  const durationS = (sent.lastUpdateAt - tracker.startedAt) / 1000;
  const lags = lagSamples.map((p) => p[1]);
  const { renames, cyclePeaks, markerTimes } = tracker;
  const violations = renames.filter((r) => r.counter < r.required);
  // How long before the earliest possible rename the oldest missing update was sent.
  const worst = violations.reduce(
    (soFar, r) => Math.max(soFar, r.writtenAt - (markerTimes[r.counter] ?? r.writtenAt)),
    0,
  );
  const gaps = renames.slice(1).map((r, index) => r.at - (renames[index]?.at ?? r.at));
  const peaks = cyclePeaks.map((p) => p[1]);
  const result: LoadResult = {
    updates: sent.sent,
    batches: sent.batches,
    skippedBatches: sent.skipped,
    seconds: durationS,
    achievedRatePerS: sent.sent / durationS,
    batchCostMeanMs: mean(sent.batchCosts),
    batchCostMaxMs: Math.max(0, ...sent.batchCosts),
    writes: counterIncrease(after, before, 'zonewright_zone_writes_total'),
    renamesSeen: renames.length,
    missingMarker: tracker.missingMarker,
    drainMs: final.at - sent.lastUpdateAt,
    violations: violations.length,
    violationWorstAgeMs: worst,
    stalenessSeenP50Ms: quantile(
      renames.map((r) => r.stalenessSeenMs),
      0.5,
    ),
    stalenessSeenMaxMs: Math.max(0, ...renames.map((r) => r.stalenessSeenMs)),
    stalenessWrittenMaxMs: Math.max(0, ...renames.map((r) => r.stalenessWrittenMs)),
    lagSamples: lags.length,
    lagMeanMs: mean(lags),
    lagMaxMs: Math.max(0, ...lags),
    lagFirstThirdMeanMs: mean(lags.slice(0, thirdOf(lags.length))),
    lagLastThirdMeanMs: mean(lags.slice(-thirdOf(lags.length))),
    lagSlopeMsPerS: slope(lagSamples),
    lagSeries: lagSamples.map(([t, lag]) => [Number(t.toFixed(1)), Math.round(lag)]),
    peakLagMaxMs: Math.max(0, ...peaks),
    peakLagFirstThirdMeanMs: mean(peaks.slice(0, thirdOf(peaks.length))),
    peakLagLastThirdMeanMs: mean(peaks.slice(-thirdOf(peaks.length))),
    peakLagSlopeMsPerS: slope(cyclePeaks),
    cycleFirstThirdMeanMs: mean(gaps.slice(0, thirdOf(gaps.length))),
    cycleLastThirdMeanMs: mean(gaps.slice(-thirdOf(gaps.length))),
    rssMeanMB: mean(rssSamples),
    rssMaxMB: Math.max(0, ...rssSamples),
    rssFirstMB: rssSamples[0],
    rssLastMB: rssSamples.at(-1),
    hwmAfterLoadMB: processMemory(monitor.child.pid).hwmMiB,
    cpuPercent: ((cpuAfter - cpuBefore) / cpuWindowS) * 100,
    monitorView: {
      ...summarizeHistogram(loadHistogram),
      shareWithin1s: histogramShareWithin(loadHistogram, 1) ?? NaN,
      shareWithin2s: histogramShareWithin(loadHistogram, 2) ?? NaN,
    },
    writeDurationMeanMs: meanMs(histogramBetween(after, before, 'zonewright_zone_write_duration_seconds')),
    apiEventsApplied: counterIncrease(after, before, 'zonewright_api_events_total', { type: 'MODIFIED' }),
  };
  log(
    `load: ${sent.sent} updates in ${durationS.toFixed(1)} s, ${result.writes} writes, drain ${result.drainMs.toFixed(0)} ms, ` +
      `${violations.length} violations, lag max ${result.lagMaxMs.toFixed(0)} ms, RSS max ${result.rssMaxMB.toFixed(0)} MB`,
  );
  return result;
}
