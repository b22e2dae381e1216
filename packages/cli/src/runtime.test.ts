import { afterEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '@zonewright/testkit';
import {
  defaultZoneConfig,
  silentLogger,
  type ClaimedRecord,
  type Reconciler,
  type SourceHandle,
} from '@zonewright/zone';
import { ZoneMetrics } from './metrics.js';
import { runZoneWatcher, writeFailureProblem, type ZoneWatcherOptions } from './runtime.js';

const config = defaultZoneConfig('vm.example.com', ['10.0.0.53']);
const rec = (name: string, address: string): ClaimedRecord => ({
  name,
  type: 'A',
  address,
  claim: 'exclusive',
});

describe('writeFailureProblem', () => {
  const since = Date.UTC(2026, 0, 1);
  const status = { origin: 'vm.example.com', failingSinceMs: since, lastWriteError: 'cannot write: EIO' };
  it.each([
    ['writes succeed', { ...status, failingSinceMs: undefined }, since + 3_600_000, undefined],
    ['failing for less than the threshold', status, since + 59_999, undefined],
    ['failing for exactly the threshold', status, since + 60_000, undefined],
    [
      'failing for longer than the threshold',
      status,
      since + 61_500,
      'writing zone vm.example.com has failed for 61 s (since 2026-01-01T00:00:00.000Z): cannot write: EIO',
    ],
  ])('%s', (_case, input, now, expected) => {
    expect(writeFailureProblem(input, now, 60_000)).toBe(expected);
  });
});

interface Watcher {
  readonly reconciler: Reconciler;
  readonly handle: SourceHandle;
  readonly clock: ManualClock;
  readonly zoneFile: string;
  /** Moves the manual clock by at most `stepMs` at a time, letting each zone write finish before going on. */
  advance(ms: number, stepMs?: number): Promise<void>;
  get(route: string): Promise<{ status: number; body: string }>;
}

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** `runZoneWatcher` with one source, a real zones folder and ops server, and a manual clock. */
async function startWatcher(extra: Partial<ZoneWatcherOptions> = {}): Promise<Watcher> {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'zw-runtime-'));
  cleanups.push(() => fs.rm(directory, { recursive: true, force: true }));
  const clock = new ManualClock();
  const abort = new AbortController();
  let reconciler: Reconciler | undefined;
  let handle: SourceHandle | undefined;
  let port: number | undefined;
  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const run = runZoneWatcher({
    command: 'test',
    config,
    zonesDir: directory,
    debounceMs: 100,
    maxDelayMs: 500,
    listen: '127.0.0.1:0',
    logger: silentLogger,
    metrics: new ZoneMetrics(),
    clock,
    signal: abort.signal,
    onListening: (server) => (port = server.port),
    createSources: (created) => {
      reconciler = created;
      const source = created.registerSource('test');
      handle = source;
      return [
        {
          start: () => {
            source.upsert('a', [rec('a.default', '10.1.0.1')]);
            source.markSynced();
            markStarted();
          },
          stop: () => undefined,
        },
      ];
    },
    ...extra,
  });
  cleanups.push(async () => {
    abort.abort();
    await run;
  });
  await Promise.race([started, run]);
  if (reconciler === undefined || handle === undefined || port === undefined) {
    throw new Error('the watcher did not start');
  }
  const ready = reconciler;
  const advance = async (ms: number, stepMs = 1000): Promise<void> => {
    const target = clock.now() + ms;
    do {
      await clock.advance(Math.min(stepMs, target - clock.now()));
      await ready.idle();
    } while (clock.now() < target);
  };
  await advance(0);
  await reconciler.whenReady();
  const base = `http://127.0.0.1:${port}`;
  return {
    reconciler,
    handle,
    clock,
    zoneFile: path.join(directory, `db.${config.origin}`),
    advance,
    get: async (route) => {
      const response = await fetch(`${base}${route}`);
      return { status: response.status, body: await response.text() };
    },
  };
}

/** Renaming a file onto a directory fails (EISDIR), so every zone write fails until it is removed again. */
async function breakZoneFile(zoneFile: string): Promise<void> {
  await fs.rm(zoneFile);
  await fs.mkdir(zoneFile);
}

describe('runZoneWatcher /healthz', () => {
  it('turns unhealthy after 60 s of failing zone writes and healthy again after the next good write', async () => {
    const watcher = await startWatcher();
    const { reconciler, handle, clock } = watcher;
    expect(await watcher.get('/healthz')).toMatchObject({
      status: 200,
      body: expect.stringMatching(/^ok\n/),
    });

    await breakZoneFile(watcher.zoneFile);
    handle.upsert('b', [rec('b.default', '10.1.0.2')]);
    await watcher.advance(100);
    const since = reconciler.status().failingSinceMs;
    expect(since).toBeDefined();
    expect(reconciler.status().lastWriteError).toContain('cannot write');

    await watcher.advance((since ?? 0) + 59_000 - clock.now());
    expect(reconciler.status().failingSinceMs).toBe(since); // retried meanwhile, never succeeded
    expect((await watcher.get('/healthz')).status).toBe(200);

    await watcher.advance(2_000);
    const unhealthy = await watcher.get('/healthz');
    expect(unhealthy.status).toBe(503);
    expect(unhealthy.body).toMatch(
      /^unhealthy: writing zone vm\.example\.com has failed for 6[01] s \(since /,
    );
    expect(unhealthy.body.split('\n')[0]).toContain('cannot write');
    expect((await watcher.get('/livez')).status).toBe(503);
    expect((await watcher.get('/readyz')).status).toBe(200); // readiness is not affected

    await fs.rmdir(watcher.zoneFile);
    await watcher.advance(31_000); // the longest retry backoff is 30 s
    expect(reconciler.status().failingSinceMs).toBeUndefined();
    expect(await fs.readFile(watcher.zoneFile, 'utf8')).toContain('b.default');
    expect(await watcher.get('/healthz')).toMatchObject({
      status: 200,
      body: expect.stringMatching(/^ok\n/),
    });
  });

  it('takes its threshold from unhealthyAfterWriteFailureMs', async () => {
    const watcher = await startWatcher({ unhealthyAfterWriteFailureMs: 5_000 });
    await breakZoneFile(watcher.zoneFile);
    watcher.handle.upsert('b', [rec('b.default', '10.1.0.2')]);
    await watcher.advance(100);
    await watcher.advance(4_000);
    expect((await watcher.get('/healthz')).status).toBe(200);
    await watcher.advance(2_000);
    expect((await watcher.get('/healthz')).status).toBe(503);
  });
});

describe('runZoneWatcher with a zones directory it cannot use', () => {
  /** A watcher whose zones "directory" is a regular file: preparing it fails (ENOTDIR) until it is replaced. */
  async function blockedWatcher(extra: Partial<ZoneWatcherOptions> = {}) {
    const parent = await fs.mkdtemp(path.join(os.tmpdir(), 'zw-runtime-blocked-'));
    cleanups.push(() => fs.rm(parent, { recursive: true, force: true }));
    const zonesDir = path.join(parent, 'zones');
    await fs.writeFile(zonesDir, 'not a directory');
    const clock = new ManualClock();
    const abort = new AbortController();
    let port: number | undefined;
    let sourceStarts = 0;
    let reconciler: Reconciler | undefined;
    const run = runZoneWatcher({
      command: 'test',
      config,
      zonesDir,
      debounceMs: 100,
      maxDelayMs: 500,
      listen: '127.0.0.1:0',
      logger: silentLogger,
      clock,
      signal: abort.signal,
      unhealthyAfterWriteFailureMs: 5_000,
      onListening: (server) => (port = server.port),
      createSources: (created) => {
        reconciler = created;
        const source = created.registerSource('test');
        return [
          {
            start: () => {
              sourceStarts += 1;
              source.upsert('a', [rec('a.default', '10.1.0.1')]);
              source.markSynced();
            },
            stop: () => undefined,
          },
        ];
      },
      ...extra,
    });
    const settled = run.then(
      () => 'resolved',
      (error: unknown) => error as Error,
    );
    cleanups.push(async () => {
      abort.abort();
      await settled;
    });
    /** Moves the manual clock in 250 ms steps, giving real file I/O a moment after each step. */
    const step = async (ms: number): Promise<void> => {
      for (let moved = 0; moved < ms; moved += 250) {
        await clock.advance(Math.min(250, ms - moved));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    return {
      zonesDir,
      clock,
      step,
      abort,
      settled,
      sourceStarts: () => sourceStarts,
      reconciler: () => reconciler,
      healthz: async () => {
        const response = await fetch(`http://127.0.0.1:${String(port)}/healthz`);
        return { status: response.status, body: await response.text() };
      },
    };
  }

  it('with once: fails at once with the directory in the message', async () => {
    const watcher = await blockedWatcher({ once: true });
    const result = await watcher.settled;
    expect(result).toBeInstanceOf(Error);
    expect((result as Error).message).toMatch(/cannot use zone directory .*zones: ENOTDIR/);
    expect(watcher.sourceStarts()).toBe(0);
  });

  it('long-running: retries with backoff, turns unhealthy, recovers, and writes the zone', async () => {
    const watcher = await blockedWatcher();
    await watcher.step(250);
    expect(watcher.clock.pending()).toBe(1); // one backoff timer, not a loop
    await watcher.step(4_000);
    expect((await watcher.healthz()).status).toBe(200); // 4 s < --unhealthy-after 5 s
    await watcher.step(2_000);
    const unhealthy = await watcher.healthz();
    expect(unhealthy.status).toBe(503);
    expect(unhealthy.body).toMatch(/^unhealthy: .*cannot use zone directory .*ENOTDIR/);
    expect(watcher.sourceStarts()).toBe(0);

    await fs.rm(watcher.zonesDir);
    await watcher.step(10_000); // the next retry of the backoff (0.5, 1, 2, 4, 8 s) succeeds
    await watcher.reconciler()?.idle();
    expect(watcher.sourceStarts()).toBe(1);
    expect(await fs.readFile(path.join(watcher.zonesDir, `db.${config.origin}`), 'utf8')).toContain(
      'a.default',
    );
    expect((await watcher.healthz()).status).toBe(200);
  });

  it('long-running: a stop during the backoff ends the run without starting a source', async () => {
    const watcher = await blockedWatcher();
    await watcher.step(750);
    watcher.abort.abort();
    expect(await watcher.settled).toBe('resolved');
    expect(watcher.sourceStarts()).toBe(0);
  });
});

describe('runZoneWatcher staleness', () => {
  /** The value of one sample line of /metrics, e.g. `zonewright_source_up{source="test"}`. */
  async function sample(watcher: Watcher, series: string): Promise<number | undefined> {
    const { body } = await watcher.get('/metrics');
    const line = body.split('\n').find((text) => text.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  }

  it('serves zonewright_zone_behind_seconds and zonewright_source_up, and logs falling behind and catching up', async () => {
    const lines: string[] = [];
    const log =
      (level: string) =>
      (message: string): void => {
        lines.push(`${level} ${message}`);
      };
    const watcher = await startWatcher({
      logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    });
    const behind = 'zonewright_zone_behind_seconds{origin="vm.example.com"}';
    const up = 'zonewright_source_up{source="test"}';
    expect(await sample(watcher, behind)).toBe(0);
    expect(await sample(watcher, up)).toBe(1);

    watcher.handle.reportError(new Error('connect ECONNREFUSED'));
    await watcher.advance(7_000);
    expect(await sample(watcher, behind)).toBe(7);
    expect(await sample(watcher, up)).toBe(0);
    expect(lines.filter((line) => line.includes('is behind its sources'))).toEqual([
      'warn zone vm.example.com is behind its sources since 2026-01-01T00:00:00.000Z (5.0 s): source test failing: connect ECONNREFUSED',
    ]);

    // Back: a change delivered with the recovery is pending (still behind), then written (current).
    watcher.handle.upsert('b', [rec('b.default', '10.1.0.2')], watcher.clock.now());
    watcher.handle.reportHealthy();
    expect(await sample(watcher, up)).toBe(1);
    expect(await sample(watcher, behind)).toBe(7);
    await watcher.advance(1_000);
    expect(await fs.readFile(watcher.zoneFile, 'utf8')).toContain('b.default');
    expect(await sample(watcher, behind)).toBe(0);
    // The log line comes with the next once-a-second check.
    await watcher.advance(1_000);
    // 7 s until the write; the manual clock may have moved on by the next tick while the real file was written.
    expect(lines.filter((line) => line.includes('is current again'))).toEqual([
      expect.stringMatching(
        /^info zone vm\.example\.com is current again; it was behind its sources for [78]\.0 s$/,
      ),
    ]);
  });
});
