import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assertZoneValid,
  buildPauseImage,
  createNetns,
  findRepoRoot,
  freeTcpPort,
  killProcessTree,
  nodeImageCommand,
  runCommand,
  spawnProcess,
  startContainerd,
  waitFor,
  type ContainerdHarness,
  type Netns,
  type RunningSandbox,
} from '@zonewright/testkit';
import { parseZone } from '@zonewright/zone';

// `zonewright cri-watch` as users run it (the built CLI) against a real containerd in a test-made netns.
// A hostNetwork sandbox has no hostname of its own (runc cannot set one without a UTS namespace): its records
// use the pod name.
const cli = join(findRepoRoot(), 'packages/cli/bin/zonewright.js');
// The node image's ENTRYPOINT: the bundle with the image's node flags (Dockerfile.cri).
const image = nodeImageCommand();
const ORIGIN = 'cluster.local';
const NODE_IP = '192.0.2.10';

let netns: Netns | undefined;
let containerd: ContainerdHarness | undefined;
let pauseDir = '';
let zonesDir = '';
const pods = new Map<string, RunningSandbox>();

function cd(): ContainerdHarness {
  if (containerd === undefined) throw new Error('containerd did not start');
  return containerd;
}

async function zoneRecords(): Promise<string[]> {
  const text = await readFile(join(zonesDir, `db.${ORIGIN}`), 'utf8').catch(() => '');
  return parseZone(text, { origin: ORIGIN })
    .records.filter(
      (record) => (record.type === 'A' || record.type === 'AAAA') && record.name !== `ns.${ORIGIN}`,
    )
    .map((record) => `${record.name} ${record.type} ${record.rdata[0] ?? ''}`)
    .sort();
}

function expectedFor(pod: RunningSandbox, hostname: string): string[] {
  return pod.ips.flatMap((ip) => {
    const type = ip.includes(':') ? 'AAAA' : 'A';
    return [
      `${hostname}.${pod.namespace}.svc.${ORIGIN}`,
      `${hostname}.svc.${ORIGIN}`,
      `${hostname}.${ORIGIN}`,
    ].map((name) => `${name} ${type} ${ip}`);
  });
}

/** `cri-watch --once` arguments: one poll into `dir`, then exit. */
function onceArgs(dir: string): string[] {
  return [
    'cri-watch',
    '--once',
    '--runtime-endpoint',
    cd().endpoint,
    '--zones-dir',
    dir,
    '--node-ip',
    NODE_IP,
    '--log-format',
    'json',
  ];
}

/** `cri-watch` arguments for a live watcher at a 500 ms interval with its ops server on `port`. */
function liveArgs(dir: string, port: number, ...extra: string[]): string[] {
  return [
    'cri-watch',
    '--runtime-endpoint',
    cd().endpoint,
    '--zones-dir',
    dir,
    '--node-ip',
    NODE_IP,
    '--interval',
    '500ms',
    '--listen',
    `127.0.0.1:${port}`,
    '--log-format',
    'json',
    ...extra,
  ];
}

/** Waits for the watcher's /readyz (the first zone is written); a failure shows its output. */
async function untilReady(port: number, watcher: { output(): string }): Promise<void> {
  await waitFor(
    async () =>
      (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200
        ? true
        : undefined,
    { timeoutMs: 20_000, description: 'cri-watch /readyz' },
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${watcher.output()}`);
  });
}

beforeAll(async () => {
  netns = await createNetns();
  pauseDir = await mkdtemp(join(tmpdir(), 'zw-cli-pause-'));
  containerd = await startContainerd({ netns, pauseImage: await buildPauseImage({ dir: pauseDir }) });
  zonesDir = await mkdtemp(join(tmpdir(), 'zw-cli-cri-zones-'));
  pods.set('camera', await cd().runSandbox({ name: 'camera-0', namespace: 'edge', hostname: 'camera' }));
  pods.set('gateway', await cd().runSandbox({ name: 'gateway-0', namespace: 'infra', hostname: 'gateway' }));
  pods.set('agent', await cd().runSandbox({ name: 'agent', namespace: 'infra', hostNetwork: true }));
});

afterAll(async () => {
  await containerd?.cleanup();
  await netns?.delete();
  await rm(pauseDir, { recursive: true, force: true });
  await rm(zonesDir, { recursive: true, force: true });
});

describe('zonewright cri-watch', () => {
  it('--once writes every ready sandbox with its real addresses, hostNetwork pods with the node IP', async () => {
    const result = await runCommand(process.execPath, [cli, ...onceArgs(zonesDir)], { timeoutMs: 60_000 });
    expect(result.code).toBe(0);
    const camera = pods.get('camera');
    const gateway = pods.get('gateway');
    if (camera === undefined || gateway === undefined) throw new Error('sandboxes missing');
    expect(camera.ips.length).toBeGreaterThan(0);
    expect(await zoneRecords()).toEqual(
      [
        ...expectedFor(camera, 'camera'),
        ...expectedFor(gateway, 'gateway'),
        ...['agent.infra.svc', 'agent.svc', 'agent'].map((name) => `${name}.${ORIGIN} A ${NODE_IP}`),
      ].sort(),
    );
    await assertZoneValid(ORIGIN, join(zonesDir, `db.${ORIGIN}`));
  });

  it('runs live: ready, metrics, and a removed sandbox leaves the zone within two intervals; SIGTERM exits 0', async () => {
    const port = await freeTcpPort();
    const watcher = await spawnProcess(process.execPath, [cli, ...liveArgs(zonesDir, port)]);
    try {
      await untilReady(port, watcher);
      const gateway = pods.get('gateway');
      if (gateway === undefined) throw new Error('gateway missing');
      const removedAt = Date.now();
      await cd().removeSandbox(gateway.id);
      pods.delete('gateway');
      await waitFor(
        async () =>
          (await zoneRecords()).some((record) => record.startsWith('gateway.')) ? undefined : true,
        {
          timeoutMs: 10_000,
          description: 'gateway records to leave the zone',
        },
      );
      const goneMs = Date.now() - removedAt;
      expect(goneMs).toBeLessThan(2 * 500 + 1500); // two intervals plus the write and slack for a loaded machine
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/zonewright_cri_polls_total\{trigger="interval"\} [1-9]/);
      expect(metrics).toMatch(/zonewright_cri_sandboxes\{state="ready"\} 2/);
      expect(metrics).toMatch(/zonewright_zone_writes_total\{origin="cluster\.local"\} [1-9]/);
      expect(metrics).toMatch(/^zonewright_source_up\{source="cri"\} 1$/m);
      expect(metrics).toMatch(/^zonewright_zone_behind_seconds\{origin="cluster\.local"\} 0$/m);
      await assertZoneValid(ORIGIN, join(zonesDir, `db.${ORIGIN}`));
      watcher.child.kill('SIGTERM');
      const status = await watcher.exited;
      expect(status.code).toBe(0);
    } finally {
      await killProcessTree(watcher.pid);
    }
  });

  it('--unhealthy-after: /healthz answers 503 while zone writes keep failing, 200 after the next good write', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zw-cli-cri-failing-'));
    const zoneFile = join(dir, `db.${ORIGIN}`);
    const port = await freeTcpPort();
    const watcher = await spawnProcess(process.execPath, [
      cli,
      ...liveArgs(dir, port, '--unhealthy-after', '1s'),
    ]);
    const health = async (): Promise<{ status: number; body: string } | undefined> => {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
      return response === undefined ? undefined : { status: response.status, body: await response.text() };
    };
    let probe: RunningSandbox | undefined;
    try {
      await untilReady(port, watcher);
      expect((await health())?.status).toBe(200);
      // A directory where the zone file belongs: the next rename into place fails (also for root).
      await rm(zoneFile);
      await mkdir(zoneFile);
      probe = await cd().runSandbox({ name: 'probe-0', namespace: 'edge', hostname: 'probe' });
      const unhealthy = await waitFor(
        async () => {
          const answer = await health();
          return answer?.status === 503 ? answer : undefined;
        },
        { timeoutMs: 20_000, description: '/healthz to answer 503' },
      );
      expect(unhealthy.body).toMatch(/^unhealthy: writing zone cluster\.local has failed for \d+ s/);
      await rm(zoneFile, { recursive: true });
      await waitFor(async () => ((await health())?.status === 200 ? true : undefined), {
        timeoutMs: 45_000,
        description: '/healthz to answer 200 after the next good write',
      });
      expect(await readFile(zoneFile, 'utf8')).toContain('probe.edge.svc');
      await assertZoneValid(ORIGIN, zoneFile);
    } finally {
      await killProcessTree(watcher.pid);
      if (probe !== undefined) await cd().removeSandbox(probe.id);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses an --unhealthy-after that is not a duration', async () => {
    const result = await runCommand(
      process.execPath,
      [cli, 'cri-watch', '--once', '--unhealthy-after', 'soon', '--zones-dir', zonesDir],
      { timeoutMs: 30_000 },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'zonewright: invalid --unhealthy-after "soon": expected a duration 1s-24h (e.g. 200ms, 2s, 1m)\n',
    );
  });

  it('says which sockets it tried when there is no runtime', async () => {
    const result = await runCommand(
      process.execPath,
      [cli, 'cri-watch', '--once', '--cri-dir', '/nonexistent', '--zones-dir', zonesDir],
      {
        timeoutMs: 30_000,
        env: { ...process.env, CRI_FILE: 'containerd.sock' },
      },
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('/nonexistent/containerd.sock');
  });
});

describe('the node image entrypoint (bundle + node flags from Dockerfile.cri)', () => {
  const imageArgs = (...args: string[]): string[] => [...image.nodeFlags, image.script, ...args];

  it('--once writes the same zone as the built CLI', async () => {
    const onceDir = await mkdtemp(join(tmpdir(), 'zw-cli-image-zones-'));
    try {
      const result = await runCommand(process.execPath, imageArgs(...onceArgs(onceDir)), {
        timeoutMs: 60_000,
      });
      expect(result.code).toBe(0);
      const reference = await runCommand(process.execPath, [cli, ...onceArgs(zonesDir)], {
        timeoutMs: 60_000,
      });
      expect(reference.code).toBe(0);
      const records = async (dir: string): Promise<string[]> =>
        parseZone(await readFile(join(dir, `db.${ORIGIN}`), 'utf8'), { origin: ORIGIN })
          .records.filter((record) => record.type === 'A' || record.type === 'AAAA')
          .map((record) => `${record.name} ${record.type} ${record.rdata[0] ?? ''}`)
          .sort();
      const fromImage = await records(onceDir);
      expect(fromImage.some((record) => record.startsWith(`camera.edge.svc.${ORIGIN} A `))).toBe(true);
      expect(fromImage).toEqual(await records(zonesDir));
      await assertZoneValid(ORIGIN, join(onceDir, `db.${ORIGIN}`));
    } finally {
      await rm(onceDir, { recursive: true, force: true });
    }
  });

  it('runs live with only JSON lines on stderr (no V8 flag warnings), serves metrics, exits 0 on SIGTERM', async () => {
    const liveDir = await mkdtemp(join(tmpdir(), 'zw-cli-image-zones-'));
    const port = await freeTcpPort();
    const watcher = await spawnProcess(process.execPath, imageArgs(...liveArgs(liveDir, port)));
    try {
      await untilReady(port, watcher);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/zonewright_cri_sandboxes\{state="ready"\} [1-9]/);
      expect(metrics).toMatch(/zonewright_process_nodejs_eventloop_lag_p99_seconds /);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      watcher.child.kill('SIGTERM');
      expect((await watcher.exited).code).toBe(0);
      const lines = watcher
        .output()
        .split('\n')
        .filter((line) => line.trim() !== '');
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
      await assertZoneValid(ORIGIN, join(liveDir, `db.${ORIGIN}`));
    } finally {
      await killProcessTree(watcher.pid);
      await rm(liveDir, { recursive: true, force: true });
    }
  });
});
