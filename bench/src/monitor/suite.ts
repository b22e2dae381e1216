// StatusMonitor benchmark (issue 3 targets). Runs the REAL CLI (`zonewright monitor`) as the monitor image runs it
// (the bundle, Dockerfile.monitor's ENTRYPOINT) in its own process
// against the fake Kubernetes API server on loopback and measures, in one run:
//   1. start → first complete zone with N VMIs (/readyz = 200, and the file holding all 2·N records);
//   2. API event → zone file renamed into place (fs.watch on the zone directory + reading the file);
//   3. a sustained update load (default 1,000 VMI updates/s for 60 s): writes, lag, backlog, RSS, and that every
//      write reflects every event older than max-delay + 100 ms;
//   4. resident memory with a large cluster (default 100k VMIs), next to client-node's default informer holding
//      the same objects in a separate process.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { cleanUp, killProcessTree } from '@zonewright/testkit';
import { errorMessage, progressLogger } from '../common/log.js';
import { loadAverage, machineDescription } from '../common/stats.js';
import type { SuiteContext, SuiteOutcome } from '../common/suite.js';
import { Generations, measureLatency } from './latency-phase.js';
import { measureLoad } from './load-phase.js';
import { measureMemory } from './memory-phase.js';
import { liveProcesses, stopProcess } from './processes.js';
import { renderMonitorMarkdown } from './report.js';
import type { MonitorResult } from './report.js';
import { monitorSettings, monitorTargets } from './settings.js';
import { compareStarts, measureBaseline, populate, startCluster, startResult } from './start-phase.js';
import type { Baseline } from './start-phase.js';

const log = progressLogger('monitor');

export async function runMonitorSuite(context: SuiteContext): Promise<SuiteOutcome<MonitorResult>> {
  const settings = monitorSettings(context.size);
  const targets = monitorTargets(settings);
  const temp = mkdtempSync(path.join(os.tmpdir(), 'zw-bench-monitor-'));
  const cleanups: (() => unknown)[] = [];
  const defer = (step: () => unknown): void => {
    cleanups.push(step);
  };
  const header = {
    machine: machineDescription(),
    loadBefore: loadAverage(),
    date: new Date().toISOString(),
    settings,
    targets,
  };
  const started = performance.now();
  try {
    log(`populating the fake API server with ${settings.vmis} VMIs`);
    const populated = await populate(settings.vmis);
    defer(() => populated.server.stop());
    let baseline: Baseline | undefined;
    const { cluster, readyAt, first } = await startCluster({
      api: populated.server,
      vmis: settings.vmis,
      temp,
      name: 'main',
      tuning: settings,
      timeoutMs: 120_000,
      log,
      defer,
      beforeSpawn: () => {
        baseline = measureBaseline();
        log(
          `baselines: node ${baseline.nodeMs.toFixed(0)} ms, import client-node ${baseline.clientNodeImportMs.toFixed(0)} ms, zonewright --version ${baseline.cliVersionMs.toFixed(0)} ms`,
        );
      },
    });
    if (baseline === undefined) throw new Error('no baseline was measured');
    const start = await startResult(cluster, settings.vmis, readyAt, first);
    log(
      `ready after ${start.readyMs.toFixed(0)} ms, complete zone seen after ${start.completeZoneMs.toFixed(0)} ms`,
    );
    const generations = new Generations(settings.vmis);
    const latency = await measureLatency(cluster, generations, settings, targets, log);
    const load = await measureLoad(cluster, generations, settings, log);
    await stopProcess(cluster.monitor.child);
    cluster.observer.close();
    const startComparison =
      settings.startTrials > 0
        ? await compareStarts({
            api: populated.server,
            vmis: settings.vmis,
            temp,
            tuning: settings,
            trials: settings.startTrials,
            log,
            defer,
          })
        : undefined;
    await populated.server.stop();
    (globalThis as { gc?: () => void }).gc?.();
    const memory = settings.bigVmis > 0 ? await measureMemory(settings, temp, defer, log) : undefined;
    const result: MonitorResult = {
      ...header,
      averageObjectBytes: populated.averageObjectBytes,
      baseline,
      start,
      ...(startComparison === undefined ? {} : { startComparison }),
      latency,
      load,
      ...(memory === undefined ? {} : { memory }),
      totalSeconds: (performance.now() - started) / 1000,
      loadAfter: loadAverage(),
    };
    const { markdown, verdicts } = renderMonitorMarkdown(result);
    return { section: { ...result, verdicts, markdown }, charts: {} };
  } finally {
    await cleanUp('monitor bench', [
      ...cleanups.reverse(),
      ...[...liveProcesses].map((pid) => () => killProcessTree(pid)),
      () => {
        rmSync(temp, { recursive: true, force: true });
      },
    ]).catch((error: unknown) => {
      log(errorMessage(error));
    });
  }
}
