// Benchmark of the CRI watcher against a real containerd (run as root after `npm run build`):
//   node bench/cri-library.mjs [sandboxes=100] [windowSeconds=60]
// Prints JSON: watcher RSS idle and with N sandboxes, CPU of the watcher and of containerd over a window at a
// 2 s interval for the cached watcher and for one PodSandboxStatus per sandbox per interval, and the time from
// sandbox ready to record in the zone file.
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildPauseImage,
  createNetns,
  killProcessTree,
  spawnProcess,
  startContainerd,
  waitFor,
} from '@zonewright/testkit';

const SANDBOXES = Number(process.argv[2] ?? '100');
const WINDOW_MS = Number(process.argv[3] ?? '60') * 1000;
const INTERVAL_MS = 2000;
const CHILD = fileURLToPath(new URL('./cri-watcher-child.mjs', import.meta.url));
const TICKS = 100; // USER_HZ

function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function rssMiB(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? NaN : Math.round((Number(match[1]) / 1024) * 10) / 10;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function zoneNames(file) {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text;
}

// Node flags that keep the watcher under 60 MB (measured below against the defaults).
const LEAN_FLAGS = ['--lite-mode', '--max-semi-space-size=1'];

async function startChild(mode, endpoint, zoneDir, flags = []) {
  const child = await spawnProcess(process.execPath, [...flags, CHILD], {
    env: {
      ...process.env,
      MODE: mode,
      ZW_ENDPOINT: endpoint,
      ZW_ZONE_DIR: zoneDir,
      ZW_INTERVAL_MS: String(INTERVAL_MS),
    },
  });
  await waitFor(() => (child.output().includes('ready') ? true : undefined), {
    timeoutMs: 20_000,
    description: 'watcher child',
  });
  return child;
}

async function cpuWindow(pids) {
  const before = pids.map(cpuTicks);
  const began = Date.now();
  await sleep(WINDOW_MS);
  const seconds = (Date.now() - began) / 1000;
  return pids.map(
    (pid, index) => Math.round(((cpuTicks(pid) - before[index]) / TICKS / seconds) * 100 * 1000) / 1000,
  );
}

const result = { sandboxes: SANDBOXES, windowSeconds: WINDOW_MS / 1000, intervalMs: INTERVAL_MS };
const netns = await createNetns();
const pauseDir = await mkdtemp(join(tmpdir(), 'zw-pause-'));
const zoneDir = await mkdtemp(join(tmpdir(), 'zw-bench-zones-'));
const zoneFile = join(zoneDir, 'db.cluster.local');
let containerd;
let child;
try {
  const image = await buildPauseImage({ dir: pauseDir });
  containerd = await startContainerd({
    netns,
    pauseImage: image,
    ipv6Subnet: false,
    subnet: '10.250.0.0/16',
  });
  result.containerdStartMs = containerd.lastStartMs();
  const containerdPid = containerd.pid();

  child = await startChild('cached', containerd.endpoint, zoneDir, LEAN_FLAGS);
  await sleep(4 * INTERVAL_MS);
  result.watcherRssIdleNoSandboxesMiB = { leanFlags: rssMiB(child.pid) };
  await killProcessTree(child.pid);
  child = await startChild('cached', containerd.endpoint, zoneDir);
  await sleep(4 * INTERVAL_MS);
  result.watcherRssIdleNoSandboxesMiB.defaultFlags = rssMiB(child.pid);
  result.leanFlags = LEAN_FLAGS.join(' ');

  // Create the sandboxes, 4 at a time.
  const began = Date.now();
  const starts = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < SANDBOXES) {
        const index = next++;
        const sandbox = await containerd.runSandbox({
          name: `pod-${index}`,
          namespace: `ns-${index % 5}`,
          hostname: `host-${index}`,
        });
        starts.push(sandbox.startMs);
      }
    }),
  );
  starts.sort((a, b) => a - b);
  result.runPodSandboxMs = {
    median: starts[Math.floor(starts.length / 2)],
    max: starts.at(-1),
    totalSeconds: (Date.now() - began) / 1000,
  };
  await waitFor(
    async () => ((await zoneNames(zoneFile)).includes(`host-${SANDBOXES - 1}.`) ? true : undefined),
    {
      timeoutMs: 30_000,
      description: 'all sandboxes in the zone',
    },
  );
  await sleep(2 * INTERVAL_MS);

  // Ready -> record latency, 10 sandboxes one after the other at random moments of the interval.
  const latencies = [];
  for (let index = 0; index < 10; index += 1) {
    await sleep(Math.floor(Math.random() * INTERVAL_MS));
    const sandbox = await containerd.runSandbox({
      name: `late-${index}`,
      namespace: 'late',
      hostname: `late-${index}`,
    });
    await waitFor(
      async () => ((await zoneNames(zoneFile)).includes(`late-${index}.late.svc`) ? true : undefined),
      {
        timeoutMs: 10_000,
        intervalMs: 5,
        description: `late-${index} in the zone`,
      },
    );
    latencies.push(Date.now() - sandbox.readyAtMs);
  }
  latencies.sort((a, b) => a - b);
  result.readyToRecordMs = { min: latencies[0], median: latencies[5], max: latencies.at(-1), all: latencies };
  const total = SANDBOXES + 10;
  result.totalSandboxes = total;

  const [cachedWatcherCpu, cachedContainerdCpu] = await cpuWindow([child.pid, containerdPid]);
  result.cached = {
    watcherCpuPercent: cachedWatcherCpu,
    containerdCpuPercent: cachedContainerdCpu,
    watcherRssMiB: rssMiB(child.pid),
  };
  await killProcessTree(child.pid);

  // The same with the lean Node flags; the zone is removed first to prove this watcher writes it.
  await rm(zoneFile, { force: true });
  child = await startChild('cached', containerd.endpoint, zoneDir, LEAN_FLAGS);
  await waitFor(async () => ((await zoneNames(zoneFile)).includes('late-9.late.svc') ? true : undefined), {
    timeoutMs: 20_000,
    description: 'the lean watcher to write the zone',
  });
  await sleep(2 * INTERVAL_MS);
  const [leanWatcherCpu, leanContainerdCpu] = await cpuWindow([child.pid, containerdPid]);
  result.cachedLeanFlags = {
    watcherCpuPercent: leanWatcherCpu,
    containerdCpuPercent: leanContainerdCpu,
    watcherRssMiB: rssMiB(child.pid),
  };
  await killProcessTree(child.pid);

  child = await startChild('status-every-interval', containerd.endpoint, zoneDir);
  await sleep(2 * INTERVAL_MS);
  const [naiveWatcherCpu, naiveContainerdCpu] = await cpuWindow([child.pid, containerdPid]);
  result.statusEveryInterval = {
    watcherCpuPercent: naiveWatcherCpu,
    containerdCpuPercent: naiveContainerdCpu,
    watcherRssMiB: rssMiB(child.pid),
  };
  const ratio = (a, b) => (b === 0 ? null : Math.round((a / b) * 10) / 10);
  result.ratioStatusEveryIntervalOverCached = {
    watcher: ratio(naiveWatcherCpu, cachedWatcherCpu),
    containerd: ratio(naiveContainerdCpu, cachedContainerdCpu),
    total: ratio(naiveWatcherCpu + naiveContainerdCpu, cachedWatcherCpu + cachedContainerdCpu),
  };
} finally {
  if (child !== undefined) await killProcessTree(child.pid).catch(() => undefined);
  if (containerd !== undefined) await containerd.cleanup().catch((error) => console.error(error));
  await netns.delete();
  await rm(pauseDir, { recursive: true, force: true });
  await rm(zoneDir, { recursive: true, force: true });
}
console.log(JSON.stringify(result, null, 2));
