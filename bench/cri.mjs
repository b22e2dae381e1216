// CRI watcher benchmark (issue 4 targets). Runs the REAL built CLI (`zonewright cri-watch`) against a real
// containerd that the testkit starts inside a network namespace made for this run, and measures in one run:
//   1. resident memory idle (no sandboxes) and with N sandboxes, and CPU % of one core over a window at the 2 s
//      interval — for the node image's command (Dockerfile.cri ENTRYPOINT: the bundle from scripts/bundle.mjs with
//      its node flags, via testkit nodeImageCommand) AND, for comparison, the tsc output with Node's defaults;
//   2. the cost of one PodSandboxStatus per sandbox per interval (what smarter-dns effectively does with
//      `crictl inspectp`), by cri-watcher-child.mjs: watcher and containerd CPU,
//      and the ratio to the CLI's cached mode (tsc output, Node defaults: the same code and flags as the child);
//   3. sandbox ready (RunPodSandbox returned) → the record in the zone file, detected with fs.watch on the zone
//      directory + reading the file, for both CLI processes.
// Progress goes to stderr; the LAST stdout line is the JSON result (with `markdown`) that bench/run.mjs reads.
// Run as root after `npx tsc -b && node scripts/bundle.mjs` (`npm run bench` does both). Counts: ZW_BENCH_CRI_SANDBOXES (100), ZW_BENCH_CRI_WINDOW_SECONDS (60),
// ZW_BENCH_CRI_SAMPLES (12). Smoke run:
//   ZW_BENCH_CRI_SANDBOXES=10 ZW_BENCH_CRI_WINDOW_SECONDS=6 ZW_BENCH_CRI_SAMPLES=3 node --expose-gc bench/cri.mjs
import { readFileSync, watch as watchDirectory } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildPauseImage,
  createNetns,
  killProcessTree,
  nodeImageCommand,
  processTree,
  sleep,
  spawnProcess,
  startContainerd,
  waitFor,
} from '@zonewright/testkit';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const cli = path.join(root, 'packages/cli/bin/zonewright.js');
const child = path.join(here, 'cri-watcher-child.mjs');

function intEnv(name, fallback, min) {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min)
    throw new Error(`${name} must be a whole number ≥ ${min}, got ${text}`);
  return value;
}

const settings = {
  sandboxes: intEnv('ZW_BENCH_CRI_SANDBOXES', 100, 1),
  windowSeconds: intEnv('ZW_BENCH_CRI_WINDOW_SECONDS', 60, 1),
  samples: intEnv('ZW_BENCH_CRI_SAMPLES', 12, 1),
  intervalMs: 2000,
};
if (settings.sandboxes > 250) throw new Error('ZW_BENCH_CRI_SANDBOXES: at most 250');
const image = nodeImageCommand(root);
const IMAGE_FLAGS = image.nodeFlags.join(' ');
const variants = {
  image: { nodeFlags: image.nodeFlags, script: image.script },
  default: { nodeFlags: [], script: cli },
};
const targets = { rssMB: 60, cpuPercent: 1, latencyMs: settings.intervalMs + 100 };
const mb = (mib) => Math.round(mib * 1.048576 * 10) / 10;
const USER_HZ = 100;
const SETTLE_SECONDS = 30;

const log = (message) =>
  process.stderr.write(`[bench cri ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

function cpuTicksOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}
// The process and its descendants (the CLI forks nothing, but count them if it ever does).
const cpuTicks = (pid) => processTree(pid).reduce((sum, p) => sum + cpuTicksOf(p), 0);

// Voluntary context switches of the main thread: how often the event loop went to sleep and woke up.
function wakeups(pid) {
  const match = /voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? 0 : Number(match[1]);
}

function statusKiB(pid, field) {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no ${field} for pid ${pid}`);
  return Number(match[1]);
}
const toMiB = (kib) => Math.round((kib / 1024) * 10) / 10;
const rssMiB = (pid) => toMiB(statusKiB(pid, 'VmRSS'));
// Private memory (RssAnon) vs pages of files (RssFile: the node binary, shared by every node process on the
// host and reclaimable under memory pressure, since they are clean).
const rssSplit = (pid) => ({
  anonMiB: toMiB(statusKiB(pid, 'RssAnon')),
  fileMiB: toMiB(statusKiB(pid, 'RssFile')),
});

async function cpuWindow(pids, seconds) {
  const before = pids.map(cpuTicks);
  const began = process.hrtime.bigint();
  await sleep(seconds * 1000);
  const elapsed = Number(process.hrtime.bigint() - began) / 1e9;
  return pids.map(
    (pid, i) => Math.round(((cpuTicks(pid) - before[i]) / USER_HZ / elapsed) * 100 * 1000) / 1000,
  );
}

async function freePort() {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function zoneText(dir) {
  const names = await readdir(dir).catch(() => []);
  const texts = await Promise.all(
    names.filter((n) => n.startsWith('db.')).map((n) => readFile(path.join(dir, n), 'utf8').catch(() => '')),
  );
  return texts.join('\n');
}

// Node rejects --lite-mode in NODE_OPTIONS ("not allowed in NODE_OPTIONS"), so the flags go on node's command line.
async function startCli(label, endpoint, zonesDir, { nodeFlags, script }) {
  const port = await freePort();
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const proc = await spawnProcess(
    process.execPath,
    [
      ...nodeFlags,
      script,
      'cri-watch',
      '--runtime-endpoint',
      endpoint,
      '--zones-dir',
      zonesDir,
      '--node-ip',
      '192.0.2.10',
      '--interval',
      '2s',
      '--listen',
      `127.0.0.1:${port}`,
      '--log-format',
      'json',
      '--log-level',
      'warn',
    ],
    { env },
  );
  await waitFor(
    async () => {
      if (proc.exitStatus() !== undefined) throw new Error(`${label} CLI exited: ${proc.output()}`);
      const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return response?.status === 200 ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 50, description: `${label} CLI /readyz` },
  );
  return { label, proc, port, zonesDir };
}

// Resolves with Date.now() when the zone in `dir` first contains `needle` (fs.watch + read; checks once at once).
function whenInZone(dir, needle, timeoutMs) {
  return new Promise((resolve, reject) => {
    let done = false;
    let reading = false;
    let again = false;
    const finish = (error, at) => {
      if (done) return;
      done = true;
      watcher.close();
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(at);
    };
    const check = async () => {
      if (reading) {
        again = true;
        return;
      }
      reading = true;
      do {
        again = false;
        const text = await zoneText(dir);
        if (text.includes(needle)) finish(undefined, Date.now());
      } while (again && !done);
      reading = false;
    };
    const watcher = watchDirectory(dir, () => void check());
    const timer = setTimeout(
      () => finish(new Error(`${needle} not in ${dir} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    void check();
  });
}

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return {
    min: sorted[0],
    median:
      sorted.length % 2
        ? sorted[(sorted.length - 1) / 2]
        : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2,
    p90: at(0.9),
    max: sorted.at(-1),
    all: values,
  };
}

const ratio = (a, b) => (b <= 0 ? null : Math.round((a / b) * 10) / 10);

const result = {
  machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
  loadBefore: os.loadavg().map((x) => Math.round(x * 100) / 100),
  date: new Date().toISOString(),
  ...settings,
  imageFlags: IMAGE_FLAGS,
  targets,
};

const netns = await createNetns();
const temps = [];
const tempDir = async (prefix) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  temps.push(dir);
  return dir;
};
let containerd;
const running = new Set();
const stop = async (p) => {
  running.delete(p);
  await killProcessTree(p.proc?.pid ?? p.pid);
};
try {
  const pauseDir = await tempDir('zw-pause-');
  const image = await buildPauseImage({ dir: pauseDir });
  containerd = await startContainerd({
    netns,
    pauseImage: image,
    ipv6Subnet: false,
    subnet: '10.250.0.0/16',
  });
  const containerdPid = containerd.pid();
  if (containerdPid === undefined) throw new Error('containerd has no pid');
  result.containerdStartMs = containerd.lastStartMs();
  log(`containerd up in ${result.containerdStartMs} ms (${containerd.endpoint})`);

  // 1. Both CLI variants side by side, idle (no sandboxes).
  const tscRun = await startCli(
    'default',
    containerd.endpoint,
    await tempDir('zw-bench-zones-'),
    variants.default,
  );
  running.add(tscRun);
  const imageRun = await startCli(
    'image',
    containerd.endpoint,
    await tempDir('zw-bench-zones-'),
    variants.image,
  );
  running.add(imageRun);
  await sleep(5 * settings.intervalMs);
  const idleWindow = Math.max(1, Math.min(20, settings.windowSeconds));
  const wakeupsBefore = [tscRun, imageRun].map((c) => wakeups(c.proc.pid));
  const [tscIdleCpu, imageIdleCpu] = await cpuWindow([tscRun.proc.pid, imageRun.proc.pid], idleWindow);
  const [tscWakeups, imageWakeups] = [tscRun, imageRun].map(
    (c, i) => Math.round(((wakeups(c.proc.pid) - wakeupsBefore[i]) / idleWindow) * 10) / 10,
  );
  result.idle = {
    cpuWindowSeconds: idleWindow,
    default: {
      rssMiB: rssMiB(tscRun.proc.pid),
      ...rssSplit(tscRun.proc.pid),
      cpuPercent: tscIdleCpu,
      wakeupsPerSecond: tscWakeups,
    },
    image: {
      rssMiB: rssMiB(imageRun.proc.pid),
      ...rssSplit(imageRun.proc.pid),
      cpuPercent: imageIdleCpu,
      wakeupsPerSecond: imageWakeups,
    },
  };
  log(`idle: ${JSON.stringify(result.idle)}`);

  // N sandboxes, 4 at a time.
  const began = Date.now();
  const durations = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < settings.sandboxes) {
        const index = next++;
        const sandbox = await containerd.runSandbox({
          name: `pod-${index}`,
          namespace: `ns-${index % 5}`,
          hostname: `host-${index}`,
        });
        durations.push(sandbox.startMs);
      }
    }),
  );
  result.runPodSandboxMs = { ...stats(durations), all: undefined, totalSeconds: (Date.now() - began) / 1000 };
  const last = `host-${settings.sandboxes - 1}.ns-${(settings.sandboxes - 1) % 5}.svc`;
  await Promise.all([tscRun, imageRun].map((c) => whenInZone(c.zonesDir, last, 30_000)));
  log(`${settings.sandboxes} sandboxes in ${result.runPodSandboxMs.totalSeconds} s, both zones hold them`);

  // 3. Ready → record, both CLIs watching; each sample at a random moment of the interval.
  const latency = { default: [], image: [] };
  for (let index = 0; index < settings.samples; index += 1) {
    await sleep(Math.floor(Math.random() * settings.intervalMs));
    const needle = `late-${index}.late.svc`;
    const seen = [tscRun, imageRun].map((c) => whenInZone(c.zonesDir, needle, 15_000));
    const sandbox = await containerd.runSandbox({
      name: `late-${index}`,
      namespace: 'late',
      hostname: `late-${index}`,
    });
    const [atPlain, atLean] = await Promise.all(seen);
    latency.default.push(atPlain - sandbox.readyAtMs);
    latency.image.push(atLean - sandbox.readyAtMs);
  }
  result.readyToRecordMs = { default: stats(latency.default), image: stats(latency.image) };
  result.totalSandboxes = settings.sandboxes + settings.samples;
  log(`ready → record: ${JSON.stringify(result.readyToRecordMs)}`);
  await sleep(2 * settings.intervalMs);
  // "Idle with sandboxes": nothing changes for SETTLE_SECONDS, so the garbage of the bursts above is collected.
  const justAfter = [tscRun, imageRun].map((c) => rssMiB(c.proc.pid));
  await sleep(SETTLE_SECONDS * 1000);
  result.loaded = {
    settleSeconds: SETTLE_SECONDS,
    default: { rssMiB: rssMiB(tscRun.proc.pid), ...rssSplit(tscRun.proc.pid), rssJustAfterMiB: justAfter[0] },
    image: {
      rssMiB: rssMiB(imageRun.proc.pid),
      ...rssSplit(imageRun.proc.pid),
      rssJustAfterMiB: justAfter[1],
    },
  };

  // CPU windows, one watcher at a time so containerd's CPU belongs to it.
  await stop(imageRun);
  const [tscCpu, tscContainerd] = await cpuWindow([tscRun.proc.pid, containerdPid], settings.windowSeconds);
  Object.assign(result.loaded.default, {
    cpuPercent: tscCpu,
    containerdCpuPercent: tscContainerd,
    rssAfterWindowMiB: rssMiB(tscRun.proc.pid),
  });
  log(`tsc output, Node defaults: ${JSON.stringify(result.loaded.default)}`);
  await stop(tscRun);

  const image2 = await startCli(
    'image',
    containerd.endpoint,
    await tempDir('zw-bench-zones-'),
    variants.image,
  );
  running.add(image2);
  await whenInZone(image2.zonesDir, `late-${settings.samples - 1}.late.svc`, 20_000);
  await sleep(2 * settings.intervalMs);
  const [imageCpu, imageContainerd] = await cpuWindow(
    [image2.proc.pid, containerdPid],
    settings.windowSeconds,
  );
  Object.assign(result.loaded.image, {
    cpuPercent: imageCpu,
    containerdCpuPercent: imageContainerd,
    rssAfterWindowMiB: rssMiB(image2.proc.pid),
    note: 'restarted after the latency samples (cold start with all sandboxes)',
  });
  log(`node image command: ${JSON.stringify(result.loaded.image)}`);
  await stop(image2);

  // 2. One PodSandboxStatus per sandbox per interval (library child, default flags).
  const naiveDir = await tempDir('zw-bench-zones-');
  const naiveEnv = { ...process.env, ZW_ENDPOINT: containerd.endpoint };
  delete naiveEnv.NODE_OPTIONS;
  const naive = await spawnProcess(process.execPath, [child], {
    env: { ...naiveEnv, ZW_ZONE_DIR: naiveDir, ZW_INTERVAL_MS: String(settings.intervalMs) },
  });
  running.add(naive);
  await whenInZone(naiveDir, `late-${settings.samples - 1}.late.svc`, 20_000);
  await sleep(2 * settings.intervalMs);
  const [naiveCpu, naiveContainerd] = await cpuWindow([naive.pid, containerdPid], settings.windowSeconds);
  result.statusEveryInterval = {
    cpuPercent: naiveCpu,
    containerdCpuPercent: naiveContainerd,
    rssMiB: rssMiB(naive.pid),
  };
  log(`status every interval: ${JSON.stringify(result.statusEveryInterval)}`);
  await stop(naive);
  const cached = result.loaded.default;
  result.ratioStatusEveryIntervalOverCached = {
    watcher: ratio(naiveCpu, cached.cpuPercent),
    containerd: ratio(naiveContainerd, cached.containerdCpuPercent),
    total: ratio(naiveCpu + naiveContainerd, cached.cpuPercent + cached.containerdCpuPercent),
  };
} finally {
  for (const p of running) await killProcessTree(p.proc?.pid ?? p.pid).catch((e) => log(String(e)));
  if (containerd !== undefined) await containerd.cleanup().catch((e) => log(`containerd cleanup: ${e}`));
  await netns.delete().catch((e) => log(`netns delete: ${e}`));
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
}
result.loadAfter = os.loadavg().map((x) => Math.round(x * 100) / 100);

const met = (ok) => (ok ? 'met' : 'NOT met');
const r = result;
const loadedImageMiB = Math.max(r.loaded.image.rssMiB, r.loaded.image.rssAfterWindowMiB);
const lat = (s) => `${s.min} / ${s.median} / ${s.p90} / ${s.max} ms`;
result.markdown = [
  '## CRI watcher (issue 4)',
  '',
  `Machine: ${r.machine}; load average ${r.loadBefore.join(' ')} before, ${r.loadAfter.join(' ')} after (2 cores shared with other`,
  `engineers' work). Date: ${r.date}. Real containerd 1.6 (testkit, own netns, bridge CNI), \`zonewright cri-watch --interval 2s\`,`,
  'RSS from /proc VmRSS, CPU = utime+stime over the window, wakeups = voluntary context switches of the main thread.',
  `"node image" = the node image's ENTRYPOINT (Dockerfile.cri): \`node ${IMAGE_FLAGS} zonewright.js\` on the bundle from`,
  '`scripts/bundle.mjs`; "tsc output" = `node packages/cli/bin/zonewright.js` on the `tsc -b` output with Node\'s defaults,',
  `for comparison. ${r.sandboxes} sandboxes, then ${r.samples} more for the latency samples (${r.totalSandboxes} during the CPU windows of`,
  `${r.windowSeconds} s; idle CPU window ${r.idle.cpuWindowSeconds} s). Both run side by side in this one run.`,
  '',
  '| measurement | node image | tsc output, Node defaults |',
  '|---|---:|---:|',
  `| RSS idle, no sandboxes | ${r.idle.image.rssMiB} MiB (${mb(r.idle.image.rssMiB)} MB) | ${r.idle.default.rssMiB} MiB (${mb(r.idle.default.rssMiB)} MB) |`,
  `| of which private (RssAnon) / node binary and other files (RssFile) | ${r.idle.image.anonMiB} / ${r.idle.image.fileMiB} MiB | ${r.idle.default.anonMiB} / ${r.idle.default.fileMiB} MiB |`,
  `| CPU idle, no sandboxes | ${r.idle.image.cpuPercent} % | ${r.idle.default.cpuPercent} % |`,
  `| event-loop wakeups idle | ${r.idle.image.wakeupsPerSecond} /s | ${r.idle.default.wakeupsPerSecond} /s |`,
  `| RSS with ${r.totalSandboxes} sandboxes, idle ${r.loaded.settleSeconds} s after the last change | ${r.loaded.image.rssMiB} MiB (${mb(r.loaded.image.rssMiB)} MB) | ${r.loaded.default.rssMiB} MiB (${mb(r.loaded.default.rssMiB)} MB) |`,
  `| of which RssAnon / RssFile | ${r.loaded.image.anonMiB} / ${r.loaded.image.fileMiB} MiB | ${r.loaded.default.anonMiB} / ${r.loaded.default.fileMiB} MiB |`,
  `| RSS right after the last change; after the CPU window (restarted process) | ${r.loaded.image.rssJustAfterMiB}; ${r.loaded.image.rssAfterWindowMiB} MiB | ${r.loaded.default.rssJustAfterMiB}; ${r.loaded.default.rssAfterWindowMiB} MiB |`,
  `| watcher CPU with ${r.totalSandboxes} sandboxes | ${r.loaded.image.cpuPercent} % | ${r.loaded.default.cpuPercent} % |`,
  `| containerd CPU meanwhile | ${r.loaded.image.containerdCpuPercent} % | ${r.loaded.default.containerdCpuPercent} % |`,
  `| ready → record, min / median / p90 / max (${r.samples} samples) | ${lat(r.readyToRecordMs.image)} | ${lat(r.readyToRecordMs.default)} |`,
  '',
  `One verbose PodSandboxStatus per sandbox per interval (what smarter-dns does via \`crictl inspectp\`, here in-process,`,
  `no forks; library child on the tsc output, Node defaults): watcher ${r.statusEveryInterval.cpuPercent} %, containerd ${r.statusEveryInterval.containerdCpuPercent} %, RSS ${r.statusEveryInterval.rssMiB} MiB.`,
  `Ratio to the CLI's cached mode with the same code and flags (tsc output): watcher ×${r.ratioStatusEveryIntervalOverCached.watcher}, containerd ×${r.ratioStatusEveryIntervalOverCached.containerd}, total ×${r.ratioStatusEveryIntervalOverCached.total}.`,
  `RunPodSandbox: median ${r.runPodSandboxMs.median} ms, max ${r.runPodSandboxMs.max} ms; ${r.sandboxes} in ${r.runPodSandboxMs.totalSeconds} s (4 at a time).`,
  '',
  'Targets (judged on the node image, which is what the DaemonSet runs; 60 MB read as SI megabytes, the stricter reading):',
  `- RSS ≤ ${targets.rssMB} MB idle: **${met(mb(r.idle.image.rssMiB) <= targets.rssMB)}** (${mb(r.idle.image.rssMiB)} MB = ${r.idle.image.rssMiB} MiB without sandboxes). With ${r.totalSandboxes} sandboxes, idle (the larger of the settled and the restarted process): ${mb(loadedImageMiB)} MB = ${loadedImageMiB} MiB (**${met(mb(loadedImageMiB) <= targets.rssMB)}** read as SI megabytes, **${met(loadedImageMiB <= targets.rssMB)}** read as MiB). tsc output with Node defaults: ${mb(r.idle.default.rssMiB)} MB idle.`,
  `- CPU ≤ ${targets.cpuPercent} % of one core with ${r.totalSandboxes} sandboxes at 2 s: **${met(r.loaded.image.cpuPercent <= targets.cpuPercent)}** (${r.loaded.image.cpuPercent} %; tsc output ${r.loaded.default.cpuPercent} %).`,
  `- Ready → record ≤ ${targets.latencyMs} ms (max of ${r.samples}): **${met(r.readyToRecordMs.image.max <= targets.latencyMs)}** (${r.readyToRecordMs.image.max} ms; tsc output ${r.readyToRecordMs.default.max} ms).`,
].join('\n');
process.stdout.write(`${JSON.stringify(result)}\n`);
