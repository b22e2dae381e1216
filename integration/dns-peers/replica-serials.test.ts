// Two monitor replicas (KubernetesSource → Reconciler → own zones dir → own CoreDNS with the shipped
// Corefile.monitor + transfer snippet) on one fake API server, and one BIND secondary that reaches them through
// a round-robin "Service": SOA checks and transfers alternate between the replicas. Over 200 changes the
// secondary's serial must never go down and its content never go back to an older change.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { KubernetesSource } from '@zonewright/status-monitor';
import {
  cleanUp,
  coreDnsForTests,
  dig,
  findFreeDnsPort,
  secondaryNicVmi,
  sleep,
  startCoreDns,
  startDnsRoundRobin,
  startFakeApiServer,
  startNamed,
  waitFor,
  type CoreDnsServer,
  type DnsRoundRobin,
  type FakeApiServer,
  type NamedServer,
} from '@zonewright/testkit';
import { defaultZoneConfig, FileZoneStore, Reconciler, silentLogger, systemClock } from '@zonewright/zone';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const coreDns = coreDnsForTests('integration/dns-peers/replica-serials.test.ts');
const describeCoreDns = coreDns ? describe : describe.skip;

const ORIGIN = `vm.replicas-${Math.random().toString(36).slice(2, 8)}.test`;
const CHANGES = 200;
const NAME = `nic1.web.default.${ORIGIN}`;

/** Change i gives the VM the address 10.88.<i / 250>.<i % 250 + 1>. */
function addressOf(change: number): string {
  return `10.88.${Math.floor(change / 250)}.${(change % 250) + 1}`;
}
function changeOf(address: string): number | undefined {
  const match = /^10\.88\.(\d+)\.(\d+)$/.exec(address);
  return match === null ? undefined : Number(match[1]) * 250 + Number(match[2]) - 1;
}

interface Replica {
  reconciler: Reconciler;
  source: KubernetesSource;
  core: CoreDnsServer;
}

describeCoreDns('serials that agree across two monitor replicas, seen by one BIND secondary', () => {
  let dir: string;
  let api: FakeApiServer;
  let named: NamedServer;
  let service: DnsRoundRobin;
  const replicas: Replica[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zw-replicas-'));
    api = await startFakeApiServer();
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(await api.writeKubeconfig(dir));
    api.add(secondaryNicVmi('web', 'default', [addressOf(0)]));
    const namedPort = await findFreeDnsPort();
    const snippets = join(dir, 'transfer');
    await mkdir(snippets);
    await writeFile(
      join(snippets, 'transfer.conf'),
      `    transfer {\n        to 127.0.0.1:${namedPort}\n    }\n`,
    );
    for (const name of ['a', 'b']) {
      const zones = join(dir, name);
      await mkdir(zones);
      const reconciler = new Reconciler({
        config: defaultZoneConfig(ORIGIN, ['127.0.0.1']),
        store: new FileZoneStore(zones),
        clock: systemClock,
        logger: silentLogger,
        debounceMs: 50,
        maxDelayMs: 200,
        serials: 'source-version',
      });
      const source = new KubernetesSource({
        handle: reconciler.registerSource('kubernetes'),
        kubeConfig,
        logger: silentLogger,
        origin: ORIGIN,
        backoff: { initialMs: 100, maxMs: 1000 },
      });
      await reconciler.start();
      source.start();
      await reconciler.whenReady();
      const core = await startCoreDns({
        corefile: 'monitor',
        zonesDirectory: zones,
        importDirectory: snippets,
      });
      replicas.push({ reconciler, source, core });
    }
    for (const { core } of replicas) await core.waitForSerial(ORIGIN, 1);
    service = await startDnsRoundRobin(
      replicas.map(({ core }) => ({ address: core.address, port: core.ports.dns })),
    );
    named = await startNamed({
      port: namedPort,
      zones: [{ origin: ORIGIN, file: join(dir, 'secondary.db'), primaries: [service] }],
    });
  }, 60_000);

  afterAll(async () => {
    await cleanUp('replica serials test', [
      ...replicas.map(
        ({ source }) =>
          () =>
            source.stop(),
      ),
      ...replicas.map(
        ({ reconciler }) =>
          () =>
            reconciler.stop(),
      ),
      () => named?.stop(),
      () => service?.stop(),
      ...replicas.map(
        ({ core }) =>
          () =>
            core.stop(),
      ),
      () => api?.stop(),
      () => rm(dir, { recursive: true, force: true }),
    ]);
  });

  it(`never shows a lower serial or older content over ${CHANGES} changes`, async () => {
    const samples: { serial: number; change: number }[] = [];
    let sampling = true;
    const sample = async (): Promise<void> => {
      while (sampling) {
        // SOA, record, SOA again: a pair only counts when no transfer happened in between.
        const serialNow = async (): Promise<number> => {
          const soa = await dig({
            server: named.address,
            port: named.port,
            name: ORIGIN,
            type: 'SOA',
            tries: 1,
          });
          return Number(soa.answers.find((record) => record.type === 'SOA')?.value.split(/\s+/)[2]);
        };
        const first = await serialNow();
        const a = await dig({ server: named.address, port: named.port, name: NAME, type: 'A', tries: 1 });
        const serial = await serialNow();
        const change = changeOf(a.answers[0]?.value ?? '');
        if (Number.isInteger(serial) && serial === first && change !== undefined)
          samples.push({ serial, change });
        await sleep(20);
      }
    };
    const sampler = sample();
    for (let change = 1; change < CHANGES; change += 1) {
      api.modify(secondaryNicVmi('web', 'default', [addressOf(change)]));
      await sleep(40);
    }
    await waitFor(() => (samples.at(-1)?.change === CHANGES - 1 ? true : undefined), {
      timeoutMs: 20_000,
      description: 'the secondary to answer the last change',
    });
    sampling = false;
    await sampler;

    for (let index = 1; index < samples.length; index += 1) {
      const before = samples[index - 1] as { serial: number; change: number };
      const after = samples[index] as { serial: number; change: number };
      expect(after.serial).toBeGreaterThanOrEqual(before.serial);
      expect(after.change).toBeGreaterThanOrEqual(before.change);
      // One serial, one content: the replicas agree on what a serial means.
      if (after.serial === before.serial) expect(after.change).toBe(before.change);
    }
    // Both replicas ended on the same serial, and the secondary holds it; both were asked along the way.
    const served = await Promise.all(
      replicas.map(async ({ core }) => {
        const soa = await core.query(ORIGIN, 'SOA');
        return Number(soa.answers[0]?.value.split(/\s+/)[2]);
      }),
    );
    expect(served[0]).toBe(served[1]);
    expect(samples.at(-1)?.serial).toBe(served[0]);
    expect(Math.min(...service.counts)).toBeGreaterThan(0);
    const distinct = new Set(samples.map((entry) => entry.change)).size;
    process.stdout.write(
      `replica serials: ${samples.length} samples, ${distinct} distinct contents seen at the secondary, ` +
        `queries per replica ${service.counts.join('/')}\n`,
    );
  }, 120_000);
});
