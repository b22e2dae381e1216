import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { processTree } from './processes.js';

/** Memory of one process from /proc/<pid>/status, in MiB (KiB / 1024). */
export interface ProcessMemory {
  /** VmRSS: resident now. */
  readonly rssMiB: number;
  /** VmHWM: the peak of VmRSS. */
  readonly hwmMiB: number;
  /** RssAnon: private memory. */
  readonly anonMiB: number;
  /** RssFile: pages of files (the node binary, shared and reclaimable). */
  readonly fileMiB: number;
}

/** A process is gone or /proc does not say what was asked. */
export class ProcReadError extends Error {
  override readonly name = 'ProcReadError';
}

function statusField(text: string, pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  if (match?.[1] === undefined) throw new ProcReadError(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

function readProc(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch (error) {
    throw new ProcReadError(`cannot read /proc/${pid}/${file}: ${(error as Error).message}`);
  }
}

export function processMemory(pid: number): ProcessMemory {
  const text = readProc(pid, 'status');
  return {
    rssMiB: statusField(text, pid, 'VmRSS'),
    hwmMiB: statusField(text, pid, 'VmHWM'),
    anonMiB: statusField(text, pid, 'RssAnon'),
    fileMiB: statusField(text, pid, 'RssFile'),
  };
}

/** Voluntary context switches of the main thread: how often its event loop went to sleep and woke up. */
export function voluntaryContextSwitches(pid: number): number {
  const match = /voluntary_ctxt_switches:\s+(\d+)/.exec(readProc(pid, 'status'));
  return match?.[1] === undefined ? 0 : Number(match[1]);
}

let clockTicksPerSecond: number | undefined;
function clockTicks(): number {
  clockTicksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return clockTicksPerSecond;
}

/** User + system CPU seconds of one process (from /proc/<pid>/stat); throws ProcReadError when it is gone. */
export function cpuSeconds(pid: number): number {
  const text = readProc(pid, 'stat');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/** CPU seconds of a process and its current descendants (a descendant that just ended counts 0). */
export function cpuSecondsOfTree(pid: number): number {
  return processTree(pid).reduce((sum, member) => {
    try {
      return sum + cpuSeconds(member);
    } catch {
      return sum;
    }
  }, 0);
}

/** Percent of one core each process tree used over the next `seconds` (100 = one core busy). */
export async function cpuPercentOver(pids: readonly number[], seconds: number): Promise<number[]> {
  const before = pids.map(cpuSecondsOfTree);
  const began = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const elapsed = Number(process.hrtime.bigint() - began) / 1e9;
  return pids.map((pid, index) => ((cpuSecondsOfTree(pid) - (before[index] ?? 0)) / elapsed) * 100);
}
