/**
 * The only module of node-setup that touches the node: runs iptables-save/-restore through an injected
 * command runner, writes the CNI conflist and the resolver drop-in through an injected fs.
 */
import { spawn } from 'node:child_process';
import { basename, dirname, join } from 'node:path';

import { CommandFailedError, NodeSetupError } from './errors.js';
import { describeChange, diffRuleset, parseIptablesSave, renderRestoreScript } from './dns-redirect-plan.js';
import type { IptablesRuleset, RulesetChange } from './dns-redirect-plan.js';
import type { IptablesBackendChoice } from './options.js';
import { parseBridgeState, planBridge, planBridgeRemoval, type BridgeCurrent } from './bridge-plan.js';
import {
  makeDirectory,
  writeFileAtomic,
  type AtomicWriteFileSystem,
  type Clock,
  type Logger,
} from '@zonewright/zone';

export interface CommandResult {
  /** null when the process was killed by a signal. */
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one command (no shell) and resolves with its result; rejects only when it cannot be started. */
export type CommandRunner = (
  command: string,
  args: readonly string[],
  options?: { readonly input?: string },
) => Promise<CommandResult>;

export interface CommandRunnerOptions {
  /** Put in front of every command, e.g. ['nsenter', '--net=/var/run/netns/x'] to act inside a netns. */
  readonly prefix?: readonly string[];
  /** Kill a command that runs longer than this; default 30 s. */
  readonly timeoutMs?: number;
}

/** The real runner: child_process.spawn without a shell. */
export function createCommandRunner(runnerOptions: CommandRunnerOptions = {}): CommandRunner {
  const prefix = runnerOptions.prefix ?? [];
  const timeoutMs = runnerOptions.timeoutMs ?? 30_000;
  return (command, args, options) =>
    new Promise<CommandResult>((resolve, reject) => {
      const [file = command, ...rest] = [...prefix, command, ...args];
      const child = spawn(file, rest, { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      child.on('error', (error) => {
        reject(new NodeSetupError(`cannot run ${file}: ${error.message}`));
      });
      child.on('close', (code) => {
        resolve({
          exitCode: code,
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8'),
        });
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(options?.input ?? '');
    });
}

/** The file operations node-setup needs (node:fs/promises fits). */
export interface NodeSetupFs extends AtomicWriteFileSystem {
  readFile(path: string): Promise<Buffer>;
  mkdir(path: string): Promise<unknown>;
  readdir(path: string): Promise<string[]>;
}

export type IptablesBackend = 'nft' | 'legacy';

export interface BackendDetection {
  readonly backend: IptablesBackend;
  readonly reason: string;
}

function binaries(backend: IptablesBackend): { save: string; restore: string } {
  return { save: `iptables-${backend}-save`, restore: `iptables-${backend}-restore` };
}

async function countRules(runner: CommandRunner, backend: IptablesBackend): Promise<number | undefined> {
  try {
    const result = await runner(binaries(backend).save, []);
    if (result.exitCode !== 0) return undefined;
    return result.stdout.split('\n').filter((line) => line.startsWith('-A ')).length;
  } catch {
    return undefined;
  }
}

/**
 * The backend the node uses. An explicit choice wins. Otherwise the one that holds rules (kubelet, kube-proxy and
 * the CNI plugins have written some by the time an init container runs), and when neither does, what
 * `iptables --version` says the node's default `iptables` is.
 */
export async function detectIptablesBackend(
  runner: CommandRunner,
  choice: IptablesBackendChoice,
): Promise<BackendDetection> {
  if (choice !== 'auto') return { backend: choice, reason: `--iptables-backend ${choice}` };
  const [nft, legacy] = await Promise.all([countRules(runner, 'nft'), countRules(runner, 'legacy')]);
  if (nft === undefined && legacy === undefined) {
    throw new NodeSetupError(
      'neither iptables-nft-save nor iptables-legacy-save works here: install iptables (1.8+) or pass --iptables-backend',
    );
  }
  if (legacy === undefined) return { backend: 'nft', reason: 'only the nft backend is available' };
  if (nft === undefined) return { backend: 'legacy', reason: 'only the legacy backend is available' };
  if (nft !== legacy) {
    const backend: IptablesBackend = nft > legacy ? 'nft' : 'legacy';
    return { backend, reason: `${backend} holds more rules (nft ${String(nft)}, legacy ${String(legacy)})` };
  }
  try {
    const version = await runner('iptables', ['--version']);
    if (version.stdout.includes('nf_tables'))
      return { backend: 'nft', reason: `no rules anywhere; iptables --version says nf_tables` };
    if (version.stdout.includes('legacy'))
      return { backend: 'legacy', reason: `no rules anywhere; iptables --version says legacy` };
  } catch {
    // fall through to the default
  }
  return {
    backend: 'nft',
    reason: 'no rules anywhere and iptables --version is not conclusive; nft is the default of iptables 1.8',
  };
}

/** The nat table as iptables-save prints it (a table that does not exist yet is empty). */
export async function readNatRuleset(
  runner: CommandRunner,
  backend: IptablesBackend,
): Promise<IptablesRuleset> {
  const { save } = binaries(backend);
  const result = await runner(save, ['-t', 'nat']);
  if (result.exitCode !== 0) {
    if (/does not exist|No such file/i.test(result.stderr)) return { chains: [], rules: [] };
    throw new CommandFailedError(save, ['-t', 'nat'], result.exitCode, result.stderr);
  }
  return parseIptablesSave(result.stdout, 'nat');
}

/** Applies the changes in one iptables-restore --noflush transaction. */
export async function applyRulesetChanges(
  runner: CommandRunner,
  backend: IptablesBackend,
  changes: readonly RulesetChange[],
): Promise<void> {
  if (changes.length === 0) return;
  const { restore } = binaries(backend);
  const args = ['--noflush', '--wait', '10'];
  const script = renderRestoreScript(changes);
  const result = await runner(restore, args, { input: script });
  if (result.exitCode !== 0) {
    throw new CommandFailedError(restore, args, result.exitCode, `${result.stderr}\nscript:\n${script}`);
  }
}

export type StepName = 'dns-redirect' | 'cni' | 'bridge' | 'resolver';
export type StepStatus = 'unchanged' | 'changed' | 'would-change' | 'ok' | 'problems' | 'skipped';

export interface StepReport {
  readonly step: StepName;
  readonly status: StepStatus;
  /** What was changed, or on a dry run what would be changed (one line each). */
  readonly changes: readonly string[];
  /** check: what is missing or extra; install/remove: what was refused. */
  readonly problems: readonly string[];
  /** Informational: backups written, warnings that need no action now. */
  readonly notes: readonly string[];
}

export type NodeSetupAction = 'install' | 'remove' | 'check';

export interface StepContext {
  readonly runner: CommandRunner;
  readonly fs: NodeSetupFs;
  readonly logger: Logger;
  readonly clock: Pick<Clock, 'now'>;
  readonly dryRun: boolean;
}

function changeStatus(changes: readonly unknown[], dryRun: boolean): StepStatus {
  if (changes.length === 0) return 'unchanged';
  return dryRun ? 'would-change' : 'changed';
}

/** install/remove/check the redirect rules against `desired` (remove: every rule and chain of ours goes). */
export async function syncDnsRedirect(
  context: StepContext,
  backend: IptablesBackend,
  action: NodeSetupAction,
  desired: IptablesRuleset,
): Promise<StepReport> {
  const target = action === 'remove' ? { chains: [], rules: [] } : desired;
  const current = await readNatRuleset(context.runner, backend);
  const changes = diffRuleset(current, target);
  const lines = changes.map((change) => describeChange(change));
  const leftovers = await otherBackendLeftovers(context.runner, backend);
  if (action === 'check') {
    const problems = changes.map((change, index) => {
      const missing = change.kind === 'create-chain' || change.kind === 'add-rule';
      return `${missing ? 'missing' : 'extra'}: ${lines[index] ?? ''}`;
    });
    if (leftovers !== undefined) {
      problems.push(
        ...leftovers.changes.map(
          (change) => `extra in the ${leftovers.backend} backend: ${describeChange(change)}`,
        ),
      );
    }
    return {
      step: 'dns-redirect',
      status: problems.length === 0 ? 'ok' : 'problems',
      changes: [],
      problems,
      notes: [],
    };
  }
  if (!context.dryRun && changes.length > 0) {
    await applyRulesetChanges(context.runner, backend, changes);
    const after = diffRuleset(await readNatRuleset(context.runner, backend), target);
    if (after.length > 0) {
      throw new NodeSetupError(
        `iptables-${backend}-restore succeeded but the nat table still differs: ${after.map((c) => describeChange(c)).join('; ')}`,
      );
    }
  }
  const notes: string[] = [];
  if (leftovers !== undefined && action === 'remove') {
    // Rules of ours in the backend the node no longer uses (it switched since install): remove takes them too.
    lines.push(...leftovers.changes.map((change) => `(${leftovers.backend}) ${describeChange(change)}`));
    if (!context.dryRun) await applyRulesetChanges(context.runner, leftovers.backend, leftovers.changes);
  } else if (leftovers !== undefined) {
    notes.push(
      `the ${leftovers.backend} backend also holds ${String(leftovers.changes.length)} chain(s)/rule(s) of ours; ` +
        '`node-setup remove` deletes them',
    );
  }
  return {
    step: 'dns-redirect',
    status: changeStatus(lines, context.dryRun),
    changes: lines,
    problems: [],
    notes,
  };
}

/** Chains and rules of ours in the backend not in use (the node switched backends since install), if any. */
async function otherBackendLeftovers(
  runner: CommandRunner,
  backend: IptablesBackend,
): Promise<{ backend: IptablesBackend; changes: RulesetChange[] } | undefined> {
  const other: IptablesBackend = backend === 'nft' ? 'legacy' : 'nft';
  let ruleset: IptablesRuleset;
  try {
    ruleset = await readNatRuleset(runner, other);
  } catch {
    return undefined; // that backend is not installed or not usable here: nothing of ours can be in it
  }
  const changes = diffRuleset(ruleset, { chains: [], rules: [] });
  return changes.length === 0 ? undefined : { backend: other, changes };
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

async function readIfExists(fs: NodeSetupFs, path: string): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(path);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/**
 * Creates the directory if needed, then replaces the file atomically and durably (the zone package's
 * writeFileAtomic: temp file, fsync, rename, directory fsync), so readers see the old or the new file.
 */
async function writeNodeFile(fs: NodeSetupFs, path: string, data: string | Uint8Array): Promise<void> {
  await makeDirectory((directory) => fs.mkdir(directory), dirname(path));
  await writeFileAtomic(path, data, { fs });
}

/** `20261125T214800123Z`: sorts in time order, safe in file names. */
export function backupStamp(clock: Pick<Clock, 'now'>): string {
  return new Date(clock.now()).toISOString().replace(/[-:.]/g, '');
}

export const BACKUP_INFIX = '.zonewright-backup-';
/** Marks a backup of "there was no file": revert deletes the file. */
export const ABSENT_SUFFIX = '.absent';

export interface CniStepOptions {
  readonly path: string;
  readonly content: string;
  readonly force: boolean;
}

/** CNI runtimes (containerd, cri-o) use the first config file by name: say so when another one comes first. */
async function earlierConfigs(fs: NodeSetupFs, path: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dirname(path));
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
  return names.filter((name) => /\.(conf|conflist|json)$/.test(name) && name < basename(path)).sort();
}

export async function syncCniConfig(
  context: StepContext,
  action: NodeSetupAction,
  options: CniStepOptions,
): Promise<StepReport> {
  const { fs, dryRun } = context;
  const existing = await readIfExists(fs, options.path);
  const same = existing !== undefined && existing.equals(Buffer.from(options.content));
  const notes: string[] = [];
  const earlier = await earlierConfigs(fs, options.path);
  if (earlier.length > 0 && action !== 'remove') {
    notes.push(
      `${earlier.join(', ')} sort(s) before ${basename(options.path)}; the CNI runtime uses the first config file`,
    );
  }
  const report = (status: StepStatus, changes: string[], problems: string[] = []): StepReport => ({
    step: 'cni',
    status,
    changes,
    problems,
    notes,
  });
  if (action === 'check') {
    if (existing === undefined) return report('problems', [], [`missing: ${options.path}`]);
    if (!same) return report('problems', [], [`differs from the planned config: ${options.path}`]);
    return report('ok', []);
  }
  const backupPath = `${options.path}${BACKUP_INFIX}${backupStamp(context.clock)}`;
  if (action === 'install') {
    if (same) return report('unchanged', []);
    if (existing === undefined) {
      if (!dryRun) await writeNodeFile(fs, options.path, options.content);
      return report(changeStatus([1], dryRun), [`write ${options.path}`]);
    }
    if (!options.force) {
      return report(
        'problems',
        [],
        [
          `${options.path} exists with different content; not overwriting it without --force (it would be backed up first)`,
        ],
      );
    }
    if (!dryRun) {
      await writeNodeFile(fs, backupPath, existing);
      await writeNodeFile(fs, options.path, options.content);
    }
    notes.push(`backup of the previous config: ${backupPath}`);
    return report(changeStatus([1], dryRun), [
      `back up ${options.path} to ${backupPath}`,
      `replace ${options.path}`,
    ]);
  }
  // remove
  if (existing === undefined) return report('unchanged', []);
  if (!same && !options.force) {
    return report(
      'problems',
      [],
      [
        `${options.path} differs from what node-setup writes; leaving it (pass --force to back it up and delete it)`,
      ],
    );
  }
  const changes: string[] = [];
  if (!same) {
    if (!dryRun) await writeNodeFile(fs, backupPath, existing);
    changes.push(`back up ${options.path} to ${backupPath}`);
    notes.push(`backup of the deleted config: ${backupPath}`);
  }
  if (!dryRun) await fs.unlink(options.path);
  changes.push(`delete ${options.path}`);
  return report(changeStatus(changes, dryRun), changes);
}

export interface ResolverStepOptions {
  /** Absolute path of the drop-in (host root already joined). */
  readonly path: string;
  readonly content: string;
  /** Restore from the latest backup instead of installing. */
  readonly revert: boolean;
  /** Effective dry run for the resolver (the resolver is a dry run unless asked to apply). */
  readonly dryRun: boolean;
}

async function latestBackup(fs: NodeSetupFs, path: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = await fs.readdir(dirname(path));
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  const prefix = `${basename(path)}${BACKUP_INFIX}`;
  const backups = names.filter((name) => name.startsWith(prefix)).sort();
  const last = backups[backups.length - 1];
  return last === undefined ? undefined : join(dirname(path), last);
}

const RESTART_RESOLVED = ['-t', '1', '-m', '--', 'systemctl', 'restart', 'systemd-resolved'];

async function restartResolved(context: StepContext): Promise<void> {
  const result = await context.runner('nsenter', RESTART_RESOLVED);
  if (result.exitCode !== 0)
    throw new CommandFailedError('nsenter', RESTART_RESOLVED, result.exitCode, result.stderr);
}

/**
 * The systemd-resolved drop-in: install (timestamped backup of whatever was there, including "nothing"),
 * revert (restore the latest backup byte for byte, then drop that backup), check. systemd-resolved is restarted
 * through the host's PID 1 only when a file really changed.
 */
export async function syncResolver(
  context: StepContext,
  action: NodeSetupAction,
  options: ResolverStepOptions,
): Promise<StepReport> {
  const { fs } = context;
  const dryRun = options.dryRun;
  const existing = await readIfExists(fs, options.path);
  const same = existing !== undefined && existing.equals(Buffer.from(options.content));
  const notes: string[] =
    dryRun && action !== 'check' ? ['resolver: dry run (pass --resolver-apply to change the node)'] : [];
  const report = (status: StepStatus, changes: string[], problems: string[] = []): StepReport => ({
    step: 'resolver',
    status,
    changes,
    problems,
    notes,
  });
  const restart = `restart systemd-resolved (nsenter ${RESTART_RESOLVED.join(' ')})`;
  if (action === 'check') {
    if (existing === undefined) return report('problems', [], [`missing: ${options.path}`]);
    if (!same) return report('problems', [], [`differs from the planned drop-in: ${options.path}`]);
    return report('ok', []);
  }
  if (action === 'remove' || options.revert) {
    const backup = await latestBackup(fs, options.path);
    if (backup === undefined) {
      if (same) {
        return report(
          'problems',
          [],
          [
            `${options.path} is node-setup's drop-in but no backup is left to restore; delete it by hand if it should go`,
          ],
        );
      }
      return report('unchanged', []);
    }
    const changes: string[] = [];
    if (backup.endsWith(ABSENT_SUFFIX)) {
      if (existing !== undefined) changes.push(`delete ${options.path} (there was none before)`);
      if (!dryRun && existing !== undefined) await fs.unlink(options.path);
    } else {
      const previous = await fs.readFile(backup);
      if (existing === undefined || !existing.equals(previous)) {
        changes.push(`restore ${options.path} from ${backup}`);
        if (!dryRun) await writeNodeFile(fs, options.path, previous);
      }
    }
    if (!dryRun) await fs.unlink(backup);
    if (changes.length > 0) {
      changes.push(restart);
      if (!dryRun) await restartResolved(context);
    }
    const all = [...changes, `drop backup ${backup}`];
    return report(changeStatus(all, dryRun), all);
  }
  if (same) return report('unchanged', []);
  const stamp = backupStamp(context.clock);
  const backupPath = `${options.path}${BACKUP_INFIX}${stamp}${existing === undefined ? ABSENT_SUFFIX : ''}`;
  const changes = [
    existing === undefined
      ? `record that ${options.path} did not exist (${backupPath})`
      : `back up ${options.path} to ${backupPath}`,
    `write ${options.path}`,
    restart,
  ];
  if (!dryRun) {
    await writeNodeFile(fs, backupPath, existing ?? '');
    await writeNodeFile(fs, options.path, options.content);
    await restartResolved(context);
  }
  return report(changeStatus(changes, dryRun), changes);
}

export interface BridgeStepOptions {
  readonly name: string;
  /** Gateway as `address/prefix`, e.g. `172.38.0.1/16` (what the bridge plugin puts on the bridge). */
  readonly addresses: readonly string[];
}

async function readBridge(context: StepContext, name: string): Promise<BridgeCurrent> {
  const links = await context.runner('ip', ['-j', '-d', 'link', 'show']);
  const addresses = await context.runner('ip', ['-j', 'addr', 'show']);
  if (links.exitCode !== 0)
    throw new CommandFailedError('ip', ['-j', '-d', 'link', 'show'], links.exitCode, links.stderr);
  if (addresses.exitCode !== 0) {
    throw new CommandFailedError('ip', ['-j', 'addr', 'show'], addresses.exitCode, addresses.stderr);
  }
  return parseBridgeState(name, links.stdout || '[]', addresses.stdout || '[]');
}

/**
 * install: create the bridge (if missing), put the gateway address on it and set it up, so the node-local
 * DNS can bind the gateway before the first pod exists (the bridge plugin reuses a matching bridge).
 * remove: delete it only when it carries our address and has no ports (no pods). check: report what is missing.
 */
export async function syncBridge(
  context: StepContext,
  action: NodeSetupAction,
  desired: BridgeStepOptions,
): Promise<StepReport> {
  const current = await readBridge(context, desired.name);
  const notes: string[] = [];
  let commands: string[][];
  if (action === 'remove') {
    const removal = planBridgeRemoval(current, desired);
    commands = removal.commands;
    if (removal.reason !== undefined) notes.push(removal.reason);
  } else {
    try {
      commands = planBridge(current, desired);
    } catch (error) {
      return { step: 'bridge', status: 'problems', changes: [], problems: [(error as Error).message], notes };
    }
    if (action === 'check') {
      const problems = commands.map((argv) => `missing: ip ${argv.join(' ')}`);
      return {
        step: 'bridge',
        status: problems.length > 0 ? 'problems' : 'ok',
        changes: [],
        problems,
        notes,
      };
    }
  }
  const changes = commands.map((argv) => `ip ${argv.join(' ')}`);
  if (!context.dryRun) {
    for (const argv of commands) {
      const result = await context.runner('ip', argv);
      if (result.exitCode !== 0) throw new CommandFailedError('ip', argv, result.exitCode, result.stderr);
    }
  }
  return { step: 'bridge', status: changeStatus(changes, context.dryRun), changes, problems: [], notes };
}
