// CRI watcher benchmark (issue 4 targets). Runs the REAL built CLI (`zonewright cri-watch`) against a real
// containerd that the testkit starts inside a network namespace made for this run, and measures in one run:
//   1. resident memory idle (no sandboxes) and with N sandboxes, and CPU % of one core over a window at the 2 s
//      interval — for the node image's command (Dockerfile.cri ENTRYPOINT: the bundle from scripts/bundle.mjs with
//      its node flags, via testkit nodeImageCommand) AND, for comparison, the tsc output with Node's defaults;
//   2. the cost of one PodSandboxStatus per sandbox per interval (what smarter-dns effectively does with
//      `crictl inspectp`), by status-child.js: watcher and containerd CPU, and the ratio to the CLI's cached mode
//      (tsc output, Node defaults: the same code and flags as the child);
//   3. sandbox ready (RunPodSandbox returned) → the record in the zone file, seen by a ZoneFileObserver, for both.
// Sizes: ZW_BENCH_CRI_SANDBOXES (100; quick 10), ZW_BENCH_CRI_WINDOW_SECONDS (60; quick 6),
// ZW_BENCH_CRI_SAMPLES (12; quick 3), ZW_BENCH_CRI_SETTLE_SECONDS (30; quick 3). Run as root.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  buildPauseImage,
  cleanUp,
  cpuPercentOver,
  createNetns,
  killProcessTree,
  nodeImageCommand,
  processMemory,
  sleep,
  startContainerd,
  voluntaryContextSwitches,
} from '@zonewright/testkit';
import type { ContainerdHarness } from '@zonewright/testkit';
import { errorMessage, progressLogger } from '../common/log.js';
import { repoRoot } from '../common/paths.js';
import { intSetting } from '../common/settings.js';
import type { BenchSize } from '../common/settings.js';
import { loadAverage, machineDescription, round, spread } from '../common/stats.js';
import type { SuiteContext, SuiteOutcome } from '../common/suite.js';
import { ZoneFileObserver } from '../common/zone-observer.js';
import { TSC_OUTPUT, startCriWatch, startStatusChild } from './processes.js';
import type { CliVariant, WatcherProcess } from './processes.js';
import { renderCriMarkdown } from './report.js';
import type { CriResult, IdleMeasurement, LoadedMeasurement, MemorySplit } from './report.js';

const ZONE_FILE = 'db.cluster.local';
const INTERVAL_MS = 2000;
const log = progressLogger('cri');

interface CriSettings {
  readonly sandboxes: number;
  readonly windowSeconds: number;
  readonly samples: number;
  readonly settleSeconds: number;
  readonly intervalMs: number;
}

function criSettings(size: BenchSize): CriSettings {
  return {
    sandboxes: intSetting('ZW_BENCH_CRI_SANDBOXES', { full: 100, quick: 10 }, size, { min: 1, max: 250 }),
    windowSeconds: intSetting('ZW_BENCH_CRI_WINDOW_SECONDS', { full: 60, quick: 6 }, size, { min: 1 }),
    samples: intSetting('ZW_BENCH_CRI_SAMPLES', { full: 12, quick: 3 }, size, { min: 1 }),
    settleSeconds: intSetting('ZW_BENCH_CRI_SETTLE_SECONDS', { full: 30, quick: 3 }, size, { min: 0 }),
    intervalMs: INTERVAL_MS,
  };
}

/** A watcher process with the observer of its zone file. */
interface Watched extends WatcherProcess {
  readonly zone: ZoneFileObserver;
}

/** Everything this run starts, so one cleanup stops it all, also after a failure. */
class Resources {
  readonly temps: string[] = [];
  readonly watchers = new Set<Watched>();
  readonly pids = new Set<number>();

  async tempDir(prefix: string): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
    this.temps.push(dir);
    return dir;
  }

  async watch(label: string, endpoint: string, variant: CliVariant): Promise<Watched> {
    const run = await startCriWatch(label, endpoint, await this.tempDir('zw-bench-zones-'), variant);
    const watched = {
      ...run,
      zone: new ZoneFileObserver(run.zonesDir, ZONE_FILE, (e) => log(errorMessage(e))),
    };
    this.watchers.add(watched);
    return watched;
  }

  async stop(watched: Watched): Promise<void> {
    this.watchers.delete(watched);
    watched.zone.close();
    await killProcessTree(watched.proc.pid);
  }

  cleanupSteps(): (() => unknown)[] {
    return [
      ...[...this.watchers].map((watched) => () => this.stop(watched)),
      ...[...this.pids].map((pid) => () => killProcessTree(pid)),
      ...this.temps.map((dir) => () => rm(dir, { recursive: true, force: true })),
    ];
  }
}

const rssMiB = (pid: number): number => round(processMemory(pid).rssMiB, 1);
function memorySplit(pid: number): MemorySplit {
  const memory = processMemory(pid);
  return {
    rssMiB: round(memory.rssMiB, 1),
    anonMiB: round(memory.anonMiB, 1),
    fileMiB: round(memory.fileMiB, 1),
  };
}
const percent = (value: number): number => round(value, 3);

/** Wall-clock ms when the zone first holds `needle` (now, if it already does). */
async function inZoneAt(watched: Watched, needle: string, timeoutMs: number): Promise<number> {
  const version = await watched.zone.waitForState(
    (text) => text.includes(needle),
    timeoutMs,
    `hold ${needle}`,
  );
  return performance.timeOrigin + version.at;
}

async function measureIdle(runs: readonly Watched[], settings: CriSettings): Promise<IdleMeasurement> {
  await sleep(5 * settings.intervalMs);
  const seconds = Math.max(1, Math.min(20, settings.windowSeconds));
  const before = runs.map((run) => voluntaryContextSwitches(run.proc.pid));
  const cpu = await cpuPercentOver(
    runs.map((run) => run.proc.pid),
    seconds,
  );
  const one = (index: number): IdleMeasurement['image'] => {
    const run = runs[index];
    if (run === undefined) throw new Error('no such watcher');
    return {
      ...memorySplit(run.proc.pid),
      cpuPercent: percent(cpu[index] ?? NaN),
      wakeupsPerSecond: round((voluntaryContextSwitches(run.proc.pid) - (before[index] ?? 0)) / seconds, 1),
    };
  };
  return { cpuWindowSeconds: seconds, default: one(0), image: one(1) };
}

/** N sandboxes, 4 at a time; returns the RunPodSandbox durations and the total time. */
async function startSandboxes(
  containerd: ContainerdHarness,
  count: number,
): Promise<CriResult['runPodSandboxMs']> {
  const began = Date.now();
  const durations: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < count) {
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
  const { min, median, p90, max } = spread(durations);
  return { min, median, p90, max, totalSeconds: (Date.now() - began) / 1000 };
}

/** Ready → record with both CLIs watching; each sample at a random moment of the interval. */
async function sampleReadyToRecord(
  containerd: ContainerdHarness,
  runs: readonly [Watched, Watched],
  settings: CriSettings,
): Promise<CriResult['readyToRecordMs']> {
  const latency = { default: [] as number[], image: [] as number[] };
  for (let index = 0; index < settings.samples; index += 1) {
    await sleep(Math.floor(Math.random() * settings.intervalMs));
    const needle = `late-${index}.late.svc`;
    const seen = Promise.all(runs.map((run) => inZoneAt(run, needle, 15_000)));
    const sandbox = await containerd.runSandbox({
      name: `late-${index}`,
      namespace: 'late',
      hostname: `late-${index}`,
    });
    const [atDefault, atImage] = await seen;
    latency.default.push(Math.round((atDefault ?? NaN) - sandbox.readyAtMs));
    latency.image.push(Math.round((atImage ?? NaN) - sandbox.readyAtMs));
  }
  return { default: spread(latency.default), image: spread(latency.image) };
}

async function loadedCpu(
  pid: number,
  containerdPid: number,
  seconds: number,
): Promise<Pick<LoadedMeasurement, 'cpuPercent' | 'containerdCpuPercent' | 'rssAfterWindowMiB'>> {
  const [cpu, containerd] = await cpuPercentOver([pid, containerdPid], seconds);
  return {
    cpuPercent: percent(cpu ?? NaN),
    containerdCpuPercent: percent(containerd ?? NaN),
    rssAfterWindowMiB: rssMiB(pid),
  };
}

const ratio = (a: number, b: number): number | null => (b <= 0 ? null : round(a / b, 1));

async function measure(
  resources: Resources,
  containerd: ContainerdHarness,
  settings: CriSettings,
  image: CliVariant,
) {
  const containerdPid = containerd.pid();
  if (containerdPid === undefined) throw new Error('containerd has no pid');
  const lastLate = `late-${settings.samples - 1}.late.svc`;

  // 1. Both CLI variants side by side, idle (no sandboxes).
  const tscRun = await resources.watch('default', containerd.endpoint, TSC_OUTPUT);
  const imageRun = await resources.watch('image', containerd.endpoint, image);
  const idle = await measureIdle([tscRun, imageRun], settings);
  log(`idle: ${JSON.stringify(idle)}`);

  const runPodSandboxMs = await startSandboxes(containerd, settings.sandboxes);
  const last = `host-${settings.sandboxes - 1}.ns-${(settings.sandboxes - 1) % 5}.svc`;
  await Promise.all([tscRun, imageRun].map((run) => inZoneAt(run, last, 30_000)));
  log(`${settings.sandboxes} sandboxes in ${runPodSandboxMs.totalSeconds} s, both zones hold them`);

  // 3. Ready → record.
  const readyToRecordMs = await sampleReadyToRecord(containerd, [tscRun, imageRun], settings);
  log(`ready → record: ${JSON.stringify(readyToRecordMs)}`);
  await sleep(2 * settings.intervalMs);
  // "Idle with sandboxes": nothing changes for settleSeconds, so the garbage of the bursts above is collected.
  const justAfter = [tscRun, imageRun].map((run) => rssMiB(run.proc.pid));
  await sleep(settings.settleSeconds * 1000);
  const settled = { default: memorySplit(tscRun.proc.pid), image: memorySplit(imageRun.proc.pid) };

  // CPU windows, one watcher at a time so containerd's CPU belongs to it.
  await resources.stop(imageRun);
  const loadedDefault: LoadedMeasurement = {
    ...settled.default,
    rssJustAfterMiB: justAfter[0] ?? NaN,
    ...(await loadedCpu(tscRun.proc.pid, containerdPid, settings.windowSeconds)),
  };
  log(`tsc output, Node defaults: ${JSON.stringify(loadedDefault)}`);
  await resources.stop(tscRun);

  const image2 = await resources.watch('image', containerd.endpoint, image);
  await inZoneAt(image2, lastLate, 20_000);
  await sleep(2 * settings.intervalMs);
  const loadedImage: LoadedMeasurement = {
    ...settled.image,
    rssJustAfterMiB: justAfter[1] ?? NaN,
    ...(await loadedCpu(image2.proc.pid, containerdPid, settings.windowSeconds)),
    note: 'restarted after the latency samples (cold start with all sandboxes)',
  };
  log(`node image command: ${JSON.stringify(loadedImage)}`);
  await resources.stop(image2);

  // 2. One PodSandboxStatus per sandbox per interval.
  const naiveDir = await resources.tempDir('zw-bench-zones-');
  const naive = await startStatusChild(containerd.endpoint, naiveDir, settings.intervalMs);
  resources.pids.add(naive.pid);
  const naiveZone = new ZoneFileObserver(naiveDir, ZONE_FILE, (e) => log(errorMessage(e)));
  try {
    await naiveZone.waitForState((text) => text.includes(lastLate), 20_000, `hold ${lastLate}`);
  } finally {
    naiveZone.close();
  }
  await sleep(2 * settings.intervalMs);
  const [naiveCpu = NaN, naiveContainerd = NaN] = await cpuPercentOver(
    [naive.pid, containerdPid],
    settings.windowSeconds,
  );
  const statusEveryInterval = {
    cpuPercent: percent(naiveCpu),
    containerdCpuPercent: percent(naiveContainerd),
    rssMiB: rssMiB(naive.pid),
  };
  log(`status every interval: ${JSON.stringify(statusEveryInterval)}`);
  await killProcessTree(naive.pid);
  resources.pids.delete(naive.pid);
  return {
    idle,
    runPodSandboxMs,
    readyToRecordMs,
    totalSandboxes: settings.sandboxes + settings.samples,
    loaded: { settleSeconds: settings.settleSeconds, default: loadedDefault, image: loadedImage },
    statusEveryInterval,
    ratioStatusEveryIntervalOverCached: {
      watcher: ratio(statusEveryInterval.cpuPercent, loadedDefault.cpuPercent),
      containerd: ratio(statusEveryInterval.containerdCpuPercent, loadedDefault.containerdCpuPercent),
      total: ratio(
        statusEveryInterval.cpuPercent + statusEveryInterval.containerdCpuPercent,
        loadedDefault.cpuPercent + loadedDefault.containerdCpuPercent,
      ),
    },
  };
}

export async function runCriSuite(context: SuiteContext): Promise<SuiteOutcome<CriResult>> {
  const settings = criSettings(context.size);
  const image = nodeImageCommand(repoRoot);
  const header = {
    machine: machineDescription(),
    loadBefore: loadAverage(),
    date: new Date().toISOString(),
    ...settings,
    imageFlags: image.nodeFlags.join(' '),
    targets: { rssMB: 60, cpuPercent: 1, latencyMs: settings.intervalMs + 100 },
  };
  const resources = new Resources();
  const netns = await createNetns();
  let containerd: ContainerdHarness | undefined;
  let measured: Awaited<ReturnType<typeof measure>>;
  let containerdStartMs: number;
  try {
    const pauseImage = await buildPauseImage({ dir: await resources.tempDir('zw-pause-') });
    containerd = await startContainerd({ netns, pauseImage, ipv6Subnet: false, subnet: '10.250.0.0/16' });
    containerdStartMs = containerd.lastStartMs();
    log(`containerd up in ${containerdStartMs} ms (${containerd.endpoint})`);
    measured = await measure(resources, containerd, settings, image);
  } finally {
    const harness = containerd;
    await cleanUp('cri bench', [
      ...resources.cleanupSteps(),
      () => harness?.cleanup(),
      () => netns.delete(),
    ]).catch((error: unknown) => {
      log(errorMessage(error));
    });
  }
  const result: CriResult = {
    ...header,
    containerdStartMs,
    ...measured,
    loadAfter: loadAverage(),
    markdown: '',
  };
  return { section: { ...result, markdown: renderCriMarkdown(result) }, charts: {} };
}
