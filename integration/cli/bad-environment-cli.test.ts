import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  assertZoneValid,
  freeTcpPort,
  killProcessTree,
  secondaryNicVmi,
  sleep,
  spawnProcess,
  startFakeApiServer,
  waitFor,
  type FakeApiServer,
  type SpawnedProcess,
} from '@zonewright/testkit';
import { cleanEnv, cli, root, runCli } from './lib/cli-runs.js';

// A bad environment through the built CLI: `--once` ends with one line (exit 1 for the environment, 2 for a bad
// input value); long-running watchers log, back off without spinning, turn /healthz unhealthy, and stop on
// SIGTERM at every stage; a good zone on disk is never emptied.

const random = Math.random().toString(36).slice(2, 8);
const procDir = `/proc/zonewright-${random}`;
const vmiDir = path.join(root, 'examples/vmis');
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'zw-bad-env-'));
  await writeFile(path.join(dir, 'a-file'), 'not a directory');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The last line of stderr, which must be the only non-log line: `zonewright: …`, no stack trace. */
function finalLine(stderr: string): string {
  expect(stderr).not.toMatch(/\n\s+at [^\n]+:\d+:\d+/);
  const lines = stderr.trimEnd().split('\n');
  const plain = lines.filter((line) => !line.startsWith('{'));
  expect(plain).toHaveLength(1);
  return plain[0] ?? '';
}

/** CPU seconds (user + system) the process has used so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

const monitorOnce = (zonesDir: string, extra: readonly string[] = []) => [
  'monitor',
  '--once',
  '--source=directory',
  '--vmi-dir',
  vmiDir,
  '--zones-dir',
  zonesDir,
  '--log-format=json',
  ...extra,
];

describe('--once and render with a bad environment: one line, bounded time', () => {
  const cases: [string, () => string[], number, RegExp][] = [
    [
      'a zones dir that cannot be created (/proc/x: the old 100 % CPU spin)',
      () => monitorOnce(procDir),
      1,
      /^zonewright: cannot use zone directory \/proc\/zonewright-\w+: ENOENT/,
    ],
    [
      'a zones dir that is a file',
      () => monitorOnce(path.join(dir, 'a-file')),
      1,
      /^zonewright: cannot use zone directory \S+a-file: ENOTDIR/,
    ],
    [
      'a zones dir below a file',
      () => monitorOnce(path.join(dir, 'a-file', 'zones')),
      1,
      /^zonewright: cannot use zone directory \S+a-file\/zones: ENOTDIR/,
    ],
    [
      'a zones dir that exists but takes no files (/proc)',
      () => monitorOnce('/proc'),
      1,
      /^zonewright: cannot write \/proc\/db\.vm: /,
    ],
    [
      'a missing VMI folder',
      () => monitorOnce(path.join(dir, 'zones-missing-vmis'), ['--vmi-dir', path.join(dir, 'no-such-dir')]),
      1,
      /^zonewright: VMI directory \S+no-such-dir cannot be read: ENOENT/,
    ],
    [
      'render into a zones dir that cannot be created',
      () => ['render', '--vmis', path.join(vmiDir, 'web-frontend.yaml'), '--zones-dir', procDir],
      1,
      /^zonewright: cannot use zone directory \/proc\/zonewright-\w+: ENOENT/,
    ],
    [
      'render from a missing file (a bad input value)',
      () => ['render', '--vmis', path.join(dir, 'missing.json')],
      2,
      /^zonewright: cannot read \S+missing\.json: ENOENT/,
    ],
    [
      'a kubeconfig that does not exist (a bad input value)',
      () => ['monitor', '--once', '--kubeconfig', path.join(dir, 'nope'), '--name-server-ip', '192.0.2.1'],
      2,
      /^zonewright: cannot load Kubernetes configuration: ENOENT/,
    ],
    [
      'cri-watch --once without a runtime socket',
      () => [
        'cri-watch',
        '--once',
        '--runtime-endpoint',
        `unix://${dir}/no-runtime.sock`,
        '--zones-dir',
        path.join(dir, 'cri-zones'),
        '--timeout=2s',
      ],
      1,
      /^zonewright: CRI ListPodSandbox on unix:\/\/\S+no-runtime\.sock failed \(UNAVAILABLE\)/,
    ],
  ];

  it.each(cases)('%s', async (_name, args, code, message) => {
    const started = Date.now();
    const run = await runCli(args(), {}, 60_000);
    expect({ code: run.code, signal: run.signal }).toEqual({ code, signal: null });
    expect(finalLine(run.stderr)).toMatch(message);
    expect(Date.now() - started).toBeLessThan(45_000); // a loaded shared machine; the old spin never ended
  });

  it('keeps a good zone when the next run fails, and keeps good VMIs when some files are unreadable', async () => {
    const zones = path.join(dir, 'zones-kept');
    const first = await runCli(monitorOnce(zones));
    expect(first.code).toBe(0);
    const good = await readFile(path.join(zones, 'db.vm'), 'utf8');

    const failed = await runCli(monitorOnce(zones, ['--vmi-dir', path.join(dir, 'no-such-dir')]));
    expect(failed.code).toBe(1);
    expect(await readFile(path.join(zones, 'db.vm'), 'utf8')).toBe(good);

    const mixed = path.join(dir, 'vmis-mixed');
    await mkdir(mixed);
    await writeFile(
      path.join(mixed, 'good.json'),
      JSON.stringify(secondaryNicVmi('good', 'default', ['192.0.2.7'])),
    );
    await writeFile(path.join(mixed, 'broken.yaml'), 'metadata: [unclosed\n');
    await symlink(path.join(dir, 'nowhere.yaml'), path.join(mixed, 'dangling.yaml'));
    const zonesMixed = path.join(dir, 'zones-mixed');
    const run = await runCli(monitorOnce(zonesMixed, ['--vmi-dir', mixed]));
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/cannot use \S+broken\.yaml/);
    await assertZoneValid('vm', path.join(zonesMixed, 'db.vm'));
    expect(await readFile(path.join(zonesMixed, 'db.vm'), 'utf8')).toMatch(/^good\.default\s/m);
  });
});

describe('long-running watchers with a bad environment: back off, unhealthy, SIGTERM at every stage', () => {
  let api: FakeApiServer | undefined;
  const running: SpawnedProcess[] = [];

  afterAll(async () => {
    for (const child of running) await killProcessTree(child.pid);
    await api?.stop();
  });

  async function start(args: readonly string[]): Promise<{ child: SpawnedProcess; port: number }> {
    const port = await freeTcpPort();
    const child = await spawnProcess(
      process.execPath,
      [cli, ...args, '--listen', `127.0.0.1:${String(port)}`, '--log-format=json'],
      { env: cleanEnv() },
    );
    running.push(child);
    return { child, port };
  }

  const logged = (child: SpawnedProcess, text: string) =>
    waitFor(() => (child.output().includes(text) ? true : undefined), {
      timeoutMs: 45_000,
      description: `"${text}" in the output:\n${child.output()}`,
    });

  /** SIGTERM, then the exit must come within `boundMs`. */
  async function stopWithin(
    child: SpawnedProcess,
    boundMs: number,
  ): Promise<{ code: number | null; ms: number }> {
    const sent = Date.now();
    process.kill(child.pid, 'SIGTERM');
    const status = await Promise.race([child.exited, sleep(boundMs).then(() => undefined)]);
    const ms = Date.now() - sent;
    expect({ exitedWithin: boundMs, output: status === undefined ? child.output() : '' }).toEqual({
      exitedWithin: boundMs,
      output: '',
    });
    return { code: status?.code ?? null, ms };
  }

  async function healthz(port: number): Promise<{ status: number; body: string } | undefined> {
    try {
      const response = await fetch(`http://127.0.0.1:${String(port)}/healthz`);
      return { status: response.status, body: await response.text() };
    } catch {
      return undefined;
    }
  }

  it('monitor with a zones dir that cannot be created: logs, backs off (no spin), 503 after --unhealthy-after, SIGTERM', async () => {
    const { child, port } = await start([
      'monitor',
      '--source=directory',
      '--vmi-dir',
      vmiDir,
      '--zones-dir',
      procDir,
      '--unhealthy-after',
      '1s',
    ]);
    await logged(child, `cannot use zone directory ${procDir}: ENOENT`);
    const before = cpuSeconds(child.pid);
    await sleep(3000);
    const used = cpuSeconds(child.pid) - before;
    expect(used).toBeLessThan(0.5); // the old loop used a whole core: ~3 s of CPU in 3 s
    const health = await waitFor(
      async () => ((await healthz(port))?.status === 503 ? healthz(port) : undefined),
      {
        timeoutMs: 20_000,
        description: '/healthz 503',
      },
    );
    expect(health?.body).toContain(`cannot use zone directory ${procDir}`);
    expect(child.output()).toMatch(/retrying in \d+ ms[\s\S]*retrying in \d+ ms/); // more than one attempt, with a delay
    const stopped = await stopWithin(child, 5000);
    expect(stopped.code).toBe(0);
  });

  it('monitor whose writes fail (zones dir /proc): retries with backoff, SIGTERM while backing off', async () => {
    const { child } = await start([
      'monitor',
      '--source=directory',
      '--vmi-dir',
      vmiDir,
      '--zones-dir',
      '/proc',
    ]);
    await logged(child, 'writing zone vm failed; retrying in');
    const before = cpuSeconds(child.pid);
    await sleep(2000);
    expect(cpuSeconds(child.pid) - before).toBeLessThan(0.5);
    expect((await stopWithin(child, 5000)).code).toBe(0);
  });

  it('monitor listing from an API that does not answer: SIGTERM while listing', async () => {
    api = await startFakeApiServer({ latencyMs: 30_000 }); // every answer comes after the test is over
    api.add(secondaryNicVmi('web', 'default', ['192.0.2.10']));
    const kubeconfig = await api.writeKubeconfig(dir);
    const { child } = await start([
      'monitor',
      '--kubeconfig',
      kubeconfig,
      '--zones-dir',
      path.join(dir, 'zones-listing'),
      '--name-server-ip',
      '192.0.2.53',
    ]);
    await logged(child, 'watching virtualmachineinstances.kubevirt.io');
    await waitFor(
      () => (api?.requests.some((request) => request.includes('virtualmachineinstances')) ? true : undefined),
      {
        timeoutMs: 20_000,
        description: 'a list request',
      },
    );
    expect((await stopWithin(child, 5000)).code).toBe(0);
  });

  it('cri-watch without a runtime socket: logs, retries without spinning, SIGTERM', async () => {
    const { child } = await start([
      'cri-watch',
      '--runtime-endpoint',
      `unix://${dir}/no-runtime-live.sock`,
      '--zones-dir',
      path.join(dir, 'cri-live'),
      '--interval',
      '500ms',
    ]);
    await logged(child, 'CRI poll failed');
    const before = cpuSeconds(child.pid);
    await sleep(3000);
    expect(cpuSeconds(child.pid) - before).toBeLessThan(0.5);
    expect((await stopWithin(child, 5000)).code).toBe(0);
  });

  it('SIGTERM while starting (before the watcher is wired) ends the process at once', async () => {
    const { child } = await start([
      'monitor',
      '--source=directory',
      '--vmi-dir',
      vmiDir,
      '--zones-dir',
      procDir,
    ]);
    await sleep(100);
    const stopped = await stopWithin(child, 5000);
    // Before the handlers are installed SIGTERM ends the process (code null, signal); after, it exits 0.
    expect([0, null]).toContain(stopped.code);
  });
});
