import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  assertZoneValid,
  dig,
  findRepoRoot,
  freeTcpPort,
  killProcessTree,
  spawnProcess,
  startFakeApiServer,
  secondaryNicVmi,
  startNamed,
  waitFor,
  type FakeApiServer,
  type SpawnedProcess,
} from '@zonewright/testkit';
import { parseZone, recoverSerial } from '@zonewright/zone';

// `zonewright monitor` as users run it (the built CLI in its own process) against the fake API server.
const root = findRepoRoot();
const cli = path.join(root, 'packages/cli/bin/zonewright.js');
const origin = 'vm.example.com';

let api: FakeApiServer;
let directory: string;
let kubeconfig: string;
let monitor: SpawnedProcess | undefined;
let metricsPort = 0;

const vmi = (name: string, namespace: string, address: string, extra: { ipv6?: string } = {}) =>
  secondaryNicVmi(name, namespace, [address, ...(extra.ipv6 === undefined ? [] : [extra.ipv6])]);

async function startMonitor(): Promise<SpawnedProcess> {
  const port = await freeTcpPort();
  metricsPort = port;
  const process_ = await spawnProcess(process.execPath, [
    cli,
    'monitor',
    '--kubeconfig',
    kubeconfig,
    '--zones-dir',
    directory,
    '--domain',
    'example.com',
    '--name-server-ip',
    '127.0.0.1',
    '--listen',
    `127.0.0.1:${port}`,
    '--debounce',
    '50ms',
    '--max-delay',
    '300ms',
    '--log-format',
    'json',
  ]);
  monitor = process_;
  await waitFor(async () => ((await fetchStatus('/readyz')) === 200 ? true : undefined), {
    timeoutMs: 20_000,
    description: `monitor ready\n${process_.output()}`,
  });
  return process_;
}

async function fetchStatus(route: string): Promise<number | undefined> {
  try {
    return (await fetch(`http://127.0.0.1:${metricsPort}${route}`)).status;
  } catch {
    return undefined;
  }
}

const zoneFile = (): string => path.join(directory, `db.${origin}`);

/** One sample of the monitor's /metrics, e.g. `zonewright_source_up{source="kubernetes"}`. */
async function metricValue(series: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function zoneAddresses(): Promise<string[]> {
  const text = await fs.readFile(zoneFile(), 'utf8').catch(() => '');
  return parseZone(text, { origin })
    .records.filter(
      (record) => (record.type === 'A' || record.type === 'AAAA') && !record.name.startsWith('ns.'),
    )
    .map((record) => `${record.name} ${record.rdata[0] ?? ''}`)
    .sort();
}

async function waitForZone(expected: string[], what: string): Promise<void> {
  await waitFor(
    async () =>
      JSON.stringify(await zoneAddresses()) === JSON.stringify([...expected].sort()) ? true : undefined,
    {
      timeoutMs: 15_000,
      description: `${what}: zone to hold ${expected.join(', ')}; it has ${(await zoneAddresses()).join(', ')}\n${monitor?.output() ?? ''}`,
    },
  );
}

beforeAll(async () => {
  directory = await fs.mkdtemp(path.join(os.tmpdir(), 'zw-monitor-cli-'));
  api = await startFakeApiServer();
  kubeconfig = await api.writeKubeconfig(directory);
});
afterEach(async () => {
  if (monitor !== undefined) await killProcessTree(monitor.pid);
  monitor = undefined;
});
afterAll(async () => {
  await api.stop();
  await fs.rm(directory, { recursive: true, force: true });
});

describe('zonewright monitor against the Kubernetes API', () => {
  it('converges on add, modify and delete, survives 410 and dropped watches, and keeps the zone while the API is down', async () => {
    api.add(vmi('web', 'default', '192.0.2.10', { ipv6: '2001:db8::10' }));
    api.add(vmi('db', 'prod', '192.0.2.20'));
    await startMonitor();
    await waitForZone(
      [
        'nic1.web.default.vm.example.com 192.0.2.10',
        'nic1.web.default.vm.example.com 2001:db8::10',
        'web.default.vm.example.com 192.0.2.10',
        'web.default.vm.example.com 2001:db8::10',
        'nic1.db.prod.vm.example.com 192.0.2.20',
        'db.prod.vm.example.com 192.0.2.20',
      ],
      'initial list',
    );
    await assertZoneValid(origin, zoneFile());

    api.modify(vmi('web', 'default', '192.0.2.11'));
    api.remove({ namespace: 'prod', name: 'db' });
    await waitForZone(
      ['nic1.web.default.vm.example.com 192.0.2.11', 'web.default.vm.example.com 192.0.2.11'],
      'modify + delete',
    );

    api.compact();
    api.dropWatches();
    api.add(vmi('cache', 'prod', '192.0.2.30'));
    await waitForZone(
      [
        'nic1.web.default.vm.example.com 192.0.2.11',
        'web.default.vm.example.com 192.0.2.11',
        'nic1.cache.prod.vm.example.com 192.0.2.30',
        'cache.prod.vm.example.com 192.0.2.30',
      ],
      'after 410 and a dropped watch',
    );

    const before = await fs.readFile(zoneFile(), 'utf8');
    await api.setDown(true);
    api.dropWatches();
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    expect(await fs.readFile(zoneFile(), 'utf8')).toBe(before);
    expect(await fetchStatus('/healthz')).toBe(200);
    expect(await fetchStatus('/readyz')).toBe(200);
    // Staleness while the API is down: behind since the outage began, the source down.
    const behind = 'zonewright_zone_behind_seconds{origin="vm.example.com"}';
    const up = 'zonewright_source_up{source="kubernetes"}';
    expect(await metricValue(behind)).toBeGreaterThanOrEqual(9);
    expect(await metricValue(up)).toBe(0);
    await api.setDown(false);
    const changedAt = Date.now();
    api.add(vmi('late', 'default', '192.0.2.40'));
    await waitFor(
      async () =>
        (await zoneAddresses()).includes('late.default.vm.example.com 192.0.2.40') ? true : undefined,
      {
        timeoutMs: 40_000,
        description: 'the monitor to recover after the API came back',
      },
    );
    // The recovery target: a change made once the API answers is in the zone within 2 s.
    expect(Date.now() - changedAt).toBeLessThanOrEqual(2000);
    await waitFor(async () => ((await metricValue(behind)) === 0 ? true : undefined), {
      timeoutMs: 5_000,
      description: 'zonewright_zone_behind_seconds back to 0',
    });
    expect(await metricValue(up)).toBe(1);
    await assertZoneValid(origin, zoneFile());

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/zonewright_zone_writes_total\{origin="vm\.example\.com"\} [1-9]/);
    expect(metrics).toMatch(/zonewright_watch_restarts_total\{reason="[a-z]+"\} [1-9]/);
    expect(metrics).toMatch(/zonewright_event_to_zone_seconds_count\{origin="vm\.example\.com"\} [1-9]/);
  });

  it('after a restart keeps the content and raises the serial; named serves the changed address after a reload', async () => {
    const before = await fs.readFile(zoneFile(), 'utf8');
    const serialBefore = recoverSerial(before, origin) ?? 0;
    await startMonitor();
    expect(await fs.readFile(zoneFile(), 'utf8')).toBe(before);

    const named = await startNamed({ zones: [{ origin, file: zoneFile() }] });
    try {
      const ask = async () =>
        (
          await dig({
            server: named.address,
            port: named.port,
            name: 'web.default.vm.example.com',
            type: 'A',
          })
        ).answers.map((answer) => answer.value);
      expect(await ask()).toEqual(['192.0.2.11']);
      api.modify(vmi('web', 'default', '192.0.2.99'));
      await waitFor(
        async () =>
          (await zoneAddresses()).includes('web.default.vm.example.com 192.0.2.99') ? true : undefined,
        {
          timeoutMs: 15_000,
          description: 'the modified address in the zone',
        },
      );
      const after = await fs.readFile(zoneFile(), 'utf8');
      expect(recoverSerial(after, origin)).toBeGreaterThan(serialBefore);
      await assertZoneValid(origin, zoneFile());
      await named.reload();
      expect(await ask()).toEqual(['192.0.2.99']);
    } finally {
      await named.stop();
    }
  });
});
