import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { freeTcpPort, killProcessTree, processMemory, sleep, spawnProcess } from '@zonewright/testkit';
import type { SpawnedProcess } from '@zonewright/testkit';
import { distScript, monitorImageArgs, repoRoot } from '../common/paths.js';

export interface MonitorTuning {
  readonly debounceMs: number;
  readonly maxDelayMs: number;
}

export interface MonitorProcess {
  readonly child: SpawnedProcess;
  readonly port: number;
  /** performance.now() right before the spawn. */
  readonly startedAt: number;
  readonly metricsUrl: string;
}

/** Every process this suite started and has not stopped yet, for the cleanup after a failure. */
export const liveProcesses = new Set<number>();

/** The monitor image's CLI (the bundle): `zonewright monitor` on `kubeconfig`, zone vm.example.com into `zonesDir`. */
export async function startMonitor(
  kubeconfig: string,
  zonesDir: string,
  tuning: MonitorTuning,
  cli: readonly string[] = monitorImageArgs(),
): Promise<MonitorProcess> {
  const port = await freeTcpPort();
  const args = [
    ...cli,
    'monitor',
    '--kubeconfig',
    kubeconfig,
    '--zones-dir',
    zonesDir,
    '--domain',
    'example.com',
    '--name-server-ip',
    '127.0.0.1',
    '--listen',
    `127.0.0.1:${port}`,
    '--debounce-ms',
    String(tuning.debounceMs),
    '--max-delay-ms',
    String(tuning.maxDelayMs),
    '--log-format',
    'json',
    '--log-level',
    'warn',
  ];
  const startedAt = performance.now();
  const child = await spawnProcess(process.execPath, args, { cwd: repoRoot, maxOutputBytes: 256 * 1024 });
  liveProcesses.add(child.pid);
  return { child, port, startedAt, metricsUrl: `http://127.0.0.1:${port}/metrics` };
}

/** performance.now() when the monitor's /readyz first answered 200. */
export async function waitReady(monitor: MonitorProcess, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (monitor.child.exitStatus() !== undefined) {
      throw new Error(`the monitor exited before it was ready:\n${monitor.child.output()}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${monitor.port}/readyz`, {
        signal: AbortSignal.timeout(2000),
      });
      await response.arrayBuffer();
      if (response.status === 200) return performance.now();
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) {
      throw new Error(`the monitor was not ready within ${timeoutMs} ms:\n${monitor.child.output()}`);
    }
    await sleep(10);
  }
}

export async function stopProcess(child: SpawnedProcess | undefined): Promise<void> {
  if (child === undefined) return;
  await killProcessTree(child.pid);
  liveProcesses.delete(child.pid);
}

/** Wall time of a short node command (for the start-up baselines). */
export function wallMs(args: readonly string[]): { elapsed: number; stdout: string } {
  const started = performance.now();
  const run = spawnSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8' });
  const elapsed = performance.now() - started;
  if (run.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${run.stderr}`);
  return { elapsed, stdout: run.stdout };
}

export interface SettledMemory {
  readonly rssMB: number;
  readonly maxRssMB: number;
  readonly hwmMB: number;
}

/** RSS every `everyMs` for `forMs`; the last sample, the largest, and VmHWM at the end (MiB). */
export async function settleMemory(pid: number, forMs: number, everyMs = 250): Promise<SettledMemory> {
  const samples: number[] = [];
  const until = performance.now() + forMs;
  while (performance.now() < until) {
    samples.push(processMemory(pid).rssMiB);
    await sleep(everyMs);
  }
  const last = processMemory(pid);
  samples.push(last.rssMiB);
  return { rssMB: last.rssMiB, maxRssMB: Math.max(...samples), hwmMB: last.hwmMiB };
}

/** The line informer-child.js prints once synced. */
export interface InformerSynced {
  readonly synced: true;
  readonly objects: number;
  readonly syncMs: number;
}

/** client-node's default informer in its own process, until it has listed and started watching. */
export async function startInformer(
  kubeconfig: string,
  timeoutMs: number,
): Promise<{ child: SpawnedProcess; synced: InformerSynced; syncedAfterMs: number }> {
  let synced: InformerSynced | undefined;
  const startedAt = performance.now();
  const child = await spawnProcess(process.execPath, [distScript('monitor/informer-child.js'), kubeconfig], {
    cwd: repoRoot,
    maxOutputBytes: 64 * 1024,
    onLine: (line) => {
      if (line.startsWith('{')) synced = JSON.parse(line) as InformerSynced;
    },
  });
  liveProcesses.add(child.pid);
  const deadline = performance.now() + timeoutMs;
  while (synced === undefined) {
    if (child.exitStatus() !== undefined) throw new Error(`the informer exited:\n${child.output()}`);
    if (performance.now() > deadline) throw new Error(`the informer did not sync:\n${child.output()}`);
    await sleep(20);
  }
  return { child, synced, syncedAfterMs: performance.now() - startedAt };
}
