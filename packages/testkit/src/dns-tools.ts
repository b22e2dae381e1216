import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from './processes.js';

/** The zone file was rejected by at least one real parser. */
export class ZoneInvalidError extends Error {
  constructor(
    readonly origin: string,
    readonly file: string,
    readonly named: NamedCheckResult,
    readonly miekg: MiekgReport,
  ) {
    super(
      `zone ${origin} in ${file} is not valid:\n` +
        `--- named-checkzone (${named.ok ? 'accepted' : 'REJECTED'}):\n${named.output.trimEnd()}\n` +
        `--- miekg/dns zonecheck (${miekg.ok ? 'accepted' : 'REJECTED'}):\n` +
        (miekg.errors.map((e) => `${file}:${e.line}: ${e.message}`).join('\n') || '(no errors)'),
    );
    this.name = 'ZoneInvalidError';
  }
}

/** A checker could not run at all (as opposed to rejecting the zone). */
export class ZoneCheckerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZoneCheckerError';
  }
}

let repoRootCache: string | undefined;

/** The repository root: the nearest directory at or above start (default: this module) holding lerna.json. */
export function findRepoRoot(start?: string): string {
  if (start === undefined && repoRootCache !== undefined) return repoRootCache;
  const from = start ?? dirname(fileURLToPath(import.meta.url));
  let dir = from;
  while (!existsSync(join(dir, 'lerna.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new ZoneCheckerError(`no lerna.json found at or above ${from}`);
    dir = parent;
  }
  if (start === undefined) repoRootCache = dir;
  return dir;
}

/** Path of the built miekg/dns checker; throws when it has not been built. */
export function zonecheckPath(): string {
  const path = join(findRepoRoot(), 'tools', 'zonecheck', 'zonecheck');
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new ZoneCheckerError(`the zone checker ${path} is not built: run scripts/install-test-deps.sh`);
  }
  return path;
}

export interface NamedCheckResult {
  readonly ok: boolean;
  /** named-checkzone's stdout and stderr. */
  readonly output: string;
  /** The SOA serial named-checkzone loaded, when it loaded the zone. */
  readonly serial: number | undefined;
}

/**
 * Flags for named-checkzone: host names must be valid (-k), NS/MX/SRV targets
 * must be sane (-n, -m, -M, -S), in-zone NS/MX/SRV targets need addresses
 * (-i local): a zone that passes is what a careful operator would serve.
 */
export const NAMED_CHECKZONE_FLAGS: readonly string[] = [
  '-i',
  'local',
  '-k',
  'fail',
  '-n',
  'fail',
  '-m',
  'fail',
  '-M',
  'fail',
  '-S',
  'fail',
];

const CHECK_TIMEOUT_MS = 60_000;

/** Runs BIND's named-checkzone (strict, see NAMED_CHECKZONE_FLAGS) on a zone file. */
export async function checkWithNamedCheckzone(origin: string, file: string): Promise<NamedCheckResult> {
  const result = await runCommand('named-checkzone', [...NAMED_CHECKZONE_FLAGS, origin, file], {
    timeoutMs: CHECK_TIMEOUT_MS,
  });
  const output = result.stdout + result.stderr;
  const serial = /loaded serial (\d+)/.exec(output)?.[1];
  return { ok: result.code === 0, output, serial: serial === undefined ? undefined : Number(serial) };
}

export interface MiekgProblem {
  /** 1-based line of a syntax error; 0 when the problem is not tied to a line. */
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export interface MiekgRecord {
  readonly name: string;
  readonly ttl: number;
  readonly type: string;
  readonly data: string;
}

export interface MiekgReport {
  readonly ok: boolean;
  readonly file: string;
  /** Fully qualified origin (trailing dot). */
  readonly origin: string;
  /** Records parsed (up to the first syntax error). */
  readonly records: number;
  readonly soaSerial: number | null;
  /** Distinct owner names, fully qualified, sorted. */
  readonly owners: readonly string[];
  readonly errors: readonly MiekgProblem[];
  /** Every record, only when asked for with { records: true }. */
  readonly rrs?: readonly MiekgRecord[];
}

/**
 * Parses a zone with github.com/miekg/dns, the parser CoreDNS's file and auto
 * plugins use (tools/zonecheck). Not ok on a syntax error (the parser stops
 * there, so at most one), an owner outside the zone, or no SOA at the apex.
 */
export async function checkWithMiekg(
  origin: string,
  file: string,
  options: { records?: boolean } = {},
): Promise<MiekgReport> {
  const args = ['-json', ...(options.records ? ['-rrs'] : []), '-origin', origin, file];
  const result = await runCommand(zonecheckPath(), args, { timeoutMs: CHECK_TIMEOUT_MS });
  if (result.code !== 0 && result.code !== 1) {
    throw new ZoneCheckerError(
      `zonecheck ${args.join(' ')} failed (${result.code ?? result.signal}): ${result.stderr}`,
    );
  }
  let parsed: Omit<MiekgReport, 'ok'>;
  try {
    parsed = JSON.parse(result.stdout) as Omit<MiekgReport, 'ok'>;
  } catch {
    throw new ZoneCheckerError(`zonecheck printed no JSON: ${result.stdout}${result.stderr}`);
  }
  return { ...parsed, ok: result.code === 0 && parsed.errors.length === 0 };
}

export interface ZoneVerdicts {
  readonly named: NamedCheckResult;
  readonly miekg: MiekgReport;
}

/**
 * Checks a zone file with both named-checkzone and the miekg/dns parser and
 * throws ZoneInvalidError, carrying both outputs, when either rejects it.
 */
export async function assertZoneValid(origin: string, file: string): Promise<ZoneVerdicts> {
  const [named, miekg] = await Promise.all([
    checkWithNamedCheckzone(origin, file),
    checkWithMiekg(origin, file),
  ]);
  if (!named.ok || !miekg.ok) throw new ZoneInvalidError(origin, file, named, miekg);
  return { named, miekg };
}
