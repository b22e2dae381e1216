/**
 * Node start, in the order the node DaemonSet gives (deploy/node/overlays/containerd, built with kustomize):
 * its init containers one after the other, then its containers, each run with the manifest's args and
 * settings (only paths, the runtime socket and names that must be unique on this machine are overridden),
 * inside a "node" netns with a real containerd (testkit) and a real CoreDNS running the shipped
 * Corefile.node (testkit startCoreDns). From the moment node-setup has installed the 169.254.0.2 redirect, a
 * querier on the node asks for a cluster-domain name without pause, through the redirect.
 *
 * The promise (docs/adr/0010): a cluster-domain name never gets SERVFAIL; the first answer is already the
 * authoritative NXDOMAIN of a complete zone (written by the first-zone init container, also with no pod at
 * all), and a pod started afterwards is answered from the node and from another pod.
 *
 * The last test shows what the first-zone init container prevents: Corefile.node without a zone file answers
 * SERVFAIL while /ready is 200.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildPauseImage,
  checkWithMiekg,
  cleanUp,
  coreDnsForTests,
  createNetns,
  dig,
  DigError,
  findRepoRoot,
  killProcessTree,
  runCommand,
  sleep,
  spawnProcess,
  startContainerd,
  startCoreDns,
  waitFor,
} from '@zonewright/testkit';
import type {
  ContainerdHarness,
  CoreDnsServer,
  DigAnswer,
  Netns,
  RunningSandbox,
  SpawnedProcess,
} from '@zonewright/testkit';
import { CLI_ENTRYPOINT, ensureCliBuilt } from '../deploy/lib/cli.js';
import { buildKustomization } from '../deploy/lib/kustomize.js';
import { containerEnvironment, workloads } from '../deploy/lib/pod.js';
import type { Container, PodSpec } from '../deploy/lib/pod.js';

const coreDns = coreDnsForTests('integration/coredns/node-start.test.ts');
const describeCoreDns = coreDns ? describe : describe.skip;

const REPO = findRepoRoot();
const NODE_IP = '10.250.0.2';
const suffix = (): string => randomBytes(3).toString('hex');

/** Args with `$(VAR)` expanded as the kubelet does and `--name=value` overrides applied. */
function argsFor(
  item: Container,
  env: ReadonlyMap<string, string | undefined>,
  overrides: Record<string, string>,
) {
  const expanded = (item.args ?? []).map((arg) =>
    arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env.get(name) ?? whole),
  );
  const names = Object.keys(overrides);
  return [
    ...expanded.filter((arg) => !names.some((name) => arg.startsWith(`--${name}=`))),
    ...names.map((name) => `--${name}=${overrides[name] ?? ''}`),
  ];
}

function processEnv(env: ReadonlyMap<string, string | undefined>): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
  for (const [name, value] of env) if (value !== undefined) result[name] = value;
  return result;
}

interface Observation {
  readonly atMs: number;
  /** 'no answer' when nothing answered within 1 s (nothing listens behind the redirect yet). */
  readonly status: string;
  readonly answer?: DigAnswer;
}

/** The netns containerd made for a sandbox: the `cni-…` namespace whose eth0 has the sandbox's IP. */
async function sandboxNetns(ip: string): Promise<string> {
  for (const entry of await readdir('/var/run/netns')) {
    if (!entry.startsWith('cni-')) continue;
    const result = await runCommand('ip', ['-n', entry, '-4', '-o', 'addr', 'show', 'dev', 'eth0'], {
      timeoutMs: 5000,
    });
    if (result.code === 0 && result.stdout.includes(` ${ip}/`)) return `/var/run/netns/${entry}`;
  }
  throw new Error(`no network namespace has ${ip} on eth0`);
}

describeCoreDns('node start in DaemonSet order: never SERVFAIL for a cluster-domain name', () => {
  let pod: PodSpec;
  let objects: Awaited<ReturnType<typeof buildKustomization>> = [];
  let netns: Netns | undefined;
  let containerd: ContainerdHarness | undefined;
  let coredns: CoreDnsServer | undefined;
  let emptyCoreDns: CoreDnsServer | undefined;
  let watcher: SpawnedProcess | undefined;
  let work = '';
  let pauseDir = '';
  const networkName = `zw-start-${suffix()}`;
  const sandboxes: RunningSandbox[] = [];
  const observations: Observation[] = [];
  const measured: Record<string, number | string> = {};

  const node = (): Netns => {
    if (netns === undefined) throw new Error('no node netns');
    return netns;
  };
  const runtime = (): ContainerdHarness => {
    if (containerd === undefined) throw new Error('containerd did not start');
    return containerd;
  };

  beforeAll(async () => {
    await ensureCliBuilt(REPO);
    objects = await buildKustomization(REPO, 'deploy/node/overlays/containerd');
    const spec = workloads(objects)[0]?.spec.template.spec;
    if (spec === undefined) throw new Error('no node DaemonSet');
    pod = spec;
    netns = await createNetns();
    // A real node has a default route; OUTPUT DNAT needs a route to 169.254.0.2 before it applies.
    await node().addVethPair(`zwsa${suffix()}`, `zwsb${suffix()}`, { name: `${NODE_IP}/24` });
    await node().run('ip', ['route', 'add', 'default', 'via', '10.250.0.1']);
    work = await mkdtemp(join(tmpdir(), 'zw-node-start-'));
    pauseDir = await mkdtemp(join(tmpdir(), 'zw-pause-'));
    const image = await buildPauseImage({ dir: pauseDir });
    containerd = await startContainerd({ netns: node(), pauseImage: image, ipv6Subnet: false });
  }, 180_000);

  afterAll(async () => {
    console.log(`node start measurements: ${JSON.stringify(measured)}`);
    await cleanUp('node start', [
      () => (watcher === undefined ? undefined : killProcessTree(watcher.pid)),
      () => coredns?.stop(),
      () => emptyCoreDns?.stop(),
      () => containerd?.cleanup(),
      () => netns?.delete(),
      () => rm(join('/var/lib/cni/networks', networkName), { recursive: true, force: true }),
      ...[work, pauseDir].map((dir) => () => dir === '' || rm(dir, { recursive: true, force: true })),
    ]);
  }, 120_000);

  it('runs init containers, then containers, as the manifest orders them; no query ever gets SERVFAIL', async () => {
    const zonesDir = join(work, 'zones');
    await mkdir(zonesDir);
    const envOf = (item: Container): Map<string, string | undefined> => {
      const env = new Map(containerEnvironment(item, objects));
      if (env.has('NODE_IP')) env.set('NODE_IP', NODE_IP); // fieldRef status.hostIP
      return env;
    };
    const corednsContainer = pod.containers.find((item) => item.name === 'coredns');
    if (corednsContainer === undefined) throw new Error('no coredns container in the node DaemonSet');
    const settings = envOf(corednsContainer);
    const clusterDomain = settings.get('CLUSTER_DOMAIN') ?? '';
    const clusterDns = settings.get('CLUSTER_DNS') ?? '';
    expect(clusterDomain).not.toBe('');
    expect(clusterDns).not.toBe('');
    const probeName = `not-a-pod-${suffix()}.${clusterDomain}`;
    const started = Date.now();
    let querying = true;
    let querier: Promise<void> | undefined;
    const startQuerier = (): void => {
      querier = (async () => {
        while (querying) {
          const atMs = Date.now() - started;
          try {
            const answer = await dig({
              server: clusterDns,
              port: 53,
              name: probeName,
              type: 'A',
              tries: 1,
              timeSeconds: 1,
              netns: node().path,
            });
            observations.push({ atMs, status: answer.status, answer });
          } catch (error) {
            if (!(error instanceof DigError)) throw error;
            observations.push({ atMs, status: 'no answer' });
            await sleep(20);
          }
        }
      })();
    };
    const cniConfDir = join(runtime().dir, 'cni');
    const order: string[] = [];

    // Init containers: one after the other, each must succeed before the next starts.
    for (const item of pod.initContainers ?? []) {
      order.push(`init ${item.name}`);
      const env = envOf(item);
      let command: string[];
      if (item.name === 'node-setup') {
        command = [
          'nsenter',
          `--net=${node().path}`,
          '--',
          process.execPath,
          CLI_ENTRYPOINT,
          ...argsFor(item, env, {
            'cni-conf-dir': cniConfDir,
            // Sorts before the harness's own conflist: containerd loads only the first file.
            'cni-conf-name': '05-zonewright.conflist',
            'cni-network-name': networkName,
            'cni-bridge': `zwb${suffix()}`,
            'log-format': 'text',
          }),
        ];
      } else if (item.name === 'first-zone') {
        command = [
          process.execPath,
          CLI_ENTRYPOINT,
          ...argsFor(item, env, {
            'zones-dir': zonesDir,
            'runtime-endpoint': runtime().endpoint,
            'log-format': 'text',
          }),
        ];
      } else {
        throw new Error(`init container ${item.name} is new: teach this test what it does`);
      }
      const [file = '', ...args] = command;
      const result = await runCommand(file, args, { cwd: REPO, env: processEnv(env), timeoutMs: 60_000 });
      expect({
        container: item.name,
        code: result.code,
        output: result.code === 0 ? '' : result.stdout + result.stderr,
      }).toEqual({
        container: item.name,
        code: 0,
        output: '',
      });
      if (item.name === 'node-setup') {
        // The redirect exists from now on: query through it without pause.
        startQuerier();
        measured['node-setup done, ms'] = Date.now() - started;
        // The harness's containerd reads the CNI config only at start (not part of the manifest's order).
        await runtime().restart();
      }
      if (item.name === 'first-zone') {
        measured['first-zone done, ms'] = Date.now() - started;
        // No pod exists yet: the zone is still written, complete (SOA, NS and its glue).
        const zone = await checkWithMiekg(clusterDomain, join(zonesDir, `db.${clusterDomain}`));
        expect(zone.ok).toBe(true);
        expect(zone.soaSerial).toBeGreaterThan(0);
      }
    }
    expect(order[0]).toBe('init node-setup');
    expect(order).toContain('init first-zone');

    // Containers: the kubelet starts them in listed order without waiting for one another.
    for (const item of pod.containers) {
      order.push(item.name);
      const env = envOf(item);
      if (item.name === 'cri-watcher') {
        watcher = await spawnProcess(
          process.execPath,
          [
            CLI_ENTRYPOINT,
            ...argsFor(item, env, {
              'zones-dir': zonesDir,
              'runtime-endpoint': runtime().endpoint,
              listen: '',
              'log-format': 'text',
            }),
          ],
          { cwd: REPO, env: processEnv(env) },
        );
      } else if (item.name === 'coredns') {
        coredns = await startCoreDns({
          corefile: 'node',
          zonesDirectory: zonesDir,
          netns: node(),
          address: env.get('LOCAL_DNS_ADDRESS') ?? '',
          ports: { dns: Number(env.get('LOCAL_DNS_PORT')) },
          env: { CLUSTER_DOMAIN: clusterDomain },
        });
        measured['CoreDNS started, ms'] = Date.now() - started;
      } else {
        throw new Error(`container ${item.name} is new: teach this test what it does`);
      }
    }
    expect(order.slice(-2).sort()).toEqual(['coredns', 'cri-watcher']);
    const server = coredns;
    if (server === undefined) throw new Error('no coredns container in the manifest');
    await server.waitReady();

    // A pod started now is answered through the redirect, from the node and from another pod.
    const camera = await runtime().runSandbox({ name: 'camera', namespace: 'default', hostname: 'camera' });
    sandboxes.push(camera);
    const cameraIp = camera.ips[0] ?? '';
    const podStarted = Date.now();
    await waitFor(
      async () => {
        try {
          const answer = await dig({
            server: clusterDns,
            port: 53,
            name: `camera.${clusterDomain}`,
            type: 'A',
            tries: 1,
            netns: node().path,
          });
          expect(answer.status).not.toBe('SERVFAIL');
          return answer.answers.some((record) => record.value === cameraIp) ? true : undefined;
        } catch (error) {
          if (error instanceof DigError) return undefined;
          throw error;
        }
      },
      { timeoutMs: 20_000, intervalMs: 50, description: 'camera to be answered through the redirect' },
    );
    measured['sandbox ready → answered through 169.254.0.2, ms'] = Date.now() - podStarted;
    const sensor = await runtime().runSandbox({ name: 'sensor', namespace: 'default', hostname: 'sensor' });
    sandboxes.push(sensor);
    const fromPod = await dig({
      server: clusterDns,
      port: 53,
      name: `camera.default.svc.${clusterDomain}`,
      type: 'A',
      netns: await sandboxNetns(sensor.ips[0] ?? ''),
    });
    expect(fromPod.answers.map((record) => record.value)).toEqual([cameraIp]);

    querying = false;
    await querier;
    const answered = observations.filter((item) => item.status !== 'no answer');
    const statuses = [...new Set(observations.map((item) => item.status))].sort();
    measured['queries through the redirect'] = observations.length;
    measured['of them unanswered (before CoreDNS listened)'] = observations.length - answered.length;
    measured['first answer at, ms'] = answered[0]?.atMs ?? -1;
    expect(statuses).not.toContain('SERVFAIL');
    expect(answered.length).toBeGreaterThan(0);
    // Every answer, the first one included, is the zone's authoritative NXDOMAIN with its SOA.
    for (const item of answered) {
      expect({ at: item.atMs, status: item.status, aa: item.answer?.aa }).toEqual({
        at: item.atMs,
        status: 'NXDOMAIN',
        aa: true,
      });
      expect(item.answer?.authority.map((record) => record.type)).toEqual(['SOA']);
    }
    // No answer means no listener yet (the resolver tries its next server), never a wrong answer: once
    // CoreDNS answered, every later query was answered.
    const firstAnswered = answered[0] === undefined ? -1 : observations.indexOf(answered[0]);
    expect(observations.slice(firstAnswered).filter((item) => item.status === 'no answer')).toEqual([]);
  }, 180_000);

  it('without the first-zone init container, Corefile.node answers SERVFAIL while /ready is 200', async () => {
    const emptyZones = join(work, 'empty-zones');
    await mkdir(emptyZones);
    expect(existsSync(join(emptyZones, 'db.cluster.local'))).toBe(false);
    emptyCoreDns = await startCoreDns({
      corefile: 'node',
      zonesDirectory: emptyZones,
      netns: node(),
      address: '127.0.0.1',
      env: { CLUSTER_DOMAIN: 'cluster.local' },
    });
    await emptyCoreDns.waitReady();
    const answer = await emptyCoreDns.query('camera.cluster.local', 'A');
    expect(answer.status).toBe('SERVFAIL');
    expect(emptyCoreDns.logLines().join('\n')).toMatch(/no next plugin found/);
  }, 60_000);
});
