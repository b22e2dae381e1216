import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CriClient,
  CriUnavailableError,
  CriWatcher,
  chokidarSocketWatch,
  type PollResult,
} from '@zonewright/cri-watcher';
import {
  assertZoneValid,
  buildPauseImage,
  cleanUp,
  createNetns,
  dig,
  startContainerd,
  startNamed,
  waitFor,
  type ContainerdHarness,
  type Netns,
  type PauseImage,
  type RunningSandbox,
} from '@zonewright/testkit';
import {
  FileZoneStore,
  Reconciler,
  defaultZoneConfig,
  parseZone,
  silentLogger,
  systemClock,
  zoneFileName,
  type WriteInfo,
} from '@zonewright/zone';
import { CountingRuntime } from './counting-runtime.js';

const ORIGIN = 'cluster.local';
const INTERVAL_MS = 1000;
const NODE_IP = '192.0.2.77';

/** Address records of the zone file as `name type address` (names relative to the origin). */
async function zoneRecords(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  const parsed = parseZone(text, { origin: ORIGIN });
  expect(parsed.problems.filter((problem) => problem.severity === 'error')).toEqual([]);
  return parsed.records
    .filter((record) => (record.type === 'A' || record.type === 'AAAA') && record.name !== `ns.${ORIGIN}`)
    .map((record) => `${record.name.slice(0, -(ORIGIN.length + 1))} ${record.type} ${record.rdata[0] ?? ''}`)
    .sort();
}

function expectedRecords(sandbox: RunningSandbox, hostname: string): string[] {
  return sandbox.ips.map(
    (ip) => `${hostname}.${sandbox.namespace}.svc ${ip.includes(':') ? 'AAAA' : 'A'} ${ip}`,
  );
}

describe('CRI watcher against a real containerd in a network namespace', () => {
  let netns: Netns | undefined;
  let containerd: ContainerdHarness | undefined;
  let pauseDir: string | undefined;
  let zoneDir: string | undefined;
  let zoneFile = '';
  let reconciler: Reconciler | undefined;
  let watcher: CriWatcher | undefined;
  let runtime: CountingRuntime | undefined;
  const writes: (WriteInfo & { at: number })[] = [];
  const polls: PollResult[] = [];
  const runtimeErrors: Error[] = [];
  const reconnects: { downtimeMs: number; trigger: string; at: number }[] = [];
  const snapshots: Promise<string>[] = [];
  const sandboxes = new Map<string, RunningSandbox>();
  const measured: Record<string, number | string> = {};

  const cd = (): ContainerdHarness => {
    if (containerd === undefined) throw new Error('containerd did not start');
    return containerd;
  };

  beforeAll(async () => {
    netns = await createNetns();
    pauseDir = await mkdtemp(join(tmpdir(), 'zw-pause-'));
    const image: PauseImage = await buildPauseImage({ dir: pauseDir });
    const began = Date.now();
    containerd = await startContainerd({ netns, pauseImage: image });
    measured['containerd start (spawn to CRI Version), ms'] = containerd.lastStartMs();
    measured['containerd start incl. pause image import, ms'] = Date.now() - began;

    zoneDir = await mkdtemp(join(tmpdir(), 'zw-cri-zones-'));
    zoneFile = join(zoneDir, zoneFileName(ORIGIN));
    reconciler = new Reconciler({
      config: defaultZoneConfig(ORIGIN, ['192.0.2.53']),
      store: new FileZoneStore(zoneDir),
      clock: systemClock,
      logger: silentLogger,
      debounceMs: 20,
      maxDelayMs: 50,
      observer: {
        onWrite: (info) => {
          writes.push({ ...info, at: Date.now() });
          // Keep a copy of every zone written, to run both zone parsers over each at the end.
          snapshots.push(readFile(zoneFile, 'utf8'));
        },
      },
    });
    const source = reconciler.registerSource('cri');
    runtime = new CountingRuntime(new CriClient({ endpoint: containerd.endpoint, timeoutMs: 2000 }));
    watcher = new CriWatcher({
      runtime,
      source,
      clusterDomain: ORIGIN,
      nodeIps: [NODE_IP],
      clock: systemClock,
      logger: silentLogger,
      intervalMs: INTERVAL_MS,
      maxBackoffMs: 4000,
      socketPath: containerd.socketPath,
      watchSocket: chokidarSocketWatch,
      observer: {
        onPoll: (result) => polls.push(result),
        onRuntimeError: (error) => runtimeErrors.push(error),
        onReconnect: (info) => reconnects.push({ ...info, at: Date.now() }),
      },
    });
    await reconciler.start();
    await watcher.start();
    await reconciler.whenReady();
  }, 120_000);

  afterAll(async () => {
    // The numbers for the bench report.
    console.log(`CRI watcher measurements: ${JSON.stringify(measured, null, 2)}`);
    await cleanUp('CRI watcher test', [
      () => watcher?.stop(),
      () => runtime?.close(),
      () => reconciler?.stop(),
      () => containerd?.cleanup(),
      () => netns?.delete(),
      ...[pauseDir, zoneDir].map(
        (dir) => () => dir === undefined || rm(dir, { recursive: true, force: true }),
      ),
    ]);
  }, 120_000);

  it('writes an empty but valid zone once the first poll is done', async () => {
    expect(polls.length).toBeGreaterThanOrEqual(1);
    await waitFor(
      async () => ((await readFile(zoneFile, 'utf8').catch(() => '')) === '' ? undefined : true),
      {
        timeoutMs: 5000,
        description: 'the first zone file',
      },
    );
    expect(await zoneRecords(zoneFile)).toEqual([]);
    await assertZoneValid(ORIGIN, zoneFile);
  }, 30_000);

  it('serves 3 sandboxes with hostnames in 2 namespaces with their real IPs', async () => {
    const specs = [
      { name: 'camera-0', namespace: 'edge', hostname: 'camera' },
      { name: 'sensor-0', namespace: 'edge', hostname: 'sensor' },
      { name: 'camera-1', namespace: 'lab', hostname: 'camera' },
    ];
    const startTimes: number[] = [];
    const latencies: number[] = [];
    for (const spec of specs) {
      const sandbox = await cd().runSandbox(spec);
      sandboxes.set(spec.name, sandbox);
      startTimes.push(sandbox.startMs);
      expect(sandbox.ips.some((ip) => /^10\./.test(ip))).toBe(true);
      expect(sandbox.ips.some((ip) => ip.includes(':'))).toBe(true);
      // Ready -> record in the zone file (read back from disk)
      const wanted = expectedRecords(sandbox, spec.hostname);
      await waitFor(
        async () => {
          const records = await zoneRecords(zoneFile);
          return wanted.every((record) => records.includes(record)) ? true : undefined;
        },
        { timeoutMs: 3 * INTERVAL_MS + 2000, intervalMs: 5, description: `${spec.name} in the zone` },
      );
      latencies.push(Date.now() - sandbox.readyAtMs);
    }
    measured['RunPodSandbox (ready), ms'] = startTimes.join(', ');
    measured[`sandbox ready -> record in zone file (interval ${INTERVAL_MS} ms), ms`] = latencies.join(', ');
    for (const latency of latencies) expect(latency).toBeLessThanOrEqual(INTERVAL_MS + 100 + 50);

    const camera0 = sandboxes.get('camera-0');
    const camera1 = sandboxes.get('camera-1');
    const sensor0 = sandboxes.get('sensor-0');
    if (camera0 === undefined || camera1 === undefined || sensor0 === undefined) throw new Error('setup');
    const records = await zoneRecords(zoneFile);
    const typeOf = (ip: string): string => (ip.includes(':') ? 'AAAA' : 'A');
    const expected = [
      ...expectedRecords(camera0, 'camera'),
      ...expectedRecords(camera1, 'camera'),
      ...expectedRecords(sensor0, 'sensor'),
      // shared names carry every pod with that hostname on the node
      ...[...camera0.ips, ...camera1.ips].flatMap((ip) => [
        `camera ${typeOf(ip)} ${ip}`,
        `camera.svc ${typeOf(ip)} ${ip}`,
      ]),
      ...sensor0.ips.flatMap((ip) => [`sensor ${typeOf(ip)} ${ip}`, `sensor.svc ${typeOf(ip)} ${ip}`]),
    ].sort();
    expect(records).toEqual(expected);
    await assertZoneValid(ORIGIN, zoneFile);

    // A real DNS server loading the written file answers the pods' names.
    const named = await startNamed({ zones: [{ origin: ORIGIN, file: zoneFile }] });
    try {
      const unique = await dig({
        server: named.address,
        port: named.port,
        name: `sensor.edge.svc.${ORIGIN}`,
        type: 'A',
      });
      expect(unique.status).toBe('NOERROR');
      expect(unique.aa).toBe(true);
      expect(unique.answers.map((answer) => answer.value)).toEqual(
        sensor0.ips.filter((ip) => !ip.includes(':')),
      );
      const shared = await dig({
        server: named.address,
        port: named.port,
        name: `camera.${ORIGIN}`,
        type: 'AAAA',
      });
      expect(shared.answers.map((answer) => answer.value).sort()).toEqual(
        [...camera0.ips, ...camera1.ips].filter((ip) => ip.includes(':')).sort(),
      );
    } finally {
      await named.stop();
    }
  }, 60_000);

  it('costs one ListPodSandbox per interval in the steady state', async () => {
    const counter = runtime;
    if (counter === undefined) throw new Error('setup');
    const listBefore = counter.listCalls;
    const statusBefore = counter.statusCalls;
    const writesBefore = writes.length;
    await new Promise((resolve) => setTimeout(resolve, 5 * INTERVAL_MS + 200));
    const lists = counter.listCalls - listBefore;
    expect(lists).toBeGreaterThanOrEqual(4);
    expect(lists).toBeLessThanOrEqual(6);
    expect(counter.statusCalls - statusBefore).toBe(0);
    expect(writes.length - writesBefore).toBe(0); // nothing changed: no rewrite
    const durations = polls.slice(-lists).map((poll) => poll.durationMs);
    measured['steady-state poll duration (3 sandboxes), ms'] = durations.join(', ');
  }, 30_000);

  it('serves a hostNetwork sandbox with the node IP', async () => {
    const sandbox = await cd().runSandbox({ name: 'agent', namespace: 'kube-system', hostNetwork: true });
    sandboxes.set('agent', sandbox);
    expect(sandbox.ips).toEqual([]);
    await waitFor(
      async () =>
        (await zoneRecords(zoneFile)).includes(`agent.kube-system.svc A ${NODE_IP}`) ? true : undefined,
      { timeoutMs: 3 * INTERVAL_MS + 2000, description: 'the hostNetwork sandbox in the zone' },
    );
    const records = await zoneRecords(zoneFile);
    expect(records.filter((record) => record.startsWith('agent'))).toEqual([
      `agent A ${NODE_IP}`,
      `agent.kube-system.svc A ${NODE_IP}`,
      `agent.svc A ${NODE_IP}`,
    ]);
  }, 30_000);

  it('removes a sandbox from the zone within 2 intervals', async () => {
    const sensor = sandboxes.get('sensor-0');
    if (sensor === undefined) throw new Error('setup');
    await cd().removeSandbox(sensor.id);
    const removedAt = Date.now();
    await waitFor(
      async () =>
        (await zoneRecords(zoneFile)).some((record) => record.startsWith('sensor')) ? undefined : true,
      { timeoutMs: 2 * INTERVAL_MS, intervalMs: 10, description: 'sensor records to go' },
    );
    measured['sandbox removed -> records gone, ms'] = Date.now() - removedAt;
    sandboxes.delete('sensor-0');
    expect((await zoneRecords(zoneFile)).some((record) => record.startsWith('camera.edge.svc'))).toBe(true);
    await assertZoneValid(ORIGIN, zoneFile);
  }, 30_000);

  it('keeps the zone while containerd is down and recovers when it is back', async () => {
    const before = await readFile(zoneFile, 'utf8');
    const errorsBefore = runtimeErrors.length;
    await cd().stop();
    await new Promise((resolve) => setTimeout(resolve, 3 * INTERVAL_MS));
    expect(runtimeErrors.length).toBeGreaterThan(errorsBefore);
    expect(runtimeErrors.at(-1)).toBeInstanceOf(CriUnavailableError);
    expect(await readFile(zoneFile, 'utf8')).toBe(before); // kept, not emptied
    expect(reconnects).toHaveLength(0);

    const restartBegan = Date.now();
    await cd().start();
    measured['containerd restart (spawn to CRI Version), ms'] = cd().lastStartMs();
    await waitFor(() => (reconnects.length > 0 ? true : undefined), {
      timeoutMs: 5000,
      intervalMs: 10,
      description: 'the watcher to reconnect',
    });
    const reconnectedAfterMs = (reconnects[0]?.at ?? Number.NaN) - restartBegan;
    measured['containerd restart began -> watcher polled successfully, ms'] = reconnectedAfterMs;
    expect(reconnectedAfterMs).toBeLessThan(cd().lastStartMs() + 500);
    measured['reconnect trigger'] = reconnects[0]?.trigger ?? '?';
    measured['runtime errors while containerd was down'] = [
      ...new Set(runtimeErrors.map((error) => error.message.replace(/\s+/g, ' ').slice(0, 160))),
    ].join(' | ');
    expect(reconnects).toHaveLength(1);
    // Sandboxes survived the restart (their shims kept running): same zone.
    expect(await readFile(zoneFile, 'utf8')).toBe(before);

    // And the watcher works again: a new sandbox shows up.
    const sandbox = await cd().runSandbox({ name: 'late-0', namespace: 'lab', hostname: 'late' });
    sandboxes.set('late-0', sandbox);
    const wanted = expectedRecords(sandbox, 'late');
    await waitFor(
      async () => {
        const records = await zoneRecords(zoneFile);
        return wanted.every((record) => records.includes(record)) ? true : undefined;
      },
      { timeoutMs: 3 * INTERVAL_MS + 2000, description: 'late-0 in the zone after the restart' },
    );
    await assertZoneValid(ORIGIN, zoneFile);
  }, 60_000);

  it('wrote only zones that named-checkzone and the miekg (CoreDNS) parser accept', async () => {
    expect(writes.length).toBeGreaterThanOrEqual(6);
    const dir = await mkdtemp(join(tmpdir(), 'zw-cri-written-'));
    try {
      const texts = await Promise.all(snapshots);
      for (const [index, text] of texts.entries()) {
        const file = join(dir, `zone-${index}.txt`);
        await writeFile(file, text);
        await assertZoneValid(ORIGIN, file);
      }
      measured['zones written and checked by both parsers'] = texts.length;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
