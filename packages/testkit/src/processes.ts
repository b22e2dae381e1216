import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** A command the tests need is not installed. */
export class ToolMissingError extends Error {
  constructor(readonly tool: string) {
    super(`${tool} is not installed or not on PATH: run scripts/install-test-deps.sh`);
    this.name = 'ToolMissingError';
  }
}

/** A command ran longer than its time limit and was killed. */
export class CommandTimeoutError extends Error {
  constructor(
    readonly command: string,
    readonly timeoutMs: number,
    readonly output: string,
  ) {
    super(`${command} did not finish within ${timeoutMs} ms and was killed; output so far:\n${output}`);
    this.name = 'CommandTimeoutError';
  }
}

/** waitFor() gave up. */
export class WaitTimeoutError extends Error {
  constructor(
    readonly description: string,
    readonly timeoutMs: number,
  ) {
    super(`timed out after ${timeoutMs} ms waiting for ${description}`);
    this.name = 'WaitTimeoutError';
  }
}

/** Some processes of a tree were still alive after SIGKILL. */
export class ProcessKillError extends Error {
  constructor(readonly survivors: readonly number[]) {
    super(`processes still alive after SIGKILL: ${survivors.join(', ')}`);
    this.name = 'ProcessKillError';
  }
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Kept from stdout and stderr together (the most recent part); default 1 MiB. */
  readonly maxOutputBytes?: number;
  /** Called with every complete line the process writes to stdout or stderr. */
  readonly onLine?: (line: string) => void;
}

export interface SpawnedProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  /** The exit status once exited, else undefined. */
  exitStatus(): ExitStatus | undefined;
  /** stdout and stderr interleaved as received (the most recent maxOutputBytes). */
  output(): string;
}

const live = new Set<number>();
let exitHookInstalled = false;

// A test that forgets stop() must not leave daemons behind when the test
// process ends: kill every process group still known at exit.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of live) signalGroup(pid, 'SIGKILL');
  });
}

/**
 * Starts a process in its own process group (so killProcessTree can reach all
 * of its descendants) with stdout and stderr captured.
 * Rejects with ToolMissingError when the command does not exist.
 */
export async function spawnProcess(
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): Promise<SpawnedProcess> {
  installExitHook();
  const maxOutput = options.maxOutputBytes ?? 1024 * 1024;
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const partial = { stdout: '', stderr: '' };
  const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output += text;
    if (output.length > maxOutput) output = output.slice(output.length - maxOutput);
    if (options.onLine) {
      const lines = (partial[stream] + text).split('\n');
      partial[stream] = lines.pop() ?? '';
      for (const line of lines) options.onLine(line);
    }
  };
  child.stdout.on('data', collect('stdout'));
  child.stderr.on('data', collect('stderr'));

  let status: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.on('close', (code, signal) => {
      status = { code, signal };
      if (child.pid !== undefined) live.delete(child.pid);
      resolve(status);
    });
  });

  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => {
      resolve();
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'ENOENT' ? new ToolMissingError(command) : error);
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${command} started without a pid`);
  live.add(pid);
  return { pid, child, exited, exitStatus: () => status, output: () => output };
}

export interface RunOptions {
  readonly timeoutMs: number;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command to completion with a time limit; on timeout the whole process
 * tree is killed and CommandTimeoutError is thrown. A non-zero exit is not an
 * error here: callers decide what the code means.
 */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: RunOptions,
): Promise<RunResult> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  return new Promise<RunResult>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
    }, options.timeoutMs);
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(error.code === 'ENOENT' ? new ToolMissingError(command) : error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new CommandTimeoutError([command, ...args].join(' '), options.timeoutMs, stdout + stderr));
      } else {
        resolve({ code, signal, stdout, stderr });
      }
    });
  });
}

export interface WaitOptions {
  readonly timeoutMs: number;
  /** Pause between attempts; default 50 ms. */
  readonly intervalMs?: number;
  /** What is awaited, for the timeout message ("named to answer SOA example.test"). */
  readonly description: string;
}

/**
 * Calls probe until it returns something other than undefined and returns
 * that. An error thrown by probe ends the wait at once (fail fast: the probe
 * decides what is transient). Throws WaitTimeoutError after timeoutMs.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  options: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 50;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new WaitTimeoutError(options.description, options.timeoutMs);
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Parent pid and state letter of a process from /proc, or undefined when it is gone. */
function readStat(pid: number): { ppid: number; state: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may contain spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const ppid = Number(fields[1]);
  return state === undefined ? undefined : { ppid, state };
}

/** Alive means present in /proc and not a zombie (a zombie has released everything but its pid). */
export function isProcessAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** pid and all its current descendants, found through /proc. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    const siblings = children.get(stat.ppid) ?? [];
    siblings.push(Number(entry));
    children.set(stat.ppid, siblings);
  }
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift();
    if (next === undefined || tree.includes(next)) continue;
    tree.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return tree;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // no such process group: the leader was not started detached, or is gone
  }
}

function signalOne(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export interface KillOptions {
  /** Time between SIGTERM and SIGKILL; default 3000 ms. */
  readonly graceMs?: number;
}

/**
 * Stops pid and every descendant: SIGTERM to its process group and to each
 * descendant found in /proc, then SIGKILL to whatever is left after graceMs.
 * Resolves when none of them is alive; throws ProcessKillError if some survive
 * SIGKILL for 2 s. A pid that is already gone is fine.
 */
export async function killProcessTree(pid: number, options: KillOptions = {}): Promise<void> {
  const graceMs = options.graceMs ?? 3000;
  let targets = processTree(pid).filter(isProcessAlive);
  if (targets.length === 0) return;
  signalGroup(pid, 'SIGTERM');
  for (const target of targets) signalOne(target, 'SIGTERM');
  const allGone = (): true | undefined => (targets.some(isProcessAlive) ? undefined : true);
  try {
    await waitFor(allGone, { timeoutMs: graceMs, intervalMs: 20, description: `process ${pid} to exit` });
    return;
  } catch (error) {
    if (!(error instanceof WaitTimeoutError)) throw error;
  }
  // Descendants may have started during the grace period: look again.
  targets = [...new Set([...targets, ...processTree(pid)])];
  signalGroup(pid, 'SIGKILL');
  for (const target of targets) signalOne(target, 'SIGKILL');
  try {
    await waitFor(allGone, { timeoutMs: 2000, intervalMs: 20, description: `process ${pid} to die` });
  } catch (error) {
    if (error instanceof WaitTimeoutError) throw new ProcessKillError(targets.filter(isProcessAlive));
    throw error;
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it); for servers a test starts. */
export async function freeTcpPort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });
  });
}

/**
 * Runs every cleanup step in order, also after one of them failed (a test's afterAll must not leave
 * namespaces, processes or directories behind because an earlier step threw); then throws one AggregateError
 * naming `what` if any step failed.
 */
export async function cleanUp(what: string, steps: readonly (() => unknown)[]): Promise<void> {
  const problems: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      problems.push(error);
    }
  }
  if (problems.length > 0) throw new AggregateError(problems, `${what}: cleanup failed`);
}
