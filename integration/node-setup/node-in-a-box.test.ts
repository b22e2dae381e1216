/**
 * Node in a box: everything a zonewright edge node does, inside namespaces this test makes.
 *
 * - node-setup writes the bridge conflist into the CNI config directory of a real containerd (running in the
 *   "node" netns) and installs the 169.254.0.2 redirect there (iptables-nft, the default);
 * - containerd creates pod sandboxes with that conflist (their IPs come from node-setup's subnet);
 * - the CRI watcher (library: CriWatcher + Reconciler; the `zonewright cri-watch` command wires the same parts)
 *   writes the pod zone; a real CoreDNS in the node netns runs the shipped corefile/Corefile.node (testkit
 *   startCoreDns: only ports, zones directory and upstream differ) on the bridge gateway and reloads it itself;
 * - from inside one pod's netns and from the node, `dig @169.254.0.2 <other pod's hostname>` over UDP and TCP
 *   returns that pod's IP;
 * - then node-setup remove: nothing of ours is left.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CriClient, CriWatcher } from '@zonewright/cri-watcher';
import { createCommandRunner, ownedPart, parseIptablesSave, runNodeSetup } from '@zonewright/node-setup';
import type { NodeSetupOptions } from '@zonewright/node-setup';
import {
  buildPauseImage,
  cleanUp,
  coreDnsForTests,
  createNetns,
  startContainerd,
  startCoreDns,
} from '@zonewright/testkit';
import type { ContainerdHarness, CoreDnsServer, Netns, RunningSandbox } from '@zonewright/testkit';
import { FileZoneStore, Reconciler, defaultZoneConfig, silentLogger, systemClock } from '@zonewright/zone';

import { digIn, run, sleep, suffix } from './helpers.js';

const ORIGIN = 'cluster.local';
const GATEWAY = '172.38.0.1';

/** The netns containerd made for a sandbox: the `cni-…` namespace whose eth0 has the sandbox's IP. */
async function sandboxNetns(ip: string): Promise<string> {
  for (const entry of await readdir('/var/run/netns')) {
    if (!entry.startsWith('cni-')) continue;
    const result = await run('ip', ['-n', entry, '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
    if (result.code === 0 && result.stdout.includes(` ${ip}/`)) return `/var/run/netns/${entry}`;
  }
  throw new Error(`no network namespace has ${ip} on eth0`);
}

const coreDns = coreDnsForTests('integration/node-setup/node-in-a-box.test.ts');
const describeCoreDns = coreDns ? describe : describe.skip;

describeCoreDns('node in a box: containerd + node-setup + CRI watcher + CoreDNS (Corefile.node)', () => {
  let netns: Netns | undefined;
  let containerd: ContainerdHarness | undefined;
  let coredns: CoreDnsServer | undefined;
  let reconciler: Reconciler | undefined;
  let watcher: CriWatcher | undefined;
  let criClient: CriClient | undefined;
  let pauseDir = '';
  let workDir = '';
  let zoneWrites = 0;
  const networkName = `zw-box-${suffix()}`;
  const dnsPort = 20000 + Math.floor(Math.random() * 40000);
  const sandboxes: RunningSandbox[] = [];
  const measured: Record<string, number | string> = {};
  let options: Partial<NodeSetupOptions> = {};

  const node = (): Netns => {
    if (netns === undefined) throw new Error('no node netns');
    return netns;
  };
  const runtime = (): ContainerdHarness => {
    if (containerd === undefined) throw new Error('containerd did not start');
    return containerd;
  };
  const runner = () => createCommandRunner({ prefix: ['nsenter', `--net=${node().path}`, '--'] });

  beforeAll(async () => {
    netns = await createNetns();
    // A real node has a default route; OUTPUT DNAT needs a route to 169.254.0.2 before it applies.
    await node().addVethPair('zwup0', 'zwup1', { name: '10.250.0.2/24' });
    await node().run('ip', ['route', 'add', 'default', 'via', '10.250.0.1']);
    pauseDir = await mkdtemp(join(tmpdir(), 'zw-pause-'));
    workDir = await mkdtemp(join(tmpdir(), 'zw-box-'));
    const image = await buildPauseImage({ dir: pauseDir });
    containerd = await startContainerd({ netns: node(), pauseImage: image, ipv6Subnet: false });
    options = {
      cniConfDir: join(containerd.dir, 'cni'),
      // Sorts before the harness's own 10-zonewright-test.conflist: containerd loads only the first file.
      cniConfName: '05-zonewright.conflist',
      cniNetworkName: networkName,
      cniBridge: `zwb${suffix().slice(0, 6)}`,
      localDnsPort: dnsPort,
    };
  }, 180_000);

  afterAll(async () => {
    console.log(`node in a box measurements: ${JSON.stringify(measured)}`);
    await cleanUp('node in a box', [
      () => coredns?.stop(),
      () => watcher?.stop(),
      () => criClient?.close(),
      () => reconciler?.stop(),
      () => containerd?.cleanup(),
      () => netns?.delete(),
      () => rm(join('/var/lib/cni/networks', networkName), { recursive: true, force: true }),
      ...[pauseDir, workDir].map((dir) => () => dir === '' || rm(dir, { recursive: true, force: true })),
    ]);
  }, 120_000);

  it('node-setup install writes the conflist containerd uses and the redirect', async () => {
    const report = await runNodeSetup({ action: 'install', options, runner: runner() });
    expect(report.ok).toBe(true);
    expect(report.steps.map((step) => [step.step, step.status])).toEqual([
      ['dns-redirect', 'changed'],
      ['cni', 'changed'],
      ['bridge', 'changed'],
    ]);
    await runtime().restart(); // containerd reads the CNI config directory at start
    for (const [name, hostname] of [
      ['camera', 'camera'],
      ['sensor', 'sensor'],
    ] as const) {
      const sandbox = await runtime().runSandbox({ name, namespace: 'default', hostname });
      sandboxes.push(sandbox);
      measured[`runPodSandbox ${name}, ms`] = sandbox.startMs;
    }
    for (const sandbox of sandboxes) expect(sandbox.ips[0]).toMatch(/^172\.38\.\d+\.\d+$/);
    expect(await node().run('ip', ['-4', 'addr', 'show', String(options.cniBridge)])).toContain(
      `${GATEWAY}/16`,
    );
  }, 120_000);

  it('the CRI watcher writes the pod zone and CoreDNS serves it behind 169.254.0.2', async () => {
    const zoneDir = join(workDir, 'zones');
    reconciler = new Reconciler({
      config: defaultZoneConfig(ORIGIN, [GATEWAY]),
      store: new FileZoneStore(zoneDir),
      clock: systemClock,
      logger: silentLogger,
      debounceMs: 20,
      maxDelayMs: 50,
      observer: {
        onWrite: () => {
          zoneWrites += 1;
        },
      },
    });
    criClient = new CriClient({ endpoint: runtime().endpoint, timeoutMs: 5000 });
    watcher = new CriWatcher({
      runtime: criClient,
      source: reconciler.registerSource('cri'),
      clusterDomain: ORIGIN,
      clock: systemClock,
      logger: silentLogger,
      intervalMs: 500,
    });
    const began = Date.now();
    await reconciler.start();
    await watcher.start();
    await reconciler.whenReady();
    const [camera, sensor] = sandboxes;
    if (camera === undefined || sensor === undefined) throw new Error('sandboxes missing');
    const cameraIp = camera.ips[0] ?? '';
    const sensorIp = sensor.ips[0] ?? '';
    coredns = await startCoreDns({
      corefile: 'node',
      zonesDirectory: zoneDir,
      netns: node(),
      address: GATEWAY,
      ports: { dns: dnsPort },
      env: { CLUSTER_DOMAIN: ORIGIN },
    });
    await coredns.waitReady();
    const served = await coredns.query(`camera.${ORIGIN}`, 'A');
    expect(served.answers.map((record) => record.value)).toEqual([cameraIp]);
    expect(served.aa).toBe(true);
    measured['watcher start to CoreDNS answering, ms'] = Date.now() - began;

    const sensorNetns = await sandboxNetns(sensorIp);
    const cameraNetns = await sandboxNetns(cameraIp);
    for (const tcp of [false, true]) {
      const fromPod = await digIn(sensorNetns, {
        server: '169.254.0.2',
        port: 53,
        name: `camera.${ORIGIN}`,
        tcp,
      });
      expect({ tcp, addresses: fromPod.addresses }).toEqual({ tcp, addresses: [cameraIp] });
      const svc = await digIn(cameraNetns, {
        server: '169.254.0.2',
        port: 53,
        name: `sensor.default.svc.${ORIGIN}`,
        tcp,
      });
      expect({ tcp, addresses: svc.addresses }).toEqual({ tcp, addresses: [sensorIp] });
      const fromNode = await digIn(node().path, {
        server: '169.254.0.2',
        port: 53,
        name: `sensor.${ORIGIN}`,
        tcp,
      });
      expect({ tcp, addresses: fromNode.addresses }).toEqual({ tcp, addresses: [sensorIp] });
      measured[`pod→169.254.0.2 ${tcp ? 'tcp' : 'udp'} query, ms`] = fromPod.queryTimeMs ?? -1;
    }
  }, 120_000);

  it('a new pod appears in DNS after the zone is rewritten and CoreDNS reloads it', async () => {
    const began = Date.now();
    const writesBefore = zoneWrites;
    const printer = await runtime().runSandbox({ name: 'printer', namespace: 'office', hostname: 'printer' });
    sandboxes.push(printer);
    const printerIp = printer.ips[0] ?? '';
    const cameraNetns = await sandboxNetns(sandboxes[0]?.ips[0] ?? '');
    const deadline = Date.now() + 20_000;
    let addresses: string[] = [];
    while (Date.now() < deadline) {
      await sleep(100);
      addresses = (
        await digIn(cameraNetns, {
          server: '169.254.0.2',
          port: 53,
          name: `printer.office.svc.${ORIGIN}`,
          tcp: false,
        })
      ).addresses;
      if (addresses.length > 0) break;
    }
    expect(addresses).toEqual([printerIp]);
    expect(zoneWrites).toBeGreaterThan(writesBefore);
    measured['new pod to answer via 169.254.0.2 (incl. sandbox start), ms'] = Date.now() - began;
  }, 60_000);

  it('node-setup remove leaves nothing of ours', async () => {
    await watcher?.stop();
    for (const sandbox of sandboxes.splice(0)) await runtime().removeSandbox(sandbox.id);
    const report = await runNodeSetup({ action: 'remove', options, runner: runner() });
    // No pod is attached any more, so the bridge node-setup created goes too.
    expect(report.steps.map((step) => [step.step, step.status])).toEqual([
      ['dns-redirect', 'changed'],
      ['cni', 'changed'],
      ['bridge', 'changed'],
    ]);
    const saved = await node().run('iptables-nft-save', ['-t', 'nat']);
    expect(saved).not.toMatch(/zonewright|ZONEWRIGHT/);
    expect(ownedPart(parseIptablesSave(saved))).toEqual({ chains: [], rules: [] });
    expect(await readdir(String(options.cniConfDir))).not.toContain('05-zonewright.conflist');
    const check = await runNodeSetup({ action: 'check', options, runner: runner() });
    expect(check.ok).toBe(false);
  }, 60_000);
});
