import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { ManualClock } from '@zonewright/testkit';
import { defaultZoneConfig } from './config.js';
import { silentLogger } from './logger.js';
import type { ClaimedRecord } from './model.js';
import { Reconciler } from './reconciler.js';
import { recoverSerial } from './render.js';
import { parseSourceVersion, serialGreater, VERSION_SERIAL_BASE, versionSerial } from './serial.js';
import type { ZoneStore } from './store.js';

describe('versionSerial', () => {
  it('is the same for the same version on every replica, and above every clock serial of today', () => {
    expect(versionSerial(undefined, 42n)).toEqual({ serial: VERSION_SERIAL_BASE + 42, agreed: true });
    expect(versionSerial(1_796_000_000, 42n)).toEqual({ serial: VERSION_SERIAL_BASE + 42, agreed: true });
  });

  it('wraps past 2^32 and stays greater in RFC 1982 arithmetic, never 0', () => {
    const wrapped = versionSerial(2 ** 32 - 5, BigInt(2 ** 32 - VERSION_SERIAL_BASE + 3));
    expect(wrapped).toEqual({ serial: 3, agreed: true });
    expect(serialGreater(3, 2 ** 32 - 5)).toBe(true);
    expect(versionSerial(undefined, BigInt(2 ** 32 - VERSION_SERIAL_BASE)).serial).toBe(1);
  });

  it('never goes backwards: an older version than the zone moves the serial up by one', () => {
    const previous = VERSION_SERIAL_BASE + 1000;
    expect(versionSerial(previous, 10n)).toEqual({ serial: previous + 1, agreed: false });
    fc.assert(
      fc.property(fc.nat(2 ** 32 - 1), fc.bigInt(0n, 2n ** 40n), (before, version) => {
        const { serial } = versionSerial(before === 0 ? undefined : before, version);
        expect(serial).toBeGreaterThan(0);
        if (before !== 0) expect(serialGreater(serial, before)).toBe(true);
      }),
    );
  });

  it('reads decimal versions only', () => {
    expect(parseSourceVersion('2841577')).toBe(2841577n);
    expect(parseSourceVersion('abc')).toBeUndefined();
    expect(parseSourceVersion('')).toBeUndefined();
  });
});

class MemoryStore implements ZoneStore {
  readonly files = new Map<string, string>();
  read(origin: string): Promise<string | undefined> {
    return Promise.resolve(this.files.get(origin));
  }
  write(origin: string, text: string): Promise<void> {
    this.files.set(origin, text);
    return Promise.resolve();
  }
}

const config = defaultZoneConfig('vm.example.com', ['10.0.0.53']);
const record = (address: string): ClaimedRecord[] => [
  { name: 'nic1.web.default', type: 'A', address, claim: 'exclusive' },
];

function replica(clock: ManualClock) {
  const store = new MemoryStore();
  const reconciler = new Reconciler({
    config,
    store,
    clock,
    logger: silentLogger,
    debounceMs: 10,
    maxDelayMs: 50,
    serials: 'source-version',
  });
  const handle = reconciler.registerSource('kubernetes');
  const serial = (): number | undefined => {
    const text = store.files.get(config.origin);
    return text === undefined ? undefined : recoverSerial(text, config.origin);
  };
  return { reconciler, handle, store, serial };
}

describe('Reconciler with serials from source versions', () => {
  it('gives two replicas the same serial for the same content, however their timing differs', async () => {
    const clock = new ManualClock();
    const fast = replica(clock);
    const slow = replica(clock);
    for (const { reconciler } of [fast, slow]) await reconciler.start();
    // The fast replica sees every event at once; the slow one sees them late and in one burst.
    fast.handle.replaceAll(new Map([['a', record('10.0.0.1')]]));
    fast.handle.reportVersion?.('100');
    fast.handle.markSynced();
    await clock.advance(100);
    const events = [
      ['10.0.0.2', '105'],
      ['10.0.0.3', '111'],
      ['10.0.0.4', '130'],
    ] as const;
    const fastSerials: (number | undefined)[] = [fast.serial()];
    for (const [address, version] of events) {
      fast.handle.upsert('a', record(address));
      fast.handle.reportVersion?.(version);
      await clock.advance(1000);
      fastSerials.push(fast.serial());
    }
    expect(fastSerials).toEqual([100, 105, 111, 130].map((version) => VERSION_SERIAL_BASE + version));
    await clock.advance(60_000);
    slow.handle.replaceAll(new Map([['a', record('10.0.0.1')]]));
    slow.handle.reportVersion?.('100');
    slow.handle.markSynced();
    for (const [address, version] of events) {
      slow.handle.upsert('a', record(address));
      slow.handle.reportVersion?.(version);
    }
    await clock.advance(1000);
    expect(slow.serial()).toBe(fast.serial());
    expect(slow.store.files.get(config.origin)).toBe(fast.store.files.get(config.origin));
    // A version without a change (a bookmark) writes nothing.
    fast.handle.reportVersion?.('140');
    fast.handle.upsert('a', record('10.0.0.4'));
    await clock.advance(1000);
    expect(fast.serial()).toBe(VERSION_SERIAL_BASE + 130);
    for (const { reconciler } of [fast, slow]) await reconciler.stop();
  });
});
