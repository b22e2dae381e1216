import { createSocket } from 'node:dgram';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer, isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { servedSoaSerial } from './dig.js';
import { killProcessTree, spawnProcess, waitFor } from './processes.js';
import type { SpawnedProcess } from './processes.js';

export interface NamedZone {
  /** Zone origin, with or without the trailing dot. */
  readonly origin: string;
  /** Zone file path; read again by reload(). For a secondary zone: where named keeps the transferred copy. */
  readonly file: string;
  /**
   * Makes this a secondary zone transferred from these primaries (named accepts their NOTIFY, and refreshes
   * only then or at the SOA refresh time). Default: a primary zone loaded from `file`.
   */
  readonly primaries?: readonly { readonly address: string; readonly port: number }[];
}

export interface NamedOptions {
  readonly zones: readonly NamedZone[];
  /** Loopback address to listen on; default 127.0.0.1. */
  readonly address?: string;
  /** Port for UDP and TCP; default a free random high port. */
  readonly port?: number;
  /** Time allowed for start-up and for each reload; default 15000 ms. */
  readonly timeoutMs?: number;
  /** Addresses allowed to transfer (AXFR/IXFR) every zone, e.g. a secondary under test; default none. */
  readonly allowTransfer?: readonly string[];
}

export interface NamedServer {
  readonly address: string;
  readonly port: number;
  readonly pid: number;
  /** Directory holding named.conf, the pid file and named's working files. */
  readonly directory: string;
  /**
   * Makes named re-read every zone file (SIGHUP) and resolves once named has
   * loaded each file again and serves the SOA serial it read from it. Rejects
   * with NamedError when a file does not load (named keeps the old zone).
   */
  reload(): Promise<void>;
  /** Kills named by pid and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
  /** named's log (it runs with -g: everything goes to stderr). */
  output(): string;
}

/** named did not start, or a zone did not load. */
export class NamedError extends Error {
  constructor(message: string, output: string) {
    super(`${message}\n--- named output:\n${output}`);
    this.name = 'NamedError';
  }
}

const BIND_ERROR =
  /not loaded due to errors|address in use|unable to listen|could not listen|loading configuration: .*failed/;

function quote(text: string): string {
  if (/["\\\n]/.test(text)) throw new NamedError(`cannot put ${JSON.stringify(text)} into named.conf`, '');
  return `"${text}"`;
}

function namedConf(
  directory: string,
  address: string,
  port: number,
  zones: readonly NamedZone[],
  allowTransfer: readonly string[],
): string {
  for (const peer of allowTransfer) {
    if (isIP(peer) === 0)
      throw new NamedError(`allowTransfer: ${JSON.stringify(peer)} is not an IP address`, '');
  }
  const family = address.includes(':') ? 'v6' : 'v4';
  return [
    'options {',
    `  directory ${quote(directory)};`,
    `  pid-file ${quote(join(directory, 'named.pid'))};`,
    `  session-keyfile ${quote(join(directory, 'session.key'))};`,
    `  managed-keys-directory ${quote(directory)};`,
    family === 'v4' ? `  listen-on port ${port} { ${address}; };` : '  listen-on { none; };',
    family === 'v6' ? `  listen-on-v6 port ${port} { ${address}; };` : '  listen-on-v6 { none; };',
    '  recursion no;',
    '  dnssec-validation no;',
    '  notify no;',
    '  allow-query { any; };',
    `  allow-transfer { ${allowTransfer.length === 0 ? 'none' : allowTransfer.join('; ')}; };`,
    '};',
    // No control channel: no rndc key, no port 953 shared between instances.
    'controls { };',
    ...zones.map((zone) =>
      zone.primaries === undefined
        ? `zone ${quote(zoneName(zone.origin))} { type primary; file ${quote(resolve(zone.file))}; };`
        : `zone ${quote(zoneName(zone.origin))} { type secondary; file ${quote(resolve(zone.file))}; ` +
          `primaries { ${zone.primaries.map((primary) => `${primary.address} port ${primary.port};`).join(' ')} }; };`,
    ),
    '',
  ].join('\n');
}

async function isUdpPortFree(address: string, port: number): Promise<boolean> {
  const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
  return new Promise((done) => {
    socket.once('error', () => {
      socket.close();
      done(false);
    });
    socket.bind(port, address, () => {
      socket.close(() => {
        done(true);
      });
    });
  });
}

async function isTcpPortFree(address: string, port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((done) => {
    server.once('error', () => {
      done(false);
    });
    server.listen({ port, host: address, exclusive: true }, () => {
      server.close(() => {
        done(true);
      });
    });
  });
}

/**
 * A random port in 20000-32767 (below Linux's ephemeral range, so outgoing
 * connections do not take it) that is free for both UDP and TCP on address
 * right now. Someone may still take it before it is used: callers retry.
 */
export async function findFreeDnsPort(address = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * (32768 - 20000));
    if ((await isUdpPortFree(address, port)) && (await isTcpPortFree(address, port))) return port;
  }
  throw new Error(`no free UDP+TCP port found on ${address} after 50 tries`);
}

function zoneName(origin: string): string {
  return origin === '.' ? '.' : origin.replace(/\.$/, '');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Waits until named has logged, after log line fromLine, that it loaded each
 * zone ("zone NAME/IN: loaded serial N"), and answers that serial
 * authoritatively over the network. Reading the log first keeps the number of
 * dig processes small; the query proves the zone is really served.
 */
async function waitForZones(
  named: SpawnedProcess,
  log: readonly string[],
  fromLine: number,
  address: string,
  port: number,
  zones: readonly NamedZone[],
  timeoutMs: number,
): Promise<void> {
  const pending = new Map(
    zones.map((zone) => [
      zone.origin,
      new RegExp(
        `^(?:\\S+ \\S+ )?zone ${escapeRegExp(zoneName(zone.origin))}/IN: (?:loaded|transferred) serial (\\d+)`,
        'i',
      ),
    ]),
  );
  const description = `named on ${address}#${port} to load and serve ${zones.map((zone) => zone.origin).join(', ')}`;
  await waitFor(
    async () => {
      const exited = named.exitStatus();
      if (exited) throw new NamedError(`named exited (${exited.code ?? exited.signal})`, named.output());
      const recent = log.slice(fromLine);
      const failure = recent.find((line) => BIND_ERROR.test(line));
      if (failure !== undefined) throw new NamedError(`named reported: ${failure}`, named.output());
      for (const [origin, loaded] of pending) {
        const serial = recent
          .map((line) => loaded.exec(line)?.[1])
          .filter((match) => match !== undefined)
          .pop();
        if (serial !== undefined && (await servedSoaSerial({ address, port }, origin)) === Number(serial)) {
          pending.delete(origin);
        }
      }
      return pending.size === 0 ? true : undefined;
    },
    { timeoutMs, intervalMs: 20, description },
  );
}

/**
 * Starts a real BIND named in the foreground (-g) with its own configuration
 * in a temporary directory, authoritative for the given zones (recursion off),
 * and resolves once it serves the SOA of every zone. Listens on loopback only.
 */
export async function startNamed(options: NamedOptions): Promise<NamedServer> {
  if (options.zones.length === 0) throw new NamedError('startNamed needs at least one zone', '');
  const address = options.address ?? '127.0.0.1';
  if (isIP(address) === 0)
    throw new NamedError(`address ${JSON.stringify(address)} is not an IP address`, '');
  const timeoutMs = options.timeoutMs ?? 15_000;
  const attempts = options.port === undefined ? 3 : 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = options.port ?? (await findFreeDnsPort(address));
    const directory = await mkdtemp(join(tmpdir(), 'zw-named-'));
    const log: string[] = [];
    let named: SpawnedProcess | undefined;
    try {
      const confPath = join(directory, 'named.conf');
      await writeFile(
        confPath,
        namedConf(directory, address, port, options.zones, options.allowTransfer ?? []),
      );
      const family = address.includes(':') ? '-6' : '-4';
      named = await spawnProcess('named', ['-g', family, '-n', '1', '-c', confPath], {
        cwd: directory,
        onLine: (line) => log.push(line),
      });
      await waitForZones(named, log, 0, address, port, options.zones, timeoutMs);
      return makeServer({ named, log, directory, address, port, zones: options.zones, timeoutMs });
    } catch (error) {
      lastError = error;
      if (named) await killProcessTree(named.pid);
      await rm(directory, { recursive: true, force: true });
      const portTaken =
        error instanceof NamedError && /address in use|unable to listen|could not listen/.test(error.message);
      if (!portTaken) break;
    }
  }
  throw lastError instanceof Error ? lastError : new NamedError(String(lastError), '');
}

function makeServer(state: {
  named: SpawnedProcess;
  log: readonly string[];
  directory: string;
  address: string;
  port: number;
  zones: readonly NamedZone[];
  timeoutMs: number;
}): NamedServer {
  const { named, log, directory, address, port, zones, timeoutMs } = state;
  let stopped = false;
  return {
    address,
    port,
    pid: named.pid,
    directory,
    output: () => named.output(),
    async reload() {
      if (stopped) throw new NamedError('reload() after stop()', named.output());
      // named skips a file whose mtime is not later than its last load, and
      // file times are coarse: a zone rewritten right after loading can look
      // older. Stamp every file with the current time so that named loads
      // (and logs) every zone again.
      const now = new Date();
      await Promise.all(zones.map(async (zone) => utimes(zone.file, now, now)));
      const fromLine = log.length;
      process.kill(named.pid, 'SIGHUP');
      await waitForZones(named, log, fromLine, address, port, zones, timeoutMs);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await killProcessTree(named.pid);
      } finally {
        await rm(directory, { recursive: true, force: true });
      }
    },
  };
}
