/**
 * Shared set-up for the tests against the real kube-apiserver: the VMI CRD, the monitor's RBAC from
 * deploy/monitor/base applied as it is, a TokenRequest token in a kubeconfig with only that token and the CA,
 * and `zonewright monitor` as the monitor image runs it (the bundle, Dockerfile.monitor's ENTRYPOINT) in its own
 * process writing a real zone file.
 */
import { describe } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  findRepoRoot,
  freeTcpPort,
  installVmiCrd,
  killProcessTree,
  kubeApiServerAvailability,
  monitorImageCommand,
  secondaryNicVmi,
  spawnProcess,
  startKubeApiServer,
  waitFor,
  type KubeApiServer,
  type KubeApiServerOptions,
  type SpawnedProcess,
} from '@zonewright/testkit';
import { parseZone } from '@zonewright/zone';
import { buildKustomization } from '../deploy/lib/kustomize.js';

const root = findRepoRoot();

export const DOMAIN = 'example.com';
export const ORIGIN = `vm.${DOMAIN}`;
/** Where deploy/monitor/base puts the monitor's ServiceAccount. */
export const MONITOR_NAMESPACE = 'zonewright-monitor';
export const MONITOR_SERVICE_ACCOUNT = 'zonewright-monitor';

const availability = kubeApiServerAvailability(); // throws in CI when the binary is missing
if (!availability.available) {
  console.warn(
    `\n*** SKIPPED: the tests against a real kube-apiserver did not run.\n*** ${availability.reason}\n`,
  );
}
/** `describe` when a kube-apiserver binary is available, else `describe.skip` (after a loud warning). */
export const describeWithKubeApiServer = availability.available ? describe : describe.skip;

/** The deploy/monitor/base objects that grant the monitor its access (Namespace, SA, ClusterRole(Binding)). */
export async function monitorRbacObjects(): Promise<Record<string, unknown>[]> {
  const kinds = new Set(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding']);
  const objects = await buildKustomization(root, 'deploy/monitor/base');
  const picked = objects.filter((object) => kinds.has(object.kind));
  if (picked.length !== kinds.size) {
    throw new Error(
      `deploy/monitor/base has ${picked.map((object) => object.kind).join(', ')}: expected ${[...kinds].join(', ')}`,
    );
  }
  return picked;
}

export interface TestCluster {
  readonly api: KubeApiServer;
  readonly directory: string;
  /** kubeconfig with only the CA and a TokenRequest token of the monitor's ServiceAccount. */
  readonly monitorKubeconfig: string;
  stop(): Promise<void>;
}

/** A real API server with the VMI CRD and the monitor's RBAC applied with `kubectl apply`. */
export async function startTestCluster(options: KubeApiServerOptions = {}): Promise<TestCluster> {
  const api = await startKubeApiServer(options);
  const directory = await mkdtemp(join(tmpdir(), 'zw-kube-cluster-'));
  try {
    await installVmiCrd(api);
    const manifest = join(directory, 'monitor-rbac.json');
    await writeFile(
      manifest,
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: await monitorRbacObjects() }),
    );
    const applied = await api.kubectl(['apply', '-f', manifest]);
    if (applied.code !== 0)
      throw new Error(`kubectl apply of deploy/monitor/base RBAC failed:\n${applied.stderr}`);
    const token = await api.serviceAccountToken(MONITOR_NAMESPACE, MONITOR_SERVICE_ACCOUNT);
    const monitorKubeconfig = await api.writeKubeconfig(join(directory, 'monitor.kubeconfig'), token);
    return {
      api,
      directory,
      monitorKubeconfig,
      async stop() {
        try {
          await api.stop();
        } finally {
          await rm(directory, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    await api.stop();
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
}

/** A VMI object (kubevirt.io/v1) with a Multus NIC `nic1` holding `addresses`. */
export function vmiObject(
  name: string,
  namespace: string,
  addresses: readonly string[],
): Record<string, unknown> {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    ...secondaryNicVmi(name, namespace, addresses),
  };
}

const vmiPath = (namespace: string, name = ''): string =>
  `/apis/kubevirt.io/v1/namespaces/${namespace}/virtualmachineinstances${name === '' ? '' : `/${name}`}`;

export async function createNamespace(api: KubeApiServer, name: string): Promise<void> {
  await api.call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

export async function createVmi(
  api: KubeApiServer,
  name: string,
  namespace: string,
  addresses: readonly string[],
): Promise<void> {
  await api.call('POST', vmiPath(namespace), vmiObject(name, namespace, addresses));
}

/** Replaces the VMI's NIC addresses (GET, then PUT with its resourceVersion). */
export async function setVmiAddresses(
  api: KubeApiServer,
  name: string,
  namespace: string,
  addresses: readonly string[],
): Promise<void> {
  const current = (await api.call('GET', vmiPath(namespace, name))) as { metadata: Record<string, unknown> };
  const next = vmiObject(name, namespace, addresses);
  await api.call('PUT', vmiPath(namespace, name), {
    ...next,
    metadata: { ...current.metadata, ...(next['metadata'] as Record<string, unknown>) },
  });
}

export async function deleteVmi(api: KubeApiServer, name: string, namespace: string): Promise<void> {
  await api.call('DELETE', vmiPath(namespace, name));
}

export interface MonitorProcess {
  readonly process: SpawnedProcess;
  readonly zonesDir: string;
  readonly zoneFile: string;
  readonly metricsPort: number;
  /** `name address` of every A/AAAA record except the name server's, sorted; [] while there is no zone. */
  addresses(): Promise<string[]>;
  /** Resolves once the zone holds exactly `expected`; returns when that was first seen (ms since epoch). */
  waitForAddresses(expected: readonly string[], what: string, timeoutMs?: number): Promise<number>;
  /** Resolves when `predicate` holds for the zone's addresses. Returns the time it was first seen. */
  waitForZone(
    predicate: (addresses: readonly string[]) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<number>;
  metrics(): Promise<string>;
  status(route: string): Promise<number | undefined>;
  stop(): Promise<void>;
}

/** Starts `zonewright monitor` with `kubeconfig` and `extraArgs`; does not wait for it to be ready. */
export async function startMonitor(
  kubeconfig: string,
  extraArgs: readonly string[] = [],
): Promise<MonitorProcess> {
  const image = monitorImageCommand(root);
  const zonesDir = await mkdtemp(join(tmpdir(), 'zw-kube-monitor-'));
  const zoneFile = join(zonesDir, `db.${ORIGIN}`);
  const metricsPort = await freeTcpPort();
  const monitor = await spawnProcess(process.execPath, [
    ...image.nodeFlags,
    image.script,
    'monitor',
    '--kubeconfig',
    kubeconfig,
    '--zones-dir',
    zonesDir,
    '--domain',
    DOMAIN,
    '--name-server-ip',
    '127.0.0.1',
    '--listen',
    `127.0.0.1:${metricsPort}`,
    '--debounce',
    '50ms',
    '--max-delay',
    '200ms',
    '--log-format',
    'json',
    ...extraArgs,
  ]);
  const addresses = async (): Promise<string[]> => {
    const text = await readFile(zoneFile, 'utf8').catch(() => undefined);
    if (text === undefined) return [];
    return parseZone(text, { origin: ORIGIN })
      .records.filter(
        (record) => (record.type === 'A' || record.type === 'AAAA') && !record.name.startsWith('ns.'),
      )
      .map((record) => `${record.name} ${record.rdata[0] ?? ''}`)
      .sort();
  };
  const waitForZone = async (
    predicate: (current: readonly string[]) => boolean,
    what: string,
    timeoutMs = 20_000,
  ): Promise<number> =>
    waitFor(async () => (predicate(await addresses()) ? Date.now() : undefined), {
      timeoutMs,
      intervalMs: 20,
      description: `${what}; the zone has [${(await addresses()).join(', ')}]\n--- monitor output:\n${monitor.output()}`,
    });
  return {
    process: monitor,
    zonesDir,
    zoneFile,
    metricsPort,
    addresses,
    waitForZone,
    waitForAddresses: (expected, what, timeoutMs) =>
      waitForZone(
        (current) => JSON.stringify(current) === JSON.stringify([...expected].sort()),
        `${what}: the zone to hold exactly [${[...expected].sort().join(', ')}]`,
        timeoutMs,
      ),
    async metrics() {
      return (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    },
    async status(route) {
      try {
        return (await fetch(`http://127.0.0.1:${metricsPort}${route}`)).status;
      } catch {
        return undefined;
      }
    },
    async stop() {
      try {
        await killProcessTree(monitor.pid);
      } finally {
        await rm(zonesDir, { recursive: true, force: true });
      }
    },
  };
}

/** The two records the monitor makes for a VMI with one address on nic1. */
export function vmiRecords(name: string, namespace: string, address: string): string[] {
  return [`${name}.${namespace}.${ORIGIN} ${address}`, `nic1.${name}.${namespace}.${ORIGIN} ${address}`];
}
