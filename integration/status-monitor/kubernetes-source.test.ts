/**
 * KubernetesSource against the fake API server (real list/watch protocol over loopback), feeding a recording
 * SourceHandle: paging, events, 410 relist, dropped watches, API down, 5xx with backoff, slow lists, namespaces.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { secondaryNicVmi, startFakeApiServer } from '@zonewright/testkit';
import type { FakeApiServer } from '@zonewright/testkit';
import { silentLogger } from '@zonewright/zone';
import { KubernetesSource } from '@zonewright/status-monitor';
import type { KubernetesSourceOptions } from '@zonewright/status-monitor';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordingHandle } from './recorder.js';

// The shared fixture with one address; `extra` goes into metadata.
const vmi = (
  name: string,
  namespace = 'default',
  address = '10.0.0.1',
  extra: Record<string, unknown> = {},
) => secondaryNicVmi(name, namespace, [address], extra);

jest.setTimeout(20_000);

/** Resolves once the server has an open watch stream. */
async function watching(server: FakeApiServer): Promise<void> {
  for (let tries = 0; tries < 200 && server.counters.activeWatches === 0; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  expect(server.counters.activeWatches).toBeGreaterThan(0);
}

describe('KubernetesSource against the fake API server', () => {
  let server: FakeApiServer;
  let dir: string;
  let kubeConfig: KubeConfig;
  let handle: RecordingHandle;
  const sources: KubernetesSource[] = [];
  /** Delays the source asked for (its backoff), recorded and shortened to 20 ms. */
  let delays: number[];

  function makeSource(options: Partial<KubernetesSourceOptions> = {}): KubernetesSource {
    const source = new KubernetesSource({
      handle,
      kubeConfig,
      logger: process.env['ZW_DEBUG']
        ? { debug: console.log, info: console.log, warn: console.log, error: console.log }
        : silentLogger,
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
    sources.push(source);
    source.start();
    return source;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zw-k8s-source-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    server = await startFakeApiServer();
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(await server.writeKubeconfig(dir));
    handle = new RecordingHandle();
    delays = [];
  });
  afterEach(async () => {
    await Promise.all(sources.splice(0).map((source) => source.stop()));
    await server.stop();
  });

  it('lists every page, delivers one replaceAll and marks the source synced', async () => {
    for (let index = 0; index < 7; index++) server.add(vmi(`vm-${index}`, 'default', `10.0.0.${index + 1}`));
    server.add({ metadata: { name: 'pod-only' }, spec: { networks: [{ name: 'default', pod: {} }] } });
    const source = makeSource({ pageSize: 3 });
    await handle.until(() => handle.synced, 5000, 'markSynced');
    expect(server.counters.lists).toBe(3);
    expect(server.requests.filter((path) => path.includes('limit=3')).length).toBe(3);
    expect(handle.calls.map((call) => call.kind).slice(0, 2)).toEqual(['replaceAll', 'markSynced']);
    expect(handle.state.size).toBe(7);
    expect(handle.lines()).toContain('nic1.vm-3.default A 10.0.0.4');
    expect(handle.lines()).toContain('vm-3.default A 10.0.0.4');
    expect(handle.lines().some((line) => line.includes('10.244.0.9'))).toBe(false);
    expect(source.isSynced()).toBe(true);
    const keys = [...handle.state.keys()];
    expect(keys.every((key) => /^[0-9a-f-]{36}$/.test(key))).toBe(true);
  });

  it('applies ADDED, MODIFIED and DELETED events with their receive time', async () => {
    makeSource();
    await handle.until(() => handle.synced);
    await watching(server);
    const before = Date.now();
    const added = server.add(vmi('web', 'apps', '192.0.2.1'));
    await handle.until(() => handle.lines().includes('nic1.web.apps A 192.0.2.1'));
    server.modify(vmi('web', 'apps', '192.0.2.2'));
    await handle.until(() => handle.lines().includes('nic1.web.apps A 192.0.2.2'));
    expect(handle.lines()).not.toContain('nic1.web.apps A 192.0.2.1');
    // An update that leaves no records removes the key.
    server.modify({ ...vmi('web', 'apps', 'fe80::1') });
    await handle.until(() => !handle.state.has(added.metadata.uid));
    server.modify(vmi('web', 'apps', '192.0.2.3'));
    await handle.until(() => handle.state.has(added.metadata.uid));
    server.remove({ namespace: 'apps', name: 'web' });
    await handle.until(() => handle.state.size === 0);
    const upserts = handle.calls.filter((call) => call.kind === 'upsert');
    expect(upserts.length).toBe(3);
    for (const call of upserts) {
      expect(call.eventTimeMs).toBeGreaterThanOrEqual(before);
      expect(call.eventTimeMs).toBeLessThanOrEqual(Date.now());
    }
    expect(server.counters.lists).toBe(1);
  });

  it('relists after a 410 and converges on changes made while the watch was gone', async () => {
    server.add(vmi('keep'));
    server.add(vmi('gone'));
    const restarts: string[] = [];
    makeSource({ observer: { onWatchRestart: (info) => restarts.push(info.reason) } });
    await handle.until(() => handle.synced);
    await watching(server);
    server.dropWatches();
    // While the client reconnects: changes, then compaction, so its resourceVersion is too old.
    server.remove({ name: 'gone' });
    server.modify(vmi('keep', 'default', '10.9.9.9'));
    server.add(vmi('new', 'default', '10.8.8.8'));
    server.compact();
    await handle.until(() => handle.count('replaceAll') === 2, 5000, 'the relist');
    expect(handle.lines()).toEqual([
      'keep.default A 10.9.9.9',
      'new.default A 10.8.8.8',
      'nic1.keep.default A 10.9.9.9',
      'nic1.new.default A 10.8.8.8',
    ]);
    expect(server.counters.lists).toBe(2);
    expect(restarts).toEqual(['closed', 'expired']);
    // Watching again from the relist's resourceVersion.
    server.add(vmi('after', 'default', '10.7.7.7'));
    await handle.until(() => handle.lines().includes('after.default A 10.7.7.7'));
  });

  it('resumes a dropped watch from its resourceVersion without relisting', async () => {
    const reasons: string[] = [];
    makeSource({ observer: { onWatchRestart: (info) => reasons.push(info.reason) } });
    await handle.until(() => handle.synced);
    server.add(vmi('a'));
    await handle.until(() => handle.state.size === 1);
    server.dropWatches();
    server.add(vmi('b'));
    await handle.until(() => handle.state.size === 2);
    expect(server.counters.lists).toBe(1);
    expect(server.counters.watches).toBeGreaterThanOrEqual(2);
    expect(reasons).toContain('closed');
    const watchPaths = server.requests.filter((path) => path.includes('watch=true'));
    expect(watchPaths[watchPaths.length - 1]).toMatch(/resourceVersion=\d+/);
    expect(watchPaths[watchPaths.length - 1]).toContain('allowWatchBookmarks=true');
  });

  it('keeps its state while the API is down and catches up when it is back', async () => {
    server.add(vmi('stay', 'default', '10.1.1.1'));
    makeSource({ backoff: { initialMs: 100, maxMs: 400 } });
    await handle.until(() => handle.synced);
    await watching(server);
    await server.setDown(true);
    await handle.until(() => handle.count('reportError') >= 3, 5000, 'errors while down');
    server.modify(vmi('stay', 'default', '10.2.2.2'));
    await server.setDown(true, 'reset');
    expect(handle.lines()).toContain('stay.default A 10.1.1.1');
    expect(handle.calls.filter((call) => call.kind === 'remove' || call.kind === 'replaceAll').length).toBe(
      1,
    );
    await server.setDown(false);
    await handle.until(() => handle.lines().includes('stay.default A 10.2.2.2'), 5000, 'catch-up');
    await handle.until(
      () =>
        handle.calls[handle.calls.length - 1]?.kind === 'reportHealthy' || handle.count('reportHealthy') > 0,
    );
    expect(handle.count('reportHealthy')).toBeGreaterThan(0);
    // The backoff grew and stayed under its cap.
    expect(delays.length).toBeGreaterThanOrEqual(3);
    expect(delays[1]).toBeGreaterThan(delays[0] ?? Infinity);
    expect(Math.max(...delays)).toBeLessThanOrEqual(400);
  });

  it('retries 5xx on the initial list with growing backoff and writes nothing before it succeeds', async () => {
    server.add(vmi('x'));
    server.failNext(3, 503);
    const errors: string[] = [];
    makeSource({ observer: { onError: (error) => errors.push(error.message) } });
    await handle.until(() => handle.synced, 5000);
    expect(delays).toEqual([188, 375, 750]);
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(
      /list of \/apis\/kubevirt\.io\/v1\/virtualmachineinstances failed: .*injected failure/,
    );
    expect(handle.calls.slice(0, 3).map((call) => call.kind)).toEqual([
      'reportError',
      'reportError',
      'reportError',
    ]);
    expect(handle.calls[3]?.kind).toBe('replaceAll');
    expect(handle.state.size).toBe(1);
  });

  it('retries a watch that fails with a 5xx without relisting', async () => {
    makeSource();
    await handle.until(() => handle.synced);
    await watching(server);
    server.failNext(2, 500);
    server.dropWatches();
    server.add(vmi('later'));
    await handle.until(() => handle.state.size === 1, 5000);
    // One backoff because the stream closed at once without an event, then one per 500.
    expect(delays).toEqual([188, 375, 750]);
    expect(server.counters.lists).toBe(1);
  });

  it('gives up on a list page that is too slow and tries again', async () => {
    server.add(vmi('slow'));
    server.slow(800);
    const errors: string[] = [];
    makeSource({ requestTimeoutMs: 300, observer: { onError: (error) => errors.push(error.message) } });
    await handle.until(() => errors.length >= 1, 5000);
    server.slow(0);
    await handle.until(() => handle.synced, 5000);
    expect(errors[0]).toMatch(/timed out after 300 ms/);
    expect(handle.state.size).toBe(1);
  });

  it('restarts a watch that goes silent', async () => {
    const reasons: string[] = [];
    makeSource({ watchIdleMs: 300, observer: { onWatchRestart: (info) => reasons.push(info.reason) } });
    await handle.until(() => handle.synced);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(reasons).toContain('stalled');
    expect(server.counters.watches).toBeGreaterThanOrEqual(2);
  });

  it('watches only the given namespaces, and a relist of one keeps the other', async () => {
    server.add(vmi('a1', 'a'));
    server.add(vmi('b1', 'b'));
    server.add(vmi('c1', 'c'));
    makeSource({ namespaces: ['a', 'b'] });
    await handle.until(() => handle.synced);
    expect(handle.lines().filter((line) => line.startsWith('nic1.'))).toEqual([
      'nic1.a1.a A 10.0.0.1',
      'nic1.b1.b A 10.0.0.1',
    ]);
    expect(server.requests.some((path) => path.startsWith('/apis/kubevirt.io/v1/namespaces/a/'))).toBe(true);
    expect(
      server.requests.some((path) => path.startsWith('/apis/kubevirt.io/v1/virtualmachineinstances')),
    ).toBe(false);
    for (let tries = 0; tries < 200 && server.counters.activeWatches < 2; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    server.dropWatches();
    server.remove({ namespace: 'a', name: 'a1' });
    server.add(vmi('a2', 'a'));
    server.add(vmi('c2', 'c'));
    server.compact();
    await handle.until(
      () =>
        handle.lines().includes('nic1.a2.a A 10.0.0.1') && !handle.lines().includes('nic1.a1.a A 10.0.0.1'),
    );
    expect(handle.lines().filter((line) => line.startsWith('nic1.'))).toEqual([
      'nic1.a2.a A 10.0.0.1',
      'nic1.b1.b A 10.0.0.1',
    ]);
    expect(handle.count('replaceAll')).toBe(0);
  });

  it('leaves out excluded namespaces and opted-out VMIs', async () => {
    server.add(vmi('in', 'apps'));
    server.add(vmi('out', 'kube-system'));
    server.add(vmi('optout', 'apps', '10.0.0.2', { annotations: { 'zonewright.io/exclude': 'true' } }));
    makeSource({ excludeNamespaces: ['kube-system'] });
    await handle.until(() => handle.synced);
    expect(handle.lines()).toEqual(['in.apps A 10.0.0.1', 'nic1.in.apps A 10.0.0.1']);
    // Opting out later removes the VMI's records.
    server.modify(vmi('in', 'apps', '10.0.0.1', { annotations: { 'zonewright.io/exclude': 'true' } }));
    await handle.until(() => handle.state.size === 0);
  });

  it('counts skipped records per reason and forgets them when the VMI changes or goes', async () => {
    server.add(vmi('ll1', 'default', 'fe80::1'));
    server.add(vmi('ll2', 'default', 'fe80::2'));
    server.add(vmi('bad', 'default', 'not-an-ip'));
    const skippedEvents: number[] = [];
    const source = makeSource({ observer: { onSkipped: (info) => skippedEvents.push(info.skipped.length) } });
    await handle.until(() => handle.synced);
    expect(source.skippedCounts()).toEqual(
      new Map([
        ['non-routable-address', 2],
        ['invalid-address', 1],
      ]),
    );
    expect(skippedEvents).toEqual([1, 1, 1]);
    // The same skip again (a relist) is not reported again.
    server.dropWatches();
    server.add(vmi('filler', 'default', '192.0.2.99'));
    server.compact();
    await handle.until(() => handle.count('replaceAll') === 2);
    expect(skippedEvents).toEqual([1, 1, 1]);
    server.modify(vmi('ll1', 'default', '192.0.2.1'));
    server.remove({ name: 'bad' });
    await handle.until(
      () => handle.lines().includes('ll1.default A 192.0.2.1') && handle.count('remove') === 1,
    );
    // onSkipped follows the handle call: poll for it.
    for (let tries = 0; tries < 100 && skippedEvents.length < 5; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(skippedEvents).toEqual([1, 1, 1, 0, 0]);
    expect(source.skippedCounts()).toEqual(new Map([['non-routable-address', 1]]));
  });

  it('stops promptly even while a request hangs', async () => {
    server.slow(10_000);
    const source = makeSource();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await source.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    server.slow(0);
  });
});
