import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { servedSoaSerial } from './dig.js';
import { findFreeDnsPort } from './named.js';
import { killProcessTree, runCommand, spawnProcess, waitFor, WaitTimeoutError } from './processes.js';
import type { SpawnedProcess } from './processes.js';

export interface KnotPrimary {
  readonly address: string;
  readonly port: number;
}

export interface KnotOptions {
  /** Zone origins (with or without the trailing dot); Knot is a secondary of each, transferred from primary. */
  readonly zones: readonly string[];
  /** Where Knot asks for the SOA and transfers from (one Knot `remote`). */
  readonly primary: KnotPrimary;
  /** Addresses or CIDRs allowed to send NOTIFY (one Knot `acl`, action notify); default the primary's address. */
  readonly notifyFrom?: readonly string[];
  /** Loopback address to listen on; default 127.0.0.1. */
  readonly address?: string;
  /** Port for UDP and TCP; default a free random high port. */
  readonly port?: number;
  /** Time allowed for start-up (knotd running and every zone transferred); default 15000 ms. */
  readonly timeoutMs?: number;
}

export interface KnotServer {
  readonly address: string;
  readonly port: number;
  readonly pid: number;
  /** Directory holding knot.conf, the rundir (pid file, control socket), storage, journal and zone copies. */
  readonly directory: string;
  /** The configuration knotd runs with. */
  readonly config: string;
  /** Runs `knotc` against this knotd's control socket, e.g. `['zone-status']`; rejects on a non-zero exit. */
  control(args: readonly string[]): Promise<string>;
  /** Kills knotd by pid and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
  /** knotd's log (it logs to stderr, everything from info up). */
  output(): string;
}

/** knotd did not start, a zone was not transferred, or knotc failed. */
export class KnotError extends Error {
  constructor(message: string, output: string) {
    super(output === '' ? message : `${message}\n--- knotd output:\n${output}`);
    this.name = 'KnotError';
  }
}

export interface KnotConfigInput {
  /** Absolute directory for everything knotd writes. */
  readonly directory: string;
  readonly address: string;
  readonly port: number;
  /** The user knotd runs as (knot.conf `server.user`). */
  readonly user: string;
  readonly zones: readonly string[];
  readonly primary: KnotPrimary;
  readonly notifyFrom: readonly string[];
}

function quote(text: string): string {
  if (/["\\\n\r]/.test(text) || text.trim() === '') {
    throw new KnotError(`cannot put ${JSON.stringify(text)} into knot.conf`, '');
  }
  return `"${text}"`;
}

function zoneName(origin: string): string {
  return origin === '.' ? '.' : origin.replace(/\.$/, '');
}

/** Knot's ADDR@PORT (IPv6 without brackets). */
function knotAddress(address: string, port?: number): string {
  if (isIP(address) === 0) throw new KnotError(`${JSON.stringify(address)} is not an IP address`, '');
  return port === undefined ? address : `${address}@${port}`;
}

function knotNetwork(network: string): string {
  const [address = '', prefix, ...rest] = network.split('/');
  const longest = address.includes(':') ? 128 : 32;
  if (rest.length > 0 || (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= longest))) {
    throw new KnotError(`${JSON.stringify(network)} is not an address or CIDR`, '');
  }
  return prefix === undefined ? knotAddress(address) : `${knotAddress(address)}/${prefix}`;
}

/**
 * knot.conf(5) for one test's knotd (Knot 3.2 key names): listens on address@port only, keeps its rundir,
 * storage, journal and zone copies under directory, and is a secondary of every zone in the shape
 * docs/zone-transfer.md documents: one `remote` (the primary), one `acl` allowing NOTIFY, one `template`
 * with `master` + `acl`, and each zone using that template. Pure; exported for unit tests.
 */
export function knotConfig(input: KnotConfigInput): string {
  if (input.zones.length === 0) throw new KnotError('a Knot secondary needs at least one zone', '');
  if (input.notifyFrom.length === 0) throw new KnotError('notifyFrom must allow at least one address', '');
  if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535) {
    throw new KnotError(`port ${input.port} is not a port number`, '');
  }
  const directory = input.directory;
  return [
    '# One test-local knotd (@zonewright/testkit startKnot); nothing outside this directory.',
    'server:',
    `    rundir: ${quote(join(directory, 'run'))}`,
    `    user: ${quote(input.user)}`,
    `    listen: ${knotAddress(input.address, input.port)}`,
    '    udp-workers: 1',
    '    tcp-workers: 1',
    '    background-workers: 1',
    '',
    'control:',
    `    listen: ${quote(join(directory, 'run', 'knot.sock'))}`,
    '',
    'log:',
    '  - target: stderr',
    '    any: info',
    '',
    'database:',
    `    storage: ${quote(join(directory, 'storage'))}`,
    `    journal-db: ${quote(join(directory, 'journal'))}`,
    '    journal-db-max-size: 64M',
    '    kasp-db-max-size: 16M',
    '    timer-db-max-size: 16M',
    '    catalog-db-max-size: 16M',
    '',
    'remote:',
    '  - id: primary',
    `    address: ${knotAddress(input.primary.address, input.primary.port)}`,
    '',
    'acl:',
    '  - id: primary-notify',
    `    address: [ ${input.notifyFrom.map(knotNetwork).join(', ')} ]`,
    '    action: notify',
    '',
    'template:',
    '  - id: secondary',
    `    storage: ${quote(join(directory, 'zones'))}`,
    '    master: primary',
    '    acl: primary-notify',
    '',
    'zone:',
    ...input.zones.flatMap((origin) => [`  - domain: ${quote(zoneName(origin))}`, '    template: secondary']),
    '',
  ].join('\n');
}

const PORT_TAKEN = /cannot bind address .*address already in use/;

/** knotc with this directory's knot.conf and control socket (never the machine's /run/knot/knot.sock). */
async function runKnotc(directory: string, timeoutSeconds: number, args: readonly string[]) {
  const socket = join(directory, 'run', 'knot.sock');
  return runCommand(
    'knotc',
    ['-c', join(directory, 'knot.conf'), '-s', socket, '-t', String(timeoutSeconds), ...args],
    { timeoutMs: (timeoutSeconds + 5) * 1000 },
  );
}

/** Runs knotc against the control socket in directory; returns its output, throws KnotError on failure. */
async function knotc(directory: string, args: readonly string[], output: () => string): Promise<string> {
  const result = await runKnotc(directory, 5, args);
  if (result.code !== 0) {
    throw new KnotError(
      `knotc ${args.join(' ')} exited with ${result.code ?? result.signal ?? 'unknown'}: ` +
        (result.stdout + result.stderr).trim(),
      output(),
    );
  }
  return result.stdout;
}

export interface KnotConfigCheck {
  readonly valid: boolean;
  /** knotc's verdict, e.g. "error: config, file '…', line 10, item 'primary', value 'x' (invalid item)". */
  readonly output: string;
}

/**
 * Lets the installed Knot judge a configuration text (`knotc conf-check` on a copy in a temporary directory,
 * removed again): key names, references between sections, value syntax. Starts no server.
 */
export async function checkKnotConfig(text: string): Promise<KnotConfigCheck> {
  const directory = await mkdtemp(join(tmpdir(), 'zw-knot-check-'));
  try {
    const file = join(directory, 'knot.conf');
    await writeFile(file, text);
    const result = await runCommand('knotc', ['-c', file, 'conf-check'], { timeoutMs: 10_000 });
    return { valid: result.code === 0, output: (result.stdout + result.stderr).trim() };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/**
 * Waits until knotd answers `knotc status` over its control socket, then until it serves the SOA of every
 * zone authoritatively (the first transfer from the primary is done). Fails at once when knotd exits.
 */
async function waitForStart(
  knotd: SpawnedProcess,
  directory: string,
  address: string,
  port: number,
  zones: readonly string[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const failIfExited = (): void => {
    const exited = knotd.exitStatus();
    if (exited) throw new KnotError(`knotd exited (${exited.code ?? exited.signal})`, knotd.output());
  };
  const pending = new Set(zones);
  try {
    await waitFor(
      async () => {
        failIfExited();
        return (await runKnotc(directory, 1, ['status'])).code === 0 ? true : undefined;
      },
      { timeoutMs, intervalMs: 20, description: `knotd on ${address}@${port} to answer knotc status` },
    );
    await waitFor(
      async () => {
        failIfExited();
        for (const origin of pending) {
          if ((await servedSoaSerial({ address, port }, origin)) !== undefined) pending.delete(origin);
        }
        return pending.size === 0 ? true : undefined;
      },
      {
        timeoutMs: Math.max(0, deadline - Date.now()),
        intervalMs: 50,
        description: `knotd on ${address}@${port} to transfer and serve ${zones.join(', ')}`,
      },
    );
  } catch (error) {
    // knotd's log says why (refresh failed, transfer refused, ...): keep it with the timeout.
    if (error instanceof WaitTimeoutError) throw new KnotError(error.message, knotd.output());
    throw error;
  }
}

/**
 * Starts a real Knot DNS knotd in the foreground with its own knot.conf in a temporary directory, as a
 * secondary of every given zone, and resolves once it serves the SOA of each (transferred from the primary).
 * Listens on loopback only; runs as the current user (root in CI), never as the package's `knot` user, and
 * never touches /var/lib/knot or /run/knot.
 */
export async function startKnot(options: KnotOptions): Promise<KnotServer> {
  const address = options.address ?? '127.0.0.1';
  if (isIP(address) === 0) throw new KnotError(`address ${JSON.stringify(address)} is not an IP address`, '');
  const timeoutMs = options.timeoutMs ?? 15_000;
  const attempts = options.port === undefined ? 3 : 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = options.port ?? (await findFreeDnsPort(address));
    const directory = await mkdtemp(join(tmpdir(), 'zw-knot-'));
    let knotd: SpawnedProcess | undefined;
    try {
      const config = knotConfig({
        directory,
        address,
        port,
        user: userInfo().username,
        zones: options.zones,
        primary: options.primary,
        notifyFrom: options.notifyFrom ?? [options.primary.address],
      });
      for (const sub of ['run', 'storage', 'journal', 'zones']) await mkdir(join(directory, sub));
      await writeFile(join(directory, 'knot.conf'), config);
      knotd = await spawnProcess('knotd', ['-c', join(directory, 'knot.conf')], { cwd: directory });
      await waitForStart(knotd, directory, address, port, options.zones, timeoutMs);
      return makeServer(knotd, directory, address, port, config);
    } catch (error) {
      lastError = error;
      if (knotd) await killProcessTree(knotd.pid);
      await rm(directory, { recursive: true, force: true });
      if (!(error instanceof KnotError && PORT_TAKEN.test(error.message))) break;
    }
  }
  throw lastError instanceof Error ? lastError : new KnotError(String(lastError), '');
}

function makeServer(
  knotd: SpawnedProcess,
  directory: string,
  address: string,
  port: number,
  config: string,
): KnotServer {
  let stopped = false;
  return {
    address,
    port,
    pid: knotd.pid,
    directory,
    config,
    output: () => knotd.output(),
    async control(args) {
      if (stopped) throw new KnotError('control() after stop()', knotd.output());
      return knotc(directory, args, () => knotd.output());
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await killProcessTree(knotd.pid);
      } finally {
        await rm(directory, { recursive: true, force: true });
      }
    },
  };
}
