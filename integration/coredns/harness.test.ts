import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coreDnsForTests, createNetns, isProcessAlive, startCoreDns, startNamed } from '@zonewright/testkit';
import type { CoreDnsServer, NamedServer, Netns } from '@zonewright/testkit';

const coreDns = coreDnsForTests('integration/coredns/harness.test.ts');
const describeCoreDns = coreDns ? describe : describe.skip;

function zone(origin: string, serial: number): string {
  return [
    '$TTL 30',
    `$ORIGIN ${origin}.`,
    `@ IN SOA ns.${origin}. hostmaster.${origin}. ${serial} 3600 600 86400 30`,
    '@ IN NS ns',
    'ns IN A 192.0.2.53',
    'web IN A 192.0.2.10',
    '',
  ].join('\n');
}

describeCoreDns('testkit startCoreDns: the shipped Corefiles in a real CoreDNS', () => {
  let dir: string;
  let netns: Netns | undefined;
  const servers: CoreDnsServer[] = [];
  let named: NamedServer | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zw-coredns-harness-'));
  });

  afterAll(async () => {
    for (const server of servers) await server.stop();
    await named?.stop();
    await netns?.delete();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs Corefile.monitor on loopback: ready, serves the zone, logs queries, stops by PID', async () => {
    const zones = join(dir, 'monitor');
    await mkdir(zones);
    await writeFile(join(zones, 'db.vm.harness.test'), zone('vm.harness.test', 7));
    const server = await startCoreDns({ corefile: 'monitor', zonesDirectory: zones });
    servers.push(server);
    expect(server.binary.version).toMatch(/^\d+\.\d+\.\d+$/);
    await server.waitReady();
    expect((await server.httpGet('health', '/health')).status).toBe(200);
    await server.waitForSerial('vm.harness.test', 7);
    const answer = await server.query('web.vm.harness.test', 'A', { tcp: true });
    expect(answer.status).toBe('NOERROR');
    expect(answer.aa).toBe(true);
    expect(answer.answers.map((record) => record.value)).toEqual(['192.0.2.10']);
    const metrics = await server.httpGet('metrics', '/metrics');
    expect(metrics.body).toContain('coredns_dns_requests_total');
    // The shipped `log` directive is kept: the query is in CoreDNS's log.
    expect(server.logLines().some((line) => line.includes('"A IN web.vm.harness.test. tcp'))).toBe(true);
    await server.stop();
    expect(isProcessAlive(server.pid)).toBe(false);
  });

  it('runs Corefile.node inside a netns on the bind address it is given', async () => {
    netns = await createNetns();
    await netns.run('ip', ['addr', 'add', '172.38.99.1/32', 'dev', 'lo']);
    const zones = join(dir, 'node');
    await mkdir(zones);
    await writeFile(join(zones, 'db.cluster.local'), zone('cluster.local', 3));
    const server = await startCoreDns({
      corefile: 'node',
      zonesDirectory: zones,
      netns,
      address: '172.38.99.1',
      env: { CLUSTER_DOMAIN: 'cluster.local' },
    });
    servers.push(server);
    await server.waitReady();
    await server.waitForSerial('cluster.local', 3);
    const answer = await server.query('web.cluster.local', 'A');
    expect(answer.answers.map((record) => record.value)).toEqual(['192.0.2.10']);
    // The address exists only in the netns: on the host, CoreDNS cannot bind it.
    await expect(
      startCoreDns({
        corefile: 'node',
        zonesDirectory: zones,
        address: '172.38.99.1',
        env: { CLUSTER_DOMAIN: 'x' },
      }),
    ).rejects.toThrow(/no free UDP\+TCP port found on 172\.38\.99\.1|CoreDNS exited/);
    await server.stop();
    expect(isProcessAlive(server.pid)).toBe(false);
  });

  it("sends Corefile.node's `forward` to the test-local upstream it is given, nowhere else", async () => {
    const zones = join(dir, 'forward');
    await mkdir(zones);
    await writeFile(join(zones, 'db.cluster.local'), zone('cluster.local', 5));
    const upstreamZone = join(dir, 'db.upstream.test');
    await writeFile(upstreamZone, zone('upstream.test', 9));
    named = await startNamed({ zones: [{ origin: 'upstream.test', file: upstreamZone }] });
    const server = await startCoreDns({
      corefile: 'node',
      zonesDirectory: zones,
      upstream: `${named.address}:${named.port}`,
      env: { CLUSTER_DOMAIN: 'cluster.local' },
    });
    servers.push(server);
    expect(server.corefile.text).toContain(`forward . ${named.address}:${named.port}`);
    await server.waitReady();
    // Outside the cluster domain: answered by the upstream named through CoreDNS's `forward` (and `cache`).
    const forwarded = await server.query('web.upstream.test', 'A');
    expect({ status: forwarded.status, values: forwarded.answers.map((record) => record.value) }).toEqual({
      status: 'NOERROR',
      values: ['192.0.2.10'],
    });
    // Inside it: CoreDNS's own zone, authoritative.
    const local = await server.query('web.cluster.local', 'A');
    expect(local.aa).toBe(true);
    await server.stop();
  });
});
