// Part 2: API event → zone file renamed into place, one change at a time.
import { performance } from 'node:perf_hooks';
import { scrapeMetrics, sleep } from '@zonewright/testkit';
import { errorMessage } from '../common/log.js';
import { quantile } from '../common/stats.js';
import { counterIncrease, histogramBetween, meanMs, summarizeHistogram } from './metrics.js';
import type { HistogramSummary } from './metrics.js';
import type { MonitorSettings, MonitorTargets } from './settings.js';
import type { Cluster } from './start-phase.js';
import { ownerOf, vmiAddress, vmiObject } from './vmi-objects.js';
import { addressIn } from './zone-text.js';

export interface LatencyResult {
  readonly samples: number;
  readonly timeouts: number;
  readonly p50Ms: number | undefined;
  readonly p90Ms: number | undefined;
  readonly p99Ms: number | undefined;
  readonly maxMs: number | undefined;
  readonly minMs: number;
  readonly aboveTarget: number;
  readonly versionsSeen: number;
  readonly seenByPollOnly: number;
  readonly monitorView: HistogramSummary;
  readonly writeDurationMeanMs: number | undefined;
  readonly writes: number;
}

/** The generation of every VMI's address (VMI 0, the marker, has none). */
export class Generations {
  private readonly values: Uint8Array;

  constructor(vmis: number) {
    this.values = new Uint8Array(vmis);
  }

  /** Moves VMI `index` to its next address and returns it. */
  bump(index: number): string {
    const next = ((this.values[index] ?? 0) + 1) % 50;
    this.values[index] = next;
    return vmiAddress(index, next);
  }

  expectedAddress(index: number): string | undefined {
    return index === 0 ? undefined : vmiAddress(index, this.values[index] ?? 0);
  }
}

export async function measureLatency(
  cluster: Cluster,
  generations: Generations,
  settings: MonitorSettings,
  targets: MonitorTargets,
  log: (message: string) => void,
): Promise<LatencyResult> {
  const { api, observer, monitor } = cluster;
  const { vmis } = settings;
  await sleep(500);
  const before = await scrapeMetrics(monitor.metricsUrl);
  const latencies: number[] = [];
  let timeouts = 0;
  const versionsBefore = observer.versions;
  const pollBefore = observer.seenByPoll;
  const stride = Math.max(1, Math.floor((vmis - 1) / Math.max(1, settings.samples)));
  log(`measuring event → zone latency with ${settings.samples} single changes`);
  for (let sample = 0; sample < settings.samples; sample++) {
    const index = 1 + ((sample * stride + (sample % 7)) % (vmis - 1));
    const address = generations.bump(index);
    const owner = ownerOf(index);
    const seen = observer.waitFor(
      (text) => addressIn(text, owner) === address,
      10_000,
      `show ${owner} ${address}`,
    );
    const modifiedAt = performance.now();
    api.modify(vmiObject(index, address));
    try {
      const { at } = await seen;
      latencies.push(at - modifiedAt);
    } catch (error) {
      timeouts++;
      log(errorMessage(error));
    }
    // Let the write finish (directory fsync) and space samples irregularly so they are independent.
    await sleep(200 + Math.random() * 200);
  }
  const after = await scrapeMetrics(monitor.metricsUrl);
  const result: LatencyResult = {
    samples: latencies.length,
    timeouts,
    p50Ms: quantile(latencies, 0.5),
    p90Ms: quantile(latencies, 0.9),
    p99Ms: quantile(latencies, 0.99),
    maxMs: quantile(latencies, 1),
    minMs: Math.min(...latencies),
    aboveTarget: latencies.filter((x) => x > targets.latencyP99Ms).length,
    versionsSeen: observer.versions - versionsBefore,
    seenByPollOnly: observer.seenByPoll - pollBefore,
    monitorView: summarizeHistogram(histogramBetween(after, before, 'zonewright_event_to_zone_seconds')),
    writeDurationMeanMs: meanMs(histogramBetween(after, before, 'zonewright_zone_write_duration_seconds')),
    writes: counterIncrease(after, before, 'zonewright_zone_writes_total'),
  };
  log(
    `latency p50 ${result.p50Ms?.toFixed(0)} ms, p99 ${result.p99Ms?.toFixed(0)} ms, max ${result.maxMs?.toFixed(0)} ms (monitor's own view: mean ${result.monitorView.meanMs?.toFixed(0)} ms)`,
  );
  return result;
}
