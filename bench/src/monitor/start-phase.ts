// Part 0 and 1: the baselines of loading code, then spawn → first complete zone with N VMIs.
import { Buffer } from 'node:buffer';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { processMemory, scrapeMetrics, startFakeApiServer } from '@zonewright/testkit';
import type { FakeApiServer } from '@zonewright/testkit';
import { parseZone } from '@zonewright/zone';
import { errorMessage } from '../common/log.js';
import { cliScript, monitorImageArgs } from '../common/paths.js';
import { ZoneFileObserver } from '../common/zone-observer.js';
import { heapOf } from './metrics.js';
import type { HeapView } from './metrics.js';
import { startMonitor, stopProcess, waitReady, wallMs } from './processes.js';
import type { MonitorProcess, MonitorTuning } from './processes.js';
import { ORIGIN, ZONE_FILE } from './settings.js';
import { markerAddress, vmiAddress, vmiObject } from './vmi-objects.js';
import { countAddressRecords } from './zone-text.js';

export interface Baseline {
  readonly nodeMs: number;
  readonly nodeRssMB: number;
  readonly clientNodeImportMs: number;
  readonly clientNodeImportRssMB: number;
  readonly cliVersionMs: number;
}

export interface StartResult {
  readonly vmis: number;
  readonly readyMs: number;
  readonly completeZoneMs: number;
  readonly zoneRecords: number;
  readonly zoneBytes: number;
  readonly rssAfterReadyMB: number;
  readonly heapAfterReady: HeapView;
}

/** The fake API server, the zone observer and the monitor of one part of the suite. */
export interface Cluster {
  readonly api: FakeApiServer;
  readonly observer: ZoneFileObserver;
  readonly monitor: MonitorProcess;
  readonly kubeconfig: string;
}

/** A fake API server holding `count` VMIs (VMI 0 is the marker); the mean JSON size of the first 100. */
export async function populate(
  count: number,
): Promise<{ server: FakeApiServer; averageObjectBytes: number }> {
  const server = await startFakeApiServer();
  let bytes = 0;
  for (let index = 0; index < count; index++) {
    const object = vmiObject(index, index === 0 ? markerAddress(0) : vmiAddress(index, 0));
    if (index < 100) bytes += JSON.stringify(object).length;
    server.add(object);
  }
  return { server, averageObjectBytes: Math.round(bytes / Math.min(count, 100)) };
}

/** What loading the code alone costs, right before the start, on the same (noisy) machine. */
export function measureBaseline(): Baseline {
  const clientNodeImport = wallMs([
    '--input-type=module',
    '-e',
    "await import('@kubernetes/client-node'); console.log(process.memoryUsage().rss)",
  ]);
  const bareNode = wallMs(['-e', 'console.log(process.memoryUsage().rss)']);
  return {
    nodeMs: bareNode.elapsed,
    nodeRssMB: Number(bareNode.stdout.trim()) / 2 ** 20,
    clientNodeImportMs: clientNodeImport.elapsed,
    clientNodeImportRssMB: Number(clientNodeImport.stdout.trim()) / 2 ** 20,
    cliVersionMs: wallMs([...monitorImageArgs(), '--version']).elapsed,
  };
}

/** What every monitor start of the suite needs: the API server, its VMIs, where to write, how to log and clean up. */
export interface MonitorStartContext {
  readonly api: FakeApiServer;
  readonly vmis: number;
  readonly temp: string;
  readonly tuning: MonitorTuning;
  readonly log: (message: string) => void;
  /** Registers a cleanup step (run by the suite at the end, also after a failure). */
  readonly defer: (step: () => unknown) => void;
}

/**
 * Starts the monitor on `api` (zones into `<temp>/<name>`) and waits until it is ready and the zone holds every
 * VMI. `beforeSpawn` runs after the observer is watching, right before the spawn (the baselines go there).
 */
export async function startCluster(
  options: MonitorStartContext & {
    readonly name: string;
    readonly timeoutMs: number;
    readonly beforeSpawn?: () => void;
    /** How `node` starts the CLI (default: the monitor image's command). */
    readonly cli?: readonly string[];
  },
): Promise<{ cluster: Cluster; readyAt: number; first: { at: number; text: string } }> {
  const { api, vmis, temp, name, log } = options;
  const kubeconfig = await api.writeKubeconfig(path.join(temp, `api-${name}`));
  const zonesDir = path.join(temp, `zones-${name}`);
  await mkdir(zonesDir);
  const observer = new ZoneFileObserver(zonesDir, ZONE_FILE, (error) => {
    log(`reading the zone failed: ${errorMessage(error)}`);
  });
  options.defer(() => {
    observer.close();
  });
  const expectedRecords = 2 * vmis + 1; // + the glue of ns.<origin>
  const complete = observer.waitFor(
    (text) => countAddressRecords(text) === expectedRecords,
    options.timeoutMs,
    `hold ${expectedRecords} address records`,
  );
  complete.catch(() => undefined); // awaited below; a failed start must not leave it unhandled
  options.beforeSpawn?.();
  log(`starting the monitor (${vmis} VMIs)`);
  const monitor = await startMonitor(kubeconfig, zonesDir, options.tuning, options.cli);
  options.defer(() => stopProcess(monitor.child));
  const readyAt = await waitReady(monitor, options.timeoutMs);
  const first = await complete;
  return { cluster: { api, observer, monitor, kubeconfig }, readyAt, first };
}

/** Every address record of the first zone must hold the address of its VMI. */
export function checkFirstZone(text: string): number {
  const parsed = parseZone(text, { origin: ORIGIN });
  const addressRecords = parsed.records.filter((r) => r.type === 'A' || r.type === 'AAAA');
  const wrong = addressRecords.filter((r) => {
    const match = /^(?:nic1\.)?vm-(\d+)\.ns-\d+\.vm\.example\.com$/.exec(r.name.replace(/\.$/, ''));
    if (match === null) return !r.name.startsWith('ns.');
    const index = Number(match[1]);
    return r.rdata[0] !== (index === 0 ? markerAddress(0) : vmiAddress(index, 0));
  });
  if (wrong.length > 0)
    throw new Error(`first zone has ${wrong.length} wrong records, e.g. ${JSON.stringify(wrong[0])}`);
  return addressRecords.length;
}

export async function startResult(
  cluster: Cluster,
  vmis: number,
  readyAt: number,
  first: { at: number; text: string },
): Promise<StartResult> {
  return {
    vmis,
    readyMs: readyAt - cluster.monitor.startedAt,
    completeZoneMs: first.at - cluster.monitor.startedAt,
    zoneRecords: checkFirstZone(first.text),
    zoneBytes: Buffer.byteLength(first.text),
    rssAfterReadyMB: processMemory(cluster.monitor.child.pid).rssMiB,
    heapAfterReady: heapOf(await scrapeMetrics(cluster.monitor.metricsUrl)),
  };
}

/** Spawn → ready of the monitor image's command and of the tsc output, started in turns on the same API server. */
export interface StartComparison {
  readonly trials: number;
  /** The monitor image's command (the bundle), ms per start. */
  readonly bundleMs: readonly number[];
  /** `node packages/cli/bin/zonewright.js` on the tsc output (what the image ran before), ms per start. */
  readonly tscMs: readonly number[];
}

/**
 * Starts the monitor `trials` times with each command, alternating which goes first, each until /readyz is 200
 * and the zone holds every VMI, then stops it: the image's bundle against the tsc output, side by side in one
 * run (this machine is shared, so only the ratio is comparable between runs).
 */
export async function compareStarts(
  options: MonitorStartContext & { readonly trials: number },
): Promise<StartComparison> {
  const bundleMs: number[] = [];
  const tscMs: number[] = [];
  for (let trial = 0; trial < options.trials; trial += 1) {
    const order = trial % 2 === 0 ? (['bundle', 'tsc'] as const) : (['tsc', 'bundle'] as const);
    for (const variant of order) {
      const { cluster, readyAt } = await startCluster({
        ...options,
        name: `start-${variant}-${trial}`,
        timeoutMs: 120_000,
        cli: variant === 'bundle' ? monitorImageArgs() : [cliScript],
      });
      (variant === 'bundle' ? bundleMs : tscMs).push(readyAt - cluster.monitor.startedAt);
      await stopProcess(cluster.monitor.child);
      cluster.observer.close();
    }
  }
  options.log(
    `start side by side: bundle ${bundleMs.map((value) => value.toFixed(0)).join(' ')} ms, tsc output ${tscMs.map((value) => value.toFixed(0)).join(' ')} ms`,
  );
  return { trials: options.trials, bundleMs, tscMs };
}
