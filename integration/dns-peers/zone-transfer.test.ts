// Zone transfer out: the shipped Corefile.monitor with the opt-in transfer snippet, serving zones our
// reconciler writes, and a real BIND named as secondary of it. NOTIFY (not the SOA refresh timer: 300 s in
// our zones) must bring every change to the secondary.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cleanUp,
  coreDnsForTests,
  dig,
  findFreeDnsPort,
  runCommand,
  startCoreDns,
  startNamed,
  waitFor,
  type CoreDnsServer,
  type NamedServer,
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

const coreDns = coreDnsForTests('integration/dns-peers/zone-transfer.test.ts');
const describeCoreDns = coreDns ? describe : describe.skip;

const ORIGIN = `vm.xfr-${Math.random().toString(36).slice(2, 8)}.test`;
const REVERSE = '77.10.in-addr.arpa';
const config = defaultZoneConfig(ORIGIN, ['127.0.0.1']);

function vmi(name: string, address: string): ClaimedRecord[] {
  return [
    { name: `nic1.${name}.default`, type: 'A', address, claim: 'exclusive' },
    { name: `${name}.default`, type: 'A', address, claim: 'exclusive' },
  ];
}

async function answer(
  server: { address: string; port: number },
  name: string,
  type: string,
): Promise<string[]> {
  const result = await dig({ server: server.address, port: server.port, name, type, tries: 1 });
  return result.status === 'NOERROR' && result.aa
    ? result.answers.map((record) => record.value)
    : [result.status];
}

describeCoreDns('zone transfer from CoreDNS (auto + transfer) to a BIND secondary, with NOTIFY', () => {
  let dir: string;
  let core: CoreDnsServer;
  let named: NamedServer;
  let reconciler: Reconciler;
  let source: SourceHandle;
  const entries = new Map<string, ClaimedRecord[]>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zw-xfr-'));
    const zones = join(dir, 'zones');
    const snippets = join(dir, 'transfer');
    await mkdir(zones);
    await mkdir(snippets);
    reconciler = new Reconciler({
      config,
      store: new FileZoneStore(zones),
      clock: systemClock,
      logger: silentLogger,
      debounceMs: 20,
      maxDelayMs: 100,
      reverseRanges: parseReverseRanges('10.77.0.0/16'),
    });
    source = reconciler.registerSource('test');
    await reconciler.start();
    entries.set('a', vmi('web', '10.77.0.10'));
    entries.set('b', vmi('db', '10.77.0.20'));
    source.replaceAll(entries);
    source.markSynced();
    await reconciler.whenReady();

    // The secondary's port is known first: the snippet allows it and sends it NOTIFY.
    const namedPort = await findFreeDnsPort();
    await writeFile(
      join(snippets, 'transfer.conf'),
      `    transfer {\n        to 127.0.0.1:${namedPort}\n    }\n`,
    );
    core = await startCoreDns({ corefile: 'monitor', zonesDirectory: zones, importDirectory: snippets });
    await core.waitForSerial(ORIGIN, 1);
    await core.waitForSerial(REVERSE, 1);
    named = await startNamed({
      port: namedPort,
      zones: [ORIGIN, REVERSE].map((origin) => ({
        origin,
        file: join(dir, `secondary-${origin}`),
        primaries: [{ address: core.address, port: core.ports.dns }],
      })),
    });
  }, 60_000);

  afterAll(async () => {
    await cleanUp('zone transfer test', [
      () => reconciler?.stop(),
      () => named?.stop(),
      () => core?.stop(),
      () => rm(dir, { recursive: true, force: true }),
    ]);
  });

  it('transfers the forward and the reverse zone at start', async () => {
    expect(await answer(named, `nic1.web.default.${ORIGIN}`, 'A')).toEqual(['10.77.0.10']);
    expect(await answer(named, `20.0.${REVERSE}`, 'PTR')).toEqual([`nic1.db.default.${ORIGIN}.`]);
    // CoreDNS allows transfers to the listed secondary's address (loopback here, so dig may ask too).
    const axfr = await runCommand(
      'dig',
      [`@${core.address}`, '-p', String(core.ports.dns), ORIGIN, 'AXFR', '+tcp'],
      { timeoutMs: 5000 },
    );
    expect(axfr.stdout.split('\n').filter((line) => /\sIN\s+A\s/.test(line))).toHaveLength(5);
  });

  it('follows a change and a deletion within 2 s of CoreDNS answering it (NOTIFY, not the refresh timer)', async () => {
    const delays: number[] = [];
    for (const [step, change] of [
      ['add', () => entries.set('c', vmi('cache', '10.77.0.30'))],
      ['move', () => entries.set('a', vmi('web', '10.77.0.11'))],
      ['delete', () => entries.delete('b')],
    ] as const) {
      change();
      source.replaceAll(entries);
      const expected = step === 'add' ? ['10.77.0.30'] : step === 'move' ? ['10.77.0.11'] : ['NXDOMAIN'];
      const name = `nic1.${step === 'add' ? 'cache' : step === 'move' ? 'web' : 'db'}.default.${ORIGIN}`;
      const seen = (server: { address: string; port: number }) => async () =>
        JSON.stringify(await answer(server, name, 'A')) === JSON.stringify(expected) ? Date.now() : undefined;
      const atPrimary = await waitFor(seen({ address: core.address, port: core.ports.dns }), {
        timeoutMs: 10_000,
        intervalMs: 20,
        description: `CoreDNS to answer ${step}`,
      });
      const atSecondary = await waitFor(seen(named), {
        timeoutMs: 10_000,
        intervalMs: 20,
        description: `named to answer ${step}`,
      });
      delays.push(atSecondary - atPrimary);
    }
    // The reverse zone followed too: the deleted VM's PTR is gone, the moved one's is there.
    await waitFor(
      async () => ((await answer(named, `20.0.${REVERSE}`, 'PTR'))[0] === 'NXDOMAIN' ? true : undefined),
      {
        timeoutMs: 5000,
        description: 'named to drop the deleted PTR',
      },
    );
    expect(await answer(named, `11.0.${REVERSE}`, 'PTR')).toEqual([`nic1.web.default.${ORIGIN}.`]);
    // CoreDNS's NOTIFY carries no serial: named asks for the SOA, then transfers.
    expect(named.output()).toMatch(new RegExp(`received notify for zone '${ORIGIN.replaceAll('.', '\\.')}'`));
    process.stdout.write(`zone transfer: secondary answered ${delays.join(', ')} ms after CoreDNS\n`);
    for (const delay of delays) expect(delay).toBeLessThanOrEqual(2000);
  }, 60_000);
});
