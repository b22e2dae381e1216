// The scale-out recipe (examples/scale-out/Corefile.secondary): a CoreDNS `secondary` tier server fed by the
// monitor's CoreDNS (shipped Corefile.monitor + transfer snippet) carries our zones and follows a change.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cleanUp,
  coreDnsForTests,
  dig,
  findFreeDnsPort,
  killProcessTree,
  findRepoRoot,
  spawnProcess,
  startCoreDns,
  waitFor,
  type CoreDnsServer,
  type SpawnedProcess,
} from '@zonewright/testkit';
import {
  defaultZoneConfig,
  FileZoneStore,
  parseReverseRanges,
  Reconciler,
  silentLogger,
  systemClock,
  type ClaimedRecord,
  type SourceHandle,
} from '@zonewright/zone';

const coreDns = coreDnsForTests('integration/dns-peers/scale-out.test.ts');
const describeCoreDns = coreDns ? describe : describe.skip;

const ORIGIN = `vm.tier-${Math.random().toString(36).slice(2, 8)}.test`;
const REVERSE = '66.10.in-addr.arpa';

const vmi = (name: string, address: string): ClaimedRecord[] => [
  { name: `nic1.${name}.default`, type: 'A', address, claim: 'exclusive' },
];

describeCoreDns('scale-out: a CoreDNS secondary tier fed by the monitor CoreDNS', () => {
  let dir: string;
  let primary: CoreDnsServer;
  let tier: SpawnedProcess;
  let tierPort: number;
  let reconciler: Reconciler;
  let source: SourceHandle;

  const ask = async (name: string, type: string): Promise<string[]> => {
    const answer = await dig({ server: '127.0.0.1', port: tierPort, name, type, tries: 1 });
    return answer.status === 'NOERROR' ? answer.answers.map((record) => record.value) : [answer.status];
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zw-tier-'));
    const zones = join(dir, 'zones');
    const snippets = join(dir, 'transfer');
    await mkdir(zones);
    await mkdir(snippets);
    reconciler = new Reconciler({
      config: defaultZoneConfig(ORIGIN, ['127.0.0.1']),
      store: new FileZoneStore(zones),
      clock: systemClock,
      logger: silentLogger,
      debounceMs: 20,
      maxDelayMs: 100,
      reverseRanges: parseReverseRanges('10.66.0.0/16'),
    });
    source = reconciler.registerSource('test');
    await reconciler.start();
    source.replaceAll(new Map([['a', vmi('web', '10.66.0.10')]]));
    source.markSynced();
    await reconciler.whenReady();
    tierPort = await findFreeDnsPort();
    await writeFile(
      join(snippets, 'transfer.conf'),
      `    transfer {\n        to 127.0.0.1:${tierPort}\n    }\n`,
    );
    primary = await startCoreDns({ corefile: 'monitor', zonesDirectory: zones, importDirectory: snippets });
    await primary.waitForSerial(ORIGIN, 1);
    await primary.waitForSerial(REVERSE, 1);
    tier = await spawnProcess(
      coreDns?.path ?? 'coredns',
      ['-conf', join(findRepoRoot(), 'examples', 'scale-out', 'Corefile.secondary')],
      {
        env: {
          ...process.env,
          VM_ZONE: ORIGIN,
          REVERSE_ZONE: REVERSE,
          PRIMARIES: `127.0.0.1:${primary.ports.dns}`,
          PORT: String(tierPort),
        },
      },
    );
  }, 60_000);

  afterAll(async () => {
    await cleanUp('scale-out test', [
      () => reconciler?.stop(),
      () => (tier === undefined ? undefined : killProcessTree(tier.pid)),
      () => primary?.stop(),
      () => rm(dir, { recursive: true, force: true }),
    ]);
  });

  it('answers the forward and reverse zone and follows a change by NOTIFY', async () => {
    await waitFor(
      async () => ((await ask(`nic1.web.default.${ORIGIN}`, 'A'))[0] === '10.66.0.10' ? true : undefined),
      {
        timeoutMs: 15_000,
        description: 'the tier to transfer the zone',
      },
    );
    expect(await ask(`10.0.${REVERSE}`, 'PTR')).toEqual([`nic1.web.default.${ORIGIN}.`]);
    source.replaceAll(new Map([['a', vmi('web', '10.66.0.11')]]));
    const started = Date.now();
    await waitFor(
      async () => ((await ask(`nic1.web.default.${ORIGIN}`, 'A'))[0] === '10.66.0.11' ? true : undefined),
      {
        timeoutMs: 15_000,
        intervalMs: 50,
        description: 'the tier to follow the change',
      },
    );
    const elapsed = Date.now() - started;
    process.stdout.write(`scale-out: tier answered the change ${elapsed} ms after the zone write\n`);
    // The SOA refresh is 300 s: only NOTIFY explains following within seconds (reload 2s + transfer).
    expect(elapsed).toBeLessThan(10_000);
    expect(await ask(`10.0.${REVERSE}`, 'PTR')).toEqual(['NXDOMAIN']);
  }, 60_000);
});
