// Zone transfer out to Knot DNS: the same primary as the BIND test (transfer-primary.ts: our reconciler's
// zones, the shipped Corefile.monitor with the transfer snippet), and a real knotd as secondary of the VM zone
// and the reverse zone, configured in the shape docs/zone-transfer.md documents. NOTIFY (not the SOA refresh
// timer: 300 s in our zones) must bring every change to Knot.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  checkKnotConfig,
  cleanUp,
  coreDnsForTests,
  findFreeDnsPort,
  findRepoRoot,
  startKnot,
  waitFor,
  type KnotServer,
} from '@zonewright/testkit';
import { answer, followChanges, startTransferPrimary, type TransferPrimary } from './transfer-primary.js';

const coreDns = coreDnsForTests('integration/dns-peers/knot-secondary.test.ts');
const describeCoreDns = coreDns ? describe : describe.skip;

/** The yaml block of the "Knot DNS as secondary" section of docs/zone-transfer.md. */
function documentedKnotConfig(): string {
  const doc = readFileSync(join(findRepoRoot(), 'docs', 'zone-transfer.md'), 'utf8');
  const section = doc.split('\n### Knot DNS as secondary\n')[1]?.split('\n#')[0] ?? '';
  const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  if (block === undefined)
    throw new Error('docs/zone-transfer.md has no yaml block under "Knot DNS as secondary"');
  return block;
}

interface SecondaryZone {
  readonly domain: string;
  /** Addresses of the zone's `master` remotes (as Knot 3.2 resolves zone → template → remote). */
  readonly primaries: readonly string[];
  /** Addresses of the zone's ACLs with action notify. */
  readonly notifyFrom: readonly string[];
}

type Entry = Record<string, unknown>;
const list = (value: unknown): unknown[] =>
  Array.isArray(value) ? value : value === undefined ? [] : [value];

/** Every zone of a knot.conf text with where it transfers from and whom it takes NOTIFY from. */
function secondaryZones(text: string): SecondaryZone[] {
  const config = parse(text) as Record<string, Entry[] | undefined>;
  const byId = (section: string, id: unknown): Entry => {
    const entry = (config[section] ?? []).find((candidate) => candidate['id'] === id);
    if (!entry) throw new Error(`no ${section} with id ${String(id)}`);
    return entry;
  };
  return (config['zone'] ?? []).map((zone) => {
    const template = zone['template'] === undefined ? {} : byId('template', zone['template']);
    const setting = (key: string): unknown[] => list(zone[key] ?? template[key]);
    return {
      domain: String(zone['domain']),
      primaries: setting('master').flatMap((id) => list(byId('remote', id)['address']).map(String)),
      notifyFrom: setting('acl')
        .map((id) => byId('acl', id))
        .filter((acl) => list(acl['action']).includes('notify'))
        .flatMap((acl) => list(acl['address']).map(String)),
    };
  });
}

describeCoreDns('zone transfer from CoreDNS (auto + transfer) to a Knot DNS secondary, with NOTIFY', () => {
  let primary: TransferPrimary;
  let knot: KnotServer;

  beforeAll(async () => {
    const knotPort = await findFreeDnsPort();
    primary = await startTransferPrimary('knot', knotPort);
    knot = await startKnot({
      port: knotPort,
      zones: [primary.origin, primary.reverse],
      primary: primary.endpoint,
      // CoreDNS sends NOTIFY from its own address (here loopback; in a cluster the pod IP).
      notifyFrom: ['127.0.0.1'],
    });
  }, 60_000);

  afterAll(async () => {
    await cleanUp('Knot secondary test', [() => knot?.stop(), () => primary?.stop()]);
  });

  it('runs the configuration docs/zone-transfer.md documents, and Knot 3.2 accepts that text as written', async () => {
    const documented = documentedKnotConfig();
    const check = await checkKnotConfig(documented);
    expect(check).toEqual({ valid: true, output: 'Configuration is valid' });
    expect(secondaryZones(documented)).toEqual(
      ['vm.example.com', '10.10.in-addr.arpa'].map((domain) => ({
        domain,
        primaries: ['10.96.0.53@5353'],
        notifyFrom: ['10.244.0.0/16'],
      })),
    );
    // The same shape with the test's addresses: both zones from CoreDNS, NOTIFY allowed from loopback.
    expect(secondaryZones(knot.config)).toEqual(
      [primary.origin, primary.reverse].map((domain) => ({
        domain,
        primaries: [`${primary.endpoint.address}@${primary.endpoint.port}`],
        notifyFrom: ['127.0.0.1'],
      })),
    );
  });

  it('transfers the forward and the reverse zone at start', async () => {
    const { origin, reverse } = primary;
    expect(await answer(knot, `nic1.web.default.${origin}`, 'A')).toEqual(['10.77.0.10']);
    expect(await answer(knot, `web.default.${origin}`, 'A')).toEqual(['10.77.0.10']);
    expect(await answer(knot, `20.0.${reverse}`, 'PTR')).toEqual([`nic1.db.default.${origin}.`]);
    const zoneStatus = await knot.control(['zone-status', origin]);
    expect(zoneStatus).toMatch(/role: slave/);
    expect(zoneStatus).toMatch(/serial: \d+/);
  });

  it('follows a change and a deletion within 2 s of CoreDNS answering it (NOTIFY, not the refresh timer)', async () => {
    const { origin, reverse } = primary;
    const delays = await followChanges(primary, knot, 'Knot');
    // The reverse zone followed too: the deleted VM's PTR is gone, the moved and the added ones are there.
    await waitFor(
      async () => ((await answer(knot, `20.0.${reverse}`, 'PTR'))[0] === 'NXDOMAIN' ? true : undefined),
      { timeoutMs: 5000, description: 'Knot to drop the deleted PTR' },
    );
    expect(await answer(knot, `11.0.${reverse}`, 'PTR')).toEqual([`nic1.web.default.${origin}.`]);
    expect(await answer(knot, `30.0.${reverse}`, 'PTR')).toEqual([`nic1.cache.default.${origin}.`]);
    // Knot took CoreDNS's NOTIFY (the ACL let it in) and transferred because of it.
    expect(knot.output()).toMatch(new RegExp(`\\[${origin.replaceAll('.', '\\.')}\\.\\] notify, incoming`));
    process.stdout.write(`zone transfer: Knot answered ${delays.join(', ')} ms after CoreDNS\n`);
    for (const delay of delays) expect(delay).toBeLessThanOrEqual(2000);
  }, 60_000);
});
