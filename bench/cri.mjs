// CRI watcher benchmark (issue 4 targets). Runs the REAL built CLI (`zonewright cri-watch`) against a real
// containerd that the testkit starts inside a network namespace made for this run, and measures in one run:
//   1. resident memory idle (no sandboxes) and with N sandboxes, and CPU % of one core over a window at the 2 s
//      interval — with Node's defaults AND with `node --lite-mode --max-semi-space-size=1` (not NODE_OPTIONS: Node refuses it there);
//   2. the cost of one PodSandboxStatus per sandbox per interval (what smarter-dns effectively does with
//      `crictl inspectp`), by cri-watcher-child.mjs: watcher and containerd CPU,
//      and the ratio to the CLI's cached mode (default flags);
//   3. sandbox ready (RunPodSandbox returned) → the record in the zone file, detected with fs.watch on the zone
//      directory + reading the file, for both CLI processes.
// Progress goes to stderr; the LAST stdout line is the JSON result (with `markdown`) that bench/run.mjs reads.
// Run as root after `npx tsc -b`. Counts: ZW_BENCH_CRI_SANDBOXES (100), ZW_BENCH_CRI_WINDOW_SECONDS (60),
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
const LEAN_FLAGS = (process.env.ZW_BENCH_CRI_LEAN_FLAGS ?? '--lite-mode --max-semi-space-size=1')
  .split(' ')
  .filter(Boolean);
const LEAN = LEAN_FLAGS.join(' ');
const targets = { rssMiB: 60, cpuPercent: 1, latencyMs: settings.intervalMs + 100 };
const USER_HZ = 100;

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

function rssMiB(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Math.round((Number(match[1]) / 1024) * 10) / 10;
}

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
async function startCli(label, endpoint, zonesDir, nodeFlags) {
  const port = await freePort();
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const proc = await spawnProcess(
    process.execPath,
    [
      ...nodeFlags,
      cli,
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
  leanFlags: LEAN,
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
  const plain = await startCli('default', containerd.endpoint, await tempDir('zw-bench-zones-'), []);
  running.add(plain);
  const lean = await startCli('lean', containerd.endpoint, await tempDir('zw-bench-zones-'), LEAN_FLAGS);
  running.add(lean);
  await sleep(5 * settings.intervalMs);
  const idleWindow = Math.max(1, Math.min(20, settings.windowSeconds));
  const [plainIdleCpu, leanIdleCpu] = await cpuWindow([plain.proc.pid, lean.proc.pid], idleWindow);
  result.idle = {
    cpuWindowSeconds: idleWindow,
    default: { rssMiB: rssMiB(plain.proc.pid), cpuPercent: plainIdleCpu },
    lean: { rssMiB: rssMiB(lean.proc.pid), cpuPercent: leanIdleCpu },
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
  await Promise.all([plain, lean].map((c) => whenInZone(c.zonesDir, last, 30_000)));
  log(`${settings.sandboxes} sandboxes in ${result.runPodSandboxMs.totalSeconds} s, both zones hold them`);

  // 3. Ready → record, both CLIs watching; each sample at a random moment of the interval.
  const latency = { default: [], lean: [] };
  for (let index = 0; index < settings.samples; index += 1) {
    await sleep(Math.floor(Math.random() * settings.intervalMs));
    const needle = `late-${index}.late.svc`;
    const seen = [plain, lean].map((c) => whenInZone(c.zonesDir, needle, 15_000));
    const sandbox = await containerd.runSandbox({
      name: `late-${index}`,
      namespace: 'late',
      hostname: `late-${index}`,
    });
    const [atPlain, atLean] = await Promise.all(seen);
    latency.default.push(atPlain - sandbox.readyAtMs);
    latency.lean.push(atLean - sandbox.readyAtMs);
  }
  result.readyToRecordMs = { default: stats(latency.default), lean: stats(latency.lean) };
  result.totalSandboxes = settings.sandboxes + settings.samples;
  log(`ready → record: ${JSON.stringify(result.readyToRecordMs)}`);
  await sleep(2 * settings.intervalMs);
  result.loaded = { default: { rssMiB: rssMiB(plain.proc.pid) }, lean: { rssMiB: rssMiB(lean.proc.pid) } };

  // CPU windows, one watcher at a time so containerd's CPU belongs to it.
  await stop(lean);
  const [plainCpu, plainContainerd] = await cpuWindow(
    [plain.proc.pid, containerdPid],
    settings.windowSeconds,
  );
  Object.assign(result.loaded.default, {
    cpuPercent: plainCpu,
    containerdCpuPercent: plainContainerd,
    rssAfterWindowMiB: rssMiB(plain.proc.pid),
  });
  log(`default flags, cached: ${JSON.stringify(result.loaded.default)}`);
  await stop(plain);

  const lean2 = await startCli('lean', containerd.endpoint, await tempDir('zw-bench-zones-'), LEAN_FLAGS);
  running.add(lean2);
  await whenInZone(lean2.zonesDir, `late-${settings.samples - 1}.late.svc`, 20_000);
  await sleep(2 * settings.intervalMs);
  const [leanCpu, leanContainerd] = await cpuWindow([lean2.proc.pid, containerdPid], settings.windowSeconds);
  Object.assign(result.loaded.lean, {
    cpuPercent: leanCpu,
    containerdCpuPercent: leanContainerd,
    rssAfterWindowMiB: rssMiB(lean2.proc.pid),
    note: 'restarted after the latency samples (cold start with all sandboxes)',
  });
  log(`lean flags, cached: ${JSON.stringify(result.loaded.lean)}`);
  await stop(lean2);

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
const lat = (s) => `${s.min} / ${s.median} / ${s.p90} / ${s.max} ms`;
result.markdown = [
  '## CRI watcher (issue 4)',
  '',
  `Machine: ${r.machine}; load average ${r.loadBefore.join(' ')} before, ${r.loadAfter.join(' ')} after (2 cores shared with other`,
  `engineers' work). Date: ${r.date}. Real containerd 1.6 (testkit, own netns, bridge CNI), the real CLI`,
  '`zonewright cri-watch --interval 2s` (built `dist`), RSS from /proc VmRSS, CPU = utime+stime over the window.',
  `"lean" = \`node ${LEAN} …/zonewright.js\` (Node 20 refuses --lite-mode in NODE_OPTIONS, so the flags go on the command line). ${r.sandboxes} sandboxes, then ${r.samples} more for the latency samples`,
  `(${r.totalSandboxes} during the CPU windows of ${r.windowSeconds} s; idle CPU window ${r.idle.cpuWindowSeconds} s).`,
  '',
  '| measurement | default Node flags | lean flags |',
  '|---|---:|---:|',
  `| RSS idle, no sandboxes | ${r.idle.default.rssMiB} MiB | ${r.idle.lean.rssMiB} MiB |`,
  `| CPU idle, no sandboxes | ${r.idle.default.cpuPercent} % | ${r.idle.lean.cpuPercent} % |`,
  `| RSS with ${r.totalSandboxes} sandboxes | ${r.loaded.default.rssMiB} MiB (${r.loaded.default.rssAfterWindowMiB} after window) | ${r.loaded.lean.rssMiB} MiB (${r.loaded.lean.rssAfterWindowMiB} after window) |`,
  `| watcher CPU with ${r.totalSandboxes} sandboxes | ${r.loaded.default.cpuPercent} % | ${r.loaded.lean.cpuPercent} % |`,
  `| containerd CPU meanwhile | ${r.loaded.default.containerdCpuPercent} % | ${r.loaded.lean.containerdCpuPercent} % |`,
  `| ready → record, min / median / p90 / max (${r.samples} samples) | ${lat(r.readyToRecordMs.default)} | ${lat(r.readyToRecordMs.lean)} |`,
  '',
  `One verbose PodSandboxStatus per sandbox per interval (what smarter-dns does via \`crictl inspectp\`, here in-process,`,
  `no forks; library child, default flags): watcher ${r.statusEveryInterval.cpuPercent} %, containerd ${r.statusEveryInterval.containerdCpuPercent} %, RSS ${r.statusEveryInterval.rssMiB} MiB.`,
  `Ratio to the CLI's cached mode (default flags): watcher ×${r.ratioStatusEveryIntervalOverCached.watcher}, containerd ×${r.ratioStatusEveryIntervalOverCached.containerd}, total ×${r.ratioStatusEveryIntervalOverCached.total}.`,
  `RunPodSandbox: median ${r.runPodSandboxMs.median} ms, max ${r.runPodSandboxMs.max} ms; ${r.sandboxes} in ${r.runPodSandboxMs.totalSeconds} s (4 at a time).`,
  '',
  'Targets:',
  `- RSS ≤ ${targets.rssMiB} MB idle: default flags **${met(r.idle.default.rssMiB <= targets.rssMiB)}** (${r.idle.default.rssMiB} MiB); lean flags **${met(r.idle.lean.rssMiB <= targets.rssMiB)}** (${r.idle.lean.rssMiB} MiB).`,
  `  (RSS is in MiB and compared with 60 as MiB; in SI megabytes the lean idle RSS is ${(r.idle.lean.rssMiB * 1.048576).toFixed(1)} MB.)`,
  `- CPU ≤ ${targets.cpuPercent} % of one core with ${r.totalSandboxes} sandboxes at 2 s: default flags **${met(r.loaded.default.cpuPercent <= targets.cpuPercent)}** (${r.loaded.default.cpuPercent} %); lean flags **${met(r.loaded.lean.cpuPercent <= targets.cpuPercent)}** (${r.loaded.lean.cpuPercent} %).`,
  `- Ready → record ≤ ${targets.latencyMs} ms (max of ${r.samples}): default flags **${met(r.readyToRecordMs.default.max <= targets.latencyMs)}** (${r.readyToRecordMs.default.max} ms); lean flags **${met(r.readyToRecordMs.lean.max <= targets.latencyMs)}** (${r.readyToRecordMs.lean.max} ms).`,
].join('\n');
process.stdout.write(`${JSON.stringify(result)}\n`);
