// `dig -x` through the shipped Corefiles and a real CoreDNS: a VM's address (Corefile.monitor) and a pod's
// address (Corefile.node, in a netns, where the cluster-domain block also takes in-addr.arpa/ip6.arpa).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanUp, coreDnsForTests, createNetns, startCoreDns } from '@zonewright/testkit';
import type { CoreDnsServer, Netns } from '@zonewright/testkit';
import {
  defaultZoneConfig,
  FileZoneStore,
  parseReverseRanges,
  Reconciler,
  reverseNameOf,
  silentLogger,
  systemClock,
  type ClaimedRecord,
} from '@zonewright/zone';

const coreDns = coreDnsForTests('integration/coredns/reverse-zones.test.ts');
const describeCoreDns = coreDns ? describe : describe.skip;

async function writeZones(
  zones: string,
  origin: string,
  ranges: string,
  entries: Map<string, ClaimedRecord[]>,
): Promise<void> {
  const reconciler = new Reconciler({
    config: defaultZoneConfig(origin, ['127.0.0.1']),
    store: new FileZoneStore(zones),
    clock: systemClock,
    logger: silentLogger,
    reverseRanges: parseReverseRanges(ranges),
  });
  const source = reconciler.registerSource('test');
  await reconciler.start();
  source.replaceAll(entries);
  source.markSynced();
  await reconciler.whenReady();
  await reconciler.stop();
}

describeCoreDns('reverse zones through the shipped Corefiles', () => {
  let dir: string;
  let netns: Netns | undefined;
  const servers: CoreDnsServer[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zw-reverse-coredns-'));
  });
  afterAll(async () => {
    await cleanUp('reverse zones test', [
      ...servers.map((server) => () => server.stop()),
      () => netns?.delete(),
      () => rm(dir, { recursive: true, force: true }),
    ]);
  });

  it("Corefile.monitor answers dig -x of a VM's IPv4 and IPv6 address", async () => {
    const zones = join(dir, 'monitor');
    await mkdir(zones);
    const origin = 'vm.reverse.test';
    await writeZones(
      zones,
      origin,
      '10.55.0.0/16,fd00:55::/48',
      new Map([
        [
          'u1',
          [
            { name: 'nic1.web.default', type: 'A', address: '10.55.1.2', claim: 'exclusive' },
            { name: 'web.default', type: 'A', address: '10.55.1.2', claim: 'exclusive' },
            { name: 'nic1.web.default', type: 'AAAA', address: 'fd00:55::2', claim: 'exclusive' },
          ],
        ],
      ]),
    );
    const server = await startCoreDns({ corefile: 'monitor', zonesDirectory: zones });
    servers.push(server);
    await server.waitForSerial('55.10.in-addr.arpa', 1);
    for (const address of ['10.55.1.2', 'fd00:55::2']) {
      const answer = await server.query(reverseNameOf(address) ?? '', 'PTR');
      expect(answer.aa).toBe(true);
      expect(answer.answers.map((record) => record.value)).toEqual([`nic1.web.default.${origin}.`]);
    }
    expect((await server.query(reverseNameOf('10.55.9.9') ?? '', 'PTR')).status).toBe('NXDOMAIN');
  });

  it("Corefile.node answers dig -x of a pod's address on the node-local listener", async () => {
    netns = await createNetns();
    await netns.run('ip', ['addr', 'add', '172.38.98.1/32', 'dev', 'lo']);
    const zones = join(dir, 'node');
    await mkdir(zones);
    await writeZones(
      zones,
      'cluster.local',
      '172.38.0.0/16',
      new Map([
        [
          'sandbox-1',
          [
            { name: 'camera', type: 'A', address: '172.38.0.7', claim: 'shared' },
            { name: 'camera.svc', type: 'A', address: '172.38.0.7', claim: 'shared' },
            { name: 'camera.edge.svc', type: 'A', address: '172.38.0.7', claim: 'exclusive' },
          ],
        ],
      ]),
    );
    const server = await startCoreDns({
      corefile: 'node',
      zonesDirectory: zones,
      netns,
      address: '172.38.98.1',
      env: { CLUSTER_DOMAIN: 'cluster.local' },
    });
    servers.push(server);
    await server.waitForSerial('38.172.in-addr.arpa', 1);
    const answer = await server.query(reverseNameOf('172.38.0.7') ?? '', 'PTR');
    expect(answer.aa).toBe(true);
    expect(answer.answers.map((record) => record.value)).toEqual(['camera.edge.svc.cluster.local.']);
    // The forward zone is still served by the same block.
    expect((await server.query('camera.edge.svc.cluster.local', 'A')).answers.map((r) => r.value)).toEqual([
      '172.38.0.7',
    ]);
  });
});
