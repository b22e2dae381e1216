/**
 * node-setup against real iptables (nft and legacy backends) in network namespaces made here:
 *
 *   "pod" netns ──eth0── cni0 (172.38.0.1, made by the real CNI bridge plugin from node-setup's conflist)
 *                         │ "node" netns: named on 172.38.0.1:<random port>, our nat rules
 *                         └ uplink veth with a default route (a real node has one; OUTPUT DNAT happens after
 *                           routing, so without any route to 169.254.0.2 the node's own queries fail first)
 *
 * Queries to 169.254.0.2:53 (UDP and TCP) from the pod and from the node must reach named only through the
 * redirect. Everything is removed in afterAll: named by PID, the namespaces (and with them every rule),
 * host-local's state directory, the temp directory.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { createCommandRunner, ownedPart, parseIptablesSave, runNodeSetup } from '@zonewright/node-setup';
import type { CommandRunner, IptablesBackend, NodeSetupOptions } from '@zonewright/node-setup';

import { digIn, must, run, startNamedInNetns, suffix } from './helpers.js';
import type { Answer, NamedInNetns } from './helpers.js';

interface Box {
  node: string;
  pod: string;
  nodePath: string;
  podPath: string;
  dir: string;
  networkName: string;
  dnsPort: number;
  named?: NamedInNetns;
  runner: CommandRunner;
}

const CAMERA = '172.38.0.9';

/** Runs each CNI plugin of the conflist like a CNI runtime does (ADD, in the node netns, prevResult chained). */
async function cniAdd(box: Box, conflistPath: string): Promise<unknown> {
  const conflist = JSON.parse(await readFile(conflistPath, 'utf8')) as {
    cniVersion: string;
    name: string;
    plugins: Record<string, unknown>[];
  };
  let prevResult: unknown;
  for (const plugin of conflist.plugins) {
    const config = {
      cniVersion: conflist.cniVersion,
      name: conflist.name,
      ...plugin,
      ...(prevResult === undefined ? {} : { prevResult }),
    };
    const env = {
      ...process.env,
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: `zw-${box.networkName}`,
      CNI_NETNS: box.podPath,
      CNI_IFNAME: 'eth0',
      CNI_PATH: '/usr/lib/cni',
    };
    const output = await must(
      'nsenter',
      [`--net=${box.nodePath}`, '--', `/usr/lib/cni/${String(plugin.type)}`],
      {
        input: JSON.stringify(config),
        env,
      },
    );
    prevResult = JSON.parse(output);
  }
  return prevResult;
}

async function startNamedInNode(box: Box): Promise<NamedInNetns> {
  const zone = [
    '$TTL 30',
    '@ IN SOA ns.cluster.local. admin.cluster.local. 1 60 60 600 30',
    '@ IN NS ns',
    'ns IN A 172.38.0.1',
    `camera IN A ${CAMERA}`,
    '',
  ];
  const zoneFile = join(box.dir, 'db.cluster.local');
  await writeFile(zoneFile, zone.join('\n'));
  return startNamedInNetns({
    netnsPath: box.nodePath,
    dir: box.dir,
    addresses: ['172.38.0.1', '127.0.0.1'],
    port: box.dnsPort,
    origin: 'cluster.local',
    zoneFile,
    ready: async () =>
      (await query(box, 'node', { server: '172.38.0.1', port: box.dnsPort, tcp: false })).addresses.includes(
        CAMERA,
      ),
  });
}

function query(
  box: Box,
  from: 'pod' | 'node',
  target: { server: string; port: number; tcp: boolean },
): Promise<Answer> {
  return digIn(from === 'pod' ? box.podPath : box.nodePath, { ...target, name: 'camera.cluster.local' });
}

async function natRules(box: Box, backend: IptablesBackend): Promise<string> {
  return must('nsenter', [`--net=${box.nodePath}`, '--', `iptables-${backend}-save`, '-t', 'nat']);
}

describe.each<IptablesBackend>(['nft', 'legacy'])(
  'node-setup redirect with iptables-%s in a netns',
  (backend) => {
    const box: Box = {
      node: `zw-nsn-${suffix()}`,
      pod: `zw-nsp-${suffix()}`,
      nodePath: '',
      podPath: '',
      dir: '',
      networkName: `zw-ns-${suffix()}`,
      dnsPort: 20000 + Math.floor(Math.random() * 40000),
      runner: createCommandRunner(),
    };
    box.nodePath = `/var/run/netns/${box.node}`;
    box.podPath = `/var/run/netns/${box.pod}`;
    const measured: Record<string, number | string> = {};
    let options: Partial<NodeSetupOptions>;

    beforeAll(async () => {
      box.dir = await mkdtemp(join(tmpdir(), 'zw-node-setup-'));
      box.runner = createCommandRunner({ prefix: ['nsenter', `--net=${box.nodePath}`, '--'] });
      options = {
        iptablesBackend: backend,
        localDnsPort: box.dnsPort,
        cniConfDir: join(box.dir, 'net.d'),
        cniNetworkName: box.networkName,
      };
      await must('ip', ['netns', 'add', box.node]);
      await must('ip', ['netns', 'add', box.pod]);
      await must('ip', ['-n', box.node, 'link', 'set', 'lo', 'up']);
      await must('ip', ['-n', box.pod, 'link', 'set', 'lo', 'up']);
      await must('ip', ['-n', box.node, 'link', 'add', 'zwup0', 'type', 'veth', 'peer', 'name', 'zwup1']);
      await must('ip', ['-n', box.node, 'addr', 'add', '10.250.0.2/24', 'dev', 'zwup0']);
      await must('ip', ['-n', box.node, 'link', 'set', 'zwup0', 'up']);
      await must('ip', ['-n', box.node, 'link', 'set', 'zwup1', 'up']);
      await must('ip', ['-n', box.node, 'route', 'add', 'default', 'via', '10.250.0.1']);
    }, 60_000);

    afterAll(async () => {
      box.named?.stop();
      await run('ip', ['netns', 'delete', box.pod]);
      await run('ip', ['netns', 'delete', box.node]);
      await rm(join('/var/lib/cni/networks', box.networkName), { recursive: true, force: true });
      if (box.dir !== '') await rm(box.dir, { recursive: true, force: true });
      console.log(`node-setup ${backend} measurements: ${JSON.stringify(measured)}`);
    }, 30_000);

    it('writes a CNI conflist that the real bridge plugin turns into a working pod network', async () => {
      const report = await runNodeSetup({
        action: 'install',
        options: { ...options, dnsRedirect: false },
        runner: box.runner,
      });
      expect(report.steps.map((step) => `${step.step}:${step.status}`)).toEqual([
        'cni:changed',
        'bridge:changed',
      ]);
      // The bridge exists with the gateway address before any pod: the node-local DNS can bind it now.
      expect(await must('ip', ['-n', box.node, '-4', 'addr', 'show', 'cni0'])).toContain('172.38.0.1/16');
      box.named = await startNamedInNode(box);
      const early = await query(box, 'node', { server: '172.38.0.1', port: box.dnsPort, tcp: false });
      expect(early.addresses).toEqual([CAMERA]);
      const again = await runNodeSetup({
        action: 'install',
        options: { ...options, dnsRedirect: false },
        runner: box.runner,
      });
      expect(again.steps.map((step) => `${step.step}:${step.status}`)).toEqual([
        'cni:unchanged',
        'bridge:unchanged',
      ]);
      // The real bridge plugin reuses the bridge node-setup made.
      const result = (await cniAdd(box, join(box.dir, 'net.d', '10-zonewright.conflist'))) as {
        ips: { address: string; gateway: string }[];
      };
      expect(result.ips[0]).toEqual({ interface: 2, address: '172.38.0.2/16', gateway: '172.38.0.1' });
      expect(await must('ip', ['-n', box.node, '-4', 'addr', 'show', 'cni0'])).toContain('172.38.0.1/16');
      const direct = await query(box, 'pod', { server: '172.38.0.1', port: box.dnsPort, tcp: false });
      expect(direct.addresses).toEqual([CAMERA]);
    });

    it('without the redirect, 169.254.0.2 does not answer', async () => {
      const before = await query(box, 'pod', { server: '169.254.0.2', port: 53, tcp: false });
      expect(before.addresses).toEqual([]);
      expect(before.output).toMatch(/timed out|no servers could be reached/);
    });

    it('install adds exactly the planned rules; a second install changes nothing', async () => {
      const dry = await runNodeSetup({
        action: 'install',
        dryRun: true,
        options: { ...options, cni: false },
        runner: box.runner,
      });
      expect(dry.steps[0]?.status).toBe('would-change');
      expect(dry.steps[0]?.changes).toHaveLength(8);
      expect(ownedPart(parseIptablesSave(await natRules(box, backend))).rules).toEqual([]);

      const started = performance.now();
      const first = await runNodeSetup({
        action: 'install',
        options: { ...options, cni: false },
        runner: box.runner,
      });
      measured.installMs = Math.round(performance.now() - started);
      expect(first.iptablesBackend?.backend).toBe(backend);
      expect(first.steps[0]?.status).toBe('changed');
      const saved = await natRules(box, backend);
      const owned = ownedPart(parseIptablesSave(saved));
      measured.ownRules = owned.rules.length;
      measured.ownChains = owned.chains.length;
      expect([...owned.chains].sort()).toEqual(['ZONEWRIGHT-DNS-OUT', 'ZONEWRIGHT-DNS-PRE']);
      expect(owned.rules).toHaveLength(6);
      // The jumps come first in the built-in chains.
      const nat = parseIptablesSave(saved);
      expect(nat.rules.find((rule) => rule.chain === 'PREROUTING')?.spec).toContain('ZONEWRIGHT-DNS-PRE');
      expect(nat.rules.find((rule) => rule.chain === 'OUTPUT')?.spec).toContain('ZONEWRIGHT-DNS-OUT');

      const second = await runNodeSetup({
        action: 'install',
        options: { ...options, cni: false },
        runner: box.runner,
      });
      expect(second.steps[0]).toMatchObject({ status: 'unchanged', changes: [] });
      expect(parseIptablesSave(await natRules(box, backend))).toEqual(nat);
    });

    it('queries to 169.254.0.2:53 over UDP and TCP from the pod and from the node reach named', async () => {
      for (const from of ['pod', 'node'] as const) {
        for (const tcp of [false, true]) {
          const answer = await query(box, from, { server: '169.254.0.2', port: 53, tcp });
          expect({ from, tcp, addresses: answer.addresses }).toEqual({ from, tcp, addresses: [CAMERA] });
          measured[`${from}-${tcp ? 'tcp' : 'udp'}-queryMs`] = answer.queryTimeMs ?? -1;
        }
      }
    });

    it('install 100 times leaves the same ruleset as once', async () => {
      const before = parseIptablesSave(await natRules(box, backend));
      const started = performance.now();
      for (let run = 0; run < 100; run += 1) {
        const report = await runNodeSetup({
          action: 'install',
          options: { ...options, cni: false },
          runner: box.runner,
        });
        expect(report.changed).toBe(false);
      }
      measured.install100Ms = Math.round(performance.now() - started);
      expect(parseIptablesSave(await natRules(box, backend))).toEqual(before);
    }, 120_000);

    it('check reports a deleted rule, install puts it back', async () => {
      expect((await runNodeSetup({ action: 'check', options, runner: box.runner })).ok).toBe(true);
      await must('nsenter', [
        `--net=${box.nodePath}`,
        '--',
        `iptables-${backend}`,
        '-t',
        'nat',
        '-D',
        'ZONEWRIGHT-DNS-PRE',
        '-d',
        '169.254.0.2/32',
        '-p',
        'tcp',
        '-m',
        'tcp',
        '--dport',
        '53',
        '-m',
        'comment',
        '--comment',
        'zonewright: cluster DNS tcp',
        '-j',
        'DNAT',
        '--to-destination',
        `172.38.0.1:${String(box.dnsPort)}`,
      ]);
      const broken = await query(box, 'pod', { server: '169.254.0.2', port: 53, tcp: true });
      expect(broken.addresses).toEqual([]);
      const check = await runNodeSetup({ action: 'check', options, runner: box.runner });
      expect(check.ok).toBe(false);
      expect(check.steps.find((step) => step.step === 'dns-redirect')?.problems).toEqual([
        `missing: iptables -t nat -A ZONEWRIGHT-DNS-PRE -d 169.254.0.2/32 -p tcp -m tcp --dport 53 -m comment --comment "zonewright: cluster DNS tcp" -j DNAT --to-destination 172.38.0.1:${String(box.dnsPort)}`,
      ]);
      const repaired = await runNodeSetup({
        action: 'install',
        options: { ...options, cni: false },
        runner: box.runner,
      });
      expect(repaired.steps[0]?.changes).toHaveLength(1);
      expect((await query(box, 'pod', { server: '169.254.0.2', port: 53, tcp: true })).addresses).toEqual([
        CAMERA,
      ]);
    });

    it('check reports an extra (duplicated) jump', async () => {
      await must('nsenter', [
        `--net=${box.nodePath}`,
        '--',
        `iptables-${backend}`,
        '-t',
        'nat',
        '-A',
        'OUTPUT',
        '-m',
        'comment',
        '--comment',
        'zonewright: node-local DNS redirect',
        '-j',
        'ZONEWRIGHT-DNS-OUT',
      ]);
      const check = await runNodeSetup({
        action: 'check',
        options: { ...options, cni: false },
        runner: box.runner,
      });
      expect(check.steps[0]?.problems).toEqual([
        'extra: iptables -t nat -D OUTPUT -m comment --comment "zonewright: node-local DNS redirect" -j ZONEWRIGHT-DNS-OUT',
      ]);
      await runNodeSetup({ action: 'install', options: { ...options, cni: false }, runner: box.runner });
      expect(
        (await runNodeSetup({ action: 'check', options: { ...options, cni: false }, runner: box.runner })).ok,
      ).toBe(true);
    });

    it('a loopback target (only with --allow-route-localnet) serves the node but not pods unless route_localnet=1', async () => {
      const loopback = { ...options, cni: false, localDnsAddress: '127.0.0.1' };
      await expect(
        runNodeSetup({ action: 'install', options: loopback, runner: box.runner }),
      ).rejects.toThrow(/refusing --local-dns-address 127\.0\.0\.1: .*route_localnet/);
      const moved = await runNodeSetup({
        action: 'install',
        options: { ...loopback, allowRouteLocalnet: true },
        runner: box.runner,
      });
      expect(moved.steps[0]?.changes).toHaveLength(8); // 4 DNAT rules replaced, jumps kept
      const sysctl = (value: string): Promise<string> =>
        must('nsenter', [
          `--net=${box.nodePath}`,
          '--',
          'sysctl',
          '-w',
          `net.ipv4.conf.cni0.route_localnet=${value}`,
        ]);
      try {
        expect((await query(box, 'node', { server: '169.254.0.2', port: 53, tcp: false })).addresses).toEqual(
          [CAMERA],
        );
        expect((await query(box, 'pod', { server: '169.254.0.2', port: 53, tcp: false })).addresses).toEqual(
          [],
        );
        await sysctl('1');
        expect((await query(box, 'pod', { server: '169.254.0.2', port: 53, tcp: false })).addresses).toEqual([
          CAMERA,
        ]);
      } finally {
        await sysctl('0');
        await runNodeSetup({ action: 'install', options: { ...options, cni: false }, runner: box.runner });
      }
      expect((await runNodeSetup({ action: 'check', options, runner: box.runner })).ok).toBe(true);
    });

    it('remove deletes everything of ours and nothing else; the redirect is gone', async () => {
      // A rule of someone else's that looks a bit like ours must survive.
      await must('nsenter', [
        `--net=${box.nodePath}`,
        '--',
        `iptables-${backend}`,
        '-t',
        'nat',
        '-A',
        'PREROUTING',
        '-d',
        '169.254.0.2/32',
        '-m',
        'comment',
        '--comment',
        'someone else',
        '-j',
        'RETURN',
      ]);
      const others = parseIptablesSave(await natRules(box, backend)).rules.filter(
        (rule) => !ownedPart({ chains: [], rules: [rule] }).rules.length,
      );
      const dry = await runNodeSetup({
        action: 'remove',
        dryRun: true,
        options: { ...options, cni: false },
        runner: box.runner,
      });
      expect(dry.steps[0]?.changes).toHaveLength(4);
      expect(ownedPart(parseIptablesSave(await natRules(box, backend))).rules).toHaveLength(6);

      const started = performance.now();
      const removed = await runNodeSetup({ action: 'remove', options, runner: box.runner });
      measured.removeMs = Math.round(performance.now() - started);
      expect(removed.steps.map((step) => [step.step, step.status])).toEqual([
        ['dns-redirect', 'changed'],
        ['cni', 'changed'],
        ['bridge', 'unchanged'],
      ]);
      // The pod is still attached: the bridge stays, and the report says why.
      expect(removed.steps[2]?.notes.join(' ')).toMatch(/still has ports/);
      const saved = await natRules(box, backend);
      expect(saved).not.toMatch(/zonewright|ZONEWRIGHT/);
      expect(parseIptablesSave(saved).rules).toEqual(others);
      const gone = await query(box, 'node', { server: '169.254.0.2', port: 53, tcp: false });
      expect(gone.addresses).toEqual([]);
      const again = await runNodeSetup({ action: 'remove', options, runner: box.runner });
      expect(again.steps.map((step) => step.status)).toEqual(['unchanged', 'unchanged', 'unchanged']);
      const check = await runNodeSetup({ action: 'check', options, runner: box.runner });
      expect(check.ok).toBe(false);
      expect(check.steps[0]?.problems).toHaveLength(8);
    });
  },
);

describe('iptables backend detection in a netns', () => {
  const name = `zw-nsd-${suffix()}`;
  const runner = createCommandRunner({ prefix: ['nsenter', `--net=/var/run/netns/${name}`, '--'] });
  beforeAll(async () => {
    await must('ip', ['netns', 'add', name]);
  });
  afterAll(async () => {
    await run('ip', ['netns', 'delete', name]);
  });

  it('follows the backend that holds rules, and installs there', async () => {
    const options = { cni: false, iptablesBackend: 'auto' as const };
    const empty = await runNodeSetup({ action: 'check', options, runner });
    expect(empty.iptablesBackend).toEqual({
      backend: 'nft',
      reason: 'no rules anywhere; iptables --version says nf_tables',
    });
    await must('nsenter', [
      `--net=/var/run/netns/${name}`,
      '--',
      'iptables-legacy',
      '-t',
      'filter',
      '-A',
      'INPUT',
      '-j',
      'ACCEPT',
    ]);
    const installed = await runNodeSetup({ action: 'install', options, runner });
    expect(installed.iptablesBackend?.backend).toBe('legacy');
    expect(
      await must('nsenter', [`--net=/var/run/netns/${name}`, '--', 'iptables-legacy-save', '-t', 'nat']),
    ).toContain('ZONEWRIGHT-DNS-PRE');
    expect(
      await must('nsenter', [`--net=/var/run/netns/${name}`, '--', 'iptables-nft-save', '-t', 'nat']),
    ).not.toContain('ZONEWRIGHT');
  });

  it('after a switch to the other backend, check reports our old rules there and remove deletes them', async () => {
    const nft = { cni: false, iptablesBackend: 'nft' as const };
    const check = await runNodeSetup({ action: 'check', options: nft, runner });
    const problems = check.steps[0]?.problems ?? [];
    expect(problems.filter((problem) => problem.startsWith('missing: '))).toHaveLength(8);
    expect(problems.filter((problem) => problem.startsWith('extra in the legacy backend: '))).toHaveLength(4);
    const installed = await runNodeSetup({ action: 'install', options: nft, runner });
    expect(installed.steps[0]?.notes[0]).toMatch(/legacy backend also holds 4 chain\(s\)\/rule\(s\) of ours/);
    const removed = await runNodeSetup({ action: 'remove', options: nft, runner });
    expect(removed.steps[0]?.changes).toHaveLength(8);
    for (const backend of ['nft', 'legacy']) {
      expect(
        await must('nsenter', [
          `--net=/var/run/netns/${name}`,
          '--',
          `iptables-${backend}-save`,
          '-t',
          'nat',
        ]),
      ).not.toMatch(/zonewright|ZONEWRIGHT/);
    }
  });
});
