// The comparison process for bench/cri.mjs (uses the built packages: run `npm run build` first):
// ListPodSandbox + one verbose PodSandboxStatus per sandbox per interval, as smarter-dns effectively does with
// `crictl inspectp` in its loop (without forking processes), feeding the same reconciler and zone store.
// The cached watcher itself is measured as the real CLI (`zonewright cri-watch`).
import { clearTimeout, setTimeout } from 'node:timers';
import { CriClient, buildSandboxRecords } from '@zonewright/cri-watcher';
import { FileZoneStore, Reconciler, defaultZoneConfig, silentLogger, systemClock } from '@zonewright/zone';

const endpoint = process.env.ZW_ENDPOINT;
const zoneDir = process.env.ZW_ZONE_DIR;
const intervalMs = Number(process.env.ZW_INTERVAL_MS ?? '2000');
if (endpoint === undefined || zoneDir === undefined)
  throw new Error('ZW_ENDPOINT and ZW_ZONE_DIR are required');

const origin = 'cluster.local';
const reconciler = new Reconciler({
  config: defaultZoneConfig(origin, ['192.0.2.53']),
  store: new FileZoneStore(zoneDir),
  clock: systemClock,
  logger: silentLogger,
  debounceMs: 20,
  maxDelayMs: 100,
});
const source = reconciler.registerSource('cri');
const client = new CriClient({ endpoint });
await reconciler.start();
let timer;
let synced = false;
const loop = async () => {
  try {
    const list = await client.listPodSandboxes();
    const details = [];
    for (const sandbox of list) {
      if (sandbox.state === 'ready') details.push(await client.podSandboxStatus(sandbox.id, true));
    }
    source.replaceAll(buildSandboxRecords(details, { clusterDomain: origin }).entries, Date.now());
    if (!synced) {
      synced = true;
      source.markSynced();
    }
  } catch (error) {
    source.reportError(error);
  }
  timer = setTimeout(() => void loop(), intervalMs);
};
void loop();
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void (async () => {
    clearTimeout(timer);
    await reconciler.stop();
    client.close();
    process.exit(0);
  })();
});
