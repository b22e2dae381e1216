// The comparison process for the CRI suite: ListPodSandbox + one verbose PodSandboxStatus per sandbox per
// interval, as smarter-dns effectively does with `crictl inspectp` in its loop (without forking processes),
// feeding the same reconciler and zone store. The cached watcher itself is measured as the real CLI.
// Environment: ZW_ENDPOINT, ZW_ZONE_DIR, ZW_INTERVAL_MS (2000). Prints `ready`, stops on SIGTERM.
import { CriClient, buildSandboxRecords } from '@zonewright/cri-watcher';
import type { PodSandboxDetails } from '@zonewright/cri-watcher';
import { FileZoneStore, Reconciler, defaultZoneConfig, silentLogger, systemClock } from '@zonewright/zone';
import type { SourceHandle } from '@zonewright/zone';

const ORIGIN = 'cluster.local';

async function statusOfEveryReadySandbox(client: CriClient): Promise<PodSandboxDetails[]> {
  const details: PodSandboxDetails[] = [];
  for (const sandbox of await client.listPodSandboxes()) {
    if (sandbox.state === 'ready') details.push(await client.podSandboxStatus(sandbox.id, true));
  }
  return details;
}

function pollForever(client: CriClient, source: SourceHandle, intervalMs: number): () => void {
  let timer: NodeJS.Timeout | undefined;
  let synced = false;
  const poll = async (): Promise<void> => {
    try {
      const details = await statusOfEveryReadySandbox(client);
      source.replaceAll(buildSandboxRecords(details, { clusterDomain: ORIGIN }).entries, Date.now());
      if (!synced) {
        synced = true;
        source.markSynced();
      }
    } catch (error) {
      source.reportError(error instanceof Error ? error : new Error(String(error)));
    }
    timer = setTimeout(() => void poll(), intervalMs);
  };
  void poll();
  return () => {
    clearTimeout(timer);
  };
}

async function main(): Promise<void> {
  const endpoint = process.env.ZW_ENDPOINT;
  const zoneDir = process.env.ZW_ZONE_DIR;
  const intervalMs = Number(process.env.ZW_INTERVAL_MS ?? '2000');
  if (endpoint === undefined || zoneDir === undefined)
    throw new Error('ZW_ENDPOINT and ZW_ZONE_DIR are required');
  const reconciler = new Reconciler({
    config: defaultZoneConfig(ORIGIN, ['192.0.2.53']),
    store: new FileZoneStore(zoneDir),
    clock: systemClock,
    logger: silentLogger,
    debounceMs: 20,
    maxDelayMs: 100,
  });
  const source = reconciler.registerSource('cri');
  const client = new CriClient({ endpoint });
  await reconciler.start();
  const stopPolling = pollForever(client, source, intervalMs);
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    stopPolling();
    void reconciler.stop().finally(() => {
      client.close();
      process.exit(0);
    });
  });
}

await main();
