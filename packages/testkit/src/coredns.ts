/**
 * A real CoreDNS for tests and benchmarks, running the Corefiles zonewright ships (corefile/Corefile.*).
 *
 * The shipped text is changed only where a test must differ from a cluster, by adaptCorefile() (pure, unit
 * tested): the zones directory, the listen ports (DNS, health, ready, metrics: random free ones), the bind
 * address (inserted where the shipped file has none) and the upstream (`forward` goes to a test-local resolver
 * or is removed), so nothing leaves loopback or a network namespace the test made. Everything else, `auto`,
 * `reload`, `errors`, `log`, `cache`, `loop`, comments, is served as shipped.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { dig, DigError } from './dig.js';
import type { DigAnswer } from './dig.js';
import { findRepoRoot } from './dns-tools.js';
import { findFreeDnsPort } from './named.js';
import { freeTcpPort, killProcessTree, runCommand, spawnProcess, waitFor } from './processes.js';
import type { SpawnedProcess } from './processes.js';

/** CoreDNS could not be found, is too old, did not start, or a Corefile cannot be adapted safely. */
export class CoreDnsError extends Error {
  constructor(message: string, output = '') {
    super(output === '' ? message : `${message}\n--- CoreDNS output:\n${output}`);
    this.name = 'CoreDnsError';
  }
}

/** The oldest CoreDNS the project supports: earlier versions serve a zone with a syntax error truncated (#6697). */
export const MIN_COREDNS_VERSION = '1.11.4';

/** Where the test CoreDNS is looked for when ZONEWRIGHT_COREDNS is not set. */
export const DEFAULT_COREDNS_PATH = resolve(findRepoRoot(), '..', 'shared', 'tools', 'coredns', 'coredns');

export interface CoreDnsBinary {
  readonly path: string;
  /** e.g. "1.12.1". */
  readonly version: string;
}

function compareVersions(a: string, b: string): number {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let index = 0; index < Math.max(left.length, right.length); index++) {
    const difference = (left[index] ?? 0) - (right[index] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/**
 * The CoreDNS binary for tests: $ZONEWRIGHT_COREDNS, else DEFAULT_COREDNS_PATH. Runs `coredns -version`
 * (synchronously, so test files can decide at load time whether to skip). Throws CoreDnsError, naming the
 * path and what to do, when the binary is missing, does not run, or is older than MIN_COREDNS_VERSION.
 */
export function findCoreDns(env: NodeJS.ProcessEnv = process.env): CoreDnsBinary {
  const configured = env.ZONEWRIGHT_COREDNS;
  const path = configured !== undefined && configured !== '' ? resolve(configured) : DEFAULT_COREDNS_PATH;
  const how =
    `point ZONEWRIGHT_COREDNS at an official CoreDNS >= ${MIN_COREDNS_VERSION} binary ` +
    '(https://github.com/coredns/coredns/releases), e.g. ZONEWRIGHT_COREDNS=/usr/local/bin/coredns';
  if (!existsSync(path)) {
    throw new CoreDnsError(
      `no CoreDNS binary at ${path}${configured === undefined ? ' (ZONEWRIGHT_COREDNS is not set)' : ' (from ZONEWRIGHT_COREDNS)'}: ${how}`,
    );
  }
  let output: string;
  try {
    output = execFileSync(path, ['-version'], { encoding: 'utf8', timeout: 10_000 });
  } catch (error) {
    throw new CoreDnsError(`${path} -version failed (${(error as Error).message}): ${how}`);
  }
  const version = /CoreDNS-(\d+\.\d+\.\d+)/.exec(output)?.[1];
  if (version === undefined)
    throw new CoreDnsError(`${path} -version printed no CoreDNS version: ${how}`, output);
  if (compareVersions(version, MIN_COREDNS_VERSION) < 0) {
    throw new CoreDnsError(`${path} is CoreDNS ${version}, older than ${MIN_COREDNS_VERSION}: ${how}`);
  }
  return { path, version };
}

/**
 * For test files: the CoreDNS binary, or undefined after a loud warning that the CoreDNS tests are skipped
 * and how to enable them. With CI=true a missing or too old binary throws instead, so CI never passes
 * without having run CoreDNS. Use as `const coreDns = coreDnsForTests('my suite');
 * const describeCoreDns = coreDns ? describe : describe.skip;`.
 */
export function coreDnsForTests(
  suite: string,
  env: NodeJS.ProcessEnv = process.env,
): CoreDnsBinary | undefined {
  try {
    return findCoreDns(env);
  } catch (error) {
    if (!(error instanceof CoreDnsError)) throw error;
    if (env.CI === 'true')
      throw new CoreDnsError(`CI=true and the CoreDNS tests cannot run: ${error.message}`);
    const banner = '!'.repeat(78);
    process.stderr.write(
      `\n${banner}\n!! SKIPPED: ${suite} (real CoreDNS tests)\n!! ${error.message}\n${banner}\n\n`,
    );
    return undefined;
  }
}

/** The Corefiles in corefile/ that the harness can run. */
export type ShippedCorefile = 'monitor' | 'node';

export function shippedCorefilePath(corefile: ShippedCorefile): string {
  return join(findRepoRoot(), 'corefile', `Corefile.${corefile}`);
}

export interface CoreDnsPorts {
  readonly dns: number;
  readonly health: number;
  readonly ready: number;
  readonly metrics: number;
}

export interface CorefileAdaptation {
  /** Absolute path of the directory `auto` serves instead of the shipped one. */
  readonly zonesDirectory: string;
  /** The one address every listener binds (DNS, health, ready, metrics). */
  readonly address: string;
  readonly ports: CoreDnsPorts;
  /** `ADDRESS:PORT` every `forward` goes to instead; undefined removes the `forward` lines. */
  readonly upstream?: string;
  /**
   * For measurements only (e.g. comparing reload intervals side by side): replaces every `reload` value.
   * Tests of shipped behaviour leave it unset.
   */
  readonly reload?: string;
  /**
   * Directory the files of an `import` line (the opt-in transfer snippet) come from instead of the shipped
   * one; the file pattern stays. Undefined removes `import` lines, so nothing on this machine is read.
   */
  readonly importDirectory?: string;
}

export interface CorefileChange {
  /** 1-based line in the shipped text; for an inserted line, the line it follows. */
  readonly line: number;
  readonly kind: 'replaced' | 'inserted' | 'removed' | 'env';
  readonly before: string;
  readonly after: string;
}

export interface AdaptedCorefile {
  readonly text: string;
  /**
   * Values for `{$NAME}` placeholders the shipped file uses where the harness changes something (e.g.
   * LOCAL_DNS_PORT in a server key, LOCAL_DNS_ADDRESS in `bind`): the text keeps the placeholder, CoreDNS
   * gets the value through its environment, as in the DaemonSet.
   */
  readonly env: Readonly<Record<string, string>>;
  /** Every change, in order: the whole difference to the shipped text. */
  readonly changes: readonly CorefileChange[];
}

const PLACEHOLDER = /^\{\$([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** Directives that open sockets or send traffic, and that adaptCorefile does not know how to confine. */
const UNCONFINED = new Set(['pprof', 'dnstap', 'secondary', 'grpc', 'trace', 'etcd', 'kubernetes', 'debug']);

function stripComment(line: string): string {
  return line.replace(/(^|\s)#.*$/, '');
}

/**
 * The shipped Corefile text changed only as described in CorefileAdaptation. Pure. Throws CoreDnsError for
 * anything it cannot confine to the test's address (an unknown listener, a `forward` block, a `transfer`
 * that notifies a real address), so a Corefile change that would leak traffic fails the tests instead.
 */
export function adaptCorefile(shipped: string, adaptation: CorefileAdaptation): AdaptedCorefile {
  const { address, ports } = adaptation;
  if (isIP(address) === 0)
    throw new CoreDnsError(`bind address ${JSON.stringify(address)} is not an IP address`);
  if (!isAbsolute(adaptation.zonesDirectory))
    throw new CoreDnsError(`zones directory ${adaptation.zonesDirectory} is not an absolute path`);
  if (/\s|[{}"#]/.test(adaptation.zonesDirectory))
    throw new CoreDnsError(
      `zones directory ${JSON.stringify(adaptation.zonesDirectory)} contains Corefile syntax`,
    );
  const listen = (port: number): string =>
    address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
  const out: string[] = [];
  const changes: CorefileChange[] = [];
  const env: Record<string, string> = {};
  const setEnv = (name: string, value: string, line: number, before: string): void => {
    const previous = env[name];
    if (previous !== undefined && previous !== value)
      throw new CoreDnsError(`Corefile line ${line}: {$${name}} is used for both ${previous} and ${value}`);
    if (previous === undefined) changes.push({ line, kind: 'env', before, after: `${name}=${value}` });
    env[name] = value;
  };
  /** Replaces a port or placeholder argument; a placeholder stays and gets its value through env. */
  const port = (argument: string, value: number, line: number): string => {
    const placeholder = PLACEHOLDER.exec(argument)?.[1];
    if (placeholder !== undefined) {
      setEnv(placeholder, String(value), line, argument);
      return argument;
    }
    return String(value);
  };

  const lines = shipped.split('\n');
  let depth = 0;
  let serverHasBind = false;
  let serverKeyIndex = -1;
  let serverKeyLine = 0;
  lines.forEach((original, index) => {
    const number = index + 1;
    const code = stripComment(original).trim();
    const words = code === '' ? [] : code.split(/\s+/);
    const indent = /^\s*/.exec(original)?.[0] ?? '';
    const replace = (after: string): void => {
      out.push(after);
      if (after !== original) changes.push({ line: number, kind: 'replaced', before: original, after });
    };
    const [directive = '', ...args] = words;
    const opens = words.at(-1) === '{';

    if (depth === 0 && opens) {
      // A server block key line such as `.:5353 {` or `{$CLUSTER_DOMAIN}:{$LOCAL_DNS_PORT} {`.
      const keys = words.slice(0, -1).map((key) => {
        const match = /^(.*):([^:]+)$/.exec(key);
        if (!match) return `${key}:${ports.dns}`;
        return `${match[1]}:${port(match[2] ?? '', ports.dns, number)}`;
      });
      replace(`${indent}${keys.join(' ')} {`);
      serverHasBind = false;
      serverKeyIndex = out.length - 1;
      serverKeyLine = number;
      depth = 1;
      return;
    }
    if (code === '}') {
      depth -= 1;
      if (depth === 0 && !serverHasBind) {
        // The shipped block listens on every address: confine it.
        const bind = `    bind ${address}`;
        out.splice(serverKeyIndex + 1, 0, bind);
        changes.push({ line: serverKeyLine, kind: 'inserted', before: '', after: bind });
      }
      out.push(original);
      return;
    }
    if (opens) depth += 1;
    if (words.length === 0) {
      out.push(original);
      return;
    }
    if (UNCONFINED.has(directive))
      throw new CoreDnsError(
        `Corefile line ${number}: the harness cannot confine \`${directive}\` to ${address}`,
      );
    switch (directive) {
      case 'bind': {
        serverHasBind = true;
        const placeholder = args.length === 1 ? PLACEHOLDER.exec(args[0] ?? '')?.[1] : undefined;
        if (placeholder !== undefined) {
          setEnv(placeholder, address, number, args[0] ?? '');
          out.push(original);
        } else {
          replace(`${indent}bind ${address}`);
        }
        return;
      }
      case 'health':
      case 'ready':
      case 'prometheus': {
        const which = directive === 'prometheus' ? 'metrics' : directive;
        if (args.filter((word) => word !== '{').length !== 1)
          throw new CoreDnsError(
            `Corefile line ${number}: \`${directive}\` without exactly one listen address`,
          );
        replace(`${indent}${directive} ${listen(ports[which])}${opens ? ' {' : ''}`);
        return;
      }
      case 'directory': {
        const [, ...rest] = args;
        replace(
          `${indent}directory ${adaptation.zonesDirectory}${rest.length > 0 ? ` ${rest.join(' ')}` : ''}`,
        );
        return;
      }
      case 'import': {
        if (adaptation.importDirectory === undefined) {
          changes.push({ line: number, kind: 'removed', before: original, after: '' });
        } else {
          replace(`${indent}import ${join(adaptation.importDirectory, basename(args[0] ?? ''))}`);
        }
        return;
      }
      case 'reload': {
        if (adaptation.reload === undefined) out.push(original);
        else replace(`${indent}reload ${adaptation.reload}`);
        return;
      }
      case 'forward': {
        if (opens) throw new CoreDnsError(`Corefile line ${number}: a \`forward\` block is not supported`);
        if (adaptation.upstream === undefined) {
          changes.push({ line: number, kind: 'removed', before: original, after: '' });
        } else {
          replace(`${indent}forward ${args[0] ?? '.'} ${adaptation.upstream}`);
        }
        return;
      }
      case 'to': {
        if (args.some((target) => target !== '*'))
          throw new CoreDnsError(
            `Corefile line ${number}: \`to ${args.join(' ')}\` would notify real addresses`,
          );
        out.push(original);
        return;
      }
      default:
        out.push(original);
    }
  });
  if (depth !== 0) throw new CoreDnsError('Corefile: a block is not closed');
  return { text: out.join('\n'), env, changes };
}

/** `{$NAME}` references in the code (not the comments) of a Corefile. */
export function corefilePlaceholders(text: string): string[] {
  const names = new Set<string>();
  for (const line of text.split('\n'))
    for (const match of stripComment(line).matchAll(/\{\$([A-Za-z_][A-Za-z0-9_]*)\}/g))
      if (match[1] !== undefined) names.add(match[1]);
  return [...names].sort();
}

export interface CoreDnsOptions {
  /** Which shipped Corefile to run. */
  readonly corefile: ShippedCorefile;
  /** Directory `auto` serves (the test's zones directory). */
  readonly zonesDirectory: string;
  /** Address every listener binds; default 127.0.0.1 (inside a netns: an address of that netns). */
  readonly address?: string;
  /** Run inside this network namespace (`nsenter --net=PATH`): a Netns from createNetns or its path. */
  readonly netns?: string | { readonly path: string };
  /** `ADDRESS:PORT` of a test-local resolver for `forward`; default: the `forward` lines are removed. */
  readonly upstream?: string;
  /** Values of the Corefile's other `{$NAME}` placeholders, e.g. { CLUSTER_DOMAIN: 'cluster.local' }. */
  readonly env?: Readonly<Record<string, string>>;
  /** Ports to use; each one not given is a random free one. */
  readonly ports?: Partial<CoreDnsPorts>;
  /** Measurements only: a `reload` interval instead of the shipped one (see CorefileAdaptation.reload). */
  readonly reload?: string;
  /** Directory the Corefile's `import` files come from (see CorefileAdaptation.importDirectory). */
  readonly importDirectory?: string;
  /** Binary; default findCoreDns(). */
  readonly binary?: string;
  /** Limit for start-up and for each wait; default 15000 ms. */
  readonly timeoutMs?: number;
}

export interface CoreDnsQuery {
  readonly tcp?: boolean;
  /** Seconds per try; default 1. */
  readonly timeSeconds?: number;
  /** Tries; default 2. */
  readonly tries?: number;
}

export interface CoreDnsServer {
  readonly pid: number;
  readonly address: string;
  readonly ports: CoreDnsPorts;
  /** The netns path CoreDNS runs in, if any. */
  readonly netnsPath: string | undefined;
  readonly binary: CoreDnsBinary;
  /** The adapted Corefile CoreDNS runs, and how it differs from the shipped one. */
  readonly corefile: AdaptedCorefile;
  /** Directory holding the adapted Corefile (removed by stop()). */
  readonly directory: string;
  /** CoreDNS's output lines so far (stdout and stderr: `log`, `errors`, auto's warnings). */
  logLines(): readonly string[];
  /** Resolves once GET /ready answers 200; rejects if CoreDNS exits. */
  waitReady(): Promise<void>;
  /** Resolves once CoreDNS answers the SOA of origin authoritatively with a serial >= serial. */
  waitForSerial(origin: string, serial: number): Promise<void>;
  /** One non-recursive query with the real dig (inside the netns when CoreDNS runs in one). */
  query(name: string, type: string, options?: CoreDnsQuery): Promise<DigAnswer>;
  /** GET http://ADDRESS:PORT/PATH on one of CoreDNS's HTTP listeners: status and body. */
  httpGet(listener: 'health' | 'ready' | 'metrics', path: string): Promise<{ status: number; body: string }>;
  /** Kills CoreDNS by PID and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

function fqdn(name: string): string {
  return name.endsWith('.') ? name : `${name}.`;
}

async function httpGetHost(url: string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const request = get(url, { timeout: 2000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => done({ status: response.statusCode ?? 0, body }));
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', fail);
  });
}

async function httpGetInNetns(netnsPath: string, url: string): Promise<{ status: number; body: string }> {
  const result = await runCommand(
    'nsenter',
    [`--net=${netnsPath}`, '--', 'curl', '-sS', '--max-time', '2', '-w', '\n%{http_code}', url],
    { timeoutMs: 5000 },
  );
  if (result.code !== 0) throw new Error(`curl ${url} in ${netnsPath}: ${result.stderr.trim()}`);
  const cut = result.stdout.lastIndexOf('\n');
  return { status: Number(result.stdout.slice(cut + 1)), body: result.stdout.slice(0, cut) };
}

const PORT_TAKEN = /address already in use|bind: cannot assign/;

/**
 * Starts a real CoreDNS with a shipped Corefile adapted by adaptCorefile(), and resolves once CoreDNS has
 * printed its start banner (its listeners are open). It does not wait for /ready or for any zone: call
 * waitReady() / waitForSerial() (a test of the start-up itself queries at once). Random ports are retried
 * when CoreDNS finds one taken. Stop it with stop() (by PID).
 */
export async function startCoreDns(options: CoreDnsOptions): Promise<CoreDnsServer> {
  const binary = findCoreDns(
    options.binary === undefined ? process.env : { ZONEWRIGHT_COREDNS: options.binary },
  );
  const address = options.address ?? '127.0.0.1';
  const netnsPath = typeof options.netns === 'string' ? options.netns : options.netns?.path;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const shipped = await readFile(shippedCorefilePath(options.corefile), 'utf8');
  const random = ['dns', 'health', 'ready', 'metrics'].some(
    (key) => options.ports?.[key as keyof CoreDnsPorts] === undefined,
  );
  const attempts = random ? 4 : 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    // Inside a test-made netns every port is free; on the host, pick ones free right now.
    const pick = async (): Promise<number> =>
      netnsPath === undefined ? freeTcpPort() : 20000 + Math.floor(Math.random() * 12000);
    const ports: CoreDnsPorts = {
      dns:
        options.ports?.dns ??
        (netnsPath === undefined
          ? await findFreeDnsPort(address)
          : 20000 + Math.floor(Math.random() * 12000)),
      health: options.ports?.health ?? (await pick()),
      ready: options.ports?.ready ?? (await pick()),
      metrics: options.ports?.metrics ?? (await pick()),
    };
    const corefile = adaptCorefile(shipped, {
      zonesDirectory: resolve(options.zonesDirectory),
      address,
      ports,
      ...(options.upstream === undefined ? {} : { upstream: options.upstream }),
      ...(options.reload === undefined ? {} : { reload: options.reload }),
      ...(options.importDirectory === undefined ? {} : { importDirectory: options.importDirectory }),
    });
    const env: Record<string, string> = { ...(options.env ?? {}) };
    for (const [name, value] of Object.entries(corefile.env)) {
      if (env[name] !== undefined && env[name] !== value)
        throw new CoreDnsError(`env ${name} is set by the harness (${value}); do not pass it in options.env`);
      env[name] = value;
    }
    const missing = corefilePlaceholders(corefile.text).filter((name) => env[name] === undefined);
    if (missing.length > 0)
      throw new CoreDnsError(`Corefile.${options.corefile} needs options.env ${missing.join(', ')}`);

    const directory = await mkdtemp(join(tmpdir(), 'zw-coredns-'));
    const log: string[] = [];
    let coredns: SpawnedProcess | undefined;
    try {
      const confPath = join(directory, 'Corefile');
      await writeFile(confPath, corefile.text);
      const args = ['-conf', confPath];
      // nsenter without --fork execs CoreDNS: the PID is CoreDNS's own.
      coredns = await spawnProcess(
        netnsPath === undefined ? binary.path : 'nsenter',
        netnsPath === undefined ? args : [`--net=${netnsPath}`, '--', binary.path, ...args],
        {
          cwd: directory,
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
          onLine: (line) => log.push(line),
        },
      );
      const started = coredns;
      await waitFor(
        () => {
          const exited = started.exitStatus();
          if (exited)
            throw new CoreDnsError(`CoreDNS exited (${exited.code ?? exited.signal})`, started.output());
          return log.some((line) => line.startsWith(`CoreDNS-${binary.version}`)) ? true : undefined;
        },
        { timeoutMs, intervalMs: 10, description: `CoreDNS to start (Corefile.${options.corefile})` },
      );
      return makeServer({ coredns, log, directory, address, ports, netnsPath, binary, corefile, timeoutMs });
    } catch (error) {
      lastError = error;
      if (coredns) await killProcessTree(coredns.pid);
      await rm(directory, { recursive: true, force: true });
      if (!(error instanceof CoreDnsError && PORT_TAKEN.test(error.message))) break;
    }
  }
  throw lastError instanceof Error ? lastError : new CoreDnsError(String(lastError));
}

function makeServer(state: {
  coredns: SpawnedProcess;
  log: readonly string[];
  directory: string;
  address: string;
  ports: CoreDnsPorts;
  netnsPath: string | undefined;
  binary: CoreDnsBinary;
  corefile: AdaptedCorefile;
  timeoutMs: number;
}): CoreDnsServer {
  const { coredns, log, directory, address, ports, netnsPath, timeoutMs } = state;
  let stopped = false;
  const host = address.includes(':') ? `[${address}]` : address;
  const checkAlive = (): void => {
    const exited = coredns.exitStatus();
    if (exited) throw new CoreDnsError(`CoreDNS exited (${exited.code ?? exited.signal})`, coredns.output());
  };
  const httpGet = async (listener: 'health' | 'ready' | 'metrics', path: string) => {
    const url = `http://${host}:${ports[listener]}${path.startsWith('/') ? path : `/${path}`}`;
    return netnsPath === undefined ? httpGetHost(url) : httpGetInNetns(netnsPath, url);
  };
  const query = async (name: string, type: string, options: CoreDnsQuery = {}) =>
    dig({
      server: address,
      port: ports.dns,
      name,
      type,
      ...options,
      ...(netnsPath === undefined ? {} : { netns: netnsPath }),
    });
  return {
    pid: coredns.pid,
    address,
    ports,
    netnsPath,
    binary: state.binary,
    corefile: state.corefile,
    directory,
    logLines: () => log,
    httpGet,
    query,
    async waitReady() {
      await waitFor(
        async () => {
          checkAlive();
          try {
            return (await httpGet('ready', '/ready')).status === 200 ? true : undefined;
          } catch {
            return undefined; // not listening yet
          }
        },
        { timeoutMs, intervalMs: 50, description: `CoreDNS /ready on ${host}:${ports.ready}` },
      );
    },
    async waitForSerial(origin, serial) {
      await waitFor(
        async () => {
          checkAlive();
          try {
            const answer = await query(fqdn(origin), 'SOA', { tries: 1 });
            const soa = answer.answers.find((record) => record.type === 'SOA');
            const served = soa === undefined ? undefined : Number(soa.value.split(/\s+/)[2]);
            return answer.aa && served !== undefined && served >= serial ? true : undefined;
          } catch (error) {
            if (error instanceof DigError) return undefined;
            throw error;
          }
        },
        { timeoutMs, intervalMs: 50, description: `CoreDNS to serve ${origin} with serial >= ${serial}` },
      );
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await killProcessTree(coredns.pid);
      } finally {
        await rm(directory, { recursive: true, force: true });
      }
    },
  };
}
