/**
 * Watch recovery against the fake API server (real list/watch protocol over loopback): the watch position kept
 * through connection resets, a 410 relisted at once, retries that start over, what the logs say, and — with a
 * real Reconciler writing real zone files — how fast a change made once the API answers again reaches the zone,
 * and the staleness the reconciler reports meanwhile.
 */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { KubernetesSource } from '@zonewright/status-monitor';
import type { KubernetesSourceOptions } from '@zonewright/status-monitor';
import { assertZoneValid, secondaryNicVmi, startFakeApiServer } from '@zonewright/testkit';
import type { FakeApiServer } from '@zonewright/testkit';
import { defaultZoneConfig, FileZoneStore, parseZone, Reconciler, systemClock } from '@zonewright/zone';
import type { Logger } from '@zonewright/zone';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordingHandle } from './recorder.js';

jest.setTimeout(60_000);

const ORIGIN = 'vm.recovery.test';
const vmi = (name: string, address = '10.0.0.1') => secondaryNicVmi(name, 'default', [address]);
const debug = (process.env['ZW_DEBUG'] ?? '') !== '';

/** A logger that keeps `level message` lines (and prints them with ZW_DEBUG). */
function recordingLogger(lines: string[]): Logger {
  const log =
    (level: string) =>
    (message: string): void => {
      lines.push(`${level} ${message}`);
      if (debug) console.log(`${new Date().toISOString()} ${level} ${message}`);
    };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** The resourceVersion of every watch request the server received, oldest first. */
function watchVersions(server: FakeApiServer): string[] {
  return server.requests
    .filter((path) => path.includes('watch=true'))
    .map((path) => new URL(path, 'http://x').searchParams.get('resourceVersion') ?? '');
}

async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const started = Date.now();
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not there yet
    }
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('watch recovery against the fake API server', () => {
  let server: FakeApiServer;
  let dir: string;
  let kubeConfig: KubeConfig;
  let handle: RecordingHandle;
  let logs: string[];
  const stops: (() => Promise<void>)[] = [];
  /** Delays the source asked for (its backoff), recorded and cut to 20 ms. */
  let delays: number[];

  function makeSource(options: Partial<KubernetesSourceOptions> = {}): KubernetesSource {
    const source = new KubernetesSource({
      handle,
      kubeConfig,
      logger: recordingLogger(logs),
      random: () => 0.5,
      delay: (ms, signal) => {
        delays.push(ms);
        return new Promise((resolve) => {
          const timer = setTimeout(resolve, 20);
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      },
      ...options,
    });
    stops.push(() => source.stop());
    source.start();
    return source;
  }

  /** Resolves once the server has `count` open watch streams. */
  async function watching(count = 1): Promise<void> {
    await until(() => server.counters.activeWatches >= count, `${count} open watch streams`);
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zw-watch-recovery-'));
    server = await startFakeApiServer();
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(await server.writeKubeconfig(dir));
    handle = new RecordingHandle();
    logs = [];
    delays = [];
  });
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('resumes after a reset mid-watch from the last event it received: no replay, no relist', async () => {
    makeSource();
    await handle.until(() => handle.synced);
    await watching();
    const listVersion = watchVersions(server)[0];
    server.breakWatches(2);
    server.add(vmi('a', '10.0.0.1'));
    const second = server.add(vmi('b', '10.0.0.2'));
    // The connection is reset after b; c is made while the client reconnects.
    await until(() => server.counters.watches >= 2, 'the watch after the reset');
    server.add(vmi('c', '10.0.0.3'));
    await handle.until(() => handle.state.size === 3, 5000, 'c');
    expect(watchVersions(server)).toEqual([listVersion, second.metadata.resourceVersion]);
    expect(server.counters.lists).toBe(1);
    // Every object arrived exactly once: nothing was replayed.
    expect(handle.count('upsert')).toBe(3);
    expect(handle.count('replaceAll')).toBe(1);
    // The reset was a failure (reported) and the source is healthy again once the resumed watch delivered.
    expect(handle.count('reportError')).toBe(1);
    await handle.until(() => handle.count('reportHealthy') === 1, 5000, 'reportHealthy');
    expect(logs.filter((line) => line.startsWith('info Kubernetes API answers again'))).toHaveLength(1);
  });

  it('resumes from the last BOOKMARK after a reset', async () => {
    makeSource({ namespaces: ['default'] });
    await handle.until(() => handle.synced);
    await watching();
    const event = server.add(vmi('a'));
    await handle.until(() => handle.state.size === 1);
    // A write this watch does not see (another namespace): only the bookmark tells the client it is past it.
    server.add(secondaryNicVmi('elsewhere', 'other'));
    const bookmarked = server.resourceVersion();
    expect(Number(bookmarked)).toBeGreaterThan(Number(event.metadata.resourceVersion));
    server.breakWatches(1);
    server.bookmark();
    await until(() => server.counters.watches >= 2, 'the watch after the reset');
    expect(watchVersions(server).at(-1)).toBe(bookmarked);
    expect(server.counters.lists).toBe(1);
  });

  it('relists at once on a 410 that follows a watch ended by an error', async () => {
    server.add(vmi('keep'));
    makeSource();
    await handle.until(() => handle.synced);
    await watching();
    // The watch breaks, and while the client reconnects its position is compacted away.
    server.breakWatches(1);
    server.modify(vmi('keep', '10.9.9.9'));
    await handle.until(() => handle.lines().includes('keep.default A 10.9.9.9'));
    server.add(vmi('new', '10.8.8.8'));
    server.compact();
    const started = Date.now();
    await handle.until(() => handle.count('replaceAll') === 2, 5000, 'the relist');
    const elapsed = Date.now() - started;
    expect(handle.lines()).toContain('new.default A 10.8.8.8');
    // One short retry for the reset (the backoff had started over with the event before it), none for the 410.
    expect(delays).toEqual([188]);
    expect(elapsed).toBeLessThan(1000);
    expect(server.counters.lists).toBe(2);
    expect(logs.some((line) => line.startsWith('error'))).toBe(false);
  });

  it('applies a change made during a slow relist at once, and the finished relist keeps it', async () => {
    // 30 VMIs in pages of 10; after a 410 the pages after the first take 1.5 s each (a relist of ~3 s).
    for (let index = 0; index < 30; index++)
      server.add(vmi(`vm-${String(index).padStart(2, '0')}`, `10.1.0.${index + 1}`));
    makeSource({ pageSize: 10 });
    await handle.until(() => handle.synced);
    await watching();
    await server.setDown(true);
    server.add(vmi('made-while-down', '10.2.0.1'));
    server.compact();
    server.slowPages(1500);
    const watchesBefore = server.counters.watches;
    await server.setDown(false);
    // The relist's first page is in and its watch is open while pages 2 and 3 are still to come.
    await until(
      () => server.counters.watches > watchesBefore && server.counters.activeWatches === 1,
      'the watch opened after the first page of the relist',
    );
    expect(handle.count('replaceAll')).toBe(1);
    const watchesDuring = server.counters.watches;
    const changedAt = Date.now();
    server.modify(vmi('vm-01', '10.3.0.1')); // on page 1
    server.modify(vmi('vm-25', '10.3.0.25')); // on page 3, listed (older) after this change
    server.remove({ name: 'vm-27' }); // on page 3 too
    server.add(vmi('made-during-relist', '10.3.0.99'));
    await handle.until(
      () =>
        handle.lines().includes('vm-25.default A 10.3.0.25') &&
        !handle.lines().some((line) => line.startsWith('vm-27.')),
      5000,
      'the changes made during the relist',
    );
    const appliedMs = Date.now() - changedAt;
    // In the handle before the relist is complete, not ~3 s later.
    expect(handle.count('replaceAll')).toBe(1);
    expect(appliedMs).toBeLessThan(1000);
    await handle.until(() => handle.count('replaceAll') === 2, 10_000, 'the relist');
    // The snapshot (older than the changes) did not undo them, and brought what the watch did not see.
    const lines = handle.lines();
    expect(lines).toContain('vm-01.default A 10.3.0.1');
    expect(lines).toContain('vm-25.default A 10.3.0.25');
    expect(lines).toContain('made-during-relist.default A 10.3.0.99');
    expect(lines).toContain('made-while-down.default A 10.2.0.1');
    expect(lines.some((line) => line.startsWith('vm-27.'))).toBe(false);
    expect(lines.some((line) => line.startsWith('vm-25.default A 10.1.0.26'))).toBe(false);
    expect(handle.state.size).toBe(31);
    expect(logs).toContainEqual(
      expect.stringMatching(
        /^info listed 31 VMIs in 4 pages \(\d+ ms; 4 VMIs changed by the watch meanwhile\)/,
      ),
    );
    // The relist itself was not retried: one 410, one list of 4 pages.
    expect(logs.filter((line) => line.includes('relisting'))).toHaveLength(1);
    // One watch from the first page on, no second watch after the relist.
    expect(server.counters.activeWatches).toBe(1);
    expect(server.counters.watches).toBe(watchesDuring);
  });

  it("logs the API server's message for a 403 on the watch, at warn while the API has just come up", async () => {
    makeSource();
    await handle.until(() => handle.synced);
    await watching();
    const message =
      'virtualmachineinstances.kubevirt.io is forbidden: User "system:serviceaccount:zw:monitor" cannot watch resource "virtualmachineinstances" in API group "kubevirt.io" at the cluster scope';
    server.failNext(3, 403, message);
    server.dropWatches();
    server.add(vmi('after'));
    await handle.until(() => handle.state.size === 1, 5000, 'the event after the 403s');
    const forbidden = logs.filter((line) => line.includes('is forbidden'));
    expect(forbidden).toHaveLength(3);
    expect(forbidden.every((line) => line.startsWith('warn watch of /apis/kubevirt.io/v1/'))).toBe(true);
    expect(forbidden[0]).toContain(`failed: ${message}; retrying in`);
    expect(forbidden[2]).toContain('403 number 3 since the API answers again');
  });

  it('after two API server restarts 10 s apart, a change made once the API answers is in the zone within 2 s, and the zone reports how long it was behind', async () => {
    const zoneDir = join(dir, 'zones');
    const file = join(zoneDir, `db.${ORIGIN}`);
    const reconciler = new Reconciler({
      config: defaultZoneConfig(ORIGIN, ['192.0.2.53']),
      store: new FileZoneStore(zoneDir),
      clock: systemClock,
      logger: recordingLogger(logs),
      // The CLI's defaults.
      debounceMs: 200,
      maxDelayMs: 1000,
    });
    const source = new KubernetesSource({
      handle: reconciler.registerSource('kubevirt'),
      kubeConfig,
      logger: recordingLogger(logs),
      origin: ORIGIN,
    });
    stops.push(async () => {
      await source.stop();
      await reconciler.stop();
    });
    const zoneHas = async (line: string): Promise<boolean> =>
      parseZone(await readFile(file, 'utf8'), { origin: ORIGIN }).records.some(
        (record) => `${record.name} ${record.type} ${record.rdata[0] ?? ''}` === line,
      );
    server.add(vmi('web', '10.0.0.1'));
    await reconciler.start();
    source.start();
    await reconciler.whenReady();
    expect(reconciler.behindSinceMs()).toBeUndefined();

    const elapsed: number[] = [];
    for (const [round, compact] of [
      [1, false],
      [2, true],
    ] as const) {
      await watching();
      const downAt = Date.now();
      await server.setDown(true);
      await until(() => reconciler.behindSinceMs() !== undefined, 'the zone falling behind');
      await new Promise((resolve) => setTimeout(resolve, 3000));
      // Behind since the outage began, and still growing.
      const behindSince = reconciler.behindSinceMs();
      expect(behindSince).toBeGreaterThanOrEqual(downAt);
      expect(Date.now() - (behindSince ?? Infinity)).toBeGreaterThan(2500);
      expect(reconciler.status().sources[0]?.failingSinceMs).toBe(behindSince);
      if (compact) {
        // The second restart also lost the watch history: 410, relist.
        server.add(vmi('made-while-down', '10.0.2.1'));
        server.compact();
      }
      await server.setDown(false);
      const changedAt = Date.now();
      const address = `10.0.1.${round}`;
      server.modify(vmi('web', address));
      await until(
        () => zoneHas(`nic1.web.default.${ORIGIN} A ${address}`),
        `the change after restart ${round}`,
        5000,
      );
      elapsed.push(Date.now() - changedAt);
      await until(() => reconciler.behindSinceMs() === undefined, 'the zone current again', 2000);
      if (round === 1) await new Promise((resolve) => setTimeout(resolve, 10_000 - (Date.now() - downAt)));
    }
    if (debug) console.log(`change → zone after the API came back: ${elapsed.join(' ms, ')} ms`);
    for (const ms of elapsed) expect(ms).toBeLessThanOrEqual(2000);
    expect(server.counters.lists).toBe(2);
    expect(await zoneHas(`nic1.made-while-down.default.${ORIGIN} A 10.0.2.1`)).toBe(true);
    await assertZoneValid(ORIGIN, file);
    // Recovered only once current: each "answers again" follows the outage's errors and is the last word on it.
    const recoveries = logs.filter((line) => line.startsWith('info Kubernetes API answers again'));
    expect(recoveries).toHaveLength(2);
    expect(recoveries[0]).toContain('watch resumed from resourceVersion');
    expect(recoveries[1]).toContain('relisted 2 VMIs');
    // While refused: warnings, never an error, and never more than 1 s between attempts.
    expect(logs.filter((line) => line.startsWith('error'))).toEqual([]);
    const retries = logs
      .map((line) => /retrying in (\d+) ms/.exec(line)?.[1])
      .filter((ms): ms is string => ms !== undefined)
      .map(Number);
    expect(retries.length).toBeGreaterThan(4);
    expect(Math.max(...retries)).toBeLessThanOrEqual(1000);
  });
});
