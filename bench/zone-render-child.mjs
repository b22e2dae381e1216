// One measurement in a fresh process: render, validate and atomically write a zone of N records through the
// reconciler (the path every watcher uses), then report time and memory. Run by bench/run.mjs.
import { performance } from 'node:perf_hooks';
import { FileZoneStore, Reconciler, defaultZoneConfig, silentLogger, systemClock } from '@zonewright/zone';

const [count, directory] = [Number(process.argv[2]), process.argv[3]];
const config = defaultZoneConfig('vm.example.com', ['10.0.0.53']);

// Realistic VMI records: an interface name and the VMI name per VMI, 80 % IPv4, 20 % IPv6.
const entries = new Map();
for (let index = 0; index * 2 < count; index += 1) {
  const name = `vm-${index.toString(36)}.ns-${index % 97}`;
  const v6 = index % 5 === 0;
  const address = v6
    ? `2001:db8:${(index >> 16).toString(16)}:${(index & 0xffff).toString(16)}::1`
    : `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`;
  const type = v6 ? 'AAAA' : 'A';
  entries.set(`uid-${index}`, [
    { name: `nic1.${name}`, type, address, claim: 'exclusive' },
    { name, type, address, claim: 'exclusive' },
  ]);
}
globalThis.gc?.();
const before = process.memoryUsage();
const reconciler = new Reconciler({
  config,
  store: new FileZoneStore(directory),
  clock: systemClock,
  logger: silentLogger,
});
const source = reconciler.registerSource('bench');
await reconciler.start();
const started = performance.now();
source.replaceAll(entries);
source.markSynced();
await reconciler.whenReady();
const elapsedMs = performance.now() - started;
const peakRss = process.resourceUsage().maxRSS * 1024;
process.stdout.write(
  JSON.stringify({
    count,
    records: reconciler.status().records,
    elapsedMs,
    rssBefore: before.rss,
    peakRss,
    growthBytes: peakRss - before.rss,
    file: new FileZoneStore(directory).pathOf(config.origin),
  }) + '\n',
);
