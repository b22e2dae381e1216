// Zone transfer out: the shipped Corefile.monitor with the opt-in transfer snippet, serving zones our
// reconciler writes, and a real BIND named as secondary of it. NOTIFY (not the SOA refresh timer: 300 s in
// our zones) must bring every change to the secondary. The primary side is shared with the Knot test
// (transfer-primary.ts).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import {
  cleanUp,
  coreDnsForTests,
  findFreeDnsPort,
  runCommand,
  startNamed,
  waitFor,
  type NamedServer,
} from '@zonewright/testkit';
import { answer, followChanges, startTransferPrimary, type TransferPrimary } from './transfer-primary.js';

const coreDns = coreDnsForTests('integration/dns-peers/zone-transfer.test.ts');
const describeCoreDns = coreDns ? describe : describe.skip;

describeCoreDns('zone transfer from CoreDNS (auto + transfer) to a BIND secondary, with NOTIFY', () => {
  let primary: TransferPrimary;
  let named: NamedServer;

  beforeAll(async () => {
    const namedPort = await findFreeDnsPort();
    primary = await startTransferPrimary('xfr', namedPort);
    named = await startNamed({
      port: namedPort,
      zones: [primary.origin, primary.reverse].map((origin) => ({
        origin,
        file: join(primary.directory, `secondary-${origin}`),
        primaries: [primary.endpoint],
      })),
    });
  }, 60_000);

  afterAll(async () => {
    await cleanUp('zone transfer test', [() => named?.stop(), () => primary?.stop()]);
  });

  it('transfers the forward and the reverse zone at start', async () => {
    const { origin, reverse, core } = primary;
    expect(await answer(named, `nic1.web.default.${origin}`, 'A')).toEqual(['10.77.0.10']);
    expect(await answer(named, `20.0.${reverse}`, 'PTR')).toEqual([`nic1.db.default.${origin}.`]);
    // CoreDNS allows transfers to the listed secondary's address (loopback here, so dig may ask too).
    const axfr = await runCommand(
      'dig',
      [`@${core.address}`, '-p', String(core.ports.dns), origin, 'AXFR', '+tcp'],
      { timeoutMs: 5000 },
    );
    expect(axfr.stdout.split('\n').filter((line) => /\sIN\s+A\s/.test(line))).toHaveLength(5);
  });

  it('follows a change and a deletion within 2 s of CoreDNS answering it (NOTIFY, not the refresh timer)', async () => {
    const { origin, reverse } = primary;
    const delays = await followChanges(primary, named, 'named');
    // The reverse zone followed too: the deleted VM's PTR is gone, the moved one's is there.
    await waitFor(
      async () => ((await answer(named, `20.0.${reverse}`, 'PTR'))[0] === 'NXDOMAIN' ? true : undefined),
      {
        timeoutMs: 5000,
        description: 'named to drop the deleted PTR',
      },
    );
    expect(await answer(named, `11.0.${reverse}`, 'PTR')).toEqual([`nic1.web.default.${origin}.`]);
    // CoreDNS's NOTIFY carries no serial: named asks for the SOA, then transfers.
    expect(named.output()).toMatch(new RegExp(`received notify for zone '${origin.replaceAll('.', '\\.')}'`));
    process.stdout.write(`zone transfer: secondary answered ${delays.join(', ')} ms after CoreDNS\n`);
    for (const delay of delays) expect(delay).toBeLessThanOrEqual(2000);
  }, 60_000);
});
