/**
 * The StatusMonitor pipeline without the CLI: fake API server → KubernetesSource → Reconciler → FileZoneStore.
 * Every zone written is checked with named-checkzone and the miekg/dns parser (CoreDNS's).
 */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { createMonitorSource, KubernetesSource } from '@zonewright/status-monitor';
import { assertZoneValid, secondaryNicVmi, startFakeApiServer } from '@zonewright/testkit';
import type { FakeApiServer } from '@zonewright/testkit';
import {
  defaultZoneConfig,
  FileZoneStore,
  parseZone,
  Reconciler,
  silentLogger,
  systemClock,
} from '@zonewright/zone';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

jest.setTimeout(60_000);

const ORIGIN = 'vm.example.test';

interface Pipeline {
  reconciler: Reconciler;
  source: KubernetesSource;
  errors: Error[];
  stop(): Promise<void>;
}

describe('monitor pipeline against the fake API server', () => {
  let server: FakeApiServer;
  let dir: string;
  let zoneDir: string;
  let kubeConfig: KubeConfig;
  const pipelines: Pipeline[] = [];
  const file = (): string => join(zoneDir, `db.${ORIGIN}`);

  async function startPipeline(): Promise<Pipeline> {
    const reconciler = new Reconciler({
      config: defaultZoneConfig(ORIGIN, ['192.0.2.53']),
      store: new FileZoneStore(zoneDir),
      clock: systemClock,
      logger: silentLogger,
      debounceMs: 50,
      maxDelayMs: 200,
    });
    const errors: Error[] = [];
    const source = new KubernetesSource({
      handle: reconciler.registerSource('kubevirt'),
      kubeConfig,
      logger: silentLogger,
      origin: ORIGIN,
      backoff: { initialMs: 100, maxMs: 1000 },
      observer: { onError: (error) => errors.push(error) },
    });
    await reconciler.start();
    source.start();
    const pipeline: Pipeline = {
      reconciler,
      source,
      errors,
      stop: async () => {
        await source.stop();
        await reconciler.stop();
      },
    };
    pipelines.push(pipeline);
    return pipeline;
  }

  /** Address records of the zone file as `name TYPE address`, names relative to the origin. */
  async function zoneLines(): Promise<string[]> {
    const parsed = parseZone(await readFile(file(), 'utf8'), { origin: ORIGIN });
    expect(parsed.problems.filter((problem) => problem.severity === 'error')).toEqual([]);
    return parsed.records
      .filter((record) => (record.type === 'A' || record.type === 'AAAA') && record.name !== `ns.${ORIGIN}`)
      .map(
        (record) => `${record.name.slice(0, -(ORIGIN.length + 1))} ${record.type} ${record.rdata[0] ?? ''}`,
      )
      .sort();
  }

  async function serialOf(): Promise<number> {
    const soa = parseZone(await readFile(file(), 'utf8'), { origin: ORIGIN }).records.find(
      (r) => r.type === 'SOA',
    );
    return Number(soa?.rdata[2]);
  }

  async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
    const started = Date.now();
    for (;;) {
      try {
        if (await check()) return;
      } catch {
        // not there yet
      }
      if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zw-monitor-'));
    zoneDir = join(dir, 'zones');
    server = await startFakeApiServer();
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(await server.writeKubeconfig(dir));
  });
  afterEach(async () => {
    await Promise.all(pipelines.splice(0).map((pipeline) => pipeline.stop()));
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the first zone after the initial list, then converges on add, modify and delete', async () => {
    server.add(secondaryNicVmi('web', 'apps', ['192.0.2.10', '2001:db8::10', 'fe80::1']));
    server.add(secondaryNicVmi('db', 'apps', ['192.0.2.20']));
    const pipeline = await startPipeline();
    await pipeline.reconciler.whenReady();
    expect(await zoneLines()).toEqual([
      'db.apps A 192.0.2.20',
      'nic1.db.apps A 192.0.2.20',
      'nic1.web.apps A 192.0.2.10',
      'nic1.web.apps AAAA 2001:db8::10',
      'web.apps A 192.0.2.10',
      'web.apps AAAA 2001:db8::10',
    ]);
    await assertZoneValid(ORIGIN, file());
    const first = await serialOf();

    server.add(secondaryNicVmi('cache', 'apps', ['192.0.2.30']));
    await until(async () => (await zoneLines()).includes('nic1.cache.apps A 192.0.2.30'), 'add');
    server.modify(secondaryNicVmi('web', 'apps', ['192.0.2.11']));
    await until(async () => (await zoneLines()).includes('web.apps A 192.0.2.11'), 'modify');
    server.remove({ namespace: 'apps', name: 'db' });
    await until(async () => !(await zoneLines()).some((line) => line.includes('db.apps')), 'delete');
    expect(await zoneLines()).toEqual([
      'cache.apps A 192.0.2.30',
      'nic1.cache.apps A 192.0.2.30',
      'nic1.web.apps A 192.0.2.11',
      'web.apps A 192.0.2.11',
    ]);
    expect(await serialOf()).toBeGreaterThan(first);
    await assertZoneValid(ORIGIN, file());
  });

  it('writes no zone while the initial list keeps failing, and the first one once it succeeds', async () => {
    server.add(secondaryNicVmi('web', 'apps', ['192.0.2.10']));
    server.failNext(3, 500);
    const pipeline = await startPipeline();
    await until(() => Promise.resolve(pipeline.errors.length >= 2), 'list errors');
    await expect(stat(file())).rejects.toMatchObject({ code: 'ENOENT' });
    expect(pipeline.reconciler.isReady()).toBe(false);
    await pipeline.reconciler.whenReady();
    expect(await zoneLines()).toContain('nic1.web.apps A 192.0.2.10');
    expect(pipeline.errors.map((error) => error.message).join('\n')).toMatch(/injected failure/);
  });

  it('recovers from a 410 by relisting and from a dropped watch by resuming', async () => {
    server.add(secondaryNicVmi('a', 'x', ['192.0.2.1']));
    server.add(secondaryNicVmi('b', 'x', ['192.0.2.2']));
    const pipeline = await startPipeline();
    await pipeline.reconciler.whenReady();
    const listsBefore = server.counters.lists;
    server.dropWatches();
    server.add(secondaryNicVmi('c', 'x', ['192.0.2.3']));
    await until(async () => (await zoneLines()).includes('nic1.c.x A 192.0.2.3'), 'resume after drop');
    expect(server.counters.lists).toBe(listsBefore);

    server.dropWatches();
    server.remove({ namespace: 'x', name: 'a' });
    server.modify(secondaryNicVmi('b', 'x', ['192.0.2.22']));
    server.compact();
    await until(async () => {
      const lines = await zoneLines();
      return lines.includes('nic1.b.x A 192.0.2.22') && !lines.includes('nic1.a.x A 192.0.2.1');
    }, 'relist after 410');
    expect(server.counters.lists).toBe(listsBefore + 1);
    await assertZoneValid(ORIGIN, file());
  });

  it('keeps the zone file while the API is down for 10 s, then applies what changed', async () => {
    server.add(secondaryNicVmi('a', 'x', ['192.0.2.1']));
    const pipeline = await startPipeline();
    await pipeline.reconciler.whenReady();
    const before = await readFile(file(), 'utf8');
    const mtime = (await stat(file())).mtimeMs;
    await server.setDown(true);
    const downAt = Date.now();
    // Connections are refused; the state on the server changes meanwhile.
    server.modify(secondaryNicVmi('a', 'x', ['192.0.2.9']));
    while (Date.now() - downAt < 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(await readFile(file(), 'utf8')).toBe(before);
    }
    expect((await stat(file())).mtimeMs).toBe(mtime);
    expect(pipeline.errors.length).toBeGreaterThanOrEqual(3);
    // Backoff capped at 1 s: at most ~10 s / 0.5 s attempts, at least a few.
    expect(pipeline.errors.length).toBeLessThanOrEqual(40);
    expect(pipeline.reconciler.status().sources[0]?.lastError).toBeDefined();
    await server.setDown(false);
    await until(async () => (await zoneLines()).includes('nic1.a.x A 192.0.2.9'), 'catch-up', 5000);
    await until(
      async () => Promise.resolve(pipeline.reconciler.status().sources[0]?.lastError === undefined),
      'healthy',
    );
    await assertZoneValid(ORIGIN, file());
  });

  it('createMonitorSource serves the bundled examples and the Kubernetes API alike', async () => {
    const reconciler = new Reconciler({
      config: defaultZoneConfig(ORIGIN, ['127.0.0.1']),
      store: new FileZoneStore(zoneDir),
      clock: systemClock,
      logger: silentLogger,
      debounceMs: 20,
    });
    const examples = createMonitorSource({
      reconciler,
      input: {
        kind: 'directory',
        directory: join(import.meta.dirname, '..', '..', 'examples', 'vmis'),
        watch: false,
      },
      origin: ORIGIN,
      logger: silentLogger,
    });
    await reconciler.start();
    await examples.start();
    await reconciler.whenReady();
    await reconciler.stop();
    const lines = await zoneLines();
    expect(lines).toContain('nic1.web-frontend.default AAAA 2001:db8:10::a');
    expect(lines).toContain('replication.db-0.tenant-a AAAA 2001:db8:20::20');
    expect(lines).toHaveLength(12);
    await assertZoneValid(ORIGIN, file());

    server.add(secondaryNicVmi('api', 'x', ['192.0.2.77']));
    const second = new Reconciler({
      config: defaultZoneConfig(ORIGIN, ['127.0.0.1']),
      store: new FileZoneStore(zoneDir),
      clock: systemClock,
      logger: silentLogger,
      debounceMs: 20,
    });
    const api = createMonitorSource({
      reconciler: second,
      input: { kind: 'kubernetes', kubeconfig: server.kubeconfigPath ?? '', namespaces: ['x'] },
      origin: ORIGIN,
      logger: silentLogger,
      excludeNamespaces: [],
    });
    await second.start();
    await api.start();
    try {
      await until(async () => (await zoneLines()).includes('nic1.api.x A 192.0.2.77'), 'API zone');
      expect(await zoneLines()).toEqual(['api.x A 192.0.2.77', 'nic1.api.x A 192.0.2.77']);
    } finally {
      await api.stop();
      await second.stop();
    }
  });

  it('keeps the content and raises the serial across a restart', async () => {
    server.add(secondaryNicVmi('a', 'x', ['192.0.2.1']));
    const first = await startPipeline();
    await first.reconciler.whenReady();
    const serial = await serialOf();
    const lines = await zoneLines();
    await first.stop();
    server.add(secondaryNicVmi('b', 'x', ['192.0.2.2']));
    const second = await startPipeline();
    await second.reconciler.whenReady();
    expect(await zoneLines()).toEqual([...lines, 'b.x A 192.0.2.2', 'nic1.b.x A 192.0.2.2'].sort());
    expect(await serialOf()).toBeGreaterThan(serial);
  });
});
