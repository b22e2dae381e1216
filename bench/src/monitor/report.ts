import type { LatencyResult } from './latency-phase.js';
import type { LoadResult } from './load-phase.js';
import type { MemoryResult } from './memory-phase.js';
import { perBatchOf } from './settings.js';
import type { MonitorSettings, MonitorTargets } from './settings.js';
import type { Baseline, StartComparison, StartResult } from './start-phase.js';
import { median } from '../common/stats.js';

/** The monitor section of results.json (before its verdicts and markdown are added). */
export interface MonitorResult {
  readonly machine: string;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  readonly date: string;
  readonly settings: MonitorSettings;
  readonly targets: MonitorTargets;
  readonly averageObjectBytes: number;
  readonly baseline: Baseline;
  readonly start: StartResult;
  readonly startComparison?: StartComparison;
  readonly latency: LatencyResult;
  readonly load: LoadResult;
  readonly memory?: MemoryResult;
  readonly totalSeconds: number;
  readonly verdicts?: MonitorVerdicts;
  readonly markdown?: string;
}

export interface MonitorVerdicts {
  readonly start: boolean;
  readonly latency: boolean;
  readonly backlog: boolean;
  readonly consistent: boolean;
  readonly memory: boolean | undefined;
}

const fmt = (value: number | undefined | null, digits = 0): string =>
  value === undefined || value === null || Number.isNaN(value) ? 'n/a' : value.toFixed(digits);
const ms = (value: number | undefined): string => `${fmt(value)} ms`;
const mb = (value: number | undefined): string => `${fmt(value)} MB`;
const pct = (share: number | undefined): string => `${fmt(share === undefined ? undefined : share * 100)} %`;
const n = (value: number): string => value.toLocaleString('en');
const verdict = (ok: boolean | undefined): string => (ok === true ? '**met**' : '**NOT met**');

export function monitorVerdicts(result: MonitorResult): MonitorVerdicts {
  const { targets, start, latency, load, memory } = result;
  return {
    start: start.readyMs <= targets.startMs,
    latency: latency.timeouts === 0 && latency.p99Ms !== undefined && latency.p99Ms <= targets.latencyP99Ms,
    backlog: load.drainMs <= targets.drainMs,
    consistent: load.violations === 0 && load.missingMarker === 0,
    memory: memory === undefined ? undefined : memory.monitor.rssMB <= targets.rssMB,
  };
}

export function renderMonitorMarkdown(result: MonitorResult): {
  markdown: string;
  verdicts: MonitorVerdicts;
} {
  const { settings, targets, baseline, start, latency, load, memory } = result;
  const verdicts = monitorVerdicts(result);
  const lines = [
    '## StatusMonitor (issue 3)',
    '',
    `Machine: ${result.machine}; load average ${result.loadBefore.join(' ')} at the start, ${result.loadAfter.join(' ')} at the end (the machine is shared with other work, so absolute times are noisy; the baselines below were taken in the same run). Date: ${result.date}. Whole suite: ${fmt(result.totalSeconds)} s.`,
    '',
    `What runs: the CLI as the monitor image runs it (the bundle of \`scripts/bundle.mjs\`, \`node zonewright.js\`, Dockerfile.monitor's ENTRYPOINT) \`zonewright monitor --debounce-ms ${settings.debounceMs} --max-delay-ms ${settings.maxDelayMs} --log-level warn\` in its own process, listing (pages of 500) and watching the fake API server (loopback, real list/watch protocol, inside the benchmark process). The VMIs look like \`kubectl get vmi -o json\` of a running Fedora VM with a Multus NIC \`nic1\` (${fmt(result.averageObjectBytes / 1024, 1)} KiB of JSON each, managedFields left out); each gives two A records, \`nic1.<vmi>.<ns>\` and \`<vmi>.<ns>\`. The zone file is observed from outside like CoreDNS would: \`fs.watch\` on the zone directory, and each new version (inode) is read and checked; a 50 ms poll is the safety net (it saw ${latency.seenByPollOnly} of ${latency.versionsSeen} versions first in part 2).`,
    '',
    '| measurement | value | target |',
    '|---|---:|---|',
    `| 0. baselines, wall time: bare \`node\` / \`import('@kubernetes/client-node')\` alone / \`zonewright --version\` (loads the whole CLI) | ${ms(baseline.nodeMs)} / ${ms(baseline.clientNodeImportMs)} / ${ms(baseline.cliVersionMs)} | |`,
    `| 0. baselines, RSS: bare \`node\` / after importing client-node alone | ${mb(baseline.nodeRssMB)} / ${mb(baseline.clientNodeImportRssMB)} | |`,
    `| 1. spawn → \`/readyz\` 200 with ${n(start.vmis)} VMIs | ${ms(start.readyMs)} | ≤ ${targets.startMs} ms: ${verdict(verdicts.start)} |`,
    `| 1. … the same minus \`zonewright --version\` (list, build, first write) | ${ms(start.readyMs - baseline.cliVersionMs)} | |`,
    ...startComparisonRows(result.startComparison),
    `| 1. spawn → zone file seen holding all ${n(start.zoneRecords)} address records (${fmt(start.zoneBytes / 2 ** 20, 1)} MiB) | ${ms(start.completeZoneMs)} | |`,
    `| 1. monitor RSS right after ready; V8 heap used / heap total / external (its /metrics) | ${mb(start.rssAfterReadyMB)}; ${mb(start.heapAfterReady.heapUsedMB)} / ${mb(start.heapAfterReady.heapTotalMB)} / ${mb(start.heapAfterReady.externalMB)} | |`,
    `| 2. API event → zone renamed into place, ${latency.samples} single changes with ${n(start.vmis)} VMIs: p50 / p90 | ${ms(latency.p50Ms)} / ${ms(latency.p90Ms)} | |`,
    `| 2. … p99 / max (min ${ms(latency.minMs)}) | ${ms(latency.p99Ms)} / ${ms(latency.maxMs)} | p99 ≤ debounce + 50 = ${targets.latencyP99Ms} ms: ${verdict(verdicts.latency)} |`,
    `| 2. … samples above ${targets.latencyP99Ms} ms; samples never seen within 10 s | ${latency.aboveTarget} of ${latency.samples}; ${latency.timeouts} | |`,
    `| 2. monitor's own \`zonewright_event_to_zone_seconds\` (event received → rename): count, mean | ${latency.monitorView.count}, ${ms(latency.monitorView.meanMs)} | |`,
    `| 2. … share ≤ 200 ms / ≤ 300 ms (buckets); p50 / p99 interpolated in buckets | ${pct(latency.monitorView.shareWithin200Ms)} / ${pct(latency.monitorView.shareWithin300Ms)}; ${ms(latency.monitorView.p50Ms)} / ${ms(latency.monitorView.p99Ms)} | |`,
    `| 2. mean zone write (\`zonewright_zone_write_duration_seconds\`: assemble, render, validate, write + fsync, rename, fsync dir) | ${ms(latency.writeDurationMeanMs)} | |`,
    `| 3. updates sent (${n(settings.loadRate)}/s planned: ${perBatchOf(settings)} every ${settings.batchIntervalMs} ms, ${n(start.vmis)} VMIs), achieved | ${n(load.updates)} in ${fmt(load.seconds, 1)} s = ${fmt(load.achievedRatePerS)}/s (${load.skippedBatches} slots dropped; sending a batch took ${ms(load.batchCostMeanMs)} on average) | |`,
    `| 3. zone writes during the load (metric); versions seen by the reader; MODIFIED events applied | ${load.writes}; ${load.renamesSeen}; ${n(load.apiEventsApplied)} | |`,
    `| 3. time between renames, mean in the first / last third | ${ms(load.cycleFirstThirdMeanMs)} / ${ms(load.cycleLastThirdMeanMs)} | |`,
    `| 3. last update → zone holds the final state of all ${n(start.vmis)} VMIs | ${ms(load.drainMs)} | no growing backlog: ≤ max-delay + 500 = ${targets.drainMs} ms: ${verdict(verdicts.backlog)} |`,
    `| 3. lag of the zone behind the API, sampled each second: mean / max (${load.lagSamples} samples) | ${ms(load.lagMeanMs)} / ${ms(load.lagMaxMs)} | |`,
    `| 3. … mean lag in the first / last third of the samples; trend | ${ms(load.lagFirstThirdMeanMs)} / ${ms(load.lagLastThirdMeanMs)}; ${fmt(load.lagSlopeMsPerS, 2)} ms/s | |`,
    `| 3. lag just before each rename (peak of each write cycle): max; mean in the first / last third; trend | ${ms(load.peakLagMaxMs)}; ${ms(load.peakLagFirstThirdMeanMs)} / ${ms(load.peakLagLastThirdMeanMs)}; ${fmt(load.peakLagSlopeMsPerS, 2)} ms/s | |`,
    `| 3. versions missing an update sent more than max-delay + 100 ms before their rename | ${load.violations} of ${load.renamesSeen} (oldest such update: ${ms(load.violationWorstAgeMs)} before the rename) | 0 (each write reflects all events before it): ${verdict(verdicts.consistent)} |`,
    `| 3. age of the oldest update not in a version: p50 / max when seen; max at the earliest rename time (file mtime) | ${ms(load.stalenessSeenP50Ms)} / ${ms(load.stalenessSeenMaxMs)}; ${ms(load.stalenessWrittenMaxMs)} | |`,
    `| 3. monitor's own event → zone during the load: count, mean; share ≤ 1 s / ≤ 2 s | ${n(load.monitorView.count)}, ${ms(load.monitorView.meanMs)}; ${pct(load.monitorView.shareWithin1s)} / ${pct(load.monitorView.shareWithin2s)} | |`,
    `| 3. mean zone write during the load | ${ms(load.writeDurationMeanMs)} | |`,
    `| 3. monitor RSS during the load: first / mean / max / last sample; VmHWM after | ${mb(load.rssFirstMB)} / ${mb(load.rssMeanMB)} / ${mb(load.rssMaxMB)} / ${mb(load.rssLastMB)}; ${mb(load.hwmAfterLoadMB)} | |`,
    `| 3. monitor CPU during the load (100 % = one core) | ${fmt(load.cpuPercent)} % | |`,
  ];
  if (memory !== undefined) {
    lines.push(
      `| 4. monitor with ${n(memory.vmis)} VMIs, 3 s after the first complete zone: VmRSS (peak VmHWM) | ${mb(memory.monitor.rssMB)} (peak ${mb(memory.monitor.hwmMB)}) | ≤ ${targets.rssMB} MB: ${verdict(verdicts.memory)} |`,
      `| 4. … V8 heap used / heap total / external at that moment (its /metrics) | ${mb(memory.monitor.heap.heapUsedMB)} / ${mb(memory.monitor.heap.heapTotalMB)} / ${mb(memory.monitor.heap.externalMB)} | |`,
      `| 4. … spawn → ready / → complete zone seen, ${n(memory.vmis)} VMIs | ${ms(memory.monitorReadyMs)} / ${ms(memory.monitorCompleteZoneMs)} | |`,
      `| 4. client-node 1.4 \`makeInformer\` (its default: one unpaged list, then watch) holding the same ${n(memory.informer.objects)} VMIs, 3 s after sync: VmRSS (peak VmHWM) | ${mb(memory.informer.rssMB)} (peak ${mb(memory.informer.hwmMB)}) | |`,
      `| 4. informer ÷ monitor: RSS; peak | ${fmt(memory.rssRatio, 2)}×; ${fmt(memory.hwmRatio, 2)}× | |`,
      `| 4. informer spawn → synced | ${ms(memory.informer.syncMs)} | |`,
    );
  }
  lines.push(
    '',
    `Targets: start ≤ ${targets.startMs} ms ${verdict(verdicts.start)}; event → zone p99 ≤ ${targets.latencyP99Ms} ms ${verdict(verdicts.latency)}; ` +
      `no growing backlog at ${n(settings.loadRate)} updates/s ${verdict(verdicts.backlog)}; each write reflects all events before it ${verdict(verdicts.consistent)}` +
      (memory === undefined
        ? '; memory with a large cluster: not measured in this run.'
        : `; RSS ≤ ${targets.rssMB} MB with ${n(memory.vmis)} VMIs ${verdict(verdicts.memory)}.`),
    '',
    "How it is measured: part 2 times from the `api.modify()` call to the moment the reader sees the renamed file holding the new address (watch stream + debounce + write + reader); the monitor's own histogram starts when its watch callback gets the event. Samples start 200–400 ms after the previous rename was seen, so each starts with an idle reconciler. In part 3 a marker VMI is updated in every batch with a counter in its address; each new version must hold at least the newest counter sent more than max-delay + 100 ms before the file's mtime (its last write before the rename, so a slow reader cannot cause a violation). Lag = age of the oldest marker update the file does not hold yet. Part 4 runs the monitor, then the informer, one after the other against the same server and objects; RSS from `/proc/<pid>/status`.",
  );

  const notes = [];
  if (!verdicts.start) {
    notes.push(
      `- Start: loading the program alone (\`zonewright --version\`) took ${ms(baseline.cliVersionMs)} in this run, of which importing @kubernetes/client-node alone is ${ms(baseline.clientNodeImportMs)} (it loads its whole generated API); listing ${n(start.vmis)} VMIs, building and writing the first zone took the remaining ≈ ${ms(start.readyMs - baseline.cliVersionMs)} (${Math.ceil(start.vmis / 500)} list pages of 500 VMIs from the fake server, which runs in the benchmark process on the same 2 cores). Loading the code is ${pct(baseline.cliVersionMs / start.readyMs)} of the start time: bundling the CLI, or list/watch over plain \`fetch\` instead of client-node, would remove most of that part.`,
    );
  }
  if (!verdicts.latency) {
    notes.push(
      `- Event → zone: the debounce alone is ${settings.debounceMs} ms of the ${targets.latencyP99Ms} ms budget, and one write of the ${n(start.zoneRecords)}-record zone took ${ms(latency.writeDurationMeanMs)} on average (render, parse-back validation, write + fsync, rename, fsync of the directory), under CPU contention from the rest of the machine. A rename can only land at debounce + write time after the event, so p99 ≤ debounce + 50 ms needs every write under ~40 ms end to end.`,
    );
  }
  if (!verdicts.consistent) {
    notes.push(
      `- Each write reflects all events before it: ${load.violations} versions lacked an update sent more than ${settings.maxDelayMs + 100} ms before their rename (worst: ${ms(load.violationWorstAgeMs)}). Cause (packages/zone/src/reconciler.ts): events that arrive while a write is in progress do not start the max-delay clock — \`changed()\` → \`schedule()\` returns early while \`writing\` is set, and \`firstPendingAt\` is only set by the \`schedule()\` call after that write has finished. Under continuous events such an event therefore waits for the rest of the current write, then max-delay, then the next write: up to max-delay + 2 × write time, not max-delay. Every event is in the next write (none is lost), but not within max-delay.`,
    );
  }
  if (!verdicts.backlog) {
    notes.push(
      `- Backlog: the zone took ${ms(load.drainMs)} after the last update to hold the final state (the watch stream or the reconciler was behind).`,
    );
  }
  if (memory !== undefined && !verdicts.memory) {
    const perVmiKB =
      ((memory.monitor.rssMB - start.rssAfterReadyMB) * 1024) / Math.max(1, memory.vmis - start.vmis);
    notes.push(
      `- Memory: ${mb(memory.monitor.rssMB)} with ${n(memory.vmis)} VMIs against ${mb(start.rssAfterReadyMB)} with ${n(start.vmis)} (≈ ${fmt(perVmiKB, 1)} KiB per extra VMI); the V8 heap in use is ${mb(memory.monitor.heap.heapUsedMB)} of ${mb(memory.monitor.heap.heapTotalMB)} allocated, the rest of RSS is code and heap the GC has not returned. A Node process that has only imported @kubernetes/client-node already has ${mb(baseline.clientNodeImportRssMB)} of RSS (bare Node: ${mb(baseline.nodeRssMB)}). Per VMI the monitor keeps only its records in the reconciler (the records, their keys for the diff, the last rendered zone text), not the objects.`,
    );
  }
  if (
    verdicts.backlog &&
    (load.peakLagLastThirdMeanMs ?? NaN) > (load.peakLagFirstThirdMeanMs ?? NaN) + 100
  ) {
    notes.push(
      `- Observation (no target): the lag peaks grew from ${ms(load.peakLagFirstThirdMeanMs)} (first third) to ${ms(load.peakLagLastThirdMeanMs)} (last third) while the drain after the last update stayed at ${ms(load.drainMs)}, so no events were left queued at the end; the time between renames went from ${ms(load.cycleFirstThirdMeanMs)} to ${ms(load.cycleLastThirdMeanMs)} (write time ${ms(load.writeDurationMeanMs)} on average during the load, ${ms(latency.writeDurationMeanMs)} in part 2; machine load ${result.loadBefore[0]} → ${result.loadAfter[0]}).`,
    );
  }
  if (load.monitorView.shareWithin1s < 0.99) {
    notes.push(
      `- Observation (no target): under continuous events ${pct(1 - load.monitorView.shareWithin1s)} of the events waited longer than max-delay (${settings.maxDelayMs} ms) from reaching the monitor to the rename, by its own histogram; writes came every ≈ ${ms((load.seconds * 1000) / Math.max(1, load.writes))}. Two causes in packages/zone/src/reconciler.ts: max-delay bounds the time until a write *starts*, so the write's own duration (${ms(load.writeDurationMeanMs)} on average here) comes on top; and an event that arrives while a write is in progress does not start the max-delay clock at all — \`changed()\` → \`schedule()\` returns early while \`writing\` is set, and \`firstPendingAt\` is set only by the \`schedule()\` after that write ends — so such an event waits for the rest of that write, max-delay, then the next write (up to max-delay + 2 × write time). No event is lost: each write holds every event received before it started${load.violations === 0 ? ', and no version missed an update sent more than max-delay + 100 ms before its rename' : ''}.`,
    );
  }
  if (notes.length > 0) lines.push('', 'Missed targets, their causes, and observations:', '', ...notes);
  return { markdown: lines.join('\n'), verdicts };
}

/** The side-by-side start rows: the image's bundle against the tsc output (medians and their ratio). */
function startComparisonRows(comparison: StartComparison | undefined): string[] {
  if (comparison === undefined) return [];
  const bundle = median(comparison.bundleMs);
  const tsc = median(comparison.tscMs);
  return [
    `| 1. side by side, ${comparison.trials} starts of each in turns: spawn → \`/readyz\` 200 with the image's bundle / with the tsc output (\`node packages/cli/bin/zonewright.js\`, what the monitor image ran before): median | ${ms(bundle)} / ${ms(tsc)}; ratio ${fmt(bundle / tsc, 2)} | |`,
  ];
}
