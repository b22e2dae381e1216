import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { runCommand, type RunResult } from './processes.js';

/** Prefix of every network namespace (and link) the tests create, so leftovers are easy to find. */
export const NETNS_PREFIX = 'zw-';

export class NetnsError extends Error {
  override readonly name = 'NetnsError';
}

/** A named network namespace under /var/run/netns created by a test. */
export interface Netns {
  readonly name: string;
  /** `/var/run/netns/<name>`, for `nsenter --net=…`. */
  readonly path: string;
  /** Runs a command inside the namespace (`nsenter --net=PATH`), with a time limit. */
  exec(command: string, args: readonly string[], options?: { timeoutMs?: number }): Promise<RunResult>;
  /** Like exec, but throws NetnsError on a non-zero exit. */
  run(command: string, args: readonly string[], options?: { timeoutMs?: number }): Promise<string>;
  /** nsenter arguments that run `command` in this namespace: spawn('nsenter', netns.nsenterArgs(cmd, args)). */
  nsenterArgs(command: string, args: readonly string[]): string[];
  /** Creates a bridge inside the namespace with the given address (CIDR) and brings it up. */
  addBridge(name: string, cidr?: string): Promise<void>;
  /** Creates a veth pair inside the namespace, both ends up; optional addresses (CIDR). */
  addVethPair(name: string, peer: string, addresses?: { name?: string; peer?: string }): Promise<void>;
  /** Deletes the namespace (idempotent). */
  delete(): Promise<void>;
}

/** `zw-` plus a random suffix: ≤ 15 characters, so it is also usable as a link name. */
export function randomNetnsName(tag = ''): string {
  const suffix = randomBytes(4).toString('hex');
  return `${NETNS_PREFIX}${tag.slice(0, 4)}${suffix}`.slice(0, 15);
}

async function ip(args: readonly string[]): Promise<RunResult> {
  return runCommand('ip', args, { timeoutMs: 10_000 });
}

function describe(command: string, args: readonly string[], result: RunResult): string {
  return `${[command, ...args].join(' ')} exited ${result.code ?? result.signal ?? '?'}: ${result.stderr.trim() || result.stdout.trim()}`;
}

/** Deletes a named network namespace if it exists (for cleanup by name, even after a failed test). */
export async function deleteNetns(name: string): Promise<void> {
  if (!name.startsWith(NETNS_PREFIX))
    throw new NetnsError(`refusing to delete netns ${name}: not a ${NETNS_PREFIX} namespace`);
  if (!existsSync(`/var/run/netns/${name}`)) return;
  const result = await ip(['netns', 'delete', name]);
  if (result.code !== 0 && existsSync(`/var/run/netns/${name}`)) {
    throw new NetnsError(describe('ip', ['netns', 'delete', name], result));
  }
}

/** Creates a network namespace `zw-…` with `lo` up. */
export async function createNetns(options: { name?: string } = {}): Promise<Netns> {
  const name = options.name ?? randomNetnsName();
  if (!name.startsWith(NETNS_PREFIX))
    throw new NetnsError(`netns name ${name} must start with ${NETNS_PREFIX}`);
  const added = await ip(['netns', 'add', name]);
  if (added.code !== 0) throw new NetnsError(describe('ip', ['netns', 'add', name], added));
  const path = `/var/run/netns/${name}`;
  const nsenterArgs = (command: string, args: readonly string[]): string[] => [
    `--net=${path}`,
    '--',
    command,
    ...args,
  ];
  const exec = (command: string, args: readonly string[], execOptions: { timeoutMs?: number } = {}) =>
    runCommand('nsenter', nsenterArgs(command, args), { timeoutMs: execOptions.timeoutMs ?? 10_000 });
  const run = async (command: string, args: readonly string[], runOptions: { timeoutMs?: number } = {}) => {
    const result = await exec(command, args, runOptions);
    if (result.code !== 0) throw new NetnsError(`in netns ${name}: ${describe(command, args, result)}`);
    return result.stdout;
  };
  const netns: Netns = {
    name,
    path,
    exec,
    run,
    nsenterArgs,
    addBridge: async (bridge, cidr) => {
      await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
      if (cidr !== undefined) await run('ip', ['addr', 'add', cidr, 'dev', bridge]);
      await run('ip', ['link', 'set', bridge, 'up']);
    },
    addVethPair: async (first, peer, addresses = {}) => {
      await run('ip', ['link', 'add', first, 'type', 'veth', 'peer', 'name', peer]);
      if (addresses.name !== undefined) await run('ip', ['addr', 'add', addresses.name, 'dev', first]);
      if (addresses.peer !== undefined) await run('ip', ['addr', 'add', addresses.peer, 'dev', peer]);
      await run('ip', ['link', 'set', first, 'up']);
      await run('ip', ['link', 'set', peer, 'up']);
    },
    delete: () => deleteNetns(name),
  };
  try {
    await run('ip', ['link', 'set', 'lo', 'up']);
  } catch (error) {
    await deleteNetns(name);
    throw error;
  }
  return netns;
}
