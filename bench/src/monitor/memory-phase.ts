// Part 4: resident memory with a large cluster, next to client-node's default informer in its own process.
import { scrapeMetrics } from '@zonewright/testkit';
import { heapOf } from './metrics.js';
import type { HeapView } from './metrics.js';
import { settleMemory, startInformer, stopProcess } from './processes.js';
import type { SettledMemory } from './processes.js';
import type { MonitorSettings } from './settings.js';
import { populate, startCluster } from './start-phase.js';

export interface MemoryResult {
  readonly vmis: number;
  readonly averageObjectBytes: number;
  readonly monitorReadyMs: number;
  readonly monitorCompleteZoneMs: number;
  readonly monitor: SettledMemory & { readonly heap: HeapView };
  readonly informer: SettledMemory & { readonly objects: number; readonly syncMs: number };
  readonly rssRatio: number;
  readonly hwmRatio: number;
}

export async function measureMemory(
  settings: MonitorSettings,
  temp: string,
  defer: (step: () => unknown) => void,
  log: (message: string) => void,
): Promise<MemoryResult> {
  const big = settings.bigVmis;
  log(`populating the fake API server with ${big} VMIs`);
  const populated = await populate(big);
  defer(() => populated.server.stop());
  const { cluster, readyAt, first } = await startCluster({
    api: populated.server,
    vmis: big,
    temp,
    name: 'big',
    tuning: settings,
    timeoutMs: 240_000,
    log,
    defer,
  });
  cluster.observer.close();
  const monitorMemory = await settleMemory(cluster.monitor.child.pid, 3000);
  const heap = heapOf(await scrapeMetrics(cluster.monitor.metricsUrl));
  await stopProcess(cluster.monitor.child);
  log(
    `monitor: RSS ${monitorMemory.rssMB.toFixed(0)} MB (peak ${monitorMemory.hwmMB.toFixed(0)} MB); now the informer`,
  );

  const informer = await startInformer(cluster.kubeconfig, 240_000);
  if (informer.synced.objects !== big)
    throw new Error(`the informer holds ${informer.synced.objects} objects, not ${big}`);
  const informerMemory = await settleMemory(informer.child.pid, 3000);
  await stopProcess(informer.child);
  const result: MemoryResult = {
    vmis: big,
    averageObjectBytes: populated.averageObjectBytes,
    monitorReadyMs: readyAt - cluster.monitor.startedAt,
    monitorCompleteZoneMs: first.at - cluster.monitor.startedAt,
    monitor: { ...monitorMemory, heap },
    informer: { ...informerMemory, objects: informer.synced.objects, syncMs: informer.syncedAfterMs },
    rssRatio: informerMemory.rssMB / monitorMemory.rssMB,
    hwmRatio: informerMemory.hwmMB / monitorMemory.hwmMB,
  };
  log(
    `informer: RSS ${informerMemory.rssMB.toFixed(0)} MB (peak ${informerMemory.hwmMB.toFixed(0)} MB), ratio ${result.rssRatio.toFixed(2)}`,
  );
  await populated.server.stop();
  return result;
}
