import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import * as fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkZone, lookup } from './check.js';
import { ManualClock } from '@zonewright/testkit';
import { defaultZoneConfig } from './config.js';
import { silentLogger } from './logger.js';
import type { ClaimedRecord } from './model.js';
import { parseZone } from './parse.js';
import { Reconciler, type WriteInfo } from './reconciler.js';
import { planZone } from './plan.js';
import { recoverSerial, splitRenderedSerial } from './render.js';
import {
  parseReverseRanges,
  renderReverseZoneParts,
  reverseName,
  reverseRecords,
  reverseZoneConfig,
} from './reverse.js';
import { FileZoneStore, type ZoneStore } from './store.js';

const config = defaultZoneConfig('vm.example.com', ['10.10.0.53']);
const ranges = parseReverseRanges('10.10.0.0/16,fd00:10::/48');
const V4 = '10.10.in-addr.arpa';
const V6 = '0.0.0.0.0.1.0.0.0.0.d.f.ip6.arpa';

const vmi = (name: string, ns: string, address: string): ClaimedRecord[] => {
  const type = address.includes(':') ? 'AAAA' : 'A';
  return [
    { name: `nic1.${name}.${ns}`, type, address, claim: 'exclusive' },
    { name: `${name}.${ns}`, type, address, claim: 'exclusive' },
  ];
};

let directory: string;
beforeEach(async () => {
  directory = await fs.mkdtemp(path.join(os.tmpdir(), 'zw-reverse-'));
});
afterEach(async () => {
  await fs.rm(directory, { recursive: true, force: true });
});

function start(store: ZoneStore, clock: ManualClock, reverse = ranges) {
  const writes: WriteInfo[] = [];
  const outside: number[] = [];
  const reconciler = new Reconciler({
    config,
    store,
    clock,
    logger: silentLogger,
    debounceMs: 100,
    maxDelayMs: 500,
    retryMinMs: 1000,
    reverseRanges: reverse,
    observer: {
      onWrite: (info) => writes.push(info),
      onReverseOutside: (_origin, count) => outside.push(count),
    },
  });
  return { reconciler, source: reconciler.registerSource('vmis'), writes, outside };
}

async function ptr(address: string, origin: string): Promise<string[]> {
  const parsed = parseZone(await fs.readFile(path.join(directory, `db.${origin}`), 'utf8'));
  expect(parsed.problems).toEqual([]);
  expect(checkZone(parsed)).toEqual([]);
  const answer = lookup(parsed, reverseName(address.includes(':') ? 'AAAA' : 'A', address), 'PTR');
  return answer.status === 'NOERROR'
    ? answer.records.map((record) => record.rdata[0] ?? '')
    : [answer.status];
}

/** The zone files in `directory`, except that the first write of `failing` fails with "disk full". */
function storeFailingOnce(failing: string): ZoneStore {
  const files = new FileZoneStore(directory);
  let failures = 1;
  return {
    read: (origin) => files.read(origin),
    write: (origin, text) => {
      if (origin === failing && failures > 0) {
        failures -= 1;
        return Promise.reject(new Error('disk full'));
      }
      return files.write(origin, text);
    },
  };
}

async function serialOf(origin: string): Promise<number | undefined> {
  return recoverSerial(await fs.readFile(path.join(directory, `db.${origin}`), 'utf8'), origin);
}

describe('Reconciler with reverse zones', () => {
  it('writes one reverse zone per range beside the forward zone, and follows changes', async () => {
    const clock = new ManualClock();
    const { reconciler, source, writes, outside } = start(new FileZoneStore(directory), clock);
    await reconciler.start();
    source.replaceAll(
      new Map([
        ['a', vmi('web', 'default', '10.10.3.4')],
        ['b', vmi('db', 'prod', 'fd00:10::9')],
        ['c', vmi('far', 'prod', '192.0.2.7')],
      ]),
    );
    source.markSynced();
    await clock.advance(0);
    await reconciler.idle();
    expect(writes.map((write) => write.origin)).toEqual(['vm.example.com', V4, V6]);
    expect(outside).toEqual([1]);
    expect(await ptr('10.10.3.4', V4)).toEqual(['nic1.web.default.vm.example.com']);
    expect(await ptr('fd00:10::9', V6)).toEqual(['nic1.db.prod.vm.example.com']);
    expect(await ptr('10.10.3.5', V4)).toEqual(['NXDOMAIN']);
    const v6Serial = await serialOf(V6);

    // The VM moves: its old PTR is gone, the new one answers; the IPv6 zone is not touched.
    await clock.advance(5000);
    await reconciler.idle();
    source.upsert('a', vmi('web', 'default', '10.10.3.5'));
    await clock.advance(1000);
    await reconciler.idle();
    expect(await ptr('10.10.3.5', V4)).toEqual(['nic1.web.default.vm.example.com']);
    expect(await ptr('10.10.3.4', V4)).toEqual(['NXDOMAIN']);
    expect(writes.slice(3).map((write) => [write.origin, write.added, write.removed])).toEqual([
      ['vm.example.com', 2, 2],
      [V4, 1, 1],
    ]);
    expect(await serialOf(V6)).toBe(v6Serial);

    // A change outside every range rewrites only the forward zone.
    source.upsert('c', vmi('far', 'prod', '192.0.2.8'));
    await clock.advance(1000);
    await reconciler.idle();
    expect(writes.slice(5).map((write) => write.origin)).toEqual(['vm.example.com']);
    await reconciler.stop();
  });

  it('keeps unchanged files at a restart and writes a newly configured reverse zone', async () => {
    const clock = new ManualClock();
    const first = start(new FileZoneStore(directory), clock, []);
    await first.reconciler.start();
    first.source.replaceAll(new Map([['a', vmi('web', 'default', '10.10.3.4')]]));
    first.source.markSynced();
    await clock.advance(0);
    await first.reconciler.idle();
    await first.reconciler.stop();
    const forwardSerial = await serialOf(config.origin);

    await clock.advance(10_000);
    const second = start(new FileZoneStore(directory), clock);
    await second.reconciler.start();
    second.source.replaceAll(new Map([['a', vmi('web', 'default', '10.10.3.4')]]));
    second.source.markSynced();
    await clock.advance(0);
    await second.reconciler.idle();
    expect(second.writes.map((write) => write.origin)).toEqual([V4, V6]);
    expect(await serialOf(config.origin)).toBe(forwardSerial);
    expect(await ptr('10.10.3.4', V4)).toEqual(['nic1.web.default.vm.example.com']);
    await second.reconciler.stop();

    const third = start(new FileZoneStore(directory), clock);
    await third.reconciler.start();
    third.source.replaceAll(new Map([['a', vmi('web', 'default', '10.10.3.4')]]));
    third.source.markSynced();
    await clock.advance(0);
    await third.reconciler.idle();
    expect(third.writes).toEqual([]);
    expect(third.reconciler.isReady()).toBe(true);
    expect(third.reconciler.status().reverseZones.map((zone) => zone.records)).toEqual([1, 0]);
    await third.reconciler.stop();
  });

  it('retries a failed reverse-zone write; the forward zone and the other reverse zone are written once', async () => {
    const clock = new ManualClock();
    const store = storeFailingOnce(V4);
    const { reconciler, source, writes } = start(store, clock);
    await reconciler.start();
    source.replaceAll(new Map([['a', vmi('web', 'default', '10.10.3.4')]]));
    source.markSynced();
    await clock.advance(0);
    await reconciler.idle();
    expect(reconciler.status().lastWriteError).toBe('disk full');
    await clock.advance(2000);
    await reconciler.idle();
    // The other zones' writes do not wait for the failed one: the IPv6 zone is written in the first flush.
    expect(writes.map((write) => write.origin)).toEqual(['vm.example.com', V6, V4]);
    expect(await ptr('10.10.3.4', V4)).toEqual(['nic1.web.default.vm.example.com']);
    await reconciler.stop();
  });

  it('renames the forward zone before building reverse zones from nothing; later, the writes overlap', async () => {
    // Each write's start and end, in order, through a store whose forward write ends only when released.
    const files = new FileZoneStore(directory);
    const steps: string[] = [];
    let release: (() => void) | undefined;
    const store: ZoneStore = {
      read: (origin) => files.read(origin),
      write: async (origin, text) => {
        steps.push(`start ${origin}`);
        if (origin === config.origin) await new Promise<void>((resolve) => (release = resolve));
        await files.write(origin, text);
        steps.push(`end ${origin}`);
      },
    };
    const clock = new ManualClock();
    const { reconciler, source } = start(store, clock);
    await reconciler.start();
    source.replaceAll(new Map([['a', vmi('web', 'default', '10.10.3.4')]]));
    source.markSynced();
    const first = reconciler.flushNow();
    await new Promise((resolve) => setImmediate(resolve));
    // First flush: nothing of the reverse zones starts while the forward write is pending.
    expect(steps).toEqual([`start ${config.origin}`]);
    release?.();
    await first;
    expect(steps.slice(0, 2)).toEqual([`start ${config.origin}`, `end ${config.origin}`]);
    expect(steps.slice(2).sort()).toEqual([`end ${V4}`, `end ${V6}`, `start ${V4}`, `start ${V6}`].sort());
    // A change: the reverse zone it touches is written while the forward write is still pending.
    steps.length = 0;
    source.upsert('a', vmi('web', 'default', '10.10.3.5'));
    const second = reconciler.flushNow();
    await new Promise((resolve) => setImmediate(resolve));
    for (let turn = 0; turn < 50 && !steps.includes(`end ${V4}`); turn += 1) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(steps).toEqual([`start ${config.origin}`, `start ${V4}`, `end ${V4}`]);
    release?.();
    await second;
    expect(steps).toEqual([`start ${config.origin}`, `start ${V4}`, `end ${V4}`, `end ${config.origin}`]);
    expect(await ptr('10.10.3.5', V4)).toEqual(['nic1.web.default.vm.example.com']);
    await reconciler.stop();
  });

  it('keeps the serial of a reverse zone written in a flush whose forward write failed', async () => {
    const clock = new ManualClock();
    const store = storeFailingOnce(config.origin);
    const { reconciler, source, writes } = start(store, clock);
    await reconciler.start();
    source.replaceAll(new Map([['a', vmi('web', 'default', '10.10.3.4')]]));
    source.markSynced();
    await clock.advance(0);
    await reconciler.idle();
    expect(reconciler.status().lastWriteError).toBe('disk full');
    expect(writes.map((write) => write.origin)).toEqual([V4, V6]);
    const first = await serialOf(V4);
    // The retry (at once, in the same second) writes only the forward zone; the reverse zones are current.
    await reconciler.flushNow();
    expect(writes.map((write) => write.origin)).toEqual([V4, V6, config.origin]);
    // Still the same second: the next IPv4 zone gets first + 1, never first again (CoreDNS would keep the old).
    source.upsert('a', vmi('web', 'default', '10.10.3.5'));
    await reconciler.flushNow();
    expect(await serialOf(V4)).toBe((first ?? 0) + 1);
    await reconciler.stop();
  });

  it('rewrites a reverse zone exactly when its PTRs changed, with what a from-scratch computation gives', async () => {
    const address = fc.constantFrom('10.10.0.1', '10.10.3.4', 'fd00:10::1', 'fd00:10::2', '192.0.2.1');
    const name = fc.constantFrom('web.default', 'nic1.web.default', 'db.prod', 'nic1.db.prod');
    const records = fc.array(
      fc.tuple(name, address).map(([owner, text]): ClaimedRecord => ({
        name: owner,
        type: text.includes(':') ? 'AAAA' : 'A',
        address: text,
        claim: 'exclusive',
      })),
      { maxLength: 3 },
    );
    const key = fc.constantFrom('a', 'b', 'c');
    const step = fc.oneof(
      fc.tuple(fc.constant('upsert' as const), key, records),
      fc.tuple(fc.constant('remove' as const), key, fc.constant([])),
    );
    const origins = ranges.map((range) => reverseZoneConfig(range, config));
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
        const files = new Map<string, string>();
        const written: string[] = [];
        const store: ZoneStore = {
          read: (origin) => Promise.resolve(files.get(origin)),
          write: (origin, text) => {
            files.set(origin, text);
            written.push(origin);
            return Promise.resolve();
          },
        };
        const clock = new ManualClock();
        const { reconciler, source } = start(store, clock);
        const objects = new Map<string, readonly ClaimedRecord[]>();
        await reconciler.start();
        source.replaceAll(new Map());
        source.markSynced();
        await reconciler.flushNow();
        let before = origins.map((zoneConfig) => renderReverseZoneParts(zoneConfig, []).tail);
        for (const [kind, objectKey, objectRecords] of steps) {
          if (kind === 'upsert') {
            objects.set(objectKey, objectRecords);
            source.upsert(objectKey, objectRecords);
          } else {
            objects.delete(objectKey);
            source.remove(objectKey);
          }
          written.length = 0;
          await reconciler.flushNow();
          const forward = planZone(config, objects, {}, { nowMs: clock.now(), validate: false }).records;
          const expected = reverseRecords(ranges, config.origin, forward);
          const now = origins.map(
            (zoneConfig, index) =>
              renderReverseZoneParts(zoneConfig, expected.zones[index]?.records ?? []).tail,
          );
          origins.forEach((zoneConfig, index) => {
            expect(splitRenderedSerial(files.get(zoneConfig.origin) ?? '')?.tail).toBe(now[index]);
            expect(written.includes(zoneConfig.origin)).toBe(now[index] !== before[index]);
          });
          before = now;
        }
        await reconciler.stop();
      }),
      { numRuns: 60 },
    );
  });
});
