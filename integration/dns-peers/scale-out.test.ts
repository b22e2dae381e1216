// The scale-out recipe (examples/scale-out/Corefile.secondary): a CoreDNS `secondary` tier server fed by the
// monitor's CoreDNS (shipped Corefile.monitor + transfer snippet, the shared transfer primary) carries our
// zones and follows a change.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  cleanUp,
  coreDnsForTests,
  dig,
  findFreeDnsPort,
  findRepoRoot,
  killProcessTree,
  spawnProcess,
  waitFor,
  type SpawnedProcess,
} from '@zonewright/testkit';
import { join } from 'node:path';
import { startTransferPrimary, vmi, type TransferPrimary } from './transfer-primary.js';

const coreDns = coreDnsForTests('integration/dns-peers/scale-out.test.ts');
const describeCoreDns = coreDns ? describe : describe.skip;

describeCoreDns('scale-out: a CoreDNS secondary tier fed by the monitor CoreDNS', () => {
  let primary: TransferPrimary;
  let tier: SpawnedProcess | undefined;
  let tierPort: number;

  const ask = async (name: string, type: string): Promise<string[]> => {
    const answer = await dig({ server: '127.0.0.1', port: tierPort, name, type, tries: 1 });
    return answer.status === 'NOERROR' ? answer.answers.map((record) => record.value) : [answer.status];
  };

  beforeAll(async () => {
    tierPort = await findFreeDnsPort();
    primary = await startTransferPrimary('tier', tierPort);
    tier = await spawnProcess(
      coreDns?.path ?? 'coredns',
      ['-conf', join(findRepoRoot(), 'examples', 'scale-out', 'Corefile.secondary')],
      {
        env: {
          ...process.env,
          VM_ZONE: primary.origin,
          REVERSE_ZONE: primary.reverse,
          PRIMARIES: `${primary.endpoint.address}:${primary.endpoint.port}`,
          PORT: String(tierPort),
        },
      },
    );
  }, 60_000);

  afterAll(async () => {
    await cleanUp('scale-out test', [
      () => (tier === undefined ? undefined : killProcessTree(tier.pid)),
      () => primary?.stop(),
    ]);
  });

  it('answers the forward and reverse zone and follows a change by NOTIFY', async () => {
    const name = `nic1.web.default.${primary.origin}`;
    await waitFor(async () => ((await ask(name, 'A'))[0] === '10.77.0.10' ? true : undefined), {
      timeoutMs: 15_000,
      description: 'the tier to transfer the zone',
    });
    expect(await ask(`10.0.${primary.reverse}`, 'PTR')).toEqual([`${name}.`]);
    primary.entries.set('a', vmi('web', '10.77.0.11'));
    primary.publish();
    const started = Date.now();
    await waitFor(async () => ((await ask(name, 'A'))[0] === '10.77.0.11' ? true : undefined), {
      timeoutMs: 15_000,
      intervalMs: 50,
      description: 'the tier to follow the change',
    });
    const elapsed = Date.now() - started;
    process.stdout.write(`scale-out: tier answered the change ${elapsed} ms after the zone write\n`);
    // The SOA refresh is 300 s: only NOTIFY explains following within seconds (reload + transfer).
    expect(elapsed).toBeLessThan(10_000);
    expect(await ask(`10.0.${primary.reverse}`, 'PTR')).toEqual(['NXDOMAIN']);
    expect(await ask(`11.0.${primary.reverse}`, 'PTR')).toEqual([`${name}.`]);
  }, 60_000);
});
