import { describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '@zonewright/testkit';
import { defaultZoneConfig } from './config.js';
import { ZoneStoreError } from './errors.js';
import { silentLogger } from './logger.js';
import type { ClaimedRecord } from './model.js';
import { parseZone } from './parse.js';
import { Reconciler, type ReconcilerObserver, type WriteInfo } from './reconciler.js';
import { recoverSerial } from './render.js';
import { FileZoneStore, type ZoneStore } from './store.js';

class MemoryStore implements ZoneStore {
  readonly files = new Map<string, string>();
  writes = 0;
  failNext = 0;
  read(origin: string): Promise<string | undefined> {
    return Promise.resolve(this.files.get(origin));
  }
  write(origin: string, text: string): Promise<void> {
    if (this.failNext > 0) {
      this.failNext -= 1;
      return Promise.reject(new ZoneStoreError('disk full', { transient: true }));
    }
    this.writes += 1;
    this.files.set(origin, text);
    return Promise.resolve();
  }
}

const config = defaultZoneConfig('vm.example.com', ['10.0.0.53']);
const rec = (name: string, address: string): ClaimedRecord => ({
  name,
  type: 'A',
  address,
  claim: 'exclusive',
});

function setup<S extends ZoneStore = MemoryStore>(
  store: S = new MemoryStore() as unknown as S,
  clock = new ManualClock(),
  observer: ReconcilerObserver = {},
) {
  const writes: WriteInfo[] = [];
  const reconciler = new Reconciler({
    config,
    store,
    clock,
    logger: process.env.ZW_DEBUG ? console : silentLogger,
    debounceMs: 100,
    maxDelayMs: 500,
    retryMinMs: 1000,
    observer: { ...observer, onWrite: (info) => writes.push(info) },
  });
  return { reconciler, clock, writes, store };
}

/** A reconciler whose observer records every conflict (`name winner>loser`) and rejected record (`object`). */
function setupReporting(store = new MemoryStore()) {
  const conflicts: string[] = [];
  const rejections: string[] = [];
  const context = setup(store, new ManualClock(), {
    onConflict: (conflict) => conflicts.push(`${conflict.name} ${conflict.winner}>${conflict.loser}`),
    onRejected: (skipped) => rejections.push(skipped.object ?? '?'),
  });
  return { ...context, conflicts, rejections };
}

function addresses(text: string | undefined): string[] {
  return parseZone(text ?? '', { origin: config.origin })
    .records.filter((record) => record.type === 'A' && !record.name.startsWith('ns.'))
    .map((record) => `${record.name} ${record.rdata[0] ?? ''}`);
}

describe('Reconciler', () => {
  it('writes nothing before every source has delivered its initial state', async () => {
    const store = new MemoryStore();
    const { reconciler, clock } = setup(store);
    const vmis = reconciler.registerSource('vmis');
    const files = reconciler.registerSource('files');
    await reconciler.start();
    vmis.upsert('a', [rec('web.default', '10.1.0.1')]);
    vmis.markSynced();
    await clock.advance(5000);
    expect(store.writes).toBe(0);
    expect(reconciler.isReady()).toBe(false);
    files.markSynced();
    await clock.advance(0);
    expect(store.writes).toBe(1);
    expect(reconciler.isReady()).toBe(true);
    expect(addresses(store.files.get(config.origin))).toEqual(['web.default.vm.example.com 10.1.0.1']);
  });

  it('coalesces a burst into one write that reflects every event, within the maximum delay', async () => {
    const store = new MemoryStore();
    const { reconciler, clock, writes } = setup(store);
    const source = reconciler.registerSource('vmis');
    await reconciler.start();
    source.markSynced();
    await clock.advance(0);
    expect(writes).toHaveLength(1);
    const burstStart = clock.now();
    for (let index = 0; index < 20; index += 1) {
      source.upsert(`vmi-${index}`, [rec(`vm${index}.default`, `10.1.0.${index + 1}`)], clock.now());
      await clock.advance(50); // never quiet for 100 ms
    }
    // 20 events over 1000 ms with a 500 ms maximum delay: writes at ~500 and ~1000 ms, never one per event.
    expect(writes.length).toBeLessThanOrEqual(4);
    await clock.advance(1000);
    const last = writes.at(-1);
    expect(last?.records).toBe(20);
    expect(addresses(store.files.get(config.origin))).toHaveLength(20);
    const delays = writes.slice(1).flatMap((info) => info.eventDelaysMs);
    expect(delays).toHaveLength(20);
    expect(Math.max(...delays)).toBeLessThanOrEqual(500);
    expect(clock.now() - burstStart).toBeGreaterThan(0);
  });

  it('skips writes when nothing but the serial would change', async () => {
    const { reconciler, clock, writes } = setup();
    const source = reconciler.registerSource('vmis');
    await reconciler.start();
    source.upsert('a', [rec('web.default', '10.1.0.1')]);
    source.markSynced();
    await clock.advance(0);
    source.upsert('a', [rec('web.default', '10.1.0.1')]);
    source.replaceAll(new Map([['a', [rec('web.default', '10.1.0.1')]]]));
    await clock.advance(2000);
    expect(writes).toHaveLength(1);
  });

  it('reports how many records each write added and removed, and the record count', async () => {
    const { reconciler, clock, writes } = setup();
    const source = reconciler.registerSource('vmis');
    await reconciler.start();
    source.upsert('a', [rec('a.default', '10.1.0.1'), rec('nic1.a.default', '10.1.0.1')]);
    source.upsert('b', [rec('b.default', '10.1.0.2')]);
    source.markSynced();
    await clock.advance(0);
    source.remove('a');
    source.upsert('b', [rec('b.default', '10.1.0.3')]);
    source.upsert('c', [rec('c.default', '10.1.0.4')]);
    await clock.advance(200);
    source.upsert('c', [rec('c.default', '10.1.0.4')]); // same content again: no write
    await clock.advance(200);
    expect(writes.map((info) => [info.records, info.added, info.removed])).toEqual([
      [3, 3, 0],
      [2, 2, 3],
    ]);
    expect(reconciler.status().records).toBe(2);
  });

  it('raises the serial on every write, even within one second', async () => {
    const { reconciler, clock, writes } = setup();
    const source = reconciler.registerSource('vmis');
    await reconciler.start();
    source.markSynced();
    await clock.advance(0);
    source.upsert('a', [rec('a.default', '10.1.0.1')]);
    await clock.advance(150);
    source.upsert('b', [rec('b.default', '10.1.0.2')]);
    await clock.advance(150);
    const first = writes[0]?.serial ?? 0;
    expect(first).toBe(clock.now() / 1000 - 0.3);
    expect(writes.map((info) => info.serial)).toEqual([first, first + 1, first + 2]);
  });

  it('after a restart keeps an identical zone and continues above its serial', async () => {
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'zw-reconciler-'));
    try {
      const clock = new ManualClock();
      const first = setup(new FileZoneStore(directory), clock);
      const source = first.reconciler.registerSource('vmis');
      await first.reconciler.start();
      source.upsert('a', [rec('web.default', '10.1.0.1')]);
      source.markSynced();
      await clock.advance(0);
      await first.reconciler.idle();
      await first.reconciler.stop();
      const file = path.join(directory, 'db.vm.example.com');
      const before = await fs.readFile(file, 'utf8');
      const serial = recoverSerial(before, config.origin);

      const second = setup(new FileZoneStore(directory), new ManualClock(clock.now() - 3_600_000)); // clock went back
      const again = second.reconciler.registerSource('vmis');
      await second.reconciler.start();
      again.upsert('a', [rec('web.default', '10.1.0.1')]);
      again.markSynced();
      await second.clock.advance(0);
      await second.reconciler.idle();
      expect(second.writes).toHaveLength(0);
      expect(second.reconciler.isReady()).toBe(true);
      expect(await fs.readFile(file, 'utf8')).toBe(before);
      again.upsert('b', [rec('db.default', '10.1.0.2')]);
      await second.clock.advance(200);
      await second.reconciler.idle();
      expect(second.writes[0]?.serial).toBe((serial ?? 0) + 1);
      expect(addresses(await fs.readFile(file, 'utf8'))).toHaveLength(2);
    } finally {
      await fs.rm(directory, { recursive: true, force: true });
    }
  });

  it('keeps the old zone when a write fails and retries with backoff', async () => {
    const store = new MemoryStore();
    const { reconciler, clock, writes } = setup(store);
    const source = reconciler.registerSource('vmis');
    await reconciler.start();
    source.upsert('a', [rec('a.default', '10.1.0.1')]);
    source.markSynced();
    await clock.advance(0);
    const good = store.files.get(config.origin);
    store.failNext = 2;
    source.upsert('b', [rec('b.default', '10.1.0.2')], clock.now());
    await clock.advance(150);
    expect(store.files.get(config.origin)).toBe(good);
    expect(reconciler.status().lastWriteError).toContain('disk full');
    await clock.advance(900); // first retry after 1000 ms fails again
    expect(writes).toHaveLength(1);
    await clock.advance(2100); // second retry after 2000 ms succeeds
    expect(writes).toHaveLength(2);
    expect(addresses(store.files.get(config.origin))).toHaveLength(2);
    expect(writes[1]?.eventDelaysMs).toHaveLength(1);
  });

  it('reports a persisting conflict and rejected record once across flushes, and again when they come back', async () => {
    const { reconciler, clock, writes, store, conflicts, rejections } = setupReporting();
    const source = reconciler.registerSource('vmis');
    await reconciler.start();
    source.upsert('uid-1', [rec('web.default', '10.1.0.1')]);
    source.upsert('uid-2', [rec('web.default', '10.1.0.2')]);
    source.upsert('uid-3', [rec('bad.default', '10.1.0.999')]);
    source.markSynced();
    await clock.advance(0);
    expect(conflicts).toEqual(['web.default uid-1>uid-2']);
    expect(rejections).toEqual(['uid-3']);
    // Several more flushes (one of them a failed write and its retry) while both problems persist.
    for (let index = 0; index < 4; index += 1) {
      if (index === 2) store.failNext = 1;
      source.upsert(`other-${index}`, [rec(`other${index}.default`, `10.1.1.${index + 1}`)]);
      await clock.advance(2000);
    }
    expect(writes).toHaveLength(5);
    expect(store.writes).toBe(5);
    expect(conflicts).toEqual(['web.default uid-1>uid-2']);
    expect(rejections).toEqual(['uid-3']);
    // Resolved: nothing new to report, and both are forgotten.
    source.remove('uid-2');
    source.upsert('uid-3', [rec('bad.default', '10.1.0.3')]);
    await clock.advance(200);
    expect(writes).toHaveLength(6);
    expect(conflicts).toHaveLength(1);
    expect(rejections).toHaveLength(1);
    // Back again: reported again, once.
    source.upsert('uid-2', [rec('web.default', '10.1.0.2')]);
    source.upsert('uid-3', [rec('bad.default', '10.1.0.999')]);
    await clock.advance(200);
    source.upsert('other-9', [rec('other9.default', '10.1.1.9')]);
    await clock.advance(200);
    expect(writes).toHaveLength(8);
    expect(conflicts).toEqual(['web.default uid-1>uid-2', 'web.default uid-1>uid-2']);
    expect(rejections).toEqual(['uid-3', 'uid-3']);
  });

  it('forgets every conflict and rejected record that went away, however many names churn through', async () => {
    const { reconciler, clock, conflicts, rejections } = setupReporting();
    const source = reconciler.registerSource('vmis');
    await reconciler.start();
    // One conflict that lasts the whole run.
    source.upsert('keep-a', [rec('keep.default', '10.2.0.1')]);
    source.upsert('keep-b', [rec('keep.default', '10.2.0.2')]);
    source.markSynced();
    await clock.advance(0);
    const churned = 200;
    const create = (index: number): void => {
      source.upsert(`a-${index}`, [rec(`n${index}.default`, '10.3.0.1')]);
      source.upsert(`b-${index}`, [rec(`n${index}.default`, '10.3.0.2')]);
      source.upsert(`bad-${index}`, [rec(`bad${index}.default`, 'not-an-address')]);
    };
    for (let index = 0; index < churned; index += 1) {
      create(index);
      await clock.advance(200);
      for (const key of [`a-${index}`, `b-${index}`, `bad-${index}`]) source.remove(key);
      await clock.advance(200);
    }
    expect(conflicts).toHaveLength(1 + churned);
    expect(rejections).toHaveLength(churned);
    expect(conflicts.filter((line) => line.startsWith('keep.default '))).toEqual([
      'keep.default keep-a>keep-b',
    ]);
    // Had any of them been kept, coming back now would go unreported.
    for (let index = 0; index < churned; index += 1) create(index);
    await clock.advance(200);
    expect(conflicts).toHaveLength(1 + 2 * churned);
    expect(rejections).toHaveLength(2 * churned);
    expect(new Set(conflicts.slice(1 + churned))).toEqual(new Set(conflicts.slice(1, 1 + churned)));
    expect(conflicts.filter((line) => line.startsWith('keep.default '))).toHaveLength(1);
  });

  it('tells since when zone writes have been failing, until one succeeds or nothing is left to write', async () => {
    const store = new MemoryStore();
    const { reconciler, clock, writes } = setup(store);
    const source = reconciler.registerSource('vmis');
    await reconciler.start();
    source.markSynced();
    await clock.advance(0);
    expect(reconciler.status().failingSinceMs).toBeUndefined();
    store.failNext = 3;
    source.upsert('a', [rec('a.default', '10.1.0.1')]);
    await clock.advance(100);
    const firstFailure = clock.now();
    expect(reconciler.status().failingSinceMs).toBe(firstFailure);
    await clock.advance(1000 + 2000); // two retries, both fail
    expect(store.failNext).toBe(0);
    expect(writes).toHaveLength(1);
    expect(reconciler.status().failingSinceMs).toBe(firstFailure);
    await clock.advance(4000); // the third retry succeeds
    expect(writes).toHaveLength(2);
    expect(reconciler.status().failingSinceMs).toBeUndefined();
    expect(reconciler.status().lastWriteError).toBeUndefined();

    // Failing again, then the change is undone before the retry: the zone on disk is what is wanted.
    store.failNext = 1;
    source.remove('a');
    await clock.advance(200);
    expect(reconciler.status().failingSinceMs).toBe(clock.now() - 100);
    source.upsert('a', [rec('a.default', '10.1.0.1')]);
    await clock.advance(1000);
    expect(writes).toHaveLength(2);
    expect(reconciler.status().failingSinceMs).toBeUndefined();
  });

  it('keeps a failing source in the zone and resolves name conflicts deterministically', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const conflicts: string[] = [];
    const observed = new Reconciler({
      config,
      store,
      clock,
      logger: silentLogger,
      observer: {
        onConflict: (conflict) => conflicts.push(`${conflict.name} ${conflict.winner}>${conflict.loser}`),
      },
    });
    const source = observed.registerSource('vmis');
    await observed.start();
    source.upsert('uid-2', [rec('web.default', '10.1.0.2')]);
    source.upsert('uid-1', [rec('web.default', '10.1.0.1')]);
    source.markSynced();
    await clock.advance(0);
    source.reportError(new Error('API unreachable'));
    await clock.advance(5000);
    expect(addresses(store.files.get(config.origin))).toEqual(['web.default.vm.example.com 10.1.0.1']);
    expect(conflicts).toEqual(['web.default uid-1>uid-2']);
    expect(observed.status().sources[0]?.lastError).toBe('API unreachable');
  });

  it('writes what is pending when stopped', async () => {
    const store = new MemoryStore();
    const { reconciler, clock } = setup(store);
    const source = reconciler.registerSource('vmis');
    await reconciler.start();
    source.markSynced();
    await clock.advance(0);
    source.upsert('a', [rec('a.default', '10.1.0.1')]);
    await reconciler.stop();
    expect(addresses(store.files.get(config.origin))).toEqual(['a.default.vm.example.com 10.1.0.1']);
  });

  it('bounds the wait of an event that arrives during a slow write by max-delay plus one write', async () => {
    const clock = new ManualClock();
    const slowStore: ZoneStore & { files: Map<string, string> } = {
      files: new Map(),
      read: () => Promise.resolve(undefined),
      write(origin, text) {
        return new Promise((resolve) => {
          clock.setTimeout(() => {
            this.files.set(origin, text);
            resolve();
          }, 300);
        });
      },
    };
    const { reconciler, writes } = setup(slowStore, clock);
    const source = reconciler.registerSource('vmis');
    await reconciler.start();
    source.markSynced();
    await clock.advance(300);
    // A steady stream of events, one every 50 ms for 3 s: never quiet for the 100 ms debounce.
    for (let index = 0; index < 60; index += 1) {
      source.upsert(`vmi-${index}`, [rec(`vm${index}.default`, `10.1.0.${index + 1}`)], clock.now());
      await clock.advance(50);
    }
    await clock.advance(2000);
    const delays = writes.flatMap((info) => info.eventDelaysMs);
    expect(delays).toHaveLength(60);
    // max-delay (500) + one write (300): before the fix an event arriving mid-write waited for that write,
    // then for a full max-delay, then for its own write (up to 1100 ms).
    expect(Math.max(...delays)).toBeLessThanOrEqual(800);
    expect(slowStore.files.get(config.origin)).toContain('vm59.default');
  });

  it('writes the first change after a quiet period at once, and coalesces the changes that follow it', async () => {
    const store = new MemoryStore();
    const { reconciler, clock, writes } = setup(store);
    const source = reconciler.registerSource('vmis');
    await reconciler.start();
    source.markSynced();
    await clock.advance(1000);
    source.upsert('a', [rec('a.default', '10.1.0.1')], clock.now());
    await clock.advance(0);
    expect(writes).toHaveLength(2);
    expect(writes[1]?.eventDelaysMs).toEqual([0]);
    // A burst right after it: one more write once the burst is quiet for the 100 ms debounce.
    for (let index = 0; index < 5; index += 1) {
      source.upsert(`b${index}`, [rec(`b${index}.default`, `10.1.1.${index + 1}`)], clock.now());
      await clock.advance(20);
    }
    await clock.advance(100);
    expect(writes).toHaveLength(3);
    expect(writes[2]?.records).toBe(6);
  });
});

describe('Reconciler staleness (behindSinceMs)', () => {
  it('is behind from the oldest unwritten event until the write, and current after it', async () => {
    const { reconciler, clock, writes } = setup();
    const source = reconciler.registerSource('vmis');
    await reconciler.start();
    source.markSynced();
    await clock.advance(1000);
    expect(reconciler.behindSinceMs()).toBeUndefined();
    const eventTime = clock.now() - 300; // the source saw it 300 ms before handing it over
    source.upsert('a', [rec('a.default', '10.1.0.1')], eventTime);
    source.upsert('b', [rec('b.default', '10.1.0.2')], clock.now());
    expect(reconciler.behindSinceMs()).toBe(eventTime);
    expect(reconciler.status().behindSinceMs).toBe(eventTime);
    await clock.advance(50);
    expect(reconciler.behindSinceMs()).toBe(eventTime);
    await clock.advance(200);
    expect(writes[writes.length - 1]?.records).toBe(2);
    expect(reconciler.behindSinceMs()).toBeUndefined();
  });

  it('is behind since a source failed, through its recovery, until what it delivered is on disk', async () => {
    const { reconciler, clock, store } = setup();
    const source = reconciler.registerSource('vmis');
    const other = reconciler.registerSource('files');
    await reconciler.start();
    source.markSynced();
    other.markSynced();
    await clock.advance(1000);
    const failedAt = clock.now();
    source.reportError(new Error('connect ECONNREFUSED'));
    await clock.advance(10_000);
    source.reportError(new Error('connect ECONNREFUSED'));
    expect(reconciler.behindSinceMs()).toBe(failedAt);
    expect(reconciler.status().sources.map((s) => [s.name, s.failingSinceMs])).toEqual([
      ['vmis', failedAt],
      ['files', undefined],
    ]);
    // Another source's events do not hide the outage.
    other.upsert('f', [rec('f.default', '10.2.0.1')], clock.now());
    await clock.advance(1000);
    expect(reconciler.behindSinceMs()).toBe(failedAt);
    // Recovered with a relist: still behind since the outage began until the relist is written.
    source.replaceAll(new Map([['a', [rec('a.default', '10.1.0.9')]]]), clock.now());
    source.reportHealthy();
    expect(reconciler.status().sources[0]?.failingSinceMs).toBeUndefined();
    expect(reconciler.behindSinceMs()).toBe(failedAt);
    await clock.advance(600);
    expect(store.files.get(config.origin)).toContain('10.1.0.9');
    expect(reconciler.behindSinceMs()).toBeUndefined();
  });

  it('is current at once when a source recovers with nothing to write', async () => {
    const { reconciler, clock } = setup();
    const source = reconciler.registerSource('vmis');
    await reconciler.start();
    source.markSynced();
    await clock.advance(1000);
    source.reportError(new Error('down'));
    await clock.advance(5000);
    expect(reconciler.behindSinceMs()).toBe(clock.now() - 5000);
    source.reportHealthy();
    expect(reconciler.behindSinceMs()).toBeUndefined();
  });

  it('is behind while zone writes fail, from the first event they should have written', async () => {
    const store = new MemoryStore();
    const { reconciler, clock } = setup(store);
    const source = reconciler.registerSource('vmis');
    await reconciler.start();
    source.markSynced();
    await clock.advance(1000);
    store.failNext = 3;
    const eventTime = clock.now();
    source.upsert('a', [rec('a.default', '10.1.0.1')], eventTime);
    await clock.advance(2500);
    expect(reconciler.behindSinceMs()).toBe(eventTime);
    await clock.advance(20_000);
    expect(store.files.get(config.origin)).toContain('10.1.0.1');
    expect(reconciler.behindSinceMs()).toBeUndefined();
  });
});
