// One measurement in a fresh process, then report time and memory. Run by bench/run.mjs.
// mode `render` (the target's definition): render (sort, check every record), validate the text line by line,
//   write it atomically (temp file, fsync, rename, directory fsync);
// mode `reconciler`: the same plus claim assembly, through one reconciler flush (what every watcher does).
import { performance } from 'node:perf_hooks';
import {
  FileZoneStore,
  Reconciler,
  defaultZoneConfig,
  joinRendered,
  nextSerial,
  renderZoneParts,
  silentLogger,
  systemClock,
  validateRenderedZone,
} from '@zonewright/zone';

const [count, directory, mode = 'reconciler'] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
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
const store = new FileZoneStore(directory);
let elapsedMs;
let records;
if (mode === 'render') {
  const flat = [...entries.values()].flat();
  await store.prepare();
  const started = performance.now();
  const parts = renderZoneParts(config, flat);
  const text = joinRendered(parts, nextSerial(undefined, Date.now()));
  validateRenderedZone(text, config, flat.length);
  await store.write(config.origin, text);
  elapsedMs = performance.now() - started;
  records = flat.length;
} else {
  const reconciler = new Reconciler({ config, store, clock: systemClock, logger: silentLogger });
  const source = reconciler.registerSource('bench');
  await reconciler.start();
  const started = performance.now();
  source.replaceAll(entries);
  source.markSynced();
  await reconciler.whenReady();
  elapsedMs = performance.now() - started;
  records = reconciler.status().records;
}
const peakRss = process.resourceUsage().maxRSS * 1024;
process.stdout.write(
  JSON.stringify({
    count,
    mode,
    records,
    elapsedMs,
    rssBefore: before.rss,
    peakRss,
    growthBytes: peakRss - before.rss,
    file: store.pathOf(config.origin),
  }) + '\n',
);
