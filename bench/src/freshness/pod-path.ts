// Pod path: a new pod sandbox is ready (RunPodSandbox returned, real containerd) → CoreDNS (shipped
// Corefile.node) answers its name; `zonewright cri-watch` runs as the node DaemonSet runs it (its args and
// settings.env, the node image's command), plus the watcher's CPU and RSS.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  UdpDnsClient,
  buildPauseImage,
  cpuPercentOver,
  cpuSeconds,
  createNetns,
  freeTcpPort,
  killProcessTree,
  nodeImageCommand,
  processMemory,
  sleep,
  spawnProcess,
  startContainerd,
  startCoreDns,
  waitFor,
} from '@zonewright/testkit';
import type { ContainerdHarness, SpawnedProcess } from '@zonewright/testkit';
import { errorMessage } from '../common/log.js';
import { repoRoot } from '../common/paths.js';
import { round } from '../common/stats.js';
import { ZoneFileObserver } from '../common/zone-observer.js';
import { firstAnswerAt } from './answer-probe.js';
import { summarize } from './samples.js';
import type { FreshnessSample, FreshnessSummary } from './samples.js';
import { adaptArgs, containerArgs, corefileReloadMs, envFile } from './shipped.js';

export interface PodPathSettings {
  readonly sandboxes: number;
  readonly samples: number;
  readonly windowSeconds: number;
}

export interface PodPathResult {
  readonly sandboxes: number;
  readonly reloadMs: number;
  readonly watcherArgs: readonly string[];
  readonly coreDnsVersion: string;
  readonly freshness: FreshnessSummary;
  readonly watcher: {
    readonly cpuPercentDuringSamples: number;
    readonly cpuPercentQuiet: number;
    readonly quietWindowSeconds: number;
    readonly rssMaxMiB: number;
    readonly rssAfterMiB: number;
  };
}

const SETTINGS_ENV = 'deploy/node/base/settings.env';

async function startShippedCriWatch(
  containerd: ContainerdHarness,
  zonesDir: string,
): Promise<{ child: SpawnedProcess; args: string[] }> {
  const settings = envFile(SETTINGS_ENV);
  const port = await freeTcpPort();
  const args = adaptArgs(containerArgs('deploy/node/base/daemonset.yaml', 'cri-watcher'), settings, {
    '--zones-dir': zonesDir,
    '--listen': `127.0.0.1:${port}`,
  });
  const image = nodeImageCommand(repoRoot);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...settings,
    // The DaemonSet mounts the runtime's socket directory at CRI_DIR; here it is the harness's directory.
    CRI_DIR: `unix://${path.dirname(containerd.socketPath)}`,
    CRI_FILE: path.basename(containerd.socketPath),
    NODE_IP: '192.0.2.10',
  };
  delete env.NODE_OPTIONS;
  const child = await spawnProcess(process.execPath, [...image.nodeFlags, image.script, ...args], { env });
  await waitFor(
    async () => {
      if (child.exitStatus() !== undefined) throw new Error(`cri-watch exited:\n${child.output()}`);
      const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      await response?.arrayBuffer();
      return response?.status === 200 ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 50, description: 'cri-watch /readyz' },
  );
  return { child, args };
}

async function backgroundSandboxes(containerd: ContainerdHarness, count: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < count) {
        const index = next++;
        await containerd.runSandbox({
          name: `pod-${index}`,
          namespace: `ns-${index % 5}`,
          hostname: `host-${index}`,
        });
      }
    }),
  );
}

async function sampleNewPods(
  containerd: ContainerdHarness,
  observer: ZoneFileObserver,
  dns: UdpDnsClient,
  samples: number,
  phaseMs: number,
  log: (message: string) => void,
): Promise<{ samples: FreshnessSample[]; timeouts: number }> {
  const results: FreshnessSample[] = [];
  let timeouts = 0;
  for (let index = 0; index < samples; index++) {
    await sleep(Math.random() * phaseMs);
    const owner = `fresh-${index}.fresh.svc`;
    const inZone = observer.waitForState((text) => text.includes(`\n${owner}\t`), 15_000, `hold ${owner}`);
    inZone.catch(() => undefined);
    try {
      const sandbox = await containerd.runSandbox({
        name: `fresh-${index}`,
        namespace: 'fresh',
        hostname: `fresh-${index}`,
      });
      const readyAt = sandbox.readyAtMs - performance.timeOrigin;
      const address = sandbox.ips[0];
      if (address === undefined) throw new Error(`sandbox fresh-${index} has no address`);
      const [zone, answeredAt] = await Promise.all([
        inZone,
        firstAnswerAt(dns, `${owner}.cluster.local`, address, { timeoutMs: 15_000 }),
      ]);
      results.push({ zoneMs: zone.at - readyAt, answerMs: answeredAt - readyAt });
    } catch (error) {
      timeouts++;
      log(errorMessage(error));
    }
  }
  return { samples: results, timeouts };
}

export async function measurePodPath(
  settings: PodPathSettings,
  temp: string,
  defer: (step: () => unknown) => void,
  log: (message: string) => void,
): Promise<PodPathResult> {
  const netns = await createNetns();
  defer(() => netns.delete());
  const pauseDir = path.join(temp, 'pause');
  await mkdir(pauseDir);
  const containerd = await startContainerd({
    netns,
    pauseImage: await buildPauseImage({ dir: pauseDir }),
    ipv6Subnet: false,
    subnet: '10.251.0.0/16',
  });
  defer(() => containerd.cleanup());
  const zonesDir = path.join(temp, 'zones-pod');
  await mkdir(zonesDir);
  const observer = new ZoneFileObserver(zonesDir, 'db.cluster.local', (error) => {
    log(`reading the zone failed: ${errorMessage(error)}`);
  });
  defer(() => {
    observer.close();
  });
  const coreDns = await startCoreDns({
    corefile: 'node',
    zonesDirectory: zonesDir,
    env: { CLUSTER_DOMAIN: envFile(SETTINGS_ENV).CLUSTER_DOMAIN ?? 'cluster.local' },
  });
  defer(() => coreDns.stop());
  const dns = new UdpDnsClient(coreDns.address, coreDns.ports.dns);
  defer(() => {
    dns.close();
  });
  const watcher = await startShippedCriWatch(containerd, zonesDir);
  defer(() => killProcessTree(watcher.child.pid));
  log(`pod path: cri-watch ${watcher.args.join(' ')}; ${settings.sandboxes} background sandboxes`);
  await backgroundSandboxes(containerd, settings.sandboxes);

  const reloadMs = corefileReloadMs('node');
  const pid = watcher.child.pid;
  const rss: number[] = [];
  const sampler = setInterval(() => {
    rss.push(processMemory(pid).rssMiB);
  }, 1000);
  const cpuBefore = cpuSeconds(pid);
  const began = performance.now();
  let sampled: Awaited<ReturnType<typeof sampleNewPods>>;
  try {
    // Random phases of both the poll interval (2 s) and CoreDNS's reload tick.
    sampled = await sampleNewPods(containerd, observer, dns, settings.samples, reloadMs + 2000, log);
  } finally {
    clearInterval(sampler);
  }
  const cpuDuring = ((cpuSeconds(pid) - cpuBefore) / ((performance.now() - began) / 1000)) * 100;
  await sleep(4000);
  const [cpuQuiet = NaN] = await cpuPercentOver([pid], settings.windowSeconds);
  const freshness = summarize(sampled.samples, sampled.timeouts);
  log(`pod ready → answer: ${JSON.stringify(freshness.total)}; watcher ${JSON.stringify(freshness.watcher)}`);
  return {
    sandboxes: settings.sandboxes + settings.samples,
    reloadMs,
    watcherArgs: watcher.args,
    coreDnsVersion: coreDns.binary.version,
    freshness,
    watcher: {
      cpuPercentDuringSamples: round(cpuDuring, 3),
      cpuPercentQuiet: round(cpuQuiet, 3),
      quietWindowSeconds: settings.windowSeconds,
      rssMaxMiB: round(Math.max(0, ...rss), 1),
      rssAfterMiB: round(processMemory(pid).rssMiB, 1),
    },
  };
}
