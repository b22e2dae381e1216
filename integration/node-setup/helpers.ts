/** Small process helpers for the node-setup integration tests: commands, named and dig inside a netns. */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(
  command: string,
  args: readonly string[],
  options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, timeout: 20_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
    // Commands that never read stdin close it early: not an error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

export async function must(
  command: string,
  args: readonly string[],
  options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${[command, ...args].join(' ')} exited ${String(result.code)}: ${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}

export const suffix = (): string => randomBytes(4).toString('hex');

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface Answer {
  addresses: string[];
  /** dig's own "Query time", ms. */
  queryTimeMs?: number;
  output: string;
}

/** One non-recursive A query with the real dig, run inside the netns at `netnsPath` (one try, one second). */
export async function digIn(
  netnsPath: string,
  query: { server: string; port: number; name: string; tcp: boolean },
): Promise<Answer> {
  const result = await run('nsenter', [
    `--net=${netnsPath}`,
    '--',
    'dig',
    `@${query.server}`,
    '-p',
    String(query.port),
    query.name,
    'A',
    '+norecurse',
    '+time=1',
    '+tries=1',
    ...(query.tcp ? ['+tcp'] : []),
  ]);
  const output = result.stdout + result.stderr;
  const answerSection = output.split(';; ANSWER SECTION:')[1]?.split('\n\n')[0] ?? '';
  const addresses = [...answerSection.matchAll(/\sIN\s+A\s+(\S+)/g)].map((match) => match[1] ?? '');
  const time = /;; Query time: (\d+) msec/.exec(output)?.[1];
  return { addresses, output, ...(time === undefined ? {} : { queryTimeMs: Number(time) }) };
}

export interface NamedInNetns {
  readonly pid: number;
  /** SIGHUP after stamping the zone file with the current time (named skips files it thinks unchanged). */
  reload(): Promise<void>;
  /** SIGKILL by PID; safe to call twice. */
  stop(): void;
}

/** A real named (-g) inside a netns, authoritative for one zone file, listening on the given addresses. */
export async function startNamedInNetns(options: {
  netnsPath: string;
  dir: string;
  addresses: readonly string[];
  port: number;
  origin: string;
  zoneFile: string;
  /** Resolves when named answers; polled until it does (15 s). */
  ready: () => Promise<boolean>;
}): Promise<NamedInNetns> {
  const conf = join(options.dir, 'named.conf');
  await writeFile(
    conf,
    [
      'options {',
      `  directory "${options.dir}";`,
      `  pid-file "${join(options.dir, 'named.pid')}";`,
      `  session-keyfile "${join(options.dir, 'session.key')}";`,
      `  managed-keys-directory "${options.dir}";`,
      `  listen-on port ${String(options.port)} { ${options.addresses.map((address) => `${address};`).join(' ')} };`,
      '  listen-on-v6 { none; };',
      '  recursion no;',
      '  dnssec-validation no;',
      '  notify no;',
      '  allow-query { any; };',
      '};',
      'controls { };',
      `zone "${options.origin}." { type primary; file "${options.zoneFile}"; };`,
      '',
    ].join('\n'),
  );
  // nsenter without --fork execs named: the PID we get is named's.
  const child = spawn(
    'nsenter',
    [`--net=${options.netnsPath}`, '--', 'named', '-g', '-4', '-n', '1', '-c', conf],
    {
      stdio: 'ignore',
    },
  );
  if (child.pid === undefined) throw new Error('named did not start');
  const pid = child.pid;
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const deadline = Date.now() + 15_000;
  while (!(await options.ready())) {
    if (Date.now() > deadline || child.exitCode !== null) {
      stop();
      throw new Error(`named in ${options.netnsPath} did not answer on port ${String(options.port)}`);
    }
    await sleep(100);
  }
  return {
    pid,
    stop,
    reload: async () => {
      const now = new Date();
      await utimes(options.zoneFile, now, now);
      process.kill(pid, 'SIGHUP');
    },
  };
}
