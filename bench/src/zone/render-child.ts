// One measurement in a fresh process, then report time and memory as one JSON line. Run by the zone suite.
// mode `render` (the target's definition): render (sort, check every record), validate the text line by line,
//   write it atomically (temp file, fsync, rename, directory fsync);
// mode `reconciler`: the same plus claim assembly, through one reconciler flush (what every watcher does).
// Usage: node --expose-gc render-child.js COUNT DIRECTORY render|reconciler
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
import type { ClaimedRecord, ZoneConfig } from '@zonewright/zone';
import type { RenderChildResult, RenderMode } from './render-protocol.js';

/** Realistic VMI records: an interface name and the VMI name per VMI, 80 % IPv4, 20 % IPv6. */
function vmiEntries(count: number): Map<string, ClaimedRecord[]> {
  const entries = new Map<string, ClaimedRecord[]>();
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
  return entries;
}

async function renderAndWrite(
  config: ZoneConfig,
  store: FileZoneStore,
  entries: Map<string, ClaimedRecord[]>,
): Promise<{ elapsedMs: number; records: number }> {
  const flat = [...entries.values()].flat();
  await store.prepare();
  const started = performance.now();
  const parts = renderZoneParts(config, flat);
  const text = joinRendered(parts, nextSerial(undefined, Date.now()));
  validateRenderedZone(text, config, flat.length);
  await store.write(config.origin, text);
  return { elapsedMs: performance.now() - started, records: flat.length };
}

async function reconcilerFlush(
  config: ZoneConfig,
  store: FileZoneStore,
  entries: Map<string, ClaimedRecord[]>,
): Promise<{ elapsedMs: number; records: number }> {
  const reconciler = new Reconciler({ config, store, clock: systemClock, logger: silentLogger });
  const source = reconciler.registerSource('bench');
  await reconciler.start();
  const started = performance.now();
  source.replaceAll(entries);
  source.markSynced();
  await reconciler.whenReady();
  const elapsedMs = performance.now() - started;
  const records = reconciler.status().records ?? 0;
  await reconciler.stop();
  return { elapsedMs, records };
}

async function main(): Promise<void> {
  const [countText, directory, modeText = 'reconciler'] = process.argv.slice(2);
  const count = Number(countText);
  if (!Number.isInteger(count) || count < 2 || directory === undefined)
    throw new Error('usage: render-child.js COUNT DIRECTORY render|reconciler');
  if (modeText !== 'render' && modeText !== 'reconciler') throw new Error(`unknown mode ${modeText}`);
  const mode: RenderMode = modeText;
  const config = defaultZoneConfig('vm.example.com', ['10.0.0.53']);
  const entries = vmiEntries(count);
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage();
  const store = new FileZoneStore(directory);
  const measured =
    mode === 'render'
      ? await renderAndWrite(config, store, entries)
      : await reconcilerFlush(config, store, entries);
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const result: RenderChildResult = {
    count,
    mode,
    records: measured.records,
    elapsedMs: measured.elapsedMs,
    rssBefore: before.rss,
    peakRss,
    growthBytes: peakRss - before.rss,
    file: store.pathOf(config.origin),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
